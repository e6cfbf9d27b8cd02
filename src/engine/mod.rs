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

mod estimator;
pub mod postprocess;
pub mod preprocess;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::align::{AlignSettings, Aligner};
use crate::camera::{FocalCorrection, ResizeMode};
use crate::depth::DepthMap;
use crate::frame::CameraFrame;
use crate::model::{ModelError, ModelOverrides, ModelSpec};
use crate::runtime::{Runtime, RuntimeSearch};
use crate::session::{DepthSession, SessionOptions};

pub use estimator::{DepthEstimator, EngineError, ModelSummary, StageTimings};
use postprocess::{align_to_anchors, focal_correction, postprocess_mapped};
use preprocess::Preprocessor;

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
    /// How a model of relative depth
    /// ([`DepthUnits::AffineInverse`](crate::model::DepthUnits)) is made
    /// metric from each frame's anchors; unused for other models.
    pub align: AlignSettings,
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
            align: AlignSettings::default(),
        }
    }
}

/// A loaded model with its pre- and postprocessing.
pub struct DepthEngine {
    session: DepthSession,
    spec: ModelSpec,
    pre: Preprocessor,
    runtime: Runtime,
    aligner: Aligner,
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
            aligner: Aligner::new(config.align.clone()),
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

    /// For a model with dynamic input: sets the input size `frame` needs
    /// (long side and multiple from [`ModelSpec::dynamic_input`], short side
    /// from the frame's upright aspect), when it is not the one in use. The
    /// session reads the output's shape at the new size from one run, and
    /// the preprocessor is made anew for it.
    fn follow_frame(&mut self, frame: &CameraFrame) -> Result<(), EngineError> {
        let Some(dynamic) = self.spec.dynamic_input else {
            return Ok(());
        };
        let (w, h) = frame.display_size();
        let (width, height) = dynamic.size_for(w, h);
        if (width, height) == (self.spec.input_width, self.spec.input_height) {
            return Ok(());
        }
        self.session
            .set_input_size(height as usize, width as usize)?;
        let (out_h, out_w) = match self.session.output.shape.as_slice() {
            &[1, 1, h, w] | &[1, h, w] => (h, w),
            other => {
                return Err(ModelError::UnexpectedSignature {
                    path: self.session.path().to_path_buf(),
                    expected: "output shape [1,1,H,W] or [1,H,W]".to_owned(),
                    found: format!("{other:?} at input {width}×{height}"),
                }
                .into());
            }
        };
        // Both fit in u32: the session refused more than 64 Mi values.
        self.spec.input_width = width;
        self.spec.input_height = height;
        self.spec.output_width = out_w as u32;
        self.spec.output_height = out_h as u32;
        self.pre = Preprocessor::new(&self.spec, self.pre.mode());
        tracing::debug!(
            "{}: input {width}×{height}, output {out_w}×{out_h} for {w}×{h} frames",
            self.session.path().display()
        );
        Ok(())
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

impl DepthEstimator for DepthEngine {
    fn estimate_into(
        &mut self,
        frame: &CameraFrame,
        out: &mut DepthMap,
    ) -> Result<StageTimings, EngineError> {
        let mut timings = StageTimings::default();
        let start = Instant::now();
        self.follow_frame(frame)?;
        let mapping = self.pre.process(frame)?;
        timings.preprocess = start.elapsed();

        let spec = &self.spec;
        let aligner = &mut self.aligner;
        let mut post = Duration::ZERO;
        let start = Instant::now();
        self.session.run_with(self.pre.tensor(), |raw| {
            let post_start = Instant::now();
            let (w, h) = (spec.output_width, spec.output_height);
            let (units, alignment) = match spec.units {
                crate::model::DepthUnits::AffineInverse => {
                    let (units, report) = align_to_anchors(raw, w, h, mapping, frame, aligner);
                    (units, Some(report))
                }
                units => (units, None),
            };
            postprocess_mapped(raw, w, h, units, spec.depth_range, mapping, out);
            out.alignment = alignment;
            post = post_start.elapsed();
        })?;
        timings.inference = start.elapsed().saturating_sub(post);
        timings.postprocess = post;
        out.sequence = frame.sequence;
        out.timestamp = frame.timestamp;
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
