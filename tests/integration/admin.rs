//! The admin API: services, rooms and doctors, clinic and kiosk settings, users, API tokens and
//! a user's own password — each change live, and each one in the audit trail.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{ADMIN_NAME, ADMIN_PASSWORD, DOCTOR_NAME, TestApp};

/// Sends `method path` with the admin's token and an optional JSON body: (status, JSON or null).
async fn send(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let method: Method = method.parse().unwrap();
    let mut request = app.client.request(method, app.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Sends with a session cookie (and our own Origin, as the pages do).
async fn send_as(
    app: &TestApp,
    cookie: &str,
    method: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let r = app
        .anon
        .request(method.parse().unwrap(), app.url(path))
        .header("Cookie", cookie)
        .header("Origin", app.url(""))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn seq(app: &TestApp) -> u64 {
    app.queue().await["seq"].as_u64().unwrap()
}

/// The audit trail's events of `kind`.
async fn audit(app: &TestApp, kind: &str) -> Vec<Value> {
    let (status, page) = app
        .get_json(&format!("/api/v1/audit?kind={kind}&limit=500"))
        .await;
    assert_eq!(status, 200);
    page["events"].as_array().unwrap().clone()
}

async fn login_with(app: &TestApp, name: &str, password: &str) -> u16 {
    login_from(app, &app.anon, name, password).await
}

/// A login from `client`, as waitless's own login page sends it: the status.
pub async fn login_from(
    app: &TestApp,
    client: &reqwest::Client,
    name: &str,
    password: &str,
) -> u16 {
    client
        .post(app.url("/api/v1/login"))
        .header("Origin", app.url(""))
        .json(&json!({"name": name, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn an_added_service_is_on_the_kiosk_at_once_and_keeps_its_prefix_to_itself() {
    let app = TestApp::spawn().await;
    let (status, service) = send(
        &app,
        "POST",
        "/api/v1/admin/services",
        Some(json!({"id": "dental", "name": "Dental", "prefix": "D",
                    "names": {"hi": "दंत"}})),
    )
    .await;
    assert_eq!(status, 201, "{service}");
    assert_eq!(service["active"], true);
    let (_, services) = app.get_json("/api/v1/services").await;
    assert!(
        services
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == "dental")
    );
    let ticket = app.issue("dental", "normal").await;
    assert_eq!(ticket["number"], "D001");

    // A taken prefix, a taken id, bad names: refused, nothing changes.
    let before = seq(&app).await;
    for (body, code) in [
        (
            json!({"id": "eye", "name": "Eye", "prefix": "A"}),
            "prefix-in-use",
        ),
        (
            json!({"id": "dental", "name": "Again", "prefix": "E"}),
            "service-exists",
        ),
        (
            json!({"id": "eye", "name": "  ", "prefix": "E"}),
            "invalid-name",
        ),
        (
            json!({"id": "Eye!", "name": "Eye", "prefix": "E"}),
            "invalid-id",
        ),
        (
            json!({"id": "eye", "name": "Eye", "prefix": "E", "colour": "red"}),
            "invalid-body",
        ),
    ] {
        let (status, error) = send(&app, "POST", "/api/v1/admin/services", Some(body)).await;
        assert!([400, 409].contains(&status), "{error}");
        assert_eq!(error["error"]["code"], code, "{error}");
    }
    assert_eq!(seq(&app).await, before);

    // Rename and a new prefix: issued numbers stay, new ones use it.
    let (status, service) = send(
        &app,
        "PATCH",
        "/api/v1/admin/services/dental",
        Some(json!({"name": "Dental clinic", "prefix": "DE", "carry_over": true})),
    )
    .await;
    assert_eq!(status, 200, "{service}");
    assert_eq!(service["name"], "Dental clinic");
    assert_eq!(
        app.ticket(ticket["id"].as_u64().unwrap()).await["number"],
        "D001"
    );
    assert_eq!(app.issue("dental", "normal").await["number"], "DE001");

    let added = audit(&app, "service_added").await;
    assert_eq!(added.len(), 1);
    assert_eq!(added[0]["actor"], "token:tests");
    assert_eq!(audit(&app, "service_updated").await.len(), 1);

    // It is all still there after a restart.
    let app = app.restart().await;
    let (_, services) = app.get_json("/api/v1/services").await;
    let dental = services
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "dental")
        .cloned()
        .unwrap();
    assert_eq!(dental["prefix"], "DE");
    assert_eq!(dental["carry_over"], true);
}

#[tokio::test]
async fn a_new_room_with_its_doctor_calls_after_it_is_opened() {
    let app = TestApp::spawn().await;
    let (status, room) = send(
        &app,
        "POST",
        "/api/v1/admin/rooms",
        Some(json!({"id": "room-4", "name": "Room 4", "services": ["lab"]})),
    )
    .await;
    assert_eq!(status, 201, "{room}");
    assert_eq!(room["open"], false);
    let (status, room) = send(
        &app,
        "PATCH",
        "/api/v1/admin/rooms/room-4",
        Some(json!({"name": "Cabin 4", "services": ["general", "lab"], "doctors": [DOCTOR_NAME]})),
    )
    .await;
    assert_eq!(status, 200, "{room}");
    assert_eq!(room["name"], "Cabin 4");
    assert_eq!(room["doctors"], json!([DOCTOR_NAME]));
    let (_, clinic) = app.get_json("/api/v1/admin/clinic").await;
    let rooms = clinic["rooms"].as_array().unwrap();
    let four = rooms.iter().find(|r| r["id"] == "room-4").unwrap();
    assert_eq!(four["services"], json!(["general", "lab"]));
    let one = rooms.iter().find(|r| r["id"] == "room-1").unwrap();
    assert_eq!(
        one["doctors"],
        json!([DOCTOR_NAME]),
        "the doctor keeps room-1"
    );

    // The doctor may now call into room 4.
    let ticket = app.issue("general", "normal").await;
    let doctor = app.login(DOCTOR_NAME).await;
    let (status, _) = send_as(
        &app,
        &doctor,
        "POST",
        "/api/v1/rooms/room-4/next",
        json!({}),
    )
    .await;
    assert_eq!(status, 409, "closed rooms call nobody");
    let (status, _) = app.call("/api/v1/rooms/room-4/open", None).await;
    assert_eq!(status, 200);
    let (status, called) = send_as(
        &app,
        &doctor,
        "POST",
        "/api/v1/rooms/room-4/next",
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{called}");
    assert_eq!(app.room("room-4").await["serving"]["id"], ticket["id"]);

    // Taking the doctor off the room takes their right to call into it.
    let (status, _) = send(
        &app,
        "PATCH",
        "/api/v1/admin/rooms/room-4",
        Some(json!({"doctors": []})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = send_as(
        &app,
        &doctor,
        "POST",
        "/api/v1/rooms/room-4/done",
        json!({}),
    )
    .await;
    assert_eq!(status, 403);

    // An unknown doctor or service: refused before anything changes.
    let before = seq(&app).await;
    let (status, error) = send(
        &app,
        "PATCH",
        "/api/v1/admin/rooms/room-4",
        Some(json!({"name": "Changed", "doctors": ["nobody"]})),
    )
    .await;
    assert_eq!(status, 404, "{error}");
    let (status, _) = send(
        &app,
        "PATCH",
        "/api/v1/admin/rooms/room-4",
        Some(json!({"services": ["nope"]})),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(seq(&app).await, before);
    assert_eq!(app.room("room-4").await["name"], "Cabin 4");

    let rooms_set = audit(&app, "staff_changed").await;
    assert!(
        rooms_set
            .iter()
            .any(|e| e["change"]["what"] == "rooms_set" && e["change"]["user"] == DOCTOR_NAME),
        "{rooms_set:?}"
    );
}

#[tokio::test]
async fn users_are_added_reset_and_disabled_and_the_last_admin_stays() {
    let app = TestApp::spawn().await;
    let (status, user) = send(
        &app,
        "POST",
        "/api/v1/admin/users",
        Some(json!({"name": "meera", "password": "first-password-1", "roles": ["reception"]})),
    )
    .await;
    assert_eq!(status, 201, "{user}");
    assert!(user.get("password_hash").is_none());
    assert_eq!(login_with(&app, "meera", "first-password-1").await, 200);
    let (status, error) = send(
        &app,
        "POST",
        "/api/v1/admin/users",
        Some(json!({"name": "short", "password": "short", "roles": ["doctor"]})),
    )
    .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("weak-password"))
    );

    // A reset ends her sessions; the new password works, the old one does not.
    let session = app.login_as("meera", "first-password-1").await;
    let (status, _) = send(
        &app,
        "PATCH",
        "/api/v1/admin/users/meera",
        Some(
            json!({"password": "second-password-2", "roles": ["reception", "doctor"],
                    "rooms": ["lab"]}),
        ),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = send_as(&app, &session, "GET", "/api/v1/me", json!({})).await;
    assert_eq!(status, 401, "the old session ended");
    assert_eq!(login_with(&app, "meera", "first-password-1").await, 401);
    assert_eq!(login_with(&app, "meera", "second-password-2").await, 200);
    let (_, users) = app.get_json("/api/v1/admin/users").await;
    let meera = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "meera")
        .cloned()
        .unwrap();
    assert_eq!(meera["roles"], json!(["reception", "doctor"]));
    assert_eq!(meera["rooms"], json!(["lab"]));

    // Disabled: no login.
    let (status, _) = send(
        &app,
        "PATCH",
        "/api/v1/admin/users/meera",
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(login_with(&app, "meera", "second-password-2").await, 401);

    // The only admin cannot be disabled or lose the role.
    let before = seq(&app).await;
    for body in [json!({"disabled": true}), json!({"roles": ["reception"]})] {
        let (status, error) = send(
            &app,
            "PATCH",
            &format!("/api/v1/admin/users/{ADMIN_NAME}"),
            Some(body),
        )
        .await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (409, Some("last-admin"))
        );
    }
    assert_eq!(seq(&app).await, before);
    assert_eq!(login_with(&app, ADMIN_NAME, ADMIN_PASSWORD).await, 200);

    // The trail says who did each, and never a password.
    let changes = audit(&app, "staff_changed&source=staff").await;
    let whats: Vec<&str> = changes
        .iter()
        .map(|e| e["change"]["what"].as_str().unwrap())
        .collect();
    for what in [
        "user_added",
        "password_set",
        "roles_set",
        "rooms_set",
        "user_disabled",
    ] {
        assert!(whats.contains(&what), "{what} missing from {whats:?}");
    }
    let text = serde_json::to_string(&changes).unwrap();
    assert!(!text.contains("password-1") && !text.contains("password-2"));
    assert!(changes.iter().all(|e| e["actor"] == "token:tests"));
}

#[tokio::test]
async fn a_token_made_in_admin_works_at_once_and_stops_when_revoked() {
    let app = TestApp::spawn().await;
    let mut events = app.events("").await;
    let (status, created) = send(
        &app,
        "POST",
        "/api/v1/admin/tokens",
        Some(json!({"name": "his-bridge", "role": "reception"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    let id = created["token"]["id"].as_str().unwrap().to_owned();
    let bridge = crate::common::client_with(&secret);
    let r = bridge
        .post(app.url("/api/v1/rooms/room-2/open"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = bridge
        .get(app.url("/api/v1/admin/tokens"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "a reception token is not an admin");
    let (_, tokens) = app.get_json("/api/v1/admin/tokens").await;
    let listed = serde_json::to_string(&tokens).unwrap();
    assert!(listed.contains("his-bridge") && !listed.contains(&secret));

    // The public stream says a staff change happened, not what.
    let event = events.next_event("staff_changed").await;
    assert_eq!(event["actor"], "staff");
    assert!(event.get("change").is_none(), "{event}");

    let (status, _) = send(&app, "DELETE", &format!("/api/v1/admin/tokens/{id}"), None).await;
    assert_eq!(status, 204);
    let r = bridge
        .post(app.url("/api/v1/rooms/room-2/close"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (status, _) = send(&app, "DELETE", &format!("/api/v1/admin/tokens/{id}"), None).await;
    assert_eq!(status, 404);

    let trail = serde_json::to_string(&audit(&app, "staff_changed").await).unwrap();
    assert!(trail.contains("token_created") && trail.contains("token_revoked"));
    assert!(!trail.contains(&secret));
}

#[tokio::test]
async fn staff_change_their_own_password_with_the_current_one() {
    let app = TestApp::spawn().await;
    let doctor = app.login(DOCTOR_NAME).await;
    let (status, _) = send_as(
        &app,
        &doctor,
        "POST",
        "/api/v1/me/password",
        json!({"current": "not-my-password", "new": "doctor-password-2"}),
    )
    .await;
    assert_eq!(status, 401);
    let (status, error) = send_as(
        &app,
        &doctor,
        "POST",
        "/api/v1/me/password",
        json!({"current": ADMIN_PASSWORD, "new": "short"}),
    )
    .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("weak-password"))
    );
    let (status, _) = send_as(
        &app,
        &doctor,
        "POST",
        "/api/v1/me/password",
        json!({"current": ADMIN_PASSWORD, "new": "doctor-password-2"}),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(login_with(&app, DOCTOR_NAME, ADMIN_PASSWORD).await, 401);
    assert_eq!(
        login_with(&app, DOCTOR_NAME, "doctor-password-2").await,
        200
    );
    let changes = audit(&app, "staff_changed").await;
    let last = changes.last().unwrap();
    assert_eq!(last["actor"], "user:doctor");
    assert_eq!(last["change"]["what"], "password_set");
    // An API token has no password to change.
    let (status, _) = app
        .call(
            "/api/v1/me/password",
            Some(json!({"current": "x", "new": "whatever-password"})),
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn kiosk_settings_from_admin_win_over_the_file_and_go_back_to_it() {
    let app = TestApp::spawn_with(|c| c.screens.kiosk_tickets_per_minute = 0).await;
    let kiosk = |n: u64| {
        let app = &app;
        async move {
            app.anon
                .post(app.url("/api/v1/tickets"))
                .json(&json!({"service": "general", "source": "kiosk"}))
                .header("Idempotency-Key", format!("k-{n}"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(kiosk(1).await, 201);
    assert_eq!(kiosk(2).await, 201);
    let (status, clinic) = send(
        &app,
        "PATCH",
        "/api/v1/admin/clinic",
        Some(json!({"name": "Asha Clinic", "kiosk": {"tickets_per_minute": 1, "reset_secs": 15}})),
    )
    .await;
    assert_eq!(status, 200, "{clinic}");
    assert_eq!(clinic["name"], "Asha Clinic");
    assert_eq!(kiosk(3).await, 201);
    assert_eq!(kiosk(4).await, 429);
    let (_, admin) = app.get_json("/api/v1/admin/clinic").await;
    assert_eq!(admin["kiosk"]["tickets_per_minute"], 1);
    assert_eq!(admin["kiosk"]["reset_secs"], 15);
    assert_eq!(admin["kiosk_defaults"]["tickets_per_minute"], 0);
    let page = app.anon.get(app.url("/kiosk")).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(
        html.contains("\"reset_secs\":15"),
        "the kiosk page boots with it"
    );
    assert!(html.contains("Asha Clinic"));

    // Out of range: refused, unchanged.
    let before = seq(&app).await;
    let (status, error) = send(
        &app,
        "PATCH",
        "/api/v1/admin/clinic",
        Some(json!({"kiosk": {"reset_secs": 1}})),
    )
    .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("invalid-setting"))
    );
    assert_eq!(seq(&app).await, before);

    // Back to the file's value: no limit.
    let (status, _) = send(
        &app,
        "PATCH",
        "/api/v1/admin/clinic",
        Some(json!({"kiosk": {}})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(kiosk(5).await, 201);
    assert_eq!(audit(&app, "clinic_settings_set").await.len(), 2);
}

#[tokio::test]
async fn patient_details_stay_off_the_screens_and_are_deleted_after_the_retention_period() {
    let app = TestApp::spawn_with(|c| c.store.patient_details_days = 30).await;
    let mut events = app.events("").await;
    let (status, ticket) = app
        .call(
            "/api/v1/tickets",
            Some(json!({"service": "general", "source": "reception",
                        "patient": {"name": "Asha Rao", "phone": "+91 98450 12345"}})),
        )
        .await;
    assert_eq!(status, 201, "{ticket}");
    let id = ticket["id"].as_u64().unwrap();
    let (status, details) = app.get_json(&format!("/api/v1/tickets/{id}/patient")).await;
    assert_eq!(status, 200);
    assert_eq!(details["name"], "Asha Rao");
    assert_eq!(details["phone"], "+91 98450 12345");

    // Nowhere public: not the queue, the ticket, the event stream or the audit trail.
    let issued = events.next_event("ticket_issued").await;
    let (_, audit_page) = app.get_json("/api/v1/audit").await;
    let public = [
        serde_json::to_string(&app.queue().await).unwrap(),
        serde_json::to_string(&app.ticket(id).await).unwrap(),
        issued.to_string(),
        audit_page.to_string(),
    ];
    for text in public {
        assert!(!text.contains("Asha") && !text.contains("98450"), "{text}");
    }
    let r = app
        .anon
        .get(app.url(&format!("/api/v1/tickets/{id}/patient")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Without a staff login, or malformed: refused, nothing issued.
    let before = seq(&app).await;
    let r = app
        .anon
        .post(app.url("/api/v1/tickets"))
        .json(&json!({"service": "general", "patient": {"name": "X"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (status, error) = app
        .call(
            "/api/v1/tickets",
            Some(json!({"service": "general", "patient": {"phone": "call me maybe"}})),
        )
        .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(seq(&app).await, before);

    // A day later nothing is deleted; 31 days later the next day close deletes it.
    app.advance(jiff::SignedDuration::from_hours(24));
    app.issue("lab", "normal").await;
    let _ = events.next_event("day_closed").await;
    app.issue("lab", "normal").await;
    assert_eq!(
        app.get_json(&format!("/api/v1/tickets/{id}/patient"))
            .await
            .0,
        200
    );
    app.advance(jiff::SignedDuration::from_hours(24 * 30));
    app.issue("lab", "normal").await;
    let purged = events.next_event("personal_data_purged").await;
    assert_eq!(purged["records"], 1);
    assert_eq!(purged["actor"], "waitless");
    assert_eq!(
        app.get_json(&format!("/api/v1/tickets/{id}/patient"))
            .await
            .0,
        404
    );
    assert_eq!(audit(&app, "personal_data_purged").await.len(), 1);
}

#[tokio::test]
async fn services_and_rooms_take_an_order_colour_picture_and_question_and_refuse_bad_ones() {
    let app = TestApp::spawn().await;
    let (status, dental) = send(
        &app,
        "POST",
        "/api/v1/admin/services",
        Some(
            json!({"id": "dental", "name": "Dental", "prefix": "D", "order": 0,
            "tone": 3, "icon": "tooth", "ask_priority": false}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{dental}");
    assert_eq!(
        (
            &dental["order"],
            &dental["tone"],
            &dental["icon"],
            &dental["ask_priority"]
        ),
        (&json!(0), &json!(3), &json!("tooth"), &json!(false))
    );
    // without them: after the others, a colour nobody has, the picture from its name, asked
    let (status, eye) = send(
        &app,
        "POST",
        "/api/v1/admin/services",
        Some(json!({"id": "eye", "name": "Eye", "prefix": "E"})),
    )
    .await;
    assert_eq!(status, 201, "{eye}");
    assert_eq!(
        (
            &eye["order"],
            &eye["tone"],
            &eye["icon"],
            &eye["ask_priority"]
        ),
        (&json!(2), &json!(2), &Value::Null, &json!(true))
    );
    // the lists come in order: dental (0), general (0, but "d" < "g"), lab (1), eye (2)
    let in_order = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, services) = app.get_json("/api/v1/services").await;
    assert_eq!(in_order(&services), ["dental", "general", "lab", "eye"]);
    assert_eq!(
        in_order(&app.queue().await["services"]),
        ["dental", "general", "lab", "eye"]
    );

    // Bad values: a clear error, nothing changes.
    let before = seq(&app).await;
    for (path, body, code) in [
        ("services/eye", json!({"tone": 6}), "invalid-setting"),
        ("services/eye", json!({"tone": -1}), "invalid-body"),
        ("services/eye", json!({"order": 10_000}), "invalid-setting"),
        ("services/eye", json!({"order": "first"}), "invalid-body"),
        (
            "services/eye",
            json!({"icon": "unicorn"}),
            "invalid-setting",
        ),
        (
            "services/eye",
            json!({"ask_priority": "no"}),
            "invalid-body",
        ),
        ("rooms/lab", json!({"order": 10_000}), "invalid-setting"),
        ("rooms/lab", json!({"order": -3}), "invalid-body"),
    ] {
        let (status, error) = send(
            &app,
            "PATCH",
            &format!("/api/v1/admin/{path}"),
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 400, "{body}: {error}");
        assert_eq!(error["error"]["code"], code, "{body}: {error}");
        assert!(
            error["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{error}"
        );
    }
    let (status, error) = send(
        &app,
        "POST",
        "/api/v1/admin/services",
        Some(json!({"id": "ent", "name": "ENT", "prefix": "N", "tone": 9})),
    )
    .await;
    assert_eq!(
        (status, &error["error"]["code"]),
        (400, &json!("invalid-setting"))
    );
    assert_eq!(
        seq(&app).await,
        before,
        "a refused change changed something"
    );
    let (_, services) = app.get_json("/api/v1/services").await;
    assert_eq!(services[3]["tone"], 2);

    // A room to the end; the queue's rooms follow; all of it survives a restart.
    let (status, room) = send(
        &app,
        "PATCH",
        "/api/v1/admin/rooms/room-1",
        Some(json!({"order": 5})),
    )
    .await;
    assert_eq!(status, 200, "{room}");
    let (status, _) = send(
        &app,
        "PATCH",
        "/api/v1/admin/services/eye",
        Some(json!({"tone": 5, "icon": "eye", "ask_priority": false, "order": 1})),
    )
    .await;
    assert_eq!(status, 200);
    let app = app.restart().await;
    let queue = app.queue().await;
    assert_eq!(in_order(&queue["rooms"]), ["room-2", "lab", "room-1"]);
    assert_eq!(
        in_order(&queue["services"]),
        ["dental", "general", "eye", "lab"]
    );
    assert_eq!(
        (&queue["services"][2]["tone"], &queue["services"][2]["icon"]),
        (&json!(5), &json!("eye"))
    );
    assert_eq!(queue["services"][2]["ask_priority"], false);
}
