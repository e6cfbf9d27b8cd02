//! ONNX Runtime's intra-op threads, created by the crate so that each
//! gets the session's priority.

/// Starts ONNX Runtime's pool threads, named `mono-depth-ort`, at low
/// priority when asked: on Apple platforms a thread does not inherit its
/// creator's QoS class, so lowering the worker alone leaves the pool at
/// the default.
pub(super) struct PoolThreads {
    pub(super) low_priority: bool,
}

impl ort::environment::ThreadManager for PoolThreads {
    type Thread = std::thread::JoinHandle<()>;

    fn create(&self, work: impl FnOnce() + Send + 'static) -> ort::Result<Self::Thread> {
        let low_priority = self.low_priority;
        std::thread::Builder::new()
            .name("mono-depth-ort".to_owned())
            .spawn(move || {
                if low_priority {
                    crate::threads::lower_priority();
                }
                work();
            })
            .map_err(|e| ort::Error::new(format!("could not start a thread: {e}")))
    }

    fn join(thread: Self::Thread) -> ort::Result<()> {
        thread
            .join()
            .map_err(|_| ort::Error::new("an ONNX Runtime thread panicked"))
    }
}
