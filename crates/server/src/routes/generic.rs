//! The generic engine's HTTP half: every catalogue operation on a conventional route that no handler of
//! [`super::falcon::EMULATED`] emulates is answered here, per customer, from its catalogue entry
//! (`talon_emulator::generic::GenericOp`): queries (IDs) and combined queries (records) with FQL, sort and
//! the operation's paging style; get, create, update and delete by ID; actions; aggregates. Records are
//! kept by the store (`Store::entities` and its kin), read on every request, so every node answers the
//! same at once. The request is checked against the catalogue first: a required parameter missing, a
//! number that is not one, a limit out of its bounds, too many IDs, a body that is not JSON: each a 400
//! naming it, and nothing written.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{RawPathParams, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value as Json;

use talon_emulator::generic::entity::{self, BodyError, Stamp};
use talon_emulator::generic::fixture::{record_applies, Canned, CANNED_RESOURCE};
use talon_emulator::generic::select::{select, Object};
use talon_emulator::generic::{aggregate, GenericOp, Paging, Shape};
use talon_store::{EntityRefusal, OnExisting, StoredEntity, RESOURCE_CAP};
use talon_wire::catalogue::{Location, Operation, ParamType};
use talon_wire::envelope::{ErrorItem, Pagination};
use talon_wire::form::Form;

use super::devices::{query_params, scroll_pagination, scroll_position, scroll_token};
use crate::error::{envelope, envelope_paged, ApiError};
use crate::extract::{read_json, Authorized, Body};
use crate::state::AppState;

/// Longest free-text search (`q`).
pub const MAX_SEARCH_CHARS: usize = 256;
/// Most JSON one create may write (a batch's shared fields are copied into each of its records).
pub const MAX_CREATE_BYTES: usize = 4 * 1024 * 1024;

/// One generic operation: its catalogue entry, what the engine reads off it, and its `powered_by`.
pub struct GenericRoute {
    pub op: &'static Operation,
    pub generic: GenericOp,
    powered_by: &'static str,
    /// The operation's array query parameters: those that may repeat.
    repeatable: Vec<&'static str>,
}

impl GenericRoute {
    pub fn new(op: &'static Operation, generic: GenericOp) -> GenericRoute {
        GenericRoute { op, generic, powered_by: powered_by(&op.collection), repeatable: repeatable(op) }
    }
}

/// `meta.powered_by` of a collection's answers, errors included: its name with dashes. Made once per
/// collection (some 140) and kept for the process, as the envelope takes a `&'static str`.
fn powered_by(collection: &str) -> &'static str {
    static NAMES: std::sync::OnceLock<parking_lot::Mutex<HashMap<String, &'static str>>> = std::sync::OnceLock::new();
    let mut names = NAMES.get_or_init(Default::default).lock();
    names.entry(collection.to_owned()).or_insert_with(|| Box::leak(collection.replace('_', "-").into_boxed_str()))
}

/// The operation's array query parameters: those that may repeat.
pub fn repeatable(op: &'static Operation) -> Vec<&'static str> {
    op.params.iter().filter(|p| p.location == Location::Query && p.is_array()).map(|p| p.name.as_str()).collect()
}

/// The answer a fixture gave this operation for a request with these parameters (see
/// `talon_emulator::generic::fixture`): the first canned answer of the customer's whose match holds.
pub async fn canned(
    state: &AppState,
    customer: &talon_auth::CustomerId,
    op: &Operation,
    params: &Form,
) -> Result<Option<Response>, ApiError> {
    let answers = state.caches().entities(customer, CANNED_RESOURCE).await?;
    let param = |name: &str| params.get(name).map(str::to_owned);
    // The match is read off the stored record; only the answer that applies is parsed whole.
    let found = answers
        .iter()
        .filter(|e| e.record.get("operation").and_then(Json::as_str) == Some(op.id.as_str()))
        .find(|e| record_applies(&e.record, param))
        .and_then(|e| serde_json::from_value::<Canned>(Json::Object(e.record.clone())).ok());
    let Some(answer) = found else { return Ok(None) };
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response =
        (status, [(axum::http::header::CONTENT_TYPE, "application/json")], answer.body.to_string()).into_response();
    for (name, value) in &answer.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    Ok(Some(response))
}

/// The request as the generic handlers read it.
struct Call<'a> {
    route: &'a GenericRoute,
    state: &'a AppState,
    auth: &'a Authorized,
    params: Form,
    path: Vec<String>,
    headers: &'a HeaderMap,
    body: &'a [u8],
}

/// Answers one generic operation.
pub async fn answer(
    route: Arc<GenericRoute>,
    State(state): State<AppState>,
    auth: Authorized,
    path: Result<RawPathParams, axum::extract::rejection::RawPathParamsRejection>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let params = query_params(raw.as_deref(), &route.repeatable, talon_wire::form::MAX_FIELDS)
        .map_err(|e| e.powered_by(route.powered_by))?;
    // A fixture's canned answer wins over the engine's, checks included (it is the user's answer).
    if let Some(answer) = canned(&state, &auth.principal.customer, route.op, &params).await? {
        return Ok(answer);
    }
    check_params(route.op, &params).map_err(|e| e.powered_by(route.powered_by))?;
    let path = match path {
        Ok(p) => p.iter().map(|(_, v)| v.to_owned()).collect(),
        // A route without placeholders has none to read; one whose segment is not UTF-8 is refused.
        Err(_) if !route.op.path.contains('{') => vec![],
        Err(_) => return Err(ApiError::bad_request("the route's ID is not valid percent-encoded UTF-8")),
    };
    let call = Call { route: &route, state: &state, auth: &auth, params, path, headers: &headers, body: &body };
    let answered = match route.generic.shape {
        Shape::Query | Shape::Combined | Shape::Listing => call.query().await,
        Shape::Get if route.op.method == talon_wire::operation::Method::Post => call.read_by_body().await,
        Shape::Get => call.get(None).await,
        Shape::Create => call.create().await,
        Shape::Update => call.update().await,
        Shape::Delete => call.delete().await,
        Shape::Action => call.action().await,
        Shape::Aggregate => call.aggregate().await,
    };
    answered.map_err(|e| e.powered_by(route.powered_by))
}

/// The catalogue's checks a server makes of the query string: required parameters present, numbers and
/// booleans that parse, numbers within the bounds, values among the named ones.
fn check_params(op: &Operation, params: &Form) -> Result<(), ApiError> {
    for p in op.params.iter().filter(|p| p.location == Location::Query) {
        let values = params.all(&p.name);
        if values.is_empty() {
            if p.required {
                return Err(ApiError::bad_request(format!("{} is required", p.name)));
            }
            continue;
        }
        let items: Vec<&str> = if p.is_array() { values.iter().flat_map(|v| v.split(',')).collect() } else { values };
        let kind = if p.is_array() { p.items } else { p.kind };
        for value in items {
            let number = match kind {
                Some(ParamType::Integer) => Some(value.parse::<i64>().map(|n| n as f64).ok()),
                Some(ParamType::Number) => Some(value.parse::<f64>().ok().filter(|n| n.is_finite())),
                Some(ParamType::Boolean) if value.parse::<bool>().is_err() => {
                    return Err(ApiError::bad_request(format!("{}: {:?} is not true or false", p.name, cut(value))));
                }
                _ => None,
            };
            if let Some(number) = number {
                let Some(n) = number else {
                    return Err(ApiError::bad_request(format!("{}: {:?} is not a number", p.name, cut(value))));
                };
                if p.minimum.is_some_and(|m| n < m) || p.maximum.is_some_and(|m| n > m) {
                    let (lo, hi) = (
                        p.minimum.map_or("-".into(), |m| m.to_string()),
                        p.maximum.map_or("-".into(), |m| m.to_string()),
                    );
                    return Err(ApiError::bad_request(format!("{}: {n} is out of its bounds [{lo}, {hi}]", p.name)));
                }
            }
            let allowed =
                !p.allowed.is_empty() && p.name != "sort" && !p.allowed.iter().any(|a| a.as_str() == Some(value));
            if allowed {
                return Err(ApiError::bad_request(format!(
                    "{}: {:?} is not one of the values it takes",
                    p.name,
                    cut(value)
                )));
            }
        }
    }
    Ok(())
}

/// A caller's text as an error message shows it: its first 40 characters.
fn cut(text: &str) -> String {
    text.chars().take(40).collect()
}

/// A refused body as the client sees it.
fn bad_body(e: BodyError) -> ApiError {
    ApiError::bad_request(e.0)
}

/// The pagination of each paging style.
#[derive(Serialize)]
#[serde(untagged)]
enum AnyPagination {
    Offset(Pagination),
    After { limit: u64, total: u64, after: String },
    Scroll(talon_wire::device::TokenPagination),
}

impl Call<'_> {
    fn customer(&self) -> &talon_auth::CustomerId {
        &self.auth.principal.customer
    }

    fn resource(&self) -> &str {
        self.route.generic.resource.as_str()
    }

    /// After this node wrote the resource: its cached records go at once (other nodes follow the store's
    /// counter within their refresh).
    fn forget(&self) {
        self.state.caches().forget_entities(Some((self.customer(), self.resource())));
    }

    fn stamp(&self) -> (i64, String) {
        (self.state.now(), self.auth.principal.client_id.to_string())
    }

    fn respond<R: Serialize>(&self, status: StatusCode, resources: R, errors: Vec<ErrorItem>) -> Response {
        envelope(status, self.route.powered_by, Some(resources), errors, None)
    }

    /// Whether the request carries no body to read: none, or (on a GET, as FalconPy sends one on every
    /// call) an empty JSON object.
    fn no_body(&self) -> bool {
        let text = String::from_utf8_lossy(self.body);
        let text = text.trim();
        text.is_empty() || (matches!(self.route.op.method, talon_wire::operation::Method::Get) && text == "{}")
    }

    /// The JSON body, or the error naming what the operation takes.
    fn json_body(&self) -> Result<Json, ApiError> {
        read_json(self.headers, self.body, "{\"resources\": [{...}]} or a JSON object")
    }

    /// A query parameter, or the same field of a POST query's JSON body.
    fn param(&self, name: &str, body: Option<&Json>) -> Option<String> {
        if let Some(v) = self.params.get(name) {
            return Some(v.to_owned());
        }
        match body?.get(name)? {
            Json::String(s) => Some(s.clone()),
            Json::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// The records the request names: the ID parameter (repeated or comma separated), else the route's
    /// placeholders; `None` when it names none.
    fn named_ids(&self) -> Result<Option<Vec<String>>, ApiError> {
        let generic = &self.route.generic;
        let ids: Vec<String> = match &generic.ids_param {
            Some(name) => self.params.all(name).iter().flat_map(|v| v.split(',')).map(str::to_owned).collect(),
            None => self.path.clone(),
        };
        if ids.is_empty() {
            return Ok(None);
        }
        self.check_ids(&ids)?;
        Ok(Some(ids))
    }

    fn check_ids(&self, ids: &[String]) -> Result<(), ApiError> {
        let max = self.route.generic.max_ids;
        if ids.is_empty() || ids.len() > max {
            return Err(ApiError::bad_request(format!("name 1 to {max} IDs")));
        }
        ids.iter().try_for_each(|id| entity::check_id(id)).map_err(bad_body)
    }

    /// Queries, combined queries and listings: filter, sort, page.
    async fn query(&self) -> Result<Response, ApiError> {
        let body = match (self.route.op.method, self.no_body()) {
            (talon_wire::operation::Method::Post, false) => Some(self.json_body()?),
            _ => None,
        };
        let body = body.as_ref();
        let generic = &self.route.generic;
        let limit = match self.param("limit", body) {
            Some(l) => l.parse::<u64>().map_err(|_| ApiError::bad_request("limit must be a whole number"))?,
            None => generic.default_limit,
        };
        if limit > generic.max_limit {
            return Err(ApiError::bad_request(format!("limit must be at most {}", generic.max_limit)));
        }
        // `limit=0` (where the catalogue allows it) asks only for the total: an empty page.
        let start = match generic.paging {
            Paging::Offset => match self.param("offset", body) {
                Some(o) => o.parse::<u64>().map_err(|_| ApiError::bad_request("offset must be a whole number"))?,
                None => 0,
            },
            Paging::After => scroll_position(self.param("after", body).as_deref())?,
            Paging::Scroll => scroll_position(self.param("offset", body).as_deref())?,
        };
        let (filter, sort) = (self.param("filter", body), self.param("sort", body));
        let search = self.param("q", body).filter(|q| !q.is_empty()).map(|q| q.to_lowercase());
        if search.as_ref().is_some_and(|q| q.chars().count() > MAX_SEARCH_CHARS) {
            return Err(ApiError::bad_request(format!("q may be at most {MAX_SEARCH_CHARS} characters")));
        }
        let stored = self.state.caches().entities(self.customer(), self.resource()).await?;
        let page = PageAsk {
            filter,
            sort,
            search,
            skip: usize::try_from(start).unwrap_or(usize::MAX),
            take: usize::try_from(limit).unwrap_or(usize::MAX),
            ids_only: generic.shape == Shape::Query,
            id_field: generic.id_field,
            now: self.state.now(),
        };
        // A filter over a few hundred records costs microseconds; over thousands it runs off the async
        // workers, as host queries do.
        let (resources, total) = if stored.len() <= INLINE_RECORDS {
            page.over(&stored)?
        } else {
            tokio::task::spawn_blocking(move || page.over(&stored)).await.map_err(|_| ApiError::internal())??
        };
        let next = start.saturating_add(limit).min(total.max(start));
        let pagination = match generic.paging {
            Paging::Offset => AnyPagination::Offset(Pagination { offset: start, limit, total }),
            Paging::After => AnyPagination::After {
                limit,
                total,
                after: if next < total { scroll_token(next) } else { String::new() },
            },
            Paging::Scroll => AnyPagination::Scroll(scroll_pagination(self.state, start, limit, total, false)),
        };
        Ok(envelope_paged(StatusCode::OK, self.route.powered_by, Some(resources), vec![], Some(pagination)))
    }

    /// The named records (`ids` given, as from a POST-to-read body): those found, in the order named;
    /// each unknown ID an error entry (404 when none is found). With no ID named and none required, every
    /// record up to the operation's bound.
    async fn get(&self, ids: Option<Vec<String>>) -> Result<Response, ApiError> {
        let ids = match ids {
            Some(ids) => ids,
            None => match self.named_ids()? {
                Some(ids) => ids,
                None if self.route.generic.ids_required => {
                    let name = self.route.generic.ids_param.as_deref().unwrap_or("ids");
                    return Err(ApiError::bad_request(format!("{name} is required")));
                }
                None => {
                    let all = self.state.caches().entities(self.customer(), self.resource()).await?;
                    let records: Vec<&Object> =
                        all.iter().take(self.route.generic.max_ids).map(|e| &e.record).collect();
                    return Ok(self.respond(StatusCode::OK, records, vec![]));
                }
            },
        };
        let all = self.state.caches().entities(self.customer(), self.resource()).await?;
        let wanted: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
        let by_id: HashMap<&str, &Object> =
            all.iter().filter(|e| wanted.contains(e.id.as_str())).map(|e| (e.id.as_str(), &e.record)).collect();
        let mut seen = std::collections::HashSet::new();
        let records: Vec<&Object> =
            ids.iter().filter(|id| seen.insert(id.as_str())).filter_map(|id| by_id.get(id.as_str()).copied()).collect();
        let errors = not_found(ids.iter().filter(|id| !by_id.contains_key(id.as_str())));
        let status = if records.is_empty() { StatusCode::NOT_FOUND } else { StatusCode::OK };
        Ok(self.respond(status, records, errors))
    }

    /// A POST that reads (a `GET` segment in its route): the records its body's IDs name.
    async fn read_by_body(&self) -> Result<Response, ApiError> {
        let body = self.json_body()?;
        let ids = entity::ids_only(&body)
            .ok_or_else(|| ApiError::bad_request("the body must name the records: {\"ids\": [\"<id>\", ...]}"))?;
        self.check_ids(&ids)?;
        self.get(Some(ids)).await
    }

    /// Creates the body's records (201), or reads them when the body only names IDs.
    async fn create(&self) -> Result<Response, ApiError> {
        let body = self.json_body()?;
        if let Some(ids) = entity::ids_only(&body) {
            self.check_ids(&ids)?;
            return self.get(Some(ids)).await;
        }
        let (now, actor) = self.stamp();
        let stamp = Stamp { now, actor: &actor };
        let records: Vec<StoredEntity> = entity::to_create(&body)
            .map_err(bad_body)?
            .into_iter()
            .map(|fields| {
                let id = uuid::Uuid::new_v4().simple().to_string();
                let mut record = entity::new_record(fields, id.clone(), stamp);
                record.insert(self.route.generic.id_field.to_owned(), Json::String(id.clone()));
                entity::check_size(&record).map(|()| StoredEntity { id, record })
            })
            .collect::<Result<_, _>>()
            .map_err(bad_body)?;
        let bytes: usize = records.iter().map(|e| e.record_len()).sum();
        if bytes > MAX_CREATE_BYTES {
            return Err(ApiError::bad_request(format!(
                "one create may write at most {MAX_CREATE_BYTES} bytes of JSON"
            )));
        }
        self.state
            .store()
            .put_entities(self.customer(), self.resource(), &records, OnExisting::Refuse, RESOURCE_CAP)
            .await?
            .map_err(refusal)?;
        self.forget();
        let shown: Vec<Object> = records.into_iter().map(|e| e.record).collect();
        Ok(self.respond(StatusCode::CREATED, shown, vec![]))
    }

    /// Applies the body's changes to the records they name, all or none.
    async fn update(&self) -> Result<Response, ApiError> {
        let body = self.json_body()?;
        let query_ids = self.named_ids()?.unwrap_or_default();
        // A PUT naming no record is a create (`PUT /cases/entities/cases/v2`): Falcon's PUTs replace or make.
        let names_a_record = entity::names_records(&body);
        if self.route.op.method == talon_wire::operation::Method::Put && query_ids.is_empty() && !names_a_record {
            return self.create().await;
        }
        let changes = entity::to_update(&body, &query_ids).map_err(bad_body)?;
        let ids: Vec<String> = changes.iter().map(|(id, _)| id.clone()).collect();
        self.check_ids(&ids)?;
        let (now, actor) = self.stamp();
        // A change that would make a record too large refuses the whole update, inside the store's
        // transaction (so two updates that each fit cannot make one together).
        let edit = |e: &mut StoredEntity| {
            for (_, change) in changes.iter().filter(|(id, _)| *id == e.id) {
                let id_field = self.route.generic.id_field;
                entity::update(&mut e.record, change, id_field, Stamp { now, actor: &actor })
                    .map_err(|refused| refused.0)?;
            }
            entity::check_size(&e.record).map_err(|refused| refused.0)
        };
        let changed =
            self.state.store().edit_entities(self.customer(), self.resource(), &ids, &edit).await?.map_err(refusal)?;
        self.forget();
        let shown: Vec<Object> = changed.into_iter().map(|e| e.record).collect();
        Ok(self.respond(StatusCode::OK, shown, vec![]))
    }

    /// Deletes the named records, all or none; their IDs.
    async fn delete(&self) -> Result<Response, ApiError> {
        let filter =
            self.params.get("filter").filter(|f| !f.trim().is_empty() && self.route.op.param("filter").is_some());
        let ids = match self.named_ids()? {
            Some(ids) => ids,
            // A delete by `filter` (the IOCs'): the records it selects, all or none.
            None if filter.is_some() => {
                let stored = self.state.caches().entities(self.customer(), self.resource()).await?;
                let refs: Vec<&Object> = stored.iter().map(|e| &e.record).collect();
                let chosen =
                    select(&refs, filter, None, self.state.now()).map_err(|e| ApiError::bad_request(e.to_string()))?;
                let ids: Vec<String> = chosen.into_iter().map(|i| stored[i].id.clone()).collect();
                if ids.is_empty() {
                    return Ok(self.respond(StatusCode::OK, Vec::<String>::new(), vec![]));
                }
                ids
            }
            None => {
                let name = self.route.generic.ids_param.as_deref().unwrap_or("ids");
                return Err(ApiError::bad_request(format!("{name} is required")));
            }
        };
        let deleted =
            self.state.store().delete_entities(self.customer(), self.resource(), &ids).await?.map_err(refusal)?;
        self.forget();
        Ok(self.respond(StatusCode::OK, deleted, vec![]))
    }

    /// `action_name` on the records the body's `ids` name (`enable`/`disable` set `enabled`).
    async fn action(&self) -> Result<Response, ApiError> {
        let generic = &self.route.generic;
        let Some(action) = self.params.get("action_name").filter(|a| !a.is_empty()) else {
            return Err(ApiError::bad_request("action_name is required"));
        };
        if !generic.action_names.is_empty() && !generic.action_names.iter().any(|a| a == action) {
            return Err(ApiError::bad_request(format!(
                "action_name: {:?} is not one of {}",
                cut(action),
                generic.action_names.join(", ")
            )));
        }
        let body = self.json_body()?;
        let ids: Vec<String> = match body.get("ids") {
            Some(Json::Array(ids)) => ids.iter().map(|i| i.as_str().map(str::to_owned)).collect::<Option<_>>(),
            _ => None,
        }
        .map_or_else(|| self.named_ids(), |ids| Ok(Some(ids)))?
        .ok_or_else(|| ApiError::bad_request("the body must name the records: {\"ids\": [\"<id>\", ...]}"))?;
        self.check_ids(&ids)?;
        let (now, actor) = self.stamp();
        let edit = |e: &mut StoredEntity| {
            entity::act(&mut e.record, action, Stamp { now, actor: &actor });
            Ok(())
        };
        let changed =
            self.state.store().edit_entities(self.customer(), self.resource(), &ids, &edit).await?.map_err(refusal)?;
        self.forget();
        let shown: Vec<Object> = changed.into_iter().map(|e| e.record).collect();
        Ok(self.respond(StatusCode::OK, shown, vec![]))
    }

    /// Aggregations over the records the `filter` parameter selects: the body's specs (one object or a
    /// list); a GET without a body counts, or takes the terms of its `field` parameter.
    async fn aggregate(&self) -> Result<Response, ApiError> {
        let specs: Vec<aggregate::Spec> = if self.no_body() {
            let spec = match self.params.get("field") {
                Some(field) => serde_json::json!({"name": field, "type": "terms", "field": field}),
                None => serde_json::json!({"name": "count", "type": "count"}),
            };
            vec![serde_json::from_value(spec).map_err(|_| ApiError::internal())?]
        } else {
            let body = self.json_body()?;
            let list = if body.is_object() { Json::Array(vec![body]) } else { body };
            serde_json::from_value(list).map_err(|e| {
                ApiError::bad_request(format!(
                    "body must be aggregations such as [{{\"name\": \"by_status\", \"type\": \"terms\", \"field\": \"status\"}}]: {e}"
                ))
            })?
        };
        aggregate::check(&specs).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let filter = self.params.get("filter").map(str::to_owned);
        let stored = self.state.caches().entities(self.customer(), self.resource()).await?;
        let now = self.state.now();
        let answers = tokio::task::spawn_blocking(move || -> Result<Vec<aggregate::Aggregation>, ApiError> {
            let refs: Vec<&Object> = stored.iter().map(|e| &e.record).collect();
            let chosen =
                select(&refs, filter.as_deref(), None, now).map_err(|e| ApiError::bad_request(e.to_string()))?;
            let selected: Vec<&Object> = chosen.into_iter().map(|i| refs[i]).collect();
            aggregate::run(&specs, &selected, now).map_err(|e| ApiError::bad_request(e.to_string()))
        })
        .await
        .map_err(|_| ApiError::internal())??;
        Ok(self.respond(StatusCode::OK, answers, vec![]))
    }
}

/// Records a query reads on the async worker itself; more, and it runs on the blocking pool.
const INLINE_RECORDS: usize = 500;

/// What a query asks of a resource's records.
struct PageAsk {
    filter: Option<String>,
    sort: Option<String>,
    /// `q`, lowercased: every value of a record searched as text.
    search: Option<String>,
    skip: usize,
    take: usize,
    /// A query answers the records' IDs, a combined query the records.
    ids_only: bool,
    id_field: &'static str,
    now: i64,
}

impl PageAsk {
    /// The page (IDs or records, as JSON) and the number of records that match.
    fn over(&self, stored: &[StoredEntity]) -> Result<(Json, u64), ApiError> {
        let refs: Vec<&Object> = stored
            .iter()
            .map(|e| &e.record)
            .filter(|r| {
                self.search
                    .as_ref()
                    .is_none_or(|q| serde_json::to_string(r).unwrap_or_default().to_lowercase().contains(q))
            })
            .collect();
        let chosen = select(&refs, self.filter.as_deref(), self.sort.as_deref(), self.now)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let total = chosen.len() as u64;
        let page = chosen.into_iter().skip(self.skip).take(self.take).map(|i| refs[i]);
        let resources = if self.ids_only {
            page.map(|r| r.get(self.id_field).cloned().unwrap_or(Json::Null)).collect()
        } else {
            page.map(|r| Json::Object(r.clone())).collect()
        };
        Ok((resources, total))
    }
}

/// A 404 entry for each unknown ID.
fn not_found<'a>(ids: impl Iterator<Item = &'a String>) -> Vec<ErrorItem> {
    let mut seen = std::collections::HashSet::new();
    ids.filter(|id| seen.insert(id.as_str()))
        .map(|id| ErrorItem { code: 404, message: format!("{} not found", cut(id)) })
        .collect()
}

/// A store's refusal as the client sees it.
fn refusal(refusal: EntityRefusal) -> ApiError {
    match refusal {
        EntityRefusal::Unknown(ids) => {
            let list: Vec<String> = ids.iter().take(10).map(|i| cut(i)).collect();
            let more = if ids.len() > 10 { format!(" and {} more", ids.len() - 10) } else { String::new() };
            ApiError::not_found(format!("no such record: {}{more}; nothing was changed", list.join(", ")))
        }
        EntityRefusal::Taken(id) => {
            ApiError::new(StatusCode::CONFLICT, format!("a record with ID {:?} exists already", cut(&id)))
        }
        refused @ (EntityRefusal::Full(_) | EntityRefusal::Refused(_)) => ApiError::bad_request(refused.to_string()),
    }
}

/// The route of a generic operation: [`answer`] on the catalogue's method.
pub fn route(op: &'static Operation, generic: GenericOp) -> axum::routing::MethodRouter<AppState> {
    let route = Arc::new(GenericRoute::new(op, generic));
    let handler =
        move |state: State<AppState>,
              auth: Authorized,
              path: Result<RawPathParams, axum::extract::rejection::RawPathParamsRejection>,
              query: RawQuery,
              headers: HeaderMap,
              body: Body| { answer(route.clone(), state, auth, path, query, headers, body) };
    axum::routing::on(super::falcon::method_filter(op.method), handler)
}
