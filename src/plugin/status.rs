//! The status resource apps and the overlay read.

use std::fmt;

use bevy::prelude::*;

use crate::camera::FocalCorrection;
use crate::engine::ModelSummary;
use crate::sources::SourceStatus;
use crate::worker::WorkerStats;

/// What the depth engine and the frame source are doing. Updated in
/// [`MonoDepthSystems::Receive`](super::MonoDepthSystems::Receive).
#[derive(Resource, Debug, Clone, Default, Reflect)]
#[reflect(Resource, Debug, Default)]
pub struct MonoDepthStatus {
    /// ONNX Runtime and the model.
    pub engine: EngineStatus,
    /// Where frames come from.
    pub source: SourceStatus,
    /// Frame counts of the inference thread.
    pub frames: WorkerStats,
    /// The last frame that failed, and why (`None` once a frame succeeds).
    pub last_frame_error: Option<String>,
    /// Why the last frame or depth map was not shown on the GPU (too large
    /// for its textures, or empty); `None` once one is.
    pub texture_error: Option<String>,
    /// Whether the newest depth's metres were corrected for the camera's
    /// focal length, or why not.
    pub focal: FocalCorrection,
    /// Whether the depth shown was moved into the pose of the frame on
    /// screen ([`BackgroundSync::Reprojected`](super::BackgroundSync)).
    pub reprojection: ReprojectionStatus,
    /// How much older the frame the depth came from is than the frame on
    /// screen (arrival times); `None` until both exist. Zero when the
    /// background is synced with the depth.
    pub depth_age: Option<std::time::Duration>,
    /// For a model of relative depth: whether the newest depth map was made
    /// metric from its frame's anchors.
    pub alignment: AlignmentStatus,
}

/// Whether relative depth was made metric ([`crate::align`]).
#[derive(Debug, Clone, Default, PartialEq, Reflect)]
#[non_exhaustive]
pub enum AlignmentStatus {
    /// The model outputs metres (or no depth has arrived yet).
    #[default]
    NotNeeded,
    /// The depth map holds metres fitted to anchors.
    Metric {
        /// Anchors the frame carried.
        anchors: usize,
        /// Anchors the fit explains.
        inliers: usize,
        /// Median relative error of those, in inverse depth.
        residual: f32,
        /// Frames since the fit was made (0: fitted on this frame).
        age: u32,
    },
    /// No fit, fresh or recent: the depth map has no valid texel, so
    /// nothing is occluded and the proximity alert sees nothing.
    NotMetric(String),
}

impl AlignmentStatus {
    /// The status for a depth map's alignment report.
    pub fn of(report: Option<&crate::align::AlignReport>) -> Self {
        use crate::align::Alignment;
        let Some(report) = report else {
            return Self::NotNeeded;
        };
        match &report.alignment {
            Alignment::Fitted(fit) => Self::Metric {
                anchors: report.anchors,
                inliers: fit.inliers,
                residual: fit.residual,
                age: 0,
            },
            Alignment::Held { fit, age, .. } => Self::Metric {
                anchors: report.anchors,
                inliers: fit.inliers,
                residual: fit.residual,
                age: *age,
            },
            Alignment::NotMetric(_) => Self::NotMetric(report.to_string()),
        }
    }
}

impl fmt::Display for AlignmentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlignmentStatus::NotNeeded => f.write_str("metric model: no alignment needed"),
            AlignmentStatus::Metric {
                anchors,
                inliers,
                residual,
                age,
            } => {
                write!(
                    f,
                    "metric from anchors: {inliers} of {anchors} fit, residual {:.1} %",
                    residual * 100.0
                )?;
                if *age > 0 {
                    write!(f, ", held from {age} frame(s) ago")?;
                }
                Ok(())
            }
            AlignmentStatus::NotMetric(why) => f.write_str(why),
        }
    }
}

/// Whether the depth on screen was reprojected into the frame's pose.
#[derive(Debug, Clone, Default, PartialEq, Reflect)]
#[non_exhaustive]
pub enum ReprojectionStatus {
    /// Not asked for (the background is `Synced` or `Newest`).
    #[default]
    Off,
    /// The depth was moved into the pose of the frame on screen.
    Reprojected {
        /// Valid texels of the reprojected map.
        valid: usize,
        /// Valid texels of the depth map it came from.
        source_valid: usize,
    },
    /// Asked for, but the depth is shown as the model gave it; the reason
    /// says why (no pose on the frames, a changed frame size).
    NotReprojected(String),
}

impl fmt::Display for ReprojectionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReprojectionStatus::Off => f.write_str("not asked for"),
            ReprojectionStatus::Reprojected {
                valid,
                source_valid,
            } => write!(
                f,
                "reprojected into the frame on screen ({valid} of {source_valid} texels have depth)"
            ),
            ReprojectionStatus::NotReprojected(why) => write!(f, "not reprojected: {why}"),
        }
    }
}

/// State of ONNX Runtime and the model.
#[derive(Debug, Clone, Default, PartialEq, Reflect)]
#[non_exhaustive]
pub enum EngineStatus {
    /// Locating ONNX Runtime and loading the model.
    #[default]
    Starting,
    /// The model is loaded and checked; depth is produced for every frame.
    Running(ModelSummary),
    /// The plugin was configured without a model.
    NoModel,
    /// ONNX Runtime could not be found or loaded; the reason says what to do.
    RuntimeUnavailable(String),
    /// The model could not be loaded or is not usable; the reason says why.
    ModelFailed(String),
}

impl fmt::Display for EngineStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineStatus::Starting => f.write_str("starting"),
            EngineStatus::Running(model) => write!(f, "running {model}"),
            EngineStatus::NoModel => f.write_str("no model configured"),
            EngineStatus::RuntimeUnavailable(reason) => {
                write!(f, "ONNX Runtime unavailable: {reason}")
            }
            EngineStatus::ModelFailed(reason) => write!(f, "model failed: {reason}"),
        }
    }
}
