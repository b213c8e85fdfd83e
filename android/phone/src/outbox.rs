//! The phone's offline outbox: field reports recorded without a network, sent later exactly
//! once, plus the task list cached at the last sync.
//!
//! Design decisions:
//! - **The idempotency key is minted when the report is recorded** (UUID v4) and stored with it
//!   forever. Every resend carries the same key and a byte-for-byte identical input built from the
//!   stored row, so the server's idempotency turns "sent twice because the answer was lost" into
//!   "counted once".
//! - **Validation happens at recording time** with the core's [`activity::validate_report`], the
//!   function the server runs, so a report that would be refused is refused on the spot, while
//!   the member can still fix it.
//! - **Three states.** `PENDING` reports are sent; `ACKNOWLEDGED` ones keep the server's activity
//!   id; `REFUSED` ones keep the server's code, field and message and are never resent (sending
//!   them again cannot succeed, and the member must see why).
//! - **No clock inside.** Every time is an argument (`now_ms`, milliseconds since the Unix
//!   epoch), so retry behaviour is deterministic and testable; [`backoff_ms`] is a pure function.
//! - **Durability.** SQLite in WAL mode with `synchronous = FULL`: once `record_report` returns,
//!   the report survives the app being killed. The schema is versioned with `PRAGMA user_version`.
//!
//! The outbox does not talk to the network: the app posts each [`SyncRequest::body`] to
//! `/graphql` with its token and hands the answer to [`Outbox::apply_sync_response`] (or reports a
//! transport failure with [`Outbox::record_sync_failure`]).

use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Value, json};

use cdtg_core::activity::{self, DEFAULT_MAX_RESIDENTS_PER_SESSION};
use cdtg_core::error::ValidationError;
use cdtg_core::task::{self, TaskKind, TaskPriority, TaskStatus};
use cdtg_core::text::fold;
use cdtg_core::validate;

use crate::ffi::{CdtgException, OutcomeCount, outcome_pairs};

/// The GraphQL document every report is sent with; the response fields it selects are the ones
/// [`Outbox::apply_sync_response`] reads.
pub const REPORT_ACTIVITY_MUTATION: &str = "mutation ReportActivity($input: ReportActivityInput!) { reportActivity(input: $input) { activity { id } task { id progress } } }";

/// Server error codes after which resending the same report can never succeed.
const REFUSAL_CODES: [&str; 4] = ["BAD_USER_INPUT", "FORBIDDEN", "NOT_FOUND", "CONFLICT"];

/// First retry delay: long enough not to hammer a server that just failed, short enough that a
/// member standing in a dead spot sees the report go out soon after the signal returns.
const BACKOFF_BASE_MS: u64 = 5_000;
/// Longest retry delay: a phone that was offline all day still retries twice an hour.
const BACKOFF_CAP_MS: u64 = 30 * 60 * 1_000;

/// Earliest and latest accepted `occurred_at_ms` (2000-01-01 and the end of year 9999, UTC): a
/// sanity check against an unset or garbled device clock, and the range RFC 3339 can express.
const OCCURRED_AT_MIN_MS: i64 = 946_684_800_000;
const OCCURRED_AT_MAX_MS: i64 = 253_402_300_799_999;

/// Schema steps; step `i` brings the file from `user_version` `i` to `i + 1`. Append, never edit.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE report (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key    TEXT    NOT NULL UNIQUE,
    task_id            TEXT    NOT NULL,
    occurred_at_ms     INTEGER NOT NULL,
    residents_helped   INTEGER NOT NULL,
    outcomes_json      TEXT    NOT NULL,
    note               TEXT,
    state              TEXT    NOT NULL DEFAULT 'PENDING'
                       CHECK (state IN ('PENDING', 'ACKNOWLEDGED', 'REFUSED')),
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT,
    server_activity_id TEXT,
    refusal_code       TEXT,
    refusal_field      TEXT,
    refusal_message    TEXT
);
CREATE INDEX report_due ON report (state, next_attempt_at_ms, seq);
CREATE TABLE cached_task (
    position   INTEGER PRIMARY KEY,
    id         TEXT    NOT NULL UNIQUE,
    title      TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    priority   TEXT    NOT NULL,
    due_on     TEXT,
    target     INTEGER,
    progress   INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    group_id   TEXT    NOT NULL,
    group_name TEXT    NOT NULL,
    search_key TEXT    NOT NULL
);
"#];

/// The retry delay after `attempts` failed attempts: 0 before the first, then 5 s doubling each
/// time (5 s, 10 s, 20 s, …) up to 30 minutes. Pure, so the schedule is testable without a clock.
#[uniffi::export]
pub fn backoff_ms(attempts: u32) -> u64 {
    if attempts == 0 {
        return 0;
    }
    let doublings = (attempts - 1).min(20);
    (BACKOFF_BASE_MS << doublings).min(BACKOFF_CAP_MS)
}

/// The delay the outbox actually waits for report `key` after `attempts` failures:
/// [`backoff_ms`] plus up to 10 % deterministic jitter derived from the key, so that phones which
/// lost the server at the same moment do not all come back at the same moment.
#[uniffi::export]
pub fn retry_delay_ms(key: String, attempts: u32) -> u64 {
    let base = backoff_ms(attempts);
    base + fnv1a(key.as_bytes()) % (base / 10 + 1)
}

/// 64-bit FNV-1a: tiny, stable across platforms and releases (unlike `std`'s hasher), which a
/// persisted schedule needs.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A field report as the member enters it, before it gets its key.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReportDraft {
    /// The server's (global) id of the task, as received in the cached task list.
    pub task_id: String,
    /// When the session took place, in ms since the Unix epoch (sent as RFC 3339 UTC).
    pub occurred_at_ms: i64,
    /// How many residents were helped in the session.
    pub residents_helped: i64,
    /// Outcome counts; each kind at most once.
    pub outcomes: Vec<OutcomeCount>,
    /// Optional free-text note (≤ 2000 characters).
    pub note: Option<String>,
}

/// Where a stored report is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ReportState {
    /// Waiting to be sent (or re-sent after a retryable failure).
    Pending,
    /// The server stored it; `server_activity_id` is set. Final.
    Acknowledged,
    /// The server refused it; `refusal` says why. Final: never resent.
    Refused,
}

impl ReportState {
    fn as_str(self) -> &'static str {
        match self {
            ReportState::Pending => "PENDING",
            ReportState::Acknowledged => "ACKNOWLEDGED",
            ReportState::Refused => "REFUSED",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            ReportState::Pending,
            ReportState::Acknowledged,
            ReportState::Refused,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// Why the server refused a report, as it said it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Refusal {
    /// `extensions.code`: `BAD_USER_INPUT`, `FORBIDDEN`, `NOT_FOUND` or `CONFLICT`.
    pub code: String,
    /// `extensions.field`, when the server named one.
    pub field: Option<String>,
    /// The server's message, for the member.
    pub message: String,
}

/// A report as stored in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoredReport {
    /// The idempotency key, minted at recording and never changed.
    pub key: String,
    /// The task's server id.
    pub task_id: String,
    /// When the session took place (ms since the Unix epoch).
    pub occurred_at_ms: i64,
    /// Residents helped.
    pub residents_helped: i64,
    /// Outcome counts.
    pub outcomes: Vec<OutcomeCount>,
    /// The normalised note.
    pub note: Option<String>,
    /// Pending, acknowledged or refused.
    pub state: ReportState,
    /// Failed send attempts so far (retryable failures only).
    pub attempts: u32,
    /// Not sent again before this time (ms since the Unix epoch); 0 = at once.
    pub next_attempt_at_ms: i64,
    /// What went wrong on the last retryable failure, for a status line.
    pub last_error: Option<String>,
    /// The server's activity id, once acknowledged.
    pub server_activity_id: Option<String>,
    /// The server's reason, once refused.
    pub refusal: Option<Refusal>,
}

/// One HTTP request to make: POST `body` (JSON) to `/graphql`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncRequest {
    /// The report's idempotency key; pass it back to `apply_sync_response`.
    pub key: String,
    /// The complete JSON request body (`query` + `variables`).
    pub body: String,
}

/// Counts of stored reports per state, for a badge in the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct OutboxCounts {
    /// Still to be sent.
    pub pending: u64,
    /// Refused by the server.
    pub refused: u64,
    /// Stored by the server.
    pub acknowledged: u64,
}

/// A task as received at the last sync, readable offline.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CachedTask {
    /// The server's (global) id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Kind; decides which outcome counts toward `target`.
    pub kind: TaskKind,
    /// Status at the last sync.
    pub status: TaskStatus,
    /// Priority.
    pub priority: TaskPriority,
    /// Due date (`YYYY-MM-DD`, Asia/Ho_Chi_Minh), if any.
    pub due_on: Option<String>,
    /// Numeric target, if any.
    pub target: Option<i64>,
    /// Progress at the last sync (updated from acknowledgements since).
    pub progress: i64,
    /// The task's version, for `transitionTask`'s `expectedVersion`.
    pub version: i64,
    /// The group's id.
    pub group_id: String,
    /// The group's name (searched too).
    pub group_name: String,
}

/// What one server answer means for a report.
#[derive(Debug, PartialEq)]
enum Verdict {
    Acknowledged {
        activity_id: String,
        task: Option<(String, i64)>,
    },
    Refused(Refusal),
    Retry(String),
}

/// Reads a GraphQL response to `reportActivity`. An activity id means success whatever the HTTP
/// status; otherwise the first error's `extensions.code` decides between refused and retryable;
/// anything unreadable is retryable.
fn classify(http_status: i32, body: &str) -> Verdict {
    let Ok(doc) = serde_json::from_str::<Value>(body) else {
        return Verdict::Retry(format!("HTTP {http_status}: unreadable response"));
    };
    let id = match doc.pointer("/data/reportActivity/activity/id") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    if let Some(activity_id) = id {
        let task = doc.pointer("/data/reportActivity/task").and_then(|t| {
            Some((
                t.get("id")?.as_str()?.to_owned(),
                t.get("progress")?.as_i64()?,
            ))
        });
        return Verdict::Acknowledged { activity_id, task };
    }
    let Some(first) = doc
        .get("errors")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    else {
        return Verdict::Retry(format!("HTTP {http_status}: no result"));
    };
    let message = first
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let code = first.pointer("/extensions/code").and_then(Value::as_str);
    match code {
        Some(code) if REFUSAL_CODES.contains(&code) => Verdict::Refused(Refusal {
            code: code.to_owned(),
            field: first
                .pointer("/extensions/field")
                .and_then(Value::as_str)
                .map(str::to_owned),
            message,
        }),
        Some(code) => Verdict::Retry(format!("{code}: {message}")),
        None => Verdict::Retry(format!("HTTP {http_status}: {message}")),
    }
}

/// Formats ms since the Unix epoch as RFC 3339 UTC with milliseconds, e.g.
/// `2025-07-01T02:30:00.000Z` (proleptic Gregorian; Howard Hinnant's `civil_from_days`).
fn rfc3339_utc(ms: i64) -> String {
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, milli) = (
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1_000 % 60,
        ms_of_day % 1_000,
    );
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

/// The JSON POST body that sends `report` to the server.
fn request_body(report: &StoredReport) -> String {
    let mut input = json!({
        "idempotencyKey": report.key,
        "taskId": report.task_id,
        "occurredAt": rfc3339_utc(report.occurred_at_ms),
        "residentsHelped": report.residents_helped,
        "outcomes": report.outcomes,
    });
    if let Some(note) = &report.note {
        input["note"] = Value::String(note.clone());
    }
    json!({ "query": REPORT_ACTIVITY_MUTATION, "variables": { "input": input } }).to_string()
}

const REPORT_COLUMNS: &str = "idempotency_key, task_id, occurred_at_ms, residents_helped, outcomes_json, note, \
     state, attempts, next_attempt_at_ms, last_error, server_activity_id, \
     refusal_code, refusal_field, refusal_message";

fn corrupt(what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnType(0, format!("{what} {value:?}"), rusqlite::types::Type::Text)
}

fn report_from_row(row: &Row<'_>) -> rusqlite::Result<StoredReport> {
    let outcomes_json: String = row.get(4)?;
    let state: String = row.get(6)?;
    let refusal_code: Option<String> = row.get(11)?;
    Ok(StoredReport {
        key: row.get(0)?,
        task_id: row.get(1)?,
        occurred_at_ms: row.get(2)?,
        residents_helped: row.get(3)?,
        outcomes: serde_json::from_str(&outcomes_json)
            .map_err(|_| corrupt("outcomes", &outcomes_json))?,
        note: row.get(5)?,
        state: ReportState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        attempts: row.get(7)?,
        next_attempt_at_ms: row.get(8)?,
        last_error: row.get(9)?,
        server_activity_id: row.get(10)?,
        refusal: match refusal_code {
            None => None,
            Some(code) => Some(Refusal {
                code,
                field: row.get(12)?,
                message: row.get::<_, Option<String>>(13)?.unwrap_or_default(),
            }),
        },
    })
}

fn task_from_row(row: &Row<'_>) -> rusqlite::Result<CachedTask> {
    let kind: String = row.get(2)?;
    let status: String = row.get(3)?;
    let priority: String = row.get(4)?;
    Ok(CachedTask {
        id: row.get(0)?,
        title: row.get(1)?,
        kind: TaskKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
        status: TaskStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        priority: TaskPriority::parse(&priority).ok_or_else(|| corrupt("priority", &priority))?,
        due_on: row.get(5)?,
        target: row.get(6)?,
        progress: row.get(7)?,
        version: row.get(8)?,
        group_id: row.get(9)?,
        group_name: row.get(10)?,
    })
}

/// The on-device outbox: one SQLite file. Thread-safe (one connection behind a mutex); in Kotlin
/// it is `AutoCloseable`, and closing it closes the file.
#[derive(uniffi::Object)]
pub struct Outbox {
    conn: Mutex<Connection>,
}

#[uniffi::export]
impl Outbox {
    /// Opens (creating if needed) the outbox at `path` and brings its schema up to date.
    /// Fails with `STORAGE` if the file is unusable or was written by a newer app version.
    #[uniffi::constructor]
    pub fn open(path: String) -> Result<Self, CdtgException> {
        let mut conn = Connection::open(&path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(CdtgException::storage(format!(
                "outbox schema version {version} is newer than this app understands ({known})"
            )));
        }
        let tx = conn.transaction()?;
        for step in &MIGRATIONS[version as usize..] {
            tx.execute_batch(step)?;
        }
        tx.pragma_update(None, "user_version", known)?;
        tx.commit()?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// The schema version of the open file (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<i64, CdtgException> {
        Ok(self
            .conn()
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// Validates `draft` exactly as the server will, mints its idempotency key, stores it as
    /// pending and returns it. Throws `Invalid` (nothing stored) when a rule refuses it, including
    /// when the cached task list says the task is already `DONE` or `CANCELLED`.
    pub fn record_report(&self, draft: ReportDraft) -> Result<StoredReport, CdtgException> {
        let task_id = validate::required_text("taskId", &draft.task_id, 256)?;
        if !(OCCURRED_AT_MIN_MS..=OCCURRED_AT_MAX_MS).contains(&draft.occurred_at_ms) {
            return Err(ValidationError::new(
                "occurredAt",
                "Check the device date: must be after 2000-01-01.",
            )
            .into());
        }
        let key = uuid::Uuid::new_v4().to_string();
        let note = activity::validate_report(
            &key,
            draft.residents_helped,
            &outcome_pairs(&draft.outcomes),
            draft.note.as_deref(),
            DEFAULT_MAX_RESIDENTS_PER_SESSION,
        )?;
        let conn = self.conn();
        let cached_status: Option<String> = conn
            .query_row(
                "SELECT status FROM cached_task WHERE id = ?1",
                [&task_id],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(status) = cached_status.as_deref().and_then(TaskStatus::parse)
            && !task::accepts_activity(status)
        {
            return Err(ValidationError::new(
                "taskId",
                format!("The task is {status}: it takes no more reports."),
            )
            .into());
        }
        let outcomes_json = serde_json::to_string(&draft.outcomes)
            .map_err(|e| CdtgException::storage(e.to_string()))?;
        conn.execute(
            "INSERT INTO report (idempotency_key, task_id, occurred_at_ms, residents_helped, outcomes_json, note) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![key, task_id, draft.occurred_at_ms, draft.residents_helped, outcomes_json, note],
        )?;
        Self::load(&conn, &key)
    }

    /// The stored report with idempotency key `key`, if any.
    pub fn report(&self, key: String) -> Result<Option<StoredReport>, CdtgException> {
        Self::find(&self.conn(), &key)
    }

    /// Up to `limit` requests for pending reports that are due at `now_ms`, oldest first.
    ///
    /// Nothing is marked in flight: if the app asks again before answering, it gets the same
    /// reports again, which is harmless because the server deduplicates by key.
    pub fn next_sync_batch(
        &self,
        limit: u32,
        now_ms: i64,
    ) -> Result<Vec<SyncRequest>, CdtgException> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {REPORT_COLUMNS} FROM report WHERE state = 'PENDING' AND next_attempt_at_ms <= ?1 \
             ORDER BY seq LIMIT ?2"
        ))?;
        let reports = stmt
            .query_map(params![now_ms, limit], report_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(reports
            .iter()
            .map(|r| SyncRequest {
                key: r.key.clone(),
                body: request_body(r),
            })
            .collect())
    }

    /// Applies the server's answer (`http_status` and response `body`) to the report `key` and
    /// returns the report as now stored.
    ///
    /// An activity id → acknowledged (and the cached task's progress updated from the answer);
    /// `BAD_USER_INPUT`, `FORBIDDEN`, `NOT_FOUND` or `CONFLICT` → refused, kept with the code,
    /// field and message; anything else → retried after [`retry_delay_ms`]. Answers for a report
    /// that is no longer pending (a duplicate response) change nothing.
    pub fn apply_sync_response(
        &self,
        key: String,
        http_status: i32,
        body: String,
        now_ms: i64,
    ) -> Result<StoredReport, CdtgException> {
        let mut conn = self.conn();
        let current = Self::load(&conn, &key)?;
        if current.state != ReportState::Pending {
            return Ok(current);
        }
        match classify(http_status, &body) {
            Verdict::Acknowledged { activity_id, task } => {
                let tx = conn.transaction()?;
                tx.execute(
                    "UPDATE report SET state = 'ACKNOWLEDGED', server_activity_id = ?2, last_error = NULL \
                     WHERE idempotency_key = ?1",
                    params![key, activity_id],
                )?;
                if let Some((task_id, progress)) = task {
                    tx.execute(
                        "UPDATE cached_task SET progress = ?2 WHERE id = ?1",
                        params![task_id, progress],
                    )?;
                }
                tx.commit()?;
            }
            Verdict::Refused(r) => {
                conn.execute(
                    "UPDATE report SET state = 'REFUSED', refusal_code = ?2, refusal_field = ?3, refusal_message = ?4 \
                     WHERE idempotency_key = ?1",
                    params![key, r.code, r.field, r.message],
                )?;
            }
            Verdict::Retry(why) => Self::schedule_retry(&conn, &current, now_ms, &why)?,
        }
        Self::load(&conn, &key)
    }

    /// Records that sending report `key` failed before any answer arrived (no network, timeout):
    /// it stays pending and is retried after [`retry_delay_ms`]. Returns the report as now stored.
    pub fn record_sync_failure(
        &self,
        key: String,
        now_ms: i64,
    ) -> Result<StoredReport, CdtgException> {
        let conn = self.conn();
        let current = Self::load(&conn, &key)?;
        if current.state == ReportState::Pending {
            Self::schedule_retry(&conn, &current, now_ms, "network failure")?;
        }
        Self::load(&conn, &key)
    }

    /// Pending reports, oldest first.
    pub fn pending(&self) -> Result<Vec<StoredReport>, CdtgException> {
        self.in_state(ReportState::Pending)
    }

    /// Refused reports, oldest first, each with the server's reason.
    pub fn refused(&self) -> Result<Vec<StoredReport>, CdtgException> {
        self.in_state(ReportState::Refused)
    }

    /// Acknowledged reports, oldest first.
    pub fn acknowledged(&self) -> Result<Vec<StoredReport>, CdtgException> {
        self.in_state(ReportState::Acknowledged)
    }

    /// How many reports are in each state.
    pub fn counts(&self) -> Result<OutboxCounts, CdtgException> {
        let conn = self.conn();
        Ok(conn.query_row(
            "SELECT COALESCE(SUM(state = 'PENDING'), 0), COALESCE(SUM(state = 'REFUSED'), 0), \
                    COALESCE(SUM(state = 'ACKNOWLEDGED'), 0) FROM report",
            [],
            |r| {
                Ok(OutboxCounts {
                    pending: r.get(0)?,
                    refused: r.get(1)?,
                    acknowledged: r.get(2)?,
                })
            },
        )?)
    }

    /// Replaces the cached task list with `tasks` (the result of the latest sync), keeping their order.
    pub fn cache_tasks(&self, tasks: Vec<CachedTask>) -> Result<(), CdtgException> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM cached_task", [])?;
        {
            let mut insert = tx.prepare(
                "INSERT INTO cached_task (position, id, title, kind, status, priority, due_on, target, \
                 progress, version, group_id, group_name, search_key) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?;
            for (position, t) in tasks.iter().enumerate() {
                insert.execute(params![
                    position as i64,
                    t.id,
                    t.title,
                    t.kind.as_str(),
                    t.status.as_str(),
                    t.priority.as_str(),
                    t.due_on,
                    t.target,
                    t.progress,
                    t.version,
                    t.group_id,
                    t.group_name,
                    fold(&format!("{} {}", t.title, t.group_name)),
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The cached tasks in sync order; with `search`, only those whose title or group name
    /// contains every word of it, compared accent- and case-insensitively (core `fold`).
    pub fn cached_tasks(&self, search: Option<String>) -> Result<Vec<CachedTask>, CdtgException> {
        let words: Vec<String> = search
            .map(|s| {
                fold(&s)
                    .split(' ')
                    .filter(|w| !w.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, title, kind, status, priority, due_on, target, progress, version, group_id, \
             group_name, search_key FROM cached_task ORDER BY position",
        )?;
        let mut rows = stmt.query([])?;
        let mut found = Vec::new();
        while let Some(row) = rows.next()? {
            let key: String = row.get(11)?;
            if words.iter().all(|w| key.contains(w.as_str())) {
                found.push(task_from_row(row)?);
            }
        }
        Ok(found)
    }
}

impl Outbox {
    /// The connection. A poisoned lock only means another thread panicked mid-call; SQLite's own
    /// transactions keep the file consistent, so the connection is still safe to use.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn find(conn: &Connection, key: &str) -> Result<Option<StoredReport>, CdtgException> {
        Ok(conn
            .query_row(
                &format!("SELECT {REPORT_COLUMNS} FROM report WHERE idempotency_key = ?1"),
                [key],
                report_from_row,
            )
            .optional()?)
    }

    fn load(conn: &Connection, key: &str) -> Result<StoredReport, CdtgException> {
        Self::find(conn, key)?
            .ok_or_else(|| CdtgException::not_found(format!("no report with key {key}")))
    }

    fn schedule_retry(
        conn: &Connection,
        report: &StoredReport,
        now_ms: i64,
        why: &str,
    ) -> Result<(), CdtgException> {
        let attempts = report.attempts.saturating_add(1);
        let delay = i64::try_from(retry_delay_ms(report.key.clone(), attempts)).unwrap_or(i64::MAX);
        conn.execute(
            "UPDATE report SET attempts = ?2, next_attempt_at_ms = ?3, last_error = ?4 WHERE idempotency_key = ?1",
            params![report.key, attempts, now_ms.saturating_add(delay), why],
        )?;
        Ok(())
    }

    fn in_state(&self, state: ReportState) -> Result<Vec<StoredReport>, CdtgException> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {REPORT_COLUMNS} FROM report WHERE state = ?1 ORDER BY seq"
        ))?;
        let reports = stmt
            .query_map([state.as_str()], report_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(reports)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdtg_core::activity::OutcomeKind;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU32, Ordering};

    const T0: i64 = 1_751_328_000_000; // 2025-07-01T00:00:00Z

    /// A fresh database path under the system temp dir, removed (with WAL files) on drop.
    struct TempDb(PathBuf);

    impl TempDb {
        fn new() -> Self {
            static N: AtomicU32 = AtomicU32::new(0);
            let name = format!(
                "cdtg-outbox-{}-{}.sqlite",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            );
            Self(std::env::temp_dir().join(name))
        }

        fn open(&self) -> Outbox {
            Outbox::open(self.0.to_str().unwrap().to_owned()).unwrap()
        }
    }

    impl Drop for TempDb {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
            }
        }
    }

    fn draft(task_id: &str) -> ReportDraft {
        ReportDraft {
            task_id: task_id.into(),
            occurred_at_ms: T0 + 9_000_123,
            residents_helped: 12,
            outcomes: vec![
                OutcomeCount {
                    kind: OutcomeKind::VneidActivated,
                    count: 3,
                },
                OutcomeCount {
                    kind: OutcomeKind::AppInstalled,
                    count: 2,
                },
            ],
            note: Some("  Nhà văn hoá tổ 5 ".into()),
        }
    }

    fn task(id: &str, title: &str, status: TaskStatus) -> CachedTask {
        CachedTask {
            id: id.into(),
            title: title.into(),
            kind: TaskKind::VneidActivation,
            status,
            priority: TaskPriority::Normal,
            due_on: Some("2025-07-31".into()),
            target: Some(50),
            progress: 0,
            version: 1,
            group_id: "G1".into(),
            group_name: "Tổ công nghệ số Phước Mỹ".into(),
        }
    }

    fn ack(id: &str) -> String {
        format!(
            r#"{{"data":{{"reportActivity":{{"activity":{{"id":"{id}"}},"task":{{"id":"T1","progress":3}}}}}}}}"#
        )
    }

    fn error(code: &str) -> String {
        format!(
            r#"{{"data":null,"errors":[{{"message":"nope","extensions":{{"code":"{code}","field":"residentsHelped"}}}}]}}"#
        )
    }

    #[test]
    fn backoff_schedule() {
        assert_eq!(backoff_ms(0), 0);
        assert_eq!(backoff_ms(1), 5_000);
        assert_eq!(backoff_ms(2), 10_000);
        assert_eq!(backoff_ms(3), 20_000);
        assert_eq!(backoff_ms(9), 1_280_000);
        assert_eq!(backoff_ms(10), 1_800_000);
        assert_eq!(backoff_ms(u32::MAX), 1_800_000);
        for a in 0..40 {
            let d = retry_delay_ms("some-key".into(), a);
            assert!(
                d >= backoff_ms(a) && d <= backoff_ms(a) + backoff_ms(a) / 10,
                "{a}: {d}"
            );
            assert_eq!(d, retry_delay_ms("some-key".into(), a), "deterministic");
        }
    }

    #[test]
    fn rfc3339() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_utc(1_751_328_000_000), "2025-07-01T00:00:00.000Z");
        assert_eq!(rfc3339_utc(1_709_251_199_999), "2024-02-29T23:59:59.999Z");
        assert_eq!(rfc3339_utc(946_684_799_999), "1999-12-31T23:59:59.999Z");
        assert_eq!(rfc3339_utc(1_795_859_887_123), "2026-11-28T09:58:07.123Z");
        assert_eq!(rfc3339_utc(OCCURRED_AT_MAX_MS), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn classify_answers() {
        assert_eq!(
            classify(200, &ack("A1")),
            Verdict::Acknowledged {
                activity_id: "A1".into(),
                task: Some(("T1".into(), 3))
            }
        );
        for code in REFUSAL_CODES {
            assert!(
                matches!(classify(200, &error(code)), Verdict::Refused(r) if r.code == code && r.field.as_deref() == Some("residentsHelped"))
            );
        }
        for code in [
            "INTERNAL",
            "RATE_LIMITED",
            "UNAUTHENTICATED",
            "SOMETHING_NEW",
        ] {
            assert!(
                matches!(classify(200, &error(code)), Verdict::Retry(_)),
                "{code}"
            );
        }
        assert!(matches!(
            classify(502, "<html>Bad gateway</html>"),
            Verdict::Retry(_)
        ));
        assert!(matches!(classify(200, "{}"), Verdict::Retry(_)));
        assert!(matches!(
            classify(400, r#"{"errors":[{"message":"syntax"}]}"#),
            Verdict::Retry(_)
        ));
    }

    #[test]
    fn record_validates_mints_key_and_survives_reopen() {
        let db = TempDb::new();
        let stored = {
            let outbox = db.open();
            assert_eq!(outbox.schema_version().unwrap(), 1);
            outbox.record_report(draft("T1")).unwrap()
        };
        assert_eq!(stored.state, ReportState::Pending);
        assert_eq!(stored.note.as_deref(), Some("Nhà văn hoá tổ 5"));
        assert!(uuid::Uuid::parse_str(&stored.key).is_ok());

        let outbox = db.open();
        assert_eq!(
            outbox.report(stored.key.clone()).unwrap(),
            Some(stored.clone())
        );
        let batch = outbox.next_sync_batch(10, T0).unwrap();
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].key, stored.key);
        let body: Value = serde_json::from_str(&batch[0].body).unwrap();
        assert_eq!(body["query"], REPORT_ACTIVITY_MUTATION);
        assert_eq!(
            body["variables"]["input"],
            json!({
                "idempotencyKey": stored.key,
                "taskId": "T1",
                "occurredAt": "2025-07-01T02:30:00.123Z",
                "residentsHelped": 12,
                "outcomes": [{"kind": "VNEID_ACTIVATED", "count": 3}, {"kind": "APP_INSTALLED", "count": 2}],
                "note": "Nhà văn hoá tổ 5",
            })
        );

        let done = outbox
            .apply_sync_response(stored.key.clone(), 200, ack("A1"), T0)
            .unwrap();
        assert_eq!(done.state, ReportState::Acknowledged);
        assert_eq!(done.server_activity_id.as_deref(), Some("A1"));
        assert!(outbox.next_sync_batch(10, T0).unwrap().is_empty());
        assert_eq!(
            outbox.counts().unwrap(),
            OutboxCounts {
                pending: 0,
                refused: 0,
                acknowledged: 1
            }
        );
        // A late duplicate answer (e.g. the retried request's) changes nothing.
        let again = outbox
            .apply_sync_response(stored.key.clone(), 500, "oops".into(), T0)
            .unwrap();
        assert_eq!(again, done);
    }

    #[test]
    fn invalid_drafts_are_refused_and_not_stored() {
        let db = TempDb::new();
        let outbox = db.open();
        let mut d = draft("T1");
        d.residents_helped = -1;
        assert!(
            matches!(outbox.record_report(d), Err(CdtgException::Invalid { field, .. }) if field == "residentsHelped")
        );
        let mut d = draft("T1");
        d.outcomes.push(OutcomeCount {
            kind: OutcomeKind::AppInstalled,
            count: 1,
        });
        assert!(
            matches!(outbox.record_report(d), Err(CdtgException::Invalid { field, .. }) if field == "outcomes")
        );
        let mut d = draft(" ");
        d.note = None;
        assert!(
            matches!(outbox.record_report(d), Err(CdtgException::Invalid { field, .. }) if field == "taskId")
        );
        let mut d = draft("T1");
        d.occurred_at_ms = 0;
        assert!(
            matches!(outbox.record_report(d), Err(CdtgException::Invalid { field, .. }) if field == "occurredAt")
        );
        outbox
            .cache_tasks(vec![task("T9", "Đã xong", TaskStatus::Done)])
            .unwrap();
        assert!(
            matches!(outbox.record_report(draft("T9")), Err(CdtgException::Invalid { field, .. }) if field == "taskId")
        );
        assert_eq!(
            outbox.counts().unwrap(),
            OutboxCounts {
                pending: 0,
                refused: 0,
                acknowledged: 0
            }
        );
    }

    #[test]
    fn refused_reports_keep_their_reason_and_are_never_resent() {
        let db = TempDb::new();
        let outbox = db.open();
        let r = outbox.record_report(draft("T1")).unwrap();
        let refused = outbox
            .apply_sync_response(r.key.clone(), 200, error("BAD_USER_INPUT"), T0)
            .unwrap();
        assert_eq!(refused.state, ReportState::Refused);
        assert_eq!(
            refused.refusal,
            Some(Refusal {
                code: "BAD_USER_INPUT".into(),
                field: Some("residentsHelped".into()),
                message: "nope".into()
            })
        );
        assert!(
            outbox
                .next_sync_batch(10, T0 + 86_400_000)
                .unwrap()
                .is_empty()
        );
        assert_eq!(outbox.refused().unwrap(), vec![refused]);
        assert!(outbox.pending().unwrap().is_empty());
    }

    #[test]
    fn retryable_failures_back_off_with_the_injected_clock() {
        let db = TempDb::new();
        let outbox = db.open();
        let r = outbox.record_report(draft("T1")).unwrap();
        let after = outbox
            .apply_sync_response(r.key.clone(), 503, "Service Unavailable".into(), T0)
            .unwrap();
        assert_eq!((after.state, after.attempts), (ReportState::Pending, 1));
        let due = T0 + retry_delay_ms(r.key.clone(), 1) as i64;
        assert_eq!(after.next_attempt_at_ms, due);
        assert!(after.last_error.unwrap().contains("503"));
        assert!(outbox.next_sync_batch(10, due - 1).unwrap().is_empty());
        assert_eq!(outbox.next_sync_batch(10, due).unwrap().len(), 1);

        let after = outbox.record_sync_failure(r.key.clone(), due).unwrap();
        assert_eq!(after.attempts, 2);
        assert_eq!(
            after.next_attempt_at_ms,
            due + retry_delay_ms(r.key.clone(), 2) as i64
        );
        let after = outbox
            .apply_sync_response(
                r.key.clone(),
                200,
                error("RATE_LIMITED"),
                after.next_attempt_at_ms,
            )
            .unwrap();
        assert_eq!(after.attempts, 3);
        // The body is identical on every attempt: the server must see the same input each time.
        let bodies: Vec<String> = (0..2)
            .map(|_| outbox.next_sync_batch(1, i64::MAX).unwrap()[0].body.clone())
            .collect();
        assert_eq!(bodies[0], bodies[1]);
        let done = outbox
            .apply_sync_response(r.key.clone(), 200, ack("A7"), i64::MAX)
            .unwrap();
        assert_eq!(done.state, ReportState::Acknowledged);
        assert!(matches!(
            outbox.record_sync_failure("missing-key".into(), T0),
            Err(CdtgException::NotFound { .. })
        ));
    }

    #[test]
    fn batches_are_ordered_and_limited() {
        let db = TempDb::new();
        let outbox = db.open();
        let keys: Vec<String> = (0..5)
            .map(|_| outbox.record_report(draft("T1")).unwrap().key)
            .collect();
        let batch: Vec<String> = outbox
            .next_sync_batch(3, T0)
            .unwrap()
            .into_iter()
            .map(|r| r.key)
            .collect();
        assert_eq!(batch, keys[..3]);
        assert_eq!(outbox.next_sync_batch(0, T0).unwrap().len(), 0);
        assert_eq!(outbox.pending().unwrap().len(), 5);
        let unique: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(unique.len(), 5);
    }

    #[test]
    fn cached_tasks_replace_and_search_accent_insensitively() {
        let db = TempDb::new();
        {
            let outbox = db.open();
            outbox
                .cache_tasks(vec![task("T0", "Old", TaskStatus::Open)])
                .unwrap();
            outbox
                .cache_tasks(vec![
                    task("T1", "Kích hoạt VNeID khu Đà Sơn", TaskStatus::InProgress),
                    task(
                        "T2",
                        "Hướng dẫn thanh toán không dùng tiền mặt",
                        TaskStatus::Open,
                    ),
                ])
                .unwrap();
        }
        let outbox = db.open();
        let ids = |search: Option<&str>| -> Vec<String> {
            outbox
                .cached_tasks(search.map(str::to_owned))
                .unwrap()
                .into_iter()
                .map(|t| t.id)
                .collect()
        };
        assert_eq!(ids(None), ["T1", "T2"]);
        assert_eq!(ids(Some("da son")), ["T1"]);
        assert_eq!(ids(Some("  KICH   hoat ")), ["T1"]);
        assert_eq!(ids(Some("tien mat huong")), ["T2"]);
        assert_eq!(
            ids(Some("phuoc my")),
            ["T1", "T2"],
            "group name is searched too"
        );
        assert!(ids(Some("old")).is_empty());
        assert_eq!(ids(Some("")), ["T1", "T2"]);
        assert_eq!(
            outbox.cached_tasks(None).unwrap()[0],
            task("T1", "Kích hoạt VNeID khu Đà Sơn", TaskStatus::InProgress)
        );

        // An acknowledgement carries the task's new progress into the cache.
        let r = outbox.record_report(draft("T1")).unwrap();
        outbox
            .apply_sync_response(r.key, 200, ack("A1"), T0)
            .unwrap();
        assert_eq!(
            outbox.cached_tasks(Some("da son".into())).unwrap()[0].progress,
            3
        );
    }

    #[test]
    fn newer_schema_is_refused() {
        let db = TempDb::new();
        drop(db.open());
        {
            let conn = Connection::open(&db.0).unwrap();
            conn.pragma_update(None, "user_version", 99).unwrap();
        }
        assert!(matches!(
            Outbox::open(db.0.to_str().unwrap().into()),
            Err(CdtgException::Storage { .. })
        ));
    }
}
