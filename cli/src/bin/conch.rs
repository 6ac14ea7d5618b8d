//! `conch`: an ssh-like client (see `conch_cli::client`), and `conch --demo`.

fn main() {
    let code = conch_cli::client::main(std::env::args_os().skip(1));
    // Exit at once: a thread may still be blocked reading stdin.
    std::process::exit(code);
}
