//! Turning a camera frame into the model's input tensor.
//!
//! The frame is cropped or letterboxed to the model's aspect ([`ResizeMode`]),
//! resized with `fast_image_resize` (SIMD), put in the model's channel order
//! and layout, and normalised as `(value · scale − mean) / std`. Buffers are
//! kept between frames: after the first frame of a given size, the only
//! per-frame allocations are `fast_image_resize`'s filter-coefficient tables
//! (one small table per destination row and column), which it rebuilds on
//! every call.
//!
//! The [`ImageMapping`] it returns says where the model's view lies in the
//! frame, so depth can be laid back onto the image.

use fast_image_resize as fir;

use crate::camera::{FrameRotation, Geometry, buffer_rect, geometry};
pub use crate::camera::{ImageMapping, ResizeMode};
use crate::frame::{CameraFrame, PixelFormat};
use crate::model::{ColorOrder, ModelSpec, TensorLayout};

/// Errors from preprocessing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PreprocessError {
    /// The resizer refused the images (should not happen for validated frames).
    #[error("resizing the frame failed: {0}")]
    Resize(String),
}

/// Reusable frame → tensor converter for one model.
pub struct Preprocessor {
    layout: TensorLayout,
    input: (u32, u32),
    scale: f32,
    mean: [f32; 3],
    std: [f32; 3],
    order: ColorOrder,
    mode: ResizeMode,
    resizer: fir::Resizer,
    packed: Vec<u8>,
    resized: Vec<u8>,
    tensor: Vec<f32>,
    cached: Option<((u32, u32), FrameRotation, Geometry)>,
}

impl std::fmt::Debug for Preprocessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Preprocessor")
            .field("input", &self.input)
            .field("layout", &self.layout)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl Preprocessor {
    /// A preprocessor for `spec`'s input.
    pub fn new(spec: &ModelSpec, mode: ResizeMode) -> Self {
        let (w, h) = (spec.input_width, spec.input_height);
        Self {
            layout: spec.layout,
            input: (w, h),
            scale: spec.pixel_scale,
            mean: spec.mean,
            std: spec.std,
            order: spec.color_order,
            mode,
            resizer: fir::Resizer::new(),
            packed: Vec::new(),
            resized: Vec::new(),
            tensor: vec![0.0; 3 * w as usize * h as usize],
            cached: None,
        }
    }

    /// The resize mode in use.
    pub fn mode(&self) -> ResizeMode {
        self.mode
    }

    /// Changes the resize mode.
    pub fn set_mode(&mut self, mode: ResizeMode) {
        if mode != self.mode {
            self.mode = mode;
            self.cached = None;
        }
    }

    /// The tensor written by the last [`Self::process`].
    pub fn tensor(&self) -> &[f32] {
        &self.tensor
    }

    /// Where the model's view lies in an upright image of `size` (without
    /// processing one).
    pub fn mapping_for(&self, size: (u32, u32)) -> ImageMapping {
        geometry(self.mode, size, self.input).mapping
    }

    /// Fills the input tensor from `frame`, turned upright by its rotation;
    /// returns where the model's view lies in the upright image.
    pub fn process(&mut self, frame: &CameraFrame) -> Result<ImageMapping, PreprocessError> {
        let size = frame.display_size();
        let rotation = frame.rotation;
        let geometry = match self.cached {
            Some((cached_size, cached_rotation, g))
                if cached_size == size && cached_rotation == rotation =>
            {
                g
            }
            _ => {
                let g = geometry(self.mode, size, self.input);
                self.cached = Some((size, rotation, g));
                g
            }
        };
        let format = frame.format();
        let bpp = format.bytes_per_pixel();
        let pixel_type = if bpp == 3 {
            fir::PixelType::U8x3
        } else {
            fir::PixelType::U8x4
        };

        // fast_image_resize wants packed rows: copy padded ones once.
        let source: &[u8] = if frame.is_packed() {
            &frame.data()[..frame.width() as usize * frame.height() as usize * bpp]
        } else {
            self.packed.clear();
            for y in 0..frame.height() {
                // Rows of a validated frame always exist.
                if let Some(row) = frame.row(y) {
                    self.packed.extend_from_slice(row);
                }
            }
            &self.packed
        };
        // The crop and the resized image in the buffer's own orientation;
        // `write_tensor` turns the pixels upright.
        let [_, _, w, h] = geometry.inner;
        let (rw, rh) = rotation.display_size((w, h));
        self.resized.resize(rw as usize * rh as usize * bpp, 0);
        let err = |e: &dyn std::fmt::Display| PreprocessError::Resize(e.to_string());
        let src = fir::images::ImageRef::new(frame.width(), frame.height(), source, pixel_type)
            .map_err(|e| err(&e))?;
        let mut dst = fir::images::Image::from_slice_u8(rw, rh, &mut self.resized, pixel_type)
            .map_err(|e| err(&e))?;
        let [left, top, cw, ch] = buffer_rect(
            rotation,
            geometry.crop,
            size,
            (frame.width(), frame.height()),
        );
        let options = fir::ResizeOptions::new()
            .resize_alg(fir::ResizeAlg::Convolution(fir::FilterType::Bilinear))
            .use_alpha(false)
            .crop(left, top, cw, ch);
        self.resizer
            .resize(&src, &mut dst, &options)
            .map_err(|e| err(&e))?;
        self.write_tensor(format, geometry.inner, rotation);
        Ok(geometry.mapping)
    }

    fn write_tensor(&mut self, format: PixelFormat, inner: [u32; 4], rotation: FrameRotation) {
        let (iw, ih) = (self.input.0 as usize, self.input.1 as usize);
        let plane = iw * ih;
        let bpp = format.bytes_per_pixel();
        let rgb = format.rgb_offsets();
        // Model channel c reads frame byte `src[c]` of each pixel.
        let src = match self.order {
            ColorOrder::Rgb => rgb,
            ColorOrder::Bgr => [rgb[2], rgb[1], rgb[0]],
        };
        let mul: [f32; 3] = std::array::from_fn(|c| self.scale / self.std[c]);
        let add: [f32; 3] = std::array::from_fn(|c| -self.mean[c] / self.std[c]);
        let [x0, y0, w, h] = inner.map(|v| v as usize);
        if w != iw || h != ih {
            // Letterbox bars: black pixels, normalised.
            for (c, &pad) in add.iter().enumerate() {
                match self.layout {
                    TensorLayout::Nchw => self.tensor[c * plane..(c + 1) * plane].fill(pad),
                    TensorLayout::Nhwc => self.tensor[c..]
                        .iter_mut()
                        .step_by(3)
                        .for_each(|v| *v = pad),
                }
            }
        }
        if rotation != FrameRotation::None {
            // Upright pixel (x, y) of the w×h destination is pixel (u, v) of
            // the resized buffer-oriented image (rw × rh).
            let (rw, rh) = if rotation.swaps_axes() {
                (h, w)
            } else {
                (w, h)
            };
            for y in 0..h {
                for x in 0..w {
                    let (u, v) = match rotation {
                        FrameRotation::Clockwise90 => (y, rh - 1 - x),
                        FrameRotation::Clockwise180 => (rw - 1 - x, rh - 1 - y),
                        _ => (rw - 1 - y, x),
                    };
                    let at = (v * rw + u) * bpp;
                    let px = &self.resized[at..at + bpp];
                    let i = (y0 + y) * iw + x0 + x;
                    for c in 0..3 {
                        let value = f32::from(px[src[c]]) * mul[c] + add[c];
                        match self.layout {
                            TensorLayout::Nchw => self.tensor[c * plane + i] = value,
                            TensorLayout::Nhwc => self.tensor[3 * i + c] = value,
                        }
                    }
                }
            }
            return;
        }
        for y in 0..h {
            let row = &self.resized[y * w * bpp..(y + 1) * w * bpp];
            let base = (y0 + y) * iw + x0;
            match self.layout {
                TensorLayout::Nchw => {
                    for c in 0..3 {
                        let out = &mut self.tensor[c * plane + base..c * plane + base + w];
                        for (v, px) in out.iter_mut().zip(row.chunks_exact(bpp)) {
                            *v = f32::from(px[src[c]]) * mul[c] + add[c];
                        }
                    }
                }
                TensorLayout::Nhwc => {
                    let out = &mut self.tensor[3 * base..3 * (base + w)];
                    for (v, px) in out.chunks_exact_mut(3).zip(row.chunks_exact(bpp)) {
                        for c in 0..3 {
                            v[c] = f32::from(px[src[c]]) * mul[c] + add[c];
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: [f32; 2], b: [f32; 2]) -> bool {
        (a[0] - b[0]).abs() < 1e-6 && (a[1] - b[1]).abs() < 1e-6
    }

    #[test]
    fn fill_crops_the_wider_frame_centrally() {
        // 640×240 frame into a 320×240 input: the middle half of the width.
        let g = geometry(ResizeMode::Fill, (640, 240), (320, 240));
        assert_eq!(g.crop, [160.0, 0.0, 320.0, 240.0]);
        assert!(close(g.mapping.depth_to_frame([0.0, 0.0]), [0.25, 0.0]));
        assert!(close(g.mapping.depth_to_frame([1.0, 1.0]), [0.75, 1.0]));
    }

    #[test]
    fn fit_letterboxes_and_maps_back() {
        // 640×240 into 320×240: 320×120 band in the middle rows.
        let g = geometry(ResizeMode::Fit, (640, 240), (320, 240));
        assert_eq!(g.inner, [0, 60, 320, 120]);
        assert!(close(g.mapping.depth_to_frame([0.5, 0.25]), [0.5, 0.0]));
        assert!(close(g.mapping.depth_to_frame([0.5, 0.75]), [0.5, 1.0]));
        let back = g
            .mapping
            .frame_to_depth(g.mapping.depth_to_frame([0.3, 0.6]));
        assert!(close(back, [0.3, 0.6]));
    }

    /// The buffer that `rotation` turns into `upright` (RGB, `w`×`h`).
    fn turned_buffer(upright: &[u8], w: u32, h: u32, rotation: FrameRotation) -> CameraFrame {
        let (bw, bh) = rotation.display_size((w, h));
        let mut buffer = vec![0u8; (bw * bh * 3) as usize];
        for v in 0..bh {
            for u in 0..bw {
                // Pixel centres through the rotation, back to pixel indices.
                let centre = [(u as f32 + 0.5) / bw as f32, (v as f32 + 0.5) / bh as f32];
                let [x, y] = rotation.buffer_to_display(centre);
                let (x, y) = ((x * w as f32) as u32, (y * h as f32) as u32);
                let from = ((y * w + x) * 3) as usize;
                let to = ((v * bw + u) * 3) as usize;
                buffer[to..to + 3].copy_from_slice(&upright[from..from + 3]);
            }
        }
        CameraFrame::packed(PixelFormat::Rgb8, bw, bh, buffer)
            .unwrap()
            .with_rotation(rotation)
    }

    #[test]
    fn a_turned_buffer_gives_the_upright_frames_tensor_and_mapping() {
        use crate::model::{ModelOverrides, ModelSpec};
        let spec = |nhwc: bool| {
            let input: &[usize] = if nhwc { &[1, 6, 8, 3] } else { &[1, 3, 6, 8] };
            ModelSpec::from_parts(
                std::path::Path::new("m.onnx"),
                input,
                &[1, 1, 6, 8],
                |_| None,
                &ModelOverrides::default(),
            )
            .unwrap()
        };
        // Upright images: exactly the input size, and a wider one that each
        // mode fits differently. Every pixel distinct in some channel.
        for (w, h) in [(8u32, 6u32), (20, 12)] {
            let upright: Vec<u8> = (0..w * h)
                .flat_map(|i| [(i * 7 % 256) as u8, (i / w * 40) as u8, (i % w * 12) as u8])
                .collect();
            let frame = CameraFrame::packed(PixelFormat::Rgb8, w, h, upright.clone()).unwrap();
            for nhwc in [false, true] {
                for mode in [ResizeMode::Fill, ResizeMode::Fit, ResizeMode::Stretch] {
                    let mut pre = Preprocessor::new(&spec(nhwc), mode);
                    let want_mapping = pre.process(&frame).unwrap();
                    let want = pre.tensor().to_vec();
                    for rotation in [
                        FrameRotation::Clockwise90,
                        FrameRotation::Clockwise180,
                        FrameRotation::Clockwise270,
                    ] {
                        let turned = turned_buffer(&upright, w, h, rotation);
                        assert_eq!(turned.display_size(), (w, h));
                        let mapping = pre.process(&turned).unwrap();
                        assert_eq!(mapping, want_mapping, "{rotation:?} {mode:?}");
                        // One grey level of rounding where the resizer
                        // filters the flipped rows; none at the input size.
                        let level = pre.scale / pre.std.iter().cloned().fold(f32::MAX, f32::min);
                        let tolerance = if (w, h) == (8, 6) { 1e-6 } else { 1.01 * level };
                        for (i, (a, b)) in pre.tensor().iter().zip(&want).enumerate() {
                            assert!(
                                (a - b).abs() <= tolerance,
                                "{rotation:?} {mode:?} nhwc={nhwc} {w}×{h}: value {i}: {a} vs {b}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn stretch_is_identity() {
        let g = geometry(ResizeMode::Stretch, (7, 3), (304, 228));
        assert_eq!(g.mapping, ImageMapping::IDENTITY);
        assert_eq!(g.inner, [0, 0, 304, 228]);
    }
}
