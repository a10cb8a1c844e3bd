//! The validation path, piece by piece, in-process (no socket): reading and hashing a token,
//! the memory store's lookup, opening a record (AES-256-GCM, then postcard), the whole
//! `WalletSessions::validate` on the memory store, and `GET /api/me` and `GET /health` through
//! the server's router with `oneshot` (every layer: request id, request log, metrics, security
//! headers, timeout, panic catcher, session headers). The server is configured as bench/run.sh
//! configures it (no rate limit, no session binding).
//!
//! `cargo bench --bench validation -- --warm-up-time 1 --measurement-time 3`

#![allow(clippy::expect_used, clippy::unwrap_used)] // bench code: a panic is a failure

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use criterion::{criterion_group, criterion_main, Criterion};
use tower::ServiceExt as _;
use wallet_auth::config::Config;
use wallet_auth::session::wallet::steps;
use wallet_auth::session::{RequestContext, Validation};
use wallet_auth::store::SessionEntry;
use wallet_auth::verify::{Chain, WalletType};
use wallet_auth::AuthState;

const UA: &str = "wallet-auth-bench/1";
const ADDRESS: &str = "0x2E43D3C652F5ABE5294517195C989BA0b4B67A5f";

fn config() -> Config {
    Config::from_lookup(|k| {
        match k {
            "RATE_LIMIT_PER_MIN" => Some("0"),
            "SESSION_BINDING" => Some("off"),
            "COOKIE_SECURE" => Some("false"),
            "RUST_LOG" => Some("off"),
            _ => None,
        }
        .map(str::to_owned)
    })
    .unwrap()
}

fn request(uri: &str, token: Option<&str>) -> Request<Body> {
    let mut b = Request::builder()
        .uri(uri)
        .header("user-agent", UA)
        .extension(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40_000))));
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Body::empty()).unwrap()
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = config();
    let store = rt.block_on(wallet_auth::store::open(&config)).unwrap();
    let state = AuthState::new(config, Arc::clone(&store));
    let ctx = RequestContext {
        user_agent: UA.to_owned(),
        ip: "127.0.0.1".to_owned(),
    };
    let (token, _) = rt
        .block_on(state.sessions().create(
            Chain::Ethereum,
            ADDRESS,
            Some("1".to_owned()),
            WalletType::Eoa,
            &ctx,
        ))
        .unwrap();
    let (tag, sid, hash) = steps::read_token(&token).unwrap();
    let Some(SessionEntry::Live(sealed)) = rt
        .block_on(store.get_session(&tag, &hash, sid.as_ref()))
        .unwrap()
    else {
        panic!("the session just created is live");
    };
    let app = wallet_auth::http::router(state.clone());

    // Every piece works before anything is timed.
    assert!(steps::open_record(state.sessions(), &tag, &hash, &sealed));
    assert!(matches!(
        rt.block_on(state.sessions().validate(&token, &ctx))
            .unwrap(),
        Validation::Valid(_)
    ));
    let res = rt.block_on(app.clone().oneshot(request("/api/me", Some(&token))));
    assert_eq!(res.unwrap().status(), StatusCode::OK);
    let res = rt.block_on(app.clone().oneshot(request("/health", None)));
    assert_eq!(res.unwrap().status(), StatusCode::OK);

    let mut group = c.benchmark_group("validation path");
    group.bench_function("token: read + SHA-256", |b| {
        b.iter(|| steps::read_token(black_box(&token)).unwrap())
    });
    group.bench_function("memory store: get_session", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(store.get_session(&tag, &hash, sid.as_ref()).await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("record: AES-256-GCM open + postcard decode", |b| {
        b.iter(|| steps::open_record(state.sessions(), &tag, &hash, black_box(&sealed)))
    });
    group.bench_function("WalletSessions::validate (memory store)", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(state.sessions().validate(&token, &ctx).await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    for (name, uri, token) in [
        (
            "router: GET /api/me (oneshot)",
            "/api/me",
            Some(token.as_str()),
        ),
        ("router: GET /health (oneshot)", "/health", None),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let res = app.clone().oneshot(request(uri, token)).await.unwrap();
                        let body = axum::body::to_bytes(res.into_body(), 1 << 16).await;
                        black_box(body.unwrap());
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

criterion_group!(validation, benches);
criterion_main!(validation);
