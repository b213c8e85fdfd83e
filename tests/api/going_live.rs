//! Going live, as the README's "Going live" section tells a city's IT office to do it: the
//! `cdtg` commands run as real processes on an empty database, the server started by the same
//! binary, and a ward leader's first group and task over HTTP. Also the unit file import's
//! refusals, and the 2025 reform applied to the demo with its history.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Backend, TEST_JWT_SECRET, TestApp, TestDb, test_args};
use crate::on_both_databases;

fn cdtg_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cdtg-under-test"))
}

/// A file of the repository (the reference unit files).
fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// Runs `cdtg args…` with `env`; returns success and everything it printed.
pub(crate) fn cdtg(url: &str, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(cdtg_binary());
    cmd.args(args)
        .env("DATABASE_URL", url)
        .env_remove("CDTG_USER_PASSWORD")
        .env_remove("CDTG_ADMIN_PASSWORD")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run cdtg");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `cdtg serve` as a child process, stopped when dropped.
struct Server {
    child: Child,
    address: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn serve(url: &str) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bind = format!("127.0.0.1:{port}");
    let child = Command::new(cdtg_binary())
        .args(["serve", "--bind", &bind])
        .env("DATABASE_URL", url)
        .env("CDTG_JWT_SECRET", TEST_JWT_SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start cdtg serve");
    let server = Server {
        child,
        address: format!("http://{bind}"),
    };
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = client
            .get(format!("{}/readyz", server.address))
            .send()
            .await
            && r.status().is_success()
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("cdtg serve did not become ready on {bind}");
}

async fn gql(address: &str, token: Option<&str>, query: &str, variables: Value) -> Value {
    let mut req = reqwest::Client::new()
        .post(format!("{address}/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let body: Value = req.send().await.unwrap().json().await.unwrap();
    assert!(body.get("errors").is_none(), "{query}: {body}");
    body["data"].clone()
}

async fn login(address: &str, username: &str, password: &str) -> String {
    gql(
        address,
        None,
        "mutation($u: String!, $p: String!) { login(input: { username: $u, password: $p }) { accessToken } }",
        json!({ "u": username, "p": password }),
    )
    .await["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn an_empty_database_becomes_a_running_city(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let url = db.url().to_owned();
    let units = repo_file("reference/units/danang-2025.csv");
    let units = units.to_str().unwrap();

    // The README's commands, in order.
    let (ok, out) = cdtg(&url, &["units", "import", "--check", units], &[]);
    assert!(ok && out.contains("95 units created"), "{out}");
    let (ok, out) = cdtg(
        &url,
        &["init", "--units", units, "--admin-username", "admin"],
        &[("CDTG_ADMIN_PASSWORD", "a long admin password")],
    );
    assert!(ok && out.contains("CITY_ADMIN admin"), "{out}");
    let (ok, out) = cdtg(
        &url,
        &[
            "user",
            "create",
            "--username",
            "anhai",
            "--role",
            "WARD_LEADER",
            "--scope",
            "20275",
        ],
        &[("CDTG_USER_PASSWORD", "a long ward password")],
    );
    assert!(ok, "{out}");
    // `init` is for an empty database only; importing the same file again changes nothing.
    let (ok, out) = cdtg(
        &url,
        &["init", "--units", units, "--admin-username", "admin2"],
        &[("CDTG_ADMIN_PASSWORD", "a long admin password")],
    );
    assert!(!ok && out.contains("already holds units"), "{out}");
    let (ok, out) = cdtg(&url, &["units", "import", units], &[]);
    assert!(
        ok && out.contains("0 units created, 0 updated, 0 moved, 95 unchanged"),
        "{out}"
    );
    assert!(out.contains("units imported: 95 of 95"), "{out}");

    let server = serve(&url).await;
    let admin = login(&server.address, "admin", "a long admin password").await;
    let city = gql(
        &server.address,
        Some(&admin),
        r#"{ adminUnits(filter: { rootsOnly: true }) { nodes { name code children(first: 100) { totalCount } } } }"#,
        json!({}),
    )
    .await;
    assert_eq!(
        city["adminUnits"]["nodes"],
        json!([{ "name": "Đà Nẵng", "code": "48", "children": { "totalCount": 94 } }])
    );

    let leader = login(&server.address, "anhai", "a long ward password").await;
    let an_hai = gql(
        &server.address,
        Some(&leader),
        r#"{ adminUnits(filter: { code: "20275", currentOnly: true }) { nodes { id name } } }"#,
        json!({}),
    )
    .await["adminUnits"]["nodes"][0]
        .clone();
    assert_eq!(an_hai["name"], "An Hải");
    let group = gql(
        &server.address,
        Some(&leader),
        r#"mutation($u: ID!) { createGroup(input: { name: "Tổ công nghệ số cộng đồng Tổ dân phố 1", kind: COMMUNITY, unitId: $u }) { group { id unit { name } } } }"#,
        json!({ "u": an_hai["id"] }),
    )
    .await["createGroup"]["group"]
        .clone();
    assert_eq!(group["unit"]["name"], "An Hải");
    let task = gql(
        &server.address,
        Some(&leader),
        r#"mutation($g: ID!) { createTask(input: { groupId: $g, title: "Kích hoạt VNeID cho cư dân", kind: VNEID_ACTIVATION, target: 50 }) { task { title status } } }"#,
        json!({ "g": group["id"] }),
    )
    .await;
    assert_eq!(task["createTask"]["task"]["status"], "OPEN");
}
on_both_databases!(an_empty_database_becomes_a_running_city);

/// Writes `text` to a file in a fresh directory and returns its path.
fn file(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

async fn bad_unit_files_are_refused_with_located_errors(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let url = db.url().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let header = "code,name,kind,parent_code,valid_from\n";
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "unknown-parent.csv",
            format!("{header}48,Đà Nẵng,PROVINCE,,2020-01-01\n20275,An Hải,WARD,47,2025-07-01\n")
                .into_bytes(),
            "line 3, column parent_code: no unit with code 47",
        ),
        (
            "cycle.csv",
            format!("{header}1,A,WARD,2,2020-01-01\n2,B,WARD,1,2020-01-01\n").into_bytes(),
            "line 2, column parent_code: a cycle of parents: 1 → 2 → 1",
        ),
        (
            "duplicate.csv",
            format!("{header}48,Đà Nẵng,PROVINCE,,2020-01-01\n48,Again,WARD,48,2020-01-01\n")
                .into_bytes(),
            "line 3, column code: code 48 is already used on line 2",
        ),
        (
            "kind.csv",
            format!("{header}48,Đà Nẵng,CITY,,2020-01-01\n").into_bytes(),
            "line 2, column kind: unknown unit kind",
        ),
        (
            "latin1.csv",
            [
                header.as_bytes(),
                b"48,\xD0\xE0 N\xE3ng,PROVINCE,,2020-01-01\n",
            ]
            .concat(),
            "line 2: not UTF-8 text",
        ),
    ];
    for (name, bytes, expected) in cases {
        let path = file(&dir, name, &bytes);
        for check in [true, false] {
            let mut args = vec!["units", "import"];
            if check {
                args.push("--check");
            }
            args.push(&path);
            let (ok, out) = cdtg(&url, &args, &[]);
            assert!(!ok, "{name} accepted: {out}");
            assert!(
                out.contains(expected),
                "{name}: expected {expected:?} in {out}"
            );
            assert!(out.contains(name), "the file is named: {out}");
        }
    }
    // A file with a BOM and a comment is fine; a problem on its last row leaves nothing behind.
    let half = file(
        &dir,
        "half.csv",
        format!(
            "\u{feff}# source: test\n{header}48,Đà Nẵng,PROVINCE,,2020-01-01\n1,X,WARD,48,someday\n"
        )
        .as_bytes(),
    );
    let (ok, out) = cdtg(&url, &["units", "import", &half], &[]);
    assert!(!ok && out.contains("line 4, column valid_from"), "{out}");
    let app = TestApp::spawn_on(db, test_args()).await;
    use sea_orm::{EntityTrait, PaginatorTrait};
    assert_eq!(
        cdtg_api::entity::admin_unit::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        0,
        "nothing was written"
    );
}
on_both_databases!(bad_unit_files_are_refused_with_located_errors);

async fn the_demo_goes_through_the_2025_reform(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let url = db.url().to_owned();
    let mapping = repo_file("reference/units/danang-2025-reform.csv");
    let new_units = repo_file("reference/units/danang-2025.csv");
    let reform = |check: bool| {
        let mut args = vec![
            "units".to_owned(),
            "apply-reform".to_owned(),
            mapping.to_str().unwrap().to_owned(),
            "--units".to_owned(),
            new_units.to_str().unwrap().to_owned(),
            "--effective".to_owned(),
            "2025-07-01".to_owned(),
        ];
        if check {
            args.push("--check".to_owned());
        }
        args
    };

    // The demo has a ward leader of Phước Mỹ (`phuocmy`) and a district officer of Sơn Trà.
    let (ok, out) = cdtg(&url, &["seed", "demo"], &[]);
    assert!(ok, "{out}");
    let password = cdtg_api::seed::DEMO_PASSWORD;

    // The check reports what would change, including the held account, and writes nothing.
    let args = reform(true);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, out) = cdtg(&url, &args, &[]);
    assert!(ok, "{out}");
    assert!(out.contains("64 units closed, 94 created, 1 kept"), "{out}");
    // Its progress, on standard error: each phase as it begins and ends.
    for phase in [
        "reform: [",
        "old units closed: 64 of 64",
        "new units written: 95 of 95",
        "old units merged into their successors: 64 of 64",
    ] {
        assert!(out.contains(phase), "no {phase:?} in {out}");
    }
    for held in ["phuocmy", "sontra", "tanchinh"] {
        assert!(
            out.contains(&format!("held until reassigned: {held}\n")),
            "{held}: {out}"
        );
    }
    assert!(
        out.contains("closed: 20275 Phước Mỹ → 20275 An Hải"),
        "{out}"
    );

    // The whole demo city is read back through the API; with every other test running on the
    // same two cores a statement can outlast the default 10 s deadline, which this test is not
    // about.
    let mut args = test_args();
    args.request_deadline_ms = 60_000;
    let app = TestApp::spawn_on(db, args).await;
    let ward_token = app.login("phuocmy", password).await;
    let still_open = app
        .ok(
            &ward_token,
            r#"{ adminUnits(filter: { search: "phuoc my" }) { nodes { validTo } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        still_open["adminUnits"]["nodes"],
        json!([{ "validTo": null }])
    );

    // Totals before, then the reform for real.
    let city_query = r#"{ adminUnits(filter: { rootsOnly: true }) { nodes { id stats { groups members tasks activities } } } }"#;
    let system = app.login("admin", password).await;
    let before = app.ok(&system, city_query, json!({})).await["adminUnits"]["nodes"][0].clone();
    let args = reform(false);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, out) = cdtg(&url, &args, &[]);
    assert!(ok, "{out}");
    let after = app.ok(&system, city_query, json!({})).await["adminUnits"]["nodes"][0].clone();
    assert_eq!(before, after, "city totals unchanged");
    assert_eq!(after["stats"]["groups"], 2500);
    let city = after["id"].clone();

    // An Hải holds the groups of Phước Mỹ, An Hải Bắc and An Hải Nam (as they were the day
    // before); Phước Mỹ reads as closed, merged into An Hải.
    let data = app
        .ok(
            &system,
            r#"{ anHai: adminUnits(filter: { code: "20275", currentOnly: true }) { nodes { stats { groups members } } }
                 old: adminUnits(filter: { asOf: "2025-06-30", search: "an hai" }) { nodes { name kind validTo mergedInto { name } stats { groups members } } }
                 pm: adminUnits(filter: { search: "phuoc my" }) { nodes { validTo mergedInto { name } stats { groups } } } }"#,
            json!({}),
        )
        .await;
    // An Hải Bắc, An Hải Tây and An Hải Đông (the An Hải Nam of early 2025), and Phước Mỹ.
    // (All-words search also finds "Mân Thái": "man thai" holds "an" and "hai".)
    let old: Vec<&Value> = data["old"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["name"].as_str().unwrap().starts_with("An Hải "))
        .collect();
    assert_eq!(old.len(), 3, "{old:?}");
    assert!(
        old.iter().all(|u| u["mergedInto"]["name"] == "An Hải"),
        "{old:?}"
    );
    let old_groups: i64 = old
        .iter()
        .map(|u| u["stats"]["groups"].as_i64().unwrap())
        .sum();
    assert_eq!(
        data["anHai"]["nodes"][0]["stats"]["groups"]
            .as_i64()
            .unwrap(),
        old_groups + 43
    );
    assert_eq!(
        data["pm"]["nodes"][0],
        json!({ "validTo": "2025-06-30", "mergedInto": { "name": "An Hải" }, "stats": { "groups": 43 } })
    );

    // The city's children: 8 districts as of 2024-12-31, the new units as of 2026; equal sums.
    let breakdown = r#"query($id: ID!, $day: Date) { statsBreakdown(unitId: $id, by: [CHILD_UNIT], asOf: $day) {
        rows { unit { kind } stats { groups members tasks activities } } } }"#;
    let rows_2024 = app
        .ok(
            &system,
            breakdown,
            json!({ "id": city, "day": "2024-12-31" }),
        )
        .await["statsBreakdown"]["rows"]
        .as_array()
        .unwrap()
        .clone();
    let rows_2026 = app
        .ok(
            &system,
            breakdown,
            json!({ "id": city, "day": "2026-01-01" }),
        )
        .await["statsBreakdown"]["rows"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(rows_2024.len(), 8);
    assert!(rows_2024.iter().all(|r| r["unit"]["kind"] == "DISTRICT"));
    assert_eq!(rows_2026.len(), 94);
    for k in ["groups", "members", "tasks", "activities"] {
        let total = |rows: &[Value]| {
            rows.iter()
                .map(|r| r["stats"][k].as_i64().unwrap())
                .sum::<i64>()
        };
        assert_eq!(total(&rows_2024), total(&rows_2026), "{k}");
        assert_eq!(
            total(&rows_2026),
            after["stats"][k].as_i64().unwrap(),
            "{k}"
        );
    }

    // The Phước Mỹ ward leader is held, not widened.
    let (_, body) = app
        .gql(
            None,
            "mutation($p: String!) { login(input: { username: \"phuocmy\", password: $p }) { accessToken } }",
            json!({ "p": password }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    // A token issued before the reform stops working too.
    let (_, body) = app
        .gql(Some(&ward_token), "{ me { username } }", json!({}))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("merged into An Hải"),
        "{body}"
    );
}
on_both_databases!(the_demo_goes_through_the_2025_reform);

async fn the_demo_seeds_with_the_reform_applied(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let (ok, out) = cdtg(db.url(), &["seed", "demo", "--reform"], &[]);
    assert!(ok, "{out}");
    assert!(
        out.contains("applied the 1 July 2025 reform: 64 units closed, 94 created, 1 kept"),
        "{out}"
    );
    let app = TestApp::spawn_on(db, test_args()).await;
    let admin = app.login("admin", cdtg_api::seed::DEMO_PASSWORD).await;
    let data = app
        .ok(
            &admin,
            r#"{ districts: adminUnits(filter: { asOf: "2024-12-31", kind: DISTRICT }) { totalCount }
                 today: adminUnits(filter: { rootsOnly: true }) { nodes { children { totalCount } stats { groups } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["districts"]["totalCount"], 8);
    assert_eq!(
        data["today"]["nodes"][0],
        json!({ "children": { "totalCount": 94 }, "stats": { "groups": 2500 } })
    );
}
on_both_databases!(the_demo_seeds_with_the_reform_applied);

async fn bad_reform_mappings_are_refused_and_change_nothing(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let url = db.url().to_owned();
    let old_units = repo_file("reference/units/danang-2024.csv");
    let new_units = repo_file("reference/units/danang-2025.csv");
    let (ok, out) = cdtg(
        &url,
        &[
            "init",
            "--units",
            old_units.to_str().unwrap(),
            "--admin-username",
            "admin",
        ],
        &[("CDTG_ADMIN_PASSWORD", "a long admin password")],
    );
    assert!(ok, "{out}");
    let mapping =
        std::fs::read_to_string(repo_file("reference/units/danang-2025-reform.csv")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Phước Mỹ's row removed: the ward would be left under a closed district.
    let lossy: String = mapping
        .lines()
        .filter(|l| !l.starts_with("20275,"))
        .map(|l| format!("{l}\n"))
        .collect();
    // An old code that names no unit, on the data's third line (line 5 of the file).
    let unknown = mapping.replacen("20194,20194", "99999,20194", 1);
    let cases = [
        (
            "lossy.csv",
            lossy,
            "Phước Mỹ (20275) lies under a unit that closes but has no row",
        ),
        (
            "unknown.csv",
            unknown,
            "line 5, column old_code: no current unit with code 99999",
        ),
    ];
    for (name, text, expected) in cases {
        let path = file(&dir, name, text.as_bytes());
        for check in [true, false] {
            let mut args = vec![
                "units",
                "apply-reform",
                &path,
                "--units",
                new_units.to_str().unwrap(),
                "--effective",
                "2025-07-01",
            ];
            if check {
                args.push("--check");
            }
            let (ok, out) = cdtg(&url, &args, &[]);
            assert!(!ok, "{name} accepted: {out}");
            assert!(
                out.contains(expected),
                "{name}: expected {expected:?} in {out}"
            );
        }
    }
    // Nothing changed: the old tree is whole and current.
    let (ok, out) = cdtg(
        &url,
        &["units", "import", "--check", old_units.to_str().unwrap()],
        &[],
    );
    assert!(
        ok && out.contains("0 units created, 0 updated, 0 moved, 65 unchanged"),
        "{out}"
    );
}
on_both_databases!(bad_reform_mappings_are_refused_and_change_nothing);
