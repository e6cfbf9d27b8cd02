//! The app `cargo xtask client` builds outside the repository, against the
//! packaged crate, from the README's "In an app of your own" lines. It runs
//! headless, pushes camera frames of one colour through `FramePusher`, and
//! exits once depth for one of them has arrived, printing what arrived (the
//! xtask checks the metres against the closed-form test model's formula).
//! It gives up after two minutes, printing the plugin's status.

use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_mono_depth::prelude::*;

/// Colour of every pushed frame, printed for the xtask's check.
const COLOUR: [u8; 3] = [40, 80, 120];
const WIDTH: u32 = 320;
const HEIGHT: u32 = 256;
const GIVE_UP: Duration = Duration::from_secs(120);

#[derive(Resource)]
struct Started(Instant);

fn main() -> AppExit {
    let Some(model) = std::env::args().nth(1) else {
        eprintln!("usage: mono_depth_client MODEL.onnx");
        return AppExit::error();
    };
    App::new()
        // Bevy's headless set-up, 60 updates a second.
        .add_plugins((
            MinimalPlugins.set(bevy::app::ScheduleRunnerPlugin::run_loop(
                Duration::from_secs_f64(1.0 / 60.0),
            )),
            AssetPlugin::default(),
            ImagePlugin::default(),
        ))
        .add_plugins(MonoDepthPlugin {
            model: Some(model.into()),
            source: FrameSource::Pushed,
            ..default()
        })
        .insert_resource(Started(Instant::now()))
        .add_systems(Update, (push_frame, give_up))
        .add_systems(PreUpdate, arrived.after(MonoDepthSystems::Receive))
        .run()
}

/// One frame every 33 ms (the pusher keeps only the newest anyway).
fn push_frame(pusher: Res<FramePusher>, started: Res<Started>, mut last: Local<Option<Instant>>) {
    if last.is_some_and(|at| at.elapsed() < Duration::from_millis(33)) {
        return;
    }
    *last = Some(Instant::now());
    let pixels = COLOUR.repeat((WIDTH * HEIGHT) as usize);
    if let Err(e) = pusher.push_rgb(WIDTH, HEIGHT, WIDTH as usize * 3, &pixels, started.0.elapsed()) {
        eprintln!("frame refused: {e}");
    }
}

fn arrived(mut new_depth: MessageReader<NewDepth>, mut exit: MessageWriter<AppExit>) {
    if let Some(depth) = new_depth.read().last() {
        println!(
            "depth arrived: frame {}, colour {:?}, {} valid texels, nearest {:.4} m, farthest {:.4} m",
            depth.sequence, COLOUR, depth.stats.valid, depth.stats.min, depth.stats.max
        );
        exit.write(AppExit::Success);
    }
}

fn give_up(started: Res<Started>, status: Res<MonoDepthStatus>, mut exit: MessageWriter<AppExit>) {
    if started.0.elapsed() > GIVE_UP {
        eprintln!("no depth after {GIVE_UP:?}; status: {status:?}");
        exit.write(AppExit::error());
    }
}
