//! Several instances on one database, as behind a load balancer: budgets that hold across
//! instances, task events heard on every instance, and subscriptions that resume where they
//! stopped.

use std::time::Duration;

use cdtg_api::config::SharedBudgets;
use cdtg_api::ids::NodeType;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixture::{Fixture, PASSWORD, gid, users};
use crate::helpers::{Backend, TestApp, TestDb, test_args};
use crate::on_both_databases;
use crate::ws::WsClient;

const LOGIN: &str = "mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) { accessToken } }";
const CREATE: &str =
    "mutation($i: CreateTaskInput!) { createTask(input: $i) { task { id version } } }";
const TRANSITION: &str =
    "mutation($i: TransitionTaskInput!) { transitionTask(input: $i) { task { status } } }";
const REPORT: &str = "mutation($i: ReportActivityInput!) { reportActivity(input: $i) { created } }";
const EVENTS: &str = "subscription($g: ID, $after: ID) { taskEvents(groupId: $g, after: $after) { id kind task { title } } }";

/// `n` instances on one fresh database (the first owns it).
async fn instances(
    backend: Backend,
    n: usize,
    args: cdtg_api::config::ServeArgs,
) -> Option<Vec<TestApp>> {
    let first = TestApp::spawn_with(backend, args.clone()).await?;
    let url = first.db.url().to_owned();
    let mut all = vec![first];
    for _ in 1..n {
        all.push(TestApp::spawn_on(TestDb::Shared { url: url.clone() }, args.clone()).await);
    }
    Some(all)
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

async fn guess(app: &TestApp, username: &str, password: &str) -> Value {
    app.gql(None, LOGIN, json!({ "u": username, "p": password }))
        .await
        .1
}

/// Five wrong passwords spread over three instances spend the pair's whole budget: the sixth
/// guess is refused on whichever instance gets it, and so is the right password from the same
/// address until the lock ends.
async fn login_guesses_over_three_instances_share_one_budget(backend: Backend) {
    let Some(apps) = instances(backend, 3, test_args()).await else {
        return;
    };
    Fixture::load(&apps[0]).await;
    for i in 0..5 {
        let body = guess(&apps[i % 3], users::LEADER_A1, "wrong-guess").await;
        assert_eq!(code(&body), "UNAUTHENTICATED", "guess {i}: {body}");
    }
    for (i, app) in apps.iter().enumerate() {
        let body = guess(app, users::LEADER_A1, "wrong-guess").await;
        assert_eq!(code(&body), "RATE_LIMITED", "instance {i}: {body}");
        assert!(body["errors"][0]["extensions"]["retryAfter"].as_u64() >= Some(1));
    }
    let body = guess(&apps[1], users::LEADER_A1, PASSWORD).await;
    assert_eq!(code(&body), "RATE_LIMITED", "the pair is locked: {body}");
    // Another account from the same address is not held by this pair's failures.
    apps[2].login(users::WARD_A1, PASSWORD).await;
}

/// The same with budgets kept per instance: each instance counts only what it saw — the
/// reason the shared store exists.
async fn budgets_kept_in_memory_are_per_instance(backend: Backend) {
    let mut args = test_args();
    args.shared_budgets = SharedBudgets::Memory;
    let Some(apps) = instances(backend, 2, args).await else {
        return;
    };
    Fixture::load(&apps[0]).await;
    for i in 0..10 {
        let body = guess(&apps[i % 2], users::LEADER_A1, "wrong-guess").await;
        assert_eq!(code(&body), "UNAUTHENTICATED", "guess {i}: {body}");
    }
    let body = guess(&apps[0], users::LEADER_A1, "wrong-guess").await;
    assert_eq!(code(&body), "RATE_LIMITED", "{body}");
}

/// One request a second with bursts of five, per user: spread over two instances, the sixth
/// request in a burst is refused by either.
async fn request_budgets_hold_across_instances(backend: Backend) {
    let mut args = test_args();
    args.rate_limit_per_user = 1.0;
    let Some(apps) = instances(backend, 2, args).await else {
        return;
    };
    Fixture::load(&apps[0]).await;
    let token = apps[0].login(users::ADMIN, PASSWORD).await;
    let mut statuses = vec![];
    for i in 0..8 {
        let (status, body) = apps[i % 2]
            .gql(Some(&token), "{ me { username } }", json!({}))
            .await;
        statuses.push((status, code(&body).to_owned()));
    }
    let admitted = statuses
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .count();
    let refused = statuses
        .iter()
        .filter(|(s, c)| *s == StatusCode::TOO_MANY_REQUESTS && c == "RATE_LIMITED")
        .count();
    // Five in the burst, perhaps one more refilled while the eight ran; never ten.
    assert!((5..=6).contains(&admitted), "{statuses:?}");
    assert_eq!(admitted + refused, 8, "{statuses:?}");
    // Both instances refused some: the budget is one.
    assert!(
        statuses[5..]
            .iter()
            .any(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}

async fn shared_budgets_on_sqlite_are_refused_at_start() {
    let db = TestDb::create(Backend::Sqlite).await.expect("SQLite");
    let mut args = test_args();
    args.shared_budgets = SharedBudgets::Database;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = cdtg_api::startup::Application::build(db.url(), &args, listener)
        .await
        .err()
        .expect("refused");
    assert!(err.contains("needs PostgreSQL"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_cannot_share_budgets() {
    shared_budgets_on_sqlite_are_refused_at_start().await;
}

/// A subscriber that lost its connection resumes after the last event it received and gets
/// exactly what happened meanwhile, in order; a fresh subscription gets nothing from the past;
/// an id that is not one is refused.
async fn a_resumed_subscription_receives_what_it_missed(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let leader = app.login(users::LEADER_A1, PASSWORD).await;
    let group = gid(NodeType::Group, f.group_a1);

    let mut ws = WsClient::connect(&app, &leader).await.unwrap();
    ws.subscribe("1", EVENTS, json!({ "g": group })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let d = app
        .ok(&ward, CREATE, json!({ "i": { "groupId": group, "title": "Trước khi mất sóng", "kind": "APP_INSTALL", "target": 10 } }))
        .await;
    let task = d["createTask"]["task"]["id"].clone();
    let first = ws
        .next_data(Duration::from_secs(5))
        .await
        .expect("assigned");
    assert_eq!(first["taskEvents"]["kind"], "ASSIGNED");
    let last_seen = first["taskEvents"]["id"].as_str().unwrap().to_owned();
    drop(ws);

    // While the phone is away: the task is started and a report is recorded.
    app.ok(
        &leader,
        TRANSITION,
        json!({ "i": { "id": task, "action": "START", "expectedVersion": 1 } }),
    )
    .await;
    app.ok(&leader, REPORT, json!({ "i": { "idempotencyKey": "resume-0001", "taskId": task, "occurredAt": "2026-11-20T02:30:00Z", "residentsHelped": 2, "outcomes": [] } }))
        .await;

    let mut ws = WsClient::connect(&app, &leader).await.unwrap();
    ws.subscribe("1", EVENTS, json!({ "g": group, "after": last_seen }))
        .await;
    let mut kinds = vec![];
    let mut ids = vec![];
    while let Some(e) = ws.next_data(Duration::from_secs(2)).await {
        let id: i64 = e["taskEvents"]["id"].as_str().unwrap().parse().unwrap();
        // Events shortly before the resume point may come again; the client skips them.
        if id > last_seen.parse::<i64>().unwrap() {
            kinds.push(e["taskEvents"]["kind"].as_str().unwrap().to_owned());
            ids.push(id);
        }
    }
    assert_eq!(kinds, ["TRANSITIONED", "ACTIVITY_REPORTED"]);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order: {ids:?}");

    // A fresh subscription starts now: nothing from the past.
    let mut fresh = WsClient::connect(&app, &leader).await.unwrap();
    fresh.subscribe("1", EVENTS, json!({ "g": group })).await;
    assert!(fresh.next_data(Duration::from_millis(800)).await.is_none());

    // Someone outside the group's unit replaying the whole log hears the events of their own
    // units only: none of these.
    let outsider = app.login(users::WARD_B1, PASSWORD).await;
    let mut theirs = WsClient::connect(&app, &outsider).await.unwrap();
    theirs.subscribe("1", EVENTS, json!({ "after": "0" })).await;
    let mut heard = vec![];
    while let Some(e) = theirs.next_data(Duration::from_millis(800)).await {
        heard.push(e["taskEvents"]["task"]["title"].clone());
    }
    assert!(!heard.contains(&json!("Trước khi mất sóng")), "{heard:?}");
    // The ward leader of the group's own ward, replaying from 0, hears all three.
    let mut own = WsClient::connect(&app, &ward).await.unwrap();
    own.subscribe("1", EVENTS, json!({ "after": "0" })).await;
    let mut ours = 0;
    // Generous while the three are due (a loaded machine can take a second to replay), then a
    // short wait for any more.
    loop {
        let wait = if ours < 3 { 5_000 } else { 500 };
        let Some(e) = own.next_data(Duration::from_millis(wait)).await else {
            break;
        };
        if e["taskEvents"]["task"]["title"] == "Trước khi mất sóng" {
            ours += 1;
        }
    }
    assert_eq!(ours, 3);

    let mut bad = WsClient::connect(&app, &leader).await.unwrap();
    bad.subscribe("1", EVENTS, json!({ "after": "not-an-id" }))
        .await;
    let m = bad
        .next_message(Duration::from_secs(5))
        .await
        .expect("an answer");
    // A resolver's error, as graphql-transport-ws carries it: in a `next` with `errors`.
    let error = &m["payload"]["errors"][0]["extensions"];
    assert_eq!(error["code"], "BAD_USER_INPUT", "{m}");
    assert_eq!(error["field"], "after", "{m}");
}

/// A subscriber connected to one instance hears a change committed through another.
async fn a_subscriber_hears_writes_through_any_instance(backend: Backend) {
    let Some(apps) = instances(backend, 2, test_args()).await else {
        return;
    };
    let f = Fixture::load(&apps[0]).await;
    let leader = apps[0].login(users::LEADER_A1, PASSWORD).await;
    let ward = apps[1].login(users::WARD_A1, PASSWORD).await;
    let group = gid(NodeType::Group, f.group_a1);
    let mut ws = WsClient::connect(&apps[0], &leader).await.unwrap();
    ws.subscribe("1", EVENTS, json!({ "g": group })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    apps[1]
        .ok(
            &ward,
            CREATE,
            json!({ "i": { "groupId": group, "title": "Qua máy khác", "kind": "SURVEY" } }),
        )
        .await;
    let e = ws
        .next_data(Duration::from_secs(5))
        .await
        .expect("the event crosses instances");
    assert_eq!(e["taskEvents"]["task"]["title"], "Qua máy khác", "{e}");
}

on_both_databases!(
    a_resumed_subscription_receives_what_it_missed,
    budgets_kept_in_memory_are_per_instance,
);

/// Shared budgets and cross-instance events are PostgreSQL's: on SQLite one process serves
/// the database (and `sqlite_cannot_share_budgets` checks that asking for more is refused).
mod postgres_only {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn login_guesses_over_three_instances_share_one_budget() {
        super::login_guesses_over_three_instances_share_one_budget(Backend::Postgres).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn request_budgets_hold_across_instances() {
        super::request_budgets_hold_across_instances(Backend::Postgres).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_subscriber_hears_writes_through_any_instance() {
        super::a_subscriber_hears_writes_through_any_instance(Backend::Postgres).await
    }
}
