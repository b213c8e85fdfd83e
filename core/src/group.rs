//! Groups and their members: the kinds and statuses of groups, where members come from, and
//! the roles they hold in a group.

/// What a group is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(
    feature = "sea-orm",
    derive(sea_orm::DeriveValueType),
    sea_orm(value_type = "String")
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GroupKind {
    /// A neighbourhood community digital technology group (CDTG).
    Community,
    /// A ward's digital-transformation management team.
    Management,
}

wire_enum_impl!(GroupKind {
    Community => "COMMUNITY",
    Management => "MANAGEMENT",
});

/// Whether a group still works. New groups are `ACTIVE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(
    feature = "sea-orm",
    derive(sea_orm::DeriveValueType),
    sea_orm(value_type = "String")
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GroupStatus {
    /// Working.
    Active,
    /// Dormant or dissolved; kept for its history.
    Inactive,
}

wire_enum_impl!(GroupStatus {
    Active => "ACTIVE",
    Inactive => "INACTIVE",
});

/// Where a member comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(
    feature = "sea-orm",
    derive(sea_orm::DeriveValueType),
    sea_orm(value_type = "String")
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Affiliation {
    /// Head of a residential group (tổ trưởng tổ dân phố).
    ResidentialGroupHead,
    /// Ho Chi Minh Communist Youth Union.
    YouthUnion,
    /// Women's Union.
    WomensUnion,
    /// Farmers' Association.
    FarmersAssociation,
    /// Police.
    Police,
    /// An elected or appointed cadre.
    Cadre,
    /// A civil servant.
    CivilServant,
    /// An employee of a public service unit.
    PublicEmployee,
    /// Staff of an enterprise (telecoms, banks, post).
    EnterpriseStaff,
    /// A resident without one of the affiliations above.
    Resident,
    /// Anything else.
    Other,
}

wire_enum_impl!(Affiliation {
    ResidentialGroupHead => "RESIDENTIAL_GROUP_HEAD",
    YouthUnion => "YOUTH_UNION",
    WomensUnion => "WOMENS_UNION",
    FarmersAssociation => "FARMERS_ASSOCIATION",
    Police => "POLICE",
    Cadre => "CADRE",
    CivilServant => "CIVIL_SERVANT",
    PublicEmployee => "PUBLIC_EMPLOYEE",
    EnterpriseStaff => "ENTERPRISE_STAFF",
    Resident => "RESIDENT",
    Other => "OTHER",
});

/// A member's role in one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(
    feature = "sea-orm",
    derive(sea_orm::DeriveValueType),
    sea_orm(value_type = "String")
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MembershipRole {
    /// Leads the group; becoming one makes the member the group's leader.
    Leader,
    /// Deputy leader.
    Deputy,
    /// An ordinary member.
    Member,
}

wire_enum_impl!(MembershipRole {
    Leader => "LEADER",
    Deputy => "DEPUTY",
    Member => "MEMBER",
});
