//! Operational endpoints: liveness, readiness, metrics.

use actix_web::{HttpResponse, web};
use sea_orm::DatabaseBackend;

use crate::state::AppState;

/// `/livez`: the process is up and serving HTTP.
pub async fn livez() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// `/readyz` (and `/healthz`): the database answers. Load balancers take an instance out of
/// rotation while this is 503 and back when it recovers; no restart is needed.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let ping = tokio::time::timeout(std::time::Duration::from_secs(2), state.db.ping()).await;
    match ping {
        Ok(Ok(())) => {
            HttpResponse::Ok().json(serde_json::json!({ "status": "ok", "database": "reachable" }))
        }
        _ => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({ "status": "unavailable", "database": "unreachable" })),
    }
}

/// `/metrics`: Prometheus text format. No personal data, no tokens.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let (size, idle) = match state.db.get_database_backend() {
        DatabaseBackend::Postgres => {
            let pool = state.db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle() as u32)
        }
        _ => {
            let pool = state.db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle() as u32)
        }
    };
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render(size, idle, state.statements.get()))
}
