//! Frames whose buffers are turned on screen (a phone's camera in a portrait
//! app), rendered for real (Mesa's software Vulkan where there is no GPU) and
//! read back.
//!
//! One upright scene, 320×256 (the closed-form test model's input, so the
//! model sees it without resizing), is pushed four times: as a buffer turned
//! by 0°, 90°, 180° and 270° with the matching [`FrameRotation`]. The
//! closed-form model's depth is `0.5 + 0.02 R + 0.01 G + 0.005 B` metres
//! (averaged over 2×2 pixels); the scene is dark, so near (0.85–1.3 m), in
//! its top-left corner (x < 120, y < 96), and light grey, so far (4.7 m),
//! elsewhere. A white unlit wall at 2.5 m covers the whole view: wherever
//! the real scene is nearer, the camera image shows instead. Every rotation
//! must give the same screen: the camera image, upright, in the top-left
//! corner, the wall elsewhere, and the depth map upright too.

use std::time::{Duration, Instant};

use bevy::camera::RenderTarget;
use bevy::core_pipeline::tonemapping::{DebandDither, Tonemapping};
use bevy::prelude::*;
use bevy_mono_depth::camera::Intrinsics;
use bevy_mono_depth::frame::FrameRotation;
use bevy_mono_depth::plugin::{CurrentDepth, DepthTextures, MonoDepthCamera};
use bevy_mono_depth::prelude::*;
use bevy_mono_depth::sources::FramePusher;

mod common;
use common::render::{Readbacks, headless_render_plugins, settle, target};

/// The upright image, and the screen.
const DISPLAY: (u32, u32) = (320, 256);
/// The near corner: columns `0..NEAR.0`, rows `0..NEAR.1` of the upright image.
const NEAR: (u32, u32) = (120, 96);
const WALL: [u8; 3] = [255, 255, 255];
const WALL_METRES: f32 = 2.5;
/// Pixels either side of the near corner's edges where the depth blends
/// from near to far and either may show.
const EDGE: u32 = 2;

/// The upright scene: a dark gradient (distinct along both axes, so any
/// turn or flip shows) in the near corner, light grey elsewhere.
fn upright_rgb(x: u32, y: u32) -> [u8; 3] {
    if x < NEAR.0 && y < NEAR.1 {
        [10 + (x / 8) as u8, 10 + (y / 8) as u8, 10]
    } else {
        [120, 120, 120]
    }
}

/// The buffer a camera delivers when the upright image is its contents
/// turned by `rotation`: buffer pixel (u, v) holds the upright pixel that
/// the rotation brings it to.
fn turned_buffer(rotation: FrameRotation) -> (u32, u32, Vec<u8>) {
    let (bw, bh) = rotation.display_size(DISPLAY);
    let mut pixels = Vec::with_capacity((bw * bh * 3) as usize);
    for v in 0..bh {
        for u in 0..bw {
            let (x, y) = match rotation {
                FrameRotation::None => (u, v),
                FrameRotation::Clockwise90 => (bh - 1 - v, u),
                FrameRotation::Clockwise180 => (bw - 1 - u, bh - 1 - v),
                FrameRotation::Clockwise270 => (v, bw - 1 - u),
            };
            pixels.extend_from_slice(&upright_rgb(x, y));
        }
    }
    (bw, bh, pixels)
}

/// Intrinsics in pixels of a `size` buffer, principal point off centre.
fn buffer_intrinsics(size: (u32, u32)) -> Intrinsics {
    Intrinsics::new(300.0, 310.0, size.0 as f32 * 0.45, size.1 as f32 * 0.55)
}

fn app() -> (App, Handle<Image>) {
    let mut app = App::new();
    app.add_plugins(headless_render_plugins())
        .add_plugins(MonoDepthPlugin {
            session: common::cpu(),
            model: Some(common::model("closed_form.onnx")),
            source: FrameSource::Pushed,
            ..default()
        });
    let image = target(&mut app, DISPLAY);
    let world = app.world_mut();
    world.spawn((
        MonoDepthCamera::default(),
        RenderTarget::Image(image.clone().into()),
        Tonemapping::None,
        DebandDither::Disabled,
        Msaa::Off,
    ));
    let mesh = world
        .resource_mut::<Assets<Mesh>>()
        .add(Cuboid::new(100.0, 100.0, 0.01));
    let material = world
        .resource_mut::<Assets<StandardMaterial>>()
        .add(StandardMaterial {
            base_color: Color::srgb_u8(WALL[0], WALL[1], WALL[2]),
            unlit: true,
            ..default()
        });
    world.spawn((
        Mesh3d(mesh),
        MeshMaterial3d(material),
        Transform::from_xyz(0.0, 0.0, -WALL_METRES),
    ));
    app.finish();
    app.cleanup();
    (app, image)
}

/// Pushes `rotation`'s buffer and updates until its depth and image are on
/// the textures.
fn show(app: &mut App, rotation: FrameRotation, deadline: Instant) {
    let pusher = app.world().resource::<FramePusher>().clone();
    let (w, h, pixels) = turned_buffer(rotation);
    pusher.set_intrinsics(Some(buffer_intrinsics((w, h))));
    pusher.set_rotation(rotation);
    let sequence = pusher
        .push_rgb(w, h, w as usize * 3, &pixels, Duration::ZERO)
        .unwrap();
    loop {
        let textures = app.world().resource::<DepthTextures>();
        if textures.depth_sequence == Some(sequence)
            && textures.background_sequence == Some(sequence)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{rotation:?}: the frame's depth never arrived"
        );
        app.update();
    }
}

fn screen_rgb(data: &[u8], x: u32, y: u32) -> [u8; 3] {
    let stride = common::render::readback_stride(DISPLAY.0 as usize * 4);
    let i = y as usize * stride + x as usize * 4;
    [data[i], data[i + 1], data[i + 2]]
}

#[test]
fn turned_frames_show_upright_with_their_depth_on_the_same_pixels() {
    let (mut app, image) = app();
    let deadline = Instant::now() + Duration::from_secs(180);
    for degrees in [0, 90, 180, 270] {
        let rotation = FrameRotation::from_degrees(degrees).unwrap();
        show(&mut app, rotation, deadline);
        settle(&mut app, deadline);

        // The depth map is upright: near in its top-left corner only.
        let current = app.world().resource::<CurrentDepth>();
        let depth = current.map.as_ref().unwrap();
        let (dw, dh) = (depth.width(), depth.height());
        // Depth texels per upright pixel (the model's output is half its input).
        let (sx, sy) = (dw as f32 / DISPLAY.0 as f32, dh as f32 / DISPLAY.1 as f32);
        let (near_cols, near_rows) = (NEAR.0 as f32 * sx, NEAR.1 as f32 * sy);
        for row in 0..dh {
            for col in 0..dw {
                let metres = depth.metres()[(row * dw + col) as usize];
                let (c, r) = (col as f32 + 0.5, row as f32 + 0.5);
                if c < near_cols - 1.0 && r < near_rows - 1.0 {
                    assert!(
                        metres < 1.5,
                        "{degrees}°: texel ({col}, {row}) at {metres} m"
                    );
                } else if c > near_cols + 1.0 || r > near_rows + 1.0 {
                    assert!(
                        metres > 4.0,
                        "{degrees}°: texel ({col}, {row}) at {metres} m"
                    );
                }
            }
        }
        // The image's size, and intrinsics, as shown.
        let textures = app.world().resource::<DepthTextures>();
        let buffer = rotation.display_size(DISPLAY);
        assert_eq!(
            textures.background_size,
            Some(UVec2::new(DISPLAY.0, DISPLAY.1))
        );
        assert_eq!(textures.background_rotation, rotation);
        assert_eq!(
            textures.background_intrinsics,
            Some(buffer_intrinsics(buffer).rotated(rotation, buffer))
        );

        // A readback started now sees only frames drawn with this rotation.
        let data = Readbacks::watch(&mut app, image.clone()).steady(&mut app, deadline);
        let mut wrong = Vec::new();
        for y in 0..DISPLAY.1 {
            for x in 0..DISPLAY.0 {
                let got = screen_rgb(&data, x, y);
                let inside = x + EDGE < NEAR.0 && y + EDGE < NEAR.1;
                let outside = x >= NEAR.0 + EDGE || y >= NEAR.1 + EDGE;
                let want = if inside {
                    upright_rgb(x, y)
                } else if outside {
                    WALL
                } else {
                    continue;
                };
                if got != want {
                    wrong.push(((x, y), got, want));
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "{degrees}°: {} pixels wrong, e.g. (pixel, shown, expected) {:?}",
            wrong.len(),
            &wrong[..wrong.len().min(5)]
        );
    }
}
