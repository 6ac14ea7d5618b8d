//! Conch over tokio (work in progress).
