//! egui overlay (feature `overlay`): what the plugin is doing and what it lacks.

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPlugin, EguiPrimaryContextPass, egui};

use super::{CurrentDepth, EngineStatus, MonoDepthProximity, MonoDepthStatus, SourceStatus};

/// Shows [`MonoDepthStatus`] in an egui window. Adds `EguiPlugin` if the app
/// has not.
#[derive(Debug, Clone, Default)]
pub struct MonoDepthOverlayPlugin;

impl Plugin for MonoDepthOverlayPlugin {
    fn build(&self, app: &mut App) {
        if !app.is_plugin_added::<EguiPlugin>() {
            app.add_plugins(EguiPlugin::default());
        }
        app.add_systems(EguiPrimaryContextPass, status_window);
    }
}

const WARN: egui::Color32 = egui::Color32::from_rgb(255, 190, 60);
const BAD: egui::Color32 = egui::Color32::from_rgb(255, 110, 100);
const GOOD: egui::Color32 = egui::Color32::from_rgb(130, 220, 130);

fn status_window(
    proximity: Option<Res<MonoDepthProximity>>,
    mut contexts: EguiContexts,
    status: Option<Res<MonoDepthStatus>>,
    current: Option<Res<CurrentDepth>>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    egui::Window::new("Mono depth").default_width(420.0).show(ctx, |ui| {
        let Some(status) = status else {
            ui.colored_label(BAD, "MonoDepthPlugin is not added to the app");
            return;
        };
        let (colour, engine) = match &status.engine {
            EngineStatus::Starting => (WARN, "loading ONNX Runtime and the model…".to_owned()),
            EngineStatus::Running(model) if model.trained => (GOOD, format!("model: {model}")),
            EngineStatus::Running(model) => (WARN, format!("model: {model}")),
            EngineStatus::NoModel => (WARN, "no model configured".to_owned()),
            EngineStatus::RuntimeUnavailable(reason) => (BAD, format!("ONNX Runtime missing: {reason}")),
            EngineStatus::ModelFailed(reason) => (BAD, format!("no model: {reason}")),
        };
        ui.colored_label(colour, engine);
        let colour = match &status.source {
            SourceStatus::Running(_) => GOOD,
            SourceStatus::Starting(_) => WARN,
            _ => BAD,
        };
        ui.colored_label(colour, status.source.to_string());
        let f = &status.frames;
        ui.label(format!(
            "frames: {} received, {} processed, {} dropped, {} failed",
            f.received, f.processed, f.dropped, f.failed
        ));
        if let Some(current) = current
            && let Some(map) = &current.map
        {
            let t = &current.timings;
            ui.label(format!(
                "depth #{}: {:.2}–{:.2} m; pre {:.1} ms, inference {:.1} ms, post {:.1} ms, latency {:.0} ms",
                map.sequence,
                map.stats.min,
                map.stats.max,
                t.preprocess.as_secs_f64() * 1e3,
                t.inference.as_secs_f64() * 1e3,
                t.postprocess.as_secs_f64() * 1e3,
                current.latency.as_secs_f64() * 1e3
            ));
        }
        if let Some(proximity) = proximity
            && proximity.enabled
        {
            let distance = proximity.detector.settings.distance;
            match proximity.last() {
                Some(c) if proximity.is_active() => ui.colored_label(
                    BAD,
                    format!("PROXIMITY: {:.0} % of the view nearer than {distance:.2} m (nearest {:.2} m)", c.share * 100.0, c.nearest),
                ),
                Some(c) => ui.label(format!("proximity: {:.0} % nearer than {distance:.2} m, nearest {:.2} m", c.share * 100.0, c.nearest)),
                None => ui.label("proximity: no valid depth in the region"),
            };
        }
        if let Some(error) = &status.last_frame_error {
            ui.colored_label(BAD, error);
        }
    });
    Ok(())
}
