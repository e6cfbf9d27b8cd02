//! The virtual camera matches the real one: for 16:9, 4:3 and 9:16 viewports
//! over a 4:3 camera image, filled or fitted, a virtual marker at a 3D point
//! lands on the framebuffer pixel where the background shows that point's
//! image (rendered on Mesa's software Vulkan where there is no GPU).

mod common;

use std::time::{Duration, Instant};

use bevy::camera::RenderTarget;
use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::prelude::*;
use bevy_mono_depth::camera::Intrinsics;
use bevy_mono_depth::plugin::{ArProjection, MonoDepthCamera, OcclusionMode};
use bevy_mono_depth::prelude::*;
use common::render::{Readbacks, headless_render_plugins, settle, target};

const FRAME: (u32, u32) = (80, 60);
const MARKER: [u8; 3] = [0, 255, 0];
const GREY: u8 = 20;

/// An off-centre principal point, slightly non-square pixels.
fn intrinsics() -> Intrinsics {
    Intrinsics::new(70.0, 68.0, 43.0, 27.0)
}

/// Image points (pixels of the frame) and their depths: inside what every
/// view below shows of the frame.
const POINTS: [(f32, f32, f32); 3] = [(30.5, 15.5, 2.0), (49.5, 43.5, 3.0), (43.0, 27.0, 1.5)];

/// The view-space point seen at image pixel (u, v) at `depth` metres.
fn point(u: f32, v: f32, depth: f32) -> Vec3 {
    let k = intrinsics();
    Vec3::new(
        (u - k.cx) / k.fx * depth,
        -(v - k.cy) / k.fy * depth,
        -depth,
    )
}

/// Where a centred fill or fit of the frame shows image position (u, v) in
/// a `viewport`, written out independently of the crate.
fn shown(viewport: (u32, u32), fill: bool, (u, v): (f32, f32)) -> Vec2 {
    let (fw, fh) = (FRAME.0 as f32, FRAME.1 as f32);
    let (vw, vh) = (viewport.0 as f32, viewport.1 as f32);
    let s = if fill {
        (vw / fw).max(vh / fh)
    } else {
        (vw / fw).min(vh / fh)
    };
    Vec2::new((u - fw / 2.0) * s + vw / 2.0, (v - fh / 2.0) * s + vh / 2.0)
}

/// The centre of the marker-coloured pixels nearest `near` (within 8 px).
fn marker_centre(data: &[u8], (w, h): (u32, u32), near: Vec2) -> Option<Vec2> {
    let stride = common::render::readback_stride(w as usize * 4);
    let (mut sum, mut n) = (Vec2::ZERO, 0.0);
    for y in 0..h as usize {
        for x in 0..w as usize {
            let i = y * stride + x * 4;
            let centre = Vec2::new(x as f32 + 0.5, y as f32 + 0.5);
            if data[i..i + 3] == MARKER && centre.distance(near) < 8.0 {
                sum += centre;
                n += 1.0;
            }
        }
    }
    (n > 0.0).then(|| sum / n)
}

#[test]
fn virtual_markers_land_on_the_real_points_in_every_aspect_and_fit() {
    let mut app = App::new();
    app.add_plugins(headless_render_plugins())
        .add_plugins(MonoDepthPlugin {
            model: None,
            source: FrameSource::Pushed,
            ..default()
        });
    let views: Vec<((u32, u32), ResizeMode)> = [(96, 54), (80, 60), (54, 96)]
        .into_iter()
        .flat_map(|size| [(size, ResizeMode::Fill), (size, ResizeMode::Fit)])
        .collect();
    let mut targets = Vec::new();
    for (order, &(size, fit)) in views.iter().enumerate() {
        let image = target(&mut app, size);
        app.world_mut().spawn((
            MonoDepthCamera {
                fit,
                occlusion: OcclusionMode::Off,
                ..default()
            },
            Camera {
                order: order as isize,
                clear_color: ClearColorConfig::Custom(Color::BLACK),
                ..default()
            },
            RenderTarget::Image(image.clone().into()),
            Tonemapping::None,
            Msaa::Off,
        ));
        targets.push(image);
    }
    // One camera that keeps its own projection.
    let kept = app
        .world_mut()
        .spawn((
            MonoDepthCamera {
                follow_camera: false,
                ..default()
            },
            Camera {
                is_active: false,
                ..default()
            },
        ))
        .id();
    // Markers about three image pixels wide, unlit.
    let k = intrinsics();
    for (u, v, depth) in POINTS {
        let side = 3.0 / k.fx * depth;
        let world = app.world_mut();
        let mesh = world
            .resource_mut::<Assets<Mesh>>()
            .add(Cuboid::new(side, side, 0.01));
        let material = world
            .resource_mut::<Assets<StandardMaterial>>()
            .add(StandardMaterial {
                base_color: Color::srgb_u8(MARKER[0], MARKER[1], MARKER[2]),
                unlit: true,
                ..default()
            });
        world.spawn((
            Mesh3d(mesh),
            MeshMaterial3d(material),
            Transform::from_translation(point(u, v, depth)),
        ));
    }
    app.finish();
    app.cleanup();

    let pusher = app.world().resource::<FramePusher>().clone();
    let (w, h) = FRAME;
    let grey = vec![GREY; (w * h * 3) as usize];
    pusher.set_intrinsics(Some(intrinsics()));
    let deadline = Instant::now() + Duration::from_secs(120);
    while app
        .world()
        .resource::<DepthTextures>()
        .background_intrinsics
        .is_none()
    {
        assert!(Instant::now() < deadline, "no frame arrived");
        pusher
            .push_rgb(w, h, w as usize * 3, &grey, Duration::ZERO)
            .unwrap();
        app.update();
    }
    settle(&mut app, deadline);

    for (image, &(size, fit)) in targets.iter().zip(&views) {
        let frames = Readbacks::watch(&mut app, image.clone());
        let data = frames.steady(&mut app, deadline);
        for (u, v, depth) in POINTS {
            let want = shown(size, fit == ResizeMode::Fill, (u, v));
            let got = marker_centre(&data, size, want)
                .unwrap_or_else(|| panic!("{size:?} {fit:?}: no marker near {want}"));
            assert!(
                got.distance(want) <= 1.0,
                "{size:?} {fit:?}: marker at {depth} m drawn at {got}, the image shows it at {want}"
            );
        }
    }
    let projection = app.world().get::<Projection>(kept).unwrap();
    assert!(matches!(projection, Projection::Perspective(_)), "kept");
    let followed = app
        .world_mut()
        .query_filtered::<&Projection, With<MonoDepthCamera>>()
        .iter(app.world())
        .filter(|p| matches!(p, Projection::Custom(c) if c.get::<ArProjection>().is_some()))
        .count();
    assert_eq!(followed, views.len());
}
