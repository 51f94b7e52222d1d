//! A bulk redirect table of 10,000 rules: the `redirects` block's cost per event (budget 2 µs),
//! beside a linear scan of the same table, and the cost of building the table (paid once, on a
//! new instance's first event).
//!
//! The table mixes what a site migration produces: 6,000 exact paths, 2,500 prefixes and 1,500
//! patterns with captures, a tenth of them for one host, a twentieth dated. The requests: an
//! exact path, a prefix and a pattern each matched by a rule late in the table, and a path no
//! rule matches (what most requests are).
//!
//! Run: `cargo bench --bench redirect_table` (figures in BENCHMARKS.md).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use edge_functions::blocks::Redirects;
use edge_functions::blocks::path_pattern::{self, PathPattern};
use edge_functions::event::Request;
use edge_functions::function::{Flow, RequestEdit, ViewerRequestStep};
use serde_json::{Value, json};

const RULES: usize = 10_000;

/// The table, as a declaration gives it.
fn table() -> Value {
    let mut rules = Vec::with_capacity(RULES);
    for i in 0..RULES {
        let mut rule = match i % 20 {
            0..=11 => {
                json!({ "from": format!("/products/item-{i}.html"), "to": format!("/p/{i}") })
            }
            12..=16 => {
                json!({ "prefix": format!("/archive/{}/section-{i}/", i % 50), "to": format!("/s/{i}/") })
            }
            _ => json!({
                "pattern": format!("/catalog-{}/{{category}}/{{id}}/view-{i}", i % 40),
                "to": format!("/c/{{category}}/{{id}}?v={i}"),
            }),
        };
        if i % 10 == 3 {
            rule["host"] = json!("shop.example.com");
        }
        if i % 20 == 7 {
            rule["starts"] = json!("2026-01-01");
            rule["ends"] = json!("2099-01-01");
        }
        rules.push(rule);
    }
    json!({ "rules": rules, "status": 301 })
}

fn block(table: &Value) -> Redirects {
    serde_json::from_value::<Redirects>(table.clone())
        .expect("the table")
        .compile()
        .expect("a valid table")
}

/// The requests: (name, host, uri).
const REQUESTS: &[(&str, &str, &str)] = &[
    ("exact-late", "www.example.com", "/products/item-9980.html"),
    (
        "prefix-late",
        "www.example.com",
        "/archive/32/section-9932/old/page.html",
    ),
    (
        "pattern-late",
        "www.example.com",
        "/catalog-39/shoes/1234/view-9999",
    ),
    ("miss", "www.example.com", "/cards/da8398f4/index.html"),
];

fn request(host: &str, uri: &str) -> Request {
    let mut request = Request {
        uri: uri.to_owned(),
        querystring: "utm_source=mail".to_owned(),
        ..Default::default()
    };
    request.headers.set("Host", host);
    request
}

/// The same rules tried one by one (exact ones first, then the others in order), as a block
/// without an index would: what the index is measured against. Dates are taken as in force.
struct Scan {
    rules: Vec<ScanRule>,
}

struct ScanRule {
    from: Option<String>,
    prefix: Option<String>,
    pattern: Option<PathPattern>,
    to: String,
    host: Option<String>,
}

impl Scan {
    fn new(table: &Value) -> Scan {
        let text = |rule: &Value, field: &str| rule[field].as_str().map(str::to_owned);
        let rules = table["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .map(|rule| ScanRule {
                from: text(rule, "from"),
                prefix: text(rule, "prefix"),
                pattern: rule["pattern"]
                    .as_str()
                    .map(|p| PathPattern::parse(p).expect("a pattern")),
                to: text(rule, "to").expect("a target"),
                host: text(rule, "host"),
            })
            .collect();
        Scan { rules }
    }

    fn target(&self, host: &str, uri: &str) -> Option<String> {
        let for_host = |rule: &ScanRule| rule.host.as_deref().is_none_or(|h| h == host);
        for rule in &self.rules {
            if rule.from.as_deref() == Some(uri) && for_host(rule) {
                return Some(rule.to.clone());
            }
        }
        for rule in &self.rules {
            if !for_host(rule) {
                continue;
            }
            if let Some(prefix) = &rule.prefix
                && let Some(rest) = uri.strip_prefix(prefix.as_str())
            {
                return Some(format!("{}{rest}", rule.to));
            }
            if let Some(pattern) = &rule.pattern
                && let Some(captured) = pattern.captures(uri)
            {
                return Some(path_pattern::fill(&rule.to, &captured));
            }
        }
        None
    }
}

fn location(flow: Flow) -> Option<String> {
    match flow {
        Flow::Respond(response) => response.headers.get("location").map(str::to_owned),
        Flow::Continue => None,
    }
}

fn redirect_table(c: &mut Criterion) {
    let table = table();
    let block = block(&table);
    let scan = Scan::new(&table);
    // Both answer alike, or the comparison means nothing.
    for (name, host, uri) in REQUESTS {
        let indexed = location(block.viewer_request(
            &mut RequestEdit::new(&mut request(host, uri)),
            &edge_functions::data::Supplied::default(),
        ));
        let scanned = scan.target(host, uri);
        assert_eq!(
            indexed.as_deref().map(|l| l.split('?').next().unwrap_or(l)),
            scanned.as_deref().map(|l| l.split('?').next().unwrap_or(l)),
            "{name}"
        );
        assert_eq!(indexed.is_some(), *name != "miss", "{name}");
    }
    let mut group = c.benchmark_group("redirect-table-10k");
    for (name, host, uri) in REQUESTS {
        group.bench_function(format!("indexed/{name}"), |b| {
            b.iter_batched_ref(
                || request(host, uri),
                |request| {
                    black_box(block.viewer_request(
                        &mut RequestEdit::new(request),
                        &edge_functions::data::Supplied::default(),
                    ))
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_function(format!("linear-scan/{name}"), |b| {
            b.iter(|| black_box(scan.target(black_box(host), black_box(uri))))
        });
    }
    group.sample_size(10);
    group.bench_function("build-the-table", |b| {
        b.iter_batched(
            || table.clone(),
            |table| black_box(block_from(table)),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn block_from(table: Value) -> Redirects {
    serde_json::from_value::<Redirects>(table)
        .expect("the table")
        .compile()
        .expect("a valid table")
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40);
    targets = redirect_table
}
criterion_main!(benches);
