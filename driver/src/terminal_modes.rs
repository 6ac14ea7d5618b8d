//! Terminal modes (RFC 4254 section 8) to and from a POSIX `termios`: what
//! a server applies to the pseudo-terminal it allocates for a `pty-req`,
//! and what a client reads from its own terminal to send in one.
//!
//! One table maps each opcode to its `termios` flag or special character,
//! so both directions agree. Opcodes this system has no flag for are
//! skipped both ways (the RFC lets a server ignore what it does not know).

use conch_core::channel::modes as op;
use rustix::termios::{
    ControlModes, InputModes, LocalModes, OutputModes, SpecialCodeIndex, Termios,
};

/// A character argument meaning "disabled" (RFC 4254 section 8: 255).
const DISABLED: u32 = 255;
/// `_POSIX_VDISABLE` on Linux and the BSDs: a special character that is off.
const POSIX_VDISABLE: u8 = 0;

/// Special characters: opcode and `c_cc` index.
const CHARS: &[(u8, SpecialCodeIndex)] = &[
    (op::VINTR, SpecialCodeIndex::VINTR),
    (op::VQUIT, SpecialCodeIndex::VQUIT),
    (op::VERASE, SpecialCodeIndex::VERASE),
    (op::VKILL, SpecialCodeIndex::VKILL),
    (op::VEOF, SpecialCodeIndex::VEOF),
    (op::VEOL, SpecialCodeIndex::VEOL),
    (op::VEOL2, SpecialCodeIndex::VEOL2),
    (op::VSTART, SpecialCodeIndex::VSTART),
    (op::VSTOP, SpecialCodeIndex::VSTOP),
    (op::VSUSP, SpecialCodeIndex::VSUSP),
    (op::VREPRINT, SpecialCodeIndex::VREPRINT),
    (op::VWERASE, SpecialCodeIndex::VWERASE),
    (op::VLNEXT, SpecialCodeIndex::VLNEXT),
    (op::VDISCARD, SpecialCodeIndex::VDISCARD),
];

/// A flag in one of the four `termios` mode words.
#[derive(Clone, Copy)]
enum Flag {
    Input(InputModes),
    Output(OutputModes),
    Control(ControlModes),
    Local(LocalModes),
}

/// Boolean modes: opcode and flag.
const FLAGS: &[(u8, Flag)] = &[
    (op::IGNPAR, Flag::Input(InputModes::IGNPAR)),
    (op::PARMRK, Flag::Input(InputModes::PARMRK)),
    (op::INPCK, Flag::Input(InputModes::INPCK)),
    (op::ISTRIP, Flag::Input(InputModes::ISTRIP)),
    (op::INLCR, Flag::Input(InputModes::INLCR)),
    (op::IGNCR, Flag::Input(InputModes::IGNCR)),
    (op::ICRNL, Flag::Input(InputModes::ICRNL)),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    (op::IUCLC, Flag::Input(InputModes::IUCLC)),
    (op::IXON, Flag::Input(InputModes::IXON)),
    (op::IXANY, Flag::Input(InputModes::IXANY)),
    (op::IXOFF, Flag::Input(InputModes::IXOFF)),
    (op::IMAXBEL, Flag::Input(InputModes::IMAXBEL)),
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "macos"))]
    (op::IUTF8, Flag::Input(InputModes::IUTF8)),
    (op::ISIG, Flag::Local(LocalModes::ISIG)),
    (op::ICANON, Flag::Local(LocalModes::ICANON)),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    (op::XCASE, Flag::Local(LocalModes::XCASE)),
    (op::ECHO, Flag::Local(LocalModes::ECHO)),
    (op::ECHOE, Flag::Local(LocalModes::ECHOE)),
    (op::ECHOK, Flag::Local(LocalModes::ECHOK)),
    (op::ECHONL, Flag::Local(LocalModes::ECHONL)),
    (op::NOFLSH, Flag::Local(LocalModes::NOFLSH)),
    (op::TOSTOP, Flag::Local(LocalModes::TOSTOP)),
    (op::IEXTEN, Flag::Local(LocalModes::IEXTEN)),
    (op::ECHOCTL, Flag::Local(LocalModes::ECHOCTL)),
    (op::ECHOKE, Flag::Local(LocalModes::ECHOKE)),
    (op::PENDIN, Flag::Local(LocalModes::PENDIN)),
    (op::OPOST, Flag::Output(OutputModes::OPOST)),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    (op::OLCUC, Flag::Output(OutputModes::OLCUC)),
    (op::ONLCR, Flag::Output(OutputModes::ONLCR)),
    (op::OCRNL, Flag::Output(OutputModes::OCRNL)),
    (op::ONOCR, Flag::Output(OutputModes::ONOCR)),
    (op::ONLRET, Flag::Output(OutputModes::ONLRET)),
    (op::PARENB, Flag::Control(ControlModes::PARENB)),
    (op::PARODD, Flag::Control(ControlModes::PARODD)),
];

impl Flag {
    fn get(self, t: &Termios) -> bool {
        match self {
            Flag::Input(f) => t.input_modes.contains(f),
            Flag::Output(f) => t.output_modes.contains(f),
            Flag::Control(f) => t.control_modes.contains(f),
            Flag::Local(f) => t.local_modes.contains(f),
        }
    }

    fn set(self, t: &mut Termios, on: bool) {
        match self {
            Flag::Input(f) => t.input_modes.set(f, on),
            Flag::Output(f) => t.output_modes.set(f, on),
            Flag::Control(f) => t.control_modes.set(f, on),
            Flag::Local(f) => t.local_modes.set(f, on),
        }
    }
}

/// Applies decoded modes (`conch_core::channel_modes::decode_terminal_modes`)
/// to `termios`, as sshd's `tty_parse_modes` does: each known opcode sets
/// its character or flag, CS7/CS8 the character size, the speeds the
/// baud rates (an unsupported rate is ignored); unknown opcodes are ignored.
pub fn apply_terminal_modes(termios: &mut Termios, modes: &[(u8, u32)]) {
    for &(opcode, argument) in modes {
        if let Some(&(_, index)) = CHARS.iter().find(|(o, _)| *o == opcode) {
            termios.special_codes[index] = if argument == DISABLED {
                POSIX_VDISABLE
            } else {
                // A character is one byte; larger values are not characters.
                u8::try_from(argument).unwrap_or(POSIX_VDISABLE)
            };
        } else if let Some(&(_, flag)) = FLAGS.iter().find(|(o, _)| *o == opcode) {
            flag.set(termios, argument != 0);
        } else {
            match opcode {
                op::CS7 | op::CS8 if argument != 0 => {
                    termios.control_modes.remove(ControlModes::CSIZE);
                    termios.control_modes.insert(if opcode == op::CS7 {
                        ControlModes::CS7
                    } else {
                        ControlModes::CS8
                    });
                }
                op::TTY_OP_ISPEED => {
                    let _ = termios.set_input_speed(argument);
                }
                op::TTY_OP_OSPEED => {
                    let _ = termios.set_output_speed(argument);
                }
                _ => {}
            }
        }
    }
}

/// The modes of `termios` as `(opcode, argument)` pairs, the way ssh's
/// `tty_make_modes` sends its terminal's: the speeds, every special
/// character (255 when disabled) and every flag this system has.
pub fn terminal_modes(termios: &Termios) -> Vec<(u8, u32)> {
    let mut modes = vec![
        (op::TTY_OP_ISPEED, termios.input_speed()),
        (op::TTY_OP_OSPEED, termios.output_speed()),
    ];
    for &(opcode, index) in CHARS {
        let c = termios.special_codes[index];
        let argument = if c == POSIX_VDISABLE {
            DISABLED
        } else {
            u32::from(c)
        };
        modes.push((opcode, argument));
    }
    for &(opcode, flag) in FLAGS {
        modes.push((opcode, u32::from(flag.get(termios))));
    }
    let size = termios.control_modes & ControlModes::CSIZE;
    modes.push((op::CS7, u32::from(size == ControlModes::CS7)));
    modes.push((op::CS8, u32::from(size == ControlModes::CS8)));
    modes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A terminal's settings, from a fresh pseudo-terminal.
    fn fresh_termios() -> Termios {
        let (_pty, pts) = pty_process::blocking::open().unwrap();
        rustix::termios::tcgetattr(&pts).unwrap()
    }

    #[test]
    fn modes_read_from_a_terminal_apply_back_to_the_same_settings() {
        let mut original = fresh_termios();
        original.local_modes.remove(LocalModes::ECHO);
        original.special_codes[SpecialCodeIndex::VINTR] = 7;
        original.special_codes[SpecialCodeIndex::VEOL] = POSIX_VDISABLE;
        let modes = terminal_modes(&original);
        assert!(modes.contains(&(op::ECHO, 0)));
        assert!(modes.contains(&(op::VINTR, 7)));
        assert!(modes.contains(&(op::VEOL, DISABLED)));
        let mut other = fresh_termios();
        apply_terminal_modes(&mut other, &modes);
        assert_eq!(terminal_modes(&other), modes);
    }

    #[test]
    fn sshd_style_parsing_sets_flags_characters_size_and_ignores_the_unknown() {
        let mut t = fresh_termios();
        apply_terminal_modes(
            &mut t,
            &[
                (op::ECHO, 0),
                (op::ICANON, 1),
                (op::VERASE, 8),
                (op::VKILL, DISABLED),
                (op::VQUIT, 0x1234),
                (op::CS7, 1),
                (op::TTY_OP_OSPEED, 9600),
                // Undefined by the RFC.
                (19, 1),
                (159, 1),
            ],
        );
        assert!(!t.local_modes.contains(LocalModes::ECHO));
        assert!(t.local_modes.contains(LocalModes::ICANON));
        assert_eq!(t.special_codes[SpecialCodeIndex::VERASE], 8);
        assert_eq!(t.special_codes[SpecialCodeIndex::VKILL], POSIX_VDISABLE);
        assert_eq!(t.special_codes[SpecialCodeIndex::VQUIT], POSIX_VDISABLE);
        assert_eq!(t.control_modes & ControlModes::CSIZE, ControlModes::CS7);
        assert_eq!(t.output_speed(), 9600);
    }
}
