//! Names sort as a Vietnamese reader expects and search finds what people type: units, groups
//! and members in dictionary order (ă after a, đ after d, tones after letters, numbers by
//! value), the same pages on SQLite and PostgreSQL, searches by every word in any order, and
//! members by phone number in any common spelling.

use cdtg_api::ids::NodeType;
use cdtg_core::group::GroupKind;
use cdtg_core::unit::UnitKind;
use serde_json::{Value, json};

use crate::fixture::{self, Fixture, PASSWORD, gid, users};
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

/// The `name` (or `fullName`) of every node of a connection, in order.
fn names(connection: &Value) -> Vec<String> {
    connection["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("a connection: {connection}"))
        .iter()
        .map(|n| {
            n.get("name")
                .or_else(|| n.get("fullName"))
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("a named node: {n}"))
                .to_owned()
        })
        .collect()
}

/// The materialised path of a fixture unit whose ancestors are `ids`, root first.
fn path(ids: &[i64]) -> String {
    let mut p = "/".to_owned();
    for id in ids {
        p.push_str(&format!("{id}/"));
    }
    p
}

async fn units_and_groups_sort_in_vietnamese_order(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let db = &app.state.db;
    let token = app.login(users::ADMIN, PASSWORD).await;

    // Inserted out of order, so that neither ids nor bytes give the expected order.
    let district_a = path(&[f.city, f.district_a]);
    fixture::unit(
        db,
        "An Hải Tây",
        UnitKind::Ward,
        Some((f.district_a, &district_a)),
    )
    .await;
    let (dong, dong_path) = fixture::unit(
        db,
        "An Hải Đông",
        UnitKind::Ward,
        Some((f.district_a, &district_a)),
    )
    .await;
    for name in [
        "Tổ dân phố 10",
        "Tổ dân phố 2",
        "Tổ dân phố 11",
        "Tổ dân phố 1",
    ] {
        fixture::unit(
            db,
            name,
            UnitKind::ResidentialGroup,
            Some((dong, &dong_path)),
        )
        .await;
    }
    let residential = [
        "Tổ dân phố 1",
        "Tổ dân phố 2",
        "Tổ dân phố 10",
        "Tổ dân phố 11",
    ];

    let d = app
        .ok(
            &token,
            r#"query($a: ID!, $dong: ID!) {
                 wards: adminUnits(filter: { parentId: $a }) { nodes { name } }
                 found: adminUnits(filter: { search: "an hai", kind: WARD }) { nodes { name } }
                 first: adminUnits(filter: { parentId: $dong }, first: 2) {
                   pageInfo { hasNextPage endCursor } nodes { name } }
                 dong: adminUnit(id: $dong) { children { nodes { name } } }
               }"#,
            json!({ "a": gid(NodeType::AdminUnit, f.district_a), "dong": gid(NodeType::AdminUnit, dong) }),
        )
        .await;
    assert_eq!(
        names(&d["wards"]),
        ["An Hải Bắc", "An Hải Đông", "An Hải Tây", "Phước Mỹ"]
    );
    assert_eq!(
        names(&d["found"]),
        ["An Hải Bắc", "An Hải Đông", "An Hải Tây"]
    );
    assert_eq!(names(&d["dong"]["children"]), residential);
    assert_eq!(names(&d["first"]), residential[..2]);
    assert_eq!(d["first"]["pageInfo"]["hasNextPage"], true);
    let next = app
        .ok(
            &token,
            r#"query($dong: ID!, $after: String) {
                 adminUnits(filter: { parentId: $dong }, first: 2, after: $after) {
                   pageInfo { hasNextPage } nodes { name } } }"#,
            json!({ "dong": gid(NodeType::AdminUnit, dong), "after": d["first"]["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(names(&next["adminUnits"]), residential[2..]);
    assert_eq!(next["adminUnits"]["pageInfo"]["hasNextPage"], false);

    // Groups: orderBy NAME both ways, the default order, and the nested unit edge.
    for name in [
        "Tổ CNSCĐ Tổ dân phố 10",
        "Tổ CNSCĐ An Hải Tây",
        "Tổ CNSCĐ Tổ dân phố 2",
        "Tổ CNSCĐ An Hải Đông",
    ] {
        fixture::group(db, name, GroupKind::Community, dong).await;
    }
    let expected = [
        "Tổ CNSCĐ An Hải Đông",
        "Tổ CNSCĐ An Hải Tây",
        "Tổ CNSCĐ Tổ dân phố 2",
        "Tổ CNSCĐ Tổ dân phố 10",
    ];
    let d = app
        .ok(
            &token,
            r#"query($dong: ID!, $a: ID!) {
                 asc: groups(filter: { unitId: $dong }, orderBy: { field: NAME, direction: ASC }) { nodes { name } }
                 desc: groups(filter: { unitId: $dong }, orderBy: { field: NAME, direction: DESC }) { nodes { name } }
                 default: groups(filter: { unitId: $dong }) { nodes { name } }
                 found: groups(filter: { unitId: $a, search: "an hai" }) { nodes { name } }
                 unit: adminUnit(id: $dong) { groups { nodes { name } } }
               }"#,
            json!({ "dong": gid(NodeType::AdminUnit, dong), "a": gid(NodeType::AdminUnit, f.district_a) }),
        )
        .await;
    assert_eq!(names(&d["asc"]), expected);
    assert_eq!(names(&d["default"]), expected);
    assert_eq!(names(&d["unit"]["groups"]), expected);
    let mut reversed = expected.to_vec();
    reversed.reverse();
    assert_eq!(names(&d["desc"]), reversed);
    assert_eq!(
        names(&d["found"]),
        [
            "Tổ CNSCĐ An Hải Bắc",
            "Tổ CNSCĐ An Hải Đông",
            "Tổ CNSCĐ An Hải Tây"
        ]
    );

    // People by given name, then family name, then middle name: Chung, Hà, Tuấn.
    let d = app
        .ok(
            &token,
            r#"query($u: ID!, $g: ID!) {
                 members(filter: { unitId: $u }) { nodes { fullName } }
                 group(id: $g) { members { nodes { fullName } } }
               }"#,
            json!({ "u": gid(NodeType::AdminUnit, f.rg_a1), "g": gid(NodeType::Group, f.group_a1) }),
        )
        .await;
    let people = ["Nguyễn Văn Chung", "Trần Thị Hà", "Lê Minh Tuấn"];
    assert_eq!(names(&d["members"]), people);
    assert_eq!(names(&d["group"]["members"]), people);
}

/// The names a connection's `search` filter finds.
async fn search(app: &TestApp, token: &str, what: &str, text: &str) -> Vec<String> {
    let field = if what == "members" {
        "fullName"
    } else {
        "name"
    };
    let query = format!(
        "query($s: String) {{ {what}(filter: {{ search: $s }}) {{ nodes {{ {field} }} }} }}"
    );
    let d = app.ok(token, &query, json!({ "s": text })).await;
    names(&d[what])
}

async fn search_matches_every_word_and_every_phone_spelling(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    Fixture::load(&app).await;
    let token = app.login(users::ADMIN, PASSWORD).await;
    let search = |what: &'static str, text: &'static str| search(&app, &token, what, text);

    let chung = ["Nguyễn Văn Chung"];
    for words in [
        "nguyen van",
        "van nguyen",
        "Chung NGUYỄN",
        "  văn   chung ",
        "nguyen van chung",
    ] {
        assert_eq!(search("members", words).await, chung, "{words}");
    }
    assert!(
        search("members", "nguyen tuan").await.is_empty(),
        "every word must match"
    );
    assert_eq!(search("adminUnits", "hai an").await, ["An Hải Bắc"]);
    assert_eq!(
        search("groups", "phuoc my cnscd").await,
        ["Tổ CNSCĐ Tổ dân phố 1 – Phước Mỹ"]
    );
    // What users type is never a pattern.
    for wildcard in ["%", "_", "an%hai", "\\"] {
        assert!(
            search("adminUnits", wildcard).await.is_empty(),
            "{wildcard}"
        );
    }

    for phone in [
        "0905 123 456",
        "0905123456",
        "+84905123456",
        "84905123456",
        "905123456",
        "+84 905 123 456",
        "0905.123.456",
        "(0905) 123-456",
    ] {
        assert_eq!(search("members", phone).await, chung, "{phone}");
    }
    // Four or more digits match anywhere in the number: digits someone remembers, or the start
    // with its national 0.
    assert_eq!(
        search("members", "123 456").await,
        ["Nguyễn Văn Chung", "Trần Thị Hà"],
        "+84905123456 and +84912345678"
    );
    assert_eq!(search("members", "0905").await, chung);
    assert_eq!(search("members", "+84 90").await, chung);
    // Fewer digits are too vague: nothing, not an error.
    assert!(search("members", "456").await.is_empty());
    assert!(search("members", "0905 999 999").await.is_empty());
}

on_both_databases!(
    units_and_groups_sort_in_vietnamese_order,
    search_matches_every_word_and_every_phone_spelling,
);

/// Names that differ in every way the order cares about (letters, tones, case, numbers, leading
/// zeros, punctuation, a repeated name for the id tie-break), in a scrambled order.
const TRICKY: [&str; 24] = [
    "Tổ dân phố 10",
    "An Hải Tây",
    "an hải bắc",
    "Tổ dân phố 02",
    "Đà Sơn",
    "Tổ dân phố 2",
    "An Hải Đông",
    "Da Nang",
    "Tổ 12-A",
    "Tổ dân phố 1",
    "Ân Thạnh",
    "An Hải Bắc",
    "Tổ 12A",
    "Ăn Uống",
    "Tổ 12 A",
    "Tổ dân phố 2",
    "Hoà Khánh",
    "Hòa Khánh",
    "Hoà Minh",
    "Ông Ích Khiêm",
    "Ô Chợ Dừa",
    "Ơn Trời",
    "Ưng Hòa",
    "Uông Bí",
];

/// Every page of `query` (a connection at `field`, paged 5 at a time), flattened to names.
async fn all_pages(
    app: &TestApp,
    token: &str,
    field: &str,
    query: &str,
    vars: Value,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let mut v = vars.clone();
        v["after"] = after;
        let d = app.ok(token, query, v).await;
        out.extend(names(&d[field]));
        if d[field]["pageInfo"]["hasNextPage"] != true {
            return out;
        }
        after = d[field]["pageInfo"]["endCursor"].clone();
    }
}

/// The same rows on both databases give the same pages, in the order of the core sort key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_give_identical_pages() {
    let Some(postgres) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let sqlite = TestApp::spawn(Backend::Sqlite)
        .await
        .expect("SQLite is always there");
    let mut pages = Vec::new();
    for app in [&sqlite, &postgres] {
        let f = Fixture::load(app).await;
        let db = &app.state.db;
        let ward_a2 = path(&[f.city, f.district_a, f.ward_a2]);
        let (root, root_path) = fixture::unit(
            db,
            "Khu thử",
            UnitKind::ResidentialGroup,
            Some((f.ward_a2, &ward_a2)),
        )
        .await;
        for name in TRICKY {
            fixture::unit(db, name, UnitKind::Village, Some((root, &root_path))).await;
            fixture::group(db, &format!("Nhóm {name}"), GroupKind::Community, root).await;
        }
        let token = app.login(users::ADMIN, PASSWORD).await;
        let vars = json!({ "u": gid(NodeType::AdminUnit, root) });
        let units = all_pages(
            app,
            &token,
            "adminUnits",
            r#"query($u: ID!, $after: String) { adminUnits(filter: { parentId: $u }, first: 5, after: $after) {
                 pageInfo { hasNextPage endCursor } nodes { name } } }"#,
            vars.clone(),
        )
        .await;
        let groups = all_pages(
            app,
            &token,
            "groups",
            r#"query($u: ID!, $after: String) { groups(filter: { unitId: $u }, orderBy: { field: NAME, direction: ASC }, first: 5, after: $after) {
                 pageInfo { hasNextPage endCursor } nodes { name } } }"#,
            vars,
        )
        .await;
        pages.push((units, groups));
    }
    let mut expected: Vec<&str> = TRICKY.to_vec();
    expected.sort_by_key(|n| cdtg_core::text::sort_key(n));
    assert_eq!(pages[0].0, expected, "SQLite units");
    assert_eq!(pages[1].0, expected, "PostgreSQL units");
    let groups: Vec<String> = expected.iter().map(|n| format!("Nhóm {n}")).collect();
    assert_eq!(pages[0].1, groups, "SQLite groups");
    assert_eq!(pages[1].1, groups, "PostgreSQL groups");
    assert_eq!(
        &expected[..6],
        [
            "an hải bắc",
            "An Hải Bắc",
            "An Hải Đông",
            "An Hải Tây",
            "Ăn Uống",
            "Ân Thạnh"
        ]
    );
}
