//! Loading fixtures (`talon_emulator::generic::fixture`) into the store: every fixture of a load in one
//! transaction, so a load that fails writes nothing. Records replace those of the same ID; a canned answer
//! replaces the one of the same operation and match.

use talon_auth::CustomerId;
use talon_emulator::generic::fixture::{Fixture, CANNED_RESOURCE};

use crate::entities::StoredEntity;
use crate::{Store, StoreError};

/// What a load wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub records: usize,
    pub canned_answers: usize,
}

/// Writes `fixtures`, all or none. A fixture without a customer is `home`'s (the CLI's: the store's default
/// customer; the admin API's: the caller's); one naming a customer the store does not know is refused
/// (customers come with their API clients).
pub async fn load(store: &dyn Store, fixtures: Vec<Fixture>, home: &CustomerId) -> crate::Result<LoadReport> {
    let default = home.clone();
    let known = store.customers().await?;
    let customer = |c: Option<String>| -> crate::Result<CustomerId> {
        let Some(text) = c else { return Ok(default.clone()) };
        let cid = customer_of(&text)?;
        if !known.contains(&cid) {
            return Err(StoreError::Conflict(format!("customer {cid} is unknown: create an API client of it first")));
        }
        Ok(cid)
    };
    let mut report = LoadReport::default();
    let mut batches: Vec<(CustomerId, String, Vec<StoredEntity>)> = Vec::new();
    for fixture in fixtures {
        match fixture {
            Fixture::Records { customer: c, resource, records } => {
                report.records += records.len();
                let records = records.into_iter().map(|(id, record)| StoredEntity { id, record }).collect();
                batches.push((customer(c)?, resource.as_str().to_owned(), records));
            }
            Fixture::Canned { customer: c, answer } => {
                report.canned_answers += 1;
                let id = answer.key();
                let record = match serde_json::to_value(&answer) {
                    Ok(serde_json::Value::Object(record)) => record,
                    _ => return Err(StoreError::Conflict("a canned answer could not be kept".into())),
                };
                batches.push((customer(c)?, CANNED_RESOURCE.to_owned(), vec![StoredEntity { id, record }]));
            }
        }
    }
    if let Err(refusal) = store.put_entity_batches(&batches, crate::RESOURCE_CAP).await? {
        return Err(StoreError::Conflict(format!("nothing was loaded: {refusal}")));
    }
    Ok(report)
}

/// The CID a fixture names (any case).
pub fn customer_of(text: &str) -> crate::Result<CustomerId> {
    CustomerId::parse(&text.to_ascii_lowercase()).map_err(|_| {
        let cut: String = text.chars().take(40).collect();
        StoreError::Conflict(format!("customer {cut:?} is not a CID"))
    })
}

/// The operations some customer's canned answer answers (`talon ops list --fixtures-in`).
pub async fn canned_operations(store: &dyn Store) -> crate::Result<std::collections::BTreeSet<String>> {
    let mut operations = std::collections::BTreeSet::new();
    for cid in store.customers().await? {
        for answer in store.entities(&cid, CANNED_RESOURCE).await? {
            if let Some(op) = answer.record.get("operation").and_then(serde_json::Value::as_str) {
                operations.insert(op.to_owned());
            }
        }
    }
    Ok(operations)
}
