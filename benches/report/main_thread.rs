//! The plugin's main-thread time per update with stabilisation and
//! reprojection on: a replay of 640×480 frames with poses (30 fps) and
//! 160×128 depth, `BackgroundSync::Reprojected`, updates at 60 fps; the
//! time spent in `MonoDepthSystems::Receive` (where the depth is taken,
//! stabilised and reprojected, or just taken) per update.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bevy::math::{Affine3A, Quat, Vec3};
use bevy::prelude::*;
use bevy_mono_depth::camera::Intrinsics;
use bevy_mono_depth::depth::DepthMap;
use bevy_mono_depth::frame::{CameraFrame, PixelFormat};
use bevy_mono_depth::plugin::{BackgroundSync, FrameSource, MonoDepthPlugin, MonoDepthSettings};
use bevy_mono_depth::sources::recording::Recorder;

use super::{Fallible, percentile};
use crate::render::{ReceiveClock, Row};

const FRAMES: usize = 90;

/// Writes a recording of a camera sliding and turning past a box in
/// front of a wall.
fn write_recording(dir: &Path) -> Fallible<()> {
    let _ = std::fs::remove_dir_all(dir);
    let mut recorder = Recorder::create(dir, "synthetic (benchmark)")?;
    let intrinsics = Intrinsics::new(500.0, 500.0, 320.0, 240.0);
    recorder.set_intrinsics(intrinsics)?;
    let (w, h) = (640u32, 480u32);
    for k in 0..FRAMES {
        let pixels: Vec<u8> = (0..h)
            .flat_map(|y| (0..w).flat_map(move |x| [(x / 4) as u8, (y / 2) as u8, (k * 3) as u8]))
            .collect();
        let pose = Affine3A::from_rotation_translation(
            Quat::from_rotation_y(0.002 * k as f32),
            Vec3::new(0.005 * k as f32, 0.0, 0.0),
        );
        let frame = CameraFrame::packed(PixelFormat::Rgb8, w, h, pixels)?
            .with_timestamp(Duration::from_secs_f64(k as f64 / 30.0))
            .with_intrinsics(Some(intrinsics))
            .with_pose(Some(pose));
        let depth = DepthMap::from_metres(
            160,
            128,
            (0..160 * 128)
                .map(|i| {
                    let (x, y) = (i % 160, i / 160);
                    if (50..90).contains(&x) && (40..100).contains(&y) {
                        1.2
                    } else {
                        3.0 + 0.002 * x as f32
                    }
                })
                .collect(),
            (0.1, 10.0),
        );
        recorder.record(&frame, &depth, None)?;
    }
    recorder.write_index()?;
    Ok(())
}

fn app(dir: PathBuf) -> App {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        bevy::asset::AssetPlugin::default(),
        bevy::image::ImagePlugin::default(),
    ))
    .add_plugins(MonoDepthPlugin {
        model: None,
        source: FrameSource::Replay(dir),
        ..default()
    });
    ReceiveClock::install(&mut app);
    app.finish();
    app.cleanup();
    app.world_mut()
        .resource_mut::<MonoDepthSettings>()
        .background = BackgroundSync::Reprojected;
    app
}

pub fn measure(smoke: bool) -> Fallible<Vec<Row>> {
    let dir = std::env::temp_dir().join(format!("mono_depth_main_thread_{}", std::process::id()));
    write_recording(&dir)?;
    let mut app = app(dir.clone());
    let seconds = if smoke { 1.0 } else { FRAMES as f64 / 30.0 };
    let tick = Duration::from_secs_f64(1.0 / 60.0);
    let start = Instant::now();
    let mut next = start;
    while start.elapsed().as_secs_f64() < seconds {
        app.update();
        next += tick;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let clock = app
        .world_mut()
        .remove_resource::<ReceiveClock>()
        .unwrap_or_default();
    let status = app
        .world()
        .resource::<bevy_mono_depth::plugin::MonoDepthStatus>()
        .reprojection
        .to_string();
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
    let stat = |xs: &[f64]| {
        if xs.is_empty() {
            return "none".to_owned();
        }
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        format!(
            "p50 {:.0} µs, p99 {:.0} µs, mean {mean:.0} µs ({} updates)",
            percentile(xs.to_vec(), 0.5),
            percentile(xs.to_vec(), 0.99),
            xs.len()
        )
    };
    println!("main thread, Reprojected + stabilised replay: reprojection {status}");
    Ok(vec![
        (
            "main thread (Receive) per update, Reprojected + stabilised replay 640×480 → 160×128, 30 fps frames, 60 fps updates".into(),
            stat(&clock.all),
            "(report)".into(),
            String::new(),
        ),
        (
            "main thread (Receive) on updates where depth lands, same run".into(),
            stat(&clock.landed),
            "(report)".into(),
            String::new(),
        ),
    ])
}
