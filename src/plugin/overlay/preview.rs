//! The overlay's depth preview: the depth map colour-mapped into a Bevy
//! image that egui shows, with its near and far ends.

use bevy::asset::RenderAssetUsages;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
use bevy_egui::{EguiContexts, EguiTextureHandle, egui};

use crate::colormap::colorize;
use crate::depth::DepthMap;

/// The colour-mapped depth preview: a Bevy image shown through egui, refilled
/// in place while its size holds, so its GPU texture and egui's binding of
/// it stay valid however often depth arrives.
#[derive(Resource, Default)]
pub(super) struct Preview {
    image: Option<(Handle<Image>, egui::TextureId)>,
    sequence: Option<u64>,
    range: (f32, f32),
}

/// Colour-maps `map` into the preview when it is a new depth map.
pub(super) fn update(
    preview: &mut Preview,
    map: &DepthMap,
    contexts: &mut EguiContexts,
    images: &mut Assets<Image>,
) {
    if preview.sequence == Some(map.sequence) {
        return;
    }
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

/// The preview beside its legend, when there is one.
pub(super) fn show(ui: &mut egui::Ui, preview: &Preview, map: &DepthMap) {
    let Some((_, texture)) = &preview.image else {
        return;
    };
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
