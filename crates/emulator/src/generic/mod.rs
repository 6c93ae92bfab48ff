//! The generic engine: every catalogue operation on one of Falcon's conventional routes answered from the
//! catalogue alone, per customer, over JSON records.
//!
//! Falcon names most routes `/<service>/<kind>/<type>/vN`, `kind` being `queries` (IDs), `combined`
//! (records), `entities` (get, create, update, delete by ID; `<type>-actions` for actions) or `aggregates`.
//! The operations of one `<service>/<type>` work on one [`Resource`], whatever their version: a record
//! created by `POST /policy/entities/prevention/v1` comes back from `GET .../entities/prevention/v1?ids=`,
//! from `/policy/queries/prevention/v1` and from `/policy/combined/prevention/v1`. [`GenericOp::of`] reads an
//! operation's [`Shape`], paging style and limits off its catalogue entry; [`select`] runs FQL and sort over
//! JSON records (fields typed by their values); [`entity`] makes and changes records; [`aggregate`]
//! answers Falcon's aggregation requests. No HTTP, no SQL: the server's `routes::generic` and the store
//! do those.

pub mod aggregate;
pub mod entity;
pub mod fixture;
pub mod select;

use talon_wire::catalogue::{Location, Operation, ParamType};
use talon_wire::operation::Method;

/// A resource of the generic engine: `<service>/<type>` of its routes (`policy/prevention`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Resource(String);

impl Resource {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an operation does to its resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `queries`: the IDs of the records a filter selects, sorted and paged.
    Query,
    /// `combined`: as a query, with the records.
    Combined,
    /// `entities` GET with an ID parameter: the named records.
    Get,
    /// `entities` GET without one (settings and other singletons): every record, paged.
    Listing,
    /// `entities` POST: creates records (or, with a body of IDs only, reads them, as Falcon's
    /// POST-to-get operations do).
    Create,
    /// `entities` PATCH or PUT: changes records named by ID.
    Update,
    /// `entities` DELETE: removes records named by ID.
    Delete,
    /// `entities/<type>-actions` POST: an action on records named by ID.
    Action,
    /// `aggregates`: counts over the records a filter selects.
    Aggregate,
}

impl Shape {
    /// The word `talon ops show` and the OpenAPI document use.
    pub const fn as_str(self) -> &'static str {
        match self {
            Shape::Query => "query",
            Shape::Combined => "combined",
            Shape::Get => "get",
            Shape::Listing => "listing",
            Shape::Create => "create",
            Shape::Update => "update",
            Shape::Delete => "delete",
            Shape::Action => "action",
            Shape::Aggregate => "aggregate",
        }
    }
}

/// How a query's pages are asked for and told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// `offset` (a number) and `limit`; `meta.pagination {offset, limit, total}`.
    Offset,
    /// `after` (a token the previous page gave) and `limit`; `meta.pagination {after, limit, total}`.
    After,
    /// `offset` as a token (a string parameter), as the scroll queries; `meta.pagination {offset: token,
    /// limit, total, expires_at}`.
    Scroll,
}

/// What the generic engine needs of one catalogue operation.
#[derive(Debug, Clone, PartialEq)]
pub struct GenericOp {
    pub resource: Resource,
    pub shape: Shape,
    pub paging: Paging,
    /// The query parameter naming records (`ids`, `id`, ...), for get, update, delete and actions.
    pub ids_param: Option<String>,
    /// Whether the operation requires it.
    pub ids_required: bool,
    /// Most IDs one call may name (the catalogue's `maxItems`, else [`MAX_IDS`]).
    pub max_ids: usize,
    /// The page size when none is asked for, and the largest one may ask for.
    pub default_limit: u64,
    pub max_limit: u64,
    /// The action names an action operation takes, when the catalogue lists them (any, when empty).
    pub action_names: Vec<String>,
    /// The field whose value queries answer and IDs name ([`ID_FIELDS`]; `id` elsewhere).
    pub id_field: &'static str,
}

/// Where the convention fails: resources whose records are named by another field than `id`. Alerts are
/// named by `composite_id` (`<cid>:ind:<device>:<n>`): their queries answer those, and
/// `PostEntitiesAlertsV2` and `PatchEntitiesAlertsV3` take them.
pub const ID_FIELDS: &[(&str, &str)] = &[(crate::alerts::RESOURCE, "composite_id")];

/// Where a route names its resource in the singular and its kin in the plural (or the other way): the
/// records are one resource, named as its `entities` route names it. Found by comparing every
/// combined/queries resource without an entities route with its singular and plural.
pub const SAME_RESOURCE: &[(&str, &str)] = &[
    ("iocs/indicator", "iocs/indicators"),
    ("user-management/user-roles", "user-management/user-role"),
    ("workflows/executions", "workflows/execution"),
];

/// Most IDs of one call when the catalogue gives no bound.
pub const MAX_IDS: usize = 1_000;
/// The page size when the catalogue gives no default, and the most a page may hold without a maximum.
pub const DEFAULT_LIMIT: u64 = 100;
pub const MAX_LIMIT: u64 = 10_000;

/// The query parameters that name records, most usual first.
const ID_PARAMS: &[&str] = &["ids", "id", "composite_ids", "policy_ids", "rule_ids", "names"];

impl GenericOp {
    /// The generic answer of `op`, if its route is one of the conventional shapes; `None` for the rest
    /// (routes of other forms, which answer 501 unless a fixture says otherwise).
    pub fn of(op: &Operation) -> Option<GenericOp> {
        let segments: Vec<&str> = op.path.trim_start_matches('/').split('/').collect();
        let [service, kind, rest @ ..] = segments.as_slice() else { return None };
        let is_placeholder = |s: &str| s.starts_with('{');
        let is_version = |s: &str| s.len() > 1 && s.starts_with('v') && s[1..].bytes().all(|b| b.is_ascii_digit());
        // A placeholder is a record's ID only as the last segment, after the version (`.../v1/{id}`);
        // anywhere else the route is of another form.
        let (rest, id_in_path) = match rest {
            [head @ .., version, last] if is_placeholder(last) && is_version(version) => (head, true),
            [head @ .., version] if is_version(version) => (head, false),
            _ => return None,
        };
        if rest.is_empty() || is_placeholder(service) || rest.iter().any(|s| is_placeholder(s)) {
            return None;
        }
        // Falcon's `GET` segment marks a POST that reads (`/exclusions/aggregates/.../GET/v1`): it names no
        // resource of its own.
        let reads = rest.contains(&"GET");
        let rest: Vec<&str> = rest.iter().copied().filter(|s| *s != "GET").collect();
        let (kind_type, more) = rest.split_first()?;
        let (type_name, actions) = match kind_type.strip_suffix("-actions") {
            Some(t) if *kind == "entities" => (t, true),
            _ => (*kind_type, false),
        };
        // Segments after the type name a resource of their own (`compliance/controls` and
        // `compliance/frameworks` are two).
        let resource = std::iter::once(*service).chain(std::iter::once(type_name)).chain(more.iter().copied());
        let resource = resource.collect::<Vec<_>>().join("/");
        let resource =
            SAME_RESOURCE.iter().find(|(alias, _)| *alias == resource).map_or(resource, |(_, r)| (*r).to_owned());
        // The usual names first; else, on entities routes, a required `..._id` query parameter
        // (`session_id` of RTR sessions).
        let in_query = |p: &&talon_wire::catalogue::Param| matches!(p.location, Location::Query);
        let ids_param = ID_PARAMS
            .iter()
            .find_map(|name| op.param(name).filter(in_query))
            .or_else(|| {
                let own_id = |p: &&talon_wire::catalogue::Param| {
                    p.required && (p.name.ends_with("_id") || p.name.ends_with("_ids"))
                };
                (*kind == "entities").then(|| op.params.iter().filter(in_query).find(own_id)).flatten()
            })
            .map(|p| p.name.clone());
        let shape = match (*kind, op.method) {
            ("queries" | "combined" | "aggregates", _) if id_in_path => return None,
            ("queries", Method::Get | Method::Post) => Shape::Query,
            ("combined", Method::Get | Method::Post) => Shape::Combined,
            ("aggregates", Method::Get | Method::Post) => Shape::Aggregate,
            ("entities", Method::Post) if actions && !id_in_path => Shape::Action,
            ("entities", Method::Post) if reads => Shape::Get,
            ("entities", Method::Post) if id_in_path => return None,
            ("entities", Method::Get | Method::Head) if ids_param.is_some() || id_in_path => Shape::Get,
            ("entities", Method::Get | Method::Head) => Shape::Listing,
            ("entities", Method::Post) => Shape::Create,
            ("entities" | "queries", Method::Patch | Method::Put) => Shape::Update,
            ("entities", Method::Delete) => Shape::Delete,
            _ => return None,
        };
        let offset = op.param("offset");
        let paging = if op.param("after").is_some() {
            Paging::After
        } else if offset.is_some_and(|p| p.kind == Some(ParamType::String)) {
            Paging::Scroll
        } else {
            Paging::Offset
        };
        let limit = op.param("limit");
        let max_limit = limit.and_then(|p| p.maximum).map_or(MAX_LIMIT, |m| (m as u64).clamp(1, MAX_LIMIT));
        let default_limit = limit
            .and_then(|p| p.default.as_ref())
            .and_then(|d| d.as_u64().or_else(|| d.as_str().and_then(|s| s.parse().ok())))
            .unwrap_or(DEFAULT_LIMIT)
            .clamp(1, max_limit);
        let ids = ids_param.as_deref().and_then(|name| op.param(name));
        let action_names = op
            .param("action_name")
            .map(|p| p.allowed.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        Some(GenericOp {
            id_field: ID_FIELDS.iter().find(|(r, _)| *r == resource).map_or("id", |(_, f)| f),
            resource: Resource(resource),
            shape,
            paging,
            ids_required: ids.is_some_and(|p| p.required),
            max_ids: ids.and_then(|p| p.max_items).map_or(MAX_IDS, |m| (m as usize).clamp(1, MAX_IDS * 5)),
            ids_param,
            default_limit,
            max_limit,
            action_names,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use talon_wire::catalogue::catalogue;

    fn generic(id: &str) -> GenericOp {
        GenericOp::of(catalogue().get(id).expect(id)).unwrap_or_else(|| panic!("{id} is not generic"))
    }

    #[test]
    fn a_resources_routes_share_it_across_kinds_and_versions() {
        let query = generic("queryPreventionPolicies");
        let get = generic("getPreventionPolicies");
        let create = generic("createPreventionPolicies");
        let update = generic("updatePreventionPolicies");
        let delete = generic("deletePreventionPolicies");
        let action = generic("performPreventionPoliciesAction");
        let combined = generic("queryCombinedPreventionPolicies");
        for op in [&get, &create, &update, &delete, &action, &combined] {
            assert_eq!(op.resource, query.resource);
        }
        assert_eq!(query.resource.as_str(), "policy/prevention");
        let shapes = [&query, &get, &create, &update, &delete, &action, &combined].map(|o| o.shape);
        use Shape::*;
        assert_eq!(shapes, [Query, Get, Create, Update, Delete, Action, Combined]);
        assert!(!action.action_names.is_empty(), "the catalogue lists the prevention policy actions");
        assert_eq!(generic("GetQueriesAlertsV2").resource, generic("PostEntitiesAlertsV2").resource);
        assert_eq!(generic("PostAggregatesAlertsV2").shape, Aggregate);
        assert_eq!(generic("RTR_DeleteSession").ids_param.as_deref(), Some("session_id"));
        assert_eq!(generic("indicator_combined_v1").resource, generic("indicator_create_v1").resource);
        assert_eq!(generic("GetQueriesAlertsV2").id_field, "composite_id");
        assert_eq!(query.id_field, "id");
    }

    #[test]
    fn segments_between_type_and_version_name_their_own_resource() {
        let route = |path: &str, method: Method| {
            catalogue().on_route(method, path).next().and_then(GenericOp::of).map(|g| (g.resource.0, g.shape))
        };
        let controls = route("/cloud-policies/entities/compliance/controls/v1", Method::Get).expect("controls");
        let frameworks = route("/cloud-policies/entities/compliance/frameworks/v1", Method::Get).expect("frameworks");
        assert_ne!(controls.0, frameworks.0);
        // A `GET` segment reads the resource it sits in.
        let ops = catalogue().operations();
        let reads =
            ops.iter().find(|o| o.path.contains("/entities/") && o.path.contains("/GET/") && o.method == Method::Post);
        let reads = reads.expect("a POST-to-read route");
        let generic = GenericOp::of(reads).expect("generic");
        assert_eq!(generic.shape, Shape::Get, "{}", reads.path);
        assert!(!generic.resource.0.contains("GET"));
    }

    #[test]
    fn an_id_in_the_route_is_read_only_as_its_last_segment() {
        for op in catalogue().operations().iter().filter(|o| o.path.contains('{')) {
            let last = op.path.rsplit('/').next().unwrap_or_default();
            if let Some(g) = GenericOp::of(op) {
                assert!(last.starts_with('{'), "{} {}: a placeholder before the end", op.method, op.path);
                assert!(matches!(g.shape, Shape::Get | Shape::Update | Shape::Delete), "{} {}", op.method, op.path);
            }
        }
    }

    #[test]
    fn paging_and_limits_come_from_the_parameters() {
        assert_eq!(generic("queryPreventionPolicies").paging, Paging::Offset);
        assert_eq!(generic("GetQueriesAlertsV2").paging, Paging::Offset);
        let after = catalogue().operations().iter().find(|o| o.param("after").is_some()).expect("an after query");
        assert_eq!(GenericOp::of(after).map(|g| g.paging), Some(Paging::After), "{}", after.id);
        let q = generic("queryPreventionPolicies");
        assert!(q.max_limit >= q.default_limit && q.default_limit >= 1);
        let delete = generic("deletePreventionPolicies");
        assert_eq!(delete.ids_param.as_deref(), Some("ids"));
        assert!(delete.ids_required);
    }

    #[test]
    fn most_of_the_catalogue_has_a_conventional_shape() {
        let all = catalogue().operations();
        let generic = all.iter().filter(|o| GenericOp::of(o).is_some()).count();
        // Counted over FalconPy 1.6.6's catalogue: 1,631 operations, of which 86 on other routes.
        assert!(generic * 100 >= all.len() * 90, "{generic} of {}", all.len());
        let odd: Vec<&Operation> = all.iter().filter(|o| o.path.contains("/api/v1/")).collect();
        assert!(!odd.is_empty());
        for op in odd {
            assert!(GenericOp::of(op).is_none(), "{} has no conventional shape", op.path);
        }
    }
}
