//! `Product` and `Listing`.

use crate::graphql::errors::Result;
use crate::graphql::scalars::Date;
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::Group;
use crate::entity::{listing, product};
use crate::graphql::connection::connection;
use crate::graphql::context::loader;
use crate::graphql::enums::{ListingStatus, Platform};
use crate::graphql::loaders::{GroupById, ProductById, ProductListings};
use crate::graphql::plain::PlainFields;
use crate::ids::{NodeType, encode};

#[derive(Clone)]
pub struct Product(pub product::Model);

connection!(ProductConnection, ProductEdge, Product);

#[derive(Clone)]
pub struct Listing(pub listing::Model);

connection!(ListingConnection, ListingEdge, Listing);

#[Object]
impl Product {
    pub async fn id(&self) -> ID {
        encode(NodeType::Product, self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn category(&self) -> &str {
        &self.0.category
    }
    /// The producing household or business.
    async fn producer(&self) -> &str {
        &self.0.producer
    }
    /// Unit of sale (kg, bottle, box, …).
    async fn sale_unit(&self) -> &str {
        &self.0.sale_unit
    }
    /// OCOP rating, 0 (unrated) to 5 stars.
    async fn ocop_stars(&self) -> i32 {
        self.0.ocop_stars
    }
    /// The price per sale unit, in whole đồng.
    async fn price_vnd(&self) -> Option<i64> {
        self.0.price_vnd
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// When it was archived: an archived product and its listings are out of the default lists
    /// and the statistics. Null while in use.
    async fn archived_at(&self) -> Option<DateTime<Utc>> {
        self.0.archived_at
    }
    /// The group that supports the producer (null when outside the caller's reach).
    async fn group(&self, ctx: &Context<'_>) -> Result<Option<Group>> {
        Ok(loader(ctx)?
            .load_one(GroupById(self.0.group_id))
            .await?
            .map(Group))
    }
    /// Its listings in use (not archived).
    #[graphql(complexity = "5 * child_complexity")]
    async fn listings(&self, ctx: &Context<'_>) -> Result<Vec<Listing>> {
        let rows = loader(ctx)?
            .load_one(ProductListings(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(rows.into_iter().map(Listing).collect())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// The fields above that read only the row (see `plain`).
impl PlainFields for Product {
    const PLAIN: &'static [&'static str] = &[
        "id",
        "name",
        "category",
        "producer",
        "saleUnit",
        "ocopStars",
        "priceVnd",
        "description",
        "archivedAt",
        "createdAt",
        "updatedAt",
    ];
}

#[Object]
impl Listing {
    pub async fn id(&self) -> ID {
        encode(NodeType::Listing, self.0.id)
    }
    async fn platform(&self) -> Option<Platform> {
        Some(self.0.platform.into())
    }
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// `ACTIVE` when the account displays, searches, messages or transacts.
    async fn status(&self) -> Option<ListingStatus> {
        Some(self.0.status.into())
    }
    async fn listed_on(&self) -> Option<Date> {
        self.0.listed_on.map(Date)
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// When it was archived (null while in use). `upsertListing` restores it.
    async fn archived_at(&self) -> Option<DateTime<Utc>> {
        self.0.archived_at
    }
    async fn product(&self, ctx: &Context<'_>) -> Result<Option<Product>> {
        Ok(loader(ctx)?
            .load_one(ProductById(self.0.product_id))
            .await?
            .map(Product))
    }
}

/// The fields above that read only the row (see `plain`).
impl PlainFields for Listing {
    const PLAIN: &'static [&'static str] = &[
        "id",
        "platform",
        "url",
        "status",
        "listedOn",
        "updatedAt",
        "archivedAt",
    ];
}
