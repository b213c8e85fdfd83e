//! The realistic bounds of every number, date and search text a client may send.
//!
//! Each limit is far above anything real, so no honest input is ever refused, and far below
//! where arithmetic or storage gets into trouble, so an absurd value (a typo with extra digits,
//! or a deliberate 2^62) is refused at the door with `BAD_USER_INPUT` naming the field instead of
//! poisoning every statistic it is summed into. The numbers are documented in README.md
//! ("Input limits"); the functions that apply them are in [`crate::validate`] and
//! [`crate::activity`].

/// Households in one unit's survey. Ho Chi Minh City, the most populous province, has under
/// 3 million households; ten million leaves room for any merged unit and still catches a count
/// typed with two digits too many.
pub const MAX_HOUSEHOLDS: i64 = 10_000_000;

/// Businesses, and business households, in one unit's survey: the country as a whole has about
/// one million enterprises and five million household businesses.
pub const MAX_BUSINESSES: i64 = 10_000_000;

/// Average income in a unit's survey, VND per person per year: ten billion, about a hundred
/// times the national average, and still a thousand times below where sums of a few thousand
/// units could overflow.
pub const MAX_AVG_INCOME_VND: i64 = 10_000_000_000;

/// A task's target (people to help, accounts to activate): far above any ward's population,
/// low enough to catch typos.
pub const MAX_TASK_TARGET: i64 = 10_000_000;

/// A unit target's value for a count indicator (members, activities, residents helped …):
/// about the population of Vietnam. Rate indicators are fractions between 0 and 1 instead.
pub const MAX_UNIT_TARGET: f64 = 100_000_000.0;

/// Most OCOP stars a product can hold (0 means not rated; the programme awards 3 to 5).
pub const MAX_OCOP_STARS: i64 = 5;

/// Longest `search` filter text, in characters: longer than any name or title a search could
/// usefully match (titles are at most 200, but nobody types one in full), short enough that a
/// `LIKE '%…%'` pattern stays cheap.
pub const MAX_SEARCH_CHARS: usize = 100;

/// The year the community digital technology groups' programme started: no task can have been
/// due, and no field session can have happened, before 1 January of this year.
pub const PROGRAMME_START_YEAR: i32 = 2020;

/// How far ahead a task may be due, in years from today: plans reach a few years at most, and
/// a due date decades away is a typo (2062 for 2026).
pub const MAX_DUE_YEARS_AHEAD: u32 = 5;

/// How far in the future (by the server's clock) a field report may say it happened, in
/// seconds: phones' clocks drift by a few minutes at most.
pub const MAX_CLOCK_SKEW_SECS: i64 = 5 * 60;

/// How many years past the current one a household survey's period may reach: a survey
/// planned for next year may be entered early, never one further ahead.
pub const SURVEY_YEARS_AHEAD: i32 = 1;
