//! `package`: one Lambda@Edge zip per function: the extension module built for Amazon Linux,
//! its config, and the templates the origin functions render.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::Args;
use cloudfront::DistributionConfig;
use cloudfront::config::{FunctionConfig, TableAccess};
use edge_functions::rules::limits;

/// The build tools, pinned, installed into target/tools-venv when missing.
const MATURIN: &str = "maturin==1.16.0";
const ZIGLANG: &str = "ziglang==0.17.1";

/// Viewer-trigger packages should stay far under their 1 MB quota.
const VIEWER_TARGET_BYTES: u64 = 300 * 1024;

/// Build a Lambda@Edge zip for each function in the distribution config.
///
/// Each zip holds `edgekit.abi3.so` (the blocks as a CPython extension on the stable ABI,
/// built with `maturin --zig --compatibility manylinux2014` so it loads on Amazon Linux; its
/// exported functions are the handlers), `site.json` (the function's site declaration, checked
/// whole before anything is built and carried as JSON, which the module reads without a TOML
/// parser), `edgekit.json` (the tables' replicas per region: Lambda@Edge has
/// no environment variables) and, for origin functions, the templates.
/// Functions with table access get the DynamoDB client; viewer functions do not. Prints each
/// zip's size against its quota and refuses one over it.
#[derive(Args)]
pub struct PackageArgs {
    /// The distribution config.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where the zips go.
    #[arg(long, value_name = "DIR", default_value = "target/package")]
    out: PathBuf,
    /// The origin directory whose templates/ the origin functions ship.
    #[arg(long, value_name = "DIR")]
    origin_dir: Option<PathBuf>,
    /// Build the modules even when their Rust sources have not changed since the last build
    /// (by default a content change, such as a redirect, only rewrites the zips).
    #[arg(long)]
    rebuild: bool,
    /// Leave out the bootstrap zip (the lambda_runtime binary for regional Lambda).
    #[arg(long)]
    no_bootstrap: bool,
    /// Put this built extension module in every origin zip instead of building one (a test's
    /// debug build, or a module built with a team's own blocks). Sizes are then not the shipped
    /// ones, and quotas are reported but not enforced.
    #[arg(long, value_name = "FILE")]
    module: Option<PathBuf>,
    /// The same for the viewer zips (default: `--module`).
    #[arg(long, value_name = "FILE", requires = "module")]
    viewer_module: Option<PathBuf>,
    /// Which standard library the viewer module is built with. Rust's shipped std carries its
    /// backtrace symbolizer (about 80 KB of the zip), which a viewer module never uses: `lean`
    /// builds std without it (`-Zbuild-std` with the `nightly` toolchain and its `rust-src`),
    /// which keeps the viewer zip under its 300 KB target; `shipped` uses the shipped std (the
    /// zip is then about 390 KB, still far inside the 1 MB quota); `auto` is `lean` when rustup
    /// has that toolchain with rust-src, else `shipped`.
    #[arg(long, value_enum, default_value_t = ViewerStd::Auto)]
    viewer_std: ViewerStd,
}

/// The standard library of the viewer module (`--viewer-std`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ViewerStd {
    Auto,
    Lean,
    Shipped,
}

/// The toolchain that builds a lean std (`-Zbuild-std` is a nightly feature).
const LEAN_STD_TOOLCHAIN: &str = "nightly";

/// How a module's std is built: Rust's shipped one, or built from source without its backtrace
/// symbolizer by the named toolchain (its `rustc -V` kept for the module's fingerprint).
#[derive(Debug, Clone, PartialEq, Eq)]
enum StdBuild {
    Shipped,
    Lean { rustc: String },
}

impl StdBuild {
    /// The viewer module's std for `choice`: `Err` only when `lean` was asked for and cannot be.
    fn for_viewer(choice: ViewerStd) -> Result<StdBuild, String> {
        if choice == ViewerStd::Shipped {
            return Ok(StdBuild::Shipped);
        }
        match lean_toolchain() {
            Ok(rustc) => Ok(StdBuild::Lean { rustc }),
            Err(why) if choice == ViewerStd::Lean => Err(format!("--viewer-std lean: {why}")),
            Err(why) => {
                eprintln!(
                    "note: the viewer module is built with Rust's shipped std, whose backtrace \
                     symbolizer puts the viewer zip over its 300 KB target: {why}"
                );
                Ok(StdBuild::Shipped)
            }
        }
    }
}

impl StdBuild {
    /// What `packages.json` says of a module built with this std: which std and which rustc.
    fn describe(&self) -> Result<String, String> {
        match self {
            StdBuild::Lean { rustc } => Ok(format!("lean std ({rustc})")),
            StdBuild::Shipped => {
                let out = Command::new("rustc")
                    .arg("-V")
                    .output()
                    .map_err(|e| format!("rustc -V: {e}"))?;
                let rustc = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                Ok(format!("shipped std ({rustc})"))
            }
        }
    }
}

/// The lean-std toolchain's `rustc -V`, or why it cannot build a std: it must be installed by
/// rustup with its library sources.
fn lean_toolchain() -> Result<String, String> {
    let install = format!(
        "install it with `rustup toolchain install {LEAN_STD_TOOLCHAIN} --profile minimal \
         --component rust-src`"
    );
    let rustc = |arg: &str| {
        Command::new("rustup")
            .args(["run", LEAN_STD_TOOLCHAIN, "rustc", arg])
            // Asking must not download a toolchain.
            .env("RUSTUP_AUTO_INSTALL", "0")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let (Some(version), Some(sysroot)) = (rustc("-V"), rustc("--print=sysroot")) else {
        return Err(format!(
            "rustup has no `{LEAN_STD_TOOLCHAIN}` toolchain; {install}"
        ));
    };
    let sources = Path::new(&sysroot).join("lib/rustlib/src/rust/library/std/Cargo.toml");
    if !sources.exists() {
        return Err(format!(
            "the `{LEAN_STD_TOOLCHAIN}` toolchain has no rust-src component; {install}"
        ));
    }
    Ok(version)
}

/// Writes a reproducible zip (sorted entries, fixed times) with Python's zipfile.
const ZIP_SCRIPT: &str = r#"
import sys, zipfile, pathlib
out, wheel, config, site, templates = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
if wheel.endswith('.so'):
    module = pathlib.Path(wheel).read_bytes()
else:
    with zipfile.ZipFile(wheel) as w:
        so = [n for n in w.namelist() if n.endswith('.so')]
        if len(so) != 1:
            sys.exit(f'expected one extension module in {wheel}, found {so}')
        module = w.read(so[0])
# The handlers are `edgekit.<trigger>`: Python imports the module through PyInit_edgekit.
if b'PyInit_edgekit' not in module:
    sys.exit(f'{wheel} is not the edgekit module: it has no PyInit_edgekit')
entries = [('edgekit.abi3.so', module, 0o755), ('edgekit.json', pathlib.Path(config).read_bytes(), 0o644), ('site.json', pathlib.Path(site).read_bytes(), 0o644)]
if templates:
    for path in sorted(pathlib.Path(templates).iterdir()):
        if path.is_file():
            entries.append((f'templates/{path.name}', path.read_bytes(), 0o644))
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    for name, data, mode in sorted(entries):
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = (0o100000 | mode) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, data, compresslevel=9)
"#;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let status = command.status().map_err(|e| format!("{what}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

/// The venv with maturin and zig, created on first use.
fn tools() -> Result<PathBuf, String> {
    let venv = root().join("target/tools-venv");
    let bin = venv.join("bin");
    if !bin.join("maturin").exists() || !bin.join("python").exists() {
        eprintln!("installing {MATURIN} and {ZIGLANG} into {}", venv.display());
        run(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 -m venv",
        )?;
    }
    let has = |module: &str| {
        Command::new(bin.join("python"))
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !bin.join("maturin").exists() || !has("ziglang") {
        run(
            Command::new(bin.join("pip")).args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                MATURIN,
                ZIGLANG,
            ]),
            "pip install maturin ziglang",
        )?;
    }
    Ok(bin)
}

/// Which build of the module a function ships: viewer functions need neither templates nor the
/// table; origin functions render pages; those with table access carry the DynamoDB client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Variant {
    Light,
    Pages,
    DynamoDb,
}

impl Variant {
    fn of(function: &FunctionConfig) -> Variant {
        if function.table_access != TableAccess::None {
            Variant::DynamoDb
        } else if function.trigger.is_viewer() {
            Variant::Light
        } else {
            Variant::Pages
        }
    }

    fn name(self) -> &'static str {
        match self {
            Variant::Light => "light",
            Variant::Pages => "pages",
            Variant::DynamoDb => "dynamodb",
        }
    }

    fn features(self) -> Option<&'static str> {
        match self {
            Variant::Light => None,
            Variant::Pages => Some("pages,mimalloc"),
            Variant::DynamoDb => Some("dynamodb,mimalloc"),
        }
    }

    /// Viewer packages are built small (1 MB quota), origin packages fast (50 MB).
    fn profile(self) -> &'static str {
        match self {
            Variant::Light => "edge",
            Variant::Pages | Variant::DynamoDb => "edge-origin",
        }
    }
}

/// The optional viewer blocks (`OPTIONAL_VIEWER_BLOCKS`) the viewer functions' declarations use:
/// the viewer module carries only those.
fn optional_viewer_blocks(
    functions: &[&FunctionConfig],
    base: &Path,
) -> Result<Vec<String>, String> {
    let mut used = std::collections::BTreeSet::new();
    for function in functions.iter().filter(|f| f.trigger.is_viewer()) {
        let file = cloudfront::distribution::site_file(base, &function.site);
        let declaration = edge_functions::site::read_checked(&file, crate::registry())
            .map_err(|e| e.to_string())?;
        for name in declaration
            .functions
            .get(&function.trigger)
            .into_iter()
            .flatten()
        {
            let kind = declaration.blocks.get(name).and_then(|b| b.get("block"));
            if let Some(kind) = kind.and_then(|k| k.as_str())
                && edge_functions::site::OPTIONAL_VIEWER_BLOCKS.contains(&kind)
            {
                used.insert(kind.to_owned());
            }
        }
    }
    Ok(used.into_iter().collect())
}

/// The cargo features of a variant's module: its own, and for the viewer module the optional
/// blocks its sites use.
fn module_features(variant: Variant, viewer_blocks: &[String]) -> Option<String> {
    let mut features: Vec<String> = variant.features().map(str::to_owned).into_iter().collect();
    if variant == Variant::Light {
        features.extend(viewer_blocks.iter().map(|b| format!("block-{b}")));
    }
    (!features.is_empty()).then(|| features.join(","))
}

/// What the module is built from: the crates it compiles (edge-python, python-host,
/// edge-functions), the workspace manifest and lock file, the variant and its std. A site's declaration,
/// templates and the distribution config are not in it: they travel in the zip as data.
fn module_fingerprint(
    variant: Variant,
    std: &StdBuild,
    features: Option<&str>,
) -> Result<String, String> {
    use sha2::Digest;
    let mut files = vec![root().join("Cargo.toml"), root().join("Cargo.lock")];
    let mut stack = vec![
        root().join("edge-python"),
        root().join("python-host"),
        root().join("edge-functions"),
    ];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut hash = sha2::Sha256::new();
    hash.update(format!(
        "{}:{}:{:?}:{std:?}\n",
        variant.name(),
        variant.profile(),
        features
    ));
    for file in files {
        let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        hash.update(
            file.strip_prefix(root())
                .unwrap_or(&file)
                .to_string_lossy()
                .as_bytes(),
        );
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(&bytes);
    }
    Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The wheel of one variant: the one built before when the module's sources have not changed
/// since (a content change needs no Rust build), else a new build.
fn wheel(
    bin: &Path,
    out: &Path,
    variant: Variant,
    std: &StdBuild,
    features: Option<&str>,
    rebuild: bool,
) -> Result<PathBuf, String> {
    let dir = out.join("wheels").join(variant.name());
    let stamp = dir.join("fingerprint");
    let fingerprint = module_fingerprint(variant, std, features)?;
    let built = std::fs::read_dir(&dir).ok().and_then(|entries| {
        entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "whl"))
    });
    if !rebuild
        && let Some(wheel) = built
        && std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == fingerprint)
    {
        eprintln!(
            "reusing the {} module: its Rust sources are unchanged (--rebuild builds it anew)",
            variant.name()
        );
        return Ok(wheel);
    }
    let wheel = build_wheel(bin, &dir, variant, std, features)?;
    std::fs::write(&stamp, format!("{fingerprint}\n"))
        .map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    Ok(wheel)
}

/// Builds the wheel of one variant into `dir` and returns its path.
fn build_wheel(
    bin: &Path,
    dir: &Path,
    variant: Variant,
    std: &StdBuild,
    features: Option<&str>,
) -> Result<PathBuf, String> {
    let _ = std::fs::remove_dir_all(dir);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut maturin = Command::new(bin.join("maturin"));
    maturin
        .env("PATH", path)
        .current_dir(root())
        .args([
            "build",
            "--profile",
            variant.profile(),
            "--zig",
            "--compatibility",
            "manylinux2014",
            "--quiet",
        ])
        .args(["-m", "edge-python/Cargo.toml", "-o"])
        .arg(dir);
    if let Some(features) = features {
        maturin.args(["--features", features]);
    }
    match std {
        StdBuild::Shipped => eprintln!("building the {} module", variant.name()),
        StdBuild::Lean { rustc } => {
            eprintln!(
                "building the {} module with a std built without its backtrace symbolizer ({rustc})",
                variant.name()
            );
            // std is built from source for the target (so the target is named), with unwinding
            // kept: a panic must become a Python exception, not end the runtime. Its own target
            // dir keeps the stable builds' artifacts.
            // (`cargo run` hands down CARGO, which would name the stable cargo.)
            maturin
                .env_remove("CARGO")
                .env_remove("RUSTC")
                .env("RUSTUP_TOOLCHAIN", LEAN_STD_TOOLCHAIN)
                .env("CARGO_UNSTABLE_BUILD_STD", "std,panic_unwind")
                .env("CARGO_UNSTABLE_BUILD_STD_FEATURES", "panic-unwind")
                .env("CARGO_TARGET_DIR", root().join("target/lean-std"))
                .args(["--target", "x86_64-unknown-linux-gnu"]);
        }
    }
    run(&mut maturin, "maturin build")?;
    std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| format!("maturin left no wheel in {}", dir.display()))
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Renames `<function>.zip` to `<function>-<first 12 hex of its SHA-256>.zip`, so that each build
/// is a new S3 key (CloudFormation updates a function only when its code location changes), and
/// removes that function's zips from earlier builds. Returns the new name and the full hash.
fn name_after_content(out: &Path, function: &str, zip: &Path) -> Result<(String, String), String> {
    let hash = sha256_hex(&std::fs::read(zip).map_err(|e| e.to_string())?);
    let name = format!("{function}-{}.zip", &hash[..12]);
    let stale = |file: &str| {
        file.strip_prefix(function)
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|rest| rest.strip_suffix(".zip"))
            .is_some_and(|h| h.len() == 12 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    for entry in std::fs::read_dir(out).map_err(|e| e.to_string())?.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if stale(&file) && file != name {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    std::fs::rename(zip, out.join(&name)).map_err(|e| e.to_string())?;
    Ok((name, hash))
}

/// The module's config: the declaration is `site.json` beside it in every zip.
fn package_config(config: &DistributionConfig) -> serde_json::Value {
    serde_json::json!({
        "site": edge_functions::site::declaration::PACKAGED_FILE,
        "replicas": config.data.replicas,
    })
}

/// Writes the checked declaration a package carries (`site.json`) to `to`, with the settings
/// blocks complete when packed (a sign-in block's keys and secret: the file holds a secret, and
/// its content is never printed).
fn write_declaration(site: &Path, to: &Path) -> Result<PathBuf, String> {
    let declaration =
        edge_functions::site::read_prepared(site, crate::registry(), crate::preparation())
            .map_err(|e| e.to_string())?;
    std::fs::write(to, declaration.to_json())
        .map_err(|e| format!("cannot write {}: {e}", to.display()))?;
    Ok(to.to_owned())
}

/// The same functions as a `lambda_runtime` binary for provided.al2023 (regional Lambda; not
/// deployable to Lambda@Edge), zipped as `bootstrap` with the templates.
fn bootstrap(bin: &Path, out: &Path, origin_dir: &Path, site: &Path) -> Result<bool, String> {
    eprintln!("building bootstrap (lambda_runtime, with DynamoDB)");
    run(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(root())
            .args([
                "build",
                "--quiet",
                "--profile",
                "edge-origin",
                "-p",
                "edge-lambda",
                "--features",
                "dynamodb",
            ]),
        "cargo build bootstrap",
    )?;
    let binary = root().join("target/edge-origin/bootstrap");
    // provided.al2023 has glibc 2.34: refuse a binary that needs a newer one.
    let symbols = Command::new("objdump").arg("-T").arg(&binary).output();
    if let Ok(symbols) = symbols {
        let text = String::from_utf8_lossy(&symbols.stdout);
        let newest = text
            .split("GLIBC_")
            .skip(1)
            .filter_map(|s| {
                let v: String = s
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect();
                let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
                Some((parts.next()?, parts.next().unwrap_or(0)))
            })
            .max();
        if let Some((major, minor)) = newest
            && (major, minor) > (2, 34)
        {
            return Err(format!(
                "bootstrap needs GLIBC_{major}.{minor}; provided.al2023 has 2.34"
            ));
        }
    }
    // Named after the site it runs (a file name: other characters become `-`).
    let declaration =
        edge_functions::site::read_checked(site, crate::registry()).map_err(|e| e.to_string())?;
    let safe: String = declaration
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = format!("{safe}-bootstrap.zip");
    let site = write_declaration(site, &out.join("bootstrap.site.json"))?;
    let zip = out.join(&name);
    let script = r#"
import sys, zipfile, pathlib
out, binary, templates, site = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
entries = [('bootstrap', pathlib.Path(binary).read_bytes(), 0o755), ('site.json', pathlib.Path(site).read_bytes(), 0o644)]
for path in sorted(pathlib.Path(templates).iterdir()):
    if path.is_file():
        entries.append((f'templates/{path.name}', path.read_bytes(), 0o644))
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    for name, data, mode in entries:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = (0o100000 | mode) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, data, compresslevel=9)
"#;
    run(
        Command::new(bin.join("python"))
            .args(["-c", script])
            .arg(&zip)
            .arg(&binary)
            .arg(origin_dir.join("templates"))
            .arg(&site),
        "writing the bootstrap zip",
    )?;
    let _ = std::fs::remove_file(&site);
    let size = std::fs::metadata(&zip).map_err(|e| e.to_string())?.len();
    let quota = limits::ORIGIN_PACKAGE_BYTES;
    let fits = size <= quota;
    println!(
        "{:<44} {:>12}  {:>12}  {} (regional Lambda, provided.al2023; _HANDLER names the trigger)",
        name,
        size,
        quota,
        if fits { "ok" } else { "OVER QUOTA" }
    );
    Ok(fits)
}

pub fn package(args: PackageArgs) -> ExitCode {
    match build(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn build(args: PackageArgs) -> Result<bool, String> {
    let config_path = args.config.unwrap_or_else(crate::serve_cmd::default_config);
    let config = DistributionConfig::load(&config_path).map_err(|e| e.to_string())?;
    let origin_dir = args
        .origin_dir
        .or_else(|| crate::paths::origin_dir_of(&config, &config_path))
        .unwrap_or_else(|| PathBuf::from("origin-site"));
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let out = args.out.canonicalize().map_err(|e| e.to_string())?;
    // A sign-in block's signing secret stays the same from one package to the next into this
    // out dir: sign-ins in flight while a new version deploys still complete.
    crate::preparation().keep_secret_in(out.join(".sign-in-secret"));
    let functions: Vec<&FunctionConfig> = config.functions.iter().map(|f| f.get_ref()).collect();
    // Every declaration is checked, whole, before minutes go into building modules.
    let base = config_path.parent().unwrap_or(Path::new("."));
    let loaded =
        cloudfront::distribution::load_sites(&config, &config_path, crate::registry(), None)?;
    for warning in &loaded.warnings {
        eprintln!("warning: {warning}");
    }
    // The zips are written with the standard library's zipfile: the tools venv (maturin, zig)
    // is needed only to build a module or the bootstrap.
    let builds = !args.no_bootstrap
        || functions.iter().any(|f| match Variant::of(f) {
            Variant::Light => args.viewer_module.is_none() && args.module.is_none(),
            _ => args.module.is_none(),
        });
    let bin = if builds { tools()? } else { PathBuf::new() };
    let python = if builds {
        bin.join("python")
    } else {
        PathBuf::from("python3")
    };
    let viewer_blocks = optional_viewer_blocks(&functions, base)?;
    if !viewer_blocks.is_empty() {
        eprintln!(
            "the viewer module carries the optional blocks its sites use: {}",
            viewer_blocks.join(", ")
        );
    }
    let mut wheels = std::collections::HashMap::new();
    for function in &functions {
        let variant = Variant::of(function);
        if let std::collections::hash_map::Entry::Vacant(slot) = wheels.entry(variant) {
            let given = match (variant, &args.viewer_module, &args.module) {
                (Variant::Light, Some(viewer), _) => Some(viewer.clone()),
                (_, _, Some(module)) => Some(module.clone()),
                _ => None,
            };
            slot.insert(match given {
                Some(module) => {
                    let module = std::path::absolute(&module).map_err(|e| e.to_string())?;
                    let built = format!("given: {}", module.display());
                    (module, built)
                }
                None => {
                    let std = if variant == Variant::Light {
                        StdBuild::for_viewer(args.viewer_std)?
                    } else {
                        StdBuild::Shipped
                    };
                    let built = std.describe()?;
                    let features = module_features(variant, &viewer_blocks);
                    let wheel =
                        wheel(&bin, &out, variant, &std, features.as_deref(), args.rebuild)?;
                    (wheel, built)
                }
            });
        }
    }
    let enforce_quotas = args.module.is_none();
    let mut all_fit = true;
    let mut packages = cloudfront::template::Packages::default();
    println!(
        "{:<44} {:>12}  {:>12}  verdict",
        "package", "zip bytes", "quota"
    );
    for function in functions.iter().copied() {
        let (wheel, built) = &wheels[&Variant::of(function)];
        let json = out.join(format!("{}.json", function.name));
        std::fs::write(&json, package_config(&config).to_string()).map_err(|e| e.to_string())?;
        let site = write_declaration(
            &cloudfront::distribution::site_file(base, &function.site),
            &out.join(format!("{}.site.json", function.name)),
        )?;
        let zip = out.join(format!("{}.zip", function.name));
        // A site that renders no pages may have no templates at all.
        let templates_dir = origin_dir.join("templates");
        let templates = if function.trigger.is_viewer() || !templates_dir.is_dir() {
            String::new()
        } else {
            templates_dir.display().to_string()
        };
        run(
            Command::new(&python)
                .args(["-c", ZIP_SCRIPT])
                .arg(&zip)
                .arg(wheel)
                .arg(&json)
                .arg(&site)
                .arg(&templates),
            "writing the zip",
        )?;
        let _ = std::fs::remove_file(&json);
        let _ = std::fs::remove_file(&site);
        let size = std::fs::metadata(&zip).map_err(|e| e.to_string())?.len();
        let quota = if function.trigger.is_viewer() {
            limits::VIEWER_PACKAGE_BYTES
        } else {
            limits::ORIGIN_PACKAGE_BYTES
        };
        let verdict = if size > quota && !enforce_quotas {
            "over quota, but the module was given: not the shipped build".to_owned()
        } else if size > quota {
            all_fit = false;
            let _ = std::fs::remove_file(&zip);
            "OVER QUOTA: refused, zip removed".to_owned()
        } else if function.trigger.is_viewer() && size > VIEWER_TARGET_BYTES {
            format!("fits, but over the {VIEWER_TARGET_BYTES} B target")
        } else {
            format!("ok ({:.1}% of quota)", size as f64 * 100.0 / quota as f64)
        };
        // A zip over its quota was removed above and is not listed.
        let name = if zip.exists() {
            let (key, sha256) = name_after_content(&out, &function.name, &zip)?;
            let package = cloudfront::template::Package {
                key: key.clone(),
                sha256,
                bytes: size,
                module: built.clone(),
            };
            packages.0.insert(function.name.clone(), package);
            key
        } else {
            format!("{}.zip", function.name)
        };
        println!("{name:<44} {size:>12}  {quota:>12}  {verdict}");
    }
    let manifest = out.join(cloudfront::template::PACKAGES_FILE);
    std::fs::write(
        &manifest,
        serde_json::to_string_pretty(&packages).map_err(|e| e.to_string())? + "\n",
    )
    .map_err(|e| format!("cannot write {}: {e}", manifest.display()))?;
    println!(
        "handler: edgekit.<trigger with underscores>, runtime {}, x86_64",
        cloudfront::template::RUNTIME
    );
    if let Some(first) = functions.first().filter(|_| !args.no_bootstrap) {
        let site = cloudfront::distribution::site_file(base, &first.site);
        all_fit &= bootstrap(&bin, &out, &origin_dir, &site)?;
    }
    Ok(all_fit)
}

#[cfg(test)]
mod tests {
    /// `package` turns on `block-<name>` in the module crate for each optional viewer block a
    /// site uses: each must be one of edge-python's features, or the build fails for that site.
    #[test]
    fn every_optional_viewer_block_is_a_feature_of_the_module() {
        let manifest = include_str!("../edge-python/Cargo.toml");
        for block in edge_functions::site::OPTIONAL_VIEWER_BLOCKS {
            let feature = format!("block-{block} = [\"edge-functions/block-{block}\"");
            assert!(
                manifest.contains(&feature),
                "edge-python/Cargo.toml lacks `{feature}`"
            );
        }
    }
}
