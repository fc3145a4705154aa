//! The staff console by role: a doctor lands in their own room without reception's tools, a
//! doctor with two rooms chooses between those only, reception keeps everything, an admin gets
//! a link to /admin, a manager lands on the reports instead; "no-show and next", a call out of
//! order with its reason, a room on break; and the layout of a clinic of 8 rooms at 1024×768 and 1280×800 (whole rows, names not cut,
//! toasts not over the lists).
//!
//! `WAITLESS_STAFF_SHOTS=1` also saves each screen as `/tmp/staff-<role>-<w>x<h>.png`.

use fantoccini::Locator;
use serde_json::{Value, json};

use super::driver::{Browser, Driver};
use super::server::Server;
use super::{ONE_AT_A_TIME, PAGE, message};
use crate::common::{ADMIN_PASSWORD, DOCTOR_NAME, RECEPTION_NAME};

/// Logs `name` in through the login page, landing on `path`.
pub(super) async fn login_to(browser: &Browser, server: &Server, name: &str, path: &str) {
    let next: String = path
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect();
    browser
        .client
        .goto(&server.url(&format!("/login?next={next}")))
        .await
        .unwrap();
    browser.wait_visible("#login-form", PAGE).await;
    browser
        .js(
            "document.getElementById('login-name').value = arguments[0];
             document.getElementById('login-password').value = arguments[1];
             document.getElementById('login-form').requestSubmit();",
            vec![json!(name), json!(ADMIN_PASSWORD)],
        )
        .await;
    browser
        .wait_until(
            "back from the login page",
            "return location.pathname !== '/login' && document.readyState === 'complete';",
            vec![],
            PAGE,
        )
        .await;
}

/// Waits for the console to be connected and drawn.
pub(super) async fn live(browser: &Browser) {
    browser
        .wait_for_text("#link-state", &message("en", "staff.connected", &[]), PAGE)
        .await;
}

/// Whether an element matching `css` is shown (exists and takes room on the page).
pub(super) async fn shown(browser: &Browser, css: &str) -> bool {
    browser
        .js(
            "const e = document.querySelector(arguments[0]);
             return !!e && e.getClientRects().length > 0;",
            vec![json!(css)],
        )
        .await
        .as_bool()
        .unwrap()
}

/// Adds a user through the admin API.
async fn add_user(server: &Server, name: &str, roles: &[&str], rooms: &[&str]) {
    let (status, body) = server
        .post_json(
            "/api/v1/admin/users",
            Some(json!({"name": name, "password": ADMIN_PASSWORD, "roles": roles, "rooms": rooms})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

/// Five more rooms (eight in all), each open, with long names as clinics give them.
async fn eight_rooms(server: &Server) {
    for (id, name, services) in [
        ("room-3", "Room 3 (Dr. Venkataraman)", json!(["general"])),
        ("room-4", "Room 4", json!(["general"])),
        ("paeds", "Paediatrics room", json!(["general"])),
        (
            "dressing",
            "Dressing and injections",
            json!(["general", "lab"]),
        ),
        ("pharmacy", "Pharmacy window", json!(["lab"])),
    ] {
        let (status, body) = server
            .post_json(
                "/api/v1/admin/rooms",
                Some(json!({"id": id, "name": name, "services": services})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let (status, body) = server
            .post_json(&format!("/api/v1/rooms/{id}/open"), None)
            .await;
        assert_eq!(status, 200, "{body}");
    }
}

/// Checks what 1024×768 and 1280×800 used to cut: the clinic's name, a button's word, the last
/// waiting row, the reception column; and that nothing on the page scrolls sideways.
async fn check_layout(browser: &Browser, what: &str) {
    let report = browser
        .js(
            r#"const out = [];
            const brand = document.querySelector('.brand-clinic');
            if (brand.scrollWidth > brand.clientWidth + 1) out.push('clinic name cut');
            if (document.documentElement.scrollWidth > window.innerWidth + 1) out.push('page scrolls sideways');
            for (const span of document.querySelectorAll('.room-actions .nowrap')) {
              if (span.getClientRects().length > 1) out.push('a button word wraps: ' + span.textContent);
              if (span.getClientRects().length === 1 && span.scrollWidth > span.parentElement.clientWidth + 1) out.push('a button word is cut: ' + span.textContent);
            }
            const list = document.getElementById('waiting-list');
            const rows = [...list.querySelectorAll('li:not(.empty)')];
            if (list.getClientRects().length && rows.length) {
              const h = rows[0].getBoundingClientRect().height;
              const box = list.clientHeight;
              if (Math.abs(box / h - Math.round(box / h)) > 0.05) out.push(`waiting list ${box}px is not whole rows of ${h}px`);
            }
            const reception = document.getElementById('reception');
            if (reception.getClientRects().length) {
              if (reception.scrollWidth > reception.clientWidth + 1) out.push('reception column cut');
              for (const e of reception.querySelectorAll('button, select, input, .count-name, .link-button')) {
                const r = e.getBoundingClientRect(), p = reception.getBoundingClientRect();
                if (r.width && (r.right > p.right + 1 || r.left < p.left - 1)) out.push('reception control out of its column: ' + (e.id || e.className));
              }
            }
            return out;"#,
            vec![],
        )
        .await;
    assert_eq!(report, json!([]), "{what}");
}

/// Saves a screenshot to /tmp when `WAITLESS_STAFF_SHOTS=1`.
async fn shot(browser: &Browser, name: &str) {
    if std::env::var("WAITLESS_STAFF_SHOTS").as_deref() == Ok("1") {
        let path = std::path::PathBuf::from(format!("/tmp/staff-{name}.png"));
        browser.screenshot(&path).await;
        eprintln!("saved {}", path.display());
    }
}

#[tokio::test]
async fn staff_console_fits_8_rooms_at_tablet_and_desktop_sizes_for_each_role() {
    let server = Server::spawn().await;
    eight_rooms(&server).await;
    for (service, priority) in [
        ("general", "normal"),
        ("general", "priority"),
        ("lab", "normal"),
        ("general", "urgent"),
        ("general", "normal"),
        ("general", "normal"),
        ("lab", "normal"),
        ("general", "normal"),
        ("general", "normal"),
        ("general", "normal"),
        ("general", "normal"),
        ("general", "normal"),
    ] {
        server.issue(service, priority).await;
    }
    server.next("room-1").await;
    server.next("room-2").await;
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    for (w, h) in [(1024, 768), (1280, 800)] {
        for (role, name) in [
            ("admin", crate::common::ADMIN_NAME),
            ("reception", RECEPTION_NAME),
            ("doctor", DOCTOR_NAME),
        ] {
            let desk = driver.session(w, h).await;
            login_to(&desk, &server, name, "/staff?room=room-1").await;
            live(&desk).await;
            desk.wait_for_any_text("#serving-number", PAGE).await;
            let what = format!("{role} at {w}x{h}");
            shot(&desk, &format!("{role}-{w}x{h}")).await;
            check_layout(&desk, &what).await;
            if role != "doctor" {
                // The room alone, as a doctor's screen shows it.
                desk.goto(&server.url("/staff?room=room-1&view=room")).await;
                live(&desk).await;
                shot(&desk, &format!("{role}-{w}x{h}-room")).await;
                check_layout(&desk, &format!("{what}, room alone")).await;
            }
            // In Hindi too.
            desk.goto(&server.url("/staff?room=room-1&lang=hi")).await;
            desk.wait_for_text("#link-state", &message("hi", "staff.connected", &[]), PAGE)
                .await;
            desk.wait_for_any_text("#serving-number", PAGE).await;
            shot(&desk, &format!("{role}-{w}x{h}-hi")).await;
            check_layout(&desk, &format!("{what}, Hindi")).await;
            desk.goto(&server.url("/staff?room=room-1")).await;
            live(&desk).await;
            // A toast stays off the lists, and a tap on it dismisses it.
            desk.tap(r#"#room-view [data-action="recall"]"#, PAGE).await;
            desk.wait_visible("#toast", PAGE).await;
            let overlap = desk
                .js(
                    "const t = document.getElementById('toast').getBoundingClientRect();
                     return [...document.querySelectorAll('#waiting-list, #queue-list, .serving-card')]
                       .filter((e) => e.getClientRects().length)
                       .some((e) => { const r = e.getBoundingClientRect();
                         return r.top < t.bottom && t.top < r.bottom && r.left < t.right && t.left < r.right; });",
                    vec![],
                )
                .await;
            assert_eq!(overlap, json!(false), "{what}: the toast covers a list");
            shot(&desk, &format!("{role}-{w}x{h}-toast")).await;
            desk.tap("#toast", PAGE).await;
            desk.wait_hidden("#toast", PAGE).await;
            if role != "doctor" {
                // The transfer dialog names the ticket first: "Transfer A003 to…".
                desk.tap(r#"#room-view [data-action="transfer"]"#, PAGE)
                    .await;
                let title = message("en", "staff.transfer_title", &[("number", "A003")]);
                desk.wait_for_text("#transfer-title", &title, PAGE).await;
                shot(&desk, &format!("{role}-{w}x{h}-transfer")).await;
            }
            desk.close().await;
        }
    }
}

/// Whether the page shows none of reception's tools.
async fn no_reception_tools(desk: &Browser) -> Vec<String> {
    let mut shown_tools = Vec::new();
    for css in [
        "#reception",
        "#issue-form",
        ".views",
        r#"[data-action="open"]"#,
        r#"[data-action="close"]"#,
        r#"#room-view [data-action="transfer"]"#,
        "#admin-link",
    ] {
        if shown(desk, css).await {
            shown_tools.push(css.to_owned());
        }
    }
    shown_tools
}

#[tokio::test]
async fn a_doctor_lands_in_their_own_room_without_reception_tools() {
    let server = Server::spawn().await;
    server.issue("general", "normal").await;
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let desk = driver.session(1024, 768).await;
    // Even when the address names another doctor's room.
    for path in ["/staff", "/staff?room=room-2"] {
        login_to(&desk, &server, DOCTOR_NAME, path).await;
        live(&desk).await;
        desk.wait_for_text("#room-heading", "Room 1", PAGE).await;
        desk.wait_visible(r#"#room-view [data-action="next"]"#, PAGE)
            .await;
        assert!(!shown(&desk, "#room-chooser").await, "{path}");
        assert!(
            !shown(&desk, "#room-select").await,
            "{path}: one room, nothing to choose"
        );
        assert_eq!(
            no_reception_tools(&desk).await,
            Vec::<String>::new(),
            "{path}"
        );
        // What a doctor may do in their room is there.
        for action in ["next", "recall", "done", "no-show", "no-show-next", "undo"] {
            let css = format!(r#"#room-view [data-action="{action}"]"#);
            assert!(shown(&desk, &css).await, "{path}: {action}");
        }
        assert!(shown(&desk, r#"[data-action="pause"]"#).await);
        desk.wait_visible(r#"#waiting-list [data-action="call"]"#, PAGE)
            .await;
        let here = desk.js("return location.search;", vec![]).await;
        assert_eq!(here, json!("?room=room-1"), "{path}");
    }
    desk.close().await;
}

#[tokio::test]
async fn a_doctor_with_two_rooms_chooses_between_those_only_and_one_without_is_told_to_ask() {
    let server = Server::spawn().await;
    add_user(&server, "dr-two", &["doctor"], &["room-1", "lab"]).await;
    add_user(&server, "dr-none", &["doctor"], &[]).await;
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let desk = driver.session(1280, 800).await;
    login_to(&desk, &server, "dr-two", "/staff").await;
    live(&desk).await;
    desk.wait_visible("#room-chooser", PAGE).await;
    let choices = desk
        .js(
            "return [...document.querySelectorAll('#room-choices [data-room]')].map((b) => b.dataset.room);",
            vec![],
        )
        .await;
    // In the clinic's order of rooms (set in /admin), not by id.
    assert_eq!(choices, json!(["room-1", "lab"]));
    let options = desk
        .js(
            "return [...document.querySelectorAll('#room-select option')].map((o) => o.value).filter(Boolean);",
            vec![],
        )
        .await;
    assert_eq!(options, json!(["room-1", "lab"]));
    assert_eq!(no_reception_tools(&desk).await, Vec::<String>::new());
    desk.tap(r#"#room-choices [data-room="lab"]"#, PAGE).await;
    desk.wait_visible(r#"#room-view [data-action="next"]"#, PAGE)
        .await;
    assert!(
        shown(&desk, "#room-select").await,
        "two rooms: the choice stays"
    );
    desk.close().await;

    let desk = driver.session(1280, 800).await;
    login_to(&desk, &server, "dr-none", "/staff").await;
    live(&desk).await;
    let note = desk
        .wait_for_text(
            "#no-room-note",
            &message("en", "staff.no_room_assigned", &[]),
            PAGE,
        )
        .await;
    assert!(note.contains("admin"), "{note}");
    assert!(!shown(&desk, "#room-view").await);
    assert_eq!(no_reception_tools(&desk).await, Vec::<String>::new());
    desk.close().await;
}

#[tokio::test]
async fn reception_keeps_every_tool_and_an_admin_also_gets_the_admin_link() {
    let server = Server::spawn().await;
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    for (name, admin) in [(RECEPTION_NAME, false), (crate::common::ADMIN_NAME, true)] {
        let desk = driver.session(1280, 800).await;
        login_to(&desk, &server, name, "/staff?room=room-2").await;
        live(&desk).await;
        desk.wait_visible(r#"#room-view [data-action="next"]"#, PAGE)
            .await;
        for css in [
            "#reception",
            "#issue-form",
            ".views",
            "#room-select",
            r#"[data-action="close"]"#,
            r#"#room-view [data-action="transfer"]"#,
        ] {
            assert!(shown(&desk, css).await, "{name}: {css}");
        }
        // Every room to choose from.
        let options = desk
            .js(
                "return document.querySelectorAll('#room-select option[value]:not([value=\"\"])').length;",
                vec![],
            )
            .await;
        assert_eq!(options, json!(3), "{name}");
        assert_eq!(
            shown(&desk, "#admin-link").await,
            admin,
            "{name}: /admin link"
        );
        // The start page links to /admin for an admin only.
        desk.goto(&server.url("/")).await;
        desk.wait_visible("#link-kiosk", PAGE).await;
        assert_eq!(
            shown(&desk, "#link-admin").await,
            admin,
            "{name}: / links /admin"
        );
        assert!(shown(&desk, "#user-name").await, "{name}: who is logged in");
        assert_eq!(
            shown(&desk, "#link-reports").await,
            admin,
            "{name}: / links the reports"
        );
        shot(&desk, &format!("index-{name}")).await;
        if admin {
            let shot_file = super::screens::shot_path("index-1280x800-admin");
            assert_eq!(desk.screenshot(&shot_file).await, (1280, 800));
        }
        if admin {
            desk.tap("#link-admin", PAGE).await;
            desk.wait_until(
                "the admin page",
                "return location.pathname === '/admin';",
                vec![],
                PAGE,
            )
            .await;
        }
        desk.close().await;
    }
    // Nobody logged in: no admin link on the start page.
    let visitor = driver.session(1280, 800).await;
    visitor.client.goto(&server.url("/")).await.unwrap();
    visitor.wait_visible("#link-kiosk", PAGE).await;
    assert!(!shown(&visitor, "#link-admin").await);
    visitor.close().await;
}

/// A doctor's console on Room 1 with A001 called and A002, A003 waiting.
async fn doctor_serving(server: &Server, driver: &mut Driver) -> Browser {
    for _ in 0..3 {
        server.issue("general", "normal").await;
    }
    server.next("room-1").await;
    let desk = driver.session(1280, 800).await;
    login_to(&desk, server, DOCTOR_NAME, "/staff").await;
    live(&desk).await;
    desk.wait_for_text("#serving-number", "A001", PAGE).await;
    // The server's clock stands still: move it past the double-press window.
    server.advance(jiff::SignedDuration::from_secs(5));
    desk
}

fn ticket_state(queue: &Value, number: &str) -> Option<String> {
    let mut found = None;
    let mut stack = vec![queue];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                if map.get("number").and_then(Value::as_str) == Some(number)
                    && let Some(state) = map.get("state").and_then(Value::as_str)
                {
                    found = Some(state.to_owned());
                }
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    found
}

#[tokio::test]
async fn no_show_and_next_is_one_tap() {
    let server = Server::spawn().await;
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let desk = doctor_serving(&server, &mut driver).await;
    desk.tap(r#"#room-view [data-action="no-show-next"]"#, PAGE)
        .await;
    desk.wait_for_text("#serving-number", "A002", PAGE).await;
    desk.wait_for_text("#toast", "A001", PAGE).await;
    let a001 = server.get_json("/api/v1/tickets/1").await;
    assert_eq!(a001["state"], "no_show");
    let queue = server.queue().await;
    assert_eq!(ticket_state(&queue, "A002").as_deref(), Some("called"));
    desk.close().await;
}

#[tokio::test]
async fn a_call_out_of_order_asks_why_and_the_reason_is_in_the_audit_trail() {
    let server = Server::spawn().await;
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let desk = doctor_serving(&server, &mut driver).await;
    let call_a003 = r#"#waiting-list li[data-ticket="3"] [data-action="call"]"#;
    desk.tap(call_a003, PAGE).await;
    desk.wait_visible("#call-dialog", PAGE).await;
    desk.wait_for_text("#call-title", "A003", PAGE).await;
    // No reason: asked again, nothing sent.
    desk.tap("#call-submit", PAGE).await;
    desk.wait_for_text(
        "#call-note",
        &message("en", "staff.call_reason_missing", &[]),
        PAGE,
    )
    .await;
    assert_eq!(
        server.get_json("/api/v1/tickets/3").await["state"],
        "waiting"
    );
    let input = desk
        .client
        .find(Locator::Css("#call-reason"))
        .await
        .unwrap();
    input.send_keys("came back from X-ray").await.unwrap();
    shot(&desk, "doctor-call-dialog").await;
    desk.tap("#call-submit", PAGE).await;
    desk.wait_hidden("#call-dialog", PAGE).await;
    desk.wait_for_text("#serving-number", "A003", PAGE).await;
    let audit = server.get_json("/api/v1/audit?kind=room_next").await;
    let last = audit["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["called"]["number"], "A003", "{last}");
    assert_eq!(last["reason"]["rule"], "chosen");
    assert_eq!(last["reason"]["note"], "came back from X-ray");
    assert_eq!(last["actor"], "user:doctor");
    assert_eq!(
        server.get_json("/api/v1/tickets/2").await["state"],
        "waiting"
    );
    desk.close().await;
}

#[tokio::test]
async fn a_break_shows_on_the_display_and_next_waits_for_resume() {
    let server = Server::spawn().await;
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let desk = doctor_serving(&server, &mut driver).await;
    let display = driver.session(1280, 720).await;
    display.client.goto(&server.url("/display")).await.unwrap();
    let foot = r#"[data-room="room-1"] .room-foot"#;
    display.wait_for_any_text(foot, PAGE).await;

    desk.tap(r#"[data-action="pause"]"#, PAGE).await;
    desk.wait_for_text("#room-state", &message("en", "staff.on_break", &[]), PAGE)
        .await;
    desk.wait_visible("#room-paused-note", PAGE).await;
    display
        .wait_for_text(foot, &message("en", "display.on_break", &[]), PAGE)
        .await;
    shot(&desk, "doctor-on-break").await;
    shot(&display, "display-on-break").await;
    // Next is off while on break, and says why; the server refuses it too.
    let disabled = desk
        .js(
            r#"return document.querySelector('#room-view [data-action="next"]').disabled;"#,
            vec![],
        )
        .await;
    assert_eq!(disabled, json!(true));
    // A keypad's or pedal's "Next" (Space) while on break.
    desk.js(
        "document.dispatchEvent(new KeyboardEvent('keydown', { key: ' ', bubbles: true }));",
        vec![],
    )
    .await;
    desk.wait_for_text("#toast", &message("en", "staff.on_break_note", &[]), PAGE)
        .await;
    let (status, body) = server.post_json("/api/v1/rooms/room-1/next", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("room-on-break"))
    );
    assert_eq!(
        server.get_json("/api/v1/tickets/2").await["state"],
        "waiting"
    );

    desk.tap(r#"#room-paused-note [data-action="resume"]"#, PAGE)
        .await;
    desk.wait_for_text("#room-state", &message("en", "staff.room_open", &[]), PAGE)
        .await;
    display
        .wait_until(
            "the display to drop 'On break'",
            "return !document.querySelector(arguments[0]).textContent.includes(arguments[1]);",
            vec![json!(foot), json!(message("en", "display.on_break", &[]))],
            PAGE,
        )
        .await;
    desk.tap(r#"#room-view [data-action="next"]"#, PAGE).await;
    desk.wait_for_text("#serving-number", "A002", PAGE).await;
    display.close().await;
    desk.close().await;
}

#[tokio::test]
async fn a_waiting_rows_call_is_pressed_with_the_keyboard_and_a_keypads_enter_stays_next() {
    let server = Server::spawn().await;
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let desk = doctor_serving(&server, &mut driver).await;
    let call_a003 = r#"#waiting-list li[data-ticket="3"] [data-action="call"]"#;
    desk.wait_visible(call_a003, PAGE).await;
    // Tab through the page to A003's "Call", then Enter: the dialog asks why.
    let mut reached = false;
    for _ in 0..40 {
        desk.client
            .active_element()
            .await
            .unwrap()
            .send_keys("\u{E004}")
            .await
            .unwrap();
        let here = desk
            .js(
                "return document.activeElement.matches(arguments[0]);",
                vec![json!(call_a003)],
            )
            .await;
        if here == json!(true) {
            reached = true;
            break;
        }
    }
    assert!(reached, "Tab never reached A003's Call");
    desk.client
        .active_element()
        .await
        .unwrap()
        .send_keys("\u{E007}")
        .await
        .unwrap();
    desk.wait_visible("#call-dialog", PAGE).await;
    desk.wait_for_text("#call-title", "A003", PAGE).await;
    assert_eq!(
        server.get_json("/api/v1/tickets/2").await["state"],
        "waiting"
    );
    desk.client
        .active_element()
        .await
        .unwrap()
        .send_keys("\u{E00C}")
        .await
        .unwrap();
    desk.wait_hidden("#call-dialog", PAGE).await;
    // A keypad's Enter (no button focused by the keyboard) is "Next".
    desk.js("document.activeElement.blur();", vec![]).await;
    desk.js(
        "document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));",
        vec![],
    )
    .await;
    desk.wait_for_text("#serving-number", "A002", PAGE).await;
    desk.close().await;
}

#[tokio::test]
async fn a_manager_lands_on_the_reports_with_links_to_nothing_else() {
    let server = Server::spawn().await;
    add_user(&server, crate::common::MANAGER_NAME, &["manager"], &[]).await;
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let desk = driver.session(1280, 800).await;
    // The login page's usual next stop is the staff console, which a manager may not open.
    login_to(&desk, &server, crate::common::MANAGER_NAME, "/staff").await;
    desk.wait_visible("#by-doctor-heading", PAGE).await;
    let here = desk.js("return location.pathname;", vec![]).await;
    assert_eq!(here, json!("/admin/reports"));
    let links = desk
        .js(
            "return [...document.querySelectorAll('.views a')].map((a) => a.getAttribute('href'));",
            vec![],
        )
        .await;
    assert_eq!(links, json!(["/admin/reports"]), "only the reports");
    shot(&desk, "reports-manager").await;
    // The start page offers the reports and their account, nothing they may not open.
    desk.goto(&server.url("/")).await;
    desk.wait_visible("#link-reports", PAGE).await;
    desk.wait_visible("#user-name", PAGE).await;
    assert!(shown(&desk, "#change-password").await);
    let links = desk
        .js(
            "return [...document.querySelectorAll('main a')].map((a) => a.getAttribute('href'));",
            vec![],
        )
        .await;
    assert_eq!(
        links,
        json!(["/admin/reports", "/api/v1/openapi.json"]),
        "only the reports (and the API's description)"
    );
    let shot_file = super::screens::shot_path("index-1280x800-manager");
    assert_eq!(desk.screenshot(&shot_file).await, (1280, 800));
    desk.tap("#link-reports", PAGE).await;
    desk.wait_visible("#by-doctor-heading", PAGE).await;
    // Their way out is on this page too.
    desk.wait_visible("#user-name", PAGE).await;
    desk.tap("#logout", PAGE).await;
    desk.wait_until(
        "the login page",
        "return location.pathname === '/login';",
        vec![],
        PAGE,
    )
    .await;
    desk.close().await;
}
