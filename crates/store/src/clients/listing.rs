//! The admin listing of API clients: what a listing asks ([`ClientQuery`], checked from the admin API's
//! parameters), its SQL (filters as `WHERE` terms with bound values, the sort, a seek position as a
//! row-value comparison) and its pages with their seek tokens.

use talon_auth::{ApiClient, ClientId, CustomerId};
use talon_wire::admin::ClientListing;
use talon_wire::Scope;

use crate::records::ClientRecord;
use crate::sql::Bound;
use crate::{Result, StoreError};

/// What an admin listing asks: whose clients, which, in what order, and which page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientQuery {
    /// The customer whose clients are listed; `None`: every customer's.
    pub customer: Option<CustomerId>,
    /// Only clients whose name holds this text, without regard to the case of ASCII letters (what both
    /// databases' `LOWER` agree on).
    pub name_contains: Option<String>,
    /// Only clients holding this scope.
    pub scope: Option<Scope>,
    /// Only enabled (or only disabled) clients.
    pub enabled: Option<bool>,
    pub sort: ClientSort,
    pub descending: bool,
    /// Where the page starts: after this position of an earlier page (seek paging, the same cost at any
    /// depth), else `offset` rows in.
    pub after: Option<SeekPosition>,
    pub offset: u64,
    pub limit: u64,
}

/// The orders a listing can have; each ends in the client ID, so that positions are unique.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientSort {
    /// Creation order (the default).
    #[default]
    Created,
    Name,
}

/// A row's place in a listing's order: its sort key and client ID. Shown to callers as an opaque token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeekPosition {
    pub key: SortKey,
    pub client_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    Created(i64),
    Name(String),
}

/// Longest sort key a position token may carry (a client's name is at most a few hundred characters).
const MAX_TOKEN_KEY_BYTES: usize = 2048;

impl SeekPosition {
    /// The position as the `after` token callers pass back: the sort's letter, the key (a number, or the
    /// name's bytes in hex so that any name fits) and the client ID, dot-separated.
    pub fn token(&self) -> String {
        let key = match &self.key {
            SortKey::Created(at) => format!("c{at}"),
            SortKey::Name(name) => format!("n{}", name.bytes().map(|b| format!("{b:02x}")).collect::<String>()),
        };
        format!("{key}.{}", self.client_id)
    }

    /// A token of [`SeekPosition::token`], when it is one of a listing in order `sort`.
    pub fn parse(token: &str, sort: ClientSort) -> Option<SeekPosition> {
        let (key, client_id) = token.split_once('.')?;
        if key.len() > MAX_TOKEN_KEY_BYTES || ClientId::parse(client_id).is_err() {
            return None;
        }
        let key = match (sort, key.split_at_checked(1)?) {
            (ClientSort::Created, ("c", at)) => SortKey::Created(at.parse().ok()?),
            (ClientSort::Name, ("n", hex)) => {
                if hex.len() % 2 != 0 {
                    return None;
                }
                let bytes = (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                    .collect::<Option<Vec<u8>>>()?;
                SortKey::Name(String::from_utf8(bytes).ok()?)
            }
            _ => return None,
        };
        Some(SeekPosition { key, client_id: client_id.to_owned() })
    }
}

/// A page of a listing.
#[derive(Debug)]
pub struct ClientPage {
    pub clients: Vec<ApiClient>,
    /// How many clients match the query's filters in all.
    pub total: u64,
    /// Where the next page starts, when there is one.
    pub next: Option<SeekPosition>,
}

impl ClientSort {
    /// The listing's `sort` parameter: `created_at` or `name`, with `.asc` (the default) or `.desc`;
    /// answers the order and whether it is descending.
    pub fn parse(text: &str) -> Option<(ClientSort, bool)> {
        let (field, direction) = text.split_once('.').unwrap_or((text, "asc"));
        let sort = match field {
            "created_at" => ClientSort::Created,
            "name" => ClientSort::Name,
            _ => return None,
        };
        match direction {
            "asc" => Some((sort, false)),
            "desc" => Some((sort, true)),
            _ => None,
        }
    }

    fn column(self) -> &'static str {
        match self {
            ClientSort::Created => "created_at",
            ClientSort::Name => "name",
        }
    }

    pub fn key_of(self, client: &ApiClient) -> SortKey {
        match self {
            ClientSort::Created => SortKey::Created(client.created_at),
            ClientSort::Name => SortKey::Name(client.name.clone()),
        }
    }
}

/// A listing as SQL: the page's statement and the count's, with their values for `$1`, `$2`, ...
#[derive(Debug)]
pub(crate) struct ListingSql {
    pub page: String,
    pub page_binds: Vec<Bound>,
    pub count: String,
    pub count_binds: Vec<Bound>,
}

/// `%`, `_` and the escape character itself taken literally in a `LIKE` pattern.
fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Longest `name` filter taken (names are at most 128 characters).
const MAX_NAME_FILTER: usize = 1024;

impl ClientQuery {
    /// Every client of every customer in creation order, the first `limit`: the plain listing, to
    /// narrow with struct update syntax.
    pub fn every_client(limit: u64) -> ClientQuery {
        ClientQuery {
            customer: None,
            name_contains: None,
            scope: None,
            enabled: None,
            sort: ClientSort::Created,
            descending: false,
            after: None,
            offset: 0,
            limit,
        }
    }

    /// The query `listing` asks for, checked: a bad value is an error saying what is wrong. `limit` is
    /// the page size when the listing gives none and `max_limit` the largest it may give; which
    /// customers the caller may list is the caller's to decide (this reads only the `cid` filter).
    pub fn from_listing(listing: &ClientListing, limit: u64, max_limit: u64) -> Result<ClientQuery, String> {
        let limit = listing.limit.unwrap_or(limit);
        if limit == 0 || limit > max_limit {
            return Err(format!("limit must be 1 to {max_limit}"));
        }
        let (sort, descending) = match &listing.sort {
            None => (ClientSort::Created, false),
            Some(text) => ClientSort::parse(text).ok_or("sort must be created_at or name, with .asc or .desc")?,
        };
        let after = match &listing.after {
            None => None,
            Some(token) => Some(
                SeekPosition::parse(token, sort)
                    .ok_or("after must be the meta.pagination.after token of a page in the same sort order")?,
            ),
        };
        let customer = match &listing.cid {
            None => None,
            Some(text) => Some(CustomerId::parse(text).map_err(|e| format!("cid: {e}"))?),
        };
        let scope = match &listing.scope {
            None => None,
            Some(text) => Some(Scope::parse(text).map_err(|e| format!("scope: {e}"))?),
        };
        if listing.name.as_ref().is_some_and(|n| n.len() > MAX_NAME_FILTER) {
            return Err(format!("name must be at most {MAX_NAME_FILTER} bytes"));
        }
        Ok(ClientQuery {
            customer,
            name_contains: listing.name.clone(),
            scope,
            enabled: listing.enabled,
            sort,
            descending,
            // A seek position says where the page starts: an offset beside it is not applied.
            offset: if after.is_some() { 0 } else { listing.offset.unwrap_or(0) },
            after,
            limit,
        })
    }

    /// The statements that answer this query. Filters become `WHERE` terms with bound values; the sort
    /// column is one of [`ClientSort`]'s, never caller text.
    pub(crate) fn sql(&self) -> Result<ListingSql> {
        let mut terms: Vec<String> = Vec::new();
        let mut binds: Vec<Bound> = Vec::new();
        let bind = |binds: &mut Vec<Bound>, value: Bound| {
            binds.push(value);
            format!("${}", binds.len())
        };
        if let Some(cid) = &self.customer {
            terms.push(format!("cid = {}", bind(&mut binds, Bound::Text(cid.as_str().to_owned()))));
        }
        if let Some(text) = &self.name_contains {
            let pattern = format!("%{}%", like_literal(&text.to_ascii_lowercase()));
            terms.push(format!("LOWER(name) LIKE {} ESCAPE '\\'", bind(&mut binds, Bound::Text(pattern))));
        }
        if let Some(scope) = &self.scope {
            // `scopes` is a JSON list of names, none holding a quote: the quoted name is one element.
            let pattern = format!("%{}%", like_literal(&format!("\"{scope}\"")));
            terms.push(format!("scopes LIKE {} ESCAPE '\\'", bind(&mut binds, Bound::Text(pattern))));
        }
        if let Some(enabled) = self.enabled {
            // Compared as a number: SQLite keeps booleans as 0/1, PostgreSQL casts them.
            terms.push(format!("{} = {}", enabled_as_number(), bind(&mut binds, Bound::Number(enabled as i64))));
        }
        let count_binds = binds.clone();
        let filters = if terms.is_empty() { String::new() } else { format!(" WHERE {}", terms.join(" AND ")) };
        // Without filters but the customer, the total is the kept count (see `client_counts`): one row (or
        // one per customer), where counting reads every client of the listing.
        let unfiltered = self.name_contains.is_none() && self.scope.is_none() && self.enabled.is_none();
        let count = match (&self.customer, unfiltered) {
            (Some(_), true) => {
                "SELECT CAST(COALESCE(SUM(clients), 0) AS BIGINT) FROM client_counts WHERE cid = $1".to_owned()
            }
            (None, true) => "SELECT CAST(COALESCE(SUM(clients), 0) AS BIGINT) FROM client_counts".to_owned(),
            _ => format!("SELECT COUNT(*) FROM api_clients{filters}"),
        };

        let column = self.sort.column();
        let (cmp, dir) = if self.descending { ("<", "DESC") } else { (">", "ASC") };
        let mut page_terms = terms;
        if let Some(after) = &self.after {
            let key = match (&after.key, self.sort) {
                (SortKey::Created(at), ClientSort::Created) => Bound::Number(*at),
                (SortKey::Name(name), ClientSort::Name) => Bound::Text(name.clone()),
                _ => return Err(StoreError::Conflict("the position is of another sort order".into())),
            };
            let key = bind(&mut binds, key);
            let id = bind(&mut binds, Bound::Text(after.client_id.clone()));
            // A row value comparison: both planners turn it into one range of the (column, client_id)
            // index (EXPLAIN QUERY PLAN: `(created_at,client_id)>(?,?)`), where the spelt-out OR form is a
            // range of the column alone, which scans every row sharing the key (an import's second).
            page_terms.push(format!("({column}, client_id) {cmp} ({key}, {id})"));
        }
        let filters =
            if page_terms.is_empty() { String::new() } else { format!(" WHERE {}", page_terms.join(" AND ")) };
        let limit = bind(&mut binds, Bound::Number(self.limit.min(i64::MAX as u64) as i64));
        let offset = if self.after.is_some() { 0 } else { self.offset.min(i64::MAX as u64) as i64 };
        let offset = bind(&mut binds, Bound::Number(offset));
        let page = format!(
            "SELECT * FROM api_clients{filters} ORDER BY {column} {dir}, client_id {dir} LIMIT {limit} OFFSET {offset}"
        );
        Ok(ListingSql { page, page_binds: binds, count, count_binds })
    }

    /// The page of `rows` (the page statement's answer, one more row than the limit asked for when
    /// there is a next page: see [`ClientQuery::fetch_limit`]).
    pub(crate) fn page(&self, rows: Vec<ClientRecord>, total: u64) -> Result<ClientPage> {
        let mut clients = rows.into_iter().map(ClientRecord::into_client).collect::<Result<Vec<_>>>()?;
        let more = clients.len() as u64 > self.limit;
        clients.truncate(self.limit as usize);
        let next = match clients.last() {
            Some(last) if more => {
                Some(SeekPosition { key: self.sort.key_of(last), client_id: last.id.as_str().to_owned() })
            }
            _ => None,
        };
        Ok(ClientPage { clients, total, next })
    }

    /// The query as the store runs it: one row more than asked, to learn whether a next page exists.
    pub(crate) fn fetch_limit(&self) -> ClientQuery {
        ClientQuery { limit: self.limit.saturating_add(1), ..self.clone() }
    }
}

/// The `enabled` column as 0 or 1 on both backends.
fn enabled_as_number() -> &'static str {
    "CASE WHEN enabled THEN 1 ELSE 0 END"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query() -> ClientQuery {
        ClientQuery::every_client(10)
    }

    #[test]
    fn like_patterns_take_wildcards_literally() {
        assert_eq!(like_literal("50%_off\\"), "50\\%\\_off\\\\");
    }

    #[test]
    fn filters_are_bound_never_spliced() {
        let q = ClientQuery { name_contains: Some("x' OR 1=1 --".into()), enabled: Some(true), ..query() };
        let sql = q.sql().expect("a query of its own order");
        assert!(!sql.page.contains("OR 1=1"), "{}", sql.page);
        assert_eq!(sql.count_binds, vec![Bound::Text("%x' or 1=1 --%".into()), Bound::Number(1)]);
        assert_eq!(sql.page_binds.len(), 4, "two filters, limit, offset");
    }

    #[test]
    fn positions_read_back_from_their_tokens_in_their_order_only() {
        let id = "0123456789abcdef0123456789abcdef".to_owned();
        let by_name = SeekPosition { key: SortKey::Name("Zoë's. client".into()), client_id: id.clone() };
        assert_eq!(SeekPosition::parse(&by_name.token(), ClientSort::Name), Some(by_name.clone()));
        assert_eq!(SeekPosition::parse(&by_name.token(), ClientSort::Created), None);
        let by_time = SeekPosition { key: SortKey::Created(-5), client_id: id };
        assert_eq!(SeekPosition::parse(&by_time.token(), ClientSort::Created), Some(by_time));
        for junk in [
            "",
            ".",
            "c1",
            "c1.",
            "cx.0123456789abcdef0123456789abcdef",
            "n6.0123456789abcdef0123456789abcdef",
            "nzz.0123456789abcdef0123456789abcdef",
            "c1.nothex",
        ] {
            assert_eq!(SeekPosition::parse(junk, ClientSort::Created), None, "{junk}");
            assert_eq!(SeekPosition::parse(junk, ClientSort::Name), None, "{junk}");
        }
    }

    #[test]
    fn sorts_parse_with_a_direction() {
        assert_eq!(ClientSort::parse("name"), Some((ClientSort::Name, false)));
        assert_eq!(ClientSort::parse("created_at.desc"), Some((ClientSort::Created, true)));
        assert_eq!(ClientSort::parse("name.sideways"), None);
        assert_eq!(ClientSort::parse("secret_digest"), None);
    }

    #[test]
    fn a_position_of_another_order_is_refused() {
        let after = SeekPosition { key: SortKey::Name("a".into()), client_id: "0".repeat(32) };
        assert!(ClientQuery { after: Some(after), ..query() }.sql().is_err());
    }
}
