// Shared by the background pass and the soft-occlusion material: where a
// screen pixel lies in the camera image and in the depth map, what the real
// depth there is, and how much of a virtual fragment stays visible.
#define_import_path bevy_mono_depth::occlusion

// One per view; see `OcclusionView` in `occlusion/view.rs`.
struct OcclusionView {
    // Camera-image uv (0–1) of a framebuffer pixel position:
    // frag.xy * screen_to_frame.xy + screen_to_frame.zw (mirroring included).
    screen_to_frame: vec4<f32>,
    // Depth-map uv of a camera-image uv: uv * frame_to_depth.xy + frame_to_depth.zw.
    frame_to_depth: vec4<f32>,
    // clip_from_view[2][2], [3][2], [2][3], [3][3]: view-space z to clip z and w.
    clip_z: vec4<f32>,
    // Depth bias (m), soft band (m), colour-map near (m), colour-map far (m).
    params: vec4<f32>,
    // Occlusion mode, display, has depth (0/1), has a camera image (0/1).
    flags: vec4<u32>,
    // Background-texture u and v of a camera-image uv: dot(xy, uv) + z (the
    // frame buffer's rotation).
    texture_u: vec4<f32>,
    texture_v: vec4<f32>,
    // Bias per metre of real depth, soft band per metre, guide colour sigma
    // (sRGB units, 0–1), unused.
    relative: vec4<f32>,
    // Upsampling (0 bilinear, 1 guided by the camera image), unused ×3.
    upsampling: vec4<u32>,
    // Confidence below which a texel hides nothing, soft band added at
    // confidence 0 (m), unused ×2.
    confidence: vec4<f32>,
}

const MODE_OFF: u32 = 0u;
const MODE_HARD: u32 = 1u;
const MODE_SOFT: u32 = 2u;

const DISPLAY_CAMERA: u32 = 0u;
const DISPLAY_DEPTH: u32 = 1u;
const DISPLAY_MASK: u32 = 2u;
const DISPLAY_METRES: u32 = 3u;
const DISPLAY_CONFIDENCE: u32 = 4u;

const UPSAMPLING_BILINEAR: u32 = 0u;
const UPSAMPLING_GUIDED: u32 = 1u;

fn frame_uv(view: OcclusionView, frag_xy: vec2<f32>) -> vec2<f32> {
    return frag_xy * view.screen_to_frame.xy + view.screen_to_frame.zw;
}

// Where an (upright) camera-image uv lies in the background texture, which
// holds the frame's buffer as it came.
fn texture_uv(view: OcclusionView, uv: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(
        dot(view.texture_u.xy, uv) + view.texture_u.z,
        dot(view.texture_v.xy, uv) + view.texture_v.z,
    );
}

fn inside_unit(uv: vec2<f32>) -> bool {
    return all(uv >= vec2<f32>(0.0)) && all(uv < vec2<f32>(1.0));
}

// One depth texel in metres; 0 unless valid (invalid is stored as 0; NaN
// fails both comparisons, infinity the second) and at least as confident
// as the view asks (`confidence.x`).
fn texel_depth(view: OcclusionView, depth: texture_2d<f32>, texel: vec2<i32>) -> f32 {
    let size = vec2<i32>(textureDimensions(depth));
    let value = textureLoad(depth, clamp(texel, vec2<i32>(0), size - vec2<i32>(1)), 0);
    let d = value.r;
    if !(d > 0.0) || !(d < 3.0e38) || !(value.g >= view.confidence.x) {
        return 0.0;
    }
    return d;
}

// Confidence (0–1) of the depth texel nearest a camera-image uv; 0 where
// there is no depth.
fn depth_confidence(view: OcclusionView, depth: texture_2d<f32>, uv_frame: vec2<f32>) -> f32 {
    let position = depth_position(view, depth, uv_frame);
    if position.x < 0.0 {
        return 0.0;
    }
    let size = vec2<i32>(textureDimensions(depth));
    let c = textureLoad(depth, clamp(vec2<i32>(position), vec2<i32>(0), size - vec2<i32>(1)), 0).g;
    return clamp(c, 0.0, 1.0);
}

// Where a camera-image uv lies in the depth map, in texels (texel centres
// at .5); negative where there is no real depth to use: no depth yet,
// outside the image, outside the model's view, or where the nearest depth
// texel is invalid.
fn depth_position(view: OcclusionView, depth: texture_2d<f32>, uv_frame: vec2<f32>) -> vec2<f32> {
    if view.flags.z == 0u || !inside_unit(uv_frame) {
        return vec2<f32>(-1.0);
    }
    let uv = uv_frame * view.frame_to_depth.xy + view.frame_to_depth.zw;
    if !inside_unit(uv) {
        return vec2<f32>(-1.0);
    }
    let position = uv * vec2<f32>(textureDimensions(depth));
    if texel_depth(view, depth, vec2<i32>(position)) == 0.0 {
        return vec2<f32>(-1.0);
    }
    return position;
}

// Real depth in metres at a camera-image uv, bilinear: the valid ones of
// the four surrounding texels are blended, so occlusion edges follow a
// smooth contour through the coarse depth map instead of its texel
// staircase; 0 where there is none (see `depth_position`).
fn real_depth(view: OcclusionView, depth: texture_2d<f32>, uv_frame: vec2<f32>) -> f32 {
    let position = depth_position(view, depth, uv_frame);
    if position.x < 0.0 {
        return 0.0;
    }
    return bilinear_depth(view, depth, position);
}

fn bilinear_depth(view: OcclusionView, depth: texture_2d<f32>, position: vec2<f32>) -> f32 {
    let corner = position - 0.5;
    let base = vec2<i32>(floor(corner));
    let f = corner - floor(corner);
    var sum = 0.0;
    var weight = 0.0;
    for (var i = 0; i < 4; i++) {
        let offset = vec2<i32>(i & 1, i >> 1u);
        let w = mix(1.0 - f.x, f.x, f32(offset.x)) * mix(1.0 - f.y, f.y, f32(offset.y));
        let d = texel_depth(view, depth, base + offset);
        if d > 0.0 {
            sum += w * d;
            weight += w;
        }
    }
    // The nearest texel is one of the four, valid, with weight >= 1/4.
    return sum / max(weight, 1.0e-6);
}

// The camera image's colour at a camera-image uv, roughly sRGB-encoded (the
// square root of linear), so that colour differences are about as visible
// in the dark as in the light.
fn guide_color(
    view: OcclusionView,
    image: texture_2d<f32>,
    image_sampler: sampler,
    uv_frame: vec2<f32>,
) -> vec3<f32> {
    let linear = textureSampleLevel(image, image_sampler, texture_uv(view, uv_frame), 0.0).rgb;
    return sqrt(max(linear, vec3<f32>(0.0)));
}

// Real depth in metres at a camera-image uv, upsampled with the camera image
// as the guide (joint bilateral upsampling): each of the 4×4 valid texels
// around the pixel counts by its distance (Gaussian, 1.5 texels) times how
// alike the image is at the pixel and at the texel's centre (Gaussian in
// colour, `relative.z`). Texels across an edge of the image count for
// almost nothing, so the depth edge moves onto the image edge. Where no
// texel looks like the pixel the bilinear depth is kept. 0 where there is
// no depth (see `depth_position`).
fn guided_depth(
    view: OcclusionView,
    depth: texture_2d<f32>,
    image: texture_2d<f32>,
    image_sampler: sampler,
    uv_frame: vec2<f32>,
) -> f32 {
    let position = depth_position(view, depth, uv_frame);
    if position.x < 0.0 {
        return 0.0;
    }
    let here = guide_color(view, image, image_sampler, uv_frame);
    let size = vec2<f32>(textureDimensions(depth));
    let base = vec2<i32>(floor(position - 0.5)) - vec2<i32>(1);
    let sigma = max(view.relative.z, 1.0e-3);
    var sum = 0.0;
    var weight = 0.0;
    for (var i = 0; i < 16; i++) {
        let texel = base + vec2<i32>(i & 3, i >> 2u);
        let d = texel_depth(view, depth, texel);
        if d <= 0.0 {
            continue;
        }
        let centre = vec2<f32>(texel) + 0.5;
        let offset = centre - position;
        // Back from depth uv to camera-image uv for the texel's colour.
        let texel_frame = (centre / size - view.frame_to_depth.zw) / view.frame_to_depth.xy;
        let difference = guide_color(view, image, image_sampler, texel_frame) - here;
        let w = exp(-dot(offset, offset) / (2.0 * 1.5 * 1.5)
            - dot(difference, difference) / (2.0 * sigma * sigma));
        sum += w * d;
        weight += w;
    }
    if weight < 1.0e-4 {
        return bilinear_depth(view, depth, position);
    }
    return sum / weight;
}

// Real depth in metres at a camera-image uv by the view's upsampling; 0
// where there is none.
fn upsampled_depth(
    view: OcclusionView,
    depth: texture_2d<f32>,
    image: texture_2d<f32>,
    image_sampler: sampler,
    uv_frame: vec2<f32>,
) -> f32 {
    if view.upsampling.x == UPSAMPLING_GUIDED && view.flags.w != 0u {
        return guided_depth(view, depth, image, image_sampler, uv_frame);
    }
    return real_depth(view, depth, uv_frame);
}

// Distance (m) at which the depth buffer puts the real surface; 0 for none.
// Soft mode pushes it back by half the band, so the hard cut falls where
// soft materials have already faded out.
fn occluder_metres(view: OcclusionView, real: f32, sure: f32) -> f32 {
    if real <= 0.0 || view.flags.x == MODE_OFF {
        return 0.0;
    }
    var metres = real + bias(view, real);
    if view.flags.x == MODE_SOFT {
        metres += 0.5 * band(view, real, sure);
    }
    // A bias that pulls the surface onto the camera still leaves it in front.
    return max(metres, 1.0e-4);
}

// The bias (m) at real depth `real`: fixed plus relative.
fn bias(view: OcclusionView, real: f32) -> f32 {
    return view.params.x + view.relative.x * real;
}

// The soft band's width (m) at real depth `real` of confidence `sure`:
// fixed, plus relative, plus the unsure part.
fn band(view: OcclusionView, real: f32, sure: f32) -> f32 {
    let unsure = view.confidence.y * (1.0 - clamp(sure, 0.0, 1.0));
    return max(view.params.y + view.relative.y * real + unsure, 0.0);
}

// Reverse-Z depth-buffer value of a point `metres` in front of the camera
// (through the view's projection); 0 (the far end) for none.
fn depth_ndc(view: OcclusionView, metres: f32) -> f32 {
    if metres <= 0.0 {
        return 0.0;
    }
    let z = -metres;
    let clip_z = view.clip_z.x * z + view.clip_z.y;
    let clip_w = view.clip_z.z * z + view.clip_z.w;
    return clamp(clip_z / clip_w, 0.0, 1.0);
}

// How much of a virtual fragment `fragment_metres` in front of the camera
// stays visible over real depth `real` of confidence `sure`: 1 in front, 0
// behind; in soft mode a smooth fade across the band centred on the
// (biased) real surface, wider where the depth is unsure.
fn visibility(view: OcclusionView, real: f32, sure: f32, fragment_metres: f32) -> f32 {
    if real <= 0.0 || view.flags.x == MODE_OFF {
        return 1.0;
    }
    let surface = real + bias(view, real);
    let half = 0.5 * band(view, real, sure);
    if view.flags.x == MODE_SOFT && half > 0.0 {
        return 1.0 - smoothstep(surface - half, surface + half, fragment_metres);
    }
    return select(0.0, 1.0, fragment_metres <= surface);
}

// Turbo colour of `metres` between the colour-map ends (near red, far blue),
// from the 256×1 lookup table.
fn depth_color(view: OcclusionView, lut: texture_2d<f32>, metres: f32) -> vec3<f32> {
    let near = view.params.z;
    let far = view.params.w;
    let t = clamp((far - metres) / max(far - near, 1.0e-6), 0.0, 1.0);
    return textureLoad(lut, vec2<u32>(u32(round(t * 255.0)), 0u), 0).rgb;
}
