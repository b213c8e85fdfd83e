//! Ward household surveys: one row per unit and period; recording the same period again
//! replaces the figures (the latest count is the truth). Periods lie in the programme's years
//! and every count below its documented maximum (`cdtg_core::limits`).

use std::collections::HashMap;

use cdtg_core::policy::Action;
use cdtg_core::{limits, validate};
use chrono::{NaiveDate, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, Set,
};

use super::audit::{self, Touched};
use super::scope;
use crate::db::write_txn;
use crate::entity::{admin_unit, unit_survey};
use crate::error::{ApiError, ApiResult};
use crate::principal::Principal;

#[derive(Debug, Clone)]
pub struct SurveyInput {
    pub unit_id: i64,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub households: i64,
    pub with_computer: i64,
    pub with_internet: i64,
    pub with_smartphone: i64,
    pub businesses: i64,
    pub business_households: i64,
    pub avg_income_vnd: Option<i64>,
    pub five_skills_households: i64,
}

pub async fn record(
    db: &DatabaseConnection,
    p: &Principal,
    input: SurveyInput,
) -> ApiResult<unit_survey::Model> {
    audit::authorize(db, p, Action::RecordSurvey, "recordUnitSurvey").await?;
    let txn = write_txn(db).await?;
    let outcome = record_in(&txn, p, input).await;
    audit::conclude(db, txn, p, "recordUnitSurvey", outcome).await
}

async fn record_in(
    txn: &DatabaseTransaction,
    p: &Principal,
    s: SurveyInput,
) -> ApiResult<(unit_survey::Model, Touched)> {
    validate::survey_period(s.period_start, s.period_end, super::today_in_vietnam())?;
    // Every count has a realistic maximum (core's `limits`): a survey is summed into every
    // statistic above its unit, and one absurd figure would swamp them all.
    let households = validate::count_at_most("households", s.households, limits::MAX_HOUSEHOLDS)?;
    for (field, v) in [
        ("withComputer", s.with_computer),
        ("withInternet", s.with_internet),
        ("withSmartphone", s.with_smartphone),
        ("fiveSkillsHouseholds", s.five_skills_households),
    ] {
        validate::count_in_range(field, v, 0, households)?;
    }
    validate::count_at_most("businesses", s.businesses, limits::MAX_BUSINESSES)?;
    validate::count_at_most(
        "businessHouseholds",
        s.business_households,
        limits::MAX_BUSINESSES,
    )?;
    if let Some(income) = s.avg_income_vnd {
        validate::count_at_most("avgIncomeVnd", income, limits::MAX_AVG_INCOME_VND)?;
    }
    let unit = admin_unit::Entity::find_by_id(s.unit_id)
        .one(txn)
        .await?
        .ok_or_else(|| ApiError::bad_input("unitId", "no such unit"))?;
    if !scope::unit_in_scope(p, &unit.path) {
        return Err(ApiError::forbidden("the unit is outside your scope"));
    }
    let am = unit_survey::ActiveModel {
        unit_id: Set(unit.id),
        period_start: Set(s.period_start),
        period_end: Set(s.period_end),
        households: Set(households),
        with_computer: Set(s.with_computer),
        with_internet: Set(s.with_internet),
        with_smartphone: Set(s.with_smartphone),
        businesses: Set(s.businesses),
        business_households: Set(s.business_households),
        avg_income_vnd: Set(s.avg_income_vnd),
        five_skills_households: Set(s.five_skills_households),
        recorded_at: Set(Utc::now()),
        ..Default::default()
    };
    use unit_survey::Column as C;
    unit_survey::Entity::insert(am)
        .on_conflict(
            OnConflict::columns([C::UnitId, C::PeriodStart, C::PeriodEnd])
                .update_columns([
                    C::Households,
                    C::WithComputer,
                    C::WithInternet,
                    C::WithSmartphone,
                    C::Businesses,
                    C::BusinessHouseholds,
                    C::AvgIncomeVnd,
                    C::FiveSkillsHouseholds,
                    C::RecordedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    let model = unit_survey::Entity::find()
        .filter(C::UnitId.eq(unit.id))
        .filter(C::PeriodStart.eq(s.period_start))
        .filter(C::PeriodEnd.eq(s.period_end))
        .one(txn)
        .await?
        .ok_or(ApiError::NotFound("survey"))?;
    Ok((
        model.clone(),
        Touched::new("UnitSurvey", model.id, unit.path),
    ))
}

/// Surveys of many units (`unit.surveys`), newest period first, one statement. Surveys are
/// aggregate figures about households, not personal data: readable with `ReadAggregates`.
pub async fn of_units(
    db: &DatabaseConnection,
    p: &Principal,
    unit_ids: &[i64],
) -> ApiResult<HashMap<i64, Vec<unit_survey::Model>>> {
    scope::require(p, Action::ReadAggregates)?;
    let rows = unit_survey::Entity::find()
        .filter(unit_survey::Column::UnitId.is_in(unit_ids.iter().copied()))
        .filter(unit_survey::Column::UnitId.in_subquery(scope::units_in_scope(p)))
        .order_by_desc(unit_survey::Column::PeriodStart)
        .all(db)
        .await?;
    Ok(super::group_by_parent(rows, |row| row.unit_id))
}

/// One survey, if its unit is in scope (`node`).
pub async fn get(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
) -> ApiResult<Option<unit_survey::Model>> {
    let Some(s) = unit_survey::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let Some(unit) = admin_unit::Entity::find_by_id(s.unit_id).one(db).await? else {
        return Ok(None);
    };
    let readable = cdtg_core::policy::allows(p.role, Action::ReadAggregates)
        && scope::unit_in_scope(p, &unit.path);
    Ok(readable.then_some(s))
}
