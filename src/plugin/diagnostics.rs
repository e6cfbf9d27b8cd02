//! Timings and rates through Bevy's `Diagnostics`, so `LogDiagnosticsPlugin`
//! and other readers see them.

use bevy::diagnostic::{Diagnostic, DiagnosticPath, Diagnostics, RegisterDiagnostic};
use bevy::prelude::*;

use super::receive::NewDepth;
use super::{CurrentDepth, MonoDepthStatus, MonoDepthSystems};

/// The plugin's diagnostic paths.
pub struct MonoDepthDiagnostics;

impl MonoDepthDiagnostics {
    /// Model run time per frame, milliseconds.
    pub const INFERENCE_MS: DiagnosticPath = DiagnosticPath::const_new("mono_depth/inference_ms");
    /// Preprocessing time per frame, milliseconds.
    pub const PREPROCESS_MS: DiagnosticPath = DiagnosticPath::const_new("mono_depth/preprocess_ms");
    /// Postprocessing time per frame, milliseconds.
    pub const POSTPROCESS_MS: DiagnosticPath =
        DiagnosticPath::const_new("mono_depth/postprocess_ms");
    /// Temporal stabilisation time per depth map (on the inference
    /// thread), milliseconds.
    pub const STABILISE_MS: DiagnosticPath = DiagnosticPath::const_new("mono_depth/stabilise_ms");
    /// Time a frame waited in the mailbox, milliseconds.
    pub const WAIT_MS: DiagnosticPath = DiagnosticPath::const_new("mono_depth/wait_ms");
    /// From the frame reaching the crate to its depth texture being written, milliseconds.
    pub const LATENCY_MS: DiagnosticPath = DiagnosticPath::const_new("mono_depth/latency_ms");
    /// Depth maps per second.
    pub const DEPTH_FPS: DiagnosticPath = DiagnosticPath::const_new("mono_depth/depth_fps");
    /// Frames dropped so far (replaced before processing).
    pub const DROPPED_FRAMES: DiagnosticPath =
        DiagnosticPath::const_new("mono_depth/dropped_frames");
}

pub(super) fn build(app: &mut App) {
    for (path, suffix) in [
        (MonoDepthDiagnostics::INFERENCE_MS, "ms"),
        (MonoDepthDiagnostics::PREPROCESS_MS, "ms"),
        (MonoDepthDiagnostics::POSTPROCESS_MS, "ms"),
        (MonoDepthDiagnostics::STABILISE_MS, "ms"),
        (MonoDepthDiagnostics::WAIT_MS, "ms"),
        (MonoDepthDiagnostics::LATENCY_MS, "ms"),
        (MonoDepthDiagnostics::DEPTH_FPS, "fps"),
        (MonoDepthDiagnostics::DROPPED_FRAMES, "frames"),
    ] {
        app.register_diagnostic(Diagnostic::new(path).with_suffix(suffix));
    }
    app.add_systems(PreUpdate, measure.in_set(MonoDepthSystems::Diagnostics));
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn measure(
    mut diagnostics: Diagnostics,
    mut new_depth: MessageReader<NewDepth>,
    current: Res<CurrentDepth>,
    status: Res<MonoDepthStatus>,
    time: Res<Time<Real>>,
    mut last: Local<Option<f64>>,
) {
    let Some(depth) = new_depth.read().last() else {
        return;
    };
    let t = &depth.timings;
    diagnostics.add_measurement(&MonoDepthDiagnostics::INFERENCE_MS, || ms(t.inference));
    diagnostics.add_measurement(&MonoDepthDiagnostics::PREPROCESS_MS, || ms(t.preprocess));
    diagnostics.add_measurement(&MonoDepthDiagnostics::POSTPROCESS_MS, || ms(t.postprocess));
    diagnostics.add_measurement(&MonoDepthDiagnostics::STABILISE_MS, || ms(t.stabilise));
    diagnostics.add_measurement(&MonoDepthDiagnostics::WAIT_MS, || ms(t.wait));
    diagnostics.add_measurement(&MonoDepthDiagnostics::LATENCY_MS, || ms(current.latency));
    diagnostics.add_measurement(&MonoDepthDiagnostics::DROPPED_FRAMES, || {
        status.frames.dropped as f64
    });
    let now = time.elapsed_secs_f64();
    if let Some(previous) = last.replace(now)
        && now > previous
    {
        diagnostics.add_measurement(&MonoDepthDiagnostics::DEPTH_FPS, || 1.0 / (now - previous));
    }
}
