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
/// Built-in accelerated providers need the crate feature of the same name
/// (Core ML is built in on iOS and macOS) and an ONNX Runtime build that has
/// them; plugin providers (OpenVINO, WebGPU) need their plugin library beside ONNX
/// Runtime (see [`crate::runtime::Runtime::plugins`]). When the one asked
/// for is missing or refuses the model, the session runs on the CPU and
/// [`DepthSession::provider`] says why.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ExecutionProvider {
    /// The fastest that works (default): a compiled-in GPU or NPU provider
    /// (Core ML, CUDA, DirectML), then WebGPU on a GPU, then OpenVINO's GPU,
    /// NPU and CPU devices, then ONNX Runtime's CPU kernels; each one that is
    /// missing or refuses the model is skipped, with the reason in
    /// [`DepthSession::provider`].
    #[default]
    Auto,
    /// ONNX Runtime's own CPU kernels (always available).
    Cpu,
    /// Intel's OpenVINO on its CPU device (plugin library
    /// `libonnxruntime_providers_openvino_plugin.so`; `cargo xtask setup`
    /// installs it on x86_64 Linux).
    OpenVino,
    /// WebGPU on the machine's GPU through Vulkan, Metal or D3D12 (plugin
    /// library `libonnxruntime_providers_webgpu.so`; `cargo xtask setup`
    /// installs it on x86_64 Linux where a GPU device exists). It computes in
    /// the precision of the model's operators (the FP16 file this crate's
    /// tooling writes stores FP16 weights but computes in FP32).
    WebGpu,
    /// Apple's Core ML (built in on iOS and macOS; elsewhere feature `coreml`).
    CoreMl,
    /// NVIDIA CUDA (feature `cuda`; needs the GPU build of ONNX Runtime).
    Cuda,
    /// DirectML (feature `directml`; Windows).
    DirectMl,
    /// XNNPACK CPU kernels (feature `xnnpack`; mobile CPUs).
    XnnPack,
}

/// Environment variable that sets `SessionOptions::default()`'s provider
/// (`auto`, `cpu`, `openvino`, `webgpu`, `coreml`, `cuda`, `directml`,
/// `xnnpack`): to
/// compare providers without changing code, or to pin tests to the CPU.
pub const PROVIDER_ENV: &str = "MONO_DEPTH_PROVIDER";

impl ExecutionProvider {
    /// The provider of a lower-case name (see [`PROVIDER_ENV`]).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "auto" => Self::Auto,
            "cpu" => Self::Cpu,
            "openvino" => Self::OpenVino,
            "webgpu" => Self::WebGpu,
            "coreml" => Self::CoreMl,
            "cuda" => Self::Cuda,
            "directml" => Self::DirectMl,
            "xnnpack" => Self::XnnPack,
            _ => return None,
        })
    }

    /// [`PROVIDER_ENV`]'s provider, or [`Self::Auto`] (an unknown name is
    /// logged and ignored).
    pub fn from_env() -> Self {
        Self::from_env_value(std::env::var_os(PROVIDER_ENV).as_deref())
    }

    /// [`Self::from_env`] for a given value of the variable (`None`: unset).
    pub fn from_env_value(value: Option<&std::ffi::OsStr>) -> Self {
        let Some(value) = value else {
            return Self::Auto;
        };
        let value = value.to_string_lossy();
        Self::from_name(&value).unwrap_or_else(|| {
            tracing::warn!("{PROVIDER_ENV}={value:?} names no execution provider; using Auto");
            Self::Auto
        })
    }
}

/// The precision a provider computes in, where it has a choice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum InferencePrecision {
    /// What the provider does by itself (default): OpenVINO computes in
    /// BF16 on CPUs that have it (AMX, AVX-512 BF16) and FP16 on GPUs,
    /// ONNX Runtime's CPU kernels in the model's own precision.
    #[default]
    ProviderDefault,
    /// Exact FP32 wherever the provider allows it.
    Fp32,
    /// BF16 where the provider supports it.
    Bf16,
    /// FP16 where the provider supports it.
    Fp16,
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
    /// Where to run the model; the default is [`ExecutionProvider::Auto`],
    /// or the one [`PROVIDER_ENV`] names.
    pub provider: ExecutionProvider,
    /// The precision to compute in, where the provider has a choice
    /// (OpenVINO's `INFERENCE_PRECISION_HINT`); model files may also be FP16
    /// or INT8 themselves.
    pub precision: InferencePrecision,
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
            provider: ExecutionProvider::from_env(),
            precision: InferencePrecision::ProviderDefault,
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
        let (choices, mut notes) = providers::plan(runtime, options.provider);
        let mut loaded = None;
        for choice in choices {
            let builder = base_builder(runtime, options)?;
            let mut builder = match providers::register(builder, choice, runtime, options, &path) {
                Ok(builder) => builder,
                Err(reason) => {
                    notes.push(format!("{}: {reason}", choice.name()));
                    continue;
                }
            };
            match builder.commit_from_file(&path) {
                Ok(session) => {
                    loaded = Some((session, choice));
                    break;
                }
                Err(e) if choice != providers::Choice::Cpu => {
                    notes.push(format!("{} refused this model: {e}", choice.name()));
                }
                Err(e) => {
                    return Err(ModelError::Invalid {
                        path: path.clone(),
                        reason: e.to_string(),
                    });
                }
            }
        }
        let Some((session, choice)) = loaded else {
            return Err(ModelError::Runtime(format!(
                "no execution provider could be set up: {}",
                notes.join("; ")
            )));
        };
        let (input, output) = check_signature(&session, &path)?;
        let mut provider = providers::describe(choice, options, &notes, &path);
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

mod providers {
    use std::path::Path;

    use ort::memory::DeviceType;
    use ort::session::builder::SessionBuilder;

    use super::{ExecutionProvider, InferencePrecision, SessionOptions};
    use crate::runtime::Runtime;

    /// ONNX Runtime's name for OpenVINO's devices.
    const OPENVINO: &str = "OpenVINOExecutionProvider";
    /// ONNX Runtime's name for WebGPU's device.
    const WEBGPU: &str = "WebGpuExecutionProvider";
    /// ONNX Runtime's name for its own CPU kernels' device.
    const CPU: &str = "CPUExecutionProvider";

    /// One way to run the model, tried in order until one works.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) enum Choice {
        /// ONNX Runtime's CPU kernels: always last.
        Cpu,
        /// A provider compiled into ONNX Runtime (Core ML, CUDA, …).
        Builtin(ExecutionProvider),
        /// OpenVINO's plugin on one of its devices.
        OpenVino(DeviceType),
        /// WebGPU's plugin on the GPU it picks.
        WebGpu,
    }

    impl Choice {
        pub(super) fn name(self) -> String {
            match self {
                Choice::Cpu => "CPU".to_owned(),
                Choice::Builtin(ExecutionProvider::CoreMl) => "CoreML".to_owned(),
                Choice::Builtin(ExecutionProvider::Cuda) => "CUDA".to_owned(),
                Choice::Builtin(ExecutionProvider::DirectMl) => "DirectML".to_owned(),
                Choice::Builtin(ExecutionProvider::XnnPack) => "XNNPACK".to_owned(),
                Choice::Builtin(other) => format!("{other:?}"),
                Choice::OpenVino(device) => format!("OpenVINO {}", device_name(device)),
                Choice::WebGpu => "WebGPU".to_owned(),
            }
        }
    }

    fn device_name(device: DeviceType) -> &'static str {
        match device {
            DeviceType::CPU => "CPU",
            DeviceType::GPU => "GPU",
            DeviceType::NPU => "NPU",
            DeviceType::FPGA => "FPGA",
        }
    }

    /// Whether this build registers `provider` (its feature, or Apple's
    /// built-in Core ML).
    fn compiled_in(provider: ExecutionProvider) -> bool {
        match provider {
            ExecutionProvider::CoreMl => {
                cfg!(any(
                    feature = "coreml",
                    target_os = "ios",
                    target_os = "macos"
                ))
            }
            ExecutionProvider::Cuda => cfg!(feature = "cuda"),
            ExecutionProvider::DirectMl => cfg!(feature = "directml"),
            ExecutionProvider::XnnPack => cfg!(feature = "xnnpack"),
            ExecutionProvider::Auto
            | ExecutionProvider::Cpu
            | ExecutionProvider::OpenVino
            | ExecutionProvider::WebGpu => false,
        }
    }

    /// The device types the plugin `name` registered with the environment
    /// under ONNX Runtime's provider name `ep`, or why there are none.
    fn plugin_devices(runtime: &Runtime, name: &str, ep: &str) -> Result<Vec<DeviceType>, String> {
        let plugin = runtime.plugins.iter().find(|p| p.name == name);
        match plugin.map(|p| &p.registered) {
            None => {
                let where_ = if name == "webgpu" {
                    "x86_64 Linux machines with a GPU device"
                } else {
                    "x86_64 Linux"
                };
                return Err(format!(
                    "plugin not found beside ONNX Runtime (cargo xtask setup installs it on {where_}; or set MONO_DEPTH_EP_PATH)"
                ));
            }
            Some(Err(e)) => return Err(format!("plugin did not register: {e}")),
            Some(Ok(())) => {}
        }
        let devices: Vec<DeviceType> = runtime
            .environment
            .devices()
            .filter(|d| d.ep().ok() == Some(ep))
            .map(|d| d.hardware_device().ty())
            .collect();
        if devices.is_empty() {
            Err("plugin registered but offers no device".to_owned())
        } else {
            Ok(devices)
        }
    }

    /// The choices to try for `requested`, in order (always ending with the
    /// CPU), and notes on what was left out and why.
    pub(super) fn plan(
        runtime: &Runtime,
        requested: ExecutionProvider,
    ) -> (Vec<Choice>, Vec<String>) {
        let offered = Offered {
            openvino: plugin_devices(runtime, "openvino", OPENVINO),
            webgpu: plugin_devices(runtime, "webgpu", WEBGPU),
        };
        choices(requested, offered, compiled_in)
    }

    /// What the registered plugins offer: each one's device types, or why
    /// none.
    #[derive(Debug, Clone)]
    pub(super) struct Offered {
        pub(super) openvino: Result<Vec<DeviceType>, String>,
        pub(super) webgpu: Result<Vec<DeviceType>, String>,
    }

    /// [`plan`] from what the machine offers: the plugins' devices (or why
    /// none) and which built-in providers are compiled in.
    pub(super) fn choices(
        requested: ExecutionProvider,
        offered: Offered,
        compiled_in: impl Fn(ExecutionProvider) -> bool,
    ) -> (Vec<Choice>, Vec<String>) {
        let Offered { openvino, webgpu } = offered;
        // WebGPU only counts on a GPU: a software adapter is not faster than
        // the CPU kernels.
        let webgpu = webgpu.and_then(|devices| {
            if devices.contains(&DeviceType::GPU) {
                Ok(())
            } else {
                Err("plugin registered but offers no GPU device".to_owned())
            }
        });
        let mut choices = Vec::new();
        let mut notes = Vec::new();
        match requested {
            ExecutionProvider::Cpu => {}
            ExecutionProvider::Auto => {
                for builtin in [
                    ExecutionProvider::CoreMl,
                    ExecutionProvider::Cuda,
                    ExecutionProvider::DirectMl,
                ] {
                    if compiled_in(builtin) {
                        choices.push(Choice::Builtin(builtin));
                    }
                }
                match webgpu {
                    Ok(()) => choices.push(Choice::WebGpu),
                    Err(why) => notes.push(format!("WebGPU: {why}")),
                }
                match openvino {
                    Ok(devices) => {
                        for ty in [DeviceType::GPU, DeviceType::NPU, DeviceType::CPU] {
                            if devices.contains(&ty) {
                                choices.push(Choice::OpenVino(ty));
                            }
                        }
                    }
                    Err(why) => notes.push(format!("OpenVINO: {why}")),
                }
                if choices.is_empty() {
                    notes.push(
                        "no GPU, NPU or accelerated CPU provider in this build (features coreml, cuda, directml)"
                            .to_owned(),
                    );
                }
            }
            ExecutionProvider::OpenVino => match openvino {
                Ok(devices) if devices.contains(&DeviceType::CPU) => {
                    choices.push(Choice::OpenVino(DeviceType::CPU));
                }
                Ok(_) => notes.push("OpenVINO: no CPU device".to_owned()),
                Err(why) => notes.push(format!("OpenVINO: {why}")),
            },
            ExecutionProvider::WebGpu => match webgpu {
                Ok(()) => choices.push(Choice::WebGpu),
                Err(why) => notes.push(format!("WebGPU: {why}")),
            },
            builtin => {
                if compiled_in(builtin) {
                    choices.push(Choice::Builtin(builtin));
                } else {
                    notes.push(format!(
                        "{builtin:?} is not compiled in: enable this crate's feature of that name"
                    ));
                }
            }
        }
        choices.push(Choice::Cpu);
        (choices, notes)
    }

    /// What runs, and why not what was asked for, for the status.
    pub(super) fn describe(
        choice: Choice,
        options: &SessionOptions,
        notes: &[String],
        model: &Path,
    ) -> String {
        let mut text = choice.name();
        let mut details: Vec<String> = Vec::new();
        match choice {
            Choice::Cpu => {
                if !matches!(
                    options.precision,
                    InferencePrecision::ProviderDefault | InferencePrecision::Fp32
                ) {
                    details.push(format!(
                        "{:?} asked for: ONNX Runtime's CPU kernels compute in the model's own precision",
                        options.precision
                    ));
                }
            }
            Choice::OpenVino(_) => details.push(match options.precision {
                InferencePrecision::ProviderDefault => {
                    "OpenVINO's default precision: BF16 on CPUs that have it, FP16 on GPUs"
                        .to_owned()
                }
                other => format!("inference precision {other:?}"),
            }),
            Choice::Builtin(_) => {
                details.push("registered; operators it cannot run fall back to CPU".to_owned())
            }
            Choice::WebGpu => details.push(
                "computes in the model file's precision; operators it cannot run fall back to CPU"
                    .to_owned(),
            ),
        }
        #[cfg(any(feature = "coreml", target_os = "ios", target_os = "macos"))]
        if choice == Choice::Builtin(ExecutionProvider::CoreMl) {
            details.push(coreml_cache_note(&options.coreml, model));
        }
        let _ = model;
        let asked = options.provider;
        if asked == ExecutionProvider::Auto {
            details.push(if notes.is_empty() {
                "chosen by Auto".to_owned()
            } else {
                format!("chosen by Auto; skipped: {}", notes.join("; "))
            });
        } else if !notes.is_empty() {
            details.push(notes.join("; "));
        }
        if !details.is_empty() {
            text = format!("{text} ({})", details.join("; "));
        }
        text
    }

    /// Adds `choice` to `builder`.
    pub(super) fn register(
        builder: SessionBuilder,
        choice: Choice,
        runtime: &Runtime,
        options: &SessionOptions,
        model: &Path,
    ) -> Result<SessionBuilder, String> {
        match choice {
            // Named explicitly: `ort` turns on ONNX Runtime's automatic
            // device selection, which would otherwise hand the session to a
            // registered plugin (OpenVINO) on its own.
            Choice::Cpu => match runtime
                .environment
                .devices()
                .find(|d| d.ep().ok() == Some(CPU))
            {
                Some(device) => builder
                    .with_devices([device], None)
                    .map_err(|e| e.to_string()),
                None => Ok(builder),
            },
            Choice::OpenVino(ty) => {
                let device = runtime
                    .environment
                    .devices()
                    .find(|d| d.ep().ok() == Some(OPENVINO) && d.hardware_device().ty() == ty)
                    .ok_or_else(|| format!("no OpenVINO {} device", device_name(ty)))?;
                let config = openvino_config(ty, options.precision, options.resolved_threads());
                let entries = [(format!("{OPENVINO}.load_config"), config)];
                builder
                    .with_devices([device], Some(&entries))
                    .map_err(|e| e.to_string())
            }
            Choice::WebGpu => {
                let device = runtime
                    .environment
                    .devices()
                    .find(|d| {
                        d.ep().ok() == Some(WEBGPU) && d.hardware_device().ty() == DeviceType::GPU
                    })
                    .ok_or_else(|| "no WebGPU GPU device".to_owned())?;
                builder
                    .with_devices([device], None)
                    .map_err(|e| e.to_string())
            }
            Choice::Builtin(provider) => builtin(builder, provider, options, model),
        }
    }

    /// OpenVINO's `load_config`: properties for the device (`CPU`, `GPU`,
    /// `NPU`): the precision asked for and, on the CPU, the thread count.
    pub(super) fn openvino_config(
        device: DeviceType,
        precision: InferencePrecision,
        threads: usize,
    ) -> String {
        let mut properties = Vec::new();
        if device == DeviceType::CPU {
            properties.push(format!("\"INFERENCE_NUM_THREADS\": \"{threads}\""));
        }
        let hint = match precision {
            InferencePrecision::ProviderDefault => None,
            InferencePrecision::Fp32 => Some("f32"),
            InferencePrecision::Bf16 => Some("bf16"),
            InferencePrecision::Fp16 => Some("f16"),
        };
        if let Some(hint) = hint {
            properties.push(format!("\"INFERENCE_PRECISION_HINT\": \"{hint}\""));
        }
        format!(
            "{{\"{}\": {{{}}}}}",
            device_name(device),
            properties.join(", ")
        )
    }

    /// Registers a built-in provider; an error says why it could not be.
    fn builtin(
        builder: SessionBuilder,
        provider: ExecutionProvider,
        options: &SessionOptions,
        model: &Path,
    ) -> Result<SessionBuilder, String> {
        let ep = builtin_provider(provider, options, model)
            .ok_or_else(|| format!("{provider:?} is not compiled in"))?;
        builder
            .with_execution_providers([ep.error_on_failure()])
            .map_err(|e| format!("unavailable: {e}"))
    }

    /// The built-in provider, when this build has it.
    fn builtin_provider(
        provider: ExecutionProvider,
        options: &SessionOptions,
        model: &Path,
    ) -> Option<ort::ep::ExecutionProviderDispatch> {
        let _ = (options, model);
        match provider {
            // Core ML is compiled in on Apple targets without a feature
            // (Cargo.toml gives ort `coreml` there); `cargo xtask test`
            // checks this cfg and Cargo.toml agree.
            #[cfg(any(feature = "coreml", target_os = "ios", target_os = "macos"))]
            ExecutionProvider::CoreMl => Some(coreml(&options.coreml, model).build()),
            #[cfg(feature = "cuda")]
            ExecutionProvider::Cuda => Some(ort::ep::CUDA::default().build()),
            #[cfg(feature = "directml")]
            ExecutionProvider::DirectMl => Some(ort::ep::DirectML::default().build()),
            #[cfg(feature = "xnnpack")]
            ExecutionProvider::XnnPack => Some(ort::ep::XNNPACK::default().build()),
            _ => None,
        }
    }

    /// The Core ML provider for `options`, cached per model file when asked.
    #[cfg(any(feature = "coreml", target_os = "ios", target_os = "macos"))]
    fn coreml(options: &super::CoreMlOptions, model: &Path) -> ort::ep::CoreML {
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
        match cache_folder(options, model) {
            Some(Ok(folder)) => ep.with_model_cache_dir(folder.display()),
            _ => ep,
        }
    }

    /// The Core ML cache folder for `model`, created (`None`: no cache asked for).
    #[cfg(any(feature = "coreml", target_os = "ios", target_os = "macos"))]
    fn cache_folder(
        options: &super::CoreMlOptions,
        model: &Path,
    ) -> Option<std::io::Result<std::path::PathBuf>> {
        let dir = options.cache_dir.as_ref()?;
        Some(
            super::coreml_cache_folder(dir, model, options.format)
                .and_then(|folder| std::fs::create_dir_all(&folder).map(|()| folder)),
        )
    }

    /// Where Core ML's compiled model is kept, for the status.
    #[cfg(any(feature = "coreml", target_os = "ios", target_os = "macos"))]
    fn coreml_cache_note(options: &super::CoreMlOptions, model: &Path) -> String {
        match cache_folder(options, model) {
            None => "compiled at every load: set CoreMlOptions::cache_dir".to_owned(),
            Some(Ok(folder)) => format!("compiled model cached in {}", folder.display()),
            Some(Err(e)) => {
                tracing::warn!("Core ML cache folder unusable: {e}");
                format!("not cached: {e}")
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
    fn auto_takes_the_fastest_provider_present_and_says_why_it_skipped_others() {
        use ort::memory::DeviceType;
        use providers::{Choice, Offered, choices};
        let none = |_| false;
        let missing = || Err("plugin not found beside ONNX Runtime".to_owned());
        let offer = |openvino, webgpu| Offered { openvino, webgpu };
        // Only the CPU: the CPU, with the reasons.
        let (order, notes) = choices(ExecutionProvider::Auto, offer(missing(), missing()), none);
        assert_eq!(order, [Choice::Cpu]);
        for why in [
            "OpenVINO: plugin not found",
            "WebGPU: plugin not found",
            "no GPU, NPU",
        ] {
            assert!(notes.iter().any(|n| n.contains(why)), "{why}: {notes:?}");
        }
        // OpenVINO on the CPU and a GPU: GPU, then its CPU device, then ONNX Runtime's CPU.
        let both = || Ok(vec![DeviceType::CPU, DeviceType::GPU]);
        let (order, notes) = choices(ExecutionProvider::Auto, offer(both(), missing()), none);
        assert_eq!(
            order,
            [
                Choice::OpenVino(DeviceType::GPU),
                Choice::OpenVino(DeviceType::CPU),
                Choice::Cpu
            ]
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        // WebGPU on a GPU comes before OpenVINO; a WebGPU without a GPU
        // (a software adapter, or none) is skipped with the reason.
        let gpu = || Ok(vec![DeviceType::GPU]);
        let (order, notes) = choices(ExecutionProvider::Auto, offer(both(), gpu()), none);
        assert_eq!(order[0], Choice::WebGpu);
        assert_eq!(order.len(), 4);
        assert!(notes.is_empty(), "{notes:?}");
        let (order, notes) = choices(ExecutionProvider::Auto, offer(both(), Ok(vec![])), none);
        assert!(!order.contains(&Choice::WebGpu));
        assert!(
            notes[0].contains("WebGPU: plugin registered but offers no GPU"),
            "{notes:?}"
        );
        // A compiled-in accelerator comes first.
        let cuda = |p| p == ExecutionProvider::Cuda;
        let (order, _) = choices(ExecutionProvider::Auto, offer(both(), gpu()), cuda);
        assert_eq!(order[0], Choice::Builtin(ExecutionProvider::Cuda));
        assert_eq!(order[1], Choice::WebGpu);
        assert_eq!(order.last(), Some(&Choice::Cpu));
        // Explicit choices: only that one, then the CPU.
        let (order, _) = choices(ExecutionProvider::OpenVino, offer(both(), gpu()), none);
        assert_eq!(order, [Choice::OpenVino(DeviceType::CPU), Choice::Cpu]);
        let (order, _) = choices(ExecutionProvider::WebGpu, offer(both(), gpu()), none);
        assert_eq!(order, [Choice::WebGpu, Choice::Cpu]);
        let (order, notes) = choices(ExecutionProvider::WebGpu, offer(both(), missing()), none);
        assert_eq!(order, [Choice::Cpu]);
        assert!(
            notes[0].starts_with("WebGPU: plugin not found"),
            "{notes:?}"
        );
        let (order, notes) = choices(ExecutionProvider::OpenVino, offer(missing(), gpu()), none);
        assert_eq!(order, [Choice::Cpu]);
        assert!(
            notes[0].starts_with("OpenVINO: plugin not found"),
            "{notes:?}"
        );
        let (order, notes) = choices(ExecutionProvider::Cuda, offer(Ok(vec![]), gpu()), none);
        assert_eq!(order, [Choice::Cpu]);
        assert!(notes[0].contains("Cuda is not compiled in"), "{notes:?}");
        let cpu_only = offer(Ok(vec![DeviceType::CPU]), gpu());
        let (order, notes) = choices(ExecutionProvider::Cpu, cpu_only, cuda);
        assert_eq!((order, notes), (vec![Choice::Cpu], vec![]));
    }

    #[test]
    fn openvino_gets_the_precision_and_thread_count_asked_for() {
        use ort::memory::DeviceType;
        let config = |device, precision| providers::openvino_config(device, precision, 2);
        assert_eq!(
            config(DeviceType::CPU, InferencePrecision::ProviderDefault),
            r#"{"CPU": {"INFERENCE_NUM_THREADS": "2"}}"#
        );
        assert_eq!(
            config(DeviceType::CPU, InferencePrecision::Fp32),
            r#"{"CPU": {"INFERENCE_NUM_THREADS": "2", "INFERENCE_PRECISION_HINT": "f32"}}"#
        );
        assert_eq!(
            config(DeviceType::GPU, InferencePrecision::Fp16),
            r#"{"GPU": {"INFERENCE_PRECISION_HINT": "f16"}}"#
        );
    }

    #[test]
    fn providers_have_names_for_the_environment_variable() {
        for p in [
            ExecutionProvider::Auto,
            ExecutionProvider::Cpu,
            ExecutionProvider::OpenVino,
            ExecutionProvider::WebGpu,
            ExecutionProvider::CoreMl,
            ExecutionProvider::Cuda,
            ExecutionProvider::DirectMl,
            ExecutionProvider::XnnPack,
        ] {
            let name = format!("{p:?}").to_lowercase();
            assert_eq!(ExecutionProvider::from_name(&name), Some(p));
        }
        assert_eq!(
            ExecutionProvider::from_name(" CPU "),
            Some(ExecutionProvider::Cpu)
        );
        assert_eq!(ExecutionProvider::from_name("tpu"), None);
        // The variable: unset or unknown is Auto, a name is that provider.
        use std::ffi::OsStr;
        let env = ExecutionProvider::from_env_value;
        assert_eq!(env(None), ExecutionProvider::Auto);
        assert_eq!(
            env(Some(OsStr::new("openvino"))),
            ExecutionProvider::OpenVino
        );
        assert_eq!(env(Some(OsStr::new("cpu"))), ExecutionProvider::Cpu);
        assert_eq!(env(Some(OsStr::new("gpu please"))), ExecutionProvider::Auto);
    }

    #[test]
    fn spinning_is_off_and_priority_low_by_default() {
        let options = SessionOptions::default();
        assert!(!options.spinning && options.low_priority);
        assert_eq!(options.precision, InferencePrecision::ProviderDefault);
        assert_eq!(options.provider, ExecutionProvider::from_env());
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
