//! `cdtg-core`: the domain rules of CDTG, shared by the server and the Android companion.
//!
//! Everything here is pure and synchronous — no I/O, no clock, no network — so that the server
//! (actix-web + SeaORM) and the phone (Kotlin through UniFFI) make identical decisions:
//! - [`text`]: NFC storage form and the accent-insensitive Vietnamese search key;
//! - [`validate`]: field validation returning [`error::ValidationError`];
//! - [`limits`]: the documented bounds of every number, date and search text clients send;
//! - [`policy`]: roles, actions and the role table, granting rules, scope paths;
//! - [`task`]: the task state machine and who may drive it;
//! - [`activity`]: what counts toward a target, and field-report validation;
//! - [`unit`], [`group`], [`product`]: the remaining stored enums (unit kinds and target
//!   indicators, group kinds and statuses, affiliations and membership roles, platforms and
//!   listing statuses), each defined once with its stored spelling;
//! - [`time`]: Vietnam's UTC offset, the one definition of it.
//!
//! Every enum stored in the database implements [`WireEnum`]: `as_str` is its stored
//! SCREAMING_SNAKE_CASE spelling, which is also its GraphQL and serde name, and `parse` reads
//! it back. With the `sea-orm` feature (the server's; the phone never enables it) they are
//! also SeaORM value types, so the server's entities hold them directly; stored text that
//! names no value is a database error there, never a panic.
//!
//! The phone reaches these rules through the `cdtg-phone` crate (`android/phone/`), which adds the
//! UniFFI layer and the offline outbox on SQLite; this crate knows neither, so the server never
//! compiles them.

/// An enum with a fixed set of SCREAMING_SNAKE_CASE names: the stored value, the GraphQL enum
/// value and the serde name are one spelling. Implemented by [`wire_enum_impl!`] (which also
/// gives each enum the same methods inherently, so callers need not import this trait); generic
/// code — a filter over any enum-keyed column — takes it as a bound.
pub trait WireEnum: Copy + Eq + 'static {
    /// Every value, in declaration order.
    const VALUES: &'static [Self];
    /// The stored spelling.
    fn as_str(self) -> &'static str;
    /// Parses a stored spelling exactly (case-sensitive); `None` for anything else.
    fn parse(s: &str) -> Option<Self>;
}

/// Gives a fieldless enum its wire names: `ALL`, `as_str`, `parse`, [`WireEnum`], `FromStr`
/// (failing with [`error::UnknownValue`]) and a `Display` that prints the wire name. One macro
/// so the wire-name tables cannot drift from their `parse`.
macro_rules! wire_enum_impl {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: [$ty; [$($name),+].len()] = [$($ty::$variant),+];

            /// The wire name, identical to the GraphQL enum value and the stored value.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }

            /// Parses a wire name exactly (case-sensitive); `None` for anything else.
            pub fn parse(s: &str) -> Option<$ty> {
                match s { $($name => Some($ty::$variant),)+ _ => None }
            }
        }

        impl $crate::WireEnum for $ty {
            const VALUES: &'static [$ty] = &$ty::ALL;
            fn as_str(self) -> &'static str {
                $ty::as_str(self)
            }
            fn parse(s: &str) -> Option<$ty> {
                $ty::parse(s)
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::error::UnknownValue;
            fn from_str(s: &str) -> Result<$ty, Self::Err> {
                $ty::parse(s).ok_or_else(|| $crate::error::UnknownValue::new(stringify!($ty), s))
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub mod activity;
pub mod error;
pub mod group;
pub mod limits;
pub mod policy;
pub mod product;
pub mod task;
pub mod text;
pub mod time;
pub mod unit;
pub mod validate;

#[cfg(test)]
mod tests {
    use super::WireEnum;

    /// Every value parses back from its spelling, `FromStr` agrees, serde uses the same name,
    /// and the spelling is SCREAMING_SNAKE_CASE.
    fn check<T>()
    where
        T: WireEnum + std::fmt::Debug + std::str::FromStr + serde::Serialize,
    {
        for &v in T::VALUES {
            let s = v.as_str();
            assert_eq!(T::parse(s), Some(v));
            assert!(matches!(s.parse::<T>(), Ok(p) if p == v), "{s}");
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{s}\""));
            assert!(
                s.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
                "{s}"
            );
        }
        assert_eq!(T::parse("nope"), None);
        assert!("nope".parse::<T>().is_err());
    }

    #[test]
    fn stored_enums_round_trip() {
        check::<crate::policy::Role>();
        check::<crate::task::TaskStatus>();
        check::<crate::task::TaskAction>();
        check::<crate::task::TaskKind>();
        check::<crate::task::TaskPriority>();
        check::<crate::activity::OutcomeKind>();
        check::<crate::unit::UnitKind>();
        check::<crate::unit::TargetIndicator>();
        check::<crate::group::GroupKind>();
        check::<crate::group::GroupStatus>();
        check::<crate::group::Affiliation>();
        check::<crate::group::MembershipRole>();
        check::<crate::product::Platform>();
        check::<crate::product::ListingStatus>();
    }

    #[test]
    fn unknown_text_is_an_error_naming_the_type() {
        let e = "TELEPORT".parse::<crate::task::TaskKind>().unwrap_err();
        assert_eq!(e.to_string(), "\"TELEPORT\" is not a TaskKind value");
    }
}
