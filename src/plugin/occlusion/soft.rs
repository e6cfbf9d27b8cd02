//! Soft occlusion: a `StandardMaterial` extension (`soft.wgsl`) that fades
//! its fragments across a band around the real surface, kept in step with
//! the first active camera's view.

use bevy::asset::{AssetPath, embedded_path};
use bevy::pbr::{ExtendedMaterial, MaterialExtension};
use bevy::prelude::*;
use bevy::render::render_resource::AsBindGroup;
use bevy::shader::ShaderRef;

use super::OcclusionView;
use crate::plugin::DepthTextures;

/// A `StandardMaterial` that fades out across the soft band around the real
/// surface (see [`OcclusionMode::Soft`](super::OcclusionMode::Soft)). Make one with [`soft_occlusion`];
/// the plugin keeps its depth texture and view settings up to date from the
/// first active [`MonoDepthCamera`](super::MonoDepthCamera).
pub type SoftOcclusionMaterial = ExtendedMaterial<StandardMaterial, SoftOcclusion>;

/// `base` with soft occlusion (its alpha mode set to `Blend`, which the fade
/// needs).
pub fn soft_occlusion(base: StandardMaterial) -> SoftOcclusionMaterial {
    ExtendedMaterial {
        base: StandardMaterial {
            alpha_mode: AlphaMode::Blend,
            ..base
        },
        extension: SoftOcclusion::default(),
    }
}

/// The extension part of [`SoftOcclusionMaterial`]; filled in by the plugin.
#[derive(Asset, TypePath, AsBindGroup, Debug, Clone, Default)]
pub struct SoftOcclusion {
    /// Mapping and settings, copied from the camera.
    #[uniform(100)]
    pub(crate) view: OcclusionView,
    /// The depth texture ([`DepthTextures::depth`]).
    #[texture(101, sample_type = "float", filterable = false)]
    pub(crate) depth: Option<Handle<Image>>,
    /// The camera image ([`DepthTextures::background`]), the guide of
    /// [`DepthUpsampling::Guided`].
    #[texture(102)]
    #[sampler(103)]
    pub(crate) image: Option<Handle<Image>>,
}

impl MaterialExtension for SoftOcclusion {
    fn fragment_shader() -> ShaderRef {
        ShaderRef::Path(
            AssetPath::from_path_buf(embedded_path!("soft.wgsl")).with_source("embedded"),
        )
    }
}

/// Copies the first active camera's view (without the per-frame colour-map
/// range) and the depth texture into every soft-occlusion material that
/// differs, so unchanged materials are not re-uploaded.
pub(super) fn sync_soft_materials(
    cameras: Query<(&Camera, &OcclusionView)>,
    textures: Option<Res<DepthTextures>>,
    mut materials: ResMut<Assets<SoftOcclusionMaterial>>,
) {
    let Some(view) = cameras
        .iter()
        .filter(|(camera, _)| camera.is_active)
        .min_by_key(|(camera, _)| camera.order)
        .map(|(_, view)| OcclusionView {
            params: view.params * Vec4::new(1.0, 1.0, 0.0, 0.0),
            ..*view
        })
    else {
        return;
    };
    let depth = textures.as_ref().map(|t| t.depth.clone());
    let image = textures.map(|t| t.background.clone());
    let outdated: Vec<_> = materials
        .iter()
        .filter(|(_, m)| {
            m.extension.view != view || m.extension.depth != depth || m.extension.image != image
        })
        .map(|(id, _)| id)
        .collect();
    for id in outdated {
        if let Some(mut material) = materials.get_mut(id) {
            material.extension.view = view;
            material.extension.depth.clone_from(&depth);
            material.extension.image.clone_from(&image);
        }
    }
}
