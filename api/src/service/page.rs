//! Relay pagination turned into SQL windows.
//!
//! Cursors are opaque base64 of a position in the ordered result. Every ordering ends with the
//! primary key, so positions are stable between requests as long as the data does not change;
//! that is the trade-off we accept for cheap `last`/`before` and per-parent windows in batched
//! nested connections.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::{ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait, QuerySelect, Select};

use crate::error::{ApiError, ApiResult};

/// Page size when the client gives neither `first` nor `last`.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// The largest `first`/`last` accepted.
pub const MAX_PAGE_SIZE: u64 = 100;

/// The largest position a cursor may carry (a trillion rows; far below overflow).
const MAX_CURSOR_POSITION: u64 = 1_000_000_000_000;

/// The Relay arguments as the client sent them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PageArgs {
    /// Taken as a 64-bit integer so that any number a client writes (2^40 included) reaches
    /// [`PageArgs::window`] and is refused there naming `first`, instead of failing to parse.
    pub first: Option<i64>,
    pub after: Option<String>,
    pub last: Option<i64>,
    pub before: Option<String>,
}

/// Which rows to fetch, by 0-based position in the ordered result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    /// Rows `offset .. offset + limit`; `bounded_above` is true when a `before` cursor ends it.
    Range {
        offset: u64,
        limit: u64,
        bounded_above: bool,
    },
    /// The last `limit` rows (`last` without `before`): needs the total.
    Tail { limit: u64 },
}

pub fn encode_cursor(position: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("pos:{position}"))
}

fn decode_cursor(field: &str, cursor: &str) -> ApiResult<u64> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|s| s.strip_prefix("pos:").and_then(|n| n.parse().ok()))
        // Positions past any real list would only feed overflowing offset arithmetic.
        .filter(|n: &u64| *n <= MAX_CURSOR_POSITION)
        .ok_or_else(|| ApiError::bad_input(field, "is not a cursor from this connection"))
}

fn size(field: &str, value: Option<i64>) -> ApiResult<Option<u64>> {
    match value {
        None => Ok(None),
        Some(n) if n < 0 => Err(ApiError::bad_input(field, "must not be negative")),
        Some(n) if n as u64 > MAX_PAGE_SIZE => Err(ApiError::bad_input(
            field,
            format!("must be at most {MAX_PAGE_SIZE}"),
        )),
        Some(n) => Ok(Some(n as u64)),
    }
}

impl PageArgs {
    pub fn first(n: i64) -> Self {
        PageArgs {
            first: Some(n),
            ..Default::default()
        }
    }

    /// Validates the arguments and turns them into a window.
    pub fn window(&self) -> ApiResult<Window> {
        let first = size("first", self.first)?;
        let last = size("last", self.last)?;
        if first.is_some() && last.is_some() {
            return Err(ApiError::bad_input("last", "cannot be combined with first"));
        }
        let after = self
            .after
            .as_deref()
            .map(|c| decode_cursor("after", c))
            .transpose()?;
        let before = self
            .before
            .as_deref()
            .map(|c| decode_cursor("before", c))
            .transpose()?;
        let start = after.map_or(0, |a| a + 1);
        Ok(match (last, before) {
            (Some(limit), None) if after.is_none() => Window::Tail { limit },
            (Some(limit), Some(end)) => {
                let offset = end.saturating_sub(limit).max(start);
                Window::Range {
                    offset,
                    limit: end.saturating_sub(offset),
                    bounded_above: true,
                }
            }
            (Some(limit), None) => Window::Range {
                offset: start,
                limit,
                bounded_above: false,
            },
            (None, Some(end)) => {
                let limit = first
                    .unwrap_or(DEFAULT_PAGE_SIZE)
                    .min(end.saturating_sub(start));
                Window::Range {
                    offset: start,
                    limit,
                    bounded_above: end > start + limit,
                }
            }
            (None, None) => Window::Range {
                offset: start,
                limit: first.unwrap_or(DEFAULT_PAGE_SIZE),
                bounded_above: false,
            },
        })
    }
}

/// One page of rows and where it sits.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Position of `items[0]` in the full ordered result.
    pub offset: u64,
    pub has_next: bool,
    pub has_previous: bool,
    /// Known when computing the page needed it anyway (`last` without `before`).
    pub total: Option<u64>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            offset: self.offset,
            has_next: self.has_next,
            has_previous: self.has_previous,
            total: self.total,
        }
    }

    /// Builds a page from up to `limit + 1` rows fetched at `offset` (the extra row only
    /// signals that there is a next page).
    pub fn from_probe(mut rows: Vec<T>, offset: u64, limit: u64, bounded_above: bool) -> Self {
        let more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        Page {
            items: rows,
            offset,
            has_next: more || bounded_above,
            has_previous: offset > 0,
            total: None,
        }
    }
}

/// Runs an ordered select for one window: one statement, or two for `last` without `before`.
pub async fn fetch<E, M, C>(db: &C, select: Select<E>, window: Window) -> ApiResult<Page<M>>
where
    E: EntityTrait<Model = M>,
    M: FromQueryResult + Send + Sync,
    C: ConnectionTrait,
{
    match window {
        Window::Range {
            offset,
            limit,
            bounded_above,
        } => {
            if limit == 0 {
                return Ok(Page {
                    items: vec![],
                    offset,
                    has_next: bounded_above,
                    has_previous: offset > 0,
                    total: None,
                });
            }
            let rows = select.offset(offset).limit(limit + 1).all(db).await?;
            Ok(Page::from_probe(rows, offset, limit, bounded_above))
        }
        Window::Tail { limit } => {
            let total = select.clone().count(db).await?;
            let offset = total.saturating_sub(limit);
            let rows = if limit == 0 {
                vec![]
            } else {
                select.offset(offset).limit(limit).all(db).await?
            };
            Ok(Page {
                items: rows,
                offset,
                has_next: false,
                has_previous: offset > 0,
                total: Some(total),
            })
        }
    }
}

/// One ordering term of a per-parent window.
pub type OrderTerm = (sea_orm::sea_query::Expr, sea_orm::Order);

/// Pages of child rows for many parents in ONE statement — the batching behind nested
/// connections (`group.members(first: 20)` for 50 groups is one query, not 50).
///
/// `select` must already be restricted to the parents and to the caller's scope; `parent` is the
/// expression naming each row's parent. Rows are numbered per parent with `ROW_NUMBER()` in
/// `order`, and `COUNT(*) OVER (PARTITION BY parent)` gives every parent's total in the same pass,
/// so `totalCount` on nested connections costs nothing extra.
pub async fn fetch_per_parent<E, M, C>(
    db: &C,
    select: Select<E>,
    parent: sea_orm::sea_query::Expr,
    order: &[OrderTerm],
    window: Window,
) -> ApiResult<std::collections::HashMap<i64, Page<M>>>
where
    E: EntityTrait<Model = M>,
    M: FromQueryResult + Send + Sync,
    C: ConnectionTrait,
{
    use sea_orm::QueryTrait;
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, OverStatement, Query, WindowStatement};

    let mut numbered = WindowStatement::new();
    numbered.add_partition_by(parent.clone());
    for (expr, dir) in order {
        numbered.order_by_expr(expr.clone(), dir.clone());
    }
    let mut counted = WindowStatement::new();
    counted.add_partition_by(parent.clone());

    let mut inner = select.into_query();
    inner.clear_order_by();
    inner
        .expr_as(parent, Alias::new("parent_key"))
        .expr_window_as(Func::cust("ROW_NUMBER"), numbered, Alias::new("row_pos"))
        .expr_window_as(
            Func::count(Expr::cust("*")),
            counted,
            Alias::new("parent_total"),
        );

    let w = Alias::new("w");
    let row_pos = Expr::col((w.clone(), Alias::new("row_pos")));
    let total = Expr::col((w.clone(), Alias::new("parent_total")));
    let mut outer = Query::select();
    outer
        .column((w.clone(), sea_orm::sea_query::Asterisk))
        .from_subquery(inner, w.clone());
    let (offset, limit) = match window {
        Window::Range { offset, limit, .. } => {
            outer.and_where(row_pos.clone().gt(offset as i64));
            outer.and_where(row_pos.clone().lte((offset + limit) as i64));
            (Some(offset), limit)
        }
        Window::Tail { limit } => {
            outer.and_where(row_pos.clone().gt(total.sub(limit as i64)));
            (None, limit)
        }
    };
    outer
        .order_by((w.clone(), Alias::new("parent_key")), sea_orm::Order::Asc)
        .order_by((w, Alias::new("row_pos")), sea_orm::Order::Asc);

    let backend = db.get_database_backend();
    let rows = db.query_all_raw(backend.build(&outer)).await?;
    let mut out: std::collections::HashMap<i64, Page<M>> = std::collections::HashMap::new();
    for row in rows {
        let key: i64 = row.try_get("", "parent_key")?;
        let pos: i64 = row.try_get("", "row_pos")?;
        let parent_total: i64 = row.try_get("", "parent_total")?;
        let model = M::from_query_result(&row, "")?;
        let page = out.entry(key).or_insert_with(|| {
            let total = parent_total as u64;
            let start = offset.unwrap_or_else(|| total.saturating_sub(limit));
            let bounded = matches!(
                window,
                Window::Range {
                    bounded_above: true,
                    ..
                }
            );
            Page {
                items: Vec::new(),
                offset: Ord::max((pos as u64).saturating_sub(1), start),
                has_next: start + limit < total || bounded,
                has_previous: start > 0,
                total: Some(total),
            }
        });
        page.items.push(model);
    }
    Ok(out)
}

/// A leading sort term that puts NULLs of `value` after every other value in `ASC` (and before
/// them in `DESC`). SQLite sorts NULLs first and PostgreSQL last by default; with this term in
/// front, both databases return the same pages.
pub fn nulls_last(value: sea_orm::sea_query::Expr) -> sea_orm::sea_query::Expr {
    use sea_orm::sea_query::{CaseStatement, ExprTrait};
    CaseStatement::new()
        .case(value.is_null(), 1)
        .finally(0)
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(
        first: Option<i64>,
        after: Option<u64>,
        last: Option<i64>,
        before: Option<u64>,
    ) -> PageArgs {
        PageArgs {
            first,
            after: after.map(encode_cursor),
            last,
            before: before.map(encode_cursor),
        }
    }

    #[test]
    fn windows() {
        assert_eq!(
            args(None, None, None, None).window().unwrap(),
            Window::Range {
                offset: 0,
                limit: 20,
                bounded_above: false
            }
        );
        assert_eq!(
            args(Some(5), Some(9), None, None).window().unwrap(),
            Window::Range {
                offset: 10,
                limit: 5,
                bounded_above: false
            }
        );
        assert_eq!(
            args(None, None, Some(3), None).window().unwrap(),
            Window::Tail { limit: 3 }
        );
        assert_eq!(
            args(None, None, Some(3), Some(10)).window().unwrap(),
            Window::Range {
                offset: 7,
                limit: 3,
                bounded_above: true
            }
        );
        assert_eq!(
            args(None, Some(8), Some(3), Some(10)).window().unwrap(),
            Window::Range {
                offset: 9,
                limit: 1,
                bounded_above: true
            }
        );
    }

    #[test]
    fn rejects_bad_arguments_naming_the_field() {
        for (a, field) in [
            (args(Some(101), None, None, None), "first"),
            (args(Some(-1), None, None, None), "first"),
            (args(Some(i64::MIN), None, None, None), "first"),
            (args(Some(1 << 40), None, None, None), "first"),
            (args(None, None, Some(-1), None), "last"),
            (args(None, None, Some(i64::MAX), None), "last"),
            (args(Some(1), None, Some(1), None), "last"),
            (
                PageArgs {
                    after: Some("zzz".into()),
                    ..Default::default()
                },
                "after",
            ),
            // A forged cursor at the end of u64 would overflow `after + 1`.
            (args(Some(1), Some(u64::MAX), None, None), "after"),
        ] {
            match a.window() {
                Err(ApiError::BadUserInput { field: f, .. }) => assert_eq!(f, field),
                other => panic!("expected BAD_USER_INPUT on {field}, got {other:?}"),
            }
        }
    }
}
