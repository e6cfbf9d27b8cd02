//! The overlay panel runs in a headless app that renders (Mesa's software
//! Vulkan where there is no GPU) and draws into the camera's image.

#![cfg(feature = "overlay")]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bevy::camera::RenderTarget;
use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::prelude::*;
use bevy::render::gpu_readback::{Readback, ReadbackComplete};
use bevy::render::render_resource::{TextureFormat, TextureUsages};
use bevy::window::ExitCondition;
use bevy_mono_depth::plugin::{MonoDepthOverlay, TimingHistory};
use bevy_mono_depth::prelude::*;

const W: u32 = 512;
const H: u32 = 384;
const CLEAR: [u8; 4] = [0, 255, 0, 255];

fn app(visible: bool) -> (App, Handle<Image>) {
    let mut app = App::new();
    let plugins = DefaultPlugins.set(WindowPlugin {
        primary_window: None,
        exit_condition: ExitCondition::DontExit,
        ..default()
    });
    let plugins = plugins.build().disable::<bevy::winit::WinitPlugin>();
    app.add_plugins(plugins).add_plugins((
        MonoDepthPlugin {
            model: None,
            source: FrameSource::Replay(
                std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/samples/room"),
            ),
            ..default()
        },
        MonoDepthOverlayPlugin,
    ));
    app.insert_resource(MonoDepthOverlay {
        visible,
        ..default()
    });
    let mut image = Image::new_target_texture(W, H, TextureFormat::Rgba8UnormSrgb, None);
    image.texture_descriptor.usage |= TextureUsages::COPY_SRC; // read back
    let target = app.world_mut().resource_mut::<Assets<Image>>().add(image);
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

/// Runs until depth has flowed for a while, then reads the target back.
fn render(visible: bool) -> (Vec<u8>, usize) {
    let (mut app, target) = app(visible);
    let deadline = Instant::now() + Duration::from_secs(60);
    while app.world().resource::<TimingHistory>().postprocess.len() < 3 {
        assert!(Instant::now() < deadline, "no depth from the replay");
        app.update();
    }
    for _ in 0..5 {
        app.update();
    }
    let captured: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
    let slot = Arc::clone(&captured);
    app.world_mut()
        .spawn(Readback::texture(target))
        .observe(move |event: On<ReadbackComplete>| {
            if let Ok(mut slot) = slot.lock() {
                slot.get_or_insert_with(|| event.data.clone());
            }
        });
    loop {
        assert!(Instant::now() < deadline, "no readback");
        app.update();
        if let Some(data) = captured.lock().unwrap().clone() {
            return (
                data,
                app.world().resource::<TimingHistory>().postprocess.len(),
            );
        }
    }
}

#[test]
fn the_panel_draws_into_the_camera_image_and_hides_with_its_toggle() {
    let (shown, frames) = render(true);
    assert!(frames >= 3);
    let pixel = |data: &[u8], x: usize, y: usize| -> [u8; 4] {
        let i = (y * W as usize + x) * 4;
        [data[i], data[i + 1], data[i + 2], data[i + 3]]
    };
    // The panel sits at the top left; the clear colour shows elsewhere.
    assert_ne!(pixel(&shown, 40, 60), CLEAR, "the panel was drawn");
    assert_eq!(pixel(&shown, W as usize - 5, H as usize - 5), CLEAR);
    let (hidden, _) = render(false);
    assert_eq!(pixel(&hidden, 40, 60), CLEAR, "hidden, nothing is drawn");
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
