//! A counting global allocator: wraps [`System`] and counts the heap
//! allocations the *current thread* makes inside [`count`], so the test
//! harness's other threads do not disturb the figure.
//!
//! Install it in a test or bench binary with
//! `#[global_allocator] static A: CountingAllocator = CountingAllocator;`.
//! [`count_traced`] also keeps a backtrace of every allocation counted, to
//! find where a steady state allocates.

use std::alloc::{GlobalAlloc, Layout, System};
use std::backtrace::Backtrace;
use std::cell::Cell;
use std::sync::Mutex;

/// A [`GlobalAlloc`] that forwards to [`System`] and counts.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAllocator;

/// Allocations one thread made while counting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllocCounts {
    /// `alloc` and `alloc_zeroed` calls.
    pub allocs: u64,
    /// `realloc` calls (a growing `Vec` is one each time it moves).
    pub reallocs: u64,
    /// Bytes requested by those calls.
    pub bytes: u64,
}

impl AllocCounts {
    /// Allocations of either kind.
    pub fn total(&self) -> u64 {
        self.allocs + self.reallocs
    }
}

thread_local! {
    // `const` initialisers without destructors: reading them never allocates,
    // which matters inside an allocator.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static TRACING: Cell<bool> = const { Cell::new(false) };
    static IN_TRACE: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    static REALLOCS: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<u64> = const { Cell::new(0) };
}

/// Backtraces taken by [`count_traced`].
static TRACES: Mutex<Vec<Backtrace>> = Mutex::new(Vec::new());

fn record(counter: &'static std::thread::LocalKey<Cell<u64>>, size: usize) {
    let counting = COUNTING.try_with(Cell::get).unwrap_or(false);
    let in_trace = IN_TRACE.try_with(Cell::get).unwrap_or(true);
    if !counting || in_trace {
        return;
    }
    let _ = counter.try_with(|c| c.set(c.get() + 1));
    let _ = BYTES.try_with(|c| c.set(c.get() + size as u64));
    if TRACING.try_with(Cell::get).unwrap_or(false) {
        // Capturing allocates: keep those allocations out of the count and
        // out of the trace.
        IN_TRACE.with(|t| t.set(true));
        let bt = Backtrace::force_capture();
        if let Ok(mut traces) = TRACES.lock() {
            traces.push(bt);
        }
        IN_TRACE.with(|t| t.set(false));
    }
}

// SAFETY: every method forwards to `System` with the same arguments, so the
// `GlobalAlloc` contract holds exactly as it does for `System`; the counting
// only touches thread-local cells that never allocate.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(&ALLOCS, layout.size());
        // SAFETY: forwarded unchanged, see above.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(&ALLOCS, layout.size());
        // SAFETY: forwarded unchanged, see above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged, see above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(&REALLOCS, new_size);
        // SAFETY: forwarded unchanged, see above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f` and returns what it allocated on this thread. Only meaningful
/// when [`CountingAllocator`] is the global allocator (otherwise all zero).
pub fn count<T>(f: impl FnOnce() -> T) -> (T, AllocCounts) {
    for c in [&ALLOCS, &REALLOCS, &BYTES] {
        c.with(|c| c.set(0));
    }
    COUNTING.with(|c| c.set(true));
    let out = f();
    COUNTING.with(|c| c.set(false));
    let counts = AllocCounts {
        allocs: ALLOCS.with(Cell::get),
        reallocs: REALLOCS.with(Cell::get),
        bytes: BYTES.with(Cell::get),
    };
    (out, counts)
}

/// As [`count`], with a backtrace of every allocation counted.
pub fn count_traced<T>(f: impl FnOnce() -> T) -> (T, AllocCounts, Vec<Backtrace>) {
    if let Ok(mut t) = TRACES.lock() {
        t.clear();
    }
    TRACING.with(|t| t.set(true));
    let (out, counts) = count(f);
    TRACING.with(|t| t.set(false));
    let traces = TRACES
        .lock()
        .map(|mut t| std::mem::take(&mut *t))
        .unwrap_or_default();
    (out, counts, traces)
}
