//! The camera component that turns occlusion on, and its settings.

use bevy::prelude::*;

use crate::camera::ResizeMode;

/// How real surfaces hide virtual objects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Reflect)]
pub enum OcclusionMode {
    /// No occlusion: the camera image is only a background.
    Off,
    /// A hard cut through the depth buffer, for every material (default).
    #[default]
    Hard,
    /// [`SoftOcclusionMaterial`](super::SoftOcclusionMaterial)s fade across
    /// [`soft_band`](MonoDepthCamera::soft_band); the depth buffer cuts
    /// other materials at the far edge of the band.
    Soft,
}

/// What the background shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Reflect)]
pub enum DepthDisplay {
    /// The camera image (default).
    #[default]
    Camera,
    /// The depth as a turbo colour map (near red, far blue) over the image;
    /// pixels without depth darkened.
    Depth,
    /// The occlusion mask: white where the real surface can hide virtual
    /// objects, black where it cannot; soft materials show their visibility
    /// as grey.
    Mask,
    /// For measuring: the real depth in metres as it is used for occlusion
    /// (after upsampling) in every colour channel, 0 where there is none.
    /// Read it from an HDR or float target with `Tonemapping::None`.
    Metres,
    /// The depth's confidence over the image: green where it is sure, red
    /// where it is not, darkened where there is no depth.
    Confidence,
}

/// How the coarse depth map is brought to the screen's resolution.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Reflect)]
pub enum DepthUpsampling {
    /// Blend the four nearest depth texels: smooth, but occlusion edges fall
    /// where the coarse, blurred depth crosses the virtual object's depth,
    /// not where the real object's edge is.
    Bilinear,
    /// Joint bilateral upsampling with the camera image as the guide
    /// (default): depth texels whose colour differs from the pixel's count
    /// for little, so edges in the depth move onto edges in the image. See
    /// [`MonoDepthCamera::guide_sigma`]; `docs/quality.md` has the measured
    /// difference.
    #[default]
    Guided,
}

/// Put on a 3D camera to draw the camera image behind its scene and hide
/// virtual objects behind real surfaces.
///
/// ```no_run
/// use bevy::prelude::*;
/// use bevy_mono_depth::plugin::MonoDepthCamera;
///
/// fn setup(mut commands: Commands) {
///     commands.spawn(MonoDepthCamera::default()); // brings Camera3d along
/// }
/// ```
///
/// Distances come from the model in metres along the optical axis. Once the
/// shown frames carry intrinsics, the camera gets an [`ArProjection`](super::ArProjection) made
/// from them, the viewport, `fit` and `mirror` (unless `follow_camera` is
/// off), so virtual metres and directions match real ones at any window
/// aspect. Colours are exact only with `Tonemapping::None` (tonemapping
/// applies to the background like to everything else).
#[derive(Component, Debug, Clone, PartialEq, Reflect)]
#[reflect(Component, Debug, Default, PartialEq)]
#[require(Camera3d)]
pub struct MonoDepthCamera {
    /// Hard (default), soft or no occlusion.
    pub occlusion: OcclusionMode,
    /// How the camera image covers the view: `Fill` (default: crop, no
    /// bars), `Fit` (black bars) or `Stretch`.
    pub fit: ResizeMode,
    /// Mirror the image left–right (front cameras).
    pub mirror: bool,
    /// Metres added to the real depth before comparing: positive values let
    /// virtual objects come closer to real surfaces before they are hidden.
    /// Default 0.
    pub bias: f32,
    /// Width in metres of the soft-occlusion fade, centred on the real
    /// surface. Default 0.2.
    pub soft_band: f32,
    /// Bias per metre of real depth, added to [`bias`](Self::bias): depth
    /// error grows with distance, so a relative bias keeps far surfaces from
    /// swallowing objects placed on them (0.02 = 2 cm at 1 m, 6 cm at 3 m).
    /// Default 0.
    pub bias_per_metre: f32,
    /// Soft-band width per metre of real depth, added to
    /// [`soft_band`](Self::soft_band). Default 0.
    pub soft_band_per_metre: f32,
    /// How the depth map is upsampled to the screen: guided by the camera
    /// image (default) or bilinear.
    pub upsampling: DepthUpsampling,
    /// How different (sRGB, 0–1, per channel) two colours of the camera
    /// image may be and still belong to the same surface for
    /// [`DepthUpsampling::Guided`]: smaller values follow weaker edges,
    /// larger ones put up with more image noise. Default 0.05.
    pub guide_sigma: f32,
    /// Depth texels less confident than this (0–1) hide nothing: occlusion
    /// fades out where the depth is unsure instead of cutting wrongly.
    /// Default 0 (every valid texel counts).
    pub min_confidence: f32,
    /// Metres added to the soft band where confidence is 0 (in proportion
    /// below 1): soft edges widen where the depth is unsure. Default 0.1.
    pub unsure_band: f32,
    /// Camera image (default), depth colour map or occlusion mask.
    pub display: DepthDisplay,
    /// Give the camera the real camera's projection ([`ArProjection`](super::ArProjection)) once
    /// the shown frames carry intrinsics (default `true`): virtual objects
    /// then appear where the same point of the room appears in the image,
    /// whatever the window's aspect, fit and mirroring. `false` keeps the
    /// app's own projection.
    pub follow_camera: bool,
}

impl Default for MonoDepthCamera {
    fn default() -> Self {
        Self {
            occlusion: OcclusionMode::Hard,
            fit: ResizeMode::Fill,
            mirror: false,
            bias: 0.0,
            soft_band: 0.2,
            bias_per_metre: 0.0,
            soft_band_per_metre: 0.0,
            upsampling: DepthUpsampling::Guided,
            guide_sigma: 0.05,
            min_confidence: 0.0,
            unsure_band: 0.1,
            display: DepthDisplay::Camera,
            follow_camera: true,
        }
    }
}
