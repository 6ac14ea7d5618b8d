//! No encryption and no MAC: what both directions use until the first
//! NEWKEYS (RFC 4253 section 6.3: "none" is the initial state, with an
//! implicit block size of 8).

use crate::crypto::{OpenError, PacketLayout, PacketOpener, PacketSealer};

/// Sends packets in the clear.
#[derive(Debug, Default)]
pub struct NoneSealer;

impl PacketSealer for NoneSealer {
    fn layout(&self) -> PacketLayout {
        PacketLayout::NONE
    }

    fn seal(&mut self, _seq: u32, _packet: &mut [u8]) {}
}

/// Reads packets in the clear.
#[derive(Debug, Default)]
pub struct NoneOpener;

impl PacketOpener for NoneOpener {
    fn layout(&self) -> PacketLayout {
        PacketLayout::NONE
    }

    fn decrypt_length(&mut self, _seq: u32, first_block: &mut [u8]) -> u32 {
        read_length(first_block)
    }

    fn open(&mut self, _seq: u32, _packet: &mut [u8]) -> Result<(), OpenError> {
        Ok(())
    }
}

/// The big-endian `uint32` at the start of `bytes` (0 if shorter, which the
/// caller never passes).
pub(crate) fn read_length(bytes: &[u8]) -> u32 {
    match bytes.get(..4) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    }
}
