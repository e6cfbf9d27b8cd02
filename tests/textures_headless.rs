//! The camera image and the depth reach their GPU textures (Mesa's software
//! Vulkan where there is no GPU) byte for byte, written from the render
//! world; frames too large for the GPU are refused with a status.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy::render::RenderPlugin;
use bevy::render::render_resource::TextureFormat;
use bevy::render::settings::{RenderCreation, WgpuLimits, WgpuSettings};
use bevy_mono_depth::frame::{CameraFrame, PixelFormat};
use bevy_mono_depth::prelude::*;
use bevy_mono_depth::sources::recording::Recorder;
use common::frame_bytes;
use common::render::{Readbacks, headless_render_plugins, settle};

/// The largest texture side the test's GPU device allows.
const LIMIT: u32 = 1024;

fn app(source: FrameSource) -> App {
    let mut app = App::new();
    let render = RenderPlugin {
        render_creation: RenderCreation::Automatic(Box::new(WgpuSettings {
            constrained_limits: Some(WgpuLimits {
                max_texture_dimension_2d: LIMIT,
                ..WgpuLimits::default()
            }),
            ..default()
        })),
        ..default()
    };
    app.add_plugins(headless_render_plugins().set(render))
        .add_plugins(MonoDepthPlugin {
            model: None,
            source,
            ..default()
        });
    app.finish();
    app.cleanup();
    app
}

/// The rows of a read-back texture (`row_bytes` each), without the copy
/// padding.
fn rows(data: &[u8], row_bytes: usize, height: usize) -> Vec<u8> {
    let stride = common::render::readback_stride(row_bytes);
    (0..height)
        .flat_map(|y| data[y * stride..][..row_bytes].iter().copied())
        .collect()
}

fn textures(app: &App) -> DepthTextures {
    app.world().resource::<DepthTextures>().clone()
}

fn texture_format(app: &App, handle: &Handle<Image>) -> TextureFormat {
    app.world()
        .resource::<Assets<Image>>()
        .get(handle)
        .unwrap()
        .texture_descriptor
        .format
}

#[test]
fn pushed_frames_reach_the_background_texture_as_they_are() {
    let mut app = app(FrameSource::Pushed);
    let deadline = Instant::now() + Duration::from_secs(120);
    settle(&mut app, deadline);
    let pusher = app.world().resource::<FramePusher>().clone();
    let background = textures(&app).background;
    let frames = Readbacks::watch(&mut app, background.clone());

    // BGRA with padded rows (as iOS hands them): uploaded as BGRA, padding
    // skipped, alpha untouched.
    let (w, h) = (5u32, 3u32);
    let stride = w as usize * 4 + 12;
    let bgra = frame_bytes(PixelFormat::Bgra8, w, h, stride, |y, x| {
        [(10 * x + y) as u8, (40 + 3 * y) as u8, (200 - x) as u8]
    });
    pusher
        .push_bgra(w, h, stride, &bgra, Duration::ZERO)
        .unwrap();
    let want: Vec<u8> = (0..h as usize)
        .flat_map(|y| bgra[y * stride..][..w as usize * 4].to_vec())
        .collect();
    frames.until(&mut app, deadline, "the BGRA frame never arrived", |data| {
        data.len() >= common::render::readback_stride(w as usize * 4) * h as usize
            && rows(data, w as usize * 4, h as usize) == want
    });
    assert_eq!(
        texture_format(&app, &background),
        TextureFormat::Bgra8UnormSrgb
    );

    // RGB of another size: a new RGBA texture, alpha opaque.
    let (w, h) = (7u32, 2u32);
    let rgb = frame_bytes(PixelFormat::Rgb8, w, h, w as usize * 3, |y, x| {
        [(x * 30) as u8, (y * 90) as u8, 17]
    });
    pusher
        .push_rgb(w, h, w as usize * 3, &rgb, Duration::ZERO)
        .unwrap();
    let want: Vec<u8> = rgb
        .chunks_exact(3)
        .flat_map(|p| [p[0], p[1], p[2], 255])
        .collect();
    frames.until(&mut app, deadline, "the RGB frame never arrived", |data| {
        data.len() >= common::render::readback_stride(w as usize * 4) * h as usize
            && rows(data, w as usize * 4, h as usize) == want
    });
    assert_eq!(
        texture_format(&app, &background),
        TextureFormat::Rgba8UnormSrgb
    );
    assert_eq!(textures(&app).background_size, Some(UVec2::new(w, h)));
}

#[test]
fn a_frame_larger_than_the_gpu_allows_is_a_status_and_the_app_goes_on() {
    let mut app = app(FrameSource::Pushed);
    let deadline = Instant::now() + Duration::from_secs(120);
    settle(&mut app, deadline);
    let pusher = app.world().resource::<FramePusher>().clone();
    let (w, h) = (LIMIT + 1, 2u32);
    pusher
        .push_rgb(
            w,
            h,
            w as usize * 3,
            &vec![50; (w * h * 3) as usize],
            Duration::ZERO,
        )
        .unwrap();
    for _ in 0..5 {
        app.update();
    }
    let status = app.world().resource::<MonoDepthStatus>();
    let error = status.texture_error.clone().expect("the frame was refused");
    assert!(error.contains(&LIMIT.to_string()), "{error}");
    assert_eq!(textures(&app).background_size, None);
    assert!(app.should_exit().is_none(), "the app goes on");

    // The next frame that fits is shown and clears the status.
    pusher
        .push_rgb(4, 4, 12, &[80; 48], Duration::ZERO)
        .unwrap();
    let background = textures(&app).background;
    let frames = Readbacks::watch(&mut app, background);
    frames.until(
        &mut app,
        deadline,
        "the small frame never arrived",
        |data| {
            data.len() >= common::render::readback_stride(16) * 4
                && rows(data, 16, 4)
                    .chunks_exact(4)
                    .all(|p| p == [80, 80, 80, 255])
        },
    );
    assert_eq!(
        app.world().resource::<MonoDepthStatus>().texture_error,
        None
    );
    assert!(app.should_exit().is_none());
}

#[test]
fn replayed_depth_reaches_the_depth_texture_texel_for_texel() {
    let dir = std::env::temp_dir().join(format!(
        "bevy_mono_depth_texture_depth_{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let mut recorder = Recorder::create(&dir, "texture test").unwrap();
    let (w, h) = (7u32, 5u32);
    // Millimetre values survive the recording exactly.
    let metres: Vec<f32> = (0..w * h).map(|i| 0.5 + i as f32 * 0.125).collect();
    let depth = DepthMap::from_metres(w, h, metres.clone(), (0.1, 20.0));
    let frame = CameraFrame::packed(PixelFormat::Rgb8, 14, 10, vec![90; 14 * 10 * 3]).unwrap();
    recorder.record(&frame, &depth, None).unwrap();
    drop(recorder);

    let mut app = app(FrameSource::Replay(PathBuf::from(&dir)));
    let deadline = Instant::now() + Duration::from_secs(120);
    settle(&mut app, deadline);
    let depth_texture = textures(&app).depth;
    let frames = Readbacks::watch(&mut app, depth_texture);
    // Red: metres; green: confidence (0–1).
    let texels = |data: &[u8]| -> Vec<[f32; 2]> {
        rows(data, w as usize * 8, h as usize)
            .chunks_exact(8)
            .map(|t| {
                let at = |i: usize| f32::from_le_bytes([t[i], t[i + 1], t[i + 2], t[i + 3]]);
                [at(0), at(4)]
            })
            .collect()
    };
    let data = frames.until(
        &mut app,
        deadline,
        "the depth never reached the texture",
        |data| {
            data.len() >= common::render::readback_stride(w as usize * 8) * h as usize
                && texels(data).iter().map(|t| t[0]).eq(metres.iter().copied())
        },
    );
    assert!(
        texels(&data).iter().all(|t| (0.0..=1.0).contains(&t[1])),
        "confidence outside 0–1"
    );
    assert_eq!(textures(&app).depth_size, Some(UVec2::new(w, h)));
    let _ = std::fs::remove_dir_all(&dir);
}
