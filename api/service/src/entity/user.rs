//! The `users` table.

use sea_orm::entity::prelude::*;

use cdtg_core::policy::Role;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub scope_unit_id: Option<i64>,
    pub scope_group_id: Option<i64>,
    pub member_id: Option<i64>,
    pub disabled: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The person's name as colleagues know it ("Nguyễn Văn An"); optional.
    pub display_name: Option<String>,
    /// Accent-folded username and display name, for search.
    pub search_key: String,
    /// Set by an administrator's reset: the one-time password must be replaced before anything
    /// else works.
    pub must_change_password: bool,
    /// When the one-time password was used to sign in: it does not work a second time.
    pub one_time_password_used_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

super::changes_principals!();
