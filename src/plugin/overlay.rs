//! egui overlay (feature `overlay`): what the plugin is doing and what it lacks.

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPlugin, EguiPrimaryContextPass, egui};

use super::{EngineStatus, MonoDepthStatus, SourceStatus};

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

fn status_window(mut contexts: EguiContexts, status: Option<Res<MonoDepthStatus>>) -> Result {
    let ctx = contexts.ctx_mut()?;
    egui::Window::new("Mono depth")
        .default_width(420.0)
        .show(ctx, |ui| {
            let Some(status) = status else {
                ui.colored_label(BAD, "MonoDepthPlugin is not added to the app");
                return;
            };
            let (colour, engine) = match &status.engine {
                EngineStatus::Starting => (WARN, "loading ONNX Runtime and the model…".to_owned()),
                EngineStatus::Ready(model) if model.trained => {
                    (GOOD, format!("model ready: {model}"))
                }
                EngineStatus::Ready(model) => (WARN, format!("model ready: {model}")),
                EngineStatus::NoModel => (WARN, "no model configured".to_owned()),
                EngineStatus::RuntimeUnavailable(reason) => {
                    (BAD, format!("ONNX Runtime missing: {reason}"))
                }
                EngineStatus::ModelFailed(reason) => (BAD, format!("no model: {reason}")),
            };
            ui.colored_label(colour, engine);
            let (colour, source) = match &status.source {
                SourceStatus::CamerasFound(_) => (GOOD, status.source.to_string()),
                SourceStatus::Probing => (WARN, status.source.to_string()),
                SourceStatus::NoSource | SourceStatus::NoCamera(_) => {
                    (BAD, format!("camera: {}", status.source))
                }
            };
            ui.colored_label(colour, source);
        });
    Ok(())
}
