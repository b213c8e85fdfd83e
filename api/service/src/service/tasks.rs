//! Tasks and the field reports (activities) that make progress on them.
//!
//! Two guarantees live here. Optimistic concurrency: every task write names the version it
//! read, and the `UPDATE … WHERE version = ?` either wins or reports `CONFLICT`. Exactly-once
//! reports: the phone's idempotency key is unique per reporting user in the database, a replay
//! with the same content returns the original result, a replay with other content is `CONFLICT`,
//! and progress is added by `progress = progress + delta` in the same atomic write as the insert
//! (one statement on PostgreSQL, one transaction on SQLite).
//!
//! Keys belong to the user who reports, and the task's scope is checked before any key is
//! looked up: a key tells nobody anything about another user's reports (whether one exists,
//! its note), and nobody can claim a key in advance to block someone else's report.

use std::collections::HashMap;

use cdtg_core::activity::{self, OutcomeKind};
use cdtg_core::policy::Action;
use cdtg_core::task::{self as rules, TaskAction, TaskKind, TaskStatus, TransitionError};
use cdtg_core::{limits, text, validate};
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Select, Set,
};
use sha2::{Digest, Sha256};

use super::audit::{self, Touched};
use super::columns::TaskColumns;
use super::page::{self, Page, Window};
use super::{folded_contains, scope, today_in_vietnam, units};
use crate::db::write_txn;
use crate::entity::{activity as activity_e, activity_outcome, group, task};
use crate::error::{ApiError, ApiResult, is_unique_violation};
use crate::events::{self, TaskEventKind};
use crate::principal::Principal;

mod report_pg;

#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub unit_id: Option<i64>,
    pub group_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub status: Option<Vec<TaskStatus>>,
    pub kind: Option<TaskKind>,
    /// Past its due date (judged in Asia/Ho_Chi_Minh) and still open or in progress.
    pub overdue: Option<bool>,
    pub search: Option<String>,
    /// Tasks changed at or after this instant (for incremental sync).
    pub updated_since: Option<chrono::DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TaskOrder {
    #[default]
    DueOn,
    CreatedAt,
    Priority,
    Title,
}

fn overdue_condition(today: NaiveDate) -> Condition {
    Condition::all().add(task::Column::DueOn.lt(today)).add(
        task::Column::Status.is_in(
            TaskStatus::ALL
                .iter()
                .copied()
                .filter(|s| s.can_be_overdue()),
        ),
    )
}

fn apply_filter(
    mut q: Select<task::Entity>,
    f: &TaskFilter,
    unit_path: Option<&str>,
) -> Select<task::Entity> {
    if let Some(path) = unit_path {
        q = q.filter(
            task::Column::GroupId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(group::Column::Id)
                    .from(group::Entity)
                    .cond_where(scope::unit_subtree(group::Column::UnitPath, path))
                    .to_owned(),
            ),
        );
    }
    if let Some(g) = f.group_id {
        q = q.filter(task::Column::GroupId.eq(g));
    }
    if let Some(a) = f.assignee_id {
        q = q.filter(task::Column::AssigneeMemberId.eq(a));
    }
    if let Some(statuses) = &f.status {
        q = q.filter(task::Column::Status.is_in(statuses.iter().copied()));
    }
    if let Some(kind) = f.kind {
        q = q.filter(task::Column::Kind.eq(kind));
    }
    if let Some(at) = f.updated_since {
        q = q.filter(task::Column::UpdatedAt.gte(at));
    }
    match f.overdue {
        Some(true) => q = q.filter(overdue_condition(today_in_vietnam())),
        Some(false) => q = q.filter(overdue_condition(today_in_vietnam()).not()),
        None => {}
    }
    if let Some(c) = f
        .search
        .as_deref()
        .and_then(|s| folded_contains(task::Column::TitleFolded, s))
    {
        q = q.filter(c);
    }
    q
}

/// The sort terms of a task list, ending with the id so that ties have one order.
///
/// - Tasks without a due date come after every dated one (before them in `DESC`) on both
///   databases: SQLite and PostgreSQL put NULLs at opposite ends by default.
/// - Priority sorts by urgency, most urgent first in `ASC`, not alphabetically.
fn order_terms(order: TaskOrder, desc: bool) -> Vec<page::SortTerm> {
    use page::{KeyKind, SortTerm};
    let col = |c: task::Column| Expr::col((task::Entity, c));
    let mut terms = match order {
        TaskOrder::DueOn => vec![
            SortTerm::asc(page::nulls_last(col(task::Column::DueOn)), KeyKind::Int),
            SortTerm::asc(col(task::Column::DueOn), KeyKind::Date),
        ],
        TaskOrder::CreatedAt => vec![SortTerm::asc(col(task::Column::CreatedAt), KeyKind::Time)],
        TaskOrder::Priority => vec![SortTerm::asc(
            urgency(col(task::Column::Priority)),
            KeyKind::Int,
        )],
        TaskOrder::Title => vec![SortTerm::asc(col(task::Column::TitleFolded), KeyKind::Text)],
    };
    terms.push(SortTerm::asc(col(task::Column::Id), KeyKind::BigInt));
    terms.into_iter().map(|t| t.direction(desc)).collect()
}

/// 0 for the most urgent priority, 3 for the least: the order a reader expects.
fn urgency(priority: Expr) -> Expr {
    use rules::TaskPriority as P;
    let rank = [P::Urgent, P::High, P::Normal, P::Low];
    let mut case = sea_orm::sea_query::CaseStatement::new();
    for (i, p) in rank.iter().enumerate() {
        case = case.case(priority.clone().eq(*p), i as i32);
    }
    case.finally(rank.len() as i32).into()
}

async fn select(
    db: &DatabaseConnection,
    p: &Principal,
    f: &TaskFilter,
) -> ApiResult<Select<task::Entity>> {
    let path = units::path_of(db, p, f.unit_id).await?;
    Ok(apply_filter(
        task::Entity::find().filter(scope::tasks(p)),
        f,
        path.as_deref(),
    ))
}

pub async fn list(
    db: &DatabaseConnection,
    p: &Principal,
    f: &TaskFilter,
    order: TaskOrder,
    desc: bool,
    window: Window,
) -> ApiResult<Page<task::Model>> {
    audit::authorize(db, p, Action::ReadTasks, "tasks").await?;
    let terms = order_terms(order, desc);
    page::fetch(db, select(db, p, f).await?, &terms, window).await
}

pub async fn count(db: &DatabaseConnection, p: &Principal, f: &TaskFilter) -> ApiResult<u64> {
    scope::require(p, Action::ReadTasks)?;
    Ok(select(db, p, f).await?.count(db).await?)
}

/// Whether the principal may subscribe to task events at all; which events reach them is
/// decided per event with [`scope::group_in_scope`] and a scoped re-read of the task.
pub fn authorize_events(p: &Principal) -> ApiResult<()> {
    scope::require(p, Action::ReadTasks)
}

pub async fn get(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
) -> ApiResult<Option<task::Model>> {
    scope::require(p, Action::ReadTasks)?;
    Ok(task::Entity::find_by_id(id)
        .filter(scope::tasks(p))
        .one(db)
        .await?)
}

pub async fn get_by_ids(
    db: &DatabaseConnection,
    p: &Principal,
    ids: &[i64],
) -> ApiResult<HashMap<i64, task::Model>> {
    if scope::require(p, Action::ReadTasks).is_err() {
        return Ok(HashMap::new());
    }
    let rows = task::Entity::find()
        .filter(task::Column::Id.is_in(ids.iter().copied()))
        .filter(scope::tasks(p))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|t| (t.id, t)).collect())
}

/// Tasks of many groups (`group.tasks`), one statement.
pub async fn of_groups(
    db: &DatabaseConnection,
    p: &Principal,
    group_ids: &[i64],
    f: &TaskFilter,
    columns: TaskColumns,
    window: Window,
) -> ApiResult<HashMap<i64, Page<task::Model>>> {
    scope::require(p, Action::ReadTasks)?;
    let q = columns.select(task::Entity::find().filter(scope::tasks(p)));
    let q = apply_filter(q, f, None);
    let parent = Expr::col((task::Entity, task::Column::GroupId));
    let order = order_terms(TaskOrder::DueOn, false);
    let decode = |row: &_| columns.decode(row);
    page::fetch_per_parent_with(db, q, parent, group_ids, &order, window, decode).await
}

/// Activities of many tasks (`task.activities`), newest first, one statement.
pub async fn activities_of(
    db: &DatabaseConnection,
    p: &Principal,
    task_ids: &[i64],
    window: Window,
) -> ApiResult<HashMap<i64, Page<activity_e::Model>>> {
    scope::require(p, Action::ReadActivities)?;
    let q = activity_e::Entity::find().filter(scope::activities(p));
    let parent = Expr::col((activity_e::Entity, activity_e::Column::TaskId));
    let order = [
        page::SortTerm::desc(
            Expr::col((activity_e::Entity, activity_e::Column::OccurredAt)),
            page::KeyKind::Time,
        ),
        page::SortTerm::desc(
            Expr::col((activity_e::Entity, activity_e::Column::Id)),
            page::KeyKind::BigInt,
        ),
    ];
    page::fetch_per_parent(db, q, parent, task_ids, &order, window).await
}

/// Outcomes of many activities, one statement.
pub async fn outcomes_of(
    db: &DatabaseConnection,
    activity_ids: &[i64],
) -> ApiResult<HashMap<i64, Vec<activity_outcome::Model>>> {
    let rows = activity_outcome::Entity::find()
        .filter(activity_outcome::Column::ActivityId.is_in(activity_ids.iter().copied()))
        .order_by_asc(activity_outcome::Column::Id)
        .all(db)
        .await?;
    Ok(super::group_by_parent(rows, |row| row.activity_id))
}

pub async fn get_activity(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
) -> ApiResult<Option<activity_e::Model>> {
    scope::require(p, Action::ReadActivities)?;
    Ok(activity_e::Entity::find_by_id(id)
        .filter(scope::activities(p))
        .one(db)
        .await?)
}

#[derive(Debug, Clone)]
pub struct NewTask {
    pub group_id: i64,
    pub assignee_id: Option<i64>,
    pub title: String,
    pub description: Option<String>,
    pub kind: TaskKind,
    pub priority: rules::TaskPriority,
    pub due_on: Option<NaiveDate>,
    pub target: Option<i64>,
}

/// The largest target a task may have (see `cdtg_core::limits`).
pub const MAX_TARGET: i64 = limits::MAX_TASK_TARGET;

pub async fn create(
    db: &DatabaseConnection,
    p: &Principal,
    input: NewTask,
) -> ApiResult<task::Model> {
    audit::authorize(db, p, Action::CreateTask, "createTask").await?;
    let txn = write_txn(db).await?;
    let outcome = create_in(&txn, p, input).await;
    audit::conclude(db, txn, p, "createTask", outcome).await
}

async fn group_for_write(
    txn: &DatabaseTransaction,
    p: &Principal,
    group_id: i64,
    field: &str,
) -> ApiResult<group::Model> {
    let grp = group::Entity::find_by_id(group_id).one(txn).await?;
    match grp {
        Some(g) if scope::group_in_scope(p, g.id, &g.unit_path) => Ok(g),
        // A group the caller cannot see is reported exactly like a missing one.
        _ => Err(ApiError::bad_input(field, "no such group")),
    }
}

/// An archived (`INACTIVE`) group takes no new work.
fn refuse_archived(grp: &group::Model, field: &str) -> ApiResult<()> {
    if grp.status == cdtg_core::group::GroupStatus::Inactive {
        return Err(ApiError::bad_input(
            field,
            format!(
                "{} is archived (INACTIVE) and takes no new tasks; make it ACTIVE first",
                grp.name
            ),
        ));
    }
    Ok(())
}

async fn check_assignee(
    txn: &DatabaseTransaction,
    group_id: i64,
    assignee: Option<i64>,
) -> ApiResult<()> {
    if let Some(member_id) = assignee
        && !super::is_current_member(txn, group_id, member_id).await?
    {
        return Err(ApiError::bad_input(
            "assigneeId",
            "must be a current member of the group",
        ));
    }
    Ok(())
}

async fn create_in(
    txn: &DatabaseTransaction,
    p: &Principal,
    input: NewTask,
) -> ApiResult<(task::Model, Touched)> {
    let title = validate::required_text("title", &input.title, 200)?;
    let description = validate::optional_text("description", input.description.as_deref(), 4000)?;
    let target = input
        .target
        .map(|t| validate::count_at_most("target", t, MAX_TARGET))
        .transpose()?;
    let due_on = input
        .due_on
        .map(|d| validate::due_date("dueOn", d, today_in_vietnam()))
        .transpose()?;
    // Ward leaders and officers above assign tasks to the groups of their units; a group leader
    // to their own group (any other group looks missing).
    let grp = group_for_write(txn, p, input.group_id, "groupId").await?;
    refuse_archived(&grp, "groupId")?;
    check_assignee(txn, grp.id, input.assignee_id).await?;
    let now = Utc::now();
    let model = task::ActiveModel {
        group_id: Set(grp.id),
        assignee_member_id: Set(input.assignee_id),
        title_folded: Set(text::fold(&title)),
        title: Set(title),
        description: Set(description),
        kind: Set(input.kind),
        priority: Set(input.priority),
        status: Set(TaskStatus::Open),
        due_on: Set(due_on),
        target: Set(target),
        progress: Set(0),
        version: Set(1),
        created_by_user_id: Set(p.user_ref()),
        created_at: Set(now),
        updated_at: Set(now),
        completed_at: Set(None),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    events::record(
        txn,
        TaskEventKind::Assigned,
        model.id,
        grp.id,
        &grp.unit_path,
    )
    .await?;
    Ok((model.clone(), Touched::new("Task", model.id, grp.unit_path)))
}

#[derive(Debug, Clone, Default)]
pub struct TaskChanges {
    pub group_id: Option<i64>,
    pub assignee_id: Option<Option<i64>>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub priority: Option<rules::TaskPriority>,
    pub due_on: Option<Option<NaiveDate>>,
    pub target: Option<Option<i64>>,
}

pub async fn update(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
    expected_version: i32,
    changes: TaskChanges,
) -> ApiResult<task::Model> {
    audit::authorize(db, p, Action::UpdateTask, "updateTask").await?;
    let txn = write_txn(db).await?;
    let outcome = update_in(&txn, p, id, expected_version, changes).await;
    audit::conclude(db, txn, p, "updateTask", outcome).await
}

fn stale(current: i32, expected: i32) -> ApiError {
    ApiError::Conflict(format!(
        "the task was changed by someone else (version {current} now, {expected} expected)"
    ))
}

async fn update_in(
    txn: &DatabaseTransaction,
    p: &Principal,
    id: i64,
    expected: i32,
    c: TaskChanges,
) -> ApiResult<(task::Model, Touched)> {
    let current = task::Entity::find_by_id(id)
        .filter(scope::tasks(p))
        .one(txn)
        .await?
        .ok_or(ApiError::NotFound("task"))?;
    if current.version != expected {
        return Err(stale(current.version, expected));
    }
    let mut am: task::ActiveModel = current.clone().into();
    let mut group_id = current.group_id;
    let mut unit_path = group::Entity::find_by_id(current.group_id)
        .one(txn)
        .await?
        .map(|g| g.unit_path)
        .unwrap_or_default();
    if let Some(new_group) = c.group_id {
        let grp = group_for_write(txn, p, new_group, "groupId").await?;
        refuse_archived(&grp, "groupId")?;
        group_id = grp.id;
        unit_path = grp.unit_path;
        am.group_id = Set(grp.id);
    }
    if let Some(assignee) = c.assignee_id {
        check_assignee(txn, group_id, assignee).await?;
        am.assignee_member_id = Set(assignee);
    } else if group_id != current.group_id {
        check_assignee(txn, group_id, current.assignee_member_id).await?;
    }
    if let Some(title) = c.title {
        let title = validate::required_text("title", &title, 200)?;
        am.title_folded = Set(text::fold(&title));
        am.title = Set(title);
    }
    if let Some(d) = c.description {
        am.description = Set(validate::optional_text("description", Some(&d), 4000)?);
    }
    if let Some(pr) = c.priority {
        am.priority = Set(pr);
    }
    if let Some(due) = c.due_on {
        am.due_on = Set(due
            .map(|d| validate::due_date("dueOn", d, today_in_vietnam()))
            .transpose()?);
    }
    if let Some(target) = c.target {
        am.target = Set(target
            .map(|t| validate::count_at_most("target", t, MAX_TARGET))
            .transpose()?);
    }
    am.version = Set(current.version + 1);
    am.updated_at = Set(Utc::now());
    let result = task::Entity::update_many()
        .set(am)
        .filter(task::Column::Id.eq(id))
        .filter(task::Column::Version.eq(expected))
        .exec(txn)
        .await?;
    if result.rows_affected != 1 {
        return Err(stale(current.version, expected));
    }
    let model = task::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or(ApiError::NotFound("task"))?;
    events::record(txn, TaskEventKind::Updated, id, group_id, &unit_path).await?;
    Ok((model, Touched::new("Task", id, unit_path)))
}

pub async fn transition(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
    action: TaskAction,
    expected_version: i32,
) -> ApiResult<task::Model> {
    // The role comes before any look-up, as with every other role-level denial: a caller whose
    // role may never take this action hears the same FORBIDDEN whether the task exists, lies
    // outside their scope or is theirs — the answer must not reveal which.
    if !rules::role_may(p.role, action) {
        let err = ApiError::forbidden(
            TransitionError::NotPermitted {
                role: p.role,
                action,
            }
            .to_string(),
        );
        audit::record_failure(db, p, "transitionTask", &err).await;
        return Err(err);
    }
    let txn = write_txn(db).await?;
    let outcome = transition_in(&txn, p, id, action, expected_version).await;
    audit::conclude(db, txn, p, "transitionTask", outcome).await
}

async fn transition_in(
    txn: &DatabaseTransaction,
    p: &Principal,
    id: i64,
    action: TaskAction,
    expected: i32,
) -> ApiResult<(task::Model, Touched)> {
    let current = task::Entity::find_by_id(id)
        .filter(scope::tasks(p))
        .one(txn)
        .await?
        .ok_or(ApiError::NotFound("task"))?;
    let to = match rules::transition(p.role, current.status, action) {
        Ok(to) => to,
        Err(TransitionError::NotPermitted { role, action }) => {
            return Err(ApiError::forbidden(format!(
                "role {role} may not {action} a task"
            )));
        }
        Err(TransitionError::Illegal { from, action }) => {
            return Err(ApiError::bad_input(
                "action",
                format!("cannot {action} a task that is {from}"),
            ));
        }
    };
    if current.version != expected {
        return Err(stale(current.version, expected));
    }
    let now = Utc::now();
    let result = task::Entity::update_many()
        .col_expr(task::Column::Status, Expr::value(to))
        .col_expr(task::Column::Version, Expr::value(expected + 1))
        .col_expr(task::Column::UpdatedAt, Expr::value(now))
        .col_expr(
            task::Column::CompletedAt,
            Expr::value((to == TaskStatus::Done).then_some(now)),
        )
        .filter(task::Column::Id.eq(id))
        .filter(task::Column::Version.eq(expected))
        .exec(txn)
        .await?;
    if result.rows_affected != 1 {
        return Err(stale(current.version, expected));
    }
    let model = task::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or(ApiError::NotFound("task"))?;
    let unit_path = group::Entity::find_by_id(model.group_id)
        .one(txn)
        .await?
        .map(|g| g.unit_path)
        .unwrap_or_default();
    events::record(
        txn,
        TaskEventKind::Transitioned,
        id,
        model.group_id,
        &unit_path,
    )
    .await?;
    Ok((model, Touched::new("Task", id, unit_path)))
}

/// What a report is for: a task's work, or walk-in help given by a group outside any task
/// (at the cultural house, say).
#[derive(Debug, Clone, Copy)]
pub enum ReportFor {
    Task(i64),
    Group(i64),
}

/// A field report as the phone sends it.
#[derive(Debug, Clone)]
pub struct Report {
    pub idempotency_key: String,
    pub target: ReportFor,
    pub occurred_at: DateTime<Utc>,
    pub residents_helped: i64,
    pub outcomes: Vec<(OutcomeKind, i64)>,
    pub note: Option<String>,
}

/// What `reportActivity` returns, whether the report is new or a replay.
#[derive(Debug, Clone)]
pub struct Reported {
    pub activity: activity_e::Model,
    /// The task with its progress; `None` for a walk-in report.
    pub task: Option<task::Model>,
    /// False when the key had been seen already and nothing was stored.
    pub created: bool,
}

/// Hash of the report's content, so a replay can be told from a different report reusing a key.
fn report_hash(r: &Report, note: &Option<String>) -> String {
    let mut outcomes: Vec<(&str, i64)> = r.outcomes.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    outcomes.sort();
    // A task report hashes as it always has, so replays of reports stored before walk-ins
    // existed still match.
    let canonical = match r.target {
        ReportFor::Task(id) => serde_json::json!({
            "taskId": id,
            "occurredAt": r.occurred_at.timestamp_millis(),
            "residentsHelped": r.residents_helped,
            "outcomes": outcomes,
            "note": note,
        }),
        ReportFor::Group(id) => serde_json::json!({
            "groupId": id,
            "occurredAt": r.occurred_at.timestamp_millis(),
            "residentsHelped": r.residents_helped,
            "outcomes": outcomes,
            "note": note,
        }),
    };
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

pub async fn report_activity(
    db: &DatabaseConnection,
    p: &Principal,
    r: Report,
    max_residents: i64,
) -> ApiResult<Reported> {
    audit::authorize(db, p, Action::ReportActivity, "reportActivity").await?;
    let note = activity::validate_report(
        &r.idempotency_key,
        r.residents_helped,
        &r.outcomes,
        r.note.as_deref(),
        max_residents,
    )?;
    validate::occurred_at("occurredAt", r.occurred_at, Utc::now())?;
    // PostgreSQL keeps microseconds and checks the report's rules in SQL against the bound
    // value, which has lost the rest: the Rust rules must judge the same instant, and SQLite
    // stores it too, so both databases keep the same report. (The hash counts milliseconds, so
    // replays of earlier reports still match.)
    let r = Report {
        occurred_at: r.occurred_at.trunc_subsecs(6),
        ..r
    };
    let hash = report_hash(&r, &note);
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        return report_pg::report(db, p, &r, note, &hash).await;
    }
    let txn = write_txn(db).await?;
    let outcome = match report_in(&txn, p, &r, note, &hash).await {
        // The same report again: the original answer, and nothing written or audited.
        Ok(Filed::Before(reported)) => {
            txn.rollback().await?;
            return Ok(reported);
        }
        // Another request with the same key won the race between our look-up and our insert.
        Err(ApiError::Conflict(ref m)) if m == RACE => {
            txn.rollback().await?;
            return raced(db, p, &r, &hash).await;
        }
        Ok(Filed::Now(reported, touched)) => Ok((reported, touched)),
        Err(e) => Err(e),
    };
    audit::conclude(db, txn, p, "reportActivity", outcome).await
}

/// The answer to a report whose insert lost the race for its key to the same report sent
/// twice at once: the winner's.
async fn raced(
    db: &DatabaseConnection,
    p: &Principal,
    r: &Report,
    hash: &str,
) -> ApiResult<Reported> {
    replay(db, p, &r.idempotency_key, hash)
        .await?
        .ok_or_else(|| ApiError::Internal("idempotency race without a row".into()))
}

/// Inserts a report and its outcomes (SQLite; PostgreSQL writes them in
/// `report_pg`); the audit row is left to [`audit::conclude`].
async fn insert_activity(
    txn: &DatabaseTransaction,
    row: activity_e::ActiveModel,
    outcomes: &[(OutcomeKind, i64)],
    unit_path: &str,
) -> Result<(activity_e::Model, Touched), sea_orm::DbErr> {
    let activity = row.insert(txn).await?;
    if !outcomes.is_empty() {
        activity_outcome::Entity::insert_many(outcomes.iter().map(|(k, n)| {
            activity_outcome::ActiveModel {
                activity_id: Set(activity.id),
                kind: Set(*k),
                count: Set(*n as i32),
                ..Default::default()
            }
        }))
        .exec(txn)
        .await?;
    }
    let touched = Touched::new("Activity", activity.id, unit_path);
    Ok((activity, touched))
}

/// Adds a report's progress to its task (atomically in the database: concurrent reports never
/// lose each other's increments) and records the task's event; the task as it now is (SQLite;
/// PostgreSQL does this in `report_pg`).
async fn add_progress(
    txn: &DatabaseTransaction,
    task_id: i64,
    delta: i64,
    group_id: i64,
    unit_path: &str,
) -> Result<Option<task::Model>, sea_orm::DbErr> {
    let task = task::Entity::update_many()
        .col_expr(
            task::Column::Progress,
            Expr::col(task::Column::Progress).add(delta),
        )
        .col_expr(task::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(task::Column::Id.eq(task_id))
        .exec_with_returning(txn)
        .await?
        .pop();
    if task.is_some() {
        events::record(
            txn,
            TaskEventKind::ActivityReported,
            task_id,
            group_id,
            unit_path,
        )
        .await?;
    }
    Ok(task)
}

const RACE: &str = "idempotency-race";

/// Reports made by the principal: keys are unique per reporting user (the system actor, which
/// has no user row, reports as `NULL`).
fn reported_by(p: &Principal) -> Condition {
    let col = activity_e::Column::ReportedByUserId;
    Condition::all().add(match p.user_ref() {
        Some(id) => col.eq(id),
        None => col.is_null(),
    })
}

/// The principal's own earlier report under `key`, if any: the same content is answered with
/// the original, other content with `CONFLICT`. Only the caller's own reports are looked at, so
/// neither answer says anything about anyone else's.
async fn replay(
    db: &DatabaseConnection,
    p: &Principal,
    key: &str,
    hash: &str,
) -> ApiResult<Option<Reported>> {
    let Some(existing) = activity_e::Entity::find()
        .filter(activity_e::Column::IdempotencyKey.eq(key))
        .filter(reported_by(p))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if existing.request_hash != hash {
        return Err(ApiError::Conflict(
            "this idempotency key was already used for a different report".to_owned(),
        ));
    }
    // Same content: the same answer, provided the caller may see it (else it is not theirs).
    let task = match existing.task_id {
        Some(id) => Some(
            task::Entity::find_by_id(id)
                .filter(scope::tasks(p))
                .one(db)
                .await?
                .ok_or(ApiError::NotFound("task"))?,
        ),
        None => {
            group::Entity::find_by_id(existing.group_id)
                .filter(scope::groups(p))
                .one(db)
                .await?
                .ok_or(ApiError::NotFound("group"))?;
            None
        }
    };
    Ok(Some(Reported {
        activity: existing,
        task,
        created: false,
    }))
}

/// Refuses a report for a task that no longer takes reports. Work done while the task was open
/// still counts when the phone could only send it after the task was completed (offline in the
/// field): judged by when it happened, not when it arrived.
fn refuse_unreportable(task: &task::Model, occurred_at: DateTime<Utc>) -> ApiResult<()> {
    let done_before_completion = task.status == TaskStatus::Done
        && task.completed_at.is_some_and(|done| occurred_at <= done);
    if rules::accepts_activity(task.status) || done_before_completion {
        return Ok(());
    }
    let why = match task.completed_at {
        Some(done) if task.status == TaskStatus::Done => format!(
            "the task was completed at {}; only work done before then can still be reported",
            done.to_rfc3339()
        ),
        _ => format!("the task is {} and accepts no more reports", task.status),
    };
    Err(ApiError::bad_input("taskId", why))
}

/// A report, filed now (with the object its audit row will name) or before (the same key and
/// content again).
enum Filed {
    Now(Reported, Touched),
    Before(Reported),
}

/// A report after its look-up and its rules: a replay of an earlier one, or a new one to write.
enum Prepared {
    Before(Reported),
    New(NewReport),
}

/// What writing a new report needs.
struct NewReport {
    /// The task as the look-up read it; `None` for walk-in help.
    task: Option<task::Model>,
    group_id: i64,
    /// The group's unit path, which the event and the audit row carry.
    unit_path: String,
    /// What the report adds to the task's progress.
    delta: i64,
    /// The activity row, every column but its id set.
    activity: activity_e::ActiveModel,
}

/// What a report must know before it writes, read in one statement: the task (or, for walk-in
/// help, the group) inside the caller's scope, its group, and the caller's own earlier report
/// under the same key. Scope comes first: a target the caller cannot see is `None` whatever
/// key comes with it, exactly as for a fresh key.
struct Target {
    task: Option<task::Model>,
    group_id: i64,
    group_name: String,
    group_unit_path: String,
    group_status: cdtg_core::group::GroupStatus,
    /// The id and content hash of the caller's earlier report under this key.
    earlier: Option<(i64, String)>,
}

async fn target_of(
    conn: &impl sea_orm::ConnectionTrait,
    p: &Principal,
    r: &Report,
) -> ApiResult<Option<Target>> {
    use sea_orm::sea_query::{Alias, Query};
    use sea_orm::{FromQueryResult, Iterable};

    let g = group::Entity;
    let earlier = |col: activity_e::Column| {
        Expr::expr(
            Query::select()
                .column(col)
                .from(activity_e::Entity)
                .and_where(activity_e::Column::IdempotencyKey.eq(r.idempotency_key.as_str()))
                .cond_where(reported_by(p))
                .to_owned(),
        )
    };
    let mut q = Query::select();
    q.expr_as(
        Expr::col((g, group::Column::Id)),
        Alias::new("target_group_id"),
    )
    .expr_as(
        Expr::col((g, group::Column::Name)),
        Alias::new("target_group_name"),
    )
    .expr_as(
        Expr::col((g, group::Column::UnitPath)),
        Alias::new("target_group_unit_path"),
    )
    .expr_as(
        Expr::col((g, group::Column::Status)),
        Alias::new("target_group_status"),
    )
    .expr_as(earlier(activity_e::Column::Id), Alias::new("earlier_id"))
    .expr_as(
        earlier(activity_e::Column::RequestHash),
        Alias::new("earlier_hash"),
    );
    match r.target {
        ReportFor::Task(id) => {
            q.columns(task::Column::iter().map(|c| (task::Entity, c)))
                .from(task::Entity)
                .inner_join(
                    group::Entity,
                    Expr::col((g, group::Column::Id)).equals((task::Entity, task::Column::GroupId)),
                )
                .and_where(Expr::col((task::Entity, task::Column::Id)).eq(id))
                .cond_where(scope::tasks(p));
        }
        ReportFor::Group(id) => {
            q.from(group::Entity)
                .and_where(Expr::col((g, group::Column::Id)).eq(id))
                .cond_where(scope::groups(p));
        }
    }
    let Some(row) = conn.query_one(&q).await? else {
        return Ok(None);
    };
    let task = match r.target {
        ReportFor::Task(_) => Some(task::Model::from_query_result(&row, "")?),
        ReportFor::Group(_) => None,
    };
    let earlier_id: Option<i64> = row.try_get("", "earlier_id")?;
    let earlier_hash: Option<String> = row.try_get("", "earlier_hash")?;
    Ok(Some(Target {
        task,
        group_id: row.try_get("", "target_group_id")?,
        group_name: row.try_get("", "target_group_name")?,
        group_unit_path: row.try_get("", "target_group_unit_path")?,
        group_status: row.try_get("", "target_group_status")?,
        earlier: earlier_id.zip(earlier_hash),
    }))
}

/// The activity row of a new report, every column set but the four that depend on its target
/// as the database holds it: the id, the task, the group and the progress delta.
fn activity_row(
    p: &Principal,
    r: &Report,
    note: Option<String>,
    hash: &str,
) -> activity_e::ActiveModel {
    let vneid = activity::vneid_activations(&r.outcomes);
    activity_e::ActiveModel {
        member_id: Set(if p.role.is_group_scoped() {
            p.member_id
        } else {
            None
        }),
        reported_by_user_id: Set(p.user_ref()),
        occurred_at: Set(r.occurred_at),
        residents_helped: Set(r.residents_helped as i32),
        vneid_activations: Set(vneid as i32),
        note: Set(note),
        idempotency_key: Set(r.idempotency_key.clone()),
        request_hash: Set(hash.to_owned()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
}

/// Reads what a report must know (one statement) and applies its rules: the earlier report
/// under its key (a replay reads it, one statement more), or the new report to write.
async fn prepare_report(
    conn: &impl sea_orm::ConnectionTrait,
    p: &Principal,
    r: &Report,
    note: Option<String>,
    hash: &str,
) -> ApiResult<Prepared> {
    let Some(target) = target_of(conn, p, r).await? else {
        return Err(match r.target {
            ReportFor::Task(_) => ApiError::NotFound("task"),
            ReportFor::Group(_) => ApiError::NotFound("group"),
        });
    };
    if let Some((earlier, earlier_hash)) = &target.earlier {
        if earlier_hash != hash {
            return Err(ApiError::Conflict(
                "this idempotency key was already used for a different report".to_owned(),
            ));
        }
        let activity = activity_e::Entity::find_by_id(*earlier)
            .one(conn)
            .await?
            .ok_or_else(|| ApiError::Internal("an earlier report vanished".into()))?;
        return Ok(Prepared::Before(Reported {
            activity,
            task: target.task,
            created: false,
        }));
    }
    match &target.task {
        Some(task) => refuse_unreportable(task, r.occurred_at)?,
        None if target.group_status == cdtg_core::group::GroupStatus::Inactive => {
            return Err(ApiError::bad_input(
                "groupId",
                format!(
                    "{} is archived (INACTIVE) and takes no new reports",
                    target.group_name
                ),
            ));
        }
        None => {}
    }
    let task = target.task;
    // Walk-in help moves no task's progress.
    let delta = task.as_ref().map_or(0, |t| {
        activity::progress_delta(t.kind, r.residents_helped, &r.outcomes)
    });
    let mut activity = activity_row(p, r, note, hash);
    activity.task_id = Set(task.as_ref().map(|t| t.id));
    activity.group_id = Set(target.group_id);
    activity.progress_delta = Set(delta);
    Ok(Prepared::New(NewReport {
        task,
        group_id: target.group_id,
        unit_path: target.group_unit_path,
        delta,
        activity,
    }))
}

/// Files a report in `txn` (SQLite): the look-up, the task's progress and its event, the
/// activity and its outcomes — five statements, the audit row following in
/// [`audit::conclude`]; a replay is the look-up and the earlier report.
async fn report_in(
    txn: &DatabaseTransaction,
    p: &Principal,
    r: &Report,
    note: Option<String>,
    hash: &str,
) -> ApiResult<Filed> {
    let new = match prepare_report(txn, p, r, note, hash).await? {
        Prepared::Before(reported) => return Ok(Filed::Before(reported)),
        Prepared::New(new) => new,
    };
    let task = match &new.task {
        Some(t) => Some(
            add_progress(txn, t.id, new.delta, new.group_id, &new.unit_path)
                .await?
                .ok_or(ApiError::NotFound("task"))?,
        ),
        None => None,
    };
    let (activity, touched) =
        match insert_activity(txn, new.activity, &r.outcomes, &new.unit_path).await {
            Ok(inserted) => inserted,
            Err(e) if is_unique_violation(&e) => {
                return Err(ApiError::Conflict(RACE.to_owned()));
            }
            Err(e) => return Err(e.into()),
        };
    Ok(Filed::Now(
        Reported {
            activity,
            task,
            created: true,
        },
        touched,
    ))
}
