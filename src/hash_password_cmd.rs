//! `edgekit hash-password`: the hash a `basic-auth` block's `users` holds, so that a
//! declaration never holds a password.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::process::ExitCode;

use clap::Args;
use edge_functions::blocks::basic_auth::{DEFAULT_ITERATIONS, PasswordHash};

/// Reads a password on standard input (one line; never as an argument, which the process list
/// and the shell's history would keep) and prints its salted PBKDF2-HMAC-SHA256 hash, for a
/// `basic-auth` block: `users = { editor = "<hash>" }`.
#[derive(Args)]
#[command(after_help = "Example:\n  printf '%s' \"$STAGING_PASSWORD\" | edgekit hash-password")]
pub struct HashPasswordArgs {
    /// Rounds of the derivation: more cost a guesser more, and an edge instance more on a
    /// visitor's first request (1,000 to 1,000,000)
    #[arg(long, default_value_t = DEFAULT_ITERATIONS)]
    iterations: u32,
}

pub fn hash_password(args: HashPasswordArgs) -> ExitCode {
    if !(1_000..=1_000_000).contains(&args.iterations) {
        eprintln!("error: --iterations must be 1,000 to 1,000,000");
        return ExitCode::from(2);
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password (shown as typed; pipe it in to keep it off the screen): ");
        let _ = std::io::stderr().flush();
    }
    let mut password = String::new();
    if let Err(err) = stdin.lock().read_line(&mut password) {
        eprintln!("error: cannot read the password: {err}");
        return ExitCode::FAILURE;
    }
    let password = password.strip_suffix('\n').unwrap_or(&password);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        eprintln!("error: the password is empty");
        return ExitCode::from(2);
    }
    let mut salt = [0u8; 16];
    if let Err(err) = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut salt))
    {
        eprintln!("error: cannot read random bytes for the salt: {err}");
        return ExitCode::FAILURE;
    }
    println!("{}", PasswordHash::new(password, &salt, args.iterations));
    ExitCode::SUCCESS
}
