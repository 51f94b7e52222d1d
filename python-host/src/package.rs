//! What a package carries beside the module: `edgekit.json` (where the site's declaration and
//! templates are, the tables' replicas per Region; Lambda@Edge has no environment variables) and
//! the site's declaration as `edgekit package` checked and wrote it (`site.json`). Both are read
//! once, with Python's own `json`: a JSON or TOML parser in the module would cost the viewer zip
//! more than the whole reading does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use edge_functions::data::StoreConfig;
use edge_functions::site::Declaration;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyList, PyString};
use serde::Deserialize;
use serde_json::Value;

/// `edgekit.json`, written by `edgekit package`. A viewer package reads the same file (and
/// refuses what an origin package refuses) but has no use for the data fields.
#[derive(Debug)]
#[cfg_attr(not(feature = "typed-route"), allow(dead_code))]
pub(crate) struct PackageConfig {
    /// The site's declaration, checked (resolved against the file's folder).
    pub site: PathBuf,
    /// The tables' replicas per AWS_REGION, and endpoints for local tests.
    pub store: StoreConfig,
    /// The templates directory (resolved against the file's folder).
    pub templates: PathBuf,
}

/// The file's fields, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default = "default_site")]
    site: PathBuf,
    #[serde(default = "default_templates")]
    templates: PathBuf,
    #[serde(default)]
    replicas: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    endpoints: BTreeMap<String, String>,
}

fn default_site() -> PathBuf {
    PathBuf::from(edge_functions::site::declaration::PACKAGED_FILE)
}

fn default_templates() -> PathBuf {
    PathBuf::from("templates")
}

/// Reads `edgekit.json` at `path`.
pub(crate) fn read_config(py: Python<'_>, path: &Path) -> Result<PackageConfig, String> {
    let fail = |e: String| format!("{} is not a package config: {e}", path.display());
    // Written by `package`: serde's message without the field's path (a path-tracking
    // deserializer costs the viewer zip 5 KB).
    let file = ConfigFile::deserialize(read_json(py, path)?).map_err(|e| fail(e.to_string()))?;
    let store = StoreConfig {
        replicas: file.replicas,
        endpoints: file.endpoints,
        endpoint: None,
    };
    store.check().map_err(|e| fail(e.to_string()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    Ok(PackageConfig {
        site: dir.join(file.site),
        store,
        templates: dir.join(file.templates),
    })
}

/// Reads the declaration a package carries.
pub(crate) fn read_declaration(py: Python<'_>, path: &Path) -> Result<Declaration, String> {
    if path.extension().is_some_and(|e| e == "toml") {
        return Err(format!(
            "{} is a declaration's TOML source; a package carries the checked declaration as \
             JSON ({}), which `edgekit package` writes (or `edgekit check --site FILE --out FILE`)",
            path.display(),
            edge_functions::site::declaration::PACKAGED_FILE
        ));
    }
    Declaration::deserialize(read_json(py, path)?)
        .map_err(|e| format!("{} is not a site declaration: {e}", path.display()))
}

/// A JSON file, parsed by Python, as a JSON value.
fn read_json(py: Python<'_>, path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let parsed = py
        .import("json")
        .and_then(|json| json.call_method1("loads", (text,)))
        .map_err(|e| format!("{} is not JSON: {}", path.display(), e.value(py)))?;
    value(&parsed, 0).map_err(|e| format!("{}: {e}", path.display()))
}

/// How deep a package's JSON may nest (a declaration nests four or five levels).
const MAX_DEPTH: usize = 64;

/// A value from Python's `json` (dicts with string keys, lists, strings, numbers, booleans and
/// None) as a JSON value.
fn value(object: &Bound<'_, PyAny>, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("nested more than {MAX_DEPTH} levels"));
    }
    if object.is_none() {
        Ok(Value::Null)
    } else if let Ok(b) = object.cast::<PyBool>() {
        Ok(Value::Bool(b.is_true()))
    } else if let Ok(s) = object.cast::<PyString>() {
        Ok(Value::String(
            s.to_str().map_err(|e| e.to_string())?.to_owned(),
        ))
    } else if let Ok(f) = object.cast::<PyFloat>() {
        serde_json::Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| "a number that is not finite".to_owned())
    } else if let Ok(i) = object.extract::<i64>() {
        Ok(Value::from(i))
    } else if let Ok(u) = object.extract::<u64>() {
        Ok(Value::from(u))
    } else if let Ok(list) = object.cast::<PyList>() {
        list.iter().map(|item| value(&item, depth + 1)).collect()
    } else if let Ok(dict) = object.cast::<PyDict>() {
        let mut map = serde_json::Map::new();
        for (key, item) in dict.iter() {
            let key = key
                .cast::<PyString>()
                .map_err(|_| "an object key that is not a string".to_owned())?
                .to_str()
                .map_err(|e| e.to_string())?
                .to_owned();
            map.insert(key, value(&item, depth + 1)?);
        }
        Ok(Value::Object(map))
    } else {
        Err("a value JSON does not have".to_owned())
    }
}
