//! Blocking work (an agent's socket, a user typing a password) kept off
//! the runtime's threads, in any runtime.

use std::future::{poll_fn, Future};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

/// Runs `work` on a new thread; the future resolves with its result (in any
/// runtime: the thread wakes the waiting task), or `None` if no thread could
/// be started.
pub(crate) fn run_on_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> impl Future<Output = Option<T>> + Send {
    struct Slot<T> {
        result: Option<T>,
        waker: Option<Waker>,
        finished: bool,
    }
    let slot = Arc::new(Mutex::new(Slot {
        result: None,
        waker: None,
        finished: false,
    }));
    let spawned = {
        let slot = slot.clone();
        std::thread::Builder::new()
            .name("conch-agent".into())
            .spawn(move || {
                let result = work();
                let mut s = slot.lock().unwrap_or_else(|e| e.into_inner());
                s.result = Some(result);
                s.finished = true;
                if let Some(w) = s.waker.take() {
                    w.wake();
                }
            })
    };
    let failed_to_spawn = spawned.is_err();
    poll_fn(move |cx| {
        let mut s = slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(result) = s.result.take() {
            return Poll::Ready(Some(result));
        }
        if failed_to_spawn || s.finished {
            return Poll::Ready(None);
        }
        s.waker = Some(cx.waker().clone());
        Poll::Pending
    })
}
