//! Webcam capture through nokhwa (feature `webcam`), on its own thread.
//!
//! "No camera" and "camera unplugged" are statuses, not errors that stop the
//! app: the source retries with a growing back-off (0.5 s doubling to 8 s)
//! until a camera works or the app stops it.

use std::time::{Duration, Instant};

use nokhwa::utils::{
    CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType, Resolution,
};

use super::{FrameHub, SourceStatus, SourceThread, Stop};
use crate::frame::{CameraFrame, PixelFormat};

/// Errors from the webcam source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebcamError {
    /// The platform's camera API could not be asked for cameras.
    #[error("cameras could not be listed: {0}")]
    Query(String),
    /// The platform reports no camera.
    #[error("no camera found: plug in a webcam, or use an image folder or pushed frames")]
    NoCamera,
    /// No camera has the requested name.
    #[error("no camera named {0:?}")]
    NotFound(String),
    /// The camera could not be opened or started.
    #[error("camera could not be opened: {0}")]
    Open(String),
    /// The camera stopped delivering frames.
    #[error("camera stopped delivering frames: {0}")]
    Capture(String),
    /// A frame came in a format the source cannot decode.
    #[error("camera frame could not be decoded: {0}")]
    Decode(String),
}

/// A camera the platform offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraDescription {
    /// Position in the platform's list (what [`CameraChoice::Index`] refers to).
    pub index: String,
    /// Name the platform gives it.
    pub name: String,
}

/// Lists the cameras the platform offers; an empty list is [`WebcamError::NoCamera`].
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

/// Which camera to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraChoice {
    /// By position in the platform's list (0 is usually the built-in one).
    Index(u32),
    /// The first camera whose name contains this text.
    Name(String),
}

/// Webcam settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Webcam {
    /// Which camera.
    pub camera: CameraChoice,
    /// Requested resolution (the closest the camera offers is used).
    pub resolution: (u32, u32),
    /// Requested frame rate.
    pub fps: u32,
    /// The camera's vertical field of view in degrees, for metric depth;
    /// `None` assumes a typical webcam's
    /// ([`DEFAULT_VERTICAL_FOV_DEGREES`](crate::camera::DEFAULT_VERTICAL_FOV_DEGREES))
    /// and the status says so.
    pub vertical_fov: Option<f32>,
}

impl Default for Webcam {
    fn default() -> Self {
        Self {
            camera: CameraChoice::Index(0),
            resolution: (640, 480),
            fps: 30,
            vertical_fov: None,
        }
    }
}

fn resolve(choice: &CameraChoice) -> Result<(CameraIndex, String), WebcamError> {
    let cameras = list_cameras()?;
    let found = match choice {
        CameraChoice::Index(i) => cameras
            .iter()
            .find(|c| c.index == i.to_string())
            .or(cameras.get(*i as usize)),
        CameraChoice::Name(name) => cameras.iter().find(|c| c.name.contains(name.as_str())),
    };
    let camera = found.ok_or_else(|| match choice {
        CameraChoice::Index(i) => WebcamError::NotFound(format!("#{i}")),
        CameraChoice::Name(name) => WebcamError::NotFound(name.clone()),
    })?;
    let index = camera.index.parse::<u32>().map_or_else(
        |_| CameraIndex::String(camera.index.clone()),
        CameraIndex::Index,
    );
    Ok((index, camera.name.clone()))
}

/// Decodes a camera buffer to a frame.
pub fn decode(
    format: FrameFormat,
    width: u32,
    height: u32,
    data: &[u8],
) -> Result<CameraFrame, WebcamError> {
    let decode_err = |e: &dyn std::fmt::Display| WebcamError::Decode(e.to_string());
    match format {
        FrameFormat::MJPEG => {
            let image = image::load_from_memory_with_format(data, image::ImageFormat::Jpeg)
                .map_err(|e| decode_err(&e))?
                .into_rgba8();
            let (w, h) = image.dimensions();
            CameraFrame::packed(PixelFormat::Rgba8, w, h, image.into_raw())
                .map_err(|e| decode_err(&e))
        }
        FrameFormat::RAWRGB => {
            CameraFrame::packed(PixelFormat::Rgb8, width, height, data).map_err(|e| decode_err(&e))
        }
        FrameFormat::YUYV => {
            let needed = width as usize * height as usize * 2;
            if data.len() < needed || !width.is_multiple_of(2) {
                return Err(WebcamError::Decode(format!(
                    "YUYV buffer of {} bytes for {width}×{height}",
                    data.len()
                )));
            }
            // nokhwa's own BT.601 converter (nokhwa's `decoding` feature,
            // which would wrap it, also builds mozjpeg).
            // Straight to RGBA, the texture's layout: the render world then
            // copies the frame instead of expanding it.
            let mut rgba = vec![0; width as usize * height as usize * 4];
            nokhwa::utils::buf_yuyv422_to_rgb(&data[..needed], &mut rgba, true)
                .map_err(|e| decode_err(&e))?;
            CameraFrame::packed(PixelFormat::Rgba8, width, height, rgba).map_err(|e| decode_err(&e))
        }
        other => Err(WebcamError::Decode(format!(
            "{other} frames are not supported; the camera offers it as its only format"
        ))),
    }
}

/// Starts capturing on its own thread.
pub fn spawn(hub: FrameHub, settings: Webcam) -> std::io::Result<SourceThread> {
    SourceThread::spawn("mono-depth-webcam", move |stop| run(&hub, &settings, &stop))
}

fn run(hub: &FrameHub, settings: &Webcam, stop: &Stop) {
    let mut backoff = Duration::from_millis(500);
    let started = Instant::now();
    while !stop.is_set() {
        hub.report(SourceStatus::Starting(format!(
            "camera {:?}",
            settings.camera
        )));
        match capture(hub, settings, stop, started) {
            Ok(()) => return, // stopped
            Err((error, had_frames)) => {
                tracing::warn!("webcam: {error}; retrying in {backoff:?}");
                hub.report(if had_frames {
                    SourceStatus::CameraLost(error.to_string())
                } else {
                    SourceStatus::NoCamera(error.to_string())
                });
                if had_frames {
                    backoff = Duration::from_millis(500);
                }
            }
        }
        if !stop.sleep(backoff) {
            return;
        }
        backoff = (backoff * 2).min(Duration::from_secs(8));
    }
}

/// Opens the camera and pushes frames until stopped (`Ok`) or it fails
/// (`Err` with whether any frame arrived).
fn capture(
    hub: &FrameHub,
    settings: &Webcam,
    stop: &Stop,
    started: Instant,
) -> Result<(), (WebcamError, bool)> {
    let (index, name) = resolve(&settings.camera).map_err(|e| (e, false))?;
    let (w, h) = settings.resolution;
    let wanted = CameraFormat::new(Resolution::new(w, h), FrameFormat::MJPEG, settings.fps);
    let format = RequestedFormat::with_formats(
        RequestedFormatType::Closest(wanted),
        &[FrameFormat::MJPEG, FrameFormat::YUYV, FrameFormat::RAWRGB],
    );
    let mut camera = nokhwa::Camera::new(index, format)
        .map_err(|e| (WebcamError::Open(e.to_string()), false))?;
    camera
        .open_stream()
        .map_err(|e| (WebcamError::Open(e.to_string()), false))?;
    let mut had_frames = false;
    while !stop.is_set() {
        let buffer = camera
            .frame()
            .map_err(|e| (WebcamError::Capture(e.to_string()), had_frames))?;
        let resolution = buffer.resolution();
        match decode(
            buffer.source_frame_format(),
            resolution.width(),
            resolution.height(),
            buffer.buffer(),
        ) {
            Ok(frame) => {
                // Reported before the frame goes out, so nobody sees its
                // depth while the status still says "starting".
                if !had_frames {
                    had_frames = true;
                    hub.report(SourceStatus::Running(format!("camera {name}")));
                }
                let intrinsics = super::intrinsics_from_fov(&frame, settings.vertical_fov);
                hub.push(
                    frame
                        .with_timestamp(started.elapsed())
                        .with_intrinsics(Some(intrinsics)),
                );
            }
            // One bad frame (a torn MJPEG) is skipped; the next may be fine.
            Err(e) => tracing::debug!("webcam: {e}"),
        }
    }
    // The stream is closed when `camera` drops.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuyv_decodes_grey_and_colour() {
        // Two pixels of mid grey, then black and white.
        let data = [126u8, 128, 126, 128, 16, 128, 235, 128];
        let frame = decode(FrameFormat::YUYV, 2, 2, &data).unwrap();
        // Decoded straight to the texture's layout.
        assert_eq!(frame.format(), PixelFormat::Rgba8);
        assert_eq!(frame.data().len(), 2 * 2 * 4);
        assert_eq!(frame.pixel(0, 0), Some([128, 128, 128]));
        assert_eq!(frame.pixel(0, 1), Some([0, 0, 0]));
        assert_eq!(frame.pixel(1, 1), Some([255, 255, 255]));
        assert!(decode(FrameFormat::YUYV, 2, 2, &data[..6]).is_err());
        assert!(decode(FrameFormat::MJPEG, 2, 2, b"not a jpeg").is_err());
        assert!(decode(FrameFormat::NV12, 2, 2, &data).is_err());
    }
}
