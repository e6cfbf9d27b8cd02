//! What the occlusion shaders need per view (the [`OcclusionView`]
//! uniform), recomputed every frame from the camera, its settings, the
//! frame and the depth map.

use bevy::prelude::*;
use bevy::render::extract_component::ExtractComponent;
use bevy::render::render_resource::ShaderType;

use super::{DepthDisplay, DepthUpsampling, MonoDepthCamera, OcclusionMode};
use crate::camera::{FrameRotation, ImageMapping, ResizeMode};
use crate::plugin::{CurrentDepth, DepthTextures};

/// What the shaders need per view, kept on each [`MonoDepthCamera`] entity
/// and recomputed every frame. WGSL: `bevy_mono_depth::occlusion::OcclusionView`
/// (`occlusion.wgsl`), field for field.
#[derive(Component, Debug, Clone, Copy, Default, PartialEq, ShaderType, ExtractComponent)]
pub(crate) struct OcclusionView {
    /// Camera-image uv of a framebuffer pixel position: `xy · scale + offset`
    /// (x, y scale; z, w offset).
    pub screen_to_frame: Vec4,
    /// Depth-map uv of a camera-image uv, as above.
    pub frame_to_depth: Vec4,
    /// `clip_from_view` entries `[2][2]`, `[3][2]`, `[2][3]`, `[3][3]`.
    pub clip_z: Vec4,
    /// Bias (m), soft band (m), colour-map near and far ends (m).
    pub params: Vec4,
    /// Occlusion mode (0 off, 1 hard, 2 soft), display (0 camera, 1 depth,
    /// 2 mask), has depth (0/1), has a camera image (0/1).
    pub flags: UVec4,
    /// Background-texture u of a camera-image uv: `dot(xy, uv) + z` (the
    /// frame's rotation; w unused).
    pub texture_u: Vec4,
    /// Background-texture v of a camera-image uv, as above.
    pub texture_v: Vec4,
    /// Bias per metre, soft band per metre, guide colour sigma (w unused).
    pub relative: Vec4,
    /// Upsampling (0 bilinear, 1 guided; y, z, w unused).
    pub upsampling: UVec4,
    /// Minimum confidence, soft band added at confidence 0 (z, w unused).
    pub confidence: Vec4,
}

/// The affine map from upright camera-image uv to uv in the frame's buffer
/// (the background texture), as `(u row, v row)`: `dot(row.xy, uv) + row.z`.
fn frame_to_texture(rotation: FrameRotation) -> (Vec4, Vec4) {
    // Each row from where the map sends the origin and the two unit axes.
    let at = |uv: [f32; 2]| Vec2::from(rotation.display_to_buffer(uv));
    let origin = at([0.0, 0.0]);
    let du = at([1.0, 0.0]) - origin;
    let dv = at([0.0, 1.0]) - origin;
    (
        Vec4::new(du.x, dv.x, origin.x, 0.0),
        Vec4::new(du.y, dv.y, origin.y, 0.0),
    )
}

/// The affine map (x, y scale; z, w offset) from framebuffer pixel positions
/// to camera-image uv for a viewport at `origin` of `size` pixels showing a
/// `frame`-sized image.
pub(crate) fn screen_to_frame(
    fit: ResizeMode,
    mirror: bool,
    origin: Vec2,
    size: Vec2,
    frame: Vec2,
) -> Vec4 {
    let frame = frame.max(Vec2::ONE);
    let size = size.max(Vec2::ONE);
    let shown = match fit {
        ResizeMode::Fill => frame * (size / frame).max_element(),
        ResizeMode::Fit => frame * (size / frame).min_element(),
        ResizeMode::Stretch => size,
    };
    let start = origin + (size - shown) / 2.0;
    let scale = shown.recip();
    let offset = -start * scale;
    if mirror {
        Vec4::new(-scale.x, scale.y, 1.0 - offset.x, offset.y)
    } else {
        Vec4::new(scale.x, scale.y, offset.x, offset.y)
    }
}

/// The affine map from camera-image uv to depth-map uv.
fn depth_uv_of_frame_uv(mapping: &ImageMapping) -> Vec4 {
    let scale = Vec2::from(mapping.scale);
    let offset = Vec2::from(mapping.offset);
    let inverse = scale.recip();
    let shift = -offset * inverse;
    Vec4::new(inverse.x, inverse.y, shift.x, shift.y)
}

impl OcclusionView {
    /// The view of `settings` for a camera with `viewport` (physical pixels)
    /// and projection `clip_from_view`, showing a camera image `frame`
    /// pixels in size upright, its buffer turned by `rotation` (`None`
    /// before the first frame), with `depth` (`None` before the first depth).
    pub(crate) fn new(
        settings: &MonoDepthCamera,
        viewport: URect,
        clip_from_view: Mat4,
        frame: Option<(UVec2, FrameRotation)>,
        depth: Option<(ImageMapping, (f32, f32))>,
    ) -> Self {
        let (texture_u, texture_v) =
            frame_to_texture(frame.map_or(FrameRotation::None, |(_, r)| r));
        let frame = frame.map(|(size, _)| size);
        let (to_depth, (near, far)) = match depth {
            Some((mapping, range)) => (depth_uv_of_frame_uv(&mapping), range),
            None => (depth_uv_of_frame_uv(&ImageMapping::IDENTITY), (0.0, 1.0)),
        };
        Self {
            screen_to_frame: screen_to_frame(
                settings.fit,
                settings.mirror,
                viewport.min.as_vec2(),
                viewport.size().as_vec2(),
                frame.unwrap_or(UVec2::ONE).as_vec2(),
            ),
            frame_to_depth: to_depth,
            clip_z: Vec4::new(
                clip_from_view.z_axis.z,
                clip_from_view.w_axis.z,
                clip_from_view.z_axis.w,
                clip_from_view.w_axis.w,
            ),
            params: Vec4::new(settings.bias, settings.soft_band.max(0.0), near, far),
            flags: UVec4::new(
                match settings.occlusion {
                    OcclusionMode::Off => 0,
                    OcclusionMode::Hard => 1,
                    OcclusionMode::Soft => 2,
                },
                match settings.display {
                    DepthDisplay::Camera => 0,
                    DepthDisplay::Depth => 1,
                    DepthDisplay::Mask => 2,
                    DepthDisplay::Metres => 3,
                    DepthDisplay::Confidence => 4,
                },
                u32::from(depth.is_some()),
                u32::from(frame.is_some()),
            ),
            texture_u,
            texture_v,
            relative: Vec4::new(
                settings.bias_per_metre,
                settings.soft_band_per_metre,
                settings.guide_sigma.max(1.0e-3),
                0.0,
            ),
            upsampling: UVec4::new(
                match settings.upsampling {
                    DepthUpsampling::Bilinear => 0,
                    DepthUpsampling::Guided => 1,
                },
                0,
                0,
                0,
            ),
            confidence: Vec4::new(
                settings.min_confidence.clamp(0.0, 1.0),
                settings.unsure_band.max(0.0),
                0.0,
                0.0,
            ),
        }
    }
}

/// Recomputes each [`MonoDepthCamera`]'s [`OcclusionView`] and removes the
/// views of cameras that lost the component.
pub(super) fn update_views(
    mut commands: Commands,
    cameras: Query<(Entity, &Camera, &MonoDepthCamera, Option<&OcclusionView>)>,
    stale: Query<Entity, (With<OcclusionView>, Without<MonoDepthCamera>)>,
    current: Res<CurrentDepth>,
    textures: Option<Res<DepthTextures>>,
) {
    for entity in &stale {
        commands.entity(entity).remove::<OcclusionView>();
    }
    let frame = textures
        .as_ref()
        .and_then(|t| Some((t.background_size?, t.background_rotation)));
    let depth = textures
        .as_ref()
        .filter(|t| t.depth_sequence.is_some())
        .and(current.map.as_ref())
        .map(|map| {
            let range = if map.stats().valid > 0 {
                (map.stats().min, map.stats().max)
            } else {
                (0.0, 1.0)
            };
            (map.mapping(), range)
        });
    for (entity, camera, settings, old) in &cameras {
        let Some(viewport) = camera.physical_viewport_rect() else {
            continue;
        };
        let view = OcclusionView::new(settings, viewport, camera.clip_from_view(), frame, depth);
        if old != Some(&view) {
            commands.entity(entity).insert(view);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(map: Vec4, p: Vec2) -> Vec2 {
        p * map.truncate().truncate() + Vec2::new(map.z, map.w)
    }

    #[test]
    fn fill_crops_fit_letterboxes_stretch_distorts() {
        // A 4:3 image in a 2:1 viewport of 200×100 at (10, 20).
        let (origin, size, frame) = (
            Vec2::new(10.0, 20.0),
            Vec2::new(200.0, 100.0),
            Vec2::new(40.0, 30.0),
        );
        // Fill: 200 px wide, 150 tall, 25 px cut above and below.
        let fill = screen_to_frame(ResizeMode::Fill, false, origin, size, frame);
        assert!(apply(fill, Vec2::new(10.0, 20.0)).abs_diff_eq(Vec2::new(0.0, 25.0 / 150.0), 1e-6));
        assert!(
            apply(fill, Vec2::new(210.0, 120.0)).abs_diff_eq(Vec2::new(1.0, 125.0 / 150.0), 1e-6)
        );
        // Fit: 133.3 px wide, 33.3 px bars left and right.
        let fit = screen_to_frame(ResizeMode::Fit, false, origin, size, frame);
        let bar = (200.0 - 400.0 / 3.0) / 2.0;
        assert!(apply(fit, Vec2::new(10.0 + bar, 20.0)).abs_diff_eq(Vec2::ZERO, 1e-5));
        assert!(apply(fit, Vec2::new(210.0 - bar, 120.0)).abs_diff_eq(Vec2::ONE, 1e-5));
        let stretch = screen_to_frame(ResizeMode::Stretch, false, origin, size, frame);
        assert!(apply(stretch, Vec2::new(110.0, 70.0)).abs_diff_eq(Vec2::splat(0.5), 1e-6));
        // Mirroring flips u only.
        let mirrored = screen_to_frame(ResizeMode::Stretch, true, origin, size, frame);
        assert!(apply(mirrored, Vec2::new(60.0, 45.0)).abs_diff_eq(Vec2::new(0.75, 0.25), 1e-6));
    }

    #[test]
    fn the_background_texture_is_sampled_through_the_frames_rotation() {
        for degrees in [0, 90, 180, 270] {
            let rotation = FrameRotation::from_degrees(degrees).unwrap();
            let (u, v) = frame_to_texture(rotation);
            for uv in [[0.0, 0.0], [1.0, 0.0], [0.25, 0.75], [0.6, 0.1]] {
                let p = Vec2::from(uv);
                let got = Vec2::new(
                    u.truncate().truncate().dot(p) + u.z,
                    v.truncate().truncate().dot(p) + v.z,
                );
                let want = Vec2::from(rotation.display_to_buffer(uv));
                assert!(
                    got.abs_diff_eq(want, 1e-6),
                    "{degrees}° {uv:?}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn frame_to_depth_inverts_the_preprocessing_mapping() {
        let mapping = ImageMapping {
            scale: [0.8, 1.0],
            offset: [0.1, 0.0],
        };
        let map = depth_uv_of_frame_uv(&mapping);
        for uv in [[0.1, 0.0], [0.5, 0.5], [0.9, 1.0]] {
            let expected = mapping.frame_to_depth(uv);
            let got = apply(map, Vec2::from(uv));
            assert!(got.abs_diff_eq(Vec2::from(expected), 1e-6), "{uv:?}");
        }
    }

    #[test]
    fn no_frame_or_depth_yet_is_flagged() {
        let settings = MonoDepthCamera::default();
        let rect = URect::new(0, 0, 64, 48);
        let projection = Mat4::perspective_infinite_reverse_rh(1.0, 4.0 / 3.0, 0.1);
        let view = OcclusionView::new(&settings, rect, projection, None, None);
        assert_eq!(view.flags, UVec4::new(1, 0, 0, 0));
        let mapping = ImageMapping::IDENTITY;
        let view = OcclusionView::new(
            &MonoDepthCamera {
                occlusion: OcclusionMode::Soft,
                display: DepthDisplay::Mask,
                ..settings
            },
            rect,
            projection,
            Some((UVec2::new(64, 48), FrameRotation::None)),
            Some((mapping, (1.0, 3.0))),
        );
        assert_eq!(view.flags, UVec4::new(2, 2, 1, 1));
        assert_eq!(view.params, Vec4::new(0.0, 0.2, 1.0, 3.0));
        // Infinite reverse-Z: depth = near / metres.
        let ndc = |m: f32| {
            let z = -m;
            (view.clip_z.x * z + view.clip_z.y) / (view.clip_z.z * z + view.clip_z.w)
        };
        assert!((ndc(2.0) - 0.05).abs() < 1e-7);
    }
}
