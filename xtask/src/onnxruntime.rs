//! ONNX Runtime: the pinned `onnxruntime` wheel from PyPI, checked and
//! unpacked into `target/onnxruntime`.

use std::path::PathBuf;
use std::process::Command;

use crate::util::{Fail, cache_dir, read_stamp, repo_target, run, sha256_file};

pub const VERSION: &str = "1.31.1";

/// One platform's pinned wheel.
pub struct Wheel {
    /// pip `--platform` tag.
    pub platform: &'static str,
    /// sha256 of the wheel file.
    pub sha256: &'static str,
    /// The library inside the wheel.
    pub member: &'static str,
}

impl Wheel {
    pub fn file_name(&self) -> String {
        format!("onnxruntime-{VERSION}-cp311-cp311-{}.whl", self.platform)
    }

    /// File name of the library once extracted.
    pub fn library_name(&self) -> &'static str {
        self.member.rsplit('/').next().unwrap_or(self.member)
    }
}

/// The wheels whose hashes are pinned (CPython 3.11 builds; the library
/// inside does not depend on the Python version).
pub fn wheel_for(os: &str, arch: &str) -> Option<Wheel> {
    Some(match (os, arch) {
        ("linux", "x86_64") => Wheel {
            platform: "manylinux_2_28_x86_64",
            sha256: "5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f",
            member: "onnxruntime/capi/libonnxruntime.so.1.31.1",
        },
        ("linux", "aarch64") => Wheel {
            platform: "manylinux_2_28_aarch64",
            sha256: "da05378364c44d4407e463982d2bf8d5e4cfea873283757e48beeb41df97b7f3",
            member: "onnxruntime/capi/libonnxruntime.so.1.31.1",
        },
        ("macos", "aarch64") => Wheel {
            platform: "macosx_14_0_arm64",
            sha256: "60b6b69bfe580eab576cacc5d132a0e9cf2a37fcfd18d46dd191042b1d1ed0d7",
            member: "onnxruntime/capi/libonnxruntime.1.31.1.dylib",
        },
        ("windows", "x86_64") => Wheel {
            platform: "win_amd64",
            sha256: "c3d91b5de31e2fc82d71bd65b2b22bddee8b49057a3a36338e9a868e0ea90c05",
            member: "onnxruntime/capi/onnxruntime.dll",
        },
        _ => return None,
    })
}

/// Folder the library is extracted into (what `ORT_DYLIB_PATH` points at).
pub fn install_dir() -> PathBuf {
    repo_target().join("onnxruntime")
}

/// The wheel for this machine, or an error naming the way out.
fn this_wheel() -> Result<Wheel, Fail> {
    wheel_for(std::env::consts::OS, std::env::consts::ARCH).ok_or_else(|| {
        Fail::new(format!(
            "no pinned ONNX Runtime wheel for {}/{}: install ONNX Runtime {VERSION} yourself and set ORT_DYLIB_PATH to its library",
            std::env::consts::OS,
            std::env::consts::ARCH
        ))
    })
}

/// The downloaded wheel in the cache, fetched and checked if needed.
pub fn cached_wheel() -> Result<PathBuf, Fail> {
    let wheel = this_wheel()?;
    let dir = cache_dir().join("wheels");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(wheel.file_name());
    if path.is_file() && sha256_file(&path)? == wheel.sha256 {
        return Ok(path);
    }
    println!(
        "ONNX Runtime {VERSION}: downloading {} from PyPI into {}",
        wheel.file_name(),
        dir.display()
    );
    let python = crate::python::system_python()?;
    run(Command::new(&python)
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check"])
        .args(["--progress-bar", "on", "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311"])
        .args(["--platform", wheel.platform, "--dest"])
        .arg(&dir)
        .arg(format!("onnxruntime=={VERSION}")))
    .map_err(|e| Fail::new(format!("{e}\nONNX Runtime could not be downloaded: check that PyPI is reachable, or set ORT_DYLIB_PATH to an ONNX Runtime {VERSION} library")))?;
    let got = sha256_file(&path)?;
    if got != wheel.sha256 {
        // A wheel that does not match the pin is never used.
        std::fs::remove_file(&path)?;
        return Err(Fail::new(format!(
            "{} has sha256 {got}, expected {}: removed it; run setup again, and report this if it persists",
            wheel.file_name(),
            wheel.sha256
        )));
    }
    println!("ONNX Runtime {VERSION}: sha256 {got} matches the pin");
    Ok(path)
}

/// Makes sure `target/onnxruntime` holds the pinned library.
pub fn ensure() -> Result<(), Fail> {
    let wheel = this_wheel()?;
    let dir = install_dir();
    let library = dir.join(wheel.library_name());
    let stamp = dir.join(".wheel-sha256");
    if library.is_file() && read_stamp(&stamp) == wheel.sha256 {
        println!("ONNX Runtime {VERSION}: {} (present)", library.display());
        return Ok(());
    }
    let wheel_path = cached_wheel()?;
    std::fs::create_dir_all(&dir)?;
    let file = std::fs::File::open(&wheel_path)?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| Fail::new(format!("{}: {e}", wheel_path.display())))?;
    let mut member = archive.by_name(wheel.member).map_err(|e| {
        Fail::new(format!(
            "{} has no {}: {e}",
            wheel_path.display(),
            wheel.member
        ))
    })?;
    let partial = dir.join(format!("{}.partial", wheel.library_name()));
    let mut out = std::fs::File::create(&partial)?;
    std::io::copy(&mut member, &mut out)?;
    drop(out);
    std::fs::rename(&partial, &library)?;
    std::fs::write(&stamp, wheel.sha256)?;
    println!("ONNX Runtime {VERSION}: installed {}", library.display());
    Ok(())
}
