//! End-to-end tests for CDTG live in `tests/api/`: they start the real server on a free port
//! and talk HTTP and WebSocket to it, on SQLite and on PostgreSQL.
