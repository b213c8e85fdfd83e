//! A field report on PostgreSQL: usually one statement, which checks the report's rules and,
//! when they hold, writes everything — the task's progress, its event and notification, the
//! activity, its outcomes and its audit row — and commits on its own.
//!
//! The statement's first CTE, `target`, names the task (or, for walk-in help, the group) the
//! report is for, the group and unit path its event and audit row carry, and how far it moves
//! the task's progress. Every write reads from it, so an empty target writes nothing. Two forms
//! fill it:
//! - [`checked_target`] applies the rules in SQL: the target inside the caller's scope and taking
//!   reports, and no earlier report of the caller's under the same key. A report that passes is
//!   filed in that one statement. One that fails writes nothing, and the look-up
//!   (`prepare_report`) then says which rule it broke, or answers the replay.
//! - [`known_target`] holds the look-up's answer as constants. It is used when the look-up
//!   clears a report that the checked statement refused a moment before: the task changed
//!   between the two.
//!
//! Why no transaction: the reads were never isolated from the writes (read committed), so a
//! transaction would only make the writes atomic, which one statement is by itself. What it
//! cost was round trips (`BEGIN`, `COMMIT`), and worse, the time until the `COMMIT` arrived,
//! during which the report held the row locks of the unit rollups its triggers update — rows
//! that every report of the day shares. Now the locks are held for the statement and its commit.
//!
//! Why the rules are written twice, in SQL here and in Rust in `prepare_report`: the look-up was
//! a round trip of its own on every report. The Rust rules still word every refusal and answer
//! every replay. Should the two ever disagree, a report the SQL refuses and the Rust accepts
//! costs a statement more and is still filed (through [`known_target`]); the other way round,
//! SQL more lenient than the Rust, would file a report the rules refuse, which is why the
//! end-to-end tests check both each rule's refusal and that a report passing them all is one
//! statement.

use cdtg_core::activity;
use cdtg_core::group::GroupStatus;
use cdtg_core::task::{self as rules, TaskKind, TaskStatus};
use chrono::Utc;
use sea_orm::sea_query::{
    Alias, CaseStatement, Condition, Expr, ExprTrait, PostgresQueryBuilder, Query, SelectStatement,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    FromQueryResult, IdenStatic, Iterable, Statement,
};

use super::{
    NewReport, Prepared, RACE, Report, ReportFor, Reported, activity_row, prepare_report, raced,
    reported_by,
};
use crate::entity::{activity as activity_e, group, task};
use crate::error::{ApiError, ApiResult, is_unique_violation};
use crate::events::{self, TaskEventKind};
use crate::principal::Principal;
use crate::service::{audit, scope};

/// Files a report on PostgreSQL: the checked statement, and only when it writes nothing the
/// look-up, which answers a replay or a refusal, or clears the report for [`known_target`].
pub(super) async fn report(
    db: &DatabaseConnection,
    p: &Principal,
    r: &Report,
    note: Option<String>,
    hash: &str,
) -> ApiResult<Reported> {
    let row = activity_row(p, r, note.clone(), hash);
    let written = write(db, p, checked_target(p, r), r, row).await;
    let outcome = match written {
        Ok(Some(reported)) => Ok(reported),
        // Nothing written: a rule refused the report, or it was filed before. The look-up
        // tells which, with the same answers as on SQLite.
        Ok(None) => match prepare_report(db, p, r, note, hash).await {
            Ok(Prepared::Before(reported)) => return Ok(reported),
            Ok(Prepared::New(new)) => {
                let target = known_target(&new);
                write(db, p, target, r, new.activity)
                    .await
                    .and_then(|written| written.ok_or(ApiError::NotFound("task")))
            }
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    match outcome {
        Ok(reported) => Ok(reported),
        Err(ApiError::Conflict(ref m)) if m == RACE => raced(db, p, r, hash).await,
        Err(e) => {
            audit::record_failure(db, p, "reportActivity", &e).await;
            Err(e)
        }
    }
}

/// The target under the report's rules, as `prepare_report` applies them: the task (with its
/// group) or the group inside the caller's scope; a task that takes reports, or a completed one
/// when the work was done before its completion; a group that is not archived; and no earlier
/// report of the caller's under the key. Columns: `task_id` (task reports only), `group_id`,
/// `unit_path`, `delta`.
fn checked_target(p: &Principal, r: &Report) -> SelectStatement {
    let g = group::Entity;
    let t = task::Entity;
    let mut q = Query::select();
    q.expr_as(Expr::col((g, group::Column::Id)), Alias::new("group_id"))
        .expr_as(
            Expr::col((g, group::Column::UnitPath)),
            Alias::new("unit_path"),
        )
        .and_where(Expr::not_exists(
            Query::select()
                .expr(Expr::val(1))
                .from(activity_e::Entity)
                .and_where(activity_e::Column::IdempotencyKey.eq(r.idempotency_key.as_str()))
                .cond_where(reported_by(p))
                .to_owned(),
        ));
    match r.target {
        ReportFor::Task(id) => {
            // How far the report moves the task depends on the task's kind, which only the
            // database knows yet: one branch per kind.
            let delta = TaskKind::ALL
                .into_iter()
                .fold(CaseStatement::new(), |case, kind| {
                    case.case(
                        Expr::col((t, task::Column::Kind)).eq(kind.as_str()),
                        activity::progress_delta(kind, r.residents_helped, &r.outcomes),
                    )
                });
            let taking: Vec<&str> = TaskStatus::ALL
                .into_iter()
                .filter(|s| rules::accepts_activity(*s))
                .map(TaskStatus::as_str)
                .collect();
            q.expr_as(Expr::col((t, task::Column::Id)), Alias::new("task_id"))
                .expr_as(delta, Alias::new("delta"))
                .from(t)
                .inner_join(
                    g,
                    Expr::col((g, group::Column::Id)).equals((t, task::Column::GroupId)),
                )
                .and_where(Expr::col((t, task::Column::Id)).eq(id))
                .cond_where(scope::tasks(p))
                .cond_where(
                    Condition::any()
                        .add(Expr::col((t, task::Column::Status)).is_in(taking))
                        .add(
                            Condition::all()
                                .add(
                                    Expr::col((t, task::Column::Status))
                                        .eq(TaskStatus::Done.as_str()),
                                )
                                .add(Expr::col((t, task::Column::CompletedAt)).gte(r.occurred_at)),
                        ),
                );
        }
        ReportFor::Group(id) => {
            // Walk-in help moves no task's progress.
            q.expr_as(Expr::val(0i64), Alias::new("delta"))
                .from(g)
                .and_where(Expr::col((g, group::Column::Id)).eq(id))
                .cond_where(scope::groups(p))
                .and_where(
                    Expr::col((g, group::Column::Status)).ne(GroupStatus::Inactive.as_str()),
                );
        }
    }
    q
}

/// The target as the look-up found it, in the columns of [`checked_target`].
fn known_target(new: &NewReport) -> SelectStatement {
    let mut q = Query::select();
    q.expr_as(Expr::val(new.group_id), Alias::new("group_id"))
        .expr_as(Expr::val(new.unit_path.clone()), Alias::new("unit_path"))
        .expr_as(Expr::val(new.delta), Alias::new("delta"));
    if let Some(task) = &new.task {
        q.expr_as(Expr::val(task.id), Alias::new("task_id"));
    }
    q
}

/// The one statement: every write reads from `target` (and a task report's from the task's
/// update), so an empty target, or a task that vanished, writes nothing and answers `None`.
/// `activity` has every column set but its id, task, group and progress delta, which come from
/// the target (or, the task, from its update).
async fn write(
    db: &DatabaseConnection,
    p: &Principal,
    target: SelectStatement,
    r: &Report,
    activity: activity_e::ActiveModel,
) -> ApiResult<Option<Reported>> {
    let for_task = matches!(r.target, ReportFor::Task(_));
    let (target_sql, target_values) = target.build(PostgresQueryBuilder);
    // The target's values come first: sea-query numbered them from $1.
    let mut values: Vec<sea_orm::Value> = target_values.into_iter().collect();
    let param = |v: sea_orm::Value, values: &mut Vec<sea_orm::Value>| {
        values.push(v);
        format!("${}", values.len())
    };
    let mut ctes = vec![format!("target AS ({target_sql})")];
    if for_task {
        let now = param(Utc::now().into(), &mut values);
        let kind = param(TaskEventKind::ActivityReported.as_str().into(), &mut values);
        ctes.push(format!(
            "t AS (UPDATE tasks SET progress = tasks.progress + target.delta, updated_at = {now} \
             FROM target WHERE tasks.id = target.task_id RETURNING tasks.*)"
        ));
        ctes.push(format!(
            "e AS (INSERT INTO task_events (kind, task_id, group_id, unit_path, occurred_at) \
             SELECT {kind}, t.id, target.group_id, target.unit_path, {now} FROM t, target \
             RETURNING *)"
        ));
    }
    // The activity's columns in the entity's order, every one but the id.
    let mut columns = Vec::new();
    let mut exprs = Vec::new();
    for column in activity_e::Column::iter() {
        let expr = match column {
            activity_e::Column::Id => continue,
            // A task report's task is the one its update found: that is the guard. Walk-in
            // help has none.
            activity_e::Column::TaskId if for_task => "t.id".to_owned(),
            activity_e::Column::TaskId => "NULL".to_owned(),
            activity_e::Column::GroupId => "target.group_id".to_owned(),
            activity_e::Column::ProgressDelta => "target.delta".to_owned(),
            _ => {
                let value = activity.get(column).into_value().ok_or_else(|| {
                    ApiError::Internal(format!("activity column {} not set", column.as_str()))
                })?;
                param(value, &mut values)
            }
        };
        columns.push(column.as_str().to_owned());
        exprs.push(expr);
    }
    let sources = if for_task { "target, t" } else { "target" };
    ctes.push(format!(
        "a AS (INSERT INTO activities ({}) SELECT {} FROM {sources} RETURNING *)",
        columns.join(", "),
        exprs.join(", "),
    ));
    if !r.outcomes.is_empty() {
        let rows: Vec<String> = r
            .outcomes
            .iter()
            .map(|(kind, count)| {
                let kind = param((*kind).into(), &mut values);
                let count = param((*count as i32).into(), &mut values);
                format!("({kind}, {count}::integer)")
            })
            .collect();
        ctes.push(format!(
            "o AS (INSERT INTO activity_outcomes (activity_id, kind, count) \
             SELECT a.id, x.kind, x.count FROM a, (VALUES {}) AS x(kind, count))",
            rows.join(", ")
        ));
    }
    let audit_row = audit::pg_success_cte(
        "a",
        "a, target",
        "target.unit_path",
        p,
        "reportActivity",
        "Activity",
        &mut values,
    );
    ctes.push(format!("r AS ({audit_row})"));
    // The answer: the activity and the task as they now are, under prefixes (their columns
    // share names). Counting the notifications makes them run.
    let mut select: Vec<String> = activity_e::Column::iter()
        .map(|c| format!("a.{0} AS a_{0}", c.as_str()))
        .collect();
    let from = if for_task {
        select.extend(task::Column::iter().map(|c| format!("t.{0} AS t_{0}", c.as_str())));
        select.push(format!(
            "(SELECT count(*) FROM ({}) n) AS notified",
            events::pg_notify_select("e")
        ));
        "a, t"
    } else {
        "a"
    };
    let sql = format!(
        "WITH {} SELECT {} FROM {from}",
        ctes.join(", "),
        select.join(", ")
    );
    let stmt = Statement::from_sql_and_values(DatabaseBackend::Postgres, sql, values);
    let row = match db.query_one_raw(stmt).await {
        Ok(Some(row)) => row,
        Ok(None) => return Ok(None),
        Err(e) if is_unique_violation(&e) => return Err(ApiError::Conflict(RACE.to_owned())),
        Err(e) => return Err(e.into()),
    };
    let activity = activity_e::Model::from_query_result(&row, "a_")?;
    let task = match for_task {
        true => Some(task::Model::from_query_result(&row, "t_")?),
        false => None,
    };
    Ok(Some(Reported {
        activity,
        task,
        created: true,
    }))
}
