//! Refresh tokens: 32 random bytes, handed out once and stored only as a SHA-256 hash. Each use
//! rotates the token inside its *family*, which is its session; presenting an already-used token
//! means it leaked (or a client raced itself), so the whole session ends. The single-use check is an
//! `UPDATE … WHERE used_at IS NULL`, so of two concurrent refreshes at most one wins.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, Utc};
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set,
};
use sha2::{Digest, Sha256};

use super::session::{self, EndReason};
use crate::db::write_txn;
use crate::entity::refresh_token;
use crate::error::{ApiError, ApiResult};

/// How long a refresh token lives.
pub const REFRESH_TTL_DAYS: i64 = 30;

/// Lower-case hex SHA-256: how refresh tokens and API key secrets are stored.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Stores a new token in the session `family` and returns the plain token.
pub async fn issue<C: ConnectionTrait>(conn: &C, user_id: i64, family: &str) -> ApiResult<String> {
    let token = new_token();
    let now = Utc::now();
    refresh_token::ActiveModel {
        user_id: Set(user_id),
        family_id: Set(family.to_owned()),
        token_hash: Set(hash(&token)),
        created_at: Set(now),
        expires_at: Set(now + Duration::days(REFRESH_TTL_DAYS)),
        used_at: Set(None),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(token)
}

/// A refresh token that was exchanged: whose it is, its session, and the token that replaces it.
pub struct Rotated {
    pub user_id: i64,
    pub session_id: String,
    pub next: String,
}

/// Consumes a refresh token: returns its user, its session and a new token of the same session.
/// A token whose session ended (sign-out, password change, disabled account) no longer works.
pub async fn rotate(db: &DatabaseConnection, token: &str) -> ApiResult<Rotated> {
    let invalid = ApiError::Unauthenticated("invalid refresh token");
    let Some(row) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash(token)))
        .one(db)
        .await?
    else {
        return Err(invalid);
    };
    let now = Utc::now();
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Err(invalid);
    }
    if !session::is_live(db, &row.family_id).await? {
        return Err(ApiError::Unauthenticated(
            "the session has ended; sign in again",
        ));
    }
    let txn = write_txn(db).await?;
    let claimed = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(row.id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        // Reuse of a rotated token: treat the session as stolen.
        drop(txn);
        session::end(db, row.user_id, &row.family_id, EndReason::RefreshReuse).await?;
        tracing::warn!(user_id = row.user_id, "refresh token reused; session ended");
        return Err(invalid);
    }
    let next = issue(&txn, row.user_id, &row.family_id).await?;
    session::extend(&txn, &row.family_id).await?;
    txn.commit().await?;
    Ok(Rotated {
        user_id: row.user_id,
        session_id: row.family_id,
        next,
    })
}

/// The session a refresh token belongs to, with its user, if the token is known.
pub async fn session_of(db: &DatabaseConnection, token: &str) -> ApiResult<Option<(i64, String)>> {
    Ok(refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash(token)))
        .one(db)
        .await?
        .map(|r| (r.user_id, r.family_id)))
}
