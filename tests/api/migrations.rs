//! Migrations are frozen: running them reproduces, step by step, the schema committed under
//! `migrations/schema/` (so editing a migration that is already on main fails here), and a
//! database migrated from any earlier state ends in exactly the schema of a fresh one.
//!
//! After adding a migration, write its snapshot with
//! `CDTG_UPDATE_SCHEMA=1 tests/run.sh -- migrations` and commit it.

use cdtg_migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};

use crate::helpers::{Backend, TestDb};
use crate::on_both_databases;

/// Every table, column, index, constraint, trigger and function, one line each, sorted.
async fn dump(db: &DatabaseConnection) -> String {
    let backend = db.get_database_backend();
    let queries: &[&str] = match backend {
        DatabaseBackend::Postgres => &[
            "SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable \
             || ' default=' || COALESCE(column_default, '') || ' collation=' || COALESCE(collation_name, '') \
             FROM information_schema.columns WHERE table_schema = 'public'",
            "SELECT 'index ' || indexname || ': ' || indexdef FROM pg_indexes WHERE schemaname = 'public'",
            "SELECT 'constraint ' || conrelid::regclass::text || '.' || conname || ': ' || pg_get_constraintdef(oid) \
             FROM pg_constraint WHERE connamespace = 'public'::regnamespace",
            "SELECT 'trigger ' || tgname || ': ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal",
            "SELECT 'function ' || proname || ': ' || prosrc FROM pg_proc WHERE pronamespace = 'public'::regnamespace",
        ],
        _ => &[
            "SELECT type || ' ' || name || ': ' || COALESCE(sql, '') FROM sqlite_master \
             WHERE name NOT LIKE 'sqlite_%'",
        ],
    };
    let mut lines = Vec::new();
    for sql in queries {
        for row in db
            .query_all_raw(Statement::from_string(backend, *sql))
            .await
            .expect("read the catalogue")
        {
            lines.push(row.try_get_by_index::<String>(0).expect("a text column"));
        }
    }
    lines.sort();
    lines.join("\n") + "\n"
}

async fn connect(db: &TestDb) -> DatabaseConnection {
    sea_orm::Database::connect(db.url()).await.expect("connect")
}

fn snapshot_path(backend: Backend, step: usize, name: &str) -> std::path::PathBuf {
    let dir = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../migrations/schema")
        .join(dir)
        .join(format!("{step:03}_{name}.txt"))
}

async fn every_migration_reproduces_its_committed_schema(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let conn = connect(&db).await;
    let update = std::env::var("CDTG_UPDATE_SCHEMA").as_deref() == Ok("1");
    for (i, migration) in Migrator::migrations().iter().enumerate() {
        Migrator::up(&conn, Some(1))
            .await
            .expect("migrate one step");
        let schema = dump(&conn).await;
        let path = snapshot_path(backend, i + 1, migration.name());
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &schema).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!(
                "{} has no committed schema: write it with CDTG_UPDATE_SCHEMA=1",
                migration.name()
            )
        });
        if committed != schema {
            let diff: Vec<String> = diff_lines(&committed, &schema);
            panic!(
                "after {} the schema differs from {} — a migration on main was edited (add a new one \
                 instead):\n{}",
                migration.name(),
                path.display(),
                diff.join("\n")
            );
        }
    }
}

fn diff_lines(expected: &str, actual: &str) -> Vec<String> {
    let e: std::collections::BTreeSet<&str> = expected.lines().collect();
    let a: std::collections::BTreeSet<&str> = actual.lines().collect();
    e.difference(&a)
        .map(|l| format!("- {l:.200}"))
        .chain(a.difference(&e).map(|l| format!("+ {l:.200}")))
        .collect()
}

async fn migrating_from_any_earlier_state_ends_in_the_fresh_schema(backend: Backend) {
    let Some(fresh_db) = TestDb::create(backend).await else {
        return;
    };
    let fresh = connect(&fresh_db).await;
    Migrator::up(&fresh, None).await.expect("migrate");
    let head = dump(&fresh).await;

    let steps = Migrator::migrations().len();
    for start in 0..steps {
        let db = TestDb::create(backend).await.expect("a database");
        let conn = connect(&db).await;
        if start > 0 {
            Migrator::up(&conn, Some(start as u32))
                .await
                .expect("migrate to the start");
        }
        Migrator::up(&conn, None).await.expect("migrate to head");
        let schema = dump(&conn).await;
        assert!(
            schema == head,
            "from {start} migrations to head differs from a fresh migrate:\n{}",
            diff_lines(&head, &schema).join("\n")
        );
        conn.close().await.ok();
    }

    // A database migrated while migration 3 still created the all-time totals itself (its
    // generator was edited in place before migrations were frozen): totals tables and the
    // triggers of that time already there, migration 4 still pending. Migration 4's own frozen
    // statements are exactly what that edited migration 3 ran.
    let db = TestDb::create(backend).await.expect("a database");
    let conn = connect(&db).await;
    Migrator::up(&conn, Some(3)).await.expect("migrate to 3");
    let migration_4 = match conn.get_database_backend() {
        DatabaseBackend::Postgres => {
            include_str!("../../migrations/sql/m20261201_000004_all_time_totals/postgres.up.sql")
        }
        _ => include_str!("../../migrations/sql/m20261201_000004_all_time_totals/sqlite.up.sql"),
    };
    for sql in cdtg_migrations::sql::statements(migration_4) {
        conn.execute_unprepared(sql)
            .await
            .expect("the edited migration 3");
    }
    Migrator::up(&conn, None).await.expect("migrate to head");
    assert_eq!(dump(&conn).await, head, "from the edited migration 3");
    conn.close().await.ok();

    // Down to nothing and up again: the same schema.
    Migrator::down(&fresh, None).await.expect("migrate down");
    Migrator::up(&fresh, None).await.expect("migrate up again");
    assert_eq!(dump(&fresh).await, head, "down and up again");

    // The live rollup generator (bulk loads drop and re-create the triggers with it) describes
    // exactly what the migrations made.
    for sql in cdtg_migrations::rollups::drop_trigger_statements(fresh.get_database_backend())
        .into_iter()
        .chain(cdtg_migrations::rollups::create_trigger_statements(
            fresh.get_database_backend(),
        ))
    {
        fresh
            .execute_unprepared(&sql)
            .await
            .expect("trigger statement");
    }
    let regenerated = dump(&fresh).await;
    assert!(
        regenerated == head,
        "the rollup generator no longer matches the migrations:\n{}",
        diff_lines(&head, &regenerated).join("\n")
    );
}

/// Instances starting at once on one new database take turns migrating (on PostgreSQL an
/// advisory lock); all of them come up, and the schema is the fresh one.
async fn instances_starting_together_migrate_once(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let starts = (0..3).map(|_| {
        let url = db.url().to_owned();
        async move {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            cdtg_api::startup::Application::build(&url, &crate::helpers::test_args(), listener)
                .await
                .map(|app| app.handle())
        }
    });
    let started = futures_util::future::join_all(starts).await;
    for handle in started {
        handle.expect("every instance starts").stop(false).await;
    }
    let conn = connect(&db).await;
    let Some(fresh_db) = TestDb::create(backend).await else {
        return;
    };
    let fresh = connect(&fresh_db).await;
    Migrator::up(&fresh, None).await.expect("migrate");
    assert_eq!(dump(&conn).await, dump(&fresh).await);

    // A database that a newer version migrated further is refused, with a clear message.
    conn.execute_unprepared(
        "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m20991231_000001_from_the_future', 0)",
    )
    .await
    .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let refused =
        cdtg_api::startup::Application::build(db.url(), &crate::helpers::test_args(), listener)
            .await
            .err()
            .expect("a newer schema is refused");
    assert!(
        refused.contains("newer version") && refused.contains("m20991231_000001_from_the_future"),
        "{refused}"
    );
}

/// The walk-in migration rebuilds the reports' table on SQLite: down and up again with real
/// reports keeps every report, outcome and total, and never hands out a voided report's id
/// again. Down refuses, changing nothing, while a walk-in report exists.
async fn reports_survive_the_walk_in_migration_both_ways(backend: Backend) {
    use crate::fixture::{Fixture, PASSWORD, gid, users};
    use cdtg_api::ids::NodeType;
    use serde_json::json;

    let Some(app) = crate::helpers::TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let member = app.login(users::MEMBER_A1, PASSWORD).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let report =
        "mutation($i: ReportActivityInput!) { reportActivity(input: $i) { activity { id } } }";
    let mut ids = vec![];
    for n in 0..3 {
        let data = app
            .ok(
                &member,
                report,
                json!({ "i": { "idempotencyKey": format!("mig-{n:04}"), "taskId": gid(NodeType::Task, f.task_a1), "occurredAt": "2026-11-20T02:30:00Z", "residentsHelped": 4 + n, "outcomes": [{ "kind": "VNEID_ACTIVATED", "count": 2 }, { "kind": "PERSON_TRAINED", "count": n }] } }),
            )
            .await;
        ids.push(data["reportActivity"]["activity"]["id"].clone());
    }
    // The newest report is voided: its id must stay used.
    app.ok(
        &member,
        "mutation($i: VoidActivityInput!) { voidActivity(input: $i) { voided { action } } }",
        json!({ "i": { "id": ids[2], "idempotencyKey": "mig-void-01", "reason": "trùng" } }),
    )
    .await;
    let stats = "query($u: ID!) { adminUnit(id: $u) { stats { activities residentsHelped vneidActivations peopleTrained outcomes { indicator count } } } }";
    let vars = json!({ "u": gid(NodeType::AdminUnit, f.ward_a1) });
    let before = app.ok(&ward, stats, vars.clone()).await;
    let db = &app.state.db;
    let count = |table: &'static str| async move {
        db.query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap()
    };
    let facts = (count("activities").await, count("activity_outcomes").await);
    // The walk-in migration and every later one are undone, then done again.
    let steps = Migrator::migrations()
        .iter()
        .position(|m| m.name() == "m20261202_000012_walk_ins_and_archives")
        .expect("the walk-in migration") as u32
        + 1;
    let later = Migrator::migrations().len() as u32 - steps;

    Migrator::down(db, Some(1 + later))
        .await
        .expect("down to before the walk-in migration");
    assert_eq!(
        (count("activities").await, count("activity_outcomes").await),
        facts
    );
    Migrator::up(db, None).await.expect("up again");
    assert_eq!(
        (count("activities").await, count("activity_outcomes").await),
        facts
    );
    assert_eq!(app.ok(&ward, stats, vars.clone()).await, before);
    let data = app
        .ok(
            &member,
            report,
            json!({ "i": { "idempotencyKey": "mig-0100", "taskId": gid(NodeType::Task, f.task_a1), "occurredAt": "2026-11-21T02:30:00Z", "residentsHelped": 1 } }),
        )
        .await;
    let decode = |v: &serde_json::Value| {
        cdtg_api::ids::decode(NodeType::Activity, v.as_str().unwrap()).unwrap()
    };
    assert!(
        decode(&data["reportActivity"]["activity"]["id"]) > decode(&ids[2]),
        "a voided report's id was handed out again"
    );

    // With a walk-in report there is no task to put back: down fails and changes nothing.
    app.ok(
        &member,
        report,
        json!({ "i": { "idempotencyKey": "mig-0101", "groupId": gid(NodeType::Group, f.group_a1), "occurredAt": "2026-11-21T02:30:00Z", "residentsHelped": 1 } }),
    )
    .await;
    let facts = (count("activities").await, count("activity_outcomes").await);
    Migrator::down(db, Some(later))
        .await
        .expect("down to the walk-in migration");
    assert!(Migrator::down(db, Some(1)).await.is_err());
    assert_eq!(count("seaql_migrations").await, i64::from(steps));
    assert_eq!(
        (count("activities").await, count("activity_outcomes").await),
        facts
    );
}

on_both_databases!(
    reports_survive_the_walk_in_migration_both_ways,
    instances_starting_together_migrate_once,
    every_migration_reproduces_its_committed_schema,
    migrating_from_any_earlier_state_ends_in_the_fresh_schema,
);
