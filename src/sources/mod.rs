//! Where camera frames come from, and the hub they all feed.
//!
//! Every source — frames pushed by the host app ([`FramePusher`]), an image
//! folder ([`folder`]), the webcam (`webcam`, feature `webcam`) — hands frames
//! to one [`FrameHub`]. The hub keeps the newest frame (for the camera
//! background), numbers frames that come without a sequence number, and
//! forwards each to the inference worker's mailbox. Sources report their
//! state as [`SourceStatus`] on the hub's status channel.

use bevy::reflect::Reflect;
pub mod folder;
mod pushed;
pub mod recording;
#[cfg(feature = "webcam")]
pub mod webcam;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, bounded};

pub use pushed::FramePusher;

use crate::camera::{DEFAULT_VERTICAL_FOV_DEGREES, Intrinsics};
use crate::threads::Background;

use crate::frame::CameraFrame;
use crate::worker::FrameSender;
use crate::worker::view::ViewSender;

/// State of the frame source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Reflect)]
#[non_exhaustive]
pub enum SourceStatus {
    /// No frame source is running (frames may still be pushed by the app).
    #[default]
    NoSource,
    /// A source is starting (opening the camera, listing the folder).
    Starting(String),
    /// Frames are flowing from the named source.
    Running(String),
    /// No camera could be opened; the reason says why. The source retries.
    NoCamera(String),
    /// The camera stopped delivering frames (unplugged?); the source retries.
    CameraLost(String),
    /// The source cannot deliver frames; the reason says why.
    Failed(String),
}

impl fmt::Display for SourceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceStatus::NoSource => f.write_str("no frame source"),
            SourceStatus::Starting(what) => write!(f, "starting {what}"),
            SourceStatus::Running(what) => write!(f, "frames from {what}"),
            SourceStatus::NoCamera(why) => write!(f, "no camera: {why}"),
            SourceStatus::CameraLost(why) => write!(f, "camera lost: {why}"),
            SourceStatus::Failed(why) => write!(f, "frame source failed: {why}"),
        }
    }
}

struct HubInner {
    newest: Mutex<Option<CameraFrame>>,
    worker: Mutex<Option<FrameSender>>,
    view: Mutex<Option<ViewSender>>,
    next_sequence: AtomicU64,
    status_tx: Sender<SourceStatus>,
    status_rx: Receiver<SourceStatus>,
}

/// Where all frame sources deliver (cloneable, thread-safe).
#[derive(Clone)]
pub struct FrameHub {
    inner: Arc<HubInner>,
}

impl fmt::Debug for FrameHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameHub").finish_non_exhaustive()
    }
}

impl Default for FrameHub {
    fn default() -> Self {
        let (status_tx, status_rx) = bounded(32);
        Self {
            inner: Arc::new(HubInner {
                newest: Mutex::new(None),
                worker: Mutex::new(None),
                view: Mutex::new(None),
                next_sequence: AtomicU64::new(1),
                status_tx,
                status_rx,
            }),
        }
    }
}

impl FrameHub {
    /// Forwards frames to this worker from now on (`None`: keep them only as
    /// the newest frame). A worker connected where none was gets the newest
    /// frame at once, so a frame pushed before the worker started, or while
    /// the model was paused, still gets depth.
    pub fn connect(&self, worker: Option<FrameSender>) {
        let mut slot = self.inner.worker.lock().unwrap_or_else(|e| e.into_inner());
        let was_connected = slot.is_some();
        *slot = worker;
        if !was_connected
            && let Some(worker) = slot.as_ref()
            && let Some(frame) = self.newest()
        {
            worker.submit(frame);
        }
    }

    /// Forwards frames to this view thread too, from now on (`None`: no
    /// longer); one connected where none was gets the newest frame at once.
    pub fn connect_view(&self, view: Option<ViewSender>) {
        let mut slot = self.inner.view.lock().unwrap_or_else(|e| e.into_inner());
        let was_connected = slot.is_some();
        *slot = view;
        if !was_connected
            && let Some(view) = slot.as_ref()
            && let Some(frame) = self.newest()
        {
            view.submit(frame);
        }
    }

    /// Delivers a frame: numbers it if its sequence is 0, keeps it as the
    /// newest, and submits it for depth. Returns its sequence number.
    pub fn push(&self, mut frame: CameraFrame) -> u64 {
        if frame.sequence == 0 {
            frame.sequence = self.inner.next_sequence.fetch_add(1, Ordering::Relaxed);
        } else {
            self.inner
                .next_sequence
                .fetch_max(frame.sequence.saturating_add(1), Ordering::Relaxed);
        }
        let sequence = frame.sequence;
        let worker = self
            .inner
            .worker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(worker) = worker {
            worker.submit(frame.clone());
        }
        // The newest frame first: a view thread's output is shown with it.
        *self.inner.newest.lock().unwrap_or_else(|e| e.into_inner()) = Some(frame.clone());
        let view = self
            .inner
            .view
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(view) = view {
            view.submit(frame);
        }
        sequence
    }

    /// The newest frame delivered, if any.
    pub fn newest(&self) -> Option<CameraFrame> {
        self.inner
            .newest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reports a source's state (dropped if nobody has read the last 32).
    pub fn report(&self, status: SourceStatus) {
        // A full channel means nobody is reading; newer reports will follow.
        let _ = self.inner.status_tx.try_send(status);
    }

    /// Reports not yet read, oldest first.
    pub fn statuses(&self) -> impl Iterator<Item = SourceStatus> + '_ {
        self.inner.status_rx.try_iter()
    }
}

pub use crate::threads::STOP_TIMEOUT;

/// Intrinsics of `frame` from a vertical field of view in degrees; without
/// one (or with one outside 1–179°), a typical webcam's, marked assumed.
pub(crate) fn intrinsics_from_fov(frame: &CameraFrame, vertical_fov: Option<f32>) -> Intrinsics {
    let (w, h) = (frame.width(), frame.height());
    match vertical_fov.filter(|d| (1.0..=179.0).contains(d)) {
        Some(degrees) => Intrinsics::from_vertical_fov(w, h, degrees),
        None => Intrinsics::from_vertical_fov(w, h, DEFAULT_VERTICAL_FOV_DEGREES).assumed(),
    }
}

/// The stop signal a source thread watches: set when its [`SourceThread`]
/// is dropped.
#[derive(Debug, Clone)]
pub(crate) struct Stop {
    signal: Receiver<()>,
}

impl Stop {
    /// Whether the source was asked to stop.
    pub(crate) fn is_set(&self) -> bool {
        matches!(self.signal.try_recv(), Err(TryRecvError::Disconnected))
    }

    /// Sleeps up to `duration`, waking at once when asked to stop. Returns
    /// `false` if stopped.
    pub(crate) fn sleep(&self, duration: Duration) -> bool {
        matches!(
            self.signal.recv_timeout(duration),
            Err(RecvTimeoutError::Timeout)
        )
    }
}

/// A source running on its own thread; dropping it stops the thread and
/// waits for it up to [`STOP_TIMEOUT`], never longer: a source blocked in a
/// driver call (a camera that stalls without an error) is left to end on
/// its own, so app exit never hangs on it.
pub struct SourceThread {
    stop: Option<Sender<()>>,
    thread: Option<Background>,
}

impl fmt::Debug for SourceThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceThread").finish_non_exhaustive()
    }
}

impl SourceThread {
    /// Runs `body` on a named thread; it should return soon after its
    /// [`Stop`] is set.
    pub(crate) fn spawn(
        name: &str,
        body: impl FnOnce(Stop) + Send + 'static,
    ) -> std::io::Result<Self> {
        // Nothing is sent: dropping the sender is the stop signal.
        let (stop, signal) = bounded(0);
        let thread = Background::spawn(name, move || body(Stop { signal }))?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for SourceThread {
    fn drop(&mut self) {
        self.stop = None;
        if let Some(thread) = self.thread.take() {
            thread.join_within(STOP_TIMEOUT);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn a_given_field_of_view_is_measured_a_missing_or_absurd_one_assumed() {
        let frame =
            CameraFrame::packed(crate::frame::PixelFormat::Rgb8, 8, 6, vec![0; 144]).unwrap();
        let given = intrinsics_from_fov(&frame, Some(90.0));
        assert!(!given.assumed);
        // tan(45°) = 1: the focal length is half the height.
        assert!((given.fy - 3.0).abs() < 1e-5 && (given.cx, given.cy) == (4.0, 3.0));
        let default = Intrinsics::from_vertical_fov(8, 6, DEFAULT_VERTICAL_FOV_DEGREES);
        for fov in [None, Some(0.0), Some(180.0), Some(f32::NAN)] {
            let k = intrinsics_from_fov(&frame, fov);
            assert!(k.assumed, "{fov:?}");
            assert_eq!((k.fx, k.fy), (default.fx, default.fy), "{fov:?}");
        }
    }

    #[test]
    fn a_worker_connected_late_gets_the_newest_frame_once() {
        let worker = crate::worker::DepthWorker::spawn(Box::new(|| {
            Err(crate::engine::EngineError::Other("no model".into()))
        }))
        .unwrap();
        let hub = FrameHub::default();
        let frame =
            CameraFrame::packed(crate::frame::PixelFormat::Rgb8, 2, 2, vec![0; 12]).unwrap();
        hub.push(frame);
        assert_eq!(worker.stats().received, 0);
        hub.connect(Some(worker.sender()));
        assert_eq!(worker.stats().received, 1, "the frame pushed before");
        hub.connect(Some(worker.sender()));
        assert_eq!(worker.stats().received, 1, "already connected: not again");
        hub.connect(None);
        hub.connect(Some(worker.sender()));
        assert_eq!(worker.stats().received, 2, "resumed: the newest again");
    }

    #[test]
    fn a_source_that_never_returns_does_not_block_its_drop() {
        let (release, blocked) = bounded::<()>(0);
        let source = SourceThread::spawn("stalled", move |_stop| {
            // A driver call that ignores the stop signal.
            let _ = blocked.recv_timeout(Duration::from_secs(30));
        })
        .unwrap();
        let start = Instant::now();
        drop(source);
        let waited = start.elapsed();
        assert!(waited >= STOP_TIMEOUT, "{waited:?}");
        assert!(waited < STOP_TIMEOUT * 4, "{waited:?}");
        drop(release);
    }

    #[test]
    fn a_sleeping_source_wakes_when_stopped_and_is_joined() {
        let (tx, finished) = bounded::<bool>(1);
        let source = SourceThread::spawn("sleeper", move |stop| {
            let slept = stop.sleep(Duration::from_secs(30));
            let _ = tx.send(slept || !stop.is_set());
        })
        .unwrap();
        let start = Instant::now();
        drop(source);
        assert!(start.elapsed() < STOP_TIMEOUT, "joined promptly");
        // Joined: the body has finished and reported that it was stopped.
        assert_eq!(finished.try_recv(), Ok(false));
    }

    #[test]
    fn stop_sleeps_for_the_duration_when_not_stopped() {
        let (_keep, signal) = bounded(0);
        let stop = Stop { signal };
        let start = Instant::now();
        assert!(stop.sleep(Duration::from_millis(30)));
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert!(stop.sleep(Duration::ZERO));
        assert!(!stop.is_set());
        drop(_keep);
        assert!(stop.is_set());
        assert!(!stop.sleep(Duration::from_secs(30)));
        assert!(!stop.sleep(Duration::ZERO));
    }
}
