//! Settings an app changes while it runs: which frame the background shows,
//! pausing the model, stabilisation.

use bevy::prelude::*;

use super::start::Running;
use crate::worker::DepthWorker;

/// Which camera frame the background shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Reflect)]
#[reflect(Debug, Default, PartialEq)]
pub enum BackgroundSync {
    /// The frame the current depth was computed from (default): occlusion
    /// lines up with the image, at the cost of showing the image as late as
    /// the depth (one inference behind the camera).
    #[default]
    Synced,
    /// The newest camera frame: less lag, but with a slow model the depth
    /// (and so occlusion edges) trails moving objects.
    Newest,
    /// The newest camera frame, with the depth moved into its camera pose
    /// ([`crate::reproject`]): the live image, and occlusion that follows
    /// camera motion. Needs a pose and intrinsics on every frame (ARKit
    /// gives both; see [`crate::pose`]); without them it shows what
    /// [`Self::Newest`] shows and [`MonoDepthStatus::reprojection`](super::MonoDepthStatus::reprojection) says
    /// why. Things that move by themselves still trail by the model's
    /// latency.
    Reprojected,
}

/// Settings that can change while the app runs.
#[derive(Resource, Debug, Clone, PartialEq, Reflect)]
#[reflect(Resource, Debug, Default, PartialEq)]
pub struct MonoDepthSettings {
    /// Which frame the background shows.
    pub background: BackgroundSync,
    /// Stop sending frames to the model (the background keeps showing the
    /// newest frame; the last depth map stays).
    pub paused: bool,
    /// Temporal stabilisation of each new depth map, with per-pixel
    /// confidence ([`crate::temporal`]); `None` publishes the model's depth
    /// as it is (confidence 1 wherever valid). On by default.
    pub stabilisation: Option<crate::temporal::TemporalSettings>,
}

impl Default for MonoDepthSettings {
    fn default() -> Self {
        Self {
            background: BackgroundSync::default(),
            paused: false,
            stabilisation: Some(crate::temporal::TemporalSettings::default()),
        }
    }
}

/// Connects the sources to the model, or disconnects them while paused.
pub(super) fn apply_pause(settings: Res<MonoDepthSettings>, running: Res<Running>) {
    if settings.is_changed() {
        let sender = running
            .worker
            .as_ref()
            .filter(|_| !settings.paused)
            .map(DepthWorker::sender);
        running.hub.connect(sender);
    }
}
