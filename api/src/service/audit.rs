//! Audit trail: every mutation and every denied access becomes an `AuditEvent`. Successful
//! mutations write theirs inside the mutation's own transaction, so there is never a change
//! without its record nor a record of a change that was rolled back. Events never carry secrets.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder, Set,
};

use super::page::{self, Page, Window};
use super::scope;
use crate::entity::audit_event;
use crate::error::{ApiError, ApiResult};
use crate::principal::Principal;
use cdtg_core::policy::Action;

/// What a mutation touched, for its audit record.
#[derive(Debug, Clone, Default)]
pub struct Touched {
    pub object_type: &'static str,
    pub object_id: Option<i64>,
    /// The unit path the object belongs to: audit events are scoped by it.
    pub unit_path: Option<String>,
}

impl Touched {
    pub fn new(object_type: &'static str, object_id: i64, unit_path: impl Into<String>) -> Self {
        Touched {
            object_type,
            object_id: Some(object_id),
            unit_path: Some(unit_path.into()),
        }
    }
}

async fn insert<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    action: &str,
    touched: &Touched,
    outcome: &str,
    detail: Option<String>,
) -> Result<(), sea_orm::DbErr> {
    audit_event::ActiveModel {
        occurred_at: Set(Utc::now()),
        actor_user_id: Set(p.user_ref()),
        actor_name: Set(p.username.clone()),
        action: Set(action.to_owned()),
        object_type: Set(touched.object_type.to_owned()),
        object_id: Set(touched.object_id.map(|id| id.to_string())),
        outcome: Set(outcome.to_owned()),
        unit_path: Set(touched.unit_path.clone()),
        request_id: Set(p.request_id.clone()),
        detail: Set(detail),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map(|_| ())
}

/// Finishes a mutation that ran in `txn`: on success records it and commits; on failure rolls
/// back, and records a denial when the failure was one (`FORBIDDEN`, or `NOT_FOUND` on a write).
pub async fn conclude<T>(
    db: &DatabaseConnection,
    txn: DatabaseTransaction,
    p: &Principal,
    action: &'static str,
    outcome: ApiResult<(T, Touched)>,
) -> ApiResult<T> {
    match outcome {
        Ok((value, touched)) => {
            insert(&txn, p, action, &touched, "SUCCEEDED", None).await?;
            txn.commit().await?;
            Ok(value)
        }
        Err(err) => {
            txn.rollback().await?;
            record_failure(db, p, action, &err).await;
            Err(err)
        }
    }
}

/// Records a refused request (outside any transaction). Recording is best effort: failing to
/// write the audit row must not turn a clean `FORBIDDEN` into an internal error.
pub async fn record_failure(db: &DatabaseConnection, p: &Principal, action: &str, err: &ApiError) {
    let outcome = match err {
        ApiError::Forbidden(_) | ApiError::NotFound(_) => "DENIED",
        ApiError::BadUserInput { .. } | ApiError::Conflict(_) => "REJECTED",
        _ => return,
    };
    let touched = Touched {
        object_type: "-",
        object_id: None,
        unit_path: scope_path(p),
    };
    if let Err(e) = insert(
        db,
        p,
        action,
        &touched,
        outcome,
        Some(err.code().to_owned()),
    )
    .await
    {
        tracing::warn!(error = %e, "could not record audit event");
    }
}

/// Checks a role-level permission; a refusal is audited.
pub async fn authorize(
    db: &DatabaseConnection,
    p: &Principal,
    action: Action,
    name: &str,
) -> ApiResult<()> {
    if let Err(err) = scope::require(p, action) {
        record_failure(db, p, name, &err).await;
        return Err(err);
    }
    Ok(())
}

fn scope_path(p: &Principal) -> Option<String> {
    match &p.scope {
        crate::principal::Scope::Everything => None,
        crate::principal::Scope::Unit { path, .. } => Some(path.clone()),
        crate::principal::Scope::Group { unit_path, .. } => Some(unit_path.clone()),
    }
}

/// Audit events inside the caller's scope, newest first (`CITY_ADMIN`, `WARD_LEADER`).
pub async fn list(
    db: &DatabaseConnection,
    p: &Principal,
    window: Window,
) -> ApiResult<Page<audit_event::Model>> {
    authorize(db, p, Action::ReadAudit, "auditEvents").await?;
    let select = audit_event::Entity::find()
        .filter(scope::audit_events(p))
        .order_by_desc(audit_event::Column::Id);
    page::fetch(db, select, window).await
}

pub async fn count(db: &DatabaseConnection, p: &Principal) -> ApiResult<u64> {
    use sea_orm::PaginatorTrait;
    scope::require(p, Action::ReadAudit)?;
    Ok(audit_event::Entity::find()
        .filter(scope::audit_events(p))
        .count(db)
        .await?)
}

/// One audit event, if visible (`node`).
pub async fn get(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
) -> ApiResult<Option<audit_event::Model>> {
    if scope::require(p, Action::ReadAudit).is_err() {
        return Ok(None);
    }
    Ok(audit_event::Entity::find_by_id(id)
        .filter(scope::audit_events(p))
        .one(db)
        .await?)
}
