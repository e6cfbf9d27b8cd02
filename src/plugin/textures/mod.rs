//! The depth texture and the camera-background texture.
//!
//! Both handles are made once (in `Plugin::build`) and stay valid for the
//! life of the app. The main world never copies pixels into them: a new
//! camera frame or depth map is handed over as it is (the frame's pixels are
//! shared through an `Arc`), extracted to the render world and written
//! straight into the GPU texture by [`upload`] with one
//! `RenderQueue::write_texture`. RGBA8 and BGRA8 frames go up as they are
//! (a BGRA frame into a BGRA texture, row padding included); RGB8 frames are
//! expanded to RGBA on the render side. Only a change of size or pixel
//! format replaces the `Image` behind the handle (with no CPU data), which
//! makes a new GPU texture.
//!
//! Frames and depth maps larger than the GPU allows
//! (`RenderDevice::limits().max_texture_dimension_2d`) are not uploaded: the
//! texture keeps its previous content and `MonoDepthStatus::texture_error`
//! says why, instead of a wgpu validation error ending the app.

mod upload;

use std::sync::Arc;

use bevy::asset::RenderAssetUsages;
use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
use bevy::render::renderer::RenderDevice;

use crate::camera::Intrinsics;
use crate::depth::DepthMap;
use crate::frame::{CameraFrame, FrameRotation, PixelFormat};

/// Handles of the plugin's textures (present when the app has `Assets<Image>`,
/// i.e. `AssetPlugin` and `ImagePlugin`, as with `DefaultPlugins`).
///
/// The images hold no CPU copy of their pixels (`RenderAssetUsages::RENDER_WORLD`):
/// bind them in materials and passes; read depth on the CPU from
/// [`CurrentDepth`](super::CurrentDepth).
#[derive(Resource, Debug, Clone)]
pub struct DepthTextures {
    /// Depth in metres (red) and its confidence, 0–1 (green), `Rg32Float`
    /// ([`DEPTH_FORMAT`]), the model's output size; both 0 where invalid.
    /// Read it with `textureLoad` (32-bit float textures are not
    /// filterable everywhere).
    pub depth: Handle<Image>,
    /// The camera image, sRGB (`Rgba8UnormSrgb`, or `Bgra8UnormSrgb` for
    /// BGRA frames), the frame's buffer as given: turned by
    /// [`Self::background_rotation`] on screen.
    pub background: Handle<Image>,
    /// Sequence number of the frame whose depth the depth texture holds.
    pub depth_sequence: Option<u64>,
    /// Sequence number of the frame the background shows.
    pub background_sequence: Option<u64>,
    /// Size of the depth texture's content, once depth has arrived.
    pub depth_size: Option<UVec2>,
    /// Size of the camera image as shown (upright, after
    /// [`Self::background_rotation`]), once a frame has arrived.
    pub background_size: Option<UVec2>,
    /// How the background texture is turned to show upright.
    pub background_rotation: FrameRotation,
    /// The camera intrinsics of the frame the background shows, if it had
    /// any (in pixels of the upright image).
    pub background_intrinsics: Option<Intrinsics>,
    uploads: Uploads,
}

/// Format of [`DepthTextures::depth`]: metres and confidence.
pub const DEPTH_FORMAT: TextureFormat = TextureFormat::Rg32Float;

/// What the render world still has to write, newest only.
#[derive(Debug, Clone, Default)]
struct Uploads {
    depth: Option<Arc<DepthUpload>>,
    background: Option<FrameUpload>,
}

/// A depth map's texels: metres and confidence, little-endian `f32` bytes.
#[derive(Debug)]
struct DepthUpload {
    generation: u64,
    size: UVec2,
    bytes: Vec<u8>,
}

/// A camera frame to upload (its pixels are shared, not copied).
#[derive(Debug, Clone)]
struct FrameUpload {
    generation: u64,
    frame: CameraFrame,
    format: TextureFormat,
}

/// What the plugin's systems need to update the textures.
#[derive(SystemParam)]
pub(super) struct TextureWriter<'w> {
    /// The textures (absent without `Assets<Image>`).
    pub textures: Option<ResMut<'w, DepthTextures>>,
    images: Option<ResMut<'w, Assets<Image>>>,
    device: Option<Res<'w, RenderDevice>>,
}

impl TextureWriter<'_> {
    /// The largest texture side the GPU allows (`u32::MAX` without a
    /// renderer: then nothing is uploaded anyway).
    fn max_side(&self) -> u32 {
        self.device
            .as_ref()
            .map_or(u32::MAX, |d| d.limits().max_texture_dimension_2d)
    }

    /// See [`DepthTextures::set_depth`]; `Ok` when there are no textures.
    pub fn depth(&mut self, depth: &DepthMap) -> Result<(), String> {
        let max_side = self.max_side();
        match (&mut self.textures, &mut self.images) {
            (Some(textures), Some(images)) => textures.set_depth(images, depth, max_side),
            _ => Ok(()),
        }
    }

    /// See [`DepthTextures::set_background`]; `Ok` when there are no textures.
    pub fn background(&mut self, frame: &CameraFrame) -> Result<(), String> {
        let max_side = self.max_side();
        match (&mut self.textures, &mut self.images) {
            (Some(textures), Some(images)) => textures.set_background(images, frame, max_side),
            _ => Ok(()),
        }
    }
}

pub(super) fn build(app: &mut App) {
    let Some(mut images) = app.world_mut().get_resource_mut::<Assets<Image>>() else {
        warn!(
            "bevy_mono_depth: no Assets<Image> (add DefaultPlugins, or AssetPlugin and ImagePlugin, before MonoDepthPlugin): depth and background textures are off"
        );
        return;
    };
    let depth = images.add(blank(DEPTH_FORMAT));
    let background = images.add(blank(TextureFormat::Rgba8UnormSrgb));
    app.insert_resource(DepthTextures {
        depth,
        background,
        depth_sequence: None,
        background_sequence: None,
        depth_size: None,
        background_size: None,
        background_rotation: FrameRotation::None,
        background_intrinsics: None,
        uploads: Uploads::default(),
    });
    upload::build(app);
}

/// A 1×1 texture until data arrives: GPU textures start zeroed (no depth,
/// a black image). It has no CPU data either: Bevy refuses to extract a
/// render-world-only image without data once its GPU texture had some.
fn blank(format: TextureFormat) -> Image {
    empty(UVec2::ONE, format)
}

/// An image of `size` and `format` without CPU data: the GPU texture is made
/// and then written by the render world.
fn empty(size: UVec2, format: TextureFormat) -> Image {
    Image::new_uninit(
        Extent3d {
            width: size.x,
            height: size.y,
            depth_or_array_layers: 1,
        },
        TextureDimension::D2,
        format,
        RenderAssetUsages::RENDER_WORLD,
    )
}

/// Makes the image behind `handle` `size` × `format` if it is not already.
fn resize(images: &mut Assets<Image>, handle: &Handle<Image>, size: UVec2, format: TextureFormat) {
    let same = images
        .get(handle)
        .is_some_and(|i| i.size() == size && i.texture_descriptor.format == format);
    if !same && let Err(e) = images.insert(handle, empty(size, format)) {
        warn!("bevy_mono_depth: texture could not be replaced: {e}");
    }
}

/// Checks a texture size against the GPU: `Err` says why it cannot be made.
fn check_size(what: &str, size: UVec2, max_side: u32) -> Result<(), String> {
    if size.x == 0 || size.y == 0 {
        Err(format!(
            "an empty {}×{} {what} was not uploaded",
            size.x, size.y
        ))
    } else if size.x > max_side || size.y > max_side {
        Err(format!(
            "the {}×{} {what} is larger than this GPU's {max_side}-pixel texture limit; it was not shown (use a smaller camera resolution or images)",
            size.x, size.y
        ))
    } else {
        Ok(())
    }
}

impl DepthTextures {
    /// Hands `depth` to the render world for the depth texture. A map the
    /// GPU cannot hold (a side over `max_side`, the render device's
    /// `max_texture_dimension_2d`) keeps the previous texture, with the
    /// reason.
    ///
    /// The plugin calls this for every depth map from its model. An app that
    /// brings depth from elsewhere (a depth sensor, a measurement) calls it
    /// itself, with [`Self::set_background`] for the frame the depth belongs
    /// to, and puts the map into [`CurrentDepth`](super::CurrentDepth) too,
    /// whose mapping the occlusion pass uses.
    pub fn set_depth(
        &mut self,
        images: &mut Assets<Image>,
        depth: &DepthMap,
        max_side: u32,
    ) -> Result<(), String> {
        let size = UVec2::new(depth.width(), depth.height());
        check_size("depth map", size, max_side)?;
        resize(images, &self.depth, size, DEPTH_FORMAT);
        let generation = self.uploads.depth.as_ref().map_or(1, |d| d.generation + 1);
        let bytes = depth
            .metres()
            .iter()
            .zip(depth.confidence())
            .flat_map(|(m, c)| [m.to_le_bytes(), c.to_le_bytes()])
            .flatten()
            .collect();
        self.uploads.depth = Some(Arc::new(DepthUpload {
            generation,
            size,
            bytes,
        }));
        self.depth_sequence = Some(depth.sequence);
        self.depth_size = Some(size);
        Ok(())
    }

    /// Hands `frame` to the render world for the background texture. A frame
    /// the GPU cannot hold (see [`Self::set_depth`]) keeps the previous
    /// texture, with the reason.
    pub fn set_background(
        &mut self,
        images: &mut Assets<Image>,
        frame: &CameraFrame,
        max_side: u32,
    ) -> Result<(), String> {
        let size = UVec2::new(frame.width(), frame.height());
        check_size("camera frame", size, max_side)?;
        let format = match frame.format() {
            PixelFormat::Bgra8 => TextureFormat::Bgra8UnormSrgb,
            PixelFormat::Rgb8 | PixelFormat::Rgba8 => TextureFormat::Rgba8UnormSrgb,
        };
        resize(images, &self.background, size, format);
        let generation = self
            .uploads
            .background
            .as_ref()
            .map_or(1, |f| f.generation + 1);
        self.uploads.background = Some(FrameUpload {
            generation,
            frame: frame.clone(),
            format,
        });
        self.background_sequence = Some(frame.sequence);
        self.background_size = Some(frame.display_size().into());
        self.background_rotation = frame.rotation;
        self.background_intrinsics = frame.display_intrinsics();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn textures(images: &mut Assets<Image>) -> DepthTextures {
        DepthTextures {
            depth: images.add(blank(DEPTH_FORMAT)),
            background: images.add(blank(TextureFormat::Rgba8UnormSrgb)),
            depth_sequence: None,
            background_sequence: None,
            depth_size: None,
            background_size: None,
            background_rotation: FrameRotation::None,
            background_intrinsics: None,
            uploads: Uploads::default(),
        }
    }

    #[test]
    fn depth_goes_to_the_render_world_as_texels_and_bad_sizes_keep_the_last() {
        let mut images = Assets::<Image>::default();
        let mut textures = textures(&mut images);
        let mut map = DepthMap::from_metres(2, 1, vec![1.5, 2.5], (0.5, 10.0));
        map.sequence = 4;
        textures.set_depth(&mut images, &map, 8192).unwrap();
        let bytes: Vec<u8> = [1.5f32, 1.0, 2.5, 1.0]
            .iter()
            .flat_map(|d| d.to_le_bytes())
            .collect();
        let upload = textures.uploads.depth.clone().unwrap();
        assert_eq!(upload.bytes, bytes);
        assert_eq!(upload.size, UVec2::new(2, 1));
        let image = images.get(&textures.depth).unwrap();
        assert_eq!(image.size(), UVec2::new(2, 1));
        assert_eq!(image.asset_usage, RenderAssetUsages::RENDER_WORLD);
        assert!(image.data.is_none(), "no CPU copy");
        assert_eq!(textures.depth_sequence, Some(4));

        // Empty, or larger than the GPU allows: refused, nothing changes.
        let err = textures
            .set_depth(&mut images, &DepthMap::empty(), 8192)
            .unwrap_err();
        assert!(err.contains("empty"), "{err}");
        let big = DepthMap::from_metres(9000, 1, vec![1.0; 9000], (0.5, 10.0));
        let err = textures.set_depth(&mut images, &big, 8192).unwrap_err();
        assert!(err.contains("8192"), "{err}");
        assert_eq!(
            images.get(&textures.depth).unwrap().size(),
            UVec2::new(2, 1)
        );
        assert_eq!(
            textures.uploads.depth.unwrap().generation,
            upload.generation
        );
        assert_eq!(textures.depth_sequence, Some(4));
    }

    #[test]
    fn frames_are_shared_not_copied_and_bgra_stays_bgra() {
        let mut images = Assets::<Image>::default();
        let mut textures = textures(&mut images);
        let pixels = vec![7u8; 4 * 3 * 4 + 8];
        let frame = CameraFrame::new(PixelFormat::Bgra8, 3, 4, 3 * 4 + 2, pixels)
            .unwrap()
            .with_sequence(9);
        textures.set_background(&mut images, &frame, 8192).unwrap();
        let upload = textures.uploads.background.clone().unwrap();
        assert!(std::ptr::eq(
            upload.frame.data().as_ptr(),
            frame.data().as_ptr()
        ));
        assert_eq!(upload.format, TextureFormat::Bgra8UnormSrgb);
        let image = images.get(&textures.background).unwrap();
        assert_eq!(
            image.texture_descriptor.format,
            TextureFormat::Bgra8UnormSrgb
        );
        assert_eq!(textures.background_size, Some(UVec2::new(3, 4)));
        let tall = CameraFrame::new(PixelFormat::Rgb8, 1, 9000, 3, vec![0; 27_000]).unwrap();
        assert!(textures.set_background(&mut images, &tall, 8192).is_err());
        assert_eq!(textures.background_sequence, Some(9));
    }
}
