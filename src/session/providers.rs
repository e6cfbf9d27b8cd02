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
    trial: Option<&str>,
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
                "OpenVINO's default precision: BF16 on CPUs that have it, FP16 on GPUs".to_owned()
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
        details.push(super::coreml::cache_note(&options.coreml, model));
    }
    let _ = model;
    let asked = options.provider;
    if asked == ExecutionProvider::Auto {
        let chosen = match trial {
            Some(summary) => format!("chosen by Auto's trial, {summary}"),
            None => "chosen by Auto".to_owned(),
        };
        details.push(if notes.is_empty() {
            chosen
        } else {
            format!("{chosen}; skipped: {}", notes.join("; "))
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
