//! Admin operations on API clients, as the admin API and the CLI's local mode both run them: apply the
//! administrator's (already checked) request and write it together with its audit log entry, in one
//! transaction. One copy of each operation, so the server and the CLI cannot drift apart in what a change
//! does or how it is audited.

use talon_auth::{ApiClient, ClientChanges, ClientId, ClientSecret, ClientSpec};

use crate::{AuditEntry, Store, StoreError};

/// What an audit entry records.
pub mod action {
    pub const CLIENT_CREATE: &str = "client.create";
    pub const CLIENT_IMPORT: &str = "client.import";
    pub const CLIENT_UPDATE: &str = "client.update";
    pub const CLIENT_DELETE: &str = "client.delete";
    pub const CLIENT_RESET_SECRET: &str = "client.reset-secret";
    pub const CLIENT_REVOKE_TOKENS: &str = "client.revoke-tokens";
    /// A source address used up its failed-authentication budget (once per burst, not per failure).
    pub const AUTH_FAILURE_BURST: &str = "auth.failure-burst";
}

/// Who makes a change, and from where: an admin client with the request's address and trace ID, or the
/// local CLI (`cli:<user>`, `local`, `-`).
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: String,
    pub source: String,
    pub trace_id: String,
}

impl Actor {
    /// An audit entry of this actor, with a fresh ID.
    pub fn entry(&self, at: i64, action: &str, target: Option<&str>, details: String) -> AuditEntry {
        AuditEntry {
            id: uuid::Uuid::new_v4().to_string(),
            at,
            actor: self.id.clone(),
            action: action.to_owned(),
            target: target.map(str::to_owned),
            source_ip: self.source.clone(),
            trace_id: self.trace_id.clone(),
            details,
        }
    }
}

/// Why an admin operation did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    #[error("no API client {0}")]
    UnknownClient(ClientId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type AdminResult<T> = Result<T, AdminError>;

async fn existing(store: &dyn Store, id: &ClientId) -> AdminResult<ApiClient> {
    store.client(id).await?.ok_or_else(|| AdminError::UnknownClient(id.clone()))
}

fn gone(id: &ClientId, written: bool) -> AdminResult<()> {
    if written {
        Ok(())
    } else {
        Err(AdminError::UnknownClient(id.clone()))
    }
}

fn found(id: &ClientId, written: Option<ApiClient>) -> AdminResult<ApiClient> {
    written.ok_or_else(|| AdminError::UnknownClient(id.clone()))
}

/// Creates a client from its spec; the secret in clear is returned once.
pub async fn create(
    store: &dyn Store,
    actor: &Actor,
    spec: ClientSpec,
    now: i64,
) -> AdminResult<(ApiClient, ClientSecret)> {
    let (client, secret) = ApiClient::generate(spec, now);
    let entry = creation_entry(actor, &client, action::CLIENT_CREATE, now);
    store.create_client_audited(&client, Some(&entry)).await?;
    Ok((client, secret))
}

/// The audit entry of a client's creation (`what`: a create or an import): the same words as an
/// update's, for the fields a creation sets (lists and `enabled` when not empty or not the default), and
/// the customer.
fn creation_entry(actor: &Actor, client: &ApiClient, what: &str, now: i64) -> AuditEntry {
    let set = ClientChanges {
        name: Some(client.name.clone()),
        scopes: Some(client.scopes),
        member_cids: (!client.member_cids.is_empty()).then(|| client.member_cids.clone()),
        allowed_ips: (!client.allowed_ips.is_empty()).then(|| client.allowed_ips.clone()),
        enabled: (!client.enabled).then_some(false),
        ..ClientChanges::default()
    };
    let details = format!("{}, cid={}", set.describe(), client.cid);
    actor.entry(now, what, Some(client.id.as_str()), details)
}

/// Imports clients in one transaction, each with its audit entry (`client.import`): all or none.
pub async fn import(store: &dyn Store, actor: &Actor, clients: Vec<ApiClient>, now: i64) -> AdminResult<()> {
    let batch: Vec<(ApiClient, AuditEntry)> = clients
        .into_iter()
        .map(|client| {
            let entry = creation_entry(actor, &client, action::CLIENT_IMPORT, now);
            (client, entry)
        })
        .collect();
    store.create_clients_audited(&batch).await?;
    Ok(())
}

/// Applies `changes` to a client.
pub async fn update(
    store: &dyn Store,
    actor: &Actor,
    id: &ClientId,
    changes: ClientChanges,
    now: i64,
) -> AdminResult<ApiClient> {
    let entry = actor.entry(now, action::CLIENT_UPDATE, Some(id.as_str()), changes.describe());
    // Applied to the row as the store holds it, inside its transaction: two admins changing one client at
    // once (one its scopes, the other its networks) both keep their change.
    let apply = |client: &mut ApiClient| client.apply(changes.clone(), now);
    found(id, store.modify_client_audited(id, &apply, Some(&entry)).await?)
}

/// Replaces a client's secret (returned once); the old one and the tokens issued before now stop working.
pub async fn reset_secret(
    store: &dyn Store,
    actor: &Actor,
    id: &ClientId,
    now: i64,
) -> AdminResult<(ApiClient, ClientSecret)> {
    let mut client = existing(store, id).await?;
    let secret = ClientSecret::generate();
    client.reset_secret(secret.digest(), now);
    let details = "secret replaced; earlier tokens refused".to_owned();
    let entry = actor.entry(now, action::CLIENT_RESET_SECRET, Some(id.as_str()), details);
    gone(id, store.set_secret_audited(&client, Some(&entry)).await?)?;
    Ok((client, secret))
}

/// Refuses every token issued to the client before now (in whole seconds, see `tokens_not_before`); the
/// client itself keeps working.
pub async fn revoke_tokens(store: &dyn Store, actor: &Actor, id: &ClientId, now: i64) -> AdminResult<ApiClient> {
    let details = "tokens issued before now refused".to_owned();
    let entry = actor.entry(now, action::CLIENT_REVOKE_TOKENS, Some(id.as_str()), details);
    let revoke = |client: &mut ApiClient| client.refuse_tokens_before(now);
    found(id, store.modify_client_audited(id, &revoke, Some(&entry)).await?)
}

/// Deletes a client; answers what it was.
pub async fn delete(store: &dyn Store, actor: &Actor, id: &ClientId, now: i64) -> AdminResult<ApiClient> {
    let client = existing(store, id).await?;
    let entry = actor.entry(now, action::CLIENT_DELETE, Some(id.as_str()), format!("name={:?}", client.name));
    gone(id, store.delete_client_audited(id, Some(&entry)).await?)?;
    Ok(client)
}
