//! The task state machine — open, in progress, submitted, done; sent back, cancelled,
//! reopened — and who may drive it.
//!
//! ```text
//! OPEN --START--> IN_PROGRESS --SUBMIT--> SUBMITTED --COMPLETE--> DONE
//!                      ^                      |
//!                      +-------SEND_BACK------+
//! any non-final --CANCEL--> CANCELLED
//! DONE --REOPEN--> IN_PROGRESS        CANCELLED --REOPEN--> OPEN
//! ```
//!
//! Group leaders and members move a task forward up to `SUBMITTED`; judging the work (complete,
//! send back), cancelling and reopening belong to a ward leader or an officer above. The server
//! applies [`transition`] inside its optimistic-concurrency update; the phone applies the same
//! function to show only the buttons that will work.

use crate::policy::Role;

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(
    feature = "sea-orm",
    derive(sea_orm::DeriveValueType),
    sea_orm(value_type = "String")
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
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

wire_enum_impl!(TaskStatus {
    Open => "OPEN",
    InProgress => "IN_PROGRESS",
    Submitted => "SUBMITTED",
    Done => "DONE",
    Cancelled => "CANCELLED",
});

impl TaskStatus {
    /// `DONE` and `CANCELLED` are final: no work is reported on them and only `REOPEN` leaves them.
    pub fn is_final(self) -> bool {
        matches!(self, TaskStatus::Done | TaskStatus::Cancelled)
    }

    /// Whether the group still owes work: only such a task can be overdue. A `SUBMITTED` task
    /// waits for the reviewer, not for the group, so it is not overdue however late.
    pub fn can_be_overdue(self) -> bool {
        matches!(self, TaskStatus::Open | TaskStatus::InProgress)
    }
}

/// A request to move a task (the `action` of `transitionTask`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
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

wire_enum_impl!(TaskAction {
    Start => "START",
    Submit => "SUBMIT",
    SendBack => "SEND_BACK",
    Complete => "COMPLETE",
    Cancel => "CANCEL",
    Reopen => "REOPEN",
});

/// What kind of digital-transformation work a task is; decides which outcome counts toward its
/// target (see [`crate::activity::target_outcome`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(
    feature = "sea-orm",
    derive(sea_orm::DeriveValueType),
    sea_orm(value_type = "String")
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
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

wire_enum_impl!(TaskKind {
    VneidActivation => "VNEID_ACTIVATION",
    OnlinePublicService => "ONLINE_PUBLIC_SERVICE",
    CashlessPayment => "CASHLESS_PAYMENT",
    EcommerceOnboarding => "ECOMMERCE_ONBOARDING",
    AppInstall => "APP_INSTALL",
    DigitalSkillsTraining => "DIGITAL_SKILLS_TRAINING",
    OnlineSafety => "ONLINE_SAFETY",
    Communication => "COMMUNICATION",
    Survey => "SURVEY",
    Other => "OTHER",
});

/// How urgent a task is; ordered from least to most urgent.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[cfg_attr(
    feature = "sea-orm",
    derive(sea_orm::DeriveValueType),
    sea_orm(value_type = "String")
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
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

wire_enum_impl!(TaskPriority {
    Low => "LOW",
    Normal => "NORMAL",
    High => "HIGH",
    Urgent => "URGENT",
});

/// Why a task cannot move. The server maps `Illegal` to `BAD_USER_INPUT` (the message names the
/// current state) and `NotPermitted` to `FORBIDDEN`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The state machine has no such edge from the current status.
    #[error("cannot {action} a task that is {from}")]
    Illegal {
        /// The task's current status.
        from: TaskStatus,
        /// The requested action.
        action: TaskAction,
    },
    /// The caller's role may never perform this action.
    #[error("role {role} may not {action} a task")]
    NotPermitted {
        /// The caller's role.
        role: Role,
        /// The requested action.
        action: TaskAction,
    },
}

/// The status a task reaches when `action` is applied in `from`, or `Illegal` when the state
/// machine has no such edge. Role-blind; see [`transition`] for the full check.
pub fn next_status(from: TaskStatus, action: TaskAction) -> Result<TaskStatus, TransitionError> {
    use TaskAction as A;
    use TaskStatus as S;
    match (from, action) {
        (S::Open, A::Start) => Ok(S::InProgress),
        (S::InProgress, A::Submit) => Ok(S::Submitted),
        (S::Submitted, A::Complete) => Ok(S::Done),
        (S::Submitted, A::SendBack) => Ok(S::InProgress),
        (S::Open | S::InProgress | S::Submitted, A::Cancel) => Ok(S::Cancelled),
        (S::Done, A::Reopen) => Ok(S::InProgress),
        (S::Cancelled, A::Reopen) => Ok(S::Open),
        _ => Err(TransitionError::Illegal { from, action }),
    }
}

/// Whether `role` may ever perform `action`: group leaders and members only start and submit;
/// ward leaders and officers above do everything; viewers nothing.
pub fn role_may(role: Role, action: TaskAction) -> bool {
    match role {
        Role::CityAdmin | Role::DistrictOfficer | Role::WardLeader => true,
        // A group leader runs the group's own work: reviews what members submit (complete or
        // send back), but cancelling and reopening stay with the ward.
        Role::GroupLeader => matches!(
            action,
            TaskAction::Start | TaskAction::Submit | TaskAction::Complete | TaskAction::SendBack
        ),
        Role::Member => matches!(action, TaskAction::Start | TaskAction::Submit),
        Role::Viewer => false,
    }
}

/// Applies `action` for a caller with `role` to a task in `from`: the role check comes first, so
/// a member never learns which actions the state machine would allow, then [`next_status`].
pub fn transition(
    role: Role,
    from: TaskStatus,
    action: TaskAction,
) -> Result<TaskStatus, TransitionError> {
    if !role_may(role, action) {
        return Err(TransitionError::NotPermitted { role, action });
    }
    next_status(from, action)
}

/// Whether field activities may be reported on a task in `status`: not on final tasks.
pub fn accepts_activity(status: TaskStatus) -> bool {
    !status.is_final()
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskAction as A;
    use TaskStatus as S;

    const LEGAL: [(S, A, S); 9] = [
        (S::Open, A::Start, S::InProgress),
        (S::InProgress, A::Submit, S::Submitted),
        (S::Submitted, A::Complete, S::Done),
        (S::Submitted, A::SendBack, S::InProgress),
        (S::Open, A::Cancel, S::Cancelled),
        (S::InProgress, A::Cancel, S::Cancelled),
        (S::Submitted, A::Cancel, S::Cancelled),
        (S::Done, A::Reopen, S::InProgress),
        (S::Cancelled, A::Reopen, S::Open),
    ];

    #[test]
    fn every_pair_is_either_a_listed_edge_or_illegal() {
        let mut legal = 0;
        for from in S::ALL {
            for action in A::ALL {
                let expected = LEGAL
                    .iter()
                    .find(|(f, a, _)| *f == from && *a == action)
                    .map(|e| e.2);
                match (next_status(from, action), expected) {
                    (Ok(to), Some(want)) => {
                        assert_eq!(to, want);
                        legal += 1;
                    }
                    (Err(TransitionError::Illegal { from: f, action: a }), None) => {
                        assert_eq!((f, a), (from, action));
                    }
                    (got, want) => panic!("{from} {action}: got {got:?}, want {want:?}"),
                }
            }
        }
        assert_eq!(legal, LEGAL.len());
        assert_eq!(S::ALL.len() * A::ALL.len() - legal, 21);
    }

    #[test]
    fn only_work_the_group_still_owes_can_be_overdue() {
        let overdue: Vec<S> = S::ALL
            .iter()
            .copied()
            .filter(|s| s.can_be_overdue())
            .collect();
        assert_eq!(overdue, vec![S::Open, S::InProgress]);
    }

    #[test]
    fn role_rules() {
        for action in A::ALL {
            for role in [Role::CityAdmin, Role::DistrictOfficer, Role::WardLeader] {
                assert!(role_may(role, action));
            }
            let member_may = matches!(action, A::Start | A::Submit);
            let leader_may = member_may || matches!(action, A::Complete | A::SendBack);
            assert_eq!(role_may(Role::GroupLeader, action), leader_may);
            assert_eq!(role_may(Role::Member, action), member_may);
            assert!(!role_may(Role::Viewer, action));
        }
    }

    #[test]
    fn transition_checks_role_before_state() {
        assert_eq!(
            transition(Role::Member, S::Open, A::Start),
            Ok(S::InProgress)
        );
        assert_eq!(
            transition(Role::GroupLeader, S::InProgress, A::Submit),
            Ok(S::Submitted)
        );
        assert_eq!(
            transition(Role::Member, S::Submitted, A::Complete),
            Err(TransitionError::NotPermitted {
                role: Role::Member,
                action: A::Complete
            })
        );
        // Illegal for everyone, but the member is told about the role, not the state.
        assert!(matches!(
            transition(Role::Member, S::Done, A::Cancel),
            Err(TransitionError::NotPermitted { .. })
        ));
        assert_eq!(
            transition(Role::WardLeader, S::Done, A::Cancel),
            Err(TransitionError::Illegal {
                from: S::Done,
                action: A::Cancel
            })
        );
        assert_eq!(
            transition(Role::WardLeader, S::Cancelled, A::Reopen),
            Ok(S::Open)
        );
    }

    #[test]
    fn error_messages_name_state_and_role() {
        let e = TransitionError::Illegal {
            from: S::Done,
            action: A::Submit,
        };
        assert_eq!(e.to_string(), "cannot SUBMIT a task that is DONE");
        let e = TransitionError::NotPermitted {
            role: Role::Viewer,
            action: A::Start,
        };
        assert_eq!(e.to_string(), "role VIEWER may not START a task");
    }

    #[test]
    fn activities_only_on_non_final_tasks() {
        assert!(accepts_activity(S::Open));
        assert!(accepts_activity(S::InProgress));
        assert!(accepts_activity(S::Submitted));
        assert!(!accepts_activity(S::Done));
        assert!(!accepts_activity(S::Cancelled));
    }

    #[test]
    fn wire_names_round_trip_and_match_serde() {
        fn check<T>(all: &[T], as_str: fn(T) -> &'static str, parse: fn(&str) -> Option<T>)
        where
            T: Copy + PartialEq + std::fmt::Debug + serde::Serialize,
        {
            for v in all {
                assert_eq!(parse(as_str(*v)), Some(*v));
                assert_eq!(
                    serde_json::to_string(v).unwrap(),
                    format!("\"{}\"", as_str(*v))
                );
            }
            assert_eq!(parse("nope"), None);
        }
        check(&S::ALL, S::as_str, S::parse);
        check(&A::ALL, A::as_str, A::parse);
        check(&TaskKind::ALL, TaskKind::as_str, TaskKind::parse);
        check(
            &TaskPriority::ALL,
            TaskPriority::as_str,
            TaskPriority::parse,
        );
        assert_eq!(TaskKind::ALL.len(), 10);
        assert_eq!(TaskPriority::ALL.len(), 4);
        assert_eq!(TaskKind::VneidActivation.to_string(), "VNEID_ACTIVATION");
        assert!(TaskPriority::Urgent > TaskPriority::Low);
    }
}
