//! Where a sign-in may come from: the scheme and origin of the signed message (against
//! `AUTH_URI`), statements a person can read as they are signed, and the client address behind
//! trusted proxies.

use reqwest::StatusCode;
use serde_json::Value;
use time::OffsetDateTime;
use wallet_auth::verify::{prepare_message, Chain, MessageParams};

use crate::harness::app::{spawn_app_with, Backend, Resp, TestApp, Wallet, DOMAIN};
use crate::on_every_backend;

on_every_backend!(forwarded_for_takes_the_entry_the_proxy_appended);

fn message(
    w: &Wallet,
    nonce: &str,
    now: OffsetDateTime,
    uri: &str,
    statement: Option<&str>,
) -> String {
    prepare_message(&MessageParams {
        chain: w.chain,
        domain: DOMAIN,
        address: &w.address,
        statement,
        uri,
        chain_id: Some(if w.chain == Chain::Ethereum {
            "1"
        } else {
            "mainnet"
        }),
        nonce,
        issued_at: now,
        expiration_time: None,
    })
}

async fn verify(app: &TestApp, w: &Wallet, text: &str) -> Resp {
    app.post("/auth/verify", None, Some(w.verify_body(text)))
        .await
}

async fn fresh_nonce(app: &TestApp, w: &Wallet) -> String {
    app.nonce(w.chain, None).await["nonce"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn https_app(strict: Option<bool>) -> TestApp {
    spawn_app_with(Backend::Memory, |c| {
        c.signin.uri = format!("https://{DOMAIN}/login");
        if let Some(s) = strict {
            c.signin.strict_uri = s;
        }
    })
    .await
}

#[tokio::test]
async fn message_scheme_must_be_the_servers() {
    let app = https_app(None).await;
    let w = Wallet::ethereum();
    for uri in [
        format!("http://{DOMAIN}/login"),
        format!("javascript://{DOMAIN}/%0aalert(1)"),
        format!("HTTP://{DOMAIN}/login"),
        format!("wss://{DOMAIN}/login"),
        format!("ftp://{DOMAIN}/"),
    ] {
        let n = fresh_nonce(&app, &w).await;
        let text = message(&w, &n, app.clock_now(), &uri, None);
        verify(&app, &w, &text)
            .await
            .assert_error(401, "domain_mismatch");
    }
    // The EIP-4361 scheme prefix of the first line must be the server's too.
    for prefix in ["http://", "javascript://", "wss://"] {
        let n = fresh_nonce(&app, &w).await;
        let text = format!(
            "{prefix}{}",
            message(&w, &n, app.clock_now(), &format!("https://{DOMAIN}/"), None)
        );
        verify(&app, &w, &text)
            .await
            .assert_error(401, "domain_mismatch");
    }
    // The server's own scheme, in any case, with or without the prefix, signs in.
    for (prefix, uri) in [
        ("", format!("https://{DOMAIN}/login")),
        ("https://", format!("https://{DOMAIN}/")),
        ("HTTPS://", format!("HTTPS://{DOMAIN}/x?y=1")),
    ] {
        let n = fresh_nonce(&app, &w).await;
        let text = format!("{prefix}{}", message(&w, &n, app.clock_now(), &uri, None));
        let r = verify(&app, &w, &text).await;
        assert_eq!(r.status, StatusCode::OK, "{prefix}{uri}: {}", r.body);
    }
}

#[tokio::test]
async fn uri_origin_is_checked_by_default() {
    assert!(wallet_auth::config::Config::default().signin.strict_uri);
    let app = https_app(None).await;
    let w = Wallet::ethereum();
    for uri in [
        "https://evil.example/login".to_owned(),
        format!("https://{DOMAIN}@evil.example/login"),
        // DOMAIN has a port: the look-alike host puts it after the foreign suffix.
        format!(
            "https://{}.evil.example:8080/login",
            DOMAIN.trim_end_matches(":8080")
        ),
        "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66".to_owned(),
    ] {
        let n = fresh_nonce(&app, &w).await;
        let text = message(&w, &n, app.clock_now(), &uri, None);
        verify(&app, &w, &text)
            .await
            .assert_error(401, "domain_mismatch");
    }
    // `https://app.test:8080.evil.example/` is no URI at all (a port is digits): malformed.
    let n = fresh_nonce(&app, &w).await;
    let uri = format!("https://{DOMAIN}.evil.example/login");
    let text = message(&w, &n, app.clock_now(), &uri, None);
    verify(&app, &w, &text)
        .await
        .assert_error(400, "invalid_message");
    // A SIWS message may leave the URI out: nothing to compare, accepted.
    let s = Wallet::solana();
    let n = fresh_nonce(&app, &s).await;
    let text = message(&s, &n, app.clock_now(), "", None);
    assert!(!text.contains("URI:"), "{text}");
    let r = verify(&app, &s, &text).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn uri_origin_check_can_be_turned_off_but_not_the_scheme_prefix() {
    let app = https_app(Some(false)).await;
    let w = Wallet::ethereum();
    let n = fresh_nonce(&app, &w).await;
    let text = message(&w, &n, app.clock_now(), "https://cdn.example/app", None);
    let r = verify(&app, &w, &text).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let n = fresh_nonce(&app, &w).await;
    let text = format!(
        "http://{}",
        message(&w, &n, app.clock_now(), "https://cdn.example/app", None)
    );
    verify(&app, &w, &text)
        .await
        .assert_error(401, "domain_mismatch");
}

#[tokio::test]
async fn statements_that_hide_or_reorder_text_are_refused() {
    let app = spawn_app_with(Backend::Memory, |_| {}).await;
    let uri = format!("http://{DOMAIN}/login");
    for w in [Wallet::solana(), Wallet::ethereum()] {
        for c in [
            '\u{2028}', '\u{2029}', '\u{202E}', '\u{202A}', '\u{2066}', '\u{2069}', '\u{200F}',
            '\u{061C}', '\u{200B}', '\u{FEFF}', '\u{85}',
        ] {
            let n = fresh_nonce(&app, &w).await;
            let statement = format!("Sign in to the test app{c} and pay 10 SOL");
            let text = message(&w, &n, app.clock_now(), &uri, Some(&statement));
            let r = verify(&app, &w, &text).await;
            r.assert_error(400, "invalid_message");
            assert!(
                !r.body.to_string().contains(&statement),
                "no echo: {}",
                r.body
            );
        }
    }
    // Readable text in any script, emoji sequences included, is fine for SIWS.
    let s = Wallet::solana();
    let n = fresh_nonce(&app, &s).await;
    let text = message(
        &s,
        &n,
        app.clock_now(),
        &uri,
        Some("Connexion \u{e0} l'app \u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467} \u{05e9}\u{05dc}\u{05d5}\u{05dd}"),
    );
    let r = verify(&app, &s, &text).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

async fn verify_from(app: &TestApp, forwarded: &[&str], body: &Value) -> Resp {
    let mut rb = app.http.post(app.url("/auth/verify")).json(body);
    for f in forwarded {
        rb = rb.header("x-forwarded-for", *f);
    }
    app.send(rb).await
}

async fn signed_in_ip(app: &TestApp, forwarded: &[&str]) -> String {
    let body = app.signed_body(&Wallet::solana()).await;
    let r = verify_from(app, forwarded, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{forwarded:?}: {}", r.body);
    let t = r.body["token"].as_str().unwrap();
    let list = app.get("/auth/sessions", Some(t)).await;
    let current = list.body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()
        .clone();
    current["ip"].as_str().unwrap().to_owned()
}

async fn forwarded_for_takes_the_entry_the_proxy_appended(b: Backend) {
    let app = spawn_app_with(b, |c| c.http.trust_proxy = true).await;
    // The proxy appends the address it saw, with or without a port or brackets; whatever the
    // client wrote before it is never read.
    for (headers, want) in [
        (&["203.0.113.9"][..], "203.0.113.9"),
        (&["1.1.1.1, 203.0.113.9:4711"][..], "203.0.113.9"),
        (&["1.1.1.1, [2001:db8::7]:443"][..], "2001:db8::7"),
        (&["1.1.1.1,[2001:db8::8]"][..], "2001:db8::8"),
        (&["1.1.1.1", "198.51.100.4"][..], "198.51.100.4"),
        // The proxy wrote something that is not an address: unknown, never the spoofed entry.
        (&["1.1.1.1, unknown"][..], "unknown"),
        (&["1.1.1.1, _hidden"][..], "unknown"),
        (&["1.1.1.1, "][..], "unknown"),
        // No header at all behind a trusted proxy: unknown, never the proxy's own address.
        (&[][..], "unknown"),
    ] {
        assert_eq!(signed_in_ip(&app, headers).await, want, "{headers:?}");
    }

    // Two trusted proxies: the client is the second entry from the right.
    let two = spawn_app_with(b, |c| {
        c.http.trust_proxy = true;
        c.http.trust_proxy_hops = 2;
    })
    .await;
    assert_eq!(
        signed_in_ip(&two, &["6.6.6.6, 203.0.113.5, 10.0.0.2"]).await,
        "203.0.113.5"
    );
    assert_eq!(signed_in_ip(&two, &["10.0.0.2"]).await, "unknown");

    // The rate limit follows the proxy's entry: a new spoofed entry per request buys nothing.
    let limited = spawn_app_with(b, |c| {
        c.http.trust_proxy = true;
        c.limits.rate_limit_per_min = 3;
    })
    .await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        let spoof = format!("10.9.{i}.1, 198.51.100.77:{}", 5000 + i);
        let r = limited
            .http
            .post(limited.url("/auth/nonce"))
            .header("x-forwarded-for", spoof)
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    // Another client behind the same proxy has its own budget.
    let other = limited
        .http
        .post(limited.url("/auth/nonce"))
        .header("x-forwarded-for", "198.51.100.78")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::OK);
}

/// `CORS_ORIGINS` and `CSRF_TRUSTED_ORIGINS` read from their variables, as the server does.
fn origins(cors: &str, csrf_trusted: &str) -> wallet_auth::config::OriginSettings {
    let vars = [
        ("CORS_ORIGINS", cors),
        ("CSRF_TRUSTED_ORIGINS", csrf_trusted),
    ];
    wallet_auth::config::Config::from_lookup(|k| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_owned())
    })
    .unwrap()
    .origins
}

/// An origin listed only in `CSRF_TRUSTED_ORIGINS` is trusted in place of the CSRF token, and
/// nothing more: no `Access-Control-Allow-Origin` or `-Credentials` on a preflight or on a real
/// request, so its page cannot read any answer. An origin of `CORS_ORIGINS` gets both.
#[tokio::test]
async fn csrf_trusted_origin_gets_no_cors() {
    const APP: &str = "https://app.example";
    const FORMS: &str = "https://forms.example";
    let app = spawn_app_with(Backend::Memory, |c| c.origins = origins(APP, FORMS)).await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/api/preferences"))
            .header("origin", origin)
            .header("access-control-request-method", "PUT")
            .header(
                "access-control-request-headers",
                "content-type,x-csrf-token",
            )
            .send()
    };
    let cors_headers = |r: &Resp| {
        (
            r.header("access-control-allow-origin"),
            r.header("access-control-allow-credentials"),
        )
    };
    let allowed = Resp::from(preflight(APP).await.unwrap()).await;
    assert_eq!(
        cors_headers(&allowed),
        (Some(APP.to_owned()), Some("true".to_owned()))
    );
    let trusted = Resp::from(preflight(FORMS).await.unwrap()).await;
    assert_eq!(cors_headers(&trusted), (None, None), "preflight");

    let signed_in = app.sign_in(&Wallet::ethereum()).await;
    let cookie = format!("wallet_session={}", signed_in.session_cookie().unwrap());
    let csrf = signed_in.body["csrfToken"].as_str().unwrap().to_owned();
    let put = |origin: &'static str, token: Option<&str>| {
        let mut rb = app
            .http
            .put(app.url("/api/preferences"))
            .header("cookie", &cookie)
            .header("origin", origin)
            .json(&serde_json::json!({"theme": "dark"}));
        if let Some(t) = token {
            rb = rb.header("x-csrf-token", t);
        }
        rb.send()
    };
    // Cookie-authenticated, from the CSRF-trusted origin: accepted without the token and with
    // it, and neither answer is readable cross-origin.
    for token in [None, Some(csrf.as_str())] {
        let r = Resp::from(put(FORMS, token).await.unwrap()).await;
        assert_eq!(r.status, StatusCode::OK, "{token:?}: {}", r.body);
        assert_eq!(cors_headers(&r), (None, None), "{token:?}");
    }
    let r = Resp::from(put(APP, None).await.unwrap()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        cors_headers(&r),
        (Some(APP.to_owned()), Some("true".to_owned()))
    );
    // A POST with the CSRF header from the trusted origin ends the session, unreadably.
    let r = app
        .with_cookies(
            reqwest::Method::POST,
            "/auth/logout",
            &[&cookie],
            &[("origin", FORMS), ("x-csrf-token", &csrf)],
        )
        .await;
    assert!(r.status.is_success(), "{}: {}", r.status, r.body);
    assert_eq!(cors_headers(&r), (None, None), "logout");
    // An origin in neither list is refused without the token.
    let r = Resp::from(put("https://evil.example", None).await.unwrap()).await;
    assert_eq!(r.status.as_u16(), 401, "the session has ended: {}", r.body);
}
