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

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (the default when no command is given). Migrations run at start-up.
    Serve(ServeArgs),
    /// Apply, roll back or list migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Load generated data.
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
}

#[derive(Subcommand, Debug)]
pub enum SeedWhat {
    /// The deterministic Đà Nẵng demo (about 2,500 groups and 13,000 members at scale 1).
    Demo {
        /// Multiply groups, members and everything under them (10 and 100 for benchmarks).
        #[arg(long, default_value_t = 1)]
        scale: u32,
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

    /// Database pool size.
    #[arg(long, env = "CDTG_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,

    /// How long a request waits for a database connection before failing with 503 (ms).
    #[arg(long, env = "CDTG_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 3000)]
    pub db_acquire_timeout_ms: u64,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "CDTG_WORKERS")]
    pub workers: Option<usize>,

    /// Maximum query depth.
    #[arg(long, env = "CDTG_MAX_QUERY_DEPTH", default_value_t = 15)]
    pub max_query_depth: usize,

    /// Maximum query complexity (each field costs 1; list fields multiply by their page size).
    #[arg(long, env = "CDTG_MAX_QUERY_COMPLEXITY", default_value_t = 20000)]
    pub max_query_complexity: usize,

    /// Failed logins per username within 15 minutes before RATE_LIMITED.
    #[arg(long, env = "CDTG_LOGIN_MAX_FAILURES", default_value_t = 5)]
    pub login_max_failures: u32,
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
