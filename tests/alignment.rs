//! A model of relative depth (`DepthUnits::AffineInverse`) made metric per
//! frame from the frame's anchors, end to end through the engine: the
//! closed-form inverse model with a known scale and shift, anchors with
//! outliers and bad values, a held fit, and "not metric" without anchors.

mod common;

use bevy_mono_depth::align::{AlignSettings, Alignment, MetricAnchor};
use bevy_mono_depth::engine::{DepthEngine, EngineConfig};
use bevy_mono_depth::frame::{CameraFrame, PixelFormat};
use bevy_mono_depth::model::{DepthUnits, ModelOverrides};

/// The scene's true inverse depth is `SCALE · value + SHIFT` of the model's
/// output `value`.
const SCALE: f64 = 0.8;
const SHIFT: f64 = 0.05;

fn gradient(y: usize, x: usize) -> [u8; 3] {
    [
        ((x * 7 + y * 3) % 256) as u8,
        ((x * 2 + y * 5 + 11) % 256) as u8,
        ((x + y * 13) % 256) as u8,
    ]
}

/// The model's output at texel (`i`, `j`): `0.1 + avg2x2((R + G + B) / 765)`
/// of the 320×256 input (the frame as given).
fn value(i: usize, j: usize) -> f64 {
    let mut sum = 0.0;
    for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
        let [r, g, b] = gradient(2 * i + dy, 2 * j + dx);
        sum += (f64::from(r) + f64::from(g) + f64::from(b)) / 765.0;
    }
    0.1 + sum / 4.0
}

fn truth(i: usize, j: usize) -> f64 {
    1.0 / (SCALE * value(i, j) + SHIFT)
}

fn frame() -> CameraFrame {
    let data = common::frame_bytes(PixelFormat::Rgb8, 320, 256, 320 * 3, gradient);
    CameraFrame::packed(PixelFormat::Rgb8, 320, 256, data).expect("valid frame")
}

/// `n` anchors spread over the frame at output texel centres (frame pixel
/// (2j + 1, 2i + 1)), every fifth one a gross outlier (three times as far).
fn anchors(n: usize) -> Vec<MetricAnchor> {
    (0..n)
        .map(|k| {
            let (i, j) = ((k * 37) % 128, (k * 53 + 7) % 160);
            let far = if k % 5 == 0 { 3.0 } else { 1.0 };
            MetricAnchor {
                x: (2 * j + 1) as f32,
                y: (2 * i + 1) as f32,
                depth: (truth(i, j) * far) as f32,
            }
        })
        .collect()
}

fn engine(hold_frames: u32) -> DepthEngine {
    let config = EngineConfig {
        overrides: ModelOverrides {
            units: Some(DepthUnits::AffineInverse),
            depth_range: Some((0.01, 100.0)),
            ..Default::default()
        },
        align: AlignSettings {
            hold_frames,
            ..AlignSettings::default()
        },
        ..common::engine_config(common::model("inverse_relative.onnx"))
    };
    DepthEngine::load(&config).unwrap_or_else(|e| panic!("{e}"))
}

/// The largest relative error of the map against the scene, over all texels
/// (each must be valid).
fn worst(map: &bevy_mono_depth::depth::DepthMap) -> f64 {
    let mut worst: f64 = 0.0;
    for i in 0..128 {
        for j in 0..160 {
            let got = map.get(j as u32, i as u32).expect("every texel valid");
            worst = worst.max((f64::from(got) - truth(i, j)).abs() / truth(i, j));
        }
    }
    worst
}

#[test]
fn relative_depth_is_made_metric_from_the_anchors_despite_outliers_and_bad_values() {
    let mut engine = engine(30);
    let mut given = anchors(60);
    // Unusable anchors: dropped and counted, not fitted.
    given.extend([
        MetricAnchor {
            x: f32::NAN,
            y: 10.0,
            depth: 1.0,
        },
        MetricAnchor {
            x: 10.0,
            y: 10.0,
            depth: -2.0,
        },
        MetricAnchor {
            x: 400.0,
            y: 10.0,
            depth: 1.0,
        },
    ]);
    let (map, _) = engine.estimate(&frame().with_anchors(given)).unwrap();
    let report = map
        .alignment
        .as_ref()
        .expect("a relative model reports its alignment");
    assert_eq!((report.anchors, report.dropped), (63, 3), "{report}");
    let Alignment::Fitted(fit) = &report.alignment else {
        panic!("{report}");
    };
    // The 12 outliers are left out, the 48 others fit.
    assert_eq!((fit.samples, fit.inliers), (60, 48), "{report}");
    assert!(
        ((f64::from(fit.scale) - SCALE) / SCALE).abs() < 1e-3,
        "{report}: {fit:?}"
    );
    assert_eq!(map.stats().valid, 128 * 160);
    assert!(worst(&map) < 1e-3, "{}", worst(&map));
}

#[test]
fn without_anchors_the_last_fit_is_held_and_then_nothing_is_metric() {
    let mut engine = engine(2);
    let (fitted, _) = engine.estimate(&frame().with_anchors(anchors(50))).unwrap();
    assert!(fitted.alignment.as_ref().unwrap().is_metric());
    for age in 1..=2 {
        let (held, _) = engine.estimate(&frame()).unwrap();
        let report = held.alignment.as_ref().unwrap();
        assert!(
            matches!(report.alignment, Alignment::Held { age: a, .. } if a == age),
            "{report}"
        );
        assert_eq!(held.metres(), fitted.metres());
    }
    let (relative, _) = engine.estimate(&frame()).unwrap();
    let report = relative.alignment.as_ref().unwrap();
    assert!(!report.is_metric(), "{report}");
    assert!(report.to_string().starts_with("not metric"), "{report}");
    // Nothing pretends to be metres: no texel is valid.
    assert_eq!(relative.stats().valid, 0);
    assert!(relative.valid().iter().all(|v| !v));
    // Anchors again: metric again.
    let (again, _) = engine.estimate(&frame().with_anchors(anchors(50))).unwrap();
    assert!(again.alignment.as_ref().unwrap().is_metric());
    assert!(worst(&again) < 1e-3);
}

#[test]
fn a_model_of_metres_ignores_anchors_and_reports_no_alignment() {
    let mut engine =
        DepthEngine::load(&common::engine_config(common::model("closed_form.onnx"))).unwrap();
    let (map, _) = engine.estimate(&frame().with_anchors(anchors(20))).unwrap();
    assert_eq!(map.alignment, None);
    assert_eq!(map.stats().valid, 128 * 160);
}
