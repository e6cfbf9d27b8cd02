//! The overlay panel runs in a headless app that renders (Mesa's software
//! Vulkan where there is no GPU) and draws into the camera's image.

#![cfg(feature = "overlay")]

use std::time::{Duration, Instant};

use bevy::camera::RenderTarget;
use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::prelude::*;
use bevy_mono_depth::plugin::{MonoDepthOverlay, TimingHistory};
use bevy_mono_depth::prelude::*;

mod common;
use common::render::{Readbacks, headless_render_plugins, settle, target};

const W: u32 = 512;
const H: u32 = 384;
const CLEAR: [u8; 4] = [0, 255, 0, 255];

fn app(visible: bool) -> (App, Handle<Image>) {
    let sample = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/samples/room");
    app_with(visible, FrameSource::Replay(sample))
}

fn app_with(visible: bool, source: FrameSource) -> (App, Handle<Image>) {
    let mut app = App::new();
    app.add_plugins(headless_render_plugins()).add_plugins((
        MonoDepthPlugin {
            model: None,
            source,
            ..default()
        },
        MonoDepthOverlayPlugin,
    ));
    app.insert_resource(MonoDepthOverlay {
        visible,
        ..default()
    });
    let target = target(&mut app, (W, H));
    app.world_mut().spawn((
        Camera3d::default(),
        Camera {
            clear_color: ClearColorConfig::Custom(Color::srgb_u8(CLEAR[0], CLEAR[1], CLEAR[2])),
            ..default()
        },
        RenderTarget::Image(target.clone().into()),
        Tonemapping::None,
        Msaa::Off,
    ));
    app.finish();
    app.cleanup();
    (app, target)
}

/// Updates until depth has flowed for a while and every pipeline is built.
fn run_until_depth(app: &mut App, deadline: Instant) {
    while app.world().resource::<TimingHistory>().postprocess.len() < 3 {
        assert!(Instant::now() < deadline, "no depth from the replay");
        app.update();
    }
    settle(app, deadline);
}

fn pixel(data: &[u8], x: u32, y: u32) -> [u8; 4] {
    // W × 4 bytes is a multiple of 256: rows are not padded.
    let i = ((y * W + x) * 4) as usize;
    [data[i], data[i + 1], data[i + 2], data[i + 3]]
}

/// Where the panel sits (top left), and a corner it never covers.
const PANEL: (u32, u32) = (40, 60);
const CORNER: (u32, u32) = (W - 5, H - 5);

/// A frame is known to be rendered when the clear colour shows in the corner.
fn rendered(data: &[u8]) -> bool {
    pixel(data, CORNER.0, CORNER.1) == CLEAR
}

fn panel(data: &[u8]) -> [u8; 4] {
    pixel(data, PANEL.0, PANEL.1)
}

#[test]
fn the_panel_draws_into_the_camera_image_and_hides_with_its_toggle() {
    let (mut app, target) = app(true);
    let deadline = Instant::now() + Duration::from_secs(120);
    run_until_depth(&mut app, deadline);
    let frames = Readbacks::watch(&mut app, target);
    frames.until(&mut app, deadline, "the panel was never drawn", |data| {
        rendered(data) && panel(data) != CLEAR
    });

    // Hidden with the toggle: gone within a few frames, and it stays gone.
    app.world_mut().resource_mut::<MonoDepthOverlay>().visible = false;
    frames.until(&mut app, deadline, "the panel never went away", |data| {
        rendered(data) && panel(data) == CLEAR
    });
    for _ in 0..5 {
        let data = frames.next(&mut app, deadline);
        assert!(rendered(&data));
        assert_eq!(panel(&data), CLEAR, "hidden, nothing is drawn");
    }

    // And back with the toggle.
    app.world_mut().resource_mut::<MonoDepthOverlay>().visible = true;
    frames.until(&mut app, deadline, "the panel did not come back", |data| {
        rendered(data) && panel(data) != CLEAR
    });
}

#[test]
fn an_overlay_hidden_from_the_start_draws_nothing() {
    let (mut app, target) = app(false);
    let deadline = Instant::now() + Duration::from_secs(120);
    run_until_depth(&mut app, deadline);
    let frames = Readbacks::watch(&mut app, target);
    frames.until(&mut app, deadline, "nothing was rendered", rendered);
    for _ in 0..5 {
        let data = frames.next(&mut app, deadline);
        assert!(rendered(&data));
        assert_eq!(panel(&data), CLEAR, "hidden, nothing is drawn");
    }
}

/// The asset ids of the images holding exactly `rgba`.
fn images_holding(app: &App, rgba: &[u8]) -> Vec<AssetId<Image>> {
    app.world()
        .resource::<Assets<Image>>()
        .iter()
        .filter(|(_, image)| image.data.as_deref() == Some(rgba))
        .map(|(id, _)| id)
        .collect()
}

/// The current depth map colour-mapped as the preview shows it.
fn expected_preview(app: &App) -> (u64, Vec<u8>) {
    let map = app
        .world()
        .resource::<CurrentDepth>()
        .map
        .clone()
        .expect("depth has arrived");
    let mut rgba = Vec::new();
    bevy_mono_depth::colormap::colorize(&map, None, &mut rgba);
    (map.sequence, rgba)
}

#[test]
fn the_depth_preview_is_one_image_refilled_with_each_depth_map() {
    let (mut app, _) = app(true);
    let deadline = Instant::now() + Duration::from_secs(60);
    while app.world().resource::<TimingHistory>().postprocess.len() < 3 {
        assert!(Instant::now() < deadline, "no depth from the replay");
        app.update();
    }
    app.update();
    let (first_sequence, first) = expected_preview(&app);
    let holding = images_holding(&app, &first);
    assert_eq!(holding.len(), 1, "one image shows the preview");
    let preview = holding[0];
    let count = app.world().resource::<Assets<Image>>().len();
    // A few more depth maps: the same image, new pixels, no new images.
    let mut seen = 0;
    let mut last = first_sequence;
    while seen < 3 {
        assert!(Instant::now() < deadline, "the replay stopped");
        app.update();
        let (sequence, rgba) = expected_preview(&app);
        if sequence != last {
            last = sequence;
            seen += 1;
            assert_eq!(images_holding(&app, &rgba), [preview], "depth #{sequence}");
        }
    }
    assert_eq!(app.world().resource::<Assets<Image>>().len(), count);
}

#[test]
fn an_empty_depth_map_shows_no_preview_and_breaks_nothing() {
    // No model and no frames: the only depth is the one the test puts in
    // place, as a custom estimator could.
    let (mut app, target) = app_with(true, FrameSource::Pushed);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut map = DepthMap::from_metres(4, 2, vec![1.0; 8], (0.5, 10.0));
    map.sequence = 1;
    app.world_mut().resource_mut::<CurrentDepth>().map = Some(map);
    settle(&mut app, deadline);
    let with_preview = app.world().resource::<Assets<Image>>().len();
    let mut empty = DepthMap::empty();
    empty.sequence = 2;
    app.world_mut().resource_mut::<CurrentDepth>().map = Some(empty);
    let frames = Readbacks::watch(&mut app, target);
    frames.until(&mut app, deadline, "the panel was never drawn", |data| {
        rendered(data) && panel(data) != CLEAR
    });
    // The preview image of the earlier map is gone, none took its place.
    assert_eq!(
        app.world().resource::<Assets<Image>>().len(),
        with_preview - 1
    );
}
