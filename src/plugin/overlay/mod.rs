//! egui overlay (feature `overlay`): one panel to leave open while tuning —
//! status, model, per-stage timings with a rolling graph, rates, latency, a
//! live depth preview, proximity, and controls. Toggle with F3
//! ([`MonoDepthOverlay::toggle_key`]); hidden, it costs one resource check.

mod controls;
mod history;
mod preview;
mod status;

use bevy::diagnostic::DiagnosticsStore;
use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPlugin, EguiPrimaryContextPass, egui};

pub use history::{TimingHistory, median_max};

use super::{
    CurrentDepth, MonoDepthCamera, MonoDepthProximity, MonoDepthSettings, MonoDepthStatus,
    MonoDepthSystems,
};
use crate::temporal::TemporalSettings;

/// Shows the overlay. Adds `EguiPlugin` if the app has not.
#[derive(Debug, Clone, Default)]
pub struct MonoDepthOverlayPlugin;

/// Whether the overlay shows, and the key that toggles it.
#[derive(Resource, Debug, Clone, PartialEq, Reflect)]
#[reflect(Resource, Debug, Default, PartialEq)]
pub struct MonoDepthOverlay {
    /// Shown now.
    pub visible: bool,
    /// Key that shows and hides it (F3).
    pub toggle_key: KeyCode,
}

impl Default for MonoDepthOverlay {
    fn default() -> Self {
        Self {
            visible: true,
            toggle_key: KeyCode::F3,
        }
    }
}

impl Plugin for MonoDepthOverlayPlugin {
    fn build(&self, app: &mut App) {
        if !app.is_plugin_added::<EguiPlugin>() {
            app.add_plugins(EguiPlugin::default());
        }
        app.register_type::<MonoDepthOverlay>()
            .init_resource::<MonoDepthOverlay>()
            .init_resource::<TimingHistory>()
            .init_resource::<preview::Preview>()
            .add_systems(Update, toggle.in_set(MonoDepthSystems::Overlay))
            .add_systems(
                PreUpdate,
                history::record_history.in_set(MonoDepthSystems::Diagnostics),
            )
            .add_systems(
                EguiPrimaryContextPass,
                panel
                    .run_if(|o: Res<MonoDepthOverlay>| o.visible)
                    .in_set(MonoDepthSystems::Overlay),
            );
    }
}

fn toggle(keys: Option<Res<ButtonInput<KeyCode>>>, mut overlay: ResMut<MonoDepthOverlay>) {
    if let Some(keys) = keys
        && keys.just_pressed(overlay.toggle_key)
    {
        overlay.visible = !overlay.visible;
    }
}

/// Colours of warnings, faults and good news.
const WARN: egui::Color32 = egui::Color32::from_rgb(255, 190, 60);
const BAD: egui::Color32 = egui::Color32::from_rgb(255, 110, 100);
const GOOD: egui::Color32 = egui::Color32::from_rgb(130, 220, 130);

#[allow(clippy::too_many_arguments)]
/// The overlay window.
fn panel(
    mut contexts: EguiContexts,
    status: Option<Res<MonoDepthStatus>>,
    current: Option<Res<CurrentDepth>>,
    settings: Option<ResMut<MonoDepthSettings>>,
    proximity: Option<ResMut<MonoDepthProximity>>,
    history: Res<TimingHistory>,
    mut preview: ResMut<preview::Preview>,
    diagnostics: Option<Res<DiagnosticsStore>>,
    time: Res<Time<Real>>,
    mut cameras: Query<(&Camera, &mut MonoDepthCamera)>,
    mut images: ResMut<Assets<Image>>,
    mut stabilisation_off: Local<Option<TemporalSettings>>,
) -> Result {
    if let Some(map) = current.as_ref().and_then(|c| c.map.as_ref()) {
        preview::update(&mut preview, map, &mut contexts, &mut images);
    }
    let ctx = contexts.ctx_mut()?;
    egui::Window::new("Mono depth (F3)")
        .default_width(440.0)
        // Taller than a small window (720p): kept on screen and scrolled.
        .vscroll(true)
        .show(ctx, |ui| {
            let Some(status) = status else {
                ui.colored_label(BAD, "MonoDepthPlugin is not added to the app");
                return;
            };
            status::status_lines(ui, &status);
            status::rates(ui, &status, diagnostics.as_deref(), &time);
            history::timings(ui, &history);
            if let Some(map) = current.as_ref().and_then(|c| c.map.as_ref()) {
                preview::show(ui, &preview, map);
            }
            if let Some(mut camera) = cameras
                .iter_mut()
                .filter(|(camera, _)| camera.is_active)
                .min_by_key(|(camera, _)| camera.order)
                .map(|(_, settings)| settings)
            {
                controls::occlusion_controls(ui, &mut camera);
            }
            if let Some(mut proximity) = proximity {
                controls::proximity_controls(ui, &mut proximity);
            }
            if let Some(mut settings) = settings {
                controls::settings_controls(ui, &mut settings, &mut stabilisation_off);
            }
        });
    Ok(())
}
