// Writes the fragment's depth along the camera axis, in whole millimetres,
// split so that both parts are integers a 16-bit float holds exactly:
// red = metres, green = the millimetres after them.
#import bevy_pbr::{forward_io::VertexOutput, mesh_view_bindings::view}

@fragment
fn fragment(in: VertexOutput) -> @location(0) vec4<f32> {
    let view_position = view.view_from_world * in.world_position;
    let millimetres = round(-view_position.z * 1000.0);
    let metres = floor(millimetres / 1000.0);
    return vec4<f32>(metres, millimetres - metres * 1000.0, 0.0, 1.0);
}
