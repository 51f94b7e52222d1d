//! `blocks`: the block reference, read from the registry itself so it never goes stale.

use std::process::ExitCode;

use clap::Args;
use edge_functions::site::BlockKind;

/// Print every block a site declaration may use: what it does, the triggers it runs on, its
/// settings, and an example to copy into a declaration.
///
/// A declaration names blocks in `[blocks.<name>]` tables (`block = "<kind>"` and the settings)
/// and lists, per trigger, the names in order under `[functions]`.
#[derive(Args)]
pub struct BlocksArgs {
    /// Only this block.
    name: Option<String>,
}

pub fn blocks(args: BlocksArgs) -> ExitCode {
    let registry = crate::registry();
    let text = match &args.name {
        Some(name) => match registry.get(name) {
            Some(kind) => describe(kind),
            None => {
                eprintln!(
                    "error: no block `{name}`; the blocks are: {}",
                    registry.names().join(", ")
                );
                return ExitCode::from(2);
            }
        },
        None => {
            let mut text = wrap(
                "The blocks a site declaration may use. A declaration names each block it uses \
                 in a [blocks.<name>] table, with `block = \"<kind>\"` and its settings, and \
                 lists each trigger's blocks in order under [functions]:",
                0,
                96,
            );
            text.push_str("\n    [functions]\n    viewer-request = [\"short-links\"]\n\n");
            for kind in registry.kinds() {
                text.push_str(&describe(kind));
                text.push('\n');
            }
            text
        }
    };
    // A closed pipe (`blocks | head`) is not an error worth a panic.
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    ExitCode::SUCCESS
}

/// One block's entry in the reference.
fn describe(kind: &BlockKind) -> String {
    let runs_on: Vec<String> = kind.runs_on.iter().map(|t| t.to_string()).collect();
    let example: String = kind
        .example
        .lines()
        .map(|line| format!("    {line}\n"))
        .collect();
    format!(
        "{name}\n  runs on: {runs_on}\n  settings: {settings}\n{summary}\n  example:\n    [blocks.{name}]\n    block = \"{name}\"\n{example}",
        name = kind.name,
        runs_on = runs_on.join(", "),
        settings = kind.settings().join(", "),
        summary = wrap(kind.summary, 2, 96),
    )
}

/// `text` wrapped at `width` columns, each line indented by `indent` spaces.
fn wrap(text: &str, indent: usize, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent + line.len() + 1 + word.len() > width {
            out.push_str(&format!("{}{line}\n", " ".repeat(indent)));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&format!("{}{line}\n", " ".repeat(indent)));
    }
    out
}
