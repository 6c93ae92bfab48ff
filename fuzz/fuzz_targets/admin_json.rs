//! `admin_json`: the admin API's JSON bodies on arbitrary bytes: talon-wire's `CreateClientRequest` and
//! `UpdateClientRequest` (`POST` and `PATCH /api-clients/entities/clients/v1`) read with `serde_json`, then
//! talon-auth's admin rules (`ClientSpec::from_request`, `ClientChanges::from_request`) on whatever reads.
//!
//! Invariants:
//! - unknown fields are refused: a body that reads is a JSON object whose keys are all fields of the
//!   request;
//! - a request that reads round trips through `serde_json` unchanged;
//! - whatever the rules accept obeys them: a name trimmed, not empty, at most `MAX_NAME_CHARS`, without
//!   control or format characters; a description within `MAX_DESCRIPTION_CHARS` without control
//!   characters but line breaks and tabs; at least one scope; at most `MAX_LIST_ITEMS` member CIDs and
//!   networks;
//! - the rules are idempotent: an accepted spec or change, written back as a request, is accepted again
//!   and gives the same spec or change (so what is stored reads back as itself);
//! - `ClientChanges::describe` (the audit log's words) never fails, and is empty exactly for no change.
#![no_main]

use libfuzzer_sys::fuzz_target;
use talon_auth::admin::{is_format_char, MAX_DESCRIPTION_CHARS, MAX_LIST_ITEMS, MAX_NAME_CHARS};
use talon_auth::{ClientChanges, ClientSpec, CustomerId};
use talon_wire::admin::{CreateClientRequest, UpdateClientRequest};

const CREATE_FIELDS: &[&str] = &["name", "description", "scopes", "cid", "member_cids", "allowed_ips", "enabled"];
const UPDATE_FIELDS: &[&str] = &["name", "description", "scopes", "member_cids", "allowed_ips", "enabled"];
const DEFAULT_CID: &str = "fedcba9876543210fedcba9876543210";

fuzz_target!(|body: &[u8]| {
    if let Ok(req) = serde_json::from_slice::<CreateClientRequest>(body) {
        assert_only_fields(body, CREATE_FIELDS);
        assert_round_trips(&req);
        check_create(&req);
    }
    if let Ok(req) = serde_json::from_slice::<UpdateClientRequest>(body) {
        assert_only_fields(body, UPDATE_FIELDS);
        assert_round_trips(&req);
        check_update(&req);
    }
});

fn assert_only_fields(body: &[u8], known: &[&str]) {
    let value: serde_json::Value = serde_json::from_slice(body).expect("a body that reads as a request is JSON");
    let object = value.as_object().expect("a request is a JSON object");
    for key in object.keys() {
        assert!(known.contains(&key.as_str()), "the unknown field {key:?} was accepted");
    }
}

fn assert_round_trips<T>(req: &T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let json = serde_json::to_vec(req).expect("a request serializes");
    let again: T = serde_json::from_slice(&json).expect("a serialized request reads");
    assert_eq!(&again, req, "serde round trip");
}

fn check_create(req: &CreateClientRequest) {
    let default_cid = CustomerId::parse(DEFAULT_CID).expect("cid");
    let Ok(spec) = ClientSpec::from_request(req, default_cid.clone()) else { return };
    check_name(&spec.name);
    check_description(&spec.description);
    assert!(!spec.scopes.is_empty(), "a client without scopes");
    assert!(spec.member_cids.len() <= MAX_LIST_ITEMS && spec.allowed_ips.len() <= MAX_LIST_ITEMS);
    if req.cid.is_none() {
        assert_eq!(spec.cid, default_cid);
    }
    let written_back = CreateClientRequest {
        name: spec.name.clone(),
        description: spec.description.clone(),
        scopes: spec.scopes.to_strings(),
        cid: Some(spec.cid.to_string()),
        member_cids: spec.member_cids.iter().map(|c| c.to_string()).collect(),
        allowed_ips: spec.allowed_ips.iter().map(|n| n.to_string()).collect(),
        enabled: spec.enabled,
    };
    // Another default, so that the customer must come from the request.
    let again = ClientSpec::from_request(&written_back, CustomerId::parse(&"0".repeat(32)).expect("cid"))
        .expect("an accepted spec, written back, is accepted");
    assert_eq!(again.name, spec.name);
    assert_eq!(again.description, spec.description);
    assert_eq!(again.scopes, spec.scopes);
    assert_eq!(again.cid, spec.cid);
    assert_eq!(again.member_cids, spec.member_cids);
    assert_eq!(again.allowed_ips, spec.allowed_ips);
    assert_eq!(again.enabled, spec.enabled);
}

fn check_update(req: &UpdateClientRequest) {
    let Ok(changes) = ClientChanges::from_request(req) else { return };
    if let Some(name) = &changes.name {
        check_name(name);
    }
    if let Some(description) = &changes.description {
        check_description(description);
    }
    assert!(changes.scopes.is_none_or(|s| !s.is_empty()), "a change to no scopes");
    assert!(changes.member_cids.as_ref().is_none_or(|l| l.len() <= MAX_LIST_ITEMS));
    assert!(changes.allowed_ips.as_ref().is_none_or(|l| l.len() <= MAX_LIST_ITEMS));
    assert_eq!(changes.describe().is_empty(), changes.is_empty(), "describe: {:?}", changes.describe());
    let written_back = UpdateClientRequest {
        name: changes.name.clone(),
        description: changes.description.clone(),
        scopes: changes.scopes.map(|s| s.to_strings()),
        member_cids: changes.member_cids.as_ref().map(|l| l.iter().map(|c| c.to_string()).collect()),
        allowed_ips: changes.allowed_ips.as_ref().map(|l| l.iter().map(|n| n.to_string()).collect()),
        enabled: changes.enabled,
    };
    let again = ClientChanges::from_request(&written_back).expect("accepted changes, written back, are accepted");
    assert_eq!(again.name, changes.name);
    assert_eq!(again.description, changes.description);
    assert_eq!(again.scopes, changes.scopes);
    assert_eq!(again.member_cids, changes.member_cids);
    assert_eq!(again.allowed_ips, changes.allowed_ips);
    assert_eq!(again.enabled, changes.enabled);
}

fn check_name(name: &str) {
    assert_eq!(name, name.trim(), "name not trimmed");
    assert!(!name.is_empty(), "empty name");
    assert!(name.chars().count() <= MAX_NAME_CHARS, "name too long");
    assert!(!name.chars().any(|c| c.is_control() || is_format_char(c)), "name {name:?} has invisible characters");
}

fn check_description(description: &str) {
    assert!(description.chars().count() <= MAX_DESCRIPTION_CHARS, "description too long");
    assert!(
        !description.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')),
        "description {description:?} has control characters"
    );
}
