//! Each trigger's function of each example site on arbitrary events, with the site's items and
//! templates: the first byte picks the site and the trigger, the rest is the event. A bad event
//! is refused, a good one runs and its result is judged; nothing panics.
#![no_main]

use edge_functions::runner::invoke;
use edgekit_fuzz::{TRIGGERS, sites};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, event)) = data.split_first() else {
        return;
    };
    let sites = sites();
    let site = &sites[(selector as usize / TRIGGERS.len()) % sites.len()];
    let trigger = TRIGGERS[selector as usize % TRIGGERS.len()];
    let Ok(invocation) = invoke(
        &site.functions,
        trigger,
        event,
        edge_functions::runner::Sources::offline(&site.store, &site.templates),
    ) else {
        return;
    };
    if let Ok(result) = &invocation.result {
        serde_json::to_vec(result).expect("a result serializes");
        assert!(
            invocation.violations.is_empty(),
            "{:?}",
            invocation.violations
        );
    }
});
