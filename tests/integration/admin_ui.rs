//! The admin pages in headless Chromium against the whole server: `/admin` sets the clinic up
//! (a service, a room with its doctor, a user, an API token used and revoked, kiosk settings,
//! the display message), `/admin/audit` shows and exports what was done, and the staff console
//! changes its user's own password. Each change is checked over HTTP, as the kiosk or another
//! system would see it. Non-admins do not get the pages.
//!
//! `WAITLESS_SCREENSHOTS=1 cargo test --test integration admin_ui::` also rewrites
//! `docs/screenshots/admin-1280x800.png` and `audit-1280x800.png`.

use std::path::Path;

use fantoccini::Locator;
use serde_json::{Value, json};

use crate::browser::driver::{Browser, Driver};
use crate::browser::server::Server;
use crate::browser::{ONE_AT_A_TIME, PAGE};
use crate::common::{ADMIN_NAME, ADMIN_PASSWORD, DOCTOR_NAME, RECEPTION_NAME, TestApp};

/// Types `text` into the first element matching `css`, like a keyboard would.
async fn type_into(browser: &Browser, css: &str, text: &str) {
    browser.wait_visible(css, PAGE).await;
    browser
        .js(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'center'});",
            vec![json!(css)],
        )
        .await;
    let element = browser.client.find(Locator::Css(css)).await.unwrap();
    element.clear().await.unwrap();
    element.send_keys(text).await.unwrap();
}

/// Taps the first element matching `css`, scrolled to the middle of the page first: the admin
/// page's top bar stays on screen and would cover an element scrolled to the very top.
async fn press(browser: &Browser, css: &str) {
    browser.wait_visible(css, PAGE).await;
    browser
        .js(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'center'});",
            vec![json!(css)],
        )
        .await;
    browser.tap(css, PAGE).await;
}

/// Waits until the note `key` (the answer next to a control) is `kind` (`ok`, `error`); returns
/// its text.
async fn wait_note(browser: &Browser, key: &str, kind: &str) -> String {
    browser
        .wait_until(
            &format!("note {key:?} to be {kind}"),
            "const n = document.querySelector(`[data-note=\"${arguments[0]}\"]`); \
             return n && n.classList.contains('note-' + arguments[1]) ? n.textContent : null;",
            vec![json!(key), json!(kind)],
            PAGE,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A GET with a bearer token; returns the status.
async fn get_with_token(server: &Server, token: &str, path: &str) -> u16 {
    reqwest::Client::new()
        .get(server.url(path))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn admin_clinic(server: &Server) -> Value {
    server.get_json("/api/v1/admin/clinic").await
}

/// With `WAITLESS_SCREENSHOTS=1`: saves `name.png` of the page scrolled to `at` (CSS) — in
/// docs/screenshots/ when `docs`, else in the tests' scratch folder (pictures to look at).
async fn shoot(browser: &Browser, name: &str, at: &str, docs: bool) {
    if std::env::var("WAITLESS_SCREENSHOTS").as_deref() != Ok("1") {
        return;
    }
    let folder = if docs {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots")
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
    };
    let path = folder.join(format!("{name}.png"));
    browser
        .js(
            "document.activeElement?.blur(); \
             const to = document.querySelector(arguments[0]); \
             window.scrollTo(0, to ? to.getBoundingClientRect().top + window.scrollY - 120 : 0);",
            vec![json!(at)],
        )
        .await;
    browser.screenshot(&path).await;
    eprintln!("saved {}", path.display());
}

#[tokio::test]
async fn admin_page_sets_up_a_service_room_user_and_token_live() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::spawn().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let admin = driver.session(1280, 800).await;
    admin.goto(&server.url("/admin")).await;
    admin
        .wait_visible(r#"#services-body tr[data-service="general"]"#, PAGE)
        .await;

    // A service: the kiosk's API offers it at once, and its tickets carry its prefix.
    type_into(&admin, "#service-add-name", "Dental").await;
    type_into(&admin, "#service-add-prefix", "d").await;
    let id = admin
        .js(
            "return document.getElementById('service-add-id').value;",
            vec![],
        )
        .await;
    assert_eq!(id, "dental", "the id is made from the name");
    press(&admin, "#service-add button[type=submit]").await;
    let said = wait_note(&admin, "service-add", "ok").await;
    assert!(said.contains("Dental"), "{said}");
    admin
        .wait_for_text(r#"#services-body tr[data-service="dental"]"#, "D", PAGE)
        .await;
    let services = server.get_json("/api/v1/services").await;
    assert!(
        services
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == "dental" && s["prefix"] == "D" && s["active"] == true),
        "{services}"
    );
    assert_eq!(server.issue("dental", "normal").await["number"], "D001");

    // A user with the doctor role, then a room calling Dental with that doctor.
    type_into(&admin, "#user-add-name", "drmehta").await;
    type_into(&admin, "#user-add-password", "a-long-password-1").await;
    press(&admin, r#"#user-add-roles input[value="doctor"]"#).await;
    press(&admin, "#user-add button[type=submit]").await;
    wait_note(&admin, "user-add", "ok").await;
    admin
        .wait_visible(r#"#users-body tr[data-user="drmehta"]"#, PAGE)
        .await;
    let users = server.get_json("/api/v1/admin/users").await;
    let mehta = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "drmehta")
        .unwrap_or_else(|| panic!("{users}"));
    assert_eq!(mehta["roles"], json!(["doctor"]));

    type_into(&admin, "#room-add-name", "Dental room").await;
    press(&admin, r#"#room-add-services input[value="dental"]"#).await;
    press(&admin, r#"#room-add-doctors input[value="drmehta"]"#).await;
    press(&admin, "#room-add button[type=submit]").await;
    wait_note(&admin, "room-add", "ok").await;
    admin
        .wait_for_text(
            r#"#rooms-body tr[data-room="dental-room"]"#,
            "drmehta",
            PAGE,
        )
        .await;
    let clinic = admin_clinic(&server).await;
    let room = clinic["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "dental-room")
        .unwrap_or_else(|| panic!("{clinic}"));
    assert_eq!(room["services"], json!(["dental"]));
    assert_eq!(room["doctors"], json!(["drmehta"]));

    // The last admin cannot lose the role: the API's refusal shows next to the row, and the
    // box is ticked again.
    press(&admin, r#"[data-key="user-role:admin:admin"]"#).await;
    let refused = wait_note(&admin, "user:admin", "error").await;
    assert!(refused.to_lowercase().contains("admin"), "{refused}");
    admin
        .wait_until(
            "the admin box to be ticked again",
            r#"return document.querySelector('[data-key="user-role:admin:admin"]').checked;"#,
            vec![],
            PAGE,
        )
        .await;

    // An API token: its secret is shown once, works over HTTP, and stops working when revoked.
    type_into(&admin, "#token-add-name", "his-bridge").await;
    admin
        .js(
            "document.getElementById('token-add-role').value = 'reception';",
            vec![],
        )
        .await;
    press(&admin, "#token-add button[type=submit]").await;
    admin.wait_visible("#token-secret", PAGE).await;
    let secret = admin
        .wait_until(
            "the token's secret",
            "return document.getElementById('token-secret-value').value;",
            vec![],
            PAGE,
        )
        .await
        .as_str()
        .unwrap()
        .to_owned();
    shoot(&admin, "admin-token-1280x800", "#tokens", false).await;
    let once = admin.text("#token-secret .secret-warning").await.unwrap();
    assert!(once.contains("not be shown again"), "{once}");
    assert_eq!(
        get_with_token(&server, &secret, "/api/v1/devices/printer/jobs").await,
        200
    );
    press(&admin, "#token-secret-done").await;
    admin.wait_hidden("#token-secret", PAGE).await;
    press(
        &admin,
        r#"#tokens-body tr[data-name="his-bridge"] [data-action="revoke"]"#,
    )
    .await;
    press(&admin, "#confirm-yes").await;
    admin
        .wait_hidden(r#"#tokens-body tr[data-name="his-bridge"]"#, PAGE)
        .await;
    assert_eq!(
        get_with_token(&server, &secret, "/api/v1/devices/printer/jobs").await,
        401
    );

    // Kiosk settings: 45 s instead of the configuration file's default, on the kiosk at once.
    press(&admin, "#kiosk-reset-default").await;
    type_into(&admin, "#kiosk-reset-secs", "45").await;
    press(&admin, "#clinic-save").await;
    wait_note(&admin, "clinic", "ok").await;
    let clinic = admin_clinic(&server).await;
    assert_eq!(clinic["clinic"]["kiosk"]["reset_secs"], 45, "{clinic}");
    assert_eq!(clinic["kiosk"]["reset_secs"], 45, "{clinic}");
    let kiosk = server
        .client
        .get(server.url("/kiosk"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        kiosk.contains(r#""reset_secs":45"#),
        "the kiosk page still has the old setting"
    );

    // The display message.
    type_into(&admin, "#message-text", "Dr. Rao is in from 11:00").await;
    press(&admin, "#message-save").await;
    wait_note(&admin, "message", "ok").await;
    assert_eq!(
        server.queue().await["clinic"]["message"],
        "Dr. Rao is in from 11:00"
    );

    // A change made elsewhere (another system closing Lab) shows without a reload.
    let (status, body) = server.post_json("/api/v1/services/lab/close", None).await;
    assert_eq!(status, 200, "{body}");
    admin
        .wait_visible(
            r#"#services-body tr[data-service="lab"] [data-action="open"]"#,
            PAGE,
        )
        .await;
    shoot(&admin, "admin-1280x800", "body", true).await;
    shoot(&admin, "admin-services-1280x800", "#services", false).await;
    shoot(&admin, "admin-staff-1280x800", "#staff", false).await;
    press(
        &admin,
        r#"#services-body tr[data-service="dental"] [data-action="edit"]"#,
    )
    .await;
    admin.wait_visible("#service-edit-name", PAGE).await;
    shoot(&admin, "admin-service-edit-1280x800", "#services", false).await;

    // The audit trail: staff changes, then the service added, and the same as CSV.
    admin
        .goto(&server.url("/admin/audit?kind=staff_changed"))
        .await;
    admin
        .wait_for_text("#audit-body", "Added the user drmehta", PAGE)
        .await;
    let listed = admin.text("#audit-body").await.unwrap();
    assert!(
        listed.contains("Created the API token his-bridge")
            && listed.contains("Revoked the API token his-bridge")
            && listed.contains("user:admin"),
        "{listed}"
    );
    assert!(!listed.contains("Added the service"), "{listed}");
    admin
        .js(
            "const k = document.getElementById('filter-kind'); k.value = 'service_added'; \
             k.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await;
    admin
        .wait_for_text("#audit-body", "Added the service Dental (prefix D)", PAGE)
        .await;
    assert!(!admin.text("#audit-body").await.unwrap().contains("drmehta"));
    let href = admin
        .js(
            "return document.getElementById('export-csv').getAttribute('href');",
            vec![],
        )
        .await;
    let href = href.as_str().unwrap();
    assert!(
        href.contains("kind=service_added") && href.contains("format=csv"),
        "{href}"
    );
    let csv = server.client.get(server.url(href)).send().await.unwrap();
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = csv.text().await.unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("seq,at,source,actor,kind,room,tickets"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 1, "{csv}");
    assert!(
        rows[0].contains("user:admin") && rows[0].contains("service_added"),
        "{csv}"
    );
    // Details open as JSON.
    press(
        &admin,
        "#audit-body tr[data-kind=\"service_added\"] summary",
    )
    .await;
    admin
        .wait_for_text(
            "#audit-body tr[data-kind=\"service_added\"] pre",
            "\"prefix\": \"D\"",
            PAGE,
        )
        .await;
    admin.goto(&server.url("/admin/audit")).await;
    admin.wait_visible("#audit-body tr[data-seq]", PAGE).await;
    if std::env::var("WAITLESS_SCREENSHOTS").as_deref() == Ok("1") {
        admin.goto(&server.url("/admin?lang=hi")).await;
        admin.wait_visible("#services-body tr", PAGE).await;
        shoot(&admin, "admin-hi-1280x800", "#services", false).await;
        admin.goto(&server.url("/admin/audit?lang=hi")).await;
        admin.wait_visible("#audit-body tr[data-seq]", PAGE).await;
        shoot(&admin, "audit-hi-1280x800", "body", false).await;
        admin.goto(&server.url("/admin/audit")).await;
        admin.wait_visible("#audit-body tr[data-seq]", PAGE).await;
    }
    shoot(&admin, "audit-1280x800", "body", true).await;
    admin.close().await;

    // A 768-wide tablet: nothing sticks out sideways.
    let tablet = driver.session(768, 1024).await;
    tablet.goto(&server.url("/admin")).await;
    tablet
        .wait_visible(r#"#rooms-body tr[data-room="dental-room"]"#, PAGE)
        .await;
    shoot(&tablet, "admin-768x1024", "body", false).await;
    shoot(&tablet, "admin-rooms-768x1024", "#rooms", false).await;
    shoot(&tablet, "admin-staff-768x1024", "#staff", false).await;
    let wide = tablet
        .js("return document.documentElement.scrollWidth;", vec![])
        .await;
    assert!(wide.as_u64().unwrap() <= 768, "the page is {wide} px wide");
    tablet.goto(&server.url("/admin/audit")).await;
    tablet.wait_visible("#audit-body tr[data-seq]", PAGE).await;
    shoot(&tablet, "audit-768x1024", "body", false).await;
    let wide = tablet
        .js("return document.documentElement.scrollWidth;", vec![])
        .await;
    assert!(
        wide.as_u64().unwrap() <= 768,
        "the audit page is {wide} px wide"
    );
    tablet.close().await;
}

#[tokio::test]
async fn staff_console_changes_the_users_own_password() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::spawn().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let staff = driver.session(1280, 800).await;
    staff.goto(&server.url("/staff?room=room-1")).await;
    staff.wait_visible("#change-password", PAGE).await;
    shoot(&staff, "staff-topbar-1280x800", "body", false).await;
    press(&staff, "#change-password").await;
    staff.wait_visible("#password-dialog", PAGE).await;

    // Two different new passwords: said in the dialog, nothing sent.
    type_into(&staff, "#password-current", ADMIN_PASSWORD).await;
    type_into(&staff, "#password-new", "another-password-1").await;
    type_into(&staff, "#password-repeat", "another-password-2").await;
    press(&staff, "#password-submit").await;
    staff.wait_for_text("#password-note", "differ", PAGE).await;
    shoot(&staff, "staff-password-1280x800", "body", false).await;

    type_into(&staff, "#password-repeat", "another-password-1").await;
    press(&staff, "#password-submit").await;
    staff
        .wait_until(
            "the login page after the change",
            "return location.pathname === '/login';",
            vec![],
            PAGE,
        )
        .await;
    staff.close().await;

    let login = |password: &'static str| {
        let client = reqwest::Client::new();
        let url = server.url("/api/v1/login");
        let origin = server.url("");
        async move {
            client
                .post(url)
                .header("Origin", origin)
                .json(&json!({"name": ADMIN_NAME, "password": password}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(login("another-password-1").await, 200);
    assert_eq!(login(ADMIN_PASSWORD).await, 401);
}

#[tokio::test]
async fn admin_pages_are_for_admins_only() {
    let app = TestApp::spawn().await;
    for name in [DOCTOR_NAME, RECEPTION_NAME] {
        let cookie = app.login(name).await;
        for path in ["/admin", "/admin/audit"] {
            let r = app
                .anon
                .get(app.url(path))
                .header("Cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 403, "{path} as {name}");
        }
    }
    for path in ["/admin", "/admin/audit"] {
        let r = app.anon.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 303, "{path} without a login");
        let to = r.headers()["location"].to_str().unwrap();
        assert!(to.starts_with("/login?next=/admin"), "{to}");
    }
    let admin = app.login(ADMIN_NAME).await;
    let r = app
        .anon
        .get(app.url("/admin"))
        .header("Cookie", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains(r#"<section id="screens""#) && page.contains(r#"id="screens-pending""#),
        "the paired screens' section"
    );
    assert!(!page.contains("style="), "no inline styles");
}

/// A ticket issued from `kiosk`'s own page, as the kiosk does it: the answer's status.
async fn kiosk_ticket(kiosk: &Browser) -> Value {
    kiosk
        .js(
            "return fetch('/api/v1/tickets', {method: 'POST', \
               headers: {'Content-Type': 'application/json'}, \
               body: JSON.stringify({service: 'general', source: 'kiosk', print: false})}) \
             .then((r) => r.status);",
            vec![],
        )
        .await
}

#[tokio::test]
async fn a_kiosk_shows_its_code_until_the_admin_approves_it_then_becomes_the_kiosk() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::spawn().await;
    let r = server
        .client
        .patch(server.url("/api/v1/admin/clinic"))
        .json(&json!({"pairing_required": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    // The kiosk: a browser with no login.
    let kiosk = driver.session(1024, 600).await;
    kiosk.goto(&server.url("/kiosk")).await;
    let shown = kiosk
        .wait_until(
            "a pairing code",
            "return document.documentElement.dataset.page === 'pair' \
             && /^[A-Z0-9]{3} [A-Z0-9]{3}$/.test(document.getElementById('pair-code').textContent) \
             ? document.getElementById('pair-code').textContent : null;",
            vec![],
            PAGE,
        )
        .await;
    let code = shown.as_str().unwrap().replace(' ', "");
    shoot(&kiosk, "pairing-code-1024x600", "body", true).await;

    // The admin approves it in /admin → Screens.
    let admin = driver.session(1280, 800).await;
    admin.goto(&server.url("/admin#screens")).await;
    let row = format!(r#"#screens-pending tr[data-code="{code}"]"#);
    admin.wait_visible(&row, PAGE).await;
    admin
        .js(
            "const input = document.querySelector(arguments[0] + ' input'); \
             input.value = 'front-kiosk';",
            vec![json!(row)],
        )
        .await;
    press(&admin, &format!("{row} button[data-action=approve]")).await;
    admin
        .wait_for_text(
            r#"#screens-paired tr[data-name="front-kiosk"]"#,
            "front-kiosk",
            PAGE,
        )
        .await;

    // The kiosk finds out by itself and reloads as the kiosk; its tickets are its own.
    kiosk
        .wait_until(
            "the kiosk after pairing",
            "return document.documentElement.dataset.page === 'kiosk' \
             && document.readyState === 'complete';",
            vec![],
            PAGE,
        )
        .await;
    let issued = kiosk_ticket(&kiosk).await;
    assert_eq!(issued, 201);
    let audit = server
        .get_json("/api/v1/audit?kind=ticket_issued&actor=screen:front-kiosk")
        .await;
    assert_eq!(audit["events"].as_array().unwrap().len(), 1, "{audit}");

    // Unpaired in /admin: the kiosk cannot issue any more.
    press(
        &admin,
        r#"#screens-paired tr[data-name="front-kiosk"] button[data-action=unpair]"#,
    )
    .await;
    admin.wait_visible("#confirm-yes", PAGE).await;
    press(&admin, "#confirm-yes").await;
    admin
        .wait_for_text("#screens-paired", "No paired screens", PAGE)
        .await;
    let refused = kiosk_ticket(&kiosk).await;
    assert_eq!(refused, 403);
    kiosk.close().await;
    admin.close().await;
}

/// An admin writes a doctor's week in /admin (hours, a break, a day off), sees it in the week
/// table, edits it, is told what a mistyped time is without anything changing, and removes it.
#[tokio::test]
async fn admin_sets_a_doctors_plan_week_edits_it_and_removes_it() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::spawn().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let admin = driver.session(1280, 800).await;
    admin.goto(&server.url("/admin")).await;
    admin.wait_visible("#plans-none", PAGE).await;
    admin.wait_for_text("#plan-doctor", DOCTOR_NAME, PAGE).await;

    type_into(&admin, "#plan-hours-0", "9:00-12:00").await;
    type_into(&admin, "#plan-breaks-0", "10:30-11:00").await;
    type_into(&admin, "#plan-hours-1", "09:00-10:00, 14:00-15:00").await;
    type_into(&admin, "#plan-slot", "20").await;
    type_into(&admin, "#plan-exceptions", "2026-12-25 off Christmas").await;
    press(&admin, "#plan-form button[type=submit]").await;
    let said = wait_note(&admin, "plan", "ok").await;
    assert!(said.contains(DOCTOR_NAME), "{said}");
    let key = format!("{DOCTOR_NAME}/general");
    let row = format!(r#"#plans-body tr[data-plan="{key}"]"#);
    admin.wait_visible(&row, PAGE).await;
    let week = admin
        .js(
            "return [...document.querySelectorAll(arguments[0] + ' .plan-day')].map(c => c.textContent);",
            vec![json!(row)],
        )
        .await;
    assert_eq!(week[0], "09:00–12:00☕ 10:30–11:00", "{week}");
    assert_eq!(week[1], "09:00–10:0014:00–15:00", "{week}");
    assert_eq!(week[2], "—", "{week}");
    let plans = server.get_json("/api/v1/plans").await;
    assert_eq!(plans[0]["slot_minutes"], 20, "{plans}");
    assert_eq!(
        plans[0]["exceptions"]["2026-12-25"]["kind"], "off",
        "{plans}"
    );
    assert_eq!(plans[0]["breaks"][0][0]["start"], "10:30:00", "{plans}");

    // A mistyped time is named and nothing is sent.
    press(&admin, &format!(r#"{row} [data-action="edit-plan"]"#)).await;
    type_into(&admin, "#plan-hours-2", "9-5").await;
    press(&admin, "#plan-form button[type=submit]").await;
    let said = wait_note(&admin, "plan", "error").await;
    assert!(said.contains("9-5"), "{said}");
    assert_eq!(server.get_json("/api/v1/plans").await, plans);

    // Edited: the form was filled from the plan, one field changes.
    type_into(&admin, "#plan-hours-2", "").await;
    type_into(&admin, "#plan-seats", "2").await;
    press(&admin, "#plan-form button[type=submit]").await;
    wait_note(&admin, "plan", "ok").await;
    let edited = server.get_json("/api/v1/plans").await;
    assert_eq!(edited[0]["seats"], 2, "{edited}");
    assert_eq!(edited[0]["slot_minutes"], 20, "{edited}");
    assert_eq!(edited[0]["weekly"], plans[0]["weekly"], "{edited}");
    shoot(&admin, "admin-plans-1280x800", "#plans", true).await;

    press(&admin, &format!(r#"{row} [data-action="remove-plan"]"#)).await;
    admin.wait_visible("#confirm-yes", PAGE).await;
    press(&admin, "#confirm-yes").await;
    admin.wait_visible("#plans-none", PAGE).await;
    assert_eq!(server.get_json("/api/v1/plans").await, json!([]));
    admin.close().await;
}

#[tokio::test]
async fn admin_page_says_how_shipping_to_the_central_database_goes_without_its_password() {
    let _one = ONE_AT_A_TIME.lock().await;
    // A central database that is not there: the shipper is offline and says why.
    let server = Server::spawn_with(|c| {
        c.central.url = "postgres://site:secret-pw@127.0.0.1:1/chain".to_owned();
        c.central.site = "north".to_owned();
    })
    .await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let admin = driver.session(1280, 800).await;
    admin.goto(&server.url("/admin")).await;
    admin.wait_visible("#central-state", PAGE).await;
    let line = admin
        .wait_for_text("#central-state", "not reachable", PAGE)
        .await;
    assert!(line.contains("north"), "{line}");
    assert!(line.contains("127.0.0.1:1/chain"), "{line}");
    assert!(
        !line.contains("secret-pw"),
        "the password is never shown: {line}"
    );
    assert!(line.contains("not reachable"), "{line}");
    admin.close().await;
}
