//! The recording format: the header and one entry per frame, as stored in
//! JSON, and the checks each entry passes before it is used.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{FORMAT_VERSION, MAX_ANCHORS, MAX_DEPTH_SIDE, MAX_TIMESTAMP_MS};
use crate::camera::{FrameRotation, ImageMapping, Intrinsics};

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
    /// The frame's metric anchors as `[x, y, depth]`: pixels of the stored
    /// image and metres (absent when it had none). Unusable ones are kept
    /// as recorded and dropped, counted, when the frame is processed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anchors: Vec<[f32; 3]>,
}

pub(super) fn is_zero(degrees: &u32) -> bool {
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
    pub(super) fn validate(&self) -> Result<(), String> {
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
    pub(super) fn validate(&self) -> Result<(), String> {
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
        if self.anchors.len() > MAX_ANCHORS {
            return Err(format!(
                "{} anchors (at most {MAX_ANCHORS})",
                self.anchors.len()
            ));
        }
        if let Some(pose) = self.pose
            && !crate::camera::pose::is_rigid(&pose_of(pose))
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

    pub(super) fn rotation(&self) -> Option<FrameRotation> {
        i32::try_from(self.rotation_degrees)
            .ok()
            .filter(|d| *d < 360)
            .and_then(FrameRotation::from_degrees)
    }

    pub(super) fn mapping(&self) -> Option<ImageMapping> {
        Some(ImageMapping {
            scale: self.mapping_scale?,
            offset: self.mapping_offset?,
        })
    }
}

pub(super) fn pose_of(columns: [f32; 16]) -> bevy::math::Affine3A {
    bevy::math::Affine3A::from_mat4(bevy::math::Mat4::from_cols_array(&columns))
}

pub(super) fn check_mapping(scale: [f32; 2], offset: [f32; 2]) -> Result<(), String> {
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
pub(super) fn millis(ms: f64) -> Duration {
    Duration::try_from_secs_f64(ms / 1000.0).unwrap_or_default()
}
