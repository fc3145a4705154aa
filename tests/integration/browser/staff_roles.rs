//! The staff console by role: a doctor lands in their own room without reception's tools, a
//! doctor with two rooms chooses between those only, reception keeps everything, an admin gets
//! a link to /admin; "no-show and next", a call out of order with its reason, a room on break;
//! and the layout of a clinic of 8 rooms at 1024×768 and 1280×800 (whole rows, names not cut,
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
async fn login_to(browser: &Browser, server: &Server, name: &str, path: &str) {
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
async fn live(browser: &Browser) {
    browser
        .wait_for_text("#link-state", &message("en", "staff.connected", &[]), PAGE)
        .await;
}

/// Whether an element matching `css` is shown (exists and takes room on the page).
async fn shown(browser: &Browser, css: &str) -> bool {
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
        ("dressing", "Dressing and injections", json!(["general", "lab"])),
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
    let mut driver = Driver::start().await;
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
            desk.close().await;
        }
    }
}
