//! Unit tests of depth maps.

use super::*;

#[test]
fn pixels_mask_and_size_always_agree() {
    let short = DepthMap::from_metres(3, 2, vec![1.0, 2.0], (0.5, 10.0));
    assert_eq!((short.metres().len(), short.valid().len()), (6, 6));
    assert_eq!(short.stats().valid, 2);
    assert_eq!(short.get(2, 1), None);
    let mut map = DepthMap::from_metres(1, 1, vec![1.0; 9], (0.5, 10.0));
    assert_eq!(map.metres(), [1.0]);
    map.sequence = 7;
    map.set_metres(2, 2, [3.0, f32::NAN, 4.0, 5.0, 6.0], (0.5, 10.0));
    assert_eq!(map.metres(), [3.0, 0.0, 4.0, 5.0]);
    assert_eq!(map.valid(), [true, false, true, true]);
    assert_eq!(map.confidence(), [1.0, 0.0, 1.0, 1.0]);
    map.set_confidence([0.5, 0.9, 2.0, f32::NAN, 7.0]);
    assert_eq!(map.confidence(), [0.5, 0.0, 1.0, 0.0]);
    assert_eq!(map.stats().max, 5.0);
    assert_eq!(map.sequence, 7);
    map.set_metres(0, 5, [1.0], (0.5, 10.0));
    assert!(map.is_empty());
    assert_eq!(map.get(0, 0), None);
    assert_eq!(map.at_frame_uv([0.5, 0.5]), None);
}

#[test]
fn a_mapping_is_checked_and_masks_what_lies_outside_the_image() {
    let mut map = DepthMap::from_metres(4, 1, vec![1.0, 2.0, 3.0, 4.0], (0.5, 10.0));
    map.set_confidence([0.5; 4]);
    for bad in [
        ImageMapping {
            scale: [0.0, 1.0],
            offset: [0.0, 0.0],
        },
        ImageMapping {
            scale: [1.0, f32::NAN],
            offset: [0.0, 0.0],
        },
        ImageMapping {
            scale: [-1.0, 1.0],
            offset: [1.0, 0.0],
        },
        ImageMapping {
            scale: [1.0, 1.0],
            offset: [f32::INFINITY, 0.0],
        },
    ] {
        // NaN is not equal to itself: compare what the error holds bitwise.
        let Err(InvalidMapping(refused)) = map.set_mapping(bad) else {
            panic!("{bad:?} was taken");
        };
        assert_eq!(
            (
                refused.scale.map(f32::to_bits),
                refused.offset.map(f32::to_bits)
            ),
            (bad.scale.map(f32::to_bits), bad.offset.map(f32::to_bits))
        );
    }
    assert_eq!(map.mapping(), ImageMapping::IDENTITY, "refused: unchanged");
    // Pillar bars a quarter wide on each side: the outer texels go.
    let pillars = ImageMapping {
        scale: [2.0, 1.0],
        offset: [-0.5, 0.0],
    };
    map.set_mapping(pillars).unwrap();
    assert_eq!(map.mapping(), pillars);
    assert_eq!(map.valid(), [false, true, true, false]);
    assert_eq!(map.confidence(), [0.0, 0.5, 0.5, 0.0]);
    assert_eq!(
        (map.stats().min, map.stats().max, map.stats().valid),
        (2.0, 3.0, 2)
    );
}

#[test]
fn all_invalid_gives_zero_stats() {
    let map = DepthMap::from_metres(2, 1, vec![f32::NAN, -1.0], (0.5, 10.0));
    assert_eq!(map.stats, DepthStats::default());
    assert_eq!(map.get(0, 0), None);
}
