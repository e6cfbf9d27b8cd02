//! `Auto`'s trial over the lower-precision files beside a model
//! (`AutoTrial::lower_precision_files`): FCRN's test-size FP32, FP16 and
//! INT8 files under the names `cargo xtask fetch-model` gives them.

mod common;

use std::path::{Path, PathBuf};

use bevy_mono_depth::runtime::{Runtime, RuntimeSearch};
use bevy_mono_depth::session::{
    AutoTrial, DepthSession, ExecutionProvider, SessionOptions, TrialCache, TrialReport,
};
use common::model;

fn runtime() -> Runtime {
    Runtime::load(&RuntimeSearch::from_env(None)).unwrap_or_else(|e| panic!("{e}"))
}

/// A folder of this test's own holding `depth.onnx`, `depth_fp16.onnx` and
/// `depth_int8.onnx`, and a cache file that does not exist yet.
fn family(name: &str) -> (PathBuf, PathBuf) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("auto_files")
        .join(format!("{name}.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (from, to) in [
        ("fcrn_random_small.onnx", "depth.onnx"),
        ("fcrn_random_small_fp16.onnx", "depth_fp16.onnx"),
        ("fcrn_random_small_int8.onnx", "depth_int8.onnx"),
    ] {
        std::fs::copy(model(from), dir.join(to)).unwrap();
    }
    (dir.join("depth.onnx"), dir.join("auto_trial.json"))
}

fn options(cache: &Path, files: bool, tolerance: f32) -> SessionOptions {
    SessionOptions {
        provider: ExecutionProvider::Auto,
        auto: AutoTrial {
            cache: TrialCache::At(cache.to_path_buf()),
            lower_precision_files: files,
            tolerance,
            ..AutoTrial::default()
        },
        ..SessionOptions::default()
    }
}

fn load(runtime: &Runtime, path: &Path, options: &SessionOptions) -> DepthSession {
    DepthSession::load(runtime, path, options).unwrap_or_else(|e| panic!("{e}"))
}

/// The file a candidate of this name runs.
fn file_of(given: &Path, name: &str) -> PathBuf {
    let stem = if name.ends_with(", INT8 file") {
        "depth_int8.onnx"
    } else if name.ends_with(", FP16 file") {
        "depth_fp16.onnx"
    } else {
        "depth.onnx"
    };
    given.with_file_name(stem)
}

fn winner(report: &TrialReport) -> &str {
    &report.candidates[report.winner].name
}

/// Allowed, the FP16 and INT8 files are measured on the CPU against the
/// given file's FP32 output; the fastest within the tolerance wins and is
/// the file the session runs, also when the decision comes from the cache.
#[test]
fn the_files_beside_the_model_are_measured_and_the_winner_is_the_file_run() {
    let runtime = runtime();
    let (given, cache) = family("measured");
    // A tolerance every output meets: the fastest wins, whichever it is.
    let options = options(&cache, true, 1e6);
    let first = load(&runtime, &given, &options);
    let report = first.trial().unwrap().clone();
    let names: Vec<&str> = report.candidates.iter().map(|c| c.name.as_str()).collect();
    for file in ["CPU, FP16 file", "CPU, INT8 file"] {
        assert!(names.contains(&file), "{names:?}");
    }
    for candidate in report
        .candidates
        .iter()
        .filter(|c| c.name.starts_with("CPU"))
    {
        assert!(candidate.ms.is_some_and(|ms| ms > 0.0), "{report:?}");
        let deviation = candidate.deviation.unwrap();
        // The INT8 file's output is not the FP32 file's, and not far off.
        if candidate.name == "CPU, INT8 file" {
            assert!(deviation > 0.0 && deviation < 1.0, "{report:?}");
        }
    }
    // The fastest wins, a lower-precision file only by 5 % over the given
    // file's fastest.
    let fastest = |files: bool| {
        report
            .candidates
            .iter()
            .filter(|c| c.excluded.is_none() && c.is_lower_precision_file() == files)
            .filter_map(|c| c.ms)
            .fold(f64::INFINITY, f64::min)
    };
    let won = &report.candidates[report.winner];
    let won_ms = won.ms.unwrap();
    if won.is_lower_precision_file() {
        assert!(
            won_ms == fastest(true) && won_ms < 0.95 * fastest(false),
            "{report:?}"
        );
    } else {
        assert!(
            won_ms == fastest(false) && fastest(true) >= 0.95 * won_ms,
            "{report:?}"
        );
    }
    assert_eq!(first.path(), file_of(&given, winner(&report)));
    let won = format!("; {} won", winner(&report));
    assert!(first.provider().contains(&won), "{}", first.provider());

    let second = load(&runtime, &given, &options);
    let again = second.trial().unwrap();
    assert!(again.cached, "{again:?}");
    assert_eq!(second.path(), first.path());

    // A replaced INT8 file is a new decision.
    std::fs::copy(
        model("fcrn_random_small_fp16.onnx"),
        file_of(&given, "INT8 file"),
    )
    .unwrap();
    let third = load(&runtime, &given, &options);
    assert!(!third.trial().unwrap().cached);
    let _ = std::fs::remove_dir_all(given.parent().unwrap());
}

/// The files only compete within the tolerance: at none, only the given
/// file's exact FP32 run can win. Not allowed, they are not tried; given a
/// lower-precision file itself, nothing else is.
#[test]
fn the_files_beside_the_model_lose_outside_the_tolerance_and_are_tried_only_when_allowed() {
    let runtime = runtime();
    let (given, cache) = family("tolerance");
    let strict = load(&runtime, &given, &options(&cache, true, 0.0));
    let report = strict.trial().unwrap();
    assert_eq!(strict.path(), given, "{report:?}");
    let int8 = report
        .candidates
        .iter()
        .find(|c| c.name == "CPU, INT8 file")
        .unwrap();
    assert!(
        int8.excluded
            .as_deref()
            .is_some_and(|why| why.contains("over the tolerance")),
        "{report:?}"
    );

    let off = load(&runtime, &given, &options(&cache, false, 0.02));
    let report = off.trial().unwrap();
    assert!(
        report.candidates.iter().all(|c| !c.name.ends_with(" file")),
        "{report:?}"
    );
    assert_eq!(off.path(), given);

    let int8_given = given.with_file_name("depth_int8.onnx");
    let only = load(&runtime, &int8_given, &options(&cache, true, 0.02));
    let report = only.trial().unwrap();
    assert!(
        report.candidates.iter().all(|c| !c.name.ends_with(" file")),
        "{report:?}"
    );
    assert_eq!(only.path(), int8_given);
    let _ = std::fs::remove_dir_all(given.parent().unwrap());
}

/// A broken file beside the model (not ONNX) is a candidate that refused
/// the model, not a failed load: the given file still runs.
#[test]
fn a_broken_file_beside_the_model_is_excluded_and_the_model_still_loads() {
    let runtime = runtime();
    let (given, cache) = family("broken");
    let int8 = given.with_file_name("depth_int8.onnx");
    std::fs::write(&int8, b"not an onnx model").unwrap();
    let mut session = load(&runtime, &given, &options(&cache, true, 0.02));
    let report = session.trial().unwrap().clone();
    let entry = report
        .candidates
        .iter()
        .find(|c| c.name == "CPU, INT8 file")
        .unwrap();
    assert_eq!(
        entry.excluded.as_deref(),
        Some("refused the model"),
        "{report:?}"
    );
    assert_ne!(session.path(), int8);
    let mut out = Vec::new();
    session
        .run(&vec![0.0; session.input.len()], &mut out)
        .unwrap();
    assert_eq!(out.len(), session.output.len());
    let _ = std::fs::remove_dir_all(given.parent().unwrap());
}
