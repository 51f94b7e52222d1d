//! Headers for the origin, made from what CloudFront knows of the request: the visitor's
//! address (`True-Client-IP`) and query parameters copied into headers.

use serde::{Deserialize, Serialize};

use crate::data::Supplied;
use crate::event::Origin;
use crate::function::{Flow, FunctionError, HeaderReads, OriginRequestStep, RequestEdit};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterHeader {
    /// The query parameter (its first value, percent-decoded).
    pub parameter: String,
    pub header: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestHeaders {
    /// The header that carries the visitor's address (`True-Client-IP`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip_header: Option<String>,
    #[serde(default)]
    pub from_query: Vec<ParameterHeader>,
}

impl OriginRequestStep for RequestHeaders {
    fn origin_request(
        &self,
        request: &mut RequestEdit<'_>,
        _origin: &mut Option<Origin>,
        _data: &Supplied,
    ) -> Result<Flow, FunctionError> {
        if let Some(header) = &self.client_ip_header {
            let ip = request.client_ip.clone();
            request.headers_mut().set(header.as_str(), ip);
        }
        for copy in &self.from_query {
            let value = form_urlencoded::parse(request.querystring.as_bytes())
                .find(|(name, _)| *name == copy.parameter)
                .map(|(_, value)| value.into_owned());
            // A value a header may not carry is left out rather than sent broken.
            if let Some(value) = value.filter(|v| !v.is_empty() && !v.chars().any(char::is_control))
            {
                request.headers_mut().set(copy.header.as_str(), value);
            }
        }
        Ok(Flow::Continue)
    }

    fn header_reads(&self, _reads: &mut HeaderReads) {}
}

impl crate::site::Block for RequestHeaders {
    const NAME: &'static str = "request-headers";
    const SUMMARY: &'static str = "Headers for the origin from what CloudFront knows of the request: \
`client_ip_header` (such as `True-Client-IP`) carries the visitor's address, and `from_query` copies \
query parameters into headers (`{ parameter = \"lang\", header = \"X-Lang\" }`). Origin-request: it \
runs on cache misses only and what it adds goes straight to the origin (a header added at \
viewer-request reaches the origin only if the origin request policy forwards it).";
    const RUNS_ON: &'static [crate::EventType] = &[crate::EventType::OriginRequest];
    const EXAMPLE: &'static str = r#"client_ip_header = "True-Client-IP"
from_query = [{ parameter = "lang", header = "X-Lang" }]"#;

    fn build(self, _site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
        let names = self
            .client_ip_header
            .iter()
            .chain(self.from_query.iter().map(|c| &c.header));
        for name in names {
            if !crate::blocks::is_header_name(name) {
                return Err(format!("`{name}` is not a header name"));
            }
            // The validator's rules, found when the site is loaded rather than on a request.
            let lower = name.to_ascii_lowercase();
            if crate::rules::is_disallowed_header(&lower)
                || crate::rules::read_only_headers(crate::EventType::OriginRequest)
                    .contains(&lower.as_str())
            {
                return Err(format!(
                    "`{name}` is a header CloudFront does not let a function set"
                ));
            }
        }
        Ok(crate::site::Steps {
            origin_request: Some(std::sync::Arc::new(self)),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Request;

    #[test]
    fn the_address_and_query_parameters_become_headers() {
        let block = RequestHeaders {
            client_ip_header: Some("True-Client-IP".into()),
            from_query: vec![ParameterHeader {
                parameter: "lang".into(),
                header: "X-Lang".into(),
            }],
        };
        let mut request = Request {
            client_ip: "203.0.113.10".into(),
            querystring: "a=1&lang=pt%2DBR&lang=de".into(),
            ..Default::default()
        };
        block
            .origin_request(
                &mut RequestEdit::new(&mut request),
                &mut None,
                &Supplied::default(),
            )
            .unwrap();
        assert_eq!(request.headers.get("true-client-ip"), Some("203.0.113.10"));
        assert_eq!(request.headers.get("x-lang"), Some("pt-BR"));
    }
}
