//! The crate's own loader runs models the repo generates through ONNX Runtime.

mod common;

use std::time::Duration;

use bevy_mono_depth::prelude::*;
use bevy_mono_depth::runtime::{Runtime, RuntimeSearch};
use bevy_mono_depth::session::{DepthSession, ExecutionProvider, ModelError};
use common::{headless_app, model, wait_for_engine};

fn runtime() -> Runtime {
    Runtime::load(&RuntimeSearch::from_env(None)).unwrap_or_else(|e| panic!("{e}"))
}

/// The closed-form model's depth at output texel (`i`, `j`) of input planes
/// holding whole values 0–255.
fn closed_form(r: &[f32], g: &[f32], b: &[f32], width: usize, i: usize, j: usize) -> f32 {
    common::closed_form_block(|dy, dx| {
        let at = (2 * i + dy) * width + 2 * j + dx;
        [r[at], g[at], b[at]].map(|v| v as u8)
    })
}

#[test]
fn closed_form_model_gives_its_formula() {
    let runtime = runtime();
    let mut session = DepthSession::load(&runtime, model("closed_form.onnx"), &common::cpu())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(session.input.shape, [1, 3, 256, 320]);
    assert_eq!(session.output.shape, [1, 1, 128, 160]);
    assert_eq!(
        session.metadata("mono_depth.trained").as_deref(),
        Some("false")
    );

    let (h, w) = (256usize, 320usize);
    let plane = |f: &dyn Fn(usize, usize) -> usize| -> Vec<f32> {
        (0..h * w).map(|k| (f(k / w, k % w) % 256) as f32).collect()
    };
    let r = plane(&|y, x| x * 7 + y * 3);
    let g = plane(&|y, x| x * 2 + y * 5 + 11);
    let b = plane(&|y, x| x + y * 13);
    let input: Vec<f32> = [r.as_slice(), g.as_slice(), b.as_slice()].concat();

    let mut depth = Vec::new();
    session
        .run(&input, &mut depth)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(depth.len(), 128 * 160);
    let mut worst = 0.0f32;
    for i in 0..128 {
        for j in 0..160 {
            let want = closed_form(&r, &g, &b, w, i, j);
            worst = worst.max((depth[i * 160 + j] - want).abs());
        }
    }
    let deepest = depth.iter().copied().fold(0.0f32, f32::max);
    assert!(
        worst <= 1e-5 * deepest,
        "largest difference {worst} (deepest {deepest})"
    );

    let err = session.run(&input[1..], &mut depth).unwrap_err();
    assert!(
        matches!(
            err,
            ModelError::InputSize {
                expected: 245760,
                got: 245759
            }
        ),
        "{err}"
    );
}

/// Runs `name` on one fixed image and returns its depth.
fn depth_of(runtime: &Runtime, name: &str) -> (DepthSession, Vec<f32>) {
    let mut session = DepthSession::load(runtime, model(name), &common::cpu())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let input: Vec<f32> = (0..session.input.len()).map(|i| (i % 251) as f32).collect();
    let mut depth = Vec::new();
    session
        .run(&input, &mut depth)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    (session, depth)
}

#[test]
fn weights_in_an_external_data_file_beside_the_model_load() {
    let runtime = runtime();
    // The data file sits beside the model, not beside the test process.
    let external = model("external/closed_form.onnx");
    assert!(external.with_file_name("closed_form.data").is_file());
    assert_ne!(std::env::current_dir().unwrap(), external.parent().unwrap());
    let (_, inline) = depth_of(&runtime, "closed_form.onnx");
    let (session, from_external) = depth_of(&runtime, "external/closed_form.onnx");
    assert_eq!(session.input.shape, [1, 3, 256, 320]);
    assert_eq!(from_external, inline);
}

#[test]
fn a_symbolic_batch_dimension_is_taken_as_one() {
    let runtime = runtime();
    let (session, dynamic) = depth_of(&runtime, "closed_form_dynamic_batch.onnx");
    assert_eq!(session.input.shape, [1, 3, 256, 320]);
    assert_eq!(session.output.shape, [1, 1, 128, 160]);
    let (_, fixed) = depth_of(&runtime, "closed_form.onnx");
    assert_eq!(dynamic, fixed);
}

#[test]
fn models_the_crate_cannot_drive_are_rejected_with_reasons() {
    let runtime = runtime();
    let load = |name: &str| DepthSession::load(&runtime, model(name), &common::cpu()).unwrap_err();

    for name in ["broken_not_onnx.onnx", "broken_truncated.onnx"] {
        let err = load(name);
        assert!(matches!(err, ModelError::Invalid { .. }), "{name}: {err}");
        assert!(err.to_string().contains(name), "{err}");
    }
    // Which tensor the crate names as wrong (what it expects), and what it
    // saw there: checked on the error's fields, not on its message, which
    // holds the file name too.
    for (name, tensor, found) in [
        ("broken_rank.onnx", "input", "Tensor<f32>(3, 256, 320)"),
        (
            "broken_int_input.onnx",
            "input",
            "Tensor<u8>(1, 3, 256, 320)",
        ),
        (
            "broken_dynamic.onnx",
            "input",
            "Tensor<f32>(1, channels, height, width)",
        ),
        ("broken_two_outputs.onnx", "output", "2 outputs"),
        (
            "broken_huge_input.onnx",
            "input",
            "Tensor<f32>(1, 3, 100000, 100000)",
        ),
    ] {
        let err = load(name);
        let ModelError::UnexpectedSignature {
            expected,
            found: what,
            ..
        } = &err
        else {
            panic!("{name}: expected UnexpectedSignature, got {err}");
        };
        assert!(
            expected.starts_with(&format!("one float32 {tensor}")),
            "{name}: expected {expected:?}"
        );
        assert!(what.contains(found), "{name}: found {what:?}");
    }

    let missing = common::models_dir().join("does_not_exist.onnx");
    let err = DepthSession::load(&runtime, &missing, &common::cpu()).unwrap_err();
    assert!(matches!(err, ModelError::NotFound(_)), "{err}");
    assert!(err.to_string().contains("cargo xtask fetch-model"), "{err}");
}

#[test]
fn plugin_reports_the_loaded_model() {
    let mut app = headless_app(MonoDepthPlugin {
        session: common::cpu(),
        model: Some(model("closed_form.onnx")),
        ..Default::default()
    });
    let EngineStatus::Running(summary) = wait_for_engine(&mut app, Duration::from_secs(60)) else {
        panic!(
            "engine not ready: {}",
            app.world().resource::<MonoDepthStatus>().engine
        );
    };
    assert_eq!(summary.name.as_deref(), Some("closed_form_luma"));
    assert_eq!(summary.input_shape, [1, 3, 256, 320]);
    assert!(!summary.trained);
    assert!(summary.to_string().contains("not depth"));
    assert!(summary.runtime_library.is_some());
}

#[test]
fn plugin_keeps_running_without_a_model() {
    let missing = common::models_dir().join("no_such_model.onnx");
    let mut app = headless_app(MonoDepthPlugin {
        session: common::cpu(),
        model: Some(missing.clone()),
        ..Default::default()
    });
    let status = wait_for_engine(&mut app, Duration::from_secs(60));
    let EngineStatus::ModelFailed(reason) = &status else {
        panic!("expected ModelFailed, got {status}");
    };
    assert!(reason.contains(&missing.display().to_string()), "{reason}");
    assert!(reason.contains("cargo xtask fetch-model"), "{reason}");
    // The app goes on updating.
    for _ in 0..3 {
        app.update();
    }

    let mut app = headless_app(MonoDepthPlugin {
        model: None,
        ..Default::default()
    });
    assert_eq!(
        wait_for_engine(&mut app, Duration::from_secs(5)),
        EngineStatus::NoModel
    );
}

#[test]
fn an_unavailable_execution_provider_falls_back_to_the_cpu_and_says_why() {
    let runtime = runtime();
    let cpu_only = SessionOptions {
        provider: ExecutionProvider::Cpu,
        ..common::cpu()
    };
    let cpu = DepthSession::load(&runtime, model("closed_form.onnx"), &cpu_only).unwrap();
    assert_eq!(cpu.provider(), "CPU");
    // The ONNX Runtime that `cargo xtask setup` provides is the CPU-only build.
    for provider in [ExecutionProvider::Cuda, ExecutionProvider::DirectMl] {
        let options = SessionOptions {
            provider,
            ..common::cpu()
        };
        let mut session = DepthSession::load(&runtime, model("closed_form.onnx"), &options)
            .unwrap_or_else(|e| panic!("{e}"));
        let said = session.provider().to_owned();
        assert!(
            said.starts_with("CPU (")
                && said
                    .to_lowercase()
                    .contains(&format!("{provider:?}").to_lowercase()),
            "{said}"
        );
        // And it still runs.
        let mut out = Vec::new();
        session
            .run(&vec![0.0; session.input.len()], &mut out)
            .unwrap();
        assert_eq!(out.len(), 128 * 160);
    }
}

/// With ONNX Runtime's CPU build (what the tests load), `Auto` does not
/// try CUDA and says why, and CUDA asked for by name falls back to the CPU
/// with the same reason; with the GPU build (its CUDA provider library
/// beside it), CUDA is among Auto's candidates.
#[cfg(feature = "cuda")]
#[test]
fn auto_passes_over_cuda_where_the_library_has_none_and_says_why() {
    use bevy_mono_depth::session::{AutoTrial, TrialCache};
    let runtime = runtime();
    let gpu_build = runtime
        .library
        .as_deref()
        .and_then(std::path::Path::parent)
        .is_some_and(|dir| dir.join("libonnxruntime_providers_cuda.so").is_file());
    let auto = SessionOptions {
        provider: ExecutionProvider::Auto,
        auto: AutoTrial {
            cache: TrialCache::Off,
            ..AutoTrial::default()
        },
        ..common::cpu()
    };
    let session = DepthSession::load(&runtime, model("closed_form.onnx"), &auto).unwrap();
    let report = session.trial().unwrap();
    let cuda = report
        .candidates
        .iter()
        .find(|c| c.name.starts_with("CUDA"));
    assert_eq!(cuda.is_some(), gpu_build, "{report:?}");
    // Tried and not available (no GPU, no driver): the status says why.
    if cuda.is_some_and(|c| c.excluded.is_some()) {
        assert!(
            session.provider().contains("CUDA: unavailable: "),
            "{}",
            session.provider()
        );
    }
    let why = "this ONNX Runtime has no CUDA provider";
    if !gpu_build {
        let skipped = format!("CUDA: {why}");
        assert!(
            session.provider().contains(&skipped),
            "{}",
            session.provider()
        );
        let pinned = SessionOptions {
            provider: ExecutionProvider::Cuda,
            ..common::cpu()
        };
        let session = DepthSession::load(&runtime, model("closed_form.onnx"), &pinned).unwrap();
        assert!(
            session.provider().starts_with("CPU (CUDA: ") && session.provider().contains(why),
            "{}",
            session.provider()
        );
    }
}
