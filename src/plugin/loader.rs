//! Start-up work done off the main thread: loading ONNX Runtime and the
//! model, and looking for cameras.

use std::fmt;
use std::path::PathBuf;

use bevy::prelude::*;
use crossbeam_channel::{Receiver, bounded};

use super::{EngineStatus, MonoDepthStatus, SourceStatus};
use crate::runtime::{Runtime, RuntimeSearch};
use crate::session::{DepthSession, SessionOptions};

/// What was loaded, for status displays.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSummary {
    /// The model file.
    pub path: PathBuf,
    /// Model name from its metadata (`mono_depth.model`), if it has one.
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
    /// The ONNX Runtime library in use (`None` when linked statically).
    pub runtime_library: Option<PathBuf>,
}

impl fmt::Display for ModelSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}), input {:?}, output {:?}",
            self.name.as_deref().unwrap_or("unnamed model"),
            self.path.display(),
            self.input_shape,
            self.output_shape
        )?;
        if !self.trained {
            f.write_str(" — untrained weights, output is not depth")?;
        }
        Ok(())
    }
}

/// Receives the outcome of loading the engine.
#[derive(Resource)]
pub(super) struct EngineLoad(Option<Receiver<EngineStatus>>);

/// Receives the outcome of the camera probe.
#[derive(Resource)]
pub(super) struct SourceProbe(Option<Receiver<SourceStatus>>);

pub(super) fn start_engine(
    model: Option<PathBuf>,
    runtime_library: Option<PathBuf>,
    options: SessionOptions,
) -> EngineLoad {
    let Some(model) = model else {
        let (tx, rx) = bounded(1);
        // The receiver is alive: it is returned below.
        let _ = tx.send(EngineStatus::NoModel);
        return EngineLoad(Some(rx));
    };
    let (tx, rx) = bounded(1);
    let spawned = std::thread::Builder::new()
        .name("mono-depth-load".into())
        .spawn(move || {
            let status = load_engine(&model, runtime_library, &options);
            // The app may have exited meanwhile; nobody is left to tell.
            let _ = tx.send(status);
        });
    if let Err(e) = spawned {
        let (tx, rx) = bounded(1);
        let _ = tx.send(EngineStatus::ModelFailed(format!(
            "could not start the loading thread: {e}"
        )));
        return EngineLoad(Some(rx));
    }
    EngineLoad(Some(rx))
}

/// Locates ONNX Runtime, loads the model and checks it.
pub(super) fn load_engine(
    model: &std::path::Path,
    runtime_library: Option<PathBuf>,
    options: &SessionOptions,
) -> EngineStatus {
    let runtime = match Runtime::load(&RuntimeSearch::from_env(runtime_library)) {
        Ok(runtime) => runtime,
        Err(e) => return EngineStatus::RuntimeUnavailable(e.to_string()),
    };
    match DepthSession::load(&runtime, model, options) {
        Ok(session) => EngineStatus::Ready(ModelSummary {
            path: session.path().to_path_buf(),
            name: session.metadata("mono_depth.model"),
            input_shape: session.input.shape.clone(),
            output_shape: session.output.shape.clone(),
            trained: session.metadata("mono_depth.trained").as_deref() == Some("true"),
            weights: session.metadata("mono_depth.weights"),
            runtime_library: runtime.library.clone(),
        }),
        Err(e) => EngineStatus::ModelFailed(e.to_string()),
    }
}

pub(super) fn start_source_probe(probe_webcam: bool) -> SourceProbe {
    if !probe_webcam || !cfg!(feature = "webcam") {
        return SourceProbe(None);
    }
    let (tx, rx) = bounded(1);
    let spawned = std::thread::Builder::new()
        .name("mono-depth-camera-probe".into())
        .spawn(move || {
            let _ = tx.send(probe_cameras());
        });
    match spawned {
        Ok(_) => SourceProbe(Some(rx)),
        Err(e) => {
            let (tx, rx) = bounded(1);
            let _ = tx.send(SourceStatus::NoCamera(format!(
                "could not start the camera probe: {e}"
            )));
            SourceProbe(Some(rx))
        }
    }
}

#[cfg(feature = "webcam")]
fn probe_cameras() -> SourceStatus {
    match crate::sources::webcam::list_cameras() {
        Ok(cameras) => SourceStatus::CamerasFound(cameras.into_iter().map(|c| c.name).collect()),
        Err(e) => SourceStatus::NoCamera(e.to_string()),
    }
}

#[cfg(not(feature = "webcam"))]
fn probe_cameras() -> SourceStatus {
    SourceStatus::NoSource
}

pub(super) fn receive_engine_status(
    mut load: ResMut<EngineLoad>,
    mut status: ResMut<MonoDepthStatus>,
) {
    let Some(rx) = &load.0 else { return };
    match rx.try_recv() {
        Ok(engine) => {
            match &engine {
                EngineStatus::Ready(model) => {
                    info!("depth model ready: {model}");
                    if !model.trained {
                        warn!(
                            "{} has untrained weights: its output is not depth",
                            model.path.display()
                        );
                    }
                }
                EngineStatus::NoModel => warn!("no depth model configured"),
                other => error!("depth engine: {other}"),
            }
            status.engine = engine;
            load.0 = None;
        }
        Err(crossbeam_channel::TryRecvError::Empty) => {}
        Err(crossbeam_channel::TryRecvError::Disconnected) => {
            status.engine =
                EngineStatus::ModelFailed("the loading thread stopped without a result".into());
            error!("depth engine: {}", status.engine);
            load.0 = None;
        }
    }
}

pub(super) fn receive_source_status(
    mut probe: ResMut<SourceProbe>,
    mut status: ResMut<MonoDepthStatus>,
) {
    let Some(rx) = &probe.0 else { return };
    if status.source == SourceStatus::NoSource {
        status.source = SourceStatus::Probing;
    }
    match rx.try_recv() {
        Ok(source) => {
            match &source {
                SourceStatus::NoCamera(reason) => warn!("camera: {reason}"),
                other => info!("camera: {other}"),
            }
            status.source = source;
            probe.0 = None;
        }
        Err(crossbeam_channel::TryRecvError::Empty) => {}
        Err(crossbeam_channel::TryRecvError::Disconnected) => {
            status.source =
                SourceStatus::NoCamera("the camera probe stopped without a result".into());
            probe.0 = None;
        }
    }
}
