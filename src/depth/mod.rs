//! Depth maps: metres per pixel with a validity mask, statistics, and the
//! frame they came from.

#[cfg(test)]
mod tests;

use std::time::Duration;

use crate::align::AlignReport;
use crate::camera::{FocalCorrection, FrameCamera, ImageMapping, InvalidMapping};

/// Statistics over the valid pixels of a depth map.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DepthStats {
    /// Nearest valid depth, metres (0 when no pixel is valid).
    pub min: f32,
    /// Farthest valid depth, metres (0 when no pixel is valid).
    pub max: f32,
    /// Mean of the valid depths, metres (0 when no pixel is valid).
    pub mean: f32,
    /// Number of valid pixels.
    pub valid: usize,
}

/// One depth map, in metres.
///
/// Invalid pixels (the model gave NaN, ±∞, a value ≤ 0 or outside the
/// model's valid range) are never passed on as numbers: their depth reads
/// `0.0` and their mask entry `false`.
///
/// The pixels, their mask and their statistics can only be set together
/// ([`Self::from_metres`], [`Self::set_metres`]), so `metres()` and
/// `valid()` always hold `width × height` entries and the statistics match
/// them.
///
/// ```
/// use bevy_mono_depth::depth::DepthMap;
///
/// let map = DepthMap::from_metres(2, 1, vec![1.5, f32::NAN], (0.5, 10.0));
/// assert_eq!(map.get(0, 0), Some(1.5));
/// assert_eq!(map.get(1, 0), None); // NaN is invalid
/// assert_eq!(map.stats().valid, 1);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DepthMap {
    width: u32,
    height: u32,
    metres: Vec<f32>,
    valid: Vec<bool>,
    confidence: Vec<f32>,
    stats: DepthStats,
    /// Sequence number of the camera frame this depth came from.
    pub sequence: u64,
    /// Capture timestamp of that frame.
    pub timestamp: Duration,
    /// Where the depth map lies in that frame ([`Self::mapping`]).
    mapping: ImageMapping,
    /// Whether the metres were corrected for the frame camera's focal length.
    pub focal: FocalCorrection,
    /// Pose, intrinsics and size of the frame's camera, when the frame had
    /// a pose and intrinsics (for [`crate::reproject`]). A reprojected map
    /// has the camera it was reprojected into.
    pub camera: Option<FrameCamera>,
    /// For a model that outputs relative depth
    /// ([`DepthUnits::AffineInverse`](crate::model::DepthUnits)): how the
    /// metres were fitted from the frame's anchors, or that they could not
    /// be (then no texel is valid). `None` for models that output metres.
    pub alignment: Option<AlignReport>,
}

impl DepthMap {
    /// A depth map from values already in metres; values that are not
    /// finite, ≤ 0 or outside `range` become invalid.
    /// Missing values (fewer than `width × height`) are invalid; extra ones
    /// are dropped.
    pub fn from_metres(width: u32, height: u32, values: Vec<f32>, range: (f32, f32)) -> Self {
        let mut map = Self::empty();
        map.width = width;
        map.height = height;
        map.metres = values;
        map.metres
            .resize(width as usize * height as usize, f32::NAN);
        map.validate(range, ImageMapping::IDENTITY);
        map
    }

    /// Replaces the pixels with `values` (metres, row-major), as
    /// [`Self::from_metres`] does, reusing this map's buffers. Sequence,
    /// timestamp and mapping are kept; texels outside the camera image
    /// under the mapping are invalid.
    pub fn set_metres(
        &mut self,
        width: u32,
        height: u32,
        values: impl IntoIterator<Item = f32>,
        range: (f32, f32),
    ) {
        let n = width as usize * height as usize;
        self.width = width;
        self.height = height;
        self.metres.clear();
        self.metres.extend(values.into_iter().take(n));
        self.metres.resize(n, f32::NAN);
        self.validate(range, self.mapping);
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Row-major depth in metres, `width × height` values; `0.0` where invalid.
    pub fn metres(&self) -> &[f32] {
        &self.metres
    }

    /// Row-major validity, `width × height` entries.
    pub fn valid(&self) -> &[bool] {
        &self.valid
    }

    /// Row-major confidence, 0–1, `width × height` entries: 1 for every
    /// valid pixel and 0 for invalid ones, until a
    /// [`Stabiliser`](crate::temporal::Stabiliser) or the app sets it
    /// ([`Self::set_confidence`]). Occlusion may fade out where it is low
    /// (see `MonoDepthCamera::min_confidence`).
    pub fn confidence(&self) -> &[f32] {
        &self.confidence
    }

    /// Sets the confidence of every pixel (clamped to 0–1; invalid pixels
    /// stay at 0, missing values are 0, extra ones are dropped).
    pub fn set_confidence(&mut self, values: impl IntoIterator<Item = f32>) {
        let n = self.metres.len();
        self.confidence.clear();
        self.confidence.extend(values.into_iter().take(n));
        self.confidence.resize(n, 0.0);
        for (c, &ok) in self.confidence.iter_mut().zip(&self.valid) {
            *c = if ok && c.is_finite() {
                c.clamp(0.0, 1.0)
            } else {
                0.0
            };
        }
    }

    /// Replaces the values of valid pixels with `metres` (same size; the
    /// mask stays) and recomputes the statistics.
    pub(crate) fn replace_valid(&mut self, metres: &[f32]) {
        let range = (0.0, f32::INFINITY);
        for ((d, &new), &ok) in self.metres.iter_mut().zip(metres).zip(&self.valid) {
            *d = if ok && new > 0.0 { new } else { 0.0 };
        }
        let confidence = std::mem::take(&mut self.confidence);
        self.validate(range, self.mapping);
        self.set_confidence(confidence);
    }

    /// Statistics over the valid pixels.
    pub fn stats(&self) -> DepthStats {
        self.stats
    }

    /// Whether the map has no pixels.
    pub fn is_empty(&self) -> bool {
        self.metres.is_empty()
    }

    /// A map with no pixels.
    pub fn empty() -> Self {
        Self {
            width: 0,
            height: 0,
            metres: Vec::new(),
            valid: Vec::new(),
            confidence: Vec::new(),
            stats: DepthStats::default(),
            sequence: 0,
            timestamp: Duration::ZERO,
            mapping: ImageMapping::IDENTITY,
            focal: FocalCorrection::NotApplicable,
            camera: None,
            alignment: None,
        }
    }

    /// Depth at (`x`, `y`) in metres, `None` when invalid or outside.
    pub fn get(&self, x: u32, y: u32) -> Option<f32> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = y as usize * self.width as usize + x as usize;
        self.valid[i].then(|| self.metres[i])
    }

    /// Depth at normalised frame coordinates (0–1 across the camera image),
    /// nearest pixel; `None` when invalid or not seen by the model.
    pub fn at_frame_uv(&self, uv: [f32; 2]) -> Option<f32> {
        let [u, v] = self.mapping.frame_to_depth(uv);
        if !(0.0..1.0).contains(&u) || !(0.0..1.0).contains(&v) {
            return None;
        }
        self.get(
            (u * self.width as f32) as u32,
            (v * self.height as f32) as u32,
        )
    }

    /// Multiplies every valid depth (and the statistics) by `factor` > 0.
    pub(crate) fn scale(&mut self, factor: f32) {
        for (d, ok) in self.metres.iter_mut().zip(&self.valid) {
            if *ok {
                *d *= factor;
            }
        }
        if self.stats.valid > 0 {
            self.stats.min *= factor;
            self.stats.max *= factor;
            self.stats.mean *= factor;
        }
    }

    /// Marks values that are not finite, ≤ 0, outside `range`, or at texels
    /// whose centre lies outside the camera image under `mapping` (a `Fit`
    /// letterbox's bars, where the model saw black) invalid, zeroing them,
    /// and recomputes the statistics.
    fn validate(&mut self, range: (f32, f32), mapping: ImageMapping) {
        self.valid.clear();
        let (mut min, mut max, mut sum, mut count) =
            (f32::INFINITY, f32::NEG_INFINITY, 0.0f64, 0usize);
        let columns = seen_span(self.width, mapping.scale[0], mapping.offset[0]);
        let rows = seen_span(self.height, mapping.scale[1], mapping.offset[1]);
        let width = self.width.max(1) as usize;
        for (i, d) in self.metres.iter_mut().enumerate() {
            let seen = columns.contains(&(i % width)) && rows.contains(&(i / width));
            let ok = seen && d.is_finite() && *d > 0.0 && *d >= range.0 && *d <= range.1;
            if ok {
                min = min.min(*d);
                max = max.max(*d);
                sum += f64::from(*d);
                count += 1;
            } else {
                *d = 0.0;
            }
            self.valid.push(ok);
        }
        self.confidence.clear();
        self.confidence
            .extend(self.valid.iter().map(|&ok| if ok { 1.0 } else { 0.0 }));
        self.stats = stats_of(min, max, sum, count);
    }

    /// Where the depth map lies in its frame: `frame uv = depth uv · scale +
    /// offset`.
    pub fn mapping(&self) -> ImageMapping {
        self.mapping
    }

    /// Sets where the depth map lies in its frame. A mapping with a scale
    /// that is not positive and finite, or an offset that is not finite, is
    /// refused and nothing changes. Texels whose centre falls outside the
    /// camera image under the new mapping (a letterbox's bars) become
    /// invalid; the others keep their depth and confidence.
    pub fn set_mapping(&mut self, mapping: ImageMapping) -> Result<(), InvalidMapping> {
        if !mapping.is_valid() {
            return Err(InvalidMapping(mapping));
        }
        self.mapping = mapping;
        let columns = seen_span(self.width, mapping.scale[0], mapping.offset[0]);
        let rows = seen_span(self.height, mapping.scale[1], mapping.offset[1]);
        let width = self.width.max(1) as usize;
        let mut changed = false;
        for (i, ok) in self.valid.iter_mut().enumerate() {
            let seen = columns.contains(&(i % width)) && rows.contains(&(i / width));
            if *ok && !seen {
                *ok = false;
                self.metres[i] = 0.0;
                self.confidence[i] = 0.0;
                changed = true;
            }
        }
        if changed {
            let (mut min, mut max, mut sum, mut count) =
                (f32::INFINITY, f32::NEG_INFINITY, 0.0f64, 0usize);
            for (&d, _) in self.metres.iter().zip(&self.valid).filter(|(_, ok)| **ok) {
                min = min.min(d);
                max = max.max(d);
                sum += f64::from(d);
                count += 1;
            }
            self.stats = stats_of(min, max, sum, count);
        }
        Ok(())
    }

    /// Sets a mapping the crate computed, without [`Self::set_mapping`]'s
    /// pass over the texels: the caller fills the map after this with
    /// [`Self::set_metres`], which invalidates texels outside the image, or
    /// copies a map that was already masked. One that is refused (a
    /// degenerate frame) leaves the map covering the whole frame, with a
    /// warning.
    pub(crate) fn set_mapping_or_identity(&mut self, mapping: ImageMapping) {
        self.mapping = if mapping.is_valid() {
            mapping
        } else {
            tracing::warn!(
                "{}; the depth map is taken to cover the whole frame",
                InvalidMapping(mapping)
            );
            ImageMapping::IDENTITY
        };
    }
}

/// The statistics of `count` valid depths with these extremes and sum.
fn stats_of(min: f32, max: f32, sum: f64, count: usize) -> DepthStats {
    if count == 0 {
        DepthStats::default()
    } else {
        DepthStats {
            min,
            max,
            mean: (sum / count as f64) as f32,
            valid: count,
        }
    }
}

impl Default for DepthMap {
    /// [`DepthMap::empty`].
    fn default() -> Self {
        Self::empty()
    }
}

/// The texels along one axis of `size` whose centres lie inside the
/// camera image (frame coordinate `uv · scale + offset` in 0–1).
fn seen_span(size: u32, scale: f32, offset: f32) -> std::ops::Range<usize> {
    let n = size as usize;
    let inside = |i: usize| {
        let frame = (i as f32 + 0.5) / size as f32 * scale + offset;
        (0.0..=1.0).contains(&frame)
    };
    if !(scale.is_finite() && offset.is_finite()) || scale == 0.0 {
        return 0..n;
    }
    // The image is one interval along the axis: its first and last texel.
    match (0..n).position(inside) {
        Some(first) => first..n - (0..n).rev().position(inside).unwrap_or(0),
        None => 0..0,
    }
}
