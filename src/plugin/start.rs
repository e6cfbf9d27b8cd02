//! Starting the plugin's threads when the app starts (not when the plugin
//! is built): the inference thread with the model or a recording's depth,
//! and the frame source.

use std::sync::Arc;

use bevy::prelude::*;

use super::{EngineStatus, FrameSource, MonoDepthPlugin, MonoDepthStatus, SourceStatus};
use crate::engine::{DepthEstimator, EngineConfig};
use crate::sources::recording::{Recording, ReplayEstimator};
use crate::sources::{FrameHub, SourceThread};
use crate::worker::{DepthWorker, EstimatorFactory};

/// The plugin's configuration, kept from `build` until [`start`] uses it.
#[derive(Resource)]
pub(super) struct StartRequest(pub(super) MonoDepthPlugin);

/// The running worker and source (dropped with the app, which stops them).
#[derive(Resource)]
pub(crate) struct Running {
    pub(crate) worker: Option<DepthWorker>,
    pub(crate) hub: FrameHub,
    source: Option<SourceThread>,
}

impl Running {
    /// Nothing started yet; frames pushed into `hub` wait for the worker.
    pub(super) fn new(hub: FrameHub) -> Self {
        Self {
            worker: None,
            hub,
            source: None,
        }
    }
}

/// Opens the recording of a replay, starts the inference thread and the
/// frame source ([`MonoDepthSystems::Start`](super::MonoDepthSystems::Start)).
pub(super) fn start(
    mut commands: Commands,
    request: Option<Res<StartRequest>>,
    mut running: ResMut<Running>,
    mut status: ResMut<MonoDepthStatus>,
    settings: Res<super::MonoDepthSettings>,
) {
    let Some(request) = request else { return };
    commands.remove_resource::<StartRequest>();
    let request = &request.0;
    let status = &mut *status;
    let replay = match &request.source {
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
    let worker = match (&request.model, &replay) {
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
        (_, None) if matches!(request.source, FrameSource::Replay(_)) => None,
        (None, None) => {
            status.engine = EngineStatus::NoModel;
            None
        }
        (Some(model), None) => {
            let config = EngineConfig {
                runtime_library: request.runtime_library.clone(),
                session: request.session.clone(),
                resize: request.resize,
                overrides: request.overrides.clone(),
                align: request.align.clone(),
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
    if let Some(worker) = &worker {
        // From the first frame on; `receive_depth` keeps it up to date.
        worker.set_stabilisation(settings.stabilisation);
    }
    running
        .hub
        .connect(worker.as_ref().map(DepthWorker::sender));
    running.source = start_source(&request.source, replay, &running.hub, status);
    running.worker = worker;
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
