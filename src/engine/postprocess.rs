//! From the model's raw output to a depth map: units, validity and the
//! focal-length correction.

use crate::align::{AlignReport, Aligner, Sample, check_anchors};
use crate::camera::{FocalCorrection, ImageMapping};
use crate::depth::DepthMap;
use crate::frame::CameraFrame;
use crate::model::{DepthUnits, ModelSpec};

/// Writes a model's raw output into `map` as metres (converting inverse
/// relative depth) and validates it against `range`. Reuses `map`'s buffers.
/// The whole map is taken to show the camera image; see
/// [`postprocess_mapped`] for a letterboxed input.
pub fn postprocess(
    raw: &[f32],
    width: u32,
    height: u32,
    units: DepthUnits,
    range: (f32, f32),
    map: &mut DepthMap,
) {
    postprocess_mapped(
        raw,
        width,
        height,
        units,
        range,
        ImageMapping::IDENTITY,
        map,
    );
}

/// [`postprocess`] for an output whose texels map to the camera image by
/// `mapping` (which the map keeps): texels outside the image (the bars of
/// [`ResizeMode::Fit`](crate::camera::ResizeMode::Fit)) are invalid, so
/// they stay out of the statistics, the stabiliser, the reprojection and
/// occlusion.
pub fn postprocess_mapped(
    raw: &[f32],
    width: u32,
    height: u32,
    units: DepthUnits,
    range: (f32, f32),
    mapping: ImageMapping,
    map: &mut DepthMap,
) {
    map.set_mapping_or_identity(mapping);
    match units {
        DepthUnits::Metres => map.set_metres(width, height, raw.iter().copied(), range),
        DepthUnits::InverseRelative { scale, shift } => {
            let metres = raw.iter().map(|&v| {
                let inverse = scale * v + shift;
                // ≤ 0 inverse depth has no metric meaning: NaN makes it invalid.
                if inverse > 0.0 {
                    1.0 / inverse
                } else {
                    f32::NAN
                }
            });
            map.set_metres(width, height, metres, range);
        }
        // Relative depth with no fit has no metres: every texel invalid.
        DepthUnits::AffineInverse => {
            map.set_metres(width, height, std::iter::empty(), range);
        }
    }
}

/// The model's values at `frame`'s anchors, for a `width`×`height` output
/// fitted to the frame by `mapping`, and how many anchors were dropped
/// (unusable, or outside what the model saw).
pub fn anchor_samples(
    raw: &[f32],
    width: u32,
    height: u32,
    mapping: ImageMapping,
    frame: &CameraFrame,
) -> (Vec<Sample>, usize) {
    let checked = check_anchors(frame.anchors(), frame.width(), frame.height());
    let mut dropped = checked.dropped;
    let (bw, bh) = (frame.width() as f32, frame.height() as f32);
    let mut samples = Vec::with_capacity(checked.valid.len());
    for anchor in checked.valid {
        let shown = frame
            .rotation
            .buffer_to_display([anchor.x / bw, anchor.y / bh]);
        let [u, v] = mapping.frame_to_depth(shown);
        let inside = (0.0..1.0).contains(&u) && (0.0..1.0).contains(&v);
        let texel = inside.then(|| {
            let x = ((u * width as f32) as usize).min(width as usize - 1);
            let y = ((v * height as f32) as usize).min(height as usize - 1);
            y * width as usize + x
        });
        match texel.and_then(|i| raw.get(i)) {
            Some(&value) => samples.push(Sample {
                value,
                depth: anchor.depth,
            }),
            None => dropped += 1,
        }
    }
    (samples, dropped)
}

/// Fits relative depth to `frame`'s anchors with `aligner`: the units to
/// write the map in (a fit's scale and shift, or
/// [`DepthUnits::AffineInverse`] for none) and the report for the map.
pub fn align_to_anchors(
    raw: &[f32],
    width: u32,
    height: u32,
    mapping: ImageMapping,
    frame: &CameraFrame,
    aligner: &mut Aligner,
) -> (DepthUnits, AlignReport) {
    let (samples, dropped) = anchor_samples(raw, width, height, mapping, frame);
    let alignment = aligner.update(&samples);
    let units = alignment.fit().map_or(DepthUnits::AffineInverse, |fit| {
        DepthUnits::InverseRelative {
            scale: fit.scale,
            shift: fit.shift,
        }
    });
    let report = AlignReport {
        alignment,
        anchors: frame.anchors().len(),
        dropped,
    };
    (units, report)
}

/// How depth from a model described by `spec`, for `frame` fitted to the
/// input by `mapping`, is corrected for the camera's focal length: the
/// frame's intrinsics carried to the model input, over the training focal
/// length.
pub(crate) fn focal_correction(
    spec: &ModelSpec,
    frame: &CameraFrame,
    mapping: &ImageMapping,
) -> FocalCorrection {
    if !matches!(spec.units, DepthUnits::Metres) {
        return FocalCorrection::NotMetric;
    }
    let Some(mut train) = spec.focal_px else {
        return FocalCorrection::NoModelFocal;
    };
    // A dynamic model's training focal length is given at its reference
    // size; at another input size it scales with the input.
    if let Some(dynamic) = spec.dynamic_input {
        let long = spec.input_width.max(spec.input_height) as f32;
        train *= long / dynamic.reference_long_side.max(1) as f32;
    }
    let Some(k) = frame.display_intrinsics() else {
        return FocalCorrection::NoIntrinsics;
    };
    let input = k.in_region(
        mapping,
        frame.display_size(),
        (spec.input_width, spec.input_height),
    );
    let factor = input.focal() / train;
    if factor.is_finite() && factor > 0.0 {
        FocalCorrection::Applied {
            factor,
            assumed: k.assumed,
        }
    } else {
        FocalCorrection::NoIntrinsics
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::depth::DepthStats;

    #[test]
    fn invalid_values_never_pass_as_numbers() {
        let raw = [1.0, f32::NAN, f32::INFINITY, -2.0, 0.0, 0.2, 12.0, 3.0];
        let mut map = DepthMap::empty();
        postprocess(&raw, 4, 2, DepthUnits::Metres, (0.5, 10.0), &mut map);
        assert_eq!(
            map.valid(),
            [true, false, false, false, false, false, false, true]
        );
        assert_eq!(map.metres(), [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0]);
        assert_eq!(
            map.stats(),
            DepthStats {
                min: 1.0,
                max: 3.0,
                mean: 2.0,
                valid: 2
            }
        );
    }

    #[test]
    fn letterbox_bars_are_not_depth() {
        // A frame half as tall as the input, fitted: the image covers depth
        // rows 1..3 of 4 (frame v = 2·depth v − 0.5).
        let fit = ImageMapping {
            scale: [1.0, 2.0],
            offset: [0.0, -0.5],
        };
        let raw = [0.5, 0.5, 2.0, 3.0, 4.0, 5.0, 0.5, 0.5];
        let mut map = DepthMap::empty();
        postprocess_mapped(&raw, 2, 4, DepthUnits::Metres, (0.1, 10.0), fit, &mut map);
        assert_eq!(map.mapping(), fit, "the map keeps its mapping");
        assert_eq!(
            map.valid(),
            [false, false, true, true, true, true, false, false]
        );
        assert_eq!(
            map.stats(),
            DepthStats {
                min: 2.0,
                max: 5.0,
                mean: 3.5,
                valid: 4
            }
        );
        // Pillar bars: columns outside the image, the whole height valid.
        let pillars = ImageMapping {
            scale: [2.0, 1.0],
            offset: [-0.5, 0.0],
        };
        postprocess_mapped(
            &[1.0; 8],
            4,
            2,
            DepthUnits::Metres,
            (0.1, 10.0),
            pillars,
            &mut map,
        );
        assert_eq!(
            map.valid(),
            [false, true, true, false, false, true, true, false]
        );
        // A crop (Fill) keeps every texel.
        let crop = ImageMapping {
            scale: [0.5, 1.0],
            offset: [0.25, 0.0],
        };
        postprocess_mapped(
            &[1.0; 8],
            4,
            2,
            DepthUnits::Metres,
            (0.1, 10.0),
            crop,
            &mut map,
        );
        assert!(map.valid().iter().all(|&v| v));
    }

    #[test]
    fn inverse_relative_is_converted_with_scale_and_shift() {
        let mut map = DepthMap::empty();
        let units = DepthUnits::InverseRelative {
            scale: 2.0,
            shift: 0.1,
        };
        postprocess(&[0.2, 0.0, -1.0], 3, 1, units, (0.1, 100.0), &mut map);
        assert!((map.metres()[0] - 1.0 / 0.5).abs() < 1e-6);
        assert_eq!(map.metres().len(), 3);
        assert!((map.metres()[1] - 10.0).abs() < 1e-5);
        assert!(!map.valid()[2]);
    }

    #[test]
    fn anchors_are_read_where_the_model_saw_them_through_rotation_and_mapping() {
        use crate::align::MetricAnchor;
        use crate::camera::FrameRotation;
        use crate::frame::PixelFormat;
        let anchor = |x, y, depth| MetricAnchor { x, y, depth };
        // A 4×2 buffer shown turned a quarter clockwise: 2 wide, 4 tall.
        let frame = CameraFrame::packed(PixelFormat::Rgb8, 4, 2, vec![0; 24])
            .unwrap()
            .with_rotation(FrameRotation::Clockwise90)
            .with_anchors(vec![
                // The buffer's top-left pixel is the top-right one on screen,
                anchor(0.5, 0.5, 1.0),
                // its bottom-right pixel the bottom-left one.
                anchor(3.5, 1.5, 2.0),
                // Outside the buffer.
                anchor(9.0, 0.5, 1.0),
            ]);
        // A 2×4 output, row-major: texel (x, y) holds 2y + x.
        let raw: Vec<f32> = (0..8).map(|v| v as f32).collect();
        let (samples, dropped) = anchor_samples(&raw, 2, 4, ImageMapping::IDENTITY, &frame);
        let sample = |value, depth| Sample { value, depth };
        assert_eq!(samples, [sample(1.0, 1.0), sample(6.0, 2.0)]);
        assert_eq!(dropped, 1);
        // The model saw only the upper half of the image: the lower anchor
        // is outside it, the upper one lands on the output's second row.
        let top = ImageMapping {
            scale: [1.0, 0.5],
            offset: [0.0, 0.0],
        };
        let (samples, dropped) = anchor_samples(&raw, 2, 4, top, &frame);
        assert_eq!(samples, [sample(3.0, 1.0)]);
        assert_eq!(dropped, 2);
    }

    #[test]
    fn relative_depth_without_a_fit_has_no_valid_texel() {
        let mut map = DepthMap::empty();
        postprocess(
            &[0.2, 0.5, 0.9],
            3,
            1,
            DepthUnits::AffineInverse,
            (0.1, 100.0),
            &mut map,
        );
        assert_eq!(map.valid(), [false; 3]);
        assert_eq!(map.stats().valid, 0);
    }
}
