//! `template`: the CloudFormation template for the distribution config.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

/// Print the CloudFormation template (JSON) generated from the distribution config: the bucket
/// with Origin Access Control, the sites' tables (from their declarations) with their global
/// replicas, least-privilege roles,
/// the functions and their numbered versions, the policies and the distribution.
/// Deploy it in us-east-1 (Lambda@Edge requires it).
#[derive(Args)]
pub struct TemplateArgs {
    /// The distribution config.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Write the template here instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Where `package` put the zips: their names (the S3 keys) and hashes come from its
    /// packages.json, so that new code is a new key and a new numbered version.
    #[arg(long, value_name = "DIR", default_value = "target/package")]
    packages: PathBuf,
}

pub fn template(args: TemplateArgs) -> ExitCode {
    let path = args.config.unwrap_or_else(crate::serve_cmd::default_config);
    let config = match cloudfront::DistributionConfig::load(&path) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let manifest = args.packages.join(cloudfront::template::PACKAGES_FILE);
    let packages = match std::fs::read(&manifest) {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(packages) => packages,
            Err(e) => {
                eprintln!("error: {} is not a package list: {e}", manifest.display());
                return ExitCode::from(2);
            }
        },
        Err(_) => {
            eprintln!(
                "warning: no {} (run `edgekit package` first): the code keys default to \
                 <function>.zip, and a stack update will not publish new versions when only the \
                 code changed",
                manifest.display()
            );
            cloudfront::template::Packages::default()
        }
    };
    let loaded = match cloudfront::distribution::load_sites(&config, &path, crate::registry(), None)
    {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let tables = loaded
        .tables
        .iter()
        .map(|(site, tables)| {
            (
                site.clone(),
                tables.iter().map(|t| t.spec.clone()).collect(),
            )
        })
        .collect();
    let sign_ins =
        match cloudfront::distribution::app_client_urls(&config, &path, crate::registry()) {
            Ok(sign_ins) => sign_ins,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
    let template = cloudfront::template::template(&config, &packages, &tables, &sign_ins);
    let text = match serde_json::to_string_pretty(&template) {
        Ok(text) => text + "\n",
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match args.output {
        Some(file) => match std::fs::write(&file, text) {
            Ok(()) => {
                eprintln!("wrote {}", file.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", file.display());
                ExitCode::FAILURE
            }
        },
        None => {
            print!("{text}");
            ExitCode::SUCCESS
        }
    }
}
