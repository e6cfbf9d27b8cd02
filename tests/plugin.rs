//! The plugin in a headless app: pushed frames become depth in the resource,
//! the texture and the message; status, background sync, diagnostics, the
//! image-folder source.

mod common;

use std::time::{Duration, Instant};

use bevy::diagnostic::DiagnosticsStore;
use bevy::prelude::*;
use bevy_mono_depth::plugin::MonoDepthDiagnostics;
use bevy_mono_depth::prelude::*;
use bevy_mono_depth::sources::folder::ImageFolder;
use common::{headless_app, model, wait_for_engine};

#[derive(Resource, Default)]
struct Received(Vec<NewDepth>);

fn record(mut reader: MessageReader<NewDepth>, mut received: ResMut<Received>) {
    received.0.extend(reader.read().cloned());
}

fn app_with(model_name: Option<&str>, source: FrameSource) -> App {
    let mut app = headless_app(MonoDepthPlugin {
        session: common::cpu(),
        model: model_name.map(model),
        source,
        ..Default::default()
    });
    app.init_resource::<Received>().add_systems(Update, record);
    app
}

/// Updates until `done`, or fails after 30 s.
fn update_until(app: &mut App, what: &str, mut done: impl FnMut(&mut App) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done(app) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        app.update();
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn depth_sequence(app: &App) -> Option<u64> {
    app.world()
        .resource::<CurrentDepth>()
        .map
        .as_ref()
        .map(|m| m.sequence)
}

/// An RGB frame of the closed-form model's size, one colour.
fn uniform_frame(colour: [u8; 3]) -> Vec<u8> {
    colour.repeat(320 * 256)
}

#[test]
fn pushed_frames_become_depth_in_the_resource_the_texture_and_the_message() {
    let mut app = app_with(Some("closed_form.onnx"), FrameSource::Pushed);
    assert!(matches!(
        wait_for_engine(&mut app, Duration::from_secs(60)),
        EngineStatus::Running(_)
    ));
    let pusher = app.world().resource::<FramePusher>().clone();
    let handle = app.world().resource::<DepthTextures>().depth.clone();

    for (round, colour) in [[40u8, 80, 120], [200, 10, 60]].into_iter().enumerate() {
        let sequence = pusher
            .push_rgb(
                320,
                256,
                320 * 3,
                &uniform_frame(colour),
                Duration::from_millis(33 * round as u64),
            )
            .unwrap();
        update_until(&mut app, "depth of the pushed frame", |app| {
            depth_sequence(app) == Some(sequence)
        });

        let world = app.world();
        let current = world.resource::<CurrentDepth>();
        let map = current.map.as_ref().unwrap();
        let want = common::closed_form_depth(colour);
        assert!(
            map.metres().iter().all(|d| (d - want).abs() < 1e-4),
            "depth should be {want}"
        );
        assert_eq!(map.timestamp, Duration::from_millis(33 * round as u64));

        let textures = world.resource::<DepthTextures>();
        assert_eq!(textures.depth, handle, "the texture handle stays the same");
        assert_eq!(textures.depth_sequence, Some(sequence));
        let image = world
            .resource::<Assets<Image>>()
            .get(&textures.depth)
            .unwrap();
        assert_eq!((image.width(), image.height()), (160, 128));
        // The texels go straight to the GPU (tests/textures_headless.rs).
        assert!(image.data.is_none(), "no CPU copy of the texture");
        assert_eq!(textures.depth_size, Some(UVec2::new(160, 128)));

        let received = &world.resource::<Received>().0;
        let message = received.last().expect("a NewDepth message");
        assert_eq!(message.sequence, sequence);
        assert_eq!(message.stats, map.stats());
    }
    let store = app.world().resource::<DiagnosticsStore>();
    let inference = store
        .get(&MonoDepthDiagnostics::INFERENCE_MS)
        .and_then(|d| d.measurement())
        .expect("inference diagnostic");
    assert!(inference.value > 0.0);
}

#[test]
fn the_synced_background_shows_the_frame_the_depth_came_from() {
    let mut app = app_with(Some("closed_form.onnx"), FrameSource::Pushed);
    wait_for_engine(&mut app, Duration::from_secs(60));
    let pusher = app.world().resource::<FramePusher>().clone();
    // A new frame before every update: the depth always lags the newest.
    let colours: Vec<[u8; 3]> = (0..40u8).map(|i| [i * 6, 255 - i * 6, 100]).collect();
    let check = |app: &App, lagged: &mut usize, newest: u64| {
        let textures = app.world().resource::<DepthTextures>();
        if let Some(depth) = depth_sequence(app) {
            // The background shows the depth's frame, not the newest.
            assert_eq!(textures.background_sequence, Some(depth));
            assert_eq!(textures.depth_sequence, Some(depth));
            let shown = app.world().resource::<CurrentDepth>().frame.as_ref();
            assert_eq!(shown.map(|f| f.sequence), Some(depth));
            if depth < newest {
                *lagged += 1;
            }
        }
    };
    let (mut lagged, mut last) = (0, 0);
    for colour in &colours {
        last = pusher
            .push_rgb(320, 256, 960, &uniform_frame(*colour), Duration::ZERO)
            .unwrap();
        app.update();
        check(&app, &mut lagged, last);
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(lagged > 0, "the depth lagged the newest frame");
    update_until(&mut app, "depth of the last frame", |app| {
        check(app, &mut lagged, last);
        depth_sequence(app) == Some(last)
    });
    for _ in 0..3 {
        app.update();
        check(&app, &mut lagged, last);
    }
    assert_eq!(
        app.world().resource::<DepthTextures>().background_sequence,
        Some(last)
    );
}

#[test]
fn the_newest_background_follows_the_camera_without_a_model() {
    let mut app = app_with(None, FrameSource::Pushed);
    app.world_mut()
        .resource_mut::<MonoDepthSettings>()
        .background = BackgroundSync::Newest;
    let pusher = app.world().resource::<FramePusher>().clone();
    let bgra = [10u8, 20, 30, 0].repeat(4 * 2);
    let sequence = pusher.push_bgra(4, 2, 16, &bgra, Duration::ZERO).unwrap();
    app.update();
    let world = app.world();
    assert_eq!(
        world.resource::<MonoDepthStatus>().engine,
        EngineStatus::NoModel
    );
    let textures = world.resource::<DepthTextures>();
    assert_eq!(textures.background_sequence, Some(sequence));
    assert_eq!(textures.background_size, Some(UVec2::new(4, 2)));
    let image = world
        .resource::<Assets<Image>>()
        .get(&textures.background)
        .unwrap();
    // The pixels go to the GPU as they are (tests/textures_headless.rs).
    assert_eq!(
        image.texture_descriptor.format,
        bevy::render::render_resource::TextureFormat::Bgra8UnormSrgb,
        "BGRA frames keep a BGRA texture"
    );
    assert!(world.resource::<CurrentDepth>().map.is_none());
}

#[test]
fn a_broken_model_is_a_status_and_the_app_keeps_updating() {
    let mut app = app_with(Some("broken_two_outputs.onnx"), FrameSource::Pushed);
    let status = wait_for_engine(&mut app, Duration::from_secs(60));
    let EngineStatus::ModelFailed(reason) = &status else {
        panic!("{status}")
    };
    assert!(
        reason.contains("broken_two_outputs.onnx") && reason.contains("2 outputs"),
        "{reason}"
    );
    let pusher = app.world().resource::<FramePusher>().clone();
    pusher
        .push_rgb(320, 256, 960, &uniform_frame([1, 2, 3]), Duration::ZERO)
        .unwrap();
    for _ in 0..5 {
        app.update();
    }
    assert!(app.world().resource::<CurrentDepth>().map.is_none());
    // Frames still reach the background.
    assert!(
        app.world()
            .resource::<DepthTextures>()
            .background_sequence
            .is_some()
    );
}

#[cfg(feature = "webcam")]
#[test]
fn no_camera_is_a_status_not_a_panic() {
    use bevy_mono_depth::sources::webcam::{CameraChoice, Webcam};
    // A camera name no machine has: the same path as "no camera at all".
    let webcam = Webcam {
        camera: CameraChoice::Name("no such camera 5f2b".into()),
        ..Default::default()
    };
    let mut app = app_with(None, FrameSource::Webcam(webcam));
    update_until(&mut app, "the camera status", |app| {
        matches!(
            app.world().resource::<MonoDepthStatus>().source,
            SourceStatus::NoCamera(_)
        )
    });
    let SourceStatus::NoCamera(reason) = &app.world().resource::<MonoDepthStatus>().source else {
        unreachable!()
    };
    assert!(
        reason.contains("no camera")
            || reason.contains("no such camera 5f2b")
            || reason.contains("could not be listed"),
        "{reason}"
    );
    for _ in 0..3 {
        app.update();
    }
}

#[test]
fn an_image_folder_feeds_the_engine() {
    let dir = common::Scratch::new("folder");
    let colours = [[10u8, 20, 30], [90, 60, 30], [250, 250, 0]];
    for (i, colour) in colours.iter().enumerate() {
        let image = image::RgbImage::from_pixel(320, 256, image::Rgb(*colour));
        image.save(dir.join(format!("frame_{i:03}.png"))).unwrap();
    }
    std::fs::write(dir.join("notes.txt"), "not an image").unwrap();
    // A corrupt image and one that claims 30000×30000 pixels (2.7 GB once
    // decoded) are skipped; the others keep flowing.
    std::fs::write(dir.join("frame_001b.png"), b"\x89PNG broken").unwrap();
    std::fs::write(dir.join("frame_001c.png"), png_claiming(30_000, 30_000)).unwrap();
    let mut app = app_with(
        Some("closed_form.onnx"),
        FrameSource::ImageFolder(ImageFolder {
            fps: 60.0,
            ..ImageFolder::new(dir.to_path_buf())
        }),
    );
    update_until(&mut app, "three depth maps", |app| {
        app.world().resource::<Received>().0.len() >= 3
    });
    assert!(matches!(
        app.world().resource::<MonoDepthStatus>().source,
        SourceStatus::Running(_)
    ));
    let map = app.world().resource::<CurrentDepth>().map.clone().unwrap();
    let d = map.get(5, 5).unwrap();
    assert!(
        colours
            .iter()
            .any(|c| (common::closed_form_depth(*c) - d).abs() < 1e-4),
        "{d} is none of the images' depths"
    );
    // No field of view given: a typical webcam's, marked assumed.
    let frame = app
        .world()
        .resource::<CurrentDepth>()
        .frame
        .clone()
        .unwrap();
    let k = frame.intrinsics().expect("folder frames carry intrinsics");
    assert!(k.assumed);
    let want =
        128.0 / (bevy_mono_depth::camera::DEFAULT_VERTICAL_FOV_DEGREES.to_radians() / 2.0).tan();
    assert!(
        (k.fy - want).abs() < 1e-3 && (k.cx, k.cy) == (160.0, 128.0),
        "{k:?}"
    );

    let missing = app_with(
        None,
        FrameSource::ImageFolder(ImageFolder::new(dir.join("missing"))),
    );
    let mut missing = missing;
    update_until(&mut missing, "the folder status", |app| {
        matches!(
            app.world().resource::<MonoDepthStatus>().source,
            SourceStatus::Failed(_)
        )
    });
}

/// A PNG whose header claims `width`×`height` RGB pixels, with one tiny
/// image-data chunk: valid chunks, no real pixels.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let chunk = |kind: &[u8], data: &[u8]| -> Vec<u8> {
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32fast::hash(&[kind, data].concat());
        out.extend_from_slice(&crc.to_be_bytes());
        out
    };
    let mut header = width.to_be_bytes().to_vec();
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &header));
    png.extend(chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    png.extend(chunk(b"IEND", &[]));
    png
}

#[test]
fn an_image_folder_at_a_nonsense_rate_still_plays() {
    let dir =
        std::env::temp_dir().join(format!("bevy_mono_depth_folder_nan_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    image::RgbImage::from_pixel(32, 16, image::Rgb([1, 2, 3]))
        .save(dir.join("a.png"))
        .unwrap();
    let mut app = app_with(
        None,
        FrameSource::ImageFolder(ImageFolder {
            fps: f32::NAN,
            ..ImageFolder::new(&dir)
        }),
    );
    update_until(&mut app, "frames at the fallback rate", |app| {
        app.world()
            .resource::<DepthTextures>()
            .background_sequence
            .is_some_and(|s| s >= 3)
    });
    assert!(matches!(
        app.world().resource::<MonoDepthStatus>().source,
        SourceStatus::Running(_)
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn frames_to_rgba_handles_every_format() {
    let rgb = CameraFrame::packed(PixelFormat::Rgb8, 1, 1, vec![1u8, 2, 3]).unwrap();
    let rgba =
        CameraFrame::new(PixelFormat::Rgba8, 1, 1, 8, vec![1u8, 2, 3, 0, 9, 9, 9, 9]).unwrap();
    let bgra = CameraFrame::packed(PixelFormat::Bgra8, 1, 1, vec![3u8, 2, 1, 0]).unwrap();
    for frame in [rgb, rgba, bgra] {
        assert_eq!(frame.to_rgba8(), [1, 2, 3, 255], "{:?}", frame.format());
        assert_eq!(frame.to_rgb8(), [1, 2, 3], "{:?}", frame.format());
    }
}

#[derive(Resource, Default)]
struct Alerts(Vec<ProximityChange>);

fn record_alerts(mut reader: MessageReader<ProximityAlert>, mut alerts: ResMut<Alerts>) {
    alerts.0.extend(reader.read().map(|a| a.0));
}

#[test]
fn the_proximity_alert_starts_and_ends_with_real_depth() {
    use bevy_mono_depth::camera::{FocalCorrection, Intrinsics};
    use bevy_mono_depth::model::ModelOverrides;
    // The model says it was trained at 250 px; the pushed frames come from a
    // camera of 125 px (wider): every depth is half what the model predicts.
    let (train, camera) = (250.0f32, 125.0f32);
    let mut app = headless_app(MonoDepthPlugin {
        session: common::cpu(),
        model: Some(model("closed_form.onnx")),
        source: FrameSource::Pushed,
        overrides: ModelOverrides {
            focal_px: Some(train),
            ..ModelOverrides::default()
        },
        ..Default::default()
    });
    app.init_resource::<Received>()
        .add_systems(Update, record)
        .init_resource::<Alerts>()
        .add_systems(Update, record_alerts);
    app.world_mut()
        .resource_mut::<MonoDepthProximity>()
        .detector
        .settings
        .min_interval = Duration::ZERO;
    wait_for_engine(&mut app, Duration::from_secs(60));
    let pusher = app.world().resource::<FramePusher>().clone();
    pusher.set_intrinsics(Some(Intrinsics::new(camera, camera, 160.0, 128.0)));
    // Grey 31: the model predicts 1.585 m, beyond the 1 m alert distance;
    // corrected it is half that, within it.
    let grey = [31, 31, 31];
    let corrected = common::closed_form_depth(grey) * camera / train;
    assert!(common::closed_form_depth(grey) > 1.0 && corrected < 1.0);
    let near = pusher
        .push_rgb(320, 256, 960, &uniform_frame(grey), Duration::ZERO)
        .unwrap();
    update_until(&mut app, "near depth", |app| {
        depth_sequence(app) == Some(near)
    });
    app.update();
    assert!(app.world().resource::<MonoDepthProximity>().is_active());
    assert_eq!(
        app.world().resource::<MonoDepthStatus>().focal,
        FocalCorrection::Applied {
            factor: camera / train,
            assumed: false
        }
    );
    // White: about 9.4 m predicted, 4.7 m corrected.
    let far = pusher
        .push_rgb(
            320,
            256,
            960,
            &uniform_frame([255, 255, 255]),
            Duration::ZERO,
        )
        .unwrap();
    update_until(&mut app, "far depth", |app| {
        depth_sequence(app) == Some(far)
    });
    app.update();
    let alerts = &app.world().resource::<Alerts>().0;
    assert!(
        matches!(alerts.as_slice(), [ProximityChange::Started { share, nearest }, ProximityChange::Ended] if *share == 1.0 && (*nearest - corrected).abs() < 1e-4),
        "{alerts:?}"
    );
}

#[test]
fn without_intrinsics_or_a_training_focal_length_the_status_says_why() {
    use bevy_mono_depth::camera::FocalCorrection;
    // The closed-form model has no training focal length.
    let mut app = app_with(Some("closed_form.onnx"), FrameSource::Pushed);
    wait_for_engine(&mut app, Duration::from_secs(60));
    let pusher = app.world().resource::<FramePusher>().clone();
    let sequence = pusher
        .push_rgb(320, 256, 960, &uniform_frame([31, 31, 31]), Duration::ZERO)
        .unwrap();
    update_until(&mut app, "depth", |app| {
        depth_sequence(app) == Some(sequence)
    });
    let status = app.world().resource::<MonoDepthStatus>();
    assert_eq!(status.focal, FocalCorrection::NoModelFocal);
    assert!(status.focal.to_string().contains("mono_depth.focal_px"));
    let map = app.world().resource::<CurrentDepth>().map.clone().unwrap();
    let predicted = common::closed_form_depth([31, 31, 31]);
    assert!(
        (map.get(0, 0).unwrap() - predicted).abs() < 1e-4,
        "not scaled"
    );
}

#[test]
fn pausing_stops_inference_but_not_the_background() {
    let mut app = app_with(Some("closed_form.onnx"), FrameSource::Pushed);
    wait_for_engine(&mut app, Duration::from_secs(60));
    let pusher = app.world().resource::<FramePusher>().clone();
    let first = pusher
        .push_rgb(320, 256, 960, &uniform_frame([9, 9, 9]), Duration::ZERO)
        .unwrap();
    update_until(&mut app, "the first depth", |app| {
        depth_sequence(app) == Some(first)
    });
    app.world_mut().resource_mut::<MonoDepthSettings>().paused = true;
    app.update();
    let received = app.world().resource::<MonoDepthStatus>().frames.received;
    let during = pusher
        .push_rgb(320, 256, 960, &uniform_frame([99, 99, 99]), Duration::ZERO)
        .unwrap();
    app.update();
    // The worker counts every frame handed to it as it is submitted: a
    // paused plugin hands it none.
    assert_eq!(
        app.world().resource::<MonoDepthStatus>().frames.received,
        received,
        "no frame reached the model while paused"
    );
    assert_eq!(depth_sequence(&app), Some(first), "no depth while paused");
    assert_eq!(
        app.world().resource::<DepthTextures>().background_sequence,
        Some(during),
        "the background follows the camera"
    );
    app.world_mut().resource_mut::<MonoDepthSettings>().paused = false;
    app.update();
    let after = pusher
        .push_rgb(320, 256, 960, &uniform_frame([50, 50, 50]), Duration::ZERO)
        .unwrap();
    update_until(&mut app, "depth after resuming", |app| {
        depth_sequence(app) == Some(after)
    });
}

#[test]
fn bad_pushed_buffers_are_errors_and_the_app_keeps_running() {
    let mut app = app_with(Some("closed_form.onnx"), FrameSource::Pushed);
    wait_for_engine(&mut app, Duration::from_secs(60));
    let pusher = app.world().resource::<FramePusher>().clone();
    let short = vec![0u8; 320 * 4 * 255];
    assert!(
        pusher
            .push_rgba(320, 256, 320 * 4, &short, Duration::ZERO)
            .is_err(),
        "a truncated buffer"
    );
    assert!(
        pusher
            .push_bgra(320, 256, 100, &short, Duration::ZERO)
            .is_err(),
        "a stride shorter than a row"
    );
    assert!(
        pusher.push_rgb(0, 256, 0, &[], Duration::ZERO).is_err(),
        "zero size"
    );
    // A frame numbered by the host at the very end of the range.
    let last = CameraFrame::packed(PixelFormat::Rgb8, 320, 256, uniform_frame([1, 2, 3]))
        .unwrap()
        .with_sequence(u64::MAX);
    assert_eq!(pusher.push(last), u64::MAX);
    update_until(&mut app, "depth of the host-numbered frame", |app| {
        depth_sequence(app) == Some(u64::MAX)
    });
    assert_eq!(app.world().resource::<MonoDepthStatus>().frames.failed, 0);
}

#[test]
fn ready_reaches_the_status_after_many_unread_results() {
    // The threads start in `PreStartup` (`MonoDepthSystems::Start`); run
    // only that, so no update reads anything while far more results arrive
    // than the event channel holds.
    let mut app = app_with(Some("closed_form.onnx"), FrameSource::Pushed);
    app.world_mut().run_schedule(PreStartup);
    assert_eq!(
        app.world().resource::<MonoDepthStatus>().engine,
        EngineStatus::Starting,
        "nothing received yet"
    );
    let pusher = app.world().resource::<FramePusher>().clone();
    let frame = uniform_frame([40, 80, 120]);
    let mut last = 0;
    for _ in 0..300 {
        last = pusher
            .push_rgb(320, 256, 320 * 3, &frame, Duration::ZERO)
            .unwrap();
        // Paced so that each frame is processed rather than replaced.
        std::thread::sleep(Duration::from_millis(5));
    }
    update_until(&mut app, "the last pushed frame's depth", |app| {
        depth_sequence(app) == Some(last)
    });
    let status = app.world().resource::<MonoDepthStatus>();
    let capacity = bevy_mono_depth::worker::EVENT_CAPACITY as u64;
    assert!(
        status.frames.processed > capacity,
        "the premise: more results than the channel holds arrived unread ({:?})",
        status.frames
    );
    assert!(
        matches!(status.engine, EngineStatus::Running(_)),
        "{}",
        status.engine
    );
}

#[test]
fn settings_components_and_status_are_registered_for_reflection() {
    use bevy::reflect::GetPath;
    use std::any::TypeId;

    let mut app = app_with(None, FrameSource::Pushed);
    app.update();
    let registry = app.world().resource::<AppTypeRegistry>().clone();
    let registry = registry.read();
    for (name, id) in [
        ("MonoDepthSettings", TypeId::of::<MonoDepthSettings>()),
        ("MonoDepthStatus", TypeId::of::<MonoDepthStatus>()),
        ("MonoDepthProximity", TypeId::of::<MonoDepthProximity>()),
        ("DepthTextures", TypeId::of::<DepthTextures>()),
    ] {
        assert!(
            registry.get_type_data::<ReflectResource>(id).is_some(),
            "{name} is not a reflected resource"
        );
    }
    assert!(
        registry
            .get_type_data::<ReflectComponent>(TypeId::of::<MonoDepthCamera>())
            .is_some(),
        "MonoDepthCamera is not a reflected component"
    );
    // Field types are registered with them, down into the core's settings.
    for id in [
        TypeId::of::<TemporalSettings>(),
        TypeId::of::<ProximitySettings>(),
        TypeId::of::<ResizeMode>(),
        TypeId::of::<FrameRotation>(),
        TypeId::of::<EngineStatus>(),
    ] {
        assert!(registry.get(id).is_some(), "{id:?} not registered");
    }
    // An inspector's edit: a nested setting by its path.
    let mut settings = MonoDepthSettings::default();
    *settings
        .reflect_path_mut("stabilisation")
        .unwrap()
        .try_downcast_mut::<Option<TemporalSettings>>()
        .unwrap() = None;
    assert_eq!(settings.stabilisation, None);
    let status = app.world().resource::<MonoDepthStatus>();
    assert_eq!(
        status
            .reflect_path("engine")
            .unwrap()
            .reflect_short_type_path(),
        "EngineStatus"
    );
}

#[test]
fn depth_from_elsewhere_is_shown_whole_or_refused_whole() {
    use bevy::ecs::system::RunSystemOnce;
    use bevy_mono_depth::plugin::{ExternalDepth, TextureError};

    let mut app = app_with(None, FrameSource::Pushed);
    app.update();
    let frame = CameraFrame::packed(PixelFormat::Rgb8, 4, 2, vec![90; 24])
        .unwrap()
        .with_sequence(5);
    let show = |app: &mut App, depth: DepthMap| {
        let frame = frame.clone();
        let mut depth = Some(depth);
        app.world_mut()
            .run_system_once(move |mut external: ExternalDepth| {
                external.show(&frame, depth.take().unwrap_or_default())
            })
            .unwrap()
    };
    // An empty map is refused, and the frame with it: nothing changes.
    let err = show(&mut app, DepthMap::empty()).unwrap_err();
    assert!(
        matches!(
            err,
            TextureError::Empty {
                what: "depth map",
                ..
            }
        ),
        "{err}"
    );
    assert!(app.world().resource::<CurrentDepth>().map.is_none());
    assert_eq!(
        app.world().resource::<DepthTextures>().background_sequence,
        None
    );
    let mut depth = DepthMap::from_metres(2, 1, vec![1.0, 2.0], (0.1, 10.0));
    depth.sequence = 5;
    show(&mut app, depth.clone()).unwrap();
    let current = app.world().resource::<CurrentDepth>();
    assert_eq!(current.map.as_ref(), Some(&depth));
    assert_eq!(current.frame.as_ref().map(|f| f.sequence), Some(5));
    let textures = app.world().resource::<DepthTextures>();
    assert_eq!(
        (textures.depth_sequence, textures.background_sequence),
        (Some(5), Some(5))
    );
    assert_eq!(textures.depth_size, Some(UVec2::new(2, 1)));
}

/// A model of relative depth through the plugin: pushed frames with anchors
/// give metres (and the proximity alert), the status says how they were
/// fitted; once frames stop carrying anchors and the held fit runs out, the
/// depth is not metric and nothing is near.
#[test]
fn relative_depth_is_metric_with_anchors_and_says_so_without() {
    use bevy_mono_depth::align::AlignSettings;
    use bevy_mono_depth::model::{DepthUnits, ModelOverrides};
    let mut app = headless_app(MonoDepthPlugin {
        session: common::cpu(),
        model: Some(model("inverse_relative.onnx")),
        source: FrameSource::Pushed,
        overrides: ModelOverrides {
            units: Some(DepthUnits::AffineInverse),
            depth_range: Some((0.01, 100.0)),
            ..ModelOverrides::default()
        },
        align: AlignSettings {
            hold_frames: 1,
            ..AlignSettings::default()
        },
        ..Default::default()
    });
    app.world_mut()
        .resource_mut::<MonoDepthProximity>()
        .detector
        .settings
        .min_interval = Duration::ZERO;
    wait_for_engine(&mut app, Duration::from_secs(60));
    let pusher = app.world().resource::<FramePusher>().clone();
    // Left half dark, right half bright; the model outputs
    // 0.1 + (R + G + B) / 765 (0.2 and 0.9), and the scene is 0.8 m away on
    // the left and 4 m on the right: 1 / depth = 1.4 · value + 0.4.
    let (dark, bright) = ([25u8, 25, 26], [230u8, 229, 230]);
    let value = |c: [u8; 3]| 0.1 + f32::from(c[0] as u16 + c[1] as u16 + c[2] as u16) / 765.0;
    let depth = |c| 1.0 / (1.4 * value(c) + 0.4);
    let pixels: Vec<u8> = (0..256)
        .flat_map(|_| (0..320).flat_map(move |x| if x < 160 { dark } else { bright }))
        .collect();
    let anchors: Vec<MetricAnchor> = (0..20)
        .map(|k| {
            let left = k % 2 == 0;
            MetricAnchor {
                x: if left { 40.0 } else { 280.0 } + k as f32,
                y: 20.0 + 10.0 * k as f32,
                depth: depth(if left { dark } else { bright }),
            }
        })
        .collect();
    let push = |anchors: Vec<MetricAnchor>| {
        let frame = CameraFrame::packed(PixelFormat::Rgb8, 320, 256, pixels.clone())
            .unwrap()
            .with_anchors(anchors);
        pusher.push(frame)
    };
    let fitted = push(anchors);
    update_until(&mut app, "aligned depth", |app| {
        depth_sequence(app) == Some(fitted)
    });
    app.update();
    let map = app.world().resource::<CurrentDepth>().map.clone().unwrap();
    let (near, far) = (map.get(10, 10).unwrap(), map.get(150, 10).unwrap());
    assert!(
        (near - depth(dark)).abs() < 1e-3 && (far - depth(bright)).abs() < 1e-3,
        "{near} {far}"
    );
    let status = app.world().resource::<MonoDepthStatus>();
    assert!(
        matches!(
            status.alignment,
            AlignmentStatus::Metric {
                anchors: 20,
                inliers: 20,
                age: 0,
                ..
            }
        ),
        "{}",
        status.alignment
    );
    // 0.8 m is within the alert's 1 m.
    assert!(app.world().resource::<MonoDepthProximity>().is_active());
    // No anchors: the fit is held one frame, then the depth is not metric.
    for _ in 0..2 {
        let sequence = push(Vec::new());
        update_until(&mut app, "depth without anchors", |app| {
            depth_sequence(app) == Some(sequence)
        });
    }
    app.update();
    let status = app.world().resource::<MonoDepthStatus>();
    assert!(
        matches!(status.alignment, AlignmentStatus::NotMetric(_)),
        "{}",
        status.alignment
    );
    assert!(status.alignment.to_string().contains("not metric"));
    let map = app.world().resource::<CurrentDepth>().map.clone().unwrap();
    assert_eq!(map.stats().valid, 0);
    assert!(!app.world().resource::<MonoDepthProximity>().is_active());
}
