//! Conch over blocking (work in progress).
