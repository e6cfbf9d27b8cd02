//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_mono_depth::frame::PixelFormat;
use bevy_mono_depth::prelude::*;

/// Folder of the generated test models (`cargo xtask setup` writes them).
pub fn models_dir() -> PathBuf {
    std::env::var_os("MONO_DEPTH_TEST_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/models"))
}

/// An empty folder of its own for a test, removed when dropped (when the
/// test ends, passed or failed).
pub struct Scratch(PathBuf);

impl Scratch {
    /// `bevy_mono_depth_<name>_<process id>` under the system's temporary
    /// folder, emptied if an earlier run left it.
    pub fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("bevy_mono_depth_{name}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch folder");
        Self(dir)
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
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

/// Session options for tests that check values: ONNX Runtime's CPU kernels
/// in exact FP32, whatever execution-provider plugins the machine has (the
/// default, `Auto`, would take OpenVINO's BF16 where it is installed).
pub fn cpu() -> bevy_mono_depth::session::SessionOptions {
    use bevy_mono_depth::session::{ExecutionProvider, InferencePrecision, SessionOptions};
    SessionOptions {
        provider: ExecutionProvider::Cpu,
        precision: InferencePrecision::Fp32,
        ..SessionOptions::default()
    }
}

/// An engine configuration for `model` on [`cpu`].
pub fn engine_config(model: impl Into<PathBuf>) -> bevy_mono_depth::engine::EngineConfig {
    bevy_mono_depth::engine::EngineConfig {
        session: cpu(),
        ..bevy_mono_depth::engine::EngineConfig::new(model)
    }
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

/// Pixel bytes of a `width`×`height` frame in `format` with rows `stride`
/// bytes apart (padding 0xEE, alpha 0), whose pixel (x, y) is `rgb(y, x)`.
/// Byte positions are written out here, not taken from the crate.
pub fn frame_bytes(
    format: PixelFormat,
    width: u32,
    height: u32,
    stride: usize,
    rgb: impl Fn(usize, usize) -> [u8; 3],
) -> Vec<u8> {
    let bpp = format.bytes_per_pixel();
    let mut data = vec![0xEEu8; stride * height as usize];
    let [ro, go, bo] = match format {
        PixelFormat::Rgb8 | PixelFormat::Rgba8 => [0, 1, 2],
        PixelFormat::Bgra8 => [2, 1, 0],
    };
    for y in 0..height as usize {
        for x in 0..width as usize {
            let px = &mut data[y * stride + x * bpp..][..bpp];
            let [r, g, b] = rgb(y, x);
            (px[ro], px[go], px[bo]) = (r, g, b);
            if bpp == 4 {
                px[3] = 0; // alpha must not matter
            }
        }
    }
    data
}

pub mod render;

/// The closed-form test model's depth over a patch of one colour, in
/// metres: `0.5 + 0.02 R + 0.01 G + 0.005 B` (tools/README.md, "Test models").
pub fn closed_form_depth(rgb: [u8; 3]) -> f32 {
    closed_form_f64(rgb) as f32
}

fn closed_form_f64([r, g, b]: [u8; 3]) -> f64 {
    0.5 + 0.02 * f64::from(r) + 0.01 * f64::from(g) + 0.005 * f64::from(b)
}

/// The closed-form model's output texel: the mean of [`closed_form_depth`]
/// over its 2×2 block of input pixels, `rgb(dy, dx)` giving the colour at
/// each offset from the block's top-left pixel.
pub fn closed_form_block(rgb: impl Fn(usize, usize) -> [u8; 3]) -> f32 {
    let sum: f64 = [(0, 0), (0, 1), (1, 0), (1, 1)]
        .into_iter()
        .map(|(dy, dx)| closed_form_f64(rgb(dy, dx)))
        .sum();
    (sum / 4.0) as f32
}
