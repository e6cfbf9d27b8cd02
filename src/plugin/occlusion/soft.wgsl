// StandardMaterial, faded out across the soft band around the real surface.
#import bevy_pbr::{
    pbr_fragment::pbr_input_from_standard_material,
    pbr_functions::alpha_discard,
    pbr_types::STANDARD_MATERIAL_FLAGS_UNLIT_BIT,
    view_transformations::position_world_to_view,
}
#import bevy_mono_depth::occlusion::{
    OcclusionView, frame_uv, upsampled_depth, depth_confidence, visibility, DISPLAY_MASK,
}

#ifdef PREPASS_PIPELINE
#import bevy_pbr::{
    prepass_io::{VertexOutput, FragmentOutput},
    pbr_deferred_functions::deferred_output,
}
#else
#import bevy_pbr::{
    forward_io::{VertexOutput, FragmentOutput},
    pbr_functions::{apply_pbr_lighting, main_pass_post_lighting_processing},
}
#endif

@group(#{MATERIAL_BIND_GROUP}) @binding(100) var<uniform> occlusion: OcclusionView;
@group(#{MATERIAL_BIND_GROUP}) @binding(101) var occlusion_depth: texture_2d<f32>;
@group(#{MATERIAL_BIND_GROUP}) @binding(102) var occlusion_image: texture_2d<f32>;
@group(#{MATERIAL_BIND_GROUP}) @binding(103) var occlusion_image_sampler: sampler;

@fragment
fn fragment(in: VertexOutput, @builtin(front_facing) is_front: bool) -> FragmentOutput {
    var pbr_input = pbr_input_from_standard_material(in, is_front);
    let uv = frame_uv(occlusion, in.position.xy);
    let real = upsampled_depth(occlusion, occlusion_depth, occlusion_image, occlusion_image_sampler, uv);
    let sure = depth_confidence(occlusion, occlusion_depth, uv);
    let fragment_metres = -position_world_to_view(in.world_position.xyz).z;
    let visible = visibility(occlusion, real, sure, fragment_metres);
    pbr_input.material.base_color.a *= visible;
    pbr_input.material.base_color = alpha_discard(pbr_input.material, pbr_input.material.base_color);
#ifdef PREPASS_PIPELINE
    let out = deferred_output(in, pbr_input);
#else
    var out: FragmentOutput;
    if (pbr_input.material.flags & STANDARD_MATERIAL_FLAGS_UNLIT_BIT) == 0u {
        out.color = apply_pbr_lighting(pbr_input);
    } else {
        out.color = pbr_input.material.base_color;
    }
    if occlusion.flags.y == DISPLAY_MASK {
        // The mask view shows how visible each fragment is.
        out.color = vec4<f32>(vec3<f32>(visible), 1.0);
    }
    out.color = main_pass_post_lighting_processing(pbr_input, out.color);
#endif
    return out;
}
