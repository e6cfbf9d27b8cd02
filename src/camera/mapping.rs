//! Where the model's view lies in the frame: how a frame is fitted to the
//! model input, and the affine map between their coordinates.

use bevy::reflect::Reflect;
/// How a frame of another aspect ratio is fitted to the model input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Reflect)]
pub enum ResizeMode {
    /// Scale to cover the input and crop the overflow, centred (default): no
    /// distortion, no bars, the frame's edges are not seen by the model.
    #[default]
    Fill,
    /// Scale to fit inside the input and pad the rest with black bars
    /// (letterbox): the whole frame is seen, at a lower resolution.
    Fit,
    /// Scale each axis independently (what Apple's Vision calls
    /// `scaleFill`): the whole frame, distorted.
    Stretch,
}

/// Affine map between normalised depth-map coordinates (0–1 across the
/// model's input, and so across its output) and normalised frame coordinates
/// (0–1 across the camera image): `frame = depth · scale + offset`, per axis.
#[derive(Debug, Clone, Copy, PartialEq, Reflect)]
pub struct ImageMapping {
    /// Per-axis factor.
    pub scale: [f32; 2],
    /// Per-axis offset.
    pub offset: [f32; 2],
}

impl ImageMapping {
    /// Depth map and frame cover each other exactly.
    pub const IDENTITY: Self = Self {
        scale: [1.0, 1.0],
        offset: [0.0, 0.0],
    };

    /// Whether the map can be used and inverted: both scales positive and
    /// finite, both offsets finite.
    pub fn is_valid(&self) -> bool {
        self.scale.iter().all(|s| s.is_finite() && *s > 0.0)
            && self.offset.iter().all(|o| o.is_finite())
    }

    /// Frame coordinates of a depth-map point.
    pub fn depth_to_frame(&self, uv: [f32; 2]) -> [f32; 2] {
        [
            uv[0] * self.scale[0] + self.offset[0],
            uv[1] * self.scale[1] + self.offset[1],
        ]
    }

    /// Depth-map coordinates of a frame point (outside 0–1 when the model
    /// did not see that point).
    pub fn frame_to_depth(&self, uv: [f32; 2]) -> [f32; 2] {
        [
            (uv[0] - self.offset[0]) / self.scale[0],
            (uv[1] - self.offset[1]) / self.scale[1],
        ]
    }
}

/// An [`ImageMapping`] that cannot be used: a scale that is not positive
/// and finite, or an offset that is not finite.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error(
    "image mapping with scale {:?} and offset {:?} refused: scales must be positive and finite, offsets finite",
    .0.scale,
    .0.offset
)]
pub struct InvalidMapping(pub ImageMapping);

/// Where the frame goes in the model input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Geometry {
    /// Source rectangle in frame pixels: left, top, width, height.
    pub(crate) crop: [f64; 4],
    /// Destination rectangle in input pixels: left, top, width, height.
    pub(crate) inner: [u32; 4],
    pub(crate) mapping: ImageMapping,
}

pub(crate) fn geometry(mode: ResizeMode, frame: (u32, u32), input: (u32, u32)) -> Geometry {
    let (fw, fh) = (f64::from(frame.0), f64::from(frame.1));
    let (iw, ih) = (f64::from(input.0), f64::from(input.1));
    let full_input = [0, 0, input.0, input.1];
    match mode {
        ResizeMode::Stretch => Geometry {
            crop: [0.0, 0.0, fw, fh],
            inner: full_input,
            mapping: ImageMapping::IDENTITY,
        },
        ResizeMode::Fill => {
            // Largest centred rectangle of the input's aspect inside the frame.
            let (cw, ch) = if fw * ih > fh * iw {
                (fh * iw / ih, fh)
            } else {
                (fw, fw * ih / iw)
            };
            let (left, top) = ((fw - cw) / 2.0, (fh - ch) / 2.0);
            Geometry {
                crop: [left, top, cw, ch],
                inner: full_input,
                mapping: ImageMapping {
                    scale: [(cw / fw) as f32, (ch / fh) as f32],
                    offset: [(left / fw) as f32, (top / fh) as f32],
                },
            }
        }
        ResizeMode::Fit => {
            let (w, h) = if fw * ih > fh * iw {
                (input.0, ((iw * fh / fw).round() as u32).clamp(1, input.1))
            } else {
                (((ih * fw / fh).round() as u32).clamp(1, input.0), input.1)
            };
            let (x0, y0) = ((input.0 - w) / 2, (input.1 - h) / 2);
            Geometry {
                crop: [0.0, 0.0, fw, fh],
                inner: [x0, y0, w, h],
                mapping: ImageMapping {
                    scale: [(iw / f64::from(w)) as f32, (ih / f64::from(h)) as f32],
                    offset: [
                        -(f64::from(x0) / f64::from(w)) as f32,
                        -(f64::from(y0) / f64::from(h)) as f32,
                    ],
                },
            }
        }
    }
}
