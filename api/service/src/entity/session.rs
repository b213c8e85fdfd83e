//! The `sessions` table: one signed-in device. Access tokens name it (`sid`); its refresh
//! tokens are its family.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: i64,
    /// What the client said it is (`LoginInput.device`), else its User-Agent.
    pub device: Option<String>,
    pub address: Option<String>,
    pub created_at: DateTimeUtc,
    pub last_used_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    /// Why it ended: `logout`, `revoked`, `password_changed`, `password_reset`, `disabled`,
    /// `account_changed`, `refresh_reuse`.
    pub revoked_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
