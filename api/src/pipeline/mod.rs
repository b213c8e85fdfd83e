//! The one way a GraphQL operation is executed, whichever transport carried it.
//!
//! HTTP (`transport`) and WebSocket (`ws`) hand an [`Envelope`] and a [`Caller`] to [`run`], and
//! every control that decides whether and how an operation runs lives here, in this order:
//!
//! 1. persisted operations (APQ and the allow-list) and the query-length limit;
//! 2. parsing, and what the transport can carry (GET: queries only; HTTP: no subscriptions);
//! 3. shape limits, counted with fragments expanded ([`shape`]); depth and complexity are the
//!    schema's own limits and apply inside the executor;
//! 4. authentication: the principal as the database has it now, for every operation — also on a
//!    socket that authenticated long ago;
//! 5. rate limits per user and per client address;
//! 6. execution with a fresh DataLoader, the client's address and request id, and an audit
//!    context that coalesces denials into one row per operation, under the request deadline —
//!    a query on the read replica when one may serve it, everything else on the primary;
//! 7. sealing: every error gets a code from the closed set and internal text never leaves
//!    ([`response`]); fields come back in the order asked for;
//! 8. metrics by operation and outcome.
//!
//! The transports keep only media types, status codes and framing, so they cannot drift apart.

pub mod documents;
pub mod response;
pub mod shape;

use std::sync::Arc;
use std::time::Instant;

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Request, Response, Variables};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde_json::Value;

use crate::error::ApiError;
use crate::graphql::CdtgSchema;
use crate::graphql::context::{ClientInfo, OperationDb, Session};
use crate::metrics::operation_label;
use crate::persisted::Resolved;
use crate::principal::{Credential, Principal};
use crate::service::audit::{self, DenialLog};
use crate::state::AppState;

pub use crate::limits::{PipelineLimits, ShapeLimits};

/// Which transport carried the operation; it decides only what the transport can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `GET /graphql`: queries only (a mutation must not run from a link or an image tag).
    HttpGet,
    /// `POST /graphql`: queries and mutations.
    HttpPost,
    /// graphql-transport-ws on `/graphql`: everything, subscriptions included.
    WebSocket,
}

/// One GraphQL request as it arrived, before persisted-operation resolution.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    pub query: Option<String>,
    pub operation_name: Option<String>,
    pub variables: Option<Value>,
    pub extensions: Option<Value>,
    /// Files of a GraphQL multipart request, referred to from `variables` by the placeholders
    /// the multipart reader put there.
    pub uploads: Uploads,
}

/// The files of one multipart request, handed to the executor once.
#[derive(Clone, Default)]
pub struct Uploads(Arc<std::sync::Mutex<Vec<async_graphql::UploadValue>>>);

impl std::fmt::Debug for Uploads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Uploads({})", self.lock().len())
    }
}

impl Uploads {
    pub fn new(files: Vec<async_graphql::UploadValue>) -> Self {
        Uploads(Arc::new(std::sync::Mutex::new(files)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<async_graphql::UploadValue>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take(&self) -> Vec<async_graphql::UploadValue> {
        std::mem::take(&mut *self.lock())
    }
}

/// The executor resolves an `Upload` variable by the index its placeholder names, and would
/// panic on an index with no file behind it: a placeholder typed into JSON variables (or one past
/// the files sent) is refused before anything runs.
fn check_upload_placeholders(v: &Value, files: usize) -> Result<(), ApiError> {
    const PREFIX: &str = "#__graphql_file__:";
    match v {
        Value::String(s) => match s.strip_prefix(PREFIX) {
            Some(n) if n.parse::<usize>().is_ok_and(|n| n < files) => Ok(()),
            Some(_) => Err(ApiError::bad_input(
                "variables",
                "a file must be sent as a multipart upload",
            )),
            None => Ok(()),
        },
        Value::Array(items) => items
            .iter()
            .try_for_each(|i| check_upload_placeholders(i, files)),
        Value::Object(map) => map
            .values()
            .try_for_each(|i| check_upload_placeholders(i, files)),
        _ => Ok(()),
    }
}

impl Envelope {
    /// Reads the `{ query, operationName, variables, extensions }` object of a POST body or a
    /// WebSocket `subscribe` message; a wrongly typed member is refused, naming it.
    pub fn from_json(v: Value) -> Result<Envelope, ApiError> {
        let Value::Object(mut map) = v else {
            return Err(ApiError::bad_input("body", "must be a JSON object"));
        };
        let mut string = |name: &str| match map.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::bad_input(name, "must be a string")),
        };
        let query = string("query")?;
        let operation_name = string("operationName")?;
        let mut object = |name: &str| match map.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v @ Value::Object(_)) => Ok(Some(v)),
            Some(_) => Err(ApiError::bad_input(name, "must be an object")),
        };
        Ok(Envelope {
            query,
            operation_name,
            variables: object("variables")?,
            extensions: object("extensions")?,
            uploads: Uploads::default(),
        })
    }
}

/// Who sent the operation, as the transport established it.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The bearer token, already taken out of its header or `connection_init` payload.
    pub token: Option<String>,
    /// The client address (behind trusted proxies, the forwarded one).
    pub address: String,
    /// This operation's id: in logs, audit events and the `X-Request-Id` header.
    pub request_id: String,
    pub transport: Transport,
    /// The client's User-Agent, which names a session's device when the client does not.
    pub user_agent: Option<String>,
}

/// Why an operation was refused before it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusalKind {
    /// Not a runnable request: unparsable, past a limit, a persisted hash that does not match.
    Request,
    /// An automatic persisted query the server does not know yet; the client resends the text.
    PersistedQueryNotFound,
    /// Allow-list mode, and the operation is not registered.
    NotAllowed,
    /// A mutation (or subscription) sent with GET.
    NotAQuery,
    /// No valid credentials for this operation (expired, disabled, changed, malformed).
    Unauthenticated,
    RateLimited {
        retry_after_secs: u64,
    },
    /// The database failed while checking the credentials: retry later, keep the token.
    Unavailable,
    /// Valid credentials that may not run this operation: an account held because its unit
    /// was merged away, an account that must first change its reset password, a read-only API
    /// key sending a mutation. `FORBIDDEN` with the reason.
    Forbidden,
}

#[derive(Debug, Clone)]
pub struct Refusal {
    pub kind: RefusalKind,
    /// The client-visible error, with its code.
    pub error: Value,
}

impl Refusal {
    fn new(kind: RefusalKind, err: ApiError) -> Self {
        Refusal {
            kind,
            error: error_json(err),
        }
    }

    fn outcome(&self) -> &'static str {
        match self.kind {
            RefusalKind::Unauthenticated => "unauthenticated",
            RefusalKind::RateLimited { .. } => "rate_limited",
            RefusalKind::Unavailable => "unavailable",
            RefusalKind::Forbidden => "forbidden",
            _ => "rejected",
        }
    }
}

/// The client-visible JSON of one error, with a code from the closed set.
pub fn error_json(err: ApiError) -> Value {
    let gql = crate::graphql::errors::to_graphql(err);
    serde_json::json!({ "message": gql.message, "extensions": gql.extensions })
}

/// What became of an operation.
pub enum Outcome {
    Refused(Refusal),
    /// It ran (or the executor refused it during validation: then `request_error`). Errors are
    /// sealed and fields ordered.
    Executed {
        response: Box<Response>,
        request_error: bool,
    },
    /// The deadline passed; the work was dropped.
    TimedOut,
    /// A subscription: a stream of sealed, ordered responses (WebSocket only).
    Subscribed(BoxStream<'static, Response>),
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Refused(r) => r.outcome(),
            Outcome::Executed {
                response,
                request_error,
            } => response::outcome(response, *request_error),
            Outcome::TimedOut => "deadline",
            Outcome::Subscribed(_) => "subscribed",
        }
    }
}

/// The error a client gets when the deadline passed: retryable, like an unavailable database.
pub fn deadline_error() -> Value {
    serde_json::json!({
        "message": "the request took too long and was cancelled",
        "extensions": { "code": "INTERNAL", "retryable": true }
    })
}

/// Runs one operation through every control, and counts it in the metrics.
pub async fn run(
    schema: &CdtgSchema,
    state: &AppState,
    caller: &Caller,
    envelope: Envelope,
) -> Outcome {
    let started = Instant::now();
    let label = operation_label(envelope.operation_name.as_deref());
    let outcome = run_unmetered(schema, state, caller, envelope).await;
    state
        .metrics
        .observe(label, outcome.label(), started.elapsed());
    outcome
}

async fn run_unmetered(
    schema: &CdtgSchema,
    state: &AppState,
    caller: &Caller,
    envelope: Envelope,
) -> Outcome {
    let mut envelope = envelope;
    let mut route = Route::Any;
    loop {
        // A query that failed on the replica (it stopped a moment ago, before the monitor saw
        // it) runs once more on the primary: the client sees no error the primary would not give.
        let again = (state.replica.is_some() && route == Route::Any).then(|| envelope.clone());
        match run_once(schema, state, caller, envelope, route).await {
            Attempt::Done(outcome) => return outcome,
            Attempt::ReplicaFailed(outcome) => match (again, &state.replica) {
                (Some(retry), Some(replica)) => {
                    replica.mark_down();
                    tracing::warn!(
                        request_id = caller.request_id.as_str(),
                        "a query failed on the read replica; running it on the primary"
                    );
                    envelope = retry;
                    route = Route::Primary;
                }
                _ => return outcome,
            },
        }
    }
}

/// Where an operation may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// A query reads the replica when it may serve it; everything else the primary.
    Any,
    /// The primary, whatever the operation.
    Primary,
}

enum Attempt {
    Done(Outcome),
    /// A query on the replica ended with a retryable error.
    ReplicaFailed(Outcome),
}

async fn run_once(
    schema: &CdtgSchema,
    state: &AppState,
    caller: &Caller,
    envelope: Envelope,
    route: Route,
) -> Attempt {
    let prepared = match prepare(state, caller, envelope, route).await {
        Ok(p) => p,
        Err(r) => return Attempt::Done(Outcome::Refused(r)),
    };
    let Prepared {
        request,
        doc,
        operation_name,
        kind,
        principal,
        denials,
        on_replica,
    } = prepared;
    let writer = match (&state.replica, kind, &principal) {
        (Some(_), Some(OperationType::Mutation), Some(p)) => Some(p.rate_subject()),
        _ => None,
    };
    let audit = DenialFlush {
        db: state.db.clone(),
        principal,
        denials,
    };
    if kind == Some(OperationType::Subscription) {
        // Each event is sealed like any response; the denials of the subscription's setup are
        // written when the stream ends (the flush guard lives inside it).
        let stream = schema.execute_stream(request).map(move |mut r| {
            let _keep = &audit;
            response::finish(&mut r, &doc, operation_name.as_deref());
            r
        });
        return Attempt::Done(Outcome::Subscribed(stream.boxed()));
    }
    let executed =
        tokio::time::timeout(state.limits.request_deadline, schema.execute(request)).await;
    audit.flush().await;
    // The writer's next reads wait for the replica to replay this (read your writes).
    if let (Some(replica), Some(subject)) = (&state.replica, writer) {
        replica.wrote(subject).await;
    }
    match executed {
        Ok(mut r) => {
            let failed_on_replica = on_replica && response::is_retryable(&r);
            let request_error = response::finish(&mut r, &doc, operation_name.as_deref());
            let outcome = Outcome::Executed {
                response: Box::new(r),
                request_error,
            };
            if failed_on_replica {
                Attempt::ReplicaFailed(outcome)
            } else {
                Attempt::Done(outcome)
            }
        }
        Err(_) => {
            tracing::warn!(
                request_id = caller.request_id.as_str(),
                "request deadline exceeded; work cancelled"
            );
            Attempt::Done(Outcome::TimedOut)
        }
    }
}

/// An operation that passed every check before execution.
struct Prepared {
    request: Request,
    doc: Arc<ExecutableDocument>,
    operation_name: Option<String>,
    kind: Option<OperationType>,
    principal: Option<Principal>,
    denials: Arc<DenialLog>,
    /// It reads the replica.
    on_replica: bool,
}

async fn prepare(
    state: &AppState,
    caller: &Caller,
    env: Envelope,
    route: Route,
) -> Result<Prepared, Refusal> {
    let query = resolve_query(state, &env)?;
    let doc = state.documents.parse(&query).map_err(|e| Refusal {
        kind: RefusalKind::Request,
        error: serde_json::json!({
            "message": e.to_string(),
            "extensions": { "code": "BAD_USER_INPUT", "field": "query" }
        }),
    })?;
    let kind = operation_type(&doc, env.operation_name.as_deref());
    match (caller.transport, kind) {
        (Transport::HttpGet, Some(k)) if k != OperationType::Query => {
            return Err(Refusal::new(
                RefusalKind::NotAQuery,
                ApiError::bad_input("query", "only queries may be sent with GET; use POST"),
            ));
        }
        (Transport::HttpGet | Transport::HttpPost, Some(OperationType::Subscription)) => {
            return Err(Refusal::new(
                RefusalKind::Request,
                ApiError::bad_input(
                    "query",
                    "subscriptions run over a WebSocket (graphql-transport-ws) on /graphql",
                ),
            ));
        }
        _ => {}
    }
    let shape = shape::measure(&doc);
    shape::check(&shape, &state.limits.shape).map_err(|e| Refusal::new(RefusalKind::Request, e))?;

    let denials = Arc::new(DenialLog::default());
    let principal = match &caller.token {
        None if shape.introspects => {
            // Introspection is for signed-in users only: say so rather than answer null.
            return Err(Refusal::new(
                RefusalKind::Unauthenticated,
                ApiError::Unauthenticated("sign in to introspect the schema"),
            ));
        }
        None => None,
        Some(token) => match state
            .principals
            .authenticate(&state.db, &state.keys, token)
            .await
        {
            Ok(mut p) => {
                p.request_id = Some(caller.request_id.clone());
                p.denials = Some(denials.clone());
                Some(p)
            }
            // Only a bad token is UNAUTHENTICATED: a database that failed while checking a good
            // one must not make the client throw its credentials away.
            Err(e @ ApiError::Unauthenticated(_)) => {
                return Err(Refusal::new(RefusalKind::Unauthenticated, e));
            }
            Err(e @ ApiError::Forbidden(_)) => {
                return Err(Refusal::new(RefusalKind::Forbidden, e));
            }
            Err(e) => return Err(Refusal::new(RefusalKind::Unavailable, e)),
        },
    };
    if let Some(p) = &principal {
        credential_allows(p, &doc, env.operation_name.as_deref(), kind)
            .map_err(|e| Refusal::new(RefusalKind::Forbidden, e))?;
    }
    if let Err(retry_after_secs) = state
        .rate_limiter
        .admit(
            principal.as_ref().map(Principal::rate_subject),
            &caller.address,
        )
        .await
    {
        return Err(Refusal::new(
            RefusalKind::RateLimited { retry_after_secs },
            ApiError::RateLimited { retry_after_secs },
        ));
    }

    let mut request = Request::new(query).data(ClientInfo {
        address: caller.address.clone(),
        request_id: caller.request_id.clone(),
        user_agent: caller.user_agent.clone(),
    });
    if let Some(name) = env.operation_name.clone() {
        request = request.operation_name(name);
    }
    let uploads = env.uploads.take();
    if let Some(vars) = env.variables {
        check_upload_placeholders(&vars, uploads.len())
            .map_err(|e| Refusal::new(RefusalKind::Request, e))?;
        request = request.variables(Variables::from_json(vars));
    }
    request.uploads = uploads;
    // The document parsed above is the one that runs: async-graphql would parse the text again.
    request.set_parsed_query(ExecutableDocument::clone(&doc));
    // A query may read from the replica (see `replica`); a mutation, and a subscription (whose
    // event log must be read where events are written), use the primary.
    let (db, on_replica) = if kind == Some(OperationType::Query) && route == Route::Any {
        let (db, on_replica) = state.read_route(principal.as_ref().map(Principal::rate_subject));
        (db.clone(), on_replica)
    } else {
        if kind == Some(OperationType::Query) {
            state.metrics.read_routed(false);
        }
        (state.db.clone(), false)
    };
    request = request.data(OperationDb(db.clone()));
    match &principal {
        // A fresh DataLoader per operation: rows loaded for one operation are never served to
        // the next, even on a socket that lives for hours.
        Some(p) => request = request.data(Session::new(db, p.clone())),
        None => request = request.disable_introspection(),
    }
    Ok(Prepared {
        request,
        doc,
        operation_name: env.operation_name,
        kind,
        principal,
        denials,
        on_replica,
    })
}

/// Root fields an account whose password was reset may still ask for.
const WHILE_PASSWORD_MUST_CHANGE: &[&str] = &["changePassword", "logout", "__typename"];

/// Mutations a read-only API key may run: they change no data (a signed link to an export the
/// key may read anyway).
const READ_ONLY_KEY_MUTATIONS: &[&str] = &["createExportLink", "__typename"];

/// What the credential itself forbids, whatever the role: an account that must change its reset
/// password runs nothing else first; a read-only API key runs no mutations.
fn credential_allows(
    p: &Principal,
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    kind: Option<OperationType>,
) -> Result<(), ApiError> {
    if p.must_change_password
        && root_fields(doc, operation_name)
            .iter()
            .any(|f| !WHILE_PASSWORD_MUST_CHANGE.contains(&f.as_str()))
    {
        return Err(ApiError::forbidden(
            "the password was reset: choose a new one with changePassword before anything else",
        ));
    }
    if let Credential::ApiKey {
        can_write: false, ..
    } = p.credential
        && kind == Some(OperationType::Mutation)
        && root_fields(doc, operation_name)
            .iter()
            .any(|f| !READ_ONLY_KEY_MUTATIONS.contains(&f.as_str()))
    {
        return Err(ApiError::forbidden(
            "this API key may only run queries (and createExportLink); other mutations need a key created with canWrite",
        ));
    }
    Ok(())
}

/// The names of the root fields the operation selects, through fragments at any depth of the
/// root selection (not inside fields).
fn root_fields(doc: &ExecutableDocument, name: Option<&str>) -> Vec<String> {
    use async_graphql::parser::types::{Selection, SelectionSet};
    let op = match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(map), Some(n)) => {
            map.iter().find(|(k, _)| k.as_str() == n).map(|(_, op)| op)
        }
        (DocumentOperations::Multiple(_), None) => None,
    };
    let Some(op) = op else { return vec![] };
    let mut names = vec![];
    let mut pending: Vec<&SelectionSet> = vec![&op.node.selection_set.node];
    // Fragments can spread each other; each is visited once, so a cycle cannot loop.
    let mut seen = std::collections::HashSet::new();
    while let Some(set) = pending.pop() {
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => names.push(f.node.name.node.to_string()),
                Selection::InlineFragment(f) => pending.push(&f.node.selection_set.node),
                Selection::FragmentSpread(s) => {
                    let name = &s.node.fragment_name.node;
                    if seen.insert(name.clone())
                        && let Some(def) = doc.fragments.get(name)
                    {
                        pending.push(&def.node.selection_set.node);
                    }
                }
            }
        }
    }
    names
}

/// Query text after persisted-operation rules and the length limit.
fn resolve_query(state: &AppState, env: &Envelope) -> Result<String, Refusal> {
    let hash = env
        .extensions
        .as_ref()
        .and_then(|e| e.get("persistedQuery"))
        .and_then(|p| p.get("sha256Hash"))
        .and_then(Value::as_str);
    let max = state.limits.max_query_chars;
    if let Some(q) = &env.query
        && q.chars().count() > max
    {
        return Err(Refusal::new(
            RefusalKind::Request,
            ApiError::bad_input("query", format!("is longer than {max} characters")),
        ));
    }
    match state.persisted.resolve(env.query.as_deref(), hash) {
        Resolved::Query(q) if q.trim().is_empty() => Err(Refusal::new(
            RefusalKind::Request,
            ApiError::bad_input("query", "is required"),
        )),
        Resolved::Query(q) => Ok(q),
        // The Apollo protocol: clients match this exact message and resend the full query.
        Resolved::NotFound => Err(Refusal::new(
            RefusalKind::PersistedQueryNotFound,
            ApiError::NotFound("PersistedQuery").with_message("PersistedQueryNotFound"),
        )),
        Resolved::HashMismatch => Err(Refusal::new(
            RefusalKind::Request,
            ApiError::bad_input(
                "extensions",
                "persistedQuery.sha256Hash does not match the query",
            ),
        )),
        Resolved::NotAllowed => Err(Refusal::new(
            RefusalKind::NotAllowed,
            ApiError::forbidden("only registered operations run on this server"),
        )),
    }
}

/// The type of the operation that will run; `None` when the document does not say which
/// (the executor then reports it).
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

/// Writes an operation's coalesced denials: awaited after a query or mutation, and on drop
/// (when a subscription's stream ends) in a task of its own.
struct DenialFlush {
    db: sea_orm::DatabaseConnection,
    principal: Option<Principal>,
    denials: Arc<DenialLog>,
}

impl DenialFlush {
    async fn flush(&self) {
        if let Some(p) = &self.principal {
            audit::flush_denials(&self.db, p, &self.denials).await;
        }
    }
}

impl Drop for DenialFlush {
    fn drop(&mut self) {
        if let Some(p) = self.principal.take()
            && !self.denials.is_empty()
        {
            let (db, denials) = (self.db.clone(), self.denials.clone());
            tokio::spawn(async move { audit::flush_denials(&db, &p, &denials).await });
        }
    }
}
