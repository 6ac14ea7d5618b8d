//! The calling thread's CPU time, the clock the criterion benchmarks use
//! (`benches/benches/common/mod.rs`).
//!
//! Everything a benchmark here measures runs on one thread, so its CPU time
//! is its cost; unlike wall time it does not count the time the thread
//! waited for a core, which on a small machine shared with builds is most of
//! the noise.

use std::time::Duration;

/// CPU time consumed by the calling thread so far
/// (`CLOCK_THREAD_CPUTIME_ID`, POSIX `clock_gettime`).
///
/// # Panics
///
/// If the clock cannot be read, which POSIX systems do not do for this clock.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the
    // call, which is all `clock_gettime` requires.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_advances_with_work_and_not_with_sleep() {
        let start = thread_cpu_time();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        let worked = thread_cpu_time() - start;
        assert!(worked > Duration::ZERO, "no CPU time for {x}");
        let before_sleep = thread_cpu_time();
        std::thread::sleep(Duration::from_millis(50));
        let slept = thread_cpu_time() - before_sleep;
        assert!(
            slept < Duration::from_millis(25),
            "sleeping cost {slept:?} of CPU"
        );
    }
}
