//! How a session is set up: threads, optimisation, priority, and which
//! execution provider at which precision.

use super::{AutoTrial, CoreMlOptions};

/// Where ONNX Runtime runs the model.
///
/// Built-in accelerated providers need the crate feature of the same name
/// (Core ML is built in on iOS and macOS) and an ONNX Runtime build that has
/// them; plugin providers (OpenVINO, WebGPU) need their plugin library beside ONNX
/// Runtime (see [`crate::runtime::Runtime::plugins`]). When the one asked
/// for is missing or refuses the model, the session runs on the CPU and
/// [`DepthSession::provider`](super::DepthSession::provider) says why.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ExecutionProvider {
    /// The fastest that works (default), measured: every provider this
    /// machine offers (a compiled-in GPU or NPU provider such as Core ML,
    /// CUDA or DirectML, WebGPU on a GPU, OpenVINO's GPU, NPU and CPU
    /// devices, each at its default precision and OpenVINO also at FP32) runs
    /// a few frames at load against ONNX Runtime's CPU kernels, and the
    /// fastest whose output stays within [`AutoTrial::tolerance`] wins; the
    /// decision is cached for later starts ([`SessionOptions::auto`]). One
    /// that is missing or refuses the model is skipped, with the reason in
    /// [`DepthSession::provider`](super::DepthSession::provider).
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
    /// NVIDIA CUDA (feature `cuda`, on by default; needs ONNX Runtime's GPU
    /// build, which `cargo xtask setup` installs on x86_64 Linux with an
    /// NVIDIA driver; the CUDA and cuDNN libraries beside it are loaded
    /// before the provider is registered).
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
#[derive(Debug, Clone, PartialEq)]
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
    /// How [`ExecutionProvider::Auto`] chooses: by a timed trial at load,
    /// cached between starts (default), or by the fixed order.
    pub auto: AutoTrial,
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
            auto: AutoTrial::default(),
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
