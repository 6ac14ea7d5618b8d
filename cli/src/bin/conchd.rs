//! `conchd`: a small SSH server for tests and demos (see `conch_cli::daemon`).

fn main() -> std::process::ExitCode {
    conch_cli::daemon::main(std::env::args_os().skip(1))
}
