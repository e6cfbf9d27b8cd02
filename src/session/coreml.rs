//! Core ML's settings (format, compute units, the compiled-model cache) and
//! its execution provider.

use std::path::{Path, PathBuf};

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
    /// ([`coreml_cache_folder`]). ONNX Runtime keys a cached compilation on
    /// the model's `COREML_CACHE_KEY` metadata, else on a hash of its path,
    /// and never checks whether it still matches the file: a file replaced
    /// at the same path (an app update) would otherwise load the old
    /// compilation.
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

/// The Core ML provider for `options`, cached per model file when asked.
#[cfg(any(feature = "coreml", target_os = "ios", target_os = "macos"))]
pub(super) fn provider(options: &CoreMlOptions, model: &Path) -> ort::ep::CoreML {
    use ort::ep::coreml::{ComputeUnits, ModelFormat};

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
    options: &CoreMlOptions,
    model: &Path,
) -> Option<std::io::Result<std::path::PathBuf>> {
    let dir = options.cache_dir.as_ref()?;
    Some(
        coreml_cache_folder(dir, model, options.format)
            .and_then(|folder| std::fs::create_dir_all(&folder).map(|()| folder)),
    )
}

/// Where Core ML's compiled model is kept, for the status.
#[cfg(any(feature = "coreml", target_os = "ios", target_os = "macos"))]
pub(super) fn cache_note(options: &CoreMlOptions, model: &Path) -> String {
    match cache_folder(options, model) {
        None => "compiled at every load: set CoreMlOptions::cache_dir".to_owned(),
        Some(Ok(folder)) => format!("compiled model cached in {}", folder.display()),
        Some(Err(e)) => {
            tracing::warn!("Core ML cache folder unusable: {e}");
            format!("not cached: {e}")
        }
    }
}
