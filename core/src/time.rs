//! Time in Vietnam. Dates — due dates, calendar periods, the local day a report counts on —
//! are judged in Asia/Ho_Chi_Minh, which is UTC+7 with no daylight saving (since 1975). The
//! one definition of that offset: the server's services, the SQL the rollups generate, the demo
//! seed and the phone all use it from here.

use chrono::{DateTime, Duration, NaiveDate, Utc};

/// Hours Vietnam is ahead of UTC.
pub const VIETNAM_UTC_OFFSET_HOURS: i64 = 7;

/// The calendar date in Vietnam at an instant.
pub fn vietnam_date(at: DateTime<Utc>) -> NaiveDate {
    (at + Duration::hours(VIETNAM_UTC_OFFSET_HOURS)).date_naive()
}

/// The instant a Vietnamese calendar day starts (17:00 UTC the day before).
pub fn vietnam_midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
        - Duration::hours(VIETNAM_UTC_OFFSET_HOURS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_turns_at_17_utc() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let start = vietnam_midnight(d);
        assert_eq!(start.to_rfc3339(), "2026-02-28T17:00:00+00:00");
        assert_eq!(vietnam_date(start), d);
        assert_eq!(
            vietnam_date(start - Duration::seconds(1)),
            d.pred_opt().unwrap()
        );
    }
}
