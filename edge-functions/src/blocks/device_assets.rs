//! Device-specific assets: phones, tablets and TVs get `/css/mobile/...` instead of `/css/...`.

use serde::{Deserialize, Serialize};

use crate::data::Supplied;
use crate::event::{Origin, Request};
use crate::function::{Flow, FunctionError, HeaderReads, OriginRequestStep, RequestEdit};

/// Rewrites `prefix…` to `device_prefix…` when a `CloudFront-Is-<Device>-Viewer` header listed in
/// `devices` is `true`. The cache policy must put those headers in the cache key, or one device
/// would get another's files.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceAssets {
    pub prefix: String,
    pub device_prefix: String,
    /// Device names as CloudFront spells them in its headers: `mobile`, `tablet`, `smarttv`.
    pub devices: Vec<String>,
}

impl DeviceAssets {
    /// Whether the request comes from one of the listed devices.
    pub fn matches(&self, request: &Request) -> bool {
        self.devices.iter().any(|device| {
            let name = format!("cloudfront-is-{device}-viewer");
            request.headers.get(&name) == Some("true")
        })
    }
}

impl OriginRequestStep for DeviceAssets {
    fn origin_request(
        &self,
        request: &mut RequestEdit<'_>,
        _origin: &mut Option<Origin>,
        _data: &Supplied,
    ) -> Result<Flow, FunctionError> {
        if let Some(rest) = request.uri.strip_prefix(self.prefix.as_str())
            && !request.uri.starts_with(self.device_prefix.as_str())
            && self.matches(request)
        {
            let uri = format!("{}{}", self.device_prefix, rest);
            request.set_uri(uri);
        }
        Ok(Flow::Continue)
    }

    fn header_reads(&self, reads: &mut HeaderReads) {
        for device in &self.devices {
            reads.request(&format!("cloudfront-is-{device}-viewer"));
        }
    }
}
