//! Who may do what: the role table, defined once for the server and the phone.
//!
//! This module answers *role* questions only ("may a ward leader create tasks?"). *Scope*
//! questions ("is this group inside the caller's ward?") are answered by the server's service
//! layer with [`path_within`] on materialised unit paths, because only the server knows where an
//! object sits in the tree. Both checks must pass for every access.

/// A user's role. The role and its scope come from the verified token only.
///
/// Serialised (serde, GraphQL, Kotlin) and stored by their upper-snake names, e.g. `CITY_ADMIN`.
/// Declared highest first, so `Role::ALL` lists them in that order too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(
    feature = "sea-orm",
    derive(sea_orm::DeriveValueType),
    sea_orm(value_type = "String")
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
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

wire_enum_impl!(Role {
    CityAdmin => "CITY_ADMIN",
    DistrictOfficer => "DISTRICT_OFFICER",
    WardLeader => "WARD_LEADER",
    GroupLeader => "GROUP_LEADER",
    Member => "MEMBER",
    Viewer => "VIEWER",
});

impl Role {
    /// Position in the hierarchy, `CityAdmin` highest (5) and `Viewer` lowest (0); used so that
    /// nobody grants a role at or above their own.
    pub fn rank(self) -> u8 {
        match self {
            Role::CityAdmin => 5,
            Role::DistrictOfficer => 4,
            Role::WardLeader => 3,
            Role::GroupLeader => 2,
            Role::Member => 1,
            Role::Viewer => 0,
        }
    }

    /// True for roles whose scope is a group rather than an administrative unit.
    pub fn is_group_scoped(self) -> bool {
        matches!(self, Role::GroupLeader | Role::Member)
    }
}

/// Something a caller wants to do, independent of the object's place in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// Create and disable user accounts (further limited by [`can_grant`]).
    ManageUsers,
    /// Create, rename, re-parent, close and merge administrative units.
    ManageUnits,
}

/// Whether `role` may perform `action` at all (scope is checked separately by the server).
///
/// One exhaustive match so adding a role or an action forces a decision here. Notes:
/// - Group-scoped roles get `false` for `ReadAggregates`: the server serves a group's own stats
///   through a dedicated path instead of the unit aggregates.
/// - `ReadAudit` is for `CITY_ADMIN` and `WARD_LEADER` only.
/// - `DISTRICT_OFFICER` reads everything else but writes only tasks, targets, accounts and the
///   units of their district.
/// - `ManageUnits` is for the city and district levels: a ward leader works inside a unit the
///   levels above administer.
pub fn allows(role: Role, action: Action) -> bool {
    use Action::*;
    match role {
        Role::CityAdmin => true,
        Role::WardLeader => action != ManageUnits,
        Role::DistrictOfficer => matches!(
            action,
            ReadUnits
                | ReadAggregates
                | ReadProducts
                | ReadGroups
                | ReadTasks
                | ReadActivities
                | ReadPersonalData
                | ReadUsers
                | CreateTask
                | UpdateTask
                | SetTargets
                | ManageUsers
                | ManageUnits
        ),
        // Within their own group only (the scope says so): its roster and its tasks.
        Role::GroupLeader => matches!(
            action,
            ReadUnits
                | ReadProducts
                | ReadGroups
                | ReadTasks
                | ReadActivities
                | ReadPersonalData
                | ManageMembers
                | ManageMemberships
                | CreateTask
                | UpdateTask
                | ReportActivity
                | ManageListings
        ),
        Role::Member => matches!(
            action,
            ReadUnits
                | ReadProducts
                | ReadGroups
                | ReadTasks
                | ReadActivities
                | ReadPersonalData
                | ReportActivity
        ),
        Role::Viewer => matches!(action, ReadUnits | ReadAggregates | ReadProducts),
    }
}

/// Whether a user with role `actor` may create (or re-role) an account with role `target`.
///
/// Never a role equal to or above the actor's own. `CITY_ADMIN` grants any lower role;
/// `DISTRICT_OFFICER` grants ward leader and below; `WARD_LEADER` grants group leader and member
/// accounts only (viewers are provisioned from above); the others grant nothing.
pub fn can_grant(actor: Role, target: Role) -> bool {
    if target.rank() >= actor.rank() {
        return false;
    }
    match actor {
        Role::CityAdmin | Role::DistrictOfficer => true,
        Role::WardLeader => matches!(target, Role::GroupLeader | Role::Member),
        Role::GroupLeader | Role::Member | Role::Viewer => false,
    }
}

/// Whether a user with role `actor` may create an API key acting with role `key_role`.
///
/// A key is a delegation, not an account: it may carry the creator's own role at most (never
/// above it), only a unit-scoped role (a key does field work for no group), and only creators
/// who administer accounts may make one.
pub fn can_delegate(actor: Role, key_role: Role) -> bool {
    allows(actor, Action::ManageUsers)
        && !key_role.is_group_scoped()
        && key_role.rank() <= actor.rank()
}

/// Whether the unit at materialised `path` lies within `scope_path` (the scope itself or below).
///
/// Paths list ids from the root, each followed by a slash: `/1/5/23/`. Because both end in `/`, a
/// prefix test cannot confuse `/1/5/` with `/1/50/`. A malformed scope (not starting and ending
/// with `/`, or with an empty segment) contains nothing, so a bad value fails closed.
pub fn path_within(scope_path: &str, path: &str) -> bool {
    is_well_formed_path(scope_path) && path.ends_with('/') && path.starts_with(scope_path)
}

fn is_well_formed_path(p: &str) -> bool {
    p.len() >= 3
        && p.starts_with('/')
        && p.ends_with('/')
        && p[1..p.len() - 1].split('/').all(|seg| !seg.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;

    const ALL_ACTIONS: [Action; 21] = [
        ReadUnits,
        ReadAggregates,
        ReadProducts,
        ReadGroups,
        ReadTasks,
        ReadActivities,
        ReadPersonalData,
        ReadAudit,
        ReadUsers,
        ManageGroups,
        ManageMembers,
        ManageMemberships,
        CreateTask,
        UpdateTask,
        ManageProducts,
        ManageListings,
        RecordSurvey,
        SetTargets,
        ReportActivity,
        ManageUsers,
        ManageUnits,
    ];

    fn allowed(role: Role) -> Vec<Action> {
        ALL_ACTIONS
            .into_iter()
            .filter(|a| allows(role, *a))
            .collect()
    }

    #[test]
    fn role_names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            assert_eq!(r.to_string(), r.as_str());
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.as_str())
            );
        }
        assert_eq!(Role::parse("city_admin"), None);
        assert_eq!(Role::parse(""), None);
    }

    #[test]
    fn keys_carry_at_most_the_creators_role_and_never_a_group_role() {
        assert!(can_delegate(Role::WardLeader, Role::Viewer));
        assert!(can_delegate(Role::WardLeader, Role::WardLeader));
        assert!(!can_delegate(Role::WardLeader, Role::DistrictOfficer));
        assert!(!can_delegate(Role::CityAdmin, Role::Member));
        assert!(
            !can_delegate(Role::Viewer, Role::Viewer),
            "viewers administer nothing"
        );
        assert!(!can_delegate(Role::GroupLeader, Role::Viewer));
        assert!(can_delegate(Role::CityAdmin, Role::CityAdmin));
    }

    #[test]
    fn ranks_are_strictly_ordered_as_listed() {
        for w in Role::ALL.windows(2) {
            assert!(w[0].rank() > w[1].rank());
        }
        assert_eq!(
            Role::ALL
                .iter()
                .filter(|r| r.is_group_scoped())
                .copied()
                .collect::<Vec<_>>(),
            vec![Role::GroupLeader, Role::Member]
        );
    }

    #[test]
    fn city_admin_may_do_everything_and_ward_leader_all_but_units() {
        assert_eq!(allowed(Role::CityAdmin), ALL_ACTIONS.to_vec());
        let ward: Vec<Action> = ALL_ACTIONS
            .into_iter()
            .filter(|a| *a != ManageUnits)
            .collect();
        assert_eq!(allowed(Role::WardLeader), ward);
    }

    #[test]
    fn district_officer_reads_all_but_audit_and_writes_tasks_targets_users_units() {
        assert_eq!(
            allowed(Role::DistrictOfficer),
            vec![
                ReadUnits,
                ReadAggregates,
                ReadProducts,
                ReadGroups,
                ReadTasks,
                ReadActivities,
                ReadPersonalData,
                ReadUsers,
                CreateTask,
                UpdateTask,
                SetTargets,
                ManageUsers,
                ManageUnits
            ]
        );
    }

    #[test]
    fn group_roles() {
        let member = vec![
            ReadUnits,
            ReadProducts,
            ReadGroups,
            ReadTasks,
            ReadActivities,
            ReadPersonalData,
            ReportActivity,
        ];
        assert_eq!(allowed(Role::Member), member);
        let leader = vec![
            ReadUnits,
            ReadProducts,
            ReadGroups,
            ReadTasks,
            ReadActivities,
            ReadPersonalData,
            ManageMembers,
            ManageMemberships,
            CreateTask,
            UpdateTask,
            ManageListings,
            ReportActivity,
        ];
        assert_eq!(allowed(Role::GroupLeader), leader);
        assert!(!allows(Role::GroupLeader, ReadAggregates));
        assert!(!allows(Role::Member, ReadAggregates));
    }

    #[test]
    fn viewer_sees_aggregates_and_products_only() {
        assert_eq!(
            allowed(Role::Viewer),
            vec![ReadUnits, ReadAggregates, ReadProducts]
        );
        assert!(!allows(Role::Viewer, ReadPersonalData));
    }

    #[test]
    fn grants() {
        let grantable = |actor| {
            Role::ALL
                .into_iter()
                .filter(|t| can_grant(actor, *t))
                .collect::<Vec<_>>()
        };
        use Role::*;
        assert_eq!(
            grantable(CityAdmin),
            vec![DistrictOfficer, WardLeader, GroupLeader, Member, Viewer]
        );
        assert_eq!(
            grantable(DistrictOfficer),
            vec![WardLeader, GroupLeader, Member, Viewer]
        );
        assert_eq!(grantable(WardLeader), vec![GroupLeader, Member]);
        assert!(grantable(GroupLeader).is_empty());
        assert!(grantable(Member).is_empty());
        assert!(grantable(Viewer).is_empty());
        for r in Role::ALL {
            assert!(!can_grant(r, r), "{r} must not grant its own role");
        }
    }

    #[test]
    fn paths() {
        assert!(path_within("/1/5/", "/1/5/"));
        assert!(path_within("/1/5/", "/1/5/23/"));
        assert!(path_within("/1/", "/1/5/23/"));
        assert!(!path_within("/1/5/", "/1/50/"));
        assert!(!path_within("/1/5/", "/1/"));
        assert!(!path_within("/1/5/23/", "/1/5/"));
        assert!(!path_within("/2/", "/1/5/"));
        // Malformed scopes contain nothing.
        assert!(!path_within("", "/1/"));
        assert!(!path_within("/", "/1/"));
        assert!(!path_within("/1/5", "/1/50/"));
        assert!(!path_within("1/5/", "1/5/"));
        assert!(!path_within("//", "//1/"));
        assert!(!path_within("/1//", "/1//2/"));
        assert!(!path_within("/1/", "/1/5"));
    }
}
