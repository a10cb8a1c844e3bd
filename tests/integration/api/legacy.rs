//! Legacy username/password sessions beside wallet sessions.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::app::{spawn_app, Backend, Resp, TestApp, Wallet};
use crate::on_every_backend;

on_every_backend!(user_login_me_logout, sessions_of_one_kind_are_not_the_other);

fn sid_of(r: &Resp) -> String {
    r.cookie("sid").expect("sid cookie")
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
    assert_eq!(r.body["username"], "alice");
    let csrf = r.body["csrfToken"].as_str().expect("csrfToken").to_owned();
    let sid = sid_of(&r);
    let me = app
        .send(
            app.request(Method::GET, "/api/user/me")
                .header("cookie", format!("sid={sid}")),
        )
        .await;
    assert_eq!(me.body["username"], "alice");
    assert_eq!(me.body["csrfToken"], csrf.as_str());
    let out = app
        .http
        .post(app.url("/auth/user/logout"))
        .header("cookie", format!("sid={sid}"))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let me = app
        .send(
            app.request(Method::GET, "/api/user/me")
                .header("cookie", format!("sid={sid}")),
        )
        .await;
    me.assert_error(401, "unauthenticated");
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
        .send(
            app.request(Method::GET, "/api/me")
                .header("cookie", format!("sid={sid}")),
        )
        .await;
    r.assert_error(401, "unauthenticated");
    let r = app
        .send(
            app.request(Method::GET, "/api/me")
                .header("cookie", format!("wallet_session={sid}")),
        )
        .await;
    r.assert_error(401, "unauthenticated");
    let r = app
        .send(
            app.request(Method::GET, "/api/user/me")
                .header("cookie", format!("sid={wallet_cookie}")),
        )
        .await;
    r.assert_error(401, "unauthenticated");
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
    on_every_backend!(login_is_rate_limited_per_ip_and_per_username);
}

/// The login budget: per client IP, and per username across IPs (a password-spraying client
/// that rotates its address still hits the username's budget).
async fn login_is_rate_limited_per_ip_and_per_username(b: Backend) {
    let app = crate::harness::app::spawn_app_with(b, |c| {
        c.limits.rate_limit_per_min = 3;
        c.http.trust_proxy = true;
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
            crate::harness::app::Resp::from(r).await
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

/// Signs `user` in; the response.
async fn login(app: &TestApp, user: &str, password: &str) -> Resp {
    app.post(
        "/auth/user/login",
        None,
        Some(json!({"username": user, "password": password})),
    )
    .await
}

/// Signs `user` in; `(sid, csrfToken)`.
async fn login_ok(app: &TestApp, user: &str, password: &str) -> (String, String) {
    let r = login(app, user, password).await;
    assert_eq!(r.status, StatusCode::OK, "login: {}", r.body);
    let csrf = r.body["csrfToken"]
        .as_str()
        .filter(|t| !t.is_empty())
        .expect("login answers a csrfToken")
        .to_owned();
    (sid_of(&r), csrf)
}

async fn me_status(app: &TestApp, sid: &str) -> u16 {
    app.with_cookies(Method::GET, "/api/user/me", &[&format!("sid={sid}")], &[])
        .await
        .status
        .as_u16()
}

mod hardening {
    use super::*;
    on_every_backend!(
        user_logout_follows_the_csrf_rule,
        password_change_or_removal_ends_user_sessions,
        duplicate_user_session_cookies_are_refused,
        host_prefixed_user_cookie_when_secure,
    );
}

/// Cookie-authenticated unsafe requests of user sessions follow the CSRF rule, like wallet
/// sessions: `X-CSRF-Token` equal to the session's token, or an allowed `Origin`.
async fn user_logout_follows_the_csrf_rule(b: Backend) {
    let app = crate::harness::app::spawn_app_with(b, |c| {
        c.origins.cors = vec!["https://dapp.example".into()];
    })
    .await;
    app.state
        .users()
        .add("carol", "carols-password")
        .await
        .unwrap();
    let (sid, csrf) = login_ok(&app, "carol", "carols-password").await;
    let cookie = format!("sid={sid}");
    // A forged cross-site logout: no token, a wrong token, a foreign origin.
    for headers in [
        vec![],
        vec![("x-csrf-token", "nope")],
        vec![("origin", "https://evil.example")],
        vec![("x-csrf-token", ""), ("origin", "null")],
    ] {
        app.with_cookies(Method::POST, "/auth/user/logout", &[&cookie], &headers)
            .await
            .assert_error(403, "csrf_failed");
        assert_eq!(me_status(&app, &sid).await, 200, "the session still works");
    }
    // Another session's token is not this session's token.
    let (_, other_csrf) = login_ok(&app, "carol", "carols-password").await;
    app.with_cookies(
        Method::POST,
        "/auth/user/logout",
        &[&cookie],
        &[("x-csrf-token", &other_csrf)],
    )
    .await
    .assert_error(403, "csrf_failed");
    // With the token: ended, and the cookie is cleared.
    let r = app
        .with_cookies(
            Method::POST,
            "/auth/user/logout",
            &[&cookie],
            &[("x-csrf-token", &csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.deletes("sid"));
    assert_eq!(me_status(&app, &sid).await, 401);
    // From an allowed origin: accepted too.
    let (sid2, _) = login_ok(&app, "carol", "carols-password").await;
    let r = app
        .with_cookies(
            Method::POST,
            "/auth/user/logout",
            &[&format!("sid={sid2}")],
            &[("origin", "https://dapp.example")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(me_status(&app, &sid2).await, 401);
}

/// Replacing a user's password or removing the user ends every session of that user at once,
/// on every instance.
async fn password_change_or_removal_ends_user_sessions(b: Backend) {
    let app = spawn_app(b).await;
    let users = app.state.users();
    users.add("erin", "first-password").await.unwrap();
    users.add("frank", "franks-password").await.unwrap();
    let (a, _) = login_ok(&app, "erin", "first-password").await;
    let (bs, _) = login_ok(&app, "erin", "first-password").await;
    let (f, _) = login_ok(&app, "frank", "franks-password").await;
    assert_eq!(me_status(&app, &a).await, 200);
    assert_eq!(me_status(&app, &bs).await, 200);
    // A new password: both sessions end; the old password no longer works.
    users.add("erin", "second-password").await.unwrap();
    assert_eq!(me_status(&app, &a).await, 401);
    assert_eq!(me_status(&app, &bs).await, 401);
    login(&app, "erin", "first-password")
        .await
        .assert_error(401, "unauthenticated");
    let (c, csrf) = login_ok(&app, "erin", "second-password").await;
    assert_eq!(me_status(&app, &c).await, 200);
    // Setting the same password again still ends the sessions (a reset is a reset).
    users.add("erin", "second-password").await.unwrap();
    assert_eq!(me_status(&app, &c).await, 401);
    let (d, _) = login_ok(&app, "erin", "second-password").await;
    if b != Backend::Memory {
        // Another instance over the same store sees the end too.
        let sib = crate::harness::app::spawn_sibling(&app).await;
        assert_eq!(me_status(&sib, &d).await, 200);
        sib.state.users().remove("erin").await.unwrap();
        assert_eq!(me_status(&sib, &d).await, 401);
    } else {
        users.remove("erin").await.unwrap();
    }
    // Removed: the session is over, logout too.
    assert_eq!(me_status(&app, &d).await, 401);
    app.with_cookies(
        Method::POST,
        "/auth/user/logout",
        &[&format!("sid={c}")],
        &[("x-csrf-token", &csrf)],
    )
    .await
    .assert_error(401, "unauthenticated");
    // Re-created with the same name: the old sessions stay ended.
    users.add("erin", "second-password").await.unwrap();
    for s in [&a, &bs, &c, &d] {
        assert_eq!(me_status(&app, s).await, 401);
    }
    // Other users untouched.
    assert_eq!(me_status(&app, &f).await, 200);
}

/// Two cookies of the same session name (a tossed cookie from a sibling subdomain, or one
/// with another path) are refused, whichever comes first.
async fn duplicate_user_session_cookies_are_refused(b: Backend) {
    let app = spawn_app(b).await;
    app.state
        .users()
        .add("gina", "ginas-password")
        .await
        .unwrap();
    let (mine, csrf) = login_ok(&app, "gina", "ginas-password").await;
    let (theirs, _) = login_ok(&app, "gina", "ginas-password").await;
    let one = format!("sid={mine}");
    assert_eq!(me_status(&app, &mine).await, 200);
    for cookies in [
        vec![format!("sid={mine}; sid={theirs}")],
        vec![format!("sid={theirs}; sid={mine}")],
        vec![format!("sid={mine}; sid={mine}")],
        vec![format!("sid={mine}; sid=garbage")],
        vec![one.clone(), format!("sid={theirs}")],
        vec![format!("sid={mine}"), format!("__Host-sid={theirs}")],
    ] {
        let refs: Vec<&str> = cookies.iter().map(String::as_str).collect();
        app.with_cookies(Method::GET, "/api/user/me", &refs, &[])
            .await
            .assert_error(401, "unauthenticated");
        app.with_cookies(
            Method::POST,
            "/auth/user/logout",
            &refs,
            &[("x-csrf-token", &csrf)],
        )
        .await
        .assert_error(401, "unauthenticated");
    }
    assert_eq!(me_status(&app, &mine).await, 200, "refused, not ended");
}

/// With `COOKIE_SECURE` (and no cookie domain), the user session cookie is `__Host-sid`,
/// which a sibling subdomain cannot plant; the old `sid` name is still read for a release.
async fn host_prefixed_user_cookie_when_secure(b: Backend) {
    let app = crate::harness::app::spawn_app_with(b, |c| c.cookies.secure = true).await;
    app.state
        .users()
        .add("hana", "hanas-password")
        .await
        .unwrap();
    let r = login(&app, "hana", "hanas-password").await;
    assert_eq!(r.status, StatusCode::OK);
    // Secure, Path=/ and no Domain are checked by the harness (crate::harness::cookies).
    let sid = r.only_cookie("__Host-sid");
    assert!(r.cookie("sid").is_none(), "no cookie under the old name");
    let me = |cookies: Vec<String>| {
        let app = &app;
        async move {
            let refs: Vec<&str> = cookies.iter().map(String::as_str).collect();
            app.with_cookies(Method::GET, "/api/user/me", &refs, &[])
                .await
        }
    };
    assert_eq!(me(vec![format!("__Host-sid={sid}")]).await.status, 200);
    assert_eq!(me(vec![format!("sid={sid}")]).await.status, 200, "old name");
    me(vec![format!("__Host-sid={sid}; sid={sid}")])
        .await
        .assert_error(401, "unauthenticated");
    me(vec![format!("__Host-sid={sid}; __Host-sid={sid}")])
        .await
        .assert_error(401, "unauthenticated");
}

mod store_failure {
    /// A store failure while the login writes its session is a JSON `503 store_unavailable`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn login_session_write_failure_is_json_503() {
        super::login_session_write_failure_is_json_503().await;
    }
}

async fn login_session_write_failure_is_json_503() {
    let mut app = spawn_app(Backend::Redis).await;
    app.state
        .users()
        .add("ivan", "ivans-password")
        .await
        .unwrap();
    let url = app.store_url.clone().unwrap();
    let client = ::redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    // Reads work, writes fail: the password check passes and the session write fails.
    let _: () = ::redis::cmd("ACL")
        .arg("SETUSER")
        .arg("default")
        .arg("-set")
        .query_async(&mut conn)
        .await
        .unwrap();
    let r = login(&app, "ivan", "ivans-password").await;
    r.assert_error(503, "store_unavailable");
    assert!(r.header("retry-after").is_some());
    assert!(
        r.set_cookies().is_empty(),
        "no cookie for a session never saved"
    );
    let _: () = ::redis::cmd("ACL")
        .arg("SETUSER")
        .arg("default")
        .arg("+set")
        .query_async(&mut conn)
        .await
        .unwrap();
    let (sid, _) = login_ok(&app, "ivan", "ivans-password").await;
    assert_eq!(me_status(&app, &sid).await, 200);
    // The whole store down: the same JSON answer, for login and for the session routes.
    app.redis.as_mut().unwrap().stop();
    login(&app, "ivan", "ivans-password")
        .await
        .assert_error(503, "store_unavailable");
    app.with_cookies(Method::GET, "/api/user/me", &[&format!("sid={sid}")], &[])
        .await
        .assert_error(503, "store_unavailable");
}

mod cli {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis() {
        super::cli_user_add_and_remove_end_sessions(Backend::Redis).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cluster() {
        super::cli_user_add_and_remove_end_sessions(Backend::Cluster).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::cli_user_add_and_remove_end_sessions(Backend::Postgres).await;
    }
}

/// Runs the `wallet-auth` binary against `app`'s store with `stdin` as its input.
pub(super) async fn cli(app: &TestApp, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let url = app
        .store_url
        .as_deref()
        .expect("a Redis or PostgreSQL store");
    let var = if url.starts_with("postgres://") {
        "DATABASE_URL"
    } else {
        "REDIS_URL"
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_wallet-auth"))
        .args(args)
        .env(var, url)
        .env("REDIS_PREFIX", &app.config.store.redis_prefix)
        .env("STORE_TIMEOUT", "5s")
        .env("SESSION_ENCRYPTION_KEY", "ab".repeat(32))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run wallet-auth");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap()
}

/// `wallet-auth user add NAME` for an existing user replaces the password and ends the
/// user's sessions; `wallet-auth user remove NAME` ends them too.
async fn cli_user_add_and_remove_end_sessions(b: Backend) {
    let app = spawn_app(b).await;
    let out = cli(&app, &["user", "add", "judy"], "judys-first\n").await;
    assert!(out.status.success(), "{out:?}");
    let (a, _) = login_ok(&app, "judy", "judys-first").await;
    assert_eq!(me_status(&app, &a).await, 200);
    let out = cli(&app, &["user", "add", "judy"], "judys-second\n").await;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        me_status(&app, &a).await,
        401,
        "password changed: session ended"
    );
    login(&app, "judy", "judys-first")
        .await
        .assert_error(401, "unauthenticated");
    let (c, _) = login_ok(&app, "judy", "judys-second").await;
    assert_eq!(me_status(&app, &c).await, 200);
    let out = cli(&app, &["user", "remove", "judy"], "").await;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        me_status(&app, &c).await,
        401,
        "user removed: session ended"
    );
    login(&app, "judy", "judys-second")
        .await
        .assert_error(401, "unauthenticated");
}

#[cfg(target_os = "linux")]
mod password_checks {
    /// Many concurrent logins cost a bounded amount of memory: the password checks in flight
    /// are bounded, the rest wait briefly and then get `429` with `Retry-After`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_logins_use_bounded_memory() {
        super::concurrent_logins_use_bounded_memory().await;
    }
}

/// A server process, killed when dropped.
struct ServerProcess(std::process::Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A field of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`).
fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

async fn concurrent_logins_use_bounded_memory() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    const CHECKS: u64 = 2;
    const LOGINS: usize = 200;
    let redis = crate::harness::redis_server::RedisServer::start_new();
    let exe = env!("CARGO_BIN_EXE_wallet-auth");
    let env = [
        ("REDIS_URL", redis.url()),
        ("REDIS_PREFIX", "pwload:".to_owned()),
        ("SESSION_ENCRYPTION_KEY", "cd".repeat(32)),
    ];
    let mut add = Command::new(exe)
        .args(["user", "add", "kim"])
        .envs(env.clone())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut add.stdin.take().unwrap(), b"kims-password\n").unwrap();
    assert!(add.wait().unwrap().success());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = ServerProcess(
        Command::new(exe)
            .arg("serve")
            .envs(env)
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("COOKIE_SECURE", "false")
            .env("RATE_LIMIT_PER_MIN", "0")
            .env("TRUST_PROXY", "true")
            .env("PASSWORD_CHECKS_MAX", CHECKS.to_string())
            .env("DEMO_PAGE", "false")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = server.0.id();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while http
        .get(format!("{base}/health"))
        .send()
        .await
        .map_or(true, |r| !r.status().is_success())
    {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let attempt = |i: usize| {
        let http = http.clone();
        let url = format!("{base}/auth/user/login");
        let (user, password) = match i % 3 {
            0 => ("kim", "kims-password"),
            1 => ("kim", "wrong"),
            _ => ("nobody", "wrong"),
        };
        async move {
            let r = http
                .post(url)
                .header(
                    "x-forwarded-for",
                    format!("10.7.{}.{}", i / 200, i % 200 + 1),
                )
                .json(&json!({"username": user, "password": password}))
                .send()
                .await
                .unwrap();
            Resp::from(r).await
        }
    };
    // Warm up (workers started, their memory taken), one at a time.
    for i in 0..6 {
        let s = attempt(1000 + i).await.status.as_u16();
        assert!(s == 200 || s == 401, "warm-up: {s}");
    }
    let before = proc_status_kib(pid, "VmRSS");
    let answers = futures::future::join_all((0..LOGINS).map(attempt)).await;
    let peak = proc_status_kib(pid, "VmHWM");
    let added_mib = peak.saturating_sub(before) / 1024;
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for r in &answers {
        *statuses.entry(r.status.as_u16()).or_default() += 1;
    }
    // Argon2id takes ~19 MiB per check in flight: CHECKS of them, plus slack for the
    // connections; unbounded, 200 concurrent checks take gigabytes.
    let bound = CHECKS * 20 + 40;
    eprintln!("{LOGINS} concurrent logins: +{added_mib} MiB peak; statuses {statuses:?}");
    assert!(
        added_mib < bound,
        "{LOGINS} concurrent logins added {added_mib} MiB (bound {bound} MiB); statuses {statuses:?}"
    );
    let (mut limited, mut answered) = (0, 0);
    for r in &answers {
        match r.status.as_u16() {
            429 => {
                r.assert_error(429, "rate_limited");
                assert!(r.header("retry-after").is_some(), "429 with Retry-After");
                limited += 1;
            }
            200 | 401 => answered += 1,
            other => panic!("unexpected {other}: {}; statuses {statuses:?}", r.body),
        }
    }
    assert!(limited > 0, "some logins are refused with 429");
    assert!(answered > 0, "some logins are served");
    // Still serving.
    let r = attempt(3000).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    drop(server);
    drop(redis);
}
