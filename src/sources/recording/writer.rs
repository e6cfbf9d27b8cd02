//! Recording a session: frames, depth maps and their entries, written as
//! they come.

use std::path::PathBuf;
use std::time::Duration;

use super::format::*;
use super::*;
use crate::camera::ImageMapping;
use crate::depth::DepthMap;
use crate::engine::StageTimings;
use crate::frame::CameraFrame;

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
            mapping_scale: Some(depth.mapping().scale),
            mapping_offset: Some(depth.mapping().offset),
            intrinsics: frame.intrinsics(),
            rotation_degrees: frame.rotation.degrees(),
            pose: frame
                .pose()
                .map(|p| bevy::math::Mat4::from(p).to_cols_array()),
            anchors: frame
                .anchors()
                .iter()
                .map(|a| [a.x, a.y, a.depth])
                // JSON has no NaN: such anchors would make the index unreadable.
                .filter(|a| a.iter().all(|v| v.is_finite()))
                .take(super::MAX_ANCHORS)
                .collect(),
        };
        let path = self.dir.join(FRAMES_FILE);
        let mut line = serde_json::to_vec(&entry).map_err(|e| io_err(&path, e))?;
        line.push(b'\n');
        // One write per line: a crash tears at most this line.
        std::io::Write::write_all(&mut self.frames, &line).map_err(|e| io_err(&path, e))?;
        self.len = n;
        if n == 1 {
            // The first frame's mapping, for readers that look at the header.
            self.header.mapping_scale = depth.mapping().scale;
            self.header.mapping_offset = depth.mapping().offset;
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
