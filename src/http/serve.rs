//! The connection loop: HTTP/1.1 over hyper with a timer, so that no client can hold the
//! server by being slow or by holding many connections.
//!
//! - **Request head**: from its first byte, a request head must arrive within
//!   `HTTP_HEADER_TIMEOUT`, or the connection is closed.
//! - **Keep-alive**: a connection with no request in flight and no bytes moving for
//!   `HTTP_IDLE_TIMEOUT` is closed (a client that stops reading its response counts as idle).
//! - **Request**: handling one request, reading its body included, is bounded by
//!   `HTTP_REQUEST_TIMEOUT` (a layer of [`super::router`]: `408 request_timeout`).
//! - **Connections**: at most `MAX_CONNECTIONS` (lowered to fit the process's file limit), and at
//!   most `MAX_CONNECTIONS_PER_IP` from one client address (IPv6: one /64). A connection over
//!   the per-address cap is answered `429 rate_limited` and closed at once. At the global cap
//!   the connection idle the longest is closed to make room; when none is idle the new one is
//!   answered `503` and closed. Either way nothing waits in the accept queue behind a hoarder.
//! - **Shutdown**: after the signal no connection is accepted, idle ones close, requests in
//!   flight finish; whatever is still open after `SHUTDOWN_TIMEOUT` is dropped.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tower::ServiceExt as _;

use crate::config::Config;

/// File descriptors kept free of client connections (store connections, logs, the listener).
const RESERVED_FDS: usize = 64;

/// The bounds the connection loop enforces.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    /// `None`: no per-address cap (behind a trusted proxy).
    pub max_per_ip: Option<usize>,
    pub shutdown_timeout: Duration,
}

impl Limits {
    pub(crate) fn from_config(config: &Config) -> Self {
        let mut max_connections = config.http.max_connections;
        if let Some(fds) = open_file_limit() {
            let fit = fds.saturating_sub(RESERVED_FDS).max(1);
            if fit < max_connections {
                tracing::warn!(
                    configured = max_connections,
                    open_file_limit = fds,
                    using = fit,
                    "MAX_CONNECTIONS is above what the open-file limit allows: lowered"
                );
                max_connections = fit;
            }
        }
        Limits {
            header_timeout: config.http.header_timeout,
            idle_timeout: config.http.idle_timeout,
            max_connections,
            max_per_ip: (!config.http.trust_proxy)
                .then_some(config.http.max_connections_per_ip.min(max_connections)),
            shutdown_timeout: config.http.shutdown_timeout,
        }
    }
}

/// The soft limit on open files of this process, where the platform tells it.
fn open_file_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The key of the per-address cap: the IP, or its /64 for IPv6 (one host usually holds a whole
/// /64); an IPv4-mapped IPv6 address counts as its IPv4 address.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// What a connection is doing, updated by its I/O and its requests, read by its watchdog and by
/// the eviction at the global cap.
#[derive(Debug)]
struct Activity {
    epoch: Instant,
    /// Milliseconds since `epoch` of the last byte moved or request finished.
    last: AtomicU64,
    /// 1 + milliseconds since `epoch` of the first byte of a request head not yet complete; 0
    /// when none is being received.
    head_started: AtomicU64,
    in_flight: AtomicUsize,
    evicted: AtomicBool,
    evict: Notify,
}

impl Activity {
    fn new() -> Self {
        Activity {
            epoch: Instant::now(),
            last: AtomicU64::new(0),
            head_started: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            evicted: AtomicBool::new(false),
            evict: Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn on_read(&self) {
        let now = self.now_ms();
        self.last.store(now, Ordering::Relaxed);
        if self.in_flight.load(Ordering::Acquire) == 0 {
            // The first byte of a head; the watchdog sees it at its next look (see there).
            let _ = self.head_started.compare_exchange(
                0,
                now.saturating_add(1),
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
        }
    }

    fn on_write(&self) {
        self.last.store(self.now_ms(), Ordering::Relaxed);
    }

    /// A request head is complete and its request is being handled.
    fn request_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_started.store(0, Ordering::Release);
        InFlight(self.clone())
    }

    /// How long the connection has been idle or receiving a head, in ms; `None` while a
    /// request is in flight.
    fn idle_age(&self, now: u64) -> Option<u64> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let since = match self.head_started.load(Ordering::Acquire) {
            0 => self.last.load(Ordering::Relaxed),
            h => h - 1,
        };
        Some(now.saturating_sub(since))
    }

    /// Completes when the connection must be closed: a head not received within
    /// `header`, nothing happening for `idle`, or eviction.
    ///
    /// It is never told that a head began: that happens on every request, and waking the
    /// connection's task from inside its own poll would have the runtime reschedule the task
    /// and wake another worker thread each time. Instead it never sleeps longer than
    /// `min(header, idle)` at a stretch, and each look computes the deadline from what the
    /// connection did. That is still exact: a head that begins at `h`, after a look at
    /// `a <= h`, is looked at again by `a + header <= h + header`, and from then on the look
    /// is at its deadline; an idle deadline only moves later. (Short looks also keep a
    /// connection's timer the earliest one on the runtime, so a request's own timeout, when
    /// armed, does not have to interrupt the runtime's sleep to be noticed.)
    async fn watchdog(&self, header: Duration, idle: Duration) {
        let header_ms = u64::try_from(header.as_millis()).unwrap_or(u64::MAX);
        let idle_ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX);
        let look_ms = header_ms.min(idle_ms).max(1);
        let sleep = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(sleep);
        loop {
            if self.evicted.load(Ordering::Acquire) {
                return;
            }
            let now = self.now_ms();
            let deadline = if self.in_flight.load(Ordering::Acquire) > 0 {
                // The request timeout bounds a request.
                u64::MAX
            } else {
                match self.head_started.load(Ordering::Acquire) {
                    0 => self.last.load(Ordering::Relaxed).saturating_add(idle_ms),
                    h => (h - 1).saturating_add(header_ms),
                }
            };
            if now >= deadline {
                return;
            }
            let wake = deadline.min(now.saturating_add(look_ms));
            sleep
                .as_mut()
                .reset(tokio::time::Instant::now() + Duration::from_millis(wake - now));
            tokio::select! {
                () = &mut sleep => {}
                () = self.evict.notified() => {}
            }
        }
    }
}

/// A request in flight on a connection; its end counts as activity.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.on_write();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A TCP stream that reports its reads and writes to its [`Activity`].
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.on_read();
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.on_write();
        }
        r
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.on_write();
        }
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The open connections: their number, their count per client address, and their activity
/// (for eviction).
#[derive(Debug, Default)]
struct Tracker {
    inner: Mutex<TrackerInner>,
}

#[derive(Debug, Default)]
struct TrackerInner {
    next_id: u64,
    /// Connections told to close that have not closed yet.
    evicting: usize,
    per_ip: HashMap<IpAddr, usize>,
    open: HashMap<u64, Arc<Activity>>,
}

/// Why a connection was not admitted.
enum Refusal {
    PerIp,
    Full,
}

/// An admitted connection; dropping it frees its place.
struct Slot {
    tracker: Arc<Tracker>,
    id: u64,
    key: IpAddr,
    activity: Arc<Activity>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut t = self
            .tracker
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        t.open.remove(&self.id);
        if self.activity.evicted.load(Ordering::Acquire) {
            t.evicting = t.evicting.saturating_sub(1);
        }
        if let Some(n) = t.per_ip.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                t.per_ip.remove(&self.key);
            }
        }
    }
}

impl Tracker {
    fn admit(self: &Arc<Self>, ip: IpAddr, limits: &Limits) -> Result<Slot, Refusal> {
        let key = client_key(ip);
        let mut t = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let of_ip = t.per_ip.get(&key).copied().unwrap_or(0);
        if limits.max_per_ip.is_some_and(|max| of_ip >= max) {
            return Err(Refusal::PerIp);
        }
        // Connections already told to close still hold their descriptor for a moment; allow a
        // few of those over the cap, never more.
        let live = t.open.len().saturating_sub(t.evicting);
        if live >= limits.max_connections {
            if t.evicting >= 16 {
                return Err(Refusal::Full);
            }
            // The longest idle; among equals, the oldest connection.
            let victim = t
                .open
                .iter()
                .filter(|(_, a)| !a.evicted.load(Ordering::Acquire))
                .filter_map(|(id, a)| a.idle_age(a.now_ms()).map(|age| ((age, Reverse(*id)), a)))
                .max_by_key(|(key, _)| *key)
                .map(|(_, a)| a.clone());
            let Some(victim) = victim else {
                return Err(Refusal::Full);
            };
            victim.evicted.store(true, Ordering::Release);
            victim.evict.notify_one();
            t.evicting += 1;
        }
        let activity = Arc::new(Activity::new());
        let id = t.next_id;
        t.next_id += 1;
        t.open.insert(id, activity.clone());
        *t.per_ip.entry(key).or_insert(0) += 1;
        Ok(Slot {
            tracker: self.clone(),
            id,
            key,
            activity,
        })
    }
}

/// Answers a refused connection without waiting on it, and closes it.
fn refuse(stream: &TcpStream, why: &Refusal) {
    let (status, code, message, retry) = match why {
        Refusal::PerIp => (
            "429 Too Many Requests",
            "rate_limited",
            "too many connections from this address",
            "1",
        ),
        Refusal::Full => (
            "503 Service Unavailable",
            "internal",
            "the server is at its connection limit; retry shortly",
            "1",
        ),
    };
    let body = format!(r#"{{"error":{{"code":"{code}","message":"{message}"}}}}"#);
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         retry-after: {retry}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(head.as_bytes());
}

/// Serves `app` on `listener` until `shutdown` completes, within `limits`.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let tracker = Arc::new(Tracker::default());
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while tasks.try_join_next().is_some() {}
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of descriptors or memory: back off instead of spinning.
                tracing::error!(error = %e, "accept failed");
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                }
            }
        };
        let slot = match tracker.admit(peer.ip(), &limits) {
            Ok(slot) => slot,
            Err(why) => {
                tracing::debug!(
                    reason = match why {
                        Refusal::PerIp => "per-address cap",
                        Refusal::Full => "connection cap",
                    },
                    "connection refused"
                );
                refuse(&stream, &why);
                continue;
            }
        };
        tasks.spawn(connection(
            stream,
            peer,
            app.clone(),
            limits.clone(),
            slot,
            closing_rx.clone(),
        ));
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let drained = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.shutdown_timeout, drained)
        .await
        .is_err()
    {
        tracing::warn!(
            open = tasks.len(),
            "shutdown deadline passed: dropping the connections still open"
        );
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
    Ok(())
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection until it ends, its watchdog fires, or shutdown is done with it.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: Limits,
    slot: Slot,
    mut closing: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let activity = slot.activity.clone();
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let service_activity = activity.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        let in_flight = service_activity.request_started();
        req.extensions_mut().insert(ConnectInfo(peer));
        let app = app.clone();
        async move {
            let res = app.oneshot(req.map(Body::new)).await;
            drop(in_flight);
            res
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // The watchdog enforces the head timeout from the head's first byte; hyper's own timer
        // (which starts as soon as the connection waits for a head) is the backstop.
        .header_read_timeout(limits.header_timeout.saturating_add(limits.idle_timeout))
        .keep_alive(true);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let watchdog = activity.watchdog(limits.header_timeout, limits.idle_timeout);
    tokio::pin!(watchdog);
    let mut shutting_down = *closing.borrow();
    if shutting_down {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            () = &mut watchdog => {
                tracing::debug!("closing a slow, idle or evicted connection");
                break;
            }
            changed = closing.changed(), if !shutting_down => {
                if changed.is_err() || *closing.borrow() {
                    shutting_down = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
    drop(slot);
}
