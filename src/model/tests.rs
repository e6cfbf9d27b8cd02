//! Unit tests of model specs.

use std::collections::HashMap;

use super::*;

fn spec(
    input: &[usize],
    meta: &[(&str, &str)],
    overrides: &ModelOverrides,
) -> Result<ModelSpec, ModelError> {
    let meta: HashMap<String, String> = meta
        .iter()
        .map(|(k, v)| (format!("mono_depth.{k}"), v.to_string()))
        .collect();
    ModelSpec::from_parts(
        Path::new("m.onnx"),
        input,
        &[1, 1, 128, 160],
        |k| meta.get(k).cloned(),
        overrides,
    )
}

#[test]
fn fcrn_defaults_without_metadata() {
    let s = spec(&[1, 3, 228, 304], &[], &ModelOverrides::default()).unwrap();
    assert_eq!(
        (s.layout, s.input_width, s.input_height),
        (TensorLayout::Nchw, 304, 228)
    );
    assert_eq!((s.output_width, s.output_height), (160, 128));
    assert_eq!((s.pixel_scale, s.mean, s.std), (1.0, [0.0; 3], [1.0; 3]));
    assert_eq!(
        (s.units, s.depth_range, s.trained),
        (DepthUnits::Metres, (0.5, 10.0), false)
    );
    let s = spec(&[1, 228, 304, 3], &[], &ModelOverrides::default()).unwrap();
    assert_eq!(s.layout, TensorLayout::Nhwc);
}

#[test]
fn metadata_is_read_and_overrides_win() {
    let meta = [
        ("pixel_mean", "1,2,3"),
        ("pixel_std", "2, 2, 2"),
        ("color_order", "BGR"),
        ("output_units", "inverse_relative"),
        ("trained", "true"),
    ];
    let s = spec(&[1, 3, 228, 304], &meta, &ModelOverrides::default()).unwrap();
    assert_eq!(
        (s.mean, s.std, s.color_order, s.trained),
        ([1.0, 2.0, 3.0], [2.0; 3], ColorOrder::Bgr, true)
    );
    assert_eq!(
        s.units,
        DepthUnits::InverseRelative {
            scale: 1.0,
            shift: 0.0
        }
    );
    let o = ModelOverrides {
        color_order: Some(ColorOrder::Rgb),
        units: Some(DepthUnits::InverseRelative {
            scale: 2.0,
            shift: 0.5,
        }),
        ..Default::default()
    };
    let s = spec(&[1, 3, 228, 304], &meta, &o).unwrap();
    assert_eq!(
        (s.color_order, s.units),
        (
            ColorOrder::Rgb,
            DepthUnits::InverseRelative {
                scale: 2.0,
                shift: 0.5
            }
        )
    );
}

#[test]
fn inconsistent_metadata_is_an_error() {
    for meta in [
        &[("input_width", "300")][..],
        &[("pixel_std", "1,0,1")],
        &[("pixel_mean", "1,2")],
        &[("input_layout", "NHWC")],
        &[("depth_min", "5"), ("depth_max", "1")],
        &[("output_units", "furlongs")],
    ] {
        let err = spec(&[1, 3, 228, 304], meta, &ModelOverrides::default()).unwrap_err();
        assert!(
            matches!(err, ModelError::UnexpectedSignature { .. }),
            "{meta:?}: {err}"
        );
    }
}

#[test]
fn zero_sized_tensors_are_refused() {
    for input in [[1, 3, 0, 304], [1, 3, 228, 0]] {
        let err = spec(&input, &[], &ModelOverrides::default()).unwrap_err();
        assert!(err.to_string().contains("size 0"), "{err}");
    }
    let err = ModelSpec::from_parts(
        Path::new("m.onnx"),
        &[1, 3, 228, 304],
        &[1, 0, 160],
        |_| None,
        &ModelOverrides::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("size 0"), "{err}");
}
