//! Occlusion rendered for real (Mesa's software Vulkan where there is no
//! GPU) and read back pixel by pixel.
//!
//! The replayed recording holds one scene, an 80×60 camera image and a 40×30
//! depth map covering it:
//!
//! ```text
//! rows  0–14  a wall at 2 m
//! rows 15–29  a step: columns 0–11 at 1 m, columns 12–39 at 3 m (at u = 0.3)
//! rows 24–29, columns 32–39: no valid depth
//! ```
//!
//! Each camera renders its own render layer into its own image: boxes whose
//! front faces sit at known distances, unlit, tonemapping off. Depth between
//! texel centres is blended from the valid neighbours; a pixel whose nearest
//! texel is invalid has no depth.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bevy::camera::RenderTarget;
use bevy::camera::visibility::RenderLayers;
use bevy::core_pipeline::tonemapping::{DebandDither, Tonemapping};
use bevy::ecs::system::RunSystemOnce;
use bevy::prelude::*;
use bevy_mono_depth::camera::ImageMapping;
use bevy_mono_depth::frame::{CameraFrame, PixelFormat};
use bevy_mono_depth::plugin::{
    DepthDisplay, DepthUpsampling, ExternalDepth, MonoDepthCamera, OcclusionMode, soft_occlusion,
};
use bevy_mono_depth::prelude::*;
use bevy_mono_depth::sources::recording::Recorder;

mod common;
use common::render::{Readbacks, headless_render_plugins, settle, target};

const FRAME: (u32, u32) = (80, 60);
const DEPTH: (u32, u32) = (40, 30);
const BOX: [u8; 3] = [255, 255, 255];
const FOV: f32 = std::f32::consts::FRAC_PI_4;
const SOFT_BAND: f32 = 0.4;
/// Depths of the soft-material strips, one per 10-pixel column band.
const STRIPS: [f32; 8] = [1.5, 1.75, 1.85, 1.95, 2.05, 2.15, 2.25, 2.5];

/// The first column of a `view`-sized screen showing the FRAME-sized image
/// fitted by `fit` whose pixel centre falls in depth column `col` or
/// beyond, and the width of the bar left of the image: the camera-image u
/// of column x is (x + ½ − bar) / shown width, as the background pass maps
/// it, and the depth column is u · DEPTH width, rounded down.
fn first_column_at(view: (u32, u32), fit: ResizeMode, col: u32) -> (u32, u32) {
    let (fw, fh) = (FRAME.0 as f32, FRAME.1 as f32);
    let (vw, vh) = (view.0 as f32, view.1 as f32);
    let shown = match fit {
        ResizeMode::Fill => fw * (vw / fw).max(vh / fh),
        ResizeMode::Fit => fw * (vw / fw).min(vh / fh),
        ResizeMode::Stretch => vw,
    };
    let bar = (vw - shown) / 2.0;
    let edge = (0..view.0)
        .find(|&x| ((x as f32 + 0.5 - bar) / shown * DEPTH.0 as f32).floor() >= col as f32)
        .expect("the step is on screen");
    (edge, bar.max(0.0) as u32)
}

/// The camera image: every pixel distinct, none white.
fn camera_rgb(x: u32, y: u32) -> [u8; 3] {
    [40 + x as u8, 60 + 2 * y as u8, 30]
}

/// The depth column where the real scene steps from 1 m to 3 m.
const STEP_COLUMN: u32 = 12;

fn real_depth(col: u32, row: u32) -> f32 {
    if row >= 24 && col >= 32 {
        0.0 // invalid
    } else if row < 15 {
        2.0
    } else if col < STEP_COLUMN {
        1.0
    } else {
        3.0
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "bevy_mono_depth_occlusion_{name}_{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn write_recording() -> PathBuf {
    let metres: Vec<f32> = (0..DEPTH.1)
        .flat_map(|row| (0..DEPTH.0).map(move |col| real_depth(col, row)))
        .collect();
    record_scene(
        "scene",
        DepthMap::from_metres(DEPTH.0, DEPTH.1, metres, (0.1, 20.0)),
    )
}

/// A two-frame recording of the camera image with `depth`.
fn record_scene(name: &str, depth: DepthMap) -> PathBuf {
    let dir = scratch(name);
    let mut recorder = Recorder::create(&dir, format!("occlusion test {name}")).unwrap();
    let (w, h) = FRAME;
    let rgb: Vec<u8> = (0..h)
        .flat_map(|y| (0..w).flat_map(move |x| camera_rgb(x, y)))
        .collect();
    for n in 0..2u64 {
        let frame = CameraFrame::packed(PixelFormat::Rgb8, w, h, rgb.clone())
            .unwrap()
            .with_sequence(n + 1)
            .with_timestamp(Duration::from_millis(50 * n));
        recorder.record(&frame, &depth, None).unwrap();
    }
    dir
}

/// One camera of the test: its settings, target size and render layer.
struct View {
    name: &'static str,
    size: (u32, u32),
    settings: MonoDepthCamera,
    layer: usize,
}

fn headless(source: FrameSource) -> App {
    headless_in_order(source, false)
}

/// `plugin_first`: the plugin before Bevy's (a mistake the plugin warns of).
fn headless_in_order(source: FrameSource, plugin_first: bool) -> App {
    let mut app = App::new();
    let ours = MonoDepthPlugin {
        model: None,
        source,
        ..default()
    };
    let plugins = headless_render_plugins();
    if plugin_first {
        app.add_plugins(ours).add_plugins(plugins);
    } else {
        app.add_plugins(plugins).add_plugins(ours);
    }
    app
}

/// One camera per view, in order; their targets by name.
fn spawn_cameras(app: &mut App, views: &[View]) -> Vec<(&'static str, Handle<Image>)> {
    views
        .iter()
        .enumerate()
        .map(|(i, v)| (v.name, spawn_camera(app, v, i as isize)))
        .collect()
}

fn spawn_camera(app: &mut App, view: &View, order: isize) -> Handle<Image> {
    let image = target(app, view.size);
    let mut camera = app.world_mut().spawn((
        view.settings.clone(),
        Camera { order, ..default() },
        Projection::Perspective(PerspectiveProjection {
            fov: FOV,
            ..default()
        }),
        RenderTarget::Image(image.clone().into()),
        Tonemapping::None,
        DebandDither::Disabled,
        Msaa::Off,
        RenderLayers::layer(view.layer),
    ));
    // Bevy's default MSAA and an HDR target: other pipeline variants.
    if view.name.ends_with("_hdr_msaa") {
        camera.insert((Msaa::Sample4, bevy::camera::Hdr));
    }
    image
}

/// A box whose front face is `metres` in front of the camera, covering the
/// screen columns `x0..x1` of a view `width` pixels wide (4:3 at the
/// test's field of view) and every row.
fn box_at(metres: f32, x0: f32, x1: f32, width: f32) -> (Cuboid, Transform) {
    let half_h = metres * (FOV / 2.0).tan();
    let half_w = half_h * 4.0 / 3.0;
    let world_x = |px: f32| (px / width * 2.0 - 1.0) * half_w;
    let (left, right) = (world_x(x0), world_x(x1));
    let depth = 0.01;
    (
        Cuboid::new(right - left, 4.0 * half_h, depth),
        Transform::from_xyz((left + right) / 2.0, 0.0, -metres - depth / 2.0),
    )
}

/// An unlit white box at `metres` covering columns `x0..x1` of an 80-pixel
/// wide view, with `material` made from its `StandardMaterial`.
fn spawn_box_with<M: Material>(
    app: &mut App,
    metres: f32,
    (x0, x1): (f32, f32),
    layer: usize,
    material: impl FnOnce(StandardMaterial) -> M,
) {
    let (cuboid, transform) = box_at(metres, x0, x1, 80.0);
    let world = app.world_mut();
    let mesh = world.resource_mut::<Assets<Mesh>>().add(cuboid);
    let material = world
        .resource_mut::<Assets<M>>()
        .add(material(StandardMaterial {
            base_color: Color::srgb_u8(BOX[0], BOX[1], BOX[2]),
            unlit: true,
            ..default()
        }));
    world.spawn((
        Mesh3d(mesh),
        MeshMaterial3d(material),
        transform,
        RenderLayers::layer(layer),
    ));
}

/// A plain `StandardMaterial` box far wider than any view, so it covers
/// every column whatever the aspect.
fn spawn_box(app: &mut App, metres: f32, layer: usize) {
    spawn_box_with(app, metres, (-400.0, 480.0), layer, |m| m);
}

/// Soft-occlusion boxes, one per 10-pixel column band, at [`STRIPS`].
fn spawn_soft_strips(app: &mut App, layer: usize) {
    for (i, metres) in STRIPS.into_iter().enumerate() {
        let x0 = i as f32 * 10.0;
        spawn_box_with(app, metres, (x0, x0 + 10.0), layer, soft_occlusion);
    }
}

/// Updates until `ready` and every pipeline is built, then reads every
/// target back from a frame known to be drawn: the scene is still, so the
/// first copy equal to the one before it.
fn render(
    app: &mut App,
    targets: &[(&'static str, Handle<Image>)],
    ready: impl Fn(&App) -> bool,
) -> HashMap<&'static str, Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !ready(app) {
        assert!(Instant::now() < deadline, "the scene never became ready");
        app.update();
    }
    settle(app, deadline);
    let watched: Vec<_> = targets
        .iter()
        .map(|(name, handle)| (*name, Readbacks::watch(app, handle.clone())))
        .collect();
    watched
        .into_iter()
        .map(|(name, frames)| (name, frames.steady(app, deadline)))
        .collect()
}

/// Finishes the app, then [`render`]s once the replayed depth is in the
/// depth texture.
fn render_once_depth_is_shown(
    app: &mut App,
    targets: &[(&'static str, Handle<Image>)],
) -> HashMap<&'static str, Vec<u8>> {
    app.finish();
    app.cleanup();
    render(app, targets, |app| {
        app.world()
            .get_resource::<DepthTextures>()
            .is_some_and(|t| t.depth_sequence.is_some())
    })
}

struct Image2 {
    data: Vec<u8>,
    width: u32,
}

impl Image2 {
    fn rgb(&self, x: u32, y: u32) -> [u8; 3] {
        let stride = common::render::readback_stride(self.width as usize * 4);
        let i = y as usize * stride + x as usize * 4;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }

    /// The first of `columns` in row `y` where the box shows.
    fn first_box_column(&self, y: u32, columns: impl Iterator<Item = u32>) -> Option<u32> {
        columns.into_iter().find(|&x| self.rgb(x, y) == BOX)
    }
}

fn srgb_to_linear(c: u8) -> f32 {
    let c = f32::from(c) / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

fn views() -> Vec<View> {
    // The pixel positions below are those of bilinear upsampling; the
    // guided one has its own test.
    let fill = MonoDepthCamera {
        upsampling: DepthUpsampling::Bilinear,
        ..default()
    };
    vec![
        View {
            name: "near",
            size: FRAME,
            settings: fill.clone(),
            layer: 1,
        },
        View {
            name: "far",
            size: FRAME,
            settings: fill.clone(),
            layer: 2,
        },
        View {
            name: "edge_fill",
            size: FRAME,
            settings: fill.clone(),
            layer: 3,
        },
        View {
            name: "edge_fill_wide",
            size: (120, 60),
            settings: fill.clone(),
            layer: 3,
        },
        View {
            name: "edge_fit_wide",
            size: (120, 60),
            settings: MonoDepthCamera {
                fit: ResizeMode::Fit,
                ..fill.clone()
            },
            layer: 3,
        },
        View {
            name: "edge_fit_tall",
            size: (60, 80),
            settings: MonoDepthCamera {
                fit: ResizeMode::Fit,
                ..fill.clone()
            },
            layer: 3,
        },
        View {
            name: "edge_hdr_msaa",
            size: FRAME,
            settings: fill.clone(),
            layer: 3,
        },
        View {
            name: "edge_mirrored",
            size: FRAME,
            settings: MonoDepthCamera {
                mirror: true,
                ..fill.clone()
            },
            layer: 3,
        },
        View {
            name: "edge_between",
            size: FRAME,
            settings: fill.clone(),
            layer: 6,
        },
        View {
            name: "soft",
            size: FRAME,
            settings: MonoDepthCamera {
                occlusion: OcclusionMode::Soft,
                soft_band: SOFT_BAND,
                ..fill.clone()
            },
            layer: 4,
        },
        View {
            name: "background",
            size: FRAME,
            settings: MonoDepthCamera {
                fit: ResizeMode::Stretch,
                ..fill.clone()
            },
            layer: 5,
        },
        View {
            name: "depth",
            size: FRAME,
            settings: MonoDepthCamera {
                display: DepthDisplay::Depth,
                ..fill.clone()
            },
            layer: 5,
        },
        View {
            name: "mask",
            size: FRAME,
            settings: MonoDepthCamera {
                display: DepthDisplay::Mask,
                ..fill.clone()
            },
            layer: 5,
        },
    ]
}

#[test]
fn real_surfaces_hide_virtual_objects_pixel_by_pixel() {
    let dir = write_recording();
    let mut app = headless(FrameSource::Replay(dir.clone()));
    let mut targets = Vec::new();
    for (order, view) in views().iter().enumerate() {
        // Soft materials follow the active camera with the lowest order.
        let order = if view.name == "soft" {
            -1
        } else {
            order as isize
        };
        targets.push((view.name, spawn_camera(&mut app, view, order)));
    }
    spawn_box(&mut app, 1.0, 1);
    spawn_box(&mut app, 3.0, 2);
    spawn_box(&mut app, 2.0, 3);
    spawn_soft_strips(&mut app, 4);
    spawn_box(&mut app, 1.25, 6);
    app.finish();
    app.cleanup();
    let sizes: HashMap<_, _> = views().iter().map(|v| (v.name, v.size.0)).collect();
    let images: HashMap<&str, Image2> = render(&mut app, &targets, |app| {
        app.world()
            .get_resource::<DepthTextures>()
            .is_some_and(|t| t.depth_sequence.is_some())
    })
    .into_iter()
    .map(|(name, data)| {
        (
            name,
            Image2 {
                data,
                width: sizes[name],
            },
        )
    })
    .collect();
    let _ = std::fs::remove_dir_all(&dir);
    let camera = |x: u32, y: u32| camera_rgb(x, y);

    // The background is the camera image, colour-exact.
    let background = &images["background"];
    for y in 0..FRAME.1 {
        for x in 0..FRAME.0 {
            assert_eq!(
                background.rgb(x, y),
                camera(x, y),
                "background at ({x}, {y})"
            );
        }
    }

    // Against the 2 m wall (rows 0–29 of the 80×60 view): a box at 1 m is
    // drawn, a box at 3 m is not, every pixel.
    for y in 0..30 {
        for x in 0..FRAME.0 {
            assert_eq!(images["near"].rgb(x, y), BOX, "1 m box at ({x}, {y})");
            assert_eq!(
                images["far"].rgb(x, y),
                camera(x, y),
                "3 m box at ({x}, {y})"
            );
        }
    }
    // Behind the 1 m half of the step the 3 m box is hidden too; where the
    // depth is invalid it is drawn: invalid depth hides nothing.
    for y in 30..FRAME.1 {
        for x in 0..24 {
            assert_eq!(images["far"].rgb(x, y), camera(x, y), "({x}, {y})");
        }
    }
    for y in 48..FRAME.1 {
        for x in 64..FRAME.0 {
            assert_eq!(images["far"].rgb(x, y), BOX, "invalid depth at ({x}, {y})");
        }
    }

    // The 2 m box against the step: hidden left of the edge, drawn right of
    // it, from the first screen column whose texel is the step's
    // (`first_column_at`). Rows inside the step's band: fill at 120×60 shows
    // the image 120×90 (15 rows cropped above and below), so row 40 is image
    // row 25; fit at 60×80 shows it 60×45 below a 17.5-row bar.
    // mirrored: u = 1 − (x + ½) / 80 → the 1 m side is on the right, x ≥ 56.
    let cases = [
        ("edge_fill", 40, FRAME, ResizeMode::Fill),
        ("edge_hdr_msaa", 40, FRAME, ResizeMode::Fill),
        ("edge_fill_wide", 40, (120, 60), ResizeMode::Fill),
        ("edge_fit_wide", 40, (120, 60), ResizeMode::Fit),
        ("edge_fit_tall", 17 + 34, (60, 80), ResizeMode::Fit),
    ];
    for (name, row, view, fit) in cases {
        let image = &images[name];
        let (edge, left_bar) = first_column_at(view, fit, STEP_COLUMN);
        // Fit leaves bars with no depth: the box shows there, so scan from
        // the image's own left edge.
        let first = image.first_box_column(row, left_bar..image.width);
        assert_eq!(first, Some(edge), "{name}: first drawn column in row {row}");
        assert!(
            (edge..image.width).all(|x| image.rgb(x, row) == BOX),
            "{name}: drawn right of the edge"
        );
    }
    assert_eq!(images["edge_fit_wide"].rgb(5, 40), BOX, "bars hide nothing");
    // Depth is blended between texel centres (11.5 → 1 m, 12.5 → 3 m), so a
    // box at 1.25 m is cut where the blend reaches 1.25 m, at texel
    // coordinate 11.625 (u = 0.2906): the first drawn column is 23 (its
    // centre at 11.75 → 1.5 m), one before the texel edge nearest-neighbour
    // depth would give.
    let between = &images["edge_between"];
    assert_eq!(between.first_box_column(40, 0..FRAME.0), Some(23));
    assert_eq!(between.rgb(22, 40), camera(22, 40));
    let mirrored = &images["edge_mirrored"];
    let last = (0..FRAME.0).rev().find(|&x| mirrored.rgb(x, 40) == BOX);
    assert_eq!(last, Some(55), "mirrored: last drawn column");
    assert_eq!(
        mirrored.rgb(60, 40),
        camera(80 - 1 - 60, 40),
        "mirrored image"
    );

    // Soft: each strip's alpha, measured from the blue channel (box 1.0,
    // image 30/255) in linear light, follows the fade across the band
    // around the 2 m wall; outside the band the pixel is exactly the box or
    // exactly the image.
    let soft = &images["soft"];
    let y = 10;
    for (i, metres) in STRIPS.into_iter().enumerate() {
        let x = i as u32 * 10 + 5;
        let expected = 1.0 - smoothstep(2.0 - SOFT_BAND / 2.0, 2.0 + SOFT_BAND / 2.0, metres);
        let bg = srgb_to_linear(camera(x, y)[2]);
        let alpha = (srgb_to_linear(soft.rgb(x, y)[2]) - bg) / (1.0 - bg);
        assert!(
            (alpha - expected).abs() < 0.02,
            "strip at {metres} m: alpha {alpha}, expected {expected}"
        );
        let inside = (metres - 2.0).abs() < SOFT_BAND / 2.0;
        if !inside {
            let exact = if expected > 0.5 { BOX } else { camera(x, y) };
            assert_eq!(soft.rgb(x, y), exact, "strip at {metres} m is not faded");
        } else {
            assert!(alpha > 0.02 && alpha < 0.98, "strip at {metres} m is faded");
        }
    }

    // The depth view: the turbo colour of the depth between the map's
    // nearest (1 m) and farthest (3 m) valid values, 70 % over the image (in
    // linear light); pixels without depth darkened to 30 %.
    let lut = bevy_mono_depth::colormap::turbo_lut();
    let turbo = |metres: f32| {
        let i = (((3.0 - metres) / 2.0) * 255.0).round() as usize * 4;
        [lut[i], lut[i + 1], lut[i + 2]]
    };
    let linear_to_srgb = |c: f32| {
        let c = c.clamp(0.0, 1.0);
        let s = if c <= 0.003_130_8 {
            c * 12.92
        } else {
            1.055 * c.powf(1.0 / 2.4) - 0.055
        };
        (s * 255.0).round() as i32
    };
    let near_enough = |got: [u8; 3], want: [i32; 3], what: &str| {
        for c in 0..3 {
            assert!(
                (i32::from(got[c]) - want[c]).abs() <= 2,
                "{what}: {got:?} vs {want:?}"
            );
        }
    };
    for (x, y, metres) in [(10, 10, 2.0), (10, 40, 1.0), (40, 40, 3.0)] {
        let (image, colour) = (camera(x, y), turbo(metres));
        let want = std::array::from_fn(|c| {
            linear_to_srgb(0.3 * srgb_to_linear(image[c]) + 0.7 * srgb_to_linear(colour[c]))
        });
        near_enough(images["depth"].rgb(x, y), want, "depth view");
    }
    let dark = camera(70, 55).map(|c| linear_to_srgb(0.3 * srgb_to_linear(c)));
    near_enough(images["depth"].rgb(70, 55), dark, "depth view, no depth");

    // The mask: white where real surfaces can hide, black where not.
    assert_eq!(images["mask"].rgb(10, 10), [255, 255, 255]);
    assert_eq!(images["mask"].rgb(70, 55), [0, 0, 0]);
}

#[test]
fn before_the_first_depth_nothing_is_hidden() {
    // Frames pushed, no model: the background shows them, no depth comes.
    let mut app = headless(FrameSource::Pushed);
    let views = [
        View {
            name: "box",
            size: FRAME,
            settings: MonoDepthCamera::default(),
            layer: 1,
        },
        View {
            name: "background",
            size: FRAME,
            settings: MonoDepthCamera::default(),
            layer: 2,
        },
    ];
    let targets = spawn_cameras(&mut app, &views);
    spawn_box(&mut app, 3.0, 1);
    app.finish();
    app.cleanup();
    let (w, h) = FRAME;
    let rgb: Vec<u8> = (0..h)
        .flat_map(|y| (0..w).flat_map(move |x| camera_rgb(x, y)))
        .collect();
    let images = render(&mut app, &targets, |app| {
        let pusher = app.world().resource::<FramePusher>();
        let _ = pusher.push_rgb(w, h, w as usize * 3, &rgb, Duration::ZERO);
        app.world()
            .get_resource::<DepthTextures>()
            .is_some_and(|t| t.background_sequence.is_some())
    });
    let boxed = Image2 {
        data: images["box"].clone(),
        width: w,
    };
    let background = Image2 {
        data: images["background"].clone(),
        width: w,
    };
    for y in 0..h {
        for x in 0..w {
            assert_eq!(boxed.rgb(x, y), BOX, "({x}, {y})");
            assert_eq!(background.rgb(x, y), camera_rgb(x, y), "({x}, {y})");
        }
    }
    assert!(app.world().resource::<CurrentDepth>().map.is_none());
}

#[test]
fn a_plugin_added_before_the_renderer_leaves_cameras_alone_and_runs() {
    for plugin_first in [false, true] {
        let mut app = headless_in_order(FrameSource::Pushed, plugin_first);
        let view = View {
            name: "order",
            size: FRAME,
            settings: MonoDepthCamera::default(),
            layer: 1,
        };
        spawn_camera(&mut app, &view, 0);
        app.finish();
        app.cleanup();
        for _ in 0..3 {
            app.update();
        }
        let world = app.world_mut();
        // In the wrong order occlusion is off (with a warning): soft
        // materials are not registered; nothing else changes.
        assert_eq!(
            world.contains_resource::<Assets<SoftOcclusionMaterial>>(),
            !plugin_first,
            "plugin first: {plugin_first}"
        );
        assert!(world.contains_resource::<DepthTextures>());
        assert_eq!(
            world.resource::<MonoDepthStatus>().engine,
            EngineStatus::NoModel
        );
    }
}

/// A recording whose depth covers only frame u 0.4–0.9 (a crop, as the
/// preprocessing makes for a wider frame): 20×30 texels, 1 m left of depth
/// column 10 and 3 m from it on.
fn write_cropped_recording() -> PathBuf {
    let metres: Vec<f32> = (0..30)
        .flat_map(|_| (0..20).map(|col| if col < 10 { 1.0 } else { 3.0 }))
        .collect();
    let mut depth = DepthMap::from_metres(20, 30, metres, (0.1, 20.0));
    depth
        .set_mapping(ImageMapping {
            scale: [0.5, 1.0],
            offset: [0.4, 0.0],
        })
        .unwrap();
    record_scene("cropped", depth)
}

#[test]
fn a_cropped_depth_map_and_a_bias_hide_where_computed() {
    let dir = write_cropped_recording();
    let mut app = headless(FrameSource::Replay(dir.clone()));
    let stretch = MonoDepthCamera {
        fit: ResizeMode::Stretch,
        upsampling: DepthUpsampling::Bilinear,
        ..default()
    };
    let views = [
        View {
            name: "crop",
            size: FRAME,
            settings: stretch.clone(),
            layer: 1,
        },
        View {
            name: "bias",
            size: FRAME,
            settings: MonoDepthCamera {
                bias: -1.5,
                ..stretch.clone()
            },
            layer: 1,
        },
        View {
            name: "relative_bias",
            size: FRAME,
            settings: MonoDepthCamera {
                bias_per_metre: -0.4,
                ..stretch.clone()
            },
            layer: 1,
        },
        View {
            name: "small_bias",
            size: FRAME,
            settings: MonoDepthCamera {
                bias: -0.9,
                ..stretch
            },
            layer: 1,
        },
    ];
    let targets = spawn_cameras(&mut app, &views);
    spawn_box(&mut app, 2.0, 1);
    let images = render_once_depth_is_shown(&mut app, &targets);
    let _ = std::fs::remove_dir_all(&dir);
    let image = |name: &str| Image2 {
        data: images[name].clone(),
        width: FRAME.0,
    };
    // Frame column x sees depth u = (x + 0.5) / 80 − 0.4) / 0.5: no depth
    // left of column 32 or from column 72 on; the 1 m → 3 m step (blended
    // between texel centres at columns 51.0 and 53.0) crosses the 2 m box at
    // column 52.0.
    let hidden = |x: u32| (32..52).contains(&x);
    let (crop, bias) = (image("crop"), image("bias"));
    let (relative, small) = (image("relative_bias"), image("small_bias"));
    for y in [5, 30, 55] {
        for x in 0..FRAME.0 {
            let want = if hidden(x) { camera_rgb(x, y) } else { BOX };
            assert_eq!(crop.rgb(x, y), want, "cropped depth at ({x}, {y})");
            // A bias of −1.5 m pulls the 3 m surface to 1.5 m: it hides
            // the 2 m box too; where there is no depth nothing changes.
            let want = if (32..72).contains(&x) {
                camera_rgb(x, y)
            } else {
                BOX
            };
            assert_eq!(bias.rgb(x, y), want, "biased depth at ({x}, {y})");
            // −0.4 m per metre takes 1.2 m off the 3 m surface (1.8 m: it
            // hides the box) and 0.4 m off the 1 m one; a fixed −0.9 m
            // leaves the 3 m surface behind the box and moves the blended
            // step's crossing one column on (2.5 m at column 52 becomes 1.6).
            assert_eq!(relative.rgb(x, y), want, "relative bias at ({x}, {y})");
            let want = if (32..53).contains(&x) {
                camera_rgb(x, y)
            } else {
                BOX
            };
            assert_eq!(small.rgb(x, y), want, "small bias at ({x}, {y})");
        }
    }
}

/// The guided-upsampling scene: a 160×120 camera image whose colour steps
/// from [`LEFT`] to [`RIGHT`] at column [`EDGE`], and a 40×30 depth map
/// (4 pixels a texel) of a real edge there as a network gives it: 1 m left
/// of the edge, 3 m right of it, averaged over each texel (the edge cuts
/// texel 17 after one of its four columns) and blurred across the texels
/// with weights ¼ ½ ¼.
const GUIDED_FRAME: (u32, u32) = (160, 120);
const EDGE: u32 = 69;
const LEFT: [u8; 3] = [200, 60, 40];
const RIGHT: [u8; 3] = [40, 90, 200];

fn guided_depth_row() -> Vec<f32> {
    let texels = GUIDED_FRAME.0 / 4;
    let area: Vec<f32> = (0..texels)
        .map(|t| {
            let near = (4 * t..4 * t + 4).filter(|&x| x < EDGE).count() as f32;
            (near * 1.0 + (4.0 - near) * 3.0) / 4.0
        })
        .collect();
    (0..texels as usize)
        .map(|t| {
            let at = |i: isize| area[i.clamp(0, texels as isize - 1) as usize];
            let t = t as isize;
            0.25 * at(t - 1) + 0.5 * at(t) + 0.25 * at(t + 1)
        })
        .collect()
}

#[test]
fn guided_edges_land_on_the_image_edge_bilinear_ones_do_not() {
    let (w, h) = GUIDED_FRAME;
    let row = guided_depth_row();
    let metres: Vec<f32> = (0..h / 4).flat_map(|_| row.iter().copied()).collect();
    let depth = DepthMap::from_metres(w / 4, h / 4, metres, (0.1, 20.0));
    let dir = scratch("guided");
    let mut recorder = Recorder::create(&dir, "guided upsampling test").unwrap();
    let rgb: Vec<u8> = (0..h)
        .flat_map(|_| (0..w).flat_map(|x| if x < EDGE { LEFT } else { RIGHT }))
        .collect();
    for n in 0..2u64 {
        let frame = CameraFrame::packed(PixelFormat::Rgb8, w, h, rgb.clone())
            .unwrap()
            .with_sequence(n + 1)
            .with_timestamp(Duration::from_millis(50 * n));
        recorder.record(&frame, &depth, None).unwrap();
    }
    let mut app = headless(FrameSource::Replay(dir.clone()));
    let view = |name, upsampling| View {
        name,
        size: GUIDED_FRAME,
        settings: MonoDepthCamera {
            upsampling,
            ..default()
        },
        layer: 1,
    };
    let views = [
        view("guided", DepthUpsampling::Guided),
        view("bilinear", DepthUpsampling::Bilinear),
    ];
    let targets = spawn_cameras(&mut app, &views);
    // A virtual wall at 1.5 m: hidden where the real surface is nearer.
    spawn_box(&mut app, 1.5, 1);
    let images = render_once_depth_is_shown(&mut app, &targets);
    let _ = std::fs::remove_dir_all(&dir);
    let first_box = |name: &str, y: u32| {
        let image = Image2 {
            data: images[name].clone(),
            width: w,
        };
        // Left of the boundary the camera image shows, right of it the box.
        let column = image.first_box_column(y, 0..w).expect("the box shows");
        for x in 0..w {
            let want = if x < column {
                if x < EDGE { LEFT } else { RIGHT }
            } else {
                BOX
            };
            assert_eq!(image.rgb(x, y), want, "{name} at ({x}, {y})");
        }
        column
    };
    for y in [3, 60, 117] {
        let guided = first_box("guided", y);
        let bilinear = first_box("bilinear", y);
        assert!(
            guided.abs_diff(EDGE) <= 1,
            "guided boundary at column {guided}, the image edge at {EDGE}"
        );
        assert!(
            bilinear.abs_diff(EDGE) > 1,
            "bilinear boundary at column {bilinear}: the blurred depth alone should miss the edge"
        );
    }
}

#[test]
fn unsure_depth_hides_nothing_below_the_minimum_confidence() {
    // Depth from elsewhere (as an app with a depth sensor would hand it
    // in): 1 m everywhere, sure on the right half of the image, unsure on
    // the left.
    let mut app = headless(FrameSource::Pushed);
    let views = [
        View {
            name: "cut",
            size: FRAME,
            settings: MonoDepthCamera {
                min_confidence: 0.5,
                upsampling: DepthUpsampling::Bilinear,
                fit: ResizeMode::Stretch,
                ..default()
            },
            layer: 1,
        },
        View {
            name: "all",
            size: FRAME,
            settings: MonoDepthCamera {
                upsampling: DepthUpsampling::Bilinear,
                fit: ResizeMode::Stretch,
                ..default()
            },
            layer: 1,
        },
    ];
    let targets = spawn_cameras(&mut app, &views);
    spawn_box(&mut app, 2.0, 1);
    app.finish();
    app.cleanup();
    let (w, h) = FRAME;
    let rgb: Vec<u8> = (0..h)
        .flat_map(|y| (0..w).flat_map(move |x| camera_rgb(x, y)))
        .collect();
    let frame = CameraFrame::packed(PixelFormat::Rgb8, w, h, rgb)
        .unwrap()
        .with_sequence(1);
    let mut depth = DepthMap::from_metres(DEPTH.0, DEPTH.1, vec![1.0; 1200], (0.1, 20.0));
    depth.set_confidence(
        (0..DEPTH.1).flat_map(|_| (0..DEPTH.0).map(|c| if c < 20 { 0.2 } else { 1.0 })),
    );
    depth.sequence = 1;
    let mut depth = Some(depth);
    app.world_mut()
        .run_system_once(move |mut external: ExternalDepth| {
            external.show(&frame, depth.take().unwrap_or_default())
        })
        .unwrap()
        .unwrap();
    let images = render(&mut app, &targets, |_| true);
    let image = |name: &str| Image2 {
        data: images[name].clone(),
        width: w,
    };
    let (cut, all) = (image("cut"), image("all"));
    // Texel 20 starts at column 40; the nearest texel decides.
    for y in [5, 30, 55] {
        for x in 0..w {
            let want = if x < 40 { BOX } else { camera_rgb(x, y) };
            assert_eq!(cut.rgb(x, y), want, "minimum confidence at ({x}, {y})");
            assert_eq!(all.rgb(x, y), camera_rgb(x, y), "every texel at ({x}, {y})");
        }
    }
}

/// A Depth Anything V2 graph (the metric test model: dynamic input, rank-3
/// output at the input's size) driven by the plugin and drawn: pushed 80×60
/// frames run at 518×392, and the box is hidden where the model's metres
/// put the scene nearer than the box, as for any other model.
#[test]
fn depth_anything_depth_hides_the_box_where_the_model_puts_the_scene_nearer() {
    let mut app = App::new();
    app.add_plugins(headless_render_plugins())
        .add_plugins(MonoDepthPlugin {
            model: Some(common::model("depth_anything_v2_tiny_metric.onnx")),
            session: common::cpu(),
            source: FrameSource::Pushed,
            ..default()
        });
    let views = [View {
        name: "box",
        size: FRAME,
        settings: MonoDepthCamera::default(),
        layer: 1,
    }];
    let targets = spawn_cameras(&mut app, &views);
    app.finish();
    app.cleanup();
    let (w, h) = FRAME;
    let rgb: Vec<u8> = (0..h)
        .flat_map(|y| (0..w).flat_map(move |x| camera_rgb(x, y)))
        .collect();
    // The model's depth for this frame, before the box is placed.
    let deadline = Instant::now() + Duration::from_secs(120);
    let pusher = app.world().resource::<FramePusher>().clone();
    let map = loop {
        assert!(Instant::now() < deadline, "no depth from the model");
        let _ = pusher.push_rgb(w, h, w as usize * 3, &rgb, Duration::ZERO);
        app.update();
        if let Some(map) = app.world().resource::<CurrentDepth>().map.clone() {
            break map;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!((map.width(), map.height()), (518, 392));
    let mut sorted: Vec<f32> = map.metres().iter().copied().filter(|m| *m > 0.0).collect();
    sorted.sort_by(f32::total_cmp);
    let plane = sorted[sorted.len() / 2];
    spawn_box(&mut app, plane, 1);
    let images = render(&mut app, &targets, |app| {
        app.world()
            .get_resource::<DepthTextures>()
            .is_some_and(|t| t.depth_sequence.is_some())
    });
    let boxed = Image2 {
        data: images["box"].clone(),
        width: w,
    };
    // Where the model's depth (nearest texel of the screen pixel's centre,
    // the frame filling the screen) is clearly nearer or farther than the
    // box, the box must be hidden or shown.
    let (mut agree, mut counted, mut hidden) = (0, 0, 0);
    for y in 0..h {
        for x in 0..w {
            let u = ((x as f32 + 0.5) / w as f32 * 518.0) as u32;
            let v = ((y as f32 + 0.5) / h as f32 * 392.0) as u32;
            let Some(real) = map.get(u.min(517), v.min(391)) else {
                continue;
            };
            if (real - plane).abs() < 0.1 * plane {
                continue;
            }
            let shown = boxed.rgb(x, y) == BOX;
            counted += 1;
            hidden += usize::from(!shown);
            agree += usize::from(shown == (real > plane));
        }
    }
    assert!(
        counted > (w * h / 4) as usize,
        "{counted} pixels clear of the plane"
    );
    assert!(
        hidden > counted / 5 && hidden < counted * 4 / 5,
        "{hidden} of {counted} hidden"
    );
    assert!(
        agree * 100 >= counted * 97,
        "{agree} of {counted} pixels agree"
    );
}
