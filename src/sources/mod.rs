//! Where camera frames come from.

#[cfg(feature = "webcam")]
pub mod webcam;
