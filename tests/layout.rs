//! The crate layout, checked on the dependency graph:
//! - the server (`cdtg-api`) and the domain rules (`cdtg-core`) must not depend, even
//!   indirectly, on the phone's UniFFI layer or its SQLite outbox. Those live in `cdtg-phone`
//!   (`android/phone/`) so that the server build never compiles them;
//! - the service layer (`cdtg-service`) must not depend on GraphQL or HTTP: resolvers and
//!   transports call it, never the other way round.
//!
//! A dependency added in passing would quietly undo either, and this test is what notices.
//!
//! It asks `cargo tree` (the same cargo that runs the test) for the normal dependencies only —
//! build and dev dependencies do not reach the binary — and `cargo metadata` for the core's
//! crate types, so it costs a second or two and builds nothing. Its own binary links nothing of
//! the workspace but `serde_json`, so it stays cheap to compile.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Package-name prefixes that belong to the phone alone.
const PHONE_ONLY: [&str; 3] = ["cdtg-phone", "rusqlite", "uniffi"];

/// The package names in the normal-dependency tree of `package`, one per line.
fn normal_dependencies(package: &str) -> Vec<String> {
    cargo(&["tree", "-e", "normal", "--prefix", "none", "-p", package])
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// The standard output of `cargo <args>` run at the workspace root; panics with its error output
/// if it fails.
fn cargo(args: &[&str]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent");
    let out = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(root)
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "cargo {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("cargo prints UTF-8")
}

fn assert_no_phone_dependency(package: &str) {
    let deps = normal_dependencies(package);
    assert!(
        deps.iter().any(|d| d == package),
        "cargo tree -p {package} did not list the package itself: {deps:?}"
    );
    let phone: BTreeSet<_> = deps
        .iter()
        .filter(|d| PHONE_ONLY.iter().any(|p| d.starts_with(p)))
        .collect();
    assert!(
        phone.is_empty(),
        "{package} depends on the phone's {phone:?}: that belongs in cdtg-phone (android/phone/)"
    );
}

#[test]
fn the_server_build_has_no_phone_dependency() {
    assert_no_phone_dependency("cdtg-api");
}

/// Package-name prefixes of the GraphQL and HTTP layers.
const TRANSPORT_ONLY: [&str; 4] = ["cdtg-api", "async-graphql", "actix", "clap"];

#[test]
fn the_service_layer_knows_no_graphql_or_http() {
    for features in [None, Some("demo")] {
        let mut args = vec![
            "tree",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-p",
            "cdtg-service",
        ];
        if let Some(f) = features {
            args.extend(["--features", f]);
        }
        let deps: BTreeSet<String> = cargo(&args)
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
            .collect();
        assert!(deps.contains("cdtg-service"), "cargo tree listed {deps:?}");
        let upper: Vec<_> = deps
            .iter()
            .filter(|d| TRANSPORT_ONLY.iter().any(|p| d.starts_with(p)))
            .collect();
        assert!(
            upper.is_empty(),
            "cdtg-service (features {features:?}) depends on {upper:?}: GraphQL and HTTP belong \
             in cdtg-api"
        );
    }
}

#[test]
fn the_core_has_no_phone_dependency() {
    assert_no_phone_dependency("cdtg-core");
}

/// A `cdylib` crate type would make every build of the server link the core as a shared library
/// too, the way it did when the UniFFI layer lived in the core: only `cdtg-phone` is one.
#[test]
fn only_the_phone_crate_is_a_shared_library() {
    let metadata: serde_json::Value =
        serde_json::from_str(&cargo(&["metadata", "--no-deps", "--format-version", "1"]))
            .expect("cargo metadata prints JSON");
    let shared: Vec<&str> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|p| {
            p["targets"].as_array().into_iter().flatten().any(|t| {
                t["crate_types"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c == "cdylib")
            })
        })
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(shared, ["cdtg-phone"]);
}
