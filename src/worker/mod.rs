//! The inference thread: a latest-frame mailbox in, depth results out.
//!
//! [`DepthWorker`] owns one [`DepthEstimator`] (normally a
//! `DepthEngine`) on a dedicated thread. Frames
//! go into a mailbox of capacity one: a new frame replaces one that has not
//! started processing (counted as dropped), so the producer never blocks,
//! memory stays flat and latency stays one frame however slow the model is.
//! Results and faults come back as [`WorkerReport`]s. Each depth map is
//! stabilised on the same thread ([`DepthWorker::set_stabilisation`]), so
//! the app's main thread only takes finished maps.
//!
//! A frame that fails is reported and the worker carries on; a panic inside
//! the estimator is caught, reported, and the estimator is rebuilt (after a
//! pause that doubles with each panic in a row, from [`PANIC_BACK_OFF`]); a new
//! model can be swapped in while running; dropping the worker stops the
//! thread and joins it when the current frame is done, waiting at most
//! [`STOP_TIMEOUT`] (a slow model load then finishes on its own).
//!
//! ```no_run
//! use bevy_mono_depth::engine::EngineConfig;
//! use bevy_mono_depth::frame::{CameraFrame, PixelFormat};
//! use bevy_mono_depth::worker::{DepthWorker, WorkerReport};
//!
//! let worker = DepthWorker::with_engine(EngineConfig::new("assets/models/fcrn.onnx"))?;
//! let sender = worker.sender(); // cloneable, for a camera thread
//! sender.submit(CameraFrame::packed(PixelFormat::Rgb8, 640, 480, vec![0u8; 640 * 480 * 3])?.with_sequence(1));
//! for event in worker.events().iter() {
//!     if let WorkerReport::Depth(result) = event {
//!         println!("frame {}: nearest {:.2} m", result.depth.sequence, result.depth.stats().min);
//!         break;
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod thread;
pub mod view;

use bevy::reflect::Reflect;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, bounded};

use crate::depth::DepthMap;
use crate::engine::{
    DepthEngine, DepthEstimator, EngineConfig, EngineError, ModelSummary, StageTimings,
};
use crate::frame::CameraFrame;
use crate::temporal::TemporalSettings;
use crate::threads::Background;
pub use crate::threads::STOP_TIMEOUT;

/// Builds (and after a panic, rebuilds) the estimator on the worker thread.
pub type EstimatorFactory = Box<dyn FnMut() -> Result<Box<dyn DepthEstimator>, EngineError> + Send>;

/// Events waiting to be read before the oldest is discarded.
pub const EVENT_CAPACITY: usize = 16;

/// Depth maps [`DepthWorker::recycle`] keeps for reuse.
const SPARE_MAPS: usize = 4;

/// One processed frame.
#[derive(Debug, Clone)]
pub struct DepthResult {
    /// The depth map (carries the frame's sequence number and timestamp).
    pub depth: DepthMap,
    /// Time per stage.
    pub timings: StageTimings,
    /// The frame the depth was computed from (shares its pixels).
    pub frame: CameraFrame,
    /// The depth as the model produced it, before stabilisation: only while
    /// [`DepthWorker::keep_model_depth`] asks for it and stabilisation is on.
    pub model_depth: Option<DepthMap>,
}

/// The name of [`WorkerReport`] before 0.2.
#[deprecated(
    since = "0.2.0",
    note = "renamed `WorkerReport` (it is not a Bevy event)"
)]
pub type WorkerEvent = WorkerReport;

/// What the worker reports.
#[derive(Debug)]
#[non_exhaustive]
pub enum WorkerReport {
    /// An estimator was built and is ready; what runs.
    Ready(ModelSummary),
    /// Building the estimator failed; frames are dropped until a new one is swapped in.
    LoadFailed(EngineError),
    /// A frame was processed.
    Depth(Box<DepthResult>),
    /// A frame failed; the worker carries on with the next.
    FrameFailed {
        /// Sequence number of the frame.
        sequence: u64,
        /// Why.
        error: EngineError,
    },
    /// The estimator panicked on a frame; it is being rebuilt.
    Panicked {
        /// Sequence number of the frame.
        sequence: u64,
        /// The panic message.
        message: String,
    },
}

/// Frame counts since the worker started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Reflect)]
pub struct WorkerStats {
    /// Frames submitted.
    pub received: u64,
    /// Frames replaced in the mailbox before processing, or arriving while no
    /// model was loaded.
    pub dropped: u64,
    /// Frames turned into depth.
    pub processed: u64,
    /// Frames that failed or panicked.
    pub failed: u64,
    /// Panics caught.
    pub panics: u64,
}

/// Pause before rebuilding after the first panic in a row.
pub const PANIC_BACK_OFF: Duration = Duration::from_millis(100);

#[derive(Default)]
struct Counters {
    received: AtomicU64,
    dropped: AtomicU64,
    processed: AtomicU64,
    failed: AtomicU64,
    panics: AtomicU64,
}

/// What happens to each depth map on the worker thread after the model.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Finishing {
    stabilisation: Option<TemporalSettings>,
    keep_model_depth: bool,
}

#[derive(Default)]
struct Mailbox {
    frame: Option<(CameraFrame, Instant)>,
    factory: Option<EstimatorFactory>,
    shutdown: bool,
}

struct Shared {
    mailbox: Mutex<Mailbox>,
    wake: Condvar,
    counters: Counters,
    /// Depth maps handed back by the consumer, reused for later frames.
    spares: Mutex<Vec<DepthMap>>,
    finishing: Mutex<Finishing>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Mailbox> {
        // The mailbox holds plain data; a panic elsewhere cannot leave it
        // half-written, so a poisoned lock is still usable.
        self.mailbox.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Cloneable, thread-safe handle that submits frames to a worker.
#[derive(Clone)]
pub struct FrameSender {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FrameSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameSender").finish_non_exhaustive()
    }
}

impl FrameSender {
    /// Puts `frame` in the mailbox, replacing one not yet started. Never
    /// blocks on inference. Returns `false` once the worker has stopped.
    pub fn submit(&self, frame: CameraFrame) -> bool {
        let counters = &self.shared.counters;
        let mut mailbox = self.shared.lock();
        if mailbox.shutdown {
            return false;
        }
        counters.received.fetch_add(1, Ordering::Relaxed);
        if mailbox.frame.replace((frame, Instant::now())).is_some() {
            counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
        drop(mailbox);
        self.shared.wake.notify_one();
        true
    }
}

/// The inference thread and its channels. Dropping it stops the thread.
pub struct DepthWorker {
    sender: FrameSender,
    events: Receiver<WorkerReport>,
    thread: Option<Background>,
}

impl std::fmt::Debug for DepthWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DepthWorker")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl DepthWorker {
    /// Starts a worker running the ONNX engine described by `config`. The
    /// model loads on the worker thread; watch for [`WorkerReport::Ready`] or
    /// [`WorkerReport::LoadFailed`].
    pub fn with_engine(config: EngineConfig) -> std::io::Result<Self> {
        Self::spawn(engine_factory(config))
    }

    /// Starts a worker whose estimator is built by `factory` on the worker thread.
    pub fn spawn(factory: EstimatorFactory) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            mailbox: Mutex::new(Mailbox {
                factory: Some(factory),
                ..Mailbox::default()
            }),
            wake: Condvar::new(),
            counters: Counters::default(),
            spares: Mutex::new(Vec::new()),
            finishing: Mutex::new(Finishing::default()),
        });
        let (events_tx, events) = bounded(EVENT_CAPACITY);
        let thread_shared = Arc::clone(&shared);
        let drain = events.clone();
        let thread = Background::spawn("mono-depth-inference", move || {
            thread::run(&thread_shared, &events_tx, &drain);
        })?;
        Ok(Self {
            sender: FrameSender { shared },
            events,
            thread: Some(thread),
        })
    }

    /// Submits a frame (see [`FrameSender::submit`]).
    pub fn submit(&self, frame: CameraFrame) -> bool {
        self.sender.submit(frame)
    }

    /// A cloneable handle for submitting frames from other threads.
    pub fn sender(&self) -> FrameSender {
        self.sender.clone()
    }

    /// Results and faults, oldest first. If nobody reads them, the oldest
    /// depth results are discarded beyond a small backlog
    /// ([`EVENT_CAPACITY`]); `Ready` and `LoadFailed` are kept.
    pub fn events(&self) -> &Receiver<WorkerReport> {
        &self.events
    }

    /// Replaces the estimator (a new model) without stopping the thread. The
    /// current frame finishes on the old one.
    pub fn swap(&self, factory: EstimatorFactory) {
        self.sender.shared.lock().factory = Some(factory);
        self.sender.shared.wake.notify_one();
    }

    /// Swaps in the ONNX engine described by `config`.
    pub fn swap_engine(&self, config: EngineConfig) {
        self.swap(engine_factory(config));
    }

    /// Hands a depth map that is no longer needed back to the worker, which
    /// writes a later frame's depth into it instead of allocating (a few are
    /// kept; more are dropped).
    pub fn recycle(&self, map: DepthMap) {
        let mut spares = self
            .sender
            .shared
            .spares
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if spares.len() < SPARE_MAPS {
            spares.push(map);
        }
    }

    /// Stabilises each depth map from the next frame on (`None`: off, and
    /// the history is dropped). Off until set.
    pub fn set_stabilisation(&self, settings: Option<TemporalSettings>) {
        self.finishing().stabilisation = settings;
    }

    /// Whether results carry the model's own depth beside the stabilised
    /// one ([`DepthResult::model_depth`]; a recording keeps that).
    pub fn keep_model_depth(&self, keep: bool) {
        self.finishing().keep_model_depth = keep;
    }

    fn finishing(&self) -> MutexGuard<'_, Finishing> {
        self.sender
            .shared
            .finishing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Frame counts so far.
    pub fn stats(&self) -> WorkerStats {
        let c = &self.sender.shared.counters;
        WorkerStats {
            received: c.received.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            processed: c.processed.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            panics: c.panics.load(Ordering::Relaxed),
        }
    }
}

impl Drop for DepthWorker {
    fn drop(&mut self) {
        self.sender.shared.lock().shutdown = true;
        self.sender.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            // The current frame or model load finishes first; a model that
            // takes long to load (Core ML compiles for seconds) is left to
            // finish on its own instead of freezing the caller.
            thread.join_within(STOP_TIMEOUT);
        }
    }
}

fn engine_factory(config: EngineConfig) -> EstimatorFactory {
    Box::new(move || {
        // The worker thread itself; ONNX Runtime's pool threads are lowered
        // as the session creates them (see `session::threads`), since on
        // Apple platforms they would not inherit it.
        if config.session.low_priority {
            crate::threads::lower_priority();
        }
        DepthEngine::load(&config).map(|engine| Box::new(engine) as Box<dyn DepthEstimator>)
    })
}
