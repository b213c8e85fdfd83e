//! The officials' dashboard at `/dashboard`: the page and its assets come from this server under
//! a strict Content-Security-Policy, its script stays far under 1 MB gzipped, its registered
//! operations are read-only queries besides signing in and out; and in headless Chromium with
//! every outside host blocked (tests/browser/dashboard.mjs), on the demo, what it shows to
//! `sontra`, `phuocmy` and `viewer` is what the API answers for the same unit and period, inside
//! each account's scope — also on a server in allow-list mode.
//!
//! Needs the bundle that api/build.rs builds with Node and npm, Debian's `chromium` and
//! `npm ci` in tests/browser. Without them the tests say "skipped: …", except under `CI=true`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use cdtg_api::seed::DEMO_PASSWORD;
use chrono::{Datelike, Duration, NaiveDate, Utc};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_SECURITY_POLICY};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::graphiql::{browser_tools, outside_references, referenced_paths, skip};
use crate::helpers::{Backend, TestApp, TestDb, test_args};
use crate::on_both_databases;

/// The budget for the first view's script, gzipped (README: Dashboard).
const SCRIPT_BUDGET_GZIPPED: usize = 1024 * 1024;

/// The child-unit table's columns, as the API names the figures (`tasksDone` is
/// `tasks(status: DONE)`).
const COLUMNS: &[&str] = &[
    "groups",
    "members",
    "tasksDone",
    "tasksOverdue",
    "taskCompletionRate",
    "activities",
    "residentsHelped",
    "vneidActivations",
];
const RATES: &[&str] = &["taskCompletionRate"];
const STATS: &str = "groups members tasksDone: tasks(status: DONE) tasksOverdue taskCompletionRate activities residentsHelped vneidActivations";

fn bundle_missing() -> bool {
    match cdtg_api::dashboard::dashboard_missing_reason() {
        None => false,
        Some(reason) => skip(&format!(
            "the dashboard was not built ({reason}); build with node and npm on PATH"
        )),
    }
}

// ---- Formats the page must use ----------------------------------------------------------------

/// Today in Asia/Ho_Chi_Minh (UTC+7, no daylight saving).
fn today_vn() -> NaiveDate {
    (Utc::now() + Duration::hours(7)).date_naive()
}

/// `1234567` → `1.234.567` (vi) or `1,234,567` (en).
fn count(n: i64, lang: &str) -> String {
    let digits = n.unsigned_abs().to_string();
    let sep = if lang == "vi" { '.' } else { ',' };
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// `0.325` → `32,5%` (vi) or `32.5%` (en); one decimal at most; null → `—`.
fn percent(rate: Option<f64>, lang: &str) -> String {
    let Some(rate) = rate else {
        return "—".to_owned();
    };
    let tenths = (rate * 1000.0).round() as i64;
    let text = if tenths % 10 == 0 {
        count(tenths / 10, lang)
    } else {
        let dec = if lang == "vi" { ',' } else { '.' };
        format!("{}{dec}{}", count(tenths / 10, lang), tenths % 10)
    };
    format!("{text}%")
}

fn shown(stats: &Value, key: &str, lang: &str) -> String {
    if RATES.contains(&key) {
        percent(stats[key].as_f64(), lang)
    } else {
        count(stats[key].as_i64().expect(key), lang)
    }
}

#[test]
fn formats() {
    assert_eq!(count(1234, "vi"), "1.234");
    assert_eq!(count(1_234_567, "en"), "1,234,567");
    assert_eq!(count(999, "vi"), "999");
    assert_eq!(percent(Some(0.325), "vi"), "32,5%");
    assert_eq!(percent(Some(0.3), "en"), "30%");
    assert_eq!(percent(None, "vi"), "—");
}

// ---- The page ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_page_assets_and_operations() {
    if bundle_missing() {
        return;
    }
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let res = app
        .client
        .get(format!("{}/dashboard", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let csp = res.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self';",
        "style-src 'self';",
        "connect-src 'self';",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    let html = res.text().await.unwrap();
    assert_eq!(outside_references(&html), Vec::<String>::new(), "{html}");
    assert!(html.contains("<html lang=\"vi\">"), "{html}");

    // The script and the stylesheet: same origin, nothing from elsewhere, and the script's
    // gzipped size (what a phone downloads) within budget.
    let refs: Vec<String> = referenced_paths(&html)
        .into_iter()
        .filter(|p| !p.starts_with("data:"))
        .collect();
    assert_eq!(refs.len(), 2, "one script and one stylesheet: {refs:?}");
    let mut script_gzipped = 0;
    for path in &refs {
        assert!(path.starts_with("/dashboard/assets/"), "{path}");
        let url = format!("{}{path}", app.address);
        let plain = app.client.get(&url).send().await.unwrap();
        assert_eq!(plain.status(), StatusCode::OK, "{path}");
        let body = plain.text().await.unwrap();
        assert_eq!(outside_references(&body), Vec::<String>::new(), "{path}");
        let gz = app
            .client
            .get(&url)
            .header(ACCEPT_ENCODING, "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(gz.headers()[CONTENT_ENCODING], "gzip", "{path}");
        let bytes = gz.bytes().await.unwrap().len();
        println!("{path}: {} bytes, {bytes} bytes gzipped", body.len());
        if path.contains(".js") {
            script_gzipped = bytes;
        }
    }
    assert!(
        script_gzipped > 1000 && script_gzipped < SCRIPT_BUDGET_GZIPPED,
        "script: {script_gzipped} bytes gzipped"
    );

    // What allow-list mode registers for the dashboard: queries, and the three session
    // mutations; each hash is its text's.
    let ops = cdtg_api::dashboard::operations();
    assert!(ops.len() >= 6, "{ops:?}");
    let mut mutations = BTreeSet::new();
    for (hash, query) in &ops {
        assert_eq!(cdtg_api::persisted::sha256_hex(query), *hash);
        if let Some(rest) = query.strip_prefix("mutation ") {
            let root = rest.split('{').nth(1).unwrap().trim();
            mutations.insert(root.split(['(', ' ']).next().unwrap().to_owned());
        } else {
            assert!(query.starts_with("query "), "{query}");
        }
    }
    assert_eq!(
        mutations,
        BTreeSet::from(["login", "logout", "refreshToken"].map(String::from))
    );
}

// ---- In the browser ---------------------------------------------------------------------------

struct Browser {
    dir: PathBuf,
    chromium: String,
}

fn browser() -> Option<Browser> {
    let (dir, chromium) = browser_tools()?;
    Some(Browser { dir, chromium })
}

impl Browser {
    /// Runs tests/browser/dashboard.mjs as `user`; returns its report.
    async fn run(
        &self,
        address: &str,
        user: &str,
        drill: Option<&str>,
        foreign: Option<&str>,
        tag: &str,
    ) -> Value {
        let report_dir = tempfile::tempdir().unwrap();
        let report_file = report_dir.path().join("report.json");
        let mut command = Command::new("node");
        command
            .env("CDTG_REPORT", &report_file)
            .arg(self.dir.join("dashboard.mjs"))
            .env("CDTG_URL", address)
            .env("CDTG_USERNAME", user)
            .env("CDTG_PASSWORD", DEMO_PASSWORD)
            .env("CDTG_DRILL", drill.unwrap_or(""))
            .env("CDTG_FOREIGN_UNIT", foreign.unwrap_or(""))
            .env("CDTG_TAG", tag)
            .env("CHROMIUM", &self.chromium)
            .current_dir(&self.dir);
        let out = tokio::task::spawn_blocking(move || command.output().expect("run node"))
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "tests/browser/dashboard.mjs as {user} failed ({}):\n{stderr}\n{}",
            out.status,
            &stdout[..stdout.len().min(4000)]
        );
        let text = std::fs::read_to_string(&report_file).expect("the script wrote its report");
        serde_json::from_str(&text).expect("the report is JSON")
    }
}

/// The year of today, as the page's default period asks for it.
fn year_period() -> Value {
    json!({ "kind": "YEAR", "date": today_vn().to_string() })
}

async fn unit_named(app: &TestApp, token: &str, name: &str) -> String {
    let d = app
        .ok(
            token,
            "query($s: String!) { adminUnits(filter: { search: $s }, first: 10) { nodes { id name } } }",
            json!({ "s": name }),
        )
        .await;
    d["adminUnits"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("no unit {name}: {d}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `statsBreakdown(by: CHILD_UNIT)` as `user` sees it: (unit id, name, figures) per row.
async fn breakdown(app: &TestApp, token: &str, unit: &str, period: &Value) -> Vec<Value> {
    let q = format!(
        "query($u: ID!, $p: PeriodInput) {{ statsBreakdown(unitId: $u, by: [CHILD_UNIT], period: $p) {{ rows {{ unit {{ id name }} stats {{ {STATS} }} }} }} }}"
    );
    let d = app.ok(token, &q, json!({ "u": unit, "p": period })).await;
    d["statsBreakdown"]["rows"].as_array().unwrap().clone()
}

/// The page's table shows exactly the API's rows with the API's figures, formatted for `lang`,
/// in the API's Vietnamese name order (the page sorts by name in the browser).
fn assert_table(page: &Value, api_rows: &[Value], unit: &str, lang: &str, what: &str) {
    let page_rows = page["rows"].as_array().unwrap();
    assert_eq!(
        page_rows.len(),
        api_rows.len(),
        "{what}: rows on the page {page_rows:?}"
    );
    let page_order: Vec<&Value> = page_rows
        .iter()
        .map(|r| &r["id"])
        .filter(|id| *id != unit)
        .collect();
    let api_order: Vec<&Value> = api_rows
        .iter()
        .map(|r| &r["unit"]["id"])
        .filter(|id| *id != unit)
        .collect();
    assert_eq!(page_order, api_order, "{what}: name order");
    for row in api_rows {
        let id = row["unit"]["id"].as_str().unwrap();
        let shown_row = page_rows
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("{what}: {} is not on the page", row["unit"]["name"]));
        let name = row["unit"]["name"].as_str().unwrap();
        let label = shown_row["name"].as_str().unwrap();
        assert!(label.starts_with(name), "{what}: {label} for {name}");
        assert_eq!(shown_row["direct"] == true, id == unit, "{what}: {name}");
        for key in COLUMNS {
            assert_eq!(
                shown_row["cells"][*key].as_str().unwrap(),
                shown(&row["stats"], key, lang),
                "{what}: {name}, {key}"
            );
        }
    }
}

/// The CSV has a header and one line per row, with the API's figures unformatted.
fn assert_csv(csv: &str, api_rows: &[Value], what: &str) {
    let csv = csv
        .strip_prefix('\u{feff}')
        .expect("a UTF-8 byte-order mark for spreadsheets");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), api_rows.len() + 1, "{what}: {csv}");
    let by_name: BTreeMap<String, Vec<String>> = lines[1..]
        .iter()
        .map(|l| {
            let cells: Vec<String> = l.split(',').map(str::to_owned).collect();
            (cells[0].clone(), cells[1..].to_vec())
        })
        .collect();
    for row in api_rows {
        let name = row["unit"]["name"].as_str().unwrap();
        let (_, cells) = by_name
            .iter()
            .find(|(label, _)| label.starts_with(name))
            .unwrap_or_else(|| panic!("{what}: {name} missing from the CSV"));
        for (key, cell) in COLUMNS.iter().zip(cells) {
            let expected = if RATES.contains(key) {
                row["stats"][*key]
                    .as_f64()
                    .map_or(String::new(), |r| format!("{:.1}", r * 100.0))
            } else {
                row["stats"][*key].as_i64().unwrap().to_string()
            };
            assert_eq!(*cell, expected, "{what}: CSV {name} {key}");
        }
    }
}

/// The requests of a view: each of `ops` once by hash, at most once more with its text (the
/// automatic-persisted-query round trip on a server that has not seen it yet); never with its
/// text in allow-list mode.
fn assert_requests(requests: &Value, ops: &[&str], allow_list: bool, what: &str) {
    let mut seen: BTreeMap<String, Vec<bool>> = BTreeMap::new();
    for r in requests.as_array().unwrap() {
        seen.entry(r["op"].as_str().unwrap().to_owned())
            .or_default()
            .push(r["withText"] == true);
    }
    let names: BTreeSet<&str> = seen.keys().map(String::as_str).collect();
    assert_eq!(names, ops.iter().copied().collect(), "{what}: {requests}");
    for (op, sends) in &seen {
        let ok = sends == &[false] || (!allow_list && sends == &[false, true]);
        assert!(ok, "{what}: {op} sent as {sends:?}");
    }
}

/// A unit outside the account's scope, typed into the address, shows a notice and nothing of
/// the unit, not even its name.
fn assert_foreign(report: &Value, name: &str, what: &str) {
    let foreign = &report["foreign"];
    assert_eq!(foreign["notice"], 1, "{what}: {foreign}");
    assert_eq!(foreign["unitName"], 0, "{what}: {foreign}");
    let text = foreign["bodyText"].as_str().unwrap();
    assert!(!text.contains(name), "{what}: {name} shows: {text}");
}

/// What every run must show: no outside request, no policy violation, no error, the phone
/// width without horizontal scrolling, the language switch, a silent refresh and a real
/// sign-out.
async fn assert_common(app: &TestApp, report: &Value, what: &str) {
    assert_eq!(report["status"], 200, "{what}");
    assert_eq!(report["outside"], json!([]), "{what}: outside requests");
    assert_eq!(report["cspErrors"], json!([]), "{what}");
    assert_eq!(report["consoleErrors"], json!([]), "{what}");
    assert_eq!(report["htmlLang"], "vi", "{what}");
    let labels = report["signInLabels"].to_string();
    assert!(
        labels.contains("Tên đăng nhập") && labels.contains("Mật khẩu"),
        "{labels}"
    );
    assert_eq!(report["english"]["htmlLang"], "en", "{what}");
    assert_eq!(report["english"]["childrenTitle"], "Child units", "{what}");
    assert_eq!(
        report["backToVietnamese"], "Các đơn vị trực thuộc",
        "{what}"
    );
    for (width, phone) in [(390, &report["phone"]), (360, &report["narrow"])] {
        assert!(
            phone["scrollWidth"].as_i64().unwrap() <= phone["clientWidth"].as_i64().unwrap(),
            "{what}: horizontal scrolling at {width} px: {phone}"
        );
        assert!(
            phone["minFont"].as_f64().unwrap() >= 12.0,
            "{what}: text under 12 px at {width} px: {phone}"
        );
    }
    assert_eq!(report["refresh"]["shown"], 1, "{what}");
    assert_eq!(
        report["refresh"]["rotated"], true,
        "{what}: {}",
        report["refresh"]
    );
    assert_eq!(report["signOut"]["stored"], Value::Null, "{what}");
    // The session really ended: its last refresh token no longer works.
    let (_, body) = app
        .gql(
            None,
            "mutation($t: String!) { refreshToken(input: { refreshToken: $t }) { accessToken } }",
            json!({ "t": report["signOut"]["refreshToken"] }),
        )
        .await;
    assert!(
        body["errors"].is_array(),
        "{what}: refresh after sign-out: {body}"
    );
}

async fn dashboard_in_chromium(backend: Backend) {
    if bundle_missing() {
        return;
    }
    let Some(browser) = browser() else {
        return;
    };
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.seed_demo_beside().await;
    let period = year_period();
    let admin = app.login("admin", DEMO_PASSWORD).await;
    let sontra_token = app.login("sontra", DEMO_PASSWORD).await;
    let son_tra = unit_named(&app, &sontra_token, "Sơn Trà").await;
    let phuoc_my = unit_named(&app, &sontra_token, "Phước Mỹ").await;
    // In Thanh Khê: outside Sơn Trà.
    let tan_chinh = unit_named(&app, &admin, "Tân Chính").await;

    // Two targets for Sơn Trà this year: members, already reached (half of today's count), and
    // activities, far out of reach (so behind at any date).
    let figures = app
        .ok(
            &sontra_token,
            "query($u: ID!, $p: PeriodInput) { adminUnit(id: $u) { stats(period: $p) { members activities } } }",
            json!({ "u": son_tra, "p": period }),
        )
        .await;
    let members = figures["adminUnit"]["stats"]["members"].as_i64().unwrap();
    let activities = figures["adminUnit"]["stats"]["activities"]
        .as_i64()
        .unwrap();
    let year = today_vn().year();
    for (indicator, value) in [
        ("MEMBERS", (members / 2) as f64),
        ("ACTIVITIES", 90_000_000.0),
    ] {
        app.ok(
            &admin,
            "mutation($i: SetUnitTargetInput!) { setUnitTarget(input: $i) { target { indicator } } }",
            json!({ "i": { "unitId": son_tra, "indicator": indicator, "periodStart": format!("{year}-01-01"), "periodEnd": format!("{year}-12-31"), "targetValue": value } }),
        )
        .await;
    }

    // ---- sontra: Sơn Trà's wards, then Phước Mỹ ----
    let report = browser
        .run(
            &app.address,
            "sontra",
            Some("Phước Mỹ"),
            Some(&tan_chinh),
            &format!("sontra-{backend:?}"),
        )
        .await;
    assert_common(&app, &report, "sontra").await;
    assert_foreign(&report, "Tân Chính", "sontra");
    let landing = &report["landing"];
    assert_eq!(landing["name"], "Sơn Trà");
    assert_eq!(landing["crumbs"], json!(["Sơn Trà"]));
    let columns: Vec<&str> = landing["columns"].as_array().unwrap()[1..]
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(columns, COLUMNS, "the table's columns");
    let son_tra_rows = breakdown(&app, &sontra_token, &son_tra, &period).await;
    assert!(son_tra_rows.len() >= 7, "Sơn Trà's wards: {son_tra_rows:?}");
    assert_table(landing, &son_tra_rows, &son_tra, "vi", "sontra, Sơn Trà");
    assert_csv(
        report["csv"]["text"].as_str().unwrap(),
        &son_tra_rows,
        "sontra",
    );
    assert_eq!(landing["cards"]["members"]["text"], count(members, "vi"));
    assert_eq!(
        landing["cards"]["activities"]["text"],
        count(activities, "vi")
    );
    assert_eq!(
        report["english"]["unit"]["cards"]["members"]["text"],
        count(members, "en")
    );
    let target_state = |key: &str| {
        landing["cards"][key]["targets"][0]["state"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(
        target_state("members").contains("reached"),
        "{}",
        landing["cards"]["members"]
    );
    assert!(
        target_state("activities").contains("behind"),
        "{}",
        landing["cards"]["activities"]
    );
    assert_eq!(landing["cards"]["groups"]["targets"], json!([]));
    // Sorted by members, most first (the row of what is attached to Sơn Trà itself stays last).
    let sorted: Vec<i64> = report["sortedByMembers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|id| **id != son_tra)
        .map(|id| {
            son_tra_rows
                .iter()
                .find(|r| r["unit"]["id"] == *id)
                .map(|r| r["stats"]["members"].as_i64().unwrap())
                .unwrap()
        })
        .collect();
    assert_eq!(
        sorted.len(),
        son_tra_rows
            .iter()
            .filter(|r| r["unit"]["id"] != son_tra.as_str())
            .count()
    );
    assert!(
        sorted.windows(2).all(|w| w[0] >= w[1]),
        "by members: {sorted:?}"
    );
    assert_eq!(report["ariaSort"], "descending");
    // The month costs one request, with the month's figures.
    assert_requests(
        &report["monthRequests"],
        &["DashboardUnit"],
        false,
        "sontra month",
    );
    let month = json!({ "kind": "MONTH", "date": today_vn().to_string() });
    assert_table(
        &report["month"],
        &breakdown(&app, &sontra_token, &son_tra, &month).await,
        &son_tra,
        "vi",
        "sontra, this month",
    );
    // Tasks to act on, and the weekly trend, as the API counts them.
    let tasks = app
        .ok(
            &sontra_token,
            "query($u: ID!) { o: tasks(filter: { unitId: $u, overdue: true }) { totalCount } s: tasks(filter: { unitId: $u, status: [SUBMITTED] }) { totalCount } }",
            json!({ "u": son_tra }),
        )
        .await;
    let shown_total = |text: &Value| {
        text.as_str()
            .unwrap()
            .trim_matches(['(', ')'])
            .split(" / ")
            .nth(1)
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        shown_total(&landing["overdue"]),
        count(tasks["o"]["totalCount"].as_i64().unwrap(), "vi")
    );
    assert_eq!(
        shown_total(&landing["submitted"]),
        count(tasks["s"]["totalCount"].as_i64().unwrap(), "vi")
    );
    let today = today_vn();
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let weeks = app
        .ok(
            &sontra_token,
            "query($u: ID!, $p: PeriodInput) { statsBreakdown(unitId: $u, by: [WEEK], period: $p) { rows { week stats { activities } } } }",
            json!({ "u": son_tra, "p": { "from": (monday - Duration::weeks(11)).to_string(), "to": today.to_string() } }),
        )
        .await;
    let expected_weeks: Vec<i64> = (0..12)
        .map(|i| {
            let week = (monday - Duration::weeks(11 - i)).to_string();
            weeks["statsBreakdown"]["rows"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["week"] == week)
                .map_or(0, |r| r["stats"]["activities"].as_i64().unwrap())
        })
        .collect();
    assert_eq!(
        landing["weekly"],
        json!(expected_weeks),
        "weekly activities"
    );
    assert!(
        expected_weeks.iter().any(|w| *w > 0),
        "the demo has recent activities"
    );
    // Drilled down into Phước Mỹ: its residential groups.
    let drilled = &report["drilled"];
    assert_eq!(drilled["name"], "Phước Mỹ");
    assert_eq!(drilled["crumbs"], json!(["Sơn Trà", "Phước Mỹ"]));
    let phuoc_my_rows = breakdown(&app, &sontra_token, &phuoc_my, &period).await;
    assert!(!phuoc_my_rows.is_empty());
    assert_table(drilled, &phuoc_my_rows, &phuoc_my, "vi", "sontra, Phước Mỹ");
    assert_requests(
        &report["drillRequests"],
        &[
            "DashboardUnit",
            "DashboardTrends",
            "DashboardTasks",
            "DashboardQuietGroups",
        ],
        false,
        "sontra drill-down",
    );

    // ---- phuocmy: Phước Mỹ only ----
    let phuocmy_token = app.login("phuocmy", DEMO_PASSWORD).await;
    let other_wards: Vec<String> = son_tra_rows
        .iter()
        .map(|r| r["unit"]["name"].as_str().unwrap().to_owned())
        .filter(|n| n != "Phước Mỹ" && n != "Sơn Trà")
        .collect();
    let check_phuocmy = |report: Value, allow_list: bool| {
        let app = &app;
        let phuocmy_token = phuocmy_token.clone();
        let phuoc_my = phuoc_my.clone();
        let other_wards = other_wards.clone();
        let period = period.clone();
        async move {
            let what = if allow_list {
                "phuocmy (allow-list)"
            } else {
                "phuocmy"
            };
            assert_common(app, &report, what).await;
            assert_foreign(&report, "Sơn Trà", what);
            let landing = &report["landing"];
            assert_eq!(landing["name"], "Phước Mỹ", "{what}");
            assert_eq!(landing["crumbs"], json!(["Phước Mỹ"]), "{what}");
            let rows = breakdown(app, &phuocmy_token, &phuoc_my, &period).await;
            assert_table(landing, &rows, &phuoc_my, "vi", what);
            assert_csv(report["csv"]["text"].as_str().unwrap(), &rows, what);
            let text = landing["bodyText"].as_str().unwrap();
            for other in other_wards.iter().chain([&"Sơn Trà".to_owned()]) {
                assert!(
                    !text.contains(other.as_str()),
                    "{what}: {other} on the page"
                );
            }
            // The quiet groups are those the API finds without activities in 30 days.
            let until = today_vn();
            let since = until - Duration::days(29);
            let groups = app
                .ok(
                    &phuocmy_token,
                    "query($u: ID!, $f: Date!, $t: Date!) { groups(filter: { unitId: $u, kind: COMMUNITY }, first: 100) { nodes { name stats(period: { from: $f, to: $t }) { activities } } } }",
                    json!({ "u": phuoc_my, "f": since.to_string(), "t": until.to_string() }),
                )
                .await;
            let quiet: BTreeSet<String> = groups["groups"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|g| g["stats"]["activities"] == 0)
                .map(|g| g["name"].as_str().unwrap().to_owned())
                .collect();
            let shown_quiet: BTreeSet<String> = landing["quiet"]
                .as_array()
                .unwrap()
                .iter()
                .map(|q| q.as_str().unwrap().split(" · ").next().unwrap().to_owned())
                .collect();
            assert_eq!(shown_quiet, quiet, "{what}: quiet groups");
            assert_requests(
                &report["landingRequests"],
                &[
                    "DashboardLogin",
                    "DashboardMe",
                    "DashboardUnit",
                    "DashboardTrends",
                    "DashboardTasks",
                    "DashboardQuietGroups",
                ],
                allow_list,
                what,
            );
        }
    };
    let report = browser
        .run(
            &app.address,
            "phuocmy",
            None,
            Some(&son_tra),
            &format!("phuocmy-{backend:?}"),
        )
        .await;
    check_phuocmy(report, false).await;

    // ---- viewer: aggregates of Đà Nẵng and a district, no names of people ----
    let report = browser
        .run(
            &app.address,
            "viewer",
            Some("Sơn Trà"),
            None,
            &format!("viewer-{backend:?}"),
        )
        .await;
    assert_common(&app, &report, "viewer").await;
    let viewer_token = app.login("viewer", DEMO_PASSWORD).await;
    let city = unit_named(&app, &admin, "Đà Nẵng").await;
    let landing = &report["landing"];
    assert_eq!(landing["name"], "Đà Nẵng");
    assert_table(
        landing,
        &breakdown(&app, &viewer_token, &city, &period).await,
        &city,
        "vi",
        "viewer, Đà Nẵng",
    );
    assert_table(
        &report["drilled"],
        &son_tra_rows,
        &son_tra,
        "vi",
        "viewer, Sơn Trà",
    );
    for view in [landing, &report["drilled"]] {
        let sections = view["sections"].to_string();
        assert!(
            !sections.contains("tasks") && !sections.contains("quiet"),
            "viewer: {sections}"
        );
    }
    assert_requests(
        &report["landingRequests"],
        &[
            "DashboardLogin",
            "DashboardMe",
            "DashboardUnit",
            "DashboardTrends",
        ],
        false,
        "viewer",
    );
    let people: Vec<String> = cdtg_api::entity::member::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.full_name)
        .chain(
            cdtg_api::entity::user::Entity::find()
                .all(&app.state.db)
                .await
                .unwrap()
                .into_iter()
                .filter_map(|u| u.display_name),
        )
        .collect();
    assert!(people.len() >= 13_000);
    for view in [landing, &report["drilled"], &report["english"]["unit"]] {
        let text = view["bodyText"].as_str().unwrap();
        if let Some(name) = people.iter().find(|p| text.contains(p.as_str())) {
            panic!("viewer: the name {name} is on the page");
        }
    }

    // ---- allow-list mode: the dashboard's own operations are registered beside the
    // operator's, and nothing else runs ----
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ops.json");
    let only = "query Only { me { username } }";
    std::fs::write(
        &file,
        json!({ cdtg_api::persisted::sha256_hex(only): only }).to_string(),
    )
    .unwrap();
    let mut args = test_args();
    args.persisted_operations = Some(file);
    let locked = TestApp::spawn_on(
        TestDb::Shared {
            url: app.db.url().to_owned(),
        },
        args,
    )
    .await;
    assert_eq!(
        locked
            .error_code(Some(&phuocmy_token), "{ me { role } }", json!({}))
            .await,
        "FORBIDDEN",
        "allow-list mode refuses what is not registered"
    );
    let report = browser
        .run(
            &locked.address,
            "phuocmy",
            None,
            Some(&son_tra),
            &format!("phuocmy-allowlist-{backend:?}"),
        )
        .await;
    check_phuocmy(report, true).await;
    locked.handle.stop(true).await;
}

on_both_databases!(dashboard_in_chromium);
