//! What every benchmark here shares: criterion measuring the thread's CPU
//! time instead of wall time (see `conch_benches::cpu_clock`).

use std::time::Duration;

use conch_benches::cpu_clock::thread_cpu_time;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::Criterion;

/// Criterion's measurement of the benchmark thread's CPU time, in
/// nanoseconds like its wall clock, so reports read the same.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadCpuTime;

/// Wall time's formatter prints nanoseconds as durations and throughputs;
/// CPU time is in the same unit.
static DURATION_FORMAT: WallTime = WallTime;

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_time()
    }

    fn end(&self, start: Duration) -> Duration {
        thread_cpu_time().saturating_sub(start)
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        DURATION_FORMAT.formatter()
    }
}

/// The criterion every benchmark here runs with.
pub fn criterion() -> Criterion<ThreadCpuTime> {
    Criterion::default().with_measurement(ThreadCpuTime)
}
