//! Field activities: what counts toward a task's target, and the validation of one field report.
//!
//! A report (one support session) says how many residents were helped and how many of each
//! outcome were achieved. Which number moves a task's progress depends on the task's kind: a
//! VNeID task counts *activated* accounts only (activated and logged in, not merely collected),
//! a training task counts people trained, and kinds without a matching outcome count residents
//! helped. The server adds [`progress_delta`] to the task atomically; the phone shows the same
//! number before it syncs.

use std::collections::HashSet;

use crate::error::ValidationError;
use crate::task::TaskKind;
use crate::validate;

/// Default upper bound on residents helped (and on any outcome count) in one session; the server
/// makes it configurable. Anything above is far more than a few people can help in one sitting
/// and is almost certainly a typo.
pub const DEFAULT_MAX_RESIDENTS_PER_SESSION: i64 = 500;

/// Longest note on a report, in characters.
pub const MAX_NOTE_CHARS: usize = 2000;

/// A countable result of a support session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(
    feature = "sea-orm",
    derive(sea_orm::DeriveValueType),
    sea_orm(value_type = "String")
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
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

wire_enum_impl!(OutcomeKind {
    VneidActivated => "VNEID_ACTIVATED",
    VneidCollected => "VNEID_COLLECTED",
    OnlineDossierSubmitted => "ONLINE_DOSSIER_SUBMITTED",
    CashlessAccountOpened => "CASHLESS_ACCOUNT_OPENED",
    EcommerceAccountCreated => "ECOMMERCE_ACCOUNT_CREATED",
    AppInstalled => "APP_INSTALLED",
    PersonTrained => "PERSON_TRAINED",
    Other => "OTHER",
});

/// Which outcome counts toward a task kind's target; `None` means residents helped count toward it.
pub fn target_outcome(kind: TaskKind) -> Option<OutcomeKind> {
    match kind {
        TaskKind::VneidActivation => Some(OutcomeKind::VneidActivated),
        TaskKind::OnlinePublicService => Some(OutcomeKind::OnlineDossierSubmitted),
        TaskKind::CashlessPayment => Some(OutcomeKind::CashlessAccountOpened),
        TaskKind::EcommerceOnboarding => Some(OutcomeKind::EcommerceAccountCreated),
        TaskKind::AppInstall => Some(OutcomeKind::AppInstalled),
        TaskKind::DigitalSkillsTraining => Some(OutcomeKind::PersonTrained),
        TaskKind::OnlineSafety | TaskKind::Communication | TaskKind::Survey | TaskKind::Other => {
            None
        }
    }
}

/// How much one report moves the progress of a task of `kind`: the sum of the counts of the
/// target outcome, or `residents_helped` when the kind has no target outcome.
///
/// Meant for reports that passed [`validate_report`] (so the numbers are small and non-negative);
/// it saturates rather than overflowing in any case.
pub fn progress_delta(
    kind: TaskKind,
    residents_helped: i64,
    outcomes: &[(OutcomeKind, i64)],
) -> i64 {
    match target_outcome(kind) {
        None => residents_helped,
        Some(target) => outcomes
            .iter()
            .filter(|(k, _)| *k == target)
            .fold(0i64, |sum, (_, n)| sum.saturating_add(*n)),
    }
}

/// The VNeID accounts a report activated: the sum of its `VNEID_ACTIVATED` outcome counts,
/// which the server keeps beside the report for the city's headline figure.
pub fn vneid_activations(outcomes: &[(OutcomeKind, i64)]) -> i64 {
    outcomes
        .iter()
        .filter(|(k, _)| *k == OutcomeKind::VneidActivated)
        .fold(0i64, |sum, (_, n)| sum.saturating_add(*n))
}

/// Validates one field report exactly as the server will, and returns the normalised note.
///
/// Checks, in order, with the GraphQL input names as fields: `idempotencyKey` (see
/// [`validate::idempotency_key`]); `residentsHelped` in `0..=max_residents`; every outcome count
/// in `0..=max_residents` and no outcome kind twice (`outcomes`); `note` optional, at most 2000
/// characters. Rejecting repeated kinds (instead of summing them) keeps one row per kind and makes
/// an accidental double entry on the phone visible.
pub fn validate_report(
    idempotency_key: &str,
    residents_helped: i64,
    outcomes: &[(OutcomeKind, i64)],
    note: Option<&str>,
    max_residents: i64,
) -> Result<Option<String>, ValidationError> {
    validate::idempotency_key("idempotencyKey", idempotency_key)?;
    validate::count_in_range("residentsHelped", residents_helped, 0, max_residents)?;
    let mut seen = HashSet::with_capacity(outcomes.len());
    for (kind, count) in outcomes {
        if !seen.insert(*kind) {
            return Err(ValidationError::new(
                "outcomes",
                format!("Outcome {kind} is listed more than once."),
            ));
        }
        if *count < 0 || *count > max_residents {
            return Err(ValidationError::new(
                "outcomes",
                format!("The count of {kind} must be between 0 and {max_residents}."),
            ));
        }
    }
    validate::optional_text("note", note, MAX_NOTE_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use OutcomeKind as O;

    const KEY: &str = "0b7d1c2e-8f0a-4c1e-9a55-3f2d8b6a9e10";
    const MAX: i64 = DEFAULT_MAX_RESIDENTS_PER_SESSION;

    #[test]
    fn vneid_activations_count_only_their_outcome() {
        assert_eq!(vneid_activations(&[]), 0);
        assert_eq!(
            vneid_activations(&[(O::PersonTrained, 4), (O::VneidActivated, 3)]),
            3
        );
    }

    #[test]
    fn target_outcomes() {
        assert_eq!(
            target_outcome(TaskKind::VneidActivation),
            Some(O::VneidActivated)
        );
        assert_eq!(
            target_outcome(TaskKind::OnlinePublicService),
            Some(O::OnlineDossierSubmitted)
        );
        assert_eq!(
            target_outcome(TaskKind::CashlessPayment),
            Some(O::CashlessAccountOpened)
        );
        assert_eq!(
            target_outcome(TaskKind::EcommerceOnboarding),
            Some(O::EcommerceAccountCreated)
        );
        assert_eq!(target_outcome(TaskKind::AppInstall), Some(O::AppInstalled));
        assert_eq!(
            target_outcome(TaskKind::DigitalSkillsTraining),
            Some(O::PersonTrained)
        );
        for k in [
            TaskKind::OnlineSafety,
            TaskKind::Communication,
            TaskKind::Survey,
            TaskKind::Other,
        ] {
            assert_eq!(target_outcome(k), None);
        }
        assert!(
            TaskKind::ALL
                .iter()
                .all(|k| target_outcome(*k) != Some(O::VneidCollected))
        );
    }

    #[test]
    fn collected_vneid_does_not_count() {
        let outcomes = [
            (O::VneidCollected, 7),
            (O::VneidActivated, 3),
            (O::AppInstalled, 2),
        ];
        assert_eq!(progress_delta(TaskKind::VneidActivation, 12, &outcomes), 3);
        assert_eq!(progress_delta(TaskKind::AppInstall, 12, &outcomes), 2);
        assert_eq!(progress_delta(TaskKind::CashlessPayment, 12, &outcomes), 0);
        assert_eq!(progress_delta(TaskKind::Communication, 12, &outcomes), 12);
        assert_eq!(progress_delta(TaskKind::VneidActivation, 12, &[]), 0);
    }

    #[test]
    fn valid_report_returns_normalised_note() {
        assert_eq!(validate_report(KEY, 0, &[], None, MAX), Ok(None));
        assert_eq!(
            validate_report(
                KEY,
                12,
                &[(O::VneidActivated, 3)],
                Some("  Tổ 5, nhà văn hoá  "),
                MAX
            ),
            Ok(Some("Tổ 5, nhà văn hoá".into()))
        );
        assert!(
            validate_report(KEY, MAX, &[(O::PersonTrained, MAX)], Some(" "), MAX)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn invalid_reports_name_the_graphql_field() {
        let field = |r: Result<Option<String>, ValidationError>| r.unwrap_err().field;
        assert_eq!(
            field(validate_report("short", 1, &[], None, MAX)),
            "idempotencyKey"
        );
        assert_eq!(
            field(validate_report(KEY, -1, &[], None, MAX)),
            "residentsHelped"
        );
        assert_eq!(
            field(validate_report(KEY, MAX + 1, &[], None, MAX)),
            "residentsHelped"
        );
        assert_eq!(
            field(validate_report(KEY, 1, &[(O::AppInstalled, -2)], None, MAX)),
            "outcomes"
        );
        assert_eq!(
            field(validate_report(
                KEY,
                1,
                &[(O::AppInstalled, MAX + 1)],
                None,
                MAX
            )),
            "outcomes"
        );
        assert_eq!(
            field(validate_report(
                KEY,
                1,
                &[(O::AppInstalled, 1), (O::AppInstalled, 1)],
                None,
                MAX
            )),
            "outcomes"
        );
        let long = "a".repeat(MAX_NOTE_CHARS + 1);
        assert_eq!(
            field(validate_report(KEY, 1, &[], Some(&long), MAX)),
            "note"
        );
        // The configured maximum is honoured, not only the default.
        assert_eq!(
            field(validate_report(KEY, 11, &[], None, 10)),
            "residentsHelped"
        );
    }

    #[test]
    fn outcome_wire_names() {
        assert_eq!(O::ALL.len(), 8);
        for o in O::ALL {
            assert_eq!(O::parse(o.as_str()), Some(o));
            assert_eq!(serde_json::to_string(&o).unwrap(), format!("\"{o}\""));
        }
        assert_eq!(O::VneidActivated.as_str(), "VNEID_ACTIVATED");
    }
}
