//! The inference thread: a latest-frame mailbox in, depth results out.
//!
//! [`DepthWorker`] owns one [`DepthEstimator`] (normally a
//! `DepthEngine`) on a dedicated thread. Frames
//! go into a mailbox of capacity one: a new frame replaces one that has not
//! started processing (counted as dropped), so the producer never blocks,
//! memory stays flat and latency stays one frame however slow the model is.
//! Results and faults come back as [`WorkerEvent`]s.
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
//! use bevy_mono_depth::worker::{DepthWorker, WorkerEvent};
//!
//! let worker = DepthWorker::with_engine(EngineConfig::new("assets/models/fcrn.onnx"))?;
//! let sender = worker.sender(); // cloneable, for a camera thread
//! sender.submit(CameraFrame::packed(PixelFormat::Rgb8, 640, 480, vec![0u8; 640 * 480 * 3])?.with_sequence(1));
//! for event in worker.events().iter() {
//!     if let WorkerEvent::Depth(result) = event {
//!         println!("frame {}: nearest {:.2} m", result.depth.sequence, result.depth.stats().min);
//!         break;
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};

use crate::background::Background;
pub use crate::background::STOP_TIMEOUT;
use crate::depth::DepthMap;
use crate::engine::{
    DepthEngine, DepthEstimator, EngineConfig, EngineError, ModelSummary, StageTimings,
};
use crate::frame::CameraFrame;

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
}

/// What the worker reports.
#[derive(Debug)]
#[non_exhaustive]
pub enum WorkerEvent {
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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

#[derive(Default)]
struct Counters {
    received: AtomicU64,
    dropped: AtomicU64,
    processed: AtomicU64,
    failed: AtomicU64,
    panics: AtomicU64,
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
    events: Receiver<WorkerEvent>,
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
    /// model loads on the worker thread; watch for [`WorkerEvent::Ready`] or
    /// [`WorkerEvent::LoadFailed`].
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
        });
        let (events_tx, events) = bounded(EVENT_CAPACITY);
        let thread_shared = Arc::clone(&shared);
        let drain = events.clone();
        let thread = Background::spawn("mono-depth-inference", move || {
            run(&thread_shared, &events_tx, &drain);
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
    pub fn events(&self) -> &Receiver<WorkerEvent> {
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
            lower_thread_priority();
        }
        DepthEngine::load(&config).map(|engine| Box::new(engine) as Box<dyn DepthEstimator>)
    })
}

/// Lowers the calling thread's scheduling priority (best effort: a failure
/// leaves it as it was).
pub(crate) fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread with no pointers;
    // raising one's own nice value needs no privilege.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
    #[cfg(target_vendor = "apple")]
    // SAFETY: sets the calling thread's own QoS class; no pointers.
    unsafe {
        libc::pthread_set_qos_class_self_np(libc::qos_class_t::QOS_CLASS_UTILITY, 0);
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-text payload".to_owned())
}

/// Sends `event`. When the channel is full, the oldest unread depth result
/// makes room (then the oldest frame fault, and only when nothing else is
/// waiting, the oldest event): the one-off [`WorkerEvent::Ready`] and
/// [`WorkerEvent::LoadFailed`] survive any number of unread results, so an
/// app that starts reading late still learns that the model loaded.
fn send(events: &Sender<WorkerEvent>, drain: &Receiver<WorkerEvent>, mut event: WorkerEvent) {
    loop {
        match events.try_send(event) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => return,
            Err(TrySendError::Full(back)) => {
                event = back;
                // This thread is the only sender: take what is waiting, drop
                // the least important, put the rest back in order. A reader
                // racing with this only takes events older than those held
                // here, so the order it sees stays the order they were sent.
                let mut waiting: Vec<WorkerEvent> = drain.try_iter().collect();
                if let Some(index) = (0..waiting.len()).min_by_key(|&i| (rank(&waiting[i]), i)) {
                    waiting.remove(index);
                }
                for kept in waiting {
                    if let Err(TrySendError::Disconnected(_)) = events.try_send(kept) {
                        return;
                    }
                }
            }
        }
    }
}

/// Which waiting event gives way first when the channel is full (lowest first).
fn rank(event: &WorkerEvent) -> u8 {
    match event {
        WorkerEvent::Depth(_) => 0,
        WorkerEvent::FrameFailed { .. } | WorkerEvent::Panicked { .. } => 1,
        WorkerEvent::Ready(_) | WorkerEvent::LoadFailed(_) => 2,
    }
}

fn build(factory: &mut EstimatorFactory) -> Result<Box<dyn DepthEstimator>, EngineError> {
    match catch_unwind(AssertUnwindSafe(factory)) {
        Ok(result) => result,
        Err(payload) => Err(EngineError::Other(format!(
            "loading the model panicked: {}",
            panic_message(&*payload)
        ))),
    }
}

/// Pause before rebuilding after the first panic in a row.
pub const PANIC_BACK_OFF: Duration = Duration::from_millis(100);
/// The longest pause before a rebuild.
const MAX_BACK_OFF: Duration = Duration::from_secs(10);

/// Waits before the rebuild after `in_a_row` panics: none after the first,
/// then [`PANIC_BACK_OFF`] doubling up to 10 s. A new model or shutdown ends
/// the wait; returns `false` on shutdown.
fn back_off(shared: &Shared, in_a_row: u32) -> bool {
    if in_a_row < 2 {
        return true;
    }
    let pause = PANIC_BACK_OFF
        .saturating_mul(1 << (in_a_row - 2).min(16))
        .min(MAX_BACK_OFF);
    let until = Instant::now() + pause;
    let mut mailbox = shared.lock();
    while !mailbox.shutdown && mailbox.factory.is_none() {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        mailbox = shared
            .wake
            .wait_timeout(mailbox, left)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    !mailbox.shutdown
}

fn run(shared: &Shared, events: &Sender<WorkerEvent>, drain: &Receiver<WorkerEvent>) {
    let counters = &shared.counters;
    let mut factory: Option<EstimatorFactory> = None;
    let mut estimator: Option<Box<dyn DepthEstimator>> = None;
    let mut map = DepthMap::empty();
    let mut panics_in_a_row = 0u32;
    loop {
        let (new_factory, job) = {
            let mut mailbox = shared.lock();
            while !mailbox.shutdown && mailbox.factory.is_none() && mailbox.frame.is_none() {
                mailbox = shared.wake.wait(mailbox).unwrap_or_else(|e| e.into_inner());
            }
            if mailbox.shutdown {
                return;
            }
            match mailbox.factory.take() {
                Some(f) => (Some(f), None),
                None => (None, mailbox.frame.take()),
            }
        };
        if let Some(mut f) = new_factory {
            // Free the old model before loading the new one.
            estimator = None;
            match build(&mut f) {
                Ok(e) => {
                    send(events, drain, WorkerEvent::Ready(e.summary()));
                    estimator = Some(e);
                }
                Err(error) => send(events, drain, WorkerEvent::LoadFailed(error)),
            }
            factory = Some(f);
            continue;
        }
        let Some((frame, submitted)) = job else {
            continue;
        };
        let Some(current) = estimator.as_mut() else {
            counters.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let wait = submitted.elapsed();
        match catch_unwind(AssertUnwindSafe(|| current.estimate_into(&frame, &mut map))) {
            Ok(Ok(mut timings)) => {
                panics_in_a_row = 0;
                timings.wait = wait;
                map.camera = frame.camera();
                counters.processed.fetch_add(1, Ordering::Relaxed);
                // The result takes the map; the next frame is written into
                // a recycled one when the consumer handed one back.
                let spare = shared
                    .spares
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .pop()
                    .unwrap_or_else(DepthMap::empty);
                let result = DepthResult {
                    depth: std::mem::replace(&mut map, spare),
                    timings,
                    frame,
                };
                send(events, drain, WorkerEvent::Depth(Box::new(result)));
            }
            Ok(Err(error)) => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                send(
                    events,
                    drain,
                    WorkerEvent::FrameFailed {
                        sequence: frame.sequence,
                        error,
                    },
                );
            }
            Err(payload) => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                counters.panics.fetch_add(1, Ordering::Relaxed);
                let message = panic_message(&*payload);
                send(
                    events,
                    drain,
                    WorkerEvent::Panicked {
                        sequence: frame.sequence,
                        message,
                    },
                );
                // The estimator may be in any state: rebuild it, after a
                // pause that doubles with every panic in a row, so a frame
                // or model that panics each time does not rebuild the model
                // flat out.
                estimator = None;
                map = DepthMap::empty();
                panics_in_a_row += 1;
                if !back_off(shared, panics_in_a_row) {
                    return;
                }
                if let Some(f) = factory.as_mut() {
                    match build(f) {
                        Ok(e) => {
                            send(events, drain, WorkerEvent::Ready(e.summary()));
                            estimator = Some(e);
                        }
                        Err(error) => send(events, drain, WorkerEvent::LoadFailed(error)),
                    }
                }
            }
        }
    }
}
