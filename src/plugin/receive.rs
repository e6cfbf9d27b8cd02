//! Systems that take results from the inference thread and the sources.

use std::time::Duration;

use bevy::prelude::*;

use super::status::{AlignmentStatus, EngineStatus, MonoDepthStatus, ReprojectionStatus};
use super::textures::{TextureError, TextureWriter};
use super::{BackgroundSync, MonoDepthSettings, Running};
use crate::camera::FocalCorrection;
use crate::depth::{DepthMap, DepthStats};
use crate::engine::{EngineError, StageTimings};
use crate::frame::CameraFrame;
use crate::reproject::Reprojector;
use crate::worker::WorkerReport;
use crate::worker::view::{ViewDepth, ViewWorker};

/// The newest depth map (CPU copy), `None` until the first arrives.
#[derive(Resource, Debug, Clone, Default)]
pub struct CurrentDepth {
    /// The depth map: metres, validity, statistics, frame sequence, mapping.
    pub map: Option<DepthMap>,
    /// Time per stage for that map.
    pub timings: StageTimings,
    /// From the frame reaching the crate to the depth texture being written.
    pub latency: Duration,
    /// The camera frame the depth came from (shares its pixels).
    pub frame: Option<CameraFrame>,
    /// The depth as the model produced it, before stabilisation: kept only
    /// while a [`MonoDepthRecorder`](super::MonoDepthRecorder) records and
    /// stabilisation is on, so recordings hold the model's depth.
    pub(crate) model_map: Option<DepthMap>,
}

/// Sent once per new depth map, in `PreUpdate`
/// ([`MonoDepthSystems::Receive`](super::MonoDepthSystems::Receive)).
#[derive(Message, Debug, Clone, PartialEq)]
pub struct NewDepth {
    /// Sequence number of the camera frame the depth came from.
    pub sequence: u64,
    /// Its capture timestamp.
    pub timestamp: Duration,
    /// Statistics of the valid pixels.
    pub stats: DepthStats,
    /// Time per stage.
    pub timings: StageTimings,
}

fn engine_failure(error: &EngineError) -> EngineStatus {
    match error {
        EngineError::Runtime(e) => EngineStatus::RuntimeUnavailable(e.to_string()),
        other => EngineStatus::ModelFailed(other.to_string()),
    }
}

pub(super) fn receive_depth(
    running: Res<Running>,
    (settings, recorder): (
        Res<MonoDepthSettings>,
        Option<Res<super::MonoDepthRecorder>>,
    ),
    mut status: ResMut<MonoDepthStatus>,
    mut current: ResMut<CurrentDepth>,
    mut textures: TextureWriter,
    mut messages: MessageWriter<NewDepth>,
) {
    let Some(worker) = &running.worker else {
        return;
    };
    // Takes effect from the next frame the worker finishes.
    worker.set_stabilisation(settings.stabilisation);
    worker.keep_model_depth(recorder.is_some());
    let mut newest = None;
    for event in worker.events().try_iter() {
        match event {
            WorkerReport::Ready(summary) => {
                info!("depth model running: {summary}");
                if !summary.trained {
                    warn!("{summary}");
                }
                status.engine = EngineStatus::Running(summary);
            }
            WorkerReport::LoadFailed(error) => {
                error!("depth engine: {error}");
                status.engine = engine_failure(&error);
            }
            WorkerReport::FrameFailed { sequence, error } => {
                warn!("depth for frame {sequence} failed: {error}");
                status.last_frame_error = Some(format!("frame {sequence}: {error}"));
            }
            WorkerReport::Panicked { sequence, message } => {
                error!("depth engine panicked on frame {sequence}: {message}; restarting it");
                status.last_frame_error = Some(format!("frame {sequence}: panic: {message}"));
            }
            WorkerReport::Depth(result) => {
                // An older result in the same update is skipped; its map
                // goes back to the worker.
                if let Some(skipped) = newest.replace(result) {
                    worker.recycle(skipped.depth);
                }
            }
        }
    }
    let stats = worker.stats();
    if status.frames != stats {
        status.frames = stats;
    }
    // Only the newest result matters; older ones in the same update are skipped.
    let Some(mut result) = newest else { return };
    // The worker stabilised the map; a recording keeps what the model
    // produced (replay stabilises it again).
    current.model_map = result.model_depth.take();
    // Reprojected: `update_newest_background` writes the depth, moved into
    // the frame on screen.
    if settings.background != BackgroundSync::Reprojected {
        let mut uploaded = textures.depth(&result.depth);
        if settings.background == BackgroundSync::Synced {
            uploaded = uploaded.and(textures.background(&result.frame));
        }
        report_texture(&mut status, uploaded);
    }
    if status.last_frame_error.is_some() {
        status.last_frame_error = None;
    }
    let focal = result.depth.focal;
    let kind = std::mem::discriminant(&focal);
    if std::mem::discriminant(&status.focal) != kind {
        match focal {
            FocalCorrection::NoModelFocal | FocalCorrection::NoIntrinsics => warn!("{focal}"),
            _ => info!("{focal}"),
        }
    }
    if status.focal != focal {
        status.focal = focal;
    }
    let alignment = AlignmentStatus::of(result.depth.alignment.as_ref());
    let was_metric = !matches!(status.alignment, AlignmentStatus::NotMetric(_));
    match &alignment {
        AlignmentStatus::NotMetric(why) if was_metric => warn!("{why}"),
        AlignmentStatus::Metric { .. } if !was_metric => info!("{alignment}"),
        _ => {}
    }
    if status.alignment != alignment {
        status.alignment = alignment;
    }
    messages.write(NewDepth {
        sequence: result.depth.sequence,
        timestamp: result.depth.timestamp,
        stats: result.depth.stats(),
        timings: result.timings,
    });
    current.latency = result.frame.received_at.elapsed();
    current.timings = result.timings;
    let result = *result;
    if let Some(previous) = current.map.replace(result.depth) {
        worker.recycle(previous);
    }
    current.frame = Some(result.frame);
}

/// The frame the background shows, as far as reprojection and depth age
/// need it.
#[derive(Debug, Clone, Copy)]
pub(super) struct OnScreen {
    received_at: std::time::Instant,
}

impl OnScreen {
    fn of(frame: &CameraFrame) -> Self {
        Self {
            received_at: frame.received_at,
        }
    }
}

/// What `update_newest_background` keeps between frames.
#[derive(Default)]
pub(super) struct BackgroundState {
    /// The newest frame whose upload was refused (not tried again).
    refused: Option<u64>,
    /// The frame on screen when this system last put it there.
    shown: Option<OnScreen>,
    /// `Reprojected`: the thread that moves depth into each new frame,
    /// whether the hub feeds it, and the depth map last shown unmoved.
    view: Option<ViewWorker>,
    view_connected: bool,
    unmoved: Option<u64>,
}

pub(super) fn update_newest_background(
    running: Res<Running>,
    settings: Res<MonoDepthSettings>,
    mut status: ResMut<MonoDepthStatus>,
    current: Res<CurrentDepth>,
    mut textures: TextureWriter,
    mut state: Local<BackgroundState>,
) {
    let Some(shown) = textures.textures.as_ref().map(|t| t.background_sequence) else {
        return;
    };
    let state = &mut *state;
    if settings.background == BackgroundSync::Reprojected {
        match start_view(state, &running) {
            Ok(view) => {
                show_reprojected(&view, shown, &current, &mut status, &mut textures, state);
                state.view = Some(view);
                return;
            }
            Err(why) => {
                if status.reprojection != ReprojectionStatus::NotReprojected(why.clone()) {
                    warn!("bevy_mono_depth: depth not reprojected: {why}");
                    status.reprojection = ReprojectionStatus::NotReprojected(why);
                }
            }
        }
    } else {
        if state.view_connected {
            running.hub.connect_view(None);
            state.view_connected = false;
        }
        state.unmoved = None;
        if status.reprojection != ReprojectionStatus::Off {
            status.reprojection = ReprojectionStatus::Off;
        }
    }
    // Synced: once depth flows, the background follows it (see
    // `receive_depth`); until then, and without a working model, it shows
    // the newest frame so the screen is never empty.
    let depth_flows = !settings.paused
        && current.map.is_some()
        && matches!(status.engine, EngineStatus::Running(_));
    let synced = settings.background == BackgroundSync::Synced && depth_flows;
    if !synced
        && let Some(frame) = running.hub.newest()
        && shown != Some(frame.sequence)
    {
        show_frame(&frame, state, &mut status, &mut textures);
    }
    let on_screen = if synced {
        current.frame.as_ref().map(OnScreen::of)
    } else {
        state.shown
    };
    set_depth_age(&mut status, on_screen, &current);
}

/// The view thread (taken out of `state` while in use), started on first
/// use and fed by the hub.
fn start_view(state: &mut BackgroundState, running: &Running) -> Result<ViewWorker, String> {
    let view = match state.view.take() {
        Some(view) => view,
        None => ViewWorker::spawn(Reprojector::new())
            .map_err(|e| format!("could not start the view thread: {e}"))?,
    };
    if !state.view_connected {
        running.hub.connect_view(Some(view.sender()));
        state.view_connected = true;
    }
    Ok(view)
}

/// `Reprojected`: shows the view thread's newest frame with the depth
/// moved into it (or, where it could not be moved, the depth as it came).
fn show_reprojected(
    view: &ViewWorker,
    shown: Option<u64>,
    current: &Res<CurrentDepth>,
    status: &mut MonoDepthStatus,
    textures: &mut TextureWriter,
    state: &mut BackgroundState,
) {
    if current.is_changed()
        && let Some(map) = &current.map
    {
        view.set_depth(map.clone());
    }
    let Some(out) = view.take() else { return };
    if shown != Some(out.frame.sequence) {
        show_frame(&out.frame, state, status, textures);
    }
    set_depth_age(status, Some(OnScreen::of(&out.frame)), current);
    let (uploaded, now) = match out.depth {
        ViewDepth::Reprojected { map, stats } => {
            state.unmoved = None;
            let uploaded = textures.depth(&map);
            view.recycle(map);
            (
                uploaded,
                ReprojectionStatus::Reprojected {
                    valid: stats.valid,
                    source_valid: stats.source_valid,
                },
            )
        }
        // The depth as it came, once per depth map.
        ViewDepth::NotReprojected {
            depth_sequence,
            why,
        } => {
            let uploaded = match &current.map {
                Some(map) if state.unmoved != Some(depth_sequence) => {
                    state.unmoved = Some(depth_sequence);
                    textures.depth(map)
                }
                _ => Ok(()),
            };
            (
                uploaded,
                ReprojectionStatus::NotReprojected(why.to_string()),
            )
        }
        _ => return,
    };
    report_texture(status, uploaded);
    if status.reprojection != now {
        if let ReprojectionStatus::NotReprojected(why) = &now
            && !matches!(status.reprojection, ReprojectionStatus::NotReprojected(_))
        {
            warn!("bevy_mono_depth: depth not reprojected: {why}");
        }
        status.reprojection = now;
    }
}

/// Uploads `frame` as the background unless its upload was refused before.
fn show_frame(
    frame: &CameraFrame,
    state: &mut BackgroundState,
    status: &mut MonoDepthStatus,
    textures: &mut TextureWriter,
) {
    if state.refused == Some(frame.sequence) {
        return;
    }
    let uploaded = textures.background(frame);
    match uploaded {
        Ok(()) => state.shown = Some(OnScreen::of(frame)),
        Err(_) => state.refused = Some(frame.sequence),
    }
    report_texture(status, uploaded);
}

/// How much older the depth's frame is than the frame on screen.
fn set_depth_age(
    status: &mut MonoDepthStatus,
    on_screen: Option<OnScreen>,
    current: &CurrentDepth,
) {
    let age = match (on_screen, &current.frame) {
        (Some(on_screen), Some(depth_frame)) => Some(
            on_screen
                .received_at
                .saturating_duration_since(depth_frame.received_at),
        ),
        _ => None,
    };
    if status.depth_age != age {
        status.depth_age = age;
    }
}

/// Keeps `texture_error` on the last refusal, cleared by the next upload;
/// each new reason is logged once.
fn report_texture(status: &mut MonoDepthStatus, uploaded: Result<(), TextureError>) {
    match uploaded {
        Ok(()) => {
            if status.texture_error.is_some() {
                status.texture_error = None;
            }
        }
        Err(error) => {
            let reason = error.to_string();
            if status.texture_error.as_ref() != Some(&reason) {
                warn!("bevy_mono_depth: {reason}");
                status.texture_error = Some(reason);
            }
        }
    }
}

pub(super) fn receive_sources(running: Res<Running>, mut status: ResMut<MonoDepthStatus>) {
    for report in running.hub.statuses() {
        match &report {
            crate::sources::SourceStatus::NoCamera(_)
            | crate::sources::SourceStatus::CameraLost(_)
            | crate::sources::SourceStatus::Failed(_) => {
                warn!("frame source: {report}")
            }
            _ => info!("frame source: {report}"),
        }
        status.source = report;
    }
}
