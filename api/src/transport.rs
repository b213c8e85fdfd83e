//! GraphQL over HTTP (the GraphQL-over-HTTP specification): media types, status codes and
//! framing. Everything that decides whether and how an operation runs is the pipeline's
//! (`crate::pipeline`), shared with the WebSocket transport.
//!
//! - `POST /graphql` needs `Content-Type: application/json` (anything else is 415, which also
//!   closes the browser-form CSRF route); bodies above the limit are 413 (actix's payload limit).
//! - `GET /graphql` runs queries only: a mutation over GET is 405 with `Allow: POST` and nothing
//!   executes.
//! - `Accept: application/graphql-response+json` gets that media type and the spec's status
//!   codes (a request error — unparsable, invalid — is 400 with no `data`); `application/json`
//!   (or no Accept) gets 200 for every well-formed request, as the spec asks for legacy clients.
//! - JSON arrays (batches) are refused unless enabled, and then bounded; each item is one
//!   operation through the pipeline.
//! - `multipart/form-data` is the GraphQL multipart request (file uploads: spreadsheet imports).
//!   It needs a bearer credential — which a browser never attaches by itself, so a cross-site
//!   form cannot post one — and is bounded by the import size limit, not the JSON body limit.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use crate::error::ApiError;
use crate::graphql::CdtgSchema;
use crate::pipeline::{self, Caller, Envelope, Outcome, Refusal, RefusalKind, Transport};
use crate::state::AppState;

pub use crate::limits::TransportLimits;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

#[derive(Clone, Copy, PartialEq, Eq)]
enum MediaType {
    Json,
    GraphqlResponseJson,
}

/// The response media type the client accepts; `None` when it accepts neither (406).
fn negotiate(req: &HttpRequest) -> Option<MediaType> {
    let Some(accept) = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
    else {
        return Some(MediaType::Json);
    };
    let types: Vec<&str> = accept
        .split(',')
        .map(|t| t.split(';').next().unwrap_or("").trim())
        .collect();
    if types.contains(&GRAPHQL_RESPONSE_JSON) {
        Some(MediaType::GraphqlResponseJson)
    } else if types
        .iter()
        .any(|t| matches!(*t, "application/json" | "application/*" | "*/*" | ""))
    {
        Some(MediaType::Json)
    } else {
        None
    }
}

fn envelope_from_query_string(params: &HashMap<String, String>) -> Result<Envelope, ApiError> {
    let json_param = |name: &str| -> Result<Option<Value>, ApiError> {
        match params.get(name) {
            None => Ok(None),
            Some(s) if s.is_empty() => Ok(None),
            Some(s) => match serde_json::from_str::<Value>(s) {
                Ok(v @ Value::Object(_)) => Ok(Some(v)),
                Ok(Value::Null) => Ok(None),
                _ => Err(ApiError::bad_input(name, "must be a JSON object")),
            },
        }
    };
    Ok(Envelope {
        query: params.get("query").cloned(),
        operation_name: params
            .get("operationName")
            .filter(|s| !s.is_empty())
            .cloned(),
        variables: json_param("variables")?,
        extensions: json_param("extensions")?,
        uploads: Default::default(),
    })
}

/// The id the request-log middleware gave this request.
pub fn request_id(req: &HttpRequest) -> String {
    use actix_web::HttpMessage;
    req.extensions()
        .get::<crate::request_log::RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// The bearer token of an `Authorization` header (`None` without one).
pub fn bearer(req: &HttpRequest) -> Result<Option<String>, ApiError> {
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

/// A request that is not well-formed GraphQL over HTTP (bad JSON, a bad batch, no query): 400 for
/// every media type, unlike request errors in a well-formed request (see [`refused`]).
fn malformed_request(media: MediaType, rid: &str, error: ApiError) -> HttpResponse {
    respond(
        StatusCode::BAD_REQUEST,
        media,
        rid,
        serde_json::json!({ "errors": [pipeline::error_json(error)] }),
        &[],
    )
}

fn respond(
    status: StatusCode,
    media: MediaType,
    rid: &str,
    body: Value,
    extra: &[(header::HeaderName, String)],
) -> HttpResponse {
    respond_bytes(status, media, rid, body.to_string().into_bytes(), extra)
}

fn respond_bytes(
    status: StatusCode,
    media: MediaType,
    rid: &str,
    body: Vec<u8>,
    extra: &[(header::HeaderName, String)],
) -> HttpResponse {
    let mut b = HttpResponse::build(status);
    b.content_type(match media {
        MediaType::Json => "application/json; charset=utf-8",
        MediaType::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
    });
    b.insert_header(("x-request-id", rid.to_owned()));
    for (k, v) in extra {
        b.insert_header((k.clone(), v.clone()));
    }
    b.body(body)
}

/// The JSON body of an executed operation. A request error has no `data` entry (the spec: the
/// operation never started).
#[derive(serde::Serialize)]
struct ExecutedBody<'a> {
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [async_graphql::ServerError],
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a async_graphql::Value>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
}

/// Writes an executed response straight to bytes: going through a `serde_json::Value` first
/// built the whole answer twice, which was a tenth of a large read's CPU.
fn executed_body(response: &async_graphql::Response, request_error: bool) -> Vec<u8> {
    let body = ExecutedBody {
        errors: &response.errors,
        data: (!request_error).then_some(&response.data),
        extensions: &response.extensions,
    };
    serde_json::to_vec(&body).unwrap_or_else(|_| {
        serde_json::json!({ "errors": [{ "message": "internal error", "extensions": { "code": "INTERNAL" } }] })
            .to_string()
            .into_bytes()
    })
}

/// The HTTP answer to an operation the pipeline refused before it ran.
fn refused(r: Refusal, media: MediaType, rid: &str) -> HttpResponse {
    let mut extra = vec![];
    // application/json clients get 200 for request errors on well-formed HTTP requests.
    let request_status = if media == MediaType::Json {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let status = match r.kind {
        RefusalKind::Request | RefusalKind::NotAllowed => request_status,
        RefusalKind::PersistedQueryNotFound => StatusCode::OK,
        RefusalKind::NotAQuery => {
            let mut res = HttpResponse::MethodNotAllowed();
            res.insert_header((header::ALLOW, "POST"))
                .insert_header(("x-request-id", rid.to_owned()));
            return res.json(serde_json::json!({ "errors": [r.error] }));
        }
        RefusalKind::Unauthenticated => {
            extra.push((header::WWW_AUTHENTICATE, "Bearer".to_owned()));
            StatusCode::UNAUTHORIZED
        }
        RefusalKind::RateLimited { retry_after_secs } => {
            extra.push((header::RETRY_AFTER, retry_after_secs.to_string()));
            StatusCode::TOO_MANY_REQUESTS
        }
        RefusalKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        RefusalKind::Forbidden if media == MediaType::Json => StatusCode::OK,
        RefusalKind::Forbidden => StatusCode::FORBIDDEN,
    };
    respond(
        status,
        media,
        rid,
        serde_json::json!({ "errors": [r.error] }),
        &extra,
    )
}

/// Runs one operation through the pipeline and frames the outcome as HTTP.
async fn execute(
    schema: &CdtgSchema,
    state: &AppState,
    req: &HttpRequest,
    envelope: Envelope,
    media: MediaType,
    rid: &str,
    transport: Transport,
) -> HttpResponse {
    let token = match bearer(req) {
        Ok(token) => token,
        Err(e) => {
            let r = Refusal {
                kind: RefusalKind::Unauthenticated,
                error: pipeline::error_json(e),
            };
            return refused(r, media, rid);
        }
    };
    let caller = Caller {
        token,
        address: state.proxies.client_address(req),
        request_id: rid.to_owned(),
        transport,
        user_agent: user_agent(req),
    };
    match pipeline::run(schema, state, &caller, envelope).await {
        Outcome::Refused(r) => refused(r, media, rid),
        Outcome::Executed {
            response,
            request_error,
        } => {
            let mut extra = vec![];
            let status = if pipeline::response::has_code(&response, "UNAUTHENTICATED") {
                extra.push((header::WWW_AUTHENTICATE, "Bearer".to_owned()));
                StatusCode::UNAUTHORIZED
            } else if let Some(retry_after) = pipeline::response::retry_after(&response) {
                // A throttled login (and any other RATE_LIMITED the executor returns): the same
                // answer as the pipeline's own rate limit.
                extra.push((header::RETRY_AFTER, retry_after.to_string()));
                StatusCode::TOO_MANY_REQUESTS
            } else if pipeline::response::is_retryable(&response) {
                StatusCode::SERVICE_UNAVAILABLE
            } else if request_error && media == MediaType::GraphqlResponseJson {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            let body = executed_body(&response, request_error);
            respond_bytes(status, media, rid, body, &extra)
        }
        Outcome::TimedOut => respond(
            StatusCode::SERVICE_UNAVAILABLE,
            media,
            rid,
            serde_json::json!({ "errors": [pipeline::deadline_error()] }),
            &[],
        ),
        // The pipeline refuses subscriptions over HTTP before they run.
        Outcome::Subscribed(_) => malformed_request(
            media,
            rid,
            ApiError::bad_input("query", "subscriptions need a WebSocket"),
        ),
    }
}

/// The User-Agent header, if it is readable text.
pub fn user_agent(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

/// `POST /graphql`.
pub async fn post(
    schema: web::Data<CdtgSchema>,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let rid = request_id(&req);
    let Some(media) = negotiate(&req) else {
        return not_acceptable();
    };
    if !is_json(&req) {
        return HttpResponse::UnsupportedMediaType()
            .insert_header(("x-request-id", rid))
            .json(serde_json::json!({ "errors": [pipeline::error_json(ApiError::bad_input("Content-Type", "must be application/json"))] }));
    }
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => {
            return malformed_request(
                media,
                &rid,
                ApiError::bad_input("body", "is not valid JSON"),
            );
        }
    };
    if let Value::Array(items) = parsed {
        let limit = state.transport.max_batch;
        if limit == 0 || items.len() > limit || items.is_empty() {
            let why = if limit == 0 {
                "batched requests are disabled on this server".to_owned()
            } else {
                format!("a batch holds 1 to {limit} requests")
            };
            return malformed_request(media, &rid, ApiError::bad_input("body", why));
        }
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let res = match Envelope::from_json(item) {
                Ok(envelope) => post_one(&schema, &state, &req, envelope, media, &rid).await,
                Err(e) => refused(
                    Refusal {
                        kind: RefusalKind::Request,
                        error: pipeline::error_json(e),
                    },
                    media,
                    &rid,
                ),
            };
            let body = actix_web::body::to_bytes(res.into_body())
                .await
                .unwrap_or_default();
            out.push(serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null));
        }
        return respond(StatusCode::OK, media, &rid, Value::Array(out), &[]);
    }
    let envelope = match Envelope::from_json(parsed) {
        Ok(envelope) => envelope,
        Err(e) => return malformed_request(media, &rid, e),
    };
    post_one(&schema, &state, &req, envelope, media, &rid).await
}

async fn post_one(
    schema: &CdtgSchema,
    state: &AppState,
    req: &HttpRequest,
    envelope: Envelope,
    media: MediaType,
    rid: &str,
) -> HttpResponse {
    execute(
        schema,
        state,
        req,
        envelope,
        media,
        rid,
        Transport::HttpPost,
    )
    .await
}

/// True for a `multipart/form-data` request (the route guard for [`post_multipart`]).
pub fn is_multipart(ctx: &actix_web::guard::GuardContext<'_>) -> bool {
    ctx.head()
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

/// Reads a request body up to `limit` bytes; `None` past it.
async fn read_body(
    mut payload: web::Payload,
    limit: usize,
) -> Result<Option<web::BytesMut>, ApiError> {
    use futures_util::StreamExt;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::bad_input("body", "could not be read"))?;
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// `POST /graphql` as a GraphQL multipart request: `operations`, `map` and the files.
pub async fn post_multipart(
    schema: web::Data<CdtgSchema>,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let rid = request_id(&req);
    let Some(media) = negotiate(&req) else {
        return not_acceptable();
    };
    match bearer(&req) {
        Ok(Some(_)) => {}
        Ok(None) | Err(_) => {
            let r = Refusal {
                kind: RefusalKind::Unauthenticated,
                error: pipeline::error_json(ApiError::Unauthenticated(
                    "uploads need Authorization: Bearer <token or API key>",
                )),
            };
            return refused(r, media, &rid);
        }
    }
    let file_limit = state.settings.sheets.max_file_bytes as usize;
    // The file, plus room for the operation, the map and the part headers.
    let body_limit = file_limit + state.transport.max_body_bytes;
    let body = match read_body(payload, body_limit).await {
        Ok(Some(body)) => body,
        Ok(None) => {
            return HttpResponse::PayloadTooLarge()
                .insert_header(("x-request-id", rid.clone()))
                .json(serde_json::json!({ "errors": [pipeline::error_json(crate::sheets::read::too_large(&state.settings.sheets))] }));
        }
        Err(e) => return malformed_request(media, &rid, e),
    };
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let options = async_graphql::http::MultipartOptions::default()
        .max_num_files(4)
        .max_file_size(file_limit);
    let request = match async_graphql::http::receive_body(content_type, &body[..], options).await {
        Ok(r) => r,
        Err(async_graphql::ParseRequestError::PayloadTooLarge) => {
            return HttpResponse::PayloadTooLarge()
                    .insert_header(("x-request-id", rid.clone()))
                    .json(serde_json::json!({ "errors": [pipeline::error_json(crate::sheets::read::too_large(&state.settings.sheets))] }));
        }
        Err(_) => {
            return malformed_request(
                media,
                &rid,
                ApiError::bad_input(
                    "body",
                    "is not a GraphQL multipart request (operations, map, files)",
                ),
            );
        }
    };
    let extensions = serde_json::to_value(&request.extensions)
        .ok()
        .filter(|v| v.as_object().is_some_and(|m| !m.is_empty()));
    let variables = serde_json::to_value(&request.variables).ok();
    let envelope = Envelope {
        query: Some(request.query).filter(|q| !q.is_empty()),
        operation_name: request.operation_name,
        variables,
        extensions,
        uploads: pipeline::Uploads::new(request.uploads),
    };
    post_one(&schema, &state, &req, envelope, media, &rid).await
}

/// `GET /graphql?query=…` (queries only).
pub async fn get(
    schema: web::Data<CdtgSchema>,
    state: web::Data<AppState>,
    req: HttpRequest,
    params: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let rid = request_id(&req);
    let Some(media) = negotiate(&req) else {
        return not_acceptable();
    };
    let envelope = match envelope_from_query_string(&params) {
        Ok(envelope) => envelope,
        Err(e) => return malformed_request(media, &rid, e),
    };
    if envelope.query.is_none() && envelope.extensions.is_none() {
        return malformed_request(media, &rid, ApiError::bad_input("query", "is required"));
    }
    execute(
        &schema,
        &state,
        &req,
        envelope,
        media,
        &rid,
        Transport::HttpGet,
    )
    .await
}

fn not_acceptable() -> HttpResponse {
    HttpResponse::NotAcceptable()
        .body("send Accept: application/graphql-response+json or application/json")
}

/// Any other method on `/graphql`.
pub async fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "GET, POST"))
        .finish()
}
