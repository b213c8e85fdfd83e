//! The Relay `Node` interface and `node(id:)` routing. Each type is fetched through its service
//! with the caller's scope, so `node` can never see more than the typed lookups.

use async_graphql::{Context, ID, Interface};

use super::context::{db, loader, principal};
use super::loaders::{GroupById, MemberById, ProductById, TaskById, UnitById};
use super::objects::*;
use crate::error::ApiResult;
use crate::ids::{NodeType, decode_any};
use crate::service::{audit, members, products, tasks};

#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Opaque global identifier."))]
pub enum Node {
    AdminUnit(AdminUnit),
    Group(Group),
    Member(Member),
    Membership(Membership),
    Task(Task),
    Activity(Activity),
    Product(Product),
    Listing(Listing),
    UnitSurvey(UnitSurvey),
    User(User),
    AuditEvent(AuditEvent),
    ApiKey(ApiKey),
}

pub async fn resolve(ctx: &Context<'_>, id: &ID) -> ApiResult<Option<Node>> {
    let Some((node_type, row)) = decode_any(id) else {
        return Ok(None);
    };
    let p = principal(ctx)?;
    let l = loader(ctx)?;
    let db = db(ctx);
    Ok(match node_type {
        NodeType::AdminUnit => l
            .load_one(UnitById(row))
            .await?
            .map(|m| Node::AdminUnit(AdminUnit(m))),
        NodeType::Group => l
            .load_one(GroupById(row))
            .await?
            .map(|m| Node::Group(Group(m))),
        NodeType::Member => l
            .load_one(MemberById(row))
            .await?
            .map(|m| Node::Member(Member(m))),
        NodeType::Task => l
            .load_one(TaskById(row))
            .await?
            .map(|m| Node::Task(Task(m))),
        NodeType::Product => l
            .load_one(ProductById(row))
            .await?
            .map(|m| Node::Product(Product(m))),
        NodeType::Membership => members::memberships_by_id(db, p, row)
            .await?
            .map(|m| Node::Membership(Membership(m))),
        NodeType::Activity => hidden_if_denied(tasks::get_activity(db, p, row).await)?
            .map(|m| Node::Activity(Activity(m))),
        NodeType::Listing => hidden_if_denied(products::get_listing(db, p, row).await)?
            .map(|m| Node::Listing(Listing(m))),
        NodeType::UnitSurvey => crate::service::surveys::get(db, p, row)
            .await?
            .map(|m| Node::UnitSurvey(UnitSurvey(m))),
        NodeType::User => crate::service::users::get_visible(db, p, row)
            .await?
            .map(|m| Node::User(User(m))),
        NodeType::AuditEvent => audit::get(db, p, row)
            .await?
            .map(|m| Node::AuditEvent(AuditEvent(m))),
        NodeType::ApiKey => crate::service::api_keys::get(db, p, row)
            .await?
            .map(|m| Node::ApiKey(ApiKey(m))),
    })
}

/// A type the caller's role may not read looks, through `node`, like a missing object; any other
/// failure (the database, say) is still an error.
fn hidden_if_denied<T>(result: ApiResult<Option<T>>) -> ApiResult<Option<T>> {
    match result {
        Err(crate::error::ApiError::Forbidden(_)) => Ok(None),
        other => other,
    }
}
