//! Prometheus metrics at `/metrics`, in the text exposition format (written by hand: a few
//! counters and one histogram do not need a dependency). Operation names are the client's
//! `operationName`, limited to safe identifiers so a client cannot blow up the label space.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<HashMap<(String, &'static str), Series>>,
    subscriptions: AtomicI64,
    reads_on_replica: AtomicU64,
    reads_on_primary: AtomicU64,
}

/// What `/metrics` says about the read replica, when one is configured.
pub struct ReplicaFigures {
    pub up: bool,
    pub in_use: bool,
    pub lag_seconds: f64,
}

/// A label-safe operation name.
pub fn operation_label(name: Option<&str>) -> String {
    match name {
        Some(n)
            if !n.is_empty()
                && n.len() <= 64
                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            n.to_owned()
        }
        Some(_) => "other".to_owned(),
        None => "anonymous".to_owned(),
    }
}

impl Metrics {
    pub fn observe(&self, operation: String, outcome: &'static str, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let mut map = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 2_000 && !map.contains_key(&(operation.clone(), outcome)) {
            return;
        }
        let s = map.entry((operation, outcome)).or_default();
        s.count += 1;
        s.sum += secs;
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                s.buckets[i] += 1;
            }
        }
    }

    /// A read-only operation (or export) went to the replica, or to the primary.
    pub fn read_routed(&self, to_replica: bool) {
        let counter = if to_replica {
            &self.reads_on_replica
        } else {
            &self.reads_on_primary
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn subscription_started(&self) {
        self.subscriptions.fetch_add(1, Ordering::Relaxed);
    }

    pub fn subscription_ended(&self) {
        self.subscriptions.fetch_sub(1, Ordering::Relaxed);
    }

    /// The exposition text; pool, statement and account-read figures are passed in by the
    /// caller.
    pub fn render(
        &self,
        pool_size: u32,
        pool_idle: u32,
        statements: u64,
        principal_reads: u64,
        replica: Option<ReplicaFigures>,
    ) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP cdtg_graphql_requests_total GraphQL requests by operation and outcome."
        );
        let _ = writeln!(out, "# TYPE cdtg_graphql_requests_total counter");
        let map = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        let mut keys: Vec<_> = map.keys().cloned().collect();
        keys.sort();
        for k in &keys {
            let _ = writeln!(
                out,
                "cdtg_graphql_requests_total{{operation=\"{}\",outcome=\"{}\"}} {}",
                k.0, k.1, map[k].count
            );
        }
        let _ = writeln!(
            out,
            "# HELP cdtg_graphql_request_duration_seconds GraphQL request latency."
        );
        let _ = writeln!(
            out,
            "# TYPE cdtg_graphql_request_duration_seconds histogram"
        );
        for k in &keys {
            let s = &map[k];
            let labels = format!("operation=\"{}\",outcome=\"{}\"", k.0, k.1);
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "cdtg_graphql_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}",
                    s.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "cdtg_graphql_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "cdtg_graphql_request_duration_seconds_sum{{{labels}}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "cdtg_graphql_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP cdtg_db_pool_connections Open database connections."
        );
        let _ = writeln!(out, "# TYPE cdtg_db_pool_connections gauge");
        let _ = writeln!(
            out,
            "cdtg_db_pool_connections{{state=\"idle\"}} {pool_idle}"
        );
        let _ = writeln!(
            out,
            "cdtg_db_pool_connections{{state=\"busy\"}} {}",
            pool_size.saturating_sub(pool_idle)
        );
        let _ = writeln!(
            out,
            "# HELP cdtg_db_statements_total SQL statements executed."
        );
        let _ = writeln!(out, "# TYPE cdtg_db_statements_total counter");
        let _ = writeln!(out, "cdtg_db_statements_total {statements}");
        let _ = writeln!(
            out,
            "# HELP cdtg_principal_reads_total Accounts read to check a credential (the rest were answered by the principal cache)."
        );
        let _ = writeln!(out, "# TYPE cdtg_principal_reads_total counter");
        let _ = writeln!(out, "cdtg_principal_reads_total {principal_reads}");
        let _ = writeln!(
            out,
            "# HELP cdtg_subscriptions Active GraphQL subscriptions."
        );
        let _ = writeln!(out, "# TYPE cdtg_subscriptions gauge");
        let _ = writeln!(
            out,
            "cdtg_subscriptions {}",
            self.subscriptions.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP cdtg_db_reads_total Read-only operations and exports, by the server they read."
        );
        let _ = writeln!(out, "# TYPE cdtg_db_reads_total counter");
        for (target, n) in [
            ("primary", &self.reads_on_primary),
            ("replica", &self.reads_on_replica),
        ] {
            let _ = writeln!(
                out,
                "cdtg_db_reads_total{{target=\"{target}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        if let Some(r) = replica {
            let _ = writeln!(
                out,
                "# HELP cdtg_replica_up Whether the read replica answers.\n# TYPE cdtg_replica_up gauge\ncdtg_replica_up {}",
                u8::from(r.up)
            );
            let _ = writeln!(
                out,
                "# HELP cdtg_replica_in_use Whether reads go to the replica (it answers and is within the lag bound).\n# TYPE cdtg_replica_in_use gauge\ncdtg_replica_in_use {}",
                u8::from(r.in_use)
            );
            let _ = writeln!(
                out,
                "# HELP cdtg_replica_lag_seconds How far the replica was behind the primary at the last look.\n# TYPE cdtg_replica_lag_seconds gauge\ncdtg_replica_lag_seconds {}",
                r.lag_seconds
            );
        }
        out
    }
}
