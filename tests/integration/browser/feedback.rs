//! The status page's "How was your visit?" on a phone (390×844) in Hindi: five labelled
//! buttons and a comment box once the visit is done, no serious axe violation, a thank-you
//! after sending, and never the question again for that ticket (the page reads it from the
//! status data after a reload). The next morning, after the clinic day closed, the same page
//! still shows the visit as done and asks.

use super::a11y::{axe_violations, settle};
use super::driver::{Browser, Driver};
use super::screens::shot_path;
use super::server::Server;
use super::{ONE_AT_A_TIME, PAGE, message};

#[tokio::test]
async fn a_patient_rates_the_visit_on_the_status_page_in_hindi() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::spawn().await;
    let ticket = server.issue("general", "normal").await;
    let path = format!("{}?lang=hi", ticket["status_path"].as_str().unwrap());
    server.next("room-1").await;
    let (status, body) = server.post_json("/api/v1/rooms/room-1/done", None).await;
    assert_eq!(status, 200, "{body}");
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let phone = driver.session(390, 844).await;
    phone.goto(&server.url(&path)).await;
    phone
        .wait_for_text(
            "#status-feedback-question",
            &message("hi", "status.feedback_question", &[]),
            PAGE,
        )
        .await;
    // Five buttons, each with its word, none chosen yet.
    let faces = phone
        .js(
            "return [...document.querySelectorAll('#status-feedback .s-face')].map(b => \
               [b.tagName, b.textContent.trim(), b.getAttribute('aria-pressed')]);",
            vec![],
        )
        .await;
    let words: Vec<String> = (1..=5)
        .map(|n| message("hi", &format!("status.feedback_{n}"), &[]))
        .collect();
    for (face, word) in faces.as_array().unwrap().iter().zip(&words) {
        assert_eq!(face[0], "BUTTON", "{faces}");
        assert_eq!(face[1], word.as_str(), "{faces}");
        assert_eq!(face[2], "false", "{faces}");
    }
    check_the_form(&phone, "/t/… feedback (hi)", "status-390x844-feedback-hi").await;

    // Sending without a choice says what is missing, in Hindi.
    phone.tap("#status-feedback-send", PAGE).await;
    phone
        .wait_for_text(
            "#status-feedback-error",
            &message("hi", "errors.invalid-score", &[]),
            PAGE,
        )
        .await;

    // The keyboard chooses too: Enter on a focused face.
    let two = phone
        .client
        .find(fantoccini::Locator::Css(".s-face[data-score='2']"))
        .await
        .unwrap();
    phone
        .js(
            "document.querySelector(\".s-face[data-score='2']\").focus();",
            vec![],
        )
        .await;
    two.send_keys("\u{E007}").await.unwrap();
    let pressed = phone
        .js(
            "return document.querySelector(\".s-face[data-score='2']\").getAttribute('aria-pressed');",
            vec![],
        )
        .await;
    assert_eq!(pressed, "true", "Enter on a focused face chooses it");

    phone.tap(".s-face[data-score='4']", PAGE).await;
    let pressed = phone
        .js(
            "return [...document.querySelectorAll('.s-face')].map(b => b.getAttribute('aria-pressed'));",
            vec![],
        )
        .await;
    assert_eq!(
        pressed,
        serde_json::json!(["false", "false", "false", "true", "false"])
    );
    phone
        .js(
            "document.getElementById('status-feedback-comment').value = arguments[0];",
            vec![serde_json::json!("डॉक्टर ने ध्यान से सुना")],
        )
        .await;
    phone.tap("#status-feedback-send", PAGE).await;
    phone
        .wait_for_text(
            "#status-feedback-thanks",
            &message("hi", "status.feedback_thanks", &[]),
            PAGE,
        )
        .await;
    let shot = shot_path("status-390x844-feedback-thanks-hi");
    assert_eq!(phone.screenshot(&shot).await, (390, 844));

    let list = server.get_json("/api/v1/feedback").await;
    assert_eq!(list["comments"][0]["score"], 4, "{list}");
    assert_eq!(list["comments"][0]["comment"], "डॉक्टर ने ध्यान से सुना");

    // Reloaded: the status data says it was given; no question.
    phone.goto(&server.url(&path)).await;
    phone.wait_visible("#status-feedback-thanks", PAGE).await;
    assert!(!phone.is_visible("#status-feedback").await);
    phone.close().await;
}

#[tokio::test]
async fn the_next_morning_the_status_page_still_asks_about_the_visit() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::spawn().await;
    let ticket = server.issue("general", "normal").await;
    let path = ticket["status_path"].as_str().unwrap().to_owned();
    server.next("room-1").await;
    let (status, body) = server.post_json("/api/v1/rooms/room-1/done", None).await;
    assert_eq!(status, 200, "{body}");
    // A day later the clinic day has closed: the ticket is in the archive.
    let day = server.get_json("/healthz").await["day"].clone();
    server.advance(jiff::SignedDuration::from_hours(24));
    crate::common::wait_until(crate::common::PATIENCE, "the day to close", async || {
        let health = server.get_json("/healthz").await;
        if health["day"] != day {
            Ok(())
        } else {
            Err(health)
        }
    })
    .await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let phone = driver.session(390, 844).await;
    phone.goto(&server.url(&path)).await;
    phone
        .wait_for_text(
            "#status-feedback-question",
            &message("en", "status.feedback_question", &[]),
            PAGE,
        )
        .await;
    assert_eq!(
        phone.text("#status-state").await.as_deref(),
        Some(message("en", "common.state_done", &[]).as_str())
    );
    assert_eq!(
        phone.text("#status-number").await.as_deref(),
        ticket["number"].as_str()
    );
    assert!(!phone.is_visible("#status-unknown").await);
    check_the_form(
        &phone,
        "/t/… feedback, next day",
        "status-390x844-feedback-next-day",
    )
    .await;

    phone.tap(".s-face[data-score='5']", PAGE).await;
    phone.tap("#status-feedback-send", PAGE).await;
    phone
        .wait_for_text(
            "#status-feedback-thanks",
            &message("en", "status.feedback_thanks", &[]),
            PAGE,
        )
        .await;
    // Counted for the visit's day (the days around it: the clinic day starts at 04:00).
    let visit_day: jiff::civil::Date = day.as_str().unwrap().parse().unwrap();
    let report = server
        .get_json(&format!(
            "/api/v1/reports?from={}&to={}",
            visit_day.yesterday().unwrap(),
            visit_day.tomorrow().unwrap()
        ))
        .await;
    assert_eq!(
        report["report"]["feedback"]["total"]["count"], 1,
        "{report}"
    );
    // Reloaded: answered, no question.
    phone.goto(&server.url(&path)).await;
    phone.wait_visible("#status-feedback-thanks", PAGE).await;
    assert!(!phone.is_visible("#status-feedback").await);
    phone.close().await;
}

/// The feedback form once it has settled: no serious accessibility violation (axe), and a
/// screenshot `shot` of the 390×844 phone.
async fn check_the_form(phone: &Browser, what: &str, shot: &str) {
    settle(phone, "#status-feedback-send").await;
    let violations = axe_violations(phone, what).await;
    assert!(violations.is_empty(), "{}", violations.join("\n"));
    assert_eq!(phone.screenshot(&shot_path(shot)).await, (390, 844));
}
