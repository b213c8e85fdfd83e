//! The benchmark floor: what this hardware can do for the benchmark's questions with no
//! GraphQL layer at all. Each endpoint runs ONE hand-written PostgreSQL statement (in
//! `sql/qN.sql`) that builds the whole answer as JSON inside the database, and returns those
//! bytes untouched. No auth, no policy, no ORM, no query parsing: a lower bound for CDTG.
//!
//! Configuration (environment): `FLOOR_DATABASE_URL` (a `postgres://` URL), `FLOOR_BIND`
//! (default `127.0.0.1:8090`), `FLOOR_WORKERS` (default: one per core), `FLOOR_DB_MAX_CONNECTIONS`
//! (default 16, like CDTG).

use actix_web::{App, HttpResponse, HttpServer, post, web};
use serde::Deserialize;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

const Q1: &str = include_str!("../sql/q1.sql");
const Q2: &str = include_str!("../sql/q2.sql");
const Q3: &str = include_str!("../sql/q3.sql");
const Q4: &str = include_str!("../sql/q4.sql");
const Q5: &str = include_str!("../sql/q5.sql");
const Q6: &str = include_str!("../sql/q6.sql");

/// The parameters of every query; each endpoint reads the ones it needs.
#[derive(Debug, Deserialize)]
struct Params {
    /// Row id of the group (Q1), ward (Q2), city (Q3), district (Q4) or task (Q6).
    #[serde(default)]
    id: i64,
    /// Q5: the folded search text.
    #[serde(default)]
    search: String,
    /// Q4 and Q5: page size.
    #[serde(default)]
    first: i64,
    /// Q6: residents helped.
    #[serde(default)]
    residents: i32,
    /// Q6: when the session happened (RFC 3339).
    #[serde(default)]
    occurred_at: String,
    /// Q6: the idempotency key.
    #[serde(default)]
    key: String,
}

/// Turns the statement's single text column into the response: 200 with the JSON bytes, 404
/// when the statement found nothing (e.g. a task that no longer accepts reports), 500 with
/// the error otherwise (the harness counts every non-200 as a failure).
fn respond(result: Result<Option<String>, sqlx::Error>) -> HttpResponse {
    match result {
        Ok(Some(json)) => HttpResponse::Ok()
            .content_type("application/json")
            .body(json),
        Ok(None) => HttpResponse::NotFound().body(r#"{"errors":[{"message":"not found"}]}"#),
        Err(e) => HttpResponse::InternalServerError().body(format!(
            r#"{{"errors":[{{"message":{:?}}}]}}"#,
            e.to_string()
        )),
    }
}

async fn one_id(pool: &PgPool, sql: &'static str, id: i64) -> HttpResponse {
    respond(
        sqlx::query_scalar::<_, String>(sql)
            .bind(id)
            .fetch_optional(pool)
            .await,
    )
}

#[post("/q1")]
async fn q1(pool: web::Data<PgPool>, p: web::Json<Params>) -> HttpResponse {
    one_id(&pool, Q1, p.id).await
}

#[post("/q2")]
async fn q2(pool: web::Data<PgPool>, p: web::Json<Params>) -> HttpResponse {
    one_id(&pool, Q2, p.id).await
}

#[post("/q3")]
async fn q3(pool: web::Data<PgPool>, p: web::Json<Params>) -> HttpResponse {
    one_id(&pool, Q3, p.id).await
}

#[post("/q4")]
async fn q4(pool: web::Data<PgPool>, p: web::Json<Params>) -> HttpResponse {
    respond(
        sqlx::query_scalar::<_, String>(Q4)
            .bind(p.id)
            .bind(p.first)
            .fetch_optional(pool.get_ref())
            .await,
    )
}

#[post("/q5")]
async fn q5(pool: web::Data<PgPool>, p: web::Json<Params>) -> HttpResponse {
    respond(
        sqlx::query_scalar::<_, String>(Q5)
            .bind(&p.search)
            .bind(p.first)
            .fetch_optional(pool.get_ref())
            .await,
    )
}

#[post("/q6")]
async fn q6(pool: web::Data<PgPool>, p: web::Json<Params>) -> HttpResponse {
    respond(
        sqlx::query_scalar::<_, String>(Q6)
            .bind(p.id)
            .bind(p.residents)
            .bind(&p.occurred_at)
            .bind(&p.key)
            .fetch_optional(pool.get_ref())
            .await,
    )
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let url = std::env::var("FLOOR_DATABASE_URL")
        .map_err(|_| std::io::Error::other("FLOOR_DATABASE_URL is not set"))?;
    let bind: String = env_or("FLOOR_BIND", "127.0.0.1:8090".to_owned());
    let workers: usize = env_or(
        "FLOOR_WORKERS",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    let pool = PgPoolOptions::new()
        .max_connections(env_or("FLOOR_DB_MAX_CONNECTIONS", 16))
        .connect(&url)
        .await
        .map_err(std::io::Error::other)?;
    let pool = web::Data::new(pool);
    println!("floor listening on {bind}");
    HttpServer::new(move || {
        App::new()
            .app_data(pool.clone())
            .app_data(web::JsonConfig::default().limit(64 * 1024))
            .service(q1)
            .service(q2)
            .service(q3)
            .service(q4)
            .service(q5)
            .service(q6)
    })
    .workers(workers)
    .bind(bind)?
    .run()
    .await
}
