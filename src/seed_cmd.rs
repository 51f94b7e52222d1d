//! `seed`: create the DynamoDB table if it is missing and load the seed cards, idempotently.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use edge_functions::data::dynamodb;
use edge_functions::data::read_cards_file;

use crate::data_args::DataArgs;
use crate::paths;

/// Create the card table if it is missing (key CardId, on-demand) and load the seed cards.
///
/// Running it twice changes nothing: a card already in the table keeps its likes (unless
/// --reset) and gets the seed's description. It writes to the nearest replica; a global table
/// copies the items to the others.
#[derive(Args)]
pub struct SeedArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The cards to load (default: the origin's data/cards.json).
    #[arg(long, value_name = "FILE")]
    cards: Option<PathBuf>,
    /// Set every card's likes back to the seed's.
    #[arg(long)]
    reset: bool,
    /// Shorthand for --dynamodb-endpoint URL.
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
}

pub fn seed(mut args: SeedArgs) -> ExitCode {
    if let Some(endpoint) = args.endpoint.take() {
        args.data.endpoints.push(endpoint);
    }
    let cards_file = args
        .cards
        .clone()
        .unwrap_or_else(|| paths::seed_file(&paths::default_origin_dir()));
    let cards = match read_cards_file(&cards_file) {
        Ok(cards) => cards,
        Err(e) => return fail(e),
    };
    let config = cloudfront::DistributionConfig::load(&crate::serve_cmd::default_config())
        .map(|c| c.data)
        .unwrap_or_default();
    let store = match args.data.dynamo_store(&config) {
        Ok(store) => store,
        Err(e) => return fail(e),
    };
    println!(
        "seeding table {} from {} ({} cards)",
        store.table(),
        cards_file.display(),
        cards.len()
    );
    let mut progress = |line: String| println!("  {line}");
    match dynamodb::seed(&store, &cards, args.reset, &mut progress) {
        Ok(report) => {
            println!(
                "done: table {}; {} added, {} updated, {} unchanged",
                if report.table_created {
                    "created"
                } else {
                    "already there"
                },
                report.added,
                report.updated,
                report.unchanged
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn fail(message: String) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}
