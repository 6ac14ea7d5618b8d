//! Encoded terminal modes, the `modes` string of a `pty-req`
//! (RFC 4254 section 8): opcode/argument pairs ended by `TTY_OP_END`.

use crate::wire::{DecodeError, Encode, Reader};

/// Ends the mode list.
pub const TTY_OP_END: u8 = 0;
/// The interrupt character (argument: the character, 255 for none).
pub const VINTR: u8 = 1;
/// The quit character (SIGQUIT).
pub const VQUIT: u8 = 2;
/// Erase the character to the left of the cursor.
pub const VERASE: u8 = 3;
/// Kill the current input line.
pub const VKILL: u8 = 4;
/// The end-of-file character.
pub const VEOF: u8 = 5;
/// End-of-line character in addition to carriage return and/or line feed.
pub const VEOL: u8 = 6;
/// Additional end-of-line character.
pub const VEOL2: u8 = 7;
/// Continue paused output (normally control-Q).
pub const VSTART: u8 = 8;
/// Pause output (normally control-S).
pub const VSTOP: u8 = 9;
/// Suspend the current program.
pub const VSUSP: u8 = 10;
/// Another suspend character.
pub const VDSUSP: u8 = 11;
/// Reprint the current input line.
pub const VREPRINT: u8 = 12;
/// Erase a word left of the cursor.
pub const VWERASE: u8 = 13;
/// Enter the next character typed literally.
pub const VLNEXT: u8 = 14;
/// Character to flush output.
pub const VFLUSH: u8 = 15;
/// Switch to a different shell layer.
pub const VSWTCH: u8 = 16;
/// Print a system status line.
pub const VSTATUS: u8 = 17;
/// Toggle the flushing of terminal output.
pub const VDISCARD: u8 = 18;
/// Ignore parity errors.
pub const IGNPAR: u8 = 30;
/// Mark parity and framing errors.
pub const PARMRK: u8 = 31;
/// Enable checking of parity errors.
pub const INPCK: u8 = 32;
/// Strip the 8th bit off characters.
pub const ISTRIP: u8 = 33;
/// Map NL into CR on input.
pub const INLCR: u8 = 34;
/// Ignore CR on input.
pub const IGNCR: u8 = 35;
/// Map CR to NL on input.
pub const ICRNL: u8 = 36;
/// Translate uppercase characters to lowercase.
pub const IUCLC: u8 = 37;
/// Enable output flow control.
pub const IXON: u8 = 38;
/// Any character restarts output after a stop.
pub const IXANY: u8 = 39;
/// Enable input flow control.
pub const IXOFF: u8 = 40;
/// Ring the bell on input queue full.
pub const IMAXBEL: u8 = 41;
/// The terminal input and output are UTF-8 (RFC 8160).
pub const IUTF8: u8 = 42;
/// Enable signals from INTR, QUIT and SUSP.
pub const ISIG: u8 = 50;
/// Canonical (line-by-line) input.
pub const ICANON: u8 = 51;
/// Upper/lowercase presentation with a backslash.
pub const XCASE: u8 = 52;
/// Echo input characters.
pub const ECHO: u8 = 53;
/// Visually erase characters.
pub const ECHOE: u8 = 54;
/// Kill character discards the current line.
pub const ECHOK: u8 = 55;
/// Echo NL even if ECHO is off.
pub const ECHONL: u8 = 56;
/// No flushing after interrupt.
pub const NOFLSH: u8 = 57;
/// Stop background jobs writing to the terminal.
pub const TOSTOP: u8 = 58;
/// Enable extensions.
pub const IEXTEN: u8 = 59;
/// Echo control characters as ^(Char).
pub const ECHOCTL: u8 = 60;
/// Visual erase for line kill.
pub const ECHOKE: u8 = 61;
/// Retype pending input.
pub const PENDIN: u8 = 62;
/// Post-process output.
pub const OPOST: u8 = 70;
/// Convert lowercase to uppercase on output.
pub const OLCUC: u8 = 71;
/// Map NL to CR-NL on output.
pub const ONLCR: u8 = 72;
/// Translate CR to NL on output.
pub const OCRNL: u8 = 73;
/// No CR output at column 0.
pub const ONOCR: u8 = 74;
/// NL performs the CR function.
pub const ONLRET: u8 = 75;
/// 7-bit characters.
pub const CS7: u8 = 90;
/// 8-bit characters.
pub const CS8: u8 = 91;
/// Parity enable.
pub const PARENB: u8 = 92;
/// Odd parity, else even.
pub const PARODD: u8 = 93;
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
