//! The route-guard matrix: every route of `ROUTES`, without credentials, with the wrong role,
//! with a stale session and with the right role; cross-site requests; login, logout, throttling
//! and the first-run setup code.

use reqwest::Method;
use serde_json::{Value, json};
use waitless::web::{Access, ROUTES};

use crate::common::{
    ADMIN_NAME, ADMIN_PASSWORD, DOCTOR_NAME, MANAGER_NAME, RECEPTION_NAME, TestApp,
};

/// A concrete path for a route pattern.
fn concrete(pattern: &str, ticket: u64, token: &str) -> String {
    let path = if pattern.starts_with("/api/v1/rooms/") {
        pattern.replace("{id}", "room-1")
    } else if pattern.starts_with("/api/v1/services/") {
        pattern.replace("{id}", "general")
    } else {
        pattern.replace("{id}", &ticket.to_string())
    };
    path.replace("{token}", token)
        .replace("{path:.*}", "js/live.js")
        .replace("{doctor}", "doctor")
        .replace("{service}", "general")
}

/// A body the route accepts, so a refusal can only come from the guard.
fn body_for(pattern: &str) -> Option<Value> {
    match pattern {
        "/api/v1/tickets" => Some(json!({"service": "general"})),
        "/api/v1/tickets/{id}/transfer" => Some(json!({"service": "lab"})),
        "/api/v1/rooms/{id}/call" => Some(json!({"ticket": 1, "reason": "guard matrix"})),
        "/api/v1/clinic/message" => Some(json!({"message": "hello"})),
        "/api/v1/notifications/test" => Some(json!({"channel": "sms", "to": "+91 98450 12345"})),
        "/api/v1/status/{token}/feedback" => Some(json!({"score": 5})),
        "/api/v1/login" => Some(json!({"name": "nobody", "password": "x"})),
        "/api/v1/setup" => Some(json!({"code": "x", "name": "x", "password": "x"})),
        _ => None,
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Nobody,
    Doctor,
    Reception,
    Manager,
    Admin,
    StaleSession,
}

async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<Value>,
    credentials: Option<(&str, &str)>,
) -> u16 {
    let method: Method = method.to_ascii_uppercase().parse().unwrap();
    let mut request = app
        .anon
        .request(method, app.url(path))
        .header("Origin", app.url(""));
    if let Some((name, value)) = credentials {
        request = request.header(name, value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn every_route_is_guarded_as_its_access_says() {
    let app = TestApp::spawn().await;
    let ticket = app.issue("general", "normal").await;
    let id = ticket["id"].as_u64().unwrap();
    let status_token = ticket["status_path"]
        .as_str()
        .unwrap()
        .trim_start_matches("/t/")
        .to_owned();
    let doctor = app.login(DOCTOR_NAME).await;
    let reception = app.login(RECEPTION_NAME).await;
    app.add_user(MANAGER_NAME, &["manager"], &[]).await;
    let manager = app.login(MANAGER_NAME).await;
    let stale = app.login(ADMIN_NAME).await;
    let r = app
        .anon
        .post(app.url("/api/v1/logout"))
        .header("Cookie", &stale)
        .header("Origin", app.url(""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let admin = format!("Bearer {}", app.token);

    let mut checked = 0;
    for route in ROUTES {
        if route.path == "/api/v1/events" {
            continue; // a WebSocket upgrade: checked below
        }
        for who in [
            Who::Nobody,
            Who::StaleSession,
            Who::Doctor,
            Who::Reception,
            Who::Manager,
            Who::Admin,
        ] {
            if route.path == "/api/v1/logout"
                && matches!(who, Who::Doctor | Who::Reception | Who::Manager)
            {
                continue; // it would end the session the rest of the matrix uses
            }
            let before = app.queue().await["seq"].as_u64().unwrap();
            let credentials = match who {
                Who::Nobody => None,
                Who::StaleSession => Some(("Cookie", stale.as_str())),
                Who::Doctor => Some(("Cookie", doctor.as_str())),
                Who::Reception => Some(("Cookie", reception.as_str())),
                Who::Manager => Some(("Cookie", manager.as_str())),
                Who::Admin => Some(("Authorization", admin.as_str())),
            };
            let path = concrete(route.path, id, &status_token);
            let status = send(&app, route.method, &path, body_for(route.path), credentials).await;
            let allowed = match route.access {
                Access::Public => true,
                Access::Account => !matches!(who, Who::Nobody | Who::StaleSession),
                Access::Staff => matches!(who, Who::Doctor | Who::Reception | Who::Admin),
                Access::Room => matches!(who, Who::Doctor | Who::Reception | Who::Admin),
                Access::Reception => matches!(who, Who::Reception | Who::Admin),
                Access::Reports => matches!(who, Who::Manager | Who::Admin),
                Access::Admin => who == Who::Admin,
            };
            let what = format!("{} {path} as {who:?} → {status}", route.method);
            if allowed {
                assert!(
                    ![401, 403].contains(&status)
                        || route.path == "/api/v1/setup"
                        || route.path == "/api/v1/login"
                        || route.path == "/api/v1/me",
                    "{what}: should be allowed"
                );
            } else {
                let page = !route.path.starts_with("/api/");
                let expected: &[u16] = if page && matches!(who, Who::Nobody | Who::StaleSession) {
                    &[303]
                } else if matches!(who, Who::Nobody | Who::StaleSession) {
                    &[401]
                } else {
                    &[403]
                };
                assert!(expected.contains(&status), "{what}: expected {expected:?}");
                let after = app.queue().await["seq"].as_u64().unwrap();
                assert_eq!(before, after, "{what}: a refused request changed the queue");
            }
            checked += 1;
        }
    }
    assert!(checked >= ROUTES.len() * 6 - 9, "checked {checked}");
}

#[tokio::test]
async fn the_route_table_is_the_only_way_in() {
    // Every route is registered by `configure` from ROUTES with its guard; a path that is not
    // in the table is a 404, whatever the method.
    let app = TestApp::spawn().await;
    for path in ["/api/v1/admin", "/api/v1/users", "/administrator"] {
        let status = send(&app, "get", path, None, None).await;
        assert_eq!(status, 404, "{path}");
    }
    for route in ROUTES {
        assert!(route.path.starts_with('/'), "{route:?}");
    }
}

#[tokio::test]
async fn a_doctor_acts_on_their_own_room_only() {
    let app = TestApp::spawn().await;
    app.issue("general", "normal").await;
    let doctor = app.login(DOCTOR_NAME).await;
    let own = send(
        &app,
        "post",
        "/api/v1/rooms/room-1/next",
        None,
        Some(("Cookie", &doctor)),
    )
    .await;
    assert_eq!(own, 200);
    let other = send(
        &app,
        "post",
        "/api/v1/rooms/room-2/next",
        None,
        Some(("Cookie", &doctor)),
    )
    .await;
    assert_eq!(other, 403);
    // The audit trail says who pressed it; the public stream only that staff did.
    let (_, audit) = app.get_json("/api/v1/audit?kind=room_next").await;
    let events = audit["events"].as_array().unwrap();
    assert_eq!(events.last().unwrap()["actor"], "user:doctor");
    let mut ws = app.events("?since=0").await;
    let event = ws.next_event("room_next").await;
    assert_eq!(event["actor"], "staff");
    assert_eq!(event["source"], "staff");
}

#[tokio::test]
async fn a_cookie_request_from_another_site_is_refused() {
    let app = TestApp::spawn().await;
    app.issue("general", "normal").await;
    let admin = app.login(ADMIN_NAME).await;
    let before = app.queue().await["seq"].clone();
    for origin in [Some("http://evil.example"), None] {
        let mut request = app
            .anon
            .post(app.url("/api/v1/rooms/room-1/next"))
            .header("Cookie", &admin);
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 403, "origin {origin:?}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "cross-site-request");
    }
    assert_eq!(app.queue().await["seq"], before);
    // The same with a bearer token needs no Origin: scripts are not browsers.
    let r = app
        .client
        .post(app.url("/api/v1/rooms/room-1/next"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn login_sets_a_strict_http_only_cookie_and_failures_are_throttled() {
    let app = TestApp::spawn().await;
    let r = app
        .anon
        .post(app.url("/api/v1/login"))
        .json(&json!({"name": ADMIN_NAME, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["name"], ADMIN_NAME);
    assert!(!body.to_string().contains("password"), "{body}");

    // Two logins: two different sessions (rotated at login).
    assert_ne!(app.login(ADMIN_NAME).await, app.login(ADMIN_NAME).await);

    let mut statuses = Vec::new();
    for _ in 0..7 {
        let r = app
            .anon
            .post(app.url("/api/v1/login"))
            .json(&json!({"name": RECEPTION_NAME, "password": "wrong-password-1"}))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(&statuses[..4], &[401, 401, 401, 401], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    // Throttled: even the right password waits.
    let r = app
        .anon
        .post(app.url("/api/v1/login"))
        .json(&json!({"name": RECEPTION_NAME, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
}

#[tokio::test]
async fn pages_send_a_visitor_to_the_login_and_back() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .get(app.url("/staff?room=room-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        "/login?next=/staff%3Froom%3Droom-1"
    );
    let r = client
        .get(app.url("/login?next=//evil.example"))
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(!html.contains("evil.example"), "an open redirect");
    // Kiosk and display need no login.
    for page in ["/kiosk", "/display", "/"] {
        assert_eq!(
            client.get(app.url(page)).send().await.unwrap().status(),
            200
        );
    }
}

#[tokio::test]
async fn a_kiosk_is_limited_to_its_tickets_a_minute_and_staff_are_not() {
    let app = TestApp::spawn_with(|c| c.screens.kiosk_tickets_per_minute = 3).await;
    let kiosk = |key: &str| {
        app.anon
            .post(app.url("/api/v1/tickets"))
            .header("Idempotency-Key", key.to_owned())
            .json(&json!({"service": "general", "source": "kiosk"}))
            .send()
    };
    for i in 0..3 {
        assert_eq!(kiosk(&format!("k{i}")).await.unwrap().status(), 201);
    }
    // A repeat of a key is the same ticket, not a new one: still answered.
    assert_eq!(kiosk("k2").await.unwrap().status(), 201);
    let r = kiosk("k3").await.unwrap();
    assert_eq!(r.status(), 429);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too-many-tickets");
    assert_eq!(app.queue().await["waiting"].as_array().unwrap().len(), 3);
    // Reception (logged in) is not limited; a minute later the kiosk may again.
    app.issue("general", "normal").await;
    app.advance(jiff::SignedDuration::from_secs(61));
    assert_eq!(kiosk("k4").await.unwrap().status(), 201);
}

#[tokio::test]
async fn the_audit_trail_lists_who_did_what_with_filters_and_as_csv() {
    let app = TestApp::spawn().await;
    let a = app.issue("general", "normal").await;
    app.issue("lab", "normal").await;
    let doctor = app.login(DOCTOR_NAME).await;
    let status = send(
        &app,
        "post",
        "/api/v1/rooms/room-1/next",
        None,
        Some(("Cookie", &doctor)),
    )
    .await;
    assert_eq!(status, 200);

    let (status, page) = app.get_json("/api/v1/audit?actor=user:doctor").await;
    assert_eq!(status, 200, "{page}");
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{page}");
    assert_eq!(events[0]["kind"], "room_next");
    assert_eq!(events[0]["source"], "staff");
    assert_eq!(events[0]["address"], "127.0.0.1", "from where");
    // The public event stream does not show it.
    let mut ws = app.events("?since=0").await;
    let public = ws.next_event("room_next").await;
    assert!(public.get("address").is_none(), "{public}");
    let (_, by_ticket) = app
        .get_json(&format!(
            "/api/v1/audit?ticket={}",
            a["number"].as_str().unwrap()
        ))
        .await;
    let kinds: Vec<&str> = by_ticket["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["ticket_issued", "room_next"], "{by_ticket}");
    let (_, by_room) = app
        .get_json("/api/v1/audit?room=room-1&kind=room_next")
        .await;
    assert_eq!(by_room["events"].as_array().unwrap().len(), 1);
    // Paging.
    let (_, first) = app.get_json("/api/v1/audit?limit=1").await;
    assert_eq!(first["events"].as_array().unwrap().len(), 1);
    let next = first["next"].as_u64().unwrap();
    let (_, rest) = app.get_json(&format!("/api/v1/audit?since={next}")).await;
    assert!(rest["next"].is_null(), "{rest}");
    assert_eq!(rest["events"][0]["seq"].as_u64().unwrap(), next + 1);

    let r = app
        .client
        .get(app.url("/api/v1/audit?format=csv&kind=room_next"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = r.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "seq,at,source,actor,kind,room,tickets");
    assert!(
        lines[1].contains(",staff,user:doctor,room_next,room-1,A001"),
        "{text}"
    );

    for bad in ["?from=yesterday", "?format=xml", "?nope=1"] {
        let (status, body) = app.get_json(&format!("/api/v1/audit{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
}
