//! A minimal graphql-transport-ws client for tests (the protocol graphql-ws speaks).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::TestApp;

pub struct WsClient {
    stream: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    /// The server's close frame (code, reason), once it closed the socket.
    pub closed: Option<(u16, String)>,
}

impl WsClient {
    /// Connects and completes `connection_init` → `connection_ack` with the token.
    pub async fn connect(app: &TestApp, token: &str) -> Result<WsClient, String> {
        let mut req = format!("ws://127.0.0.1:{}/graphql", app.port)
            .into_client_request()
            .unwrap();
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (stream, _) = tokio_tungstenite::connect_async(req)
            .await
            .map_err(|e| e.to_string())?;
        let mut client = WsClient {
            stream,
            closed: None,
        };
        client.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } })).await;
        match client.next_message(Duration::from_secs(5)).await {
            Some(m) if m["type"] == "connection_ack" => Ok(client),
            other => Err(format!(
                "no connection_ack: {other:?}; closed: {:?}",
                client.closed
            )),
        }
    }

    async fn send(&mut self, v: Value) {
        self.stream
            .send(Message::Text(v.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } })).await;
    }

    /// The next protocol message (pings answered), or `None` on timeout or close.
    pub async fn next_message(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .ok()??
                .ok()?;
            match msg {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t).ok()?;
                    if v["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return Some(v);
                }
                Message::Close(frame) => {
                    self.closed = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                    return None;
                }
                _ => continue,
            }
        }
    }

    /// The next `next` payload's data for subscription `id`, or `None`.
    pub async fn next_data(&mut self, timeout: Duration) -> Option<Value> {
        let m = self.next_message(timeout).await?;
        (m["type"] == "next").then(|| m["payload"]["data"].clone())
    }
}
