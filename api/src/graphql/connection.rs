//! Relay cursor connections: `{ edges { cursor node } nodes pageInfo totalCount }`. Cursors are
//! keyset positions (`service::page`), one per row.
//!
//! `totalCount` is computed only when asked for: the connection carries either the total (when
//! fetching the page produced it, as batched nested pages do) or a deferred count query.

use std::sync::Arc;

use async_graphql::Object;
use futures_util::future::BoxFuture;

use crate::error::{ApiError, ApiResult};
use crate::graphql::errors::Result;
use crate::service::page::{Cursor, Page};

/// Relay's `PageInfo`. Its cursors are encoded only when read, and only they need the page's
/// cursors: `hasNextPage` alone is answered by a page fetched without them.
#[derive(Clone, Debug)]
pub struct PageInfo {
    has_next_page: bool,
    has_previous_page: bool,
    /// The first and last cursors (`None` inside for an empty page); `None` when the page was
    /// fetched without cursors (see [`cursors`]).
    ends: Option<Option<(Cursor, Cursor)>>,
}

#[Object]
impl PageInfo {
    async fn has_next_page(&self) -> bool {
        self.has_next_page
    }
    async fn has_previous_page(&self) -> bool {
        self.has_previous_page
    }
    async fn start_cursor(&self) -> Result<Option<String>> {
        Ok(self.ends()?.map(|(start, _)| start.encode()))
    }
    async fn end_cursor(&self) -> Result<Option<String>> {
        Ok(self.ends()?.map(|(_, end)| end.encode()))
    }
}

impl PageInfo {
    fn ends(&self) -> ApiResult<Option<&(Cursor, Cursor)>> {
        match &self.ends {
            Some(ends) => Ok(ends.as_ref()),
            None => Err(cursor_not_fetched()),
        }
    }
}

/// A deferred `COUNT(*)`.
pub type CountFn = Arc<dyn Fn() -> BoxFuture<'static, ApiResult<u64>> + Send + Sync>;

#[derive(Clone)]
pub enum Total {
    Known(u64),
    Deferred(CountFn),
}

impl Total {
    pub async fn get(&self) -> ApiResult<u64> {
        match self {
            Total::Known(n) => Ok(*n),
            Total::Deferred(f) => f().await,
        }
    }
}

pub fn page_info<T>(page: &Page<T>) -> PageInfo {
    let ends = cursors(page)
        .ok()
        .map(|c| c.first().cloned().zip(c.last().cloned()));
    PageInfo {
        has_next_page: page.has_next,
        has_previous_page: page.has_previous,
        ends,
    }
}

/// The page's cursors, one per item. A page fetched without them (its resolver saw no
/// `edges { cursor }` or cursor of `pageInfo` in its look-ahead, which sees fragments too)
/// still answers its nodes, `edges { node }` and `hasNextPage`; asked for a cursor, it would
/// answer an internal error rather than a wrong cursor (a bug in the resolver, not a state a
/// client can reach).
pub fn cursors<T>(page: &Page<T>) -> ApiResult<&[Cursor]> {
    if page.cursors.len() == page.items.len() {
        Ok(&page.cursors)
    } else {
        Err(cursor_not_fetched())
    }
}

/// A cursor was read from a page fetched without cursors (see [`cursors`]).
pub fn cursor_not_fetched() -> ApiError {
    ApiError::Internal("a cursor was read from a page fetched without cursors".into())
}

/// Chooses the known total if the page has one, else the deferred count.
pub fn total_for<T>(page: &Page<T>, deferred: CountFn) -> Total {
    match page.total {
        Some(n) => Total::Known(n),
        None => Total::Deferred(deferred),
    }
}

/// Defines `<Name>Connection` and `<Name>Edge` for a node type.
macro_rules! connection {
    ($conn:ident, $edge:ident, $node:ty) => {
        pub struct $conn {
            pub page: $crate::service::page::Page<$node>,
            pub total: $crate::graphql::connection::Total,
        }

        #[async_graphql::Object]
        impl $conn {
            async fn edges(&self) -> Vec<$edge> {
                let cursors = $crate::graphql::connection::cursors(&self.page).ok();
                self.page
                    .items
                    .iter()
                    .enumerate()
                    .map(|(i, node)| $edge {
                        cursor: cursors.map(|c| c[i].clone()),
                        node: node.clone(),
                    })
                    .collect()
            }

            async fn nodes(&self) -> $crate::graphql::plain::PlainList<'_, $node> {
                $crate::graphql::plain::PlainList(&self.page.items)
            }

            async fn page_info(&self) -> $crate::graphql::connection::PageInfo {
                $crate::graphql::connection::page_info(&self.page)
            }

            /// Number of items in the whole connection (all pages), within the caller's scope.
            async fn total_count(&self) -> $crate::graphql::errors::Result<i64> {
                Ok(self.total.get().await? as i64)
            }
        }

        pub struct $edge {
            /// `None` when the page was fetched without cursors (see `cursors`).
            pub cursor: Option<$crate::service::page::Cursor>,
            pub node: $node,
        }

        #[async_graphql::Object]
        impl $edge {
            async fn cursor(&self) -> $crate::graphql::errors::Result<String> {
                match &self.cursor {
                    Some(cursor) => Ok(cursor.encode()),
                    None => Err($crate::graphql::connection::cursor_not_fetched().into()),
                }
            }
            async fn node(&self) -> &$node {
                &self.node
            }
        }
    };
}

pub(crate) use connection;

/// Whether the selection of the connection being resolved reads `totalCount` (itself or in a
/// fragment). Batched nested pages count their parents' rows only then; one that did not count
/// and is asked all the same (a selection the look-ahead cannot see) falls back to the
/// deferred count, so the answer is right either way.
pub fn wants_total(ctx: &async_graphql::Context<'_>) -> bool {
    ctx.look_ahead().field("totalCount").exists()
}

/// Whether the selection of the connection being resolved reads a cursor: `edges { cursor }`
/// or `pageInfo { startCursor endCursor }` (themselves or in fragments). Batched nested pages
/// read each row's sort key back only then. The look-ahead sees every field of this occurrence
/// of the connection that could be resolved, so a page fetched without cursors is never asked
/// for one (`cursors` says so loudly if it were).
pub fn wants_cursors(ctx: &async_graphql::Context<'_>) -> bool {
    let look = ctx.look_ahead();
    let page_info = look.field("pageInfo");
    look.field("edges").field("cursor").exists()
        || page_info.field("startCursor").exists()
        || page_info.field("endCursor").exists()
}

/// Whether the nodes of the connection being resolved read a field: under `nodes` or
/// `edges { node }`, themselves or in fragments. The look-ahead sees every field that could
/// be resolved, so a page that fetches what this says its nodes read lacks nothing.
pub fn node_reads<'a>(ctx: &'a async_graphql::Context<'_>) -> impl Fn(&str) -> bool + 'a {
    let look = ctx.look_ahead();
    let (nodes, edges) = (look.field("nodes"), look.field("edges").field("node"));
    move |field| nodes.field(field).exists() || edges.field(field).exists()
}

/// Wraps a count query as a deferred total.
pub fn deferred<F, Fut>(f: F) -> CountFn
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ApiResult<u64>> + Send + 'static,
{
    Arc::new(move || Box::pin(f()))
}
