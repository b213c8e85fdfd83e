//! The service layer: every read and write of the API goes through these functions, which take
//! the database connection and the acting [`Principal`](crate::principal::Principal) and apply
//! the caller's scope (see [`scope`]). Resolvers are thin adapters over them.

pub mod activities;
pub mod api_keys;
pub mod audit;
pub mod columns;
pub mod corrections;
pub mod export;
pub mod groups;
pub mod import;
pub mod members;
pub mod page;
pub mod products;
pub mod scope;
pub mod sign_in;
pub mod stats;
pub mod surveys;
pub mod tasks;
pub mod unit_admin;
pub mod unit_files;
pub mod units;
pub mod users;

use sea_orm::sea_query::ExprTrait;
use sea_orm::sea_query::{Expr, LikeExpr};
use sea_orm::{ColumnTrait, Condition};

/// An accent-insensitive search on a folded column: every word of `search` must occur in it, in
/// any order, so "phuoc my" finds "Phước Mỹ" and "van nguyen" finds "Nguyễn Văn Chung". `None`
/// when the search has no words.
///
/// Each word is a `LIKE '%word%'` condition with `%`, `_` and `\` escaped, so what a user types
/// is never a pattern. The search text is at most 100 characters, so at most 50 words.
pub fn folded_contains<C: ColumnTrait>(col: C, search: &str) -> Option<Condition> {
    let words = cdtg_core::text::search_words(search);
    if words.is_empty() {
        return None;
    }
    let mut all = Condition::all();
    for word in words {
        all = all.add(contains(col, &word));
    }
    Some(all)
}

/// `col LIKE '%needle%'`, with the needle taken literally.
pub fn contains<C: ColumnTrait>(col: C, needle: &str) -> Condition {
    let escaped = needle
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let pattern = LikeExpr::new(format!("%{escaped}%")).escape('\\');
    Condition::all().add(Expr::col(col).like(pattern))
}

/// Groups rows under their parent id, keeping their order: the shape every batched edge loader
/// returns (`parent id → its children`).
pub fn group_by_parent<T>(
    rows: Vec<T>,
    parent: impl Fn(&T) -> i64,
) -> std::collections::HashMap<i64, Vec<T>> {
    let mut out: std::collections::HashMap<i64, Vec<T>> = std::collections::HashMap::new();
    for row in rows {
        out.entry(parent(&row)).or_default().push(row);
    }
    out
}

/// True when `member_id` currently belongs to `group_id` (an open membership).
pub async fn is_current_member<C: sea_orm::ConnectionTrait>(
    conn: &C,
    group_id: i64,
    member_id: i64,
) -> Result<bool, sea_orm::DbErr> {
    use crate::entity::membership;
    use sea_orm::{EntityTrait, PaginatorTrait, QueryFilter};
    let n = membership::Entity::find()
        .filter(membership::Column::GroupId.eq(group_id))
        .filter(membership::Column::MemberId.eq(member_id))
        .filter(membership::Column::LeftOn.is_null())
        .count(conn)
        .await?;
    Ok(n > 0)
}

/// Today's date in Vietnam (UTC+7, no daylight saving since 1975): due dates and calendar
/// periods are judged in Asia/Ho_Chi_Minh.
pub fn today_in_vietnam() -> chrono::NaiveDate {
    cdtg_core::time::vietnam_date(chrono::Utc::now())
}
