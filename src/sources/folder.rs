//! Frames from a folder of images (PNG or JPEG), in file-name order, at a
//! chosen rate, looping.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{FrameHub, SourceStatus, SourceThread, Stop};
use crate::frame::{CameraFrame, PixelFormat};

/// Settings of the image-folder source.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageFolder {
    /// The folder.
    pub path: PathBuf,
    /// Frames per second.
    pub fps: f32,
    /// Start again after the last image.
    pub looping: bool,
    /// The camera's vertical field of view in degrees, for metric depth;
    /// `None` assumes a typical webcam's
    /// ([`DEFAULT_VERTICAL_FOV_DEGREES`](crate::camera::DEFAULT_VERTICAL_FOV_DEGREES)).
    pub vertical_fov: Option<f32>,
}

impl ImageFolder {
    /// `path` at 30 fps, looping.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            fps: 30.0,
            looping: true,
            vertical_fov: None,
        }
    }
}

/// The image files of `dir`, sorted by name.
pub fn list_images(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| matches!(x.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Reads an image file as an RGBA8 frame (the background texture's layout,
/// so the render world copies it instead of expanding it).
pub fn load_frame(path: &Path) -> Result<CameraFrame, String> {
    let image = image::open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .into_rgba8();
    let (width, height) = image.dimensions();
    CameraFrame::packed(PixelFormat::Rgba8, width, height, image.into_raw())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The interval between frames at `fps`, kept within 0.1–240 fps (NaN: 30).
fn frame_period(fps: f32) -> Duration {
    let fps = if fps.is_nan() {
        30.0
    } else {
        fps.clamp(0.1, 240.0)
    };
    Duration::from_secs_f32(1.0 / fps)
}

/// Starts the source on its own thread.
pub fn spawn(hub: FrameHub, settings: ImageFolder) -> std::io::Result<SourceThread> {
    SourceThread::spawn("mono-depth-folder", move |stop| run(&hub, &settings, &stop))
}

fn run(hub: &FrameHub, settings: &ImageFolder, stop: &Stop) {
    let name = format!("images in {}", settings.path.display());
    hub.report(SourceStatus::Starting(name.clone()));
    let files = match list_images(&settings.path) {
        Ok(files) if !files.is_empty() => files,
        Ok(_) => {
            return hub.report(SourceStatus::Failed(format!(
                "{} holds no PNG or JPEG images",
                settings.path.display()
            )));
        }
        Err(e) => {
            return hub.report(SourceStatus::Failed(format!(
                "{}: {e}",
                settings.path.display()
            )));
        }
    };
    if !settings.fps.is_finite() || settings.fps <= 0.0 {
        tracing::warn!(
            "image folder: {} fps is not a frame rate; using {}",
            settings.fps,
            1.0 / frame_period(settings.fps).as_secs_f32()
        );
    }
    let period = frame_period(settings.fps);
    let started = Instant::now();
    let mut reported_running = false;
    let mut attempts = 0u32;
    let mut first_pass = true;
    loop {
        for file in &files {
            if stop.is_set() {
                return;
            }
            match load_frame(file) {
                Ok(frame) => {
                    // Reported before the frame goes out, so nobody sees
                    // its depth while the status still says "starting".
                    if !reported_running {
                        hub.report(SourceStatus::Running(name.clone()));
                        reported_running = true;
                    }
                    let intrinsics = super::intrinsics_from_fov(&frame, settings.vertical_fov);
                    hub.push(
                        frame
                            .with_timestamp(started.elapsed())
                            .with_intrinsics(Some(intrinsics)),
                    );
                }
                Err(e) => {
                    if first_pass {
                        tracing::warn!("skipping {e}");
                    }
                    hub.report(SourceStatus::Failed(format!(
                        "skipped unreadable image {e}"
                    )));
                    reported_running = false;
                }
            }
            // Keep the rate steady whatever decoding cost.
            // Paced per attempt, so a folder of unreadable files does not spin.
            attempts = attempts.saturating_add(1);
            let next = period * attempts;
            if !stop.sleep(next.saturating_sub(started.elapsed())) {
                return;
            }
        }
        first_pass = false;
        if !settings.looping {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_frame_rate_gives_a_usable_period() {
        let ms = |fps: f32| frame_period(fps).as_secs_f64() * 1000.0;
        assert!((ms(25.0) - 40.0).abs() < 1e-3);
        assert!((ms(f32::NAN) - 1000.0 / 30.0).abs() < 1e-3);
        assert!((ms(f32::INFINITY) - 1000.0 / 240.0).abs() < 1e-3);
        assert!((ms(1e9) - 1000.0 / 240.0).abs() < 1e-3);
        assert!((ms(0.0) - 10_000.0).abs() < 1e-2);
        assert!((ms(-5.0) - 10_000.0).abs() < 1e-2);
        assert!((ms(f32::NEG_INFINITY) - 10_000.0).abs() < 1e-2);
    }
}
