//! `ApiClients`: Talon's admin API (scopes `api-clients:read` / `api-clients:write`): list, show, create,
//! update, reset the secret of, revoke the tokens of and delete API clients, and read the audit log.
//! Each call goes through the [`Client`], so tokens, renewal and retries are handled as for any call.

use reqwest::Method;
use serde::de::DeserializeOwned;
use talon_wire::admin::{path, ApiClientView, AuditEntryView, ClientListing, CreateClientRequest, UpdateClientRequest};
use talon_wire::ids::is_hex32;

use crate::answer::resources;
use crate::{Client, Error};

/// One page of a list: its items and how many there are in all.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// This page's items.
    pub items: Vec<T>,
    /// How many items there are in all pages.
    pub total: u64,
    /// The seek token of the page after this one (`ClientListing::after`), when the server gives one
    /// and there is a next page.
    pub next: Option<String>,
}

/// The admin API's service collection (Talon's own; the real Falcon API manages API clients in its
/// console only).
#[derive(Clone)]
pub struct ApiClients {
    client: Client,
}

impl ApiClients {
    /// The admin API over `client`, which needs the `api-clients` scopes.
    pub fn new(client: Client) -> ApiClients {
        ApiClients { client }
    }

    /// A page of clients, in creation order.
    pub async fn list(&self, offset: u64, limit: u64) -> Result<Page<ApiClientView>, Error> {
        self.page(path::CLIENTS, offset, limit).await
    }

    /// A page of the clients `listing` asks for: filtered, sorted and paged by the server.
    pub async fn search(&self, listing: &ClientListing) -> Result<Page<ApiClientView>, Error> {
        let mut request = self.client.request(Method::GET, path::CLIENTS);
        for (name, value) in listing.pairs() {
            request = request.query(name, value);
        }
        page_of(request.send().await?)
    }

    /// Every client, page by page.
    pub async fn list_all(&self) -> Result<Vec<ApiClientView>, Error> {
        self.search_all(&ClientListing::default()).await
    }

    /// Every client `listing` selects (its `limit` is the page size), page after page by the server's
    /// seek tokens; by offset from a server that gives none.
    pub async fn search_all(&self, listing: &ClientListing) -> Result<Vec<ApiClientView>, Error> {
        let mut listing =
            ClientListing { limit: Some(listing.limit.unwrap_or(talon_wire::admin::MAX_PAGE)), ..listing.clone() };
        let mut all: Vec<ApiClientView> = vec![];
        let mut seen = std::collections::HashSet::new();
        loop {
            let page = self.search(&listing).await?;
            let before = all.len();
            all.extend(page.items.into_iter().filter(|c| seen.insert(c.client_id.clone())));
            // Done at the total or at the last page, or when a page brings nothing new (a server that
            // ignores the paging would otherwise be asked for the same page for ever).
            if all.len() == before || all.len() as u64 >= page.total {
                return Ok(all);
            }
            match page.next {
                Some(next) => listing = ClientListing { after: Some(next), offset: None, ..listing },
                None => listing.offset = Some(all.len() as u64),
            }
        }
    }

    /// One client by its ID (32 lowercase hex characters; anything else is an `Error::Config`).
    pub async fn get(&self, id: &str) -> Result<ApiClientView, Error> {
        self.one(Method::GET, path::CLIENT, id, None::<&()>).await
    }

    /// Creates a client; the answer's `client_secret` is the only time the secret is shown.
    pub async fn create(&self, request: &CreateClientRequest) -> Result<ApiClientView, Error> {
        let answer = self.client.request(Method::POST, path::CLIENTS).json(request)?.send().await?;
        first(answer)
    }

    /// Changes a client: only the fields the request sets (a list replaces the whole list).
    pub async fn update(&self, id: &str, request: &UpdateClientRequest) -> Result<ApiClientView, Error> {
        self.one(Method::PATCH, path::CLIENT, id, Some(request)).await
    }

    /// Replaces the secret (in the answer's `client_secret`, shown this once); the old one stops working.
    pub async fn reset_secret(&self, id: &str) -> Result<ApiClientView, Error> {
        self.one(Method::POST, path::RESET_SECRET, id, None::<&()>).await
    }

    /// Refuses every token the client holds now.
    pub async fn revoke_tokens(&self, id: &str) -> Result<ApiClientView, Error> {
        self.one(Method::POST, path::REVOKE_TOKENS, id, None::<&()>).await
    }

    /// Deletes a client; its live tokens are refused at once.
    pub async fn delete(&self, id: &str) -> Result<(), Error> {
        let path = path::with_id(path::CLIENT, checked(id)?);
        self.client.request(Method::DELETE, &path).send().await?;
        Ok(())
    }

    /// A page of the audit log, newest first.
    pub async fn audit(&self, offset: u64, limit: u64) -> Result<Page<AuditEntryView>, Error> {
        self.page(path::AUDIT, offset, limit).await
    }

    async fn page<T: DeserializeOwned>(&self, path: &str, offset: u64, limit: u64) -> Result<Page<T>, Error> {
        let answer =
            self.client.request(Method::GET, path).query("offset", offset).query("limit", limit).send().await?;
        page_of(answer)
    }

    async fn one<B: serde::Serialize>(
        &self,
        method: Method,
        template: &str,
        id: &str,
        body: Option<&B>,
    ) -> Result<ApiClientView, Error> {
        let mut request = self.client.request(method, &path::with_id(template, checked(id)?));
        if let Some(body) = body {
            request = request.json(body)?;
        }
        first(request.send().await?)
    }
}

/// The page an answer holds, with its seek token when it has one.
fn page_of<T: DeserializeOwned>(answer: serde_json::Value) -> Result<Page<T>, Error> {
    let next = answer["meta"]["pagination"]["after"].as_str().map(str::to_owned);
    let (items, pagination) = resources(answer)?;
    Ok(Page { items, total: pagination.map_or(0, |p| p.total), next })
}

/// A client ID fit for a path: 32 lowercase hex characters, so nothing else can be spliced into the URL.
fn checked(id: &str) -> Result<&str, Error> {
    if is_hex32(id) {
        Ok(id)
    } else {
        Err(Error::Config("a client ID must be 32 lowercase hex characters".into()))
    }
}

fn first(answer: serde_json::Value) -> Result<ApiClientView, Error> {
    let (clients, _) = resources::<ApiClientView>(answer)?;
    clients.into_iter().next().ok_or_else(|| Error::Transport("the answer holds no client".into()))
}
