//! Refresh tokens: 32 random bytes, handed out once and stored only as a SHA-256 hash. Each use
//! rotates the token inside its *family*; presenting an already-used token means it leaked (or a
//! client raced itself), so the whole family is revoked. The single-use check is an
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

use crate::db::write_txn;
use crate::entity::refresh_token;
use crate::error::{ApiError, ApiResult};

/// How long a refresh token lives.
pub const REFRESH_TTL_DAYS: i64 = 30;

fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Stores a new token in `family` (a new family when `None`) and returns the plain token.
pub async fn issue<C: ConnectionTrait>(
    conn: &C,
    user_id: i64,
    family: Option<String>,
) -> ApiResult<String> {
    let token = new_token();
    let now = Utc::now();
    refresh_token::ActiveModel {
        user_id: Set(user_id),
        family_id: Set(family.unwrap_or_else(|| uuid::Uuid::new_v4().to_string())),
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

/// Consumes a refresh token: returns its user and a new token of the same family.
pub async fn rotate(db: &DatabaseConnection, token: &str) -> ApiResult<(i64, String)> {
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
    let txn = write_txn(db).await?;
    let claimed = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(row.id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        // Reuse of a rotated token: treat the family as stolen.
        drop(txn);
        revoke_family(db, &row.family_id).await?;
        tracing::warn!(
            user_id = row.user_id,
            "refresh token reused; family revoked"
        );
        return Err(invalid);
    }
    let next = issue(&txn, row.user_id, Some(row.family_id.clone())).await?;
    txn.commit().await?;
    Ok((row.user_id, next))
}

pub async fn revoke_family<C: ConnectionTrait>(conn: &C, family_id: &str) -> ApiResult<()> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::FamilyId.eq(family_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// `logout`: revokes the family of the presented token, if it is the caller's.
pub async fn revoke_by_token(
    db: &DatabaseConnection,
    user_id: i64,
    token: &str,
) -> ApiResult<bool> {
    let row = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash(token)))
        .one(db)
        .await?;
    match row {
        Some(r) if r.user_id == user_id => {
            revoke_family(db, &r.family_id).await?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Disabling a user ends every session they have.
pub async fn revoke_all_for_user<C: ConnectionTrait>(conn: &C, user_id: i64) -> ApiResult<()> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}
