//! Execution-provider plugin libraries beside ONNX Runtime: finding them
//! and naming them.

use std::path::PathBuf;

/// An execution-provider plugin library (ONNX Runtime 1.23+ loads these at
/// run time: `libonnxruntime_providers_<name>[_plugin].so`, `.dylib`, or
/// `onnxruntime_providers_<name>[_plugin].dll`) that was found and offered
/// to the environment. Only plugins' folders are searched, never ONNX
/// Runtime's own, where its built-in provider libraries live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderPlugin {
    /// `<name>` from the file name (e.g. `openvino`).
    pub name: String,
    /// The library file.
    pub path: PathBuf,
    /// Whether ONNX Runtime accepted it, and why not.
    pub registered: Result<(), String>,
}

/// Plugin libraries in `dirs` and their immediate subfolders, by name (the
/// first file of a name wins), in a stable order.
pub fn find_provider_plugins(dirs: &[PathBuf]) -> Vec<(String, PathBuf)> {
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    let mut add = |path: PathBuf| {
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(plugin_name)
        else {
            return;
        };
        if path.is_file() && !found.iter().any(|(n, _)| *n == name) {
            found.push((name, path));
        }
    };
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                let Ok(inner) = std::fs::read_dir(&path) else {
                    continue;
                };
                let mut inner: Vec<PathBuf> = inner.flatten().map(|e| e.path()).collect();
                inner.sort();
                inner.into_iter().for_each(&mut add);
            } else {
                add(path);
            }
        }
    }
    found
}

/// `<name>` of a plugin library file name, for this platform's naming.
fn plugin_name(file: &str) -> Option<String> {
    let (prefix, suffix) = if cfg!(target_os = "windows") {
        ("onnxruntime_providers_", ".dll")
    } else if cfg!(target_vendor = "apple") {
        ("libonnxruntime_providers_", ".dylib")
    } else {
        ("libonnxruntime_providers_", ".so")
    };
    // OpenVINO's wheel names it `…_openvino_plugin.so`, WebGPU's `…_webgpu.so`.
    let stem = file.strip_prefix(prefix)?.strip_suffix(suffix)?;
    let name = stem.strip_suffix("_plugin").unwrap_or(stem);
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then(|| name.to_owned())
}
