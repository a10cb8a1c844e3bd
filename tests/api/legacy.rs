//! Legacy username/password sessions beside wallet sessions.

use reqwest::StatusCode;
use serde_json::json;

use crate::both_stores;
use crate::helpers::{spawn_app, Backend, Wallet};

both_stores!(user_login_me_logout, sessions_of_one_kind_are_not_the_other);

fn sid_of(r: &crate::helpers::Resp) -> String {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("sid="))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .expect("sid cookie")
}

async fn user_login_me_logout(b: Backend) {
    let app = spawn_app(b).await;
    app.state
        .users()
        .add("alice", "correct horse battery")
        .await
        .unwrap();
    app.post(
        "/auth/user/login",
        None,
        Some(json!({"username": "alice", "password": "nope"})),
    )
    .await
    .assert_error(401, "unauthenticated");
    let unknown = app
        .post(
            "/auth/user/login",
            None,
            Some(json!({"username": "mallory", "password": "nope"})),
        )
        .await;
    unknown.assert_error(401, "unauthenticated");
    let r = app
        .post(
            "/auth/user/login",
            None,
            Some(json!({"username": "alice", "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"username": "alice"}));
    let sid = sid_of(&r);
    let me = app
        .http
        .get(app.url("/api/user/me"))
        .header("cookie", format!("sid={sid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        crate::helpers::Resp::from(me).await.body,
        json!({"username": "alice"})
    );
    let out = app
        .http
        .post(app.url("/auth/user/logout"))
        .header("cookie", format!("sid={sid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let me = app
        .http
        .get(app.url("/api/user/me"))
        .header("cookie", format!("sid={sid}"))
        .send()
        .await
        .unwrap();
    crate::helpers::Resp::from(me)
        .await
        .assert_error(401, "unauthenticated");
    app.get("/api/user/me", None)
        .await
        .assert_error(401, "unauthenticated");
}

async fn sessions_of_one_kind_are_not_the_other(b: Backend) {
    let app = spawn_app(b).await;
    app.state.users().add("bob", "pw-bob-123").await.unwrap();
    let r = app
        .post(
            "/auth/user/login",
            None,
            Some(json!({"username": "bob", "password": "pw-bob-123"})),
        )
        .await;
    let sid = sid_of(&r);
    let w = app.sign_in(&Wallet::ethereum()).await;
    let wallet_cookie = w.session_cookie().unwrap();
    // The user session does not open wallet routes, and the wallet session not user routes.
    let r = app
        .http
        .get(app.url("/api/me"))
        .header("cookie", format!("sid={sid}"))
        .send()
        .await
        .unwrap();
    crate::helpers::Resp::from(r)
        .await
        .assert_error(401, "unauthenticated");
    let r = app
        .http
        .get(app.url("/api/me"))
        .header("cookie", format!("wallet_session={sid}"))
        .send()
        .await
        .unwrap();
    crate::helpers::Resp::from(r)
        .await
        .assert_error(401, "unauthenticated");
    let r = app
        .http
        .get(app.url("/api/user/me"))
        .header("cookie", format!("sid={wallet_cookie}"))
        .send()
        .await
        .unwrap();
    crate::helpers::Resp::from(r)
        .await
        .assert_error(401, "unauthenticated");
    // Both at once work side by side.
    let both = format!("sid={sid}; wallet_session={wallet_cookie}");
    let r = app
        .http
        .get(app.url("/api/user/me"))
        .header("cookie", &both)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .http
        .get(app.url("/api/me"))
        .header("cookie", &both)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

mod rate {
    use super::*;
    both_stores!(login_is_rate_limited_per_ip_and_per_username);
}

/// The login budget: per client IP, and per username across IPs (a password-spraying client
/// that rotates its address still hits the username's budget).
async fn login_is_rate_limited_per_ip_and_per_username(b: Backend) {
    let app = crate::helpers::spawn_app_with(b, |c| {
        c.rate_limit_per_min = 3;
        c.trust_proxy = true;
    })
    .await;
    app.state
        .users()
        .add("dave", "daves-password")
        .await
        .unwrap();
    let attempt = |ip: &'static str, user: &'static str| {
        let http = app.http.clone();
        let url = app.url("/auth/user/login");
        async move {
            let r = http
                .post(url)
                .header("x-forwarded-for", ip)
                .json(&json!({"username": user, "password": "wrong"}))
                .send()
                .await
                .unwrap();
            crate::helpers::Resp::from(r).await
        }
    };
    // One IP, three users: the IP budget (3) runs out.
    for user in ["u1", "u2", "u3"] {
        attempt("198.51.100.1", user)
            .await
            .assert_error(401, "unauthenticated");
    }
    let r = attempt("198.51.100.1", "u4").await;
    r.assert_error(429, "rate_limited");
    assert!(r.header("retry-after").is_some());
    // One user, fresh IPs each time: the username budget (3) runs out.
    for ip in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        attempt(ip, "dave")
            .await
            .assert_error(401, "unauthenticated");
    }
    attempt("203.0.113.4", "dave")
        .await
        .assert_error(429, "rate_limited");
}
