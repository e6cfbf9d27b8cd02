//! Recording a live session from the plugin, on a background thread.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bevy::prelude::*;
use crossbeam_channel::{Sender, TrySendError, bounded};

use super::receive::{CurrentDepth, NewDepth};
use crate::depth::DepthMap;
use crate::engine::StageTimings;
use crate::frame::CameraFrame;
use crate::sources::recording::{Recorder, RecordingError};
use crate::threads::Background;

type Job = (CameraFrame, DepthMap, StageTimings);

/// Records every new depth map, with its frame and timings, into a recording
/// folder (see [`crate::sources::recording`]) while this resource exists.
/// Insert it to start; remove it to stop: the frames still queued (up to 8)
/// are written by the writer thread afterwards, without holding up the frame
/// that removed it. [`Self::finish`] waits for them instead.
///
/// ```no_run
/// # use bevy::prelude::*;
/// # use bevy_mono_depth::plugin::MonoDepthRecorder;
/// fn start(mut commands: Commands) -> Result {
///     commands.insert_resource(MonoDepthRecorder::start("recordings/kitchen", "fcrn")?);
///     Ok(())
/// }
/// ```
#[derive(Resource)]
pub struct MonoDepthRecorder {
    jobs: Option<Sender<Job>>,
    thread: Option<Background>,
    dir: PathBuf,
    written: Arc<AtomicU64>,
    skipped: Arc<AtomicU64>,
    errors: crossbeam_channel::Receiver<RecordingError>,
}

impl MonoDepthRecorder {
    /// Creates the recording folder and the writer thread.
    pub fn start(
        dir: impl Into<PathBuf>,
        depth_source: impl Into<String>,
    ) -> Result<Self, RecordingError> {
        let dir = dir.into();
        let mut recorder = Recorder::create(&dir, depth_source)?;
        let (jobs, rx) = bounded::<Job>(8);
        let (error_tx, errors) = bounded(8);
        let written = Arc::new(AtomicU64::new(0));
        let count = Arc::clone(&written);
        let thread = Background::spawn("mono-depth-recorder", move || {
            for (frame, depth, timings) in rx {
                match recorder.record(&frame, &depth, Some(timings)) {
                    Ok(()) => {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        // Reported by `record_depth`; a full channel already has reports.
                        let _ = error_tx.try_send(e);
                    }
                }
            }
        })
        .map_err(|e| RecordingError::Io {
            path: dir.clone(),
            reason: format!("could not start the recorder thread: {e}"),
        })?;
        Ok(Self {
            jobs: Some(jobs),
            thread: Some(thread),
            dir,
            written,
            skipped: Arc::new(AtomicU64::new(0)),
            errors,
        })
    }

    /// The recording folder.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Frames written so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Frames not recorded because the disk could not keep up.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Stops and waits until every pending frame is written; returns how
    /// many frames were written in all.
    pub fn finish(mut self) -> u64 {
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            thread.join_within(Duration::MAX);
        }
        self.written()
    }
}

impl Drop for MonoDepthRecorder {
    fn drop(&mut self) {
        // Closing the queue ends the writer once it has written what is
        // queued; nobody waits for it here.
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            thread.detach();
        }
    }
}

pub(super) fn record_depth(
    recorder: Option<Res<MonoDepthRecorder>>,
    mut new_depth: MessageReader<NewDepth>,
    current: Res<CurrentDepth>,
) {
    let Some(recorder) = recorder else {
        new_depth.clear();
        return;
    };
    for e in recorder.errors.try_iter() {
        warn!("recording to {}: {e}", recorder.dir.display());
    }
    // `CurrentDepth` holds the newest map: one per update is recorded.
    if new_depth.read().last().is_none() {
        return;
    }
    // The model's own depth when stabilisation changed what is shown.
    let model_map = current.model_map.as_ref().or(current.map.as_ref());
    let (Some(map), Some(frame), Some(jobs)) = (model_map, &current.frame, &recorder.jobs) else {
        return;
    };
    match jobs.try_send((frame.clone(), map.clone(), current.timings)) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            recorder.skipped.fetch_add(1, Ordering::Relaxed);
        }
        Err(TrySendError::Disconnected(_)) => warn!(
            "recording to {}: the writer stopped",
            recorder.dir.display()
        ),
    }
}
