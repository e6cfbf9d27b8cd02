//! RGB-D recordings: record a live session, replay it without a model.
//!
//! A recording is a folder:
//!
//! ```text
//! session.json     header: format version, depth source, intrinsics
//! frames.jsonl     one JSON line per frame, appended as frames are written
//! rgb/NNNNNN.png   the camera frame, 8-bit RGB
//! depth/NNNNNN.png the depth, 16-bit grey, millimetres (0 = no depth)
//! ```
//!
//! Each line of `frames.jsonl` holds a frame's sequence number, its capture
//! time in milliseconds, the two file names, the depth map's size, where the
//! depth lies in the frame (`mapping_scale`/`mapping_offset`, as
//! [`ImageMapping`](crate::camera::ImageMapping)), the intrinsics, rotation and camera pose when the frame
//! had them, and, when recorded from a model, the stage timings.
//! Writing a frame appends one line, so a long recording costs the same per
//! frame as a short one, and a crash loses at most the line being written
//! (a torn last line is ignored on replay). Version 1 recordings, with every
//! frame inside `session.json`, are still read.
//!
//! Recordings come from outside: [`Recording::open`] checks every entry
//! (finite, bounded times; file names inside the folder; sane mappings and
//! sizes), and each depth PNG is checked against its entry when loaded.
//!
//! Replaying plays the frames at their recorded times and publishes the
//! recorded depth ([`ReplayEstimator`]) — no model, no camera, deterministic.

mod format;
mod reader;
mod replay;
mod writer;

use std::path::{Path, PathBuf};

pub use crate::camera::Intrinsics;
pub use format::{RecordedFrame, RecordedTimings, RecordingIndex};
pub use reader::{FPS_WITHOUT_TIMESTAMPS, Recording};
pub use replay::{ReplayEstimator, spawn_replay};
pub use writer::Recorder;

/// Version of the recording format this crate writes (it also reads 1).
pub const FORMAT_VERSION: u32 = 2;

/// The latest capture time a recording may hold: about 115 days, in ms.
pub const MAX_TIMESTAMP_MS: f64 = 1e10;

/// The largest depth map side a recording may hold, in pixels.
pub const MAX_DEPTH_SIDE: u32 = 8192;

/// At most this many metric anchors per recorded frame.
pub const MAX_ANCHORS: usize = 1 << 16;

pub(crate) const INDEX_FILE: &str = "session.json";
pub(crate) const FRAMES_FILE: &str = "frames.jsonl";

/// Errors reading or writing recordings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordingError {
    /// A file could not be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// `session.json` is not a recording this crate understands.
    #[error("{path} is not a bevy_mono_depth recording: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

pub(crate) fn io_err(path: &Path, e: impl std::fmt::Display) -> RecordingError {
    RecordingError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}
