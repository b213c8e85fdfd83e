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
///
/// With a read replica, `replica` says whether reads go there (`in use`), or to the primary
/// because it is `lagging` or `down`; either way the instance is ready, since the primary
/// serves every read the replica cannot.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let ping = tokio::time::timeout(std::time::Duration::from_secs(2), state.db.ping()).await;
    let mut body = match ping {
        Ok(Ok(())) => serde_json::json!({ "status": "ok", "database": "reachable" }),
        _ => serde_json::json!({ "status": "unavailable", "database": "unreachable" }),
    };
    if let Some(r) = &state.replica {
        body["replica"] = r.health().as_str().into();
        body["replicaLagMs"] = (r.lag().as_millis() as u64).into();
    }
    if body["status"] == "ok" {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// `/metrics`: Prometheus text format. No personal data, no tokens. With `CDTG_METRICS_TOKEN`
/// set, only a scraper that sends it as a bearer token is answered.
pub async fn metrics(state: web::Data<AppState>, req: actix_web::HttpRequest) -> HttpResponse {
    if let Some(expected) = &state.metrics_token {
        let sent = crate::transport::bearer(&req)
            .ok()
            .flatten()
            .unwrap_or_default();
        if !same_secret(&sent, expected) {
            return HttpResponse::Unauthorized()
                .insert_header((actix_web::http::header::WWW_AUTHENTICATE, "Bearer"))
                .body("send the metrics token as Authorization: Bearer <token>");
        }
    }
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
        .body(
            state.metrics.render(
                size,
                idle,
                state.statements.get(),
                state.principals.reads(),
                state
                    .replica
                    .as_ref()
                    .map(|r| crate::metrics::ReplicaFigures {
                        up: r.health() != crate::replica::Health::Down,
                        in_use: r.health() == crate::replica::Health::InUse,
                        lag_seconds: r.lag().as_secs_f64(),
                    }),
            ),
        )
}

/// Compares two secrets by their digests, so the time taken says nothing about how much of the
/// guess was right.
fn same_secret(sent: &str, expected: &str) -> bool {
    use sha2::{Digest, Sha256};
    Sha256::digest(sent.as_bytes()) == Sha256::digest(expected.as_bytes())
}
