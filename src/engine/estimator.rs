//! What the worker runs: the [`DepthEstimator`] trait, its errors, and what
//! it reports (per-stage timings, a model summary).

use bevy::reflect::Reflect;
use std::path::PathBuf;
use std::time::Duration;

use crate::depth::DepthMap;
use crate::frame::{CameraFrame, FrameError};
use crate::runtime::RuntimeError;
use crate::session::ModelError;

use super::preprocess::PreprocessError;

/// Errors from the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// ONNX Runtime could not be found or loaded.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The model could not be loaded, is not usable, or failed to run.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The frame could not be turned into the model input.
    #[error(transparent)]
    Preprocess(#[from] PreprocessError),
    /// The frame was refused.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// Anything else (e.g. a panic caught by the worker).
    #[error("{0}")]
    Other(String),
}

/// Time spent on one frame, per stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageTimings {
    /// From submission to the start of processing (set by the worker).
    pub wait: Duration,
    /// Resize, colour conversion, normalisation.
    pub preprocess: Duration,
    /// `session.run`.
    pub inference: Duration,
    /// Units, validity, statistics.
    pub postprocess: Duration,
    /// Temporal stabilisation (set by the worker; zero when off).
    pub stabilise: Duration,
}

impl StageTimings {
    /// Preprocess + inference + postprocess + stabilisation (without the
    /// wait).
    pub fn processing(&self) -> Duration {
        self.preprocess + self.inference + self.postprocess + self.stabilise
    }
}

/// What an estimator runs, for status displays.
#[derive(Debug, Clone, PartialEq, Default, Reflect)]
pub struct ModelSummary {
    /// The model file, if there is one.
    pub path: Option<PathBuf>,
    /// Model name (`mono_depth.model`), if known.
    pub name: Option<String>,
    /// Input tensor shape.
    pub input_shape: Vec<usize>,
    /// Output tensor shape.
    pub output_shape: Vec<usize>,
    /// Whether the weights are trained (`mono_depth.trained = true`).
    /// Untrained models (random weights, test models) do not give depth.
    pub trained: bool,
    /// Where the weights came from (`mono_depth.weights`).
    pub weights: Option<String>,
    /// Which execution provider runs it.
    pub provider: String,
    /// The ONNX Runtime library in use (`None` when linked statically or not used).
    pub runtime_library: Option<PathBuf>,
}

impl ModelSummary {
    /// A summary with only a name (for estimators that are not ONNX models).
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            ..Self::default()
        }
    }
}

impl std::fmt::Display for ModelSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name.as_deref().unwrap_or("unnamed model"))?;
        if let Some(path) = &self.path {
            write!(f, " ({})", path.display())?;
        }
        if !self.input_shape.is_empty() {
            write!(
                f,
                ", input {:?}, output {:?}",
                self.input_shape, self.output_shape
            )?;
        }
        if !self.provider.is_empty() {
            write!(f, " on {}", self.provider)?;
        }
        if !self.trained {
            f.write_str(" — untrained: output is not depth")?;
        }
        Ok(())
    }
}

/// Something that turns frames into depth maps: the ONNX engine, or a
/// stand-in (a recording's depth, a test double).
pub trait DepthEstimator: Send {
    /// Writes the depth for `frame` into `out` (reusing its buffers).
    fn estimate_into(
        &mut self,
        frame: &CameraFrame,
        out: &mut DepthMap,
    ) -> Result<StageTimings, EngineError>;

    /// What runs (model, provider), for status displays.
    fn summary(&self) -> ModelSummary;

    /// [`Self::summary`] as one line.
    fn describe(&self) -> String {
        self.summary().to_string()
    }
}
