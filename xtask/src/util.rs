//! Small helpers shared by the commands.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// A failed step, with a message that says what to do.
#[derive(Debug)]
pub struct Fail(String);

impl Fail {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<std::io::Error> for Fail {
    fn from(e: std::io::Error) -> Self {
        Self(e.to_string())
    }
}

/// The repository root (the folder holding the workspace `Cargo.toml`).
///
/// Taken from the `CARGO_MANIFEST_DIR` that `cargo run` sets at run time, so
/// that a binary shared through a common `CARGO_TARGET_DIR` by several
/// clones works on the clone that ran it; the compile-time value is the
/// fallback.
pub fn repo_root() -> PathBuf {
    let xtask = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    xtask
        .parent()
        .map_or_else(|| xtask.clone(), Path::to_path_buf)
}

/// The repository's own `target/` folder: ONNX Runtime, the venv and the
/// generated models live here even when `CARGO_TARGET_DIR` points elsewhere.
pub fn repo_target() -> PathBuf {
    repo_root().join("target")
}

/// Where downloads are kept between clones.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir).join("bevy_mono_depth");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home).join(".cache").join("bevy_mono_depth");
    }
    repo_target().join("downloads")
}

/// `cargo`, the same one that runs the xtask.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs `command`, failing with its command line when it does not succeed.
pub fn run(command: &mut Command) -> Result<(), Fail> {
    let shown = format!("{command:?}");
    let status = command
        .status()
        .map_err(|e| Fail::new(format!("could not start {shown}: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(Fail::new(format!("{shown} failed ({status})")))
    }
}

/// Hex sha256 of a file.
pub fn sha256_file(path: &Path) -> Result<String, Fail> {
    let mut file =
        std::fs::File::open(path).map_err(|e| Fail::new(format!("{}: {e}", path.display())))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Hex sha256 of several files' contents, in order (for stamps).
pub fn sha256_files(paths: &[PathBuf]) -> Result<String, Fail> {
    let mut hasher = Sha256::new();
    for path in paths {
        hasher.update(path.to_string_lossy().as_bytes());
        hasher.update(
            std::fs::read(path).map_err(|e| Fail::new(format!("{}: {e}", path.display())))?,
        );
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a stamp file (empty when missing).
pub fn read_stamp(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Environment for anything that loads ONNX Runtime: `ORT_DYLIB_PATH` points
/// at the provisioned CPU build unless the user set it.
pub fn runtime_env(command: &mut Command) {
    if std::env::var_os("ORT_DYLIB_PATH").is_none() {
        command.env("ORT_DYLIB_PATH", crate::onnxruntime::install_dir());
    }
}

/// [`runtime_env`] for the demo and the performance report: ONNX Runtime's
/// GPU build where setup installed it (a machine with an NVIDIA driver),
/// so that CUDA can run; the CPU build otherwise.
pub fn fastest_runtime_env(command: &mut Command) {
    match crate::cuda::installed() {
        Some(dir) if std::env::var_os("ORT_DYLIB_PATH").is_none() => {
            println!("ONNX Runtime: the GPU build in {}", dir.display());
            command.env("ORT_DYLIB_PATH", dir);
        }
        _ => runtime_env(command),
    }
}

/// Environment for the test suite: the runtime (the CPU build: the tests
/// check behaviour, the same on every machine), the generated models, and
/// Mesa's software Vulkan so rendering tests give the same pixels everywhere.
pub fn test_env(command: &mut Command) {
    runtime_env(command);
    command.env("MONO_DEPTH_TEST_MODELS", repo_target().join("models"));
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        let dir = std::env::temp_dir().join("bevy_mono_depth-xdg");
        if std::fs::create_dir_all(&dir).is_ok() {
            command.env("XDG_RUNTIME_DIR", dir);
        }
    }
    if std::env::var_os("VK_ICD_FILENAMES").is_none()
        && let Some(icd) = crate::system::lavapipe_icd()
    {
        command.env("VK_ICD_FILENAMES", icd);
    }
}
