//! Builds the running application from configuration and a bound `TcpListener` (tests bind
//! port 0 and read the port back).

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, guard, web};

use crate::auth::jwt::{JwtKeys, KeyConfig};
use crate::auth::throttle::{LoginThrottle, ThrottleSettings};
use crate::client_addr::TrustedProxies;
use crate::config::ServeArgs;
use crate::db::{self, PoolSettings};
use crate::events::EventBus;
use crate::graphql::{QueryLimits, build_schema};
use crate::http;
use crate::metrics::Metrics;
use crate::ops;
use crate::persisted::PersistedQueries;
use crate::pipeline::{PipelineLimits, ShapeLimits};
use crate::ratelimit::{Limit, RateLimiter};
use crate::replica::Replica;
use crate::sockets::Sockets;
use crate::state::{ApiSettings, AppState};
use crate::transport::{self, TransportLimits};
use crate::ws::{self, SocketLimits};

pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
    /// `/metrics` on an address of its own (`--metrics-bind`), with its port.
    metrics_server: Option<(u16, Server)>,
}

/// Once a minute, off the request path: forgets idle rate-limit buckets and expired login
/// failures (see `ratelimit` and `auth::throttle`) and prunes the task event log (`events`).
fn sweep_in_background(state: &AppState) {
    let (limiter, throttle) = (state.rate_limiter.clone(), state.throttle.clone());
    let db = state.db.clone();
    let background = state.background.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let _run = background.run();
            limiter.sweep_all().await;
            throttle.sweep().await;
            if let Err(e) = crate::events::prune(&db).await {
                tracing::warn!(error = %e, "pruning the task event log failed");
            }
        }
    });
}

/// Where rate limits and login budgets live: the primary's pool when they are shared.
fn shared_budgets_pool(
    choice: crate::config::SharedBudgets,
    conn: &sea_orm::DatabaseConnection,
) -> Result<Option<sea_orm::sqlx::PgPool>, String> {
    use crate::config::SharedBudgets;
    let postgres = conn.get_database_backend() == sea_orm::DatabaseBackend::Postgres;
    match choice {
        SharedBudgets::Memory => Ok(None),
        SharedBudgets::Auto | SharedBudgets::Database if postgres => {
            Ok(Some(conn.get_postgres_connection_pool().clone()))
        }
        SharedBudgets::Auto => Ok(None),
        SharedBudgets::Database => Err(
            "CDTG_SHARED_BUDGETS=database needs PostgreSQL: on SQLite one process serves the \
             database and keeps its budgets in memory"
                .into(),
        ),
    }
}

fn parse_pairs(list: &str) -> Result<Vec<(String, String)>, String> {
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .ok_or_else(|| format!("expected kid=value, got {pair:?}"))
        })
        .collect()
}

/// Works out the JWT key configuration; in demo mode without a secret, generates one.
pub fn key_config(args: &ServeArgs) -> Result<KeyConfig, String> {
    if let Some(private) = &args.jwt_ed25519_private_key {
        let public = args
            .jwt_ed25519_public_key
            .as_ref()
            .ok_or("--jwt-ed25519-public-key is required with the private key")?;
        let read = |p: &std::path::Path| {
            std::fs::read(p).map_err(|e| format!("reading {}: {e}", p.display()))
        };
        let mut previous = Vec::new();
        for (kid, path) in parse_pairs(args.jwt_previous_public_keys.as_deref().unwrap_or(""))? {
            previous.push((kid, read(std::path::Path::new(&path))?));
        }
        return Ok(KeyConfig::EdDsa {
            kid: args.jwt_kid.clone(),
            private_pem: read(private)?,
            public_pem: read(public)?,
            previous,
        });
    }
    let previous = parse_pairs(args.jwt_previous_secrets.as_deref().unwrap_or(""))?
        .into_iter()
        .map(|(k, v)| (k, v.into_bytes()))
        .collect();
    let secret = match (&args.jwt_secret, args.demo) {
        (Some(s), _) => s.clone().into_bytes(),
        (None, true) => {
            tracing::warn!("demo mode: no CDTG_JWT_SECRET set, using a random one; tokens will not survive a restart");
            let mut bytes = [0u8; 48];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
            bytes.to_vec()
        }
        (None, false) => return Err("CDTG_JWT_SECRET (at least 32 bytes) or Ed25519 keys are required; use --demo to try it out".into()),
    };
    Ok(KeyConfig::Hs256 {
        kid: args.jwt_kid.clone(),
        secret,
        previous,
    })
}

impl Application {
    /// Connects, migrates, optionally seeds the demo, and binds the HTTP server.
    pub async fn build(
        database_url: &str,
        args: &ServeArgs,
        listener: TcpListener,
    ) -> Result<Self, String> {
        let keys = JwtKeys::new(&key_config(args)?, args.access_token_ttl_secs)?;
        let pool = PoolSettings {
            max_connections: args
                .db_max_connections
                .unwrap_or_else(|| db::default_pool_size(database_url)),
            acquire_timeout: Duration::from_millis(args.db_acquire_timeout_ms),
            statement_timeout: Duration::from_millis(args.request_deadline_ms),
        };
        // Migrations and seeding run on a connection of their own, without the serving pool's
        // statement timeout (a long migration is not a slow request).
        {
            let maintenance = PoolSettings::maintenance(database_url);
            let (conn, _) = db::connect(database_url, &maintenance)
                .await
                .map_err(|e| format!("connecting to the database: {e}"))?;
            db::migrate(&conn)
                .await
                .map_err(|e| format!("migrating: {e}"))?;
            if args.demo {
                seed_demo(&conn).await?;
            }
            conn.close().await.map_err(|e| e.to_string())?;
        }
        let (conn, statements) = db::connect(database_url, &pool)
            .await
            .map_err(|e| format!("connecting to the database: {e}"))?;
        // In allow-list mode the embedded dashboard's own operations are registered too, so
        // `/dashboard` keeps working on a locked-down server.
        let allow_list = match &args.persisted_operations {
            Some(path) => {
                let mut list = PersistedQueries::load_allow_list(path)?;
                list.extend(crate::dashboard::operations());
                Some(list)
            }
            None => None,
        };
        let replica = match args.database_read_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => {
                let replica = Replica::connect(
                    url,
                    &conn,
                    &pool,
                    Duration::from_millis(args.read_max_lag_ms),
                )
                .await
                .map_err(|e| format!("refusing to start: {e}"))?;
                let replica = Arc::new(replica);
                replica.start();
                Some(replica)
            }
            None => None,
        };
        let events = EventBus::start(conn.clone()).await;
        let shared_pool = shared_budgets_pool(args.shared_budgets, &conn)?;
        let throttle_settings = ThrottleSettings {
            free_failures_per_pair: args.login_max_failures,
            free_failures_per_address: args.login_max_failures_per_address,
            ..Default::default()
        };
        let per_user = Limit {
            rate: args.rate_limit_per_user,
            burst: args.rate_limit_per_user * 5.0,
        };
        let per_address = Limit {
            rate: args.rate_limit_per_address,
            burst: args.rate_limit_per_address * 5.0,
        };
        let state = AppState {
            db: conn,
            statements,
            keys: Arc::new(keys),
            principals: Arc::default(),
            throttle: Arc::new(match &shared_pool {
                Some(pool) => LoginThrottle::shared(throttle_settings, pool.clone()),
                None => LoginThrottle::in_memory(throttle_settings),
            }),
            settings: Arc::new(ApiSettings {
                max_residents_per_session: args.max_residents_per_session,
                demo: args.demo,
                sheets: crate::sheets::read::SheetLimits {
                    max_file_bytes: args.max_import_bytes,
                    ..Default::default()
                },
                export_link_ttl_secs: args.export_link_ttl_secs,
            }),
            events,
            transport: Arc::new(TransportLimits {
                max_body_bytes: args.max_body_bytes,
                max_batch: args.max_batch,
            }),
            limits: Arc::new(PipelineLimits {
                max_query_chars: args.max_query_chars,
                shape: ShapeLimits {
                    max_aliases: args.max_aliases as u64,
                    max_fields: args.max_fields as u64,
                    max_directives_per_field: args.max_directives_per_field,
                },
                request_deadline: Duration::from_millis(args.request_deadline_ms),
            }),
            socket_limits: Arc::new(SocketLimits {
                max_operations_per_connection: args.max_operations_per_socket,
                max_connections_per_user: args.max_sockets_per_user,
                ..Default::default()
            }),
            sockets: Arc::new(Sockets::new()),
            proxies: Arc::new(TrustedProxies::parse(&args.trusted_proxies)?),
            metrics_token: args
                .metrics_token
                .as_deref()
                .filter(|t| !t.is_empty())
                .map(Arc::from),
            persisted: Arc::new(PersistedQueries::new(args.apq_cache_size, allow_list)),
            documents: Arc::default(),
            rate_limiter: Arc::new(match &shared_pool {
                Some(pool) => RateLimiter::shared(per_user, per_address, pool.clone()),
                None => RateLimiter::new(per_user, per_address),
            }),
            metrics: Arc::new(Metrics::default()),
            replica,
            background: Arc::default(),
        };
        state
            .sockets
            .clone()
            .watch(state.db.clone(), state.background.clone());
        sweep_in_background(&state);
        let limits = QueryLimits {
            max_depth: args.max_query_depth,
            max_complexity: args.max_query_complexity,
            ..Default::default()
        };
        let schema = build_schema(Some(state.clone()), &limits);
        let max_body = args.max_body_bytes;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let app_state = state.clone();
        // With a metrics address of its own, `/metrics` is not served on the API's port.
        let metrics_on_api_port = args.metrics_bind.is_none();
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(actix_web::middleware::from_fn(
                    crate::request_log::middleware,
                ))
                .app_data(web::Data::new(schema.clone()))
                .app_data(web::Data::new(app_state.clone()))
                .service(
                    web::resource("/graphql")
                        .route(
                            web::get()
                                .guard(guard::Header("upgrade", "websocket"))
                                .to(ws::upgrade),
                        )
                        .route(
                            web::post()
                                .guard(guard::fn_guard(transport::is_multipart))
                                .to(transport::post_multipart),
                        )
                        .route(web::post().to(transport::post))
                        .route(web::get().to(transport::get))
                        .default_service(web::to(transport::method_not_allowed)),
                )
                .app_data(web::PayloadConfig::new(max_body))
                .configure(http::graphiql_routes)
                .configure(crate::dashboard::routes)
                .configure(crate::downloads::routes)
                .route("/", web::get().to(http::root_redirect))
                .route("/livez", web::get().to(ops::livez))
                .route("/readyz", web::get().to(ops::readyz))
                .route("/healthz", web::get().to(ops::readyz))
                .configure(|cfg| {
                    if metrics_on_api_port {
                        cfg.route("/metrics", web::get().to(ops::metrics));
                    }
                })
        })
        .shutdown_timeout(30);
        if let Some(workers) = args.workers {
            server = server.workers(workers);
        }
        let server = server.listen(listener).map_err(|e| e.to_string())?.run();
        let metrics_server = match args.metrics_bind {
            Some(addr) => {
                let listener = TcpListener::bind(addr)
                    .map_err(|e| format!("binding the metrics address {addr}: {e}"))?;
                let metrics_port = listener.local_addr().map_err(|e| e.to_string())?.port();
                let metrics_state = state.clone();
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(web::Data::new(metrics_state.clone()))
                        .route("/metrics", web::get().to(ops::metrics))
                })
                .workers(1)
                .listen(listener)
                .map_err(|e| e.to_string())?
                .run();
                Some((metrics_port, server))
            }
            None => None,
        };
        Ok(Application {
            port,
            server,
            state,
            metrics_server,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the separate metrics listener, if one was configured.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|(port, _)| *port)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops the server; `graceful` lets in-flight requests finish first (what SIGTERM does).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Runs until the server stops (SIGTERM/SIGINT: in-flight requests finish first).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        match self.metrics_server {
            Some((_, metrics)) => {
                let metrics_handle = metrics.handle();
                tokio::spawn(metrics);
                let result = self.server.await;
                metrics_handle.stop(true).await;
                result
            }
            None => self.server.await,
        }
    }
}

/// `serve --demo`: the demo data, seeded into an empty database.
#[cfg(feature = "demo")]
async fn seed_demo(conn: &sea_orm::DatabaseConnection) -> Result<(), String> {
    if crate::seed::has_data(conn)
        .await
        .map_err(|e| e.to_string())?
    {
        return Ok(());
    }
    tracing::info!("seeding the demo dataset");
    let summary = crate::seed::demo(conn, 1)
        .await
        .map_err(|e| format!("seeding: {e}"))?;
    tracing::info!(
        groups = summary.groups,
        members = summary.members,
        "demo dataset ready"
    );
    Ok(())
}

/// A production build carries no demo generator.
#[cfg(not(feature = "demo"))]
async fn seed_demo(_: &sea_orm::DatabaseConnection) -> Result<(), String> {
    Err("this build has no demo data: build with the `demo` feature (the default)".into())
}
