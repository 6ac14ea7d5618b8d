//! Encoded terminal modes, the `modes` string of a `pty-req`
//! (RFC 4254 section 8): opcode/argument pairs ended by `TTY_OP_END`.

use crate::wire::{DecodeError, Encode, Reader};

/// Ends the mode list.
pub const TTY_OP_END: u8 = 0;
/// The interrupt character (argument: the character, 255 for none).
pub const VINTR: u8 = 1;
/// The end-of-file character.
pub const VEOF: u8 = 5;
/// Map CR to NL on input.
pub const ICRNL: u8 = 36;
/// Enable signals from INTR, QUIT and SUSP.
pub const ISIG: u8 = 50;
/// Canonical (line-by-line) input.
pub const ICANON: u8 = 51;
/// Echo input characters.
pub const ECHO: u8 = 53;
/// Post-process output.
pub const OPOST: u8 = 70;
/// Map NL to CR-NL on output.
pub const ONLCR: u8 = 72;
/// 8-bit characters.
pub const CS8: u8 = 91;
/// Input baud rate.
pub const TTY_OP_ISPEED: u8 = 128;
/// Output baud rate.
pub const TTY_OP_OSPEED: u8 = 129;

/// The last opcode that takes a `uint32` argument; 160 and above are not
/// defined and stop parsing (RFC 4254 section 8).
const LAST_OPCODE_WITH_ARGUMENT: u8 = 159;

/// Encodes `(opcode, argument)` pairs followed by `TTY_OP_END`, for
/// [`crate::ChannelRequest::PtyReq`]'s `modes`. Opcodes outside 1..=159 have
/// no defined encoding and are left out.
pub fn encode_terminal_modes(modes: &[(u8, u32)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(modes.len() * 5 + 1);
    for &(opcode, argument) in modes {
        if (1..=LAST_OPCODE_WITH_ARGUMENT).contains(&opcode) {
            out.put_u8(opcode);
            out.put_u32(argument);
        }
    }
    out.put_u8(TTY_OP_END);
    out
}

/// Decodes an encoded mode list into `(opcode, argument)` pairs. Parsing
/// stops at `TTY_OP_END`, at an undefined opcode (160 and above), or at the
/// end of the input; a truncated argument is an error.
pub fn decode_terminal_modes(encoded: &[u8]) -> Result<Vec<(u8, u32)>, DecodeError> {
    let mut r = Reader::new(encoded);
    let mut modes = Vec::new();
    while !r.is_empty() {
        let opcode = r.u8()?;
        if opcode == TTY_OP_END || opcode > LAST_OPCODE_WITH_ARGUMENT {
            break;
        }
        modes.push((opcode, r.u32()?));
    }
    Ok(modes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_round_trip_and_end_with_tty_op_end() {
        let modes = [(ECHO, 0), (TTY_OP_OSPEED, 38400), (VINTR, 3)];
        let encoded = encode_terminal_modes(&modes);
        assert_eq!(encoded.len(), 3 * 5 + 1);
        assert_eq!(encoded.last(), Some(&TTY_OP_END));
        assert_eq!(&encoded[..5], &[53, 0, 0, 0, 0]);
        assert_eq!(decode_terminal_modes(&encoded).unwrap(), modes);
    }

    #[test]
    fn undefined_opcodes_stop_parsing_and_truncation_is_an_error() {
        assert_eq!(
            decode_terminal_modes(&[ECHO, 0, 0, 0, 1, 200, 1, 2]).unwrap(),
            [(ECHO, 1)]
        );
        assert!(decode_terminal_modes(&[ECHO, 0, 0]).is_err());
        assert_eq!(encode_terminal_modes(&[(0, 5), (200, 1)]), [TTY_OP_END]);
    }
}
