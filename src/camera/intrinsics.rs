//! Intrinsics of a frame, and how they carry over to the model input and
//! the depth map.
//!
//! Intrinsics are in pixels of the frame they belong to: focal lengths `fx`,
//! `fy` and the principal point (`cx`, `cy`, from the top-left corner of the
//! image). Any part of the crate that resizes or crops an image carries them
//! along with [`Intrinsics::in_region`].

use bevy::reflect::Reflect;
use serde::{Deserialize, Serialize};

use super::{FrameRotation, ImageMapping};

/// A typical webcam's vertical field of view, degrees (a Logitech C920:
/// 70.4° horizontal, 43.3° vertical at 16:9). Used when a webcam or image
/// folder is not told its own; frames then say their intrinsics are assumed.
pub const DEFAULT_VERTICAL_FOV_DEGREES: f32 = 43.3;

/// Pinhole camera intrinsics, in pixels of the frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Reflect)]
pub struct Intrinsics {
    /// Focal length along x.
    pub fx: f32,
    /// Focal length along y.
    pub fy: f32,
    /// Principal point x.
    pub cx: f32,
    /// Principal point y.
    pub cy: f32,
    /// `true` when the values are a default (a typical field of view), not
    /// measured or reported by the camera.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub assumed: bool,
}

impl Intrinsics {
    /// Measured or reported intrinsics (ARKit's `ARCamera.intrinsics`,
    /// AVFoundation's calibration data, a calibration tool).
    pub fn new(fx: f32, fy: f32, cx: f32, cy: f32) -> Self {
        Self {
            fx,
            fy,
            cx,
            cy,
            assumed: false,
        }
    }

    /// Square pixels and a centred principal point for a `width`×`height`
    /// image whose vertical field of view is `degrees`.
    pub fn from_vertical_fov(width: u32, height: u32, degrees: f32) -> Self {
        let f = height as f32 / 2.0 / (degrees.to_radians() / 2.0).tan();
        Self::new(f, f, width as f32 / 2.0, height as f32 / 2.0)
    }

    /// Marks the values as assumed (see [`Self::assumed`]).
    pub fn assumed(mut self) -> Self {
        self.assumed = true;
        self
    }

    /// Whether the values can describe a camera (finite, positive focal
    /// lengths).
    pub fn is_valid(&self) -> bool {
        [self.fx, self.fy, self.cx, self.cy]
            .iter()
            .all(|v| v.is_finite())
            && self.fx > 0.0
            && self.fy > 0.0
    }

    /// Vertical field of view of a `height`-pixel image, degrees.
    pub fn vertical_fov_degrees(&self, height: u32) -> f32 {
        2.0 * (height as f32 / 2.0 / self.fy).atan().to_degrees()
    }

    /// The intrinsics of an image of `target` pixels (width, height) that
    /// shows the part of a `frame`-sized image given by `mapping`
    /// (normalised: `frame = target · scale + offset`), as the
    /// preprocessing's crop-and-resize makes the model input from a frame.
    pub fn in_region(&self, mapping: &ImageMapping, frame: (u32, u32), target: (u32, u32)) -> Self {
        let (fw, fh) = (frame.0 as f32, frame.1 as f32);
        // Target pixels per frame pixel along each axis.
        let sx = target.0 as f32 / (fw * mapping.scale[0]);
        let sy = target.1 as f32 / (fh * mapping.scale[1]);
        Self {
            fx: self.fx * sx,
            fy: self.fy * sy,
            cx: (self.cx - mapping.offset[0] * fw) * sx,
            cy: (self.cy - mapping.offset[1] * fh) * sy,
            assumed: self.assumed,
        }
    }

    /// The intrinsics of the same camera for its image turned by `rotation`
    /// (clockwise), given for a buffer of `size` pixels (width, height).
    pub fn rotated(&self, rotation: FrameRotation, size: (u32, u32)) -> Self {
        let (w, h) = (size.0 as f32, size.1 as f32);
        let (fx, fy, cx, cy) = match rotation {
            FrameRotation::None => (self.fx, self.fy, self.cx, self.cy),
            // A buffer point (x, y) shows at (h − y, x).
            FrameRotation::Clockwise90 => (self.fy, self.fx, h - self.cy, self.cx),
            FrameRotation::Clockwise180 => (self.fx, self.fy, w - self.cx, h - self.cy),
            // … at (y, w − x).
            FrameRotation::Clockwise270 => (self.fy, self.fx, self.cy, w - self.cx),
        };
        Self {
            fx,
            fy,
            cx,
            cy,
            assumed: self.assumed,
        }
    }

    /// One focal length for depth-from-size (the geometric mean of `fx` and
    /// `fy`: the scale of an object's apparent area).
    pub fn focal(&self) -> f32 {
        (self.fx * self.fy).sqrt()
    }
}

/// Whether a depth map's metres were corrected for the camera's focal length.
///
/// A metric network learns depth from apparent size at its training focal
/// length `f_train`; a camera with focal length `f` (at the network input)
/// sees the same object at the same size at `f / f_train` times the distance,
/// so true depth = predicted depth × `f / f_train`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Reflect)]
#[non_exhaustive]
pub enum FocalCorrection {
    /// Scaled by `factor` = camera focal / training focal, both at the model
    /// input; `assumed` when the camera's intrinsics were a default.
    Applied {
        /// The factor every depth was multiplied by.
        factor: f32,
        /// The frame's intrinsics were assumed, not measured.
        assumed: bool,
    },
    /// The model does not say its training focal length
    /// (`mono_depth.focal_px`, or `ModelOverrides::focal_px`).
    NoModelFocal,
    /// The frame carries no intrinsics.
    NoIntrinsics,
    /// The model's output is relative: its metres come from a fixed scale
    /// and shift, or from the frame's anchors ([`crate::align`]), not from
    /// the focal length.
    NotMetric,
    /// The depth did not come from a model (recorded or custom depth).
    #[default]
    NotApplicable,
}

impl std::fmt::Display for FocalCorrection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FocalCorrection::Applied { factor, assumed } => write!(
                f,
                "metres corrected for the camera's focal length (×{factor:.3}{})",
                if *assumed {
                    ", from an assumed field of view: give the source the real one"
                } else {
                    ""
                }
            ),
            FocalCorrection::NoModelFocal => f.write_str(
                "metres not corrected for the camera: the model does not say its training focal length (mono_depth.focal_px)",
            ),
            FocalCorrection::NoIntrinsics => f.write_str(
                "metres not corrected for the camera: frames carry no intrinsics (set them on the source or the pushed frames)",
            ),
            FocalCorrection::NotMetric => f.write_str(
                "relative depth: metres from a scale and shift (fixed, or fitted to anchors), not from the focal length",
            ),
            FocalCorrection::NotApplicable => f.write_str("depth not from a model: used as it is"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() <= 1e-4 * b.abs().max(1.0)
    }

    #[test]
    fn a_field_of_view_gives_the_focal_length_and_back() {
        let k = Intrinsics::from_vertical_fov(640, 480, 90.0);
        assert!(close(k.fy, 240.0) && close(k.fx, 240.0));
        assert_eq!((k.cx, k.cy), (320.0, 240.0));
        assert!(close(k.vertical_fov_degrees(480), 90.0));
        assert!(!k.assumed && k.assumed().assumed);
        assert!(k.is_valid());
        assert!(!Intrinsics::new(0.0, 1.0, 0.0, 0.0).is_valid());
        assert!(!Intrinsics::new(f32::NAN, 1.0, 0.0, 0.0).is_valid());
    }

    #[test]
    fn rotating_the_image_moves_the_principal_point_with_the_pixels() {
        // 640×480 buffer, fx ≠ fy and an off-centre principal point.
        let k = Intrinsics::new(500.0, 520.0, 300.0, 200.0);
        let size = (640, 480);
        for r in [
            FrameRotation::None,
            FrameRotation::Clockwise90,
            FrameRotation::Clockwise180,
            FrameRotation::Clockwise270,
        ] {
            let turned = k.rotated(r, size);
            // The principal point lands where the rotation sends its pixel.
            let (dw, dh) = r.display_size(size);
            let [u, v] = r.buffer_to_display([k.cx / 640.0, k.cy / 480.0]);
            assert!(
                close(turned.cx, u * dw as f32) && close(turned.cy, v * dh as f32),
                "{r:?}"
            );
            // Focal lengths follow the axes.
            let (fx, fy) = if r.swaps_axes() {
                (520.0, 500.0)
            } else {
                (500.0, 520.0)
            };
            assert!(close(turned.fx, fx) && close(turned.fy, fy), "{r:?}");
            assert!(close(turned.focal(), k.focal()));
        }
    }

    #[test]
    fn cropping_and_resizing_carry_the_intrinsics_along() {
        // 640×480, fx = fy = 500, principal point off centre (330, 250).
        let k = Intrinsics::new(500.0, 500.0, 330.0, 250.0);
        // Fill into a 304×228 input: the full height, a centred crop of
        // 640 · (304/228) / (640/480) … i.e. width 0.25 % narrower.
        let crop_w = 480.0 * 304.0 / 228.0 / 640.0;
        let mapping = ImageMapping {
            scale: [crop_w, 1.0],
            offset: [(1.0 - crop_w) / 2.0, 0.0],
        };
        let input = k.in_region(&mapping, (640, 480), (304, 228));
        let s = 228.0 / 480.0;
        assert!(close(input.fx, 500.0 * s) && close(input.fy, 500.0 * s));
        let left = (1.0 - crop_w) / 2.0 * 640.0;
        assert!(close(input.cx, (330.0 - left) * s));
        assert!(close(input.cy, 250.0 * s));
        // The principal point maps where a frame pixel maps: the image's
        // own pixel mapping, written independently.
        let frame_x = |target_x: f32| (target_x / 304.0 * crop_w + mapping.offset[0]) * 640.0;
        assert!(close(frame_x(input.cx), 330.0));
        // Identity, and a plain half-size resize.
        let same = k.in_region(&ImageMapping::IDENTITY, (640, 480), (640, 480));
        assert_eq!(same, k);
        let half = k.in_region(&ImageMapping::IDENTITY, (640, 480), (320, 240));
        assert!(close(half.fx, 250.0) && close(half.cx, 165.0));
        assert!(close(half.focal(), 250.0));
    }
}
