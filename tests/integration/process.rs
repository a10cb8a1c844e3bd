//! The `wallet-auth` binary as an operator meets it: an out-of-range configuration stops
//! start-up with one line naming the variable (exit 2), and SIGTERM always finishes, within
//! `SHUTDOWN_TIMEOUT`, whatever the clients are doing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_wallet-auth");

fn command() -> Command {
    let mut c = Command::new(BIN);
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "error")
        .stdin(Stdio::null());
    c
}

#[test]
fn extreme_configuration_values_stop_start_up_with_one_line() {
    for (var, value) in [
        ("NONCE_TTL", "1000000000d"),
        ("WALLET_SESSION_TTL", "18446744073709551615s"),
        ("WALLET_SESSION_MAX_LIFETIME", "99999999999999999999d"),
        ("WALLET_SESSION_REFRESH_WINDOW", "1000000000d"),
        ("CLOCK_SKEW", "1000000000d"),
        ("STORE_TIMEOUT", "1000000000d"),
        ("HTTP_HEADER_TIMEOUT", "1000000000d"),
        ("HTTP_IDLE_TIMEOUT", "1000000000d"),
        ("HTTP_REQUEST_TIMEOUT", "1000000000d"),
        ("SHUTDOWN_TIMEOUT", "1000000000d"),
        ("MAX_CONNECTIONS", "99999999999999999999"),
        ("MAX_CONNECTIONS_PER_IP", "0"),
        ("MAX_BODY_BYTES", "18446744073709551615"),
        ("MAX_SESSIONS_PER_WALLET", "18446744073709551615"),
    ] {
        for args in [&["config", "check"][..], &["serve"][..]] {
            let out = command()
                .args(args)
                .env(var, value)
                .env("BIND_ADDR", "127.0.0.1:0")
                .output()
                .expect("run the binary");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{var}={value} {args:?}: {stderr}"
            );
            assert_eq!(stderr.trim().lines().count(), 1, "{var}: {stderr}");
            assert!(stderr.contains(var), "{var}: {stderr}");
            assert!(!stderr.contains("panic"), "{var}: {stderr}");
        }
    }
}

#[test]
fn both_stores_configured_is_a_one_line_configuration_error() {
    for args in [&["config", "check"][..], &["serve"][..], &["migrate"][..]] {
        let out = command()
            .args(args)
            .env("REDIS_URL", "redis://127.0.0.1:1")
            .env("DATABASE_URL", "postgres://wa:secret-pw@127.0.0.1:1/wa")
            .env("SESSION_ENCRYPTION_KEY", "ab".repeat(32))
            .env("BIND_ADDR", "127.0.0.1:0")
            .output()
            .expect("run the binary");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.contains("DATABASE_URL") && stderr.contains("REDIS_URL"),
            "{stderr}"
        );
        assert!(!stderr.contains("secret-pw"), "{stderr}");
    }
    // `migrate` needs a database.
    let out = command()
        .args(["migrate"])
        .output()
        .expect("run the binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
}

#[test]
fn sigterm_finishes_within_the_deadline_while_a_client_holds_a_half_sent_request() {
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let mut child = command()
        .arg("serve")
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("HTTP_HEADER_TIMEOUT", "10m")
        .env("HTTP_IDLE_TIMEOUT", "1h")
        .env("HTTP_REQUEST_TIMEOUT", "10m")
        .env("SHUTDOWN_TIMEOUT", "1s")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the binary");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut probe = loop {
        if let Ok(s) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) {
            break s;
        }
        assert!(Instant::now() < deadline, "the server did not come up");
        std::thread::sleep(Duration::from_millis(50));
    };
    probe
        .write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 12];
    probe.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"HTTP/1.1 200");

    let mut half_head = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    half_head
        .write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n")
        .unwrap();
    let mut half_body = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    half_body
        .write_all(
            b"POST /auth/verify HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
              Content-Length: 500\r\n\r\n{",
        )
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let sent = Instant::now();
    let exited = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if sent.elapsed() > Duration::from_secs(8) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if exited.is_none() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("SIGTERM did not stop the server within 8 s (SHUTDOWN_TIMEOUT=1s)");
    }
    assert!(exited.unwrap().success(), "{exited:?}");
    drop((half_head, half_body));
}
