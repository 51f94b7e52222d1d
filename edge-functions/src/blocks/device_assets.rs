//! Device-specific assets: phones, tablets and TVs get `/css/mobile/...` instead of `/css/...`.

use serde::{Deserialize, Serialize};

use crate::data::Supplied;
use crate::event::{Origin, Request};
use crate::function::{
    Flow, FunctionError, HeaderReads, OriginRequestStep, PathSpec, Paths, RequestEdit,
};

/// Rewrites `prefix…` to `device_prefix…` when a `CloudFront-Is-<Device>-Viewer` header listed in
/// `devices` is `true`. The cache policy must put those headers in the cache key, or one device
/// would get another's files.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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

    fn paths(&self) -> Paths {
        Paths::Only(vec![PathSpec::Prefix(self.prefix.clone())])
    }
}

impl crate::site::Block for DeviceAssets {
    const NAME: &'static str = "device-assets";
    const SUMMARY: &'static str = "Device-specific assets: phones, tablets or TVs (CloudFront's \
`CloudFront-Is-<Device>-Viewer` headers) get `<device_prefix>…` instead of `<prefix>…`. \
Origin-request: CloudFront adds the device headers after viewer-request, and only where the cache \
policy lists them, which it must (or one device gets another's files).";
    const RUNS_ON: &'static [crate::EventType] = &[crate::EventType::OriginRequest];
    const EXAMPLE: &'static str = r#"prefix = "/css/"
device_prefix = "/css/mobile/"
devices = ["mobile", "tablet", "smarttv"]"#;

    fn build(self, _site: &crate::site::SiteContext) -> Result<crate::site::Steps, String> {
        const DEVICES: [&str; 4] = ["desktop", "mobile", "tablet", "smarttv"];
        if let Some(bad) = self.devices.iter().find(|d| !DEVICES.contains(&d.as_str())) {
            return Err(format!(
                "unknown device `{bad}`: CloudFront's are {}",
                DEVICES.join(", ")
            ));
        }
        Ok(crate::site::Steps {
            origin_request: Some(std::sync::Arc::new(self)),
            ..Default::default()
        })
    }
}
