//! Private Redis servers for tests: a single node ([`RedisServer`]) or a 3-master cluster
//! ([`RedisCluster`]), each on free loopback ports, with no persistence, in a temporary
//! directory.
//!
//! `redis-server` (and, for the cluster, `redis-cli`) must be on `PATH`: a missing binary fails
//! the test with a message pointing at `scripts/ensure-redis.sh`, never skips it.
//!
//! [`shared_redis`] and [`shared_cluster`] start one of each per test binary, on first use, for
//! tests that keep apart by key prefix; a test that stops its server starts its own.
//!
//! Each server runs under a small `sh` watchdog that holds the write end of a pipe from the test
//! process: when the test process ends in any way (even killed), the pipe closes and the watchdog
//! kills the server and removes its directory, so servers kept in `static`s (never dropped) do
//! not outlive the test binary.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long a server may take to answer `PING` after it is started.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a new cluster may take to reach `cluster_state:ok`.
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(30);
/// Cluster nodes also listen on `port + 10000` (the cluster bus).
const CLUSTER_BUS_OFFSET: u16 = 10_000;

/// The watchdog: starts redis-server, prints its pid, then waits for a line (or end of input)
/// on stdin. `keep` stops the server and keeps its directory (a restart follows); anything else,
/// including end of input, stops it and removes the directory.
const WATCHDOG: &str = r#"
redis-server "$@" >"$REDIS_TEST_DIR/stdout.log" 2>&1 &
pid=$!
echo "$pid"
read -r what
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
if [ "$what" != keep ]; then rm -rf "$REDIS_TEST_DIR"; fi
"#;

static DIR_SEQ: AtomicU64 = AtomicU64::new(0);

/// Fails the test unless `name` is an executable on `PATH`.
fn require_binary(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    match found {
        Some(path) => path,
        None => panic!(
            "`{name}` is not on PATH; the store tests need a real Redis. \
             Run `scripts/ensure-redis.sh` (installs Debian's redis-server and redis-tools)."
        ),
    }
}

use super::port_free;

/// A free loopback port; with `cluster`, `port + 10000` is free as well.
fn free_port(cluster: bool) -> u16 {
    for _ in 0..200 {
        let port = super::free_port();
        if !cluster {
            return port;
        }
        if let Some(bus) = port.checked_add(CLUSTER_BUS_OFFSET) {
            if port_free(bus) {
                return port;
            }
        }
    }
    panic!("no free loopback port found");
}

/// Sends one command in RESP and returns the raw reply (enough for short replies).
fn raw_command(port: u16, args: &[&str]) -> std::io::Result<String> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    stream.write_all(req.as_bytes())?;
    let mut buf = vec![0u8; 64 * 1024];
    let n = stream.read(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn pid_alive(pid: u32) -> bool {
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

use super::watchdog::Running;

/// One private `redis-server` on a loopback port. Killed (by pid) when dropped.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    extra: Vec<String>,
    running: Option<Running>,
}

impl RedisServer {
    /// Starts a single node on a free port and waits until it answers `PING`.
    pub fn start_new() -> Self {
        Self::launch(free_port(false), Vec::new())
    }

    /// Starts a single node with AOF persistence (`appendfsync always`): what it acknowledged
    /// survives a kill and restart.
    pub fn start_with_aof() -> Self {
        Self::launch(
            free_port(false),
            ["--appendonly", "yes", "--appendfsync", "always"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        )
    }

    fn launch(port: u16, extra: Vec<String>) -> Self {
        require_binary("redis-server");
        let dir = std::env::temp_dir().join(format!(
            "wallet-auth-redis-{}-{}-{port}",
            std::process::id(),
            DIR_SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create the redis test directory");
        let mut server = Self {
            port,
            dir,
            extra,
            running: None,
        };
        server.start();
        server
    }

    /// The server's URL, `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// (Re)starts the server on its port and waits until it answers `PING`. Does nothing when it
    /// runs already.
    pub fn start(&mut self) {
        if self.running.is_some() {
            return;
        }
        require_binary("redis-server");
        let port = self.port.to_string();
        let dir = self.dir.to_string_lossy().into_owned();
        let mut args: Vec<String> = [
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            &dir,
            "--logfile",
            "redis.log",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        args.extend(self.extra.iter().cloned());
        let running =
            super::watchdog::spawn(WATCHDOG, &args, "REDIS_TEST_DIR", &self.dir, "redis-server");
        let pid = running.pid;
        self.running = Some(running);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if raw_command(self.port, &["PING"]).is_ok_and(|r| r.starts_with("+PONG")) {
                return;
            }
            if !pid_alive(pid) || Instant::now() > deadline {
                let log = ["stdout.log", "redis.log"]
                    .iter()
                    .filter_map(|f| std::fs::read_to_string(self.dir.join(f)).ok())
                    .collect::<Vec<_>>()
                    .join("\n");
                self.shutdown(true);
                panic!(
                    "redis-server on port {} did not start; its log:\n{log}",
                    self.port
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server (SIGKILL, like a crash), keeping its port and directory for
    /// [`RedisServer::start`].
    pub fn stop(&mut self) {
        self.shutdown(true);
    }

    fn shutdown(&mut self, keep: bool) {
        let Some(mut running) = self.running.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-9", &running.pid.to_string()])
            .stderr(Stdio::null())
            .status();
        if let Some(mut stdin) = running.stdin.take() {
            if keep {
                let _ = stdin.write_all(b"keep\n");
            }
        }
        let _ = running.watchdog.wait();
        // The listening socket is gone once the process is; wait for the port to be reusable.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !port_free(self.port) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.shutdown(false);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A local Redis Cluster of three masters (no replicas).
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts three cluster-enabled nodes, joins them with `redis-cli --cluster create` and
    /// waits until every node reports `cluster_state:ok`.
    pub fn start_new() -> Self {
        let cli = require_binary("redis-cli");
        let mut nodes = Vec::with_capacity(3);
        while nodes.len() < 3 {
            let port = free_port(true);
            if nodes.iter().any(|n: &RedisServer| n.port == port) {
                continue;
            }
            let extra = [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "15000",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
            nodes.push(RedisServer::launch(port, extra));
        }
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new(cli)
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("run redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let cluster = Self { nodes };
        cluster.wait_ok();
        cluster
    }

    fn wait_ok(&self) {
        let deadline = Instant::now() + CLUSTER_TIMEOUT;
        loop {
            let all_ok = self.nodes.iter().all(|n| {
                raw_command(n.port, &["CLUSTER", "INFO"]).is_ok_and(|info| {
                    info.contains("cluster_state:ok")
                        && info.contains("cluster_slots_ok:16384")
                        && info.contains("cluster_known_nodes:3")
                })
            });
            if all_ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the test Redis Cluster did not reach cluster_state:ok"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The node URLs.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// The node URLs joined by commas, as `REDIS_URL` takes them.
    pub fn url(&self) -> String {
        self.urls().join(",")
    }

    /// The nodes, for outage tests.
    pub fn nodes_mut(&mut self) -> &mut [RedisServer] {
        &mut self.nodes
    }
}

/// The single-node server shared by every test of this test binary (started on first use).
/// Tests sharing it keep apart by key prefix.
pub fn shared_redis() -> &'static RedisServer {
    static SERVER: OnceLock<RedisServer> = OnceLock::new();
    SERVER.get_or_init(RedisServer::start_new)
}

/// The cluster shared by every test of this test binary (started on first use).
pub fn shared_cluster() -> &'static RedisCluster {
    static CLUSTER: OnceLock<RedisCluster> = OnceLock::new();
    CLUSTER.get_or_init(RedisCluster::start_new)
}

/// `CLIENT ID`s of the tracking connections of the stores with `prefix`, on one node.
pub async fn tracking_ids(url: &str, prefix: &str) -> Vec<i64> {
    let mut c = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut c)
        .await
        .unwrap();
    let name = format!(
        "name={}",
        wallet_auth::store::redis_cache::tracking_name(prefix)
    );
    list.lines()
        .filter(|l| l.split(' ').any(|f| f == name))
        .filter_map(|l| l.split(' ').find_map(|f| f.strip_prefix("id=")))
        .map(|id| id.parse().unwrap())
        .collect()
}

/// Kills the tracking connections of the stores with `prefix` on every node of `urls`: how
/// many there were.
pub async fn kill_tracking(urls: &[String], prefix: &str) -> usize {
    let mut killed = 0;
    for url in urls {
        let mut c = redis::Client::open(url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        for id in tracking_ids(url, prefix).await {
            let _: redis::Value = redis::cmd("CLIENT")
                .arg("KILL")
                .arg("ID")
                .arg(id)
                .query_async(&mut c)
                .await
                .unwrap();
            killed += 1;
        }
    }
    killed
}
