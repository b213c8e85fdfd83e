//! API keys: machine credentials for integrators (a nightly export, a provincial dashboard).
//!
//! A key is `cdtg_` followed by 43 characters of base64url (32 random bytes). It is shown once,
//! when created; the database keeps its SHA-256 (the secret is random, so a slow hash would add
//! nothing) and the first characters, to recognise it in a list. It is sent like a token:
//! `Authorization: Bearer cdtg_…`.
//!
//! A key acts with its own role and scope unit, on behalf of the account that created it: it
//! stops working when revoked, when it expires, when its creator is disabled, or when its unit
//! closes. Its use is noted at most once a minute (`last_used_at` and an `apiKeyUsed` audit
//! event), so a busy job costs one small write a minute.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, JoinType, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter,
};

use super::refresh::hash;
use crate::entity::{admin_unit, api_key, user};
use crate::error::{ApiError, ApiResult};
use crate::principal::{Credential, Principal, Scope};
use crate::service::audit::{self, Touched};

/// What every key starts with, so a leaked one is recognisable (secret scanners) and the server
/// can tell a key from an access token.
pub const SECRET_PREFIX: &str = "cdtg_";

/// How many characters of the secret (after the prefix) are kept to recognise a key.
const SHOWN_CHARS: usize = 8;

/// How stale `last_used_at` may get before a request refreshes it (and audits the use).
pub const LAST_USED_PRECISION_SECS: i64 = 60;

/// A new key's secret, the part of it kept in the clear, and its hash.
pub struct NewSecret {
    pub secret: String,
    pub prefix: String,
    pub hash: String,
}

pub fn generate() -> NewSecret {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let body = URL_SAFE_NO_PAD.encode(bytes);
    let secret = format!("{SECRET_PREFIX}{body}");
    NewSecret {
        prefix: body.chars().take(SHOWN_CHARS).collect(),
        hash: hash(&secret),
        secret,
    }
}

#[derive(FromQueryResult)]
struct KeyRow {
    id: i64,
    name: String,
    role: cdtg_core::policy::Role,
    scope_unit_id: i64,
    can_write: bool,
    expires_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    creator_id: i64,
    creator_name: String,
    creator_disabled: bool,
    unit_name: String,
    unit_path: String,
    unit_valid_to: Option<chrono::NaiveDate>,
}

/// The principal of a key, in one statement with its creator and scope unit.
pub async fn authenticate(db: &DatabaseConnection, secret: &str) -> ApiResult<Principal> {
    principal_where(
        db,
        Expr::col((Alias::new("k"), api_key::Column::SecretHash)).eq(hash(secret)),
    )
    .await
}

/// The principal of the key with this id, checked as [`authenticate`] checks a secret (for a
/// signed link made with the key, which carries its id, never its secret).
pub async fn principal_of_key(db: &DatabaseConnection, id: i64) -> ApiResult<Principal> {
    principal_where(db, Expr::col((Alias::new("k"), api_key::Column::Id)).eq(id)).await
}

async fn principal_where(
    db: &DatabaseConnection,
    which: sea_orm::sea_query::SimpleExpr,
) -> ApiResult<Principal> {
    let (k, u, su) = (Alias::new("k"), Alias::new("u"), Alias::new("su"));
    let stmt = Query::select()
        .expr_as(
            Expr::col((k.clone(), api_key::Column::Id)),
            Alias::new("id"),
        )
        .expr_as(
            Expr::col((k.clone(), api_key::Column::Name)),
            Alias::new("name"),
        )
        .expr_as(
            Expr::col((k.clone(), api_key::Column::Role)),
            Alias::new("role"),
        )
        .expr_as(
            Expr::col((k.clone(), api_key::Column::ScopeUnitId)),
            Alias::new("scope_unit_id"),
        )
        .expr_as(
            Expr::col((k.clone(), api_key::Column::CanWrite)),
            Alias::new("can_write"),
        )
        .expr_as(
            Expr::col((k.clone(), api_key::Column::ExpiresAt)),
            Alias::new("expires_at"),
        )
        .expr_as(
            Expr::col((k.clone(), api_key::Column::LastUsedAt)),
            Alias::new("last_used_at"),
        )
        .expr_as(
            Expr::col((k.clone(), api_key::Column::RevokedAt)),
            Alias::new("revoked_at"),
        )
        .expr_as(
            Expr::col((u.clone(), user::Column::Id)),
            Alias::new("creator_id"),
        )
        .expr_as(
            Expr::col((u.clone(), user::Column::Username)),
            Alias::new("creator_name"),
        )
        .expr_as(
            Expr::col((u.clone(), user::Column::Disabled)),
            Alias::new("creator_disabled"),
        )
        .expr_as(
            Expr::col((su.clone(), admin_unit::Column::Name)),
            Alias::new("unit_name"),
        )
        .expr_as(
            Expr::col((su.clone(), admin_unit::Column::Path)),
            Alias::new("unit_path"),
        )
        .expr_as(
            Expr::col((su.clone(), admin_unit::Column::ValidTo)),
            Alias::new("unit_valid_to"),
        )
        .expr_as(
            Expr::col((su.clone(), admin_unit::Column::ParentId))
                .is_null()
                .and(
                    Expr::expr(
                        Query::select()
                            .expr(Expr::col(admin_unit::Column::Id).count())
                            .from(admin_unit::Entity)
                            .and_where(Expr::col(admin_unit::Column::ParentId).is_null())
                            .take(),
                    )
                    .eq(1),
                ),
            Alias::new("unit_is_only_root"),
        )
        .from_as(api_key::Entity, k.clone())
        .join_as(
            JoinType::InnerJoin,
            user::Entity,
            u.clone(),
            Expr::col((u, user::Column::Id)).equals((k.clone(), api_key::Column::CreatedByUserId)),
        )
        .join_as(
            JoinType::InnerJoin,
            admin_unit::Entity,
            su.clone(),
            Expr::col((su, admin_unit::Column::Id))
                .equals((k.clone(), api_key::Column::ScopeUnitId)),
        )
        .and_where(which)
        .to_owned();
    let row = db
        .query_one(&stmt)
        .await?
        .ok_or(ApiError::Unauthenticated("unknown API key"))?;
    // SQLite answers the root test with an integer.
    let only_root = row
        .try_get::<Option<bool>>("", "unit_is_only_root")
        .or_else(|_| {
            row.try_get::<Option<i64>>("", "unit_is_only_root")
                .map(|v| v.map(|n| n != 0))
        })?;
    let key = KeyRow::from_query_result(&row, "")?;
    let now = Utc::now();
    if key.revoked_at.is_some() {
        return Err(ApiError::Unauthenticated("the API key was revoked"));
    }
    if key.expires_at <= now {
        return Err(ApiError::Unauthenticated("the API key has expired"));
    }
    if key.creator_disabled {
        return Err(ApiError::Unauthenticated(
            "the account that created the API key is disabled",
        ));
    }
    if let Some(closed) = key.unit_valid_to {
        super::held(&key.unit_name, closed, None)?;
    }
    let principal = Principal {
        user_id: key.creator_id,
        username: format!("{} (API key {})", key.creator_name, key.name),
        role: key.role,
        scope: Scope::Unit {
            unit_id: key.scope_unit_id,
            path: key.unit_path.clone(),
            whole_tree: only_root.unwrap_or(false),
        },
        member_id: None,
        request_id: None,
        denials: None,
        credential: Credential::ApiKey {
            id: key.id,
            name: key.name.clone(),
            can_write: key.can_write,
        },
        must_change_password: false,
    };
    note_use(db, &principal, key.id, key.last_used_at, &key.unit_path).await;
    Ok(principal)
}

/// Marks the key used and audits the use, at most once per [`LAST_USED_PRECISION_SECS`]. The
/// conditional update decides which of several concurrent requests writes the event. Best
/// effort: failing to note the use must not refuse the request.
async fn note_use(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
    last_used: Option<DateTime<Utc>>,
    unit_path: &str,
) {
    let now = Utc::now();
    let stale = now - Duration::seconds(LAST_USED_PRECISION_SECS);
    if last_used.is_some_and(|at| at > stale) {
        return;
    }
    let noted = api_key::Entity::update_many()
        .col_expr(api_key::Column::LastUsedAt, Expr::value(now))
        .filter(api_key::Column::Id.eq(id))
        .filter(
            sea_orm::Condition::any()
                .add(api_key::Column::LastUsedAt.is_null())
                .add(api_key::Column::LastUsedAt.lte(stale)),
        )
        .exec(db)
        .await;
    match noted {
        Ok(r) if r.rows_affected == 1 => {
            let touched = Touched::new("ApiKey", id, unit_path);
            audit::record_event(db, p, "apiKeyUsed", &touched).await;
        }
        Ok(_) => {}
        Err(e) => tracing::debug!(error = %e, "could not note the API key's use"),
    }
}

/// Whether the key still works (not revoked, not expired).
pub async fn is_live<C: ConnectionTrait>(conn: &C, id: i64) -> ApiResult<bool> {
    Ok(api_key::Entity::find_by_id(id)
        .filter(api_key::Column::RevokedAt.is_null())
        .filter(api_key::Column::ExpiresAt.gt(Utc::now()))
        .one(conn)
        .await?
        .is_some())
}
