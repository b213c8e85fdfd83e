//! The principal cache: one account read per credential per second, and its staleness bound —
//! a change made behind an instance's back (another instance, SQL) is in force on every
//! instance within one second, under load.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cdtg_api::auth::cache::{self, PRINCIPAL_TTL};
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::fixture::{Fixture, PASSWORD, users};
use crate::helpers::{Backend, TestApp, TestDb, test_args};
use crate::on_both_databases;

fn without_rate_limits() -> cdtg_api::config::ServeArgs {
    let mut args = test_args();
    // Shared request budgets cost a statement per request on PostgreSQL: off, so the count
    // below is the principal's alone.
    args.rate_limit_per_user = 0.0;
    args.rate_limit_per_address = 0.0;
    args
}

/// Requests with one token read the account at most once a second.
async fn a_burst_reads_the_account_once_a_second(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, without_rate_limits()).await else {
        return;
    };
    Fixture::load(&app).await;
    let token = app.login(users::WARD_A1, PASSWORD).await;
    app.ok(&token, "{ __typename }", json!({})).await;

    const REQUESTS: u64 = 20;
    let before = app.statements();
    let generation = cache::generation();
    let started = Instant::now();
    for _ in 0..REQUESTS {
        app.ok(&token, "{ __typename }", json!({})).await;
    }
    let reads = app.statements() - before;
    // The entry from the warm-up answers until it is a second old, then one read per second;
    // a write to accounts anywhere in this process (another test's server) makes the entry
    // stale, and costs one read more each time.
    let seconds = started.elapsed().as_secs_f64() / PRINCIPAL_TTL.as_secs_f64();
    let changes = cache::generation() - generation;
    let allowed = seconds.ceil() as u64 + 1 + changes;
    assert!(
        reads <= allowed,
        "{reads} statements for {REQUESTS} requests in {:?} (at most {allowed})",
        started.elapsed()
    );
}

/// Two instances under steady load with one account's token; the account is disabled and,
/// separately, another account's session revoked, by SQL (as another instance or an operator
/// would: nothing in these processes hears of it). One second later, every request on both
/// instances is refused.
async fn changes_made_elsewhere_are_in_force_within_the_bound(backend: Backend) {
    let Some(a) = TestApp::spawn_with(backend, without_rate_limits()).await else {
        return;
    };
    let b = TestApp::spawn_on(
        TestDb::Shared {
            url: a.db.url().to_owned(),
        },
        without_rate_limits(),
    )
    .await;
    Fixture::load(&a).await;
    let disabled_token = a.login(users::WARD_A1, PASSWORD).await;
    let revoked_token = a.login(users::DISTRICT_A, PASSWORD).await;
    let apps = Arc::new([a, b]);

    // Load: both tokens on both instances, continuously, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    let mut load = Vec::new();
    for i in 0..2 {
        for token in [disabled_token.clone(), revoked_token.clone()] {
            let (apps, stop, served) = (apps.clone(), stop.clone(), served.clone());
            load.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let (status, body) = apps[i]
                        .gql(Some(&token), "{ me { username } }", json!({}))
                        .await;
                    if status.is_success() && body.get("errors").is_none() {
                        served.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
    }
    // The cache is in use: requests succeed under load before the change.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(served.load(Ordering::Relaxed) > 0, "the load was served");

    let db = sea_orm::Database::connect(apps[0].db.url()).await.unwrap();
    let ward = crate::helpers::user_id(&db, users::WARD_A1).await;
    let district = crate::helpers::user_id(&db, users::DISTRICT_A).await;
    let flag = match backend {
        Backend::Postgres => "true",
        Backend::Sqlite => "1",
    };
    db.execute_unprepared(&format!(
        "UPDATE users SET disabled = {flag} WHERE id = {ward}"
    ))
    .await
    .unwrap();
    db.execute_unprepared(&format!(
        "UPDATE sessions SET revoked_at = CURRENT_TIMESTAMP, revoked_reason = 'LOGOUT' WHERE user_id = {district}"
    ))
    .await
    .unwrap();
    let changed = Instant::now();

    // Past the bound (plus a little for the request itself to start), with the load still on.
    tokio::time::sleep(PRINCIPAL_TTL + Duration::from_millis(50)).await;
    let checked_at = changed.elapsed();
    for app in apps.iter() {
        for token in [&disabled_token, &revoked_token] {
            let (_, body) = app.gql(Some(token), "{ me { username } }", json!({})).await;
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
                "{checked_at:?} after the change, on {}: {body}",
                app.address
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
}

on_both_databases!(
    a_burst_reads_the_account_once_a_second,
    changes_made_elsewhere_are_in_force_within_the_bound,
);
