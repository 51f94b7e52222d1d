//! `alien-edge`: run, test and package the Alien Cards Lambda@Edge functions.

mod event_cmd;
mod invoke_cmd;
mod paths;
mod serve_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "alien-edge",
    version,
    about = "Lambda@Edge content customization functions in Rust, with tools for fixture events",
    long_about = "Lambda@Edge content customization functions in Rust.\n\n\
Content engineers use `event` to write a fixture event for a trigger, `invoke` to run the \
trigger's function on it and learn whether CloudFront would accept the result, and `validate` \
to judge a result produced by any other function."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Serve(serve_cmd::ServeArgs),
    Invoke(invoke_cmd::InvokeArgs),
    Validate(invoke_cmd::ValidateArgs),
    Event(event_cmd::EventArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve_cmd::serve(args),
        Command::Invoke(args) => invoke_cmd::invoke(args),
        Command::Validate(args) => invoke_cmd::validate(args),
        Command::Event(args) => event_cmd::event(args),
    }
}
