//! The depth texture and the camera-background texture.
//!
//! Both handles are made once (in `Plugin::finish`) and stay valid for the
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

#[cfg(test)]
mod tests;

mod upload;

use std::sync::Arc;

use bevy::asset::RenderAssetUsages;
use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
use bevy::render::renderer::RenderDevice;

use super::CurrentDepth;
use crate::camera::{FrameRotation, Intrinsics};
use crate::depth::DepthMap;
use crate::frame::{CameraFrame, PixelFormat};

/// Handles of the plugin's textures (present when the app has `Assets<Image>`,
/// i.e. `AssetPlugin` and `ImagePlugin`, as with `DefaultPlugins`).
///
/// The images hold no CPU copy of their pixels (`RenderAssetUsages::RENDER_WORLD`):
/// bind them in materials and passes; read depth on the CPU from
/// [`CurrentDepth`](super::CurrentDepth).
#[derive(Resource, Debug, Clone, Reflect)]
#[reflect(Resource, Debug)]
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
    #[reflect(ignore)]
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

/// Why a frame or depth map was not put into its texture.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TextureError {
    /// The image has no pixels.
    #[error("an empty {width}×{height} {what} was not uploaded")]
    Empty {
        /// `"depth map"` or `"camera frame"`.
        what: &'static str,
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// A side is longer than the GPU's texture limit.
    #[error(
        "the {width}×{height} {what} is larger than this GPU's {max_side}-pixel texture limit; it was not shown (use a smaller camera resolution or images)"
    )]
    TooLarge {
        /// `"depth map"` or `"camera frame"`.
        what: &'static str,
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// The render device's `max_texture_dimension_2d`.
        max_side: u32,
    },
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
    pub fn depth(&mut self, depth: &DepthMap) -> Result<(), TextureError> {
        let max_side = self.max_side();
        match (&mut self.textures, &mut self.images) {
            (Some(textures), Some(images)) => textures.set_depth(images, depth, max_side),
            _ => Ok(()),
        }
    }

    /// See [`DepthTextures::set_background`]; `Ok` when there are no textures.
    pub fn background(&mut self, frame: &CameraFrame) -> Result<(), TextureError> {
        let max_side = self.max_side();
        match (&mut self.textures, &mut self.images) {
            (Some(textures), Some(images)) => textures.set_background(images, frame, max_side),
            _ => Ok(()),
        }
    }
}

/// Shows depth that does not come from the plugin's model (a depth sensor,
/// a measurement, a test) as if it did: the camera frame goes into the
/// background texture, the map into the depth texture and both into
/// [`CurrentDepth`], whose mapping occlusion uses. Sizes are checked against
/// the GPU's limits.
///
/// ```no_run
/// use bevy::prelude::*;
/// use bevy_mono_depth::depth::DepthMap;
/// use bevy_mono_depth::frame::{CameraFrame, PixelFormat};
/// use bevy_mono_depth::plugin::ExternalDepth;
///
/// fn show_sensor_depth(mut external: ExternalDepth) {
///     let frame = CameraFrame::packed(PixelFormat::Rgb8, 4, 2, vec![90; 24]).unwrap();
///     let depth = DepthMap::from_metres(2, 1, vec![1.0, 2.0], (0.1, 10.0));
///     if let Err(e) = external.show(&frame, depth) {
///         warn!("not shown: {e}");
///     }
/// }
/// ```
#[derive(SystemParam)]
pub struct ExternalDepth<'w> {
    textures: TextureWriter<'w>,
    current: ResMut<'w, CurrentDepth>,
}

impl ExternalDepth<'_> {
    /// Shows `depth` over `frame`, the frame it belongs to. Nothing changes
    /// when either is empty or too large for the GPU. Without the plugin's
    /// textures (no `Assets<Image>`) only [`CurrentDepth`] is updated.
    pub fn show(&mut self, frame: &CameraFrame, depth: DepthMap) -> Result<(), TextureError> {
        let max_side = self.textures.max_side();
        let size = |w, h| UVec2::new(w, h);
        check_size(
            "camera frame",
            size(frame.width(), frame.height()),
            max_side,
        )?;
        check_size("depth map", size(depth.width(), depth.height()), max_side)?;
        self.textures.background(frame)?;
        self.textures.depth(&depth)?;
        self.current.frame = Some(frame.clone());
        self.current.map = Some(depth);
        Ok(())
    }
}

pub(super) fn build(app: &mut App) {
    let Some(mut images) = app.world_mut().get_resource_mut::<Assets<Image>>() else {
        warn!(
            "bevy_mono_depth: no Assets<Image> (add DefaultPlugins, or AssetPlugin and ImagePlugin, before MonoDepthPlugin): depth and background textures are off"
        );
        return;
    };
    let textures = DepthTextures::blank(&mut images);
    app.insert_resource(textures);
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
fn check_size(what: &'static str, size: UVec2, max_side: u32) -> Result<(), TextureError> {
    let (width, height) = (size.x, size.y);
    if width == 0 || height == 0 {
        Err(TextureError::Empty {
            what,
            width,
            height,
        })
    } else if width > max_side || height > max_side {
        Err(TextureError::TooLarge {
            what,
            width,
            height,
            max_side,
        })
    } else {
        Ok(())
    }
}

impl DepthTextures {
    /// 1×1 textures added to `images`, nothing uploaded yet.
    fn blank(images: &mut Assets<Image>) -> Self {
        Self {
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

    /// Hands `depth` to the render world for the depth texture. A map the
    /// GPU cannot hold (a side over `max_side`, the render device's
    /// `max_texture_dimension_2d`) keeps the previous texture, with the
    /// reason. Apps show depth of their own with [`ExternalDepth`].
    fn set_depth(
        &mut self,
        images: &mut Assets<Image>,
        depth: &DepthMap,
        max_side: u32,
    ) -> Result<(), TextureError> {
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
    fn set_background(
        &mut self,
        images: &mut Assets<Image>,
        frame: &CameraFrame,
        max_side: u32,
    ) -> Result<(), TextureError> {
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
