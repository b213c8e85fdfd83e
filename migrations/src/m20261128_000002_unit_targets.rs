//! Numeric targets for units: "80 % of households with internet in 2025", "every ward
//! activates 5,000 VNeID accounts this quarter". One row per unit, indicator and period; setting
//! the same period again replaces the value.
//!
//! Decisions:
//! - `target_value` is a double: indicators are either counts (groups, residents helped) or rates
//!   (0.8 for 80 %), and one column serves both without a unit-of-measure column.
//! - The unique key (unit, indicator, period) is also the upsert key of `setUnitTarget`.
//! - Stats join activities to groups and filter groups by unit path; a covering index on
//!   `(unit_path, kind, status)` lets the group family of the dashboard run from the index alone.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UnitTargets {
    Table,
    Id,
    UnitId,
    Indicator,
    PeriodStart,
    PeriodEnd,
    TargetValue,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AdminUnits {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    UnitPath,
    Kind,
    Status,
}

const COVERING_GROUPS_INDEX: &str = "ix_groups_unit_path_kind_status";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UnitTargets::Table)
                    .col(big_pk_auto(UnitTargets::Id))
                    .col(big_integer(UnitTargets::UnitId))
                    .col(string_len(UnitTargets::Indicator, 40))
                    .col(date(UnitTargets::PeriodStart))
                    .col(date(UnitTargets::PeriodEnd))
                    .col(double(UnitTargets::TargetValue))
                    .col(timestamp_with_time_zone(UnitTargets::CreatedAt))
                    .col(timestamp_with_time_zone(UnitTargets::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(UnitTargets::Table, UnitTargets::UnitId)
                            .to(AdminUnits::Table, AdminUnits::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_unit_targets_period")
                    .table(UnitTargets::Table)
                    .col(UnitTargets::UnitId)
                    .col(UnitTargets::Indicator)
                    .col(UnitTargets::PeriodStart)
                    .col(UnitTargets::PeriodEnd)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(COVERING_GROUPS_INDEX)
                    .table(Groups::Table)
                    .col(Groups::UnitPath)
                    .col(Groups::Kind)
                    .col(Groups::Status)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(COVERING_GROUPS_INDEX)
                    .table(Groups::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(UnitTargets::Table).to_owned())
            .await
    }
}
