//! A private local chain for tests: anvil, from the npm package `@foundry-rs/anvil` installed
//! in `contracts/node_modules` by `scripts/ensure-contracts.sh`, on a free loopback port.
//!
//! A missing binary fails the test with a message pointing at that script, never skips it.
//! Like the Redis servers, anvil runs under a small `sh` watchdog holding a pipe from the test
//! process: when the test process ends in any way, the pipe closes and the watchdog kills
//! anvil by its pid.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpStream};

use super::free_port;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// How long anvil may take to answer after it is started.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The default chain id of a test chain (anvil's own default).
pub const CHAIN_ID: u64 = 31_337;

const WATCHDOG: &str = r#"
"$ANVIL_BIN" "$@" >/dev/null 2>&1 &
pid=$!
echo "$pid"
read -r _
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
"#;

/// The project's `contracts/` folder.
pub fn contracts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("contracts")
}

/// The anvil binary shipped by the npm package (or `$ANVIL_BIN`).
pub fn anvil_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("ANVIL_BIN") {
        return PathBuf::from(p);
    }
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let path = contracts_dir().join(format!(
        "node_modules/@foundry-rs/anvil-{os}-{arch}/bin/anvil"
    ));
    assert!(
        path.is_file(),
        "anvil is not installed at {}; the contract-wallet tests need a real local chain. \
         Run `scripts/ensure-contracts.sh` (installs contracts/package.json's npm packages).",
        path.display()
    );
    path
}

/// One JSON-RPC call over a plain blocking socket (used before a runtime exists); `None` when
/// the node does not answer.
pub fn blocking_rpc(port: u16, method: &str, params: &str) -> Option<serde_json::Value> {
    let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}"#);
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let json = text.split_once("\r\n\r\n")?.1;
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    v.get("result").cloned()
}

/// A running anvil. Killed (by pid, through its watchdog) when dropped.
pub struct Anvil {
    port: u16,
    pid: Option<u32>,
    watchdog: Option<(Child, ChildStdin)>,
}

impl Anvil {
    /// A new chain with id [`CHAIN_ID`].
    pub fn start() -> Self {
        Self::start_with_chain_id(CHAIN_ID)
    }

    /// A new chain with the given id.
    pub fn start_with_chain_id(chain_id: u64) -> Self {
        let bin = anvil_binary();
        let port = free_port();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("anvil-watchdog")
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--chain-id",
                &chain_id.to_string(),
                "--silent",
            ])
            .env("ANVIL_BIN", &bin)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the anvil watchdog (sh)");
        let stdin = child.stdin.take().expect("watchdog stdin");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("watchdog stdout"))
            .read_line(&mut line)
            .expect("read anvil's pid");
        let pid = line.trim().parse().expect("anvil's pid");
        let anvil = Anvil {
            port,
            pid: Some(pid),
            watchdog: Some((child, stdin)),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        while blocking_rpc(port, "eth_chainId", "[]").is_none() {
            assert!(
                Instant::now() < deadline,
                "anvil did not answer on port {port} within {START_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        anvil
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops anvil (kill by pid) and waits until its port refuses connections.
    pub fn stop(&mut self) {
        if let Some((mut child, mut stdin)) = self.watchdog.take() {
            let _ = writeln!(stdin, "stop");
            drop(stdin);
            let _ = child.wait();
        }
        self.pid = None;
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_ok() {
            assert!(Instant::now() < deadline, "anvil still listens after kill");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        if let Some((mut child, stdin)) = self.watchdog.take() {
            drop(stdin);
            let _ = child.wait();
        }
    }
}
