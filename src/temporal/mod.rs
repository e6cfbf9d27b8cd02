//! Temporal stabilisation of depth, with a per-pixel confidence.
//!
//! A network's depth differs a little from frame to frame even when nothing
//! moves, and occlusion edges flicker with it. [`Stabiliser`] blends each
//! depth texel with its own history where the scene did not change, and
//! starts the texel afresh where it did, so that a moving hand or a turning
//! camera is not smeared:
//!
//! - *Motion gate*: the camera image is averaged over each depth texel's
//!   footprint (luma, 0–255); where it changed by
//!   [`TemporalSettings::motion_threshold`] or more since the last depth
//!   map, the texel keeps nothing of its history.
//! - *Depth gate*: where the new depth differs from the history by
//!   [`TemporalSettings::depth_threshold`] (relative) or more — something
//!   appeared or went away without changing the image much — likewise.
//! - Between half the threshold and the threshold, the history's share
//!   falls smoothly from [`TemporalSettings::history`] to nothing.
//!
//! - *Camera motion*: when the depth maps carry their frames' cameras
//!   (pose and intrinsics, [`DepthMap::camera`]) and the camera moved, the
//!   history is first moved into the new camera with a [`Reprojector`], so
//!   each texel is compared with the history of the surface it now shows
//!   (its depth, image brightness and agreement): walking towards a blank
//!   wall, whose image never changes, the depth follows at once instead of
//!   trailing behind the gates. What the old camera did not see starts
//!   afresh.
//!
//! Confidence (0–1) is the product of two terms: *temporal agreement* (how
//! well new depth matched the history on a still image, averaged over a
//! few depth maps) and *distance from depth edges* (a texel whose
//! neighbours differ by 20 % or more is a blend of two surfaces in a
//! network's blurred output). Invalid texels have no depth and confidence
//! 0. The plugin runs the stabiliser on the inference thread, on each new
//! depth map, when `MonoDepthSettings::stabilisation` is set (the default;
//! `DepthWorker::set_stabilisation`).

#[cfg(test)]
mod tests;

use crate::camera::ImageMapping;
use crate::depth::DepthMap;
use crate::frame::{CameraFrame, FrameRotation, PixelFormat};
use crate::reproject::{HoleFill, NO_SOURCE, Reprojector};
use bevy::reflect::Reflect;

/// How strongly depth is smoothed over time.
#[derive(Debug, Clone, Copy, PartialEq, Reflect)]
pub struct TemporalSettings {
    /// Share of the history kept where image and depth did not change
    /// (0–1; default 0.85: noise falls to about a third).
    pub history: f32,
    /// Change of the camera image's mean luma over a texel (0–255) that
    /// starts the texel afresh (default 8).
    pub motion_threshold: f32,
    /// Relative change of depth that starts a texel afresh (default 0.15).
    pub depth_threshold: f32,
}

impl Default for TemporalSettings {
    fn default() -> Self {
        Self {
            history: 0.85,
            motion_threshold: 8.0,
            depth_threshold: 0.15,
        }
    }
}

/// Relative difference to a neighbour at which a texel counts as on a
/// depth edge (confidence term 1 → its floor).
const EDGE_DIFFERENCE: f32 = 0.2;
/// The edge term's floor: an edge texel is unsure, not unknown.
const EDGE_FLOOR: f32 = 0.25;
/// Weight of the newest agreement in the running agreement.
const AGREEMENT_RATE: f32 = 0.3;
/// The agreement of a texel seen for the first time, or afresh.
const FRESH_AGREEMENT: f32 = 0.5;

/// Filters successive depth maps of one camera (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Stabiliser {
    /// Settings used from the next depth map on.
    pub settings: TemporalSettings,
    size: (u32, u32),
    mapping: Option<ImageMapping>,
    filtered: Vec<f32>,
    luma: Vec<f32>,
    agreement: Vec<f32>,
    scratch: Vec<f32>,
    /// Where each texel samples the frame, for frames and maps like the key.
    samples: Option<(SampleKey, Vec<usize>)>,
    /// The history as a depth map in its camera, kept when maps carry one.
    history: Option<DepthMap>,
    /// Moves the history into a new camera (holes stay holes).
    reprojector: Reprojector,
    moved: DepthMap,
}

impl Stabiliser {
    /// A stabiliser with no history.
    pub fn new(settings: TemporalSettings) -> Self {
        Self {
            settings,
            ..Self::default()
        }
    }

    /// Forgets the history: the next depth map is taken as it is.
    pub fn reset(&mut self) {
        self.mapping = None;
        self.history = None;
    }

    /// Moves the history into `depth`'s camera where both have one and
    /// they differ. `false` when the grids do not carry over (start afresh).
    fn follow_camera(&mut self, depth: &DepthMap) -> bool {
        let (Some(history), Some(to)) = (&self.history, depth.camera) else {
            return true;
        };
        if history.camera == Some(to) {
            return true;
        }
        self.reprojector.holes = HoleFill::Invalid;
        if self
            .reprojector
            .reproject(history, &to, &mut self.moved)
            .is_err()
        {
            return false;
        }
        let sources = self.reprojector.sources();
        let moved = self.moved.metres();
        let valid = self.moved.valid();
        self.filtered.clear();
        self.filtered
            .extend((0..sources.len()).map(|i| if valid[i] { moved[i] } else { 0.0 }));
        let carry = |values: &mut Vec<f32>| {
            let old = std::mem::take(values);
            values.extend(sources.iter().map(|&from| match from {
                NO_SOURCE => 0.0,
                from => old[from as usize],
            }));
        };
        carry(&mut self.luma);
        carry(&mut self.agreement);
        true
    }

    /// Filters `depth` (computed from `frame`) in place and sets its
    /// confidence. A change of size or of the depth map's place in the frame
    /// starts afresh.
    pub fn apply(&mut self, frame: &CameraFrame, depth: &mut DepthMap) {
        let size = (depth.width(), depth.height());
        let n = size.0 as usize * size.1 as usize;
        let key = sample_key(frame, depth);
        let samples = match &mut self.samples {
            Some((cached, samples)) if *cached == key => samples,
            slot => {
                let mut samples = Vec::new();
                sample_offsets(frame, depth, &mut samples);
                &mut slot.insert((key, samples)).1
            }
        };
        luma_at(frame, samples, &mut self.scratch);
        let fresh = self.mapping != Some(depth.mapping())
            || self.size != size
            || !self.follow_camera(depth);
        if fresh {
            self.size = size;
            self.mapping = Some(depth.mapping());
            self.filtered.clear();
            self.filtered.extend_from_slice(depth.metres());
            self.agreement.clear();
            self.agreement.extend(
                depth
                    .valid()
                    .iter()
                    .map(|&ok| if ok { FRESH_AGREEMENT } else { 0.0 }),
            );
        } else {
            let s = self.settings;
            let history = s.history.clamp(0.0, 1.0);
            for i in 0..n {
                let new = depth.metres()[i];
                if !depth.valid()[i] {
                    self.filtered[i] = 0.0;
                    self.agreement[i] = 0.0;
                    continue;
                }
                let old = self.filtered[i];
                if old <= 0.0 {
                    self.filtered[i] = new;
                    self.agreement[i] = FRESH_AGREEMENT;
                    continue;
                }
                let motion = (self.scratch[i] - self.luma[i]).abs() / s.motion_threshold.max(1e-3);
                let change = (new - old).abs() / (old * s.depth_threshold.max(1e-6));
                let keep = history * (1.0 - smoothstep(0.5, 1.0, motion.max(change)));
                // Exact where nothing changed.
                self.filtered[i] = old + (1.0 - keep) * (new - old);
                if motion < 1.0 {
                    let agree = (1.0 - change).clamp(0.0, 1.0);
                    self.agreement[i] += AGREEMENT_RATE * (agree - self.agreement[i]);
                } else {
                    // The image gate started the texel afresh: what is seen
                    // now is new, so is the agreement about it.
                    self.agreement[i] = FRESH_AGREEMENT;
                }
            }
        }
        std::mem::swap(&mut self.luma, &mut self.scratch);
        depth.replace_valid(&self.filtered);
        self.keep_history(depth);
        let (w, h) = (size.0 as usize, size.1 as usize);
        let filtered = &self.filtered;
        let agreement = &self.agreement;
        let confidence = (0..n).map(|i| {
            let d = filtered[i];
            if d <= 0.0 {
                return 0.0;
            }
            let (x, y) = (i % w, i / w);
            let mut worst = 0.0f32;
            for (nx, ny) in [
                (x.wrapping_sub(1), y),
                (x + 1, y),
                (x, y.wrapping_sub(1)),
                (x, y + 1),
            ] {
                if nx < w && ny < h {
                    let other = filtered[ny * w + nx];
                    if other > 0.0 {
                        worst = worst.max((d - other).abs() / d.min(other));
                    }
                }
            }
            let edge = (1.0 - worst / EDGE_DIFFERENCE).max(EDGE_FLOOR);
            agreement[i] * edge
        });
        let confidence: Vec<f32> = confidence.collect();
        depth.set_confidence(confidence);
    }
}

impl Stabiliser {
    /// Keeps the filtered map with its camera for [`Self::follow_camera`].
    fn keep_history(&mut self, depth: &DepthMap) {
        let Some(camera) = depth.camera else {
            self.history = None;
            return;
        };
        let history = self.history.get_or_insert_with(DepthMap::empty);
        history.set_metres(
            depth.width(),
            depth.height(),
            self.filtered.iter().copied(),
            (f32::MIN_POSITIVE, f32::MAX),
        );
        history.set_mapping_or_identity(depth.mapping());
        history.camera = Some(camera);
    }
}

fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Mean luma (0–255) of `frame` over each texel of `depth`: four samples at
/// the quarter points of the texel's footprint in the upright image.
pub fn texel_luma(frame: &CameraFrame, depth: &DepthMap, out: &mut Vec<f32>) {
    let mut samples = Vec::new();
    sample_offsets(frame, depth, &mut samples);
    luma_at(frame, &samples, out);
}

/// What [`sample_offsets`] depends on.
type SampleKey = (
    u32,
    u32,
    usize,
    PixelFormat,
    FrameRotation,
    u32,
    u32,
    ImageMapping,
);

fn sample_key(frame: &CameraFrame, depth: &DepthMap) -> SampleKey {
    (
        frame.width(),
        frame.height(),
        frame.stride(),
        frame.format(),
        frame.rotation,
        depth.width(),
        depth.height(),
        depth.mapping(),
    )
}

/// Byte offsets in `frame`'s data of the pixels sampled for each texel of
/// `depth` (four per texel), row-major.
fn sample_offsets(frame: &CameraFrame, depth: &DepthMap, out: &mut Vec<usize>) {
    let (w, h) = (depth.width(), depth.height());
    let bpp = frame.format().bytes_per_pixel();
    out.clear();
    out.reserve(4 * w as usize * h as usize);
    for y in 0..h {
        for x in 0..w {
            for (dx, dy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                let uv = depth
                    .mapping()
                    .depth_to_frame([(x as f32 + dx) / w as f32, (y as f32 + dy) / h as f32]);
                let [bu, bv] = frame.rotation.display_to_buffer(uv);
                let px = (bu * frame.width() as f32).clamp(0.0, frame.width() as f32 - 1.0);
                let py = (bv * frame.height() as f32).clamp(0.0, frame.height() as f32 - 1.0);
                out.push(py as usize * frame.stride() + px as usize * bpp);
            }
        }
    }
}

/// Mean luma of each group of four samples at `offsets`.
fn luma_at(frame: &CameraFrame, offsets: &[usize], out: &mut Vec<f32>) {
    let [r, g, b] = frame.format().rgb_offsets();
    let data = frame.data();
    let luma = |o: usize| -> u32 {
        match data.get(o..o + 3) {
            Some(px) => 2 * u32::from(px[r]) + 5 * u32::from(px[g]) + u32::from(px[b]),
            None => 0,
        }
    };
    out.clear();
    out.extend(
        offsets
            .chunks_exact(4)
            .map(|four| four.iter().map(|&o| luma(o)).sum::<u32>() as f32 / 32.0),
    );
}
