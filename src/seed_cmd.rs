//! `seed`: create the site's DynamoDB tables if they are missing and load their items,
//! idempotently.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use edge_functions::data::{dynamodb, read_items_file};

use crate::data_args::DataArgs;

/// Create each of the site's tables if it is missing (its key, on-demand) and load its items
/// file (the `items` of its [tables] entry in the declaration).
///
/// Running it twice changes nothing: an item already in a table gets every attribute of the file
/// and keeps the live value of each counter (unless --reset); nothing is removed. It writes to
/// the nearest replica; a global table copies the items to the others.
#[derive(Args)]
pub struct SeedArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The site declaration whose tables are seeded. Default: the one the distribution config's
    /// functions name.
    #[arg(long, value_name = "FILE")]
    site: Option<PathBuf>,
    /// The distribution config (for the default site, and the replicas).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Load this file into a table instead of its `items`: `TABLE=FILE`, or `FILE` when the site
    /// has one table. Repeatable.
    #[arg(long, value_name = "[TABLE=]FILE")]
    items: Vec<String>,
    /// Set every counter back to the file's value.
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
    let config_path = args
        .config
        .clone()
        .unwrap_or_else(crate::serve_cmd::default_config);
    let config = cloudfront::DistributionConfig::load(&config_path);
    let site_file = match (&args.site, &config) {
        (Some(file), _) => file.clone(),
        (None, Ok(config)) => match crate::site_args::any_site_of(config, &config_path) {
            Ok(file) => file,
            Err(e) => return fail(e),
        },
        (None, Err(e)) => return fail(e.to_string()),
    };
    let site = match edge_functions::site::load_file(&site_file, crate::registry(), None) {
        Ok(site) => site,
        Err(e) => return fail(e.to_string()),
    };
    let tables = match crate::invoke_cmd::with_items_files(&site, &site_file, &args.items) {
        Ok(tables) => tables,
        Err(e) => return fail(e),
    };
    if tables.is_empty() {
        return fail(format!(
            "{} declares no [tables]: there is nothing to seed",
            site_file.display()
        ));
    }
    let data_config = config.map(|c| c.data).unwrap_or_default();
    let store = match args.data.dynamo_store(&data_config) {
        Ok(store) => store,
        Err(e) => return fail(e),
    };
    for (table, _) in &tables {
        let items = match &table.items {
            Some(file) => match read_items_file(file, &table.spec) {
                Ok(items) => {
                    println!(
                        "seeding table {} ({}) from {} ({} items)",
                        table.spec.table_name,
                        store.primary_region(),
                        file.display(),
                        items.len()
                    );
                    items
                }
                Err(e) => return fail(e.to_string()),
            },
            None => {
                println!(
                    "creating table {} ({}); it has no items file",
                    table.spec.table_name,
                    store.primary_region()
                );
                Vec::new()
            }
        };
        let mut progress = |line: String| println!("  {line}");
        match dynamodb::seed(&store, &table.spec, &items, args.reset, &mut progress) {
            Ok(report) => println!(
                "done: table {} {}; {} added, {} updated, {} unchanged",
                table.spec.table_name,
                if report.table_created {
                    "created"
                } else {
                    "already there"
                },
                report.added,
                report.updated,
                report.unchanged
            ),
            Err(e) => return fail(e),
        }
    }
    ExitCode::SUCCESS
}

fn fail(message: String) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}
