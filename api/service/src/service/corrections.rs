//! Fixing field reports: `correctActivity` and `voidActivity`.
//!
//! Both first copy the report as it stood into `activity_revisions` (who changed it, when, why),
//! so nothing is lost. A correction rewrites the report in place: the rollup triggers move every
//! total by exactly the difference, and the task's progress moves by the difference of the two
//! reports' contributions. A void deletes the report (its outcomes go with it), so every total
//! drops it; the revision keeps it readable.
//!
//! Who: the reporter, within [`REPORTER_WINDOW_DAYS`] of sending it, or a leader above them —
//! whoever may update the task's group's tasks (the group leader, the ward and above). Both
//! carry the phone's retry key: sending the same change again answers as the first time did.

use cdtg_core::activity::{self as rules, OutcomeKind};
use cdtg_core::policy::{self, Action};
use cdtg_core::validate;
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};

use super::audit::{self, Touched};
use super::scope;
use crate::db::write_txn;
use crate::entity::{activity, activity_outcome, activity_revision, group, task};
use crate::error::{ApiError, ApiResult, is_unique_violation};
use crate::principal::Principal;

/// How long a reporter may correct or void their own report.
pub const REPORTER_WINDOW_DAYS: i64 = 7;

/// A corrected report: the new content, and why.
#[derive(Debug, Clone)]
pub struct Correction {
    pub idempotency_key: String,
    pub occurred_at: Option<DateTime<Utc>>,
    pub residents_helped: i64,
    pub outcomes: Vec<(OutcomeKind, i64)>,
    pub note: Option<String>,
    pub reason: String,
    /// The revision the corrector saw (1 for a report never corrected): a stale one is
    /// `CONFLICT`.
    pub expected_revision: Option<i32>,
}

/// The earlier versions of many reports the caller can see, in one statement each for the
/// reports and their revisions (for lists of activities).
pub async fn revisions_of_many(
    db: &DatabaseConnection,
    p: &Principal,
    activity_ids: &[i64],
) -> ApiResult<std::collections::HashMap<i64, Vec<activity_revision::Model>>> {
    scope::require(p, Action::ReadActivities)?;
    let visible: Vec<i64> = activity::Entity::find()
        .filter(scope::activities(p))
        .filter(activity::Column::Id.is_in(activity_ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect();
    let rows = activity_revision::Entity::find()
        .filter(activity_revision::Column::ActivityId.is_in(visible))
        .order_by_asc(activity_revision::Column::ActivityId)
        .order_by_asc(activity_revision::Column::Revision)
        .all(db)
        .await?;
    let mut out: std::collections::HashMap<i64, Vec<activity_revision::Model>> =
        std::collections::HashMap::new();
    for r in rows {
        out.entry(r.activity_id).or_default().push(r);
    }
    Ok(out)
}

/// The report, if the caller may change it; `NOT_FOUND` if they cannot see it.
async fn amendable(
    txn: &DatabaseTransaction,
    p: &Principal,
    id: i64,
) -> ApiResult<(activity::Model, group::Model)> {
    let a = activity::Entity::find_by_id(id)
        .filter(scope::activities(p))
        .one(txn)
        .await?
        .ok_or(ApiError::NotFound("activity"))?;
    let g = group::Entity::find_by_id(a.group_id)
        .one(txn)
        .await?
        .ok_or(ApiError::NotFound("activity"))?;
    let own_recent = a.reported_by_user_id.is_some()
        && a.reported_by_user_id == p.user_ref()
        && Utc::now() - a.created_at <= Duration::days(REPORTER_WINDOW_DAYS);
    let leader =
        policy::allows(p.role, Action::UpdateTask) && scope::group_in_scope(p, g.id, &g.unit_path);
    if !(own_recent || leader || p.is_system()) {
        return Err(ApiError::forbidden(format!(
            "only the reporter within {REPORTER_WINDOW_DAYS} days, or a leader above them, may change a report"
        )));
    }
    Ok((a, g))
}

async fn outcomes_json(txn: &DatabaseTransaction, activity_id: i64) -> ApiResult<String> {
    let rows = activity_outcome::Entity::find()
        .filter(activity_outcome::Column::ActivityId.eq(activity_id))
        .order_by_asc(activity_outcome::Column::Id)
        .all(txn)
        .await?;
    let list: Vec<serde_json::Value> = rows
        .iter()
        .map(|o| serde_json::json!({ "kind": o.kind.as_str(), "count": o.count }))
        .collect();
    Ok(serde_json::Value::Array(list).to_string())
}

/// Copies the report as it stands into its revisions; returns the revision number it gets.
async fn keep_revision(
    txn: &DatabaseTransaction,
    p: &Principal,
    a: &activity::Model,
    g: &group::Model,
    action: &str,
    reason: &str,
    key: &str,
) -> ApiResult<i32> {
    let revision = activity_revision::Entity::find()
        .filter(activity_revision::Column::ActivityId.eq(a.id))
        .count(txn)
        .await? as i32
        + 1;
    let inserted = activity_revision::ActiveModel {
        activity_id: Set(a.id),
        revision: Set(revision),
        action: Set(action.to_owned()),
        task_id: Set(a.task_id),
        group_id: Set(a.group_id),
        unit_path: Set(g.unit_path.clone()),
        reported_by_user_id: Set(a.reported_by_user_id),
        occurred_at: Set(a.occurred_at),
        residents_helped: Set(a.residents_helped),
        outcomes: Set(outcomes_json(txn, a.id).await?),
        note: Set(a.note.clone()),
        reason: Set(reason.to_owned()),
        idempotency_key: Set(key.to_owned()),
        changed_by_user_id: Set(p.user_ref()),
        changed_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(txn)
    .await;
    match inserted {
        Ok(_) => Ok(revision),
        Err(e) if is_unique_violation(&e) => Err(ApiError::Conflict(
            "the report was changed at the same moment; read it again".to_owned(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The caller's earlier change under `key`, if any.
async fn earlier(
    db: &DatabaseConnection,
    p: &Principal,
    key: &str,
) -> ApiResult<Option<activity_revision::Model>> {
    let col = activity_revision::Column::ChangedByUserId;
    let who = match p.user_ref() {
        Some(id) => col.eq(id),
        None => col.is_null(),
    };
    Ok(activity_revision::Entity::find()
        .filter(who)
        .filter(activity_revision::Column::IdempotencyKey.eq(key))
        .one(db)
        .await?)
}

/// The task a report was for (`None` for a walk-in report).
async fn task_of<C: ConnectionTrait>(
    db: &C,
    task_id: Option<i64>,
) -> ApiResult<Option<task::Model>> {
    match task_id {
        Some(id) => Ok(Some(
            task::Entity::find_by_id(id)
                .one(db)
                .await?
                .ok_or(ApiError::NotFound("activity"))?,
        )),
        None => Ok(None),
    }
}

/// Moves a task's progress by `delta` (in the database, so concurrent reports add up); a
/// walk-in report has no task to move.
async fn add_progress(
    txn: &DatabaseTransaction,
    task_id: Option<i64>,
    delta: i64,
) -> ApiResult<()> {
    let Some(id) = task_id else {
        return Ok(());
    };
    task::Entity::update_many()
        .col_expr(
            task::Column::Progress,
            Expr::col(task::Column::Progress).add(delta),
        )
        .col_expr(task::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(task::Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

fn reason_text(reason: &str) -> ApiResult<String> {
    Ok(validate::required_text("reason", reason, 500)?)
}

/// `correctActivity`: the report gets new content; returns it and its task.
pub async fn correct(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
    c: Correction,
    max_residents: i64,
) -> ApiResult<(activity::Model, Option<task::Model>)> {
    audit::authorize(db, p, Action::ReportActivity, "correctActivity").await?;
    let note = rules::validate_report(
        &c.idempotency_key,
        c.residents_helped,
        &c.outcomes,
        c.note.as_deref(),
        max_residents,
    )?;
    let reason = reason_text(&c.reason)?;
    if let Some(at) = c.occurred_at {
        validate::occurred_at("occurredAt", at, Utc::now())?;
    }
    // A retry of a correction that went through: the same answer.
    if let Some(done) = earlier(db, p, &c.idempotency_key).await? {
        if done.activity_id != id || done.action != "CORRECTED" {
            return Err(ApiError::Conflict(
                "this idempotency key was already used for another change".to_owned(),
            ));
        }
        let a = activity::Entity::find_by_id(id)
            .filter(scope::activities(p))
            .one(db)
            .await?
            .ok_or(ApiError::NotFound("activity"))?;
        let t = task_of(db, a.task_id).await?;
        return Ok((a, t));
    }
    let txn = write_txn(db).await?;
    let outcome = async {
        let (a, g) = amendable(&txn, p, id).await?;
        let current = activity_revision::Entity::find()
            .filter(activity_revision::Column::ActivityId.eq(a.id))
            .count(&txn)
            .await? as i32
            + 1;
        if let Some(expected) = c.expected_revision
            && expected != current
        {
            return Err(ApiError::Conflict(format!(
                "the report was changed by someone else (revision {current} now, {expected} expected)"
            )));
        }
        let t = task_of(&txn, a.task_id).await?;
        keep_revision(&txn, p, &a, &g, "CORRECTED", &reason, &c.idempotency_key).await?;
        // A walk-in report moves no task's progress.
        let delta = t.as_ref().map_or(0, |t| {
            rules::progress_delta(t.kind, c.residents_helped, &c.outcomes)
        });
        let vneid = rules::vneid_activations(&c.outcomes);
        let mut am: activity::ActiveModel = a.clone().into();
        if let Some(at) = c.occurred_at {
            am.occurred_at = Set(at);
        }
        am.residents_helped = Set(c.residents_helped as i32);
        am.vneid_activations = Set(vneid as i32);
        am.progress_delta = Set(delta);
        am.note = Set(note);
        let updated = am.update(&txn).await?;
        activity_outcome::Entity::delete_many()
            .filter(activity_outcome::Column::ActivityId.eq(a.id))
            .exec(&txn)
            .await?;
        if !c.outcomes.is_empty() {
            activity_outcome::Entity::insert_many(c.outcomes.iter().map(|(k, n)| {
                activity_outcome::ActiveModel {
                    activity_id: Set(a.id),
                    kind: Set(*k),
                    count: Set(*n as i32),
                    ..Default::default()
                }
            }))
            .exec(&txn)
            .await?;
        }
        add_progress(&txn, a.task_id, delta - a.progress_delta).await?;
        let t = task_of(&txn, a.task_id).await?;
        let touched = Touched::new("Activity", a.id, g.unit_path.clone())
            .with_detail(format!("revision {current}: {reason}"));
        Ok(((updated, t), touched))
    }
    .await;
    audit::conclude(db, txn, p, "correctActivity", outcome).await
}

/// `voidActivity`: the report leaves every total; returns the revision that keeps it.
pub async fn void(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
    reason: &str,
    idempotency_key: &str,
) -> ApiResult<(activity_revision::Model, Option<task::Model>)> {
    audit::authorize(db, p, Action::ReportActivity, "voidActivity").await?;
    validate::idempotency_key("idempotencyKey", idempotency_key)?;
    let reason = reason_text(reason)?;
    if let Some(done) = earlier(db, p, idempotency_key).await? {
        if done.activity_id != id || done.action != "VOIDED" {
            return Err(ApiError::Conflict(
                "this idempotency key was already used for another change".to_owned(),
            ));
        }
        let t = task_of(db, done.task_id).await?;
        return Ok((done, t));
    }
    let txn = write_txn(db).await?;
    let outcome = async {
        let (a, g) = amendable(&txn, p, id).await?;
        let revision = keep_revision(&txn, p, &a, &g, "VOIDED", &reason, idempotency_key).await?;
        activity_outcome::Entity::delete_many()
            .filter(activity_outcome::Column::ActivityId.eq(a.id))
            .exec(&txn)
            .await?;
        activity::Entity::delete_by_id(a.id).exec(&txn).await?;
        add_progress(&txn, a.task_id, -a.progress_delta).await?;
        let kept = activity_revision::Entity::find()
            .filter(activity_revision::Column::ActivityId.eq(a.id))
            .filter(activity_revision::Column::Revision.eq(revision))
            .one(&txn)
            .await?
            .ok_or(ApiError::NotFound("activity"))?;
        let t = task_of(&txn, a.task_id).await?;
        let touched = Touched::new("Activity", a.id, g.unit_path.clone())
            .with_detail(format!("voided: {reason}"));
        Ok(((kept, t), touched))
    }
    .await;
    audit::conclude(db, txn, p, "voidActivity", outcome).await
}
