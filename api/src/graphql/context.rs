//! What resolvers get from the request: the database, the application state, and — when the
//! request carried a valid token — the principal and its per-request DataLoader.

use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, HashMapCache};
use sea_orm::DatabaseConnection;

use super::loaders::BatchLoader;
use crate::error::ApiError;
use crate::principal::Principal;
use crate::state::AppState;

/// How long a loader collects keys before it queries. async-graphql resolves long lists in rounds
/// of 32 items, yielding between rounds; the window must outlast those rounds, or one level of a
/// nested query splits into several statements.
const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_millis(2);

/// Per-request data, inserted by the HTTP layer.
pub struct Session {
    pub principal: Principal,
    pub loader: DataLoader<BatchLoader, HashMapCache>,
}

impl Session {
    pub fn new(db: DatabaseConnection, principal: Principal) -> Self {
        // The cache lives as long as the request, which is also the principal's lifetime: rows
        // loaded for one caller are never served to another.
        let loader = DataLoader::with_cache(
            BatchLoader {
                db,
                principal: principal.clone(),
            },
            tokio::spawn,
            HashMapCache::default(),
        )
        .delay(BATCH_WINDOW);
        Session { principal, loader }
    }
}

pub fn state<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

pub fn db<'a>(ctx: &Context<'a>) -> &'a DatabaseConnection {
    &state(ctx).db
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
