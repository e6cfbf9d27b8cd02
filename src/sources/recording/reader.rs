//! Opening a recording and reading its frames and depth maps back.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::format::*;
use super::*;
use crate::camera::ImageMapping;
use crate::depth::DepthMap;
use crate::frame::{CameraFrame, PixelFormat};

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

    /// Loads frame `i`'s image as RGBA8 (the background texture's layout),
    /// with its intrinsics when recorded.
    pub fn load_frame(&self, i: usize) -> Result<CameraFrame, RecordingError> {
        let entry = self.entry(i);
        let path = self.dir.join(&entry.rgb);
        let image = image::open(&path)
            .map_err(|e| io_err(&path, e))?
            .into_rgba8();
        let (w, h) = image.dimensions();
        let frame = CameraFrame::packed(PixelFormat::Rgba8, w, h, image.into_raw())
            .map_err(|e| io_err(&path, e))?;
        Ok(frame
            .with_intrinsics(entry.intrinsics.or(self.index.intrinsics))
            .with_rotation(entry.rotation().unwrap_or_default())
            .with_pose(entry.pose.map(pose_of))
            .with_anchors(
                entry
                    .anchors
                    .iter()
                    .map(|&[x, y, depth]| crate::align::MetricAnchor { x, y, depth })
                    .collect::<Vec<_>>(),
            ))
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
        map.set_mapping(self.frame_mapping(i))
            .map_err(|e| RecordingError::Format {
                path: self.dir.join(INDEX_FILE),
                reason: format!("frame {i}: {e}"),
            })?;
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
pub(super) fn entry_of(sequence: u64, len: usize) -> (usize, u64) {
    let k = sequence.saturating_sub(1);
    ((k % len as u64) as usize, k / len as u64)
}
