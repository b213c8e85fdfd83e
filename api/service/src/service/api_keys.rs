//! API keys for integrators: `createApiKey`, `apiKeys`, `revokeApiKey`.
//!
//! A key's role is at most its creator's (`cdtg_core::policy::can_delegate`), always
//! unit-scoped, and its unit lies in the creator's scope. Keys are listed and revoked by the
//! administrators whose scope holds the key's unit. Keys cannot make keys.

use cdtg_core::policy::{self, Action, Role};
use cdtg_core::validate;
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
};

use super::audit::{self, Touched};
use super::scope;
use crate::auth::api_key;
use crate::db::write_txn;
use crate::entity::{admin_unit, api_key as key_row};
use crate::error::{ApiError, ApiResult};
use crate::principal::Principal;

/// A key without `expiresAt` lives this long.
pub const DEFAULT_LIFETIME_DAYS: i64 = 365;
/// The longest lifetime a key may be given.
pub const MAX_LIFETIME_DAYS: i64 = 2 * 365;

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: String,
    pub role: Role,
    /// Defaults to the creator's own unit.
    pub scope_unit_id: Option<i64>,
    pub expires_at: Option<DateTime<Utc>>,
    pub can_write: bool,
}

fn person_only(p: &Principal) -> ApiResult<()> {
    scope::refuse_api_key(p, "manage API keys")
}

/// Creates a key; returns it with its secret, which is never shown again.
pub async fn create(
    db: &DatabaseConnection,
    p: &Principal,
    input: NewApiKey,
) -> ApiResult<(key_row::Model, String)> {
    let checked = person_only(p)
        .and_then(|()| scope::require(p, Action::ManageUsers))
        .and_then(|()| {
            if !p.is_system() && !policy::can_delegate(p.role, input.role) {
                return Err(ApiError::forbidden(format!(
                    "a {} may not create keys acting as {}",
                    p.role.as_str(),
                    input.role.as_str()
                )));
            }
            if input.role.is_group_scoped() {
                return Err(ApiError::bad_input(
                    "role",
                    "an API key acts for a unit; group roles are for people",
                ));
            }
            Ok(validate::required_text("name", &input.name, 100)?)
        })
        .and_then(|name| {
            let now = Utc::now();
            let expires = input
                .expires_at
                .unwrap_or(now + Duration::days(DEFAULT_LIFETIME_DAYS));
            if expires <= now {
                return Err(ApiError::bad_input("expiresAt", "must be in the future"));
            }
            if expires > now + Duration::days(MAX_LIFETIME_DAYS) {
                return Err(ApiError::bad_input(
                    "expiresAt",
                    format!("must be within {MAX_LIFETIME_DAYS} days"),
                ));
            }
            Ok((name, expires))
        });
    let (name, expires_at) = match checked {
        Ok(v) => v,
        Err(err) => {
            audit::record_failure(db, p, "createApiKey", &err).await;
            return Err(err);
        }
    };
    let secret = api_key::generate();
    let txn = write_txn(db).await?;
    let outcome = async {
        let unit_id = match (input.scope_unit_id, &p.scope) {
            (Some(id), _) => id,
            (None, crate::principal::Scope::Unit { unit_id, .. }) => *unit_id,
            (None, _) => {
                return Err(ApiError::bad_input("scopeUnitId", "is required"));
            }
        };
        let unit = admin_unit::Entity::find_by_id(unit_id)
            .one(&txn)
            .await?
            .filter(|u| scope::unit_in_scope(p, &u.path))
            .ok_or_else(|| ApiError::bad_input("scopeUnitId", "no such unit"))?;
        if let Some(to) = unit.valid_to {
            return Err(ApiError::bad_input(
                "scopeUnitId",
                format!("{} was closed on {to}", unit.name),
            ));
        }
        let model = key_row::ActiveModel {
            name: Set(name),
            prefix: Set(secret.prefix.clone()),
            secret_hash: Set(secret.hash.clone()),
            role: Set(input.role),
            scope_unit_id: Set(unit.id),
            can_write: Set(input.can_write),
            created_by_user_id: Set(p.user_id),
            created_at: Set(Utc::now()),
            expires_at: Set(expires_at),
            last_used_at: Set(None),
            revoked_at: Set(None),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let detail = format!(
            "{} for {}, {}, expires {}",
            model.role.as_str(),
            unit.name,
            if model.can_write {
                "read-write"
            } else {
                "read-only"
            },
            model.expires_at.format("%Y-%m-%d")
        );
        Ok((
            model.clone(),
            Touched::new("ApiKey", model.id, unit.path).with_detail(detail),
        ))
    }
    .await;
    let model = audit::conclude(db, txn, p, "createApiKey", outcome).await?;
    Ok((model, secret.secret))
}

/// The condition for keys the caller administers: their unit lies in the caller's scope.
fn visible(p: &Principal) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(key_row::Column::ScopeUnitId.in_subquery(scope::units_in_scope(p)))
}

/// Keys whose unit lies in the caller's scope, newest first; revoked and expired ones only when
/// asked for.
pub async fn list(
    db: &DatabaseConnection,
    p: &Principal,
    include_ended: bool,
) -> ApiResult<Vec<key_row::Model>> {
    if let Err(err) = person_only(p).and_then(|()| scope::require(p, Action::ManageUsers)) {
        audit::record_failure(db, p, "apiKeys", &err).await;
        return Err(err);
    }
    let mut q = key_row::Entity::find().filter(visible(p));
    if !include_ended {
        q = q
            .filter(key_row::Column::RevokedAt.is_null())
            .filter(key_row::Column::ExpiresAt.gt(Utc::now()));
    }
    Ok(q.order_by_desc(key_row::Column::Id).all(db).await?)
}

/// Revokes a key at once (requests with it are refused from the next one; open sockets close
/// within a second). Revoking a revoked key changes nothing and returns it.
pub async fn revoke(db: &DatabaseConnection, p: &Principal, id: i64) -> ApiResult<key_row::Model> {
    if let Err(err) = person_only(p).and_then(|()| scope::require(p, Action::ManageUsers)) {
        audit::record_failure(db, p, "revokeApiKey", &err).await;
        return Err(err);
    }
    let txn = write_txn(db).await?;
    let outcome = async {
        let key = key_row::Entity::find_by_id(id)
            .filter(visible(p))
            .one(&txn)
            .await?
            .ok_or(ApiError::NotFound("API key"))?;
        let path = admin_unit::Entity::find_by_id(key.scope_unit_id)
            .one(&txn)
            .await?
            .map(|u| u.path)
            .unwrap_or_default();
        if key.revoked_at.is_none() {
            key_row::Entity::update_many()
                .col_expr(key_row::Column::RevokedAt, Expr::value(Utc::now()))
                .filter(key_row::Column::Id.eq(id))
                .exec(&txn)
                .await?;
            crate::auth::cache::accounts_changed();
        }
        let model = key_row::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or(ApiError::NotFound("API key"))?;
        Ok((
            model.clone(),
            Touched::new("ApiKey", model.id, path).with_detail(model.name.clone()),
        ))
    }
    .await;
    audit::conclude(db, txn, p, "revokeApiKey", outcome).await
}

/// One key, if the caller administers it (`node`).
pub async fn get(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
) -> ApiResult<Option<key_row::Model>> {
    if person_only(p)
        .and_then(|()| scope::require(p, Action::ManageUsers))
        .is_err()
    {
        return Ok(None);
    }
    Ok(key_row::Entity::find_by_id(id)
        .filter(visible(p))
        .one(db)
        .await?)
}
