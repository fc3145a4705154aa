//! Appointments over HTTP: plans checked as an admin sets them, slots in the clinic's zone
//! (+05:30), the last seat of a slot claimed by exactly one of 64 requests at once, reschedule
//! and cancel, and all of it kept across a restart.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::common::{DOCTOR_NAME, RECEPTION_NAME, TestApp};

/// The demo clinic in Kolkata (the test clock starts on Saturday 21 November 2026, 15:30 there).
async fn clinic() -> TestApp {
    TestApp::spawn_with(|c| c.clinic.timezone = "Asia/Kolkata".to_owned()).await
}

/// The doctor's plan: weekdays 09:00–10:00, 15-minute slots, `seats` a slot.
fn plan(seats: u16) -> Value {
    let morning = json!([{"start": "09:00", "end": "10:00"}]);
    json!({
        "doctor": DOCTOR_NAME,
        "service": "general",
        "weekly": [morning, morning, morning, morning, morning, [], []],
        "slot_minutes": 15,
        "seats": seats,
        "horizon_days": 14,
        "per_patient_per_day": 1,
    })
}

async fn put(app: &TestApp, path: &str, body: &Value) -> (u16, Value) {
    let r = app
        .client
        .put(app.url(path))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn book(start: &str, phone: &str) -> Value {
    json!({
        "doctor": DOCTOR_NAME,
        "service": "general",
        "start": start,
        "patient": {"name": "Asha", "phone": phone},
    })
}

/// Monday 23 November 2026, 09:00 in Kolkata.
const MONDAY_NINE: &str = "2026-11-23T03:30:00Z";

#[tokio::test]
async fn a_plan_is_checked_and_gives_slots_in_the_clinics_zone() {
    let app = clinic().await;
    // Mistakes are named and change nothing.
    let mut backwards = plan(1);
    backwards["weekly"][0] = json!([{"start": "10:00", "end": "09:00"}]);
    let (status, body) = put(&app, "/api/v1/admin/plans", &backwards).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid-plan");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Monday hours: 10:00 – 09:00 ends before it starts"),
        "{body}"
    );
    let mut receptionist = plan(1);
    receptionist["doctor"] = json!(RECEPTION_NAME);
    let (status, body) = put(&app, "/api/v1/admin/plans", &receptionist).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("not-a-doctor")),
        "{body}"
    );
    let mut nowhere = plan(1);
    nowhere["service"] = json!("dentistry");
    let (status, body) = put(&app, "/api/v1/admin/plans", &nowhere).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("unknown-service")),
        "{body}"
    );
    let (status, body) = put(&app, "/api/v1/admin/plans", &json!({"doctor": 5})).await;
    assert_eq!(status, 400, "{body}");
    let (_, plans) = app.get_json("/api/v1/plans").await;
    assert_eq!(plans, json!([]));

    let (status, body) = put(&app, "/api/v1/admin/plans", &plan(2)).await;
    assert_eq!(status, 200, "{body}");
    let (_, plans) = app.get_json("/api/v1/plans").await;
    assert_eq!(plans.as_array().unwrap().len(), 1);

    // Monday's four slots, at 09:00 Kolkata time = 03:30 UTC.
    let (status, slots) = app
        .get_json("/api/v1/slots?service=general&date=2026-11-23")
        .await;
    assert_eq!(status, 200, "{slots}");
    let starts: Vec<&str> = slots
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["local"].as_str().unwrap())
        .collect();
    assert_eq!(
        starts,
        [
            "2026-11-23T09:00:00+05:30",
            "2026-11-23T09:15:00+05:30",
            "2026-11-23T09:30:00+05:30",
            "2026-11-23T09:45:00+05:30"
        ]
    );
    assert_eq!(slots[0]["start"], MONDAY_NINE);
    assert_eq!(slots[0]["free"], 2);
    // Sunday: none. Two weeks: ten weekdays' worth, but only within the 14-day horizon.
    let (_, sunday) = app
        .get_json("/api/v1/slots?service=general&date=2026-11-22")
        .await;
    assert_eq!(sunday, json!([]));
    let (_, week) = app
        .get_json("/api/v1/slots?service=general&date=2026-11-23&days=7")
        .await;
    assert_eq!(week.as_array().unwrap().len(), 5 * 4);
    for bad in [
        "/api/v1/slots",
        "/api/v1/slots?service=general&days=0",
        "/api/v1/slots?service=general&date=23-11-2026",
        "/api/v1/slots?service=general&colour=red",
    ] {
        let (status, body) = app.get_json(bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "invalid-query", "{bad}: {body}");
    }
    let (status, body) = app
        .get_json("/api/v1/slots?service=general&doctor=nobody")
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("no-plan")),
        "{body}"
    );
}

#[tokio::test]
async fn sixty_four_requests_for_the_last_seat_book_it_once() {
    let app = clinic().await;
    let (status, body) = put(&app, "/api/v1/admin/plans", &plan(2)).await;
    assert_eq!(status, 200, "{body}");
    let (status, first) = app
        .call("/api/v1/bookings", Some(book(MONDAY_NINE, "98100 00000")))
        .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["local"], "2026-11-23T09:00:00+05:30");
    assert_eq!(first["state"], "booked");
    assert_eq!(first["code"].as_str().unwrap().len(), 6);

    // 64 patients (different phones) for the one seat left, at once.
    let attempts = (0..64).map(|i| {
        let app = &app;
        async move {
            app.call(
                "/api/v1/bookings",
                Some(book(MONDAY_NINE, &format!("9820{i:06}"))),
            )
            .await
        }
    });
    let answers = join_all(attempts).await;
    let won: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 201)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(won.len(), 1, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != 201) {
        assert_eq!(*status, 409, "{body}");
        assert_eq!(body["error"]["code"], "slot-taken", "{body}");
    }
    let (_, slots) = app
        .get_json("/api/v1/slots?service=general&date=2026-11-23")
        .await;
    assert_eq!(slots[0]["free"], 0, "{slots}");
    let (_, day) = app.get_json("/api/v1/bookings?date=2026-11-23").await;
    assert_eq!(day.as_array().unwrap().len(), 2, "{day}");
    // Reception sees the patients' details; the codes differ.
    assert_eq!(day[0]["patient"]["name"], "Asha");
    assert_ne!(day[0]["code"], day[1]["code"]);

    // Kept across a restart, seats and all.
    let app = app.restart().await;
    let (_, slots) = app
        .get_json("/api/v1/slots?service=general&date=2026-11-23")
        .await;
    assert_eq!(slots[0]["free"], 0, "{slots}");
    let (status, body) = app
        .call("/api/v1/bookings", Some(book(MONDAY_NINE, "9999999999")))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("slot-taken")),
        "{body}"
    );
    // The audit trail has each booking.
    let (_, audit) = app
        .get_json("/api/v1/audit?kind=appointment_changed&limit=100")
        .await;
    assert_eq!(audit["events"].as_array().map(Vec::len), Some(3), "{audit}");
}

#[tokio::test]
async fn a_reschedule_keeps_the_old_slot_when_the_new_one_is_taken_and_a_cancel_frees_it() {
    let app = clinic().await;
    put(&app, "/api/v1/admin/plans", &plan(1)).await;
    let quarter_past = "2026-11-23T03:45:00Z";
    let (_, a) = app
        .call("/api/v1/bookings", Some(book(MONDAY_NINE, "1111111111")))
        .await;
    let (_, b) = app
        .call("/api/v1/bookings", Some(book(quarter_past, "2222222222")))
        .await;
    let a_id = a["id"].as_u64().unwrap();
    let b_id = b["id"].as_u64().unwrap();
    let (status, body) = app
        .call(
            &format!("/api/v1/bookings/{a_id}/reschedule"),
            Some(json!({"start": quarter_past})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("slot-taken")),
        "{body}"
    );
    let (_, still) = app.get_json(&format!("/api/v1/bookings/{a_id}")).await;
    assert_eq!(still["start"], MONDAY_NINE);

    let (status, cancelled) = app
        .call(&format!("/api/v1/bookings/{b_id}/cancel"), None)
        .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["state"], "cancelled");
    let (status, moved) = app
        .call(
            &format!("/api/v1/bookings/{a_id}/reschedule"),
            Some(json!({"start": quarter_past})),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["local"], "2026-11-23T09:15:00+05:30");
    let (_, slots) = app
        .get_json("/api/v1/slots?service=general&date=2026-11-23")
        .await;
    assert_eq!(slots[0]["free"], 1, "09:00 is free again: {slots}");
    assert_eq!(slots[1]["free"], 0);
    // Once cancelled, always cancelled.
    let (status, body) = app
        .call(&format!("/api/v1/bookings/{b_id}/cancel"), None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("booking-not-open")),
        "{body}"
    );
}

#[tokio::test]
async fn bookings_refuse_what_is_not_a_bookable_slot_and_change_nothing() {
    let app = clinic().await;
    put(&app, "/api/v1/admin/plans", &plan(1)).await;
    for (body, status, code) in [
        (book("2026-11-23T03:40:00Z", "1"), 422, "no-such-slot"),
        (book("2026-11-20T03:30:00Z", "1"), 422, "slot-past"),
        (book("2026-12-21T03:30:00Z", "1"), 422, "beyond-horizon"),
        (
            json!({"doctor": "nobody", "service": "general", "start": MONDAY_NINE}),
            404,
            "no-plan",
        ),
        (
            json!({"doctor": DOCTOR_NAME, "service": "general", "start": "monday"}),
            400,
            "invalid-body",
        ),
        (
            json!({"doctor": DOCTOR_NAME, "service": "general", "start": MONDAY_NINE, "vip": true}),
            400,
            "invalid-body",
        ),
        (
            json!({"doctor": DOCTOR_NAME, "service": "general", "start": MONDAY_NINE, "overbook": true}),
            403,
            "overbook-needs-staff",
        ),
    ] {
        let (got, answer) = app.call("/api/v1/bookings", Some(body.clone())).await;
        assert_eq!(got, status, "{body} → {answer}");
        assert_eq!(answer["error"]["code"], code, "{body} → {answer}");
    }
    let (_, day) = app.get_json("/api/v1/bookings?date=2026-11-23").await;
    assert_eq!(day, json!([]));
    // Without a login: no booking, no slots.
    let r = app
        .anon
        .post(app.url("/api/v1/bookings"))
        .json(&book(MONDAY_NINE, "1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .anon
        .get(app.url("/api/v1/slots?service=general"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn a_bookings_patient_details_are_deleted_with_the_retention_rule() {
    let app = TestApp::spawn_with(|c| {
        c.clinic.timezone = "Asia/Kolkata".to_owned();
        c.store.patient_details_days = 30;
    })
    .await;
    put(&app, "/api/v1/admin/plans", &plan(1)).await;
    let (status, booked) = app
        .call("/api/v1/bookings", Some(book(MONDAY_NINE, "9845012345")))
        .await;
    assert_eq!(status, 201, "{booked}");
    let id = booked["id"].as_u64().unwrap();
    let (_, read) = app.get_json(&format!("/api/v1/bookings/{id}")).await;
    assert_eq!(read["patient"]["phone"], "9845012345", "{read}");

    let mut events = app.events("").await;
    app.advance(jiff::SignedDuration::from_hours(24 * 31));
    app.issue("lab", "normal").await;
    let purged = events.next_event("personal_data_purged").await;
    assert_eq!(purged["records"], 1, "{purged}");
    let (status, read) = app.get_json(&format!("/api/v1/bookings/{id}")).await;
    assert_eq!(status, 200, "the booking stays: {read}");
    assert!(read["patient"].is_null(), "{read}");
    assert!(!read.to_string().contains("98450"), "{read}");
}

/// `at` Kolkata time on Monday 23 November 2026 ("08:40"), as UTC.
fn monday(hm: &str) -> jiff::Timestamp {
    let local: jiff::civil::DateTime = format!("2026-11-23T{hm}:00").parse().unwrap();
    local
        .to_zoned(jiff::tz::TimeZone::get("Asia/Kolkata").unwrap())
        .unwrap()
        .timestamp()
}

/// Moves the clock to `hm` on Monday in Kolkata.
fn set_monday(app: &TestApp, hm: &str) {
    use waitless::clock::Clock;
    let now = app.clock.now();
    app.advance(now.duration_until(monday(hm)));
}

async fn book_as(app: &TestApp, start: &str, phone: &str, name: &str) -> Value {
    let mut body = book(start, phone);
    body["patient"]["name"] = json!(name);
    let (status, booked) = app.call("/api/v1/bookings", Some(body)).await;
    assert_eq!(status, 201, "{booked}");
    booked
}

async fn kiosk_check_in(app: &TestApp, body: Value) -> (u16, Value) {
    let r = app
        .anon
        .post(app.url("/api/v1/check-in"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn booking_state(app: &TestApp, id: &Value) -> String {
    let (_, b) = app.get_json(&format!("/api/v1/bookings/{id}")).await;
    b["state"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_booked_patient_checks_in_at_the_kiosk_and_is_called_by_slot_time_between_walk_ins() {
    let app = clinic().await;
    put(&app, "/api/v1/admin/plans", &plan(1)).await;
    let nine = book_as(&app, MONDAY_NINE, "1111111111", "Meera").await;
    let quarter = book_as(&app, "2026-11-23T03:45:00Z", "98450 22222", "Asha").await;
    let half = book_as(&app, "2026-11-23T04:00:00Z", "3333333333", "Ravi").await;
    let code = nine["code"].as_str().unwrap().to_owned();

    // Saturday: the booking is for Monday.
    let (status, body) = kiosk_check_in(&app, json!({"code": code})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("booking-not-today")),
        "{body}"
    );
    // Monday 08:20: check-in opens 30 minutes before the slot.
    set_monday(&app, "08:20");
    let (status, body) = kiosk_check_in(&app, json!({"code": code})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("too-early-to-check-in")),
        "{body}"
    );
    assert!(
        body["error"]["message"].as_str().unwrap().contains("08:30"),
        "{body}"
    );

    // 08:35 a walk-in comes; 08:40 the 09:00 patient checks in by code, as typed.
    set_monday(&app, "08:35");
    let walk_in_early = app.issue("general", "normal").await;
    set_monday(&app, "08:40");
    let typed = format!(" {}-{} ", &code[..3], code[3..].to_lowercase());
    let (status, ticket) = kiosk_check_in(&app, json!({"code": typed, "print": false})).await;
    assert_eq!(status, 201, "{ticket}");
    assert_eq!(ticket["priority"], "appointment");
    assert_eq!(
        ticket["queued_at"], MONDAY_NINE,
        "queued at the slot: {ticket}"
    );
    assert_eq!(ticket["source"], "kiosk");
    assert_eq!(ticket["booking"]["code"], code.as_str());
    assert_eq!(ticket["booking"]["late"], false);
    assert_eq!(ticket["booking"]["local"], "2026-11-23T09:00:00+05:30");
    assert!(ticket["status_path"].as_str().unwrap().starts_with("/t/"));
    assert_eq!(booking_state(&app, &nine["id"]).await, "checked_in");
    // The ticket keeps the booking's patient (reception sees the name; messages can reach them).
    let (status, patient) = app
        .get_json(&format!("/api/v1/tickets/{}/patient", ticket["id"]))
        .await;
    assert_eq!(
        (status, patient["name"].as_str()),
        (200, Some("Meera")),
        "{patient}"
    );
    // Once is enough.
    let (status, body) = kiosk_check_in(&app, json!({"code": code})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("booking-not-open")),
        "{body}"
    );

    // 08:50: the slot has not come, so the walk-in who came first is called first.
    set_monday(&app, "08:50");
    let next = app.next("room-1").await;
    assert_eq!(next["called"]["id"], walk_in_early["id"], "{next}");
    // 08:55 another walk-in; 09:01 the booked patient's slot is due: called before them.
    set_monday(&app, "08:55");
    let walk_in_late = app.issue("general", "normal").await;
    set_monday(&app, "09:01");
    let next = app.next("room-1").await;
    assert_eq!(next["called"]["id"], ticket["id"], "{next}");
    assert_eq!(next["reason"]["class"], "appointment", "{next}");

    // 09:20: the 09:15 patient checks in by phone and first letter (within the late window).
    set_monday(&app, "09:20");
    let (status, wrong) =
        kiosk_check_in(&app, json!({"phone": "9845022222", "initial": "R"})).await;
    assert_eq!(
        (status, wrong["error"]["code"].as_str()),
        (404, Some("no-booking-today")),
        "{wrong}"
    );
    let (status, by_phone) = kiosk_check_in(
        &app,
        json!({"phone": "+91 98450 22222", "initial": "a", "print": false}),
    )
    .await;
    assert_eq!(status, 201, "{by_phone}");
    assert_eq!(by_phone["priority"], "appointment");
    assert_eq!(by_phone["booking"]["id"], quarter["id"]);
    let next = app.next("room-1").await;
    assert_eq!(next["called"]["id"], by_phone["id"], "{next}");
    app.advance(jiff::SignedDuration::from_secs(3)); // past the double-press window
    let next = app.next("room-1").await;
    assert_eq!(next["called"]["id"], walk_in_late["id"], "{next}");

    // The 09:30 patient does not come: after 09:45 the booking becomes a no-show by itself.
    set_monday(&app, "09:47");
    let deadline = std::time::Instant::now() + crate::common::PATIENCE;
    while booking_state(&app, &half["id"]).await != "no_show" {
        assert!(std::time::Instant::now() < deadline, "no automatic no-show");
        app.advance(jiff::SignedDuration::from_secs(61));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // ...and if they come after all, reception checks them in as a walk-in.
    let (status, late) = app
        .call(&format!("/api/v1/bookings/{}/check-in", half["id"]), None)
        .await;
    assert_eq!(status, 201, "{late}");
    assert_eq!(late["priority"], "normal");
    assert_eq!(late["source"], "reception");
    assert_eq!(late["booking"]["late"], true);
    assert_eq!(booking_state(&app, &half["id"]).await, "checked_in");

    // The audit trail has the check-in as the ticket's issue, naming the booking.
    let (_, audit) = app.get_json("/api/v1/audit?kind=ticket_issued").await;
    let text = audit.to_string();
    assert!(text.contains("\"booking\""), "{text}");
}

#[tokio::test]
async fn check_in_refuses_what_is_not_a_booking_and_changes_nothing() {
    let app = clinic().await;
    let (_, before) = app.get_json("/api/v1/queue").await;
    for (body, status, code) in [
        (json!({}), 400, "invalid-body"),
        (json!({"code": "0O1IL2"}), 400, "invalid-booking-code"),
        (json!({"code": "ACDEFH"}), 404, "no-booking-today"),
        (json!({"phone": "12"}), 400, "invalid-body"),
        (
            json!({"phone": "9845012345", "initial": "ab"}),
            400,
            "invalid-body",
        ),
        (
            json!({"phone": "9845012345", "initial": "7"}),
            400,
            "invalid-body",
        ),
        (json!({"code": "ACDEFH", "extra": 1}), 400, "invalid-body"),
    ] {
        let (got, body_back) = kiosk_check_in(&app, body.clone()).await;
        assert_eq!(
            (got, body_back["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}: {body_back}"
        );
    }
    let (status, body) = app
        .call(
            "/api/v1/tickets",
            Some(json!({"service": "general", "priority": "appointment"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("appointment-needs-check-in")),
        "{body}"
    );
    let (status, body) = app.call("/api/v1/bookings/99/check-in", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("booking-not-found"))
    );
    let r = app
        .anon
        .post(app.url("/api/v1/bookings/1/check-in"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (_, after) = app.get_json("/api/v1/queue").await;
    assert_eq!(before["seq"], after["seq"]);
}

#[tokio::test]
async fn the_public_booking_page_is_off_by_default() {
    let app = clinic().await;
    put(&app, "/api/v1/admin/plans", &plan(1)).await;
    for path in ["/book", "/api/v1/public/slots?service=general"] {
        let r = app.anon.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    let r = app
        .anon
        .post(app.url("/api/v1/public/bookings"))
        .json(
            &json!({"doctor": DOCTOR_NAME, "service": "general", "start": MONDAY_NINE,
                      "name": "Asha", "phone": "9845012345"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn a_patient_books_on_the_public_page_gets_a_link_a_calendar_entry_and_can_cancel() {
    let app = TestApp::spawn_with(|c| {
        c.clinic.timezone = "Asia/Kolkata".to_owned();
        c.appointments.public_booking = true;
        c.appointments.public_bookings_per_minute = 2;
    })
    .await;
    let mut with_notice = plan(1);
    with_notice["min_notice_minutes"] = json!(60);
    put(&app, "/api/v1/admin/plans", &with_notice).await;
    let page = app.anon.get(app.url("/book?lang=hi")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("अपॉइंटमेंट बुक करें"));

    let r = app
        .anon
        .get(app.url("/api/v1/public/slots?service=general&date=2026-11-23"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let slots: Value = r.json().await.unwrap();
    assert_eq!(slots.as_array().unwrap().len(), 4, "{slots}");
    assert_eq!(slots[0]["start"], MONDAY_NINE);

    let public_book = |body: Value| {
        let app = &app;
        async move {
            let r = app
                .anon
                .post(app.url("/api/v1/public/bookings"))
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let asha = json!({"doctor": DOCTOR_NAME, "service": "general", "start": MONDAY_NINE,
                      "name": "Asha", "phone": "+91 98450 12345", "language": "hi"});
    // A phone number is required; staff-only overbooking is not a field here.
    let mut no_phone = asha.clone();
    no_phone["phone"] = json!("");
    let (status, body) = public_book(no_phone).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid-body")),
        "{body}"
    );
    let mut overbook = asha.clone();
    overbook["overbook"] = json!(true);
    assert_eq!(public_book(overbook).await.0, 400);

    let (status, made) = public_book(asha.clone()).await;
    assert_eq!(status, 201, "{made}");
    let code = made["code"].as_str().unwrap();
    assert_eq!(code.len(), 6);
    assert_eq!(made["state"], "booked");
    assert_eq!(made["cancellable"], true);
    assert!(made.get("patient").is_none(), "{made}");
    let link = made["link"].as_str().unwrap().to_owned();
    assert!(link.starts_with("/b/"), "{link}");
    let token = link.trim_start_matches("/b/");

    // The slot is taken: the same time again is refused, and the rate limit comes next.
    let mut ravi = asha.clone();
    ravi["phone"] = json!("9845000000");
    let (status, body) = public_book(ravi.clone()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("slot-taken")),
        "{body}"
    );
    ravi["start"] = json!("2026-11-23T03:45:00Z");
    let (status, body) = public_book(ravi).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("too-many-bookings")),
        "{body}"
    );

    // Staff see it as booked on the public channel, with the patient's details.
    let (_, staff_view) = app
        .get_json(&format!(
            "/api/v1/bookings/{}",
            booking_id(&app, code).await
        ))
        .await;
    assert_eq!(staff_view["patient"]["name"], "Asha", "{staff_view}");

    // The booking's page, its API, its calendar entry; a forged token opens nothing.
    let page = app.anon.get(app.url(&link)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    // The last hex digit changed (to another digit, whatever it was).
    let last = if link.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &link[..link.len() - 1]);
    let r = app.anon.get(app.url(&forged)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = app
        .anon
        .get(app.url(&format!("/api/v1/public/bookings/{token}")))
        .send()
        .await
        .unwrap();
    let seen: Value = r.json().await.unwrap();
    assert_eq!(seen["code"], code);
    assert_eq!(seen["local"], "2026-11-23T09:00:00+05:30");
    let ics = app
        .anon
        .get(app.url(&format!("{link}/booking.ics")))
        .send()
        .await
        .unwrap();
    assert_eq!(ics.status(), 200);
    assert!(
        ics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let text = ics.text().await.unwrap();
    assert!(text.contains("BEGIN:VEVENT"), "{text}");
    assert!(text.contains("DTSTART:20261123T033000Z"), "{text}");
    assert!(text.contains(code), "{text}");
    assert!(
        !text.contains("98450"),
        "no phone number in the calendar entry: {text}"
    );

    // The patient moves it from the link, to a free time of the same service, in one step.
    let r = app
        .anon
        .get(app.url(&format!(
            "/api/v1/public/bookings/{token}/slots?date=2026-11-23"
        )))
        .send()
        .await
        .unwrap();
    let free: Value = r.json().await.unwrap();
    assert_eq!(
        free.as_array().unwrap().len(),
        3,
        "09:00 is taken by this booking: {free}"
    );
    let r = app
        .anon
        .post(app.url(&format!("/api/v1/public/bookings/{token}/reschedule")))
        .json(&json!({"doctor": DOCTOR_NAME, "start": "2026-11-23T03:45:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let moved: Value = r.json().await.unwrap();
    assert_eq!(moved["local"], "2026-11-23T09:15:00+05:30", "{moved}");
    assert_eq!(moved["code"], code, "the code stays");
    let r = app
        .anon
        .post(app.url(&format!("/api/v1/public/bookings/{token}/reschedule")))
        .json(&json!({"doctor": DOCTOR_NAME, "start": "2026-11-23T03:47:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "not a slot");

    // The patient cancels: the seat is free again; twice is refused.
    let cancel = || {
        app.anon
            .post(app.url(&format!("/api/v1/public/bookings/{token}/cancel")))
            .send()
    };
    let r = cancel().await.unwrap();
    assert_eq!(r.status(), 200);
    let after: Value = r.json().await.unwrap();
    assert_eq!(after["state"], "cancelled");
    assert_eq!(after["cancellable"], false);
    let r = cancel().await.unwrap();
    assert_eq!(r.status(), 409);
    let (_, slots) = app
        .get_json("/api/v1/slots?service=general&date=2026-11-23")
        .await;
    assert_eq!(slots[0]["free"], 1, "{slots}");
    assert_eq!(slots[1]["free"], 1, "{slots}");
}

/// A booking's id from its code (reception's list of the day).
async fn booking_id(app: &TestApp, code: &str) -> u64 {
    let (_, day) = app.get_json("/api/v1/bookings?date=2026-11-23").await;
    day.as_array()
        .unwrap()
        .iter()
        .find(|b| b["code"] == code)
        .and_then(|b| b["id"].as_u64())
        .unwrap()
}

#[tokio::test]
async fn a_bookings_page_shows_its_code_as_a_qr_code_for_the_kiosks_scanner() {
    let app = TestApp::spawn_with(|c| {
        c.clinic.timezone = "Asia/Kolkata".to_owned();
        c.appointments.public_booking = true;
    })
    .await;
    put(&app, "/api/v1/admin/plans", &plan(1)).await;
    let r = app
        .anon
        .post(app.url("/api/v1/public/bookings"))
        .json(
            &json!({"doctor": DOCTOR_NAME, "service": "general", "start": MONDAY_NINE,
            "name": "Asha", "phone": "98450 12345"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let booked: Value = r.json().await.unwrap();
    let link = booked["link"].as_str().unwrap().to_owned();
    let r = app
        .anon
        .get(app.url(&format!("{link}/qr.svg")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    let svg = r.text().await.unwrap();
    assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "{svg}");
    // A forged link gets nothing.
    let forged = format!("{}0/qr.svg", &link[..link.len() - 1]);
    let forged = if forged == format!("{link}/qr.svg") {
        format!("{}1/qr.svg", &link[..link.len() - 1])
    } else {
        forged
    };
    let r = app.anon.get(app.url(&forged)).send().await.unwrap();
    assert_eq!(r.status(), 404);
}
