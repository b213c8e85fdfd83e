//! What resolvers get from the request: the database, the application state, and — when the
//! request carried a valid token — the principal and its per-request DataLoaders.

use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, HashMapCache, NoCache};
use sea_orm::DatabaseConnection;

use super::loaders::BatchLoader;
use crate::error::ApiError;
use crate::principal::Principal;
use crate::state::AppState;

/// How many times a batch yields to the scheduler before it queries.
///
/// async-graphql resolves long lists in rounds of 32 items and yields between rounds, so a batch
/// that fired at once would split one level of a nested query into several statements; a timed
/// window (its default is 1 ms, on a timer thread) instead makes every nesting level wait even
/// when all keys are long in. Yielding instead waits exactly for the work that is ready on this
/// worker — each actix worker is a single-threaded runtime, where a yielded task resumes only
/// after the tasks already queued have run — and costs microseconds.
const BATCH_YIELDS: usize = 16;

/// Spawns a batch load after [`BATCH_YIELDS`] scheduler turns.
fn spawn_batch(load: futures_util::future::BoxFuture<'static, ()>) {
    tokio::spawn(async move {
        for _ in 0..BATCH_YIELDS {
            tokio::task::yield_now().await;
        }
        load.await;
    });
}

/// Client facts the pipeline attaches to every operation, whatever its transport (for login
/// throttling and audit).
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    /// The client's address; behind trusted proxies, the one they forwarded.
    pub address: String,
    pub request_id: String,
    pub user_agent: Option<String>,
}

/// Per-operation data, inserted by the pipeline.
pub struct Session {
    pub principal: Principal,
    /// Rows by key (units, groups, members, …), remembered for the operation: walking up a
    /// unit's ancestors or naming one member twice reads it once.
    pub loader: DataLoader<BatchLoader, HashMapCache>,
    /// Nested pages (a group's members, a unit's groups), remembered by nobody. A page is read
    /// for one field of one parent, and the connection that answers it owns its rows; a page
    /// the loader also kept would have to be copied row by row for every parent (a ward's 50
    /// groups bring hundreds of members and tasks). Keys asked in the same batch are still
    /// read once.
    pub pages: DataLoader<BatchLoader, NoCache>,
}

impl Session {
    pub fn new(db: DatabaseConnection, principal: Principal) -> Self {
        let batch_loader = BatchLoader {
            db,
            principal: principal.clone(),
        };
        // The cache lives as long as the operation, which is also the principal's lifetime: rows
        // loaded for one caller, or for one operation on a long-lived socket, are never served
        // to another.
        let loader =
            DataLoader::with_cache(batch_loader.clone(), spawn_batch, HashMapCache::default())
                .delay(std::time::Duration::ZERO);
        let pages = DataLoader::with_cache(batch_loader, spawn_batch, NoCache)
            .delay(std::time::Duration::ZERO);
        Session {
            principal,
            loader,
            pages,
        }
    }
}

pub fn state<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

/// The connection the pipeline chose for this operation: the read replica for a query it may
/// serve, else the primary.
pub struct OperationDb(pub DatabaseConnection);

pub fn db<'a>(ctx: &Context<'a>) -> &'a DatabaseConnection {
    ctx.data_opt::<OperationDb>()
        .map_or(&state(ctx).db, |d| &d.0)
}

/// The signed-in session, or `UNAUTHENTICATED`.
pub fn session<'a>(ctx: &Context<'a>) -> Result<&'a Session, ApiError> {
    ctx.data_opt::<Session>().ok_or(ApiError::Unauthenticated(
        "sign in with the login mutation and send the access token",
    ))
}

pub fn principal<'a>(ctx: &Context<'a>) -> Result<&'a Principal, ApiError> {
    session(ctx).map(|s| &s.principal)
}

pub fn loader<'a>(
    ctx: &Context<'a>,
) -> Result<&'a DataLoader<BatchLoader, HashMapCache>, ApiError> {
    session(ctx).map(|s| &s.loader)
}

/// The loader of nested pages (see [`Session::pages`]).
pub fn page_loader<'a>(
    ctx: &Context<'a>,
) -> Result<&'a DataLoader<BatchLoader, NoCache>, ApiError> {
    session(ctx).map(|s| &s.pages)
}
