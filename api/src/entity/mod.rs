//! SeaORM entities, one module per table. They mirror `cdtg-migrations`; relations are expressed
//! as explicit filters in the service layer, which is also where the caller's scope is applied.

pub mod activity;
pub mod activity_outcome;
pub mod admin_unit;
pub mod audit_event;
pub mod group;
pub mod listing;
pub mod member;
pub mod membership;
pub mod product;
pub mod refresh_token;
pub mod task;
pub mod unit_move;
pub mod unit_survey;
pub mod unit_target;
pub mod user;
