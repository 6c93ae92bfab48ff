//! A strict `application/x-www-form-urlencoded` parser for the OAuth2 endpoints.
//!
//! Written by hand because the common parsers (`form_urlencoded`, `serde_urlencoded`) decode invalid UTF-8
//! lossily and keep the last of repeated fields; RFC 6749 §3.2 says a repeated parameter is an error, and a
//! credential that is not valid UTF-8 must be refused, not silently changed.

use std::borrow::Cow;

use percent_encoding::percent_decode;

/// Why a form body was refused. The messages name the field but never echo its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("form field {0:?} is given more than once")]
    Repeated(String),
    #[error("the form body is not valid UTF-8 once percent-decoded")]
    NotUtf8,
    #[error("the form has more than {0} fields")]
    TooManyFields(usize),
}

/// Most fields a form may have. The OAuth2 endpoints read at most five; the cap keeps parsing cheap.
pub const MAX_FIELDS: usize = 32;

/// A parsed form: its fields in order of appearance, each name at most once.
#[derive(Default)]
pub struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    /// Parses a form body: each name at most once, at most [`MAX_FIELDS`] fields. Empty pairs
    /// (`a=1&&b=2`) are skipped, as browsers do.
    pub fn parse(body: &[u8]) -> Result<Form, FormError> {
        Form::parse_with(body, &[], MAX_FIELDS)
    }

    /// Parses a form (or query string) in which the names in `repeatable` may come more than once
    /// (`?ids=a&ids=b`), with at most `max_fields` fields.
    pub fn parse_with(body: &[u8], repeatable: &[&str], max_fields: usize) -> Result<Form, FormError> {
        let mut fields: Vec<(String, String)> = Vec::new();
        for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            // The cap also keeps the linear duplicate check below cheap.
            if fields.len() == max_fields {
                return Err(FormError::TooManyFields(max_fields));
            }
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                None => (pair, &[][..]),
            };
            let name = decode_component(name)?;
            let value = decode_component(value)?;
            if !repeatable.contains(&name.as_str()) && fields.iter().any(|(n, _)| *n == name) {
                return Err(FormError::Repeated(name));
            }
            fields.push((name, value));
        }
        Ok(Form { fields })
    }

    /// The value of `name`, if the form has it (possibly empty).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Every value of a repeatable `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.fields.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }

    /// The value of `name` when present and not empty: an empty field counts as missing.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }
}

impl std::fmt::Debug for Form {
    // Field values may be secrets: show the names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Form").field("fields", &self.fields.iter().map(|(n, _)| n).collect::<Vec<_>>()).finish()
    }
}

/// Decodes one name or value: `+` is a space, then percent-decoding, then strict UTF-8.
///
/// Copies only what must change: a component without `+` or `%` (a client ID, a secret, `limit=100`) is
/// one allocation, the returned `String`. The OAuth2 form and every query string go through here.
fn decode_component(raw: &[u8]) -> Result<String, FormError> {
    let plus_as_space: Cow<[u8]> = if raw.contains(&b'+') {
        Cow::Owned(raw.iter().map(|b| if *b == b'+' { b' ' } else { *b }).collect())
    } else {
        Cow::Borrowed(raw)
    };
    let decoded: Cow<[u8]> = percent_decode(&plus_as_space).into();
    match decoded {
        Cow::Borrowed(bytes) => std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| FormError::NotUtf8),
        Cow::Owned(bytes) => String::from_utf8(bytes).map_err(|_| FormError::NotUtf8),
    }
}

/// Encodes fields as a form body (used by clients and tests).
pub fn encode<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const FORM: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    fields
        .into_iter()
        .map(|(n, v)| format!("{}={}", utf8_percent_encode(n, FORM), utf8_percent_encode(v, FORM)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_with_plus_and_percent_escapes() {
        let form = Form::parse(b"client_id=abc&client_secret=a+b%2Bc&empty=&flag").expect("valid form");
        assert_eq!(form.get("client_id"), Some("abc"));
        assert_eq!(form.get("client_secret"), Some("a b+c"));
        assert_eq!(form.get("empty"), Some(""));
        assert_eq!(form.non_empty("empty"), None);
        assert_eq!(form.get("flag"), Some(""));
        assert_eq!(form.get("missing"), None);
    }

    #[test]
    fn repeated_field_is_an_error() {
        assert_eq!(Form::parse(b"a=1&b=2&a=1").err(), Some(FormError::Repeated("a".into())));
        // An escaped name is the same name.
        assert_eq!(Form::parse(b"a=1&%61=2").err(), Some(FormError::Repeated("a".into())));
    }

    #[test]
    fn too_many_fields_is_an_error() {
        let ok: String = (0..MAX_FIELDS).map(|i| format!("f{i}=1&")).collect();
        assert!(Form::parse(ok.as_bytes()).is_ok());
        let over: String = (0..=MAX_FIELDS).map(|i| format!("f{i}=1&")).collect();
        assert_eq!(Form::parse(over.as_bytes()).err(), Some(FormError::TooManyFields(MAX_FIELDS)));
    }

    #[test]
    fn repeatable_fields_keep_every_value() {
        let form = Form::parse_with(b"ids=a&ids=b&limit=1", &["ids"], 10).expect("form");
        assert_eq!(form.all("ids"), ["a", "b"]);
        assert!(Form::parse_with(b"ids=a&limit=1&limit=2", &["ids"], 10).is_err(), "others still once");
        assert_eq!(Form::parse_with(b"ids=a&ids=b", &["ids"], 1).err(), Some(FormError::TooManyFields(1)));
    }

    #[test]
    fn non_utf8_is_an_error() {
        assert_eq!(Form::parse(b"a=%ff").err(), Some(FormError::NotUtf8));
        assert_eq!(Form::parse(b"a=\xff").err(), Some(FormError::NotUtf8));
        assert_eq!(Form::parse(b"%c3=1").err(), Some(FormError::NotUtf8));
    }

    #[test]
    fn empty_body_and_empty_pairs() {
        assert!(Form::parse(b"").expect("empty form").get("a").is_none());
        assert_eq!(Form::parse(b"&&a=1&&").expect("form").get("a"), Some("1"));
    }

    #[test]
    fn encode_round_trips() {
        let body = encode([("token", "a b+c/=&"), ("client_id", "x")]);
        let form = Form::parse(body.as_bytes()).expect("round trip");
        assert_eq!(form.get("token"), Some("a b+c/=&"));
        assert_eq!(form.get("client_id"), Some("x"));
    }

    #[test]
    fn debug_shows_names_not_values() {
        let form = Form::parse(b"client_secret=hunter2").expect("form");
        let debug = format!("{form:?}");
        assert!(debug.contains("client_secret"));
        assert!(!debug.contains("hunter2"));
    }
}
