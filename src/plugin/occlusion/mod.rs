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

use bevy::asset::{AssetPath, embedded_path};
use bevy::camera::CameraUpdateSystems;
use bevy::core_pipeline::core_3d::main_opaque_pass_3d;
use bevy::core_pipeline::{Core3dSystems, schedule::Core3d};
use bevy::pbr::{ExtendedMaterial, MaterialExtension, MaterialPlugin};
use bevy::prelude::*;
use bevy::render::camera::ExtractedCamera;
use bevy::render::extract_component::{
    ComponentUniforms, DynamicUniformIndex, ExtractComponent, ExtractComponentPlugin,
    UniformComponentPlugin,
};
use bevy::render::extract_resource::{ExtractResource, ExtractResourcePlugin};
use bevy::render::render_asset::RenderAssets;
use bevy::render::render_resource::binding_types::{sampler, texture_2d, uniform_buffer};
use bevy::render::render_resource::{
    AsBindGroup, BindGroup, BindGroupEntries, BindGroupLayoutDescriptor, BindGroupLayoutEntries,
    BufferId, CachedRenderPipelineId, ColorTargetState, ColorWrites, CompareFunction,
    DepthBiasState, DepthStencilState, FragmentState, MultisampleState, PipelineCache,
    RenderPassDescriptor, RenderPipelineDescriptor, Sampler, SamplerBindingType, SamplerDescriptor,
    ShaderStages, ShaderType, SpecializedRenderPipeline, SpecializedRenderPipelines, StencilState,
    StoreOp, TextureFormat, TextureSampleType, TextureViewId, VertexState,
};
use bevy::render::renderer::{RenderContext, RenderDevice, ViewQuery};
use bevy::render::texture::GpuImage;
use bevy::render::view::{ExtractedView, ViewDepthTexture, ViewTarget};
use bevy::render::{Render, RenderApp, RenderStartup, RenderSystems};
use bevy::shader::{Shader, ShaderRef, load_shader_library};

use crate::frame::FrameRotation;

mod projection;

pub use projection::ArProjection;

use super::receive::CurrentDepth;
use super::textures::DepthTextures;
use crate::preprocess::{ImageMapping, ResizeMode};

/// How real surfaces hide virtual objects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OcclusionMode {
    /// No occlusion: the camera image is only a background.
    Off,
    /// A hard cut through the depth buffer, for every material (default).
    #[default]
    Hard,
    /// [`SoftOcclusionMaterial`]s fade across
    /// [`soft_band`](MonoDepthCamera::soft_band); the depth buffer cuts
    /// other materials at the far edge of the band.
    Soft,
}

/// What the background shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DepthDisplay {
    /// The camera image (default).
    #[default]
    Camera,
    /// The depth as a turbo colour map (near red, far blue) over the image;
    /// pixels without depth darkened.
    Depth,
    /// The occlusion mask: white where the real surface can hide virtual
    /// objects, black where it cannot; soft materials show their visibility
    /// as grey.
    Mask,
    /// For measuring: the real depth in metres as it is used for occlusion
    /// (after upsampling) in every colour channel, 0 where there is none.
    /// Read it from an HDR or float target with `Tonemapping::None`.
    Metres,
    /// The depth's confidence over the image: green where it is sure, red
    /// where it is not, darkened where there is no depth.
    Confidence,
}

/// How the coarse depth map is brought to the screen's resolution.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DepthUpsampling {
    /// Blend the four nearest depth texels: smooth, but occlusion edges fall
    /// where the coarse, blurred depth crosses the virtual object's depth,
    /// not where the real object's edge is.
    Bilinear,
    /// Joint bilateral upsampling with the camera image as the guide
    /// (default): depth texels whose colour differs from the pixel's count
    /// for little, so edges in the depth move onto edges in the image. See
    /// [`MonoDepthCamera::guide_sigma`]; `docs/quality.md` has the measured
    /// difference.
    #[default]
    Guided,
}

/// Put on a 3D camera to draw the camera image behind its scene and hide
/// virtual objects behind real surfaces.
///
/// ```no_run
/// use bevy::prelude::*;
/// use bevy_mono_depth::plugin::MonoDepthCamera;
///
/// fn setup(mut commands: Commands) {
///     commands.spawn(MonoDepthCamera::default()); // brings Camera3d along
/// }
/// ```
///
/// Distances come from the model in metres along the optical axis. Once the
/// shown frames carry intrinsics, the camera gets an [`ArProjection`] made
/// from them, the viewport, `fit` and `mirror` (unless `follow_camera` is
/// off), so virtual metres and directions match real ones at any window
/// aspect. Colours are exact only with `Tonemapping::None` (tonemapping
/// applies to the background like to everything else).
#[derive(Component, Debug, Clone, PartialEq)]
#[require(Camera3d)]
pub struct MonoDepthCamera {
    /// Hard (default), soft or no occlusion.
    pub occlusion: OcclusionMode,
    /// How the camera image covers the view: `Fill` (default: crop, no
    /// bars), `Fit` (black bars) or `Stretch`.
    pub fit: ResizeMode,
    /// Mirror the image left–right (front cameras).
    pub mirror: bool,
    /// Metres added to the real depth before comparing: positive values let
    /// virtual objects come closer to real surfaces before they are hidden.
    /// Default 0.
    pub bias: f32,
    /// Width in metres of the soft-occlusion fade, centred on the real
    /// surface. Default 0.2.
    pub soft_band: f32,
    /// Bias per metre of real depth, added to [`bias`](Self::bias): depth
    /// error grows with distance, so a relative bias keeps far surfaces from
    /// swallowing objects placed on them (0.02 = 2 cm at 1 m, 6 cm at 3 m).
    /// Default 0.
    pub bias_per_metre: f32,
    /// Soft-band width per metre of real depth, added to
    /// [`soft_band`](Self::soft_band). Default 0.
    pub soft_band_per_metre: f32,
    /// How the depth map is upsampled to the screen: guided by the camera
    /// image (default) or bilinear.
    pub upsampling: DepthUpsampling,
    /// How different (sRGB, 0–1, per channel) two colours of the camera
    /// image may be and still belong to the same surface for
    /// [`DepthUpsampling::Guided`]: smaller values follow weaker edges,
    /// larger ones put up with more image noise. Default 0.05.
    pub guide_sigma: f32,
    /// Depth texels less confident than this (0–1) hide nothing: occlusion
    /// fades out where the depth is unsure instead of cutting wrongly.
    /// Default 0 (every valid texel counts).
    pub min_confidence: f32,
    /// Metres added to the soft band where confidence is 0 (in proportion
    /// below 1): soft edges widen where the depth is unsure. Default 0.1.
    pub unsure_band: f32,
    /// Camera image (default), depth colour map or occlusion mask.
    pub display: DepthDisplay,
    /// Give the camera the real camera's projection ([`ArProjection`]) once
    /// the shown frames carry intrinsics (default `true`): virtual objects
    /// then appear where the same point of the room appears in the image,
    /// whatever the window's aspect, fit and mirroring. `false` keeps the
    /// app's own projection.
    pub follow_camera: bool,
}

impl Default for MonoDepthCamera {
    fn default() -> Self {
        Self {
            occlusion: OcclusionMode::Hard,
            fit: ResizeMode::Fill,
            mirror: false,
            bias: 0.0,
            soft_band: 0.2,
            bias_per_metre: 0.0,
            soft_band_per_metre: 0.0,
            upsampling: DepthUpsampling::Guided,
            guide_sigma: 0.05,
            min_confidence: 0.0,
            unsure_band: 0.1,
            display: DepthDisplay::Camera,
            follow_camera: true,
        }
    }
}

/// What the shaders need per view, kept on each [`MonoDepthCamera`] entity
/// and recomputed every frame. WGSL: `bevy_mono_depth::occlusion::OcclusionView`.
#[derive(Component, Debug, Clone, Copy, Default, PartialEq, ShaderType, ExtractComponent)]
pub struct OcclusionView {
    /// Camera-image uv of a framebuffer pixel position: `xy · scale + offset`
    /// (x, y scale; z, w offset).
    pub screen_to_frame: Vec4,
    /// Depth-map uv of a camera-image uv, as above.
    pub frame_to_depth: Vec4,
    /// `clip_from_view` entries `[2][2]`, `[3][2]`, `[2][3]`, `[3][3]`.
    pub clip_z: Vec4,
    /// Bias (m), soft band (m), colour-map near and far ends (m).
    pub params: Vec4,
    /// Occlusion mode (0 off, 1 hard, 2 soft), display (0 camera, 1 depth,
    /// 2 mask), has depth (0/1), has a camera image (0/1).
    pub flags: UVec4,
    /// Background-texture u of a camera-image uv: `dot(xy, uv) + z` (the
    /// frame's rotation; w unused).
    pub texture_u: Vec4,
    /// Background-texture v of a camera-image uv, as above.
    pub texture_v: Vec4,
    /// Bias per metre, soft band per metre, guide colour sigma (w unused).
    pub relative: Vec4,
    /// Upsampling (0 bilinear, 1 guided; y, z, w unused).
    pub upsampling: UVec4,
    /// Minimum confidence, soft band added at confidence 0 (z, w unused).
    pub confidence: Vec4,
}

/// The affine map from upright camera-image uv to uv in the frame's buffer
/// (the background texture), as `(u row, v row)`: `dot(row.xy, uv) + row.z`.
pub fn frame_to_texture(rotation: FrameRotation) -> (Vec4, Vec4) {
    // Each row from where the map sends the origin and the two unit axes.
    let at = |uv: [f32; 2]| Vec2::from(rotation.display_to_buffer(uv));
    let origin = at([0.0, 0.0]);
    let du = at([1.0, 0.0]) - origin;
    let dv = at([0.0, 1.0]) - origin;
    (
        Vec4::new(du.x, dv.x, origin.x, 0.0),
        Vec4::new(du.y, dv.y, origin.y, 0.0),
    )
}

/// The affine map (x, y scale; z, w offset) from framebuffer pixel positions
/// to camera-image uv for a viewport at `origin` of `size` pixels showing a
/// `frame`-sized image.
pub fn screen_to_frame(
    fit: ResizeMode,
    mirror: bool,
    origin: Vec2,
    size: Vec2,
    frame: Vec2,
) -> Vec4 {
    let frame = frame.max(Vec2::ONE);
    let size = size.max(Vec2::ONE);
    let shown = match fit {
        ResizeMode::Fill => frame * (size / frame).max_element(),
        ResizeMode::Fit => frame * (size / frame).min_element(),
        ResizeMode::Stretch => size,
    };
    let start = origin + (size - shown) / 2.0;
    let scale = shown.recip();
    let offset = -start * scale;
    if mirror {
        Vec4::new(-scale.x, scale.y, 1.0 - offset.x, offset.y)
    } else {
        Vec4::new(scale.x, scale.y, offset.x, offset.y)
    }
}

/// The affine map from camera-image uv to depth-map uv.
pub fn frame_to_depth(mapping: &ImageMapping) -> Vec4 {
    let scale = Vec2::from(mapping.scale);
    let offset = Vec2::from(mapping.offset);
    let inverse = scale.recip();
    let shift = -offset * inverse;
    Vec4::new(inverse.x, inverse.y, shift.x, shift.y)
}

impl OcclusionView {
    /// The view of `settings` for a camera with `viewport` (physical pixels)
    /// and projection `clip_from_view`, showing a camera image `frame`
    /// pixels in size upright, its buffer turned by `rotation` (`None`
    /// before the first frame), with `depth` (`None` before the first depth).
    pub fn new(
        settings: &MonoDepthCamera,
        viewport: URect,
        clip_from_view: Mat4,
        frame: Option<(UVec2, FrameRotation)>,
        depth: Option<(&ImageMapping, (f32, f32))>,
    ) -> Self {
        let (texture_u, texture_v) =
            frame_to_texture(frame.map_or(FrameRotation::None, |(_, r)| r));
        let frame = frame.map(|(size, _)| size);
        let (to_depth, (near, far)) = match depth {
            Some((mapping, range)) => (frame_to_depth(mapping), range),
            None => (frame_to_depth(&ImageMapping::IDENTITY), (0.0, 1.0)),
        };
        Self {
            screen_to_frame: screen_to_frame(
                settings.fit,
                settings.mirror,
                viewport.min.as_vec2(),
                viewport.size().as_vec2(),
                frame.unwrap_or(UVec2::ONE).as_vec2(),
            ),
            frame_to_depth: to_depth,
            clip_z: Vec4::new(
                clip_from_view.z_axis.z,
                clip_from_view.w_axis.z,
                clip_from_view.z_axis.w,
                clip_from_view.w_axis.w,
            ),
            params: Vec4::new(settings.bias, settings.soft_band.max(0.0), near, far),
            flags: UVec4::new(
                match settings.occlusion {
                    OcclusionMode::Off => 0,
                    OcclusionMode::Hard => 1,
                    OcclusionMode::Soft => 2,
                },
                match settings.display {
                    DepthDisplay::Camera => 0,
                    DepthDisplay::Depth => 1,
                    DepthDisplay::Mask => 2,
                    DepthDisplay::Metres => 3,
                    DepthDisplay::Confidence => 4,
                },
                u32::from(depth.is_some()),
                u32::from(frame.is_some()),
            ),
            texture_u,
            texture_v,
            relative: Vec4::new(
                settings.bias_per_metre,
                settings.soft_band_per_metre,
                settings.guide_sigma.max(1.0e-3),
                0.0,
            ),
            upsampling: UVec4::new(
                match settings.upsampling {
                    DepthUpsampling::Bilinear => 0,
                    DepthUpsampling::Guided => 1,
                },
                0,
                0,
                0,
            ),
            confidence: Vec4::new(
                settings.min_confidence.clamp(0.0, 1.0),
                settings.unsure_band.max(0.0),
                0.0,
                0.0,
            ),
        }
    }
}

/// A `StandardMaterial` that fades out across the soft band around the real
/// surface (see [`OcclusionMode::Soft`]). Make one with [`soft_occlusion`];
/// the plugin keeps its depth texture and view settings up to date from the
/// first active [`MonoDepthCamera`].
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
    pub view: OcclusionView,
    /// The depth texture ([`DepthTextures::depth`]).
    #[texture(101, sample_type = "float", filterable = false)]
    pub depth: Option<Handle<Image>>,
    /// The camera image ([`DepthTextures::background`]), the guide of
    /// [`DepthUpsampling::Guided`].
    #[texture(102)]
    #[sampler(103)]
    pub image: Option<Handle<Image>>,
}

impl MaterialExtension for SoftOcclusion {
    fn fragment_shader() -> ShaderRef {
        ShaderRef::Path(
            AssetPath::from_path_buf(embedded_path!("soft.wgsl")).with_source("embedded"),
        )
    }
}

/// Handles the background pass reads, made once.
#[derive(Resource, Debug, Clone, ExtractResource)]
struct OcclusionTextures {
    depth: Handle<Image>,
    background: Handle<Image>,
    colour_map: Handle<Image>,
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
        (update_views, sync_soft_materials)
            .chain()
            .after(CameraUpdateSystems),
    );
    projection::build(app);
    let Some(render_app) = app.get_sub_app_mut(RenderApp) else {
        return;
    };
    render_app
        .init_resource::<SpecializedRenderPipelines<BackgroundPipeline>>()
        .add_systems(RenderStartup, init_background_pipeline)
        .add_systems(Render, prepare_pipelines.in_set(RenderSystems::Prepare))
        .add_systems(
            Core3d,
            draw_background
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
    let colour_map = images.add(Image::new(
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
        colour_map,
    });
}

fn update_views(
    mut commands: Commands,
    cameras: Query<(Entity, &Camera, &MonoDepthCamera, Option<&OcclusionView>)>,
    stale: Query<Entity, (With<OcclusionView>, Without<MonoDepthCamera>)>,
    current: Res<CurrentDepth>,
    textures: Option<Res<DepthTextures>>,
) {
    for entity in &stale {
        commands.entity(entity).remove::<OcclusionView>();
    }
    let frame = textures
        .as_ref()
        .and_then(|t| Some((t.background_size?, t.background_rotation)));
    let depth = textures
        .as_ref()
        .filter(|t| t.depth_sequence.is_some())
        .and(current.map.as_ref())
        .map(|map| {
            let range = if map.stats().valid > 0 {
                (map.stats().min, map.stats().max)
            } else {
                (0.0, 1.0)
            };
            (&map.mapping, range)
        });
    for (entity, camera, settings, old) in &cameras {
        let Some(viewport) = camera.physical_viewport_rect() else {
            continue;
        };
        let view = OcclusionView::new(settings, viewport, camera.clip_from_view(), frame, depth);
        if old != Some(&view) {
            commands.entity(entity).insert(view);
        }
    }
}

/// Copies the first active camera's view (without the per-frame colour-map
/// range) and the depth texture into every soft-occlusion material that
/// differs, so unchanged materials are not re-uploaded.
fn sync_soft_materials(
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

#[derive(Resource)]
struct BackgroundPipeline {
    layout: BindGroupLayoutDescriptor,
    sampler: Sampler,
    shader: Handle<Shader>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct BackgroundPipelineKey {
    format: TextureFormat,
    samples: u32,
}

#[derive(Component)]
struct BackgroundPipelineId(CachedRenderPipelineId);

fn init_background_pipeline(
    mut commands: Commands,
    render_device: Res<RenderDevice>,
    asset_server: Res<AssetServer>,
) {
    let layout = BindGroupLayoutDescriptor::new(
        "mono_depth_background_layout",
        &BindGroupLayoutEntries::sequential(
            ShaderStages::FRAGMENT,
            (
                uniform_buffer::<OcclusionView>(true),
                texture_2d(TextureSampleType::Float { filterable: true }),
                sampler(SamplerBindingType::Filtering),
                texture_2d(TextureSampleType::Float { filterable: false }),
                texture_2d(TextureSampleType::Float { filterable: false }),
            ),
        ),
    );
    let sampler = render_device.create_sampler(&SamplerDescriptor {
        label: Some("mono_depth_background_sampler"),
        mag_filter: bevy::render::render_resource::FilterMode::Linear,
        min_filter: bevy::render::render_resource::FilterMode::Linear,
        ..default()
    });
    let shader = bevy::asset::load_embedded_asset!(asset_server.as_ref(), "background.wgsl");
    commands.insert_resource(BackgroundPipeline {
        layout,
        sampler,
        shader,
    });
}

impl SpecializedRenderPipeline for BackgroundPipeline {
    type Key = BackgroundPipelineKey;

    fn specialize(&self, key: Self::Key) -> RenderPipelineDescriptor {
        RenderPipelineDescriptor {
            label: Some("mono_depth_background_pipeline".into()),
            layout: vec![self.layout.clone()],
            vertex: VertexState {
                shader: self.shader.clone(),
                ..default()
            },
            depth_stencil: Some(DepthStencilState {
                format: bevy::core_pipeline::core_3d::CORE_3D_DEPTH_FORMAT,
                // The background is the first thing drawn: it sets the depth
                // of every pixel.
                depth_write_enabled: Some(true),
                depth_compare: Some(CompareFunction::Always),
                stencil: StencilState::default(),
                bias: DepthBiasState::default(),
            }),
            multisample: MultisampleState {
                count: key.samples,
                mask: !0,
                alpha_to_coverage_enabled: false,
            },
            fragment: Some(FragmentState {
                shader: self.shader.clone(),
                targets: vec![Some(ColorTargetState {
                    format: key.format,
                    blend: None,
                    write_mask: ColorWrites::ALL,
                })],
                ..default()
            }),
            ..default()
        }
    }
}

fn prepare_pipelines(
    mut commands: Commands,
    pipeline_cache: Res<PipelineCache>,
    mut pipelines: ResMut<SpecializedRenderPipelines<BackgroundPipeline>>,
    pipeline: Option<Res<BackgroundPipeline>>,
    views: Query<(Entity, &ExtractedView, &Msaa), With<OcclusionView>>,
) {
    let Some(pipeline) = pipeline else { return };
    for (entity, view, msaa) in &views {
        let id = pipelines.specialize(
            &pipeline_cache,
            &pipeline,
            BackgroundPipelineKey {
                format: view.target_format,
                samples: msaa.samples(),
            },
        );
        commands.entity(entity).insert(BackgroundPipelineId(id));
    }
}

/// What the background bind group was made from.
type BindGroupKey = ([TextureViewId; 3], Option<BufferId>);

#[allow(clippy::too_many_arguments)]
fn draw_background(
    view: ViewQuery<(
        &ExtractedCamera,
        &ViewTarget,
        &ViewDepthTexture,
        &BackgroundPipelineId,
        &DynamicUniformIndex<OcclusionView>,
    )>,
    pipeline: Option<Res<BackgroundPipeline>>,
    textures: Option<Res<OcclusionTextures>>,
    images: Res<RenderAssets<GpuImage>>,
    uniforms: Res<ComponentUniforms<OcclusionView>>,
    pipeline_cache: Res<PipelineCache>,
    mut cache: Local<Option<(BindGroupKey, BindGroup)>>,
    mut ctx: RenderContext,
) {
    let (camera, target, depth_texture, pipeline_id, index) = view.into_inner();
    let (Some(pipeline), Some(textures)) = (pipeline, textures) else {
        return;
    };
    let (Some(render_pipeline), Some(binding)) = (
        pipeline_cache.get_render_pipeline(pipeline_id.0),
        uniforms.uniforms().binding(),
    ) else {
        return;
    };
    let (Some(background), Some(depth), Some(colour_map)) = (
        images.get(&textures.background),
        images.get(&textures.depth),
        images.get(&textures.colour_map),
    ) else {
        return;
    };
    // One bind group serves every view (the uniform has a dynamic offset);
    // it is made again only when a texture or the uniform buffer changed.
    let key = (
        [
            background.texture_view.id(),
            depth.texture_view.id(),
            colour_map.texture_view.id(),
        ],
        uniforms.uniforms().buffer().map(|b| b.id()),
    );
    let bind_group = match &mut *cache {
        Some((cached, bind_group)) if *cached == key => bind_group,
        slot => {
            let bind_group = ctx.render_device().create_bind_group(
                "mono_depth_background_bind_group",
                &pipeline_cache.get_bind_group_layout(&pipeline.layout),
                &BindGroupEntries::sequential((
                    binding,
                    &background.texture_view,
                    &pipeline.sampler,
                    &depth.texture_view,
                    &colour_map.texture_view,
                )),
            );
            &mut slot.insert((key, bind_group)).1
        }
    };
    let colour_attachments = [Some(target.get_color_attachment())];
    let mut pass = ctx.begin_tracked_render_pass(RenderPassDescriptor {
        label: Some("mono_depth_background"),
        color_attachments: &colour_attachments,
        depth_stencil_attachment: Some(depth_texture.get_attachment(StoreOp::Store)),
        timestamp_writes: None,
        occlusion_query_set: None,
        multiview_mask: None,
    });
    if let Some(viewport) = camera.viewport.as_ref() {
        pass.set_camera_viewport(viewport);
    }
    pass.set_render_pipeline(render_pipeline);
    pass.set_bind_group(0, bind_group, &[index.index()]);
    pass.draw(0..3, 0..1);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(map: Vec4, p: Vec2) -> Vec2 {
        p * map.truncate().truncate() + Vec2::new(map.z, map.w)
    }

    #[test]
    fn fill_crops_fit_letterboxes_stretch_distorts() {
        // A 4:3 image in a 2:1 viewport of 200×100 at (10, 20).
        let (origin, size, frame) = (
            Vec2::new(10.0, 20.0),
            Vec2::new(200.0, 100.0),
            Vec2::new(40.0, 30.0),
        );
        // Fill: 200 px wide, 150 tall, 25 px cut above and below.
        let fill = screen_to_frame(ResizeMode::Fill, false, origin, size, frame);
        assert!(apply(fill, Vec2::new(10.0, 20.0)).abs_diff_eq(Vec2::new(0.0, 25.0 / 150.0), 1e-6));
        assert!(
            apply(fill, Vec2::new(210.0, 120.0)).abs_diff_eq(Vec2::new(1.0, 125.0 / 150.0), 1e-6)
        );
        // Fit: 133.3 px wide, 33.3 px bars left and right.
        let fit = screen_to_frame(ResizeMode::Fit, false, origin, size, frame);
        let bar = (200.0 - 400.0 / 3.0) / 2.0;
        assert!(apply(fit, Vec2::new(10.0 + bar, 20.0)).abs_diff_eq(Vec2::ZERO, 1e-5));
        assert!(apply(fit, Vec2::new(210.0 - bar, 120.0)).abs_diff_eq(Vec2::ONE, 1e-5));
        let stretch = screen_to_frame(ResizeMode::Stretch, false, origin, size, frame);
        assert!(apply(stretch, Vec2::new(110.0, 70.0)).abs_diff_eq(Vec2::splat(0.5), 1e-6));
        // Mirroring flips u only.
        let mirrored = screen_to_frame(ResizeMode::Stretch, true, origin, size, frame);
        assert!(apply(mirrored, Vec2::new(60.0, 45.0)).abs_diff_eq(Vec2::new(0.75, 0.25), 1e-6));
    }

    #[test]
    fn the_background_texture_is_sampled_through_the_frames_rotation() {
        for degrees in [0, 90, 180, 270] {
            let rotation = FrameRotation::from_degrees(degrees).unwrap();
            let (u, v) = frame_to_texture(rotation);
            for uv in [[0.0, 0.0], [1.0, 0.0], [0.25, 0.75], [0.6, 0.1]] {
                let p = Vec2::from(uv);
                let got = Vec2::new(
                    u.truncate().truncate().dot(p) + u.z,
                    v.truncate().truncate().dot(p) + v.z,
                );
                let want = Vec2::from(rotation.display_to_buffer(uv));
                assert!(
                    got.abs_diff_eq(want, 1e-6),
                    "{degrees}° {uv:?}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn frame_to_depth_inverts_the_preprocessing_mapping() {
        let mapping = ImageMapping {
            scale: [0.8, 1.0],
            offset: [0.1, 0.0],
        };
        let map = frame_to_depth(&mapping);
        for uv in [[0.1, 0.0], [0.5, 0.5], [0.9, 1.0]] {
            let expected = mapping.frame_to_depth(uv);
            let got = apply(map, Vec2::from(uv));
            assert!(got.abs_diff_eq(Vec2::from(expected), 1e-6), "{uv:?}");
        }
    }

    #[test]
    fn no_frame_or_depth_yet_is_flagged() {
        let settings = MonoDepthCamera::default();
        let rect = URect::new(0, 0, 64, 48);
        let projection = Mat4::perspective_infinite_reverse_rh(1.0, 4.0 / 3.0, 0.1);
        let view = OcclusionView::new(&settings, rect, projection, None, None);
        assert_eq!(view.flags, UVec4::new(1, 0, 0, 0));
        let mapping = ImageMapping::IDENTITY;
        let view = OcclusionView::new(
            &MonoDepthCamera {
                occlusion: OcclusionMode::Soft,
                display: DepthDisplay::Mask,
                ..settings
            },
            rect,
            projection,
            Some((UVec2::new(64, 48), FrameRotation::None)),
            Some((&mapping, (1.0, 3.0))),
        );
        assert_eq!(view.flags, UVec4::new(2, 2, 1, 1));
        assert_eq!(view.params, Vec4::new(0.0, 0.2, 1.0, 3.0));
        // Infinite reverse-Z: depth = near / metres.
        let ndc = |m: f32| {
            let z = -m;
            (view.clip_z.x * z + view.clip_z.y) / (view.clip_z.z * z + view.clip_z.w)
        };
        assert!((ndc(2.0) - 0.05).abs() < 1e-7);
    }
}
