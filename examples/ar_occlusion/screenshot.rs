//! `--screenshot DIR`: the README's pictures, rendered without a window.
//!
//! A still of the sample recording (one frame and its depth, replayed in a
//! loop) keeps the real scene fixed; the virtual objects stand at a fixed
//! time. The camera renders into an image; once depth has arrived and the
//! pipelines have had time to compile, each shot sets the camera's mode,
//! waits a few frames, captures the image and writes it as a PNG.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bevy::app::ScheduleRunnerPlugin;
use bevy::prelude::*;
use bevy::render::render_resource::{TextureFormat, TextureUsages};
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use bevy::window::ExitCondition;
use bevy_mono_depth::plugin::MonoDepthOverlay;
use bevy_mono_depth::prelude::*;
use bevy_mono_depth::sources::recording::{Recorder, Recording};

use crate::{CameraSetup, Motion};

/// The recording the pictures are made from.
pub const SAMPLE: &str = "assets/samples/room";
/// Which of its frames.
const FRAME: usize = 12;
/// Picture size.
/// 16:9 over the sample's 4:3 frames, as a desktop window shows them.
const SIZE: (u32, u32) = (1280, 720);
/// Time at which the virtual objects are shown (their placed pose).
const MOTION_TIME: f32 = 0.0;

/// One picture: file name, occlusion, view, overlay shown.
const SHOTS: [(&str, OcclusionMode, DepthDisplay, bool); 4] = [
    (
        "occlusion_hard.png",
        OcclusionMode::Hard,
        DepthDisplay::Camera,
        false,
    ),
    (
        "occlusion_soft.png",
        OcclusionMode::Soft,
        DepthDisplay::Camera,
        false,
    ),
    (
        "depth_view.png",
        OcclusionMode::Hard,
        DepthDisplay::Depth,
        false,
    ),
    (
        "overlay.png",
        OcclusionMode::Hard,
        DepthDisplay::Camera,
        true,
    ),
];

/// Writes a recording of frame [`FRAME`] of `sample` alone into
/// `out/.still` and returns its folder.
pub fn still_of_sample(sample: &Path, out: &Path) -> Result<PathBuf, String> {
    let recording = Recording::open(sample).map_err(|e| e.to_string())?;
    let frame = recording.load_frame(FRAME).map_err(|e| e.to_string())?;
    let depth = recording.load_depth(FRAME).map_err(|e| e.to_string())?;
    let dir = out.join(".still");
    let _ = std::fs::remove_dir_all(&dir);
    let mut recorder =
        Recorder::create(&dir, recording.index.depth_source.clone()).map_err(|e| e.to_string())?;
    recorder
        .record(&frame, &depth, None)
        .map_err(|e| e.to_string())?;
    Ok(dir)
}

/// Bevy without a window: the app runs in a loop until the shots are done.
pub fn add_headless_plugins(app: &mut App, dir: PathBuf) {
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: None,
                exit_condition: ExitCondition::DontExit,
                ..default()
            })
            .disable::<bevy::winit::WinitPlugin>(),
    )
    .add_plugins(ScheduleRunnerPlugin::run_loop(Duration::from_millis(5)))
    .insert_resource(Shots {
        dir,
        next: 0,
        ready_at: None,
        frames_in_shot: 0,
        saved: Arc::default(),
        failed: Arc::default(),
    });
}

pub fn add_choreography(app: &mut App) {
    app.add_systems(PreStartup, make_target)
        .add_systems(Update, take_shots);
}

#[derive(Resource)]
struct Shots {
    dir: PathBuf,
    /// Index of the shot being taken.
    next: usize,
    /// When the scene was ready (depth shown), to let pipelines compile.
    ready_at: Option<Instant>,
    frames_in_shot: u32,
    /// Pictures written so far, by the capture observers.
    saved: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
}

fn make_target(
    mut images: ResMut<Assets<Image>>,
    mut setup: ResMut<CameraSetup>,
    mut motion: ResMut<Motion>,
) {
    let mut image = Image::new_target_texture(SIZE.0, SIZE.1, TextureFormat::Rgba8UnormSrgb, None);
    image.texture_descriptor.usage |= TextureUsages::COPY_SRC; // captured
    setup.target = Some(images.add(image));
    motion.fixed = Some(MOTION_TIME);
}

#[allow(clippy::too_many_arguments)]
fn take_shots(
    mut commands: Commands,
    mut shots: ResMut<Shots>,
    setup: Res<CameraSetup>,
    textures: Option<Res<DepthTextures>>,
    status: Res<MonoDepthStatus>,
    mut overlay: ResMut<MonoDepthOverlay>,
    mut cameras: Query<&mut MonoDepthCamera>,
    mut exit: MessageWriter<AppExit>,
) {
    let Some(target) = &setup.target else { return };
    if shots.failed.load(Ordering::SeqCst) > 0 {
        error!("a picture could not be written");
        exit.write(AppExit::error());
        return;
    }
    let depth_shown = textures.is_some_and(|t| t.depth_sequence.is_some());
    let Some(ready_at) = shots.ready_at else {
        if depth_shown {
            shots.ready_at = Some(Instant::now());
        } else if let EngineStatus::ModelFailed(e) = &status.engine {
            error!("no depth: {e}");
            exit.write(AppExit::error());
        }
        return;
    };
    // Material and pass pipelines compile in the background.
    if ready_at.elapsed() < Duration::from_secs(3) {
        return;
    }
    let saved = shots.saved.load(Ordering::SeqCst);
    if saved == SHOTS.len() {
        info!("{} pictures in {}", SHOTS.len(), shots.dir.display());
        let _ = std::fs::remove_dir_all(shots.dir.join(".still"));
        exit.write(AppExit::Success);
        return;
    }
    if shots.next > saved {
        return; // waiting for the capture of the previous shot
    }
    let (name, occlusion, display, show_overlay) = SHOTS[shots.next];
    if shots.frames_in_shot == 0 {
        for mut camera in &mut cameras {
            camera.occlusion = occlusion;
            camera.display = display;
        }
        overlay.visible = show_overlay;
    }
    shots.frames_in_shot += 1;
    // A few frames for the change to reach the screen (and egui's layout).
    if shots.frames_in_shot < 10 {
        return;
    }
    let path = shots.dir.join(name);
    let (saved, failed) = (Arc::clone(&shots.saved), Arc::clone(&shots.failed));
    commands.spawn(Screenshot::image(target.clone())).observe(
        move |captured: On<ScreenshotCaptured>| match write_png(&captured.image, &path) {
            Ok(()) => {
                info!("wrote {}", path.display());
                saved.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) => {
                error!("{}: {e}", path.display());
                failed.fetch_add(1, Ordering::SeqCst);
            }
        },
    );
    shots.next += 1;
    shots.frames_in_shot = 0;
}

fn write_png(image: &Image, path: &Path) -> Result<(), String> {
    let (width, height) = (image.width(), image.height());
    let mut rgba = image.data.clone().ok_or("the capture holds no pixels")?;
    match image.texture_descriptor.format {
        TextureFormat::Rgba8UnormSrgb | TextureFormat::Rgba8Unorm => {}
        TextureFormat::Bgra8UnormSrgb | TextureFormat::Bgra8Unorm => {
            rgba.chunks_exact_mut(4).for_each(|px| px.swap(0, 2));
        }
        other => return Err(format!("unexpected capture format {other:?}")),
    }
    if rgba.len() != width as usize * height as usize * 4 {
        return Err(format!(
            "capture holds {} bytes for {width}×{height}",
            rgba.len()
        ));
    }
    // Opaque, whatever the alpha the passes left.
    rgba.chunks_exact_mut(4).for_each(|px| px[3] = 255);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    image::save_buffer(path, &rgba, width, height, image::ExtendedColorType::Rgba8)
        .map_err(|e| e.to_string())
}
