//! Statistics rollups: per-unit counters that the database keeps in step with the
//! facts, so a dashboard reads O(units asked for) rows instead of every task and activity of the
//! city.
//!
//! Decisions:
//! - **Triggers, not service code.** Every fact table (groups, members, tasks, activities,
//!   products, listings) carries `AFTER` row triggers that add the row's contribution to its
//!   rollup in the same transaction as the write. No write path can forget them: the service
//!   layer, the demo seed's bulk `INSERT`s, an operator's SQL and the tests' fixtures all keep the
//!   rollups right, and a rolled-back write rolls its counters back with it.
//! - **Anchors.** A fact attached to unit U counts in the rollup rows of every ancestor-or-self
//!   of U with `own = 0` (subtree totals) and in U's row with `own = 1` (what is attached to U
//!   itself: the "unit itself" row of a `CHILD_UNIT` breakdown). `rollup_anchors` lists those
//!   (unit, anchor, own) triples; a trigger on `admin_units` adds them for each new unit from its
//!   parent's. Units are never moved or deleted (they are closed or merged, which keeps the row).
//! - **Keys are what stats filter and break down by.** Tasks keep their due date and activities
//!   their Vietnamese calendar day, so periods, overdue tasks (`due_on < today`) and
//!   `MONTH`/`WEEK` breakdowns are answered from the rollups too. A task without a due date is
//!   kept under [`NO_DUE_DATE`], because a `NULL` would defeat the unique key of the upsert.
//!   Those date keys make a row per day, so tasks and activities also have all-time totals
//!   without them, for the common request that names no period and no month or week.
//! - **Moves.** A group that changes unit takes its tasks, activities, outcomes, products and
//!   listings with it; a product that changes group takes its listings; a task whose kind
//!   changes takes its activities and outcomes; a report that changes day, group or task takes
//!   its outcomes. Each is one aggregated statement per family inside the trigger.
//! - **Walk-in reports** (activities without a task) are kept under the task kind [`WALK_IN`]:
//!   the task is an optional parent, `LEFT JOIN`ed.
//! - **Archived** products and listings (`archived_at` set) do not count; archiving or
//!   restoring a product moves its listings out of the counts or back.
//! - **Deletes.** Deleting a fact row subtracts it. Groups and products are never deleted by the
//!   API; deleting one by hand cascades to rows whose parents are already gone, so run
//!   [`rebuild`] (`cdtg migrate rebuild-rollups`) after such surgery.
//! - **Counters that reach zero stay** as rows; readers skip them (`HAVING SUM(n) <> 0`).
//! - **One text, two dialects.** The maintenance statements are the same SQL on SQLite and
//!   PostgreSQL (`INSERT … SELECT … ON CONFLICT DO UPDATE`); only the trigger wrapper (a PL/pgSQL
//!   function on PostgreSQL) and the local-day expression differ. One exception, for speed: on
//!   PostgreSQL the insert of a field report updates both activity rollups from one look-up held
//!   in PL/pgSQL variables ([`report_insert_on_postgres`]); it writes the same rows.

use sea_orm_migration::sea_orm::{
    ConnectionTrait, DatabaseBackend, DbErr, TransactionSession, TransactionTrait,
};

/// The stand-in due date of tasks without one: after every period a client may name (periods
/// end by 2200), so it is never overdue and never inside a period.
pub const NO_DUE_DATE: &str = "9999-12-31";

// Vietnam's offset from UTC (the one definition is in core).
use cdtg_core::time::VIETNAM_UTC_OFFSET_HOURS as VIETNAM_OFFSET_HOURS;

/// One rollup table: its key columns (after `unit_id, own`) and its summed columns.
struct Rollup {
    table: &'static str,
    keys: &'static [&'static str],
    sums: &'static [&'static str],
    /// Column types for `CREATE TABLE`, keys then sums.
    types: &'static [&'static str],
}

const GROUPS: Rollup = Rollup {
    table: "rollup_groups",
    keys: &["kind", "status"],
    sums: &["n"],
    types: &["VARCHAR(16)", "VARCHAR(16)", "BIGINT"],
};
const MEMBERS: Rollup = Rollup {
    table: "rollup_members",
    keys: &["affiliation", "trained"],
    sums: &["n"],
    types: &["VARCHAR(32)", "INTEGER", "BIGINT"],
};
const TASKS: Rollup = Rollup {
    table: "rollup_tasks",
    keys: &["status", "kind", "due_on"],
    sums: &["n"],
    types: &["VARCHAR(16)", "VARCHAR(32)", "DATE", "BIGINT"],
};
const ACTIVITIES: Rollup = Rollup {
    table: "rollup_activities",
    keys: &["task_kind", "day"],
    sums: &["n", "residents_helped", "vneid_activations"],
    types: &["VARCHAR(32)", "DATE", "BIGINT", "BIGINT", "BIGINT"],
};
/// All-time task counts: what a request without a period or a month/week dimension reads. The
/// dated table holds a row per due date, about as many rows as tasks at the demo's scale 1.
const TASK_TOTALS: Rollup = Rollup {
    table: "rollup_task_totals",
    keys: &["status", "kind"],
    sums: &["n"],
    types: &["VARCHAR(16)", "VARCHAR(32)", "BIGINT"],
};
/// All-time activity sums, like [`TASK_TOTALS`].
const ACTIVITY_TOTALS: Rollup = Rollup {
    table: "rollup_activity_totals",
    keys: &["task_kind"],
    sums: &["n", "residents_helped", "vneid_activations"],
    types: &["VARCHAR(32)", "BIGINT", "BIGINT", "BIGINT"],
};
/// The programme's outcomes (`activity_outcomes`): per indicator, the kind of task the report
/// served and the local day; `n` counts the outcome rows, `amount` sums their counts.
const OUTCOMES: Rollup = Rollup {
    table: "rollup_outcomes",
    keys: &["kind", "task_kind", "day"],
    sums: &["n", "amount"],
    types: &["VARCHAR(32)", "VARCHAR(32)", "DATE", "BIGINT", "BIGINT"],
};
/// All-time outcome sums, like [`TASK_TOTALS`].
const OUTCOME_TOTALS: Rollup = Rollup {
    table: "rollup_outcome_totals",
    keys: &["kind", "task_kind"],
    sums: &["n", "amount"],
    types: &["VARCHAR(32)", "VARCHAR(32)", "BIGINT", "BIGINT"],
};
const PRODUCTS: Rollup = Rollup {
    table: "rollup_products",
    keys: &[],
    sums: &["n"],
    types: &["BIGINT"],
};
const LISTINGS: Rollup = Rollup {
    table: "rollup_listings",
    keys: &["platform", "status"],
    sums: &["n"],
    types: &["VARCHAR(16)", "VARCHAR(16)", "BIGINT"],
};

const ROLLUPS: [&Rollup; 10] = [
    &GROUPS,
    &MEMBERS,
    &TASKS,
    &TASK_TOTALS,
    &ACTIVITIES,
    &ACTIVITY_TOTALS,
    &OUTCOMES,
    &OUTCOME_TOTALS,
    &PRODUCTS,
    &LISTINGS,
];

/// The `task_kind` key of a walk-in report (one made for a group, outside any task). Readers
/// turn it into "no task kind".
pub const WALK_IN: &str = "WALK_IN";

/// Where one rollup's contributions come from: a `SELECT` of `unit_id`, the keys and the sums
/// over the fact table `{r}` joined to its parents. Each alias in braces (`{r}`, `{g}`, …) is
/// either a table in the `FROM` list or, in a trigger, bound to the `NEW`/`OLD` record of that
/// table, which then leaves the `FROM` list: the same source serves the full rebuild, the row
/// triggers and the moves.
struct Source {
    rollup: &'static Rollup,
    /// (table, alias) in join order; the first is the fact table.
    tables: Vec<(&'static str, &'static str)>,
    /// The selected columns, named like the rollup's keys and sums.
    columns: String,
    /// Join conditions, and conditions on the fact row (archived rows do not count).
    conditions: Vec<&'static str>,
    /// Optional parents, `LEFT JOIN`ed: (table, alias, condition, the alias the condition
    /// refers to). A walk-in report has no task.
    optional: Vec<(&'static str, &'static str, &'static str, &'static str)>,
}

/// The local (Vietnamese) calendar day of a UTC timestamp, as a date.
fn local_day(backend: DatabaseBackend, expr: &str) -> String {
    match backend {
        DatabaseBackend::Postgres => format!(
            "CAST(({expr} AT TIME ZONE 'UTC') + INTERVAL '{VIETNAM_OFFSET_HOURS} hours' AS DATE)"
        ),
        _ => format!("date({expr}, '+{VIETNAM_OFFSET_HOURS} hours')"),
    }
}

fn sources(backend: DatabaseBackend) -> [Source; 10] {
    let task_kind = format!("COALESCE({{t}}.kind, '{WALK_IN}')");
    [
        Source {
            rollup: &GROUPS,
            tables: vec![("groups", "r")],
            columns: "{r}.unit_id AS unit_id, {r}.kind AS kind, {r}.status AS status, 1 AS n"
                .into(),
            conditions: vec![],
            optional: vec![],
        },
        Source {
            rollup: &MEMBERS,
            tables: vec![("members", "r")],
            columns: "{r}.unit_id AS unit_id, {r}.affiliation AS affiliation, \
                      CASE WHEN {r}.trained_on IS NULL THEN 0 ELSE 1 END AS trained, 1 AS n"
                .into(),
            conditions: vec![],
            optional: vec![],
        },
        Source {
            rollup: &TASKS,
            tables: vec![("tasks", "r"), ("groups", "g")],
            columns: format!(
                "{{g}}.unit_id AS unit_id, {{r}}.status AS status, {{r}}.kind AS kind, \
                 COALESCE({{r}}.due_on, '{NO_DUE_DATE}') AS due_on, 1 AS n"
            ),
            conditions: vec!["{g}.id = {r}.group_id"],
            optional: vec![],
        },
        Source {
            rollup: &TASK_TOTALS,
            tables: vec![("tasks", "r"), ("groups", "g")],
            columns: "{g}.unit_id AS unit_id, {r}.status AS status, {r}.kind AS kind, 1 AS n"
                .into(),
            conditions: vec!["{g}.id = {r}.group_id"],
            optional: vec![],
        },
        Source {
            rollup: &ACTIVITY_TOTALS,
            tables: vec![("activities", "r"), ("groups", "g")],
            columns: format!(
                "{{g}}.unit_id AS unit_id, {task_kind} AS task_kind, 1 AS n, \
                 {{r}}.residents_helped AS residents_helped, \
                 {{r}}.vneid_activations AS vneid_activations"
            ),
            conditions: vec!["{g}.id = {r}.group_id"],
            optional: vec![("tasks", "t", "{t}.id = {r}.task_id", "r")],
        },
        Source {
            rollup: &ACTIVITIES,
            tables: vec![("activities", "r"), ("groups", "g")],
            columns: format!(
                "{{g}}.unit_id AS unit_id, {task_kind} AS task_kind, {} AS day, 1 AS n, \
                 {{r}}.residents_helped AS residents_helped, \
                 {{r}}.vneid_activations AS vneid_activations",
                local_day(backend, "{r}.occurred_at")
            ),
            conditions: vec!["{g}.id = {r}.group_id"],
            optional: vec![("tasks", "t", "{t}.id = {r}.task_id", "r")],
        },
        Source {
            rollup: &OUTCOME_TOTALS,
            tables: vec![
                ("activity_outcomes", "r"),
                ("activities", "act"),
                ("groups", "g"),
            ],
            columns: format!(
                "{{g}}.unit_id AS unit_id, {{r}}.kind AS kind, {task_kind} AS task_kind, \
                 1 AS n, {{r}}.count AS amount"
            ),
            conditions: vec!["{act}.id = {r}.activity_id", "{g}.id = {act}.group_id"],
            optional: vec![("tasks", "t", "{t}.id = {act}.task_id", "act")],
        },
        Source {
            rollup: &OUTCOMES,
            tables: vec![
                ("activity_outcomes", "r"),
                ("activities", "act"),
                ("groups", "g"),
            ],
            columns: format!(
                "{{g}}.unit_id AS unit_id, {{r}}.kind AS kind, {task_kind} AS task_kind, \
                 {} AS day, 1 AS n, {{r}}.count AS amount",
                local_day(backend, "{act}.occurred_at")
            ),
            conditions: vec!["{act}.id = {r}.activity_id", "{g}.id = {act}.group_id"],
            optional: vec![("tasks", "t", "{t}.id = {act}.task_id", "act")],
        },
        Source {
            rollup: &PRODUCTS,
            tables: vec![("products", "r"), ("groups", "g")],
            columns: "{g}.unit_id AS unit_id, 1 AS n".into(),
            conditions: vec!["{g}.id = {r}.group_id", "{r}.archived_at IS NULL"],
            optional: vec![],
        },
        Source {
            rollup: &LISTINGS,
            tables: vec![("listings", "r"), ("products", "p"), ("groups", "g")],
            columns: "{g}.unit_id AS unit_id, {r}.platform AS platform, {r}.status AS status, \
                      1 AS n"
                .into(),
            conditions: vec![
                "{p}.id = {r}.product_id",
                "{g}.id = {p}.group_id",
                "{r}.archived_at IS NULL",
                "{p}.archived_at IS NULL",
            ],
            optional: vec![],
        },
    ]
}

fn source<'a>(sources: &'a [Source], rollup: &Rollup) -> &'a Source {
    sources
        .iter()
        .find(|s| s.rollup.table == rollup.table)
        .expect("every rollup has a source")
}

impl Source {
    /// The `SELECT`, with `bound` aliases replaced by trigger records (`("g", "OLD")`).
    ///
    /// An optional parent that is bound leaves the `FROM` list and its condition joins the
    /// `WHERE` (rows without that parent are not the ones that moved). One that is not bound is
    /// `LEFT JOIN`ed right after the table its condition refers to, or after the first table
    /// when that one is bound: in a comma-separated `FROM`, a join's condition may only name
    /// tables of its own item.
    fn select(&self, bound: &[(&str, &str)]) -> String {
        let record_of = |alias: &str| bound.iter().find(|(a, _)| *a == alias).map(|(_, r)| *r);
        let render = |text: &str| {
            let mut out = text.to_owned();
            let aliases = self
                .tables
                .iter()
                .map(|(_, a)| *a)
                .chain(self.optional.iter().map(|(_, a, _, _)| *a));
            for alias in aliases {
                out = out.replace(&format!("{{{alias}}}"), record_of(alias).unwrap_or(alias));
            }
            out
        };
        let mut conditions: Vec<String> = self.conditions.iter().map(|c| render(c)).collect();
        let mut from: Vec<(&str, String)> = self
            .tables
            .iter()
            .filter(|(_, alias)| record_of(alias).is_none())
            .map(|(table, alias)| (*alias, format!("{table} {alias}")))
            .collect();
        for (table, alias, on, refers_to) in &self.optional {
            if record_of(alias).is_some() {
                conditions.push(render(on));
                continue;
            }
            let join = format!(" LEFT JOIN {table} {alias} ON {}", render(on));
            let at = from.iter().position(|(a, _)| a == refers_to).unwrap_or(0);
            from[at].1.push_str(&join);
        }
        let mut sql = format!("SELECT {}", render(&self.columns));
        if !from.is_empty() {
            let items: Vec<&str> = from.iter().map(|(_, item)| item.as_str()).collect();
            sql.push_str(&format!(" FROM {}", items.join(", ")));
        }
        if !conditions.is_empty() {
            sql.push_str(&format!(" WHERE {}", conditions.join(" AND ")));
        }
        sql
    }
}

/// Adds (`sign` 1) or takes away (-1) the rows of `select` to the rollup, at every anchor.
/// The `WHERE` before `ON CONFLICT` is SQLite's rule for upserts from a `SELECT`; the
/// `GROUP BY` makes each rollup row appear once, which PostgreSQL's upsert requires. The
/// `ORDER BY` makes concurrent writers lock the rows they share (the city's, a district's) in
/// one order, ancestors by id: in hash order two reports from different wards could deadlock.
fn apply(rollup: &Rollup, sign: i64, select: &str) -> String {
    let keys: Vec<String> = rollup.keys.iter().map(|k| format!("s.{k}")).collect();
    let sums: Vec<String> = rollup
        .sums
        .iter()
        .map(|m| {
            if sign < 0 {
                format!("-SUM(s.{m})")
            } else {
                format!("SUM(s.{m})")
            }
        })
        .collect();
    let Upsert {
        columns,
        conflict,
        updates,
    } = Upsert::of(rollup);
    let selected: Vec<String> = ["a.anchor_unit_id".to_owned(), "a.own".to_owned()]
        .into_iter()
        .chain(keys.iter().cloned())
        .chain(sums)
        .collect();
    let group_by: Vec<String> = ["a.anchor_unit_id".to_owned(), "a.own".to_owned()]
        .into_iter()
        .chain(keys)
        .collect();
    format!(
        "INSERT INTO {table} ({columns}) SELECT {selected} FROM ({select}) s \
         JOIN rollup_anchors a ON a.unit_id = s.unit_id WHERE 1 = 1 GROUP BY {group_by} \
         ORDER BY {group_by} ON CONFLICT ({conflict}) DO UPDATE SET {updates}",
        table = rollup.table,
        selected = selected.join(", "),
        group_by = group_by.join(", "),
    )
}

/// The parts of an upsert into a rollup that do not depend on where its rows come from.
struct Upsert {
    /// The columns written: the key, then the sums.
    columns: String,
    /// The unique key.
    conflict: String,
    /// Each sum added to the row already there.
    updates: String,
}

impl Upsert {
    fn of(rollup: &Rollup) -> Upsert {
        let key = ["unit_id", "own"]
            .into_iter()
            .chain(rollup.keys.iter().copied());
        let updates: Vec<String> = rollup
            .sums
            .iter()
            .map(|m| format!("{m} = {t}.{m} + excluded.{m}", t = rollup.table))
            .collect();
        Upsert {
            columns: key
                .clone()
                .chain(rollup.sums.iter().copied())
                .collect::<Vec<_>>()
                .join(", "),
            conflict: key.collect::<Vec<_>>().join(", "),
            updates: updates.join(", "),
        }
    }
}

/// An `AFTER … FOR EACH ROW` trigger running `body` (statements without their `;`).
struct Trigger {
    name: String,
    /// `INSERT`, `DELETE` or `UPDATE OF a, b`.
    event: String,
    table: &'static str,
    /// A condition on `OLD`/`NEW` (both databases' syntax), or none.
    when: Option<String>,
    body: Vec<String>,
    /// PL/pgSQL variables (`name TYPE;` …): PostgreSQL only.
    declare: Option<String>,
}

impl Trigger {
    fn create(&self, backend: DatabaseBackend) -> Vec<String> {
        let when = self
            .when
            .as_ref()
            .map(|w| format!(" WHEN ({w})"))
            .unwrap_or_default();
        let body: String = self.body.iter().map(|s| format!("{s}; ")).collect();
        match backend {
            DatabaseBackend::Postgres => vec![
                format!(
                    "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $body$ \
                     {declare}BEGIN {body}RETURN NULL; END $body$",
                    name = self.name,
                    declare = self
                        .declare
                        .as_ref()
                        .map(|d| format!("DECLARE {d} "))
                        .unwrap_or_default(),
                ),
                format!(
                    "CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW{when} \
                     EXECUTE FUNCTION {name}()",
                    name = self.name,
                    event = self.event,
                    table = self.table
                ),
            ],
            _ => vec![format!(
                "CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW{when} \
                 BEGIN {body}END",
                name = self.name,
                event = self.event,
                table = self.table
            )],
        }
    }

    fn drop(&self, backend: DatabaseBackend) -> Vec<String> {
        match backend {
            DatabaseBackend::Postgres => vec![
                format!("DROP TRIGGER IF EXISTS {} ON {}", self.name, self.table),
                format!("DROP FUNCTION IF EXISTS {}()", self.name),
            ],
            _ => vec![format!("DROP TRIGGER IF EXISTS {}", self.name)],
        }
    }
}

/// The row triggers of one fact table: insert adds `NEW`, delete takes `OLD` away, and an update
/// of the columns the rollup depends on does both.
fn row_triggers(s: &Source, watched: &str) -> Vec<Trigger> {
    let table = s.tables[0].0;
    let plus = apply(s.rollup, 1, &s.select(&[("r", "NEW")]));
    let minus = apply(s.rollup, -1, &s.select(&[("r", "OLD")]));
    vec![
        Trigger {
            name: format!("{}_on_insert", s.rollup.table),
            event: "INSERT".into(),
            table,
            when: None,
            body: vec![plus.clone()],
            declare: None,
        },
        Trigger {
            name: format!("{}_on_delete", s.rollup.table),
            event: "DELETE".into(),
            table,
            when: None,
            body: vec![minus.clone()],
            declare: None,
        },
        Trigger {
            name: format!("{}_on_update", s.rollup.table),
            event: format!("UPDATE OF {watched}"),
            table,
            when: None,
            body: vec![minus, plus],
            declare: None,
        },
    ]
}

/// The insert of a field report on PostgreSQL: both activity rollups from one look-up of the
/// report's unit and task kind. Every report runs this, and with one trigger per rollup each
/// repeated the join of group, task and anchors: sharing it made a report 4–8% faster under
/// load (A/B on one scale-1 database, 2026-12-05); merely putting both statements in one
/// trigger made no difference. SQLite keeps one trigger per rollup (its triggers have no
/// variables); the rows written are the same on both, which the stats tests check against a
/// rebuild.
fn report_insert_on_postgres() -> Trigger {
    let upsert = |r: &Rollup, keys: &[&str]| {
        let Upsert {
            columns,
            conflict,
            updates,
        } = Upsert::of(r);
        // One report: n = 1 and its own figures.
        let values: Vec<String> = keys
            .iter()
            .map(|k| (*k).to_owned())
            .chain(r.sums.iter().map(|m| match *m {
                "n" => "1".to_owned(),
                other => format!("NEW.{other}"),
            }))
            .collect();
        format!(
            "INSERT INTO {table} ({columns}) SELECT a.anchor_unit_id, a.own, {values} \
             FROM rollup_anchors a WHERE a.unit_id = v_unit ORDER BY a.anchor_unit_id, a.own \
             ON CONFLICT ({conflict}) DO UPDATE SET {updates}",
            table = r.table,
            values = values.join(", "),
        )
    };
    Trigger {
        name: format!("{}_on_insert", ACTIVITIES.table),
        event: "INSERT".into(),
        table: "activities",
        when: None,
        body: vec![
            format!(
                "SELECT g.unit_id, COALESCE(t.kind, '{WALK_IN}'), {day} INTO v_unit, v_kind, \
                 v_day FROM groups g LEFT JOIN tasks t ON t.id = NEW.task_id \
                 WHERE g.id = NEW.group_id",
                day = local_day(DatabaseBackend::Postgres, "NEW.occurred_at")
            ),
            upsert(&ACTIVITIES, &["v_kind", "v_day"]),
            upsert(&ACTIVITY_TOTALS, &["v_kind"]),
        ],
        declare: Some("v_unit BIGINT; v_kind TEXT; v_day DATE;".into()),
    }
}

/// Moves the rows of `rollups` that hang off a changed parent record (alias `alias` in their
/// sources) from the `OLD` parent to the `NEW` one.
fn move_statements(all: &[Source], rollups: &[&Rollup], alias: &str) -> Vec<String> {
    rollups
        .iter()
        .flat_map(|r| {
            let s = source(all, r);
            [
                apply(r, -1, &s.select(&[(alias, "OLD")])),
                apply(r, 1, &s.select(&[(alias, "NEW")])),
            ]
        })
        .collect()
}

/// Rows of some rollups that hang off a parent record and move when it changes.
struct Move {
    /// The trigger's name.
    name: &'static str,
    /// The parent table.
    table: &'static str,
    /// The parent's columns whose change moves rows…
    columns: &'static str,
    /// …and the condition that they did (on `OLD` and `NEW`).
    changed: &'static str,
    /// The rollups moved.
    rollups: &'static [&'static Rollup],
    /// The parent's alias in their sources.
    alias: &'static str,
}

fn triggers(backend: DatabaseBackend) -> Vec<Trigger> {
    let all = sources(backend);
    let mut out = Vec::new();
    // Each rollup and the columns of its fact table whose change changes its rows.
    let watched: [(&Rollup, &str); 10] = [
        (&GROUPS, "unit_id, kind, status"),
        (&MEMBERS, "unit_id, affiliation, trained_on"),
        (&TASKS, "group_id, status, kind, due_on"),
        (&TASK_TOTALS, "group_id, status, kind"),
        (
            &ACTIVITIES,
            "group_id, task_id, occurred_at, residents_helped, vneid_activations",
        ),
        (
            &ACTIVITY_TOTALS,
            "group_id, task_id, residents_helped, vneid_activations",
        ),
        (&OUTCOMES, "activity_id, kind, count"),
        (&OUTCOME_TOTALS, "activity_id, kind, count"),
        (&PRODUCTS, "group_id, archived_at"),
        (&LISTINGS, "product_id, platform, status, archived_at"),
    ];
    for (rollup, columns) in watched {
        out.extend(row_triggers(source(&all, rollup), columns));
    }
    if backend == DatabaseBackend::Postgres {
        let shared = [ACTIVITIES.table, ACTIVITY_TOTALS.table].map(|t| format!("{t}_on_insert"));
        out.retain(|t| !shared.contains(&t.name));
        out.push(report_insert_on_postgres());
    }
    let moves = [
        Move {
            name: "rollup_group_moves",
            table: "groups",
            columns: "unit_id",
            changed: "OLD.unit_id <> NEW.unit_id",
            rollups: &[
                &TASKS,
                &TASK_TOTALS,
                &ACTIVITIES,
                &ACTIVITY_TOTALS,
                &OUTCOMES,
                &OUTCOME_TOTALS,
                &PRODUCTS,
                &LISTINGS,
            ],
            alias: "g",
        },
        Move {
            name: "rollup_product_moves",
            table: "products",
            columns: "group_id",
            changed: "OLD.group_id <> NEW.group_id",
            rollups: &[&LISTINGS],
            alias: "p",
        },
        // An archived product takes its listings out of the counts; restored, it brings them
        // back.
        Move {
            name: "rollup_product_archivals",
            table: "products",
            columns: "archived_at",
            changed: "(OLD.archived_at IS NULL) <> (NEW.archived_at IS NULL)",
            rollups: &[&LISTINGS],
            alias: "p",
        },
        Move {
            name: "rollup_task_kind_changes",
            table: "tasks",
            columns: "kind",
            changed: "OLD.kind <> NEW.kind",
            rollups: &[&ACTIVITIES, &ACTIVITY_TOTALS, &OUTCOMES, &OUTCOME_TOTALS],
            alias: "t",
        },
        // A corrected report (another day) or one moved to another group or task takes its
        // outcomes along.
        Move {
            name: "rollup_activity_moves",
            table: "activities",
            columns: "group_id, task_id, occurred_at",
            changed: "OLD.group_id <> NEW.group_id OR OLD.occurred_at <> NEW.occurred_at \
                      OR COALESCE(OLD.task_id, 0) <> COALESCE(NEW.task_id, 0)",
            rollups: &[&OUTCOMES, &OUTCOME_TOTALS],
            alias: "act",
        },
    ];
    for m in moves {
        out.push(Trigger {
            name: m.name.into(),
            event: format!("UPDATE OF {}", m.columns),
            table: m.table,
            when: Some(m.changed.into()),
            body: move_statements(&all, m.rollups, m.alias),
            declare: None,
        });
    }
    out.push(Trigger {
        name: "rollup_anchors_on_insert".into(),
        event: "INSERT".into(),
        table: "admin_units",
        when: None,
        body: vec![
            "INSERT INTO rollup_anchors (unit_id, anchor_unit_id, own) \
             SELECT NEW.id, a.anchor_unit_id, 0 FROM rollup_anchors a \
             WHERE a.unit_id = NEW.parent_id AND a.own = 0"
                .into(),
            "INSERT INTO rollup_anchors (unit_id, anchor_unit_id, own) \
             VALUES (NEW.id, NEW.id, 0), (NEW.id, NEW.id, 1)"
                .into(),
        ],
        declare: None,
    });
    out
}

/// Every rollup table, ancestors first.
fn tables() -> Vec<&'static str> {
    std::iter::once("rollup_anchors")
        .chain(ROLLUPS.iter().map(|r| r.table))
        .collect()
}

/// Creates the rollup tables and their triggers (empty: follow with [`rebuild_statements`]).
///
/// This generator describes the rollups as they are now, for rebuilds and bulk loads; the
/// migrations that created them are frozen SQL snapshots. A change here needs a new migration
/// (the schema test fails until there is one).
pub fn create_statements(backend: DatabaseBackend) -> Vec<String> {
    // WITHOUT ROWID: SQLite stores the rows in primary-key order, so the rows of one anchor are
    // adjacent, like PostgreSQL's index scan of the key.
    let suffix = if backend == DatabaseBackend::Sqlite {
        " WITHOUT ROWID"
    } else {
        ""
    };
    let mut out = vec![format!(
        "CREATE TABLE rollup_anchors (unit_id BIGINT NOT NULL, anchor_unit_id BIGINT NOT NULL, \
         own INTEGER NOT NULL, PRIMARY KEY (unit_id, anchor_unit_id, own)){suffix}"
    )];
    for r in ROLLUPS {
        let mut cols = vec![
            "unit_id BIGINT NOT NULL".to_owned(),
            "own INTEGER NOT NULL".to_owned(),
        ];
        for (name, ty) in r.keys.iter().chain(r.sums).zip(r.types) {
            cols.push(format!("{name} {ty} NOT NULL"));
        }
        let key: Vec<&str> = ["unit_id", "own"]
            .into_iter()
            .chain(r.keys.iter().copied())
            .collect();
        out.push(format!(
            "CREATE TABLE {} ({}, PRIMARY KEY ({})){suffix}",
            r.table,
            cols.join(", "),
            key.join(", ")
        ));
    }
    out.extend(create_trigger_statements(backend));
    out
}

/// Creates the triggers that keep the rollups (the tables must exist).
pub fn create_trigger_statements(backend: DatabaseBackend) -> Vec<String> {
    triggers(backend)
        .iter()
        .flat_map(|t| t.create(backend))
        .collect()
}

/// Drops the triggers, for a bulk load followed by [`rebuild_statements`] and
/// [`create_trigger_statements`] in the same transaction. Row by row, one transaction that
/// writes hundreds of thousands of facts updates the city's rollup rows as often, and on
/// PostgreSQL every update of a row within one transaction lengthens the chain of its versions
/// that the next one walks: with the triggers on, the demo took 4 s to seed at scale 1 and
/// 221 s at scale 10 on PostgreSQL; loaded in bulk and rebuilt once, scale 10 takes 22 s.
pub fn drop_trigger_statements(backend: DatabaseBackend) -> Vec<String> {
    triggers(backend)
        .iter()
        .flat_map(|t| t.drop(backend))
        .collect()
}

/// Drops the triggers and the rollup tables.
pub fn drop_statements(backend: DatabaseBackend) -> Vec<String> {
    let mut out = drop_trigger_statements(backend);
    out.extend(
        tables()
            .into_iter()
            .rev()
            .map(|t| format!("DROP TABLE IF EXISTS {t}")),
    );
    out
}

/// Recomputes every rollup from the facts: the back-fill of an existing database, and the
/// repair after hand-made deletes of groups or products. Run it in one transaction.
pub fn rebuild_statements(backend: DatabaseBackend) -> Vec<String> {
    let mut out: Vec<String> = tables()
        .into_iter()
        .map(|t| format!("DELETE FROM {t}"))
        .collect();
    out.extend(anchor_statements());
    out.extend(recount_statements(backend).into_iter().map(|(_, sql)| sql));
    out
}

/// Fills the empty `rollup_anchors` from the unit tree.
fn anchor_statements() -> [String; 2] {
    [
        "WITH RECURSIVE up (unit_id, anchor_unit_id) AS (\
             SELECT id, id FROM admin_units \
             UNION ALL SELECT up.unit_id, u.parent_id FROM up \
             JOIN admin_units u ON u.id = up.anchor_unit_id WHERE u.parent_id IS NOT NULL) \
         INSERT INTO rollup_anchors (unit_id, anchor_unit_id, own) \
         SELECT unit_id, anchor_unit_id, 0 FROM up"
            .into(),
        "INSERT INTO rollup_anchors (unit_id, anchor_unit_id, own) \
         SELECT id, id, 1 FROM admin_units"
            .into(),
    ]
}

/// Fills each empty rollup table from the facts (the anchors must be filled): its name and
/// statement.
fn recount_statements(backend: DatabaseBackend) -> Vec<(&'static str, String)> {
    sources(backend)
        .iter()
        .map(|s| (s.rollup.table, apply(s.rollup, 1, &s.select(&[]))))
        .collect()
}

/// Runs [`rebuild_statements`] in one transaction: readers see the old rollups or the new ones.
pub async fn rebuild<C: ConnectionTrait + TransactionTrait>(db: &C) -> Result<(), DbErr> {
    rebuild_reporting(db, |_| {}).await
}

/// [`rebuild`], calling `step` with the name of each table before it is recomputed (for
/// progress on a terminal).
pub async fn rebuild_reporting<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    mut step: impl FnMut(&str),
) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    let backend = txn.get_database_backend();
    step("clearing the rollups");
    for t in tables() {
        txn.execute_unprepared(&format!("DELETE FROM {t}")).await?;
    }
    step("rollup_anchors");
    for sql in anchor_statements() {
        txn.execute_unprepared(&sql).await?;
    }
    for (table, sql) in recount_statements(backend) {
        step(table);
        txn.execute_unprepared(&sql).await?;
    }
    txn.commit().await
}

/// One rollup table compared with a recount from the facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub table: &'static str,
    /// The rows the facts give (counters that are not all zero).
    pub rows: i64,
    /// Rows of the facts' recount that the table lacks or holds with other figures.
    pub wrong: i64,
    /// Rows of the table that the recount does not have.
    pub extra: i64,
}

impl Verified {
    pub fn is_exact(&self) -> bool {
        self.wrong == 0 && self.extra == 0
    }
}

/// The anchors as the unit tree gives them, as a common table `anchors`.
const EXPECTED_ANCHORS: &str = "WITH RECURSIVE up (unit_id, anchor_unit_id) AS (\
     SELECT id, id FROM admin_units \
     UNION ALL SELECT up.unit_id, u.parent_id FROM up \
     JOIN admin_units u ON u.id = up.anchor_unit_id WHERE u.parent_id IS NOT NULL), \
     anchors (unit_id, anchor_unit_id, own) AS (SELECT unit_id, anchor_unit_id, 0 FROM up \
     UNION ALL SELECT id, id, 1 FROM admin_units)";

/// `expected` and `actual` compared both ways, and the count of `expected`.
fn comparison(ctes: &str) -> String {
    format!(
        "{ctes} SELECT (SELECT COUNT(*) FROM (SELECT * FROM expected EXCEPT \
         SELECT * FROM actual) d) AS wrong, (SELECT COUNT(*) FROM (SELECT * FROM actual \
         EXCEPT SELECT * FROM expected) d) AS extra, (SELECT COUNT(*) FROM expected) AS n"
    )
}

/// For each rollup table, the statement comparing it with a recount from the facts (one row:
/// `wrong`, `extra`, `n`). The recount is what [`rebuild`] would write, grouped the same way;
/// counters left at zero by deletes are not rows of either side.
pub fn verify_statements(backend: DatabaseBackend) -> Vec<(&'static str, String)> {
    let mut out = vec![(
        "rollup_anchors",
        comparison(&format!(
            "{EXPECTED_ANCHORS}, expected AS (SELECT unit_id, anchor_unit_id, own FROM anchors), \
             actual AS (SELECT unit_id, anchor_unit_id, own FROM rollup_anchors)"
        )),
    )];
    for s in sources(backend) {
        let r = s.rollup;
        let keys: Vec<String> = r.keys.iter().map(|k| format!("s.{k}")).collect();
        let group_by: Vec<String> = ["a.anchor_unit_id".to_owned(), "a.own".to_owned()]
            .into_iter()
            .chain(keys.iter().cloned())
            .collect();
        let selected: Vec<String> = group_by
            .iter()
            .cloned()
            .chain(r.sums.iter().map(|m| format!("SUM(s.{m})")))
            .collect();
        let columns: Vec<&str> = ["unit_id", "own"]
            .into_iter()
            .chain(r.keys.iter().copied())
            .chain(r.sums.iter().copied())
            .collect();
        let all_zero: Vec<String> = r.sums.iter().map(|m| format!("{m} = 0")).collect();
        let ctes = format!(
            "{EXPECTED_ANCHORS}, expected AS (SELECT {selected} FROM ({select}) s \
             JOIN anchors a ON a.unit_id = s.unit_id GROUP BY {group_by}), \
             actual AS (SELECT {columns} FROM {table} WHERE NOT ({all_zero}))",
            selected = selected.join(", "),
            select = s.select(&[]),
            group_by = group_by.join(", "),
            columns = columns.join(", "),
            table = r.table,
            all_zero = all_zero.join(" AND "),
        );
        out.push((r.table, comparison(&ctes)));
    }
    out
}

/// Compares every rollup table with a recount from the facts, in one read-only snapshot
/// (PostgreSQL: repeatable read; SQLite: one read transaction), so writes that commit meanwhile
/// cannot make a difference appear. `step` is called with each table before it is checked.
pub async fn verify<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    mut step: impl FnMut(&str),
) -> Result<Vec<Verified>, DbErr> {
    let backend = db.get_database_backend();
    let txn = match backend {
        DatabaseBackend::Postgres => {
            db.begin_with_config(
                Some(sea_orm_migration::sea_orm::IsolationLevel::RepeatableRead),
                Some(sea_orm_migration::sea_orm::AccessMode::ReadOnly),
            )
            .await?
        }
        _ => db.begin().await?,
    };
    let mut out = Vec::new();
    for (table, sql) in verify_statements(backend) {
        step(table);
        let row = txn
            .query_one_raw(sea_orm_migration::sea_orm::Statement::from_string(
                backend, sql,
            ))
            .await?
            .ok_or_else(|| DbErr::Custom(format!("no answer checking {table}")))?;
        out.push(Verified {
            table,
            rows: row.try_get("", "n")?,
            wrong: row.try_get("", "wrong")?,
            extra: row.try_get("", "extra")?,
        });
    }
    txn.rollback().await?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_alias_leaves_the_from_list() {
        let all = sources(DatabaseBackend::Sqlite);
        let listings = source(&all, &LISTINGS);
        assert_eq!(
            listings.select(&[("p", "OLD")]),
            "SELECT g.unit_id AS unit_id, r.platform AS platform, r.status AS status, 1 AS n \
             FROM listings r, groups g WHERE OLD.id = r.product_id AND g.id = OLD.group_id \
             AND r.archived_at IS NULL AND OLD.archived_at IS NULL"
        );
        let groups = source(&all, &GROUPS);
        assert_eq!(
            groups.select(&[("r", "NEW")]),
            "SELECT NEW.unit_id AS unit_id, NEW.kind AS kind, NEW.status AS status, 1 AS n"
        );
    }

    #[test]
    fn an_optional_parent_is_left_joined_or_becomes_a_condition() {
        let all = sources(DatabaseBackend::Sqlite);
        let outcomes = source(&all, &OUTCOME_TOTALS);
        // Joined right after the table its condition names (a comma-separated FROM lets a
        // join's condition name its own item only), also when the fact row is a record.
        assert_eq!(
            outcomes.select(&[("g", "OLD")]),
            "SELECT OLD.unit_id AS unit_id, r.kind AS kind, COALESCE(t.kind, 'WALK_IN') AS \
             task_kind, 1 AS n, r.count AS amount FROM activity_outcomes r, activities act \
             LEFT JOIN tasks t ON t.id = act.task_id WHERE act.id = r.activity_id AND \
             OLD.id = act.group_id"
        );
        assert_eq!(
            outcomes.select(&[("act", "NEW")]),
            "SELECT g.unit_id AS unit_id, r.kind AS kind, COALESCE(t.kind, 'WALK_IN') AS \
             task_kind, 1 AS n, r.count AS amount FROM activity_outcomes r LEFT JOIN tasks t \
             ON t.id = NEW.task_id, groups g WHERE NEW.id = r.activity_id AND \
             g.id = NEW.group_id"
        );
        // Bound, it is the record whose rows move: reports without a task are not among them.
        assert_eq!(
            outcomes.select(&[("t", "OLD")]),
            "SELECT g.unit_id AS unit_id, r.kind AS kind, COALESCE(OLD.kind, 'WALK_IN') AS \
             task_kind, 1 AS n, r.count AS amount FROM activity_outcomes r, activities act, \
             groups g WHERE act.id = r.activity_id AND g.id = act.group_id AND \
             OLD.id = act.task_id"
        );
    }

    #[test]
    fn on_postgres_a_report_updates_both_activity_rollups_from_one_trigger() {
        let names = |backend| -> Vec<String> {
            triggers(backend)
                .into_iter()
                .filter(|t| t.table == "activities" && t.event == "INSERT")
                .map(|t| t.name)
                .collect()
        };
        assert_eq!(
            names(DatabaseBackend::Postgres),
            ["rollup_activities_on_insert"]
        );
        assert_eq!(
            names(DatabaseBackend::Sqlite),
            [
                "rollup_activities_on_insert",
                "rollup_activity_totals_on_insert"
            ]
        );
        let sql = report_insert_on_postgres().create(DatabaseBackend::Postgres);
        for table in ["rollup_activities", "rollup_activity_totals"] {
            assert!(sql[0].contains(&format!("INSERT INTO {table} ")), "{sql:?}");
        }
        assert_eq!(sql[0].matches("FROM groups g").count(), 1, "{sql:?}");
    }

    #[test]
    fn taking_away_negates_every_sum() {
        let sql = apply(&ACTIVITIES, -1, "SELECT 1");
        assert!(sql.contains("-SUM(s.n), -SUM(s.residents_helped), -SUM(s.vneid_activations)"));
        assert!(sql.contains("ON CONFLICT (unit_id, own, task_kind, day)"));
    }
}
