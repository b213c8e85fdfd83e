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
//! - [`time`]: Vietnam's UTC offset, the one definition of it.
//!
//! The phone reaches these rules through the `cdtg-phone` crate (`android/phone/`), which adds the
//! UniFFI layer and the offline outbox on SQLite; this crate knows neither, so the server never
//! compiles them.

/// Gives a fieldless enum its wire names: `ALL`, `as_str`, `parse` and a `Display` that prints
/// the wire name. One macro so the four wire-name tables cannot drift from their `parse`.
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

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub mod activity;
pub mod error;
pub mod limits;
pub mod policy;
pub mod task;
pub mod text;
pub mod time;
pub mod validate;
