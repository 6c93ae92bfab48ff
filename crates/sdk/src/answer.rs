//! Reading enveloped answers into typed values, for every service collection.

use serde::de::DeserializeOwned;
use talon_wire::envelope::{Envelope, Pagination};

use crate::error::Error;

/// Reads a JSON answer as `T`. A body that does not fit is the server's fault, not the caller's, and is
/// reported as such rather than as a panic.
pub(crate) fn parse<T: DeserializeOwned>(answer: serde_json::Value) -> Result<T, Error> {
    serde_json::from_value(answer).map_err(|e| Error::Transport(format!("unexpected answer: {e}")))
}

/// The `resources` list of an enveloped answer (`null` or missing reads as empty) and its
/// `meta.pagination`, if any.
pub(crate) fn resources<T: DeserializeOwned>(answer: serde_json::Value) -> Result<(Vec<T>, Option<Pagination>), Error> {
    let envelope: Envelope<Vec<T>> = parse(answer)?;
    Ok((envelope.resources.unwrap_or_default(), envelope.meta.pagination))
}
