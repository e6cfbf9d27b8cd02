//! Models with dynamic input height and width, and Depth Anything V2's
//! published layouts: the input follows each frame's aspect in multiples
//! of 14, files without the crate's metadata are recognised by their
//! tensors, and the engine's depth equals a direct run of the model on
//! independently preprocessed input.

mod common;

use bevy_mono_depth::align::{Alignment, MetricAnchor};
use bevy_mono_depth::camera::FrameRotation;
use bevy_mono_depth::engine::{DepthEngine, DepthEstimator, EngineConfig};
use bevy_mono_depth::frame::{CameraFrame, PixelFormat};
use bevy_mono_depth::model::{DepthUnits, DynamicInput, ModelOverrides};
use bevy_mono_depth::session::DepthSession;
use common::model;

const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

fn gradient(y: usize, x: usize) -> [u8; 3] {
    [
        ((x * 7 + y * 3) % 256) as u8,
        ((x * 2 + y * 5 + 11) % 256) as u8,
        ((x + y * 13) % 256) as u8,
    ]
}

fn frame(width: u32, height: u32, rgb: impl Fn(usize, usize) -> [u8; 3]) -> CameraFrame {
    let data = common::frame_bytes(PixelFormat::Rgb8, width, height, width as usize * 3, rgb);
    CameraFrame::packed(PixelFormat::Rgb8, width, height, data).expect("valid frame")
}

fn engine(name: &str, overrides: ModelOverrides) -> DepthEngine {
    let config = EngineConfig {
        overrides,
        ..common::engine_config(model(name))
    };
    DepthEngine::load(&config).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// (input width, input height, output width, output height) of the spec.
fn sizes(engine: &DepthEngine) -> (u32, u32, u32, u32) {
    let s = engine.spec();
    (
        s.input_width,
        s.input_height,
        s.output_width,
        s.output_height,
    )
}

#[test]
fn the_size_rule_keeps_the_long_side_and_the_aspect_in_multiples() {
    let rule = DynamicInput {
        multiple: 14,
        long_side: 518,
        reference_long_side: 518,
    };
    assert_eq!(rule.size_for(640, 480), (518, 392)); // 388.5 → 27.75 patches → 28
    assert_eq!(rule.size_for(480, 640), (392, 518));
    assert_eq!(rule.size_for(1920, 1080), (518, 294)); // 291.4 → 20.8 → 21
    assert_eq!(rule.size_for(500, 500), (518, 518));
    assert_eq!(rule.size_for(4000, 10), (518, 14)); // never below one multiple
    let fast = DynamicInput {
        long_side: 266,
        ..rule
    };
    assert_eq!(fast.size_for(640, 480), (266, 196)); // 199.5 → 14.25 → 14
    let odd = DynamicInput {
        long_side: 520,
        ..rule
    };
    assert_eq!(odd.size_for(640, 480), (518, 392)); // the long side rounded to 37 patches
}

#[test]
fn the_input_follows_the_frames_aspect_and_orientation() {
    let grey = |_: usize, _: usize| [120u8, 80, 40];
    let want = common::closed_form_depth([120, 80, 40]);
    let mut engine = engine("closed_form_dynamic.onnx", ModelOverrides::default());
    let dynamic = engine.spec().dynamic_input.expect("a dynamic input");
    assert_eq!((dynamic.multiple, dynamic.long_side), (14, 518));
    // The metadata's 320×256 is the reference size, not a check.
    assert_eq!(dynamic.reference_long_side, 320);
    let cases = [
        (frame(640, 480, grey), (518, 392, 259, 196)),
        (frame(480, 640, grey), (392, 518, 196, 259)),
        // A landscape buffer turned upright into a portrait frame.
        (
            frame(640, 480, grey).with_rotation(FrameRotation::Clockwise90),
            (392, 518, 196, 259),
        ),
        (frame(1280, 720, grey), (518, 294, 259, 147)),
        (frame(640, 480, grey), (518, 392, 259, 196)),
    ];
    for (k, (frame, want_sizes)) in cases.into_iter().enumerate() {
        let (map, _) = engine
            .estimate(&frame)
            .unwrap_or_else(|e| panic!("{k}: {e}"));
        assert_eq!(sizes(&engine), want_sizes, "frame {k}");
        assert_eq!(
            (map.width(), map.height()),
            (want_sizes.2, want_sizes.3),
            "frame {k}"
        );
        assert_eq!(
            engine.session().input.shape[2..],
            [want_sizes.1 as usize, want_sizes.0 as usize]
        );
        for (x, y) in [
            (0, 0),
            (want_sizes.2 / 2, want_sizes.3 / 3),
            (want_sizes.2 - 1, want_sizes.3 - 1),
        ] {
            let got = map.get(x, y).expect("valid depth");
            assert!(
                (got - want).abs() < 1e-5,
                "frame {k} ({x}, {y}): {got} vs {want}"
            );
        }
    }
}

#[test]
fn a_smaller_long_side_is_set_in_code() {
    let overrides = ModelOverrides {
        input_long_side: Some(266),
        ..Default::default()
    };
    let mut engine = engine("closed_form_dynamic.onnx", overrides);
    engine.estimate(&frame(640, 480, gradient)).unwrap();
    assert_eq!(sizes(&engine), (266, 196, 133, 98));
    let bad = ModelOverrides {
        input_long_side: Some(5),
        ..Default::default()
    };
    let config = EngineConfig {
        overrides: bad,
        ..common::engine_config(model("closed_form_dynamic.onnx"))
    };
    let err = DepthEngine::load(&config).unwrap_err().to_string();
    assert!(err.contains("input long side 5 px"), "{err}");
}

#[test]
fn published_depth_anything_files_are_recognised_by_their_tensors() {
    for name in [
        "depth_anything_v2_tiny.onnx",
        "depth_anything_v2_tiny_image.onnx",
    ] {
        let engine = engine(name, ModelOverrides::default());
        let spec = engine.spec();
        assert_eq!(spec.name.as_deref(), Some("depth_anything_v2"), "{name}");
        assert_eq!(spec.units, DepthUnits::AffineInverse, "{name}");
        assert_eq!(spec.pixel_scale, 1.0 / 255.0, "{name}");
        assert_eq!(
            (spec.mean, spec.std),
            (IMAGENET_MEAN, IMAGENET_STD),
            "{name}"
        );
        let dynamic = spec.dynamic_input.expect("dynamic");
        assert_eq!((dynamic.multiple, dynamic.long_side), (14, 518), "{name}");
        // Loaded at 4:3 landscape until a frame says otherwise; the output
        // (rank 3) is read from a run at that size.
        assert_eq!(sizes(&engine), (518, 392, 518, 392), "{name}");
        assert_eq!(engine.session().output.shape, [1, 392, 518], "{name}");
        // Nothing says the weights are trained, so nothing claims depth.
        assert!(!spec.trained, "{name}");
        let weights = spec.weights.as_deref().unwrap_or_default();
        assert!(weights.contains("no mono_depth metadata"), "{weights}");
        assert!(engine.summary().to_string().contains("untrained"));
    }
}

/// The frame as Depth Anything's reference preprocessing makes its input
/// when the frame already has the input's size: 0–1 RGB, ImageNet mean and
/// std, NCHW.
fn imagenet_tensor(width: usize, height: usize, rgb: impl Fn(usize, usize) -> [u8; 3]) -> Vec<f32> {
    let mut t = vec![0.0f32; 3 * width * height];
    for y in 0..height {
        for x in 0..width {
            let px = rgb(y, x);
            for c in 0..3 {
                t[c * width * height + y * width + x] =
                    (f32::from(px[c]) / 255.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
            }
        }
    }
    t
}

/// The model run directly (CPU, FP32) at `width`×`height` on `input`.
fn direct_run(name: &str, width: usize, height: usize, input: &[f32]) -> Vec<f32> {
    let runtime = bevy_mono_depth::runtime::Runtime::load(
        &bevy_mono_depth::runtime::RuntimeSearch::from_env(None),
    )
    .expect("ONNX Runtime");
    let mut session = DepthSession::load(&runtime, model(name), &common::cpu()).expect("model");
    assert!(session.is_dynamic());
    session.set_input_size(height, width).expect("size");
    let mut out = Vec::new();
    session.run(input, &mut out).expect("run");
    out
}

#[test]
fn the_metric_engine_equals_a_direct_run_on_independently_preprocessed_input() {
    let name = "depth_anything_v2_tiny_metric.onnx";
    let mut engine = engine(name, ModelOverrides::default());
    assert_eq!(engine.spec().units, DepthUnits::Metres);
    assert_eq!(engine.spec().depth_range, (0.1, 20.0));
    // Frames whose size is the input's (so no resampling), both orientations.
    for (w, h) in [(518usize, 392usize), (392, 518)] {
        let (map, _) = engine
            .estimate(&frame(w as u32, h as u32, gradient))
            .unwrap();
        assert_eq!(sizes(&engine), (w as u32, h as u32, w as u32, h as u32));
        let want = direct_run(name, w, h, &imagenet_tensor(w, h, gradient));
        assert_eq!(want.len(), w * h);
        // Relative to each value: the two inputs differ in the last bit
        // (x / 255 here, x · (1/255) in the crate), the outputs are metres
        // of up to 20.
        let mut worst = 0.0f32;
        for y in 0..h {
            for x in 0..w {
                let got = map.get(x as u32, y as u32).expect("metres within 0.1–20 m");
                let want = want[y * w + x];
                worst = worst.max((got - want).abs() / want);
            }
        }
        assert!(worst <= 1e-5, "{w}×{h}: worst relative difference {worst}");
        assert!(map.alignment.is_none(), "a metric model needs no alignment");
    }
}

/// A scene whose inverse depth is `scale · output + shift` of a relative
/// model's `output`, spanning 0.5–5 m over the output's range.
struct Scene {
    scale: f64,
    shift: f64,
}

impl Scene {
    fn for_output(raw: &[f32]) -> Self {
        let (lo, hi) = raw
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        assert!(lo >= 0.0 && hi > lo, "relative output {lo}..{hi}");
        let scale = (2.0 - 0.2) / f64::from(hi - lo);
        Self {
            scale,
            shift: 0.2 - scale * f64::from(lo),
        }
    }

    /// The scene's depth (m) where the model outputs `value`.
    fn depth(&self, value: f32) -> f64 {
        1.0 / (self.scale * f64::from(value) + self.shift)
    }

    /// `n` exact anchors at texel centres of a `width`-wide output, the
    /// k-th at ((k·a + b) mod width, (k·c + d) mod height).
    fn anchors(
        &self,
        raw: &[f32],
        width: usize,
        (a, b, c, d): Steps,
        n: usize,
    ) -> Vec<MetricAnchor> {
        let height = raw.len() / width;
        (0..n)
            .map(|k| {
                let (x, y) = ((k * a + b) % width, (k * c + d) % height);
                MetricAnchor {
                    x: x as f32 + 0.5,
                    y: y as f32 + 0.5,
                    depth: self.depth(raw[y * width + x]) as f32,
                }
            })
            .collect()
    }
}

type Steps = (usize, usize, usize, usize);

#[test]
fn relative_depth_anything_is_made_metric_from_anchors_and_is_not_metric_without() {
    let name = "depth_anything_v2_tiny.onnx";
    let (w, h) = (518usize, 392usize);
    let raw = direct_run(name, w, h, &imagenet_tensor(w, h, gradient));
    let scene = Scene::for_output(&raw);
    let truth = |v: f32| scene.depth(v);
    let anchors = scene.anchors(&raw, w, (53, 7, 37, 3), 80);
    let mut aligned = engine(name, ModelOverrides::default());
    let (map, _) = aligned
        .estimate(&frame(w as u32, h as u32, gradient).with_anchors(anchors))
        .unwrap();
    let report = map
        .alignment
        .as_ref()
        .expect("a relative model reports its fit");
    assert!(matches!(report.alignment, Alignment::Fitted(_)), "{report}");
    let mut worst = 0.0f64;
    for y in 0..h {
        for x in 0..w {
            let want = truth(raw[y * w + x]);
            let got = map
                .get(x as u32, y as u32)
                .expect("every texel within 0.1–80 m");
            worst = worst.max((f64::from(got) - want).abs() / want);
        }
    }
    assert!(worst < 1e-3, "worst relative error {worst}");

    // A fresh engine without anchors: nothing pretends to be metres.
    let mut fresh = engine(name, ModelOverrides::default());
    let (map, _) = fresh
        .estimate(&frame(w as u32, h as u32, gradient))
        .unwrap();
    let report = map.alignment.as_ref().expect("reported");
    assert!(
        !matches!(report.alignment, Alignment::Fitted(_)),
        "{report}"
    );
    assert_eq!(map.stats().valid, 0, "no texel may be valid without a fit");
}

/// The next depth result from `worker` (panics on a failure or after 60 s).
fn next_depth(
    worker: &bevy_mono_depth::worker::DepthWorker,
) -> bevy_mono_depth::worker::DepthResult {
    use bevy_mono_depth::worker::WorkerReport;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match worker
            .events()
            .recv_timeout(left)
            .expect("worker went quiet")
        {
            WorkerReport::Depth(result) => return *result,
            WorkerReport::FrameFailed { error, .. } => panic!("{error}"),
            WorkerReport::LoadFailed(error) => panic!("{error}"),
            _ => {}
        }
    }
}

#[test]
fn a_metric_depth_anything_model_on_the_worker_thread_follows_the_frames() {
    use bevy_mono_depth::worker::DepthWorker;
    let config = common::engine_config(model("depth_anything_v2_tiny_metric.onnx"));
    let worker = DepthWorker::with_engine(config).unwrap();
    for (k, (w, h)) in [(640u32, 480u32), (480, 640), (640, 480)]
        .into_iter()
        .enumerate()
    {
        worker.submit(frame(w, h, gradient).with_sequence(k as u64 + 1));
        let result = next_depth(&worker);
        assert_eq!(result.depth.sequence, k as u64 + 1);
        let want = if w > h { (518, 392) } else { (392, 518) };
        assert_eq!(
            (result.depth.width(), result.depth.height()),
            want,
            "frame {k}"
        );
        // Metres within the model's 0.1–20 m everywhere.
        assert_eq!(
            result.depth.stats().valid,
            (want.0 * want.1) as usize,
            "frame {k}"
        );
    }
}

#[test]
fn a_published_depth_anything_file_through_the_plugin_gives_aligned_metres() {
    use bevy::prelude::*;
    use bevy_mono_depth::prelude::*;
    let name = "depth_anything_v2_tiny_image.onnx";
    let (w, h) = (518usize, 392usize);
    let raw = direct_run(name, w, h, &imagenet_tensor(w, h, gradient));
    let scene = Scene::for_output(&raw);
    let truth = |v: f32| scene.depth(v);
    let anchors = scene.anchors(&raw, w, (71, 5, 29, 11), 60);
    let mut app = common::headless_app(MonoDepthPlugin {
        session: common::cpu(),
        model: Some(model(name)),
        source: FrameSource::Pushed,
        ..Default::default()
    });
    common::wait_for_engine(&mut app, std::time::Duration::from_secs(60));
    let pusher = app.world().resource::<FramePusher>().clone();
    let sequence = pusher.push(frame(w as u32, h as u32, gradient).with_anchors(anchors));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while app
        .world()
        .resource::<CurrentDepth>()
        .map
        .as_ref()
        .map(|m| m.sequence)
        != Some(sequence)
    {
        assert!(std::time::Instant::now() < deadline, "no depth");
        app.update();
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    app.update();
    let map = app.world().resource::<CurrentDepth>().map.clone().unwrap();
    assert_eq!((map.width(), map.height()), (w as u32, h as u32));
    for (x, y) in [(0usize, 0usize), (200, 150), (517, 391)] {
        let want = truth(raw[y * w + x]);
        let got = f64::from(map.get(x as u32, y as u32).expect("valid"));
        assert!(
            (got - want).abs() / want < 1e-3,
            "({x}, {y}): {got} vs {want}"
        );
    }
    let status = app.world().resource::<MonoDepthStatus>();
    assert!(
        matches!(
            status.alignment,
            AlignmentStatus::Metric {
                anchors: 60,
                age: 0,
                ..
            }
        ),
        "{}",
        status.alignment
    );
    let textures = app.world().resource::<DepthTextures>();
    assert_eq!(textures.depth_size, Some(UVec2::new(w as u32, h as u32)));
}

#[test]
fn a_dynamic_session_is_loaded_at_the_provisional_size_and_resized_on_request() {
    use bevy_mono_depth::session::{MAX_TENSOR_VALUES, ModelError, PROVISIONAL_SIZE};
    let runtime = bevy_mono_depth::runtime::Runtime::load(
        &bevy_mono_depth::runtime::RuntimeSearch::from_env(None),
    )
    .expect("ONNX Runtime");
    let mut session =
        DepthSession::load(&runtime, model("closed_form_dynamic.onnx"), &common::cpu()).unwrap();
    assert!(session.is_dynamic());
    let (h, w) = PROVISIONAL_SIZE;
    assert_eq!(session.input.shape, [1, 3, h, w]);
    assert_eq!(session.output.shape, [1, 1, h / 2, w / 2]);
    session.set_input_size(100, 60).unwrap();
    assert_eq!(
        (session.input.shape.clone(), session.output.shape.clone()),
        (vec![1, 3, 100, 60], vec![1, 1, 50, 30])
    );
    let mut out = Vec::new();
    session.run(&vec![10.0; 3 * 100 * 60], &mut out).unwrap();
    assert_eq!(out.len(), 50 * 30);
    // Refused sizes keep the one in use.
    for (h, w) in [(0, 10), (10, 0), (MAX_TENSOR_VALUES, 2)] {
        let err = session.set_input_size(h, w).unwrap_err();
        assert!(
            matches!(err, ModelError::UnexpectedSignature { .. }),
            "{err}"
        );
        assert_eq!(session.input.shape, [1, 3, 100, 60]);
    }
    // A fixed-size model has no size to set.
    let mut fixed =
        DepthSession::load(&runtime, model("closed_form.onnx"), &common::cpu()).unwrap();
    assert!(!fixed.is_dynamic());
    let err = fixed.set_input_size(100, 60).unwrap_err().to_string();
    assert!(err.contains("a fixed input [1, 3, 256, 320]"), "{err}");
}

#[test]
fn a_metric_dynamic_models_focal_correction_does_not_depend_on_the_input_size() {
    use bevy_mono_depth::camera::{FocalCorrection, Intrinsics};
    // A 640×480 camera with fx = fy = 500 px; the model's training focal
    // length, 400 px, is given at its reference long side (518).
    let camera = frame(640, 480, gradient)
        .with_intrinsics(Some(Intrinsics::new(500.0, 500.0, 320.0, 240.0)));
    let factor = |long_side: u32| {
        let mut engine = engine(
            "depth_anything_v2_tiny_metric.onnx",
            ModelOverrides {
                focal_px: Some(400.0),
                input_long_side: Some(long_side),
                ..Default::default()
            },
        );
        let (map, _) = engine.estimate(&camera).unwrap();
        match map.focal {
            FocalCorrection::Applied { factor, assumed } => {
                assert!(!assumed);
                factor
            }
            other => panic!("{other:?}"),
        }
    };
    // At 518×392 the frame is scaled by 518/640 (after a crop of 634×480
    // to the input's aspect, 392/480 vertically): the camera's focal length
    // at the input is √(500·518/634.3 · 500·392/480) ≈ 408 px against 400.
    let at_518 = factor(518);
    let fx: f32 = 500.0 * 518.0 / (480.0 * 518.0 / 392.0);
    let fy: f32 = 500.0 * 392.0 / 480.0;
    let want = (fx * fy).sqrt() / 400.0;
    assert!((at_518 - want).abs() < 1e-3, "{at_518} vs {want}");
    // A quarter of the pixels, the same scene: the same factor (within the
    // rounding of the sides to multiples of 14).
    let at_266 = factor(266);
    assert!(
        (at_266 - at_518).abs() / at_518 < 0.02,
        "{at_266} vs {at_518}"
    );
}
