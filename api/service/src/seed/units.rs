//! The administrative tree of the demo and the plan of how many groups each ward gets.
//!
//! The tree is `reference/units/danang-2024.csv`: Đà Nẵng before the 1 July 2025 reform, its
//! 8 districts and 56 wards and communes with their statistics-office codes, read by the same
//! parser as `cdtg units import`. Rows list parents before children, so ids follow the file's
//! order: the city is 1, and every unit's materialised path is its parent's plus its id.

use cdtg_core::unit::UnitKind;
use chrono::{DateTime, NaiveDate, Utc};

use super::catalog::Profile;
use super::rng::SplitMix64;
use crate::entity::admin_unit;

/// The reference tree, embedded so a release binary seeds without any file around it.
const CSV: &str = include_str!("../../../../reference/units/danang-2024.csv");

/// Community groups city-wide at scale 1 ("about 2,500 groups" in the seed article).
pub(crate) const COMMUNITY_GROUPS: u32 = 2_500;
/// Community groups with a sixth member at scale 1: 2,500 × 5 + 52 + 56 × 8 = 13,000 members.
pub(crate) const SIX_MEMBER_GROUPS: u32 = 52;
/// The ward whose figures the article details: 43 groups of 5 and an 8-member management team.
pub(crate) const PHUOC_MY: &str = "Phước Mỹ";
pub(crate) const PHUOC_MY_GROUPS: u32 = 43;
/// Tân Chính ward (Thanh Khê): 36 groups.
pub(crate) const TAN_CHINH: &str = "Tân Chính";
pub(crate) const TAN_CHINH_GROUPS: u32 = 36;
/// The district with exactly 231 Youth Union members in its groups (at scale 1).
pub(crate) const SON_TRA: &str = "Sơn Trà";
/// The rural district: its wards are communes of villages, with farm products.
const HOA_VANG: &str = "Hòa Vang";
/// Seaside districts, whose wards also sell seafood.
const COASTAL_DISTRICTS: &[&str] = &["Sơn Trà", "Ngũ Hành Sơn", "Liên Chiểu"];
/// Bounds of the random number of groups of an ordinary ward at scale 1.
const GROUPS_PER_WARD: (i64, i64) = (30, 60);

/// The day the reference file's units are valid from (its snapshot convention); none has
/// ended in the demo until the reform is applied.
pub(crate) fn valid_from() -> NaiveDate {
    NaiveDate::from_ymd_opt(2020, 1, 1).expect("valid date")
}

/// A ward or commune of the tree.
#[derive(Debug, Clone)]
pub(crate) struct Ward {
    pub unit_id: i64,
    pub name: String,
    pub path: String,
    /// A rural commune (xã) rather than an urban ward (phường): its residential units are
    /// villages (thôn), not residential groups (tổ dân phố).
    pub commune: bool,
    pub district: String,
}

/// The parsed tree: its rows (city, districts, wards) and its wards in file order.
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    pub units: Vec<admin_unit::Model>,
    pub wards: Vec<Ward>,
}

impl Tree {
    /// The id of the unit named `name`.
    pub(crate) fn id_of(&self, name: &str) -> Result<i64, String> {
        self.units
            .iter()
            .find(|u| u.name == name)
            .map(|u| u.id)
            .ok_or_else(|| format!("the reference tree has no unit named {name}"))
    }

    /// The id of the root (the city).
    pub(crate) fn root_id(&self) -> i64 {
        self.units[0].id
    }
}

/// Parses the embedded reference CSV.
pub(crate) fn tree(created_at: DateTime<Utc>) -> Result<Tree, String> {
    parse(CSV, created_at)
}

/// Parses the reference unit file (`code,name,kind,parent_code,valid_from`).
fn parse(csv: &str, created_at: DateTime<Utc>) -> Result<Tree, String> {
    let rows = crate::service::unit_files::parse_units(csv.as_bytes(), &Default::default())
        .map_err(|problems| {
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })?;
    let mut units: Vec<admin_unit::Model> = Vec::new();
    let mut wards = Vec::new();
    for row in &rows {
        let (name, code) = (row.name.as_str(), row.code.as_str());
        let kind = row.kind;
        let id = units.len() as i64 + 1;
        let parent_unit = match &row.parent_code {
            None => None,
            Some(parent) => Some(
                units
                    .iter()
                    .find(|u| u.code.as_deref() == Some(parent.as_str()))
                    .ok_or_else(|| {
                        format!(
                            "units CSV line {}: parent {parent} not listed before",
                            row.line
                        )
                    })?,
            ),
        };
        if parent_unit.is_none() && !units.is_empty() {
            return Err(format!("units CSV line {}: a second root", row.line));
        }
        let (parent_id, path, depth) = match parent_unit {
            Some(p) => (Some(p.id), format!("{}{id}/", p.path), p.depth + 1),
            None => (None, format!("/{id}/"), 0),
        };
        if matches!(kind, UnitKind::Ward | UnitKind::Commune) {
            let district = parent_unit.map(|p| p.name.clone()).unwrap_or_default();
            wards.push(Ward {
                unit_id: id,
                name: name.to_owned(),
                path: path.clone(),
                commune: kind == UnitKind::Commune,
                district,
            });
        }
        units.push(admin_unit::Model {
            id,
            code: (!code.is_empty()).then(|| code.to_owned()),
            name: name.to_owned(),
            name_key: cdtg_core::text::sort_key(name),
            name_folded: cdtg_core::text::fold(name),
            kind,
            parent_id,
            path,
            depth,
            valid_from: row.valid_from,
            valid_to: None,
            merged_into_id: None,
            created_at,
        });
    }
    if units.is_empty() || wards.is_empty() {
        return Err("the units CSV holds no wards".to_owned());
    }
    Ok(Tree { units, wards })
}

/// What one ward gets.
#[derive(Debug, Clone)]
pub(crate) struct WardPlan {
    pub ward: Ward,
    /// Community groups (and residential units) at the requested scale.
    pub groups: u32,
    /// Local indices (0-based, ascending) of the community groups with six members.
    pub six_member: Vec<u32>,
    /// In Sơn Trà district: Youth Union membership is drawn from the district's exact quota.
    pub in_son_tra: bool,
    pub profile: Profile,
}

impl WardPlan {
    /// Members of the ward's community groups (the management team not included).
    pub(crate) fn community_members(&self) -> u64 {
        u64::from(self.groups) * 5 + self.six_member.len() as u64
    }
}

/// Decides every ward's number of groups at `scale`.
///
/// At scale 1: Phước Mỹ 43 and Tân Chính 36 (the article's figures); every other ward draws 30–60
/// and the draws are then nudged one by one, within those bounds, until the city totals exactly
/// 2,500. The first 52 wards in file order other than Phước Mỹ (whose groups are all "of 5") each
/// get one six-member group. Scale N repeats that pattern N times inside each ward.
pub(crate) fn plan(tree: &Tree, scale: u32, rng: &mut SplitMix64) -> Result<Vec<WardPlan>, String> {
    let fixed = |name: &str| match name {
        PHUOC_MY => Some(PHUOC_MY_GROUPS),
        TAN_CHINH => Some(TAN_CHINH_GROUPS),
        _ => None,
    };
    for name in [PHUOC_MY, TAN_CHINH] {
        if !tree.wards.iter().any(|w| w.name == name) {
            return Err(format!("the reference tree has no ward named {name}"));
        }
    }
    let mut base: Vec<i64> = tree
        .wards
        .iter()
        .map(|w| match fixed(&w.name) {
            Some(n) => i64::from(n),
            None => rng.between(GROUPS_PER_WARD.0, GROUPS_PER_WARD.1),
        })
        .collect();
    let free: Vec<usize> = (0..tree.wards.len())
        .filter(|&i| fixed(&tree.wards[i].name).is_none())
        .collect();
    let mut diff = i64::from(COMMUNITY_GROUPS) - base.iter().sum::<i64>();
    let (lo, hi) = GROUPS_PER_WARD;
    if diff < (lo - hi) * free.len() as i64 || diff > (hi - lo) * free.len() as i64 {
        return Err("cannot spread the city's groups over its wards".to_owned());
    }
    let mut i = rng.below(free.len() as u64) as usize;
    while diff != 0 {
        let n = &mut base[free[i % free.len()]];
        if diff > 0 && *n < hi {
            *n += 1;
            diff -= 1;
        } else if diff < 0 && *n > lo {
            *n -= 1;
            diff += 1;
        }
        i += 1;
    }

    let mut six_left = SIX_MEMBER_GROUPS;
    let mut plans = Vec::with_capacity(tree.wards.len());
    for (ward, &n) in tree.wards.iter().zip(&base) {
        let n = n as u32;
        let mut six_member = Vec::new();
        if ward.name != PHUOC_MY && six_left > 0 {
            six_left -= 1;
            for copy in 0..scale {
                six_member.push(copy * n + rng.below(u64::from(n)) as u32);
            }
        }
        let profile = if ward.district == HOA_VANG || ward.commune {
            Profile::Rural
        } else if COASTAL_DISTRICTS.contains(&ward.district.as_str()) {
            Profile::Coastal
        } else {
            Profile::Urban
        };
        plans.push(WardPlan {
            ward: ward.clone(),
            groups: n * scale,
            six_member,
            in_son_tra: ward.district == SON_TRA,
            profile,
        });
    }
    if six_left > 0 {
        return Err("too few wards for the six-member groups".to_owned());
    }
    Ok(plans)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600, 0).expect("valid")
    }

    #[test]
    fn the_reference_tree_has_8_districts_and_56_wards() {
        let t = tree(stamp()).expect("parses");
        assert_eq!(t.units[0].name, "Đà Nẵng");
        assert_eq!(t.units[0].code.as_deref(), Some("48"));
        assert_eq!(t.units[0].path, "/1/");
        assert_eq!(
            t.units
                .iter()
                .filter(|u| u.kind == UnitKind::District)
                .count(),
            8
        );
        assert_eq!(t.wards.len(), 56);
        assert_eq!(t.wards.iter().filter(|w| w.commune).count(), 11);
        let pm = t
            .wards
            .iter()
            .find(|w| w.name == PHUOC_MY)
            .expect("Phước Mỹ");
        assert_eq!(pm.district, SON_TRA);
        assert_eq!(
            pm.path,
            format!("/1/{}/{}/", t.id_of(SON_TRA).unwrap(), pm.unit_id)
        );
        let hoang_sa = t
            .units
            .iter()
            .find(|u| u.name == "Hoàng Sa")
            .expect("Hoàng Sa");
        assert!(!t.units.iter().any(|u| u.parent_id == Some(hoang_sa.id)));
    }

    #[test]
    fn the_plan_matches_the_article_at_every_scale() {
        let t = tree(stamp()).expect("parses");
        for scale in [1u32, 3] {
            let plans = plan(&t, scale, &mut SplitMix64::new(9)).expect("plans");
            let groups: u32 = plans.iter().map(|p| p.groups).sum();
            assert_eq!(groups, COMMUNITY_GROUPS * scale);
            let six: usize = plans.iter().map(|p| p.six_member.len()).sum();
            assert_eq!(six as u32, SIX_MEMBER_GROUPS * scale);
            let by_name = |n: &str| plans.iter().find(|p| p.ward.name == n).expect("ward");
            assert_eq!(by_name(PHUOC_MY).groups, 43 * scale);
            assert!(by_name(PHUOC_MY).six_member.is_empty());
            assert_eq!(by_name(TAN_CHINH).groups, 36 * scale);
            for p in &plans {
                assert!(p.six_member.windows(2).all(|w| w[0] < w[1]));
                assert!(p.six_member.iter().all(|&i| i < p.groups));
                if p.ward.name != PHUOC_MY && p.ward.name != TAN_CHINH {
                    let per_copy = p.groups / scale;
                    assert!((30..=60).contains(&per_copy), "{}: {per_copy}", p.ward.name);
                }
            }
        }
    }
}
