//! The data a function may need, and the stores a host uses to supply it.
//!
//! Functions never do I/O. An origin function first says what it needs ([`Needs`]: card queries
//! and templates), the host fetches it from a [`CardStore`] and a [`TemplateSource`], and the
//! function then runs on what was [`Supplied`], failures included, so that it can answer a store
//! outage with a clean page instead of an error.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// One picture card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    pub id: String,
    pub description: String,
    #[serde(default)]
    pub likes: u64,
}

/// Whether `id` has the shape of a card id: 1 to 64 ASCII letters, digits, `-` or `_`.
/// Anything else is refused before it reaches a store.
pub fn is_valid_card_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A question for the card store.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Query {
    GetCard(String),
    ListCards,
    /// Adds one like, atomically, to an existing card; never creates one.
    AddLike(String),
}

/// The store's answer to a [`Query`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `GetCard` and `AddLike`: the card after the operation, or `None` if there is no such card.
    Card(Option<Card>),
    Cards(Vec<Card>),
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

/// Cards: get one, list all, add a like.
pub trait CardStore: Send + Sync {
    fn get_card(&self, id: &str) -> Result<Option<Card>, DataError>;
    fn list_cards(&self) -> Result<Vec<Card>, DataError>;
    fn add_like(&self, id: &str) -> Result<Option<Card>, DataError>;

    /// Answers one query.
    fn answer(&self, query: &Query) -> Result<Answer, DataError> {
        match query {
            Query::GetCard(id) => self.get_card(id).map(Answer::Card),
            Query::ListCards => self.list_cards().map(Answer::Cards),
            Query::AddLike(id) => self.add_like(id).map(Answer::Card),
        }
    }
}

/// Page templates, as the origin holds them (`templates/<name>`).
pub trait TemplateSource: Send + Sync {
    /// The template's text, or `None` if the origin has no such template.
    fn template(&self, name: &str) -> Result<Option<String>, DataError>;
}

/// What an origin function needs before it can run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    pub queries: Vec<Query>,
    pub templates: Vec<String>,
}

impl Needs {
    pub fn is_empty(&self) -> bool {
        self.queries.is_empty() && self.templates.is_empty()
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
}

impl Supplied {
    /// The answer to a query the function asked for; `None` if it was not asked.
    pub fn answer(&self, query: &Query) -> Option<&Result<Answer, DataError>> {
        self.answers
            .iter()
            .find(|(q, _)| q == query)
            .map(|(_, answer)| answer)
    }

    /// Fetches everything `needs` asks for, one query after the other.
    pub fn fetch(needs: &Needs, store: &dyn CardStore, templates: &dyn TemplateSource) -> Supplied {
        Supplied {
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

/// Reads a cards file (`origin-site/data/cards.json`): a JSON array of cards.
pub fn read_cards_file(path: &Path) -> Result<Vec<Card>, String> {
    let bytes = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let cards: Vec<Card> = crate::event::from_json(&bytes)
        .map_err(|e| format!("{} is not a cards file: {e}", path.display()))?;
    if let Some(bad) = cards.iter().find(|c| !is_valid_card_id(&c.id)) {
        return Err(format!(
            "{}: `{}` is not a valid card id",
            path.display(),
            bad.id
        ));
    }
    Ok(cards)
}

/// Cards in memory: for tests, `invoke`, and as the embedded store's working set.
#[derive(Debug, Default)]
pub struct MemoryStore {
    cards: Mutex<BTreeMap<String, Card>>,
}

impl MemoryStore {
    pub fn new(cards: impl IntoIterator<Item = Card>) -> MemoryStore {
        MemoryStore {
            cards: Mutex::new(cards.into_iter().map(|c| (c.id.clone(), c)).collect()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Card>> {
        // A panic while holding the lock cannot leave a half-written card: every write is one
        // assignment, so the data behind a poisoned lock is still consistent.
        self.cards.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl MemoryStore {
    /// Adds a like, then hands every card to `keep` (a store that persists writes them there)
    /// while still holding the lock, so no other like slips in between; if `keep` fails, the like
    /// is taken back and not acknowledged.
    fn add_like_and_keep(
        &self,
        id: &str,
        keep: impl FnOnce(&BTreeMap<String, Card>) -> Result<(), String>,
    ) -> Result<Option<Card>, DataError> {
        let mut cards = self.lock();
        let Some(card) = cards.get_mut(id) else {
            return Ok(None);
        };
        card.likes += 1;
        let updated = card.clone();
        if let Err(err) = keep(&cards) {
            if let Some(card) = cards.get_mut(id) {
                card.likes -= 1;
            }
            return Err(DataError::Unavailable(err));
        }
        Ok(Some(updated))
    }
}

impl CardStore for MemoryStore {
    fn get_card(&self, id: &str) -> Result<Option<Card>, DataError> {
        Ok(self.lock().get(id).cloned())
    }

    fn list_cards(&self) -> Result<Vec<Card>, DataError> {
        Ok(self.lock().values().cloned().collect())
    }

    fn add_like(&self, id: &str) -> Result<Option<Card>, DataError> {
        self.add_like_and_keep(id, |_| Ok(()))
    }
}

/// The embedded store: cards in a JSON file, seeded from the site's `cards.json` the first time.
/// Every like is written to disk (temporary file, fsync, rename) before it is acknowledged, so a
/// crash loses no acknowledged like.
#[derive(Debug)]
pub struct EmbeddedStore {
    path: PathBuf,
    /// The working set; every like is written from it to `path`.
    cards: MemoryStore,
}

impl EmbeddedStore {
    /// Opens the store at `path`, creating it from `seed` if it does not exist yet. A site
    /// with no seed file (one that reads no data) gets an empty store, written on first change.
    pub fn open(path: &Path, seed: &Path) -> Result<EmbeddedStore, String> {
        let cards = if path.exists() {
            read_cards_file(path)?
        } else if !seed.exists() {
            Vec::new()
        } else {
            let cards = read_cards_file(seed)?;
            write_cards_file(path, &cards)?;
            cards
        };
        Ok(EmbeddedStore {
            path: path.to_owned(),
            cards: MemoryStore::new(cards),
        })
    }

    /// Reads the store's current cards without opening it for writing (what `invoke` uses).
    pub fn snapshot(path: &Path, seed: &Path) -> Result<Vec<Card>, String> {
        if path.exists() {
            read_cards_file(path)
        } else if !seed.exists() {
            Ok(Vec::new())
        } else {
            read_cards_file(seed)
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl CardStore for EmbeddedStore {
    fn get_card(&self, id: &str) -> Result<Option<Card>, DataError> {
        self.cards.get_card(id)
    }

    fn list_cards(&self) -> Result<Vec<Card>, DataError> {
        self.cards.list_cards()
    }

    /// Acknowledged only once the file on disk has it.
    fn add_like(&self, id: &str) -> Result<Option<Card>, DataError> {
        self.cards.add_like_and_keep(id, |cards| {
            let all: Vec<Card> = cards.values().cloned().collect();
            write_cards_file(&self.path, &all)
        })
    }
}

fn write_cards_file(path: &Path, cards: &[Card]) -> Result<(), String> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let tmp = path.with_extension("json.tmp");
    let mut bytes = serde_json::to_vec_pretty(cards).map_err(|e| e.to_string())?;
    bytes.push(b'\n');
    let write = || -> std::io::Result<()> {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        fs::File::open(dir)?.sync_all()
    };
    write().map_err(|e| format!("cannot write {}: {e}", path.display()))
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

    fn cards() -> Vec<Card> {
        vec![Card {
            id: "da8398f4".into(),
            description: "Tree".into(),
            likes: 0,
        }]
    }

    #[test]
    fn memory_store_adds_likes_and_never_creates_cards() {
        let store = MemoryStore::new(cards());
        assert_eq!(store.add_like("da8398f4").unwrap().unwrap().likes, 1);
        assert_eq!(store.add_like("nope").unwrap(), None);
        assert_eq!(store.list_cards().unwrap().len(), 1);
    }

    /// A directory holding a seed file, and the embedded store opened from it in `state/`.
    fn fresh_store(name: &str) -> (PathBuf, EmbeddedStore) {
        let dir = std::env::temp_dir().join(format!("edge-fn-{name}-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let seed = dir.join("seed.json");
        fs::write(&seed, serde_json::to_vec(&cards()).unwrap()).unwrap();
        let store = EmbeddedStore::open(&dir.join("state/cards.json"), &seed).unwrap();
        (dir, store)
    }

    #[test]
    fn embedded_store_persists_likes_across_opens() {
        let (dir, store) = fresh_store("store");
        let (seed, data) = (dir.join("seed.json"), store.path().to_owned());
        store.add_like("da8398f4").unwrap();
        store.add_like("da8398f4").unwrap();
        drop(store);
        let reopened = EmbeddedStore::open(&data, &seed).unwrap();
        assert_eq!(reopened.get_card("da8398f4").unwrap().unwrap().likes, 2);
        // The seed is left as it was.
        assert_eq!(read_cards_file(&seed).unwrap()[0].likes, 0);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn embedded_store_takes_back_a_like_it_could_not_write() {
        let (dir, store) = fresh_store("store-fail");
        store.add_like("da8398f4").unwrap();
        // The store's directory becomes a file: the next write cannot happen.
        fs::remove_dir_all(dir.join("state")).unwrap();
        fs::write(dir.join("state"), b"").unwrap();
        assert!(matches!(
            store.add_like("da8398f4"),
            Err(DataError::Unavailable(_))
        ));
        assert_eq!(store.get_card("da8398f4").unwrap().unwrap().likes, 1);
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
    fn card_ids_are_checked() {
        assert!(is_valid_card_id("k9b430fc"));
        assert!(!is_valid_card_id(""));
        assert!(!is_valid_card_id("../etc"));
        assert!(!is_valid_card_id("<script>"));
    }
}

#[cfg(feature = "dynamodb")]
pub mod dynamodb;
