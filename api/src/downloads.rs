//! Spreadsheet downloads over plain HTTP: exports and import templates.
//!
//! - `GET /exports/{kind}.{csv|xlsx}?unitId=…` with `Authorization: Bearer <access token or API
//!   key>` — the same authentication as `/graphql` — or with `?token=…`, a short-lived signed
//!   link from the `createExportLink` mutation (what a browser opened from GraphiQL can follow,
//!   or a script with an API key can hand on); a link dies with the session or key it was made
//!   with.
//!   CSV is streamed as the body while the rows are read; XLSX is written row by row into a
//!   temporary file and sent when complete.
//! - `GET /exports/stats-breakdown.{csv|xlsx}?unitId=…&by=CHILD_UNIT,…`: any `statsBreakdown`
//!   (see `graphql::breakdown_export`).
//! - `GET /templates/{members|groups}.{csv|xlsx}`: an empty sheet with the headings an import
//!   reads. No data, so no credential.
//!
//! Errors are the API's: a JSON body `{ "errors": [ { message, extensions: { code, field } } ] }`
//! with the matching HTTP status; internal detail never leaves the server.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::auth::jwt::{AUDIENCE, ISSUER, JwtKeys};
use crate::error::{ApiError, ApiResult};
use crate::ids::{NodeType, decode};
use crate::principal::{Credential, Principal};
use crate::service::export::{self, ExportKind, ExportRequest};
use crate::sheets::columns::{GROUP_COLUMNS, MEMBER_COLUMNS};
use crate::sheets::write::{CsvRows, Out, SheetFormat, XlsxRows};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/exports/{file}", web::get().to(export_file))
        .route("/templates/{file}", web::get().to(template));
}

/// The claims of a signed export link.
#[derive(Debug, Serialize, Deserialize)]
struct LinkClaims {
    sub: String,
    /// The session the link was made in: the link dies with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    /// Or the API key it was made with: the link dies with the key (revoked, expired), and
    /// acts with the key's role and scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<i64>,
    iss: String,
    aud: String,
    exp: i64,
    iat: i64,
    typ: String,
    req: ExportRequest,
}

const LINK_TYPE: &str = "export-link";

/// The path of an export (`/exports/roster.xlsx?unitId=…`): what [`request_of`] reads back
/// into the same request.
fn export_path(r: &ExportRequest) -> String {
    let mut params = vec![];
    if let Some(unit) = r.unit_id {
        params.push(format!(
            "unitId={}",
            crate::ids::encode(NodeType::AdminUnit, unit).0
        ));
    }
    if let Some(b) = &r.breakdown {
        params.push(format!("by={}", b.by.join(",")));
        if !b.fields.is_empty() {
            params.push(format!("fields={}", b.fields.join(",")));
        }
        for (name, day) in [("from", b.from), ("to", b.to), ("asOf", b.as_of)] {
            if let Some(d) = day {
                params.push(format!("{name}={d}"));
            }
        }
        if let Some(limit) = b.limit {
            params.push(format!("limit={limit}"));
        }
    }
    let mut path = format!("/exports/{}.{}", r.kind.slug(), r.format.extension());
    if !params.is_empty() {
        path.push('?');
        path.push_str(&params.join("&"));
    }
    path
}

/// The breakdown a stats export's query string asks for.
fn breakdown_of(query: &HashMap<String, String>) -> ApiResult<export::BreakdownSpec> {
    let list = |name: &str| -> Vec<String> {
        query
            .get(name)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let day = |name: &'static str| -> ApiResult<Option<chrono::NaiveDate>> {
        query
            .get(name)
            .map(|v| {
                chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
                    .map_err(|_| ApiError::bad_input(name, "must be a date (YYYY-MM-DD)"))
            })
            .transpose()
    };
    let limit = query
        .get("limit")
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| ApiError::bad_input("limit", "must be a whole number"))
        })
        .transpose()?;
    let spec = export::BreakdownSpec {
        by: list("by"),
        fields: list("fields"),
        from: day("from")?,
        to: day("to")?,
        as_of: day("asOf")?,
        limit,
    };
    crate::graphql::breakdown_export::dims(&spec)?;
    Ok(spec)
}

/// A signed link to `r` acting as `p`, valid for `ttl_secs`.
pub fn sign_link(
    keys: &JwtKeys,
    p: &Principal,
    r: &ExportRequest,
    ttl_secs: i64,
) -> ApiResult<(String, chrono::DateTime<chrono::Utc>)> {
    let (sid, key) = match &p.credential {
        Credential::Session { id } => (Some(id.clone()), None),
        Credential::ApiKey { id, .. } => (None, Some(*id)),
        Credential::System => {
            return Err(ApiError::forbidden(
                "links are made for a signed-in session or an API key",
            ));
        }
    };
    let now = chrono::Utc::now();
    let exp = now + chrono::Duration::seconds(ttl_secs.max(1));
    let claims = LinkClaims {
        sub: p.user_id.to_string(),
        sid,
        key,
        iss: ISSUER.to_owned(),
        aud: AUDIENCE.to_owned(),
        exp: exp.timestamp(),
        iat: now.timestamp(),
        typ: LINK_TYPE.to_owned(),
        req: r.clone(),
    };
    let token = keys.sign_other(&claims)?;
    let path = export_path(r);
    let sep = if path.contains('?') { '&' } else { '?' };
    Ok((format!("{path}{sep}token={token}"), exp))
}

/// `roster.xlsx` → (kind, format).
fn parse_file<T>(file: &str, kind: impl Fn(&str) -> Option<T>) -> ApiResult<(T, SheetFormat)> {
    let (name, ext) = file
        .rsplit_once('.')
        .ok_or_else(|| ApiError::bad_input("format", "end the path with .csv or .xlsx"))?;
    let format = SheetFormat::parse(ext)
        .ok_or_else(|| ApiError::bad_input("format", "must be csv or xlsx"))?;
    let kind = kind(name).ok_or(ApiError::NotFound("export"))?;
    Ok((kind, format))
}

fn error_response(err: ApiError, rid: &str) -> HttpResponse {
    let status = match &err {
        ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
        ApiError::NotFound(_) => StatusCode::NOT_FOUND,
        ApiError::BadUserInput { .. } => StatusCode::BAD_REQUEST,
        ApiError::Conflict(_) | ApiError::Duplicate { .. } => StatusCode::CONFLICT,
        ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        ApiError::Unavailable | ApiError::TimedOut => StatusCode::SERVICE_UNAVAILABLE,
        ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let mut res = HttpResponse::build(status);
    res.insert_header(("x-request-id", rid.to_owned()));
    if status == StatusCode::UNAUTHORIZED {
        res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
    }
    if let ApiError::RateLimited { retry_after_secs } = &err {
        res.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
    }
    res.json(serde_json::json!({ "errors": [crate::pipeline::error_json(err)] }))
}

/// The caller: a bearer credential exactly as `/graphql` checks it, or a signed link.
async fn caller(
    state: &AppState,
    req: &HttpRequest,
    query: &HashMap<String, String>,
) -> ApiResult<(Principal, Option<ExportRequest>)> {
    let rid = crate::transport::request_id(req);
    let (mut p, linked) = match (crate::transport::bearer(req)?, query.get("token")) {
        (Some(token), _) => (
            crate::auth::authenticate(&state.db, &state.keys, &token).await?,
            None,
        ),
        (None, Some(link)) => {
            let claims: LinkClaims = state.keys.verify_other(link)?;
            if claims.typ != LINK_TYPE {
                return Err(ApiError::Unauthenticated("invalid or expired link"));
            }
            let user_id: i64 = claims
                .sub
                .parse()
                .map_err(|_| ApiError::Unauthenticated("invalid or expired link"))?;
            let p = match (claims.sid, claims.key) {
                (Some(sid), None) => {
                    let user = crate::service::users::get(&state.db, user_id)
                        .await?
                        .ok_or(ApiError::Unauthenticated("invalid or expired link"))?;
                    if !crate::auth::session::is_live(&state.db, &sid).await? {
                        return Err(ApiError::Unauthenticated(
                            "the session has ended; sign in again",
                        ));
                    }
                    let credential = Credential::Session { id: sid };
                    crate::auth::principal_for(&state.db, &user, credential).await?
                }
                // Revoked, expired or its creator disabled: refused as the key itself would be.
                (None, Some(key)) => {
                    let p = crate::auth::api_key::principal_of_key(&state.db, key).await?;
                    if p.user_id != user_id {
                        return Err(ApiError::Unauthenticated("invalid or expired link"));
                    }
                    p
                }
                _ => return Err(ApiError::Unauthenticated("invalid or expired link")),
            };
            (p, Some(claims.req))
        }
        (None, None) => {
            return Err(ApiError::Unauthenticated(
                "send Authorization: Bearer <token or API key>, or use a link from createExportLink",
            ));
        }
    };
    if p.must_change_password {
        return Err(ApiError::forbidden(
            "the password was reset: choose a new one with changePassword before anything else",
        ));
    }
    if let Err(retry_after_secs) = state
        .rate_limiter
        .admit(Some(p.rate_subject()), &state.proxies.client_address(req))
        .await
    {
        return Err(ApiError::RateLimited { retry_after_secs });
    }
    p.request_id = Some(rid);
    Ok((p, linked))
}

/// `GET /exports/{kind}.{format}`.
async fn export_file(
    state: web::Data<AppState>,
    schema: web::Data<crate::graphql::CdtgSchema>,
    req: HttpRequest,
    file: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let rid = crate::transport::request_id(&req);
    match export_response(&state, &schema, &req, &file, &query).await {
        Ok(res) => res,
        Err(e) => error_response(e, &rid),
    }
}

async fn export_response(
    state: &AppState,
    schema: &crate::graphql::CdtgSchema,
    req: &HttpRequest,
    file: &str,
    query: &HashMap<String, String>,
) -> ApiResult<HttpResponse> {
    let (p, linked) = caller(state, req, query).await?;
    let (kind, format) = parse_file(file, ExportKind::parse)?;
    let unit_id = query
        .get("unitId")
        .map(|id| {
            decode(NodeType::AdminUnit, id)
                .ok_or_else(|| ApiError::bad_input("unitId", "is not an AdminUnit ID"))
        })
        .transpose()?;
    let breakdown = match kind {
        ExportKind::StatsBreakdown => Some(breakdown_of(query)?),
        _ => None,
    };
    let request = ExportRequest {
        kind,
        format,
        unit_id,
        breakdown,
    };
    // A link exports exactly what it was made for.
    if let Some(signed) = linked
        && signed != request
    {
        return Err(ApiError::forbidden("the link was made for another export"));
    }
    let read = state.read_db(Some(p.rate_subject()));
    let export = match (&request.breakdown, request.unit_id) {
        (Some(spec), Some(unit)) => {
            export::check(&state.db, &p, &request).await?;
            crate::graphql::breakdown_export::export(
                schema, &state.db, read, &p, unit, spec, format,
            )
            .await?
        }
        (Some(_), None) => {
            return Err(ApiError::bad_input("unitId", "name the unit to break down"));
        }
        (None, _) => export::start(&state.db, read, &p, &request).await?,
    };
    let disposition = format!("attachment; filename=\"{}\"", export.filename);
    let rid = p.request_id.clone().unwrap_or_default();
    match format {
        SheetFormat::Csv => Ok(HttpResponse::Ok()
            .content_type(format.content_type())
            .insert_header((header::CONTENT_DISPOSITION, disposition))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header(("x-request-id", rid))
            .streaming(csv_body(export))),
        SheetFormat::Xlsx => {
            let bytes = xlsx_file(export).await?;
            Ok(HttpResponse::Ok()
                .content_type(format.content_type())
                .insert_header((header::CONTENT_DISPOSITION, disposition))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header(("x-request-id", rid))
                .body(bytes))
        }
    }
}

/// The CSV body, written chunk by chunk as the rows are read. An error after the first bytes
/// cannot change the status any more: it is logged and the body ends early (the client sees a
/// truncated download, never internal text).
fn csv_body(
    export: export::Export,
) -> impl futures_util::Stream<Item = Result<web::Bytes, actix_web::Error>> {
    async_stream::stream! {
        let _trim = crate::memory::TrimWhenDone;
        let mut csv = CsvRows::new();
        let headings: Vec<Out> = export.headings.iter().map(|h| Out::text(*h)).collect();
        if let Err(e) = csv.row(&headings) {
            tracing::error!(error = ?e, "export failed");
            return;
        }
        let mut rows = export.rows;
        while let Some(chunk) = rows.next().await {
            let written = chunk.and_then(|chunk| {
                for row in &chunk {
                    csv.row(row)?;
                }
                csv.take()
            });
            match written {
                Ok(bytes) => yield Ok(web::Bytes::from(bytes)),
                Err(e) => {
                    tracing::error!(error = ?e, "export failed part-way; the download is cut short");
                    return;
                }
            }
        }
        if let Ok(bytes) = csv.take()
            && !bytes.is_empty()
        {
            yield Ok(web::Bytes::from(bytes));
        }
    }
}

/// The XLSX file: rows go into the workbook's temporary file as they are read; the finished
/// (compressed) workbook is what is kept in memory to send.
async fn xlsx_file(export: export::Export) -> ApiResult<Vec<u8>> {
    let _trim = crate::memory::TrimWhenDone;
    let mut book = XlsxRows::new("Sheet1")?;
    book.heading(&export.headings)?;
    let mut rows = export.rows;
    while let Some(chunk) = rows.next().await {
        for row in &chunk? {
            book.row(row)?;
        }
    }
    tokio::task::spawn_blocking(move || {
        let file = tempfile::NamedTempFile::new()
            .map_err(|e| ApiError::Internal(format!("temporary file: {e}")))?;
        book.save(file.path())?;
        std::fs::read(file.path()).map_err(|e| ApiError::Internal(format!("reading back: {e}")))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("writing a workbook: {e}")))?
}

/// An empty import sheet: the headings, the required ones first.
pub fn template_bytes(kind: &str, format: SheetFormat) -> ApiResult<Vec<u8>> {
    let specs = match kind {
        "members" => MEMBER_COLUMNS,
        "groups" => GROUP_COLUMNS,
        _ => return Err(ApiError::NotFound("template")),
    };
    let headings: Vec<&str> = specs.iter().map(|s| s.heading).collect();
    match format {
        SheetFormat::Csv => {
            let mut csv = CsvRows::new();
            csv.row(&headings.iter().map(|h| Out::text(*h)).collect::<Vec<_>>())?;
            csv.take()
        }
        SheetFormat::Xlsx => {
            let mut book = XlsxRows::new(if kind == "members" {
                "Thành viên"
            } else {
                "Tổ"
            })?;
            book.heading(&headings)?;
            book.into_bytes()
        }
    }
}

/// `GET /templates/{members|groups}.{csv|xlsx}`.
async fn template(req: HttpRequest, file: web::Path<String>) -> HttpResponse {
    let rid = crate::transport::request_id(&req);
    let result = parse_file(&file, |k| {
        matches!(k, "members" | "groups").then(|| k.to_owned())
    })
    .and_then(|(kind, format)| template_bytes(&kind, format).map(|bytes| (kind, format, bytes)));
    match result {
        Ok((kind, format, bytes)) => HttpResponse::Ok()
            .content_type(format.content_type())
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{kind}-template.{}\"",
                    format.extension()
                ),
            ))
            .body(bytes),
        Err(e) => error_response(e, &rid),
    }
}
