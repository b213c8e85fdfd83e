//! The core's enums as Kotlin sees them, declared to UniFFI as remote types.
//!
//! `cdtg-core` does not know UniFFI, so its enums cannot derive `uniffi::Enum`. Each declaration
//! below restates one of them for UniFFI alone (`#[uniffi::remote(Enum)]` emits no new type, only
//! the conversions for the core's own), so the wrappers in [`crate::ffi`] and the
//! [`crate::outbox`] pass the core's values straight through. The variants cannot drift: the
//! generated conversions match on every variant, so a variant added to or removed from the core
//! breaks this crate's build until it is restated here. The order is the core's, which is the
//! order of Kotlin's `entries`. The doc comments are the core's, copied: they become the KDoc of
//! the generated Kotlin.

pub use cdtg_core::activity::OutcomeKind;
pub use cdtg_core::policy::{Action, Role};
pub use cdtg_core::task::{TaskAction, TaskKind, TaskPriority, TaskStatus};

/// A user's role. The role and its scope come from the verified token only.
///
/// Serialised (serde, GraphQL, Kotlin) as upper-snake names, e.g. `CITY_ADMIN`.
#[uniffi::remote(Enum)]
pub enum Role {
    /// Scope: a province (Da Nang). Everything in it.
    CityAdmin,
    /// Scope: a district or any unit above ward level. Reads the subtree, assigns tasks.
    DistrictOfficer,
    /// Scope: a ward or commune. Runs the groups of the ward.
    WardLeader,
    /// Scope: one group. Leads it in the field.
    GroupLeader,
    /// Scope: one group. Reports field work.
    Member,
    /// Scope: a unit. Aggregates and products only, never personal data.
    Viewer,
}

/// Something a caller wants to do, independent of the object's place in the tree.
#[uniffi::remote(Enum)]
pub enum Action {
    /// Read administrative units (the tree itself is public within scope).
    ReadUnits,
    /// Read unit-level aggregates (`AdminUnit.stats`, `statsBreakdown`).
    ReadAggregates,
    /// Read products and their listings.
    ReadProducts,
    /// Read groups.
    ReadGroups,
    /// Read tasks.
    ReadTasks,
    /// Read field activities.
    ReadActivities,
    /// Read personal data: member names and phone numbers.
    ReadPersonalData,
    /// Read the audit log.
    ReadAudit,
    /// Read user accounts.
    ReadUsers,
    /// Create and update groups.
    ManageGroups,
    /// Create and update members.
    ManageMembers,
    /// Add and end memberships.
    ManageMemberships,
    /// Create tasks.
    CreateTask,
    /// Update task fields (title, due date, target, …).
    UpdateTask,
    /// Create and update products.
    ManageProducts,
    /// Create and update product listings.
    ManageListings,
    /// Record a unit's household survey.
    RecordSurvey,
    /// Set numeric targets.
    SetTargets,
    /// Report a field activity on a task.
    ReportActivity,
    /// Create and disable user accounts (further limited by [`cdtg_core::policy::can_grant`]).
    ManageUsers,
    /// Create, rename, re-parent, close and merge administrative units.
    ManageUnits,
}

/// Where a task stands.
#[uniffi::remote(Enum)]
pub enum TaskStatus {
    /// Assigned, not started.
    Open,
    /// Being worked on; activities are being reported.
    InProgress,
    /// The group says it is done; waiting for the ward leader's judgement.
    Submitted,
    /// Accepted by the ward leader. Final (except `REOPEN`).
    Done,
    /// Called off. Final (except `REOPEN`).
    Cancelled,
}

/// A request to move a task (the `action` of `transitionTask`).
#[uniffi::remote(Enum)]
pub enum TaskAction {
    /// `OPEN` → `IN_PROGRESS`.
    Start,
    /// `IN_PROGRESS` → `SUBMITTED`.
    Submit,
    /// `SUBMITTED` → `IN_PROGRESS`: the ward leader wants more work.
    SendBack,
    /// `SUBMITTED` → `DONE`.
    Complete,
    /// Any non-final status → `CANCELLED`.
    Cancel,
    /// `DONE` → `IN_PROGRESS`, `CANCELLED` → `OPEN`.
    Reopen,
}

/// What kind of digital-transformation work a task is; decides which outcome counts toward its
/// target (see [`cdtg_core::activity::target_outcome`]).
#[uniffi::remote(Enum)]
pub enum TaskKind {
    /// Activating VNeID electronic citizen accounts (level 2).
    VneidActivation,
    /// Helping residents submit public-service dossiers online.
    OnlinePublicService,
    /// Opening bank or e-wallet accounts; cashless payment.
    CashlessPayment,
    /// Putting local products and sellers on Voso, Postmart and other platforms.
    EcommerceOnboarding,
    /// Installing useful apps (VNeID, health, utilities).
    AppInstall,
    /// Teaching basic digital skills.
    DigitalSkillsTraining,
    /// Scam and online-safety awareness.
    OnlineSafety,
    /// Communication campaigns.
    Communication,
    /// Household surveys.
    Survey,
    /// Anything else.
    Other,
}

/// How urgent a task is; ordered from least to most urgent.
#[uniffi::remote(Enum)]
pub enum TaskPriority {
    /// Whenever convenient.
    Low,
    /// The default.
    Normal,
    /// Before normal work.
    High,
    /// Drop everything.
    Urgent,
}

/// A countable result of a support session.
#[uniffi::remote(Enum)]
pub enum OutcomeKind {
    /// A VNeID account activated and logged into (what the targets count).
    VneidActivated,
    /// A VNeID application collected but not yet activated (does not count toward targets).
    VneidCollected,
    /// A public-service dossier submitted online.
    OnlineDossierSubmitted,
    /// A bank or e-wallet account opened.
    CashlessAccountOpened,
    /// An account created on an e-commerce platform.
    EcommerceAccountCreated,
    /// An app installed.
    AppInstalled,
    /// A person trained in digital skills.
    PersonTrained,
    /// Anything else worth counting.
    Other,
}
