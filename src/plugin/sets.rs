//! The plugin's system sets, and their order, in one place.

use bevy::camera::CameraUpdateSystems;
use bevy::prelude::*;

/// System sets of the plugin, for ordering app systems around it. Every
/// system the plugin adds to the main world is in one of them; the sets
/// that share a schedule run in the order listed.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MonoDepthSystems {
    /// `PreStartup`: opens the recording of a replay, starts the inference
    /// thread and the frame source. Failures land in
    /// [`MonoDepthStatus`](super::MonoDepthStatus).
    Start,
    /// `PreUpdate`: applies [`MonoDepthSettings`](super::MonoDepthSettings)
    /// that steer the threads (pausing the model's frames).
    Control,
    /// `PreUpdate`: takes results from the inference thread and the
    /// sources, updates [`CurrentDepth`](super::CurrentDepth),
    /// [`DepthTextures`](super::DepthTextures),
    /// [`MonoDepthStatus`](super::MonoDepthStatus), and writes
    /// [`NewDepth`](super::NewDepth). Systems that read depth run in
    /// `Update` or after this set.
    Receive,
    /// `PreUpdate`, after [`Self::Receive`]: the proximity check, which
    /// writes [`ProximityAlert`](super::ProximityAlert).
    Proximity,
    /// `PreUpdate`, after [`Self::Receive`]: writing frames and depth to a
    /// [`MonoDepthRecorder`](super::MonoDepthRecorder).
    Record,
    /// `PreUpdate`, after [`Self::Receive`]: Bevy diagnostics and the
    /// overlay's timing history.
    Diagnostics,
    /// `PostUpdate`, before Bevy's `CameraUpdateSystems`: cameras that follow
    /// the real camera get their [`ArProjection`](super::ArProjection).
    Projection,
    /// `PostUpdate`, after Bevy's `CameraUpdateSystems`: each
    /// [`MonoDepthCamera`](super::MonoDepthCamera)'s view for the shaders,
    /// and the soft-occlusion materials.
    Views,
    /// The overlay's panel, in bevy_egui's pass (feature `overlay`); its
    /// key toggle runs in `Update`.
    Overlay,
}

/// Orders the sets against each other and against Bevy's own.
pub(super) fn configure(app: &mut App) {
    use MonoDepthSystems::*;
    app.configure_sets(PreStartup, Start)
        .configure_sets(
            PreUpdate,
            (Control, Receive, (Proximity, Record, Diagnostics)).chain(),
        )
        .configure_sets(
            PostUpdate,
            (
                Projection.before(CameraUpdateSystems),
                Views.after(CameraUpdateSystems),
            ),
        );
}
