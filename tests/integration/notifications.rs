//! The operator's side of notifications: the test message (`POST /api/v1/notifications/test`
//! and `waitless notify-test`, with the server running and stopped), the transports' health in
//! the outbox answer and in `/api/v1/devices`, the SMS gateway's body formats and the Android
//! app preset against a fake gateway, and the generic webhook against a fake receiver.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::binary::{output_with_stdin, waitless_bin};
use crate::common::{PATIENCE, TestApp, wait_until};

/// One request the fake server received.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The status it was answered.
    status: u16,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A small HTTP server standing in for an SMS gateway or a webhook receiver: it records each
/// request and answers `status` with `answer` as its body.
struct FakeHttp {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    status: Arc<AtomicU16>,
    answer: Arc<Mutex<String>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeHttp {
    fn start() -> Self {
        Self::start_on("127.0.0.1:0")
    }

    /// On `addr` (a port used before: a receiver coming back).
    fn start_on(addr: &str) -> Self {
        let listener = TcpListener::bind(addr).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut fake = Self {
            addr,
            seen: Arc::default(),
            status: Arc::new(AtomicU16::new(200)),
            answer: Arc::new(Mutex::new("{}".to_owned())),
            stop: Arc::default(),
            thread: None,
        };
        let (seen, status, answer, stop) = (
            Arc::clone(&fake.seen),
            Arc::clone(&fake.status),
            Arc::clone(&fake.answer),
            Arc::clone(&fake.stop),
        );
        fake.thread = Some(std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let code = status.load(Ordering::SeqCst);
                let body = answer.lock().unwrap().clone();
                if let Some(request) = serve(stream, code, &body) {
                    seen.lock().unwrap().push(request);
                }
            }
        }));
        fake
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn answer_with(&self, status: u16, body: &str) {
        self.status.store(status, Ordering::SeqCst);
        *self.answer.lock().unwrap() = body.to_owned();
    }
}

impl Drop for FakeHttp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        // The listener is closed when this returns: its port is free again.
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one request from `stream` and answers it.
fn serve(stream: TcpStream, status: u16, answer: &str) -> Option<Seen> {
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{answer}",
        answer.len()
    );
    let _ = stream.flush();
    Some(Seen {
        path,
        headers,
        body,
        status,
    })
}

async fn test_message(app: &TestApp, body: &Value) -> (u16, Value) {
    app.call("/api/v1/notifications/test", Some(body.clone()))
        .await
}

#[tokio::test]
async fn a_test_message_goes_out_by_the_fake_and_bad_input_is_a_clear_4xx() {
    let app = TestApp::spawn_with(|c| c.notify.sms = "fake".to_owned()).await;
    let before = app.queue().await["seq"].as_u64().unwrap();

    let (status, sent) = test_message(
        &app,
        &json!({"channel": "sms", "to": "+91 98450 12345", "language": "hi"}),
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["sent"], true);
    assert_eq!(sent["channel"], "sms");
    assert!(
        sent["transport"].as_str().unwrap().starts_with("fake"),
        "{sent}"
    );

    for (body, code, expected) in [
        (
            json!({"channel": "pigeon", "to": "+91 1"}),
            400,
            "invalid-body",
        ),
        (
            json!({"channel": "sms", "to": "  "}),
            400,
            "invalid-recipient",
        ),
        (
            json!({"channel": "sms", "to": "call me maybe"}),
            400,
            "invalid-recipient",
        ),
        (
            json!({"channel": "sms", "to": "+91 1234", "language": "xx"}),
            400,
            "unknown-language",
        ),
        (
            json!({"channel": "email", "to": "p@example.com"}),
            409,
            "no-transport",
        ),
        (json!({"to": "+91 1234"}), 400, "invalid-body"),
    ] {
        let (status, answer) = test_message(&app, &body).await;
        assert_eq!(status, code, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], expected, "{body}: {answer}");
        assert!(
            !answer["error"]["message"].as_str().unwrap().is_empty(),
            "{answer}"
        );
    }
    // Nothing of it is an event.
    assert_eq!(app.queue().await["seq"].as_u64().unwrap(), before);

    // The transports with their health (the fake reports none), in both answers.
    let (status, page) = app.get_json("/api/v1/notifications").await;
    assert_eq!(status, 200);
    let transports = page["transports"].as_array().unwrap();
    assert_eq!(transports.len(), 1, "{page}");
    assert_eq!(transports[0]["channel"], "sms");
    assert!(transports[0].get("health").is_some(), "{page}");
    let (_, devices) = app.get_json("/api/v1/devices").await;
    let entry = devices
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "notify-sms")
        .unwrap_or_else(|| panic!("no notify-sms in {devices}"));
    assert_eq!(entry["kind"], "notifications");
    assert_eq!(entry["health"], "unknown");
    // The printer entry keeps its fields.
    assert!(
        devices
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["id"] == "printer" && d.get("condition").is_some()),
        "{devices}"
    );
}

#[tokio::test]
async fn outbox_rows_show_their_recipient_masked() {
    let app = TestApp::spawn_with(|c| {
        c.notify.sms = "fake".to_owned();
        c.notify.poll_secs = 1;
    })
    .await;
    let (status, ticket) = app
        .call(
            "/api/v1/tickets",
            Some(json!({"service": "general", "patient": {"phone": "+91 98450 12345"}})),
        )
        .await;
    assert_eq!(status, 201, "{ticket}");
    let (_, page) = app.get_json("/api/v1/notifications").await;
    let row = &page["notifications"][0];
    assert_eq!(row["to_masked"], "+91 ••••• •2345", "{page}");
}

#[tokio::test]
async fn the_android_gateway_preset_posts_its_json_with_basic_auth_and_keeps_the_id() {
    let gateway = FakeHttp::start();
    gateway.answer_with(202, r#"{"id": "Vd7x", "state": "Pending"}"#);
    let url = gateway.url("");
    let app = TestApp::spawn_with(|c| {
        c.notify.sms = "http".to_owned();
        c.notify.sms_http_preset = "android-sms-gateway".to_owned();
        c.notify.sms_http_url = url;
        c.notify.sms_http_password = "s3cret".to_owned();
    })
    .await;
    let (status, sent) =
        test_message(&app, &json!({"channel": "sms", "to": "+91 98450 12345"})).await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["reference"], "Vd7x");
    let seen = gateway.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/message");
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    // "sms:s3cret"
    assert_eq!(
        seen[0].header("authorization"),
        Some("Basic c21zOnMzY3JldA==")
    );
    let body = seen[0].json();
    assert_eq!(body["phoneNumbers"], json!(["+91 98450 12345"]));
    assert!(
        body["textMessage"]["text"]
            .as_str()
            .unwrap()
            .starts_with("Test message from"),
        "{body}"
    );

    // The gateway's refusal is a 502 with its reason.
    gateway.answer_with(500, "{}");
    let (status, answer) =
        test_message(&app, &json!({"channel": "sms", "to": "+91 98450 12345"})).await;
    assert_eq!(status, 502, "{answer}");
    assert_eq!(answer["error"]["code"], "send-failed");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("gateway answered 500"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_form_gateway_gets_the_number_and_text_url_encoded() {
    let gateway = FakeHttp::start();
    let url = gateway.url("/send?key=k1");
    let app = TestApp::spawn_with(|c| {
        c.notify.sms = "http".to_owned();
        c.notify.sms_http_url = url;
        c.notify.sms_http_format = "form".to_owned();
        c.notify.sms_http_body = "number={to}&message={text}&sender=CLINIC".to_owned();
    })
    .await;
    let (status, sent) = test_message(
        &app,
        &json!({"channel": "sms", "to": "+91 98450 12345", "language": "en"}),
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    let seen = gateway.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/send?key=k1");
    assert_eq!(
        seen[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let text = seen[0].text();
    assert!(
        text.starts_with("number=%2B91+98450+12345&message=Test+message+from+"),
        "{text}"
    );
    assert!(text.ends_with("&sender=CLINIC"), "{text}");
    // The operator's view shows the gateway without its query (the key).
    let (_, page) = app.get_json("/api/v1/notifications").await;
    let shown = page["transports"][0]["transport"].as_str().unwrap();
    assert!(!shown.contains("k1"), "{shown}");
}

/// Runs the binary with `args` (and `--data`); returns status, stdout, stderr.
fn cli(data: &Path, args: &[&str]) -> (ExitStatus, String, String) {
    let mut command = Command::new(waitless_bin());
    command.arg("--data").arg(data).args(args);
    for (name, _) in std::env::vars_os() {
        if let Some(name) = name.to_str()
            && (name.starts_with("WAITLESS_") || name == "RUST_LOG")
        {
            command.env_remove(name);
        }
    }
    output_with_stdin(command, "")
}

#[tokio::test]
async fn notify_test_asks_the_running_server() {
    let app = TestApp::spawn_with(|c| c.notify.sms = "fake".to_owned()).await;
    let data = app.data();
    let (status, stdout, stderr) = tokio::task::spawn_blocking(move || {
        cli(
            &data,
            &["notify-test", "--to", "+91 98450 12345", "--language", "hi"],
        )
    })
    .await
    .unwrap();
    assert!(status.success(), "{stdout}{stderr}");
    assert!(stdout.starts_with("sent"), "{stdout}");
    assert!(stdout.contains("running server"), "{stdout}");
    assert!(!stdout.contains("98450"), "{stdout}");

    // No email transport: a clear failure, exit 1.
    let data = app.data();
    let (status, stdout, stderr) = tokio::task::spawn_blocking(move || {
        cli(
            &data,
            &["notify-test", "--to", "p@example.com", "--channel", "email"],
        )
    })
    .await
    .unwrap();
    assert_eq!(status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("no email transport"), "{stderr}");
}

#[test]
fn notify_test_sends_straight_from_the_config_when_the_server_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = FakeHttp::start();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[notify]\nsms = \"http\"\nsms_http_url = \"{}\"\nsms_http_format = \"form\"\n",
            gateway.url("/sms")
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();

    let (status, stdout, stderr) = cli(
        &data,
        &["--config", config, "notify-test", "--to", "+91 98450 12345"],
    );
    assert!(status.success(), "{stdout}{stderr}");
    assert!(stdout.starts_with("sent"), "{stdout}");
    let seen = gateway.seen();
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0]
            .text()
            .starts_with("to=%2B91+98450+12345&text=Test+"),
        "{}",
        seen[0].text()
    );
    // The stopped server's folder got no database from it.
    assert!(!data.join("waitless.redb").exists());

    // The gateway refuses: the reason, exit 1.
    gateway.answer_with(503, "{}");
    let (status, stdout, stderr) = cli(
        &data,
        &["--config", config, "notify-test", "--to", "+91 98450 12345"],
    );
    assert_eq!(status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("gateway answered 503"), "{stderr}");

    // The fake transport, and bad usage.
    let fake = dir.path().join("fake.toml");
    std::fs::write(&fake, "[notify]\nsms = \"fake\"\n").unwrap();
    let fake = fake.to_str().unwrap();
    let (status, stdout, stderr) = cli(
        &data,
        &["--config", fake, "notify-test", "--to", "+15550100"],
    );
    assert!(status.success(), "{stdout}{stderr}");
    assert!(stdout.starts_with("sent"), "{stdout}");
    let (status, _, stderr) = cli(
        &data,
        &[
            "--config",
            fake,
            "notify-test",
            "--to",
            "+1555",
            "--channel",
            "fax",
        ],
    );
    assert_eq!(status.code(), Some(2), "{stderr}");
    let (status, _, stderr) = cli(&data, &["--config", fake, "notify-test", "--to", "nope"]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not a phone number"), "{stderr}");
}

/// The seqs after `after` the receiver acknowledged (answered 2xx), in the order it got them.
fn acked_after(receiver: &FakeHttp, after: u64) -> Vec<u64> {
    receiver
        .seen()
        .iter()
        .filter(|s| (200..300).contains(&s.status))
        .map(|s| s.json()["seq"].as_u64().unwrap())
        .filter(|seq| *seq > after)
        .collect()
}

#[tokio::test]
async fn the_webhook_posts_every_event_in_order_signed_and_loses_none() {
    let receiver = FakeHttp::start();
    let url = receiver.url("/hook");
    let app = TestApp::spawn_with(|c| {
        c.notify.webhook_url = url;
        c.notify.webhook_secret = "hook-secret".to_owned();
    })
    .await;
    let start = app.queue().await["seq"].as_u64().unwrap();
    for _ in 0..3 {
        app.issue("general", "normal").await;
    }
    wait_until(PATIENCE, "three events at the receiver", async || {
        acked_after(&receiver, start).len() >= 3
    })
    .await;
    assert_eq!(
        acked_after(&receiver, start),
        vec![start + 1, start + 2, start + 3]
    );
    let (_, page) = app.get_json("/api/v1/notifications").await;
    assert_eq!(page["webhook"]["signed"], true, "{page}");
    assert_eq!(page["webhook"]["target"], receiver.url("/hook"), "{page}");
    for seen in receiver.seen() {
        assert_eq!(seen.path, "/hook");
        if seen.json()["seq"].as_u64().unwrap() <= start {
            continue;
        }
        let expected = format!(
            "sha256={}",
            waitless::notify::webhook::signature(b"hook-secret", &seen.body)
        );
        assert_eq!(seen.header("x-waitless-signature"), Some(expected.as_str()));
        let event = seen.json();
        assert_eq!(
            seen.header("x-waitless-seq"),
            Some(event["seq"].to_string().as_str())
        );
        assert_eq!(event["kind"], "ticket_issued");
        // The public form: no idempotency key, no address.
        assert!(event.get("address").is_none(), "{event}");
    }

    // The receiver is down: the events wait; up again: all arrive, in order.
    receiver.answer_with(503, "");
    app.issue("general", "normal").await;
    app.issue("general", "normal").await;
    wait_until(PATIENCE, "a refused try", async || {
        receiver.seen().iter().any(|s| s.status == 503)
    })
    .await;
    wait_until(PATIENCE, "the operator's view of the refusal", async || {
        let (_, page) = app.get_json("/api/v1/notifications").await;
        page["webhook"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("503"))
    })
    .await;
    receiver.answer_with(200, "");
    wait_until(PATIENCE * 3, "the backlog at the receiver", async || {
        acked_after(&receiver, start).len() >= 5
    })
    .await;
    assert_eq!(
        acked_after(&receiver, start),
        (start + 1..=start + 5).collect::<Vec<_>>()
    );

    // A restart resumes after the cursor: nothing again, nothing lost.
    let app = app.restart().await;
    app.issue("general", "normal").await;
    let last = app.queue().await["seq"].as_u64().unwrap();
    wait_until(PATIENCE, "the event after the restart", async || {
        acked_after(&receiver, start).last() == Some(&last)
    })
    .await;
    let mut seqs = acked_after(&receiver, start);
    seqs.dedup();
    assert_eq!(seqs, (start + 1..=last).collect::<Vec<_>>());

    // The receiver is gone (connection refused) while two events happen; back on its port, it
    // gets both, in order.
    let addr = receiver.addr.to_string();
    drop(receiver);
    app.issue("general", "normal").await;
    app.issue("general", "normal").await;
    let end = app.queue().await["seq"].as_u64().unwrap();
    let receiver = FakeHttp::start_on(&addr);
    wait_until(
        PATIENCE * 3,
        "the events after the receiver came back",
        async || acked_after(&receiver, last).last() == Some(&end),
    )
    .await;
    let mut seqs = acked_after(&receiver, last);
    seqs.dedup();
    assert_eq!(seqs, (last + 1..=end).collect::<Vec<_>>());
}

#[test]
fn check_config_names_a_bad_gateway_setting_and_hides_the_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    for (text, key) in [
        (
            "[notify]\nsms = \"http\"\nsms_http_url = \"http://10.0.0.2:8080\"\n\
             sms_http_format = \"xml\"\n",
            "notify.sms_http_format",
        ),
        (
            "[notify]\nsms = \"http\"\nsms_http_url = \"http://10.0.0.2:8080\"\n\
             sms_http_preset = \"android-sms-gateway\"\n",
            "notify.sms_http_password",
        ),
        (
            "[notify]\nwebhook_url = \"ftp://hub.example\"\n",
            "notify.webhook_url",
        ),
    ] {
        let file = write("bad.toml", text);
        let (status, stdout, stderr) = cli(&data, &["--config", &file, "check-config"]);
        assert_eq!(status.code(), Some(2), "{text}: {stdout}{stderr}");
        assert!(stderr.contains(key), "{text}: {stderr}");
    }
    let file = write(
        "good.toml",
        "[notify]\nsms = \"http\"\nsms_http_url = \"http://10.0.0.2:8080\"\n\
         sms_http_preset = \"android-sms-gateway\"\nsms_http_password = \"pw-123456\"\n\
         webhook_url = \"https://hub.example/w\"\nwebhook_secret = \"hook-987654\"\n",
    );
    let (status, stdout, stderr) = cli(&data, &["--config", &file, "check-config"]);
    assert!(status.success(), "{stdout}{stderr}");
    assert!(!stdout.contains("pw-123456"), "{stdout}");
    assert!(!stdout.contains("hook-987654"), "{stdout}");
    assert!(stdout.contains("<hidden>"), "{stdout}");
}
