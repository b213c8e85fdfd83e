//! Bundles the offline GraphiQL explorer (api/graphiql: the npm `graphiql` package pinned in
//! package-lock.json) into OUT_DIR, for the server to embed and serve at `/graphiql`.
//!
//! - `npm ci` installs the locked packages into a cache outside the repository, keyed by a hash
//!   of package.json and package-lock.json (`$CDTG_GRAPHIQL_CACHE`, default
//!   `/var/tmp/cdtg-graphiql`), so it runs once per lock file, not once per build.
//! - `node build.mjs` (esbuild) writes graphiql.js and graphiql.css into OUT_DIR.
//! - On success: `--cfg graphiql_bundle` and `CDTG_GRAPHIQL_DIR`. Without Node/npm, or when a
//!   step fails, the server still builds: a warning is printed, `CDTG_GRAPHIQL_MISSING` carries
//!   the reason, and `/graphiql` serves the CDN page that needs internet access. Set
//!   `CDTG_GRAPHIQL_REQUIRED=1` to make such a failure fail the build instead, and
//!   `CDTG_GRAPHIQL=off` to skip the bundle on purpose.
//!
//! Cargo re-runs this script only when a file of the npm project changes (or one of the
//! variables above), so ordinary incremental builds never start npm.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const PROJECT_FILES: &[&str] = &["package.json", "package-lock.json", "build.mjs", "src"];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let project = manifest_dir.join("graphiql");
    for file in PROJECT_FILES {
        println!("cargo::rerun-if-changed={}", project.join(file).display());
    }
    for var in [
        "CDTG_GRAPHIQL",
        "CDTG_GRAPHIQL_CACHE",
        "CDTG_GRAPHIQL_REQUIRED",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    println!("cargo::rustc-check-cfg=cfg(graphiql_bundle)");

    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join("graphiql");
    match bundle(&project, &out_dir) {
        Ok(()) => {
            println!("cargo::rustc-cfg=graphiql_bundle");
            println!("cargo::rustc-env=CDTG_GRAPHIQL_DIR={}", out_dir.display());
        }
        Err(reason) => {
            if env::var("CDTG_GRAPHIQL_REQUIRED").is_ok_and(|v| v == "1" || v == "true") {
                panic!("the offline GraphiQL bundle could not be built: {reason}");
            }
            let reason = reason.replace(['\n', '\r'], " ");
            println!(
                "cargo::warning=offline GraphiQL not built ({reason}); /graphiql will load GraphiQL from a CDN and need internet access"
            );
            println!("cargo::rustc-env=CDTG_GRAPHIQL_MISSING={reason}");
        }
    }
}

fn bundle(project: &Path, out_dir: &Path) -> Result<(), String> {
    if env::var("CDTG_GRAPHIQL").is_ok_and(|v| v == "off" || v == "0") {
        return Err("CDTG_GRAPHIQL=off".into());
    }
    tool_version("node")?;
    tool_version("npm")?;

    let package = read(&project.join("package.json"))?;
    let lock = read(&project.join("package-lock.json"))?;
    let key = format!("{:016x}", fnv1a(&[&package, &lock]));
    let cache_root = env::var_os("CDTG_GRAPHIQL_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/cdtg-graphiql"));
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
    for file in ["graphiql.js", "graphiql.css"] {
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
