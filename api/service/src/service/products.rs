//! Local products and their listings on e-commerce platforms. Listings are keyed by (product,
//! platform): `upsertListing` creates the listing or updates it in place.

use std::collections::HashMap;

use cdtg_core::policy::Action;
use cdtg_core::product::{ListingStatus, Platform};
use cdtg_core::{text, validate};
use chrono::{NaiveDate, Utc};
use sea_orm::sea_query::ExprTrait;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Select, Set,
};

use super::audit::{self, Touched};
use super::page::{self, Page, Window};
use super::{folded_contains, scope, units};
use crate::db::write_txn;
use crate::entity::{group, listing, product};
use crate::error::{ApiError, ApiResult};
use crate::principal::Principal;

#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    pub unit_id: Option<i64>,
    pub group_id: Option<i64>,
    pub category: Option<String>,
    pub min_ocop_stars: Option<i32>,
    /// Products with at least one listing on this platform.
    pub platform: Option<Platform>,
    pub search: Option<String>,
    /// Products changed at or after this instant (for incremental sync).
    pub updated_since: Option<chrono::DateTime<chrono::Utc>>,
    /// `Some(false)`: products in use (what lists show by default); `Some(true)`: archived
    /// ones; `None`: both (a sync that must learn of archivals).
    pub archived: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct ListingFilter {
    pub unit_id: Option<i64>,
    pub product_id: Option<i64>,
    pub platform: Option<Platform>,
    pub status: Option<ListingStatus>,
    /// Listings changed at or after this instant (for incremental sync).
    pub updated_since: Option<chrono::DateTime<chrono::Utc>>,
    /// As [`ProductFilter::archived`]; a listing of an archived product counts as archived.
    pub archived: Option<bool>,
}

/// Filters on `archived_at` (`None`: no filter).
fn archived_filter<C: ColumnTrait>(col: C, archived: Option<bool>) -> Option<sea_orm::Condition> {
    archived.map(|archived| {
        sea_orm::Condition::all().add(if archived {
            col.is_not_null()
        } else {
            col.is_null()
        })
    })
}

/// Products not archived (a subquery of ids).
fn products_in_use() -> sea_orm::sea_query::SelectStatement {
    sea_orm::sea_query::Query::select()
        .column(product::Column::Id)
        .from(product::Entity)
        .and_where(Expr::col(product::Column::ArchivedAt).is_null())
        .to_owned()
}

fn groups_under(path: &str) -> sea_orm::sea_query::SelectStatement {
    sea_orm::sea_query::Query::select()
        .column(group::Column::Id)
        .from(group::Entity)
        .cond_where(scope::unit_subtree(group::Column::UnitPath, path))
        .to_owned()
}

async fn select(
    db: &DatabaseConnection,
    p: &Principal,
    f: &ProductFilter,
) -> ApiResult<Select<product::Entity>> {
    let mut q = product::Entity::find().filter(scope::products(p));
    if let Some(path) = units::path_of(db, p, f.unit_id).await? {
        q = q.filter(product::Column::GroupId.in_subquery(groups_under(&path)));
    }
    if let Some(g) = f.group_id {
        q = q.filter(product::Column::GroupId.eq(g));
    }
    if let Some(c) = &f.category {
        q = q.filter(product::Column::Category.eq(c.as_str()));
    }
    if let Some(stars) = f.min_ocop_stars {
        q = q.filter(product::Column::OcopStars.gte(stars));
    }
    if let Some(platform) = f.platform {
        q = q.filter(
            product::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(listing::Column::ProductId)
                    .from(listing::Entity)
                    .and_where(Expr::col(listing::Column::Platform).eq(platform))
                    .to_owned(),
            ),
        );
    }
    if let Some(c) = f
        .search
        .as_deref()
        .and_then(|s| folded_contains(product::Column::NameFolded, s))
    {
        q = q.filter(c);
    }
    if let Some(at) = f.updated_since {
        q = q.filter(product::Column::UpdatedAt.gte(at));
    }
    if let Some(c) = archived_filter(product::Column::ArchivedAt, f.archived) {
        q = q.filter(c);
    }
    Ok(q)
}

pub async fn list(
    db: &DatabaseConnection,
    p: &Principal,
    f: &ProductFilter,
    window: Window,
) -> ApiResult<Page<product::Model>> {
    audit::authorize(db, p, Action::ReadProducts, "products").await?;
    let by_name = [
        page::SortTerm::asc(product::Column::NameKey.into_expr(), page::KeyKind::Text),
        page::SortTerm::asc(product::Column::Id.into_expr(), page::KeyKind::BigInt),
    ];
    page::fetch(db, select(db, p, f).await?, &by_name, window).await
}

pub async fn count(db: &DatabaseConnection, p: &Principal, f: &ProductFilter) -> ApiResult<u64> {
    scope::require(p, Action::ReadProducts)?;
    Ok(select(db, p, f).await?.count(db).await?)
}

pub async fn get(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
) -> ApiResult<Option<product::Model>> {
    scope::require(p, Action::ReadProducts)?;
    Ok(product::Entity::find_by_id(id)
        .filter(scope::products(p))
        .one(db)
        .await?)
}

/// Products of many groups (`group.products`), one statement.
pub async fn of_groups(
    db: &DatabaseConnection,
    p: &Principal,
    group_ids: &[i64],
) -> ApiResult<HashMap<i64, Vec<product::Model>>> {
    scope::require(p, Action::ReadProducts)?;
    let rows = product::Entity::find()
        .filter(scope::products(p))
        .filter(product::Column::GroupId.is_in(group_ids.iter().copied()))
        .filter(product::Column::ArchivedAt.is_null())
        .order_by_asc(product::Column::NameKey)
        .order_by_asc(product::Column::Id)
        .all(db)
        .await?;
    Ok(super::group_by_parent(rows, |row| row.group_id))
}

fn listing_select(
    p: &Principal,
    f: &ListingFilter,
    unit_path: Option<&str>,
) -> Select<listing::Entity> {
    let mut q = listing::Entity::find().filter(scope::listings(p));
    if let Some(path) = unit_path {
        q = q.filter(
            listing::Column::ProductId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(product::Column::Id)
                    .from(product::Entity)
                    .and_where(Expr::col(product::Column::GroupId).in_subquery(groups_under(path)))
                    .to_owned(),
            ),
        );
    }
    if let Some(pid) = f.product_id {
        q = q.filter(listing::Column::ProductId.eq(pid));
    }
    if let Some(pl) = f.platform {
        q = q.filter(listing::Column::Platform.eq(pl));
    }
    if let Some(st) = f.status {
        q = q.filter(listing::Column::Status.eq(st));
    }
    if let Some(at) = f.updated_since {
        q = q.filter(listing::Column::UpdatedAt.gte(at));
    }
    match f.archived {
        Some(false) => {
            q = q
                .filter(listing::Column::ArchivedAt.is_null())
                .filter(listing::Column::ProductId.in_subquery(products_in_use()));
        }
        Some(true) => {
            q = q.filter(
                sea_orm::Condition::any()
                    .add(listing::Column::ArchivedAt.is_not_null())
                    .add(listing::Column::ProductId.not_in_subquery(products_in_use())),
            );
        }
        None => {}
    }
    q
}

pub async fn list_listings(
    db: &DatabaseConnection,
    p: &Principal,
    f: &ListingFilter,
    window: Window,
) -> ApiResult<Page<listing::Model>> {
    audit::authorize(db, p, Action::ReadProducts, "listings").await?;
    let path = units::path_of(db, p, f.unit_id).await?;
    let by_id = [page::SortTerm::asc(
        listing::Column::Id.into_expr(),
        page::KeyKind::BigInt,
    )];
    page::fetch(db, listing_select(p, f, path.as_deref()), &by_id, window).await
}

pub async fn count_listings(
    db: &DatabaseConnection,
    p: &Principal,
    f: &ListingFilter,
) -> ApiResult<u64> {
    scope::require(p, Action::ReadProducts)?;
    let path = units::path_of(db, p, f.unit_id).await?;
    Ok(listing_select(p, f, path.as_deref()).count(db).await?)
}

pub async fn get_listing(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
) -> ApiResult<Option<listing::Model>> {
    scope::require(p, Action::ReadProducts)?;
    Ok(listing::Entity::find_by_id(id)
        .filter(scope::listings(p))
        .one(db)
        .await?)
}

/// Listings of many products (`product.listings`), one statement.
pub async fn listings_of(
    db: &DatabaseConnection,
    p: &Principal,
    product_ids: &[i64],
) -> ApiResult<HashMap<i64, Vec<listing::Model>>> {
    scope::require(p, Action::ReadProducts)?;
    let rows = listing::Entity::find()
        .filter(scope::listings(p))
        .filter(listing::Column::ProductId.is_in(product_ids.iter().copied()))
        .filter(listing::Column::ArchivedAt.is_null())
        .order_by_asc(listing::Column::Platform)
        .all(db)
        .await?;
    Ok(super::group_by_parent(rows, |row| row.product_id))
}

#[derive(Debug, Clone)]
pub struct NewProduct {
    pub name: String,
    pub category: String,
    pub producer: String,
    pub sale_unit: String,
    /// As sent (0..=5 is checked here, so a wire value beyond 32 bits is refused naming the field).
    pub ocop_stars: i64,
    pub group_id: i64,
    pub price_vnd: Option<i64>,
    pub description: Option<String>,
}

/// The most a product's price may be, in đồng (a billion: far beyond any local product).
pub const MAX_PRICE_VND: i64 = 1_000_000_000;
/// The longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2_000;

fn price_vnd(value: Option<i64>) -> ApiResult<Option<i64>> {
    Ok(value
        .map(|v| validate::count_in_range("priceVnd", v, 0, MAX_PRICE_VND))
        .transpose()?)
}

fn description(value: Option<&str>) -> ApiResult<Option<String>> {
    Ok(validate::optional_text(
        "description",
        value,
        MAX_DESCRIPTION_CHARS,
    )?)
}

/// `updateProduct`: what is absent stays; `Some(None)` clears an optional field.
#[derive(Debug, Clone, Default)]
pub struct ProductChanges {
    pub name: Option<String>,
    pub category: Option<String>,
    pub producer: Option<String>,
    pub sale_unit: Option<String>,
    pub ocop_stars: Option<i64>,
    pub price_vnd: Option<Option<i64>>,
    pub description: Option<Option<String>>,
}

/// A product the caller may manage, for a change; `NOT_FOUND` when it is not in their scope.
async fn managed_product(
    txn: &DatabaseTransaction,
    p: &Principal,
    id: i64,
) -> ApiResult<(product::Model, group::Model)> {
    let prod = product::Entity::find_by_id(id)
        .filter(scope::products(p))
        .one(txn)
        .await?
        .ok_or(ApiError::NotFound("product"))?;
    let grp = group::Entity::find_by_id(prod.group_id)
        .one(txn)
        .await?
        .ok_or(ApiError::NotFound("product"))?;
    Ok((prod, grp))
}

pub async fn update(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
    c: ProductChanges,
) -> ApiResult<product::Model> {
    audit::authorize(db, p, Action::ManageProducts, "updateProduct").await?;
    let txn = write_txn(db).await?;
    let outcome = async {
        let (prod, grp) = managed_product(&txn, p, id).await?;
        let mut am: product::ActiveModel = prod.into();
        if let Some(name) = &c.name {
            let name = validate::required_text("name", name, 200)?;
            am.name_key = Set(text::sort_key(&name));
            am.name_folded = Set(text::fold(&name));
            am.name = Set(name);
        }
        if let Some(v) = &c.category {
            am.category = Set(validate::required_text("category", v, 100)?);
        }
        if let Some(v) = &c.producer {
            am.producer = Set(validate::required_text("producer", v, 200)?);
        }
        if let Some(v) = &c.sale_unit {
            am.sale_unit = Set(validate::required_text("saleUnit", v, 50)?);
        }
        if let Some(v) = c.ocop_stars {
            am.ocop_stars = Set(validate::ocop_stars("ocopStars", v)?);
        }
        if let Some(v) = c.price_vnd {
            am.price_vnd = Set(price_vnd(v)?);
        }
        if let Some(v) = &c.description {
            am.description = Set(description(v.as_deref())?);
        }
        am.updated_at = Set(Utc::now());
        let model = am.update(&txn).await?;
        Ok((
            model.clone(),
            Touched::new("Product", model.id, grp.unit_path),
        ))
    }
    .await;
    audit::conclude(db, txn, p, "updateProduct", outcome).await
}

/// Archives a product (`archived`) or restores it. An archived product, and its listings,
/// leave the default lists and every statistic; it stays readable by id.
pub async fn set_archived(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
    archived: bool,
) -> ApiResult<product::Model> {
    let op = if archived {
        "archiveProduct"
    } else {
        "restoreProduct"
    };
    audit::authorize(db, p, Action::ManageProducts, op).await?;
    let txn = write_txn(db).await?;
    let outcome = async {
        let (prod, grp) = managed_product(&txn, p, id).await?;
        // Archiving twice keeps the first date: the answer to a retry is the same.
        let model = if prod.archived_at.is_some() == archived {
            prod
        } else {
            let now = Utc::now();
            let mut am: product::ActiveModel = prod.into();
            am.archived_at = Set(archived.then_some(now));
            am.updated_at = Set(now);
            am.update(&txn).await?
        };
        Ok((
            model.clone(),
            Touched::new("Product", model.id, grp.unit_path),
        ))
    }
    .await;
    audit::conclude(db, txn, p, op, outcome).await
}

/// Archives a listing or restores it (listing it again with `upsertListing` restores it too).
pub async fn set_listing_archived(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
    archived: bool,
) -> ApiResult<listing::Model> {
    let op = if archived {
        "archiveListing"
    } else {
        "restoreListing"
    };
    audit::authorize(db, p, Action::ManageListings, op).await?;
    let txn = write_txn(db).await?;
    let outcome = async {
        let found = listing::Entity::find_by_id(id)
            .filter(scope::listings(p))
            .one(&txn)
            .await?
            .ok_or(ApiError::NotFound("listing"))?;
        let (_, grp) = managed_product(&txn, p, found.product_id)
            .await
            .map_err(|_| ApiError::NotFound("listing"))?;
        let model = if found.archived_at.is_some() == archived {
            found
        } else {
            let now = Utc::now();
            let mut am: listing::ActiveModel = found.into();
            am.archived_at = Set(archived.then_some(now));
            am.updated_at = Set(now);
            am.update(&txn).await?
        };
        Ok((
            model.clone(),
            Touched::new("Listing", model.id, grp.unit_path),
        ))
    }
    .await;
    audit::conclude(db, txn, p, op, outcome).await
}

pub async fn create(
    db: &DatabaseConnection,
    p: &Principal,
    input: NewProduct,
) -> ApiResult<product::Model> {
    audit::authorize(db, p, Action::ManageProducts, "createProduct").await?;
    let txn = write_txn(db).await?;
    let outcome = create_in(&txn, p, input).await;
    audit::conclude(db, txn, p, "createProduct", outcome).await
}

async fn create_in(
    txn: &DatabaseTransaction,
    p: &Principal,
    input: NewProduct,
) -> ApiResult<(product::Model, Touched)> {
    let name = validate::required_text("name", &input.name, 200)?;
    let category = validate::required_text("category", &input.category, 100)?;
    let producer = validate::required_text("producer", &input.producer, 200)?;
    let sale_unit = validate::required_text("saleUnit", &input.sale_unit, 50)?;
    let stars = validate::ocop_stars("ocopStars", input.ocop_stars)?;
    let grp = group::Entity::find_by_id(input.group_id).one(txn).await?;
    let grp = match grp {
        Some(g) if scope::group_in_scope(p, g.id, &g.unit_path) => g,
        _ => return Err(ApiError::bad_input("groupId", "no such group")),
    };
    let now = Utc::now();
    let model = product::ActiveModel {
        name_key: Set(text::sort_key(&name)),
        name_folded: Set(text::fold(&name)),
        name: Set(name),
        category: Set(category),
        producer: Set(producer),
        sale_unit: Set(sale_unit),
        ocop_stars: Set(stars),
        group_id: Set(grp.id),
        price_vnd: Set(price_vnd(input.price_vnd)?),
        description: Set(description(input.description.as_deref())?),
        created_at: Set(now),
        updated_at: Set(now),
        archived_at: Set(None),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok((
        model.clone(),
        Touched::new("Product", model.id, grp.unit_path),
    ))
}

#[derive(Debug, Clone)]
pub struct ListingInput {
    pub product_id: i64,
    pub platform: Platform,
    pub url: String,
    pub status: ListingStatus,
    pub listed_on: Option<NaiveDate>,
}

pub async fn upsert_listing(
    db: &DatabaseConnection,
    p: &Principal,
    input: ListingInput,
) -> ApiResult<listing::Model> {
    audit::authorize(db, p, Action::ManageListings, "upsertListing").await?;
    let txn = write_txn(db).await?;
    let outcome = upsert_listing_in(&txn, p, input).await;
    audit::conclude(db, txn, p, "upsertListing", outcome).await
}

async fn upsert_listing_in(
    txn: &DatabaseTransaction,
    p: &Principal,
    input: ListingInput,
) -> ApiResult<(listing::Model, Touched)> {
    let url = validate::http_url("url", &input.url)?;
    let prod = product::Entity::find_by_id(input.product_id)
        .filter(scope::products(p))
        .one(txn)
        .await?
        .ok_or(ApiError::NotFound("product"))?;
    if prod.archived_at.is_some() {
        return Err(ApiError::bad_input(
            "productId",
            "the product is archived; restore it before listing it",
        ));
    }
    let grp = group::Entity::find_by_id(prod.group_id)
        .one(txn)
        .await?
        .ok_or(ApiError::NotFound("group"))?;
    let now = Utc::now();
    let am = listing::ActiveModel {
        product_id: Set(prod.id),
        platform: Set(input.platform),
        url: Set(url),
        status: Set(input.status),
        listed_on: Set(input.listed_on),
        created_at: Set(now),
        updated_at: Set(now),
        archived_at: Set(None),
        ..Default::default()
    };
    listing::Entity::insert(am)
        .on_conflict(
            OnConflict::columns([listing::Column::ProductId, listing::Column::Platform])
                .update_columns([
                    listing::Column::Url,
                    listing::Column::Status,
                    listing::Column::ListedOn,
                    listing::Column::UpdatedAt,
                    // Listing it again restores an archived listing.
                    listing::Column::ArchivedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    let model = listing::Entity::find()
        .filter(listing::Column::ProductId.eq(prod.id))
        .filter(listing::Column::Platform.eq(input.platform))
        .one(txn)
        .await?
        .ok_or(ApiError::NotFound("listing"))?;
    Ok((
        model.clone(),
        Touched::new("Listing", model.id, grp.unit_path),
    ))
}

pub async fn get_by_ids(
    db: &DatabaseConnection,
    p: &Principal,
    ids: &[i64],
) -> ApiResult<HashMap<i64, product::Model>> {
    if scope::require(p, Action::ReadProducts).is_err() {
        return Ok(HashMap::new());
    }
    let rows = product::Entity::find()
        .filter(product::Column::Id.is_in(ids.iter().copied()))
        .filter(scope::products(p))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|m| (m.id, m)).collect())
}
