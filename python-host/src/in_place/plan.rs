//! What each trigger's function reads, prepared once per trigger (and per origin status).

use super::*;

/// The header names one trigger's function reads, prepared once per trigger.
pub(super) enum Names {
    All,
    Only(Vec<ReadName>),
}

/// A header name a function reads, with what tells it apart quickly: every header of every
/// event is looked up here.
pub(super) struct ReadName {
    name: String,
    prefix: u64,
}

/// The first eight bytes of a name (padded): most names differ there.
pub(super) fn prefix(name: &str) -> u64 {
    let mut word = [0u8; 8];
    let n = name.len().min(8);
    word[..n].copy_from_slice(&name.as_bytes()[..n]);
    u64::from_le_bytes(word)
}

impl Names {
    pub(super) fn new(names: &HeaderNames) -> Names {
        match names {
            HeaderNames::All => Names::All,
            HeaderNames::Only(names) => Names::Only(
                names
                    .iter()
                    .map(|n| ReadName {
                        name: n.clone(),
                        prefix: prefix(n),
                    })
                    .collect(),
            ),
        }
    }

    pub(super) fn contains(&self, name: &str) -> bool {
        match self {
            Names::All => true,
            Names::Only(names) => {
                let first = prefix(name);
                names
                    .iter()
                    .any(|n| n.prefix == first && n.name.len() == name.len() && n.name == name)
            }
        }
    }
}

pub(super) struct Plan {
    pub(super) request: Names,
    pub(super) response: Names,
}

impl Plan {
    pub(super) fn new(reads: HeaderReads) -> Plan {
        Plan {
            request: Names::new(&reads.request),
            response: Names::new(&reads.response),
        }
    }
}

pub(super) static PLANS: PyOnceLock<[Plan; 4]> = PyOnceLock::new();

/// The origin-response plans by the origin's status, 100 to 599, made as statuses come.
pub(super) static ORIGIN_RESPONSE_PLANS: [std::sync::OnceLock<Plan>; 500] =
    [const { std::sync::OnceLock::new() }; 500];

/// What the trigger's function reads, whatever the event.
pub(super) fn plan(py: Python<'_>, trigger: EventType) -> PyResult<&'static Plan> {
    let plans = PLANS.get_or_try_init(py, || {
        let host = crate::host(py)?;
        Ok::<_, PyErr>(EventType::ALL.map(|t| Plan::new(host.functions.header_reads(t))))
    })?;
    // `EventType::ALL` lists the triggers in declaration order, so the discriminant indexes it.
    debug_assert_eq!(EventType::ALL[trigger as usize], trigger);
    Ok(&plans[trigger as usize])
}

/// What the origin-response function reads of a response with this status (the plan for any
/// status when it is not a number from 100 to 599).
pub(super) fn origin_response_plan(
    host: &crate::Host,
    any: &'static Plan,
    status: &str,
) -> &'static Plan {
    let Some(status) = status
        .parse::<u16>()
        .ok()
        .filter(|s| (100..600).contains(s))
    else {
        return any;
    };
    ORIGIN_RESPONSE_PLANS[usize::from(status - 100)]
        .get_or_init(|| Plan::new(host.functions.origin_response_reads(status)))
}
