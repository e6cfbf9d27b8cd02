//! The inference thread's scheduling priority (`SessionOptions::low_priority`).
//! Alone in its own test binary: other tests' workers share the thread name.

#![cfg(target_os = "linux")]

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bevy_mono_depth::engine::EngineConfig;
use bevy_mono_depth::worker::{DepthWorker, WorkerEvent};

/// Thread id → nice value of this process's threads named `name`, from
/// `/proc/self/task/*/{comm,stat}` (nice is field 19).
fn threads_named(name: &str) -> HashMap<String, i32> {
    let mut found = HashMap::new();
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // The name may hold spaces: fields are counted after its closing ')'.
        let nice = stat
            .rfind(')')
            .and_then(|end| stat[end + 2..].split_whitespace().nth(16))
            .and_then(|n| n.parse().ok());
        if let (true, Some(nice)) = (comm.trim() == name, nice) {
            found.insert(task.file_name().to_string_lossy().into_owned(), nice);
        }
    }
    found
}

#[test]
fn inference_runs_below_normal_priority_unless_told_otherwise() {
    use bevy_mono_depth::session::SessionOptions;
    // Thread names are cut to 15 bytes in /proc; threads started by the
    // worker (ONNX Runtime's pool) inherit its name and its priority. Three
    // intra-op threads: ONNX Runtime starts two pool threads besides the
    // worker whatever the number of cores.
    let name = "mono-depth-infe";
    for (low_priority, want) in [(true, 10), (false, 0)] {
        let before = threads_named(name);
        let config = EngineConfig {
            session: SessionOptions {
                low_priority,
                intra_threads: 3,
                ..SessionOptions::default()
            },
            ..EngineConfig::new(common::model("closed_form.onnx"))
        };
        let worker = DepthWorker::with_engine(config).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match worker
                .events()
                .recv_timeout(left)
                .expect("worker went quiet")
            {
                WorkerEvent::Ready(_) => break,
                WorkerEvent::LoadFailed(e) => panic!("{e}"),
                _ => {}
            }
        }
        let started: Vec<i32> = threads_named(name)
            .into_iter()
            .filter(|(tid, _)| !before.contains_key(tid))
            .map(|(_, nice)| nice)
            .collect();
        assert!(
            started.len() >= 3,
            "the worker and ONNX Runtime's two pool threads: found {started:?}"
        );
        assert!(
            started.iter().all(|&nice| nice == want),
            "low_priority {low_priority}: nice values {started:?}"
        );
        drop(worker);
    }
}
