//! Per-frame allocations once warmed up, counted with a global allocator that
//! tallies this thread's allocations.
//!
//! Postprocessing and the crate's own preprocessing buffers allocate nothing.
//! `fast_image_resize` rebuilds its filter-coefficient tables on every call
//! (it has no way to keep them): one small allocation per destination row and
//! column, plus a few. That is the only per-frame allocation; it does not
//! grow with time, and it is bounded in bytes far below the frame or the
//! model input, so reallocating any real buffer per frame would fail here.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;

use bevy_mono_depth::camera::ResizeMode;
use bevy_mono_depth::depth::DepthMap;
use bevy_mono_depth::engine::postprocess::postprocess;
use bevy_mono_depth::engine::preprocess::Preprocessor;
use bevy_mono_depth::frame::{CameraFrame, PixelFormat};
use bevy_mono_depth::model::{DepthUnits, ModelOverrides, ModelSpec};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    static BYTES: Cell<usize> = const { Cell::new(0) };
}

fn note(bytes: usize) {
    // `try_with`: during thread teardown the slots may be gone.
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        let _ = BYTES.try_with(|n| n.set(n.get() + bytes));
    }
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations made by `f` on this thread: how many, and how many bytes.
fn allocations(f: impl FnOnce()) -> (usize, usize) {
    ALLOCATIONS.with(|n| n.set(0));
    BYTES.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    (ALLOCATIONS.with(Cell::get), BYTES.with(Cell::get))
}

fn fcrn_spec(layout_nhwc: bool) -> ModelSpec {
    let input: &[usize] = if layout_nhwc {
        &[1, 228, 304, 3]
    } else {
        &[1, 3, 228, 304]
    };
    ModelSpec::from_parts(
        Path::new("fcrn.onnx"),
        input,
        &[1, 1, 128, 160],
        |_| None,
        &ModelOverrides::default(),
    )
    .expect("spec")
}

#[test]
fn preprocessing_allocates_only_the_resizer_tables_after_the_first_frame() {
    for nhwc in [false, true] {
        for mode in [ResizeMode::Fill, ResizeMode::Fit, ResizeMode::Stretch] {
            for (format, padding) in [
                (PixelFormat::Rgb8, 0),
                (PixelFormat::Rgba8, 0),
                (PixelFormat::Bgra8, 32),
            ] {
                let stride = 640 * format.bytes_per_pixel() + padding;
                let frame =
                    CameraFrame::new(format, 640, 480, stride, vec![90u8; stride * 480]).unwrap();
                let mut pre = Preprocessor::new(&fcrn_spec(nhwc), mode);
                pre.process(&frame).unwrap();
                let per_frame: Vec<(usize, usize)> = (0..5)
                    .map(|_| {
                        allocations(|| {
                            pre.process(&frame).unwrap();
                        })
                    })
                    .collect();
                // The resizer's tables: one per destination column and row
                // (at most the model input's 304 + 228), plus a handful,
                // together far smaller than the 830 KB input tensor or one
                // row of the frame per destination row.
                let (count_bound, byte_bound) = (304 + 228 + 16, 64 << 10);
                assert!(
                    per_frame
                        .iter()
                        .all(|&n| n == per_frame[0] && n.0 <= count_bound && n.1 <= byte_bound),
                    "{format:?} {mode:?} nhwc={nhwc}: (allocations, bytes) {per_frame:?}"
                );
            }
        }
    }
}

#[test]
fn postprocessing_allocates_nothing_after_the_first_map() {
    let raw: Vec<f32> = (0..160 * 128).map(|i| (i % 300) as f32 * 0.05).collect();
    let mut map = DepthMap::empty();
    postprocess(&raw, 160, 128, DepthUnits::Metres, (0.5, 10.0), &mut map);
    let n = allocations(|| {
        for _ in 0..5 {
            postprocess(&raw, 160, 128, DepthUnits::Metres, (0.5, 10.0), &mut map);
        }
    });
    assert_eq!(n, (0, 0));
    assert!(map.stats().valid > 0);
}
