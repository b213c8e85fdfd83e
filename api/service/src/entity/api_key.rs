//! The `api_keys` table: an integrator's credential, stored as the SHA-256 of its secret.

use sea_orm::entity::prelude::*;

use cdtg_core::policy::Role;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// The first characters of the secret after `cdtg_`, to recognise a key in a list.
    pub prefix: String,
    pub secret_hash: String,
    pub role: Role,
    pub scope_unit_id: i64,
    /// Whether the key may run mutations (otherwise queries and subscriptions only).
    pub can_write: bool,
    pub created_by_user_id: i64,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

super::changes_principals!();
