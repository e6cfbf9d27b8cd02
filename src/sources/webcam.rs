//! Webcam capture through nokhwa (feature `webcam`).

/// Errors from the webcam source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebcamError {
    /// The platform's camera API could not be asked for cameras.
    #[error("cameras could not be listed: {0}")]
    Query(String),
    /// The platform reports no camera.
    #[error("no camera found: plug in a webcam, or use a recorded or pushed frame source")]
    NoCamera,
}

/// A camera the platform offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraDescription {
    /// Position in the platform's list (what `index` options refer to).
    pub index: String,
    /// Name the platform gives it.
    pub name: String,
}

/// Lists the cameras the platform offers; an empty list is
/// [`WebcamError::NoCamera`].
pub fn list_cameras() -> Result<Vec<CameraDescription>, WebcamError> {
    let cameras = nokhwa::query(nokhwa::utils::ApiBackend::Auto)
        .map_err(|e| WebcamError::Query(e.to_string()))?;
    if cameras.is_empty() {
        return Err(WebcamError::NoCamera);
    }
    Ok(cameras
        .iter()
        .map(|c| CameraDescription {
            index: c.index().to_string(),
            name: c.human_name(),
        })
        .collect())
}
