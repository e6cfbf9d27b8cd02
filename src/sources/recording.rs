//! RGB-D recordings: record a live session, replay it without a model.
//!
//! A recording is a folder:
//!
//! ```text
//! session.json     index: format version, sizes, intrinsics, one entry per frame
//! rgb/NNNNNN.png   the camera frame, 8-bit RGB
//! depth/NNNNNN.png the depth, 16-bit grey, millimetres (0 = no depth)
//! ```
//!
//! `session.json` holds, per frame, the sequence number, the capture time in
//! milliseconds, the two file names and (when recorded from a model) the stage
//! timings; and once, where the depth map lies in the frame (`mapping`, as
//! [`ImageMapping`]) and the camera intrinsics when known.
//!
//! Replaying plays the frames at their recorded times and publishes the
//! recorded depth ([`ReplayEstimator`]) — no model, no camera, deterministic.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{FrameHub, SourceStatus, SourceThread, sleep_unless_stopped};
use crate::depth::DepthMap;
use crate::engine::{DepthEstimator, EngineError, ModelSummary, StageTimings};
use crate::frame::{CameraFrame, PixelFormat};
use crate::preprocess::ImageMapping;

/// Version of `session.json` this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;

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

fn io_err(path: &Path, e: impl std::fmt::Display) -> RecordingError {
    RecordingError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Pinhole camera intrinsics, in pixels of the RGB frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Intrinsics {
    /// Focal length along x.
    pub fx: f32,
    /// Focal length along y.
    pub fy: f32,
    /// Principal point x.
    pub cx: f32,
    /// Principal point y.
    pub cy: f32,
}

/// Stage timings of a recorded frame, milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RecordedTimings {
    /// Preprocessing.
    pub preprocess_ms: f64,
    /// Inference.
    pub inference_ms: f64,
    /// Postprocessing.
    pub postprocess_ms: f64,
}

/// One frame of a recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedFrame {
    /// Sequence number when recorded.
    pub sequence: u64,
    /// Capture time, milliseconds from the start of the recording.
    pub timestamp_ms: f64,
    /// RGB file, relative to the recording folder.
    pub rgb: String,
    /// Depth file, relative to the recording folder.
    pub depth: String,
    /// Stage timings when the depth came from a model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timings: Option<RecordedTimings>,
}

/// The `session.json` index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingIndex {
    /// Format version ([`FORMAT_VERSION`]).
    pub version: u32,
    /// Where the depth maps come from (model name, "renderer", …).
    pub depth_source: String,
    /// Where the depth map lies in the frame: `frame = depth · scale + offset`.
    pub mapping_scale: [f32; 2],
    /// See `mapping_scale`.
    pub mapping_offset: [f32; 2],
    /// Camera intrinsics, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intrinsics: Option<Intrinsics>,
    /// The frames, in order.
    pub frames: Vec<RecordedFrame>,
}

/// A recording opened for replay.
#[derive(Debug, Clone)]
pub struct Recording {
    /// The folder.
    pub dir: PathBuf,
    /// Its index.
    pub index: RecordingIndex,
}

impl Recording {
    /// Reads `dir/session.json`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, RecordingError> {
        let dir = dir.into();
        let path = dir.join("session.json");
        let text = std::fs::read_to_string(&path).map_err(|e| io_err(&path, e))?;
        let index: RecordingIndex =
            serde_json::from_str(&text).map_err(|e| RecordingError::Format {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        if index.version != FORMAT_VERSION {
            return Err(RecordingError::Format {
                path,
                reason: format!(
                    "format version {} (this crate reads {FORMAT_VERSION})",
                    index.version
                ),
            });
        }
        if index.frames.is_empty() {
            return Err(RecordingError::Format {
                path,
                reason: "it has no frames".into(),
            });
        }
        Ok(Self { dir, index })
    }

    /// The mapping of the recorded depth onto the frame.
    pub fn mapping(&self) -> ImageMapping {
        ImageMapping {
            scale: self.index.mapping_scale,
            offset: self.index.mapping_offset,
        }
    }

    /// Loads frame `i`'s RGB image.
    pub fn load_frame(&self, i: usize) -> Result<CameraFrame, RecordingError> {
        let entry = &self.index.frames[i % self.index.frames.len()];
        let path = self.dir.join(&entry.rgb);
        let image = image::open(&path)
            .map_err(|e| io_err(&path, e))?
            .into_rgb8();
        let (w, h) = image.dimensions();
        CameraFrame::packed(PixelFormat::Rgb8, w, h, image.into_raw()).map_err(|e| io_err(&path, e))
    }

    /// Loads frame `i`'s depth in metres (millimetres / 1000; 0 is invalid).
    pub fn load_depth(&self, i: usize) -> Result<DepthMap, RecordingError> {
        let entry = &self.index.frames[i % self.index.frames.len()];
        let path = self.dir.join(&entry.depth);
        let image = image::open(&path)
            .map_err(|e| io_err(&path, e))?
            .into_luma16();
        let (w, h) = image.dimensions();
        let metres: Vec<f32> = image
            .into_raw()
            .into_iter()
            .map(|mm| f32::from(mm) / 1000.0)
            .collect();
        let mut map = DepthMap::from_metres(w, h, metres, (f32::MIN_POSITIVE, f32::MAX));
        map.mapping = self.mapping();
        map.sequence = entry.sequence;
        map.timestamp = Duration::from_secs_f64(entry.timestamp_ms / 1000.0);
        Ok(map)
    }

    /// Length of one pass through the recording.
    pub fn duration(&self) -> Duration {
        let last = self.index.frames.last().map_or(0.0, |f| f.timestamp_ms);
        let first = self.index.frames[0].timestamp_ms;
        // One frame interval past the last frame, so loops keep the rhythm.
        let n = self.index.frames.len() as f64;
        let step = if n > 1.0 {
            (last - first) / (n - 1.0)
        } else {
            33.0
        };
        Duration::from_secs_f64((last - first + step).max(0.0) / 1000.0)
    }
}

/// Frame `k` of a replay (1-based sequence) is entry `(k - 1) % len`, in
/// loop `(k - 1) / len`.
fn entry_of(sequence: u64, len: usize) -> (usize, u64) {
    let k = sequence.saturating_sub(1);
    ((k % len as u64) as usize, k / len as u64)
}

/// Plays a recording's frames into `hub` at their recorded times, looping.
/// Frames are numbered 1, 2, 3… across loops; [`ReplayEstimator`] maps them
/// back to the recorded depth.
pub fn spawn_replay(hub: FrameHub, recording: Arc<Recording>) -> std::io::Result<SourceThread> {
    SourceThread::spawn("mono-depth-replay", move |stop| {
        run_replay(&hub, &recording, &stop)
    })
}

fn run_replay(hub: &FrameHub, recording: &Recording, stop: &Arc<AtomicBool>) {
    let name = format!("recording {}", recording.dir.display());
    let len = recording.index.frames.len();
    let first = recording.index.frames[0].timestamp_ms;
    let started = Instant::now();
    let mut reported = false;
    for sequence in 1u64.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let (i, pass) = entry_of(sequence, len);
        let at = recording.duration() * pass as u32
            + Duration::from_secs_f64(
                (recording.index.frames[i].timestamp_ms - first).max(0.0) / 1000.0,
            );
        if !sleep_unless_stopped(stop, at.saturating_sub(started.elapsed())) {
            return;
        }
        match recording.load_frame(i) {
            Ok(frame) => {
                hub.push(frame.with_sequence(sequence).with_timestamp(at));
                if !reported {
                    hub.report(SourceStatus::Running(name.clone()));
                    reported = true;
                }
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

/// Writes a session to a recording folder.
#[derive(Debug)]
pub struct Recorder {
    dir: PathBuf,
    index: RecordingIndex,
    first_timestamp: Option<Duration>,
}

impl Recorder {
    /// Creates `dir` (and `rgb/`, `depth/` inside it).
    pub fn create(
        dir: impl Into<PathBuf>,
        depth_source: impl Into<String>,
    ) -> Result<Self, RecordingError> {
        let dir = dir.into();
        for sub in ["rgb", "depth"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(|e| io_err(&path, e))?;
        }
        Ok(Self {
            dir,
            index: RecordingIndex {
                version: FORMAT_VERSION,
                depth_source: depth_source.into(),
                mapping_scale: [1.0, 1.0],
                mapping_offset: [0.0, 0.0],
                intrinsics: None,
                frames: Vec::new(),
            },
            first_timestamp: None,
        })
    }

    /// Sets the camera intrinsics stored in the index.
    pub fn set_intrinsics(&mut self, intrinsics: Intrinsics) {
        self.index.intrinsics = Some(intrinsics);
    }

    /// Frames written so far.
    pub fn len(&self) -> usize {
        self.index.frames.len()
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.index.frames.is_empty()
    }

    /// Writes one frame and its depth (invalid depth as 0 mm; depth beyond
    /// 65.535 m is clamped).
    pub fn record(
        &mut self,
        frame: &CameraFrame,
        depth: &DepthMap,
        timings: Option<StageTimings>,
    ) -> Result<(), RecordingError> {
        let n = self.index.frames.len() + 1;
        let rgb_name = format!("rgb/{n:06}.png");
        let depth_name = format!("depth/{n:06}.png");
        let rgb = frame.to_rgb8();
        let path = self.dir.join(&rgb_name);
        image::save_buffer(
            &path,
            &rgb,
            frame.width(),
            frame.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| io_err(&path, e))?;
        let mm: Vec<u16> = depth
            .metres
            .iter()
            .zip(&depth.valid)
            .map(|(d, ok)| {
                if *ok {
                    (d * 1000.0).round().clamp(1.0, 65535.0) as u16
                } else {
                    0
                }
            })
            .collect();
        let path = self.dir.join(&depth_name);
        let buffer =
            image::ImageBuffer::<image::Luma<u16>, _>::from_raw(depth.width, depth.height, mm)
                .ok_or_else(|| io_err(&path, "depth map size does not match its data"))?;
        buffer.save(&path).map_err(|e| io_err(&path, e))?;
        let first = *self.first_timestamp.get_or_insert(frame.timestamp);
        self.index.mapping_scale = depth.mapping.scale;
        self.index.mapping_offset = depth.mapping.offset;
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        self.index.frames.push(RecordedFrame {
            sequence: frame.sequence,
            timestamp_ms: ms(frame.timestamp.saturating_sub(first)),
            rgb: rgb_name,
            depth: depth_name,
            timings: timings.map(|t| RecordedTimings {
                preprocess_ms: ms(t.preprocess),
                inference_ms: ms(t.inference),
                postprocess_ms: ms(t.postprocess),
            }),
        });
        self.write_index()
    }

    /// Writes `session.json` (also done after every frame, so a crash loses
    /// at most the frame being written).
    pub fn write_index(&self) -> Result<(), RecordingError> {
        let path = self.dir.join("session.json");
        let text = serde_json::to_string_pretty(&self.index).map_err(|e| io_err(&path, e))?;
        let partial = self.dir.join("session.json.partial");
        std::fs::write(&partial, text).map_err(|e| io_err(&partial, e))?;
        std::fs::rename(&partial, &path).map_err(|e| io_err(&path, e))
    }
}
