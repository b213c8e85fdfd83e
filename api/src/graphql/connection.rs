//! Relay cursor connections: `{ edges { cursor node } nodes pageInfo totalCount }`. Cursors are
//! keyset positions (`service::page`), one per row.
//!
//! `totalCount` is computed only when asked for: the connection carries either the total (when
//! fetching the page produced it, as batched nested pages do) or a deferred count query.

use std::sync::Arc;

use async_graphql::SimpleObject;
use futures_util::future::BoxFuture;

use crate::error::ApiResult;
use crate::service::page::{Cursor, Page};

#[derive(SimpleObject, Clone, Debug)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
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
    PageInfo {
        has_next_page: page.has_next,
        has_previous_page: page.has_previous,
        start_cursor: page.cursors.first().map(Cursor::encode),
        end_cursor: page.cursors.last().map(Cursor::encode),
    }
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
                self.page
                    .items
                    .iter()
                    .zip(&self.page.cursors)
                    .map(|(node, cursor)| $edge {
                        cursor: cursor.encode(),
                        node: node.clone(),
                    })
                    .collect()
            }

            async fn nodes(&self) -> &[$node] {
                &self.page.items
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
            pub cursor: String,
            pub node: $node,
        }

        #[async_graphql::Object]
        impl $edge {
            async fn cursor(&self) -> &str {
                &self.cursor
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

/// Wraps a count query as a deferred total.
pub fn deferred<F, Fut>(f: F) -> CountFn
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ApiResult<u64>> + Send + 'static,
{
    Arc::new(move || Box::pin(f()))
}
