//! Unit tests of reprojection.

use bevy::math::{Affine3A, Quat, Vec3};

use super::*;
use crate::camera::ImageMapping;
use crate::camera::Intrinsics;

/// A 64×48 map of a 640×480 frame (mapping: the whole frame).
fn camera(pose: Affine3A) -> FrameCamera {
    FrameCamera {
        pose,
        intrinsics: Intrinsics::new(500.0, 500.0, 320.0, 240.0),
        size: (640, 480),
    }
}

fn map(values: impl Fn(u32, u32) -> f32, cam: FrameCamera) -> DepthMap {
    let (w, h) = (64, 48);
    let values = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .map(|(x, y)| values(x, y));
    let mut map = DepthMap::from_metres(w, h, values.collect(), (0.1, 100.0));
    map.set_mapping(ImageMapping::IDENTITY).unwrap();
    map.camera = Some(cam);
    map.sequence = 7;
    map
}

#[test]
fn the_same_pose_gives_the_same_map() {
    let cam = camera(Affine3A::from_translation(Vec3::new(0.3, 1.2, 0.0)));
    let source = map(|x, y| 1.0 + 0.01 * x as f32 + 0.02 * y as f32, cam);
    let mut out = DepthMap::empty();
    let stats = Reprojector::new()
        .reproject(&source, &cam, &mut out)
        .unwrap();
    assert_eq!(out.metres(), source.metres());
    assert_eq!(out.valid(), source.valid());
    assert_eq!((stats.valid, stats.lost), (64 * 48, 0));
    assert_eq!(out.sequence, 7);
    assert_eq!(out.camera, Some(cam));
    let mut reprojector = Reprojector::new();
    reprojector.reproject(&source, &cam, &mut out).unwrap();
    let identity: Vec<u32> = (0..64 * 48).collect();
    assert_eq!(reprojector.sources(), identity);
}

/// A fronto-parallel wall 2 m away, camera moved 0.2 m right: the wall
/// moves 500 · 0.2 / 2 = 50 frame pixels = 5 texels left, keeps its
/// depth, and the 5 columns on the right are holes.
#[test]
fn a_sideways_step_shifts_a_wall_by_the_parallax() {
    let from = camera(Affine3A::IDENTITY);
    let to = camera(Affine3A::from_translation(Vec3::new(0.2, 0.0, 0.0)));
    // A marker column (x = 30) a little nearer than the wall, to follow.
    let source = map(|x, _| if x == 30 { 1.99 } else { 2.0 }, from);
    let mut out = DepthMap::empty();
    let mut invalid = Reprojector {
        holes: HoleFill::Invalid,
        ..Reprojector::new()
    };
    invalid.reproject(&source, &to, &mut out).unwrap();
    for y in 0..48 {
        assert_eq!(out.get(25, y), Some(1.99), "row {y}");
        assert_eq!(out.get(24, y), Some(2.0));
        assert_eq!(out.get(26, y), Some(2.0));
        for x in 59..64 {
            assert_eq!(out.get(x, y), None, "hole at {x},{y}");
        }
        assert_eq!(out.get(58, y), Some(2.0));
        // Each texel shows the one 5 columns to its right; holes none.
        let row = &invalid.sources()[y as usize * 64..][..64];
        for (x, &from) in row.iter().enumerate() {
            let expected = if x < 59 {
                y * 64 + x as u32 + 5
            } else {
                NO_SOURCE
            };
            assert_eq!(from, expected, "source of {x},{y}");
        }
    }
    // Filled, the border takes the wall's depth at a quarter of its
    // confidence.
    Reprojector::new()
        .reproject(&source, &to, &mut out)
        .unwrap();
    let i = 10 * 64 + 61;
    assert_eq!(out.get(61, 10), Some(2.0));
    assert_eq!(out.confidence()[i], 0.25);
    assert_eq!(out.confidence()[i - 5], 1.0);
    // A filled texel shows what it was filled from: the row's last source.
    assert_eq!(invalid.sources()[i], NO_SOURCE);
    let mut filled = Reprojector::new();
    filled.reproject(&source, &to, &mut out).unwrap();
    assert_eq!(filled.sources()[i], (10 * 64 + 63) as u32);
}

/// Moving towards a box in front of a wall: the box grows without
/// cracks and hides the wall behind it; moving sideways opens a gap
/// beside the box, invalid or filled from the wall behind.
#[test]
fn surfaces_stay_closed_and_disocclusions_stay_holes() {
    let from = camera(Affine3A::IDENTITY);
    let inside = |x: u32, y: u32| (24..40).contains(&x) && (16..32).contains(&y);
    let source = map(|x, y| if inside(x, y) { 1.0 } else { 3.0 }, from);
    let mut out = DepthMap::empty();
    let mut reprojector = Reprojector {
        holes: HoleFill::Invalid,
        ..Reprojector::new()
    };
    // 0.3 m forward: the box (1 m) is magnified 1/0.7 = 1.43×.
    let forward = camera(Affine3A::from_translation(Vec3::new(0.0, 0.0, -0.3)));
    reprojector.reproject(&source, &forward, &mut out).unwrap();
    let near = out
        .metres()
        .iter()
        .filter(|d| (**d - 0.7).abs() < 1e-4)
        .count();
    let expected = (16.0 / 0.7f32).powi(2);
    assert!(
        (near as f32 - expected).abs() < 0.1 * expected,
        "{near} box texels, expected about {expected}"
    );
    // No cracks: every texel inside the magnified box is the box.
    for y in 14..34 {
        for x in 22..42 {
            let d = out.get(x, y);
            assert!(d.is_some_and(|d| (d - 0.7).abs() < 1e-4), "{x},{y}: {d:?}");
        }
    }
    // 0.1 m right: the box shifts 500·0.1/1 = 50 px = 5 texels left,
    // the wall behind it 500·0.1/3 ≈ 1.7 texels: a gap opens at the
    // box's right edge, invalid.
    let right = camera(Affine3A::from_translation(Vec3::new(0.1, 0.0, 0.0)));
    reprojector.reproject(&source, &right, &mut out).unwrap();
    for y in 17..31 {
        assert_eq!(out.get(20, y), Some(1.0), "box moved left, row {y}");
        assert_eq!(out.get(34, y), Some(1.0));
        assert_eq!(out.get(36, y), None, "disocclusion at row {y}");
        assert_eq!(out.get(40, y), Some(3.0));
    }
    // Filled, the gap takes the wall behind, not the box.
    reprojector.holes = HoleFill::Background;
    reprojector.reproject(&source, &right, &mut out).unwrap();
    for y in 17..31 {
        for x in 35..38 {
            assert_eq!(out.get(x, y), Some(3.0), "{x},{y}");
        }
    }
}

/// A pure rotation about the camera's vertical axis moves everything
/// by f · tan(angle) pixels, whatever its depth.
#[test]
fn a_turn_moves_near_and_far_alike() {
    let from = camera(Affine3A::IDENTITY);
    // Turned left by atan(40 / 500): the image moves 40 px = 4 texels right.
    let angle = (40.0f32 / 500.0).atan();
    let to = camera(Affine3A::from_quat(Quat::from_rotation_y(angle)));
    let source = map(|x, _| if x < 32 { 1.0 } else { 4.0 }, from);
    let mut out = DepthMap::empty();
    let mut invalid = Reprojector {
        holes: HoleFill::Invalid,
        ..Reprojector::new()
    };
    invalid.reproject(&source, &to, &mut out).unwrap();
    let row = 24;
    let edge = (0..64).find(|&x| out.get(x, row).is_some_and(|d| d > 1.5));
    assert_eq!(edge, Some(36));
    // The left border is new (off-axis rays move further than 4 texels).
    assert!((0..5).all(|x| out.get(x, row).is_none()));
    assert!(out.get(6, row).is_some());
}

/// Tilting down opens a band at the bottom with no texel in any row;
/// filled, every row has depth, taken from the nearest rows above.
#[test]
fn a_tilt_leaves_no_row_unfilled() {
    let from = camera(Affine3A::IDENTITY);
    // Pitched down by atan(60 / 500): the image moves 60 px = 6 texels up.
    let angle = (60.0f32 / 500.0).atan();
    let to = camera(Affine3A::from_quat(Quat::from_rotation_x(-angle)));
    let source = map(|_, y| 2.0 + y as f32 * 0.01, from);
    let mut out = DepthMap::empty();
    let mut invalid = Reprojector {
        holes: HoleFill::Invalid,
        ..Reprojector::new()
    };
    invalid.reproject(&source, &to, &mut out).unwrap();
    let empty_rows: Vec<u32> = (0..48)
        .filter(|&y| (0..64).all(|x| out.get(x, y).is_none()))
        .collect();
    assert!(
        empty_rows.len() >= 4 && empty_rows.iter().all(|&y| y >= 40),
        "the premise: a band of empty rows at the bottom, got {empty_rows:?}"
    );
    let mut filled = Reprojector::new();
    assert_eq!(filled.holes, HoleFill::Background);
    filled.reproject(&source, &to, &mut out).unwrap();
    assert_eq!(out.stats().valid, 64 * 48, "every texel has depth");
    let last_seen = empty_rows[0] - 1;
    for &y in &empty_rows {
        for x in 0..64 {
            let i = (y * 64 + x) as usize;
            assert_eq!(out.get(x, y), out.get(x, last_seen), "({x}, {y})");
            // unsure: a quarter of the confidence it was filled from
            assert!(out.confidence()[i] <= FILLED_CONFIDENCE + 1e-6);
        }
    }
}

#[test]
fn without_a_pose_or_at_another_size_it_says_why() {
    let cam = camera(Affine3A::IDENTITY);
    let mut source = map(|_, _| 2.0, cam);
    let mut out = DepthMap::empty();
    let mut reprojector = Reprojector::new();
    let other = FrameCamera {
        size: (320, 240),
        ..cam
    };
    assert!(matches!(
        reprojector.reproject(&source, &other, &mut out),
        Err(ReprojectError::SizeChanged { .. })
    ));
    source.camera = None;
    assert_eq!(
        reprojector.reproject(&source, &cam, &mut out),
        Err(ReprojectError::NoSourceCamera)
    );
    assert!(out.is_empty());
}
