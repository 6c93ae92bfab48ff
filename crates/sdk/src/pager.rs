//! The generic pager: every page of a query operation, in whichever of the catalogue's three paging styles
//! the operation uses, bounded by the `total` the API reports.
//!
//! - integer `offset` (most `queries` routes): the next offset is this one plus the page's length;
//! - `after` token (newer routes): the next token is `meta.pagination.after`;
//! - text `offset` token (the `scroll` routes): the next token is `meta.pagination.offset`.
//!
//! Paging stops at `total`, at an empty page, when the API gives no next cursor, or when it gives the same
//! cursor again (a server that does not move would otherwise be asked for ever).

use serde_json::Value;
use talon_wire::catalogue::{Operation, ParamType};

use crate::args::Args;
use crate::error::Error;
use crate::harness::{CommandResult, Harness};

/// How an operation pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// An integer `offset`: the position of the page's first item.
    Offset,
    /// An `after` token from the previous page.
    After,
    /// A text `offset` token from the previous page (the `scroll` routes).
    Scroll,
}

impl Paging {
    /// How `op` pages, if it does.
    pub fn of(op: &Operation) -> Option<Paging> {
        if op.param("after").is_some() {
            return Some(Paging::After);
        }
        match op.param("offset")?.kind {
            Some(ParamType::Integer) => Some(Paging::Offset),
            Some(ParamType::String) => Some(Paging::Scroll),
            _ => None,
        }
    }

    fn cursor_param(self) -> &'static str {
        match self {
            Paging::After => "after",
            Paging::Offset | Paging::Scroll => "offset",
        }
    }
}

/// Every page's `resources`, gathered.
#[derive(Debug, Clone)]
pub struct Pages {
    /// The `resources` of every page, in order.
    pub resources: Vec<Value>,
    /// How many requests were made.
    pub pages: usize,
    /// The `total` the last page reported, if any.
    pub total: Option<u64>,
    /// The last page's answer (its headers and `meta` as they came).
    pub last: CommandResult,
}

impl Harness {
    /// Runs `operation_id` page after page (see [`Paging`]) and gathers the `resources`. An operation
    /// that does not page is called once. Any page's non-2xx answer is an [`Error::Api`]: a partial list
    /// is not passed off as the whole.
    pub async fn all_pages(&self, operation_id: &str, args: Args) -> Result<Pages, Error> {
        let op = talon_wire::catalogue::catalogue().resolve(operation_id).map_err(Error::UnknownOperation)?;
        let paging = Paging::of(op);
        let mut args = args;
        let mut resources = Vec::new();
        let mut pages = 0;
        let mut offset: u64 = match paging {
            Some(Paging::Offset) => args.text("offset").and_then(|t| t.parse().ok()).unwrap_or(0),
            _ => 0,
        };
        let mut cursor = paging.and_then(|p| args.text(p.cursor_param()));
        loop {
            let answer = self.command(operation_id, args.clone()).await?;
            pages += 1;
            if let Some(failed) = answer.error() {
                return Err(failed);
            }
            let page: &[Value] = answer.body["resources"].as_array().map_or(&[], Vec::as_slice);
            let page_len = page.len() as u64;
            resources.extend(page.iter().cloned());
            let pagination = &answer.body["meta"]["pagination"];
            let total = pagination["total"].as_u64();
            let done = |seen: u64| page_len == 0 || total.is_none_or(|t| seen >= t);
            let next = match paging {
                None => None,
                Some(Paging::Offset) => {
                    offset += page_len;
                    (!done(offset)).then(|| Value::from(offset))
                }
                Some(style @ (Paging::After | Paging::Scroll)) => {
                    let token = pagination[style.cursor_param()].as_str().filter(|t| !t.is_empty());
                    let moved = token.is_some_and(|t| cursor.as_deref() != Some(t));
                    let seen = resources.len() as u64;
                    match token {
                        Some(t) if moved && !(page_len == 0 || total.is_some_and(|total| seen >= total)) => {
                            cursor = Some(t.to_owned());
                            Some(Value::from(t))
                        }
                        _ => None,
                    }
                }
            };
            match (next, paging) {
                (Some(value), Some(style)) => args = args.set(style.cursor_param(), value),
                _ => return Ok(Pages { resources, pages, total, last: answer }),
            }
        }
    }
}
