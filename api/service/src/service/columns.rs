//! Column projection for batched nested pages of members and groups: a district's groups read
//! with all their members fetch a thousand member rows, and most readers ask for three or four
//! fields of each. Reading
//! only those columns made PostgreSQL's statement a third cheaper (its sorts and window carry
//! every selected column) and spares decoding the rest (see `bench/README.md`).
//!
//! The page still holds the entity's model, so every resolver keeps its one type; the columns
//! left out hold neutral values that nothing reads. Which GraphQL field reads which column is
//! decided next to the resolvers (`Member::columns` and `Group::columns` in the API crate, from
//! the look-ahead), and `tests/api/projection.rs` reads every field of `Member` and `Group`
//! through a projected page and compares it with the full record.

use cdtg_core::group::{Affiliation, GroupKind, GroupStatus};
use chrono::{DateTime, Utc};
use sea_orm::{DbErr, QueryResult, QuerySelect, Select};

use crate::entity::{group, member};

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
        Ok(member::Model {
            id: row.try_get("", "id")?,
            family_name: read(self.name_parts, row, "family_name")?,
            middle_name: read(self.name_parts, row, "middle_name")?,
            given_name: read(self.name_parts, row, "given_name")?,
            full_name: read(self.full_name, row, "full_name")?,
            search_key: String::new(),
            name_key: String::new(),
            phone: read(self.phone, row, "phone")?,
            affiliation: if self.affiliation {
                row.try_get("", "affiliation")?
            } else {
                Affiliation::Resident
            },
            trained_on: read(self.trained_on, row, "trained_on")?,
            unit_id: read(self.unit, row, "unit_id")?,
            unit_path: read(self.unit, row, "unit_path")?,
            version: read(self.version, row, "version")?,
            created_at: time(self.created_at, row, "created_at")?,
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
            (self.status, &[C::Status][..]),
            (self.unit, &[C::UnitId, C::UnitPath][..]),
            (self.established_on, &[C::EstablishedOn][..]),
            (self.decision_number, &[C::DecisionNumber][..]),
            (self.zalo_url, &[C::ZaloUrl][..]),
            (self.leader, &[C::LeaderMemberId][..]),
            (self.version, &[C::Version][..]),
            (self.created_at, &[C::CreatedAt][..]),
            (self.updated_at, &[C::UpdatedAt][..]),
        ];
        only(select, &wanted)
    }

    /// A group from a row of [`select`](Self::select), neutral values in the columns not read.
    pub fn decode(&self, row: &QueryResult) -> Result<group::Model, DbErr> {
        Ok(group::Model {
            id: row.try_get("", "id")?,
            name: read(self.name, row, "name")?,
            name_key: String::new(),
            name_folded: String::new(),
            kind: if self.kind {
                row.try_get("", "kind")?
            } else {
                GroupKind::Community
            },
            unit_id: read(self.unit, row, "unit_id")?,
            unit_path: read(self.unit, row, "unit_path")?,
            established_on: read(self.established_on, row, "established_on")?,
            decision_number: read(self.decision_number, row, "decision_number")?,
            zalo_url: read(self.zalo_url, row, "zalo_url")?,
            status: if self.status {
                row.try_get("", "status")?
            } else {
                GroupStatus::Active
            },
            leader_member_id: read(self.leader, row, "leader_member_id")?,
            version: read(self.version, row, "version")?,
            created_at: time(self.created_at, row, "created_at")?,
            updated_at: time(self.updated_at, row, "updated_at")?,
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

/// The column's value if it was read, else the type's default (a neutral value).
fn read<T: sea_orm::TryGetable + Default>(
    on: bool,
    row: &QueryResult,
    column: &str,
) -> Result<T, DbErr> {
    if on {
        row.try_get("", column)
    } else {
        Ok(T::default())
    }
}

/// A timestamp column's value if it was read, else the epoch.
fn time(on: bool, row: &QueryResult, column: &str) -> Result<DateTime<Utc>, DbErr> {
    if on {
        row.try_get("", column)
    } else {
        Ok(DateTime::<Utc>::UNIX_EPOCH)
    }
}
