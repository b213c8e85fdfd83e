//! The `cdtg` command line, run as a real process: bootstrap accounts (password from stdin or
//! the environment, never a flag), migrations, seeding refusal, schema output, the statistics
//! rollups' back-fill and rebuild.

use cdtg_migrations::MigratorTrait;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::json;

use crate::helpers::{Backend, TestApp, TestDb, test_args};
use crate::on_both_databases;
use crate::stats::rollup_rows;

/// The `cdtg` binary: api/src/main.rs built as this package's `cdtg-under-test` bin, which cargo
/// builds before running these tests.
fn cdtg_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cdtg-under-test"))
}

/// [`cdtg`] with extra environment variables.
fn cdtg_with(bin: &PathBuf, url: &str, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(bin)
        .args(args)
        .env("DATABASE_URL", url)
        .envs(env.iter().copied())
        .output()
        .expect("run cdtg");
    joined(out)
}

/// Whether the command succeeded, and its standard output followed by its standard error.
fn joined(out: std::process::Output) -> (bool, String) {
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn cdtg(bin: &PathBuf, url: &str, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new(bin)
        .args(args)
        .env("DATABASE_URL", url)
        .env_remove("CDTG_USER_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cdtg");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    joined(child.wait_with_output().unwrap())
}

async fn bootstrap_an_account_from_the_command_line(backend: Backend) {
    let bin = cdtg_binary();
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let url = db.url().to_owned();

    let (ok, out) = cdtg(&bin, &url, &["migrate", "up"], None);
    assert!(ok, "{out}");
    let (ok, out) = cdtg(&bin, &url, &["migrate", "status"], None);
    assert!(
        ok && out.contains("m20261128_000001_create_schema") && out.contains("Applied"),
        "{out}"
    );
    let (ok, out) = cdtg(&bin, &url, &["seed", "demo"], None);
    assert!(ok && out.contains("13000 members"), "{out}");
    let (ok, out) = cdtg(&bin, &url, &["seed", "demo"], None);
    assert!(
        !ok && out.contains("already holds data"),
        "seeding twice is refused: {out}"
    );

    // The password comes from stdin; the scope by unit name, diacritics folded.
    let (ok, out) = cdtg(
        &bin,
        &url,
        &[
            "user",
            "create",
            "--username",
            "ana",
            "--role",
            "ward_leader",
            "--scope",
            "phuoc my",
        ],
        Some("a-bootstrap-password\n"),
    );
    assert!(ok, "{out}");
    assert!(
        !out.contains("a-bootstrap-password"),
        "the password is never echoed: {out}"
    );
    let (ok, out) = cdtg(
        &bin,
        &url,
        &[
            "user",
            "create",
            "--username",
            "ana",
            "--role",
            "WARD_LEADER",
            "--scope",
            "Phước Mỹ",
        ],
        Some("another-password-1\n"),
    );
    assert!(!ok && out.contains("taken"), "{out}");
    let (ok, out) = cdtg(
        &bin,
        &url,
        &[
            "user",
            "create",
            "--username",
            "bo",
            "--role",
            "WARD_LEADER",
            "--scope",
            "nowhere",
        ],
        Some("a-bootstrap-password\n"),
    );
    assert!(!ok, "an unknown unit is refused: {out}");
    let (ok, out) = cdtg(
        &bin,
        &url,
        &[
            "user",
            "create",
            "--username",
            "cyan",
            "--role",
            "VIEWER",
            "--scope",
            "48",
        ],
        Some("short\n"),
    );
    assert!(
        !ok && out.contains("password"),
        "a short password is refused: {out}"
    );

    let app = TestApp::spawn_on(TestDb::Shared { url: url.clone() }, test_args()).await;
    let token = app.login("ana", "a-bootstrap-password").await;
    let d = app
        .ok(
            &token,
            "{ me { role scopeUnit { name } } groups(filter: { kind: COMMUNITY }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d,
        json!({ "me": { "role": "WARD_LEADER", "scopeUnit": { "name": "Phước Mỹ" } }, "groups": { "totalCount": 43 } })
    );
    drop(app);

    let (ok, out) = cdtg(&bin, &url, &["schema"], None);
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql")).unwrap();
    assert!(
        ok && out == committed,
        "`cdtg schema` prints the committed schema"
    );
    drop(db);
}

on_both_databases!(bootstrap_an_account_from_the_command_line);

/// The rollup migration back-fills a database that already holds data, and
/// `migrate rebuild-rollups` restores counters that were damaged by hand.
async fn rollups_are_back_filled_and_rebuilt_from_the_command_line(backend: Backend) {
    use sea_orm::ConnectionTrait;
    let bin = cdtg_binary();
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let url = db.url().to_owned();
    // The server's request deadline is not the command line's: a deadline of 1 ms changes
    // nothing for a seed. Progress goes to standard error as it works.
    let (ok, out) = cdtg_with(
        &bin,
        &url,
        &["seed", "demo"],
        &[("CDTG_REQUEST_DEADLINE_MS", "1")],
    );
    assert!(ok, "{out}");
    for step in [
        "56/56 wards",
        "computing the statistics: rollup_groups",
        "computing the statistics: rollup_outcomes",
        "committing",
    ] {
        assert!(out.contains(step), "{step}: {out}");
    }
    let (ok, out) = cdtg(
        &bin,
        &url,
        &["--statement-timeout", "600", "migrate", "verify-rollups"],
        None,
    );
    assert!(
        ok && out.contains("every statistics rollup equals the facts"),
        "{out}"
    );
    assert!(out.contains("rollup_outcome_totals: exact"), "{out}");
    let conn = sea_orm::Database::connect(&url).await.unwrap();
    let seeded = rollup_rows(&conn).await;
    assert!(
        seeded.iter().all(|(_, rows)| !rows.is_empty()),
        "the seed filled every rollup"
    );

    let facts = |conn: &sea_orm::DatabaseConnection| {
        let conn = conn.clone();
        async move {
            let row = conn
                .query_one_raw(sea_orm::Statement::from_string(
                    conn.get_database_backend(),
                    "SELECT (SELECT COUNT(*) FROM activities) * 1000000 \
                     + (SELECT COUNT(*) FROM activity_outcomes) AS n",
                ))
                .await
                .unwrap()
                .unwrap();
            row.try_get::<i64>("", "n").unwrap()
        }
    };
    let seeded_facts = facts(&conn).await;
    // On SQLite the keys-per-user migration rebuilds `activities`: every trigger and index
    // comes back, and ids keep counting from where they were.
    let schema = |conn: &sea_orm::DatabaseConnection| {
        let conn = conn.clone();
        async move {
            if backend != Backend::Sqlite {
                return vec![];
            }
            conn.query_all_raw(sea_orm::Statement::from_string(
                conn.get_database_backend(),
                "SELECT type || ' ' || name || ' ' || COALESCE(sql, '') AS s FROM sqlite_master \
                 WHERE type IN ('trigger', 'index') UNION ALL \
                 SELECT 'seq ' || name || ' ' || seq FROM sqlite_sequence ORDER BY 1",
            ))
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get::<String>("", "s").unwrap())
            .collect::<Vec<_>>()
        }
    };
    let seeded_schema = schema(&conn).await;
    // The name sort keys the seed wrote, which the name-key migration must compute alike.
    let name_keys = |conn: &sea_orm::DatabaseConnection| {
        let conn = conn.clone();
        async move {
            conn.query_all_raw(sea_orm::Statement::from_string(
                conn.get_database_backend(),
                "SELECT 'unit ' || id || ' ' || name_key AS s FROM admin_units UNION ALL \
                 SELECT 'group ' || id || ' ' || name_key FROM groups UNION ALL \
                 SELECT 'member ' || id || ' ' || name_key FROM members UNION ALL \
                 SELECT 'product ' || id || ' ' || name_key FROM products",
            ))
            .await
            .map(|rows| {
                rows.iter()
                    .map(|r| r.try_get::<String>("", "s").unwrap())
                    .collect::<std::collections::BTreeSet<_>>()
            })
        }
    };
    let seeded_keys = name_keys(&conn).await.expect("the seed wrote name keys");
    assert!(seeded_keys.iter().all(|k| !k.ends_with(' ')));

    // Undo every migration from the rollups on (the later ones include the keys-per-user
    // migration, which rebuilds the activities table on SQLite, and the name sort keys) on a database full of facts,
    // then apply them again.
    let since_rollups = (cdtg_migrations::Migrator::migrations().len() - 2).to_string();
    let (ok, out) = cdtg(
        &bin,
        &url,
        &["migrate", "down", "--steps", &since_rollups],
        None,
    );
    assert!(ok, "{out}");
    assert!(
        name_keys(&conn).await.is_err(),
        "migrate down drops the key columns"
    );
    assert_eq!(
        facts(&conn).await,
        seeded_facts,
        "no report or outcome lost"
    );
    let gone = conn
        .execute_unprepared("SELECT COUNT(*) FROM rollup_tasks")
        .await;
    assert!(gone.is_err(), "migrate down drops the rollup tables");
    let (ok, out) = cdtg(&bin, &url, &["migrate", "up"], None);
    assert!(ok, "{out}");
    assert_eq!(
        rollup_rows(&conn).await,
        seeded,
        "the migration back-fills what the seed computed"
    );
    assert_eq!(
        facts(&conn).await,
        seeded_facts,
        "no report or outcome lost"
    );
    assert_eq!(
        schema(&conn).await,
        seeded_schema,
        "triggers, indexes, id counters"
    );
    assert!(
        name_keys(&conn).await.unwrap() == seeded_keys,
        "the migration back-fills the name keys the seed computed"
    );

    conn.execute_unprepared("DELETE FROM rollup_activities WHERE own = 0")
        .await
        .unwrap();
    conn.execute_unprepared(
        "UPDATE rollup_outcome_totals SET amount = amount + 1 WHERE unit_id = \
         (SELECT MIN(unit_id) FROM rollup_outcome_totals)",
    )
    .await
    .unwrap();
    assert_ne!(rollup_rows(&conn).await, seeded);
    // The check names exactly the damaged tables and fails.
    let (ok, out) = cdtg(&bin, &url, &["migrate", "verify-rollups"], None);
    assert!(!ok, "{out}");
    assert!(
        out.contains("rollup_activities: DIFFERS")
            && out.contains("rollup_outcome_totals: DIFFERS"),
        "{out}"
    );
    assert!(
        out.contains("rollup_tasks: exact") && out.contains("rollup_outcomes: exact"),
        "{out}"
    );
    assert!(out.contains("migrate rebuild-rollups"), "{out}");
    let (ok, out) = cdtg(&bin, &url, &["migrate", "rebuild-rollups"], None);
    assert!(
        ok && out.contains("rebuilt the statistics rollups"),
        "{out}"
    );
    assert!(out.contains("recomputing rollup_outcomes"), "{out}");
    assert_eq!(rollup_rows(&conn).await, seeded);
    let (ok, out) = cdtg(&bin, &url, &["migrate", "verify-rollups"], None);
    assert!(ok, "{out}");
    conn.close().await.unwrap();
    drop(db);
}

on_both_databases!(rollups_are_back_filled_and_rebuilt_from_the_command_line);

/// A seed killed half-way (the process, not politely) leaves the database as it was: the next
/// seed finds it empty and completes, and the rollups equal the facts.
async fn an_interrupted_seed_leaves_nothing_behind(backend: Backend) {
    use std::io::BufRead;
    let bin = cdtg_binary();
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let url = db.url().to_owned();
    let (ok, out) = cdtg(&bin, &url, &["migrate", "up"], None);
    assert!(ok, "{out}");
    let mut child = Command::new(&bin)
        .args(["seed", "demo", "--scale", "3"])
        .env("DATABASE_URL", &url)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cdtg");
    // Wait until the first wards are in (inside the seed's transaction), then kill it.
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(" wards: ") {
            break;
        }
    }
    assert!(
        seen.contains(" wards: "),
        "no progress before the end: {seen}"
    );
    child.kill().expect("kill the seed");
    child.wait().unwrap();

    let conn = sea_orm::Database::connect(&url).await.unwrap();
    assert!(
        !cdtg_api::seed::has_data(&conn).await.unwrap(),
        "the killed seed left rows behind"
    );
    conn.close().await.unwrap();
    let (ok, out) = cdtg(&bin, &url, &["seed", "demo"], None);
    assert!(ok, "{out}");
    let (ok, out) = cdtg(&bin, &url, &["migrate", "verify-rollups"], None);
    assert!(ok, "{out}");
    drop(db);
}

on_both_databases!(an_interrupted_seed_leaves_nothing_behind);
