//! `check`: a site declaration checked as `package` checks it, without building anything.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use cloudfront::DistributionConfig;

/// Check site declarations as `package` does, without building anything: every block built with
/// its settings, every mistake reported at its `file:line`, and, with the distribution config,
/// what each origin function reads checked against its behavior's cache and origin request
/// policies. Prints each site's functions.
///
/// With `--out`, writes the checked declaration as the packages carry it (`site.json`: the
/// declaration as JSON, which the Python module and the bootstrap read without a TOML parser),
/// for a module or bootstrap run outside a package.
#[derive(Args)]
pub struct CheckArgs {
    /// One declaration (without it: every site the distribution config's functions run).
    #[arg(long, value_name = "FILE")]
    site: Option<PathBuf>,
    /// The distribution config.
    #[arg(long, value_name = "FILE", conflicts_with = "site")]
    config: Option<PathBuf>,
    /// Write the checked declaration (JSON) to FILE; needs `--site`.
    #[arg(long, value_name = "FILE", requires = "site")]
    out: Option<PathBuf>,
}

pub fn check(args: CheckArgs) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: CheckArgs) -> Result<(), String> {
    let files = match &args.site {
        Some(site) => vec![site.clone()],
        None => {
            let config_path = args.config.unwrap_or_else(crate::serve_cmd::default_config);
            let config = DistributionConfig::load(&config_path).map_err(|e| e.to_string())?;
            // The policies' check, as `serve` and `package` run it.
            let loaded = cloudfront::distribution::load_sites(
                &config,
                &config_path,
                crate::registry(),
                None,
            )?;
            for warning in &loaded.warnings {
                eprintln!("warning: {warning}");
            }
            let base = config_path.parent().unwrap_or(std::path::Path::new("."));
            let mut files: Vec<PathBuf> = config
                .functions
                .iter()
                .map(|f| cloudfront::distribution::site_file(base, &f.get_ref().site))
                .collect();
            files.sort();
            files.dedup();
            files
        }
    };
    for file in &files {
        let declaration = edge_functions::site::read_checked(file, crate::registry())
            .map_err(|e| e.to_string())?;
        println!("{}: site `{}`, checked", file.display(), declaration.name);
        for (trigger, blocks) in &declaration.functions {
            println!("  {:<16} {}", trigger.to_string(), blocks.join(", "));
        }
        if !declaration.tables.is_empty() {
            let tables: Vec<&str> = declaration.tables.keys().map(String::as_str).collect();
            println!("  {:<16} {}", "tables", tables.join(", "));
        }
        if let Some(out) = &args.out {
            std::fs::write(out, declaration.to_json())
                .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
            println!("  written as {}", out.display());
        }
    }
    Ok(())
}
