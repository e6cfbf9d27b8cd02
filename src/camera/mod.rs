//! The camera model: plain value types that the rest of the crate builds on.
//!
//! - [`Intrinsics`] and [`FocalCorrection`]: the pinhole model of a frame
//!   (`intrinsics.rs`);
//! - [`FrameRotation`]: which way up a buffer is shown (`rotation.rs`);
//! - [`ResizeMode`] and [`ImageMapping`]: how a frame is fitted to the
//!   model input and where the depth map lies in the frame (`mapping.rs`);
//! - [`pose`]: where the camera was, and projecting through it.
//!
//! This is the bottom layer: nothing here imports another part of the crate.

mod intrinsics;
mod mapping;
pub mod pose;
mod rotation;

pub use intrinsics::{DEFAULT_VERTICAL_FOV_DEGREES, FocalCorrection, Intrinsics};
pub(crate) use mapping::{Geometry, geometry};
pub use mapping::{ImageMapping, InvalidMapping, ResizeMode};
pub use pose::FrameCamera;
pub use rotation::FrameRotation;
pub(crate) use rotation::buffer_rect;
