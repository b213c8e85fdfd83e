//! The acting principal: who is asking, with which role, over which part of the tree. Built only
//! from a verified token (or, for command-line maintenance, the system actor) — never from
//! headers or arguments.

use cdtg_core::policy::Role;

/// What part of the data a principal's role applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The whole database. Only the system actor (CLI seeding and bootstrap) has it.
    Everything,
    /// A unit and its whole subtree, identified by the unit's materialised path.
    /// `whole_tree` is true when that unit is the only root, so the subtree is every row: the
    /// scope filters then add no predicate (a path range matching every row steers PostgreSQL
    /// into sequential scans). Worked out afresh on every request, so a second root added later
    /// narrows the scope again at once.
    Unit {
        unit_id: i64,
        path: String,
        whole_tree: bool,
    },
    /// One group (group leaders and members); `unit_path` is the group's unit.
    Group { group_id: i64, unit_path: String },
}

/// What the caller proved who they are with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// The command line: seeding, migrations, bootstrap.
    System,
    /// A person's signed-in session (the access token's `sid`), checked on every request.
    Session { id: String },
    /// An integrator's API key, acting with the key's own role and scope on behalf of the
    /// account that created it.
    ApiKey {
        id: i64,
        name: String,
        /// Whether the key may run mutations; otherwise queries and subscriptions only.
        can_write: bool,
    },
}

/// The caller of a service function.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user row, or 0 for the system actor.
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    pub scope: Scope,
    /// The member record linked to the user (group leaders and members report as themselves).
    pub member_id: Option<i64>,
    /// The request this principal acts in, for audit events.
    pub request_id: Option<String>,
    /// The operation's refusals, coalesced into one audit row when it finishes (`None` outside
    /// the GraphQL pipeline: each refusal is then written at once).
    pub denials: Option<std::sync::Arc<crate::service::audit::DenialLog>>,
    pub credential: Credential,
    /// An administrator reset the password: until the user changes it, nothing but
    /// `changePassword` and `logout` runs.
    pub must_change_password: bool,
}

impl Principal {
    /// The command-line actor: seeding, migrations, bootstrap accounts.
    pub fn system() -> Self {
        Principal {
            user_id: 0,
            username: "system".to_owned(),
            role: Role::CityAdmin,
            scope: Scope::Everything,
            member_id: None,
            request_id: None,
            denials: None,
            credential: Credential::System,
            must_change_password: false,
        }
    }

    /// The session this principal signed in with (`None` for keys and the system).
    pub fn session_id(&self) -> Option<&str> {
        match &self.credential {
            Credential::Session { id } => Some(id),
            _ => None,
        }
    }

    /// Whose request budget this principal spends: a key's own, or the person's.
    pub fn rate_subject(&self) -> crate::ratelimit::Subject {
        match &self.credential {
            Credential::ApiKey { id, .. } => crate::ratelimit::Subject::ApiKey(*id),
            _ => crate::ratelimit::Subject::User(self.user_id),
        }
    }

    /// The API key this principal acts with, if any.
    pub fn api_key_id(&self) -> Option<i64> {
        match &self.credential {
            Credential::ApiKey { id, .. } => Some(*id),
            _ => None,
        }
    }

    pub fn is_system(&self) -> bool {
        self.scope == Scope::Everything
    }

    /// The user id for foreign keys (`None` for the system actor).
    pub fn user_ref(&self) -> Option<i64> {
        (self.user_id > 0).then_some(self.user_id)
    }
}
