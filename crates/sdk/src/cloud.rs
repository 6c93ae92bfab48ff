//! Falcon clouds and their base URLs.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// Where the API is: a Falcon cloud, a custom base URL (Talon, a proxy), or `Auto` (ask us-1 and follow).
///
/// A named commercial cloud (`Us1`, `Us2`, `Us3`, `Eu1`) and `Auto` are *discoverable*: when the token
/// endpoint says the API client lives in another commercial cloud (a 308 to that cloud's host, or a 201
/// whose `X-Cs-Region` names it), the client moves there. A gov cloud is never discovered and never left:
/// name it explicitly. A `Custom` base URL is never replaced, whatever the server says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cloud {
    /// us-1, `https://api.crowdstrike.com`.
    Us1,
    /// us-2, `https://api.us-2.crowdstrike.com`.
    Us2,
    /// us-3, `https://api.us-3.crowdstrike.com`.
    Us3,
    /// eu-1, `https://api.eu-1.crowdstrike.com`.
    Eu1,
    /// us-gov-1 (GovCloud), `https://api.laggar.gcw.crowdstrike.com`. Not discoverable.
    UsGov1,
    /// us-gov-2, `https://api.us-gov-2.crowdstrike.mil`. Not discoverable.
    UsGov2,
    /// Any other base URL (a Talon server, a private link, a test server), used as given and never
    /// replaced by discovery. Without a trailing slash.
    Custom(String),
    /// Start at us-1 and follow the token endpoint to the API client's commercial cloud.
    Auto,
}

/// The Falcon clouds, in the order of the wire contract's table.
const FALCON: [Cloud; 6] = [Cloud::Us1, Cloud::Us2, Cloud::Us3, Cloud::Eu1, Cloud::UsGov1, Cloud::UsGov2];

impl Cloud {
    /// The base URL, without a trailing slash. `Auto` starts at us-1.
    pub fn base_url(&self) -> &str {
        match self {
            Cloud::Us1 | Cloud::Auto => "https://api.crowdstrike.com",
            Cloud::Us2 => "https://api.us-2.crowdstrike.com",
            Cloud::Us3 => "https://api.us-3.crowdstrike.com",
            Cloud::Eu1 => "https://api.eu-1.crowdstrike.com",
            Cloud::UsGov1 => "https://api.laggar.gcw.crowdstrike.com",
            Cloud::UsGov2 => "https://api.us-gov-2.crowdstrike.mil",
            Cloud::Custom(url) => url.trim_end_matches('/'),
        }
    }

    /// The API host of a Falcon cloud (`api.eu-1.crowdstrike.com`; us-1's for `Auto`); `None` for a custom
    /// base URL.
    pub fn host(&self) -> Option<&str> {
        match self {
            Cloud::Custom(_) => None,
            falcon => falcon.base_url().strip_prefix("https://"),
        }
    }

    /// The region name as the API writes it in `X-Cs-Region` (`us-1`, `eu-1`, `us-gov-1`, ...); `None` for
    /// `Auto` (not known yet) and for a custom base URL.
    pub fn region(&self) -> Option<&'static str> {
        Some(match self {
            Cloud::Us1 => "us-1",
            Cloud::Us2 => "us-2",
            Cloud::Us3 => "us-3",
            Cloud::Eu1 => "eu-1",
            Cloud::UsGov1 => "us-gov-1",
            Cloud::UsGov2 => "us-gov-2",
            Cloud::Custom(_) | Cloud::Auto => return None,
        })
    }

    /// True for us-gov-1 and us-gov-2, which discovery never moves to: they must be named explicitly.
    pub fn is_gov(&self) -> bool {
        matches!(self, Cloud::UsGov1 | Cloud::UsGov2)
    }

    /// True for `Auto` and the named commercial clouds: the ones whose token endpoint may move the client
    /// to another commercial cloud.
    pub fn is_discoverable(&self) -> bool {
        matches!(self, Cloud::Auto | Cloud::Us1 | Cloud::Us2 | Cloud::Us3 | Cloud::Eu1)
    }

    /// The Falcon cloud of a region name as `X-Cs-Region` carries it. Lenient about case and separators
    /// (`eu-1`, `EU1`, `us_gov_1`), as the SDKs are; `None` for any other name (Talon's `local`, a region
    /// this SDK does not know yet).
    pub fn from_region(name: &str) -> Option<Cloud> {
        let key = normalise(name);
        FALCON.into_iter().find(|cloud| cloud.region().is_some_and(|r| normalise(r) == key))
    }

    /// The Falcon cloud whose API host is exactly `host` (ASCII case aside): `api.eu-1.crowdstrike.com` is
    /// eu-1; `eu-1.crowdstrike.com.evil.example` and `api.eu-1.crowdstrike.com.` are nothing.
    pub fn from_host(host: &str) -> Option<Cloud> {
        FALCON.into_iter().find(|cloud| cloud.host().is_some_and(|h| h.eq_ignore_ascii_case(host)))
    }

    fn name(&self) -> &str {
        match self {
            Cloud::Custom(url) => url,
            Cloud::Auto => "auto",
            falcon => falcon.region().unwrap_or("auto"),
        }
    }
}

/// A region or cloud name reduced to its lowercase letters and digits (`us-gov-1` → `usgov1`).
fn normalise(name: &str) -> String {
    name.trim().chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}

impl fmt::Display for Cloud {
    /// The region name (`eu-1`), `auto`, or a custom base URL as given.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Cloud {
    type Err = Error;

    /// Lenient: `us-1`, `US1`, `us_1`, `usgov1`, `us-gov-1`, `auto`; an `http(s)://` URL is a custom base.
    /// Anything else is an error, never a silent fallback.
    fn from_str(s: &str) -> Result<Cloud, Error> {
        let trimmed = s.trim();
        if trimmed.starts_with("https://") || trimmed.starts_with("http://") {
            return Ok(Cloud::Custom(trimmed.trim_end_matches('/').to_owned()));
        }
        if normalise(trimmed) == "auto" {
            return Ok(Cloud::Auto);
        }
        Cloud::from_region(trimmed).ok_or_else(|| {
            Error::Config(format!(
                "unknown cloud {trimmed:?}: use us-1, us-2, us-3, eu-1, us-gov-1, us-gov-2, auto or a base URL"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_leniently_and_refuses_the_unknown() {
        for (s, cloud) in [
            ("us-1", Cloud::Us1),
            ("US1", Cloud::Us1),
            ("us_2", Cloud::Us2),
            ("us-3", Cloud::Us3),
            ("eu-1", Cloud::Eu1),
            ("usgov1", Cloud::UsGov1),
            ("US-GOV-2", Cloud::UsGov2),
            ("auto", Cloud::Auto),
            ("http://127.0.0.1:8080/", Cloud::Custom("http://127.0.0.1:8080".into())),
        ] {
            assert_eq!(s.parse::<Cloud>().expect(s), cloud, "{s}");
        }
        for bad in ["us-4", "", "eu", "crowdstrike.com", "local"] {
            assert!(bad.parse::<Cloud>().is_err(), "{bad}");
        }
        assert_eq!(Cloud::Eu1.base_url(), "https://api.eu-1.crowdstrike.com");
        assert_eq!(Cloud::Auto.base_url(), "https://api.crowdstrike.com");
        assert_eq!(Cloud::Custom("http://h:1/".into()).base_url(), "http://h:1");
    }

    #[test]
    fn names_hosts_and_regions_round_trip() {
        for cloud in FALCON {
            let host = cloud.host().expect("a Falcon cloud has a host");
            assert_eq!(cloud.base_url(), format!("https://{host}"));
            assert_eq!(Cloud::from_host(host), Some(cloud.clone()), "{host}");
            let region = cloud.region().expect("a region");
            assert_eq!(Cloud::from_region(region), Some(cloud.clone()), "{region}");
            assert_eq!(cloud.to_string(), region);
        }
        assert_eq!(Cloud::from_host("API.EU-1.CROWDSTRIKE.COM"), Some(Cloud::Eu1));
        for stranger in ["evil.example.com", "api.eu-1.crowdstrike.com.evil.example", "eu-1.crowdstrike.com", ""] {
            assert_eq!(Cloud::from_host(stranger), None, "{stranger}");
        }
        assert_eq!(Cloud::from_region("local"), None, "Talon's default region is no Falcon cloud");
        assert_eq!(Cloud::from_region("auto"), None);
        assert_eq!((Cloud::Auto.host(), Cloud::Auto.region()), (Some("api.crowdstrike.com"), None));
        assert_eq!(Cloud::Custom("http://x".into()).host(), None);
        assert!(Cloud::UsGov2.is_gov() && !Cloud::UsGov2.is_discoverable());
        assert!(Cloud::Auto.is_discoverable() && Cloud::Eu1.is_discoverable());
        assert!(!Cloud::Custom("http://x".into()).is_discoverable());
    }
}
