//! Spreadsheet imports and export links at the GraphQL edge: the `importMembers` and
//! `importGroups` mutations (a file sent as a GraphQL multipart upload) and `createExportLink`,
//! which answers a short-lived signed download link. Thin: decode, call the service, shape the
//! answer.

use crate::graphql::errors::Result;
use async_graphql::{Context, Enum, ID, InputObject, SimpleObject, Upload};
use chrono::{DateTime, Utc};

use super::context::{db, principal, state};
use crate::error::ApiError;
use crate::ids::{NodeType, decode};
use crate::service::export::{BreakdownSpec, ExportKind, ExportRequest};
use crate::service::import::{self, ImportKind, ImportReport, RowOutcome, SheetFile};
use crate::sheets::write::SheetFormat;

/// What became (or, in a dry run, would become) of a row.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "ImportOutcome", remote = "RowOutcome")]
pub enum ImportOutcomeGql {
    Created,
    Updated,
    Unchanged,
    /// Not imported: `problems` says which column and why.
    Refused,
}

/// A spreadsheet format.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "SheetFormat", remote = "SheetFormat")]
pub enum SheetFormatGql {
    Csv,
    Xlsx,
}

/// What an export holds.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "ExportKind", remote = "ExportKind")]
pub enum ExportKindGql {
    /// Members with their group and role (personal data); aggregates per unit for roles that may
    /// not read personal data.
    Roster,
    /// Groups with their member counts.
    Groups,
    /// Tasks with their targets and progress.
    Tasks,
    /// Field reports (activities).
    FieldReports,
    /// A `statsBreakdown` of `unitId`, as described by `breakdown`: aggregates only, for every
    /// role that may read statistics.
    StatsBreakdown,
}

#[derive(InputObject)]
pub struct ImportSheetInput {
    /// The CSV or XLSX file (a GraphQL multipart upload). The first worksheet is read; title
    /// rows above the heading row are skipped.
    pub file: Upload,
    /// The unit (usually a ward) the roster belongs to; rows naming units outside it are refused.
    pub unit_id: ID,
    /// False (the default): a dry run that reports every row and writes nothing. True: applies
    /// every row that is not refused, all in one transaction.
    #[graphql(default = false)]
    pub commit: bool,
}

/// A problem with one cell.
#[derive(SimpleObject)]
pub struct ImportProblem {
    /// The column's heading, as in the template.
    pub column: String,
    pub message: String,
}

#[derive(SimpleObject)]
pub struct ImportRow {
    /// The row number as the spreadsheet program shows it.
    pub row: i32,
    pub outcome: ImportOutcomeGql,
    /// The natural key: the member's normalised phone, or the group's name.
    pub key: Option<String>,
    pub problems: Vec<ImportProblem>,
}

/// What an import did (or, in a dry run, would do) with every data row of the file.
#[derive(SimpleObject)]
#[graphql(name = "ImportReport")]
pub struct ImportReportGql {
    /// True when the rows were written; false for a dry run.
    pub committed: bool,
    pub created: i32,
    pub updated: i32,
    pub unchanged: i32,
    pub refused: i32,
    /// Every data row of the file, in order.
    pub rows: Vec<ImportRow>,
    /// Headings in the file that the import does not read.
    pub ignored_columns: Vec<String>,
}

impl From<ImportReport> for ImportReportGql {
    fn from(r: ImportReport) -> Self {
        let n = |o| r.count(o) as i32;
        ImportReportGql {
            committed: r.committed,
            created: n(RowOutcome::Created),
            updated: n(RowOutcome::Updated),
            unchanged: n(RowOutcome::Unchanged),
            refused: n(RowOutcome::Refused),
            rows: r
                .rows
                .iter()
                .map(|row| ImportRow {
                    row: row.row as i32,
                    outcome: row.outcome.into(),
                    key: row.key.clone(),
                    problems: row
                        .problems
                        .iter()
                        .map(|p| ImportProblem {
                            column: p.column.clone(),
                            message: p.message.clone(),
                        })
                        .collect(),
                })
                .collect(),
            ignored_columns: r.ignored_columns,
        }
    }
}

pub async fn import(
    ctx: &Context<'_>,
    kind: ImportKind,
    input: ImportSheetInput,
) -> Result<ImportReportGql> {
    let p = principal(ctx)?;
    let unit_id = decode(NodeType::AdminUnit, &input.unit_id)
        .ok_or_else(|| ApiError::bad_input("unitId", "is not an AdminUnit ID"))?;
    let limits = state(ctx).settings.sheets;
    let upload = input
        .file
        .value(ctx)
        .map_err(|_| ApiError::bad_input("file", "could not be read"))?;
    let size = upload.size().unwrap_or(u64::MAX);
    if size > limits.max_file_bytes {
        return Err(crate::sheets::read::too_large(&limits).into());
    }
    let file = SheetFile {
        filename: upload.filename.clone(),
        bytes: crate::sheets::read::read_limited(upload.into_read(), &limits)?,
    };
    let report = import::run(db(ctx), p, kind, unit_id, &file, input.commit, &limits).await?;
    Ok(report.into())
}

#[derive(InputObject)]
pub struct CreateExportLinkInput {
    pub kind: ExportKindGql,
    pub format: SheetFormatGql,
    /// Limit the export to this unit's subtree (within your scope); your whole scope without it.
    /// Required for `STATS_BREAKDOWN`: the unit broken down.
    pub unit_id: Option<ID>,
    /// With `STATS_BREAKDOWN` (and only then): which breakdown.
    pub breakdown: Option<StatsBreakdownExportInput>,
}

/// A `statsBreakdown` to export: its arguments, and the figures to put in columns.
#[derive(InputObject)]
pub struct StatsBreakdownExportInput {
    pub by: Vec<super::stats::StatsDimension>,
    /// `UnitStats` fields with a single number (`groups`, `members`, `tasks`, …); every one
    /// the dimensions apply to when omitted.
    pub fields: Option<Vec<String>>,
    /// With `to`: the period (inclusive); all time without.
    pub from: Option<super::scalars::Date>,
    pub to: Option<super::scalars::Date>,
    pub as_of: Option<super::scalars::Date>,
    pub limit: Option<i64>,
}

#[derive(SimpleObject)]
pub struct ExportLinkPayload {
    /// A path on this server (`/exports/…?token=…`): GET it, without any other credential,
    /// before `expiresAt`. It acts as you, with your scope as it is when the file is fetched.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

pub async fn create_export_link(
    ctx: &Context<'_>,
    input: CreateExportLinkInput,
) -> Result<ExportLinkPayload> {
    let p = principal(ctx)?;
    let unit_id = input
        .unit_id
        .as_ref()
        .map(|id| {
            decode(NodeType::AdminUnit, id)
                .ok_or_else(|| ApiError::bad_input("unitId", "is not an AdminUnit ID"))
        })
        .transpose()?;
    let kind: ExportKind = input.kind.into();
    let breakdown = match (kind, input.breakdown) {
        (ExportKind::StatsBreakdown, Some(b)) => {
            if unit_id.is_none() {
                return Err(
                    ApiError::bad_input("unitId", "is required for STATS_BREAKDOWN").into(),
                );
            }
            let spec = BreakdownSpec {
                by: b
                    .by
                    .into_iter()
                    .map(|d| crate::service::stats::Dim::from(d).name().to_owned())
                    .collect(),
                fields: b.fields.unwrap_or_default(),
                from: b.from.map(|d| d.0),
                to: b.to.map(|d| d.0),
                as_of: b.as_of.map(|d| d.0),
                limit: b.limit,
            };
            crate::graphql::breakdown_export::dims(&spec)?;
            Some(spec)
        }
        (ExportKind::StatsBreakdown, None) => {
            return Err(ApiError::bad_input("breakdown", "is required for STATS_BREAKDOWN").into());
        }
        (_, Some(_)) => {
            return Err(ApiError::bad_input("breakdown", "is only for STATS_BREAKDOWN").into());
        }
        (_, None) => None,
    };
    let request = ExportRequest {
        kind,
        format: input.format.into(),
        unit_id,
        breakdown,
    };
    let s = state(ctx);
    // Checked now, so a link that could only ever fail is not handed out.
    crate::service::export::check(db(ctx), p, &request).await?;
    let (url, expires_at) =
        crate::downloads::sign_link(&s.keys, p, &request, s.settings.export_link_ttl_secs)?;
    Ok(ExportLinkPayload { url, expires_at })
}
