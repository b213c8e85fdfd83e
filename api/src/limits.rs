//! The configurable limits of the server, as plain data: what the transports, the execution
//! pipeline and the WebSocket sessions enforce. Kept apart from the code that enforces them so
//! that the application state can hold them without depending on that code.

use std::time::Duration;

/// Limits of the HTTP framing itself (the rest are the pipeline's).
#[derive(Debug, Clone)]
pub struct TransportLimits {
    pub max_body_bytes: usize,
    /// 0: batched JSON arrays are refused.
    pub max_batch: usize,
}

impl Default for TransportLimits {
    fn default() -> Self {
        TransportLimits {
            max_body_bytes: 1024 * 1024,
            max_batch: 0,
        }
    }
}

/// Limits of the pipeline that are not about shape (all configurable; see `cdtg serve --help`).
#[derive(Debug, Clone)]
pub struct PipelineLimits {
    /// Longest query text, in characters.
    pub max_query_chars: usize,
    pub shape: ShapeLimits,
    /// Queries and mutations are cancelled past this (and on PostgreSQL `statement_timeout`
    /// stops their statement). Subscriptions are long-lived and exempt.
    pub request_deadline: Duration,
}

impl Default for PipelineLimits {
    fn default() -> Self {
        PipelineLimits {
            max_query_chars: 15_000,
            shape: ShapeLimits::default(),
            request_deadline: Duration::from_secs(10),
        }
    }
}

/// Shape limits (all configurable; see `cdtg serve --help`). Depth and complexity are enforced
/// by the schema itself, on every transport, because they need the schema's types.
#[derive(Debug, Clone)]
pub struct ShapeLimits {
    /// Aliases in the whole document, fragments expanded.
    pub max_aliases: u64,
    /// Field selections in the whole document, fragments expanded. Bounds the work of validation
    /// (merging duplicate fields is quadratic) and of execution alike: `{ me { id id id … } }`
    /// with hundreds of fields is refused before anything runs.
    pub max_fields: u64,
    /// Directives on one field, fragment spread or operation.
    pub max_directives_per_field: usize,
}

impl Default for ShapeLimits {
    fn default() -> Self {
        ShapeLimits {
            max_aliases: 100,
            max_fields: 400,
            max_directives_per_field: 5,
        }
    }
}

/// Socket limits (configurable; see `cdtg serve --help`).
#[derive(Debug, Clone)]
pub struct SocketLimits {
    /// Operations (subscriptions, and queries still running) at once on one connection.
    pub max_operations_per_connection: usize,
    /// Open connections per account on this instance.
    pub max_connections_per_user: usize,
    /// Time allowed between the upgrade and `connection_init`.
    pub init_timeout: Duration,
}

impl Default for SocketLimits {
    fn default() -> Self {
        SocketLimits {
            max_operations_per_connection: 20,
            max_connections_per_user: 8,
            init_timeout: Duration::from_secs(10),
        }
    }
}
