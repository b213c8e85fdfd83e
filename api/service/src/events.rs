//! Task events: a log in the database and live delivery to `taskEvents` subscribers.
//!
//! Every event is written to `task_events` in the transaction of the change it reports
//! ([`record`]), so an event exists exactly when its change committed, and its id orders it.
//! Delivery is live where it can be and read from the log where it must be:
//!
//! - On PostgreSQL the insert also calls `pg_notify`, which PostgreSQL delivers at commit; every
//!   instance LISTENs and rebroadcasts to its own subscribers, so a subscriber on any instance
//!   behind a load balancer sees changes made through all of them. After the listening session
//!   is lost (the primary restarted), subscribers catch up from the log.
//! - On SQLite (one process) the writer wakes local subscribers after commit ([`EventBus::committed`]),
//!   and they read what is new from the log.
//! - A subscriber that reconnects passes the last id it received and gets everything after it
//!   from the log first ([`resume`]).
//!
//! Events carry only ids and the group's unit path; subscribers re-read the task through the
//! service layer with their own scope before anything is sent.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::entity::task_event;

pub const CHANNEL: &str = "cdtg_task_events";

/// How long the log keeps events: a subscriber away for longer re-reads its tasks instead.
pub const RETENTION: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// How far before the resume point a resumed subscription replays. Ids are taken when a
/// transaction writes and become visible when it commits, so on PostgreSQL an event with a
/// smaller id can commit after one with a larger id. Any transaction of ours ends within the
/// request deadline (10 s by default), so replaying events that happened up to this long before
/// the resume point covers those late commits; the client skips ids it has already seen.
pub const RESUME_OVERLAP: Duration = Duration::from_secs(30);

/// The most events one resumed subscription replays: a client further behind re-queries.
pub const MAX_REPLAY: u64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskEventKind {
    /// A task was created for the group.
    Assigned,
    /// Its details changed.
    Updated,
    /// Its status changed.
    Transitioned,
    /// A field report was recorded on it (its progress changed).
    ActivityReported,
}

impl TaskEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskEventKind::Assigned => "ASSIGNED",
            TaskEventKind::Updated => "UPDATED",
            TaskEventKind::Transitioned => "TRANSITIONED",
            TaskEventKind::ActivityReported => "ACTIVITY_REPORTED",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            TaskEventKind::Assigned,
            TaskEventKind::Updated,
            TaskEventKind::Transitioned,
            TaskEventKind::ActivityReported,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One event as the log holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskEventMessage {
    pub id: i64,
    pub kind: TaskEventKind,
    pub task_id: i64,
    pub group_id: i64,
    pub unit_path: String,
    pub occurred_at: DateTime<Utc>,
}

impl TaskEventMessage {
    fn from_row(m: task_event::Model) -> Option<Self> {
        Some(TaskEventMessage {
            id: m.id,
            kind: TaskEventKind::parse(&m.kind)?,
            task_id: m.task_id,
            group_id: m.group_id,
            unit_path: m.unit_path,
            occurred_at: m.occurred_at,
        })
    }
}

/// What local subscribers hear.
#[derive(Debug, Clone)]
pub enum Signal {
    /// A committed event, as PostgreSQL delivered it.
    Event(TaskEventMessage),
    /// Something may have been committed that was not delivered: read the log.
    CatchUp,
}

/// Writes an event in the caller's transaction; on PostgreSQL the notification goes out with
/// the commit, in the same statement as the insert.
pub async fn record<C: ConnectionTrait>(
    txn: &C,
    kind: TaskEventKind,
    task_id: i64,
    group_id: i64,
    unit_path: &str,
) -> Result<(), DbErr> {
    let now = Utc::now();
    match txn.get_database_backend() {
        DatabaseBackend::Postgres => {
            let sql = format!(
                "WITH e AS (INSERT INTO task_events (kind, task_id, group_id, unit_path, occurred_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING *) {}",
                pg_notify_select("e")
            );
            txn.execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                sql,
                [
                    kind.as_str().into(),
                    task_id.into(),
                    group_id.into(),
                    unit_path.into(),
                    now.into(),
                ],
            ))
            .await?;
        }
        _ => {
            task_event::ActiveModel {
                kind: Set(kind.as_str().to_owned()),
                task_id: Set(task_id),
                group_id: Set(group_id),
                unit_path: Set(unit_path.to_owned()),
                occurred_at: Set(now),
                ..Default::default()
            }
            .insert(txn)
            .await?;
        }
    }
    Ok(())
}

/// On PostgreSQL: `SELECT pg_notify(…) FROM <cte>`, announcing each `task_events` row that the
/// data-modifying CTE `cte` inserted (`RETURNING *`). In the statement of the insert, so the
/// notification is delivered exactly when the event commits. For statements that write the
/// event beside other work (a field report's progress).
pub(crate) fn pg_notify_select(cte: &str) -> String {
    format!(
        "SELECT pg_notify('{CHANNEL}', json_build_object('id', {cte}.id, 'kind', {cte}.kind, \
         'task_id', {cte}.task_id, 'group_id', {cte}.group_id, 'unit_path', {cte}.unit_path, \
         'occurred_at', {cte}.occurred_at)::text) FROM {cte}"
    )
}

/// Events after `after`, oldest first, at most `limit`.
pub async fn after(
    db: &DatabaseConnection,
    after: i64,
    limit: u64,
) -> Result<Vec<TaskEventMessage>, DbErr> {
    let rows = task_event::Entity::find()
        .filter(task_event::Column::Id.gt(after))
        .order_by_asc(task_event::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok(messages(rows))
}

fn messages(rows: Vec<task_event::Model>) -> Vec<TaskEventMessage> {
    rows.into_iter()
        .filter_map(TaskEventMessage::from_row)
        .collect()
}

/// What a subscriber resuming after event `last` must be sent: every event after it, and those
/// that happened up to [`RESUME_OVERLAP`] before it (see there); oldest first, at most
/// [`MAX_REPLAY`]. An id the log no longer holds (pruned) replays from the oldest kept.
pub async fn resume(db: &DatabaseConnection, last: i64) -> Result<Vec<TaskEventMessage>, DbErr> {
    let at = task_event::Entity::find_by_id(last)
        .one(db)
        .await?
        .map(|e| e.occurred_at);
    let mut query = task_event::Entity::find();
    query = match at {
        Some(at) => {
            let from = at - chrono::Duration::from_std(RESUME_OVERLAP).unwrap_or_default();
            query.filter(
                sea_orm::Condition::any()
                    .add(task_event::Column::Id.gt(last))
                    .add(task_event::Column::OccurredAt.gte(from)),
            )
        }
        None => query.filter(task_event::Column::Id.gt(last)),
    };
    let rows = query
        .order_by_asc(task_event::Column::Id)
        .limit(MAX_REPLAY)
        .all(db)
        .await?;
    Ok(messages(rows))
}

/// The newest event's id (0 when the log is empty): where a fresh subscription starts.
pub async fn latest_id(db: &DatabaseConnection) -> Result<i64, DbErr> {
    let newest = task_event::Entity::find()
        .order_by_desc(task_event::Column::Id)
        .one(db)
        .await?;
    Ok(newest.map_or(0, |e| e.id))
}

/// Deletes events older than [`RETENTION`] (called by a background task).
pub async fn prune(db: &DatabaseConnection) -> Result<u64, DbErr> {
    let before = Utc::now() - chrono::Duration::from_std(RETENTION).unwrap_or_default();
    let done = task_event::Entity::delete_many()
        .filter(task_event::Column::OccurredAt.lt(before))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}

#[derive(Clone)]
pub struct EventBus {
    backend: DatabaseBackend,
    local: broadcast::Sender<Signal>,
}

impl EventBus {
    /// Creates the bus; on PostgreSQL also starts the LISTEN loop that feeds local subscribers.
    pub async fn start(db: DatabaseConnection) -> Self {
        let (local, _) = broadcast::channel(1024);
        let bus = EventBus {
            backend: db.get_database_backend(),
            local,
        };
        if bus.backend == DatabaseBackend::Postgres {
            let pool = db.get_postgres_connection_pool().clone();
            let sender = bus.local.clone();
            tokio::spawn(async move { listen_forever(pool, sender).await });
        }
        bus
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Signal> {
        self.local.subscribe()
    }

    /// Called after a change that recorded events committed. PostgreSQL has delivered them
    /// already; on SQLite local subscribers are told to read the log.
    pub fn committed(&self) {
        if self.backend != DatabaseBackend::Postgres {
            // No receivers is fine: nobody is subscribed.
            let _ = self.local.send(Signal::CatchUp);
        }
    }
}

async fn listen_forever(pool: sea_orm::sqlx::PgPool, sender: broadcast::Sender<Signal>) {
    use sea_orm::sqlx::postgres::PgListener;
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "task event listener: connect failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %e, "task event listener: LISTEN failed; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        // Events committed while nobody listened are in the log.
        let _ = sender.send(Signal::CatchUp);
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => match serde_json::from_str::<TaskEventMessage>(n.payload()) {
                    Ok(msg) => {
                        let _ = sender.send(Signal::Event(msg));
                    }
                    Err(e) => tracing::warn!(error = %e, "task event listener: bad payload"),
                },
                // The connection was lost: listen again on a new one, then catch up from the
                // log, which holds whatever was committed in between.
                Ok(None) => {
                    tracing::warn!("task event listener: connection lost; reconnecting");
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "task event listener: failed; reconnecting");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            }
        }
    }
}
