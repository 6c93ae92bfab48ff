//! FQL, the Falcon Query Language, as users write it in `filter=`: `platform_name:'Windows'`,
//! `hostname:'web*'`, `last_seen:>'2026-01-01'`, `status:!'normal'`, `hostname:~'server'` (contains),
//! `hostname:null` (empty), `+` for AND, `,` for OR, parentheses, lists (`platform_name:['Windows','Mac']`,
//! any of them), and `field.raw` (an address or time compared as its text, e.g. `local_ip.raw:*'10.*'`).
//! Every field of the device record can be filtered (talon-wire's `DEVICE_FIELDS`, each with its kind).
//!
//! Parsed with `nom` into a typed [`Filter`]: each value is read as its field's type when the filter is
//! parsed (times as Unix seconds, IPs as numbers, text as a case-insensitive wildcard pattern), so that
//! `last_seen:>'2026-01-01'` compares instants and `local_ip:<'10.0.0.10'` compares addresses, not strings.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use talon_wire::device::{FieldKind, DEVICE_FIELDS};

use nom::branch::alt;
use nom::bytes::complete::{escaped_transform, is_not, tag, take_while1};
use nom::character::complete::{char, multispace0};
use nom::combinator::{cut, map, opt, value};
use nom::error::{ContextError, ParseError};
use nom::multi::separated_list1;
use nom::sequence::{delimited, preceded, terminated};
use nom::IResult;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

use crate::host::{order_key, Field, Host, Value};

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Any(Vec<Filter>),
    All(Vec<Filter>),
    /// `exact` holds the plain text values of an `=` or `!` comparison, looked up at once however many;
    /// `operands` the rest (wildcards, times, addresses, and every value of `<`, `>`, `~`). A list field
    /// matches when any element does (under `!`, when none does).
    Compare {
        /// The field's index in the field table the filter was parsed over.
        field: usize,
        op: Op,
        operands: Vec<Operand>,
        exact: HashSet<String>,
    },
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    /// `~`: contains the text, without case.
    Match,
}

/// A value, typed by the field it is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// Lowercased; `*` matches any run of characters.
    Text(Pattern),
    /// A span of Unix seconds `[start, end)`: one second for a timestamp, a whole day for a date.
    Time(i64, i64),
    Ip(u32),
    /// A number, as its [`order_key`].
    Number(i64),
}

/// A lowercased text value, its wildcard pieces split once when the filter is parsed (not per host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    /// The pieces between `*`s; empty when the value has none.
    pieces: Vec<String>,
}

impl Pattern {
    fn new(value: &str) -> Pattern {
        let text = value.to_lowercase();
        let pieces = if text.contains('*') { text.split('*').map(str::to_owned).collect() } else { vec![] };
        Pattern { text, pieces }
    }

    fn is_wildcard(&self) -> bool {
        !self.pieces.is_empty()
    }

    /// `*` matches any run of characters (also none); everything else matches itself.
    fn matches(&self, value: &str) -> bool {
        let [first, middles @ .., last] = self.pieces.as_slice() else { return self.text == value };
        if value.len() < first.len() + last.len()
            || !value.starts_with(first.as_str())
            || !value.ends_with(last.as_str())
        {
            return false;
        }
        let mut rest = &value[first.len()..value.len() - last.len()];
        for middle in middles {
            match rest.find(middle.as_str()) {
                Some(i) => rest = &rest[i + middle.len()..],
                None => return false,
            }
        }
        true
    }
}

/// Bounds on what one filter may ask, so that the costliest filter a client can send stays cheap (see
/// `crates/emulator/benches/fql.rs`): comparisons, values, wildcard patterns and their `*`s, value length.
pub mod limits {
    /// Comparisons (`field:'value'` terms) in one filter.
    pub const COMPARISONS: usize = 64;
    /// Values in one filter, over all its lists (plain values are looked up in a set: a long list is cheap).
    pub const VALUES: usize = 2_000;
    /// Values with a `*` in one filter (each is matched piece by piece), and values of `~` (a search).
    pub const WILDCARDS: usize = 16;
    /// `*`s in one value.
    pub const STARS: usize = 8;
    /// Characters of one value.
    pub const VALUE_CHARS: usize = 256;
}

/// What a filter has spent of [`limits`] so far.
#[derive(Default)]
struct Spent {
    comparisons: usize,
    values: usize,
    wildcards: usize,
}

/// Why a filter was refused. `position` is the byte offset where the problem starts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid filter at position {position}: {message}")]
pub struct FqlError {
    pub position: usize,
    pub message: String,
}

/// The suffix that compares an address or time field as its text (`local_ip.raw:*'10.*'`).
const RAW: &str = ".raw";

/// A raw comparison before typing: field name and its offset, operator, values.
struct RawCompare<'a> {
    field: &'a str,
    op: Op,
    values: Vec<String>,
}

enum Raw<'a> {
    Any(Vec<Raw<'a>>),
    All(Vec<Raw<'a>>),
    Compare(RawCompare<'a>),
}

type Res<'a, T> = IResult<&'a str, T, FqlSyntax<'a>>;

/// A syntax error with the input left at the failure and what was expected.
struct FqlSyntax<'a> {
    rest: &'a str,
    expected: &'static str,
}

impl<'a> ParseError<&'a str> for FqlSyntax<'a> {
    fn from_error_kind(rest: &'a str, _: nom::error::ErrorKind) -> Self {
        FqlSyntax { rest, expected: "a comparison such as field:'value'" }
    }
    fn append(_: &'a str, _: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

impl<'a> ContextError<&'a str> for FqlSyntax<'a> {
    fn add_context(_: &'a str, expected: &'static str, mut other: Self) -> Self {
        other.expected = expected;
        other
    }
}

fn ws<'a, O>(inner: impl FnMut(&'a str) -> Res<'a, O>) -> impl FnMut(&'a str) -> Res<'a, O> {
    delimited(multispace0, inner, multispace0)
}

fn or_expr(i: &str) -> Res<'_, Raw<'_>> {
    map(separated_list1(char(','), and_expr), |mut v| if v.len() == 1 { v.remove(0) } else { Raw::Any(v) })(i)
}

fn and_expr(i: &str) -> Res<'_, Raw<'_>> {
    map(separated_list1(char('+'), term), |mut v| if v.len() == 1 { v.remove(0) } else { Raw::All(v) })(i)
}

fn term(i: &str) -> Res<'_, Raw<'_>> {
    ws(alt((delimited(char('('), or_expr, nom::error::context("a closing parenthesis", cut(char(')')))), comparison)))(
        i,
    )
}

fn comparison(i: &str) -> Res<'_, Raw<'_>> {
    let field = take_while1(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    let (i, field) = nom::error::context("a field name", field)(i)?;
    let (i, _) = nom::error::context("':' after the field name", cut(ws(char(':'))))(i)?;
    let (i, op) = operator(i)?;
    let (i, values) = nom::error::context("a value in single quotes, or a [list] of them", cut(values))(i)?;
    Ok((i, Raw::Compare(RawCompare { field, op, values })))
}

fn operator(i: &str) -> Res<'_, Op> {
    map(
        opt(alt((
            value(Op::Ge, tag(">=")),
            value(Op::Le, tag("<=")),
            value(Op::Gt, tag(">")),
            value(Op::Lt, tag("<")),
            value(Op::Ne, tag("!")),
            value(Op::Match, tag("~")),
            // `*'10.*'`: the wildcard operator; the value's own `*`s do the matching.
            value(Op::Eq, tag("*")),
        ))),
        |op| op.unwrap_or(Op::Eq),
    )(i)
}

fn values(i: &str) -> Res<'_, Vec<String>> {
    alt((
        delimited(ws(char('[')), separated_list1(ws(char(',')), ws(quoted)), ws(char(']'))),
        map(quoted, |v| vec![v]),
        // A bare `null` is the empty value: `hostname:null` selects hosts without a hostname.
        map(bare, |v: &str| vec![if v == "null" { String::new() } else { v.to_owned() }]),
    ))(i)
}

/// `'...'` with `\'` and `\\` escapes; may be empty.
fn quoted(i: &str) -> Res<'_, String> {
    let body = escaped_transform(is_not("\\'"), '\\', alt((value("'", char('\'')), value("\\", char('\\')))));
    preceded(char('\''), terminated(map(opt(body), Option::unwrap_or_default), cut(char('\''))))(i)
}

/// An unquoted value: numbers, `true`, `null`, as the real API accepts them.
fn bare(i: &str) -> Res<'_, &str> {
    take_while1(|c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '*'))(i)
}

/// Deepest nesting of parentheses a filter may use. The parser recurses once per level, so without a bound
/// a query string of some hundred thousand `(` would overflow the stack and abort the whole server.
pub const MAX_NESTING: usize = 32;

/// Parses `input` into a typed filter over the device record's fields. `now` (Unix seconds) anchors
/// relative times such as `now-7d`.
pub fn parse(input: &str, now: i64) -> Result<Filter, FqlError> {
    parse_over(input, now, DEVICE_FIELDS)
}

/// A table of the fields a kind of record has: each field's name and kind, in the order its
/// [`Record::value`] indexes them.
pub type FieldTable = [(&'static str, FieldKind)];

/// The fields a filter may name: each name's index (as its records' [`Record::value`] takes it) and
/// kind. A fixed [`FieldTable`] is one; a generic record's fields are found as the filter names them.
pub trait Fields {
    fn field(&self, name: &str) -> Option<(usize, FieldKind)>;
    /// A field to name in the message about an unknown one.
    fn example(&self) -> &str;
}

impl Fields for FieldTable {
    fn field(&self, name: &str) -> Option<(usize, FieldKind)> {
        self.iter().position(|(n, _)| *n == name).map(|i| (i, self[i].1))
    }

    fn example(&self) -> &str {
        self.iter().find(|(n, _)| *n == "hostname" || *n == "name").map_or("", |(n, _)| n)
    }
}

/// A record a filter can match: each field's [`Value`] by its index in the record's [`FieldTable`].
pub trait Record {
    fn value(&self, field: usize) -> &Value;
}

impl<R: Record + ?Sized> Record for &R {
    fn value(&self, field: usize) -> &Value {
        (**self).value(field)
    }
}

impl Record for Host {
    fn value(&self, field: usize) -> &Value {
        Host::value(self, Field::from_index(field))
    }
}

/// As [`parse`], over the fields of another kind of record (host groups, say, or generic records).
pub fn parse_over(input: &str, now: i64, fields: &(impl Fields + ?Sized)) -> Result<Filter, FqlError> {
    check_nesting(input)?;
    let at = |rest: &str| input.len() - rest.len();
    let fail = |rest: &str, expected: &str| FqlError { position: at(rest), message: format!("expected {expected}") };
    let raw = match terminated(or_expr, multispace0)(input) {
        Ok(("", raw)) => raw,
        // A dangling `+` or `,`: the comparison after it is what is missing.
        Ok((rest, _)) if rest.starts_with(['+', ',']) => {
            return Err(fail(rest[1..].trim_start(), "a comparison such as field:'value'"))
        }
        Ok((rest, _)) => return Err(fail(rest, "'+', ',' or the end of the filter")),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => return Err(fail(e.rest, e.expected)),
        Err(nom::Err::Incomplete(_)) => return Err(fail("", "more input")),
    };
    type_within(raw, input, now, fields, &mut Spent::default())
}

/// Refuses a filter whose parentheses (outside quoted values) nest deeper than [`MAX_NESTING`], before the
/// recursive parser sees it. Unbalanced parentheses are left to the parser, which says where.
fn check_nesting(input: &str) -> Result<(), FqlError> {
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for (position, c) in input.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '\'' => quoted = !quoted,
            '(' if !quoted => {
                depth += 1;
                if depth > MAX_NESTING {
                    let message = format!("parentheses nested deeper than {MAX_NESTING} levels");
                    return Err(FqlError { position, message });
                }
            }
            ')' if !quoted => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn type_within<F: Fields + ?Sized>(
    raw: Raw<'_>,
    input: &str,
    now: i64,
    fields: &F,
    spent: &mut Spent,
) -> Result<Filter, FqlError> {
    let all = |v: Vec<Raw<'_>>, spent: &mut Spent| {
        v.into_iter().map(|r| type_within(r, input, now, fields, spent)).collect::<Result<Vec<_>, _>>()
    };
    match raw {
        Raw::Any(v) => Ok(Filter::Any(all(v, spent)?)),
        Raw::All(v) => Ok(Filter::All(all(v, spent)?)),
        Raw::Compare(c) => {
            // The field is a slice of the input, so its offset is where it starts.
            let position = c.field.as_ptr() as usize - input.as_ptr() as usize;
            let fail = |message: String| FqlError { position, message };
            spend(c.op, &c.values, spent).map_err(fail)?;
            let (name, as_text) = match c.field.strip_suffix(RAW) {
                Some(name) => (name, true),
                None => (c.field, false),
            };
            let (field, kind) = fields.field(name).ok_or_else(|| {
                let example = fields.example();
                fail(format!("unknown field {:?}: use a field of the record, such as {example}", c.field))
            })?;
            let kind = if as_text { FieldKind::Text } else { kind };
            let operands = c
                .values
                .iter()
                .map(|v| {
                    operand(kind, c.op, v, now).ok_or_else(|| fail(format!("{v:?} is not a valid {}", what(kind))))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let (operands, exact) = split_exact(c.op, operands.into_iter());
            Ok(Filter::Compare { field, op: c.op, operands, exact })
        }
    }
}

/// Counts one comparison's `values` against [`limits`]; the message names the limit passed.
fn spend(op: Op, values: &[String], spent: &mut Spent) -> Result<(), String> {
    spent.comparisons += 1;
    if spent.comparisons > limits::COMPARISONS {
        return Err(format!("a filter may hold at most {} comparisons", limits::COMPARISONS));
    }
    spent.values += values.len();
    if spent.values > limits::VALUES {
        return Err(format!("a filter may hold at most {} values in all", limits::VALUES));
    }
    for value in values {
        if value.chars().count() > limits::VALUE_CHARS {
            return Err(format!("a value may be at most {} characters", limits::VALUE_CHARS));
        }
        let stars = value.matches('*').count();
        if stars > limits::STARS {
            return Err(format!("a value may hold at most {} wildcards (*)", limits::STARS));
        }
        // `~` searches the whole text, as a `*value*` pattern does: it counts as one.
        if stars > 0 || op == Op::Match {
            spent.wildcards += 1;
            if spent.wildcards > limits::WILDCARDS {
                return Err(format!("a filter may hold at most {} values with wildcards (*)", limits::WILDCARDS));
            }
        }
    }
    Ok(())
}

/// The plain text values of an `=` or `!` comparison, as a set; the other operands as they are.
fn split_exact(op: Op, operands: impl Iterator<Item = Operand>) -> (Vec<Operand>, HashSet<String>) {
    let mut exact = HashSet::new();
    let mut rest = Vec::new();
    for operand in operands {
        match operand {
            Operand::Text(p) if matches!(op, Op::Eq | Op::Ne) && !p.is_wildcard() => {
                exact.insert(p.text);
            }
            other => rest.push(other),
        }
    }
    (loosest(op, rest), exact)
}

/// For `>`, `>=`, `<`, `<=`, the one operand of a list that every other one implies ("greater than any of
/// them" is "greater than the least"), so a long list costs one comparison. Lists mixing kinds of value
/// (an address and a pattern) are left whole.
fn loosest(op: Op, operands: Vec<Operand>) -> Vec<Operand> {
    let lower_is_looser = match op {
        Op::Gt | Op::Ge => true,
        Op::Lt | Op::Le => false,
        Op::Eq | Op::Ne | Op::Match => return operands,
    };
    let same_kind = operands.windows(2).all(|w| std::mem::discriminant(&w[0]) == std::mem::discriminant(&w[1]));
    if operands.len() < 2 || !same_kind {
        return operands;
    }
    // The bound each kind is compared by under `op` (see `compare_span` for a time's span).
    let key = |o: &Operand| -> (String, i64) {
        match o {
            Operand::Text(p) => (p.text.clone(), 0),
            Operand::Ip(ip) => (String::new(), i64::from(*ip)),
            Operand::Number(n) => (String::new(), *n),
            Operand::Time(start, end) => (String::new(), if matches!(op, Op::Gt | Op::Le) { *end } else { *start }),
        }
    };
    let pick = if lower_is_looser {
        operands.into_iter().min_by_key(|o| key(o))
    } else {
        operands.into_iter().max_by_key(|o| key(o))
    };
    pick.into_iter().collect()
}

fn what(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Time => "time (2026-01-01, 2026-01-01T12:00:00Z or now-7d)",
        FieldKind::Ip => "IPv4 address or pattern such as '10.0.*'",
        FieldKind::Number => "number",
        FieldKind::Text | FieldKind::List => "value",
    }
}

/// A value typed by its field's kind. The empty value (`''`, `null`) and `~` are always text: they ask
/// about the text, not the instant or address.
fn operand(kind: FieldKind, op: Op, value: &str, now: i64) -> Option<Operand> {
    if value.is_empty() || op == Op::Match {
        return Some(Operand::Text(Pattern::new(value)));
    }
    match kind {
        FieldKind::Time => time_span(value, now).map(|(a, b)| Operand::Time(a, b)),
        FieldKind::Ip if !value.contains('*') => value.parse::<Ipv4Addr>().ok().map(|ip| Operand::Ip(u32::from(ip))),
        FieldKind::Number if !value.contains('*') => {
            value.parse::<f64>().ok().filter(|n| n.is_finite()).map(|n| Operand::Number(order_key(n)))
        }
        _ => Some(Operand::Text(Pattern::new(value))),
    }
}

/// A time as a span of Unix seconds: RFC 3339 (one second), a date (its whole day), or `now[-N(d|h|m|s)]`.
pub fn time_span(value: &str, now: i64) -> Option<(i64, i64)> {
    if let Some(rest) = value.strip_prefix("now") {
        let offset = match rest {
            "" => 0,
            _ => {
                let rest = rest.strip_prefix('-')?;
                // By character, not byte: the value is the caller's text and may end in any character.
                let unit = rest.chars().last()?;
                let n: i64 = rest[..rest.len() - unit.len_utf8()].parse().ok()?;
                n.checked_mul(match unit {
                    'd' => 86_400,
                    'h' => 3_600,
                    'm' => 60,
                    's' => 1,
                    _ => return None,
                })?
            }
        };
        let t = now.checked_sub(offset)?;
        return Some((t, t.checked_add(1)?));
    }
    if let Ok(t) = OffsetDateTime::parse(value, &Rfc3339) {
        let t = t.unix_timestamp();
        return Some((t, t + 1));
    }
    let date = Date::parse(value, format_description!("[year]-[month]-[day]")).ok()?;
    let start = date.midnight().assume_utc().unix_timestamp();
    Some((start, start + 86_400))
}

impl Filter {
    pub fn matches<R: Record + ?Sized>(&self, host: &R) -> bool {
        match self {
            Filter::Any(v) => v.iter().any(|f| f.matches(host)),
            Filter::All(v) => v.iter().all(|f| f.matches(host)),
            // A list means "any of"; under `!`, "none of".
            Filter::Compare { field, op, operands, exact } => match host.value(*field) {
                Value::List(items) => {
                    let hit = |op: Op| {
                        if items.is_empty() {
                            // An empty list is the empty value (`groups:null`, `tags:''`), under every
                            // operator, so that a list of values and the same values one by one agree.
                            return text_hit("", op, operands, exact);
                        }
                        items.iter().any(|t| text_hit(t, op, operands, exact))
                    };
                    match op {
                        Op::Ne => !hit(Op::Eq),
                        op => hit(*op),
                    }
                }
                Value::Text { lowered, number } => {
                    let (op, none_of) = match op {
                        Op::Ne => (Op::Eq, true),
                        op => (*op, false),
                    };
                    // A list may mix kinds of value (`local_ip:['10.0.*','10.1.2.3']`, a pattern and an
                    // address): the text values meet the field's lowercased text, the others its number.
                    let is_text = |o: &Operand| matches!(o, Operand::Text(_));
                    let text =
                        (!exact.is_empty() || operands.iter().any(is_text)) && text_hit(lowered, op, operands, exact);
                    let hit = text || operands.iter().any(|o| !is_text(o) && compare_number(*number, op, o));
                    hit != none_of
                }
            },
        }
    }
}

/// Whether lowercased `value` meets `op` with any of the operands (`exact` counts for `=` only).
fn text_hit(value: &str, op: Op, operands: &[Operand], exact: &HashSet<String>) -> bool {
    (op == Op::Eq && exact.contains(value)) || operands.iter().any(|o| compare_text(value, op, o))
}

/// An address or time against a typed operand; a field without a number (empty) meets none.
fn compare_number(value: Option<i64>, op: Op, operand: &Operand) -> bool {
    let Some(value) = value else { return false };
    match operand {
        Operand::Time(a, b) => compare_span(value, op, *a, *b),
        Operand::Ip(ip) => compare_ord(value, op, i64::from(*ip)),
        Operand::Number(n) => compare_ord(value, op, *n),
        Operand::Text(_) => false,
    }
}

fn compare_text(value: &str, op: Op, operand: &Operand) -> bool {
    let Operand::Text(pattern) = operand else { return false };
    match op {
        Op::Eq => pattern.matches(value),
        Op::Ne => !pattern.matches(value),
        Op::Match => value.contains(pattern.text.trim_matches('*')),
        _ => compare_ord(value, op, pattern.text.as_str()),
    }
}

fn compare_ord<T: PartialOrd>(value: T, op: Op, operand: T) -> bool {
    match op {
        Op::Eq | Op::Match => value == operand,
        Op::Ne => value != operand,
        Op::Gt => value > operand,
        Op::Ge => value >= operand,
        Op::Lt => value < operand,
        Op::Le => value <= operand,
    }
}

/// Compares an instant with a span `[start, end)`: equal means within it; `>` after it; `<` before it.
fn compare_span(t: i64, op: Op, start: i64, end: i64) -> bool {
    match op {
        Op::Eq | Op::Match => start <= t && t < end,
        Op::Ne => !(start <= t && t < end),
        Op::Gt => t >= end,
        Op::Ge => t >= start,
        Op::Lt => t < start,
        Op::Le => t < end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo;
    use crate::HostAction;
    use talon_auth::CustomerId;

    const NOW: i64 = demo::ANCHOR;

    fn hosts() -> Vec<Host> {
        demo::generate(&CustomerId::parse("0123456789abcdef0123456789abcdef").expect("cid"), 60, NOW)
    }

    fn select(filter: &str) -> Vec<Host> {
        let f = parse(filter, NOW).unwrap_or_else(|e| panic!("{filter}: {e}"));
        hosts().into_iter().filter(|h| f.matches(h)).collect()
    }

    #[test]
    fn equality_is_case_insensitive_and_wildcards_match() {
        let windows = select("platform_name:'windows'");
        assert!(!windows.is_empty());
        assert!(windows.iter().all(|h| h.record().platform_name == "Windows"));
        let win = select("hostname:'WIN-*'");
        assert_eq!(win.len(), windows.len(), "every Windows host is named WIN-...");
        let macs = select("hostname:'*macbook*'");
        assert!(!macs.is_empty() && macs.iter().all(|h| h.record().hostname.contains("macbook")));
        assert!(select("hostname:'nothing-like-this'").is_empty());
    }

    #[test]
    fn and_or_not_and_parentheses() {
        let all = hosts().len();
        let win = select("platform_name:'Windows'").len();
        let mac = select("platform_name:'Mac'").len();
        assert_eq!(select("platform_name:'Windows',platform_name:'Mac'").len(), win + mac);
        assert_eq!(select("platform_name:['Windows','Mac']").len(), win + mac);
        assert_eq!(select("platform_name:!'Windows'").len(), all - win);
        assert_eq!(select("platform_name:!['Windows','Mac']").len(), all - win - mac);
        assert!(select("platform_name:'Windows'+platform_name:'Mac'").is_empty());
        let grouped = select("(platform_name:'Windows',platform_name:'Mac')+status:'normal'");
        assert_eq!(grouped.len(), win + mac);
        assert_eq!(select(" platform_name : 'Windows' + status : 'normal' ").len(), win);
        assert!(select("status:!'normal'").is_empty());
    }

    fn seen(h: &Host) -> i64 {
        h.number(Field::LAST_SEEN).expect("last_seen")
    }

    #[test]
    fn dates_compare_as_instants_and_days() {
        let hosts = hosts();
        let cut = seen(&hosts[0]);
        let stamp = OffsetDateTime::from_unix_timestamp(cut).expect("t").format(&Rfc3339).expect("fmt");
        let after = select(&format!("last_seen:>'{stamp}'"));
        assert_eq!(after.len(), hosts.iter().filter(|h| seen(h) > cut).count());
        let at_or_after = select(&format!("last_seen:>='{stamp}'"));
        assert_eq!(at_or_after.len(), after.len() + hosts.iter().filter(|h| seen(h) == cut).count());
        // Most demo hosts were seen within a week of the clock; none before 2020.
        let recent = select("last_seen:>'now-7d'").len();
        assert!(recent * 10 >= hosts.len() * 8 && recent < hosts.len(), "{recent} of {}", hosts.len());
        assert_eq!(select("first_seen:<'2020-01-01'").len(), 0);
        let day = select("last_seen:'2026-10-31'");
        let expected = hosts.iter().filter(|h| seen(h) >= NOW - 86_400 && seen(h) < NOW).count();
        assert!(expected > 0, "the demo data has hosts seen on the clock's eve");
        assert_eq!(day.len(), expected);
        assert_eq!(select("modified_timestamp:<='now'").len(), hosts.len(), "every field of the record filters");
    }

    #[test]
    fn ips_compare_as_addresses() {
        let hosts = hosts();
        let ip = |h: &Host| h.number(Field::LOCAL_IP).expect("ip");
        let below: Vec<_> = select("local_ip:<'10.10.0.0'");
        let bound = i64::from(u32::from(Ipv4Addr::new(10, 10, 0, 0)));
        assert_eq!(below.len(), hosts.iter().filter(|h| ip(h) < bound).count());
        let first = hosts[0].record().local_ip.clone();
        assert!(select(&format!("local_ip:'{first}'")).iter().any(|h| h.device_id() == hosts[0].device_id()));
        assert_eq!(select("external_ip:'203.0.113.*'").len(), hosts.len());
        assert_eq!(select("local_ip.raw:*'10.*'").len(), hosts.len(), "the .raw text of an address");
        assert!(parse("local_ip:'ten'", NOW).is_err());
    }

    #[test]
    fn a_list_mixing_a_pattern_and_an_address_matches_either() {
        // Found by fuzzing (fuzz/fuzz_targets/fql.rs): the address of such a list was ignored, as the
        // pattern sent the whole list down the text path.
        let hosts = hosts();
        let (first, other) = (hosts[0].record().local_ip.clone(), hosts[1].record().local_ip.clone());
        let mixed = select(&format!("local_ip:['192.0.2.*','{first}']"));
        assert_eq!(mixed, select(&format!("local_ip:'{first}'")), "the address still matches");
        let none_of = select(&format!("local_ip:!['192.0.2.*','{first}']"));
        assert_eq!(none_of, select(&format!("local_ip:!'{first}'")), "and is still excluded under !");
        let either = select(&format!("local_ip:<['{other}','10.*']"));
        assert_eq!(either, select(&format!("local_ip:<'{other}',local_ip:<'10.*'")), "ordering lists too");
    }

    #[test]
    fn an_empty_list_field_is_the_empty_value_under_every_operator() {
        // Found by fuzzing (fuzz/fuzz_targets/fql.rs): `notes:<=['Windows','']` (an ordering list keeps
        // its loosest bound) disagreed with `notes:<='Windows',notes:<=''` on hosts without notes.
        for op in ["", "!", ">", ">=", "<", "<="] {
            let list = select(&format!("notes:{op}['Windows','','Mac']"));
            let joiner = if op == "!" { "+" } else { "," };
            let singles = ["Windows", "", "Mac"].map(|v| format!("notes:{op}'{v}'")).join(joiner);
            assert_eq!(list, select(&singles), "{op}");
        }
        assert_eq!(select("notes:<=''").len(), hosts().len());
        assert!(select("notes:>''").is_empty());
    }

    #[test]
    fn lists_match_any_element_and_null_is_empty() {
        let servers = select("tags:'FalconGroupingTags/Servers'");
        assert!(!servers.is_empty());
        assert!(servers.iter().all(|h| h.record().tags.iter().any(|t| t == "FalconGroupingTags/Servers")));
        let not_servers = select("tags:!'*Servers'");
        assert_eq!(servers.len() + not_servers.len(), hosts().len());
        assert_eq!(select("groups:null").len(), hosts().len(), "no demo host is in a group");
        assert_eq!(select("ou:'*'").len(), hosts().len(), "as for text, '*' matches the empty value too");
        assert!(select("ou:!null").iter().all(|h| !h.record().ou.is_empty()));
        assert_eq!(select("hostname:null").len(), 0);
        assert_eq!(select("hostname:!null").len(), hosts().len());
    }

    #[test]
    fn tilde_is_contains_and_spaces_after_the_colon_are_taken() {
        let hosts = hosts();
        let contains = select("hostname:~'MACBOOK'");
        assert_eq!(contains.len(), hosts.iter().filter(|h| h.record().hostname.contains("macbook")).count());
        // As caracara's filter builder writes FQL.
        let win = select("platform_name:'Windows'").len();
        assert_eq!(select("platform_name: 'Windows'+hostname: !['A','B']").len(), win);
        let ids: Vec<String> = hosts.iter().take(2).map(|h| format!("'{}'", h.device_id())).collect();
        assert_eq!(select(&format!("(device_id:[{}])", ids.join(", "))).len(), 2);
        let roles = ["Workstation", "Server", "Domain Controller"];
        let total: usize = roles.iter().map(|r| select(&format!("product_type_desc: '{r}'")).len()).sum();
        assert_eq!(total, hosts.len(), "every host has one of the three roles");
    }

    #[test]
    fn status_changes_are_seen() {
        let mut hs = hosts();
        crate::DeviceAction::Contain.apply(&mut hs[3], NOW);
        let f = parse("status:'contained'", NOW).expect("parse");
        assert_eq!(hs.iter().filter(|h| f.matches(h)).count(), 1);
    }

    #[test]
    fn errors_say_where() {
        let e = parse("platform_name:'Windows", NOW).expect_err("unterminated");
        assert_eq!(e.position, 22, "{e}");
        let e = parse("platform_name='Windows'", NOW).expect_err("no colon");
        assert_eq!(e.position, 13, "{e}");
        assert!(e.message.contains("':'"), "{e}");
        let e = parse("platform_name:'Windows'+", NOW).expect_err("dangling plus");
        assert_eq!(e.position, 24, "{e}");
        let e = parse("password:'x'", NOW).expect_err("unknown field");
        assert_eq!(e.position, 0);
        assert!(e.message.contains("unknown field"), "{e}");
        let e = parse("hostname:'a'+last_seen:>'yesterday'", NOW).expect_err("bad time after a good term");
        assert_eq!(e.position, 13, "{e}");
        assert!(e.message.contains("valid time"), "{e}");
        for odd in ["last_seen:>'now-1é'", "last_seen:>'now-'", "last_seen:>'now--9223372036854775807s'"] {
            assert!(parse(odd, NOW).is_err(), "{odd}");
        }
        let e = parse("last_seen:>'yesterday'", NOW).expect_err("bad time");
        assert_eq!(e.position, 0);
        assert!(e.message.contains("valid time"), "{e}");
        assert!(parse("", NOW).is_err());
        assert!(parse("(platform_name:'Mac'", NOW).is_err());
        assert!(parse("hostname:'it\\'s'", NOW).is_ok(), "escaped quote");
    }

    #[test]
    fn deep_nesting_is_refused_before_the_parser_recurses() {
        let nested = |depth: usize| format!("{}platform_name:'Mac'{}", "(".repeat(depth), ")".repeat(depth));
        assert!(parse(&nested(MAX_NESTING), NOW).is_ok());
        let e = parse(&nested(MAX_NESTING + 1), NOW).expect_err("too deep");
        assert_eq!(e.position, MAX_NESTING, "{e}");
        assert!(e.message.contains("nested deeper than 32"), "{e}");
        // Would overflow the stack (and abort the process) without the bound.
        assert!(parse(&"(".repeat(500_000), NOW).is_err());
        // Parentheses inside quoted values are text, not nesting.
        let quoted = format!("hostname:'{}'", "(".repeat(100));
        assert!(parse(&quoted, NOW).is_ok());
        let escaped = format!("hostname:'it\\'s {}'", "(".repeat(100));
        assert!(parse(&escaped, NOW).is_ok(), "an escaped quote does not end the value");
    }

    #[test]
    fn wildcard_matching() {
        let m = |pattern: &str, value: &str| Pattern::new(pattern).matches(value);
        assert!(m("web*", "web-01"));
        assert!(m("*01", "web-01"));
        assert!(m("w*b*1", "web-01"));
        assert!(m("*", ""));
        assert!(!m("web*", "db-01"));
        assert!(!m("a*a", "a"));
        assert!(m("WEB", "web"), "patterns are lowercased");
    }

    #[test]
    fn long_exact_lists_are_one_lookup_and_match_as_before() {
        let all = hosts();
        let names: Vec<String> =
            all.iter().take(5).map(|h| format!("'{}'", h.record().hostname.to_uppercase())).collect();
        let padding: Vec<String> = (0..1500).map(|n| format!("'absent-{n}'")).collect();
        let list = format!("hostname:[{},{}]", padding.join(","), names.join(","));
        assert_eq!(select(&list).len(), 5);
        let none_of = format!("hostname:![{}]", names.join(","));
        assert_eq!(select(&none_of).len(), all.len() - 5);
        let Filter::Compare { operands, exact, .. } = parse(&list, NOW).expect("parses") else {
            panic!("a comparison")
        };
        assert_eq!((operands.len(), exact.len()), (0, 1505), "plain values go to the set");
    }

    #[test]
    fn an_ordering_list_keeps_only_its_loosest_bound_and_selects_the_same() {
        for (filter, kept) in [("hostname:>['m','c','x']", "c"), ("hostname:<=['m','c','x']", "x")] {
            let Filter::Compare { operands, .. } = parse(filter, NOW).expect("parses") else { panic!() };
            assert_eq!(operands, vec![Operand::Text(Pattern::new(kept))], "{filter}");
        }
        assert_eq!(select("hostname:>['m','c','x']"), select("hostname:>'c'"));
        assert_eq!(select("last_seen:<['2026-01-01','now-1d']"), select("last_seen:<'now-1d'"));
        assert_eq!(select("local_ip:>=['10.0.0.9','10.0.0.2']"), select("local_ip:>='10.0.0.2'"));
    }

    #[test]
    fn field_indexes_follow_the_table() {
        for (i, name) in Field::names().enumerate() {
            assert_eq!(Field::parse(name).map(Field::index), Some(i), "{name}");
            assert!(parse(&format!("{name}:!null"), NOW).is_ok(), "{name} filters");
        }
    }

    #[test]
    fn filters_past_the_limits_are_refused_naming_the_limit() {
        let refused = |filter: String| parse(&filter, NOW).expect_err("refused").message;
        let many: Vec<String> = (0..=limits::COMPARISONS).map(|n| format!("hostname:'h{n}'")).collect();
        assert!(refused(many.join("+")).contains(&format!("at most {} comparisons", limits::COMPARISONS)));
        let values: Vec<String> = (0..=limits::VALUES).map(|n| format!("'v{n}'")).collect();
        assert!(refused(format!("hostname:[{}]", values.join(","))).contains("values in all"));
        let wild: Vec<String> = (0..=limits::WILDCARDS).map(|n| format!("'*x{n}*'")).collect();
        assert!(refused(format!("hostname:[{}]", wild.join(","))).contains("values with wildcards"));
        assert!(refused(format!("hostname:'{}'", "*a".repeat(limits::STARS + 1))).contains("wildcards (*)"));
        assert!(refused(format!("hostname:'{}'", "a".repeat(limits::VALUE_CHARS + 1))).contains("characters"));
        // At the limits, a filter is taken.
        let at: Vec<String> = (0..limits::COMPARISONS).map(|n| format!("hostname:'h{n}'")).collect();
        assert!(parse(&at.join("+"), NOW).is_ok());
        assert!(parse(&format!("hostname:'{}'", "*a".repeat(limits::STARS)), NOW).is_ok());
    }
}
