//! Authentication: who the caller is. Passwords (argon2id), access tokens (JWT with a pinned
//! algorithm and key ids for rotation), refresh tokens (opaque, hashed, rotated, families revoked
//! on reuse), login throttling, and turning a verified token into a [`Principal`].

pub mod jwt;
pub mod password;
pub mod refresh;
pub mod throttle;

use sea_orm::{DatabaseConnection, EntityTrait};

use crate::entity::{admin_unit, group, user};
use crate::error::{ApiError, ApiResult};
use crate::principal::{Principal, Scope};
use cdtg_core::policy::Role;

/// Builds the principal for a user row (for login, and for every request from its token's
/// subject). Disabled users have no principal: their unexpired tokens stop working at once.
pub async fn principal_for(db: &DatabaseConnection, u: &user::Model) -> ApiResult<Principal> {
    if u.disabled {
        return Err(ApiError::Unauthenticated("the account is disabled"));
    }
    let role = Role::parse(&u.role)
        .ok_or_else(|| ApiError::Internal(format!("user {} has unknown role", u.id)))?;
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
            Scope::Unit {
                unit_id: unit.id,
                path: unit.path,
            }
        };
    Ok(Principal {
        user_id: u.id,
        username: u.username.clone(),
        role,
        scope,
        member_id: u.member_id,
        request_id: None,
    })
}

/// Verifies an access token and loads its user: the request's principal.
pub async fn authenticate(
    db: &DatabaseConnection,
    keys: &jwt::JwtKeys,
    token: &str,
) -> ApiResult<Principal> {
    let claims = keys.verify_access(token)?;
    let user_id: i64 = claims
        .sub
        .parse()
        .map_err(|_| ApiError::Unauthenticated("invalid token"))?;
    let u = user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or(ApiError::Unauthenticated("invalid token"))?;
    let p = principal_for(db, &u).await?;
    // The role in the token must still be the user's role; a changed role needs a new login.
    if claims.role != p.role.as_str() {
        return Err(ApiError::Unauthenticated(
            "the account changed; sign in again",
        ));
    }
    Ok(p)
}
