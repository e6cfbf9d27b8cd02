//! Unit tests of `Auto`'s trial: its rule, its candidates, its cache and
//! its summary.

use super::*;

/// A stand-in measurement for the trial's rule.
fn measured(name: &str, ms: Option<f64>, deviation: Option<f64>) -> TrialCandidate {
    TrialCandidate {
        name: name.to_owned(),
        ms,
        deviation,
        excluded: None,
    }
}

#[test]
fn the_trial_picks_the_fastest_candidate_within_the_tolerance() {
    let decide = |c: &[TrialCandidate]| trial::decide(c, 0.02);
    let cpu = measured("CPU", Some(248.4), Some(0.0));
    // A faster provider wins.
    let fp32 = measured("OpenVINO CPU, Fp32", Some(223.5), Some(1e-6));
    assert_eq!(decide(&[cpu.clone(), fp32.clone()]), 1);
    // A slower one does not.
    let bf16 = measured(
        "OpenVINO CPU, its default precision",
        Some(385.6),
        Some(0.01),
    );
    assert_eq!(decide(&[cpu.clone(), bf16.clone(), fp32.clone()]), 2);
    // The fastest outside the tolerance loses, however fast.
    let sloppy = measured(
        "OpenVINO CPU, its default precision",
        Some(40.0),
        Some(0.05),
    );
    assert_eq!(decide(&[cpu.clone(), sloppy.clone(), fp32.clone()]), 2);
    assert_eq!(decide(&[cpu.clone(), sloppy]), 0);
    // NaN in the output (deviation NaN), no deviation or no time: never.
    let nan = measured("broken", Some(1.0), Some(f64::NAN));
    let unmeasured = measured("no time", None, Some(0.0));
    let no_output = measured("no output", Some(1.0), None);
    assert_eq!(decide(&[cpu.clone(), nan, unmeasured, no_output]), 0);
    // A candidate marked excluded (refused, out of budget) cannot win.
    let mut refused = fp32.clone();
    refused.excluded = Some("refused the model".to_owned());
    assert_eq!(decide(&[cpu.clone(), refused]), 0);
    // Even an unmeasured reference is the fallback.
    assert_eq!(decide(&[measured("CPU", None, Some(0.0))]), 0);
}

/// A lower-precision file wins only by a clear margin over the given
/// file's fastest: a tie is noise, and costs accuracy.
#[test]
fn a_lower_precision_file_wins_only_when_clearly_faster() {
    let decide = |c: &[TrialCandidate]| trial::decide(c, 0.02);
    let cpu = measured("CPU", Some(100.0), Some(0.0));
    let close = measured("CPU, FP16 file", Some(99.0), Some(0.005));
    assert!(close.is_lower_precision_file() && !cpu.is_lower_precision_file());
    assert_eq!(decide(&[cpu.clone(), close.clone()]), 0);
    let fast = measured("CPU, INT8 file", Some(60.0), Some(0.001));
    assert_eq!(decide(&[cpu.clone(), close, fast.clone()]), 2);
    // Outside the tolerance it loses however fast.
    let sloppy = measured("CPU, INT8 file", Some(30.0), Some(0.2));
    assert_eq!(decide(&[cpu.clone(), sloppy]), 0);
    // Against a faster provider on the given file, the margin is to that.
    let provider = measured("OpenVINO CPU, Fp32", Some(62.0), Some(1e-6));
    assert_eq!(decide(&[cpu, provider, fast]), 1);
}

#[test]
fn the_trial_deviation_is_relative_and_nan_for_broken_output() {
    let reference = [1.0, 2.0, 3.0, 4.0];
    assert_eq!(trial::deviation(&reference, &reference), 0.0);
    let off = [1.1, 2.0, 3.0, 3.9];
    assert!((trial::deviation(&off, &reference) - 0.2 / 10.0).abs() < 1e-6);
    assert!(trial::deviation(&[1.0, f32::NAN, 3.0, 4.0], &reference).is_nan());
    assert!(trial::deviation(&[1.0, f32::INFINITY, 3.0, 4.0], &reference).is_nan());
    assert!(trial::deviation(&[1.0, 2.0], &reference).is_nan());
    assert_eq!(trial::deviation(&[0.0; 3], &[0.0; 3]), 0.0);
    assert_eq!(trial::deviation(&[1.0; 3], &[0.0; 3]), f64::INFINITY);
}

#[test]
fn the_trial_tries_openvino_at_its_default_and_at_fp32_after_the_cpu() {
    use ort::memory::DeviceType;
    use providers::Choice;
    let plan = [
        Choice::WebGpu,
        Choice::OpenVino(DeviceType::CPU),
        Choice::Cpu,
    ];
    let names = |precision| -> Vec<String> {
        trial::candidates(&plan, precision, &[])
            .into_iter()
            .map(|c| c.name())
            .collect()
    };
    assert_eq!(
        names(InferencePrecision::ProviderDefault),
        [
            "CPU",
            "WebGPU",
            "OpenVINO CPU, its default precision",
            "OpenVINO CPU, Fp32"
        ]
    );
    // An app that asked for a precision gets only that one.
    assert_eq!(
        names(InferencePrecision::Fp32),
        ["CPU", "WebGPU, Fp32", "OpenVINO CPU, Fp32"]
    );
}

/// The lower-precision files beside the model come after the given file's
/// candidates, each on the CPU and on every provider, at the precision
/// asked for; they are found by name, and a file that is itself a
/// lower-precision one has none.
#[test]
fn the_trial_tries_the_files_beside_the_model_after_the_given_one() {
    use ort::memory::DeviceType;
    use providers::Choice;
    use trial::ModelFile;
    let plan = [Choice::OpenVino(DeviceType::CPU), Choice::Cpu];
    let files = [ModelFile::Fp16, ModelFile::Int8];
    let names: Vec<String> = trial::candidates(&plan, InferencePrecision::ProviderDefault, &files)
        .into_iter()
        .map(|c| c.name())
        .collect();
    assert_eq!(
        names,
        [
            "CPU",
            "OpenVINO CPU, its default precision",
            "OpenVINO CPU, Fp32",
            "CPU, FP16 file",
            "OpenVINO CPU, its default precision, FP16 file",
            "CPU, INT8 file",
            "OpenVINO CPU, its default precision, INT8 file",
        ]
    );

    let dir = std::env::temp_dir().join(format!("mono_depth_trial_files.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let given = dir.join("depth.onnx");
    std::fs::write(&given, b"fp32").unwrap();
    assert_eq!(trial::lower_precision_files(&given), []);
    std::fs::write(dir.join("depth_int8.onnx"), b"int8").unwrap();
    assert_eq!(trial::lower_precision_files(&given), [ModelFile::Int8]);
    std::fs::write(dir.join("depth_fp16.onnx"), b"fp16").unwrap();
    assert_eq!(trial::lower_precision_files(&given), files);
    assert_eq!(ModelFile::Int8.path(&given), dir.join("depth_int8.onnx"));
    assert_eq!(ModelFile::Given.path(&given), given);
    // Given the INT8 file, nothing else is tried.
    assert_eq!(
        trial::lower_precision_files(&dir.join("depth_int8.onnx")),
        []
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The GPUs and drivers in the key come from the system's device lists: a
/// changed driver or card changes the key, so the trial measures again.
#[cfg(unix)]
#[test]
fn the_trial_key_names_the_gpus_and_their_drivers() {
    let root = std::env::temp_dir().join(format!("mono_depth_trial_gpus.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    assert_eq!(trial_cache::gpus(&root), "");
    let card = |n: &str, vendor: &str, device: &str, driver: &str| {
        let dev = root.join("sys/class/drm").join(n).join("device");
        std::fs::create_dir_all(&dev).unwrap();
        std::fs::write(dev.join("vendor"), format!("{vendor}\n")).unwrap();
        std::fs::write(dev.join("device"), format!("{device}\n")).unwrap();
        let target = root.join("drivers").join(driver);
        std::fs::create_dir_all(&target).unwrap();
        let link = dev.join("driver");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link).unwrap();
    };
    card("card1", "0x10de", "0x2335", "nvidia");
    card("card0", "0x8086", "0x46a6", "i915");
    // Connectors (card0-HDMI-A-1) are not cards.
    std::fs::create_dir_all(root.join("sys/class/drm/card0-HDMI-A-1")).unwrap();
    assert_eq!(
        trial_cache::gpus(&root),
        "0x10de:0x2335 nvidia, 0x8086:0x46a6 i915"
    );
    let version = root.join("proc/driver/nvidia");
    std::fs::create_dir_all(&version).unwrap();
    let driver = |v: &str| {
        std::fs::write(
            version.join("version"),
            format!("NVRM version: NVIDIA UNIX x86_64 Kernel Module  {v}\nGCC version: 12\n"),
        )
        .unwrap();
        trial_cache::gpus(&root)
    };
    let old = driver("580.65.06");
    assert!(old.ends_with("Kernel Module  580.65.06"), "{old}");
    assert_ne!(driver("590.12"), old);
    card("card0", "0x8086", "0x46a6", "xe");
    assert!(trial_cache::gpus(&root).contains("0x8086:0x46a6 xe"));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn trial_decisions_are_kept_per_key_and_a_bad_cache_is_empty() {
    let dir = std::env::temp_dir().join(format!("mono_depth_trial_cache.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let file = dir.join("nested/auto_trial.json");
    let report = |winner| TrialReport {
        cached: false,
        took: std::time::Duration::from_millis(1500),
        candidates: vec![
            measured("CPU", Some(10.0), Some(0.0)),
            measured("OpenVINO CPU, Fp32", Some(5.0), Some(0.0)),
        ],
        winner,
    };
    assert_eq!(trial_cache::cached(&file, "a"), None);
    trial_cache::store(&file, "a", &report(1));
    trial_cache::store(&file, "b", &report(0));
    assert_eq!(trial_cache::cached(&file, "a"), Some(report(1)));
    assert_eq!(trial_cache::cached(&file, "b"), Some(report(0)));
    // A changed key finds nothing: the caller measures again.
    assert_eq!(trial_cache::cached(&file, "a, another model"), None);
    // Storing again replaces the key's decision.
    trial_cache::store(&file, "a", &report(0));
    assert_eq!(trial_cache::cached(&file, "a").map(|r| r.winner), Some(0));
    // The oldest go once there are too many.
    for i in 0..40 {
        trial_cache::store(&file, &format!("k{i}"), &report(0));
    }
    assert_eq!(trial_cache::cached(&file, "b"), None);
    assert!(trial_cache::cached(&file, "k39").is_some());
    // A file that is not the cache's JSON reads as empty and is replaced.
    std::fs::write(&file, b"{ not json").unwrap();
    assert_eq!(trial_cache::cached(&file, "k39"), None);
    trial_cache::store(&file, "a", &report(1));
    assert_eq!(trial_cache::cached(&file, "a").map(|r| r.winner), Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A cached decision reports the very numbers measured, to the last bit
/// (a timing such as 11.655159999999999 ms once came back as 11.65516).
#[test]
fn cached_measurements_come_back_exactly() {
    let dir = std::env::temp_dir().join(format!("mono_depth_trial_exact.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let file = dir.join("auto_trial.json");
    let report = TrialReport {
        cached: false,
        took: std::time::Duration::from_nanos(1_234_567_891),
        candidates: vec![
            measured("CPU", Some(11.655159999999999), Some(0.0)),
            measured(
                "OpenVINO CPU, Fp32",
                Some(0.1 + 0.2),
                Some(1.0 / 3.0 * 1e-7),
            ),
        ],
        winner: 1,
    };
    trial_cache::store(&file, "k", &report);
    assert_eq!(trial_cache::cached(&file, "k"), Some(report));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_trial_summary_says_what_won_by_how_much_and_what_each_measured() {
    let mut sloppy = measured(
        "OpenVINO CPU, its default precision",
        Some(100.0),
        Some(0.05),
    );
    sloppy.excluded = Some("over the tolerance".to_owned());
    let report = TrialReport {
        cached: false,
        took: std::time::Duration::from_millis(4200),
        candidates: vec![
            measured("CPU", Some(250.0), Some(0.0)),
            sloppy,
            measured("OpenVINO CPU, Fp32", Some(200.0), Some(1e-6)),
        ],
        winner: 2,
    };
    assert_eq!(report.speed_up(), Some(1.25));
    assert_eq!(
        report.summary(),
        "measured at load in 4.2 s; OpenVINO CPU, Fp32 won, 1.25× the CPU's FP32: CPU 250.0 ms, \
         OpenVINO CPU, its default precision 100.0 ms (over the tolerance), OpenVINO CPU, Fp32 200.0 ms"
    );
    let cached = TrialReport {
        cached: true,
        ..report
    };
    assert!(
        cached
            .summary()
            .starts_with("decided by an earlier trial (cached)")
    );
}

#[test]
fn auto_measures_by_default() {
    let options = SessionOptions::default();
    assert!(options.auto.enabled);
    assert_eq!(options.auto.cache, TrialCache::Default);
    assert!(options.auto.tolerance > 0.0 && options.auto.runs >= 1);
    assert_eq!(TrialCache::Off.file(), None);
    let at = std::path::PathBuf::from("/tmp/x.json");
    assert_eq!(TrialCache::At(at.clone()).file(), Some(at));
}
