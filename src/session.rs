//! Loading a depth model into an ONNX Runtime session and running it.
//!
//! A model the crate can drive has exactly one input, a float32 tensor of
//! rank 4 with fixed sizes (`[1, 3, H, W]` or `[1, H, W, 3]`), and exactly
//! one float32 output of rank 3 or 4 with fixed sizes. Anything else is
//! rejected at load with an error that says what was expected and what was
//! found.

use std::path::{Path, PathBuf};

use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::{TensorElementType, TensorRef, ValueType};

use crate::runtime::Runtime;

/// Errors from loading or running a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The model file does not exist.
    #[error(
        "model file {} not found: run `cargo xtask fetch-model` for FCRN, or point the plugin at an .onnx file",
        .0.display()
    )]
    NotFound(PathBuf),
    /// The model file exists but could not be read.
    #[error("model file {} could not be read: {reason}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// ONNX Runtime refused the file (not ONNX, truncated, unsupported ops).
    #[error("{} is not a model ONNX Runtime can load: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What ONNX Runtime said.
        reason: String,
    },
    /// The model's inputs or outputs are not what a depth model needs.
    #[error("{} cannot be used as a depth model: expected {expected}, found {found}", path.display())]
    UnexpectedSignature {
        /// The file.
        path: PathBuf,
        /// What the crate needs.
        expected: String,
        /// What the model has.
        found: String,
    },
    /// The input buffer does not match the model's input size.
    #[error("input has {got} values, the model takes {expected}")]
    InputSize {
        /// Values the model takes.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// ONNX Runtime failed while setting up or running the session.
    #[error("ONNX Runtime error: {0}")]
    Runtime(String),
}

/// Where ONNX Runtime runs the model.
///
/// Accelerated providers need the crate feature of the same name and an ONNX
/// Runtime build that has them; when either is missing the session runs on
/// the CPU and [`DepthSession::provider`] says why.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ExecutionProvider {
    /// ONNX Runtime's own CPU kernels (always available).
    #[default]
    Cpu,
    /// Apple's Core ML (built in on iOS and macOS; elsewhere feature `coreml`).
    CoreMl,
    /// NVIDIA CUDA (feature `cuda`; needs the GPU build of ONNX Runtime).
    Cuda,
    /// DirectML (feature `directml`; Windows).
    DirectMl,
    /// XNNPACK CPU kernels (feature `xnnpack`; mobile CPUs).
    XnnPack,
}

/// How a session is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOptions {
    /// Threads ONNX Runtime may use inside one operator. `0` picks one less
    /// than the number of cores (at least one), so that Bevy's render thread
    /// is not starved while a frame is inferred.
    pub intra_threads: usize,
    /// Run ONNX Runtime's full graph optimisations (recommended).
    pub optimize: bool,
    /// Where to run the model.
    pub provider: ExecutionProvider,
    /// Run inference below normal scheduling priority (default `true`):
    /// [`DepthWorker`](crate::worker::DepthWorker) lowers its own thread,
    /// and every thread ONNX Runtime starts for the session is created by
    /// the crate and lowered the same way (nice +10 on Linux, the utility
    /// QoS class on Apple platforms, where threads do not inherit it), so
    /// that when cores are scarce rendering and game logic run first and
    /// depth comes a little later. On Windows and elsewhere it has no effect.
    pub low_priority: bool,
    /// Let ONNX Runtime's idle intra-op threads spin (busy-wait) for the
    /// next piece of work instead of sleeping (default `false`). Spinning
    /// saves a few microseconds per operator and costs a core the game
    /// could use; docs/performance.md has the measurement. Only matters
    /// with more than one intra-op thread.
    pub spinning: bool,
    /// Core ML settings, used when `provider` is [`ExecutionProvider::CoreMl`].
    pub coreml: CoreMlOptions,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            intra_threads: 0,
            optimize: true,
            provider: ExecutionProvider::Cpu,
            low_priority: true,
            spinning: false,
            coreml: CoreMlOptions::default(),
        }
    }
}

impl SessionOptions {
    /// The thread count actually used for `intra_threads`.
    pub fn resolved_threads(&self) -> usize {
        if self.intra_threads > 0 {
            return self.intra_threads;
        }
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        cores.saturating_sub(1).max(1)
    }
}

/// The kind of model Core ML compiles the graph into.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CoreMlFormat {
    /// ML Program (default): more operators, float16 compute on the GPU and
    /// Neural Engine; iOS 15 / macOS 12 or later.
    #[default]
    MlProgram,
    /// The older NeuralNetwork format (iOS 13 / macOS 10.15 or later).
    NeuralNetwork,
}

/// Which processors Core ML may use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CoreMlComputeUnits {
    /// CPU, GPU and Neural Engine (default).
    #[default]
    All,
    /// CPU and Neural Engine.
    CpuAndNeuralEngine,
    /// CPU and GPU.
    CpuAndGpu,
    /// CPU only (for comparisons).
    CpuOnly,
}

/// Core ML execution provider settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoreMlOptions {
    /// Model format Core ML compiles to.
    pub format: CoreMlFormat,
    /// Processors Core ML may use.
    pub compute_units: CoreMlComputeUnits,
    /// Where compiled models are kept between launches (on iOS, a folder in
    /// the app's Caches directory). `None` (default): Core ML compiles the
    /// model again at every session load, which takes seconds on a phone.
    ///
    /// Each model file gets its own subfolder, named from the file's name,
    /// size and modification time and the format
    /// ([`coreml_cache_folder`]): ONNX Runtime keys its cache on the graph's
    /// metadata and names and never checks whether a cached compilation
    /// still matches, so FP32, FP16 and INT8 files of one model (same
    /// input and output names) would otherwise share one entry.
    pub cache_dir: Option<PathBuf>,
}

/// The folder below `cache_dir` that holds the Core ML compilation of the
/// model at `model` in `format`: `<file stem>-<16 hex digits>`, the digits a
/// hash of the file name, size, modification time and format. A replaced
/// or rebuilt model file gets a new folder; old folders are left for the app
/// to clear with its cache.
pub fn coreml_cache_folder(
    cache_dir: &Path,
    model: &Path,
    format: CoreMlFormat,
) -> std::io::Result<PathBuf> {
    let meta = std::fs::metadata(model)?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let name = model.file_name().unwrap_or_default().to_string_lossy();
    // FNV-1a, 64 bits: stable across runs and Rust versions (unlike
    // `DefaultHasher`), which a cache on disk needs.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let key = format!("{name}\0{}\0{modified}\0{format:?}", meta.len());
    for byte in key.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    let stem: String = model
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(48)
        .collect();
    Ok(cache_dir.join(format!("{stem}-{hash:016x}")))
}

/// Name, element type and fixed shape of one model input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// Name in the graph.
    pub name: String,
    /// Dimensions (all fixed, all positive).
    pub shape: Vec<usize>,
}

/// The most values a model input or output may hold (64 Mi floats, 256 MiB):
/// a model that declares more is refused before anything is allocated.
pub const MAX_TENSOR_VALUES: usize = 1 << 26;

impl TensorInfo {
    /// Number of values in the tensor (saturating: a shape whose product
    /// overflows reports `usize::MAX`).
    pub fn len(&self) -> usize {
        self.shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .unwrap_or(usize::MAX)
    }

    /// Whether the tensor holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A depth model loaded into ONNX Runtime.
pub struct DepthSession {
    session: Session,
    path: PathBuf,
    provider: String,
    /// The model's only input.
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
        let level = if options.optimize {
            GraphOptimizationLevel::All
        } else {
            GraphOptimizationLevel::Disable
        };
        let builder = Session::builder(&runtime.environment)
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
            .map_err(ort_err)?;
        let (mut builder, mut provider) = providers::register(builder, options, &path);
        let session = builder
            .commit_from_file(&path)
            .map_err(|e| ModelError::Invalid {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        let (input, output) = check_signature(&session, &path)?;
        let precision = session
            .metadata()
            .ok()
            .and_then(|m| m.custom("mono_depth.precision"));
        if let Some(warning) = providers::precision_warning(&provider, precision.as_deref()) {
            tracing::warn!("{}: {warning}", path.display());
            provider = format!("{provider}; {warning}");
        }
        Ok(Self {
            session,
            path,
            provider,
            input,
            output,
        })
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

mod providers {
    use std::path::Path;

    use ort::session::builder::SessionBuilder;

    use super::{ExecutionProvider, SessionOptions};

    /// Registers the provider `options` ask for, falling back to the CPU
    /// with the reason.
    pub(super) fn register(
        builder: SessionBuilder,
        options: &SessionOptions,
        model: &Path,
    ) -> (SessionBuilder, String) {
        let _ = model;
        match options.provider {
            ExecutionProvider::Cpu => (builder, "CPU".to_owned()),
            // Core ML is compiled in on Apple targets without a feature
            // (Cargo.toml gives ort `coreml` there); `cargo xtask test`
            // checks this cfg and Cargo.toml agree.
            #[cfg(any(feature = "coreml", target_os = "ios", target_os = "macos"))]
            ExecutionProvider::CoreMl => {
                let (ep, note) = coreml(&options.coreml, model);
                let (builder, mut text) = try_register(builder, ep.build(), "CoreML");
                text.push_str(&note);
                (builder, text)
            }
            #[cfg(feature = "cuda")]
            ExecutionProvider::Cuda => {
                try_register(builder, ort::ep::CUDA::default().build(), "CUDA")
            }
            #[cfg(feature = "directml")]
            ExecutionProvider::DirectMl => {
                try_register(builder, ort::ep::DirectML::default().build(), "DirectML")
            }
            #[cfg(feature = "xnnpack")]
            ExecutionProvider::XnnPack => {
                try_register(builder, ort::ep::XNNPACK::default().build(), "XNNPACK")
            }
            #[allow(unreachable_patterns)]
            other => (
                builder,
                format!(
                    "CPU ({other:?} is not compiled in: enable this crate's feature of that name)"
                ),
            ),
        }
    }

    /// The Core ML provider for `options`, and a note on its cache for the
    /// status text.
    #[cfg(any(feature = "coreml", target_os = "ios", target_os = "macos"))]
    fn coreml(options: &super::CoreMlOptions, model: &Path) -> (ort::ep::CoreML, String) {
        use ort::ep::coreml::{ComputeUnits, ModelFormat};

        use super::{CoreMlComputeUnits, CoreMlFormat};

        let ep = ort::ep::CoreML::default()
            .with_model_format(match options.format {
                CoreMlFormat::MlProgram => ModelFormat::MLProgram,
                CoreMlFormat::NeuralNetwork => ModelFormat::NeuralNetwork,
            })
            .with_compute_units(match options.compute_units {
                CoreMlComputeUnits::All => ComputeUnits::All,
                CoreMlComputeUnits::CpuAndNeuralEngine => ComputeUnits::CPUAndNeuralEngine,
                CoreMlComputeUnits::CpuAndGpu => ComputeUnits::CPUAndGPU,
                CoreMlComputeUnits::CpuOnly => ComputeUnits::CPUOnly,
            });
        let Some(dir) = &options.cache_dir else {
            return (
                ep,
                ", compiled at every load: set CoreMlOptions::cache_dir".to_owned(),
            );
        };
        match super::coreml_cache_folder(dir, model, options.format)
            .and_then(|folder| std::fs::create_dir_all(&folder).map(|()| folder))
        {
            Ok(folder) => {
                let note = format!(", compiled model cached in {}", folder.display());
                (ep.with_model_cache_dir(folder.display()), note)
            }
            Err(e) => {
                tracing::warn!("Core ML cache folder in {} unusable: {e}", dir.display());
                (ep, format!(", not cached ({}: {e})", dir.display()))
            }
        }
    }

    /// A warning for a provider that runs little of a model of this
    /// precision (`mono_depth.precision` metadata): Core ML takes few of a
    /// QDQ graph's quantised operators, so an INT8 file runs mostly on the
    /// CPU there.
    pub(super) fn precision_warning(provider: &str, precision: Option<&str>) -> Option<String> {
        (provider.starts_with("CoreML") && precision == Some("int8")).then(|| {
            "this INT8 (QDQ) model runs mostly on the CPU under Core ML: use the FP16 or FP32 file"
                .to_owned()
        })
    }

    #[allow(dead_code)]
    fn try_register(
        builder: SessionBuilder,
        ep: ort::ep::ExecutionProviderDispatch,
        name: &str,
    ) -> (SessionBuilder, String) {
        match builder.with_execution_providers([ep.error_on_failure()]) {
            Ok(builder) => (
                builder,
                format!("{name} (registered; operators it cannot run fall back to CPU)"),
            ),
            Err(e) => {
                let reason = e.to_string();
                (e.recover(), format!("CPU ({name} unavailable: {reason})"))
            }
        }
    }
}

mod threads {
    //! ONNX Runtime's intra-op threads, created by the crate so that each
    //! gets the session's priority.

    /// Starts ONNX Runtime's pool threads, named `mono-depth-ort`, at low
    /// priority when asked: on Apple platforms a thread does not inherit its
    /// creator's QoS class, so lowering the worker alone leaves the pool at
    /// the default.
    pub(super) struct PoolThreads {
        pub(super) low_priority: bool,
    }

    impl ort::environment::ThreadManager for PoolThreads {
        type Thread = std::thread::JoinHandle<()>;

        fn create(&self, work: impl FnOnce() + Send + 'static) -> ort::Result<Self::Thread> {
            let low_priority = self.low_priority;
            std::thread::Builder::new()
                .name("mono-depth-ort".to_owned())
                .spawn(move || {
                    if low_priority {
                        crate::worker::lower_thread_priority();
                    }
                    work();
                })
                .map_err(|e| ort::Error::new(format!("could not start a thread: {e}")))
        }

        fn join(thread: Self::Thread) -> ort::Result<()> {
            thread
                .join()
                .map_err(|_| ort::Error::new("an ONNX Runtime thread panicked"))
        }
    }
}

fn describe(ty: &ValueType) -> String {
    ty.to_string()
}

/// The shape of a float32 tensor with fixed sizes. A symbolic first
/// dimension (the batch, as PyTorch exports it by default) is taken as 1; any
/// other symbolic or empty dimension, or more than [`MAX_TENSOR_VALUES`]
/// values, gives `None`.
fn fixed_float_shape(ty: &ValueType) -> Option<Vec<usize>> {
    let ValueType::Tensor {
        ty: TensorElementType::Float32,
        shape,
        ..
    } = ty
    else {
        return None;
    };
    let dims: Vec<usize> = shape
        .iter()
        .enumerate()
        .map(|(i, &d)| match usize::try_from(d) {
            Ok(d) if d > 0 => Some(d),
            Err(_) if i == 0 => Some(1), // symbolic batch
            _ => None,
        })
        .collect::<Option<_>>()?;
    let values = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d))?;
    (values <= MAX_TENSOR_VALUES).then_some(dims)
}

fn check_signature(session: &Session, path: &Path) -> Result<(TensorInfo, TensorInfo), ModelError> {
    let mismatch = |expected: &str, found: String| ModelError::UnexpectedSignature {
        path: path.to_path_buf(),
        expected: expected.to_owned(),
        found,
    };
    let list = |outlets: &[ort::value::Outlet]| {
        outlets
            .iter()
            .map(|o| format!("{}: {}", o.name(), describe(o.dtype())))
            .collect::<Vec<_>>()
            .join(", ")
    };
    const INPUT: &str = "one float32 input of rank 4 with fixed sizes ([1,3,H,W] or [1,H,W,3]; \
        the batch may be symbolic) of at most 64 Mi values";
    const OUTPUT: &str = "one float32 output of rank 3 or 4 with fixed sizes (the batch may be \
        symbolic) of at most 64 Mi values";
    let [input] = session.inputs() else {
        return Err(mismatch(
            INPUT,
            format!(
                "{} inputs ({})",
                session.inputs().len(),
                list(session.inputs())
            ),
        ));
    };
    let [output] = session.outputs() else {
        return Err(mismatch(
            OUTPUT,
            format!(
                "{} outputs ({})",
                session.outputs().len(),
                list(session.outputs())
            ),
        ));
    };
    let input_shape = fixed_float_shape(input.dtype())
        .filter(|s| s.len() == 4 && s[0] == 1 && (s[1] == 3 || s[3] == 3))
        .ok_or_else(|| {
            mismatch(
                INPUT,
                format!("{}: {}", input.name(), describe(input.dtype())),
            )
        })?;
    let output_shape = fixed_float_shape(output.dtype())
        .filter(|s| (s.len() == 3 || s.len() == 4) && s[0] == 1)
        .ok_or_else(|| {
            mismatch(
                OUTPUT,
                format!("{}: {}", output.name(), describe(output.dtype())),
            )
        })?;
    Ok((
        TensorInfo {
            name: input.name().to_owned(),
            shape: input_shape,
        },
        TensorInfo {
            name: output.name().to_owned(),
            shape: output_shape,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_sizes_saturate_instead_of_overflowing() {
        let small = TensorInfo {
            name: "x".into(),
            shape: vec![1, 3, 228, 304],
        };
        assert_eq!(small.len(), 3 * 228 * 304);
        let huge = TensorInfo {
            name: "x".into(),
            shape: vec![usize::MAX, 2, 3],
        };
        assert_eq!(huge.len(), usize::MAX);
        assert!(!huge.is_empty());
    }

    #[test]
    fn each_model_file_and_format_gets_its_own_core_ml_cache() {
        let dir =
            std::env::temp_dir().join(format!("mono_depth_coreml_cache.{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cache = dir.join("cache");
        // Two precisions of one model: same graph names, different files.
        let fp32 = dir.join("fcrn.onnx");
        let int8 = dir.join("fcrn_int8.onnx");
        std::fs::write(&fp32, b"fp32 weights").unwrap();
        std::fs::write(&int8, b"int8").unwrap();
        let folder = |model: &Path, format| coreml_cache_folder(&cache, model, format).unwrap();
        let a = folder(&fp32, CoreMlFormat::MlProgram);
        assert_eq!(a.parent(), Some(cache.as_path()));
        assert!(
            a.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("fcrn-")
        );
        // Stable for the same file, different for another file or format.
        assert_eq!(a, folder(&fp32, CoreMlFormat::MlProgram));
        assert_ne!(a, folder(&int8, CoreMlFormat::MlProgram));
        assert_ne!(a, folder(&fp32, CoreMlFormat::NeuralNetwork));
        // Replacing the file (another size) moves it to a new folder.
        std::fs::write(&fp32, b"retrained fp32 weights").unwrap();
        assert_ne!(a, folder(&fp32, CoreMlFormat::MlProgram));
        // A model that is not there is an error, not a made-up folder.
        assert!(
            coreml_cache_folder(&cache, &dir.join("gone.onnx"), CoreMlFormat::MlProgram).is_err()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_int8_model_under_core_ml_is_warned_about() {
        let warn = providers::precision_warning;
        assert!(warn("CoreML (registered; …)", Some("int8")).is_some());
        assert!(warn("CoreML (registered; …)", Some("fp16")).is_none());
        assert!(warn("CoreML (registered; …)", None).is_none());
        // The CPU runs QDQ models well; a Core ML fallback to the CPU too.
        assert!(warn("CPU", Some("int8")).is_none());
        assert!(warn("CPU (CoreML unavailable: …)", Some("int8")).is_none());
    }

    #[test]
    fn spinning_is_off_and_priority_low_by_default() {
        let options = SessionOptions::default();
        assert!(!options.spinning && options.low_priority);
        assert_eq!(options.coreml.format, CoreMlFormat::MlProgram);
        assert_eq!(options.coreml.compute_units, CoreMlComputeUnits::All);
        assert_eq!(options.coreml.cache_dir, None);
    }

    #[test]
    fn automatic_thread_count_leaves_a_core_for_bevy() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let auto = SessionOptions::default().resolved_threads();
        assert!(auto >= 1 && auto < cores.max(2), "{auto} of {cores} cores");
        assert_eq!(auto, cores.saturating_sub(1).max(1));
        let fixed = SessionOptions {
            intra_threads: 3,
            ..SessionOptions::default()
        };
        assert_eq!(fixed.resolved_threads(), 3);
    }
}
