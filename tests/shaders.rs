//! The crate's WGSL composes and validates with naga, without a GPU.
//!
//! The background pass imports only the crate's own module, so it is checked
//! whole here. The soft-occlusion material shader imports `bevy_pbr`, whose
//! modules Bevy composes at run time; it is compiled (and so validated by
//! naga inside wgpu) by `tests/occlusion_headless.rs` on Mesa's software
//! Vulkan, and its own logic lives in the module checked here.

use naga::valid::{Capabilities, ValidationFlags, Validator};
use naga_oil::compose::{
    ComposableModuleDescriptor, Composer, NagaModuleDescriptor, ShaderLanguage, ShaderType,
};

const MODULE: &str = include_str!("../src/plugin/occlusion/occlusion.wgsl");
const BACKGROUND: &str = include_str!("../src/plugin/occlusion/background.wgsl");

fn composer() -> Composer {
    let mut composer = Composer::default();
    composer
        .add_composable_module(ComposableModuleDescriptor {
            source: MODULE,
            file_path: "src/plugin/occlusion/occlusion.wgsl",
            language: ShaderLanguage::Wgsl,
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("occlusion.wgsl: {e:?}"));
    composer
}

fn validate(module: &naga::Module) {
    let result = Validator::new(ValidationFlags::all(), Capabilities::default()).validate(module);
    if let Err(e) = result {
        panic!("naga rejects the shader: {e:?}");
    }
}

#[test]
fn the_background_pass_shader_composes_and_validates() {
    let module = composer()
        .make_naga_module(NagaModuleDescriptor {
            source: BACKGROUND,
            file_path: "src/plugin/occlusion/background.wgsl",
            shader_type: ShaderType::Wgsl,
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("background.wgsl: {e:?}"));
    validate(&module);
    let stages: Vec<_> = module
        .entry_points
        .iter()
        .map(|e| (e.name.as_str(), e.stage))
        .collect();
    assert_eq!(
        stages,
        [
            ("vertex", naga::ShaderStage::Vertex),
            ("fragment", naga::ShaderStage::Fragment)
        ]
    );
}

#[test]
fn the_shared_module_validates_on_its_own() {
    // The module's functions are only kept when used, so use each of them.
    let user = r#"
#import bevy_mono_depth::occlusion::{
    OcclusionView, frame_uv, real_depth, occluder_metres, depth_ndc, visibility, depth_color,
}
@group(0) @binding(0) var<uniform> view: OcclusionView;
@group(0) @binding(1) var depth: texture_2d<f32>;
@group(0) @binding(2) var lut: texture_2d<f32>;
@fragment
fn main(@builtin(position) p: vec4<f32>) -> @location(0) vec4<f32> {
    let real = real_depth(view, depth, frame_uv(view, p.xy));
    let v = visibility(view, real, 1.0, p.w);
    return vec4<f32>(depth_color(view, lut, real), depth_ndc(view, occluder_metres(view, real, 1.0)) * v);
}
"#;
    let module = composer()
        .make_naga_module(NagaModuleDescriptor {
            source: user,
            file_path: "user.wgsl",
            shader_type: ShaderType::Wgsl,
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{e:?}"));
    validate(&module);
    // Composition fails loudly on a shader that uses the module wrongly.
    let wrong = user.replace("frame_uv(view, p.xy)", "frame_uv(view, p.x)");
    assert!(
        composer()
            .make_naga_module(NagaModuleDescriptor {
                source: &wrong,
                file_path: "wrong.wgsl",
                shader_type: ShaderType::Wgsl,
                ..Default::default()
            })
            .is_err()
    );
}
