//! GraphQL object types: thin wrappers over entity models whose nested edges go through the
//! request's DataLoader (and so through the service layer and its scope rules).

pub mod group;
pub mod member;
pub mod misc;
pub mod product;
pub mod task;
pub mod unit;

pub use group::{Group, GroupConnection};
pub use member::{Member, MemberConnection, Membership};
pub use misc::{
    ApiKey, AuditEvent, AuditEventConnection, DeviceSession, UnitSurvey, User, UserConnection,
};
pub use product::{Listing, ListingConnection, Product, ProductConnection};
pub use task::{Activity, ActivityConnection, ActivityRevision, Task, TaskConnection};
pub use unit::{AdminUnit, AdminUnitConnection};

use async_graphql::InputObject;

use crate::service::page::PageArgs;

/// Relay arguments as one value, for passing to the service layer.
pub fn page_args(
    first: Option<i64>,
    after: Option<String>,
    last: Option<i64>,
    before: Option<String>,
) -> PageArgs {
    PageArgs {
        first,
        after,
        last,
        before,
    }
}

/// A `search` filter as the service layer takes it: at most 100 characters, blank meaning no
/// filter. The error names `filter.search`, the path of the argument in every connection.
pub fn search_filter(search: Option<String>) -> Result<Option<String>, crate::error::ApiError> {
    Ok(cdtg_core::validate::search_text(
        "filter.search",
        search.as_deref(),
    )?)
}

/// Filter for groups under a unit (`AdminUnit.groups`).
#[derive(InputObject, Default, Clone)]
pub struct UnitGroupsFilter {
    pub kind: Option<super::enums::GroupKind>,
    pub status: Option<super::enums::GroupStatus>,
    /// Accent-insensitive text in the group name. At most 100 characters.
    pub search: Option<String>,
}
