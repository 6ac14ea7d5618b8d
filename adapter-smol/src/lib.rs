//! Conch over smol (work in progress).
