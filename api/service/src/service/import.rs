//! Importing a ward's roster from the spreadsheet it keeps: members (with the group each belongs
//! to and their role in it) and groups.
//!
//! Every import is planned first: each row is read, checked and matched against what the
//! database holds — a member by normalised phone within the target unit, a group by name within
//! it — and becomes `CREATED`, `UPDATED`, `UNCHANGED` or `REFUSED` (with the column and the
//! reason). A dry run returns that plan and writes nothing. A commit plans again inside one write
//! transaction and applies every row that is not refused through the same service functions the
//! single-record mutations use (so scope and validation are theirs); any failure rolls the whole
//! file back. Importing the same file again plans every row `UNCHANGED`.
//!
//! Duplicates are reported, never merged: a phone twice in the file, a phone that two members of
//! the ward share, a member the file puts in a group while they belong to another group of the
//! same kind, a second leader for a group.

use std::collections::HashMap;

use cdtg_core::group::{Affiliation, GroupKind, MembershipRole};
use cdtg_core::policy::Action;
use cdtg_core::{text, validate};
use chrono::NaiveDate;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder,
};

use super::audit::{self, Touched};
use super::{groups, members, scope};
use crate::db::write_txn;
use crate::entity::{admin_unit, group, member, membership};
use crate::error::{ApiError, ApiResult};
use crate::principal::{Principal, Scope};
use crate::progress::{self, OnStep};
use crate::sheets::columns::{self, Column, ColumnSpec, GROUP_COLUMNS, Layout, MEMBER_COLUMNS};
use crate::sheets::read::{self, Cell, Row, SheetLimits};

/// What an import loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    Members,
    Groups,
}

impl ImportKind {
    pub fn columns(self) -> &'static [ColumnSpec] {
        match self {
            ImportKind::Members => MEMBER_COLUMNS,
            ImportKind::Groups => GROUP_COLUMNS,
        }
    }

    fn action(self) -> &'static str {
        match self {
            ImportKind::Members => "importMembers",
            ImportKind::Groups => "importGroups",
        }
    }
}

/// What became (or would become) of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowOutcome {
    Created,
    Updated,
    Unchanged,
    Refused,
}

/// Why a row was refused: the column (its heading in the file's language) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    pub column: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct RowReport {
    /// The row's number in the file, as the spreadsheet shows it.
    pub row: usize,
    pub outcome: RowOutcome,
    /// The natural key: the normalised phone, or the group's name.
    pub key: Option<String>,
    pub problems: Vec<RowProblem>,
}

#[derive(Debug, Clone)]
pub struct ImportReport {
    pub committed: bool,
    pub rows: Vec<RowReport>,
    /// Headings in the file that the import does not read.
    pub ignored_columns: Vec<String>,
}

impl ImportReport {
    pub fn count(&self, outcome: RowOutcome) -> usize {
        self.rows.iter().filter(|r| r.outcome == outcome).count()
    }

    /// "12 created, 3 updated, 40 unchanged, 1 refused".
    pub fn summary(&self) -> String {
        format!(
            "{} created, {} updated, {} unchanged, {} refused",
            self.count(RowOutcome::Created),
            self.count(RowOutcome::Updated),
            self.count(RowOutcome::Unchanged),
            self.count(RowOutcome::Refused)
        )
    }
}

/// An uploaded file.
#[derive(Debug, Clone)]
pub struct SheetFile {
    pub filename: String,
    pub bytes: Vec<u8>,
}

/// Imports `file` into the unit `unit_id` (a ward, usually): a dry run unless `commit`.
pub async fn run(
    db: &DatabaseConnection,
    p: &Principal,
    kind: ImportKind,
    unit_id: i64,
    file: &SheetFile,
    commit: bool,
    limits: &SheetLimits,
) -> ApiResult<ImportReport> {
    run_reporting(db, p, kind, unit_id, file, commit, limits, &progress::quiet).await
}

/// [`run`], reporting how far it has got to `on_step` (the command line prints it): the rows
/// read, the rows checked, and on commit the rows applied.
#[allow(clippy::too_many_arguments)]
pub async fn run_reporting(
    db: &DatabaseConnection,
    p: &Principal,
    kind: ImportKind,
    unit_id: i64,
    file: &SheetFile,
    commit: bool,
    limits: &SheetLimits,
    on_step: OnStep<'_>,
) -> ApiResult<ImportReport> {
    let action = kind.action();
    match kind {
        ImportKind::Members => {
            audit::authorize(db, p, Action::ManageMembers, action).await?;
            audit::authorize(db, p, Action::ManageMemberships, action).await?;
        }
        ImportKind::Groups => audit::authorize(db, p, Action::ManageGroups, action).await?,
    }
    if matches!(p.scope, Scope::Group { .. }) {
        let err = ApiError::forbidden("rosters are imported by the ward, not by a group");
        audit::record_failure(db, p, action, &err).await;
        return Err(err);
    }
    // The file, its rows and the plan are large and short-lived: their memory goes back to the
    // system once the import ends.
    let _trim = crate::memory::TrimWhenDone;
    // Reading the file is CPU work: off the async executor.
    let (filename, bytes, sheet_limits) = (file.filename.clone(), file.bytes.clone(), *limits);
    let rows =
        tokio::task::spawn_blocking(move || read::read_rows(&filename, &bytes, &sheet_limits))
            .await
            .map_err(|e| ApiError::Internal(format!("reading a sheet: {e}")))??;
    let layout = columns::find_layout(kind.columns(), &rows)?;
    let data = &rows[layout.header_index + 1..];
    let total = data.len() as u64;
    on_step(progress::Step {
        phase: "rows read",
        done: total,
        of: total,
    });
    let checked = || {
        on_step(progress::Step {
            phase: "rows checked",
            done: total,
            of: total,
        })
    };

    if !commit {
        let target = target_unit(db, p, unit_id).await?;
        let plan = plan(db, p, kind, &target, &layout, data).await?;
        checked();
        return Ok(plan.report(false, layout.ignored));
    }
    let txn = write_txn(db).await?;
    let outcome = async {
        let target = target_unit(&txn, p, unit_id).await?;
        let plan = plan(&txn, p, kind, &target, &layout, data).await?;
        checked();
        apply(&txn, p, &plan, on_step).await?;
        let report = plan.report(true, layout.ignored.clone());
        let touched = Touched {
            object_type: "Import",
            object_id: None,
            unit_path: Some(target.path.clone()),
            detail: Some(format!("{}: {}", file.filename, report.summary())),
        };
        Ok((report, touched))
    }
    .await;
    audit::conclude(db, txn, p, action, outcome).await
}

/// The unit the file is imported into: current and inside the importer's scope. A unit outside
/// the scope looks exactly like one that does not exist.
async fn target_unit<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    unit_id: i64,
) -> ApiResult<admin_unit::Model> {
    let unit = admin_unit::Entity::find_by_id(unit_id)
        .one(conn)
        .await?
        .filter(|u| scope::unit_in_scope(p, &u.path))
        .ok_or_else(|| ApiError::bad_input("unitId", "no such unit"))?;
    if let Some(closed) = unit.valid_to {
        return Err(ApiError::bad_input(
            "unitId",
            format!("{} was closed on {closed}", unit.name),
        ));
    }
    Ok(unit)
}

/// What to write for one accepted row.
#[derive(Debug, Clone)]
enum RowStep {
    Nothing,
    CreateMember {
        new: members::NewMember,
        join: Option<Join>,
    },
    UpdateMember {
        id: i64,
        changes: Option<members::MemberChanges>,
        join: Option<Join>,
        /// A current membership whose role changes: ended, and opened again with the new role.
        end_membership: Option<i64>,
    },
    CreateGroup(groups::NewGroup),
    UpdateGroup {
        id: i64,
        changes: groups::GroupChanges,
    },
}

#[derive(Debug, Clone)]
struct Join {
    group_id: i64,
    role: MembershipRole,
    joined_on: Option<NaiveDate>,
}

struct Plan {
    rows: Vec<(RowReport, RowStep)>,
}

impl Plan {
    fn report(&self, committed: bool, ignored_columns: Vec<String>) -> ImportReport {
        ImportReport {
            committed,
            rows: self.rows.iter().map(|(r, _)| r.clone()).collect(),
            ignored_columns,
        }
    }
}

/// New members are written this many at a time: few statements per member, and progress to
/// report in between.
const MEMBERS_PER_WRITE: usize = 500;

/// Creates the buffered new members and empties the buffer; returns how many it wrote.
async fn write_new_members(
    txn: &DatabaseTransaction,
    p: &Principal,
    buffered: &mut Vec<(members::NewMember, Option<members::Joining>)>,
) -> ApiResult<usize> {
    let batch = std::mem::take(buffered);
    let rows = batch.len();
    if rows > 0 {
        members::create_many_in(txn, p, batch).await?;
    }
    Ok(rows)
}

/// Writes the plan's accepted rows, in file order. New members are created in batches
/// ([`members::create_many_in`]): a roster's first import is almost all new people.
async fn apply(
    txn: &DatabaseTransaction,
    p: &Principal,
    plan: &Plan,
    on_step: OnStep<'_>,
) -> ApiResult<()> {
    let today = super::today_in_vietnam();
    let to_write = plan
        .rows
        .iter()
        .filter(|(report, _)| report.outcome != RowOutcome::Refused)
        .count() as u64;
    let mut written = 0;
    let mut wrote = |rows: usize| {
        written += rows as u64;
        on_step(progress::Step {
            phase: "rows applied",
            done: written,
            of: to_write,
        });
    };
    wrote(0);
    let mut new_members = Vec::new();
    for (report, step) in &plan.rows {
        if report.outcome == RowOutcome::Refused {
            continue;
        }
        if let RowStep::CreateMember { new, join } = step {
            new_members.push((new.clone(), join.clone().map(Join::into_joining)));
            if new_members.len() >= MEMBERS_PER_WRITE {
                wrote(write_new_members(txn, p, &mut new_members).await?);
            }
            continue;
        }
        // Whatever else the file says comes after the new people listed before it.
        wrote(write_new_members(txn, p, &mut new_members).await?);
        match step.clone() {
            RowStep::Nothing | RowStep::CreateMember { .. } => {}
            RowStep::UpdateMember {
                id,
                changes,
                join,
                end_membership,
            } => {
                if let Some(changes) = changes {
                    members::update_in(txn, p, id, changes).await?;
                }
                if let Some(m) = end_membership {
                    members::end_membership_in(txn, p, m, Some(today)).await?;
                }
                if let Some(j) = join {
                    join_group(txn, p, id, j).await?;
                }
            }
            RowStep::CreateGroup(new) => {
                groups::create_in(txn, p, new).await?;
            }
            RowStep::UpdateGroup { id, changes } => {
                groups::update_in(txn, p, id, changes).await?;
            }
        }
        wrote(1);
    }
    wrote(write_new_members(txn, p, &mut new_members).await?);
    Ok(())
}

impl Join {
    fn into_joining(self) -> members::Joining {
        members::Joining {
            group_id: self.group_id,
            role: self.role,
            joined_on: self.joined_on,
        }
    }
}

async fn join_group(
    txn: &DatabaseTransaction,
    p: &Principal,
    member_id: i64,
    j: Join,
) -> ApiResult<()> {
    members::add_membership_in(
        txn,
        p,
        members::NewMembership {
            member_id,
            group_id: j.group_id,
            role: j.role,
            joined_on: j.joined_on,
        },
    )
    .await?;
    Ok(())
}

/// The current units of the target's subtree, by code and by folded name.
struct Units {
    by_code: HashMap<String, admin_unit::Model>,
    by_name: HashMap<String, Vec<admin_unit::Model>>,
}

impl Units {
    async fn load<C: ConnectionTrait>(conn: &C, target: &admin_unit::Model) -> ApiResult<Units> {
        let all = admin_unit::Entity::find()
            .filter(scope::unit_subtree(admin_unit::Column::Path, &target.path))
            .filter(admin_unit::Column::ValidTo.is_null())
            .all(conn)
            .await?;
        let mut by_code = HashMap::new();
        let mut by_name: HashMap<String, Vec<admin_unit::Model>> = HashMap::new();
        for u in all {
            if let Some(code) = &u.code {
                by_code.insert(code.trim().to_owned(), u.clone());
            }
            by_name
                .entry(columns::normalise(&u.name))
                .or_default()
                .push(u);
        }
        Ok(Units { by_code, by_name })
    }

    /// A unit named in the file: its code, or its name (accents and case ignored). Units outside
    /// the target are unknown, whatever the database holds.
    fn resolve(
        &self,
        cell: &Cell,
        target: &admin_unit::Model,
    ) -> Result<admin_unit::Model, String> {
        let text = cell.text();
        if let Some(u) = self.by_code.get(text.trim()) {
            return Ok(u.clone());
        }
        match self
            .by_name
            .get(&columns::normalise(&text))
            .map(Vec::as_slice)
        {
            Some([one]) => Ok(one.clone()),
            Some([_, _, ..]) => Err(format!(
                "several units in {} are named {text}; write the unit's code",
                target.name
            )),
            _ => Err(format!("unknown unit {text:?} in {}", target.name)),
        }
    }
}

/// Visible groups in the target's subtree, by folded name.
async fn groups_in<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    target: &admin_unit::Model,
) -> ApiResult<HashMap<String, Vec<group::Model>>> {
    let all = group::Entity::find()
        .filter(scope::groups(p))
        .filter(scope::unit_subtree(group::Column::UnitPath, &target.path))
        .order_by_asc(group::Column::Id)
        .all(conn)
        .await?;
    let mut by_name: HashMap<String, Vec<group::Model>> = HashMap::new();
    for g in all {
        by_name
            .entry(columns::normalise(&g.name))
            .or_default()
            .push(g);
    }
    Ok(by_name)
}

/// Collects a row's problems, naming each column by its heading.
struct Problems<'a> {
    specs: &'a [ColumnSpec],
    list: Vec<RowProblem>,
}

impl<'a> Problems<'a> {
    fn new(specs: &'a [ColumnSpec]) -> Self {
        Problems {
            specs,
            list: Vec::new(),
        }
    }

    fn add(&mut self, column: Column, message: impl Into<String>) {
        self.list.push(RowProblem {
            column: columns::heading(self.specs, column).to_owned(),
            message: message.into(),
        });
    }

    /// Keeps the value, or notes the problem and gives `None`.
    fn check<T>(&mut self, column: Column, r: Result<T, String>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(m) => {
                self.add(column, m);
                None
            }
        }
    }
}

async fn plan<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    kind: ImportKind,
    target: &admin_unit::Model,
    layout: &Layout,
    rows: &[Row],
) -> ApiResult<Plan> {
    match kind {
        ImportKind::Members => plan_members(conn, p, target, layout, rows).await,
        ImportKind::Groups => plan_groups(conn, p, target, layout, rows).await,
    }
}

/// One member row, read and validated but not yet matched.
struct MemberRow {
    family: String,
    middle: Option<String>,
    given: String,
    phone: String,
    unit: Option<admin_unit::Model>,
    group: Option<group::Model>,
    role: MembershipRole,
    affiliation: Option<Affiliation>,
    trained_on: Option<NaiveDate>,
    joined_on: Option<NaiveDate>,
}

fn read_member(
    layout: &Layout,
    row: &Row,
    units: &Units,
    groups_by_name: &HashMap<String, Vec<group::Model>>,
    target: &admin_unit::Model,
    problems: &mut Problems<'_>,
) -> Option<MemberRow> {
    let cell = |c: Column| layout.cell(row, c);
    let name = match cell(Column::FullName) {
        None => {
            problems.add(Column::FullName, "is empty");
            None
        }
        Some(c) => problems.check(Column::FullName, columns::split_name(&c.text())),
    };
    let name = name.and_then(|(family, middle, given)| {
        let family = validate::person_name_part("familyName", &family);
        let middle = middle
            .map(|m| validate::person_name_part("middleName", &m))
            .transpose();
        let given = validate::person_name_part("givenName", &given);
        match (family, middle, given) {
            (Ok(f), Ok(m), Ok(g)) => Some((f, m, g)),
            (f, m, g) => {
                let why = [f.err(), m.err(), g.err()]
                    .into_iter()
                    .flatten()
                    .map(|e| e.message)
                    .collect::<Vec<_>>()
                    .join(" ");
                problems.add(Column::FullName, why);
                None
            }
        }
    });
    let phone = match cell(Column::Phone) {
        None => {
            problems.add(
                Column::Phone,
                "is empty; the phone number identifies the member",
            );
            None
        }
        Some(c) => problems.check(Column::Phone, columns::phone(c)),
    };
    let unit = match cell(Column::Unit) {
        None => Some(None),
        Some(c) => problems
            .check(Column::Unit, units.resolve(c, target))
            .map(Some),
    };
    let group = match cell(Column::Group) {
        None => Some(None),
        Some(c) => {
            let text = c.text();
            match groups_by_name
                .get(&columns::normalise(&text))
                .map(Vec::as_slice)
            {
                Some([one]) => Some(Some(one.clone())),
                Some([_, _, ..]) => {
                    problems.add(
                        Column::Group,
                        format!("several groups in {} are named {text}", target.name),
                    );
                    None
                }
                _ => {
                    problems.add(
                        Column::Group,
                        format!(
                            "unknown group {text:?} in {}; import the groups first",
                            target.name
                        ),
                    );
                    None
                }
            }
        }
    };
    // `Chức vụ` is the role in the group the row names; without a group, offices often use
    // the column for a position elsewhere (Bí thư chi đoàn…), which is not ours to read.
    let role = match cell(Column::Group) {
        Some(_) => problems.check(Column::Role, columns::role(cell(Column::Role))),
        None => Some(MembershipRole::Member),
    };
    let affiliation = match cell(Column::Affiliation) {
        None => Some(None),
        Some(c) => problems
            .check(Column::Affiliation, columns::affiliation(c))
            .map(Some),
    };
    let mut date = |column: Column| match cell(column) {
        None => Some(None),
        Some(c) => problems.check(column, columns::date(c)).map(Some),
    };
    let trained_on = date(Column::TrainedOn);
    let joined_on = date(Column::JoinedOn);
    let ((family, middle, given), phone) = (name?, phone?);
    Some(MemberRow {
        family,
        middle,
        given,
        phone,
        unit: unit?,
        group: group?,
        role: role?,
        affiliation: affiliation?,
        trained_on: trained_on?,
        joined_on: joined_on?,
    })
}

async fn plan_members<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    target: &admin_unit::Model,
    layout: &Layout,
    rows: &[Row],
) -> ApiResult<Plan> {
    let units = Units::load(conn, target).await?;
    let groups_by_name = groups_in(conn, p, target).await?;

    // Read every row first, so the database is asked about all the file's phones at once.
    let mut read_rows = Vec::with_capacity(rows.len());
    for row in rows {
        let mut problems = Problems::new(MEMBER_COLUMNS);
        let read = read_member(layout, row, &units, &groups_by_name, target, &mut problems);
        read_rows.push((row.number, read, problems.list));
    }
    let phones: Vec<String> = read_rows
        .iter()
        .filter_map(|(_, r, _)| r.as_ref().map(|r| r.phone.clone()))
        .collect();
    let existing = members_by_phone(conn, p, &phones).await?;
    let member_ids: Vec<i64> = existing.values().flatten().map(|m| m.id).collect();
    let current = current_memberships(conn, &member_ids).await?;
    let group_names = group_names(conn, p, &current).await?;

    let mut seen_phones: HashMap<String, usize> = HashMap::new();
    // Leaders named by earlier rows of the file, per group.
    let mut file_leaders: HashMap<i64, (String, usize)> = HashMap::new();
    let mut out = Vec::with_capacity(read_rows.len());
    for (number, read, mut problems_list) in read_rows {
        let mut problems = Problems::new(MEMBER_COLUMNS);
        problems.list.append(&mut problems_list);
        let key = read.as_ref().map(|r| r.phone.clone());
        let step = match read {
            None => None,
            Some(r) => {
                if let Some(first) = seen_phones.get(&r.phone) {
                    problems.add(
                        Column::Phone,
                        format!("the same phone as row {first}: one row per member"),
                    );
                    None
                } else {
                    seen_phones.insert(r.phone.clone(), number);
                    plan_member(
                        target,
                        r,
                        number,
                        &existing,
                        &current,
                        &group_names,
                        &mut file_leaders,
                        &mut problems,
                    )
                }
            }
        };
        out.push(finish(number, key, step, problems.list));
    }
    Ok(Plan { rows: out })
}

fn finish(
    number: usize,
    key: Option<String>,
    step: Option<(RowOutcome, RowStep)>,
    problems: Vec<RowProblem>,
) -> (RowReport, RowStep) {
    match step {
        Some((outcome, step)) if problems.is_empty() => (
            RowReport {
                row: number,
                outcome,
                key,
                problems,
            },
            step,
        ),
        _ => (
            RowReport {
                row: number,
                outcome: RowOutcome::Refused,
                key,
                problems,
            },
            RowStep::Nothing,
        ),
    }
}

#[allow(clippy::too_many_arguments)] // the lookups the whole file shares, passed as they are
fn plan_member(
    target: &admin_unit::Model,
    r: MemberRow,
    number: usize,
    existing: &HashMap<String, Vec<member::Model>>,
    current: &HashMap<i64, Vec<membership::Model>>,
    group_names: &HashMap<i64, (String, GroupKind, Option<i64>)>,
    file_leaders: &mut HashMap<i64, (String, usize)>,
    problems: &mut Problems<'_>,
) -> Option<(RowOutcome, RowStep)> {
    let same_phone = existing.get(&r.phone).map(Vec::as_slice).unwrap_or(&[]);
    let (inside, outside): (Vec<&member::Model>, Vec<&member::Model>) = same_phone
        .iter()
        .partition(|m| cdtg_core::policy::path_within(&target.path, &m.unit_path));
    let found = match (inside.as_slice(), outside.as_slice()) {
        ([], []) => None,
        ([one], _) => Some(*one),
        ([_, _, ..], _) => {
            let names: Vec<&str> = inside.iter().map(|m| m.full_name.as_str()).collect();
            problems.add(
                Column::Phone,
                format!(
                    "{} members of {} share this phone ({}); update them one by one",
                    inside.len(),
                    target.name,
                    names.join(", ")
                ),
            );
            return None;
        }
        ([], [other, ..]) => {
            problems.add(
                Column::Phone,
                format!(
                    "{} has this phone and is registered outside {}",
                    other.full_name, target.name
                ),
            );
            return None;
        }
    };

    // The group the file names, and whether the member's role there changes.
    let mut join = None;
    let mut end_membership = None;
    let mut membership_changes = false;
    if let Some(g) = &r.group {
        let theirs = found
            .and_then(|m| current.get(&m.id))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        match theirs.iter().find(|ms| ms.group_id == g.id) {
            Some(ms) if ms.role == r.role => {}
            Some(ms) => {
                end_membership = Some(ms.id);
                membership_changes = true;
            }
            None => {
                if let Some(other) = theirs.iter().find(|ms| {
                    group_names
                        .get(&ms.group_id)
                        .is_none_or(|(_, kind, _)| *kind == g.kind)
                }) {
                    let name = group_names
                        .get(&other.group_id)
                        .map_or("another group", |(n, _, _)| n.as_str());
                    problems.add(
                        Column::Group,
                        format!(
                            "the member already belongs to {name}; the file says {}. End that \
                             membership first",
                            g.name
                        ),
                    );
                    return None;
                }
                membership_changes = true;
            }
        }
        let role_changes = theirs
            .iter()
            .find(|ms| ms.group_id == g.id)
            .is_none_or(|ms| ms.role != r.role);
        if r.role == MembershipRole::Leader && role_changes {
            if let Some((name, row)) = file_leaders.get(&g.id) {
                problems.add(
                    Column::Role,
                    format!("row {row} already makes {name} the leader of {}", g.name),
                );
                return None;
            }
            if let Some(leader) = g.leader_member_id
                && Some(leader) != found.map(|m| m.id)
            {
                problems.add(
                    Column::Role,
                    format!("{} already has a leader; change their role first", g.name),
                );
                return None;
            }
        }
        if r.role == MembershipRole::Leader {
            let full = members::full_name(&r.family, r.middle.as_deref(), &r.given);
            file_leaders.insert(g.id, (full, number));
        }
        if membership_changes {
            join = Some(Join {
                group_id: g.id,
                role: r.role,
                joined_on: r.joined_on,
            });
            if end_membership.is_some() {
                // A new role starts today, like changeMembershipRole.
                if let Some(j) = &mut join {
                    j.joined_on = None;
                }
            }
        }
    }

    match found {
        None => {
            let unit = r.unit.unwrap_or_else(|| target.clone());
            Some((
                RowOutcome::Created,
                RowStep::CreateMember {
                    new: members::NewMember {
                        family_name: r.family,
                        middle_name: r.middle,
                        given_name: r.given,
                        phone: Some(r.phone),
                        affiliation: r.affiliation.unwrap_or(Affiliation::Resident),
                        trained_on: r.trained_on,
                        unit_id: unit.id,
                        group_id: None,
                        // The plan has already refused every phone a member in scope has (and
                        // every phone twice in the file), in this same transaction; asking
                        // again per row costs a scan of the members on PostgreSQL (the check's
                        // `ORDER BY id LIMIT 1` walks the primary key when nothing matches).
                        allow_shared_phone: true,
                    },
                    join,
                },
            ))
        }
        Some(m) => {
            if let Some(unit) = &r.unit
                && unit.id != m.unit_id
            {
                problems.add(
                    Column::Unit,
                    format!(
                        "{} is registered in another unit; move them with transferMember first",
                        m.full_name
                    ),
                );
                return None;
            }
            // A phone is shared in a household: a row whose person is called by another name
            // is someone else, not a rename (spelling and accents may still be corrected).
            if text::fold(&m.given_name) != text::fold(&r.given) {
                problems.add(
                    Column::Phone,
                    format!(
                        "{} already has this phone; if this is the same person, correct the name \
                         in the app first",
                        m.full_name
                    ),
                );
                return None;
            }
            let mut changes = members::MemberChanges {
                expected_version: Some(m.version),
                ..Default::default()
            };
            let mut changed = false;
            let middle = r.middle.clone().unwrap_or_default();
            if text::nfc(&m.family_name) != r.family
                || text::nfc(m.middle_name.as_deref().unwrap_or("")) != middle
                || text::nfc(&m.given_name) != r.given
            {
                changes.family_name = Some(r.family);
                changes.middle_name = Some(middle);
                changes.given_name = Some(r.given);
                changed = true;
            }
            if let Some(a) = r.affiliation
                && a != m.affiliation
            {
                changes.affiliation = Some(a);
                changed = true;
            }
            if let Some(d) = r.trained_on
                && Some(d) != m.trained_on
            {
                changes.trained_on = Some(d);
                changed = true;
            }
            let outcome = if changed || membership_changes {
                RowOutcome::Updated
            } else {
                RowOutcome::Unchanged
            };
            Some((
                outcome,
                RowStep::UpdateMember {
                    id: m.id,
                    changes: changed.then_some(changes),
                    join,
                    end_membership,
                },
            ))
        }
    }
}

/// Members the principal can see with any of these phones.
async fn members_by_phone<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    phones: &[String],
) -> ApiResult<HashMap<String, Vec<member::Model>>> {
    let mut out: HashMap<String, Vec<member::Model>> = HashMap::new();
    for chunk in phones.chunks(500) {
        let rows = member::Entity::find()
            .filter(scope::members(p))
            .filter(member::Column::Phone.is_in(chunk.iter().cloned()))
            .order_by_asc(member::Column::Id)
            .all(conn)
            .await?;
        for m in rows {
            if let Some(phone) = m.phone.clone() {
                out.entry(phone).or_default().push(m);
            }
        }
    }
    Ok(out)
}

async fn current_memberships<C: ConnectionTrait>(
    conn: &C,
    member_ids: &[i64],
) -> ApiResult<HashMap<i64, Vec<membership::Model>>> {
    let mut out: HashMap<i64, Vec<membership::Model>> = HashMap::new();
    for chunk in member_ids.chunks(500) {
        let rows = membership::Entity::find()
            .filter(membership::Column::MemberId.is_in(chunk.iter().copied()))
            .filter(membership::Column::LeftOn.is_null())
            .order_by_asc(membership::Column::Id)
            .all(conn)
            .await?;
        for m in rows {
            out.entry(m.member_id).or_default().push(m);
        }
    }
    Ok(out)
}

/// Name, kind and leader of the groups those memberships are in; a group the principal cannot
/// see keeps its name to itself.
async fn group_names<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    current: &HashMap<i64, Vec<membership::Model>>,
) -> ApiResult<HashMap<i64, (String, GroupKind, Option<i64>)>> {
    let ids: Vec<i64> = current.values().flatten().map(|m| m.group_id).collect();
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows = group::Entity::find()
            .filter(group::Column::Id.is_in(chunk.iter().copied()))
            .all(conn)
            .await?;
        for g in rows {
            let visible = scope::group_in_scope(p, g.id, &g.unit_path);
            let name = if visible {
                g.name.clone()
            } else {
                "a group outside your scope".to_owned()
            };
            out.insert(g.id, (name, g.kind, g.leader_member_id));
        }
    }
    Ok(out)
}

async fn plan_groups<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    target: &admin_unit::Model,
    layout: &Layout,
    rows: &[Row],
) -> ApiResult<Plan> {
    let units = Units::load(conn, target).await?;
    let existing = groups_in(conn, p, target).await?;
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut problems = Problems::new(GROUP_COLUMNS);
        let cell = |c: Column| layout.cell(row, c);
        let name = match cell(Column::GroupName) {
            None => {
                problems.add(Column::GroupName, "is empty");
                None
            }
            Some(c) => problems.check(
                Column::GroupName,
                validate::required_text("name", &c.text(), 200).map_err(|e| e.message),
            ),
        };
        let unit = match cell(Column::Unit) {
            None => Some(target.clone()),
            Some(c) => problems.check(Column::Unit, units.resolve(c, target)),
        };
        let kind = problems.check(
            Column::GroupKind,
            columns::group_kind(cell(Column::GroupKind)),
        );
        let established_on = match cell(Column::EstablishedOn) {
            None => Some(None),
            Some(c) => problems
                .check(Column::EstablishedOn, columns::date(c))
                .map(Some),
        };
        let decision_number = match cell(Column::DecisionNumber) {
            None => Some(None),
            Some(c) => problems
                .check(
                    Column::DecisionNumber,
                    validate::optional_text("decisionNumber", Some(&c.text()), 64)
                        .map_err(|e| e.message),
                )
                .map(|d| d.filter(|d| !d.is_empty())),
        };
        let zalo = match cell(Column::Zalo) {
            None => Some(None),
            Some(c) => problems
                .check(
                    Column::Zalo,
                    validate::http_url("zaloUrl", &c.text()).map_err(|e| e.message),
                )
                .map(Some),
        };
        let key = name.clone();
        let step = (|| {
            let (name, unit, kind) = (name?, unit?, kind?);
            let (established_on, decision_number, zalo) =
                (established_on?, decision_number?, zalo?);
            let folded = columns::normalise(&name);
            if let Some(first) = seen.get(&folded) {
                problems.add(
                    Column::GroupName,
                    format!("the same group as row {first}: one row per group"),
                );
                return None;
            }
            seen.insert(folded.clone(), row.number);
            match existing.get(&folded).map(Vec::as_slice) {
                None | Some([]) => Some((
                    RowOutcome::Created,
                    RowStep::CreateGroup(groups::NewGroup {
                        name,
                        kind,
                        unit_id: unit.id,
                        established_on,
                        decision_number,
                        zalo_url: zalo,
                    }),
                )),
                Some([g]) => {
                    if g.unit_id != unit.id && cell(Column::Unit).is_some() {
                        problems.add(
                            Column::Unit,
                            format!("{} belongs to another unit; change it in the app", g.name),
                        );
                        return None;
                    }
                    if cell(Column::GroupKind).is_some() && g.kind != kind {
                        problems.add(
                            Column::GroupKind,
                            "a group's kind does not change; create a new group",
                        );
                        return None;
                    }
                    let mut changes = groups::GroupChanges {
                        expected_version: Some(g.version),
                        ..Default::default()
                    };
                    let mut changed = false;
                    if established_on.is_some() && established_on != g.established_on {
                        changes.established_on = established_on;
                        changed = true;
                    }
                    if decision_number.is_some() && decision_number != g.decision_number {
                        changes.decision_number = decision_number;
                        changed = true;
                    }
                    if zalo.is_some() && zalo != g.zalo_url {
                        changes.zalo_url = zalo;
                        changed = true;
                    }
                    if changed {
                        Some((
                            RowOutcome::Updated,
                            RowStep::UpdateGroup { id: g.id, changes },
                        ))
                    } else {
                        Some((RowOutcome::Unchanged, RowStep::Nothing))
                    }
                }
                Some([_, _, ..]) => {
                    problems.add(
                        Column::GroupName,
                        format!("several groups in {} have this name", target.name),
                    );
                    None
                }
            }
        })();
        out.push(finish(row.number, key, step, problems.list));
    }
    Ok(Plan { rows: out })
}
