//! Input validation shared by the server and the phone.
//!
//! Every function here takes the raw value a client sent plus the name of the input `field` it
//! came in, and either returns the canonical value to store or a [`ValidationError`] naming that
//! field with a short English sentence. Text is trimmed and NFC-normalised before it is measured,
//! so limits count characters the user sees, not bytes or code points of a decomposed form.
//!
//! The server calls these from its service layer and the Android companion calls the very same
//! functions through UniFFI, so a form the phone accepts offline is a form the server accepts.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc};

use crate::error::ValidationError;
use crate::limits;
use crate::text::nfc;

/// Longest URL accepted, in characters: the de-facto limit of browsers and most platforms' link fields.
pub const MAX_URL_CHARS: usize = 2048;
/// Longest part (family, middle or given) of a person's name, in characters.
pub const MAX_NAME_PART_CHARS: usize = 50;

/// Trims, NFC-normalises, and collapses every internal whitespace run (tabs, newlines, no-break
/// spaces) to one space.
fn single_line(value: &str) -> String {
    nfc(value.trim())
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Unicode's invisible text-direction controls: the embeddings and overrides U+202A–U+202E, the
/// isolates U+2066–U+2069, the marks U+200E/U+200F and the Arabic letter mark U+061C.
///
/// They reorder how the surrounding text is displayed ("Trojan source"): a name holding one can
/// show as something else than what is stored and searched, so it is refused rather than
/// stripped — silently changing what the user typed would hide the attempt.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

/// Refuses text-direction controls anywhere in `value`.
fn no_bidi(field: &str, value: &str) -> Result<(), ValidationError> {
    if value.chars().any(is_bidi_control) {
        return Err(ValidationError::new(
            field,
            "Must not contain text-direction control characters.",
        ));
    }
    Ok(())
}

/// Refuses any control character (Unicode category Cc: tabs and line breaks included) and any
/// text-direction control: what a one-line name or title may not hold.
fn one_line_chars(field: &str, value: &str) -> Result<(), ValidationError> {
    if value.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "Must be one line, without tabs or control characters.",
        ));
    }
    no_bidi(field, value)
}

fn chars_between(field: &str, value: &str, min: usize, max: usize) -> Result<(), ValidationError> {
    let n = value.chars().count();
    if n < min {
        if min == 1 {
            return Err(ValidationError::new(field, "Must not be empty."));
        }
        return Err(ValidationError::new(
            field,
            format!("Must be at least {min} characters long."),
        ));
    }
    if n > max {
        return Err(ValidationError::new(
            field,
            format!("Must be at most {max} characters long."),
        ));
    }
    Ok(())
}

/// Validates a required one-line text (a title, a group or product name): trimmed, NFC, runs of
/// spaces collapsed to one, 1..=`max_chars` characters, no control characters and no
/// text-direction controls ([`is_bidi_control`]).
///
/// Tabs and line breaks *inside* the text are refused, not collapsed: names and titles are shown
/// in lists, exports and notifications where a hidden line break splits a row or fakes a second
/// line, so the user should see and fix it. Leading and trailing ones are trimmed like spaces.
pub fn required_text(
    field: &str,
    value: &str,
    max_chars: usize,
) -> Result<String, ValidationError> {
    let trimmed = value.trim();
    one_line_chars(field, trimmed)?;
    let text = single_line(trimmed);
    chars_between(field, &text, 1, max_chars)?;
    Ok(text)
}

/// Validates an optional multi-line text (a note): absent or blank gives `Ok(None)`; otherwise
/// trimmed, NFC, line endings unified to `\n`, at most `max_chars` characters, and no control
/// characters other than line breaks and tabs.
///
/// Internal whitespace is kept as typed, because notes are free text where layout can matter.
/// Text-direction controls are refused here too: a note is displayed next to names, and a
/// reordering override in it is no less misleading there.
pub fn optional_text(
    field: &str,
    value: Option<&str>,
    max_chars: usize,
) -> Result<Option<String>, ValidationError> {
    let Some(raw) = value else { return Ok(None) };
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let text = nfc(&trimmed.replace("\r\n", "\n").replace('\r', "\n"));
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ValidationError::new(
            field,
            "Must not contain control characters.",
        ));
    }
    no_bidi(field, &text)?;
    chars_between(field, &text, 1, max_chars)?;
    Ok(Some(text))
}

/// Validates one part of a person's name (family, middle or given name): 1..=50 characters of
/// letters in any script (Vietnamese included), spaces, apostrophes (`'` or `’`), hyphens and
/// periods, with at least one letter.
///
/// Digits and symbols are refused because they are almost always typos or pasted phone numbers,
/// and the folded search key built from names should stay clean.
pub fn person_name_part(field: &str, value: &str) -> Result<String, ValidationError> {
    let trimmed = value.trim();
    one_line_chars(field, trimmed)?;
    let name = single_line(trimmed);
    chars_between(field, &name, 1, MAX_NAME_PART_CHARS)?;
    let allowed = |c: char| {
        c.is_alphabetic()
            || unicode_normalization::char::is_combining_mark(c)
            || matches!(c, ' ' | '\'' | '\u{2019}' | '-' | '.')
    };
    if !name.chars().all(allowed) {
        return Err(ValidationError::new(
            field,
            "May contain only letters, spaces, apostrophes, hyphens and periods.",
        ));
    }
    if !name.chars().any(char::is_alphabetic) {
        return Err(ValidationError::new(
            field,
            "Must contain at least one letter.",
        ));
    }
    Ok(name)
}

/// Validates a Vietnamese **mobile** number and returns it as `+84` followed by the 9-digit
/// subscriber number.
///
/// Accepted as typed: spaces, dots, dashes and parentheses anywhere; the prefixes `0` (national),
/// `84`, `+84` and `0084` (international), and a redundant trunk `0` after the country code
/// (`+84 (0)905 123 456`). The subscriber part must be 9 digits starting with 3, 5, 7, 8 or 9 —
/// the mobile ranges since the 2018 renumbering. Landlines (`02x…`) are refused on purpose: members
/// and residents are reached by SMS and Zalo, which need a mobile number.
pub fn phone(field: &str, value: &str) -> Result<String, ValidationError> {
    const SHAPE: &str = "Enter a Vietnamese mobile number, e.g. 0905 123 456 or +84 905 123 456.";
    let compact: String = value
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')' | '\u{00A0}'))
        .collect();
    if compact.is_empty() {
        return Err(ValidationError::new(field, "Must not be empty."));
    }
    let (international, digits) = match compact.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, compact.as_str()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ValidationError::new(field, SHAPE));
    }
    let subscriber = if international {
        digits
            .strip_prefix("84")
            .map(|s| s.strip_prefix('0').unwrap_or(s))
    } else if let Some(rest) = digits
        .strip_prefix("0084")
        .or_else(|| digits.strip_prefix("84"))
    {
        Some(rest.strip_prefix('0').unwrap_or(rest))
    } else {
        digits.strip_prefix('0')
    };
    let Some(subscriber) = subscriber else {
        return Err(ValidationError::new(field, SHAPE));
    };
    if subscriber.len() != 9 {
        return Err(ValidationError::new(
            field,
            "A Vietnamese mobile number has 10 digits including the leading 0.",
        ));
    }
    if !matches!(subscriber.as_bytes()[0], b'3' | b'5' | b'7' | b'8' | b'9') {
        return Err(ValidationError::new(
            field,
            "Not a mobile number: mobile numbers start with 03, 05, 07, 08 or 09.",
        ));
    }
    Ok(format!("+84{subscriber}"))
}

/// What a search query typed as a phone number looks for; see [`phone_query`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneQuery {
    /// A whole mobile number, in the stored form (`+84` and 9 digits).
    Exact(String),
    /// A run of digits to find inside the stored number's digits (`84` and 9 digits), with a
    /// national `0` already turned into `84`.
    Digits(String),
}

/// Fewest digits a partial phone search needs: fewer would match a large part of any list.
pub const MIN_PHONE_SEARCH_DIGITS: usize = 4;

/// Reads a search query as a phone number when it is one: only digits, the separators people
/// type in numbers (spaces, dots, dashes, parentheses) and an optional leading `+`, with at least
/// [`MIN_PHONE_SEARCH_DIGITS`] digits. `None` for anything else, which is then searched as words.
///
/// Every spelling of a whole number becomes [`PhoneQuery::Exact`]: what [`phone`] accepts
/// (`0905 123 456`, `+84905123456`, `84905123456`, …) and also the bare 9-digit subscriber number
/// (`905123456`), which [`phone`] refuses as an input but is a natural thing to search for.
/// Shorter runs are [`PhoneQuery::Digits`], matched anywhere in the number, so the last digits
/// someone remembers ("123 456") or its beginning ("0905 12") find it.
///
/// ```
/// use cdtg_core::validate::{phone_query, PhoneQuery};
/// let exact = Some(PhoneQuery::Exact("+84905123456".to_owned()));
/// assert_eq!(phone_query("0905 123 456"), exact);
/// assert_eq!(phone_query("905123456"), exact);
/// assert_eq!(phone_query("0905 12"), Some(PhoneQuery::Digits("8490512".to_owned())));
/// assert_eq!(phone_query("Nguyễn"), None);
/// ```
pub fn phone_query(query: &str) -> Option<PhoneQuery> {
    let compact: String = query
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')' | '\u{00A0}'))
        .collect();
    let (international, digits) = match compact.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, compact.as_str()),
    };
    if digits.len() < MIN_PHONE_SEARCH_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Ok(number) = phone("q", &compact) {
        return Some(PhoneQuery::Exact(number));
    }
    if !international
        && digits.len() == 9
        && matches!(digits.as_bytes()[0], b'3' | b'5' | b'7' | b'8' | b'9')
    {
        return Some(PhoneQuery::Exact(format!("+84{digits}")));
    }
    let digits = if international {
        digits.to_owned()
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_owned()
    } else if let Some(rest) = digits.strip_prefix('0') {
        format!("84{rest}")
    } else {
        digits.to_owned()
    };
    Some(PhoneQuery::Digits(digits))
}

/// Validates an absolute `http`/`https` URL with a host, at most 2048 characters, and returns it
/// trimmed but otherwise exactly as given.
///
/// The URL is returned as typed (not re-serialised by the parser) so that listing links keep the
/// form the platform handed out. Whitespace inside is refused rather than percent-encoded, since
/// it signals a broken paste.
pub fn http_url(field: &str, value: &str) -> Result<String, ValidationError> {
    let text = value.trim();
    if text.is_empty() {
        return Err(ValidationError::new(field, "Must not be empty."));
    }
    chars_between(field, text, 1, MAX_URL_CHARS)?;
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ValidationError::new(
            field,
            "A URL must not contain spaces.",
        ));
    }
    let parsed = url::Url::parse(text).map_err(|_| {
        ValidationError::new(field, "Enter a full web address starting with https://.")
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ValidationError::new(
            field,
            "Only http and https addresses are accepted.",
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(ValidationError::new(field, "The address must name a host."));
    }
    Ok(text.to_owned())
}

/// Accepts `value` when it is zero or more: counts, money amounts (integer VND) and targets.
pub fn non_negative(field: &str, value: i64) -> Result<i64, ValidationError> {
    if value < 0 {
        return Err(ValidationError::new(field, "Must not be negative."));
    }
    Ok(value)
}

/// Accepts `value` when `min <= value <= max`; the message names both bounds so the user knows
/// what would have been accepted.
pub fn count_in_range(field: &str, value: i64, min: i64, max: i64) -> Result<i64, ValidationError> {
    if value < min || value > max {
        return Err(ValidationError::new(
            field,
            format!("Must be between {min} and {max}."),
        ));
    }
    Ok(value)
}

/// Accepts a count between 0 and `max` (both included): every count a client sends has a
/// documented realistic maximum in [`crate::limits`].
pub fn count_at_most(field: &str, value: i64, max: i64) -> Result<i64, ValidationError> {
    count_in_range(field, value, 0, max)
}

/// Accepts an OCOP star rating, 0..=5 (0 meaning not rated; the OCOP programme awards 3 to 5
/// stars). Takes the wire integer as sent, so a value beyond 32 bits is refused here naming the
/// field rather than failing to parse.
pub fn ocop_stars(field: &str, value: i64) -> Result<i32, ValidationError> {
    if !(0..=limits::MAX_OCOP_STARS).contains(&value) {
        return Err(ValidationError::new(
            field,
            "Must be between 0 and 5 stars.",
        ));
    }
    Ok(value as i32)
}

/// Validates a `search` filter: absent or blank gives `Ok(None)` (no filter); otherwise at most
/// [`limits::MAX_SEARCH_CHARS`] characters once trimmed, returned as typed (the search folds it).
pub fn search_text(field: &str, value: Option<&str>) -> Result<Option<String>, ValidationError> {
    let Some(text) = value.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    chars_between(field, text, 1, limits::MAX_SEARCH_CHARS)?;
    Ok(Some(text.to_owned()))
}

/// 1 January of [`limits::PROGRAMME_START_YEAR`]: the earliest plausible date of any work.
pub fn programme_start() -> NaiveDate {
    NaiveDate::from_ymd_opt(limits::PROGRAMME_START_YEAR, 1, 1).expect("a valid date")
}

/// Accepts a task's due date between the programme start and [`limits::MAX_DUE_YEARS_AHEAD`]
/// years after `today` (the caller's today in Vietnam, passed in so the rule stays pure).
///
/// Past due dates are allowed — a task can be recorded after the fact — but not before the
/// programme existed.
pub fn due_date(
    field: &str,
    due: NaiveDate,
    today: NaiveDate,
) -> Result<NaiveDate, ValidationError> {
    let earliest = programme_start();
    let latest = today
        .checked_add_months(Months::new(12 * limits::MAX_DUE_YEARS_AHEAD))
        .unwrap_or(NaiveDate::MAX);
    if due < earliest {
        return Err(ValidationError::new(
            field,
            format!("Must not be before {earliest}, when the programme started."),
        ));
    }
    if due > latest {
        return Err(ValidationError::new(
            field,
            format!(
                "Must be at most {} years ahead (until {latest}).",
                limits::MAX_DUE_YEARS_AHEAD
            ),
        ));
    }
    Ok(due)
}

/// Accepts the time a field session happened: not before the programme start (midnight of
/// 1 January in Vietnam, UTC+7) and not after `now` plus [`limits::MAX_CLOCK_SKEW_SECS`].
pub fn occurred_at(
    field: &str,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, ValidationError> {
    let earliest = crate::time::vietnam_midnight(programme_start());
    if at < earliest {
        return Err(ValidationError::new(
            field,
            format!(
                "Must not be before {}, when the programme started.",
                programme_start()
            ),
        ));
    }
    if at > now + Duration::seconds(limits::MAX_CLOCK_SKEW_SECS) {
        return Err(ValidationError::new(field, "Must not be in the future."));
    }
    Ok(at)
}

/// Accepts a household survey's period: both ends in the programme's years, from
/// [`limits::PROGRAMME_START_YEAR`] to the year after `today`'s
/// ([`limits::SURVEY_YEARS_AHEAD`]), and the end not before the start.
pub fn survey_period(
    start: NaiveDate,
    end: NaiveDate,
    today: NaiveDate,
) -> Result<(), ValidationError> {
    let last_year = today.year() + limits::SURVEY_YEARS_AHEAD;
    for (field, date) in [("periodStart", start), ("periodEnd", end)] {
        if !(limits::PROGRAMME_START_YEAR..=last_year).contains(&date.year()) {
            return Err(ValidationError::new(
                field,
                format!(
                    "Must be in the years {} to {last_year}.",
                    limits::PROGRAMME_START_YEAR
                ),
            ));
        }
    }
    not_before("periodEnd", &start, &end)
}

/// Validates a client-generated idempotency key: 8..=128 characters of `A-Z a-z 0-9 _ . : -`,
/// returned exactly as sent.
///
/// Wide enough for UUIDs, ULIDs and `device:counter` schemes, narrow enough to store and log
/// safely. The lower bound stops trivially colliding keys such as `1`. Surrounding whitespace is
/// refused rather than trimmed: a key is an identity compared byte for byte, and `" k"` quietly
/// becoming `"k"` (or not) on one path but not another is how a retry turns into a second report.
pub fn idempotency_key(field: &str, value: &str) -> Result<String, ValidationError> {
    let key = value;
    if key.trim() != key {
        return Err(ValidationError::new(
            field,
            "Must not start or end with spaces.",
        ));
    }
    chars_between(field, key, 8, 128)?;
    if !key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
    {
        return Err(ValidationError::new(
            field,
            "May contain only letters A-Z, digits and the characters _ . : -",
        ));
    }
    Ok(key.to_owned())
}

/// Validates a login name and returns it lower-cased: 3..=64 characters of `a-z 0-9 . _ -`.
///
/// Lower-casing first makes logins case-insensitive without a case-insensitive index; ASCII only
/// avoids look-alike (homoglyph) accounts.
pub fn login_name(field: &str, value: &str) -> Result<String, ValidationError> {
    let name = value.trim().to_lowercase();
    chars_between(field, &name, 3, 64)?;
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(ValidationError::new(
            field,
            "May contain only letters a-z, digits and the characters . _ -",
        ));
    }
    Ok(name)
}

/// Checks a new password's length: 10..=256 characters.
///
/// Unlike every other function here the password is **not** trimmed or normalised: the exact
/// characters typed are what gets hashed, and leading spaces are legitimate. Length is what
/// matters for strength (NIST SP 800-63B); the upper bound caps hashing cost. Only an all-blank
/// password is refused in addition.
pub fn password(field: &str, value: &str) -> Result<(), ValidationError> {
    chars_between(field, value, MIN_PASSWORD_CHARS, 256)?;
    if value.trim().is_empty() {
        return Err(ValidationError::new(field, "Must not be only spaces."));
    }
    if is_common_password(value) {
        return Err(ValidationError::new(
            field,
            "Is one of the most common passwords; choose another.",
        ));
    }
    Ok(())
}

/// The shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Passwords of the accepted length that guessing lists try first: the keyboard and digit runs,
/// the English and Vietnamese "password" and "I love you" spellings, and the names of this
/// service. Compared without case, spaces or a trailing run of digits and punctuation, so
/// `Matkhau@2024` is caught as `matkhau`. Deliberately small: it stops the first guesses; the
/// login throttle stops the rest.
const COMMON_PASSWORD_STEMS: &[&str] = &[
    "password",
    "passw0rd",
    "p@ssword",
    "p@ssw0rd",
    "matkhau",
    "m@tkhau",
    "matkhaumoi",
    "iloveyou",
    "anhyeuem",
    "emyeuanh",
    "yeuem",
    "yeuanh",
    "qwerty",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "1q2w3e4r",
    "1q2w3e4r5t",
    "1qaz2wsx",
    "1qaz2wsx3edc",
    "zaq12wsx",
    "abc",
    "abcd",
    "abcdef",
    "abcdefgh",
    "abcdefghij",
    "admin",
    "administrator",
    "welcome",
    "letmein",
    "login",
    "changeme",
    "default",
    "secret",
    "vietnam",
    "vietnam2025",
    "danang",
    "hanoi",
    "saigon",
    "cdtg",
    "tocongnghe",
    "tocongnghesocongdong",
    "congnghe",
    "congnghes",
    "vneid",
    "dichvucong",
    "demo",
];

/// Whether `value` is on, or is a digit-suffixed variant of, the built-in common-password list,
/// or is made of one repeated character or one run of consecutive digits.
pub fn is_common_password(value: &str) -> bool {
    let lowered: String = value
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    if lowered.is_empty() {
        return false;
    }
    let first = lowered.chars().next().unwrap_or_default();
    if lowered.chars().all(|c| c == first) {
        return true;
    }
    // Digits only: a run such as 0123456789 or 9876543210 (wrapping 9 to 0), or a short
    // pattern repeated (1234512345, 121212121212).
    let digits: Vec<u32> = lowered.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() == lowered.chars().count() {
        let ascending = digits.windows(2).all(|w| (w[0] + 1) % 10 == w[1]);
        let descending = digits.windows(2).all(|w| (w[1] + 1) % 10 == w[0]);
        let repeats_short_pattern = (1..=digits.len() / 2).any(|period| {
            digits.len().is_multiple_of(period)
                && digits.chunks(period).all(|c| c == &digits[..period])
                && (period <= 3 || digits[..period].windows(2).all(|w| (w[0] + 1) % 10 == w[1]))
        });
        if ascending || descending || repeats_short_pattern {
            return true;
        }
    }
    let stem = lowered.trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation());
    let stem = stem.trim_start_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation());
    COMMON_PASSWORD_STEMS.contains(&stem)
}

/// Checks that `later` is not before `earlier` (equal is fine), reporting the error on `field`,
/// the name of the *later* input, since that is the one the user should change (e.g. a due date
/// before the start date, a membership that ends before it began).
pub fn not_before<T: PartialOrd>(
    field: &str,
    earlier: &T,
    later: &T,
) -> Result<(), ValidationError> {
    if later < earlier {
        return Err(ValidationError::new(
            field,
            "Must not be earlier than the date it follows.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of<T: std::fmt::Debug>(r: Result<T, ValidationError>) -> String {
        r.expect_err("expected a validation error").field
    }

    #[test]
    fn common_passwords_are_refused_whatever_the_suffix_or_case() {
        for common in [
            "1234567890",
            "0123456789",
            "9876543210",
            "1234512345",
            "123123123123",
            "aaaaaaaaaaaa",
            "Password123",
            "Matkhau@2024",
            "matkhau 12345",
            "anhyeuem123",
            "qwertyuiop",
            "Admin@12345",
            "2024vietnam2025",
            "121212121212",
        ] {
            let e = password("newPassword", common).unwrap_err();
            assert_eq!(e.field, "newPassword");
            assert!(e.message.contains("common"), "{common}: {}", e.message);
        }
        for fine in [
            "correct horse battery",
            "Tổ công nghệ số phường 7",
            "fixture-password",
            "x9!kd83-mq2p",
        ] {
            assert!(password("p", fine).is_ok(), "{fine}");
        }
        assert!(
            password("p", "short1!")
                .unwrap_err()
                .message
                .contains("at least 10")
        );
    }

    #[test]
    fn required_text_trims_collapses_and_normalises() {
        assert_eq!(
            required_text("title", " \n Hỗ trợ   VNeID\u{a0} tổ 5 \t", 100).unwrap(),
            "Hỗ trợ VNeID tổ 5"
        );
        assert_eq!(
            required_text("title", "Nguye\u{302}\u{303}n", 100).unwrap(),
            "Nguyễn"
        );
    }

    #[test]
    fn required_text_rejects_blank_long_and_control() {
        let e = required_text("title", "   ", 10).unwrap_err();
        assert_eq!(e.field, "title");
        assert_eq!(e.message, "Must not be empty.");
        assert_eq!(field_of(required_text("name", "abcdefghijk", 10)), "name");
        assert!(required_text("t", "abc\u{0007}def", 10).is_err());
        // Limits count characters, not bytes: 10 Vietnamese letters fit in 10.
        assert!(required_text("t", "ễễễễễễễễễễ", 10).is_ok());
        assert!(required_text("t", "ễễễễễễễễễễễ", 10).is_err());
    }

    #[test]
    fn names_and_titles_refuse_line_breaks_tabs_and_direction_controls() {
        for bad in [
            "Tổ 5\ttổ 6",
            "Tổ 5\ntổ 6",
            "Tổ 5\r\ntổ 6",
            "Tổ\u{7f}5",
            "Tổ\u{85}5",
        ] {
            let e = required_text("name", bad, 100).unwrap_err();
            assert_eq!(e.field, "name", "{bad:?}");
            assert_eq!(
                e.message, "Must be one line, without tabs or control characters.",
                "{bad:?}"
            );
            assert_eq!(field_of(person_name_part("givenName", bad)), "givenName");
        }
        for c in [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}',
        ] {
            assert!(is_bidi_control(c), "{c:?}");
            let spoof = format!("Nước mắm{c} Nam Ô");
            let e = required_text("name", &spoof, 100).unwrap_err();
            assert_eq!(
                e.message, "Must not contain text-direction control characters.",
                "{c:?}"
            );
            assert_eq!(
                field_of(person_name_part("familyName", &spoof)),
                "familyName"
            );
            assert_eq!(field_of(optional_text("note", Some(&spoof), 100)), "note");
        }
        // Neighbours of the ranges, and the joiners Vietnamese input methods may leave, are fine.
        for c in ['\u{2029}', '\u{2065}', '\u{206A}', '\u{200D}', '\u{061B}'] {
            assert!(!is_bidi_control(c), "{c:?}");
        }
    }

    #[test]
    fn notes_keep_line_breaks_and_tabs_but_no_other_controls() {
        assert_eq!(
            optional_text("note", Some("dòng 1\n\tdòng 2"), 100)
                .unwrap()
                .as_deref(),
            Some("dòng 1\n\tdòng 2")
        );
        assert_eq!(
            field_of(optional_text("note", Some("a\u{1b}[31m"), 100)),
            "note"
        );
    }

    #[test]
    fn optional_text_none_blank_and_newlines() {
        assert_eq!(optional_text("note", None, 10).unwrap(), None);
        assert_eq!(optional_text("note", Some("  \n "), 10).unwrap(), None);
        assert_eq!(
            optional_text("note", Some(" dòng 1\r\ndòng 2 "), 100)
                .unwrap()
                .as_deref(),
            Some("dòng 1\ndòng 2")
        );
        assert_eq!(
            field_of(optional_text("note", Some("x\u{0000}"), 100)),
            "note"
        );
        assert!(optional_text("note", Some("abcdefghijk"), 10).is_err());
        assert!(optional_text("note", Some("abcdefghij"), 10).is_ok());
    }

    #[test]
    fn person_name_parts() {
        assert_eq!(person_name_part("givenName", " Phước ").unwrap(), "Phước");
        assert_eq!(person_name_part("familyName", "Tôn Nữ").unwrap(), "Tôn Nữ");
        assert!(person_name_part("f", "O'Neil-Smith Jr.").is_ok());
        assert!(person_name_part("f", "Đặng").is_ok());
        assert!(person_name_part("f", "Анна").is_ok());
        assert_eq!(
            field_of(person_name_part("givenName", "Chung2")),
            "givenName"
        );
        assert!(person_name_part("f", "a@b").is_err());
        assert!(person_name_part("f", "").is_err());
        assert!(person_name_part("f", "--").is_err());
        assert!(person_name_part("f", &"a".repeat(50)).is_ok());
        assert!(person_name_part("f", &"a".repeat(51)).is_err());
    }

    #[test]
    fn phone_accepts_common_spellings() {
        for input in [
            "0905 123 456",
            "0905.123.456",
            "0905-123-456",
            "0905123456",
            "84905123456",
            "+84905123456",
            "+84 905 123 456",
            "+84 (0)905123456",
            "0084 905 123 456",
            "(0905) 123456",
        ] {
            assert_eq!(phone("phone", input).unwrap(), "+84905123456", "{input}");
        }
        for prefix in ["03", "05", "07", "08", "09"] {
            assert!(
                phone("phone", &format!("{prefix}12345678")).is_ok(),
                "{prefix}"
            );
        }
    }

    #[test]
    fn phone_query_finds_every_spelling_of_a_whole_number() {
        for input in [
            "0905 123 456",
            "0905123456",
            "+84905123456",
            "84905123456",
            "905123456",
            "905 123 456",
            "+84 (0)905 123 456",
            "0084 905 123 456",
            " 0905.123.456 ",
        ] {
            assert_eq!(
                phone_query(input),
                Some(PhoneQuery::Exact("+84905123456".to_owned())),
                "{input}"
            );
        }
    }

    #[test]
    fn phone_query_partial_digits_and_non_phones() {
        let digits = |s: &str| Some(PhoneQuery::Digits(s.to_owned()));
        assert_eq!(phone_query("123 456"), digits("123456"));
        assert_eq!(phone_query("0905"), digits("84905"));
        assert_eq!(phone_query("0905 12"), digits("8490512"));
        assert_eq!(phone_query("+84 905"), digits("84905"));
        assert_eq!(phone_query("0084 905"), digits("84905"));
        assert_eq!(phone_query("3456"), digits("3456"));
        // A number that is not a mobile one is still searched as digits (it matches nothing).
        assert_eq!(phone_query("0236 3822 123"), digits("842363822123"));
        for input in [
            "123", "12 3", "Nguyễn", "van 0905", "0905abc", "++84905", "", "  ", "+",
        ] {
            assert_eq!(phone_query(input), None, "{input}");
        }
    }

    #[test]
    fn phone_rejects_landlines_lengths_and_letters() {
        for input in [
            "0236 3822 123", // Da Nang landline
            "0212345678",    // 02x prefix
            "0105123456",    // no 01x mobiles since 2018
            "0405123456",
            "0605123456",
            "090512345",
            "09051234567",
            "905123456", // no prefix at all
            "0905abc456",
            "+1 905 123 4567",
            "++84905123456",
            "84+905123456",
            "",
            "   ",
        ] {
            let e = phone("phone", input).expect_err(input);
            assert_eq!(e.field, "phone");
        }
    }

    #[test]
    fn urls() {
        assert_eq!(
            http_url("url", "  https://voso.vn/san-pham/123  ").unwrap(),
            "https://voso.vn/san-pham/123"
        );
        assert!(http_url("url", "http://example.com").is_ok());
        assert_eq!(field_of(http_url("url", "ftp://example.com/x")), "url");
        assert!(http_url("url", "voso.vn/x").is_err());
        assert!(http_url("url", "https://").is_err());
        assert!(http_url("url", "https://a b.com").is_err());
        assert!(http_url("url", "https://example.com/a b").is_err());
        assert!(http_url("url", "mailto:a@b.c").is_err());
        assert!(http_url("url", "").is_err());
        let long = format!("https://e.com/{}", "a".repeat(MAX_URL_CHARS));
        assert!(http_url("url", &long).is_err());
        let exact = format!("https://e.com/{}", "a".repeat(MAX_URL_CHARS - 14));
        assert_eq!(exact.chars().count(), MAX_URL_CHARS);
        assert!(http_url("url", &exact).is_ok());
    }

    #[test]
    fn numbers() {
        assert_eq!(non_negative("target", 0).unwrap(), 0);
        assert_eq!(field_of(non_negative("target", -1)), "target");
        assert_eq!(count_in_range("n", 5, 0, 5).unwrap(), 5);
        let e = count_in_range("n", 6, 0, 5).unwrap_err();
        assert!(
            e.message.contains('0') && e.message.contains('5'),
            "{}",
            e.message
        );
        assert!(count_in_range("n", -1, 0, 5).is_err());
        assert_eq!(ocop_stars("ocopStars", 0).unwrap(), 0);
        assert_eq!(ocop_stars("ocopStars", 5).unwrap(), 5);
        assert!(ocop_stars("ocopStars", 6).is_err());
        assert!(ocop_stars("ocopStars", -1).is_err());
        assert!(ocop_stars("ocopStars", i64::from(i32::MAX) + 6).is_err());
        assert_eq!(count_at_most("households", 0, 10).unwrap(), 0);
        assert_eq!(count_at_most("households", 10, 10).unwrap(), 10);
        assert_eq!(field_of(count_at_most("households", 11, 10)), "households");
        assert_eq!(field_of(count_at_most("households", -1, 10)), "households");
        assert!(count_at_most("households", i64::MAX, limits::MAX_HOUSEHOLDS).is_err());
        assert!(count_at_most("households", i64::MIN, limits::MAX_HOUSEHOLDS).is_err());
    }

    #[test]
    fn search_texts() {
        assert_eq!(search_text("filter.search", None).unwrap(), None);
        assert_eq!(search_text("filter.search", Some("   ")).unwrap(), None);
        assert_eq!(
            search_text("filter.search", Some(" phuoc my "))
                .unwrap()
                .as_deref(),
            Some("phuoc my")
        );
        let longest = "ễ".repeat(limits::MAX_SEARCH_CHARS);
        assert!(search_text("filter.search", Some(&longest)).is_ok());
        let e = search_text("filter.search", Some(&format!("{longest}a"))).unwrap_err();
        assert_eq!(e.field, "filter.search");
        assert_eq!(e.message, "Must be at most 100 characters long.");
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn due_dates_from_programme_start_to_five_years_ahead() {
        let today = day(2026, 12, 1);
        assert!(due_date("dueOn", day(2020, 1, 1), today).is_ok());
        assert!(
            due_date("dueOn", day(2024, 6, 30), today).is_ok(),
            "the past is fine"
        );
        assert!(due_date("dueOn", day(2031, 12, 1), today).is_ok());
        let e = due_date("dueOn", day(2019, 12, 31), today).unwrap_err();
        assert_eq!(e.field, "dueOn");
        assert!(e.message.contains("2020-01-01"), "{}", e.message);
        let e = due_date("dueOn", day(2031, 12, 2), today).unwrap_err();
        assert!(e.message.contains("2031-12-01"), "{}", e.message);
        assert!(due_date("dueOn", NaiveDate::MAX, today).is_err());
        assert!(due_date("dueOn", NaiveDate::MIN, today).is_err());
        // Near the end of chrono's range the bound saturates instead of panicking.
        assert!(due_date("dueOn", NaiveDate::MAX, NaiveDate::MAX).is_ok());
    }

    #[test]
    fn occurred_at_between_programme_start_and_now_plus_skew() {
        let now = "2026-12-01T10:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert!(occurred_at("occurredAt", now, now).is_ok());
        assert!(occurred_at("occurredAt", at("2026-12-01T10:05:00Z"), now).is_ok());
        assert_eq!(
            field_of(occurred_at("occurredAt", at("2026-12-01T10:05:01Z"), now)),
            "occurredAt"
        );
        // Midnight of 1 January 2020 in Vietnam is 17:00 UTC the day before.
        assert!(occurred_at("occurredAt", at("2019-12-31T17:00:00Z"), now).is_ok());
        let e = occurred_at("occurredAt", at("2019-12-31T16:59:59Z"), now).unwrap_err();
        assert!(e.message.contains("2020-01-01"), "{}", e.message);
        assert!(occurred_at("occurredAt", DateTime::<Utc>::MIN_UTC, now).is_err());
        assert!(occurred_at("occurredAt", DateTime::<Utc>::MAX_UTC, now).is_err());
    }

    #[test]
    fn survey_periods_in_the_programme_years() {
        let today = day(2026, 12, 1);
        assert!(survey_period(day(2020, 1, 1), day(2020, 12, 31), today).is_ok());
        assert!(survey_period(day(2027, 1, 1), day(2027, 12, 31), today).is_ok());
        assert_eq!(
            field_of(survey_period(day(2019, 12, 1), day(2020, 1, 31), today)),
            "periodStart"
        );
        let e = survey_period(day(2027, 12, 1), day(2028, 1, 31), today).unwrap_err();
        assert_eq!(e.field, "periodEnd");
        assert_eq!(e.message, "Must be in the years 2020 to 2027.");
        assert_eq!(
            field_of(survey_period(day(2025, 7, 1), day(2025, 6, 30), today)),
            "periodEnd"
        );
    }

    #[test]
    fn idempotency_keys() {
        assert_eq!(
            idempotency_key("idempotencyKey", "0b7d1c2e-8f0a-4c1e-9a55-3f2d8b6a9e10").unwrap(),
            "0b7d1c2e-8f0a-4c1e-9a55-3f2d8b6a9e10"
        );
        // Padding is refused, not trimmed: " k" and "k" must never be two reports or one.
        for padded in [
            " 0b7d1c2e-8f0a-4c1e",
            "0b7d1c2e-8f0a-4c1e ",
            "\t0b7d1c2e-8f0a-4c1e",
            "0b7d1c2e-8f0a-4c1e\n",
        ] {
            let e = idempotency_key("idempotencyKey", padded).unwrap_err();
            assert_eq!(e.field, "idempotencyKey");
            assert_eq!(e.message, "Must not start or end with spaces.");
        }
        assert!(idempotency_key("k", "device:42.a_b").is_ok());
        assert!(idempotency_key("k", "1234567").is_err());
        assert!(idempotency_key("k", "12345678").is_ok());
        assert!(idempotency_key("k", &"a".repeat(128)).is_ok());
        assert!(idempotency_key("k", &"a".repeat(129)).is_err());
        assert_eq!(
            field_of(idempotency_key("idempotencyKey", "abc def ghi")),
            "idempotencyKey"
        );
        assert!(idempotency_key("k", "khóa-12345").is_err());
    }

    #[test]
    fn login_names() {
        assert_eq!(
            login_name("login", " PhuocMy-Leader ").unwrap(),
            "phuocmy-leader"
        );
        assert!(login_name("login", "ab").is_err());
        assert!(login_name("login", &"a".repeat(64)).is_ok());
        assert!(login_name("login", &"a".repeat(65)).is_err());
        assert!(login_name("login", "phước").is_err());
        assert!(login_name("login", "a b c").is_err());
    }

    #[test]
    fn passwords() {
        assert!(password("password", "k3v9-q7mz2").is_ok());
        assert!(
            password("password", " k3v9q7mz2").is_ok(),
            "leading space is kept and counted"
        );
        assert_eq!(field_of(password("password", "k3v9q7mz2")), "password");
        assert!(password("password", &"xy".repeat(128)).is_ok());
        assert!(password("password", &"xyz".repeat(86)).is_err());
        assert!(
            password("password", &"x".repeat(20)).is_err(),
            "one repeated character is refused whatever its length"
        );
        assert!(password("password", &" ".repeat(12)).is_err());
    }

    #[test]
    fn ordering() {
        assert!(not_before("dueOn", &1, &2).is_ok());
        assert!(not_before("dueOn", &2, &2).is_ok());
        assert_eq!(field_of(not_before("dueOn", &3, &2)), "dueOn");
        assert!(not_before("leftOn", &"2025-07-01", &"2025-06-30").is_err());
    }
}
