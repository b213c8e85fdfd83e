//! Any `statsBreakdown` as a spreadsheet: the breakdown is run through the schema exactly as a
//! client would ask for it — same access, scope, validation and figures — and its rows become
//! sheet rows, one column per key and per figure.
//!
//! Asked for at `GET /exports/stats-breakdown.{csv|xlsx}?unitId=…&by=CHILD_UNIT,TASK_STATUS`
//! (optionally `fields=groups,members,…`, `from`/`to` or `asOf` as `YYYY-MM-DD`, `limit`), or
//! through `createExportLink` with `kind: STATS_BREAKDOWN` and `breakdown: {…}`. Without
//! `fields`, every figure the dimensions apply to is exported.

use async_graphql::Request;
use chrono::NaiveDate;
use serde_json::{Value, json};

use super::CdtgSchema;
use super::context::{ClientInfo, OperationDb, Session};
use crate::error::{ApiError, ApiResult};
use crate::principal::Principal;
use crate::service::audit::{self, Touched};
use crate::service::export::{BreakdownSpec, Export};
use crate::service::stats::{Dim, Family};
use crate::sheets::write::{Out, SheetFormat};

/// A dimension's key column: its `StatsRow` selection and heading.
fn key_column(dim: Dim) -> (&'static str, &'static str) {
    match dim {
        Dim::ChildUnit => ("unit { name }", "Đơn vị"),
        Dim::Group => ("group { name }", "Tổ"),
        Dim::TaskKind => ("taskKind", "Loại nhiệm vụ"),
        Dim::TaskStatus => ("taskStatus", "Trạng thái nhiệm vụ"),
        Dim::Platform => ("platform", "Sàn"),
        Dim::Affiliation => ("affiliation", "Đoàn thể"),
        Dim::Month => ("month", "Tháng"),
        Dim::Week => ("week", "Tuần"),
        Dim::Day => ("day", "Ngày"),
        Dim::Indicator => ("indicator", "Chỉ tiêu"),
    }
}

/// Every scalar figure of `UnitStats` an export can hold: its field, heading and family.
pub const FIGURES: &[(&str, &str, Family)] = &[
    ("groups", "Số tổ", Family::Groups),
    ("managementTeams", "Ban chỉ đạo", Family::Groups),
    ("activeGroups", "Tổ hoạt động", Family::Groups),
    ("members", "Thành viên", Family::Members),
    ("trainedMembers", "Thành viên đã tập huấn", Family::Members),
    ("tasks", "Nhiệm vụ", Family::Tasks),
    ("tasksOverdue", "Nhiệm vụ quá hạn", Family::OverdueTasks),
    ("taskCompletionRate", "Tỷ lệ hoàn thành", Family::Tasks),
    ("activities", "Lượt hỗ trợ", Family::Activities),
    (
        "residentsHelped",
        "Người dân được hỗ trợ",
        Family::Activities,
    ),
    ("vneidActivations", "Kích hoạt VNeID", Family::Activities),
    (
        "onlineDossiersSubmitted",
        "Hồ sơ trực tuyến",
        Family::Outcomes,
    ),
    (
        "cashlessAccountsOpened",
        "Tài khoản thanh toán",
        Family::Outcomes,
    ),
    (
        "ecommerceAccountsCreated",
        "Tài khoản TMĐT",
        Family::Outcomes,
    ),
    ("peopleTrained", "Người được tập huấn", Family::Outcomes),
    ("products", "Sản phẩm", Family::Products),
    ("listings", "Gian hàng", Family::Listings),
    ("activeListings", "Gian hàng đang bán", Family::Listings),
    ("surveyedUnits", "Đơn vị đã khảo sát", Family::Surveys),
    ("households", "Hộ gia đình", Family::Surveys),
    ("internetRate", "Tỷ lệ hộ có Internet", Family::Surveys),
    ("computerRate", "Tỷ lệ hộ có máy tính", Family::Surveys),
    (
        "smartphoneRate",
        "Tỷ lệ có điện thoại thông minh",
        Family::Surveys,
    ),
    ("fiveSkillsRate", "Tỷ lệ có 5 kỹ năng số", Family::Surveys),
];

/// Reads a dimension as `statsBreakdown` names it.
pub fn parse_dim(name: &str) -> Option<Dim> {
    [
        Dim::ChildUnit,
        Dim::TaskKind,
        Dim::TaskStatus,
        Dim::Platform,
        Dim::Affiliation,
        Dim::Month,
        Dim::Week,
        Dim::Day,
        Dim::Group,
        Dim::Indicator,
    ]
    .into_iter()
    .find(|d| d.name() == name)
}

/// The figures exported: those asked for, or every one all the dimensions apply to.
fn figures(spec: &BreakdownSpec, dims: &[Dim]) -> ApiResult<Vec<(&'static str, &'static str)>> {
    if spec.fields.is_empty() {
        return Ok(FIGURES
            .iter()
            .filter(|(_, _, family)| dims.iter().all(|d| family.supports(*d)))
            .map(|(f, h, _)| (*f, *h))
            .collect());
    }
    spec.fields
        .iter()
        .map(|name| {
            FIGURES
                .iter()
                .find(|(f, _, _)| f == name)
                .map(|(f, h, _)| (*f, *h))
                .ok_or_else(|| {
                    ApiError::bad_input(
                        "fields",
                        format!(
                            "{name} is not a figure; use some of: {}",
                            FIGURES.iter().map(|f| f.0).collect::<Vec<_>>().join(", ")
                        ),
                    )
                })
        })
        .collect()
}

/// The dimensions asked for, checked.
pub fn dims(spec: &BreakdownSpec) -> ApiResult<Vec<Dim>> {
    if spec.by.is_empty() {
        return Err(ApiError::bad_input(
            "by",
            "name one to three dimensions, e.g. CHILD_UNIT or CHILD_UNIT,TASK_STATUS",
        ));
    }
    spec.by
        .iter()
        .map(|name| {
            parse_dim(name)
                .ok_or_else(|| ApiError::bad_input("by", format!("{name} is not a StatsDimension")))
        })
        .collect()
}

/// The GraphQL error of the breakdown as the API error it stands for (its code, field and
/// message are already the client's: sealed by the schema's own error mapping).
fn api_error(e: &async_graphql::ServerError) -> ApiError {
    let ext = e.extensions.as_ref();
    let get = |k: &str| {
        ext.and_then(|x| x.get(k))
            .and_then(|v| v.clone().into_json().ok())
            .and_then(|v| v.as_str().map(str::to_owned))
    };
    match get("code").as_deref() {
        Some("BAD_USER_INPUT") => ApiError::bad_input(
            get("field").unwrap_or_else(|| "breakdown".into()),
            e.message.clone(),
        ),
        Some("FORBIDDEN") => ApiError::forbidden(e.message.clone()),
        Some("NOT_FOUND") => ApiError::NotFound("unit"),
        Some("UNAUTHENTICATED") => ApiError::Unauthenticated("sign in again"),
        // Validation errors of the document itself mean an input we built wrongly from what
        // the caller sent (a figure a dimension does not apply to, say): the caller's input.
        None if e.message.contains("Unknown field") || e.message.contains("Invalid value") => {
            ApiError::bad_input("fields", e.message.clone())
        }
        _ => ApiError::Internal(format!("stats breakdown export: {}", e.message)),
    }
}

/// Runs the breakdown as `p` on `read` and shapes it as an export. The export is audited on
/// `primary`.
pub async fn export(
    schema: &CdtgSchema,
    primary: &sea_orm::DatabaseConnection,
    read: &sea_orm::DatabaseConnection,
    p: &Principal,
    unit_id: i64,
    spec: &BreakdownSpec,
    format: SheetFormat,
) -> ApiResult<Export> {
    let dims = dims(spec)?;
    let figures = figures(spec, &dims)?;
    if figures.is_empty() {
        return Err(ApiError::bad_input(
            "by",
            "no figure applies to all of these dimensions together",
        ));
    }
    let keys: Vec<&str> = dims.iter().map(|d| key_column(*d).0).collect();
    let stats: Vec<&str> = figures.iter().map(|f| f.0).collect();
    let query = format!(
        "query($u: ID!, $by: [StatsDimension!]!, $period: PeriodInput, $limit: Int!, $asOf: Date) \
         {{ statsBreakdown(unitId: $u, by: $by, period: $period, limit: $limit, asOf: $asOf) \
         {{ rows {{ {} stats {{ {} }} }} }} }}",
        keys.join(" "),
        stats.join(" ")
    );
    let period = match (spec.from, spec.to) {
        (None, None) => Value::Null,
        (from, to) => json!({ "from": from, "to": to }),
    };
    let variables = json!({
        "u": crate::ids::encode(crate::ids::NodeType::AdminUnit, unit_id).0,
        "by": spec.by,
        "period": period,
        "limit": spec.limit.unwrap_or(1000),
        "asOf": spec.as_of,
    });
    let request = Request::new(query)
        .variables(async_graphql::Variables::from_json(variables))
        .data(ClientInfo {
            address: String::new(),
            request_id: p.request_id.clone().unwrap_or_default(),
            user_agent: None,
        })
        .data(OperationDb(read.clone()))
        .data(Session::new(read.clone(), p.clone()));
    let response = schema.execute(request).await;
    if let Some(e) = response.errors.first() {
        let err = api_error(e);
        audit::record_failure(primary, p, "exportStatsBreakdown", &err).await;
        return Err(err);
    }
    let data = response
        .data
        .into_json()
        .map_err(|e| ApiError::Internal(format!("stats breakdown export: {e}")))?;
    let rows = data["statsBreakdown"]["rows"]
        .as_array()
        .cloned()
        .unwrap_or_default();

    // Audited under the unit broken down, so it is seen where the unit is.
    let unit_path = crate::service::units::path_of(primary, p, Some(unit_id)).await?;
    let touched = Touched {
        object_type: "Export",
        object_id: None,
        unit_path,
        detail: Some(format!(
            "stats-breakdown of unit {unit_id} by {}; figures: {}; {}",
            spec.by.join(","),
            stats.join(","),
            match (spec.from, spec.to, spec.as_of) {
                (Some(f), Some(t), _) => format!("from {f} to {t}"),
                (_, _, Some(d)) => format!("as of {d}"),
                _ => "all time".to_owned(),
            }
        )),
    };
    audit::record_event(primary, p, "exportStatsBreakdown", &touched).await;

    let mut headings: Vec<&'static str> = dims.iter().map(|d| key_column(*d).1).collect();
    headings.extend(figures.iter().map(|f| f.1));
    let cells: Vec<Vec<Out>> = rows
        .iter()
        .map(|row| {
            let mut cells: Vec<Out> = dims.iter().map(|d| key_cell(row, *d)).collect();
            cells.extend(figures.iter().map(|(f, _)| match &row["stats"][*f] {
                Value::Number(n) if n.is_i64() => Out::Int(n.as_i64().unwrap_or_default()),
                Value::Number(n) => Out::Float(n.as_f64().unwrap_or_default()),
                _ => Out::Empty,
            }));
            cells
        })
        .collect();
    Ok(Export {
        headings,
        rows: Box::pin(futures_util::stream::once(async move { Ok(cells) })),
        filename: format!(
            "stats-breakdown-{}.{}",
            crate::service::today_in_vietnam(),
            format.extension()
        ),
    })
}

fn key_cell(row: &Value, dim: Dim) -> Out {
    let v = match dim {
        Dim::ChildUnit => &row["unit"]["name"],
        Dim::Group => &row["group"]["name"],
        Dim::TaskKind => &row["taskKind"],
        Dim::TaskStatus => &row["taskStatus"],
        Dim::Platform => &row["platform"],
        Dim::Affiliation => &row["affiliation"],
        Dim::Month => &row["month"],
        Dim::Week => &row["week"],
        Dim::Day => &row["day"],
        Dim::Indicator => &row["indicator"],
    };
    match v.as_str() {
        Some(s) => match (dim, NaiveDate::parse_from_str(s, "%Y-%m-%d")) {
            (Dim::Month | Dim::Week | Dim::Day, Ok(d)) => Out::Date(d),
            _ => Out::text(s),
        },
        // The unit's own row (rows attached to it directly) has no child unit.
        None => Out::Empty,
    }
}
