//! The initial schema: the administrative tree, groups, members, memberships, tasks, field
//! activities, products and listings, unit surveys, users, refresh tokens and audit events.
//!
//! Subtree queries compare a materialised `path` ("/1/5/23/") by range (`path >= p AND path < p')`)
//! rather than `LIKE`, so a plain B-tree index serves them on both databases. On PostgreSQL those
//! columns use the "C" collation, because locale collations ignore punctuation and would break the
//! range.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AdminUnits {
    Table,
    Id,
    Code,
    Name,
    NameFolded,
    Kind,
    ParentId,
    Path,
    Depth,
    ValidFrom,
    ValidTo,
    MergedIntoId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    Id,
    Name,
    NameFolded,
    Kind,
    UnitId,
    UnitPath,
    EstablishedOn,
    DecisionNumber,
    ZaloUrl,
    Status,
    LeaderMemberId,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Members {
    Table,
    Id,
    FamilyName,
    MiddleName,
    GivenName,
    FullName,
    SearchKey,
    Phone,
    Affiliation,
    TrainedOn,
    UnitId,
    UnitPath,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    Id,
    MemberId,
    GroupId,
    Role,
    JoinedOn,
    LeftOn,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Id,
    GroupId,
    AssigneeMemberId,
    Title,
    TitleFolded,
    Description,
    Kind,
    Priority,
    Status,
    DueOn,
    Target,
    Progress,
    Version,
    CreatedByUserId,
    CreatedAt,
    UpdatedAt,
    CompletedAt,
}

#[derive(DeriveIden)]
enum Activities {
    Table,
    Id,
    TaskId,
    GroupId,
    MemberId,
    ReportedByUserId,
    OccurredAt,
    ResidentsHelped,
    VneidActivations,
    ProgressDelta,
    Note,
    IdempotencyKey,
    RequestHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ActivityOutcomes {
    Table,
    Id,
    ActivityId,
    Kind,
    Count,
}

#[derive(DeriveIden)]
enum Products {
    Table,
    Id,
    Name,
    NameFolded,
    Category,
    Producer,
    SaleUnit,
    OcopStars,
    GroupId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Listings {
    Table,
    Id,
    ProductId,
    Platform,
    Url,
    Status,
    ListedOn,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UnitSurveys {
    Table,
    Id,
    UnitId,
    PeriodStart,
    PeriodEnd,
    Households,
    WithComputer,
    WithInternet,
    WithSmartphone,
    Businesses,
    BusinessHouseholds,
    AvgIncomeVnd,
    FiveSkillsHouseholds,
    RecordedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    PasswordHash,
    Role,
    ScopeUnitId,
    ScopeGroupId,
    MemberId,
    Disabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    UserId,
    FamilyId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    OccurredAt,
    ActorUserId,
    ActorName,
    Action,
    ObjectType,
    ObjectId,
    Outcome,
    UnitPath,
    RequestId,
    Detail,
}

/// A materialised-path column: byte-ordered on PostgreSQL so range scans over a subtree work.
fn path_col<T: IntoIden>(backend: DatabaseBackend, name: T) -> ColumnDef {
    let mut col = string_len(name, 400);
    if backend == DatabaseBackend::Postgres {
        col.extra("COLLATE \"C\"");
    }
    col
}

fn fk(
    from_table: impl IntoIden,
    from_col: impl IntoIden,
    to_table: impl IntoIden,
    to_col: impl IntoIden,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from_table, from_col)
        .to(to_table, to_col)
        .on_delete(on_delete)
        .to_owned()
}

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    cols: &[&'static str],
    unique: bool,
) -> Result<(), DbErr> {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(Alias::new(*col));
    }
    if unique {
        stmt.unique();
    }
    manager.create_index(stmt).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        use ForeignKeyAction::{Cascade, Restrict, SetNull};

        manager
            .create_table(
                Table::create()
                    .table(AdminUnits::Table)
                    .col(big_pk_auto(AdminUnits::Id))
                    .col(string_len_null(AdminUnits::Code, 20).unique_key())
                    .col(string_len(AdminUnits::Name, 200))
                    .col(string_len(AdminUnits::NameFolded, 200))
                    .col(string_len(AdminUnits::Kind, 24))
                    .col(big_integer_null(AdminUnits::ParentId))
                    .col(path_col(backend, AdminUnits::Path).unique_key())
                    .col(integer(AdminUnits::Depth))
                    .col(date(AdminUnits::ValidFrom))
                    .col(date_null(AdminUnits::ValidTo))
                    .col(big_integer_null(AdminUnits::MergedIntoId))
                    .col(timestamp_with_time_zone(AdminUnits::CreatedAt))
                    .foreign_key(&mut fk(
                        AdminUnits::Table,
                        AdminUnits::ParentId,
                        AdminUnits::Table,
                        AdminUnits::Id,
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        AdminUnits::Table,
                        AdminUnits::MergedIntoId,
                        AdminUnits::Table,
                        AdminUnits::Id,
                        Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_admin_units_parent",
            AdminUnits::Table,
            &["parent_id"],
            false,
        )
        .await?;
        index(
            manager,
            "ix_admin_units_name_folded",
            AdminUnits::Table,
            &["name_folded"],
            false,
        )
        .await?;
        index(
            manager,
            "ix_admin_units_kind",
            AdminUnits::Table,
            &["kind"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Members::Table)
                    .col(big_pk_auto(Members::Id))
                    .col(string_len(Members::FamilyName, 50))
                    .col(string_len_null(Members::MiddleName, 50))
                    .col(string_len(Members::GivenName, 50))
                    .col(string_len(Members::FullName, 160))
                    .col(string_len(Members::SearchKey, 160))
                    .col(string_len_null(Members::Phone, 16))
                    .col(string_len(Members::Affiliation, 32))
                    .col(date_null(Members::TrainedOn))
                    .col(big_integer(Members::UnitId))
                    .col(path_col(backend, Members::UnitPath))
                    .col(integer(Members::Version).default(1))
                    .col(timestamp_with_time_zone(Members::CreatedAt))
                    .col(timestamp_with_time_zone(Members::UpdatedAt))
                    .foreign_key(&mut fk(
                        Members::Table,
                        Members::UnitId,
                        AdminUnits::Table,
                        AdminUnits::Id,
                        Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_members_unit_path",
            Members::Table,
            &["unit_path"],
            false,
        )
        .await?;
        index(
            manager,
            "ix_members_unit",
            Members::Table,
            &["unit_id"],
            false,
        )
        .await?;
        index(
            manager,
            "ix_members_search_key",
            Members::Table,
            &["search_key"],
            false,
        )
        .await?;
        index(
            manager,
            "ix_members_phone",
            Members::Table,
            &["phone"],
            false,
        )
        .await?;
        index(
            manager,
            "ix_members_affiliation",
            Members::Table,
            &["affiliation"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Groups::Table)
                    .col(big_pk_auto(Groups::Id))
                    .col(string_len(Groups::Name, 200))
                    .col(string_len(Groups::NameFolded, 200))
                    .col(string_len(Groups::Kind, 16))
                    .col(big_integer(Groups::UnitId))
                    .col(path_col(backend, Groups::UnitPath))
                    .col(date_null(Groups::EstablishedOn))
                    .col(string_len_null(Groups::DecisionNumber, 64))
                    .col(string_len_null(Groups::ZaloUrl, 2048))
                    .col(string_len(Groups::Status, 16))
                    .col(big_integer_null(Groups::LeaderMemberId))
                    .col(integer(Groups::Version).default(1))
                    .col(timestamp_with_time_zone(Groups::CreatedAt))
                    .col(timestamp_with_time_zone(Groups::UpdatedAt))
                    .foreign_key(&mut fk(
                        Groups::Table,
                        Groups::UnitId,
                        AdminUnits::Table,
                        AdminUnits::Id,
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        Groups::Table,
                        Groups::LeaderMemberId,
                        Members::Table,
                        Members::Id,
                        SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_groups_unit_path",
            Groups::Table,
            &["unit_path"],
            false,
        )
        .await?;
        index(
            manager,
            "ix_groups_unit",
            Groups::Table,
            &["unit_id"],
            false,
        )
        .await?;
        index(
            manager,
            "ix_groups_name_folded",
            Groups::Table,
            &["name_folded"],
            false,
        )
        .await?;
        index(
            manager,
            "ix_groups_kind_status",
            Groups::Table,
            &["kind", "status"],
            false,
        )
        .await?;
        index(
            manager,
            "ix_groups_leader",
            Groups::Table,
            &["leader_member_id"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Memberships::Table)
                    .col(big_pk_auto(Memberships::Id))
                    .col(big_integer(Memberships::MemberId))
                    .col(big_integer(Memberships::GroupId))
                    .col(string_len(Memberships::Role, 16))
                    .col(date(Memberships::JoinedOn))
                    .col(date_null(Memberships::LeftOn))
                    .col(timestamp_with_time_zone(Memberships::CreatedAt))
                    .foreign_key(&mut fk(
                        Memberships::Table,
                        Memberships::MemberId,
                        Members::Table,
                        Members::Id,
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        Memberships::Table,
                        Memberships::GroupId,
                        Groups::Table,
                        Groups::Id,
                        Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_memberships_group",
            Memberships::Table,
            &["group_id", "left_on"],
            false,
        )
        .await?;
        index(
            manager,
            "ix_memberships_member",
            Memberships::Table,
            &["member_id"],
            false,
        )
        .await?;
        // At most one open membership of a member in a group; closed ones are history.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_memberships_open ON memberships (member_id, group_id) \
                 WHERE left_on IS NULL",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(big_pk_auto(Users::Id))
                    .col(string_len_uniq(Users::Username, 64))
                    .col(string_len(Users::PasswordHash, 200))
                    .col(string_len(Users::Role, 24))
                    .col(big_integer_null(Users::ScopeUnitId))
                    .col(big_integer_null(Users::ScopeGroupId))
                    .col(big_integer_null(Users::MemberId))
                    .col(boolean(Users::Disabled).default(false))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .foreign_key(&mut fk(
                        Users::Table,
                        Users::ScopeUnitId,
                        AdminUnits::Table,
                        AdminUnits::Id,
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        Users::Table,
                        Users::ScopeGroupId,
                        Groups::Table,
                        Groups::Id,
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        Users::Table,
                        Users::MemberId,
                        Members::Table,
                        Members::Id,
                        SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Tasks::Table)
                    .col(big_pk_auto(Tasks::Id))
                    .col(big_integer(Tasks::GroupId))
                    .col(big_integer_null(Tasks::AssigneeMemberId))
                    .col(string_len(Tasks::Title, 200))
                    .col(string_len(Tasks::TitleFolded, 200))
                    .col(text_null(Tasks::Description))
                    .col(string_len(Tasks::Kind, 32))
                    .col(string_len(Tasks::Priority, 16))
                    .col(string_len(Tasks::Status, 16))
                    .col(date_null(Tasks::DueOn))
                    .col(big_integer_null(Tasks::Target))
                    .col(big_integer(Tasks::Progress).default(0))
                    .col(integer(Tasks::Version).default(1))
                    .col(big_integer_null(Tasks::CreatedByUserId))
                    .col(timestamp_with_time_zone(Tasks::CreatedAt))
                    .col(timestamp_with_time_zone(Tasks::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Tasks::CompletedAt))
                    .foreign_key(&mut fk(
                        Tasks::Table,
                        Tasks::GroupId,
                        Groups::Table,
                        Groups::Id,
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        Tasks::Table,
                        Tasks::AssigneeMemberId,
                        Members::Table,
                        Members::Id,
                        SetNull,
                    ))
                    .foreign_key(&mut fk(
                        Tasks::Table,
                        Tasks::CreatedByUserId,
                        Users::Table,
                        Users::Id,
                        SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_tasks_group_status",
            Tasks::Table,
            &["group_id", "status"],
            false,
        )
        .await?;
        index(
            manager,
            "ix_tasks_status_kind",
            Tasks::Table,
            &["status", "kind"],
            false,
        )
        .await?;
        index(manager, "ix_tasks_due_on", Tasks::Table, &["due_on"], false).await?;
        index(
            manager,
            "ix_tasks_assignee",
            Tasks::Table,
            &["assignee_member_id"],
            false,
        )
        .await?;
        index(
            manager,
            "ix_tasks_title_folded",
            Tasks::Table,
            &["title_folded"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Activities::Table)
                    .col(big_pk_auto(Activities::Id))
                    .col(big_integer(Activities::TaskId))
                    .col(big_integer(Activities::GroupId))
                    .col(big_integer_null(Activities::MemberId))
                    .col(big_integer_null(Activities::ReportedByUserId))
                    .col(timestamp_with_time_zone(Activities::OccurredAt))
                    .col(integer(Activities::ResidentsHelped))
                    .col(integer(Activities::VneidActivations).default(0))
                    .col(big_integer(Activities::ProgressDelta).default(0))
                    .col(text_null(Activities::Note))
                    .col(string_len_uniq(Activities::IdempotencyKey, 128))
                    .col(string_len(Activities::RequestHash, 64))
                    .col(timestamp_with_time_zone(Activities::CreatedAt))
                    .foreign_key(&mut fk(
                        Activities::Table,
                        Activities::TaskId,
                        Tasks::Table,
                        Tasks::Id,
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        Activities::Table,
                        Activities::GroupId,
                        Groups::Table,
                        Groups::Id,
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        Activities::Table,
                        Activities::MemberId,
                        Members::Table,
                        Members::Id,
                        SetNull,
                    ))
                    .foreign_key(&mut fk(
                        Activities::Table,
                        Activities::ReportedByUserId,
                        Users::Table,
                        Users::Id,
                        SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_activities_task",
            Activities::Table,
            &["task_id"],
            false,
        )
        .await?;
        index(
            manager,
            "ix_activities_group_time",
            Activities::Table,
            &["group_id", "occurred_at"],
            false,
        )
        .await?;
        index(
            manager,
            "ix_activities_member",
            Activities::Table,
            &["member_id"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(ActivityOutcomes::Table)
                    .col(big_pk_auto(ActivityOutcomes::Id))
                    .col(big_integer(ActivityOutcomes::ActivityId))
                    .col(string_len(ActivityOutcomes::Kind, 32))
                    .col(integer(ActivityOutcomes::Count))
                    .foreign_key(&mut fk(
                        ActivityOutcomes::Table,
                        ActivityOutcomes::ActivityId,
                        Activities::Table,
                        Activities::Id,
                        Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ux_activity_outcomes_kind",
            ActivityOutcomes::Table,
            &["activity_id", "kind"],
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Products::Table)
                    .col(big_pk_auto(Products::Id))
                    .col(string_len(Products::Name, 200))
                    .col(string_len(Products::NameFolded, 200))
                    .col(string_len(Products::Category, 100))
                    .col(string_len(Products::Producer, 200))
                    .col(string_len(Products::SaleUnit, 50))
                    .col(integer(Products::OcopStars).default(0))
                    .col(big_integer(Products::GroupId))
                    .col(timestamp_with_time_zone(Products::CreatedAt))
                    .col(timestamp_with_time_zone(Products::UpdatedAt))
                    .foreign_key(&mut fk(
                        Products::Table,
                        Products::GroupId,
                        Groups::Table,
                        Groups::Id,
                        Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_products_group",
            Products::Table,
            &["group_id"],
            false,
        )
        .await?;
        index(
            manager,
            "ix_products_name_folded",
            Products::Table,
            &["name_folded"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Listings::Table)
                    .col(big_pk_auto(Listings::Id))
                    .col(big_integer(Listings::ProductId))
                    .col(string_len(Listings::Platform, 16))
                    .col(string_len(Listings::Url, 2048))
                    .col(string_len(Listings::Status, 16))
                    .col(date_null(Listings::ListedOn))
                    .col(timestamp_with_time_zone(Listings::CreatedAt))
                    .col(timestamp_with_time_zone(Listings::UpdatedAt))
                    .foreign_key(&mut fk(
                        Listings::Table,
                        Listings::ProductId,
                        Products::Table,
                        Products::Id,
                        Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        // upsertListing keys on (product, platform): one listing per platform per product.
        index(
            manager,
            "ux_listings_product_platform",
            Listings::Table,
            &["product_id", "platform"],
            true,
        )
        .await?;
        index(
            manager,
            "ix_listings_platform_status",
            Listings::Table,
            &["platform", "status"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(UnitSurveys::Table)
                    .col(big_pk_auto(UnitSurveys::Id))
                    .col(big_integer(UnitSurveys::UnitId))
                    .col(date(UnitSurveys::PeriodStart))
                    .col(date(UnitSurveys::PeriodEnd))
                    .col(big_integer(UnitSurveys::Households))
                    .col(big_integer(UnitSurveys::WithComputer))
                    .col(big_integer(UnitSurveys::WithInternet))
                    .col(big_integer(UnitSurveys::WithSmartphone))
                    .col(big_integer(UnitSurveys::Businesses))
                    .col(big_integer(UnitSurveys::BusinessHouseholds))
                    .col(big_integer_null(UnitSurveys::AvgIncomeVnd))
                    .col(big_integer(UnitSurveys::FiveSkillsHouseholds))
                    .col(timestamp_with_time_zone(UnitSurveys::RecordedAt))
                    .foreign_key(&mut fk(
                        UnitSurveys::Table,
                        UnitSurveys::UnitId,
                        AdminUnits::Table,
                        AdminUnits::Id,
                        Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ux_unit_surveys_period",
            UnitSurveys::Table,
            &["unit_id", "period_start", "period_end"],
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(big_pk_auto(RefreshTokens::Id))
                    .col(big_integer(RefreshTokens::UserId))
                    .col(string_len(RefreshTokens::FamilyId, 64))
                    .col(string_len_uniq(RefreshTokens::TokenHash, 64))
                    .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                    .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::UsedAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::RevokedAt))
                    .foreign_key(&mut fk(
                        RefreshTokens::Table,
                        RefreshTokens::UserId,
                        Users::Table,
                        Users::Id,
                        Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_refresh_tokens_family",
            RefreshTokens::Table,
            &["family_id"],
            false,
        )
        .await?;
        index(
            manager,
            "ix_refresh_tokens_user",
            RefreshTokens::Table,
            &["user_id"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(big_pk_auto(AuditEvents::Id))
                    .col(timestamp_with_time_zone(AuditEvents::OccurredAt))
                    .col(big_integer_null(AuditEvents::ActorUserId))
                    .col(string_len(AuditEvents::ActorName, 64))
                    .col(string_len(AuditEvents::Action, 64))
                    .col(string_len(AuditEvents::ObjectType, 32))
                    .col(string_len_null(AuditEvents::ObjectId, 64))
                    .col(string_len(AuditEvents::Outcome, 16))
                    .col(string_len_null(AuditEvents::UnitPath, 400))
                    .col(string_len_null(AuditEvents::RequestId, 64))
                    .col(text_null(AuditEvents::Detail))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_audit_events_time",
            AuditEvents::Table,
            &["occurred_at"],
            false,
        )
        .await?;
        index(
            manager,
            "ix_audit_events_unit_path",
            AuditEvents::Table,
            &["unit_path"],
            false,
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Children before parents, so foreign keys never block the drop.
        for table in [
            AuditEvents::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            UnitSurveys::Table.into_iden(),
            Listings::Table.into_iden(),
            Products::Table.into_iden(),
            ActivityOutcomes::Table.into_iden(),
            Activities::Table.into_iden(),
            Tasks::Table.into_iden(),
            Users::Table.into_iden(),
            Memberships::Table.into_iden(),
            Groups::Table.into_iden(),
            Members::Table.into_iden(),
            AdminUnits::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
