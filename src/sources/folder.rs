//! Frames from a folder of images (PNG or JPEG), in file-name order, at a
//! chosen rate, looping.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{FrameHub, SourceStatus, SourceThread, sleep_unless_stopped};
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
}

impl ImageFolder {
    /// `path` at 30 fps, looping.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            fps: 30.0,
            looping: true,
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

/// Reads an image file as an RGB8 frame.
pub fn load_frame(path: &Path) -> Result<CameraFrame, String> {
    let image = image::open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .into_rgb8();
    let (width, height) = image.dimensions();
    CameraFrame::packed(PixelFormat::Rgb8, width, height, image.into_raw())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Starts the source on its own thread.
pub fn spawn(hub: FrameHub, settings: ImageFolder) -> std::io::Result<SourceThread> {
    SourceThread::spawn("mono-depth-folder", move |stop| run(&hub, &settings, &stop))
}

fn run(hub: &FrameHub, settings: &ImageFolder, stop: &Arc<AtomicBool>) {
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
    let period = Duration::from_secs_f32(1.0 / settings.fps.clamp(0.1, 240.0));
    let started = Instant::now();
    let mut reported_running = false;
    let mut attempts = 0u32;
    let mut first_pass = true;
    loop {
        for file in &files {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            match load_frame(file) {
                Ok(frame) => {
                    hub.push(frame.with_timestamp(started.elapsed()));
                    if !reported_running {
                        hub.report(SourceStatus::Running(name.clone()));
                        reported_running = true;
                    }
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
            if !sleep_unless_stopped(stop, next.saturating_sub(started.elapsed())) {
                return;
            }
        }
        first_pass = false;
        if !settings.looping {
            return;
        }
    }
}
