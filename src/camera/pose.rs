//! Camera poses: where the camera was when a frame was taken.
//!
//! A pose is the **camera-to-world** transform of the camera of the image
//! as shown (upright, after [`FrameRotation`]), in Bevy's axes: the camera
//! looks along its local −z, +x is right on screen and +y up; the world is
//! right-handed with +y up (as Bevy's and ARKit's world are). Translation is
//! in metres. A [`Transform`](bevy::prelude::Transform) of a Bevy camera
//! entity is such a pose (`GlobalTransform::affine()`).
//!
//! Hosts that track the camera (ARKit's world tracking, a motion-capture
//! rig, a game that moves a virtual camera) set it on each pushed frame with
//! [`CameraFrame::with_pose`](crate::frame::CameraFrame::with_pose);
//! recordings store it per frame. With a pose and intrinsics on every
//! frame, [`BackgroundSync::Reprojected`](crate::plugin::BackgroundSync)
//! moves each depth map into the pose of the frame on screen.

use bevy::math::{Affine3A, Mat3, Mat4, Quat, Vec3};

use super::{FrameRotation, Intrinsics};

/// A camera-to-world transform is accepted as a pose when its rotation
/// part is orthonormal within this tolerance and everything is finite.
const RIGID_TOLERANCE: f32 = 1e-3;

/// Whether `pose` is a rigid transform (finite, rotation without scale or
/// shear, no reflection).
pub fn is_rigid(pose: &Affine3A) -> bool {
    let m = Mat3::from(pose.matrix3);
    let finite = m.is_finite() && pose.translation.is_finite();
    finite
        && (m.transpose() * m).abs_diff_eq(Mat3::IDENTITY, RIGID_TOLERANCE)
        && (m.determinant() - 1.0).abs() < RIGID_TOLERANCE
}

/// Where a frame was taken from: the camera's pose, its intrinsics and the
/// image size, all for the image as shown (upright).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameCamera {
    /// Camera-to-world (see the module documentation for the axes).
    pub pose: Affine3A,
    /// Intrinsics in pixels of the upright image.
    pub intrinsics: Intrinsics,
    /// Width and height of the upright image, pixels.
    pub size: (u32, u32),
}

impl FrameCamera {
    /// The camera-space point (metres, −z forward) seen at upright-image
    /// pixel `pixel` at planar depth `depth` (distance along the view axis).
    pub fn unproject(&self, pixel: [f32; 2], depth: f32) -> Vec3 {
        let k = &self.intrinsics;
        Vec3::new(
            (pixel[0] - k.cx) / k.fx * depth,
            -(pixel[1] - k.cy) / k.fy * depth,
            -depth,
        )
    }

    /// The upright-image pixel and planar depth of a camera-space point;
    /// `None` behind the camera.
    pub fn project(&self, point: Vec3) -> Option<([f32; 2], f32)> {
        let depth = -point.z;
        // NaN fails this too.
        if depth.is_nan() || depth <= 1e-6 {
            return None;
        }
        let k = &self.intrinsics;
        Some((
            [
                k.fx * point.x / depth + k.cx,
                -k.fy * point.y / depth + k.cy,
            ],
            depth,
        ))
    }

    /// The transform from this camera's space into `other`'s.
    pub fn to_camera(&self, other: &FrameCamera) -> Affine3A {
        other.pose.inverse() * self.pose
    }
}

/// The pose of the upright image's camera from ARKit's
/// `ARFrame.camera.transform` (a column-major 4×4 `simd_float4x4`, given as
/// its 16 floats in memory order) and the rotation the frame is shown with.
///
/// ARKit's world is right-handed with +y up, as Bevy's, so the world axes
/// carry over. ARKit's camera axes belong to the sensor's native landscape
/// image (`capturedImage`, home button or USB port on the right): +x along
/// the long side, +y up, looking along −z — the buffer's own axes. A frame
/// turned by `rotation` for display is seen by a camera rolled about its
/// view axis: a quarter turn clockwise on screen makes the screen's right
/// the buffer's up. `rotation` is the one set on the pushed frame.
pub fn pose_from_arkit(transform: [f32; 16], rotation: FrameRotation) -> Affine3A {
    let buffer = Affine3A::from_mat4(Mat4::from_cols_array(&transform));
    buffer * display_from_buffer_roll(rotation)
}

/// The rotation from the upright image's camera axes to the buffer's: a
/// roll about the view axis by a quarter turn per clockwise quarter turn.
pub fn display_from_buffer_roll(rotation: FrameRotation) -> Affine3A {
    let turns = rotation.quarter_turns() as f32;
    Affine3A::from_quat(Quat::from_rotation_z(turns * std::f32::consts::FRAC_PI_2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera(pose: Affine3A, rotation: FrameRotation) -> (FrameCamera, Intrinsics, (u32, u32)) {
        // A landscape sensor with an off-centre principal point, so that a
        // wrong axis shows.
        let size = (640, 480);
        let buffer_k = Intrinsics::new(500.0, 510.0, 330.0, 236.0);
        let shown = FrameCamera {
            pose: pose * display_from_buffer_roll(rotation),
            intrinsics: buffer_k.rotated(rotation, size),
            size: rotation.display_size(size),
        };
        (shown, buffer_k, size)
    }

    /// ARKit with the phone held in landscape-right: its camera transform
    /// is the Bevy camera pose as it is. A camera 1.5 m up, turned 30° to
    /// the left about +y, sees a world point straight ahead of it at the
    /// image's principal point, and a point above it higher on screen.
    #[test]
    fn an_arkit_landscape_pose_is_a_bevy_camera_pose() {
        let pose = Affine3A::from_rotation_translation(
            Quat::from_rotation_y(30f32.to_radians()),
            Vec3::new(0.2, 1.5, -0.4),
        );
        let arkit: [f32; 16] = Mat4::from(pose).to_cols_array();
        let converted = pose_from_arkit(arkit, FrameRotation::None);
        assert!(converted.abs_diff_eq(pose, 1e-6));
        // The forward axis of a Bevy camera with that transform.
        let forward = pose.transform_vector3(Vec3::NEG_Z);
        let expected = Vec3::new(
            -(30f32.to_radians().sin()),
            0.0,
            -(30f32.to_radians().cos()),
        );
        assert!(forward.abs_diff_eq(expected, 1e-6), "{forward}");
        let (cam, _, _) = camera(converted, FrameRotation::None);
        let ahead = pose.transform_point3(Vec3::new(0.0, 0.0, -2.0));
        let local = converted.inverse().transform_point3(ahead);
        let (pixel, depth) = cam.project(local).unwrap();
        assert!((pixel[0] - 330.0).abs() < 1e-3 && (pixel[1] - 236.0).abs() < 1e-3);
        assert!((depth - 2.0).abs() < 1e-5);
        let above = pose.transform_point3(Vec3::new(0.0, 0.3, -2.0));
        let (pixel, _) = cam
            .project(converted.inverse().transform_point3(above))
            .unwrap();
        assert!(pixel[1] < 236.0 - 50.0, "{pixel:?}");
    }

    /// For every display rotation: a world point projected through ARKit's
    /// pose and the buffer's intrinsics lands on the buffer pixel that the
    /// frame's rotation shows exactly where the converted pose and the
    /// rotated intrinsics put it on screen.
    #[test]
    fn the_converted_pose_sees_what_the_turned_buffer_shows() {
        let pose = Affine3A::from_rotation_translation(
            Quat::from_euler(bevy::math::EulerRot::YXZ, 0.4, -0.2, 0.1),
            Vec3::new(1.0, 1.4, 2.0),
        );
        let arkit = Mat4::from(pose).to_cols_array();
        let points = [
            Vec3::new(0.5, 1.0, -1.0),
            Vec3::new(1.3, 1.9, 0.2),
            Vec3::new(0.1, 0.8, 0.5),
        ];
        for degrees in [0, 90, 180, 270] {
            let rotation = FrameRotation::from_degrees(degrees).unwrap();
            let (_, buffer_k, size) = camera(pose, rotation);
            let shown = FrameCamera {
                pose: pose_from_arkit(arkit, rotation),
                intrinsics: buffer_k.rotated(rotation, size),
                size: rotation.display_size(size),
            };
            let buffer_cam = FrameCamera {
                pose,
                intrinsics: buffer_k,
                size,
            };
            let mut seen = 0;
            for world in points {
                let in_buffer = pose.inverse().transform_point3(world);
                let Some((b, depth_b)) = buffer_cam.project(in_buffer) else {
                    continue;
                };
                seen += 1;
                let uv = [b[0] / size.0 as f32, b[1] / size.1 as f32];
                let shown_uv = rotation.buffer_to_display(uv);
                let (d, depth_d) = shown
                    .project(shown.pose.inverse().transform_point3(world))
                    .unwrap();
                let d_uv = [d[0] / shown.size.0 as f32, d[1] / shown.size.1 as f32];
                assert!(
                    (d_uv[0] - shown_uv[0]).abs() < 1e-4 && (d_uv[1] - shown_uv[1]).abs() < 1e-4,
                    "{degrees}°: {d_uv:?} vs {shown_uv:?}"
                );
                assert!((depth_b - depth_d).abs() < 1e-4);
            }
            assert!(seen >= 2, "{seen} points in front of the camera");
        }
    }

    #[test]
    fn only_rigid_transforms_are_poses() {
        let pose = Affine3A::from_rotation_translation(Quat::from_rotation_x(1.0), Vec3::ONE);
        assert!(is_rigid(&pose));
        assert!(!is_rigid(&Affine3A::from_scale(Vec3::splat(2.0))));
        assert!(!is_rigid(&Affine3A::from_scale(Vec3::new(1.0, 1.0, -1.0))));
        let mut nan = pose;
        nan.translation.x = f32::NAN;
        assert!(!is_rigid(&nan));
    }

    #[test]
    fn unproject_and_project_are_inverse() {
        let (cam, _, _) = camera(Affine3A::IDENTITY, FrameRotation::Clockwise90);
        let p = cam.unproject([100.0, 400.0], 2.5);
        let (pixel, depth) = cam.project(p).unwrap();
        assert!((pixel[0] - 100.0).abs() < 1e-3 && (pixel[1] - 400.0).abs() < 1e-3);
        assert!((depth - 2.5).abs() < 1e-6);
        assert!(cam.project(Vec3::new(0.0, 0.0, 1.0)).is_none());
    }
}
