//! Replaying a recording: its frames at their recorded times, and its
//! depth in place of a model.

use std::sync::Arc;
use std::time::Instant;

use super::Recording;
use super::reader::entry_of;
use crate::depth::DepthMap;
use crate::engine::{DepthEstimator, EngineError, ModelSummary, StageTimings};
use crate::frame::CameraFrame;
use crate::sources::{FrameHub, SourceStatus, SourceThread, Stop};

/// Plays a recording's frames into `hub` at their recorded times, looping.
/// Frames are numbered 1, 2, 3… across loops; [`ReplayEstimator`] maps them
/// back to the recorded depth.
pub fn spawn_replay(hub: FrameHub, recording: Arc<Recording>) -> std::io::Result<SourceThread> {
    SourceThread::spawn("mono-depth-replay", move |stop| {
        run_replay(&hub, &recording, &stop)
    })
}

fn run_replay(hub: &FrameHub, recording: &Recording, stop: &Stop) {
    let name = format!("recording {}", recording.dir.display());
    let len = recording.index.frames.len();
    let started = Instant::now();
    let mut reported = false;
    for sequence in 1u64.. {
        let (i, _) = entry_of(sequence, len);
        let at = recording.play_time(sequence);
        if !stop.sleep(at.saturating_sub(started.elapsed())) {
            return;
        }
        match recording.load_frame(i) {
            Ok(frame) => {
                // Reported before the frame goes out, so nobody sees its
                // depth while the status still says "starting".
                if !reported {
                    hub.report(SourceStatus::Running(name.clone()));
                    reported = true;
                }
                hub.push(frame.with_sequence(sequence).with_timestamp(at));
            }
            Err(e) => {
                hub.report(SourceStatus::Failed(e.to_string()));
                reported = false;
            }
        }
    }
}

/// Publishes a recording's depth for replayed frames instead of running a model.
#[derive(Debug, Clone)]
pub struct ReplayEstimator {
    recording: Arc<Recording>,
}

impl ReplayEstimator {
    /// Depth from `recording`.
    pub fn new(recording: Arc<Recording>) -> Self {
        Self { recording }
    }
}

impl DepthEstimator for ReplayEstimator {
    fn estimate_into(
        &mut self,
        frame: &CameraFrame,
        out: &mut DepthMap,
    ) -> Result<StageTimings, EngineError> {
        let (i, _) = entry_of(frame.sequence, self.recording.index.frames.len());
        let start = Instant::now();
        *out = self
            .recording
            .load_depth(i)
            .map_err(|e| EngineError::Other(e.to_string()))?;
        out.sequence = frame.sequence;
        out.timestamp = frame.timestamp;
        Ok(StageTimings {
            postprocess: start.elapsed(),
            ..StageTimings::default()
        })
    }

    fn summary(&self) -> ModelSummary {
        ModelSummary {
            name: Some(format!(
                "recorded depth ({})",
                self.recording.index.depth_source
            )),
            path: Some(self.recording.dir.clone()),
            provider: "replay".into(),
            // Recorded depth is what was measured or rendered, not a random model.
            trained: true,
            ..ModelSummary::default()
        }
    }
}
