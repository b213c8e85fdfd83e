//! The deterministic demo dataset: Đà Nẵng's community digital technology groups as the seed
//! article describes them, at any scale.
//!
//! At scale 1 the demo reproduces the article's figures exactly: 2,500 community groups and
//! 13,000 members city-wide (2,500 × 5, plus 52 groups with a sixth member, plus a management
//! team of 8 in each of the 56 wards and communes); Phước Mỹ has 43 groups of five and a
//! management team led by the ward People's Committee vice chairman; Tân Chính has 36 groups; Sơn
//! Trà district has 231 Youth Union members. Around them: ~4 tasks per group covering every kind
//! and status, field activities whose progress deltas add up to each task's progress (computed
//! with `cdtg_core`, like the server does), ~1,000 local products with their Voso/Postmart/…
//! listings, one 2024 household survey per ward and seven demo accounts.
//!
//! Scale N multiplies the community groups (with their residential units, members, tasks,
//! activities and products) by N; the unit tree, the 56 management teams, the surveys and the
//! accounts stay as they are. Scale 100 has 250,000 groups and ~1.26 M members.
//!
//! Decisions:
//! - **Deterministic.** All randomness comes from a hand-written SplitMix64 ([`rng`]) with a fixed
//!   seed, one stream per ward, and every timestamp is fixed, so a given scale yields the same
//!   bytes on SQLite and PostgreSQL, today and in ten years. The only exception is the password
//!   hash, whose salt is random by design.
//! - **Explicit ids.** Every table is numbered 1..n by the generator, so rows can reference each
//!   other before anything is inserted and bulk inserts need no `RETURNING`. PostgreSQL's
//!   sequences are then moved past the ids; SQLite's AUTOINCREMENT follows explicit ids by itself.
//! - **One transaction, bulk statements, bounded memory.** Rows are generated and inserted ward
//!   by ward (see [`generate`]), parents first, in multi-row `INSERT`s of at most
//!   [`CHUNK_ROWS`] rows, all inside one transaction: an interrupted seed leaves nothing behind.
//!   The statistics rollups are computed once at the end, with their triggers off meanwhile.

mod catalog;
mod generate;
mod names;
mod rng;
mod units;

use chrono::NaiveDate;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction,
    DbErr, EntityTrait, IntoActiveModel, Iterable, TransactionTrait, Value,
};

use crate::entity::{
    activity, activity_outcome, admin_unit, group, listing, member, membership, product, task,
    unit_survey, user,
};
use cdtg_migrations::rollups;
use generate::{Batch, Generator};

/// At most this many rows per `INSERT`: the widest table (tasks, 17 columns) then binds 8,500
/// values, well under SQLite's limit of 32,766 and PostgreSQL's 65,535.
const CHUNK_ROWS: usize = 500;

/// On PostgreSQL, also at most about this many bytes of bound values per `INSERT`.
///
/// sqlx 0.9.0 no longer sets `TCP_NODELAY` (transact-rs/sqlx issue #4335; fixed upstream by PR
/// #4336, not released yet). A statement larger than the socket's initial send buffer (16 KiB on
/// Linux) leaves in two writes, and Nagle's algorithm then holds the second until the server's
/// delayed ACK, 40 ms later: 500-row statements made scale 1 take 22 s on PostgreSQL over TCP
/// instead of about 2. Statements below the buffer never stall, and more of them cost little.
/// The pool now switches Nagle off itself (`db::nodelay`, Linux); the limit stays for systems
/// where it cannot. SQLite, in process, needs no such limit.
const PG_STATEMENT_BYTES: usize = 8 * 1024;

/// Every table the demo fills, for moving PostgreSQL's id sequences past the explicit ids.
const TABLES: [&str; 11] = [
    "admin_units",
    "groups",
    "members",
    "memberships",
    "tasks",
    "activities",
    "activity_outcomes",
    "products",
    "listings",
    "unit_surveys",
    "users",
];

/// The password of every demo account (demo data only).
pub const DEMO_PASSWORD: &str = "demo-password";

/// How many rows the demo inserted, per table (activity outcomes not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedSummary {
    pub units: u64,
    pub groups: u64,
    pub members: u64,
    pub memberships: u64,
    pub tasks: u64,
    pub activities: u64,
    pub products: u64,
    pub listings: u64,
    pub surveys: u64,
    pub users: u64,
}

impl SeedSummary {
    /// Every row written so far.
    pub fn rows(&self) -> u64 {
        self.units
            + self.groups
            + self.members
            + self.memberships
            + self.tasks
            + self.activities
            + self.products
            + self.listings
            + self.surveys
            + self.users
    }
}

/// Đà Nẵng after 1 July 2025, and which old unit became which new one.
const REFORM_UNITS: &str = include_str!("../../../../reference/units/danang-2025.csv");
const REFORM_MAPPING: &str = include_str!("../../../../reference/units/danang-2025-reform.csv");

/// Applies the 1 July 2025 reform to the demo (`cdtg seed demo --reform`), so it shows both
/// trees: the districts and old wards closed into the new units, with their history.
pub async fn apply_reform(
    db: &DatabaseConnection,
    on_step: crate::progress::OnStep<'_>,
) -> Result<crate::service::unit_files::ReformReport, crate::service::unit_files::FileError> {
    let effective = NaiveDate::from_ymd_opt(2025, 7, 1).expect("valid date");
    crate::service::unit_files::apply_reform(
        db,
        REFORM_MAPPING.as_bytes(),
        Some(REFORM_UNITS.as_bytes()),
        effective,
        false,
        on_step,
    )
    .await
}

/// True when the database already holds admin units (then `serve --demo` does not seed).
pub async fn has_data(db: &DatabaseConnection) -> Result<bool, DbErr> {
    Ok(admin_unit::Entity::find().one(db).await?.is_some())
}

/// Seeds the demo at `scale` (1, 10, 100 …) into an empty, migrated database, in one transaction.
///
/// Fails without writing anything when `scale` is 0 or the database already holds admin units.
/// Scale 1 takes a few seconds on SQLite; the time grows linearly with the scale.
pub async fn demo(db: &DatabaseConnection, scale: u32) -> Result<SeedSummary, DbErr> {
    demo_reporting(db, scale, |_| {}).await
}

/// Where a seed stands, for progress on a terminal.
#[derive(Debug, Clone, Copy)]
pub enum SeedStep<'a> {
    /// A ward's rows are in: how many wards of how many, and the rows so far.
    Ward {
        done: usize,
        of: usize,
        rows: &'a SeedSummary,
    },
    /// Every fact is in; the statistics rollups are being computed (the rollup table named).
    Rollups(&'a str),
    /// Committing.
    Committing,
}

/// [`demo`], calling `progress` after each ward and at each later step.
pub async fn demo_reporting(
    db: &DatabaseConnection,
    scale: u32,
    mut progress: impl FnMut(SeedStep<'_>),
) -> Result<SeedSummary, DbErr> {
    let mut generator = Generator::new(scale).map_err(DbErr::Custom)?;
    let wards = generator.ward_count();
    if has_data(db).await? {
        return Err(DbErr::Custom(
            "the database already holds admin units; the demo seeds an empty database".to_owned(),
        ));
    }
    // argon2id is deliberately slow: hash once, before the transaction, and share the hash.
    let password_hash = crate::auth::password::hash(DEMO_PASSWORD);

    let txn = db.begin().await?;
    // The statistics rollups are computed once after the bulk load, not row by row
    // (`drop_trigger_statements` says why); the triggers come back before the commit.
    let backend = txn.get_database_backend();
    for sql in rollups::drop_trigger_statements(backend) {
        txn.execute_unprepared(&sql).await?;
    }
    let mut summary = SeedSummary {
        units: insert::<admin_unit::ActiveModel>(&txn, generator.tree_units().to_vec()).await?,
        ..SeedSummary::default()
    };
    let mut done = 0;
    while let Some(batch) = generator.next_ward() {
        insert_batch(&txn, batch, &mut summary).await?;
        done += 1;
        progress(SeedStep::Ward {
            done,
            of: wards,
            rows: &summary,
        });
    }
    generator.finish().map_err(DbErr::Custom)?;
    summary.surveys = insert::<unit_survey::ActiveModel>(&txn, generator.surveys()).await?;
    let users = generator.users(&password_hash).map_err(DbErr::Custom)?;
    summary.users = insert::<user::ActiveModel>(&txn, users).await?;

    rollups::rebuild_reporting(&txn, |table| progress(SeedStep::Rollups(table))).await?;
    for sql in rollups::create_trigger_statements(backend) {
        txn.execute_unprepared(&sql).await?;
    }
    if backend == DatabaseBackend::Postgres {
        for table in TABLES {
            txn.execute_unprepared(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 (SELECT COALESCE(MAX(id), 1) FROM \"{table}\"))"
            ))
            .await?;
        }
    }
    progress(SeedStep::Committing);
    txn.commit().await?;
    Ok(summary)
}

/// Inserts one ward's rows, parents before children, and counts them.
async fn insert_batch(
    txn: &DatabaseTransaction,
    b: Batch,
    summary: &mut SeedSummary,
) -> Result<(), DbErr> {
    summary.units += insert::<admin_unit::ActiveModel>(txn, b.units).await?;
    summary.members += insert::<member::ActiveModel>(txn, b.members).await?;
    summary.groups += insert::<group::ActiveModel>(txn, b.groups).await?;
    summary.memberships += insert::<membership::ActiveModel>(txn, b.memberships).await?;
    summary.tasks += insert::<task::ActiveModel>(txn, b.tasks).await?;
    summary.activities += insert::<activity::ActiveModel>(txn, b.activities).await?;
    insert::<activity_outcome::ActiveModel>(txn, b.outcomes).await?;
    summary.products += insert::<product::ActiveModel>(txn, b.products).await?;
    summary.listings += insert::<listing::ActiveModel>(txn, b.listings).await?;
    Ok(())
}

/// Inserts `rows` in multi-row statements of at most [`CHUNK_ROWS`] rows and, on PostgreSQL,
/// about [`PG_STATEMENT_BYTES`] of bound values; returns how many rows.
async fn insert<A>(
    txn: &DatabaseTransaction,
    rows: Vec<<A::Entity as EntityTrait>::Model>,
) -> Result<u64, DbErr>
where
    A: ActiveModelTrait,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    let count = rows.len() as u64;
    let postgres = txn.get_database_backend() == DatabaseBackend::Postgres;
    let mut chunk: Vec<A> = Vec::with_capacity(CHUNK_ROWS);
    let mut bytes = 0;
    for row in rows {
        let row = row.into_active_model();
        if postgres {
            bytes += bound_bytes(&row);
        }
        chunk.push(row);
        if chunk.len() == CHUNK_ROWS || bytes >= PG_STATEMENT_BYTES {
            A::Entity::insert_many(std::mem::take(&mut chunk))
                .exec_without_returning(txn)
                .await?;
            bytes = 0;
        }
    }
    if !chunk.is_empty() {
        A::Entity::insert_many(chunk)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(count)
}

/// Roughly how many bytes `row`'s values take in a PostgreSQL Bind message.
fn bound_bytes<A: ActiveModelTrait>(row: &A) -> usize {
    <A::Entity as EntityTrait>::Column::iter()
        .map(|col| match row.get(col).into_value() {
            Some(Value::String(Some(s))) => s.len() + 4,
            _ => 12,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use cdtg_core::group::{Affiliation, GroupKind};
    use cdtg_core::task::TaskStatus;

    use super::generate::Generator;

    /// Everything the generator yields at `scale`, without a database.
    fn generate_all(scale: u32) -> (Generator, Vec<super::Batch>) {
        let mut generator = Generator::new(scale).expect("plans");
        let mut batches = Vec::new();
        while let Some(b) = generator.next_ward() {
            batches.push(b);
        }
        generator.finish().expect("quotas met");
        (generator, batches)
    }

    #[test]
    fn scale_one_reproduces_the_article() {
        let (generator, batches) = generate_all(1);
        let units = generator.tree_units();
        let name_of = |id: i64| -> String {
            units
                .iter()
                .find(|u| u.id == id)
                .map(|u| u.name.clone())
                .unwrap_or_default()
        };
        let groups: Vec<_> = batches.iter().flat_map(|b| &b.groups).collect();
        let members: Vec<_> = batches.iter().flat_map(|b| &b.members).collect();
        let community = groups
            .iter()
            .filter(|g| g.kind == GroupKind::Community)
            .count();
        assert_eq!(community, 2_500);
        assert_eq!(groups.len() - community, 56);
        assert_eq!(members.len(), 13_000);
        let memberships: usize = batches.iter().map(|b| b.memberships.len()).sum();
        assert_eq!(memberships, 13_000);

        // Phước Mỹ and Tân Chính, through the ward part of each group's path.
        let ward_of_path = |path: &str| -> String {
            let ids: Vec<i64> = path
                .trim_matches('/')
                .split('/')
                .map(|s| s.parse().unwrap())
                .collect();
            name_of(ids[2])
        };
        let in_ward = |ward: &str, kind: GroupKind| {
            groups
                .iter()
                .filter(|g| g.kind == kind && ward_of_path(&g.unit_path) == ward)
                .count()
        };
        assert_eq!(in_ward("Phước Mỹ", GroupKind::Community), 43);
        assert_eq!(in_ward("Tân Chính", GroupKind::Community), 36);
        let pm_team = groups
            .iter()
            .find(|g| {
                g.kind == GroupKind::Management
                    && g.unit_path.matches('/').count() == 4
                    && ward_of_path(&g.unit_path) == "Phước Mỹ"
            })
            .expect("Phước Mỹ's team");
        assert_eq!(pm_team.name, "Tổ chỉ đạo chuyển đổi số phường Phước Mỹ");
        let leader = members
            .iter()
            .find(|m| Some(m.id) == pm_team.leader_member_id)
            .expect("leader");
        assert_eq!(leader.affiliation, Affiliation::Cadre);
        let pm_member_counts: BTreeSet<usize> = batches
            .iter()
            .flat_map(|b| &b.memberships)
            .fold(BTreeMap::<i64, usize>::new(), |mut m, ms| {
                *m.entry(ms.group_id).or_default() += 1;
                m
            })
            .into_iter()
            .filter(|(gid, _)| {
                groups.iter().any(|g| {
                    g.id == *gid
                        && g.kind == GroupKind::Community
                        && ward_of_path(&g.unit_path) == "Phước Mỹ"
                })
            })
            .map(|(_, n)| n)
            .collect();
        assert_eq!(pm_member_counts, BTreeSet::from([5]));

        // Exactly 231 Youth Union members in Sơn Trà.
        let son_tra = units.iter().find(|u| u.name == "Sơn Trà").expect("Sơn Trà");
        let youth = members
            .iter()
            .filter(|m| {
                m.affiliation == Affiliation::YouthUnion && m.unit_path.starts_with(&son_tra.path)
            })
            .count();
        assert_eq!(youth, 231);

        // Every task kind and status; progress is the sum of the activities' deltas.
        let tasks: Vec<_> = batches.iter().flat_map(|b| &b.tasks).collect();
        let kinds: BTreeSet<&str> = tasks.iter().map(|t| t.kind.as_str()).collect();
        let statuses: BTreeSet<&str> = tasks.iter().map(|t| t.status.as_str()).collect();
        assert_eq!(kinds.len(), cdtg_core::task::TaskKind::ALL.len());
        assert_eq!(statuses.len(), cdtg_core::task::TaskStatus::ALL.len());
        let mut progress: BTreeMap<i64, i64> = BTreeMap::new();
        for a in batches.iter().flat_map(|b| &b.activities) {
            let task = a.task_id.expect("the demo reports on tasks");
            *progress.entry(task).or_default() += a.progress_delta;
        }
        for t in &tasks {
            assert_eq!(
                t.progress,
                progress.get(&t.id).copied().unwrap_or(0),
                "task {}",
                t.id
            );
            assert_eq!(t.completed_at.is_some(), t.status == TaskStatus::Done);
            if t.status == TaskStatus::Open {
                assert!(!progress.contains_key(&t.id));
            }
        }

        let products: usize = batches.iter().map(|b| b.products.len()).sum();
        assert!((900..=1_100).contains(&products), "{products} products");
        let users = generator.users("hash").expect("users");
        assert_eq!(users.len(), 7);
        let pm_leader = users
            .iter()
            .find(|u| u.username == "phuocmy-leader")
            .expect("leader account");
        let first_pm_group = groups
            .iter()
            .filter(|g| g.kind == GroupKind::Community && ward_of_path(&g.unit_path) == "Phước Mỹ")
            .map(|g| g.id)
            .min();
        assert_eq!(pm_leader.scope_group_id, first_pm_group);
    }

    #[test]
    fn ids_are_dense_and_paths_consistent() {
        let (generator, batches) = generate_all(1);
        let mut unit_ids: Vec<i64> = generator.tree_units().iter().map(|u| u.id).collect();
        unit_ids.extend(batches.iter().flat_map(|b| b.units.iter().map(|u| u.id)));
        assert!(
            unit_ids
                .iter()
                .enumerate()
                .all(|(i, &id)| id == i as i64 + 1)
        );
        for u in batches.iter().flat_map(|b| &b.units) {
            assert!(u.path.ends_with(&format!("/{}/", u.id)));
        }
        let member_ids: Vec<i64> = batches
            .iter()
            .flat_map(|b| b.members.iter().map(|m| m.id))
            .collect();
        assert!(
            member_ids
                .iter()
                .enumerate()
                .all(|(i, &id)| id == i as i64 + 1)
        );
    }

    #[test]
    fn generation_is_deterministic() {
        let (_, a) = generate_all(1);
        let (_, b) = generate_all(1);
        assert!(a == b, "two runs differ");
    }

    #[test]
    fn scale_multiplies_the_groups() {
        let (_, batches) = generate_all(2);
        let community = batches
            .iter()
            .flat_map(|b| &b.groups)
            .filter(|g| g.kind == GroupKind::Community)
            .count();
        assert_eq!(community, 5_000);
        let members: usize = batches.iter().map(|b| b.members.len()).sum();
        assert_eq!(members, 2 * 12_552 + 448);
    }

    #[tokio::test]
    async fn seeds_sqlite_once() {
        // Through the pool's own `connect`, as every SQLite connection of this test binary (see
        // `db::tests::sqlite_keeps_no_memory_statistics`).
        let url = "sqlite::memory:";
        let (db, _) = crate::db::connect(url, &crate::db::PoolSettings::maintenance(url))
            .await
            .expect("connects");
        <cdtg_migrations::Migrator as sea_orm_migration::MigratorTrait>::up(&db, None)
            .await
            .expect("migrates");
        assert!(!super::has_data(&db).await.expect("query"));
        let summary = super::demo(&db, 1).await.expect("seeds");
        assert_eq!(summary.members, 13_000);
        assert_eq!(summary.groups, 2_556);
        assert_eq!(summary.users, 7);
        assert!(super::has_data(&db).await.expect("query"));
        assert!(
            super::demo(&db, 1).await.is_err(),
            "a second seed must refuse"
        );
    }
}
