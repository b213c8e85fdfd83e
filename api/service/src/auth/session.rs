//! Sessions: one row per signed-in device. The access token names its session (`sid`), and
//! [`super::authenticate`] refuses a token whose session has ended, so signing out, changing or
//! resetting the password and disabling the account take effect on the next request (and on
//! open sockets within a second, see `sockets`). A re-enabled account's old tokens stay dead:
//! disabling ended their sessions, and nothing revives a session.
//!
//! `last_used_at` is written at most once a minute per session, so a busy client costs one
//! small write a minute, not one per request.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::entity::{refresh_token, session};
use crate::error::ApiResult;

/// How stale `last_used_at` may get before a request refreshes it.
pub const LAST_USED_PRECISION_SECS: i64 = 60;

/// The longest device description kept.
const MAX_DEVICE_CHARS: usize = 200;

/// Why a session ended, as stored in `revoked_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Logout,
    Revoked,
    PasswordChanged,
    PasswordReset,
    Disabled,
    AccountChanged,
    RefreshReuse,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Logout => "logout",
            EndReason::Revoked => "revoked",
            EndReason::PasswordChanged => "password_changed",
            EndReason::PasswordReset => "password_reset",
            EndReason::Disabled => "disabled",
            EndReason::AccountChanged => "account_changed",
            EndReason::RefreshReuse => "refresh_reuse",
        }
    }
}

/// Opens a session for `user_id` and returns its id.
pub async fn start<C: ConnectionTrait>(
    conn: &C,
    user_id: i64,
    device: Option<&str>,
    address: Option<&str>,
) -> ApiResult<String> {
    let id = uuid::Uuid::new_v4().to_string();
    let now = Utc::now();
    let device = device
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.chars().take(MAX_DEVICE_CHARS).collect::<String>());
    session::ActiveModel {
        id: Set(id.clone()),
        user_id: Set(user_id),
        device: Set(device),
        address: Set(address.map(|a| a.chars().take(64).collect())),
        created_at: Set(now),
        last_used_at: Set(now),
        expires_at: Set(now + Duration::days(super::refresh::REFRESH_TTL_DAYS)),
        revoked_at: Set(None),
        revoked_reason: Set(None),
    }
    .insert(conn)
    .await?;
    Ok(id)
}

/// Whether the session is live (exists, not ended, not expired).
pub async fn is_live<C: ConnectionTrait>(conn: &C, id: &str) -> ApiResult<bool> {
    Ok(session::Entity::find_by_id(id.to_owned())
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(Utc::now()))
        .one(conn)
        .await?
        .is_some())
}

/// A refresh extends the session to the new refresh token's lifetime and marks it used.
pub async fn extend<C: ConnectionTrait>(conn: &C, id: &str) -> ApiResult<()> {
    let now = Utc::now();
    session::Entity::update_many()
        .col_expr(session::Column::LastUsedAt, Expr::value(now))
        .col_expr(
            session::Column::ExpiresAt,
            Expr::value(now + Duration::days(super::refresh::REFRESH_TTL_DAYS)),
        )
        .filter(session::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Notes a request on the session if `last_used` is older than the precision. Best effort: a
/// failed write only leaves the time staler.
pub async fn touch<C: ConnectionTrait>(conn: &C, id: &str, last_used: DateTime<Utc>) {
    let now = Utc::now();
    if now - last_used < Duration::seconds(LAST_USED_PRECISION_SECS) {
        return;
    }
    let result = session::Entity::update_many()
        .col_expr(session::Column::LastUsedAt, Expr::value(now))
        .filter(session::Column::Id.eq(id))
        .filter(session::Column::LastUsedAt.lt(now - Duration::seconds(LAST_USED_PRECISION_SECS)))
        .exec(conn)
        .await;
    if let Err(e) = result {
        tracing::debug!(error = %e, "could not note the session's last use");
    }
}

/// Ends one session of `user_id` and its refresh tokens; false when there was no such live
/// session.
pub async fn end<C: ConnectionTrait>(
    conn: &C,
    user_id: i64,
    id: &str,
    reason: EndReason,
) -> ApiResult<bool> {
    let now = Utc::now();
    let ended = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(now))
        .col_expr(session::Column::RevokedReason, Expr::value(reason.as_str()))
        .filter(session::Column::Id.eq(id))
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::FamilyId.eq(id))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    super::cache::accounts_changed();
    Ok(ended.rows_affected > 0)
}

/// Ends every session of `user_id` except `keep` (the caller's own, after a password change);
/// returns how many ended.
pub async fn end_all<C: ConnectionTrait>(
    conn: &C,
    user_id: i64,
    keep: Option<&str>,
    reason: EndReason,
) -> ApiResult<u64> {
    let now = Utc::now();
    let mut sessions = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(now))
        .col_expr(session::Column::RevokedReason, Expr::value(reason.as_str()))
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null());
    let mut tokens = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null());
    if let Some(keep) = keep {
        sessions = sessions.filter(session::Column::Id.ne(keep));
        tokens = tokens.filter(refresh_token::Column::FamilyId.ne(keep));
    }
    let ended = sessions.exec(conn).await?;
    tokens.exec(conn).await?;
    super::cache::accounts_changed();
    Ok(ended.rows_affected)
}

/// The live sessions of `user_id`, most recently used first.
pub async fn list_live<C: ConnectionTrait>(
    conn: &C,
    user_id: i64,
) -> ApiResult<Vec<session::Model>> {
    Ok(session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(Utc::now()))
        .order_by_desc(session::Column::LastUsedAt)
        .order_by_desc(session::Column::CreatedAt)
        .all(conn)
        .await?)
}
