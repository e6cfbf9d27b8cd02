// The camera image behind the scene, and the real depth into the depth
// buffer: one fullscreen triangle per view, before the opaque pass.
#import bevy_mono_depth::occlusion::{
    OcclusionView, frame_uv, texture_uv, inside_unit, upsampled_depth, occluder_metres, depth_ndc,
    depth_color, depth_confidence, MODE_OFF, DISPLAY_DEPTH, DISPLAY_MASK, DISPLAY_METRES,
    DISPLAY_CONFIDENCE,
}

@group(0) @binding(0) var<uniform> view: OcclusionView;
@group(0) @binding(1) var background: texture_2d<f32>;
@group(0) @binding(2) var background_sampler: sampler;
@group(0) @binding(3) var depth: texture_2d<f32>;
@group(0) @binding(4) var color_map: texture_2d<f32>;

@vertex
fn vertex(@builtin(vertex_index) index: u32) -> @builtin(position) vec4<f32> {
    // (0,0), (0,2), (2,0) in uv: one triangle covering the viewport.
    let uv = vec2<f32>(f32(index >> 1u), f32(index & 1u)) * 2.0;
    return vec4<f32>(uv.x * 2.0 - 1.0, 1.0 - uv.y * 2.0, 0.0, 1.0);
}

struct BackgroundOutput {
    @location(0) color: vec4<f32>,
    @builtin(frag_depth) depth: f32,
}

@fragment
fn fragment(@builtin(position) position: vec4<f32>) -> BackgroundOutput {
    let uv = frame_uv(view, position.xy);
    let sampled = textureSampleLevel(background, background_sampler, texture_uv(view, uv), 0.0).rgb;
    let shows_image = view.flags.w != 0u && inside_unit(uv);
    var color = select(vec3<f32>(0.0), sampled, shows_image);
    let real = upsampled_depth(view, depth, background, background_sampler, uv);
    if view.flags.y == DISPLAY_DEPTH {
        color = select(color * 0.3, mix(color, depth_color(view, color_map, real), 0.7), real > 0.0);
    } else if view.flags.y == DISPLAY_MASK {
        // White where the real surface can hide virtual objects.
        color = vec3<f32>(select(0.0, 1.0, real > 0.0 && view.flags.x != MODE_OFF));
    } else if view.flags.y == DISPLAY_METRES {
        // For measurement: the real depth itself (0 for none).
        color = vec3<f32>(real);
    } else if view.flags.y == DISPLAY_CONFIDENCE {
        // Green where the depth is sure, red where it is not, dark where
        // there is none.
        let c = depth_confidence(view, depth, uv);
        let shade = select(vec3<f32>(0.0), mix(vec3<f32>(1.0, 0.0, 0.0), vec3<f32>(0.0, 1.0, 0.0), c), real > 0.0);
        color = mix(color * 0.3, shade, 0.7);
    }
    var out: BackgroundOutput;
    out.color = vec4<f32>(color, 1.0);
    out.depth = depth_ndc(view, occluder_metres(view, real, depth_confidence(view, depth, uv)));
    return out;
}
