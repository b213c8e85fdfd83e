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

#[Subscription]
impl SubscriptionRoot {
    /// Task events for one group (or every group in your scope). The stream ends when the
    /// token expires or the account is disabled.
    async fn task_events(
        &self,
        ctx: &Context<'_>,
        group_id: Option<ID>,
    ) -> Result<impl Stream<Item = TaskEvent> + use<>> {
        let p = principal(ctx)?.clone();
        cdtg_core::policy::allows(p.role, cdtg_core::policy::Action::ReadTasks)
            .then_some(())
            .ok_or(crate::error::ApiError::forbidden("role may not read tasks"))?;
        let group_filter = match &group_id {
            None => None,
            Some(id) => Some(decode(NodeType::Group, id).unwrap_or(-1)),
        };
        let db = db(ctx).clone();
        let mut rx = state(ctx).events.subscribe();
        let expires_at = ctx.data_opt::<crate::graphql::SessionExpiry>().map(|e| e.0);
        Ok(async_stream::stream! {
            loop {
                let msg = match rx.recv().await {
                    Ok(m) => m,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => break,
                };
                if expires_at.is_some_and(|exp| chrono::Utc::now().timestamp() >= exp) {
                    break;
                }
                if group_filter.is_some_and(|g| g != msg.group_id) {
                    continue;
                }
                if !scope::group_in_scope(&p, msg.group_id, &msg.unit_path) {
                    continue;
                }
                // The account may have been disabled since the subscription started.
                match crate::service::users::get(&db, p.user_id).await {
                    Ok(Some(u)) if !u.disabled => {}
                    _ => break,
                }
                if let Ok(Some(t)) = tasks::get(&db, &p, msg.task_id).await {
                    yield TaskEvent { kind: msg.kind, task: Task(t) };
                }
            }
        })
    }
}
