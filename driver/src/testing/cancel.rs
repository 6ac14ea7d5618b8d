//! Dropping a call's future at each of its await points in turn.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A future that gives up on `future` at its `pendings + 1`-th `Pending`:
/// resolves to `None` there (and drops it), or to `Some(output)` if it
/// finished first. Running a call under `cancel_after(.., k)` for k = 0,
/// 1, 2, ... drops it at each of its await points in turn.
pub fn cancel_after<F: Future>(future: F, pendings: usize) -> CancelAfter<F> {
    CancelAfter {
        future: Some(Box::pin(future)),
        pendings_left: pendings,
    }
}

/// See [`cancel_after`].
pub struct CancelAfter<F> {
    future: Option<Pin<Box<F>>>,
    pendings_left: usize,
}

impl<F> std::fmt::Debug for CancelAfter<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelAfter")
            .field("pendings_left", &self.pendings_left)
            .finish_non_exhaustive()
    }
}

impl<F: Future> Future for CancelAfter<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        use Poll;
        let Some(future) = self.future.as_mut() else {
            return Poll::Ready(None);
        };
        if let Poll::Ready(out) = future.as_mut().poll(cx) {
            self.future = None;
            return Poll::Ready(Some(out));
        }
        if self.pendings_left == 0 {
            // Dropped here, at its await point, as `select!` would.
            self.future = None;
            return Poll::Ready(None);
        }
        self.pendings_left -= 1;
        Poll::Pending
    }
}

/// Runs `call` on fresh sessions made by `session`, dropping it at its
/// first, second, ... await point until it completes (at most 200); after
/// each run `check` gets the session (then it is dropped). Returns how
/// many await points the call had. Bound the whole run with a timer.
pub async fn drop_at_every_await_point<S, Make, MakeFut, Call, CallFut, Check, CheckFut>(
    mut session: Make,
    mut call: Call,
    mut check: Check,
) -> usize
where
    S: Clone,
    Make: FnMut() -> MakeFut,
    MakeFut: Future<Output = S>,
    Call: FnMut(S) -> CallFut,
    CallFut: Future<Output = ()>,
    Check: FnMut(S) -> CheckFut,
    CheckFut: Future<Output = ()>,
{
    for k in 0..200 {
        let session = session().await;
        let finished = cancel_after(call(session.clone()), k).await.is_some();
        check(session).await;
        if finished {
            return k;
        }
    }
    panic!("the call never finished");
}
