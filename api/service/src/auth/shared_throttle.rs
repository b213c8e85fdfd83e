//! The login throttle's budgets in PostgreSQL, shared by every instance on the database.
//!
//! The rules are the memory throttle's ([`super::throttle`]), applied to rows of the unlogged
//! tables `login_budgets` and `login_known`: an attempt locks its budget rows (`FOR UPDATE`),
//! decides with the same [`Budget::admits`], and counts itself in flight, in one short
//! transaction, so parallel attempts on several instances cannot exceed the budget either.
//! Times are the database's clock, the one clock all instances share.
//!
//! An instance that dies mid-attempt leaves its place taken: a place older than
//! [`STALE_IN_FLIGHT`] is given back. An attempt that waits for places held by attempts in
//! flight polls every [`POLL`], up to the memory throttle's [`MAX_WAIT`].

use std::time::{Duration, Instant};

use sea_orm::sqlx::{self, PgPool, Postgres, Row, Transaction};

use super::throttle::{Budget, KNOWN_PAIR_DAYS, MAX_WAIT, Refused, ThrottleSettings, lock_for};

/// An attempt in flight longer than this is taken for one whose instance died.
pub const STALE_IN_FLIGHT: Duration = Duration::from_secs(60);

/// How often a waiting attempt looks again.
const POLL: Duration = Duration::from_millis(100);

pub struct SharedThrottle {
    settings: ThrottleSettings,
    pool: PgPool,
}

/// An attempt admitted by the shared budgets.
pub struct SharedAttempt {
    settings: ThrottleSettings,
    pool: PgPool,
    pair: String,
    username: String,
    address: String,
    /// `None` when the pair is known from this address and the address budget does not apply.
    address_key: Option<String>,
    concluded: bool,
}

fn pair_key(username: &str, address: &str) -> String {
    // An address never holds a `|`, so the key reads back one way only.
    format!("p:{address}|{username}")
}

fn address_key(address: &str) -> String {
    format!("a:{address}")
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl SharedThrottle {
    pub fn new(settings: ThrottleSettings, pool: PgPool) -> Self {
        SharedThrottle { settings, pool }
    }

    /// `Ok(Ok(attempt))` admitted, `Ok(Err(seconds))` refused; `Err` when the database failed.
    pub async fn begin(
        &self,
        username: &str,
        address: &str,
    ) -> Result<Result<SharedAttempt, u64>, sqlx::Error> {
        let deadline = Instant::now() + MAX_WAIT;
        loop {
            match self.try_begin(username, address).await? {
                Ok(a) => return Ok(Ok(a)),
                Err(Refused::Locked(wait)) => return Ok(Err(wait)),
                Err(Refused::Busy) if Instant::now() + POLL > deadline => return Ok(Err(1)),
                Err(Refused::Busy) => tokio::time::sleep(POLL).await,
            }
        }
    }

    async fn try_begin(
        &self,
        username: &str,
        address: &str,
    ) -> Result<Result<SharedAttempt, Refused>, sqlx::Error> {
        let name = username.trim().to_lowercase();
        let addr = crate::ratelimit::address_key(address);
        let known: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM login_known WHERE username = $1 AND address = $2 \
             AND signed_in_at > now() - make_interval(days => $3))",
        )
        .bind(&name)
        .bind(&addr)
        .bind(KNOWN_PAIR_DAYS as i32)
        .fetch_one(&self.pool)
        .await?;
        let pair = pair_key(&name, &addr);
        let address_budget = (!known).then(|| address_key(&addr));
        let mut keys = vec![(pair.clone(), self.settings.free_failures_per_pair)];
        if let Some(a) = &address_budget {
            keys.push((a.clone(), self.settings.free_failures_per_address));
        }

        let mut txn = self.pool.begin().await?;
        let rows = lock_budgets(&mut txn, keys.iter().map(|(k, _)| k.clone()).collect()).await?;
        let now = Instant::now();
        let mut updates = Vec::new();
        for (key, free) in &keys {
            let row = rows.iter().find(|r| &r.key == key);
            let mut budget = row.map_or_else(|| Budget::new(now), |r| r.budget(now));
            let mut reset = false;
            if let Some(r) = row
                && r.in_flight > 0
                && r.in_flight_age
                    .is_some_and(|age| age >= secs(STALE_IN_FLIGHT))
            {
                budget.in_flight = 0;
            }
            if budget.in_flight == 0
                && now.duration_since(budget.last_failure) >= self.settings.forget_after
            {
                budget = Budget::new(now);
                reset = true;
            }
            if let Err(refused) = budget.admits(*free, now) {
                txn.rollback().await?;
                return Ok(Err(refused));
            }
            updates.push((key.clone(), budget.in_flight as i32 + 1, reset));
        }
        for (key, in_flight, reset) in updates {
            sqlx::query(
                "UPDATE login_budgets SET in_flight = $2, in_flight_since = now(), \
                 failures = CASE WHEN $3 THEN 0 ELSE failures END, \
                 locked_until = CASE WHEN $3 THEN NULL ELSE locked_until END WHERE key = $1",
            )
            .bind(key)
            .bind(in_flight)
            .bind(reset)
            .execute(&mut *txn)
            .await?;
        }
        txn.commit().await?;
        Ok(Ok(SharedAttempt {
            settings: self.settings.clone(),
            pool: self.pool.clone(),
            pair,
            username: name,
            address: addr,
            address_key: address_budget,
            concluded: false,
        }))
    }

    /// Drops budgets whose failures are forgotten and pairs no longer known; rate budgets that
    /// are full again go too (see `ratelimit`).
    pub async fn sweep(&self) -> Result<(), sqlx::Error> {
        sqlx::query(
            "DELETE FROM login_budgets WHERE (in_flight = 0 OR in_flight_since < now() - make_interval(secs => $2)) \
             AND (last_failure IS NULL OR last_failure < now() - make_interval(secs => $1)) \
             AND (locked_until IS NULL OR locked_until < now())",
        )
        .bind(secs(self.settings.forget_after))
        .bind(secs(STALE_IN_FLIGHT))
        .execute(&self.pool)
        .await?;
        sqlx::query(
            "DELETE FROM login_known WHERE signed_in_at < now() - make_interval(days => $1)",
        )
        .bind(KNOWN_PAIR_DAYS as i32)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// One budget row, its times relative to the database's `now()` in seconds.
struct BudgetRow {
    key: String,
    failures: i32,
    in_flight: i32,
    in_flight_age: Option<f64>,
    last_failure_age: Option<f64>,
    locked_for: Option<f64>,
}

impl BudgetRow {
    fn budget(&self, now: Instant) -> Budget {
        let ago = |s: f64| {
            now.checked_sub(Duration::from_secs_f64(s.max(0.0)))
                .unwrap_or(now)
        };
        Budget {
            failures: self.failures.max(0) as u32,
            in_flight: self.in_flight.max(0) as u32,
            last_failure: self.last_failure_age.map_or(now, ago),
            locked_until: self
                .locked_for
                .filter(|s| *s > 0.0)
                .map(|s| now + Duration::from_secs_f64(s)),
        }
    }
}

/// Creates the rows that do not exist yet, then locks them all (in key order, so two attempts
/// never wait on each other crosswise).
async fn lock_budgets(
    txn: &mut Transaction<'_, Postgres>,
    mut keys: Vec<String>,
) -> Result<Vec<BudgetRow>, sqlx::Error> {
    keys.sort();
    sqlx::query("INSERT INTO login_budgets (key) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING")
        .bind(&keys)
        .execute(&mut **txn)
        .await?;
    let rows = sqlx::query(
        "SELECT key, failures, in_flight, \
         EXTRACT(EPOCH FROM now() - in_flight_since)::float8 AS in_flight_age, \
         EXTRACT(EPOCH FROM now() - last_failure)::float8 AS last_failure_age, \
         EXTRACT(EPOCH FROM locked_until - now())::float8 AS locked_for \
         FROM login_budgets WHERE key = ANY($1) ORDER BY key FOR UPDATE",
    )
    .bind(&keys)
    .fetch_all(&mut **txn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(BudgetRow {
                key: r.try_get("key")?,
                failures: r.try_get("failures")?,
                in_flight: r.try_get("in_flight")?,
                in_flight_age: r.try_get("in_flight_age")?,
                last_failure_age: r.try_get("last_failure_age")?,
                locked_for: r.try_get("locked_for")?,
            })
        })
        .collect()
}

impl SharedAttempt {
    fn keys(&self) -> Vec<String> {
        std::iter::once(self.pair.clone())
            .chain(self.address_key.clone())
            .collect()
    }

    /// Records how the attempt went. A database failure here is logged: the budget then
    /// over-counts this attempt as in flight until [`STALE_IN_FLIGHT`] gives the place back.
    pub async fn conclude(mut self, success: bool) {
        self.concluded = true;
        if let Err(e) = self.record(success).await {
            tracing::warn!(error = %e, "recording a login attempt in the shared budget failed");
        }
    }

    async fn record(&self, success: bool) -> Result<(), sqlx::Error> {
        let mut txn = self.pool.begin().await?;
        let rows = lock_budgets(&mut txn, self.keys()).await?;
        for row in rows {
            let in_flight = (row.in_flight - 1).max(0);
            let is_pair = row.key == self.pair;
            if success {
                if is_pair && in_flight == 0 {
                    sqlx::query("DELETE FROM login_budgets WHERE key = $1")
                        .bind(&row.key)
                        .execute(&mut *txn)
                        .await?;
                } else if is_pair {
                    // Other attempts of the pair are still in flight: keep their places.
                    sqlx::query(
                        "UPDATE login_budgets SET in_flight = $2, failures = 0, locked_until = NULL WHERE key = $1",
                    )
                    .bind(&row.key)
                    .bind(in_flight)
                    .execute(&mut *txn)
                    .await?;
                } else {
                    sqlx::query("UPDATE login_budgets SET in_flight = $2 WHERE key = $1")
                        .bind(&row.key)
                        .bind(in_flight)
                        .execute(&mut *txn)
                        .await?;
                }
                continue;
            }
            let free = if is_pair {
                self.settings.free_failures_per_pair
            } else {
                self.settings.free_failures_per_address
            };
            let failures = row.failures.max(0) as u32 + 1;
            let lock = lock_for(&self.settings, failures, free).map(secs);
            sqlx::query(
                "UPDATE login_budgets SET in_flight = $2, failures = $3, last_failure = now(), \
                 locked_until = CASE WHEN $4::float8 IS NULL THEN locked_until \
                 ELSE now() + make_interval(secs => $4::float8) END WHERE key = $1",
            )
            .bind(&row.key)
            .bind(in_flight)
            .bind(failures as i32)
            .bind(lock)
            .execute(&mut *txn)
            .await?;
        }
        if success {
            sqlx::query(
                "INSERT INTO login_known (username, address, signed_in_at) VALUES ($1, $2, now()) \
                 ON CONFLICT (username, address) DO UPDATE SET signed_in_at = now()",
            )
            .bind(&self.username)
            .bind(&self.address)
            .execute(&mut *txn)
            .await?;
        }
        txn.commit().await
    }
}

impl Drop for SharedAttempt {
    /// Dropped without a verdict (the database failed while checking the password): give the
    /// place back, off this path.
    fn drop(&mut self) {
        if self.concluded {
            return;
        }
        let (pool, keys) = (self.pool.clone(), self.keys());
        tokio::spawn(async move {
            let freed = sqlx::query(
                "UPDATE login_budgets SET in_flight = greatest(in_flight - 1, 0) WHERE key = ANY($1)",
            )
            .bind(&keys)
            .execute(&pool)
            .await;
            if let Err(e) = freed {
                tracing::warn!(error = %e, "freeing a login attempt's place failed");
            }
        });
    }
}
