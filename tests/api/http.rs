//! GraphQL over HTTP and the abuse limits: status codes, media types, methods, body and query
//! size, aliases, directives, depth, fragment cycles, batches, persisted operations, rate
//! limits, the request deadline, operational endpoints and database outages.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixture::{Fixture, PASSWORD, users};
use crate::helpers::{Backend, TestApp, TestDb, test_args};
use crate::on_both_databases;

const GQL_RESPONSE: &str = "application/graphql-response+json";

async fn post_raw(
    app: &TestApp,
    token: Option<&str>,
    content_type: Option<&str>,
    accept: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let mut req = app
        .client
        .post(format!("{}/graphql", app.address))
        .body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    (
        res.status(),
        res.headers().clone(),
        res.text().await.unwrap(),
    )
}

async fn still_answers(app: &TestApp, token: &str) {
    let d = app.ok(token, "{ me { username } }", json!({})).await;
    assert!(
        d["me"]["username"].is_string(),
        "the server keeps answering"
    );
}

async fn group_count(app: &TestApp) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    cdtg_api::entity::group::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap()
}

async fn methods_media_types_and_status_codes(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let token = app.login(users::ADMIN, PASSWORD).await;
    let groups_before = group_count(&app).await;
    let mutation = format!(
        r#"mutation {{ createGroup(input: {{ name: "qua GET", kind: COMMUNITY, unitId: "{}" }}) {{ group {{ id }} }} }}"#,
        crate::fixture::gid(cdtg_api::ids::NodeType::AdminUnit, f.ward_a1)
    );

    // A mutation over GET: 405, Allow: POST, nothing executed.
    let res = app
        .client
        .get(format!("{}/graphql", app.address))
        .query(&[("query", mutation.as_str())])
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "POST");
    // A query over GET works.
    let res = app
        .client
        .get(format!("{}/graphql", app.address))
        .query(&[("query", "{ me { username } }")])
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Other methods are 405 too.
    let res = app
        .client
        .put(format!("{}/graphql", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);

    // POST with anything but JSON is 415 and executes nothing (no CSRF through HTML forms).
    let body = json!({ "query": mutation }).to_string().into_bytes();
    for ct in [
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
        None,
    ] {
        let (status, _, text) = post_raw(&app, Some(&token), ct, None, body.clone()).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}: {text}");
    }
    // Multipart is the GraphQL multipart request (file uploads). An HTML form can send it
    // across sites but cannot add a bearer credential: without one it is 401; with one, a body
    // that is not a multipart request is 400. Neither executes anything.
    let multipart = Some("multipart/form-data; boundary=x");
    let (status, _, text) = post_raw(&app, None, multipart, None, body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{text}");
    let (status, _, text) = post_raw(&app, Some(&token), multipart, None, body.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("BAD_USER_INPUT"), "{text}");
    assert_eq!(
        group_count(&app).await,
        groups_before,
        "nothing was executed"
    );

    // Media types and status codes.
    let cases: [(&str, Option<&str>, StatusCode, &str, bool); 6] = [
        (
            "{ me { username } }",
            Some(GQL_RESPONSE),
            StatusCode::OK,
            GQL_RESPONSE,
            true,
        ),
        (
            "{ me { username } }",
            Some("application/json"),
            StatusCode::OK,
            "application/json",
            true,
        ),
        (
            "{ me { username } }",
            None,
            StatusCode::OK,
            "application/json",
            true,
        ),
        (
            "{ me { username ",
            Some(GQL_RESPONSE),
            StatusCode::BAD_REQUEST,
            GQL_RESPONSE,
            false,
        ),
        (
            "{ nosuchfield }",
            Some(GQL_RESPONSE),
            StatusCode::BAD_REQUEST,
            GQL_RESPONSE,
            false,
        ),
        (
            "{ nosuchfield }",
            Some("application/json"),
            StatusCode::OK,
            "application/json",
            false,
        ),
    ];
    for (query, accept, status, media, has_data) in cases {
        let (s, headers, text) = post_raw(
            &app,
            Some(&token),
            Some("application/json"),
            accept,
            json!({ "query": query }).to_string().into_bytes(),
        )
        .await;
        assert_eq!(s, status, "{query} / {accept:?}: {text}");
        assert!(
            headers["content-type"].to_str().unwrap().starts_with(media),
            "{query} / {accept:?}"
        );
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body.get("data").is_some(), has_data, "{query}: {text}");
        if !has_data {
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
                "{text}"
            );
            assert!(
                !text.contains("Did you mean"),
                "field suggestions are off outside demo mode: {text}"
            );
        }
    }
    // Dates at the edge of the calendar are refused, not a reason to crash a worker.
    let (_, body) = app.gql(Some(&token), r#"{ adminUnits(first: 1) { nodes { stats(period: { kind: YEAR, date: "+262000-06-01" }) { groups } } } }"#, json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    still_answers(&app, &token).await;
    // Field errors keep 200 and data, even with graphql-response+json.
    let (s, _, text) = post_raw(
        &app,
        Some(&token),
        Some("application/json"),
        Some(GQL_RESPONSE),
        json!({ "query": "{ groups(first: 1000) { totalCount } me { username } }" })
            .to_string()
            .into_bytes(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{text}");
    // Malformed JSON and wrong parameter types are request errors.
    for body in [
        b"{not json".to_vec(),
        br#"{"query": 42}"#.to_vec(),
        br#"{"query": "{ me { username } }", "variables": "nope"}"#.to_vec(),
    ] {
        let (s, _, text) = post_raw(
            &app,
            Some(&token),
            Some("application/json"),
            Some(GQL_RESPONSE),
            body,
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{text}");
    }
    // Fields come back in the order the query asked for them (GraphQL spec, "ordered map").
    let (_, _, text) = post_raw(&app, Some(&token), Some("application/json"), None, json!({ "query": "{ me { username } groups { totalCount } adminUnits(first: 1) { totalCount } }" }).to_string().into_bytes()).await;
    let (me, groups, units) = (
        text.find("\"me\"").unwrap(),
        text.find("\"groups\"").unwrap(),
        text.find("\"adminUnits\"").unwrap(),
    );
    assert!(me < groups && groups < units, "query order kept: {text}");
    // The request id comes back.
    let res = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("x-request-id", "req-123")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "req-123");
    still_answers(&app, &token).await;
}

async fn size_and_shape_limits_at_and_past_their_values(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    Fixture::load(&app).await;
    let token = app.login(users::ADMIN, PASSWORD).await;

    // Body: exactly 1 MiB is read (and refused for its query length), one byte more is 413, and
    // so is 2 MiB.
    let body_of = |size: usize| {
        let head = r#"{"query":"{ me { username } }#"#;
        let tail = r#""}"#;
        let mut b = head.as_bytes().to_vec();
        b.resize(size - tail.len(), b'x');
        b.extend_from_slice(tail.as_bytes());
        assert_eq!(b.len(), size);
        b
    };
    let (s_at, _, text) = post_raw(
        &app,
        Some(&token),
        Some("application/json"),
        None,
        body_of(1024 * 1024),
    )
    .await;
    assert_ne!(s_at, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
    assert!(text.contains("longer than 15000 characters"), "{text}");
    for size in [1024 * 1024 + 1, 2 * 1024 * 1024] {
        let (s, _, _) = post_raw(
            &app,
            Some(&token),
            Some("application/json"),
            None,
            body_of(size),
        )
        .await;
        assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{size} bytes");
    }
    still_answers(&app, &token).await;

    // Query length: 15,000 characters pass, 15,001 do not.
    let base = "{ me { username } }";
    let at = format!("{base}#{}", "x".repeat(15_000 - base.len() - 1));
    assert_eq!(at.chars().count(), 15_000);
    app.ok(&token, &at, json!({})).await;
    let (_, body) = app.gql(Some(&token), &format!("{at}x"), json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );

    // Aliases: 100 pass, 101 and 500 do not.
    let aliases = |n: usize| {
        format!(
            "{{ {} }}",
            (0..n)
                .map(|i| format!("a{i}: __typename"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    app.ok(&token, &aliases(100), json!({})).await;
    for n in [101, 500] {
        let (_, body) = app.gql(Some(&token), &aliases(n), json!({})).await;
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("aliases"),
            "{n}: {body}"
        );
    }
    still_answers(&app, &token).await;

    // Directives on one field: 5 pass, 6 and 1,000 do not.
    let directives = |n: usize| {
        format!(
            "{{ me {{ username {} }} }}",
            "@include(if: true) ".repeat(n)
        )
    };
    let (_, five) = app.gql(Some(&token), &directives(5), json!({})).await;
    assert!(
        !five["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("directives on one field"),
        "{five}"
    );
    let (_, six) = app.gql(Some(&token), &directives(6), json!({})).await;
    assert!(
        six["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("directives on one field"),
        "{six}"
    );
    // 1,000 directives do not even fit in the query length limit.
    let (_, thousand) = app.gql(Some(&token), &directives(1000), json!({})).await;
    assert_eq!(
        thousand["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{thousand}"
    );
    still_answers(&app, &token).await;

    // Depth: 15 levels pass (adminUnits, nodes and 13 more), 16 and 50 do not.
    let depth = |n: usize| {
        let mut q = String::from("id");
        for _ in 1..n {
            q = format!("parent {{ {q} }}");
        }
        format!("{{ adminUnits(first: 1) {{ nodes {{ {q} }} }} }}")
    };
    app.ok(&token, &depth(13), json!({})).await;
    for n in [14, 48] {
        let (_, body) = app.gql(Some(&token), &depth(n), json!({})).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{n}: {body}"
        );
        assert!(body.get("data").is_none_or(Value::is_null));
    }
    still_answers(&app, &token).await;

    // A 20-level fragment cycle is rejected by validation, not by the stack.
    let mut frags = String::from("{ me { ...F0 } }");
    for i in 0..20 {
        frags.push_str(&format!(
            " fragment F{i} on User {{ username ...F{} }}",
            (i + 1) % 20
        ));
    }
    let (_, body) = app.gql(Some(&token), &frags, json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    still_answers(&app, &token).await;

    // Complexity: a wide, deep page product is refused.
    let (_, body) = app
        .gql(Some(&token), "{ groups(first: 100) { nodes { members(first: 100) { nodes { memberships { group { members(first: 100) { nodes { id } } } } } } } } }", json!({}))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    still_answers(&app, &token).await;
}

async fn batches_introspection_and_persisted_queries(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    Fixture::load(&app).await;
    let token = app.login(users::ADMIN, PASSWORD).await;

    // Batches are off by default.
    let batch = json!([{ "query": "{ __typename }" }, { "query": "{ __typename }" }])
        .to_string()
        .into_bytes();
    let (s, _, text) = post_raw(&app, Some(&token), Some("application/json"), None, batch).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{text}");

    // Introspection: signed-in users only, and GraphiQL's full introspection query works.
    let (status, anon) = app
        .gql(None, "{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{anon}");
    assert_eq!(anon["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let full = app.ok(&token, INTROSPECTION, json!({})).await;
    assert!(full["__schema"]["types"].as_array().unwrap().len() > 50);

    // Automatic persisted queries.
    let q = "query Me { me { username } }";
    let hash = cdtg_api::persisted::sha256_hex(q);
    let apq = |query: Option<&str>| {
        let mut body =
            json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } });
        if let Some(q) = query {
            body["query"] = json!(q);
        }
        body
    };
    let send = |body: Value| {
        let (app, token) = (&app, token.clone());
        async move {
            app.client
                .post(format!("{}/graphql", app.address))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let miss = send(apq(None)).await;
    assert_eq!(
        miss["errors"][0]["message"], "PersistedQueryNotFound",
        "{miss}"
    );
    assert_eq!(miss["errors"][0]["extensions"]["code"], "NOT_FOUND");
    let register = send(apq(Some(q))).await;
    assert_eq!(register["data"]["me"]["username"], "admin", "{register}");
    let hit = send(apq(None)).await;
    assert_eq!(hit["data"]["me"]["username"], "admin", "{hit}");
    // And over GET, as Apollo clients do for queries.
    let res = app
        .client
        .get(format!("{}/graphql", app.address))
        .query(&[(
            "extensions",
            json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } }).to_string(),
        )])
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(res["data"]["me"]["username"], "admin", "{res}");
}

async fn allow_list_mode_runs_only_registered_operations(backend: Backend) {
    let registered = "query Me { me { username } }";
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        json!({ cdtg_api::persisted::sha256_hex(registered): registered }).to_string(),
    )
    .unwrap();
    let mut args = test_args();
    args.persisted_operations = Some(file.path().to_owned());
    let Some(app) = TestApp::spawn_with(backend, args).await else {
        return;
    };
    Fixture::load(&app).await;
    // Logging in is itself an operation: here it must be registered too, so sign a token directly.
    let token = crate::auth::token_for(&app, users::ADMIN).await;
    let d = app.ok(&token, registered, json!({})).await;
    assert_eq!(d["me"]["username"], "admin");
    let (_, body) = app
        .gql(Some(&token), "{ groups { totalCount } }", json!({}))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
}

async fn rate_limits_per_user_answer_429_with_retry_after(backend: Backend) {
    let mut args = test_args();
    args.rate_limit_per_user = 1.0; // burst of 5
    let Some(app) = TestApp::spawn_with(backend, args).await else {
        return;
    };
    Fixture::load(&app).await;
    let token = app.login(users::ADMIN, PASSWORD).await;
    let mut limited = None;
    for _ in 0..10 {
        let res = app
            .client
            .post(format!("{}/graphql", app.address))
            .bearer_auth(&token)
            .json(&json!({ "query": "{ me { username } }" }))
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            let retry: u64 = res.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            let body: Value = res.json().await.unwrap();
            limited = Some((retry, body));
            break;
        }
    }
    let (retry, body) = limited.expect("the sixth request within a second is limited");
    assert!(retry >= 1);
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    // Another user is unaffected.
    let other = app.login(users::WARD_A1, PASSWORD).await;
    still_answers(&app, &other).await;
}

async fn the_deadline_cancels_slow_requests(backend: Backend) {
    let mut args = test_args();
    args.request_deadline_ms = 1;
    let Some(app) = TestApp::spawn_with(backend, args).await else {
        return;
    };
    // Real work: the demo's 2,500 groups, not a fixture that answers in microseconds. Seeded
    // over a connection of its own: the server's pool has the 1 ms statement timeout.
    let seed_db = app.seed_demo_beside().await;
    // Whichever catches the slow work first — the transport's timer, the database's
    // statement_timeout, even while checking the token — the client sees the same retryable 503.
    let token = crate::auth::token_from(&seed_db, "admin").await;
    let res = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&token)
        .json(&json!({ "query": "{ groups(first: 100) { totalCount nodes { members { totalCount nodes { fullName memberships { group { name } } } } tasks { nodes { title } } } } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "INTERNAL");
    assert_eq!(body["errors"][0]["extensions"]["retryable"], true);
}

/// A good token checked while the database is too slow is a retryable 503, never a 401 that
/// would make the phone throw its session away. PostgreSQL only: there the pool's
/// `statement_timeout` cancels the token check itself; SQLite readers cannot be blocked this way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_token_check_is_retryable_not_unauthenticated_on_postgres() {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let mut args = test_args();
    args.request_deadline_ms = 300;
    let Some(app) = TestApp::spawn_with(Backend::Postgres, args).await else {
        return;
    };
    Fixture::load(&app).await;
    let token = crate::auth::token_for(&app, users::ADMIN).await;
    let (other, _) = cdtg_api::db::connect(app.db.url(), &Default::default())
        .await
        .unwrap();
    // Another session holds the users table: the token check waits past the timeout.
    let blocker = other.begin().await.unwrap();
    blocker
        .execute_unprepared("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let res = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&token)
        .json(&json!({ "query": "{ me { username } }" }))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let challenge = res.headers().get("www-authenticate").cloned();
    let body: Value = res.json().await.unwrap();
    blocker.rollback().await.unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(challenge, None, "no Bearer challenge: the token is fine");
    assert_eq!(body["errors"][0]["extensions"]["code"], "INTERNAL");
    assert_eq!(body["errors"][0]["extensions"]["retryable"], true);
    assert!(!body.to_string().contains("statement timeout"), "{body}");
    // The same on the subscription socket: the init is refused as a server problem, not as a
    // bad token.
    let blocker = other.begin().await.unwrap();
    blocker
        .execute_unprepared("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let refused = crate::ws::WsClient::connect(&app, &token).await.err();
    blocker.rollback().await.unwrap();
    let refused = refused.expect("the subscription socket refused while the check timed out");
    assert!(refused.contains("took too long"), "{refused}");
    assert!(!refused.contains("invalid or expired token"), "{refused}");
    // The lock gone, the same token works: nothing was revoked.
    let body = app.ok(&token, "{ me { username } }", json!({})).await;
    assert_eq!(body["me"]["username"], users::ADMIN);
}

async fn operational_endpoints(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    Fixture::load(&app).await;
    let token = app.login(users::ADMIN, PASSWORD).await;
    app.client.post(format!("{}/graphql", app.address)).bearer_auth(&token).json(&json!({ "query": "query Dashboard { me { username } }", "operationName": "Dashboard" })).send().await.unwrap();
    for path in ["/livez", "/readyz", "/healthz"] {
        assert_eq!(
            app.client
                .get(format!("{}{path}", app.address))
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK,
            "{path}"
        );
    }
    let metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        r#"cdtg_graphql_requests_total{operation="Dashboard",outcome="ok"} 1"#,
        "cdtg_graphql_request_duration_seconds_bucket",
        "cdtg_db_pool_connections{state=\"idle\"}",
        "cdtg_subscriptions 0",
        "cdtg_db_statements_total",
    ] {
        assert!(metrics.contains(needle), "{needle} in:\n{metrics}");
    }
    // The Dashboard request checked its fresh token against the database: one account read at
    // least (a cache entry expiring in between may add one).
    let principal_reads: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("cdtg_principal_reads_total "))
        .unwrap_or_else(|| panic!("cdtg_principal_reads_total in:\n{metrics}"))
        .parse()
        .unwrap();
    assert!(principal_reads >= 1, "{metrics}");
    assert!(
        !metrics.contains(&token) && !metrics.contains("+84"),
        "no secrets or personal data in metrics"
    );
}

/// A TCP proxy in front of PostgreSQL that the test can cut and restore, to simulate an outage
/// without stopping the shared server.
struct CuttableProxy {
    port: u16,
    up: Arc<AtomicBool>,
    generation: Arc<tokio::sync::watch::Sender<u64>>,
}

impl CuttableProxy {
    async fn start(target: &str) -> CuttableProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let (tx, _) = tokio::sync::watch::channel(0u64);
        let generation = Arc::new(tx);
        let (up2, gen2, target) = (up.clone(), generation.clone(), target.to_owned());
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    break;
                };
                if !up2.load(Ordering::SeqCst) {
                    continue; // dropped: connection refused in effect
                }
                let (target, mut cut) = (target.clone(), gen2.subscribe());
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        CuttableProxy {
            port,
            up,
            generation,
        }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// PostgreSQL goes away: `/readyz` says 503, GraphQL fails fast with 503; it comes back: service
/// resumes without restarting CDTG.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_fails_fast_and_recovers_on_postgres() {
    let Some(db) = TestDb::create(Backend::Postgres).await else {
        return;
    };
    let proxy = CuttableProxy::start("127.0.0.1:5432").await;
    let url = db
        .url()
        .replacen("127.0.0.1:5432", &format!("127.0.0.1:{}", proxy.port), 1);
    assert_ne!(
        url,
        db.url(),
        "the test database URL goes through the proxy"
    );
    let mut args = test_args();
    args.db_acquire_timeout_ms = 1000;
    let app = TestApp::spawn_on(TestDb::Shared { url }, args).await;
    Fixture::load(&app).await;
    let token = app.login(users::ADMIN, PASSWORD).await;
    still_answers(&app, &token).await;

    proxy.cut();
    let ready = app
        .client
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let started = std::time::Instant::now();
    let res = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&token)
        .json(&json!({ "query": "{ groups { totalCount } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "fails fast: {:?}",
        started.elapsed()
    );
    let body: Value = res.json().await.unwrap();
    assert!(
        !body
            .to_string()
            .to_lowercase()
            .contains("connection refused"),
        "no internal text: {body}"
    );

    proxy.restore();
    let mut recovered = false;
    for _ in 0..30 {
        if app
            .client
            .get(format!("{}/readyz", app.address))
            .send()
            .await
            .unwrap()
            .status()
            == StatusCode::OK
        {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(recovered, "readyz recovers without a restart");
    still_answers(&app, &token).await;
    drop(app);
    drop(db);
}

/// A graceful stop (what SIGTERM triggers in actix-web) lets the request in flight finish, then
/// refuses new connections. The test holds a database lock so the in-flight mutation cannot
/// finish before the stop begins — no timing luck involved.
async fn graceful_shutdown_finishes_in_flight_requests(backend: Backend) {
    use sea_orm::ConnectionTrait;
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let token = app.login(users::WARD_A1, PASSWORD).await;
    // What tells this server from another after the stop; before it, it reads the name.
    let read_name = json!({
        "query": "query($id: ID!) { node(id: $id) { ... on Group { name } } }",
        "variables": { "id": crate::fixture::gid(cdtg_api::ids::NodeType::Group, f.group_a1) },
    });
    let before = app
        .ok(
            &token,
            read_name["query"].as_str().unwrap(),
            read_name["variables"].clone(),
        )
        .await;
    assert!(before["node"]["name"].is_string(), "{before}");

    // Block writes to the group: SQLite's write lock, or PostgreSQL's row lock.
    let (blocker, _) = cdtg_api::db::connect(app.db.url(), &cdtg_api::db::PoolSettings::default())
        .await
        .unwrap();
    let lock = cdtg_api::db::write_txn(&blocker).await.unwrap();
    if backend == Backend::Postgres {
        lock.execute_unprepared(&format!(
            "SELECT id FROM groups WHERE id = {} FOR UPDATE",
            f.group_a1
        ))
        .await
        .unwrap();
    }

    let in_flight = {
        let (client, url, token) = (
            app.client.clone(),
            format!("{}/graphql", app.address),
            token.clone(),
        );
        let vars = json!({ "i": { "id": crate::fixture::gid(cdtg_api::ids::NodeType::Group, f.group_a1), "name": "Đổi tên khi dừng" } });
        tokio::spawn(async move {
            let res = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({ "query": "mutation($i: UpdateGroupInput!) { updateGroup(input: $i) { group { name } } }", "variables": vars }))
                .send()
                .await;
            (res, std::time::Instant::now())
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!in_flight.is_finished(), "the mutation waits on the lock");
    let stop_called = std::time::Instant::now();
    let stopping = tokio::spawn(app.handle.stop(true));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    lock.rollback().await.unwrap();

    let (res, answered) = in_flight.await.unwrap();
    assert!(
        answered > stop_called,
        "the request was still in flight when the stop began"
    );
    let res = res.expect("the in-flight request is answered");
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["data"]["updateGroup"]["group"]["name"], "Đổi tên khi dừng",
        "{body}"
    );
    stopping.await.unwrap();
    // After the stop nothing of this server answers on its address: a new connection is
    // refused. The freed port is the kernel's to give again, though, and the suite starts
    // servers in parallel all the time, so a connection that is answered is judged by what
    // answers it: this test's own data (the name just written) would mean this server still
    // serves; anything else is another test's server on the reused port.
    let fresh = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap();
    let after_stop = fresh
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&token)
        .json(&read_name)
        .send()
        .await;
    if let Ok(res) = after_stop {
        let body = res.text().await.unwrap_or_default();
        assert!(
            !body.contains("Đổi tên khi dừng"),
            "new connections are refused after the stop, but the stopped server answered: {body}"
        );
    }
}

on_both_databases!(
    graceful_shutdown_finishes_in_flight_requests,
    methods_media_types_and_status_codes,
    size_and_shape_limits_at_and_past_their_values,
    batches_introspection_and_persisted_queries,
    allow_list_mode_runs_only_registered_operations,
    rate_limits_per_user_answer_429_with_retry_after,
    the_deadline_cancels_slow_requests,
    operational_endpoints,
);

/// GraphiQL's introspection query (graphql-js `getIntrospectionQuery()`, descriptions on).
const INTROSPECTION: &str = r#"query IntrospectionQuery { __schema { queryType { name } mutationType { name } subscriptionType { name }
  types { ...FullType } directives { name description locations args { ...InputValue } } } }
fragment FullType on __Type { kind name description fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue } interfaces { ...TypeRef } enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } possibleTypes { ...TypeRef } }
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }"#;
