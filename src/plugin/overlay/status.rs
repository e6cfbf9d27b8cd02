//! The overlay's status lines: engine, model, source, focal correction,
//! reprojection, and the rates.

use bevy::diagnostic::{DiagnosticsStore, FrameTimeDiagnosticsPlugin};
use bevy::prelude::*;
use bevy_egui::egui;

use super::{BAD, GOOD, WARN};
use crate::camera::FocalCorrection;
use crate::plugin::{
    AlignmentStatus, EngineStatus, MonoDepthStatus, ReprojectionStatus, SourceStatus,
};

/// What the engine, the source and the corrections are doing.
pub(super) fn status_lines(ui: &mut egui::Ui, status: &MonoDepthStatus) {
    match &status.engine {
        EngineStatus::Starting => ui.colored_label(WARN, "loading ONNX Runtime and the model…"),
        EngineStatus::Running(model) => {
            let color = if model.trained { GOOD } else { WARN };
            let r = ui.colored_label(color, format!("model: {model}"));
            if let Some(weights) = &model.weights {
                ui.label(format!("weights: {weights}"));
            }
            if let Some(library) = &model.runtime_library {
                ui.label(format!("ONNX Runtime: {}", library.display()));
            }
            r
        }
        EngineStatus::NoModel => ui.colored_label(WARN, "no model configured"),
        EngineStatus::RuntimeUnavailable(reason) => {
            ui.colored_label(BAD, format!("ONNX Runtime missing: {reason}"))
        }
        EngineStatus::ModelFailed(reason) => ui.colored_label(BAD, format!("no model: {reason}")),
    };
    let color = match &status.source {
        SourceStatus::Running(_) => GOOD,
        SourceStatus::Starting(_) => WARN,
        _ => BAD,
    };
    ui.colored_label(color, status.source.to_string());
    if let Some(error) = &status.last_frame_error {
        ui.colored_label(BAD, format!("last error: {error}"));
    }
    if let Some(error) = &status.texture_error {
        ui.colored_label(BAD, format!("not shown: {error}"));
    }
    let color = match status.focal {
        FocalCorrection::Applied { assumed: false, .. } | FocalCorrection::NotApplicable => GOOD,
        _ => WARN,
    };
    ui.colored_label(color, status.focal.to_string());
    match &status.alignment {
        AlignmentStatus::NotNeeded => {}
        AlignmentStatus::Metric { age, .. } => {
            let color = if *age == 0 { GOOD } else { WARN };
            ui.colored_label(color, status.alignment.to_string());
        }
        AlignmentStatus::NotMetric(_) => {
            ui.colored_label(BAD, status.alignment.to_string());
        }
    }
    if let Some(age) = status.depth_age {
        ui.label(format!("depth age: {:.0} ms", age.as_secs_f64() * 1000.0))
            .on_hover_text("how much older the depth's frame is than the frame on screen");
    }
    match &status.reprojection {
        ReprojectionStatus::Off => {}
        ReprojectionStatus::Reprojected { .. } => {
            ui.colored_label(GOOD, format!("depth {}", status.reprojection));
        }
        ReprojectionStatus::NotReprojected(_) => {
            ui.colored_label(WARN, format!("depth {}", status.reprojection));
        }
    }
}

pub(super) fn rates(
    ui: &mut egui::Ui,
    status: &MonoDepthStatus,
    diagnostics: Option<&DiagnosticsStore>,
    time: &Time<Real>,
) {
    let smoothed = |path: &bevy::diagnostic::DiagnosticPath| {
        diagnostics
            .and_then(|d| d.get(path))
            .and_then(|d| d.smoothed())
    };
    let (fps_path, depth_path) = (
        FrameTimeDiagnosticsPlugin::FPS,
        crate::plugin::MonoDepthDiagnostics::DEPTH_FPS,
    );
    let render_fps = smoothed(&fps_path).unwrap_or_else(|| 1.0 / time.delta_secs_f64().max(1e-6));
    let depth_fps = smoothed(&depth_path).unwrap_or(0.0);
    let f = &status.frames;
    ui.label(format!(
        "depth {depth_fps:.1} fps, render {render_fps:.0} fps; frames {} in, {} done, {} dropped, {} failed",
        f.received, f.processed, f.dropped, f.failed
    ));
}
