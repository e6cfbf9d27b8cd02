//! Everything Bevy-facing: the plugin, its system sets, resources,
//! textures, messages, diagnostics and the overlay.
//!
//! One file a concept: the plugin and its configuration (here), the system
//! sets (`sets.rs`), starting the threads (`start.rs`), run-time settings
//! (`settings.rs`), receiving results (`receive.rs`), the status
//! (`status.rs`), the GPU textures (`textures/`), background and occlusion
//! (`occlusion/`), the proximity alert (`proximity.rs`), recording
//! (`record.rs`), diagnostics (`diagnostics.rs`) and the overlay
//! (`overlay/`).

mod diagnostics;
mod occlusion;
#[cfg(feature = "overlay")]
mod overlay;
mod proximity;
mod receive;
mod record;
mod sets;
mod settings;
mod start;
mod status;
mod textures;

use std::path::PathBuf;

use bevy::prelude::*;

pub use diagnostics::MonoDepthDiagnostics;
pub use occlusion::{
    ArProjection, DepthDisplay, DepthUpsampling, MonoDepthCamera, OcclusionMode, SoftOcclusion,
    SoftOcclusionMaterial, soft_occlusion,
};
#[cfg(feature = "overlay")]
pub use overlay::{MonoDepthOverlay, MonoDepthOverlayPlugin, TimingHistory, median_max};
pub use proximity::{MonoDepthProximity, ProximityAlert};
pub use receive::{CurrentDepth, NewDepth};
pub use record::MonoDepthRecorder;
pub use sets::MonoDepthSystems;
pub use settings::{BackgroundSync, MonoDepthSettings};
pub(crate) use start::Running;
pub use status::{AlignmentStatus, EngineStatus, MonoDepthStatus, ReprojectionStatus};
pub use textures::{DEPTH_FORMAT, DepthTextures, ExternalDepth, TextureError};

use crate::camera::ResizeMode;
pub use crate::engine::ModelSummary;
use crate::model::ModelOverrides;
use crate::session::SessionOptions;
pub use crate::sources::SourceStatus;
use crate::sources::folder::ImageFolder;
use crate::sources::{FrameHub, FramePusher};

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
    /// How a model of relative depth is made metric from each frame's
    /// anchors ([`crate::align`]; unused for models of metres).
    pub align: crate::align::AlignSettings,
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
            align: crate::align::AlignSettings::default(),
        }
    }
}

impl Plugin for MonoDepthPlugin {
    fn build(&self, app: &mut App) {
        // Nothing starts here: the threads start in `MonoDepthSystems::Start`
        // when the app runs, so building an app opens no file.
        let hub = FrameHub::default();
        sets::configure(app);
        app.insert_resource(start::StartRequest(self.clone()))
            .init_resource::<MonoDepthStatus>()
            .insert_resource(FramePusher::new(hub.clone()))
            .insert_resource(Running::new(hub))
            .init_resource::<MonoDepthSettings>()
            .init_resource::<CurrentDepth>()
            .init_resource::<MonoDepthProximity>()
            .add_message::<NewDepth>()
            .add_message::<ProximityAlert>()
            .add_systems(PreStartup, start::start.in_set(MonoDepthSystems::Start))
            .add_systems(
                PreUpdate,
                (
                    settings::apply_pause.in_set(MonoDepthSystems::Control),
                    (
                        receive::receive_sources,
                        receive::receive_depth,
                        receive::update_newest_background,
                    )
                        .chain()
                        .in_set(MonoDepthSystems::Receive),
                    record::record_depth.in_set(MonoDepthSystems::Record),
                    proximity::check_proximity.in_set(MonoDepthSystems::Proximity),
                ),
            );
        register_types(app);
        diagnostics::build(app);
        occlusion::build(app);
    }

    fn finish(&self, app: &mut App) {
        // After every plugin is built, so `Assets<Image>` exists whatever the order.
        textures::build(app);
        occlusion::finish(app);
    }
}

/// Registers the settings, components and status types for reflection, so
/// inspectors and scenes see them.
fn register_types(app: &mut App) {
    app.register_type::<MonoDepthSettings>()
        .register_type::<BackgroundSync>()
        .register_type::<MonoDepthStatus>()
        .register_type::<EngineStatus>()
        .register_type::<ReprojectionStatus>()
        .register_type::<AlignmentStatus>()
        .register_type::<SourceStatus>()
        .register_type::<MonoDepthCamera>()
        .register_type::<OcclusionMode>()
        .register_type::<DepthDisplay>()
        .register_type::<DepthUpsampling>()
        .register_type::<ArProjection>()
        .register_type::<MonoDepthProximity>()
        .register_type::<DepthTextures>()
        .register_type::<ResizeMode>()
        .register_type::<crate::camera::ImageMapping>()
        .register_type::<crate::camera::FrameRotation>()
        .register_type::<crate::temporal::TemporalSettings>()
        .register_type::<crate::proximity::ProximitySettings>()
        .register_type::<crate::camera::FocalCorrection>()
        .register_type::<crate::camera::Intrinsics>()
        .register_type::<crate::worker::WorkerStats>()
        .register_type::<ModelSummary>();
}
