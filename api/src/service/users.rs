//! Accounts and sessions: `login`, `refreshToken`, `logout`, `createUser`, `setUserDisabled`.
//! Nobody grants a role above (or equal to) their own, nor a scope outside their own.

use cdtg_core::policy::{self, Action, Role};
use cdtg_core::validate;
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, Set,
};

use super::audit::{self, Touched};
use super::scope;
use crate::auth::{self, jwt::JwtKeys, password, refresh, throttle::LoginThrottle};
use crate::db::write_txn;
use crate::entity::{admin_unit, group, member, user};
use crate::error::{ApiError, ApiResult, is_unique_violation};
use crate::principal::{Principal, Scope};

/// What a successful `login` or `refreshToken` returns.
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    /// Expiry of the access token, unix seconds.
    pub expires_at: i64,
    pub user: user::Model,
}

async fn session_for(
    db: &DatabaseConnection,
    keys: &JwtKeys,
    u: user::Model,
    refresh_token: String,
) -> ApiResult<Session> {
    let p = auth::principal_for(db, &u).await?;
    let (access_token, expires_at) = keys.issue_access(&p)?;
    Ok(Session {
        access_token,
        refresh_token,
        expires_at,
        user: u,
    })
}

pub async fn login(
    db: &DatabaseConnection,
    keys: &JwtKeys,
    throttle: &LoginThrottle,
    username: &str,
    password_text: &str,
    address: &str,
) -> ApiResult<Session> {
    let name = username.trim().to_lowercase();
    if let Err(retry_after_secs) = throttle.check(&name, address) {
        return Err(ApiError::RateLimited { retry_after_secs });
    }
    let found = user::Entity::find()
        .filter(user::Column::Username.eq(name.as_str()))
        .one(db)
        .await?;
    // Always one argon2 verification, whether or not the user exists; off the async executor.
    let ok = password::verify_off_executor(
        password_text.to_owned(),
        found.as_ref().map(|u| u.password_hash.clone()),
    )
    .await?;
    match found {
        Some(u) if ok && !u.disabled => {
            throttle.record_success(&name);
            let token = refresh::issue(db, u.id, None).await?;
            session_for(db, keys, u, token).await
        }
        _ => {
            throttle.record_failure(&name, address);
            Err(ApiError::Unauthenticated("wrong username or password"))
        }
    }
}

pub async fn refresh(db: &DatabaseConnection, keys: &JwtKeys, token: &str) -> ApiResult<Session> {
    let (user_id, next) = refresh::rotate(db, token).await?;
    let u = user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or(ApiError::Unauthenticated("invalid refresh token"))?;
    if u.disabled {
        refresh::revoke_all_for_user(db, u.id).await?;
        return Err(ApiError::Unauthenticated("the account is disabled"));
    }
    session_for(db, keys, u, next).await
}

pub async fn get(db: &DatabaseConnection, id: i64) -> ApiResult<Option<user::Model>> {
    Ok(user::Entity::find_by_id(id).one(db).await?)
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub role: Role,
    pub scope_unit_id: Option<i64>,
    pub scope_group_id: Option<i64>,
    pub member_id: Option<i64>,
}

pub async fn create(
    db: &DatabaseConnection,
    p: &Principal,
    input: NewUser,
) -> ApiResult<user::Model> {
    audit::authorize(db, p, Action::ManageUsers, "createUser").await?;
    // Validated and hashed before the transaction opens: argon2 runs on the blocking pool for
    // tens of milliseconds, and on SQLite an open write transaction holds the only writer.
    let checked = validate::login_name("username", &input.username)
        .and_then(|name| validate::password("password", &input.password).map(|()| name));
    let checked = checked.map_err(ApiError::from).and_then(|name| {
        if !p.is_system() && !policy::can_grant(p.role, input.role) {
            return Err(ApiError::forbidden(format!(
                "a {} may not create {} accounts",
                p.role.as_str(),
                input.role.as_str()
            )));
        }
        Ok(name)
    });
    let username = match checked {
        Ok(name) => name,
        Err(err) => {
            audit::record_failure(db, p, "createUser", &err).await;
            return Err(err);
        }
    };
    let password_hash = password::hash_off_executor(input.password.clone()).await?;
    let txn = write_txn(db).await?;
    let outcome = create_in(&txn, p, input, username, password_hash).await;
    audit::conclude(db, txn, p, "createUser", outcome).await
}

async fn create_in(
    txn: &DatabaseTransaction,
    p: &Principal,
    input: NewUser,
    username: String,
    password_hash: String,
) -> ApiResult<(user::Model, Touched)> {
    let (unit_id, group_id, unit_path) = if input.role.is_group_scoped() {
        let gid = input
            .scope_group_id
            .ok_or_else(|| ApiError::bad_input("scopeGroupId", "is required for group roles"))?;
        // Groups are not public: one outside the caller's scope is reported as missing.
        let g = group::Entity::find_by_id(gid)
            .one(txn)
            .await?
            .filter(|g| scope::unit_in_scope(p, &g.unit_path))
            .ok_or_else(|| ApiError::bad_input("scopeGroupId", "no such group"))?;
        if let Some(mid) = input.member_id
            && !super::is_current_member(txn, gid, mid).await?
        {
            return Err(ApiError::bad_input(
                "memberId",
                "must be a current member of the group",
            ));
        }
        (None, Some(g.id), g.unit_path)
    } else {
        let uid = input
            .scope_unit_id
            .ok_or_else(|| ApiError::bad_input("scopeUnitId", "is required for unit roles"))?;
        let u = admin_unit::Entity::find_by_id(uid)
            .one(txn)
            .await?
            .ok_or_else(|| ApiError::bad_input("scopeUnitId", "no such unit"))?;
        if !scope::unit_in_scope(p, &u.path) {
            return Err(ApiError::forbidden("the unit is outside your scope"));
        }
        if let Some(to) = u.valid_to {
            return Err(ApiError::bad_input(
                "scopeUnitId",
                format!("{} was closed on {to}", u.name),
            ));
        }
        // A member outside the caller's scope is reported exactly like a missing one.
        if let Some(mid) = input.member_id
            && member::Entity::find_by_id(mid)
                .filter(scope::members(p))
                .one(txn)
                .await?
                .is_none()
        {
            return Err(ApiError::bad_input("memberId", "no such member"));
        }
        (Some(u.id), None, u.path)
    };
    let now = Utc::now();
    let inserted = user::ActiveModel {
        username: Set(username),
        password_hash: Set(password_hash),
        role: Set(input.role),
        scope_unit_id: Set(unit_id),
        scope_group_id: Set(group_id),
        member_id: Set(input.member_id),
        disabled: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await;
    let model = match inserted {
        Ok(m) => m,
        Err(e) if is_unique_violation(&e) => {
            return Err(ApiError::Conflict("the username is taken".to_owned()));
        }
        Err(e) => return Err(e.into()),
    };
    Ok((model.clone(), Touched::new("User", model.id, unit_path)))
}

/// `cdtg init`: the unit file imported and the first administrator created, scoped to the
/// root with code `root_code`, in one transaction.
pub async fn init_city(
    db: &DatabaseConnection,
    units_file: &[u8],
    root_code: &str,
    mut admin: NewUser,
) -> Result<(super::unit_files::ImportReport, user::Model), super::unit_files::FileError> {
    let p = Principal::system();
    let password_hash = password::hash_off_executor(admin.password.clone()).await?;
    let txn = write_txn(db).await?;
    let result = async {
        let report = super::unit_files::import_in(&txn, units_file).await?;
        let root = admin_unit::Entity::find()
            .filter(admin_unit::Column::Code.eq(root_code))
            .filter(admin_unit::Column::ValidTo.is_null())
            .one(&txn)
            .await?
            .ok_or_else(|| ApiError::Internal("the imported root is missing".into()))?;
        admin.scope_unit_id = Some(root.id);
        let username = admin.username.clone();
        let (user, touched) = create_in(&txn, &p, admin, username, password_hash).await?;
        audit::record_in(&txn, &p, "init", &touched).await?;
        Ok::<_, super::unit_files::FileError>((report, user))
    }
    .await;
    match result {
        Ok(done) => {
            txn.commit().await?;
            Ok(done)
        }
        Err(e) => {
            txn.rollback().await?;
            Err(e)
        }
    }
}

/// Gives an account a new scope: the way out for an account held because its unit was merged
/// away, and for staff who change posts. The role stays; the caller must be allowed to grant it
/// and both the account and the new scope must lie within the caller's scope.
pub async fn reassign(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
    scope_unit_id: Option<i64>,
    scope_group_id: Option<i64>,
) -> ApiResult<user::Model> {
    audit::authorize(db, p, Action::ManageUsers, "reassignUser").await?;
    let txn = write_txn(db).await?;
    let outcome = async {
        let target = user::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or(ApiError::NotFound("user"))?;
        let path = user_path(&txn, &target).await?.unwrap_or_default();
        if !p.is_system() && !scope::unit_in_scope(p, &path) {
            return Err(ApiError::NotFound("user"));
        }
        let role = target.role;
        if !p.is_system() && !policy::can_grant(p.role, role) {
            return Err(ApiError::forbidden(
                "you may only manage accounts below your own role",
            ));
        }
        let (unit_id, group_id, new_path) = if role.is_group_scoped() {
            let gid = scope_group_id.ok_or_else(|| {
                ApiError::bad_input("scopeGroupId", "is required for group roles")
            })?;
            let g = group::Entity::find_by_id(gid)
                .one(&txn)
                .await?
                .filter(|g| scope::unit_in_scope(p, &g.unit_path))
                .ok_or_else(|| ApiError::bad_input("scopeGroupId", "no such group"))?;
            (None, Some(g.id), g.unit_path)
        } else {
            let uid = scope_unit_id
                .ok_or_else(|| ApiError::bad_input("scopeUnitId", "is required for unit roles"))?;
            let u = admin_unit::Entity::find_by_id(uid)
                .one(&txn)
                .await?
                .filter(|u| scope::unit_in_scope(p, &u.path))
                .ok_or_else(|| ApiError::bad_input("scopeUnitId", "no such unit"))?;
            if let Some(to) = u.valid_to {
                return Err(ApiError::bad_input(
                    "scopeUnitId",
                    format!("{} was closed on {to}", u.name),
                ));
            }
            (Some(u.id), None, u.path)
        };
        let mut am: user::ActiveModel = target.into();
        am.scope_unit_id = Set(unit_id);
        am.scope_group_id = Set(group_id);
        am.updated_at = Set(Utc::now());
        let model = am.update(&txn).await?;
        // Sessions of the old scope end: the next sign-in carries the new one.
        refresh::revoke_all_for_user(&txn, model.id).await?;
        Ok((model.clone(), Touched::new("User", model.id, new_path)))
    }
    .await;
    audit::conclude(db, txn, p, "reassignUser", outcome).await
}

pub async fn set_disabled(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
    disabled: bool,
) -> ApiResult<user::Model> {
    audit::authorize(db, p, Action::ManageUsers, "setUserDisabled").await?;
    let txn = write_txn(db).await?;
    let outcome = set_disabled_in(&txn, p, id, disabled).await;
    audit::conclude(db, txn, p, "setUserDisabled", outcome).await
}

/// The unit path a user's scope sits at.
async fn user_path(txn: &DatabaseTransaction, u: &user::Model) -> ApiResult<Option<String>> {
    if let Some(uid) = u.scope_unit_id {
        return Ok(admin_unit::Entity::find_by_id(uid)
            .one(txn)
            .await?
            .map(|x| x.path));
    }
    if let Some(gid) = u.scope_group_id {
        return Ok(group::Entity::find_by_id(gid)
            .one(txn)
            .await?
            .map(|g| g.unit_path));
    }
    Ok(None)
}

async fn set_disabled_in(
    txn: &DatabaseTransaction,
    p: &Principal,
    id: i64,
    disabled: bool,
) -> ApiResult<(user::Model, Touched)> {
    let target = user::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let path = user_path(txn, &target).await?.unwrap_or_default();
    let visible = match &p.scope {
        Scope::Everything => true,
        Scope::Unit { .. } => scope::unit_in_scope(p, &path),
        Scope::Group { .. } => false,
    };
    if !visible {
        return Err(ApiError::NotFound("user"));
    }
    if !p.is_system() && !policy::can_grant(p.role, target.role) {
        return Err(ApiError::forbidden(
            "you may only manage accounts below your own role",
        ));
    }
    let mut am: user::ActiveModel = target.into();
    am.disabled = Set(disabled);
    am.updated_at = Set(Utc::now());
    let model = am.update(txn).await?;
    if disabled {
        refresh::revoke_all_for_user(txn, model.id).await?;
    }
    Ok((model.clone(), Touched::new("User", model.id, path)))
}

/// A user the caller may see: themselves, or (with `ManageUsers`) accounts scoped inside their
/// own scope.
pub async fn get_visible(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
) -> ApiResult<Option<user::Model>> {
    let Some(u) = user::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    if u.id == p.user_id || p.is_system() {
        return Ok(Some(u));
    }
    if !policy::allows(p.role, Action::ManageUsers) {
        return Ok(None);
    }
    let path = if let Some(uid) = u.scope_unit_id {
        admin_unit::Entity::find_by_id(uid)
            .one(db)
            .await?
            .map(|x| x.path)
    } else if let Some(gid) = u.scope_group_id {
        group::Entity::find_by_id(gid)
            .one(db)
            .await?
            .map(|g| g.unit_path)
    } else {
        None
    };
    Ok(path.filter(|path| scope::unit_in_scope(p, path)).map(|_| u))
}
