//! Execution providers chosen at run time: `Auto`, the OpenVINO plugin, and
//! plugin libraries that are broken.
//!
//! Every test loads ONNX Runtime with the same search, whose extra provider
//! folder holds a file named like a plugin that is not a library: ONNX
//! Runtime is loaded once per process, so whichever test loads it first
//! registers the plugins for all.

mod common;

use std::path::PathBuf;

use bevy_mono_depth::runtime::{Runtime, RuntimeSearch};
use bevy_mono_depth::session::{
    AutoTrial, DepthSession, ExecutionProvider, InferencePrecision, SessionOptions, TrialCache,
    TrialReport,
};
use common::model;

/// A folder with a broken plugin library in it, made once per run inside
/// the build's folder for test files (`CARGO_TARGET_TMPDIR`), so nothing is
/// left in the system's temporary folder.
fn broken_plugin_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(make_broken_plugin_dir).clone()
}

fn make_broken_plugin_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("broken_provider_plugin");
    std::fs::create_dir_all(&dir).unwrap();
    let name = if cfg!(target_os = "windows") {
        "onnxruntime_providers_broken_plugin.dll"
    } else if cfg!(target_vendor = "apple") {
        "libonnxruntime_providers_broken_plugin.dylib"
    } else {
        "libonnxruntime_providers_broken_plugin.so"
    };
    std::fs::write(dir.join(name), b"not a shared library").unwrap();
    dir
}

fn runtime() -> Runtime {
    let search = RuntimeSearch {
        provider_dirs: vec![broken_plugin_dir()],
        ..RuntimeSearch::from_env(None)
    };
    Runtime::load(&search).unwrap_or_else(|e| panic!("{e}"))
}

/// What the OpenVINO plugin is on this machine.
#[derive(Debug, PartialEq)]
enum OpenVino {
    /// Not installed beside ONNX Runtime.
    Missing,
    /// Registered, but offers no device here (its plugin lists none on some
    /// CPUs, an AMD EPYC among them).
    NoDevice,
    /// Registered with at least one device.
    Usable,
}

fn openvino(runtime: &Runtime) -> OpenVino {
    if !runtime
        .plugins
        .iter()
        .any(|p| p.name == "openvino" && p.registered.is_ok())
    {
        return OpenVino::Missing;
    }
    let devices = runtime
        .environment
        .devices()
        .filter(|d| d.ep().ok() == Some("OpenVINOExecutionProvider"))
        .count();
    if devices == 0 {
        OpenVino::NoDevice
    } else {
        OpenVino::Usable
    }
}

fn run(session: &mut DepthSession) -> Vec<f32> {
    // A horizontal gradient, so the output has structure to compare.
    let (h, w) = (session.input.shape[2], session.input.shape[3]);
    let input: Vec<f32> = (0..session.input.len())
        .map(|i| ((i % w) as f32 / w as f32) * 255.0 * (1.0 + ((i / w) % h) as f32 / h as f32))
        .collect();
    let mut out = Vec::new();
    session.run(&input, &mut out).unwrap();
    out
}

#[test]
fn a_broken_plugin_library_is_reported_and_sessions_still_load() {
    let runtime = runtime();
    let broken = runtime
        .plugins
        .iter()
        .find(|p| p.name == "broken")
        .expect("the broken plugin was found");
    let reason = broken.registered.as_ref().unwrap_err();
    assert!(!reason.is_empty());
    let options = SessionOptions {
        provider: ExecutionProvider::Auto,
        ..SessionOptions::default()
    };
    let mut session = DepthSession::load(&runtime, model("closed_form.onnx"), &options)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        session.provider().contains("chosen by Auto"),
        "{}",
        session.provider()
    );
    assert_eq!(run(&mut session).len(), 128 * 160);
}

/// With the trial turned off, `Auto` takes the fixed order: with the
/// OpenVINO plugin installed (`cargo xtask setup` does on x86_64 Linux) it
/// runs FCRN on it, exact in FP32 and close in the provider's own
/// precision; without it, `Auto` runs on the CPU and names the missing
/// plugin.
#[test]
fn auto_without_its_trial_picks_openvino_when_installed_and_the_cpu_otherwise() {
    let runtime = runtime();
    let path = model("fcrn_random_small.onnx");
    let cpu = SessionOptions {
        provider: ExecutionProvider::Cpu,
        ..SessionOptions::default()
    };
    let reference = run(&mut DepthSession::load(&runtime, &path, &cpu).unwrap());
    let auto = |precision| SessionOptions {
        provider: ExecutionProvider::Auto,
        precision,
        auto: AutoTrial {
            enabled: false,
            ..AutoTrial::default()
        },
        ..SessionOptions::default()
    };
    let mut exact = DepthSession::load(&runtime, &path, &auto(InferencePrecision::Fp32)).unwrap();
    let said = exact.provider().to_owned();
    let why_not = match openvino(&runtime) {
        OpenVino::Missing => Some("OpenVINO: plugin not found"),
        OpenVino::NoDevice => Some("OpenVINO: plugin registered but offers no device"),
        OpenVino::Usable => None,
    };
    if let Some(why_not) = why_not {
        assert!(
            said.starts_with("CPU (") && said.contains(why_not),
            "{said}"
        );
        assert_eq!(run(&mut exact), reference);
        return;
    }
    assert!(said.starts_with("OpenVINO "), "{said}");
    assert!(said.contains("chosen by Auto"), "{said}");
    let mean = |v: &[f32]| v.iter().map(|x| x.abs()).sum::<f32>() / v.len() as f32;
    let deviation = |out: &[f32]| {
        let diff: Vec<f32> = out.iter().zip(&reference).map(|(a, b)| a - b).collect();
        mean(&diff) / mean(&reference)
    };
    let fp32 = deviation(&run(&mut exact));
    assert!(fp32 < 1e-4, "OpenVINO FP32 deviates by {fp32}");
    let mut fast =
        DepthSession::load(&runtime, &path, &auto(InferencePrecision::ProviderDefault)).unwrap();
    let own = deviation(&run(&mut fast));
    // BF16 keeps 8 bits of mantissa: a few per cent through 50 layers.
    assert!(own < 0.1, "OpenVINO in its own precision deviates by {own}");
    // Explicitly, too.
    let explicit = SessionOptions {
        provider: ExecutionProvider::OpenVino,
        ..SessionOptions::default()
    };
    let session = DepthSession::load(&runtime, &path, &explicit).unwrap();
    assert!(
        session.provider().starts_with("OpenVINO CPU"),
        "{}",
        session.provider()
    );
}

/// OpenVINO cannot compile a QDQ-quantised FCRN (its low-precision pass
/// fails on the up-projection): asked for OpenVINO, or left to `Auto`, the
/// session runs on the CPU and says why. Without the plugin the same model
/// runs on the CPU and the reason is the missing plugin.
#[test]
fn a_model_openvino_refuses_falls_back_to_the_cpu_with_the_reason() {
    let runtime = runtime();
    let path = model("fcrn_random_small_int8.onnx");
    for provider in [ExecutionProvider::OpenVino, ExecutionProvider::Auto] {
        let options = SessionOptions {
            provider,
            ..SessionOptions::default()
        };
        let mut session =
            DepthSession::load(&runtime, &path, &options).unwrap_or_else(|e| panic!("{e}"));
        let said = session.provider().to_owned();
        assert!(said.starts_with("CPU ("), "{provider:?}: {said}");
        let why = match openvino(&runtime) {
            OpenVino::Usable => "OpenVINO CPU refused this model",
            OpenVino::NoDevice => "OpenVINO: plugin registered but offers no device",
            OpenVino::Missing => "OpenVINO: plugin not found",
        };
        assert!(said.contains(why), "{said}");
        if provider == ExecutionProvider::Auto {
            assert!(said.contains("chosen by Auto's trial"), "{said}");
            assert!(said.contains("; skipped:"), "{said}");
        }
        assert_eq!(run(&mut session).len(), 128 * 160);
    }
}

/// WebGPU asked for by name on a machine where it cannot run (no plugin,
/// or a plugin without a GPU: this machine renders with a software Vulkan
/// driver at most) is a status, not a failure: the session runs on the CPU
/// and says why. Where a GPU adapter exists, it runs there and matches the
/// CPU's output.
#[test]
fn webgpu_without_a_gpu_falls_back_to_the_cpu_with_the_reason() {
    let runtime = runtime();
    let path = model("fcrn_random_small.onnx");
    let options = SessionOptions {
        provider: ExecutionProvider::WebGpu,
        ..SessionOptions::default()
    };
    let mut session =
        DepthSession::load(&runtime, &path, &options).unwrap_or_else(|e| panic!("{e}"));
    let said = session.provider().to_owned();
    let webgpu = runtime
        .plugins
        .iter()
        .find(|p| p.name == "webgpu" && p.registered.is_ok());
    if said.starts_with("WebGPU") {
        assert!(webgpu.is_some(), "{said}");
        let cpu = SessionOptions {
            provider: ExecutionProvider::Cpu,
            ..SessionOptions::default()
        };
        let want = run(&mut DepthSession::load(&runtime, &path, &cpu).unwrap());
        let got = run(&mut session);
        let scale: f32 = want.iter().map(|v| v.abs()).sum();
        let diff: f32 = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).sum();
        assert!(diff / scale < 1e-3, "WebGPU deviates by {}", diff / scale);
    } else {
        assert!(said.starts_with("CPU (WebGPU: "), "{said}");
        let why = if webgpu.is_some() {
            "offers no GPU device"
        } else {
            "plugin not found"
        };
        assert!(said.contains(why), "{said}");
        assert_eq!(run(&mut session).len(), 128 * 160);
    }
}

/// A cache file of its own for one test, in the build's folder for test
/// files; removed first, so the test starts without a decision.
fn cache_file(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("auto_trial");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.{}.json", std::process::id()));
    let _ = std::fs::remove_file(&file);
    file
}

fn auto_with(cache: TrialCache) -> SessionOptions {
    SessionOptions {
        provider: ExecutionProvider::Auto,
        auto: AutoTrial {
            cache,
            ..AutoTrial::default()
        },
        ..SessionOptions::default()
    }
}

/// What every trial must satisfy: the CPU's FP32 run first as the
/// reference, and a winner that is within the tolerance and no slower than
/// any other candidate that is.
fn check_trial(report: &TrialReport, tolerance: f64) {
    let reference = &report.candidates[0];
    assert_eq!(reference.name, "CPU", "{report:?}");
    assert_eq!(reference.deviation, Some(0.0));
    assert!(reference.ms.is_some_and(|ms| ms > 0.0), "{report:?}");
    let winner = &report.candidates[report.winner];
    assert!(winner.excluded.is_none(), "{report:?}");
    assert!(
        winner.deviation.is_some_and(|d| d <= tolerance),
        "{report:?}"
    );
    for other in &report.candidates {
        if other.excluded.is_none() && other.deviation.is_some_and(|d| d <= tolerance) {
            assert!(other.ms.unwrap() >= winner.ms.unwrap(), "{report:?}");
        }
    }
}

/// `Auto` times every candidate this machine has at the first load and
/// keeps the decision: the second load builds only the winner, reports the
/// same measurements as cached, and runs the same.
#[test]
fn auto_measures_once_and_later_loads_take_the_cached_decision() {
    let runtime = runtime();
    let path = model("fcrn_random_small.onnx");
    let file = cache_file("measures_once");
    let options = auto_with(TrialCache::At(file.clone()));
    let tolerance = f64::from(options.auto.tolerance);
    let mut first = DepthSession::load(&runtime, &path, &options).unwrap_or_else(|e| panic!("{e}"));
    let report = first.trial().expect("Auto ran its trial").clone();
    assert!(!report.cached, "{report:?}");
    check_trial(&report, tolerance);
    assert!(
        first
            .provider()
            .contains("chosen by Auto's trial, measured at load"),
        "{}",
        first.provider()
    );
    assert!(file.is_file(), "the decision was not written");
    // The winner's output is within the tolerance of the CPU's.
    let cpu = SessionOptions {
        provider: ExecutionProvider::Cpu,
        ..SessionOptions::default()
    };
    let reference = run(&mut DepthSession::load(&runtime, &path, &cpu).unwrap());
    let got = run(&mut first);
    let scale: f64 = reference.iter().map(|v| f64::from(v.abs())).sum();
    let diff: f64 = got
        .iter()
        .zip(&reference)
        .map(|(a, b)| f64::from((a - b).abs()))
        .sum();
    assert!(diff / scale <= tolerance, "{}", diff / scale);

    let mut second = DepthSession::load(&runtime, &path, &options).unwrap();
    let again = second
        .trial()
        .expect("the cached decision is reported")
        .clone();
    assert!(again.cached, "{again:?}");
    assert_eq!(again.candidates, report.candidates);
    assert_eq!(again.winner, report.winner);
    assert!(
        second
            .provider()
            .contains("decided by an earlier trial (cached)"),
        "{}",
        second.provider()
    );
    assert_eq!(run(&mut second), got);
    let _ = std::fs::remove_file(&file);
}

/// The decision is keyed on the model file's content: a replaced file at
/// the same path is measured again, and that decision is then kept.
#[test]
fn a_changed_model_file_is_measured_again() {
    let runtime = runtime();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("auto_trial");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("changing.{}.onnx", std::process::id()));
    std::fs::copy(model("fcrn_random_small.onnx"), &path).unwrap();
    let options = auto_with(TrialCache::At(cache_file("changed_model")));
    let cached = |path: &PathBuf| {
        let session =
            DepthSession::load(&runtime, path, &options).unwrap_or_else(|e| panic!("{e}"));
        session.trial().unwrap().cached
    };
    assert!(!cached(&path));
    assert!(cached(&path));
    std::fs::copy(model("fcrn_random_small_fp16.onnx"), &path).unwrap();
    assert!(!cached(&path), "a new model file must be measured again");
    assert!(cached(&path));
    let _ = std::fs::remove_file(&path);
}

/// A provider pinned by the app, or `Auto` with its trial off, measures
/// nothing and writes no decision.
#[test]
fn a_pinned_provider_or_a_trial_turned_off_skips_the_trial() {
    let runtime = runtime();
    let path = model("fcrn_random_small.onnx");
    let file = cache_file("pinned");
    for provider in [ExecutionProvider::Cpu, ExecutionProvider::OpenVino] {
        let options = SessionOptions {
            provider,
            ..auto_with(TrialCache::At(file.clone()))
        };
        let session = DepthSession::load(&runtime, &path, &options).unwrap();
        assert!(session.trial().is_none(), "{provider:?}");
        assert!(
            !session.provider().contains("trial"),
            "{}",
            session.provider()
        );
    }
    let mut off = auto_with(TrialCache::At(file.clone()));
    off.auto.enabled = false;
    let session = DepthSession::load(&runtime, &path, &off).unwrap();
    assert!(session.trial().is_none());
    assert!(
        session.provider().contains("chosen by Auto"),
        "{}",
        session.provider()
    );
    assert!(
        !session.provider().contains("trial"),
        "{}",
        session.provider()
    );
    assert!(!file.exists(), "nothing measured, nothing written");
}

/// A spent budget leaves the candidates after the reference untried, and
/// the reference wins; a cache that cannot be written only costs the next
/// start another trial.
#[test]
fn a_spent_budget_and_an_unwritable_cache_still_give_a_session() {
    let runtime = runtime();
    let path = model("fcrn_random_small.onnx");
    // The cache's folder would have to be inside a regular file.
    let blocker = cache_file("blocker");
    std::fs::write(&blocker, b"a file, not a folder").unwrap();
    let mut options = auto_with(TrialCache::At(blocker.join("auto_trial.json")));
    options.auto.budget = std::time::Duration::ZERO;
    for _ in 0..2 {
        let mut session = DepthSession::load(&runtime, &path, &options).unwrap();
        let report = session.trial().unwrap().clone();
        assert!(!report.cached);
        assert_eq!(report.winner, 0);
        for untried in &report.candidates[1..] {
            assert!(
                untried
                    .excluded
                    .as_deref()
                    .is_some_and(|w| w.contains("budget")),
                "{report:?}"
            );
        }
        assert_eq!(run(&mut session).len(), 128 * 160);
    }
    let _ = std::fs::remove_file(&blocker);
}
