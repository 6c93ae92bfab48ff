//! Falcon clouds and their base URLs.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// Where the API is: a Falcon cloud, a custom base URL (Talon, a proxy), or `Auto` (ask us-1 and follow).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cloud {
    Us1,
    Us2,
    Us3,
    Eu1,
    UsGov1,
    UsGov2,
    Custom(String),
    Auto,
}

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

    fn name(&self) -> &str {
        match self {
            Cloud::Us1 => "us-1",
            Cloud::Us2 => "us-2",
            Cloud::Us3 => "us-3",
            Cloud::Eu1 => "eu-1",
            Cloud::UsGov1 => "us-gov-1",
            Cloud::UsGov2 => "us-gov-2",
            Cloud::Custom(url) => url,
            Cloud::Auto => "auto",
        }
    }
}

impl fmt::Display for Cloud {
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
        let key: String = trimmed.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_lowercase();
        Ok(match key.as_str() {
            "us1" => Cloud::Us1,
            "us2" => Cloud::Us2,
            "us3" => Cloud::Us3,
            "eu1" => Cloud::Eu1,
            "usgov1" => Cloud::UsGov1,
            "usgov2" => Cloud::UsGov2,
            "auto" => Cloud::Auto,
            _ => {
                return Err(Error::Config(format!(
                    "unknown cloud {trimmed:?}: use us-1, us-2, us-3, eu-1, us-gov-1, us-gov-2, auto or a base URL"
                )))
            }
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
            ("eu-1", Cloud::Eu1),
            ("usgov1", Cloud::UsGov1),
            ("US-GOV-2", Cloud::UsGov2),
            ("auto", Cloud::Auto),
            ("http://127.0.0.1:8080/", Cloud::Custom("http://127.0.0.1:8080".into())),
        ] {
            assert_eq!(s.parse::<Cloud>().expect(s), cloud, "{s}");
        }
        for bad in ["us-4", "", "eu", "crowdstrike.com"] {
            assert!(bad.parse::<Cloud>().is_err(), "{bad}");
        }
        assert_eq!(Cloud::Eu1.base_url(), "https://api.eu-1.crowdstrike.com");
    }
}
