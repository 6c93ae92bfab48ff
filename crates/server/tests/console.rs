//! Router tests of the console's assets: each is served from the binary with its media type and a
//! Content-Security-Policy that forbids inline scripts and outside hosts; the sources themselves load
//! nothing from another host, never build HTML from strings and never touch localStorage.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;

const ASSETS: &[(&str, &str)] = &[
    ("/console", "text/html; charset=utf-8"),
    ("/console/app.js", "text/javascript; charset=utf-8"),
    ("/console/api.js", "text/javascript; charset=utf-8"),
    ("/console/console.css", "text/css; charset=utf-8"),
    ("/console/scopes.json", "application/json"),
];

async fn get(h: &Harness, path: &str) -> Reply {
    h.send(Request::get(path).body(Body::empty()).expect("request")).await
}

#[tokio::test]
async fn every_asset_is_served_with_a_strict_csp() {
    let h = Harness::default().await;
    for (path, content_type) in ASSETS {
        let reply = get(&h, path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(reply.header("content-type"), *content_type, "{path}");
        let csp = reply.header("content-security-policy");
        for directive in ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"] {
            assert!(csp.contains(directive), "{path}: {csp} lacks {directive}");
        }
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval") && !csp.contains("http"), "{csp}");
        assert_eq!(reply.header("x-content-type-options"), "nosniff");
        assert_eq!(reply.header("x-frame-options"), "DENY");
        assert!(reply.headers.get("set-cookie").is_none(), "the console uses no cookie");
    }
    assert_eq!(get(&h, "/console/missing.js").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_scope_catalogue_is_served_for_the_grid() {
    let h = Harness::default().await;
    let resources = get(&h, "/console/scopes.json").await.json();
    assert_eq!(resources, serde_json::json!(talon_wire::scope::RESOURCES));
    assert!(resources.as_array().expect("list").contains(&serde_json::json!("api-clients")));
}

#[tokio::test]
async fn the_sources_load_nothing_from_outside_and_never_write_html() {
    let h = Harness::default().await;
    let page = String::from_utf8(get(&h, "/console").await.body).expect("utf-8");
    // Only the module script; no inline script or handler (the CSP would block them anyway).
    assert_eq!(page.matches("<script").count(), 1);
    assert!(page.contains(r#"<script type="module" src="/console/app.js"></script>"#));
    assert!(!regex_like_handler(&page), "no inline event handler");
    for (path, _) in ASSETS {
        let text = String::from_utf8(get(&h, path).await.body).expect("utf-8");
        for banned in [
            "http://",
            "https://",
            "//cdn",
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "localStorage.setItem",
            "eval(",
        ] {
            assert!(!text.contains(banned), "{path} contains {banned}");
        }
    }
}

/// An `onclick=`-style attribute in markup.
fn regex_like_handler(html: &str) -> bool {
    html.split_whitespace().any(|word| word.starts_with("on") && word.contains('='))
}
