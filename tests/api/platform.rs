//! Health, GraphiQL, the committed schema, and error hygiene.

use reqwest::StatusCode;
use serde_json::json;

use crate::fixture::{Fixture, PASSWORD, users};
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

#[test]
fn committed_schema_matches_the_server() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql"))
            .expect("schema.graphql at the repository root");
    let current = cdtg_api::graphql::sdl();
    assert!(
        committed == current,
        "schema.graphql is out of date: run `cargo run -p cdtg-api -- schema > schema.graphql` and commit it"
    );
}

async fn health_graphiql_and_redirect(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let res = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .client
        .get(format!("{}/graphiql", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("graphiql"));
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = no_redirects
        .get(format!("{}/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], "/graphiql");
}

async fn only_login_works_without_a_token(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    Fixture::load(&app).await;
    let (status, body) = app.gql(None, "{ groups { totalCount } }", json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    // GET with a query works too, and is refused the same way.
    let res = app
        .client
        .get(format!("{}/graphql?query={{me{{username}}}}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    let token = app.login(users::ADMIN, PASSWORD).await;
    let data = app.ok(&token, "{ me { username role } }", json!({})).await;
    assert_eq!(
        data["me"],
        json!({ "username": "admin", "role": "CITY_ADMIN" })
    );
}

async fn unknown_ids_are_null_and_errors_never_leak_internals(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    Fixture::load(&app).await;
    let token = app.login(users::ADMIN, PASSWORD).await;
    let data = app.ok(&token, r#"{ a: node(id: "R3JvdXA6OTk5OTk") { id } b: group(id: "garbage") { id } c: node(id: "") { id } }"#, json!({})).await;
    assert_eq!(data, json!({ "a": null, "b": null, "c": null }));
    // A syntax error is reported by the parser, never with SQL or panics.
    let (_, body) = app
        .gql(Some(&token), "{ groups(first: ) }", json!({}))
        .await;
    let text = body.to_string().to_lowercase();
    assert!(body["errors"].is_array());
    for leak in ["select ", "sqlx", "panicked", "sea_orm", "database"] {
        assert!(!text.contains(leak), "error text leaks {leak:?}: {body}");
    }
}

/// The conventional root type names, and the `Date` scalar's strict form.
async fn root_types_and_dates_follow_the_conventions(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let token = app.login(users::ADMIN, PASSWORD).await;
    let d = app.ok(&token, "{ __typename }", json!({})).await;
    assert_eq!(d["__typename"], "Query");
    let d = app.ok(&token, "mutation { __typename }", json!({})).await;
    assert_eq!(d["__typename"], "Mutation");
    let d = app
        .ok(
            &token,
            "{ __schema { subscriptionType { name } } __type(name: \"Date\") { kind specifiedByURL } }",
            json!({}),
        )
        .await;
    assert_eq!(d["__schema"]["subscriptionType"]["name"], "Subscription");
    assert_eq!(d["__type"]["kind"], "SCALAR");
    assert!(d["__type"]["specifiedByURL"].as_str().is_some(), "{d}");

    let create = "mutation($i: CreateTaskInput!) { createTask(input: $i) { task { dueOn } } }";
    let group = crate::fixture::gid(cdtg_api::ids::NodeType::Group, f.group_a1);
    let d = app
        .ok(&token, create, json!({ "i": { "groupId": group, "title": "Hạn", "kind": "SURVEY", "dueOn": "2026-12-31" } }))
        .await;
    assert_eq!(d["createTask"]["task"]["dueOn"], "2026-12-31");
    for bad in ["2026-1-5", "31/12/2026", "2026-02-30"] {
        let code = app
            .error_code(Some(&token), create, json!({ "i": { "groupId": group, "title": "Hạn", "kind": "SURVEY", "dueOn": bad } }))
            .await;
        assert_eq!(code, "BAD_USER_INPUT", "{bad}");
    }
}

on_both_databases!(
    root_types_and_dates_follow_the_conventions,
    health_graphiql_and_redirect,
    only_login_works_without_a_token,
    unknown_ids_are_null_and_errors_never_leak_internals
);
