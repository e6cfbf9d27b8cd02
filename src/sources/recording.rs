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
//! [`ImageMapping`]), the intrinsics, rotation and camera pose when the frame
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

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{FrameHub, SourceStatus, SourceThread, Stop};
use crate::depth::DepthMap;
use crate::engine::{DepthEstimator, EngineError, ModelSummary, StageTimings};
use crate::frame::{CameraFrame, FrameRotation, PixelFormat};
use crate::preprocess::ImageMapping;

/// Version of the recording format this crate writes (it also reads 1).
pub const FORMAT_VERSION: u32 = 2;

/// The latest capture time a recording may hold: about 115 days, in ms.
pub const MAX_TIMESTAMP_MS: f64 = 1e10;

/// The largest depth map side a recording may hold, in pixels.
pub const MAX_DEPTH_SIDE: u32 = 8192;

const INDEX_FILE: &str = "session.json";
const FRAMES_FILE: &str = "frames.jsonl";

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

pub use crate::camera::Intrinsics;

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
    /// Width and height of the depth map (version 2; checked on load).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth_size: Option<[u32; 2]>,
    /// Where this frame's depth lies in it (version 2; otherwise the
    /// index's mapping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping_scale: Option<[f32; 2]>,
    /// See `mapping_scale`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping_offset: Option<[f32; 2]>,
    /// The camera's intrinsics for this frame, when known (version 2;
    /// otherwise the index's), in pixels of the stored image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intrinsics: Option<Intrinsics>,
    /// How the stored image is turned on screen, clockwise degrees (0, 90,
    /// 180 or 270; absent for 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rotation_degrees: u32,
    /// The camera pose, camera-to-world of the upright image's camera as a
    /// column-major 4×4 matrix (see [`crate::pose`]), when the frame had
    /// one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pose: Option<[f32; 16]>,
}

fn is_zero(degrees: &u32) -> bool {
    *degrees == 0
}

/// A recording's index: the `session.json` header and its frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingIndex {
    /// Format version ([`FORMAT_VERSION`]).
    pub version: u32,
    /// Where the depth maps come from (model name, "renderer", …).
    pub depth_source: String,
    /// Where the depth map lies in the frame: `frame = depth · scale + offset`
    /// (for frames that do not say; version 1 has only this one).
    pub mapping_scale: [f32; 2],
    /// See `mapping_scale`.
    pub mapping_offset: [f32; 2],
    /// Camera intrinsics, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intrinsics: Option<Intrinsics>,
    /// The frames, in order (version 2 keeps them in `frames.jsonl`).
    #[serde(default)]
    pub frames: Vec<RecordedFrame>,
}

impl RecordingIndex {
    /// Checks everything a replay relies on; the reason names the entry.
    fn validate(&self) -> Result<(), String> {
        if !(1..=FORMAT_VERSION).contains(&self.version) {
            return Err(format!(
                "format version {} (this crate reads 1 to {FORMAT_VERSION})",
                self.version
            ));
        }
        if self.frames.is_empty() {
            return Err("it has no frames".into());
        }
        check_mapping(self.mapping_scale, self.mapping_offset)
            .map_err(|e| format!("mapping: {e}"))?;
        if let Some(k) = self.intrinsics
            && !k.is_valid()
        {
            return Err(format!("intrinsics {k:?} are not a camera"));
        }
        for (n, frame) in self.frames.iter().enumerate() {
            frame
                .validate()
                .map_err(|e| format!("frame {} (sequence {}): {e}", n + 1, frame.sequence))?;
        }
        Ok(())
    }
}

impl RecordedFrame {
    fn validate(&self) -> Result<(), String> {
        let t = self.timestamp_ms;
        if !(t.is_finite() && (0.0..=MAX_TIMESTAMP_MS).contains(&t)) {
            return Err(format!(
                "timestamp {t} ms is not between 0 and {MAX_TIMESTAMP_MS} ms"
            ));
        }
        for name in [&self.rgb, &self.depth] {
            let path = Path::new(name);
            let inside = path
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
            if name.is_empty() || !inside {
                return Err(format!("file {name:?} is not a path inside the recording"));
            }
        }
        if let Some([w, h]) = self.depth_size
            && (w == 0 || h == 0 || w > MAX_DEPTH_SIDE || h > MAX_DEPTH_SIDE)
        {
            return Err(format!(
                "depth size {w}×{h} (at most {MAX_DEPTH_SIDE} px a side)"
            ));
        }
        if let Some(k) = self.intrinsics
            && !k.is_valid()
        {
            return Err(format!("intrinsics {k:?} are not a camera"));
        }
        if let Some(pose) = self.pose
            && !crate::pose::is_rigid(&pose_of(pose))
        {
            return Err(format!("pose {pose:?} is not a rigid transform"));
        }
        if self.rotation().is_none() {
            return Err(format!(
                "rotation {}° is not 0, 90, 180 or 270",
                self.rotation_degrees
            ));
        }
        match (self.mapping_scale, self.mapping_offset) {
            (None, None) => Ok(()),
            (Some(scale), Some(offset)) => check_mapping(scale, offset),
            _ => Err("mapping_scale and mapping_offset come together".into()),
        }
    }

    fn rotation(&self) -> Option<FrameRotation> {
        i32::try_from(self.rotation_degrees)
            .ok()
            .filter(|d| *d < 360)
            .and_then(FrameRotation::from_degrees)
    }

    fn mapping(&self) -> Option<ImageMapping> {
        Some(ImageMapping {
            scale: self.mapping_scale?,
            offset: self.mapping_offset?,
        })
    }
}

fn pose_of(columns: [f32; 16]) -> bevy::math::Affine3A {
    bevy::math::Affine3A::from_mat4(bevy::math::Mat4::from_cols_array(&columns))
}

fn check_mapping(scale: [f32; 2], offset: [f32; 2]) -> Result<(), String> {
    let finite = scale.iter().chain(&offset).all(|v| v.is_finite());
    if finite && scale.iter().all(|&s| s > 0.0) {
        Ok(())
    } else {
        Err(format!(
            "scale {scale:?}, offset {offset:?} is not a mapping"
        ))
    }
}

/// Milliseconds as a `Duration` (0 for anything that is not a valid time;
/// entries were validated when the recording was opened).
fn millis(ms: f64) -> Duration {
    Duration::try_from_secs_f64(ms / 1000.0).unwrap_or_default()
}

/// A recording opened for replay.
#[derive(Debug, Clone)]
pub struct Recording {
    /// The folder.
    pub dir: PathBuf,
    /// Its index.
    pub index: RecordingIndex,
    /// The rate a replay keeps when the recorded timestamps do not advance
    /// (frames pushed without timestamps are all recorded at 0 ms); set by
    /// [`Recording::open`] to [`FPS_WITHOUT_TIMESTAMPS`].
    pub fps_without_timestamps: f64,
}

/// Frames a second of a replay whose recorded timestamps do not advance.
pub const FPS_WITHOUT_TIMESTAMPS: f64 = 30.0;

impl Recording {
    /// Reads and checks the index of the recording in `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, RecordingError> {
        let dir = dir.into();
        let path = dir.join(INDEX_FILE);
        let format = |path: &Path, reason: String| RecordingError::Format {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| io_err(&path, e))?;
        let mut index: RecordingIndex =
            serde_json::from_str(&text).map_err(|e| format(&path, e.to_string()))?;
        if index.version >= 2 {
            let lines_path = dir.join(FRAMES_FILE);
            let lines = std::fs::read_to_string(&lines_path).map_err(|e| io_err(&lines_path, e))?;
            let mut lines = lines.lines().enumerate().peekable();
            while let Some((n, line)) = lines.next() {
                match serde_json::from_str::<RecordedFrame>(line) {
                    Ok(frame) => index.frames.push(frame),
                    // A crash while appending leaves a torn last line.
                    Err(_) if lines.peek().is_none() => {
                        tracing::warn!(
                            "{}: ignoring the incomplete last line",
                            lines_path.display()
                        );
                    }
                    Err(e) => return Err(format(&lines_path, format!("line {}: {e}", n + 1))),
                }
            }
        }
        index.validate().map_err(|reason| format(&path, reason))?;
        Ok(Self {
            dir,
            index,
            fps_without_timestamps: FPS_WITHOUT_TIMESTAMPS,
        })
    }

    /// The recording-wide mapping of depth onto the frame (frames of
    /// version 2 carry their own: see [`Self::frame_mapping`]).
    pub fn mapping(&self) -> ImageMapping {
        ImageMapping {
            scale: self.index.mapping_scale,
            offset: self.index.mapping_offset,
        }
    }

    /// Where frame `i`'s depth lies in the frame.
    pub fn frame_mapping(&self, i: usize) -> ImageMapping {
        self.entry(i).mapping().unwrap_or_else(|| self.mapping())
    }

    fn entry(&self, i: usize) -> &RecordedFrame {
        &self.index.frames[i % self.index.frames.len()]
    }

    /// Loads frame `i`'s RGB image, with its intrinsics when recorded.
    pub fn load_frame(&self, i: usize) -> Result<CameraFrame, RecordingError> {
        let entry = self.entry(i);
        let path = self.dir.join(&entry.rgb);
        let image = image::open(&path)
            .map_err(|e| io_err(&path, e))?
            .into_rgb8();
        let (w, h) = image.dimensions();
        let frame = CameraFrame::packed(PixelFormat::Rgb8, w, h, image.into_raw())
            .map_err(|e| io_err(&path, e))?;
        Ok(frame
            .with_intrinsics(entry.intrinsics.or(self.index.intrinsics))
            .with_rotation(entry.rotation().unwrap_or_default())
            .with_pose(entry.pose.map(pose_of)))
    }

    /// Loads frame `i`'s depth in metres (millimetres / 1000; 0 is invalid).
    /// The PNG must be 16-bit grey, of the size its entry names (and at most
    /// [`MAX_DEPTH_SIDE`] a side).
    pub fn load_depth(&self, i: usize) -> Result<DepthMap, RecordingError> {
        let entry = self.entry(i);
        let path = self.dir.join(&entry.depth);
        let format = |reason: String| RecordingError::Format {
            path: path.clone(),
            reason,
        };
        let image = match image::open(&path).map_err(|e| io_err(&path, e))? {
            image::DynamicImage::ImageLuma16(image) => image,
            other => {
                return Err(format(format!(
                    "depth must be 16-bit grey millimetres, this is {:?}",
                    other.color()
                )));
            }
        };
        let (w, h) = image.dimensions();
        if w > MAX_DEPTH_SIDE || h > MAX_DEPTH_SIDE {
            return Err(format(format!(
                "depth is {w}×{h}, at most {MAX_DEPTH_SIDE} px a side"
            )));
        }
        if let Some([ew, eh]) = entry.depth_size
            && [ew, eh] != [w, h]
        {
            return Err(format(format!(
                "depth is {w}×{h}, its entry says {ew}×{eh}"
            )));
        }
        let metres: Vec<f32> = image
            .into_raw()
            .into_iter()
            .map(|mm| f32::from(mm) / 1000.0)
            .collect();
        let mut map = DepthMap::from_metres(w, h, metres, (f32::MIN_POSITIVE, f32::MAX));
        map.mapping = self.frame_mapping(i);
        map.sequence = entry.sequence;
        map.timestamp = millis(entry.timestamp_ms);
        Ok(map)
    }

    /// Length of one pass through the recording.
    pub fn duration(&self) -> Duration {
        millis(self.pass_ms())
    }

    /// Whether the recorded timestamps advance from the first frame to the
    /// last; when they do not, a replay plays at
    /// [`Recording::fps_without_timestamps`].
    pub fn timestamps_advance(&self) -> bool {
        let frames = &self.index.frames;
        frames[frames.len() - 1].timestamp_ms > frames[0].timestamp_ms
    }

    /// The frame interval of a replay without usable timestamps, milliseconds.
    fn fallback_step_ms(&self) -> f64 {
        let fps = self.fps_without_timestamps;
        1000.0
            / if fps.is_finite() && fps > 0.0 {
                fps
            } else {
                FPS_WITHOUT_TIMESTAMPS
            }
    }

    /// Milliseconds from the start of a pass to entry `i`.
    fn offset_ms(&self, i: usize) -> f64 {
        if self.timestamps_advance() {
            (self.index.frames[i].timestamp_ms - self.index.frames[0].timestamp_ms).max(0.0)
        } else {
            i as f64 * self.fallback_step_ms()
        }
    }

    /// One pass in milliseconds: one frame interval past the last frame, so
    /// loops keep the rhythm.
    fn pass_ms(&self) -> f64 {
        let frames = &self.index.frames;
        let n = frames.len() as f64;
        if !self.timestamps_advance() {
            return n * self.fallback_step_ms();
        }
        let (first, last) = (
            frames[0].timestamp_ms,
            frames[frames.len() - 1].timestamp_ms,
        );
        let step = if n > 1.0 {
            (last - first) / (n - 1.0)
        } else {
            33.0
        };
        last - first + step
    }

    /// When a replay sends frame `sequence` (1, 2, 3… across loops), from
    /// the replay's start: at the recorded times, or at
    /// [`Recording::fps_without_timestamps`] when they do not advance.
    pub fn play_time(&self, sequence: u64) -> Duration {
        let (i, pass) = entry_of(sequence, self.index.frames.len());
        // Saturates after centuries of looping instead of overflowing.
        Duration::try_from_secs_f64((self.pass_ms() * pass as f64 + self.offset_ms(i)) / 1000.0)
            .unwrap_or(Duration::MAX)
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

/// Writes a session to a recording folder.
///
/// Each frame appends one line to `frames.jsonl`; `session.json` (a small
/// header) is written when the recorder is created and when the intrinsics
/// change.
#[derive(Debug)]
pub struct Recorder {
    dir: PathBuf,
    header: RecordingIndex,
    frames: std::fs::File,
    len: usize,
    first_timestamp: Option<Duration>,
}

impl Recorder {
    /// Creates `dir` (and `rgb/`, `depth/` inside it) and starts a new
    /// recording there, replacing any index already in it.
    pub fn create(
        dir: impl Into<PathBuf>,
        depth_source: impl Into<String>,
    ) -> Result<Self, RecordingError> {
        let dir = dir.into();
        for sub in ["rgb", "depth"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(|e| io_err(&path, e))?;
        }
        let path = dir.join(FRAMES_FILE);
        let frames = std::fs::File::create(&path).map_err(|e| io_err(&path, e))?;
        let recorder = Self {
            dir,
            header: RecordingIndex {
                version: FORMAT_VERSION,
                depth_source: depth_source.into(),
                mapping_scale: ImageMapping::IDENTITY.scale,
                mapping_offset: ImageMapping::IDENTITY.offset,
                intrinsics: None,
                frames: Vec::new(),
            },
            frames,
            len: 0,
            first_timestamp: None,
        };
        recorder.write_index()?;
        Ok(recorder)
    }

    /// Sets the camera intrinsics stored in the header (and rewrites it).
    pub fn set_intrinsics(&mut self, intrinsics: Intrinsics) -> Result<(), RecordingError> {
        self.header.intrinsics = Some(intrinsics);
        self.write_index()
    }

    /// Frames written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes one frame and its depth (invalid depth as 0 mm; depth beyond
    /// 65.535 m is clamped).
    pub fn record(
        &mut self,
        frame: &CameraFrame,
        depth: &DepthMap,
        timings: Option<StageTimings>,
    ) -> Result<(), RecordingError> {
        let n = self.len + 1;
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
            .metres()
            .iter()
            .zip(depth.valid())
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
            image::ImageBuffer::<image::Luma<u16>, _>::from_raw(depth.width(), depth.height(), mm)
                .ok_or_else(|| io_err(&path, "depth map size does not match its data"))?;
        buffer.save(&path).map_err(|e| io_err(&path, e))?;
        let first = *self.first_timestamp.get_or_insert(frame.timestamp);
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let entry = RecordedFrame {
            sequence: frame.sequence,
            timestamp_ms: ms(frame.timestamp.saturating_sub(first)),
            rgb: rgb_name,
            depth: depth_name,
            timings: timings.map(|t| RecordedTimings {
                preprocess_ms: ms(t.preprocess),
                inference_ms: ms(t.inference),
                postprocess_ms: ms(t.postprocess),
            }),
            depth_size: Some([depth.width(), depth.height()]),
            mapping_scale: Some(depth.mapping.scale),
            mapping_offset: Some(depth.mapping.offset),
            intrinsics: frame.intrinsics,
            rotation_degrees: frame.rotation.degrees(),
            pose: frame
                .pose
                .map(|p| bevy::math::Mat4::from(p).to_cols_array()),
        };
        let path = self.dir.join(FRAMES_FILE);
        let mut line = serde_json::to_vec(&entry).map_err(|e| io_err(&path, e))?;
        line.push(b'\n');
        // One write per line: a crash tears at most this line.
        std::io::Write::write_all(&mut self.frames, &line).map_err(|e| io_err(&path, e))?;
        self.len = n;
        if n == 1 {
            // The first frame's mapping, for readers that look at the header.
            self.header.mapping_scale = depth.mapping.scale;
            self.header.mapping_offset = depth.mapping.offset;
            self.write_index()?;
        }
        Ok(())
    }

    /// Writes the `session.json` header (atomically: a reader sees the old
    /// or the new one).
    pub fn write_index(&self) -> Result<(), RecordingError> {
        let path = self.dir.join(INDEX_FILE);
        let text = serde_json::to_string_pretty(&self.header).map_err(|e| io_err(&path, e))?;
        let partial = self.dir.join("session.json.partial");
        std::fs::write(&partial, text).map_err(|e| io_err(&partial, e))?;
        std::fs::rename(&partial, &path).map_err(|e| io_err(&path, e))
    }
}
