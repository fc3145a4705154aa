//! Screen pairing: with "screens must be paired" on, a kiosk or display shows a code until an
//! admin approves it, and only a paired kiosk issues tickets without a login.

use serde_json::{Value, json};

use crate::common::{RECEPTION_NAME, TestApp};

/// The `name=value` of the `name` cookie a response sets.
fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

async fn page(app: &TestApp, path: &str, cookie: Option<&str>) -> String {
    let mut request = app.anon.get(app.url(path));
    if let Some(cookie) = cookie {
        request = request.header("Cookie", cookie);
    }
    let r = request.send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.unwrap()
}

/// A kiosk ticket without a login, from a screen with `cookie`: the status code.
async fn kiosk_ticket(app: &TestApp, cookie: Option<&str>) -> (u16, Value) {
    let mut request = app
        .anon
        .post(app.url("/api/v1/tickets"))
        .json(&json!({"service": "general", "source": "kiosk"}));
    if let Some(cookie) = cookie {
        request = request.header("Cookie", cookie);
    }
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn require_pairing(app: &TestApp, on: bool) {
    let r = app
        .client
        .patch(app.url("/api/v1/admin/clinic"))
        .json(&json!({"pairing_required": on}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_screen_shows_a_code_until_an_admin_approves_it() {
    let app = TestApp::spawn_with(|c| c.screens.kiosk_tickets_per_minute = 0).await;
    // Off (the default): the kiosk works for anyone.
    assert!(
        page(&app, "/kiosk", None)
            .await
            .contains("data-page=\"kiosk\"")
    );
    assert_eq!(kiosk_ticket(&app, None).await.0, 201);

    require_pairing(&app, true).await;
    assert!(
        page(&app, "/kiosk", None)
            .await
            .contains("data-page=\"pair\"")
    );
    assert!(
        page(&app, "/display", None)
            .await
            .contains("data-page=\"pair\"")
    );
    let before = app.queue().await["seq"].clone();
    let (status, error) = kiosk_ticket(&app, None).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (403, Some("screen-not-paired"))
    );
    assert_eq!(app.queue().await["seq"], before);

    // The screen asks for a code and waits.
    let r = app
        .anon
        .post(app.url("/api/v1/pair"))
        .json(&json!({"kind": "kiosk"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let pairing = set_cookie(&r, "waitless_pairing").expect("a pairing cookie");
    let asked: Value = r.json().await.unwrap();
    let code = asked["code"].as_str().unwrap().to_owned();
    let poll = || async {
        app.anon
            .get(app.url("/api/v1/pair"))
            .header("Cookie", &pairing)
            .send()
            .await
            .unwrap()
    };
    let waiting: Value = poll().await.json().await.unwrap();
    assert_eq!(waiting, json!({"state": "waiting", "code": code}));

    // The admin sees it and approves it (a wrong code pairs nothing).
    let (_, screens) = app.get_json("/api/v1/admin/screens").await;
    assert_eq!(screens["required"], true);
    assert_eq!(screens["pending"][0]["code"], code);
    assert_eq!(screens["pending"][0]["kind"], "kiosk");
    let approve = |code: String| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/v1/admin/screens"))
                .json(&json!({"code": code, "name": "front-kiosk"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(approve("AAAAAA".to_owned()).await, 404);
    let typed = format!("{} {}", &code[..3], &code[3..]).to_lowercase();
    assert_eq!(approve(typed).await, 201);

    // Its next poll gets its cookie, once.
    let r = poll().await;
    assert_eq!(r.status(), 200);
    let screen = set_cookie(&r, "waitless_screen").expect("a screen cookie");
    let paired: Value = r.json().await.unwrap();
    assert_eq!(paired, json!({"state": "paired", "name": "front-kiosk"}));
    assert_eq!(poll().await.status(), 404, "handed over once");

    // The paired kiosk works, and is named in the audit trail; it is not a display.
    assert!(
        page(&app, "/kiosk", Some(&screen))
            .await
            .contains("data-page=\"kiosk\"")
    );
    assert!(
        page(&app, "/display", Some(&screen))
            .await
            .contains("data-page=\"pair\"")
    );
    let (status, ticket) = kiosk_ticket(&app, Some(&screen)).await;
    assert_eq!(status, 201, "{ticket}");
    let (_, audit) = app.get_json("/api/v1/audit?kind=ticket_issued").await;
    let issued = audit["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(issued["actor"], "screen:front-kiosk");
    assert_eq!(issued["source"], "kiosk");
    let (_, paired) = app.get_json("/api/v1/admin/screens").await;
    assert_eq!(paired["pending"], json!([]));
    assert_eq!(paired["paired"][0]["name"], "front-kiosk");
    assert!(paired["paired"][0]["last_seen"].is_string());

    // Staff who are logged in may open any screen.
    let reception = app.login(RECEPTION_NAME).await;
    assert!(
        page(&app, "/display", Some(&reception))
            .await
            .contains("data-page=\"display\"")
    );

    // Unpaired: the kiosk stops issuing at once.
    let id = paired["paired"][0]["id"].as_str().unwrap();
    let r = app
        .client
        .delete(app.url(&format!("/api/v1/admin/screens/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(kiosk_ticket(&app, Some(&screen)).await.0, 403);
    assert!(
        page(&app, "/kiosk", Some(&screen))
            .await
            .contains("data-page=\"pair\"")
    );
    let (_, trail) = app.get_json("/api/v1/audit?kind=staff_changed").await;
    let trail = serde_json::to_string(&trail).unwrap();
    assert!(trail.contains("screen_paired") && trail.contains("screen_revoked"));

    // Pairing off again: anyone's kiosk works.
    require_pairing(&app, false).await;
    assert_eq!(kiosk_ticket(&app, None).await.0, 201);
}

#[tokio::test]
async fn bad_pairing_requests_are_refused_clearly() {
    let app = TestApp::spawn().await;
    for body in [
        json!({"kind": "toaster"}),
        json!({}),
        json!({"kind": "kiosk", "x": 1}),
    ] {
        let r = app
            .anon
            .post(app.url("/api/v1/pair"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{body}");
    }
    let r = app.anon.get(app.url("/api/v1/pair")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = app
        .anon
        .get(app.url("/api/v1/pair"))
        .header("Cookie", "waitless_pairing=made-up")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // A made-up screen cookie is no screen.
    let r = app
        .anon
        .get(app.url("/kiosk"))
        .header("Cookie", "waitless_screen=ws_made-up")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
