//! CUDA's libraries for ONNX Runtime's GPU build. Its CUDA provider
//! (`libonnxruntime_providers_cuda.so`) names CUDA 13's and cuDNN 9's
//! libraries without saying where they are; `cargo xtask setup` puts them
//! beside the GPU build's library (`target/onnxruntime-cuda`), and they are
//! loaded from there, by full path, before the provider is registered, so
//! that the provider finds them already loaded. Where they are not beside
//! the library (a system CUDA on the loader's path), nothing is loaded here.

use std::path::Path;
use std::sync::OnceLock;

use crate::runtime::Runtime;

/// CUDA 13's and cuDNN 9's libraries on Linux, each after those it needs.
pub(super) const LIBRARIES: &[&str] = &[
    "libcudart.so.13",
    "libnvrtc.so.13",
    "libnvJitLink.so.13",
    "libcublasLt.so.13",
    "libcublas.so.13",
    "libcurand.so.10",
    "libcufft.so.12",
    "libcudnn.so.9",
    "libcudnn_graph.so.9",
    "libcudnn_ops.so.9",
    "libcudnn_heuristic.so.9",
    "libcudnn_adv.so.9",
    "libcudnn_cnn.so.9",
    "libcudnn_engines_precompiled.so.9",
    "libcudnn_engines_runtime_compiled.so.9",
];

/// Loads [`LIBRARIES`] from the folder of the ONNX Runtime library in use,
/// once per process: how many were there, or the first that would not
/// load (then CUDA cannot run, and the error says which and why).
pub(super) fn preload(runtime: &Runtime) -> Result<usize, String> {
    static LOADED: OnceLock<Result<usize, String>> = OnceLock::new();
    LOADED
        .get_or_init(|| match runtime.library.as_deref().and_then(Path::parent) {
            Some(dir) => preload_from(dir),
            None => Ok(0),
        })
        .clone()
}

/// [`preload`] from `dir`: the libraries there, in order.
pub(super) fn preload_from(dir: &Path) -> Result<usize, String> {
    let present: Vec<_> = LIBRARIES
        .iter()
        .map(|name| dir.join(name))
        .filter(|path| path.is_file())
        .collect();
    if present.is_empty() {
        return Ok(0);
    }
    // The driver's own library comes with the driver, not with CUDA: without
    // it nothing of CUDA runs, and the libraries above that need it say only
    // that they would not load.
    ort::util::preload_dylib("libcuda.so.1").map_err(|e| {
        format!("NVIDIA's driver library libcuda.so.1 would not load (is an NVIDIA driver installed?): {e}")
    })?;
    for path in &present {
        ort::util::preload_dylib(path)
            .map_err(|e| format!("{} would not load: {e}", path.display()))?;
    }
    Ok(present.len())
}

/// Whether the ONNX Runtime library in use was built with the CUDA provider
/// (PyPI's `onnxruntime` was not; `onnxruntime-gpu` was).
pub(super) fn in_library() -> bool {
    use ort::ep::ExecutionProvider as _;
    ort::ep::CUDA::is_available().unwrap_or(false)
}

/// Why CUDA is not offered by a library without it, and how to get one.
pub(super) const NOT_IN_LIBRARY: &str = "this ONNX Runtime has no CUDA provider (its GPU build has: `cargo xtask setup` installs it into target/onnxruntime-cuda on x86_64 Linux with an NVIDIA driver)";
