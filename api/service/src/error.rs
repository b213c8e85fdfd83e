//! The service layer's error type. Each variant is one of the closed set of `extensions.code`
//! values the API contract promises (README, "API conventions"), and documents what the client sees.
//!
//! The service layer knows nothing of GraphQL: the conversion into a GraphQL error, with its
//! `extensions.code`, lives at the edge, in `cdtg-api` (`graphql/errors.rs`).
//!
//! `ApiError` deliberately does not implement `Display`: async-graphql converts anything that
//! does into an error *without* a code, so a stray `?` would silently drop the code. Without
//! `Display`, the only way into a GraphQL error is that conversion, which always sets it.

use cdtg_core::error::ValidationError;
use sea_orm::DbErr;

/// Why a request failed, as the client is allowed to know it.
#[derive(Debug, Clone)]
pub enum ApiError {
    /// No valid credentials: missing, malformed, expired or revoked token, disabled user.
    Unauthenticated(&'static str),
    /// The caller is known but the role or scope does not allow the action.
    Forbidden(String),
    /// Missing — or outside the caller's scope, which must look exactly the same.
    NotFound(&'static str),
    /// The input is invalid; `field` names the offending input field (GraphQL name).
    BadUserInput { field: String, message: String },
    /// The write lost a race: stale `expectedVersion`, duplicate key with other content, …
    Conflict(String),
    /// The input would duplicate a record the caller can see (a member with the same phone):
    /// `CONFLICT`, with `extensions.existingId` naming that record so the client can offer it.
    Duplicate {
        message: String,
        existing: (crate::ids::NodeType, i64),
    },
    /// Too many attempts; the client may retry after the given number of seconds.
    RateLimited { retry_after_secs: u64 },
    /// The database is unreachable or the pool is exhausted; retrying later may succeed.
    Unavailable,
    /// The database cancelled a statement that ran past the request deadline (PostgreSQL's
    /// `statement_timeout`). The same answer as the transport's own deadline: retryable.
    TimedOut,
    /// Anything else. The detail is logged on the server and never sent to the client.
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadUserInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A `NOT_FOUND` whose message is fixed by a protocol (e.g. `PersistedQueryNotFound`).
    pub fn with_message(self, message: &'static str) -> Self {
        match self {
            ApiError::NotFound(_) => ApiError::NotFound(message),
            other => other,
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::Forbidden(message.into())
    }

    /// The stable code, from the closed set the README lists.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::BadUserInput { .. } => "BAD_USER_INPUT",
            ApiError::Conflict(_) | ApiError::Duplicate { .. } => "CONFLICT",
            ApiError::RateLimited { .. } => "RATE_LIMITED",
            ApiError::Unavailable | ApiError::TimedOut | ApiError::Internal(_) => "INTERNAL",
        }
    }

    /// The message a client may see.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Unauthenticated(why) => format!("authentication required: {why}"),
            ApiError::Forbidden(m) => m.clone(),
            ApiError::NotFound("PersistedQueryNotFound") => "PersistedQueryNotFound".to_owned(),
            ApiError::NotFound(what) => format!("{what} not found"),
            ApiError::BadUserInput { field, message } => format!("{field}: {message}"),
            ApiError::Conflict(m) => m.clone(),
            ApiError::Duplicate { message, .. } => message.clone(),
            ApiError::RateLimited { retry_after_secs } => {
                format!("too many requests; retry after {retry_after_secs} s")
            }
            ApiError::Unavailable => "service temporarily unavailable".to_owned(),
            ApiError::TimedOut => "the request took too long and was cancelled".to_owned(),
            ApiError::Internal(_) => "internal error".to_owned(),
        }
    }
}

impl From<DbErr> for ApiError {
    fn from(err: DbErr) -> Self {
        match &err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => {
                tracing::warn!(error = %err, "database unavailable");
                ApiError::Unavailable
            }
            _ if is_connection_lost(&err) => {
                tracing::warn!(error = %err, "database connection lost");
                ApiError::Unavailable
            }
            _ if is_statement_timeout(&err) => {
                tracing::warn!("statement cancelled by the request deadline");
                ApiError::TimedOut
            }
            _ => ApiError::Internal(err.to_string()),
        }
    }
}

/// True when the statement failed because its connection did (the socket closed, the database
/// shut down or went away mid-statement): the database is unavailable, not our code broken, and
/// a retry may well succeed on a fresh connection (or, for a replica, on the primary). The pool
/// discards the broken connection when it comes back.
fn is_connection_lost(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error;
    let runtime = match err {
        DbErr::Query(e) | DbErr::Exec(e) => e,
        _ => return false,
    };
    let RuntimeErr::SqlxError(e) = runtime else {
        return false;
    };
    match e.as_ref() {
        Error::Io(_) | Error::Tls(_) | Error::Protocol(_) | Error::PoolClosed => true,
        Error::WorkerCrashed => true,
        Error::Database(d) => d.code().is_some_and(|code| is_connection_sqlstate(&code)),
        _ => false,
    }
}

/// PostgreSQL's SQLSTATEs for a connection that is gone or going: class 08 (connection
/// exception) and the shutdowns of class 57 — a server stopping sends `57P01` to every session
/// before it closes them, which a connection idle in the pool reads on its next statement.
fn is_connection_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
}

/// True when PostgreSQL cancelled the statement (SQLSTATE 57014 `query_canceled`): our pool sets
/// `statement_timeout` to the request deadline, so this is a slow request, not a broken server.
fn is_statement_timeout(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    let runtime = match err {
        DbErr::Query(e) | DbErr::Exec(e) => e,
        _ => return false,
    };
    match runtime {
        RuntimeErr::SqlxError(e) => e
            .as_database_error()
            .and_then(|d| d.code())
            .is_some_and(|code| code == "57014"),
        _ => false,
    }
}

impl From<ValidationError> for ApiError {
    fn from(err: ValidationError) -> Self {
        ApiError::BadUserInput {
            field: err.field,
            message: err.message,
        }
    }
}

/// True when the database refused a write because of a unique constraint; callers turn that into
/// a `CONFLICT` or an idempotent replay instead of an internal error.
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::RuntimeErr;
    use std::sync::Arc;

    fn failed_statement(e: sea_orm::sqlx::Error) -> DbErr {
        DbErr::Query(RuntimeErr::SqlxError(Arc::new(e)))
    }

    /// A statement whose connection broke under it is the database being unavailable (503,
    /// retry), not an internal error: the pool no longer pings every connection it hands out.
    #[test]
    fn a_lost_connection_is_unavailable() {
        let closed = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed");
        let lost = ApiError::from(failed_statement(sea_orm::sqlx::Error::Io(closed)));
        assert!(matches!(lost, ApiError::Unavailable), "{lost:?}");
    }

    /// A server shutting down tells each session (57P01) before closing it; a lost connection
    /// is class 08. A cancelled statement (57014) and a constraint (23505) are neither.
    #[test]
    fn shutdown_and_connection_states_mean_the_connection_is_gone() {
        for gone in ["57P01", "57P02", "57P03", "08006", "08003"] {
            assert!(is_connection_sqlstate(gone), "{gone}");
        }
        for kept in ["57014", "23505", "40001", "42P01"] {
            assert!(!is_connection_sqlstate(kept), "{kept}");
        }
    }

    /// A statement the database refused is still our error, not an outage.
    #[test]
    fn a_refused_statement_is_internal() {
        let refused = ApiError::from(failed_statement(sea_orm::sqlx::Error::RowNotFound));
        assert!(matches!(refused, ApiError::Internal(_)), "{refused:?}");
    }
}
