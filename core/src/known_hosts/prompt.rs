//! What a user is shown about host keys, worded as OpenSSH's `ssh` words it
//! (so users recognise it and scripts that grep for it keep working), and the
//! reading of their answer. Pure text: a console UI elsewhere does the
//! terminal I/O.

use core::net::IpAddr;

use super::host_name;
use crate::keys::PublicKey;

/// Shown again when an answer was neither yes, no, nor the fingerprint.
pub const ASK_AGAIN_PROMPT: &str = "Please type 'yes', 'no' or the fingerprint: ";

/// The banner OpenSSH frames its host-key alarms with.
const RULE: &str = "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@";

/// The key type as `ssh` names it in messages: `ED25519`, `RSA`, `ECDSA`...
pub fn key_type_label(key: &PublicKey) -> String {
    // A certificate as OpenSSH labels it: its key's label and "-CERT".
    if key.certificate().is_some() {
        return format!("{}-CERT", key_type_label(&key.plain_key()));
    }
    let algorithm = key.algorithm();
    let label = match algorithm.as_str() {
        "ssh-ed25519" => "ED25519",
        "ssh-rsa" => "RSA",
        "ssh-dss" => "DSA",
        "sk-ssh-ed25519@openssh.com" => "ED25519-SK",
        a if a.starts_with("sk-ecdsa-sha2-") => "ECDSA-SK",
        a if a.starts_with("ecdsa-sha2-") => "ECDSA",
        _ => return algorithm,
    };
    label.to_string()
}

/// The question asked about a host that is not in known_hosts, ending with
/// the prompt (no newline): "The authenticity of host 'HOST (IP)' can't be
/// established. ED25519 key fingerprint is SHA256:.... Are you sure you want
/// to continue connecting (yes/no/\[fingerprint\])? ". `other_types_known`
/// adds OpenSSH's note that keys of other types are known for the host
/// (after [`super::Verdict::Unknown`], that is when
/// [`super::KnownHosts::host_keys`] is not empty).
pub fn unknown_host_prompt(
    host: &str,
    port: u16,
    ip: Option<IpAddr>,
    key: &PublicKey,
    other_types_known: bool,
) -> String {
    let name = host_name(host, port);
    let shown = match ip {
        Some(ip) => format!("{name} ({})", host_name(&ip.to_string(), port)),
        None => name,
    };
    let established = if other_types_known {
        "\nbut keys of different type are already known for this host."
    } else {
        "."
    };
    format!(
        "The authenticity of host '{shown}' can't be established{established}\n\
         {} key fingerprint is {}.\n\
         Are you sure you want to continue connecting (yes/no/[fingerprint])? ",
        key_type_label(key),
        key.fingerprint(),
    )
}

/// The alarm for [`super::Verdict::Changed`]: the server sent `key`, but
/// `file` line `line` holds another key of that type. Ends by saying the
/// connection is refused, since Conch never lets a UI override this.
pub fn changed_key_warning(
    host: &str,
    port: u16,
    key: &PublicKey,
    file: &str,
    line: usize,
) -> String {
    let label = key_type_label(key);
    format!(
        "{RULE}\n\
         @    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n\
         {RULE}\n\
         IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\n\
         Someone could be eavesdropping on you right now (man-in-the-middle attack)!\n\
         It is also possible that a host key has just been changed.\n\
         The fingerprint for the {label} key sent by the remote host is\n\
         {}.\n\
         Please contact your system administrator.\n\
         Add correct host key in {file} to get rid of this message.\n\
         Offending {label} key in {file}:{line}\n\
         Host key for {} has changed and you have requested strict checking.\n\
         Host key verification failed.\n",
        key.fingerprint(),
        host_name(host, port),
    )
}

/// The alarm for [`super::Verdict::Revoked`].
pub fn revoked_key_warning(host: &str, port: u16, key: &PublicKey) -> String {
    let label = key_type_label(key);
    let name = host_name(host, port);
    format!(
        "{RULE}\n\
         @       WARNING: REVOKED HOST KEY DETECTED!               @\n\
         {RULE}\n\
         The {label} host key for {name} is marked as revoked.\n\
         This could mean that a stolen key is being used to\n\
         impersonate this host.\n\
         {label} host key for {name} was revoked and you have requested strict checking.\n\
         Host key verification failed.\n"
    )
}

/// The notice after a new host was added.
pub fn host_added_warning(host: &str, port: u16, key: &PublicKey) -> String {
    format!(
        "Warning: Permanently added '{}' ({}) to the list of known hosts.\n",
        host_name(host, port),
        key_type_label(key)
    )
}

/// The notice after [`super::Verdict::KnownNewIp`] added the address.
pub fn ip_added_warning(ip: IpAddr, port: u16, key: &PublicKey) -> String {
    format!(
        "Warning: Permanently added the {} host key for IP address '{}' to the list of known hosts.\n",
        key_type_label(key),
        host_name(&ip.to_string(), port)
    )
}

/// The warning for [`super::Verdict::KnownIpMismatch`]. OpenSSH follows it
/// with "Are you sure you want to continue connecting (yes/no)? " when it
/// asks, and refuses under strict checking.
pub fn ip_mismatch_warning(
    host: &str,
    port: u16,
    ip: IpAddr,
    key: &PublicKey,
    file: &str,
    line: usize,
    ip_line: usize,
) -> String {
    format!(
        "Warning: the {} host key for '{}' differs from the key for the IP address '{}'\n\
         Offending key for IP in {file}:{ip_line}\n\
         Matching host key in {file}:{line}\n",
        key_type_label(key),
        host_name(host, port),
        host_name(&ip.to_string(), port),
    )
}

/// A user's answer to [`unknown_host_prompt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// "yes" in any case, or the key's own fingerprint pasted back.
    Yes,
    /// "no" in any case, or an empty line (OpenSSH's default is no).
    No,
    /// Anything else: show [`ASK_AGAIN_PROMPT`] and read again.
    AskAgain,
}

/// Reads one line typed in answer to [`unknown_host_prompt`] for `key`.
/// Surrounding blanks are ignored; the end of input should be taken as
/// [`Answer::No`] by the caller.
pub fn parse_answer(answer: &str, key: &PublicKey) -> Answer {
    let answer = answer.trim_matches([' ', '\t', '\r', '\n']);
    if answer.is_empty() || answer.eq_ignore_ascii_case("no") {
        Answer::No
    } else if answer.eq_ignore_ascii_case("yes") || answer == key.fingerprint() {
        Answer::Yes
    } else {
        Answer::AskAgain
    }
}
