//! The validator on arbitrary results: the first byte picks the trigger, the rest is an event
//! and a result (JSON) separated by a NUL byte. Any result gets a verdict, never a panic.
#![no_main]

use edge_functions::runner::validate_json;
use edgekit_fuzz::{TRIGGERS, split_at_nul};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let trigger = TRIGGERS[selector as usize % TRIGGERS.len()];
    let (event, result) = split_at_nul(rest);
    let Ok(result) = serde_json::from_slice::<serde_json::Value>(result) else {
        return;
    };
    let _ = validate_json(trigger, event, &result);
});
