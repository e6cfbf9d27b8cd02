//! Which execution providers to try, in what order, and how each is
//! registered: the plan from what the machine offers, the plugin providers'
//! devices, OpenVINO's configuration, and the status line of what runs.

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
pub(super) fn plan(runtime: &Runtime, requested: ExecutionProvider) -> (Vec<Choice>, Vec<String>) {
    let offered = Offered {
        openvino: plugin_devices(runtime, "openvino", OPENVINO),
        webgpu: plugin_devices(runtime, "webgpu", WEBGPU),
    };
    // Auto passes over a provider the library was built without (the
    // CPU-only `onnxruntime`); one asked for by name is tried, and says why.
    let usable = |p| compiled_in(p) && (requested != ExecutionProvider::Auto || in_library(p));
    #[cfg_attr(not(feature = "cuda"), allow(unused_mut))]
    let (choices, mut notes) = choices(requested, offered, usable);
    #[cfg(feature = "cuda")]
    if requested == ExecutionProvider::Auto && !in_library(ExecutionProvider::Cuda) {
        notes.push(format!("CUDA: {}", super::cuda::NOT_IN_LIBRARY));
    }
    (choices, notes)
}

/// Whether the loaded ONNX Runtime has `provider` (only CUDA's absence is
/// common: PyPI's CPU build lacks it).
fn in_library(provider: ExecutionProvider) -> bool {
    match provider {
        #[cfg(feature = "cuda")]
        ExecutionProvider::Cuda => super::cuda::in_library(),
        _ => true,
    }
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
        Choice::Builtin(provider) => builtin(builder, provider, runtime, options, model),
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
    runtime: &Runtime,
    options: &SessionOptions,
    model: &Path,
) -> Result<SessionBuilder, String> {
    let ep = builtin_provider(provider, options, model)
        .ok_or_else(|| format!("{provider:?} is not compiled in"))?;
    #[cfg(feature = "cuda")]
    if provider == ExecutionProvider::Cuda {
        if !in_library(provider) {
            return Err(format!("unavailable: {}", super::cuda::NOT_IN_LIBRARY));
        }
        super::cuda::preload(runtime).map_err(|e| format!("unavailable: {e}"))?;
    }
    let _ = runtime;
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
        ExecutionProvider::CoreMl => Some(super::coreml::provider(&options.coreml, model).build()),
        #[cfg(feature = "cuda")]
        ExecutionProvider::Cuda => Some(ort::ep::CUDA::default().build()),
        #[cfg(feature = "directml")]
        ExecutionProvider::DirectMl => Some(ort::ep::DirectML::default().build()),
        #[cfg(feature = "xnnpack")]
        ExecutionProvider::XnnPack => Some(ort::ep::XNNPACK::default().build()),
        _ => None,
    }
}
