//! A minimal executor for one future on the current thread, parking while it
//! waits: how blocking code (the `conch-blocking` adapter, command runner
//! threads) waits on the driver's futures.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Instant;

struct ThreadWaker {
    thread: Thread,
    notified: AtomicBool,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.notified.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// A waker that unparks the current thread, and a flag telling whether it
/// was woken since the flag was last cleared.
pub fn thread_waker() -> (Waker, impl Fn() -> bool) {
    let inner = Arc::new(ThreadWaker {
        thread: thread::current(),
        notified: AtomicBool::new(false),
    });
    let flag = inner.clone();
    (Waker::from(inner), move || {
        flag.notified.swap(false, Ordering::Acquire)
    })
}

/// Runs `future` to completion on this thread.
pub fn block_on<F: Future>(future: F) -> F::Output {
    match block_on_until(future, None) {
        Some(out) => out,
        None => unreachable!("no deadline was given"),
    }
}

/// Runs `future` until it completes or `deadline` passes (`None`).
pub fn block_on_until<F: Future>(future: F, deadline: Option<Instant>) -> Option<F::Output> {
    let (waker, take_notified) = thread_waker();
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return Some(out);
        }
        // A wake during the poll means "poll again" at once.
        while !take_notified() {
            match deadline {
                None => thread::park(),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return None;
                    }
                    thread::park_timeout(d - now);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn block_on_runs_a_future_woken_from_another_thread() {
        let (tx, rx) = std::sync::mpsc::channel::<Waker>();
        let done = Arc::new(AtomicBool::new(false));
        let d2 = done.clone();
        let t = thread::spawn(move || {
            let w = rx.recv().unwrap();
            thread::sleep(Duration::from_millis(20));
            d2.store(true, Ordering::Release);
            w.wake();
        });
        let mut sent = Some(tx);
        let out = block_on(std::future::poll_fn(|cx| {
            if done.load(Ordering::Acquire) {
                return Poll::Ready(7);
            }
            if let Some(tx) = sent.take() {
                tx.send(cx.waker().clone()).unwrap();
            }
            Poll::Pending
        }));
        assert_eq!(out, 7);
        t.join().unwrap();
    }

    #[test]
    fn block_on_until_gives_up_at_the_deadline() {
        let start = Instant::now();
        let r = block_on_until(
            std::future::pending::<()>(),
            Some(start + Duration::from_millis(30)),
        );
        assert!(r.is_none());
        assert!(start.elapsed() >= Duration::from_millis(30));
    }
}
