//! The subscription root: `taskEvents`, over graphql-transport-ws on `/graphql`.

use crate::graphql::errors::Result;
use async_graphql::{Context, ID, SimpleObject, Subscription};
use futures_util::Stream;

use super::context::{db, principal, state};
use super::enums::TaskEventKind;
use super::objects::Task;
use crate::error::ApiError;
use crate::events::{self, Signal, TaskEventMessage};
use crate::ids::{NodeType, decode};
use crate::service::{scope, tasks};

/// Something happened to a task you may see.
#[derive(SimpleObject, Clone)]
pub struct TaskEvent {
    /// Increasing. After a lost connection, subscribe again with `after:` the last id you
    /// received, on any instance, to get what you missed.
    pub id: ID,
    pub kind: TaskEventKind,
    /// When it happened.
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    /// The task as it is now.
    pub task: Task,
}

pub struct SubscriptionRoot;

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Task events for one group (or every group in your scope). The socket closes (4403) when
    /// the token expires, or the account is disabled, changed or held (its unit merged away).
    ///
    /// `after`: the id of the last event you received. Everything committed since is sent
    /// first, then live events. Events that happened up to 30 seconds before it may be sent
    /// again (a change can commit after a later one took its id): skip ids you have seen. The
    /// log keeps 7 days.
    async fn task_events(
        &self,
        ctx: &Context<'_>,
        group_id: Option<ID>,
        after: Option<ID>,
    ) -> Result<impl Stream<Item = TaskEvent> + use<>> {
        let p = principal(ctx)?.clone();
        tasks::authorize_events(&p)?;
        let group_filter = group_id
            .as_ref()
            .map(|id| decode(NodeType::Group, id).unwrap_or(-1));
        let after = after
            .map(|id| {
                id.parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| ApiError::bad_input("after", "is not an event id"))
            })
            .transpose()?;
        let db = db(ctx).clone();
        // Subscribed before the log is read, so nothing committed in between is missed.
        let mut rx = state(ctx).events.subscribe();
        let metrics = state(ctx).metrics.clone();
        let (mut cursor, replay) = match after {
            Some(last) => (
                last,
                events::resume(&db, last).await.map_err(ApiError::from)?,
            ),
            None => (
                events::latest_id(&db).await.map_err(ApiError::from)?,
                Vec::new(),
            ),
        };
        Ok(async_stream::stream! {
            // Counted while the stream lives, however it ends (expiry, disable, disconnect).
            let _active = ActiveSubscription::new(metrics);
            let mut seen = Seen::default();
            // A full batch from the log may have left more behind it: read on before waiting.
            let mut more = replay.len() as u64 == events::MAX_REPLAY;
            let mut pending: std::collections::VecDeque<TaskEventMessage> = replay.into();
            loop {
                let Some(msg) = pending.pop_front() else {
                    let catch_up = more || match rx.recv().await {
                        Ok(Signal::Event(m)) => {
                            pending.push_back(m);
                            false
                        }
                        Ok(Signal::CatchUp)
                        | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => true,
                        Err(_) => break,
                    };
                    if catch_up {
                        match events::after(&db, cursor, CATCH_UP_BATCH).await {
                            Ok(found) => {
                                more = found.len() as u64 == CATCH_UP_BATCH;
                                pending.extend(found);
                            }
                            Err(e) => {
                                more = false;
                                tracing::warn!(error = %e, "task events: reading the log failed");
                            }
                        }
                    }
                    continue;
                };
                if !seen.first_time(msg.id) {
                    continue;
                }
                cursor = cursor.max(msg.id);
                if group_filter.is_some_and(|g| g != msg.group_id) {
                    continue;
                }
                if !scope::group_in_scope(&p, msg.group_id, &msg.unit_path) {
                    continue;
                }
                // The account may have been disabled or held, or its session or key ended, a
                // moment ago, before the socket watcher closed the connection: never deliver
                // past that.
                if !crate::auth::still_valid(&db, &p).await {
                    break;
                }
                if let Ok(Some(t)) = tasks::get(&db, &p, msg.task_id).await {
                    yield TaskEvent {
                        id: ID(msg.id.to_string()),
                        kind: msg.kind.into(),
                        occurred_at: msg.occurred_at,
                        task: Task(t),
                    };
                }
            }
        })
    }
}

/// Events read from the log at a time when a subscriber catches up.
const CATCH_UP_BATCH: u64 = 1000;

/// The ids a subscription delivered lately, so that an event both replayed from the log and
/// heard live is sent once. Bounded: only the newest ids can come twice.
#[derive(Default)]
struct Seen {
    ids: std::collections::HashSet<i64>,
    order: std::collections::VecDeque<i64>,
}

impl Seen {
    const KEEP: usize = 4096;

    fn first_time(&mut self, id: i64) -> bool {
        if !self.ids.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > Self::KEEP
            && let Some(old) = self.order.pop_front()
        {
            self.ids.remove(&old);
        }
        true
    }
}

/// Keeps the `cdtg_subscriptions` gauge right: +1 on creation, -1 on drop.
struct ActiveSubscription(std::sync::Arc<crate::metrics::Metrics>);

impl ActiveSubscription {
    fn new(metrics: std::sync::Arc<crate::metrics::Metrics>) -> Self {
        metrics.subscription_started();
        ActiveSubscription(metrics)
    }
}

impl Drop for ActiveSubscription {
    fn drop(&mut self) {
        self.0.subscription_ended();
    }
}
