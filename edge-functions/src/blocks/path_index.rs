//! An index of path rules (exact paths, prefixes, segment patterns) that names the few rules a
//! path may match without trying each one: a redirect table of ten thousand rules costs about
//! what a table of ten does.
//!
//! The index only narrows: it returns every rule that could match (a superset, in no order), and
//! the caller checks each candidate for real, in rule order. Exact paths are one hash lookup.
//! Prefixes and patterns live in a tree of path segments: a pattern's capture is a wildcard
//! edge; a prefix sits at the node of its whole segments, keyed by the part of its last
//! segment it gives (`/old` is the node of `/`, part `old`; `/old/` the node of `/old`, part ``).
//! A lookup walks the path's segments once (following the wildcard edge too, where there is
//! one), so it costs per segment of the path, not per rule.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use crate::blocks::Fnv1a;
use crate::blocks::path_pattern::PathPattern;

type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv1a>>;

/// What a rule matches, as the index files it.
#[derive(Debug, Clone, Copy)]
pub enum PathKey<'a> {
    Exact(&'a str),
    Prefix(&'a str),
    Pattern(&'a PathPattern),
}

#[derive(Debug, Clone, Default)]
pub struct PathIndex {
    exact: FnvMap<Box<str>, Vec<u32>>,
    /// `nodes[0]` is the root: the path before its first segment.
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, Default)]
struct Node {
    literal: FnvMap<Box<str>, u32>,
    wildcard: Option<u32>,
    /// Prefix rules whose whole segments lead here, by the part of the next segment they give.
    prefixes: FnvMap<Box<str>, Vec<u32>>,
    /// The lengths of those parts, ascending and without repeats.
    prefix_lengths: Vec<usize>,
    /// Pattern rules whose segments end here.
    patterns: Vec<u32>,
}

impl PathIndex {
    pub fn new() -> PathIndex {
        PathIndex {
            exact: FnvMap::default(),
            nodes: vec![Node::default()],
        }
    }

    /// Files rule number `rule` under `key`.
    pub fn insert(&mut self, key: PathKey<'_>, rule: u32) {
        match key {
            PathKey::Exact(path) => self.exact.entry(path.into()).or_default().push(rule),
            PathKey::Prefix(prefix) => {
                let (whole, part) = match prefix.rsplit_once('/') {
                    Some((whole, part)) => (Some(whole), part),
                    None => (None, prefix),
                };
                let mut node = 0;
                if let Some(whole) = whole {
                    for segment in whole.split('/') {
                        node = self.literal_child(node, segment);
                    }
                }
                let node = &mut self.nodes[node as usize];
                node.prefixes.entry(part.into()).or_default().push(rule);
                if let Err(at) = node.prefix_lengths.binary_search(&part.len()) {
                    node.prefix_lengths.insert(at, part.len());
                }
            }
            PathKey::Pattern(pattern) => {
                let mut node = 0;
                for segment in pattern.segments() {
                    node = match segment {
                        Some(literal) => self.literal_child(node, literal),
                        None => self.wildcard_child(node),
                    };
                }
                self.nodes[node as usize].patterns.push(rule);
            }
        }
    }

    /// The exact rules for `path`, in the order they were filed.
    pub fn exact(&self, path: &str) -> &[u32] {
        self.exact.get(path).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Adds to `out` every prefix or pattern rule that may match `path` (unordered, possibly
    /// with rules that do not match: the caller checks).
    pub fn candidates(&self, path: &str, out: &mut Vec<u32>) {
        self.walk(0, Some(path), out);
    }

    /// At `node`, with `rest` the path after the segments consumed so far (`None`: the path
    /// ended with the last one).
    fn walk(&self, node: u32, rest: Option<&str>, out: &mut Vec<u32>) {
        let node = &self.nodes[node as usize];
        let Some(rest) = rest else {
            out.extend_from_slice(&node.patterns);
            return;
        };
        let (segment, after) = match rest.split_once('/') {
            Some((segment, after)) => (segment, Some(after)),
            None => (rest, None),
        };
        for &length in &node.prefix_lengths {
            if length > segment.len() {
                break;
            }
            if let Some(part) = segment.get(..length)
                && let Some(rules) = node.prefixes.get(part)
            {
                out.extend_from_slice(rules);
            }
        }
        if let Some(&child) = node.literal.get(segment) {
            self.walk(child, after, out);
        }
        if let Some(child) = node.wildcard.filter(|_| !segment.is_empty()) {
            self.walk(child, after, out);
        }
    }

    fn literal_child(&mut self, node: u32, segment: &str) -> u32 {
        if let Some(&child) = self.nodes[node as usize].literal.get(segment) {
            return child;
        }
        let child = self.push_node();
        self.nodes[node as usize]
            .literal
            .insert(segment.into(), child);
        child
    }

    fn wildcard_child(&mut self, node: u32) -> u32 {
        if let Some(child) = self.nodes[node as usize].wildcard {
            return child;
        }
        let child = self.push_node();
        self.nodes[node as usize].wildcard = Some(child);
        child
    }

    fn push_node(&mut self) -> u32 {
        self.nodes.push(Node::default());
        u32::try_from(self.nodes.len() - 1).expect("fewer than 2^32 path segments")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(keys: &[(&str, &str)]) -> (PathIndex, Vec<PathPattern>) {
        let patterns: Vec<PathPattern> = keys
            .iter()
            .filter(|(kind, _)| *kind == "pattern")
            .map(|(_, p)| PathPattern::parse(p).unwrap())
            .collect();
        let mut index = PathIndex::new();
        let mut next_pattern = patterns.iter();
        for (n, (kind, key)) in keys.iter().enumerate() {
            let key = match *kind {
                "exact" => PathKey::Exact(key),
                "prefix" => PathKey::Prefix(key),
                _ => PathKey::Pattern(next_pattern.next().unwrap()),
            };
            index.insert(key, n as u32);
        }
        (index, patterns)
    }

    fn candidates(index: &PathIndex, path: &str) -> Vec<u32> {
        let mut out = Vec::new();
        index.candidates(path, &mut out);
        out.sort_unstable();
        out
    }

    #[test]
    fn prefixes_and_patterns_are_found_by_segment() {
        let (index, _) = index(&[
            ("prefix", "/old/"),
            ("prefix", "/old"),
            ("pattern", "/blog/{year}/{slug}"),
            ("pattern", "/{lang}/guide"),
            ("prefix", "/"),
            ("exact", "/old/a"),
            ("prefix", "/docs/v1/api"),
            ("prefix", "old"),
        ]);
        assert_eq!(candidates(&index, "/old/a"), vec![0, 1, 4]);
        assert_eq!(index.exact("/old/a"), &[5]);
        assert_eq!(candidates(&index, "/older"), vec![1, 4]);
        assert_eq!(candidates(&index, "/old"), vec![1, 4]);
        assert_eq!(candidates(&index, "/blog/2026/edge"), vec![2, 4]);
        assert_eq!(
            candidates(&index, "/blog/2026/"),
            vec![4],
            "no empty capture"
        );
        assert_eq!(candidates(&index, "/blog/2026/edge/more"), vec![4]);
        assert_eq!(candidates(&index, "/de/guide"), vec![3, 4]);
        assert_eq!(candidates(&index, "/docs/v1/api-keys"), vec![4, 6]);
        assert_eq!(candidates(&index, "/docs/v1/ap"), vec![4]);
        assert!(index.exact("/nothing").is_empty());
    }

    /// The index never loses a rule that matches: every candidate set contains each rule a
    /// plain scan finds.
    #[test]
    fn it_finds_what_a_scan_finds() {
        let keys = [
            ("prefix", "/a/"),
            ("prefix", "/a"),
            ("prefix", "/a/b"),
            ("prefix", "/ab/c/"),
            ("pattern", "/a/{x}"),
            ("pattern", "/{x}/b"),
            ("pattern", "/{x}/{y}/c"),
            ("pattern", "/a/b/c"),
            ("prefix", "/"),
            ("prefix", "/é"),
        ];
        let (index, patterns) = index(&keys);
        let paths = [
            "/", "/a", "/a/", "/a/b", "/a/b/", "/a/b/c", "/ab", "/ab/c/d", "/x/b", "/x/y/c",
            "/a//b", "//", "/é", "/éa/b", "/b/b/c",
        ];
        for path in paths {
            let found = candidates(&index, path);
            let mut next_pattern = patterns.iter();
            for (n, (kind, key)) in keys.iter().enumerate() {
                let matches = match *kind {
                    "prefix" => path.starts_with(key),
                    _ => next_pattern.next().unwrap().captures(path).is_some(),
                };
                if matches {
                    assert!(found.contains(&(n as u32)), "{path}: rule {n} ({key}) lost");
                }
            }
        }
    }
}
