//! Request ids and the access log.
//!
//! Every request gets an id (the client's `X-Request-Id` when it is a sane token, else a new
//! UUID), stored in the request's extensions for the GraphQL layer and audit events, returned in
//! the `X-Request-Id` response header, and written on one access-log line with method, path,
//! status and duration. Query strings are never logged: a GraphQL GET carries the query and its
//! variables there, which may hold personal data; tokens and bodies are never logged either.
//!
//! Written by hand rather than with a tracing middleware crate: one id and one log line per
//! request are all we need, and this way nothing logs a query string by default.

use std::time::Instant;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;

/// The id of the request being served.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn sane(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 64
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let (method, path) = (req.method().to_string(), req.path().to_owned());
    let mut res = next.call(req).await?;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), v);
    }
    let status = res.status().as_u16();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    if path != "/livez" && path != "/readyz" && path != "/metrics" {
        tracing::info!(target: "cdtg::access", request_id = %id, %method, %path, status, elapsed_ms, "request");
    }
    Ok(res)
}
