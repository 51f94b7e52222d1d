//! `new`: a starter site in a folder, ready to serve, invoke, package and template.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

/// Write a starter site into DIR (new or empty): its declaration (site.toml), its distribution
/// config, and an origin with templates, a static page, and the items of its one table.
///
/// Nothing in it is Rust: edit the files, and `serve --watch --config DIR/distribution.toml`
/// shows each change. The site's name is DIR's name unless --name says another.
#[derive(Args)]
pub struct NewArgs {
    /// The folder to write (created if missing; refused if it holds anything).
    dir: PathBuf,
    /// The site's name: lowercase letters, digits and `-` (it names the functions and the table).
    #[arg(long)]
    name: Option<String>,
}

/// The starter's files: where each goes, and its text.
const FILES: &[(&str, &str)] = &[
    ("site.toml", include_str!("starter/site.toml")),
    (
        "distribution.toml",
        include_str!("starter/distribution.toml"),
    ),
    (
        "origin/templates/layout.html",
        include_str!("starter/layout.html"),
    ),
    (
        "origin/templates/home.html",
        include_str!("starter/home.html"),
    ),
    (
        "origin/templates/error.html",
        include_str!("starter/error.html"),
    ),
    ("origin/data/posts.json", include_str!("starter/posts.json")),
    ("origin/css/site.css", include_str!("starter/site.css")),
];

/// Static pages made from `starter/post.html`: where, and their title.
const PAGES: &[(&str, &str)] = &[
    ("origin/posts/hello.html", "Hello"),
    ("origin/posts/second-post.html", "A second post"),
    ("origin/about/index.html", "About"),
];

pub fn new(args: NewArgs) -> ExitCode {
    match write(&args) {
        Ok(name) => {
            let dir = args.dir.display();
            println!("wrote the site `{name}` in {dir}. Next:");
            println!("  edgekit serve --watch --config {dir}/distribution.toml");
            println!(
                "  edgekit event origin-request --config {dir}/distribution.toml --uri / > home.json"
            );
            println!(
                "  edgekit invoke origin-request --config {dir}/distribution.toml --event home.json"
            );
            println!("  edgekit package --config {dir}/distribution.toml --out {dir}/package");
            println!(
                "  edgekit template --config {dir}/distribution.toml --packages {dir}/package -o {dir}/template.json"
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn write(args: &NewArgs) -> Result<String, String> {
    let name = match &args.name {
        Some(name) => name.clone(),
        None => args
            .dir
            .canonicalize()
            .unwrap_or_else(|_| args.dir.clone())
            .file_name()
            .map(|n| {
                n.to_string_lossy()
                    .to_ascii_lowercase()
                    .replace([' ', '_'], "-")
            })
            .unwrap_or_default(),
    };
    let valid = (3..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        return Err(format!(
            "`{name}` cannot name a site: 3 to 40 lowercase letters, digits and `-`, starting \
             with a letter (give one with --name)"
        ));
    }
    if args.dir.exists()
        && std::fs::read_dir(&args.dir)
            .map_err(|e| format!("cannot read {}: {e}", args.dir.display()))?
            .next()
            .is_some()
    {
        return Err(format!(
            "{} is not empty: `new` writes only into a new or empty folder",
            args.dir.display()
        ));
    }
    let title = title_of(&name);
    let fill = |text: &str| text.replace("{name}", &name).replace("{title}", &title);
    for (path, text) in FILES {
        put(&args.dir, path, &fill(text))?;
    }
    for (path, page_title) in PAGES {
        let text = fill(include_str!("starter/post.html")).replace("{post_title}", page_title);
        put(&args.dir, path, &text)?;
    }
    Ok(name)
}

/// `my-site` → `My Site`.
fn title_of(name: &str) -> String {
    name.split('-')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn put(dir: &Path, path: &str, text: &str) -> Result<(), String> {
    let file = dir.join(path);
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(&file, text).map_err(|e| format!("cannot write {}: {e}", file.display()))
}
