//! Live task events. Mutations publish; `taskEvents` subscriptions receive.
//!
//! On SQLite (one process) events go through an in-process broadcast channel. On PostgreSQL they
//! go through `NOTIFY cdtg_task_events`, and every instance LISTENs and rebroadcasts locally, so a
//! subscriber connected to any instance behind a load balancer sees events from all of them.
//! Events carry only ids and the group's unit path; subscribers re-read the task through the
//! service layer with their own scope before anything is sent.

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, Statement};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::entity::{group, task};

pub const CHANNEL: &str = "cdtg_task_events";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskEventMessage {
    pub kind: TaskEventKind,
    pub task_id: i64,
    pub group_id: i64,
    pub unit_path: String,
}

#[derive(Clone)]
pub struct EventBus {
    db: DatabaseConnection,
    local: broadcast::Sender<TaskEventMessage>,
}

impl EventBus {
    /// Creates the bus; on PostgreSQL also starts the LISTEN loop that feeds local subscribers.
    pub async fn start(db: DatabaseConnection) -> Self {
        let (local, _) = broadcast::channel(1024);
        let bus = EventBus {
            db: db.clone(),
            local,
        };
        if db.get_database_backend() == DatabaseBackend::Postgres {
            let pool = db.get_postgres_connection_pool().clone();
            let sender = bus.local.clone();
            tokio::spawn(async move { listen_forever(pool, sender).await });
        }
        bus
    }

    pub fn subscribe(&self) -> broadcast::Receiver<TaskEventMessage> {
        self.local.subscribe()
    }

    /// Publishes after a committed change. Best effort: a lost event never fails the mutation
    /// (clients re-query on reconnect), but it is logged.
    pub async fn publish(&self, kind: TaskEventKind, t: &task::Model) {
        let unit_path = match group::Entity::find_by_id(t.group_id).one(&self.db).await {
            Ok(Some(g)) => g.unit_path,
            _ => return,
        };
        let msg = TaskEventMessage {
            kind,
            task_id: t.id,
            group_id: t.group_id,
            unit_path,
        };
        if self.db.get_database_backend() == DatabaseBackend::Postgres {
            let payload = serde_json::to_string(&msg).unwrap_or_default();
            let stmt = Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [CHANNEL.into(), payload.into()],
            );
            if let Err(e) = self.db.execute_raw(stmt).await {
                tracing::warn!(error = %e, "could not publish task event");
            }
        } else {
            // No receivers is fine: nobody is subscribed.
            let _ = self.local.send(msg);
        }
    }
}

async fn listen_forever(pool: sea_orm::sqlx::PgPool, sender: broadcast::Sender<TaskEventMessage>) {
    use sea_orm::sqlx::postgres::PgListener;
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "task event listener: connect failed; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %e, "task event listener: LISTEN failed; retrying");
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            continue;
        }
        loop {
            match listener.recv().await {
                Ok(n) => match serde_json::from_str::<TaskEventMessage>(n.payload()) {
                    Ok(msg) => {
                        let _ = sender.send(msg);
                    }
                    Err(e) => tracing::warn!(error = %e, "task event listener: bad payload"),
                },
                Err(e) => {
                    tracing::warn!(error = %e, "task event listener: connection lost; reconnecting");
                    break;
                }
            }
        }
    }
}
