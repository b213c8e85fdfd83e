//! Local products on e-commerce: the platforms they are listed on and the state of a listing.

/// E-commerce and messaging platforms where local products are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(
    feature = "sea-orm",
    derive(sea_orm::DeriveValueType),
    sea_orm(value_type = "String")
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Platform {
    /// Voso, Viettel Post's marketplace.
    Voso,
    /// Postmart, Vietnam Post's marketplace.
    Postmart,
    /// Shopee.
    Shopee,
    /// Lazada.
    Lazada,
    /// TikTok Shop.
    TiktokShop,
    /// Zalo (a shop page or official account).
    Zalo,
    /// Anything else.
    Other,
}

wire_enum_impl!(Platform {
    Voso => "VOSO",
    Postmart => "POSTMART",
    Shopee => "SHOPEE",
    Lazada => "LAZADA",
    TiktokShop => "TIKTOK_SHOP",
    Zalo => "ZALO",
    Other => "OTHER",
});

/// Where a listing stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(
    feature = "sea-orm",
    derive(sea_orm::DeriveValueType),
    sea_orm(value_type = "String")
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ListingStatus {
    /// Being prepared; not yet on the platform.
    Draft,
    /// On the platform.
    Listed,
    /// The account displays, searches, messages or transacts.
    Active,
    /// Taken down by the platform or the seller.
    Suspended,
}

wire_enum_impl!(ListingStatus {
    Draft => "DRAFT",
    Listed => "LISTED",
    Active => "ACTIVE",
    Suspended => "SUSPENDED",
});
