//! "The game is not slowed": a headless Bevy app renders an AR scene with
//! occlusion at 640×480 while a 30 fps source feeds the model, then with
//! inference paused; frame times, and the plugin's main-thread systems when a
//! depth map lands, for each ONNX Runtime thread count.

use std::path::Path;
use std::time::{Duration, Instant};

use bevy::camera::RenderTarget;
use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::prelude::*;
use bevy::render::render_resource::TextureFormat;
use bevy::window::ExitCondition;
use bevy_mono_depth::frame::PixelFormat;
use bevy_mono_depth::prelude::*;
use bevy_mono_depth::session::SessionOptions;

use super::{Fallible, frame, percentile};

pub type Row = (String, String, String, String);

/// Time spent in `MonoDepthSystems::Receive` per update (µs): every update,
/// and those where depth landed.
#[derive(Resource, Default)]
pub struct ReceiveClock {
    started: Option<Instant>,
    pub all: Vec<f64>,
    pub landed: Vec<f64>,
    pub depth_frames: u32,
}

impl ReceiveClock {
    /// Adds the clock and the systems that time `Receive` to `app`.
    pub fn install(app: &mut App) {
        app.init_resource::<Self>().add_systems(
            PreUpdate,
            (
                clock_start.before(MonoDepthSystems::Receive),
                clock_stop.after(MonoDepthSystems::Receive),
            ),
        );
    }
}

fn clock_start(mut clock: ResMut<ReceiveClock>) {
    clock.started = Some(Instant::now());
}

fn clock_stop(mut clock: ResMut<ReceiveClock>, mut new: MessageReader<NewDepth>) {
    let Some(elapsed) = clock.started.take().map(|s| s.elapsed()) else {
        return;
    };
    let us = elapsed.as_secs_f64() * 1e6;
    clock.all.push(us);
    let landed = new.read().count();
    if landed > 0 {
        clock.landed.push(us);
        clock.depth_frames += landed as u32;
    }
}

/// Pushes a 640×480 BGRA frame every 1/30 s.
#[derive(Resource)]
struct Source {
    pixels: Vec<u8>,
    next: Instant,
}

fn push_frames(mut source: ResMut<Source>, pusher: Res<FramePusher>) {
    let now = Instant::now();
    if now >= source.next {
        source.next += Duration::from_secs_f64(1.0 / 30.0);
        if source.next < now {
            source.next = now;
        }
        let _ = pusher.push_bgra(640, 480, 640 * 4, &source.pixels, Duration::ZERO);
    }
}

fn app(model: &Path, setting: Setting) -> App {
    let mut app = App::new();
    let plugins = DefaultPlugins
        .set(WindowPlugin {
            primary_window: None,
            exit_condition: ExitCondition::DontExit,
            ..default()
        })
        .build();
    #[cfg(feature = "window")]
    let plugins = plugins.disable::<bevy::winit::WinitPlugin>();
    app.add_plugins(plugins).add_plugins(MonoDepthPlugin {
        model: Some(model.to_path_buf()),
        session: SessionOptions {
            intra_threads: setting.threads,
            low_priority: setting.low_priority,
            spinning: setting.spinning,
            provider: setting.provider,
            ..default()
        },
        source: FrameSource::Pushed,
        ..default()
    });
    let target = Image::new_target_texture(640, 480, TextureFormat::Rgba8UnormSrgb, None);
    let world = app.world_mut();
    let target = world.resource_mut::<Assets<Image>>().add(target);
    world.spawn((
        MonoDepthCamera::default(),
        RenderTarget::Image(target.into()),
        Tonemapping::None,
    ));
    world.spawn((
        DirectionalLight::default(),
        Transform::from_xyz(2.0, 4.0, 2.0).looking_at(Vec3::NEG_Z, Vec3::Y),
    ));
    let cube = world
        .resource_mut::<Assets<Mesh>>()
        .add(Cuboid::new(0.3, 0.3, 0.3));
    let ball = world
        .resource_mut::<Assets<Mesh>>()
        .add(Sphere::new(0.2).mesh().uv(32, 18));
    let plain = world
        .resource_mut::<Assets<StandardMaterial>>()
        .add(Color::srgb(0.2, 0.4, 0.9));
    let soft = world
        .resource_mut::<Assets<SoftOcclusionMaterial>>()
        .add(soft_occlusion(StandardMaterial::default()));
    for i in 0..6 {
        let x = i as f32 * 0.4 - 1.0;
        world.spawn((
            Mesh3d(cube.clone()),
            MeshMaterial3d(plain.clone()),
            Transform::from_xyz(x, 0.3, -2.0 - i as f32 * 0.3),
        ));
        world.spawn((
            Mesh3d(ball.clone()),
            MeshMaterial3d(soft.clone()),
            Transform::from_xyz(x, -0.3, -1.5 - i as f32 * 0.4),
        ));
    }
    app.insert_resource(Source {
        pixels: frame(PixelFormat::Bgra8, 640, 480).data().to_vec(),
        next: Instant::now(),
    })
    .add_systems(PreUpdate, push_frames.before(MonoDepthSystems::Receive));
    ReceiveClock::install(&mut app);
    app.finish();
    app.cleanup();
    app
}

/// Milliseconds per `update` over `frames` updates.
fn frame_times(app: &mut App, frames: usize) -> Vec<f64> {
    (0..frames)
        .map(|_| {
            let start = Instant::now();
            app.update();
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect()
}

struct Run {
    running: Vec<f64>,
    paused: Vec<f64>,
    landed_us: Vec<f64>,
    depth_fps: f64,
}

/// One session set-up of the render measurement.
#[derive(Clone, Copy)]
struct Setting {
    threads: usize,
    low_priority: bool,
    spinning: bool,
    provider: ExecutionProvider,
}

fn run(model: &Path, setting: Setting, frames: usize) -> Fallible<Run> {
    let mut app = app(model, setting);
    // Until depth flows and the pipelines have compiled.
    let deadline = Instant::now() + Duration::from_secs(180);
    while app.world().resource::<CurrentDepth>().map.is_none() {
        if Instant::now() > deadline {
            return Err(format!(
                "no depth in the render app: {}",
                app.world().resource::<MonoDepthStatus>().engine
            )
            .into());
        }
        app.update();
    }
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_secs(3) {
        app.update();
    }
    app.world_mut()
        .resource_mut::<ReceiveClock>()
        .landed
        .clear();
    app.world_mut().resource_mut::<ReceiveClock>().depth_frames = 0;
    let start = Instant::now();
    let running = frame_times(&mut app, frames);
    let seconds = start.elapsed().as_secs_f64();
    let clock = app.world().resource::<ReceiveClock>();
    let (landed_us, depth_fps) = (
        clock.landed.clone(),
        f64::from(clock.depth_frames) / seconds,
    );
    app.world_mut().resource_mut::<MonoDepthSettings>().paused = true;
    // Let the frame being inferred finish.
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_secs(1) {
        app.update();
    }
    let paused = frame_times(&mut app, frames);
    Ok(Run {
        running,
        paused,
        landed_us,
        depth_fps,
    })
}

fn p50_p99(xs: &[f64]) -> (f64, f64) {
    (percentile(xs.to_vec(), 0.5), percentile(xs.to_vec(), 0.99))
}

pub fn measure(model: &Path, frames: usize, smoke: bool) -> Fallible<Vec<Row>> {
    // (intra-op threads, inference below normal priority, spinning, provider)
    use ExecutionProvider::{Auto, Cpu};
    let configs: &[(usize, bool, bool, ExecutionProvider)] = if smoke {
        &[(1, true, false, Cpu), (2, true, true, Cpu)]
    } else {
        &[
            (1, true, false, Cpu),
            (1, false, false, Cpu),
            (2, true, false, Cpu),
            (2, true, true, Cpu),
            (2, false, false, Cpu),
            (2, false, true, Cpu),
            (1, true, false, Auto),
            (2, true, false, Auto),
        ]
    };
    let mut rows = Vec::new();
    for &(threads, low_priority, spinning, provider) in configs {
        let setting = Setting {
            threads,
            low_priority,
            spinning,
            provider,
        };
        let run = run(model, setting, frames)?;
        let priority = if low_priority {
            "low priority"
        } else {
            "normal priority"
        };
        // Spinning only exists with a pool (more than one thread).
        let spin = match (threads, spinning) {
            (1, _) => "",
            (_, true) => ", spinning",
            (_, false) => ", no spinning",
        };
        let on = match provider {
            Cpu => String::new(),
            other => format!("{other:?} provider, "),
        };
        let setting = format!("{on}{threads} ONNX Runtime thread(s), {priority}{spin}");
        let (run50, run99) = p50_p99(&run.running);
        let (pause50, pause99) = p50_p99(&run.paused);
        println!(
            "render, {setting}: running p50 {run50:.1} / p99 {run99:.1} ms, paused p50 {pause50:.1} / p99 {pause99:.1} ms, depth {:.2} fps",
            run.depth_fps
        );
        rows.push((
            format!("frame time, {setting}: inference running vs paused"),
            format!(
                "p50 {run50:.1} vs {pause50:.1} ms, p99 {run99:.1} vs {pause99:.1} ms; depth {:.2} fps",
                run.depth_fps
            ),
            "(report)".into(),
            String::new(),
        ));
        let (l50, l99) = p50_p99(&run.landed_us);
        rows.push((
            format!("plugin systems (Receive) on frames where depth lands, {setting}"),
            format!(
                "p50 {l50:.0} µs, p99 {l99:.0} µs ({} frames)",
                run.landed_us.len()
            ),
            "(report)".into(),
            String::new(),
        ));
    }
    Ok(rows)
}
