//! The depth engine: frame in, metric depth map out, on the calling thread.
//!
//! [`DepthEngine`] ties a model ([`DepthSession`]), its spec
//! ([`ModelSpec`]), a [`Preprocessor`] and postprocessing together, and times
//! each stage. The [`worker`](crate::worker) runs one on its own thread.
//!
//! ```no_run
//! use bevy_mono_depth::engine::{DepthEngine, EngineConfig};
//! use bevy_mono_depth::frame::{CameraFrame, PixelFormat};
//!
//! let mut engine = DepthEngine::load(&EngineConfig::new("assets/models/fcrn.onnx"))?;
//! let frame = CameraFrame::packed(PixelFormat::Rgb8, 640, 480, vec![128u8; 640 * 480 * 3])?;
//! let (depth, timings) = engine.estimate(&frame)?;
//! println!("{}×{} depth, nearest {:.2} m, inference {:?} on {}",
//!     depth.width(), depth.height(), depth.stats().min, timings.inference, engine.provider());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::camera::FocalCorrection;
use crate::depth::{DepthMap, postprocess_mapped};
use crate::frame::{CameraFrame, FrameError};
use crate::model::{DepthUnits, ModelOverrides, ModelSpec};
use crate::preprocess::{ImageMapping, PreprocessError, Preprocessor, ResizeMode};
use crate::runtime::{Runtime, RuntimeError, RuntimeSearch};
use crate::session::{DepthSession, ModelError, SessionOptions};

/// What to load and how to run it.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// The ONNX model file.
    pub model: PathBuf,
    /// Explicit ONNX Runtime library (see [`crate::runtime`] for the search order).
    pub runtime_library: Option<PathBuf>,
    /// Session set-up: threads, optimisation, execution provider.
    pub session: SessionOptions,
    /// How frames are fitted to the model input.
    pub resize: ResizeMode,
    /// Model-spec values set in code.
    pub overrides: ModelOverrides,
    /// Run the model once at load, so the first real frame is not slow.
    pub warm_up: bool,
}

impl EngineConfig {
    /// Defaults for `model`: `SessionOptions::default()` (the `Auto` provider), fill mode, warm-up on.
    pub fn new(model: impl Into<PathBuf>) -> Self {
        Self {
            model: model.into(),
            runtime_library: None,
            session: SessionOptions::default(),
            resize: ResizeMode::default(),
            overrides: ModelOverrides::default(),
            warm_up: true,
        }
    }
}

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
}

impl StageTimings {
    /// Preprocess + inference + postprocess (without the wait).
    pub fn processing(&self) -> Duration {
        self.preprocess + self.inference + self.postprocess
    }
}

/// What an estimator runs, for status displays.
#[derive(Debug, Clone, PartialEq, Default)]
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

/// A loaded model with its pre- and postprocessing.
pub struct DepthEngine {
    session: DepthSession,
    spec: ModelSpec,
    pre: Preprocessor,
    runtime: Runtime,
}

impl std::fmt::Debug for DepthEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DepthEngine")
            .field("session", &self.session)
            .field("spec", &self.spec)
            .field("pre", &self.pre)
            .finish_non_exhaustive()
    }
}

impl DepthEngine {
    /// Locates ONNX Runtime, loads and checks the model, reads its spec and
    /// (if asked) runs it once.
    pub fn load(config: &EngineConfig) -> Result<Self, EngineError> {
        let runtime = Runtime::load(&RuntimeSearch::from_env(config.runtime_library.clone()))?;
        Self::load_with(&runtime, config)
    }

    /// Like [`Self::load`] with a runtime already loaded.
    pub fn load_with(runtime: &Runtime, config: &EngineConfig) -> Result<Self, EngineError> {
        let mut session = DepthSession::load(runtime, &config.model, &config.session)?;
        let spec = ModelSpec::from_session(&session, &config.overrides)?;
        let expected_out = spec.output_width as usize * spec.output_height as usize;
        if session.output.len() != expected_out {
            return Err(ModelError::UnexpectedSignature {
                path: config.model.clone(),
                expected: format!("an output of {}×{}", spec.output_width, spec.output_height),
                found: format!("{:?}", session.output.shape),
            }
            .into());
        }
        if config.warm_up {
            let zeros = vec![0.0; session.input.len()];
            session.run_with(&zeros, |_| ())?;
        }
        Ok(Self {
            pre: Preprocessor::new(&spec, config.resize),
            session,
            spec,
            runtime: runtime.clone(),
        })
    }

    /// The model spec in use.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// The loaded session.
    pub fn session(&self) -> &DepthSession {
        &self.session
    }

    /// The ONNX Runtime this engine runs on.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Which execution provider runs the model.
    pub fn provider(&self) -> &str {
        self.session.provider()
    }

    /// Changes how frames are fitted to the model input.
    pub fn set_resize_mode(&mut self, mode: ResizeMode) {
        self.pre.set_mode(mode);
    }

    /// Estimates depth for `frame` into a new map.
    pub fn estimate(
        &mut self,
        frame: &CameraFrame,
    ) -> Result<(DepthMap, StageTimings), EngineError> {
        let mut map = DepthMap::empty();
        let timings = self.estimate_into(frame, &mut map)?;
        Ok((map, timings))
    }
}

/// How depth from a model described by `spec`, for `frame` fitted to the
/// input by `mapping`, is corrected for the camera's focal length: the
/// frame's intrinsics carried to the model input, over the training focal
/// length.
fn focal_correction(
    spec: &ModelSpec,
    frame: &CameraFrame,
    mapping: &ImageMapping,
) -> FocalCorrection {
    if !matches!(spec.units, DepthUnits::Metres) {
        return FocalCorrection::NotMetric;
    }
    let Some(train) = spec.focal_px else {
        return FocalCorrection::NoModelFocal;
    };
    let Some(k) = frame.display_intrinsics() else {
        return FocalCorrection::NoIntrinsics;
    };
    let input = k.in_region(
        mapping,
        frame.display_size(),
        (spec.input_width, spec.input_height),
    );
    let factor = input.focal() / train;
    if factor.is_finite() && factor > 0.0 {
        FocalCorrection::Applied {
            factor,
            assumed: k.assumed,
        }
    } else {
        FocalCorrection::NoIntrinsics
    }
}

impl DepthEstimator for DepthEngine {
    fn estimate_into(
        &mut self,
        frame: &CameraFrame,
        out: &mut DepthMap,
    ) -> Result<StageTimings, EngineError> {
        let mut timings = StageTimings::default();
        let start = Instant::now();
        let mapping = self.pre.process(frame)?;
        timings.preprocess = start.elapsed();

        let spec = &self.spec;
        let mut post = Duration::ZERO;
        let start = Instant::now();
        self.session.run_with(self.pre.tensor(), |raw| {
            let post_start = Instant::now();
            postprocess_mapped(
                raw,
                spec.output_width,
                spec.output_height,
                spec.units,
                spec.depth_range,
                mapping,
                out,
            );
            post = post_start.elapsed();
        })?;
        timings.inference = start.elapsed().saturating_sub(post);
        timings.postprocess = post;
        out.sequence = frame.sequence;
        out.timestamp = frame.timestamp;
        out.mapping = mapping;
        out.focal = focal_correction(spec, frame, &mapping);
        if let FocalCorrection::Applied { factor, .. } = out.focal {
            out.scale(factor);
        }
        Ok(timings)
    }

    fn summary(&self) -> ModelSummary {
        ModelSummary {
            path: Some(self.session.path().to_path_buf()),
            name: self.spec.name.clone(),
            input_shape: self.session.input.shape.clone(),
            output_shape: self.session.output.shape.clone(),
            trained: self.spec.trained,
            weights: self.spec.weights.clone(),
            provider: self.provider().to_owned(),
            runtime_library: self.runtime.library.clone(),
        }
    }
}
