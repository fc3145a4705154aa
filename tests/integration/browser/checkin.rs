//! A booked patient checks in at the kiosk (800×480, the smallest screen): "I have an
//! appointment", the booking code on the screen's keys (a wrong code first, said in words), and
//! the ticket in the appointment class. Reception's list of the day's bookings checks a patient
//! in with one button; the doctor's console shows their day.

use serde_json::json;

use super::driver::Driver;
use super::screens::shot_path;
use super::server::Server;
use super::staff_roles::{live, login_to};
use super::{ONE_AT_A_TIME, PAGE, message};
use crate::common::{DOCTOR_NAME, RECEPTION_NAME};

/// The doctor's plan: every day 08:00–10:00, half-hour slots, one seat (the test clinic runs
/// on UTC). Returns tomorrow's date.
pub(super) async fn morning_plan(server: &Server) -> jiff::civil::Date {
    let morning = json!([{"start": "08:00", "end": "10:00"}]);
    let plan = json!({
        "doctor": DOCTOR_NAME, "service": "general", "slot_minutes": 30, "seats": 1,
        "horizon_days": 7,
        "weekly": [morning, morning, morning, morning, morning, morning, morning],
    });
    let r = server
        .client
        .put(server.url("/api/v1/admin/plans"))
        .json(&plan)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    use waitless::clock::Clock;
    server
        .clock
        .now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .tomorrow()
        .unwrap()
}

/// [`morning_plan`] and a booking tomorrow at 08:00 for Asha; the clock moved to tomorrow
/// 07:45 (check-in is open from 07:30). Returns the booking.
async fn booked_for_0800(server: &Server) -> serde_json::Value {
    use waitless::clock::Clock;
    let tomorrow = morning_plan(server).await;
    let eight = tomorrow
        .at(8, 0, 0, 0)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp();
    let (status, booked) = server
        .post_json(
            "/api/v1/bookings",
            Some(
                json!({"doctor": DOCTOR_NAME, "service": "general", "start": eight.to_string(),
                        "patient": {"name": "Asha", "phone": "98100 00000"}}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{booked}");
    let now = server.clock.now();
    server.advance(now.duration_until(eight) - jiff::SignedDuration::from_mins(15));
    booked
}

#[tokio::test]
async fn reception_checks_a_booking_in_from_the_days_list_and_the_doctor_sees_it() {
    let server = Server::spawn().await;
    let _one = ONE_AT_A_TIME.lock().await;
    let booked = booked_for_0800(&server).await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let desk = driver.session(1280, 800).await;
    login_to(&desk, &server, RECEPTION_NAME, "/staff?view=reception").await;
    live(&desk).await;
    let row = format!("#day .day-row[data-booking=\"{}\"]", booked["id"]);
    desk.wait_visible(&format!("{row}[data-state=booked]"), PAGE)
        .await;
    assert_eq!(
        desk.text(&format!("{row} .day-name")).await.as_deref(),
        Some("Asha")
    );
    desk.tap(&format!("{row} .day-check-in"), PAGE).await;
    desk.wait_visible(&format!("{row}[data-state=waiting]"), PAGE)
        .await;
    let _ = desk
        .screenshot(&shot_path("staff-1280x800-day-reception"))
        .await;
    assert_eq!(server.ticket_numbers().await, ["A001"]);
    let ticket = &server.queue().await["counts"];
    assert!(!ticket.is_null());

    let doctor = driver.session(1024, 768).await;
    login_to(&doctor, &server, DOCTOR_NAME, "/staff").await;
    live(&doctor).await;
    doctor
        .wait_visible(&format!("#room-view {row}[data-state=waiting]"), PAGE)
        .await;
    let state = doctor.text(&format!("{row} .day-state")).await.unwrap();
    assert!(state.contains("A001"), "{state}");
    assert!(doctor.text(&format!("{row} .day-check-in")).await.is_none());
    let _ = doctor
        .screenshot(&shot_path("staff-1024x768-day-doctor"))
        .await;
    desk.close().await;
    doctor.close().await;
}

#[tokio::test]
async fn a_booked_patient_checks_in_at_the_kiosk_with_the_code() {
    let server = Server::spawn().await;
    let _one = ONE_AT_A_TIME.lock().await;
    let booked = booked_for_0800(&server).await;
    let code = booked["code"].as_str().unwrap().to_owned();

    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let kiosk = driver.session(800, 480).await;
    kiosk.goto(&server.url("/kiosk?lang=en")).await;
    kiosk.wait_visible("[data-action=appointment]", PAGE).await;
    let _ = kiosk
        .screenshot(&shot_path("kiosk-800x480-services-and-appointment"))
        .await;
    kiosk.tap("[data-action=appointment]", PAGE).await;
    kiosk.wait_visible("#booking-code", PAGE).await;
    // A code that is no booking: refused in words, nothing issued.
    for key in "ACDEFH".chars() {
        kiosk
            .tap(&format!(".k-key[data-key=\"{key}\"]"), PAGE)
            .await;
    }
    kiosk.tap("[data-action=check-in]", PAGE).await;
    kiosk
        .wait_for_text(
            ".k-notice",
            &message("en", "errors.no-booking-today", &[]),
            PAGE,
        )
        .await;
    assert!(server.ticket_numbers().await.is_empty());

    for key in code.chars() {
        kiosk
            .tap(&format!(".k-key[data-key=\"{key}\"]"), PAGE)
            .await;
    }
    let _ = kiosk.screenshot(&shot_path("kiosk-800x480-code")).await;
    kiosk.tap("[data-action=check-in]", PAGE).await;
    let number = kiosk.wait_for_any_text("#ticket-number", PAGE).await;
    assert_eq!(number, "A001");
    assert_eq!(
        kiosk.text(".k-prio-tag").await.as_deref(),
        Some(message("en", "common.priority_appointment", &[]).as_str())
    );
    let _ = kiosk
        .screenshot(&shot_path("kiosk-800x480-checked-in"))
        .await;
    let booking = server
        .get_json(&format!("/api/v1/bookings/{}", booked["id"]))
        .await;
    assert_eq!(booking["state"], "checked_in", "{booking}");
    kiosk.close().await;
}

#[tokio::test]
async fn a_booked_patient_without_the_code_checks_in_by_phone_number_and_initial() {
    let server = Server::spawn().await;
    let _one = ONE_AT_A_TIME.lock().await;
    let booked = booked_for_0800(&server).await;

    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let kiosk = driver.session(800, 480).await;
    kiosk.goto(&server.url("/kiosk?lang=hi")).await;
    kiosk.tap("[data-action=appointment]", PAGE).await;
    kiosk.tap("[data-action=by-phone]", PAGE).await;
    kiosk.wait_visible("#booking-phone", PAGE).await;
    for key in "9810000000".chars() {
        kiosk
            .tap(&format!(".k-key[data-key=\"{key}\"]"), PAGE)
            .await;
    }
    assert_eq!(
        kiosk.text("#booking-phone").await.as_deref(),
        Some("9810000000")
    );
    let _ = kiosk.screenshot(&shot_path("kiosk-800x480-phone-hi")).await;
    kiosk.tap("[data-action=phone-next]", PAGE).await;
    // A letter that is not the name's: refused in words, back at the number, nothing issued.
    kiosk.tap(".k-key[data-key=\"R\"]", PAGE).await;
    kiosk
        .wait_for_text(
            ".k-notice",
            &message("hi", "errors.no-booking-today", &[]),
            PAGE,
        )
        .await;
    assert!(server.ticket_numbers().await.is_empty());
    kiosk.tap("[data-action=phone-next]", PAGE).await;
    kiosk.wait_visible(".k-letter-keys", PAGE).await;
    let _ = kiosk
        .screenshot(&shot_path("kiosk-800x480-initial-hi"))
        .await;
    kiosk.tap(".k-key[data-key=\"A\"]", PAGE).await;
    let number = kiosk.wait_for_any_text("#ticket-number", PAGE).await;
    assert_eq!(number, "A001");
    let booking = server
        .get_json(&format!("/api/v1/bookings/{}", booked["id"]))
        .await;
    assert_eq!(booking["state"], "checked_in", "{booking}");
    kiosk.close().await;
}

/// Chooses `day` (`2026-12-07`) on `/book`, which then asks for its free times.
async fn pick_day(phone: &super::driver::Browser, day: &str) {
    phone
        .js(
            "const d = document.getElementById('book-date'); d.value = arguments[0];
             d.dispatchEvent(new Event('change'));",
            vec![json!(day)],
        )
        .await;
}

#[tokio::test]
async fn a_patient_books_on_their_phone_and_opens_the_booking() {
    let server = Server::spawn_with(|c| c.appointments.public_booking = true).await;
    let _one = ONE_AT_A_TIME.lock().await;
    let tomorrow = morning_plan(&server).await.to_string();
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let phone = driver.session(390, 844).await;
    phone.goto(&server.url("/book?lang=hi")).await;
    pick_day(&phone, &tomorrow).await;
    phone.wait_visible(".b-time", PAGE).await;
    let _ = phone.screenshot(&shot_path("book-390x844-times-hi")).await;
    phone.tap(".b-time", PAGE).await;
    phone.wait_visible("#book-name", PAGE).await;
    phone
        .js(
            "document.getElementById('book-name').value = 'आशा';
             document.getElementById('book-phone').value = '98100 00000';",
            vec![],
        )
        .await;
    phone.tap("#book-submit", PAGE).await;
    let code = phone.wait_for_any_text("#book-code", PAGE).await;
    assert_eq!(code.len(), 6, "{code}");
    let _ = phone.screenshot(&shot_path("book-390x844-done-hi")).await;
    // The booking is there, made on the public channel, and its page shows it.
    let day = server
        .get_json(&format!("/api/v1/bookings?date={tomorrow}"))
        .await;
    assert_eq!(day[0]["code"], code.as_str(), "{day}");
    assert_eq!(day[0]["patient"]["name"], "आशा", "{day}");
    phone.tap("#book-link", PAGE).await;
    assert_eq!(phone.wait_for_any_text("#booking-code", PAGE).await, code);
    phone.wait_visible("#booking-cancel", PAGE).await;
    let _ = phone.screenshot(&shot_path("booking-390x844-hi")).await;
    // Change the time from the booking's page: tomorrow's free times, the first taken.
    let before = phone.text("#booking-when").await.unwrap();
    assert!(before.contains("08:00"), "{before}");
    phone.tap("#booking-move", PAGE).await;
    phone
        .js(
            "const d = document.getElementById('move-date'); d.value = arguments[0];
             d.dispatchEvent(new Event('change'));",
            vec![json!(tomorrow)],
        )
        .await;
    phone
        .wait_visible(r#"#move-times .b-time[data-start$="T08:30:00Z"]"#, PAGE)
        .await;
    phone
        .tap(r#"#move-times .b-time[data-start$="T08:30:00Z"]"#, PAGE)
        .await;
    phone.tap("#move-submit", PAGE).await;
    phone.wait_for_text("#booking-when", "08:30", PAGE).await;
    let day = server
        .get_json(&format!("/api/v1/bookings?date={tomorrow}"))
        .await;
    assert!(
        day[0]["start"].as_str().unwrap().ends_with("T08:30:00Z"),
        "{day}"
    );
    phone.close().await;
}

#[tokio::test]
async fn the_booking_page_asks_for_the_code_texted_to_the_phone_before_it_books() {
    let server = Server::spawn_with(|c| {
        c.appointments.public_booking = true;
        c.notify.sms = "fake".to_owned();
        c.notify.poll_secs = 1;
    })
    .await;
    let _one = ONE_AT_A_TIME.lock().await;
    let tomorrow = morning_plan(&server).await.to_string();
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let phone = driver.session(390, 844).await;
    phone.goto(&server.url("/book?lang=en")).await;
    pick_day(&phone, &tomorrow).await;
    phone.tap(".b-time", PAGE).await;
    phone.wait_visible("#book-send-code", PAGE).await;
    phone.wait_visible("#book-messages", PAGE).await;
    phone
        .js(
            "document.getElementById('book-name').value = 'Asha';
             document.getElementById('book-phone').value = '98100 00000';
             document.getElementById('book-messages').checked = true;",
            vec![],
        )
        .await;
    // Without the code: said in words, nothing booked.
    phone.tap("#book-submit", PAGE).await;
    phone
        .wait_for_text("#book-error", &message("en", "book.code_needed", &[]), PAGE)
        .await;
    phone.tap("#book-send-code", PAGE).await;
    phone.wait_visible("#book-code-sent", PAGE).await;
    let outbox = server.get_json("/api/v1/notifications").await;
    let row = &outbox["notifications"][0];
    assert_eq!(row["kind"], "code", "{outbox}");
    let code = row["params"][0][1].as_str().unwrap().to_owned();
    let _ = phone.screenshot(&shot_path("book-390x844-code")).await;
    phone
        .js(
            "document.getElementById('book-phone-code').value = arguments[0];",
            vec![json!(code)],
        )
        .await;
    phone.tap("#book-submit", PAGE).await;
    let booked = phone.wait_for_any_text("#book-code", PAGE).await;
    assert_eq!(booked.len(), 6, "{booked}");
    let day = server
        .get_json(&format!("/api/v1/bookings?date={tomorrow}"))
        .await;
    assert_eq!(day[0]["code"], booked.as_str(), "{day}");
    phone.close().await;
}
