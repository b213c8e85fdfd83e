//! Column projection for batched nested pages: a district's groups read with all their members
//! fetch a thousand member rows, and most readers ask for three or four fields of each. Reading
//! only those columns made PostgreSQL's statement a third cheaper (its sorts and window carry
//! every selected column) and spares decoding the rest (see `bench/README.md`).
//!
//! The page still holds the entity's model, so every resolver keeps its one type; the columns
//! left out hold neutral values that nothing reads. Which GraphQL field reads which column is
//! decided next to the resolvers (`Member::columns` in the API crate, from the look-ahead), and
//! `tests/api/projection.rs` reads every field of `Member` through a projected page and
//! compares it with the full record.

use cdtg_core::group::Affiliation;
use chrono::{DateTime, Utc};
use sea_orm::{DbErr, QueryResult, QuerySelect, Select};

use crate::entity::member;

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
    /// Every column a member shows.
    pub const ALL: MemberColumns = MemberColumns {
        name_parts: true,
        full_name: true,
        phone: true,
        affiliation: true,
        trained_on: true,
        unit: true,
        version: true,
        created_at: true,
    };

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

    /// A member from a row of [`select`](Self::select): the columns not read hold neutral values
    /// (empty text, zero, the epoch), which no reader of this page looks at.
    pub fn decode(&self, row: &QueryResult) -> Result<member::Model, DbErr> {
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
            created_at: if self.created_at {
                row.try_get("", "created_at")?
            } else {
                DateTime::<Utc>::UNIX_EPOCH
            },
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
        })
    }
}
