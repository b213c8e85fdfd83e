//! Exports for the offices: rosters (members with their groups), groups, tasks and field reports,
//! as rows for `sheets::write`.
//!
//! Scope and personal data follow the GraphQL reads exactly: the same `scope` filters, and member
//! names and phones only for roles that may read personal data (`Action::ReadPersonalData`). A
//! role that may read aggregates only (`VIEWER`) gets, whatever kind it asks for, the number of
//! groups and members per unit — no names.
//!
//! Rows are read in keyset chunks (`WHERE (sort key, id) > last seen ORDER BY sort key, id LIMIT
//! n`) and handed on chunk by chunk, so an export of the whole city holds one chunk in memory,
//! and a row written while the export runs can neither repeat nor hide another.
//!
//! Every export is audited: who, which kind, which unit, whether personal columns were in it.

use std::collections::HashMap;

use cdtg_core::policy::{self, Action};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::audit::{self, Touched};
use super::{scope, units};
use crate::entity::{activity, admin_unit, group, member, membership, task};
use crate::error::{ApiError, ApiResult};
use crate::principal::{Principal, Scope};
use crate::sheets::columns::{affiliation_label, group_kind_label, role_label};
use crate::sheets::write::{Out, SheetFormat, national_phone};

/// Rows fetched per statement.
const CHUNK: u64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ExportKind {
    Roster,
    Groups,
    Tasks,
    FieldReports,
    /// A `statsBreakdown` (see `graphql::breakdown_export`): aggregates only.
    StatsBreakdown,
}

impl ExportKind {
    pub fn slug(self) -> &'static str {
        match self {
            ExportKind::Roster => "roster",
            ExportKind::Groups => "groups",
            ExportKind::Tasks => "tasks",
            ExportKind::FieldReports => "field-reports",
            ExportKind::StatsBreakdown => "stats-breakdown",
        }
    }

    pub fn parse(s: &str) -> Option<ExportKind> {
        [
            ExportKind::Roster,
            ExportKind::Groups,
            ExportKind::Tasks,
            ExportKind::FieldReports,
            ExportKind::StatsBreakdown,
        ]
        .into_iter()
        .find(|k| k.slug() == s)
    }

    /// What reading the rows in full needs.
    fn read_action(self) -> Action {
        match self {
            ExportKind::Roster => Action::ReadPersonalData,
            ExportKind::Groups => Action::ReadGroups,
            ExportKind::Tasks => Action::ReadTasks,
            ExportKind::FieldReports => Action::ReadActivities,
            ExportKind::StatsBreakdown => Action::ReadAggregates,
        }
    }
}

/// What to export.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExportRequest {
    pub kind: ExportKind,
    pub format: SheetFormat,
    /// The unit whose subtree is exported; the caller's whole scope without it.
    pub unit_id: Option<i64>,
    /// For [`ExportKind::StatsBreakdown`]: which breakdown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakdown: Option<BreakdownSpec>,
}

/// The arguments of a `statsBreakdown` to export (the unit is the request's `unit_id`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BreakdownSpec {
    /// `StatsDimension` names, e.g. `["CHILD_UNIT", "TASK_STATUS"]`.
    pub by: Vec<String>,
    /// `UnitStats` figures; empty: every figure the dimensions apply to.
    #[serde(default)]
    pub fields: Vec<String>,
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
    pub as_of: Option<chrono::NaiveDate>,
    pub limit: Option<i64>,
}

/// An export ready to stream: its headings and its rows, chunk by chunk.
pub struct Export {
    pub headings: Vec<&'static str>,
    pub rows: BoxStream<'static, ApiResult<Vec<Vec<Out>>>>,
    /// The file name offered to the browser.
    pub filename: String,
}

/// How much of a kind the principal may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Rows, with names and phones.
    Personal,
    /// Rows, without personal columns.
    Rows,
    /// Counts per unit only.
    Aggregates,
}

fn access(p: &Principal, kind: ExportKind) -> ApiResult<Access> {
    let personal = policy::allows(p.role, Action::ReadPersonalData);
    if policy::allows(p.role, kind.read_action()) {
        return Ok(if personal {
            Access::Personal
        } else {
            Access::Rows
        });
    }
    if policy::allows(p.role, Action::ReadAggregates) {
        return Ok(Access::Aggregates);
    }
    Err(ApiError::forbidden(format!(
        "role {} may not export this",
        p.role.as_str()
    )))
}

/// The subtree exported: the requested unit (which must be visible), or the caller's scope.
async fn root_path(
    db: &DatabaseConnection,
    p: &Principal,
    unit_id: Option<i64>,
) -> ApiResult<Option<String>> {
    if unit_id.is_some() {
        return units::path_of(db, p, unit_id).await;
    }
    Ok(match &p.scope {
        Scope::Everything => None,
        Scope::Unit { path, .. } => Some(path.clone()),
        Scope::Group { unit_path, .. } => Some(unit_path.clone()),
    })
}

fn action_name(kind: ExportKind) -> &'static str {
    match kind {
        ExportKind::Roster => "exportRoster",
        ExportKind::Groups => "exportGroups",
        ExportKind::Tasks => "exportTasks",
        ExportKind::FieldReports => "exportFieldReports",
        ExportKind::StatsBreakdown => "exportStatsBreakdown",
    }
}

/// Whether the principal may make this export (a refusal is audited).
pub async fn check(db: &DatabaseConnection, p: &Principal, r: &ExportRequest) -> ApiResult<()> {
    let action = action_name(r.kind);
    if let Err(e) = access(p, r.kind) {
        audit::record_failure(db, p, action, &e).await;
        return Err(e);
    }
    root_path(db, p, r.unit_id).await?;
    Ok(())
}

/// Prepares an export and records who made it (on `db`, the primary). Nothing is read yet: the
/// rows are read from `read` (the replica, when one may serve the caller) as the stream is
/// polled.
pub async fn start(
    db: &DatabaseConnection,
    read: &DatabaseConnection,
    p: &Principal,
    r: &ExportRequest,
) -> ApiResult<Export> {
    if r.kind == ExportKind::StatsBreakdown {
        // Computed by running the breakdown through the schema (`graphql::breakdown_export`).
        return Err(ApiError::Internal(
            "a stats breakdown export goes through graphql::breakdown_export".into(),
        ));
    }
    check(db, p, r).await?;
    let access = access(p, r.kind)?;
    let path = root_path(db, p, r.unit_id).await?;
    let detail = format!(
        "{} as {} of {}; personal columns: {}",
        r.kind.slug(),
        r.format.extension(),
        path.as_deref().unwrap_or("everything"),
        if access == Access::Personal {
            "yes"
        } else {
            "no"
        }
    );
    let touched = Touched {
        object_type: "Export",
        object_id: None,
        unit_path: path.clone(),
        detail: Some(detail),
    };
    audit::record_event(db, p, action_name(r.kind), &touched).await;
    let filename = format!(
        "{}-{}.{}",
        r.kind.slug(),
        crate::service::today_in_vietnam(),
        r.format.extension()
    );
    let (db, p) = (read.clone(), p.clone());
    let (headings, rows) = match (access, r.kind) {
        // A stats breakdown returned above; were it here, aggregates are all it could show.
        (Access::Aggregates, _) | (_, ExportKind::StatsBreakdown) => {
            (AGGREGATE_HEADINGS.to_vec(), aggregates(db, p, path))
        }
        (_, ExportKind::Roster) => (ROSTER_HEADINGS.to_vec(), roster(db, p, path)),
        (a, ExportKind::Groups) => {
            let mut h = GROUP_HEADINGS.to_vec();
            if a == Access::Personal {
                h.push("Tổ trưởng");
            }
            (h, groups(db, p, path, a == Access::Personal))
        }
        (a, ExportKind::Tasks) => {
            let mut h = TASK_HEADINGS.to_vec();
            if a == Access::Personal {
                h.push("Người phụ trách");
            }
            (h, tasks(db, p, path, a == Access::Personal))
        }
        (a, ExportKind::FieldReports) => {
            let mut h = REPORT_HEADINGS.to_vec();
            if a == Access::Personal {
                h.push("Người báo cáo");
            }
            (h, field_reports(db, p, path, a == Access::Personal))
        }
    };
    Ok(Export {
        headings,
        rows,
        filename,
    })
}

/// The roster's headings are the import's: an exported roster imports again unchanged.
pub const ROSTER_HEADINGS: [&str; 8] = [
    "Họ và tên",
    "Số điện thoại",
    "Tổ dân phố",
    "Tổ công nghệ số",
    "Chức vụ",
    "Đoàn thể",
    "Ngày tập huấn",
    "Ngày tham gia",
];
const GROUP_HEADINGS: [&str; 7] = [
    "Tên tổ",
    "Tổ dân phố",
    "Loại tổ",
    "Ngày thành lập",
    "Số quyết định",
    "Nhóm Zalo",
    "Số thành viên",
];
const TASK_HEADINGS: [&str; 9] = [
    "Nhiệm vụ",
    "Tổ công nghệ số",
    "Tổ dân phố",
    "Loại",
    "Ưu tiên",
    "Trạng thái",
    "Hạn",
    "Chỉ tiêu",
    "Kết quả",
];
const REPORT_HEADINGS: [&str; 7] = [
    "Thời gian",
    "Tổ công nghệ số",
    "Nhiệm vụ",
    "Số người dân được hỗ trợ",
    "Số tài khoản VNeID kích hoạt",
    "Tiến độ",
    "Ghi chú",
];
const AGGREGATE_HEADINGS: [&str; 3] = ["Đơn vị", "Số tổ", "Số thành viên"];

fn subtree<C: ColumnTrait>(col: C, path: &Option<String>) -> Condition {
    match path {
        Some(path) => scope::unit_subtree(col, path),
        None => Condition::all(),
    }
}

/// The rows of `select` in name order (the Vietnamese sort key, then the id), `CHUNK` at a time:
/// each chunk starts after the last (key, id) of the one before.
fn by_name<E>(
    db: DatabaseConnection,
    select: sea_orm::Select<E>,
    (key, id): (E::Column, E::Column),
    position: fn(&E::Model) -> (String, i64),
) -> BoxStream<'static, ApiResult<Vec<E::Model>>>
where
    E: EntityTrait,
    E::Model: Send + Sync,
{
    Box::pin(async_stream::try_stream! {
        let mut last: Option<(String, i64)> = None;
        loop {
            let mut q = select.clone();
            if let Some((k, i)) = &last {
                // `key >= k` first: the index on the key is read from the last row on.
                q = q.filter(key.gte(k.clone())).filter(
                    Condition::any()
                        .add(key.gt(k.clone()))
                        .add(Condition::all().add(key.eq(k.clone())).add(id.gt(*i))),
                );
            }
            let chunk = q.order_by_asc(key).order_by_asc(id).limit(CHUNK).all(&db).await?;
            let Some(tail) = chunk.last() else { break };
            last = Some(position(tail));
            let full = chunk.len() as u64 == CHUNK;
            yield chunk;
            if !full {
                break;
            }
        }
    })
}

/// Names of units and groups, loaded as rows need them and kept for the export's lifetime (a
/// city has a few thousand of each).
#[derive(Default)]
struct Names {
    units: HashMap<i64, String>,
    groups: HashMap<i64, String>,
}

impl Names {
    async fn load_units(
        &mut self,
        db: &DatabaseConnection,
        ids: impl Iterator<Item = i64>,
    ) -> ApiResult<()> {
        let missing: Vec<i64> = ids.filter(|id| !self.units.contains_key(id)).collect();
        for chunk in missing.chunks(500) {
            for u in admin_unit::Entity::find()
                .filter(admin_unit::Column::Id.is_in(chunk.iter().copied()))
                .all(db)
                .await?
            {
                self.units.insert(u.id, u.name);
            }
        }
        Ok(())
    }

    async fn load_groups(
        &mut self,
        db: &DatabaseConnection,
        p: &Principal,
        ids: impl Iterator<Item = i64>,
    ) -> ApiResult<()> {
        let missing: Vec<i64> = ids.filter(|id| !self.groups.contains_key(id)).collect();
        for chunk in missing.chunks(500) {
            for g in group::Entity::find()
                .filter(group::Column::Id.is_in(chunk.iter().copied()))
                .filter(scope::groups(p))
                .all(db)
                .await?
            {
                self.groups.insert(g.id, g.name);
            }
        }
        Ok(())
    }

    fn unit(&self, id: i64) -> Out {
        Out::opt_text(self.units.get(&id).cloned())
    }

    fn group(&self, id: i64) -> Out {
        Out::opt_text(self.groups.get(&id).cloned())
    }
}

fn roster(
    db: DatabaseConnection,
    p: Principal,
    path: Option<String>,
) -> BoxStream<'static, ApiResult<Vec<Vec<Out>>>> {
    Box::pin(async_stream::try_stream! {
        let mut names = Names::default();
        let select = member::Entity::find()
            .filter(scope::members(&p))
            .filter(subtree(member::Column::UnitPath, &path));
        let order = (member::Column::NameKey, member::Column::Id);
        let mut chunks = by_name(db.clone(), select, order, |m| (m.name_key.clone(), m.id));
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            let ids: Vec<i64> = chunk.iter().map(|m| m.id).collect();
            let memberships = membership::Entity::find()
                .filter(membership::Column::MemberId.is_in(ids))
                .filter(membership::Column::LeftOn.is_null())
                .filter(scope::memberships(&p))
                .order_by_asc(membership::Column::Id)
                .all(&db)
                .await?;
            names.load_units(&db, chunk.iter().map(|m| m.unit_id)).await?;
            names.load_groups(&db, &p, memberships.iter().map(|m| m.group_id)).await?;
            let mut by_member: HashMap<i64, Vec<&membership::Model>> = HashMap::new();
            for ms in &memberships {
                by_member.entry(ms.member_id).or_default().push(ms);
            }
            let mut rows = Vec::with_capacity(chunk.len());
            for m in &chunk {
                let person = |group: Out, role: Out, joined: Out| {
                    vec![
                        Out::text(m.full_name.clone()),
                        Out::opt_text(m.phone.as_deref().map(national_phone)),
                        names.unit(m.unit_id),
                        group,
                        role,
                        Out::text(affiliation_label(m.affiliation)),
                        Out::opt_date(m.trained_on),
                        joined,
                    ]
                };
                match by_member.get(&m.id) {
                    None => rows.push(person(Out::Empty, Out::Empty, Out::Empty)),
                    Some(list) => {
                        for ms in list {
                            rows.push(person(
                                names.group(ms.group_id),
                                Out::text(role_label(ms.role)),
                                Out::Date(ms.joined_on),
                            ));
                        }
                    }
                }
            }
            yield rows;
        }
    })
}

fn groups(
    db: DatabaseConnection,
    p: Principal,
    path: Option<String>,
    personal: bool,
) -> BoxStream<'static, ApiResult<Vec<Vec<Out>>>> {
    Box::pin(async_stream::try_stream! {
        let mut names = Names::default();
        let select = group::Entity::find()
            .filter(scope::groups(&p))
            .filter(subtree(group::Column::UnitPath, &path));
        let order = (group::Column::NameKey, group::Column::Id);
        let mut chunks = by_name(db.clone(), select, order, |g| (g.name_key.clone(), g.id));
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            let ids: Vec<i64> = chunk.iter().map(|g| g.id).collect();
            let counts: HashMap<i64, i64> = membership::Entity::find()
                .select_only()
                .column(membership::Column::GroupId)
                .column_as(Expr::expr(sea_orm::sea_query::Func::count(Expr::col(membership::Column::Id))), "n")
                .filter(membership::Column::GroupId.is_in(ids))
                .filter(membership::Column::LeftOn.is_null())
                .group_by(membership::Column::GroupId)
                .into_tuple::<(i64, i64)>()
                .all(&db)
                .await?
                .into_iter()
                .collect();
            names.load_units(&db, chunk.iter().map(|g| g.unit_id)).await?;
            let leaders =
                member_names(&db, &p, personal, chunk.iter().filter_map(|g| g.leader_member_id))
                    .await?;
            let rows: Vec<Vec<Out>> = chunk
                .iter()
                .map(|g| {
                    let mut row = vec![
                        Out::text(g.name.clone()),
                        names.unit(g.unit_id),
                        Out::text(group_kind_label(g.kind)),
                        Out::opt_date(g.established_on),
                        Out::opt_text(g.decision_number.clone()),
                        Out::opt_text(g.zalo_url.clone()),
                        Out::Int(counts.get(&g.id).copied().unwrap_or(0)),
                    ];
                    if personal {
                        row.push(Out::opt_text(
                            g.leader_member_id.and_then(|id| leaders.get(&id).cloned()),
                        ));
                    }
                    row
                })
                .collect();
            yield rows;
        }
    })
}

/// `SELECT id FROM groups` visible to the principal in the exported subtree.
fn groups_in_path(p: &Principal, path: &Option<String>) -> sea_orm::sea_query::SelectStatement {
    sea_orm::QueryTrait::into_query(
        group::Entity::find()
            .select_only()
            .column(group::Column::Id)
            .filter(scope::groups(p))
            .filter(subtree(group::Column::UnitPath, path)),
    )
}

/// Full names of the members the principal may see, for an export with personal columns (none
/// are read otherwise).
async fn member_names(
    db: &DatabaseConnection,
    p: &Principal,
    personal: bool,
    ids: impl Iterator<Item = i64>,
) -> ApiResult<HashMap<i64, String>> {
    if !personal {
        return Ok(HashMap::new());
    }
    Ok(member::Entity::find()
        .filter(member::Column::Id.is_in(ids))
        .filter(scope::members(p))
        .all(db)
        .await?
        .into_iter()
        .map(|m| (m.id, m.full_name))
        .collect())
}

/// The rows of `select` in id order, `CHUNK` at a time: each chunk starts after the last id of
/// the one before (a keyset on the id).
fn by_id<E>(
    db: DatabaseConnection,
    select: sea_orm::Select<E>,
    id: E::Column,
    id_of: fn(&E::Model) -> i64,
) -> BoxStream<'static, ApiResult<Vec<E::Model>>>
where
    E: EntityTrait,
    E::Model: Send + Sync,
{
    Box::pin(async_stream::try_stream! {
        let mut last: Option<i64> = None;
        loop {
            let mut q = select.clone();
            if let Some(last) = last {
                q = q.filter(id.gt(last));
            }
            let chunk = q.order_by_asc(id).limit(CHUNK).all(&db).await?;
            let Some(tail) = chunk.last() else { break };
            last = Some(id_of(tail));
            let full = chunk.len() as u64 == CHUNK;
            yield chunk;
            if !full {
                break;
            }
        }
    })
}

fn tasks(
    db: DatabaseConnection,
    p: Principal,
    path: Option<String>,
    personal: bool,
) -> BoxStream<'static, ApiResult<Vec<Vec<Out>>>> {
    Box::pin(async_stream::try_stream! {
        let mut names = Names::default();
        let mut group_units: HashMap<i64, i64> = HashMap::new();
        let select = task::Entity::find()
            .filter(scope::tasks(&p))
            .filter(task::Column::GroupId.in_subquery(groups_in_path(&p, &path)));
        let mut chunks = by_id(db.clone(), select, task::Column::Id, |t| t.id);
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            let missing: Vec<i64> = chunk.iter().map(|t| t.group_id).filter(|g| !group_units.contains_key(g)).collect();
            for g in group::Entity::find().filter(group::Column::Id.is_in(missing)).all(&db).await? {
                group_units.insert(g.id, g.unit_id);
                names.groups.insert(g.id, g.name);
            }
            names.load_units(&db, group_units.values().copied().collect::<Vec<_>>().into_iter()).await?;
            let assignees =
                member_names(&db, &p, personal, chunk.iter().filter_map(|t| t.assignee_member_id))
                    .await?;
            let rows: Vec<Vec<Out>> = chunk
                .iter()
                .map(|t| {
                    let mut row = vec![
                        Out::text(t.title.clone()),
                        names.group(t.group_id),
                        group_units.get(&t.group_id).map_or(Out::Empty, |u| names.unit(*u)),
                        Out::text(t.kind.as_str()),
                        Out::text(t.priority.as_str()),
                        Out::text(t.status.as_str()),
                        Out::opt_date(t.due_on),
                        t.target.map_or(Out::Empty, Out::Int),
                        Out::Int(t.progress),
                    ];
                    if personal {
                        row.push(Out::opt_text(
                            t.assignee_member_id.and_then(|id| assignees.get(&id).cloned()),
                        ));
                    }
                    row
                })
                .collect();
            yield rows;
        }
    })
}

fn field_reports(
    db: DatabaseConnection,
    p: Principal,
    path: Option<String>,
    personal: bool,
) -> BoxStream<'static, ApiResult<Vec<Vec<Out>>>> {
    Box::pin(async_stream::try_stream! {
        let mut names = Names::default();
        let mut task_titles: HashMap<i64, String> = HashMap::new();
        let select = activity::Entity::find()
            .filter(scope::activities(&p))
            .filter(activity::Column::GroupId.in_subquery(groups_in_path(&p, &path)));
        let mut chunks = by_id(db.clone(), select, activity::Column::Id, |a| a.id);
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            names.load_groups(&db, &p, chunk.iter().map(|a| a.group_id)).await?;
            // Walk-in reports have no task (an empty cell).
            let missing: Vec<i64> = chunk
                .iter()
                .filter_map(|a| a.task_id)
                .filter(|t| !task_titles.contains_key(t))
                .collect();
            for t in task::Entity::find().filter(task::Column::Id.is_in(missing)).all(&db).await? {
                task_titles.insert(t.id, t.title);
            }
            let reporters =
                member_names(&db, &p, personal, chunk.iter().filter_map(|a| a.member_id)).await?;
            let rows: Vec<Vec<Out>> = chunk
                .iter()
                .map(|a| {
                    let local = a.occurred_at
                        + chrono::Duration::hours(cdtg_core::time::VIETNAM_UTC_OFFSET_HOURS);
                    let mut row = vec![
                        Out::text(local.format("%d/%m/%Y %H:%M").to_string()),
                        names.group(a.group_id),
                        Out::opt_text(a.task_id.and_then(|t| task_titles.get(&t).cloned())),
                        Out::Int(a.residents_helped.into()),
                        Out::Int(a.vneid_activations.into()),
                        Out::Int(a.progress_delta),
                        Out::opt_text(a.note.clone()),
                    ];
                    if personal {
                        row.push(Out::opt_text(
                            a.member_id.and_then(|id| reporters.get(&id).cloned()),
                        ));
                    }
                    row
                })
                .collect();
            yield rows;
        }
    })
}

/// Counts per unit directly under the exported unit (or the scope's unit), and the total: what a
/// role without personal data may take away.
fn aggregates(
    db: DatabaseConnection,
    p: Principal,
    path: Option<String>,
) -> BoxStream<'static, ApiResult<Vec<Vec<Out>>>> {
    Box::pin(async_stream::try_stream! {
        let parent = match &path {
            Some(path) => admin_unit::Entity::find()
                .filter(admin_unit::Column::Path.eq(path.clone()))
                .one(&db)
                .await?,
            None => None,
        };
        let children = match &parent {
            Some(u) => admin_unit::Entity::find()
                .filter(admin_unit::Column::ParentId.eq(u.id))
                .filter(admin_unit::Column::ValidTo.is_null())
                .order_by_asc(admin_unit::Column::NameKey)
                .order_by_asc(admin_unit::Column::Id)
                .all(&db)
                .await?,
            None => admin_unit::Entity::find()
                .filter(admin_unit::Column::ParentId.is_null())
                .order_by_asc(admin_unit::Column::NameKey)
                .all(&db)
                .await?,
        };
        let mut rows = Vec::new();
        for unit in parent.iter().chain(children.iter()) {
            let unit_path = Some(unit.path.clone());
            let groups = group::Entity::find()
                .filter(subtree(group::Column::UnitPath, &unit_path))
                .filter(unit_scope(&p, group::Column::UnitPath))
                .count(&db)
                .await?;
            let members = member::Entity::find()
                .filter(subtree(member::Column::UnitPath, &unit_path))
                .filter(unit_scope(&p, member::Column::UnitPath))
                .count(&db)
                .await?;
            rows.push(vec![
                Out::text(unit.name.clone()),
                Out::Int(groups as i64),
                Out::Int(members as i64),
            ]);
        }
        yield rows;
    })
}

/// The unit-scope condition on a unit-path column (aggregates are counted within the scope's
/// subtree, as `statsBreakdown` counts them).
fn unit_scope<C: ColumnTrait>(p: &Principal, col: C) -> Condition {
    match &p.scope {
        Scope::Everything => Condition::all(),
        Scope::Unit { path, .. } => scope::unit_subtree(col, path),
        Scope::Group { unit_path, .. } => scope::unit_subtree(col, unit_path),
    }
}
