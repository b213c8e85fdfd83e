//! The `groups` table.

use sea_orm::entity::prelude::*;

use cdtg_core::group::{GroupKind, GroupStatus};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "groups")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// `cdtg_core::text::sort_key(name)`: lists sort by it.
    pub name_key: String,
    pub name_folded: String,
    pub kind: GroupKind,
    pub unit_id: i64,
    pub unit_path: String,
    pub established_on: Option<Date>,
    pub decision_number: Option<String>,
    pub zalo_url: Option<String>,
    pub status: GroupStatus,
    pub leader_member_id: Option<i64>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

super::changes_principals!();
