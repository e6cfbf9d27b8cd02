//! The view thread: the newest depth map moved into each new camera frame,
//! off the app's main thread.
//!
//! [`ViewWorker`] keeps the newest depth map it was given
//! ([`ViewWorker::set_depth`]) and the newest frame its [`ViewSender`]
//! delivered (a frame hub connects one). Whenever either changes it
//! reprojects the depth into the frame's camera with a
//! [`Reprojector`] and leaves the pair in a one-slot outbox that
//! [`ViewWorker::take`] empties: the frame to show and the depth for it,
//! both for the same instant. An output nobody took is replaced by the next.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::depth::DepthMap;
use crate::frame::CameraFrame;
use crate::reproject::{ReprojectError, Reprojection, Reprojector};
use crate::threads::Background;

pub use crate::threads::STOP_TIMEOUT;

/// The depth that goes with a [`ShownFrame`].
#[derive(Debug)]
#[non_exhaustive]
#[expect(
    clippy::large_enum_variant,
    reason = "one a camera frame, moved and never stored in bulk; a box would allocate per frame"
)]
pub enum ViewDepth {
    /// No depth map was given yet.
    NoDepth,
    /// The depth map moved into the frame's camera.
    Reprojected {
        /// The moved map (the frame's camera, the source's sequence).
        map: DepthMap,
        /// What the reprojection did.
        stats: Reprojection,
    },
    /// The depth could not be moved; show it as it came.
    NotReprojected {
        /// The sequence of the depth map that could not be moved.
        depth_sequence: u64,
        /// Why.
        why: ReprojectError,
    },
}

/// A frame to show and its depth.
#[derive(Debug)]
pub struct ShownFrame {
    /// The camera frame.
    pub frame: CameraFrame,
    /// Its depth.
    pub depth: ViewDepth,
    /// Time the reprojection took.
    pub took: Duration,
}

#[derive(Default)]
struct Inbox {
    frame: Option<CameraFrame>,
    depth: Option<DepthMap>,
    shutdown: bool,
}

#[derive(Default)]
struct Shared {
    inbox: Mutex<Inbox>,
    wake: Condvar,
    outbox: Mutex<Option<ShownFrame>>,
    /// A map handed back for the next reprojection.
    spare: Mutex<Option<DepthMap>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data: a panic elsewhere leaves nothing half-written.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Cloneable handle that delivers camera frames to a [`ViewWorker`].
#[derive(Clone)]
pub struct ViewSender {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ViewSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViewSender").finish_non_exhaustive()
    }
}

impl ViewSender {
    /// Delivers the newest frame, replacing one not yet reprojected. Never
    /// blocks on the reprojection. `false` once the worker stopped.
    pub fn submit(&self, frame: CameraFrame) -> bool {
        let mut inbox = lock(&self.shared.inbox);
        if inbox.shutdown {
            return false;
        }
        inbox.frame = Some(frame);
        drop(inbox);
        self.shared.wake.notify_one();
        true
    }
}

/// The view thread (see the module documentation). Dropping it stops the
/// thread.
pub struct ViewWorker {
    sender: ViewSender,
    thread: Option<Background>,
}

impl std::fmt::Debug for ViewWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViewWorker").finish_non_exhaustive()
    }
}

impl ViewWorker {
    /// Starts the thread, reprojecting with `reprojector`'s settings.
    pub fn spawn(reprojector: Reprojector) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let thread_shared = Arc::clone(&shared);
        let thread = Background::spawn("mono-depth-view", move || {
            run(&thread_shared, reprojector);
        })?;
        Ok(Self {
            sender: ViewSender { shared },
            thread: Some(thread),
        })
    }

    /// A handle for delivering frames (a frame hub holds one).
    pub fn sender(&self) -> ViewSender {
        self.sender.clone()
    }

    /// Delivers a frame (see [`ViewSender::submit`]).
    pub fn submit(&self, frame: CameraFrame) -> bool {
        self.sender.submit(frame)
    }

    /// The depth map to move into frames from now on (it needs its frame's
    /// camera, [`DepthMap::camera`]); the frame last delivered gets it at
    /// once.
    pub fn set_depth(&self, depth: DepthMap) {
        lock(&self.sender.shared.inbox).depth = Some(depth);
        self.sender.shared.wake.notify_one();
    }

    /// The newest finished frame and depth, once.
    pub fn take(&self) -> Option<ShownFrame> {
        lock(&self.sender.shared.outbox).take()
    }

    /// Hands a reprojected map back for reuse.
    pub fn recycle(&self, map: DepthMap) {
        *lock(&self.sender.shared.spare) = Some(map);
    }
}

impl Drop for ViewWorker {
    fn drop(&mut self) {
        lock(&self.sender.shared.inbox).shutdown = true;
        self.sender.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            thread.join_within(STOP_TIMEOUT);
        }
    }
}

fn run(shared: &Shared, mut reprojector: Reprojector) {
    let mut depth: Option<DepthMap> = None;
    let mut frame: Option<CameraFrame> = None;
    loop {
        {
            let mut inbox = lock(&shared.inbox);
            while !inbox.shutdown && inbox.frame.is_none() && inbox.depth.is_none() {
                inbox = shared.wake.wait(inbox).unwrap_or_else(|e| e.into_inner());
            }
            if inbox.shutdown {
                return;
            }
            if let Some(new) = inbox.depth.take() {
                depth = Some(new);
            }
            if let Some(new) = inbox.frame.take() {
                frame = Some(new);
            }
        }
        // New depth before any frame waits for one.
        let Some(frame) = frame.as_ref() else {
            continue;
        };
        let start = Instant::now();
        let shown = match depth.as_ref() {
            None => ViewDepth::NoDepth,
            Some(source) => {
                let outcome = match frame.camera() {
                    Some(camera) => {
                        let mut out = lock(&shared.spare).take().unwrap_or_else(DepthMap::empty);
                        reprojector
                            .reproject(source, &camera, &mut out)
                            .map(|stats| (out, stats))
                    }
                    None => Err(ReprojectError::NoViewCamera),
                };
                match outcome {
                    Ok((map, stats)) => ViewDepth::Reprojected { map, stats },
                    Err(why) => ViewDepth::NotReprojected {
                        depth_sequence: source.sequence,
                        why,
                    },
                }
            }
        };
        let output = ShownFrame {
            frame: frame.clone(),
            depth: shown,
            took: start.elapsed(),
        };
        // An output nobody took gives its map back.
        if let Some(ShownFrame {
            depth: ViewDepth::Reprojected { map, .. },
            ..
        }) = lock(&shared.outbox).replace(output)
        {
            *lock(&shared.spare) = Some(map);
        }
    }
}
