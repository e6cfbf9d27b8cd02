//! Everything Bevy-facing: the plugin, its status resource and the overlay.

mod loader;
#[cfg(feature = "overlay")]
mod overlay;
mod status;

use std::path::PathBuf;

use bevy::prelude::*;

pub use loader::ModelSummary;
#[cfg(feature = "overlay")]
pub use overlay::MonoDepthOverlayPlugin;
pub use status::{EngineStatus, MonoDepthStatus, SourceStatus};

use crate::session::SessionOptions;

/// Where the example and the model tooling put the converted FCRN model.
pub const DEFAULT_MODEL_PATH: &str = "assets/models/fcrn.onnx";

/// Adds monocular depth to an app.
///
/// On start-up it locates ONNX Runtime and loads the model on a thread of its
/// own (the app keeps running while it does), then reports the outcome in
/// [`MonoDepthStatus`]. A missing runtime or model is a status, not a panic.
#[derive(Debug, Clone)]
pub struct MonoDepthPlugin {
    /// The ONNX model to run. `None` starts without a model (the status says so).
    /// Defaults to [`DEFAULT_MODEL_PATH`].
    pub model: Option<PathBuf>,
    /// Explicit path of the ONNX Runtime library (file or folder). Looked at
    /// before `ORT_DYLIB_PATH` and the executable's folder; see [`crate::runtime`].
    pub runtime_library: Option<PathBuf>,
    /// How the ONNX Runtime session is set up.
    pub session: SessionOptions,
    /// Look for a webcam at start-up and report what was found in
    /// [`MonoDepthStatus::source`] (feature `webcam`). Default `true`.
    pub probe_webcam: bool,
}

impl Default for MonoDepthPlugin {
    fn default() -> Self {
        Self {
            model: Some(PathBuf::from(DEFAULT_MODEL_PATH)),
            runtime_library: None,
            session: SessionOptions::default(),
            probe_webcam: true,
        }
    }
}

/// System sets of the plugin, for ordering app systems around it.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum MonoDepthSystems {
    /// Runs in `PreUpdate`: takes what the background threads reported and
    /// updates [`MonoDepthStatus`]. Systems that read the status run after it.
    Receive,
}

impl Plugin for MonoDepthPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<MonoDepthStatus>()
            .configure_sets(PreUpdate, MonoDepthSystems::Receive)
            .add_systems(
                PreUpdate,
                (loader::receive_engine_status, loader::receive_source_status)
                    .in_set(MonoDepthSystems::Receive),
            );
        let engine = loader::start_engine(
            self.model.clone(),
            self.runtime_library.clone(),
            self.session.clone(),
        );
        app.insert_resource(engine);
        let source = loader::start_source_probe(self.probe_webcam);
        app.insert_resource(source);
    }
}
