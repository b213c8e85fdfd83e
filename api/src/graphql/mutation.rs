//! The mutation root. Relay style: one `input` object in, a payload named after the mutation
//! out. Each resolver decodes IDs and calls one service function, which validates, authorises,
//! writes in a transaction and audits.

use crate::graphql::errors::Result;
use crate::graphql::scalars::Date;
use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::context::{ClientInfo, db, principal, state};
use super::enums::*;
use super::objects::*;
use crate::error::ApiError;
use crate::ids::{NodeType, decode};
use crate::service::{
    api_keys, groups, members, products, sign_in, surveys, tasks, unit_admin, users,
};

pub struct MutationRoot;

/// The object a mutation acts on: unknown or foreign IDs are `NOT_FOUND`.
fn target(t: NodeType, id: &ID, what: &'static str) -> Result<i64, ApiError> {
    decode(t, id).ok_or(ApiError::NotFound(what))
}

/// An object an input refers to: a malformed ID is bad input naming the field.
/// An optional input field as a change: absent (`None`), cleared (`Some(None)`) or set.
fn maybe<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

fn reference(t: NodeType, id: &ID, field: &str) -> Result<i64, ApiError> {
    decode(t, id).ok_or_else(|| ApiError::bad_input(field, format!("is not a {} ID", t.name())))
}

/// The version an edit was based on. Versions start at 1 and count edits, so a number outside
/// `1..=2^31-1` can never match; it is refused naming the field rather than failing to parse
/// (beyond 32 bits) or being reported as a concurrent edit.
fn version(v: i64) -> Result<i32, ApiError> {
    i32::try_from(v).ok().filter(|v| *v >= 1).ok_or_else(|| {
        ApiError::bad_input(
            "expectedVersion",
            format!("must be between 1 and {}", i32::MAX),
        )
    })
}

fn opt_reference(t: NodeType, id: &Option<ID>, field: &str) -> Result<Option<i64>, ApiError> {
    id.as_ref().map(|id| reference(t, id, field)).transpose()
}

#[derive(InputObject)]
pub struct LoginInput {
    pub username: String,
    pub password: String,
    /// What the client is ("Android — Samsung A15"), shown in `me { sessions }`; the
    /// User-Agent when absent. At most 200 characters are kept.
    pub device: Option<String>,
}

#[derive(SimpleObject)]
pub struct LoginPayload {
    /// Send as `Authorization: Bearer <accessToken>`.
    pub access_token: String,
    /// Single use: exchange it with `refreshToken` for a new pair.
    pub refresh_token: String,
    /// When the access token expires.
    pub expires_at: DateTime<Utc>,
    /// Signed in with a one-time password: call `changePassword` now; every other operation
    /// answers `FORBIDDEN` until then.
    pub must_change_password: bool,
    pub user: User,
}

impl From<sign_in::SignedIn> for LoginPayload {
    fn from(s: sign_in::SignedIn) -> Self {
        LoginPayload {
            access_token: s.access_token,
            refresh_token: s.refresh_token,
            expires_at: DateTime::from_timestamp(s.expires_at, 0).unwrap_or_else(Utc::now),
            must_change_password: s.user.must_change_password,
            user: User(s.user),
        }
    }
}

#[derive(InputObject)]
pub struct RefreshTokenInput {
    pub refresh_token: String,
}

#[derive(InputObject, Default)]
pub struct LogoutInput {
    /// Also end the session of this refresh token (without an access token, this alone says
    /// which session to end).
    pub refresh_token: Option<String>,
}

#[derive(SimpleObject)]
pub struct LogoutPayload {
    /// True when a session was ended.
    pub revoked: bool,
}

#[derive(InputObject)]
pub struct CreateUserInput {
    pub username: String,
    pub password: String,
    pub role: Role,
    /// For unit roles (`CITY_ADMIN`, `DISTRICT_OFFICER`, `WARD_LEADER`, `VIEWER`).
    pub scope_unit_id: Option<ID>,
    /// For group roles (`GROUP_LEADER`, `MEMBER`).
    pub scope_group_id: Option<ID>,
    pub member_id: Option<ID>,
}

#[derive(SimpleObject)]
pub struct CreateUserPayload {
    pub user: User,
}

#[derive(InputObject)]
pub struct UpdateUserInput {
    pub id: ID,
    /// Below your own role.
    pub role: Option<Role>,
    /// For unit roles; required when the role changes from a group role.
    pub scope_unit_id: Option<ID>,
    /// For group roles; required when the role changes from a unit role.
    pub scope_group_id: Option<ID>,
    /// `null` unlinks the member.
    pub member_id: MaybeUndefined<ID>,
    /// `null` or blank clears it. Anyone may change their own.
    pub display_name: MaybeUndefined<String>,
}

#[derive(SimpleObject)]
pub struct UpdateUserPayload {
    pub user: User,
}

#[derive(InputObject)]
pub struct ChangePasswordInput {
    pub current_password: String,
    /// At least 10 characters, not a common password.
    pub new_password: String,
}

#[derive(SimpleObject)]
pub struct ChangePasswordPayload {
    pub user: User,
}

#[derive(InputObject)]
pub struct ResetPasswordInput {
    pub user_id: ID,
}

#[derive(SimpleObject)]
pub struct ResetPasswordPayload {
    pub user: User,
    /// Give it to the user; it signs in once and must then be changed. Shown only here.
    pub one_time_password: String,
}

#[derive(InputObject)]
pub struct RevokeSessionInput {
    /// A `Session.id`.
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct RevokeSessionPayload {
    pub session: DeviceSession,
}

#[derive(InputObject)]
pub struct CreateApiKeyInput {
    /// What it is for ("nightly export to the district").
    pub name: String,
    /// At most your own role, and a unit role (usually `VIEWER`).
    pub role: Role,
    /// The unit it reads (and writes) within; your own unit when absent.
    pub scope_unit_id: Option<ID>,
    /// At most two years ahead; a year when absent.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether it may run mutations. Without it, a key runs queries only.
    #[graphql(default = false)]
    pub can_write: bool,
}

#[derive(SimpleObject)]
pub struct CreateApiKeyPayload {
    pub api_key: ApiKey,
    /// Send as `Authorization: Bearer <secret>`. Shown only here: store it now.
    pub secret: String,
}

#[derive(InputObject)]
pub struct RevokeApiKeyInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct RevokeApiKeyPayload {
    pub api_key: ApiKey,
}

#[derive(InputObject)]
pub struct SetUserDisabledInput {
    pub id: ID,
    pub disabled: bool,
}

#[derive(SimpleObject)]
pub struct SetUserDisabledPayload {
    pub user: User,
}

#[derive(InputObject)]
pub struct CreateGroupInput {
    pub name: String,
    pub kind: GroupKind,
    pub unit_id: ID,
    pub established_on: Option<Date>,
    pub decision_number: Option<String>,
    pub zalo_url: Option<String>,
}

#[derive(SimpleObject)]
pub struct CreateGroupPayload {
    pub group: Group,
}

#[derive(InputObject)]
pub struct UpdateGroupInput {
    pub id: ID,
    /// The version you read; a stale one is `CONFLICT`.
    pub expected_version: Option<i64>,
    pub name: Option<String>,
    pub status: Option<GroupStatus>,
    pub unit_id: Option<ID>,
    pub established_on: Option<Date>,
    pub decision_number: Option<String>,
    /// Empty string clears it.
    pub zalo_url: Option<String>,
    pub leader_id: Option<ID>,
}

#[derive(SimpleObject)]
pub struct UpdateGroupPayload {
    pub group: Group,
}

#[derive(InputObject)]
pub struct CreateMemberInput {
    pub family_name: String,
    pub middle_name: Option<String>,
    pub given_name: String,
    /// Vietnamese mobile number in any common spelling; stored as +84…
    pub phone: Option<String>,
    pub affiliation: Affiliation,
    pub trained_on: Option<Date>,
    pub unit_id: ID,
    /// Also make them a `MEMBER` of this group from today. A group leader's new members always
    /// join the leader's group (this may be left out).
    pub group_id: Option<ID>,
    /// A phone that another member you can see already has is `CONFLICT` (with
    /// `extensions.existingId`) unless this is true: one household phone for several people.
    #[graphql(default = false)]
    pub allow_shared_phone: bool,
}

#[derive(SimpleObject)]
pub struct CreateMemberPayload {
    pub member: Member,
}

#[derive(InputObject)]
pub struct UpdateMemberInput {
    pub id: ID,
    pub expected_version: Option<i64>,
    pub family_name: Option<String>,
    pub middle_name: Option<String>,
    pub given_name: Option<String>,
    /// Empty string clears it. A member may change their own.
    pub phone: Option<String>,
    pub affiliation: Option<Affiliation>,
    pub trained_on: Option<Date>,
    /// As in `createMember`.
    #[graphql(default = false)]
    pub allow_shared_phone: bool,
}

#[derive(SimpleObject)]
pub struct UpdateMemberPayload {
    pub member: Member,
}

#[derive(InputObject)]
pub struct AddMembershipInput {
    pub member_id: ID,
    pub group_id: ID,
    #[graphql(default_with = "MembershipRole::Member")]
    pub role: MembershipRole,
    /// Defaults to today (Asia/Ho_Chi_Minh).
    pub joined_on: Option<Date>,
}

#[derive(SimpleObject)]
pub struct AddMembershipPayload {
    pub membership: Membership,
}

#[derive(InputObject)]
pub struct ChangeMembershipRoleInput {
    /// The open membership.
    pub id: ID,
    pub role: MembershipRole,
    /// The first day in the new role; today (Asia/Ho_Chi_Minh) when absent.
    pub effective_on: Option<Date>,
}

#[derive(SimpleObject)]
pub struct ChangeMembershipRolePayload {
    /// The new membership; the old one ended on the day this one began.
    pub membership: Membership,
}

#[derive(InputObject)]
pub struct TransferMemberInput {
    pub member_id: ID,
    /// The unit the member now lives in.
    pub unit_id: ID,
    /// The first day there; today (Asia/Ho_Chi_Minh) when absent.
    pub effective_on: Option<Date>,
}

#[derive(SimpleObject)]
pub struct TransferMemberPayload {
    pub member: Member,
}

#[derive(InputObject)]
pub struct EndMembershipInput {
    pub id: ID,
    /// Defaults to today (Asia/Ho_Chi_Minh).
    pub left_on: Option<Date>,
}

#[derive(SimpleObject)]
pub struct EndMembershipPayload {
    pub membership: Membership,
}

#[derive(InputObject)]
pub struct CreateTaskInput {
    pub group_id: ID,
    /// A current member of the group, or none for the whole group.
    pub assignee_id: Option<ID>,
    pub title: String,
    pub description: Option<String>,
    pub kind: TaskKind,
    #[graphql(default_with = "TaskPriority::Normal")]
    pub priority: TaskPriority,
    /// From 2020-01-01 (the programme's start) to five years from today.
    pub due_on: Option<Date>,
    /// e.g. 50 VNeID activations; 0 to 10,000,000.
    pub target: Option<i64>,
}

#[derive(SimpleObject)]
pub struct CreateTaskPayload {
    pub task: Task,
}

#[derive(InputObject)]
pub struct UpdateTaskInput {
    pub id: ID,
    /// The version you read; a stale one is `CONFLICT` and changes nothing.
    pub expected_version: i64,
    pub group_id: Option<ID>,
    pub assignee_id: Option<ID>,
    /// Set to true to remove the assignee.
    pub clear_assignee: Option<bool>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub priority: Option<TaskPriority>,
    /// From 2020-01-01 (the programme's start) to five years from today.
    pub due_on: Option<Date>,
    /// 0 to 10,000,000.
    pub target: Option<i64>,
}

#[derive(SimpleObject)]
pub struct UpdateTaskPayload {
    pub task: Task,
}

#[derive(InputObject)]
pub struct TransitionTaskInput {
    pub id: ID,
    pub action: TaskAction,
    pub expected_version: i64,
}

#[derive(SimpleObject)]
pub struct TransitionTaskPayload {
    pub task: Task,
}

#[derive(InputObject)]
pub struct OutcomeInput {
    pub kind: OutcomeKind,
    /// 0 to the residents-per-session maximum (500 unless configured otherwise).
    pub count: i64,
}

#[derive(InputObject)]
pub struct ReportActivityInput {
    /// Generated by the phone when the report is recorded; a retry sends the same key. 8 to 128
    /// characters of `A-Z a-z 0-9 _ . : -`, without surrounding spaces. Keys belong to the
    /// reporting user: another user's identical key is another report.
    pub idempotency_key: String,
    /// The task the work was for. Exactly one of `taskId` and `groupId`.
    pub task_id: Option<ID>,
    /// For walk-in help outside any task (at the cultural house, say): the group that gave it.
    /// It counts toward the group and its units like any report, and moves no task's progress.
    pub group_id: Option<ID>,
    /// Not before 2020-01-01 (the programme's start) nor more than 5 minutes in the future.
    pub occurred_at: DateTime<Utc>,
    /// 0 to the residents-per-session maximum (500 unless configured otherwise).
    pub residents_helped: i64,
    #[graphql(default)]
    pub outcomes: Vec<OutcomeInput>,
    pub note: Option<String>,
}

/// A report's new content. The report keeps its id; the version it replaces stays readable in
/// `Activity.revisions`.
#[derive(InputObject)]
pub struct CorrectActivityInput {
    pub id: ID,
    /// Generated by the phone for this correction; a retry sends the same key.
    pub idempotency_key: String,
    /// Why it is corrected (kept with the old version).
    pub reason: String,
    /// When the work happened; unchanged when absent.
    pub occurred_at: Option<DateTime<Utc>>,
    pub residents_helped: i64,
    /// The full new list (it replaces the old one).
    #[graphql(default)]
    pub outcomes: Vec<OutcomeInput>,
    pub note: Option<String>,
    /// `Activity.revision` as you read it: a stale one is `CONFLICT`.
    pub expected_revision: Option<i64>,
}

#[derive(SimpleObject)]
pub struct CorrectActivityPayload {
    pub activity: Activity,
    /// The task with its progress moved by the difference; null for a walk-in report.
    pub task: Option<Task>,
}

#[derive(InputObject)]
pub struct VoidActivityInput {
    pub id: ID,
    /// Generated by the phone for this void; a retry sends the same key.
    pub idempotency_key: String,
    pub reason: String,
}

#[derive(SimpleObject)]
pub struct VoidActivityPayload {
    /// The report as it stood when voided; it no longer counts anywhere.
    pub voided: ActivityRevision,
    /// The task with the report's progress taken away; null for a walk-in report.
    pub task: Option<Task>,
}

#[derive(SimpleObject)]
pub struct ReportActivityPayload {
    pub activity: Activity,
    /// The task with its updated progress; null for a walk-in report.
    pub task: Option<Task>,
    /// False when this was a replay of a report already stored.
    pub created: bool,
}

#[derive(InputObject)]
pub struct CreateProductInput {
    pub name: String,
    pub category: String,
    /// The producing household or business.
    pub producer: String,
    /// Unit of sale (kg, bottle, …).
    pub sale_unit: String,
    /// 0 (not rated) to 5.
    #[graphql(default)]
    pub ocop_stars: i64,
    /// The supporting group.
    pub group_id: ID,
    /// Price per sale unit in whole đồng, 0 to 1,000,000,000.
    pub price_vnd: Option<i64>,
    /// Up to 2,000 characters.
    pub description: Option<String>,
}

/// New details of a product; what is absent stays as it was, and `null` clears the price or
/// the description.
#[derive(InputObject)]
pub struct UpdateProductInput {
    pub id: ID,
    pub name: Option<String>,
    pub category: Option<String>,
    pub producer: Option<String>,
    pub sale_unit: Option<String>,
    /// 0 (not rated) to 5: an OCOP upgrade from 3 to 4 stars, say.
    pub ocop_stars: Option<i64>,
    #[graphql(default)]
    pub price_vnd: MaybeUndefined<i64>,
    #[graphql(default)]
    pub description: MaybeUndefined<String>,
}

#[derive(SimpleObject)]
pub struct UpdateProductPayload {
    pub product: Product,
}

#[derive(InputObject)]
pub struct ArchiveInput {
    pub id: ID,
    /// `false` restores what was archived.
    #[graphql(default = true)]
    pub archived: bool,
}

#[derive(SimpleObject)]
pub struct ArchiveProductPayload {
    pub product: Product,
}

#[derive(SimpleObject)]
pub struct ArchiveListingPayload {
    pub listing: Listing,
}

#[derive(SimpleObject)]
pub struct CreateProductPayload {
    pub product: Product,
}

#[derive(InputObject)]
pub struct UpsertListingInput {
    pub product_id: ID,
    pub platform: Platform,
    pub url: String,
    pub status: ListingStatus,
    pub listed_on: Option<Date>,
}

#[derive(SimpleObject)]
pub struct UpsertListingPayload {
    pub listing: Listing,
}

#[derive(InputObject)]
pub struct RecordUnitSurveyInput {
    pub unit_id: ID,
    /// In the years from 2020 to next year.
    pub period_start: Date,
    /// In the years from 2020 to next year; not before `periodStart`.
    pub period_end: Date,
    /// 0 to 10,000,000.
    pub households: i64,
    /// 0 to `households`.
    pub with_computer: i64,
    /// 0 to `households`.
    pub with_internet: i64,
    /// 0 to `households`.
    pub with_smartphone: i64,
    /// 0 to 10,000,000.
    pub businesses: i64,
    /// 0 to 10,000,000.
    pub business_households: i64,
    /// VND per person per year, 0 to 10,000,000,000.
    pub avg_income_vnd: Option<i64>,
    /// 0 to `households`.
    pub five_skills_households: i64,
}

#[derive(SimpleObject)]
pub struct RecordUnitSurveyPayload {
    pub survey: UnitSurvey,
}

fn client(ctx: &Context<'_>) -> ClientInfo {
    ctx.data_opt::<ClientInfo>().cloned().unwrap_or_default()
}

#[Object(name = "Mutation")]
impl MutationRoot {
    /// Exchanges a username and password for an access token and a refresh token, opening a
    /// session. Repeated failures from one address for one username make it wait
    /// (`RATE_LIMITED` with `retryAfter`; over HTTP 429 with `Retry-After`).
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> Result<LoginPayload> {
        let st = state(ctx);
        let c = client(ctx);
        let origin = sign_in::Origin {
            address: c.address,
            device: input.device.or(c.user_agent),
            request_id: Some(c.request_id).filter(|r| !r.is_empty()),
        };
        let s = sign_in::login(
            &st.db,
            &st.keys,
            &st.throttle,
            &input.username,
            &input.password,
            &origin,
        )
        .await?;
        Ok(s.into())
    }

    /// Rotates a refresh token: the old one stops working; reusing it ends the whole session.
    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        input: RefreshTokenInput,
    ) -> Result<LoginPayload> {
        let st = state(ctx);
        Ok(sign_in::refresh(&st.db, &st.keys, &input.refresh_token)
            .await?
            .into())
    }

    /// Ends your session: its access token is refused from the next request (within a second
    /// on other instances), its refresh tokens stop working, and its open sockets close within
    /// a second.
    async fn logout(&self, ctx: &Context<'_>, input: Option<LogoutInput>) -> Result<LogoutPayload> {
        let p = super::context::session(ctx).ok().map(|s| &s.principal);
        let input = input.unwrap_or_default();
        let revoked = sign_in::logout(db(ctx), p, input.refresh_token.as_deref()).await?;
        Ok(LogoutPayload { revoked })
    }

    /// Replaces your password. Every other session ends; this one goes on.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        input: ChangePasswordInput,
    ) -> Result<ChangePasswordPayload> {
        let p = principal(ctx)?;
        let st = state(ctx);
        let user = sign_in::change_password(
            &st.db,
            &st.throttle,
            p,
            &client(ctx).address,
            &input.current_password,
            &input.new_password,
        )
        .await?;
        Ok(ChangePasswordPayload { user: User(user) })
    }

    /// Gives an account below your role, in your scope, a one-time password and ends its
    /// sessions. The user signs in with it once and must then choose a new password.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        input: ResetPasswordInput,
    ) -> Result<ResetPasswordPayload> {
        let p = principal(ctx)?;
        let id = target(NodeType::User, &input.user_id, "user")?;
        let (user, one_time_password) = users::reset_password(db(ctx), p, id).await?;
        Ok(ResetPasswordPayload {
            user: User(user),
            one_time_password,
        })
    }

    /// Changes an account's role, scope, linked member or display name, within your powers. A
    /// role or scope change ends the account's sessions.
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        input: UpdateUserInput,
    ) -> Result<UpdateUserPayload> {
        let p = principal(ctx)?;
        let id = target(NodeType::User, &input.id, "user")?;
        let member_id = match &input.member_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(id) => Some(Some(reference(NodeType::Member, id, "memberId")?)),
        };
        let changes = users::UserChanges {
            role: input.role.map(Into::into),
            scope_unit_id: opt_reference(NodeType::AdminUnit, &input.scope_unit_id, "scopeUnitId")?,
            scope_group_id: opt_reference(NodeType::Group, &input.scope_group_id, "scopeGroupId")?,
            member_id,
            display_name: maybe(input.display_name),
        };
        Ok(UpdateUserPayload {
            user: User(users::update(db(ctx), p, id, changes).await?),
        })
    }

    /// Ends one session: yours (another device), or one of an account you manage.
    async fn revoke_session(
        &self,
        ctx: &Context<'_>,
        input: RevokeSessionInput,
    ) -> Result<RevokeSessionPayload> {
        let p = principal(ctx)?;
        let row = sign_in::revoke_session(db(ctx), p, input.id.as_str()).await?;
        Ok(RevokeSessionPayload {
            session: DeviceSession {
                current: p.session_id() == Some(row.id.as_str()),
                row,
            },
        })
    }

    /// Creates an API key for a machine. The secret is in the payload, once.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        input: CreateApiKeyInput,
    ) -> Result<CreateApiKeyPayload> {
        let p = principal(ctx)?;
        let new = api_keys::NewApiKey {
            name: input.name,
            role: input.role.into(),
            scope_unit_id: opt_reference(NodeType::AdminUnit, &input.scope_unit_id, "scopeUnitId")?,
            expires_at: input.expires_at,
            can_write: input.can_write,
        };
        let (key, secret) = api_keys::create(db(ctx), p, new).await?;
        Ok(CreateApiKeyPayload {
            api_key: ApiKey(key),
            secret,
        })
    }

    /// Ends an API key at once (within a second on other instances).
    async fn revoke_api_key(
        &self,
        ctx: &Context<'_>,
        input: RevokeApiKeyInput,
    ) -> Result<RevokeApiKeyPayload> {
        let p = principal(ctx)?;
        let id = target(NodeType::ApiKey, &input.id, "API key")?;
        Ok(RevokeApiKeyPayload {
            api_key: ApiKey(api_keys::revoke(db(ctx), p, id).await?),
        })
    }

    async fn create_user(
        &self,
        ctx: &Context<'_>,
        input: CreateUserInput,
    ) -> Result<CreateUserPayload> {
        let p = principal(ctx)?;
        let new = users::NewUser {
            username: input.username,
            password: input.password,
            role: input.role.into(),
            scope_unit_id: opt_reference(NodeType::AdminUnit, &input.scope_unit_id, "scopeUnitId")?,
            scope_group_id: opt_reference(NodeType::Group, &input.scope_group_id, "scopeGroupId")?,
            member_id: opt_reference(NodeType::Member, &input.member_id, "memberId")?,
        };
        Ok(CreateUserPayload {
            user: User(users::create(db(ctx), p, new).await?),
        })
    }

    async fn set_user_disabled(
        &self,
        ctx: &Context<'_>,
        input: SetUserDisabledInput,
    ) -> Result<SetUserDisabledPayload> {
        let p = principal(ctx)?;
        let id = target(NodeType::User, &input.id, "user")?;
        Ok(SetUserDisabledPayload {
            user: User(users::set_disabled(db(ctx), p, id, input.disabled).await?),
        })
    }

    async fn create_group(
        &self,
        ctx: &Context<'_>,
        input: CreateGroupInput,
    ) -> Result<CreateGroupPayload> {
        let p = principal(ctx)?;
        let new = groups::NewGroup {
            name: input.name,
            kind: input.kind.into(),
            unit_id: reference(NodeType::AdminUnit, &input.unit_id, "unitId")?,
            established_on: input.established_on.map(Into::into),
            decision_number: input.decision_number,
            zalo_url: input.zalo_url,
        };
        Ok(CreateGroupPayload {
            group: Group(groups::create(db(ctx), p, new).await?),
        })
    }

    async fn update_group(
        &self,
        ctx: &Context<'_>,
        input: UpdateGroupInput,
    ) -> Result<UpdateGroupPayload> {
        let p = principal(ctx)?;
        let id = target(NodeType::Group, &input.id, "group")?;
        let changes = groups::GroupChanges {
            name: input.name,
            status: input.status.map(Into::into),
            unit_id: opt_reference(NodeType::AdminUnit, &input.unit_id, "unitId")?,
            established_on: input.established_on.map(Into::into),
            decision_number: input.decision_number,
            zalo_url: input.zalo_url,
            leader_member_id: opt_reference(NodeType::Member, &input.leader_id, "leaderId")?,
            expected_version: input.expected_version.map(version).transpose()?,
        };
        Ok(UpdateGroupPayload {
            group: Group(groups::update(db(ctx), p, id, changes).await?),
        })
    }

    async fn create_member(
        &self,
        ctx: &Context<'_>,
        input: CreateMemberInput,
    ) -> Result<CreateMemberPayload> {
        let p = principal(ctx)?;
        let new = members::NewMember {
            family_name: input.family_name,
            middle_name: input.middle_name,
            given_name: input.given_name,
            phone: input.phone,
            affiliation: input.affiliation.into(),
            trained_on: input.trained_on.map(Into::into),
            unit_id: reference(NodeType::AdminUnit, &input.unit_id, "unitId")?,
            group_id: opt_reference(NodeType::Group, &input.group_id, "groupId")?,
            allow_shared_phone: input.allow_shared_phone,
        };
        Ok(CreateMemberPayload {
            member: Member(members::create(db(ctx), p, new).await?),
        })
    }

    async fn update_member(
        &self,
        ctx: &Context<'_>,
        input: UpdateMemberInput,
    ) -> Result<UpdateMemberPayload> {
        let p = principal(ctx)?;
        let id = target(NodeType::Member, &input.id, "member")?;
        let changes = members::MemberChanges {
            family_name: input.family_name,
            middle_name: input.middle_name,
            given_name: input.given_name,
            phone: input.phone,
            affiliation: input.affiliation.map(Into::into),
            trained_on: input.trained_on.map(Into::into),
            expected_version: input.expected_version.map(version).transpose()?,
            allow_shared_phone: input.allow_shared_phone,
        };
        Ok(UpdateMemberPayload {
            member: Member(members::update(db(ctx), p, id, changes).await?),
        })
    }

    async fn add_membership(
        &self,
        ctx: &Context<'_>,
        input: AddMembershipInput,
    ) -> Result<AddMembershipPayload> {
        let p = principal(ctx)?;
        let new = members::NewMembership {
            member_id: reference(NodeType::Member, &input.member_id, "memberId")?,
            group_id: reference(NodeType::Group, &input.group_id, "groupId")?,
            role: input.role.into(),
            joined_on: input.joined_on.map(Into::into),
        };
        Ok(AddMembershipPayload {
            membership: Membership(members::add_membership(db(ctx), p, new).await?),
        })
    }

    /// Changes a member's role in a group (`LEADER`, `DEPUTY`, `MEMBER`), keeping the history:
    /// the membership ends and one with the new role begins the same day. Ward leaders, and a
    /// group leader in their own group.
    async fn change_membership_role(
        &self,
        ctx: &Context<'_>,
        input: ChangeMembershipRoleInput,
    ) -> Result<ChangeMembershipRolePayload> {
        let p = principal(ctx)?;
        let id = target(NodeType::Membership, &input.id, "membership")?;
        let m = members::change_membership_role(
            db(ctx),
            p,
            id,
            input.role.into(),
            input.effective_on.map(Into::into),
        )
        .await?;
        Ok(ChangeMembershipRolePayload {
            membership: Membership(m),
        })
    }

    /// Moves a member to the unit they now live in, keeping their memberships; statistics as of
    /// an earlier day still count them where they were.
    async fn transfer_member(
        &self,
        ctx: &Context<'_>,
        input: TransferMemberInput,
    ) -> Result<TransferMemberPayload> {
        let p = principal(ctx)?;
        let id = target(NodeType::Member, &input.member_id, "member")?;
        let unit = reference(NodeType::AdminUnit, &input.unit_id, "unitId")?;
        let m = members::transfer(db(ctx), p, id, unit, input.effective_on.map(Into::into)).await?;
        Ok(TransferMemberPayload { member: Member(m) })
    }

    async fn end_membership(
        &self,
        ctx: &Context<'_>,
        input: EndMembershipInput,
    ) -> Result<EndMembershipPayload> {
        let p = principal(ctx)?;
        let id = target(NodeType::Membership, &input.id, "membership")?;
        Ok(EndMembershipPayload {
            membership: Membership(
                members::end_membership(db(ctx), p, id, input.left_on.map(Into::into)).await?,
            ),
        })
    }

    async fn create_task(
        &self,
        ctx: &Context<'_>,
        input: CreateTaskInput,
    ) -> Result<CreateTaskPayload> {
        let p = principal(ctx)?;
        let new = tasks::NewTask {
            group_id: reference(NodeType::Group, &input.group_id, "groupId")?,
            assignee_id: opt_reference(NodeType::Member, &input.assignee_id, "assigneeId")?,
            title: input.title,
            description: input.description,
            kind: input.kind.into(),
            priority: input.priority.into(),
            due_on: input.due_on.map(Into::into),
            target: input.target,
        };
        let task = tasks::create(db(ctx), p, new).await?;
        state(ctx).events.committed();
        Ok(CreateTaskPayload { task: Task(task) })
    }

    async fn update_task(
        &self,
        ctx: &Context<'_>,
        input: UpdateTaskInput,
    ) -> Result<UpdateTaskPayload> {
        let p = principal(ctx)?;
        let id = target(NodeType::Task, &input.id, "task")?;
        let assignee = if input.clear_assignee == Some(true) {
            Some(None)
        } else {
            opt_reference(NodeType::Member, &input.assignee_id, "assigneeId")?.map(Some)
        };
        let changes = tasks::TaskChanges {
            group_id: opt_reference(NodeType::Group, &input.group_id, "groupId")?,
            assignee_id: assignee,
            title: input.title,
            description: input.description,
            priority: input.priority.map(Into::into),
            due_on: input.due_on.map(|d| Some(d.0)),
            target: input.target.map(Some),
        };
        let task = tasks::update(db(ctx), p, id, version(input.expected_version)?, changes).await?;
        state(ctx).events.committed();
        Ok(UpdateTaskPayload { task: Task(task) })
    }

    /// Moves a task through its life cycle (see `TaskAction`).
    async fn transition_task(
        &self,
        ctx: &Context<'_>,
        input: TransitionTaskInput,
    ) -> Result<TransitionTaskPayload> {
        let p = principal(ctx)?;
        let id = target(NodeType::Task, &input.id, "task")?;
        let task = tasks::transition(
            db(ctx),
            p,
            id,
            input.action.into(),
            version(input.expected_version)?,
        )
        .await?;
        state(ctx).events.committed();
        Ok(TransitionTaskPayload { task: Task(task) })
    }

    /// Records one field session. Safe to retry: the same key with the same content returns the
    /// original result and stores nothing new.
    /// Corrects a field report: the reporter within 7 days of sending it, or a leader above
    /// them. Every total moves by exactly the difference.
    async fn correct_activity(
        &self,
        ctx: &Context<'_>,
        input: CorrectActivityInput,
    ) -> Result<CorrectActivityPayload> {
        let p = principal(ctx)?;
        let id = target(NodeType::Activity, &input.id, "activity")?;
        let expected_revision = input
            .expected_revision
            .map(|v| {
                i32::try_from(v).ok().filter(|v| *v >= 1).ok_or_else(|| {
                    ApiError::bad_input("expectedRevision", "must be a revision number (1 or more)")
                })
            })
            .transpose()?;
        let c = crate::service::corrections::Correction {
            idempotency_key: input.idempotency_key,
            occurred_at: input.occurred_at,
            residents_helped: input.residents_helped,
            outcomes: input
                .outcomes
                .into_iter()
                .map(|o| (o.kind.into(), o.count))
                .collect(),
            note: input.note,
            reason: input.reason,
            expected_revision,
        };
        let st = state(ctx);
        let (a, t) = crate::service::corrections::correct(
            &st.db,
            p,
            id,
            c,
            st.settings.max_residents_per_session,
        )
        .await?;
        Ok(CorrectActivityPayload {
            activity: Activity(a),
            task: t.map(Task),
        })
    }

    /// Voids a field report (entered twice, or for the wrong task): the reporter within 7 days,
    /// or a leader above them. It leaves every total; its content stays readable.
    async fn void_activity(
        &self,
        ctx: &Context<'_>,
        input: VoidActivityInput,
    ) -> Result<VoidActivityPayload> {
        let p = principal(ctx)?;
        let id = target(NodeType::Activity, &input.id, "activity")?;
        let (kept, t) = crate::service::corrections::void(
            db(ctx),
            p,
            id,
            &input.reason,
            &input.idempotency_key,
        )
        .await?;
        Ok(VoidActivityPayload {
            voided: ActivityRevision(kept),
            task: t.map(Task),
        })
    }

    async fn report_activity(
        &self,
        ctx: &Context<'_>,
        input: ReportActivityInput,
    ) -> Result<ReportActivityPayload> {
        let p = principal(ctx)?;
        let target = match (&input.task_id, &input.group_id) {
            (Some(task), None) => {
                tasks::ReportFor::Task(reference(NodeType::Task, task, "taskId")?)
            }
            (None, Some(group)) => {
                tasks::ReportFor::Group(reference(NodeType::Group, group, "groupId")?)
            }
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_input(
                    "groupId",
                    "give taskId or groupId, not both: a report is for a task or a walk-in",
                )
                .into());
            }
            (None, None) => {
                return Err(ApiError::bad_input(
                    "taskId",
                    "give taskId, or groupId for walk-in help outside any task",
                )
                .into());
            }
        };
        let report = tasks::Report {
            idempotency_key: input.idempotency_key,
            target,
            occurred_at: input.occurred_at,
            residents_helped: input.residents_helped,
            outcomes: input
                .outcomes
                .into_iter()
                .map(|o| (o.kind.into(), o.count))
                .collect(),
            note: input.note,
        };
        let st = state(ctx);
        let r = tasks::report_activity(&st.db, p, report, st.settings.max_residents_per_session)
            .await?;
        if r.created && r.task.is_some() {
            st.events.committed();
        }
        Ok(ReportActivityPayload {
            activity: Activity(r.activity),
            task: r.task.map(Task),
            created: r.created,
        })
    }

    async fn create_product(
        &self,
        ctx: &Context<'_>,
        input: CreateProductInput,
    ) -> Result<CreateProductPayload> {
        let p = principal(ctx)?;
        let new = products::NewProduct {
            name: input.name,
            category: input.category,
            producer: input.producer,
            sale_unit: input.sale_unit,
            ocop_stars: input.ocop_stars,
            group_id: reference(NodeType::Group, &input.group_id, "groupId")?,
            price_vnd: input.price_vnd,
            description: input.description,
        };
        Ok(CreateProductPayload {
            product: Product(products::create(db(ctx), p, new).await?),
        })
    }

    /// Changes a product's details: whoever may create products for its group.
    async fn update_product(
        &self,
        ctx: &Context<'_>,
        input: UpdateProductInput,
    ) -> Result<UpdateProductPayload> {
        let p = principal(ctx)?;
        let id = target(NodeType::Product, &input.id, "product")?;
        let changes = products::ProductChanges {
            name: input.name,
            category: input.category,
            producer: input.producer,
            sale_unit: input.sale_unit,
            ocop_stars: input.ocop_stars,
            price_vnd: maybe(input.price_vnd),
            description: maybe(input.description),
        };
        Ok(UpdateProductPayload {
            product: Product(products::update(db(ctx), p, id, changes).await?),
        })
    }

    /// Archives a product (or restores it with `archived: false`). An archived product and its
    /// listings leave the default lists and every statistic; it stays readable by id.
    async fn archive_product(
        &self,
        ctx: &Context<'_>,
        input: ArchiveInput,
    ) -> Result<ArchiveProductPayload> {
        let p = principal(ctx)?;
        let id = target(NodeType::Product, &input.id, "product")?;
        Ok(ArchiveProductPayload {
            product: Product(products::set_archived(db(ctx), p, id, input.archived).await?),
        })
    }

    /// Archives a listing (or restores it with `archived: false`; listing it again with
    /// `upsertListing` restores it too).
    async fn archive_listing(
        &self,
        ctx: &Context<'_>,
        input: ArchiveInput,
    ) -> Result<ArchiveListingPayload> {
        let p = principal(ctx)?;
        let id = target(NodeType::Listing, &input.id, "listing")?;
        Ok(ArchiveListingPayload {
            listing: Listing(products::set_listing_archived(db(ctx), p, id, input.archived).await?),
        })
    }

    /// Creates the product's listing on a platform, or updates it.
    async fn upsert_listing(
        &self,
        ctx: &Context<'_>,
        input: UpsertListingInput,
    ) -> Result<UpsertListingPayload> {
        let p = principal(ctx)?;
        let new = products::ListingInput {
            product_id: reference(NodeType::Product, &input.product_id, "productId")?,
            platform: input.platform.into(),
            url: input.url,
            status: input.status.into(),
            listed_on: input.listed_on.map(Into::into),
        };
        Ok(UpsertListingPayload {
            listing: Listing(products::upsert_listing(db(ctx), p, new).await?),
        })
    }

    /// Imports members (with their group and role) from a CSV or XLSX roster into a unit:
    /// `CITY_ADMIN`, `DISTRICT_OFFICER`, `WARD_LEADER`. A dry run unless `commit`; the report
    /// has one entry per data row. Templates: `GET /templates/members.xlsx` (or `.csv`).
    async fn import_members(
        &self,
        ctx: &Context<'_>,
        input: super::sheets::ImportSheetInput,
    ) -> Result<super::sheets::ImportReportGql> {
        super::sheets::import(ctx, crate::service::import::ImportKind::Members, input).await
    }

    /// Imports groups from a CSV or XLSX list into a unit; like `importMembers`. Templates:
    /// `GET /templates/groups.xlsx` (or `.csv`).
    async fn import_groups(
        &self,
        ctx: &Context<'_>,
        input: super::sheets::ImportSheetInput,
    ) -> Result<super::sheets::ImportReportGql> {
        super::sheets::import(ctx, crate::service::import::ImportKind::Groups, input).await
    }

    /// A short-lived signed link to download an export (CSV or XLSX) as you, scoped as your
    /// reads are. With an API key, GET the export path with the key instead.
    async fn create_export_link(
        &self,
        ctx: &Context<'_>,
        input: super::sheets::CreateExportLinkInput,
    ) -> Result<super::sheets::ExportLinkPayload> {
        super::sheets::create_export_link(ctx, input).await
    }

    /// Sets (or replaces) a unit's target for an indicator and period: `CITY_ADMIN`,
    /// `DISTRICT_OFFICER` or `WARD_LEADER`, for units inside their scope.
    async fn set_unit_target(
        &self,
        ctx: &Context<'_>,
        input: super::stats::SetUnitTargetInput,
    ) -> Result<super::stats::SetUnitTargetPayload> {
        super::stats::set_unit_target(ctx, input).await
    }

    /// Sets (or replaces) a group's target for an indicator and period: those who set unit
    /// targets, for groups inside their scope. Survey rates are for units only.
    async fn set_group_target(
        &self,
        ctx: &Context<'_>,
        input: super::stats::SetGroupTargetInput,
    ) -> Result<super::stats::SetGroupTargetPayload> {
        super::stats::set_group_target(ctx, input).await
    }

    /// Records (or replaces) a unit's household survey for a period, for a unit inside your
    /// scope.
    async fn record_unit_survey(
        &self,
        ctx: &Context<'_>,
        input: RecordUnitSurveyInput,
    ) -> Result<RecordUnitSurveyPayload> {
        let p = principal(ctx)?;
        let s = surveys::SurveyInput {
            unit_id: reference(NodeType::AdminUnit, &input.unit_id, "unitId")?,
            period_start: input.period_start.0,
            period_end: input.period_end.0,
            households: input.households,
            with_computer: input.with_computer,
            with_internet: input.with_internet,
            with_smartphone: input.with_smartphone,
            businesses: input.businesses,
            business_households: input.business_households,
            avg_income_vnd: input.avg_income_vnd,
            five_skills_households: input.five_skills_households,
        };
        Ok(RecordUnitSurveyPayload {
            survey: UnitSurvey(surveys::record(db(ctx), p, s).await?),
        })
    }

    /// Creates an administrative unit under `parentId` (`CITY_ADMIN` anywhere, `DISTRICT_OFFICER`
    /// within their district). Codes are unique among current units.
    async fn create_admin_unit(
        &self,
        ctx: &Context<'_>,
        input: CreateAdminUnitInput,
    ) -> Result<AdminUnitPayload> {
        let p = principal(ctx)?;
        let new = new_unit(input)?;
        Ok(AdminUnitPayload {
            unit: AdminUnit(unit_admin::create(db(ctx), p, new).await?),
        })
    }

    /// Renames a unit, changes its code or kind. Its history (groups, activities, audit) stays.
    async fn update_admin_unit(
        &self,
        ctx: &Context<'_>,
        input: UpdateAdminUnitInput,
    ) -> Result<AdminUnitPayload> {
        let p = principal(ctx)?;
        let id = target(NodeType::AdminUnit, &input.id, "unit")?;
        let changes = unit_admin::UnitChanges {
            name: input.name,
            code: maybe(input.code),
            kind: input.kind.map(Into::into),
        };
        Ok(AdminUnitPayload {
            unit: AdminUnit(unit_admin::update(db(ctx), p, id, changes).await?),
        })
    }

    /// Puts a unit (and its whole subtree) under another parent, effective on a day: statistics
    /// read as of an earlier day still count its groups and members where they were.
    async fn move_admin_unit(
        &self,
        ctx: &Context<'_>,
        input: MoveAdminUnitInput,
    ) -> Result<AdminUnitPayload> {
        let p = principal(ctx)?;
        let id = target(NodeType::AdminUnit, &input.id, "unit")?;
        let parent = reference(NodeType::AdminUnit, &input.parent_id, "parentId")?;
        Ok(AdminUnitPayload {
            unit: AdminUnit(
                unit_admin::move_unit(db(ctx), p, id, parent, input.effective_on.0).await?,
            ),
        })
    }

    /// Closes a unit without a successor (`validTo` is its last day). Refused while it has open
    /// child units or open tasks: merge it instead, so a successor takes them.
    async fn close_admin_unit(
        &self,
        ctx: &Context<'_>,
        input: CloseAdminUnitInput,
    ) -> Result<AdminUnitPayload> {
        let p = principal(ctx)?;
        let id = target(NodeType::AdminUnit, &input.id, "unit")?;
        Ok(AdminUnitPayload {
            unit: AdminUnit(unit_admin::close(db(ctx), p, id, input.valid_to.0).await?),
        })
    }

    /// Merges units into an existing unit (`intoId`) or a new one (`newUnit`), effective on a
    /// day: the sources close the day before (`validTo`, `mergedInto`); their groups, members
    /// and current child units move to the successor with their open tasks, and the statistics
    /// move with them in the same transaction. Accounts scoped to a source are held, not
    /// widened, until reassigned (`reassignUser`).
    async fn merge_admin_units(
        &self,
        ctx: &Context<'_>,
        input: MergeAdminUnitsInput,
    ) -> Result<MergeAdminUnitsPayload> {
        let p = principal(ctx)?;
        let sources = input
            .source_ids
            .iter()
            .map(|id| target(NodeType::AdminUnit, id, "unit"))
            .collect::<Result<Vec<_>, _>>()?;
        let into = match (input.into_id, input.new_unit) {
            (Some(id), None) => {
                unit_admin::MergeTarget::Existing(reference(NodeType::AdminUnit, &id, "intoId")?)
            }
            (None, Some(new)) => unit_admin::MergeTarget::New(new_unit(new)?),
            _ => {
                return Err(ApiError::bad_input(
                    "intoId",
                    "give exactly one of intoId and newUnit",
                )
                .into());
            }
        };
        let (unit, report) =
            unit_admin::merge(db(ctx), p, &sources, into, input.effective_on.0).await?;
        Ok(MergeAdminUnitsPayload {
            unit: AdminUnit(unit),
            groups_moved: report.groups_moved as i64,
            members_moved: report.members_moved as i64,
            units_moved: report.units_moved as i64,
            open_tasks_moved: report.open_tasks_moved as i64,
            accounts_held: report.accounts_held,
        })
    }

    /// Gives an account a new scope unit (unit roles) or group (group roles): how an account
    /// held after a merge comes back. Its sessions end; the role stays.
    async fn reassign_user(
        &self,
        ctx: &Context<'_>,
        input: ReassignUserInput,
    ) -> Result<ReassignUserPayload> {
        let p = principal(ctx)?;
        let id = target(NodeType::User, &input.id, "user")?;
        let unit = opt_reference(NodeType::AdminUnit, &input.scope_unit_id, "scopeUnitId")?;
        let group = opt_reference(NodeType::Group, &input.scope_group_id, "scopeGroupId")?;
        Ok(ReassignUserPayload {
            user: User(users::reassign(db(ctx), p, id, unit, group).await?),
        })
    }
}

fn new_unit(input: CreateAdminUnitInput) -> Result<unit_admin::NewUnit, ApiError> {
    Ok(unit_admin::NewUnit {
        code: input.code,
        name: input.name,
        kind: input.kind.into(),
        parent_id: Some(reference(
            NodeType::AdminUnit,
            &input.parent_id,
            "parentId",
        )?),
        valid_from: input
            .valid_from
            .map(|d| d.0)
            .unwrap_or_else(crate::service::today_in_vietnam),
    })
}

#[derive(InputObject)]
pub struct CreateAdminUnitInput {
    pub parent_id: ID,
    pub name: String,
    pub kind: UnitKind,
    /// The statistics office's code (digits), if it has one.
    pub code: Option<String>,
    /// The unit's first day; today by default.
    pub valid_from: Option<Date>,
}

#[derive(InputObject)]
pub struct UpdateAdminUnitInput {
    pub id: ID,
    pub name: Option<String>,
    /// A new code; `null` removes it.
    pub code: MaybeUndefined<String>,
    pub kind: Option<UnitKind>,
}

#[derive(InputObject)]
pub struct MoveAdminUnitInput {
    pub id: ID,
    pub parent_id: ID,
    /// The first day under the new parent.
    pub effective_on: Date,
}

#[derive(InputObject)]
pub struct CloseAdminUnitInput {
    pub id: ID,
    /// The unit's last day.
    pub valid_to: Date,
}

#[derive(InputObject)]
pub struct MergeAdminUnitsInput {
    /// The units that close.
    pub source_ids: Vec<ID>,
    /// An existing successor…
    pub into_id: Option<ID>,
    /// …or a new one, created by the merge.
    pub new_unit: Option<CreateAdminUnitInput>,
    /// The successor's first day with the sources; they close the day before.
    pub effective_on: Date,
}

#[derive(SimpleObject)]
pub struct AdminUnitPayload {
    pub unit: AdminUnit,
}

#[derive(SimpleObject)]
pub struct MergeAdminUnitsPayload {
    /// The successor.
    pub unit: AdminUnit,
    pub groups_moved: i64,
    pub members_moved: i64,
    /// Current child units (residential groups, villages) moved under the successor.
    pub units_moved: i64,
    pub open_tasks_moved: i64,
    /// Usernames of accounts scoped to a source: held until reassigned.
    pub accounts_held: Vec<String>,
}

#[derive(InputObject)]
pub struct ReassignUserInput {
    pub id: ID,
    /// The new scope unit, for unit roles.
    pub scope_unit_id: Option<ID>,
    /// The new scope group, for group roles.
    pub scope_group_id: Option<ID>,
}

#[derive(SimpleObject)]
pub struct ReassignUserPayload {
    pub user: User,
}
