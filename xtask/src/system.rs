//! Debian packages the build, the tests and the demo need.

use std::path::PathBuf;
use std::process::Command;

use crate::util::{Fail, run};

/// Package, and what it is for.
const PACKAGES: &[(&str, &str)] = &[
    (
        "mesa-vulkan-drivers",
        "software Vulkan (lavapipe) for headless render tests",
    ),
    ("libvulkan1", "the Vulkan loader"),
    (
        "libclang-dev",
        "bindgen for nokhwa's V4L2 bindings (feature `webcam`)",
    ),
    ("libx11-6", "X11 window (feature `window`)"),
    ("libxcursor1", "X11 cursors (feature `window`)"),
    ("libxi6", "X11 input (feature `window`)"),
    ("libxrandr2", "X11 monitors (feature `window`)"),
    ("libxkbcommon-x11-0", "keyboard layouts (feature `window`)"),
];

fn installed(package: &str) -> Option<bool> {
    let output = Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Status}", package])
        .output()
        .ok()?;
    Some(output.status.success() && String::from_utf8_lossy(&output.stdout).trim() == "installed")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn have(program: &str) -> bool {
    Command::new(program).arg("--version").output().is_ok()
}

/// Checks the packages and installs the missing ones when it can.
pub fn ensure_packages() -> Result<(), Fail> {
    if !cfg!(target_os = "linux") {
        return Ok(());
    }
    let mut missing = Vec::new();
    for (package, why) in PACKAGES {
        match installed(package) {
            None => {
                println!(
                    "system packages: not a Debian-based system; make sure you have the equivalents of: {}",
                    PACKAGES
                        .iter()
                        .map(|(p, _)| *p)
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                return Ok(());
            }
            Some(true) => {}
            Some(false) => missing.push((*package, *why)),
        }
    }
    if missing.is_empty() {
        println!("system packages: all {} present", PACKAGES.len());
        return Ok(());
    }
    let names: Vec<&str> = missing.iter().map(|(p, _)| *p).collect();
    for (package, why) in &missing {
        println!("system packages: missing {package} ({why})");
    }
    if !is_root() || !have("apt-get") {
        return Err(Fail::new(format!(
            "missing Debian packages; install them with: sudo apt-get install -y {}",
            names.join(" ")
        )));
    }
    println!("system packages: installing {}", names.join(" "));
    run(Command::new("apt-get")
        .args(["update", "-q"])
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&names)
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    Ok(())
}

/// Mesa's software Vulkan driver description, if installed.
pub fn lavapipe_icd() -> Option<PathBuf> {
    let dir = PathBuf::from("/usr/share/vulkan/icd.d");
    let entries = std::fs::read_dir(&dir).ok()?;
    entries.filter_map(Result::ok).map(|e| e.path()).find(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("lvp_icd"))
    })
}
