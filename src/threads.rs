//! Threads the crate starts: background threads that the main thread stops
//! without waiting long, and lowering a thread's priority.
//!
//! A camera driver, a model load or a disk can keep a thread busy for
//! seconds; dropping the owner of such a thread on Bevy's main thread must
//! not freeze the game. [`Background::join_within`] waits a bounded time and
//! otherwise leaves the thread to finish on its own.

use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, bounded};

/// How long owners of background threads wait for them when dropped.
pub const STOP_TIMEOUT: Duration = Duration::from_millis(500);

/// A named thread whose end can be awaited with a time limit.
#[derive(Debug)]
pub(crate) struct Background {
    done: Receiver<()>,
    thread: JoinHandle<()>,
}

impl Background {
    /// Runs `body` on a thread called `name`.
    pub(crate) fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> std::io::Result<Self> {
        // Nothing is sent: the sender is dropped when the body returns or
        // unwinds, which is the signal.
        let (done_tx, done) = bounded::<()>(0);
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let _done = done_tx;
                body();
            })?;
        Ok(Self { done, thread })
    }

    /// Waits up to `timeout` for the thread to end and joins it. Returns
    /// `false` (and logs a warning) when it is still running: it is then
    /// left to end on its own.
    pub(crate) fn join_within(self, timeout: Duration) -> bool {
        match self.done.recv_timeout(timeout) {
            Err(RecvTimeoutError::Timeout) => {
                let name = self.thread.thread().name().unwrap_or("thread").to_owned();
                tracing::warn!(
                    "{name} did not stop within {timeout:?}; it is left to end on its own"
                );
                false
            }
            _ => {
                // Ended (a panic was already reported where it happened).
                drop(self.thread.join());
                true
            }
        }
    }

    /// Leaves the thread to end on its own, without waiting.
    pub(crate) fn detach(self) {}
}

/// Lowers the calling thread's scheduling priority (best effort: a failure
/// leaves it as it was).
pub(crate) fn lower_priority() {
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

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn a_thread_that_ends_is_joined_and_one_that_does_not_is_left() {
        let quick = Background::spawn("quick", || {}).unwrap();
        assert!(quick.join_within(Duration::from_secs(5)));
        let panics = Background::spawn("panics", || panic!("expected in this test")).unwrap();
        assert!(panics.join_within(Duration::from_secs(5)));
        let (release, blocked) = bounded::<()>(0);
        let slow = Background::spawn("slow", move || {
            let _ = blocked.recv_timeout(Duration::from_secs(30));
        })
        .unwrap();
        let start = Instant::now();
        assert!(!slow.join_within(Duration::from_millis(50)));
        assert!(start.elapsed() < Duration::from_secs(5));
        drop(release);
    }
}
