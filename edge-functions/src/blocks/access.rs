//! Access rules that need no sign-in: a maintenance switch, hotlink protection (a Referer
//! allow-list) and an address allow-list, shared by both ([`Cidr`]).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::data::Supplied;
use crate::event::Response;
use crate::function::{Flow, HeaderReads, RequestEdit, ViewerRequestStep};

/// An address block, `203.0.113.0/24` or `2001:db8::/32` (a bare address is one address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    bits: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let bad = || format!("`{text}` is not an address or address block (203.0.113.0/24)");
        let (address, bits) = match text.split_once('/') {
            Some((address, bits)) => (address, Some(bits)),
            None => (text, None),
        };
        let network: IpAddr = address.parse().map_err(|_| bad())?;
        let most = if network.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            Some(bits) => bits
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= most)
                .ok_or_else(bad)?,
            None => most,
        };
        Ok(Cidr { network, bits })
    }

    pub fn contains(&self, address: &str) -> bool {
        let Ok(address) = address.parse::<IpAddr>() else {
            return false;
        };
        let (network, address, width) = match (self.network, address) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                (u128::from(n.to_bits()), u128::from(a.to_bits()), 32)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => (n.to_bits(), a.to_bits(), 128),
            _ => return false,
        };
        let shift = width - u32::from(self.bits);
        shift >= width || network >> shift == address >> shift
    }
}

fn cidrs(texts: &[String]) -> Result<Vec<Cidr>, String> {
    texts.iter().map(|t| Cidr::parse(t)).collect()
}

/// The `maintenance` block: while `enabled`, every request gets a 503 page with `Retry-After`,
/// except from listed addresses and for listed paths.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Maintenance {
    /// The switch: set it and deploy the content (no code change).
    pub enabled: bool,
    /// The page's HTML: the site's own words (a visitor reads them).
    pub page: String,
    #[serde(default = "an_hour")]
    pub retry_after_secs: u64,
    /// Addresses or blocks that see the site as usual (the team checking its work).
    #[serde(default)]
    pub allow_addresses: Vec<String>,
    /// Paths that stay up (a status page, the assets the page uses).
    #[serde(default)]
    pub allow_prefixes: Vec<String>,
    #[serde(skip)]
    allowed: Vec<Cidr>,
}

fn an_hour() -> u64 {
    3600
}

impl ViewerRequestStep for Maintenance {
    fn viewer_request(&self, request: &mut RequestEdit<'_>, _data: &Supplied) -> Flow {
        if !self.enabled
            || self
                .allow_prefixes
                .iter()
                .any(|p| request.uri.starts_with(p.as_str()))
            || self.allowed.iter().any(|c| c.contains(&request.client_ip))
        {
            return Flow::Continue;
        }
        let mut response = Response::new(503);
        response
            .headers
            .set("Content-Type", "text/html; charset=utf-8");
        response.headers.set("Cache-Control", "no-store");
        response
            .headers
            .set("Retry-After", self.retry_after_secs.to_string());
        response.body = Some(self.page.clone());
        Flow::Respond(response)
    }

    fn header_reads(&self, _reads: &mut HeaderReads) {}
}

impl crate::site::Block for Maintenance {
    const NAME: &'static str = "maintenance";
    const SUMMARY: &'static str = "A maintenance switch: while `enabled`, every request is answered \
503 with the site's `page` (HTML), `Retry-After` and `no-store`, except from `allow_addresses` (addresses or \
blocks such as 203.0.113.0/24) and for `allow_prefixes`. Turning it on or off is a content change. \
Viewer-request: it must answer before the cache serves a page.";
    const RUNS_ON: &'static [crate::EventType] = &[crate::EventType::ViewerRequest];
    const EXAMPLE: &'static str = r#"enabled = true
page = "<!doctype html><title>Down for maintenance</title><h1>Back at 10:00 UTC</h1>"
retry_after_secs = 1800
allow_addresses = ["203.0.113.0/24"]
allow_prefixes = ["/status", "/css/"]"#;

    fn build(mut self, _site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
        self.allowed = cidrs(&self.allow_addresses)?;
        Ok(crate::site::Steps {
            viewer_request: Some(std::sync::Arc::new(self)),
            ..Default::default()
        })
    }
}

/// The `hotlink-protection` block: files under `prefixes` are served only to pages of the
/// listed hosts (by `Referer`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HotlinkProtection {
    /// Hosts whose pages may embed the files: `example.com`, or `*.example.com` for its
    /// subdomains.
    pub allowed_hosts: Vec<String>,
    /// The protected paths' prefixes (`/images/`).
    pub prefixes: Vec<String>,
    /// A request without a `Referer` (typed in, privacy settings, some apps) is served.
    #[serde(default = "yes")]
    pub allow_no_referer: bool,
}

fn yes() -> bool {
    true
}

impl HotlinkProtection {
    fn allowed(&self, referer: Option<&str>) -> bool {
        let Some(referer) = referer else {
            return self.allow_no_referer;
        };
        let host = referer
            .split_once("://")
            .map(|(_, rest)| rest)
            .unwrap_or(referer)
            .split(['/', '?', '#'])
            .next()
            .unwrap_or_default();
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
        self.allowed_hosts
            .iter()
            .any(|allowed| match allowed.strip_prefix("*.") {
                Some(domain) => host
                    .strip_suffix(domain)
                    .is_some_and(|sub| sub.ends_with('.') && sub.len() > 1),
                None => host == *allowed,
            })
    }
}

impl ViewerRequestStep for HotlinkProtection {
    fn viewer_request(&self, request: &mut RequestEdit<'_>, _data: &Supplied) -> Flow {
        if !self
            .prefixes
            .iter()
            .any(|p| request.uri.starts_with(p.as_str()))
            || self.allowed(request.headers.get("referer"))
        {
            return Flow::Continue;
        }
        let mut response = Response::new(403);
        response.headers.set("Cache-Control", "no-store");
        Flow::Respond(response)
    }

    fn header_reads(&self, reads: &mut HeaderReads) {
        reads.request("referer");
    }
}

impl crate::site::Block for HotlinkProtection {
    const NAME: &'static str = "hotlink-protection";
    const SUMMARY: &'static str = "Hotlink protection: files under `prefixes` are served only when the \
`Referer` is a page of `allowed_hosts` (`example.com`, `*.example.com`); others get 403. A request \
without a Referer is served unless `allow_no_referer = false`. Viewer-request: the Referer differs \
per visitor and is not in the cache key, so the check must run before the cache answers.";
    const RUNS_ON: &'static [crate::EventType] = &[crate::EventType::ViewerRequest];
    const EXAMPLE: &'static str = r#"allowed_hosts = ["example.com", "*.example.com"]
prefixes = ["/images/"]
allow_no_referer = true"#;

    fn build(mut self, _site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
        if self.prefixes.is_empty() {
            return Err("prefixes is empty: name the paths to protect (/images/)".into());
        }
        for host in &mut self.allowed_hosts {
            if host.is_empty() || host.contains(['/', ':', ' ']) {
                return Err(format!(
                    "`{host}` is not a host (example.com, or *.example.com)"
                ));
            }
            *host = host.to_ascii_lowercase();
        }
        Ok(crate::site::Steps {
            viewer_request: Some(std::sync::Arc::new(self)),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Request;

    #[test]
    fn address_blocks_contain_their_addresses() {
        let v4 = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(v4.contains("203.0.113.77"));
        assert!(!v4.contains("203.0.114.1"));
        assert!(!v4.contains("2001:db8::1"));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("8.8.8.8"));
        assert!(Cidr::parse("192.0.2.1").unwrap().contains("192.0.2.1"));
        assert!(!Cidr::parse("192.0.2.1").unwrap().contains("192.0.2.2"));
        assert!(
            Cidr::parse("2001:db8::/32")
                .unwrap()
                .contains("2001:db8:1::5")
        );
        assert!(
            !Cidr::parse("2001:db8::/32")
                .unwrap()
                .contains("not an address")
        );
        for bad in ["203.0.113.0/33", "x/8", "", "1.2.3.4/"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn maintenance_answers_503_except_for_the_team_and_allowed_paths() {
        let maintenance = Maintenance {
            enabled: true,
            page: "down".into(),
            retry_after_secs: 60,
            allow_addresses: vec![],
            allow_prefixes: vec!["/status".into()],
            allowed: vec![Cidr::parse("203.0.113.0/24").unwrap()],
        };
        let answer = |ip: &str, uri: &str| {
            let mut request = Request {
                client_ip: ip.into(),
                uri: uri.into(),
                ..Default::default()
            };
            match maintenance
                .viewer_request(&mut RequestEdit::new(&mut request), &Supplied::default())
            {
                Flow::Respond(r) => Some(r),
                Flow::Continue => None,
            }
        };
        let down = answer("198.51.100.1", "/").unwrap();
        assert_eq!(down.status, "503");
        assert_eq!(down.headers.get("retry-after"), Some("60"));
        assert_eq!(down.body.as_deref(), Some("down"));
        assert!(answer("203.0.113.9", "/").is_none());
        assert!(answer("198.51.100.1", "/status").is_none());
    }

    #[test]
    fn only_pages_of_the_allowed_hosts_may_embed() {
        let block = HotlinkProtection {
            allowed_hosts: vec!["example.com".into(), "*.example.com".into()],
            prefixes: vec!["/images/".into()],
            allow_no_referer: true,
        };
        assert!(block.allowed(Some("https://example.com/page")));
        assert!(block.allowed(Some("https://www.Example.com:443/a?b")));
        assert!(block.allowed(None));
        assert!(!block.allowed(Some("https://evil.com/example.com")));
        assert!(!block.allowed(Some("https://notexample.com/")));
        assert!(!block.allowed(Some("https://example.com.evil.com/")));
        assert!(!block.allowed(Some("https://example.com@evil.com/")));
        assert!(!block.allowed(Some("https://.example.com/")));
        let strict = HotlinkProtection {
            allow_no_referer: false,
            ..block
        };
        assert!(!strict.allowed(None));
    }
}
