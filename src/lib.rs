//! # bevy_mono_depth
//!
//! Monocular depth for Bevy: one ordinary RGB camera becomes a depth sensor.
//! The crate runs the FCRN depth network (ResNet-50 + up-projection, trained
//! on NYU Depth v2) through ONNX Runtime on its own thread and hands the
//! results to Bevy, for augmented-reality occlusion and proximity alerts.
//!
//! ## Quick reference
//!
//! | type | what it is |
//! | --- | --- |
//! | [`MonoDepthPlugin`](plugin::MonoDepthPlugin) | the plugin: model path, runtime location, session options |
//! | [`MonoDepthStatus`](plugin::MonoDepthStatus) | resource: what the engine and the camera are doing, with reasons when they fail |
//! | [`CurrentDepth`](plugin::CurrentDepth) | resource: the newest depth map, its timings and its frame |
//! | [`MonoDepthSettings`](plugin::MonoDepthSettings) | resource: what can change while the app runs (background sync, pause, stabilisation) |
//! | [`MonoDepthSystems`](plugin::MonoDepthSystems) | the system sets every plugin system runs in, for ordering an app's systems around them |
//! | [`DepthTextures`](plugin::DepthTextures) | handles of the Rg32Float depth-and-confidence texture and the camera-background texture |
//! | [`ExternalDepth`](plugin::ExternalDepth) | system parameter: show depth from elsewhere (a sensor, a test) as if the model made it |
//! | [`NewDepth`](plugin::NewDepth) / [`ProximityAlert`](plugin::ProximityAlert) | messages: a depth map arrived; something real came close or left |
//! | [`MonoDepthCamera`](plugin::MonoDepthCamera) | component: the camera image behind this camera's scene, real surfaces hiding virtual objects (depth buffer) |
//! | [`SoftOcclusionMaterial`](plugin::SoftOcclusionMaterial) | a `StandardMaterial` that fades out across a band around the real surface |
//! | [`FramePusher`](sources::FramePusher) | resource: hand camera buffers to the plugin (how an iOS app feeds it) |
//! | [`FrameSource`](plugin::FrameSource) | pushed frames, webcam, image folder or an RGB-D recording |
//! | [`Runtime`](runtime::Runtime) | ONNX Runtime, located and loaded ([`RuntimeSearch`](runtime::RuntimeSearch) says where it looks) |
//! | [`DepthSession`](session::DepthSession) | a depth model loaded into ONNX Runtime, checked and runnable |
//! | [`CameraFrame`](frame::CameraFrame) | pixels (RGB8, RGBA8, BGRA8 with stride), sequence number, timestamp |
//! | [`ModelSpec`](model::ModelSpec) | how to feed a model and read it, from its metadata or set in code |
//! | [`DepthEngine`](engine::DepthEngine) | frame → preprocess → model → [`DepthMap`](depth::DepthMap) in metres, timed per stage |
//! | [`DepthWorker`](worker::DepthWorker) | the engine on its own thread behind a latest-frame mailbox |
//!
//! ## Setup
//!
//! ```no_run
//! use bevy::prelude::*;
//! use bevy_mono_depth::prelude::*;
//!
//! App::new()
//!     .add_plugins(DefaultPlugins)
//!     .add_plugins(MonoDepthPlugin {
//!         model: Some("assets/models/fcrn.onnx".into()),
//!         ..default()
//!     })
//!     .add_systems(Update, show_status)
//!     .run();
//!
//! fn show_status(status: Res<MonoDepthStatus>) {
//!     if status.is_changed() {
//!         info!("depth engine: {}", status.engine);
//!     }
//! }
//! ```
//!
//! ONNX Runtime is opened when the app starts (the plugin's threads start in
//! [`MonoDepthSystems::Start`](plugin::MonoDepthSystems::Start), not in
//! `Plugin::build`); see [`runtime`] for where it is looked for. Nothing
//! panics when it, the model or the camera is missing;
//! [`MonoDepthStatus`](plugin::MonoDepthStatus) says what is wrong.
//!
//! ## Layers
//!
//! A Bevy-free core in layers, each using only those below it (checked by
//! `cargo xtask layers`): [`camera`], [`runtime`], [`align`] → [`frame`], [`depth`],
//! [`model`] → [`session`] and the analysis of depth maps ([`temporal`],
//! [`reproject`], [`proximity`], [`colormap`]) → [`engine`] → [`worker`] →
//! [`sources`] → [`plugin`]. `docs/ARCHITECTURE.md` follows a camera frame
//! through them to an occluded pixel.
//!
//! ## Cargo features
//!
//! | feature | default | what it adds |
//! | --- | --- | --- |
//! | `window` | yes | desktop window through winit (X11) |
//! | `overlay` | yes | egui status and timing overlay ([`plugin::MonoDepthOverlayPlugin`]) |
//! | `webcam` | yes | webcam capture through nokhwa (`sources::webcam`) |
//! | `load-dynamic` | yes | ONNX Runtime opened at start-up from a shared library ([`runtime`]); desktop only |
//! | `download-binaries` | no | ONNX Runtime 1.31.0 downloaded by `ort` at build time and linked in; with `load-dynamic` off |
//! | `coreml`, `cuda`, `directml`, `xnnpack` | no | that ONNX Runtime execution provider ([`session::ExecutionProvider`]; Core ML is built in on iOS and macOS) |

#![warn(missing_docs)]

// iOS links ONNX Runtime into the app; a library opened at start-up would
// leave `ort` with nothing to call.
#[cfg(all(feature = "load-dynamic", target_os = "ios"))]
compile_error!(
    "bevy_mono_depth on iOS links ONNX Runtime statically: depend on it with `default-features = false` (see docs/ios.md); the default `load-dynamic` feature is for desktops"
);

pub mod align;
pub mod camera;
pub mod colormap;
pub mod depth;
pub mod engine;
pub mod frame;
pub mod model;
pub mod plugin;
pub mod proximity;
pub mod reproject;
pub mod runtime;
pub mod session;
pub mod sources;
pub mod temporal;
mod threads;
pub mod worker;

// Paths of earlier releases.
pub use camera::pose;
pub use engine::preprocess;

/// The types an app touches: the plugin and its configuration, its
/// settings, status, resources, messages and components, and the frames and
/// depth maps that go in and out.
pub mod prelude {
    pub use crate::align::MetricAnchor;
    pub use crate::camera::{FocalCorrection, FrameRotation, Intrinsics, ResizeMode};
    pub use crate::depth::DepthMap;
    pub use crate::frame::{CameraFrame, PixelFormat};
    pub use crate::plugin::{
        AlignmentStatus, BackgroundSync, CurrentDepth, DepthDisplay, DepthTextures,
        DepthUpsampling, EngineStatus, ExternalDepth, FrameSource, MonoDepthCamera,
        MonoDepthPlugin, MonoDepthProximity, MonoDepthRecorder, MonoDepthSettings, MonoDepthStatus,
        MonoDepthSystems, NewDepth, OcclusionMode, ProximityAlert, ReprojectionStatus,
        SoftOcclusionMaterial, SourceStatus, soft_occlusion,
    };
    #[cfg(feature = "overlay")]
    pub use crate::plugin::{MonoDepthOverlay, MonoDepthOverlayPlugin};
    pub use crate::proximity::{ProximityChange, ProximitySettings};
    pub use crate::session::{
        CoreMlComputeUnits, CoreMlFormat, CoreMlOptions, ExecutionProvider, InferencePrecision,
        SessionOptions,
    };
    pub use crate::sources::FramePusher;
    pub use crate::temporal::TemporalSettings;
}

/// The README's Rust examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
