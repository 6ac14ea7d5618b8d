//! Binaries of other workspace crates (`conch`, `conchd`) for tests in this
//! crate. Cargo only hands `CARGO_BIN_EXE_<name>` to tests of the crate that
//! owns the binary, so [`workspace_bin`] builds it with the same profile as
//! the running test and returns its path.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::process::{run_bounded, Input};

/// Longest `cargo build` of one binary.
const BUILD_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// The path of binary `bin` of workspace package `package`, built (or found
/// up to date) by `cargo build -p package --bin bin` with the test's own
/// profile and target dir, once per test process. Panics with cargo's output
/// if the build fails.
///
/// ```no_run
/// let conchd = conch_interop::workspace_bin("conch-cli", "conchd");
/// ```
#[track_caller]
pub fn workspace_bin(package: &str, bin: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    // Held across the build: one build at a time per process.
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get(bin) {
        return path.clone();
    }

    let test_exe = std::env::current_exe()
        .unwrap_or_else(|err| panic!("cannot find the running test binary: {err}"));
    // Tests run from <target>/<profile>/deps/<test>-<hash>.
    let profile_dir = test_exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("unexpected test binary path {}", test_exe.display()));
    let profile = match profile_dir.file_name().and_then(|name| name.to_str()) {
        Some("debug") => "dev".to_owned(),
        Some(other) => other.to_owned(),
        None => panic!("unexpected profile dir {}", profile_dir.display()),
    };
    let target_dir = profile_dir
        .parent()
        .unwrap_or_else(|| panic!("unexpected profile dir {}", profile_dir.display()));
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or_else(|| panic!("conch-interop is not inside the workspace"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());

    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "--profile", &profile, "-p", package, "--bin", bin])
        .arg("--target-dir")
        .arg(target_dir);
    let finished = run_bounded(&mut command, Input::Null, BUILD_TIMEOUT);
    if !finished.status.success() {
        finished.fail(&format!(
            "cannot build binary `{bin}` of package `{package}`"
        ));
    }
    let path = profile_dir.join(bin);
    if !path.is_file() {
        finished.fail(&format!("cargo built no {}", path.display()));
    }
    built.insert(bin.to_owned(), path.clone());
    path
}
