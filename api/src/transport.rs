//! GraphQL over HTTP (the GraphQL-over-HTTP specification), with the abuse limits in front of
//! the executor.
//!
//! - `POST /graphql` needs `Content-Type: application/json` (anything else is 415, which also
//!   closes the browser-form CSRF route); bodies above the limit are 413 (actix's payload limit).
//! - `GET /graphql` runs queries only: a mutation over GET is 405 with `Allow: POST` and nothing
//!   executes.
//! - `Accept: application/graphql-response+json` gets that media type and the spec's status
//!   codes (a request error — unparsable, invalid — is 400 with no `data`); `application/json`
//!   (or no Accept) gets 200 for every well-formed request, as the spec asks for legacy clients.
//! - JSON arrays (batches) are refused unless enabled, and then bounded.
//! - Before parsing: query length and persisted-operation rules; after parsing, before
//!   execution: aliases and directives per field (depth, complexity and fragment cycles are
//!   enforced by the schema); during execution: a deadline that drops the work (and with it the
//!   database query; PostgreSQL also has `statement_timeout`).
//! - Every error leaves with a code from the closed set; internal text never does.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};
use async_graphql::{Request, Response, ServerError, Variables};
use serde_json::Value;

use crate::auth;
use crate::error::ApiError;
use crate::graphql::CdtgSchema;
use crate::graphql::context::Session;
use crate::graphql::mutation::ClientInfo;
use crate::metrics::operation_label;
use crate::persisted::Resolved;
use crate::state::AppState;

/// Transport limits (all configurable; see `cdtg serve --help`).
#[derive(Debug, Clone)]
pub struct TransportLimits {
    pub max_body_bytes: usize,
    pub max_query_chars: usize,
    pub max_aliases: usize,
    pub max_directives_per_field: usize,
    /// 0: batched JSON arrays are refused.
    pub max_batch: usize,
    pub request_deadline: Duration,
}

impl Default for TransportLimits {
    fn default() -> Self {
        TransportLimits {
            max_body_bytes: 1024 * 1024,
            max_query_chars: 15_000,
            max_aliases: 100,
            max_directives_per_field: 5,
            max_batch: 0,
            request_deadline: Duration::from_secs(10),
        }
    }
}

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

/// A request error before execution (no `data` in the answer).
struct Rejection {
    status: StatusCode,
    error: ApiError,
}

impl Rejection {
    fn bad(field: &str, message: impl Into<String>) -> Self {
        Rejection {
            status: StatusCode::BAD_REQUEST,
            error: ApiError::bad_input(field, message),
        }
    }
}

/// One GraphQL request as it arrived, before persisted-operation resolution.
struct Incoming {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<Value>,
    extensions: Option<Value>,
}

fn incoming_from_json(v: Value) -> Result<Incoming, Rejection> {
    let Value::Object(mut map) = v else {
        return Err(Rejection::bad("body", "must be a JSON object"));
    };
    let query = match map.remove("query") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(Rejection::bad("query", "must be a string")),
    };
    let operation_name = match map.remove("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(Rejection::bad("operationName", "must be a string")),
    };
    let variables = match map.remove("variables") {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(v),
        Some(_) => return Err(Rejection::bad("variables", "must be an object")),
    };
    let extensions = match map.remove("extensions") {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(v),
        Some(_) => return Err(Rejection::bad("extensions", "must be an object")),
    };
    Ok(Incoming {
        query,
        operation_name,
        variables,
        extensions,
    })
}

fn incoming_from_query_string(params: &HashMap<String, String>) -> Result<Incoming, Rejection> {
    let json_param = |name: &str| -> Result<Option<Value>, Rejection> {
        match params.get(name) {
            None => Ok(None),
            Some(s) if s.is_empty() => Ok(None),
            Some(s) => match serde_json::from_str::<Value>(s) {
                Ok(v @ Value::Object(_)) => Ok(Some(v)),
                Ok(Value::Null) => Ok(None),
                _ => Err(Rejection::bad(name, "must be a JSON object")),
            },
        }
    };
    Ok(Incoming {
        query: params.get("query").cloned(),
        operation_name: params
            .get("operationName")
            .filter(|s| !s.is_empty())
            .cloned(),
        variables: json_param("variables")?,
        extensions: json_param("extensions")?,
    })
}

/// Query text after persisted-operation rules and the length limit.
fn resolve_query(
    state: &AppState,
    limits: &TransportLimits,
    inc: &Incoming,
) -> Result<String, Rejection> {
    let hash = inc
        .extensions
        .as_ref()
        .and_then(|e| e.get("persistedQuery"))
        .and_then(|p| p.get("sha256Hash"))
        .and_then(Value::as_str);
    if let Some(q) = &inc.query
        && q.chars().count() > limits.max_query_chars
    {
        return Err(Rejection::bad(
            "query",
            format!("is longer than {} characters", limits.max_query_chars),
        ));
    }
    match state.persisted.resolve(inc.query.as_deref(), hash) {
        Resolved::Query(q) if q.trim().is_empty() => Err(Rejection::bad("query", "is required")),
        Resolved::Query(q) => Ok(q),
        // The Apollo protocol: clients match this exact message and resend the full query.
        Resolved::NotFound => Err(Rejection {
            status: StatusCode::OK,
            error: ApiError::NotFound("PersistedQuery").with_message("PersistedQueryNotFound"),
        }),
        Resolved::HashMismatch => Err(Rejection::bad(
            "extensions",
            "persistedQuery.sha256Hash does not match the query",
        )),
        Resolved::NotAllowed => Err(Rejection {
            status: StatusCode::BAD_REQUEST,
            error: ApiError::forbidden("only registered operations run on this server"),
        }),
    }
}

/// Counts aliases and the most directives on one field, visiting each fragment once (so cyclic
/// fragments cannot loop here; the schema's validation reports the cycle itself).
/// What the shape walk found besides the limits.
struct Shape {
    introspects: bool,
}

fn shape_limits(doc: &ExecutableDocument, limits: &TransportLimits) -> Result<Shape, Rejection> {
    fn walk(
        set: &SelectionSet,
        aliases: &mut usize,
        max_directives: &mut usize,
        introspects: &mut bool,
    ) {
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    if f.node.alias.is_some() {
                        *aliases += 1;
                    }
                    if matches!(f.node.name.node.as_str(), "__schema" | "__type") {
                        *introspects = true;
                    }
                    *max_directives = (*max_directives).max(f.node.directives.len());
                    walk(
                        &f.node.selection_set.node,
                        aliases,
                        max_directives,
                        introspects,
                    );
                }
                Selection::FragmentSpread(s) => {
                    *max_directives = (*max_directives).max(s.node.directives.len())
                }
                Selection::InlineFragment(i) => {
                    *max_directives = (*max_directives).max(i.node.directives.len());
                    walk(
                        &i.node.selection_set.node,
                        aliases,
                        max_directives,
                        introspects,
                    );
                }
            }
        }
    }
    let (mut aliases, mut directives, mut introspects) = (0usize, 0usize, false);
    let ops: Vec<_> = match &doc.operations {
        DocumentOperations::Single(op) => vec![op],
        DocumentOperations::Multiple(map) => map.values().collect(),
    };
    for op in ops {
        directives = directives.max(op.node.directives.len());
        walk(
            &op.node.selection_set.node,
            &mut aliases,
            &mut directives,
            &mut introspects,
        );
    }
    for frag in doc.fragments.values() {
        directives = directives.max(frag.node.directives.len());
        walk(
            &frag.node.selection_set.node,
            &mut aliases,
            &mut directives,
            &mut introspects,
        );
    }
    if aliases > limits.max_aliases {
        return Err(Rejection::bad(
            "query",
            format!(
                "uses {aliases} aliases; at most {} are allowed",
                limits.max_aliases
            ),
        ));
    }
    if directives > limits.max_directives_per_field {
        return Err(Rejection::bad(
            "query",
            format!(
                "has {directives} directives on one field; at most {} are allowed",
                limits.max_directives_per_field
            ),
        ));
    }
    Ok(Shape { introspects })
}

fn operation_type(doc: &ExecutableDocument, name: Option<&str>) -> Option<OperationType> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(map), Some(n)) => map
            .iter()
            .find(|(k, _)| k.as_str() == n)
            .map(|(_, op)| op.node.ty),
        // A document with one named operation needs no operationName.
        (DocumentOperations::Multiple(map), None) if map.len() == 1 => {
            map.values().next().map(|op| op.node.ty)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// The id the request-log middleware gave this request.
fn request_id(req: &HttpRequest) -> String {
    use actix_web::HttpMessage;
    req.extensions()
        .get::<crate::request_log::RequestId>()
        .map(|r| r.0.clone())
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

/// The client-visible JSON of one error, with a code from the closed set.
fn error_json(err: ApiError) -> Value {
    let gql: async_graphql::Error = err.into();
    serde_json::json!({ "message": gql.message, "extensions": gql.extensions })
}

/// A request that is not well-formed GraphQL over HTTP (bad JSON, a bad batch, no query): 400 for
/// every media type, unlike request errors in a well-formed request (see [`reject`]).
fn malformed_request(media: MediaType, rid: &str, error: ApiError) -> HttpResponse {
    respond(
        StatusCode::BAD_REQUEST,
        media,
        rid,
        serde_json::json!({ "errors": [error_json(error)] }),
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
    let mut b = HttpResponse::build(status);
    b.content_type(match media {
        MediaType::Json => "application/json; charset=utf-8",
        MediaType::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
    });
    b.insert_header(("x-request-id", rid.to_owned()));
    for (k, v) in extra {
        b.insert_header((k.clone(), v.clone()));
    }
    b.body(body.to_string())
}

fn reject(r: Rejection, media: MediaType, rid: &str) -> HttpResponse {
    let mut extra = vec![];
    let status = match &r.error {
        ApiError::Unauthenticated(_) => {
            extra.push((header::WWW_AUTHENTICATE, "Bearer".to_owned()));
            StatusCode::UNAUTHORIZED
        }
        ApiError::RateLimited { retry_after_secs } => {
            extra.push((header::RETRY_AFTER, retry_after_secs.to_string()));
            StatusCode::TOO_MANY_REQUESTS
        }
        ApiError::Unavailable | ApiError::TimedOut => StatusCode::SERVICE_UNAVAILABLE,
        // application/json clients get 200 for request errors on well-formed HTTP requests.
        _ if media == MediaType::Json && r.status == StatusCode::BAD_REQUEST => StatusCode::OK,
        _ => r.status,
    };
    respond(
        status,
        media,
        rid,
        serde_json::json!({ "errors": [error_json(r.error)] }),
        &extra,
    )
}

/// Gives every error a code from the closed set and hides internal text.
fn seal_errors(errors: &mut [ServerError], request_error: bool) {
    for e in errors {
        let has_code = e
            .extensions
            .as_ref()
            .is_some_and(|x| x.get("code").is_some());
        if has_code {
            continue;
        }
        let user_error = request_error
            || e.message.starts_with("Invalid value for argument")
            || e.message.starts_with("Failed to parse");
        let ext = e.extensions.get_or_insert_with(Default::default);
        if user_error {
            ext.set("code", "BAD_USER_INPUT");
        } else {
            tracing::error!(error = %e.message, "unclassified GraphQL error");
            e.message = "internal error".to_owned();
            ext.set("code", "INTERNAL");
        }
    }
}

/// Response keys of a selection (merged over several sets), in query order, each with the
/// selection sets below it. Fragments are flattened; a fragment already on the path is skipped.
fn ordered_keys<'a>(
    sets: &[&'a SelectionSet],
    doc: &'a ExecutableDocument,
    out: &mut Vec<(&'a str, Vec<&'a SelectionSet>)>,
    seen: &mut Vec<&'a str>,
) {
    for set in sets {
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    let key = f
                        .node
                        .alias
                        .as_ref()
                        .map_or(f.node.name.node.as_str(), |a| a.node.as_str());
                    let below = &f.node.selection_set.node;
                    match out.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, subs)) => subs.push(below),
                        None => out.push((key, vec![below])),
                    }
                }
                Selection::InlineFragment(i) => {
                    ordered_keys(&[&i.node.selection_set.node], doc, out, seen)
                }
                Selection::FragmentSpread(sp) => {
                    let name = sp.node.fragment_name.node.as_str();
                    if seen.contains(&name) {
                        continue;
                    }
                    if let Some(frag) = doc.fragments.get(&sp.node.fragment_name.node) {
                        seen.push(name);
                        ordered_keys(&[&frag.node.selection_set.node], doc, out, seen);
                        seen.pop();
                    }
                }
            }
        }
    }
}

/// Puts every object's fields in the order the query asked for them. The spec requires it, and
/// async-graphql 7.2 returns parallel fields in the order they finished.
fn restore_field_order(
    value: &mut async_graphql::Value,
    sets: &[&SelectionSet],
    doc: &ExecutableDocument,
) {
    match value {
        async_graphql::Value::List(items) => items
            .iter_mut()
            .for_each(|v| restore_field_order(v, sets, doc)),
        async_graphql::Value::Object(map) => {
            let mut keys = Vec::new();
            ordered_keys(sets, doc, &mut keys, &mut Vec::new());
            let mut old = std::mem::take(map);
            for (key, below) in keys {
                if let Some((name, mut v)) = old.swap_remove_entry(key) {
                    restore_field_order(&mut v, &below, doc);
                    map.insert(name, v);
                }
            }
            map.extend(old);
        }
        _ => {}
    }
}

/// The selection set of the operation that ran.
fn operation_selection<'a>(
    doc: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a SelectionSet> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(&op.node.selection_set.node),
        (DocumentOperations::Multiple(map), Some(n)) => map
            .iter()
            .find(|(k, _)| k.as_str() == n)
            .map(|(_, op)| &op.node.selection_set.node),
        (DocumentOperations::Multiple(map), None) if map.len() == 1 => {
            map.values().next().map(|op| &op.node.selection_set.node)
        }
        _ => None,
    }
}

/// Turns an executed response into HTTP, applying the spec's status rules.
fn finish(
    mut response: Response,
    media: MediaType,
    rid: &str,
    doc: &ExecutableDocument,
    operation: Option<&str>,
) -> (HttpResponse, &'static str) {
    if let Some(set) = operation_selection(doc, operation) {
        restore_field_order(&mut response.data, &[set], doc);
    }
    let request_error = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    seal_errors(&mut response.errors, request_error);
    let code = |c: &str| {
        response.errors.iter().any(|e| {
            e.extensions.as_ref().and_then(|x| x.get("code"))
                == Some(&async_graphql::Value::from(c))
        })
    };
    let mut extra = vec![];
    let (status, outcome) = if code("UNAUTHENTICATED") {
        extra.push((header::WWW_AUTHENTICATE, "Bearer".to_owned()));
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    } else if response.errors.iter().any(|e| {
        e.extensions
            .as_ref()
            .and_then(|x| x.get("retryable"))
            .is_some()
    }) {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    } else if request_error {
        (
            if media == MediaType::GraphqlResponseJson {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            },
            "rejected",
        )
    } else if response.errors.is_empty() {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::OK, "error")
    };
    let mut body = serde_json::to_value(&response)
        .unwrap_or_else(|_| serde_json::json!({ "errors": [{ "message": "internal error" }] }));
    if request_error && let Value::Object(map) = &mut body {
        map.remove("data");
    }
    (respond(status, media, rid, body, &extra), outcome)
}

/// Builds and runs one request: authentication, limits, execution under the deadline.
async fn execute(
    schema: &CdtgSchema,
    state: &AppState,
    req: &HttpRequest,
    inc: Incoming,
    media: MediaType,
    rid: &str,
    get: bool,
) -> (HttpResponse, &'static str) {
    let query = match resolve_query(state, &state.transport, &inc) {
        Ok(q) => q,
        Err(r) => return (reject(r, media, rid), "rejected"),
    };
    let doc = match async_graphql::parser::parse_query(&query) {
        Ok(doc) => doc,
        Err(e) => {
            let status = if media == MediaType::GraphqlResponseJson {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            let err = serde_json::json!({ "message": e.to_string(), "extensions": { "code": "BAD_USER_INPUT", "field": "query" } });
            return (
                respond(
                    status,
                    media,
                    rid,
                    serde_json::json!({ "errors": [err] }),
                    &[],
                ),
                "rejected",
            );
        }
    };
    if get && operation_type(&doc, inc.operation_name.as_deref()) != Some(OperationType::Query) {
        let mut res = HttpResponse::MethodNotAllowed();
        res.insert_header((header::ALLOW, "POST"))
            .insert_header(("x-request-id", rid.to_owned()));
        return (res.json(serde_json::json!({ "errors": [error_json(ApiError::bad_input("query", "only queries may be sent with GET; use POST"))] })), "rejected");
    }
    let shape = match shape_limits(&doc, &state.transport) {
        Ok(shape) => shape,
        Err(r) => return (reject(r, media, rid), "rejected"),
    };

    let address = client_address(req);
    let mut request = Request::new(query).data(ClientInfo {
        address: address.clone(),
        request_id: rid.to_owned(),
    });
    if let Some(name) = inc.operation_name.clone() {
        request = request.operation_name(name);
    }
    if let Some(vars) = inc.variables {
        request = request.variables(Variables::from_json(vars));
    }
    let mut user = None;
    match bearer(req) {
        Err(e) => {
            return (
                reject(
                    Rejection {
                        status: StatusCode::UNAUTHORIZED,
                        error: e,
                    },
                    media,
                    rid,
                ),
                "unauthenticated",
            );
        }
        Ok(None) => {
            // Introspection is for signed-in users only: say so rather than answer null.
            if shape.introspects {
                let err = ApiError::Unauthenticated("sign in to introspect the schema");
                return (
                    reject(
                        Rejection {
                            status: StatusCode::UNAUTHORIZED,
                            error: err,
                        },
                        media,
                        rid,
                    ),
                    "unauthenticated",
                );
            }
            request = request.disable_introspection();
        }
        Ok(Some(token)) => match auth::authenticate(&state.db, &state.keys, &token).await {
            Ok(mut p) => {
                p.request_id = Some(rid.to_owned());
                user = Some(p.user_id);
                request = request.data(Session::new(state.db.clone(), p));
            }
            Err(e) => {
                let outcome = if matches!(e, ApiError::Unauthenticated(_)) {
                    "unauthenticated"
                } else {
                    "unavailable"
                };
                // Only a bad token is a 401: a database that failed while checking a good one
                // must not make the client throw its credentials away.
                return (
                    reject(
                        Rejection {
                            status: StatusCode::INTERNAL_SERVER_ERROR,
                            error: e,
                        },
                        media,
                        rid,
                    ),
                    outcome,
                );
            }
        },
    }
    if let Err(retry_after_secs) = state.rate_limiter.check(user, &address) {
        return (
            reject(
                Rejection {
                    status: StatusCode::TOO_MANY_REQUESTS,
                    error: ApiError::RateLimited { retry_after_secs },
                },
                media,
                rid,
            ),
            "rate_limited",
        );
    }
    match tokio::time::timeout(state.transport.request_deadline, schema.execute(request)).await {
        Ok(response) => finish(response, media, rid, &doc, inc.operation_name.as_deref()),
        Err(_) => {
            tracing::warn!(
                request_id = rid,
                "request deadline exceeded; work cancelled"
            );
            let err = serde_json::json!({ "message": "the request took too long and was cancelled", "extensions": { "code": "INTERNAL", "retryable": true } });
            (
                respond(
                    StatusCode::SERVICE_UNAVAILABLE,
                    media,
                    rid,
                    serde_json::json!({ "errors": [err] }),
                    &[],
                ),
                "deadline",
            )
        }
    }
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
    let started = Instant::now();
    let rid = request_id(&req);
    let Some(media) = negotiate(&req) else {
        return not_acceptable();
    };
    if !is_json(&req) {
        return HttpResponse::UnsupportedMediaType()
            .insert_header(("x-request-id", rid))
            .json(serde_json::json!({ "errors": [error_json(ApiError::bad_input("Content-Type", "must be application/json"))] }));
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
            let res = match incoming_from_json(item) {
                Ok(inc) => {
                    let name = operation_label(inc.operation_name.as_deref());
                    let (res, outcome) =
                        execute(&schema, &state, &req, inc, media, &rid, false).await;
                    state.metrics.observe(name, outcome, started.elapsed());
                    res
                }
                Err(r) => reject(r, media, &rid),
            };
            let body = actix_web::body::to_bytes(res.into_body())
                .await
                .unwrap_or_default();
            out.push(serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null));
        }
        return respond(StatusCode::OK, media, &rid, Value::Array(out), &[]);
    }
    let inc = match incoming_from_json(parsed) {
        Ok(inc) => inc,
        Err(r) => {
            return malformed_request(media, &rid, r.error);
        }
    };
    let name = operation_label(inc.operation_name.as_deref());
    let (res, outcome) = execute(&schema, &state, &req, inc, media, &rid, false).await;
    state.metrics.observe(name, outcome, started.elapsed());
    res
}

/// `GET /graphql?query=…` (queries only).
pub async fn get(
    schema: web::Data<CdtgSchema>,
    state: web::Data<AppState>,
    req: HttpRequest,
    params: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let started = Instant::now();
    let rid = request_id(&req);
    let Some(media) = negotiate(&req) else {
        return not_acceptable();
    };
    let inc = match incoming_from_query_string(&params) {
        Ok(inc) => inc,
        Err(r) => {
            return malformed_request(media, &rid, r.error);
        }
    };
    if inc.query.is_none() && inc.extensions.is_none() {
        return malformed_request(media, &rid, ApiError::bad_input("query", "is required"));
    }
    let name = operation_label(inc.operation_name.as_deref());
    let (res, outcome) = execute(&schema, &state, &req, inc, media, &rid, true).await;
    state.metrics.observe(name, outcome, started.elapsed());
    res
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
