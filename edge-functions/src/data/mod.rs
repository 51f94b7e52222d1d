//! The data a function may need, and the stores a host uses to supply it.
//!
//! Functions never do I/O. An origin function first says what it needs ([`Needs`]: queries on
//! the site's tables, and templates), the host fetches it from an [`ItemStore`] and a
//! [`TemplateSource`], and the function then runs on what was [`Supplied`], failures included,
//! so that it can answer a store outage with a clean page instead of an error.
//!
//! Items are attribute maps (JSON values, as DynamoDB holds them), in tables the site declares
//! ([`TableSpec`]): each with its key attribute, what a key may look like, and the number
//! attributes its blocks count with.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use calls::{Call, CallAnswer, CallError, Caller, NoCalls, RetryPolicy, call_with_retries};

/// One item: attribute name → value.
pub type Item = serde_json::Map<String, Value>;

/// What a key may look like: ASCII letters and digits, the characters in `also`, and at most
/// `max_length` of them. Keys come from requests; anything else is refused before a store is
/// asked. The default (`-` and `_`, 64 long) is safe in a path, a cookie and a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyShape {
    #[serde(default = "KeyShape::default_max_length")]
    pub max_length: usize,
    #[serde(default = "KeyShape::default_also")]
    pub also: String,
}

impl Default for KeyShape {
    fn default() -> Self {
        KeyShape {
            max_length: Self::default_max_length(),
            also: Self::default_also(),
        }
    }
}

impl KeyShape {
    fn default_max_length() -> usize {
        64
    }

    fn default_also() -> String {
        "-_".into()
    }

    /// Whether `key` has this shape.
    pub fn accepts(&self, key: &str) -> bool {
        (1..=self.max_length).contains(&key.len())
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || self.also.as_bytes().contains(&b))
    }

    /// Refuses a shape that would let through what no key should hold.
    pub fn check(&self) -> Result<(), String> {
        if self.max_length == 0 || self.max_length > 1024 {
            return Err(format!(
                "key_shape.max_length {} is not between 1 and 1024 (DynamoDB's limit for a key)",
                self.max_length
            ));
        }
        if let Some(c) = self
            .also
            .chars()
            .find(|c| !c.is_ascii_graphic() || matches!(c, '"' | '\'' | '<' | '>' | '\\' | ';'))
        {
            return Err(format!(
                "key_shape.also may not hold {c:?}: keys travel in URLs, cookies and pages"
            ));
        }
        Ok(())
    }
}

/// A table as a site declares it (`[tables.<name>]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    /// The DynamoDB table's name (and the embedded store's file name).
    pub table_name: String,
    /// The key attribute (a string): DynamoDB's partition key.
    pub key: String,
    #[serde(default)]
    pub key_shape: KeyShape,
    /// The number attributes blocks add to; `seed` keeps their live values.
    #[serde(default)]
    pub counters: Vec<String>,
    /// The items file that seeds the table (a JSON array of items), relative to the declaration.
    #[serde(default)]
    pub items: Option<String>,
}

impl TableSpec {
    /// What a store needs to know to reach the table.
    pub fn table(&self) -> Table {
        Table {
            name: self.table_name.clone(),
            key: self.key.clone(),
        }
    }

    pub fn check(&self) -> Result<(), String> {
        let valid_name = (3..=255).contains(&self.table_name.len())
            && self
                .table_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !valid_name {
            return Err(format!(
                "table_name `{}` is not a DynamoDB table name (3 to 255 letters, digits, _ - .)",
                self.table_name
            ));
        }
        if self.key.is_empty() {
            return Err("`key` names the key attribute".into());
        }
        if self.counters.contains(&self.key) {
            return Err(format!("the key `{}` cannot be a counter", self.key));
        }
        self.key_shape.check()
    }
}

/// A table as a store sees it: its name and key attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Table {
    pub name: String,
    pub key: String,
}

/// How a list is ordered: by an attribute, then by another so the order never flickers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    /// The attribute to sort by; numbers sort as numbers, items without it last.
    #[serde(default)]
    pub sort_by: Option<String>,
    #[serde(default)]
    pub descending: bool,
    /// Sorts items that tie, ascending.
    #[serde(default)]
    pub then_by: Option<String>,
}

/// A question for the item store.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Query {
    /// The item with this key.
    Get { table: Table, key: String },
    /// Every item, ordered, at most `limit` of them.
    List {
        table: Table,
        order: Order,
        limit: Option<usize>,
    },
    /// Adds `amount`, atomically, to a number attribute of an existing item (a missing attribute
    /// counts as 0); never creates an item.
    Add {
        table: Table,
        key: String,
        attribute: String,
        amount: i64,
    },
}

/// As `invoke` says what a function asked for.
impl std::fmt::Display for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Query::Get { table, key } => write!(f, "get {}[{key}]", table.name),
            Query::List {
                table,
                order,
                limit,
            } => {
                write!(f, "list {}", table.name)?;
                if let Some(by) = &order.sort_by {
                    write!(
                        f,
                        " by {by}{}",
                        if order.descending { " descending" } else { "" }
                    )?;
                }
                if let Some(then) = &order.then_by {
                    write!(f, " then {then}")?;
                }
                if let Some(limit) = limit {
                    write!(f, ", at most {limit}")?;
                }
                Ok(())
            }
            Query::Add {
                table,
                key,
                attribute,
                amount,
            } => write!(f, "add {amount} to {}[{key}].{attribute}", table.name),
        }
    }
}

/// The store's answer to a [`Query`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `Get` and `Add`: the item after the operation, or `None` if there is no such item.
    Item(Option<Item>),
    Items(Vec<Item>),
}

/// Why data could not be had. What the visitor sees is the function's choice; what the operator
/// sees is this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    #[error("the data store is unavailable: {0}")]
    Unavailable(String),
    #[error("the data store did not answer in time: {0}")]
    Timeout(String),
    #[error("the data store holds a bad item: {0}")]
    BadItem(String),
}

/// Items in tables: get one, read all, add to a counter.
pub trait ItemStore: Send + Sync {
    fn get(&self, table: &Table, key: &str) -> Result<Option<Item>, DataError>;
    /// Every item of the table, in no particular order.
    fn scan(&self, table: &Table) -> Result<Vec<Item>, DataError>;
    fn add(
        &self,
        table: &Table,
        key: &str,
        attribute: &str,
        amount: i64,
    ) -> Result<Option<Item>, DataError>;

    /// Answers one query.
    fn answer(&self, query: &Query) -> Result<Answer, DataError> {
        match query {
            Query::Get { table, key } => self.get(table, key).map(Answer::Item),
            Query::List {
                table,
                order,
                limit,
            } => {
                let mut items = self.scan(table)?;
                sort_items(&mut items, order, &table.key);
                if let Some(limit) = limit {
                    items.truncate(*limit);
                }
                Ok(Answer::Items(items))
            }
            Query::Add {
                table,
                key,
                attribute,
                amount,
            } => self.add(table, key, attribute, *amount).map(Answer::Item),
        }
    }
}

/// Orders items as `order` says; items that still tie go by their key, so that every store gives
/// the same order (a DynamoDB Scan returns items in no set order).
pub fn sort_items(items: &mut [Item], order: &Order, key: &str) {
    fn by<'i>(item: &'i Item, attribute: &Option<String>) -> Option<&'i Value> {
        attribute.as_ref().and_then(|a| item.get(a))
    }
    items.sort_by(|a, b| {
        let (x, y) = (by(a, &order.sort_by), by(b, &order.sort_by));
        let first = compare_values(x, y);
        // Items without the attribute stay last, descending too.
        let first = if order.descending && x.is_some() && y.is_some() {
            first.reverse()
        } else {
            first
        };
        first
            .then_with(|| compare_values(by(a, &order.then_by), by(b, &order.then_by)))
            .then_with(|| compare_values(a.get(key), b.get(key)))
    });
}

/// Numbers as numbers, strings as strings; values missing or of other kinds last.
fn compare_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (Some(Value::Number(a)), Some(Value::Number(b))) => {
            match (a.as_i64(), b.as_i64(), a.as_u64(), b.as_u64()) {
                (Some(a), Some(b), _, _) => a.cmp(&b),
                (_, _, Some(a), Some(b)) => a.cmp(&b),
                _ => {
                    let (a, b) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
                    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
                }
            }
        }
        (Some(Value::String(a)), Some(Value::String(b))) => a.cmp(b),
        (Some(Value::Number(_)), Some(_)) => Ordering::Less,
        (Some(_), Some(Value::Number(_))) => Ordering::Greater,
        (Some(Value::String(_)), Some(_)) => Ordering::Less,
        (Some(_), Some(Value::String(_))) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        _ => Ordering::Equal,
    }
}

/// `value + amount`, for a counter; `None` if `value` is not a whole number or it would overflow.
pub fn add_to_number(value: Option<&Value>, amount: i64) -> Option<Value> {
    match value {
        None => Some(Value::from(amount)),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                i.checked_add(amount).map(Value::from)
            } else {
                n.as_u64()
                    .and_then(|u| u.checked_add_signed(amount))
                    .map(Value::from)
            }
        }
        Some(_) => None,
    }
}

/// Page templates, as the origin holds them (`templates/<name>`).
pub trait TemplateSource: Send + Sync {
    /// The template's text, or `None` if the origin has no such template.
    fn template(&self, name: &str) -> Result<Option<String>, DataError>;
}

/// What a function needs before it can run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    pub queries: Vec<Query>,
    pub templates: Vec<String>,
    /// Network calls (a sign-in block's token exchange).
    pub calls: Vec<Call>,
}

impl Needs {
    pub fn is_empty(&self) -> bool {
        self.queries.is_empty() && self.templates.is_empty() && self.calls.is_empty()
    }

    pub fn call(&mut self, call: Call) {
        if !self.calls.contains(&call) {
            self.calls.push(call);
        }
    }

    pub fn query(&mut self, query: Query) {
        if !self.queries.contains(&query) {
            self.queries.push(query);
        }
    }

    pub fn template(&mut self, name: &str) {
        if !self.templates.iter().any(|t| t == name) {
            self.templates.push(name.to_owned());
        }
    }
}

/// What the host fetched for [`Needs`], failures included.
#[derive(Debug, Clone, Default)]
pub struct Supplied {
    pub answers: Vec<(Query, Result<Answer, DataError>)>,
    pub templates: BTreeMap<String, Result<Option<String>, DataError>>,
    pub calls: Vec<(Call, Result<CallAnswer, CallError>)>,
}

impl Supplied {
    /// The answer to a query the function asked for; `None` if it was not asked.
    pub fn answer(&self, query: &Query) -> Option<&Result<Answer, DataError>> {
        self.answers
            .iter()
            .find(|(q, _)| q == query)
            .map(|(_, answer)| answer)
    }

    /// The answer to a call the function asked for; `None` if it was not asked.
    pub fn call_answer(&self, call: &Call) -> Option<&Result<CallAnswer, CallError>> {
        self.calls
            .iter()
            .find(|(c, _)| c == call)
            .map(|(_, answer)| answer)
    }

    /// Makes each call as [`call_with_retries`] says: what a host that has no store (a viewer
    /// package) supplies.
    pub fn make_calls(
        calls: &[Call],
        caller: &dyn Caller,
    ) -> Vec<(Call, Result<CallAnswer, CallError>)> {
        calls
            .iter()
            .map(|c| {
                (
                    c.clone(),
                    call_with_retries(caller, c, &RetryPolicy::default()),
                )
            })
            .collect()
    }

    /// Fetches everything `needs` asks for, one query after the other; calls are made as
    /// [`call_with_retries`] says.
    pub fn fetch(
        needs: &Needs,
        store: &dyn ItemStore,
        templates: &dyn TemplateSource,
        caller: &dyn Caller,
    ) -> Supplied {
        Supplied {
            calls: needs
                .calls
                .iter()
                .map(|c| {
                    (
                        c.clone(),
                        call_with_retries(caller, c, &RetryPolicy::default()),
                    )
                })
                .collect(),
            answers: needs
                .queries
                .iter()
                .map(|q| (q.clone(), store.answer(q)))
                .collect(),
            templates: needs
                .templates
                .iter()
                .map(|name| (name.clone(), templates.template(name)))
                .collect(),
        }
    }
}

/// What is wrong with an items file (a table's seed, or the embedded store's copy of it).
#[derive(Debug, thiserror::Error)]
pub enum ItemsFileError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not an items file (a JSON array of objects): {message}", path.display())]
    NotItems { path: PathBuf, message: String },
    #[error("{}: item {item} has no `{key}` (the table's key)", path.display())]
    NoKey {
        path: PathBuf,
        item: usize,
        key: String,
    },
    #[error("{}: item {item}: `{key}` is not a string", path.display())]
    KeyNotString {
        path: PathBuf,
        item: usize,
        key: String,
    },
    #[error(
        "{}: item {item}: `{value}` is not a valid key (letters, digits and `{also}`, at most {max_length})",
        path.display()
    )]
    BadKey {
        path: PathBuf,
        item: usize,
        value: String,
        also: String,
        max_length: usize,
    },
    #[error("{}: key `{key}` is listed twice", path.display())]
    Duplicate { path: PathBuf, key: String },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Reads an items file: a JSON array of objects, each with a string key of the table's shape.
/// Every attribute is kept.
pub fn read_items_file(path: &Path, spec: &TableSpec) -> Result<Vec<Item>, ItemsFileError> {
    let bytes = fs::read(path).map_err(|source| ItemsFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    let items: Vec<Item> =
        crate::event::from_json(&bytes).map_err(|e| ItemsFileError::NotItems {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
    let mut seen = std::collections::BTreeSet::new();
    for (n, item) in items.iter().enumerate() {
        let key = match item.get(&spec.key) {
            Some(Value::String(key)) => key,
            Some(_) => {
                return Err(ItemsFileError::KeyNotString {
                    path: path.to_owned(),
                    item: n + 1,
                    key: spec.key.clone(),
                });
            }
            None => {
                return Err(ItemsFileError::NoKey {
                    path: path.to_owned(),
                    item: n + 1,
                    key: spec.key.clone(),
                });
            }
        };
        if !spec.key_shape.accepts(key) {
            return Err(ItemsFileError::BadKey {
                path: path.to_owned(),
                item: n + 1,
                value: key.clone(),
                also: spec.key_shape.also.clone(),
                max_length: spec.key_shape.max_length,
            });
        }
        if !seen.insert(key.clone()) {
            return Err(ItemsFileError::Duplicate {
                path: path.to_owned(),
                key: key.clone(),
            });
        }
    }
    Ok(items)
}

/// A table's items by key.
type Rows = BTreeMap<String, Item>;

/// Items in memory: for tests, `invoke`, and as the embedded store's working set.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: Mutex<BTreeMap<String, Rows>>,
}

fn no_table(table: &Table) -> DataError {
    DataError::Unavailable(format!("there is no table `{}`", table.name))
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Adds a table with these items (keyed by the table's key attribute; an item without a
    /// string key is left out).
    pub fn with_table(self, table: &Table, items: impl IntoIterator<Item = Item>) -> MemoryStore {
        let rows = items
            .into_iter()
            .filter_map(|item| match item.get(&table.key) {
                Some(Value::String(key)) => Some((key.clone(), item)),
                _ => None,
            })
            .collect();
        self.lock().insert(table.name.clone(), rows);
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Rows>> {
        // A panic while holding the lock cannot leave a half-written item: every write is one
        // assignment, so the data behind a poisoned lock is still consistent.
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds to a counter, then hands the table's items to `keep` (a store that persists writes
    /// them there) while still holding the lock, so no other write slips in between; if `keep`
    /// fails, the addition is taken back and not acknowledged.
    fn add_and_keep(
        &self,
        table: &Table,
        key: &str,
        attribute: &str,
        amount: i64,
        keep: impl FnOnce(&Rows) -> Result<(), ItemsFileError>,
    ) -> Result<Option<Item>, DataError> {
        let mut tables = self.lock();
        let rows = tables.get_mut(&table.name).ok_or_else(|| no_table(table))?;
        let Some(item) = rows.get_mut(key) else {
            return Ok(None);
        };
        let before = item.get(attribute).cloned();
        let after = add_to_number(before.as_ref(), amount).ok_or_else(|| {
            DataError::BadItem(format!(
                "{}: item `{key}`: `{attribute}` is not a whole number that can take {amount} more",
                table.name
            ))
        })?;
        item.insert(attribute.to_owned(), after);
        let updated = item.clone();
        if let Err(err) = keep(rows) {
            if let Some(item) = rows.get_mut(key) {
                match before {
                    Some(value) => item.insert(attribute.to_owned(), value),
                    None => item.remove(attribute),
                };
            }
            return Err(DataError::Unavailable(err.to_string()));
        }
        Ok(Some(updated))
    }
}

impl ItemStore for MemoryStore {
    fn get(&self, table: &Table, key: &str) -> Result<Option<Item>, DataError> {
        let tables = self.lock();
        let rows = tables.get(&table.name).ok_or_else(|| no_table(table))?;
        Ok(rows.get(key).cloned())
    }

    fn scan(&self, table: &Table) -> Result<Vec<Item>, DataError> {
        let tables = self.lock();
        let rows = tables.get(&table.name).ok_or_else(|| no_table(table))?;
        Ok(rows.values().cloned().collect())
    }

    fn add(
        &self,
        table: &Table,
        key: &str,
        attribute: &str,
        amount: i64,
    ) -> Result<Option<Item>, DataError> {
        self.add_and_keep(table, key, attribute, amount, |_| Ok(()))
    }
}

/// A table for the embedded store: what the site declares, and its items file, if any.
#[derive(Debug, Clone)]
pub struct SeededTable {
    pub spec: TableSpec,
    pub items: Option<PathBuf>,
}

/// The embedded store: each table in a JSON file (`<dir>/<table_name>.json`), seeded from the
/// site's items file the first time. Every write goes to disk (temporary file, fsync, rename)
/// before it is acknowledged, so a crash loses nothing acknowledged.
#[derive(Debug)]
pub struct EmbeddedStore {
    dir: PathBuf,
    /// The working set; every write is written from it to the table's file.
    items: MemoryStore,
}

impl EmbeddedStore {
    /// Opens the store in `dir`, creating each table's file from its items file if it does not
    /// exist yet. A table without an items file starts empty.
    pub fn open(dir: &Path, tables: &[SeededTable]) -> Result<EmbeddedStore, ItemsFileError> {
        let mut items = MemoryStore::new();
        for table in tables {
            let path = Self::file(dir, &table.spec);
            let rows = if path.exists() {
                read_items_file(&path, &table.spec)?
            } else {
                let rows = match &table.items {
                    Some(seed) => read_items_file(seed, &table.spec)?,
                    None => Vec::new(),
                };
                write_items_file(&path, rows.iter())?;
                rows
            };
            items = items.with_table(&table.spec.table(), rows);
        }
        Ok(EmbeddedStore {
            dir: dir.to_owned(),
            items,
        })
    }

    /// The store's current items, without opening it for writing (what `invoke` uses).
    pub fn snapshot(dir: &Path, tables: &[SeededTable]) -> Result<MemoryStore, ItemsFileError> {
        let mut items = MemoryStore::new();
        for table in tables {
            let path = Self::file(dir, &table.spec);
            let rows = if path.exists() {
                read_items_file(&path, &table.spec)?
            } else if let Some(seed) = &table.items {
                read_items_file(seed, &table.spec)?
            } else {
                Vec::new()
            };
            items = items.with_table(&table.spec.table(), rows);
        }
        Ok(items)
    }

    /// The file holding a table.
    pub fn file(dir: &Path, spec: &TableSpec) -> PathBuf {
        dir.join(format!("{}.json", spec.table_name))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl ItemStore for EmbeddedStore {
    fn get(&self, table: &Table, key: &str) -> Result<Option<Item>, DataError> {
        self.items.get(table, key)
    }

    fn scan(&self, table: &Table) -> Result<Vec<Item>, DataError> {
        self.items.scan(table)
    }

    /// Acknowledged only once the file on disk has it.
    fn add(
        &self,
        table: &Table,
        key: &str,
        attribute: &str,
        amount: i64,
    ) -> Result<Option<Item>, DataError> {
        let path = self.dir.join(format!("{}.json", table.name));
        self.items
            .add_and_keep(table, key, attribute, amount, |rows| {
                write_items_file(&path, rows.values())
            })
    }
}

fn write_items_file<'a>(
    path: &Path,
    items: impl Iterator<Item = &'a Item>,
) -> Result<(), ItemsFileError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let items: Vec<&Item> = items.collect();
    let mut bytes = serde_json::to_vec_pretty(&items).map_err(std::io::Error::other);
    if let Ok(bytes) = &mut bytes {
        bytes.push(b'\n');
    }
    let tmp = path.with_extension("json.tmp");
    let write = || -> std::io::Result<()> {
        fs::create_dir_all(dir)?;
        let bytes = bytes?;
        let mut file = fs::File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        fs::File::open(dir)?.sync_all()
    };
    write().map_err(|source| ItemsFileError::Write {
        path: path.to_owned(),
        source,
    })
}

/// Templates read from a directory (the origin's `templates/`), on every request, so that a
/// content engineer's edit shows at once (what `serve` and `invoke` use; the Lambda hosts wrap
/// it in [`KeptTemplates`]).
#[derive(Debug, Clone)]
pub struct DirTemplates {
    dir: PathBuf,
}

impl DirTemplates {
    pub fn new(dir: impl Into<PathBuf>) -> DirTemplates {
        DirTemplates { dir: dir.into() }
    }
}

impl TemplateSource for DirTemplates {
    fn template(&self, name: &str) -> Result<Option<String>, DataError> {
        // Names come from the function's configuration, never from the request; refuse any
        // that would leave the directory all the same.
        if name.contains("..") || name.starts_with('/') {
            return Ok(None);
        }
        match fs::read_to_string(self.dir.join(name)) {
            Ok(text) => Ok(Some(text)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(DataError::Unavailable(format!("template {name}: {err}"))),
        }
    }
}

/// Templates kept after their first read: for the Lambda hosts, whose package never changes under
/// them, so a page costs no file read after the first. Failures are not kept (the next page
/// tries again); a missing template is.
#[derive(Debug)]
pub struct KeptTemplates<T> {
    source: T,
    kept: Mutex<BTreeMap<String, Option<String>>>,
}

impl<T: TemplateSource> KeptTemplates<T> {
    pub fn new(source: T) -> KeptTemplates<T> {
        KeptTemplates {
            source,
            kept: Mutex::new(BTreeMap::new()),
        }
    }
}

impl<T: TemplateSource> TemplateSource for KeptTemplates<T> {
    fn template(&self, name: &str) -> Result<Option<String>, DataError> {
        // A poisoned lock still holds whole entries: each is one insert.
        let kept = || self.kept.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(text) = kept().get(name) {
            return Ok(text.clone());
        }
        let text = self.source.template(name)?;
        kept().insert(name.to_owned(), text.clone());
        Ok(text)
    }
}

/// Templates held in memory, for tests and benches.
#[derive(Debug, Clone, Default)]
pub struct MemoryTemplates(pub BTreeMap<String, String>);

impl TemplateSource for MemoryTemplates {
    fn template(&self, name: &str) -> Result<Option<String>, DataError> {
        Ok(self.0.get(name).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> TableSpec {
        TableSpec {
            table_name: "pictures".into(),
            key: "Id".into(),
            key_shape: KeyShape::default(),
            counters: vec!["Likes".into()],
            items: None,
        }
    }

    fn item(value: Value) -> Item {
        match value {
            Value::Object(item) => item,
            _ => unreachable!("an object"),
        }
    }

    fn items() -> Vec<Item> {
        vec![
            item(json!({"Id": "tree", "Title": "Tree", "Likes": 2, "Tags": ["green"]})),
            item(json!({"Id": "cat", "Title": "Cat", "Likes": 2})),
            item(json!({"Id": "moon", "Title": "Moon"})),
            item(json!({"Id": "sun", "Title": "Sun", "Likes": 7})),
        ]
    }

    #[test]
    fn memory_store_adds_to_counters_and_never_creates_items() {
        let table = spec().table();
        let store = MemoryStore::new().with_table(&table, items());
        let tree = store.add(&table, "tree", "Likes", 1).unwrap().unwrap();
        assert_eq!(tree["Likes"], json!(3));
        // Every other attribute is kept.
        assert_eq!(tree["Tags"], json!(["green"]));
        // A missing counter starts at 0.
        let moon = store.add(&table, "moon", "Likes", 1).unwrap().unwrap();
        assert_eq!(moon["Likes"], json!(1));
        assert_eq!(store.add(&table, "nope", "Likes", 1).unwrap(), None);
        assert_eq!(store.scan(&table).unwrap().len(), 4);
        // A counter that is not a number is a bad item, and stays as it was.
        assert!(matches!(
            store.add(&table, "tree", "Title", 1),
            Err(DataError::BadItem(_))
        ));
        let other = Table {
            name: "other".into(),
            key: "Id".into(),
        };
        assert!(matches!(
            store.get(&other, "x"),
            Err(DataError::Unavailable(_))
        ));
    }

    #[test]
    fn lists_are_sorted_ties_broken_and_limited() {
        let table = spec().table();
        let store = MemoryStore::new().with_table(&table, items());
        let list = |order: Order, limit| match store
            .answer(&Query::List {
                table: table.clone(),
                order,
                limit,
            })
            .unwrap()
        {
            Answer::Items(items) => items
                .iter()
                .map(|i| i["Id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        let most_liked = Order {
            sort_by: Some("Likes".into()),
            descending: true,
            then_by: Some("Title".into()),
        };
        assert_eq!(
            list(most_liked.clone(), None),
            ["sun", "cat", "tree", "moon"]
        );
        assert_eq!(list(most_liked, Some(2)), ["sun", "cat"]);
        let least_liked = Order {
            sort_by: Some("Likes".into()),
            descending: false,
            then_by: None,
        };
        // Without the attribute, last either way.
        assert_eq!(list(least_liked, None).last().unwrap(), "moon");
    }

    /// A directory holding an items file, and the embedded store opened from it in `state/`.
    fn fresh_store(name: &str) -> (PathBuf, SeededTable, EmbeddedStore) {
        let dir = std::env::temp_dir().join(format!("edge-fn-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let seed = dir.join("items.json");
        fs::write(&seed, serde_json::to_vec(&items()).unwrap()).unwrap();
        let table = SeededTable {
            spec: spec(),
            items: Some(seed),
        };
        let store = EmbeddedStore::open(&dir.join("state"), std::slice::from_ref(&table)).unwrap();
        (dir, table, store)
    }

    #[test]
    fn embedded_store_persists_every_attribute_across_opens() {
        let (dir, table, store) = fresh_store("store");
        let t = spec().table();
        store.add(&t, "tree", "Likes", 1).unwrap();
        store.add(&t, "tree", "Likes", 1).unwrap();
        drop(store);
        let reopened =
            EmbeddedStore::open(&dir.join("state"), std::slice::from_ref(&table)).unwrap();
        let tree = reopened.get(&t, "tree").unwrap().unwrap();
        assert_eq!(tree["Likes"], json!(4));
        assert_eq!(tree["Tags"], json!(["green"]));
        // The items file is left as it was.
        let seed = read_items_file(table.items.as_ref().unwrap(), &spec()).unwrap();
        assert_eq!(seed[0]["Likes"], json!(2));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn embedded_store_takes_back_an_addition_it_could_not_write() {
        let (dir, _, store) = fresh_store("store-fail");
        let t = spec().table();
        store.add(&t, "tree", "Likes", 1).unwrap();
        // The store's directory becomes a file: the next write cannot happen.
        fs::remove_dir_all(dir.join("state")).unwrap();
        fs::write(dir.join("state"), b"").unwrap();
        assert!(matches!(
            store.add(&t, "tree", "Likes", 1),
            Err(DataError::Unavailable(_))
        ));
        assert_eq!(store.get(&t, "tree").unwrap().unwrap()["Likes"], json!(3));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn items_files_are_checked() {
        let dir = std::env::temp_dir().join(format!("edge-fn-items-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("items.json");
        let check = |text: &str| {
            fs::write(&file, text).unwrap();
            read_items_file(&file, &spec()).unwrap_err().to_string()
        };
        assert!(check(r#"[{"Title": "x"}]"#).contains("item 1 has no `Id`"));
        assert!(check(r#"[{"Id": 3}]"#).contains("`Id` is not a string"));
        assert!(check(r#"[{"Id": "../x"}]"#).contains("not a valid key"));
        assert!(check(r#"[{"Id": "a"}, {"Id": "a"}]"#).contains("listed twice"));
        assert!(check(r#"{"Id": "a"}"#).contains("not an items file"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn kept_templates_read_each_file_once() {
        let dir = std::env::temp_dir().join(format!("edge-fn-kept-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("page.html"), "first").unwrap();
        let templates = KeptTemplates::new(DirTemplates::new(&dir));
        assert_eq!(
            templates.template("page.html").unwrap().as_deref(),
            Some("first")
        );
        fs::write(dir.join("page.html"), "second").unwrap();
        assert_eq!(
            templates.template("page.html").unwrap().as_deref(),
            Some("first")
        );
        assert_eq!(templates.template("missing.html").unwrap(), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn key_shapes_are_checked() {
        let shape = KeyShape::default();
        assert!(shape.accepts("k9b430fc"));
        assert!(!shape.accepts(""));
        assert!(!shape.accepts("../etc"));
        assert!(!shape.accepts("<script>"));
        assert!(!shape.accepts(&"a".repeat(65)));
        let dotted = KeyShape {
            max_length: 10,
            also: "-.".into(),
        };
        assert!(dotted.accepts("v1.2") && !dotted.accepts("a_b"));
        assert!(
            KeyShape {
                max_length: 8,
                also: "<".into()
            }
            .check()
            .is_err()
        );
    }
}

pub mod calls;
pub mod store_config;
pub use store_config::{Replica, StoreConfig, StoreConfigError};

#[cfg(feature = "dynamodb")]
pub mod dynamodb;
