//! `Member` and `Membership`. Names and phone numbers are personal data; the service layer never
//! hands a member to a role without `ReadPersonalData`.

use crate::graphql::errors::Result;
use crate::graphql::scalars::Date;
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::{AdminUnit, Group};
use crate::entity::{member, membership};
use crate::graphql::connection::{connection, node_reads};
use crate::graphql::context::loader;
use crate::graphql::enums::{Affiliation, MembershipRole};
use crate::graphql::loaders::{GroupById, MemberById, MemberMemberships};
use crate::graphql::plain::PlainFields;
use crate::ids::{NodeType, encode};
use crate::service::columns::MemberColumns;

#[derive(Clone)]
pub struct Member(pub member::Model);

connection!(MemberConnection, MemberEdge, Member);

impl Member {
    /// The columns a member connection being resolved reads of its members: the fields under
    /// `nodes` and `edges { node }`, themselves or in fragments (the look-ahead sees every field
    /// that could be resolved). Keep this next to the fields below: a field that reads a column
    /// must name it here, and `tests/api/projection.rs` reads every field of `Member` through a
    /// projected page to hold the two together.
    pub fn columns(ctx: &Context<'_>) -> MemberColumns {
        let reads = node_reads(ctx);
        MemberColumns {
            name_parts: reads("familyName") || reads("middleName") || reads("givenName"),
            full_name: reads("fullName"),
            phone: reads("phone"),
            affiliation: reads("affiliation"),
            trained_on: reads("trainedOn"),
            unit: reads("unit"),
            version: reads("version"),
            created_at: reads("createdAt"),
        }
    }
}

#[Object]
impl Member {
    pub async fn id(&self) -> ID {
        encode(NodeType::Member, self.0.id)
    }
    /// Họ.
    async fn family_name(&self) -> &str {
        &self.0.family_name
    }
    /// Tên đệm.
    async fn middle_name(&self) -> Option<&str> {
        self.0.middle_name.as_deref()
    }
    /// Tên.
    async fn given_name(&self) -> &str {
        &self.0.given_name
    }
    /// Family, middle and given name in Vietnamese order.
    async fn full_name(&self) -> &str {
        &self.0.full_name
    }
    /// Mobile number normalised to +84…
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    async fn affiliation(&self) -> Option<Affiliation> {
        Some(self.0.affiliation.into())
    }
    /// When the member completed digital-skills training, if they did.
    async fn trained_on(&self) -> Option<Date> {
        self.0.trained_on.map(Date)
    }
    /// The unit the member is registered in.
    async fn unit(&self, ctx: &Context<'_>) -> Result<Option<AdminUnit>> {
        super::unit::load_unit(ctx, self.0.unit_id, &self.0.unit_path).await
    }
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// All memberships, current and former, newest first.
    #[graphql(complexity = "5 * child_complexity")]
    async fn memberships(&self, ctx: &Context<'_>) -> Result<Vec<Membership>> {
        let rows = loader(ctx)?
            .load_one(MemberMemberships(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(rows.into_iter().map(Membership).collect())
    }
    /// Groups the member currently belongs to.
    #[graphql(complexity = "5 * child_complexity")]
    async fn groups(&self, ctx: &Context<'_>) -> Result<Vec<Group>> {
        let l = loader(ctx)?;
        let rows = l
            .load_one(MemberMemberships(self.0.id))
            .await?
            .unwrap_or_default();
        let ids: Vec<GroupById> = rows
            .iter()
            .filter(|m| m.left_on.is_none())
            .map(|m| GroupById(m.group_id))
            .collect();
        let found = l.load_many(ids.clone()).await?;
        Ok(ids
            .into_iter()
            .filter_map(|id| found.get(&id).cloned().map(Group))
            .collect())
    }
}

/// The fields above that read only the row (see `plain`).
impl PlainFields for Member {
    const PLAIN: &'static [&'static str] = &[
        "id",
        "familyName",
        "middleName",
        "givenName",
        "fullName",
        "phone",
        "affiliation",
        "trainedOn",
        "version",
        "createdAt",
    ];
}

#[derive(Clone)]
pub struct Membership(pub membership::Model);

#[Object]
impl Membership {
    pub async fn id(&self) -> ID {
        encode(NodeType::Membership, self.0.id)
    }
    async fn role(&self) -> Option<MembershipRole> {
        Some(self.0.role.into())
    }
    async fn joined_on(&self) -> Date {
        Date(self.0.joined_on)
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    async fn left_on(&self) -> Option<Date> {
        self.0.left_on.map(Date)
    }
    /// True until the membership is ended.
    async fn active(&self) -> bool {
        self.0.left_on.is_none()
    }
    async fn member(&self, ctx: &Context<'_>) -> Result<Option<Member>> {
        Ok(loader(ctx)?
            .load_one(MemberById(self.0.member_id))
            .await?
            .map(Member))
    }
    async fn group(&self, ctx: &Context<'_>) -> Result<Option<Group>> {
        Ok(loader(ctx)?
            .load_one(GroupById(self.0.group_id))
            .await?
            .map(Group))
    }
}
