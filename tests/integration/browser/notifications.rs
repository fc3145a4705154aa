//! The notifications page (/admin/notifications) in a browser: the admin sees the fake
//! transport and the outbox with masked recipients, sends a test message and reads "sent",
//! filters by state, and resends a row. Its screenshot at 1280×800 is `admin-notifications`.

use serde_json::json;

use super::driver::Driver;
use super::screens::shot_path;
use super::server::Server;
use super::{ONE_AT_A_TIME, PAGE, message};

#[tokio::test]
async fn an_admin_sends_a_test_message_and_resends_a_row() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::spawn_with(|c| {
        c.notify.sms = "fake".to_owned();
        c.notify.poll_secs = 1;
    })
    .await;
    for phone in ["+91 98450 12345", "+91 99000 54321"] {
        let (status, ticket) = server
            .post_json(
                "/api/v1/tickets",
                Some(json!({"service": "general", "patient": {"phone": phone, "language": "hi"}})),
            )
            .await;
        assert_eq!(status, 201, "{ticket}");
    }
    server.next("room-1").await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let page = driver.session(1280, 800).await;
    page.goto(&server.url("/admin/notifications")).await;
    page.wait_visible(r#"#transports li[data-channel="sms"]"#, PAGE)
        .await;
    page.wait_visible(r#"#outbox-body tr[data-state="sent"]"#, PAGE)
        .await;
    let outbox = page
        .js(
            "return document.getElementById('outbox-body').textContent;",
            vec![],
        )
        .await;
    let outbox = outbox.as_str().unwrap();
    assert!(outbox.contains("+91 ••••• •2345"), "{outbox}");
    assert!(
        !outbox.contains("98450"),
        "the number is never shown whole: {outbox}"
    );

    // A test message by the fake transport.
    page.js(
        "document.getElementById('test-to').value = arguments[0];",
        vec![json!("+91 98450 12345")],
    )
    .await;
    page.tap("#test-send", PAGE).await;
    page.wait_for_text(
        "#test-result",
        &message("en", "notifications.test_sent", &[]),
        PAGE,
    )
    .await;
    // An empty number is refused on the page, with the field marked.
    page.js("document.getElementById('test-to').value = '';", vec![])
        .await;
    page.tap("#test-send", PAGE).await;
    page.wait_visible(r#"#test-to[aria-invalid="true"]"#, PAGE)
        .await;
    page.js(
        "document.getElementById('test-to').value = arguments[0]; \
         document.getElementById('test-to').removeAttribute('aria-invalid'); \
         document.getElementById('test-form').requestSubmit();",
        vec![json!("+91 98450 12345")],
    )
    .await;
    page.wait_for_text(
        "#test-result",
        &message("en", "notifications.test_sent", &[]),
        PAGE,
    )
    .await;
    let _ = page
        .screenshot(&shot_path("admin-notifications-1280x800"))
        .await;

    // The filter: no failed rows; the sent ones again.
    page.js(
        "const s = document.getElementById('filter-state'); s.value = 'failed'; \
         s.dispatchEvent(new Event('change'));",
        vec![],
    )
    .await;
    page.wait_for_text(
        "#outbox-body",
        &message("en", "notifications.none", &[]),
        PAGE,
    )
    .await;
    page.js(
        "const s = document.getElementById('filter-state'); s.value = 'sent'; \
         s.dispatchEvent(new Event('change'));",
        vec![],
    )
    .await;

    // Resend the first (newest) sent row.
    let key = page
        .js(
            "return document.querySelector('#outbox-body tr[data-state=\"sent\"]').dataset.key;",
            vec![],
        )
        .await;
    let key = key.as_str().unwrap().to_owned();
    page.tap(r#"#outbox-body tr[data-state="sent"] button.resend"#, PAGE)
        .await;
    page.wait_for_text(
        "#outbox-note",
        &message("en", "notifications.resent", &[]),
        PAGE,
    )
    .await;
    // The sender sends it again: sent, one attempt since the resend.
    let deadline = std::time::Instant::now() + PAGE;
    loop {
        let outbox = server.get_json("/api/v1/notifications").await;
        let row = outbox["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["key"] == key.as_str())
            .cloned()
            .unwrap();
        if row["state"] == "sent" && row["attempts"] == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not sent again: {row}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // In Hindi, the message texts with their lengths (looked at, not asserted beyond this).
    page.goto(&server.url("/admin/notifications?lang=hi")).await;
    page.wait_visible("#templates-body tr", PAGE).await;
    page.js(
        "document.getElementById('templates-heading').scrollIntoView();",
        vec![],
    )
    .await;
    let _ = page
        .screenshot(&shot_path("admin-notifications-1280x800-hi"))
        .await;
    page.close().await;
}
