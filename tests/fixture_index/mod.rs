//! The fixture events the host parity tests replay: those whose expected output does not depend
//! on card data (no `.data.json`, no card query in the expected stderr). The data paths are
//! covered against DynamoDB in tests/dynamodb.rs and tests/python_host.rs.

use std::path::PathBuf;

pub const TRIGGERS: [&str; 4] = [
    "viewer-request",
    "origin-request",
    "origin-response",
    "viewer-response",
];

/// `(event file, expected output)` for each data-free fixture of `trigger`, in name order.
pub fn data_free(trigger: &str) -> Vec<(PathBuf, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(trigger);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && !p.to_string_lossy().ends_with(".data.json")
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|file| {
            let expected = std::fs::read_to_string(file.with_extension("expected")).unwrap();
            let data = file.with_file_name(format!(
                "{}.data.json",
                file.file_stem().unwrap().to_string_lossy()
            ));
            let reads_cards = ["\ndata: Get", "\ndata: List", "\ndata: AddLike"]
                .iter()
                .any(|d| expected.contains(d));
            (!data.exists() && !reads_cards).then_some((file, expected))
        })
        .collect()
}
