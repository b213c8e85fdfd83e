//! The officials' dashboard at `/dashboard`: a Preact app (api/dashboard, pinned in its
//! package-lock.json and bundled by api/build.rs) embedded in the binary and served from this
//! origin only, under a Content-Security-Policy that lets the page load its own script and
//! stylesheet and talk to `/graphql`, nothing else.
//!
//! The dashboard sends persisted operations (SHA-256 hashes). Its operations are part of the
//! bundle (`operations.json`), and in allow-list mode the server registers them beside the
//! operator's list ([`operations`]), so the dashboard works on a locked-down server without
//! anyone copying hashes around. They are read-only queries plus `login`, `refreshToken` and
//! `logout`, and authorisation applies to them as to any other request.
//!
//! Without the bundle (Node.js missing at build time), `/dashboard` answers 503 with a page that
//! says why and how to build it in.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::http::{EmbeddedAsset, html_escape, serve_asset};

/// Whether this build embeds the dashboard (see api/build.rs).
pub const DASHBOARD_BUILT: bool = cfg!(dashboard_bundle);

/// Why the dashboard is missing, as build.rs put it (`None` when it is embedded).
pub fn dashboard_missing_reason() -> Option<&'static str> {
    if DASHBOARD_BUILT {
        None
    } else {
        Some(option_env!("CDTG_DASHBOARD_MISSING").unwrap_or("not built"))
    }
}

#[cfg(dashboard_bundle)]
mod bundle {
    pub const JS: &[u8] = include_bytes!(concat!(env!("CDTG_DASHBOARD_DIR"), "/dashboard.js"));
    pub const CSS: &[u8] = include_bytes!(concat!(env!("CDTG_DASHBOARD_DIR"), "/dashboard.css"));
    pub const OPERATIONS: &str =
        include_str!(concat!(env!("CDTG_DASHBOARD_DIR"), "/operations.json"));
}

fn assets() -> &'static [EmbeddedAsset; 2] {
    static ASSETS: std::sync::LazyLock<[EmbeddedAsset; 2]> = std::sync::LazyLock::new(|| {
        #[cfg(dashboard_bundle)]
        let (js, css) = (bundle::JS, bundle::CSS);
        #[cfg(not(dashboard_bundle))]
        let (js, css): (&[u8], &[u8]) = (b"", b"");
        [
            EmbeddedAsset::new(js, "text/javascript; charset=utf-8"),
            EmbeddedAsset::new(css, "text/css; charset=utf-8"),
        ]
    });
    &ASSETS
}

/// The dashboard's GraphQL operations, `sha256 → query` (empty without the bundle). Each hash
/// is checked against its text, like an operator's allow-list file.
pub fn operations() -> HashMap<String, String> {
    #[cfg(dashboard_bundle)]
    let text = bundle::OPERATIONS;
    #[cfg(not(dashboard_bundle))]
    let text = "{}";
    let map: HashMap<String, String> =
        serde_json::from_str(text).expect("the bundled operations.json is a JSON object");
    for (hash, query) in &map {
        assert_eq!(
            crate::persisted::sha256_hex(query),
            *hash,
            "the bundled operations.json has a wrong hash"
        );
    }
    map
}

/// Registers `/dashboard` and, with the bundle, its two assets; logs once (at startup) when the
/// dashboard is missing.
pub fn routes(cfg: &mut web::ServiceConfig) {
    static ANNOUNCED: std::sync::Once = std::sync::Once::new();
    ANNOUNCED.call_once(|| {
        if let Some(reason) = dashboard_missing_reason() {
            tracing::warn!(
                reason,
                "the dashboard was not built into this server: /dashboard only says so (build \
                 with Node.js and npm to embed it)"
            );
        }
    });
    cfg.route("/dashboard", web::get().to(page))
        .route("/dashboard/", web::get().to(page));
    if DASHBOARD_BUILT {
        cfg.service(
            web::scope("/dashboard/assets")
                .wrap(actix_web::middleware::Compress::default())
                .route(
                    "/dashboard.js",
                    web::get()
                        .to(|req: HttpRequest| async move { serve_asset(&req, &assets()[0]) }),
                )
                .route(
                    "/dashboard.css",
                    web::get()
                        .to(|req: HttpRequest| async move { serve_asset(&req, &assets()[1]) }),
                ),
        );
    }
}

/// Own script and stylesheet, `/graphql` on this origin, nothing inline, nothing elsewhere.
/// Blob URLs are images only (none today); the CSV download is a blob navigation, which
/// `default-src` does not govern.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

async fn page() -> HttpResponse {
    match dashboard_missing_reason() {
        None => {
            let [js, css] = assets();
            let html = format!(
                r#"<!doctype html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Bảng điều hành CDTG</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/assets/dashboard.css?v={css}">
</head>
<body>
<div id="app"><noscript>Bảng điều hành cần JavaScript. The dashboard needs JavaScript.</noscript></div>
<script src="/dashboard/assets/dashboard.js?v={js}"></script>
</body>
</html>
"#,
                css = css.hash,
                js = js.hash,
            );
            HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .insert_header((header::CACHE_CONTROL, "no-cache"))
                .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
                .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                .insert_header((header::REFERRER_POLICY, "no-referrer"))
                .body(html)
        }
        Some(reason) => HttpResponse::ServiceUnavailable()
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            ))
            .body(format!(
                r#"<!doctype html>
<html lang="vi">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Bảng điều hành CDTG</title></head>
<body>
<h1>Bảng điều hành chưa được đóng gói vào máy chủ này</h1>
<p>The dashboard was not built into this server ({reason}). Build <code>cdtg</code> with Node.js
and npm on the PATH (the first build needs the npm registry) to embed it. The GraphQL API at
<a href="/graphql">/graphql</a> works as usual.</p>
</body>
</html>
"#,
                reason = html_escape(reason),
            )),
    }
}
