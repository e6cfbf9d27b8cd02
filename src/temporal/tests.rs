//! Unit tests of the stabiliser.

use super::*;

/// A 32×24 grey frame whose left half has luma `left`.
fn frame(left: u8) -> CameraFrame {
    let rgb: Vec<u8> = (0..24)
        .flat_map(|_| (0..32).flat_map(move |x| [if x < 16 { left } else { 100 }; 3]))
        .collect();
    CameraFrame::packed(PixelFormat::Rgb8, 32, 24, rgb).unwrap()
}

/// An 8×6 depth map: `value(x, y)` metres.
fn depth(value: impl Fn(u32, u32) -> f32) -> DepthMap {
    let metres = (0..6)
        .flat_map(|y| (0..8).map(move |x| (x, y)))
        .map(|(x, y)| value(x, y));
    DepthMap::from_metres(8, 6, metres.collect(), (0.1, 100.0))
}

/// Deterministic ±`amount` relative noise per texel and frame.
fn noisy(t: u32, amount: f32) -> DepthMap {
    depth(|x, y| {
        let hash = (x * 73 + y * 151 + t * 997) % 101;
        2.0 * (1.0 + amount * (hash as f32 / 50.0 - 1.0))
    })
}

fn spread(values: &[f32]) -> f32 {
    let mean = values.iter().sum::<f32>() / values.len() as f32;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / values.len() as f32).sqrt()
}

#[test]
fn noise_on_a_still_image_shrinks_and_confidence_grows() {
    let mut stabiliser = Stabiliser::new(TemporalSettings::default());
    let still = frame(100);
    let (mut raw, mut filtered) = (Vec::new(), Vec::new());
    let mut confidence = 0.0;
    for t in 0..40 {
        let mut map = noisy(t, 0.03);
        raw.push(map.metres()[20]);
        stabiliser.apply(&still, &mut map);
        filtered.push(map.metres()[20]);
        confidence = map.confidence()[20];
    }
    let (raw, filtered) = (spread(&raw[10..]), spread(&filtered[10..]));
    assert!(filtered < 0.5 * raw, "spread {filtered} vs {raw}");
    // ±3 % against a 15 % threshold: agreement settles near 0.9.
    assert!(confidence > 0.75, "confidence {confidence}");
}

#[test]
fn a_changed_image_or_depth_starts_the_texel_afresh() {
    let mut stabiliser = Stabiliser::new(TemporalSettings::default());
    for _ in 0..5 {
        stabiliser.apply(&frame(100), &mut depth(|_, _| 2.0));
    }
    // The left half of the image changes (something moved there) and
    // the depth there with it, by only 5 % (under the depth gate).
    let mut moved = depth(|x, _| if x < 4 { 1.9 } else { 2.1 });
    stabiliser.apply(&frame(160), &mut moved);
    assert_eq!(moved.get(1, 3), Some(1.9), "moved texel kept its history");
    let still = moved.get(6, 3).unwrap();
    assert!(still > 2.0 && still < 2.05, "still texel: {still}");
    // A jump of 50 % with no change in the image: the depth gate.
    let mut jumped = depth(|x, _| if x < 4 { 1.9 } else { 3.0 });
    stabiliser.apply(&frame(160), &mut jumped);
    assert_eq!(jumped.get(6, 3), Some(3.0));
}

#[test]
fn a_texel_the_image_restarts_loses_the_old_surfaces_confidence() {
    let mut stabiliser = Stabiliser::new(TemporalSettings::default());
    let mut sure = 0.0;
    for _ in 0..20 {
        let mut map = depth(|_, _| 2.0);
        stabiliser.apply(&frame(100), &mut map);
        sure = map.confidence()[3 * 8 + 1];
    }
    assert!(sure > 0.9, "agreement built up: {sure}");
    // Something else appears in the left half of the image at about the
    // same depth: its depth is new, so is its agreement.
    let mut appeared = depth(|_, _| 2.0);
    stabiliser.apply(&frame(160), &mut appeared);
    let left = appeared.confidence()[3 * 8 + 1];
    let right = appeared.confidence()[3 * 8 + 6];
    assert!(left <= FRESH_AGREEMENT + 1e-6, "restarted texel: {left}");
    assert!(right > 0.9, "untouched texel: {right}");
}

#[test]
fn invalid_depth_has_no_confidence_and_edges_less() {
    let mut stabiliser = Stabiliser::default();
    let mut map = depth(|x, y| match (x, y) {
        (0, 0) => f32::NAN,
        (x, _) if x < 4 => 1.0,
        _ => 3.0,
    });
    for _ in 0..10 {
        let mut next = map.clone();
        stabiliser.apply(&frame(100), &mut next);
        map = next;
    }
    assert_eq!(map.get(0, 0), None);
    assert_eq!(map.confidence()[0], 0.0);
    let inside = map.confidence()[3 * 8 + 1];
    let edge = map.confidence()[3 * 8 + 3];
    assert!(inside > 0.9, "inside {inside}");
    assert!(
        (edge - EDGE_FLOOR * inside).abs() < 1e-3,
        "edge {edge} vs {inside}"
    );
}

#[test]
fn a_new_size_or_crop_starts_afresh() {
    let mut stabiliser = Stabiliser::default();
    stabiliser.apply(&frame(100), &mut depth(|_, _| 2.0));
    let mut cropped = depth(|_, _| 2.02);
    cropped
        .set_mapping(ImageMapping {
            scale: [0.5, 1.0],
            offset: [0.25, 0.0],
        })
        .unwrap();
    stabiliser.apply(&frame(100), &mut cropped);
    assert_eq!(cropped.get(2, 2), Some(2.02));
}

#[test]
fn luma_follows_the_frames_rotation() {
    let map = depth(|_, _| 1.0);
    let mut upright = Vec::new();
    texel_luma(&frame(20), &map, &mut upright);
    assert_eq!(upright[0], 20.0);
    assert_eq!(upright[7], 100.0);
    // The same picture stored turned by 180°: the texels see it upright.
    let turned: Vec<u8> = (0..24)
        .flat_map(|_| (0..32).flat_map(move |x| [if x >= 16 { 20 } else { 100 }; 3]))
        .collect();
    let turned = CameraFrame::packed(PixelFormat::Rgb8, 32, 24, turned)
        .unwrap()
        .with_rotation(crate::frame::FrameRotation::Clockwise180);
    let mut seen = Vec::new();
    texel_luma(&turned, &map, &mut seen);
    assert_eq!(seen, upright);
}

/// A camera 3 m from a blank wall walking at it, 5 cm per depth map
/// (0.5 m/s at 10 depth maps a second); 8×6 texels over a 32×24 frame.
fn approach(step: u32, with_pose: bool) -> DepthMap {
    use crate::camera::{FrameCamera, Intrinsics};
    use bevy::math::{Affine3A, Vec3};
    let walked = 0.05 * step as f32;
    let mut map = depth(|_, _| 3.0 - walked);
    map.camera = with_pose.then(|| FrameCamera {
        pose: Affine3A::from_translation(Vec3::new(0.0, 0.0, -walked)),
        intrinsics: Intrinsics::new(20.0, 20.0, 16.0, 12.0),
        size: (32, 24),
    });
    map
}

#[test]
fn with_poses_it_follows_an_approach_to_a_blank_wall_within_one_map() {
    let wall = frame(100);
    let mut stabiliser = Stabiliser::new(TemporalSettings::default());
    for step in 0..20 {
        let mut map = approach(step, true);
        stabiliser.apply(&wall, &mut map);
        let truth = 3.0 - 0.05 * step as f32;
        assert_eq!(map.stats().valid, 48, "step {step}");
        for &d in map.metres() {
            assert!(
                (d - truth).abs() < 1e-3 * truth,
                "step {step}: {d} m, wall at {truth} m"
            );
        }
    }
    // Without the poses the gates never open (1.7–3 % change per map on an
    // unchanged image) and the depth trails the wall.
    let mut blind = Stabiliser::new(TemporalSettings::default());
    let mut lag = 0.0f32;
    for step in 0..20 {
        let mut map = approach(step, false);
        blind.apply(&wall, &mut map);
        lag = map.metres()[20] - (3.0 - 0.05 * step as f32);
    }
    assert!(lag > 0.1, "lag without poses {lag} m");
}

#[test]
fn history_that_moved_with_the_camera_keeps_smoothing_and_agreement() {
    use crate::camera::{FrameCamera, Intrinsics};
    use bevy::math::{Affine3A, Vec3};
    // A wall 2 m away seen while the camera slides 1 cm sideways per map:
    // the history moves with it, so noise is still averaged.
    let still = frame(100);
    let mut stabiliser = Stabiliser::new(TemporalSettings::default());
    let (mut raw, mut filtered) = (Vec::new(), Vec::new());
    let mut confidence = 0.0;
    for t in 0..40 {
        let mut map = noisy(t, 0.03);
        map.camera = Some(FrameCamera {
            pose: Affine3A::from_translation(Vec3::new(0.01 * t as f32, 0.0, 0.0)),
            intrinsics: Intrinsics::new(20.0, 20.0, 16.0, 12.0),
            size: (32, 24),
        });
        raw.push(map.metres()[20]);
        stabiliser.apply(&still, &mut map);
        filtered.push(map.metres()[20]);
        confidence = map.confidence()[20];
    }
    let (raw, filtered) = (spread(&raw[10..]), spread(&filtered[10..]));
    assert!(filtered < 0.5 * raw, "spread {filtered} vs {raw}");
    assert!(confidence > 0.6, "confidence {confidence}");
}
