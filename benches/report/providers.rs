//! Every execution provider and precision on the same model and input:
//! time per run, deviation from the CPU's FP32 output, and `Auto`'s trial.

use std::path::{Path, PathBuf};
use std::time::Instant;

use bevy_mono_depth::camera::ResizeMode;
use bevy_mono_depth::engine::preprocess::Preprocessor;
use bevy_mono_depth::frame::{CameraFrame, PixelFormat};
use bevy_mono_depth::runtime::Runtime;
use bevy_mono_depth::session::{
    AutoTrial, DepthSession, ExecutionProvider, InferencePrecision, SessionOptions, TrialCache,
};

use super::{Fallible, Plan, Table, median, ms, verdict};

/// One model measured on every provider: its FP32 and INT8 files, and for
/// a model with dynamic input the size to run it at.
pub struct Family {
    /// Put before every row's name ("" for FCRN, the first).
    pub label: String,
    pub fp32: PathBuf,
    pub int8: PathBuf,
    /// (height, width) for a dynamic model.
    pub size: Option<(usize, usize)>,
}

/// The models `--providers-only` and the full report measure: FCRN, then
/// Depth Anything V2 Small at the default long side (518) and at a fast
/// one (266), all with seeded random weights (the cost is the
/// architecture's, not the weights').
pub fn families(plan: Plan, dir: &Path) -> Vec<Family> {
    let size = if plan.smoke { "small" } else { "full" };
    let mut all = vec![Family {
        label: String::new(),
        fp32: dir.join(format!("fcrn_random_{size}.onnx")),
        int8: dir.join(format!("fcrn_random_{size}_int8.onnx")),
        size: None,
    }];
    let (fp32, int8) = if plan.smoke {
        // The test-size graph: the code path, not the cost.
        (
            dir.join("depth_anything_v2_tiny.onnx"),
            dir.join("depth_anything_v2_tiny_int8.onnx"),
        )
    } else {
        (
            dir.join("depth_anything_v2_small_random.onnx"),
            dir.join("depth_anything_v2_small_random_int8.onnx"),
        )
    };
    for (long, h, w) in [(518, 392, 518), (266, 196, 266)] {
        all.push(Family {
            label: format!("Depth Anything V2 Small at {w}×{h} (long side {long}): "),
            fp32: fp32.clone(),
            int8: int8.clone(),
            size: Some((h, w)),
        });
    }
    all
}

/// Every execution provider and precision this machine has, against ONNX
/// Runtime's CPU kernels on `family`'s FP32 model, timed alternately in one
/// loop: median ms, speed-up, and how far the output moves (random weights:
/// fidelity to the FP32 graph, not accuracy).
pub fn providers(
    plan: Plan,
    runtime: &Runtime,
    options: &SessionOptions,
    family: &Family,
    table: &mut Table,
) -> Fallible<()> {
    let (fp32, int8) = (family.fp32.clone(), family.int8.clone());
    let label = family.label.as_str();
    let threads = options.resolved_threads();
    let with = |provider, precision, intra_threads| SessionOptions {
        provider,
        precision,
        intra_threads,
        ..options.clone()
    };
    use ExecutionProvider::{Auto, Cpu, Cuda, OpenVino, WebGpu};
    use InferencePrecision::{Fp32, ProviderDefault};
    const AUTO: &str = "Auto (default settings)";
    const AUTO_FILES: &str = "Auto, lower-precision files allowed";
    // Caches of this run's own, so that the first load measures.
    let trial_cache = |which: &str| {
        let file = std::env::temp_dir().join(format!(
            "mono_depth_bench_trial.{which}.{}.json",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&file);
        file
    };
    let (cache, cache_files) = (trial_cache("auto"), trial_cache("files"));
    let fp16 = fp32.with_file_name(format!(
        "{}_fp16.onnx",
        fp32.file_stem().unwrap_or_default().to_string_lossy()
    ));
    let mut setups: Vec<(String, PathBuf, SessionOptions)> = vec![
        (
            "CPU, FP32 model".into(),
            fp32.clone(),
            with(Cpu, ProviderDefault, threads),
        ),
        (
            "OpenVINO CPU, its default precision (BF16 where the CPU has it)".into(),
            fp32.clone(),
            with(OpenVino, ProviderDefault, threads),
        ),
        (
            "OpenVINO CPU, FP32".into(),
            fp32.clone(),
            with(OpenVino, Fp32, threads),
        ),
        (
            "CPU, INT8 model".into(),
            int8.clone(),
            with(Cpu, ProviderDefault, threads),
        ),
        (
            "OpenVINO CPU, INT8 model".into(),
            int8,
            with(OpenVino, ProviderDefault, threads),
        ),
        (
            "WebGPU, FP32 model".into(),
            fp32.clone(),
            with(WebGpu, ProviderDefault, threads),
        ),
        (
            "CUDA, FP32 model".into(),
            fp32.clone(),
            with(Cuda, ProviderDefault, threads),
        ),
        (
            "CUDA, FP16 model".into(),
            fp16,
            with(Cuda, ProviderDefault, threads),
        ),
        (
            AUTO.into(),
            fp32.clone(),
            SessionOptions {
                auto: AutoTrial {
                    cache: TrialCache::At(cache.clone()),
                    ..AutoTrial::default()
                },
                ..with(Auto, ProviderDefault, threads)
            },
        ),
        (
            AUTO_FILES.into(),
            fp32.clone(),
            SessionOptions {
                auto: AutoTrial {
                    cache: TrialCache::At(cache_files.clone()),
                    lower_precision_files: true,
                    ..AutoTrial::default()
                },
                ..with(Auto, ProviderDefault, threads)
            },
        ),
    ];
    // The thread count matters more to OpenVINO than to ONNX Runtime's kernels.
    let other = if threads == 1 { 2 } else { 1 };
    setups.push((
        "OpenVINO CPU, its default precision".to_owned(),
        fp32.clone(),
        with(OpenVino, ProviderDefault, other),
    ));
    let mut sessions = Vec::new();
    let mut loads = Vec::new();
    for (name, path, setup) in setups {
        if !path.is_file() {
            table.row(
                &format!("provider: {label}{name}"),
                format!("not measured: {} is missing", path.display()),
                "(report)",
                String::new(),
            );
            continue;
        }
        let loading = Instant::now();
        let mut session = DepthSession::load(runtime, &path, &setup)?;
        let load_ms = ms(loading.elapsed());
        if let Some((h, w)) = family.size {
            session.set_input_size(h, w)?;
        }
        if let Some(report) = session.trial() {
            let first = load_ms;
            // The same load again: the decision now comes from the cache.
            let loading = Instant::now();
            let again = DepthSession::load(runtime, &path, &setup)?;
            let cached = ms(loading.elapsed());
            let winner = &report.candidates[report.winner].name;
            let who = if name == AUTO {
                "Auto"
            } else {
                "Auto with lower-precision files"
            };
            table.row(
                &format!("{label}{who}: the trial at first load"),
                format!(
                    "load {first:.0} ms, of it the trial {:.0} ms; chose {winner}; {}",
                    report.took.as_secs_f64() * 1000.0,
                    report.summary()
                ),
                "(report)",
                String::new(),
            );
            table.row(
                &format!("{label}{who}: a later start (decision cached)"),
                format!(
                    "load {cached:.0} ms; {}",
                    again
                        .trial()
                        .map_or("no trial report".to_owned(), |r| if r.cached {
                            format!(
                                "cached: {} built, nothing measured",
                                r.candidates[r.winner].name
                            )
                        } else {
                            "measured again: the cache was not used".to_owned()
                        })
                ),
                "(report)",
                String::new(),
            );
        }
        // A provider that was asked for by name but fell back to the CPU
        // would only time the CPU again.
        let explicit = !matches!(setup.provider, Auto | Cpu);
        if explicit && session.provider().starts_with("CPU") {
            table.row(
                &format!("provider: {label}{name}"),
                format!("not measured: {}", session.provider()),
                "(report)",
                String::new(),
            );
            continue;
        }
        sessions.push((name, setup.intra_threads, session));
        loads.push(load_ms);
    }
    let Some(reference) = sessions.first() else {
        return Ok(());
    };
    let input = sample_input(&reference.2)?;
    let mut outputs = Vec::new();
    for (_, _, session) in &mut sessions {
        let mut out = Vec::new();
        session.run(&input, &mut out)?;
        outputs.push(out);
    }
    let mut times = vec![Vec::new(); sessions.len()];
    for _ in 0..plan.runs {
        for (i, (_, _, session)) in sessions.iter_mut().enumerate() {
            let start = Instant::now();
            session.run_with(&input, |_| ())?;
            times[i].push(ms(start.elapsed()));
        }
    }
    let want = &outputs[0];
    let scale: f64 = want.iter().map(|b| f64::from(b.abs())).sum();
    let base_ms = median(times[0].clone());
    let deviations: Vec<f64> = outputs
        .iter()
        .map(|out| {
            let diff: f64 = out
                .iter()
                .zip(want)
                .map(|(a, b)| f64::from((a - b).abs()))
                .sum();
            diff / scale.max(f64::MIN_POSITIVE)
        })
        .collect();
    for (i, (name, intra, session)) in sessions.iter().enumerate() {
        let run_ms = median(times[i].clone());
        // What actually ran, without the list of skipped providers.
        let ran = session.provider().split(" (").next().unwrap_or_default();
        table.row(
            &format!("provider: {label}{name}, {intra} thread(s)"),
            format!(
                "ran on {ran}: {run_ms:.1} ms ({:.1} fps), {:.2}× CPU FP32; mean |diff| / mean |CPU FP32| {:.2e}; load {:.0} ms",
                1000.0 / run_ms,
                base_ms / run_ms,
                deviations[i],
                loads[i]
            ),
            "(report)",
            String::new(),
        );
    }
    // Auto against what it chooses among: the FP32 file on every provider,
    // same thread count, within Auto's tolerance of the CPU's output.
    // With lower-precision files allowed, against every file.
    let tolerance = f64::from(AutoTrial::default().tolerance);
    for (which, files_too, what) in [(AUTO, false, "FP32 file"), (AUTO_FILES, true, "any file")] {
        let auto = sessions.iter().position(|(name, _, _)| name == which);
        let fastest = sessions
            .iter()
            .enumerate()
            .filter(|(i, (name, intra, session))| {
                ![AUTO, AUTO_FILES].contains(&name.as_str())
                    && *intra == threads
                    && (files_too || session.path() == fp32.as_path())
                    && deviations[*i] <= tolerance
            })
            .map(|(i, (name, _, _))| (name, median(times[i].clone())))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let (Some(auto), Some((name, best))) = (auto, fastest) {
            let auto_ms = median(times[auto].clone());
            let ratio = auto_ms / best;
            table.row(
                &format!(
                    "{label}{which} ÷ the fastest candidate within its tolerance ({what}, same threads)"
                ),
                format!("{ratio:.3} ({auto_ms:.1} / {best:.1} ms, {name})"),
                "≤ 1.10",
                verdict(ratio <= 1.10),
            );
        }
    }
    let _ = std::fs::remove_file(&cache);
    let _ = std::fs::remove_file(&cache_files);
    Ok(())
}

/// Frame 1 of the sample recording, through the crate's preprocessing for
/// `session`'s input.
pub fn sample_input(session: &DepthSession) -> Fallible<Vec<f32>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/samples/room/rgb/000001.png");
    let image = image::open(&path)?.to_rgb8();
    let (w, h) = image.dimensions();
    let frame = CameraFrame::packed(PixelFormat::Rgb8, w, h, image.into_raw())?;
    let spec = bevy_mono_depth::model::ModelSpec::from_session(
        session,
        &bevy_mono_depth::model::ModelOverrides::default(),
    )?;
    let mut pre = Preprocessor::new(&spec, ResizeMode::Fill);
    pre.process(&frame)?;
    Ok(pre.tensor().to_vec())
}
