//! CUDA for NVIDIA GPUs: ONNX Runtime's GPU build (`onnxruntime-gpu`) and
//! the CUDA 13 and cuDNN 9 libraries its CUDA provider loads (NVIDIA's
//! `nvidia-*` wheels), pinned and hashed, unpacked side by side into
//! `target/onnxruntime-cuda/`. The crate (feature `cuda`, on by default)
//! loads those libraries from beside the GPU build before registering the
//! provider. Only on x86_64 Linux with an NVIDIA driver new enough for CUDA
//! 13; elsewhere one line says why it was skipped and everything runs on
//! the CPU build as before.

use std::path::{Path, PathBuf};

use crate::providers::pinned_wheel;
use crate::util::{Fail, read_stamp, repo_target};

/// One pinned wheel and the folder inside it whose libraries are wanted.
pub struct Pinned {
    pub project: &'static str,
    pub version: &'static str,
    pub file: &'static str,
    pub sha256: &'static str,
    /// Download size, for the line that says it is downloading.
    pub size: &'static str,
    /// Folder of the wheel that holds the libraries.
    pub member_dir: &'static str,
}

/// The GPU build of the same ONNX Runtime as the CPU build, then CUDA 13.0's
/// libraries (the oldest CUDA 13 release line: it runs on every driver that
/// runs CUDA 13) and cuDNN 9 for CUDA 13. The versions the GPU build asks
/// for (its `cuda` and `cudnn` extras: `nvidia-cuda-runtime~=13.0`,
/// `nvidia-cudnn-cu13~=9.0`, …), hashes as PyPI lists them.
pub const WHEELS: [Pinned; 8] = [
    Pinned {
        project: "onnxruntime-gpu",
        version: crate::onnxruntime::VERSION,
        file: "onnxruntime_gpu-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl",
        sha256: "e26c475fe361b2015f45b4b824bd13f0bb20204e59b62814e6f0acd5f3d491a6",
        size: "256 MB",
        member_dir: "onnxruntime/capi/",
    },
    Pinned {
        project: "nvidia-cuda-runtime",
        version: "13.0.96",
        file: "nvidia_cuda_runtime-13.0.96-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
        sha256: "7f82250d7782aa23b6cfe765ecc7db554bd3c2870c43f3d1821f1d18aebf0548",
        size: "2 MB",
        member_dir: "nvidia/cu13/lib/",
    },
    Pinned {
        project: "nvidia-cuda-nvrtc",
        version: "13.0.88",
        file: "nvidia_cuda_nvrtc-13.0.88-py3-none-manylinux2010_x86_64.manylinux_2_12_x86_64.whl",
        sha256: "ad9b6d2ead2435f11cbb6868809d2adeeee302e9bb94bcf0539c7a40d80e8575",
        size: "90 MB",
        member_dir: "nvidia/cu13/lib/",
    },
    Pinned {
        project: "nvidia-nvjitlink",
        version: "13.0.88",
        file: "nvidia_nvjitlink-13.0.88-py3-none-manylinux2010_x86_64.manylinux_2_12_x86_64.whl",
        sha256: "13a74f429e23b921c1109976abefacc69835f2f433ebd323d3946e11d804e47b",
        size: "41 MB",
        member_dir: "nvidia/cu13/lib/",
    },
    Pinned {
        project: "nvidia-cublas",
        version: "13.0.2.14",
        file: "nvidia_cublas-13.0.2.14-py3-none-manylinux_2_27_x86_64.whl",
        sha256: "0cf238ffdbe46c00cb9aa98e7bca745c223a5ca5a53e686ac8b3e5a08fe80d6c",
        size: "421 MB",
        member_dir: "nvidia/cu13/lib/",
    },
    Pinned {
        project: "nvidia-cufft",
        version: "12.0.0.61",
        file: "nvidia_cufft-12.0.0.61-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
        sha256: "6c44f692dce8fd5ffd3e3df134b6cdb9c2f72d99cf40b62c32dde45eea9ddad3",
        size: "214 MB",
        member_dir: "nvidia/cu13/lib/",
    },
    Pinned {
        project: "nvidia-curand",
        version: "10.4.0.35",
        file: "nvidia_curand-10.4.0.35-py3-none-manylinux_2_27_x86_64.whl",
        sha256: "1aee33a5da6e1db083fe2b90082def8915f30f3248d5896bcec36a579d941bfc",
        size: "60 MB",
        member_dir: "nvidia/cu13/lib/",
    },
    Pinned {
        project: "nvidia-cudnn-cu13",
        version: "9.28.1.4",
        file: "nvidia_cudnn_cu13-9.28.1.4-py3-none-manylinux_2_27_x86_64.whl",
        sha256: "a54f205b1db1f2895d99f398754db1369816f0569dd459731f925635cf7b65ec",
        size: "517 MB",
        member_dir: "nvidia/cudnn/lib/",
    },
];

/// The GPU build's libraries that are kept (its TensorRT provider needs a
/// TensorRT that is not provided here).
const ORT_LIBRARIES: [&str; 3] = [
    "libonnxruntime.so.1.31.1",
    "libonnxruntime_providers_shared.so",
    "libonnxruntime_providers_cuda.so",
];

/// CUDA 13 needs NVIDIA's driver 580 or later.
pub const MIN_DRIVER: u32 = 580;

/// Where the GPU build and the CUDA libraries are unpacked.
pub fn install_dir() -> PathBuf {
    repo_target().join("onnxruntime-cuda")
}

/// The GPU build's folder, when it is completely installed.
pub fn installed() -> Option<PathBuf> {
    let dir = install_dir();
    (dir.join(ORT_LIBRARIES[0]).is_file() && read_stamp(&dir.join(".wheels-sha256")) == stamp())
        .then_some(dir)
}

/// What the installed folder's stamp holds: the pins, in order.
fn stamp() -> String {
    WHEELS
        .iter()
        .map(|w| w.sha256)
        .collect::<Vec<_>>()
        .join(",")
}

/// The driver version in `/proc/driver/nvidia/version`'s text (`NVRM
/// version: NVIDIA UNIX x86_64 Kernel Module  580.65.06  …`): its major
/// number and the whole version.
pub fn driver_version(text: &str) -> Option<(u32, String)> {
    let line = text.lines().find(|l| l.starts_with("NVRM version"))?;
    line.split_whitespace().find_map(|word| {
        let major = word.split('.').next()?.parse::<u32>().ok()?;
        (word.contains('.') && word.chars().all(|c| c.is_ascii_digit() || c == '.'))
            .then(|| (major, word.to_owned()))
    })
}

/// Whether CUDA is provisioned on this machine: `Ok` with the driver, or
/// why not, from the OS and architecture and the driver file's text.
pub fn applies(os: &str, arch: &str, driver: Option<&str>) -> Result<String, String> {
    if (os, arch) != ("linux", "x86_64") {
        return Err(format!(
            "only the x86_64 Linux wheels are pinned here ({os}/{arch})"
        ));
    }
    let Some(text) = driver else {
        return Err("no NVIDIA driver on this machine (no /proc/driver/nvidia/version)".to_owned());
    };
    match driver_version(text) {
        Some((major, version)) if major >= MIN_DRIVER => Ok(version),
        Some((_, version)) => Err(format!(
            "NVIDIA driver {version} is older than CUDA 13 needs ({MIN_DRIVER} or later): update the driver"
        )),
        None => Err(
            "the NVIDIA driver's version could not be read from /proc/driver/nvidia/version"
                .to_owned(),
        ),
    }
}

/// Installs the GPU build where it applies; never fails the set-up.
pub fn ensure() {
    if std::env::var_os("MONO_DEPTH_NO_CUDA").is_some() {
        println!("CUDA: skipped (MONO_DEPTH_NO_CUDA is set)");
        return;
    }
    let driver = std::fs::read_to_string("/proc/driver/nvidia/version").ok();
    let version = match applies(
        std::env::consts::OS,
        std::env::consts::ARCH,
        driver.as_deref(),
    ) {
        Ok(version) => version,
        Err(why) => {
            println!("CUDA: skipped, {why}; ONNX Runtime's CPU build is used");
            return;
        }
    };
    if let Some(dir) = installed() {
        println!(
            "CUDA: ONNX Runtime's GPU build in {} (present; driver {version})",
            dir.display()
        );
        return;
    }
    println!(
        "CUDA: NVIDIA driver {version}: installing ONNX Runtime's GPU build with CUDA 13 and cuDNN 9 (about 1.6 GB to download, 3 GB on disk; MONO_DEPTH_NO_CUDA=1 skips it)"
    );
    match install() {
        Ok(dir) => println!("CUDA: installed {}", dir.display()),
        Err(e) => println!("CUDA: skipped ({e}); ONNX Runtime's CPU build is used"),
    }
}

fn install() -> Result<PathBuf, Fail> {
    let dir = install_dir();
    let partial = dir.with_extension("partial");
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial)?;
    for wheel in &WHEELS {
        let path = pinned_wheel(
            wheel.project,
            wheel.project,
            wheel.version,
            wheel.file,
            wheel.sha256,
            wheel.size,
        )?;
        let keep = |name: &str| {
            if wheel.project == "onnxruntime-gpu" {
                ORT_LIBRARIES.contains(&name)
            } else {
                name.contains(".so")
            }
        };
        unpack(&path, wheel.member_dir, &partial, keep)?;
    }
    // The plugins of the CPU build serve the GPU build too.
    #[cfg(unix)]
    std::os::unix::fs::symlink("../onnxruntime/providers", partial.join("providers"))?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&partial, &dir)?;
    std::fs::write(dir.join(".wheels-sha256"), stamp())?;
    Ok(dir)
}

/// The plain-named files of `wheel` directly under `member_dir` that `keep`
/// accepts, written into `into`.
pub fn unpack(
    wheel: &Path,
    member_dir: &str,
    into: &Path,
    keep: impl Fn(&str) -> bool,
) -> Result<usize, Fail> {
    let opened = std::fs::File::open(wheel)?;
    let mut archive =
        zip::ZipArchive::new(opened).map_err(|e| Fail::new(format!("{}: {e}", wheel.display())))?;
    let mut count = 0;
    for i in 0..archive.len() {
        let mut member = archive
            .by_index(i)
            .map_err(|e| Fail::new(format!("{}: {e}", wheel.display())))?;
        let Some(name) = member.name().strip_prefix(member_dir).map(str::to_owned) else {
            continue;
        };
        if name.is_empty() || name.contains('/') || name.contains("..") || !keep(&name) {
            continue;
        }
        let mut out = std::fs::File::create(into.join(&name))?;
        std::io::copy(&mut member, &mut out)?;
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_driver_decides_whether_cuda_is_installed() {
        let text = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.65.06  Sun Jul 27 06:54:38 UTC 2025\nGCC version:  gcc version 12.2.0\n";
        assert_eq!(driver_version(text), Some((580, "580.65.06".to_owned())));
        assert_eq!(
            applies("linux", "x86_64", Some(text)),
            Ok("580.65.06".to_owned())
        );
        let old = text.replace("580.65.06", "550.127.05");
        let why = applies("linux", "x86_64", Some(&old)).unwrap_err();
        assert!(why.contains("550.127.05") && why.contains("580"), "{why}");
        let none = applies("linux", "x86_64", None).unwrap_err();
        assert!(none.contains("no NVIDIA driver"), "{none}");
        assert!(applies("macos", "aarch64", Some(text)).is_err());
        assert!(applies("linux", "x86_64", Some("garbage")).is_err());
    }

    #[test]
    fn the_pins_name_their_own_project_and_version() {
        for wheel in &WHEELS {
            let prefix = format!("{}-{}-", wheel.project.replace('-', "_"), wheel.version);
            assert!(wheel.file.starts_with(&prefix), "{}", wheel.file);
            assert_eq!(wheel.sha256.len(), 64);
            assert!(wheel.sha256.bytes().all(|b| b.is_ascii_hexdigit()));
            let (_, platforms) = crate::providers::wheel_tags(wheel.file).unwrap();
            assert!(
                platforms.iter().all(|p| p.ends_with("x86_64")),
                "{platforms:?}"
            );
        }
        assert!(ORT_LIBRARIES[0].ends_with(crate::onnxruntime::VERSION));
    }

    #[test]
    fn only_the_wanted_libraries_are_unpacked() {
        use std::io::Write;
        let dir = std::env::temp_dir().join(format!("xtask_cuda_unpack.{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("out")).unwrap();
        let wheel = dir.join("w.whl");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&wheel).unwrap());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for name in [
            "nvidia/cu13/lib/libcudart.so.13",
            "nvidia/cu13/lib/sub/libnested.so",
            "nvidia/cu13/include/cuda.h",
            "nvidia/cu13/lib/../evil.so",
        ] {
            zip.start_file(name, options).unwrap();
            zip.write_all(name.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
        let n = unpack(&wheel, "nvidia/cu13/lib/", &dir.join("out"), |n| {
            n.contains(".so")
        })
        .unwrap();
        assert_eq!(n, 1);
        assert_eq!(
            std::fs::read(dir.join("out/libcudart.so.13")).unwrap(),
            b"nvidia/cu13/lib/libcudart.so.13"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
