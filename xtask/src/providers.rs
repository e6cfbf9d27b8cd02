//! Execution-provider plugins: pinned wheels from PyPI that hold only the
//! plugin library and what it loads, unpacked into
//! `target/onnxruntime/providers/<name>/`, where the crate finds and
//! registers them. Each is optional: a machine it does not fit, or a failed
//! download, is skipped with one line that says why, and everything keeps
//! working on ONNX Runtime's CPU kernels.

use std::path::PathBuf;
use std::process::Command;

use crate::util::{Fail, cache_dir, read_stamp, run, sha256_file};

/// A pinned plugin wheel from PyPI.
struct Wheel {
    /// What the lines say (`OpenVINO plugin`).
    title: &'static str,
    /// Folder under `providers/`, and the name the crate registers it by.
    name: &'static str,
    /// PyPI project.
    project: &'static str,
    version: &'static str,
    file: &'static str,
    sha256: &'static str,
    /// Download size, for the line that says it is downloading.
    size: &'static str,
    /// Folder of the wheel that holds the libraries.
    member_dir: &'static str,
    /// The plugin library itself.
    library: &'static str,
}

/// OpenVINO's plugin (Intel CPUs, integrated GPUs and NPUs; runs on any
/// x86_64 CPU): `onnxruntime-ep-openvino` from PyPI.
const OPENVINO: Wheel = Wheel {
    title: "OpenVINO plugin",
    name: "openvino",
    project: "onnxruntime-ep-openvino",
    version: "1.8.1",
    file: "onnxruntime_ep_openvino-1.8.1-py3-none-manylinux_2_28_x86_64.whl",
    sha256: "3832643158c8c187fcab6db661cde2a8c06a2b3559d95d0f2411ac0e51c5e924",
    size: "53 MB",
    member_dir: "onnxruntime_ep_openvino/",
    library: "libonnxruntime_providers_openvino_plugin.so",
};

/// WebGPU's plugin (any GPU through Vulkan; needs the system's
/// `libvulkan.so.1`): `onnxruntime-ep-webgpu` from PyPI.
const WEBGPU: Wheel = Wheel {
    title: "WebGPU plugin",
    name: "webgpu",
    project: "onnxruntime-ep-webgpu",
    version: "0.4.0",
    file: "onnxruntime_ep_webgpu-0.4.0-py3-none-manylinux_2_28_x86_64.whl",
    sha256: "5d8c961eda91a88961cad1fb7621f389f006b18497d6ea9ecf96f729f066cbfb",
    size: "7 MB",
    member_dir: "onnxruntime_ep_webgpu/",
    library: "libonnxruntime_providers_webgpu.so",
};

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
            "execution-provider plugins: skipped, only their x86_64 Linux wheels are pinned here ({}/{})",
            std::env::consts::OS,
            std::env::consts::ARCH
        );
        return;
    }
    if let Err(e) = install(&OPENVINO) {
        println!("OpenVINO plugin: skipped ({e}); inference runs on ONNX Runtime's CPU kernels");
    }
    match gpu_device() {
        Some(device) => {
            if let Err(e) = install(&WEBGPU) {
                println!("WebGPU plugin: skipped ({e})");
            } else {
                println!("WebGPU plugin: for {device}");
            }
        }
        None => println!(
            "WebGPU plugin: skipped, no GPU device on this machine (no /dev/nvidia0 or /dev/dri/renderD*)"
        ),
    }
}

/// A GPU device node, if this machine has one (Linux).
fn gpu_device() -> Option<String> {
    let nvidia = std::path::Path::new("/dev/nvidia0");
    if nvidia.exists() {
        return Some(nvidia.display().to_string());
    }
    let mut render: Vec<PathBuf> = std::fs::read_dir("/dev/dri")
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("renderD"))
        })
        .collect();
    render.sort();
    render.first().map(|p| p.display().to_string())
}

fn install(wheel: &Wheel) -> Result<(), Fail> {
    let Wheel {
        title,
        version,
        file,
        sha256,
        ..
    } = wheel;
    let dir = install_dir(wheel.name);
    let stamp = dir.join(".wheel-sha256");
    let library = dir.join(wheel.library);
    if library.is_file() && read_stamp(&stamp) == *sha256 {
        println!("{title} {version}: {} (present)", library.display());
        return Ok(());
    }
    let path = pinned_wheel(title, wheel.project, version, file, sha256, wheel.size)?;
    // Unpacked into a fresh folder, then moved into place.
    let partial = dir.with_extension("partial");
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial)?;
    // Only the shared libraries, and only plain names.
    crate::cuda::unpack(&path, wheel.member_dir, &partial, |name| {
        name.contains(".so")
    })?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&partial, &dir)?;
    std::fs::write(&stamp, sha256)?;
    println!("{title} {version}: installed {}", library.display());
    Ok(())
}

/// The pinned wheel `file` of `project` `version` from PyPI, in the
/// download cache: fetched if it is not there, and kept only if its sha256
/// is `sha256`. `title` and `size` are for the line that says it downloads.
pub fn pinned_wheel(
    title: &str,
    project: &str,
    version: &str,
    file: &str,
    sha256: &str,
    size: &str,
) -> Result<PathBuf, Fail> {
    let cache = cache_dir().join("wheels");
    std::fs::create_dir_all(&cache)?;
    let path = cache.join(file);
    if path.is_file() && sha256_file(&path)? == sha256 {
        return Ok(path);
    }
    println!("{title} {version}: downloading {file} ({size}) from PyPI");
    let python = crate::python::system_python()?;
    let (abi, platforms) =
        wheel_tags(file).ok_or_else(|| Fail::new(format!("{file} is not a wheel's file name")))?;
    let mut pip = Command::new(&python);
    pip.args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .args(["--disable-pip-version-check", "--progress-bar", "on"])
        .args(["--python-version", "3.11", "--implementation", "cp"])
        .args(["--abi", &abi]);
    for platform in platforms {
        pip.args(["--platform", &platform]);
    }
    run(pip
        .arg("--dest")
        .arg(&cache)
        .arg(format!("{project}=={version}")))
    .map_err(|e| Fail::new(format!("download failed: {e}")))?;
    let got = sha256_file(&path)?;
    if got != sha256 {
        std::fs::remove_file(&path)?;
        return Err(Fail::new(format!(
            "{file} has sha256 {got}, expected {sha256}: removed it"
        )));
    }
    Ok(path)
}

/// A wheel file name's ABI tag and platform tags, as pip's `--abi` and
/// `--platform` take them (`…-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl`:
/// `none`, both platforms).
pub fn wheel_tags(file: &str) -> Option<(String, Vec<String>)> {
    let stem = file.strip_suffix(".whl")?;
    let parts: Vec<&str> = stem.split('-').collect();
    let [.., abi, platform] = parts.as_slice() else {
        return None;
    };
    if parts.len() < 5 {
        return None;
    }
    Some((
        (*abi).to_owned(),
        platform.split('.').map(str::to_owned).collect(),
    ))
}
