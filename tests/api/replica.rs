//! A real PostgreSQL streaming replica: a primary and a standby made with `pg_basebackup`, each
//! in a temporary directory on a port of its own, and CDTG instances reading from it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cdtg_api::ids::NodeType;
use serde_json::{Value, json};

use crate::fixture::{Fixture, PASSWORD, gid, users};
use crate::helpers::{TestApp, TestDb, test_args};

/// A primary and its streaming replica, stopped and deleted on drop.
struct ReplicaPair {
    dir: tempfile::TempDir,
    bin: PathBuf,
    primary_port: u16,
    replica_port: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// PostgreSQL's server binaries, or `None` when they are not installed (outside CI).
fn postgres_bin() -> Option<PathBuf> {
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let candidates = from_pg_config.into_iter().chain(
        (12..=18)
            .rev()
            .map(|v| PathBuf::from(format!("/usr/lib/postgresql/{v}/bin"))),
    );
    for dir in candidates {
        if dir.join("initdb").exists() && dir.join("pg_basebackup").exists() {
            return Some(dir);
        }
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("PostgreSQL's server binaries (initdb, pg_basebackup) are not installed");
    }
    eprintln!("skipped: replica test (PostgreSQL server binaries not installed)");
    None
}

/// PostgreSQL refuses to run as root: as root, run it as the `postgres` user.
fn as_server_user(program: &Path) -> Command {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc_geteuid() } == 0;
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

fn run(mut c: Command, what: &str) {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl ReplicaPair {
    fn start() -> Option<ReplicaPair> {
        let bin = postgres_bin()?;
        let dir = tempfile::tempdir().unwrap();
        run(
            {
                let mut c = Command::new("chown");
                c.arg("postgres").arg(dir.path());
                c
            },
            "chown the cluster directory",
        );
        let pair = ReplicaPair {
            primary_port: free_port(),
            replica_port: free_port(),
            bin,
            dir,
        };
        let primary = pair.dir.path().join("primary");
        let mut init = as_server_user(&pair.bin.join("initdb"));
        init.arg("-D").arg(&primary).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        run(init, "initdb");
        let settings = format!(
            "port = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\nfsync = off\n\
             shared_buffers = 32MB\n",
            pair.primary_port,
            pair.dir.path().display()
        );
        append(&primary.join("postgresql.conf"), &settings);
        pair.pg_ctl(&primary, "start");
        let mut backup = as_server_user(&pair.bin.join("pg_basebackup"));
        backup
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-R",
                "-X",
                "stream",
                "-p",
            ])
            .arg(pair.primary_port.to_string())
            .arg("-D")
            .arg(pair.replica());
        run(backup, "pg_basebackup");
        append(
            &pair.replica().join("postgresql.conf"),
            &format!("port = {}\n", pair.replica_port),
        );
        pair.pg_ctl(&pair.replica(), "start");
        Some(pair)
    }

    fn replica(&self) -> PathBuf {
        self.dir.path().join("replica")
    }

    fn pg_ctl(&self, data: &Path, action: &str) {
        let mut c = as_server_user(&self.bin.join("pg_ctl"));
        c.arg("-D").arg(data).args(["-w", "-m", "fast", "-l"]);
        c.arg(data.with_extension("log")).arg(action);
        run(c, &format!("pg_ctl {action}"));
    }

    /// Stops or starts the replica (off the runtime's threads: `pg_ctl -w` waits).
    async fn replica_ctl(&self, action: &'static str) {
        let (data, bin) = (self.replica(), self.bin.clone());
        tokio::task::spawn_blocking(move || {
            let mut c = as_server_user(&bin.join("pg_ctl"));
            c.arg("-D").arg(&data).args(["-w", "-m", "fast", "-l"]);
            c.arg(data.with_extension("log")).arg(action);
            run(c, &format!("{action} the replica"));
        })
        .await
        .unwrap();
    }

    fn primary_url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.primary_port)
    }

    fn replica_url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.replica_port)
    }
}

fn append(file: &Path, text: &str) {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(file)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

impl Drop for ReplicaPair {
    fn drop(&mut self) {
        for data in [self.replica(), self.dir.path().join("primary")] {
            let mut c = as_server_user(&self.bin.join("pg_ctl"));
            c.arg("-D").arg(&data).args(["-m", "immediate", "stop"]);
            let _ = c.output();
        }
    }
}

async fn sql(url: &str, statement: &str) {
    let db = sea_orm::Database::connect(url).await.expect("connect");
    sea_orm::ConnectionTrait::execute_unprepared(&db, statement)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
    db.close().await.ok();
}

async fn readyz(app: &TestApp) -> Value {
    app.client
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Waits (up to 10 s) until `/readyz` says the replica is `state`.
async fn until_replica(app: &TestApp, state: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = readyz(app).await;
        if r["replica"] == state {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the replica never became {state}: {r}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn metrics(app: &TestApp) -> String {
    app.client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// `cdtg_db_reads_total{target=…}` from `/metrics`.
async fn reads(app: &TestApp, target: &str) -> u64 {
    let text = metrics(app).await;
    let prefix = format!("cdtg_db_reads_total{{target=\"{target}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} in {text}"))
}

const TASKS: &str = "query($g: ID!) { node(id: $g) { ... on Group { tasks { totalCount } } } }";

async fn task_count(app: &TestApp, token: &str, group: &str) -> i64 {
    app.ok(token, TASKS, json!({ "g": group })).await["node"]["tasks"]["totalCount"]
        .as_i64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_use_the_replica_but_never_miss_the_readers_own_writes() {
    if crate::helpers::TestDb::create(crate::helpers::Backend::Postgres)
        .await
        .is_none()
    {
        return;
    }
    let Some(pair) = tokio::task::spawn_blocking(ReplicaPair::start)
        .await
        .unwrap()
    else {
        return;
    };
    sql(&pair.primary_url("postgres"), "CREATE DATABASE cdtg").await;
    let mut args = test_args();
    args.database_read_url = Some(pair.replica_url("cdtg"));
    args.read_max_lag_ms = 60_000;
    let a = TestApp::spawn_on(
        TestDb::Shared {
            url: pair.primary_url("cdtg"),
        },
        args.clone(),
    )
    .await;
    let b = TestApp::spawn_on(
        TestDb::Shared {
            url: pair.primary_url("cdtg"),
        },
        args.clone(),
    )
    .await;
    // A third instance tolerates half a second of lag only.
    args.read_max_lag_ms = 500;
    let strict = TestApp::spawn_on(
        TestDb::Shared {
            url: pair.primary_url("cdtg"),
        },
        args,
    )
    .await;
    let f = Fixture::load(&a).await;
    let group = gid(NodeType::Group, f.group_a1);
    let ward = a.login(users::WARD_A1, PASSWORD).await;
    let district = a.login(users::DISTRICT_A, PASSWORD).await;
    for app in [&a, &b, &strict] {
        until_replica(app, "in use").await;
    }

    // ---- queries read the replica ----
    let before = reads(&a, "replica").await;
    let start = task_count(&a, &district, &group).await;
    assert!(
        reads(&a, "replica").await > before,
        "the query read the replica"
    );

    // ---- with replay paused, the replica falls behind: the writer still reads its write, on
    // the instance it wrote through and on any other; others read the replica's past ----
    sql(
        &pair.replica_url("postgres"),
        "SELECT pg_wal_replay_pause()",
    )
    .await;
    a.ok(
        &ward,
        "mutation($i: CreateTaskInput!) { createTask(input: $i) { task { id } } }",
        json!({ "i": { "groupId": group, "title": "Ghi rồi đọc", "kind": "SURVEY" } }),
    )
    .await;
    assert_eq!(
        task_count(&a, &ward, &group).await,
        start + 1,
        "the writer, same instance"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        task_count(&b, &ward, &group).await,
        start + 1,
        "the writer, another instance"
    );
    assert_eq!(
        task_count(&b, &district, &group).await,
        start,
        "someone else reads the paused replica"
    );
    // Past the strict instance's bound, it reads the primary for everyone.
    until_replica(&strict, "lagging").await;
    assert_eq!(task_count(&strict, &district, &group).await, start + 1);

    sql(
        &pair.replica_url("postgres"),
        "SELECT pg_wal_replay_resume()",
    )
    .await;
    until_replica(&strict, "in use").await;
    assert_eq!(
        task_count(&b, &district, &group).await,
        start + 1,
        "caught up"
    );

    // ---- a stopped replica: reads fall back to the primary, without errors ----
    pair.replica_ctl("stop").await;
    // Before the monitor has noticed, a query that fails on the replica runs on the primary.
    for _ in 0..10 {
        assert_eq!(task_count(&a, &district, &group).await, start + 1);
    }
    until_replica(&a, "down").await;
    let on_primary = reads(&a, "primary").await;
    for _ in 0..5 {
        assert_eq!(task_count(&a, &district, &group).await, start + 1);
    }
    assert!(reads(&a, "primary").await >= on_primary + 5);
    let text = metrics(&a).await;
    assert!(text.contains("cdtg_replica_up 0"), "{text}");
    let r = readyz(&a).await;
    assert_eq!(r["status"], "ok", "the primary serves: still ready ({r})");

    // ---- and back when it returns ----
    pair.replica_ctl("start").await;
    until_replica(&a, "in use").await;
    let before = reads(&a, "replica").await;
    assert_eq!(task_count(&a, &district, &group).await, start + 1);
    assert!(reads(&a, "replica").await > before);
}

/// A read URL that is not a replica, does not answer, or comes with SQLite is refused at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_read_url_is_refused_at_start() {
    let build = |db: String, read: String| async move {
        let mut args = test_args();
        args.database_read_url = Some(read);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        cdtg_api::startup::Application::build(&db, &args, listener)
            .await
            .err()
            .expect("refused")
    };
    if let Some(db) = TestDb::create(crate::helpers::Backend::Postgres).await {
        // The primary itself is no replica.
        let err = build(db.url().to_owned(), db.url().to_owned()).await;
        assert!(err.contains("is not a replica"), "{err}");
        let err = build(
            db.url().to_owned(),
            format!("postgres://postgres@127.0.0.1:{}/x", free_port()),
        )
        .await;
        assert!(err.contains("does not answer"), "{err}");
    }
    let sqlite = TestDb::create(crate::helpers::Backend::Sqlite)
        .await
        .unwrap();
    let err = build(
        sqlite.url().to_owned(),
        "postgres://postgres@127.0.0.1:5432/test".into(),
    )
    .await;
    assert!(err.contains("needs a PostgreSQL primary"), "{err}");
}
