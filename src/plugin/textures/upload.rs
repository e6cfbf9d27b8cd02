//! The render-world side of the textures: the newest frame and depth map are
//! extracted (an `Arc` clone, no pixel copy) and written into their GPU
//! textures with `RenderQueue::write_texture`, after Bevy has prepared the
//! textures (a size change makes a new one first).

use std::sync::Arc;

use bevy::prelude::*;
use bevy::render::render_asset::RenderAssets;
use bevy::render::render_resource::{Extent3d, TexelCopyBufferLayout, TextureFormat};
use bevy::render::renderer::RenderQueue;
use bevy::render::texture::GpuImage;
use bevy::render::{Extract, ExtractSchedule, Render, RenderApp, RenderSystems};

use super::{DEPTH_FORMAT, DepthTextures, DepthUpload, FrameUpload};
use crate::frame::PixelFormat;

/// Render-world state: what is waiting to be written, and what was.
#[derive(Resource, Default)]
struct PendingUploads {
    depth: Option<Arc<DepthUpload>>,
    background: Option<FrameUpload>,
    depth_written: u64,
    background_written: u64,
    handles: Option<(Handle<Image>, Handle<Image>)>,
    /// RGB8 frames expanded to RGBA (reused).
    scratch: Vec<u8>,
}

pub(super) fn build(app: &mut App) {
    let Some(render_app) = app.get_sub_app_mut(RenderApp) else {
        return;
    };
    render_app
        .init_resource::<PendingUploads>()
        .add_systems(ExtractSchedule, extract_uploads)
        .add_systems(
            Render,
            write_uploads.in_set(RenderSystems::PrepareResources),
        );
}

/// Takes the newest frame and depth map not yet written (cheap clones).
fn extract_uploads(
    textures: Extract<Option<Res<DepthTextures>>>,
    mut pending: ResMut<PendingUploads>,
) {
    let Some(textures) = textures.as_ref() else {
        return;
    };
    if pending.handles.is_none() {
        pending.handles = Some((textures.depth.clone(), textures.background.clone()));
    }
    if let Some(depth) = &textures.uploads.depth
        && depth.generation > pending.depth_written
        && pending
            .depth
            .as_ref()
            .is_none_or(|d| d.generation < depth.generation)
    {
        pending.depth = Some(Arc::clone(depth));
    }
    if let Some(frame) = &textures.uploads.background
        && frame.generation > pending.background_written
        && pending
            .background
            .as_ref()
            .is_none_or(|f| f.generation < frame.generation)
    {
        pending.background = Some(frame.clone());
    }
}

/// Whether `gpu` is the texture an upload of `size` and `format` needs (it
/// is not yet, for a frame or two, after a change of size or format).
fn fits(gpu: &GpuImage, size: UVec2, format: TextureFormat) -> bool {
    let s = gpu.texture_descriptor.size;
    (s.width, s.height) == (size.x, size.y) && gpu.texture_descriptor.format == format
}

fn extent(size: UVec2) -> Extent3d {
    Extent3d {
        width: size.x,
        height: size.y,
        depth_or_array_layers: 1,
    }
}

/// Writes what is pending into the GPU textures; an upload whose texture is
/// not ready yet waits for the next frame (unless a newer one replaces it).
fn write_uploads(
    mut pending: ResMut<PendingUploads>,
    images: Res<RenderAssets<GpuImage>>,
    queue: Res<RenderQueue>,
) {
    let pending = &mut *pending;
    let Some((depth_handle, background_handle)) = &pending.handles else {
        return;
    };
    if let Some(depth) = pending.depth.take() {
        match images.get(depth_handle) {
            Some(gpu) if fits(gpu, depth.size, DEPTH_FORMAT) => {
                queue.write_texture(
                    gpu.texture.as_image_copy(),
                    &depth.bytes,
                    TexelCopyBufferLayout {
                        offset: 0,
                        bytes_per_row: Some(depth.size.x * 8),
                        rows_per_image: None,
                    },
                    extent(depth.size),
                );
                pending.depth_written = depth.generation;
            }
            _ => pending.depth = Some(depth),
        }
    }
    if let Some(upload) = pending.background.take() {
        let frame = &upload.frame;
        let size = UVec2::new(frame.width(), frame.height());
        match images.get(background_handle) {
            Some(gpu) if fits(gpu, size, upload.format) => {
                // RGBA8 and BGRA8 go up as they are, row padding and all;
                // RGB8 has no GPU format and is expanded first.
                let (data, bytes_per_row) = match frame.format() {
                    PixelFormat::Rgba8 | PixelFormat::Bgra8 => (frame.data(), frame.stride()),
                    PixelFormat::Rgb8 => {
                        frame.write_rgba8(&mut pending.scratch);
                        (pending.scratch.as_slice(), size.x as usize * 4)
                    }
                };
                let Ok(bytes_per_row) = u32::try_from(bytes_per_row) else {
                    warn!("bevy_mono_depth: frame rows too long to upload");
                    return;
                };
                queue.write_texture(
                    gpu.texture.as_image_copy(),
                    data,
                    TexelCopyBufferLayout {
                        offset: 0,
                        bytes_per_row: Some(bytes_per_row),
                        rows_per_image: None,
                    },
                    extent(size),
                );
                pending.background_written = upload.generation;
            }
            _ => pending.background = Some(upload),
        }
    }
}
