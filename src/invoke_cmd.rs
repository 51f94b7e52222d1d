//! `invoke` and `validate`: run a function on a fixture event, or judge a result from elsewhere.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use edge_functions::EventType;
use edge_functions::data::{DirTemplates, EmbeddedStore, SeededTable};
use edge_functions::event::FunctionResult;
use edge_functions::rules::{Failure, Violation};
use edge_functions::runner::{self, Invocation};

use crate::paths;

/// Exit codes: 0 CloudFront accepts the result; 1 it would not (502/503); 2 bad input.
const EXIT_REJECTED: u8 = 1;
const EXIT_BAD_INPUT: u8 = 2;

/// Run a trigger's function on a fixture event and say whether CloudFront would accept the result.
///
/// Prints the result (the request or the response object, exactly as Lambda@Edge would return
/// it) on stdout, and the verdict on stderr. Exit code 0 only if CloudFront would accept it,
/// 1 if it would answer 502/503, 2 if the event itself is wrong.
#[derive(Args)]
pub struct InvokeArgs {
    /// The trigger: viewer-request, origin-request, origin-response or viewer-response.
    trigger: EventType,
    /// The event JSON file (write one with `edgekit event`).
    #[arg(long, value_name = "FILE")]
    event: PathBuf,
    /// The site declaration whose function runs. Default: the one the distribution config's
    /// function for this trigger names.
    #[arg(long, value_name = "FILE")]
    site: Option<PathBuf>,
    /// The distribution config (for the default site, and the table's replicas).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Items to use for a table instead of the embedded store's: `TABLE=FILE` (TABLE as the
    /// declaration's [tables] names it), or `FILE` when the site has one table. Repeatable. The
    /// file is a JSON array of items, like the table's `items` file.
    #[arg(long, value_name = "[TABLE=]FILE")]
    items: Vec<String>,
    /// The origin directory holding templates/. Default: the config's S3 origin.
    #[arg(long, value_name = "DIR")]
    origin_dir: Option<PathBuf>,
    /// The embedded store's directory; read, never modified, by `invoke`.
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,
    /// Complete the blocks' settings as `package` does before running (a sign-in block fetches
    /// its user pool's keys, so that a fixture with a real ID token is let through). Without
    /// it, a sign-in block believes no token: fixtures stay the same offline.
    #[arg(long)]
    prepare: bool,
    #[command(flatten)]
    data_store: crate::data_args::DataArgs,
}

/// Judge a function result produced by any function (Node, Python, another team's Rust) against
/// the event it was given, with the same rules CloudFront applies.
#[derive(Args)]
pub struct ValidateArgs {
    /// The trigger the result is for.
    trigger: EventType,
    /// The event the function was given.
    #[arg(long, value_name = "FILE")]
    event: PathBuf,
    /// The function's result: the request or response object it returned.
    #[arg(long, value_name = "FILE")]
    result: PathBuf,
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn bad_input(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_BAD_INPUT)
}

pub fn invoke(args: InvokeArgs) -> ExitCode {
    let event = match read(&args.event) {
        Ok(bytes) => bytes,
        Err(e) => return bad_input(e),
    };
    let config_path = args
        .config
        .clone()
        .unwrap_or_else(crate::serve_cmd::default_config);
    let distribution = cloudfront::DistributionConfig::load(&config_path);
    let origin_dir = args.origin_dir.clone().unwrap_or_else(|| {
        distribution
            .as_ref()
            .ok()
            .and_then(|config| paths::origin_dir_of(config, &config_path))
            .unwrap_or_else(|| PathBuf::from("origin-site"))
    });
    let templates = DirTemplates::new(origin_dir.join("templates"));
    let site_file = match (&args.site, &distribution) {
        (Some(file), _) => file.clone(),
        (None, Ok(config)) => match crate::site_args::site_of(config, &config_path, args.trigger) {
            Ok(file) => file,
            Err(e) => return bad_input(e),
        },
        (None, Err(e)) => return bad_input(e),
    };
    let site = match if args.prepare {
        edge_functions::site::load_file_prepared(
            &site_file,
            crate::registry(),
            crate::preparation(),
        )
    } else {
        edge_functions::site::load_file(&site_file, crate::registry(), None)
    } {
        Ok(site) => site,
        Err(e) => return bad_input(e),
    };
    let functions = &site.functions;
    // A sign-in block's token exchange is made for real, as the local distribution makes it.
    let caller = match cloudfront::calls::HttpsCaller::new() {
        Ok(caller) => caller,
        Err(e) => return bad_input(e),
    };
    if args.data_store.uses_dynamodb() {
        let config = match &distribution {
            Ok(config) => config.data.clone(),
            Err(_) => edge_functions::data::StoreConfig::default(),
        };
        let store = match args.data_store.item_store(&config) {
            Ok(store) => store,
            Err(e) => return bad_input(e),
        };
        eprintln!("note: the function runs on the DynamoDB tables; a counter API changes them");
        let sources = runner::Sources {
            store: store.as_ref(),
            templates: &templates,
            caller: &caller,
        };
        return match runner::invoke(functions, args.trigger, &event, sources) {
            Ok(invocation) => report(&invocation),
            Err(e) => bad_input(format!("{}: {e}", args.event.display())),
        };
    }
    // `invoke` never changes the embedded store: it works on a copy of the items in memory.
    let tables = match with_items_files(&site, &site_file, &args.items) {
        Ok(tables) => tables,
        Err(e) => return bad_input(e),
    };
    let store_dir = args.store.unwrap_or_else(paths::default_store_dir);
    // Files given with --items are read as they are, not through the store's copy.
    let (given, stored): (Vec<_>, Vec<_>) = tables.into_iter().partition(|t| t.1);
    let stored: Vec<SeededTable> = stored.into_iter().map(|t| t.0).collect();
    let store = EmbeddedStore::snapshot(&store_dir, &stored).and_then(|store| {
        given.into_iter().try_fold(store, |store, (table, _)| {
            let file = table.items.clone().unwrap_or_default();
            let items = edge_functions::data::read_items_file(&file, &table.spec)?;
            Ok(store.with_table(&table.spec.table(), items))
        })
    });
    let store = match store {
        Ok(store) => store,
        Err(e) => return bad_input(e),
    };
    let sources = runner::Sources {
        store: &store,
        templates: &templates,
        caller: &caller,
    };
    let invocation = match runner::invoke(functions, args.trigger, &event, sources) {
        Ok(invocation) => invocation,
        Err(e) => return bad_input(format!("{}: {e}", args.event.display())),
    };
    report(&invocation)
}

/// The site's tables, each with whether `--items` gave its file.
pub(crate) fn with_items_files(
    site: &edge_functions::site::Site,
    site_file: &Path,
    items: &[String],
) -> Result<Vec<(SeededTable, bool)>, String> {
    let mut tables: Vec<(SeededTable, bool)> = site
        .seeded_tables(site_file)
        .into_iter()
        .map(|t| (t, false))
        .collect();
    for given in items {
        let (name, file) = match given.split_once('=') {
            Some((name, file)) => (Some(name), file),
            None => (None, given.as_str()),
        };
        let spec = match name {
            Some(name) => site.tables.get(name).ok_or_else(|| {
                format!(
                    "--items {given}: the site has no table `{name}` (it has: {})",
                    site.tables.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            })?,
            None if site.tables.len() == 1 => site
                .tables
                .values()
                .next()
                .unwrap_or_else(|| unreachable!()),
            None => {
                return Err(format!(
                    "--items {given}: say which table, as TABLE=FILE (the site has: {})",
                    site.tables.keys().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        };
        for (table, given) in &mut tables {
            if table.spec.table_name == spec.table_name {
                table.items = Some(PathBuf::from(file));
                *given = true;
            }
        }
    }
    Ok(tables)
}

fn report(invocation: &Invocation) -> ExitCode {
    let trigger = invocation.trigger;
    let needs = &invocation.needs;
    if !needs.is_empty() {
        let mut asked: Vec<String> = needs.queries.iter().map(|q| q.to_string()).collect();
        if !needs.templates.is_empty() {
            asked.push(format!("templates {}", needs.templates.join(", ")));
        }
        eprintln!("data: {}", asked.join("; "));
    }
    let result = match &invocation.result {
        Ok(result) => result,
        Err(err) => {
            eprintln!(
                "rejected: the {trigger} function failed: {err}\nCloudFront would answer {}",
                Failure::LambdaExecutionError
            );
            return ExitCode::from(EXIT_REJECTED);
        }
    };
    match serde_json::to_string_pretty(result) {
        Ok(json) => println!("{json}"),
        Err(e) => return bad_input(format!("the result cannot be written as JSON: {e}")),
    }
    let what = match result {
        FunctionResult::Request(request) => {
            format!("the request goes on with uri {}", display_uri(request))
        }
        FunctionResult::Response(response) if trigger.is_request() => {
            format!("the function answers {} itself", response.status)
        }
        FunctionResult::Response(response) => format!("the viewer gets {}", response.status),
    };
    verdict(trigger, &invocation.violations, &what)
}

fn display_uri(request: &edge_functions::Request) -> String {
    if request.querystring.is_empty() {
        request.uri.clone()
    } else {
        format!("{}?{}", request.uri, request.querystring)
    }
}

fn verdict(trigger: EventType, violations: &[Violation], what: &str) -> ExitCode {
    if violations.is_empty() {
        eprintln!("accepted: CloudFront would accept this {trigger} result; {what}");
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "rejected: CloudFront would answer {} (x-cache: {}) because the {trigger} result breaks {} rule{}:",
            Failure::LambdaValidationError,
            Failure::LambdaValidationError.x_cache(),
            violations.len(),
            if violations.len() == 1 { "" } else { "s" }
        );
        for violation in violations {
            eprintln!("  - {violation}");
        }
        ExitCode::from(EXIT_REJECTED)
    }
}

pub fn validate(args: ValidateArgs) -> ExitCode {
    let (event, result) = match (read(&args.event), read(&args.result)) {
        (Ok(e), Ok(r)) => (e, r),
        (Err(e), _) | (_, Err(e)) => return bad_input(e),
    };
    let result: serde_json::Value = match edge_functions::event::from_json(&result) {
        Ok(value) => value,
        Err(e) => return bad_input(format!("{}: {e}", args.result.display())),
    };
    match runner::validate_json(args.trigger, &event, &result) {
        Ok(violations) => verdict(args.trigger, &violations, "it keeps every rule"),
        Err(e) => bad_input(format!("{}: {e}", args.event.display())),
    }
}
