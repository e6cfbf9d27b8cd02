//! The camera image behind the scene, and virtual objects hidden behind real
//! surfaces.
//!
//! Two ways, usable together:
//!
//! - **Depth-buffer occlusion** ([`MonoDepthCamera`]): a fullscreen pass in
//!   the `Core3d` schedule, before the opaque pass, draws the camera image
//!   and writes the real depth into the depth buffer (reverse-Z), so every
//!   material — `StandardMaterial` included — is cut where the real surface
//!   is nearer.
//! - **Soft occlusion** ([`SoftOcclusionMaterial`]): a `StandardMaterial`
//!   extension that fades its fragments across a band around the real depth
//!   instead of cutting them, for clean edges.
//!
//! Both map a screen pixel to the camera image the same way (fill, fit or
//! stretch, optionally mirrored), then to the depth map through the
//! [`ImageMapping`] of the engine's preprocessing. Where there is no depth —
//! before the first depth map, outside the model's view, invalid pixels — a
//! real surface hides nothing.
//!
//! One file a part: the camera component and its settings (`camera.rs`),
//! the per-view uniform (`view.rs`), the soft material (`soft.rs` beside
//! `soft.wgsl`), the background pass (`background.rs` beside
//! `background.wgsl`), the virtual camera's projection (`projection.rs`);
//! the shared WGSL is `occlusion.wgsl`.

mod background;
mod camera;
mod projection;
mod soft;
mod view;

use bevy::core_pipeline::core_3d::main_opaque_pass_3d;
use bevy::core_pipeline::{Core3dSystems, schedule::Core3d};
use bevy::pbr::MaterialPlugin;
use bevy::prelude::*;
use bevy::render::extract_component::{ExtractComponentPlugin, UniformComponentPlugin};
use bevy::render::extract_resource::{ExtractResource, ExtractResourcePlugin};
use bevy::render::render_resource::{SpecializedRenderPipelines, TextureFormat};
use bevy::render::{Render, RenderApp, RenderStartup, RenderSystems};
use bevy::shader::load_shader_library;

pub use camera::{DepthDisplay, DepthUpsampling, MonoDepthCamera, OcclusionMode};
pub use projection::ArProjection;
pub use soft::{SoftOcclusion, SoftOcclusionMaterial, soft_occlusion};
pub(crate) use view::{OcclusionView, screen_to_frame};

use super::MonoDepthSystems;
use super::textures::DepthTextures;

/// Handles the background pass reads, made once.
#[derive(Resource, Debug, Clone, ExtractResource)]
struct OcclusionTextures {
    depth: Handle<Image>,
    background: Handle<Image>,
    color_map: Handle<Image>,
}

/// Marks that the render side of occlusion was set up (see [`finish`]).
#[derive(Resource)]
struct OcclusionBuilt;

pub(super) fn build(app: &mut App) {
    if app.get_sub_app(RenderApp).is_none() || !app.is_plugin_added::<bevy::pbr::PbrPlugin>() {
        debug!("bevy_mono_depth: no renderer or no PbrPlugin, so no background or occlusion");
        return;
    }
    app.insert_resource(OcclusionBuilt);
    load_shader_library!(app, "occlusion.wgsl");
    bevy::asset::embedded_asset!(app, "background.wgsl");
    bevy::asset::embedded_asset!(app, "soft.wgsl");
    app.add_plugins((
        ExtractComponentPlugin::<OcclusionView>::default(),
        UniformComponentPlugin::<OcclusionView>::default(),
        ExtractResourcePlugin::<OcclusionTextures>::default(),
        MaterialPlugin::<SoftOcclusionMaterial>::default(),
    ))
    .add_systems(
        PostUpdate,
        (
            projection::follow_real_camera.in_set(MonoDepthSystems::Projection),
            (view::update_views, soft::sync_soft_materials)
                .chain()
                .in_set(MonoDepthSystems::Views),
        ),
    );
    let Some(render_app) = app.get_sub_app_mut(RenderApp) else {
        return;
    };
    render_app
        .init_resource::<SpecializedRenderPipelines<background::BackgroundPipeline>>()
        .add_systems(RenderStartup, background::init_background_pipeline)
        .add_systems(
            Render,
            background::prepare_pipelines.in_set(RenderSystems::Prepare),
        )
        .add_systems(
            Core3d,
            background::draw_background
                .in_set(Core3dSystems::MainPass)
                .before(main_opaque_pass_3d),
        );
}

/// Makes the colour-map texture once the plugin's textures exist.
pub(super) fn finish(app: &mut App) {
    if app.get_sub_app(RenderApp).is_none() {
        return;
    }
    if !app.world().contains_resource::<OcclusionBuilt>() {
        // The renderer came after the plugin: nothing to draw with.
        warn!(
            "bevy_mono_depth: MonoDepthPlugin was added before the renderer and PBR (DefaultPlugins), so MonoDepthCamera draws no camera image and hides nothing; add DefaultPlugins first"
        );
        return;
    }
    let Some(textures) = app.world().get_resource::<DepthTextures>().cloned() else {
        return;
    };
    let Some(mut images) = app.world_mut().get_resource_mut::<Assets<Image>>() else {
        return;
    };
    let color_map = images.add(Image::new(
        bevy::render::render_resource::Extent3d {
            width: 256,
            height: 1,
            depth_or_array_layers: 1,
        },
        bevy::render::render_resource::TextureDimension::D2,
        crate::colormap::turbo_lut(),
        TextureFormat::Rgba8UnormSrgb,
        bevy::asset::RenderAssetUsages::RENDER_WORLD,
    ));
    app.insert_resource(OcclusionTextures {
        depth: textures.depth,
        background: textures.background,
        color_map,
    });
}
