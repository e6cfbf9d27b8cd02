//! Models whose input height and width are free (dynamic axes), and the
//! published Depth Anything V2 files, recognised by their tensors.

/// How the input size of a model with dynamic height and width follows the
/// frame: the long side is [`Self::long_side`], the short side follows the
/// frame's aspect, and both are multiples of [`Self::multiple`] (Depth
/// Anything V2: 518 and 14, its ViT's patch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DynamicInput {
    /// Both sides are multiples of this (`mono_depth.input_multiple`, default 14).
    pub multiple: u32,
    /// The long side in pixels (`mono_depth.input_long_side`, default 518;
    /// [`ModelOverrides::input_long_side`](super::ModelOverrides) for speed).
    pub long_side: u32,
    /// The long side at which [`ModelSpec::focal_px`](super::ModelSpec) is
    /// given (the reference size `mono_depth.input_width`/`input_height`,
    /// 518 without them): the training focal length scales with the input.
    pub reference_long_side: u32,
}

/// Depth Anything V2's defaults: long side 518 (its training size), sides
/// multiples of 14.
pub const DEFAULT_MULTIPLE: u32 = 14;
/// The long side used unless the model or the app says otherwise.
pub const DEFAULT_LONG_SIDE: u32 = 518;

impl DynamicInput {
    /// The model input (width, height) for an upright frame of
    /// `width`×`height`: the long side rounded to the multiple, the short
    /// side `long · short / long_frame` rounded to the nearest multiple (at
    /// least one multiple). 640×480 at 518 and 14 gives 518×392.
    pub fn size_for(&self, width: u32, height: u32) -> (u32, u32) {
        let m = self.multiple.max(1);
        let long = (self.long_side as f64 / m as f64).round().max(1.0) * m as f64;
        let (frame_long, frame_short) = (width.max(height).max(1), width.min(height));
        let short = (long * frame_short as f64 / frame_long as f64 / m as f64)
            .round()
            .max(1.0)
            * m as f64;
        let (long, short) = (long as u32, short as u32);
        if width >= height {
            (long, short)
        } else {
            (short, long)
        }
    }
}

/// The tensor names of the published Depth Anything V2 exports: input and
/// output (onnx-community's Hugging Face export; fabio-sim's
/// Depth-Anything-ONNX).
pub const DEPTH_ANYTHING_NAMES: [(&str, &str); 2] =
    [("pixel_values", "predicted_depth"), ("image", "depth")];

/// Whether a model without the crate's metadata is a Depth Anything V2
/// export: one of [`DEPTH_ANYTHING_NAMES`], an NCHW input whose sides are
/// multiples of 14 (or free), and a rank-3 output.
pub(super) fn looks_like_depth_anything(
    input_name: &str,
    output_name: &str,
    input_shape: &[usize],
    output_shape: &[usize],
    dynamic: bool,
) -> bool {
    let names = DEPTH_ANYTHING_NAMES.contains(&(input_name, output_name));
    let sides = match input_shape {
        [_, 3, h, w] => dynamic || (h % 14 == 0 && w % 14 == 0),
        _ => false,
    };
    names && sides && output_shape.len() == 3
}

/// The ImageNet statistics Depth Anything V2 normalises 0–1 RGB with.
pub(super) const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub(super) const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];
/// Metres a relative model's aligned depth may span.
pub(super) const RELATIVE_RANGE: (f32, f32) = (0.1, 80.0);

/// What `mono_depth.weights` says of a recognised file without metadata.
pub(super) const RECOGNISED_TEXT: &str = "no mono_depth metadata: read as Depth Anything V2 \
    (relative) from its tensor names; whether its weights are trained is not recorded \
    (`cargo xtask fetch-model` validates a file and writes the metadata)";
