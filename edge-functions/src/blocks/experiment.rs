//! An A/B experiment: each visitor gets a variant, stable once assigned, visible to the origin.

use serde::{Deserialize, Serialize};

use std::hash::Hasher;

use crate::blocks::Fnv1a;
use crate::data::Supplied;
use crate::event::{Headers, Request};
use crate::function::{Flow, HeaderReads, RequestEdit, ViewerRequestStep, ViewerResponseStep};

/// One arm of the experiment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: String,
    /// Relative share of new visitors.
    pub weight: u32,
    /// The variant's own copy of the experiment's paths (`/next`: `/assets/app.js` is served
    /// from `/next/assets/app.js`). None: the paths as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// Viewer-request: the variant from the visitor's cookie, or a new one picked from a hash of the
/// visitor's address and User-Agent (so the same visitor gets the same one even before the
/// cookie sticks), passed to the origin in `header`. Viewer-response: sets the cookie when the
/// visitor did not send it yet. Put `header` in the cache key of pages that differ by variant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    pub cookie: String,
    pub header: String,
    pub variants: Vec<Variant>,
    #[serde(default = "default_max_age")]
    pub max_age_secs: u64,
    #[serde(default = "default_true")]
    pub secure_cookie: bool,
    /// The paths a variant's `prefix` applies to (`/assets/`); none: every path.
    #[serde(default)]
    pub prefixes: Vec<String>,
}

fn default_max_age() -> u64 {
    30 * 24 * 3600
}

fn default_true() -> bool {
    true
}

impl Experiment {
    fn known(&self, name: &str) -> bool {
        self.variants.iter().any(|v| v.name == name)
    }

    /// Picks a variant for a visitor without the cookie.
    pub fn assign(&self, request: &Request) -> Option<&Variant> {
        let total: u64 = self.variants.iter().map(|v| u64::from(v.weight)).sum();
        if total == 0 {
            return None;
        }
        let mut hash = Fnv1a::default();
        hash.write(request.client_ip.as_bytes());
        hash.write(b"\0");
        hash.write(request.headers.get("user-agent").unwrap_or("").as_bytes());
        let mut point = hash.finish() % total;
        self.variants.iter().find(|v| {
            let weight = u64::from(v.weight);
            if point < weight {
                true
            } else {
                point -= weight;
                false
            }
        })
    }

    /// The `Set-Cookie` value that keeps a variant.
    pub fn set_cookie(&self, variant: &str) -> String {
        crate::blocks::set_cookie(&self.cookie, variant, self.max_age_secs, self.secure_cookie)
    }
}

impl ViewerRequestStep for Experiment {
    fn viewer_request(&self, request: &mut RequestEdit<'_>, _data: &Supplied) -> Flow {
        let variant = match request.headers.cookie(&self.cookie) {
            Some(name) if self.known(name) => Some(name.to_owned()),
            _ => self.assign(request).map(|v| v.name.clone()),
        };
        // Always overwrite: a viewer may not choose its variant by sending the header.
        match variant {
            Some(name) => {
                // The variant's own copy: the URI (and so the cache key) differs by variant.
                let prefix = self
                    .variants
                    .iter()
                    .find(|v| v.name == name)
                    .and_then(|v| v.prefix.as_deref());
                if let Some(prefix) = prefix
                    && crate::blocks::in_scope(&self.prefixes, &request.uri)
                {
                    let uri = format!("{prefix}{}", request.uri);
                    request.set_uri(uri);
                }
                request.headers_mut().set(&self.header, name)
            }
            None => {
                request
                    .headers_mut()
                    .remove(&self.header.to_ascii_lowercase());
            }
        }
        Flow::Continue
    }

    /// The cookie, the User-Agent it hashes, and its header, which it overwrites or removes.
    fn header_reads(&self, reads: &mut HeaderReads) {
        reads.request("cookie");
        reads.request("user-agent");
        reads.request(&self.header);
    }
}

impl ViewerResponseStep for Experiment {
    fn viewer_response(&self, request: &Request, _status: u16, headers: &mut Headers) {
        let header = self.header.to_ascii_lowercase();
        let Some(variant) = request.headers.get(&header) else {
            return;
        };
        if request.headers.cookie(&self.cookie) != Some(variant) && self.known(variant) {
            headers.append("Set-Cookie", self.set_cookie(variant));
        }
    }

    /// The variant and cookie the viewer sent, and the `Set-Cookie` it appends to.
    fn header_reads(&self, reads: &mut HeaderReads) {
        reads.request("cookie");
        reads.request(&self.header);
        reads.response("set-cookie");
    }
}

impl crate::site::Block for Experiment {
    const NAME: &'static str = "experiment";
    const SUMMARY: &'static str = "An A/B experiment: viewer-request gives each visitor a variant (from its cookie, \
else by weight from a hash of address and User-Agent) in a request header; viewer-response sets \
the cookie. A variant with a `prefix` is served its own copy of the paths under `prefixes` \
(`/next/assets/app.js` for `/assets/app.js`): the URI differs, so the cache keeps each variant's \
copy apart. Otherwise put the header in the cache key of pages that differ by variant. To send a \
variant to its own origin, add an `origin-router` rule on the header (`header = { name = ..., \
values = [\"b\"] }`) and forward the header to origin-request.";
    const RUNS_ON: &'static [crate::EventType] = &[
        crate::EventType::ViewerRequest,
        crate::EventType::ViewerResponse,
    ];
    const EXAMPLE: &'static str = r#"cookie = "variant"
header = "X-Experiment-Variant"
variants = [{ name = "a", weight = 50 }, { name = "b", weight = 50, prefix = "/b" }]
prefixes = ["/assets/"]
max_age_secs = 2592000
secure_cookie = true"#;

    fn build(self, _site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
        if self.variants.iter().all(|v| v.weight == 0) {
            return Err("`variants` needs at least one variant with a weight above 0".into());
        }
        for variant in &self.variants {
            if let Some(prefix) = &variant.prefix
                && (!prefix.starts_with('/') || prefix.ends_with('/') || prefix.len() < 2)
            {
                return Err(format!(
                    "variant `{}`: `prefix` `{prefix}` must start with / and not end with one (/b)",
                    variant.name
                ));
            }
        }
        if let Some(bad) = self.prefixes.iter().find(|p| !p.starts_with('/')) {
            return Err(format!("`prefixes`: `{bad}` does not start with /"));
        }
        let block = std::sync::Arc::new(self);
        Ok(crate::site::Steps {
            viewer_request: Some(block.clone()),
            viewer_response: Some(block),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn experiment() -> Experiment {
        Experiment {
            cookie: "alien-variant".into(),
            header: "X-Experiment-Variant".into(),
            variants: vec![
                Variant {
                    name: "a".into(),
                    weight: 1,
                    prefix: None,
                },
                Variant {
                    name: "b".into(),
                    weight: 1,
                    prefix: None,
                },
            ],
            max_age_secs: 60,
            secure_cookie: true,
            prefixes: Vec::new(),
        }
    }

    fn request(ip: &str, cookie: Option<&str>) -> Request {
        let mut request = Request {
            client_ip: ip.into(),
            uri: "/".into(),
            ..Default::default()
        };
        request.headers.set("User-Agent", "test");
        if let Some(c) = cookie {
            request.headers.set("Cookie", c);
        }
        request
    }

    #[test]
    fn a_cookie_keeps_the_variant_and_a_forged_header_is_overwritten() {
        let mut r = request("1.2.3.4", Some("x=1; alien-variant=b"));
        r.headers.set("X-Experiment-Variant", "zzz");
        experiment().viewer_request(&mut RequestEdit::new(&mut r), &Supplied::default());
        assert_eq!(r.headers.get("x-experiment-variant"), Some("b"));
        let mut response = Headers::new();
        experiment().viewer_response(&r, 200, &mut response);
        assert!(
            response.get("set-cookie").is_none(),
            "no cookie when the visitor has it"
        );
    }

    #[test]
    fn new_visitors_get_a_stable_variant_and_a_cookie() {
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..64 {
            let ip = format!("10.0.0.{i}");
            let mut first = request(&ip, None);
            let mut again = request(&ip, Some("alien-variant=bogus"));
            experiment().viewer_request(&mut RequestEdit::new(&mut first), &Supplied::default());
            experiment().viewer_request(&mut RequestEdit::new(&mut again), &Supplied::default());
            let variant = first
                .headers
                .get("x-experiment-variant")
                .unwrap()
                .to_owned();
            assert_eq!(
                again.headers.get("x-experiment-variant"),
                Some(variant.as_str())
            );
            let mut response = Headers::new();
            experiment().viewer_response(&first, 200, &mut response);
            let cookie = response.get("set-cookie").unwrap();
            assert!(
                cookie.starts_with(&format!("alien-variant={variant};")),
                "{cookie}"
            );
            assert!(cookie.contains("Secure") && cookie.contains("SameSite=Lax"));
            seen.insert(variant);
        }
        assert_eq!(seen.len(), 2, "both variants are assigned");
    }

    #[test]
    fn a_variant_with_a_prefix_gets_its_own_copy_of_the_covered_paths() {
        let mut experiment = experiment();
        experiment.variants[1].prefix = Some("/next".into());
        experiment.prefixes = vec!["/assets/".into()];
        let run = |uri: &str, cookie: &str| {
            let mut r = request("1.2.3.4", Some(cookie));
            r.uri = uri.into();
            experiment.viewer_request(&mut RequestEdit::new(&mut r), &Supplied::default());
            (
                r.uri,
                r.headers.get("x-experiment-variant").map(str::to_owned),
            )
        };
        assert_eq!(
            run("/assets/app.js", "alien-variant=b"),
            ("/next/assets/app.js".into(), Some("b".into()))
        );
        assert_eq!(
            run("/assets/app.js", "alien-variant=a"),
            ("/assets/app.js".into(), Some("a".into()))
        );
        assert_eq!(
            run("/index.html", "alien-variant=b").0,
            "/index.html",
            "outside the covered paths"
        );
        use crate::site::Block;
        let mut bad = experiment.clone();
        bad.variants[1].prefix = Some("next/".into());
        assert!(
            bad.build(&Default::default())
                .err()
                .unwrap()
                .contains("must start with /")
        );
    }
}
