//! Scalars of the public schema that are ours rather than a library's.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::NaiveDate;

/// A calendar date, `YYYY-MM-DD` (ISO 8601 / RFC 3339 `full-date`), with no time zone: due
/// dates, survey periods, dates of birth of a group. Dates are judged in Asia/Ho_Chi_Minh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub NaiveDate);

/// A calendar date, `YYYY-MM-DD` (ISO 8601 / RFC 3339 `full-date`), without a time zone;
/// judged in Asia/Ho_Chi_Minh.
#[Scalar(
    name = "Date",
    specified_by_url = "https://scalars.graphql.org/andimarek/local-date.html"
)]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            // Exactly ten characters: chrono alone would also take "2026-1-5" or "+2026-01-05".
            Value::String(s) if s.len() == 10 => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Date)
                .map_err(|_| InputValueError::custom("expected a date as YYYY-MM-DD")),
            Value::String(_) => Err(InputValueError::custom("expected a date as YYYY-MM-DD")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

impl From<NaiveDate> for Date {
    fn from(d: NaiveDate) -> Self {
        Date(d)
    }
}

impl From<Date> for NaiveDate {
    fn from(d: Date) -> Self {
        d.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_full_dates_parse() {
        let ok = Date::parse(Value::String("2026-01-05".into())).unwrap();
        assert_eq!(ok.0, NaiveDate::from_ymd_opt(2026, 1, 5).unwrap());
        assert_eq!(ok.to_value(), Value::String("2026-01-05".into()));
        for bad in [
            "2026-1-5",
            "2026-02-30",
            "05/01/2026",
            "2026-01-05T00:00:00Z",
            "",
        ] {
            assert!(Date::parse(Value::String(bad.into())).is_err(), "{bad}");
        }
        assert!(Date::parse(Value::Number(20260105.into())).is_err());
    }
}
