//! Systems that take results from the inference thread and the sources.

use std::time::Duration;

use bevy::prelude::*;

use super::status::{EngineStatus, MonoDepthStatus};
use super::textures::TextureWriter;
use super::{BackgroundSync, MonoDepthSettings, Running};
use crate::camera::FocalCorrection;
use crate::depth::{DepthMap, DepthStats};
use crate::engine::{EngineError, StageTimings};
use crate::frame::CameraFrame;
use crate::worker::WorkerEvent;

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
    settings: Res<MonoDepthSettings>,
    mut status: ResMut<MonoDepthStatus>,
    mut current: ResMut<CurrentDepth>,
    mut textures: TextureWriter,
    mut messages: MessageWriter<NewDepth>,
    mut stabiliser: Local<Option<crate::temporal::Stabiliser>>,
) {
    let Some(worker) = &running.worker else {
        return;
    };
    let mut newest = None;
    for event in worker.events().try_iter() {
        match event {
            WorkerEvent::Ready(summary) => {
                info!("depth model running: {summary}");
                if !summary.trained {
                    warn!("{summary}");
                }
                status.engine = EngineStatus::Running(summary);
            }
            WorkerEvent::LoadFailed(error) => {
                error!("depth engine: {error}");
                status.engine = engine_failure(&error);
            }
            WorkerEvent::FrameFailed { sequence, error } => {
                warn!("depth for frame {sequence} failed: {error}");
                status.last_frame_error = Some(format!("frame {sequence}: {error}"));
            }
            WorkerEvent::Panicked { sequence, message } => {
                error!("depth engine panicked on frame {sequence}: {message}; restarting it");
                status.last_frame_error = Some(format!("frame {sequence}: panic: {message}"));
            }
            WorkerEvent::Depth(result) => {
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
    match (settings.stabilisation, stabiliser.as_mut()) {
        (None, _) => *stabiliser = None,
        (Some(temporal), Some(running)) => {
            running.settings = temporal;
            running.apply(&result.frame, &mut result.depth);
        }
        (Some(temporal), None) => {
            stabiliser
                .insert(crate::temporal::Stabiliser::new(temporal))
                .apply(&result.frame, &mut result.depth);
        }
    }
    let mut uploaded = textures.depth(&result.depth);
    if settings.background == BackgroundSync::Synced {
        uploaded = uploaded.and(textures.background(&result.frame));
    }
    report_texture(&mut status, uploaded);
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

pub(super) fn update_newest_background(
    running: Res<Running>,
    settings: Res<MonoDepthSettings>,
    mut status: ResMut<MonoDepthStatus>,
    current: Res<CurrentDepth>,
    mut textures: TextureWriter,
    mut refused: Local<Option<u64>>,
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
    if settings.background == BackgroundSync::Synced && depth_flows {
        return;
    }
    if let Some(frame) = running.hub.newest()
        && shown != Some(frame.sequence)
        && *refused != Some(frame.sequence)
    {
        let uploaded = textures.background(&frame);
        if uploaded.is_err() {
            *refused = Some(frame.sequence);
        }
        report_texture(&mut status, uploaded);
    }
}

/// Keeps `texture_error` on the last refusal, cleared by the next upload;
/// each new reason is logged once.
fn report_texture(status: &mut MonoDepthStatus, uploaded: Result<(), String>) {
    match uploaded {
        Ok(()) => {
            if status.texture_error.is_some() {
                status.texture_error = None;
            }
        }
        Err(reason) => {
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
