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
    // current triggers already there, migration 4 still pending.
    let db = TestDb::create(backend).await.expect("a database");
    let conn = connect(&db).await;
    Migrator::up(&conn, Some(3)).await.expect("migrate to 3");
    let b = conn.get_database_backend();
    for sql in cdtg_migrations::rollups::create_statements(b)
        .into_iter()
        .filter(|s| s.starts_with("CREATE TABLE") && s.contains("_totals ("))
        .chain(cdtg_migrations::rollups::drop_trigger_statements(b))
        .chain(cdtg_migrations::rollups::create_trigger_statements(b))
    {
        conn.execute_unprepared(&sql)
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

on_both_databases!(
    instances_starting_together_migrate_once,
    every_migration_reproduces_its_committed_schema,
    migrating_from_any_earlier_state_ends_in_the_fresh_schema,
);
