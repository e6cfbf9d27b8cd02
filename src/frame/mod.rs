//! Camera frames: pixels, size, row stride, sequence number and timestamp.
//!
//! ```
//! use bevy_mono_depth::frame::{CameraFrame, PixelFormat};
//! use std::time::Duration;
//!
//! // A 2×1 BGRA frame (what iOS camera buffers hold), rows padded to 16 bytes.
//! let pixels = vec![0u8; 16];
//! let frame = CameraFrame::new(PixelFormat::Bgra8, 2, 1, 16, pixels)?
//!     .with_sequence(7)
//!     .with_timestamp(Duration::from_millis(33));
//! assert_eq!(frame.pixel(1, 0), Some([0, 0, 0]));
//! # Ok::<(), bevy_mono_depth::frame::FrameError>(())
//! ```

mod format;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy::math::Affine3A;

use crate::align::MetricAnchor;
pub use crate::camera::FrameRotation;
use crate::camera::{FrameCamera, Intrinsics};
pub(crate) use format::validate;
pub use format::{FrameError, MAX_FRAME_BYTES, MAX_FRAME_SIDE, PixelFormat};

/// One camera image, validated: its buffer always holds `stride × height`
/// bytes and each row at least `width` pixels.
#[derive(Debug, Clone)]
pub struct CameraFrame {
    pixels: Arc<[u8]>,
    format: PixelFormat,
    width: u32,
    height: u32,
    stride: usize,
    /// Increasing number given by the source (or the engine, if left 0).
    pub sequence: u64,
    /// Capture time on the source's clock (e.g. since the camera started).
    pub timestamp: Duration,
    /// When the crate received the frame, for latency measurements.
    pub received_at: Instant,
    /// See [`Self::intrinsics`].
    intrinsics: Option<Intrinsics>,
    /// How the buffer is turned on screen.
    pub rotation: FrameRotation,
    /// See [`Self::pose`].
    pose: Option<Affine3A>,
    /// See [`Self::anchors`].
    anchors: Arc<[MetricAnchor]>,
}

impl CameraFrame {
    /// Validates and wraps a pixel buffer. `stride` is the number of bytes
    /// from one row to the next (`width × bytes_per_pixel` when rows are packed).
    pub fn new(
        format: PixelFormat,
        width: u32,
        height: u32,
        stride: usize,
        pixels: impl Into<Arc<[u8]>>,
    ) -> Result<Self, FrameError> {
        let pixels = pixels.into();
        validate(format, width, height, stride, pixels.len())?;
        Ok(Self {
            pixels,
            format,
            width,
            height,
            stride,
            sequence: 0,
            timestamp: Duration::ZERO,
            received_at: Instant::now(),
            intrinsics: None,
            rotation: FrameRotation::None,
            pose: None,
            anchors: Arc::new([]),
        })
    }

    /// A frame whose rows are packed (`stride = width × bytes_per_pixel`).
    pub fn packed(
        format: PixelFormat,
        width: u32,
        height: u32,
        pixels: impl Into<Arc<[u8]>>,
    ) -> Result<Self, FrameError> {
        let stride = (width as usize).saturating_mul(format.bytes_per_pixel());
        Self::new(format, width, height, stride, pixels)
    }

    /// Sets the sequence number.
    pub fn with_sequence(mut self, sequence: u64) -> Self {
        self.sequence = sequence;
        self
    }

    /// Sets the capture timestamp.
    pub fn with_timestamp(mut self, timestamp: Duration) -> Self {
        self.timestamp = timestamp;
        self
    }

    /// Sets the camera intrinsics (in this frame's pixels); invalid ones
    /// (not finite, focal ≤ 0) are dropped.
    pub fn with_intrinsics(mut self, intrinsics: Option<Intrinsics>) -> Self {
        self.intrinsics = intrinsics.filter(Intrinsics::is_valid);
        self
    }

    /// Sets how the buffer is turned on screen.
    pub fn with_rotation(mut self, rotation: FrameRotation) -> Self {
        self.rotation = rotation;
        self
    }

    /// Sets the camera pose: camera-to-world of the upright image's camera
    /// (see [`crate::pose`]; ARKit's transform converts with
    /// [`crate::camera::pose::pose_from_arkit`]). One that is not a rigid transform
    /// (not finite, scaled, sheared or mirrored) is dropped with a warning.
    pub fn with_pose(mut self, pose: Option<Affine3A>) -> Self {
        self.pose = pose.filter(|p| {
            let rigid = crate::camera::pose::is_rigid(p);
            if !rigid {
                tracing::warn!(
                    "frame {}: pose {p:?} is not a rigid transform; dropped",
                    self.sequence
                );
            }
            rigid
        });
        self
    }

    /// Sets the frame's metric anchors: points whose depth is known in
    /// metres, in pixels of the buffer as given (before `rotation`, like the
    /// intrinsics). A model that outputs relative depth is made metric from
    /// them ([`crate::align`]); others ignore them. Anchors with NaN, a
    /// depth ≤ 0 or a position outside the frame are dropped and counted
    /// when the frame is processed.
    pub fn with_anchors(mut self, anchors: impl Into<Arc<[MetricAnchor]>>) -> Self {
        self.anchors = anchors.into();
        self
    }

    /// Sets the anchors from points in the world (metres, the pose's
    /// space), such as ARKit's `rawFeaturePoints`: each is projected through
    /// the frame's pose and intrinsics, so set those first. Points behind the
    /// camera or not finite are left out; a frame without a pose or
    /// intrinsics gets no anchors.
    pub fn with_world_anchors(self, points: &[bevy::math::Vec3]) -> Self {
        let Some(camera) = self.camera() else {
            return self.with_anchors(Vec::new());
        };
        let world_to_camera = camera.pose.inverse();
        let (w, h) = camera.size;
        let anchors: Vec<MetricAnchor> = points
            .iter()
            .filter_map(|&p| {
                let (pixel, depth) = camera.project(world_to_camera.transform_point3(p))?;
                let [u, v] = self
                    .rotation
                    .display_to_buffer([pixel[0] / w as f32, pixel[1] / h as f32]);
                let anchor = MetricAnchor {
                    x: u * self.width as f32,
                    y: v * self.height as f32,
                    depth,
                };
                (anchor.x.is_finite() && anchor.y.is_finite() && depth.is_finite())
                    .then_some(anchor)
            })
            .collect();
        self.with_anchors(anchors)
    }

    /// The metric anchors ([`Self::with_anchors`]); empty when the host has
    /// none.
    pub fn anchors(&self) -> &[MetricAnchor] {
        &self.anchors
    }

    /// The camera's intrinsics in pixels of the buffer as given (before
    /// `rotation`), when known and valid ([`Self::with_intrinsics`] drops
    /// others): metric depth is corrected for its focal length.
    /// [`Self::display_intrinsics`] gives them for the upright image.
    pub fn intrinsics(&self) -> Option<Intrinsics> {
        self.intrinsics
    }

    /// Where the camera was (camera-to-world of the upright image's camera,
    /// see [`crate::camera::pose`]), when the host tracks it; always a rigid
    /// transform ([`Self::with_pose`] drops others).
    pub fn pose(&self) -> Option<Affine3A> {
        self.pose
    }

    /// Pose, intrinsics and size of the upright image, when the frame has a
    /// pose and intrinsics.
    pub fn camera(&self) -> Option<FrameCamera> {
        Some(FrameCamera {
            pose: self.pose?,
            intrinsics: self.display_intrinsics()?,
            size: self.display_size(),
        })
    }

    /// Width and height of the image as shown (after `rotation`).
    pub fn display_size(&self) -> (u32, u32) {
        self.rotation.display_size((self.width, self.height))
    }

    /// The intrinsics in pixels of the image as shown (after `rotation`).
    pub fn display_intrinsics(&self) -> Option<Intrinsics> {
        self.intrinsics
            .map(|k| k.rotated(self.rotation, (self.width, self.height)))
    }

    /// Pixel layout.
    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Bytes from one row to the next.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// The whole buffer (`stride × height` bytes at least).
    pub fn data(&self) -> &[u8] {
        &self.pixels
    }

    /// Row `y` without its padding (`width × bytes_per_pixel` bytes).
    pub fn row(&self, y: u32) -> Option<&[u8]> {
        if y >= self.height {
            return None;
        }
        let start = y as usize * self.stride;
        self.pixels
            .get(start..start + self.width as usize * self.format.bytes_per_pixel())
    }

    /// Red, green and blue of pixel (`x`, `y`).
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        if x >= self.width {
            return None;
        }
        let bpp = self.format.bytes_per_pixel();
        let px = self.row(y)?.get(x as usize * bpp..(x as usize + 1) * bpp)?;
        let [r, g, b] = self.format.rgb_offsets();
        Some([px[r], px[g], px[b]])
    }

    /// The pixels as tightly packed RGBA8 (alpha 255).
    pub fn to_rgba8(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_rgba8(&mut out);
        out
    }

    /// The pixels as tightly packed RGB8.
    pub fn to_rgb8(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.pack_into(false, &mut out);
        out
    }

    /// Replaces `out`'s contents with the pixels as tightly packed RGBA8
    /// (alpha 255), reusing its allocation.
    pub fn write_rgba8(&self, out: &mut Vec<u8>) {
        self.pack_into(true, out);
    }

    fn pack_into(&self, alpha: bool, out: &mut Vec<u8>) {
        let channels = if alpha { 4 } else { 3 };
        let width = self.width as usize;
        out.clear();
        // Alpha is already 255; fixed-size chunks let the copy vectorise.
        out.resize(width * self.height as usize * channels, 255);
        let bpp = self.format.bytes_per_pixel();
        let [r, g, b] = self.format.rgb_offsets();
        for (y, dst_row) in out.chunks_exact_mut(width * channels).enumerate() {
            let Some(row) = self.row(y as u32) else { break };
            for (dst, px) in dst_row
                .chunks_exact_mut(channels)
                .zip(row.chunks_exact(bpp))
            {
                dst[0] = px[r];
                dst[1] = px[g];
                dst[2] = px[b];
            }
        }
    }

    /// Whether rows follow each other with no padding.
    pub fn is_packed(&self) -> bool {
        self.stride == self.width as usize * self.format.bytes_per_pixel()
    }
}
