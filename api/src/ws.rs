//! GraphQL over WebSocket on `/graphql`: the graphql-transport-ws protocol (what the npm
//! `graphql-ws` client speaks), and the older `graphql-ws` protocol of subscriptions-transport-ws
//! for clients that still use it. Framing only: every operation goes through
//! [`pipeline::run`], exactly like an HTTP request, so both transports apply the same controls.
//!
//! What a socket adds:
//! - `connection_init` must carry the access token (`{ "authorization": "Bearer …" }` or
//!   `{ "token": "…" }`); each operation is then authenticated afresh with it, with its own
//!   request id and DataLoader.
//! - The socket closes with 4403 when the token expires, and within a second when the account is
//!   disabled or its role or scope changes ([`crate::sockets`]); the client reconnects with a
//!   fresh token.
//! - Operations in flight per connection and connections per account are capped.
//! - Protocol violations close with the protocol's codes: 4400 bad message, 4401 an operation
//!   before `connection_ack`, 4408 no `connection_init` in time, 4409 a duplicate operation id,
//!   4429 a second `connection_init`; 1013 when the database cannot check the token (retry).

use std::collections::HashMap;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use crate::auth;
use crate::error::ApiError;
use crate::graphql::CdtgSchema;
use crate::pipeline::{self, Caller, Envelope, Outcome, RefusalKind, Transport};
use crate::sockets::{Registration, Revoked};
use crate::state::AppState;

pub use crate::limits::SocketLimits;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// graphql-transport-ws.
    TransportWs,
    /// The legacy subscriptions-transport-ws protocol, named `graphql-ws`.
    Legacy,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::TransportWs => "graphql-transport-ws",
            Protocol::Legacy => "graphql-ws",
        }
    }

    fn next(self) -> &'static str {
        match self {
            Protocol::TransportWs => "next",
            Protocol::Legacy => "data",
        }
    }
}

/// The upgrade on `GET /graphql` with `Upgrade: websocket`.
pub async fn upgrade(
    schema: web::Data<CdtgSchema>,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let offered: Vec<String> = req
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_owned())
        .collect();
    let protocol = if offered.iter().any(|p| p == "graphql-transport-ws") {
        Some(Protocol::TransportWs)
    } else if offered.iter().any(|p| p == "graphql-ws") {
        Some(Protocol::Legacy)
    } else if offered.is_empty() {
        // No subprotocol named: the current protocol, as graphql-ws servers assume.
        Some(Protocol::TransportWs)
    } else {
        None
    };
    let (mut response, session, messages) = actix_ws::handle(&req, payload)?;
    if let Some(p) = protocol
        && !offered.is_empty()
    {
        response.headers_mut().insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            header::HeaderValue::from_static(p.name()),
        );
    }
    let connection = Connection {
        schema: schema.get_ref().clone(),
        state: state.get_ref().clone(),
        session,
        protocol: protocol.unwrap_or(Protocol::TransportWs),
        address: state.proxies.client_address(&req),
        request_id: crate::transport::request_id(&req),
        user_agent: crate::transport::user_agent(&req),
    };
    let max_message = state.transport.max_body_bytes;
    let messages = messages
        .max_frame_size(max_message)
        .aggregate_continuations()
        .max_continuation_size(max_message);
    actix_web::rt::spawn(async move {
        if protocol.is_none() {
            connection
                .session
                .close(Some(close_reason(4406, "Subprotocol not acceptable")))
                .await
                .ok();
            return;
        }
        connection.serve(messages).await;
    });
    Ok(response)
}

fn close_reason(code: u16, description: &str) -> CloseReason {
    CloseReason {
        code: CloseCode::Other(code),
        description: Some(description.to_owned()),
    }
}

/// What operation tasks tell the connection.
enum Control {
    /// The operation with this id finished.
    Done(String),
    /// The socket must close (an operation found the credentials no longer valid).
    Close(u16, String),
}

/// A socket that completed `connection_init`.
struct Authenticated {
    token: String,
    /// When the access token expires (API keys end through the socket watcher instead).
    expires_at: Option<tokio::time::Instant>,
    registration: Registration,
}

struct Connection {
    schema: CdtgSchema,
    state: AppState,
    session: actix_ws::Session,
    protocol: Protocol,
    address: String,
    user_agent: Option<String>,
    /// The upgrade request's id; each operation's id extends it.
    request_id: String,
}

impl Connection {
    async fn serve(self, mut messages: actix_ws::AggregatedMessageStream) {
        let limits = self.state.socket_limits.clone();
        let (control, mut controls) = mpsc::unbounded_channel::<Control>();
        let init_deadline = tokio::time::sleep(limits.init_timeout);
        tokio::pin!(init_deadline);
        let mut keepalive = tokio::time::interval(Duration::from_secs(20));
        keepalive.tick().await;
        let mut auth: Option<Authenticated> = None;
        let mut init_received = false;
        let mut operations: HashMap<String, AbortHandle> = HashMap::new();
        let mut sequence = 0u64;
        let mut session = self.session.clone();

        let close: Option<CloseReason> = loop {
            let expiry = auth.as_ref().and_then(|a| a.expires_at);
            let authenticated = auth.is_some();
            let revoked = async {
                match auth.as_mut() {
                    Some(a) => {
                        if a.registration.revoked.borrow().is_none()
                            && a.registration.revoked.changed().await.is_err()
                        {
                            std::future::pending::<()>().await;
                        }
                        *a.registration.revoked.borrow()
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = &mut init_deadline, if !init_received => {
                    break Some(close_reason(4408, "Connection initialisation timeout"));
                }
                _ = sleep_until_opt(expiry) => {
                    break Some(close_reason(4403, "Forbidden: the access token expired; reconnect with a new one"));
                }
                why = revoked => {
                    let text = match why {
                        Some(Revoked::Changed) => "Forbidden: the account changed; sign in again",
                        Some(Revoked::Held) => {
                            "Forbidden: the account is held until an administrator reassigns it"
                        }
                        Some(Revoked::Ended) => {
                            "Forbidden: the session or API key has ended; sign in again"
                        }
                        _ => "Forbidden: the account is disabled",
                    };
                    break Some(close_reason(4403, text));
                }
                _ = keepalive.tick(), if self.protocol == Protocol::Legacy && authenticated => {
                    if session.text(json!({ "type": "ka" }).to_string()).await.is_err() {
                        break None;
                    }
                }
                Some(c) = controls.recv() => match c {
                    Control::Done(id) => { operations.remove(&id); }
                    Control::Close(code, text) => break Some(close_reason(code, &text)),
                },
                message = messages.recv() => {
                    let text = match message {
                        None | Some(Err(_)) => break None,
                        Some(Ok(AggregatedMessage::Text(text))) => text,
                        Some(Ok(AggregatedMessage::Ping(bytes))) => {
                            if session.pong(&bytes).await.is_err() { break None; }
                            continue;
                        }
                        Some(Ok(AggregatedMessage::Pong(_))) => continue,
                        Some(Ok(AggregatedMessage::Close(_))) => break None,
                        Some(Ok(AggregatedMessage::Binary(_))) => {
                            break Some(close_reason(4400, "Invalid message: binary frames are not GraphQL"));
                        }
                    };
                    let Ok(Value::Object(mut msg)) = serde_json::from_str::<Value>(&text) else {
                        break Some(close_reason(4400, "Invalid message received"));
                    };
                    let kind = msg.get("type").and_then(Value::as_str).unwrap_or("").to_owned();
                    match (self.protocol, kind.as_str()) {
                        (_, "connection_init") => {
                            if init_received {
                                break Some(close_reason(4429, "Too many initialisation requests"));
                            }
                            init_received = true;
                            match self.authenticate(msg.remove("payload")).await {
                                Ok(a) => {
                                    auth = Some(a);
                                    let ack = json!({ "type": "connection_ack" }).to_string();
                                    if session.text(ack).await.is_err() { break None; }
                                    if self.protocol == Protocol::Legacy
                                        && session.text(json!({ "type": "ka" }).to_string()).await.is_err()
                                    {
                                        break None;
                                    }
                                }
                                Err(reason) => {
                                    if self.protocol == Protocol::Legacy {
                                        let err = json!({ "type": "connection_error", "payload": { "message": reason.description } });
                                        session.text(err.to_string()).await.ok();
                                    }
                                    break Some(reason);
                                }
                            }
                        }
                        (Protocol::TransportWs, "ping") => {
                            if session.text(json!({ "type": "pong" }).to_string()).await.is_err() { break None; }
                        }
                        (Protocol::TransportWs, "pong") => {}
                        (Protocol::TransportWs, "subscribe") | (Protocol::Legacy, "start") => {
                            let Some(id) = msg.get("id").and_then(Value::as_str).map(str::to_owned) else {
                                break Some(close_reason(4400, "Invalid message: an operation needs an id"));
                            };
                            let Some(authenticated) = auth.as_ref() else {
                                break Some(close_reason(4401, "Unauthorized"));
                            };
                            if operations.contains_key(&id) {
                                break Some(close_reason(4409, "Subscriber for this id already exists"));
                            }
                            if operations.len() >= limits.max_operations_per_connection {
                                let err = pipeline::error_json(ApiError::bad_input(
                                    "subscribe",
                                    format!(
                                        "at most {} operations run at once on one connection; complete one first",
                                        limits.max_operations_per_connection
                                    ),
                                ));
                                if send_error(&mut session, self.protocol, &id, vec![err]).await.is_err() { break None; }
                                continue;
                            }
                            let envelope = match Envelope::from_json(msg.remove("payload").unwrap_or(Value::Null)) {
                                Ok(e) => e,
                                Err(e) => {
                                    let err = pipeline::error_json(e);
                                    if send_error(&mut session, self.protocol, &id, vec![err]).await.is_err() { break None; }
                                    continue;
                                }
                            };
                            sequence += 1;
                            let caller = Caller {
                                token: Some(authenticated.token.clone()),
                                address: self.address.clone(),
                                request_id: format!("{}-{sequence}", self.request_id),
                                transport: Transport::WebSocket,
                                user_agent: self.user_agent.clone(),
                            };
                            let task = tokio::spawn(run_operation(
                                self.schema.clone(),
                                self.state.clone(),
                                session.clone(),
                                self.protocol,
                                id.clone(),
                                caller,
                                envelope,
                                control.clone(),
                            ));
                            operations.insert(id, task.abort_handle());
                        }
                        (Protocol::TransportWs, "complete") | (Protocol::Legacy, "stop") => {
                            if let Some(id) = msg.get("id").and_then(Value::as_str)
                                && let Some(task) = operations.remove(id)
                            {
                                task.abort();
                            }
                        }
                        (Protocol::Legacy, "connection_terminate") => {
                            break Some(CloseReason { code: CloseCode::Normal, description: None });
                        }
                        _ => break Some(close_reason(4400, "Invalid message received")),
                    }
                }
            }
        };
        for task in operations.values() {
            task.abort();
        }
        self.session.close(close).await.ok();
    }

    /// Checks the token of `connection_init` and takes the socket's place in the registry.
    async fn authenticate(&self, payload: Option<Value>) -> Result<Authenticated, CloseReason> {
        let payload = payload.unwrap_or(Value::Null);
        let token = payload
            .get("authorization")
            .or_else(|| payload.get("Authorization"))
            .and_then(Value::as_str)
            .map(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
                    .unwrap_or(v)
                    .trim()
                    .to_owned()
            })
            .or_else(|| {
                payload
                    .get("token")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                close_reason(4403, "Forbidden: send the access token in connection_init")
            })?;
        // An access token expires on its own; an API key ends only through the watcher.
        let expires_at = if token.starts_with(auth::api_key::SECRET_PREFIX) {
            None
        } else {
            Some(
                self.state
                    .keys
                    .verify_access(&token)
                    .map_err(|_| close_reason(4403, "Forbidden: invalid or expired token"))?
                    .exp,
            )
        };
        let principal = auth::authenticate(&self.state.db, &self.state.keys, &token)
            .await
            .map_err(|e| match e {
                ApiError::Unauthenticated(_) => {
                    close_reason(4403, "Forbidden: invalid or expired token")
                }
                // A held account (its unit was merged away): refused until reassigned, so a
                // retry would not help.
                ApiError::Forbidden(_) => close_reason(
                    4403,
                    "Forbidden: the account is held until an administrator reassigns it",
                ),
                // A database failure is not a bad token: the client should try again later
                // rather than sign out.
                other => CloseReason {
                    code: CloseCode::Again,
                    description: Some(format!("Try again later: {}", other.public_message())),
                },
            })?;
        let max = self.state.socket_limits.max_connections_per_user;
        let registration = self
            .state
            .sockets
            .register(&principal, max)
            .ok_or_else(|| {
                close_reason(
                    4403,
                    "Forbidden: this account has too many open connections",
                )
            })?;
        let expires_at = expires_at.map(|exp| {
            let remaining = (exp - chrono::Utc::now().timestamp()).max(0) as u64;
            tokio::time::Instant::now() + Duration::from_secs(remaining)
        });
        Ok(Authenticated {
            token,
            expires_at,
            registration,
        })
    }
}

async fn sleep_until_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn send(session: &mut actix_ws::Session, message: Value) -> Result<(), actix_ws::Closed> {
    session.text(message.to_string()).await
}

/// An `error` message: the operation did not run (graphql-transport-ws: a list of errors; the
/// legacy protocol: one error object).
async fn send_error(
    session: &mut actix_ws::Session,
    protocol: Protocol,
    id: &str,
    errors: Vec<Value>,
) -> Result<(), actix_ws::Closed> {
    let payload = match protocol {
        Protocol::TransportWs => Value::Array(errors),
        Protocol::Legacy => errors.into_iter().next().unwrap_or(Value::Null),
    };
    send(
        session,
        json!({ "type": "error", "id": id, "payload": payload }),
    )
    .await
}

/// The one result of a query or mutation, then `complete`.
async fn send_single_result(
    session: &mut actix_ws::Session,
    next: &str,
    id: &str,
    payload: Value,
) -> Result<(), actix_ws::Closed> {
    send(
        session,
        json!({ "type": next, "id": id, "payload": payload }),
    )
    .await?;
    send(session, json!({ "type": "complete", "id": id })).await
}

/// A response that is a request error (nothing ran): its errors, for an `error` message.
fn request_errors(response: &async_graphql::Response) -> Option<Vec<Value>> {
    pipeline::response::is_request_error(response).then(|| {
        response
            .errors
            .iter()
            .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
            .collect()
    })
}

/// Runs one operation of the socket through the pipeline and sends what comes of it.
#[allow(clippy::too_many_arguments)]
async fn run_operation(
    schema: CdtgSchema,
    state: AppState,
    mut session: actix_ws::Session,
    protocol: Protocol,
    id: String,
    caller: Caller,
    envelope: Envelope,
    control: mpsc::UnboundedSender<Control>,
) {
    let started = std::time::Instant::now();
    let outcome = pipeline::run(&schema, &state, &caller, envelope).await;
    let next = protocol.next();
    let sent = match outcome {
        Outcome::Refused(r) if r.kind == RefusalKind::Unauthenticated => {
            // The token expired or the account changed since the socket opened: close it, as
            // the watcher would a moment later, and let the client reconnect.
            let why = r.error["message"]
                .as_str()
                .unwrap_or("")
                .trim_start_matches("authentication required: ");
            let mut reason = format!("Forbidden: {why}");
            // A close reason has room for 123 bytes.
            while reason.len() > 120 {
                reason.pop();
            }
            let _ = control.send(Control::Close(4403, reason));
            Ok(())
        }
        Outcome::Refused(r) => send_error(&mut session, protocol, &id, vec![r.error]).await,
        Outcome::Executed { response, .. } => match request_errors(&response) {
            Some(errors) => send_error(&mut session, protocol, &id, errors).await,
            None => {
                let payload = serde_json::to_value(&*response).unwrap_or(Value::Null);
                send_single_result(&mut session, next, &id, payload).await
            }
        },
        Outcome::TimedOut => {
            let payload = json!({ "errors": [pipeline::deadline_error()] });
            send_single_result(&mut session, next, &id, payload).await
        }
        Outcome::Subscribed(mut stream) => {
            let mut result = Ok(());
            let (mut first, mut refused) = (true, false);
            while let Some(response) = stream.next().await {
                if first && let Some(errors) = request_errors(&response) {
                    result = send_error(&mut session, protocol, &id, errors).await;
                    refused = true;
                    break;
                }
                first = false;
                let payload = serde_json::to_value(&response).unwrap_or(Value::Null);
                result = send(
                    &mut session,
                    json!({ "type": next, "id": id, "payload": payload }),
                )
                .await;
                if result.is_err() {
                    break;
                }
            }
            if result.is_ok() && !refused {
                result = send(&mut session, json!({ "type": "complete", "id": id })).await;
            }
            result
        }
    };
    tracing::info!(
        target: "cdtg::access",
        request_id = caller.request_id.as_str(),
        transport = "websocket",
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        delivered = sent.is_ok(),
        "operation"
    );
    let _ = control.send(Control::Done(id));
}
