//! `ExecutionProvider::Auto` by measurement: every provider and precision
//! that compiles the model runs a few frames at load, and the fastest whose
//! output stays close to ONNX Runtime's CPU kernels in FP32 wins. The
//! decision is kept in a small JSON file keyed by everything it depends on
//! (the CPU and its flags, the devices ONNX Runtime sees, its build and
//! plugins, the model file's content, the session options), so later starts
//! build only the winner.
//!
//! No rule of thumb survives every machine: OpenVINO's default BF16 is 6×
//! faster than the CPU kernels on a Xeon with AMX and 1.56× slower on one
//! with AVX-512 BF16 but no AMX (docs/performance.md).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ort::session::Session;
use serde::{Deserialize, Serialize};

use super::InferencePrecision;
use super::providers::Choice;

/// How [`ExecutionProvider::Auto`](super::ExecutionProvider::Auto) chooses.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoTrial {
    /// Measure the candidates (default `true`). `false`: the first in the
    /// fixed order that compiles the model (a GPU or NPU provider, then
    /// WebGPU, then OpenVINO, then the CPU kernels), as before there was a
    /// trial.
    pub enabled: bool,
    /// The most time the trial may take, compilation included (default
    /// 30 s); candidates it does not reach are not tried, and the status
    /// says so.
    pub budget: Duration,
    /// Timed runs per candidate after one warm run (default 3).
    pub runs: u32,
    /// How far a candidate's output may stray from the CPU's FP32 output:
    /// mean |difference| ÷ mean |CPU FP32| (default 0.02). A candidate
    /// beyond it, or with NaN or ±∞, cannot win however fast it is.
    pub tolerance: f32,
    /// Where decisions are kept between starts.
    pub cache: TrialCache,
    /// Also try the lower-precision files beside the model (default
    /// `false`): for `name.onnx`, `name_fp16.onnx` and `name_int8.onnx`
    /// where they exist, as `cargo xtask fetch-model` writes them, on every
    /// provider. They meet the same tolerance against the given file's FP32
    /// output on the CPU, and must beat the given file's fastest by 5 %;
    /// one that wins is the file the session runs
    /// ([`DepthSession::path`](super::DepthSession::path) names it). Turn
    /// it on where a little accuracy may be traded for speed: an INT8 file
    /// is often the fastest on a CPU.
    pub lower_precision_files: bool,
}

impl Default for AutoTrial {
    fn default() -> Self {
        Self {
            enabled: true,
            budget: Duration::from_secs(30),
            runs: 3,
            tolerance: 0.02,
            cache: TrialCache::Default,
            lower_precision_files: false,
        }
    }
}

/// Where [`AutoTrial`] keeps its decisions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TrialCache {
    /// `bevy_mono_depth/auto_trial.json` in the platform's cache folder
    /// (`$XDG_CACHE_HOME` or `~/.cache` on Linux, `~/Library/Caches` on
    /// Apple platforms, `%LOCALAPPDATA%` on Windows); none where there is no
    /// such folder.
    #[default]
    Default,
    /// This file.
    At(PathBuf),
    /// Measure at every load.
    Off,
}

impl TrialCache {
    /// The file decisions are read from and written to, if any.
    pub fn file(&self) -> Option<PathBuf> {
        match self {
            TrialCache::Default => default_cache_dir().map(|d| d.join("auto_trial.json")),
            TrialCache::At(path) => Some(path.clone()),
            TrialCache::Off => None,
        }
    }
}

fn default_cache_dir() -> Option<PathBuf> {
    let env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let base = if cfg!(target_vendor = "apple") {
        env("HOME").map(|h| h.join("Library/Caches"))
    } else if cfg!(windows) {
        env("LOCALAPPDATA")
    } else {
        env("XDG_CACHE_HOME").or_else(|| env("HOME").map(|h| h.join(".cache")))
    };
    base.map(|b| b.join("bevy_mono_depth"))
}

/// What the trial measured, or what the cache said it had measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialReport {
    /// The decision came from the cache: only the winner was built.
    pub cached: bool,
    /// Time from the start of the trial to the winner's session (the
    /// lookup and one build when cached).
    pub took: Duration,
    /// Every candidate, in the order tried; the CPU in FP32 first.
    pub candidates: Vec<TrialCandidate>,
    /// Index of the winner in `candidates`.
    pub winner: usize,
}

/// One provider and precision in a trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialCandidate {
    /// Provider and precision, as the status names them.
    pub name: String,
    /// Median time per run, milliseconds (`None`: not measured).
    pub ms: Option<f64>,
    /// Mean |difference| ÷ mean |CPU FP32| of its output.
    pub deviation: Option<f64>,
    /// Why it could not win, if it could not (refused the model, outside
    /// the tolerance, not reached within the budget).
    pub excluded: Option<String>,
}

impl TrialCandidate {
    /// Whether this candidate ran a lower-precision file beside the model
    /// (its name ends in `, FP16 file` or `, INT8 file`).
    pub fn is_lower_precision_file(&self) -> bool {
        self.name.ends_with(", FP16 file") || self.name.ends_with(", INT8 file")
    }
}

impl TrialReport {
    /// The winner's time against the CPU's FP32 time (`None` if either
    /// was not measured).
    pub fn speed_up(&self) -> Option<f64> {
        let winner = self.candidates.get(self.winner)?.ms?;
        let cpu = self.candidates.first()?.ms?;
        (winner > 0.0).then(|| cpu / winner)
    }

    /// One line for the status: what won, by how much, what each measured.
    pub fn summary(&self) -> String {
        let each: Vec<String> = self
            .candidates
            .iter()
            .map(|c| {
                let ms = c.ms.map_or("—".to_owned(), |ms| format!("{ms:.1} ms"));
                match &c.excluded {
                    Some(why) => format!("{} {ms} ({why})", c.name),
                    None => format!("{} {ms}", c.name),
                }
            })
            .collect();
        let how = if self.cached {
            "decided by an earlier trial (cached)"
        } else {
            "measured at load"
        };
        let speed = self
            .speed_up()
            .map_or(String::new(), |s| format!(", {s:.2}× the CPU's FP32"));
        let winner = self
            .candidates
            .get(self.winner)
            .map_or("?", |c| c.name.as_str());
        format!(
            "{how} in {:.1} s; {winner} won{speed}: {}",
            self.took.as_secs_f64(),
            each.join(", ")
        )
    }
}

/// Which model file a candidate runs: the one given, or a lower-precision
/// file beside it ([`AutoTrial::lower_precision_files`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ModelFile {
    Given,
    Fp16,
    Int8,
}

impl ModelFile {
    /// What is put after the given file's stem (`name_fp16.onnx`).
    fn suffix(self) -> &'static str {
        match self {
            ModelFile::Given => "",
            ModelFile::Fp16 => "_fp16",
            ModelFile::Int8 => "_int8",
        }
    }

    /// The file this stands for beside `given`.
    pub(super) fn path(self, given: &Path) -> PathBuf {
        if self == ModelFile::Given {
            return given.to_path_buf();
        }
        let stem = given
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        let extension = given
            .extension()
            .map_or_else(String::new, |e| format!(".{}", e.to_string_lossy()));
        given.with_file_name(format!("{stem}{}{extension}", self.suffix()))
    }
}

/// The lower-precision files beside `given` that exist; none when `given`
/// is itself one (its name ends in `_fp16` or `_int8`).
pub(super) fn lower_precision_files(given: &Path) -> Vec<ModelFile> {
    let stem = given
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lower = [ModelFile::Fp16, ModelFile::Int8];
    if lower.iter().any(|f| stem.ends_with(f.suffix())) {
        return Vec::new();
    }
    lower
        .into_iter()
        // One that cannot be opened is left out, not an error: the given
        // file still loads.
        .filter(|f| {
            std::fs::File::open(f.path(given))
                .is_ok_and(|o| o.metadata().is_ok_and(|m| m.is_file()))
        })
        .collect()
}

/// A provider, the precision it is asked for, and the file it runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Candidate {
    pub(super) choice: Choice,
    pub(super) precision: InferencePrecision,
    pub(super) file: ModelFile,
}

impl Candidate {
    pub(super) fn name(self) -> String {
        // Only OpenVINO is tried at two precisions; the others run in their
        // own (or the one the app asked for).
        let provider = match (self.choice, self.precision) {
            (Choice::Cpu, _) => "CPU".to_owned(),
            (choice @ Choice::OpenVino(_), InferencePrecision::ProviderDefault) => {
                format!("{}, its default precision", choice.name())
            }
            (choice, InferencePrecision::ProviderDefault) => choice.name(),
            (choice, precision) => format!("{}, {precision:?}", choice.name()),
        };
        match self.file {
            ModelFile::Given => provider,
            ModelFile::Fp16 => format!("{provider}, FP16 file"),
            ModelFile::Int8 => format!("{provider}, INT8 file"),
        }
    }
}

/// The candidates for Auto's `choices`: the CPU kernels first (the
/// reference), then each choice at the precision asked for and, where that
/// is the provider's default and it has a choice (OpenVINO), also at FP32;
/// then each of `files` (lower-precision files beside the model) on the
/// CPU and on each choice, at the precision asked for.
pub(super) fn candidates(
    choices: &[Choice],
    precision: InferencePrecision,
    files: &[ModelFile],
) -> Vec<Candidate> {
    let given = |choice, precision| Candidate {
        choice,
        precision,
        file: ModelFile::Given,
    };
    let mut out = vec![given(Choice::Cpu, InferencePrecision::Fp32)];
    let others = || choices.iter().copied().filter(|c| *c != Choice::Cpu);
    for choice in others() {
        out.push(given(choice, precision));
        if matches!(choice, Choice::OpenVino(_)) && precision == InferencePrecision::ProviderDefault
        {
            out.push(given(choice, InferencePrecision::Fp32));
        }
    }
    for &file in files.iter().filter(|f| **f != ModelFile::Given) {
        for choice in std::iter::once(Choice::Cpu).chain(others()) {
            out.push(Candidate {
                choice,
                precision,
                file,
            });
        }
    }
    out
}

/// How much faster than the given file's best a lower-precision file must
/// be to win (5 %): one that only ties it would trade accuracy for noise.
pub(super) const FILE_MARGIN: f64 = 0.95;

/// The fastest measured candidate whose deviation is finite and within
/// `tolerance`; index 0 (the reference) when none is. A lower-precision file
/// ([`TrialCandidate::is_lower_precision_file`]) wins only if it beats the
/// given file's fastest by [`FILE_MARGIN`].
pub(super) fn decide(candidates: &[TrialCandidate], tolerance: f64) -> usize {
    let fastest = |files: bool| {
        candidates
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_lower_precision_file() == files)
            .filter(|(_, c)| c.excluded.is_none())
            .filter(|(_, c)| c.deviation.is_some_and(|d| d.is_finite() && d <= tolerance))
            .filter_map(|(i, c)| c.ms.filter(|ms| ms.is_finite()).map(|ms| (i, ms)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    };
    match (fastest(false), fastest(true)) {
        (Some((_, given)), Some((i, file))) if file < given * FILE_MARGIN => i,
        (None, Some((i, _))) => i,
        (Some((i, _)), _) => i,
        (None, None) => 0,
    }
}

/// Mean |a − b| ÷ mean |reference|; NaN when an output holds NaN or ±∞ or
/// the lengths differ.
pub(super) fn deviation(output: &[f32], reference: &[f32]) -> f64 {
    if output.len() != reference.len() || output.iter().any(|v| !v.is_finite()) {
        return f64::NAN;
    }
    let diff: f64 = output
        .iter()
        .zip(reference)
        .map(|(a, b)| f64::from((a - b).abs()))
        .sum();
    let scale: f64 = reference.iter().map(|v| f64::from(v.abs())).sum();
    if scale > 0.0 {
        diff / scale
    } else if diff == 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

/// The trial's input: a fixed pattern over 0–255 (smooth gradients and a
/// fine checker), the same on every machine.
pub(super) fn trial_input(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| {
            let smooth = (i % 997) as f32 / 997.0 * 200.0;
            let fine = if (i / 7) % 2 == 0 { 40.0 } else { 0.0 };
            smooth + fine
        })
        .collect()
}

/// One candidate's measurement: a warm run (whose output is compared with
/// the reference), then `runs` timed ones, stopping early past `deadline`.
pub(super) fn measure(
    session: &mut Session,
    shape: &[usize],
    input: &[f32],
    runs: u32,
    deadline: Instant,
) -> Result<(Vec<f32>, Option<f64>), String> {
    let mut run = |keep: bool| -> Result<Vec<f32>, String> {
        let tensor =
            ort::value::TensorRef::from_array_view((shape, input)).map_err(|e| e.to_string())?;
        let outputs = session.run([tensor.into()]).map_err(|e| e.to_string())?;
        let (_, values) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(|e| e.to_string())?;
        Ok(if keep { values.to_vec() } else { Vec::new() })
    };
    let output = run(true)?;
    let mut times = Vec::new();
    for _ in 0..runs.max(1) {
        if Instant::now() > deadline && !times.is_empty() {
            break;
        }
        let start = Instant::now();
        run(false)?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok((output, times.get(times.len() / 2).copied()))
}
