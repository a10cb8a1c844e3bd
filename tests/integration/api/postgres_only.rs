//! PostgreSQL: restarts and outages, as with Redis.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::harness::app::{open, spawn_app_with, spawn_on, test_config, Backend, Wallet};
use crate::harness::postgres_server::PostgresServer;

/// A new server process (a new `AuthState` and store) on the same database keeps the wallet
/// and user sessions of the old one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_keeps_postgres_sessions() {
    let key = "45".repeat(32);
    let mut app = spawn_app_with(Backend::Postgres, |c| {
        c.store.encryption_keys = wallet_auth::config::EncryptionKeys::from_hex_list(&key).unwrap();
    })
    .await;
    let t = app.token(&Wallet::ethereum()).await;
    let url = app.store_url.clone().unwrap();
    let config = app.config.clone();
    let clock = app.clock.clone();
    app.stop().await;
    drop(app);
    let store = open(&config, Some(&url)).await;
    let again = spawn_on(config, store, None, Some(url), clock).await;
    assert_eq!(again.get("/api/me", Some(&t)).await.status, StatusCode::OK);
}

/// PostgreSQL stops: 503 `store_unavailable` within the bound; the same server recovers when
/// it is back, with the sessions written before (the database is durable).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_gives_503_then_recovers() {
    let mut server = PostgresServer::start_with_template();
    let url = server.fresh_database().await;
    // The bound under test: the default store timeout, not the test apps' generous one.
    let mut config = test_config();
    config.store.timeout = Duration::from_millis(500);
    let store = open(&config, Some(&url)).await;
    let app = spawn_on(
        config,
        store,
        None,
        Some(url),
        std::sync::Arc::new(wallet_auth::session::ManualClock::new(
            time::OffsetDateTime::now_utc(),
        )),
    )
    .await;
    let t = app.token(&Wallet::solana()).await;
    assert_eq!(app.get("/ready", None).await.body["store"], "postgres");
    server.stop();
    for path in ["/api/me", "/ready"] {
        let start = Instant::now();
        let r = app.get(path, Some(&t)).await;
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{path} answered within 1 s"
        );
        r.assert_error(503, "store_unavailable");
        assert!(r.header("retry-after").is_some());
        let body = r.body.to_string().to_lowercase();
        assert!(
            !body.contains("postgres") && !body.contains("sql"),
            "no internals: {body}"
        );
    }
    let start = Instant::now();
    app.post("/auth/nonce", None, None)
        .await
        .assert_error(503, "store_unavailable");
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(app.get("/health", None).await.status, StatusCode::OK);

    server.start();
    let back = Instant::now();
    loop {
        let r = app.get("/ready", None).await;
        if r.status == StatusCode::OK {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(3),
            "ready within 3 s of PostgreSQL returning: {}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.get("/api/me", Some(&t)).await.status, StatusCode::OK);
    let t2 = app.token(&Wallet::solana()).await;
    assert_eq!(app.get("/api/me", Some(&t2)).await.status, StatusCode::OK);
}

/// Runs the `wallet-auth` binary with `DATABASE_URL` set.
async fn binary(args: &[&str], url: &str) -> std::process::Output {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_wallet-auth"));
    c.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", url)
        .env("STORE_TIMEOUT", "5s")
        .env("SESSION_ENCRYPTION_KEY", "ab".repeat(32))
        .env("RUST_LOG", "error")
        .stdin(std::process::Stdio::null());
    tokio::time::timeout(Duration::from_secs(30), c.output())
        .await
        .expect("the binary finishes")
        .expect("run the binary")
}

/// `wallet-auth migrate` creates the schema of an empty database (and is idempotent); the
/// schema it creates is the one the store uses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_command_creates_the_schema() {
    use sqlx::Connection as _;
    let server = crate::harness::postgres_server::shared_postgres();
    let url = server.empty_database().await;
    for _ in 0..2 {
        let out = binary(&["migrate"], &url).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_name LIKE 'wa\\_%'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(tables, 11);
    let _ = conn.close().await;
    // A database that cannot be reached: exit 1, one line, no password.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = binary(
        &["migrate"],
        &format!("postgres://wa:secret-pw@127.0.0.1:{port}/wa"),
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("secret-pw"), "{stderr}");
}
