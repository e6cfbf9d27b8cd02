//! The alignment against known scales and shifts, noise and outliers.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal, Uniform};

use super::*;

const SCALE: f32 = 0.12;
const SHIFT: f32 = 0.2;

/// `n` samples of `1 / depth = SCALE · value + SHIFT` over 0.6–4.5 m, each
/// depth with multiplicative noise of σ `noise`, and a share `outliers` of
/// them replaced by depths drawn anywhere in 0.3–10 m.
fn samples(n: usize, noise: f32, outliers: f32, seed: u64) -> Vec<Sample> {
    let mut rng = StdRng::seed_from_u64(seed);
    let depth = Uniform::new(0.6f32, 4.5).unwrap();
    let wild = Uniform::new(0.3f32, 10.0).unwrap();
    let error = Normal::new(0.0f32, noise).unwrap();
    let coin = Uniform::new(0.0f32, 1.0).unwrap();
    (0..n)
        .map(|_| {
            let d = depth.sample(&mut rng);
            let value = (1.0 / d - SHIFT) / SCALE;
            let measured = if coin.sample(&mut rng) < outliers {
                wild.sample(&mut rng)
            } else {
                d * (1.0 + error.sample(&mut rng))
            };
            Sample {
                value,
                depth: measured,
            }
        })
        .collect()
}

#[test]
fn fifty_anchors_with_noise_and_a_fifth_of_outliers_give_scale_and_shift_within_one_percent() {
    for seed in 0..20 {
        let fit = fit(&samples(50, 0.01, 0.2, seed), &AlignSettings::default())
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let scale_error = (fit.scale - SCALE).abs() / SCALE;
        let shift_error = (fit.shift - SHIFT).abs() / SHIFT;
        assert!(
            scale_error < 0.01,
            "seed {seed}: scale {} ({scale_error:.4})",
            fit.scale
        );
        assert!(
            shift_error < 0.01,
            "seed {seed}: shift {} ({shift_error:.4})",
            fit.shift
        );
        assert!(
            fit.inliers >= 30 && fit.inliers <= 50,
            "seed {seed}: {fit:?}"
        );
        assert!(fit.residual < 0.02, "seed {seed}: {fit:?}");
    }
}

#[test]
fn exact_samples_are_fitted_exactly_and_give_back_their_metres() {
    let fit = fit(&samples(10, 0.0, 0.0, 7), &AlignSettings::default()).unwrap();
    assert!(
        (fit.scale - SCALE).abs() < 1e-5 && (fit.shift - SHIFT).abs() < 1e-5,
        "{fit:?}"
    );
    assert_eq!(fit.inliers, 10);
    let value = (1.0 / 2.0 - SHIFT) / SCALE;
    assert!((fit.metres(value).unwrap() - 2.0).abs() < 1e-4);
    // An inverse depth ≤ 0 has no metres.
    assert_eq!(fit.metres(-SHIFT / SCALE - 1.0), None);
}

#[test]
fn too_few_anchors_no_consensus_and_a_reversed_scale_are_errors() {
    let settings = AlignSettings::default();
    assert_eq!(
        fit(&[], &settings),
        Err(AlignError::TooFewAnchors { got: 0, needed: 8 })
    );
    // NaN, infinite and non-positive samples do not count.
    let mut bad = samples(7, 0.0, 0.0, 1);
    bad.push(Sample {
        value: f32::NAN,
        depth: 1.0,
    });
    bad.push(Sample {
        value: 1.0,
        depth: -1.0,
    });
    bad.push(Sample {
        value: 1.0,
        depth: f32::INFINITY,
    });
    assert_eq!(
        fit(&bad, &settings),
        Err(AlignError::TooFewAnchors { got: 7, needed: 8 })
    );
    // All outliers: nothing explains half of them.
    assert!(matches!(
        fit(&samples(40, 0.0, 1.0, 3), &settings),
        Err(AlignError::NoConsensus { .. })
    ));
    // Values that grow with depth are not inverse depth.
    let reversed: Vec<Sample> = (1..=20)
        .map(|i| Sample {
            value: i as f32,
            depth: i as f32 * 0.3,
        })
        .collect();
    assert!(fit(&reversed, &settings).is_err());
}

#[test]
fn anchors_outside_the_frame_or_with_bad_depth_are_dropped_and_counted() {
    let ok = MetricAnchor {
        x: 10.5,
        y: 20.5,
        depth: 1.5,
    };
    let anchors = [
        ok,
        MetricAnchor { x: f32::NAN, ..ok },
        MetricAnchor {
            y: f32::INFINITY,
            ..ok
        },
        MetricAnchor { depth: 0.0, ..ok },
        MetricAnchor { depth: -2.0, ..ok },
        MetricAnchor {
            depth: f32::NAN,
            ..ok
        },
        MetricAnchor { x: -0.1, ..ok },
        MetricAnchor { x: 640.0, ..ok },
        MetricAnchor { y: 480.0, ..ok },
        MetricAnchor {
            x: 639.9,
            y: 479.9,
            depth: 9.0,
        },
    ];
    let checked = check_anchors(&anchors, 640, 480);
    assert_eq!(checked.valid, [ok, anchors[9]]);
    assert_eq!(checked.dropped, 8);
}

#[test]
fn the_aligner_smooths_holds_the_last_fit_and_then_says_not_metric() {
    let mut aligner = Aligner::new(AlignSettings {
        hold_frames: 2,
        smoothing: 0.5,
        ..AlignSettings::default()
    });
    // Without anchors from the start: not metric.
    assert!(matches!(
        aligner.update(&[]),
        Alignment::NotMetric(AlignError::TooFewAnchors { .. })
    ));
    assert_eq!(aligner.update(&[]).fit(), None);
    let first = match aligner.update(&samples(30, 0.0, 0.0, 1)) {
        Alignment::Fitted(fit) => fit,
        other => panic!("{other:?}"),
    };
    assert!((first.scale - SCALE).abs() < 1e-5);
    let rescaled = |factor: f32, seed| -> Vec<Sample> {
        samples(30, 0.0, 0.0, seed)
            .into_iter()
            .map(|s| Sample {
                value: s.value / factor,
                ..s
            })
            .collect()
    };
    // The model's scale drifts by 2 %: the old fit still explains the
    // anchors, and the smoothed fit goes half way.
    let Alignment::Fitted(drifted) = aligner.update(&rescaled(1.02, 3)) else {
        panic!("no fit");
    };
    assert!((drifted.scale - 1.01 * SCALE).abs() < 1e-4, "{drifted:?}");
    // It doubles: the old fit is off by far more than the inlier threshold,
    // and the new fit is taken as it is (a blend would be wrong for both).
    let doubled = rescaled(2.0, 2);
    let Alignment::Fitted(second) = aligner.update(&doubled) else {
        panic!("no fit");
    };
    assert!((second.scale - 2.0 * SCALE).abs() < 1e-4, "{second:?}");
    assert!((second.shift - SHIFT).abs() < 1e-5, "{second:?}");
    // Frames without anchors hold it for `hold_frames`, then it is gone.
    for age in 1..=2 {
        match aligner.update(&[]) {
            Alignment::Held { fit, age: held, .. } => {
                assert_eq!((fit, held), (second, age));
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(aligner.update(&[]), Alignment::NotMetric(_)));
    // A fit after that starts afresh, not smoothed with the old one.
    let Alignment::Fitted(again) = aligner.update(&doubled) else {
        panic!("no fit");
    };
    assert!((again.scale - 2.0 * SCALE).abs() < 1e-4, "{again:?}");
}
