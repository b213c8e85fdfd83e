//! Configuration: every setting is an environment variable with a command-line flag of the
//! same meaning (`cdtg --help` lists them with their defaults).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "cdtg",
    version,
    about = "CDTG: the GraphQL back end for Vietnam's community digital technology groups"
)]
pub struct Cli {
    /// Database URL: sqlite://FILE?mode=rwc (embedded default) or postgres://USER@HOST:PORT/DB.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://cdtg.sqlite?mode=rwc",
        global = true
    )]
    pub database_url: String,

    /// Log format.
    #[arg(long, env = "CDTG_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// For the maintenance commands (migrate, seed, units, user, import): cancel any single SQL
    /// statement that runs longer than this many seconds. 0, the default, sets no limit: a
    /// back-fill or a rollup rebuild of a whole country is not a slow request. The server's
    /// requests have their own deadline (`CDTG_REQUEST_DEADLINE_MS`), which never applies here.
    #[arg(
        long = "statement-timeout",
        env = "CDTG_MAINTENANCE_STATEMENT_TIMEOUT",
        default_value_t = 0,
        global = true,
        value_name = "SECONDS"
    )]
    pub statement_timeout_secs: u64,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedBudgets {
    Auto,
    Memory,
    Database,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

// Parsed once at start-up: the size of the `Serve` variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (the default when no command is given). Migrations run at start-up.
    Serve(ServeArgs),
    /// Apply, roll back or list migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Load generated data (builds with the `demo` feature, the default).
    #[cfg(feature = "demo")]
    Seed {
        #[command(subcommand)]
        what: SeedWhat,
    },
    /// Print the GraphQL schema (SDL); `schema.graphql` is this output.
    Schema,
    /// Manage accounts from the command line (bootstrap).
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// The administrative unit tree: import it from a file, apply a reform.
    Units {
        #[command(subcommand)]
        action: UnitsAction,
    },
    /// Import a roster kept in a spreadsheet (CSV or XLSX) into a unit: a dry run that reports
    /// every row unless `--commit`, which applies the file in one transaction.
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// Bring an empty database to a running city: migrate, import the unit tree, and create the
    /// first CITY_ADMIN. The password is read from CDTG_ADMIN_PASSWORD or, if unset, from the
    /// first line of standard input — never from a flag.
    Init {
        /// The unit file (`code,name,kind,parent_code,valid_from`) with exactly one root.
        #[arg(long)]
        units: PathBuf,
        /// The first administrator's login name; scoped to the root unit.
        #[arg(long)]
        admin_username: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum UnitsAction {
    /// Create and update units from a CSV file (`code,name,kind,parent_code,valid_from`): all
    /// rows or none. Importing the same file again changes nothing.
    Import {
        file: PathBuf,
        /// Report every problem and what would change; write nothing.
        #[arg(long)]
        check: bool,
    },
    /// Apply a reform: close the old units of a mapping file (`old_code,new_code,effective_on`)
    /// into their successors, creating the new units listed in `--units`, in one transaction.
    ApplyReform {
        mapping: PathBuf,
        /// The unit file of the new tree (units that do not exist yet are created).
        #[arg(long)]
        units: Option<PathBuf>,
        /// The first day of the new tree (YYYY-MM-DD); every mapping row must say the same.
        #[arg(long)]
        effective: chrono::NaiveDate,
        /// Report what would change (units closed and created, groups and members moved,
        /// accounts held); write nothing.
        #[arg(long)]
        check: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ImportWhat {
    /// Members, with their group and role (`Họ và tên`, `Số điện thoại`, `Tổ dân phố`, …).
    Members(ImportArgs),
    /// Groups (`Tên tổ`, `Tổ dân phố`, `Loại tổ`, …).
    Groups(ImportArgs),
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    pub file: PathBuf,
    /// The unit the roster belongs to: its GSO code, or its exact name.
    #[arg(long)]
    pub unit: String,
    /// Write the rows that are not refused (all in one transaction); without it nothing is
    /// written.
    #[arg(long)]
    pub commit: bool,
    /// Exit with status 1 when any row is refused (for scripts that must stop there).
    #[arg(long)]
    pub strict: bool,
    /// Largest file accepted, in bytes.
    #[arg(long, env = "CDTG_MAX_IMPORT_BYTES", default_value_t = crate::sheets::read::DEFAULT_MAX_FILE_BYTES)]
    pub max_import_bytes: u64,
}

#[derive(Subcommand, Debug)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Roll back the last migration (or `--steps N`).
    Down {
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether they are applied.
    Status,
    /// Recompute the statistics rollups from the facts (after deleting groups or products by
    /// hand; every other write keeps them in step by itself).
    RebuildRollups,
    /// Compare every statistics rollup with a recount from the facts, in one snapshot; exits
    /// with an error naming the tables that differ (then run `rebuild-rollups`).
    VerifyRollups,
}

#[cfg(feature = "demo")]
#[derive(Subcommand, Debug)]
pub enum SeedWhat {
    /// The deterministic Đà Nẵng demo (about 2,500 groups and 13,000 members at scale 1).
    Demo {
        /// Multiply groups, members and everything under them (10 and 100 for benchmarks).
        #[arg(long, default_value_t = 1)]
        scale: u32,
        /// Then apply Đà Nẵng's 1 July 2025 reform on top, so the demo shows both trees.
        #[arg(long)]
        reform: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserAction {
    /// Create an account. The password is read from CDTG_USER_PASSWORD or, if unset, from the
    /// first line of standard input — never from a flag, so it stays out of shell history.
    Create {
        #[arg(long)]
        username: String,
        /// CITY_ADMIN, DISTRICT_OFFICER, WARD_LEADER, GROUP_LEADER, MEMBER or VIEWER.
        #[arg(long)]
        role: String,
        /// Unit GSO code or name (unit roles), or group id (group roles).
        #[arg(long)]
        scope: String,
    },
    /// List accounts, by username: login, role, scope, state and display name, tab-separated.
    List {
        /// Only these roles (repeat the flag for several).
        #[arg(long)]
        role: Vec<String>,
        /// Only accounts scoped to this unit (GSO code or name) or below.
        #[arg(long)]
        unit: Option<String>,
        /// Only disabled (`true`) or enabled (`false`) accounts.
        #[arg(long)]
        disabled: Option<bool>,
        /// Accent-insensitive words in the username or display name.
        #[arg(long)]
        search: Option<String>,
    },
    /// Change an account's role, scope or display name. A role or scope change ends its
    /// sessions.
    Update {
        username: String,
        /// The new role.
        #[arg(long)]
        role: Option<String>,
        /// The new scope: unit GSO code or name (unit roles), or group id (group roles).
        #[arg(long)]
        scope: Option<String>,
        /// The new display name (an empty string clears it).
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Give an account a one-time password (printed once) that must be changed at the next
    /// sign-in; every session of the account ends.
    ResetPassword { username: String },
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CDTG_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Seed the demo data into an empty database and generate a throwaway JWT secret if none
    /// is configured. Never for production.
    #[arg(long, env = "CDTG_DEMO", default_value_t = false)]
    pub demo: bool,

    /// HS256 signing secret (at least 32 bytes). Required unless --demo or Ed25519 keys are set.
    #[arg(long, env = "CDTG_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Key id of the current signing key (sent as `kid`).
    #[arg(long, env = "CDTG_JWT_KID", default_value = "k1")]
    pub jwt_kid: String,

    /// Previous HS256 secrets still accepted during a rotation: "kid=secret,kid2=secret2".
    #[arg(long, env = "CDTG_JWT_PREVIOUS_SECRETS", hide_env_values = true)]
    pub jwt_previous_secrets: Option<String>,

    /// Ed25519 private key (PEM file): switches signing to EdDSA.
    #[arg(long, env = "CDTG_JWT_ED25519_PRIVATE_KEY")]
    pub jwt_ed25519_private_key: Option<PathBuf>,

    /// Ed25519 public key (PEM file) matching the private key.
    #[arg(long, env = "CDTG_JWT_ED25519_PUBLIC_KEY")]
    pub jwt_ed25519_public_key: Option<PathBuf>,

    /// Previous Ed25519 public keys still accepted: "kid=path.pem,kid2=path2.pem".
    #[arg(long, env = "CDTG_JWT_PREVIOUS_PUBLIC_KEYS")]
    pub jwt_previous_public_keys: Option<String>,

    /// Access token lifetime in seconds.
    #[arg(long, env = "CDTG_ACCESS_TOKEN_TTL_SECS", default_value_t = 900)]
    pub access_token_ttl_secs: i64,

    /// Most residents one field session may report.
    #[arg(long, env = "CDTG_MAX_RESIDENTS_PER_SESSION", default_value_t = 500)]
    pub max_residents_per_session: i64,

    /// Largest spreadsheet an import accepts, in bytes (CSV or XLSX as uploaded).
    #[arg(long, env = "CDTG_MAX_IMPORT_BYTES", default_value_t = crate::sheets::read::DEFAULT_MAX_FILE_BYTES)]
    pub max_import_bytes: u64,

    /// How long a signed export link stays valid, in seconds.
    #[arg(long, env = "CDTG_EXPORT_LINK_TTL_SECS", default_value_t = 300)]
    pub export_link_ttl_secs: i64,

    /// Database pool size (default: 16 on PostgreSQL, 4 on SQLite).
    #[arg(long, env = "CDTG_DB_MAX_CONNECTIONS")]
    pub db_max_connections: Option<u32>,

    /// How long a request waits for a database connection before failing with 503 (ms).
    #[arg(long, env = "CDTG_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 3000)]
    pub db_acquire_timeout_ms: u64,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "CDTG_WORKERS")]
    pub workers: Option<usize>,

    /// Maximum query depth.
    #[arg(long, env = "CDTG_MAX_QUERY_DEPTH", default_value_t = 15)]
    pub max_query_depth: usize,

    /// Maximum query complexity: each field costs 1 and a list multiplies what is under it by its
    /// page size (`first`/`last`, default 20; unpaginated lists count as 5).
    #[arg(long, env = "CDTG_MAX_QUERY_COMPLEXITY", default_value_t = 50_000)]
    pub max_query_complexity: usize,

    /// Failed logins for one username from one client address before that pair must wait
    /// (30 s, doubling with each further failure, at most 15 minutes).
    #[arg(long, env = "CDTG_LOGIN_MAX_FAILURES", default_value_t = 5)]
    pub login_max_failures: u32,

    /// Failed logins from one client address, across usernames, before new usernames from it
    /// must wait. Accounts that signed in from that address in the last 30 days are not held.
    #[arg(
        long,
        env = "CDTG_LOGIN_MAX_FAILURES_PER_ADDRESS",
        default_value_t = 50
    )]
    pub login_max_failures_per_address: u32,

    /// Largest request body in bytes (larger: 413).
    #[arg(long, env = "CDTG_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Longest query text in characters.
    #[arg(long, env = "CDTG_MAX_QUERY_CHARS", default_value_t = 15_000)]
    pub max_query_chars: usize,

    /// Most aliases in one document, fragments expanded.
    #[arg(long, env = "CDTG_MAX_ALIASES", default_value_t = 100)]
    pub max_aliases: usize,

    /// Most field selections in one document, fragments expanded.
    #[arg(long, env = "CDTG_MAX_FIELDS", default_value_t = 400)]
    pub max_fields: usize,

    /// Most directives on one field.
    #[arg(long, env = "CDTG_MAX_DIRECTIVES_PER_FIELD", default_value_t = 5)]
    pub max_directives_per_field: usize,

    /// Most operations in one batched JSON array (0: batches are refused).
    #[arg(long, env = "CDTG_MAX_BATCH", default_value_t = 0)]
    pub max_batch: usize,

    /// Per-request deadline in milliseconds; the work (and its database query) is cancelled.
    #[arg(long, env = "CDTG_REQUEST_DEADLINE_MS", default_value_t = 10_000)]
    pub request_deadline_ms: u64,

    /// Allow-list mode: only the operations in this JSON file ({"<sha256>": "<query>"}) run.
    #[arg(long, env = "CDTG_PERSISTED_OPERATIONS")]
    pub persisted_operations: Option<PathBuf>,

    /// How many automatic persisted queries to remember.
    #[arg(long, env = "CDTG_APQ_CACHE_SIZE", default_value_t = 1000)]
    pub apq_cache_size: usize,

    /// Requests per second per signed-in user (bursts of 5×; 0: no limit).
    #[arg(long, env = "CDTG_RATE_LIMIT_PER_USER", default_value_t = 50.0)]
    pub rate_limit_per_user: f64,

    /// Requests per second per client address (bursts of 5×; 0: no limit).
    #[arg(long, env = "CDTG_RATE_LIMIT_PER_ADDRESS", default_value_t = 200.0)]
    pub rate_limit_per_address: f64,

    /// Where rate limits and login budgets are kept: `auto` shares them through the database on
    /// PostgreSQL (every instance on it then has one budget per client) and keeps them in
    /// memory on SQLite; `memory` keeps them per instance; `database` is `auto` said firmly.
    #[arg(long, env = "CDTG_SHARED_BUDGETS", value_enum, default_value_t = SharedBudgets::Auto)]
    pub shared_budgets: SharedBudgets,

    /// A PostgreSQL streaming replica of the database, for read-only work: queries,
    /// statistics and exports. Mutations, and every read a mutation makes, use the primary; so
    /// do a writer's own reads until the replica has replayed its last write. A replica that is
    /// down or lags more than `--read-max-lag-ms` is skipped. Refused at start if it is not a
    /// replica of the primary, or does not answer.
    #[arg(long, env = "CDTG_DATABASE_READ_URL")]
    pub database_read_url: Option<String>,

    /// How far the replica may fall behind the primary, in milliseconds, before reads go to the
    /// primary instead.
    #[arg(long, env = "CDTG_READ_MAX_LAG_MS", default_value_t = 5000)]
    pub read_max_lag_ms: u64,

    /// Proxies whose `Forwarded` / `X-Forwarded-For` headers are believed: addresses or
    /// networks, comma-separated (e.g. `10.0.0.0/8,127.0.0.1`). Empty: the peer address counts.
    #[arg(long, env = "CDTG_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,

    /// Operations running at once on one WebSocket connection (subscriptions included).
    #[arg(long, env = "CDTG_MAX_OPERATIONS_PER_SOCKET", default_value_t = 20)]
    pub max_operations_per_socket: usize,

    /// Open WebSocket connections per account on one instance.
    #[arg(long, env = "CDTG_MAX_SOCKETS_PER_USER", default_value_t = 8)]
    pub max_sockets_per_user: usize,

    /// Serve `/metrics` on this address only (not on the API's port).
    #[arg(long, env = "CDTG_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,

    /// Require `Authorization: Bearer <token>` on `/metrics`.
    #[arg(long, env = "CDTG_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
}

impl ServeArgs {
    /// Defaults for everything, as `cdtg serve` with no flags would use.
    pub fn defaults() -> Self {
        let cli = Cli::parse_from(["cdtg", "serve"]);
        match cli.command {
            Some(Command::Serve(args)) => args,
            _ => unreachable!("parsing `cdtg serve` yields Serve"),
        }
    }
}
