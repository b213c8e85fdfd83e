//! GraphQL enums. Every domain enum is defined once in `cdtg-core` and exposed here as an
//! async-graphql *remote* enum: the same values under the same names, with `From` conversions
//! both ways, so resolvers hand the core's values to the services and back without strings.
//! The doc comments here are the GraphQL descriptions.

use async_graphql::Enum;

/// A level of the administrative tree.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "cdtg_core::unit::UnitKind")]
pub enum UnitKind {
    Province,
    District,
    Ward,
    Commune,
    SpecialZone,
    ResidentialGroup,
    Village,
}

/// `COMMUNITY`: a neighbourhood CDTG. `MANAGEMENT`: a ward's digital-transformation
/// management team.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "cdtg_core::group::GroupKind")]
pub enum GroupKind {
    Community,
    Management,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "cdtg_core::group::GroupStatus")]
pub enum GroupStatus {
    Active,
    Inactive,
}

/// Where a member comes from.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "cdtg_core::group::Affiliation")]
pub enum Affiliation {
    ResidentialGroupHead,
    YouthUnion,
    WomensUnion,
    FarmersAssociation,
    Police,
    Cadre,
    CivilServant,
    PublicEmployee,
    EnterpriseStaff,
    Resident,
    Other,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "cdtg_core::group::MembershipRole")]
pub enum MembershipRole {
    Leader,
    Deputy,
    Member,
}

/// E-commerce and messaging platforms where local products are listed.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "cdtg_core::product::Platform")]
pub enum Platform {
    Voso,
    Postmart,
    Shopee,
    Lazada,
    TiktokShop,
    Zalo,
    Other,
}

/// `ACTIVE`: the account displays, searches, messages or transacts.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "cdtg_core::product::ListingStatus")]
pub enum ListingStatus {
    Draft,
    Listed,
    Active,
    Suspended,
}

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
/// The programme's indicators, as field reports record them. Each counts people helped to
/// reach the named result, once per person and result.
pub enum OutcomeKind {
    /// A VNeID (electronic identity) account activated and logged into — what VNeID targets
    /// count. An application merely collected is `VNEID_COLLECTED`.
    VneidActivated,
    /// A VNeID application collected but not yet activated; does not count toward targets.
    VneidCollected,
    /// A dossier submitted on the online public-service portal (Cổng dịch vụ công).
    OnlineDossierSubmitted,
    /// A cashless account opened: a bank account, an e-wallet or mobile money.
    CashlessAccountOpened,
    /// An e-commerce seller account opened (Voso, Postmart) or a product listed for a
    /// household.
    EcommerceAccountCreated,
    /// A public-service or citizen app installed and set up (VNeID excluded).
    AppInstalled,
    /// A resident trained in basic digital skills (a course or session completed).
    PersonTrained,
    /// Anything else worth counting; not a programme indicator.
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

// What happened to a task (the `kind` of a `TaskEvent`); no description in the schema.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::events::TaskEventKind")]
pub enum TaskEventKind {
    /// A task was created for the group.
    Assigned,
    /// Its details changed.
    Updated,
    /// Its status changed.
    Transitioned,
    /// A field report was recorded on it (its progress changed).
    ActivityReported,
}
