//! Preprocessing, postprocessing and the whole pipeline at 640×480 with the
//! full-size FCRN (seeded random weights: real cost, meaningless values).
//!
//! Run with `cargo xtask bench` (or `cargo bench --bench pipeline` after
//! `cargo xtask setup`).

use std::path::PathBuf;

use bevy_mono_depth::camera::ResizeMode;
use bevy_mono_depth::depth::DepthMap;
use bevy_mono_depth::engine::postprocess::postprocess;
use bevy_mono_depth::engine::preprocess::Preprocessor;
use bevy_mono_depth::engine::{DepthEngine, DepthEstimator, EngineConfig};
use bevy_mono_depth::frame::{CameraFrame, PixelFormat};
use bevy_mono_depth::model::DepthUnits;
use criterion::{Criterion, criterion_group, criterion_main};

fn model_path() -> PathBuf {
    let dir = std::env::var_os("MONO_DEPTH_TEST_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/models"));
    dir.join("fcrn_random_full.onnx")
}

fn frame() -> CameraFrame {
    let (w, h) = (640u32, 480u32);
    let pixels: Vec<u8> = (0..w * h * 4)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    CameraFrame::packed(PixelFormat::Bgra8, w, h, pixels).expect("valid frame")
}

fn pipeline(c: &mut Criterion) {
    let threads: usize = std::env::var("MONO_DEPTH_BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut config = EngineConfig::new(model_path());
    config.session.intra_threads = threads;
    // ONNX Runtime's CPU kernels, comparable with earlier runs whatever
    // execution-provider plugins are installed.
    config.session.provider = bevy_mono_depth::session::ExecutionProvider::Cpu;
    let mut engine = match DepthEngine::load(&config) {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("cannot benchmark: {e}\nrun `cargo xtask setup` first");
            return;
        }
    };
    eprintln!(
        "benchmarking {} with {} intra-op threads",
        engine.describe(),
        config.session.resolved_threads()
    );
    let frame = frame();
    let spec = engine.spec().clone();

    let mut pre = Preprocessor::new(&spec, ResizeMode::Fill);
    c.bench_function("preprocess 640x480 BGRA -> 304x228 NCHW", |b| {
        b.iter(|| {
            pre.process(std::hint::black_box(&frame))
                .expect("preprocess")
        })
    });

    let raw: Vec<f32> = (0..spec.output_width * spec.output_height)
        .map(|i| (i % 997) as f32 * 0.01)
        .collect();
    let mut map = DepthMap::empty();
    c.bench_function("postprocess 160x128", |b| {
        b.iter(|| {
            postprocess(
                std::hint::black_box(&raw),
                spec.output_width,
                spec.output_height,
                DepthUnits::Metres,
                spec.depth_range,
                &mut map,
            )
        })
    });

    let mut group = c.benchmark_group("full pipeline");
    group.sample_size(20);
    group.bench_function("640x480 frame -> FCRN depth", |b| {
        b.iter(|| {
            engine
                .estimate_into(std::hint::black_box(&frame), &mut map)
                .expect("estimate")
        })
    });
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
