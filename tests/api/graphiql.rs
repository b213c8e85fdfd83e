//! The GraphiQL explorer works offline: `/graphiql` and every asset it references come from this
//! server and name no outside host that a browser would load; and in headless Chromium with all
//! outside network blocked, the page runs a query with a token and shows the result
//! (tests/browser/graphiql.mjs, screenshots in tests/browser/artifacts/).
//!
//! Both need the bundle that api/build.rs builds with Node and npm; the browser test also needs
//! Debian's `chromium` and `npm ci` in tests/browser. Without them the tests say "skipped: …",
//! except under `CI=true`, where they must run.

use std::path::PathBuf;
use std::process::Command;

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH};

use crate::fixture::{Fixture, PASSWORD, users};
use crate::helpers::{Backend, TestApp};

/// Absolute URLs that the bundled third-party code contains as text but never loads: XML
/// namespace names, links in React's error messages and in GraphQL's built-in descriptions, and
/// two hyperlinks a person may click. Anything else fails the test: a dependency bump that
/// starts referring to a CDN or a font host is caught here.
const INERT_REFERENCES: &[&str] = &[
    "http://www.w3.org/2000/svg",
    "http://www.w3.org/1999/xlink",
    "http://www.w3.org/1999/xhtml",
    "http://www.w3.org/1998/Math/MathML",
    "http://www.w3.org/XML/1998/namespace",
    "https://react.dev/errors/",
    "https://en.wikipedia.org/wiki/IEEE_floating_point",
    "https://commonmark.org/",
    "https://yarnpkg.com/en/docs/selective-version-resolutions",
    "https://codemirror.net/5/doc/manual.html#keymaps",
    "https://github.com/graphql/graphiql",
];

fn under_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Outside CI: prints why and returns true (the caller returns). Under CI=true: fails.
pub(crate) fn skip(reason: &str) -> bool {
    assert!(
        !under_ci(),
        "under CI=true this test must run, but {reason}"
    );
    eprintln!("skipped: {reason}");
    true
}

/// tests/browser and the Chromium to drive (`$CHROMIUM`, default Debian's), when Chromium,
/// playwright-core and node are all there; otherwise `skip`s and returns `None`.
pub(crate) fn browser_tools() -> Option<(PathBuf, String)> {
    let browser_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    if !PathBuf::from(&chromium).exists() {
        skip(&format!(
            "no Chromium at {chromium} (apt-get install -y chromium)"
        ));
        return None;
    }
    if !browser_dir.join("node_modules/playwright-core").is_dir() {
        skip("tests/browser has no node_modules (npm ci --prefix tests/browser)");
        return None;
    }
    if Command::new("node").arg("--version").output().is_err() {
        skip("node is not on PATH");
        return None;
    }
    Some((browser_dir, chromium))
}

fn bundle_missing() -> bool {
    match cdtg_api::http::graphiql_missing_reason() {
        None => false,
        Some(reason) => skip(&format!(
            "the offline GraphiQL bundle was not built ({reason}); build with node and npm on PATH"
        )),
    }
}

/// Every `http://`, `https://` or protocol-relative `//host` reference in `text`.
fn absolute_urls(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(pos) = text[i..].find("//") {
        let start = i + pos;
        i = start + 2;
        let scheme_start = text[..start]
            .rfind(|c: char| !c.is_ascii_alphanumeric() && c != ':')
            .map_or(0, |p| p + 1);
        let scheme = &text[scheme_start..start];
        let relative = scheme.is_empty()
            && start > 0
            && matches!(bytes[start - 1], b'"' | b'\'' | b'(' | b'=');
        if !(scheme.eq_ignore_ascii_case("http:")
            || scheme.eq_ignore_ascii_case("https:")
            || scheme.eq_ignore_ascii_case("ws:")
            || scheme.eq_ignore_ascii_case("wss:")
            || relative)
        {
            continue;
        }
        let end = text[i..]
            .find(|c: char| c.is_whitespace() || "\"'`()<>\\,;{}".contains(c))
            .map_or(text.len(), |p| i + p);
        let url = &text[scheme_start..end];
        // `//` alone or followed by a non-host (comments, regular expressions) is no reference.
        let host = url.split("//").nth(1).unwrap_or("");
        if host.contains('.') || host.starts_with("localhost") || host.starts_with('[') {
            found.push(url.to_owned());
        }
    }
    found
}

pub(crate) fn outside_references(text: &str) -> Vec<String> {
    absolute_urls(text)
        .into_iter()
        .filter(|url| {
            let host = url.split("//").nth(1).unwrap_or("");
            !(host.starts_with("127.0.0.1") || host.starts_with("localhost"))
        })
        .filter(|url| !INERT_REFERENCES.iter().any(|ok| url.starts_with(ok)))
        .collect()
}

/// The `src="…"` and `href="…"` values of an HTML page.
pub(crate) fn referenced_paths(html: &str) -> Vec<String> {
    let mut refs = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for (pos, _) in html.match_indices(attr) {
            let rest = &html[pos + attr.len()..];
            if let Some(end) = rest.find('"') {
                refs.push(rest[..end].to_owned());
            }
        }
    }
    refs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_page_and_assets_name_no_outside_host() {
    // The scanner itself: it must see what a CDN page would contain.
    assert_eq!(
        outside_references(
            r#"<script src="https://unpkg.com/graphiql/graphiql.min.js"></script>
               <link href="//cdn.example.org/x.css"> url(https://fonts.gstatic.com/a.woff2)
               xmlns:"http://www.w3.org/2000/svg" "http://127.0.0.1:8080/graphql""#
        ),
        [
            "https://unpkg.com/graphiql/graphiql.min.js",
            "//cdn.example.org/x.css",
            "https://fonts.gstatic.com/a.woff2"
        ]
    );
    if bundle_missing() {
        return;
    }
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let res = app
        .client
        .get(format!("{}/graphiql", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = res.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(csp.contains("script-src 'self';"), "{csp}");
    let html = res.text().await.unwrap();
    assert_eq!(outside_references(&html), Vec::<String>::new(), "{html}");

    let refs = referenced_paths(&html);
    assert_eq!(refs.len(), 2, "one script and one stylesheet: {refs:?}");
    for path in refs {
        assert!(
            path.starts_with('/') && !path.starts_with("//"),
            "same-origin path: {path}"
        );
        let res = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let content_type = res.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
        let expected = if path.contains(".js") {
            "text/javascript"
        } else {
            "text/css"
        };
        assert!(content_type.starts_with(expected), "{path}: {content_type}");
        assert_eq!(
            res.headers()[CACHE_CONTROL],
            "public, max-age=31536000, immutable",
            "{path}"
        );
        let etag = res.headers()[ETAG].clone();
        let body = res.text().await.unwrap();
        assert!(body.len() > 10_000, "{path} is the real bundle");
        assert_eq!(
            outside_references(&body),
            Vec::<String>::new(),
            "{path} names an outside host"
        );
        if expected == "text/css" {
            assert!(!body.contains("@import"), "{path} imports a stylesheet");
            for (pos, _) in body.match_indices("url(") {
                let target = body[pos + 4..].trim_start_matches(['"', '\'']);
                assert!(
                    target.starts_with("data:") || target.starts_with('#'),
                    "{path}: CSS loads {}",
                    &target[..target.len().min(60)]
                );
            }
        }
        // Revalidation by ETag.
        let again = app
            .client
            .get(format!("{}{path}", app.address))
            .header(IF_NONE_MATCH, etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_runs_a_query_in_headless_chromium_offline() {
    if bundle_missing() {
        return;
    }
    let Some((browser_dir, chromium)) = browser_tools() else {
        return;
    };
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    Fixture::load(&app).await;
    let address = app.address.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(browser_dir.join("graphiql.mjs"))
            .env("CDTG_URL", address)
            .env("CDTG_USERNAME", users::ADMIN)
            .env("CDTG_PASSWORD", PASSWORD)
            .env("CHROMIUM", chromium)
            .current_dir(&browser_dir)
            .output()
            .expect("run node")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "tests/browser/graphiql.mjs failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("no request to another host"), "{stdout}");
}
