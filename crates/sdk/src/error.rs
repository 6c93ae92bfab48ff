//! The SDK's one error type. It carries what a caller needs to act (status, the envelope's messages, the
//! trace ID, when to retry) and never a secret: credentials are not part of any request URL, and tokens
//! and secrets are kept in `SecretString`s.

use talon_wire::envelope::{Envelope, ErrorItem};

use crate::args::CallError;

/// Why the API refused a request, or why the client could not make it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client is misconfigured (an unknown cloud, a missing variable).
    #[error("configuration: {0}")]
    Config(String),
    /// The server could not be reached, or the connection broke.
    #[error("cannot reach the API: {0}")]
    Transport(String),
    /// The API answered with an error.
    #[error("{}", .0)]
    Api(Box<ApiError>),
    /// Getting a token failed (possibly earlier: the client backs off instead of hammering the endpoint).
    #[error("login failed: {0}")]
    Login(FailReason),
    /// A harness command named an operation the catalogue does not have (nothing was sent).
    #[error("{0}")]
    UnknownOperation(talon_wire::catalogue::UnknownOperation),
    /// A harness command's arguments do not fit the operation (nothing was sent).
    #[error("{0}")]
    Call(CallError),
}

/// An error answer of the API.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// The request's trace ID (`X-Cs-Traceid`, else `meta.trace_id`): quote it to CrowdStrike support.
    pub trace_id: Option<String>,
    /// The envelope's `errors` (`"errors": null` reads as none).
    pub errors: Vec<ErrorItem>,
    /// Unix seconds from `X-Ratelimit-Retryafter` on a 429.
    pub retry_after: Option<i64>,
    /// On a 403: what is likely at fault.
    pub forbidden: Option<ForbiddenCause>,
    /// The raw body, for whatever the fields above do not cover.
    pub body: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let message = self.errors.first().map_or("(no message)", |e| e.message.as_str());
        write!(f, "HTTP {}: {message}", self.status)?;
        if let Some(cause) = self.forbidden {
            write!(f, " ({cause})")?;
        }
        if let Some(trace) = &self.trace_id {
            write!(f, " [trace ID {trace}]")?;
        }
        Ok(())
    }
}

/// What a 403 is likely about. Talon says so in `X-Talon-Deny-Reason`; the real API does not, and then
/// both are possible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForbiddenCause {
    /// The API client lacks the scope the route needs.
    MissingScope,
    /// The source address is outside the API client's IP allow-list.
    IpNotAllowed,
    /// Either: the server did not say which.
    ScopeOrIpAllowList,
}

impl std::fmt::Display for ForbiddenCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ForbiddenCause::MissingScope => "the API client lacks the scope this route needs",
            ForbiddenCause::IpNotAllowed => "this source address is outside the API client's IP allow-list",
            ForbiddenCause::ScopeOrIpAllowList => "a missing scope or the IP allow-list",
        })
    }
}

/// Why a login failed: what `token_fail_reason()` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailReason {
    /// The token endpoint's HTTP status (0 when it could not be reached).
    pub status: u16,
    /// The first message of the answer's `errors`, or what went wrong on the way.
    pub message: String,
    /// The token request's trace ID.
    pub trace_id: Option<String>,
}

impl std::fmt::Display for FailReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}: {}", self.status, self.message)?;
        if let Some(trace) = &self.trace_id {
            write!(f, " [trace ID {trace}]")?;
        }
        Ok(())
    }
}

impl ApiError {
    /// Reads an error answer: status, headers and body.
    pub(crate) fn read(status: u16, headers: &reqwest::header::HeaderMap, body: String) -> ApiError {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let envelope: Option<Envelope<serde_json::Value>> = serde_json::from_str(&body).ok();
        let trace_id =
            header(talon_wire::headers::TRACE_ID).or_else(|| envelope.as_ref().map(|e| e.meta.trace_id.clone()));
        let forbidden = (status == 403).then(|| match header("x-talon-deny-reason").as_deref() {
            Some("missing-scope") => ForbiddenCause::MissingScope,
            Some("ip-not-allowed") => ForbiddenCause::IpNotAllowed,
            _ => ForbiddenCause::ScopeOrIpAllowList,
        });
        ApiError {
            status,
            trace_id,
            errors: envelope.map(|e| e.errors).unwrap_or_default(),
            retry_after: header(talon_wire::headers::RATELIMIT_RETRY_AFTER).and_then(|v| v.parse().ok()),
            forbidden,
            body,
        }
    }

    pub(crate) fn fail_reason(&self) -> FailReason {
        FailReason {
            status: self.status,
            message: self.errors.first().map_or_else(|| "(no message)".to_owned(), |e| e.message.clone()),
            trace_id: self.trace_id.clone(),
        }
    }
}

impl From<reqwest::Error> for Error {
    fn from(e: reqwest::Error) -> Error {
        // reqwest's message names the URL, which never holds a credential here.
        Error::Transport(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_envelopes_with_null_errors_and_headers() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-cs-traceid", "t-1".parse().expect("value"));
        headers.insert("x-ratelimit-retryafter", "1800000060".parse().expect("value"));
        let e = ApiError::read(
            429,
            &headers,
            r#"{"meta":{"query_time":0.1,"powered_by":"x","trace_id":"t-1"},"errors":null}"#.into(),
        );
        assert_eq!((e.status, e.trace_id.as_deref(), e.retry_after), (429, Some("t-1"), Some(1_800_000_060)));
        assert!(e.errors.is_empty());
        let forbidden = ApiError::read(403, &reqwest::header::HeaderMap::new(), "not json".into());
        assert_eq!(forbidden.forbidden, Some(ForbiddenCause::ScopeOrIpAllowList));
        assert_eq!(forbidden.body, "not json");
    }
}
