//! GraphQL enums. Domain enums owned by `cdtg-core` are exposed as *remote* enums (the same
//! values, no second definition of their rules); enums that exist only in storage are defined
//! here with their database spelling, which is also their GraphQL name.

use async_graphql::Enum;

/// Defines a GraphQL enum whose values are stored as their SCREAMING_SNAKE_CASE names.
macro_rules! stored_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Enum, Copy, Clone, Debug, Eq, PartialEq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            /// Reads a stored value; unknown text (a newer server wrote it) maps to `None`.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

stored_enum!(
    /// A level of the administrative tree.
    UnitKind {
        Province => "PROVINCE",
        District => "DISTRICT",
        Ward => "WARD",
        Commune => "COMMUNE",
        SpecialZone => "SPECIAL_ZONE",
        ResidentialGroup => "RESIDENTIAL_GROUP",
        Village => "VILLAGE",
    }
);

stored_enum!(
    /// `COMMUNITY`: a neighbourhood CDTG. `MANAGEMENT`: a ward's digital-transformation
    /// management team.
    GroupKind { Community => "COMMUNITY", Management => "MANAGEMENT" }
);

stored_enum!(GroupStatus { Active => "ACTIVE", Inactive => "INACTIVE" });

stored_enum!(
    /// Where a member comes from.
    Affiliation {
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
    }
);

stored_enum!(MembershipRole { Leader => "LEADER", Deputy => "DEPUTY", Member => "MEMBER" });

stored_enum!(
    /// E-commerce and messaging platforms where local products are listed.
    Platform {
        Voso => "VOSO",
        Postmart => "POSTMART",
        Shopee => "SHOPEE",
        Lazada => "LAZADA",
        TiktokShop => "TIKTOK_SHOP",
        Zalo => "ZALO",
        Other => "OTHER",
    }
);

stored_enum!(
    /// `ACTIVE`: the account displays, searches, messages or transacts.
    ListingStatus { Draft => "DRAFT", Listed => "LISTED", Active => "ACTIVE", Suspended => "SUSPENDED" }
);

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "cdtg_core::task::TaskStatus")]
pub enum TaskStatus {
    Open,
    InProgress,
    Submitted,
    Done,
    Cancelled,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "cdtg_core::task::TaskAction")]
pub enum TaskAction {
    Start,
    Submit,
    SendBack,
    Complete,
    Cancel,
    Reopen,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "cdtg_core::task::TaskKind")]
pub enum TaskKind {
    VneidActivation,
    OnlinePublicService,
    CashlessPayment,
    EcommerceOnboarding,
    AppInstall,
    DigitalSkillsTraining,
    OnlineSafety,
    Communication,
    Survey,
    Other,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "cdtg_core::task::TaskPriority")]
pub enum TaskPriority {
    Low,
    Normal,
    High,
    Urgent,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "cdtg_core::activity::OutcomeKind")]
pub enum OutcomeKind {
    /// A VNeID account activated and logged into — what VNeID targets count.
    VneidActivated,
    /// A VNeID application collected but not yet activated.
    VneidCollected,
    OnlineDossierSubmitted,
    CashlessAccountOpened,
    EcommerceAccountCreated,
    AppInstalled,
    PersonTrained,
    Other,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "cdtg_core::policy::Role")]
pub enum Role {
    CityAdmin,
    DistrictOfficer,
    WardLeader,
    GroupLeader,
    Member,
    Viewer,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum SortDirection {
    Asc,
    Desc,
}
