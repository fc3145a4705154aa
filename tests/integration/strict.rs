//! Input strictness: a body where a route takes none, oversized optional bodies, arrays sent for
//! objects, language codes and the displays' message. Each refusal changes nothing.

use reqwest::Method;
use serde_json::{Value, json};
use waitless::web::ROUTES;

use crate::common::{DOCTOR_NAME, TestApp};

/// Sends `body` with `content_type` (none when `None`) as the test admin.
async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut request = app.client.request(method, app.url(path)).body(body);
    if let Some(content_type) = content_type {
        request = request.header("Content-Type", content_type);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn code(answer: &Value) -> &str {
    answer["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn an_array_is_not_an_object_on_any_route() {
    let app = TestApp::spawn().await;
    let ticket = app.issue("general", "normal").await["id"].to_string();
    let queue = app.queue().await;
    // (logout ignores any body: it only ends the session)
    for route in ROUTES
        .iter()
        .filter(|r| matches!(r.method, "post" | "patch" | "put") && r.path != "/api/v1/logout")
    {
        let path = route
            .path
            .replace("/rooms/{id}", "/rooms/room-1")
            .replace("/services/{id}", "/services/general")
            .replace("{id}", &ticket)
            .replace("{name}", DOCTOR_NAME);
        let method: Method = route.method.to_ascii_uppercase().parse().unwrap();
        let (status, answer) = raw(
            &app,
            method,
            &path,
            Some("application/json"),
            b"[]".to_vec(),
        )
        .await;
        assert!(
            status >= 400,
            "{} {path} accepted [] as its body: {status} {answer}",
            route.method
        );
    }
    assert_eq!(app.queue().await, queue, "nothing changed");
}

#[tokio::test]
async fn routes_that_take_no_body_refuse_one() {
    let app = TestApp::spawn().await;
    app.issue("general", "normal").await;
    let queue = app.queue().await;
    let next = "/api/v1/rooms/room-1/next";
    let cases: [(Option<&str>, &[u8], u16, &str); 4] = [
        (Some("text/plain"), b"x", 415, "unsupported-media-type"),
        (
            Some("application/x-www-form-urlencoded"),
            b"",
            415,
            "unsupported-media-type",
        ),
        (
            Some("application/json"),
            b"{\"room\":\"room-2\"}",
            400,
            "invalid-body",
        ),
        (None, b"garbage", 415, "unsupported-media-type"),
    ];
    for (content_type, body, status, expected) in cases {
        let (got, answer) = raw(&app, Method::POST, next, content_type, body.to_vec()).await;
        assert_eq!(
            (got, code(&answer)),
            (status, expected),
            "{content_type:?} {answer}"
        );
    }
    assert_eq!(app.queue().await, queue, "nothing changed");
    // no body, or an empty object, is fine
    let (status, answer) = raw(&app, Method::POST, next, None, Vec::new()).await;
    assert_eq!(status, 200, "{answer}");
    let json = Some("application/json");
    let (status, answer) = raw(&app, Method::POST, next, json, b"{}".to_vec()).await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn oversized_optional_bodies_answer_the_json_error() {
    let app = TestApp::spawn().await;
    let ticket = app.issue("general", "normal").await["id"].to_string();
    let big = serde_json::to_vec(&json!({"lang": "x".repeat(64 * 1024)})).unwrap();
    for path in [
        format!("/api/v1/tickets/{ticket}/print"),
        "/api/v1/services/general/close".to_owned(),
    ] {
        let (status, answer) = raw(
            &app,
            Method::POST,
            &path,
            Some("application/json"),
            big.clone(),
        )
        .await;
        assert_eq!(
            (status, code(&answer)),
            (413, "body-too-large"),
            "{path}: {answer}"
        );
    }
    assert_eq!(app.queue().await["services"][0]["active"], true);
}

#[tokio::test]
async fn unknown_language_codes_are_refused() {
    let app = TestApp::spawn().await;
    let queue = app.queue().await;
    for lang in ["\u{0}", "\u{1b}[2J", &"x".repeat(5000), "fr"] {
        let body = json!({"service": "general", "lang": lang, "print": true});
        let (status, answer) = raw(
            &app,
            Method::POST,
            "/api/v1/tickets",
            Some("application/json"),
            serde_json::to_vec(&body).unwrap(),
        )
        .await;
        assert_eq!(
            (status, code(&answer)),
            (400, "unknown-language"),
            "{answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.len() < 100 && !message.contains('\u{1b}'),
            "{message}"
        );
    }
    assert_eq!(app.queue().await, queue, "no ticket was issued");
    let (status, answer) = app
        .get_json("/api/v1/tickets/1/announcement?lang=%00")
        .await;
    assert_eq!(
        (status, code(&answer)),
        (400, "unknown-language"),
        "{answer}"
    );
    // a known code still works
    let body = json!({"service": "general", "lang": "hi"});
    assert_eq!(app.call("/api/v1/tickets", Some(body)).await.0, 201);
}

#[tokio::test]
async fn a_displays_message_with_control_characters_is_refused() {
    let app = TestApp::spawn().await;
    for message in ["cut\u{1b}[2J", "nul\u{0}", "two\nlines"] {
        let body = serde_json::to_vec(&json!({ "message": message })).unwrap();
        let (status, answer) = raw(
            &app,
            Method::PUT,
            "/api/v1/clinic/message",
            Some("application/json"),
            body,
        )
        .await;
        assert_eq!(
            (status, code(&answer)),
            (400, "message-control-characters"),
            "{answer}"
        );
    }
    assert_eq!(app.queue().await["clinic"]["message"], "");
}
