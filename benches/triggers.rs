//! Per-event cost of each trigger's function, in-process, on the representative fixtures.
//!
//! Two measures per case:
//! - `bytes`: event JSON bytes in → result JSON bytes out (parse, fetch the data the function
//!   asks for from in-memory stores, run, serialize): what a host pays per event;
//! - `function`: the function alone on a parsed event with its data already supplied.
//!
//! Run: `cargo bench --bench triggers` (figures and method in BENCHMARKS.md).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use edge_functions::EventType;
use edge_functions::data::{MemoryStore, MemoryTemplates, NoCalls, Supplied, read_items_file};

const NO_CALLS: NoCalls = NoCalls("the benches make no network calls");
use edge_functions::event::parse_event;
use edge_functions::rules;

const CASES: &[(&str, EventType)] = &[
    ("viewer-request/pretty-url", EventType::ViewerRequest),
    (
        "viewer-request/experiment-new-visitor",
        EventType::ViewerRequest,
    ),
    ("viewer-request/normalize-query", EventType::ViewerRequest),
    ("viewer-request/redirect", EventType::ViewerRequest),
    ("origin-request/css-mobile", EventType::OriginRequest),
    ("origin-request/like", EventType::OriginRequest),
    ("origin-request/card", EventType::OriginRequest),
    ("origin-request/home", EventType::OriginRequest),
    (
        "origin-response/static-css-gets-cache-control",
        EventType::OriginResponse,
    ),
    (
        "origin-response/s3-404-becomes-friendly-404",
        EventType::OriginResponse,
    ),
    (
        "viewer-response/new-visitor-gets-variant-cookie",
        EventType::ViewerResponse,
    ),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn templates(origin: &Path) -> MemoryTemplates {
    let dir = origin.join("templates");
    MemoryTemplates(
        std::fs::read_dir(&dir)
            .expect("origin-site/templates")
            .filter_map(|e| e.ok())
            .map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                (name, std::fs::read_to_string(e.path()).unwrap())
            })
            .collect(),
    )
}

fn compact(pretty: &[u8]) -> Vec<u8> {
    let value: serde_json::Value = serde_json::from_slice(pretty).unwrap();
    serde_json::to_vec(&value).unwrap()
}

fn triggers(c: &mut Criterion) {
    let origin = root().join("origin-site");
    let site = alien_cards();
    let cards_spec = &site.tables["cards"];
    let cards = read_items_file(&origin.join("data/cards.json"), cards_spec).unwrap();
    let templates = templates(&origin);
    let functions = site.functions;
    for (name, trigger) in CASES {
        // Compact, as Lambda delivers events; the fixtures are pretty-printed for people.
        let pretty = std::fs::read(root().join("tests/fixtures").join(format!("{name}.json")))
            .expect("fixture");
        let bytes = compact(&pretty);
        let store = MemoryStore::new().with_table(&cards_spec.table(), cards.clone());
        let mut group = c.benchmark_group(*name);
        group.bench_function("bytes", |b| {
            b.iter(|| {
                let mut event = parse_event(black_box(&bytes)).unwrap();
                let cf = event.records.swap_remove(0).cf;
                let needs = functions.needs(*trigger, &cf);
                let data = if needs.is_empty() {
                    Supplied::default()
                } else {
                    Supplied::fetch(&needs, &store, &templates, &NO_CALLS)
                };
                let result = functions.run_owned(*trigger, cf, &data).unwrap();
                serde_json::to_vec(&result).unwrap()
            })
        });
        let cf = parse_event(&bytes).unwrap().records.swap_remove(0).cf;
        let data = Supplied::fetch(
            &functions.needs(*trigger, &cf),
            &store,
            &templates,
            &NO_CALLS,
        );
        group.bench_function("function", |b| {
            b.iter_batched(
                || cf.clone(),
                |cf| functions.run_owned(*trigger, cf, &data).unwrap(),
                BatchSize::SmallInput,
            )
        });
        // The same with the event's copy and the result's drop in the loop: steady allocation,
        // so the figure does not depend on how the allocator handles a batch's large frees.
        group.bench_function("function-steady", |b| {
            b.iter(|| functions.run_owned(*trigger, cf.clone(), &data).unwrap())
        });
        // Where `bytes` goes: the parse and the serialization on their own.
        group.bench_function("parse", |b| {
            b.iter(|| parse_event(black_box(&bytes)).unwrap())
        });
        let result = functions.run(*trigger, &cf, &data).unwrap();
        group.bench_function("serialize", |b| {
            b.iter(|| serde_json::to_vec(black_box(&result)).unwrap())
        });
        group.finish();
    }
}

/// The validator's own cost on a typical result: what `invoke` and the local distribution add.
fn validator(c: &mut Criterion) {
    let bytes =
        std::fs::read(root().join("tests/fixtures/viewer-request/pretty-url.json")).unwrap();
    let cf = parse_event(&bytes).unwrap().records.swap_remove(0).cf;
    let functions = alien_cards().functions;
    let result = functions
        .run(EventType::ViewerRequest, &cf, &Supplied::default())
        .unwrap();
    c.bench_function("validate/viewer-request/pretty-url", |b| {
        b.iter(|| rules::validate(EventType::ViewerRequest, black_box(&cf), black_box(&result)))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40);
    targets = triggers, validator
}
criterion_main!(benches);

/// The Alien Cards functions, from its declaration.
fn alien_cards() -> edge_functions::site::Site {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cloudfront/alien-cards.site.toml");
    match edge_functions::site::load_file(&path, &edge_functions::site::Registry::builtin(), None) {
        Ok(site) => site,
        Err(e) => panic!("{e}"),
    }
}
