//! A server process under a small `sh` watchdog that holds a pipe from the test process: the
//! watchdog starts the server, prints its pid, and stops it (and removes its directory unless
//! told `keep`) when the pipe closes — so a test process that ends in any way, panics included,
//! leaves no server behind.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};

/// A server started by [`spawn`].
pub struct Running {
    /// The watchdog shell.
    pub watchdog: Child,
    /// The pipe it watches: closing it stops the server; writing `keep\n` first keeps its
    /// directory.
    pub stdin: Option<ChildStdin>,
    /// The server's own pid.
    pub pid: u32,
}

/// Runs `script` under `sh -c` with `args` as `"$@"` and `dir_var` naming the server's
/// directory; the script must print the server's pid on its first line. `what` names the
/// server in panics.
pub fn spawn<I, S>(script: &str, args: I, dir_var: &str, dir: &Path, what: &str) -> Running
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut watchdog = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .args(args)
        .env(dir_var, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn the {what} watchdog (sh): {e}"));
    let stdin = watchdog.stdin.take();
    let mut line = String::new();
    if let Some(out) = watchdog.stdout.take() {
        BufReader::new(out)
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("read the {what} pid: {e}"));
    }
    let pid: u32 = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{what} watchdog printed no pid: {line:?}"));
    Running {
        watchdog,
        stdin,
        pid,
    }
}
