//! The service layer: every read and write of the API goes through these functions, which take
//! the database connection and the acting [`Principal`](crate::principal::Principal) and apply
//! the caller's scope (see [`scope`]). Resolvers are thin adapters over them.

pub mod audit;
pub mod groups;
pub mod members;
pub mod page;
pub mod products;
pub mod scope;
pub mod stats;
pub mod surveys;
pub mod tasks;
pub mod units;
pub mod users;

use sea_orm::sea_query::ExprTrait;
use sea_orm::sea_query::{Expr, LikeExpr};
use sea_orm::{ColumnTrait, Condition};

/// An accent-insensitive "contains" filter on a folded column: "phuoc my" finds "Phước Mỹ".
pub fn folded_contains<C: ColumnTrait>(col: C, search: &str) -> Option<Condition> {
    let folded = cdtg_core::text::fold(search);
    if folded.is_empty() {
        return None;
    }
    let escaped = folded
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let pattern = LikeExpr::new(format!("%{escaped}%")).escape('\\');
    Some(Condition::all().add(Expr::col(col).like(pattern)))
}

/// Today's date in Vietnam (UTC+7, no daylight saving since 1975): due dates and calendar
/// periods are judged in Asia/Ho_Chi_Minh.
pub fn today_in_vietnam() -> chrono::NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(7)).date_naive()
}
