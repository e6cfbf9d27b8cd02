//! Renders the sample RGB-D recording with Bevy itself: a room with
//! furniture-like shapes, a moving camera, and exact depth from the renderer.
//!
//! `cargo xtask sample` runs it (headless, on Mesa's software Vulkan when
//! there is no GPU) and writes `assets/samples/room`. The colour and the depth
//! are two cameras with the same pose: one renders the scene with ordinary
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

const WIDTH: u32 = 320;
const HEIGHT: u32 = 240;
const FRAMES: u32 = 24;
const FPS: f32 = 10.0;
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

fn main() {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("assets/samples/room"));
    if let Err(e) = run(&out) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(out: &std::path::Path) -> Result<(), String> {
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
    app.add_systems(Startup, setup);
    app.finish();
    app.cleanup();
    // Let pipelines compile before the first capture.
    for _ in 0..30 {
        app.update();
    }

    let _ = std::fs::remove_dir_all(out);
    let mut recorder =
        Recorder::create(out, "renderer (exact, whole millimetres)").map_err(|e| e.to_string())?;
    let fy = (HEIGHT as f32 / 2.0) / (std::f32::consts::FRAC_PI_4 / 2.0).tan();
    recorder
        .set_intrinsics(Intrinsics::new(
            fy,
            fy,
            WIDTH as f32 / 2.0,
            HEIGHT as f32 / 2.0,
        ))
        .map_err(|e| e.to_string())?;
    let targets = app.world().resource::<Targets>().clone();
    for n in 0..FRAMES {
        let t = n as f32 / (FRAMES - 1) as f32;
        let pose = camera_pose(t);
        for mut transform in app
            .world_mut()
            .query_filtered::<&mut Transform, With<Eye>>()
            .iter_mut(app.world_mut())
        {
            *transform = pose;
        }
        // Two updates for the new pose to reach the GPU, then read back.
        app.update();
        app.update();
        let captured: Captured = Arc::default();
        let colour = capture(
            &mut app,
            targets.colour.clone(),
            Arc::clone(&captured),
            true,
        );
        let depth = capture(
            &mut app,
            targets.depth.clone(),
            Arc::clone(&captured),
            false,
        );
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

        let frame = CameraFrame::packed(PixelFormat::Rgba8, WIDTH, HEIGHT, rgba)
            .map_err(|e| e.to_string())?
            .with_sequence(u64::from(n) + 1)
            .with_timestamp(Duration::from_secs_f32(n as f32 / FPS));
        let metres: Vec<f32> = half
            .chunks_exact(8)
            .map(|px| {
                let m = f16_to_f32(u16::from_le_bytes([px[0], px[1]]));
                let mm = f16_to_f32(u16::from_le_bytes([px[2], px[3]]));
                (m * 1000.0 + mm) / 1000.0
            })
            .collect();
        let mut map = DepthMap::from_metres(WIDTH, HEIGHT, metres, (0.01, 65.0));
        // The room is closed: every pixel sees a surface.
        if map.stats().valid != (WIDTH * HEIGHT) as usize {
            return Err(format!(
                "frame {n}: only {} of {} pixels have depth (pipelines not ready?)",
                map.stats().valid,
                WIDTH * HEIGHT
            ));
        }
        map.sequence = frame.sequence;
        recorder
            .record(&frame, &map, None)
            .map_err(|e| e.to_string())?;
        println!(
            "frame {:>2}/{FRAMES}: depth {:.3}–{:.3} m, {} valid pixels",
            n + 1,
            map.stats().min,
            map.stats().max,
            map.stats().valid
        );
    }
    println!("wrote {} frames to {}", recorder.len(), out.display());
    Ok(())
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

fn target(images: &mut Assets<Image>, format: TextureFormat) -> Handle<Image> {
    let bytes = format.block_copy_size(None).unwrap_or(4) as usize;
    let mut image = Image::new_fill(
        Extent3d {
            width: WIDTH,
            height: HEIGHT,
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

fn setup(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut depth_materials: ResMut<Assets<DepthMaterial>>,
    mut images: ResMut<Assets<Image>>,
) {
    let colour = target(&mut images, TextureFormat::Rgba8UnormSrgb);
    let depth = target(&mut images, TextureFormat::Rgba16Float);
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
        Msaa::Off,
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
    let mut solid = |size: Vec3, at: Vec3, colour: Color| {
        let mesh = meshes.add(Cuboid::from_size(size));
        commands.spawn((
            Mesh3d(mesh.clone()),
            MeshMaterial3d(materials.add(colour)),
            Transform::from_translation(at),
        ));
        commands.spawn((
            Mesh3d(mesh),
            MeshMaterial3d(depth_material.clone()),
            Transform::from_translation(at),
            RenderLayers::layer(1),
        ));
    };
    // The room: 6 m wide, 3 m high, from z = 3.5 to z = -3.
    solid(
        Vec3::new(6.0, 0.1, 6.5),
        Vec3::new(0.0, -0.05, 0.25),
        Color::srgb(0.55, 0.45, 0.35),
    );
    solid(
        Vec3::new(6.0, 0.1, 6.5),
        Vec3::new(0.0, 3.05, 0.25),
        Color::srgb(0.9, 0.9, 0.88),
    );
    solid(
        Vec3::new(6.0, 3.0, 0.1),
        Vec3::new(0.0, 1.5, -3.05),
        Color::srgb(0.75, 0.8, 0.85),
    );
    solid(
        Vec3::new(0.1, 3.0, 6.5),
        Vec3::new(-3.05, 1.5, 0.25),
        Color::srgb(0.8, 0.75, 0.7),
    );
    solid(
        Vec3::new(0.1, 3.0, 6.5),
        Vec3::new(3.05, 1.5, 0.25),
        Color::srgb(0.8, 0.75, 0.7),
    );
    solid(
        Vec3::new(6.0, 3.0, 0.1),
        Vec3::new(0.0, 1.5, 3.55),
        Color::srgb(0.75, 0.8, 0.85),
    );
    // A table: top and four legs.
    solid(
        Vec3::new(1.4, 0.06, 0.8),
        Vec3::new(0.0, 0.75, -0.8),
        Color::srgb(0.45, 0.3, 0.2),
    );
    for (x, z) in [(-0.62, -1.12), (0.62, -1.12), (-0.62, -0.48), (0.62, -0.48)] {
        solid(
            Vec3::new(0.06, 0.72, 0.06),
            Vec3::new(x, 0.36, z),
            Color::srgb(0.35, 0.25, 0.15),
        );
    }
    // A sofa against the back wall, a cabinet, a box on the table.
    solid(
        Vec3::new(2.0, 0.45, 0.9),
        Vec3::new(-0.6, 0.225, -2.5),
        Color::srgb(0.25, 0.35, 0.55),
    );
    solid(
        Vec3::new(2.0, 0.5, 0.2),
        Vec3::new(-0.6, 0.7, -2.9),
        Color::srgb(0.25, 0.35, 0.55),
    );
    solid(
        Vec3::new(0.6, 1.6, 0.5),
        Vec3::new(2.4, 0.8, -1.8),
        Color::srgb(0.6, 0.6, 0.55),
    );
    solid(
        Vec3::new(0.3, 0.25, 0.3),
        Vec3::new(0.2, 0.905, -0.9),
        Color::srgb(0.8, 0.3, 0.25),
    );
    // A ball on the floor.
    let ball = meshes.add(Sphere::new(0.25));
    let at = Transform::from_xyz(1.0, 0.25, -0.2);
    commands.spawn((
        Mesh3d(ball.clone()),
        MeshMaterial3d(materials.add(Color::srgb(0.9, 0.8, 0.2))),
        at,
    ));
    commands.spawn((
        Mesh3d(ball),
        MeshMaterial3d(depth_material),
        at,
        RenderLayers::layer(1),
    ));
}
