//! The `unit_moves` table: where a group or member was before a merge or re-parenting moved it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "unit_moves")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `GROUP` or `MEMBER`.
    pub object_type: String,
    pub object_id: i64,
    pub from_unit_id: i64,
    pub to_unit_id: i64,
    /// The object's unit path before the move: statistics as of an earlier day use it.
    pub from_path: String,
    /// The first day the object counts in its new place.
    pub effective_on: Date,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
