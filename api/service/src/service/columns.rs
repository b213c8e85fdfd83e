//! Column projection for batched nested pages of members, groups and tasks: a district's groups read
//! with all their members fetch a thousand member rows, and most readers ask for three or four
//! fields of each. Reading
//! only those columns made PostgreSQL's statement a third cheaper (its sorts and window carry
//! every selected column) and spares decoding the rest (see `bench/README.md`).
//!
//! The page still holds the entity's model, so every resolver keeps its one type; the columns
//! left out hold neutral values that nothing reads. Which GraphQL field reads which column is
//! decided next to the resolvers (`Member::columns`, `Group::columns` and `Task::columns` in the
//! API crate, from the look-ahead), and `tests/api/projection.rs` reads every field of each of
//! those types through a projected page and compares it with the full record.
//!
//! A projected row is read by position, in the order `select` lists the columns ([`Positional`]).

use cdtg_core::group::{Affiliation, GroupKind, GroupStatus};
use cdtg_core::task::{TaskKind, TaskPriority, TaskStatus};
use chrono::{DateTime, Utc};
use sea_orm::{DbErr, QueryResult, QuerySelect, Select, TryGetable};

use crate::entity::{group, member, task};

/// The member columns a page reads besides `id`. `search_key`, `name_key` and `updated_at`
/// are never shown on a member, so a projected page never reads them (ordering and cursors
/// read the sort key in the statement itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MemberColumns {
    /// `family_name`, `middle_name`, `given_name`.
    pub name_parts: bool,
    pub full_name: bool,
    pub phone: bool,
    pub affiliation: bool,
    pub trained_on: bool,
    /// `unit_id` and `unit_path` (the unit and its scope check).
    pub unit: bool,
    pub version: bool,
    pub created_at: bool,
}

impl MemberColumns {
    /// Only the columns asked for, with `id`.
    pub fn select(&self, select: Select<member::Entity>) -> Select<member::Entity> {
        use member::Column as C;
        let wanted = [
            (true, &[C::Id][..]),
            (
                self.name_parts,
                &[C::FamilyName, C::MiddleName, C::GivenName][..],
            ),
            (self.full_name, &[C::FullName][..]),
            (self.phone, &[C::Phone][..]),
            (self.affiliation, &[C::Affiliation][..]),
            (self.trained_on, &[C::TrainedOn][..]),
            (self.unit, &[C::UnitId, C::UnitPath][..]),
            (self.version, &[C::Version][..]),
            (self.created_at, &[C::CreatedAt][..]),
        ];
        only(select, &wanted)
    }

    /// A member from a row of [`select`](Self::select): the columns not read hold neutral values
    /// (empty text, zero, the epoch), which no reader of this page looks at.
    pub fn decode(&self, row: &QueryResult) -> Result<member::Model, DbErr> {
        let mut row = Positional::new(row);
        Ok(member::Model {
            id: row.get("id")?,
            family_name: row.read(self.name_parts, "family_name")?,
            middle_name: row.read(self.name_parts, "middle_name")?,
            given_name: row.read(self.name_parts, "given_name")?,
            full_name: row.read(self.full_name, "full_name")?,
            search_key: String::new(),
            name_key: String::new(),
            phone: row.read(self.phone, "phone")?,
            affiliation: row.or(self.affiliation, "affiliation", Affiliation::Resident)?,
            trained_on: row.read(self.trained_on, "trained_on")?,
            unit_id: row.read(self.unit, "unit_id")?,
            unit_path: row.read(self.unit, "unit_path")?,
            version: row.read(self.version, "version")?,
            created_at: row.or(self.created_at, "created_at", DateTime::<Utc>::UNIX_EPOCH)?,
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
        })
    }
}

/// The group columns a page reads besides `id`. `name_key` and `name_folded` are never shown;
/// fields that hand the whole group on (its statistics) ask for [`GroupColumns::ALL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GroupColumns {
    pub name: bool,
    pub kind: bool,
    pub status: bool,
    /// `unit_id` and `unit_path` (the unit and its scope check).
    pub unit: bool,
    pub established_on: bool,
    pub decision_number: bool,
    pub zalo_url: bool,
    pub leader: bool,
    pub version: bool,
    pub created_at: bool,
    pub updated_at: bool,
}

impl GroupColumns {
    /// Every column a group shows.
    pub const ALL: GroupColumns = GroupColumns {
        name: true,
        kind: true,
        status: true,
        unit: true,
        established_on: true,
        decision_number: true,
        zalo_url: true,
        leader: true,
        version: true,
        created_at: true,
        updated_at: true,
    };

    /// Only the columns asked for, with `id`.
    pub fn select(&self, select: Select<group::Entity>) -> Select<group::Entity> {
        use group::Column as C;
        let wanted = [
            (true, &[C::Id][..]),
            (self.name, &[C::Name][..]),
            (self.kind, &[C::Kind][..]),
            (self.unit, &[C::UnitId, C::UnitPath][..]),
            (self.established_on, &[C::EstablishedOn][..]),
            (self.decision_number, &[C::DecisionNumber][..]),
            (self.zalo_url, &[C::ZaloUrl][..]),
            (self.status, &[C::Status][..]),
            (self.leader, &[C::LeaderMemberId][..]),
            (self.version, &[C::Version][..]),
            (self.created_at, &[C::CreatedAt][..]),
            (self.updated_at, &[C::UpdatedAt][..]),
        ];
        only(select, &wanted)
    }

    /// A group from a row of [`select`](Self::select), neutral values in the columns not read.
    pub fn decode(&self, row: &QueryResult) -> Result<group::Model, DbErr> {
        let mut row = Positional::new(row);
        Ok(group::Model {
            id: row.get("id")?,
            name: row.read(self.name, "name")?,
            name_key: String::new(),
            name_folded: String::new(),
            kind: row.or(self.kind, "kind", GroupKind::Community)?,
            unit_id: row.read(self.unit, "unit_id")?,
            unit_path: row.read(self.unit, "unit_path")?,
            established_on: row.read(self.established_on, "established_on")?,
            decision_number: row.read(self.decision_number, "decision_number")?,
            zalo_url: row.read(self.zalo_url, "zalo_url")?,
            status: row.or(self.status, "status", GroupStatus::Active)?,
            leader_member_id: row.read(self.leader, "leader_member_id")?,
            version: row.read(self.version, "version")?,
            created_at: row.or(self.created_at, "created_at", DateTime::<Utc>::UNIX_EPOCH)?,
            updated_at: row.or(self.updated_at, "updated_at", DateTime::<Utc>::UNIX_EPOCH)?,
        })
    }
}

/// The task columns a page reads besides `id`. `title_folded` and `created_by_user_id` are
/// never shown on a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TaskColumns {
    pub title: bool,
    pub description: bool,
    pub kind: bool,
    /// Also read by `overdue`.
    pub status: bool,
    pub priority: bool,
    /// Also read by `overdue`.
    pub due_on: bool,
    pub target: bool,
    pub progress: bool,
    pub version: bool,
    pub created_at: bool,
    pub updated_at: bool,
    pub completed_at: bool,
    /// `group_id`.
    pub group: bool,
    /// `assignee_member_id`.
    pub assignee: bool,
}

impl TaskColumns {
    /// Only the columns asked for, with `id`.
    pub fn select(&self, select: Select<task::Entity>) -> Select<task::Entity> {
        use task::Column as C;
        let wanted = [
            (true, &[C::Id][..]),
            (self.group, &[C::GroupId][..]),
            (self.assignee, &[C::AssigneeMemberId][..]),
            (self.title, &[C::Title][..]),
            (self.description, &[C::Description][..]),
            (self.kind, &[C::Kind][..]),
            (self.priority, &[C::Priority][..]),
            (self.status, &[C::Status][..]),
            (self.due_on, &[C::DueOn][..]),
            (self.target, &[C::Target][..]),
            (self.progress, &[C::Progress][..]),
            (self.version, &[C::Version][..]),
            (self.created_at, &[C::CreatedAt][..]),
            (self.updated_at, &[C::UpdatedAt][..]),
            (self.completed_at, &[C::CompletedAt][..]),
        ];
        only(select, &wanted)
    }

    /// A task from a row of [`select`](Self::select), neutral values in the columns not read.
    pub fn decode(&self, row: &QueryResult) -> Result<task::Model, DbErr> {
        let mut row = Positional::new(row);
        Ok(task::Model {
            id: row.get("id")?,
            group_id: row.read(self.group, "group_id")?,
            assignee_member_id: row.read(self.assignee, "assignee_member_id")?,
            title: row.read(self.title, "title")?,
            title_folded: String::new(),
            description: row.read(self.description, "description")?,
            kind: row.or(self.kind, "kind", TaskKind::Other)?,
            priority: row.or(self.priority, "priority", TaskPriority::Normal)?,
            status: row.or(self.status, "status", TaskStatus::Open)?,
            due_on: row.read(self.due_on, "due_on")?,
            target: row.read(self.target, "target")?,
            progress: row.read(self.progress, "progress")?,
            version: row.read(self.version, "version")?,
            created_by_user_id: None,
            created_at: row.or(self.created_at, "created_at", DateTime::<Utc>::UNIX_EPOCH)?,
            updated_at: row.or(self.updated_at, "updated_at", DateTime::<Utc>::UNIX_EPOCH)?,
            completed_at: row.read(self.completed_at, "completed_at")?,
        })
    }
}

/// `select` reduced to the columns whose flag is on.
fn only<E: sea_orm::EntityTrait>(select: Select<E>, wanted: &[(bool, &[E::Column])]) -> Select<E> {
    let mut select = select.select_only();
    for column in wanted
        .iter()
        .filter(|(on, _)| *on)
        .flat_map(|(_, columns)| columns.iter())
    {
        select = select.column(*column);
    }
    select
}

/// A projected row, read by position in the order `select` listed its columns: looking a value
/// up by name hashes the name every time (sqlx keeps a map from names to positions), which was
/// about a twentieth of the server's CPU for a district's members. A `decode` must therefore
/// read its columns in the order its `select` lists them; debug builds (every test) check each
/// position's name, so one that reads out of order fails there.
struct Positional<'r> {
    row: &'r QueryResult,
    next: usize,
    /// The row's column names, in debug builds only.
    names: Vec<String>,
}

impl<'r> Positional<'r> {
    fn new(row: &'r QueryResult) -> Self {
        let names = if cfg!(debug_assertions) {
            row.column_names()
        } else {
            Vec::new()
        };
        Positional {
            row,
            next: 0,
            names,
        }
    }

    /// The next column's value, which is `column`.
    fn get<T: TryGetable>(&mut self, column: &str) -> Result<T, DbErr> {
        debug_assert_eq!(
            self.names.get(self.next).map(String::as_str),
            Some(column),
            "a projected row is decoded in the order its select lists the columns"
        );
        let value = self.row.try_get_by_index(self.next)?;
        self.next += 1;
        Ok(value)
    }

    /// The next column's value if `column` was read, else the type's default (a neutral value).
    fn read<T: TryGetable + Default>(&mut self, on: bool, column: &str) -> Result<T, DbErr> {
        self.or(on, column, T::default())
    }

    /// The next column's value if `column` was read, else `neutral`.
    fn or<T: TryGetable>(&mut self, on: bool, column: &str, neutral: T) -> Result<T, DbErr> {
        if on { self.get(column) } else { Ok(neutral) }
    }
}
