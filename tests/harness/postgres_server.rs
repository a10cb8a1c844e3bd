//! Private PostgreSQL servers for tests ([`PostgresServer`]): a fresh cluster (`initdb`) in a
//! temporary directory, on a free loopback port, without `fsync` (test data need not survive a
//! power cut), but with synchronous commits: what was acknowledged survives a crash of the
//! server process, as in production.
//!
//! The server binaries come from Debian's `postgresql` package (`scripts/ensure-postgres.sh`):
//! they are looked up on `PATH`, then in `/usr/lib/postgresql/<version>/bin`. A missing binary
//! fails the test with a message pointing at the script, never skips it. `initdb` and
//! `postgres` refuse to run as root: when the tests run as root, both run as the `postgres`
//! user (`setpriv`, which execs in place, so the pid is the server's own) and the directory is
//! given to that user.
//!
//! [`shared_postgres`] starts one server per test binary, on first use, with a template
//! database already migrated; [`PostgresServer::fresh_database`] gives each test its own
//! database copied from it. A test that stops its server starts its own.
//!
//! Each server runs under a small `sh` watchdog holding the write end of a pipe from the test
//! process: when the test process ends in any way, the pipe closes and the watchdog stops the
//! server (by pid) and removes its directory.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long a server may take to accept connections after it is started.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The database every fresh test database is copied from (schema migrated).
const TEMPLATE: &str = "wa_template";

/// The watchdog: starts the server, prints its pid, then waits for a line (or end of input) on
/// stdin. `keep` stops the server and keeps its directory (a restart follows); anything else,
/// including end of input, stops it and removes the directory. SIGQUIT is PostgreSQL's
/// immediate shutdown (like a crash: the next start recovers from the WAL).
const WATCHDOG: &str = r#"
"$@" >>"$PG_TEST_DIR/server.log" 2>&1 &
pid=$!
echo "$pid"
read -r what
kill -QUIT "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
if [ "$what" != keep ]; then rm -rf "$PG_TEST_DIR"; fi
"#;

static DIR_SEQ: AtomicU64 = AtomicU64::new(0);
static DB_SEQ: AtomicU64 = AtomicU64::new(0);

/// The directory of the PostgreSQL server binaries.
fn bin_dir() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("initdb"))
            .find(|p| p.is_file())
    });
    if let Some(initdb) = on_path {
        let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
        if let Some(dir) = real.parent() {
            if dir.join("postgres").is_file() {
                return dir.to_path_buf();
            }
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").is_file() && b.join("postgres").is_file())
        .collect();
    versions.sort();
    versions.pop().unwrap_or_else(|| {
        panic!(
            "PostgreSQL's `initdb` and `postgres` were not found (PATH, /usr/lib/postgresql/*/bin); \
             the store tests need a real PostgreSQL. Run `scripts/ensure-postgres.sh` \
             (installs Debian's postgresql package)."
        )
    })
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A command running `program` as the `postgres` user when the tests run as root.
fn as_server_user(program: &Path) -> Command {
    if running_as_root() {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--reset-env",
        ])
        .arg(program);
        c
    } else {
        Command::new(program)
    }
}

use super::{free_port, port_free};

fn pid_alive(pid: u32) -> bool {
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

use super::watchdog::Running;

/// One private PostgreSQL server on a loopback port. Stopped (by pid) when dropped.
pub struct PostgresServer {
    port: u16,
    dir: PathBuf,
    bin: PathBuf,
    running: Option<Running>,
}

impl PostgresServer {
    /// Creates a cluster (`initdb`), starts it on a free port, and waits until it accepts
    /// connections.
    pub fn start_new() -> Self {
        let bin = bin_dir();
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "wallet-auth-pg-{}-{}-{port}",
            std::process::id(),
            DIR_SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create the postgres test directory");
        if running_as_root() {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown the postgres test directory to the postgres user");
        }
        let out = as_server_user(&bin.join("initdb"))
            .arg("-D")
            .arg(dir.join("data"))
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ])
            .stdin(Stdio::null())
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut server = Self {
            port,
            dir,
            bin,
            running: None,
        };
        server.start();
        server
    }

    /// The URL of the database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// (Re)starts the server on its port and waits until it accepts connections. Does nothing
    /// when it runs already.
    pub fn start(&mut self) {
        if self.running.is_some() {
            return;
        }
        let mut cmd = as_server_user(&self.bin.join("postgres"));
        cmd.arg("-D")
            .arg(self.dir.join("data"))
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(&self.dir)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=500",
                "-c",
                "shared_buffers=32MB",
            ]);
        let program = cmd.get_program().to_owned();
        let args: Vec<_> = cmd.get_args().map(ToOwned::to_owned).collect();
        let args = std::iter::once(program).chain(args);
        let running = super::watchdog::spawn(WATCHDOG, args, "PG_TEST_DIR", &self.dir, "postgres");
        let pid = running.pid;
        self.running = Some(running);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if self.ready() {
                return;
            }
            if !pid_alive(pid) || Instant::now() > deadline {
                let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
                self.shutdown(true);
                panic!(
                    "postgres on port {} did not start; its log:\n{log}",
                    self.port
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the server reports itself ready (`pg_isready`).
    fn ready(&self) -> bool {
        Command::new(self.bin.join("pg_isready"))
            .args([
                "-q",
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-t",
                "1",
            ])
            .stdin(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Stops the server (immediate shutdown, like a crash), keeping its port and directory for
    /// [`PostgresServer::start`].
    pub fn stop(&mut self) {
        self.shutdown(true);
    }

    fn shutdown(&mut self, keep: bool) {
        let Some(mut running) = self.running.take() else {
            return;
        };
        if let Some(mut stdin) = running.stdin.take() {
            let _ = stdin.write_all(if keep { b"keep\n" } else { b"stop\n" });
        }
        let _ = running.watchdog.wait();
        let deadline = Instant::now() + Duration::from_secs(10);
        while (pid_alive(running.pid) || !port_free(self.port)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Creates an empty database without the schema and returns its URL.
    pub async fn empty_database(&self) -> String {
        use sqlx::Connection as _;
        let name = format!(
            "e{}_{}",
            std::process::id(),
            DB_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .expect("connect to the test postgres");
        sqlx::query(&format!("CREATE DATABASE {name} TEMPLATE template0"))
            .execute(&mut conn)
            .await
            .expect("create an empty test database");
        let _ = conn.close().await;
        self.url(&name)
    }

    /// Creates an empty, migrated database (a copy of the template) and returns its URL.
    pub async fn fresh_database(&self) -> String {
        use sqlx::Connection as _;
        let name = format!(
            "t{}_{}",
            std::process::id(),
            DB_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .expect("connect to the test postgres");
        // Copying a template fails while another session is connected to it: retry briefly.
        let mut tries = 0;
        loop {
            match sqlx::query(&format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
                .execute(&mut conn)
                .await
            {
                Ok(_) => break,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("create a test database: {e}"),
            }
        }
        let _ = conn.close().await;
        self.url(&name)
    }

    /// Creates the migrated template database (once per server).
    fn create_template(&self) {
        let admin = self.url("postgres");
        let template = self.url(TEMPLATE);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                use sqlx::Connection as _;
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .expect("connect to the test postgres");
                sqlx::query(&format!("CREATE DATABASE {TEMPLATE}"))
                    .execute(&mut conn)
                    .await
                    .expect("create the template database");
                let _ = conn.close().await;
                wallet_auth::store::postgres::migrate(&template, Duration::from_secs(10))
                    .await
                    .expect("migrate the template database");
            });
        })
        .join()
        .expect("template thread");
    }

    /// Starts a new server with the migrated template (for tests that stop their server).
    pub fn start_with_template() -> Self {
        let s = Self::start_new();
        s.create_template();
        s
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.shutdown(false);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The server shared by every test of this test binary (started on first use). Tests sharing
/// it keep apart by database ([`PostgresServer::fresh_database`]).
pub fn shared_postgres() -> &'static PostgresServer {
    static SERVER: OnceLock<PostgresServer> = OnceLock::new();
    SERVER.get_or_init(PostgresServer::start_with_template)
}
