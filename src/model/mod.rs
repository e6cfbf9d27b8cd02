//! How to feed a depth model and read its output: the model spec.
//!
//! The spec is read from the model: tensor names and shapes from its
//! signature, the rest from the `mono_depth.*` metadata the repo's model tool
//! writes. A key that is absent falls back to the FCRN convention (RGB 0–255,
//! no normalisation, metres, 0.5–10 m), and every field can be overridden in
//! code with [`ModelOverrides`].
//!
//! ```
//! use bevy_mono_depth::model::{DepthUnits, ModelOverrides};
//!
//! // A MiDaS-style model: inverse relative depth, turned into metres with
//! // depth = 1 / (scale · output + shift).
//! let overrides = ModelOverrides {
//!     units: Some(DepthUnits::InverseRelative { scale: 0.8, shift: 0.05 }),
//!     ..Default::default()
//! };
//! # let _ = overrides;
//! ```

use std::path::Path;

pub use dynamic::{DEFAULT_LONG_SIDE, DEFAULT_MULTIPLE, DEPTH_ANYTHING_NAMES, DynamicInput};
pub use error::ModelError;
pub use overrides::{ModelOverrides, defaults};

mod dynamic;
mod error;
mod overrides;
#[cfg(test)]
mod tests;

/// Memory layout of the model's input tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorLayout {
    /// `[1, 3, H, W]`: one plane per channel.
    Nchw,
    /// `[1, H, W, 3]`: channels interleaved.
    Nhwc,
}

/// Channel order the model expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorOrder {
    /// Red, green, blue.
    Rgb,
    /// Blue, green, red.
    Bgr,
}

/// What the model's output values mean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DepthUnits {
    /// Metric depth in metres (FCRN).
    Metres,
    /// Inverse relative depth (MiDaS style), converted to metres with
    /// `depth = 1 / (scale · value + shift)`.
    InverseRelative {
        /// Factor on the raw output.
        scale: f32,
        /// Offset added after scaling.
        shift: f32,
    },
    /// Inverse depth up to a scale and shift that change every frame
    /// (affine-invariant, as Depth Anything V2 and MiDaS output; metadata
    /// `affine_inverse`). Each frame is made metric from its anchors
    /// ([`CameraFrame::with_anchors`](crate::frame::CameraFrame::with_anchors),
    /// [`crate::align`]); without a fit, fresh or recent, the depth map holds
    /// no metres at all (every texel invalid) and says it is not metric.
    AffineInverse,
}

/// Everything the engine needs to feed a model and read its output.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    /// Model id (`mono_depth.model`), if known.
    pub name: Option<String>,
    /// Input tensor layout.
    pub layout: TensorLayout,
    /// Input width in pixels.
    pub input_width: u32,
    /// Input height in pixels.
    pub input_height: u32,
    /// Factor on 0–255 pixel values before normalisation.
    pub pixel_scale: f32,
    /// Per-channel mean subtracted after scaling (in the model's channel order).
    pub mean: [f32; 3],
    /// Per-channel standard deviation divided by after the mean.
    pub std: [f32; 3],
    /// Channel order of the input.
    pub color_order: ColorOrder,
    /// Output width in pixels.
    pub output_width: u32,
    /// Output height in pixels.
    pub output_height: u32,
    /// What output values mean.
    pub units: DepthUnits,
    /// Depth outside this range (metres) is invalid.
    pub depth_range: (f32, f32),
    /// Whether the weights are trained; untrained output is not depth.
    pub trained: bool,
    /// Where the weights came from (`mono_depth.weights`).
    pub weights: Option<String>,
    /// The training camera's focal length in pixels of the model input
    /// (`mono_depth.focal_px`; FCRN: NYU's Kinect at half size, ≈ 259.6).
    /// Metric depth is scaled by the frame camera's focal length over this.
    pub focal_px: Option<f32>,
    /// For a model with dynamic input height and width: how the input size
    /// follows each frame (the input and output sizes above are then the
    /// ones in use, and change with the frame's aspect).
    pub dynamic_input: Option<DynamicInput>,
}

/// A model's input and output as [`ModelSpec::from_signature`] reads them.
#[derive(Debug, Clone, Copy)]
pub struct Signature<'a> {
    /// The input's name in the graph.
    pub input_name: &'a str,
    /// The input's shape (for a dynamic input, the size in use).
    pub input_shape: &'a [usize],
    /// The output's name in the graph.
    pub output_name: &'a str,
    /// The output's shape at that input size.
    pub output_shape: &'a [usize],
    /// Whether the input's height and width are free (dynamic axes).
    pub dynamic: bool,
}

impl ModelSpec {
    /// Builds the spec of a model with a fixed input size and unnamed
    /// tensors from its shapes and a metadata lookup (see
    /// [`Self::from_signature`]).
    pub fn from_parts(
        path: &Path,
        input_shape: &[usize],
        output_shape: &[usize],
        metadata: impl Fn(&str) -> Option<String>,
        overrides: &ModelOverrides,
    ) -> Result<Self, ModelError> {
        let signature = Signature {
            input_name: "",
            input_shape,
            output_name: "",
            output_shape,
            dynamic: false,
        };
        Self::from_signature(path, signature, metadata, overrides)
    }

    /// Builds the spec from a signature and a metadata lookup (what
    /// [`Self::from_session`] reads from a loaded model). A file without the
    /// crate's metadata whose tensors are those of a published Depth
    /// Anything V2 export ([`DEPTH_ANYTHING_NAMES`], NCHW input, rank-3
    /// output) gets that model's conventions: 0–1 RGB with ImageNet mean and
    /// std, relative inverse depth ([`DepthUnits::AffineInverse`]).
    pub fn from_signature(
        path: &Path,
        signature: Signature<'_>,
        metadata: impl Fn(&str) -> Option<String>,
        overrides: &ModelOverrides,
    ) -> Result<Self, ModelError> {
        let Signature {
            input_shape,
            output_shape,
            dynamic,
            ..
        } = signature;
        let bad = |what: String| ModelError::UnexpectedSignature {
            path: path.to_path_buf(),
            expected: "metadata consistent with the model's tensors".into(),
            found: what,
        };
        let key = |k: &str| metadata(&format!("mono_depth.{k}"));
        let number = |k: &str| -> Result<Option<f32>, ModelError> {
            key(k)
                .map(|v| {
                    v.trim()
                        .parse::<f32>()
                        .map_err(|_| bad(format!("mono_depth.{k} = {v:?} is not a number")))
                })
                .transpose()
        };
        let triple = |k: &str| -> Result<Option<[f32; 3]>, ModelError> {
            let Some(v) = key(k) else { return Ok(None) };
            let parts: Result<Vec<f32>, _> =
                v.split(',').map(|p| p.trim().parse::<f32>()).collect();
            match parts.as_deref() {
                Ok([a, b, c]) => Ok(Some([*a, *b, *c])),
                _ => Err(bad(format!("mono_depth.{k} = {v:?} is not three numbers"))),
            }
        };

        let layout = match key("input_layout")
            .as_deref()
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            Some("NCHW") => TensorLayout::Nchw,
            Some("NHWC") => TensorLayout::Nhwc,
            Some(other) => {
                return Err(bad(format!(
                    "mono_depth.input_layout = {other:?} (expected NCHW or NHWC)"
                )));
            }
            None if input_shape.get(1) == Some(&3) => TensorLayout::Nchw,
            None => TensorLayout::Nhwc,
        };
        let layout = overrides.layout.unwrap_or(layout);
        let (channels, height, width) = match (layout, input_shape) {
            (TensorLayout::Nchw, &[1, c, h, w]) => (c, h, w),
            (TensorLayout::Nhwc, &[1, h, w, c]) => (c, h, w),
            _ => {
                return Err(bad(format!(
                    "input shape {input_shape:?} does not fit layout {layout:?}"
                )));
            }
        };
        if channels != 3 {
            return Err(bad(format!(
                "input shape {input_shape:?} has {channels} channels for layout {layout:?}, expected 3"
            )));
        }
        // For a dynamic input the metadata's size is the reference size.
        for (k, actual) in [("input_width", width), ("input_height", height)] {
            if let Some(v) = number(k)?
                && !dynamic
                && v as usize != actual
            {
                return Err(bad(format!(
                    "mono_depth.{k} = {v} but the input tensor says {actual}"
                )));
            }
        }
        let (output_height, output_width) = match output_shape {
            &[1, 1, h, w] | &[1, h, w] => (h, w),
            _ => {
                return Err(bad(format!(
                    "output shape {output_shape:?} is not [1,1,H,W] or [1,H,W]"
                )));
            }
        };
        let color_order = match key("color_order")
            .as_deref()
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            None | Some("RGB") => ColorOrder::Rgb,
            Some("BGR") => ColorOrder::Bgr,
            Some(other) => {
                return Err(bad(format!(
                    "mono_depth.color_order = {other:?} (expected RGB or BGR)"
                )));
            }
        };
        let recognised = key("model").is_none()
            && key("output_units").is_none()
            && dynamic::looks_like_depth_anything(
                signature.input_name,
                signature.output_name,
                input_shape,
                output_shape,
                dynamic,
            );
        let units = match key("output_units").as_deref() {
            None if recognised => DepthUnits::AffineInverse,
            None | Some("metres") | Some("meters") => DepthUnits::Metres,
            Some("inverse_relative") => DepthUnits::InverseRelative {
                scale: 1.0,
                shift: 0.0,
            },
            Some("affine_inverse") => DepthUnits::AffineInverse,
            Some(other) => {
                return Err(bad(format!(
                    "mono_depth.output_units = {other:?} (expected metres, inverse_relative or affine_inverse)"
                )));
            }
        };
        let default_range = if recognised {
            dynamic::RELATIVE_RANGE
        } else {
            defaults::DEPTH_RANGE
        };
        let range = match (number("depth_min")?, number("depth_max")?) {
            (Some(lo), Some(hi)) => (lo, hi),
            (lo, hi) => (lo.unwrap_or(default_range.0), hi.unwrap_or(default_range.1)),
        };
        let whole = |k: &str, default: u32| -> Result<u32, ModelError> {
            match number(k)? {
                None => Ok(default),
                Some(v) if v.fract() == 0.0 && (1.0..=65_536.0).contains(&v) => Ok(v as u32),
                Some(v) => Err(bad(format!(
                    "mono_depth.{k} = {v} is not a whole number of pixels"
                ))),
            }
        };
        let dynamic_input = if dynamic {
            let multiple = whole("input_multiple", DEFAULT_MULTIPLE)?;
            let long_side = match overrides.input_long_side {
                Some(v) => v,
                None => whole("input_long_side", DEFAULT_LONG_SIDE)?,
            };
            if !(multiple..=8192).contains(&long_side) {
                return Err(bad(format!(
                    "input long side {long_side} px is not between the multiple {multiple} and 8192"
                )));
            }
            let reference = whole("input_width", 0)?.max(whole("input_height", 0)?);
            Some(DynamicInput {
                multiple,
                long_side,
                reference_long_side: if reference == 0 {
                    DEFAULT_LONG_SIDE
                } else {
                    reference
                },
            })
        } else {
            None
        };
        let (default_scale, default_mean, default_std) = if recognised {
            (1.0 / 255.0, dynamic::IMAGENET_MEAN, dynamic::IMAGENET_STD)
        } else {
            (defaults::PIXEL_SCALE, [0.0; 3], [1.0; 3])
        };
        if [width, height, output_width, output_height].contains(&0) {
            return Err(bad(format!(
                "input {input_shape:?} or output {output_shape:?} has a dimension of size 0"
            )));
        }
        let to_u32 =
            |v: usize| u32::try_from(v).map_err(|_| bad(format!("dimension {v} is too large")));
        let spec = Self {
            name: key("model").or_else(|| recognised.then(|| "depth_anything_v2".to_owned())),
            layout,
            input_width: to_u32(width)?,
            input_height: to_u32(height)?,
            pixel_scale: overrides.pixel_scale.map_or_else(
                || number("pixel_scale").map(|v| v.unwrap_or(default_scale)),
                Ok,
            )?,
            mean: overrides.mean.map_or_else(
                || triple("pixel_mean").map(|v| v.unwrap_or(default_mean)),
                Ok,
            )?,
            std: overrides
                .std
                .map_or_else(|| triple("pixel_std").map(|v| v.unwrap_or(default_std)), Ok)?,
            color_order: overrides.color_order.unwrap_or(color_order),
            output_width: to_u32(output_width)?,
            output_height: to_u32(output_height)?,
            units: overrides.units.unwrap_or(units),
            depth_range: overrides.depth_range.unwrap_or(range),
            trained: key("trained").as_deref() == Some("true"),
            weights: key("weights")
                .or_else(|| recognised.then(|| dynamic::RECOGNISED_TEXT.to_owned())),
            focal_px: match overrides.focal_px {
                Some(f) => Some(f),
                None => number("focal_px")?,
            },
            dynamic_input,
        };
        if let Some(f) = spec.focal_px
            && !(f.is_finite() && f > 0.0)
        {
            return Err(bad(format!("focal length {f} px is not positive")));
        }
        if spec.std.iter().any(|s| *s == 0.0 || !s.is_finite()) {
            return Err(bad(format!(
                "pixel std {:?} has a zero or non-finite value",
                spec.std
            )));
        }
        let (lo, hi) = spec.depth_range;
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(bad(format!(
                "depth range {lo}..{hi} is empty or not finite"
            )));
        }
        Ok(spec)
    }
}
