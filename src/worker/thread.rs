//! The worker thread's loop: wait for a frame or a new model, run the
//! estimator, send the result; catch panics and rebuild after a pause.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::{DepthResult, EstimatorFactory, PANIC_BACK_OFF, Shared, WorkerReport};
use crate::depth::DepthMap;
use crate::engine::{DepthEstimator, EngineError, StageTimings};
use crate::frame::CameraFrame;
use crate::temporal::Stabiliser;

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-text payload".to_owned())
}

/// Sends `event`. When the channel is full, the oldest unread depth result
/// makes room (then the oldest frame fault, and only when nothing else is
/// waiting, the oldest event): the one-off [`WorkerReport::Ready`] and
/// [`WorkerReport::LoadFailed`] survive any number of unread results, so an
/// app that starts reading late still learns that the model loaded.
fn send(events: &Sender<WorkerReport>, drain: &Receiver<WorkerReport>, mut event: WorkerReport) {
    loop {
        match events.try_send(event) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => return,
            Err(TrySendError::Full(back)) => {
                event = back;
                // This thread is the only sender: take what is waiting, drop
                // the least important, put the rest back in order. A reader
                // racing with this only takes events older than those held
                // here, so the order it sees stays the order they were sent.
                let mut waiting: Vec<WorkerReport> = drain.try_iter().collect();
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
fn rank(event: &WorkerReport) -> u8 {
    match event {
        WorkerReport::Depth(_) => 0,
        WorkerReport::FrameFailed { .. } | WorkerReport::Panicked { .. } => 1,
        WorkerReport::Ready(_) | WorkerReport::LoadFailed(_) => 2,
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

/// Stabilises `map` as [`Shared::finishing`] says; returns the model's own
/// map when it is to be kept.
fn finish(
    shared: &Shared,
    stabiliser: &mut Option<Stabiliser>,
    frame: &CameraFrame,
    map: &mut DepthMap,
    timings: &mut StageTimings,
) -> Option<DepthMap> {
    let finishing = *shared.finishing.lock().unwrap_or_else(|e| e.into_inner());
    let Some(settings) = finishing.stabilisation else {
        *stabiliser = None;
        return None;
    };
    let kept = finishing.keep_model_depth.then(|| map.clone());
    let start = Instant::now();
    let stabiliser = stabiliser.get_or_insert_with(|| Stabiliser::new(settings));
    stabiliser.settings = settings;
    stabiliser.apply(frame, map);
    timings.stabilise = start.elapsed();
    kept
}

pub(super) fn run(shared: &Shared, events: &Sender<WorkerReport>, drain: &Receiver<WorkerReport>) {
    let counters = &shared.counters;
    let mut factory: Option<EstimatorFactory> = None;
    let mut estimator: Option<Box<dyn DepthEstimator>> = None;
    let mut map = DepthMap::empty();
    let mut panics_in_a_row = 0u32;
    let mut stabiliser: Option<Stabiliser> = None;
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
            // Free the old model before loading the new one; its depth is
            // not the new one's history.
            estimator = None;
            stabiliser = None;
            match build(&mut f) {
                Ok(e) => {
                    send(events, drain, WorkerReport::Ready(e.summary()));
                    estimator = Some(e);
                }
                Err(error) => send(events, drain, WorkerReport::LoadFailed(error)),
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
                let model_depth = finish(shared, &mut stabiliser, &frame, &mut map, &mut timings);
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
                    model_depth,
                };
                send(events, drain, WorkerReport::Depth(Box::new(result)));
            }
            Ok(Err(error)) => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                send(
                    events,
                    drain,
                    WorkerReport::FrameFailed {
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
                    WorkerReport::Panicked {
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
                            send(events, drain, WorkerReport::Ready(e.summary()));
                            estimator = Some(e);
                        }
                        Err(error) => send(events, drain, WorkerReport::LoadFailed(error)),
                    }
                }
            }
        }
    }
}
