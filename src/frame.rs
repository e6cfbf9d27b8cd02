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

use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy::math::Affine3A;

use crate::camera::Intrinsics;
use crate::pose::FrameCamera;

/// Widest or tallest frame accepted, in pixels.
pub const MAX_FRAME_SIDE: u32 = 16_384;
/// Largest pixel buffer accepted, in bytes (256 MiB).
pub const MAX_FRAME_BYTES: usize = 256 << 20;

/// Layout of one pixel in a frame buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    /// 3 bytes: red, green, blue.
    Rgb8,
    /// 4 bytes: red, green, blue, alpha (ignored).
    Rgba8,
    /// 4 bytes: blue, green, red, alpha (ignored) — iOS `kCVPixelFormatType_32BGRA`.
    Bgra8,
}

impl PixelFormat {
    /// Bytes per pixel.
    pub const fn bytes_per_pixel(self) -> usize {
        match self {
            PixelFormat::Rgb8 => 3,
            PixelFormat::Rgba8 | PixelFormat::Bgra8 => 4,
        }
    }

    /// Byte offsets of red, green and blue within a pixel.
    pub const fn rgb_offsets(self) -> [usize; 3] {
        match self {
            PixelFormat::Rgb8 | PixelFormat::Rgba8 => [0, 1, 2],
            PixelFormat::Bgra8 => [2, 1, 0],
        }
    }
}

/// How a frame's buffer is turned to appear upright on screen: the
/// clockwise rotation from the buffer as stored to the image shown.
///
/// Phone cameras deliver buffers in the sensor's landscape orientation; an
/// app held in portrait shows them turned by 90°. The crate rotates while it
/// preprocesses and while it draws the background, never copying the frame:
/// depth maps, [`ImageMapping`](crate::preprocess::ImageMapping)s, the
/// background and the AR projection are all in the upright (display)
/// orientation. [`CameraFrame::intrinsics`] stay in pixels of the buffer as
/// given, as cameras report them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum FrameRotation {
    /// Upright as stored (default).
    #[default]
    None,
    /// Turned a quarter clockwise: the buffer's left column is the top row
    /// on screen (iOS back camera, app in portrait).
    Clockwise90,
    /// Upside down.
    Clockwise180,
    /// Turned a quarter anticlockwise: the buffer's right column is the top
    /// row on screen.
    Clockwise270,
}

impl FrameRotation {
    /// The rotation of `degrees` clockwise (any multiple of 90, negative or
    /// beyond 360, as AVFoundation's `videoRotationAngle` gives it); `None`
    /// for other angles.
    pub fn from_degrees(degrees: i32) -> Option<Self> {
        if degrees % 90 != 0 {
            return None;
        }
        Some(match degrees.rem_euclid(360) / 90 {
            0 => FrameRotation::None,
            1 => FrameRotation::Clockwise90,
            2 => FrameRotation::Clockwise180,
            _ => FrameRotation::Clockwise270,
        })
    }

    /// Clockwise degrees (0, 90, 180 or 270).
    pub fn degrees(self) -> u32 {
        self.quarter_turns() * 90
    }

    /// Clockwise quarter turns (0 to 3).
    pub fn quarter_turns(self) -> u32 {
        match self {
            FrameRotation::None => 0,
            FrameRotation::Clockwise90 => 1,
            FrameRotation::Clockwise180 => 2,
            FrameRotation::Clockwise270 => 3,
        }
    }

    /// Whether width and height trade places on screen.
    pub fn swaps_axes(self) -> bool {
        self.quarter_turns() % 2 == 1
    }

    /// The size on screen of a buffer of `size` (width, height).
    pub fn display_size(self, size: (u32, u32)) -> (u32, u32) {
        if self.swaps_axes() {
            (size.1, size.0)
        } else {
            size
        }
    }

    /// Where a point of the upright image lies in the buffer, both in
    /// normalised coordinates (0–1 from the top-left corner).
    pub fn display_to_buffer(self, uv: [f32; 2]) -> [f32; 2] {
        let [u, v] = uv;
        match self {
            FrameRotation::None => [u, v],
            FrameRotation::Clockwise90 => [v, 1.0 - u],
            FrameRotation::Clockwise180 => [1.0 - u, 1.0 - v],
            FrameRotation::Clockwise270 => [1.0 - v, u],
        }
    }

    /// Where a point of the buffer lies in the upright image (the inverse of
    /// [`Self::display_to_buffer`]).
    pub fn buffer_to_display(self, uv: [f32; 2]) -> [f32; 2] {
        let [u, v] = uv;
        match self {
            FrameRotation::None => [u, v],
            FrameRotation::Clockwise90 => [1.0 - v, u],
            FrameRotation::Clockwise180 => [1.0 - u, 1.0 - v],
            FrameRotation::Clockwise270 => [v, 1.0 - u],
        }
    }
}

/// Why a frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// Width or height is zero.
    #[error("frame has zero size ({width}×{height})")]
    ZeroSize {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// Width or height is beyond [`MAX_FRAME_SIDE`], or the buffer beyond [`MAX_FRAME_BYTES`].
    #[error(
        "frame of {width}×{height} is larger than the {MAX_FRAME_SIDE}-pixel, {MAX_FRAME_BYTES}-byte limit"
    )]
    TooLarge {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// The row stride is shorter than a row of pixels.
    #[error("row stride {stride} is shorter than {width} pixels × {bytes_per_pixel} bytes")]
    StrideTooShort {
        /// Given stride in bytes.
        stride: usize,
        /// Width in pixels.
        width: u32,
        /// Bytes per pixel of the format.
        bytes_per_pixel: usize,
    },
    /// The buffer is shorter than stride × height.
    #[error(
        "pixel buffer has {len} bytes, a {width}×{height} frame with stride {stride} needs {needed}"
    )]
    BufferTooShort {
        /// Given buffer length.
        len: usize,
        /// Bytes needed (stride × height).
        needed: usize,
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Stride in bytes.
        stride: usize,
    },
}

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
    /// The camera's intrinsics in pixels of the buffer as given (before
    /// `rotation`), when known: metric depth is corrected for its focal
    /// length. [`Self::display_intrinsics`] gives them for the upright image.
    pub intrinsics: Option<Intrinsics>,
    /// How the buffer is turned on screen.
    pub rotation: FrameRotation,
    /// Where the camera was (camera-to-world of the upright image's camera,
    /// see [`crate::pose`]), when the host tracks it.
    pub pose: Option<Affine3A>,
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
    /// [`crate::pose::pose_from_arkit`]). One that is not a rigid transform
    /// (not finite, scaled, sheared or mirrored) is dropped with a warning.
    pub fn with_pose(mut self, pose: Option<Affine3A>) -> Self {
        self.pose = pose.filter(|p| {
            let rigid = crate::pose::is_rigid(p);
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

pub(crate) fn validate(
    format: PixelFormat,
    width: u32,
    height: u32,
    stride: usize,
    len: usize,
) -> Result<(), FrameError> {
    if width == 0 || height == 0 {
        return Err(FrameError::ZeroSize { width, height });
    }
    let bytes_per_pixel = format.bytes_per_pixel();
    if width > MAX_FRAME_SIDE || height > MAX_FRAME_SIDE {
        return Err(FrameError::TooLarge { width, height });
    }
    let row = width as usize * bytes_per_pixel;
    if stride < row {
        return Err(FrameError::StrideTooShort {
            stride,
            width,
            bytes_per_pixel,
        });
    }
    let needed = stride
        .checked_mul(height as usize)
        .filter(|&n| n <= MAX_FRAME_BYTES)
        .ok_or(FrameError::TooLarge { width, height })?;
    if len < needed {
        return Err(FrameError::BufferTooShort {
            len,
            needed,
            width,
            height,
            stride,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_geometry() {
        let f = |w, h, stride, len| {
            CameraFrame::new(PixelFormat::Rgba8, w, h, stride, vec![0u8; len]).map(|_| ())
        };
        assert!(matches!(f(0, 4, 16, 64), Err(FrameError::ZeroSize { .. })));
        assert!(matches!(
            f(4, 4, 15, 64),
            Err(FrameError::StrideTooShort { .. })
        ));
        assert!(matches!(
            f(4, 4, 16, 63),
            Err(FrameError::BufferTooShort { needed: 64, .. })
        ));
        assert!(matches!(
            f(MAX_FRAME_SIDE + 1, 1, 70_000, 70_000),
            Err(FrameError::TooLarge { .. })
        ));
        assert!(matches!(
            f(4, 4, usize::MAX / 2, 64),
            Err(FrameError::TooLarge { .. })
        ));
        assert_eq!(f(4, 4, 20, 80), Ok(()));
    }

    #[test]
    fn rotations_map_corners_and_sizes_and_invert() {
        assert_eq!(
            FrameRotation::from_degrees(90),
            Some(FrameRotation::Clockwise90)
        );
        assert_eq!(
            FrameRotation::from_degrees(-90),
            Some(FrameRotation::Clockwise270)
        );
        assert_eq!(
            FrameRotation::from_degrees(540),
            Some(FrameRotation::Clockwise180)
        );
        assert_eq!(FrameRotation::from_degrees(0), Some(FrameRotation::None));
        assert_eq!(FrameRotation::from_degrees(45), None);
        for r in [
            FrameRotation::None,
            FrameRotation::Clockwise90,
            FrameRotation::Clockwise180,
            FrameRotation::Clockwise270,
        ] {
            assert_eq!(FrameRotation::from_degrees(r.degrees() as i32), Some(r));
            // The screen's top-left corner comes from the buffer corner that
            // a clockwise turn of `degrees` brings there: bottom-left for
            // 90, bottom-right for 180, top-right for 270.
            let want = match r.degrees() {
                0 => [0.0, 0.0],
                90 => [0.0, 1.0],
                180 => [1.0, 1.0],
                _ => [1.0, 0.0],
            };
            assert_eq!(r.display_to_buffer([0.0, 0.0]), want, "{r:?}");
            for uv in [[0.25, 0.125], [0.9, 0.4], [0.5, 0.5]] {
                let back = r.buffer_to_display(r.display_to_buffer(uv));
                assert!(
                    (back[0] - uv[0]).abs() < 1e-6 && (back[1] - uv[1]).abs() < 1e-6,
                    "{r:?}"
                );
            }
            assert_eq!(
                r.display_size((640, 480)),
                if r.swaps_axes() {
                    (480, 640)
                } else {
                    (640, 480)
                }
            );
        }
        // Turning a quarter four times is the identity.
        let mut uv = [0.2, 0.7];
        for _ in 0..4 {
            uv = FrameRotation::Clockwise90.buffer_to_display(uv);
        }
        assert!((uv[0] - 0.2).abs() < 1e-6 && (uv[1] - 0.7).abs() < 1e-6);
    }

    #[test]
    fn reads_pixels_through_stride_and_channel_order() {
        // 2×2 BGRA with 4 bytes of padding per row.
        let mut data = vec![0u8; 24];
        data[12..16].copy_from_slice(&[30, 20, 10, 255]); // (0, 1): r=10 g=20 b=30
        let frame = CameraFrame::new(PixelFormat::Bgra8, 2, 2, 12, data).unwrap();
        assert_eq!(frame.pixel(0, 1), Some([10, 20, 30]));
        assert_eq!(frame.pixel(2, 0), None);
        assert_eq!(frame.row(1).map(<[u8]>::len), Some(8));
        assert!(!frame.is_packed());
    }

    #[test]
    fn packs_every_format_through_row_padding() {
        // 3×2 frames, rows padded with 0xEE; pixel (x, y) is r = 10x + y,
        // g = 100 + x, b = 200 + y, stored in each format's byte order.
        let rgb = |x: u8, y: u8| [10 * x + y, 100 + x, 200 + y];
        for (format, order) in [
            (PixelFormat::Rgb8, [0, 1, 2]),
            (PixelFormat::Rgba8, [0, 1, 2]),
            (PixelFormat::Bgra8, [2, 1, 0]),
        ] {
            let bpp = format.bytes_per_pixel();
            let stride = 3 * bpp + 5;
            let mut data = vec![0xEEu8; stride * 2];
            for y in 0..2u8 {
                for x in 0..3u8 {
                    let at = usize::from(y) * stride + usize::from(x) * bpp;
                    for (c, &offset) in order.iter().enumerate() {
                        data[at + offset] = rgb(x, y)[c];
                    }
                }
            }
            let frame = CameraFrame::new(format, 3, 2, stride, data).unwrap();
            let want_rgb: Vec<u8> = (0..2)
                .flat_map(|y| (0..3).flat_map(move |x| rgb(x, y)))
                .collect();
            let want_rgba: Vec<u8> = want_rgb
                .chunks_exact(3)
                .flat_map(|p| [p[0], p[1], p[2], 255])
                .collect();
            assert_eq!(frame.to_rgb8(), want_rgb, "{format:?}");
            // Into a buffer that held something else, of another size.
            let mut out = vec![7u8; 100];
            frame.write_rgba8(&mut out);
            assert_eq!(out, want_rgba, "{format:?}");
        }
    }
}
