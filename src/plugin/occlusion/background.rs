//! The background pass (render world): a fullscreen triangle before the
//! opaque pass that draws the camera image and writes the real depth into
//! the depth buffer (`background.wgsl`).

use bevy::prelude::*;
use bevy::render::camera::ExtractedCamera;
use bevy::render::extract_component::{ComponentUniforms, DynamicUniformIndex};
use bevy::render::render_asset::RenderAssets;
use bevy::render::render_resource::binding_types::{sampler, texture_2d, uniform_buffer};
use bevy::render::render_resource::{
    BindGroup, BindGroupEntries, BindGroupLayoutDescriptor, BindGroupLayoutEntries, BufferId,
    CachedRenderPipelineId, ColorTargetState, ColorWrites, CompareFunction, DepthBiasState,
    DepthStencilState, FragmentState, MultisampleState, PipelineCache, RenderPassDescriptor,
    RenderPipelineDescriptor, Sampler, SamplerBindingType, SamplerDescriptor, ShaderStages,
    SpecializedRenderPipeline, SpecializedRenderPipelines, StencilState, StoreOp, TextureFormat,
    TextureSampleType, TextureViewId, VertexState,
};
use bevy::render::renderer::{RenderContext, RenderDevice, ViewQuery};
use bevy::render::texture::GpuImage;
use bevy::render::view::{ExtractedView, ViewDepthTexture, ViewTarget};
use bevy::shader::Shader;

use super::{OcclusionTextures, OcclusionView};

/// The background pass's bind-group layout, sampler and shader.
#[derive(Resource)]
pub(super) struct BackgroundPipeline {
    layout: BindGroupLayoutDescriptor,
    sampler: Sampler,
    shader: Handle<Shader>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct BackgroundPipelineKey {
    format: TextureFormat,
    samples: u32,
}

#[derive(Component)]
pub(super) struct BackgroundPipelineId(CachedRenderPipelineId);

pub(super) fn init_background_pipeline(
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

pub(super) fn prepare_pipelines(
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
pub(super) fn draw_background(
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
    let (Some(background), Some(depth), Some(color_map)) = (
        images.get(&textures.background),
        images.get(&textures.depth),
        images.get(&textures.color_map),
    ) else {
        return;
    };
    // One bind group serves every view (the uniform has a dynamic offset);
    // it is made again only when a texture or the uniform buffer changed.
    let key = (
        [
            background.texture_view.id(),
            depth.texture_view.id(),
            color_map.texture_view.id(),
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
                    &color_map.texture_view,
                )),
            );
            &mut slot.insert((key, bind_group)).1
        }
    };
    let color_attachments = [Some(target.get_color_attachment())];
    let mut pass = ctx.begin_tracked_render_pass(RenderPassDescriptor {
        label: Some("mono_depth_background"),
        color_attachments: &color_attachments,
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
