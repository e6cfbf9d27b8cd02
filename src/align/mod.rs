//! Metric alignment of relative depth: a model that outputs relative
//! inverse depth (disparity up to an unknown scale and shift per image, as
//! Depth Anything V2 and MiDaS do) is made metric from a few points whose
//! depth is known in metres — ARKit's feature points projected into the
//! frame, a LiDAR map, a recording's depth, or an app's own.
//!
//! [`fit`] finds `scale` and `shift` with `1 / depth = scale · value + shift`
//! (the form of [`DepthUnits::InverseRelative`](crate::model::DepthUnits))
//! robustly: RANSAC over pairs of anchors, scored by relative error in
//! inverse depth, then least squares on the inliers. [`Aligner`] smooths the
//! fits over time and holds the last good one for a while when a frame has
//! too few anchors; after that the depth is not metric, and it says so.
//!
//! Bevy-free and free of the rest of the crate: plain numbers in and out.

mod report;
#[cfg(test)]
mod tests;

pub use report::AlignReport;

/// A point of the frame whose depth is known: pixel position (x right, y
/// down, pixel centres at .5) and depth along the optical axis in metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricAnchor {
    /// Column, pixels.
    pub x: f32,
    /// Row, pixels.
    pub y: f32,
    /// Depth along the optical axis, metres.
    pub depth: f32,
}

/// Anchors that can be used, and how many were dropped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckedAnchors {
    /// Finite, positive depth, inside the frame.
    pub valid: Vec<MetricAnchor>,
    /// NaN or ±∞ anywhere, depth ≤ 0, or outside the frame.
    pub dropped: usize,
}

/// Drops anchors with NaN or infinite values, depth ≤ 0, or a position
/// outside a `width`×`height` frame, and counts them.
pub fn check_anchors(anchors: &[MetricAnchor], width: u32, height: u32) -> CheckedAnchors {
    let (w, h) = (width as f32, height as f32);
    let mut checked = CheckedAnchors::default();
    for &a in anchors {
        let finite = a.x.is_finite() && a.y.is_finite() && a.depth.is_finite();
        if finite && a.depth > 0.0 && (0.0..w).contains(&a.x) && (0.0..h).contains(&a.y) {
            checked.valid.push(a);
        } else {
            checked.dropped += 1;
        }
    }
    checked
}

/// How [`fit`] and [`Aligner`] work.
#[derive(Debug, Clone, PartialEq)]
pub struct AlignSettings {
    /// Fewest usable samples for a fit (default 8).
    pub min_anchors: usize,
    /// RANSAC rounds (default 200): each fits two samples exactly.
    pub iterations: u32,
    /// A sample is an inlier when its inverse depth is within this share
    /// of the fitted one (default 0.05: 5 %).
    pub inlier_threshold: f32,
    /// Fewest inliers, as a share of the samples, for a fit to count
    /// (default 0.5).
    pub min_inlier_share: f32,
    /// Weight of a new fit against the smoothed one (default 0.5; 1: no
    /// smoothing). Only while the smoothed fit still explains the new
    /// frame's anchors (their median within `inlier_threshold`): when the
    /// model's scale jumps, the new fit is taken as it is.
    pub smoothing: f32,
    /// Frames the last good fit is used for when newer frames give none
    /// (default 30: one second at 30 fps).
    pub hold_frames: u32,
}

impl Default for AlignSettings {
    fn default() -> Self {
        Self {
            min_anchors: 8,
            iterations: 200,
            inlier_threshold: 0.05,
            min_inlier_share: 0.5,
            smoothing: 0.5,
            hold_frames: 30,
        }
    }
}

/// A fitted alignment: `1 / depth = scale · value + shift`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    /// Factor on the model's value.
    pub scale: f32,
    /// Offset added after scaling, 1/metres.
    pub shift: f32,
    /// Samples the final least squares used (the inliers).
    pub inliers: usize,
    /// Usable samples offered.
    pub samples: usize,
    /// Median relative error of the inliers' inverse depth.
    pub residual: f32,
}

impl Fit {
    /// Metres for a model value (`None` where the fitted inverse depth is
    /// not positive: no metric meaning).
    pub fn metres(&self, value: f32) -> Option<f32> {
        let inverse = self.scale * value + self.shift;
        (inverse > 0.0 && inverse.is_finite()).then(|| 1.0 / inverse)
    }
}

/// Why no fit came out.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AlignError {
    /// Too few usable samples.
    #[error("{got} usable anchors, at least {needed} needed")]
    TooFewAnchors {
        /// Usable samples given.
        got: usize,
        /// [`AlignSettings::min_anchors`].
        needed: usize,
    },
    /// No scale and shift explains enough of the samples.
    #[error("no fit explains {needed} of {samples} anchors (best: {best})")]
    NoConsensus {
        /// Usable samples given.
        samples: usize,
        /// Inliers needed.
        needed: usize,
        /// Inliers of the best candidate.
        best: usize,
    },
    /// The best fit makes nearer things farther (scale ≤ 0): the model's
    /// values are not inverse depth, or the anchors do not belong to them.
    #[error("the best fit has scale {0} ≤ 0: values and anchors disagree")]
    NotInverse(f32),
}

/// A sample: the model's value at an anchor, and the anchor's depth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// The model's output there (relative inverse depth).
    pub value: f32,
    /// The anchor's depth, metres.
    pub depth: f32,
}

/// Fits scale and shift to `samples` (values that are not finite, and
/// depths that are not finite and positive, are left out).
pub fn fit(samples: &[Sample], settings: &AlignSettings) -> Result<Fit, AlignError> {
    // (value, inverse depth)
    let points: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.value.is_finite() && s.depth.is_finite() && s.depth > 0.0)
        .map(|s| (f64::from(s.value), 1.0 / f64::from(s.depth)))
        .collect();
    let n = points.len();
    let needed_samples = settings.min_anchors.max(2);
    if n < needed_samples {
        return Err(AlignError::TooFewAnchors {
            got: n,
            needed: needed_samples,
        });
    }
    let threshold = f64::from(settings.inlier_threshold);
    let inliers_of = |scale: f64, shift: f64| -> Vec<usize> {
        (0..n)
            .filter(|&i| {
                let (v, inv) = points[i];
                ((scale * v + shift) - inv).abs() <= threshold * inv
            })
            .collect()
    };
    // Deterministic: the same anchors give the same fit.
    let mut rng = SplitMix(0x9e37_79b9_7f4a_7c15 ^ n as u64);
    let mut best: Vec<usize> = Vec::new();
    for _ in 0..settings.iterations.max(1) {
        let i = rng.below(n);
        let j = rng.below(n);
        let ((v1, p1), (v2, p2)) = (points[i], points[j]);
        if (v1 - v2).abs() <= f64::EPSILON * v1.abs().max(v2.abs()).max(1.0) {
            continue;
        }
        let scale = (p1 - p2) / (v1 - v2);
        let shift = p1 - scale * v1;
        if scale <= 0.0 {
            continue;
        }
        let inliers = inliers_of(scale, shift);
        if inliers.len() > best.len() {
            best = inliers;
        }
    }
    let needed = ((f64::from(settings.min_inlier_share) * n as f64).ceil() as usize).max(2);
    if best.len() < needed {
        return Err(AlignError::NoConsensus {
            samples: n,
            needed,
            best: best.len(),
        });
    }
    // Least squares on the inliers, twice (the refit may take in a few
    // more), each residual relative to its inverse depth.
    let mut fitted = least_squares(&points, &best);
    for _ in 0..2 {
        let Some((scale, shift)) = fitted else { break };
        let refined = inliers_of(scale, shift);
        if refined.len() < needed {
            break;
        }
        best = refined;
        fitted = least_squares(&points, &best);
    }
    let Some((scale, shift)) = fitted else {
        return Err(AlignError::NoConsensus {
            samples: n,
            needed,
            best: best.len(),
        });
    };
    if scale <= 0.0 {
        return Err(AlignError::NotInverse(scale as f32));
    }
    let mut errors: Vec<f64> = best
        .iter()
        .map(|&i| {
            let (v, inv) = points[i];
            ((scale * v + shift) - inv).abs() / inv
        })
        .collect();
    errors.sort_by(f64::total_cmp);
    Ok(Fit {
        scale: scale as f32,
        shift: shift as f32,
        inliers: best.len(),
        samples: n,
        residual: errors[errors.len() / 2] as f32,
    })
}

/// Minimises Σ ((scale · v + shift − p) / p)² over `which`: relative error
/// in inverse depth, so near and far anchors count alike.
fn least_squares(points: &[(f64, f64)], which: &[usize]) -> Option<(f64, f64)> {
    // Weighted normal equations, weight 1/p².
    let (mut sw, mut swv, mut swvv, mut swp, mut swvp) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &i in which {
        let (v, p) = points[i];
        let w = 1.0 / (p * p);
        sw += w;
        swv += w * v;
        swvv += w * v * v;
        swp += w * p;
        swvp += w * v * p;
    }
    let det = sw * swvv - swv * swv;
    if det.abs() <= f64::EPSILON * sw * swvv {
        return None;
    }
    let scale = (sw * swvp - swv * swp) / det;
    let shift = (swp - scale * swv) / sw;
    (scale.is_finite() && shift.is_finite()).then_some((scale, shift))
}

/// A small seeded generator for RANSAC's picks.
struct SplitMix(u64);

impl SplitMix {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z % n as u64) as usize
    }
}

/// What the alignment of one frame came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Alignment {
    /// Fitted on this frame (smoothed with the earlier fits).
    Fitted(Fit),
    /// This frame gave no fit; the last good one is used, `age` frames old.
    Held {
        /// The fit in use.
        fit: Fit,
        /// Frames since it was made.
        age: u32,
        /// Why this frame gave none.
        why: AlignError,
    },
    /// No fit, and none recent enough: the depth is relative, not metres.
    NotMetric(AlignError),
}

impl Alignment {
    /// The fit to turn values into metres with, if there is one.
    pub fn fit(&self) -> Option<&Fit> {
        match self {
            Alignment::Fitted(fit) | Alignment::Held { fit, .. } => Some(fit),
            Alignment::NotMetric(_) => None,
        }
    }
}

/// Fits every frame and smooths the fits over time.
#[derive(Debug, Clone, Default)]
pub struct Aligner {
    /// How fits are made, smoothed and held.
    pub settings: AlignSettings,
    last: Option<(Fit, u32)>,
}

/// Whether `fit` puts the median of `samples` within the inlier threshold
/// of their inverse depth (outliers, fewer than half, leave the median
/// alone).
fn still_fits(fit: &Fit, samples: &[Sample], settings: &AlignSettings) -> bool {
    let mut errors: Vec<f32> = samples
        .iter()
        .filter(|s| s.value.is_finite() && s.depth.is_finite() && s.depth > 0.0)
        .map(|s| ((fit.scale * s.value + fit.shift) * s.depth - 1.0).abs())
        .collect();
    if errors.is_empty() {
        return false;
    }
    let mid = errors.len() / 2;
    let (_, median, _) = errors.select_nth_unstable_by(mid, f32::total_cmp);
    *median <= settings.inlier_threshold
}

impl Aligner {
    /// An aligner with `settings`.
    pub fn new(settings: AlignSettings) -> Self {
        Self {
            settings,
            last: None,
        }
    }

    /// The alignment for the next frame's `samples`.
    pub fn update(&mut self, samples: &[Sample]) -> Alignment {
        match fit(samples, &self.settings) {
            Ok(new) => {
                let a = self.settings.smoothing.clamp(0.0, 1.0);
                // Blended only while the last fit still explains this
                // frame's anchors: a model's scale may jump from one frame
                // to the next, and a blend would then be wrong for both.
                let smoothed = match self.last {
                    Some((old, _)) if still_fits(&old, samples, &self.settings) => Fit {
                        scale: old.scale + a * (new.scale - old.scale),
                        shift: old.shift + a * (new.shift - old.shift),
                        ..new
                    },
                    _ => new,
                };
                self.last = Some((smoothed, 0));
                Alignment::Fitted(smoothed)
            }
            Err(why) => match &mut self.last {
                Some((fit, age)) if *age < self.settings.hold_frames => {
                    *age += 1;
                    Alignment::Held {
                        fit: *fit,
                        age: *age,
                        why,
                    }
                }
                _ => {
                    self.last = None;
                    Alignment::NotMetric(why)
                }
            },
        }
    }

    /// Forgets the fits (a new scene, a new model).
    pub fn reset(&mut self) {
        self.last = None;
    }
}
