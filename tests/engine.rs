//! The depth engine end to end with generated models: frames in every pixel
//! format and resize mode give the closed-form model's analytic depth.

mod common;

use std::sync::OnceLock;

use bevy_mono_depth::camera::{ImageMapping, ResizeMode};
use bevy_mono_depth::engine::preprocess::Preprocessor;
use bevy_mono_depth::engine::{DepthEngine, DepthEstimator, EngineError};
use bevy_mono_depth::frame::{CameraFrame, PixelFormat};
use bevy_mono_depth::model::{DepthUnits, ModelOverrides, TensorLayout};
use bevy_mono_depth::session::{DepthSession, ModelError};
use common::model;

/// The closed-form model's depth at output texel (`i`, `j`) of an RGB image
/// given as a function of the model-input pixel.
fn analytic(rgb: impl Fn(usize, usize) -> [u8; 3], i: usize, j: usize) -> f32 {
    common::closed_form_block(|dy, dx| rgb(2 * i + dy, 2 * j + dx))
}

/// The model's input and output sizes, (width, height), from its spec.
fn sizes(engine: &DepthEngine) -> ((u32, u32), (usize, usize)) {
    let spec = engine.spec();
    (
        (spec.input_width, spec.input_height),
        (spec.output_width as usize, spec.output_height as usize),
    )
}

/// A frame of `width`×`height` in `format` with `padding` extra bytes per
/// row, whose pixel (x, y) is `rgb(y, x)`.
fn make_frame(
    format: PixelFormat,
    width: u32,
    height: u32,
    padding: usize,
    rgb: impl Fn(usize, usize) -> [u8; 3],
) -> CameraFrame {
    let stride = width as usize * format.bytes_per_pixel() + padding;
    let data = common::frame_bytes(format, width, height, stride, rgb);
    CameraFrame::new(format, width, height, stride, data).expect("valid frame")
}

fn gradient(y: usize, x: usize) -> [u8; 3] {
    [
        ((x * 7 + y * 3) % 256) as u8,
        ((x * 2 + y * 5 + 11) % 256) as u8,
        ((x + y * 13) % 256) as u8,
    ]
}

fn engine(name: &str, mode: ResizeMode) -> DepthEngine {
    let mut config = common::engine_config(model(name));
    config.resize = mode;
    DepthEngine::load(&config).unwrap_or_else(|e| panic!("{e}"))
}

fn worst_error(
    depth: &bevy_mono_depth::depth::DepthMap,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    want: impl Fn(usize, usize) -> f32,
) -> f32 {
    let mut worst = 0.0f32;
    for i in rows {
        for j in cols.clone() {
            let got = depth.get(j as u32, i as u32).expect("valid depth");
            worst = worst.max((got - want(i, j)).abs());
        }
    }
    worst
}

const FORMATS: [(PixelFormat, usize); 3] = [
    (PixelFormat::Rgb8, 0),
    (PixelFormat::Rgba8, 12),
    (PixelFormat::Bgra8, 64),
];

#[test]
fn model_sized_frames_give_the_formula_in_every_format_mode_and_layout() {
    for name in ["closed_form.onnx", "closed_form_nhwc.onnx"] {
        for mode in [ResizeMode::Fill, ResizeMode::Fit, ResizeMode::Stretch] {
            let mut engine = engine(name, mode);
            let layout = engine.spec().layout;
            assert_eq!(
                layout,
                if name.contains("nhwc") {
                    TensorLayout::Nhwc
                } else {
                    TensorLayout::Nchw
                }
            );
            let ((iw, ih), (ow, oh)) = sizes(&engine);
            for (format, padding) in FORMATS {
                let frame = make_frame(format, iw, ih, padding, gradient).with_sequence(41);
                let (depth, _) = engine.estimate(&frame).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(
                    (
                        depth.width() as usize,
                        depth.height() as usize,
                        depth.sequence
                    ),
                    (ow, oh, 41)
                );
                assert_eq!(depth.mapping(), ImageMapping::IDENTITY);
                let worst = worst_error(&depth, 0..oh, 0..ow, |i, j| analytic(gradient, i, j));
                assert!(worst < 1e-4, "{name} {mode:?} {format:?}: off by {worst}");
            }
        }
    }
}

#[test]
fn fill_crops_the_centre_of_a_wider_frame() {
    // Twice the input's width: the centre input-width columns hold the
    // gradient, the sides junk.
    let mut engine = engine("closed_form.onnx", ResizeMode::Fill);
    let ((iw, ih), (ow, oh)) = sizes(&engine);
    let side = iw as usize / 2;
    let rgb = |y: usize, x: usize| {
        if (side..side + iw as usize).contains(&x) {
            gradient(y, x - side)
        } else {
            [255, 0, 255]
        }
    };
    for (format, padding) in FORMATS {
        let (depth, _) = engine
            .estimate(&make_frame(format, 2 * iw, ih, padding, rgb))
            .unwrap();
        assert_eq!(
            depth.mapping(),
            ImageMapping {
                scale: [0.5, 1.0],
                offset: [0.25, 0.0]
            }
        );
        let worst = worst_error(&depth, 0..oh, 0..ow, |i, j| analytic(gradient, i, j));
        assert!(worst < 1e-4, "{format:?}: off by {worst}");
    }
}

#[test]
fn fit_letterboxes_a_wider_frame_and_its_bars_are_not_depth() {
    // The input's width and half its height fits as a band over the input's
    // middle half: input rows h/4..3h/4, depth rows the same quarters.
    let mut engine = engine("closed_form.onnx", ResizeMode::Fit);
    let ((iw, ih), (ow, oh)) = sizes(&engine);
    let top = ih as usize / 4;
    let inside_rows = oh / 4..3 * oh / 4;
    for (format, padding) in FORMATS {
        let (depth, _) = engine
            .estimate(&make_frame(format, iw, ih / 2, padding, gradient))
            .unwrap();
        let inside = worst_error(&depth, inside_rows.clone(), 0..ow, |i, j| {
            analytic(|y, x| gradient(y - top, x), i, j)
        });
        assert!(inside < 1e-4, "{format:?}: inside off by {inside}");
        // The bars, where the model saw black, are no depth: not in the
        // map, not in its statistics.
        for i in (0..inside_rows.start).chain(inside_rows.end..oh) {
            for j in 0..ow {
                let texel = (j as u32, i as u32);
                assert_eq!(
                    depth.get(texel.0, texel.1),
                    None,
                    "{format:?}: bar texel {texel:?}"
                );
            }
        }
        let stats = depth.stats();
        assert_eq!(stats.valid, inside_rows.len() * ow);
        let analytic_inside: Vec<f32> = inside_rows
            .clone()
            .flat_map(|i| (0..ow).map(move |j| analytic(|y, x| gradient(y - top, x), i, j)))
            .collect();
        let nearest = analytic_inside
            .iter()
            .copied()
            .fold(f32::INFINITY, f32::min);
        assert!(
            (stats.min - nearest).abs() < 1e-4,
            "{format:?}: nearest {} where the image's is {nearest}",
            stats.min
        );
        assert_eq!(
            depth.mapping(),
            ImageMapping {
                scale: [1.0, 2.0],
                offset: [0.0, -0.5]
            }
        );
    }
}

#[test]
fn stretch_squeezes_a_wider_frame() {
    // 640×256, left half one colour, right half another: stretched, each
    // half covers half of the input; away from the seam the depth is exact.
    let (a, b) = ([200u8, 40, 10], [10u8, 90, 250]);
    let mut engine = engine("closed_form.onnx", ResizeMode::Stretch);
    let ((iw, ih), (ow, oh)) = sizes(&engine);
    let rgb = |_: usize, x: usize| if x < iw as usize { a } else { b };
    // The seam's resampling blurs two texels either side of the middle.
    let (left_half, right_half) = (0..ow / 2 - 2, ow / 2 + 2..ow);
    for (format, padding) in FORMATS {
        let (depth, _) = engine
            .estimate(&make_frame(format, 2 * iw, ih, padding, rgb))
            .unwrap();
        let left = worst_error(&depth, 0..oh, left_half.clone(), |_, _| {
            common::closed_form_depth(a)
        });
        let right = worst_error(&depth, 0..oh, right_half.clone(), |_, _| {
            common::closed_form_depth(b)
        });
        assert!(left < 1e-4 && right < 1e-4, "{format:?}: {left} {right}");
    }
}

#[test]
fn inverse_relative_models_are_converted_with_scale_and_shift() {
    let mut config = common::engine_config(model("inverse_relative.onnx"));
    config.overrides = ModelOverrides {
        units: Some(DepthUnits::InverseRelative {
            scale: 2.0,
            shift: 0.05,
        }),
        depth_range: Some((0.01, 100.0)),
        ..Default::default()
    };
    let mut engine = DepthEngine::load(&config).unwrap_or_else(|e| panic!("{e}"));
    let grey = [51u8, 102, 153];
    let (depth, _) = engine
        .estimate(&make_frame(PixelFormat::Rgb8, 320, 256, 0, |_, _| grey))
        .unwrap();
    // The model outputs 0.1 + (R+G+B)/765.
    let raw = 0.1 + (51.0 + 102.0 + 153.0) / 765.0;
    let want = 1.0 / (2.0 * raw + 0.05);
    let got = depth.get(10, 10).unwrap();
    assert!((got - want).abs() < 1e-4, "{got} vs {want}");
}

#[test]
fn broken_models_are_refused_at_load_and_the_process_goes_on() {
    for name in [
        "broken_rank.onnx",
        "broken_int_input.onnx",
        "broken_dynamic.onnx",
        "broken_two_outputs.onnx",
        "broken_truncated.onnx",
        "broken_not_onnx.onnx",
    ] {
        let err = DepthEngine::load(&common::engine_config(model(name))).unwrap_err();
        assert!(
            matches!(
                err,
                EngineError::Model(
                    ModelError::UnexpectedSignature { .. } | ModelError::Invalid { .. }
                )
            ),
            "{name}: {err}"
        );
        assert!(err.to_string().contains(name), "{err}");
    }
    // A good model still loads afterwards.
    engine("closed_form.onnx", ResizeMode::Fill);
}

fn full_fcrn() -> &'static std::sync::Mutex<DepthEngine> {
    static ENGINE: OnceLock<std::sync::Mutex<DepthEngine>> = OnceLock::new();
    ENGINE.get_or_init(|| std::sync::Mutex::new(engine("fcrn_random_full.onnx", ResizeMode::Fill)))
}

#[test]
fn full_size_random_fcrn_runs_end_to_end() {
    let mut engine = full_fcrn().lock().unwrap();
    let spec = engine.spec().clone();
    assert_eq!(
        (
            spec.input_width,
            spec.input_height,
            spec.output_width,
            spec.output_height
        ),
        (304, 228, 160, 128)
    );
    // Random weights: the output has the right shape, and its values are
    // not depth; the engine says so.
    assert!(!spec.trained);
    assert!(
        engine.describe().contains("untrained: output is not depth"),
        "{}",
        engine.describe()
    );
    let frame = make_frame(PixelFormat::Bgra8, 640, 480, 0, gradient).with_sequence(9);
    let (depth, timings) = engine.estimate(&frame).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (depth.width(), depth.height(), depth.sequence),
        (160, 128, 9)
    );
    assert_eq!(depth.metres().len(), 160 * 128);
    assert!(timings.inference > timings.postprocess);

    // The same frame straight through ONNX Runtime: every raw value inside
    // the model's range comes out as it is, every other one as invalid 0.
    let mut pre = Preprocessor::new(&spec, ResizeMode::Fill);
    pre.process(&frame).unwrap();
    let mut session = DepthSession::load(
        engine.runtime(),
        model("fcrn_random_full.onnx"),
        &common::cpu(),
    )
    .unwrap();
    let mut raw = Vec::new();
    session.run(pre.tensor(), &mut raw).unwrap();
    let (lo, hi) = spec.depth_range;
    let mut valid = 0;
    for (i, (&r, &d)) in raw.iter().zip(depth.metres()).enumerate() {
        let inside = r.is_finite() && r > 0.0 && (lo..=hi).contains(&r);
        assert_eq!(depth.valid()[i], inside, "pixel {i}: raw {r}");
        if inside {
            valid += 1;
            assert!((d - r).abs() <= 1e-5 * r.max(1.0), "pixel {i}: {d} vs {r}");
        } else {
            assert_eq!(d, 0.0, "pixel {i}");
        }
    }
    assert_eq!(depth.stats().valid, valid);
    assert!(valid > 0, "some raw values fall inside the range");
}

/// The closed-form model told that it was trained at `focal` px.
fn engine_with_focal(focal: Option<f32>) -> DepthEngine {
    let mut config = common::engine_config(model("closed_form.onnx"));
    config.overrides = ModelOverrides {
        focal_px: focal,
        ..ModelOverrides::default()
    };
    DepthEngine::load(&config).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn metres_scale_with_the_camera_focal_length_over_the_training_one() {
    use bevy_mono_depth::camera::{FocalCorrection, Intrinsics};
    let train = 250.0f32;
    let mut engine = engine_with_focal(Some(train));
    let frame = make_frame(PixelFormat::Rgb8, 320, 256, 0, gradient);
    let at = |f: f32| Some(Intrinsics::new(f, f, 160.0, 128.0));
    let (plain, _) = engine.estimate(&frame).unwrap();
    assert_eq!(plain.focal, FocalCorrection::NoIntrinsics);
    let (same, _) = engine
        .estimate(&frame.clone().with_intrinsics(at(train)))
        .unwrap();
    let (longer, _) = engine
        .estimate(&frame.clone().with_intrinsics(at(375.0)))
        .unwrap();
    let factor = 375.0 / train;
    assert_eq!(
        longer.focal,
        FocalCorrection::Applied {
            factor,
            assumed: false
        }
    );
    assert_eq!(
        same.metres(),
        plain.metres(),
        "the training focal: factor 1"
    );
    for (l, p) in longer.metres().iter().zip(plain.metres()) {
        assert!((l / p - factor).abs() < 1e-6, "{l} / {p}");
    }
    assert!((longer.stats().mean / plain.stats().mean - factor).abs() < 1e-6);

    // A frame twice as wide is cropped to its middle half (fill) of the
    // model input's 320×256: one frame pixel is one input pixel, so its
    // focal length reaches the input unchanged.
    let f_wide = 500.0;
    let wide = make_frame(PixelFormat::Rgb8, 640, 256, 0, gradient).with_intrinsics(Some(
        Intrinsics::new(f_wide, f_wide, 320.0, 128.0).assumed(),
    ));
    let (cropped, _) = engine.estimate(&wide).unwrap();
    assert_eq!(
        cropped.focal,
        FocalCorrection::Applied {
            factor: f_wide / train,
            assumed: true
        }
    );

    // Without the model's training focal length nothing is scaled.
    let mut unknown = engine_with_focal(None);
    let (raw, _) = unknown
        .estimate(&frame.clone().with_intrinsics(at(375.0)))
        .unwrap();
    assert_eq!(raw.focal, FocalCorrection::NoModelFocal);
    assert_eq!(raw.metres(), plain.metres());
    // Nonsense intrinsics are dropped with the frame.
    let bad = frame.with_intrinsics(Some(Intrinsics::new(f32::NAN, 1.0, 0.0, 0.0)));
    assert_eq!(bad.intrinsics(), None);
}

/// A phone's buffer turned by 90° (intrinsics in its own pixels, fx ≠ fy,
/// principal point off centre) gives the depth, mapping and focal factor of
/// the same image delivered upright with its upright intrinsics.
#[test]
fn a_turned_buffer_gives_the_upright_frames_depth_and_focal_factor() {
    use bevy_mono_depth::camera::{FocalCorrection, Intrinsics};
    use bevy_mono_depth::frame::FrameRotation;
    let mut engine = engine_with_focal(Some(250.0));
    // Upright 400×256, wider than the 320×256 input: fill crops its sides.
    let upright = make_frame(PixelFormat::Rgb8, 400, 256, 0, gradient);
    // The buffer a sensor delivers: 256×400, its pixel (u, v) shown at
    // (399 − v, u) on screen.
    let (bw, bh) = (256u32, 400u32);
    let turned_pixels: Vec<u8> = (0..bh)
        .flat_map(|v| (0..bw).map(move |u| (u, v)))
        .flat_map(|(u, v)| upright.pixel(bh - 1 - v, u).unwrap())
        .collect();
    let buffer_k = Intrinsics::new(300.0, 320.0, 120.0, 210.0);
    let turned = CameraFrame::packed(PixelFormat::Rgb8, bw, bh, turned_pixels)
        .unwrap()
        .with_rotation(FrameRotation::Clockwise90)
        .with_intrinsics(Some(buffer_k));
    // The same camera upright: axes swap, the principal point moves with
    // its pixel (h − cy, cx).
    let upright_k = Intrinsics::new(320.0, 300.0, bh as f32 - 210.0, 120.0);
    let upright = upright.with_intrinsics(Some(upright_k));
    let (want, _) = engine.estimate(&upright).unwrap();
    let (got, _) = engine.estimate(&turned).unwrap();
    assert_eq!(got.mapping(), want.mapping());
    let FocalCorrection::Applied { factor, .. } = want.focal else {
        panic!("{:?}", want.focal);
    };
    // Fill keeps the full height: 256 input pixels for 256 frame pixels.
    assert!(
        (factor - (320.0f32 * 300.0).sqrt() / 250.0).abs() < 1e-5,
        "{factor}"
    );
    assert_eq!(got.focal, want.focal);
    assert_eq!(got.metres(), want.metres());
}
