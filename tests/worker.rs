//! The inference thread: backpressure, failures, panics, model swaps and
//! shutdown, with stand-in estimators whose behaviour the tests control, and
//! with the real engine.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bevy_mono_depth::depth::DepthMap;
use bevy_mono_depth::engine::{DepthEstimator, EngineError, ModelSummary, StageTimings};
use bevy_mono_depth::frame::{CameraFrame, PixelFormat};
use bevy_mono_depth::worker::{DepthWorker, EstimatorFactory, WorkerReport, WorkerStats};

/// Depth = the frame's sequence number, after `delay`; fails on `fail_on`,
/// panics on `panic_on`.
struct Scripted {
    label: &'static str,
    delay: Duration,
    fail_on: Option<u64>,
    panic_on: Option<u64>,
    seen: Arc<Mutex<Vec<u64>>>,
}

impl DepthEstimator for Scripted {
    fn estimate_into(
        &mut self,
        frame: &CameraFrame,
        out: &mut DepthMap,
    ) -> Result<StageTimings, EngineError> {
        self.seen.lock().unwrap().push(frame.sequence);
        std::thread::sleep(self.delay);
        if self.panic_on == Some(frame.sequence) {
            panic!("scripted panic on frame {}", frame.sequence);
        }
        if self.fail_on == Some(frame.sequence) {
            return Err(EngineError::Other(format!(
                "scripted failure on frame {}",
                frame.sequence
            )));
        }
        *out = DepthMap::from_metres(1, 1, vec![frame.sequence as f32], (0.0, f32::MAX));
        out.sequence = frame.sequence;
        Ok(StageTimings::default())
    }

    fn summary(&self) -> ModelSummary {
        ModelSummary::named(self.label)
    }
}

struct Script {
    label: &'static str,
    delay: Duration,
    fail_on: Option<u64>,
    panic_on: Option<u64>,
}

/// A factory for `script`, counting builds and recording frames seen.
fn factory(
    script: Script,
    builds: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<u64>>>,
) -> EstimatorFactory {
    Box::new(move || {
        builds.fetch_add(1, Ordering::SeqCst);
        Ok(Box::new(Scripted {
            label: script.label,
            delay: script.delay,
            fail_on: script.fail_on,
            panic_on: script.panic_on,
            seen: Arc::clone(&seen),
        }) as Box<dyn DepthEstimator>)
    })
}

fn script(label: &'static str, delay_ms: u64) -> Script {
    Script {
        label,
        delay: Duration::from_millis(delay_ms),
        fail_on: None,
        panic_on: None,
    }
}

fn tiny_frame(pixels: &Arc<[u8]>, sequence: u64) -> CameraFrame {
    CameraFrame::packed(PixelFormat::Rgba8, 2, 2, Arc::clone(pixels))
        .unwrap()
        .with_sequence(sequence)
}

/// Reads events until `done` says stop, or fails after 30 s.
fn collect_until(
    worker: &DepthWorker,
    mut done: impl FnMut(&WorkerReport) -> bool,
) -> Vec<WorkerReport> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut events = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = worker
            .events()
            .recv_timeout(left)
            .expect("worker went quiet");
        let stop = done(&event);
        events.push(event);
        if stop {
            return events;
        }
    }
}

fn wait_idle(worker: &DepthWorker, submitted: u64) -> WorkerStats {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stats = worker.stats();
        if stats.processed + stats.dropped + stats.failed == submitted {
            return stats;
        }
        assert!(
            Instant::now() < deadline,
            "worker never caught up: {stats:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_slow_model_sees_only_the_newest_frames_and_memory_stays_flat() {
    let (builds, seen) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(Mutex::new(Vec::new())),
    );
    let worker =
        DepthWorker::spawn(factory(script("slow", 20), builds, Arc::clone(&seen))).unwrap();
    collect_until(&worker, |e| matches!(e, WorkerReport::Ready(_)));

    // Every frame shares one pixel buffer, so its reference count counts the
    // frames the worker holds on to.
    let pixels: Arc<[u8]> = Arc::from(vec![7u8; 16]);
    const FRAMES: u64 = 3000;
    let mut most_held = 0;
    for sequence in 1..=FRAMES {
        assert!(worker.submit(tiny_frame(&pixels, sequence)));
        most_held = most_held.max(Arc::strong_count(&pixels) - 1);
    }
    let stats = wait_idle(&worker, FRAMES);
    assert_eq!(stats.received, FRAMES);
    assert_eq!(stats.failed, 0);
    assert_eq!(stats.processed + stats.dropped, FRAMES, "{stats:?}");
    assert!(
        stats.processed < FRAMES / 10,
        "a 20 ms model cannot keep up: {stats:?}"
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len() as u64, stats.processed);
    assert_eq!(
        seen.last(),
        Some(&FRAMES),
        "the newest frame is always processed"
    );
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "frames are processed in order"
    );
    // Held: the mailbox (1), the frame being processed (1), and the results
    // waiting in the event channel — never thousands.
    let bound = 2 + bevy_mono_depth::worker::EVENT_CAPACITY;
    assert!(
        most_held <= bound,
        "worker held {most_held} frames at once (bound {bound})"
    );
}

#[test]
fn failing_and_panicking_frames_are_reported_and_the_worker_carries_on() {
    let (builds, seen) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(Mutex::new(Vec::new())),
    );
    let plan = Script {
        fail_on: Some(2),
        panic_on: Some(3),
        ..script("fragile", 0)
    };
    let worker = DepthWorker::spawn(factory(plan, Arc::clone(&builds), seen)).unwrap();
    collect_until(&worker, |e| matches!(e, WorkerReport::Ready(_)));
    let pixels: Arc<[u8]> = Arc::from(vec![0u8; 16]);
    let mut events = Vec::new();
    for sequence in 1..=4 {
        worker.submit(tiny_frame(&pixels, sequence));
        // One at a time, so none is dropped.
        events.extend(collect_until(&worker, |e| match e {
            WorkerReport::Depth(r) => r.depth.sequence == sequence,
            WorkerReport::FrameFailed { .. } => true,
            WorkerReport::Ready(_) => true,
            _ => false,
        }));
    }
    let kinds: Vec<String> = events
        .iter()
        .map(|e| match e {
            WorkerReport::Depth(r) => format!("depth {}", r.depth.sequence),
            WorkerReport::FrameFailed { sequence, error } => format!("failed {sequence}: {error}"),
            WorkerReport::Panicked { sequence, message } => {
                format!("panicked {sequence}: {message}")
            }
            WorkerReport::Ready(what) => format!("ready {}", what.name.as_deref().unwrap_or("?")),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "depth 1",
            "failed 2: scripted failure on frame 2",
            "panicked 3: scripted panic on frame 3",
            "ready fragile",
            "depth 4"
        ]
    );
    assert_eq!(
        builds.load(Ordering::SeqCst),
        2,
        "rebuilt once after the panic"
    );
    let stats = worker.stats();
    assert_eq!((stats.processed, stats.failed, stats.panics), (2, 2, 1));
}

#[test]
fn a_new_model_can_be_swapped_in_while_running() {
    let (builds, seen) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(Mutex::new(Vec::new())),
    );
    let worker = DepthWorker::spawn(factory(
        script("first", 0),
        Arc::clone(&builds),
        Arc::clone(&seen),
    ))
    .unwrap();
    collect_until(&worker, |e| matches!(e, WorkerReport::Ready(_)));
    worker.swap(factory(script("second", 0), builds, seen));
    let events = collect_until(&worker, |e| matches!(e, WorkerReport::Ready(_)));
    assert!(
        matches!(events.last(), Some(WorkerReport::Ready(what)) if what.name.as_deref() == Some("second"))
    );

    // A factory that fails leaves the worker running, dropping frames.
    worker.swap(Box::new(|| Err(EngineError::Other("no such model".into()))));
    let events = collect_until(&worker, |e| matches!(e, WorkerReport::LoadFailed(_)));
    assert!(
        matches!(events.last(), Some(WorkerReport::LoadFailed(e)) if e.to_string() == "no such model")
    );
    let pixels: Arc<[u8]> = Arc::from(vec![0u8; 16]);
    worker.submit(tiny_frame(&pixels, 1));
    assert_eq!(wait_idle(&worker, 1).dropped, 1);
}

#[test]
fn dropping_a_busy_worker_returns_once_the_current_frame_is_done() {
    let (builds, seen) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(Mutex::new(Vec::new())),
    );
    let worker =
        DepthWorker::spawn(factory(script("busy", 300), builds, Arc::clone(&seen))).unwrap();
    collect_until(&worker, |e| matches!(e, WorkerReport::Ready(_)));
    let pixels: Arc<[u8]> = Arc::from(vec![0u8; 16]);
    worker.submit(tiny_frame(&pixels, 1));
    while seen.lock().unwrap().is_empty() {
        std::thread::sleep(Duration::from_millis(1));
    }
    // Queued behind the busy frame: must not be started after shutdown.
    worker.submit(tiny_frame(&pixels, 2));
    let sender = worker.sender();
    drop(worker);
    assert_eq!(*seen.lock().unwrap(), [1], "nothing started after shutdown");
    assert!(
        !sender.submit(tiny_frame(&pixels, 3)),
        "a stopped worker refuses frames"
    );
}

#[test]
fn the_real_engine_on_the_worker_thread() {
    let worker =
        DepthWorker::with_engine(common::engine_config(common::model("closed_form.onnx"))).unwrap();
    let ready = collect_until(&worker, |e| {
        matches!(e, WorkerReport::Ready(_) | WorkerReport::LoadFailed(_))
    });
    assert!(
        matches!(ready.last(), Some(WorkerReport::Ready(what)) if what.name.as_deref() == Some("closed_form_luma")),
        "{ready:?}"
    );
    let frame = CameraFrame::packed(PixelFormat::Rgb8, 320, 256, vec![100u8; 320 * 256 * 3])
        .unwrap()
        .with_sequence(77);
    worker.submit(frame);
    let events = collect_until(&worker, |e| {
        matches!(e, WorkerReport::Depth(_) | WorkerReport::FrameFailed { .. })
    });
    let Some(WorkerReport::Depth(result)) = events.last() else {
        panic!("{events:?}");
    };
    assert_eq!(result.depth.sequence, 77);
    assert_eq!(result.frame.sequence, 77);
    let want = common::closed_form_depth([100; 3]);
    assert!((result.depth.get(3, 4).unwrap() - want).abs() < 1e-4);
    assert!(result.timings.inference > Duration::ZERO);

    // A missing model: reported, not a panic.
    let worker = DepthWorker::with_engine(common::engine_config(
        common::models_dir().join("missing.onnx"),
    ))
    .unwrap();
    let events = collect_until(&worker, |e| {
        matches!(e, WorkerReport::Ready(_) | WorkerReport::LoadFailed(_))
    });
    assert!(
        matches!(events.last(), Some(WorkerReport::LoadFailed(e)) if e.to_string().contains("missing.onnx"))
    );
}

#[test]
fn maps_handed_back_are_reused_for_later_frames() {
    let worker =
        DepthWorker::with_engine(common::engine_config(common::model("closed_form.onnx"))).unwrap();
    let depth_of = |sequence: u64, value: u8| -> DepthMap {
        let frame = CameraFrame::packed(PixelFormat::Rgb8, 320, 256, vec![value; 320 * 256 * 3])
            .unwrap()
            .with_sequence(sequence);
        worker.submit(frame);
        let events = collect_until(&worker, |e| {
            matches!(
                e,
                WorkerReport::Depth(_)
                    | WorkerReport::FrameFailed { .. }
                    | WorkerReport::LoadFailed(_)
            )
        });
        match events.into_iter().last() {
            Some(WorkerReport::Depth(result)) => result.depth,
            other => panic!("{other:?}"),
        }
    };
    let first = depth_of(1, 10);
    let buffer = first.metres().as_ptr();
    worker.recycle(first);
    // Frame 2 was already given a fresh map when frame 1's result left;
    // frame 3 gets the one handed back, overwritten with its own depth.
    let second = depth_of(2, 20);
    assert_ne!(second.metres().as_ptr(), buffer);
    let third = depth_of(3, 30);
    assert_eq!(third.metres().as_ptr(), buffer, "the recycled buffer");
    assert_eq!(third.sequence, 3);
    let want = common::closed_form_depth([30; 3]);
    assert!((third.get(5, 6).unwrap() - want).abs() < 1e-4);
}

#[test]
fn dropping_the_worker_during_a_slow_model_load_returns_promptly() {
    let (loading_tx, loading) = crossbeam_channel::bounded::<()>(1);
    let worker = DepthWorker::spawn(Box::new(move || {
        let _ = loading_tx.send(());
        // A model that takes long to load (Core ML compiling, a slow disk).
        std::thread::sleep(Duration::from_secs(20));
        Err(EngineError::Other("never loads".into()))
    }))
    .unwrap();
    loading.recv_timeout(Duration::from_secs(10)).unwrap();
    let start = Instant::now();
    drop(worker);
    let waited = start.elapsed();
    assert!(
        waited < bevy_mono_depth::worker::STOP_TIMEOUT * 4,
        "drop waited {waited:?}"
    );
}

/// Each depth map keeps the pose and the upright intrinsics of the frame it
/// came from (what reprojection needs), whatever the estimator wrote; a
/// frame without a pose gives a map without a camera.
#[test]
fn depth_maps_keep_their_frames_camera() {
    use bevy::math::{Affine3A, Quat, Vec3};
    use bevy_mono_depth::camera::Intrinsics;
    use bevy_mono_depth::frame::FrameRotation;
    let worker = DepthWorker::spawn(factory(
        script("camera", 0),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(Mutex::new(Vec::new())),
    ))
    .unwrap();
    collect_until(&worker, |e| matches!(e, WorkerReport::Ready(_)));
    let pixels: Arc<[u8]> = Arc::from(vec![7u8; 16]);
    let pose = Affine3A::from_rotation_translation(Quat::from_rotation_y(0.3), Vec3::Y);
    let posed = tiny_frame(&pixels, 1)
        .with_intrinsics(Some(Intrinsics::new(3.0, 4.0, 0.5, 1.5)))
        .with_rotation(FrameRotation::Clockwise90)
        .with_pose(Some(pose));
    for (frame, has_camera) in [(posed, true), (tiny_frame(&pixels, 2), false)] {
        let want = frame.camera();
        assert_eq!(want.is_some(), has_camera);
        worker.submit(frame);
        let events = collect_until(&worker, |e| matches!(e, WorkerReport::Depth(_)));
        let Some(WorkerReport::Depth(result)) = events.last() else {
            panic!("{events:?}");
        };
        assert_eq!(result.depth.camera, want);
        if let Some(camera) = result.depth.camera {
            assert_eq!(camera.pose, pose);
            // Upright: the buffer's fy and cy become fx and cx.
            assert_eq!((camera.intrinsics.fx, camera.intrinsics.cx), (4.0, 0.5));
        }
    }
}

#[test]
fn ready_and_faults_outlive_unread_depth_results() {
    let (builds, seen) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(Mutex::new(Vec::new())),
    );
    let plan = Script {
        fail_on: Some(5),
        ..script("fast", 0)
    };
    let worker = DepthWorker::spawn(factory(plan, builds, seen)).unwrap();
    let capacity = bevy_mono_depth::worker::EVENT_CAPACITY as u64;
    let pixels: Arc<[u8]> = Arc::from(vec![0u8; 16]);
    // Nobody reads while three channels' worth of frames are processed,
    // each waited for so none is replaced in the mailbox.
    let frames = 3 * capacity;
    let mut submitted = 0;
    while submitted < frames {
        let stats = worker.stats();
        if stats.processed + stats.failed + stats.dropped < submitted {
            std::thread::yield_now();
            continue;
        }
        submitted += 1;
        worker.submit(tiny_frame(&pixels, submitted));
    }
    let stats = wait_idle(&worker, frames);
    assert_eq!(stats.processed + stats.failed, frames, "{stats:?}");
    let events: Vec<WorkerReport> = worker.events().try_iter().collect();
    assert_eq!(events.len() as u64, capacity);
    assert!(matches!(&events[0], WorkerReport::Ready(s) if s.to_string().contains("fast")));
    assert!(matches!(
        events[1],
        WorkerReport::FrameFailed { sequence: 5, .. }
    ));
    // then the newest results, in order
    let depths: Vec<u64> = events[2..]
        .iter()
        .map(|e| match e {
            WorkerReport::Depth(r) => r.depth.sequence,
            other => panic!("expected depth, got {other:?}"),
        })
        .collect();
    let want: Vec<u64> = (frames - (capacity - 2) + 1..=frames).collect();
    assert_eq!(depths, want);
}

#[test]
fn a_model_that_always_panics_is_rebuilt_with_growing_pauses() {
    use bevy_mono_depth::worker::PANIC_BACK_OFF;
    let (builds, seen) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(Mutex::new(Vec::new())),
    );
    // Panics on every frame: `panic_on` is checked per sequence, so give
    // each frame the same one.
    let plan = Script {
        panic_on: Some(1),
        ..script("always panics", 0)
    };
    let worker = DepthWorker::spawn(factory(plan, Arc::clone(&builds), seen)).unwrap();
    collect_until(&worker, |e| matches!(e, WorkerReport::Ready(_)));
    let pixels: Arc<[u8]> = Arc::from(vec![0u8; 16]);
    let started = Instant::now();
    let panics = 5u64;
    for n in 1..=panics {
        worker.submit(tiny_frame(&pixels, 1));
        let deadline = Instant::now() + Duration::from_secs(30);
        while worker.stats().panics < n {
            assert!(Instant::now() < deadline, "panic {n} never came");
            std::thread::yield_now();
        }
        // rebuilt (or waiting to be) before the next frame
        collect_until(&worker, |e| matches!(e, WorkerReport::Ready(_)));
    }
    // No pause after the first panic, then 1, 2, 4 times the first pause
    // before the rebuilds after panics 2, 3 and 4 (the 5th's is waited for
    // too, 8 times).
    let least = PANIC_BACK_OFF * (1 + 2 + 4 + 8);
    assert!(
        started.elapsed() >= least,
        "{:?} for {panics} panics, at least {least:?} expected",
        started.elapsed()
    );
    assert_eq!(builds.load(Ordering::SeqCst) as u64, 1 + panics);
    // Dropping it while it waits returns at once, not after the pause.
    worker.submit(tiny_frame(&pixels, 1));
    while worker.stats().panics < panics + 1 {
        std::thread::yield_now();
    }
    let dropping = Instant::now();
    drop(worker);
    assert!(dropping.elapsed() < PANIC_BACK_OFF * 16);
}

/// The worker stabilises each map on its own thread when asked, keeps the
/// model's own map beside it when asked, and drops the history when
/// stabilisation is turned off.
#[test]
fn maps_are_stabilised_on_the_worker_thread() {
    use bevy_mono_depth::temporal::TemporalSettings;
    let worker = DepthWorker::spawn(factory(
        script("stable", 0),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(Mutex::new(Vec::new())),
    ))
    .unwrap();
    collect_until(&worker, |e| matches!(e, WorkerReport::Ready(_)));
    let settings = TemporalSettings::default();
    worker.set_stabilisation(Some(settings));
    worker.keep_model_depth(true);
    let pixels: Arc<[u8]> = Arc::from(vec![7u8; 16]);
    let depth_of = |sequence: u64| {
        worker.submit(tiny_frame(&pixels, sequence));
        let events = collect_until(&worker, |e| matches!(e, WorkerReport::Depth(_)));
        let Some(WorkerReport::Depth(result)) = events.into_iter().last() else {
            panic!("no depth for frame {sequence}");
        };
        let model = result.model_depth.as_ref().map(|m| m.metres()[0]);
        (result.depth.metres()[0], model)
    };
    // The scripted model's depth is the frame's number: 100 m, then 102 m
    // on the same image, a 2 % change the gates let through as noise.
    assert_eq!(depth_of(100), (100.0, Some(100.0)));
    let (stable, model) = depth_of(102);
    let expected = 100.0 + (1.0 - settings.history) * 2.0;
    assert!(
        (stable - expected).abs() < 1e-3,
        "{stable} m, want {expected} m"
    );
    assert_eq!(model, Some(102.0));
    worker.set_stabilisation(None);
    assert_eq!(depth_of(104), (104.0, None));
    // Turned on again, it starts from no history.
    worker.set_stabilisation(Some(settings));
    assert_eq!(depth_of(106), (106.0, Some(106.0)));
}

/// The view thread moves the newest depth into each frame it is given,
/// exactly as a `Reprojector` does on the caller's thread, and says why
/// when a frame has no camera.
#[test]
fn the_view_thread_moves_depth_into_each_new_frame() {
    use bevy::math::{Affine3A, Vec3};
    use bevy_mono_depth::camera::Intrinsics;
    use bevy_mono_depth::reproject::{ReprojectError, Reprojector};
    use bevy_mono_depth::worker::view::{ViewDepth, ViewWorker};
    let view = ViewWorker::spawn(Reprojector::new()).unwrap();
    let pixels: Arc<[u8]> = Arc::from(vec![9u8; 64 * 48 * 4]);
    let frame = |sequence: u64, pose: Option<Affine3A>| {
        CameraFrame::packed(PixelFormat::Rgba8, 64, 48, Arc::clone(&pixels))
            .unwrap()
            .with_sequence(sequence)
            .with_intrinsics(Some(Intrinsics::new(50.0, 50.0, 32.0, 24.0)))
            .with_pose(pose)
    };
    let next = |view: &ViewWorker| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(out) = view.take() {
                return out;
            }
            assert!(Instant::now() < deadline, "the view thread went quiet");
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    // A frame before any depth: shown without depth.
    view.submit(frame(1, Some(Affine3A::IDENTITY)));
    let out = next(&view);
    assert_eq!(out.frame.sequence, 1);
    assert!(matches!(out.depth, ViewDepth::NoDepth), "{:?}", out.depth);
    // A wall with a nearer box, from the first pose; the frame last given
    // gets it at once.
    let mut depth = DepthMap::from_metres(
        16,
        12,
        (0..16 * 12)
            .map(|i| if (4..8).contains(&(i % 16)) { 1.0 } else { 2.0 })
            .collect(),
        (0.1, 10.0),
    );
    depth.camera = frame(1, Some(Affine3A::IDENTITY)).camera();
    depth.sequence = 1;
    view.set_depth(depth.clone());
    let out = next(&view);
    let ViewDepth::Reprojected { map, .. } = &out.depth else {
        panic!("{:?}", out.depth);
    };
    assert_eq!(map.metres(), depth.metres(), "the same pose keeps the map");
    // The camera steps 10 cm to the right: the same as on this thread.
    let moved = frame(
        2,
        Some(Affine3A::from_translation(Vec3::new(0.1, 0.0, 0.0))),
    );
    let mut want = DepthMap::empty();
    let stats = Reprojector::new()
        .reproject(&depth, &moved.camera().unwrap(), &mut want)
        .unwrap();
    view.submit(moved);
    let out = next(&view);
    assert_eq!(out.frame.sequence, 2);
    let ViewDepth::Reprojected { map, stats: got } = &out.depth else {
        panic!("{:?}", out.depth);
    };
    assert_eq!((map.metres(), map.valid()), (want.metres(), want.valid()));
    assert_eq!(*got, stats);
    assert_ne!(map.metres(), depth.metres(), "the box moved");
    // A frame without a pose: the depth cannot be moved, and it says so.
    view.submit(frame(3, None));
    let out = next(&view);
    assert!(
        matches!(
            out.depth,
            ViewDepth::NotReprojected {
                depth_sequence: 1,
                why: ReprojectError::NoViewCamera
            }
        ),
        "{:?}",
        out.depth
    );
}
