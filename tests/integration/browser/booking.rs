//! Reception books an appointment for a caller in the staff console: finds the free times of a
//! day, picks one, types the patient's name and phone, and reads the booking code back. A
//! doctor's console offers no booking.

use serde_json::json;

use super::driver::Driver;
use super::server::Server;
use super::staff_roles::{live, login_to, shown};
use super::{ONE_AT_A_TIME, PAGE};
use crate::common::{DOCTOR_NAME, RECEPTION_NAME};

#[tokio::test]
async fn reception_books_a_free_time_and_reads_the_code_back() {
    let server = Server::spawn().await;
    let _one = ONE_AT_A_TIME.lock().await;
    let tomorrow = super::checkin::morning_plan(&server).await.to_string();

    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let desk = driver.session(1280, 800).await;
    login_to(&desk, &server, RECEPTION_NAME, "/staff?view=reception").await;
    live(&desk).await;
    desk.wait_visible("#booking > summary", PAGE).await;
    desk.tap("#booking > summary", PAGE).await;
    desk.js(
        "document.getElementById('book-date').value = arguments[0];",
        vec![json!(tomorrow)],
    )
    .await;
    desk.tap("#book-find", PAGE).await;
    desk.wait_visible(".book-slot", PAGE).await;
    let times = desk
        .js(
            "return [...document.querySelectorAll('.book-slot strong')].map(e => e.textContent);",
            vec![],
        )
        .await;
    assert_eq!(times, json!(["08:00", "08:30", "09:00", "09:30"]));
    desk.tap(".book-slot", PAGE).await;
    desk.wait_visible("#book-name", PAGE).await;
    desk.js(
        "document.getElementById('book-name').value = 'Asha Devi';
         document.getElementById('book-phone').value = '98100 00000';",
        vec![],
    )
    .await;
    desk.tap("#book-submit", PAGE).await;
    let code = desk.wait_for_any_text("#book-code", PAGE).await;
    assert_eq!(code.len(), 6, "{code}");

    // The booking is there, with that code, at 08:00, and the 08:00 slot is no longer offered.
    let day = server
        .get_json(&format!("/api/v1/bookings?date={tomorrow}"))
        .await;
    assert_eq!(day.as_array().unwrap().len(), 1, "{day}");
    assert_eq!(day[0]["code"], json!(code));
    assert_eq!(day[0]["patient"]["name"], "Asha Devi");
    assert!(
        day[0]["local"].as_str().unwrap().contains("T08:00:00"),
        "{day}"
    );
    desk.wait_until(
        "the booked time gone from the list",
        "const t = [...document.querySelectorAll('.book-slot strong')].map(e => e.textContent);
         return t.length === 3 && !t.includes('08:00');",
        vec![],
        PAGE,
    )
    .await;
    if std::env::var_os("WAITLESS_SCREENSHOTS").is_some() {
        super::shoot(&desk, "staff-booking-1280x800", (1280, 800)).await;
    }
    desk.close().await;

    // A doctor's console has no booking card.
    let doctor = driver.session(1280, 800).await;
    login_to(&doctor, &server, DOCTOR_NAME, "/staff").await;
    live(&doctor).await;
    assert!(!shown(&doctor, "#booking").await);
    doctor.close().await;
}
