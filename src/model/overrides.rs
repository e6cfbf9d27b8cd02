//! Values set in code that replace what a model file says, and the
//! conventions used where it says nothing.

use super::{ColorOrder, DepthUnits, TensorLayout};

/// Values set in code that replace what the model says. `None` keeps the
/// model's value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelOverrides {
    /// Input layout.
    pub layout: Option<TensorLayout>,
    /// Factor on 0–255 pixel values.
    pub pixel_scale: Option<f32>,
    /// Per-channel mean.
    pub mean: Option<[f32; 3]>,
    /// Per-channel standard deviation.
    pub std: Option<[f32; 3]>,
    /// Channel order.
    pub color_order: Option<ColorOrder>,
    /// Output units (with scale and shift for inverse-relative models).
    pub units: Option<DepthUnits>,
    /// Valid depth range in metres.
    pub depth_range: Option<(f32, f32)>,
    /// Training focal length in pixels of the model input.
    pub focal_px: Option<f32>,
    /// The input's long side for models with dynamic height and width
    /// (Depth Anything V2: 518 by default; smaller is faster, e.g. 266 costs
    /// about a quarter). Models with a fixed input size ignore it.
    pub input_long_side: Option<u32>,
}

/// FCRN's conventions, used for keys the model does not set.
pub mod defaults {
    /// Pixel scale: FCRN takes raw 0–255 values.
    pub const PIXEL_SCALE: f32 = 1.0;
    /// NYU Depth v2's useful range, metres.
    pub const DEPTH_RANGE: (f32, f32) = (0.5, 10.0);
}
