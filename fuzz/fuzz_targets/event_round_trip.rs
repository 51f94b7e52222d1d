//! Event parsing: any bytes give an event or an error, never a panic; an event that parses
//! serializes, and parses back to the same event (unknown fields included). Each trigger's check
//! of what CloudFront sends runs on it too.
#![no_main]

use edge_functions::event::parse_event;
use edge_functions::runner::read_event;
use edgekit_fuzz::TRIGGERS;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for trigger in TRIGGERS {
        let _ = read_event(trigger, data);
    }
    let Ok(event) = parse_event(data) else {
        return;
    };
    let written = serde_json::to_vec(&event).expect("a parsed event serializes");
    let again = parse_event(&written).expect("a serialized event parses");
    assert_eq!(
        event, again,
        "parse -> serialize -> parse changed the event"
    );
});
