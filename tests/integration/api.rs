//! The JSON API over real HTTP: every route, idempotency, the next-ticket order, the room
//! actions, bad input, the OpenAPI document and the clinic day.

use std::io::{Read, Write};
use std::net::TcpStream;

use futures_util::future::join_all;
use jiff::SignedDuration;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::common::{PATIENCE, TestApp, wait_until};

/// A ticket's id.
fn id(ticket: &Value) -> u64 {
    ticket["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("no id in {ticket}"))
}

/// Moves the clock past the debounce window, so the next "next" counts.
fn past_debounce(app: &TestApp) {
    let ms = i64::try_from(app.config.queue.debounce_ms).unwrap();
    app.advance(SignedDuration::from_millis(ms + 1_000));
}

/// Sends any request; returns status, headers and body text.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &[u8])],
    body: Option<Vec<u8>>,
) -> (u16, HeaderMap, String) {
    let mut request = app.client.request(method, app.url(path));
    for (name, value) in headers {
        request = request.header(
            *name,
            reqwest::header::HeaderValue::from_bytes(value).unwrap(),
        );
    }
    if let Some(body) = body {
        // JSON unless the case says otherwise
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            request = request.header("Content-Type", "application/json");
        }
        request = request.body(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

/// Asserts the JSON error shape `{"error":{"code":..,"message":..}}` with `code`.
fn assert_error_body(text: &str, code: &str, context: &str) {
    let body: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("{context}: error body is not JSON ({e}): {text}"));
    let outer = body
        .as_object()
        .unwrap_or_else(|| panic!("{context}: {body}"));
    assert_eq!(outer.len(), 1, "{context}: only `error` expected: {body}");
    let error = body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("{context}: no error object: {body}"));
    assert_eq!(
        error.len(),
        2,
        "{context}: only code and message expected: {body}"
    );
    assert_eq!(body["error"]["code"], code, "{context}: {body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        !message.trim().is_empty(),
        "{context}: empty message: {body}"
    );
}

/// Numbers of the waiting tickets in the queue snapshot, in order.
fn waiting_numbers(queue: &Value) -> Vec<String> {
    queue["waiting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["number"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn issue_then_next_calls_the_ticket() {
    let app = TestApp::spawn().await;
    let ticket = app.issue("general", "normal").await;
    assert_eq!(ticket["number"], "A001");
    assert_eq!(ticket["state"], "waiting");
    assert_eq!(ticket["position"], 0);
    let next = app.next("room-1").await;
    assert_eq!(next["called"]["id"], ticket["id"]);
    assert_eq!(next["called"]["state"], "called");
    assert_eq!(next["debounced"], false);
    let (status, body) = app
        .call("/api/v1/tickets", Some(json!({"service": "nope"})))
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "service-not-found");
}

#[tokio::test]
async fn services_lists_the_clinic_services() {
    let app = TestApp::spawn().await;
    let (status, services) = app.get_json("/api/v1/services").await;
    assert_eq!(status, 200);
    let services = services.as_array().unwrap();
    assert_eq!(services.len(), 2, "{services:?}");
    let general = services.iter().find(|s| s["id"] == "general").unwrap();
    assert_eq!(general["name"], "General OPD");
    assert_eq!(general["prefix"], "A");
    assert_eq!(general["active"], true);
    let lab = services.iter().find(|s| s["id"] == "lab").unwrap();
    assert_eq!(lab["prefix"], "L");
}

#[tokio::test]
async fn rooms_show_whom_they_would_call_next_and_why() {
    let app = TestApp::spawn().await;
    let (status, rooms) = app.get_json("/api/v1/rooms").await;
    assert_eq!(status, 200);
    assert_eq!(rooms.as_array().unwrap().len(), 3);
    let idle = app.room("room-1").await;
    assert_eq!(idle["name"], "Room 1");
    assert_eq!(idle["services"], json!(["general"]));
    assert_eq!(idle["open"], true);
    assert_eq!(idle["serving"], Value::Null);
    assert_eq!(idle["next_up"], Value::Null);
    assert_eq!(idle["waiting"], 0);
    assert_eq!(idle["service_minutes"], 8.0);

    let normal = app.issue("general", "normal").await;
    let urgent = app.issue("general", "urgent").await;
    let room1 = app.room("room-1").await;
    assert_eq!(room1["waiting"], 2);
    assert_eq!(room1["next_up"]["ticket"], urgent["id"]);
    assert_eq!(room1["next_up"]["number"], "A002");
    assert_eq!(
        room1["next_up"]["reason"],
        json!({"rule": "highest_class", "class": "urgent"})
    );
    // the lab counter does not serve general tickets
    let lab = app.room("lab").await;
    assert_eq!(lab["next_up"], Value::Null);
    assert_eq!(lab["waiting"], 0);

    app.next("room-1").await;
    let room1 = app.room("room-1").await;
    assert_eq!(room1["serving"]["id"], urgent["id"]);
    assert_eq!(room1["serving"]["state"], "called");
    assert_eq!(room1["next_up"]["ticket"], normal["id"]);
    assert!(room1["undo_until"].is_string(), "{room1}");
}

#[tokio::test]
async fn queue_seq_grows_with_every_change() {
    let app = TestApp::spawn().await;
    let start = app.queue().await;
    let seq0 = start["seq"].as_u64().unwrap();
    assert!(seq0 >= 1, "the seeded clinic is event 1: {start}");
    assert_eq!(start["day"], "2026-11-21");
    assert_eq!(start["services"].as_array().unwrap().len(), 2);
    assert_eq!(start["rooms"].as_array().unwrap().len(), 3);
    assert_eq!(start["waiting"], json!([]));
    assert_eq!(start["recent_calls"], json!([]));

    let a = app.issue("general", "normal").await;
    assert_eq!(app.queue().await["seq"], seq0 + 1);
    app.issue("lab", "normal").await;
    let queue = app.queue().await;
    assert_eq!(queue["seq"], seq0 + 2);
    assert_eq!(waiting_numbers(&queue), ["A001", "L001"]);

    app.next("room-1").await;
    let queue = app.queue().await;
    assert_eq!(queue["seq"], seq0 + 3);
    assert_eq!(waiting_numbers(&queue), ["L001"]);
    let call = &queue["recent_calls"][0];
    assert_eq!(call["ticket"], a["id"]);
    assert_eq!(call["number"], "A001");
    assert_eq!(call["room"], "room-1");
    assert_eq!(call["room_name"], "Room 1");
    assert_eq!(call["state"], "called");
    assert!(call["called_at"].is_string());

    // reads change nothing
    app.get("/api/v1/rooms").await;
    app.get(&format!("/api/v1/tickets/{}", id(&a))).await;
    assert_eq!(app.queue().await["seq"], seq0 + 3);
}

#[tokio::test]
async fn ticket_shows_its_position_and_wait_estimate() {
    let app = TestApp::spawn().await;
    let first = app.issue("general", "normal").await;
    app.issue("general", "normal").await;
    let third = app.issue("general", "normal").await;
    assert_eq!(third["number"], "A003");
    assert_eq!(third["position"], 2);

    let got = app.ticket(id(&third)).await;
    assert_eq!(got["id"], third["id"]);
    assert_eq!(got["number"], "A003");
    assert_eq!(got["service"], "general");
    assert_eq!(got["priority"], "normal");
    assert_eq!(got["state"], "waiting");
    assert_eq!(got["position"], 2);
    let eta = got["eta_minutes"].as_u64().unwrap();
    let range = got["eta_range_minutes"].as_array().unwrap();
    let (low, high) = (range[0].as_u64().unwrap(), range[1].as_u64().unwrap());
    assert!(low <= eta && eta <= high, "{got}");
    assert!(eta > 0, "two people ahead: {got}");
    let first_eta = app.ticket(id(&first)).await["eta_minutes"]
        .as_u64()
        .unwrap();
    assert!(
        first_eta <= eta,
        "the first in line waits less: {first_eta} vs {eta}"
    );

    // calling the first moves the others up
    app.next("room-1").await;
    assert_eq!(app.ticket(id(&third)).await["position"], 1);
    let called = app.ticket(id(&first)).await;
    assert_eq!(called["state"], "called");
    assert_eq!(called["position"], Value::Null);
    assert_eq!(called["eta_minutes"], Value::Null);

    // no open room serves it: the wait is unknown, not zero
    for r in ["room-1", "room-2"] {
        let (status, body) = app.call(&format!("/api/v1/rooms/{r}/close"), None).await;
        assert_eq!(status, 200, "{body}");
    }
    let got = app.ticket(id(&third)).await;
    assert_eq!(got["position"], 1);
    assert_eq!(got["eta_minutes"], Value::Null);
    assert_eq!(got["eta_range_minutes"], Value::Null);
}

#[tokio::test]
async fn healthz_reports_status_version_seq_and_day() {
    let app = TestApp::spawn().await;
    app.issue("general", "normal").await;
    let (status, health) = app.get_json("/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["database"], "ok");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    assert!(health["uptime_secs"].is_u64(), "{health}");
    assert_eq!(health["seq"], app.queue().await["seq"]);
    assert_eq!(health["day"], "2026-11-21");
}

#[tokio::test]
async fn issued_ticket_records_its_source_and_class() {
    let app = TestApp::spawn().await;
    let cases = [
        (json!({"service": "general"}), "api", "normal"),
        (
            json!({"service": "general", "source": "kiosk"}),
            "kiosk",
            "normal",
        ),
        (
            json!({"service": "lab", "source": "reception", "priority": "priority"}),
            "reception",
            "priority",
        ),
    ];
    for (body, source, class) in cases {
        let (status, t) = app.call("/api/v1/tickets", Some(body.clone())).await;
        assert_eq!(status, 201, "{t}");
        assert_eq!(t["source"], source, "{body}");
        assert_eq!(t["priority"], class, "{body}");
        assert_eq!(app.ticket(id(&t)).await["source"], source);
    }
}

#[tokio::test]
async fn same_idempotency_key_twice_issues_one_ticket() {
    let app = TestApp::spawn().await;
    let body = serde_json::to_vec(&json!({"service": "general"})).unwrap();
    let key: &[(&str, &[u8])] = &[("Idempotency-Key", b"kiosk-1:press-42")];
    let (status, headers, first) = send(
        &app,
        Method::POST,
        "/api/v1/tickets",
        key,
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    assert!(headers.get("idempotency-replayed").is_none());
    let (status, headers, second) =
        send(&app, Method::POST, "/api/v1/tickets", key, Some(body)).await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(headers.get("idempotency-replayed").unwrap(), "true");
    let (first, second): (Value, Value) = (
        serde_json::from_str(&first).unwrap(),
        serde_json::from_str(&second).unwrap(),
    );
    assert_eq!(first["id"], second["id"]);
    assert_eq!(first["number"], "A001");
    assert_eq!(second["number"], "A001");
    let queue = app.queue().await;
    assert_eq!(waiting_numbers(&queue), ["A001"]);
    // the next ticket without the key is A002: the replay used no number
    assert_eq!(app.issue("general", "normal").await["number"], "A002");
}

#[tokio::test]
async fn idempotency_key_reused_with_another_body_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let post = |body: Value| {
        let body = serde_json::to_vec(&body).unwrap();
        send(
            &app,
            Method::POST,
            "/api/v1/tickets",
            &[("Idempotency-Key", b"reused")],
            Some(body),
        )
    };
    let (status, _, text) = post(json!({"service": "general"})).await;
    assert_eq!(status, 201, "{text}");
    let first_id = id(&serde_json::from_str(&text).unwrap());
    let queue = app.queue().await;
    let (status, headers, text) = post(json!({"service": "lab", "priority": "urgent"})).await;
    assert_eq!(status, 422, "{text}");
    assert!(headers.get("idempotency-replayed").is_none());
    let error: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(error["error"]["code"], "idempotency-key-reused", "{error}");
    assert_eq!(app.queue().await, queue, "nothing changed");
    // the first body again still replays its ticket
    let (status, headers, text) = post(json!({"service": "general"})).await;
    assert_eq!(status, 201, "{text}");
    assert_eq!(headers.get("idempotency-replayed").unwrap(), "true");
    assert_eq!(id(&serde_json::from_str(&text).unwrap()), first_id);
}

#[tokio::test]
async fn different_idempotency_keys_issue_two_tickets() {
    let app = TestApp::spawn().await;
    let body = serde_json::to_vec(&json!({"service": "general"})).unwrap();
    let mut ids = Vec::new();
    for key in [b"key-one".as_slice(), b"key-two"] {
        let (status, headers, text) = send(
            &app,
            Method::POST,
            "/api/v1/tickets",
            &[("Idempotency-Key", key)],
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 201, "{text}");
        assert!(headers.get("idempotency-replayed").is_none());
        ids.push(id(&serde_json::from_str(&text).unwrap()));
    }
    assert_ne!(ids[0], ids[1]);
    assert_eq!(waiting_numbers(&app.queue().await), ["A001", "A002"]);
}

#[tokio::test]
async fn concurrent_requests_with_one_idempotency_key_issue_one_ticket() {
    let app = TestApp::spawn().await;
    let body = serde_json::to_vec(&json!({"service": "general"})).unwrap();
    let key: &[(&str, &[u8])] = &[("Idempotency-Key", b"double-tap")];
    let answers = join_all((0..10).map(|_| {
        send(
            &app,
            Method::POST,
            "/api/v1/tickets",
            key,
            Some(body.clone()),
        )
    }))
    .await;
    let mut replayed = 0;
    for (status, headers, text) in &answers {
        assert_eq!(*status, 201, "{text}");
        let ticket: Value = serde_json::from_str(text).unwrap();
        assert_eq!(ticket["number"], "A001");
        if headers.get("idempotency-replayed").is_some() {
            replayed += 1;
        }
    }
    assert_eq!(replayed, 9);
    assert_eq!(waiting_numbers(&app.queue().await), ["A001"]);
}

#[tokio::test]
async fn idempotency_key_expires_after_its_window() {
    let app = TestApp::spawn().await;
    let body = serde_json::to_vec(&json!({"service": "general"})).unwrap();
    let key: &[(&str, &[u8])] = &[("Idempotency-Key", b"k")];
    let (status, _, first) = send(
        &app,
        Method::POST,
        "/api/v1/tickets",
        key,
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 201);
    let window = i64::try_from(app.config.queue.idempotency_window_secs).unwrap();
    app.advance(SignedDuration::from_secs(window + 1));
    let (status, headers, second) =
        send(&app, Method::POST, "/api/v1/tickets", key, Some(body)).await;
    assert_eq!(status, 201);
    assert!(headers.get("idempotency-replayed").is_none());
    let (first, second): (Value, Value) = (
        serde_json::from_str(&first).unwrap(),
        serde_json::from_str(&second).unwrap(),
    );
    assert_ne!(first["id"], second["id"]);
    assert_eq!(second["number"], "A002");
}

#[tokio::test]
async fn invalid_idempotency_keys_are_refused() {
    let app = TestApp::spawn().await;
    let body = serde_json::to_vec(&json!({"service": "general"})).unwrap();
    let long = "k".repeat(200);
    let bad: [&[u8]; 4] = [long.as_bytes(), b"", b"two words", b"caf\xc3\xa9"];
    let before = app.queue().await;
    for key in bad {
        let (status, _, text) = send(
            &app,
            Method::POST,
            "/api/v1/tickets",
            &[("Idempotency-Key", key)],
            Some(body.clone()),
        )
        .await;
        let context = format!("key {:?}", String::from_utf8_lossy(key));
        assert_eq!(status, 400, "{context}: {text}");
        assert_error_body(&text, "invalid-idempotency-key", &context);
    }
    assert_eq!(app.queue().await, before);
    // 128 characters is the longest key allowed
    let longest = "k".repeat(128);
    let (status, _, text) = send(
        &app,
        Method::POST,
        "/api/v1/tickets",
        &[("Idempotency-Key", longest.as_bytes())],
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "{text}");
}

#[tokio::test]
async fn concurrent_issues_never_share_a_number() {
    let app = TestApp::spawn().await;
    let tickets = join_all((0..40).map(|_| app.issue("general", "normal"))).await;
    let mut numbers: Vec<String> = tickets
        .iter()
        .map(|t| t["number"].as_str().unwrap().to_owned())
        .collect();
    numbers.sort();
    let expected: Vec<String> = (1..=40).map(|n| format!("A{n:03}")).collect();
    assert_eq!(numbers, expected);
    let mut ids: Vec<u64> = tickets.iter().map(id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 40);
}

#[tokio::test]
async fn next_calls_urgent_then_priority_then_normal_first_come_first_served() {
    let app = TestApp::spawn().await;
    let mut issued = Vec::new();
    for class in [
        "normal", "priority", "normal", "urgent", "priority", "urgent",
    ] {
        let t = app.issue("general", class).await;
        issued.push((t["number"].as_str().unwrap().to_owned(), class));
        app.advance(SignedDuration::from_secs(1));
    }
    // A001 n, A002 p, A003 n, A004 u, A005 p, A006 u
    let expected = [
        ("A004", "urgent"),
        ("A006", "urgent"),
        ("A002", "priority"),
        ("A005", "priority"),
        ("A001", "normal"),
        ("A003", "normal"),
    ];
    let mut previous: Option<Value> = None;
    for (number, class) in expected {
        let next = app.next("room-1").await;
        assert_eq!(next["called"]["number"], number, "{next}");
        assert_eq!(next["called"]["priority"], class);
        assert_eq!(
            next["reason"],
            json!({"rule": "highest_class", "class": class})
        );
        match &previous {
            Some(p) => {
                assert_eq!(next["finished"]["id"], p["id"]);
                assert_eq!(next["finished"]["state"], "done");
            }
            None => assert_eq!(next["finished"], Value::Null),
        }
        previous = Some(next["called"].clone());
        past_debounce(&app);
    }
    // nobody left: the last one is finished and nobody called
    let last = app.next("room-1").await;
    assert_eq!(last["called"], Value::Null);
    assert_eq!(last["finished"]["number"], "A003");
    assert_eq!(app.room("room-1").await["serving"], Value::Null);
}

#[tokio::test]
async fn anti_starvation_calls_a_ticket_passed_over_too_often() {
    let app = TestApp::spawn_with(|config| {
        config.queue.starvation_max_passes = 2;
        config.queue.starvation_after_mins = 1;
    })
    .await;
    // urgent tickets pass a walk-in; a priority call passes nobody (its head start is its bound)
    let walk_in = app.issue("general", "normal").await;
    app.advance(SignedDuration::from_mins(2));
    let u1 = app.issue("general", "urgent").await;
    let u2 = app.issue("general", "urgent").await;
    let u3 = app.issue("general", "urgent").await;

    assert_eq!(app.next("room-1").await["called"]["id"], u1["id"]);
    assert_eq!(app.ticket(id(&walk_in)).await["passed_over"], 1);
    past_debounce(&app);
    assert_eq!(app.next("room-1").await["called"]["id"], u2["id"]);
    assert_eq!(app.ticket(id(&walk_in)).await["passed_over"], 2);
    past_debounce(&app);

    // the staff console shows why the walk-in goes before u3
    let starving = json!({"rule": "starvation", "class": "normal", "passed_over": 2});
    let room1 = app.room("room-1").await;
    assert_eq!(room1["next_up"]["ticket"], walk_in["id"]);
    assert_eq!(room1["next_up"]["reason"], starving);

    let next = app.next("room-1").await;
    assert_eq!(next["called"]["id"], walk_in["id"]);
    assert_eq!(next["reason"], starving);
    past_debounce(&app);
    assert_eq!(app.next("room-1").await["called"]["id"], u3["id"]);
}

#[tokio::test]
async fn the_priority_head_start_is_the_clinics_setting() {
    // A priority patient 4 minutes after a walk-in: first with the default 10 minutes...
    for (minutes, first) in [(10, "priority"), (3, "normal"), (0, "normal")] {
        let app = TestApp::spawn_with(|config| {
            config.queue.priority_head_start_mins = minutes;
        })
        .await;
        let walk_in = app.issue("general", "normal").await;
        app.advance(SignedDuration::from_mins(4));
        let priority = app.issue("general", "priority").await;
        // what the kiosk shows each of them, and who the room calls, agree with the setting
        let (ahead_of_walk_in, ahead_of_priority) =
            if first == "priority" { (1, 0) } else { (0, 1) };
        assert_eq!(walk_in["position"], 0, "{minutes} min: {walk_in}");
        assert_eq!(
            priority["position"], ahead_of_priority,
            "{minutes} min: {priority}"
        );
        assert_eq!(
            app.ticket(id(&walk_in)).await["position"],
            ahead_of_walk_in,
            "{minutes} min"
        );
        let called = app.next("room-1").await["called"]["priority"].clone();
        assert_eq!(called, first, "{minutes} min");
    }
}

#[tokio::test]
async fn without_anti_starvation_higher_classes_always_go_first() {
    let app = TestApp::spawn_with(|config| {
        config.queue.starvation_max_passes = 0;
        config.queue.starvation_after_mins = 1;
    })
    .await;
    let walk_in = app.issue("general", "normal").await;
    app.advance(SignedDuration::from_mins(2));
    for _ in 0..4 {
        app.issue("general", "urgent").await;
    }
    for _ in 0..4 {
        let next = app.next("room-1").await;
        assert_eq!(next["called"]["priority"], "urgent", "{next}");
        past_debounce(&app);
    }
    assert_eq!(app.ticket(id(&walk_in)).await["passed_over"], 0);
    assert_eq!(app.next("room-1").await["called"]["id"], walk_in["id"]);
}

#[tokio::test]
async fn a_priority_ticket_counts_as_issued_ten_minutes_earlier() {
    let app = TestApp::spawn().await;
    let early = app.issue("general", "normal").await;
    app.advance(SignedDuration::from_mins(6));
    let recent = app.issue("general", "normal").await;
    app.advance(SignedDuration::from_mins(5));
    // 11 minutes after `early`, 5 after `recent`: it goes between them
    let priority = app.issue("general", "priority").await;
    assert_eq!(priority["position"], 1, "{priority}");
    for (ticket, class) in [
        (&early, "normal"),
        (&priority, "priority"),
        (&recent, "normal"),
    ] {
        let next = app.next("room-1").await;
        assert_eq!(next["called"]["id"], ticket["id"], "{next}");
        assert_eq!(
            next["reason"],
            json!({"rule": "highest_class", "class": class})
        );
        past_debounce(&app);
    }
    // a priority call passes nobody over
    assert_eq!(app.ticket(id(&recent)).await["passed_over"], 0);
}

#[tokio::test]
async fn second_next_within_debounce_window_calls_nobody_new() {
    let app = TestApp::spawn().await;
    let a = app.issue("general", "normal").await;
    let b = app.issue("general", "normal").await;
    let first = app.next("room-1").await;
    assert_eq!(first["called"]["id"], a["id"]);
    let before = app.queue().await;

    app.advance(SignedDuration::from_millis(1_500));
    let second = app.next("room-1").await;
    assert_eq!(second["debounced"], true, "{second}");
    assert_eq!(
        second["called"]["id"], a["id"],
        "the room still serves A001"
    );
    assert_eq!(second["finished"], Value::Null);
    assert_eq!(second["reason"], Value::Null);
    assert_eq!(app.ticket(id(&a)).await["state"], "called");
    assert_eq!(app.ticket(id(&b)).await["state"], "waiting");
    assert_eq!(app.queue().await["seq"], before["seq"]);

    // the window is per room: another room's press counts at once
    let other = app.next("room-2").await;
    assert_eq!(other["debounced"], false);
    assert_eq!(other["called"]["id"], b["id"]);
    let (status, body) = app
        .call(&format!("/api/v1/tickets/{}/requeue", id(&b)), None)
        .await;
    assert_eq!(status, 200, "{body}");

    app.advance(SignedDuration::from_secs(3));
    let third = app.next("room-1").await;
    assert_eq!(third["debounced"], false);
    assert_eq!(third["called"]["id"], b["id"]);
    assert_eq!(third["finished"]["id"], a["id"]);
}

#[tokio::test]
async fn recall_counts_each_call_again() {
    let app = TestApp::spawn().await;
    let a = app.issue("general", "normal").await;
    app.next("room-1").await;
    for count in 1..=2 {
        let (status, body) = app.call("/api/v1/rooms/room-1/recall", None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["room"], "room-1");
        assert_eq!(body["ticket"]["id"], a["id"]);
        assert_eq!(body["ticket"]["state"], "called");
        assert_eq!(body["ticket"]["recall_count"], count);
    }
    assert_eq!(app.ticket(id(&a)).await["recall_count"], 2);
    assert_eq!(app.room("room-1").await["serving"]["id"], a["id"]);
}

#[tokio::test]
async fn done_finishes_the_ticket_and_frees_the_room() {
    let app = TestApp::spawn().await;
    let a = app.issue("general", "normal").await;
    let b = app.issue("general", "normal").await;
    app.next("room-1").await;
    app.advance(SignedDuration::from_mins(5));
    let (status, body) = app.call("/api/v1/rooms/room-1/done", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ticket"]["id"], a["id"]);
    assert_eq!(body["ticket"]["state"], "done");
    assert!(body["ticket"]["finished_at"].is_string());
    let room1 = app.room("room-1").await;
    assert_eq!(room1["serving"], Value::Null);
    assert_eq!(
        room1["service_minutes"], 5.0,
        "the room learnt its service time"
    );
    // done does not call the next one
    assert_eq!(app.ticket(id(&b)).await["state"], "waiting");
    let (status, body) = app.call("/api/v1/rooms/room-1/done", None).await;
    assert_eq!(status, 409);
    assert_eq!(body["error"]["code"], "room-idle");
}

#[tokio::test]
async fn no_show_marks_the_ticket_and_frees_the_room() {
    let app = TestApp::spawn().await;
    let a = app.issue("general", "normal").await;
    app.next("room-1").await;
    let (status, body) = app.call("/api/v1/rooms/room-1/no-show", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ticket"]["id"], a["id"]);
    assert_eq!(body["ticket"]["state"], "no_show");
    assert_eq!(app.ticket(id(&a)).await["state"], "no_show");
    assert_eq!(app.room("room-1").await["serving"], Value::Null);
    // a no-show can be put back in the queue
    let (status, body) = app
        .call(&format!("/api/v1/tickets/{}/requeue", id(&a)), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "waiting");
}

#[tokio::test]
async fn undo_restores_the_room_and_the_tickets() {
    let app = TestApp::spawn().await;
    let a = app.issue("general", "normal").await;
    let b = app.issue("general", "normal").await;
    app.next("room-1").await;
    past_debounce(&app);
    let second = app.next("room-1").await;
    assert_eq!(second["called"]["id"], b["id"]);
    assert_eq!(second["finished"]["id"], a["id"]);

    let (status, body) = app.call("/api/v1/rooms/room-1/undo", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["room"], "room-1");
    let restored = body["restored"].as_array().unwrap();
    assert_eq!(restored.len(), 2, "{body}");
    let restored_a = restored.iter().find(|t| t["id"] == a["id"]).unwrap();
    let restored_b = restored.iter().find(|t| t["id"] == b["id"]).unwrap();
    assert_eq!(restored_a["state"], "called");
    assert_eq!(restored_a["finished_at"], Value::Null);
    assert_eq!(restored_b["state"], "waiting");
    assert_eq!(restored_b["position"], 0);

    let room1 = app.room("room-1").await;
    assert_eq!(room1["serving"]["id"], a["id"]);
    assert_eq!(room1["next_up"]["ticket"], b["id"]);
    assert_eq!(app.ticket(id(&b)).await["state"], "waiting");
    assert_eq!(waiting_numbers(&app.queue().await), ["A002"]);

    // one undo per "next"
    let (status, body) = app.call("/api/v1/rooms/room-1/undo", None).await;
    assert_eq!(status, 409);
    assert_eq!(body["error"]["code"], "nothing-to-undo");
}

#[tokio::test]
async fn undo_takes_back_the_service_time_and_the_passes_of_that_next() {
    let app = TestApp::spawn_with(|config| {
        config.queue.starvation_max_passes = 3;
        config.queue.starvation_after_mins = 1;
    })
    .await;
    let first = app.issue("general", "normal").await;
    let walk_in = app.issue("general", "normal").await;
    app.next("room-1").await; // calls first
    app.advance(SignedDuration::from_mins(5));
    app.issue("general", "urgent").await;
    let next = app.next("room-1").await; // finishes first after 5 min, passes over the walk-in
    assert_eq!(next["finished"]["id"], first["id"]);
    assert_eq!(app.ticket(id(&walk_in)).await["passed_over"], 1);
    assert_eq!(app.room("room-1").await["service_minutes"], 5.0);

    let (status, body) = app.call("/api/v1/rooms/room-1/undo", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.ticket(id(&walk_in)).await["passed_over"], 0);
    let room1 = app.room("room-1").await;
    assert_eq!(
        room1["service_minutes"], 8.0,
        "back to the default: {room1}"
    );
    assert_eq!(room1["serving"]["id"], first["id"]);
}

#[tokio::test]
async fn undo_after_the_window_is_refused() {
    let app = TestApp::spawn().await;
    let a = app.issue("general", "normal").await;
    app.next("room-1").await;
    let window = i64::try_from(app.config.queue.undo_window_secs).unwrap();
    app.advance(SignedDuration::from_secs(window + 1));
    assert_eq!(app.room("room-1").await["undo_until"], Value::Null);
    let before = app.queue().await;
    let (status, body) = app.call("/api/v1/rooms/room-1/undo", None).await;
    assert_eq!(status, 409);
    assert_error_body(&body.to_string(), "undo-expired", "undo");
    assert_eq!(app.queue().await, before);
    assert_eq!(app.ticket(id(&a)).await["state"], "called");
}

#[tokio::test]
async fn undo_after_the_ticket_changed_is_refused() {
    let app = TestApp::spawn().await;
    app.issue("general", "normal").await;
    app.next("room-1").await;
    let (status, _) = app.call("/api/v1/rooms/room-1/done", None).await;
    assert_eq!(status, 200);
    let before = app.queue().await;
    let (status, body) = app.call("/api/v1/rooms/room-1/undo", None).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "undo-conflict");
    assert_eq!(app.queue().await, before);
}

#[tokio::test]
async fn cancel_takes_a_ticket_out_of_the_queue() {
    let app = TestApp::spawn().await;
    let a = app.issue("general", "normal").await;
    let b = app.issue("general", "normal").await;
    let (status, body) = app
        .call(&format!("/api/v1/tickets/{}/cancel", id(&a)), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], a["id"]);
    assert_eq!(body["state"], "cancelled");
    assert_eq!(body["cancel_reason"], "requested");
    assert_eq!(waiting_numbers(&app.queue().await), ["A002"]);
    assert_eq!(app.ticket(id(&b)).await["position"], 0);

    // a called ticket can be cancelled too, and frees its room
    app.next("room-1").await;
    let (status, body) = app
        .call(&format!("/api/v1/tickets/{}/cancel", id(&b)), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.room("room-1").await["serving"], Value::Null);

    let (status, body) = app
        .call(&format!("/api/v1/tickets/{}/cancel", id(&a)), None)
        .await;
    assert_eq!(status, 409);
    assert_eq!(body["error"]["code"], "invalid-transition");
}

#[tokio::test]
async fn requeue_puts_a_ticket_back_at_the_end_with_its_number() {
    let app = TestApp::spawn().await;
    let a = app.issue("general", "normal").await;
    let b = app.issue("general", "normal").await;
    app.next("room-1").await;
    app.advance(SignedDuration::from_secs(30));
    let (status, body) = app
        .call(&format!("/api/v1/tickets/{}/requeue", id(&a)), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], a["id"]);
    assert_eq!(body["number"], "A001");
    assert_eq!(body["state"], "waiting");
    assert_eq!(body["room"], Value::Null);
    assert_eq!(body["position"], 1, "behind A002: {body}");
    assert_eq!(app.room("room-1").await["serving"], Value::Null);
    assert_eq!(waiting_numbers(&app.queue().await), ["A002", "A001"]);
    past_debounce(&app);
    assert_eq!(app.next("room-1").await["called"]["id"], b["id"]);

    // a cancelled ticket can come back as well
    let c = app.issue("general", "normal").await;
    app.call(&format!("/api/v1/tickets/{}/cancel", id(&c)), None)
        .await;
    let (status, body) = app
        .call(&format!("/api/v1/tickets/{}/requeue", id(&c)), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "waiting");
    assert_eq!(body["cancel_reason"], Value::Null);
}

#[tokio::test]
async fn transfer_moves_the_ticket_to_another_service_with_its_number() {
    let app = TestApp::spawn().await;
    let a = app.issue("general", "normal").await;
    app.next("room-1").await;
    app.advance(SignedDuration::from_mins(4));
    let (status, body) = app
        .call(
            &format!("/api/v1/tickets/{}/transfer", id(&a)),
            Some(json!({"service": "lab"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (from, to) = (&body["from"], &body["to"]);
    assert_eq!(from["id"], a["id"]);
    assert_eq!(from["state"], "transferred");
    assert_eq!(from["service"], "general");
    assert_ne!(to["id"], a["id"]);
    assert_eq!(from["transferred_to"], to["id"]);
    assert_eq!(to["transferred_from"], a["id"]);
    assert_eq!(to["number"], "A001");
    assert_eq!(to["service"], "lab");
    assert_eq!(to["state"], "waiting");
    assert_eq!(to["created_at"], a["created_at"]);
    assert_eq!(to["position"], 0);
    assert_eq!(app.room("room-1").await["serving"], Value::Null);
    assert_eq!(app.ticket(id(&a)).await["state"], "transferred");

    let lab = app.room("lab").await;
    assert_eq!(lab["next_up"]["ticket"], to["id"]);
    let next = app.next("lab").await;
    assert_eq!(next["called"]["id"], to["id"]);
    assert_eq!(next["called"]["number"], "A001");

    // the lab's own numbering is untouched
    assert_eq!(app.issue("lab", "normal").await["number"], "L001");
}

#[tokio::test]
async fn closed_room_calls_nobody_until_opened() {
    let app = TestApp::spawn().await;
    let a = app.issue("general", "normal").await;
    let (status, body) = app.call("/api/v1/rooms/room-1/close", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "room-1");
    assert_eq!(body["open"], false);
    // closing twice is fine and changes nothing
    let seq = app.queue().await["seq"].clone();
    let (status, body) = app.call("/api/v1/rooms/room-1/close", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["open"], false);
    assert_eq!(app.queue().await["seq"], seq);

    let before = app.queue().await;
    let (status, body) = app.call("/api/v1/rooms/room-1/next", None).await;
    assert_eq!(status, 409);
    assert_error_body(&body.to_string(), "room-closed", "next in a closed room");
    assert_eq!(app.queue().await, before);
    assert_eq!(app.ticket(id(&a)).await["state"], "waiting");

    let (status, body) = app.call("/api/v1/rooms/room-1/open", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["open"], true);
    assert_eq!(app.next("room-1").await["called"]["id"], a["id"]);
}

/// One bad request and what it must get.
struct Bad {
    method: Method,
    path: String,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: Option<Vec<u8>>,
    status: u16,
    code: &'static str,
}

fn bad(method: Method, path: &str, body: Option<&str>, status: u16, code: &'static str) -> Bad {
    Bad {
        method,
        path: path.to_owned(),
        headers: Vec::new(),
        body: body.map(|b| b.as_bytes().to_vec()),
        status,
        code,
    }
}

#[tokio::test]
async fn bad_requests_get_a_clear_error_and_change_nothing() {
    let app = TestApp::spawn().await;
    // A001 done, A002 called in room-1, A003 waiting
    let done = app.issue("general", "normal").await;
    let called = app.issue("general", "normal").await;
    let waiting = app.issue("general", "normal").await;
    app.next("room-1").await;
    past_debounce(&app);
    app.next("room-1").await;
    past_debounce(&app);
    let (done, called, waiting) = (id(&done), id(&called), id(&waiting));
    assert_eq!(app.ticket(done).await["state"], "done");
    assert_eq!(app.ticket(called).await["state"], "called");

    let too_long = format!("{{\"service\":\"general\"{}}}", " ".repeat(20 * 1024));
    let long_room = "r".repeat(33);
    let t = "/api/v1/tickets";
    let (w, d) = (format!("{t}/{waiting}"), format!("{t}/{done}"));
    let (w, d) = (w.as_str(), d.as_str());
    let (w_transfer, d_transfer) = (format!("{w}/transfer"), format!("{d}/transfer"));
    let (w_transfer, d_transfer) = (w_transfer.as_str(), d_transfer.as_str());
    let lab = Some(r#"{"service":"lab"}"#);
    use Method as M;
    #[rustfmt::skip]
    let mut cases = vec![
        // bodies
        bad(M::POST, t, Some(r#"{"service":"#), 400, "invalid-json"),
        bad(M::POST, t, Some("not json"), 400, "invalid-json"),
        bad(M::POST, t, Some(""), 400, "invalid-json"),
        bad(M::POST, t, None, 415, "unsupported-media-type"),
        bad(M::POST, t, Some(r#"{"service":"general"} x"#), 400, "invalid-json"),
        bad(M::POST, t, Some(r#"{"service":5}"#), 400, "invalid-body"),
        bad(M::POST, t, Some("{}"), 400, "invalid-body"),
        bad(M::POST, t, Some("[]"), 400, "invalid-body"),
        bad(M::POST, t, Some("null"), 400, "invalid-body"),
        bad(M::POST, t, Some(r#"{"service":"general","priority":"vip"}"#), 400, "invalid-body"),
        bad(M::POST, t, Some(r#"{"service":"general","source":"fax"}"#), 400, "invalid-body"),
        bad(M::POST, t, Some(r#"{"service":"general","name":"Ravi"}"#), 400, "invalid-body"),
        bad(M::POST, t, Some(r#"{"service":"General OPD"}"#), 400, "invalid-body"),
        bad(M::POST, t, Some(&too_long), 413, "body-too-large"),
        bad(M::POST, w_transfer, Some(r#"{"service":"lab","x":1}"#), 400, "invalid-body"),
        bad(M::POST, w_transfer, Some("{}"), 400, "invalid-body"),
        bad(M::POST, w_transfer, Some("{"), 400, "invalid-json"),
        // unknown things
        bad(M::POST, t, Some(r#"{"service":"nope"}"#), 404, "service-not-found"),
        bad(M::POST, w_transfer, Some(r#"{"service":"nope"}"#), 404, "service-not-found"),
        bad(M::GET, "/api/v1/tickets/999", None, 404, "ticket-not-found"),
        bad(M::GET, "/api/v1/tickets/0", None, 404, "ticket-not-found"),
        bad(M::POST, "/api/v1/tickets/999/cancel", None, 404, "ticket-not-found"),
        bad(M::POST, "/api/v1/tickets/999/requeue", None, 404, "ticket-not-found"),
        bad(M::POST, "/api/v1/tickets/999/transfer", lab, 404, "ticket-not-found"),
        bad(M::POST, "/api/v1/rooms/nope/next", None, 404, "room-not-found"),
        bad(M::POST, "/api/v1/rooms/nope/recall", None, 404, "room-not-found"),
        bad(M::POST, "/api/v1/rooms/nope/done", None, 404, "room-not-found"),
        bad(M::POST, "/api/v1/rooms/nope/no-show", None, 404, "room-not-found"),
        bad(M::POST, "/api/v1/rooms/nope/undo", None, 404, "room-not-found"),
        bad(M::POST, "/api/v1/rooms/nope/open", None, 404, "room-not-found"),
        bad(M::POST, "/api/v1/rooms/nope/close", None, 404, "room-not-found"),
        // malformed ids
        bad(M::GET, "/api/v1/tickets/abc", None, 400, "invalid-id"),
        bad(M::GET, "/api/v1/tickets/-1", None, 400, "invalid-id"),
        bad(M::GET, "/api/v1/tickets/1.5", None, 400, "invalid-id"),
        bad(M::GET, "/api/v1/tickets/99999999999999999999999", None, 400, "invalid-id"),
        bad(M::POST, "/api/v1/tickets/abc/cancel", None, 400, "invalid-id"),
        bad(M::POST, "/api/v1/tickets/abc/requeue", None, 400, "invalid-id"),
        bad(M::POST, "/api/v1/tickets/abc/transfer", lab, 400, "invalid-id"),
        bad(M::POST, "/api/v1/rooms/Room-1/next", None, 400, "invalid-id"),
        bad(M::POST, "/api/v1/rooms/-room/next", None, 400, "invalid-id"),
        bad(M::POST, "/api/v1/rooms/a%20b/next", None, 400, "invalid-id"),
        bad(M::POST, "/api/v1/rooms/r%C3%A9/recall", None, 400, "invalid-id"),
        bad(M::POST, &format!("/api/v1/rooms/{long_room}/next"), None, 400, "invalid-id"),
        bad(M::POST, "/api/v1/rooms/ROOM/close", None, 400, "invalid-id"),
        // wrong state
        bad(M::POST, &format!("{d}/cancel"), None, 409, "invalid-transition"),
        bad(M::POST, d_transfer, lab, 409, "invalid-transition"),
        bad(M::POST, &format!("{d}/requeue"), None, 409, "invalid-transition"),
        bad(M::POST, &format!("{w}/requeue"), None, 409, "invalid-transition"),
        bad(M::POST, w_transfer, Some(r#"{"service":"general"}"#), 409, "same-service"),
        bad(M::POST, "/api/v1/rooms/lab/recall", None, 409, "room-idle"),
        bad(M::POST, "/api/v1/rooms/lab/done", None, 409, "room-idle"),
        bad(M::POST, "/api/v1/rooms/lab/no-show", None, 409, "room-idle"),
        bad(M::POST, "/api/v1/rooms/lab/undo", None, 409, "nothing-to-undo"),
        // routes and methods
        bad(M::GET, "/api/v1/nothing", None, 404, "not-found"),
        bad(M::GET, "/api/v2/queue", None, 404, "not-found"),
        bad(M::GET, "/api/v1/queue/", None, 404, "not-found"),
        bad(M::POST, &format!("{w}/delete"), None, 404, "not-found"),
        bad(M::GET, "/api/v1/rooms/room-1/next", None, 405, "method-not-allowed"),
        bad(M::DELETE, w, None, 405, "method-not-allowed"),
        bad(M::PUT, "/api/v1/queue", Some("{}"), 405, "method-not-allowed"),
        bad(M::PATCH, t, Some("{}"), 405, "method-not-allowed"),
        bad(M::POST, "/healthz", None, 405, "method-not-allowed"),
        // the event stream wants a WebSocket and a numeric `since`
        bad(M::GET, "/api/v1/events", None, 400, "websocket-required"),
        bad(M::GET, "/api/v1/events?since=abc", None, 400, "invalid-query"),
        bad(M::GET, "/api/v1/events?since=-1", None, 400, "invalid-query"),
        bad(M::GET, "/api/v1/events?until=3", None, 400, "invalid-query"),
    ];
    let general = Some(r#"{"service":"general"}"#);
    let mut with_key = bad(M::POST, t, general, 400, "invalid-idempotency-key");
    with_key.headers = vec![("Idempotency-Key", "x".repeat(200).into_bytes())];
    cases.push(with_key);
    let mut json_typed = bad(M::POST, t, Some(r#"{"service":"#), 400, "invalid-json");
    json_typed.headers = vec![("Content-Type", b"application/json".to_vec())];
    cases.push(json_typed);
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let mut not_json = bad(M::POST, t, general, 415, "unsupported-media-type");
        not_json.headers = vec![("Content-Type", content_type.as_bytes().to_vec())];
        cases.push(not_json);
    }

    for case in cases {
        let context = format!("{} {}", case.method, case.path);
        let before = app.queue().await;
        let headers: Vec<(&str, &[u8])> = case
            .headers
            .iter()
            .map(|(n, v)| (*n, v.as_slice()))
            .collect();
        let (status, response_headers, text) = send(
            &app,
            case.method.clone(),
            &case.path,
            &headers,
            case.body.clone(),
        )
        .await;
        assert!(status < 500, "{context}: never a 5xx, got {status}: {text}");
        assert_eq!(status, case.status, "{context}: {text}");
        let content_type = response_headers
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        assert!(
            content_type.starts_with("application/json"),
            "{context}: content-type {content_type:?}"
        );
        assert_error_body(&text, case.code, &context);
        assert_eq!(app.queue().await, before, "{context} changed the queue");
    }
    // and the queue still works
    assert_eq!(app.issue("general", "normal").await["number"], "A004");
}

#[tokio::test]
async fn body_at_the_size_limit_is_read_and_one_byte_more_is_refused() {
    let app = TestApp::spawn_with(|config| config.http.max_body_bytes = 1024).await;
    let body = |size: usize| {
        let json = "{\"service\":\"general\"}";
        format!("{json}{}", " ".repeat(size - json.len())).into_bytes()
    };
    let (status, _, text) =
        send(&app, Method::POST, "/api/v1/tickets", &[], Some(body(1024))).await;
    assert_eq!(status, 201, "{text}");
    let before = app.queue().await;
    let (status, _, text) =
        send(&app, Method::POST, "/api/v1/tickets", &[], Some(body(1025))).await;
    assert_eq!(status, 413, "{text}");
    assert_error_body(&text, "body-too-large", "1025 bytes");
    assert_eq!(app.queue().await, before);
}

/// Sends raw bytes over TCP and returns the whole answer (the request must close the
/// connection).
async fn raw_http(app: &TestApp, request: Vec<u8>) -> String {
    let addr = app.addr;
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.write_all(&request).unwrap();
        let mut answer = Vec::new();
        // the server may close while we still write; what it answered is what counts
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn chunked_body_over_the_limit_is_refused() {
    let app = TestApp::spawn_with(|config| config.http.max_body_bytes = 1024).await;
    let before = app.queue().await;
    let chunk = format!("{{\"service\":\"general\"{}}}", " ".repeat(4000));
    let mut request = format!(
        "POST /api/v1/tickets HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n",
        app.addr,
        chunk.len()
    )
    .into_bytes();
    request.extend_from_slice(chunk.as_bytes());
    request.extend_from_slice(b"\r\n0\r\n\r\n");
    let answer = raw_http(&app, request).await;
    let status_line = answer.lines().next().unwrap_or_default();
    assert!(status_line.contains(" 413 "), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert_error_body(body, "body-too-large", "chunked");
    assert_eq!(app.queue().await, before);
}

#[tokio::test]
async fn openapi_document_lists_every_api_route() {
    let app = TestApp::spawn().await;
    let r = app.get("/api/v1/openapi.json").await;
    assert_eq!(r.status(), 200);
    let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let text = r.text().await.unwrap();
    let doc: Value = serde_json::from_str(&text).expect("the OpenAPI document is JSON");
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string());
    let mut checked = 0;
    for route in waitless::web::ROUTES {
        if !(route.path.starts_with("/api/") || route.path == "/healthz") {
            continue;
        }
        let operation = &doc["paths"][route.path][route.method.to_lowercase()];
        assert!(
            operation.is_object(),
            "{} {} is not in the OpenAPI document",
            route.method,
            route.path
        );
        assert!(
            operation["responses"].is_object(),
            "{} {}",
            route.method,
            route.path
        );
        checked += 1;
    }
    assert!(checked >= 17, "only {checked} API routes found in ROUTES");
    // and nothing in it that the server does not serve
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let served = waitless::web::ROUTES
                .iter()
                .any(|r| r.path == path && r.method.eq_ignore_ascii_case(method));
            assert!(
                served,
                "the document lists {method} {path}, which is not a route"
            );
        }
    }
}

#[tokio::test]
async fn new_clinic_day_restarts_numbers_and_cancels_unattended_tickets() {
    let app = TestApp::spawn().await;
    let served = app.issue("general", "normal").await;
    let left = app.issue("general", "normal").await;
    let lab = app.issue("lab", "priority").await;
    app.next("room-1").await;

    // 2026-11-22 03:59: still the same clinic day
    app.advance(SignedDuration::from_mins(17 * 60 + 59));
    let late = app.issue("general", "normal").await;
    assert_eq!(late["number"], "A003");
    assert_eq!(late["day"], "2026-11-21");

    // 04:00: a new day
    app.advance(SignedDuration::from_mins(1));
    let fresh = app.issue("general", "normal").await;
    assert_eq!(fresh["number"], "A001");
    assert_eq!(fresh["day"], "2026-11-22");
    assert_eq!(fresh["position"], 0);
    assert!(
        ![&served, &left, &lab, &late]
            .iter()
            .any(|t| t["id"] == fresh["id"]),
        "ticket ids are never reused"
    );
    assert_eq!(app.issue("lab", "normal").await["number"], "L001");

    for old in [&left, &lab, &late] {
        let got = app.ticket(id(old)).await;
        assert_eq!(got["state"], "cancelled", "{got}");
        assert_eq!(got["cancel_reason"], "unattended", "{got}");
        assert_eq!(got["number"], old["number"]);
    }
    assert_eq!(app.ticket(id(&served)).await["state"], "done");

    let queue = app.queue().await;
    assert_eq!(queue["day"], "2026-11-22");
    assert_eq!(waiting_numbers(&queue), ["A001", "L001"]);
    assert_eq!(app.room("room-1").await["serving"], Value::Null);
    let (_, health) = app.get_json("/healthz").await;
    assert_eq!(health["day"], "2026-11-22");
}

#[tokio::test]
async fn idle_clinic_closes_its_day_without_any_request() {
    let app = TestApp::spawn().await;
    let left = app.issue("general", "normal").await;
    app.advance(SignedDuration::from_hours(24));
    wait_until(PATIENCE, "the day to close", async || {
        let (_, health) = app.get_json("/healthz").await;
        if health["day"] == "2026-11-22" {
            Ok(())
        } else {
            Err(health)
        }
    })
    .await;
    let got = app.ticket(id(&left)).await;
    assert_eq!(got["state"], "cancelled");
    assert_eq!(got["cancel_reason"], "unattended");
}

// ---- screens' server side: status links, pages, assets ---------------------------------------

#[tokio::test]
async fn status_link_shows_only_its_own_ticket_and_follows_a_transfer() {
    let app = TestApp::spawn().await;
    let other = app.issue("general", "normal").await;
    let mine = app.issue("general", "normal").await;
    let path = mine["status_path"].as_str().unwrap().to_owned();
    assert!(path.starts_with(&format!("/t/{}-", id(&mine))), "{path}");
    let token = path.trim_start_matches("/t/");
    let (status, view) = app.get_json(&format!("/api/v1/status/{token}")).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["number"], mine["number"]);
    assert_eq!(view["position"], 1);
    assert_eq!(view["state"], "waiting");
    // nothing about anyone else
    let text = view.to_string();
    assert!(!text.contains(other["number"].as_str().unwrap()), "{text}");
    // after a transfer the same link shows where the patient is now
    let (status, moved) = app
        .call(
            &format!("/api/v1/tickets/{}/transfer", id(&mine)),
            Some(json!({"service": "lab"})),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    let (_, view) = app.get_json(&format!("/api/v1/status/{token}")).await;
    assert_eq!(view["service_name"], "Laboratory");
    assert_eq!(view["number"], mine["number"]);
    // called: the room's name
    app.next("lab").await;
    let (_, view) = app.get_json(&format!("/api/v1/status/{token}")).await;
    assert_eq!(view["state"], "called");
    assert_eq!(view["room_name"], "Lab counter");
}

#[tokio::test]
async fn forged_or_sequential_status_links_are_refused() {
    let app = TestApp::spawn().await;
    let mine = app.issue("general", "normal").await;
    let token = mine["status_path"]
        .as_str()
        .unwrap()
        .trim_start_matches("/t/")
        .to_owned();
    let (_, mac) = token.split_once('-').unwrap();
    for forged in [
        format!("{}-{mac}", id(&mine) + 1),
        format!("{}", id(&mine)),
        format!("{}-{}", id(&mine), "0".repeat(mac.len())),
        "../../etc".to_owned(),
    ] {
        let (status, body) = app.get_json(&format!("/api/v1/status/{forged}")).await;
        assert_eq!(status, 404, "{forged}: {body}");
        assert_eq!(body["error"]["code"], "not-found");
        let page = app.get(&format!("/t/{forged}")).await;
        assert_eq!(page.status(), 404, "{forged}");
    }
    let page = app.get(&format!("/t/{token}")).await;
    assert_eq!(page.status(), 200);
    let qr = app.get(&format!("/t/{token}/qr.svg")).await;
    assert_eq!(qr.status(), 200);
    assert_eq!(qr.headers()["content-type"], "image/svg+xml");
    assert!(qr.text().await.unwrap().contains("<svg"));
}

#[tokio::test]
async fn pages_render_in_each_language_with_their_messages() {
    let app = TestApp::spawn().await;
    for (path, needle) in [
        ("/kiosk", "What are you here for?"),
        ("/kiosk?lang=hi", "आप किसलिए आए हैं?"),
        ("/display", "Now serving"),
        ("/display?lang=hi&rooms=room-1,lab", "अभी बुलाया जा रहा है"),
        ("/staff?room=room-1", "Staff console"),
        ("/", "waitless"),
        ("/kiosk?lang=xx", "What are you here for?"),
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        let html = r.text().await.unwrap();
        assert!(html.contains(needle), "{path} lacks {needle:?}");
        assert!(!html.contains("<script>"), "{path}: inline script");
    }
    let (status, body) = app.get_json("/display?rooms=Bad Room").await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn assets_are_served_with_type_and_etag_and_revalidate() {
    let app = TestApp::spawn().await;
    let r = app.get("/assets/js/live.js").await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let again = app
        .client
        .get(app.url("/assets/js/live.js"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let (status, body) = app.get_json("/assets/nope.js").await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = app.get_json("/assets/../Cargo.toml").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_display_can_be_made_silent() {
    let app = TestApp::spawn().await;
    let boot = |html: String| -> Value {
        let start = html
            .find(r#"<script id="boot" type="application/json">"#)
            .unwrap();
        let json = &html[start..];
        let json = &json[json.find('>').unwrap() + 1..json.find("</script>").unwrap()];
        serde_json::from_str(json).unwrap()
    };
    let loud = boot(app.get("/display").await.text().await.unwrap());
    assert_eq!(loud["settings"]["sound"], true);
    let silent = boot(app.get("/display?sound=off").await.text().await.unwrap());
    assert_eq!(silent["settings"]["sound"], false);
}

#[tokio::test]
async fn a_closed_service_issues_nothing_and_says_when_it_opens_again() {
    let app = TestApp::spawn().await;
    let waiting = app.issue("lab", "normal").await;
    let (status, service) = app
        .call(
            "/api/v1/services/lab/close",
            Some(json!({"reopens_at": "2026-11-22T09:00:00+05:30"})),
        )
        .await;
    assert_eq!(status, 200, "{service}");
    assert_eq!(service["active"], false);
    assert_eq!(service["reopens_at"], "2026-11-22T03:30:00Z");
    let (status, body) = app
        .call("/api/v1/tickets", Some(json!({"service": "lab"})))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "service-closed");
    // its waiting ticket is still called
    let next = app.next("lab").await;
    assert_eq!(next["called"]["id"], waiting["id"]);
    // bad bodies change nothing
    let before = app.queue().await;
    let (status, body) = app
        .call(
            "/api/v1/services/lab/close",
            Some(json!({"reopens_at": "soon"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(app.queue().await, before);
    let (status, body) = app.call("/api/v1/services/nope/open", None).await;
    assert_eq!(status, 404, "{body}");
    // open again: issuing works, the reopening time is gone
    let (status, service) = app.call("/api/v1/services/lab/open", None).await;
    assert_eq!(status, 200, "{service}");
    assert_eq!(service["reopens_at"], Value::Null);
    app.issue("lab", "normal").await;
}

#[tokio::test]
async fn the_displays_message_is_set_and_reaches_the_events() {
    let app = TestApp::spawn().await;
    let mut events = app.events("").await;
    events.next_json().await; // snapshot
    let request = |message: &str| {
        app.client
            .put(app.url("/api/v1/clinic/message"))
            .json(&json!({ "message": message }))
            .send()
    };
    let r = request("  Dr. Rao is in from 11:00  ").await.unwrap();
    assert_eq!(r.status(), 200);
    let event = events.next_event("clinic_message_set").await;
    assert_eq!(event["message"], "Dr. Rao is in from 11:00");
    assert_eq!(
        app.queue().await["clinic"]["message"],
        "Dr. Rao is in from 11:00"
    );
    let before = app.queue().await;
    let r = request(&"x".repeat(501)).await.unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "message-too-long");
    assert_eq!(app.queue().await, before);
}

#[tokio::test]
async fn every_answer_has_the_security_headers() {
    let app = TestApp::spawn().await;
    for path in [
        "/kiosk",
        "/api/v1/queue",
        "/assets/js/live.js",
        "/no-such-page",
    ] {
        let r = app.get(path).await;
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
    }
}

/// Every page of `GET /api/v1/queue/waiting{query}` (`limit` per page), joined.
async fn all_pages(app: &TestApp, query: &str, limit: usize) -> (Vec<Value>, usize) {
    let mut tickets = Vec::new();
    let mut after = String::new();
    let mut pages = 0;
    loop {
        let (status, page) = app
            .get_json(&format!(
                "/api/v1/queue/waiting?limit={limit}{query}{after}"
            ))
            .await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        let got = page["tickets"].as_array().unwrap();
        assert!(got.len() <= limit, "{page}");
        tickets.extend(got.iter().cloned());
        match page["next"].as_u64() {
            Some(next) => after = format!("&after={next}"),
            None => break,
        }
    }
    (tickets, pages)
}

#[tokio::test]
async fn the_waiting_list_comes_a_page_at_a_time_in_call_order() {
    let app = TestApp::spawn().await;
    for (service, class) in [
        ("general", "normal"),
        ("lab", "normal"),
        ("general", "normal"),
        ("general", "urgent"),
        ("lab", "priority"),
        ("general", "normal"),
        ("general", "priority"),
    ] {
        app.issue(service, class).await;
    }
    let numbers = |tickets: &[Value]| -> Vec<String> {
        tickets
            .iter()
            .map(|t| t["number"].as_str().unwrap().to_owned())
            .collect()
    };
    // every service, service by service in call order, 2 a page: the same as one big page
    let (paged, pages) = all_pages(&app, "", 2).await;
    assert_eq!(pages, 4);
    let (whole, _) = all_pages(&app, "", 1000).await;
    assert_eq!(numbers(&paged), numbers(&whole));
    assert_eq!(
        numbers(&whole),
        ["A003", "A005", "A001", "A002", "A004", "L002", "L001"]
    );
    // positions are the people ahead in the ticket's own service
    let positions: Vec<u64> = whole
        .iter()
        .map(|t| t["position"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, [0, 1, 2, 3, 4, 0, 1]);
    // one room (general and lab): merged in the order it calls them, class first
    let (room, _) = all_pages(&app, "&room=room-2", 3).await;
    assert_eq!(
        numbers(&room),
        ["A003", "L002", "A005", "A001", "L001", "A002", "A004"]
    );
    // one service
    let (lab, _) = all_pages(&app, "&service=lab", 1).await;
    assert_eq!(numbers(&lab), ["L002", "L001"]);
    let (status, page) = app
        .get_json("/api/v1/queue/waiting?service=lab&limit=1")
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 2);
    // the snapshot counts, it does not list
    let (_, queue) = app.get_json("/api/v1/queue").await;
    assert!(queue.get("waiting").is_none(), "{queue}");
    assert_eq!(queue["counts"][0]["service"], "general");
    assert_eq!(queue["counts"][0]["waiting"], 5);
    assert_eq!(queue["counts"][1]["waiting"], 2);
    // what is refused
    for (query, status, code) in [
        ("limit=0", 400, "invalid-query"),
        ("limit=1001", 400, "invalid-query"),
        ("service=nope", 404, "service-not-found"),
        ("room=nope", 404, "room-not-found"),
        ("after=9999", 404, "ticket-not-found"),
        ("colour=red", 400, "invalid-query"),
    ] {
        let (got, body) = app
            .get_json(&format!("/api/v1/queue/waiting?{query}"))
            .await;
        assert_eq!(got, status, "{query}: {body}");
        assert_eq!(body["error"]["code"], code, "{query}: {body}");
    }
}
