//! Unit files: importing a city's unit tree from CSV, and applying a reform (a mapping from
//! old units to new ones) to the live tree. Both are command-line acts of the city's IT office.
//!
//! The file layout is documented in `reference/units/README.md`:
//! - unit files: `code,name,kind,parent_code,valid_from`;
//! - mapping files: `old_code,new_code,effective_on`.
//!
//! Decisions:
//! - **Every problem, located.** A file is read whole and every problem is reported with its
//!   line, column and reason before anything is written: bad encoding, a missing column, a
//!   duplicate code, an unknown kind or parent, a cycle, a bad date. Lines that start with `#`
//!   before the header are comments; a UTF-8 byte-order mark is skipped.
//! - **All or nothing.** The writes of one import or one reform run in one transaction. A check
//!   (`--check`) runs the very same writes and rolls them back, so its report is exactly what
//!   applying would do.
//! - **Codes identify current units.** An import matches rows to the *current* unit with the
//!   same code: it creates what is missing and updates names, kinds and parents that differ,
//!   so importing the same file again changes nothing. It never closes a unit; a reform does.
//! - **A reform creates its new units.** The statistics office reuses a predecessor's code for
//!   a new unit, so a new tree cannot be imported beside the old one: the reform takes the new
//!   unit file too, closes the old units first (their codes become free), creates the new ones,
//!   then merges each old unit into its successor ([`unit_admin::absorb_in`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use cdtg_core::unit::UnitKind;
use chrono::NaiveDate;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
};

use super::audit::Touched;
use super::unit_admin::{self, MergeReport, NewUnit, UnitChanges};
use crate::db::write_txn;
use crate::entity::admin_unit;
use crate::error::ApiError;
use crate::principal::Principal;
use crate::progress::{OnStep, Step};

/// Unit kinds whose units a reform must map explicitly. Residential groups and villages follow
/// their ward or commune to its successor.
const ADMINISTRATIVE_KINDS: [UnitKind; 5] = [
    UnitKind::Province,
    UnitKind::District,
    UnitKind::Ward,
    UnitKind::Commune,
    UnitKind::SpecialZone,
];

/// One problem of a file, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line of the file; 0 for the file as a whole.
    pub line: usize,
    /// The column's name in the header, when one column is at fault.
    pub column: Option<String>,
    pub message: String,
}

impl Problem {
    fn at(line: usize, column: &str, message: impl Into<String>) -> Self {
        Problem {
            line,
            column: Some(column.to_owned()),
            message: message.into(),
        }
    }

    fn line(line: usize, message: impl Into<String>) -> Self {
        Problem {
            line,
            column: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, &self.column) {
            (0, _) => write!(f, "{}", self.message),
            (line, Some(col)) => write!(f, "line {line}, column {col}: {}", self.message),
            (line, None) => write!(f, "line {line}: {}", self.message),
        }
    }
}

/// Why a file was not applied: its problems, or a failure of the database.
#[derive(Debug)]
pub enum FileError {
    Problems(Vec<Problem>),
    Database(ApiError),
}

impl From<ApiError> for FileError {
    fn from(e: ApiError) -> Self {
        FileError::Database(e)
    }
}

impl From<sea_orm::DbErr> for FileError {
    fn from(e: sea_orm::DbErr) -> Self {
        FileError::Database(e.into())
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Problems(ps) => {
                for (i, p) in ps.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{p}")?;
                }
                Ok(())
            }
            FileError::Database(e) => write!(f, "{}", e.public_message()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading CSV
// ---------------------------------------------------------------------------------------------

/// A data row: its line and its fields by column name.
#[derive(Debug, Clone)]
struct Record {
    line: usize,
    fields: HashMap<String, String>,
}

impl Record {
    fn get(&self, column: &str) -> &str {
        self.fields.get(column).map(String::as_str).unwrap_or("")
    }
}

/// Splits one CSV line into fields: commas separate, double quotes quote (`""` is a quote).
fn split_fields(line: &str) -> Result<Vec<String>, &'static str> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.trim().is_empty() && !was_quoted => {
                field.clear();
                quoted = true;
                was_quoted = true;
            }
            (false, '"') => return Err("a double quote inside an unquoted field"),
            (false, ',') => {
                fields.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is not closed on its line");
    }
    fields.push(field);
    Ok(fields)
}

/// Reads a CSV file with the given columns (in any order; no others), collecting problems.
fn read_csv(bytes: &[u8], columns: &[&str]) -> Result<Vec<Record>, Vec<Problem>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut problems = Vec::new();
    let mut header: Option<Vec<String>> = None;
    let mut records = Vec::new();
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let line_no = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = match std::str::from_utf8(raw) {
            Ok(l) => l,
            Err(e) => {
                problems.push(Problem::line(
                    line_no,
                    format!(
                        "not UTF-8 text (byte {} of the line); save the file as UTF-8",
                        e.valid_up_to() + 1
                    ),
                ));
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let Some(names) = &header else {
            if line.starts_with('#') {
                continue;
            }
            let names: Vec<String> = line
                .split(',')
                .map(|h| h.trim().to_ascii_lowercase())
                .collect();
            for c in columns {
                if !names.iter().any(|n| n == c) {
                    problems.push(Problem::line(
                        line_no,
                        format!(
                            "the header lacks the column {c}; expected {}",
                            columns.join(",")
                        ),
                    ));
                }
            }
            for n in &names {
                if !columns.contains(&n.as_str()) {
                    problems.push(Problem::line(
                        line_no,
                        format!("unknown column {n:?}; expected {}", columns.join(",")),
                    ));
                }
            }
            if !problems.is_empty() {
                return Err(problems);
            }
            header = Some(names);
            continue;
        };
        match split_fields(line) {
            Err(why) => problems.push(Problem::line(line_no, why)),
            Ok(fields) if fields.len() != names.len() => problems.push(Problem::line(
                line_no,
                format!("{} fields, the header has {}", fields.len(), names.len()),
            )),
            Ok(fields) => records.push(Record {
                line: line_no,
                fields: names
                    .iter()
                    .cloned()
                    .zip(fields.into_iter().map(|f| f.trim().to_owned()))
                    .collect(),
            }),
        }
    }
    if header.is_none() {
        problems.push(Problem::line(
            0,
            format!("the file has no header row ({})", columns.join(",")),
        ));
    }
    if problems.is_empty() {
        Ok(records)
    } else {
        Err(problems)
    }
}

fn parse_date(line: usize, column: &str, text: &str, problems: &mut Vec<Problem>) -> NaiveDate {
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(d) if (1900..=2200).contains(&chrono::Datelike::year(&d)) => d,
        _ => {
            problems.push(Problem::at(
                line,
                column,
                format!("{text:?} is not a date like 2025-07-01"),
            ));
            NaiveDate::MIN
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Unit files
// ---------------------------------------------------------------------------------------------

const UNIT_COLUMNS: [&str; 5] = ["code", "name", "kind", "parent_code", "valid_from"];

/// A row of a unit file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitRow {
    pub line: usize,
    pub code: String,
    pub name: String,
    pub kind: UnitKind,
    pub parent_code: Option<String>,
    pub valid_from: NaiveDate,
}

/// Parses a unit file and checks it on its own: every row well-formed, codes unique, parents
/// listed (in the file; `known_codes` are codes the database holds), no cycles.
pub fn parse_units(
    bytes: &[u8],
    known_codes: &HashSet<String>,
) -> Result<Vec<UnitRow>, Vec<Problem>> {
    let records = read_csv(bytes, &UNIT_COLUMNS)?;
    let mut problems = Vec::new();
    let mut rows = Vec::with_capacity(records.len());
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for r in &records {
        let line = r.line;
        let code = match unit_admin::parse_code("code", Some(r.get("code"))) {
            Ok(Some(c)) => c,
            Ok(None) => {
                problems.push(Problem::at(line, "code", "every unit needs its code"));
                String::new()
            }
            Err(e) => {
                problems.push(Problem::at(line, "code", reason(&e)));
                String::new()
            }
        };
        if !code.is_empty() {
            if let Some(first) = first_line.get(&code) {
                problems.push(Problem::at(
                    line,
                    "code",
                    format!("code {code} is already used on line {first}"),
                ));
            } else {
                first_line.insert(code.clone(), line);
            }
        }
        let name = match cdtg_core::validate::required_text("name", r.get("name"), 200) {
            Ok(n) => n,
            Err(e) => {
                problems.push(Problem::at(line, "name", e.message.clone()));
                String::new()
            }
        };
        let kind = match unit_admin::parse_kind("kind", r.get("kind")) {
            Ok(k) => k,
            Err(e) => {
                problems.push(Problem::at(line, "kind", reason(&e)));
                UnitKind::Ward
            }
        };
        let parent_code = match unit_admin::parse_code("parent_code", Some(r.get("parent_code"))) {
            Ok(p) => p,
            Err(e) => {
                problems.push(Problem::at(line, "parent_code", reason(&e)));
                None
            }
        };
        let valid_from = parse_date(line, "valid_from", r.get("valid_from"), &mut problems);
        rows.push(UnitRow {
            line,
            code,
            name,
            kind,
            parent_code,
            valid_from,
        });
    }
    // Parents: listed in the file or known to the database; and no cycles within the file.
    let by_code: HashMap<&str, &UnitRow> = rows.iter().map(|r| (r.code.as_str(), r)).collect();
    for row in &rows {
        let Some(parent) = &row.parent_code else {
            continue;
        };
        if parent == &row.code {
            problems.push(Problem::at(
                row.line,
                "parent_code",
                "a unit cannot be its own parent",
            ));
            continue;
        }
        if !by_code.contains_key(parent.as_str()) && !known_codes.contains(parent) {
            problems.push(Problem::at(
                row.line,
                "parent_code",
                format!("no unit with code {parent} in the file or the database"),
            ));
            continue;
        }
        // Walk up within the file; coming back to this row is a cycle.
        let mut seen = vec![row.code.as_str()];
        let mut at = parent.as_str();
        while let Some(up) = by_code.get(at) {
            if seen.contains(&at) {
                if at == row.code {
                    seen.push(at);
                    problems.push(Problem::at(
                        row.line,
                        "parent_code",
                        format!("a cycle of parents: {}", seen.join(" → ")),
                    ));
                }
                break;
            }
            seen.push(at);
            match &up.parent_code {
                Some(p) => at = p.as_str(),
                None => break,
            }
        }
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        problems.sort_by_key(|p| p.line);
        Err(problems)
    }
}

/// The message of a validation error, without its field (the column names it).
fn reason(e: &ApiError) -> String {
    match e {
        ApiError::BadUserInput { message, .. } => message.clone(),
        other => other.public_message(),
    }
}

/// Rows ordered so every parent in the file comes before its children.
fn parents_first<'a>(rows: &'a [UnitRow]) -> Vec<&'a UnitRow> {
    let by_code: HashMap<&'a str, &'a UnitRow> =
        rows.iter().map(|r| (r.code.as_str(), r)).collect();
    let depth = |mut r: &'a UnitRow| {
        let mut d = 0usize;
        while let Some(p) = r
            .parent_code
            .as_deref()
            .and_then(|c| by_code.get(c).copied())
        {
            d += 1;
            r = p;
            if d > rows.len() {
                break;
            }
        }
        d
    };
    let mut ordered: Vec<&UnitRow> = rows.iter().collect();
    ordered.sort_by_key(|r| (depth(r), r.line));
    ordered
}

/// Codes of the current units, for resolving parents outside the file.
async fn current_units(
    txn: &DatabaseTransaction,
) -> Result<HashMap<String, admin_unit::Model>, FileError> {
    Ok(admin_unit::Entity::find()
        .filter(admin_unit::Column::ValidTo.is_null())
        .filter(admin_unit::Column::Code.is_not_null())
        .all(txn)
        .await?
        .into_iter()
        .filter_map(|u| u.code.clone().map(|c| (c, u)))
        .collect())
}

/// What an import did (or, checked, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub moved: Vec<String>,
    pub unchanged: usize,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} units created, {} updated, {} moved, {} unchanged",
            self.created.len(),
            self.updated.len(),
            self.moved.len(),
            self.unchanged
        )
    }
}

/// A database error of one row, located at that row.
fn at_row(row: &UnitRow, e: ApiError) -> FileError {
    match e {
        ApiError::BadUserInput { field, message } => {
            let column = match field.as_str() {
                "parentId" => "parent_code",
                "validFrom" => "valid_from",
                f => f,
            };
            FileError::Problems(vec![Problem::at(row.line, column, message)])
        }
        other => FileError::Database(other),
    }
}

/// Imports a unit file: all rows or none. With `check`, the same writes are rolled back.
pub async fn import_units(
    db: &DatabaseConnection,
    bytes: &[u8],
    check: bool,
    on_step: OnStep<'_>,
) -> Result<ImportReport, FileError> {
    let txn = write_txn(db).await?;
    let mut result = import_in(&txn, bytes, on_step).await;
    if let (Ok(report), false) = (&result, check)
        && let Err(e) = audit_file_act(&txn, "importUnits", report.to_string()).await
    {
        result = Err(e);
    }
    match (&result, check) {
        (Ok(_), false) => txn.commit().await?,
        _ => txn.rollback().await?,
    }
    result
}

pub(crate) async fn import_in(
    txn: &DatabaseTransaction,
    bytes: &[u8],
    on_step: OnStep<'_>,
) -> Result<ImportReport, FileError> {
    let mut current = current_units(txn).await?;
    let known: HashSet<String> = current.keys().cloned().collect();
    let rows = parse_units(bytes, &known).map_err(FileError::Problems)?;
    let mut report = ImportReport::default();
    let mut reparented = false;
    let of = rows.len() as u64;
    for (done, row) in parents_first(&rows).into_iter().enumerate() {
        on_step(Step {
            phase: "units imported",
            done: done as u64,
            of,
        });
        let parent = match &row.parent_code {
            Some(code) => Some(current.get(code).cloned().ok_or_else(|| {
                FileError::Problems(vec![Problem::at(
                    row.line,
                    "parent_code",
                    format!("no current unit with code {code}"),
                )])
            })?),
            None => None,
        };
        let unit = match current.get(&row.code).cloned() {
            None => {
                let new = NewUnit {
                    code: Some(row.code.clone()),
                    name: row.name.clone(),
                    kind: row.kind,
                    parent_id: parent.as_ref().map(|p| p.id),
                    valid_from: row.valid_from,
                };
                let unit = unit_admin::create_in(txn, new, parent.as_ref())
                    .await
                    .map_err(|e| at_row(row, e))?;
                report.created.push(row.code.clone());
                unit
            }
            Some(existing) => {
                let changes = UnitChanges {
                    name: Some(row.name.clone()),
                    code: None,
                    kind: Some(row.kind),
                };
                let mut unit = unit_admin::update_in(txn, existing.clone(), changes)
                    .await
                    .map_err(|e| at_row(row, e))?;
                let mut touched = unit != existing;
                if unit.valid_from != row.valid_from {
                    let mut active: admin_unit::ActiveModel = unit.into();
                    active.valid_from = sea_orm::Set(row.valid_from);
                    unit = sea_orm::ActiveModelTrait::update(active, txn).await?;
                    touched = true;
                }
                match (&parent, unit.parent_id) {
                    (Some(p), Some(old)) if p.id == old => {}
                    (None, None) => {}
                    (Some(p), _) => {
                        unit = unit_admin::reparent_in(txn, &unit, p, row.valid_from)
                            .await
                            .map_err(|e| at_row(row, e))?;
                        report.moved.push(row.code.clone());
                        reparented = true;
                        touched = false;
                    }
                    (None, Some(_)) => {
                        return Err(FileError::Problems(vec![Problem::at(
                            row.line,
                            "parent_code",
                            format!(
                                "{} has a parent in the database; a unit cannot become a root",
                                unit.name
                            ),
                        )]));
                    }
                }
                if touched {
                    report.updated.push(row.code.clone());
                } else if !report.moved.contains(&row.code) {
                    report.unchanged += 1;
                }
                unit
            }
        };
        current.insert(row.code.clone(), unit);
    }
    on_step(Step {
        phase: "units imported",
        done: of,
        of,
    });
    if reparented {
        unit_admin::rebuild_anchors_in(txn).await?;
    }
    Ok(report)
}

// ---------------------------------------------------------------------------------------------
// Reforms
// ---------------------------------------------------------------------------------------------

/// The columns of a mapping file.
pub const MAPPING_COLUMNS: [&str; 3] = ["old_code", "new_code", "effective_on"];

/// A row of a mapping file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingRow {
    pub line: usize,
    pub old_code: String,
    pub new_code: String,
}

/// Parses a mapping file: codes well-formed, each old code once, every row effective on
/// `effective`.
pub fn parse_mapping(bytes: &[u8], effective: NaiveDate) -> Result<Vec<MappingRow>, Vec<Problem>> {
    let records = read_csv(bytes, &MAPPING_COLUMNS)?;
    let mut problems = Vec::new();
    let mut rows = Vec::new();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for r in &records {
        let mut code = |column: &str| match unit_admin::parse_code(column, Some(r.get(column))) {
            Ok(Some(c)) => c,
            Ok(None) => {
                problems.push(Problem::at(r.line, column, "a code is required"));
                String::new()
            }
            Err(e) => {
                problems.push(Problem::at(r.line, column, reason(&e)));
                String::new()
            }
        };
        let (old_code, new_code) = (code("old_code"), code("new_code"));
        let on = parse_date(r.line, "effective_on", r.get("effective_on"), &mut problems);
        if on != NaiveDate::MIN && on != effective {
            problems.push(Problem::at(
                r.line,
                "effective_on",
                format!("{on} differs from the reform's date {effective}"),
            ));
        }
        if !old_code.is_empty() {
            if let Some(first) = first_line.get(&old_code) {
                problems.push(Problem::at(
                    r.line,
                    "old_code",
                    format!("{old_code} is already mapped on line {first}"),
                ));
            } else {
                first_line.insert(old_code.clone(), r.line);
            }
        }
        rows.push(MappingRow {
            line: r.line,
            old_code,
            new_code,
        });
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

/// What a reform did (or, checked, would do).
#[derive(Debug, Clone, Default)]
pub struct ReformReport {
    /// "code name" of every unit closed, with its successor.
    pub closed: Vec<String>,
    pub created: Vec<String>,
    pub kept: Vec<String>,
    pub moves: MergeReport,
}

impl ReformReport {
    /// One line: the counts.
    pub fn summary(&self) -> String {
        format!(
            "{} units closed, {} created, {} kept; {} groups, {} members, {} units and {} open tasks moved; {} accounts held",
            self.closed.len(),
            self.created.len(),
            self.kept.len(),
            self.moves.groups_moved,
            self.moves.members_moved,
            self.moves.units_moved,
            self.moves.open_tasks_moved,
            self.moves.accounts_held.len(),
        )
    }
}

impl fmt::Display for ReformReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary())?;
        for c in &self.closed {
            writeln!(f, "closed: {c}")?;
        }
        for c in &self.created {
            writeln!(f, "created: {c}")?;
        }
        for a in &self.moves.accounts_held {
            writeln!(f, "held until reassigned: {a}")?;
        }
        Ok(())
    }
}

/// Applies a reform: `mapping` (old → new codes) effective on `effective`, creating the units of
/// `new_units` that do not exist yet. All or nothing; with `check`, rolled back.
pub async fn apply_reform(
    db: &DatabaseConnection,
    mapping: &[u8],
    new_units: Option<&[u8]>,
    effective: NaiveDate,
    check: bool,
    on_step: OnStep<'_>,
) -> Result<ReformReport, FileError> {
    let txn = write_txn(db).await?;
    let mut result = reform_in(&txn, mapping, new_units, effective, on_step).await;
    if let (Ok(report), false) = (&result, check)
        && let Err(e) = audit_file_act(&txn, "applyReform", report.summary()).await
    {
        result = Err(e);
    }
    match (&result, check) {
        (Ok(_), false) => txn.commit().await?,
        _ => txn.rollback().await?,
    }
    result
}

async fn reform_in(
    txn: &DatabaseTransaction,
    mapping: &[u8],
    new_units: Option<&[u8]>,
    effective: NaiveDate,
    on_step: OnStep<'_>,
) -> Result<ReformReport, FileError> {
    let rows = parse_mapping(mapping, effective).map_err(FileError::Problems)?;
    let current = current_units(txn).await?;
    let known: HashSet<String> = current.keys().cloned().collect();
    let new_rows = match new_units {
        Some(bytes) => parse_units(bytes, &known).map_err(FileError::Problems)?,
        None => vec![],
    };
    let new_by_code: HashMap<&str, &UnitRow> =
        new_rows.iter().map(|r| (r.code.as_str(), r)).collect();

    // Which old units close, and which stay (mapped to themselves, or listed in the new file
    // as existing before the reform).
    let mut problems = Vec::new();
    let mut closing: Vec<(&MappingRow, admin_unit::Model)> = Vec::new();
    let mut kept: HashSet<String> = HashSet::new();
    for r in &rows {
        let Some(old) = current.get(&r.old_code) else {
            problems.push(Problem::at(
                r.line,
                "old_code",
                format!("no current unit with code {}", r.old_code),
            ));
            continue;
        };
        let stays = r.old_code == r.new_code
            && new_by_code
                .get(r.new_code.as_str())
                .is_none_or(|n| n.valid_from < effective);
        if stays {
            kept.insert(r.old_code.clone());
        } else {
            closing.push((r, old.clone()));
        }
    }
    for r in &rows {
        let known_new = new_by_code.contains_key(r.new_code.as_str())
            || (current.contains_key(&r.new_code)
                && !closing.iter().any(|(c, _)| c.old_code == r.new_code));
        if !known_new {
            problems.push(Problem::at(
                r.line,
                "new_code",
                format!(
                    "no unit with code {} in the new unit file or among the units that stay",
                    r.new_code
                ),
            ));
        }
    }
    // A unit of the administrative levels under a closing unit must be mapped too: otherwise
    // it would silently end up under another parent.
    let closing_paths: Vec<&str> = closing.iter().map(|(_, u)| u.path.as_str()).collect();
    let mapped: HashSet<&str> = rows.iter().map(|r| r.old_code.as_str()).collect();
    let mut lost: BTreeMap<String, String> = BTreeMap::new();
    for unit in admin_unit::Entity::find()
        .filter(admin_unit::Column::ValidTo.is_null())
        .filter(admin_unit::Column::Kind.is_in(ADMINISTRATIVE_KINDS))
        .order_by_asc(admin_unit::Column::Path)
        .all(txn)
        .await?
    {
        let under_closing = closing_paths
            .iter()
            .any(|p| *p != unit.path && cdtg_core::policy::path_within(p, &unit.path));
        let is_mapped = unit.code.as_deref().is_some_and(|c| mapped.contains(c));
        if under_closing && !is_mapped {
            lost.insert(
                unit.path.clone(),
                format!(
                    "{} ({}) lies under a unit that closes but has no row: the mapping would lose it",
                    unit.name,
                    unit.code.as_deref().unwrap_or("no code")
                ),
            );
        }
    }
    problems.extend(lost.into_values().map(|m| Problem::line(0, m)));
    if !problems.is_empty() {
        return Err(FileError::Problems(problems));
    }

    let mut report = ReformReport::default();
    // 1. Close the old units, so the codes the new units reuse are free.
    let last_day = effective
        .pred_opt()
        .ok_or_else(|| ApiError::bad_input("effective", "date out of range"))?;
    let step = |phase, done: usize, of: usize| {
        on_step(Step {
            phase,
            done: done as u64,
            of: of as u64,
        })
    };
    for (done, (_, old)) in closing.iter().enumerate() {
        step("old units closed", done, closing.len());
        if effective <= old.valid_from {
            return Err(FileError::Problems(vec![Problem::line(
                0,
                format!(
                    "{} ({}) only exists from {}: the reform must take effect later",
                    old.name,
                    old.code.as_deref().unwrap_or(""),
                    old.valid_from
                ),
            )]));
        }
        let mut active: admin_unit::ActiveModel = old.clone().into();
        active.valid_to = sea_orm::Set(Some(last_day));
        sea_orm::ActiveModelTrait::update(active, txn).await?;
    }
    step("old units closed", closing.len(), closing.len());
    // 2. Create the new units (parents first) and update the ones that stay.
    let mut live: HashMap<String, admin_unit::Model> = current
        .into_iter()
        .filter(|(code, _)| !closing.iter().any(|(_, u)| u.code.as_ref() == Some(code)))
        .collect();
    for (done, row) in parents_first(&new_rows).into_iter().enumerate() {
        step("new units written", done, new_rows.len());
        let parent = match &row.parent_code {
            Some(code) => Some(live.get(code).cloned().ok_or_else(|| {
                FileError::Problems(vec![Problem::at(
                    row.line,
                    "parent_code",
                    format!("{code} closes in this reform; a new unit cannot lie under it"),
                )])
            })?),
            None => None,
        };
        let unit = match live.get(&row.code) {
            Some(existing) if row.valid_from < effective => {
                let changes = UnitChanges {
                    name: Some(row.name.clone()),
                    code: None,
                    kind: Some(row.kind),
                };
                let unit = unit_admin::update_in(txn, existing.clone(), changes)
                    .await
                    .map_err(|e| at_row(row, e))?;
                report.kept.push(format!("{} {}", row.code, unit.name));
                unit
            }
            _ => {
                let new = NewUnit {
                    code: Some(row.code.clone()),
                    name: row.name.clone(),
                    kind: row.kind,
                    parent_id: parent.as_ref().map(|p| p.id),
                    valid_from: row.valid_from.max(effective),
                };
                let unit = unit_admin::create_in(txn, new, parent.as_ref())
                    .await
                    .map_err(|e| at_row(row, e))?;
                report.created.push(format!("{} {}", row.code, unit.name));
                unit
            }
        };
        live.insert(row.code.clone(), unit);
    }
    step("new units written", new_rows.len(), new_rows.len());
    // 3. Merge each closing unit into its successor, deepest first, so a district's wards are
    //    closed before the district's own (current) children would move.
    closing.sort_by_key(|(_, u)| std::cmp::Reverse(u.depth));
    for (done, (r, old)) in closing.iter().enumerate() {
        step(
            "old units merged into their successors",
            done,
            closing.len(),
        );
        let target = live
            .get(&r.new_code)
            .cloned()
            .ok_or_else(|| ApiError::Internal(format!("successor {} vanished", r.new_code)))?;
        let moved = unit_admin::absorb_in(txn, old, &target, effective)
            .await
            .map_err(|e| match e {
                ApiError::BadUserInput { message, .. } => {
                    FileError::Problems(vec![Problem::at(r.line, "new_code", message)])
                }
                other => FileError::Database(other),
            })?;
        report.closed.push(format!(
            "{} {} → {} {}",
            r.old_code,
            old.name,
            target.code.as_deref().unwrap_or(""),
            target.name
        ));
        report.moves.add(moved);
    }
    step(
        "old units merged into their successors",
        closing.len(),
        closing.len(),
    );
    if report.moves.units_moved > 0 {
        unit_admin::rebuild_anchors_in(txn).await?;
    }
    let listed: Vec<String> = kept
        .into_iter()
        .filter(|c| !report.kept.iter().any(|k| k.starts_with(&format!("{c} "))))
        .collect();
    report.kept.extend(listed);
    Ok(report)
}

/// The audit record of an import or reform, by the command line's system actor.
async fn audit_file_act(
    txn: &DatabaseTransaction,
    action: &str,
    detail: String,
) -> Result<(), FileError> {
    let touched = Touched {
        object_type: "AdminUnit",
        detail: Some(detail),
        ..Default::default()
    };
    super::audit::record_in(txn, &Principal::system(), action, &touched).await?;
    Ok(())
}

/// Whether the database holds any unit (an `init` needs an empty one).
pub async fn has_units(db: &DatabaseConnection) -> Result<bool, ApiError> {
    Ok(admin_unit::Entity::find().one(db).await?.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes() -> HashSet<String> {
        HashSet::new()
    }

    #[test]
    fn comments_bom_and_crlf_are_accepted() {
        let file = "\u{feff}# source: somewhere\r\ncode,name,kind,parent_code,valid_from\r\n48,Đà Nẵng,PROVINCE,,2020-01-01\r\n20275,An Hải,WARD,48,2025-07-01\r\n";
        let rows = parse_units(file.as_bytes(), &codes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].parent_code.as_deref(), Some("48"));
        assert_eq!(rows[1].line, 4);
    }

    #[test]
    fn every_problem_is_located() {
        let file = "code,name,kind,parent_code,valid_from\n\
                    48,Đà Nẵng,PROVINCE,,2020-01-01\n\
                    48,Again,WARD,48,2020-01-01\n\
                    1,X,HAMLET,48,2020-01-01\n\
                    2,Y,WARD,999,2020-13-01\n\
                    3,Z,WARD,4,2020-01-01\n\
                    4,W,WARD,3,2020-01-01\n";
        let problems = parse_units(file.as_bytes(), &codes()).unwrap_err();
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            text.contains(&"line 3, column code: code 48 is already used on line 2".into()),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("line 4, column kind: unknown unit kind")),
            "{text:?}"
        );
        assert!(
            text.contains(
                &"line 5, column parent_code: no unit with code 999 in the file or the database"
                    .into()
            ),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("line 5, column valid_from:")),
            "{text:?}"
        );
        assert!(
            text.contains(&"line 6, column parent_code: a cycle of parents: 3 → 4 → 3".into()),
            "{text:?}"
        );
        assert!(
            text.contains(&"line 7, column parent_code: a cycle of parents: 4 → 3 → 4".into()),
            "{text:?}"
        );
    }

    #[test]
    fn bad_encoding_names_the_line() {
        let mut file = b"code,name,kind,parent_code,valid_from\n48,".to_vec();
        file.extend_from_slice(&[0xC4, 0x90, 0xE0, 0x20]);
        file.extend_from_slice(b",PROVINCE,,2020-01-01\n");
        let problems = parse_units(&file, &codes()).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 2);
        assert!(problems[0].message.contains("UTF-8"));
    }

    #[test]
    fn quoted_fields_and_missing_columns() {
        assert_eq!(
            split_fields(r#"1,"Tổ 1, khu ""A""",WARD"#).unwrap(),
            vec!["1", "Tổ 1, khu \"A\"", "WARD"]
        );
        let problems = parse_units(b"code,name,kind\n1,a,WARD\n", &codes()).unwrap_err();
        assert!(problems.iter().all(|p| p.line == 1));
        assert_eq!(problems.len(), 2);
    }

    #[test]
    fn a_mapping_row_on_another_date_is_refused() {
        let file = "old_code,new_code,effective_on\n1,2,2025-07-01\n1,3,2025-07-02\n";
        let d = NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
        let problems = parse_mapping(file.as_bytes(), d).unwrap_err();
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            vec![
                "line 3, column effective_on: 2025-07-02 differs from the reform's date 2025-07-01",
                "line 3, column old_code: 1 is already mapped on line 2"
            ]
        );
    }
}
