//! The world around the edge: the viewer's device from its User-Agent, and its country from a
//! per-address table, as CloudFront adds them in `CloudFront-Is-*-Viewer` and
//! `CloudFront-Viewer-Country`.

use crate::config::ViewerWorld;

/// The device classes CloudFront reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Desktop,
    Mobile,
    Tablet,
    SmartTv,
}

/// Classifies a User-Agent the way CloudFront's device headers do, closely enough for testing:
/// TVs first (their agents often also say "Mobile" or "Android"), then tablets, then phones.
pub fn device(user_agent: &str) -> Device {
    let ua = user_agent;
    const TV: [&str; 10] = [
        "SmartTV", "SMART-TV", "Smart-TV", "AppleTV", "GoogleTV", "HbbTV", "Roku", "CrKey",
        "Web0S", "BRAVIA",
    ];
    if TV.iter().any(|t| ua.contains(t)) || (ua.contains("Tizen") && ua.contains("TV")) {
        return Device::SmartTv;
    }
    if ua.contains("iPad")
        || ua.contains("Tablet")
        || (ua.contains("Android") && !ua.contains("Mobile"))
    {
        return Device::Tablet;
    }
    if ua.contains("Mobi")
        || ua.contains("iPhone")
        || ua.contains("iPod")
        || ua.contains("Windows Phone")
    {
        return Device::Mobile;
    }
    Device::Desktop
}

/// The `CloudFront-Is-*-Viewer` headers for a User-Agent: `(name, "true" | "false")`.
pub fn device_headers(user_agent: &str) -> [(&'static str, &'static str); 6] {
    let d = device(user_agent);
    let flag = |b: bool| if b { "true" } else { "false" };
    [
        ("CloudFront-Is-Desktop-Viewer", flag(d == Device::Desktop)),
        ("CloudFront-Is-Mobile-Viewer", flag(d == Device::Mobile)),
        ("CloudFront-Is-Tablet-Viewer", flag(d == Device::Tablet)),
        ("CloudFront-Is-SmartTV-Viewer", flag(d == Device::SmartTv)),
        (
            "CloudFront-Is-IOS-Viewer",
            flag(user_agent.contains("iPhone") || user_agent.contains("iPad")),
        ),
        (
            "CloudFront-Is-Android-Viewer",
            flag(user_agent.contains("Android")),
        ),
    ]
}

/// The viewer's country: the override header's value when it is a country code, else the
/// address table, else the default.
pub fn country(world: &ViewerWorld, client_ip: &str, override_value: Option<&str>) -> String {
    if let Some(code) = override_value.map(str::trim)
        && code.len() == 2
        && code.chars().all(|c| c.is_ascii_alphabetic())
    {
        return code.to_ascii_uppercase();
    }
    world
        .countries
        .get(client_ip)
        .cloned()
        .unwrap_or_else(|| world.default_country.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_user_agents_are_classified() {
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
        let pixel = "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";
        let ipad = "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        let tab = "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        let tv = "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) 76.0.3809.146/6.0 TV Safari/537.36";
        let desktop = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
        assert_eq!(device(iphone), Device::Mobile);
        assert_eq!(device(pixel), Device::Mobile);
        assert_eq!(device(ipad), Device::Tablet);
        assert_eq!(device(tab), Device::Tablet);
        assert_eq!(device(tv), Device::SmartTv);
        assert_eq!(device(desktop), Device::Desktop);
        assert_eq!(device(""), Device::Desktop);
    }

    #[test]
    fn country_from_override_then_table_then_default() {
        let mut world = ViewerWorld::default();
        world.countries.insert("127.0.0.2".into(), "FR".into());
        assert_eq!(country(&world, "127.0.0.2", None), "FR");
        assert_eq!(country(&world, "127.0.0.2", Some("jp")), "JP");
        assert_eq!(country(&world, "127.0.0.2", Some("nonsense")), "FR");
        assert_eq!(country(&world, "10.9.9.9", None), "US");
    }
}
