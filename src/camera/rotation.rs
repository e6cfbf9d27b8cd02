//! Which way up a frame is: the turn from the buffer as stored to the
//! image shown.

use bevy::reflect::Reflect;
/// How a frame's buffer is turned to appear upright on screen: the
/// clockwise rotation from the buffer as stored to the image shown.
///
/// Phone cameras deliver buffers in the sensor's landscape orientation; an
/// app held in portrait shows them turned by 90°. The crate rotates while it
/// preprocesses and while it draws the background, never copying the frame:
/// depth maps, [`ImageMapping`](super::ImageMapping)s, the
/// background and the AR projection are all in the upright (display)
/// orientation. [`CameraFrame::intrinsics`](crate::frame::CameraFrame::intrinsics) stay in pixels of the buffer as
/// given, as cameras report them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Reflect)]
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

/// The rectangle of a buffer of `buffer` pixels (left, top, width, height)
/// that shows `rect` of its upright image of `display` pixels.
pub(crate) fn buffer_rect(
    rotation: FrameRotation,
    rect: [f64; 4],
    display: (u32, u32),
    buffer: (u32, u32),
) -> [f64; 4] {
    if rotation == FrameRotation::None {
        return rect;
    }
    let (dw, dh) = (f64::from(display.0), f64::from(display.1));
    let (bw, bh) = (f64::from(buffer.0), f64::from(buffer.1));
    let [l, t, w, h] = rect;
    // Opposite corners, normalised, through the rotation.
    let corner = |x: f64, y: f64| {
        let [u, v] = rotation.display_to_buffer([(x / dw) as f32, (y / dh) as f32]);
        (f64::from(u), f64::from(v))
    };
    let (a, b) = (corner(l, t), corner(l + w, t + h));
    let (u0, u1) = (a.0.min(b.0).max(0.0), a.0.max(b.0).min(1.0));
    let (v0, v1) = (a.1.min(b.1).max(0.0), a.1.max(b.1).min(1.0));
    [u0 * bw, v0 * bh, (u1 - u0) * bw, (v1 - v0) * bh]
}
