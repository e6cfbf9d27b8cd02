//! What the alignment of one depth map came to, as the depth map and the
//! status report it.

use super::Alignment;

/// The alignment of one depth map, as the depth map and the status report
/// it: what the fit came to and how many anchors the frame brought.
#[derive(Debug, Clone, PartialEq)]
pub struct AlignReport {
    /// Fitted, held from an earlier frame, or not metric.
    pub alignment: Alignment,
    /// Anchors the frame carried.
    pub anchors: usize,
    /// Of those, how many were dropped (NaN, depth ≤ 0, outside the frame
    /// or outside what the model saw).
    pub dropped: usize,
}

impl AlignReport {
    /// Whether the depth map holds metres (a fit, fresh or held).
    pub fn is_metric(&self) -> bool {
        self.alignment.fit().is_some()
    }
}

impl std::fmt::Display for AlignReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dropped = if self.dropped > 0 {
            format!(", {} dropped", self.dropped)
        } else {
            String::new()
        };
        match &self.alignment {
            Alignment::Fitted(fit) => write!(
                f,
                "metric: fitted to {} of {} anchors{dropped}, residual {:.1} %",
                fit.inliers,
                self.anchors,
                fit.residual * 100.0
            ),
            Alignment::Held { fit, age, why } => write!(
                f,
                "metric: the fit of {age} frame(s) ago ({} inliers) is held; this frame: {why}{dropped}",
                fit.inliers
            ),
            Alignment::NotMetric(why) => write!(
                f,
                "not metric (relative depth, nothing shown as metres): {why}; {} anchors{dropped}",
                self.anchors
            ),
        }
    }
}
