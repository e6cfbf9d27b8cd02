//! Odd frames: tiny, huge, padded, truncated. Each gives an error or a
//! correct result, never a panic.

mod common;

use std::sync::{Mutex, OnceLock};

use bevy_mono_depth::camera::ResizeMode;
use bevy_mono_depth::engine::DepthEngine;
use bevy_mono_depth::frame::{CameraFrame, FrameError, FrameRotation, PixelFormat};
use proptest::prelude::*;

fn engine() -> &'static Mutex<DepthEngine> {
    static ENGINE: OnceLock<Mutex<DepthEngine>> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let config = common::engine_config(common::model("closed_form.onnx"));
        Mutex::new(DepthEngine::load(&config).unwrap_or_else(|e| panic!("{e}")))
    })
}

/// A uniform frame of one colour comes out as the closed form of that colour
/// wherever the model saw the frame (and 0.5, black, in letterbox bars).
fn check_uniform(format: PixelFormat, width: u32, height: u32, stride: usize, mode: ResizeMode) {
    check_turned(format, width, height, stride, mode, FrameRotation::None);
}

/// [`check_uniform`] for a buffer turned by `rotation` on screen.
fn check_turned(
    format: PixelFormat,
    width: u32,
    height: u32,
    stride: usize,
    mode: ResizeMode,
    rotation: FrameRotation,
) {
    let colour = [90u8, 160, 30];
    let data = common::frame_bytes(format, width, height, stride, |_, _| colour);
    let frame = CameraFrame::new(format, width, height, stride, data)
        .expect("valid frame")
        .with_rotation(rotation);
    let mut engine = engine().lock().unwrap_or_else(|e| e.into_inner());
    engine.set_resize_mode(mode);
    let (depth, _) = engine
        .estimate(&frame)
        .unwrap_or_else(|e| panic!("{width}×{height}: {e}"));
    let inside = common::closed_form_depth(colour);
    assert_eq!((depth.width(), depth.height()), (160, 128));
    for (i, d) in depth.metres().iter().enumerate() {
        let (u, v) = (
            ((i % 160) as f32 + 0.5) / 160.0,
            ((i / 160) as f32 + 0.5) / 128.0,
        );
        let [fu, fv] = depth.mapping().depth_to_frame([u, v]);
        // Depth pixels whose 2×2 block straddles a letterbox edge mix both.
        let margin = 1.5 / 128.0 * depth.mapping().scale[1].max(depth.mapping().scale[0]);
        let seen = (margin..1.0 - margin).contains(&fu) && (margin..1.0 - margin).contains(&fv);
        let unseen =
            !(-margin..1.0 + margin).contains(&fu) || !(-margin..1.0 + margin).contains(&fv);
        if seen {
            assert!(
                (d - inside).abs() < 1e-3,
                "{width}×{height} {mode:?} {rotation:?}: {d} at {i}"
            );
        } else if unseen {
            // The letterbox bars, where the model saw black, are no depth.
            assert!(
                !depth.valid()[i],
                "{width}×{height} {mode:?} {rotation:?}: bar {d} at {i} counted as depth"
            );
        }
    }
}

#[test]
fn tiny_and_huge_frames() {
    for mode in [ResizeMode::Fill, ResizeMode::Fit, ResizeMode::Stretch] {
        check_uniform(PixelFormat::Rgb8, 1, 1, 3, mode);
        check_uniform(PixelFormat::Bgra8, 7, 3, 7 * 4 + 5, mode);
        check_uniform(PixelFormat::Rgba8, 3, 7, 12, mode);
        for degrees in [90, 180, 270] {
            let rotation = FrameRotation::from_degrees(degrees).unwrap();
            check_turned(PixelFormat::Rgb8, 1, 1, 3, mode, rotation);
            check_turned(PixelFormat::Bgra8, 7, 3, 7 * 4 + 5, mode, rotation);
            check_turned(PixelFormat::Rgba8, 1, 300, 4, mode, rotation);
        }
    }
    check_uniform(
        PixelFormat::Bgra8,
        4000,
        3000,
        4000 * 4 + 64,
        ResizeMode::Fill,
    );
}

#[test]
fn truncated_or_malformed_buffers_are_errors() {
    assert!(matches!(
        CameraFrame::new(
            PixelFormat::Rgba8,
            640,
            480,
            640 * 4,
            vec![0u8; 640 * 4 * 479]
        ),
        Err(FrameError::BufferTooShort { .. })
    ));
    assert!(matches!(
        CameraFrame::new(PixelFormat::Rgb8, 0, 480, 0, Vec::new()),
        Err(FrameError::ZeroSize { .. })
    ));
    assert!(matches!(
        CameraFrame::new(PixelFormat::Rgb8, 10, 10, 29, vec![0u8; 300]),
        Err(FrameError::StrideTooShort { .. })
    ));
    assert!(matches!(
        CameraFrame::new(PixelFormat::Rgb8, 100_000, 1, 300_000, vec![0u8; 300_000]),
        Err(FrameError::TooLarge { .. })
    ));
}

fn format() -> impl Strategy<Value = PixelFormat> {
    prop_oneof![
        Just(PixelFormat::Rgb8),
        Just(PixelFormat::Rgba8),
        Just(PixelFormat::Bgra8)
    ]
}

fn mode() -> impl Strategy<Value = ResizeMode> {
    prop_oneof![
        Just(ResizeMode::Fill),
        Just(ResizeMode::Fit),
        Just(ResizeMode::Stretch)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any geometry either is refused by `CameraFrame::new` or runs through
    /// the engine to a correct depth map.
    #[test]
    fn any_geometry_is_an_error_or_a_correct_result(
        format in format(),
        mode in mode(),
        width in 0u32..200,
        height in 0u32..200,
        extra_stride in 0usize..40,
        short_stride in any::<bool>(),
        missing_bytes in prop_oneof![Just(0usize), 1usize..64],
        quarter_turns in 0i32..4,
    ) {
        let row = width as usize * format.bytes_per_pixel();
        let stride = if short_stride && row > 0 { row - 1 } else { row + extra_stride };
        let len = (stride * height as usize).saturating_sub(missing_bytes);
        match CameraFrame::new(format, width, height, stride, vec![0u8; len]) {
            Err(_) => prop_assert!(width == 0 || height == 0 || (short_stride && row > 0) || missing_bytes > 0),
            Ok(_) => {
                prop_assert!(!(short_stride && row > 0) && missing_bytes == 0);
                let rotation = FrameRotation::from_degrees(90 * quarter_turns).unwrap();
                check_turned(format, width, height, stride, mode, rotation);
            }
        }
    }
}
