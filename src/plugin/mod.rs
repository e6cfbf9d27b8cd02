//! Everything Bevy-facing: the plugin, its resources, textures, messages,
//! diagnostics and the overlay.

mod diagnostics;
mod occlusion;
#[cfg(feature = "overlay")]
mod overlay;
mod proximity;
mod receive;
mod record;
mod status;
mod textures;

use std::path::PathBuf;
use std::sync::Arc;

use bevy::prelude::*;

pub use diagnostics::MonoDepthDiagnostics;
pub use occlusion::{
    ArProjection, DepthDisplay, DepthUpsampling, MonoDepthCamera, OcclusionMode, OcclusionView,
    SoftOcclusion, SoftOcclusionMaterial, frame_to_depth, screen_to_frame, soft_occlusion,
};
#[cfg(feature = "overlay")]
pub use overlay::{MonoDepthOverlay, MonoDepthOverlayPlugin, TimingHistory, median_max};
pub use proximity::{MonoDepthProximity, ProximityAlert};
pub use receive::{CurrentDepth, NewDepth};
pub use record::MonoDepthRecorder;
pub use status::{EngineStatus, MonoDepthStatus, ReprojectionStatus};
pub use textures::{DEPTH_FORMAT, DepthTextures};

pub use crate::engine::ModelSummary;
use crate::engine::{DepthEstimator, EngineConfig};
use crate::model::ModelOverrides;
use crate::preprocess::ResizeMode;
use crate::session::SessionOptions;
pub use crate::sources::SourceStatus;
use crate::sources::folder::ImageFolder;
use crate::sources::recording::{Recording, ReplayEstimator};
use crate::sources::{FrameHub, FramePusher, SourceThread};
use crate::worker::DepthWorker;
use crate::worker::EstimatorFactory;

/// Where the example and the model tooling put the converted FCRN model.
pub const DEFAULT_MODEL_PATH: &str = "assets/models/fcrn.onnx";

/// Which frame source the plugin starts. Frames pushed with
/// [`FramePusher`] are taken whatever the choice.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub enum FrameSource {
    /// Only frames the app pushes through [`FramePusher`] (an iOS app's camera
    /// callback, a capture library the game already uses).
    #[default]
    Pushed,
    /// A webcam (feature `webcam`).
    #[cfg(feature = "webcam")]
    Webcam(crate::sources::webcam::Webcam),
    /// A folder of images, in name order, looping.
    ImageFolder(ImageFolder),
    /// An RGB-D recording played back at its recorded pace, looping, with
    /// its recorded depth: no model runs (the plugin's `model` is ignored),
    /// no camera is needed. See [`crate::sources::recording`].
    Replay(PathBuf),
}

/// Adds monocular depth to an app.
///
/// The model loads on the inference thread while the app runs; frames from
/// the chosen [`FrameSource`] (and any pushed with [`FramePusher`]) go to it,
/// and each result lands in [`CurrentDepth`], the depth texture of
/// [`DepthTextures`] and a [`NewDepth`] message. A missing runtime, model or
/// camera is a [`MonoDepthStatus`], never a panic.
#[derive(Debug, Clone)]
pub struct MonoDepthPlugin {
    /// The ONNX model. `None` runs without depth (the background still shows).
    /// Defaults to [`DEFAULT_MODEL_PATH`].
    pub model: Option<PathBuf>,
    /// Explicit ONNX Runtime library (file or folder), looked at before
    /// `ORT_DYLIB_PATH` and the executable's folder; see [`crate::runtime`].
    pub runtime_library: Option<PathBuf>,
    /// ONNX Runtime session set-up (threads, provider).
    pub session: SessionOptions,
    /// How frames are fitted to the model input.
    pub resize: ResizeMode,
    /// Model-spec values set in code.
    pub overrides: ModelOverrides,
    /// Where frames come from.
    pub source: FrameSource,
}

impl Default for MonoDepthPlugin {
    fn default() -> Self {
        Self {
            model: Some(PathBuf::from(DEFAULT_MODEL_PATH)),
            runtime_library: None,
            session: SessionOptions::default(),
            resize: ResizeMode::default(),
            overrides: ModelOverrides::default(),
            source: FrameSource::default(),
        }
    }
}

/// Which camera frame the background shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BackgroundSync {
    /// The frame the current depth was computed from (default): occlusion
    /// lines up with the image, at the cost of showing the image as late as
    /// the depth (one inference behind the camera).
    #[default]
    Synced,
    /// The newest camera frame: less lag, but with a slow model the depth
    /// (and so occlusion edges) trails moving objects.
    Newest,
    /// The newest camera frame, with the depth moved into its camera pose
    /// ([`crate::reproject`]): the live image, and occlusion that follows
    /// camera motion. Needs a pose and intrinsics on every frame (ARKit
    /// gives both; see [`crate::pose`]); without them it shows what
    /// [`Self::Newest`] shows and [`MonoDepthStatus::reprojection`] says
    /// why. Things that move by themselves still trail by the model's
    /// latency.
    Reprojected,
}

/// Settings that can change while the app runs.
#[derive(Resource, Debug, Clone, PartialEq)]
pub struct MonoDepthSettings {
    /// Which frame the background shows.
    pub background: BackgroundSync,
    /// Stop sending frames to the model (the background keeps showing the
    /// newest frame; the last depth map stays).
    pub paused: bool,
    /// Temporal stabilisation of each new depth map, with per-pixel
    /// confidence ([`crate::temporal`]); `None` publishes the model's depth
    /// as it is (confidence 1 wherever valid). On by default.
    pub stabilisation: Option<crate::temporal::TemporalSettings>,
}

impl Default for MonoDepthSettings {
    fn default() -> Self {
        Self {
            background: BackgroundSync::default(),
            paused: false,
            stabilisation: Some(crate::temporal::TemporalSettings::default()),
        }
    }
}

fn apply_pause(settings: Res<MonoDepthSettings>, running: Res<Running>) {
    if settings.is_changed() {
        let sender = running
            .worker
            .as_ref()
            .filter(|_| !settings.paused)
            .map(DepthWorker::sender);
        running.hub.connect(sender);
    }
}

/// System sets of the plugin, for ordering app systems around it.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum MonoDepthSystems {
    /// Runs in `PreUpdate`: takes results from the inference thread and the
    /// sources, updates [`CurrentDepth`], [`DepthTextures`], [`MonoDepthStatus`],
    /// diagnostics, and writes [`NewDepth`]. Systems that read depth run in
    /// `Update` or after this set.
    Receive,
}

/// The running worker and source (dropped with the app, which stops them).
#[derive(Resource)]
pub(crate) struct Running {
    pub(crate) worker: Option<DepthWorker>,
    pub(crate) hub: FrameHub,
    _source: Option<SourceThread>,
}

impl Plugin for MonoDepthPlugin {
    fn build(&self, app: &mut App) {
        let hub = FrameHub::default();
        let mut status = MonoDepthStatus::default();
        let replay = match &self.source {
            FrameSource::Replay(dir) => match Recording::open(dir.clone()) {
                Ok(recording) => Some(Arc::new(recording)),
                Err(e) => {
                    status.source = SourceStatus::Failed(e.to_string());
                    status.engine = EngineStatus::ModelFailed(format!("no recorded depth: {e}"));
                    None
                }
            },
            _ => None,
        };
        let worker = match (&self.model, &replay) {
            (_, Some(recording)) => {
                let recording = Arc::clone(recording);
                let factory: EstimatorFactory = Box::new(move || {
                    Ok(Box::new(ReplayEstimator::new(Arc::clone(&recording)))
                        as Box<dyn DepthEstimator>)
                });
                match DepthWorker::spawn(factory) {
                    Ok(worker) => Some(worker),
                    Err(e) => {
                        status.engine = EngineStatus::ModelFailed(format!(
                            "could not start the replay thread: {e}"
                        ));
                        None
                    }
                }
            }
            (_, None) if matches!(self.source, FrameSource::Replay(_)) => None,
            (None, None) => {
                status.engine = EngineStatus::NoModel;
                None
            }
            (Some(model), None) => {
                let config = EngineConfig {
                    runtime_library: self.runtime_library.clone(),
                    session: self.session.clone(),
                    resize: self.resize,
                    overrides: self.overrides.clone(),
                    ..EngineConfig::new(model.clone())
                };
                match DepthWorker::with_engine(config) {
                    Ok(worker) => Some(worker),
                    Err(e) => {
                        status.engine = EngineStatus::ModelFailed(format!(
                            "could not start the inference thread: {e}"
                        ));
                        None
                    }
                }
            }
        };
        hub.connect(worker.as_ref().map(DepthWorker::sender));
        let source = start_source(&self.source, replay, &hub, &mut status);
        app.insert_resource(status)
            .insert_resource(FramePusher::new(hub.clone()))
            .insert_resource(Running {
                worker,
                hub,
                _source: source,
            })
            .init_resource::<MonoDepthSettings>()
            .init_resource::<CurrentDepth>()
            .add_message::<NewDepth>()
            .configure_sets(PreUpdate, MonoDepthSystems::Receive)
            .add_systems(
                PreUpdate,
                (
                    receive::receive_sources,
                    receive::receive_depth,
                    receive::update_newest_background,
                )
                    .chain()
                    .in_set(MonoDepthSystems::Receive),
            )
            .add_systems(PreUpdate, apply_pause.before(MonoDepthSystems::Receive))
            .init_resource::<MonoDepthProximity>()
            .add_message::<ProximityAlert>()
            .add_systems(
                PreUpdate,
                (record::record_depth, proximity::check_proximity).after(MonoDepthSystems::Receive),
            );
        diagnostics::build(app);
        occlusion::build(app);
    }

    fn finish(&self, app: &mut App) {
        // After every plugin is built, so `Assets<Image>` exists whatever the order.
        textures::build(app);
        occlusion::finish(app);
    }
}

fn start_source(
    source: &FrameSource,
    replay: Option<Arc<Recording>>,
    hub: &FrameHub,
    status: &mut MonoDepthStatus,
) -> Option<SourceThread> {
    let started = match source {
        FrameSource::Pushed => return None,
        FrameSource::Replay(_) => match replay {
            Some(recording) => crate::sources::recording::spawn_replay(hub.clone(), recording),
            None => return None,
        },
        #[cfg(feature = "webcam")]
        FrameSource::Webcam(settings) => {
            crate::sources::webcam::spawn(hub.clone(), settings.clone())
        }
        FrameSource::ImageFolder(settings) => {
            crate::sources::folder::spawn(hub.clone(), settings.clone())
        }
    };
    match started {
        Ok(thread) => Some(thread),
        Err(e) => {
            status.source = SourceStatus::Failed(format!("could not start the source thread: {e}"));
            None
        }
    }
}
