//! Frames pushed by the host app (an iOS app's camera callback, a capture
//! library the game already uses).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bevy::prelude::Resource;

use super::FrameHub;
use crate::camera::Intrinsics;
use crate::frame::{CameraFrame, FrameError, FrameRotation, PixelFormat};

/// Cloneable, thread-safe handle for pushing camera frames into the plugin.
/// Get it with `Res<FramePusher>` and clone it into the camera callback.
///
/// ```
/// # use bevy_mono_depth::sources::{FrameHub, FramePusher};
/// # use std::time::Duration;
/// # let pusher = FramePusher::new(FrameHub::default());
/// // A 2×2 BGRA buffer with 16-byte rows, as AVFoundation delivers them.
/// let buffer = vec![0u8; 32];
/// let sequence = pusher.push_bgra(2, 2, 16, &buffer, Duration::from_millis(40))?;
/// assert_eq!(sequence, 1);
/// # Ok::<(), bevy_mono_depth::frame::FrameError>(())
/// ```
#[derive(Resource, Clone, Debug)]
pub struct FramePusher {
    hub: FrameHub,
    intrinsics: Arc<Mutex<Option<Intrinsics>>>,
    rotation: Arc<Mutex<FrameRotation>>,
}

impl FramePusher {
    /// A pusher delivering to `hub`.
    pub fn new(hub: FrameHub) -> Self {
        Self {
            hub,
            intrinsics: Arc::default(),
            rotation: Arc::default(),
        }
    }

    /// The camera intrinsics (in pixels of the pushed buffers) that
    /// `push_rgb`, `push_rgba` and `push_bgra` attach to every frame from now
    /// on, for all clones of this pusher (`None`: none). On iOS they come
    /// from ARKit's `ARCamera.intrinsics` or AVFoundation's camera
    /// calibration data (see docs/ios.md). Frames given to [`Self::push`]
    /// keep their own.
    pub fn set_intrinsics(&self, intrinsics: Option<Intrinsics>) {
        *self.intrinsics.lock().unwrap_or_else(|e| e.into_inner()) = intrinsics;
    }

    /// How the buffers that `push_rgb`, `push_rgba` and `push_bgra` receive
    /// from now on are turned on screen, for all clones of this pusher
    /// (e.g. [`FrameRotation::Clockwise90`] for a phone's back camera in a
    /// portrait app; follow the device's orientation as it changes). Frames
    /// given to [`Self::push`] keep their own.
    pub fn set_rotation(&self, rotation: FrameRotation) {
        *self.rotation.lock().unwrap_or_else(|e| e.into_inner()) = rotation;
    }

    /// Pushes a frame; numbers it if its sequence is 0. Returns the sequence.
    /// The frame keeps everything set on it: intrinsics, rotation, pose and
    /// metric anchors ([`CameraFrame::with_anchors`], what a model of
    /// relative depth is made metric from).
    pub fn push(&self, frame: CameraFrame) -> u64 {
        self.hub.push(frame)
    }

    /// Copies an RGBA8 buffer (`stride` bytes per row) and pushes it.
    pub fn push_rgba(
        &self,
        width: u32,
        height: u32,
        stride: usize,
        pixels: &[u8],
        timestamp: Duration,
    ) -> Result<u64, FrameError> {
        self.push_copy(PixelFormat::Rgba8, width, height, stride, pixels, timestamp)
    }

    /// Copies a BGRA8 buffer (iOS `kCVPixelFormatType_32BGRA`) and pushes it.
    pub fn push_bgra(
        &self,
        width: u32,
        height: u32,
        stride: usize,
        pixels: &[u8],
        timestamp: Duration,
    ) -> Result<u64, FrameError> {
        self.push_copy(PixelFormat::Bgra8, width, height, stride, pixels, timestamp)
    }

    /// Copies an RGB8 buffer and pushes it.
    pub fn push_rgb(
        &self,
        width: u32,
        height: u32,
        stride: usize,
        pixels: &[u8],
        timestamp: Duration,
    ) -> Result<u64, FrameError> {
        self.push_copy(PixelFormat::Rgb8, width, height, stride, pixels, timestamp)
    }

    fn push_copy(
        &self,
        format: PixelFormat,
        width: u32,
        height: u32,
        stride: usize,
        pixels: &[u8],
        timestamp: Duration,
    ) -> Result<u64, FrameError> {
        // Validated before the copy, so a bad buffer costs no allocation.
        crate::frame::validate(format, width, height, stride, pixels.len())?;
        let needed = stride.saturating_mul(height as usize).min(pixels.len());
        let frame = CameraFrame::new(format, width, height, stride, &pixels[..needed])?;
        let intrinsics = *self.intrinsics.lock().unwrap_or_else(|e| e.into_inner());
        let rotation = *self.rotation.lock().unwrap_or_else(|e| e.into_inner());
        Ok(self.hub.push(
            frame
                .with_timestamp(timestamp)
                .with_intrinsics(intrinsics)
                .with_rotation(rotation),
        ))
    }
}
