//! Unit tests of sessions: tensor sizes, provider plans, options, Core ML
//! cache folders.

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
    let dir = std::env::temp_dir().join(format!("mono_depth_coreml_cache.{}", std::process::id()));
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
    assert!(coreml_cache_folder(&cache, &dir.join("gone.onnx"), CoreMlFormat::MlProgram).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_int8_model_under_core_ml_is_warned_about() {
    let warn = status::precision_warning;
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

/// CUDA's libraries are loaded only from a folder that has them; a folder
/// without them (a system CUDA on the loader's path) loads nothing, and one
/// whose file is not a library says which file would not load.
#[cfg(all(feature = "cuda", target_os = "linux"))]
#[test]
fn cuda_libraries_are_loaded_only_from_a_folder_that_has_them() {
    let dir = std::env::temp_dir().join(format!("mono_depth_cuda_libs.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    assert_eq!(cuda::preload_from(&dir), Ok(0));
    std::fs::write(dir.join(cuda::LIBRARIES[0]), b"not a library").unwrap();
    let why = cuda::preload_from(&dir).unwrap_err();
    // No driver here: that is said first; with one, the bad file is named.
    assert!(
        why.contains("libcuda.so.1") || why.contains(cuda::LIBRARIES[0]),
        "{why}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
