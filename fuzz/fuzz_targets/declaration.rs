//! The site declaration loader: arbitrary text as a declaration file (TOML, with its errors'
//! lines), and arbitrary JSON as the declaration a package carries. A mistake is an error.
#![no_main]

use std::path::Path;

use edge_functions::site::{Declaration, build, load};
use edgekit_fuzz::registry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = load(text, Path::new("fuzz.site.toml"), registry(), None);
    }
    if let Ok(declaration) = serde_json::from_slice::<Declaration>(data) {
        let _ = build(&declaration, registry(), None);
    }
});
