//! Execution-provider plugins: pinned wheels from PyPI that hold only the
//! plugin library and what it loads, unpacked into
//! `target/onnxruntime/providers/<name>/`, where the crate finds and
//! registers them. Each is optional: a machine it does not fit, or a failed
//! download, is skipped with one line that says why, and everything keeps
//! working on ONNX Runtime's CPU kernels.

use std::path::PathBuf;
use std::process::Command;

use crate::util::{Fail, cache_dir, read_stamp, run, sha256_file};

/// OpenVINO's plugin (Intel CPUs, integrated GPUs and NPUs; runs on any
/// x86_64 CPU): `onnxruntime-ep-openvino` from PyPI.
const OPENVINO_VERSION: &str = "1.8.1";
const OPENVINO_WHEEL: &str = "onnxruntime_ep_openvino-1.8.1-py3-none-manylinux_2_28_x86_64.whl";
const OPENVINO_SHA256: &str = "3832643158c8c187fcab6db661cde2a8c06a2b3559d95d0f2411ac0e51c5e924";
/// Folder of the wheel that holds the libraries.
const OPENVINO_MEMBER_DIR: &str = "onnxruntime_ep_openvino/";

/// Where the plugin `name` is installed.
pub fn install_dir(name: &str) -> PathBuf {
    crate::onnxruntime::install_dir()
        .join("providers")
        .join(name)
}

/// Installs the plugins this machine can use; never fails the set-up.
pub fn ensure() {
    if std::env::var_os("MONO_DEPTH_NO_PLUGINS").is_some() {
        println!("execution-provider plugins: skipped (MONO_DEPTH_NO_PLUGINS is set)");
        return;
    }
    if !(cfg!(target_os = "linux") && cfg!(target_arch = "x86_64")) {
        println!(
            "OpenVINO plugin: skipped, only its x86_64 Linux wheel is pinned here ({}/{})",
            std::env::consts::OS,
            std::env::consts::ARCH
        );
        return;
    }
    if let Err(e) = openvino() {
        println!("OpenVINO plugin: skipped ({e}); inference runs on ONNX Runtime's CPU kernels");
    }
}

fn openvino() -> Result<(), Fail> {
    let dir = install_dir("openvino");
    let stamp = dir.join(".wheel-sha256");
    let library = dir.join("libonnxruntime_providers_openvino_plugin.so");
    if library.is_file() && read_stamp(&stamp) == OPENVINO_SHA256 {
        println!(
            "OpenVINO plugin {OPENVINO_VERSION}: {} (present)",
            library.display()
        );
        return Ok(());
    }
    let cache = cache_dir().join("wheels");
    std::fs::create_dir_all(&cache)?;
    let wheel = cache.join(OPENVINO_WHEEL);
    if !(wheel.is_file() && sha256_file(&wheel)? == OPENVINO_SHA256) {
        println!(
            "OpenVINO plugin {OPENVINO_VERSION}: downloading {OPENVINO_WHEEL} (53 MB) from PyPI"
        );
        let python = crate::python::system_python()?;
        run(Command::new(&python)
            .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
            .args(["--disable-pip-version-check", "--progress-bar", "on"])
            .args([
                "--python-version",
                "3.11",
                "--platform",
                "manylinux_2_28_x86_64",
                "--dest",
            ])
            .arg(&cache)
            .arg(format!("onnxruntime-ep-openvino=={OPENVINO_VERSION}")))
        .map_err(|e| Fail::new(format!("download failed: {e}")))?;
        let got = sha256_file(&wheel)?;
        if got != OPENVINO_SHA256 {
            std::fs::remove_file(&wheel)?;
            return Err(Fail::new(format!(
                "{OPENVINO_WHEEL} has sha256 {got}, expected {OPENVINO_SHA256}: removed it"
            )));
        }
    }
    // Unpacked into a fresh folder, then moved into place.
    let partial = dir.with_extension("partial");
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial)?;
    let file = std::fs::File::open(&wheel)?;
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| Fail::new(format!("{}: {e}", wheel.display())))?;
    for i in 0..archive.len() {
        let mut member = archive
            .by_index(i)
            .map_err(|e| Fail::new(format!("{}: {e}", wheel.display())))?;
        let Some(name) = member.name().strip_prefix(OPENVINO_MEMBER_DIR) else {
            continue;
        };
        // Only the shared libraries, and only plain names.
        if !name.contains(".so") || name.contains('/') || name.contains("..") {
            continue;
        }
        let mut out = std::fs::File::create(partial.join(name))?;
        std::io::copy(&mut member, &mut out)?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&partial, &dir)?;
    std::fs::write(&stamp, OPENVINO_SHA256)?;
    println!(
        "OpenVINO plugin {OPENVINO_VERSION}: installed {}",
        library.display()
    );
    Ok(())
}
