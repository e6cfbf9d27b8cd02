//! Depth as colour, on the CPU: previews for egui (which cannot sample
//! `Rg32Float`) and debug images.

use crate::depth::DepthMap;

/// RGBA8 (alpha 255) of `map` with the turbo colour map: near is red, far is
/// blue, invalid pixels black. `range` fixes the metres mapped to the ends;
/// `None` uses the map's valid min–max. Returns the range used (for a legend).
///
/// ```
/// use bevy_mono_depth::colormap::colorize;
/// use bevy_mono_depth::depth::DepthMap;
///
/// let map = DepthMap::from_metres(3, 1, vec![1.0, 2.0, f32::NAN], (0.5, 10.0));
/// let mut rgba = Vec::new();
/// assert_eq!(colorize(&map, None, &mut rgba), (1.0, 2.0));
/// assert_eq!(&rgba[8..12], &[0, 0, 0, 255]); // invalid
/// ```
pub fn colorize(map: &DepthMap, range: Option<(f32, f32)>, rgba: &mut Vec<u8>) -> (f32, f32) {
    let (near, far) = range.unwrap_or((map.stats().min, map.stats().max));
    let span = (far - near).max(f32::EPSILON);
    rgba.clear();
    rgba.reserve(map.metres().len() * 4);
    for (d, ok) in map.metres().iter().zip(map.valid()) {
        if *ok {
            let t = ((far - d) / span).clamp(0.0, 1.0);
            let c = colorous::TURBO.eval_continuous(f64::from(t));
            rgba.extend_from_slice(&[c.r, c.g, c.b, 255]);
        } else {
            rgba.extend_from_slice(&[0, 0, 0, 255]);
        }
    }
    (near, far)
}

/// The turbo colour map as 256 RGBA8 texels (alpha 255), index 0 the far
/// end and 255 the near end, as [`colorize`] maps `t`: a lookup table for
/// shaders, so GPU debug views and CPU previews show the same colours.
pub fn turbo_lut() -> Vec<u8> {
    (0..=255u8)
        .flat_map(|i| {
            let c = colorous::TURBO.eval_continuous(f64::from(i) / 255.0);
            [c.r, c.g, c.b, 255]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rgb(t: f64) -> [u8; 4] {
        let c = colorous::TURBO.eval_continuous(t);
        [c.r, c.g, c.b, 255]
    }

    #[test]
    fn near_is_the_warm_end_far_the_cold_end() {
        let map = DepthMap::from_metres(4, 1, vec![1.0, 4.0, 2.5, -1.0], (0.5, 10.0));
        let mut out = Vec::new();
        assert_eq!(colorize(&map, None, &mut out), (1.0, 4.0));
        assert_eq!(&out[0..4], &rgb(1.0), "nearest → t = 1");
        assert_eq!(&out[4..8], &rgb(0.0), "farthest → t = 0");
        assert_eq!(&out[8..12], &rgb(0.5), "middle");
        assert_eq!(&out[12..16], &[0, 0, 0, 255], "invalid is black");
        // A fixed range clamps values outside it.
        colorize(&map, Some((2.0, 3.0)), &mut out);
        assert_eq!((&out[0..4], &out[4..8]), (&rgb(1.0)[..], &rgb(0.0)[..]));
    }

    #[test]
    fn the_lookup_table_runs_from_far_to_near() {
        let lut = turbo_lut();
        assert_eq!(lut.len(), 256 * 4);
        assert_eq!(&lut[..4], &rgb(0.0));
        assert_eq!(&lut[255 * 4..], &rgb(1.0));
        assert_eq!(&lut[128 * 4..129 * 4], &rgb(128.0 / 255.0));
    }
}
