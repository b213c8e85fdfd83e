//! Relay pagination by keyset: a cursor is the position of a row in the ordering — the values of
//! the sort key and the id of the row it was taken from — never its offset.
//!
//! The next page is the rows *after* that position (`(key, id) > (k, i)` in the ordering's
//! directions), so a row inserted or deleted between two page reads can make no other row appear
//! twice or go missing, and a page deep in the list costs what the first one does (an index
//! range scan, not an `OFFSET` that reads and discards every earlier row).
//!
//! The values are read back from the database with each row (`SELECT …, <term> AS ck0, …`), so
//! the cursor holds exactly what the database compared — the Vietnamese sort key of a name, the
//! `CASE` term that puts NULLs last on both databases, a priority's urgency rank — and no rule is
//! written twice. Each term declares the kind of its value, so a cursor is checked against the
//! connection before any SQL runs.
//!
//! Cursors of the offset era (`pos:N`) are refused with `BAD_USER_INPUT`: a client resumes from
//! the first page.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, SimpleExpr};
use sea_orm::{ConnectionTrait, EntityTrait, FromQueryResult, QueryResult, QueryTrait, Select};

use crate::error::{ApiError, ApiResult};

/// Page size when the client gives neither `first` nor `last`.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// The largest `first`/`last` accepted.
pub const MAX_PAGE_SIZE: u64 = 100;

/// Cursors of this encoding start with this (inside the base64).
const KEYSET_PREFIX: &str = "k1:";

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

/// One value of a cursor, as carried in it (typed by the term it belongs to when used).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyValue {
    Null,
    Int(i64),
    Text(String),
}

/// A position in an ordering: one value per sort term, the id last.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor(pub Vec<KeyValue>);

impl Cursor {
    pub fn encode(&self) -> String {
        let values: Vec<serde_json::Value> = self
            .0
            .iter()
            .map(|v| match v {
                KeyValue::Null => serde_json::Value::Null,
                KeyValue::Int(n) => (*n).into(),
                KeyValue::Text(s) => s.clone().into(),
            })
            .collect();
        let json = serde_json::Value::Array(values).to_string();
        URL_SAFE_NO_PAD.encode(format!("{KEYSET_PREFIX}{json}"))
    }

    /// Reads a cursor a client sent as `field`.
    pub fn decode(field: &str, cursor: &str) -> ApiResult<Cursor> {
        let not_ours = || ApiError::bad_input(field, "is not a cursor from this connection");
        let raw = URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|raw| String::from_utf8(raw).ok())
            .ok_or_else(not_ours)?;
        if raw.starts_with("pos:") {
            return Err(ApiError::bad_input(
                field,
                "offset cursors are no longer accepted; read the connection again from its \
                 first page and use the cursors it returns",
            ));
        }
        let json = raw.strip_prefix(KEYSET_PREFIX).ok_or_else(not_ours)?;
        let values: Vec<serde_json::Value> = serde_json::from_str(json).map_err(|_| not_ours())?;
        if values.is_empty() || values.len() > 8 {
            return Err(not_ours());
        }
        values
            .into_iter()
            .map(|v| match v {
                serde_json::Value::Null => Ok(KeyValue::Null),
                serde_json::Value::Number(n) => n.as_i64().map(KeyValue::Int).ok_or_else(not_ours),
                serde_json::Value::String(s) if s.len() <= 1000 => Ok(KeyValue::Text(s)),
                _ => Err(not_ours()),
            })
            .collect::<ApiResult<Vec<_>>>()
            .map(Cursor)
    }
}

/// What kind of value a sort term has: how it is read from a row and bound in a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A 64-bit integer column (ids).
    BigInt,
    /// A 32-bit integer: INTEGER columns, and the `CASE` ranks sorting builds.
    Int,
    Text,
    /// A date, carried as `YYYY-MM-DD`.
    Date,
    /// An instant, carried as RFC 3339 (UTC, at the precision stored: SQLite keeps nanoseconds).
    Time,
}

/// One term of an ordering.
#[derive(Debug, Clone)]
pub struct SortTerm {
    pub expr: Expr,
    pub descending: bool,
    pub kind: KeyKind,
}

impl SortTerm {
    pub fn asc(expr: impl Into<Expr>, kind: KeyKind) -> Self {
        SortTerm {
            expr: expr.into(),
            descending: false,
            kind,
        }
    }

    pub fn desc(expr: impl Into<Expr>, kind: KeyKind) -> Self {
        SortTerm {
            expr: expr.into(),
            descending: true,
            kind,
        }
    }

    /// The same term in the given direction.
    pub fn direction(mut self, descending: bool) -> Self {
        self.descending = descending;
        self
    }

    fn order(&self, reversed: bool) -> sea_orm::Order {
        if self.descending != reversed {
            sea_orm::Order::Desc
        } else {
            sea_orm::Order::Asc
        }
    }

    /// The cursor value as a bound SQL value of this term's kind.
    fn bind(&self, field: &str, v: &KeyValue) -> ApiResult<Option<sea_orm::Value>> {
        let bad = || ApiError::bad_input(field, "is not a cursor from this connection");
        Ok(Some(match (self.kind, v) {
            (_, KeyValue::Null) => return Ok(None),
            (KeyKind::BigInt, KeyValue::Int(n)) => (*n).into(),
            (KeyKind::Int, KeyValue::Int(n)) => i32::try_from(*n).map_err(|_| bad())?.into(),
            (KeyKind::Text, KeyValue::Text(s)) => s.clone().into(),
            (KeyKind::Date, KeyValue::Text(s)) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| bad())?
                .into(),
            (KeyKind::Time, KeyValue::Text(s)) => chrono::DateTime::parse_from_rfc3339(s)
                .map_err(|_| bad())?
                .with_timezone(&chrono::Utc)
                .into(),
            _ => return Err(bad()),
        }))
    }

    /// This term's value in a fetched row (`ck{i}`, by name or position).
    fn read<I: sea_orm::ColIdx>(&self, row: &QueryResult, column: I) -> ApiResult<KeyValue> {
        let value = match self.kind {
            KeyKind::BigInt => row.try_get_by::<Option<i64>, _>(column)?.map(KeyValue::Int),
            KeyKind::Int => row
                .try_get_by::<Option<i32>, _>(column)?
                .map(|n| KeyValue::Int(n.into())),
            KeyKind::Text => row
                .try_get_by::<Option<String>, _>(column)?
                .map(KeyValue::Text),
            KeyKind::Date => row
                .try_get_by::<Option<chrono::NaiveDate>, _>(column)?
                .map(|d| KeyValue::Text(d.format("%Y-%m-%d").to_string())),
            KeyKind::Time => row
                .try_get_by::<Option<chrono::DateTime<chrono::Utc>>, _>(column)?
                .map(|t| KeyValue::Text(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))),
        };
        Ok(value.unwrap_or(KeyValue::Null))
    }
}

/// Which rows to fetch: up to `limit` after `after` and before `before`, from the end of that
/// range when `backward` (`last`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Window {
    pub limit: u64,
    pub backward: bool,
    pub after: Option<Cursor>,
    pub before: Option<Cursor>,
    /// Whether the reader asks for the total (`totalCount`). Batched nested pages count each
    /// parent's rows in their statement only then: the count is one more window function per
    /// parent, a fifth of the statement for a district's members when nobody reads it. Pages
    /// that did not count leave `Page::total` empty and the connection counts on demand.
    pub total_wanted: bool,
    /// Whether the reader asks for cursors (`edges { cursor }`, `pageInfo { startCursor
    /// endCursor }`). Batched nested pages read each row's sort key back only then: decoding it
    /// (a name key is a string per row) was a tenth of the server's time for a district's
    /// members read for their nodes alone. A page fetched without them has no `cursors`.
    pub cursors_wanted: bool,
}

impl Window {
    /// The first `limit` rows.
    pub fn first(limit: u64) -> Self {
        Window {
            limit,
            backward: false,
            after: None,
            before: None,
            total_wanted: true,
            cursors_wanted: true,
        }
    }
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
            .map(|c| Cursor::decode("after", c))
            .transpose()?;
        let before = self
            .before
            .as_deref()
            .map(|c| Cursor::decode("before", c))
            .transpose()?;
        Ok(Window {
            limit: last.or(first).unwrap_or(DEFAULT_PAGE_SIZE),
            backward: last.is_some(),
            after,
            before,
            total_wanted: true,
            cursors_wanted: true,
        })
    }
}

/// One page of rows, with the cursor of each.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// `cursors[i]` is the position of `items[i]`, encoded only when a client reads it (most
    /// nested pages are read for their nodes alone). Empty when the window did not want them
    /// (`Window::cursors_wanted`).
    pub cursors: Vec<Cursor>,
    pub has_next: bool,
    pub has_previous: bool,
    /// Known when computing the page produced it anyway (batched nested pages).
    pub total: Option<u64>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            cursors: self.cursors,
            has_next: self.has_next,
            has_previous: self.has_previous,
            total: self.total,
        }
    }

    /// A page with no rows.
    pub fn empty(total: Option<u64>) -> Self {
        Page {
            items: vec![],
            cursors: vec![],
            has_next: false,
            has_previous: false,
            total,
        }
    }

    /// Builds a page from up to `limit + 1` rows fetched in the window's direction (the extra
    /// row only signals that there is more), with their cursors, or none (`cursors` empty)
    /// when the window did not want them.
    fn from_probe(
        mut items: Vec<T>,
        mut cursors: Vec<Cursor>,
        window: &Window,
        total: Option<u64>,
    ) -> Self {
        debug_assert!(cursors.is_empty() || cursors.len() == items.len());
        let more = items.len() as u64 > window.limit;
        items.truncate(window.limit as usize);
        cursors.truncate(window.limit as usize);
        if window.backward {
            items.reverse();
            cursors.reverse();
        }
        // Relay: a bound the client gave says there are rows beyond it (the cursor's own row, at
        // least); the probe row says so for the open end.
        let (has_next, has_previous) = if window.backward {
            (window.before.is_some(), more)
        } else {
            (more, window.after.is_some())
        };
        Page {
            items,
            cursors,
            has_next,
            has_previous,
            total,
        }
    }
}

/// The rows strictly after (`forward`) or before `cursor` in the ordering `terms`, as one
/// condition: `t0 ⋗ v0 OR (t0 = v0 AND t1 ⋗ v1) OR …`. A NULL value equals only NULL and has
/// nothing strictly beyond it within its term — the `CASE` term the ordering puts before a
/// nullable column already separates NULLs from the rest.
fn beyond(
    field: &str,
    terms: &[SortTerm],
    cursor: &Cursor,
    forward: bool,
) -> ApiResult<sea_orm::Condition> {
    use sea_orm::Condition;
    if cursor.0.len() != terms.len() {
        return Err(ApiError::bad_input(
            field,
            "is not a cursor from this connection",
        ));
    }
    let mut any = Condition::any();
    let mut equal_so_far = Condition::all();
    // The same rows, said once more as a range on the leading term (`t0 >= v0`): an index on
    // it is then read from the cursor on, instead of the whole list being sorted for each page.
    let mut leading = Condition::all();
    if let (Some(term), Some(value)) = (terms.first(), cursor.0.first())
        && let Some(v) = term.bind(field, value)?
    {
        leading = leading.add(if term.descending != forward {
            term.expr.clone().gte(v)
        } else {
            term.expr.clone().lte(v)
        });
    }
    for (term, value) in terms.iter().zip(&cursor.0) {
        let bound = term.bind(field, value)?;
        if let Some(v) = &bound {
            let ascending_step = term.descending != forward;
            let step: SimpleExpr = if ascending_step {
                term.expr.clone().gt(v.clone())
            } else {
                term.expr.clone().lt(v.clone())
            };
            any = any.add(equal_so_far.clone().add(step));
        }
        equal_so_far = equal_so_far.add(match bound {
            Some(v) => term.expr.clone().eq(v),
            None => term.expr.clone().is_null(),
        });
    }
    Ok(leading.add(any))
}

/// The window's bounds as one condition (everything when it has none).
fn bounds(terms: &[SortTerm], window: &Window) -> ApiResult<sea_orm::Condition> {
    let mut all = sea_orm::Condition::all();
    if let Some(after) = &window.after {
        all = all.add(beyond("after", terms, after, true)?);
    }
    if let Some(before) = &window.before {
        all = all.add(beyond("before", terms, before, false)?);
    }
    Ok(all)
}

fn key_alias(i: usize) -> Alias {
    Alias::new(format!("ck{i}"))
}

/// The position of a fetched row.
fn cursor_of(terms: &[SortTerm], row: &QueryResult) -> ApiResult<Cursor> {
    const NAMES: [&str; 4] = ["ck0", "ck1", "ck2", "ck3"];
    let values = terms
        .iter()
        .enumerate()
        .map(|(i, t)| match NAMES.get(i) {
            Some(name) => t.read(row, *name),
            None => t.read(row, format!("ck{i}").as_str()),
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Cursor(values))
}

/// [`cursor_of`] for a row whose sort keys start at position `first`, in `terms` order.
fn cursor_at(terms: &[SortTerm], row: &QueryResult, first: usize) -> ApiResult<Cursor> {
    let values = terms
        .iter()
        .enumerate()
        .map(|(i, t)| t.read(row, first + i))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Cursor(values))
}

/// Runs a select for one window in `terms` order (any order the select had is replaced). `terms`
/// must end with the primary key so that every row has a position of its own.
pub async fn fetch<E, M, C>(
    db: &C,
    select: Select<E>,
    terms: &[SortTerm],
    window: Window,
) -> ApiResult<Page<M>>
where
    E: EntityTrait<Model = M>,
    M: FromQueryResult + Send + Sync,
    C: ConnectionTrait,
{
    if window.limit == 0 {
        return Ok(Page::empty(None));
    }
    let mut query = select.into_query();
    query.clear_order_by();
    for (i, term) in terms.iter().enumerate() {
        query.expr_as(term.expr.clone(), key_alias(i));
        query.order_by_expr(term.expr.clone(), term.order(window.backward));
    }
    query
        .cond_where(bounds(terms, &window)?)
        .limit(window.limit + 1);
    let backend = db.get_database_backend();
    let rows = db.query_all_raw(backend.build(&query)).await?;
    let items = rows
        .iter()
        .map(|row| M::from_query_result(row, ""))
        .collect::<Result<Vec<_>, _>>()?;
    let cursors = rows
        .iter()
        .map(|row| cursor_of(terms, row))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Page::from_probe(items, cursors, &window, None))
}

/// Pages of child rows for many parents in ONE statement — the batching behind nested
/// connections (`group.members(first: 20)` for 50 groups is one query, not 50).
///
/// `select` must already be restricted to the caller's scope; `parent` is the expression naming
/// each row's parent and `parent_ids` the parents asked for. Each parent's rows are ordered by
/// `terms`, and, when the window wants its total, counted whole (`parent_total`, bounds or
/// not), so `totalCount` on nested connections costs no statement of its own. A window with a
/// cursor bound puts an `inside` flag before the terms (the bounds as a column rather than a
/// `WHERE`, so rows inside come first): a parent none of whose rows is inside still sends its
/// first row, for its total. Without the count a page's `total` is `None`.
///
/// PostgreSQL reads each parent's page by itself: `unnest(parents) CROSS JOIN LATERAL (… WHERE
/// parent = p ORDER BY … LIMIT n + 1)`, an index probe and a small sort per parent whatever the
/// estimates. Numbering every matching row with `ROW_NUMBER() OVER (PARTITION BY parent)`
/// instead left the plan to them: planned for the actual ids it hash-joined the whole child
/// table and sorted all of it (5–9 ms for the 960 members of a district's 188 groups), under
/// the generic plan it was a nested loop (2.4 ms); the `LATERAL` form takes 2.1–2.3 ms under
/// either (see `bench/README.md`). A parent's rows are one run of the subquery, which sends
/// them in its own order (a nested loop, the only join a `LATERAL` subquery allows, keeps each
/// run's rows together and in order), so they are numbered as they arrive: a `ROW_NUMBER()`
/// per parent cost PostgreSQL a tenth of the members statement of 50 groups. SQLite has no
/// `LATERAL` and keeps the partitioned window and its numbers.
pub async fn fetch_per_parent<E, M, C>(
    db: &C,
    select: Select<E>,
    parent: Expr,
    parent_ids: &[i64],
    terms: &[SortTerm],
    window: Window,
) -> ApiResult<std::collections::HashMap<i64, Page<M>>>
where
    E: EntityTrait<Model = M>,
    M: FromQueryResult + Send + Sync,
    C: ConnectionTrait,
{
    let decode = |row: &QueryResult| M::from_query_result(row, "");
    fetch_per_parent_with(db, select, parent, parent_ids, terms, window, decode).await
}

/// [`fetch_per_parent`] for a select that reads only some of its entity's columns, with the
/// `decode` that builds a model from them (see `service::columns`).
pub async fn fetch_per_parent_with<E, M, C>(
    db: &C,
    select: Select<E>,
    parent: Expr,
    parent_ids: &[i64],
    terms: &[SortTerm],
    window: Window,
    decode: impl Fn(&QueryResult) -> Result<M, sea_orm::DbErr>,
) -> ApiResult<std::collections::HashMap<i64, Page<M>>>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let statement = per_parent_statement(
        db.get_database_backend(),
        select.into_query(),
        parent,
        parent_ids,
        terms,
        &window,
    )?;
    let rows = db.query_all_raw(statement).await?;
    // Per parent: its total, and its rows inside the window with their positions (and their
    // cursors, when wanted).
    type Numbered<M> = Vec<(i64, M, Option<Cursor>)>;
    let mut grouped: std::collections::HashMap<i64, (Option<u64>, Numbered<M>)> =
        std::collections::HashMap::new();
    // The statement's own columns come after the select's, at the same positions in every row:
    // found by name once, then read by position (see `columns::Positional`).
    let numbered = numbered_per_parent(db.get_database_backend());
    let at = match rows.first() {
        Some(row) => PerParentColumns::find(row, &window, numbered)?,
        None => return Ok(std::collections::HashMap::new()),
    };
    for row in rows {
        let key: i64 = row.try_get_by_index(at.parent_key)?;
        let parent_total: Option<i64> = match at.parent_total {
            Some(i) => Some(row.try_get_by_index(i)?),
            None => None,
        };
        let entry = grouped
            .entry(key)
            .or_insert_with(|| (parent_total.map(|n| n as u64), Vec::new()));
        let inside = match at.inside {
            Some(i) => row.try_get_by_index::<i32>(i)? == 1,
            None => true,
        };
        if inside && window.limit > 0 {
            // Rows inside the window come before the rest of their parent's, so without the
            // database's number a row's place among them is the order it arrived in.
            let position: i64 = match at.row_pos {
                Some(i) => row.try_get_by_index(i)?,
                None => entry.1.len() as i64 + 1,
            };
            let cursor = match at.first_key {
                Some(first) => Some(cursor_at(terms, &row, first)?),
                None => None,
            };
            entry.1.push((position, decode(&row)?, cursor));
        }
    }
    Ok(grouped
        .into_iter()
        .map(|(key, (total, mut rows))| {
            // SQLite's rows are numbered by the window: the order of a statement's rows is not
            // promised without an outer `ORDER BY`, so they are put in their numbers' order.
            if at.row_pos.is_some() {
                rows.sort_by_key(|(position, _, _)| *position);
            }
            let (items, cursors): (Vec<M>, Vec<Option<Cursor>>) =
                rows.into_iter().map(|(_, m, c)| (m, c)).unzip();
            let cursors = cursors.into_iter().flatten().collect();
            (key, Page::from_probe(items, cursors, &window, total))
        })
        .collect())
}

/// Whether `backend` numbers each parent's rows in the statement (`row_pos`): SQLite, which
/// windows every parent's rows at once; PostgreSQL reads one parent at a time (`LATERAL`).
fn numbered_per_parent(backend: sea_orm::DbBackend) -> bool {
    backend != sea_orm::DbBackend::Postgres
}

/// Where the columns [`per_parent_statement`] adds sit in its rows.
struct PerParentColumns {
    parent_key: usize,
    /// When the window has a cursor bound.
    inside: Option<usize>,
    /// On SQLite, whose pages are numbered by a window function.
    row_pos: Option<usize>,
    /// When the window wants its total.
    parent_total: Option<usize>,
    /// The first sort key (`ck0`, the others follow it), when the window wants cursors (every
    /// ordering has at least one term: the primary key).
    first_key: Option<usize>,
}

impl PerParentColumns {
    fn find(row: &QueryResult, window: &Window, numbered: bool) -> ApiResult<Self> {
        let names = row.column_names();
        let position = |name: &str| {
            names.iter().position(|n| n == name).ok_or_else(|| {
                ApiError::from(sea_orm::DbErr::Custom(format!(
                    "per-parent page: no column {name}"
                )))
            })
        };
        Ok(PerParentColumns {
            parent_key: position("parent_key")?,
            inside: if window.after.is_some() || window.before.is_some() {
                Some(position("inside")?)
            } else {
                None
            },
            row_pos: if numbered {
                Some(position("row_pos")?)
            } else {
                None
            },
            parent_total: if window.total_wanted {
                Some(position("parent_total")?)
            } else {
                None
            },
            first_key: if window.cursors_wanted {
                Some(position("ck0")?)
            } else {
                None
            },
        })
    }
}

/// The statement of [`fetch_per_parent`] for `backend`.
fn per_parent_statement(
    backend: sea_orm::DbBackend,
    mut inner: sea_orm::sea_query::SelectStatement,
    parent: Expr,
    parent_ids: &[i64],
    terms: &[SortTerm],
    window: &Window,
) -> ApiResult<sea_orm::Statement> {
    use sea_orm::sea_query::{CaseStatement, Func, OverStatement, WindowStatement};

    let lateral = !numbered_per_parent(backend);
    // Without a bound every row is inside: no flag to compute, send or sort by.
    let inside: Option<Expr> = if window.after.is_none() && window.before.is_none() {
        None
    } else {
        Some(
            CaseStatement::new()
                .case(bounds(terms, window)?, 1)
                .finally(0)
                .into(),
        )
    };
    let order = |by: &mut dyn FnMut(Expr, sea_orm::Order)| {
        if let Some(inside) = &inside {
            by(inside.clone(), sea_orm::Order::Desc);
        }
        for term in terms {
            by(term.expr.clone(), term.order(window.backward));
        }
    };
    let mut counted = WindowStatement::new();
    if !lateral {
        counted.add_partition_by(parent.clone());
    }

    inner.clear_order_by();
    if window.cursors_wanted {
        for (i, term) in terms.iter().enumerate() {
            inner.expr_as(term.expr.clone(), key_alias(i));
        }
    }
    let parent_key = Alias::new("parent_key");
    let lateral_parent = Expr::col((Alias::new("p"), parent_key.clone()));
    inner.expr_as(
        if lateral {
            lateral_parent.clone()
        } else {
            parent.clone()
        },
        parent_key.clone(),
    );
    if let Some(inside) = &inside {
        inner.expr_as(inside.clone(), Alias::new("inside"));
    }
    if !lateral {
        let mut numbered = WindowStatement::new();
        numbered.add_partition_by(parent.clone());
        order(&mut |expr, o| {
            numbered.order_by_expr(expr, o);
        });
        inner.expr_window_as(Func::cust("ROW_NUMBER"), numbered, Alias::new("row_pos"));
    }
    if window.total_wanted {
        inner.expr_window_as(
            Func::count(Expr::cust("*")),
            counted,
            Alias::new("parent_total"),
        );
    }

    Ok(if lateral {
        inner.and_where(parent.eq(lateral_parent));
        order(&mut |expr, o| {
            inner.order_by_expr(expr, o);
        });
        inner.limit(window.limit + 1);
        let built = backend.build(&inner);
        let mut values = built.values.map(|v| v.0).unwrap_or_default();
        // A parent named twice would get its page twice (`IN` matches once): one of each.
        let mut parents = parent_ids.to_vec();
        parents.sort_unstable();
        parents.dedup();
        // One parent (the page under one unit or group, the most common read) is a plain
        // value rather than an array of one. PostgreSQL's generic plan supposes an array
        // parameter holds ten elements, so against the custom plan for one element it never
        // looked worth keeping: each execution was planned again, which cost three times the
        // execution itself for a unit's groups.
        let parents_sql = if let [parent] = parents[..] {
            values.push(parent.into());
            format!(
                r#"(SELECT CAST(${} AS bigint) AS "parent_key") AS "p""#,
                values.len()
            )
        } else {
            values.push(id_array(&parents).into());
            format!(
                r#"unnest(CAST(${} AS bigint[])) AS "p"("parent_key")"#,
                values.len()
            )
        };
        sea_orm::Statement::from_sql_and_values(
            backend,
            format!(
                r#"SELECT "w".* FROM {parents_sql} CROSS JOIN LATERAL ({}) AS "w""#,
                built.sql
            ),
            values,
        )
    } else {
        use sea_orm::sea_query::Query;
        inner.and_where(parent.is_in(parent_ids.iter().copied()));
        let w = Alias::new("w");
        let row_pos = Expr::col((w.clone(), Alias::new("row_pos")));
        let mut outer = Query::select();
        outer
            .column((w.clone(), sea_orm::sea_query::Asterisk))
            .from_subquery(inner, w)
            .and_where(
                row_pos
                    .clone()
                    .lte((window.limit + 1) as i64)
                    .or(row_pos.eq(1)),
            );
        backend.build(&outer)
    })
}

/// The ids as one PostgreSQL array literal (`{1,2,3}`), bound as a single text parameter.
fn id_array(ids: &[i64]) -> String {
    use std::fmt::Write as _;
    let mut list = String::with_capacity(ids.len() * 8 + 2);
    list.push('{');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            list.push(',');
        }
        let _ = write!(list, "{id}");
    }
    list.push('}');
    list
}

/// Windows a complete list already in memory, ordered by `key` ascending (children of one
/// unit): the same cursors and bounds as the database's.
pub fn slice<T>(all: Vec<T>, window: &Window, key: impl Fn(&T) -> Vec<KeyValue>) -> Page<T> {
    let total = all.len() as u64;
    let inside = |k: &Vec<KeyValue>| {
        window.after.as_ref().is_none_or(|a| *k > a.0)
            && window.before.as_ref().is_none_or(|b| *k < b.0)
    };
    let mut rows: Vec<(T, Cursor)> = all
        .into_iter()
        .filter_map(|item| {
            let k = key(&item);
            inside(&k).then_some((item, Cursor(k)))
        })
        .collect();
    if window.backward {
        rows.reverse();
    }
    rows.truncate(window.limit as usize + 1);
    let (items, cursors) = rows.into_iter().unzip();
    Page::from_probe(items, cursors, window, Some(total))
}

/// A leading sort term that puts NULLs of `value` after every other value in `ASC` (and before
/// them in `DESC`). SQLite sorts NULLs first and PostgreSQL last by default; with this term in
/// front, both databases return the same pages. Its kind is [`KeyKind::Int`].
pub fn nulls_last(value: Expr) -> Expr {
    use sea_orm::sea_query::CaseStatement;
    CaseStatement::new()
        .case(value.is_null(), 1)
        .finally(0)
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-parent statement of tasks (by id) for the groups `ids`.
    fn tasks_of_groups(
        backend: sea_orm::DbBackend,
        ids: &[i64],
        window: &Window,
    ) -> sea_orm::Statement {
        use sea_orm::sea_query::Query;
        let mut q = Query::select();
        q.expr(Expr::col((Alias::new("tasks"), Alias::new("id"))))
            .from(Alias::new("tasks"));
        let terms = [SortTerm::asc(
            Expr::col((Alias::new("tasks"), Alias::new("id"))),
            KeyKind::BigInt,
        )];
        let parent = Expr::col((Alias::new("tasks"), Alias::new("group_id")));
        per_parent_statement(backend, q, parent, ids, &terms, window).unwrap()
    }

    /// PostgreSQL gets one statement text whatever the number of parents (so one cached plan,
    /// PostgreSQL turning to a generic plan after five executions, where an `IN ($1, …, $188)`
    /// list was planned again at every bind), with the ids as one array value read one parent
    /// at a time through `LATERAL`; one parent alone is one plain value, in a text of its own
    /// (its generic plan is then as cheap as a custom one, so PostgreSQL keeps it). SQLite
    /// gets the list and the partitioned window.
    #[test]
    fn parents_go_to_postgresql_as_one_array_parameter() {
        let statement = |backend: sea_orm::DbBackend, ids: &[i64]| {
            tasks_of_groups(backend, ids, &Window::first(20))
        };
        let pg = sea_orm::DbBackend::Postgres;
        let two = statement(pg, &[7, 42]);
        let many = statement(pg, &(1..=188).collect::<Vec<_>>());
        let none = statement(pg, &[]);
        assert_eq!(two.sql, many.sql);
        assert_eq!(two.sql, none.sql);
        assert!(
            two.sql.contains(
                r#"FROM unnest(CAST($2 AS bigint[])) AS "p"("parent_key") CROSS JOIN LATERAL"#
            ),
            "{}",
            two.sql
        );
        assert!(
            two.sql.contains(r#""tasks"."group_id" = "p"."parent_key""#),
            "{}",
            two.sql
        );
        assert!(two.sql.contains("LIMIT $1) AS \"w\""), "{}", two.sql);
        let values = |s: &sea_orm::Statement| s.values.clone().unwrap().0;
        assert_eq!(values(&two)[1], sea_orm::Value::from("{7,42}"));
        let twice = statement(pg, &[42, 7, 42]);
        assert_eq!(values(&twice)[1], sea_orm::Value::from("{7,42}"));
        assert_eq!(values(&none)[1], sea_orm::Value::from("{}"));
        assert_eq!(values(&two)[0], sea_orm::Value::from(21u64));

        let one = statement(pg, &[42]);
        assert_eq!(one.sql, statement(pg, &[42, 42]).sql);
        assert_eq!(
            one.sql,
            two.sql.replace(
                r#"unnest(CAST($2 AS bigint[])) AS "p"("parent_key")"#,
                r#"(SELECT CAST($2 AS bigint) AS "parent_key") AS "p""#
            )
        );
        assert_ne!(one.sql, two.sql);
        assert_eq!(values(&one)[1], sea_orm::Value::from(42i64));
        assert_eq!(
            values(&statement(pg, &[42, 42]))[1],
            sea_orm::Value::from(42i64)
        );

        let lite = statement(sea_orm::DbBackend::Sqlite, &[7, 42]);
        assert!(
            lite.sql.contains(r#""tasks"."group_id" IN (?, ?)"#),
            "{}",
            lite.sql
        );
        assert!(lite.sql.contains("PARTITION BY"), "{}", lite.sql);
    }

    /// A batched page counts its parents' rows only when the total is wanted, reads each row's
    /// sort key back only when cursors are, and flags the rows inside the window only when it
    /// has a bound. SQLite numbers each parent's rows in sort-key order; PostgreSQL, reading
    /// one parent at a time, leaves them in the order its subquery sends them.
    #[test]
    fn per_parent_statements_read_only_what_is_wanted() {
        let statement = |backend, total_wanted, cursors_wanted, bounded: bool| {
            let window = Window {
                total_wanted,
                cursors_wanted,
                after: bounded.then(|| Cursor(vec![KeyValue::Int(7)])),
                ..Window::first(20)
            };
            tasks_of_groups(backend, &[7], &window).sql
        };
        for backend in [sea_orm::DbBackend::Postgres, sea_orm::DbBackend::Sqlite] {
            let all = statement(backend, true, true, true);
            assert!(all.contains(r#"AS "parent_total""#), "{all}");
            assert!(all.contains(r#"AS "ck0""#), "{all}");
            assert!(all.contains(r#"AS "inside""#), "{all}");
            let bare = statement(backend, false, false, false);
            assert!(!bare.contains("COUNT("), "{bare}");
            assert!(!bare.contains("ck0"), "{bare}");
            assert!(!bare.contains("inside"), "{bare}");
            assert!(bare.contains(r#""tasks"."id" ASC"#), "{bare}");
            let numbered = bare.contains(r#"AS "row_pos""#);
            assert_eq!(numbered, backend == sea_orm::DbBackend::Sqlite, "{bare}");
        }
    }

    fn cursor(values: Vec<KeyValue>) -> String {
        Cursor(values).encode()
    }

    #[test]
    fn windows() {
        let w = PageArgs::default().window().unwrap();
        assert_eq!(w, Window::first(20));
        let after = cursor(vec![KeyValue::Text("b".into()), KeyValue::Int(9)]);
        let w = PageArgs {
            last: Some(3),
            after: Some(after.clone()),
            ..Default::default()
        }
        .window()
        .unwrap();
        assert!(w.backward);
        assert_eq!(w.limit, 3);
        assert_eq!(
            w.after,
            Some(Cursor(vec![KeyValue::Text("b".into()), KeyValue::Int(9)]))
        );
    }

    #[test]
    fn rejects_bad_arguments_naming_the_field() {
        let offset_cursor = URL_SAFE_NO_PAD.encode("pos:43");
        for (a, field) in [
            (PageArgs::first(101), "first"),
            (PageArgs::first(-1), "first"),
            (PageArgs::first(i64::MIN), "first"),
            (PageArgs::first(1 << 40), "first"),
            (
                PageArgs {
                    last: Some(-1),
                    ..Default::default()
                },
                "last",
            ),
            (
                PageArgs {
                    last: Some(i64::MAX),
                    ..Default::default()
                },
                "last",
            ),
            (
                PageArgs {
                    first: Some(1),
                    last: Some(1),
                    ..Default::default()
                },
                "last",
            ),
            (
                PageArgs {
                    after: Some("zzz".into()),
                    ..Default::default()
                },
                "after",
            ),
            (
                PageArgs {
                    before: Some(offset_cursor.clone()),
                    ..Default::default()
                },
                "before",
            ),
        ] {
            match a.window() {
                Err(ApiError::BadUserInput { field: f, .. }) => assert_eq!(f, field),
                other => panic!("expected BAD_USER_INPUT on {field}, got {other:?}"),
            }
        }
        match (PageArgs {
            after: Some(offset_cursor),
            ..Default::default()
        })
        .window()
        {
            Err(ApiError::BadUserInput { message, .. }) => {
                assert!(message.contains("offset cursors"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_cursor_must_fit_the_ordering() {
        let terms = [
            SortTerm::asc(Expr::cust("name_key"), KeyKind::Text),
            SortTerm::asc(Expr::cust("id"), KeyKind::BigInt),
        ];
        let wrong_length = Cursor(vec![KeyValue::Int(1)]);
        assert!(beyond("after", &terms, &wrong_length, true).is_err());
        let wrong_kind = Cursor(vec![KeyValue::Int(1), KeyValue::Int(1)]);
        assert!(beyond("after", &terms, &wrong_kind, true).is_err());
        let fits = Cursor(vec![KeyValue::Text("a".into()), KeyValue::Int(1)]);
        assert!(beyond("after", &terms, &fits, true).is_ok());
    }

    #[test]
    fn slices_in_memory_like_the_database() {
        let all: Vec<i64> = (1..=5).collect();
        let key = |n: &i64| vec![KeyValue::Int(*n)];
        let first = slice(all.clone(), &Window::first(2), key);
        assert_eq!(first.items, [1, 2]);
        assert!(first.has_next && !first.has_previous);
        let next = Window {
            after: Some(Cursor(vec![KeyValue::Int(2)])),
            ..Window::first(2)
        };
        let page = slice(all.clone(), &next, key);
        assert_eq!(page.items, [3, 4]);
        assert!(page.has_previous && page.has_next);
        let tail = Window {
            backward: true,
            ..Window::first(2)
        };
        assert_eq!(slice(all, &tail, key).items, [4, 5]);
    }
}
