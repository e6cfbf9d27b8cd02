//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_mono_depth::prelude::*;

/// Folder of the generated test models (`cargo xtask setup` writes them).
pub fn models_dir() -> PathBuf {
    std::env::var_os("MONO_DEPTH_TEST_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/models"))
}

/// A generated test model; panics with the fix when it is missing.
pub fn model(name: &str) -> PathBuf {
    let path = models_dir().join(name);
    assert!(
        path.is_file(),
        "test model {} is missing: run `cargo xtask setup` (it generates target/models)",
        path.display()
    );
    path
}

/// Updates `app` until the engine status leaves `Starting`, or fails after
/// `timeout`.
pub fn wait_for_engine(app: &mut App, timeout: Duration) -> EngineStatus {
    let start = Instant::now();
    loop {
        app.update();
        let status = app.world().resource::<MonoDepthStatus>().engine.clone();
        if status != EngineStatus::Starting {
            return status;
        }
        assert!(
            start.elapsed() < timeout,
            "engine still starting after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A headless app (no window, no renderer) with image assets and the plugin.
pub fn headless_app(plugin: MonoDepthPlugin) -> App {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        bevy::asset::AssetPlugin::default(),
        bevy::image::ImagePlugin::default(),
    ))
    .add_plugins(plugin);
    app.finish();
    app.cleanup();
    app
}
