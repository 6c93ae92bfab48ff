//! API client credentials. The secret is a `SecretString`: no `Debug`, `Display` or log shows it.

use secrecy::SecretString;

use crate::cloud::Cloud;
use crate::error::Error;

/// A client ID and secret, an optional member CID (MSSP), and where to use them.
#[derive(Clone)]
pub struct Credentials {
    /// The API client's ID (32 lowercase hex characters on the real API).
    pub client_id: String,
    pub(crate) client_secret: SecretString,
    /// Lock tokens to this child customer (MSSP); sent as `member_cid`.
    pub member_cid: Option<String>,
    /// Where the API is.
    pub cloud: Cloud,
}

impl Credentials {
    /// A client ID and secret for `cloud`. The secret is kept in a `SecretString` from here on.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>, cloud: Cloud) -> Credentials {
        Credentials {
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
            member_cid: None,
            cloud,
        }
    }

    /// The same credentials, with tokens locked to `member_cid` (MSSP).
    pub fn with_member_cid(mut self, member_cid: impl Into<String>) -> Credentials {
        self.member_cid = Some(member_cid.into());
        self
    }

    /// From `FALCON_CLIENT_ID`, `FALCON_CLIENT_SECRET`, `FALCON_MEMBER_CID` (optional), and
    /// `FALCON_BASE_URL` or `FALCON_CLOUD` (default us-1).
    pub fn from_env() -> Result<Credentials, Error> {
        Credentials::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Credentials, Error> {
        let required = |name: &str| get(name).ok_or_else(|| Error::Config(format!("{name} is not set")));
        let cloud = match (get("FALCON_BASE_URL"), get("FALCON_CLOUD")) {
            (Some(url), _) => Cloud::Custom(url.trim_end_matches('/').to_owned()),
            (None, Some(cloud)) => cloud.parse()?,
            (None, None) => Cloud::Us1,
        };
        let mut credentials = Credentials::new(required("FALCON_CLIENT_ID")?, required("FALCON_CLIENT_SECRET")?, cloud);
        credentials.member_cid = get("FALCON_MEMBER_CID");
        Ok(credentials)
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("member_cid", &self.member_cid)
            .field("cloud", &self.cloud)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn reads_the_environment() {
        let c = Credentials::from_lookup(env(&[
            ("FALCON_CLIENT_ID", "id"),
            ("FALCON_CLIENT_SECRET", "s3cret"),
            ("FALCON_CLOUD", "EU1"),
            ("FALCON_MEMBER_CID", "cid"),
        ]))
        .expect("credentials");
        assert_eq!((c.client_id.as_str(), c.cloud.clone(), c.member_cid.as_deref()), ("id", Cloud::Eu1, Some("cid")));
        let custom = Credentials::from_lookup(env(&[
            ("FALCON_CLIENT_ID", "id"),
            ("FALCON_CLIENT_SECRET", "s"),
            ("FALCON_BASE_URL", "http://localhost:8080/"),
            ("FALCON_CLOUD", "us-2"),
        ]))
        .expect("credentials");
        assert_eq!(custom.cloud, Cloud::Custom("http://localhost:8080".into()), "a base URL wins over a cloud");
        assert!(Credentials::from_lookup(env(&[("FALCON_CLIENT_ID", "id")])).is_err());
        assert!(Credentials::from_lookup(env(&[
            ("FALCON_CLIENT_ID", "i"),
            ("FALCON_CLIENT_SECRET", "s"),
            ("FALCON_CLOUD", "mars")
        ]))
        .is_err());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let c = Credentials::new("id", "topsecret", Cloud::Us1);
        assert!(!format!("{c:?}").contains("topsecret"));
    }
}
