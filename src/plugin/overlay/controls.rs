//! The overlay's controls: pausing, the background, stabilisation, the
//! first AR camera's occlusion settings and the proximity alert.

use bevy::prelude::*;
use bevy_egui::egui;

use super::BAD;
use crate::plugin::{
    BackgroundSync, DepthDisplay, DepthUpsampling, MonoDepthCamera, MonoDepthProximity,
    MonoDepthSettings, OcclusionMode,
};
use crate::temporal::TemporalSettings;

/// Pausing, the background and stabilisation.
pub(super) fn settings_controls(
    ui: &mut egui::Ui,
    settings: &mut ResMut<MonoDepthSettings>,
    stabilisation_off: &mut Option<TemporalSettings>,
) {
    ui.separator();
    let mut paused = settings.paused;
    ui.checkbox(&mut paused, "pause inference");
    let mut background = settings.background;
    ui.horizontal(|ui| {
        ui.label("background:");
        ui.radio_value(&mut background, BackgroundSync::Synced, "synced")
            .on_hover_text("the frame the depth came from");
        ui.radio_value(&mut background, BackgroundSync::Newest, "newest")
            .on_hover_text("the newest frame, depth as it came");
        ui.radio_value(&mut background, BackgroundSync::Reprojected, "reprojected")
            .on_hover_text("the newest frame, depth moved into its camera pose");
    });
    let mut stable = settings.stabilisation.is_some();
    ui.checkbox(&mut stable, "temporal stabilisation");
    // Only touch the resource on a real change (change detection).
    if paused != settings.paused
        || background != settings.background
        || stable != settings.stabilisation.is_some()
    {
        apply_controls(settings, paused, background, stable, stabilisation_off);
    }
}

/// Writes the panel's controls into the settings. Turning stabilisation
/// off keeps the app's own [`TemporalSettings`] in `off`, and turning it on
/// brings them back; the other controls leave them alone.
fn apply_controls(
    settings: &mut MonoDepthSettings,
    paused: bool,
    background: BackgroundSync,
    stable: bool,
    off: &mut Option<TemporalSettings>,
) {
    settings.paused = paused;
    settings.background = background;
    if stable != settings.stabilisation.is_some() {
        settings.stabilisation = if stable {
            Some(off.take().unwrap_or_default())
        } else {
            *off = settings.stabilisation.take();
            None
        };
    }
}

/// Occlusion settings of the first AR camera.
pub(super) fn occlusion_controls(ui: &mut egui::Ui, camera: &mut Mut<MonoDepthCamera>) {
    ui.separator();
    let mut edited = camera.as_ref().clone();
    ui.horizontal(|ui| {
        ui.label("occlusion:");
        ui.radio_value(&mut edited.occlusion, OcclusionMode::Off, "off");
        ui.radio_value(&mut edited.occlusion, OcclusionMode::Hard, "hard");
        ui.radio_value(&mut edited.occlusion, OcclusionMode::Soft, "soft");
    });
    ui.add(egui::Slider::new(&mut edited.soft_band, 0.0..=1.0).text("soft band m"));
    ui.add(egui::Slider::new(&mut edited.soft_band_per_metre, 0.0..=0.2).text("soft band per m"));
    ui.add(egui::Slider::new(&mut edited.bias, -0.5..=0.5).text("depth bias m"));
    ui.add(egui::Slider::new(&mut edited.bias_per_metre, -0.1..=0.1).text("depth bias per m"));
    ui.add(egui::Slider::new(&mut edited.min_confidence, 0.0..=1.0).text("min confidence"));
    ui.horizontal(|ui| {
        ui.label("edges:");
        ui.radio_value(
            &mut edited.upsampling,
            DepthUpsampling::Guided,
            "image-guided",
        );
        ui.radio_value(
            &mut edited.upsampling,
            DepthUpsampling::Bilinear,
            "bilinear",
        );
    });
    ui.horizontal(|ui| {
        ui.label("show:");
        ui.radio_value(&mut edited.display, DepthDisplay::Camera, "camera");
        ui.radio_value(&mut edited.display, DepthDisplay::Depth, "depth");
        ui.radio_value(&mut edited.display, DepthDisplay::Mask, "mask");
        ui.radio_value(&mut edited.display, DepthDisplay::Confidence, "confidence");
        ui.checkbox(&mut edited.mirror, "mirror");
    });
    if edited != **camera {
        **camera = edited;
    }
}

/// The proximity alert: on or off, distance and share.
pub(super) fn proximity_controls(ui: &mut egui::Ui, proximity: &mut ResMut<MonoDepthProximity>) {
    ui.separator();
    let distance = proximity.detector.settings.distance;
    match proximity.last() {
        Some(c) if proximity.is_active() && proximity.enabled => {
            ui.colored_label(
                BAD,
                format!(
                    "PROXIMITY: {:.0} % nearer than {distance:.2} m (nearest {:.2} m)",
                    c.share * 100.0,
                    c.nearest
                ),
            );
        }
        Some(c) => {
            ui.label(format!(
                "proximity: {:.0} % nearer than {distance:.2} m, nearest {:.2} m",
                c.share * 100.0,
                c.nearest
            ));
        }
        None => {
            ui.label("proximity: no valid depth in the region");
        }
    }
    let (mut enabled, mut distance) = (proximity.enabled, distance);
    ui.horizontal(|ui| {
        ui.checkbox(&mut enabled, "alert");
        ui.add(egui::Slider::new(&mut distance, 0.3..=5.0).text("m"));
    });
    if enabled != proximity.enabled || distance != proximity.detector.settings.distance {
        proximity.enabled = enabled;
        proximity.detector.settings.distance = distance;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_panel_keeps_the_apps_own_stabilisation_settings() {
        let own = TemporalSettings {
            history: 0.5,
            ..TemporalSettings::default()
        };
        let mut settings = MonoDepthSettings {
            stabilisation: Some(own),
            ..MonoDepthSettings::default()
        };
        let mut off = None;
        // pausing or switching the background leaves them alone
        apply_controls(&mut settings, true, BackgroundSync::Newest, true, &mut off);
        assert_eq!(settings.stabilisation, Some(own));
        assert!(settings.paused);
        // off and on again: the same settings come back
        apply_controls(&mut settings, true, BackgroundSync::Newest, false, &mut off);
        assert_eq!(settings.stabilisation, None);
        apply_controls(&mut settings, false, BackgroundSync::Synced, true, &mut off);
        assert_eq!(settings.stabilisation, Some(own));
        // an app that started without stabilisation gets the defaults
        let mut plain = MonoDepthSettings {
            stabilisation: None,
            ..MonoDepthSettings::default()
        };
        apply_controls(&mut plain, false, BackgroundSync::Synced, true, &mut None);
        assert_eq!(plain.stabilisation, Some(TemporalSettings::default()));
    }
}
