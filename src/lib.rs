//! The `edgekit` tool as a library: `main` runs it with a block registry, so that a team
//! with blocks of its own runs the same tool (serve, invoke, package, blocks, ...) with them:
//!
//! ```no_run
//! use edge_functions::site::Registry;
//! fn main() -> std::process::ExitCode {
//!     edgekit::main(Registry::builtin() /* .register::<MyBlock>() */)
//! }
//! ```

mod blocks_cmd;
mod check_cmd;
mod data_args;
mod event_cmd;
mod hash_password_cmd;
mod invoke_cmd;
mod new_cmd;
mod package_cmd;
mod paths;
#[cfg(feature = "dynamodb")]
mod seed_cmd;
mod serve_cmd;
mod site_args;
mod template_cmd;

use std::process::ExitCode;
use std::sync::OnceLock;

use clap::{Parser, Subcommand};
use edge_functions::site::Registry;

/// The blocks site declarations may use in this run of the tool.
static REGISTRY: OnceLock<Registry> = OnceLock::new();

/// The registry `main` was given (the library's blocks, when called otherwise, as in tests).
pub(crate) fn registry() -> &'static Registry {
    REGISTRY.get_or_init(Registry::builtin)
}

/// What blocks complete their settings with in `invoke` and `package`: one per run, so every
/// function packed together has the same signing secret. A fetch that fails is an error.
pub(crate) fn preparation() -> &'static cloudfront::calls::NetworkPreparation {
    static PREPARATION: OnceLock<cloudfront::calls::NetworkPreparation> = OnceLock::new();
    PREPARATION.get_or_init(Default::default)
}

/// `serve`'s: a fetch that fails is a warning (a local stand-in for a user pool may not be
/// running yet), so the rest of the site is served.
pub(crate) fn serve_preparation() -> &'static cloudfront::calls::NetworkPreparation {
    static PREPARATION: OnceLock<cloudfront::calls::NetworkPreparation> = OnceLock::new();
    PREPARATION.get_or_init(cloudfront::calls::NetworkPreparation::lenient)
}

#[derive(Parser)]
#[command(
    name = "edgekit",
    version,
    about = "Lambda@Edge content customization functions in Rust, with tools for fixture events",
    long_about = "Lambda@Edge content customization functions in Rust.\n\n\
A site is a declaration (TOML) of blocks: `new` writes a starter site, `blocks` prints every \
block with its settings, `serve` runs the site through a local CloudFront distribution. Content \
engineers use `event` to write a fixture event for a trigger, `invoke` to run the trigger's \
function on it and learn whether CloudFront would accept the result, and `validate` to judge a \
result produced by any other function. `package` and `template` make what is deployed."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    New(new_cmd::NewArgs),
    Serve(serve_cmd::ServeArgs),
    Invoke(invoke_cmd::InvokeArgs),
    Validate(invoke_cmd::ValidateArgs),
    Event(event_cmd::EventArgs),
    Template(template_cmd::TemplateArgs),
    Package(package_cmd::PackageArgs),
    Blocks(blocks_cmd::BlocksArgs),
    Check(check_cmd::CheckArgs),
    HashPassword(hash_password_cmd::HashPasswordArgs),
    #[cfg(feature = "dynamodb")]
    Seed(seed_cmd::SeedArgs),
}

/// Runs the tool on the process's arguments, with `registry`'s blocks.
pub fn main(registry: Registry) -> ExitCode {
    // Set once, before any command reads it; a second call keeps the first registry.
    let _ = REGISTRY.set(registry);
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
        Command::New(args) => new_cmd::new(args),
        Command::Serve(args) => serve_cmd::serve(args),
        Command::Invoke(args) => invoke_cmd::invoke(args),
        Command::Validate(args) => invoke_cmd::validate(args),
        Command::Event(args) => event_cmd::event(args),
        Command::Template(args) => template_cmd::template(args),
        Command::Package(args) => package_cmd::package(args),
        Command::Blocks(args) => blocks_cmd::blocks(args),
        Command::Check(args) => check_cmd::check(args),
        Command::HashPassword(args) => hash_password_cmd::hash_password(args),
        #[cfg(feature = "dynamodb")]
        Command::Seed(args) => seed_cmd::seed(args),
    }
}
