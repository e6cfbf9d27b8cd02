//! Record and replay: recorded depth comes back as millimetres / 1000, a
//! recorded session replays with identical depth and order, and a broken
//! recording is a status.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_mono_depth::camera::ImageMapping;
use bevy_mono_depth::depth::DepthMap;
use bevy_mono_depth::plugin::MonoDepthRecorder;
use bevy_mono_depth::prelude::*;
use bevy_mono_depth::sources::recording::{Recorder, Recording, RecordingError};
use common::{headless_app, model, wait_for_engine};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bevy_mono_depth_{name}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[derive(Resource, Default)]
struct Seen(Vec<(u64, DepthMap)>);

fn collect(
    mut reader: MessageReader<NewDepth>,
    current: Res<CurrentDepth>,
    mut seen: ResMut<Seen>,
) {
    if reader.read().last().is_some()
        && let Some(map) = &current.map
    {
        seen.0.push((map.sequence, map.clone()));
    }
}

fn replay_app(dir: PathBuf) -> App {
    let mut app = headless_app(MonoDepthPlugin {
        model: None,
        source: FrameSource::Replay(dir),
        ..Default::default()
    });
    app.init_resource::<Seen>().add_systems(Update, collect);
    app
}

/// The closed-form model on pushed frames, running, collecting what it shows.
fn live_app() -> App {
    let mut app = headless_app(MonoDepthPlugin {
        session: common::cpu(),
        model: Some(model("closed_form.onnx")),
        source: FrameSource::Pushed,
        ..Default::default()
    });
    app.init_resource::<Seen>().add_systems(Update, collect);
    assert!(matches!(
        wait_for_engine(&mut app, Duration::from_secs(60)),
        EngineStatus::Running(_)
    ));
    app
}

fn update_until(app: &mut App, what: &str, mut done: impl FnMut(&App) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done(app) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        app.update();
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Reads a 16-bit depth PNG independently of the crate.
fn millimetres(path: &std::path::Path) -> Vec<u16> {
    image::open(path).unwrap().into_luma16().into_raw()
}

#[test]
fn replayed_depth_is_the_recorded_millimetres() {
    let dir = scratch("replay_mm");
    let mut recorder = Recorder::create(&dir, "hand-made step").unwrap();
    for n in 0..3u64 {
        let frame = CameraFrame::packed(PixelFormat::Rgb8, 8, 4, vec![(n * 40) as u8; 8 * 4 * 3])
            .unwrap()
            .with_sequence(100 + n)
            .with_timestamp(Duration::from_millis(20 * n));
        // A step from 1 m to 3 m at column 4, an invalid pixel, a sub-mm value.
        let metres: Vec<f32> = (0..32)
            .map(|i| {
                if i % 8 < 4 {
                    1.0 + n as f32 * 0.1
                } else {
                    3.0004
                }
            })
            .collect();
        let mut metres: Vec<f32> = metres;
        metres[9] = f32::NAN; // no depth here
        let depth = DepthMap::from_metres(8, 4, metres, (0.1, 20.0));
        recorder.record(&frame, &depth, None).unwrap();
    }
    let recording = Recording::open(&dir).unwrap();
    assert_eq!(recording.index.frames.len(), 3);

    let mut app = replay_app(dir.clone());
    update_until(&mut app, "three replayed depth maps", |app| {
        app.world()
            .resource::<Seen>()
            .0
            .iter()
            .any(|(s, _)| *s >= 3)
    });
    assert!(matches!(
        app.world().resource::<MonoDepthStatus>().engine,
        EngineStatus::Running(_)
    ));
    for (sequence, map) in &app.world().resource::<Seen>().0 {
        let entry = &recording.index.frames[((sequence - 1) % 3) as usize];
        let mm = millimetres(&dir.join(&entry.depth));
        assert_eq!((map.width(), map.height()), (8, 4));
        for (i, (d, mm)) in map.metres().iter().zip(&mm).enumerate() {
            assert_eq!(map.valid()[i], *mm != 0, "pixel {i}");
            assert_eq!(*d, f32::from(*mm) / 1000.0, "pixel {i} of frame {sequence}");
        }
    }
    for (sequence, map) in &app.world().resource::<Seen>().0 {
        let n = ((sequence - 1) % 3) as f32;
        assert_eq!(
            map.get(1, 0),
            Some(((1.0 + n * 0.1) * 1000.0).round() / 1000.0)
        );
        assert_eq!(map.get(5, 0), Some(3.0), "3.0004 m is stored as 3000 mm");
        assert_eq!(map.get(1, 1), None, "invalid stays invalid");
    }
}

#[test]
fn a_recorded_session_replays_with_identical_depth_and_order() {
    let dir = scratch("record_replay");
    let mut app = live_app();
    app.insert_resource(MonoDepthRecorder::start(&dir, "closed_form_luma").unwrap());
    let pusher = app.world().resource::<FramePusher>().clone();
    // Wider than the model's 320×256 input: the depth covers a crop of the
    // frame, so the mapping the replay must give back is not the identity.
    for n in 0..5u8 {
        let pixels: Vec<u8> = (0..400 * 256)
            .flat_map(|i| [((i % 400) as u8).wrapping_add(n * 30), n * 40, 90])
            .collect();
        let sequence = pusher
            .push_rgb(
                400,
                256,
                1200,
                &pixels,
                Duration::from_millis(40 * u64::from(n)),
            )
            .unwrap();
        update_until(&mut app, "the pushed frame's depth", |app| {
            app.world()
                .resource::<Seen>()
                .0
                .iter()
                .any(|(s, _)| *s == sequence)
        });
    }
    let recorder = app
        .world_mut()
        .remove_resource::<MonoDepthRecorder>()
        .unwrap();
    assert_eq!(recorder.finish(), 5);
    let recorded: Vec<DepthMap> = app
        .world()
        .resource::<Seen>()
        .0
        .iter()
        .map(|(_, m)| m.clone())
        .collect();
    drop(app);
    assert_ne!(recorded[0].mapping(), ImageMapping::IDENTITY);

    let mut replay = replay_app(dir);
    update_until(&mut replay, "five replayed depth maps", |app| {
        app.world()
            .resource::<Seen>()
            .0
            .iter()
            .any(|(s, _)| *s >= 5)
    });
    let seen = &replay.world().resource::<Seen>().0;
    for (sequence, map) in seen.iter().filter(|(s, _)| *s <= 5) {
        let original = &recorded[(sequence - 1) as usize];
        assert_eq!(
            (map.width(), map.height(), map.mapping()),
            (original.width(), original.height(), original.mapping())
        );
        for (a, b) in map.metres().iter().zip(original.metres()) {
            // Stored in whole millimetres.
            assert!(
                (a - b).abs() <= 0.0005 + 1e-6,
                "frame {sequence}: {a} vs {b}"
            );
        }
    }
    let order: Vec<u64> = seen.iter().map(|(s, _)| *s).collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "replayed in order: {order:?}"
    );
}

#[test]
fn a_broken_recording_is_a_status_not_a_panic() {
    let dir = scratch("broken_recording");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("session.json"), "{ not json").unwrap();
    let mut app = replay_app(dir);
    for _ in 0..3 {
        app.update();
    }
    let status = app.world().resource::<MonoDepthStatus>();
    let SourceStatus::Failed(reason) = &status.source else {
        panic!("{}", status.source)
    };
    assert!(
        reason.contains("session.json") && reason.contains("not a bevy_mono_depth recording"),
        "{reason}"
    );
    assert!(matches!(status.engine, EngineStatus::ModelFailed(_)));

    // The recording is opened when the app starts, not when it is built.
    let mut missing = replay_app(scratch("no_recording_here"));
    missing.update();
    let status = missing.world().resource::<MonoDepthStatus>();
    assert!(
        matches!(&status.source, SourceStatus::Failed(r) if r.contains("session.json")),
        "{}",
        status.source
    );
}

#[test]
fn the_committed_sample_recording_replays() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/samples/room");
    let recording = Recording::open(&dir)
        .unwrap_or_else(|e| panic!("{e} (regenerate it with `cargo xtask sample`)"));
    assert_eq!(recording.index.frames.len(), 24);
    assert!(recording.index.intrinsics.is_some());
    // A format-1 recording's one set of intrinsics goes with every frame.
    assert_eq!(
        recording.load_frame(5).unwrap().intrinsics(),
        recording.index.intrinsics
    );
    let depth = recording.load_depth(0).unwrap();
    let frame = recording.load_frame(0).unwrap();
    assert_eq!(
        (depth.width(), depth.height()),
        (frame.width(), frame.height())
    );
    assert_eq!(
        depth.stats().valid,
        (depth.width() * depth.height()) as usize,
        "the room is closed: depth everywhere"
    );
    assert!(
        depth.stats().min > 0.5 && depth.stats().max < 10.0,
        "{:?}",
        depth.stats()
    );

    let mut app = replay_app(dir);
    update_until(&mut app, "a replayed depth map", |app| {
        !app.world().resource::<Seen>().0.is_empty()
    });
    let status = app.world().resource::<MonoDepthStatus>();
    assert!(
        matches!(&status.source, SourceStatus::Running(what) if what.contains("room")),
        "{}",
        status.source
    );
}

/// A two-frame recording written by the crate, for the tests to damage.
fn small_recording(name: &str) -> PathBuf {
    let dir = scratch(name);
    let mut recorder = Recorder::create(&dir, "hand-made").unwrap();
    for n in 0..2u64 {
        let frame = CameraFrame::packed(PixelFormat::Rgb8, 6, 4, vec![9; 6 * 4 * 3])
            .unwrap()
            .with_sequence(n + 1)
            .with_timestamp(Duration::from_millis(30 * n));
        let depth = DepthMap::from_metres(3, 2, vec![1.5; 6], (0.1, 10.0));
        recorder.record(&frame, &depth, None).unwrap();
    }
    dir
}

fn frames_file(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("frames.jsonl")).unwrap()
}

fn format_error(dir: &std::path::Path) -> String {
    match Recording::open(dir) {
        Err(RecordingError::Format { reason, .. }) => reason,
        other => panic!("{other:?}"),
    }
}

#[test]
fn hostile_recording_indexes_are_refused_when_opened() {
    let dir = small_recording("hostile_index");
    assert_eq!(Recording::open(&dir).unwrap().index.frames.len(), 2);
    let original = frames_file(&dir);
    let cases = [
        (
            "\"timestamp_ms\":30.0",
            "\"timestamp_ms\":-5.0",
            "timestamp",
        ),
        (
            "\"timestamp_ms\":30.0",
            "\"timestamp_ms\":1e300",
            "timestamp",
        ),
        (
            "\"rgb/000002.png\"",
            "\"../../etc/passwd\"",
            "inside the recording",
        ),
        (
            "\"rgb/000002.png\"",
            "\"/etc/passwd\"",
            "inside the recording",
        ),
        ("\"depth_size\":[3,2]", "\"depth_size\":[0,2]", "depth size"),
        (
            "\"depth_size\":[3,2]",
            "\"depth_size\":[3,100000]",
            "depth size",
        ),
        (
            "\"mapping_scale\":[1.0,1.0]",
            "\"mapping_scale\":[0.0,1.0]",
            "mapping",
        ),
    ];
    for (from, to, expect) in cases {
        // Only the second line is damaged: a damaged last line that still
        // parses is not a torn write.
        let (first, second) = original.split_once('\n').unwrap();
        assert!(second.contains(from), "{from} in {second}");
        let damaged = format!("{first}\n{}", second.replacen(from, to, 1));
        std::fs::write(dir.join("frames.jsonl"), damaged).unwrap();
        let reason = format_error(&dir);
        assert!(reason.contains(expect), "{to}: {reason}");
    }
    // A torn last line (a crash while appending) is dropped, not fatal.
    let torn = format!("{original}{{\"sequence\":3,\"timest");
    std::fs::write(dir.join("frames.jsonl"), torn).unwrap();
    assert_eq!(Recording::open(&dir).unwrap().index.frames.len(), 2);
    // A broken line before the last one is an error.
    let broken = format!("{{\"sequence\":\n{original}");
    std::fs::write(dir.join("frames.jsonl"), broken).unwrap();
    assert!(format_error(&dir).contains("line 1"));
    // An unknown version is refused.
    std::fs::write(dir.join("frames.jsonl"), &original).unwrap();
    let header = std::fs::read_to_string(dir.join("session.json")).unwrap();
    std::fs::write(
        dir.join("session.json"),
        header.replace("\"version\": 2", "\"version\": 9"),
    )
    .unwrap();
    assert!(format_error(&dir).contains("format version 9"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_depth_png_that_disagrees_with_its_entry_is_refused_and_replay_goes_on() {
    let dir = small_recording("hostile_depth");
    let recording = Recording::open(&dir).unwrap();
    assert!(recording.load_depth(1).is_ok());
    // 8-bit grey of another size in place of frame 2's 16-bit depth.
    image::GrayImage::from_pixel(3, 2, image::Luma([7u8]))
        .save(dir.join("depth/000002.png"))
        .unwrap();
    let err = recording.load_depth(1).unwrap_err().to_string();
    assert!(err.contains("16-bit"), "{err}");
    image::ImageBuffer::<image::Luma<u16>, _>::from_pixel(5, 2, image::Luma([900u16]))
        .save(dir.join("depth/000002.png"))
        .unwrap();
    let err = recording.load_depth(1).unwrap_err().to_string();
    assert!(err.contains("5×2") && err.contains("3×2"), "{err}");

    // Replayed: frame 1's depth keeps arriving, frame 2's is an error.
    let mut app = replay_app(dir.clone());
    update_until(
        &mut app,
        "depth of the good frame after the bad one",
        |app| {
            app.world()
                .resource::<Seen>()
                .0
                .iter()
                .any(|(s, _)| *s == 3)
        },
    );
    let seen = &app.world().resource::<Seen>().0;
    assert!(seen.iter().all(|(s, _)| s % 2 == 1), "only good frames");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn removing_the_recorder_does_not_wait_for_its_backlog() {
    let dir = scratch("recorder_backlog");
    let mut app = headless_app(MonoDepthPlugin {
        model: None,
        source: FrameSource::Pushed,
        ..Default::default()
    });
    app.insert_resource(MonoDepthRecorder::start(&dir, "backlog").unwrap());
    // Big frames, so the writer has a PNG backlog when the recorder goes.
    let (w, h) = (1920u32, 1080u32);
    let pixels: Vec<u8> = (0..w * h * 3).map(|i| (i * 31 % 251) as u8).collect();
    let frame = CameraFrame::packed(PixelFormat::Rgb8, w, h, pixels).unwrap();
    let depth = DepthMap::from_metres(160, 128, vec![2.0; 160 * 128], (0.1, 10.0));
    let queued = 6;
    for n in 1..=queued {
        let mut map = depth.clone();
        map.sequence = n;
        let mut current = app.world_mut().resource_mut::<CurrentDepth>();
        current.map = Some(map);
        current.frame = Some(frame.clone().with_sequence(n));
        app.world_mut().write_message(NewDepth {
            sequence: n,
            timestamp: Duration::ZERO,
            stats: depth.stats(),
            timings: Default::default(),
        });
        app.update();
    }
    let start = Instant::now();
    app.world_mut().remove_resource::<MonoDepthRecorder>();
    let removed_in = start.elapsed();
    // Encoding one 1080p PNG alone takes longer than this.
    assert!(removed_in < Duration::from_millis(50), "{removed_in:?}");
    // The writer still writes every queued frame.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let frames = Recording::open(&dir).map_or(0, |r| r.index.frames.len());
        if frames == queued as usize {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{frames} of {queued} frames written"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn intrinsics_are_recorded_per_frame_and_replayed() {
    use bevy_mono_depth::camera::Intrinsics;
    let dir = scratch("intrinsics");
    let mut recorder = Recorder::create(&dir, "intrinsics").unwrap();
    let depth = DepthMap::from_metres(3, 2, vec![1.5; 6], (0.1, 10.0));
    let ks = [
        Some(Intrinsics::new(300.0, 301.0, 3.5, 2.0)),
        None,
        Some(Intrinsics::from_vertical_fov(6, 4, 60.0).assumed()),
    ];
    for (n, k) in ks.iter().enumerate() {
        let frame = CameraFrame::packed(PixelFormat::Rgb8, 6, 4, vec![9; 6 * 4 * 3])
            .unwrap()
            .with_sequence(n as u64 + 1)
            .with_intrinsics(*k);
        recorder.record(&frame, &depth, None).unwrap();
    }
    let recording = Recording::open(&dir).unwrap();
    for (n, k) in ks.iter().enumerate() {
        assert_eq!(
            recording.load_frame(n).unwrap().intrinsics(),
            *k,
            "frame {n}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rotation_is_recorded_per_frame_and_replayed() {
    use bevy_mono_depth::frame::FrameRotation;
    let dir = scratch("rotation");
    let mut recorder = Recorder::create(&dir, "rotation").unwrap();
    let depth = DepthMap::from_metres(3, 2, vec![1.5; 6], (0.1, 10.0));
    let turns = [0, 90, 180, 270].map(|d| FrameRotation::from_degrees(d).unwrap());
    for (n, &rotation) in turns.iter().enumerate() {
        let frame = CameraFrame::packed(PixelFormat::Rgb8, 6, 4, vec![9; 6 * 4 * 3])
            .unwrap()
            .with_sequence(n as u64 + 1)
            .with_rotation(rotation);
        recorder.record(&frame, &depth, None).unwrap();
    }
    let recording = Recording::open(&dir).unwrap();
    for (n, &rotation) in turns.iter().enumerate() {
        let frame = recording.load_frame(n).unwrap();
        assert_eq!(frame.rotation, rotation, "frame {n}");
        assert_eq!((frame.width(), frame.height()), (6, 4), "stored as given");
    }
    // Unturned frames leave the field out, so older readers see nothing new.
    let lines = frames_file(&dir);
    assert!(!lines.lines().next().unwrap().contains("rotation"));
    // An angle that is not a quarter turn is refused when opened.
    let damaged = lines.replacen("\"rotation_degrees\":90", "\"rotation_degrees\":45", 1);
    assert_ne!(damaged, lines);
    std::fs::write(dir.join("frames.jsonl"), damaged).unwrap();
    assert!(
        format_error(&dir).contains("rotation 45°"),
        "{}",
        format_error(&dir)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn poses_are_recorded_per_frame_and_replayed() {
    use bevy::math::{Affine3A, Quat, Vec3};
    let dir = scratch("poses");
    let mut recorder = Recorder::create(&dir, "poses").unwrap();
    let depth = DepthMap::from_metres(3, 2, vec![1.5; 6], (0.1, 10.0));
    let poses = [
        None,
        Some(Affine3A::from_rotation_translation(
            Quat::from_rotation_y(0.3),
            Vec3::new(0.1, 1.4, -2.0),
        )),
        Some(Affine3A::from_rotation_translation(
            Quat::from_euler(bevy::math::EulerRot::YXZ, -0.2, 0.1, 0.05),
            Vec3::new(0.2, 1.5, -2.1),
        )),
    ];
    for (n, pose) in poses.iter().enumerate() {
        let frame = CameraFrame::packed(PixelFormat::Rgb8, 6, 4, vec![9; 6 * 4 * 3])
            .unwrap()
            .with_sequence(n as u64 + 1)
            .with_pose(*pose);
        recorder.record(&frame, &depth, None).unwrap();
    }
    let recording = Recording::open(&dir).unwrap();
    for (n, pose) in poses.iter().enumerate() {
        let got = recording.load_frame(n).unwrap().pose();
        match (got, pose) {
            (None, None) => {}
            (Some(got), Some(want)) => assert!(got.abs_diff_eq(*want, 1e-6), "frame {n}"),
            _ => panic!("frame {n}: {got:?} vs {pose:?}"),
        }
    }
    // Frames without a pose leave the field out.
    let lines = frames_file(&dir);
    assert!(!lines.lines().next().unwrap().contains("pose"));
    assert!(lines.lines().nth(1).unwrap().contains("\"pose\":["));
    // A pose that is not a rigid transform (here scaled by 2) is refused.
    let second = lines.lines().nth(1).unwrap();
    let start = second.find("\"pose\":[").unwrap() + "\"pose\":[".len();
    let first_number = &second[start..start + second[start..].find(',').unwrap()];
    let scaled: f32 = first_number.parse::<f32>().unwrap() * 2.0;
    let damaged = lines.replacen(
        &format!("\"pose\":[{first_number},"),
        &format!("\"pose\":[{scaled},"),
        1,
    );
    assert_ne!(damaged, lines);
    std::fs::write(dir.join("frames.jsonl"), damaged).unwrap();
    assert!(
        format_error(&dir).contains("not a rigid transform"),
        "{}",
        format_error(&dir)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A recording of frames pushed without timestamps: every one at 0 ms.
fn untimed_recording(name: &str, frames: u64) -> PathBuf {
    let dir = scratch(name);
    let mut recorder = Recorder::create(&dir, "pushed without timestamps").unwrap();
    for n in 0..frames {
        let frame = CameraFrame::packed(PixelFormat::Rgb8, 4, 2, vec![n as u8; 4 * 2 * 3])
            .unwrap()
            .with_sequence(n + 1);
        let depth = DepthMap::from_metres(4, 2, vec![1.0; 8], (0.1, 20.0));
        recorder.record(&frame, &depth, None).unwrap();
    }
    dir
}

#[test]
fn a_replay_without_timestamps_plays_at_its_configured_rate() {
    let dir = untimed_recording("untimed_rate", 4);
    let mut recording = Recording::open(&dir).unwrap();
    assert!(recording.index.frames.iter().all(|f| f.timestamp_ms == 0.0));
    assert!(!recording.timestamps_advance());
    for fps in [
        bevy_mono_depth::sources::recording::FPS_WITHOUT_TIMESTAMPS,
        10.0,
    ] {
        recording.fps_without_timestamps = fps;
        // frames 1..=9 across two loops of 4: one interval apart throughout
        for sequence in 1..=9u64 {
            let want = (sequence - 1) as f64 / fps;
            let got = recording.play_time(sequence).as_secs_f64();
            assert!(
                (got - want).abs() < 1e-9,
                "frame {sequence} at {fps} fps: {got} s, want {want} s"
            );
        }
        assert!((recording.duration().as_secs_f64() - 4.0 / fps).abs() < 1e-9);
    }
    // A nonsense rate falls back to the default instead of a busy loop.
    recording.fps_without_timestamps = 0.0;
    assert!(recording.play_time(2) > Duration::ZERO);

    // The replay thread sleeps between frames: about 30 in a second, not
    // the thousands a loop without sleeping sends.
    recording.fps_without_timestamps = bevy_mono_depth::sources::recording::FPS_WITHOUT_TIMESTAMPS;
    let hub = bevy_mono_depth::sources::FrameHub::default();
    let replay = bevy_mono_depth::sources::recording::spawn_replay(
        hub.clone(),
        std::sync::Arc::new(recording),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let sent = hub.newest().map_or(0, |f| f.sequence);
    drop(replay);
    assert!(
        (2..=40).contains(&sent),
        "{sent} frames sent in 0.5 s at 30 fps"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_timed_replay_keeps_the_recorded_times() {
    let dir = scratch("timed_rate");
    let mut recorder = Recorder::create(&dir, "timed").unwrap();
    for n in 0..3u64 {
        let frame = CameraFrame::packed(PixelFormat::Rgb8, 4, 2, vec![0; 24])
            .unwrap()
            .with_sequence(n + 1)
            .with_timestamp(Duration::from_millis(500 + 20 * n));
        let depth = DepthMap::from_metres(4, 2, vec![1.0; 8], (0.1, 20.0));
        recorder.record(&frame, &depth, None).unwrap();
    }
    let recording = Recording::open(&dir).unwrap();
    assert!(recording.timestamps_advance());
    // 0, 20, 40 ms, then the next loop one interval after the last frame
    let times: Vec<u128> = (1..=5)
        .map(|k| recording.play_time(k).as_millis())
        .collect();
    assert_eq!(times, [0, 20, 40, 60, 80]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn recordings_hold_the_models_depth_not_the_stabilised_one() {
    let dir = scratch("record_model_depth");
    let mut app = live_app();
    assert!(
        app.world()
            .resource::<MonoDepthSettings>()
            .stabilisation
            .is_some(),
        "stabilisation is on by default"
    );
    app.insert_resource(MonoDepthRecorder::start(&dir, "closed_form_luma").unwrap());
    let pusher = app.world().resource::<FramePusher>().clone();
    // Small steps in red: below the stabiliser's image and depth gates, so
    // it blends them with the history.
    let reds = [100u8, 104, 108, 112];
    for (n, red) in reds.iter().enumerate() {
        let pixels = [*red, 60, 30].repeat(320 * 256);
        let sequence = pusher
            .push_rgb(320, 256, 960, &pixels, Duration::from_millis(40 * n as u64))
            .unwrap();
        update_until(&mut app, "the pushed frame's depth", |app| {
            app.world()
                .resource::<Seen>()
                .0
                .iter()
                .any(|(s, _)| *s == sequence)
        });
    }
    let recorder = app
        .world_mut()
        .remove_resource::<MonoDepthRecorder>()
        .unwrap();
    assert_eq!(recorder.finish(), reds.len() as u64);
    let shown = app.world().resource::<Seen>().0.clone();
    drop(app);
    let recording = Recording::open(&dir).unwrap();
    for (n, red) in reds.iter().enumerate() {
        let model_depth = common::closed_form_depth([*red, 60, 30]);
        let stored = millimetres(&dir.join(&recording.index.frames[n].depth));
        let want = (model_depth * 1000.0).round() as u16;
        assert!(
            stored.iter().all(|&mm| mm.abs_diff(want) <= 1),
            "frame {n}: stored {} mm, the model gave {want} mm",
            stored[0]
        );
    }
    // The premise: what was shown was smoothed, so it differs from the model.
    let (_, last) = shown.last().unwrap();
    let last_model = common::closed_form_depth([112, 60, 30]);
    assert!(
        (last.get(80, 64).unwrap() - last_model).abs() > 0.01,
        "shown {} vs model {last_model}",
        last.get(80, 64).unwrap()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn anchors_are_recorded_per_frame_and_replayed_without_nan() {
    let dir = scratch("anchors");
    let mut recorder = Recorder::create(&dir, "anchors").unwrap();
    let depth = DepthMap::from_metres(3, 2, vec![1.5; 6], (0.1, 10.0));
    let kept = [
        MetricAnchor {
            x: 1.5,
            y: 2.5,
            depth: 1.25,
        },
        // Out of the frame and negative: kept as given, dropped when used.
        MetricAnchor {
            x: 40.0,
            y: 0.5,
            depth: -1.0,
        },
    ];
    let nan = MetricAnchor {
        x: 0.5,
        y: 0.5,
        depth: f32::NAN,
    };
    for (n, anchors) in [vec![], vec![kept[0], nan, kept[1]]]
        .into_iter()
        .enumerate()
    {
        let frame = CameraFrame::packed(PixelFormat::Rgb8, 6, 4, vec![9; 6 * 4 * 3])
            .unwrap()
            .with_sequence(n as u64 + 1)
            .with_anchors(anchors);
        recorder.record(&frame, &depth, None).unwrap();
    }
    let recording = Recording::open(&dir).unwrap();
    assert!(recording.load_frame(0).unwrap().anchors().is_empty());
    // NaN has no JSON form: it is left out so the index stays readable.
    assert_eq!(recording.load_frame(1).unwrap().anchors(), kept);
    let lines = frames_file(&dir);
    assert!(!lines.lines().next().unwrap().contains("anchors"));
    let _ = std::fs::remove_dir_all(&dir);
}
