//! Depth for the frame on screen (rendered on Mesa's software Vulkan where
//! there is no GPU): with `BackgroundSync::Reprojected`, a depth map taken
//! from one camera pose and a frame pushed from another, known pose, the
//! pass draws the depth edge where that pose sees it, within a pixel; and
//! without a pose on the frame, the depth is drawn as it came and the
//! status says why.

mod common;

use std::time::{Duration, Instant};

use bevy::camera::{Hdr, RenderTarget};
use bevy::core_pipeline::tonemapping::{DebandDither, Tonemapping};
use bevy::math::Affine3A;
use bevy::prelude::*;
use bevy::render::render_resource::{TextureFormat, TextureUsages};
use bevy_mono_depth::camera::FrameCamera;
use bevy_mono_depth::camera::Intrinsics;
use bevy_mono_depth::plugin::{
    BackgroundSync, CurrentDepth, DepthDisplay, DepthUpsampling, MonoDepthCamera,
    MonoDepthSettings, MonoDepthStatus, ReprojectionStatus,
};
use bevy_mono_depth::prelude::*;
use common::render::{Readbacks, headless_render_plugins, settle};

const FRAME: (u32, u32) = (80, 60);
/// The real scene: a surface at `NEAR` m left of image column `EDGE` (seen
/// from the first pose), a wall at `FAR` m right of it.
const EDGE: u32 = 40;
const NEAR: f32 = 1.5;
const FAR: f32 = 4.0;
/// How much earlier than the pushed frame the depth's frame arrived.
const DEPTH_AGE: Duration = Duration::from_millis(250);

fn intrinsics() -> Intrinsics {
    Intrinsics::new(70.0, 70.0, 40.0, 30.0)
}

/// The first pose, and the second: 0.12 m to the right, 0.05 m up, turned
/// 4° to the right.
fn poses() -> (Affine3A, Affine3A) {
    let first = Affine3A::from_translation(Vec3::new(0.3, 1.2, 0.5));
    let second = Affine3A::from_rotation_translation(
        Quat::from_rotation_y(-4f32.to_radians()),
        Vec3::new(0.42, 1.25, 0.5),
    );
    (first, second)
}

/// Where the second pose sees the near surface's edge on image row `v`
/// (pixel units), worked out here with a pinhole camera of its own.
fn predicted_edge(v: f32) -> f32 {
    let k = intrinsics();
    let (first, second) = poses();
    let local = Vec3::new(
        (EDGE as f32 - k.cx) / k.fx * NEAR,
        -(v - k.cy) / k.fy * NEAR,
        -NEAR,
    );
    let seen = second
        .inverse()
        .transform_point3(first.transform_point3(local));
    k.fx * seen.x / -seen.z + k.cx
}

fn frame(pose: Option<Affine3A>) -> CameraFrame {
    let (w, h) = FRAME;
    CameraFrame::packed(PixelFormat::Rgb8, w, h, vec![90u8; (w * h * 3) as usize])
        .unwrap()
        .with_intrinsics(Some(intrinsics()))
        .with_pose(pose)
}

/// The depth of the first pose's frame, one texel per pixel.
fn depth_map(camera: FrameCamera) -> DepthMap {
    let (w, h) = FRAME;
    let values = (0..w * h)
        .map(|i| if i % w < EDGE { NEAR } else { FAR })
        .collect();
    let mut map = DepthMap::from_metres(w, h, values, (0.1, 10.0));
    map.camera = Some(camera);
    map.sequence = 1;
    map
}

/// A headless app in `Reprojected` mode, one camera writing the depth it
/// occludes with into an `Rgba32Float` target.
fn app() -> (App, Handle<Image>) {
    let mut app = App::new();
    app.add_plugins(headless_render_plugins())
        .add_plugins(MonoDepthPlugin {
            model: None,
            source: FrameSource::Pushed,
            ..default()
        });
    let (w, h) = FRAME;
    let mut image = Image::new_target_texture(w, h, TextureFormat::Rgba32Float, None);
    image.texture_descriptor.usage |= TextureUsages::COPY_SRC;
    let image = app.world_mut().resource_mut::<Assets<Image>>().add(image);
    app.world_mut().spawn((
        MonoDepthCamera {
            display: DepthDisplay::Metres,
            // A step between texels stays a step at the texel boundary.
            upsampling: DepthUpsampling::Bilinear,
            follow_camera: false,
            ..default()
        },
        Camera::default(),
        Hdr,
        RenderTarget::Image(image.clone().into()),
        Tonemapping::None,
        DebandDither::Disabled,
        Msaa::Off,
    ));
    app.finish();
    app.cleanup();
    app.world_mut()
        .resource_mut::<MonoDepthSettings>()
        .background = BackgroundSync::Reprojected;
    (app, image)
}

/// Metres per pixel of the target.
fn metres(data: &[u8]) -> Vec<f32> {
    let (w, h) = (FRAME.0 as usize, FRAME.1 as usize);
    let stride = common::render::readback_stride(w * 16);
    (0..h)
        .flat_map(|y| {
            (0..w).map(move |x| {
                let i = y * stride + x * 16;
                f32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]])
            })
        })
        .collect()
}

/// The first column of row `y` where the far wall shows.
fn far_from(metres: &[f32], y: u32) -> Option<u32> {
    let w = FRAME.0;
    (0..w).find(|&x| metres[(y * w + x) as usize] > (NEAR + FAR) / 2.0)
}

/// Shows the first pose's depth with a frame pushed with `pose`; returns
/// the metres drawn.
fn show(app: &mut App, image: &Handle<Image>, pose: Option<Affine3A>) -> Vec<f32> {
    let (first, _) = poses();
    let source = frame(Some(first));
    let camera = source.camera().unwrap();
    {
        let mut current = app.world_mut().resource_mut::<CurrentDepth>();
        current.map = Some(depth_map(camera));
        let mut source = source.with_sequence(1);
        // The depth's frame arrived `DEPTH_AGE` before the one pushed below.
        source.received_at = Instant::now() - DEPTH_AGE;
        current.frame = Some(source);
    }
    let pusher = app.world().resource::<FramePusher>().clone();
    pusher.push(frame(pose));
    let deadline = Instant::now() + Duration::from_secs(120);
    while app.world().resource::<MonoDepthStatus>().reprojection == ReprojectionStatus::Off {
        assert!(
            Instant::now() < deadline,
            "the frame never reached the screen"
        );
        app.update();
    }
    settle(app, deadline);
    let frames = Readbacks::watch(app, image.clone());
    metres(&frames.steady(app, deadline))
}

#[test]
fn a_known_pose_change_moves_the_depth_edge_to_the_predicted_pixel() {
    let (mut app, image) = app();
    let (_, second) = poses();
    let drawn = show(&mut app, &image, Some(second));
    let status = app.world().resource::<MonoDepthStatus>().clone();
    assert!(
        matches!(status.reprojection, ReprojectionStatus::Reprojected { .. }),
        "{}",
        status.reprojection
    );
    // The edge moves by many pixels, differently on each row (the camera
    // also rose, and the turn bends the edge a little).
    let (w, h) = FRAME;
    let mut moved = 0.0f32;
    for y in 2..h - 2 {
        let want = predicted_edge(y as f32 + 0.5);
        let got = far_from(&drawn, y).unwrap_or_else(|| panic!("row {y}: no wall"));
        assert!(
            (got as f32 - want).abs() <= 1.0,
            "row {y}: the edge is drawn at column {got}, the second pose sees it at {want:.2}"
        );
        moved = moved.max((want - EDGE as f32).abs());
        // The near surface stays near (the turn tilts it by 4°: a few
        // centimetres across the view).
        let near = drawn[(y * w + got.saturating_sub(3)) as usize];
        assert!(
            (near - NEAR).abs() < 0.1,
            "row {y}: near surface at {near} m"
        );
    }
    assert!(
        moved > 5.0,
        "the pose change should move the edge ({moved} px)"
    );
    // The age is the arrival time between the two frames (plus the time
    // the test took to push the second).
    let age = status.depth_age.expect("a depth age");
    assert!(
        age >= DEPTH_AGE && age < DEPTH_AGE + Duration::from_secs(60),
        "{age:?}"
    );
}

#[test]
fn without_a_pose_the_depth_is_shown_as_it_came_and_the_status_says_why() {
    let (mut app, image) = app();
    let drawn = show(&mut app, &image, None);
    let status = app.world().resource::<MonoDepthStatus>().clone();
    match &status.reprojection {
        ReprojectionStatus::NotReprojected(why) => {
            assert!(why.contains("no camera pose"), "{why}")
        }
        other => panic!("{other}"),
    }
    for y in 2..FRAME.1 - 2 {
        assert_eq!(far_from(&drawn, y), Some(EDGE), "row {y}");
    }
    // Another background mode: the status no longer speaks of reprojection.
    app.world_mut()
        .resource_mut::<MonoDepthSettings>()
        .background = BackgroundSync::Newest;
    app.update();
    assert_eq!(
        app.world().resource::<MonoDepthStatus>().reprojection,
        ReprojectionStatus::Off
    );
}
