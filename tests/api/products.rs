//! Local products and their listings kept clean: details updated (an OCOP upgrade, a price),
//! products and listings archived out of the default lists and every statistic and restored,
//! and listings and memberships synced with `updatedSince`.

use cdtg_api::ids::NodeType;
use serde_json::{Value, json};

use crate::fixture::{Fixture, PASSWORD, gid, users};
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

const UPDATE: &str = "mutation($i: UpdateProductInput!) { updateProduct(input: $i) { product { id name ocopStars priceVnd description updatedAt } } }";
const ARCHIVE: &str =
    "mutation($i: ArchiveInput!) { archiveProduct(input: $i) { product { id archivedAt } } }";
const ARCHIVE_LISTING: &str =
    "mutation($i: ArchiveInput!) { archiveListing(input: $i) { listing { id archivedAt } } }";
/// What a ward sees of its products: the lists, the group's products and the statistics.
const SEEN: &str = "query($u: ID!, $g: ID!) {
  products(filter: { unitId: $u }) { totalCount nodes { id listings { id } } }
  archived: products(filter: { unitId: $u, archived: true }) { nodes { id } }
  listings(filter: { unitId: $u }) { totalCount }
  group(id: $g) { products { id } }
  adminUnit(id: $u) { stats { products listings voso: listings(platform: VOSO) } }
}";

fn code(body: &Value) -> (&str, &str) {
    let e = &body["errors"][0]["extensions"];
    (
        e["code"].as_str().unwrap_or(""),
        e["field"].as_str().unwrap_or(""),
    )
}

fn listing_count(seen: &Value) -> i64 {
    let stats = &seen["adminUnit"]["stats"];
    // The fixture lists on Voso only.
    assert_eq!(stats["listings"], stats["voso"]);
    stats["listings"].as_i64().unwrap()
}

async fn products_are_updated_by_whoever_manages_them(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let other_ward = app.login(users::WARD_B1, PASSWORD).await;
    let viewer = app.login(users::VIEWER, PASSWORD).await;
    let product = gid(NodeType::Product, f.product_a1);

    // An OCOP upgrade from 3 to 4 stars, a price and a description; the rest stays.
    let data = app
        .ok(
            &ward,
            UPDATE,
            json!({ "i": { "id": product, "ocopStars": 4, "priceVnd": 95000, "description": "Nước mắm cốt, 40 độ đạm" } }),
        )
        .await;
    let p = &data["updateProduct"]["product"];
    assert_eq!(p["name"], "Nước mắm Nam Ô");
    assert_eq!(p["ocopStars"], 4);
    assert_eq!(p["priceVnd"], 95000);
    assert_eq!(p["description"], "Nước mắm cốt, 40 độ đạm");
    // A rename is found by the accent-free search; null clears the description.
    let data = app
        .ok(
            &ward,
            UPDATE,
            json!({ "i": { "id": product, "name": "Nước mắm nhĩ Nam Ô", "description": null } }),
        )
        .await;
    assert_eq!(data["updateProduct"]["product"]["description"], Value::Null);
    assert_eq!(data["updateProduct"]["product"]["priceVnd"], 95000);
    let found = app
        .ok(
            &ward,
            "{ products(filter: { search: \"mam nhi\" }) { nodes { id ocopStars } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        found["products"]["nodes"],
        json!([{ "id": product, "ocopStars": 4 }])
    );

    // Bad values name their field and change nothing.
    for (input, field) in [
        (json!({ "id": product, "ocopStars": 6 }), "ocopStars"),
        (json!({ "id": product, "priceVnd": -1 }), "priceVnd"),
        (json!({ "id": product, "name": "  " }), "name"),
    ] {
        let (_, body) = app.gql(Some(&ward), UPDATE, json!({ "i": input })).await;
        assert_eq!(code(&body), ("BAD_USER_INPUT", field), "{body}");
    }
    // Out of scope looks missing; a viewer may not.
    let (_, body) = app
        .gql(
            Some(&other_ward),
            UPDATE,
            json!({ "i": { "id": product, "ocopStars": 1 } }),
        )
        .await;
    assert_eq!(code(&body).0, "NOT_FOUND", "{body}");
    let (_, body) = app
        .gql(
            Some(&viewer),
            UPDATE,
            json!({ "i": { "id": product, "ocopStars": 1 } }),
        )
        .await;
    assert_eq!(code(&body).0, "FORBIDDEN", "{body}");
    let stars = app
        .ok(
            &ward,
            "query($p: ID!) { product(id: $p) { ocopStars } }",
            json!({ "p": product }),
        )
        .await;
    assert_eq!(stars["product"]["ocopStars"], 4);
}
on_both_databases!(products_are_updated_by_whoever_manages_them);

async fn archived_products_and_listings_leave_lists_and_statistics(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let other_ward = app.login(users::WARD_B1, PASSWORD).await;
    let product = gid(NodeType::Product, f.product_a1);
    let vars =
        json!({ "u": gid(NodeType::AdminUnit, f.ward_a1), "g": gid(NodeType::Group, f.group_a1) });
    let before = app.ok(&ward, SEEN, vars.clone()).await;
    let listing = before["products"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == product.as_str())
        .expect("the product is listed")["listings"][0]["id"]
        .clone();
    assert!(before["adminUnit"]["stats"]["products"].as_i64().unwrap() >= 1);

    // Another ward cannot archive it (it does not exist for them).
    let (_, body) = app
        .gql(
            Some(&other_ward),
            ARCHIVE,
            json!({ "i": { "id": product } }),
        )
        .await;
    assert_eq!(code(&body).0, "NOT_FOUND", "{body}");

    // Archived: out of the default lists, the group's products and every count, with its
    // listing; listed among the archived ones and still readable by id.
    let archived = app
        .ok(&ward, ARCHIVE, json!({ "i": { "id": product } }))
        .await;
    let archived_at = archived["archiveProduct"]["product"]["archivedAt"].clone();
    assert!(archived_at.is_string(), "{archived}");
    // Archiving again answers the same (a retry).
    let again = app
        .ok(&ward, ARCHIVE, json!({ "i": { "id": product } }))
        .await;
    assert_eq!(
        again["archiveProduct"]["product"]["archivedAt"],
        archived_at
    );
    let seen = app.ok(&ward, SEEN, vars.clone()).await;
    let total = |v: &Value, list: &str| v[list]["totalCount"].as_i64().unwrap();
    assert_eq!(total(&seen, "products"), total(&before, "products") - 1);
    assert_eq!(total(&seen, "listings"), total(&before, "listings") - 1);
    assert_eq!(seen["archived"]["nodes"], json!([{ "id": product }]));
    assert!(
        !seen["group"]["products"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == product.as_str())
    );
    assert_eq!(
        seen["adminUnit"]["stats"]["products"].as_i64().unwrap(),
        before["adminUnit"]["stats"]["products"].as_i64().unwrap() - 1
    );
    assert_eq!(listing_count(&seen), listing_count(&before) - 1);
    let by_id = app
        .ok(
            &ward,
            "query($p: ID!) { product(id: $p) { archivedAt } }",
            json!({ "p": product }),
        )
        .await;
    assert_eq!(by_id["product"]["archivedAt"], archived_at);
    // An archived product takes no new listing.
    let (_, body) = app
        .gql(
            Some(&ward),
            "mutation($i: UpsertListingInput!) { upsertListing(input: $i) { listing { id } } }",
            json!({ "i": { "productId": product, "platform": "POSTMART", "url": "https://postmart.vn/p/1", "status": "ACTIVE" } }),
        )
        .await;
    assert_eq!(code(&body), ("BAD_USER_INPUT", "productId"), "{body}");

    // Restored, everything comes back as it was.
    app.ok(
        &ward,
        ARCHIVE,
        json!({ "i": { "id": product, "archived": false } }),
    )
    .await;
    assert_eq!(app.ok(&ward, SEEN, vars.clone()).await, before);

    // A listing alone: archived, it leaves the lists and the counts; listing it again on the
    // platform restores it.
    let done = app
        .ok(&ward, ARCHIVE_LISTING, json!({ "i": { "id": listing } }))
        .await;
    assert!(done["archiveListing"]["listing"]["archivedAt"].is_string());
    let seen = app.ok(&ward, SEEN, vars.clone()).await;
    assert_eq!(total(&seen, "listings"), total(&before, "listings") - 1);
    assert_eq!(listing_count(&seen), listing_count(&before) - 1);
    assert_eq!(total(&seen, "products"), total(&before, "products"));
    let relisted = app
        .ok(
            &ward,
            "mutation($i: UpsertListingInput!) { upsertListing(input: $i) { listing { id archivedAt } } }",
            json!({ "i": { "productId": product, "platform": "VOSO", "url": format!("https://voso.vn/p/{}", f.product_a1), "status": "ACTIVE" } }),
        )
        .await;
    assert_eq!(relisted["upsertListing"]["listing"]["id"], listing);
    assert_eq!(
        relisted["upsertListing"]["listing"]["archivedAt"],
        Value::Null
    );
    assert_eq!(app.ok(&ward, SEEN, vars).await, before);

    // The statistics equal a rebuild from the facts.
    let city = "{ adminUnits(filter: { rootsOnly: true }) { nodes { stats { products listings active: listings(status: ACTIVE) } } } }";
    let admin = app.login(users::ADMIN, PASSWORD).await;
    let read = app.ok(&admin, city, json!({})).await;
    cdtg_migrations::rollups::rebuild(&app.state.db)
        .await
        .unwrap();
    assert_eq!(app.ok(&admin, city, json!({})).await, read);
}
on_both_databases!(archived_products_and_listings_leave_lists_and_statistics);

async fn listings_and_memberships_sync_with_updated_since(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let now = app
        .ok(&ward, "{ listings { nodes { updatedAt } } }", json!({}))
        .await;
    assert!(!now["listings"]["nodes"].as_array().unwrap().is_empty());
    // Everything so far is older than this instant.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let since = chrono::Utc::now().to_rfc3339();
    let listings =
        "query($s: DateTime!) { listings(filter: { updatedSince: $s }) { nodes { id } } }";
    let memberships = "query($g: ID!, $s: DateTime!) { group(id: $g) { memberships(includeFormer: true, updatedSince: $s) { member { id } active updatedAt } } }";
    let group = gid(NodeType::Group, f.group_a1);
    assert_eq!(
        app.ok(&ward, listings, json!({ "s": since })).await["listings"]["nodes"],
        json!([])
    );
    assert_eq!(
        app.ok(&ward, memberships, json!({ "g": group, "s": since }))
            .await["group"]["memberships"],
        json!([])
    );

    // A listing changes and a member leaves: each sync sees exactly that.
    let listing = app
        .ok(
            &ward,
            "mutation($i: UpsertListingInput!) { upsertListing(input: $i) { listing { id } } }",
            json!({ "i": { "productId": gid(NodeType::Product, f.product_a1), "platform": "VOSO", "url": "https://voso.vn/p/moved", "status": "SUSPENDED" } }),
        )
        .await["upsertListing"]["listing"]["id"]
        .clone();
    assert_eq!(
        app.ok(&ward, listings, json!({ "s": since })).await["listings"]["nodes"],
        json!([{ "id": listing }])
    );
    let third = gid(NodeType::Member, f.member_a1_third);
    let current = app
        .ok(
            &ward,
            "query($g: ID!) { group(id: $g) { memberships { id member { id } } } }",
            json!({ "g": group }),
        )
        .await;
    let membership = current["group"]["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["member"]["id"] == third.as_str())
        .expect("the third member belongs to the group")["id"]
        .clone();
    app.ok(
        &ward,
        "mutation($i: EndMembershipInput!) { endMembership(input: $i) { membership { active } } }",
        json!({ "i": { "id": membership } }),
    )
    .await;
    let synced = app
        .ok(&ward, memberships, json!({ "g": group, "s": since }))
        .await;
    let rows = synced["group"]["memberships"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{synced}");
    assert_eq!(rows[0]["member"]["id"], third);
    assert_eq!(rows[0]["active"], false);
}
on_both_databases!(listings_and_memberships_sync_with_updated_since);
