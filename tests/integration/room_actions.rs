//! The room actions added for the staff console, over HTTP: "no-show and next", a call out of
//! order with its reason (in the audit trail, not on the public stream), a room on break; bad
//! input answers a clear JSON error and changes nothing; a doctor acts for their own room only.

use jiff::SignedDuration;
use serde_json::{Value, json};

use crate::common::{DOCTOR_NAME, TestApp};

fn past_debounce(app: &TestApp) {
    let ms = i64::try_from(app.config.queue.debounce_ms).unwrap();
    app.advance(SignedDuration::from_millis(ms + 1_000));
}

fn id(ticket: &Value) -> u64 {
    ticket["id"].as_u64().unwrap()
}

/// Sends `body` as raw bytes with a JSON content type; returns status and JSON.
async fn raw(app: &TestApp, path: &str, body: &str) -> (u16, Value) {
    let r = app
        .client
        .post(app.url(path))
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn no_show_and_next_marks_the_ticket_and_calls_the_next_in_one_event() {
    let app = TestApp::spawn().await;
    let a1 = app.issue("general", "normal").await;
    let a2 = app.issue("general", "normal").await;
    app.next("room-1").await;
    past_debounce(&app);
    let before = app.queue().await["seq"].as_u64().unwrap();
    let (status, body) = app.call("/api/v1/rooms/room-1/no-show-next", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["finished"]["id"], a1["id"]);
    assert_eq!(body["finished"]["state"], "no_show");
    assert_eq!(body["called"]["id"], a2["id"]);
    assert_eq!(body["debounced"], false);
    let after = app.queue().await["seq"].as_u64().unwrap();
    assert_eq!(after, before + 1, "one event");
    assert_eq!(app.ticket(id(&a1)).await["state"], "no_show");
    assert_eq!(app.room("room-1").await["serving"]["id"], a2["id"]);
    // undone like a "next"
    let (status, body) = app.call("/api/v1/rooms/room-1/undo", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.room("room-1").await["serving"]["id"], a1["id"]);
    assert_eq!(app.ticket(id(&a2)).await["state"], "waiting");
}

#[tokio::test]
async fn no_show_and_next_in_an_idle_room_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    app.issue("general", "normal").await;
    let before = app.queue().await["seq"].clone();
    let (status, body) = app.call("/api/v1/rooms/room-1/no-show-next", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("room-idle"))
    );
    let (status, body) = app.call("/api/v1/rooms/nowhere/no-show-next", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("room-not-found"))
    );
    let (status, body) = raw(&app, "/api/v1/rooms/room-1/no-show-next", "[1]").await;
    assert_eq!(status, 400, "a body where none is taken: {body}");
    assert_eq!(app.queue().await["seq"], before);
}

#[tokio::test]
async fn a_call_out_of_order_calls_that_ticket_and_the_audit_trail_keeps_the_reason() {
    let app = TestApp::spawn().await;
    let a1 = app.issue("general", "normal").await;
    let _a2 = app.issue("general", "normal").await;
    let a3 = app.issue("general", "normal").await;
    app.next("room-1").await;
    let mut ws = app.events("").await;
    let (status, body) = app
        .call(
            "/api/v1/rooms/room-1/call",
            Some(json!({"ticket": id(&a3), "reason": "wheelchair, back from X-ray"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["called"]["id"], a3["id"]);
    assert_eq!(body["finished"]["id"], a1["id"]);
    assert_eq!(body["reason"]["rule"], "chosen");
    assert_eq!(body["reason"]["note"], "wheelchair, back from X-ray");
    assert_eq!(app.room("room-1").await["serving"]["id"], a3["id"]);
    let (_, audit) = app.get_json("/api/v1/audit?kind=room_next").await;
    let last = audit["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        last["reason"]["note"], "wheelchair, back from X-ray",
        "{last}"
    );
    assert_eq!(last["called"]["number"], a3["number"]);
    // The public stream says a ticket was called out of order, not why.
    let public = ws.next_event("room_next").await;
    assert_eq!(public["reason"]["rule"], "chosen");
    assert!(!public.to_string().contains("X-ray"), "{public}");
}

#[tokio::test]
async fn a_call_with_bad_input_is_a_clear_error_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let a1 = app.issue("general", "normal").await;
    let l1 = app.issue("lab", "normal").await;
    let before = app.queue().await["seq"].clone();
    let long = "x".repeat(201);
    let cases: Vec<(String, u16, &str)> = vec![
        (
            json!({"ticket": id(&a1), "reason": ""}).to_string(),
            400,
            "invalid-call-reason",
        ),
        (
            json!({"ticket": id(&a1), "reason": "  "}).to_string(),
            400,
            "invalid-call-reason",
        ),
        (
            json!({"ticket": id(&a1), "reason": long}).to_string(),
            400,
            "invalid-call-reason",
        ),
        (
            json!({"ticket": id(&a1), "reason": "a\nb"}).to_string(),
            400,
            "invalid-call-reason",
        ),
        (json!({"ticket": id(&a1)}).to_string(), 400, "invalid-body"),
        (json!({"reason": "why"}).to_string(), 400, "invalid-body"),
        (
            json!({"ticket": "A001", "reason": "why"}).to_string(),
            400,
            "invalid-body",
        ),
        (
            json!({"ticket": id(&a1), "reason": "why", "extra": 1}).to_string(),
            400,
            "invalid-body",
        ),
        ("{not json".to_owned(), 400, "invalid-json"),
        (
            json!({"ticket": 999, "reason": "why"}).to_string(),
            404,
            "ticket-not-found",
        ),
        (
            json!({"ticket": id(&l1), "reason": "why"}).to_string(),
            409,
            "not-this-rooms-ticket",
        ),
    ];
    for (body, status, code) in cases {
        let (got, answer) = raw(&app, "/api/v1/rooms/room-1/call", &body).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}: {answer}"
        );
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    assert_eq!(app.queue().await["seq"], before, "nothing changed");
    // a ticket that is not waiting
    app.next("room-1").await;
    let (status, body) = app
        .call(
            "/api/v1/rooms/room-2/call",
            Some(json!({"ticket": id(&a1), "reason": "why"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("invalid-transition"))
    );
}

#[tokio::test]
async fn a_room_on_break_calls_nobody_keeps_its_tickets_and_resumes() {
    let app = TestApp::spawn().await;
    let a1 = app.issue("general", "normal").await;
    let mut ws = app.events("").await;
    let (status, body) = app.call("/api/v1/rooms/room-1/pause", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["paused"].as_bool(), body["open"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(ws.next_event("room_paused").await["room"], "room-1");
    // pausing again changes nothing
    let seq = app.queue().await["seq"].clone();
    let (status, _) = app.call("/api/v1/rooms/room-1/pause", None).await;
    assert_eq!(status, 200);
    assert_eq!(app.queue().await["seq"], seq);
    for (path, body) in [
        ("/api/v1/rooms/room-1/next", None),
        (
            "/api/v1/rooms/room-1/call",
            Some(json!({"ticket": id(&a1), "reason": "why"})),
        ),
    ] {
        let (status, answer) = app.call(path, body).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (409, Some("room-on-break")),
            "{path}"
        );
    }
    assert_eq!(app.queue().await["seq"], seq, "refusals changed nothing");
    assert_eq!(app.ticket(id(&a1)).await["state"], "waiting");
    // another room of the service still calls it
    assert_eq!(app.next("room-2").await["called"]["id"], a1["id"]);
    let (status, body) = app.call("/api/v1/rooms/room-1/resume", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["paused"], false);
    assert_eq!(ws.next_event("room_resumed").await["room"], "room-1");
    // a closed room cannot go on break
    let (status, _) = app.call("/api/v1/rooms/lab/close", None).await;
    assert_eq!(status, 200);
    let (status, body) = app.call("/api/v1/rooms/lab/pause", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("room-closed"))
    );
    // the break survives a restart
    let (status, _) = app.call("/api/v1/rooms/room-2/pause", None).await;
    assert_eq!(status, 200);
    let app = app.restart().await;
    assert_eq!(app.room("room-2").await["paused"], true);
}

#[tokio::test]
async fn a_doctor_pauses_calls_and_no_shows_in_their_own_room_only() {
    let app = TestApp::spawn().await;
    let a1 = app.issue("general", "normal").await;
    let a2 = app.issue("general", "normal").await;
    let doctor = app.login(DOCTOR_NAME).await;
    let as_doctor = async |path: &str, body: Option<Value>| {
        let mut request = app
            .anon
            .post(app.url(path))
            .header("Cookie", &doctor)
            .header("Origin", app.url(""));
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap().status().as_u16()
    };
    let seq = app.queue().await["seq"].clone();
    for room in ["room-2", "lab"] {
        for (action, body) in [
            ("pause", None),
            ("resume", None),
            ("no-show-next", None),
            ("call", Some(json!({"ticket": id(&a1), "reason": "why"}))),
        ] {
            let status = as_doctor(&format!("/api/v1/rooms/{room}/{action}"), body).await;
            assert_eq!(status, 403, "{action} in {room}");
        }
    }
    assert_eq!(app.queue().await["seq"], seq, "refusals changed nothing");
    let call = json!({"ticket": id(&a2), "reason": "asked by the doctor"});
    assert_eq!(
        as_doctor("/api/v1/rooms/room-1/call", Some(call)).await,
        200
    );
    past_debounce(&app);
    assert_eq!(
        as_doctor("/api/v1/rooms/room-1/no-show-next", None).await,
        200
    );
    assert_eq!(as_doctor("/api/v1/rooms/room-1/pause", None).await, 200);
    assert_eq!(as_doctor("/api/v1/rooms/room-1/resume", None).await, 200);
    let (_, audit) = app.get_json("/api/v1/audit?actor=user:doctor").await;
    let kinds: Vec<&str> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        ["room_next", "room_next", "room_paused", "room_resumed"]
    );
}
