//! The Python venv for the model tools (`tools/`), and the commands that use it.

use std::path::PathBuf;
use std::process::Command;

use crate::util::{Fail, read_stamp, repo_root, repo_target, run, sha256_files};

/// The Python that makes the venv: `$PYTHON`, else `python3`.
pub fn system_python() -> Result<PathBuf, Fail> {
    let python = std::env::var_os("PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"));
    let ok = Command::new(&python)
        .args(["-c", "import sys, venv; assert sys.version_info >= (3, 10)"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        return Err(Fail::new(format!(
            "{} (Python 3.10+ with venv and pip) not found: install it, e.g. `sudo apt-get install -y python3 python3-venv python3-pip`, or set PYTHON",
            python.display()
        )));
    }
    Ok(python)
}

fn venv_dir() -> PathBuf {
    repo_target().join("pyenv")
}

/// The venv's Python.
pub fn venv_python() -> PathBuf {
    if cfg!(windows) {
        venv_dir().join("Scripts").join("python.exe")
    } else {
        venv_dir().join("bin").join("python")
    }
}

fn tools_dir() -> PathBuf {
    repo_root().join("tools")
}

/// Makes `target/pyenv` with the pinned `tools/requirements.txt`.
pub fn ensure_venv() -> Result<(), Fail> {
    let requirements = tools_dir().join("requirements.txt");
    let want = sha256_files(std::slice::from_ref(&requirements))?;
    let stamp = venv_dir().join(".requirements-sha256");
    if venv_python().is_file() && read_stamp(&stamp) == want {
        println!("model-tool venv: {} (present)", venv_dir().display());
        return Ok(());
    }
    let python = system_python()?;
    println!(
        "model-tool venv: creating {} with {}",
        venv_dir().display(),
        requirements.display()
    );
    run(Command::new(&python)
        .args(["-m", "venv", "--clear"])
        .arg(venv_dir()))?;
    // The ONNX Runtime wheel already downloaded for the runtime is offered to
    // pip, so it is not fetched twice.
    let wheels = crate::util::cache_dir().join("wheels");
    run(Command::new(venv_python())
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--progress-bar",
            "on",
            "--find-links",
        ])
        .arg(&wheels)
        .arg("-r")
        .arg(&requirements))
    .map_err(|e| {
        Fail::new(format!(
            "{e}\nthe model-tool venv could not be made: check that PyPI is reachable"
        ))
    })?;
    std::fs::write(&stamp, want)?;
    Ok(())
}

fn tool_sources() -> Result<Vec<PathBuf>, Fail> {
    let package = tools_dir().join("mono_depth_models");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&package)
        .map_err(|e| Fail::new(format!("{}: {e}", package.display())))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "py"))
        .collect();
    files.sort();
    files.push(tools_dir().join("requirements.txt"));
    Ok(files)
}

fn tool() -> Command {
    let mut command = Command::new(venv_python());
    command
        .args(["-m", "mono_depth_models"])
        .current_dir(tools_dir());
    command
}

/// Writes the generated test models into `target/models`, unless they are
/// there already from the same tool sources (or `force`).
pub fn build_test_models(force: bool) -> Result<(), Fail> {
    let out = repo_target().join("models");
    let want = sha256_files(&tool_sources()?)?;
    let stamp = out.join(".tool-sha256");
    if !force && read_stamp(&stamp) == want {
        println!("test models: {} (present)", out.display());
        return Ok(());
    }
    ensure_venv()?;
    println!("test models: generating into {}", out.display());
    std::fs::create_dir_all(&out)?;
    run(tool().arg("build-test-models").arg("--out").arg(&out))?;
    std::fs::write(&stamp, want)?;
    Ok(())
}

/// The FP16 and INT8 variants of the full-size FCRN for the performance
/// report (the tool skips them when they are up to date).
pub fn build_bench_models() -> Result<(), Fail> {
    build_test_models(false)?;
    let out = repo_target().join("models");
    println!("benchmark models: FP16 and INT8 FCRN in {}", out.display());
    run(tool().arg("bench-models").arg(&out))
}

/// Runs the model tool's own tests.
pub fn run_tool_tests() -> Result<(), Fail> {
    let mut command = Command::new(venv_python());
    command
        .args(["-m", "unittest", "discover", "-s", "tests", "-t", "."])
        .current_dir(tools_dir());
    run(&mut command)
}

/// `fetch-model`: the official weights, converted and installed.
pub fn fetch_model(args: &[String]) -> Result<(), Fail> {
    let dest = repo_root().join("assets").join("models");
    // The tool runs in tools/; a relative --npy or --checkpoint means the
    // caller's folder.
    let cwd = std::env::current_dir()?;
    let mut resolved = Vec::with_capacity(args.len());
    let mut next_is_path = false;
    for arg in args {
        if next_is_path {
            resolved.push(cwd.join(arg).into_os_string());
        } else if let Some(path) = arg.strip_prefix("--npy=") {
            resolved.push(format!("--npy={}", cwd.join(path).display()).into());
        } else if let Some(path) = arg.strip_prefix("--checkpoint=") {
            resolved.push(format!("--checkpoint={}", cwd.join(path).display()).into());
        } else if let Some(path) = arg.strip_prefix("--file=") {
            resolved.push(format!("--file={}", cwd.join(path).display()).into());
        } else {
            resolved.push(arg.into());
        }
        next_is_path = arg == "--npy" || arg == "--checkpoint" || arg == "--file";
    }
    run(tool().arg("fetch").arg("--dest").arg(&dest).args(resolved))
}

/// Prints the model catalogue (`fetch-model --model list`).
pub fn catalogue() -> Result<(), Fail> {
    run(tool().arg("catalogue"))
}

/// Asks the download addresses for the weights file itself (an HTTP HEAD:
/// status and size, short timeouts), without downloading it. `extra` goes to
/// the tool (tests point it at a local server with `--url`). `Err` carries
/// one line saying what each address answered.
pub fn probe_weights(extra: &[&str]) -> Result<(), String> {
    let out = tool()
        .args(["fetch", "--probe"])
        .args(extra)
        .output()
        .map_err(|e| format!("the model tool could not start ({e})"))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("error: "))
        .unwrap_or("the weights could not be asked for")
        .trim();
    Err(line.to_owned())
}
