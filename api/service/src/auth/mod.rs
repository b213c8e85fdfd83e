//! Authentication: who the caller is. Passwords (argon2id), access tokens (JWT with a pinned
//! algorithm and key ids for rotation) bound to a session that can end, refresh tokens (opaque,
//! hashed, rotated, the session ended on reuse), API keys for integrators, login throttling, and
//! turning a verified credential into a [`Principal`].

pub mod api_key;
pub mod cache;
pub mod jwt;
pub mod password;
pub mod refresh;
pub mod session;
pub mod shared_throttle;
pub mod throttle;

use sea_orm::{DatabaseConnection, EntityTrait};

use crate::entity::session as session_row;
use crate::entity::{admin_unit, group, user};
use crate::error::{ApiError, ApiResult};
use crate::principal::{Credential, Principal, Scope};

/// Builds the principal for a user row signing in with `credential` (at login and refresh, and
/// to re-check a long-running subscription). Disabled users have no principal.
pub async fn principal_for(
    db: &DatabaseConnection,
    u: &user::Model,
    credential: Credential,
) -> ApiResult<Principal> {
    if u.disabled {
        return Err(ApiError::Unauthenticated("the account is disabled"));
    }
    let role = u.role;
    let scope =
        if role.is_group_scoped() {
            let gid = u
                .scope_group_id
                .ok_or_else(|| ApiError::Internal(format!("user {} lacks a group", u.id)))?;
            let g =
                group::Entity::find_by_id(gid)
                    .one(db)
                    .await?
                    .ok_or(ApiError::Unauthenticated(
                        "the account's group no longer exists",
                    ))?;
            Scope::Group {
                group_id: g.id,
                unit_path: g.unit_path,
            }
        } else {
            let uid = u
                .scope_unit_id
                .ok_or_else(|| ApiError::Internal(format!("user {} lacks a unit", u.id)))?;
            let unit = admin_unit::Entity::find_by_id(uid).one(db).await?.ok_or(
                ApiError::Unauthenticated("the account's unit no longer exists"),
            )?;
            if let Some(closed) = unit.valid_to {
                let successor = match unit.merged_into_id {
                    Some(id) => admin_unit::Entity::find_by_id(id)
                        .one(db)
                        .await?
                        .map(|s| s.name),
                    None => None,
                };
                held(&unit.name, closed, successor.as_deref())?;
            }
            // Not worked out at sign-in: the filters it saves are per request (authenticate).
            Scope::Unit {
                unit_id: unit.id,
                path: unit.path,
                whole_tree: false,
            }
        };
    Ok(Principal {
        user_id: u.id,
        username: u.username.clone(),
        role,
        scope,
        member_id: u.member_id,
        request_id: None,
        denials: None,
        credential,
        must_change_password: u.must_change_password,
    })
}

/// Refuses an account whose scope unit closed before today (Vietnam): it is held, not moved to
/// the (larger) successor, until an administrator reassigns it.
pub(crate) fn held(
    unit: &str,
    closed: chrono::NaiveDate,
    successor: Option<&str>,
) -> ApiResult<()> {
    if closed >= cdtg_core::time::vietnam_date(chrono::Utc::now()) {
        return Ok(());
    }
    let became = successor
        .map(|s| format!(", merged into {s}"))
        .unwrap_or_default();
    Err(ApiError::forbidden(format!(
        "the account is held: its unit {unit} closed on {closed}{became}; an administrator must reassign it"
    )))
}

/// Verifies a bearer credential — an access token, or an API key (`cdtg_…`) — and loads the
/// request's principal.
///
/// For an access token it is one statement: the user, the path of their scope and the token's
/// session, so the disabled flag and the session's end are read fresh on every request.
pub async fn authenticate(
    db: &DatabaseConnection,
    keys: &jwt::JwtKeys,
    token: &str,
) -> ApiResult<Principal> {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, JoinType, Query};
    use sea_orm::{ConnectionTrait, FromQueryResult};

    if token.starts_with(api_key::SECRET_PREFIX) {
        return api_key::authenticate(db, token).await;
    }
    let claims = keys.verify_access(token)?;
    let invalid = ApiError::Unauthenticated("invalid token");
    let user_id: i64 = claims.sub.parse().map_err(|_| invalid.clone())?;
    let (su, sg, sm, ss) = (
        Alias::new("su"),
        Alias::new("sg"),
        Alias::new("sm"),
        Alias::new("ss"),
    );
    let stmt = Query::select()
        .columns([
            (user::Entity, user::Column::Id),
            (user::Entity, user::Column::Username),
            (user::Entity, user::Column::PasswordHash),
            (user::Entity, user::Column::Role),
            (user::Entity, user::Column::ScopeUnitId),
            (user::Entity, user::Column::ScopeGroupId),
            (user::Entity, user::Column::MemberId),
            (user::Entity, user::Column::Disabled),
            (user::Entity, user::Column::CreatedAt),
            (user::Entity, user::Column::UpdatedAt),
            (user::Entity, user::Column::DisplayName),
            (user::Entity, user::Column::SearchKey),
            (user::Entity, user::Column::MustChangePassword),
            (user::Entity, user::Column::OneTimePasswordUsedAt),
        ])
        .expr_as(
            Expr::col((ss.clone(), session_row::Column::Id)),
            Alias::new("session_id"),
        )
        .expr_as(
            Expr::col((ss.clone(), session_row::Column::RevokedAt)),
            Alias::new("session_revoked_at"),
        )
        .expr_as(
            Expr::col((ss.clone(), session_row::Column::ExpiresAt)),
            Alias::new("session_expires_at"),
        )
        .expr_as(
            Expr::col((ss.clone(), session_row::Column::LastUsedAt)),
            Alias::new("session_last_used_at"),
        )
        .expr_as(
            Expr::col((su.clone(), admin_unit::Column::Path)),
            Alias::new("scope_unit_path"),
        )
        .expr_as(
            Expr::col((sg.clone(), group::Column::UnitPath)),
            Alias::new("scope_group_path"),
        )
        .expr_as(
            Expr::col((su.clone(), admin_unit::Column::ValidTo)),
            Alias::new("scope_valid_to"),
        )
        .expr_as(
            Expr::col((su.clone(), admin_unit::Column::Name)),
            Alias::new("scope_unit_name"),
        )
        .expr_as(
            Expr::col((sm.clone(), admin_unit::Column::Name)),
            Alias::new("scope_successor_name"),
        )
        // Whether the scope unit is the one and only root (then the scope is every row).
        .expr_as(
            Expr::col((su.clone(), admin_unit::Column::Id))
                .is_not_null()
                .and(Expr::col((su.clone(), admin_unit::Column::ParentId)).is_null())
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
            Alias::new("scope_is_only_root"),
        )
        .from(user::Entity)
        .join_as(
            JoinType::LeftJoin,
            admin_unit::Entity,
            su.clone(),
            Expr::col((su.clone(), admin_unit::Column::Id))
                .equals((user::Entity, user::Column::ScopeUnitId)),
        )
        .join_as(
            JoinType::LeftJoin,
            admin_unit::Entity,
            sm.clone(),
            Expr::col((sm, admin_unit::Column::Id))
                .equals((su.clone(), admin_unit::Column::MergedIntoId)),
        )
        .join_as(
            JoinType::LeftJoin,
            session_row::Entity,
            ss.clone(),
            Expr::col((ss.clone(), session_row::Column::Id))
                .eq(claims.sid.as_str())
                .and(
                    Expr::col((ss, session_row::Column::UserId))
                        .equals((user::Entity, user::Column::Id)),
                ),
        )
        .join_as(
            JoinType::LeftJoin,
            group::Entity,
            sg.clone(),
            Expr::col((sg, group::Column::Id)).equals((user::Entity, user::Column::ScopeGroupId)),
        )
        .and_where(Expr::col((user::Entity, user::Column::Id)).eq(user_id))
        .to_owned();
    let row = db.query_one(&stmt).await?.ok_or(invalid.clone())?;
    let u = user::Model::from_query_result(&row, "")?;
    let unit_path: Option<String> = row.try_get("", "scope_unit_path")?;
    let group_path: Option<String> = row.try_get("", "scope_group_path")?;
    // A boolean on PostgreSQL, an integer on SQLite; NULL without a scope unit.
    let unit_is_only_root = row
        .try_get::<Option<bool>>("", "scope_is_only_root")
        .or_else(|_| {
            row.try_get::<Option<i64>>("", "scope_is_only_root")
                .map(|v| v.map(|n| n != 0))
        })?
        .unwrap_or(false);
    if u.disabled {
        return Err(ApiError::Unauthenticated("the account is disabled"));
    }
    let session_id: Option<String> = row.try_get("", "session_id")?;
    let revoked_at: Option<chrono::DateTime<chrono::Utc>> =
        row.try_get("", "session_revoked_at")?;
    let expires_at: Option<chrono::DateTime<chrono::Utc>> =
        row.try_get("", "session_expires_at")?;
    let last_used: Option<chrono::DateTime<chrono::Utc>> =
        row.try_get("", "session_last_used_at")?;
    let live = session_id.is_some()
        && revoked_at.is_none()
        && expires_at.is_some_and(|at| at > chrono::Utc::now());
    if !live {
        return Err(ApiError::Unauthenticated(
            "the session has ended; sign in again",
        ));
    }
    let scope_valid_to: Option<chrono::NaiveDate> = row.try_get("", "scope_valid_to")?;
    if let Some(closed) = scope_valid_to {
        let name: Option<String> = row.try_get("", "scope_unit_name")?;
        let successor: Option<String> = row.try_get("", "scope_successor_name")?;
        held(
            name.as_deref().unwrap_or_default(),
            closed,
            successor.as_deref(),
        )?;
    }
    let role = u.role;
    // The role in the token must still be the user's role; a changed role needs a new login.
    if claims.role != role.as_str() {
        return Err(ApiError::Unauthenticated(
            "the account changed; sign in again",
        ));
    }
    let scope = match (
        role.is_group_scoped(),
        u.scope_group_id,
        group_path,
        u.scope_unit_id,
        unit_path,
    ) {
        (true, Some(group_id), Some(unit_path), _, _) => Scope::Group {
            group_id,
            unit_path,
        },
        (false, _, _, Some(unit_id), Some(path)) => Scope::Unit {
            unit_id,
            whole_tree: unit_is_only_root,
            path,
        },
        _ => {
            return Err(ApiError::Unauthenticated(
                "the account's scope no longer exists",
            ));
        }
    };
    if let Some(last_used) = last_used {
        session::touch(db, &claims.sid, last_used).await;
    }
    Ok(Principal {
        user_id: u.id,
        username: u.username,
        role,
        scope,
        member_id: u.member_id,
        request_id: None,
        denials: None,
        credential: Credential::Session { id: claims.sid },
        must_change_password: u.must_change_password,
    })
}

/// Whether a principal's credential and account still hold: for a subscription that runs long
/// after its operation was authenticated. Any doubt (the database failing) answers no.
pub async fn still_valid(db: &DatabaseConnection, p: &Principal) -> bool {
    let account = match crate::service::users::get(db, p.user_id).await {
        Ok(Some(u)) => u,
        _ => return false,
    };
    if principal_for(db, &account, p.credential.clone())
        .await
        .is_err()
    {
        return false;
    }
    match &p.credential {
        Credential::System => true,
        Credential::Session { id } => session::is_live(db, id).await.unwrap_or(false),
        Credential::ApiKey { id, .. } => api_key::is_live(db, *id).await.unwrap_or(false),
    }
}
