//! The two client protocols of the Twisted Conch client how-to, written
//! once for `conch --demo` ([`crate::demo`]) and for the examples crate's
//! `echoclient_ssh` and `echoclient_shared_ssh`, which run them against a
//! server of the user's choosing.
//!
//! - [`echo`]: the echo client writing "bif", "pow", "zot" to `/bin/cat`.
//! - [`shared`]: 50 `/bin/echo N` commands on one shared connection.

pub mod echo;
pub mod shared;

/// The error type of the how-to's protocols: anything, with a message.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The name of the user running the program, from the environment as
/// OpenSSH's `ssh` finds it (`LOGNAME`, `USER` ...), else `root`: the
/// default remote user name.
pub fn current_user() -> String {
    ["LOGNAME", "USER", "LNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "root".to_string())
}
