//! egui overlay (feature `overlay`): one panel to leave open while tuning —
//! status, model, per-stage timings with a rolling graph, rates, latency, a
//! live depth preview, proximity, and controls. Toggle with F3
//! ([`MonoDepthOverlay::toggle_key`]); hidden, it costs one resource check.

use std::collections::VecDeque;
use std::time::Duration;

use bevy::asset::RenderAssetUsages;
use bevy::diagnostic::{DiagnosticsStore, FrameTimeDiagnosticsPlugin};
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
use bevy_egui::{EguiContexts, EguiPlugin, EguiPrimaryContextPass, EguiTextureHandle, egui};

use super::occlusion::{DepthDisplay, DepthUpsampling, MonoDepthCamera, OcclusionMode};
use super::{
    BackgroundSync, CurrentDepth, EngineStatus, MonoDepthProximity, MonoDepthSettings,
    MonoDepthStatus, MonoDepthSystems, NewDepth, ReprojectionStatus, SourceStatus,
};
use crate::camera::FocalCorrection;
use crate::colormap::colorize;
use crate::engine::StageTimings;
use crate::temporal::TemporalSettings;

/// Shows the overlay. Adds `EguiPlugin` if the app has not.
#[derive(Debug, Clone, Default)]
pub struct MonoDepthOverlayPlugin;

/// Whether the overlay shows, and the key that toggles it.
#[derive(Resource, Debug, Clone, PartialEq)]
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
        app.init_resource::<MonoDepthOverlay>()
            .init_resource::<TimingHistory>()
            .init_resource::<Preview>()
            .add_systems(Update, toggle)
            .add_systems(PreUpdate, record_history.after(MonoDepthSystems::Receive))
            .add_systems(
                EguiPrimaryContextPass,
                panel.run_if(|o: Res<MonoDepthOverlay>| o.visible),
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

/// The last [`TimingHistory::CAPACITY`] frames' stage timings, milliseconds.
#[derive(Resource, Debug, Clone, Default, PartialEq)]
pub struct TimingHistory {
    /// Time in the mailbox.
    pub wait: VecDeque<f32>,
    /// Preprocessing.
    pub preprocess: VecDeque<f32>,
    /// Inference.
    pub inference: VecDeque<f32>,
    /// Postprocessing.
    pub postprocess: VecDeque<f32>,
    /// Frame received → texture written.
    pub latency: VecDeque<f32>,
}

impl TimingHistory {
    /// Frames kept.
    pub const CAPACITY: usize = 120;

    /// Adds one frame, dropping the oldest beyond the capacity.
    pub fn push(&mut self, t: &StageTimings, latency: Duration) {
        let ms = |d: Duration| d.as_secs_f32() * 1000.0;
        for (series, value) in [
            (&mut self.wait, ms(t.wait)),
            (&mut self.preprocess, ms(t.preprocess)),
            (&mut self.inference, ms(t.inference)),
            (&mut self.postprocess, ms(t.postprocess)),
            (&mut self.latency, ms(latency)),
        ] {
            if series.len() == Self::CAPACITY {
                series.pop_front();
            }
            series.push_back(value);
        }
    }
}

/// Median and maximum of a series (`None` when empty).
pub fn median_max(series: &VecDeque<f32>) -> Option<(f32, f32)> {
    let mut sorted: Vec<f32> = series.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f32::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    Some((median, sorted[n - 1]))
}

fn record_history(
    mut new_depth: MessageReader<NewDepth>,
    current: Res<CurrentDepth>,
    mut history: ResMut<TimingHistory>,
) {
    for depth in new_depth.read() {
        history.push(&depth.timings, current.latency);
    }
}

/// The colour-mapped depth preview: a Bevy image shown through egui, refilled
/// in place while its size holds, so its GPU texture and egui's binding of
/// it stay valid however often depth arrives.
#[derive(Resource, Default)]
struct Preview {
    image: Option<(Handle<Image>, egui::TextureId)>,
    sequence: Option<u64>,
    range: (f32, f32),
}

const WARN: egui::Color32 = egui::Color32::from_rgb(255, 190, 60);
const BAD: egui::Color32 = egui::Color32::from_rgb(255, 110, 100);
const GOOD: egui::Color32 = egui::Color32::from_rgb(130, 220, 130);

#[allow(clippy::too_many_arguments)]
fn panel(
    mut contexts: EguiContexts,
    status: Option<Res<MonoDepthStatus>>,
    current: Option<Res<CurrentDepth>>,
    settings: Option<ResMut<MonoDepthSettings>>,
    proximity: Option<ResMut<MonoDepthProximity>>,
    history: Res<TimingHistory>,
    mut preview: ResMut<Preview>,
    diagnostics: Option<Res<DiagnosticsStore>>,
    time: Res<Time<Real>>,
    mut cameras: Query<(&Camera, &mut MonoDepthCamera)>,
    mut images: ResMut<Assets<Image>>,
    mut stabilisation_off: Local<Option<TemporalSettings>>,
) -> Result {
    // The preview is colour-mapped only when a new depth map arrived.
    if let Some(map) = current.as_ref().and_then(|c| c.map.as_ref())
        && preview.sequence != Some(map.sequence)
    {
        let same_size = preview
            .image
            .as_ref()
            .and_then(|(handle, _)| images.get(handle))
            .is_some_and(|image| image.width() == map.width() && image.height() == map.height());
        if map.is_empty() {
            // Nothing to show (a custom estimator may produce empty maps).
            if let Some((old, _)) = preview.image.take() {
                contexts.remove_image(&old);
            }
        } else if same_size {
            let handle = preview.image.as_ref().map(|(h, _)| h.clone());
            if let Some(mut image) = handle.and_then(|h| images.get_mut(&h)) {
                preview.range = colorize(map, None, image.data.get_or_insert_with(Vec::new));
            }
        } else {
            let mut rgba = Vec::new();
            preview.range = colorize(map, None, &mut rgba);
            let handle = images.add(Image::new(
                Extent3d {
                    width: map.width(),
                    height: map.height(),
                    depth_or_array_layers: 1,
                },
                TextureDimension::D2,
                rgba,
                TextureFormat::Rgba8UnormSrgb,
                RenderAssetUsages::default(),
            ));
            if let Some((old, _)) = preview.image.take() {
                contexts.remove_image(&old);
            }
            let id = contexts.add_image(EguiTextureHandle::Strong(handle.clone()));
            preview.image = Some((handle, id));
        }
        preview.sequence = Some(map.sequence);
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
            status_lines(ui, &status);
            rates(ui, &status, diagnostics.as_deref(), &time);
            timings(ui, &history);
            if let (Some((_, texture)), Some(current)) = (&preview.image, &current)
                && let Some(map) = &current.map
            {
                ui.horizontal(|ui| {
                    ui.image((
                        *texture,
                        egui::vec2(
                            192.0,
                            192.0 * map.height() as f32 / map.width().max(1) as f32,
                        ),
                    ));
                    ui.vertical(|ui| {
                        ui.label(format!("depth #{}", map.sequence));
                        ui.colored_label(
                            egui::Color32::from_rgb(200, 40, 30),
                            format!("near {:.2} m", preview.range.0),
                        );
                        ui.colored_label(
                            egui::Color32::from_rgb(50, 60, 200),
                            format!("far {:.2} m", preview.range.1),
                        );
                        ui.label(format!(
                            "{} valid of {}",
                            map.stats().valid,
                            map.metres().len()
                        ));
                    });
                });
            }
            if let Some(mut camera) = cameras
                .iter_mut()
                .filter(|(camera, _)| camera.is_active)
                .min_by_key(|(camera, _)| camera.order)
                .map(|(_, settings)| settings)
            {
                occlusion_controls(ui, &mut camera);
            }
            if let Some(mut proximity) = proximity {
                proximity_controls(ui, &mut proximity);
            }
            if let Some(mut settings) = settings {
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
                    apply_controls(
                        &mut settings,
                        paused,
                        background,
                        stable,
                        &mut stabilisation_off,
                    );
                }
            }
        });
    Ok(())
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

fn status_lines(ui: &mut egui::Ui, status: &MonoDepthStatus) {
    match &status.engine {
        EngineStatus::Starting => ui.colored_label(WARN, "loading ONNX Runtime and the model…"),
        EngineStatus::Running(model) => {
            let colour = if model.trained { GOOD } else { WARN };
            let r = ui.colored_label(colour, format!("model: {model}"));
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
    let colour = match &status.source {
        SourceStatus::Running(_) => GOOD,
        SourceStatus::Starting(_) => WARN,
        _ => BAD,
    };
    ui.colored_label(colour, status.source.to_string());
    if let Some(error) = &status.last_frame_error {
        ui.colored_label(BAD, format!("last error: {error}"));
    }
    if let Some(error) = &status.texture_error {
        ui.colored_label(BAD, format!("not shown: {error}"));
    }
    let colour = match status.focal {
        FocalCorrection::Applied { assumed: false, .. } | FocalCorrection::NotApplicable => GOOD,
        _ => WARN,
    };
    ui.colored_label(colour, status.focal.to_string());
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

fn rates(
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
        super::MonoDepthDiagnostics::DEPTH_FPS,
    );
    let render_fps = smoothed(&fps_path).unwrap_or_else(|| 1.0 / time.delta_secs_f64().max(1e-6));
    let depth_fps = smoothed(&depth_path).unwrap_or(0.0);
    let f = &status.frames;
    ui.label(format!(
        "depth {depth_fps:.1} fps, render {render_fps:.0} fps; frames {} in, {} done, {} dropped, {} failed",
        f.received, f.processed, f.dropped, f.failed
    ));
}

fn timings(ui: &mut egui::Ui, history: &TimingHistory) {
    let rows = [
        ("wait", &history.wait),
        ("preprocess", &history.preprocess),
        ("inference", &history.inference),
        ("postprocess", &history.postprocess),
        ("capture to texture", &history.latency),
    ];
    egui::Grid::new("mono-depth-timings")
        .striped(true)
        .show(ui, |ui| {
            ui.label("stage");
            ui.label("median ms");
            ui.label("max ms");
            ui.end_row();
            for (name, series) in rows {
                ui.label(name);
                match median_max(series) {
                    Some((median, max)) => {
                        ui.label(format!("{median:.2}"));
                        ui.label(format!("{max:.2}"));
                    }
                    None => {
                        ui.label("–");
                        ui.label("–");
                    }
                }
                ui.end_row();
            }
        });
    graph(ui, &history.inference, &history.latency);
}

/// Inference (orange) and latency (blue) over the last frames.
fn graph(ui: &mut egui::Ui, inference: &VecDeque<f32>, latency: &VecDeque<f32>) {
    let (response, painter) =
        ui.allocate_painter(egui::vec2(ui.available_width(), 70.0), egui::Sense::hover());
    let rect = response.rect;
    painter.rect_filled(rect, 2.0, egui::Color32::from_gray(24));
    let top = inference
        .iter()
        .chain(latency)
        .copied()
        .filter(|v| v.is_finite())
        .fold(1.0f32, f32::max);
    for (series, colour) in [
        (inference, egui::Color32::from_rgb(255, 160, 60)),
        (latency, egui::Color32::from_rgb(90, 160, 255)),
    ] {
        let n = TimingHistory::CAPACITY.max(2) as f32;
        let points: Vec<egui::Pos2> = series
            .iter()
            .enumerate()
            .map(|(i, v)| {
                egui::pos2(
                    rect.left() + rect.width() * i as f32 / (n - 1.0),
                    rect.bottom() - rect.height() * (v / top).clamp(0.0, 1.0),
                )
            })
            .collect();
        painter.add(egui::Shape::line(points, egui::Stroke::new(1.5, colour)));
    }
    painter.text(
        rect.left_top() + egui::vec2(4.0, 2.0),
        egui::Align2::LEFT_TOP,
        format!("{top:.0} ms"),
        egui::FontId::monospace(10.0),
        egui::Color32::GRAY,
    );
}

/// Occlusion settings of the first AR camera.
fn occlusion_controls(ui: &mut egui::Ui, camera: &mut Mut<MonoDepthCamera>) {
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

fn proximity_controls(ui: &mut egui::Ui, proximity: &mut ResMut<MonoDepthProximity>) {
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

    #[test]
    fn history_keeps_the_last_frames_and_summarises_them() {
        let mut history = TimingHistory::default();
        for i in 0..(TimingHistory::CAPACITY + 30) {
            let t = StageTimings {
                inference: Duration::from_millis(i as u64),
                ..StageTimings::default()
            };
            history.push(&t, Duration::from_millis(2 * i as u64));
        }
        assert_eq!(history.inference.len(), TimingHistory::CAPACITY);
        assert_eq!(
            history.inference.front(),
            Some(&30.0),
            "the oldest 30 are gone"
        );
        let (median, max) = median_max(&history.inference).unwrap();
        assert_eq!((median, max), (89.5, 149.0));
        assert_eq!(median_max(&VecDeque::new()), None);
        assert_eq!(
            median_max(&VecDeque::from([3.0, 1.0, 2.0])),
            Some((2.0, 3.0))
        );
    }
}
