//! The virtual camera that sees what the real one saw: a projection made
//! from the frame's intrinsics, the viewport, the fit mode and mirroring,
//! so a virtual point lands on the pixel where the camera image shows the
//! real point at the same place.

use bevy::camera::{CameraProjection, SubCameraView};
use bevy::math::Vec3A;
use bevy::prelude::*;

use super::{MonoDepthCamera, screen_to_frame};
use crate::camera::{Intrinsics, ResizeMode};
use crate::plugin::DepthTextures;

/// A perspective projection (reverse-Z, infinite far plane, as Bevy's own)
/// that shows the real camera's rays: for the viewport it is given by Bevy,
/// a view-space point projects to the screen pixel where the camera image,
/// fitted as the background is, shows the image point of the same ray. The
/// principal point may be off centre (an asymmetric frustum), `fx` and `fy`
/// may differ, and `Stretch` distorts exactly as the background does.
///
/// [`MonoDepthCamera`] sets one on its camera whenever the shown frame has
/// intrinsics (unless [`MonoDepthCamera::follow_camera`] is off).
#[derive(Debug, Clone, PartialEq, Reflect)]
pub struct ArProjection {
    /// The camera's intrinsics, in pixels of `frame`.
    pub intrinsics: Intrinsics,
    /// The frame's size in pixels.
    pub frame: Vec2,
    /// How the frame covers the viewport (as [`MonoDepthCamera::fit`]).
    pub fit: ResizeMode,
    /// Whether the image is mirrored left–right.
    pub mirror: bool,
    /// Near plane, metres.
    pub near: f32,
    /// Far distance for frustum culling and shadows, metres.
    pub far: f32,
    /// The viewport's size in pixels (set by Bevy through `update`).
    pub viewport: Vec2,
}

impl ArProjection {
    /// NDC = scale · (x, y) / −z + offset, per axis, for view-space points.
    fn terms(&self) -> (Vec2, Vec2) {
        let size = self.viewport.max(Vec2::ONE);
        let map = screen_to_frame(self.fit, self.mirror, Vec2::ZERO, size, self.frame);
        let (uv_per_px, uv_at_0) = (Vec2::new(map.x, map.y), Vec2::new(map.z, map.w));
        let k = &self.intrinsics;
        let frame = self.frame.max(Vec2::ONE);
        // Image pixel of a ray (rx, ry_down): (fx·rx + cx, fy·ry_down + cy);
        // its uv over the frame; the screen pixel showing that uv; NDC.
        let px_per_ray = Vec2::new(k.fx, k.fy) / frame / uv_per_px;
        let px_at_axis = (Vec2::new(k.cx, k.cy) / frame - uv_at_0) / uv_per_px;
        let scale = Vec2::new(2.0 * px_per_ray.x / size.x, 2.0 * px_per_ray.y / size.y);
        let offset = Vec2::new(
            2.0 * px_at_axis.x / size.x - 1.0,
            1.0 - 2.0 * px_at_axis.y / size.y,
        );
        (scale, offset)
    }
}

impl CameraProjection for ArProjection {
    fn get_clip_from_view(&self) -> Mat4 {
        let (scale, offset) = self.terms();
        // x_ndc = (s·x − o·z) / −z = s·x/−z + o; depth = near / −z.
        Mat4::from_cols(
            Vec4::new(scale.x, 0.0, 0.0, 0.0),
            Vec4::new(0.0, scale.y, 0.0, 0.0),
            Vec4::new(-offset.x, -offset.y, 0.0, -1.0),
            Vec4::new(0.0, 0.0, self.near, 0.0),
        )
    }

    fn get_clip_from_view_for_sub(&self, _sub_view: &SubCameraView) -> Mat4 {
        // Sub views split one frustum across windows; the real camera's
        // frustum is not split.
        self.get_clip_from_view()
    }

    fn update(&mut self, width: f32, height: f32) {
        self.viewport = Vec2::new(width, height);
    }

    fn far(&self) -> f32 {
        self.far
    }

    fn get_frustum_corners(&self, z_near: f32, z_far: f32) -> [Vec3A; 8] {
        let (scale, offset) = self.terms();
        // The view-space point at distance d whose NDC is (nx, ny).
        let at = |nx: f32, ny: f32, z: f32| {
            let d = z.abs();
            Vec3A::new(
                (nx - offset.x) / scale.x * d,
                (ny - offset.y) / scale.y * d,
                z,
            )
        };
        // Bottom right, top right, top left, bottom left; near, then far.
        [
            at(1.0, -1.0, z_near),
            at(1.0, 1.0, z_near),
            at(-1.0, 1.0, z_near),
            at(-1.0, -1.0, z_near),
            at(1.0, -1.0, z_far),
            at(1.0, 1.0, z_far),
            at(-1.0, 1.0, z_far),
            at(-1.0, -1.0, z_far),
        ]
    }
}

/// Gives every following [`MonoDepthCamera`] the real camera's projection
/// once the shown frame has intrinsics; without them the app's projection
/// stays as it is.
pub(super) fn follow_real_camera(
    textures: Option<Res<DepthTextures>>,
    mut cameras: Query<(&MonoDepthCamera, &mut Projection)>,
) {
    let Some(textures) = textures else { return };
    let (Some(intrinsics), Some(frame)) =
        (textures.background_intrinsics, textures.background_size)
    else {
        return;
    };
    for (settings, mut projection) in &mut cameras {
        if !settings.follow_camera {
            continue;
        }
        let (near, far, viewport) = match &*projection {
            Projection::Custom(custom) => match custom.get::<ArProjection>() {
                Some(ar) => (ar.near, ar.far, ar.viewport),
                None => (0.1, 1000.0, Vec2::ZERO),
            },
            Projection::Perspective(p) => (p.near, p.far, Vec2::ZERO),
            Projection::Orthographic(_) => (0.1, 1000.0, Vec2::ZERO),
        };
        let wanted = ArProjection {
            intrinsics,
            frame: frame.as_vec2(),
            fit: settings.fit,
            mirror: settings.mirror,
            near,
            far,
            viewport,
        };
        let current = match &*projection {
            Projection::Custom(custom) => custom.get::<ArProjection>(),
            _ => None,
        };
        if current != Some(&wanted) {
            *projection = Projection::custom(wanted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where a view-space point lands in a `viewport`-sized framebuffer.
    fn pixel(p: &ArProjection, point: Vec3) -> Vec2 {
        let clip = p.get_clip_from_view() * point.extend(1.0);
        let ndc = clip.truncate() / clip.w;
        Vec2::new(
            (ndc.x + 1.0) / 2.0 * p.viewport.x,
            (1.0 - ndc.y) / 2.0 * p.viewport.y,
        )
    }

    /// Where the background shows image pixel `(u, v)`, written out for a
    /// centred fit or fill (no mirroring).
    fn shown(frame: Vec2, viewport: Vec2, fill: bool, image: Vec2) -> Vec2 {
        let ratio = viewport / frame;
        let s = if fill {
            ratio.max_element()
        } else {
            ratio.min_element()
        };
        (image - frame / 2.0) * s + viewport / 2.0
    }

    #[test]
    fn a_point_lands_where_the_image_shows_its_ray() {
        let k = Intrinsics::new(70.0, 66.0, 43.0, 27.0);
        let frame = Vec2::new(80.0, 60.0);
        for viewport in [
            Vec2::new(160.0, 90.0),
            Vec2::new(80.0, 60.0),
            Vec2::new(54.0, 96.0),
        ] {
            for (fit, fill) in [(ResizeMode::Fill, true), (ResizeMode::Fit, false)] {
                let p = ArProjection {
                    intrinsics: k,
                    frame,
                    fit,
                    mirror: false,
                    near: 0.1,
                    far: 100.0,
                    viewport,
                };
                for point in [Vec3::new(0.3, -0.2, -2.0), Vec3::new(-1.0, 0.5, -3.5)] {
                    // The camera's own projection (y down in the image).
                    let image = Vec2::new(
                        k.fx * point.x / -point.z + k.cx,
                        k.fy * -point.y / -point.z + k.cy,
                    );
                    let want = shown(frame, viewport, fill, image);
                    let got = pixel(&p, point);
                    assert!(
                        got.abs_diff_eq(want, 1e-3),
                        "{viewport} {fit:?}: {got} vs {want}"
                    );
                }
                // Reverse-Z: depth = near / distance.
                let clip = p.get_clip_from_view() * Vec4::new(0.0, 0.0, -2.0, 1.0);
                assert!((clip.z / clip.w - 0.05).abs() < 1e-6);
                // The frustum corners project to the viewport's corners.
                let corners = p.get_frustum_corners(-1.0, -10.0);
                let top_left = pixel(&p, Vec3::from(corners[2]));
                let bottom_right = pixel(&p, Vec3::from(corners[4]));
                assert!(top_left.abs_diff_eq(Vec2::ZERO, 1e-3), "{top_left}");
                assert!(bottom_right.abs_diff_eq(viewport, 1e-3), "{bottom_right}");
            }
        }
    }

    #[test]
    fn mirroring_flips_the_principal_point_too() {
        let k = Intrinsics::new(60.0, 60.0, 30.0, 30.0);
        let p = ArProjection {
            intrinsics: k,
            frame: Vec2::new(80.0, 60.0),
            fit: ResizeMode::Stretch,
            mirror: true,
            near: 0.1,
            far: 100.0,
            viewport: Vec2::new(80.0, 60.0),
        };
        // The principal point (30, 30) is shown mirrored at x = 80 − 30.
        let axis = pixel(&p, Vec3::new(0.0, 0.0, -2.0));
        assert!(axis.abs_diff_eq(Vec2::new(50.0, 30.0), 1e-3), "{axis}");
        // A point to the camera's right shows to the left of it.
        assert!(pixel(&p, Vec3::new(0.5, 0.0, -2.0)).x < 50.0);
    }
}
