//! The scope catalogue: `<resource>:read` / `<resource>:write`, as Falcon names them on the wire.
//!
//! One catalogue serves the CLI, the server and the SDK, so an unknown scope is caught wherever it is typed.
//! A [`ScopeSet`] is a bitset over the catalogue: checking a scope on the bearer path is one AND. The
//! resources are generated with the operation catalogue (`scope_resources.rs`), so every scope a Falcon
//! route requires can be granted.

use std::fmt;

pub use crate::scope_resources::RESOURCES;

/// Resource names Talon used before its catalogue took Falcon's own, each with the Falcon name it now
/// means. They still parse (clients stored, scripts written and tokens issued under them keep working) and
/// always print as the Falcon name; migration 0003 rewrites the stored clients.
pub const LEGACY_RESOURCES: &[(&str, &str)] = &[
    ("event-streams", "streaming"),
    ("ioa-exclusions", "self-service-ioa-exclusions"),
    ("sample-uploads", "samplestore"),
    ("user-management", "usermgmt"),
];

/// Words of a [`ScopeSet`]: two bits (read, write) per resource.
const WORDS: usize = (RESOURCES.len() * 2).div_ceil(64);

/// Read or write access to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Access {
    Read,
    Write,
}

impl Access {
    fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

/// One scope of the catalogue, e.g. `devices:read`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    resource: u8,
    access: Access,
}

/// A scope string that is not `<resource>:read|write` for a resource of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("scope {0:?} is not of the form <resource>:read or <resource>:write")]
    Malformed(String),
    #[error("scope {0:?} names an unknown resource (known: {known})", known = RESOURCES.join(", "))]
    UnknownResource(String),
}

impl Scope {
    /// `devices:read`: the hosts API's read scope.
    pub const DEVICES_READ: Scope = Scope::known("devices", Access::Read);
    /// `devices:write`: containment and other host actions.
    pub const DEVICES_WRITE: Scope = Scope::known("devices", Access::Write);
    /// `host-group:read`: the Host Group API's read scope.
    pub const HOST_GROUP_READ: Scope = Scope::known("host-group", Access::Read);
    /// `host-group:write`: creating, changing and filling host groups.
    pub const HOST_GROUP_WRITE: Scope = Scope::known("host-group", Access::Write);
    /// `cspm-registration:read`: CSPM policy settings.
    pub const CSPM_READ: Scope = Scope::known("cspm-registration", Access::Read);
    /// `cspm-registration:write`: changing CSPM policy settings.
    pub const CSPM_WRITE: Scope = Scope::known("cspm-registration", Access::Write);

    /// `api-clients:read`: Talon's admin API, reading API clients and the audit log.
    pub const API_CLIENTS_READ: Scope = Scope::known("api-clients", Access::Read);
    /// `api-clients:write`: creating, changing and deleting API clients.
    pub const API_CLIENTS_WRITE: Scope = Scope::known("api-clients", Access::Write);

    /// A scope of a resource known at compile time; fails the build if the resource is not catalogued.
    const fn known(resource: &str, access: Access) -> Scope {
        let mut i = 0;
        while i < RESOURCES.len() {
            if const_str_eq(RESOURCES[i], resource) {
                return Scope { resource: i as u8, access };
            }
            i += 1;
        }
        panic!("resource is not in the scope catalogue");
    }

    /// Parses `<resource>:read|write`. Case matters: the wire uses lowercase only.
    pub fn parse(s: &str) -> Result<Scope, ScopeError> {
        let (resource, access) = s.rsplit_once(':').ok_or_else(|| ScopeError::Malformed(s.to_owned()))?;
        let access = match access {
            "read" => Access::Read,
            "write" => Access::Write,
            _ => return Err(ScopeError::Malformed(s.to_owned())),
        };
        let resource = LEGACY_RESOURCES.iter().find(|(old, _)| *old == resource).map_or(resource, |(_, new)| new);
        let index = RESOURCES.binary_search(&resource).map_err(|_| ScopeError::UnknownResource(s.to_owned()))?;
        Ok(Scope { resource: index as u8, access })
    }

    pub fn resource(self) -> &'static str {
        RESOURCES[self.resource as usize]
    }

    pub fn access(self) -> Access {
        self.access
    }

    /// Every scope of the catalogue (what the first admin client holds).
    pub fn all() -> impl Iterator<Item = Scope> {
        (0..RESOURCES.len() as u8)
            .flat_map(|resource| [Access::Read, Access::Write].map(|access| Scope { resource, access }))
    }

    /// The word and bit of this scope in a [`ScopeSet`].
    fn slot(self) -> (usize, u64) {
        let bit = self.resource as usize * 2 + matches!(self.access, Access::Write) as usize;
        (bit / 64, 1u64 << (bit % 64))
    }
}

/// String equality in a `const` context (`==` on `str` is not `const`).
pub const fn const_str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.resource(), self.access.as_str())
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for Scope {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::parse(s)
    }
}

/// A set of scopes as a bitset over the catalogue.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet([u64; WORDS]);

impl ScopeSet {
    pub const EMPTY: ScopeSet = ScopeSet([0; WORDS]);

    pub fn all() -> ScopeSet {
        Scope::all().collect()
    }

    pub fn contains(self, scope: Scope) -> bool {
        let (word, bit) = scope.slot();
        self.0[word] & bit != 0
    }

    pub fn insert(&mut self, scope: Scope) {
        let (word, bit) = scope.slot();
        self.0[word] |= bit;
    }

    pub fn intersection(self, other: ScopeSet) -> ScopeSet {
        ScopeSet(std::array::from_fn(|i| self.0[i] & other.0[i]))
    }

    pub fn is_empty(self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    /// The scopes in catalogue order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::all().filter(move |s| self.contains(*s))
    }

    /// The scopes as wire strings, in catalogue order.
    pub fn to_strings(self) -> Vec<String> {
        self.iter().map(|s| s.to_string()).collect()
    }

    /// Parses a list of scope strings; the first unknown one is the error.
    pub fn parse_all<I, S>(scopes: I) -> Result<ScopeSet, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        scopes.into_iter().map(|s| Scope::parse(s.as_ref())).collect()
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<T: IntoIterator<Item = Scope>>(iter: T) -> Self {
        let mut set = ScopeSet::EMPTY;
        for scope in iter {
            set.insert(scope);
        }
        set
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_round_trip() {
        for scope in Scope::all() {
            assert_eq!(Scope::parse(&scope.to_string()), Ok(scope));
        }
        assert_eq!(Scope::DEVICES_READ.to_string(), "devices:read");
        assert_eq!(Scope::DEVICES_WRITE.to_string(), "devices:write");
    }

    #[test]
    fn rejects_unknown_and_malformed_scopes() {
        assert!(matches!(Scope::parse("hosts:read"), Err(ScopeError::UnknownResource(_))));
        assert!(matches!(Scope::parse("devices:admin"), Err(ScopeError::Malformed(_))));
        assert!(matches!(Scope::parse("devices"), Err(ScopeError::Malformed(_))));
        assert!(matches!(Scope::parse("Devices:read"), Err(ScopeError::UnknownResource(_))));
        assert!(matches!(Scope::parse(""), Err(ScopeError::Malformed(_))));
    }

    #[test]
    fn catalogue_is_sorted_without_duplicates_and_fits_a_byte() {
        // `parse` binary-searches, and `Scope` keeps the resource's index in a u8.
        assert!(RESOURCES.windows(2).all(|w| w[0] < w[1]));
        assert!(RESOURCES.len() <= 256);
    }

    #[test]
    fn legacy_names_parse_as_falcon_names_and_print_as_them() {
        for (old, new) in LEGACY_RESOURCES {
            assert!(!RESOURCES.contains(old), "{old} is still a resource of its own");
            let scope = Scope::parse(&format!("{old}:write")).expect("legacy name parses");
            assert_eq!(scope.to_string(), format!("{new}:write"));
        }
        let set = ScopeSet::parse_all(["sample-uploads:read", "samplestore:read"]).expect("both parse");
        assert_eq!(set.to_strings(), ["samplestore:read"]);
    }

    #[test]
    fn the_last_resource_has_its_own_bits() {
        let last = Scope::parse(&format!("{}:write", RESOURCES[RESOURCES.len() - 1])).expect("parses");
        let mut set = ScopeSet::EMPTY;
        set.insert(last);
        assert!(set.contains(last));
        assert_eq!(set.iter().collect::<Vec<_>>(), [last]);
        assert!(!set.contains(Scope::DEVICES_WRITE));
    }

    #[test]
    fn set_operations() {
        let read_only: ScopeSet = [Scope::DEVICES_READ].into_iter().collect();
        assert!(read_only.contains(Scope::DEVICES_READ));
        assert!(!read_only.contains(Scope::DEVICES_WRITE));
        let all = ScopeSet::all();
        assert_eq!(all.iter().count(), RESOURCES.len() * 2);
        assert_eq!(all.intersection(read_only), read_only);
        assert!(read_only.intersection(ScopeSet::EMPTY).is_empty());
        assert_eq!(
            ScopeSet::parse_all(["devices:write", "devices:read"]).map(|s| s.to_strings()),
            Ok(vec!["devices:read".to_owned(), "devices:write".to_owned()])
        );
    }
}
