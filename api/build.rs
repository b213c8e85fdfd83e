//! Bundles the two browser apps the server embeds, each an npm project pinned by its
//! package-lock.json, into OUT_DIR:
//!
//! - api/graphiql: the offline GraphiQL explorer (npm `graphiql`), served at `/graphiql`;
//! - api/dashboard: the officials' dashboard (Preact), served at `/dashboard`, with
//!   operations.json, the dashboard's GraphQL operations by SHA-256.
//!
//! For each (`<APP>` is `GRAPHIQL` or `DASHBOARD`):
//! - `npm ci` installs the locked packages into a cache outside the repository, keyed by a hash
//!   of package.json and package-lock.json (`$CDTG_<APP>_CACHE`, default
//!   `/var/tmp/cdtg-graphiql` and `/var/tmp/cdtg-dashboard`), so it runs once per lock file, not
//!   once per build.
//! - `node build.mjs` (esbuild) writes the bundle into OUT_DIR.
//! - On success: `--cfg graphiql_bundle` / `--cfg dashboard_bundle` and `CDTG_<APP>_DIR`. Without
//!   Node/npm, or when a step fails, the server still builds: a warning is printed,
//!   `CDTG_<APP>_MISSING` carries the reason, `/graphiql` serves the CDN page that needs internet
//!   access and `/dashboard` a page saying the dashboard was not built in. Set
//!   `CDTG_<APP>_REQUIRED=1` to make such a failure fail the build instead, and
//!   `CDTG_<APP>=off` to skip the bundle on purpose.
//!
//! Cargo re-runs this script only when a file of an npm project changes (or one of the
//! variables above), so ordinary incremental builds never start npm.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const PROJECT_FILES: &[&str] = &["package.json", "package-lock.json", "build.mjs", "src"];

/// One npm project bundled into the binary.
struct App {
    /// Folder under api/ and under OUT_DIR.
    dir: &'static str,
    /// `CDTG_<VAR>`, `CDTG_<VAR>_CACHE`, `CDTG_<VAR>_REQUIRED`, `CDTG_<VAR>_DIR`, `CDTG_<VAR>_MISSING`.
    var: &'static str,
    /// The cfg set when the bundle is embedded.
    cfg: &'static str,
    default_cache: &'static str,
    /// Files the bundler must have written.
    outputs: &'static [&'static str],
    /// What a missing bundle means, for the warning.
    consequence: &'static str,
}

const APPS: &[App] = &[
    App {
        dir: "graphiql",
        var: "GRAPHIQL",
        cfg: "graphiql_bundle",
        default_cache: "/var/tmp/cdtg-graphiql",
        outputs: &["graphiql.js", "graphiql.css"],
        consequence: "offline GraphiQL not built ({reason}); /graphiql will load GraphiQL from a CDN and need internet access",
    },
    App {
        dir: "dashboard",
        var: "DASHBOARD",
        cfg: "dashboard_bundle",
        default_cache: "/var/tmp/cdtg-dashboard",
        outputs: &["dashboard.js", "dashboard.css", "operations.json"],
        consequence: "dashboard not built ({reason}); /dashboard will only say so",
    },
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    for app in APPS {
        let project = manifest_dir.join(app.dir);
        for file in PROJECT_FILES {
            println!("cargo::rerun-if-changed={}", project.join(file).display());
        }
        for suffix in ["", "_CACHE", "_REQUIRED"] {
            println!("cargo::rerun-if-env-changed=CDTG_{}{suffix}", app.var);
        }
        println!("cargo::rustc-check-cfg=cfg({})", app.cfg);

        let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join(app.dir);
        match bundle(app, &project, &out_dir) {
            Ok(()) => {
                println!("cargo::rustc-cfg={}", app.cfg);
                println!(
                    "cargo::rustc-env=CDTG_{}_DIR={}",
                    app.var,
                    out_dir.display()
                );
            }
            Err(reason) => {
                if env::var(format!("CDTG_{}_REQUIRED", app.var))
                    .is_ok_and(|v| v == "1" || v == "true")
                {
                    panic!("the {} bundle could not be built: {reason}", app.dir);
                }
                let reason = reason.replace(['\n', '\r'], " ");
                println!(
                    "cargo::warning={}",
                    app.consequence.replace("{reason}", &reason)
                );
                println!("cargo::rustc-env=CDTG_{}_MISSING={reason}", app.var);
            }
        }
    }
}

fn bundle(app: &App, project: &Path, out_dir: &Path) -> Result<(), String> {
    let switch = format!("CDTG_{}", app.var);
    if env::var(&switch).is_ok_and(|v| v == "off" || v == "0") {
        return Err(format!("{switch}=off"));
    }
    tool_version("node")?;
    tool_version("npm")?;

    let package = read(&project.join("package.json"))?;
    let lock = read(&project.join("package-lock.json"))?;
    let key = format!("{:016x}", fnv1a(&[&package, &lock]));
    let cache_root = env::var_os(format!("CDTG_{}_CACHE", app.var))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(app.default_cache));
    let install = cache_root.join(&key);
    let node_modules = install.join("node_modules");
    let complete = node_modules.join(".cdtg-complete");

    if !complete.exists() {
        // Install into a private directory, then rename: concurrent builds (two clones sharing
        // the cache) never see a half-installed tree.
        let staging = cache_root.join(format!("{key}.tmp-{}", std::process::id()));
        let _ = fs::remove_dir_all(&staging);
        fs::create_dir_all(&staging).map_err(|e| format!("{}: {e}", staging.display()))?;
        fs::write(staging.join("package.json"), &package).map_err(|e| e.to_string())?;
        fs::write(staging.join("package-lock.json"), &lock).map_err(|e| e.to_string())?;
        let result = run(
            Command::new("npm")
                .args([
                    "ci",
                    "--ignore-scripts",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                ])
                .current_dir(&staging),
            "npm ci",
        );
        if let Err(e) = result {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
        fs::write(staging.join("node_modules").join(".cdtg-complete"), &key)
            .map_err(|e| e.to_string())?;
        let _ = fs::remove_dir_all(&install);
        if fs::rename(&staging, &install).is_err() {
            // Another build won the race; its tree is as good as ours.
            let _ = fs::remove_dir_all(&staging);
        }
        if !complete.exists() {
            return Err(format!("npm ci left no tree at {}", install.display()));
        }
    }

    let _ = fs::remove_dir_all(out_dir);
    run(
        Command::new("node")
            .arg(project.join("build.mjs"))
            .arg("--outdir")
            .arg(out_dir)
            .arg("--node-modules")
            .arg(&node_modules),
        "node build.mjs",
    )?;
    for file in app.outputs {
        if !out_dir.join(file).is_file() {
            return Err(format!("the bundler wrote no {file}"));
        }
    }
    Ok(())
}

fn tool_version(tool: &str) -> Result<(), String> {
    match Command::new(tool).arg("--version").output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(_) => Err(format!("`{tool} --version` failed")),
        Err(_) => Err(format!("`{tool}` not found")),
    }
}

fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let out = command
        .output()
        .map_err(|e| format!("{what} could not start: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(format!(
        "{what} failed ({}): {}",
        out.status,
        tail.join(" | ")
    ))
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// FNV-1a: a stable hash for the cache key (std's hasher may change between Rust releases).
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    for part in parts {
        for byte in part.iter().chain(&[0xff]) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}
