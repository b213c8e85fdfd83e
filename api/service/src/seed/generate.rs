//! Row generation, one ward at a time.
//!
//! [`Generator`] yields a [`Batch`] per ward holding every row under that ward — residential
//! units, members, groups, memberships, tasks, activities and their outcomes, products and
//! listings — with primary keys assigned from per-table counters. Memory is therefore bounded by
//! the largest ward (at most 6,000 groups at scale 100), not by the city, and the caller inserts
//! each batch parent-tables first so foreign keys hold at every statement.
//!
//! Each ward draws from its own SplitMix64 stream, so its rows depend only on the seed, the
//! scale and the ward's position; nothing reads the clock or the database. The one piece of state
//! shared across wards is the Sơn Trà Youth Union quota, drawn by selection sampling (Knuth's
//! algorithm S) over the district's community members so that exactly 231 × scale of them are
//! Youth Union members while their placement stays random.

use cdtg_core::activity::{OutcomeKind, progress_delta, target_outcome};
use cdtg_core::group::{Affiliation, GroupKind, GroupStatus, MembershipRole};
use cdtg_core::policy::Role;
use cdtg_core::product::{ListingStatus, Platform};
use cdtg_core::task::{TaskKind, TaskPriority, TaskStatus};
use cdtg_core::text::{fold, person_sort_key, sort_key};
use cdtg_core::unit::UnitKind;
use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};

use super::catalog;
use super::names;
use super::rng::SplitMix64;
use super::units::{self, PHUOC_MY, SON_TRA, TAN_CHINH, Tree, WardPlan};
use crate::entity::{
    activity, activity_outcome, admin_unit, group, listing, member, membership, product, task,
    unit_survey, user,
};

/// The seed of every stream. Changing it changes the whole demo.
const SEED: u64 = 0xCD7C_2024_DA4A_4E60;
/// Youth Union members in Sơn Trà's community groups at scale 1 (the article's figure).
const SON_TRA_YOUTH: u64 = 231;
/// Members of a community group (52 × scale groups have one more).
const GROUP_SIZE: u32 = 5;
/// The members of a ward's management team, by affiliation, its leader (the ward People's
/// Committee vice chairman, a cadre) first. No Youth Union member sits on it, so Sơn Trà's
/// Youth Union count is that of its community groups alone.
const MANAGEMENT_TEAM: [Affiliation; 8] = [
    Affiliation::Cadre,
    Affiliation::CivilServant,
    Affiliation::Cadre,
    Affiliation::Police,
    Affiliation::CivilServant,
    Affiliation::WomensUnion,
    Affiliation::PublicEmployee,
    Affiliation::EnterpriseStaff,
];

/// Affiliations of ordinary members of urban wards' groups (~15 % Youth Union overall, with the
/// residential group heads who usually lead). Communes swap part of it for farmers.
const URBAN_AFFILIATIONS: &[(Affiliation, u32)] = &[
    (Affiliation::YouthUnion, 17),
    (Affiliation::WomensUnion, 14),
    (Affiliation::Police, 9),
    (Affiliation::ResidentialGroupHead, 3),
    (Affiliation::Cadre, 4),
    (Affiliation::CivilServant, 6),
    (Affiliation::PublicEmployee, 7),
    (Affiliation::EnterpriseStaff, 6),
    (Affiliation::FarmersAssociation, 1),
    (Affiliation::Resident, 29),
    (Affiliation::Other, 4),
];
const RURAL_AFFILIATIONS: &[(Affiliation, u32)] = &[
    (Affiliation::YouthUnion, 17),
    (Affiliation::WomensUnion, 15),
    (Affiliation::Police, 8),
    (Affiliation::ResidentialGroupHead, 3),
    (Affiliation::Cadre, 4),
    (Affiliation::CivilServant, 4),
    (Affiliation::PublicEmployee, 5),
    (Affiliation::EnterpriseStaff, 2),
    (Affiliation::FarmersAssociation, 15),
    (Affiliation::Resident, 23),
    (Affiliation::Other, 4),
];

const TASK_KINDS: &[(TaskKind, u32)] = &[
    (TaskKind::VneidActivation, 22),
    (TaskKind::OnlinePublicService, 14),
    (TaskKind::CashlessPayment, 12),
    (TaskKind::EcommerceOnboarding, 8),
    (TaskKind::AppInstall, 10),
    (TaskKind::DigitalSkillsTraining, 10),
    (TaskKind::OnlineSafety, 8),
    (TaskKind::Communication, 7),
    (TaskKind::Survey, 5),
    (TaskKind::Other, 4),
];
const TASK_STATUSES: &[(TaskStatus, u32)] = &[
    (TaskStatus::Open, 20),
    (TaskStatus::InProgress, 30),
    (TaskStatus::Submitted, 12),
    (TaskStatus::Done, 33),
    (TaskStatus::Cancelled, 5),
];
const TASK_PRIORITIES: &[(TaskPriority, u32)] = &[
    (TaskPriority::Low, 15),
    (TaskPriority::Normal, 55),
    (TaskPriority::High, 22),
    (TaskPriority::Urgent, 8),
];
/// Platforms in a fixed order with the percentage of products listed on each.
const PLATFORMS: &[(Platform, u64)] = &[
    (Platform::Voso, 85),
    (Platform::Postmart, 75),
    (Platform::Shopee, 20),
    (Platform::Lazada, 5),
    (Platform::TiktokShop, 7),
    (Platform::Zalo, 15),
];
const LISTING_STATUSES: &[(ListingStatus, u32)] = &[
    (ListingStatus::Draft, 15),
    (ListingStatus::Listed, 30),
    (ListingStatus::Active, 45),
    (ListingStatus::Suspended, 10),
];
/// OCOP stars: most products are unrated; certified ones have 3 to 5.
const OCOP_STARS: &[(i32, u32)] = &[(0, 62), (3, 26), (4, 9), (5, 3)];

/// The fixed moment stamped on every created_at / updated_at / recorded_at.
pub(crate) fn stamp() -> DateTime<Utc> {
    ymd(2026, 1, 1).and_time(chrono::NaiveTime::MIN).and_utc()
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// A uniformly random day in `from..=to`.
fn day_between(rng: &mut SplitMix64, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    let span = (to - from).num_days().max(0) as u64;
    from + Days::new(rng.below(span + 1))
}

/// Every row under one ward, in insertion order (parents first).
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Batch {
    pub units: Vec<admin_unit::Model>,
    pub members: Vec<member::Model>,
    pub groups: Vec<group::Model>,
    pub memberships: Vec<membership::Model>,
    pub tasks: Vec<task::Model>,
    pub activities: Vec<activity::Model>,
    pub outcomes: Vec<activity_outcome::Model>,
    pub products: Vec<product::Model>,
    pub listings: Vec<listing::Model>,
}

/// Last id used per table.
#[derive(Debug, Default)]
struct Ids {
    unit: i64,
    group: i64,
    member: i64,
    membership: i64,
    task: i64,
    activity: i64,
    outcome: i64,
    product: i64,
    listing: i64,
}

fn next(counter: &mut i64) -> i64 {
    *counter += 1;
    *counter
}

/// Selection sampling: exactly `quota` of the next `pool` candidates are chosen.
#[derive(Debug)]
struct Quota {
    quota: u64,
    pool: u64,
}

impl Quota {
    fn take(&mut self, rng: &mut SplitMix64) -> bool {
        debug_assert!(self.pool > 0, "more candidates than counted");
        let chosen = rng.below(self.pool.max(1)) < self.quota;
        self.pool = self.pool.saturating_sub(1);
        if chosen {
            self.quota -= 1;
        }
        chosen
    }
}

/// The group the group-scoped demo accounts belong to.
#[derive(Debug, Clone, Copy)]
struct DemoGroup {
    group_id: i64,
    leader_member_id: i64,
    plain_member_id: i64,
}

/// State carried from ward to ward.
#[derive(Debug)]
struct State {
    scale: u32,
    created_at: DateTime<Utc>,
    ids: Ids,
    youth: Quota,
    demo_group: Option<DemoGroup>,
}

/// Yields the demo one ward at a time; see the module docs.
#[derive(Debug)]
pub(crate) struct Generator {
    tree: Tree,
    plans: Vec<WardPlan>,
    next_ward: usize,
    state: State,
}

impl Generator {
    /// Plans the demo at `scale` (≥ 1).
    pub(crate) fn new(scale: u32) -> Result<Self, String> {
        if scale == 0 {
            return Err("the scale must be at least 1".to_owned());
        }
        let created_at = stamp();
        let tree = units::tree(created_at)?;
        let plans = units::plan(&tree, scale, &mut SplitMix64::stream(SEED, 0))?;
        let pool: u64 = plans
            .iter()
            .filter(|p| p.in_son_tra)
            .map(WardPlan::community_members)
            .sum();
        let quota = SON_TRA_YOUTH * u64::from(scale);
        if quota > pool {
            return Err(format!(
                "{SON_TRA} has only {pool} members for {quota} Youth Union places"
            ));
        }
        let ids = Ids {
            unit: tree.units.len() as i64,
            ..Ids::default()
        };
        Ok(Generator {
            tree,
            plans,
            next_ward: 0,
            state: State {
                scale,
                created_at,
                ids,
                youth: Quota { quota, pool },
                demo_group: None,
            },
        })
    }

    /// The city, its districts and its wards (inserted before any batch).
    pub(crate) fn tree_units(&self) -> &[admin_unit::Model] {
        &self.tree.units
    }

    /// How many wards there are to generate.
    pub(crate) fn ward_count(&self) -> usize {
        self.plans.len()
    }

    /// The rows of the next ward, or `None` after the last one.
    pub(crate) fn next_ward(&mut self) -> Option<Batch> {
        let index = self.next_ward;
        let plan = self.plans.get(index)?;
        self.next_ward += 1;
        let mut ward = WardGen {
            plan,
            st: &mut self.state,
            rng: SplitMix64::stream(SEED, index as u64 + 1),
            batch: Batch::default(),
        };
        ward.generate();
        Some(ward.batch)
    }

    /// Checks, once every ward is generated, that the exact quotas were met.
    pub(crate) fn finish(&self) -> Result<(), String> {
        if self.next_ward < self.plans.len() {
            return Err("not every ward was generated".to_owned());
        }
        if self.state.youth.quota != 0 {
            return Err(format!("{SON_TRA}'s Youth Union quota was not met"));
        }
        Ok(())
    }

    /// One household survey per ward for 2024, with figures of a plausible Đà Nẵng ward:
    /// 3,000–8,000 households, most with smartphones and internet, fewer with a computer
    /// (communes lag the city on all of these and on income).
    pub(crate) fn surveys(&self) -> Vec<unit_survey::Model> {
        let mut rng = SplitMix64::stream(SEED, u64::MAX);
        let (start, end) = (ymd(2024, 1, 1), ymd(2024, 12, 31));
        self.plans
            .iter()
            .enumerate()
            .map(|(i, plan)| {
                let rural = plan.ward.commune;
                let households = rng.between(3_000, 8_000);
                let share = |rng: &mut SplitMix64, of: i64, lo: i64, hi: i64| {
                    of * rng.between(lo, hi) / 100
                };
                let with_smartphone = share(&mut rng, households, if rural { 78 } else { 86 }, 97);
                let with_internet = share(&mut rng, households, if rural { 70 } else { 82 }, 95);
                let with_computer = share(&mut rng, with_internet, if rural { 20 } else { 35 }, 70);
                let five_skills = share(&mut rng, households, if rural { 30 } else { 45 }, 80);
                let income_thousands = if rural {
                    rng.between(3_800, 6_000)
                } else {
                    rng.between(5_500, 9_000)
                };
                unit_survey::Model {
                    id: i as i64 + 1,
                    unit_id: plan.ward.unit_id,
                    period_start: start,
                    period_end: end,
                    households,
                    with_computer,
                    with_internet,
                    with_smartphone,
                    businesses: rng.between(40, 400),
                    business_households: rng.between(150, 1_200),
                    avg_income_vnd: Some(income_thousands * 1_000),
                    five_skills_households: five_skills,
                    recorded_at: self.state.created_at,
                }
            })
            .collect()
    }

    /// The seven demo accounts, all with `password_hash`. Call after the last ward (the group
    /// accounts point at Phước Mỹ's first community group).
    pub(crate) fn users(&self, password_hash: &str) -> Result<Vec<user::Model>, String> {
        let demo = self
            .state
            .demo_group
            .ok_or("Phước Mỹ has not been generated")?;
        let city = self.tree.root_id();
        // Unit-scoped accounts name a unit; group-scoped ones a group and their own member.
        let unit = |id: i64| (Some(id), None, None);
        let accounts = [
            ("admin", Role::CityAdmin, unit(city)),
            (
                "sontra",
                Role::DistrictOfficer,
                unit(self.tree.id_of(SON_TRA)?),
            ),
            (
                "phuocmy",
                Role::WardLeader,
                unit(self.tree.id_of(PHUOC_MY)?),
            ),
            (
                "tanchinh",
                Role::WardLeader,
                unit(self.tree.id_of(TAN_CHINH)?),
            ),
            (
                "phuocmy-leader",
                Role::GroupLeader,
                (None, Some(demo.group_id), Some(demo.leader_member_id)),
            ),
            (
                "phuocmy-member",
                Role::Member,
                (None, Some(demo.group_id), Some(demo.plain_member_id)),
            ),
            ("viewer", Role::Viewer, unit(city)),
        ];
        Ok(accounts
            .into_iter()
            .enumerate()
            .map(
                |(i, (username, role, (scope_unit_id, scope_group_id, member_id)))| user::Model {
                    id: i as i64 + 1,
                    username: username.to_owned(),
                    password_hash: password_hash.to_owned(),
                    role,
                    scope_unit_id,
                    scope_group_id,
                    member_id,
                    disabled: false,
                    created_at: self.state.created_at,
                    updated_at: self.state.created_at,
                    display_name: None,
                    search_key: username.to_owned(),
                    must_change_password: false,
                    one_time_password_used_at: None,
                },
            )
            .collect())
    }
}

/// Generation of one ward.
struct WardGen<'a> {
    plan: &'a WardPlan,
    st: &'a mut State,
    rng: SplitMix64,
    batch: Batch,
}

/// A residential unit (or the ward itself, for the management team) as members and groups see it.
struct Place {
    unit_id: i64,
    path: String,
    name: String,
}

impl WardGen<'_> {
    fn generate(&mut self) {
        let plan = self.plan;
        self.management_team();
        let first_group = self.st.ids.group + 1;
        let mut six = plan.six_member.iter().peekable();
        for k in 0..plan.groups {
            let size = if six.next_if_eq(&&k).is_some() {
                GROUP_SIZE + 1
            } else {
                GROUP_SIZE
            };
            self.community_group(k, size);
        }
        self.products(first_group);
    }

    /// "phường" for a ward, "xã" for a commune.
    fn ward_word(&self) -> &'static str {
        if self.plan.ward.commune {
            "xã"
        } else {
            "phường"
        }
    }

    /// The ward's digital-transformation management team: eight members on the ward unit itself,
    /// led by the People's Committee vice chairman.
    fn management_team(&mut self) {
        let plan = self.plan;
        let ward = &plan.ward;
        let place = Place {
            unit_id: ward.unit_id,
            path: ward.path.clone(),
            name: ward.name.clone(),
        };
        let name = format!(
            "Tổ chỉ đạo chuyển đổi số {} {}",
            self.ward_word(),
            ward.name
        );
        let established = day_between(&mut self.rng, ymd(2021, 3, 1), ymd(2021, 8, 31));
        let members: Vec<i64> = MANAGEMENT_TEAM
            .iter()
            .map(|&affiliation| {
                let female = self.rng.percent(35);
                let trained = self
                    .rng
                    .percent(95)
                    .then(|| established + Days::new(self.rng.below(120)));
                self.member(&place, female, affiliation, trained, true)
            })
            .collect();
        self.group(
            &place,
            name,
            GroupKind::Management,
            established,
            &members,
            GroupStatus::Active,
        );
    }

    /// One community group on its own, new residential unit.
    fn community_group(&mut self, k: u32, size: u32) {
        let plan = self.plan;
        let ward = &plan.ward;
        let unit_id = next(&mut self.st.ids.unit);
        let (kind, word) = if ward.commune {
            (UnitKind::Village, "Thôn")
        } else {
            (UnitKind::ResidentialGroup, "Tổ dân phố")
        };
        let place = Place {
            unit_id,
            path: format!("{}{unit_id}/", ward.path),
            name: format!("{word} {}", k + 1),
        };
        self.batch.units.push(admin_unit::Model {
            id: unit_id,
            code: None,
            name: place.name.clone(),
            name_key: sort_key(&place.name),
            name_folded: fold(&place.name),
            kind,
            parent_id: Some(ward.unit_id),
            path: place.path.clone(),
            depth: 3,
            valid_from: units::valid_from(),
            valid_to: None,
            merged_into_id: None,
            created_at: self.st.created_at,
        });

        let established = day_between(&mut self.rng, ymd(2021, 9, 1), ymd(2023, 12, 31));
        let rural = plan.profile == catalog::Profile::Rural;
        let table = if rural {
            RURAL_AFFILIATIONS
        } else {
            URBAN_AFFILIATIONS
        };
        let members: Vec<i64> = (0..size)
            .map(|i| {
                let youth = plan.in_son_tra && self.st.youth.take(&mut self.rng);
                let affiliation = if youth {
                    Affiliation::YouthUnion
                } else if i == 0 && self.rng.percent(55) {
                    Affiliation::ResidentialGroupHead
                } else {
                    self.affiliation(table)
                };
                let female = self
                    .rng
                    .percent(if affiliation == Affiliation::WomensUnion {
                        100
                    } else {
                        45
                    });
                let trained = self.rng.percent(70).then(|| {
                    let day = established + Days::new(self.rng.below(900) + 20);
                    day.min(ymd(2025, 12, 31))
                });
                let has_phone = self.rng.percent(90);
                self.member(&place, female, affiliation, trained, has_phone)
            })
            .collect();
        let status = if ward.name == PHUOC_MY || ward.name == TAN_CHINH || self.rng.percent(95) {
            GroupStatus::Active
        } else {
            GroupStatus::Inactive
        };
        let name = format!("Tổ CNSCĐ {} – {}", place.name, ward.name);
        let group_id = self.group(
            &place,
            name,
            GroupKind::Community,
            established,
            &members,
            status,
        );

        let demo = ward.name == PHUOC_MY && self.st.demo_group.is_none();
        if demo {
            self.st.demo_group = Some(DemoGroup {
                group_id,
                leader_member_id: members[0],
                plain_member_id: members[2],
            });
        }
        // The demo group shows every status once; others get 3–5 random tasks.
        let statuses: Vec<Option<TaskStatus>> = if demo {
            TaskStatus::ALL.into_iter().map(Some).collect()
        } else {
            vec![None; self.rng.between(3, 5) as usize]
        };
        for status in statuses {
            self.task(group_id, &place.name, &members, status);
        }
    }

    /// An affiliation from `table`; in Sơn Trà, where Youth Union membership is decided by the
    /// quota alone, a Youth Union draw is redrawn.
    fn affiliation(&mut self, table: &[(Affiliation, u32)]) -> Affiliation {
        loop {
            let a = self.rng.weighted(table);
            if !(self.plan.in_son_tra && a == Affiliation::YouthUnion) {
                return a;
            }
        }
    }

    fn member(
        &mut self,
        place: &Place,
        female: bool,
        affiliation: Affiliation,
        trained_on: Option<NaiveDate>,
        has_phone: bool,
    ) -> i64 {
        let id = next(&mut self.st.ids.member);
        let name = names::person(&mut self.rng, female);
        let full_name = name.full();
        let phone = has_phone.then(|| {
            let raw = names::mobile(&mut self.rng, id as u64);
            cdtg_core::validate::phone("phone", &raw).expect("generated mobiles are valid")
        });
        self.batch.members.push(member::Model {
            id,
            family_name: name.family.to_owned(),
            middle_name: name.middle.map(str::to_owned),
            given_name: name.given.to_owned(),
            search_key: fold(&full_name),
            name_key: person_sort_key(name.family, name.middle, name.given),
            full_name,
            phone,
            affiliation,
            trained_on,
            unit_id: place.unit_id,
            unit_path: place.path.clone(),
            version: 1,
            created_at: self.st.created_at,
            updated_at: self.st.created_at,
        });
        id
    }

    /// A group of `members` (leader first, deputy second) with their memberships.
    fn group(
        &mut self,
        place: &Place,
        name: String,
        kind: GroupKind,
        established: NaiveDate,
        members: &[i64],
        status: GroupStatus,
    ) -> i64 {
        let id = next(&mut self.st.ids.group);
        let zalo_url = self.rng.percent(60).then(|| {
            const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
            let len = self.rng.between(8, 10);
            let code: String = (0..len)
                .map(|_| char::from(*self.rng.pick(ALPHABET)))
                .collect();
            format!("https://zalo.me/g/{code}")
        });
        self.batch.groups.push(group::Model {
            id,
            name_key: sort_key(&name),
            name_folded: fold(&name),
            name,
            kind,
            unit_id: place.unit_id,
            unit_path: place.path.clone(),
            established_on: Some(established),
            decision_number: Some(format!("{}/QĐ-UBND", self.rng.between(12, 980))),
            zalo_url,
            status,
            leader_member_id: members.first().copied(),
            version: 1,
            created_at: self.st.created_at,
            updated_at: self.st.created_at,
        });
        for (i, &member_id) in members.iter().enumerate() {
            let role = match i {
                0 => MembershipRole::Leader,
                1 => MembershipRole::Deputy,
                _ => MembershipRole::Member,
            };
            let joined_on = if i < 2 {
                established
            } else {
                established + Days::new(self.rng.below(46))
            };
            self.batch.memberships.push(membership::Model {
                id: next(&mut self.st.ids.membership),
                member_id,
                group_id: id,
                role,
                joined_on,
                left_on: None,
                created_at: self.st.created_at,
                updated_at: self.st.created_at,
            });
        }
        id
    }

    /// One task of a community group with its activities; `status` forces the status.
    fn task(&mut self, group_id: i64, place: &str, members: &[i64], status: Option<TaskStatus>) {
        let plan = self.plan;
        let rng = &mut self.rng;
        let id = next(&mut self.st.ids.task);
        let kind = rng.weighted(TASK_KINDS);
        let status = status.unwrap_or_else(|| rng.weighted(TASK_STATUSES));
        let priority = rng.weighted(TASK_PRIORITIES);
        let target = target_outcome(kind).map(|_| rng.between(10, 80));
        let assignee = rng.percent(50).then(|| *rng.pick(members));
        let title = catalog::task_title(rng, kind, place);
        let description = rng.percent(60).then(|| {
            format!(
                "Giao theo kế hoạch chuyển đổi số năm 2026 của UBND {} {}.",
                if plan.ward.commune {
                    "xã"
                } else {
                    "phường"
                },
                plan.ward.name
            )
        });
        let due_on = day_between(rng, ymd(2026, 2, 1), ymd(2026, 12, 31));
        let sessions = match status {
            TaskStatus::Open => 0,
            TaskStatus::InProgress => rng.between(0, 4),
            TaskStatus::Submitted | TaskStatus::Done => rng.between(1, 4),
            TaskStatus::Cancelled => rng.between(0, 1),
        };
        // Sessions happen between early January and late November 2026, 7:00–20:59 local time
        // (UTC+7), in order.
        let mut times: Vec<DateTime<Utc>> = (0..sessions)
            .map(|_| {
                let day = day_between(rng, ymd(2026, 1, 5), ymd(2026, 11, 20));
                let local =
                    day.and_hms_opt(rng.between(7, 20) as u32, rng.between(0, 59) as u32, 0);
                local.expect("valid time").and_utc()
                    - TimeDelta::hours(cdtg_core::time::VIETNAM_UTC_OFFSET_HOURS)
            })
            .collect();
        times.sort_unstable();
        let mut progress = 0;
        for &occurred_at in &times {
            let member_id = assignee.unwrap_or_else(|| *self.rng.pick(members));
            progress += self.activity(id, group_id, member_id, kind, occurred_at);
        }
        let completed_at = match (status, times.last()) {
            (TaskStatus::Done, Some(&last)) => {
                Some(last + TimeDelta::hours(self.rng.between(2, 72)))
            }
            _ => None,
        };
        self.batch.tasks.push(task::Model {
            id,
            group_id,
            assignee_member_id: assignee,
            title_folded: fold(&title),
            title,
            description,
            kind,
            priority,
            status,
            due_on: Some(due_on),
            target,
            progress,
            version: 1,
            created_by_user_id: None,
            created_at: self.st.created_at,
            updated_at: self.st.created_at,
            completed_at,
        });
    }

    /// One field session with its outcomes; returns its progress delta.
    fn activity(
        &mut self,
        task_id: i64,
        group_id: i64,
        member_id: i64,
        kind: TaskKind,
        occurred_at: DateTime<Utc>,
    ) -> i64 {
        let rng = &mut self.rng;
        let id = next(&mut self.st.ids.activity);
        let residents = rng.between(1, 30);
        let outcomes = outcomes(rng, kind, residents);
        let delta = progress_delta(kind, residents, &outcomes);
        let vneid = outcomes
            .iter()
            .filter(|(k, _)| *k == OutcomeKind::VneidActivated)
            .map(|&(_, n)| n)
            .sum::<i64>();
        let note = rng
            .percent(30)
            .then(|| (*rng.pick(catalog::NOTES)).to_owned());
        self.batch.activities.push(activity::Model {
            id,
            task_id: Some(task_id),
            group_id,
            member_id: Some(member_id),
            reported_by_user_id: None,
            occurred_at,
            residents_helped: residents as i32,
            vneid_activations: vneid as i32,
            progress_delta: delta,
            note,
            idempotency_key: format!("seed-{id}"),
            request_hash: "seed".to_owned(),
            created_at: self.st.created_at,
        });
        for (kind, count) in outcomes {
            self.batch.outcomes.push(activity_outcome::Model {
                id: next(&mut self.st.ids.outcome),
                activity_id: id,
                kind,
                count: count as i32,
            });
        }
        delta
    }

    /// About 18 × scale products of the ward, each supported by one of its community groups, with
    /// their listings.
    fn products(&mut self, first_group: i64) {
        let plan = self.plan;
        let ward = &plan.ward;
        let kinds = catalog::products_for(plan.profile);
        let count: i64 = (0..self.st.scale).map(|_| self.rng.between(15, 21)).sum();
        for _ in 0..count {
            let id = next(&mut self.st.ids.product);
            let kind = *self.rng.pick(&kinds);
            let name = kind.name.replace("{ward}", &ward.name);
            let female = self.rng.percent(50);
            let owner = names::person(&mut self.rng, female).full();
            let producer = catalog::producer(&mut self.rng, &owner, &ward.name);
            let group_id = first_group + self.rng.below(u64::from(plan.groups)) as i64;
            let slug = slug(&name);
            for &(platform, percent) in PLATFORMS {
                if !self.rng.percent(percent) {
                    continue;
                }
                let status = self.rng.weighted(LISTING_STATUSES);
                let listed_on = (status != ListingStatus::Draft)
                    .then(|| day_between(&mut self.rng, ymd(2022, 6, 1), ymd(2025, 12, 31)));
                let n = self.rng.between(10_000_000, 99_999_999);
                let url = match platform {
                    Platform::Voso => format!("https://voso.vn/san-pham/{slug}-{id}"),
                    Platform::Postmart => format!("https://postmart.vn/san-pham/{slug}-{id}"),
                    Platform::Shopee => {
                        format!("https://shopee.vn/{slug}-i.{n}.{}", 20_000_000_000 + id)
                    }
                    Platform::Lazada => format!("https://www.lazada.vn/products/{slug}-i{n}.html"),
                    Platform::TiktokShop => {
                        format!("https://shop.tiktok.com/view/product/17{n}{id:06}")
                    }
                    Platform::Zalo | Platform::Other => format!("https://zalo.me/s/{n}{id:05}/"),
                };
                self.batch.listings.push(listing::Model {
                    id: next(&mut self.st.ids.listing),
                    product_id: id,
                    platform,
                    url,
                    status,
                    listed_on,
                    created_at: self.st.created_at,
                    updated_at: self.st.created_at,
                    archived_at: None,
                });
            }
            self.batch.products.push(product::Model {
                id,
                name_key: sort_key(&name),
                name_folded: fold(&name),
                name,
                category: kind.category.to_owned(),
                producer,
                sale_unit: kind.sale_unit.to_owned(),
                ocop_stars: self.rng.weighted(OCOP_STARS),
                group_id,
                price_vnd: None,
                description: None,
                created_at: self.st.created_at,
                updated_at: self.st.created_at,
                archived_at: None,
            });
        }
    }
}

/// The outcomes of one session of a task of `kind` that helped `residents` people: the kind's
/// own outcome (or a fitting one when the kind has none), sometimes a second one.
fn outcomes(rng: &mut SplitMix64, kind: TaskKind, residents: i64) -> Vec<(OutcomeKind, i64)> {
    use OutcomeKind as O;
    let (primary, secondary) = match kind {
        TaskKind::VneidActivation => (O::VneidActivated, O::VneidCollected),
        TaskKind::OnlinePublicService => (O::OnlineDossierSubmitted, O::VneidActivated),
        TaskKind::CashlessPayment => (O::CashlessAccountOpened, O::AppInstalled),
        TaskKind::EcommerceOnboarding => (O::EcommerceAccountCreated, O::PersonTrained),
        TaskKind::AppInstall => (O::AppInstalled, O::Other),
        TaskKind::DigitalSkillsTraining => (O::PersonTrained, O::AppInstalled),
        TaskKind::OnlineSafety => (O::PersonTrained, O::AppInstalled),
        TaskKind::Communication | TaskKind::Survey | TaskKind::Other => (O::Other, O::AppInstalled),
    };
    let second_chance = if kind == TaskKind::VneidActivation {
        40
    } else {
        25
    };
    let mut out = vec![(primary, rng.between(1, residents))];
    if rng.percent(second_chance) {
        out.push((secondary, rng.between(1, residents)));
    }
    out
}

/// A URL slug: the folded name with every run of other characters turned into one dash.
fn slug(name: &str) -> String {
    let folded = fold(name);
    let mut out = String::with_capacity(folded.len());
    for c in folded.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}
