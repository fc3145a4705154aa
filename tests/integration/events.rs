//! The WebSocket event stream `/api/v1/events` over real connections: snapshot, events in
//! order, replay with `since`, fan-out, client messages, heartbeat, and shutdown.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use futures_util::{SinkExt, StreamExt};
use jiff::SignedDuration;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::common::{PATIENCE, TestApp, WsClient, wait_until};

/// The next message, asserting it is the snapshot; returns it.
async fn snapshot(ws: &mut WsClient) -> Value {
    let msg = ws.next_json().await;
    assert_eq!(msg["type"], "snapshot", "{msg}");
    msg
}

/// The next message, asserting it is an event; returns the event.
async fn event(ws: &mut WsClient) -> Value {
    let msg = ws.next_json().await;
    assert_eq!(msg["type"], "event", "{msg}");
    let keys: Vec<&String> = msg.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 2, "only type and event expected: {msg}");
    msg["event"].clone()
}

fn seq(value: &Value) -> u64 {
    value["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("no seq in {value}"))
}

/// Issues `n` general tickets, many at a time.
async fn issue_many(app: &TestApp, n: usize) {
    let mut left = n;
    while left > 0 {
        let batch = left.min(64);
        join_all((0..batch).map(|_| app.issue("general", "normal"))).await;
        left -= batch;
    }
}

#[tokio::test]
async fn connect_gets_a_snapshot_then_every_event_in_order() {
    let app = TestApp::spawn().await;
    let mut ws = app.events("").await;
    let snap = snapshot(&mut ws).await;
    let (_, queue) = app.get_json("/api/v1/queue").await;
    let k = seq(&snap);
    assert_eq!(k, seq(&queue));
    assert_eq!(snap["queue"], queue, "the snapshot is the queue at its seq");

    let a = app.issue("general", "normal").await;
    let b = app.issue("lab", "urgent").await;
    let next = app.next("room-1").await;

    let issued = event(&mut ws).await;
    assert_eq!(seq(&issued), k + 1);
    assert_eq!(issued["kind"], "ticket_issued");
    assert_eq!(issued["source"], "api");
    assert!(issued["actor"].is_string());
    assert!(issued["at"].is_string());
    assert_eq!(issued["ticket"]["id"], a["id"]);
    assert_eq!(issued["ticket"]["number"], "A001");
    assert_eq!(issued["ticket"]["state"], "waiting");

    let issued = event(&mut ws).await;
    assert_eq!(seq(&issued), k + 2);
    assert_eq!(issued["kind"], "ticket_issued");
    assert_eq!(issued["ticket"]["id"], b["id"]);
    assert_eq!(issued["ticket"]["priority"], "urgent");

    let called = event(&mut ws).await;
    assert_eq!(seq(&called), k + 3);
    assert_eq!(called["kind"], "room_next");
    assert_eq!(called["room"], "room-1");
    assert_eq!(called["called"]["id"], a["id"]);
    assert_eq!(called["called"]["state"], "called");
    assert_eq!(called["finished"], Value::Null);
    assert_eq!(called["reason"], next["reason"]);
    assert_eq!(called["passed_over"], json!([]));
    assert_eq!(seq(&app.queue().await), k + 3);
}

#[tokio::test]
async fn every_command_publishes_its_event_without_gaps() {
    let app = TestApp::spawn().await;
    let mut ws = app.events("").await;
    let k = seq(&snapshot(&mut ws).await);

    let a = app.issue("general", "normal").await;
    let b = app.issue("general", "normal").await;
    let c = app.issue("general", "normal").await;
    app.next("room-1").await; // calls a
    app.call("/api/v1/rooms/room-1/recall", None).await;
    app.call("/api/v1/rooms/room-1/done", None).await;
    app.advance(SignedDuration::from_secs(3));
    app.next("room-1").await; // calls b
    app.call("/api/v1/rooms/room-1/no-show", None).await;
    let b_id = b["id"].as_u64().unwrap();
    app.call(&format!("/api/v1/tickets/{b_id}/requeue"), None)
        .await;
    let c_id = c["id"].as_u64().unwrap();
    app.call(&format!("/api/v1/tickets/{c_id}/cancel"), None)
        .await;
    let (status, moved) = app
        .call(
            &format!("/api/v1/tickets/{b_id}/transfer"),
            Some(json!({"service": "lab"})),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    app.call("/api/v1/rooms/room-2/close", None).await;
    app.call("/api/v1/rooms/room-2/open", None).await;
    app.next("lab").await; // calls the transferred b
    let (status, undone) = app.call("/api/v1/rooms/lab/undo", None).await;
    assert_eq!(status, 200, "{undone}");

    let expected = [
        "ticket_issued",
        "ticket_issued",
        "ticket_issued",
        "room_next",
        "ticket_recalled",
        "ticket_done",
        "room_next",
        "ticket_no_show",
        "ticket_requeued",
        "ticket_cancelled",
        "ticket_transferred",
        "room_closed",
        "room_opened",
        "room_next",
        "next_undone",
    ];
    let mut events = Vec::new();
    for (i, kind) in expected.iter().enumerate() {
        let e = event(&mut ws).await;
        assert_eq!(seq(&e), k + 1 + i as u64, "{e}");
        assert_eq!(e["kind"], *kind, "{e}");
        events.push(e);
    }
    assert_eq!(events[4]["ticket"]["id"], a["id"]);
    assert_eq!(events[4]["ticket"]["recall_count"], 1);
    assert_eq!(events[6]["called"]["id"], b["id"]);
    assert_eq!(events[10]["from"]["id"], b["id"]);
    assert_eq!(events[10]["to"]["id"], moved["to"]["id"]);
    assert_eq!(events[10]["to"]["number"], "A002");
    assert_eq!(events[11]["room"], "room-2");
    assert_eq!(events[13]["room"], "lab");
    assert_eq!(events[14]["restored"][0]["id"], moved["to"]["id"]);
    assert_eq!(events[14]["restored"][0]["state"], "waiting");
    assert_eq!(seq(&app.queue().await), k + expected.len() as u64);
}

#[tokio::test]
async fn commands_that_change_nothing_publish_nothing() {
    let app = TestApp::spawn().await;
    let mut ws = app.events("").await;
    let k = seq(&snapshot(&mut ws).await);
    // nobody waiting: "next" changes nothing
    assert_eq!(app.next("room-1").await["called"], Value::Null);
    let a = app.issue("general", "normal").await;
    app.next("room-1").await;
    // a double press, an unknown service, a replayed key, an idle room, a closed room
    assert_eq!(app.next("room-1").await["debounced"], true);
    let (status, _) = app
        .call("/api/v1/tickets", Some(json!({"service": "nope"})))
        .await;
    assert_eq!(status, 404);
    let (status, _) = app.call("/api/v1/rooms/lab/done", None).await;
    assert_eq!(status, 409);
    let (status, _) = app.call("/api/v1/rooms/room-1/open", None).await;
    assert_eq!(status, 200);
    for _ in 0..2 {
        let r = app
            .client
            .post(app.url("/api/v1/tickets"))
            .header("Idempotency-Key", "same")
            .json(&json!({"service": "lab"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }

    let issued = event(&mut ws).await;
    assert_eq!((seq(&issued), &issued["ticket"]["id"]), (k + 1, &a["id"]));
    assert_eq!(event(&mut ws).await["kind"], "room_next");
    let keyed = event(&mut ws).await;
    assert_eq!(seq(&keyed), k + 3, "{keyed}");
    assert_eq!(keyed["kind"], "ticket_issued");
    assert_eq!(keyed["ticket"]["service"], "lab");
    // The key stays private: sending it again would answer with the ticket and its link.
    assert!(keyed.get("idempotency_key").is_none(), "{keyed}");
    // nothing else in between: the next change is the next event
    app.call("/api/v1/rooms/room-2/close", None).await;
    let closed = event(&mut ws).await;
    assert_eq!(
        (seq(&closed), closed["kind"].as_str()),
        (k + 4, Some("room_closed"))
    );
}

#[tokio::test]
async fn reconnect_with_since_gets_exactly_the_missed_events() {
    let app = TestApp::spawn().await;
    let mut ws = app.events("").await;
    let k = seq(&snapshot(&mut ws).await);
    for _ in 0..3 {
        app.issue("general", "normal").await;
    }
    for i in 1..=3 {
        assert_eq!(seq(&event(&mut ws).await), k + i);
    }
    drop(ws); // the display loses its Wi-Fi
    let missed_a = app.issue("lab", "normal").await;
    let missed_b = app.next("room-1").await;

    let mut again = app.events(&format!("?since={}", k + 3)).await;
    let first = event(&mut again).await;
    assert_eq!(seq(&first), k + 4);
    assert_eq!(first["ticket"]["id"], missed_a["id"]);
    let second = event(&mut again).await;
    assert_eq!(seq(&second), k + 5);
    assert_eq!(second["called"]["id"], missed_b["called"]["id"]);
    let live = app.issue("general", "urgent").await;
    let third = event(&mut again).await;
    assert_eq!(seq(&third), k + 6);
    assert_eq!(third["ticket"]["id"], live["id"]);

    // an older `since` replays from there
    let mut older = app.events(&format!("?since={k}")).await;
    for i in 1..=6 {
        assert_eq!(seq(&event(&mut older).await), k + i);
    }
    // since=0 replays the whole log, the clinic's seeding first
    let mut all = app.events("?since=0").await;
    let seeded = event(&mut all).await;
    assert_eq!(seq(&seeded), 1);
    assert_eq!(seeded["kind"], "clinic_seeded");
}

#[tokio::test]
async fn since_at_the_current_seq_gets_nothing_until_the_next_event() {
    let app = TestApp::spawn().await;
    app.issue("general", "normal").await;
    let k = seq(&app.queue().await);
    let mut ws = app.events(&format!("?since={k}")).await;
    // anything sent on connect would come before the answer to a ping
    ws.send_text(r#"{"type":"ping"}"#).await;
    assert_eq!(ws.next_json().await, json!({"type": "pong"}));
    app.issue("general", "normal").await;
    let e = event(&mut ws).await;
    assert_eq!(seq(&e), k + 1);
    assert_eq!(e["kind"], "ticket_issued");
}

#[tokio::test]
async fn since_in_the_future_gets_a_snapshot() {
    let app = TestApp::spawn().await;
    app.issue("general", "normal").await;
    let k = seq(&app.queue().await);
    let mut ws = app.events(&format!("?since={}", k + 100)).await;
    let snap = snapshot(&mut ws).await;
    assert_eq!(seq(&snap), k);
    // the snapshot counts the waiting tickets, it does not list them
    assert_eq!(snap["queue"]["counts"][0]["service"], "general");
    assert_eq!(snap["queue"]["counts"][0]["waiting"], 1);
    assert!(snap["queue"].get("waiting").is_none(), "{snap}");
    app.issue("general", "normal").await;
    assert_eq!(seq(&event(&mut ws).await), k + 1);
}

#[tokio::test]
async fn since_older_than_the_replay_buffer_gets_a_snapshot() {
    let app = TestApp::spawn().await;
    issue_many(&app, waitless::hub::REPLAY_CAPACITY + 10).await;
    let k = seq(&app.queue().await);
    assert!(k > waitless::hub::REPLAY_CAPACITY as u64 + 1);

    let mut ws = app.events("?since=1").await;
    let snap = snapshot(&mut ws).await;
    assert_eq!(seq(&snap), k);
    let waiting: u64 = snap["queue"]["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["waiting"].as_u64().unwrap())
        .sum();
    assert_eq!(waiting, waitless::hub::REPLAY_CAPACITY as u64 + 10);
    app.call("/api/v1/rooms/lab/close", None).await;
    assert_eq!(seq(&event(&mut ws).await), k + 1);

    // what is still in memory is replayed
    let mut recent = app.events(&format!("?since={}", k - 10)).await;
    for i in 0..11 {
        assert_eq!(seq(&event(&mut recent).await), k - 9 + i);
    }
}

#[tokio::test]
async fn client_that_reads_late_still_sees_a_consistent_stream() {
    // A client that does not read does not answer pings either: a long heartbeat keeps the
    // server from dropping it as silent meanwhile.
    let app = TestApp::spawn_with(|config| config.http.ws_heartbeat_secs = 600).await;
    let mut slow = app.events("").await;
    // more events than the hub's broadcast channel holds
    issue_many(&app, waitless::hub::BROADCAST_CAPACITY + 100).await;
    let last = seq(&app.queue().await);
    // Now read: events follow each other without gaps; a snapshot (sent when a client falls
    // too far behind) restarts the count at its seq.
    let mut at = None::<u64>;
    while at != Some(last) {
        let msg = slow.next_json().await;
        match msg["type"].as_str() {
            Some("snapshot") => {
                let s = seq(&msg);
                assert!(
                    at.is_none_or(|a| s >= a),
                    "a snapshot went back: {s} after {at:?}"
                );
                at = Some(s);
            }
            Some("event") => {
                let s = seq(&msg["event"]);
                if let Some(a) = at {
                    assert_eq!(s, a + 1, "gap or duplicate in the stream");
                }
                at = Some(s);
            }
            other => panic!("unexpected message {other:?}"),
        }
    }
    app.call("/api/v1/rooms/lab/close", None).await;
    assert_eq!(seq(&event(&mut slow).await), last + 1);
}

#[tokio::test]
async fn since_that_is_not_a_number_is_refused_before_the_upgrade() {
    let app = TestApp::spawn().await;
    for query in ["?since=abc", "?since=-1", "?since="] {
        let url = app.ws_url(&format!("/api/v1/events{query}"));
        match tokio_tungstenite::connect_async(url).await {
            Err(tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 400, "{query}");
                if let Some(body) = response.body() {
                    let body: Value = serde_json::from_slice(body).unwrap();
                    assert_eq!(body["error"]["code"], "invalid-query", "{query}: {body}");
                }
            }
            Err(other) => panic!("{query}: expected HTTP 400, got {other}"),
            Ok(_) => panic!("{query}: the upgrade was accepted"),
        }
    }
    let (status, body) = app.get_json("/api/v1/events?since=abc").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid-query");
}

#[tokio::test]
async fn twenty_clients_all_receive_the_same_events() {
    let app = TestApp::spawn().await;
    let mut clients = join_all((0..20).map(|_| app.events(""))).await;
    let k = seq(&app.queue().await);
    for ws in &mut clients {
        assert_eq!(seq(&snapshot(ws).await), k);
    }
    app.issue("general", "priority").await;
    app.next("room-2").await;
    let mut seen = Vec::new();
    for ws in &mut clients {
        seen.push((event(ws).await, event(ws).await));
    }
    let first = &seen[0];
    assert_eq!(seq(&first.0), k + 1);
    assert_eq!(first.0["kind"], "ticket_issued");
    assert_eq!(seq(&first.1), k + 2);
    assert_eq!(first.1["kind"], "room_next");
    for other in &seen[1..] {
        assert_eq!(other, first);
    }
}

#[tokio::test]
async fn bad_client_messages_get_an_error_and_the_connection_stays_open() {
    let app = TestApp::spawn().await;
    let mut ws = app.events("").await;
    snapshot(&mut ws).await;
    let texts = [
        "hello",
        "",
        "{}",
        r#"{"type":"hello"}"#,
        r#"{"type":"pong"}"#,
        r#"{"type":"snapshot","seq":1}"#,
        "[1,2,3]",
    ];
    for text in texts {
        ws.send_text(text).await;
        let reply = ws.next_json().await;
        assert_eq!(reply["type"], "error", "{text:?}: {reply}");
        assert_eq!(reply["error"]["code"], "bad-message", "{text:?}: {reply}");
        assert!(
            !reply["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .is_empty(),
            "{reply}"
        );
    }
    ws.stream
        .send(Message::binary(vec![0u8, 1, 2, 255]))
        .await
        .unwrap();
    let reply = ws.next_json().await;
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["error"]["code"], "bad-message");

    // still open: pings are answered and events arrive
    ws.send_text(r#"{"type":"ping"}"#).await;
    assert_eq!(ws.next_json().await, json!({"type": "pong"}));
    app.issue("general", "normal").await;
    assert_eq!(event(&mut ws).await["kind"], "ticket_issued");
}

#[tokio::test]
async fn client_ping_gets_a_pong() {
    let app = TestApp::spawn().await;
    let mut ws = app.events("").await;
    snapshot(&mut ws).await;
    for _ in 0..3 {
        ws.send_text(r#"{"type":"ping"}"#).await;
        assert_eq!(ws.next_json().await, json!({"type": "pong"}));
    }
}

#[tokio::test]
async fn server_sends_heartbeat_pings() {
    let app = TestApp::spawn().await;
    assert_eq!(app.config.http.ws_heartbeat_secs, 1);
    let mut ws = app.events("").await;
    let mut pings = 0;
    wait_until(PATIENCE, "two heartbeat pings", async || {
        let msg = ws
            .stream
            .next()
            .await
            .expect("WebSocket closed")
            .expect("WebSocket error");
        match msg {
            Message::Ping(_) => pings += 1,
            Message::Text(_) => {}
            other => panic!("unexpected message {other:?}"),
        }
        if pings >= 2 {
            Ok(())
        } else {
            Err(format!("{pings} pings"))
        }
    })
    .await;
}

/// A WebSocket client that never answers anything: returns the opcodes of the frames it got
/// until the server closed the connection, and how long that took.
fn silent_client(addr: SocketAddr) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    write!(
        writer,
        "GET /api/v1/events HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.contains(" 101 "), "no upgrade: {status}");
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
    }
    let mut opcodes = Vec::new();
    loop {
        assert!(
            started.elapsed() < PATIENCE,
            "the silent client was never dropped: {opcodes:?}"
        );
        let mut head = [0u8; 2];
        if reader.read_exact(&mut head).is_err() {
            // closed without a Close frame
            return (opcodes, started.elapsed());
        }
        let opcode = head[0] & 0x0f;
        assert_eq!(head[1] & 0x80, 0, "server frames are not masked");
        let len = match head[1] & 0x7f {
            126 => {
                let mut b = [0u8; 2];
                reader.read_exact(&mut b).unwrap();
                u64::from(u16::from_be_bytes(b))
            }
            127 => {
                let mut b = [0u8; 8];
                reader.read_exact(&mut b).unwrap();
                u64::from_be_bytes(b)
            }
            n => u64::from(n),
        };
        let mut payload = vec![0u8; usize::try_from(len).unwrap()];
        reader.read_exact(&mut payload).unwrap();
        opcodes.push(opcode);
        if opcode == 0x8 {
            return (opcodes, started.elapsed());
        }
    }
}

#[tokio::test]
async fn client_that_never_answers_pings_is_dropped() {
    let app = TestApp::spawn().await;
    let addr = app.addr;
    let (opcodes, took) = tokio::task::spawn_blocking(move || silent_client(addr))
        .await
        .unwrap();
    assert_eq!(
        opcodes.first(),
        Some(&0x1),
        "the snapshot comes first: {opcodes:?}"
    );
    assert!(
        opcodes.contains(&0x9),
        "pinged before being dropped: {opcodes:?}"
    );
    assert_eq!(
        opcodes.last(),
        Some(&0x8),
        "dropped with a Close frame: {opcodes:?}"
    );
    let heartbeat = Duration::from_secs(app.config.http.ws_heartbeat_secs);
    assert!(took >= heartbeat * 2, "dropped too early, after {took:?}");
}

#[tokio::test]
async fn client_that_answers_pings_is_kept() {
    let app = TestApp::spawn().await;
    let mut ws = app.events("").await;
    snapshot(&mut ws).await;
    // Read (tungstenite answers the pings) for longer than the drop timeout of three
    // heartbeats: the connection must stay open.
    let heartbeat = Duration::from_secs(app.config.http.ws_heartbeat_secs);
    let until = tokio::time::Instant::now() + heartbeat * 4 + Duration::from_millis(500);
    loop {
        match tokio::time::timeout_at(until, ws.stream.next()).await {
            Err(_) => break,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            // The device list sent after the snapshot.
            Ok(Some(Ok(Message::Text(text)))) if text.starts_with(r#"{"type":"devices""#) => {}
            Ok(other) => panic!("unexpected {other:?}"),
        }
    }
    ws.send_text(r#"{"type":"ping"}"#).await;
    assert_eq!(ws.next_json().await, json!({"type": "pong"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_stop_closes_websocket_clients() {
    let app = TestApp::spawn().await;
    let mut clients = join_all((0..3).map(|_| app.events(""))).await;
    for ws in &mut clients {
        snapshot(ws).await;
    }
    // Every client reads until its Close frame while the server stops.
    let readers = join_all(clients.iter_mut().map(|ws| {
        wait_until(PATIENCE, "a Close frame", async || {
            match ws.stream.next().await {
                Some(Ok(Message::Close(frame))) => Ok(frame),
                Some(Ok(other)) => Err(format!("{other:?}")),
                other => panic!("the connection ended without a Close frame: {other:?}"),
            }
        })
    }));
    let runtime = tokio::runtime::Handle::current();
    let stopping = tokio::task::spawn_blocking(move || runtime.block_on(app.stop()));
    let (frames, stopped) = tokio::join!(readers, stopping);
    stopped.unwrap().expect("waitless stopped cleanly");
    for frame in frames {
        let frame = frame.expect("a Close frame with a code");
        assert_eq!(u16::from(frame.code), 1012, "service restart: {frame:?}");
    }
}

#[tokio::test]
async fn new_clinic_day_reaches_the_displays_without_any_request() {
    let app = TestApp::spawn().await;
    let left = app.issue("general", "normal").await;
    let mut ws = app.events("").await;
    let k = seq(&snapshot(&mut ws).await);
    app.advance(SignedDuration::from_hours(24));
    let closed = event(&mut ws).await;
    assert_eq!(seq(&closed), k + 1);
    assert_eq!(closed["kind"], "day_closed");
    assert_eq!(closed["day"], "2026-11-21");
    assert_eq!(closed["new_day"], "2026-11-22");
    assert_eq!(closed["source"], "system");
    // The stream counts the tickets it closed (a hospital's day would be megabytes to every
    // screen); the audit trail names them.
    assert_eq!(closed["closed"], 1, "{closed}");
    let (_, audit) = app.get_json("/api/v1/audit?kind=day_closed").await;
    let entry = audit["events"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["kind"] == "day_closed"))
        .unwrap_or_else(|| panic!("no day_closed in {audit}"));
    let tickets = entry["closed"].as_array().unwrap();
    assert_eq!(tickets.len(), 1, "{entry}");
    assert_eq!(tickets[0]["id"], left["id"]);
    assert_eq!(tickets[0]["state"], "cancelled");
    assert_eq!(tickets[0]["cancel_reason"], "unattended");
}

#[tokio::test]
async fn reconnect_after_a_restart_replays_what_was_missed() {
    let app = TestApp::spawn().await;
    app.issue("general", "normal").await;
    let k = seq(&app.queue().await);
    let app = app.restart().await;
    let missed = app.issue("lab", "normal").await;
    let mut ws = app.events(&format!("?since={k}")).await;
    let e = event(&mut ws).await;
    assert_eq!(seq(&e), k + 1);
    assert_eq!(e["ticket"]["id"], missed["id"]);
    app.issue("general", "normal").await;
    assert_eq!(seq(&event(&mut ws).await), k + 2);
}

#[tokio::test]
async fn oversized_client_message_closes_only_that_connection() {
    let app = TestApp::spawn().await;
    let mut big = app.events("").await;
    let mut other = app.events("").await;
    snapshot(&mut big).await;
    snapshot(&mut other).await;
    let huge = format!(
        "{{\"type\":\"ping\",\"pad\":\"{}\"}}",
        "x".repeat(1024 * 1024)
    );
    // the server may close while the frame is still being sent
    let _ = big.stream.send(Message::text(huge)).await;
    wait_until(PATIENCE, "an answer to the oversized message", async || {
        match big.stream.next().await {
            Some(Ok(Message::Close(frame))) => {
                if let Some(frame) = frame {
                    let code = u16::from(frame.code);
                    assert!(code == 1002 || code == 1009, "close code {code}");
                }
                Ok(())
            }
            // closed with the rest of the frame unread: a reset is fine too
            None | Some(Err(_)) => Ok(()),
            Some(Ok(Message::Text(text))) => {
                let reply: Value = serde_json::from_str(&text).unwrap();
                if reply["type"] == "error" {
                    return Ok(());
                }
                if reply["type"] == "devices" || reply["type"] == "device" {
                    return Err(reply.to_string());
                }
                panic!("unexpected answer {reply}");
            }
            Some(Ok(other)) => Err(format!("{other:?}")),
        }
    })
    .await;
    app.issue("general", "normal").await;
    assert_eq!(event(&mut other).await["kind"], "ticket_issued");
}

/// Opens `/api/v1/events` over a raw socket and reads the handshake answer.
async fn raw_events_socket(addr: SocketAddr) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /api/v1/events HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        assert_eq!(
            stream.read(&mut byte).await.unwrap(),
            1,
            "closed during the handshake"
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101 "), "no upgrade: {head}");
    stream
}

#[tokio::test]
async fn frame_declaring_a_terabyte_closes_the_connection_at_once() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    let mut other = app.events("").await;
    snapshot(&mut other).await;
    let stream = raw_events_socket(app.addr).await;
    let (mut reader, mut writer) = stream.into_split();
    // A masked text frame declaring 2^40 bytes, then data for as long as the server reads it.
    let mut header = vec![0x81, 0x80 | 127];
    header.extend_from_slice(&(1u64 << 40).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    let started = Instant::now();
    let sender = tokio::spawn(async move {
        let mut sent = 0usize;
        if writer.write_all(&header).await.is_err() {
            return sent;
        }
        let chunk = vec![b'x'; 64 * 1024];
        while started.elapsed() < Duration::from_secs(5) {
            if writer.write_all(&chunk).await.is_err() {
                break;
            }
            sent += chunk.len();
        }
        sent
    });
    // Whatever the server sent before (snapshot, devices), it ends the connection.
    let closed = tokio::time::timeout(Duration::from_secs(3), async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the server kept reading the oversized frame for 3 s"
    );
    let sent = sender.await.unwrap();
    assert!(
        sent < 16 * 1024 * 1024,
        "the server read {sent} bytes of the frame before closing"
    );
    app.issue("general", "normal").await;
    assert_eq!(event(&mut other).await["kind"], "ticket_issued");
}
