//! Systems that take results from the inference thread and the sources.

use std::time::Duration;

use bevy::prelude::*;

use super::status::{EngineStatus, MonoDepthStatus, ReprojectionStatus};
use super::textures::{TextureError, TextureWriter};
use super::{BackgroundSync, MonoDepthSettings, Running};
use crate::camera::FocalCorrection;
use crate::camera::FrameCamera;
use crate::depth::{DepthMap, DepthStats};
use crate::engine::{EngineError, StageTimings};
use crate::frame::CameraFrame;
use crate::reproject::Reprojector;
use crate::worker::WorkerReport;

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
pub(super) struct ShownFrame {
    sequence: u64,
    received_at: std::time::Instant,
    camera: Option<FrameCamera>,
}

impl ShownFrame {
    fn of(frame: &CameraFrame) -> Self {
        Self {
            sequence: frame.sequence,
            received_at: frame.received_at,
            camera: frame.camera(),
        }
    }
}

/// What `update_newest_background` keeps between frames.
#[derive(Default)]
pub(super) struct BackgroundState {
    /// The newest frame whose upload was refused (not tried again).
    refused: Option<u64>,
    /// The frame on screen when this system last put it there.
    shown: Option<ShownFrame>,
    /// (depth sequence, shown sequence) last written in `Reprojected` mode.
    written: Option<(u64, u64)>,
    reprojector: Reprojector,
    reprojected: DepthMap,
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
        && state.refused != Some(frame.sequence)
    {
        let uploaded = textures.background(&frame);
        match uploaded {
            Ok(()) => state.shown = Some(ShownFrame::of(&frame)),
            Err(_) => state.refused = Some(frame.sequence),
        }
        report_texture(&mut status, uploaded);
    }
    let on_screen = if synced {
        current.frame.as_ref().map(ShownFrame::of)
    } else {
        state.shown
    };
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
    if settings.background != BackgroundSync::Reprojected {
        state.written = None;
        if status.reprojection != ReprojectionStatus::Off {
            status.reprojection = ReprojectionStatus::Off;
        }
        return;
    }
    let (Some(depth), Some(on_screen)) = (&current.map, on_screen) else {
        return;
    };
    let key = (depth.sequence, on_screen.sequence);
    if state.written == Some(key) {
        return;
    }
    let new_depth = state.written.is_none_or(|(d, _)| d != depth.sequence);
    state.written = Some(key);
    let state = &mut *state;
    let outcome = match on_screen.camera {
        Some(camera) => state
            .reprojector
            .reproject(depth, &camera, &mut state.reprojected)
            .map_err(|e| e.to_string()),
        None => Err(
            "the frame on screen has no camera pose or intrinsics (set them on pushed frames or recordings; a webcam has no pose)"
                .to_owned(),
        ),
    };
    let (uploaded, now) = match outcome {
        Ok(done) => (
            textures.depth(&state.reprojected),
            ReprojectionStatus::Reprojected {
                valid: done.valid,
                source_valid: done.source_valid,
            },
        ),
        // The depth as it came, once per depth map.
        Err(why) => (
            if new_depth {
                textures.depth(depth)
            } else {
                Ok(())
            },
            ReprojectionStatus::NotReprojected(why),
        ),
    };
    report_texture(&mut status, uploaded);
    if status.reprojection != now {
        if let ReprojectionStatus::NotReprojected(why) = &now
            && !matches!(status.reprojection, ReprojectionStatus::NotReprojected(_))
        {
            warn!("bevy_mono_depth: depth not reprojected: {why}");
        }
        status.reprojection = now;
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
