//! Depth for the frame on screen: a depth map moved into another camera
//! pose.
//!
//! The model takes several camera frames to produce one depth map, so by
//! the time it lands the camera has moved. When frames carry poses
//! ([`crate::pose`]), [`Reprojector`] unprojects every valid depth texel
//! with the pose and intrinsics of the frame it came from, moves it into
//! the camera of the frame on screen, and splats it into a depth map on the
//! same grid (same size, same [`ImageMapping`](crate::camera::ImageMapping))
//! with a depth test, so nearer surfaces win.
//!
//! Each texel covers its projected footprint: half the distance to its
//! projected neighbours on the same surface (neighbours within 5 % in depth)
//! along each axis, at least half a texel and at most four. Surfaces that
//! the camera now sees stretched have no cracks, while depth edges do not
//! smear across the gap they open.
//!
//! **Holes** — what the old camera could not see: disocclusions beside
//! nearer objects, and the border the camera turned towards — are filled
//! by default ([`HoleFill::Background`]): along each row, a run of holes
//! takes the farther of the depths on its two sides (a disocclusion reveals
//! what lies behind the object that uncovered it), or the one side there is
//! at the image border; rows with no texel at all (the band a tilt, a rise
//! or a step back opens) are then filled down each column the same way.
//! Filled texels get a quarter of that side's
//! confidence, so [`MonoDepthCamera::min_confidence`] and `unsure_band`
//! treat them as unsure. [`HoleFill::Invalid`] leaves them invalid: they
//! hide nothing, and a virtual object there is drawn in front. On the
//! rendered sequences filling was the better of the two (docs/quality.md):
//! holes that hide nothing are wrong wherever the real surface is nearer
//! than the virtual object, and camera motion opens a band of them at the
//! image border on every frame.
//!
//! [`MonoDepthCamera::min_confidence`]: crate::plugin::MonoDepthCamera::min_confidence
//!
//! The map is small (FCRN's is 160×128), so this runs on the CPU (1.6–2.3 ms
//! per map on a 2-core Xeon, docs/quality.md), in the plugin on a thread of
//! its own ([`crate::worker::view`]), not the main thread; the result reaches
//! the GPU as the depth texture the occlusion passes already read. The
//! quality benchmark (`cargo xtask quality -- --alignment 3,6,10`) reports
//! its time.

#[cfg(test)]
mod tests;

use bevy::math::Vec3;

use crate::camera::FrameCamera;
use crate::depth::DepthMap;

/// Neighbours within this relative depth difference are on the same
/// surface: their footprints touch.
const SAME_SURFACE: f32 = 0.05;
/// The largest half-footprint of one texel, texels.
const MAX_HALF_FOOTPRINT: f32 = 4.0;

/// Why a depth map could not be reprojected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ReprojectError {
    /// The depth map's frame had no pose or no intrinsics.
    #[error("the depth's frame has no camera pose or intrinsics")]
    NoSourceCamera,
    /// The frame to move the depth into had no pose or no intrinsics.
    #[error(
        "the frame on screen has no camera pose or intrinsics (set them on pushed frames or recordings; a webcam has no pose)"
    )]
    NoViewCamera,
    /// The frame on screen is of another size than the depth's frame.
    #[error(
        "the frame on screen is {to:?} pixels, the depth's frame {from:?}: the depth map's grid does not carry over"
    )]
    SizeChanged {
        /// Upright size of the depth's frame.
        from: (u32, u32),
        /// Upright size of the frame on screen.
        to: (u32, u32),
    },
}

/// What one reprojection did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reprojection {
    /// Valid texels in the source map.
    pub source_valid: usize,
    /// Valid texels in the reprojected map.
    pub valid: usize,
    /// Source texels that left the view or went behind the camera.
    pub lost: usize,
}

/// What becomes of texels no source texel lands on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HoleFill {
    /// The farther neighbour along the row, at a quarter of its confidence
    /// (default; see the module documentation).
    #[default]
    Background,
    /// Invalid: they hide nothing.
    Invalid,
}

/// Confidence of a filled hole, relative to the texel it was filled from.
const FILLED_CONFIDENCE: f32 = 0.25;

/// Reprojects depth maps, reusing its buffers between calls.
#[derive(Debug, Clone, Default)]
pub struct Reprojector {
    /// What becomes of holes.
    pub holes: HoleFill,
    /// Per source texel: target texel position (x, y, centres at k + 0.5)
    /// and depth; depth 0 where the texel has none.
    targets: Vec<[f32; 3]>,
    depth: Vec<f32>,
    confidence: Vec<f32>,
    /// Per target texel: the source texel it shows ([`NO_SOURCE`] for none).
    sources: Vec<u32>,
}

/// In [`Reprojector::sources`]: no source texel landed here.
pub const NO_SOURCE: u32 = u32::MAX;

impl Reprojector {
    /// A reprojector with empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `source` as seen by `to` into `out`: the same grid and
    /// mapping, the camera `to`, the source's sequence and timestamp (its
    /// age stays visible). Confidence travels with each texel.
    pub fn reproject(
        &mut self,
        source: &DepthMap,
        to: &FrameCamera,
        out: &mut DepthMap,
    ) -> Result<Reprojection, ReprojectError> {
        let from = source.camera.ok_or(ReprojectError::NoSourceCamera)?;
        if from.size != to.size {
            return Err(ReprojectError::SizeChanged {
                from: from.size,
                to: to.size,
            });
        }
        let (w, h) = (source.width() as usize, source.height() as usize);
        let n = w * h;
        let mapping = source.mapping();
        let into = from.to_camera(to);
        let size = [from.size.0 as f32, from.size.1 as f32];
        let mut stats = Reprojection::default();

        // 1. Where each texel lands.
        self.targets.clear();
        self.targets.resize(n, [0.0; 3]);
        for (i, (&z, &ok)) in source.metres().iter().zip(source.valid()).enumerate() {
            if !ok {
                continue;
            }
            stats.source_valid += 1;
            let (x, y) = (i % w, i / w);
            let uv =
                mapping.depth_to_frame([(x as f32 + 0.5) / w as f32, (y as f32 + 0.5) / h as f32]);
            let point = from.unproject([uv[0] * size[0], uv[1] * size[1]], z);
            let moved: Vec3 = into.transform_point3(point);
            let Some((pixel, depth)) = to.project(moved) else {
                stats.lost += 1;
                continue;
            };
            let d = mapping.frame_to_depth([pixel[0] / size[0], pixel[1] / size[1]]);
            let target = [d[0] * w as f32, d[1] * h as f32];
            if !target.iter().all(|v| v.is_finite()) {
                stats.lost += 1;
                continue;
            }
            self.targets[i] = [target[0], target[1], depth];
        }

        // 2. Splat each texel over its footprint, nearest wins.
        self.depth.clear();
        self.depth.resize(n, f32::INFINITY);
        self.confidence.clear();
        self.confidence.resize(n, 0.0);
        self.sources.clear();
        self.sources.resize(n, NO_SOURCE);
        let metres = source.metres();
        let confidence = source.confidence();
        let mut landed = 0usize;
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                let [tx, ty, depth] = self.targets[i];
                if depth <= 0.0 {
                    continue;
                }
                let z = metres[i];
                let (mut hx, mut hy) = (0.5f32, 0.5f32);
                let neighbours = [
                    (x > 0).then(|| i - 1),
                    (x + 1 < w).then(|| i + 1),
                    (y > 0).then(|| i - w),
                    (y + 1 < h).then(|| i + w),
                ];
                for j in neighbours.into_iter().flatten() {
                    let [nx, ny, nd] = self.targets[j];
                    if nd > 0.0 && (metres[j] - z).abs() <= SAME_SURFACE * z {
                        hx = hx.max(0.5 * (nx - tx).abs());
                        hy = hy.max(0.5 * (ny - ty).abs());
                    }
                }
                let hx = hx.min(MAX_HALF_FOOTPRINT) + 0.01;
                let hy = hy.min(MAX_HALF_FOOTPRINT) + 0.01;
                // Texels whose centre (k + 0.5) is within the footprint.
                let x0 = (tx - hx - 0.5).ceil().max(0.0);
                let x1 = (tx + hx - 0.5).floor().min(w as f32 - 1.0);
                let y0 = (ty - hy - 0.5).ceil().max(0.0);
                let y1 = (ty + hy - 0.5).floor().min(h as f32 - 1.0);
                if x0 > x1 || y0 > y1 {
                    stats.lost += 1;
                    continue;
                }
                landed += 1;
                for ky in y0 as usize..=y1 as usize {
                    for kx in x0 as usize..=x1 as usize {
                        let k = ky * w + kx;
                        if depth < self.depth[k] {
                            self.depth[k] = depth;
                            self.confidence[k] = confidence[i];
                            self.sources[k] = i as u32;
                        }
                    }
                }
            }
        }
        debug_assert!(landed + stats.lost == stats.source_valid);
        if self.holes == HoleFill::Background {
            self.fill_holes(w, h);
        }

        // 3. The new map: holes (still infinite) become invalid.
        out.set_metres(
            w as u32,
            h as u32,
            self.depth.iter().copied(),
            (f32::MIN_POSITIVE, f32::MAX),
        );
        out.set_confidence(self.confidence.iter().copied());
        out.sequence = source.sequence;
        out.timestamp = source.timestamp;
        out.set_mapping_or_identity(mapping);
        out.focal = source.focal;
        out.camera = Some(*to);
        stats.valid = out.stats().valid;
        Ok(stats)
    }

    /// For each texel of the last map written, the index of the source
    /// texel it shows (filled holes: the texel they were filled from), or
    /// [`NO_SOURCE`]. Other per-texel values of the source map (the
    /// image's brightness, a running statistic) follow the depth with it.
    pub fn sources(&self) -> &[u32] {
        &self.sources
    }

    /// Fills each run of holes in a row from the farther of its two sides,
    /// then, in rows that had no texel at all (the band a tilt, a rise or a
    /// step back opens at the top or bottom), each run down a column the
    /// same way.
    fn fill_holes(&mut self, w: usize, h: usize) {
        for y in 0..h {
            fill_line(
                &mut self.depth,
                &mut self.confidence,
                &mut self.sources,
                y * w,
                1,
                w,
            );
        }
        for x in 0..w {
            fill_line(
                &mut self.depth,
                &mut self.confidence,
                &mut self.sources,
                x,
                w,
                h,
            );
        }
    }
}

/// Fills the runs of holes (non-finite depth) among the `len` texels
/// `start, start + step, …` from the farther of each run's two ends, or its
/// one end at the border, at [`FILLED_CONFIDENCE`] of that end's confidence.
fn fill_line(
    depth: &mut [f32],
    confidence: &mut [f32],
    sources: &mut [u32],
    start: usize,
    step: usize,
    len: usize,
) {
    let at = |i: usize| start + i * step;
    let mut i = 0;
    while i < len {
        if depth[at(i)].is_finite() {
            i += 1;
            continue;
        }
        let first = i;
        while i < len && !depth[at(i)].is_finite() {
            i += 1;
        }
        let before = first.checked_sub(1).map(at);
        let after = (i < len).then(|| at(i));
        let from = match (before, after) {
            (Some(b), Some(a)) => Some(if depth[b] >= depth[a] { b } else { a }),
            (one, None) | (None, one) => one,
        };
        if let Some(from) = from {
            let (d, c, s) = (
                depth[from],
                confidence[from] * FILLED_CONFIDENCE,
                sources[from],
            );
            for k in first..i {
                depth[at(k)] = d;
                confidence[at(k)] = c;
                sources[at(k)] = s;
            }
        }
    }
}
