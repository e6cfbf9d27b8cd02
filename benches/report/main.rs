//! The performance report: every measurement of `docs/performance.md` in one
//! process run, printed as a Markdown table.
//!
//! Run it with `cargo xtask bench` (which also builds the FP16 and INT8
//! models and points it at the Python alternative). `--smoke` runs every
//! measurement briefly on the small test models, to check the report works
//! (CI does that in the test profile); its numbers mean nothing.
//! `--providers-only`, `--render-only` and `--main-thread-only` print one part
//! of it.
//!
//! Environment: `MONO_DEPTH_TEST_MODELS` (the generated models),
//! `MONO_DEPTH_PYTHON` (the model-tool venv's Python, for the alternative),
//! `MONO_DEPTH_BENCH_THREADS` (ONNX Runtime intra-op threads; default the
//! crate's, cores − 1).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bevy_mono_depth::camera::ResizeMode;
use bevy_mono_depth::depth::DepthMap;
use bevy_mono_depth::engine::postprocess::postprocess;
use bevy_mono_depth::engine::preprocess::Preprocessor;
use bevy_mono_depth::engine::{DepthEngine, DepthEstimator, EngineConfig};
use bevy_mono_depth::frame::{CameraFrame, PixelFormat};
use bevy_mono_depth::model::DepthUnits;
use bevy_mono_depth::runtime::{Runtime, RuntimeSearch};
use bevy_mono_depth::session::{DepthSession, ExecutionProvider, SessionOptions};
use bevy_mono_depth::worker::{DepthWorker, WorkerReport};

#[path = "../common/machine.rs"]
mod machine;
mod main_thread;
mod providers;
mod render;

use providers::sample_input;

/// How much of everything to do.
#[derive(Clone, Copy)]
struct Plan {
    smoke: bool,
    /// Timed runs of the model per measurement.
    runs: usize,
    /// Frames through the worker for the memory measurement.
    memory_frames: usize,
    /// Seconds of the 30 fps pipelining run.
    pipeline_secs: f32,
    /// Frames rendered per render configuration.
    render_frames: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes `--bench`; the report takes only its own flags.
    let smoke = args.iter().any(|a| a == "--smoke");
    let skip_render = args.iter().any(|a| a == "--no-render");
    let render_only = args.iter().any(|a| a == "--render-only");
    let providers_only = args.iter().any(|a| a == "--providers-only");
    let main_thread_only = args.iter().any(|a| a == "--main-thread-only");
    let plan = if smoke {
        Plan {
            smoke,
            runs: 3,
            memory_frames: 200,
            pipeline_secs: 1.0,
            render_frames: 20,
        }
    } else {
        Plan {
            smoke,
            runs: 15,
            memory_frames: 10_000,
            pipeline_secs: 10.0,
            render_frames: 240,
        }
    };
    let result = if main_thread_only {
        main_thread_report(plan)
    } else if render_only {
        render_report(plan)
    } else if providers_only {
        providers_report(plan)
    } else {
        report(plan, skip_render)
    };
    if let Err(e) = result {
        eprintln!("performance report failed: {e}");
        std::process::exit(1);
    }
}

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

fn models_dir() -> PathBuf {
    std::env::var_os("MONO_DEPTH_TEST_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/models"))
}

fn threads() -> usize {
    std::env::var("MONO_DEPTH_BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The benchmark frame: the same bytes `tools/bench_python.py` makes.
fn frame(format: PixelFormat, width: u32, height: u32) -> CameraFrame {
    let len = (width * height) as usize * format.bytes_per_pixel();
    let pixels: Vec<u8> = (0..len)
        .map(|i| (((i as u64 * 2_654_435_761) % (1 << 32)) >> 24) as u8)
        .collect();
    CameraFrame::packed(format, width, height, pixels).expect("valid frame")
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    if xs.is_empty() {
        return f64::NAN;
    }
    xs[xs.len() / 2]
}

fn percentile(mut xs: Vec<f64>, p: f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    if xs.is_empty() {
        return f64::NAN;
    }
    let i = ((xs.len() - 1) as f64 * p).round() as usize;
    xs[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median milliseconds of `runs` calls after one warm-up.
fn time_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                f();
                ms(start.elapsed())
            })
            .collect(),
    )
}

struct Table {
    rows: Vec<[String; 4]>,
    /// Smoke numbers say nothing about the targets.
    smoke: bool,
}

impl Table {
    fn row(&mut self, what: &str, value: String, target: &str, verdict: String) {
        // One table row per measurement, whatever a message holds.
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        let verdict = if self.smoke && !verdict.is_empty() {
            "(smoke: not judged)".to_owned()
        } else {
            verdict
        };
        println!("  {what}: {value} (target {target}) {verdict}");
        self.rows
            .push([what.to_owned(), value, target.to_owned(), verdict]);
    }

    fn print(&self) {
        println!("\n| measurement | result | target | |");
        println!("| --- | --- | --- | --- |");
        for [a, b, c, d] in &self.rows {
            println!("| {a} | {b} | {c} | {d} |");
        }
    }
}

fn verdict(met: bool) -> String {
    if met { "met".into() } else { "missed".into() }
}

fn report(plan: Plan, skip_render: bool) -> Fallible<()> {
    let dir = models_dir();
    let (main_model, label) = if plan.smoke {
        (dir.join("fcrn_random_small.onnx"), "FCRN reduced (smoke)")
    } else {
        (dir.join("fcrn_random_full.onnx"), "FCRN full size")
    };
    let runtime = Runtime::load(&RuntimeSearch::from_env(None))?;
    // The rows before the provider rows measure ONNX Runtime's CPU kernels,
    // comparable across machines and with earlier runs, whatever plugins
    // are installed.
    let options = SessionOptions {
        intra_threads: threads(),
        provider: ExecutionProvider::Cpu,
        ..SessionOptions::default()
    };
    let thread_count = options.resolved_threads();
    // `cargo xtask bench` says how it was called; run directly, the binary.
    let command = std::env::var("MONO_DEPTH_BENCH_COMMAND")
        .unwrap_or_else(|_| std::env::args().collect::<Vec<_>>().join(" "));
    println!("# bevy_mono_depth performance report");
    println!("command: `{command}`");
    println!("machine: {}", machine());
    println!("ONNX Runtime: {}", runtime.build_info());
    println!("library: {}", runtime_library());
    println!(
        "model: {} ({label}, seeded random weights: real cost, meaningless depth)",
        main_model.display()
    );
    println!("intra-op threads: {thread_count} (MONO_DEPTH_BENCH_THREADS; default cores − 1)\n");
    let mut table = Table {
        rows: Vec::new(),
        smoke: plan.smoke,
    };

    // Memory first, so the peak is not an earlier measurement's.
    memory(plan, &runtime, &dir, &mut table)?;

    // 1. Bare session.run vs frame in → DepthMap out on the worker,
    // alternating, so both see the same machine.
    let mut session = DepthSession::load(&runtime, &main_model, &options)?;
    let input: Vec<f32> = (0..session.input.len()).map(|i| (i % 251) as f32).collect();
    let config = EngineConfig {
        session: options.clone(),
        ..EngineConfig::new(main_model.clone())
    };
    let frame_640 = frame(PixelFormat::Bgra8, 640, 480);
    let worker = DepthWorker::with_engine(config.clone())?;
    let (mut on_worker, mut bare_runs) = (Vec::new(), Vec::new());
    for i in 0..=plan.runs {
        let start = Instant::now();
        session.run_with(&input, |_| ())?;
        let bare_ms = ms(start.elapsed());
        let start = Instant::now();
        worker.submit(frame_640.clone().with_sequence(i as u64 + 1));
        next_depth(&worker)?;
        // The first round warms both up (and waits for the model to load).
        if i > 0 {
            on_worker.push(ms(start.elapsed()));
            bare_runs.push(bare_ms);
        }
    }
    drop(session);
    let bare = median(bare_runs);
    drop(worker);
    let worker_ms = median(on_worker);
    println!("bare session.run {bare:.1} ms, frame → depth on the worker {worker_ms:.1} ms");
    let ratio = worker_ms / bare;
    table.row(
        "overhead: worker frame→DepthMap ÷ bare session.run, 640×480 BGRA",
        format!("{ratio:.3} ({worker_ms:.1} / {bare:.1} ms)"),
        "≤ 1.05",
        verdict(ratio <= 1.05),
    );

    // 2. Pre- and postprocessing, one thread.
    let engine = DepthEngine::load_with(&runtime, &config)?;
    let spec = engine.spec().clone();
    drop(engine);
    for (w, h) in [(640, 480), (1280, 720)] {
        for format in [PixelFormat::Rgb8, PixelFormat::Bgra8] {
            let frame = frame(format, w, h);
            let mut pre = Preprocessor::new(&spec, ResizeMode::Fill);
            let pre_ms = time_ms(plan.runs * 20, || {
                pre.process(std::hint::black_box(&frame))
                    .expect("preprocess");
            });
            let raw: Vec<f32> = (0..spec.output_width * spec.output_height)
                .map(|i| (i % 997) as f32 * 0.01)
                .collect();
            let mut map = DepthMap::empty();
            let post_ms = time_ms(plan.runs * 20, || {
                postprocess(
                    std::hint::black_box(&raw),
                    spec.output_width,
                    spec.output_height,
                    DepthUnits::Metres,
                    spec.depth_range,
                    &mut map,
                );
            });
            let total = pre_ms + post_ms;
            let target = if (w, h) == (640, 480) {
                "≤ 2 ms together"
            } else {
                "(none)"
            };
            table.row(
                &format!("pre + post {w}×{h} {format:?}"),
                format!("{total:.3} ms ({pre_ms:.3} + {post_ms:.3})"),
                target,
                if (w, h) == (640, 480) {
                    verdict(total <= 2.0)
                } else {
                    String::new()
                },
            );
        }
    }

    // What a camera frame costs: the main thread only hands the frame's
    // shared pixels over; the render world writes them into the texture.
    camera_frame_cost(plan, &mut table);
    for row in main_thread::measure(plan.smoke)? {
        table.row(&row.0, row.1, &row.2, row.3);
    }

    // 3. The Python alternative on the same frames and model.
    let mut engine = DepthEngine::load_with(&runtime, &config)?;
    let mut map = DepthMap::empty();
    let rust_ms = time_ms(plan.runs, || {
        engine
            .estimate_into(&frame_640, &mut map)
            .expect("estimate");
    });
    drop(engine);
    match python_alternative(&main_model, thread_count, plan) {
        Ok(python_ms) => {
            let ratio = rust_ms / python_ms;
            table.row(
                "Rust ÷ Python (onnxruntime + numpy + Pillow), 640×480 BGRA, per frame",
                format!("{ratio:.3} ({rust_ms:.1} / {python_ms:.1} ms)"),
                "≤ 0.9",
                verdict(ratio <= 0.9),
            );
        }
        Err(e) => table.row(
            "Rust ÷ Python",
            format!("not measured: {e}"),
            "≤ 0.9",
            "—".into(),
        ),
    }

    // 4. Pipelining with a 30 fps source.
    let (fps, run_ms) = pipelining(&config, plan, &frame_640)?;
    // The most the model allows, or the source when the model is faster.
    let possible = (1000.0 / run_ms).min(30.0);
    let ratio = fps / possible;
    table.row(
        "pipelining: depth fps with a 30 fps source ÷ min(30, 1 / session.run)",
        format!("{ratio:.3} ({fps:.2} of {possible:.2} fps; run {run_ms:.1} ms)"),
        "≥ 0.95",
        verdict(ratio >= 0.95),
    );

    // 7. Smaller models.
    precision(plan, &runtime, &options, &dir, &mut table)?;

    // 8. Execution providers × precision.
    for family in providers::families(plan, &dir) {
        providers::providers(plan, &runtime, &options, &family, &mut table)?;
    }

    // 5. The game is not slowed.
    if !skip_render {
        for row in render::measure(&main_model, plan.render_frames, plan.smoke)? {
            table.row(&row.0, row.1, &row.2, row.3);
        }
    }

    table.print();
    Ok(())
}

/// Only the provider × precision rows (`--providers-only`), for a machine
/// lent for a few minutes.
fn providers_report(plan: Plan) -> Fallible<()> {
    let dir = models_dir();
    let runtime = Runtime::load(&RuntimeSearch::from_env(None))?;
    let options = SessionOptions {
        intra_threads: threads(),
        ..SessionOptions::default()
    };
    println!("# bevy_mono_depth execution providers");
    println!("machine: {}", machine());
    println!("ONNX Runtime: {}", runtime.build_info());
    for plugin in &runtime.plugins {
        println!(
            "plugin {}: {} ({:?})",
            plugin.name,
            plugin.path.display(),
            plugin.registered
        );
    }
    println!(
        "intra-op threads: {} (MONO_DEPTH_BENCH_THREADS; default cores − 1)\n",
        options.resolved_threads()
    );
    let mut table = Table {
        rows: Vec::new(),
        smoke: plan.smoke,
    };
    for family in providers::families(plan, &dir) {
        providers::providers(plan, &runtime, &options, &family, &mut table)?;
    }
    table.print();
    Ok(())
}

/// The main-thread rows and the camera-frame costs only
/// (`--main-thread-only`).
fn main_thread_report(plan: Plan) -> Fallible<()> {
    println!("# bevy_mono_depth main-thread time");
    println!("machine: {}\n", machine());
    let mut table = Table {
        rows: Vec::new(),
        smoke: plan.smoke,
    };
    camera_frame_cost(plan, &mut table);
    for row in main_thread::measure(plan.smoke)? {
        table.row(&row.0, row.1, &row.2, row.3);
    }
    table.print();
    Ok(())
}

/// Only the render rows (`--render-only`): frame times with inference
/// running and paused, per thread count, priority and spinning.
fn render_report(plan: Plan) -> Fallible<()> {
    let model = if plan.smoke {
        models_dir().join("fcrn_random_small.onnx")
    } else {
        models_dir().join("fcrn_random_full.onnx")
    };
    println!("# bevy_mono_depth render frame times");
    println!("machine: {}", machine());
    println!("model: {}\n", model.display());
    let mut table = Table {
        rows: Vec::new(),
        smoke: plan.smoke,
    };
    for row in render::measure(&model, plan.render_frames, plan.smoke)? {
        table.row(&row.0, row.1, &row.2, row.3);
    }
    table.print();
    Ok(())
}

/// The ONNX Runtime library file (its name carries the version).
/// Main-thread cost of one camera frame reaching the background texture
/// (`Newest` mode: every frame is shown), against an update without a new
/// frame; and the one pixel conversion left on the render side (RGB8 has no
/// GPU format and is expanded to RGBA there; RGBA8 and BGRA8 frames are
/// written to the GPU as they are).
fn camera_frame_cost(plan: Plan, table: &mut Table) {
    use bevy::prelude::*;
    use bevy_mono_depth::plugin::{
        BackgroundSync, FrameSource, MonoDepthPlugin, MonoDepthSettings,
    };
    use bevy_mono_depth::sources::FramePusher;

    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        bevy::asset::AssetPlugin::default(),
        bevy::image::ImagePlugin::default(),
    ))
    .add_plugins(MonoDepthPlugin {
        model: None,
        source: FrameSource::Pushed,
        ..default()
    });
    app.finish();
    app.cleanup();
    app.world_mut()
        .resource_mut::<MonoDepthSettings>()
        .background = BackgroundSync::Newest;
    let pusher = app.world().resource::<FramePusher>().clone();
    let runs = plan.runs * 20;
    let idle_ms = time_ms(runs, || app.update());
    for (name, w, h) in [
        ("640×480", 640, 480),
        ("1080p", 1920, 1080),
        ("4K", 3840, 2160),
    ] {
        let bgra = frame(PixelFormat::Bgra8, w, h);
        let frame_ms = time_ms(runs, || {
            pusher.push(bgra.clone().with_sequence(0));
            app.update();
        });
        table.row(
            &format!("main thread per camera frame, {name} BGRA (update without a frame: {idle_ms:.3} ms)"),
            format!("{frame_ms:.3} ms"),
            "(report)",
            String::new(),
        );
        let rgb = frame(PixelFormat::Rgb8, w, h);
        let mut rgba = Vec::new();
        let expand_ms = time_ms(plan.runs * 5, || {
            rgb.write_rgba8(std::hint::black_box(&mut rgba));
        });
        table.row(
            &format!("render thread: RGB8 → RGBA8 expansion, {name} (RGBA8/BGRA8 frames: none)"),
            format!("{expand_ms:.3} ms"),
            "(report)",
            String::new(),
        );
        // What the built-in sources pay instead, on their own thread: a
        // JPEG decoded to RGBA8 rather than RGB8.
        let mut jpeg = Vec::new();
        let encoded = image::RgbImage::from_raw(w, h, rgb.to_rgb8()).map(|img| {
            img.write_to(
                &mut std::io::Cursor::new(&mut jpeg),
                image::ImageFormat::Jpeg,
            )
        });
        if let Some(Ok(())) = encoded {
            let decode = |rgba: bool| {
                time_ms(plan.runs, || {
                    let img = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg)
                        .expect("decode");
                    if rgba {
                        std::hint::black_box(img.into_rgba8());
                    } else {
                        std::hint::black_box(img.into_rgb8());
                    }
                })
            };
            let (to_rgb, to_rgba) = (decode(false), decode(true));
            table.row(
                &format!("source thread: JPEG decode, {name}, to RGB8 vs to RGBA8"),
                format!("{to_rgb:.3} vs {to_rgba:.3} ms"),
                "(report)",
                String::new(),
            );
        }
    }
}

fn runtime_library() -> String {
    let Some(path) = std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from) else {
        return "(found by the crate's search)".into();
    };
    let files = std::fs::read_dir(&path)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("onnxruntime"))
        .max_by_key(String::len);
    match files {
        Some(name) => path.join(name).display().to_string(),
        None => path.display().to_string(),
    }
}

fn machine() -> String {
    format!("{}, {}", machine::cpu(), std::env::consts::OS)
}

/// Resident and peak memory (kB) from `/proc/self/status`.
fn rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Waits for the worker's next depth map and hands it back for reuse;
/// a failed model or frame is an error.
fn next_depth(worker: &DepthWorker) -> Fallible<()> {
    loop {
        match worker.events().recv_timeout(Duration::from_secs(60))? {
            WorkerReport::Depth(result) => {
                worker.recycle(result.depth);
                return Ok(());
            }
            WorkerReport::LoadFailed(e) => return Err(e.into()),
            WorkerReport::FrameFailed { error, .. } => return Err(error.into()),
            _ => {}
        }
    }
}

fn memory(plan: Plan, runtime: &Runtime, dir: &Path, table: &mut Table) -> Fallible<()> {
    // The fast closed-form model: the crate's per-frame memory does not
    // depend on the network's size, and 10 000 FCRN frames would take an
    // hour.
    let _ = runtime;
    let config = EngineConfig {
        session: SessionOptions {
            provider: ExecutionProvider::Cpu,
            ..SessionOptions::default()
        },
        ..EngineConfig::new(dir.join("closed_form.onnx"))
    };
    let worker = DepthWorker::with_engine(config)?;
    let frame = frame(PixelFormat::Bgra8, 640, 480);
    let mut samples = Vec::new();
    let mut start = None;
    for i in 0..plan.memory_frames {
        worker.submit(frame.clone().with_sequence(i as u64 + 1));
        next_depth(&worker)?;
        // After 100 frames of warm-up.
        if i == 100.min(plan.memory_frames / 2) {
            start = rss_kb();
        }
        if i % 100 == 0 {
            samples.extend(rss_kb());
        }
    }
    let end = rss_kb();
    drop(worker);
    let (Some(start), Some(end)) = (start, end) else {
        table.row(
            "memory over frames",
            "not measured (no /proc/self/status)".into(),
            "flat",
            "—".into(),
        );
        return Ok(());
    };
    let peak = samples.into_iter().max().unwrap_or(end).max(end);
    let growth = end as f64 - start as f64;
    table.row(
        &format!(
            "resident memory over {} frames (worker, 640×480, closed-form model)",
            plan.memory_frames
        ),
        format!(
            "start {:.1} MB, end {:.1} MB, peak {:.1} MB",
            start as f64 / 1024.0,
            end as f64 / 1024.0,
            peak as f64 / 1024.0
        ),
        "flat",
        verdict(growth.abs() < 2048.0),
    );
    Ok(())
}

fn python_alternative(model: &Path, threads: usize, plan: Plan) -> Fallible<f64> {
    let python = std::env::var_os("MONO_DEPTH_PYTHON").ok_or("MONO_DEPTH_PYTHON is not set")?;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tools/bench_python.py");
    let output = Command::new(python)
        .arg(&script)
        .args(["--model".as_ref(), model.as_os_str()])
        .args(["--frames", &plan.runs.to_string(), "--warmup", "1"])
        .args(["--threads", &threads.to_string()])
        .args(["--width", "640", "--height", "480", "--format", "bgra"])
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "bench_python.py failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let total = json["median_ms"]["total"]
        .as_f64()
        .ok_or("bench_python.py gave no median_ms.total")?;
    println!(
        "python: {}",
        serde_json::to_string(&json["median_ms"]).unwrap_or_default()
    );
    Ok(total)
}

/// Depth fps with a source pushing frames at 30 fps into the worker, and the
/// median `session.run` time of those same frames (so machine drift between
/// measurements does not enter the ratio).
fn pipelining(config: &EngineConfig, plan: Plan, frame: &CameraFrame) -> Fallible<(f64, f64)> {
    let worker = DepthWorker::with_engine(config.clone())?;
    // Wait for the model, so loading is not counted.
    loop {
        match worker.events().recv_timeout(Duration::from_secs(120))? {
            WorkerReport::Ready(_) => break,
            WorkerReport::LoadFailed(e) => return Err(e.into()),
            _ => {}
        }
    }
    let sender = worker.sender();
    let stop = Arc::new(AtomicBool::new(false));
    let source = {
        let stop = Arc::clone(&stop);
        let frame = frame.clone();
        std::thread::spawn(move || {
            let mut n = 0u64;
            let start = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                sender.submit(frame.clone().with_sequence(n));
                let next = start + Duration::from_secs_f64(n as f64 / 30.0);
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        })
    };
    // Count results between the first and the last within the window.
    let window = Duration::from_secs_f32(plan.pipeline_secs);
    let mut first: Option<Instant> = None;
    let mut last = None;
    let mut count = 0u32;
    let mut inference = Vec::new();
    let start = Instant::now();
    while start.elapsed() < window + Duration::from_secs(2) {
        if let Ok(WorkerReport::Depth(result)) =
            worker.events().recv_timeout(Duration::from_millis(100))
        {
            inference.push(ms(result.timings.inference));
            worker.recycle(result.depth);
            let now = Instant::now();
            match first {
                None => first = Some(now),
                Some(f) if now - f <= window => {
                    count += 1;
                    last = Some(now);
                }
                Some(_) => {}
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = source.join();
    let (Some(first), Some(last)) = (first, last) else {
        return Err("no depth while pipelining".into());
    };
    Ok((
        f64::from(count) / (last - first).as_secs_f64(),
        median(inference),
    ))
}

fn precision(
    plan: Plan,
    runtime: &Runtime,
    options: &SessionOptions,
    dir: &Path,
    table: &mut Table,
) -> Fallible<()> {
    let (fp32, variants) = if plan.smoke {
        (
            dir.join("fcrn_random_small.onnx"),
            vec![("FP16 weights", dir.join("fcrn_random_small_fp16.onnx"))],
        )
    } else {
        (
            dir.join("fcrn_random_full.onnx"),
            vec![
                ("FP16 weights", dir.join("fcrn_random_full_fp16.onnx")),
                ("INT8 (QDQ, static)", dir.join("fcrn_random_full_int8.onnx")),
            ],
        )
    };
    // A real-looking input: a frame of the sample recording, preprocessed.
    let mut reference = DepthSession::load(runtime, &fp32, options)?;
    let input = sample_input(&reference)?;
    let mut want = Vec::new();
    reference.run(&input, &mut want)?;
    for (name, path) in variants {
        if !path.is_file() {
            table.row(
                name,
                format!("not measured: {} is missing", path.display()),
                "(report)",
                "—".into(),
            );
            continue;
        }
        let mut session = DepthSession::load(runtime, &path, options)?;
        let mut got = Vec::new();
        session.run(&input, &mut got)?;
        // FP32 and the variant alternately, so both see the same machine.
        let (mut fp32_runs, mut variant_runs) = (Vec::new(), Vec::new());
        for _ in 0..plan.runs {
            let start = Instant::now();
            reference.run_with(&input, |_| ())?;
            fp32_runs.push(ms(start.elapsed()));
            let start = Instant::now();
            session.run_with(&input, |_| ())?;
            variant_runs.push(ms(start.elapsed()));
        }
        let (fp32_ms, run_ms) = (median(fp32_runs), median(variant_runs));
        let diff: f64 = got
            .iter()
            .zip(&want)
            .map(|(a, b)| f64::from((a - b).abs()))
            .sum();
        let scale: f64 = want.iter().map(|b| f64::from(b.abs())).sum();
        let largest = want.iter().map(|b| b.abs()).fold(0.0f32, f32::max);
        let worst = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max)
            / largest.max(f32::MIN_POSITIVE);
        table.row(
            &format!("{name}: speed vs FP32; output vs FP32 (fidelity, random weights)"),
            format!(
                "{:.2}× ({run_ms:.1} / {fp32_ms:.1} ms); mean |diff| / mean |FP32| {:.2e}, max |diff| / max |FP32| {:.2e}",
                fp32_ms / run_ms,
                diff / scale.max(f64::MIN_POSITIVE),
                worst
            ),
            "(report)",
            String::new(),
        );
    }
    Ok(())
}
