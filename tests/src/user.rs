//! Who the tests log in as.
//!
//! - Public-key logins to [`crate::Sshd`] use the user running the tests
//!   ([`current_user`]; `root` in CI): sshd reads the test's own
//!   `AuthorizedKeysFile`, so nothing outside the temp dir is touched.
//! - Password and keyboard-interactive logins use the dedicated account
//!   [`TEST_USER`] with [`TEST_PASSWORD`], which `.ci/run` creates (root only
//!   can). Dropbear logins use it too (see [`crate::dropbear`] for why).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use crate::process::run_tool;

/// The account `.ci/run` creates for password logins and dropbear.
pub const TEST_USER: &str = "conch-test";

/// [`TEST_USER`]'s password, set by `.ci/run`.
pub const TEST_PASSWORD: &str = "conch-test-password";

/// The dedicated test account, checked to exist.
#[derive(Clone, Debug)]
pub struct TestUser {
    /// Login name ([`TEST_USER`]).
    pub name: String,
    /// Password ([`TEST_PASSWORD`]).
    pub password: String,
    /// Home directory from the password database.
    pub home: PathBuf,
    /// Numeric user id.
    pub uid: u32,
    /// Numeric primary group id.
    pub gid: u32,
}

/// The dedicated test account; panics with the fix if `.ci/run` has not
/// created it on this machine.
#[track_caller]
pub fn test_user() -> TestUser {
    let entry = passwd_entry(TEST_USER).unwrap_or_else(|| {
        panic!(
            "test user `{TEST_USER}` does not exist: run `bash .ci/run --setup-only` \
             as root (it creates the user with the password the tests expect)"
        )
    });
    let fields: Vec<&str> = entry.split(':').collect();
    let (Some(uid), Some(gid), Some(home)) = (fields.get(2), fields.get(3), fields.get(5)) else {
        panic!("unexpected passwd entry for {TEST_USER}: {entry}");
    };
    TestUser {
        name: TEST_USER.to_owned(),
        password: TEST_PASSWORD.to_owned(),
        home: PathBuf::from(home),
        uid: uid
            .parse()
            .unwrap_or_else(|_| panic!("bad uid in passwd entry: {entry}")),
        gid: gid
            .parse()
            .unwrap_or_else(|_| panic!("bad gid in passwd entry: {entry}")),
    }
}

/// The `getent passwd NAME` line, if the user exists.
fn passwd_entry(name: &str) -> Option<String> {
    let output = Command::new("getent")
        .args(["passwd", name])
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The name of the user running the tests.
pub fn current_user() -> String {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        run_tool(Command::new("id").arg("-un"))
            .stdout_text()
            .trim()
            .to_owned()
    })
    .clone()
}

/// Whether the tests run as root (as in CI).
pub fn is_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| run_tool(Command::new("id").arg("-u")).stdout_text().trim() == "0")
}
