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
