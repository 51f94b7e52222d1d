//! `alien-edge`: run, test and package the Alien Cards Lambda@Edge functions.

mod blocks_cmd;
mod data_args;
mod event_cmd;
mod invoke_cmd;
mod package_cmd;
mod paths;
#[cfg(feature = "dynamodb")]
mod seed_cmd;
mod serve_cmd;
mod site_args;
mod template_cmd;

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
    Template(template_cmd::TemplateArgs),
    Package(package_cmd::PackageArgs),
    Blocks(blocks_cmd::BlocksArgs),
    #[cfg(feature = "dynamodb")]
    Seed(seed_cmd::SeedArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        // Warnings (a DynamoDB replica failing over, a bad item) go to stderr; `serve` sets up
        // its own request log.
        tracing_subscriber::fmt()
            .with_target(false)
            .without_time()
            .with_writer(std::io::stderr)
            .with_max_level(tracing::Level::WARN)
            .init();
    }
    match cli.command {
        Command::Serve(args) => serve_cmd::serve(args),
        Command::Invoke(args) => invoke_cmd::invoke(args),
        Command::Validate(args) => invoke_cmd::validate(args),
        Command::Event(args) => event_cmd::event(args),
        Command::Template(args) => template_cmd::template(args),
        Command::Package(args) => package_cmd::package(args),
        Command::Blocks(args) => blocks_cmd::blocks(args),
        #[cfg(feature = "dynamodb")]
        Command::Seed(args) => seed_cmd::seed(args),
    }
}
