//! GraphiQL, and the redirect to it from `/`. (GraphQL itself is served by `transport` over
//! HTTP and by `ws` over WebSocket.)

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use async_graphql::http::GraphiQLSource;

// ---- GraphiQL ---------------------------------------------------------------------------------
//
// With the offline bundle (built by api/build.rs from the pinned npm `graphiql` package), the page
// and everything it loads come from this server. Without it, the page is async-graphql's
// GraphiQLSource, which loads React and GraphiQL from a CDN, with a notice saying so.

/// Whether this build embeds the offline GraphiQL bundle (see api/build.rs).
pub const GRAPHIQL_OFFLINE: bool = cfg!(graphiql_bundle);

/// Why the offline bundle is missing, as build.rs put it (`None` when it is embedded).
pub fn graphiql_missing_reason() -> Option<&'static str> {
    if GRAPHIQL_OFFLINE {
        None
    } else {
        Some(option_env!("CDTG_GRAPHIQL_MISSING").unwrap_or("not built"))
    }
}

#[cfg(graphiql_bundle)]
mod graphiql_bundle {
    pub const JS: &[u8] = include_bytes!(concat!(env!("CDTG_GRAPHIQL_DIR"), "/graphiql.js"));
    pub const CSS: &[u8] = include_bytes!(concat!(env!("CDTG_GRAPHIQL_DIR"), "/graphiql.css"));
}

/// An embedded asset with its content type and a content hash (ETag and `?v=` cache buster).
pub(crate) struct EmbeddedAsset {
    body: &'static [u8],
    content_type: &'static str,
    pub(crate) hash: String,
}

impl EmbeddedAsset {
    pub(crate) fn new(body: &'static [u8], content_type: &'static str) -> Self {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(body);
        let hash = hex::encode(&digest[..8]);
        EmbeddedAsset {
            body,
            content_type,
            hash,
        }
    }
}

fn graphiql_assets() -> &'static [EmbeddedAsset; 2] {
    static ASSETS: std::sync::LazyLock<[EmbeddedAsset; 2]> = std::sync::LazyLock::new(|| {
        #[cfg(graphiql_bundle)]
        let (js, css) = (graphiql_bundle::JS, graphiql_bundle::CSS);
        #[cfg(not(graphiql_bundle))]
        let (js, css): (&[u8], &[u8]) = (b"", b"");
        [
            EmbeddedAsset::new(js, "text/javascript; charset=utf-8"),
            EmbeddedAsset::new(css, "text/css; charset=utf-8"),
        ]
    });
    &ASSETS
}

/// Registers `/graphiql` and, with the bundle, `/graphiql/assets/graphiql.{js,css}`; logs once
/// (at startup) whether the explorer works offline.
pub fn graphiql_routes(cfg: &mut web::ServiceConfig) {
    static ANNOUNCED: std::sync::Once = std::sync::Once::new();
    ANNOUNCED.call_once(|| match graphiql_missing_reason() {
        None => tracing::debug!("GraphiQL at /graphiql is served offline from the embedded bundle"),
        Some(reason) => tracing::warn!(
            reason,
            "the offline GraphiQL bundle was not built into this server: /graphiql loads GraphiQL \
             from a CDN and needs internet access (build with Node.js and npm to embed it)"
        ),
    });
    cfg.route("/graphiql", web::get().to(graphiql));
    if GRAPHIQL_OFFLINE {
        cfg.service(
            web::scope("/graphiql/assets")
                .wrap(actix_web::middleware::Compress::default())
                .route("/graphiql.js", web::get().to(graphiql_js))
                .route("/graphiql.css", web::get().to(graphiql_css)),
        );
    }
}

pub async fn graphiql(req: HttpRequest) -> HttpResponse {
    if GRAPHIQL_OFFLINE {
        graphiql_offline_page(&req)
    } else {
        graphiql_cdn_page()
    }
}

fn graphiql_offline_page(req: &HttpRequest) -> HttpResponse {
    let [js, css] = graphiql_assets();
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>CDTG API explorer</title>
<link rel="stylesheet" href="/graphiql/assets/graphiql.css?v={css}">
</head>
<body>
<div id="graphiql"><noscript>The CDTG API explorer needs JavaScript.</noscript></div>
<script src="/graphiql/assets/graphiql.js?v={js}"></script>
</body>
</html>
"#,
        css = css.hash,
        js = js.hash,
    );
    // Same-origin only: the browser itself refuses anything from another host. WebSockets are
    // named explicitly (older browsers do not count ws: as 'self').
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("");
    let ws = if host.is_empty() {
        String::new()
    } else {
        format!(" ws://{host} wss://{host}")
    };
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            format!(
                "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                 img-src 'self' data:; font-src 'self' data:; connect-src 'self'{ws}; \
                 worker-src 'self' blob:; object-src 'none'; base-uri 'none'; \
                 form-action 'none'; frame-ancestors 'none'"
            ),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(html)
}

fn graphiql_cdn_page() -> HttpResponse {
    let page = GraphiQLSource::build()
        .endpoint("/graphql")
        .subscription_endpoint("/graphql")
        .title("CDTG API")
        .finish();
    let notice = format!(
        r#"<body><div id="cdtg-offline-notice" role="alert" style="padding:8px 12px;background:#fff3cd;border-bottom:1px solid #e0c36b;font:14px system-ui,sans-serif">The offline explorer was not built into this server ({reason}). This page loads GraphiQL from a CDN and needs internet access. Send your token as the header <code>{{"Authorization": "Bearer &lt;token&gt;"}}</code> in the Headers tab.</div>"#,
        reason = html_escape(graphiql_missing_reason().unwrap_or("not built")),
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(page.replacen("<body>", &notice, 1))
}

pub(crate) fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub async fn graphiql_js(req: HttpRequest) -> HttpResponse {
    serve_asset(&req, &graphiql_assets()[0])
}

pub async fn graphiql_css(req: HttpRequest) -> HttpResponse {
    serve_asset(&req, &graphiql_assets()[1])
}

/// An asset: cached for a year when asked for with its current `?v=` hash (the page always
/// does), otherwise revalidated by ETag.
pub(crate) fn serve_asset(req: &HttpRequest, asset: &EmbeddedAsset) -> HttpResponse {
    let etag = format!("\"{}\"", asset.hash);
    let versioned = req
        .query_string()
        .split('&')
        .any(|pair| pair == format!("v={}", asset.hash));
    let cache_control = if versioned {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut res = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if fresh {
        res.finish()
    } else {
        res.content_type(asset.content_type).body(asset.body)
    }
}

pub async fn root_redirect() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, "/graphiql"))
        .finish()
}
