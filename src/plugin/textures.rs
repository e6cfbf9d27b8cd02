//! The depth texture and the camera-background texture.
//!
//! Both are created once (in `Plugin::finish`) and keep their handles for the
//! life of the app. Each update rewrites the image data in place, so the GPU
//! texture and every bind group using it stay valid; only a change of size
//! (another camera resolution, another model) makes a new GPU texture behind
//! the same handle.

use bevy::asset::RenderAssetUsages;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};

use crate::depth::DepthMap;
use crate::frame::CameraFrame;

/// Handles of the plugin's textures (present when the app has `Assets<Image>`,
/// i.e. `AssetPlugin` and `ImagePlugin`, as with `DefaultPlugins`).
#[derive(Resource, Debug, Clone)]
pub struct DepthTextures {
    /// Depth in metres, `R32Float`, the model's output size; 0 where invalid.
    /// Read it with `textureLoad` (R32Float is not filterable everywhere).
    pub depth: Handle<Image>,
    /// The camera image, `Rgba8UnormSrgb`, the frame's size.
    pub background: Handle<Image>,
    /// Sequence number of the frame whose depth the depth texture holds.
    pub depth_sequence: Option<u64>,
    /// Sequence number of the frame the background shows.
    pub background_sequence: Option<u64>,
}

pub(super) fn build(app: &mut App) {
    let Some(mut images) = app.world_mut().get_resource_mut::<Assets<Image>>() else {
        warn!(
            "bevy_mono_depth: no Assets<Image> (add DefaultPlugins, or AssetPlugin and ImagePlugin, before MonoDepthPlugin): depth and background textures are off"
        );
        return;
    };
    let depth = images.add(blank(TextureFormat::R32Float, 4));
    let background = images.add(blank(TextureFormat::Rgba8UnormSrgb, 4));
    app.insert_resource(DepthTextures {
        depth,
        background,
        depth_sequence: None,
        background_sequence: None,
    });
}

fn blank(format: TextureFormat, bytes: usize) -> Image {
    image(1, 1, vec![0; bytes], format)
}

fn image(width: u32, height: u32, data: Vec<u8>, format: TextureFormat) -> Image {
    Image::new(
        Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        },
        TextureDimension::D2,
        data,
        format,
        RenderAssetUsages::default(),
    )
}

/// Fills the image behind `handle` with `fill`: in place (reusing its
/// buffer) when the size is unchanged, as a new image under the same handle
/// otherwise.
fn write(
    images: &mut Assets<Image>,
    handle: &Handle<Image>,
    width: u32,
    height: u32,
    format: TextureFormat,
    fill: impl FnOnce(&mut Vec<u8>),
) {
    // A GPU texture cannot be empty; keep the previous image.
    if width == 0 || height == 0 {
        warn!("bevy_mono_depth: an empty {width}×{height} image was not uploaded");
        return;
    }
    if let Some(mut existing) = images.get_mut(handle)
        && existing.width() == width
        && existing.height() == height
    {
        fill(existing.data.get_or_insert_with(Vec::new));
        return;
    }
    let mut data = Vec::new();
    fill(&mut data);
    if let Err(e) = images.insert(handle, image(width, height, data, format)) {
        warn!("bevy_mono_depth: texture could not be replaced: {e}");
    }
}

pub(super) fn write_depth(
    textures: &mut DepthTextures,
    images: &mut Assets<Image>,
    depth: &DepthMap,
) {
    write(
        images,
        &textures.depth,
        depth.width,
        depth.height,
        TextureFormat::R32Float,
        |data| {
            data.clear();
            data.resize(depth.metres.len() * 4, 0);
            for (bytes, metres) in data.chunks_exact_mut(4).zip(&depth.metres) {
                bytes.copy_from_slice(&metres.to_le_bytes());
            }
        },
    );
    textures.depth_sequence = Some(depth.sequence);
}

pub(super) fn write_background(
    textures: &mut DepthTextures,
    images: &mut Assets<Image>,
    frame: &CameraFrame,
) {
    write(
        images,
        &textures.background,
        frame.width(),
        frame.height(),
        TextureFormat::Rgba8UnormSrgb,
        |data| frame.write_rgba8(data),
    );
    textures.background_sequence = Some(frame.sequence);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_depth_map_keeps_the_previous_texture() {
        let mut images = Assets::<Image>::default();
        let depth = images.add(blank(TextureFormat::R32Float, 4));
        let mut textures = DepthTextures {
            depth: depth.clone(),
            background: images.add(blank(TextureFormat::Rgba8UnormSrgb, 4)),
            depth_sequence: None,
            background_sequence: None,
        };
        let map = DepthMap::from_metres(2, 1, vec![1.5, 2.5], (0.5, 10.0));
        write_depth(&mut textures, &mut images, &map);
        let bytes: Vec<u8> = [1.5f32, 2.5].iter().flat_map(|d| d.to_le_bytes()).collect();
        assert_eq!(
            images.get(&depth).unwrap().data.as_deref(),
            Some(&bytes[..])
        );
        write_depth(&mut textures, &mut images, &DepthMap::empty());
        let image = images.get(&depth).unwrap();
        assert_eq!((image.width(), image.height()), (2, 1));
        assert_eq!(image.data.as_deref(), Some(&bytes[..]));
    }
}
