//! Signing in and out, and one's own password and sessions: `login`, `refreshToken`, `logout`,
//! `changePassword`, `me { sessions }` and `revokeSession`.
//!
//! Every sign-in, sign-out and failed sign-in is audited (the username tried and the client
//! address, never a password).

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use super::audit::{self, Touched};
use super::users::user_path;
use crate::auth::session::{self, EndReason};
use crate::auth::{self, jwt::JwtKeys, password, refresh, throttle::LoginThrottle};
use crate::db::write_txn;
use crate::entity::{session as session_row, user};
use crate::error::{ApiError, ApiResult};
use crate::principal::{Credential, Principal};

/// What a successful `login` or `refreshToken` returns.
pub struct SignedIn {
    pub access_token: String,
    pub refresh_token: String,
    /// Expiry of the access token, unix seconds.
    pub expires_at: i64,
    pub user: user::Model,
    pub session_id: String,
}

/// Where a sign-in comes from.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub address: String,
    /// What the client says it is (`LoginInput.device`), else its User-Agent.
    pub device: Option<String>,
    pub request_id: Option<String>,
}

fn signed_in(
    keys: &JwtKeys,
    p: &Principal,
    u: user::Model,
    refresh_token: String,
) -> ApiResult<SignedIn> {
    let (access_token, expires_at) = keys.issue_access(p)?;
    Ok(SignedIn {
        access_token,
        refresh_token,
        expires_at,
        session_id: p.session_id().unwrap_or_default().to_owned(),
        user: u,
    })
}

/// The principal's audit record of an act on their own account.
fn own_account(p: &Principal) -> Touched {
    Touched {
        object_type: "User",
        object_id: Some(p.user_id),
        unit_path: match &p.scope {
            crate::principal::Scope::Everything => None,
            crate::principal::Scope::Unit { path, .. } => Some(path.clone()),
            crate::principal::Scope::Group { unit_path, .. } => Some(unit_path.clone()),
        },
        detail: None,
    }
}

pub async fn login(
    db: &DatabaseConnection,
    keys: &JwtKeys,
    throttle: &LoginThrottle,
    username: &str,
    password_text: &str,
    origin: &Origin,
) -> ApiResult<SignedIn> {
    let name = username.trim().to_lowercase();
    // Admitted and counted in one step: parallel guesses cannot exceed the budget.
    let attempt = throttle
        .begin(&name, &origin.address)
        .await
        .map_err(|retry_after_secs| ApiError::RateLimited { retry_after_secs })?;
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
    let u = match found {
        Some(u) if ok && !u.disabled => u,
        other => {
            attempt.failed().await;
            let reason = match &other {
                None => "unknown username",
                Some(u) if u.disabled && ok => "disabled account",
                Some(_) => "wrong password",
            };
            failed_login(db, &name, other.as_ref(), origin, reason).await;
            return Err(ApiError::Unauthenticated("wrong username or password"));
        }
    };
    if u.must_change_password && u.one_time_password_used_at.is_some() {
        // The right one-time password, used before: not a guess, so not counted as one.
        drop(attempt);
        failed_login(db, &name, Some(&u), origin, "one-time password used again").await;
        return Err(ApiError::Unauthenticated(
            "this one-time password was already used; ask an administrator for a new one",
        ));
    }
    attempt.succeeded().await;
    // Held accounts (their unit closed) are refused before a session opens.
    let mut p = auth::principal_for(db, &u, Credential::System).await?;
    let txn = write_txn(db).await?;
    let sid = session::start(
        &txn,
        u.id,
        origin.device.as_deref(),
        Some(origin.address.as_str()),
    )
    .await?;
    let token = refresh::issue(&txn, u.id, &sid).await?;
    let u = if u.must_change_password {
        let mut am: user::ActiveModel = u.into();
        am.one_time_password_used_at = Set(Some(Utc::now()));
        am.update(&txn).await?
    } else {
        u
    };
    p.credential = Credential::Session { id: sid };
    p.request_id = origin.request_id.clone();
    let detail = match &origin.device {
        Some(d) => format!("from {} ({d})", origin.address),
        None => format!("from {}", origin.address),
    };
    audit::record_in(&txn, &p, "login", &own_account(&p).with_detail(detail)).await?;
    txn.commit().await?;
    signed_in(keys, &p, u, token)
}

async fn failed_login(
    db: &DatabaseConnection,
    name: &str,
    u: Option<&user::Model>,
    origin: &Origin,
    reason: &str,
) {
    let path = match u {
        Some(u) => user_path(db, u).await.ok().flatten(),
        None => None,
    };
    audit::record_failed_login(
        db,
        name,
        u.map(|u| u.id),
        path,
        &origin.address,
        origin.request_id.clone(),
        reason,
    )
    .await;
}

pub async fn refresh(db: &DatabaseConnection, keys: &JwtKeys, token: &str) -> ApiResult<SignedIn> {
    let rotated = refresh::rotate(db, token).await?;
    let u = user::Entity::find_by_id(rotated.user_id)
        .one(db)
        .await?
        .ok_or(ApiError::Unauthenticated("invalid refresh token"))?;
    if u.disabled {
        session::end_all(db, u.id, None, EndReason::Disabled).await?;
        return Err(ApiError::Unauthenticated("the account is disabled"));
    }
    let p = auth::principal_for(
        db,
        &u,
        Credential::Session {
            id: rotated.session_id,
        },
    )
    .await?;
    signed_in(keys, &p, u, rotated.next)
}

/// Ends the caller's session, and the session of `refresh_token` when one is given (it must be
/// the caller's; without an access token, holding the refresh token is enough to end its
/// session). True when a session ended.
pub async fn logout(
    db: &DatabaseConnection,
    p: Option<&Principal>,
    refresh_token: Option<&str>,
) -> ApiResult<bool> {
    let mut ended = false;
    let mut actor = p.cloned();
    if let Some(token) = refresh_token
        && let Some((user_id, sid)) = refresh::session_of(db, token).await?
        && p.is_none_or(|p| p.user_id == user_id)
    {
        ended |= session::end(db, user_id, &sid, EndReason::Logout).await?;
        if actor.is_none()
            && let Some(u) = user::Entity::find_by_id(user_id).one(db).await?
        {
            let mut who = Principal::system();
            who.user_id = u.id;
            who.username = u.username;
            who.credential = Credential::Session { id: sid };
            actor = Some(who);
        }
    }
    if let Some(p) = p {
        if p.api_key_id().is_some() {
            return Err(ApiError::forbidden("an API key has no session to end"));
        }
        if let Some(sid) = p.session_id() {
            ended |= session::end(db, p.user_id, sid, EndReason::Logout).await?;
        }
    }
    if p.is_none() && refresh_token.is_none() {
        return Err(ApiError::Unauthenticated(
            "send the access token, or the refresh token of the session to end",
        ));
    }
    if ended && let Some(actor) = actor {
        let touched = Touched {
            object_type: "User",
            object_id: Some(actor.user_id),
            unit_path: None,
            detail: None,
        };
        let touched = match p {
            Some(p) => own_account(p),
            None => touched,
        };
        audit::record_event(db, &actor, "logout", &touched).await;
    }
    Ok(ended)
}

/// Refuses what only a person may do with their own account (keys and the system cannot).
fn person(p: &Principal, what: &str) -> ApiResult<String> {
    match &p.credential {
        Credential::Session { id } => Ok(id.clone()),
        Credential::ApiKey { .. } => Err(ApiError::forbidden(format!(
            "an API key cannot {what}; sign in as a person"
        ))),
        Credential::System => Err(ApiError::forbidden(format!(
            "the command line cannot {what}"
        ))),
    }
}

/// `changePassword`: the current password proves it is the user; every other session ends.
/// Wrong current passwords count against the same budget as failed logins.
pub async fn change_password(
    db: &DatabaseConnection,
    throttle: &LoginThrottle,
    p: &Principal,
    address: &str,
    current: &str,
    new: &str,
) -> ApiResult<user::Model> {
    let keep = person(p, "change a password")?;
    let u = user::Entity::find_by_id(p.user_id)
        .one(db)
        .await?
        .ok_or(ApiError::Unauthenticated("unknown user"))?;
    cdtg_core::validate::password("newPassword", new)?;
    if new == current {
        return Err(ApiError::bad_input(
            "newPassword",
            "must differ from the current password",
        ));
    }
    if new.trim().eq_ignore_ascii_case(&u.username) {
        return Err(ApiError::bad_input(
            "newPassword",
            "must not be the username",
        ));
    }
    let attempt = throttle
        .begin(&u.username, address)
        .await
        .map_err(|retry_after_secs| ApiError::RateLimited { retry_after_secs })?;
    let ok =
        password::verify_off_executor(current.to_owned(), Some(u.password_hash.clone())).await?;
    if !ok {
        attempt.failed().await;
        let err = ApiError::bad_input("currentPassword", "is not your current password");
        audit::record_failure(db, p, "changePassword", &err).await;
        return Err(err);
    }
    attempt.succeeded().await;
    let hash = password::hash_off_executor(new.to_owned()).await?;
    let txn = write_txn(db).await?;
    let outcome = async {
        let mut am: user::ActiveModel = u.into();
        am.password_hash = Set(hash);
        am.must_change_password = Set(false);
        am.one_time_password_used_at = Set(None);
        am.updated_at = Set(Utc::now());
        let model = am.update(&txn).await?;
        let ended =
            session::end_all(&txn, model.id, Some(&keep), EndReason::PasswordChanged).await?;
        let touched = own_account(p).with_detail(format!("{ended} other sessions ended"));
        Ok((model, touched))
    }
    .await;
    audit::conclude(db, txn, p, "changePassword", outcome).await
}

/// The live sessions of `user_id`, if the caller may see them: their own, or those of an
/// account they manage.
pub async fn sessions(
    db: &DatabaseConnection,
    p: &Principal,
    user_id: i64,
) -> ApiResult<Vec<session_row::Model>> {
    if !may_manage_sessions(db, p, user_id).await? {
        return Ok(vec![]);
    }
    session::list_live(db, user_id).await
}

async fn may_manage_sessions(
    db: &DatabaseConnection,
    p: &Principal,
    user_id: i64,
) -> ApiResult<bool> {
    if p.api_key_id().is_some() {
        return Ok(false);
    }
    if user_id == p.user_id {
        return Ok(true);
    }
    Ok(super::users::get_managed(db, p, user_id).await?.is_some())
}

/// `revokeSession`: ends one of the caller's sessions (or one of an account they manage).
/// Unknown, ended and foreign sessions are all `NOT_FOUND`.
pub async fn revoke_session(
    db: &DatabaseConnection,
    p: &Principal,
    id: &str,
) -> ApiResult<session_row::Model> {
    let found = session_row::Entity::find_by_id(id.to_owned())
        .filter(session_row::Column::RevokedAt.is_null())
        .one(db)
        .await?;
    let Some(s) = found else {
        let err = ApiError::NotFound("session");
        audit::record_failure(db, p, "revokeSession", &err).await;
        return Err(err);
    };
    if !may_manage_sessions(db, p, s.user_id).await? {
        let err = ApiError::NotFound("session");
        audit::record_failure(db, p, "revokeSession", &err).await;
        return Err(err);
    }
    let txn = write_txn(db).await?;
    let outcome = async {
        session::end(&txn, s.user_id, &s.id, EndReason::Revoked).await?;
        let owner = user::Entity::find_by_id(s.user_id)
            .one(&txn)
            .await?
            .ok_or(ApiError::NotFound("session"))?;
        let path = user_path(&txn, &owner).await?.unwrap_or_default();
        let ended = session_row::Entity::find_by_id(s.id.clone())
            .one(&txn)
            .await?
            .ok_or(ApiError::NotFound("session"))?;
        let touched = Touched {
            object_type: "Session",
            object_id: None,
            unit_path: Some(path),
            detail: Some(format!("session of {}", owner.username)),
        };
        Ok((ended, touched))
    }
    .await;
    audit::conclude(db, txn, p, "revokeSession", outcome).await
}
