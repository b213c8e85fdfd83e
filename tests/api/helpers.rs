//! `TestApp`: the real server on 127.0.0.1:0 over a database of its own.
//!
//! SQLite tests get a fresh file in a temporary directory. PostgreSQL tests run when
//! `CDTG_TEST_POSTGRES_URL` points at a server (e.g. postgres://postgres@127.0.0.1:5432/test):
//! each test creates its own database and drops it afterwards. Without the variable the
//! PostgreSQL half of every test says it is skipped — except under `CI=true`, where a skip is a
//! failure.

use std::net::TcpListener;

use cdtg_api::config::ServeArgs;
use cdtg_api::startup::Application;
use cdtg_api::state::AppState;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an async test body once per backend.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            }
        )+
    };
}

pub const TEST_JWT_SECRET: &str = "test-secret-that-is-long-enough-for-hs256-0123456789";

/// A database that lives as long as the test.
pub enum TestDb {
    Sqlite {
        url: String,
        _dir: tempfile::TempDir,
    },
    Postgres {
        url: String,
        admin_url: String,
        name: String,
    },
    /// Another instance's database: used, never dropped, by this one.
    Shared { url: String },
}

impl TestDb {
    pub fn url(&self) -> &str {
        match self {
            TestDb::Sqlite { url, .. } | TestDb::Postgres { url, .. } | TestDb::Shared { url } => {
                url
            }
        }
    }

    /// A fresh database, or `None` when PostgreSQL is not configured (outside CI).
    pub async fn create(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("cdtg.sqlite").display()
                );
                Some(TestDb::Sqlite { url, _dir: dir })
            }
            Backend::Postgres => {
                let admin_url = match std::env::var("CDTG_TEST_POSTGRES_URL") {
                    Ok(url) if !url.is_empty() => url,
                    _ => {
                        if std::env::var("CI").as_deref() == Ok("true") {
                            panic!(
                                "CDTG_TEST_POSTGRES_URL is not set: under CI=true the PostgreSQL tests must run"
                            );
                        }
                        eprintln!(
                            "skipped: PostgreSQL test (set CDTG_TEST_POSTGRES_URL to run it)"
                        );
                        return None;
                    }
                };
                let name = format!("cdtg_t_{}", uuid::Uuid::new_v4().simple());
                let admin = sea_orm::Database::connect(&admin_url)
                    .await
                    .expect("connect to the PostgreSQL admin database");
                sea_orm::ConnectionTrait::execute_unprepared(
                    &admin,
                    &format!("CREATE DATABASE {name}"),
                )
                .await
                .expect("create test database");
                admin.close().await.ok();
                let base = admin_url
                    .rsplit_once('/')
                    .map(|(b, _)| b.to_owned())
                    .expect("URL with a database name");
                Some(TestDb::Postgres {
                    url: format!("{base}/{name}"),
                    admin_url,
                    name,
                })
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres {
            admin_url, name, ..
        } = self
        {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs outside async context: a short-lived runtime of its own does the cleanup.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let admin = sea_orm::Database::connect(&admin_url).await.ok()?;
                    sea_orm::ConnectionTrait::execute_unprepared(
                        &admin,
                        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                    )
                    .await
                    .ok()?;
                    admin.close().await.ok()
                })
            })
            .join();
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub state: AppState,
    /// Stops the server (gracefully, as SIGTERM does, with `stop(true)`).
    pub handle: actix_web::dev::ServerHandle,
    pub db: TestDb,
}

/// Server settings for tests: fixed secret, two workers, defaults otherwise.
pub fn test_args() -> ServeArgs {
    let mut args = ServeArgs::defaults();
    args.jwt_secret = Some(TEST_JWT_SECRET.to_owned());
    args.workers = Some(2);
    args.db_max_connections = Some(8);
    args
}

impl TestApp {
    /// Starts a server over a fresh, migrated, empty database.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, test_args()).await
    }

    pub async fn spawn_with(backend: Backend, args: ServeArgs) -> Option<TestApp> {
        let db = TestDb::create(backend).await?;
        Some(Self::spawn_on(db, args).await)
    }

    /// Starts a server over an existing database (a second instance on the same data).
    pub async fn spawn_on(db: TestDb, args: ServeArgs) -> TestApp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let app = Application::build(db.url(), &args, listener)
            .await
            .expect("build the application");
        let port = app.port();
        let state = app.state().clone();
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            port,
            client: reqwest::Client::new(),
            state,
            handle,
            db,
        }
    }

    /// POSTs a GraphQL request; returns the HTTP status and the JSON body.
    pub async fn gql(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .post(format!("{}/graphql", self.address))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("request reaches the server");
        let status = res.status();
        let body = res.json::<Value>().await.expect("JSON body");
        (status, body)
    }

    /// A query that must succeed: returns `data`, panicking with the errors otherwise.
    pub async fn ok(&self, token: &str, query: &str, variables: Value) -> Value {
        let (status, body) = self.gql(Some(token), query, variables).await;
        assert!(
            body.get("errors").is_none(),
            "unexpected errors ({status}): {body}"
        );
        assert_eq!(status, StatusCode::OK, "{body}");
        body["data"].clone()
    }

    /// A query that must fail: returns the first error's `extensions.code`.
    pub async fn error_code(&self, token: Option<&str>, query: &str, variables: Value) -> String {
        let (_, body) = self.gql(token, query, variables).await;
        body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error, got {body}"))
            .to_owned()
    }

    pub async fn login(&self, username: &str, password: &str) -> String {
        let (status, body) = self
            .gql(None, "mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) { accessToken } }", json!({ "u": username, "p": password }))
            .await;
        assert_eq!(status, StatusCode::OK, "login as {username}: {body}");
        body["data"]["login"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("login as {username} failed: {body}"))
            .to_owned()
    }

    /// Seeds the demo over a connection of its own, without the server pool's statement
    /// timeout (tests that shorten the deadline still need the data); returns that connection.
    pub async fn seed_demo_beside(&self) -> sea_orm::DatabaseConnection {
        let maintenance = cdtg_api::db::PoolSettings {
            statement_timeout: std::time::Duration::ZERO,
            ..Default::default()
        };
        let (seed_db, _) = cdtg_api::db::connect(self.db.url(), &maintenance)
            .await
            .expect("connect for seeding");
        cdtg_api::seed::demo(&seed_db, 1)
            .await
            .expect("seed the demo");
        seed_db
    }

    /// SQL statements executed so far by this server's pool.
    pub fn statements(&self) -> u64 {
        self.state.statements.get()
    }

    /// The statements a query spends on its own work, and its data: the query sent with its
    /// token's account already cached, so that no account read is counted.
    ///
    /// The cache is made fresh by a request just before, and a run that still read the account
    /// (a write to accounts anywhere in this process makes every entry stale; other tests'
    /// servers share it) is sent again, as is one during which the server did background work
    /// (its minute's sweep prunes the event log through the same pool). Counting on the
    /// cache's and the background work's own counters makes this exact, where taking the
    /// fewest of a few runs only made a miss unlikely.
    pub async fn statements_for(
        &self,
        token: &str,
        query: &str,
        vars: serde_json::Value,
    ) -> (u64, serde_json::Value) {
        // Other tests' servers in this process write to accounts, and under a loaded machine a
        // run can span the cache's second or a sweep: wait a little between runs, so that a
        // burst of such writes or a slow sweep is outlasted rather than met twenty times.
        let (mut account_read, mut met_background) = (0, 0);
        for attempt in 0..100u64 {
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(20 * attempt.min(10))).await;
            }
            self.ok(token, "{ __typename }", serde_json::json!({}))
                .await;
            let reads = self.state.principals.reads();
            let background = self.state.background.runs();
            let before = self.statements();
            let data = self.ok(token, query, vars.clone()).await;
            let spent = self.statements() - before;
            let quiet = self.quiet_since(background);
            let cached = self.state.principals.reads() == reads;
            if cached && quiet {
                return (spent, data);
            }
            account_read += u32::from(!cached);
            met_background += u32::from(!quiet);
        }
        panic!(
            "no run of a hundred was clean: {account_read} read the account again, \
             {met_background} met background work"
        );
    }

    /// Whether no background run (the minute sweep, the socket watcher) started or was under
    /// way since `before` (`state.background.runs()` then): its statements would otherwise be
    /// counted with a request's.
    pub fn quiet_since(&self, before: (u64, u64)) -> bool {
        let (started, finished) = self.state.background.runs();
        (started, finished) == before && started == finished
    }
}

/// The id of the account named `username`.
pub async fn user_id(db: &sea_orm::DatabaseConnection, username: &str) -> i64 {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    cdtg_api::entity::user::Entity::find()
        .filter(cdtg_api::entity::user::Column::Username.eq(username))
        .one(db)
        .await
        .expect("read the account")
        .unwrap_or_else(|| panic!("no account {username}"))
        .id
}
