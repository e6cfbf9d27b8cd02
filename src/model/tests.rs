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

/// The spec of a model with the given names and shapes, `dynamic` or not.
fn signed(
    names: (&str, &str),
    input: &[usize],
    output: &[usize],
    dynamic: bool,
    meta: &[(&str, &str)],
) -> Result<ModelSpec, ModelError> {
    let meta: HashMap<String, String> = meta
        .iter()
        .map(|(k, v)| (format!("mono_depth.{k}"), v.to_string()))
        .collect();
    let signature = Signature {
        input_name: names.0,
        input_shape: input,
        output_name: names.1,
        output_shape: output,
        dynamic,
    };
    ModelSpec::from_signature(
        Path::new("m.onnx"),
        signature,
        |k| meta.get(k).cloned(),
        &ModelOverrides::default(),
    )
}

#[test]
fn depth_anything_exports_are_recognised_by_names_and_shapes() {
    let (input, output) = (&[1, 3, 392, 518][..], &[1, 392, 518][..]);
    for names in DEPTH_ANYTHING_NAMES {
        for dynamic in [true, false] {
            let s = signed(names, input, output, dynamic, &[]).unwrap();
            assert_eq!(s.units, DepthUnits::AffineInverse, "{names:?}");
            assert_eq!(s.pixel_scale, 1.0 / 255.0);
            assert_eq!(s.mean, [0.485, 0.456, 0.406]);
            assert_eq!(s.std, [0.229, 0.224, 0.225]);
            assert_eq!(s.depth_range, (0.1, 80.0));
            assert_eq!(s.name.as_deref(), Some("depth_anything_v2"));
            assert!(!s.trained);
            assert_eq!(s.dynamic_input.is_some(), dynamic);
        }
    }
    // Not recognised: other names, a rank-4 output, sides not multiples of
    // 14 (fixed), or the crate's own metadata (which then rules).
    let fcrn_like =
        |s: ModelSpec| (s.units, s.pixel_scale, s.mean) == (DepthUnits::Metres, 1.0, [0.0; 3]);
    assert!(fcrn_like(
        signed(("x", "y"), input, output, true, &[]).unwrap()
    ));
    assert!(fcrn_like(
        signed(("image", "depth"), input, &[1, 1, 392, 518], true, &[]).unwrap()
    ));
    assert!(fcrn_like(
        signed(
            ("image", "depth"),
            &[1, 3, 228, 304],
            &[1, 228, 304],
            false,
            &[]
        )
        .unwrap()
    ));
    let own = signed(
        ("image", "depth"),
        input,
        output,
        true,
        &[("model", "mine")],
    )
    .unwrap();
    assert!(fcrn_like(own));
}

#[test]
fn a_dynamic_input_reads_its_size_rule_and_its_reference_size() {
    let names = ("image", "depth");
    let (input, output) = (&[1, 3, 392, 518][..], &[1, 392, 518][..]);
    let s = signed(names, input, output, true, &[]).unwrap();
    let d = s.dynamic_input.unwrap();
    assert_eq!(
        (d.multiple, d.long_side, d.reference_long_side),
        (14, 518, 518)
    );
    // The metadata's size need not be the size in use: it is the reference.
    let meta = [
        ("input_width", "640"),
        ("input_height", "480"),
        ("input_multiple", "16"),
        ("input_long_side", "320"),
    ];
    let d = signed(names, input, output, true, &meta)
        .unwrap()
        .dynamic_input
        .unwrap();
    assert_eq!(
        (d.multiple, d.long_side, d.reference_long_side),
        (16, 320, 640)
    );
    for bad in [
        [("input_multiple", "0")],
        [("input_multiple", "3.5")],
        [("input_long_side", "-2")],
        [("input_long_side", "9000")],
    ] {
        let err = signed(names, input, output, true, &bad).unwrap_err();
        assert!(
            matches!(err, ModelError::UnexpectedSignature { .. }),
            "{bad:?}: {err}"
        );
    }
    // A fixed input still checks the metadata's size.
    let err = signed(names, input, output, false, &[("input_width", "640")]).unwrap_err();
    assert!(err.to_string().contains("input tensor says 518"), "{err}");
}
