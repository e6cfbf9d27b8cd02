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
//! | [`DepthTextures`](plugin::DepthTextures) | handles of the Rg32Float depth-and-confidence texture and the camera-background texture |
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
//! ONNX Runtime is opened at start-up on desktop: see [`runtime`] for where
//! it is looked for. Nothing panics when it, the model or the camera is
//! missing; [`MonoDepthStatus`](plugin::MonoDepthStatus) says what is wrong.
//!
//! ## Cargo features
//!
//! | feature | default | what it adds |
//! | --- | --- | --- |
//! | `window` | yes | desktop window through winit (X11) |
//! | `overlay` | yes | egui status and timing overlay ([`plugin::MonoDepthOverlayPlugin`]) |
//! | `webcam` | yes | webcam capture through nokhwa (`sources::webcam`) |
//! | `coreml`, `cuda`, `directml`, `xnnpack` | no | that ONNX Runtime execution provider ([`session::ExecutionProvider`]; Core ML is built in on iOS and macOS) |

#![warn(missing_docs)]

mod background;
pub mod camera;
pub mod colormap;
pub mod depth;
pub mod engine;
pub mod frame;
pub mod model;
pub mod plugin;
pub mod pose;
pub mod preprocess;
pub mod proximity;
pub mod reproject;
pub mod runtime;
pub mod session;
pub mod sources;
pub mod temporal;
pub mod worker;

/// The types most apps need.
pub mod prelude {
    pub use crate::camera::{FocalCorrection, Intrinsics};
    pub use crate::depth::DepthMap;
    pub use crate::engine::{DepthEngine, EngineConfig};
    pub use crate::frame::{CameraFrame, FrameRotation, PixelFormat};
    #[cfg(feature = "overlay")]
    pub use crate::plugin::MonoDepthOverlayPlugin;
    pub use crate::plugin::{
        BackgroundSync, CurrentDepth, DepthDisplay, DepthTextures, DepthUpsampling, EngineStatus,
        FrameSource, MonoDepthCamera, MonoDepthPlugin, MonoDepthProximity, MonoDepthSettings,
        MonoDepthStatus, MonoDepthSystems, NewDepth, OcclusionMode, ProximityAlert,
        SoftOcclusionMaterial, SourceStatus, soft_occlusion,
    };
    pub use crate::preprocess::ResizeMode;
    pub use crate::proximity::{ProximityEvent, ProximitySettings};
    pub use crate::session::{
        CoreMlComputeUnits, CoreMlFormat, CoreMlOptions, ExecutionProvider, InferencePrecision,
        SessionOptions,
    };
    pub use crate::sources::FramePusher;
    pub use crate::worker::{DepthWorker, FrameSender, WorkerEvent};
}

/// The README's Rust examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
