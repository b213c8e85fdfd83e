//! The subscription root: `taskEvents`, over graphql-transport-ws on `/graphql`.

use async_graphql::{Context, ID, Result, SimpleObject, Subscription};
use futures_util::Stream;

use super::context::{db, principal, state};
use super::objects::Task;
use crate::events::TaskEventKind;
use crate::ids::{NodeType, decode};
use crate::service::{scope, tasks};

/// Something happened to a task you may see.
#[derive(SimpleObject, Clone)]
pub struct TaskEvent {
    pub kind: TaskEventKind,
    /// The task as it is now.
    pub task: Task,
}

pub struct SubscriptionRoot;

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Task events for one group (or every group in your scope). The socket closes (4403) when
    /// the token expires, or the account is disabled, changed or held (its unit merged away).
    async fn task_events(
        &self,
        ctx: &Context<'_>,
        group_id: Option<ID>,
    ) -> Result<impl Stream<Item = TaskEvent> + use<>> {
        let p = principal(ctx)?.clone();
        tasks::authorize_events(&p)?;
        let group_filter = group_id
            .as_ref()
            .map(|id| decode(NodeType::Group, id).unwrap_or(-1));
        let db = db(ctx).clone();
        let mut rx = state(ctx).events.subscribe();
        let metrics = state(ctx).metrics.clone();
        Ok(async_stream::stream! {
            // Counted while the stream lives, however it ends (expiry, disable, disconnect).
            let _active = ActiveSubscription::new(metrics);
            loop {
                let msg = match rx.recv().await {
                    Ok(m) => m,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => break,
                };
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
                    yield TaskEvent { kind: msg.kind, task: Task(t) };
                }
            }
        })
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
