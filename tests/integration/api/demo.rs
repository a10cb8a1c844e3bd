//! The demo sign-in page at `/` and the JavaScript it loads.

use reqwest::StatusCode;

use crate::harness::app::{spawn_app, spawn_app_with, Backend};

async fn fetch(app: &crate::harness::app::TestApp, path: &str) -> (StatusCode, String, String) {
    let r = app.get(path, None).await;
    let ct = r.header("content-type").unwrap_or_default();
    (r.status, ct, r.text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_page_and_scripts() {
    let app = spawn_app(Backend::Memory).await;
    let (status, ct, body) = fetch(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("text/html"), "{ct}");
    assert!(body.contains("Sign in with your wallet"), "{body}");
    assert!(body.contains(r#"id="wallets""#), "the wallet picker");
    assert!(body.contains("/assets/demo.js"));

    let (status, ct, body) = fetch(&app, "/assets/wallet-auth.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("text/javascript"), "{ct}");
    assert!(body.contains("export function createClient"));
    assert!(body.contains("export function watchEthereumWallets"));

    let (status, ct, body) = fetch(&app, "/assets/demo.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("text/javascript"), "{ct}");
    assert!(body.contains("/assets/wallet-auth.js"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_off() {
    let app = spawn_app_with(Backend::Memory, |c| c.http.demo_page = false).await;
    for path in ["/", "/assets/wallet-auth.js", "/assets/demo.js"] {
        let (status, _, _) = fetch(&app, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}

// The demo's scripts are for the demo page: another site's page can neither import them
// (Sec-Fetch-Site says where the request comes from) nor embed them (CORP), even when
// CORS_ORIGINS allows that site's API calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_scripts_only_for_this_origin() {
    let app = spawn_app_with(Backend::Memory, |c| {
        c.origins.cors = vec!["https://app.example".into()];
    })
    .await;
    for path in ["/assets/wallet-auth.js", "/assets/demo.js"] {
        for (site, allowed) in [
            (None, true),
            (Some("same-origin"), true),
            (Some("none"), true),
            (Some("same-site"), false),
            (Some("cross-site"), false),
        ] {
            let mut req = app
                .http
                .get(app.url(path))
                .header("origin", "https://app.example");
            if let Some(site) = site {
                req = req.header("sec-fetch-site", site);
            }
            let r = req.send().await.unwrap();
            let status = r.status();
            let corp = r
                .headers()
                .get("cross-origin-resource-policy")
                .map(|v| v.to_str().unwrap().to_owned());
            let body = r.text().await.unwrap();
            if allowed {
                assert_eq!(status, StatusCode::OK, "{path} {site:?}");
                assert_eq!(corp.as_deref(), Some("same-origin"), "{path} {site:?}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{path} {site:?}");
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                assert_eq!(v["error"]["code"], "forbidden", "{body}");
                assert!(!body.contains("createClient"), "{path} {site:?}");
            }
        }
    }
}
