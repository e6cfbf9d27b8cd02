//! The inference thread's scheduling priority (`SessionOptions::low_priority`).
//! Alone in its own test binary: other tests' workers share the thread name.

#![cfg(target_os = "linux")]

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bevy_mono_depth::engine::EngineConfig;
use bevy_mono_depth::worker::{DepthWorker, WorkerReport};

/// The nice value of the thread whose `/proc` entry is `task` (field 19 of
/// its `stat`).
fn nice_of(task: &Path) -> Option<i32> {
    let stat = std::fs::read_to_string(task.join("stat")).ok()?;
    // The name may hold spaces: fields are counted after its closing ')'.
    stat.rfind(')')
        .and_then(|end| stat[end + 2..].split_whitespace().nth(16))
        .and_then(|n| n.parse().ok())
}

/// Thread id → (name, nice value) of every thread of this process, from
/// `/proc/self/task/*/{comm,stat}`. Names are cut to 15 bytes there.
fn all_threads() -> HashMap<String, (String, i32)> {
    let mut found = HashMap::new();
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if let Some(nice) = nice_of(&task.path()) {
            let tid = task.file_name().to_string_lossy().into_owned();
            found.insert(tid, (comm.trim().to_owned(), nice));
        }
    }
    found
}

/// Nice values of the threads started while `f` runs, by name.
///
/// A new thread names itself and sets its priority as it starts, so one
/// seen a moment after it was created may still carry its creator's name
/// and nice value: while a new thread is named `creator` (a thread `f`
/// started and ended), the threads are read again, for up to 5 s.
fn started_during<T>(creator: Option<&str>, f: impl FnOnce() -> T) -> (T, Vec<(String, i32)>) {
    let before: HashMap<String, (String, i32)> = all_threads();
    let value = f();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let started: Vec<(String, i32)> = all_threads()
            .into_iter()
            .filter(|(tid, _)| !before.contains_key(tid))
            .map(|(_, named)| named)
            .collect();
        let unsettled = started
            .iter()
            .any(|(name, _)| Some(name.as_str()) == creator);
        if !unsettled || Instant::now() > deadline {
            return (value, started);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The tests count the threads that appear while they run: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn wait_ready(worker: &DepthWorker) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match worker
            .events()
            .recv_timeout(left)
            .expect("worker went quiet")
        {
            WorkerReport::Ready(_) => return,
            WorkerReport::LoadFailed(e) => panic!("{e}"),
            _ => {}
        }
    }
}

#[test]
fn inference_runs_below_normal_priority_unless_told_otherwise() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    use bevy_mono_depth::session::SessionOptions;
    // Three intra-op threads: ONNX Runtime starts two pool threads besides
    // the worker whatever the number of cores. Thread names are cut to 15
    // bytes in /proc.
    for (low_priority, want) in [(true, 10), (false, 0)] {
        let config = EngineConfig {
            session: SessionOptions {
                low_priority,
                intra_threads: 3,
                ..common::cpu()
            },
            ..common::engine_config(common::model("closed_form.onnx"))
        };
        let (worker, started) = started_during(None, || {
            let worker = DepthWorker::with_engine(config).unwrap();
            wait_ready(&worker);
            worker
        });
        let worker_threads: Vec<i32> = started
            .iter()
            .filter(|(name, _)| name == "mono-depth-infe")
            .map(|&(_, nice)| nice)
            .collect();
        let pool: Vec<i32> = started
            .iter()
            .filter(|(name, _)| name == "mono-depth-ort")
            .map(|&(_, nice)| nice)
            .collect();
        // The worker, and any thread it starts without naming it (Linux
        // gives a new thread its creator's name: an execution-provider
        // plugin registering on the worker may start some, at its own
        // pace), so not always exactly one.
        assert!(!worker_threads.is_empty(), "the worker: {started:?}");
        assert!(
            pool.len() >= 2,
            "ONNX Runtime's two pool threads: {started:?}"
        );
        assert!(
            worker_threads.iter().chain(&pool).all(|&nice| nice == want),
            "low_priority {low_priority}: {started:?}"
        );
        drop(worker);
    }
}

/// ONNX Runtime's pool threads are lowered by the crate's thread manager,
/// not by inheritance (Apple platforms do not pass QoS on to new threads):
/// a session loaded on a normal-priority thread still gets low-priority
/// pool threads, and the loading thread keeps its priority.
#[test]
fn pool_threads_are_lowered_even_when_their_creator_is_not() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    use bevy_mono_depth::runtime::{Runtime, RuntimeSearch};
    use bevy_mono_depth::session::{DepthSession, SessionOptions};
    let runtime = Runtime::load(&RuntimeSearch::from_env(None)).unwrap();
    let options = SessionOptions {
        intra_threads: 3,
        ..common::cpu()
    };
    assert!(options.low_priority);
    let ((session, loader_nice), started) = started_during(Some("mono-depth-load"), || {
        std::thread::Builder::new()
            .name("mono-depth-load".into())
            .spawn(move || {
                let session =
                    DepthSession::load(&runtime, common::model("closed_form.onnx"), &options);
                // By its own entry, not by name: threads it starts without
                // naming them (an execution-provider plugin may) inherit
                // its name.
                (session, nice_of(Path::new("/proc/thread-self")))
            })
            .unwrap()
            .join()
            .unwrap()
    });
    // Kept alive until the threads are counted: dropping it ends the pool.
    let session = session.unwrap();
    assert_eq!(
        loader_nice,
        Some(0),
        "the loading thread keeps its priority"
    );
    let pool: Vec<i32> = started
        .iter()
        .filter(|(name, _)| name == "mono-depth-ort")
        .map(|&(_, nice)| nice)
        .collect();
    assert!(pool.len() >= 2, "ONNX Runtime's pool threads: {started:?}");
    assert!(pool.iter().all(|&nice| nice == 10), "{started:?}");
    drop(session);
}
