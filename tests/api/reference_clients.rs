//! Real clients against the real server: the `graphql-http` audit suite (GraphQL-over-HTTP
//! conformance) and the `graphql-ws` subscription client, both on Node. The npm packages are
//! pinned in tests/node/package-lock.json; `.ci/run` installs them. Without them (and outside
//! CI) these tests say they are skipped.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use cdtg_api::ids::NodeType;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::fixture::{Fixture, PASSWORD, gid, users};
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

fn node_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/node"));
    let ready = dir.join("node_modules/graphql-http").exists()
        && std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_ok();
    if ready {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("tests/node is not installed: run `npm ci --prefix tests/node` (.ci/run does)");
    }
    eprintln!("skipped: Node reference clients not installed (npm ci --prefix tests/node)");
    None
}

async fn graphql_http_audit_has_no_failed_must(backend: Backend) {
    let Some(dir) = node_dir() else { return };
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    Fixture::load(&app).await;
    let token = app.login(users::ADMIN, PASSWORD).await;
    let out = tokio::process::Command::new("node")
        .arg(dir.join("audit.mjs"))
        .arg(format!("{}/graphql", app.address))
        .arg(&token)
        .output()
        .await
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "MUST audits failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("MUST: ") && stdout.contains(", 0 not met"),
        "{stdout}"
    );
    let must_ok: usize = stdout
        .lines()
        .find_map(|l| l.strip_prefix("MUST: "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(must_ok >= 10, "the audit ran its MUST checks: {stdout}");
}

async fn graphql_ws_reference_client_receives_task_events(backend: Backend) {
    let Some(dir) = node_dir() else { return };
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let leader = app.login(users::LEADER_A1, PASSWORD).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let mut child = tokio::process::Command::new("node")
        .arg(dir.join("subscribe.mjs"))
        .arg(format!("ws://127.0.0.1:{}/graphql", app.port))
        .arg(&leader)
        .arg(gid(NodeType::Group, f.group_a1))
        .arg("2")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run node");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("client connects")
        .unwrap();
    assert_eq!(ready.as_deref(), Some("ready"));
    // The subscribe message follows connection_ack; give the server a moment to register it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let create = "mutation($i: CreateTaskInput!) { createTask(input: $i) { task { id } } }";
    let d = app.ok(&ward, create, json!({ "i": { "groupId": gid(NodeType::Group, f.group_a1), "title": "Qua graphql-ws", "kind": "SURVEY" } })).await;
    let id = d["createTask"]["task"]["id"].clone();
    let next = async |lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>| {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("an event in time")
            .unwrap()
            .expect("a line");
        serde_json::from_str::<serde_json::Value>(&line).unwrap()
    };
    // Events carry the task as it is when delivered: read the first before changing it again.
    let first = next(&mut lines).await;
    app.ok(
        &leader,
        "mutation($i: TransitionTaskInput!) { transitionTask(input: $i) { task { status } } }",
        json!({ "i": { "id": id, "action": "START", "expectedVersion": 1 } }),
    )
    .await;
    let second = next(&mut lines).await;
    let events = vec![first, second];
    let status = child.wait().await.unwrap();
    assert!(
        status.success(),
        "the client exits cleanly after two events: {events:?}"
    );
    assert_eq!(
        events,
        vec![
            json!({ "data": { "taskEvents": { "kind": "ASSIGNED", "task": { "title": "Qua graphql-ws", "status": "OPEN" } } } }),
            json!({ "data": { "taskEvents": { "kind": "TRANSITIONED", "task": { "title": "Qua graphql-ws", "status": "IN_PROGRESS" } } } }),
        ]
    );
}

on_both_databases!(
    graphql_http_audit_has_no_failed_must,
    graphql_ws_reference_client_receives_task_events
);
