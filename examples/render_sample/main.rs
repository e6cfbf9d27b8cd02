//! Renders the sample RGB-D recording with Bevy itself: a room with
//! furniture-like shapes, a moving camera, and exact depth from the renderer.
//!
//! `cargo xtask sample` runs it (headless, on Mesa's software Vulkan when
//! there is no GPU) and writes `assets/samples/room`.
//!
//! `render_sample --quality DIR [--frames N]` renders the ground truth of the
//! occlusion-quality benchmark (`cargo xtask quality`) instead: eight
//! sequences at 640×480 and 30 frames a second, the colour antialiased
//! (MSAA ×4), in a room that also holds thin things (chair legs and slats, a
//! lamp pole, plant stems) and textured surfaces — a still and a moving
//! camera looking at the table, and the same at the chair and the lamp; a
//! camera that tilts, one that rises and one that steps back in front of the
//! table; and a walk towards a plain wall. The colour and the depth are two
//! cameras with the same pose: one renders the scene with ordinary
//! materials, the other renders the same meshes (on another render layer)
//! with a material that writes each fragment's depth along the camera axis.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bevy::asset::{load_internal_asset, uuid_handle};
use bevy::camera::visibility::RenderLayers;
use bevy::camera::{Hdr, RenderTarget};
use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::pbr::{Material, MaterialPlugin};
use bevy::prelude::*;
use bevy::render::gpu_readback::{Readback, ReadbackComplete};
use bevy::render::render_resource::{
    AsBindGroup, Extent3d, TextureDimension, TextureFormat, TextureUsages,
};
use bevy::shader::ShaderRef;
use bevy::window::ExitCondition;
use bevy_mono_depth::depth::DepthMap;
use bevy_mono_depth::frame::{CameraFrame, PixelFormat};
use bevy_mono_depth::sources::recording::{Intrinsics, Recorder};

/// What to render: the sample recording, or one quality sequence.
#[derive(Resource, Clone, Copy)]
struct Config {
    width: u32,
    height: u32,
    fps: f32,
    /// Antialiasing of the colour camera.
    msaa: Msaa,
    /// The thin things and textures of the quality scenes.
    extras: bool,
}

const SAMPLE: Config = Config {
    width: 320,
    height: 240,
    fps: 10.0,
    msaa: Msaa::Off,
    extras: false,
};

const QUALITY: Config = Config {
    width: 640,
    height: 480,
    fps: 30.0,
    msaa: Msaa::Sample4,
    extras: true,
};

/// The sample's frame count.
const FRAMES: u32 = 24;
const DEPTH_SHADER: Handle<Shader> = uuid_handle!("6c1f5f4e-2f0b-4f4e-9a55-3d1c6a0d8e21");

#[derive(Asset, TypePath, AsBindGroup, Clone, Debug)]
struct DepthMaterial {}

impl Material for DepthMaterial {
    fn fragment_shader() -> ShaderRef {
        ShaderRef::Handle(DEPTH_SHADER)
    }
}

#[derive(Resource, Clone)]
struct Targets {
    colour: Handle<Image>,
    depth: Handle<Image>,
}

#[derive(Component)]
struct Eye;

type Captured = Arc<Mutex<(Option<Vec<u8>>, Option<Vec<u8>>)>>;

/// A camera path: the pose at `t` (0–1 across the sequence).
type Path = fn(f32) -> Transform;

/// Frames the quality sequences' camera paths span: shorter runs (the
/// smoke run's 3) render the first frames of the same motion, so one frame
/// late means the same camera motion in both.
const QUALITY_PATH_FRAMES: u32 = 30;

/// The quality sequences: name and camera path.
const SEQUENCES: [(&str, Path); 8] = [
    ("table_still", |_| table_pose(0.35)),
    ("table_moving", table_pose),
    ("thin_still", |_| thin_pose(0.5)),
    ("thin_moving", thin_pose),
    ("tilt_moving", tilt_pose),
    ("rise_moving", rise_pose),
    ("step_back_moving", step_back_pose),
    ("wall_moving", wall_pose),
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("--quality") => {
            let out = PathBuf::from(args.get(1).map_or("target/quality", String::as_str));
            let frames = args
                .iter()
                .position(|a| a == "--frames")
                .and_then(|i| args.get(i + 1))
                .map_or(Ok(QUALITY_PATH_FRAMES), |n| n.parse::<u32>())
                .map_err(|e| format!("--frames: {e}"));
            frames.and_then(|frames| {
                let mut app = app(QUALITY)?;
                for (name, path) in SEQUENCES {
                    render(&mut app, &out.join(name), frames, QUALITY_PATH_FRAMES, path)?;
                }
                Ok(())
            })
        }
        other => {
            let out = PathBuf::from(other.unwrap_or("assets/samples/room"));
            app(SAMPLE).and_then(|mut app| render(&mut app, &out, FRAMES, FRAMES, camera_pose))
        }
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// A headless app with the scene of `config`, its pipelines compiled.
fn app(config: Config) -> Result<App, String> {
    let mut app = App::new();
    let plugins = DefaultPlugins.set(WindowPlugin {
        primary_window: None,
        exit_condition: ExitCondition::DontExit,
        ..default()
    });
    #[cfg(feature = "window")]
    let plugins = plugins.build().disable::<bevy::winit::WinitPlugin>();
    app.add_plugins(plugins)
        .add_plugins(MaterialPlugin::<DepthMaterial>::default());
    load_internal_asset!(app, DEPTH_SHADER, "depth.wgsl", Shader::from_wgsl);
    app.insert_resource(config);
    app.add_systems(Startup, setup);
    app.finish();
    app.cleanup();
    // Let pipelines compile before the first capture.
    for _ in 0..30 {
        app.update();
    }
    Ok(app)
}

/// Renders `frames` frames along `path` into a recording at `out`, the path
/// spanning `path_frames` frames (or all of them, when more). A still path
/// is rendered once and recorded `frames` times.
fn render(
    app: &mut App,
    out: &std::path::Path,
    frames: u32,
    path_frames: u32,
    path: Path,
) -> Result<(), String> {
    let Config {
        width, height, fps, ..
    } = *app.world().resource::<Config>();
    let _ = std::fs::remove_dir_all(out);
    let mut recorder =
        Recorder::create(out, "renderer (exact, whole millimetres)").map_err(|e| e.to_string())?;
    let fy = (height as f32 / 2.0) / (std::f32::consts::FRAC_PI_4 / 2.0).tan();
    recorder
        .set_intrinsics(Intrinsics::new(
            fy,
            fy,
            width as f32 / 2.0,
            height as f32 / 2.0,
        ))
        .map_err(|e| e.to_string())?;
    let targets = app.world().resource::<Targets>().clone();
    let mut previous: Option<(Transform, Vec<u8>, Vec<f32>)> = None;
    for n in 0..frames {
        let t = n as f32 / (frames.max(path_frames).max(2) - 1) as f32;
        let pose = path(t);
        let (rgba, metres) = match previous.take() {
            Some((last, rgba, metres)) if last == pose => (rgba, metres),
            _ => capture_frame(app, &targets, pose, n)?,
        };
        let frame = CameraFrame::packed(PixelFormat::Rgba8, width, height, rgba.clone())
            .map_err(|e| e.to_string())?
            .with_sequence(u64::from(n) + 1)
            .with_timestamp(Duration::from_secs_f32(n as f32 / fps))
            .with_pose(Some(pose.compute_affine()));
        let mut map = DepthMap::from_metres(width, height, metres.clone(), (0.01, 65.0));
        // The room is closed: every pixel sees a surface.
        if map.stats().valid != (width * height) as usize {
            return Err(format!(
                "frame {n}: only {} of {} pixels have depth (pipelines not ready?)",
                map.stats().valid,
                width * height
            ));
        }
        map.sequence = frame.sequence;
        recorder
            .record(&frame, &map, None)
            .map_err(|e| e.to_string())?;
        println!(
            "{} frame {:>2}/{frames}: depth {:.3}–{:.3} m, {} valid pixels",
            out.display(),
            n + 1,
            map.stats().min,
            map.stats().max,
            map.stats().valid
        );
        previous = Some((pose, rgba, metres));
    }
    println!("wrote {} frames to {}", recorder.len(), out.display());
    Ok(())
}

/// Renders the scene from `pose`: RGBA8 colour and depth in metres.
fn capture_frame(
    app: &mut App,
    targets: &Targets,
    pose: Transform,
    n: u32,
) -> Result<(Vec<u8>, Vec<f32>), String> {
    {
        for mut transform in app
            .world_mut()
            .query_filtered::<&mut Transform, With<Eye>>()
            .iter_mut(app.world_mut())
        {
            *transform = pose;
        }
    }
    // Two updates for the new pose to reach the GPU, then read back.
    app.update();
    app.update();
    let captured: Captured = Arc::default();
    let colour = capture(app, targets.colour.clone(), Arc::clone(&captured), true);
    let depth = capture(app, targets.depth.clone(), Arc::clone(&captured), false);
    let mut tries = 0;
    let (rgba, half) = loop {
        app.update();
        if let (Some(c), Some(d)) = &*captured.lock().map_err(|e| e.to_string())? {
            break (c.clone(), d.clone());
        }
        tries += 1;
        if tries > 200 {
            return Err(format!("frame {n}: the GPU readback never arrived"));
        }
    };
    app.world_mut().despawn(colour);
    app.world_mut().despawn(depth);
    let metres = half
        .chunks_exact(8)
        .map(|px| {
            let m = f16_to_f32(u16::from_le_bytes([px[0], px[1]]));
            let mm = f16_to_f32(u16::from_le_bytes([px[2], px[3]]));
            (m * 1000.0 + mm) / 1000.0
        })
        .collect();
    Ok((rgba, metres))
}

fn capture(app: &mut App, image: Handle<Image>, captured: Captured, colour: bool) -> Entity {
    app.world_mut()
        .spawn(Readback::texture(image))
        .observe(move |event: On<ReadbackComplete>, mut commands: Commands| {
            if let Ok(mut slot) = captured.lock() {
                let target = if colour { &mut slot.0 } else { &mut slot.1 };
                if target.is_none() {
                    *target = Some(event.data.clone());
                }
            }
            commands.entity(event.entity).remove::<Readback>();
        })
        .id()
}

/// IEEE half → single (exact; the depth values are small integers).
fn f16_to_f32(bits: u16) -> f32 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1f);
    let fraction = f32::from(bits & 0x3ff);
    sign * match exponent {
        0 => fraction * 2f32.powi(-24),
        31 => f32::NAN,
        e => (1.0 + fraction / 1024.0) * 2f32.powi(e - 15),
    }
}

/// A slow sweep across the room, looking at the table.
fn camera_pose(t: f32) -> Transform {
    let x = -1.2 + 2.4 * t;
    let y = 1.35 + 0.1 * (t * std::f32::consts::PI).sin();
    Transform::from_xyz(x, y, 2.3).looking_at(Vec3::new(0.2 * x, 0.7, -0.8), Vec3::Y)
}

/// The quality sequences' camera near the table: a still view, or a
/// hand-held walk to the right at 0.5 m/s turning left at 15°/s (over 30
/// frames at 30 fps).
fn table_pose(t: f32) -> Transform {
    let x = -0.6 + 0.5 * t;
    let yaw = (10.0 - 15.0 * t).to_radians();
    Transform::from_xyz(x, 1.3, 1.4)
        .looking_to(Vec3::new(0.0, -0.35, -1.0), Vec3::Y)
        .with_rotation(Quat::from_rotation_y(yaw) * Quat::from_rotation_x(-0.33))
}

/// The quality sequences' camera at the chair and the lamp: close, so that
/// legs, slats, the pole and the stems are a few pixels wide; still, or
/// stepping back-left at 0.4 m/s and turning right at 20°/s.
fn thin_pose(t: f32) -> Transform {
    let x = -0.2 - 0.3 * t;
    let z = 1.0 + 0.25 * t;
    let yaw = (-5.0 - 20.0 * t).to_radians();
    Transform::from_xyz(x, 1.1, z)
        .with_rotation(Quat::from_rotation_y(yaw) * Quat::from_rotation_x(-0.3))
}

/// Where the tilt, rise and step-back sequences look from: in front of the
/// table, a little to its left, looking down at it.
fn table_view(position: Vec3, pitch_degrees: f32) -> Transform {
    Transform::from_translation(position).with_rotation(
        Quat::from_rotation_y(5f32.to_radians())
            * Quat::from_rotation_x(pitch_degrees.to_radians()),
    )
}

/// Tipping down at 25°/s towards the table (from 10° to 35° below the
/// horizon): the view opens onto the floor at the bottom edge, in rows the
/// previous view never saw.
fn tilt_pose(t: f32) -> Transform {
    table_view(Vec3::new(-0.35, 1.3, 1.4), -10.0 - 25.0 * t)
}

/// Rising at 0.4 m/s in front of the table, looking down at it.
fn rise_pose(t: f32) -> Transform {
    table_view(Vec3::new(-0.35, 1.0 + 0.4 * t, 1.4), -19.0)
}

/// Stepping straight back from the table at 0.5 m/s: the view widens on
/// every side.
fn step_back_pose(t: f32) -> Transform {
    table_view(Vec3::new(-0.35, 1.3, 1.0 + 0.5 * t), -19.0)
}

/// Walking at 0.5 m/s towards the plain right-hand wall, seen at a slant
/// (17° from square-on): an untextured surface whose depth changes every
/// frame while its image barely does.
fn wall_pose(t: f32) -> Transform {
    let towards = Vec3::new(1.0, 0.0, 0.3).normalize();
    Transform::from_translation(Vec3::new(1.0, 1.4, 0.6) + towards * 0.5 * t)
        .looking_to(towards, Vec3::Y)
}

fn target(images: &mut Assets<Image>, config: Config, format: TextureFormat) -> Handle<Image> {
    let bytes = format.block_copy_size(None).unwrap_or(4) as usize;
    let mut image = Image::new_fill(
        Extent3d {
            width: config.width,
            height: config.height,
            depth_or_array_layers: 1,
        },
        TextureDimension::D2,
        &vec![0u8; bytes],
        format,
        default(),
    );
    image.texture_descriptor.usage |= TextureUsages::RENDER_ATTACHMENT | TextureUsages::COPY_SRC;
    images.add(image)
}

/// A seeded grey noise texture (`size`², values `1 ± amount`, sRGB) to
/// multiply a base colour with: surfaces with texture, so that not every
/// image edge is a depth edge. `stripes` adds bands along u (wood grain).
fn noise_texture(
    images: &mut Assets<Image>,
    size: u32,
    amount: f32,
    stripes: bool,
) -> Handle<Image> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64 ^ u64::from(size) ^ u64::from(stripes);
    let mut next = move || {
        // xorshift64*: a fixed, dependency-free sequence.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as f32 / (1u64 << 24) as f32
    };
    let data: Vec<u8> = (0..size * size)
        .flat_map(|i| {
            let v = i / size;
            let grain = if stripes {
                0.5 * (v as f32 * 0.7).sin() + 0.5 * (v as f32 * 0.13).sin()
            } else {
                0.0
            };
            let value = (1.0 - amount + amount * (next() + grain).clamp(0.0, 1.0)).clamp(0.0, 1.0);
            let byte = (value * 255.0).round() as u8;
            [byte, byte, byte, 255]
        })
        .collect();
    images.add(Image::new(
        Extent3d {
            width: size,
            height: size,
            depth_or_array_layers: 1,
        },
        TextureDimension::D2,
        data,
        TextureFormat::Rgba8UnormSrgb,
        default(),
    ))
}

fn setup(
    mut commands: Commands,
    config: Res<Config>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut depth_materials: ResMut<Assets<DepthMaterial>>,
    mut images: ResMut<Assets<Image>>,
) {
    let config = *config;
    let colour = target(&mut images, config, TextureFormat::Rgba8UnormSrgb);
    let depth = target(&mut images, config, TextureFormat::Rgba16Float);
    commands.insert_resource(Targets {
        colour: colour.clone(),
        depth: depth.clone(),
    });
    let pose = camera_pose(0.0);
    commands.spawn((
        Eye,
        Camera3d::default(),
        RenderTarget::Image(colour.into()),
        Camera {
            clear_color: ClearColorConfig::Custom(Color::BLACK),
            ..default()
        },
        Tonemapping::None,
        config.msaa,
        pose,
    ));
    commands.spawn((
        Eye,
        Camera3d::default(),
        RenderTarget::Image(depth.into()),
        Camera {
            clear_color: ClearColorConfig::Custom(Color::BLACK),
            order: 1,
            ..default()
        },
        Hdr,
        Tonemapping::None,
        Msaa::Off,
        RenderLayers::layer(1),
        pose,
    ));
    commands.spawn((
        PointLight {
            intensity: 600_000.0,
            range: 20.0,
            shadow_maps_enabled: true,
            ..default()
        },
        Transform::from_xyz(0.5, 2.6, 0.5),
    ));
    commands.insert_resource(GlobalAmbientLight {
        brightness: 300.0,
        ..default()
    });

    let depth_material = depth_materials.add(DepthMaterial {});
    // Every mesh twice: with its material for the colour camera, with the
    // depth material on layer 1 for the depth camera.
    let mut place = |mesh: Handle<Mesh>, material: Handle<StandardMaterial>, at: Transform| {
        commands.spawn((Mesh3d(mesh.clone()), MeshMaterial3d(material), at));
        commands.spawn((
            Mesh3d(mesh),
            MeshMaterial3d(depth_material.clone()),
            at,
            RenderLayers::layer(1),
        ));
    };
    let textured = |texture: &Option<Handle<Image>>, colour: Color| StandardMaterial {
        base_color: colour,
        base_color_texture: texture.clone(),
        ..default()
    };
    let (noise, grain) = if config.extras {
        (
            Some(noise_texture(&mut images, 128, 0.25, false)),
            Some(noise_texture(&mut images, 128, 0.3, true)),
        )
    } else {
        (None, None)
    };
    let mut solid = |size: Vec3, at: Transform, material: StandardMaterial| {
        place(
            meshes.add(Cuboid::from_size(size)),
            materials.add(material),
            at,
        );
    };
    // The room: 6 m wide, 3 m high, from z = 3.5 to z = -3.
    solid(
        Vec3::new(6.0, 0.1, 6.5),
        Transform::from_translation(Vec3::new(0.0, -0.05, 0.25)),
        textured(&noise, Color::srgb(0.55, 0.45, 0.35)),
    );
    solid(
        Vec3::new(6.0, 0.1, 6.5),
        Transform::from_translation(Vec3::new(0.0, 3.05, 0.25)),
        StandardMaterial::from(Color::srgb(0.9, 0.9, 0.88)),
    );
    solid(
        Vec3::new(6.0, 3.0, 0.1),
        Transform::from_translation(Vec3::new(0.0, 1.5, -3.05)),
        textured(&noise, Color::srgb(0.75, 0.8, 0.85)),
    );
    solid(
        Vec3::new(0.1, 3.0, 6.5),
        Transform::from_translation(Vec3::new(-3.05, 1.5, 0.25)),
        StandardMaterial::from(Color::srgb(0.8, 0.75, 0.7)),
    );
    solid(
        Vec3::new(0.1, 3.0, 6.5),
        Transform::from_translation(Vec3::new(3.05, 1.5, 0.25)),
        StandardMaterial::from(Color::srgb(0.8, 0.75, 0.7)),
    );
    solid(
        Vec3::new(6.0, 3.0, 0.1),
        Transform::from_translation(Vec3::new(0.0, 1.5, 3.55)),
        StandardMaterial::from(Color::srgb(0.75, 0.8, 0.85)),
    );
    // A table: top and four legs.
    solid(
        Vec3::new(1.4, 0.06, 0.8),
        Transform::from_translation(Vec3::new(0.0, 0.75, -0.8)),
        textured(&grain, Color::srgb(0.45, 0.3, 0.2)),
    );
    for (x, z) in [(-0.62, -1.12), (0.62, -1.12), (-0.62, -0.48), (0.62, -0.48)] {
        solid(
            Vec3::new(0.06, 0.72, 0.06),
            Transform::from_translation(Vec3::new(x, 0.36, z)),
            StandardMaterial::from(Color::srgb(0.35, 0.25, 0.15)),
        );
    }
    // A sofa against the back wall, a cabinet, a box on the table.
    solid(
        Vec3::new(2.0, 0.45, 0.9),
        Transform::from_translation(Vec3::new(-0.6, 0.225, -2.5)),
        StandardMaterial::from(Color::srgb(0.25, 0.35, 0.55)),
    );
    solid(
        Vec3::new(2.0, 0.5, 0.2),
        Transform::from_translation(Vec3::new(-0.6, 0.7, -2.9)),
        StandardMaterial::from(Color::srgb(0.25, 0.35, 0.55)),
    );
    solid(
        Vec3::new(0.6, 1.6, 0.5),
        Transform::from_translation(Vec3::new(2.4, 0.8, -1.8)),
        StandardMaterial::from(Color::srgb(0.6, 0.6, 0.55)),
    );
    solid(
        Vec3::new(0.3, 0.25, 0.3),
        Transform::from_translation(Vec3::new(0.2, 0.905, -0.9)),
        StandardMaterial::from(Color::srgb(0.8, 0.3, 0.25)),
    );
    // A ball on the floor.
    let ball = meshes.add(Sphere::new(0.25));
    place(
        ball,
        materials.add(Color::srgb(0.9, 0.8, 0.2)),
        Transform::from_xyz(1.0, 0.25, -0.2),
    );
    if !config.extras {
        return;
    }
    // The quality scenes' thin things: a chair (legs and back slats 3 cm
    // wide), a floor lamp (a 3 cm pole), a plant (stems 1.5 cm wide).
    place(
        meshes.add(Cone::new(0.18, 0.22)),
        materials.add(Color::srgb(0.95, 0.9, 0.7)),
        Transform::from_xyz(0.55, 1.65, -0.1),
    );
    let mut solid = |size: Vec3, at: Transform, colour: Color| {
        place(
            meshes.add(Cuboid::from_size(size)),
            materials.add(colour),
            at,
        );
    };
    let chair = Transform::from_xyz(-0.9, 0.0, -0.1).with_rotation(Quat::from_rotation_y(0.4));
    let wood = Color::srgb(0.3, 0.18, 0.1);
    let part = |x: f32, y: f32, z: f32| chair * Transform::from_xyz(x, y, z);
    solid(
        Vec3::new(0.44, 0.04, 0.42),
        part(0.0, 0.45, 0.0),
        Color::srgb(0.7, 0.2, 0.15),
    );
    for (x, z) in [(-0.2, -0.19), (0.2, -0.19), (-0.2, 0.19), (0.2, 0.19)] {
        solid(Vec3::new(0.03, 0.45, 0.03), part(x, 0.225, z), wood);
    }
    for x in [-0.2, -0.1, 0.0, 0.1, 0.2] {
        solid(Vec3::new(0.03, 0.5, 0.03), part(x, 0.72, -0.19), wood);
    }
    solid(Vec3::new(0.44, 0.05, 0.03), part(0.0, 0.98, -0.19), wood);
    let metal = Color::srgb(0.15, 0.15, 0.17);
    solid(
        Vec3::new(0.03, 1.6, 0.03),
        Transform::from_xyz(0.55, 0.8, -0.1),
        metal,
    );
    solid(
        Vec3::new(0.3, 0.02, 0.3),
        Transform::from_xyz(0.55, 0.01, -0.1),
        metal,
    );
    let pot = Transform::from_xyz(-0.35, 0.78, -0.65);
    solid(
        Vec3::new(0.12, 0.1, 0.12),
        pot,
        Color::srgb(0.6, 0.35, 0.25),
    );
    for (i, lean) in [-0.5_f32, -0.2, 0.1, 0.35, 0.6].into_iter().enumerate() {
        let turn = Quat::from_rotation_y(i as f32 * 1.3) * Quat::from_rotation_z(lean);
        let stem = pot * Transform::from_rotation(turn) * Transform::from_xyz(0.0, 0.2, 0.0);
        solid(
            Vec3::new(0.015, 0.35, 0.015),
            stem,
            Color::srgb(0.2, 0.5, 0.15),
        );
    }
}
