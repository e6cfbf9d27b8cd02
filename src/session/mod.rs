//! Loading a depth model into an ONNX Runtime session and running it.
//!
//! A model the crate can drive has exactly one input, a float32 tensor of
//! rank 4 (`[1, 3, H, W]` or `[1, H, W, 3]`), and exactly one float32
//! output of rank 3 or 4. The input's height and width are fixed, or both
//! free (dynamic axes, as Depth Anything V2's exports have): such a model is
//! loaded at [`PROVISIONAL_SIZE`], its output's shape is read from a run, and
//! [`DepthSession::set_input_size`] changes the size. Anything else is
//! rejected at load with an error that says what was expected and what was
//! found.

//!
//! The parts, one file each: the options and the provider choice
//! (`options.rs`), Core ML's settings (`coreml.rs`), CUDA's libraries
//! (`cuda.rs`), which providers to try
//! and how each is registered (`providers.rs`), ONNX Runtime's pool threads
//! (`threads.rs`), the signature check (`signature.rs`) and the status
//! line (`status.rs`).

mod coreml;
#[cfg(feature = "cuda")]
mod cuda;
mod options;
mod providers;
mod signature;
mod status;
#[cfg(test)]
mod tests;
mod threads;
mod trial;
mod trial_cache;
mod trial_load;
#[cfg(test)]
mod trial_tests;

use std::path::{Path, PathBuf};

use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::TensorRef;

pub use crate::model::ModelError;
use crate::model::{ModelOverrides, ModelSpec};
use crate::runtime::Runtime;
pub use coreml::{CoreMlComputeUnits, CoreMlFormat, CoreMlOptions, coreml_cache_folder};
pub use options::{ExecutionProvider, InferencePrecision, PROVIDER_ENV, SessionOptions};
pub use signature::{MAX_TENSOR_VALUES, PROVISIONAL_SIZE, TensorInfo};
use signature::{check_run_output, check_signature};
pub use trial::{AutoTrial, TrialCache, TrialCandidate, TrialReport};

/// A depth model loaded into ONNX Runtime.
pub struct DepthSession {
    session: Session,
    path: PathBuf,
    provider: String,
    trial: Option<TrialReport>,
    dynamic: bool,
    /// The model's only input (for a dynamic one, at the size in use).
    pub input: TensorInfo,
    /// The model's only output.
    pub output: TensorInfo,
}

impl std::fmt::Debug for DepthSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DepthSession")
            .field("path", &self.path)
            .field("input", &self.input)
            .field("output", &self.output)
            .finish_non_exhaustive()
    }
}

fn ort_err(e: impl std::fmt::Display) -> ModelError {
    ModelError::Runtime(e.to_string())
}

impl DepthSession {
    /// Loads the model at `path` and checks its inputs and outputs.
    pub fn load(
        runtime: &Runtime,
        path: impl AsRef<Path>,
        options: &SessionOptions,
    ) -> Result<Self, ModelError> {
        let path = path.as_ref().to_path_buf();
        // Loaded from its path, not from bytes in memory: ONNX Runtime then
        // finds external weight files (`model.onnx.data`) beside the model.
        match std::fs::File::open(&path).and_then(|f| f.metadata()) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => {
                return Err(ModelError::Unreadable {
                    path,
                    reason: "not a file".to_owned(),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ModelError::NotFound(path));
            }
            Err(e) => {
                return Err(ModelError::Unreadable {
                    path,
                    reason: e.to_string(),
                });
            }
        }
        let (choices, mut notes) = providers::plan(runtime, options.provider);
        // Measured even when the CPU is all there is: the status then
        // says what it costs, and a later start finds it cached.
        if options.provider == ExecutionProvider::Auto && options.auto.enabled {
            return Self::load_by_trial(runtime, path, options, &choices, notes);
        }
        for choice in choices {
            match build(runtime, options, choice, &path) {
                Ok(session) => return Self::finish(session, choice, options, &notes, path, None),
                Err(Build::Register(reason)) => notes.push(format!("{}: {reason}", choice.name())),
                Err(Build::Commit(e)) if choice != providers::Choice::Cpu => {
                    notes.push(format!("{} refused this model: {e}", choice.name()));
                }
                Err(Build::Commit(reason)) => return Err(ModelError::Invalid { path, reason }),
            }
        }
        Err(ModelError::Runtime(format!(
            "no execution provider could be set up: {}",
            notes.join("; ")
        )))
    }

    /// The session's signature checked and its status line written.
    fn finish(
        session: Session,
        choice: providers::Choice,
        options: &SessionOptions,
        notes: &[String],
        path: PathBuf,
        trial: Option<TrialReport>,
    ) -> Result<Self, ModelError> {
        let (input, output, dynamic) = check_signature(&session, &path)?;
        let summary = trial.as_ref().map(TrialReport::summary);
        let mut provider = status::describe(choice, options, notes, &path, summary.as_deref());
        let precision = session
            .metadata()
            .ok()
            .and_then(|m| m.custom("mono_depth.precision"));
        if let Some(warning) = status::precision_warning(&provider, precision.as_deref()) {
            tracing::warn!("{}: {warning}", path.display());
            provider = format!("{provider}; {warning}");
        }
        let mut loaded = Self {
            session,
            path,
            provider,
            input,
            output,
            trial,
            dynamic,
        };
        if dynamic {
            loaded.probe_output()?;
        }
        Ok(loaded)
    }

    /// Whether the input's height and width are free (dynamic axes).
    pub fn is_dynamic(&self) -> bool {
        self.dynamic
    }

    /// Sets the input size of a model with dynamic height and width and
    /// reads the output's shape at that size from one run (on zeros).
    /// Refused for a model with a fixed size, for a size of 0 or over
    /// [`MAX_TENSOR_VALUES`], and when the model fails at that size or its
    /// output there is not `[1,1,H,W]`-like; the size in use is then kept.
    pub fn set_input_size(&mut self, height: usize, width: usize) -> Result<(), ModelError> {
        let bad = |found: String| ModelError::UnexpectedSignature {
            path: self.path.clone(),
            expected: "a model with dynamic height and width that runs at the size asked for"
                .to_owned(),
            found,
        };
        if !self.dynamic {
            return Err(bad(format!(
                "a fixed input {:?} (asked for {height}×{width})",
                self.input.shape
            )));
        }
        let mut shape = self.input.shape.clone();
        let (h, w) = if shape[1] == 3 { (2, 3) } else { (1, 2) };
        (shape[h], shape[w]) = (height, width);
        let values = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        if height == 0 || width == 0 || values.is_none_or(|v| v > MAX_TENSOR_VALUES) {
            return Err(bad(format!("an input of {height}×{width}")));
        }
        let previous = std::mem::replace(&mut self.input.shape, shape);
        if let Err(e) = self.probe_output() {
            self.input.shape = previous;
            return Err(e);
        }
        Ok(())
    }

    /// Runs zeros at the input size in use and keeps the output's shape.
    fn probe_output(&mut self) -> Result<(), ModelError> {
        let zeros = vec![0.0f32; self.input.len()];
        let tensor = TensorRef::from_array_view((self.input.shape.as_slice(), zeros.as_slice()))
            .map_err(ort_err)?;
        let outputs = self.session.run([tensor.into()]).map_err(ort_err)?;
        let (shape, _) = outputs[0].try_extract_tensor::<f32>().map_err(ort_err)?;
        let found = shape.iter().copied().collect::<Vec<i64>>();
        let checked = check_run_output(&found).ok_or_else(|| ModelError::UnexpectedSignature {
            path: self.path.clone(),
            expected: "an output of rank 3 or 4, batch 1, at most 64 Mi values".to_owned(),
            found: format!("output {found:?} for input {:?}", self.input.shape),
        })?;
        drop(outputs);
        self.output.shape = checked;
        Ok(())
    }

    /// What `Auto`'s trial measured (or found cached), when it ran.
    pub fn trial(&self) -> Option<&TrialReport> {
        self.trial.as_ref()
    }

    /// Which execution provider runs the model, and why it is not the one
    /// asked for when it fell back (e.g. `"CPU (CUDA unavailable: …)"`).
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The file the model was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A custom metadata value stored in the model (`metadata_props`).
    pub fn metadata(&self, key: &str) -> Option<String> {
        self.session.metadata().ok()?.custom(key)
    }

    /// Runs the model on `input` (laid out as [`Self::input`]) and copies the
    /// output into `output`, which is resized to the output's length.
    pub fn run(&mut self, input: &[f32], output: &mut Vec<f32>) -> Result<(), ModelError> {
        output.clear();
        self.run_with(input, |values| output.extend_from_slice(values))
    }

    /// Runs the model on `input` and hands the output values to `read`
    /// without copying them.
    pub fn run_with(&mut self, input: &[f32], read: impl FnOnce(&[f32])) -> Result<(), ModelError> {
        let expected = self.input.len();
        if input.len() != expected {
            return Err(ModelError::InputSize {
                expected,
                got: input.len(),
            });
        }
        let tensor =
            TensorRef::from_array_view((self.input.shape.as_slice(), input)).map_err(ort_err)?;
        let outputs = self.session.run([tensor.into()]).map_err(ort_err)?;
        let (_, values) = outputs[0].try_extract_tensor::<f32>().map_err(ort_err)?;
        if values.len() != self.output.len() {
            return Err(ModelError::Runtime(format!(
                "model produced {} values, its signature promises {}",
                values.len(),
                self.output.len()
            )));
        }
        read(values);
        Ok(())
    }
}

/// Why a provider gave no session.
enum Build {
    /// It could not be registered (missing, no device).
    Register(String),
    /// ONNX Runtime refused the model with it.
    Commit(String),
}

impl std::fmt::Display for Build {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Build::Register(e) | Build::Commit(e) => f.write_str(e),
        }
    }
}

/// A session of the model at `path` on `choice`.
fn build(
    runtime: &Runtime,
    options: &SessionOptions,
    choice: providers::Choice,
    path: &Path,
) -> Result<Session, Build> {
    let builder = base_builder(runtime, options).map_err(|e| Build::Register(e.to_string()))?;
    let mut builder =
        providers::register(builder, choice, runtime, options, path).map_err(Build::Register)?;
    builder
        .commit_from_file(path)
        .map_err(|e| Build::Commit(e.to_string()))
}

/// A session builder with `options`' threads, optimisation and priority,
/// and no execution provider yet.
fn base_builder(
    runtime: &Runtime,
    options: &SessionOptions,
) -> Result<ort::session::builder::SessionBuilder, ModelError> {
    let level = if options.optimize {
        GraphOptimizationLevel::All
    } else {
        GraphOptimizationLevel::Disable
    };
    Session::builder(&runtime.environment)
        .map_err(ort_err)?
        .with_optimization_level(level)
        .map_err(ort_err)?
        .with_intra_threads(options.resolved_threads())
        .map_err(ort_err)?
        .with_intra_op_spinning(options.spinning)
        .map_err(ort_err)?
        .with_thread_manager(threads::PoolThreads {
            low_priority: options.low_priority,
        })
        .map_err(ort_err)
}

impl ModelSpec {
    /// Reads the spec of a loaded model, then applies `overrides`.
    pub fn from_session(
        session: &DepthSession,
        overrides: &ModelOverrides,
    ) -> Result<Self, ModelError> {
        let signature = crate::model::Signature {
            input_name: &session.input.name,
            input_shape: &session.input.shape,
            output_name: &session.output.name,
            output_shape: &session.output.shape,
            dynamic: session.dynamic,
        };
        Self::from_signature(
            session.path(),
            signature,
            |key| session.metadata(key),
            overrides,
        )
    }
}
