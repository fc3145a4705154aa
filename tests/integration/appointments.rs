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
