//! # conch-benches
//!
//! In-process benchmarks of Conch (issue 5), and the small driver they share:
//!
//! - [`pair`]: a client and a server [`conch_core::Connection`] joined in
//!   memory: `conch-test-support`'s pair in its zero-copy mode;
//! - [`apps`]: the scripted applications on each end;
//! - [`scenario`]: a connected pair with exec'd sessions and a bulk
//!   download through them, and a whole session end to end;
//! - [`packet`]: one framed packet per provider cipher, and the raw AEAD
//!   call it is compared with;
//! - [`alloc_counter`]: a counting global allocator for the steady-state
//!   allocation test;
//! - [`cpu_clock`]: the thread CPU clock the benchmarks measure with.
//!
//! The criterion benchmarks live in `benches/benches/`, the allocation test
//! in `benches/tests/`; `BENCHMARKS.md` at the repository root has the
//! figures and how to reproduce them.
#![warn(missing_docs)]

pub mod alloc_counter;
pub mod apps;
pub mod cpu_clock;
pub mod packet;
pub mod pair;
pub mod scenario;

pub use alloc_counter::{AllocCounts, CountingAllocator};
pub use apps::{BenchClient, BenchServer, ExecBehaviour, Login};
pub use pair::{in_memory_pair, InMemoryPair};
pub use scenario::{whole_session, Connected, Fixture, LoginKind};
