//! Messages about appointments, end to end through the outbox: a booking's confirmation, its
//! reminders a day and two hours before (the second moved before the night's quiet hours),
//! withdrawn in the same commit that moves, cancels or checks in the booking; the booking
//! page's one-time phone code; the patient's consent; a waiting patient's two "near"
//! messages. The clock is the test's (Saturday 21 November 2026, 15:30 in Kolkata).

use serde_json::{Value, json};

use crate::common::{DOCTOR_NAME, PATIENCE, TestApp, wait_until};

/// The doctor's plan: weekdays 09:00–10:00, 15-minute slots, one seat.
fn plan() -> Value {
    let morning = json!([{"start": "09:00", "end": "10:00"}]);
    json!({
        "doctor": DOCTOR_NAME,
        "service": "general",
        "weekly": [morning, morning, morning, morning, morning, [], []],
        "slot_minutes": 15,
        "seats": 1,
        "horizon_days": 14,
        "per_patient_per_day": 1,
    })
}

async fn clinic(adjust: impl FnOnce(&mut waitless::config::Config)) -> TestApp {
    let app = TestApp::spawn_with(|c| {
        c.clinic.timezone = "Asia/Kolkata".to_owned();
        c.notify.sms = "fake".to_owned();
        c.notify.poll_secs = 1;
        adjust(c);
    })
    .await;
    let r = app
        .client
        .put(app.url("/api/v1/admin/plans"))
        .json(&plan())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app
}

/// Monday 23 November 2026 at 09:00 and 09:30 in Kolkata, as UTC.
const MONDAY_NINE: &str = "2026-11-23T03:30:00Z";
const MONDAY_HALF_PAST_NINE: &str = "2026-11-23T04:00:00Z";

/// The outbox rows by event, then by when each is due.
async fn rows(app: &TestApp) -> Vec<Value> {
    let (status, page) = app.get_json("/api/v1/notifications").await;
    assert_eq!(status, 200, "{page}");
    let mut rows = page["notifications"].as_array().unwrap().clone();
    rows.sort_by_key(|r| (r["seq"].as_u64(), r["next_try"].as_str().map(str::to_owned)));
    rows
}

fn param<'a>(row: &'a Value, name: &str) -> Option<&'a str> {
    row["params"]
        .as_array()?
        .iter()
        .find(|p| p[0] == name)
        .and_then(|p| p[1].as_str())
}

fn summary(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| {
            let mut s = format!("{}/{}", r["kind"], r["state"]).replace('"', "");
            if let Some(lead) = param(r, "lead") {
                s.push_str(&format!("/{lead}"));
            }
            s
        })
        .collect()
}

async fn wait_for(app: &TestApp, what: &str, want: &[&str]) -> Vec<Value> {
    let mut last = Vec::new();
    wait_until(PATIENCE, what, async || {
        let seen = rows(app).await;
        let now = summary(&seen);
        if now != last {
            eprintln!("{what}: {now:?}");
            last = now.clone();
        }
        (now == want).then_some(seen.clone()).ok_or("not yet")
    })
    .await
}

fn at(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

fn set_clock(app: &TestApp, to: &str) {
    use waitless::clock::Clock;
    let now = app.clock.now();
    app.advance(now.duration_until(at(to)));
}

#[tokio::test]
async fn a_booking_is_confirmed_reminded_outside_quiet_hours_and_moving_it_withdraws_its_reminders()
{
    let app = clinic(|_| {}).await;
    let (status, booked) = app
        .call(
            "/api/v1/bookings",
            Some(
                json!({"doctor": DOCTOR_NAME, "service": "general", "start": MONDAY_NINE,
                "patient": {"name": "Asha", "phone": "+91 98450 12345", "language": "hi"}}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{booked}");
    let id = booked["id"].as_u64().unwrap();
    let code = booked["code"].as_str().unwrap().to_owned();
    let seen = wait_for(
        &app,
        "the confirmation",
        &["booked/sent", "reminder/queued/1440", "reminder/queued/120"],
    )
    .await;
    assert_eq!(param(&seen[0], "code"), Some(code.as_str()));
    assert_eq!(param(&seen[0], "when"), Some("2026-11-23 09:00"));
    assert_eq!(param(&seen[0], "doctor"), Some(DOCTOR_NAME));
    assert_eq!(seen[0]["booking"], id);
    assert_eq!(seen[0]["language"], "hi");
    // A day before: Sunday 09:00. Two hours before is 07:00 on Monday, inside the quiet
    // hours (21:00–08:00): it goes at 20:59 on Sunday evening instead.
    assert_eq!(seen[1]["next_try"], "2026-11-22T03:30:00Z");
    assert_eq!(seen[2]["next_try"], "2026-11-22T15:29:00Z");
    // No reminder goes before its time.
    set_clock(&app, "2026-11-22T03:29:00Z");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        summary(&rows(&app).await),
        ["booked/sent", "reminder/queued/1440", "reminder/queued/120"]
    );
    set_clock(&app, "2026-11-22T03:30:05Z");
    wait_for(
        &app,
        "the day-before reminder",
        &["booked/sent", "reminder/sent/1440", "reminder/queued/120"],
    )
    .await;

    // Moved to 09:30: the old evening reminder is withdrawn in the same commit; the new time
    // gets its confirmation and its own reminders (a day before is still ahead: 09:30 today).
    let (status, moved) = app
        .call(
            &format!("/api/v1/bookings/{id}/reschedule"),
            Some(json!({"start": MONDAY_HALF_PAST_NINE})),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    let seen = wait_for(
        &app,
        "the move",
        &[
            "booked/sent",
            "reminder/sent/1440",
            "reminder/withdrawn/120",
            "rescheduled/sent",
            "reminder/queued/1440",
            "reminder/queued/120",
        ],
    )
    .await;
    assert_eq!(param(&seen[3], "when"), Some("2026-11-23 09:30"));
    assert_eq!(seen[4]["next_try"], "2026-11-22T04:00:00Z");

    // Cancelled: one message, and nothing more will come.
    let (status, _) = app
        .call(&format!("/api/v1/bookings/{id}/cancel"), None)
        .await;
    assert_eq!(status, 200);
    wait_for(
        &app,
        "the cancel",
        &[
            "booked/sent",
            "reminder/sent/1440",
            "reminder/withdrawn/120",
            "rescheduled/sent",
            "reminder/withdrawn/1440",
            "reminder/withdrawn/120",
            "cancelled/sent",
        ],
    )
    .await;
    // The withdrawals held across a restart, and the evening passes in silence.
    let app = app.restart().await;
    set_clock(&app, "2026-11-22T16:00:00Z");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let after = summary(&rows(&app).await);
    assert_eq!(
        after.iter().filter(|s| s.contains("sent")).count(),
        4,
        "{after:?}"
    );
}

#[tokio::test]
async fn reception_may_record_a_number_without_consent_and_no_message_goes_to_it() {
    let app = clinic(|_| {}).await;
    let (status, booked) = app
        .call(
            "/api/v1/bookings",
            Some(
                json!({"doctor": DOCTOR_NAME, "service": "general", "start": MONDAY_NINE,
                "patient": {"name": "Ravi", "phone": "98450 55555", "messages": false}}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{booked}");
    let (status, ticket) = app
        .call(
            "/api/v1/tickets",
            Some(json!({"service": "general", "priority": "normal",
                "patient": {"name": "Ravi", "phone": "98450 55555", "messages": false}})),
        )
        .await;
    assert_eq!(status, 201, "{ticket}");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(summary(&rows(&app).await), Vec::<String>::new());
    // The number is kept for a call back all the same.
    let (status, patient) = app
        .get_json(&format!("/api/v1/tickets/{}/patient", ticket["id"]))
        .await;
    assert_eq!(status, 200, "{patient}");
    assert_eq!(patient["messages"], false);
    assert_eq!(patient["phone"], "98450 55555");
}

async fn public(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let r = app
        .anon
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn code_of(status_body: &(u16, Value)) -> (u16, &str) {
    (
        status_body.0,
        status_body.1["error"]["code"].as_str().unwrap_or(""),
    )
}

#[tokio::test]
async fn the_booking_page_books_only_with_the_code_texted_to_the_phone() {
    let app = clinic(|c| {
        c.appointments.public_booking = true;
        c.appointments.public_bookings_per_minute = 0;
    })
    .await;
    let page = app.anon.get(app.url("/book")).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(
        html.contains("\"verify_phone\":true"),
        "the page knows it asks"
    );
    let asha = json!({"doctor": DOCTOR_NAME, "service": "general", "start": MONDAY_NINE,
        "name": "Asha", "phone": "+91 98450 12345", "language": "hi", "messages": true});
    let answer = public(&app, "/api/v1/public/bookings", asha.clone()).await;
    assert_eq!(
        code_of(&answer),
        (422, "phone-code-required"),
        "{}",
        answer.1
    );

    // Bad numbers are refused and send nothing.
    for bad in ["12", "call me", "+91 98450 12345 and more text"] {
        let answer = public(&app, "/api/v1/public/phone-code", json!({"phone": bad})).await;
        assert_eq!(
            code_of(&answer),
            (400, "invalid-body"),
            "{bad}: {}",
            answer.1
        );
    }
    let mut events = app.events("").await;
    let sent = public(
        &app,
        "/api/v1/public/phone-code",
        json!({"phone": "98450 12345", "language": "hi"}),
    )
    .await;
    assert_eq!(sent.0, 202, "{}", sent.1);
    assert_eq!(sent.1["expires_in"], 600);
    // The event says a code went, and neither the number nor the code.
    let event = events.next_event("phone_code_sent").await;
    assert!(!event.to_string().contains("98450"), "{event}");
    let seen = wait_for(&app, "the code's message", &["code/sent"]).await;
    let code = param(&seen[0], "code").unwrap().to_owned();
    assert_eq!(code.len(), 6);
    assert!(!event.to_string().contains(&code), "{event}");

    // A wrong code is refused, the right one books (the same phone in another form), once.
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let mut with = asha.clone();
    with["code"] = json!(wrong);
    let answer = public(&app, "/api/v1/public/bookings", with.clone()).await;
    assert_eq!(code_of(&answer), (422, "phone-code-wrong"), "{}", answer.1);
    with["code"] = json!(code);
    let answer = public(&app, "/api/v1/public/bookings", with.clone()).await;
    assert_eq!(answer.0, 201, "{}", answer.1);
    let rows_now = wait_for(
        &app,
        "the booking's messages",
        &[
            "code/sent",
            "booked/sent",
            "reminder/queued/1440",
            "reminder/queued/120",
        ],
    )
    .await;
    assert_eq!(rows_now[1]["language"], "hi");
    with["start"] = json!(MONDAY_HALF_PAST_NINE);
    with["phone"] = json!("8888888888");
    let answer = public(&app, "/api/v1/public/bookings", with.clone()).await;
    assert_eq!(
        code_of(&answer),
        (422, "phone-code-required"),
        "{}",
        answer.1
    );

    // Three codes an hour a phone; the fourth is refused and sends nothing.
    for _ in 0..2 {
        let answer = public(
            &app,
            "/api/v1/public/phone-code",
            json!({"phone": "9845012345"}),
        )
        .await;
        assert_eq!(answer.0, 202, "{}", answer.1);
    }
    let answer = public(
        &app,
        "/api/v1/public/phone-code",
        json!({"phone": "+919845012345"}),
    )
    .await;
    assert_eq!(code_of(&answer), (429, "too-many-codes"), "{}", answer.1);
    let codes = rows(&app)
        .await
        .iter()
        .filter(|r| r["kind"] == "code")
        .count();
    assert_eq!(codes, 3);
    // An hour later a code is old: it expired after ten minutes.
    app.advance(jiff::SignedDuration::from_mins(61));
    let sent = public(
        &app,
        "/api/v1/public/phone-code",
        json!({"phone": "9845012345"}),
    )
    .await;
    assert_eq!(sent.0, 202);
    app.advance(jiff::SignedDuration::from_mins(11));
    let newest = rows(&app).await;
    let code = param(newest.last().unwrap(), "code").unwrap().to_owned();
    let mut late = asha.clone();
    late["start"] = json!("2026-11-23T04:15:00Z");
    late["code"] = json!(code);
    let answer = public(&app, "/api/v1/public/bookings", late).await;
    assert_eq!(
        code_of(&answer),
        (422, "phone-code-expired"),
        "{}",
        answer.1
    );
}

#[tokio::test]
async fn without_a_text_message_transport_the_booking_page_needs_no_code() {
    let app = clinic(|c| {
        c.notify.sms = String::new();
        c.appointments.public_booking = true;
    })
    .await;
    let answer = public(
        &app,
        "/api/v1/public/phone-code",
        json!({"phone": "9845012345"}),
    )
    .await;
    assert_eq!(
        code_of(&answer),
        (409, "phone-code-unavailable"),
        "{}",
        answer.1
    );
    let answer = public(
        &app,
        "/api/v1/public/bookings",
        json!({"doctor": DOCTOR_NAME, "service": "general", "start": MONDAY_NINE,
            "name": "Asha", "phone": "9845012345"}),
    )
    .await;
    assert_eq!(answer.0, 201, "{}", answer.1);
}

#[tokio::test]
async fn a_waiting_patient_gets_a_heads_up_then_a_near_message_and_no_more() {
    let app = TestApp::spawn_with(|c| {
        c.notify.sms = "fake".to_owned();
        c.notify.near_ahead = 1;
        c.notify.near_early = 3;
        c.notify.poll_secs = 1;
    })
    .await;
    for _ in 0..5 {
        app.issue("general", "normal").await;
    }
    let (status, ticket) = app
        .call(
            "/api/v1/tickets",
            Some(json!({"service": "general", "priority": "normal",
                "patient": {"phone": "+91 98450 12345"}})),
        )
        .await;
    assert_eq!(status, 201, "{ticket}");
    // 5 ahead: nothing; 4; 3: the heads-up; 2: nothing; 1: near; 0: nothing more.
    for room in ["room-1", "room-2", "room-1", "room-2", "room-1"] {
        app.advance(jiff::SignedDuration::from_secs(3));
        app.next(room).await;
    }
    let seen = wait_for(
        &app,
        "two near messages",
        &["issued/sent", "near/sent", "near/sent"],
    )
    .await;
    assert_eq!(param(&seen[1], "ahead"), Some("3"));
    assert_eq!(param(&seen[1], "level"), Some("early"));
    assert_eq!(param(&seen[2], "ahead"), Some("1"));
    assert_eq!(param(&seen[2], "level"), None);
    // Told, twice, across a restart: its call adds no third.
    let app = app.restart().await;
    app.advance(jiff::SignedDuration::from_secs(3));
    app.next("room-2").await;
    wait_for(
        &app,
        "the call",
        &["issued/sent", "near/sent", "near/sent", "called/sent"],
    )
    .await;
}

#[tokio::test]
async fn checking_in_withdraws_the_reminder_not_yet_sent() {
    let app = clinic(|c| c.notify.reminder_minutes = vec![20]).await;
    let (status, booked) = app
        .call(
            "/api/v1/bookings",
            Some(
                json!({"doctor": DOCTOR_NAME, "service": "general", "start": MONDAY_NINE,
                "patient": {"name": "Asha", "phone": "+91 98450 12345"}}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{booked}");
    let seen = wait_for(&app, "booked", &["booked/sent", "reminder/queued/20"]).await;
    assert_eq!(seen[1]["next_try"], "2026-11-23T03:10:00Z");
    // 08:35 on Monday: she is here before her reminder.
    set_clock(&app, "2026-11-23T03:05:00Z");
    let (status, ticket) = app
        .call(&format!("/api/v1/bookings/{}/check-in", booked["id"]), None)
        .await;
    assert_eq!(status, 201, "{ticket}");
    set_clock(&app, "2026-11-23T03:15:00Z");
    wait_for(
        &app,
        "the check-in",
        &["booked/sent", "reminder/withdrawn/20", "issued/sent"],
    )
    .await;
}

#[tokio::test]
async fn a_bookings_messages_and_the_phone_codes_go_with_the_retention_rule() {
    let app = clinic(|c| {
        c.store.patient_details_days = 30;
        c.appointments.public_booking = true;
        c.appointments.public_bookings_per_minute = 0;
    })
    .await;
    let (status, booked) = app
        .call(
            "/api/v1/bookings",
            Some(
                json!({"doctor": DOCTOR_NAME, "service": "general", "start": MONDAY_NINE,
                "patient": {"name": "Asha", "phone": "+91 98450 12345"}}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{booked}");
    let sent = public(
        &app,
        "/api/v1/public/phone-code",
        json!({"phone": "98450 99999"}),
    )
    .await;
    assert_eq!(sent.0, 202, "{}", sent.1);
    wait_until(PATIENCE, "four rows", async || rows(&app).await.len() == 4).await;

    let mut events = app.events("").await;
    app.advance(jiff::SignedDuration::from_hours(24 * 31));
    app.issue("lab", "normal").await;
    let purged = events.next_event("personal_data_purged").await;
    assert_eq!(purged["records"], 1, "{purged}");
    // The booking's confirmation and reminders, and the code, went with the details.
    let (_, page) = app.get_json("/api/v1/notifications").await;
    assert_eq!(page["notifications"], json!([]), "{page}");
    assert!(!page.to_string().contains("98450"), "{page}");
}
