//! HTTP routes: `POST|GET /graphql` (and WebSocket upgrades on it), GraphiQL, health.
//!
//! Authentication happens here, once per request: a bearer token is verified and turned into a
//! principal before the query runs. A request with a bad token is refused with 401 before any
//! resolver runs; a request without a token may only run `login`/`refreshToken` (every other
//! field answers `UNAUTHENTICATED`, and the response is then a 401 too).

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use async_graphql::http::GraphiQLSource;
use async_graphql::{Data, ErrorExtensionValues, ServerError};
use async_graphql_actix_web::{GraphQLRequest, GraphQLSubscription};

use crate::auth;
use crate::error::ApiError;
use crate::graphql::context::Session;
use crate::graphql::mutation::ClientInfo;
use crate::graphql::{CdtgSchema, SessionExpiry};
use crate::state::AppState;

fn request_id(req: &HttpRequest) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

fn client_address(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default()
}

fn bearer(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    match req.headers().get(header::AUTHORIZATION) {
        None => Ok(None),
        Some(v) => {
            let v = v
                .to_str()
                .map_err(|_| ApiError::Unauthenticated("malformed Authorization header"))?;
            match v.split_once(' ') {
                Some((scheme, token))
                    if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
                {
                    Ok(Some(token.trim().to_owned()))
                }
                _ => Err(ApiError::Unauthenticated(
                    "use Authorization: Bearer <token>",
                )),
            }
        }
    }
}

fn unauthenticated(err: ApiError, request_id: &str) -> HttpResponse {
    let gql: async_graphql::Error = err.into();
    let body = serde_json::json!({
        "errors": [{ "message": gql.message, "extensions": gql.extensions }]
    });
    HttpResponse::Unauthorized()
        .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
        .insert_header(("x-request-id", request_id.to_owned()))
        .json(body)
}

/// `POST /graphql` and `GET /graphql?query=…`.
pub async fn graphql(
    schema: web::Data<CdtgSchema>,
    state: web::Data<AppState>,
    req: HttpRequest,
    gql: GraphQLRequest,
) -> HttpResponse {
    let rid = request_id(&req);
    let mut request = gql.into_inner();
    request = request.data(ClientInfo {
        address: client_address(&req),
        request_id: rid.clone(),
    });
    match bearer(&req) {
        Err(e) => return unauthenticated(e, &rid),
        Ok(None) => {}
        Ok(Some(token)) => match auth::authenticate(&state.db, &state.keys, &token).await {
            Ok(mut p) => {
                p.request_id = Some(rid.clone());
                request = request.data(Session::new(state.db.clone(), p));
            }
            Err(ApiError::Unauthenticated(why)) => {
                return unauthenticated(ApiError::Unauthenticated(why), &rid);
            }
            Err(other) => {
                let status = if matches!(other, ApiError::Unavailable) {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::INTERNAL_SERVER_ERROR
                };
                let gql: async_graphql::Error = other.into();
                return HttpResponse::build(status)
                    .insert_header(("x-request-id", rid))
                    .json(serde_json::json!({ "errors": [{ "message": gql.message, "extensions": gql.extensions }] }));
            }
        },
    }
    let response = schema.execute(request).await;
    let status = status_for(&response);
    let mut builder = HttpResponse::build(status);
    builder
        .content_type("application/json")
        .insert_header(("x-request-id", rid));
    if status == StatusCode::UNAUTHORIZED {
        builder.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
    }
    match serde_json::to_vec(&response) {
        Ok(body) => builder.body(body),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

/// 401 when a field required a sign-in that was missing; 503 when the database was unreachable;
/// otherwise 200 (GraphQL errors travel in the body).
fn status_for(response: &async_graphql::Response) -> StatusCode {
    let code = |e: &ServerError| {
        e.extensions
            .as_ref()
            .and_then(|x: &ErrorExtensionValues| x.get("code").cloned())
    };
    let unauth = response
        .errors
        .iter()
        .any(|e| code(e) == Some(async_graphql::Value::from("UNAUTHENTICATED")));
    let unavailable = response.errors.iter().any(|e| {
        e.extensions
            .as_ref()
            .and_then(|x| x.get("retryable").cloned())
            == Some(async_graphql::Value::from(true))
    });
    if unauth {
        StatusCode::UNAUTHORIZED
    } else if unavailable {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

/// WebSocket upgrade on `/graphql` (graphql-transport-ws). The token comes in `connection_init`
/// as `{ "authorization": "Bearer …" }` (or `{ "token": "…" }`).
pub async fn graphql_ws(
    schema: web::Data<CdtgSchema>,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let st = state.get_ref().clone();
    GraphQLSubscription::new(schema.get_ref().clone())
        .on_connection_init(move |value| {
            let st = st.clone();
            async move {
                let token = value
                    .get("authorization")
                    .or_else(|| value.get("Authorization"))
                    .and_then(|v| v.as_str())
                    .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).to_owned())
                    .or_else(|| {
                        value
                            .get("token")
                            .and_then(|v| v.as_str())
                            .map(str::to_owned)
                    })
                    .ok_or_else(|| {
                        async_graphql::Error::new(
                            "authentication required: send the access token in connection_init",
                        )
                    })?;
                let claims = st
                    .keys
                    .verify_access(&token)
                    .map_err(|_| async_graphql::Error::new("invalid or expired token"))?;
                let p = auth::authenticate(&st.db, &st.keys, &token)
                    .await
                    .map_err(|_| async_graphql::Error::new("invalid or expired token"))?;
                let mut data = Data::default();
                data.insert(Session::new(st.db.clone(), p));
                data.insert(SessionExpiry(claims.exp));
                Ok(data)
            }
        })
        .start(&req, payload)
}

pub async fn graphiql() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(
            GraphiQLSource::build()
                .endpoint("/graphql")
                .subscription_endpoint("/graphql")
                .title("CDTG API")
                .finish(),
        )
}

pub async fn root_redirect() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, "/graphiql"))
        .finish()
}

pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    match state.db.ping().await {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({ "status": "ok" })),
        Err(_) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({ "status": "database unreachable" })),
    }
}

/// Statement counter, for benchmarks and tests (no personal data).
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(format!(
            "# TYPE cdtg_db_statements_total counter\ncdtg_db_statements_total {}\n",
            state.statements.get()
        ))
}
