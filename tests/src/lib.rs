//! Helpers that start real SSH peers on loopback for interop tests.
