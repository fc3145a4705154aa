//! Load tool: measures a RUNNING waitless over HTTP and WebSocket, and its start-up.
//!
//! ```text
//! # a server, durable commits (the default), debounce off so "next" can be pressed quickly:
//! WAITLESS_QUEUE__DEBOUNCE_MS=0 target/release/waitless --data /tmp/wl --bind 127.0.0.1:8080
//!
//! # the room actions need a login: an admin token, made with the server stopped
//! # (LOAD_TOKEN, not WAITLESS_…: the server refuses unknown WAITLESS_* variables)
//! export LOAD_TOKEN=$(target/release/waitless --data /tmp/wl token create --name load --role admin)
//! cargo run --release --example load -- --url http://127.0.0.1:8080 [--pid PID]
//! cargo run --release --example load -- --url http://127.0.0.1:8080 --smoke   # CI's check
//! cargo run --release --example load -- startup --bin target/release/waitless [--runs 20]
//! ```
//!
//! `load` (the default) measures
//! * (a) tickets issued per second and the latency of `POST /api/v1/tickets` at each
//!   concurrency level (`--levels 1,8,32`, `--requests 2000` per level);
//! * (b) for each of `--calls 200` presses of `POST /api/v1/rooms/{id}/next` (rotating among the
//!   open rooms), the time from sending the request until the `room_next` event has arrived at
//!   every one of `--clients 100` WebSocket clients of `/api/v1/events`.
//!
//! With `--pid` it also reads the server's resident memory (VmRSS) before and after, idle.
//!
//! It never waits forever: a call whose event has not reached every display within
//! `--event-timeout-ms` (5 s) stops the run with an error, and any failed request, debounced
//! call or lost display makes it exit non-zero. `--smoke` is a short run of that check (5
//! tickets, 3 displays, 3 calls: a few seconds), which `.ci/run` runs against a fresh server.
//!
//! `startup` starts the binary `--runs` times (a fresh data folder each run, or `--data DIR`)
//! and measures the time from spawning it to the first `200` from `/healthz`, and the idle
//! resident memory after start; it stops each run with SIGTERM.
//!
//! Figures and the commands that produced them: docs/performance.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const USAGE: &str = "\
usage:
  load [--url URL] [--token TOKEN] [--smoke] [--levels 1,8,32] [--requests N] [--service ID]
       [--clients N] [--calls N] [--pause-ms MS] [--event-timeout-ms MS] [--slow-ms MS]
       [--skip-issue] [--skip-ws] [--pid PID]
  load startup --bin PATH [--runs N] [--port PORT] [--data DIR]

defaults: --url http://127.0.0.1:8080 --levels 1,8,32 --requests 2000 --service general
          --clients 100 --calls 200 --pause-ms 20 --event-timeout-ms 5000;
          startup: --runs 20 --port 18080
--token (or the environment variable LOAD_TOKEN) is an API token sent with every request
(`waitless token create --name load --role admin`): the room actions need one.
--smoke is a short check: --levels 1 --requests 5 --clients 3 --calls 3 --pause-ms 0 (flags
given after it still apply); it exits 0 only if every display saw every call.
--slow-ms prints every call whose event reached the last display after MS.
Start the server with WAITLESS_QUEUE__DEBOUNCE_MS=0, or a second \"next\" of the same room
within 2 s is ignored (the tool counts it as debounced and exits non-zero).";

/// The flags that take a value.
const VALUE_FLAGS: &[&str] = &[
    "url",
    "token",
    "levels",
    "requests",
    "service",
    "clients",
    "calls",
    "pause-ms",
    "event-timeout-ms",
    "slow-ms",
    "pid",
    "bin",
    "runs",
    "port",
    "data",
];

/// The environment variable the token may come in (outside the server's `WAITLESS_` prefix).
const TOKEN_VARIABLE: &str = "LOAD_TOKEN";

/// How long one HTTP request, a WebSocket connection or a start may take before it fails.
const PATIENCE: Duration = Duration::from_secs(10);

#[derive(Debug)]
struct LoadArgs {
    url: String,
    token: Option<String>,
    smoke: bool,
    levels: Vec<usize>,
    requests: usize,
    service: String,
    clients: usize,
    calls: usize,
    pause: Duration,
    event_timeout: Duration,
    slow: Option<Duration>,
    skip_issue: bool,
    skip_ws: bool,
    pid: Option<u32>,
}

#[derive(Debug)]
struct StartupArgs {
    bin: PathBuf,
    runs: usize,
    port: u16,
    data: Option<PathBuf>,
}

#[derive(Debug)]
enum Args {
    Load(LoadArgs),
    Startup(StartupArgs),
}

fn parse_args() -> Result<Args, String> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let startup = args.first().is_some_and(|a| a == "startup");
    if startup {
        args.remove(0);
    }
    // `--flag value` and `--flag=value`
    let mut pairs: Vec<(String, Option<String>)> = Vec::new();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        if arg == "-h" || arg == "--help" {
            return Err(String::new());
        }
        let Some(flag) = arg.strip_prefix("--") else {
            return Err(format!("unexpected argument {arg:?}"));
        };
        if let Some((k, v)) = flag.split_once('=') {
            pairs.push((k.to_owned(), Some(v.to_owned())));
        } else if matches!(flag, "skip-issue" | "skip-ws" | "smoke") {
            pairs.push((flag.to_owned(), None));
        } else if !VALUE_FLAGS.contains(&flag) {
            return Err(format!("unknown flag --{flag}"));
        } else {
            let value = it.next().ok_or_else(|| format!("--{flag} needs a value"))?;
            pairs.push((flag.to_owned(), Some(value)));
        }
    }
    fn num<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
        v.parse()
            .map_err(|_| format!("--{flag}: {v:?} is not a number"))
    }
    if startup {
        let mut a = StartupArgs {
            bin: PathBuf::new(),
            runs: 20,
            port: 18080,
            data: None,
        };
        for (k, v) in pairs {
            let v = v.unwrap_or_default();
            match k.as_str() {
                "bin" => a.bin = PathBuf::from(v),
                "runs" => a.runs = num(&k, &v)?,
                "port" => a.port = num(&k, &v)?,
                "data" => a.data = Some(PathBuf::from(v)),
                _ => return Err(format!("unknown flag --{k}")),
            }
        }
        if a.bin.as_os_str().is_empty() {
            return Err("startup needs --bin PATH (e.g. target/release/waitless)".to_owned());
        }
        if a.runs == 0 {
            return Err("--runs must be at least 1".to_owned());
        }
        return Ok(Args::Startup(a));
    }
    let mut a = LoadArgs {
        url: "http://127.0.0.1:8080".to_owned(),
        token: std::env::var(TOKEN_VARIABLE).ok().filter(|t| !t.is_empty()),
        smoke: false,
        levels: vec![1, 8, 32],
        requests: 2_000,
        service: "general".to_owned(),
        clients: 100,
        calls: 200,
        pause: Duration::from_millis(20),
        event_timeout: Duration::from_secs(5),
        slow: None,
        skip_issue: false,
        skip_ws: false,
        pid: None,
    };
    for (k, v) in pairs {
        let v = v.unwrap_or_default();
        match k.as_str() {
            "url" => a.url = v.trim_end_matches('/').to_owned(),
            "token" => a.token = Some(v),
            "smoke" => {
                a.smoke = true;
                a.levels = vec![1];
                a.requests = 5;
                a.clients = 3;
                a.calls = 3;
                a.pause = Duration::ZERO;
            }
            "levels" => {
                a.levels = v
                    .split(',')
                    .map(|n| num(&k, n.trim()))
                    .collect::<Result<_, _>>()?;
                if a.levels.contains(&0) {
                    return Err("--levels: a concurrency must be at least 1".to_owned());
                }
            }
            "requests" => a.requests = num(&k, &v)?,
            "service" => a.service = v,
            "clients" => a.clients = num(&k, &v)?,
            "calls" => a.calls = num(&k, &v)?,
            "pause-ms" => a.pause = Duration::from_millis(num(&k, &v)?),
            "event-timeout-ms" => a.event_timeout = Duration::from_millis(num(&k, &v)?),
            "slow-ms" => a.slow = Some(Duration::from_millis(num(&k, &v)?)),
            "skip-issue" => a.skip_issue = true,
            "skip-ws" => a.skip_ws = true,
            "pid" => a.pid = Some(num(&k, &v)?),
            _ => return Err(format!("unknown flag --{k}")),
        }
    }
    if !a.url.starts_with("http://") {
        return Err(format!("--url {:?}: only http:// URLs", a.url));
    }
    if a.smoke && (a.skip_ws || a.clients == 0 || a.calls == 0) {
        return Err("--smoke checks calls on displays: it needs --clients and --calls".to_owned());
    }
    Ok(Args::Load(a))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("load: {message}\n");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match args {
        Args::Load(args) => load(args).await,
        Args::Startup(args) => startup(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("load: {message}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------- figures

/// Nearest-rank percentile of sorted durations.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1_000.0)
}

/// p50, p90, p99, max of `samples` in ms, as table cells.
fn stats(samples: &mut [Duration]) -> [String; 4] {
    samples.sort();
    [
        ms(percentile(samples, 50.0)),
        ms(percentile(samples, 90.0)),
        ms(percentile(samples, 99.0)),
        ms(samples.last().copied().unwrap_or_default()),
    ]
}

/// An error and its causes on one line.
fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Resident and peak memory of a process, from /proc/PID/status.
fn memory(pid: u32) -> Result<(u64, u64), String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("cannot read /proc/{pid}/status: {e}"))?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    };
    match (field("VmRSS:"), field("VmHWM:")) {
        (Some(rss), Some(hwm)) => Ok((rss, hwm)),
        _ => Err(format!("no VmRSS in /proc/{pid}/status")),
    }
}

fn print_memory(pid: u32, when: &str) {
    match memory(pid) {
        Ok((rss, hwm)) => println!(
            "server memory {when}: VmRSS {:.1} MiB (peak VmHWM {:.1} MiB)",
            rss as f64 / 1024.0,
            hwm as f64 / 1024.0
        ),
        Err(e) => println!("server memory {when}: {e}"),
    }
}

// ---------------------------------------------------------------- HTTP

/// With a token (`--token` or `LOAD_TOKEN`: an API token, `waitless token create --name load
/// --role admin`), every request carries it: the room actions need a login.
fn http_client(token: Option<&str>) -> Result<reqwest::Client, String> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token {
        let value = format!("Bearer {}", token.trim())
            .parse()
            .map_err(|_| "the token is not a valid header value".to_owned())?;
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .timeout(PATIENCE)
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {}", describe(&e)))
}

/// POSTs `body` (or nothing) and returns (status, JSON body).
async fn post(client: &reqwest::Client, url: &str, body: Option<&Value>) -> Result<Value, String> {
    let request = client.post(url);
    let request = match body {
        Some(b) => request.json(b),
        None => request,
    };
    let response = request
        .send()
        .await
        .map_err(|e| format!("POST {url}: {}", describe(&e)))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| format!("POST {url}: reading the answer: {}", describe(&e)))?;
    if !status.is_success() {
        let short: String = text.chars().take(200).collect();
        let hint = if status == reqwest::StatusCode::UNAUTHORIZED {
            " (give an API token: --token or LOAD_TOKEN)"
        } else {
            ""
        };
        return Err(format!("POST {url}: HTTP {status}: {short}{hint}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("POST {url}: answer is not JSON: {e}"))
}

async fn get(client: &reqwest::Client, url: &str) -> Result<Value, String> {
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {}", describe(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("GET {url}: HTTP {status}"));
    }
    response
        .json()
        .await
        .map_err(|e| format!("GET {url}: {}", describe(&e)))
}

// ---------------------------------------------------------------- load

async fn load(args: LoadArgs) -> Result<(), String> {
    let client = http_client(args.token.as_deref())?;
    let health = get(&client, &format!("{}/healthz", args.url))
        .await
        .map_err(|e| format!("the server does not answer — is it running? {e}"))?;
    println!(
        "waitless {} at {} (seq {}, day {})",
        health["version"].as_str().unwrap_or("?"),
        args.url,
        health["seq"],
        health["day"].as_str().unwrap_or("?")
    );
    if let Some(pid) = args.pid {
        print_memory(pid, "before the load, idle");
    }
    if !args.skip_issue {
        issue_levels(&client, &args).await?;
    }
    if !args.skip_ws {
        calls_to_displays(&client, &args).await?;
    }
    if args.smoke {
        println!(
            "\nsmoke: ok ({} tickets issued, each of {} displays saw each of {} calls)",
            args.requests, args.clients, args.calls
        );
    }
    if let Some(pid) = args.pid {
        // Let the server notice the closed WebSockets and finish its work.
        tokio::time::sleep(Duration::from_secs(3)).await;
        print_memory(pid, "after the load, idle");
    }
    Ok(())
}

/// One concurrency level of part (a).
struct Level {
    concurrency: usize,
    ok: usize,
    errors: usize,
    first_error: Option<String>,
    wall: Duration,
    latencies: Vec<Duration>,
}

async fn issue_many(
    client: &reqwest::Client,
    url: &str,
    service: &str,
    total: usize,
    concurrency: usize,
) -> Level {
    let next = Arc::new(AtomicUsize::new(0));
    let body = Arc::new(json!({ "service": service, "source": "kiosk" }));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, next, body) =
            (client.clone(), url.to_owned(), next.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let start = Instant::now();
                match post(&client, &url, Some(&body)).await {
                    Ok(_) => latencies.push(start.elapsed()),
                    Err(e) => errors.push(e),
                }
            }
            (latencies, errors)
        }));
    }
    let mut level = Level {
        concurrency,
        ok: 0,
        errors: 0,
        first_error: None,
        wall: Duration::ZERO,
        latencies: Vec::with_capacity(total),
    };
    for task in tasks {
        match task.await {
            Ok((latencies, errors)) => {
                level.latencies.extend(latencies);
                level.errors += errors.len();
                if level.first_error.is_none() {
                    level.first_error = errors.into_iter().next();
                }
            }
            Err(e) => {
                level.errors += 1;
                level
                    .first_error
                    .get_or_insert_with(|| format!("task failed: {e}"));
            }
        }
    }
    level.wall = started.elapsed();
    level.ok = level.latencies.len();
    level
}

async fn issue_levels(client: &reqwest::Client, args: &LoadArgs) -> Result<(), String> {
    let url = format!("{}/api/v1/tickets", args.url);
    // Warm up (and fail fast on a wrong service).
    for _ in 0..args.requests.min(20) {
        post(client, &url, Some(&json!({ "service": args.service })))
            .await
            .map_err(|e| format!("cannot issue a ticket: {e}"))?;
    }
    println!(
        "\n(a) POST /api/v1/tickets, service {:?}, {} requests per level",
        args.service, args.requests
    );
    println!(
        "{:>11} | {:>9} | {:>6} | {:>8} | {:>8} | {:>8} | {:>8}",
        "concurrency", "tickets/s", "errors", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    println!("{}", "-".repeat(77));
    let mut failures = Vec::new();
    for &concurrency in &args.levels {
        let mut level = issue_many(client, &url, &args.service, args.requests, concurrency).await;
        let rate = level.ok as f64 / level.wall.as_secs_f64();
        let [p50, p90, p99, max] = stats(&mut level.latencies);
        println!(
            "{:>11} | {:>9.0} | {:>6} | {:>8} | {:>8} | {:>8} | {:>8}",
            level.concurrency, rate, level.errors, p50, p90, p99, max
        );
        if let Some(e) = level.first_error {
            failures.push(format!(
                "concurrency {concurrency}: {} errors, first: {e}",
                level.errors
            ));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "some tickets were not issued: {}",
            failures.join("; ")
        ))
    }
}

/// A `room_next` event as a client saw it.
#[derive(Debug)]
enum Seen {
    Next {
        client: usize,
        at: Instant,
        room: String,
        called: Option<u64>,
    },
    Gone {
        client: usize,
        why: String,
    },
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects a client and reads its first message (the snapshot); returns it with its size.
async fn connect(url: &str) -> Result<(Socket, usize), String> {
    let (mut socket, _) = tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(url))
        .await
        .map_err(|_| {
            format!(
                "cannot connect to {url}: no answer in {} s",
                PATIENCE.as_secs()
            )
        })?
        .map_err(|e| format!("cannot connect to {url}: {}", describe(&e)))?;
    let first = tokio::time::timeout(PATIENCE, socket.next())
        .await
        .map_err(|_| "no snapshot in time".to_owned())?;
    match first {
        Some(Ok(Message::Text(text))) => {
            let size = text.len();
            let v: Value =
                serde_json::from_str(&text).map_err(|e| format!("snapshot is not JSON: {e}"))?;
            if v["type"] != "snapshot" {
                return Err(format!("first message is {}, not a snapshot", v["type"]));
            }
            Ok((socket, size))
        }
        Some(Ok(other)) => Err(format!("first message is not text: {other:?}")),
        Some(Err(e)) => Err(format!("WebSocket error: {}", describe(&e))),
        None => Err("WebSocket closed before the snapshot".to_owned()),
    }
}

/// A message of the event stream, as far as the load tool reads it: every other field (and
/// every other message's body) is skipped unread, in whatever order the server writes them.
#[derive(Deserialize)]
struct StreamMessage {
    #[serde(rename = "type")]
    kind: String,
    event: Option<StreamEvent>,
}

#[derive(Deserialize)]
struct StreamEvent {
    kind: String,
    room: Option<String>,
    called: Option<CalledTicket>,
}

#[derive(Deserialize)]
struct CalledTicket {
    id: u64,
}

/// The room and the called ticket of a `room_next` event message. A hundred clients share
/// this machine's cores with the server, so a message that does not even mention `room_next`
/// (a snapshot, a device status, another event) is passed over without parsing; the others
/// are parsed by field name into [`StreamMessage`], skipping what it does not name.
fn room_next_of(text: &str) -> Option<(String, Option<u64>)> {
    if !text.contains("room_next") {
        return None;
    }
    let message: StreamMessage = serde_json::from_str(text).ok()?;
    let event = message.event.filter(|_| message.kind == "event")?;
    if event.kind != "room_next" {
        return None;
    }
    Some((event.room?, event.called.map(|t| t.id)))
}

/// Reads a client's messages, reporting every `room_next` event with the instant it arrived.
async fn watch(client: usize, mut socket: Socket, seen: mpsc::UnboundedSender<Seen>) {
    loop {
        let why = match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                let at = Instant::now();
                if let Some((room, called)) = room_next_of(&text) {
                    let _ = seen.send(Seen::Next {
                        client,
                        at,
                        room,
                        called,
                    });
                }
                continue;
            }
            Some(Ok(Message::Close(frame))) => format!("closed by the server: {frame:?}"),
            Some(Ok(_)) => continue, // pings are answered by tungstenite
            Some(Err(e)) => format!("WebSocket error: {}", describe(&e)),
            None => "connection ended".to_owned(),
        };
        let _ = seen.send(Seen::Gone { client, why });
        return;
    }
}

async fn calls_to_displays(client: &reqwest::Client, args: &LoadArgs) -> Result<(), String> {
    let rooms = get(client, &format!("{}/api/v1/rooms", args.url)).await?;
    let rooms: Vec<(String, Vec<String>)> = rooms
        .as_array()
        .ok_or("GET /api/v1/rooms: not a list")?
        .iter()
        .filter(|r| r["open"] == true)
        .filter_map(|r| {
            let id = r["id"].as_str()?.to_owned();
            let services = r["services"]
                .as_array()?
                .iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect();
            Some((id, services))
        })
        .collect();
    if rooms.is_empty() {
        return Err("no open room to press \"next\" in".to_owned());
    }
    // Enough waiting tickets for every call: each room calls about calls/rooms times; count
    // that (and a margin) against its first service's waiting tickets, issue what is missing.
    let per_room = args.calls.div_ceil(rooms.len());
    let mut required: HashMap<&str, usize> = HashMap::new();
    for (_, services) in &rooms {
        if let Some(first) = services.first() {
            *required.entry(first.as_str()).or_insert(per_room) += per_room;
        }
    }
    let queue = get(client, &format!("{}/api/v1/queue", args.url)).await?;
    // per-service counts (a server before the counts listed every waiting ticket instead)
    let mut waiting: HashMap<&str, usize> = HashMap::new();
    for c in queue["counts"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        if let (Some(service), Some(n)) = (c["service"].as_str(), c["waiting"].as_u64()) {
            *waiting.entry(service).or_default() += usize::try_from(n).unwrap_or(usize::MAX);
        }
    }
    for t in queue["waiting"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        if let Some(service) = t["service"].as_str() {
            *waiting.entry(service).or_default() += 1;
        }
    }
    let tickets_url = format!("{}/api/v1/tickets", args.url);
    for (service, required) in required {
        let missing = required.saturating_sub(waiting.get(service).copied().unwrap_or(0));
        if missing > 0 {
            let level = issue_many(client, &tickets_url, service, missing, 8).await;
            if let Some(e) = level.first_error {
                return Err(format!("cannot issue tickets for the calls: {e}"));
            }
        }
    }

    let ws_url = format!(
        "ws://{}/api/v1/events",
        args.url.trim_start_matches("http://")
    );
    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel();
    let mut readers = Vec::new();
    let mut connect_times = Vec::new();
    let mut snapshot_bytes = 0;
    for i in 0..args.clients {
        let start = Instant::now();
        let (socket, size) = connect(&ws_url)
            .await
            .map_err(|e| format!("WebSocket client {i}: {e}"))?;
        connect_times.push(start.elapsed());
        snapshot_bytes = size;
        readers.push(tokio::spawn(watch(i, socket, seen_tx.clone())));
    }
    drop(seen_tx);
    let [c50, _, c99, cmax] = stats(&mut connect_times);
    println!(
        "\n(b) {} WebSocket clients on {ws_url}: connect + snapshot ({} KiB) p50 {c50} ms, p99 {c99} ms, max {cmax} ms",
        args.clients,
        snapshot_bytes / 1024
    );
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut http = Vec::new();
    let mut first = Vec::new();
    let mut all = Vec::new();
    let mut debounced = 0;
    let mut nobody = 0;
    let mut problems: Vec<String> = Vec::new();
    let mut alive = args.clients;
    let begun = Instant::now();
    for k in 0..args.calls {
        let (room, _) = &rooms[k % rooms.len()];
        while let Ok(stale) = seen_rx.try_recv() {
            if let Seen::Gone { client, why } = stale {
                alive -= 1;
                problems.push(format!("client {client}: {why}"));
            }
        }
        if alive == 0 {
            return Err(format!(
                "every WebSocket client is gone: {}",
                problems.join("; ")
            ));
        }
        let url = format!("{}/api/v1/rooms/{room}/next", args.url);
        let t0 = Instant::now();
        let answer = post(client, &url, None).await;
        let answered = t0.elapsed();
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        http.push(answered);
        if answer["debounced"] == true {
            debounced += 1;
            tokio::time::sleep(args.pause).await;
            continue;
        }
        let Some(called) = answer["called"]["id"].as_u64() else {
            nobody += 1;
            continue;
        };
        let deadline = tokio::time::Instant::now() + args.event_timeout;
        let mut arrived: Vec<Duration> = Vec::with_capacity(alive);
        let mut got = vec![false; args.clients];
        while arrived.len() < alive {
            match tokio::time::timeout_at(deadline, seen_rx.recv()).await {
                Ok(Some(Seen::Next {
                    client,
                    at,
                    room: r,
                    called: c,
                })) => {
                    if &r == room && c == Some(called) && !got[client] {
                        got[client] = true;
                        arrived.push(at.saturating_duration_since(t0));
                    }
                }
                Ok(Some(Seen::Gone { client, why })) => {
                    alive -= 1;
                    problems.push(format!("client {client}: {why}"));
                }
                Ok(None) => break,
                Err(_) => {
                    return Err(format!(
                        "call {k} ({room} called ticket {called}): the room_next event reached \
                         {} of {alive} displays within {} ms; stopping",
                        arrived.len(),
                        args.event_timeout.as_millis()
                    ));
                }
            }
        }
        if arrived.len() < alive {
            return Err(format!(
                "call {k} ({room}): every display is gone: {}",
                problems.join("; ")
            ));
        }
        arrived.sort();
        if let (Some(slow), Some(l)) = (args.slow, arrived.last())
            && *l >= slow
        {
            println!(
                "  slow call {k} at +{} ms ({room}): HTTP answer {} ms, first display {} ms, last {} ms",
                (t0 - begun).as_millis(),
                ms(answered),
                ms(arrived[0]),
                ms(*l)
            );
        }
        if let (Some(f), Some(l)) = (arrived.first(), arrived.last()) {
            first.push(*f);
            if arrived.len() == alive {
                all.push(*l);
            }
        }
        tokio::time::sleep(args.pause).await;
    }
    for reader in readers {
        reader.abort();
    }

    println!(
        "POST /api/v1/rooms/{{id}}/next x {} (rooms {}), pause {} ms between calls",
        args.calls,
        rooms
            .iter()
            .map(|(r, _)| r.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        args.pause.as_millis()
    );
    println!(
        "{:<32} | {:>7} | {:>8} | {:>8} | {:>8} | {:>8}",
        "from sending the request to", "samples", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    println!("{}", "-".repeat(87));
    let all_label = format!("event at all {} displays", args.clients);
    for (label, samples) in [
        ("the HTTP answer", &mut http),
        ("event at the first display", &mut first),
        (all_label.as_str(), &mut all),
    ] {
        let [p50, p90, p99, max] = stats(samples);
        println!(
            "{label:<32} | {:>7} | {p50:>8} | {p90:>8} | {p99:>8} | {max:>8}",
            samples.len()
        );
    }
    if debounced > 0 {
        println!(
            "  {debounced} call(s) debounced: start the server with WAITLESS_QUEUE__DEBOUNCE_MS=0 \
             or raise --pause-ms"
        );
    }
    if nobody > 0 {
        println!("  {nobody} call(s) found nobody waiting");
    }
    for p in problems.iter().take(5) {
        println!("  {p}");
    }
    if debounced > 0 || nobody > 0 || !problems.is_empty() {
        return Err(format!(
            "{} of {} calls did not reach every display ({debounced} debounced, {nobody} found \
             nobody waiting, {} failed requests or lost displays)",
            args.calls - all.len(),
            args.calls,
            problems.len()
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------- startup

async fn startup(args: StartupArgs) -> Result<(), String> {
    let addr = format!("127.0.0.1:{}", args.port);
    if std::net::TcpStream::connect(&addr).is_ok() {
        return Err(format!("{addr} is in use: pick a free --port"));
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .pool_max_idle_per_host(0)
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {}", describe(&e)))?;
    let health = format!("http://{addr}/healthz");
    let mut ready = Vec::new();
    let mut rss = Vec::new();
    println!(
        "{} runs of {} on {}",
        args.runs,
        args.bin.display(),
        match &args.data {
            Some(d) => format!("{} (existing data)", d.display()),
            None => "a fresh data folder each run (first start: creates and seeds it)".to_owned(),
        }
    );
    for run in 0..args.runs {
        let fresh = match &args.data {
            Some(_) => None,
            None => Some(tempfile::tempdir().map_err(|e| format!("no temp dir: {e}"))?),
        };
        let data = args
            .data
            .clone()
            .or_else(|| fresh.as_ref().map(|t| t.path().to_owned()))
            .unwrap_or_default();
        let spawned = Instant::now();
        let mut child = Command::new(&args.bin)
            .arg("--data")
            .arg(&data)
            .arg("--bind")
            .arg(&addr)
            .env("WAITLESS_LOG__LEVEL", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", args.bin.display()))?;
        let pid = child.id();
        let outcome = loop {
            if let Ok(r) = client.get(&health).send().await
                && r.status() == 200
            {
                break Ok(spawned.elapsed());
            }
            if let Ok(Some(status)) = child.try_wait() {
                break Err(format!(
                    "run {run}: waitless exited ({status}) before it was healthy"
                ));
            }
            if spawned.elapsed() > PATIENCE {
                break Err(format!(
                    "run {run}: not healthy after {} s",
                    PATIENCE.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        if let Ok(elapsed) = &outcome {
            ready.push(*elapsed);
            tokio::time::sleep(Duration::from_millis(500)).await;
            if let Ok((kib, _)) = memory(pid) {
                rss.push(kib);
            }
        }
        // SIGTERM (a clean stop, so the next run does not open a half-closed database).
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX)),
            nix::sys::signal::Signal::SIGTERM,
        );
        let stop = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if stop.elapsed() < PATIENCE => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("run {run}: waitless did not stop on SIGTERM"));
                }
            }
        }
        outcome?;
    }
    let [p50, _, p99, max] = stats(&mut ready);
    let min = ms(ready.first().copied().unwrap_or_default());
    println!(
        "spawn → first 200 from /healthz: min {min} ms, p50 {p50} ms, p99 {p99} ms, max {max} ms"
    );
    rss.sort_unstable();
    if let (Some(lo), Some(hi)) = (rss.first(), rss.last()) {
        println!(
            "VmRSS 0.5 s after healthy, idle: median {:.1} MiB (min {:.1}, max {:.1})",
            rss[rss.len() / 2] as f64 / 1024.0,
            *lo as f64 / 1024.0,
            *hi as f64 / 1024.0
        );
    }
    Ok(())
}
