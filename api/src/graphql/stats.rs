//! GraphQL for aggregates: `UnitStats`, `PeriodInput`, `statsBreakdown` rows and unit
//! targets.
//!
//! The resolvers decide *which* statistic families to compute by looking ahead at the selection
//! (`groups` alone computes only the group family) and fetch each family through the request's
//! DataLoader, keyed by (anchor, period, family). Sibling `stats` fields — the children of a unit
//! in one list — therefore share one statement per family. Everything is computed by
//! [`crate::service::stats`]; this module only shapes it.

use crate::graphql::scalars::Date;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::graphql::errors::Result;
use async_graphql::dataloader::Loader;
use async_graphql::{
    ComplexObject, Context, Enum, ID, InputObject, Lookahead, Object, SimpleObject,
};
use chrono::NaiveDate;
use futures_util::future::try_join_all;

use super::context::{db, loader, principal};
use super::enums::{Affiliation, ListingStatus, Platform, SortDirection, TaskKind, TaskStatus};
use super::loaders::{BatchLoader, UnitById};
use super::objects::AdminUnit;
use crate::entity::{admin_unit, group, unit_target};
use crate::error::{ApiError, ApiResult};
use crate::ids::{NodeType, decode};
use crate::service::stats::{self as svc, Anchor, Dim, Family, Period, StatsData, check_dims};
use cdtg_core::WireEnum;

// ---------------------------------------------------------------------------------------------
// Periods
// ---------------------------------------------------------------------------------------------

/// The length of a calendar period.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::service::stats::PeriodKind")]
pub enum PeriodKind {
    Day,
    /// ISO week, Monday to Sunday.
    Week,
    Month,
    Quarter,
    Year,
}

/// A calendar period in Asia/Ho_Chi_Minh: either `kind` with a `date` inside it (the month of
/// 2025-03-14, …) or an explicit `from`–`to` range of days, both inclusive.
#[derive(InputObject, Default, Clone, Debug)]
pub struct PeriodInput {
    pub kind: Option<PeriodKind>,
    /// Any day inside the period; with `kind`.
    pub date: Option<Date>,
    /// First day; with `to`.
    pub from: Option<Date>,
    /// Last day (inclusive); with `from`.
    pub to: Option<Date>,
}

/// The period an input names; `None` means "all time".
pub fn period_of(input: Option<PeriodInput>) -> ApiResult<Option<Period>> {
    let Some(i) = input else {
        return Ok(None);
    };
    match (i.kind, i.date, i.from, i.to) {
        (Some(kind), Some(date), None, None) => Ok(Some(Period::calendar(
            kind.into(),
            svc::period_date("period.date", date.0)?,
        ))),
        (None, None, Some(from), Some(to)) => Ok(Some(Period::between(
            svc::period_date("period.from", from.0)?,
            svc::period_date("period.to", to.0)?,
        )?)),
        _ => Err(ApiError::bad_input(
            "period",
            "give either kind and date, or from and to",
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Loaders
// ---------------------------------------------------------------------------------------------

/// One family of statistics for one anchor and period.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct StatsKey {
    pub anchor: Anchor,
    /// Already normalised with [`Family::effective`].
    pub period: Option<Period>,
    /// The day the tree is read as of; `None` for now (the rollups).
    pub as_of: Option<NaiveDate>,
    pub family: Family,
}

impl Loader<StatsKey> for BatchLoader {
    type Value = Arc<StatsData>;
    type Error = ApiError;

    /// One statement per (period, family, anchor kind) among the keys.
    async fn load(&self, keys: &[StatsKey]) -> ApiResult<HashMap<StatsKey, Arc<StatsData>>> {
        type BatchKey = (Option<Period>, Option<NaiveDate>, Family, bool);
        let mut batches: HashMap<BatchKey, Vec<Anchor>> = HashMap::new();
        for k in keys {
            let is_group = matches!(k.anchor, Anchor::Group { .. });
            let batch = batches
                .entry((k.period, k.as_of, k.family, is_group))
                .or_default();
            if !batch.contains(&k.anchor) {
                batch.push(k.anchor.clone());
            }
        }
        let mut out = HashMap::new();
        for ((period, as_of, family, _), anchors) in batches {
            let mut found: HashMap<i64, StatsData> = HashMap::new();
            for (id, _, data) in svc::compute(
                &self.db,
                &self.principal,
                family,
                period,
                as_of,
                &anchors,
                &[],
            )
            .await?
            {
                found.insert(id, data);
            }
            for anchor in anchors {
                let data = found.remove(&anchor_id(&anchor)).unwrap_or_default();
                out.insert(
                    StatsKey {
                        anchor,
                        period,
                        as_of,
                        family,
                    },
                    Arc::new(data),
                );
            }
        }
        Ok(out)
    }
}

fn anchor_id(a: &Anchor) -> i64 {
    match a {
        Anchor::Unit { id, .. }
        | Anchor::UnitOnly { id, .. }
        | Anchor::UnitRest { id, .. }
        | Anchor::Group { id, .. } => *id,
    }
}

/// One target, whoever owns it.
struct Target {
    indicator: cdtg_core::unit::TargetIndicator,
    period_start: NaiveDate,
    period_end: NaiveDate,
    target_value: f64,
}

/// The targets of a group.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct GroupTargets(pub i64);

impl Loader<GroupTargets> for BatchLoader {
    type Value = Vec<crate::entity::group_target::Model>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[GroupTargets],
    ) -> ApiResult<HashMap<GroupTargets, Vec<crate::entity::group_target::Model>>> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let mut found = svc::group_targets_of(&self.db, &self.principal, &ids).await?;
        Ok(ids
            .into_iter()
            .map(|id| (GroupTargets(id), found.remove(&id).unwrap_or_default()))
            .collect())
    }
}

/// The targets of a unit.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct UnitTargets(pub i64);

impl Loader<UnitTargets> for BatchLoader {
    type Value = Vec<unit_target::Model>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[UnitTargets],
    ) -> ApiResult<HashMap<UnitTargets, Vec<unit_target::Model>>> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let mut found = svc::targets_of(&self.db, &self.principal, &ids).await?;
        Ok(ids
            .into_iter()
            .map(|id| (UnitTargets(id), found.remove(&id).unwrap_or_default()))
            .collect())
    }
}

// ---------------------------------------------------------------------------------------------
// Look-ahead
// ---------------------------------------------------------------------------------------------

/// Which fields of `UnitStats` belong to which family.
const FIELDS: [(&str, Family); 26] = [
    ("groups", Family::Groups),
    ("managementTeams", Family::Groups),
    ("activeGroups", Family::Groups),
    ("members", Family::Members),
    ("trainedMembers", Family::Members),
    ("membersByAffiliation", Family::Members),
    ("tasks", Family::Tasks),
    ("tasksOverdue", Family::OverdueTasks),
    ("taskCompletionRate", Family::Tasks),
    ("activities", Family::Activities),
    ("residentsHelped", Family::Activities),
    ("vneidActivations", Family::Activities),
    ("products", Family::Products),
    ("listings", Family::Listings),
    ("activeListings", Family::Listings),
    ("surveyedUnits", Family::Surveys),
    ("households", Family::Surveys),
    ("internetRate", Family::Surveys),
    ("computerRate", Family::Surveys),
    ("smartphoneRate", Family::Surveys),
    ("fiveSkillsRate", Family::Surveys),
    ("outcomes", Family::Outcomes),
    ("onlineDossiersSubmitted", Family::Outcomes),
    ("cashlessAccountsOpened", Family::Outcomes),
    ("ecommerceAccountsCreated", Family::Outcomes),
    ("peopleTrained", Family::Outcomes),
];

/// The families a `UnitStats` selection needs (in a stable order).
pub fn families(stats: &Lookahead<'_>) -> Vec<Family> {
    let mut out: Vec<Family> = FIELDS
        .iter()
        .filter(|(name, _)| stats.field(name).exists())
        .map(|(_, f)| *f)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Loads the families for one anchor through the DataLoader (batched with sibling resolvers).
async fn load(
    ctx: &Context<'_>,
    anchor: Anchor,
    period: Option<Period>,
    as_of: Option<NaiveDate>,
    families: &[Family],
) -> ApiResult<StatsData> {
    let l = loader(ctx)?;
    let parts = try_join_all(families.iter().map(|&family| {
        l.load_one(StatsKey {
            anchor: anchor.clone(),
            period: family.effective(period),
            as_of,
            family,
        })
    }))
    .await?;
    let mut data = StatsData::default();
    // Families fill disjoint fields, so adding them up assembles the whole.
    for part in parts.into_iter().flatten() {
        data.merge(&part);
    }
    Ok(data)
}

// ---------------------------------------------------------------------------------------------
// UnitStats
// ---------------------------------------------------------------------------------------------

/// Where `targets` come from: a unit and the period the stats were asked for.
#[derive(Clone)]
struct TargetSource {
    owner: TargetOwner,
    period: Option<Period>,
    as_of: Option<NaiveDate>,
}

/// Whose targets a `UnitStats` shows.
#[derive(Clone)]
enum TargetOwner {
    Unit(admin_unit::Model),
    Group(group::Model),
}

/// Aggregated figures for a unit's whole subtree (or one group, through `Group.stats`).
/// Only the fields asked for are computed.
#[derive(Clone)]
pub struct UnitStats {
    data: Arc<StatsData>,
    targets: Option<TargetSource>,
}

impl UnitStats {
    fn outcome(&self, kind: cdtg_core::activity::OutcomeKind) -> i64 {
        self.data.outcome(kind)
    }
}

/// One indicator's count.
#[derive(SimpleObject)]
pub struct IndicatorCount {
    pub indicator: super::enums::OutcomeKind,
    pub count: i64,
}

/// Members of one affiliation.
#[derive(SimpleObject)]
pub struct AffiliationCount {
    pub affiliation: Affiliation,
    /// Members registered with this affiliation.
    pub members: i64,
    /// Of those, members with a training date.
    pub trained: i64,
}

/// Progress toward one target of the unit.
#[derive(SimpleObject)]
pub struct TargetProgress {
    pub indicator: TargetIndicator,
    pub period_start: Date,
    /// Inclusive.
    pub period_end: Date,
    /// The target value (a fraction for rates).
    pub target: f64,
    /// The indicator's value over the unit's subtree during the target's own period; null for a
    /// rate without a denominator (no tasks, no surveyed households).
    pub actual: Option<f64>,
    /// `actual / target`; 1.0 means reached. Null when either is unknown or the target is 0.
    pub progress: Option<f64>,
}

#[Object]
impl UnitStats {
    /// Community groups (kind `COMMUNITY`) in the subtree, any status, as they are now.
    /// Management teams are counted apart in `managementTeams`.
    async fn groups(&self) -> i64 {
        self.data.community_groups
    }
    /// Ward digital-transformation management teams (kind `MANAGEMENT`) in the subtree, now.
    async fn management_teams(&self) -> i64 {
        self.data.management_teams
    }
    /// Community groups with status `ACTIVE`, now.
    async fn active_groups(&self) -> i64 {
        self.data.active_groups
    }
    /// Members registered in a unit of the subtree, now (for a group: its current members).
    async fn members(&self) -> i64 {
        self.data.members()
    }
    /// Members (as in `members`) who have a training date.
    async fn trained_members(&self) -> i64 {
        self.data.trained_members()
    }
    /// `members` and `trainedMembers` per affiliation; affiliations without members are omitted.
    async fn members_by_affiliation(&self) -> Vec<AffiliationCount> {
        self.data
            .by_affiliation()
            .map(|(a, c)| AffiliationCount {
                affiliation: a.into(),
                members: c.members,
                trained: c.trained,
            })
            .collect()
    }
    /// Tasks of the subtree's groups, optionally of one status and/or kind. With a period: tasks
    /// due in it (tasks without a due date are then not counted).
    async fn tasks(&self, status: Option<TaskStatus>, kind: Option<TaskKind>) -> i64 {
        self.data
            .tasks(status.map(Into::into), kind.map(Into::into))
    }
    /// Tasks (as in `tasks`) past their due date — judged today in Asia/Ho_Chi_Minh — and still
    /// `OPEN` or `IN_PROGRESS` (a `SUBMITTED` task waits for its reviewer, not for the group).
    async fn tasks_overdue(&self) -> i64 {
        self.data.tasks_overdue()
    }
    /// `DONE` tasks divided by tasks that were not `CANCELLED` (as in `tasks`); null without any.
    async fn task_completion_rate(&self) -> Option<f64> {
        self.data.task_completion_rate()
    }
    /// Field activities reported by the subtree's groups (with a period: that occurred in it).
    async fn activities(&self) -> i64 {
        self.data.activities
    }
    /// Residents helped, summed over those activities.
    async fn residents_helped(&self) -> i64 {
        self.data.residents_helped
    }
    /// VNeID accounts activated and logged into (not merely applications collected), summed
    /// over those activities.
    async fn vneid_activations(&self) -> i64 {
        self.data.vneid_activations
    }
    /// Every indicator field reports record, with its count (zero included), in the order of
    /// `OutcomeKind` (period: when the work happened).
    async fn outcomes(&self) -> Vec<IndicatorCount> {
        cdtg_core::activity::OutcomeKind::ALL
            .iter()
            .map(|k| IndicatorCount {
                indicator: (*k).into(),
                count: self.outcome(*k),
            })
            .collect()
    }
    /// Dossiers submitted on the online public-service portal (`ONLINE_DOSSIER_SUBMITTED`).
    async fn online_dossiers_submitted(&self) -> i64 {
        self.outcome(cdtg_core::activity::OutcomeKind::OnlineDossierSubmitted)
    }
    /// Cashless accounts opened (`CASHLESS_ACCOUNT_OPENED`).
    async fn cashless_accounts_opened(&self) -> i64 {
        self.outcome(cdtg_core::activity::OutcomeKind::CashlessAccountOpened)
    }
    /// E-commerce accounts opened or products listed (`ECOMMERCE_ACCOUNT_CREATED`).
    async fn ecommerce_accounts_created(&self) -> i64 {
        self.outcome(cdtg_core::activity::OutcomeKind::EcommerceAccountCreated)
    }
    /// Residents trained in basic digital skills (`PERSON_TRAINED`).
    async fn people_trained(&self) -> i64 {
        self.outcome(cdtg_core::activity::OutcomeKind::PersonTrained)
    }
    /// Local products supported by the subtree's groups, now.
    async fn products(&self) -> i64 {
        self.data.products
    }
    /// Listings of those products, now, optionally on one platform and/or in one status.
    async fn listings(&self, platform: Option<Platform>, status: Option<ListingStatus>) -> i64 {
        self.data
            .listings(platform.map(Into::into), status.map(Into::into))
    }
    /// Listings with status `ACTIVE` (the account displays, searches, messages or transacts).
    async fn active_listings(&self) -> i64 {
        self.data
            .listings(None, Some(cdtg_core::product::ListingStatus::Active))
    }
    /// Units of the subtree whose household survey counts (the latest one within the period,
    /// if any). Households are never counted twice: when a unit and units below it both
    /// reported, only the highest surveyed unit within the subtree counts — a ward's survey
    /// covers its residential groups — while a residential group asked about alone counts its
    /// own.
    async fn surveyed_units(&self) -> i64 {
        self.data.survey.surveyed_units
    }
    /// Households, summed over the counted surveys (see `surveyedUnits`).
    async fn households(&self) -> i64 {
        self.data.survey.households
    }
    /// Households with internet access over `households` (same surveys); null without any.
    async fn internet_rate(&self) -> Option<f64> {
        self.data.internet_rate()
    }
    /// Households with a computer over `households`; null without any.
    async fn computer_rate(&self) -> Option<f64> {
        self.data.computer_rate()
    }
    /// Households with a smartphone over `households`; null without any.
    async fn smartphone_rate(&self) -> Option<f64> {
        self.data.smartphone_rate()
    }
    /// Households where someone masters the five basic digital skills over `households`; null
    /// without any.
    async fn five_skills_rate(&self) -> Option<f64> {
        self.data.five_skills_rate()
    }
    /// The unit's (or group's) own targets (set with `setUnitTarget` or `setGroupTarget`) whose
    /// period overlaps the requested one (all of them without a period), each with its actual
    /// value over the target's period. Not available in breakdown rows keyed by anything but
    /// `CHILD_UNIT`.
    async fn targets(&self, ctx: &Context<'_>) -> Result<Vec<TargetProgress>> {
        let Some(src) = &self.targets else {
            return Err(ApiError::bad_input(
                "targets",
                "targets belong to units and groups: ask for them on AdminUnit.stats, \
                 Group.stats or a CHILD_UNIT row",
            )
            .into());
        };
        let l = loader(ctx)?;
        // (indicator, first day, last day, value) of each target, whoever owns it.
        let (list, anchor): (Vec<Target>, Anchor) = match &src.owner {
            TargetOwner::Unit(unit) => (
                l.load_one(UnitTargets(unit.id))
                    .await?
                    .unwrap_or_default()
                    .into_iter()
                    .map(|t| Target {
                        indicator: t.indicator,
                        period_start: t.period_start,
                        period_end: t.period_end,
                        target_value: t.target_value,
                    })
                    .collect(),
                Anchor::unit(unit),
            ),
            TargetOwner::Group(g) => (
                l.load_one(GroupTargets(g.id))
                    .await?
                    .unwrap_or_default()
                    .into_iter()
                    .map(|t| Target {
                        indicator: t.indicator,
                        period_start: t.period_start,
                        period_end: t.period_end,
                        target_value: t.target_value,
                    })
                    .collect(),
                Anchor::group(g),
            ),
        };
        let list: Vec<Target> = list
            .into_iter()
            .filter(|t| {
                src.period
                    .is_none_or(|pd| pd.overlaps(t.period_start, t.period_end))
            })
            .collect();
        let progress = try_join_all(list.iter().map(|t| {
            let indicator = t.indicator;
            let family = svc::indicator_family(indicator);
            let period = Period {
                start: t.period_start,
                end: t.period_end + chrono::Duration::days(1),
            };
            let key = StatsKey {
                anchor: anchor.clone(),
                period: family.effective(Some(period)),
                as_of: src.as_of,
                family,
            };
            async move {
                let data = l.load_one(key).await?.unwrap_or_default();
                let actual = svc::indicator_value(indicator, &data);
                let progress = actual
                    .filter(|_| t.target_value > 0.0)
                    .map(|a| a / t.target_value);
                Ok::<_, ApiError>(TargetProgress {
                    indicator: indicator.into(),
                    period_start: Date(t.period_start),
                    period_end: Date(t.period_end),
                    target: t.target_value,
                    actual,
                    progress,
                })
            }
        }))
        .await?;
        Ok(progress)
    }
}

/// `AdminUnit.stats`: authorise, look ahead, load the needed families.
/// Read as of a day (`as_of`), groups and members count where they were on that day; a closed
/// unit is read as of its last day unless a day is given.
pub async fn unit_stats(
    ctx: &Context<'_>,
    unit: &admin_unit::Model,
    period: Option<PeriodInput>,
    as_of: Option<NaiveDate>,
) -> Result<UnitStats> {
    let p = principal(ctx)?;
    let period = period_of(period)?;
    let as_of = as_of
        .map(|d| svc::period_date("asOf", d))
        .transpose()?
        .or(unit.valid_to);
    svc::authorize_unit(db(ctx), p, unit).await?;
    let fams = families(&ctx.look_ahead());
    let data = load(ctx, Anchor::unit(unit), period, as_of, &fams).await?;
    Ok(UnitStats {
        data: Arc::new(data),
        targets: Some(TargetSource {
            owner: TargetOwner::Unit(unit.clone()),
            period,
            as_of,
        }),
    })
}

/// `Group.stats`: the group's own figures, for its group roles and unit roles above it.
pub async fn group_stats(
    ctx: &Context<'_>,
    g: &group::Model,
    period: Option<PeriodInput>,
) -> Result<UnitStats> {
    let p = principal(ctx)?;
    let period = period_of(period)?;
    svc::authorize_group(p, g)?;
    let fams = families(&ctx.look_ahead());
    if fams.contains(&Family::Surveys) {
        return Err(
            ApiError::bad_input("stats", "household surveys belong to units, not groups").into(),
        );
    }
    let data = load(ctx, Anchor::group(g), period, None, &fams).await?;
    Ok(UnitStats {
        data: Arc::new(data),
        targets: Some(TargetSource {
            owner: TargetOwner::Group(g.clone()),
            period,
            as_of: None,
        }),
    })
}

// ---------------------------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------------------------

/// What a unit target measures. Counts, or fractions (0.8 for 80 %) for the `*_RATE` indicators.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "cdtg_core::unit::TargetIndicator")]
pub enum TargetIndicator {
    /// `UnitStats.groups`.
    Groups,
    /// `UnitStats.activeGroups`.
    ActiveGroups,
    /// `UnitStats.members`.
    Members,
    /// `UnitStats.trainedMembers`.
    TrainedMembers,
    /// Tasks `DONE` among those due in the target's period.
    TasksDone,
    /// `UnitStats.taskCompletionRate`.
    TaskCompletionRate,
    /// `UnitStats.activities`.
    Activities,
    /// `UnitStats.residentsHelped`.
    ResidentsHelped,
    /// `UnitStats.vneidActivations`.
    VneidActivations,
    /// `UnitStats.products`.
    Products,
    /// `UnitStats.activeListings`.
    ActiveListings,
    /// `UnitStats.internetRate`.
    InternetRate,
    /// `UnitStats.computerRate`.
    ComputerRate,
    /// `UnitStats.smartphoneRate`.
    SmartphoneRate,
    /// `UnitStats.fiveSkillsRate`, e.g. 1.0: every household has someone with the five skills.
    FiveSkillsRate,
    /// `UnitStats.onlineDossiersSubmitted`.
    OnlineDossiersSubmitted,
    /// `UnitStats.cashlessAccountsOpened`.
    CashlessAccountsOpened,
    /// `UnitStats.ecommerceAccountsCreated`.
    EcommerceAccountsCreated,
    /// `UnitStats.peopleTrained`.
    PeopleTrained,
}

/// A numeric target for a unit, indicator and period.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct UnitTarget {
    #[graphql(skip)]
    pub unit_id: i64,
    pub indicator: TargetIndicator,
    pub period_start: Date,
    /// Inclusive.
    pub period_end: Date,
    pub target_value: f64,
}

#[ComplexObject]
impl UnitTarget {
    async fn unit(&self, ctx: &Context<'_>) -> Result<Option<AdminUnit>> {
        Ok(loader(ctx)?
            .load_one(UnitById(self.unit_id))
            .await?
            .map(AdminUnit))
    }
}

impl UnitTarget {
    pub fn from_model(m: unit_target::Model) -> Self {
        UnitTarget {
            unit_id: m.unit_id,
            indicator: m.indicator.into(),
            period_start: Date(m.period_start),
            period_end: Date(m.period_end),
            target_value: m.target_value,
        }
    }
}

/// `setUnitTarget` input. Setting the same unit, indicator and period again replaces the value.
#[derive(InputObject)]
pub struct SetUnitTargetInput {
    pub unit_id: ID,
    pub indicator: TargetIndicator,
    pub period_start: Date,
    /// Inclusive.
    pub period_end: Date,
    /// A count from 0 to 100,000,000, or a fraction between 0 and 1 for rates.
    pub target_value: f64,
}

#[derive(SimpleObject)]
pub struct SetUnitTargetPayload {
    pub target: UnitTarget,
}

/// `setGroupTarget` input. Setting the same group, indicator and period again replaces the value.
#[derive(InputObject)]
pub struct SetGroupTargetInput {
    pub group_id: ID,
    /// Any indicator but the household-survey rates.
    pub indicator: TargetIndicator,
    pub period_start: Date,
    /// Inclusive.
    pub period_end: Date,
    /// A count from 0 to 100,000,000, or a fraction between 0 and 1 for the task completion
    /// rate.
    pub target_value: f64,
}

/// A numeric target for a group, indicator and period; its progress is in `Group.stats`.
#[derive(SimpleObject)]
pub struct GroupTarget {
    pub indicator: TargetIndicator,
    pub period_start: Date,
    /// Inclusive.
    pub period_end: Date,
    pub target_value: f64,
}

#[derive(SimpleObject)]
pub struct SetGroupTargetPayload {
    pub target: GroupTarget,
}

/// `setGroupTarget`: decode and call the service.
pub async fn set_group_target(
    ctx: &Context<'_>,
    input: SetGroupTargetInput,
) -> Result<SetGroupTargetPayload> {
    let p = principal(ctx)?;
    let group_id = decode(NodeType::Group, &input.group_id)
        .ok_or_else(|| ApiError::bad_input("groupId", "is not a Group ID"))?;
    let model = svc::set_group_target(
        db(ctx),
        p,
        svc::GroupTargetInput {
            group_id,
            indicator: input.indicator.into(),
            period_start: input.period_start.0,
            period_end: input.period_end.0,
            target_value: input.target_value,
        },
    )
    .await?;
    Ok(SetGroupTargetPayload {
        target: GroupTarget {
            indicator: model.indicator.into(),
            period_start: Date(model.period_start),
            period_end: Date(model.period_end),
            target_value: model.target_value,
        },
    })
}

/// `setUnitTarget`: decode and call the service.
pub async fn set_unit_target(
    ctx: &Context<'_>,
    input: SetUnitTargetInput,
) -> Result<SetUnitTargetPayload> {
    let p = principal(ctx)?;
    let unit_id = decode(NodeType::AdminUnit, &input.unit_id)
        .ok_or_else(|| ApiError::bad_input("unitId", "is not a AdminUnit ID"))?;
    let model = svc::set_target(
        db(ctx),
        p,
        svc::TargetInput {
            unit_id,
            indicator: input.indicator.into(),
            period_start: input.period_start.0,
            period_end: input.period_end.0,
            target_value: input.target_value,
        },
    )
    .await?;
    Ok(SetUnitTargetPayload {
        target: UnitTarget::from_model(model),
    })
}

// ---------------------------------------------------------------------------------------------
// Breakdown
// ---------------------------------------------------------------------------------------------

/// A dimension of `statsBreakdown`. Each applies to some families only: `CHILD_UNIT` to all;
/// `TASK_KIND` to tasks and activities; `TASK_STATUS` to tasks; `PLATFORM` to listings;
/// `AFFILIATION` to members; `MONTH`, `WEEK` and `DAY` (in Asia/Ho_Chi_Minh) to tasks (by due
/// date) and activities (by when they occurred); `GROUP` (every group of the subtree, idle ones
/// included, not combined with `CHILD_UNIT`) to everything but household surveys; `INDICATOR`
/// to the outcome figures (`outcomes` and the named indicator fields). Up to three dimensions
/// at once. Asking for a field a dimension does not apply to is
/// `BAD_USER_INPUT`.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::service::stats::Dim")]
pub enum StatsDimension {
    ChildUnit,
    TaskKind,
    TaskStatus,
    Platform,
    Affiliation,
    Month,
    Week,
    Day,
    Group,
    Indicator,
}

/// Which rows of a breakdown to keep. A list keeps rows whose key is in it; it may only name a
/// dimension that is in `by`.
#[derive(InputObject, Default)]
pub struct StatsBreakdownFilter {
    pub units: Option<Vec<ID>>,
    pub task_kinds: Option<Vec<TaskKind>>,
    pub task_statuses: Option<Vec<TaskStatus>>,
    pub platforms: Option<Vec<Platform>>,
    pub affiliations: Option<Vec<Affiliation>>,
    /// With `INDICATOR` in `by`: keep these indicators' rows.
    pub indicators: Option<Vec<super::enums::OutcomeKind>>,
    /// Drop rows whose requested figures are all zero.
    pub hide_empty: Option<bool>,
}

/// What to sort breakdown rows by.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq, Default)]
pub enum StatsOrderField {
    /// The keys: unit name, then the other keys in the order of `by`.
    #[default]
    Key,
    Groups,
    Members,
    Tasks,
    Activities,
    ResidentsHelped,
    VneidActivations,
    Products,
    Listings,
}

#[derive(InputObject)]
pub struct StatsBreakdownOrder {
    pub field: StatsOrderField,
    #[graphql(default_with = "SortDirection::Asc")]
    pub direction: SortDirection,
}

/// Rows of a breakdown; they add up to the unit's total.
#[derive(SimpleObject)]
pub struct StatsBreakdown {
    pub rows: Vec<StatsRow>,
}

/// One row: the keys of the dimensions asked for (the others are null) and the figures.
pub struct StatsRow {
    unit: Option<admin_unit::Model>,
    group: Option<crate::entity::group::Model>,
    keys: BTreeMap<Dim, Option<String>>,
    stats: UnitStats,
}

impl StatsRow {
    fn key(&self, d: Dim) -> Option<&str> {
        self.keys.get(&d).and_then(|k| k.as_deref())
    }
    fn date(&self, d: Dim) -> Option<Date> {
        self.key(d)
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
            .map(Date)
    }
}

#[Object]
impl StatsRow {
    /// With `CHILD_UNIT`: the child unit (or the unit itself, for rows attached to it directly).
    async fn unit(&self) -> Option<AdminUnit> {
        self.unit.clone().map(AdminUnit)
    }
    /// With `GROUP`: the group.
    async fn group(&self) -> Option<super::objects::Group> {
        self.group.clone().map(super::objects::Group)
    }
    async fn task_kind(&self) -> Option<TaskKind> {
        self.key(Dim::TaskKind)
            .and_then(cdtg_core::task::TaskKind::parse)
            .map(Into::into)
    }
    async fn task_status(&self) -> Option<TaskStatus> {
        self.key(Dim::TaskStatus)
            .and_then(cdtg_core::task::TaskStatus::parse)
            .map(Into::into)
    }
    async fn platform(&self) -> Option<Platform> {
        self.key(Dim::Platform)
            .and_then(cdtg_core::product::Platform::parse)
            .map(Into::into)
    }
    async fn affiliation(&self) -> Option<Affiliation> {
        self.key(Dim::Affiliation)
            .and_then(cdtg_core::group::Affiliation::parse)
            .map(Into::into)
    }
    /// With `MONTH`: the first day of the month (null for tasks without a due date).
    async fn month(&self) -> Option<Date> {
        self.date(Dim::Month)
    }
    /// With `WEEK`: the Monday of the ISO week (null for tasks without a due date).
    async fn week(&self) -> Option<Date> {
        self.date(Dim::Week)
    }
    /// With `DAY`: the day (null for tasks without a due date).
    async fn day(&self) -> Option<Date> {
        self.date(Dim::Day)
    }
    /// With `INDICATOR`: the indicator.
    async fn indicator(&self) -> Option<super::enums::OutcomeKind> {
        self.key(Dim::Indicator)
            .and_then(cdtg_core::activity::OutcomeKind::parse)
            .map(Into::into)
    }
    async fn stats(&self) -> &UnitStats {
        &self.stats
    }
}

fn order_value(field: StatsOrderField, d: &StatsData) -> Option<(Family, i64)> {
    Some(match field {
        StatsOrderField::Key => return None,
        StatsOrderField::Groups => (Family::Groups, d.community_groups),
        StatsOrderField::Members => (Family::Members, d.members()),
        StatsOrderField::Tasks => (Family::Tasks, d.tasks(None, None)),
        StatsOrderField::Activities => (Family::Activities, d.activities),
        StatsOrderField::ResidentsHelped => (Family::Activities, d.residents_helped),
        StatsOrderField::VneidActivations => (Family::Activities, d.vneid_activations),
        StatsOrderField::Products => (Family::Products, d.products),
        StatsOrderField::Listings => (Family::Listings, d.listings(None, None)),
    })
}

/// Keeps rows whose key for `dim` is one of `allowed`.
fn keep<T: WireEnum>(
    rows: &mut Vec<svc::BreakdownRow>,
    by: &[Dim],
    dim: Dim,
    field: &str,
    allowed: Option<Vec<T>>,
) -> ApiResult<()> {
    let Some(allowed) = allowed else {
        return Ok(());
    };
    if !by.contains(&dim) {
        return Err(ApiError::bad_input(
            format!("filter.{field}"),
            format!("filters a dimension that is not in `by` ({})", dim.name()),
        ));
    }
    rows.retain(|r| {
        r.keys
            .get(&dim)
            .and_then(|k| k.as_deref())
            .is_some_and(|k| allowed.iter().any(|a| a.as_str() == k))
    });
    Ok(())
}

/// `statsBreakdown`.
#[allow(clippy::too_many_arguments)]
pub async fn stats_breakdown(
    ctx: &Context<'_>,
    unit_id: ID,
    by: Vec<StatsDimension>,
    period: Option<PeriodInput>,
    filter: Option<StatsBreakdownFilter>,
    order_by: Option<StatsBreakdownOrder>,
    limit: i64,
    as_of: Option<NaiveDate>,
) -> Result<StatsBreakdown> {
    let p = principal(ctx)?;
    let period = period_of(period)?;
    let as_of = as_of.map(|d| svc::period_date("asOf", d)).transpose()?;
    if limit < 0 || limit as usize > svc::MAX_BREAKDOWN_ROWS {
        return Err(ApiError::bad_input(
            "limit",
            format!("must be between 0 and {}", svc::MAX_BREAKDOWN_ROWS),
        )
        .into());
    }
    let unit = match decode(NodeType::AdminUnit, &unit_id) {
        Some(id) => loader(ctx)?.load_one(UnitById(id)).await?,
        None => None,
    }
    .ok_or(ApiError::NotFound("unit"))?;

    let dims: Vec<Dim> = by.into_iter().map(Into::into).collect();
    let look = ctx.look_ahead().field("rows").field("stats");
    let mut fams = families(&look);
    let order = order_by.map(|o| (o.field, o.direction));
    if let Some((field, _)) = order
        && let Some((family, _)) = order_value(field, &StatsData::default())
        && !fams.contains(&family)
    {
        fams.push(family);
        fams.sort();
    }
    check_dims(&dims, &fams)?;
    let wants_targets = look.field("targets").exists();
    if wants_targets && dims != [Dim::ChildUnit] {
        return Err(ApiError::bad_input(
            "by",
            "targets are available in rows broken down by CHILD_UNIT alone",
        )
        .into());
    }

    let mut rows = svc::breakdown(db(ctx), p, &unit, &dims, &fams, period, as_of).await?;

    let f = filter.unwrap_or_default();
    if let Some(ids) = &f.units {
        if !dims.contains(&Dim::ChildUnit) {
            return Err(ApiError::bad_input(
                "filter.units",
                "filters a dimension that is not in `by` (CHILD_UNIT)",
            )
            .into());
        }
        let ids: Vec<i64> = ids
            .iter()
            .filter_map(|id| decode(NodeType::AdminUnit, id))
            .collect();
        rows.retain(|r| r.unit.as_ref().is_some_and(|u| ids.contains(&u.id)));
    }
    fn to_core<L, C: From<L>>(values: Option<Vec<L>>) -> Option<Vec<C>> {
        values.map(|v| v.into_iter().map(C::from).collect())
    }
    let task_kinds: Option<Vec<cdtg_core::task::TaskKind>> = to_core(f.task_kinds);
    keep(&mut rows, &dims, Dim::TaskKind, "taskKinds", task_kinds)?;
    let statuses: Option<Vec<cdtg_core::task::TaskStatus>> = to_core(f.task_statuses);
    keep(&mut rows, &dims, Dim::TaskStatus, "taskStatuses", statuses)?;
    let platforms: Option<Vec<cdtg_core::product::Platform>> = to_core(f.platforms);
    keep(&mut rows, &dims, Dim::Platform, "platforms", platforms)?;
    let affiliations: Option<Vec<cdtg_core::group::Affiliation>> = to_core(f.affiliations);
    keep(
        &mut rows,
        &dims,
        Dim::Affiliation,
        "affiliations",
        affiliations,
    )?;
    let indicators: Option<Vec<cdtg_core::activity::OutcomeKind>> = to_core(f.indicators);
    keep(&mut rows, &dims, Dim::Indicator, "indicators", indicators)?;
    if f.hide_empty.unwrap_or(false) {
        rows.retain(|r| r.data != StatsData::default());
    }

    let sort_key = |r: &svc::BreakdownRow| {
        (
            r.unit
                .as_ref()
                .map(|u| u.name_key.clone())
                .or_else(|| r.group.as_ref().map(|g| g.name_key.clone())),
            dims.iter()
                .map(|d| r.keys.get(d).cloned().flatten())
                .collect::<Vec<_>>(),
        )
    };
    match order {
        Some((field, dir)) if field != StatsOrderField::Key => {
            rows.sort_by(|a, b| {
                let va = order_value(field, &a.data).map(|v| v.1);
                let vb = order_value(field, &b.data).map(|v| v.1);
                let by_value = if dir == SortDirection::Desc {
                    vb.cmp(&va)
                } else {
                    va.cmp(&vb)
                };
                by_value.then_with(|| sort_key(a).cmp(&sort_key(b)))
            });
        }
        Some((_, SortDirection::Desc)) => rows.sort_by_key(|r| std::cmp::Reverse(sort_key(r))),
        _ => rows.sort_by_key(sort_key),
    }
    rows.truncate(limit as usize);

    let child_only = dims == [Dim::ChildUnit];
    let rows = rows
        .into_iter()
        .map(|r| {
            let targets = r
                .unit
                .as_ref()
                .filter(|u| child_only && u.id != unit.id)
                .map(|u| TargetSource {
                    owner: TargetOwner::Unit(u.clone()),
                    period,
                    as_of,
                });
            StatsRow {
                unit: r.unit,
                group: r.group,
                keys: r.keys,
                stats: UnitStats {
                    data: Arc::new(r.data),
                    targets,
                },
            }
        })
        .collect();
    Ok(StatsBreakdown { rows })
}
