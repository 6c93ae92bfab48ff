//! `form`: talon-wire's strict form parser (`talon_wire::form::Form`) on arbitrary bytes, the body of
//! `POST /oauth2/token` and every query string.
//!
//! Checked against the WHATWG `application/x-www-form-urlencoded` parser (`form_urlencoded`), which is
//! lenient (it keeps repeated names and decodes invalid UTF-8 lossily) but splits and unescapes the same
//! way. Invariants:
//! - an accepted form holds exactly the reference's pairs: each name once, at most `MAX_FIELDS`, with the
//!   reference's value (so nothing was changed on the way, e.g. by a lossy decode);
//! - every refusal is justified: `Repeated(n)` only when `n` really comes twice, `TooManyFields` only past
//!   the cap, `NotUtf8` only when some name or value really decodes to invalid UTF-8 (the parser never
//!   refuses what it should accept);
//! - round trip: the accepted pairs, encoded with `talon_wire::form::encode`, parse back to the same form;
//! - `parse_with` and a repeatable name keeps every value of that name, in order, and refuses the rest as
//!   `parse` does.
#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use talon_wire::form::{encode, Form, FormError, MAX_FIELDS};

/// The repeatable name of the `parse_with` check (`ids`, as the hosts API's query strings use it).
const REPEATABLE: &str = "ids";

fuzz_target!(|body: &[u8]| {
    let reference: Vec<(Cow<str>, Cow<str>)> = form_urlencoded::parse(body).collect();
    check_parse(body, &reference);
    check_parse_with(body, &reference);
});

fn check_parse(body: &[u8], reference: &[(Cow<str>, Cow<str>)]) {
    match Form::parse(body) {
        Ok(form) => {
            assert!(reference.len() <= MAX_FIELDS, "accepted {} fields", reference.len());
            for (i, (name, value)) in reference.iter().enumerate() {
                assert!(reference[..i].iter().all(|(n, _)| n != name), "accepted a repeated name {name:?}");
                assert_eq!(form.get(name), Some(value.as_ref()), "value of {name:?}");
            }
            // Round trip: what the form holds, encoded, is the same form.
            let encoded = encode(reference.iter().map(|(n, v)| (n.as_ref(), v.as_ref())));
            let again = Form::parse(encoded.as_bytes()).expect("an encoded form parses");
            for (name, value) in reference {
                assert_eq!(again.get(name), Some(value.as_ref()), "round trip of {name:?}");
            }
        }
        Err(FormError::Repeated(name)) => {
            let times = reference.iter().filter(|(n, _)| *n == name).count();
            assert!(times >= 2, "refused {name:?} as repeated, but it comes {times} time(s)");
        }
        Err(FormError::TooManyFields(max)) => {
            assert_eq!(max, MAX_FIELDS);
            assert!(reference.len() > MAX_FIELDS, "refused {} fields as too many", reference.len());
        }
        Err(FormError::NotUtf8) => assert!(has_invalid_utf8(body), "refused valid UTF-8"),
    }
}

fn check_parse_with(body: &[u8], reference: &[(Cow<str>, Cow<str>)]) {
    // A cap of twice the default, so that repeated `ids` do not hit it at once.
    let max = 2 * MAX_FIELDS;
    match Form::parse_with(body, &[REPEATABLE], max) {
        Ok(form) => {
            assert!(reference.len() <= max);
            let ids: Vec<&str> = reference.iter().filter(|(n, _)| n == REPEATABLE).map(|(_, v)| v.as_ref()).collect();
            assert_eq!(form.all(REPEATABLE), ids, "every value of the repeatable name, in order");
            for (i, (name, value)) in reference.iter().enumerate() {
                if name != REPEATABLE {
                    assert!(reference[..i].iter().all(|(n, _)| n != name), "accepted a repeated {name:?}");
                    assert_eq!(form.get(name), Some(value.as_ref()));
                }
            }
        }
        Err(FormError::Repeated(name)) => {
            assert_ne!(name, REPEATABLE, "the repeatable name was refused as repeated");
            assert!(reference.iter().filter(|(n, _)| *n == name).count() >= 2);
        }
        Err(FormError::TooManyFields(m)) => assert!(m == max && reference.len() > max),
        Err(FormError::NotUtf8) => assert!(has_invalid_utf8(body)),
    }
}

/// Whether some name or value of `body`, decoded (`+` as a space, then percent escapes), is not UTF-8.
/// Written apart from the parser on purpose: `+` never decodes to anything but a space, so replacing it
/// is not needed to tell whether the bytes are UTF-8.
fn has_invalid_utf8(body: &[u8]) -> bool {
    body.split(|b| *b == b'&')
        .flat_map(|pair| pair.splitn(2, |b| *b == b'='))
        .any(|part| std::str::from_utf8(&Cow::from(percent_encoding::percent_decode(part))).is_err())
}
