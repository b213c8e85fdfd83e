//! Administrative units: the levels of the tree, and what a unit's numeric targets measure.
//!
//! The tree itself (names, paths, the 2025 reform) lives in the server's database; only the
//! closed vocabularies are defined here, with their stored spellings.

/// A level of the administrative tree. Before the 2025 reform a province held districts, which
/// held wards and communes; after it, wards, communes and special zones sit under the province
/// directly. Residential groups (in wards) and villages (in communes) are the smallest units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(
    feature = "sea-orm",
    derive(sea_orm::DeriveValueType),
    sea_orm(value_type = "String")
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UnitKind {
    /// A province or centrally governed city (Da Nang).
    Province,
    /// A district (abolished on 1 July 2025).
    District,
    /// An urban ward.
    Ward,
    /// A rural commune.
    Commune,
    /// A special administrative zone (an island).
    SpecialZone,
    /// A residential group (tổ dân phố) of a ward.
    ResidentialGroup,
    /// A village (thôn) of a commune.
    Village,
}

wire_enum_impl!(UnitKind {
    Province => "PROVINCE",
    District => "DISTRICT",
    Ward => "WARD",
    Commune => "COMMUNE",
    SpecialZone => "SPECIAL_ZONE",
    ResidentialGroup => "RESIDENTIAL_GROUP",
    Village => "VILLAGE",
});

/// What a unit target measures: a count, or a fraction (0.8 for 80 %) for the `*_RATE`
/// indicators. Each names a figure of the server's unit statistics, computed over the unit's
/// subtree during the target's own period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(
    feature = "sea-orm",
    derive(sea_orm::DeriveValueType),
    sea_orm(value_type = "String")
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TargetIndicator {
    /// Community groups.
    Groups,
    /// Community groups with status `ACTIVE`.
    ActiveGroups,
    /// Members.
    Members,
    /// Members with a training date.
    TrainedMembers,
    /// Tasks `DONE` among those due in the period.
    TasksDone,
    /// `DONE` tasks over tasks that were not `CANCELLED`.
    TaskCompletionRate,
    /// Field activities reported.
    Activities,
    /// Residents helped in those activities.
    ResidentsHelped,
    /// VNeID accounts activated and logged into.
    VneidActivations,
    /// Local products supported.
    Products,
    /// Product listings with status `ACTIVE`.
    ActiveListings,
    /// Surveyed households with internet access.
    InternetRate,
    /// Surveyed households with a computer.
    ComputerRate,
    /// Surveyed households with a smartphone.
    SmartphoneRate,
    /// Surveyed households where someone masters the five basic digital skills.
    FiveSkillsRate,
    /// Dossiers submitted on the online public-service portal.
    OnlineDossiersSubmitted,
    /// Cashless accounts opened.
    CashlessAccountsOpened,
    /// E-commerce accounts opened or products listed.
    EcommerceAccountsCreated,
    /// Residents trained in basic digital skills.
    PeopleTrained,
}

wire_enum_impl!(TargetIndicator {
    Groups => "GROUPS",
    ActiveGroups => "ACTIVE_GROUPS",
    Members => "MEMBERS",
    TrainedMembers => "TRAINED_MEMBERS",
    TasksDone => "TASKS_DONE",
    TaskCompletionRate => "TASK_COMPLETION_RATE",
    Activities => "ACTIVITIES",
    ResidentsHelped => "RESIDENTS_HELPED",
    VneidActivations => "VNEID_ACTIVATIONS",
    Products => "PRODUCTS",
    ActiveListings => "ACTIVE_LISTINGS",
    InternetRate => "INTERNET_RATE",
    ComputerRate => "COMPUTER_RATE",
    SmartphoneRate => "SMARTPHONE_RATE",
    FiveSkillsRate => "FIVE_SKILLS_RATE",
    OnlineDossiersSubmitted => "ONLINE_DOSSIERS_SUBMITTED",
    CashlessAccountsOpened => "CASHLESS_ACCOUNTS_OPENED",
    EcommerceAccountsCreated => "ECOMMERCE_ACCOUNTS_CREATED",
    PeopleTrained => "PEOPLE_TRAINED",
});

impl TargetIndicator {
    /// A fraction in 0..1 rather than a count.
    pub fn is_rate(self) -> bool {
        matches!(
            self,
            TargetIndicator::TaskCompletionRate
                | TargetIndicator::InternetRate
                | TargetIndicator::ComputerRate
                | TargetIndicator::SmartphoneRate
                | TargetIndicator::FiveSkillsRate
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_the_rate_indicators() {
        for i in TargetIndicator::ALL {
            assert_eq!(i.is_rate(), i.as_str().ends_with("_RATE"), "{i}");
        }
        assert_eq!(TargetIndicator::ALL.len(), 19);
        assert_eq!(UnitKind::ALL.len(), 7);
    }
}
