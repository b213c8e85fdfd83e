//! SeaORM entities, one module per table. They mirror `cdtg-migrations`; relations are expressed
//! as explicit filters in the service layer, which is also where the caller's scope is applied.
//!
//! Columns with a closed vocabulary (kinds, statuses, roles, …) hold the core's enums, stored as
//! their SCREAMING_SNAKE_CASE text (`cdtg-core`'s `sea-orm` feature). Text that names no value —
//! written by a newer version, or by hand — makes the row fail to load with an internal error
//! naming the type and the text; a filter or aggregate that must survive such rows compares the
//! column with the known spellings instead.

/// The `ActiveModelBehavior` of a table whose rows make up a signed-in caller (accounts, units,
/// groups, API keys): every save makes the cached principals stale (`auth::cache`), so a change
/// made through this instance is in force on its next request.
macro_rules! changes_principals {
    () => {
        #[async_trait::async_trait]
        impl ActiveModelBehavior for ActiveModel {
            async fn after_save<C>(model: Model, _db: &C, _insert: bool) -> Result<Model, DbErr>
            where
                C: ConnectionTrait,
            {
                crate::auth::cache::accounts_changed();
                Ok(model)
            }
        }
    };
}
use changes_principals;

pub mod activity;
pub mod activity_outcome;
pub mod activity_revision;
pub mod admin_unit;
pub mod api_key;
pub mod audit_event;
pub mod group;
pub mod group_target;
pub mod listing;
pub mod member;
pub mod membership;
pub mod product;
pub mod refresh_token;
pub mod session;
pub mod task;
pub mod task_event;
pub mod unit_move;
pub mod unit_survey;
pub mod unit_target;
pub mod user;

#[cfg(test)]
mod tests {
    use cdtg_core::task::TaskKind;
    use sea_orm::Value;
    use sea_orm::sea_query::ValueType;

    #[test]
    fn stored_enums_are_their_spelling() {
        assert_eq!(
            Value::from(TaskKind::VneidActivation),
            Value::String(Some("VNEID_ACTIVATION".to_owned()))
        );
        assert_eq!(
            <TaskKind as ValueType>::try_from(Value::from("SURVEY")).ok(),
            Some(TaskKind::Survey)
        );
        assert!(<TaskKind as ValueType>::try_from(Value::from("TELEPORT")).is_err());
    }
}
