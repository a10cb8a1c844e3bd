//! The demo sign-in page at `/` and the JavaScript it loads.

use reqwest::StatusCode;

use crate::helpers::{spawn_app, spawn_app_with, Backend};

async fn fetch(app: &crate::helpers::TestApp, path: &str) -> (StatusCode, String, String) {
    let r = app.http.get(app.url(path)).send().await.unwrap();
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_page_and_scripts() {
    let app = spawn_app(Backend::Memory).await;
    let (status, ct, body) = fetch(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("text/html"), "{ct}");
    assert!(body.contains("Sign in with Ethereum"), "{body}");
    assert!(body.contains("Sign in with Solana"));
    assert!(body.contains("/assets/demo.js"));

    let (status, ct, body) = fetch(&app, "/assets/wallet-auth.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("text/javascript"), "{ct}");
    assert!(body.contains("export function createClient"));

    let (status, ct, body) = fetch(&app, "/assets/demo.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("text/javascript"), "{ct}");
    assert!(body.contains("/assets/wallet-auth.js"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_off() {
    let app = spawn_app_with(Backend::Memory, |c| c.demo_page = false).await;
    for path in ["/", "/assets/wallet-auth.js", "/assets/demo.js"] {
        let (status, _, _) = fetch(&app, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}
