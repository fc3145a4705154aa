//! `Server`: waitless in-process like `TestApp`, but it can be stopped and started again on the
//! SAME address — a display reconnects to the address it was loaded from, so a restart on a new
//! port (what `TestApp::restart` does) would never reach it.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use jiff::SignedDuration;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use waitless::clock::{Clock, ManualClock, SystemClock};
use waitless::config::Config;

use crate::common::{PATIENCE, test_config};

pub struct Server {
    pub addr: SocketAddr,
    pub clock: ManualClock,
    pub client: reqwest::Client,
    config: Config,
    _dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Server {
    /// The demo clinic on a fresh folder, on a free port of 127.0.0.1.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Like `spawn`, after `adjust` changes the configuration. The manual clock starts at the
    /// real time: the pages compare the events' times with their own clock, corrected by the
    /// server's `Date` header (real time), so a server living at `START` would look hours off.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        adjust(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let clock = ManualClock::new(SystemClock.now());
        let token = crate::common::provision(&config, &clock);
        let mut server = Self {
            addr: listener.local_addr().unwrap(),
            clock,
            client: crate::common::client_with(&token),
            config,
            _dir: dir,
            shutdown: None,
            thread: None,
        };
        server.launch(listener).await;
        server
    }

    async fn launch(&mut self, listener: TcpListener) {
        let (tx, rx) = oneshot::channel::<()>();
        let config = self.config.clone();
        let clock = self.clock.clone();
        self.thread = Some(std::thread::spawn(move || {
            actix_rt::System::new().block_on(waitless::app::run(
                config,
                listener,
                Arc::new(clock),
                async move {
                    let _ = rx.await;
                },
            ))
        }));
        self.shutdown = Some(tx);
        self.wait_healthy().await;
    }

    async fn wait_healthy(&self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(r) = self.client.get(self.url("/healthz")).send().await
                && r.status() == 200
            {
                return;
            }
            if self.thread.as_ref().is_some_and(JoinHandle::is_finished) {
                panic!("waitless stopped during start");
            }
            assert!(Instant::now() < deadline, "waitless did not become healthy");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the server (graceful, like a service stop) and waits until it is gone. The data
    /// folder and the clock stay.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let result = tokio::task::spawn_blocking(move || thread.join())
                .await
                .unwrap()
                .unwrap();
            result.unwrap();
        }
    }

    /// Starts the server again on the same address and data folder.
    pub async fn start_again(&mut self) {
        assert!(self.thread.is_none(), "start_again on a running server");
        // std binds with SO_REUSEADDR, so only a port someone else took can fail; retry briefly.
        let deadline = Instant::now() + PATIENCE;
        let listener = loop {
            match TcpListener::bind(self.addr) {
                Ok(l) => break l,
                Err(e) => {
                    assert!(
                        Instant::now() < deadline,
                        "cannot bind {} again: {e}",
                        self.addr
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        self.launch(listener).await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Moves the manual clock (the server's; the pages run on real browser time).
    pub fn advance(&self, by: SignedDuration) {
        self.clock.advance(by);
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.client.get(self.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.client.post(self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let r = request.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{path} answered non-JSON ({e}): {text}"));
        (status, json)
    }

    /// Issues a ticket through the API; returns the ticket (with `status_path`).
    pub async fn issue(&self, service: &str, priority: &str) -> Value {
        let (status, body) = self
            .post_json(
                "/api/v1/tickets",
                Some(json!({"service": service, "priority": priority})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body
    }

    /// `POST /api/v1/rooms/{room}/next`, after moving the clock past the double-press window
    /// (the manual clock stands still, so a second "next" would be ignored otherwise).
    pub async fn next(&self, room: &str) -> Value {
        let debounce = i64::try_from(self.config.queue.debounce_ms).unwrap();
        self.advance(SignedDuration::from_millis(debounce + 1_000));
        let (status, body) = self
            .post_json(&format!("/api/v1/rooms/{room}/next"), None)
            .await;
        assert_eq!(status, 200, "{body}");
        assert_ne!(body["debounced"], true, "{body}");
        body
    }

    /// The queue snapshot.
    /// The queue snapshot, with the waiting tickets (`GET /api/v1/queue/waiting`) added as
    /// `waiting`: the snapshot itself carries only counts.
    pub async fn queue(&self) -> Value {
        let mut body = self.get_json("/api/v1/queue").await;
        let page = self.get_json("/api/v1/queue/waiting?limit=1000").await;
        body["waiting"] = page["tickets"].clone();
        body
    }

    /// Every ticket number in the queue snapshot, wherever it appears.
    pub async fn ticket_numbers(&self) -> Vec<String> {
        let mut numbers = Vec::new();
        collect_numbers(&self.queue().await, &mut numbers);
        numbers.sort();
        numbers.dedup();
        numbers
    }
}

fn collect_numbers(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if map.contains_key("id")
                && map.contains_key("service")
                && let Some(Value::String(n)) = map.get("number")
            {
                out.push(n.clone());
            }
            for v in map.values() {
                collect_numbers(v, out);
            }
        }
        Value::Array(items) => {
            for v in items {
                collect_numbers(v, out);
            }
        }
        _ => {}
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
