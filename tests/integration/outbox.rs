//! Notifications to patients end to end: a ticket with a phone number or email queues its
//! messages in the outbox with its event; the senders deliver them — emails to a real SMTP
//! server process (Debian's python3-aiosmtpd) started by the test — retry with backoff while
//! the line is down, never twice across a restart, and stop at the daily cap.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::common::modem::{FakeModem, decode_submit};
use crate::common::{PATIENCE, TestApp, wait_until};

/// An SMTP server that appends each message it receives, decoded, as a JSON line to a file.
const SMTP_SERVER: &str = r#"
import email, json, sys, time
from email import policy
from aiosmtpd.controller import Controller

class Keep:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        with open(sys.argv[2], "a", encoding="utf-8") as f:
            f.write(json.dumps({"to": envelope.rcpt_tos, "subject": str(msg["subject"]),
                                "body": msg.get_content(),
                                "raw": envelope.content.decode("ascii", "replace")},
                               ensure_ascii=False) + "\n")
        return "250 OK"

controller = Controller(Keep(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
"#;

/// A running SMTP server; killed when dropped.
struct SmtpServer {
    child: Child,
    inbox: PathBuf,
}

impl SmtpServer {
    fn start(dir: &Path, port: u16) -> Self {
        let script = dir.join("smtp_server.py");
        std::fs::write(&script, SMTP_SERVER).unwrap();
        let inbox = dir.join(format!("inbox-{port}.jsonl"));
        // Debian's python3 (the package python3-aiosmtpd), not one a user put first on PATH.
        let python = if Path::new("/usr/bin/python3").exists() {
            "/usr/bin/python3"
        } else {
            "python3"
        };
        let mut child = Command::new(python)
            .arg(&script)
            .arg(port.to_string())
            .arg(&inbox)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 with aiosmtpd (apt-get install python3-aiosmtpd)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP server did not start");
        Self { child, inbox }
    }

    /// The messages received so far.
    fn received(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.inbox)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on (yet).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn smtp_config(c: &mut waitless::config::Config, port: u16) {
    c.notify.email = "smtp".to_owned();
    c.notify.smtp_host = "127.0.0.1".to_owned();
    c.notify.smtp_port = port;
    c.notify.smtp_security = "none".to_owned();
    c.notify.email_from = "Sunrise Clinic <queue@clinic.example>".to_owned();
    c.notify.poll_secs = 1;
    c.notify.retry_secs = 60;
}

async fn outbox(app: &TestApp) -> Value {
    let (status, page) = app.get_json("/api/v1/notifications").await;
    assert_eq!(status, 200, "{page}");
    page
}

/// The outbox rows' `kind/state` pairs, oldest first.
async fn states(app: &TestApp) -> Vec<String> {
    let page = outbox(app).await;
    let mut rows: Vec<String> = page["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| format!("{}/{}/{}", n["kind"], n["channel"], n["state"]).replace('"', ""))
        .collect();
    rows.reverse();
    rows
}

async fn issue_for(app: &TestApp, patient: Value) -> Value {
    let (status, ticket) = app
        .call(
            "/api/v1/tickets",
            Some(json!({"service": "general", "source": "reception", "patient": patient})),
        )
        .await;
    assert_eq!(status, 201, "{ticket}");
    ticket
}

#[tokio::test]
async fn a_hindi_call_reaches_a_real_smtp_server_once_even_across_a_dead_line_and_a_restart() {
    let smtp_dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // The SMTP server is down at first: the line is dead.
    let app = TestApp::spawn_with(|c| smtp_config(c, port)).await;
    let ticket = issue_for(
        &app,
        json!({"name": "Asha Rao", "email": "asha@example.org", "language": "hi"}),
    )
    .await;
    let number = ticket["number"].as_str().unwrap().to_owned();
    let mut events = app.events("").await;
    app.next("room-2").await;
    let called = events.next_event("room_next").await;
    // The address is in the outbox only: not in the event stream or the audit trail.
    let (_, audit) = app.get_json("/api/v1/audit").await;
    for text in [called.to_string(), audit.to_string()] {
        assert!(!text.contains("asha@"), "{text}");
    }
    // Both messages are tried, fail, and wait for their next try with the reason.
    let page = wait_until(PATIENCE, "two failed tries", async || {
        let page = outbox(&app).await;
        let rows = page["notifications"].as_array().unwrap().clone();
        if rows.len() == 2 && rows.iter().all(|n| n["attempts"] == 1) {
            Ok(page)
        } else {
            Err(page.to_string())
        }
    })
    .await;
    for row in page["notifications"].as_array().unwrap() {
        assert_eq!(row["state"], "queued", "{row}");
        assert!(row["last_error"].as_str().unwrap().len() > 3, "{row}");
        assert_eq!(row["to"], "asha@example.org");
    }
    assert_eq!(page["transports"][0]["channel"], "email");
    let called_hi = page["templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["language"] == "hi" && t["kind"] == "called")
        .unwrap();
    assert_eq!(called_hi["text"], "टोकन {number}: कृपया अभी {room} में जाएँ।");
    assert_eq!(called_hi["segments"], 1);

    // Stopped before the retry: the rows wait in the database. The line comes back; after a
    // restart, and once the retry is due, each is delivered exactly once.
    let app = app.restart().await;
    let server = SmtpServer::start(smtp_dir.path(), port);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(
        server.received().is_empty(),
        "sent before its retry was due"
    );
    app.advance(jiff::SignedDuration::from_secs(61));
    wait_until(PATIENCE, "two emails", async || {
        server.received().len() == 2
    })
    .await;
    let received = server.received();
    let call = received
        .iter()
        .find(|m| m["body"].as_str().unwrap().contains("कमरा 2"))
        .unwrap_or_else(|| panic!("no call in {received:?}"));
    assert_eq!(call["to"], json!(["asha@example.org"]));
    assert_eq!(
        call["body"].as_str().unwrap().trim(),
        format!("टोकन {number}: कृपया अभी कमरा 2 में जाएँ।")
    );
    assert_eq!(call["subject"], format!("{number}: क्लिनिक में आपकी बारी"));
    eprintln!(
        "the call as the SMTP server received it:\n{}",
        call["raw"].as_str().unwrap()
    );
    assert_eq!(
        states(&app).await,
        ["issued/email/sent", "called/email/sent"]
    );

    // Another restart and more time: nothing is sent again.
    let app = app.restart().await;
    app.advance(jiff::SignedDuration::from_hours(1));
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(server.received().len(), 2);
    drop(app);
}

#[tokio::test]
async fn the_daily_cap_stops_messages_to_one_number_and_bad_contacts_are_refused() {
    let app = TestApp::spawn_with(|c| {
        c.notify.sms = "fake".to_owned();
        c.notify.daily_cap = 2;
        c.notify.poll_secs = 1;
    })
    .await;
    // Bad input: a refused request issues nothing and queues nothing.
    for (patient, needle) in [
        (
            json!({"phone": "+91 98450 12345", "email": "not-an-address"}),
            "email",
        ),
        (
            json!({"phone": "+91 98450 12345", "language": "fr"}),
            "language",
        ),
    ] {
        let (status, error) = app
            .call(
                "/api/v1/tickets",
                Some(json!({"service": "general", "patient": patient})),
            )
            .await;
        assert_eq!(status, 400, "{error}");
        assert!(
            error["error"]["message"].as_str().unwrap().contains(needle),
            "{error}"
        );
    }
    assert!(states(&app).await.is_empty());
    // A ticket without contact details queues nothing.
    app.issue("general", "normal").await;
    app.next("room-2").await;

    issue_for(&app, json!({"phone": "+91 98450 12345"})).await;
    app.next("room-1").await;
    let (status, body) = app.call("/api/v1/rooms/room-1/recall", None).await;
    assert_eq!(status, 200, "{body}");
    wait_until(PATIENCE, "the cap", async || {
        let seen = states(&app).await;
        (seen == ["issued/sms/sent", "called/sms/sent", "recalled/sms/failed"])
            .then_some(())
            .ok_or(format!("{seen:?}"))
    })
    .await;
    let page = outbox(&app).await;
    let failed = &page["notifications"][0];
    assert!(
        failed["last_error"].as_str().unwrap().contains("daily cap"),
        "{failed}"
    );

    // A resend of the capped one is capped again; an unknown key is a 404 that changes nothing.
    let key = failed["key"].as_str().unwrap();
    let (status, row) = app
        .call(&format!("/api/v1/notifications/{key}/resend"), None)
        .await;
    assert_eq!(status, 200, "{row}");
    assert_eq!(row["state"], "queued");
    wait_until(PATIENCE, "capped again", async || {
        outbox(&app).await["notifications"][0]["state"] == "failed"
    })
    .await;
    let (status, error) = app
        .call(
            "/api/v1/notifications/00000000000000000999.called.sms/resend",
            None,
        )
        .await;
    assert_eq!(status, 404, "{error}");
    // Only an admin sees the outbox.
    let r = app
        .anon
        .get(app.url("/api/v1/notifications"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // A day later the cap has room again: a resend goes out.
    app.advance(jiff::SignedDuration::from_hours(25));
    let (status, _) = app
        .call(&format!("/api/v1/notifications/{key}/resend"), None)
        .await;
    assert_eq!(status, 200);
    wait_until(PATIENCE, "sent after a day", async || {
        outbox(&app).await["notifications"][0]["state"] == "sent"
    })
    .await;
}

#[tokio::test]
async fn a_hindi_call_reaches_a_gsm_modem_as_ucs2_and_english_as_gsm7() {
    let modem = FakeModem::start();
    let path = modem.path.clone();
    let app = TestApp::spawn_with(|c| {
        c.notify.sms = format!("modem:{path}");
        c.notify.poll_secs = 1;
    })
    .await;
    let hindi = issue_for(&app, json!({"phone": "+91 98450 12345", "language": "hi"})).await;
    let english = issue_for(&app, json!({"phone": "98450 67890"})).await;
    app.next("room-2").await;
    wait_until(PATIENCE, "three messages on the modem", async || {
        modem.pdus().len() == 3
    })
    .await;
    let messages: Vec<(String, String)> = modem.pdus().iter().map(|p| decode_submit(p)).collect();
    for (pdu, (number, text)) in modem.pdus().iter().zip(&messages) {
        eprintln!("modem got {pdu}\n  = to {number}: {text}");
    }
    let hindi_number = hindi["number"].as_str().unwrap();
    let english_number = english["number"].as_str().unwrap();
    assert!(messages.contains(&(
        "+919845012345".to_owned(),
        format!("टोकन {hindi_number}: कृपया अभी कमरा 2 में जाएँ।")
    )));
    assert!(messages.contains(&(
        "9845067890".to_owned(),
        format!("Your token is {english_number}. We will send you a message when it is your turn.")
    )));
    wait_until(PATIENCE, "all sent", async || {
        let seen = states(&app).await;
        (seen == ["issued/sms/sent", "issued/sms/sent", "called/sms/sent"])
            .then_some(())
            .ok_or(format!("{seen:?}"))
    })
    .await;
}

/// A fake SMS gateway: a plain TCP listener that reads each HTTP request (head and body) and
/// answers with the next status of `answers` (then 200).
async fn fake_gateway(
    answers: Vec<u16>,
) -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/message?key=secret",
        listener.local_addr().unwrap()
    );
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = std::sync::Arc::clone(&seen);
    tokio::spawn(async move {
        let mut answers = answers.into_iter();
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            let (head, body) = loop {
                let n = socket.read(&mut buf).await.unwrap();
                assert!(n > 0, "the request ended early");
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).into_owned();
                if let Some(end) = text.find("\r\n\r\n") {
                    let head = text[..end].to_owned();
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        let body = request[end + 4..end + 4 + length].to_vec();
                        break (head, body);
                    }
                }
            };
            kept.lock()
                .unwrap()
                .push((head, serde_json::from_slice(&body).unwrap()));
            let status = answers.next().unwrap_or(200);
            let answer = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
            );
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    (url, seen)
}

#[tokio::test]
async fn an_http_sms_gateway_gets_the_json_template_retries_a_busy_answer_and_gives_up_on_a_refusal()
 {
    let (url, seen) = fake_gateway(vec![503, 200, 400]).await;
    let app = TestApp::spawn_with(|c| {
        c.notify.sms = "http".to_owned();
        c.notify.sms_http_url = url;
        c.notify.sms_http_auth = "Basic dXNlcjpwYXNz".to_owned();
        c.notify.poll_secs = 1;
        c.notify.retry_secs = 60;
    })
    .await;
    let ticket = issue_for(&app, json!({"phone": "+91 98450 12345", "language": "hi"})).await;
    let number = ticket["number"].as_str().unwrap().to_owned();
    // The first answer is 503: queued for a retry a minute later.
    wait_until(PATIENCE, "a retry", async || {
        outbox(&app).await["notifications"][0]["attempts"] == 1
    })
    .await;
    let row = outbox(&app).await["notifications"][0].clone();
    assert_eq!(row["state"], "queued", "{row}");
    assert_eq!(row["last_error"], "gateway answered 503");
    // The transport's description hides the URL's query.
    let transport = outbox(&app).await["transports"][0]["transport"].clone();
    assert!(!transport.to_string().contains("secret"), "{transport}");
    app.advance(jiff::SignedDuration::from_secs(61));
    wait_until(PATIENCE, "sent", async || {
        outbox(&app).await["notifications"][0]["state"] == "sent"
    })
    .await;
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 2);
    let (head, body) = &requests[1];
    assert!(
        head.starts_with("POST /message?key=secret HTTP/1.1"),
        "{head}"
    );
    assert!(head.contains("Basic dXNlcjpwYXNz"), "{head}");
    assert_eq!(
        body,
        &json!({"phoneNumbers": ["+91 98450 12345"],
                "message": format!("आपका टोकन {number} है। आपकी बारी आने पर हम आपको संदेश भेजेंगे।")})
    );
    // A refusal (400) is permanent: failed at the first try.
    app.next("room-2").await;
    wait_until(PATIENCE, "failed", async || {
        outbox(&app).await["notifications"][0]["state"] == "failed"
    })
    .await;
    let row = outbox(&app).await["notifications"][0].clone();
    assert_eq!(
        (row["kind"].clone(), row["attempts"].clone()),
        (json!("called"), json!(1))
    );
    assert_eq!(row["last_error"], "gateway answered 400");
}

#[tokio::test]
async fn a_transferred_patient_is_told_the_new_number_and_called_by_it_even_after_a_restart() {
    let app = TestApp::spawn_with(|c| {
        c.notify.sms = "fake".to_owned();
        c.notify.poll_secs = 1;
    })
    .await;
    let ticket = issue_for(&app, json!({"phone": "+91 98450 12345"})).await;
    let id = ticket["id"].as_u64().unwrap();
    let (status, moved) = app
        .call(
            &format!("/api/v1/tickets/{id}/transfer"),
            Some(json!({"service": "lab"})),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    // The new ticket's patient's details are its own row now: they survive a restart.
    let app = app.restart().await;
    app.next("lab").await;
    wait_until(PATIENCE, "three sent", async || {
        let seen = states(&app).await;
        (seen == ["issued/sms/sent", "transferred/sms/sent", "called/sms/sent"])
            .then_some(())
            .ok_or(format!("{seen:?}"))
    })
    .await;
    let page = outbox(&app).await;
    let rows = page["notifications"].as_array().unwrap();
    // rows: newest first. The transfer's and the call's are about the new ticket.
    assert_eq!(rows[2]["ticket"], id);
    assert_ne!(rows[1]["ticket"], id, "{page}");
    assert_eq!(rows[0]["ticket"], rows[1]["ticket"]);
    let new_number = rows[1]["params"][0][1].as_str().unwrap();
    assert_eq!(rows[1]["params"][1], json!(["service", "Laboratory"]));
    assert_eq!(
        rows[0]["params"],
        json!([["number", new_number], ["room", "Lab counter"]])
    );
}

#[tokio::test]
async fn a_kill_9_between_the_commit_and_the_send_loses_nothing_and_sends_nothing_twice() {
    use nix::sys::signal::{Signal, kill};
    let dir = tempfile::tempdir().unwrap();
    let config = crate::common::test_config(dir.path());
    let token = crate::common::provision(
        &config,
        &waitless::clock::ManualClock::new(crate::common::START.parse().unwrap()),
    );
    let port = free_port();
    let port_text = port.to_string();
    let env = [
        ("WAITLESS_NOTIFY__EMAIL", "smtp"),
        ("WAITLESS_NOTIFY__SMTP_HOST", "127.0.0.1"),
        ("WAITLESS_NOTIFY__SMTP_PORT", port_text.as_str()),
        ("WAITLESS_NOTIFY__SMTP_SECURITY", "none"),
        ("WAITLESS_NOTIFY__EMAIL_FROM", "queue@clinic.example"),
        ("WAITLESS_NOTIFY__POLL_SECS", "1"),
        ("WAITLESS_NOTIFY__RETRY_SECS", "1"),
    ];
    // The real binary, durable commits; the SMTP server is not up yet, so nothing can be sent.
    let mut server = crate::binary::Server::start_with(dir.path(), &[], &env).await;
    let client = crate::common::client_with(&token);
    let r = client
        .post(server.url("/api/v1/tickets"))
        .json(&json!({"service": "general", "source": "reception",
                      "patient": {"name": "Asha", "email": "asha@example.org"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // Acknowledged: committed with its message. Killed at once.
    kill(server.process.pid(), Signal::SIGKILL).unwrap();
    server
        .process
        .wait_exit(crate::binary::PROCESS_PATIENCE)
        .await;

    let smtp = SmtpServer::start(dir.path(), port);
    let server = crate::binary::Server::start_with(dir.path(), &[], &env).await;
    wait_until(crate::binary::PROCESS_PATIENCE, "the email", async || {
        smtp.received().len() == 1
    })
    .await;
    // Several more polls and a restart: still one.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let (status, _) = server.stop().await;
    assert!(status.success(), "{status}");
    let server = crate::binary::Server::start_with(dir.path(), &[], &env).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(smtp.received().len(), 1, "{:?}", smtp.received());
    assert_eq!(smtp.received()[0]["to"], json!(["asha@example.org"]));
    let page: Value = client
        .get(server.url("/api/v1/notifications"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["notifications"][0]["state"], "sent", "{page}");
}

#[tokio::test]
async fn a_waiting_patient_is_told_once_when_few_are_ahead() {
    let app = TestApp::spawn_with(|c| {
        c.notify.sms = "fake".to_owned();
        c.notify.near_ahead = 2;
        c.notify.poll_secs = 1;
    })
    .await;
    for _ in 0..4 {
        app.issue("general", "normal").await;
    }
    let ticket = issue_for(&app, json!({"phone": "+91 98450 12345", "language": "hi"})).await;
    let number = ticket["number"].as_str().unwrap().to_owned();
    // 4 ahead, then 3: nothing; then 2: told; then 1 and 0: nothing more.
    for (i, room) in ["room-1", "room-2", "room-1", "room-2"].iter().enumerate() {
        app.advance(jiff::SignedDuration::from_secs(3));
        app.next(room).await;
        if i == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            assert_eq!(states(&app).await, ["issued/sms/sent"]);
        }
    }
    wait_until(PATIENCE, "near sent", async || {
        let seen = states(&app).await;
        (seen == ["issued/sms/sent", "near/sms/sent"])
            .then_some(())
            .ok_or(format!("{seen:?}"))
    })
    .await;
    let page = outbox(&app).await;
    let near = &page["notifications"][0];
    assert_eq!(near["params"], json!([["number", number], ["ahead", "2"]]));
    // Told survives a restart: an event while it still waits, then its call, add no "near".
    let app = app.restart().await;
    app.issue("general", "normal").await;
    app.advance(jiff::SignedDuration::from_secs(3));
    app.next("room-1").await;
    wait_until(PATIENCE, "the call", async || {
        let seen = states(&app).await;
        (seen == ["issued/sms/sent", "near/sms/sent", "called/sms/sent"])
            .then_some(())
            .ok_or(format!("{seen:?}"))
    })
    .await;
}
