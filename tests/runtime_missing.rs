//! No usable ONNX Runtime: a clear error naming every place looked at, and an
//! app that keeps running. This file is its own process with a single test,
//! because ONNX Runtime can only be loaded once per process and this test
//! changes the environment.

mod common;

use std::time::Duration;

use bevy_mono_depth::prelude::*;
use bevy_mono_depth::runtime::{PlaceKind, Runtime, RuntimeError, RuntimeSearch};
use common::{headless_app, model, wait_for_engine};

#[test]
fn wrong_or_missing_runtime_is_an_error_not_a_panic() {
    let scratch = common::Scratch::new("missing");
    let wrong = scratch.join("nowhere/libonnxruntime.so");
    // SAFETY: this is the only test in this binary and no other thread has
    // started yet, so nothing reads the environment concurrently.
    unsafe { std::env::set_var("ORT_DYLIB_PATH", &wrong) };

    // Through the plugin: the status says what is missing and how to fix it.
    let mut app = headless_app(MonoDepthPlugin {
        model: Some(model("closed_form.onnx")),
        ..Default::default()
    });
    let status = wait_for_engine(&mut app, Duration::from_secs(30));
    let EngineStatus::RuntimeUnavailable(reason) = &status else {
        panic!("expected RuntimeUnavailable, got {status}");
    };
    assert!(
        reason.contains("MonoDepthPlugin::runtime_library: not set"),
        "{reason}"
    );
    assert!(
        reason.contains(&format!(
            "ORT_DYLIB_PATH = {}: no such file or folder",
            wrong.display()
        )),
        "{reason}"
    );
    assert!(reason.contains("beside the executable"), "{reason}");
    assert!(reason.contains("cargo xtask setup"), "{reason}");
    app.update();

    // A file that is there but is not ONNX Runtime: named, with the loader's reason.
    let not_a_library = scratch.join("libonnxruntime.so");
    std::fs::write(&not_a_library, b"not a shared library").expect("write");
    let err = Runtime::load(&RuntimeSearch {
        explicit: Some(not_a_library.clone()),
        env_var: None,
        exe_dir: None,
        provider_dirs: Vec::new(),
    })
    .unwrap_err();
    let RuntimeError::LoadFailed { path, origin, .. } = &err else {
        panic!("expected LoadFailed, got {err}");
    };
    assert_eq!(path, &not_a_library);
    assert_eq!(*origin, PlaceKind::Explicit);
    assert!(err.to_string().contains("cargo xtask setup"), "{err}");
}
