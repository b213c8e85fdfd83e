//! Audit trail: every mutation and every denied access becomes an `AuditEvent`. Successful
//! mutations write theirs inside the mutation's own transaction, so there is never a change
//! without its record nor a record of a change that was rolled back. Events never carry secrets.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, Set,
};

use super::page::{self, Page, Window};
use super::scope;
use crate::db::WriteTxn;
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
    /// What the act changed, when one line says more than the object (a merge, a reform).
    pub detail: Option<String>,
}

impl Touched {
    pub fn new(object_type: &'static str, object_id: i64, unit_path: impl Into<String>) -> Self {
        Touched {
            object_type,
            object_id: Some(object_id),
            unit_path: Some(unit_path.into()),
            detail: None,
        }
    }

    pub fn with_detail(mut self, detail: String) -> Self {
        self.detail = Some(detail);
        self
    }
}

/// Writes one event; `detail` (a failure's reason) takes precedence over `touched.detail`.
async fn insert<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    action: &str,
    touched: &Touched,
    outcome: &str,
    detail: Option<String>,
) -> Result<(), sea_orm::DbErr> {
    let detail = detail.or_else(|| touched.detail.clone());
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

/// The success row of an act as a PostgreSQL data-modifying CTE, so the act and its record are
/// one statement. `object` is the CTE that inserted the touched row (its `id` becomes the object
/// id), `from` the FROM list the row is selected from (it names `object`), and `unit_path` an
/// SQL expression over `from`. The values are appended to `values` and numbered after those
/// already there.
///
/// Used by the field report, where the audit row was a round trip of its own while the rollup
/// counters the report's insert had locked waited for the commit (see `tasks::report_pg`).
pub(crate) fn pg_success_cte(
    object: &str,
    from: &str,
    unit_path: &str,
    p: &Principal,
    action: &str,
    object_type: &str,
    values: &mut Vec<sea_orm::Value>,
) -> String {
    let first = values.len() + 1;
    values.extend([
        Utc::now().into(),
        p.user_ref().into(),
        p.username.clone().into(),
        action.to_owned().into(),
        object_type.to_owned().into(),
        p.request_id.clone().into(),
    ]);
    let n = |i: usize| first + i;
    format!(
        "INSERT INTO audit_events (occurred_at, actor_user_id, actor_name, action, object_type, \
         object_id, outcome, unit_path, request_id, detail) \
         SELECT ${}, ${}, ${}, ${}, ${}, CAST({object}.id AS text), 'SUCCEEDED', {unit_path}, ${}, \
         NULL FROM {from}",
        n(0),
        n(1),
        n(2),
        n(3),
        n(4),
        n(5)
    )
}

/// Records a successful act inside `txn` (for acts that manage their own transaction).
pub async fn record_in(
    txn: &DatabaseTransaction,
    p: &Principal,
    action: &str,
    touched: &Touched,
) -> ApiResult<()> {
    Ok(insert(txn, p, action, touched, "SUCCEEDED", None).await?)
}

/// Records an act that is not a write of its own (a key's use, a sign-out) outside any
/// transaction. Best effort, like refusals: failing to write the row is logged, not returned.
pub async fn record_event(db: &DatabaseConnection, p: &Principal, action: &str, touched: &Touched) {
    if let Err(e) = insert(db, p, action, touched, "SUCCEEDED", None).await {
        tracing::warn!(error = %e, "could not record audit event");
    }
}

/// Records a failed sign-in: who was tried (never the password), from where, and why, scoped
/// to the account's unit when the account exists (else visible to the whole tree's admins).
pub async fn record_failed_login(
    db: &DatabaseConnection,
    username: &str,
    user_id: Option<i64>,
    unit_path: Option<String>,
    address: &str,
    request_id: Option<String>,
    reason: &str,
) {
    let event = audit_event::ActiveModel {
        occurred_at: Set(Utc::now()),
        actor_user_id: Set(user_id),
        actor_name: Set(username.chars().take(64).collect()),
        action: Set("login".to_owned()),
        object_type: Set("User".to_owned()),
        object_id: Set(user_id.map(|id| id.to_string())),
        outcome: Set("REJECTED".to_owned()),
        unit_path: Set(unit_path),
        request_id: Set(request_id),
        detail: Set(Some(format!("{reason} from {address}"))),
        ..Default::default()
    };
    if let Err(e) = event.insert(db).await {
        tracing::warn!(error = %e, "could not record audit event");
    }
}

/// Finishes a mutation that ran in `txn`: on success records it and commits; on failure rolls
/// back, and records a denial when the failure was one (`FORBIDDEN`, or `NOT_FOUND` on a write).
pub async fn conclude<T>(
    db: &DatabaseConnection,
    txn: WriteTxn,
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
///
/// Inside an operation (the principal carries a [`DenialLog`]) the refusal is only noted: the
/// pipeline writes one row per operation when it finishes, so a request with a hundred refused
/// root fields costs one row, not a hundred.
pub async fn record_failure(db: &DatabaseConnection, p: &Principal, action: &str, err: &ApiError) {
    let outcome = match err {
        ApiError::Forbidden(_) | ApiError::NotFound(_) => "DENIED",
        ApiError::BadUserInput { .. } | ApiError::Conflict(_) | ApiError::Duplicate { .. } => {
            "REJECTED"
        }
        _ => return,
    };
    if let Some(log) = &p.denials {
        log.note(action, outcome, err.code());
        return;
    }
    write_failure(db, p, action, outcome, err.code().to_owned()).await;
}

async fn write_failure(
    db: &DatabaseConnection,
    p: &Principal,
    action: &str,
    outcome: &str,
    detail: String,
) {
    let touched = Touched {
        object_type: "-",
        object_id: None,
        unit_path: scope_path(p),
        detail: None,
    };
    if let Err(e) = insert(db, p, action, &touched, outcome, Some(detail)).await {
        tracing::warn!(error = %e, "could not record audit event");
    }
}

/// The refusals of one operation, written as a single audit row by [`flush_denials`].
#[derive(Debug, Default)]
pub struct DenialLog(std::sync::Mutex<Vec<Denial>>);

#[derive(Debug, Clone)]
struct Denial {
    action: String,
    outcome: &'static str,
    code: &'static str,
}

impl DenialLog {
    fn note(&self, action: &str, outcome: &'static str, code: &'static str) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Denial {
                action: action.to_owned(),
                outcome,
                code,
            });
    }

    pub fn is_empty(&self) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).is_empty()
    }

    fn take(&self) -> Vec<Denial> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Writes an operation's refusals as one row. One refusal reads as it always did (its action,
/// outcome and code). Several read `DENIED` if any was a denial, with the action they share (or
/// `several`) and a detail that counts them: `3 refusals: createTask FORBIDDEN ×2, …`.
pub async fn flush_denials(db: &DatabaseConnection, p: &Principal, log: &DenialLog) {
    let denials = log.take();
    match denials.as_slice() {
        [] => {}
        [one] => write_failure(db, p, &one.action, one.outcome, one.code.to_owned()).await,
        many => {
            let mut counts: Vec<(String, &'static str, usize)> = Vec::new();
            for d in many {
                match counts
                    .iter_mut()
                    .find(|(a, c, _)| *a == d.action && *c == d.code)
                {
                    Some(entry) => entry.2 += 1,
                    None => counts.push((d.action.clone(), d.code, 1)),
                }
            }
            let outcome = if many.iter().any(|d| d.outcome == "DENIED") {
                "DENIED"
            } else {
                "REJECTED"
            };
            let action = if counts.iter().all(|(a, _, _)| *a == counts[0].0) {
                counts[0].0.clone()
            } else {
                "several".to_owned()
            };
            let parts: Vec<String> = counts
                .iter()
                .map(|(a, c, n)| format!("{a} {c} ×{n}"))
                .collect();
            let detail = format!("{} refusals: {}", many.len(), parts.join(", "));
            write_failure(db, p, &action, outcome, detail).await;
        }
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
    let select = audit_event::Entity::find().filter(scope::audit_events(p));
    let newest_first = [page::SortTerm::desc(
        sea_orm::ColumnTrait::into_expr(audit_event::Column::Id),
        page::KeyKind::BigInt,
    )];
    page::fetch(db, select, &newest_first, window).await
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
