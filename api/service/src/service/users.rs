//! Account administration: `users`, `createUser`, `updateUser`, `reassignUser`,
//! `setUserDisabled`, `resetPassword`. Nobody grants a role above (or equal to) their own, nor a
//! scope outside their own; an account at or above the caller's role, or outside their scope,
//! looks exactly like a missing one.

use cdtg_core::policy::{self, Action, Role};
use cdtg_core::{text, validate};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, PaginatorTrait, QueryFilter, Select, Set,
};

use super::audit::{self, Touched};
use super::page::{self, Page, Window};
use super::scope;
use crate::auth::password;
use crate::auth::session::{self, EndReason};
use crate::db::write_txn;
use crate::entity::{admin_unit, api_key, group, member, user};
use crate::error::{ApiError, ApiResult, is_unique_violation};
use crate::principal::{Principal, Scope};

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
        search_key: Set(search_key(&username, None)),
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
        let report =
            super::unit_files::import_in(&txn, units_file, &crate::progress::quiet).await?;
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
        let placed = place(&txn, p, role, scope_unit_id, scope_group_id).await?;
        let mut am: user::ActiveModel = target.into();
        am.scope_unit_id = Set(placed.unit_id);
        am.scope_group_id = Set(placed.group_id);
        am.updated_at = Set(Utc::now());
        let model = am.update(&txn).await?;
        // Sessions of the old scope end: the next sign-in carries the new one.
        session::end_all(&txn, model.id, None, EndReason::AccountChanged).await?;
        Ok((model.clone(), Touched::new("User", model.id, placed.path)))
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
pub(crate) async fn user_path<C: ConnectionTrait>(
    txn: &C,
    u: &user::Model,
) -> ApiResult<Option<String>> {
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
    // Ending the sessions (not just refusing disabled accounts) is what keeps tokens issued
    // before the account was disabled dead after it is enabled again.
    if disabled {
        session::end_all(txn, model.id, None, EndReason::Disabled).await?;
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
    let path = user_path(db, &u).await?;
    Ok(path.filter(|path| scope::unit_in_scope(p, path)).map(|_| u))
}

/// What account search matches: the folded username and display name.
fn search_key(username: &str, display_name: Option<&str>) -> String {
    match display_name {
        Some(name) => text::fold(&format!("{username} {name}")),
        None => text::fold(username),
    }
}

/// The filters of the `users` connection.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub roles: Option<Vec<Role>>,
    /// Accounts scoped to this unit's subtree (a unit account there, or a group account of a
    /// group there).
    pub unit_id: Option<i64>,
    pub disabled: Option<bool>,
    pub search: Option<String>,
}

async fn select(
    db: &DatabaseConnection,
    p: &Principal,
    f: &UserFilter,
) -> ApiResult<Select<user::Entity>> {
    let mut q = user::Entity::find().filter(scope::users(p));
    if let Some(path) = super::units::path_of(db, p, f.unit_id).await? {
        let units = sea_orm::sea_query::Query::select()
            .column(admin_unit::Column::Id)
            .from(admin_unit::Entity)
            .cond_where(scope::unit_subtree(admin_unit::Column::Path, &path))
            .to_owned();
        let groups = sea_orm::sea_query::Query::select()
            .column(group::Column::Id)
            .from(group::Entity)
            .cond_where(scope::unit_subtree(group::Column::UnitPath, &path))
            .to_owned();
        q = q.filter(
            sea_orm::Condition::any()
                .add(user::Column::ScopeUnitId.in_subquery(units))
                .add(user::Column::ScopeGroupId.in_subquery(groups)),
        );
    }
    if let Some(roles) = &f.roles {
        q = q.filter(user::Column::Role.is_in(roles.iter().copied()));
    }
    if let Some(d) = f.disabled {
        q = q.filter(user::Column::Disabled.eq(d));
    }
    if let Some(c) = f
        .search
        .as_deref()
        .and_then(|s| super::folded_contains(user::Column::SearchKey, s))
    {
        q = q.filter(c);
    }
    Ok(q)
}

/// Accounts in the caller's scope, by username (`CITY_ADMIN`, `DISTRICT_OFFICER`,
/// `WARD_LEADER`).
pub async fn list(
    db: &DatabaseConnection,
    p: &Principal,
    f: &UserFilter,
    window: Window,
) -> ApiResult<Page<user::Model>> {
    audit::authorize(db, p, Action::ReadUsers, "users").await?;
    let order = [
        page::SortTerm::asc(user::Column::Username.into_expr(), page::KeyKind::Text),
        page::SortTerm::asc(user::Column::Id.into_expr(), page::KeyKind::BigInt),
    ];
    page::fetch(db, select(db, p, f).await?, &order, window).await
}

pub async fn count(db: &DatabaseConnection, p: &Principal, f: &UserFilter) -> ApiResult<u64> {
    scope::require(p, Action::ReadUsers)?;
    Ok(select(db, p, f).await?.count(db).await?)
}

/// An account the caller manages: in their scope and below their role. Anything else —
/// missing, outside the scope, at or above the caller — is `None`, all alike.
pub async fn get_managed<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    id: i64,
) -> ApiResult<Option<user::Model>> {
    if !policy::allows(p.role, Action::ManageUsers) {
        return Ok(None);
    }
    let Some(u) = user::Entity::find_by_id(id).one(conn).await? else {
        return Ok(None);
    };
    if p.is_system() {
        return Ok(Some(u));
    }
    if !policy::can_grant(p.role, u.role) {
        return Ok(None);
    }
    let path = user_path(conn, &u).await?.unwrap_or_default();
    Ok(scope::unit_in_scope(p, &path).then_some(u))
}

/// The scope a (new or changed) account gets: checked against the caller's scope, with the
/// unit's path for the audit record.
struct Placement {
    unit_id: Option<i64>,
    group_id: Option<i64>,
    path: String,
}

async fn place<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    role: Role,
    unit_id: Option<i64>,
    group_id: Option<i64>,
) -> ApiResult<Placement> {
    if role.is_group_scoped() {
        let gid = group_id
            .ok_or_else(|| ApiError::bad_input("scopeGroupId", "is required for group roles"))?;
        let g = group::Entity::find_by_id(gid)
            .one(conn)
            .await?
            .filter(|g| scope::unit_in_scope(p, &g.unit_path))
            .ok_or_else(|| ApiError::bad_input("scopeGroupId", "no such group"))?;
        Ok(Placement {
            unit_id: None,
            group_id: Some(g.id),
            path: g.unit_path,
        })
    } else {
        let uid = unit_id
            .ok_or_else(|| ApiError::bad_input("scopeUnitId", "is required for unit roles"))?;
        let u = admin_unit::Entity::find_by_id(uid)
            .one(conn)
            .await?
            .filter(|u| scope::unit_in_scope(p, &u.path))
            .ok_or_else(|| ApiError::bad_input("scopeUnitId", "no such unit"))?;
        if let Some(to) = u.valid_to {
            return Err(ApiError::bad_input(
                "scopeUnitId",
                format!("{} was closed on {to}", u.name),
            ));
        }
        Ok(Placement {
            unit_id: Some(u.id),
            group_id: None,
            path: u.path,
        })
    }
}

/// Checks a member link for an account placed at `place` with `role`.
async fn check_member<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    role: Role,
    place: &Placement,
    member_id: i64,
) -> ApiResult<()> {
    if role.is_group_scoped() {
        let gid = place.group_id.unwrap_or_default();
        if !super::is_current_member(conn, gid, member_id).await? {
            return Err(ApiError::bad_input(
                "memberId",
                "must be a current member of the group",
            ));
        }
    } else if member::Entity::find_by_id(member_id)
        .filter(scope::members(p))
        .one(conn)
        .await?
        .is_none()
    {
        return Err(ApiError::bad_input("memberId", "no such member"));
    }
    Ok(())
}

/// What `updateUser` changes; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub role: Option<Role>,
    pub scope_unit_id: Option<i64>,
    pub scope_group_id: Option<i64>,
    /// `Some(None)` unlinks the member.
    pub member_id: Option<Option<i64>>,
    /// `Some(None)` (or blank) clears the display name.
    pub display_name: Option<Option<String>>,
}

impl UserChanges {
    fn only_display_name(&self) -> bool {
        self.role.is_none()
            && self.scope_unit_id.is_none()
            && self.scope_group_id.is_none()
            && self.member_id.is_none()
    }
}

/// `updateUser`. Anyone may change their own display name; everything else is for an
/// administrator over accounts below their role in their scope. A role or scope change ends the
/// account's sessions and revokes the API keys it made that it could no longer make.
pub async fn update(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
    changes: UserChanges,
) -> ApiResult<user::Model> {
    scope::refuse_api_key(p, "change accounts")?;
    let own_name_only = id == p.user_id && changes.only_display_name();
    if !own_name_only {
        audit::authorize(db, p, Action::ManageUsers, "updateUser").await?;
    }
    let display_name = match &changes.display_name {
        Some(Some(name)) => Some(
            validate::optional_text("displayName", Some(name), 200)
                .map_err(ApiError::from)
                .and_then(|n| match n {
                    Some(n) if n.contains('\n') => {
                        Err(ApiError::bad_input("displayName", "must be one line"))
                    }
                    other => Ok(other),
                }),
        ),
        Some(None) => Some(Ok(None)),
        None => None,
    }
    .transpose();
    let display_name = match display_name {
        Ok(d) => d,
        Err(err) => {
            audit::record_failure(db, p, "updateUser", &err).await;
            return Err(err);
        }
    };
    let txn = write_txn(db).await?;
    let outcome = async {
        let target = if own_name_only {
            user::Entity::find_by_id(id).one(&txn).await?
        } else {
            get_managed(&txn, p, id).await?
        }
        .ok_or(ApiError::NotFound("user"))?;
        if own_name_only {
            // One's own name only: the scope stays as it is, whoever one is.
            let display = display_name.unwrap_or_else(|| target.display_name.clone());
            let path = user_path(&txn, &target).await?.unwrap_or_default();
            let mut am: user::ActiveModel = target.clone().into();
            am.search_key = Set(search_key(&target.username, display.as_deref()));
            am.display_name = Set(display);
            am.updated_at = Set(Utc::now());
            let model = am.update(&txn).await?;
            return Ok((
                model.clone(),
                Touched::new("User", model.id, path).with_detail("display name".to_owned()),
            ));
        }
        let role = changes.role.unwrap_or(target.role);
        if role != target.role && !p.is_system() && !policy::can_grant(p.role, role) {
            return Err(ApiError::forbidden(format!(
                "a {} may not grant {}",
                p.role.as_str(),
                role.as_str()
            )));
        }
        let kind_changed = role.is_group_scoped() != target.role.is_group_scoped();
        // Keep the current scope unless a new one is given (or the kind of scope changes).
        let (unit_id, group_id) = if role.is_group_scoped() {
            let current = if kind_changed {
                None
            } else {
                target.scope_group_id
            };
            (None, changes.scope_group_id.or(current))
        } else {
            let current = if kind_changed {
                None
            } else {
                target.scope_unit_id
            };
            (changes.scope_unit_id.or(current), None)
        };
        let placement = place(&txn, p, role, unit_id, group_id).await?;
        let member_id = match changes.member_id {
            Some(m) => m,
            None => target.member_id,
        };
        if let Some(mid) = member_id {
            check_member(&txn, p, role, &placement, mid).await?;
        }
        let display = match display_name {
            Some(d) => d,
            None => target.display_name.clone(),
        };
        let rights_changed = role != target.role
            || placement.unit_id != target.scope_unit_id
            || placement.group_id != target.scope_group_id;
        let mut what = vec![];
        if role != target.role {
            what.push(format!("role {} → {}", target.role.as_str(), role.as_str()));
        }
        if placement.unit_id != target.scope_unit_id || placement.group_id != target.scope_group_id
        {
            what.push("scope".to_owned());
        }
        if member_id != target.member_id {
            what.push("member".to_owned());
        }
        if display != target.display_name {
            what.push("display name".to_owned());
        }
        let username = target.username.clone();
        let mut am: user::ActiveModel = target.into();
        am.role = Set(role);
        am.scope_unit_id = Set(placement.unit_id);
        am.scope_group_id = Set(placement.group_id);
        am.member_id = Set(member_id);
        am.search_key = Set(search_key(&username, display.as_deref()));
        am.display_name = Set(display);
        am.updated_at = Set(Utc::now());
        let model = am.update(&txn).await?;
        if rights_changed {
            session::end_all(&txn, model.id, None, EndReason::AccountChanged).await?;
            let revoked = revoke_keys_beyond(&txn, &model, &placement.path).await?;
            if revoked > 0 {
                what.push(format!("{revoked} API keys revoked"));
            }
        }
        let detail = if what.is_empty() {
            "nothing changed".to_owned()
        } else {
            what.join(", ")
        };
        Ok((
            model.clone(),
            Touched::new("User", model.id, placement.path).with_detail(detail),
        ))
    }
    .await;
    audit::conclude(db, txn, p, "updateUser", outcome).await
}

/// Revokes the live keys `u` created that its (new) role and scope could not create.
async fn revoke_keys_beyond<C: ConnectionTrait>(
    conn: &C,
    u: &user::Model,
    scope_path: &str,
) -> ApiResult<u64> {
    let keys = api_key::Entity::find()
        .filter(api_key::Column::CreatedByUserId.eq(u.id))
        .filter(api_key::Column::RevokedAt.is_null())
        .all(conn)
        .await?;
    let mut beyond = vec![];
    for k in keys {
        let path = admin_unit::Entity::find_by_id(k.scope_unit_id)
            .one(conn)
            .await?
            .map(|x| x.path)
            .unwrap_or_default();
        let within = !u.role.is_group_scoped() && policy::path_within(scope_path, &path);
        if !policy::can_delegate(u.role, k.role) || !within {
            beyond.push(k.id);
        }
    }
    if beyond.is_empty() {
        return Ok(0);
    }
    let n = beyond.len() as u64;
    api_key::Entity::update_many()
        .col_expr(
            api_key::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .filter(api_key::Column::Id.is_in(beyond))
        .exec(conn)
        .await?;
    crate::auth::cache::accounts_changed();
    Ok(n)
}

/// Letters and digits nobody confuses when reading them out (no 0/O, 1/l/I).
const ONE_TIME_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY346789";

/// A one-time password: three groups of five, about 84 bits.
fn one_time_password() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..3)
        .map(|_| {
            (0..5)
                .map(|_| ONE_TIME_ALPHABET[rng.random_range(0..ONE_TIME_ALPHABET.len())] as char)
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// `resetPassword` (and `cdtg user reset-password`): gives the account a one-time password that
/// signs in once and must then be changed; every session of the account ends. Returns the
/// account and the one-time password, which is shown once and stored only hashed.
pub async fn reset_password(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
) -> ApiResult<(user::Model, String)> {
    scope::refuse_api_key(p, "reset passwords")?;
    audit::authorize(db, p, Action::ManageUsers, "resetPassword").await?;
    let otp = one_time_password();
    let hash = password::hash_off_executor(otp.clone()).await?;
    let txn = write_txn(db).await?;
    let outcome = async {
        let target = get_managed(&txn, p, id)
            .await?
            .ok_or(ApiError::NotFound("user"))?;
        let path = user_path(&txn, &target).await?.unwrap_or_default();
        let mut am: user::ActiveModel = target.into();
        am.password_hash = Set(hash);
        am.must_change_password = Set(true);
        am.one_time_password_used_at = Set(None);
        am.updated_at = Set(Utc::now());
        let model = am.update(&txn).await?;
        let ended = session::end_all(&txn, model.id, None, EndReason::PasswordReset).await?;
        Ok((
            model.clone(),
            Touched::new("User", model.id, path)
                .with_detail(format!("one-time password issued; {ended} sessions ended")),
        ))
    }
    .await;
    let model = audit::conclude(db, txn, p, "resetPassword", outcome).await?;
    Ok((model, otp))
}

/// An account by username, for the command line.
pub async fn by_username(
    db: &DatabaseConnection,
    username: &str,
) -> ApiResult<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Username.eq(username.trim().to_lowercase()))
        .one(db)
        .await?)
}
