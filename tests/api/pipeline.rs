//! One execution pipeline: every probe runs twice, over HTTP and over a graphql-transport-ws
//! socket, and must come out the same — the same data, or the same error code and message.

use std::time::Duration;

use cdtg_api::ids::NodeType;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixture::{Fixture, PASSWORD, gid, users};
use crate::helpers::{Backend, TestApp, test_args};
use crate::on_both_databases;
use crate::ws::WsClient;

/// What a client saw, reduced to what must agree across transports.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    Data(Value),
    /// The first error's `extensions.code` and message.
    Error(String, String),
    /// The socket was closed with this code.
    Closed(u16),
}

fn first_error(errors: &Value) -> Answer {
    let e = &errors[0];
    Answer::Error(
        e["extensions"]["code"]
            .as_str()
            .unwrap_or("(no code)")
            .to_owned(),
        e["message"].as_str().unwrap_or("").to_owned(),
    )
}

async fn over_http(app: &TestApp, token: &str, query: &str, variables: Value) -> Answer {
    let (_, body) = app.gql(Some(token), query, variables).await;
    match body.get("errors") {
        Some(errors) => first_error(errors),
        None => Answer::Data(body["data"].clone()),
    }
}

async fn over_socket(ws: &mut WsClient, id: &str, query: &str, variables: Value) -> Answer {
    ws.subscribe(id, query, variables).await;
    let Some(m) = ws.next_message(Duration::from_secs(10)).await else {
        return Answer::Closed(ws.closed.as_ref().map_or(0, |c| c.0));
    };
    assert_eq!(m["id"], id, "{m}");
    let answer = match m["type"].as_str() {
        Some("next") => match m["payload"].get("errors") {
            Some(errors) => first_error(errors),
            None => Answer::Data(m["payload"]["data"].clone()),
        },
        Some("error") => first_error(&m["payload"]),
        other => panic!("unexpected message {other:?}: {m}"),
    };
    if m["type"] == "next" {
        let done = ws.next_message(Duration::from_secs(5)).await;
        assert_eq!(done.map(|d| d["type"].clone()), Some(json!("complete")));
    }
    answer
}

/// Sends the same operation both ways and returns the one answer they agree on.
async fn both_ways(
    app: &TestApp,
    ws: &mut WsClient,
    token: &str,
    id: &str,
    query: &str,
    variables: Value,
) -> Answer {
    let http = over_http(app, token, query, variables.clone()).await;
    let socket = over_socket(ws, id, query, variables).await;
    assert_eq!(http, socket, "HTTP and WebSocket disagree on {query:.120}");
    http
}

fn code(answer: &Answer) -> &str {
    match answer {
        Answer::Error(code, _) => code,
        _ => "",
    }
}

fn aliases(n: usize) -> String {
    let fields: Vec<String> = (0..n).map(|i| format!("a{i}: __typename")).collect();
    format!("{{ {} }}", fields.join(" "))
}

fn fields(n: usize) -> String {
    // `me` itself is one field.
    format!("{{ me {{ {} }} }}", "username ".repeat(n - 1))
}

fn depth(n: usize) -> String {
    let mut q = String::from("id");
    for _ in 1..n {
        q = format!("parent {{ {q} }}");
    }
    format!("{{ adminUnits(first: 1) {{ nodes {{ {q} }} }} }}")
}

/// Every shape limit at its value and just past it, unknown fields, bad variables, denials and
/// missing objects: the same answer on both transports.
async fn limits_and_errors_are_the_same_over_http_and_websocket(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let admin = app.login(users::ADMIN, PASSWORD).await;
    let viewer = app.login(users::VIEWER, PASSWORD).await;
    let ward_b = app.login(users::WARD_B1, PASSWORD).await;
    let mut ws = WsClient::connect(&app, &admin).await.unwrap();

    let spread_aliases = |copies: usize| {
        let spreads = (0..copies)
            .map(|i| format!("m{i}: me {{ ...F }}"))
            .collect::<Vec<_>>()
            .join(" ");
        let inner = (0..24)
            .map(|i| format!("x{i}: username"))
            .collect::<Vec<_>>()
            .join(" ");
        format!("{{ {spreads} }} fragment F on User {{ {inner} }}")
    };
    let long = |n: usize| {
        let base = "{ me { username } }";
        format!("{base}#{}", "x".repeat(n - base.len() - 1))
    };
    // (name, query, the code expected; "" = data)
    let probes: Vec<(&str, String, &str)> = vec![
        ("aliases at the limit", aliases(100), ""),
        ("aliases past the limit", aliases(101), "BAD_USER_INPUT"),
        // 4 spreads × 24 aliases + 4 = 100; 5 spreads = 125.
        ("aliases through fragments at the limit", spread_aliases(4), ""),
        (
            "aliases through fragments past the limit",
            spread_aliases(5),
            "BAD_USER_INPUT",
        ),
        ("fields at the limit", fields(400), ""),
        ("fields past the limit", fields(401), "BAD_USER_INPUT"),
        ("500 duplicate fields", fields(500), "BAD_USER_INPUT"),
        ("query length at the limit", long(15_000), ""),
        ("query length past the limit", long(15_001), "BAD_USER_INPUT"),
        // Five are within the limit, and then validation refuses the repeated directive.
        (
            "directives at the limit",
            format!("{{ me {{ username {} }} }}", "@include(if: true) ".repeat(5)),
            "BAD_USER_INPUT",
        ),
        (
            "directives past the limit",
            format!("{{ me {{ username {} }} }}", "@include(if: true) ".repeat(6)),
            "BAD_USER_INPUT",
        ),
        ("depth at the limit", depth(13), ""),
        ("depth past the limit", depth(14), "BAD_USER_INPUT"),
        ("unparsable", "{ me { ".to_owned(), "BAD_USER_INPUT"),
        ("unknown field", "{ me { usernam } }".to_owned(), "BAD_USER_INPUT"),
        (
            "complexity past the limit",
            "{ groups(first: 100) { nodes { members(first: 100) { nodes { memberships { group { members(first: 100) { nodes { id } } } } } } } } }".to_owned(),
            "BAD_USER_INPUT",
        ),
    ];
    for (i, (name, query, expected)) in probes.iter().enumerate() {
        let answer = both_ways(&app, &mut ws, &admin, &format!("p{i}"), query, json!({})).await;
        match *expected {
            "" => assert!(matches!(answer, Answer::Data(_)), "{name}: {answer:?}"),
            c => assert_eq!(code(&answer), c, "{name}: {answer:?}"),
        }
        if let Answer::Error(_, message) = &answer
            && (name.contains("past the limit") || name.contains("duplicate"))
        {
            assert!(
                ["at most", "longer than", "too"]
                    .iter()
                    .any(|w| message.contains(w)),
                "{name}: the message names the limit: {message}"
            );
        }
        if let Answer::Error(_, message) = &answer {
            assert!(
                !message.contains("Did you mean"),
                "{name}: no field suggestions outside the demo: {message}"
            );
        }
    }

    // Bad variables, a role denial, an object in another ward: the same codes and messages.
    let a = both_ways(
        &app,
        &mut ws,
        &admin,
        "v1",
        "query($n: Int!) { groups(first: $n) { totalCount } }",
        json!({ "n": "many" }),
    )
    .await;
    assert_eq!(code(&a), "BAD_USER_INPUT", "{a:?}");

    let mut ws_viewer = WsClient::connect(&app, &viewer).await.unwrap();
    let create = "mutation($i: CreateGroupInput!) { createGroup(input: $i) { group { id } } }";
    let input = json!({ "i": { "name": "Tổ mới", "kind": "COMMUNITY", "unitId": gid(NodeType::AdminUnit, f.ward_a1) } });
    let a = both_ways(&app, &mut ws_viewer, &viewer, "d1", create, input).await;
    assert_eq!(code(&a), "FORBIDDEN", "{a:?}");

    let mut ws_ward_b = WsClient::connect(&app, &ward_b).await.unwrap();
    let node = "query($id: ID!) { node(id: $id) { id } }";
    let foreign = both_ways(
        &app,
        &mut ws_ward_b,
        &ward_b,
        "n1",
        node,
        json!({ "id": gid(NodeType::Group, f.group_a1) }),
    )
    .await;
    let missing = both_ways(
        &app,
        &mut ws_ward_b,
        &ward_b,
        "n2",
        node,
        json!({ "id": gid(NodeType::Group, 9_999_999) }),
    )
    .await;
    assert_eq!(foreign, missing, "out of scope looks like missing");
    assert_eq!(foreign, Answer::Data(json!({ "node": null })));

    // Over HTTP, subscriptions are refused with a clear error rather than half-run.
    let (_, body) = app
        .gql(
            Some(&admin),
            "subscription { taskEvents { kind } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
}

/// A disabled account: its socket closes with 4403 on its own, its token is refused over HTTP,
/// and a new socket is refused.
async fn a_disabled_account_is_cut_off_on_every_transport(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let member = app.login(users::MEMBER_A1, PASSWORD).await;
    let mut ws = WsClient::connect(&app, &member).await.unwrap();
    let me = "{ me { username } }";
    assert!(matches!(
        over_socket(&mut ws, "1", me, json!({})).await,
        Answer::Data(_)
    ));
    ws.subscribe(
        "2",
        "subscription($g: ID) { taskEvents(groupId: $g) { kind } }",
        json!({ "g": gid(NodeType::Group, f.group_a1) }),
    )
    .await;

    let user_id = user_id(&app, users::MEMBER_A1).await;
    app.ok(&ward, "mutation($id: ID!) { setUserDisabled(input: {id: $id, disabled: true}) { user { disabled } } }", json!({ "id": gid(NodeType::User, user_id) })).await;

    // The watcher closes the socket (within a second; 5 s here only bounds a hung test).
    assert_eq!(ws.next_message(Duration::from_secs(5)).await, None);
    let (close_code, reason) = ws.closed.clone().expect("a close frame");
    assert_eq!(close_code, 4403, "{reason}");
    assert!(reason.contains("disabled"), "{reason}");

    assert_eq!(
        code(&over_http(&app, &member, me, json!({})).await),
        "UNAUTHENTICATED"
    );
    assert!(WsClient::connect(&app, &member).await.is_err());
}

/// A socket that opens while the watcher is reading accounts is not judged by that read: its
/// account is not in it, and it must not look deleted. The watcher's steps are driven by hand
/// so the socket opens between its snapshot and its verdict every time.
async fn a_socket_opened_during_an_account_check_stays_open(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    Fixture::load(&app).await;
    let admin = app.login(users::ADMIN, PASSWORD).await;
    let member = app.login(users::MEMBER_A1, PASSWORD).await;
    let mut early = WsClient::connect(&app, &admin).await.unwrap();
    let me = "{ me { username } }";
    assert!(matches!(
        over_socket(&mut early, "1", me, json!({})).await,
        Answer::Data(_)
    ));

    let sockets = &app.state.sockets;
    let watched = sockets.watched();
    let mut late = WsClient::connect(&app, &member).await.unwrap();
    assert!(matches!(
        over_socket(&mut late, "1", me, json!({})).await,
        Answer::Data(_)
    ));
    let accounts = watched.read(&app.state.db).await.unwrap();
    sockets.revoke_stale(&watched, &accounts);

    // A wrongly revoked socket is closed at once; a second is ample for the close frame.
    assert_eq!(late.next_message(Duration::from_secs(1)).await, None);
    assert_eq!(
        late.closed, None,
        "the socket that opened mid-check stays open"
    );
    assert_eq!(
        over_socket(&mut late, "2", me, json!({})).await,
        Answer::Data(json!({ "me": { "username": users::MEMBER_A1 } }))
    );
    assert_eq!(
        over_socket(&mut early, "2", me, json!({})).await,
        Answer::Data(json!({ "me": { "username": users::ADMIN } }))
    );
}

/// A token that expires: the socket closes with 4403 at expiry; HTTP refuses the token too.
async fn an_expired_token_closes_its_socket(backend: Backend) {
    let mut args = test_args();
    args.access_token_ttl_secs = 2;
    let Some(app) = TestApp::spawn_with(backend, args).await else {
        return;
    };
    Fixture::load(&app).await;
    let member = app.login(users::MEMBER_A1, PASSWORD).await;
    let mut ws = WsClient::connect(&app, &member).await.unwrap();
    assert!(matches!(
        over_socket(&mut ws, "1", "{ me { username } }", json!({})).await,
        Answer::Data(_)
    ));
    assert_eq!(ws.next_message(Duration::from_secs(10)).await, None);
    let (close_code, reason) = ws.closed.clone().expect("a close frame at expiry");
    assert_eq!(close_code, 4403, "{reason}");
    assert!(reason.contains("expired"), "{reason}");
    assert_eq!(
        code(&over_http(&app, &member, "{ me { username } }", json!({})).await),
        "UNAUTHENTICATED"
    );
}

/// Scope is read as it is now for every operation on a socket: a group moved out of a ward
/// leader's ward disappears from their socket at once (no per-connection cache), and a change
/// of the account's own scope closes the socket.
async fn scope_changes_reach_open_sockets(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let admin = app.login(users::ADMIN, PASSWORD).await;
    let ward = app.login(users::WARD_A2, PASSWORD).await;
    let mut ws = WsClient::connect(&app, &ward).await.unwrap();
    let node = "query($id: ID!) { node(id: $id) { ... on Group { name } } }";
    let group = json!({ "id": gid(NodeType::Group, f.group_a2) });
    let before = over_socket(&mut ws, "1", node, group.clone()).await;
    assert_eq!(
        before,
        Answer::Data(json!({ "node": { "name": "Tổ CNSCĐ An Hải Bắc" } }))
    );
    app.ok(&admin, "mutation($i: UpdateGroupInput!) { updateGroup(input: $i) { group { id } } }", json!({ "i": { "id": gid(NodeType::Group, f.group_a2), "unitId": gid(NodeType::AdminUnit, f.ward_b1) } })).await;
    assert_eq!(
        over_socket(&mut ws, "2", node, group.clone()).await,
        Answer::Data(json!({ "node": null }))
    );
    assert_eq!(
        over_http(&app, &ward, node, group).await,
        Answer::Data(json!({ "node": null }))
    );

    // The account itself is moved to another ward (by hand, as an operator might): the socket
    // was opened with the old scope and closes.
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let ward_user = user_id(&app, users::WARD_A2).await;
    let sql = match app.state.db.get_database_backend() {
        DbBackend::Postgres => "UPDATE users SET scope_unit_id = $1 WHERE id = $2",
        _ => "UPDATE users SET scope_unit_id = ? WHERE id = ?",
    };
    app.state
        .db
        .execute_raw(Statement::from_sql_and_values(
            app.state.db.get_database_backend(),
            sql,
            [f.ward_b1.into(), ward_user.into()],
        ))
        .await
        .unwrap();
    assert_eq!(ws.next_message(Duration::from_secs(5)).await, None);
    assert_eq!(ws.closed.as_ref().map(|c| c.0), Some(4403));
}

/// Allow-list mode holds on the socket: an unregistered mutation is refused alike.
async fn the_allow_list_holds_on_every_transport(backend: Backend) {
    let registered = "query Me { me { username } }";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ops.json");
    std::fs::write(
        &path,
        json!({ cdtg_api::persisted::sha256_hex(registered): registered }).to_string(),
    )
    .unwrap();
    let mut args = test_args();
    args.persisted_operations = Some(path);
    let Some(app) = TestApp::spawn_with(backend, args).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    // `login` is not registered either: the token is minted directly.
    let ward = crate::auth::token_from(&app.state.db, users::WARD_A1).await;
    let mut ws = WsClient::connect(&app, &ward).await.unwrap();
    let create = "mutation($i: CreateTaskInput!) { createTask(input: $i) { task { id } } }";
    let input = json!({ "i": { "groupId": gid(NodeType::Group, f.group_a1), "title": "Không đăng ký", "kind": "SURVEY" } });
    let a = both_ways(&app, &mut ws, &ward, "1", create, input).await;
    assert_eq!(code(&a), "FORBIDDEN", "{a:?}");
    let a = both_ways(&app, &mut ws, &ward, "2", registered, json!({})).await;
    assert_eq!(
        a,
        Answer::Data(json!({ "me": { "username": users::WARD_A1 } }))
    );
    // Nothing was created by either attempt.
    let tasks = task_titles(&app, "Không đăng ký").await;
    assert_eq!(tasks, 0);
}

/// The rate limit counts operations on a socket like requests: a burst is refused with
/// RATE_LIMITED and retryAfter on both transports.
async fn rate_limits_count_socket_operations(backend: Backend) {
    let mut args = test_args();
    args.rate_limit_per_user = 1.0;
    let Some(app) = TestApp::spawn_with(backend, args).await else {
        return;
    };
    Fixture::load(&app).await;
    let me = "{ me { username } }";
    // Over HTTP (one user) and over a socket (another user): bursts of 5, then refusals.
    let http_user = app.login(users::WARD_A1, PASSWORD).await;
    let mut http_codes = Vec::new();
    for _ in 0..8 {
        http_codes.push(code(&over_http(&app, &http_user, me, json!({})).await).to_owned());
    }
    let socket_user = app.login(users::WARD_B1, PASSWORD).await;
    let mut ws = WsClient::connect(&app, &socket_user).await.unwrap();
    let mut socket_codes = Vec::new();
    for i in 0..8 {
        socket_codes
            .push(code(&over_socket(&mut ws, &format!("r{i}"), me, json!({})).await).to_owned());
    }
    for codes in [&http_codes, &socket_codes] {
        assert!(
            codes.iter().take(4).all(|c| c.is_empty()),
            "the burst passes: {codes:?}"
        );
        assert!(
            codes.iter().any(|c| c == "RATE_LIMITED"),
            "then the limit: {codes:?}"
        );
    }
    // The socket's refusal carries retryAfter like the HTTP one.
    ws.subscribe("last", me, json!({})).await;
    let m = ws.next_message(Duration::from_secs(5)).await.unwrap();
    assert_eq!(m["type"], "error", "{m}");
    assert!(
        m["payload"][0]["extensions"]["retryAfter"]
            .as_u64()
            .unwrap()
            >= 1
    );
}

/// The deadline applies to socket operations too: the same retryable answer as over HTTP.
async fn the_deadline_applies_on_sockets(backend: Backend) {
    let mut args = test_args();
    args.request_deadline_ms = 1;
    let Some(app) = TestApp::spawn_with(backend, args).await else {
        return;
    };
    let seed_db = app.seed_demo_beside().await;
    let token = crate::auth::token_from(&seed_db, "admin").await;
    let slow = "{ groups(first: 100) { totalCount nodes { members { totalCount nodes { fullName memberships { group { name } } } } tasks { nodes { title } } } } }";
    let http = over_http(&app, &token, slow, json!({})).await;
    assert_eq!(code(&http), "INTERNAL", "{http:?}");
    // On PostgreSQL the 1 ms statement timeout may already stop the socket's token check:
    // then the socket is refused as "try again" (1013), never as a bad token.
    match WsClient::connect(&app, &token).await {
        Ok(mut ws) => {
            ws.subscribe("1", slow, json!({})).await;
            let m = ws.next_message(Duration::from_secs(10)).await;
            match m {
                Some(m) => {
                    let errors = if m["type"] == "error" {
                        m["payload"].clone()
                    } else {
                        m["payload"]["errors"].clone()
                    };
                    assert_eq!(errors[0]["extensions"]["code"], "INTERNAL", "{m}");
                    assert_eq!(errors[0]["extensions"]["retryable"], true, "{m}");
                }
                None => panic!("a slow database is not a bad token: {:?}", ws.closed),
            }
        }
        Err(refused) => assert!(
            refused.contains("1013") || refused.contains("Again"),
            "{refused}"
        ),
    }
}

/// Operations per socket and sockets per account are capped (both configurable); protocol
/// abuse closes the socket with the protocol's codes.
async fn sockets_are_capped_and_protocol_abuse_closes_them(backend: Backend) {
    let mut args = test_args();
    args.max_operations_per_socket = 3;
    args.max_sockets_per_user = 2;
    let Some(app) = TestApp::spawn_with(backend, args).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let leader = app.login(users::LEADER_A1, PASSWORD).await;
    let mut ws = WsClient::connect(&app, &leader).await.unwrap();
    let sub = "subscription($g: ID) { taskEvents(groupId: $g) { kind } }";
    let vars = json!({ "g": gid(NodeType::Group, f.group_a1) });
    for i in 0..3 {
        ws.subscribe(&format!("s{i}"), sub, vars.clone()).await;
    }
    ws.subscribe("s3", sub, vars.clone()).await;
    let m = ws.next_message(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        (m["type"].as_str(), m["id"].as_str()),
        (Some("error"), Some("s3")),
        "{m}"
    );
    assert_eq!(m["payload"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert!(
        m["payload"][0]["message"]
            .as_str()
            .unwrap()
            .contains("at most 3")
    );

    // A second socket is fine, a third for the same account is refused.
    let second = WsClient::connect(&app, &leader).await.unwrap();
    let third = WsClient::connect(&app, &leader).await;
    assert!(
        third.as_ref().is_err_and(|e| e.contains("4403")),
        "{:?}",
        third.err()
    );
    drop(second);

    // A duplicate id closes with 4409.
    ws.subscribe("s0", sub, vars.clone()).await;
    assert_eq!(ws.next_message(Duration::from_secs(5)).await, None);
    assert_eq!(ws.closed.as_ref().map(|c| c.0), Some(4409));
}

/// A socket speaking `protocol` with nothing sent yet.
async fn raw_socket(
    app: &TestApp,
    protocol: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://127.0.0.1:{}/graphql", app.port)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
    let (stream, response) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        protocol,
        "the server names the protocol it speaks"
    );
    stream
}

/// Reads text messages until the socket closes or 5 s pass; returns them and the close code.
async fn read_until_close(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> (Vec<Value>, Option<u16>) {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, ws.next()).await {
        match msg {
            Message::Text(t) => seen.push(serde_json::from_str(&t).unwrap()),
            Message::Close(frame) => return (seen, frame.map(|f| u16::from(f.code))),
            _ => {}
        }
    }
    (seen, None)
}

/// Protocol violations close with graphql-transport-ws's codes, and the legacy `graphql-ws`
/// protocol runs operations through the same pipeline.
async fn protocol_violations_and_the_legacy_protocol(backend: Backend) {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    Fixture::load(&app).await;
    let token = app.login(users::WARD_A1, PASSWORD).await;
    let text = |v: Value| Message::Text(v.to_string().into());
    let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } });
    let me = json!({ "query": "{ me { username } }" });

    // An operation before connection_ack: 4401.
    let mut ws = raw_socket(&app, "graphql-transport-ws").await;
    ws.send(text(
        json!({ "id": "1", "type": "subscribe", "payload": me }),
    ))
    .await
    .unwrap();
    assert_eq!(read_until_close(&mut ws).await.1, Some(4401));

    // A second connection_init: 4429. Not JSON: 4400.
    let mut ws = raw_socket(&app, "graphql-transport-ws").await;
    ws.send(text(init.clone())).await.unwrap();
    ws.send(text(init.clone())).await.unwrap();
    let (seen, code) = read_until_close(&mut ws).await;
    assert_eq!(seen[0]["type"], "connection_ack");
    assert_eq!(code, Some(4429));
    let mut ws = raw_socket(&app, "graphql-transport-ws").await;
    ws.send(Message::Text("not json".into())).await.unwrap();
    assert_eq!(read_until_close(&mut ws).await.1, Some(4400));

    // The legacy protocol: start → data → complete, and its refusals come from the pipeline too.
    let mut ws = raw_socket(&app, "graphql-ws").await;
    ws.send(text(init)).await.unwrap();
    ws.send(text(json!({ "id": "a", "type": "start", "payload": me })))
        .await
        .unwrap();
    ws.send(text(
        json!({ "id": "b", "type": "start", "payload": { "query": aliases(101) } }),
    ))
    .await
    .unwrap();
    // Nothing closes the socket yet: this reads what arrives within the 5 s.
    let (seen, code) = read_until_close(&mut ws).await;
    assert_eq!(code, None, "{seen:?}");
    let of = |id: &str| -> Vec<&Value> { seen.iter().filter(|m| m["id"] == id).collect() };
    assert!(
        seen.iter().any(|m| m["type"] == "connection_ack"),
        "{seen:?}"
    );
    let a = of("a");
    assert_eq!(a[0]["type"], "data", "{seen:?}");
    assert_eq!(a[0]["payload"]["data"]["me"]["username"], users::WARD_A1);
    assert_eq!(a[1]["type"], "complete");
    let b = of("b");
    assert_eq!(b[0]["type"], "error", "{seen:?}");
    assert_eq!(b[0]["payload"]["extensions"]["code"], "BAD_USER_INPUT");
    ws.send(text(json!({ "type": "connection_terminate" })))
        .await
        .unwrap();
    let (_, code) = read_until_close(&mut ws).await;
    assert_eq!(
        code,
        Some(1000),
        "connection_terminate closes the socket normally"
    );
}

/// The audit trail of socket operations has a request id per operation, and a request with
/// many refused root fields writes one coalesced row on either transport.
async fn audit_rows_are_per_operation_on_both_transports(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let viewer = app.login(users::VIEWER, PASSWORD).await;
    let many = (0..50)
        .map(|i| {
            format!(
                "c{i}: createGroup(input: {{ name: \"Tổ {i}\", kind: COMMUNITY, unitId: \"{}\" }}) {{ group {{ id }} }}",
                gid(NodeType::AdminUnit, f.ward_a1)
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    let mutation = format!("mutation {{ {many} }}");
    let before = audit_rows(&app).await;
    let http = over_http(&app, &viewer, &mutation, json!({})).await;
    assert_eq!(code(&http), "FORBIDDEN");
    let mut ws = WsClient::connect(&app, &viewer).await.unwrap();
    let socket = over_socket(&mut ws, "1", &mutation, json!({})).await;
    assert_eq!(http, socket);
    let rows = wait_for_audit_rows(&app, before.len() + 2).await;
    let new: Vec<_> = rows[before.len()..].to_vec();
    assert_eq!(new.len(), 2, "one row per operation: {new:?}");
    for row in &new {
        assert_eq!(row.outcome, "DENIED");
        assert_eq!(row.action, "createGroup");
        assert!(
            row.detail
                .as_deref()
                .unwrap_or("")
                .starts_with("50 refusals"),
            "{row:?}"
        );
        assert!(row.request_id.is_some(), "{row:?}");
    }
    assert_ne!(new[0].request_id, new[1].request_id);

    // Two operations on one socket have two request ids.
    let one = format!(
        "mutation {{ createGroup(input: {{ name: \"Tổ x\", kind: COMMUNITY, unitId: \"{}\" }}) {{ group {{ id }} }} }}",
        gid(NodeType::AdminUnit, f.ward_a1)
    );
    over_socket(&mut ws, "2", &one, json!({})).await;
    over_socket(&mut ws, "3", &one, json!({})).await;
    let rows = wait_for_audit_rows(&app, before.len() + 4).await;
    let (a, b) = (&rows[before.len() + 2], &rows[before.len() + 3]);
    assert!(
        a.request_id.is_some() && a.request_id != b.request_id,
        "{a:?} {b:?}"
    );
}

/// Behind a trusted proxy the forwarded address is the client; from anyone else the header is
/// ignored. Seen through the per-address rate limit.
async fn forwarded_addresses_count_only_from_trusted_proxies(backend: Backend) {
    let mut args = test_args();
    args.rate_limit_per_address = 1.0;
    args.rate_limit_per_user = 0.0;
    args.trusted_proxies = "127.0.0.1".to_owned();
    let Some(app) = TestApp::spawn_with(backend, args).await else {
        return;
    };
    let send = |xff: &'static str| {
        let app = &app;
        async move {
            app.client
                .post(format!("{}/graphql", app.address))
                .header("x-forwarded-for", xff)
                .json(&json!({ "query": "{ __typename }" }))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(send("198.51.100.1").await);
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert_eq!(
        send("198.51.100.2").await,
        StatusCode::OK,
        "another client behind the proxy"
    );

    // Without trusting the proxy, the header means nothing: one budget for the connection.
    let mut args = test_args();
    args.rate_limit_per_address = 1.0;
    args.rate_limit_per_user = 0.0;
    let Some(plain) = TestApp::spawn_with(backend, args).await else {
        return;
    };
    let mut limited = false;
    for i in 0..8 {
        let status = plain
            .client
            .post(format!("{}/graphql", plain.address))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .unwrap()
            .status();
        limited |= status == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(limited, "a forged header does not buy a fresh budget");
}

/// `/metrics` behind a token, or on an address of its own.
async fn metrics_can_be_closed_to_the_public(backend: Backend) {
    let mut args = test_args();
    args.metrics_token = Some("scrape-secret".to_owned());
    let Some(app) = TestApp::spawn_with(backend, args).await else {
        return;
    };
    let url = format!("{}/metrics", app.address);
    let open = app.client.get(&url).send().await.unwrap();
    assert_eq!(open.status(), StatusCode::UNAUTHORIZED);
    let wrong = app
        .client
        .get(&url)
        .bearer_auth("guess")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let scraped = app
        .client
        .get(&url)
        .bearer_auth("scrape-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    assert!(
        scraped
            .text()
            .await
            .unwrap()
            .contains("cdtg_graphql_requests_total")
    );

    let mut args = test_args();
    args.metrics_bind = Some("127.0.0.1:0".parse().unwrap());
    let db = crate::helpers::TestDb::create(backend).await.unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = cdtg_api::startup::Application::build(db.url(), &args, listener)
        .await
        .unwrap();
    let (port, metrics_port) = (server.port(), server.metrics_port().unwrap());
    let handle = server.handle();
    tokio::spawn(server.run_until_stopped());
    let client = reqwest::Client::new();
    let on_api = client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(on_api.status(), StatusCode::NOT_FOUND);
    let on_own = client
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(on_own.status(), StatusCode::OK);
    handle.stop(true).await;
}

async fn user_id(app: &TestApp, username: &str) -> i64 {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    cdtg_api::entity::user::Entity::find()
        .filter(cdtg_api::entity::user::Column::Username.eq(username))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .id
}

async fn task_titles(app: &TestApp, title: &str) -> u64 {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    cdtg_api::entity::task::Entity::find()
        .filter(cdtg_api::entity::task::Column::Title.eq(title))
        .count(&app.state.db)
        .await
        .unwrap()
}

async fn audit_rows(app: &TestApp) -> Vec<cdtg_api::entity::audit_event::Model> {
    use sea_orm::{EntityTrait, QueryOrder};
    cdtg_api::entity::audit_event::Entity::find()
        .order_by_asc(cdtg_api::entity::audit_event::Column::Id)
        .all(&app.state.db)
        .await
        .unwrap()
}

/// Audit rows of a subscription's setup are written when it ends; queries' before they answer.
/// Waits (briefly) until `n` rows exist, and returns them all.
async fn wait_for_audit_rows(app: &TestApp, n: usize) -> Vec<cdtg_api::entity::audit_event::Model> {
    for _ in 0..50 {
        let rows = audit_rows(app).await;
        if rows.len() >= n {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    audit_rows(app).await
}

on_both_databases!(
    limits_and_errors_are_the_same_over_http_and_websocket,
    a_disabled_account_is_cut_off_on_every_transport,
    a_socket_opened_during_an_account_check_stays_open,
    an_expired_token_closes_its_socket,
    scope_changes_reach_open_sockets,
    the_allow_list_holds_on_every_transport,
    rate_limits_count_socket_operations,
    the_deadline_applies_on_sockets,
    sockets_are_capped_and_protocol_abuse_closes_them,
    protocol_violations_and_the_legacy_protocol,
    audit_rows_are_per_operation_on_both_transports,
    forwarded_addresses_count_only_from_trusted_proxies,
    metrics_can_be_closed_to_the_public,
);
