//! `cargo xtask client`: the crate as someone else's app gets it.
//!
//! `cargo publish --dry-run` packages the crate and builds the package on
//! its own. The `.crate` file is then unpacked into a temporary folder, and
//! a new Bevy app beside it takes its `Cargo.toml` lines from the README's
//! block marked `cargo xtask client` (the crate as `bevy_mono_depth = "0.1"`,
//! pointed at the unpacked package by `[patch.crates-io]`) and its code from
//! `xtask/client/main.rs`. The app is built with the repository's lock file
//! and target folder (so Bevy is not built again), then run headless with
//! the closed-form test model that the package's own tools write: it must
//! print the depth of the colour it pushed.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{self, Fail, cargo, repo_root, run};

/// The marker line above the README's `Cargo.toml` block for an app.
const README_MARKER: &str = "<!-- cargo xtask client builds an app from the next block -->";

/// The app's source (not part of the xtask build).
const CLIENT_MAIN: &str = include_str!("../client/main.rs");

pub fn run_client() -> Result<(), Fail> {
    let root = repo_root();
    let target = target_dir();

    println!("\n== cargo publish --dry-run");
    run(cargo()
        .args([
            "publish",
            "--dry-run",
            "--allow-dirty",
            "-p",
            "bevy_mono_depth",
        ])
        .current_dir(&root))?;

    let version = crate_version(&root)?;
    let name = format!("bevy_mono_depth-{version}");
    // `cargo package` leaves the file in package/, `publish --dry-run` in
    // package/tmp-crate/.
    let file = format!("{name}.crate");
    let packaged = [
        target.join("package").join(&file),
        target.join("package/tmp-crate").join(&file),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .ok_or_else(|| {
        Fail::new(format!(
            "no {file} under {} after `cargo publish --dry-run`",
            target.join("package").display()
        ))
    })?;
    let size = std::fs::metadata(&packaged)?.len();
    println!(
        "packaged: {} ({:.1} MiB compressed)",
        packaged.display(),
        size as f64 / (1024.0 * 1024.0)
    );

    let dir = std::env::temp_dir().join(format!("bevy_mono_depth_client_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("app/src"))?;
    run(Command::new("tar")
        .arg("-xzf")
        .arg(&packaged)
        .arg("-C")
        .arg(&dir))?;
    let unpacked = dir.join(&name);

    let readme = std::fs::read_to_string(root.join("README.md"))?;
    let lines = readme_block(&readme).ok_or_else(|| {
        Fail::new(format!(
            "README.md has no ```toml block after the line `{README_MARKER}`"
        ))
    })?;
    let manifest = app_manifest(&lines, &unpacked);
    let app = dir.join("app");
    std::fs::write(app.join("Cargo.toml"), &manifest)?;
    std::fs::write(app.join("src/main.rs"), CLIENT_MAIN)?;
    // The repository's lock: the same dependency versions, so the shared
    // target folder already holds them.
    std::fs::copy(root.join("Cargo.lock"), app.join("Cargo.lock"))?;
    println!("app: {}\n{manifest}", app.display());

    println!("\n== cargo build (the app, outside the repository)");
    run(cargo()
        .arg("build")
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(&app))?;

    // A model without the repository: the packaged crate's own tools, as
    // the README's "Models" section runs them from cargo's copy of the crate
    // (here with the tool venv `cargo xtask setup` made from the same
    // requirements.txt).
    println!("\n== the packaged tools write the closed-form test model");
    let models = dir.join("models");
    run(Command::new(crate::python::venv_python())
        .args(["-m", "mono_depth_models", "build-test-models", "--out"])
        .arg(&models)
        .args(["--only", "closed_form.onnx"])
        .current_dir(unpacked.join("tools")))?;
    let model = models.join("closed_form.onnx");
    println!("\n== the app, headless, with {}", model.display());
    let mut app_run = Command::new(target.join("debug").join(exe("mono_depth_client")));
    app_run.arg(&model).current_dir(&app);
    util::runtime_env(&mut app_run);
    let out = app_run
        .output()
        .map_err(|e| Fail::new(format!("could not start the app: {e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    if !out.status.success() {
        return Err(Fail::new(format!(
            "the app outside the repository failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    check_depth(&stdout)?;
    let _ = std::fs::remove_dir_all(&dir);
    println!("the packaged crate gave an app outside the repository its depth");
    Ok(())
}

/// Where cargo puts builds: `CARGO_TARGET_DIR`, else the repository's.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .map(|p| {
            if p.is_absolute() {
                p
            } else {
                repo_root().join(p)
            }
        })
        .unwrap_or_else(util::repo_target)
}

fn exe(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

/// The crate's version, from the first `version = ` of its `Cargo.toml`.
fn crate_version(root: &Path) -> Result<String, Fail> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))?;
    manifest
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .map(str::to_owned)
        .ok_or_else(|| Fail::new("Cargo.toml has no `version = \"…\"` line"))
}

/// The `toml` block after the README's marker line, without its fences.
fn readme_block(readme: &str) -> Option<String> {
    let after = &readme[readme.find(README_MARKER)? + README_MARKER.len()..];
    let start = after.find("```toml\n")? + "```toml\n".len();
    let end = after[start..].find("```")?;
    Some(after[start..start + end].to_owned())
}

/// A whole `Cargo.toml`: a package of its own, the README's lines, and the
/// crate taken from the unpacked package instead of crates.io.
fn app_manifest(readme_lines: &str, unpacked: &Path) -> String {
    format!(
        "[package]\nname = \"mono_depth_client\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         {readme_lines}\n\
         # Not in the README: this app is outside any workspace, and takes the\n\
         # crate from the package `cargo publish --dry-run` made.\n\
         [workspace]\n\n\
         [patch.crates-io]\n\
         bevy_mono_depth = {{ path = {:?} }}\n",
        unpacked.display().to_string()
    )
}

/// The closed-form test model's depth for one colour, in metres:
/// `0.5 + 0.02 R + 0.01 G + 0.005 B` (tools/README.md, "Test models").
fn closed_form_depth([r, g, b]: [u8; 3]) -> f64 {
    0.5 + 0.02 * f64::from(r) + 0.01 * f64::from(g) + 0.005 * f64::from(b)
}

/// Checks the app's "depth arrived" line: valid texels, and the nearest and
/// farthest depth both the closed-form model's depth of the pushed colour.
fn check_depth(stdout: &str) -> Result<(), Fail> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("depth arrived:"))
        .ok_or_else(|| Fail::new("the app exited without printing `depth arrived:`"))?;
    let bad = || Fail::new(format!("cannot read the app's line: {line}"));
    let between = |from: &str, to: &str| -> Result<&str, Fail> {
        let start = line.find(from).ok_or_else(bad)? + from.len();
        let end = line[start..].find(to).ok_or_else(bad)? + start;
        Ok(line[start..end].trim())
    };
    let colour: Vec<u8> = between("colour [", "]")?
        .split(',')
        .map(|c| c.trim().parse())
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let colour: [u8; 3] = colour.try_into().map_err(|_| bad())?;
    let valid: usize = between("], ", " valid")?.parse().map_err(|_| bad())?;
    let nearest: f64 = between("nearest ", " m")?.parse().map_err(|_| bad())?;
    let farthest: f64 = between("farthest ", " m")?.parse().map_err(|_| bad())?;
    let expected = closed_form_depth(colour);
    // FP32 inference and four printed decimals.
    let close = |v: f64| (v - expected).abs() <= 1e-3 * expected;
    if valid == 0 || !close(nearest) || !close(farthest) {
        return Err(Fail::new(format!(
            "the app's depth is wrong: {line}; expected valid texels at {expected:.4} m"
        )));
    }
    println!(
        "depth {nearest:.4}–{farthest:.4} m over {valid} texels; the model's formula gives {expected:.4} m"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_block_is_found_and_patched_in() {
        let readme = format!(
            "# x\n```toml\nnot = 1\n```\n{README_MARKER}\n\n```toml\n[dependencies]\nbevy_mono_depth = \"0.1\"\n```\nrest\n"
        );
        let lines = readme_block(&readme).unwrap();
        assert_eq!(lines, "[dependencies]\nbevy_mono_depth = \"0.1\"\n");
        let manifest = app_manifest(&lines, Path::new("/tmp/pkg"));
        assert!(manifest.contains("bevy_mono_depth = \"0.1\"\n"));
        assert!(manifest.contains("[patch.crates-io]\nbevy_mono_depth = { path = \"/tmp/pkg\" }"));
        assert!(readme_block("no marker").is_none());
    }

    #[test]
    fn the_repository_readme_has_the_block() {
        let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
        let lines = readme_block(&readme).unwrap();
        assert!(lines.contains("bevy_mono_depth = "), "{lines}");
    }

    #[test]
    fn the_depth_line_is_checked_against_the_formula() {
        // 0.5 + 0.8 + 0.8 + 0.6
        let good = "depth arrived: frame 3, colour [40, 80, 120], 20480 valid texels, nearest 2.7000 m, farthest 2.7001 m";
        assert!(check_depth(good).is_ok());
        let wrong = good.replace("nearest 2.7000", "nearest 0.5000");
        assert!(check_depth(&wrong).is_err());
        let none = good.replace("20480 valid", "0 valid");
        assert!(check_depth(&none).is_err());
        assert!(check_depth("nothing").is_err());
    }
}
