//! AR occlusion with monocular depth.
//!
//! Run it with `cargo xtask demo` (sets up ONNX Runtime first) or
//! `cargo run --example ar_occlusion -- [MODEL.onnx]`.
//!
//! At this stage the example starts the plugin under a plain 3D scene and
//! shows, on screen and in the log, what it has and what it lacks: ONNX
//! Runtime, the model, a camera.

use std::path::PathBuf;

use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use bevy_mono_depth::plugin::DEFAULT_MODEL_PATH;
use bevy_mono_depth::prelude::*;
use bevy_mono_depth::sources::folder::ImageFolder;

const HELP: &str = "\
ar_occlusion [OPTIONS]

  --model PATH     ONNX depth model (default assets/models/fcrn.onnx, written by
                   `cargo xtask fetch-model`)
  --images DIR     frames from a folder of PNG/JPEG images, looping
  --fps N          rate for --images (default 30)
  --camera N       webcam number N (default 0; feature `webcam`)
  --replay DIR     play an RGB-D recording (frames and recorded depth; no
                   model or camera needed)
  --help           this text

Without --images or --replay the webcam is used; when there is no camera and
the sample recording assets/samples/room exists, it is replayed instead. What
is missing (runtime, model, camera) is shown on screen and in the log; the app
keeps running.
";

struct Args {
    model: PathBuf,
    source: FrameSource,
    /// Why the sample recording plays instead of the camera, shown on screen.
    fallback: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut model = None;
    let mut images = None;
    let mut fps = 30.0f32;
    let mut camera = 0u32;
    let mut replay = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--help" | "-h" => return Err(String::new()),
            "--model" => model = Some(PathBuf::from(value("--model")?)),
            "--images" => images = Some(PathBuf::from(value("--images")?)),
            "--fps" => {
                fps = value("--fps")?
                    .parse()
                    .map_err(|_| "--fps needs a number".to_owned())?
            }
            "--replay" => replay = Some(PathBuf::from(value("--replay")?)),
            "--camera" => {
                camera = value("--camera")?
                    .parse()
                    .map_err(|_| "--camera needs a number".to_owned())?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let model = model.unwrap_or_else(default_model);
    let mut fallback = None;
    let source = match (images, replay) {
        (_, Some(dir)) => FrameSource::Replay(dir),
        (Some(path), None) => FrameSource::ImageFolder(ImageFolder {
            fps,
            ..ImageFolder::new(path)
        }),
        (None, None) => {
            let (source, why) = webcam_or_sample(camera, &model);
            fallback = why;
            source
        }
    };
    Ok(Args {
        model,
        source,
        fallback,
    })
}

/// The webcam, or the sample recording when there is no camera or no model
/// (with the reason).
fn webcam_or_sample(index: u32, model: &std::path::Path) -> (FrameSource, Option<String>) {
    let sample = asset_path("assets/samples/room");
    let missing = match list_cameras() {
        Err(reason) => Some(format!("no camera ({reason})")),
        Ok(()) if !model.is_file() => Some(format!(
            "no model at {} (run `cargo xtask fetch-model`)",
            model.display()
        )),
        Ok(()) => None,
    };
    match missing {
        Some(why) if sample.join("session.json").is_file() => {
            let note = format!(
                "{why}: replaying the sample recording {} with its rendered depth",
                sample.display()
            );
            eprintln!("{note}");
            (FrameSource::Replay(sample), Some(note))
        }
        _ => (webcam(index), None),
    }
}

#[cfg(feature = "webcam")]
fn list_cameras() -> Result<(), String> {
    bevy_mono_depth::sources::webcam::list_cameras()
        .map(drop)
        .map_err(|e| e.to_string())
}

#[cfg(not(feature = "webcam"))]
fn list_cameras() -> Result<(), String> {
    Err("built without the `webcam` feature".into())
}

#[cfg(feature = "webcam")]
fn webcam(index: u32) -> FrameSource {
    FrameSource::Webcam(bevy_mono_depth::sources::webcam::Webcam {
        camera: bevy_mono_depth::sources::webcam::CameraChoice::Index(index),
        ..Default::default()
    })
}

#[cfg(not(feature = "webcam"))]
fn webcam(_index: u32) -> FrameSource {
    FrameSource::Pushed
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("error: {message}\n");
            }
            eprint!("{HELP}");
            std::process::exit(if message.is_empty() { 0 } else { 2 });
        }
    };
    App::new()
        .add_plugins(DefaultPlugins.set(WindowPlugin {
            primary_window: Some(Window {
                title: "bevy_mono_depth — AR occlusion".into(),
                ..default()
            }),
            ..default()
        }))
        .add_plugins((
            MonoDepthPlugin {
                model: Some(args.model),
                source: args.source,
                ..default()
            },
            MonoDepthOverlayPlugin,
        ))
        .insert_resource(Fallback(args.fallback))
        .add_systems(EguiPrimaryContextPass, (show_fallback, show_proximity))
        .add_systems(Startup, setup_scene)
        .add_systems(Update, spin)
        .run();
}

/// `assets/models/fcrn.onnx` (written by `cargo xtask fetch-model`).
fn default_model() -> PathBuf {
    asset_path(DEFAULT_MODEL_PATH)
}

/// `path`, found from the crate root when run through cargo from another folder.
fn asset_path(path: &str) -> PathBuf {
    let path = PathBuf::from(path);
    match std::env::var_os("CARGO_MANIFEST_DIR") {
        Some(root) if !path.exists() => PathBuf::from(root).join(path),
        _ => path,
    }
}

/// Why the example is not using the camera, if it is not.
#[derive(Resource)]
struct Fallback(Option<String>);

fn show_fallback(mut contexts: EguiContexts, fallback: Res<Fallback>) -> Result {
    if let Some(note) = &fallback.0 {
        egui::Window::new("fallback")
            .title_bar(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_BOTTOM, [0.0, -12.0])
            .show(contexts.ctx_mut()?, |ui| {
                ui.colored_label(egui::Color32::from_rgb(255, 190, 60), note);
            });
    }
    Ok(())
}

/// A warning in the middle of the screen while something real is close.
fn show_proximity(mut contexts: EguiContexts, proximity: Res<MonoDepthProximity>) -> Result {
    if !proximity.is_active() {
        return Ok(());
    }
    let nearest = proximity.last().map_or(0.0, |c| c.nearest);
    egui::Window::new("proximity")
        .title_bar(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_TOP, [0.0, 16.0])
        .show(contexts.ctx_mut()?, |ui| {
            ui.heading(
                egui::RichText::new(format!("Careful: something is {nearest:.1} m away"))
                    .color(egui::Color32::from_rgb(255, 80, 70)),
            );
        });
    Ok(())
}

#[derive(Component)]
struct Spin;

fn setup_scene(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    commands.spawn((
        Camera3d::default(),
        Tonemapping::None,
        Transform::from_xyz(0.0, 1.2, 3.0).looking_at(Vec3::new(0.0, 0.4, 0.0), Vec3::Y),
    ));
    commands.spawn((
        DirectionalLight {
            illuminance: 8_000.0,
            shadow_maps_enabled: true,
            ..default()
        },
        Transform::from_xyz(3.0, 5.0, 2.0).looking_at(Vec3::ZERO, Vec3::Y),
    ));
    commands.spawn((
        Mesh3d(meshes.add(Plane3d::default().mesh().size(6.0, 6.0))),
        MeshMaterial3d(materials.add(Color::srgb(0.35, 0.38, 0.42))),
    ));
    commands.spawn((
        Spin,
        Mesh3d(meshes.add(Cuboid::new(0.6, 0.6, 0.6))),
        MeshMaterial3d(materials.add(Color::srgb(0.9, 0.45, 0.2))),
        Transform::from_xyz(0.0, 0.5, 0.0),
    ));
}

fn spin(time: Res<Time>, mut cubes: Query<&mut Transform, With<Spin>>) {
    for mut transform in &mut cubes {
        transform.rotate_y(time.delta_secs() * 0.8);
    }
}
