//! The status resource apps and the overlay read.

use std::fmt;

use bevy::prelude::*;

use crate::camera::FocalCorrection;
use crate::engine::ModelSummary;
use crate::sources::SourceStatus;
use crate::worker::WorkerStats;

/// What the depth engine and the frame source are doing. Updated in
/// [`MonoDepthSystems::Receive`](super::MonoDepthSystems::Receive).
#[derive(Resource, Debug, Clone, Default)]
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
}

/// State of ONNX Runtime and the model.
#[derive(Debug, Clone, Default, PartialEq)]
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
