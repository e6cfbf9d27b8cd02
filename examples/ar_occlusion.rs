//! AR occlusion with monocular depth: the camera image behind the scene,
//! virtual objects moving through the real room, hidden behind real
//! surfaces.
//!
//! Run it with `cargo xtask demo` (sets up ONNX Runtime first) or
//! `cargo run --release --example ar_occlusion -- --help`.
//!
//! Keys: O cycles occlusion (hard, soft, off), V the view (camera, depth,
//! mask), M mirrors the image, F3 shows the overlay.
//!
//! `--screenshot DIR` renders the README's pictures without a window and
//! exits (`cargo xtask screenshot`).

#[path = "ar_occlusion/screenshot.rs"]
mod screenshot;

use std::ops::Not;
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
  --mirror         mirror the image (front cameras; on by default for the
                   webcam, --no-mirror turns it off)
  --fov DEGREES    the webcam's or image folder's vertical field of view, for
                   metric depth and the virtual camera (default: a typical
                   webcam's 43.3°, shown as assumed; recordings carry their own)
  --screenshot DIR render hard occlusion, soft occlusion, the depth view and
                   the overlay over a still of the sample recording to PNGs
                   in DIR, without a window, and exit
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
    mirror: bool,
    fov_degrees: Option<f32>,
    screenshot: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut model = None;
    let mut images = None;
    let mut fps = 30.0f32;
    let mut camera = 0u32;
    let mut replay = None;
    let mut mirror = None;
    let mut fov_degrees = None;
    let mut screenshot = None;
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
            "--mirror" => mirror = Some(true),
            "--no-mirror" => mirror = Some(false),
            "--fov" => {
                fov_degrees = Some(
                    value("--fov")?
                        .parse()
                        .ok()
                        .filter(|f: &f32| (1.0..179.0).contains(f))
                        .ok_or("--fov needs degrees between 1 and 179".to_owned())?,
                )
            }
            "--screenshot" => screenshot = Some(PathBuf::from(value("--screenshot")?)),
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
    if let Some(dir) = &screenshot {
        let still = screenshot::still_of_sample(&asset_path(screenshot::SAMPLE), dir)?;
        replay = Some(still);
    }
    let source = match (images, replay) {
        (_, Some(dir)) => FrameSource::Replay(dir),
        (Some(path), None) => FrameSource::ImageFolder(ImageFolder {
            fps,
            vertical_fov: fov_degrees,
            ..ImageFolder::new(path)
        }),
        (None, None) => {
            let (source, why) = webcam_or_sample(camera, fov_degrees, &model);
            fallback = why;
            source
        }
    };
    // Front-facing webcams show a mirror image; recordings and folders not.
    let mirror = mirror.unwrap_or(
        matches!(
            &source,
            FrameSource::Replay(_) | FrameSource::ImageFolder(_)
        )
        .not(),
    );
    Ok(Args {
        model,
        source,
        fallback,
        mirror,
        fov_degrees,
        screenshot,
    })
}

/// The webcam, or the sample recording when there is no camera or no model
/// (with the reason).
fn webcam_or_sample(
    index: u32,
    fov: Option<f32>,
    model: &std::path::Path,
) -> (FrameSource, Option<String>) {
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
        _ => (webcam(index, fov), None),
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
fn webcam(index: u32, fov: Option<f32>) -> FrameSource {
    FrameSource::Webcam(bevy_mono_depth::sources::webcam::Webcam {
        camera: bevy_mono_depth::sources::webcam::CameraChoice::Index(index),
        vertical_fov: fov,
        ..Default::default()
    })
}

#[cfg(not(feature = "webcam"))]
fn webcam(_index: u32, _fov: Option<f32>) -> FrameSource {
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
    let mut app = App::new();
    match &args.screenshot {
        Some(dir) => screenshot::add_headless_plugins(&mut app, dir.clone()),
        None => {
            app.add_plugins(DefaultPlugins.set(WindowPlugin {
                primary_window: Some(Window {
                    title: "bevy_mono_depth — AR occlusion".into(),
                    ..default()
                }),
                ..default()
            }));
        }
    }
    app.add_plugins((
        MonoDepthPlugin {
            model: Some(args.model),
            source: args.source,
            ..default()
        },
        MonoDepthOverlayPlugin,
    ))
    .insert_resource(Fallback(args.fallback))
    .insert_resource(CameraSetup {
        mirror: args.mirror,
        // Until the first frame's intrinsics take over.
        fov: args
            .fov_degrees
            .unwrap_or(bevy_mono_depth::camera::DEFAULT_VERTICAL_FOV_DEGREES)
            .to_radians(),
        target: None,
    })
    .init_resource::<Motion>()
    .add_systems(
        EguiPrimaryContextPass,
        (show_fallback, show_proximity, show_keys),
    )
    .add_systems(Startup, setup_scene)
    .add_systems(Update, (keys, move_objects));
    if args.screenshot.is_some() {
        screenshot::add_choreography(&mut app);
    }
    app.run();
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

/// How the AR camera is set up.
#[derive(Resource)]
struct CameraSetup {
    mirror: bool,
    /// Vertical field of view, radians.
    fov: f32,
    /// Render into this image instead of the window (screenshots).
    target: Option<Handle<Image>>,
}

/// Time driving the virtual objects; fixed for screenshots.
#[derive(Resource, Default)]
struct Motion {
    fixed: Option<f32>,
}

/// A virtual object's path through the room, in camera space (metres; the
/// camera looks down −Z): `centre + swing · sin(speed · t)`, turning at
/// `spin` rad/s. At t = 0 every object is at its centre (the screenshots'
/// pose): placed for the sample recording, against its table, cube and ball.
#[derive(Component)]
struct Path {
    centre: Vec3,
    swing: Vec3,
    speed: f32,
    spin: f32,
    tilt: f32,
}

impl Path {
    fn transform(&self, t: f32) -> Transform {
        Transform::from_translation(self.centre + self.swing * (self.speed * t).sin())
            .with_rotation(Quat::from_euler(
                EulerRot::YXZ,
                self.spin * t,
                self.tilt,
                0.0,
            ))
    }
}

fn setup_scene(
    mut commands: Commands,
    setup: Res<CameraSetup>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut standard: ResMut<Assets<StandardMaterial>>,
    mut soft: ResMut<Assets<SoftOcclusionMaterial>>,
) {
    // The Bevy camera stands where the real one is: at the origin, looking
    // down −Z. Once frames arrive, `MonoDepthCamera` gives it the real
    // camera's projection (intrinsics, window aspect, fill, mirroring).
    let mut camera = commands.spawn((
        MonoDepthCamera {
            mirror: setup.mirror,
            ..default()
        },
        Projection::Perspective(PerspectiveProjection {
            fov: setup.fov,
            ..default()
        }),
        // Camera colours as they are; tonemapping would also tint the image.
        Tonemapping::None,
    ));
    if let Some(target) = &setup.target {
        camera.insert(bevy::camera::RenderTarget::Image(target.clone().into()));
    }
    commands.spawn((
        DirectionalLight {
            illuminance: 6_000.0,
            ..default()
        },
        Transform::from_xyz(2.0, 4.0, 2.0).looking_at(Vec3::new(0.0, 0.0, -2.0), Vec3::Y),
    ));
    let soft_colour = |r, g, b| {
        soft_occlusion(StandardMaterial {
            base_color: Color::srgb(r, g, b),
            perceptual_roughness: 0.4,
            ..default()
        })
    };
    // Soft-occlusion materials: hard or soft as the camera says. A ball
    // touching the real ball on the floor, a ring around the real cube on
    // the table.
    commands.spawn((
        Mesh3d(meshes.add(Sphere::new(0.22).mesh().uv(32, 18))),
        MeshMaterial3d(soft.add(soft_colour(0.95, 0.5, 0.15))),
        Path {
            centre: Vec3::new(0.62, -0.55, -2.8),
            swing: Vec3::new(-1.3, 0.0, -0.9),
            speed: 0.4,
            spin: 0.0,
            tilt: 0.0,
        },
    ));
    commands.spawn((
        Mesh3d(meshes.add(Torus::new(0.2, 0.28))),
        MeshMaterial3d(soft.add(soft_colour(0.25, 0.8, 0.35))),
        Path {
            centre: Vec3::new(0.18, 0.2, -3.24),
            swing: Vec3::new(0.0, 0.25, 0.0),
            speed: 0.7,
            spin: 0.0,
            tilt: 0.3,
        },
    ));
    // A plain StandardMaterial: hidden through the depth buffer alone,
    // sunk into the table top.
    commands.spawn((
        Mesh3d(meshes.add(Cuboid::new(0.35, 0.35, 0.35))),
        MeshMaterial3d(standard.add(Color::srgb(0.2, 0.45, 0.95))),
        Path {
            centre: Vec3::new(0.62, 0.1, -3.3),
            swing: Vec3::new(-1.4, 0.0, 0.0),
            speed: 0.3,
            spin: 0.8,
            tilt: 0.0,
        },
    ));
}

fn move_objects(time: Res<Time>, motion: Res<Motion>, mut objects: Query<(&Path, &mut Transform)>) {
    let t = motion.fixed.unwrap_or(time.elapsed_secs());
    for (path, mut transform) in &mut objects {
        *transform = path.transform(t);
    }
}

/// O: occlusion hard → soft → off; V: camera → depth → mask → confidence;
/// M: mirror;
/// G: image-guided ↔ bilinear edges.
fn keys(keys: Option<Res<ButtonInput<KeyCode>>>, mut cameras: Query<&mut MonoDepthCamera>) {
    let Some(keys) = keys else { return };
    for mut camera in &mut cameras {
        if keys.just_pressed(KeyCode::KeyO) {
            camera.occlusion = match camera.occlusion {
                OcclusionMode::Hard => OcclusionMode::Soft,
                OcclusionMode::Soft => OcclusionMode::Off,
                _ => OcclusionMode::Hard,
            };
        }
        if keys.just_pressed(KeyCode::KeyV) {
            camera.display = match camera.display {
                DepthDisplay::Camera => DepthDisplay::Depth,
                DepthDisplay::Depth => DepthDisplay::Mask,
                DepthDisplay::Mask => DepthDisplay::Confidence,
                _ => DepthDisplay::Camera,
            };
        }
        if keys.just_pressed(KeyCode::KeyM) {
            camera.mirror = !camera.mirror;
        }
        if keys.just_pressed(KeyCode::KeyG) {
            camera.upsampling = match camera.upsampling {
                DepthUpsampling::Guided => DepthUpsampling::Bilinear,
                _ => DepthUpsampling::Guided,
            };
        }
    }
}

fn show_keys(mut contexts: EguiContexts, cameras: Query<&MonoDepthCamera>) -> Result {
    let Some(camera) = cameras.iter().next() else {
        return Ok(());
    };
    egui::Window::new("keys")
        .title_bar(false)
        .resizable(false)
        .anchor(egui::Align2::RIGHT_BOTTOM, [-12.0, -12.0])
        .show(contexts.ctx_mut()?, |ui| {
            ui.label(format!(
                "O occlusion: {:?} · V view: {:?} · G edges: {:?} · M mirror: {} · F3 overlay",
                camera.occlusion,
                camera.display,
                camera.upsampling,
                if camera.mirror { "on" } else { "off" }
            ));
        });
    Ok(())
}
