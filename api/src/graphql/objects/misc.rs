//! `UnitSurvey`, `User` (with its `Session`s), `ApiKey` and `AuditEvent`.

use crate::graphql::errors::Result;
use crate::graphql::scalars::Date;
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::{AdminUnit, Group, Member};
use crate::entity::{api_key, audit_event, session, unit_survey, user};
use crate::graphql::connection::connection;
use crate::graphql::context::{db, loader, principal};
use crate::graphql::enums::Role;
use crate::graphql::loaders::{GroupById, MemberById, UnitById};
use crate::graphql::plain::PlainFields;
use crate::ids::{NodeType, encode};

#[derive(Clone)]
pub struct UnitSurvey(pub unit_survey::Model);

fn rate(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

#[Object]
impl UnitSurvey {
    pub async fn id(&self) -> ID {
        encode(NodeType::UnitSurvey, self.0.id)
    }
    async fn unit(&self, ctx: &Context<'_>) -> Result<Option<AdminUnit>> {
        Ok(loader(ctx)?
            .load_one(UnitById(self.0.unit_id))
            .await?
            .map(AdminUnit))
    }
    async fn period_start(&self) -> Date {
        Date(self.0.period_start)
    }
    async fn period_end(&self) -> Date {
        Date(self.0.period_end)
    }
    async fn households(&self) -> i64 {
        self.0.households
    }
    async fn with_computer(&self) -> i64 {
        self.0.with_computer
    }
    async fn with_internet(&self) -> i64 {
        self.0.with_internet
    }
    async fn with_smartphone(&self) -> i64 {
        self.0.with_smartphone
    }
    async fn businesses(&self) -> i64 {
        self.0.businesses
    }
    async fn business_households(&self) -> i64 {
        self.0.business_households
    }
    /// Average monthly income per capita, in VND.
    async fn avg_income_vnd(&self) -> Option<i64> {
        self.0.avg_income_vnd
    }
    /// Households with at least one person who masters the five basic digital skills.
    async fn five_skills_households(&self) -> i64 {
        self.0.five_skills_households
    }
    /// Share of households with internet access (0–1), null without households.
    async fn internet_rate(&self) -> Option<f64> {
        rate(self.0.with_internet, self.0.households)
    }
    async fn recorded_at(&self) -> DateTime<Utc> {
        self.0.recorded_at
    }
}

#[derive(Clone)]
pub struct User(pub user::Model);

connection!(UserConnection, UserEdge, User);

#[Object]
impl User {
    pub async fn id(&self) -> ID {
        encode(NodeType::User, self.0.id)
    }
    async fn username(&self) -> &str {
        &self.0.username
    }
    async fn role(&self) -> Option<Role> {
        Some(self.0.role.into())
    }
    /// The unit the role applies to (unit-scoped roles).
    async fn scope_unit(&self, ctx: &Context<'_>) -> Result<Option<AdminUnit>> {
        match self.0.scope_unit_id {
            None => Ok(None),
            Some(id) => Ok(loader(ctx)?.load_one(UnitById(id)).await?.map(AdminUnit)),
        }
    }
    /// The group the role applies to (group leaders and members).
    async fn scope_group(&self, ctx: &Context<'_>) -> Result<Option<Group>> {
        match self.0.scope_group_id {
            None => Ok(None),
            Some(id) => Ok(loader(ctx)?.load_one(GroupById(id)).await?.map(Group)),
        }
    }
    async fn member(&self, ctx: &Context<'_>) -> Result<Option<Member>> {
        match self.0.member_id {
            None => Ok(None),
            Some(id) => Ok(loader(ctx)?.load_one(MemberById(id)).await?.map(Member)),
        }
    }
    async fn disabled(&self) -> bool {
        self.0.disabled
    }
    /// The person's name as colleagues know it.
    async fn display_name(&self) -> Option<&str> {
        self.0.display_name.as_deref()
    }
    /// True after an administrator's reset, until the one-time password is replaced: nothing
    /// but `changePassword` and `logout` runs meanwhile.
    async fn must_change_password(&self) -> bool {
        self.0.must_change_password
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Signed-in devices that have not ended, most recently used first. Your own, or those of
    /// an account you manage; empty otherwise.
    async fn sessions(&self, ctx: &Context<'_>) -> Result<Vec<DeviceSession>> {
        let p = principal(ctx)?;
        let current = p.session_id().map(str::to_owned);
        Ok(crate::service::sign_in::sessions(db(ctx), p, self.0.id)
            .await?
            .into_iter()
            .map(|s| DeviceSession {
                current: current.as_deref() == Some(s.id.as_str()),
                row: s,
            })
            .collect())
    }
}

/// The fields above that read only the row (see `plain`).
impl PlainFields for User {
    const PLAIN: &'static [&'static str] = &[
        "id",
        "username",
        "role",
        "disabled",
        "displayName",
        "mustChangePassword",
        "createdAt",
        "updatedAt",
    ];
}

/// A signed-in device: its access tokens and refresh tokens work until it ends (`logout`,
/// `revokeSession`, a password change or reset, the account disabled) or expires.
pub struct DeviceSession {
    pub row: session::Model,
    pub current: bool,
}

#[Object(name = "Session")]
impl DeviceSession {
    /// Pass to `revokeSession`.
    async fn id(&self) -> ID {
        ID(self.row.id.clone())
    }
    /// What the client said it is when signing in, else its User-Agent.
    async fn device(&self) -> Option<&str> {
        self.row.device.as_deref()
    }
    /// The client address it signed in from.
    async fn address(&self) -> Option<&str> {
        self.row.address.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// The last request, to the minute.
    async fn last_used_at(&self) -> DateTime<Utc> {
        self.row.last_used_at
    }
    /// When it ends unless refreshed.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.row.expires_at
    }
    /// True for the session this request came with.
    async fn current(&self) -> bool {
        self.current
    }
}

/// An integrator's credential. The secret is shown once, by `createApiKey`.
#[derive(Clone)]
pub struct ApiKey(pub api_key::Model);

#[Object]
impl ApiKey {
    pub async fn id(&self) -> ID {
        encode(NodeType::ApiKey, self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The start of the secret, after `cdtg_`, to recognise the key.
    async fn prefix(&self) -> &str {
        &self.0.prefix
    }
    async fn role(&self) -> Role {
        self.0.role.into()
    }
    async fn scope_unit(&self, ctx: &Context<'_>) -> Result<Option<AdminUnit>> {
        Ok(loader(ctx)?
            .load_one(UnitById(self.0.scope_unit_id))
            .await?
            .map(AdminUnit))
    }
    /// Whether the key may run mutations; otherwise only queries and subscriptions.
    async fn can_write(&self) -> bool {
        self.0.can_write
    }
    async fn created_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let p = principal(ctx)?;
        Ok(
            crate::service::users::get_visible(db(ctx), p, self.0.created_by_user_id)
                .await?
                .map(User),
        )
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
    /// The last request made with it, to the minute.
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
}

#[derive(Clone)]
pub struct AuditEvent(pub audit_event::Model);

connection!(AuditEventConnection, AuditEventEdge, AuditEvent);

#[Object]
impl AuditEvent {
    pub async fn id(&self) -> ID {
        encode(NodeType::AuditEvent, self.0.id)
    }
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }
    /// Login name of the actor ("system" for command-line maintenance).
    async fn actor(&self) -> &str {
        &self.0.actor_name
    }
    /// The mutation or query, e.g. `createTask`.
    async fn action(&self) -> &str {
        &self.0.action
    }
    async fn object_type(&self) -> &str {
        &self.0.object_type
    }
    /// Global ID of the object, when there is one.
    async fn object_id(&self) -> Option<ID> {
        let id: i64 = self.0.object_id.as_deref()?.parse().ok()?;
        let t = match self.0.object_type.as_str() {
            "Group" => NodeType::Group,
            "Member" => NodeType::Member,
            "Membership" => NodeType::Membership,
            "Task" => NodeType::Task,
            "Activity" => NodeType::Activity,
            "Product" => NodeType::Product,
            "Listing" => NodeType::Listing,
            "UnitSurvey" => NodeType::UnitSurvey,
            "User" => NodeType::User,
            _ => return None,
        };
        Some(encode(t, id))
    }
    /// `SUCCEEDED`, `DENIED` or `REJECTED`.
    async fn outcome(&self) -> &str {
        &self.0.outcome
    }
    /// The error code of a denied or rejected request.
    async fn detail(&self) -> Option<&str> {
        self.0.detail.as_deref()
    }
    async fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }
}

/// The fields above that read only the row (see `plain`).
impl PlainFields for AuditEvent {
    const PLAIN: &'static [&'static str] = &[
        "id",
        "occurredAt",
        "actor",
        "action",
        "objectType",
        "objectId",
        "outcome",
        "detail",
        "requestId",
    ];
}
