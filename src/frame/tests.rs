//! Unit tests of frames.

use bevy::math::{Quat, Vec3};

use super::*;

#[test]
fn refuses_bad_geometry() {
    let f = |w, h, stride, len| {
        CameraFrame::new(PixelFormat::Rgba8, w, h, stride, vec![0u8; len]).map(|_| ())
    };
    assert!(matches!(f(0, 4, 16, 64), Err(FrameError::ZeroSize { .. })));
    assert!(matches!(
        f(4, 4, 15, 64),
        Err(FrameError::StrideTooShort { .. })
    ));
    assert!(matches!(
        f(4, 4, 16, 63),
        Err(FrameError::BufferTooShort { needed: 64, .. })
    ));
    assert!(matches!(
        f(MAX_FRAME_SIDE + 1, 1, 70_000, 70_000),
        Err(FrameError::TooLarge { .. })
    ));
    assert!(matches!(
        f(4, 4, usize::MAX / 2, 64),
        Err(FrameError::TooLarge { .. })
    ));
    assert_eq!(f(4, 4, 20, 80), Ok(()));
}

#[test]
fn rotations_map_corners_and_sizes_and_invert() {
    assert_eq!(
        FrameRotation::from_degrees(90),
        Some(FrameRotation::Clockwise90)
    );
    assert_eq!(
        FrameRotation::from_degrees(-90),
        Some(FrameRotation::Clockwise270)
    );
    assert_eq!(
        FrameRotation::from_degrees(540),
        Some(FrameRotation::Clockwise180)
    );
    assert_eq!(FrameRotation::from_degrees(0), Some(FrameRotation::None));
    assert_eq!(FrameRotation::from_degrees(45), None);
    for r in [
        FrameRotation::None,
        FrameRotation::Clockwise90,
        FrameRotation::Clockwise180,
        FrameRotation::Clockwise270,
    ] {
        assert_eq!(FrameRotation::from_degrees(r.degrees() as i32), Some(r));
        // The screen's top-left corner comes from the buffer corner that
        // a clockwise turn of `degrees` brings there: bottom-left for
        // 90, bottom-right for 180, top-right for 270.
        let want = match r.degrees() {
            0 => [0.0, 0.0],
            90 => [0.0, 1.0],
            180 => [1.0, 1.0],
            _ => [1.0, 0.0],
        };
        assert_eq!(r.display_to_buffer([0.0, 0.0]), want, "{r:?}");
        for uv in [[0.25, 0.125], [0.9, 0.4], [0.5, 0.5]] {
            let back = r.buffer_to_display(r.display_to_buffer(uv));
            assert!(
                (back[0] - uv[0]).abs() < 1e-6 && (back[1] - uv[1]).abs() < 1e-6,
                "{r:?}"
            );
        }
        assert_eq!(
            r.display_size((640, 480)),
            if r.swaps_axes() {
                (480, 640)
            } else {
                (640, 480)
            }
        );
    }
    // Turning a quarter four times is the identity.
    let mut uv = [0.2, 0.7];
    for _ in 0..4 {
        uv = FrameRotation::Clockwise90.buffer_to_display(uv);
    }
    assert!((uv[0] - 0.2).abs() < 1e-6 && (uv[1] - 0.7).abs() < 1e-6);
}

#[test]
fn reads_pixels_through_stride_and_channel_order() {
    // 2×2 BGRA with 4 bytes of padding per row.
    let mut data = vec![0u8; 24];
    data[12..16].copy_from_slice(&[30, 20, 10, 255]); // (0, 1): r=10 g=20 b=30
    let frame = CameraFrame::new(PixelFormat::Bgra8, 2, 2, 12, data).unwrap();
    assert_eq!(frame.pixel(0, 1), Some([10, 20, 30]));
    assert_eq!(frame.pixel(2, 0), None);
    assert_eq!(frame.row(1).map(<[u8]>::len), Some(8));
    assert!(!frame.is_packed());
}

#[test]
fn packs_every_format_through_row_padding() {
    // 3×2 frames, rows padded with 0xEE; pixel (x, y) is r = 10x + y,
    // g = 100 + x, b = 200 + y, stored in each format's byte order.
    let rgb = |x: u8, y: u8| [10 * x + y, 100 + x, 200 + y];
    for (format, order) in [
        (PixelFormat::Rgb8, [0, 1, 2]),
        (PixelFormat::Rgba8, [0, 1, 2]),
        (PixelFormat::Bgra8, [2, 1, 0]),
    ] {
        let bpp = format.bytes_per_pixel();
        let stride = 3 * bpp + 5;
        let mut data = vec![0xEEu8; stride * 2];
        for y in 0..2u8 {
            for x in 0..3u8 {
                let at = usize::from(y) * stride + usize::from(x) * bpp;
                for (c, &offset) in order.iter().enumerate() {
                    data[at + offset] = rgb(x, y)[c];
                }
            }
        }
        let frame = CameraFrame::new(format, 3, 2, stride, data).unwrap();
        let want_rgb: Vec<u8> = (0..2)
            .flat_map(|y| (0..3).flat_map(move |x| rgb(x, y)))
            .collect();
        let want_rgba: Vec<u8> = want_rgb
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect();
        assert_eq!(frame.to_rgb8(), want_rgb, "{format:?}");
        // Into a buffer that held something else, of another size.
        let mut out = vec![7u8; 100];
        frame.write_rgba8(&mut out);
        assert_eq!(out, want_rgba, "{format:?}");
    }
}

/// A frame keeps a rigid pose and drops one that is not (a scaled
/// transform, a NaN), so a bad pose from the host never reaches
/// reprojection.
#[test]
fn frames_take_only_rigid_poses() {
    let frame = || CameraFrame::packed(PixelFormat::Rgb8, 2, 2, vec![0u8; 12]).unwrap();
    let rigid = Affine3A::from_rotation_translation(Quat::from_rotation_z(0.2), Vec3::X);
    assert_eq!(frame().with_pose(Some(rigid)).pose(), Some(rigid));
    let scaled = Affine3A::from_scale(Vec3::splat(1.5));
    assert_eq!(frame().with_pose(Some(scaled)).pose(), None);
    let mut nan = rigid;
    nan.matrix3.x_axis.y = f32::NAN;
    assert_eq!(frame().with_pose(Some(nan)).pose(), None);
    // Without intrinsics there is no camera to reproject with.
    assert!(frame().with_pose(Some(rigid)).camera().is_none());
}

#[test]
fn world_points_become_anchors_in_buffer_pixels_through_pose_and_rotation() {
    let pose = Affine3A::from_rotation_translation(
        Quat::from_rotation_y(0.4) * Quat::from_rotation_x(-0.1),
        Vec3::new(0.3, 1.5, -2.0),
    );
    // An 8×4 buffer shown turned a quarter clockwise (4 wide, 8 tall), with
    // intrinsics in buffer pixels.
    let frame = CameraFrame::packed(PixelFormat::Rgb8, 8, 4, vec![0; 8 * 4 * 3])
        .unwrap()
        .with_rotation(FrameRotation::Clockwise90)
        .with_intrinsics(Some(Intrinsics::new(6.0, 5.0, 4.2, 1.9)))
        .with_pose(Some(pose));
    let camera = frame.camera().unwrap();
    // The world point seen at buffer pixel (6.5, 1.25), 2.5 m away.
    let (bx, by, depth) = (6.5, 1.25, 2.5);
    let [u, v] = FrameRotation::Clockwise90.buffer_to_display([bx / 8.0, by / 4.0]);
    let shown = [u * 4.0, v * 8.0];
    let seen = pose.transform_point3(camera.unproject(shown, depth));
    // A point behind the camera, and one that is not finite.
    let behind = pose.transform_point3(Vec3::new(0.0, 0.0, 1.0));
    let anchors = frame
        .clone()
        .with_world_anchors(&[seen, behind, Vec3::NAN])
        .anchors()
        .to_vec();
    assert_eq!(anchors.len(), 1, "{anchors:?}");
    let a = anchors[0];
    assert!(
        (a.x - bx).abs() < 1e-4 && (a.y - by).abs() < 1e-4 && (a.depth - depth).abs() < 1e-4,
        "{a:?}"
    );
    // Without a pose nothing can be projected.
    let unposed = CameraFrame::packed(PixelFormat::Rgb8, 8, 4, vec![0; 96])
        .unwrap()
        .with_intrinsics(Some(Intrinsics::new(6.0, 5.0, 4.2, 1.9)))
        .with_world_anchors(&[seen]);
    assert!(unposed.anchors().is_empty());
}
