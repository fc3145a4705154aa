//! `TestApp`: the whole waitless in-process on 127.0.0.1:0 with a temporary data folder and a
//! manual clock, driven over real HTTP and WebSocket.
// Not every test module uses every helper.
#![allow(dead_code)]

pub mod modem;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use waitless::clock::ManualClock;
use waitless::config::Config;
use waitless::store::Backing;

/// 2026-11-21 10:00 UTC: a Saturday morning, well inside the clinic day.
pub const START: &str = "2026-11-21T10:00:00Z";

/// How long a test waits for something that should happen at once.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// How often [`wait_until`] looks again.
const POLL: Duration = Duration::from_millis(10);

/// What a [`wait_until`] probe answers: done (with a value), or not yet (and what it saw).
pub trait Progress {
    /// What the wait returns once done.
    type Value;
    /// `Ok` when done, else `Err` with what was seen, for the message if time runs out.
    fn progress(self) -> Result<Self::Value, String>;
}

impl Progress for bool {
    type Value = ();
    fn progress(self) -> Result<(), String> {
        if self {
            Ok(())
        } else {
            Err("not yet".to_owned())
        }
    }
}

impl<T, E: std::fmt::Display> Progress for Result<T, E> {
    type Value = T;
    fn progress(self) -> Result<T, String> {
        self.map_err(|seen| seen.to_string())
    }
}

/// Runs `probe` until it says done, every few milliseconds, and returns its value; panics
/// after `within`, saying what it waited for and what the last probe saw. A probe that does
/// not finish is cut short at the deadline too. Probes may panic at once for what can never
/// get better (the server exited). The one poll-with-deadline loop of the tests.
pub async fn wait_until<P: Progress>(
    within: Duration,
    what: &str,
    mut probe: impl AsyncFnMut() -> P,
) -> P::Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let seen = match tokio::time::timeout_at(deadline, probe()).await {
            Ok(answer) => match answer.progress() {
                Ok(value) => return value,
                Err(seen) => seen,
            },
            Err(_) => "(the last look did not finish)".to_owned(),
        };
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}; last seen: {seen}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// [`wait_until`] for a test on a plain thread, outside any async runtime (it runs one).
pub fn wait_until_blocking<P: Progress>(
    within: Duration,
    what: &str,
    mut probe: impl FnMut() -> P,
) -> P::Value {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(wait_until(within, what, async || probe()))
}

/// The admin every test server has (created before it starts).
pub const ADMIN_NAME: &str = "admin";
/// Its password.
pub const ADMIN_PASSWORD: &str = "test-password-123";

/// A receptionist every test server has.
pub const RECEPTION_NAME: &str = "reception";
/// The doctor of room-1 every test server has.
pub const DOCTOR_NAME: &str = "doctor";
/// The name of the manager (reports only) [`TestApp::add_user`] makes for the tests that need
/// one (not provisioned, so every other test's log stays as it was).
pub const MANAGER_NAME: &str = "manager";

/// Creates the test users and the test admin's API token in the database of `config`, before
/// waitless starts on it (through the engine's offline path, as `source: system`, so each has
/// its audit record); returns the token. On a folder provisioned before (a restart), changes
/// nothing and returns the same token.
pub fn provision(config: &Config, clock: &ManualClock) -> String {
    let saved = config.data.join("test-token");
    if let Ok(token) = std::fs::read_to_string(&saved) {
        return token;
    }
    use std::collections::BTreeSet;
    use waitless::auth::{Auth, AuthOptions, Role};
    use waitless::domain::{Origin, Source};
    use waitless::staff::{Offline, Secret, StaffAnswer, StaffRequest, perform_offline};
    use waitless::store::{Store, StoreOptions};
    let store = Arc::new(
        Store::open(
            &config.database_path(),
            &StoreOptions {
                fsync: false,
                cache_bytes: 1 << 20,
            },
        )
        .unwrap(),
    );
    let auth = Auth::with_options(
        Arc::clone(&store),
        Arc::new(clock.clone()),
        AuthOptions::for_tests(),
    );
    // As the command line does it on a stopped server: each change with its audit record.
    let calendar = config.calendar().unwrap();
    let policy = config.policy();
    let offline = Offline {
        store: &store,
        clock,
        calendar: &calendar,
        policy: &policy,
    };
    let origin = Origin::new(Source::System, "tests");
    let perform = |request| perform_offline(&auth, offline, request, &origin);
    // A test may start waitless again on the same folder: the users are there already.
    for (name, role, rooms) in [
        (ADMIN_NAME, Role::Admin, vec![]),
        (RECEPTION_NAME, Role::Reception, vec![]),
        (
            DOCTOR_NAME,
            Role::Doctor,
            vec![waitless::domain::RoomId::parse("room-1").unwrap()],
        ),
    ] {
        match perform(StaffRequest::UserAdd {
            name: name.to_owned(),
            password: Secret(ADMIN_PASSWORD.to_owned()),
            roles: BTreeSet::from([role]),
            rooms,
        }) {
            Ok(_) => {}
            Err(e) if e.code() == "user-exists" => {}
            Err(e) => panic!("cannot create {name}: {e}"),
        }
    }
    let created = perform(StaffRequest::TokenCreate {
        name: "tests".to_owned(),
        role: Role::Admin,
    });
    let Ok(StaffAnswer::TokenCreated { secret, .. }) = created else {
        panic!("cannot create the test token: {created:?}");
    };
    let token = secret.0;
    std::fs::write(&saved, &token).unwrap();
    drop(auth);
    Arc::try_unwrap(store).ok().unwrap().close().unwrap();
    token
}

/// A client that sends `token` as its bearer token.
pub fn client_with(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub clock: ManualClock,
    /// Sends the admin's API token with every request.
    pub client: reqwest::Client,
    /// Sends no credentials, and does not follow redirects.
    pub anon: reqwest::Client,
    /// The admin's API token.
    pub token: String,
    pub config: Config,
    dir: Option<tempfile::TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
}

/// The configuration tests run with: temporary folder, UTC, no fsync.
pub fn test_config(data: &Path) -> Config {
    let mut config = Config {
        bind: "127.0.0.1:0".to_owned(),
        data: data.to_owned(),
        ..Config::default()
    };
    config.clinic.timezone = "UTC".to_owned();
    config.store.fsync = false;
    config.http.workers = 2;
    config.http.ws_heartbeat_secs = 1;
    config.http.shutdown_timeout_secs = 1;
    config.log.level = "warn".to_owned();
    config
}

impl TestApp {
    /// The demo clinic on a fresh folder.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Like `spawn`, after `adjust` changes the configuration.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        adjust(&mut config);
        let clock = ManualClock::new(START.parse().unwrap());
        let token = provision(&config, &clock);
        Self::start(config, clock, Some(dir), token, Backing::default()).await
    }

    /// The demo clinic on a fresh folder, its database on `backing` (e.g. a disk that fills),
    /// with fsync on, so that every commit reaches it.
    pub async fn spawn_on(backing: Backing) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        config.store.fsync = true;
        let clock = ManualClock::new(START.parse().unwrap());
        let token = provision(&config, &clock);
        Self::start(config, clock, Some(dir), token, backing).await
    }

    async fn start(
        config: Config,
        clock: ManualClock,
        dir: Option<tempfile::TempDir>,
        token: String,
        backing: Backing,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let run_config = config.clone();
        let run_clock = clock.clone();
        let thread = std::thread::spawn(move || {
            actix_rt::System::new().block_on(waitless::app::run_on(
                run_config,
                listener,
                Arc::new(run_clock),
                backing,
                async move {
                    let _ = rx.await;
                },
            ))
        });
        let app = Self {
            addr,
            clock,
            client: client_with(&token),
            anon: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            token,
            config,
            dir,
            shutdown: Some(tx),
            thread: Some(thread),
        };
        app.wait_healthy().await;
        app
    }

    /// Adds a user with `roles` and `rooms` (password [`ADMIN_PASSWORD`]) through the admin API.
    pub async fn add_user(&self, name: &str, roles: &[&str], rooms: &[&str]) {
        let r = self
            .post_json(
                "/api/v1/admin/users",
                &serde_json::json!({
                    "name": name, "password": ADMIN_PASSWORD, "roles": roles, "rooms": rooms
                }),
            )
            .await;
        assert_eq!(r.status(), 201, "adding {name}");
    }

    /// Logs `name` in (password [`ADMIN_PASSWORD`]); returns the session cookie
    /// (`waitless_session=...`).
    pub async fn login(&self, name: &str) -> String {
        self.login_as(name, ADMIN_PASSWORD).await
    }

    /// Logs `name` in with `password`; returns the session cookie.
    pub async fn login_as(&self, name: &str, password: &str) -> String {
        let r = self
            .anon
            .post(self.url("/api/v1/login"))
            .header("Origin", self.url(""))
            .json(&serde_json::json!({"name": name, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "login of {name}");
        let cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("waitless_session="))
            .expect("a session cookie")
            .to_owned();
        cookie.split(';').next().unwrap().to_owned()
    }

    /// Polls /healthz until it answers 200 (with a deadline).
    pub async fn wait_healthy(&self) {
        wait_until(PATIENCE, "waitless to become healthy", async || {
            if let Ok(r) = self.client.get(self.url("/healthz")).send().await
                && r.status() == 200
            {
                return true;
            }
            if let Some(thread) = &self.thread
                && thread.is_finished()
            {
                panic!("waitless stopped during start");
            }
            false
        })
        .await;
    }

    /// The data folder.
    pub fn data(&self) -> PathBuf {
        self.config.data.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    /// Moves the manual clock.
    pub fn advance(&self, by: SignedDuration) {
        self.clock.advance(by);
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn post(&self, path: &str) -> reqwest::Response {
        self.client.post(self.url(path)).send().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// GET returning (status, JSON body).
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let r = self.get(path).await;
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    /// POST a JSON body returning (status, JSON body).
    pub async fn call(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        let r = match body {
            Some(b) => self.post_json(path, &b).await,
            None => self.post(path).await,
        };
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{path} answered non-JSON ({e}): {text}"));
        (status, json)
    }

    /// Issues a ticket, asserting 201; returns the ticket JSON.
    pub async fn issue(&self, service: &str, priority: &str) -> Value {
        let (status, body) = self
            .call(
                "/api/v1/tickets",
                Some(serde_json::json!({"service": service, "priority": priority})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body
    }

    /// `POST /api/v1/rooms/{room}/next`, asserting 200.
    pub async fn next(&self, room: &str) -> Value {
        let (status, body) = self.call(&format!("/api/v1/rooms/{room}/next"), None).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// A room's view from `GET /api/v1/rooms`.
    pub async fn room(&self, id: &str) -> Value {
        let (status, rooms) = self.get_json("/api/v1/rooms").await;
        assert_eq!(status, 200);
        rooms
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no room {id} in {rooms}"))
            .clone()
    }

    /// `GET /api/v1/tickets/{id}`, asserting 200.
    pub async fn ticket(&self, id: impl std::fmt::Display) -> Value {
        let (status, body) = self.get_json(&format!("/api/v1/tickets/{id}")).await;
        assert_eq!(status, 200, "ticket {id}: {body}");
        body
    }

    /// The queue snapshot, with the first 1,000 waiting tickets as `waiting` (the snapshot
    /// itself carries counts: `GET /api/v1/queue/waiting` pages the tickets).
    pub async fn queue(&self) -> Value {
        let (status, mut body) = self.get_json("/api/v1/queue").await;
        assert_eq!(status, 200);
        assert!(
            body.get("waiting").is_none(),
            "the snapshot lists no tickets"
        );
        let (status, page) = self.get_json("/api/v1/queue/waiting?limit=1000").await;
        assert_eq!(status, 200, "{page}");
        body["waiting"] = page["tickets"].clone();
        body
    }

    /// Opens the event stream (`query` like `?since=3` or empty).
    pub async fn events(&self, query: &str) -> WsClient {
        let (stream, _) =
            tokio_tungstenite::connect_async(self.ws_url(&format!("/api/v1/events{query}")))
                .await
                .unwrap();
        WsClient { stream }
    }

    /// Stops the server gracefully and waits for it; returns what `app::run` returned.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.thread.take() {
            Some(thread) => thread.join().unwrap(),
            None => Ok(()),
        }
    }

    /// Stops the server and starts a new one on the same data folder (and clock).
    pub async fn restart(mut self) -> Self {
        self.stop_inner().unwrap();
        let dir = self.dir.take();
        let config = self.config.clone();
        let clock = self.clock.clone();
        let token = self.token.clone();
        Self::start(config, clock, dir, token, Backing::default()).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}

/// A WebSocket client of `/api/v1/events`.
pub struct WsClient {
    pub stream: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl WsClient {
    /// The next JSON text message about the queue (pings are answered by tungstenite; device
    /// status messages are skipped: see [`Self::next_device`]).
    pub async fn next_json(&mut self) -> Value {
        loop {
            let msg = self.next_any().await;
            if msg["type"] != "devices" && msg["type"] != "device" {
                return msg;
            }
        }
    }

    /// Skips messages until a device status of `id` with `condition` arrives (in a `device`
    /// change or the `devices` list sent on connect); returns it.
    pub async fn next_device(&mut self, id: &str, condition: &str) -> Value {
        loop {
            let msg = self.next_any().await;
            let found = match msg["type"].as_str() {
                Some("device") => vec![msg["device"].clone()],
                Some("devices") => msg["devices"].as_array().cloned().unwrap_or_default(),
                _ => Vec::new(),
            };
            if let Some(d) = found
                .into_iter()
                .find(|d| d["id"] == id && d["condition"] == condition)
            {
                return d;
            }
        }
    }

    /// The next JSON text message of any type.
    pub async fn next_any(&mut self) -> Value {
        wait_until(PATIENCE, "a WebSocket message", async || {
            let msg = self
                .stream
                .next()
                .await
                .expect("WebSocket closed")
                .expect("WebSocket error");
            match msg {
                Message::Text(text) => Ok(serde_json::from_str(&text).unwrap()),
                Message::Ping(_) | Message::Pong(_) => Err("a ping or a pong"),
                other => panic!("unexpected WebSocket message {other:?}"),
            }
        })
        .await
    }

    /// Skips messages until an event of `kind` arrives; returns the event.
    pub async fn next_event(&mut self, kind: &str) -> Value {
        loop {
            let msg = self.next_json().await;
            if msg["type"] == "event" && msg["event"]["kind"] == kind {
                return msg["event"].clone();
            }
        }
    }

    pub async fn send_text(&mut self, text: &str) {
        self.stream.send(Message::text(text)).await.unwrap();
    }
}

/// The moment `START` as a timestamp.
pub fn start() -> Timestamp {
    START.parse().unwrap()
}
