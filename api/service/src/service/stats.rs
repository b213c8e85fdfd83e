//! Aggregates for district and ward apps: counts and sums over a unit's subtree, or
//! over one group, computed by the database.
//!
//! Decisions:
//! - **Families.** Statistics are grouped into [`Family`]s; each family is ONE `GROUP BY`
//!   statement over its table(s), and the GraphQL layer asks only for the families whose fields
//!   were selected (look-ahead). Asking for `groups` alone costs one cheap statement.
//! - **Batched anchors.** A statement computes a family for many anchors at once: the anchors
//!   (units with their subtree ranges, or groups) are a small `VALUES` table `k` that the rows are
//!   joined to, and the statement groups by `k.anchor_id`. `children { nodes { stats } } }` of
//!   56 wards is therefore one statement per family, not 56.
//! - **Units read rollups.** A unit's figures come from the rollup tables the database keeps in
//!   step with the facts ([`cdtg_migrations::rollups`]: per unit, its whole subtree and what is
//!   attached to it alone, by the keys stats filter and break down by). A dashboard then reads a
//!   few rows per unit asked for, however many tasks and activities lie below: the facts were
//!   read three times per dashboard (city, districts, wards), and the time grew with the data.
//!   Without a period or a month/week/day dimension, tasks, activities and outcomes come from
//!   all-time totals (a few rows per unit); overdue tasks are their own family because they
//!   need due dates. Groups' own figures, figures as of a past day, and surveys (one small row
//!   per ward), are still read from the facts.
//! - **Subtrees by range.** For those, a row belongs to a unit's subtree when its `unit_path`
//!   lies in `[path, upper)` ([`scope::subtree_range`]); a B-tree index on the path answers that
//!   on both databases (PostgreSQL paths use the "C" collation), unlike `LIKE path || '%'`.
//! - **Small sub-keys, no rows in Rust.** Families that back fields with arguments also group by
//!   the argument columns (tasks by status and kind, listings by platform and status, members by
//!   affiliation), so `tasks(status: DONE)` needs no second statement. At most a few hundred
//!   aggregated rows come back per statement; raw rows never do.
//! - **Periods.** Calendar periods in Asia/Ho_Chi_Minh (UTC+7, no daylight saving): timestamps
//!   (`activities.occurred_at`) are compared with the period's UTC bounds, dates (`tasks.due_on`,
//!   survey periods) with its date bounds. Groups, members, products and listings are counted as
//!   they are now: the period does not apply to them.
//! - **Surveys.** Survey totals add up the latest survey (within the period, if any) of every unit
//!   in the subtree. Surveys are recorded per ward; recording one for a district as well would
//!   count its households twice, which is the recorder's responsibility.
//! - **SQL text.** Statements are assembled here from fixed fragments; every value is a bound
//!   parameter. The only dialect differences are the month/week bucketing expressions and the
//!   overflow-safe sums.
//! - **Never overflow.** Input limits keep real figures small, but statistics read whatever the
//!   tables hold (rows written by hand, or by versions before the limits): sums are computed so
//!   that they cannot overflow on either database and come back saturated at the ends of the
//!   `BIGINT` range ([`sum`], [`saturated`]); Rust adds them with saturating arithmetic; rates
//!   have no zero denominators and stay within 0..=1. One absurd row then shows as a huge figure
//!   in the statistics it belongs to, instead of failing every statistic for everyone.

use cdtg_core::activity::OutcomeKind;
use std::collections::{BTreeMap, HashMap};

use cdtg_core::group::Affiliation;
use cdtg_core::policy::{self, Action};
use cdtg_core::product::{ListingStatus, Platform};
use cdtg_core::task::{TaskKind, TaskStatus};
use cdtg_core::unit::TargetIndicator;
use cdtg_core::{limits, validate};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, QueryOrder, Set, Statement, Value,
};

use super::audit::{self, Touched};
use super::{scope, today_in_vietnam, units};
use crate::db::write_txn;
use crate::entity::{admin_unit, group, group_target, unit_target};
use crate::error::{ApiError, ApiResult};
use crate::principal::{Principal, Scope};

// Vietnam's offset from UTC (the one definition is in core).
use cdtg_core::time::VIETNAM_UTC_OFFSET_HOURS as VIETNAM_OFFSET_HOURS;

/// The most rows `statsBreakdown` returns.
pub const MAX_BREAKDOWN_ROWS: usize = 5_000;

// ---------------------------------------------------------------------------------------------
// Periods
// ---------------------------------------------------------------------------------------------

/// A calendar period's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeriodKind {
    Day,
    /// ISO week, Monday to Sunday.
    Week,
    Month,
    Quarter,
    Year,
}

/// The years a period may name. Far beyond any real statistics, and far inside chrono's date
/// range, so period arithmetic (next month, next year, UTC bounds) can never overflow.
const PERIOD_YEARS: std::ops::RangeInclusive<i32> = 1900..=2200;

/// A client-supplied period date, refused (naming `field`) outside [`PERIOD_YEARS`].
pub fn period_date(field: &str, date: NaiveDate) -> ApiResult<NaiveDate> {
    if PERIOD_YEARS.contains(&date.year()) {
        Ok(date)
    } else {
        Err(ApiError::bad_input(
            field,
            format!(
                "must be between {} and {}",
                PERIOD_YEARS.start(),
                PERIOD_YEARS.end()
            ),
        ))
    }
}

/// A half-open range of Vietnamese calendar days `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    pub start: NaiveDate,
    /// Exclusive.
    pub end: NaiveDate,
}

impl Period {
    /// The calendar day/week/month/quarter/year containing `date`.
    pub fn calendar(kind: PeriodKind, date: NaiveDate) -> Period {
        let ymd = |y: i32, m: u32| NaiveDate::from_ymd_opt(y, m, 1).expect("valid month start");
        let next_month = |y: i32, m: u32| {
            if m == 12 {
                ymd(y + 1, 1)
            } else {
                ymd(y, m + 1)
            }
        };
        match kind {
            PeriodKind::Day => Period {
                start: date,
                end: date + Duration::days(1),
            },
            PeriodKind::Week => {
                let start = date - Duration::days(date.weekday().num_days_from_monday() as i64);
                Period {
                    start,
                    end: start + Duration::days(7),
                }
            }
            PeriodKind::Month => Period {
                start: ymd(date.year(), date.month()),
                end: next_month(date.year(), date.month()),
            },
            PeriodKind::Quarter => {
                let first = (date.month() - 1) / 3 * 3 + 1;
                let start = ymd(date.year(), first);
                let end = if first == 10 {
                    ymd(date.year() + 1, 1)
                } else {
                    ymd(date.year(), first + 3)
                };
                Period { start, end }
            }
            PeriodKind::Year => Period {
                start: ymd(date.year(), 1),
                end: ymd(date.year() + 1, 1),
            },
        }
    }

    /// An explicit range of days, both inclusive.
    pub fn between(from: NaiveDate, to: NaiveDate) -> ApiResult<Period> {
        validate::not_before("period.to", &from, &to)?;
        Ok(Period {
            start: from,
            end: to + Duration::days(1),
        })
    }

    /// The period's bounds as UTC instants: midnight in Vietnam is 17:00 UTC the day before.
    pub fn utc_bounds(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let at = |d: NaiveDate| {
            d.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
                - Duration::hours(VIETNAM_OFFSET_HOURS)
        };
        (at(self.start), at(self.end))
    }

    /// The last day of the period.
    pub fn last_day(&self) -> NaiveDate {
        self.end - Duration::days(1)
    }

    pub fn overlaps(&self, start: NaiveDate, end_inclusive: NaiveDate) -> bool {
        start < self.end && end_inclusive >= self.start
    }
}

// ---------------------------------------------------------------------------------------------
// Families, dimensions and anchors
// ---------------------------------------------------------------------------------------------

/// A set of statistics computed by one statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// Community groups, management teams, active community groups.
    Groups,
    /// Members and trained members, by affiliation.
    Members,
    /// Tasks by status and kind (period: due date).
    Tasks,
    /// Overdue tasks by status and kind: due before today (in Vietnam) and still `OPEN` or
    /// `IN_PROGRESS` (period: due date). Apart from `Tasks` because it needs each task's due date,
    /// which the all-time task totals do not keep.
    OverdueTasks,
    /// Activities, residents helped, VNeID activations (period: when it happened).
    Activities,
    Products,
    /// Listings by platform and status.
    Listings,
    /// Latest household survey of every unit in the subtree (period: survey period).
    Surveys,
    /// The outcomes field reports recorded, by kind (period: when the work happened). Read
    /// from the facts: the rollups do not keep outcomes by kind.
    Outcomes,
}

impl Family {
    pub const ALL: [Family; 9] = [
        Family::Groups,
        Family::Members,
        Family::Tasks,
        Family::OverdueTasks,
        Family::Activities,
        Family::Products,
        Family::Listings,
        Family::Surveys,
        Family::Outcomes,
    ];

    /// Whether the period filters this family's rows; the others are counted as they are now.
    pub fn uses_period(self) -> bool {
        matches!(
            self,
            Family::Tasks
                | Family::OverdueTasks
                | Family::Activities
                | Family::Surveys
                | Family::Outcomes
        )
    }

    /// The period to compute this family for: `None` for families the period does not apply
    /// to, so every period shares one cached result.
    pub fn effective(self, period: Option<Period>) -> Option<Period> {
        if self.uses_period() { period } else { None }
    }

    /// Whether this family's figures can be split by `dim`.
    pub fn supports(self, dim: Dim) -> bool {
        match dim {
            Dim::ChildUnit => true,
            Dim::TaskKind => matches!(
                self,
                Family::Tasks | Family::OverdueTasks | Family::Activities | Family::Outcomes
            ),
            Dim::TaskStatus => matches!(self, Family::Tasks | Family::OverdueTasks),
            Dim::Platform => self == Family::Listings,
            Dim::Affiliation => self == Family::Members,
            Dim::Month | Dim::Week | Dim::Day => matches!(
                self,
                Family::Tasks | Family::OverdueTasks | Family::Activities | Family::Outcomes
            ),
            // Household surveys belong to units, not groups.
            Dim::Group => self != Family::Surveys,
            Dim::Indicator => self == Family::Outcomes,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Family::Groups => "groups",
            Family::Members => "members",
            Family::Tasks => "tasks",
            Family::OverdueTasks => "overdue tasks",
            Family::Activities => "activities",
            Family::Products => "products",
            Family::Listings => "listings",
            Family::Surveys => "surveys",
            Family::Outcomes => "outcomes",
        }
    }
}

/// A breakdown dimension of `statsBreakdown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim {
    /// The direct children of the unit (and the unit itself, for rows attached to it directly).
    ChildUnit,
    TaskKind,
    TaskStatus,
    Platform,
    Affiliation,
    /// Calendar month in Vietnam: of the due date for tasks, of `occurredAt` for activities.
    Month,
    /// ISO week (starting Monday) in Vietnam, like `Month`.
    Week,
    /// Calendar day in Vietnam, like `Month`.
    Day,
    /// Every group of the unit's subtree (read from the facts, one row per group).
    Group,
    /// The outcome kind (programme indicator) field reports recorded.
    Indicator,
}

impl Dim {
    pub fn name(self) -> &'static str {
        match self {
            Dim::ChildUnit => "CHILD_UNIT",
            Dim::TaskKind => "TASK_KIND",
            Dim::TaskStatus => "TASK_STATUS",
            Dim::Platform => "PLATFORM",
            Dim::Affiliation => "AFFILIATION",
            Dim::Month => "MONTH",
            Dim::Week => "WEEK",
            Dim::Day => "DAY",
            Dim::Group => "GROUP",
            Dim::Indicator => "INDICATOR",
        }
    }
}

/// What a statistic is computed over.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Anchor {
    /// A unit's whole subtree.
    Unit { id: i64, path: String },
    /// Exactly one unit's own rows (not its children's): the "unit itself" breakdown row.
    UnitOnly { id: i64, path: String },
    /// The rows of a unit's subtree that lie in none of the statement's `Unit` anchors: the
    /// "unit itself" row of a breakdown read as of a day, which also holds what lies in units
    /// that did not exist yet on that day. Read from the facts only.
    UnitRest { id: i64, path: String },
    /// One group: its own tasks, activities, products and current members.
    Group { id: i64, unit_path: String },
}

impl Anchor {
    pub fn unit(u: &admin_unit::Model) -> Anchor {
        Anchor::Unit {
            id: u.id,
            path: u.path.clone(),
        }
    }

    pub fn group(g: &group::Model) -> Anchor {
        Anchor::Group {
            id: g.id,
            unit_path: g.unit_path.clone(),
        }
    }

    fn id(&self) -> i64 {
        match self {
            Anchor::Unit { id, .. }
            | Anchor::UnitOnly { id, .. }
            | Anchor::UnitRest { id, .. }
            | Anchor::Group { id, .. } => *id,
        }
    }

    fn is_group(&self) -> bool {
        matches!(self, Anchor::Group { .. })
    }

    /// The `[lo, hi)` path range of the rows that belong to the anchor.
    fn range(&self) -> (String, String) {
        match self {
            Anchor::Unit { path, .. } | Anchor::UnitRest { path, .. } => scope::subtree_range(path),
            // Paths hold only digits and slashes, and '/' sorts below every digit: nothing but
            // `path` itself lies in [path, path + "/").
            Anchor::UnitOnly { path, .. } => (path.clone(), format!("{path}/")),
            Anchor::Group { .. } => unreachable!("groups are joined by id"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

/// Members of one affiliation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemberCounts {
    pub members: i64,
    pub trained: i64,
}

/// Tasks of one status and kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskCounts {
    pub tasks: i64,
    pub overdue: i64,
}

/// Sums of the latest surveys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SurveyTotals {
    pub surveyed_units: i64,
    pub households: i64,
    pub with_computer: i64,
    pub with_internet: i64,
    pub with_smartphone: i64,
    pub five_skills: i64,
}

/// The aggregated figures of one anchor (and breakdown key). Families that were not computed
/// stay at zero; the GraphQL layer only reads fields whose family it asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsData {
    pub community_groups: i64,
    pub management_teams: i64,
    pub active_groups: i64,
    /// Affiliation → counts. The keys here and in `tasks_by` and `listings_by` are the stored
    /// text as the statement grouped it, so a value this version does not know still counts
    /// toward the totals; the accessors below take and return the core's enums.
    pub members_by_affiliation: BTreeMap<String, MemberCounts>,
    /// (status, kind) → counts.
    pub tasks_by: BTreeMap<(String, String), TaskCounts>,
    pub activities: i64,
    pub residents_helped: i64,
    pub vneid_activations: i64,
    pub products: i64,
    /// (platform, status) → listings.
    pub listings_by: BTreeMap<(String, String), i64>,
    pub survey: SurveyTotals,
    /// Outcome kind (stored text) → count recorded by field reports.
    pub outcomes: BTreeMap<String, i64>,
}

/// Adds without ever overflowing: figures come from the database, where rows written by hand or
/// by older versions may hold anything, and one absurd row must saturate the statistics it is in,
/// not fail them (nor wrap them negative).
fn add(to: &mut i64, value: i64) {
    *to = to.saturating_add(value);
}

/// The saturating sum of some figures.
fn total(values: impl Iterator<Item = i64>) -> i64 {
    values.fold(0, i64::saturating_add)
}

/// A rate as a fraction of `den`: `None` without a positive denominator (never a division by
/// zero, never NaN), and clamped to 0..=1. A numerator above its denominator (more households
/// with internet than households) can only come from rows written around the validation; the
/// rate then says "all" rather than 130 %.
fn ratio(num: i64, den: i64) -> Option<f64> {
    (den > 0).then(|| (num as f64 / den as f64).clamp(0.0, 1.0))
}

impl StatsData {
    /// Adds another anchor's or key's figures to these.
    pub fn merge(&mut self, o: &StatsData) {
        add(&mut self.community_groups, o.community_groups);
        add(&mut self.management_teams, o.management_teams);
        add(&mut self.active_groups, o.active_groups);
        for (k, v) in &o.members_by_affiliation {
            let e = self.members_by_affiliation.entry(k.clone()).or_default();
            add(&mut e.members, v.members);
            add(&mut e.trained, v.trained);
        }
        for (k, v) in &o.tasks_by {
            let e = self.tasks_by.entry(k.clone()).or_default();
            add(&mut e.tasks, v.tasks);
            add(&mut e.overdue, v.overdue);
        }
        add(&mut self.activities, o.activities);
        add(&mut self.residents_helped, o.residents_helped);
        add(&mut self.vneid_activations, o.vneid_activations);
        add(&mut self.products, o.products);
        for (k, v) in &o.listings_by {
            add(self.listings_by.entry(k.clone()).or_default(), *v);
        }
        for (k, v) in &o.outcomes {
            add(self.outcomes.entry(k.clone()).or_default(), *v);
        }
        let (s, t) = (&mut self.survey, &o.survey);
        add(&mut s.surveyed_units, t.surveyed_units);
        add(&mut s.households, t.households);
        add(&mut s.with_computer, t.with_computer);
        add(&mut s.with_internet, t.with_internet);
        add(&mut s.with_smartphone, t.with_smartphone);
        add(&mut s.five_skills, t.five_skills);
    }

    pub fn members(&self) -> i64 {
        total(self.members_by_affiliation.values().map(|c| c.members))
    }

    pub fn trained_members(&self) -> i64 {
        total(self.members_by_affiliation.values().map(|c| c.trained))
    }

    /// Members per affiliation, in the order of the stored spellings; affiliations this version
    /// does not know are left out here (they still count in `members`).
    pub fn by_affiliation(&self) -> impl Iterator<Item = (Affiliation, &MemberCounts)> {
        self.members_by_affiliation
            .iter()
            .filter_map(|(a, c)| Some((Affiliation::parse(a)?, c)))
    }

    /// Tasks, optionally of one status and/or kind.
    pub fn tasks(&self, status: Option<TaskStatus>, kind: Option<TaskKind>) -> i64 {
        total(
            self.tasks_by
                .iter()
                .filter(|((s, k), _)| {
                    status.is_none_or(|x| x.as_str() == s) && kind.is_none_or(|x| x.as_str() == k)
                })
                .map(|(_, c)| c.tasks),
        )
    }

    pub fn tasks_overdue(&self) -> i64 {
        total(self.tasks_by.values().map(|c| c.overdue))
    }

    /// Done tasks over tasks that were not cancelled; `None` without any.
    pub fn task_completion_rate(&self) -> Option<f64> {
        let done = self.tasks(Some(TaskStatus::Done), None);
        let live = self
            .tasks(None, None)
            .saturating_sub(self.tasks(Some(TaskStatus::Cancelled), None));
        ratio(done, live)
    }

    /// Listings, optionally on one platform and/or in one status.
    pub fn listings(&self, platform: Option<Platform>, status: Option<ListingStatus>) -> i64 {
        total(
            self.listings_by
                .iter()
                .filter(|((p, s), _)| {
                    platform.is_none_or(|x| x.as_str() == p)
                        && status.is_none_or(|x| x.as_str() == s)
                })
                .map(|(_, n)| *n),
        )
    }

    pub fn internet_rate(&self) -> Option<f64> {
        ratio(self.survey.with_internet, self.survey.households)
    }
    pub fn computer_rate(&self) -> Option<f64> {
        ratio(self.survey.with_computer, self.survey.households)
    }
    pub fn smartphone_rate(&self) -> Option<f64> {
        ratio(self.survey.with_smartphone, self.survey.households)
    }
    pub fn five_skills_rate(&self) -> Option<f64> {
        ratio(self.survey.five_skills, self.survey.households)
    }
    /// What field reports recorded of one outcome kind.
    pub fn outcome(&self, kind: OutcomeKind) -> i64 {
        self.outcomes.get(kind.as_str()).copied().unwrap_or(0)
    }
}

// ---------------------------------------------------------------------------------------------
// Targets' indicators
// ---------------------------------------------------------------------------------------------

/// The family that computes an indicator.
pub fn indicator_family(indicator: TargetIndicator) -> Family {
    use TargetIndicator as I;
    match indicator {
        I::Groups | I::ActiveGroups => Family::Groups,
        I::Members | I::TrainedMembers => Family::Members,
        I::TasksDone | I::TaskCompletionRate => Family::Tasks,
        I::Activities | I::ResidentsHelped | I::VneidActivations => Family::Activities,
        I::Products => Family::Products,
        I::ActiveListings => Family::Listings,
        I::InternetRate | I::ComputerRate | I::SmartphoneRate | I::FiveSkillsRate => {
            Family::Surveys
        }
        I::OnlineDossiersSubmitted
        | I::CashlessAccountsOpened
        | I::EcommerceAccountsCreated
        | I::PeopleTrained => Family::Outcomes,
    }
}

/// An indicator's value in computed figures (`None` for a rate without a denominator).
pub fn indicator_value(indicator: TargetIndicator, d: &StatsData) -> Option<f64> {
    use TargetIndicator as I;
    let n = |v: i64| Some(v as f64);
    match indicator {
        I::Groups => n(d.community_groups),
        I::ActiveGroups => n(d.active_groups),
        I::Members => n(d.members()),
        I::TrainedMembers => n(d.trained_members()),
        I::TasksDone => n(d.tasks(Some(TaskStatus::Done), None)),
        I::TaskCompletionRate => d.task_completion_rate(),
        I::Activities => n(d.activities),
        I::ResidentsHelped => n(d.residents_helped),
        I::VneidActivations => n(d.vneid_activations),
        I::Products => n(d.products),
        I::ActiveListings => n(d.listings(None, Some(ListingStatus::Active))),
        I::InternetRate => d.internet_rate(),
        I::ComputerRate => d.computer_rate(),
        I::SmartphoneRate => d.smartphone_rate(),
        I::FiveSkillsRate => d.five_skills_rate(),
        I::OnlineDossiersSubmitted => n(d.outcome(OutcomeKind::OnlineDossierSubmitted)),
        I::CashlessAccountsOpened => n(d.outcome(OutcomeKind::CashlessAccountOpened)),
        I::EcommerceAccountsCreated => n(d.outcome(OutcomeKind::EcommerceAccountCreated)),
        I::PeopleTrained => n(d.outcome(OutcomeKind::PersonTrained)),
    }
}

// ---------------------------------------------------------------------------------------------
// Authorisation
// ---------------------------------------------------------------------------------------------

/// A unit's aggregates: `ReadAggregates` and the unit inside the caller's scope. Units are
/// public, so a unit above or beside the scope is `FORBIDDEN` (not `NOT_FOUND`); it is audited.
pub async fn authorize_unit(
    db: &DatabaseConnection,
    p: &Principal,
    unit: &admin_unit::Model,
) -> ApiResult<()> {
    audit::authorize(db, p, Action::ReadAggregates, "stats").await?;
    if !scope::unit_in_scope(p, &unit.path) {
        let err = ApiError::forbidden("the unit's statistics are outside your scope");
        audit::record_failure(db, p, "stats", &err).await;
        return Err(err);
    }
    Ok(())
}

/// A group's own figures: its own group roles, or unit roles that may read aggregates and have
/// the group in scope.
pub fn authorize_group(p: &Principal, g: &group::Model) -> ApiResult<()> {
    let own = matches!(&p.scope, Scope::Group { group_id, .. } if *group_id == g.id);
    let unit_reader = policy::allows(p.role, Action::ReadAggregates)
        && scope::group_in_scope(p, g.id, &g.unit_path);
    if own || unit_reader {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "the group's statistics are outside your scope",
        ))
    }
}

/// The pure check behind both, re-applied to every anchor a statement computes.
fn anchor_allowed(p: &Principal, a: &Anchor) -> bool {
    match a {
        Anchor::Unit { path, .. }
        | Anchor::UnitOnly { path, .. }
        | Anchor::UnitRest { path, .. } => {
            policy::allows(p.role, Action::ReadAggregates) && scope::unit_in_scope(p, path)
        }
        Anchor::Group { id, unit_path } => {
            matches!(&p.scope, Scope::Group { group_id, .. } if group_id == id)
                || (policy::allows(p.role, Action::ReadAggregates)
                    && scope::group_in_scope(p, *id, unit_path))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SQL
// ---------------------------------------------------------------------------------------------

/// A statement under construction: text plus bound values, with the backend's placeholders.
struct Sql {
    backend: DatabaseBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    fn new(backend: DatabaseBackend) -> Self {
        Sql {
            backend,
            text: String::new(),
            values: Vec::new(),
        }
    }

    /// Numbered placeholders (`$1`, `$2`, …), which both PostgreSQL and SQLite (through sqlx)
    /// bind by number, so fragments may be assembled in any order.
    fn param(&mut self, v: impl Into<Value>) -> String {
        self.values.push(v.into());
        format!("${}", self.values.len())
    }

    fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    /// `SELECT k.anchor_id, <keys> AS key…, <metrics> AS m… FROM … WHERE … GROUP BY`: the
    /// shape every family statement returns to [`compute`].
    fn grouped_select(
        &mut self,
        from: &str,
        keys: &[String],
        metrics: &[String],
        wheres: &[String],
    ) {
        let mut select = vec!["k.anchor_id".to_owned()];
        select.extend(
            keys.iter()
                .enumerate()
                .map(|(i, e)| format!("{e} AS key{i}")),
        );
        let backend = self.backend;
        select.extend(
            metrics
                .iter()
                .enumerate()
                .map(|(i, m)| format!("{} AS m{i}", saturated(backend, m))),
        );
        self.push(&format!("SELECT {} FROM {from}", select.join(", ")));
        if !wheres.is_empty() {
            self.push(" WHERE ");
            self.push(&wheres.join(" AND "));
        }
        self.push(" GROUP BY k.anchor_id");
        for e in keys {
            self.push(", ");
            self.push(e);
        }
    }

    fn build(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}

/// `SUM(expr)` that cannot overflow, whatever the rows hold. SQLite's `SUM` of integers fails
/// with "integer overflow" past 2^63, so SQLite uses `TOTAL`, a floating-point sum (exact below
/// 2^53, far above any real figure). PostgreSQL's `SUM` of a `BIGINT` is `NUMERIC` and never
/// overflows; [`saturated`] brings it back into range.
fn sum(backend: DatabaseBackend, expr: &str) -> String {
    match backend {
        DatabaseBackend::Postgres => format!("SUM({expr})"),
        _ => format!("TOTAL({expr})"),
    }
}

/// A metric (`COUNT(*)` or a [`sum`]) as a `BIGINT`, saturated at the ends of its range rather
/// than failing: a statistic must answer even when some row holds an absurd value (rows written
/// by hand, or before the input limits). SQLite's `CAST` of a real saturates by itself;
/// PostgreSQL's fails ("bigint out of range"), so the value is clamped first.
fn saturated(backend: DatabaseBackend, metric: &str) -> String {
    match backend {
        DatabaseBackend::Postgres => format!(
            "CAST(LEAST(GREATEST({metric}, {}), {}) AS BIGINT)",
            i64::MIN,
            i64::MAX
        ),
        _ => format!("CAST({metric} AS BIGINT)"),
    }
}

/// Calendar bucketing expressions: the first day of the month or ISO week, as 'YYYY-MM-DD' text.
fn bucket(backend: DatabaseBackend, dim: Dim, expr: &str, is_timestamp: bool) -> String {
    match backend {
        DatabaseBackend::Postgres => {
            let local = if is_timestamp {
                format!("(({expr}) AT TIME ZONE 'UTC' + INTERVAL '{VIETNAM_OFFSET_HOURS} hours')")
            } else {
                format!("CAST({expr} AS TIMESTAMP)")
            };
            let unit = match dim {
                Dim::Month => "month",
                Dim::Week => "week",
                _ => "day",
            };
            format!("to_char(date_trunc('{unit}', {local}), 'YYYY-MM-DD')")
        }
        _ => {
            let shift = if is_timestamp {
                format!(", '+{VIETNAM_OFFSET_HOURS} hours'")
            } else {
                String::new()
            };
            if dim == Dim::Month {
                format!("date({expr}{shift}, 'start of month')")
            } else if dim == Dim::Day {
                format!("date({expr}{shift})")
            } else {
                // 'weekday 0' advances to the next Sunday (or stays on one); six days earlier is
                // that ISO week's Monday.
                format!("date({expr}{shift}, 'weekday 0', '-6 days')")
            }
        }
    }
}

/// One family's statement for a set of anchors (all units or all groups), grouped by anchor,
/// by the breakdown dimensions `dims` (never `ChildUnit`: children are anchors) and by the
/// family's own sub-keys.
fn family_statement(
    backend: DatabaseBackend,
    family: Family,
    period: Option<Period>,
    as_of: Option<NaiveDate>,
    anchors: &[Anchor],
    dims: &[Dim],
) -> ApiResult<(Statement, usize)> {
    let groups_mode = anchors.first().is_some_and(Anchor::is_group);
    if groups_mode && family == Family::Surveys {
        return Err(ApiError::bad_input(
            "stats",
            "household surveys belong to units, not groups",
        ));
    }
    // Read as of a day, rows are placed where they were on that day (`unit_moves`), which the
    // rollups (kept by where rows are now) cannot answer.
    let as_of = as_of.filter(|_| !groups_mode);
    if !groups_mode && family != Family::Surveys && as_of.is_none() {
        return rollup_statement(backend, family, period, anchors, dims);
    }
    let mut q = Sql::new(backend);

    // The anchors as a common table `k(anchor_id[, lo, hi])` of VALUES, placed first in the
    // statement. A `UNION ALL` of one-row SELECTs hid its size from PostgreSQL (estimated at
    // one row), which then repeated the whole facts ⋈ groups hash join once per anchor: 56
    // wards, 56 scans of activities. With VALUES it knows the count and walks the path index
    // once per anchor instead.
    let mut rows = Vec::with_capacity(anchors.len());
    for a in anchors {
        let id = q.param(a.id());
        if groups_mode {
            rows.push(format!("({id})"));
        } else {
            let (lo, hi) = a.range();
            let (lo, hi) = (q.param(lo), q.param(hi));
            let rest = q.param(i32::from(matches!(a, Anchor::UnitRest { .. })));
            rows.push(format!("({id}, {lo}, {hi}, {rest})"));
        }
    }
    let columns = if groups_mode {
        "anchor_id"
    } else {
        "anchor_id, lo, hi, rest"
    };
    q.push(&format!(
        "WITH k({columns}) AS (VALUES {}) ",
        rows.join(", ")
    ));
    // A "rest" anchor takes the rows of its range that no other anchor of the batch holds.
    let in_range = |col: &str| {
        format!(
            "{col} >= k.lo AND {col} < k.hi AND (k.rest = 0 OR NOT EXISTS (SELECT 1 FROM k k2 \
             WHERE k2.rest = 0 AND {col} >= k2.lo AND {col} < k2.hi))"
        )
    };
    let mut wheres: Vec<String> = Vec::new();
    // Groups and members as they stood on the day asked for: a row moved later counts at the
    // path it left (the earliest move after that day), every other row where it is.
    let (groups, members) = match as_of {
        None => ("groups g".to_owned(), "members m".to_owned()),
        Some(day) => {
            let mut placed = |object: &str, alias: &str| {
                let day = q.param(day);
                format!(
                    "COALESCE((SELECT mv.from_path FROM unit_moves mv WHERE mv.object_type = \
                     '{object}' AND mv.object_id = {alias}.id AND mv.effective_on > {day} \
                     ORDER BY mv.effective_on, mv.id LIMIT 1), {alias}.unit_path)"
                )
            };
            let g = placed("GROUP", "g0");
            let m = placed("MEMBER", "m0");
            (
                format!("(SELECT g0.id, g0.kind, g0.status, {g} AS unit_path FROM groups g0) g"),
                format!(
                    "(SELECT m0.id, m0.affiliation, m0.trained_on, {m} AS unit_path \
                     FROM members m0) m"
                ),
            )
        }
    };

    // FROM, per family and anchor kind; `path_join` attaches rows to anchors.
    let (from, subkeys, metrics): (String, Vec<&str>, Vec<String>) = match family {
        Family::Groups => (
            if groups_mode {
                "groups g JOIN k ON g.id = k.anchor_id".to_owned()
            } else {
                format!("{groups} JOIN k ON {}", in_range("g.unit_path"))
            },
            vec![],
            vec![
                sum(backend, "CASE WHEN g.kind = 'COMMUNITY' THEN 1 ELSE 0 END"),
                sum(backend, "CASE WHEN g.kind = 'MANAGEMENT' THEN 1 ELSE 0 END"),
                sum(
                    backend,
                    "CASE WHEN g.kind = 'COMMUNITY' AND g.status = 'ACTIVE' THEN 1 ELSE 0 END",
                ),
            ],
        ),
        Family::Members => (
            if groups_mode {
                "members m JOIN memberships ms ON ms.member_id = m.id AND ms.left_on IS NULL \
                     JOIN k ON ms.group_id = k.anchor_id"
                    .to_owned()
            } else {
                format!("{members} JOIN k ON {}", in_range("m.unit_path"))
            },
            vec!["m.affiliation"],
            vec![
                "COUNT(*)".into(),
                sum(
                    backend,
                    "CASE WHEN m.trained_on IS NOT NULL THEN 1 ELSE 0 END",
                ),
            ],
        ),
        Family::Tasks | Family::OverdueTasks => {
            if family == Family::OverdueTasks {
                wheres.push(overdue_condition(&mut q, "t"));
            }
            (
                if groups_mode {
                    "tasks t JOIN k ON t.group_id = k.anchor_id".to_owned()
                } else {
                    format!(
                        "tasks t JOIN {groups} ON g.id = t.group_id JOIN k ON {}",
                        in_range("g.unit_path")
                    )
                },
                vec!["t.status", "t.kind"],
                vec!["COUNT(*)".into()],
            )
        }
        Family::Activities => {
            let tasks = if dims.contains(&Dim::TaskKind) {
                " LEFT JOIN tasks t ON t.id = a.task_id"
            } else {
                ""
            };
            (
                if groups_mode {
                    format!("activities a{tasks} JOIN k ON a.group_id = k.anchor_id")
                } else {
                    format!(
                        "activities a{tasks} JOIN {groups} ON g.id = a.group_id JOIN k ON {}",
                        in_range("g.unit_path")
                    )
                },
                vec![],
                vec![
                    "COUNT(*)".into(),
                    sum(backend, "a.residents_helped"),
                    sum(backend, "a.vneid_activations"),
                ],
            )
        }
        Family::Outcomes => {
            let tasks = if dims.contains(&Dim::TaskKind) {
                " LEFT JOIN tasks t ON t.id = a.task_id"
            } else {
                ""
            };
            (
                if groups_mode {
                    format!(
                        "activity_outcomes o JOIN activities a ON a.id = o.activity_id{tasks} \
                         JOIN k ON a.group_id = k.anchor_id"
                    )
                } else {
                    format!(
                        "activity_outcomes o JOIN activities a ON a.id = o.activity_id{tasks} \
                         JOIN {groups} ON g.id = a.group_id JOIN k ON {}",
                        in_range("g.unit_path")
                    )
                },
                vec!["o.kind"],
                vec![sum(backend, "o.count")],
            )
        }
        // Archived products and listings leave the statistics (as in the rollups).
        Family::Products => {
            wheres.push("p.archived_at IS NULL".into());
            (
                if groups_mode {
                    "products p JOIN k ON p.group_id = k.anchor_id".to_owned()
                } else {
                    format!(
                        "products p JOIN {groups} ON g.id = p.group_id JOIN k ON {}",
                        in_range("g.unit_path")
                    )
                },
                vec![],
                vec!["COUNT(*)".into()],
            )
        }
        Family::Listings => {
            wheres.push("l.archived_at IS NULL AND p.archived_at IS NULL".into());
            (
                if groups_mode {
                    "listings l JOIN products p ON p.id = l.product_id \
                     JOIN k ON p.group_id = k.anchor_id"
                        .to_owned()
                } else {
                    format!(
                        "listings l JOIN products p ON p.id = l.product_id \
                         JOIN {groups} ON g.id = p.group_id JOIN k ON {}",
                        in_range("g.unit_path")
                    )
                },
                vec!["l.platform", "l.status"],
                vec!["COUNT(*)".into()],
            )
        }
        Family::Surveys => {
            // The latest survey of each unit (within the period): ROW_NUMBER in a subquery.
            let mut inner = String::from(
                "SELECT s.unit_id, s.households, s.with_computer, s.with_internet, \
                 s.with_smartphone, s.five_skills_households, ROW_NUMBER() OVER (PARTITION BY \
                 s.unit_id ORDER BY s.period_end DESC, s.period_start DESC) AS rn \
                 FROM unit_surveys s",
            );
            if let Some(pd) = period {
                let (end, start) = (q.param(pd.end), q.param(pd.start));
                inner.push_str(&format!(
                    " WHERE s.period_start < {end} AND s.period_end >= {start}"
                ));
            }
            // Households are counted once: where a unit and units below it both reported,
            // the highest surveyed unit within the subtree asked about counts (its survey
            // covers the households of the units below it), and those below are left out.
            (
                format!(
                    "({inner}) s JOIN admin_units su ON su.id = s.unit_id JOIN k ON {} \
                     AND s.rn = 1 AND NOT EXISTS (SELECT 1 FROM ({inner}) s2 JOIN admin_units \
                     au ON au.id = s2.unit_id WHERE s2.rn = 1 AND au.id <> su.id AND \
                     substr(su.path, 1, length(au.path)) = au.path AND {})",
                    in_range("su.path"),
                    in_range("au.path")
                ),
                vec![],
                vec![
                    "COUNT(*)".into(),
                    sum(backend, "s.households"),
                    sum(backend, "s.with_computer"),
                    sum(backend, "s.with_internet"),
                    sum(backend, "s.with_smartphone"),
                    sum(backend, "s.five_skills_households"),
                ],
            )
        }
    };

    // Breakdown dimensions, as key expressions.
    let mut keys: Vec<String> = Vec::new();
    for &d in dims {
        let expr = match (family, d) {
            (Family::Members, Dim::Affiliation) => "m.affiliation".to_owned(),
            (Family::Tasks | Family::OverdueTasks, Dim::TaskKind) => "t.kind".to_owned(),
            // A walk-in report has no task: its key is the rollups' stand-in for none.
            (Family::Activities | Family::Outcomes, Dim::TaskKind) => {
                format!("COALESCE(t.kind, '{}')", cdtg_migrations::rollups::WALK_IN)
            }
            (Family::Tasks | Family::OverdueTasks, Dim::TaskStatus) => "t.status".to_owned(),
            (Family::Listings, Dim::Platform) => "l.platform".to_owned(),
            (Family::Outcomes, Dim::Indicator) => "o.kind".to_owned(),
            (Family::Tasks | Family::OverdueTasks, Dim::Month | Dim::Week | Dim::Day) => {
                bucket(backend, d, "t.due_on", false)
            }
            (Family::Activities | Family::Outcomes, Dim::Month | Dim::Week | Dim::Day) => {
                bucket(backend, d, "a.occurred_at", true)
            }
            _ => return Err(cannot_break_down(family, d)),
        };
        keys.push(expr);
    }
    keys.extend(subkeys.iter().map(|s| (*s).to_owned()));

    // Period filter, for the families it applies to (surveys filtered above).
    if let Some(pd) = family.effective(period) {
        match family {
            Family::Tasks | Family::OverdueTasks => {
                let (s, e) = (q.param(pd.start), q.param(pd.end));
                wheres.push(format!("t.due_on >= {s} AND t.due_on < {e}"));
            }
            Family::Activities | Family::Outcomes => {
                let (s, e) = pd.utc_bounds();
                let (s, e) = (q.param(s), q.param(e));
                wheres.push(format!("a.occurred_at >= {s} AND a.occurred_at < {e}"));
            }
            _ => {}
        }
    }

    q.grouped_select(&from, &keys, &metrics, &wheres);
    Ok((q.build(), dims.len()))
}

/// The statement of a family for unit anchors, over its rollup table
/// ([`cdtg_migrations::rollups`]): the rows of the anchors themselves (`own = 0` for a subtree,
/// `own = 1` for what is attached to the unit alone), summed by the breakdown dimensions and the
/// family's sub-keys. It reads a few rows per anchor and key, however many facts lie below.
/// The result has the shape of [`family_statement`]'s: `anchor_id`, `key…`, `m…`.
fn rollup_statement(
    backend: DatabaseBackend,
    family: Family,
    period: Option<Period>,
    anchors: &[Anchor],
    dims: &[Dim],
) -> ApiResult<(Statement, usize)> {
    let mut q = Sql::new(backend);
    let mut rows = Vec::with_capacity(anchors.len());
    for a in anchors {
        let own = match a {
            Anchor::Unit { .. } => 0_i32,
            Anchor::UnitOnly { .. } => 1,
            Anchor::UnitRest { .. } | Anchor::Group { .. } => {
                return Err(ApiError::Internal(
                    "rollups asked for an anchor read from the facts".into(),
                ));
            }
        };
        let (id, own) = (q.param(a.id()), q.param(own));
        rows.push(format!("({id}, {own})"));
    }
    q.push(&format!(
        "WITH k(anchor_id, own) AS (VALUES {}) ",
        rows.join(", ")
    ));
    // A task without a due date is stored under a stand-in date; it has no month or week.
    let no_due = format!("'{}'", cdtg_migrations::rollups::NO_DUE_DATE);
    let due_bucket = |d: Dim| {
        format!(
            "CASE WHEN r.due_on = {no_due} THEN NULL ELSE {} END",
            bucket(backend, d, "r.due_on", false)
        )
    };
    // Without a period or a month/week dimension, tasks and activities are read from their
    // all-time totals: a few rows per unit instead of one per day.
    let dated = family.effective(period).is_some()
        || dims
            .iter()
            .any(|d| matches!(d, Dim::Month | Dim::Week | Dim::Day));
    let mut wheres: Vec<String> = Vec::new();
    let (table, subkeys, metrics): (&str, Vec<&str>, Vec<String>) = match family {
        Family::Groups => (
            "rollup_groups",
            vec![],
            vec![
                sum(
                    backend,
                    "CASE WHEN r.kind = 'COMMUNITY' THEN r.n ELSE 0 END",
                ),
                sum(
                    backend,
                    "CASE WHEN r.kind = 'MANAGEMENT' THEN r.n ELSE 0 END",
                ),
                sum(
                    backend,
                    "CASE WHEN r.kind = 'COMMUNITY' AND r.status = 'ACTIVE' THEN r.n ELSE 0 END",
                ),
            ],
        ),
        Family::Members => (
            "rollup_members",
            vec!["r.affiliation"],
            vec![
                sum(backend, "r.n"),
                sum(backend, "CASE WHEN r.trained = 1 THEN r.n ELSE 0 END"),
            ],
        ),
        Family::Tasks => (
            if dated {
                "rollup_tasks"
            } else {
                "rollup_task_totals"
            },
            vec!["r.status", "r.kind"],
            vec![sum(backend, "r.n")],
        ),
        Family::OverdueTasks => {
            wheres.push(overdue_condition(&mut q, "r"));
            (
                "rollup_tasks",
                vec!["r.status", "r.kind"],
                vec![sum(backend, "r.n")],
            )
        }
        Family::Activities => (
            if dated {
                "rollup_activities"
            } else {
                "rollup_activity_totals"
            },
            vec![],
            vec![
                sum(backend, "r.n"),
                sum(backend, "r.residents_helped"),
                sum(backend, "r.vneid_activations"),
            ],
        ),
        Family::Outcomes => (
            if dated {
                "rollup_outcomes"
            } else {
                "rollup_outcome_totals"
            },
            vec!["r.kind"],
            vec![sum(backend, "r.amount")],
        ),
        Family::Products => ("rollup_products", vec![], vec![sum(backend, "r.n")]),
        Family::Listings => (
            "rollup_listings",
            vec!["r.platform", "r.status"],
            vec![sum(backend, "r.n")],
        ),
        Family::Surveys => {
            unreachable!("surveys are read from the facts")
        }
    };
    let mut keys: Vec<String> = Vec::new();
    for &d in dims {
        let expr = match (family, d) {
            (Family::Members, Dim::Affiliation) => "r.affiliation".to_owned(),
            (Family::Tasks | Family::OverdueTasks, Dim::TaskKind) => "r.kind".to_owned(),
            (Family::Activities | Family::Outcomes, Dim::TaskKind) => "r.task_kind".to_owned(),
            (Family::Outcomes, Dim::Indicator) => "r.kind".to_owned(),
            (Family::Tasks | Family::OverdueTasks, Dim::TaskStatus) => "r.status".to_owned(),
            (Family::Listings, Dim::Platform) => "r.platform".to_owned(),
            (Family::Tasks | Family::OverdueTasks, Dim::Month | Dim::Week | Dim::Day) => {
                due_bucket(d)
            }
            (Family::Activities | Family::Outcomes, Dim::Month | Dim::Week | Dim::Day) => {
                bucket(backend, d, "r.day", false)
            }
            _ => return Err(cannot_break_down(family, d)),
        };
        keys.push(expr);
    }
    keys.extend(subkeys.iter().map(|s| (*s).to_owned()));

    if let Some(pd) = family.effective(period) {
        let column = match family {
            Family::Tasks | Family::OverdueTasks => "r.due_on",
            Family::Activities | Family::Outcomes => "r.day",
            _ => unreachable!("only tasks, activities and outcomes have periods among rollups"),
        };
        let (s, e) = (q.param(pd.start), q.param(pd.end));
        wheres.push(format!("{column} >= {s} AND {column} < {e}"));
    }

    q.grouped_select(
        &format!("{table} r JOIN k ON r.unit_id = k.anchor_id AND r.own = k.own"),
        &keys,
        &metrics,
        &wheres,
    );
    // Counters that went back to zero (a task changed status) are rows without data.
    q.push(&format!(" HAVING {} <> 0", sum(backend, "r.n")));
    Ok((q.build(), dims.len()))
}

/// Tasks of `alias` (facts or the dated rollup: both have `due_on` and `status`) that are
/// overdue: due before today in Vietnam and still open or in progress (a submitted task waits
/// for its reviewer, not for the group). Tasks without a due date
/// (`NULL`, or the rollups' stand-in date after every period) never are.
fn overdue_condition(q: &mut Sql, alias: &str) -> String {
    let today = q.param(today_in_vietnam());
    format!("{alias}.due_on < {today} AND {alias}.status IN ('OPEN', 'IN_PROGRESS')")
}

fn cannot_break_down(family: Family, d: Dim) -> ApiError {
    ApiError::bad_input(
        "by",
        format!(
            "{} statistics cannot be broken down by {}",
            family.name(),
            d.name()
        ),
    )
}

/// One aggregated row: anchor, breakdown key values, figures.
pub type FamilyRow = (i64, Vec<Option<String>>, StatsData);

/// Computes one family for many anchors of one kind, broken down by `dims` (empty for plain
/// stats). One statement. Every anchor must be readable by `p`.
pub async fn compute(
    db: &DatabaseConnection,
    p: &Principal,
    family: Family,
    period: Option<Period>,
    as_of: Option<NaiveDate>,
    anchors: &[Anchor],
    dims: &[Dim],
) -> ApiResult<Vec<FamilyRow>> {
    if anchors.is_empty() {
        return Ok(vec![]);
    }
    if anchors.iter().any(|a| !anchor_allowed(p, a)) {
        return Err(ApiError::forbidden("statistics outside your scope"));
    }
    if anchors
        .iter()
        .any(|a| a.is_group() != anchors[0].is_group())
    {
        return Err(ApiError::Internal(
            "units and groups mixed in one statistics batch".into(),
        ));
    }
    let backend = db.get_database_backend();
    let (stmt, ndims) = family_statement(
        backend,
        family,
        family.effective(period),
        as_of,
        anchors,
        dims,
    )?;
    let rows = db.query_all_raw(stmt).await?;
    let mut out: HashMap<(i64, Vec<Option<String>>), StatsData> = HashMap::new();
    for row in rows {
        let anchor: i64 = row.try_get("", "anchor_id")?;
        let text = |i: usize| -> ApiResult<Option<String>> {
            Ok(row.try_get::<Option<String>>("", &format!("key{i}"))?)
        };
        let m = |i: usize| -> ApiResult<i64> {
            Ok(row
                .try_get::<Option<i64>>("", &format!("m{i}"))?
                .unwrap_or(0))
        };
        let key: Vec<Option<String>> = (0..ndims).map(text).collect::<ApiResult<_>>()?;
        let sub = |i: usize| -> ApiResult<String> { Ok(text(ndims + i)?.unwrap_or_default()) };
        let d = out.entry((anchor, key)).or_default();
        match family {
            Family::Groups => {
                add(&mut d.community_groups, m(0)?);
                add(&mut d.management_teams, m(1)?);
                add(&mut d.active_groups, m(2)?);
            }
            Family::Members => {
                let e = d.members_by_affiliation.entry(sub(0)?).or_default();
                add(&mut e.members, m(0)?);
                add(&mut e.trained, m(1)?);
            }
            Family::Tasks => add(
                &mut d.tasks_by.entry((sub(0)?, sub(1)?)).or_default().tasks,
                m(0)?,
            ),
            Family::OverdueTasks => add(
                &mut d.tasks_by.entry((sub(0)?, sub(1)?)).or_default().overdue,
                m(0)?,
            ),
            Family::Activities => {
                add(&mut d.activities, m(0)?);
                add(&mut d.residents_helped, m(1)?);
                add(&mut d.vneid_activations, m(2)?);
            }
            Family::Products => add(&mut d.products, m(0)?),
            Family::Listings => {
                add(d.listings_by.entry((sub(0)?, sub(1)?)).or_default(), m(0)?);
            }
            Family::Outcomes => add(d.outcomes.entry(sub(0)?).or_default(), m(0)?),
            Family::Surveys => {
                let s = &mut d.survey;
                add(&mut s.surveyed_units, m(0)?);
                add(&mut s.households, m(1)?);
                add(&mut s.with_computer, m(2)?);
                add(&mut s.with_internet, m(3)?);
                add(&mut s.with_smartphone, m(4)?);
                add(&mut s.five_skills, m(5)?);
            }
        }
    }
    Ok(out.into_iter().map(|((a, k), d)| (a, k, d)).collect())
}

// ---------------------------------------------------------------------------------------------
// Breakdown
// ---------------------------------------------------------------------------------------------

/// One row of a breakdown: the child unit (when broken down by `CHILD_UNIT`) and the values of
/// the other dimensions, in the order asked.
#[derive(Debug, Clone)]
pub struct BreakdownRow {
    pub unit: Option<admin_unit::Model>,
    /// With `GROUP`: the group.
    pub group: Option<group::Model>,
    pub keys: BTreeMap<Dim, Option<String>>,
    pub data: StatsData,
}

/// The most dimensions one breakdown takes.
pub const MAX_DIMENSIONS: usize = 3;

/// Validates the dimensions: one to three, distinct, `GROUP` and `CHILD_UNIT` not together
/// (a group already names its unit), and each supported by every family asked.
pub fn check_dims(dims: &[Dim], families: &[Family]) -> ApiResult<()> {
    if dims.is_empty() || dims.len() > MAX_DIMENSIONS {
        return Err(ApiError::bad_input(
            "by",
            format!("give one to {MAX_DIMENSIONS} dimensions"),
        ));
    }
    let distinct: std::collections::BTreeSet<Dim> = dims.iter().copied().collect();
    if distinct.len() != dims.len() {
        return Err(ApiError::bad_input("by", "dimensions must differ"));
    }
    if distinct.contains(&Dim::Group) && distinct.contains(&Dim::ChildUnit) {
        return Err(ApiError::bad_input(
            "by",
            "GROUP and CHILD_UNIT cannot be combined; each group row names its unit",
        ));
    }
    for &f in families {
        for &d in dims {
            if !f.supports(d) {
                return Err(cannot_break_down(f, d));
            }
        }
    }
    Ok(())
}

/// `statsBreakdown`: the unit's figures split by one or two dimensions, one statement per
/// family. Rows are the key combinations that have data; broken down by `CHILD_UNIT` alone,
/// every child has a row. Rows attached directly to the unit (not to any child) form a row of
/// the unit itself, so the rows always add up to the unit's total.
///
/// Read as of a day (`as_of`), the children are the units that existed on that day and every
/// group and member counts where it was then; the unit's own row also holds what lies in units
/// formed later. A closed unit is read as of its last day unless a day is given. Without a day,
/// the children are the current ones, and closed children appear only while they still hold
/// something (a unit closed without a successor keeps its past groups).
pub async fn breakdown(
    db: &DatabaseConnection,
    p: &Principal,
    unit: &admin_unit::Model,
    dims: &[Dim],
    families: &[Family],
    period: Option<Period>,
    as_of: Option<NaiveDate>,
) -> ApiResult<Vec<BreakdownRow>> {
    authorize_unit(db, p, unit).await?;
    check_dims(dims, families)?;
    let as_of = as_of.or(unit.valid_to);
    let by_child = dims.contains(&Dim::ChildUnit);
    let by_group = dims.contains(&Dim::Group);
    let sql_dims: Vec<Dim> = dims
        .iter()
        .copied()
        .filter(|d| !matches!(d, Dim::ChildUnit | Dim::Group))
        .collect();
    let mut units_by_id: HashMap<i64, admin_unit::Model> = HashMap::new();
    let mut groups_by_id: HashMap<i64, group::Model> = HashMap::new();
    let mut closed_children: Vec<i64> = Vec::new();
    let anchors: Vec<Anchor> = if by_group {
        // Every group of the subtree the caller may see, one anchor each.
        let groups = group::Entity::find()
            .filter(scope::groups(p))
            .filter(scope::unit_subtree(group::Column::UnitPath, &unit.path))
            .all(db)
            .await?;
        let anchors = groups.iter().map(Anchor::group).collect();
        groups_by_id.extend(groups.into_iter().map(|g| (g.id, g)));
        anchors
    } else if by_child {
        let mut children = units::children_of(db, p, &[unit.id])
            .await?
            .remove(&unit.id)
            .unwrap_or_default();
        if let Some(day) = as_of {
            children.retain(|c| super::unit_admin::valid_on(c, day));
        } else {
            let today = today_in_vietnam();
            closed_children = children
                .iter()
                .filter(|c| !super::unit_admin::valid_on(c, today))
                .map(|c| c.id)
                .collect();
        }
        let mut anchors: Vec<Anchor> = children.iter().map(Anchor::unit).collect();
        anchors.push(if as_of.is_some() {
            Anchor::UnitRest {
                id: unit.id,
                path: unit.path.clone(),
            }
        } else {
            Anchor::UnitOnly {
                id: unit.id,
                path: unit.path.clone(),
            }
        });
        for c in children {
            units_by_id.insert(c.id, c);
        }
        units_by_id.insert(unit.id, unit.clone());
        anchors
    } else {
        vec![Anchor::unit(unit)]
    };

    let mut merged: BTreeMap<(i64, Vec<Option<String>>), StatsData> = BTreeMap::new();
    for &f in families {
        for (anchor, key, data) in compute(db, p, f, period, as_of, &anchors, &sql_dims).await? {
            merged.entry((anchor, key)).or_default().merge(&data);
        }
    }
    if by_child && sql_dims.is_empty() {
        for id in units_by_id.keys() {
            if *id != unit.id && !closed_children.contains(id) {
                merged.entry((*id, vec![])).or_default();
            }
        }
    }
    // Every group has a row, idle ones included: "which groups did nothing" is a question.
    if by_group && sql_dims.is_empty() {
        for id in groups_by_id.keys() {
            merged.entry((*id, vec![])).or_default();
        }
    }
    let rows = merged
        .into_iter()
        .filter(|((anchor, _), data)| {
            // The unit's own row, and closed children's, only when something is in them.
            let optional = *anchor == unit.id || closed_children.contains(anchor);
            !(by_child && optional && *data == StatsData::default())
        })
        .map(|((anchor, key), data)| BreakdownRow {
            unit: by_child
                .then(|| units_by_id.get(&anchor).cloned())
                .flatten(),
            group: by_group
                .then(|| groups_by_id.get(&anchor).cloned())
                .flatten(),
            keys: sql_dims.iter().copied().zip(key).collect(),
            data,
        })
        .collect();
    Ok(rows)
}

// ---------------------------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------------------------

/// Targets of many units (one statement), by indicator then period. Targets are aggregate
/// figures like the stats themselves: readable with `ReadAggregates` within scope. A target
/// whose indicator this version does not know (a newer version set it) is left out.
pub async fn targets_of(
    db: &DatabaseConnection,
    p: &Principal,
    unit_ids: &[i64],
) -> ApiResult<HashMap<i64, Vec<unit_target::Model>>> {
    scope::require(p, Action::ReadAggregates)?;
    let rows = unit_target::Entity::find()
        .filter(unit_target::Column::UnitId.is_in(unit_ids.iter().copied()))
        .filter(unit_target::Column::UnitId.in_subquery(scope::units_in_scope(p)))
        .filter(unit_target::Column::Indicator.is_in(TargetIndicator::ALL))
        .order_by_asc(unit_target::Column::Indicator)
        .order_by_asc(unit_target::Column::PeriodStart)
        .order_by_asc(unit_target::Column::Id)
        .all(db)
        .await?;
    Ok(super::group_by_parent(rows, |row| row.unit_id))
}

/// Whether a target's period overlaps the period stats were asked for (all targets without one).
pub fn target_in_period(t: &unit_target::Model, period: Option<Period>) -> bool {
    period.is_none_or(|pd| pd.overlaps(t.period_start, t.period_end))
}

/// `setUnitTarget`'s input.
#[derive(Debug, Clone)]
pub struct TargetInput {
    pub unit_id: i64,
    pub indicator: TargetIndicator,
    pub period_start: NaiveDate,
    /// Inclusive.
    pub period_end: NaiveDate,
    pub target_value: f64,
}

/// Sets (or replaces) a unit's target for an indicator and period: `CITY_ADMIN`,
/// `DISTRICT_OFFICER` or `WARD_LEADER`, for units inside their scope. Audited.
pub async fn set_target(
    db: &DatabaseConnection,
    p: &Principal,
    input: TargetInput,
) -> ApiResult<unit_target::Model> {
    audit::authorize(db, p, Action::SetTargets, "setUnitTarget").await?;
    let txn = write_txn(db).await?;
    let outcome = set_target_in(&txn, p, input).await;
    audit::conclude(db, txn, p, "setUnitTarget", outcome).await
}

/// The rules every target obeys, for units and groups alike.
fn check_target(
    indicator: TargetIndicator,
    start: NaiveDate,
    end: NaiveDate,
    value: f64,
) -> ApiResult<()> {
    period_date("periodStart", start)?;
    period_date("periodEnd", end)?;
    validate::not_before("periodEnd", &start, &end)?;
    if !value.is_finite() || value < 0.0 {
        return Err(ApiError::bad_input(
            "targetValue",
            "must be a non-negative number",
        ));
    }
    if indicator.is_rate() && value > 1.0 {
        return Err(ApiError::bad_input(
            "targetValue",
            "a rate is a fraction between 0 and 1 (0.8 for 80 %)",
        ));
    }
    if !indicator.is_rate() && value > limits::MAX_UNIT_TARGET {
        return Err(ApiError::bad_input(
            "targetValue",
            format!("must be at most {}", limits::MAX_UNIT_TARGET as i64),
        ));
    }
    Ok(())
}

async fn set_target_in(
    txn: &DatabaseTransaction,
    p: &Principal,
    t: TargetInput,
) -> ApiResult<(unit_target::Model, Touched)> {
    check_target(t.indicator, t.period_start, t.period_end, t.target_value)?;
    let unit = admin_unit::Entity::find_by_id(t.unit_id)
        .one(txn)
        .await?
        .ok_or_else(|| ApiError::bad_input("unitId", "no such unit"))?;
    if !scope::unit_in_scope(p, &unit.path) {
        return Err(ApiError::forbidden("the unit is outside your scope"));
    }
    let now = Utc::now();
    use unit_target::Column as C;
    unit_target::Entity::insert(unit_target::ActiveModel {
        unit_id: Set(unit.id),
        indicator: Set(t.indicator),
        period_start: Set(t.period_start),
        period_end: Set(t.period_end),
        target_value: Set(t.target_value),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([C::UnitId, C::Indicator, C::PeriodStart, C::PeriodEnd])
            .update_columns([C::TargetValue, C::UpdatedAt])
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    let model = unit_target::Entity::find()
        .filter(C::UnitId.eq(unit.id))
        .filter(C::Indicator.eq(t.indicator))
        .filter(C::PeriodStart.eq(t.period_start))
        .filter(C::PeriodEnd.eq(t.period_end))
        .one(txn)
        .await?
        .ok_or(ApiError::NotFound("target"))?;
    Ok((
        model.clone(),
        Touched::new("UnitTarget", model.id, unit.path),
    ))
}

/// `setGroupTarget`'s input.
#[derive(Debug, Clone)]
pub struct GroupTargetInput {
    pub group_id: i64,
    pub indicator: TargetIndicator,
    pub period_start: NaiveDate,
    /// Inclusive.
    pub period_end: NaiveDate,
    pub target_value: f64,
}

/// Sets (or replaces) a group's target: whoever sets unit targets, for groups in their scope.
/// Household-survey rates are the units' own: a group has none.
pub async fn set_group_target(
    db: &DatabaseConnection,
    p: &Principal,
    t: GroupTargetInput,
) -> ApiResult<group_target::Model> {
    audit::authorize(db, p, Action::SetTargets, "setGroupTarget").await?;
    let txn = write_txn(db).await?;
    let outcome = async {
        check_target(t.indicator, t.period_start, t.period_end, t.target_value)?;
        if indicator_family(t.indicator) == Family::Surveys {
            return Err(ApiError::bad_input(
                "indicator",
                "household surveys belong to units; a group has no survey rate",
            ));
        }
        let grp = group::Entity::find_by_id(t.group_id)
            .filter(scope::groups(p))
            .one(&txn)
            .await?
            .ok_or_else(|| ApiError::bad_input("groupId", "no such group"))?;
        let now = Utc::now();
        use group_target::Column as C;
        group_target::Entity::insert(group_target::ActiveModel {
            group_id: Set(grp.id),
            indicator: Set(t.indicator),
            period_start: Set(t.period_start),
            period_end: Set(t.period_end),
            target_value: Set(t.target_value),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .on_conflict(
            OnConflict::columns([C::GroupId, C::Indicator, C::PeriodStart, C::PeriodEnd])
                .update_columns([C::TargetValue, C::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        let model = group_target::Entity::find()
            .filter(C::GroupId.eq(grp.id))
            .filter(C::Indicator.eq(t.indicator))
            .filter(C::PeriodStart.eq(t.period_start))
            .filter(C::PeriodEnd.eq(t.period_end))
            .one(&txn)
            .await?
            .ok_or(ApiError::NotFound("target"))?;
        Ok((
            model.clone(),
            Touched::new("GroupTarget", model.id, grp.unit_path),
        ))
    }
    .await;
    audit::conclude(db, txn, p, "setGroupTarget", outcome).await
}

/// Targets of many groups (one statement), readable by those who read the groups' aggregates:
/// `ReadAggregates` with the group in scope, or the group's own leader and members.
pub async fn group_targets_of(
    db: &DatabaseConnection,
    p: &Principal,
    group_ids: &[i64],
) -> ApiResult<HashMap<i64, Vec<group_target::Model>>> {
    let rows = group_target::Entity::find()
        .filter(group_target::Column::GroupId.is_in(group_ids.iter().copied()))
        .filter(group_target::Column::GroupId.in_subquery(scope::visible_group_ids(p)))
        .filter(group_target::Column::Indicator.is_in(TargetIndicator::ALL))
        .order_by_asc(group_target::Column::Indicator)
        .order_by_asc(group_target::Column::PeriodStart)
        .order_by_asc(group_target::Column::Id)
        .all(db)
        .await?;
    let mut out: HashMap<i64, Vec<group_target::Model>> = HashMap::new();
    for r in rows {
        out.entry(r.group_id).or_default().push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn calendar_periods() {
        let p = Period::calendar(PeriodKind::Week, d(2025, 1, 1)); // a Wednesday
        assert_eq!((p.start, p.end), (d(2024, 12, 30), d(2025, 1, 6)));
        let p = Period::calendar(PeriodKind::Quarter, d(2025, 11, 15));
        assert_eq!((p.start, p.end), (d(2025, 10, 1), d(2026, 1, 1)));
        let p = Period::calendar(PeriodKind::Month, d(2024, 2, 29));
        assert_eq!((p.start, p.end), (d(2024, 2, 1), d(2024, 3, 1)));
        let p = Period::calendar(PeriodKind::Year, d(2024, 7, 4));
        assert_eq!((p.start, p.end), (d(2024, 1, 1), d(2025, 1, 1)));
        assert!(Period::between(d(2025, 2, 1), d(2025, 1, 1)).is_err());
    }

    #[test]
    fn vietnamese_midnight_is_17_utc() {
        let (s, e) = Period::calendar(PeriodKind::Day, d(2025, 3, 2)).utc_bounds();
        assert_eq!(s.to_rfc3339(), "2025-03-01T17:00:00+00:00");
        assert_eq!(e.to_rfc3339(), "2025-03-02T17:00:00+00:00");
    }

    #[test]
    fn unit_only_range_excludes_children() {
        let a = Anchor::UnitOnly {
            id: 1,
            path: "/1/".into(),
        };
        let (lo, hi) = a.range();
        assert!(lo.as_str() <= "/1/" && "/1/" < hi.as_str());
        assert!("/1/5/" >= hi.as_str());
        assert!("/1/0/" >= hi.as_str());
    }

    #[test]
    fn figures_saturate_and_rates_stay_fractions() {
        let mut a = StatsData::default();
        a.survey.households = i64::MAX - 1;
        a.survey.with_internet = i64::MAX;
        a.tasks_by.insert(
            ("DONE".into(), "OTHER".into()),
            TaskCounts {
                tasks: i64::MAX,
                overdue: 0,
            },
        );
        a.tasks_by.insert(
            ("CANCELLED".into(), "OTHER".into()),
            TaskCounts {
                tasks: i64::MAX,
                overdue: 0,
            },
        );
        let b = a.clone();
        a.merge(&b);
        assert_eq!(a.survey.households, i64::MAX);
        assert_eq!(a.tasks(None, None), i64::MAX);
        assert_eq!(a.internet_rate(), Some(1.0));
        // Everything cancelled (saturated): no live tasks, so no rate rather than NaN.
        assert_eq!(a.task_completion_rate(), None);
        assert_eq!(ratio(3, 0), None);
        assert_eq!(ratio(3, -2), None);
        assert_eq!(ratio(-3, 6), Some(0.0));
        assert_eq!(ratio(i64::MIN, 1), Some(0.0));
    }

    #[test]
    fn sums_cannot_overflow_on_either_database() {
        assert_eq!(
            sum(DatabaseBackend::Sqlite, "s.households"),
            "TOTAL(s.households)"
        );
        assert_eq!(
            sum(DatabaseBackend::Postgres, "s.households"),
            "SUM(s.households)"
        );
        assert_eq!(
            saturated(DatabaseBackend::Postgres, "SUM(x)"),
            "CAST(LEAST(GREATEST(SUM(x), -9223372036854775808), 9223372036854775807) AS BIGINT)"
        );
    }
}
