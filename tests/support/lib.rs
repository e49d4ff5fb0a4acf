//! Shared support for the behaviour and transport tests: a real HTTP/1.1 server on 127.0.0.1
//! that records every request and answers from a script.
//!
//! ```no_run
//! use modelmetry_tests::{Reply, Server};
//! let server = Server::start();
//! server.script([Reply::status(503), Reply::status(503)]); // then 200 `{}` by default
//! // ... point the SDK at server.base_url() ...
//! let received = server.requests();
//! ```
//!
//! It is a plain `TcpListener` with a thread per connection: our own transport (ureq) talks to
//! it over real sockets, with keep-alive, timeouts and resets as they happen on a network.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use modelmetry::unversioned::wire::IngestSignalsV1RequestBody;
use serde_json::Value;

pub mod shapes;

/// How the server answers one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// An HTTP answer, sent after `delay`.
    Answer {
        /// The status code.
        status: u16,
        /// Extra headers (`Content-Length` is added).
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
        /// How long to wait before answering.
        delay: Duration,
    },
    /// Read the request, then never answer (the connection stays open until the server stops).
    Hang,
    /// Answer 200 one byte at a time, one byte every `interval`.
    Trickle {
        /// The pause between two bytes.
        interval: Duration,
    },
    /// Read the request head, then close the connection with the body unread: the client sees
    /// a reset (or an early end of stream), never an answer.
    Reset,
}

impl Reply {
    /// `200 {}`.
    pub fn ok() -> Reply {
        Reply::status(200)
    }

    /// An answer with this status and an empty JSON object (or problem+json for errors).
    pub fn status(status: u16) -> Reply {
        if status >= 400 {
            Reply::problem(status, &format!("scripted status {status}"))
        } else {
            Reply::Answer {
                status,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: b"{}".to_vec(),
                delay: Duration::ZERO,
            }
        }
    }

    /// An `application/problem+json` error with this `detail`, as the API sends them.
    pub fn problem(status: u16, detail: &str) -> Reply {
        let body = serde_json::json!({
            "$schema": "http://api.modelmetry.com/schemas/ErrorModel.json",
            "title": reason(status),
            "status": status,
            "detail": detail,
        });
        Reply::Answer {
            status,
            headers: vec![("Content-Type".into(), "application/problem+json".into())],
            body: body.to_string().into_bytes(),
            delay: Duration::ZERO,
        }
    }

    /// The same answer with one more header.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        if let Reply::Answer { headers, .. } = &mut self {
            headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// The same answer with this JSON body.
    pub fn body_json(mut self, json: &str) -> Reply {
        if let Reply::Answer { body, .. } = &mut self {
            *body = json.as_bytes().to_vec();
        }
        self
    }

    /// The same answer, sent after `delay`.
    pub fn after(mut self, wait: Duration) -> Reply {
        if let Reply::Answer { delay, .. } = &mut self {
            *delay = wait;
        }
        self
    }
}

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct Request {
    /// `POST`, `GET`, …
    pub method: String,
    /// The path and query, e.g. `/signals/ingest/v1`.
    pub path: String,
    /// Header names lower-cased, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body (empty for a [`Reply::Reset`], whose body is never read).
    pub body: Vec<u8>,
    /// When the request head arrived.
    pub at: Instant,
    /// The status the server answered with (`None`: it hung, trickled or reset).
    pub status: Option<u16>,
    /// How many records the body held (counted even when the body is not kept).
    pub records: usize,
}

impl Request {
    /// The first header of this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as the SDK's wire model (unknown fields refused, as the spec says).
    pub fn ingest(&self) -> IngestSignalsV1RequestBody {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not an IngestSignalsV1RequestBody ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The `XID` of every record in the body.
    pub fn xids(&self) -> Vec<String> {
        xids_of(&self.json())
    }

    /// True if the server accepted it (answered 2xx).
    pub fn accepted(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The `XID` of every record of an ingest body, in the order listed.
pub fn xids_of(body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for section in ["Sessions", "Traces", "Spans", "Events", "Findings"] {
        for record in body[section].as_array().into_iter().flatten() {
            out.push(record["XID"].as_str().unwrap_or("<no XID>").to_owned());
        }
    }
    out
}

type Rule = Box<dyn Fn(&Request) -> Option<Reply> + Send>;

struct Script {
    queue: VecDeque<Reply>,
    rule: Option<Rule>,
    fallback: Reply,
}

struct State {
    script: Mutex<Script>,
    requests: Mutex<Vec<Request>>,
    /// Open connections, shut down when the server stops so no client waits on a dead server.
    connections: Mutex<Vec<TcpStream>>,
    stopping: AtomicBool,
    /// False: bodies are counted, then thrown away (for load tests).
    keep_bodies: AtomicBool,
}

/// A scriptable HTTP/1.1 server on 127.0.0.1. Stops when dropped.
pub struct Server {
    addr: SocketAddr,
    state: Arc<State>,
    acceptor: Option<JoinHandle<()>>,
}

impl Server {
    /// A server on a free port, answering `200 {}` until scripted otherwise.
    pub fn start() -> Server {
        Server::start_on(0)
    }

    /// A server on `port` (0: any free port), e.g. to come back where a stopped one was.
    pub fn start_on(port: u16) -> Server {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(State {
            script: Mutex::new(Script {
                queue: VecDeque::new(),
                rule: None,
                fallback: Reply::ok(),
            }),
            requests: Mutex::new(Vec::new()),
            connections: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            keep_bodies: AtomicBool::new(true),
        });
        let shared = state.clone();
        let acceptor = std::thread::spawn(move || accept(listener, shared));
        Server {
            addr,
            state,
            acceptor: Some(acceptor),
        }
    }

    /// A port on 127.0.0.1 where nothing listens (connections are refused), for a server that
    /// is down at first and started later with [`Server::start_on`].
    pub fn free_port() -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    }

    /// `http://127.0.0.1:<port>`, the SDK's base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Answer the next requests with these replies, in order (after any still queued).
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.state.script).queue.extend(replies);
    }

    /// Once the queue is empty, ask `rule` first; it answers `None` to fall back.
    pub fn rule(&self, rule: impl Fn(&Request) -> Option<Reply> + Send + 'static) {
        lock(&self.state.script).rule = Some(Box::new(rule));
    }

    /// Refuse with a problem+json 400 (`detail`) any request whose body contains `needle`.
    pub fn refuse_containing(&self, needle: &str, detail: &str) {
        let needle = needle.to_owned();
        let detail = detail.to_owned();
        self.rule(move |r| {
            contains(&r.body, needle.as_bytes()).then(|| Reply::problem(400, &detail))
        });
    }

    /// The answer once the queue is empty and the rule (if any) passes (default `200 {}`).
    pub fn fallback(&self, reply: Reply) {
        lock(&self.state.script).fallback = reply;
    }

    /// Keep request bodies (the default), or only count their records: a load test's
    /// server must not hold everything it receives.
    pub fn keep_bodies(&self, keep: bool) {
        self.state.keep_bodies.store(keep, Ordering::SeqCst);
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.state.requests).clone()
    }

    /// How many requests arrived so far.
    pub fn request_count(&self) -> usize {
        lock(&self.state.requests).len()
    }

    /// The ingest bodies of the accepted (2xx) requests, oldest first.
    pub fn accepted_bodies(&self) -> Vec<IngestSignalsV1RequestBody> {
        lock(&self.state.requests)
            .iter()
            .filter(|r| r.accepted())
            .map(Request::ingest)
            .collect()
    }

    /// The XIDs of every record in accepted (2xx) requests, with how many times each arrived.
    pub fn accepted_xids(&self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for r in lock(&self.state.requests).iter().filter(|r| r.accepted()) {
            for x in r.xids() {
                *out.entry(x).or_insert(0) += 1;
            }
        }
        out
    }

    /// Stop listening and close every connection (a hanging one included).
    pub fn stop(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        self.state.stopping.store(true, Ordering::SeqCst);
        // Wake the acceptor blocked in `accept`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
        for c in lock(&self.state.connections).drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shut();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fn accept(listener: TcpListener, state: Arc<State>) {
    for stream in listener.incoming() {
        if state.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        // The head and the body go out in two writes: without this, Nagle's algorithm holds
        // the body until the client's delayed ACK (40 ms on Linux) on every keep-alive answer.
        let _ = stream.set_nodelay(true);
        if let Ok(clone) = stream.try_clone() {
            lock(&state.connections).push(clone);
        }
        let state = state.clone();
        std::thread::spawn(move || serve(stream, &state));
    }
}

/// Serve one connection: requests one after another (keep-alive) until the client closes.
fn serve(stream: TcpStream, state: &State) {
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut out = write_half;
    let mut reader = BufReader::new(stream);
    while let Some((method, path, headers)) = read_head(&mut reader) {
        let mut request = Request {
            method,
            path,
            headers,
            body: Vec::new(),
            at: Instant::now(),
            status: None,
            records: 0,
        };
        // The reply is chosen from the head and the body; a reset must not read the body, so
        // a queued reset is looked at first.
        let queued_reset = matches!(lock(&state.script).queue.front(), Some(Reply::Reset));
        if queued_reset {
            lock(&state.script).queue.pop_front();
            lock(&state.requests).push(request);
            std::thread::sleep(Duration::from_millis(20)); // let the body arrive, unread
            // Dropping both halves with unread data makes the kernel send a reset.
            return forget(reader.get_ref(), state);
        }
        if read_body(&mut reader, &request.headers, &mut request.body).is_err() {
            return;
        }
        // Counted on the bytes (every record has one `"XID":`), so a load test's server does
        // not build a tree of every body.
        request.records = request
            .body
            .windows(6)
            .filter(|w| *w == b"\"XID\":")
            .count();
        let reply = {
            let mut script = lock(&state.script);
            match script.queue.pop_front() {
                Some(r) => r,
                None => script
                    .rule
                    .as_ref()
                    .and_then(|rule| rule(&request))
                    .unwrap_or_else(|| script.fallback.clone()),
            }
        };
        if !state.keep_bodies.load(Ordering::SeqCst) {
            request.body = Vec::new();
        }
        let index = {
            let mut requests = lock(&state.requests);
            requests.push(request);
            requests.len() - 1
        };
        match reply {
            Reply::Answer {
                status,
                headers,
                body,
                delay,
            } => {
                if !pause(delay, state) {
                    return;
                }
                let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
                for (n, v) in &headers {
                    head.push_str(&format!("{n}: {v}\r\n"));
                }
                head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
                lock(&state.requests)[index].status = Some(status);
                if out.write_all(head.as_bytes()).is_err()
                    || out.write_all(&body).is_err()
                    || out.flush().is_err()
                {
                    return;
                }
            }
            Reply::Hang => {
                while !state.stopping.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                return;
            }
            Reply::Trickle { interval } => {
                let answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
                for byte in answer {
                    if !pause(interval, state) || out.write_all(&[*byte]).is_err() {
                        return;
                    }
                    let _ = out.flush();
                }
                return;
            }
            Reply::Reset => return forget(reader.get_ref(), state),
        }
    }
}

/// Let go of the server's own handle on `stream`'s connection (kept so that stopping can close
/// a hanging one), so that it closes when the serving thread drops its halves: without this,
/// a reset would leave the client waiting for an answer until its timeout.
fn forget(stream: &TcpStream, state: &State) {
    let peer = stream.peer_addr().ok();
    lock(&state.connections).retain(|c| c.peer_addr().ok() != peer);
}

/// Sleep for `d`, in small steps so a stopping server is not held up. False if it stopped.
fn pause(d: Duration, state: &State) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if state.stopping.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep((end - Instant::now()).min(Duration::from_millis(10)));
    }
    !state.stopping.load(Ordering::SeqCst)
}

type Head = (String, String, Vec<(String, String)>);

fn read_head(reader: &mut BufReader<TcpStream>) -> Option<Head> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    Some((method, path, headers))
}

fn read_body(
    reader: &mut BufReader<TcpStream>,
    headers: &[(String, String)],
    body: &mut Vec<u8>,
) -> std::io::Result<()> {
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            let mut chunk = vec![0; size + 2]; // the chunk and its CRLF
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                return Ok(());
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    let len: usize = get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    body.resize(len, 0);
    reader.read_exact(body)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        413 => "Content Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Wait until `done` holds, checking every few milliseconds; false if `timeout` passed first.
pub fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A fresh, empty directory under the system's temp dir, removed when dropped.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    /// A new directory named after `label`.
    pub fn new(label: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "modelmetry-test-{label}-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    /// Its path.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// The names of the files in it, sorted.
    pub fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The XIDs of every record in a spool directory's files (`*.json`, claimed or not): a
/// request file is one ingest body, a journal segment one body a line (the last one possibly
/// cut short by a process that died writing it).
pub fn spooled_xids(dir: &TempDir) -> HashSet<String> {
    dir.files()
        .iter()
        .filter(|f| f.ends_with(".json") || f.contains(".json.claimed-"))
        .flat_map(|f| {
            let bytes = std::fs::read(dir.path().join(f)).expect("read spool file");
            bytes
                .split(|b| *b == b'\n')
                .filter_map(|line| serde_json::from_slice::<Value>(line).ok())
                .flat_map(|body| xids_of(&body))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Every XID delivered exactly once: the set of accepted XIDs is `expected`, none twice.
pub fn assert_each_delivered_once(server: &Server, expected: &HashSet<String>) {
    let got = server.accepted_xids();
    let twice: Vec<_> = got.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    let got: HashSet<String> = got.into_keys().collect();
    let missing: Vec<_> = expected.difference(&got).collect();
    let extra: Vec<_> = got.difference(expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, unexpected {extra:?}"
    );
}

/// The change in every counter of [`modelmetry::stats`] between two readings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delta {
    /// The change in `produced`.
    pub produced: i64,
    /// The change in `sent`.
    pub sent: i64,
    /// The change in `retried`.
    pub retried: i64,
    /// The change in `buffered`.
    pub buffered: i64,
    /// The change in `spooled`.
    pub spooled: i64,
    /// The change in `replayed`.
    pub replayed: i64,
    /// The change in `skipped_sends`.
    pub skipped_sends: i64,
    /// The change in `spool_corrupt_files`.
    pub spool_corrupt_files: i64,
    /// The change in `buffer_full`.
    pub buffer_full: i64,
    /// The change in `rejected`.
    pub rejected: i64,
    /// The change in `network`.
    pub network: i64,
    /// The change in `rate_limited`.
    pub rate_limited: i64,
    /// The change in `too_large`.
    pub too_large: i64,
    /// The change in `exporter_panic`.
    pub exporter_panic: i64,
    /// The change in `shutdown`.
    pub shutdown: i64,
    /// The change in `spool_full`.
    pub spool_full: i64,
    /// The change in `spool_write_failed`.
    pub spool_write_failed: i64,
    /// The change in `trace_too_large`.
    pub trace_too_large: i64,
    /// The change in `write_failed` (the file and HTML exporters).
    pub write_failed: i64,
}

impl Delta {
    /// Every counter's change since `before`.
    pub fn since(before: &modelmetry::Stats) -> Delta {
        let a = modelmetry::stats();
        let d = |x: u64, y: u64| x as i64 - y as i64;
        let (ad, bd) = (&a.dropped, &before.dropped);
        Delta {
            produced: d(a.produced, before.produced),
            sent: d(a.sent, before.sent),
            retried: d(a.retried, before.retried),
            buffered: d(a.buffered, before.buffered),
            spooled: d(a.spooled, before.spooled),
            replayed: d(a.replayed, before.replayed),
            skipped_sends: d(a.skipped_sends, before.skipped_sends),
            spool_corrupt_files: d(a.spool_corrupt_files, before.spool_corrupt_files),
            buffer_full: d(ad.buffer_full, bd.buffer_full),
            rejected: d(ad.rejected, bd.rejected),
            network: d(ad.network, bd.network),
            rate_limited: d(ad.rate_limited, bd.rate_limited),
            too_large: d(ad.too_large, bd.too_large),
            exporter_panic: d(ad.exporter_panic, bd.exporter_panic),
            shutdown: d(ad.shutdown, bd.shutdown),
            spool_full: d(ad.spool_full, bd.spool_full),
            spool_write_failed: d(ad.spool_write_failed, bd.spool_write_failed),
            trace_too_large: d(ad.trace_too_large, bd.trace_too_large),
            write_failed: d(ad.write_failed, bd.write_failed),
        }
    }

    /// Records lost on the delivery side.
    pub fn dropped(&self) -> i64 {
        self.buffer_full
            + self.rejected
            + self.network
            + self.rate_limited
            + self.too_large
            + self.exporter_panic
            + self.shutdown
            + self.spool_full
            + self.spool_write_failed
            + self.trace_too_large
            + self.write_failed
    }

    /// `produced - (sent + spooled + dropped + buffered)`: zero when nothing is unaccounted.
    pub fn unaccounted(&self) -> i64 {
        self.produced - self.sent - self.spooled - self.dropped() - self.buffered
    }
}

/// The SDK's diagnostics, captured through [`modelmetry::Config::on_error`].
#[derive(Clone, Default)]
pub struct Diagnostics(Arc<Mutex<Vec<String>>>);

impl Diagnostics {
    /// A fresh, empty capture.
    pub fn new() -> Diagnostics {
        Diagnostics::default()
    }

    /// The hook to hand to `Config::on_error`.
    pub fn hook(&self) -> impl Fn(&str) + Send + Sync + 'static {
        let lines = self.0.clone();
        move |line: &str| lock(&lines).push(line.to_owned())
    }

    /// Every line reported so far.
    pub fn lines(&self) -> Vec<String> {
        lock(&self.0).clone()
    }

    /// The lines that contain `needle`.
    pub fn matching(&self, needle: &str) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|l| l.contains(needle))
            .collect()
    }
}

/// The API key the tests use.
pub const TEST_KEY: &str = "mm_test_key_0123456789abcdef";

/// A client configuration for `server`: the test key, background delivery with a long
/// interval (tests flush explicitly), short timeouts, and diagnostics into `diag`.
pub fn config_for(server_url: &str, diag: &Diagnostics) -> modelmetry::Config {
    modelmetry::Config::default()
        .api_key(TEST_KEY)
        .base_url(server_url)
        .flush_interval(Duration::from_secs(3600))
        .connect_timeout(Duration::from_millis(300))
        .request_timeout(Duration::from_millis(800))
        .export_timeout(Duration::from_secs(2))
        .shutdown_timeout(Duration::from_secs(2))
        .on_error(diag.hook())
}

/// What a test that sends needs: the process-wide SDK to itself (the tests' lock), a loopback
/// server, the SDK's diagnostics, and the counters as they were when the test began.
///
/// ```no_run
/// use modelmetry_tests::{Delta, Harness, record_trace};
/// let h = Harness::start();
/// let guard = h.init();
/// let n = record_trace("t", 1);
/// guard.flush(std::time::Duration::from_secs(3)).expect("flush");
/// assert_eq!(h.delta().sent, n as i64);
/// ```
pub struct Harness {
    /// The loopback server the client sends to.
    pub server: Server,
    /// The client's diagnostics ([`Harness::config`] hooks them).
    pub diag: Diagnostics,
    before: modelmetry::Stats,
    // Last: the lock is released after the server has stopped.
    _lock: MutexGuard<'static, ()>,
}

impl Harness {
    /// Take the tests' lock, start a server, and read the counters.
    pub fn start() -> Harness {
        Harness::on(Server::start)
    }

    /// The same, with a server made by `server` (e.g. on a given port), after the lock.
    pub fn on(server: impl FnOnce() -> Server) -> Harness {
        let lock = modelmetry::testing::lock();
        let server = server();
        Harness {
            server,
            diag: Diagnostics::new(),
            before: modelmetry::stats(),
            _lock: lock,
        }
    }

    /// [`config_for`] this harness's server and diagnostics.
    pub fn config(&self) -> modelmetry::Config {
        config_for(&self.server.base_url(), &self.diag)
    }

    /// A client on [`Harness::config`].
    pub fn init(&self) -> modelmetry::InitGuard {
        self.config().init().expect("init")
    }

    /// Every counter's change since the harness started.
    pub fn delta(&self) -> Delta {
        Delta::since(&self.before)
    }
}

/// Run a future to completion on this thread: polled again and again with a waker that does
/// nothing, so a future that returns `Pending` without waking (a test's "yield once") still
/// finishes. For the tests' own futures, which never wait on I/O.
pub fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

/// Record one finished trace with `spans` spans under it: `1 + spans` records.
pub fn record_trace(name: &str, spans: usize) -> u64 {
    let trace = modelmetry::start_trace(name.to_owned());
    for i in 0..spans {
        let span = modelmetry::start_span(format!("{name}.step{i}"), modelmetry::Kind::Tool);
        span.set_input(&format!("input {i} of {name}"));
    }
    drop(trace);
    1 + spans as u64
}

/// Record one finished trace whose single span carries `input` (2 records).
pub fn record_trace_with_input(name: &str, input: &str) -> u64 {
    let trace = modelmetry::start_trace(name.to_owned());
    let span = modelmetry::start_span(format!("{name}.step"), modelmetry::Kind::Llm);
    span.set_input(input);
    drop(span);
    drop(trace);
    2
}

/// Every XID in any request the server received, accepted or not.
pub fn all_sent_xids(server: &Server) -> HashSet<String> {
    server
        .requests()
        .iter()
        .filter(|r| !r.body.is_empty())
        .flat_map(Request::xids)
        .collect()
}

/// `flush` or `shutdown` returned [`modelmetry::Error::Lost`] naming `counter` (e.g.
/// `rejected`, `network`, `shutdown`): the number of records it says were lost.
pub fn expect_lost(result: Result<(), modelmetry::Error>, counter: &str) -> u64 {
    match result {
        Err(modelmetry::Error::Lost { records, reason }) => {
            assert!(
                reason.contains(counter),
                "lost, but not as {counter}: {reason}"
            );
            records
        }
        other => panic!("expected records lost as {counter}, got {other:?}"),
    }
}

/// Compare trees as `RecordedTrace::tree` draws them, an event's metadata (the JSON object at
/// the end of its line) as a JSON value, everything else as text: serde_json's `preserve_order`
/// (which any crate in a build may turn on; genai's serde_json does) changes the order of an
/// object's keys, not its value.
#[track_caller]
pub fn assert_tree_eq(actual: &str, expected: &str) {
    assert_eq!(
        tree_lines(actual),
        tree_lines(expected),
        "\nactual:\n{actual}\nexpected:\n{expected}"
    );
}

/// Each line of a tree as its text and, for a line ending with a JSON object, that object
/// (the text then stops before it).
fn tree_lines(tree: &str) -> Vec<(String, Option<Value>)> {
    tree.split_inclusive('\n')
        .map(|line| {
            let (text, newline) = match line.strip_suffix('\n') {
                Some(t) => (t, "\n"),
                None => (line, ""),
            };
            if let Some(at) = text.find(" {\"") {
                if let Ok(value) = serde_json::from_str::<Value>(&text[at + 1..]) {
                    return (format!("{}{newline}", &text[..at]), Some(value));
                }
            }
            (line.to_owned(), None)
        })
        .collect()
}

#[test]
fn trees_compare_event_metadata_as_json_and_the_rest_as_text() {
    let drawn = "trace t\n└── event e {\"b\":1,\"a\":[2]}\n";
    assert_tree_eq(drawn, "trace t\n└── event e {\"a\":[2],\"b\":1}\n");
    for other in [
        "trace t\n└── event e {\"a\":[2],\"b\":2}\n",
        "trace t\n└── event e {\"a\":[2]}\n",
        "trace t\n└── event f {\"a\":[2],\"b\":1}\n",
        "trace t\n└── event e {\"a\":[2],\"b\":1}",
    ] {
        assert_ne!(tree_lines(drawn), tree_lines(other), "{other}");
    }
}
