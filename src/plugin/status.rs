//! The status resource apps and the overlay read.

use std::fmt;

use bevy::prelude::*;

use super::ModelSummary;

/// What the depth engine and the frame source are doing. Updated in
/// [`MonoDepthSystems::Receive`](super::MonoDepthSystems::Receive).
#[derive(Resource, Debug, Clone, Default)]
pub struct MonoDepthStatus {
    /// ONNX Runtime and the model.
    pub engine: EngineStatus,
    /// Where frames come from.
    pub source: SourceStatus,
}

/// State of ONNX Runtime and the model.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum EngineStatus {
    /// Locating ONNX Runtime and loading the model.
    #[default]
    Starting,
    /// The model is loaded and its inputs and outputs checked.
    Ready(ModelSummary),
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
            EngineStatus::Ready(model) => write!(f, "ready: {model}"),
            EngineStatus::NoModel => f.write_str("no model configured"),
            EngineStatus::RuntimeUnavailable(reason) => {
                write!(f, "ONNX Runtime unavailable: {reason}")
            }
            EngineStatus::ModelFailed(reason) => write!(f, "model failed: {reason}"),
        }
    }
}

/// State of the frame source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SourceStatus {
    /// No frame source is configured.
    #[default]
    NoSource,
    /// Looking for cameras.
    Probing,
    /// Cameras were found (their names).
    CamerasFound(Vec<String>),
    /// No camera could be used; the reason says why.
    NoCamera(String),
}

impl fmt::Display for SourceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceStatus::NoSource => f.write_str("no frame source"),
            SourceStatus::Probing => f.write_str("looking for cameras"),
            SourceStatus::CamerasFound(names) => write!(f, "cameras: {}", names.join(", ")),
            SourceStatus::NoCamera(reason) => write!(f, "{reason}"),
        }
    }
}
