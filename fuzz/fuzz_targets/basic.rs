//! `basic`: talon-wire's Basic credentials parser (`talon_wire::basic::parse_basic`), the
//! `Authorization` header of `POST /oauth2/token` and `/oauth2/revoke`.
//!
//! Two kinds of input: arbitrary header bytes, and a credentials pair that is encoded first (so that
//! most runs reach the base64 and percent-decoding paths). Invariants:
//! - never accepts another scheme: an accepted header is, trimmed, `basic` in any case, a space, and a
//!   payload;
//! - an accepted header round trips: its credentials, percent-encoded and encoded again with
//!   `encode_basic`, parse back to the same credentials;
//! - never refuses what it should accept: any pair of strings, percent-encoded as RFC 6749 §2.3.1 says
//!   and encoded with `encode_basic` (under any case of the scheme and surrounding spaces), parses back to
//!   exactly that pair;
//! - the secret never reaches `Debug`: the output is exactly the client ID and `[redacted]`.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use talon_wire::basic::{encode_basic, parse_basic, BasicCredentials};

#[derive(Arbitrary, Debug)]
enum Input<'a> {
    /// A header value as a client may send it.
    Header(&'a [u8]),
    /// Credentials to encode: the scheme's case comes from `scheme_case` (bit `i` uppercases letter `i`),
    /// spaces around the value from `pad`.
    Pair { client_id: &'a str, client_secret: &'a str, scheme_case: u8, pad: u8 },
}

fuzz_target!(|input: Input| match input {
    Input::Header(header) => {
        if let Ok(creds) = parse_basic(header) {
            let text = std::str::from_utf8(header).expect("an accepted header is UTF-8").trim();
            let scheme = text.get(..6).expect("an accepted header is longer than its scheme");
            assert!(scheme.eq_ignore_ascii_case("basic "), "accepted the scheme {scheme:?}");
            check_accepted(&creds);
        }
    }
    Input::Pair { client_id, client_secret, scheme_case, pad } => {
        let encoded = encode_basic(&escape(client_id), &escape(client_secret));
        let cased: String = "Basic"
            .chars()
            .enumerate()
            .map(|(i, c)| if scheme_case & (1 << i) != 0 { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
            .collect();
        let spaces = " ".repeat(usize::from(pad % 4));
        let header = format!("{spaces}{cased}{}{spaces}", &encoded["Basic".len()..]);
        let creds = parse_basic(header.as_bytes()).expect("well-formed credentials are accepted");
        assert_eq!(creds.client_id, client_id);
        assert_eq!(creds.client_secret, client_secret);
        check_accepted(&creds);
    }
});

/// The invariants of any accepted credentials: the round trip and the redacted `Debug`.
fn check_accepted(creds: &BasicCredentials) {
    let again = parse_basic(encode_basic(&escape(&creds.client_id), &escape(&creds.client_secret)).as_bytes())
        .expect("re-encoded credentials parse");
    assert_eq!(again.client_id, creds.client_id);
    assert_eq!(again.client_secret, creds.client_secret);
    let expected = format!("BasicCredentials {{ client_id: {:?}, client_secret: \"[redacted]\" }}", creds.client_id);
    assert_eq!(format!("{creds:?}"), expected, "Debug shows only the client ID");
}

/// RFC 6749 §2.3.1's form-urlencoding of one half, escaping every non-alphanumeric (so `:` and `%` too).
fn escape(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}
