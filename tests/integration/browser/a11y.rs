//! Accessibility: axe-core (vendored from its npm package into `vendor/axe-core/`, test-only,
//! never shipped) on every page and kiosk screen, in English and Hindi, must find no serious or
//! critical violation; and on the staff pages every control is reachable with Tab, no element
//! has a positive tabindex, and nothing looks clickable without being a focusable control.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::driver::{Browser, Driver};
use super::server::Server;
use super::{ONE_AT_A_TIME, PAGE};

/// axe-core's minified build (MPL-2.0, see `vendor/axe-core/LICENSE`).
const AXE: &str = include_str!("vendor/axe-core/axe.min.js");

/// axe-core cannot judge text on a gradient (the kiosk's background) and leaves it out. This
/// paints each gradient as its one colour stop closest to the element's text colour, the worst
/// case, so the contrast rule sees it.
const FLATTEN_GRADIENTS: &str = "
    const luminance = (rgb) => {
      const c = rgb.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
      return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    };
    const parse = (s) => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
    for (const e of document.querySelectorAll('*')) {
      const image = getComputedStyle(e).backgroundImage;
      if (!image.includes('gradient(') || image.includes('url(')) continue;
      const stops = image.match(/rgba?\\([^)]*\\)/g) || [];
      if (!stops.length) continue;
      const text = luminance(parse(getComputedStyle(e).color));
      const worst = stops.reduce((a, b) =>
        Math.abs(luminance(parse(a)) - text) <= Math.abs(luminance(parse(b)) - text) ? a : b);
      e.style.setProperty('background', worst, 'important');
    }
    return true;";

/// Runs axe-core on the page as it is now; returns one line per serious or critical violation
/// (rule id, impact, each target and the rule's help), prefixed with `page`.
pub(super) async fn axe_violations(browser: &Browser, page: &str) -> Vec<String> {
    let loaded = browser
        .js(
            &format!("if (!window.axe) {{ {AXE}\n }} return typeof window.axe;"),
            vec![],
        )
        .await;
    assert_eq!(loaded, json!("object"), "{page}: axe-core did not load");
    browser.js(FLATTEN_GRADIENTS, vec![]).await;
    let result = browser
        .js(
            "return axe.run(document, {resultTypes: ['violations']}).then(r => \
               r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical') \
                 .map(v => ({id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl, \
                   targets: v.nodes.map(n => n.target.join(' ') + ' — ' + n.failureSummary \
                     .replace(/\\s+/g, ' '))})));",
            vec![],
        )
        .await;
    let Value::Array(violations) = result else {
        panic!("{page}: axe answered {result}");
    };
    violations
        .iter()
        .map(|v| {
            format!(
                "{page}: {} ({}): {} [{}]\n    {}",
                v["id"].as_str().unwrap_or_default(),
                v["impact"].as_str().unwrap_or_default(),
                v["help"].as_str().unwrap_or_default(),
                v["helpUrl"].as_str().unwrap_or_default(),
                v["targets"]
                    .as_array()
                    .map(|t| t
                        .iter()
                        .map(|s| s.as_str().unwrap_or_default().to_owned())
                        .collect::<Vec<_>>()
                        .join("\n    "))
                    .unwrap_or_default()
            )
        })
        .collect()
}

/// Waits until `css` is on screen, the fonts are in and the fade-ins have ended (a half-faded
/// text would fail the contrast rule); not the long ones, like the kiosk's 20 s countdown bar.
pub(super) async fn settle(browser: &Browser, css: &str) {
    browser.wait_visible(css, PAGE).await;
    browser
        .js(
            "return (async () => { \
               await document.fonts.ready; \
               const fades = document.getAnimations().filter(a => \
                 a.effect && a.effect.getComputedTiming().endTime <= 2000); \
               await Promise.all(fades.map(a => a.finished.catch(() => null))); \
               return true; \
             })();",
            vec![],
        )
        .await;
}

/// Loads `path` (logging in first for a staff page, except the login page itself), waits for
/// `css`, runs axe.
async fn audit(browser: &Browser, server: &Server, path: &str, css: &str) -> Vec<String> {
    if path.starts_with("/login") {
        browser.client.goto(&server.url(path)).await.unwrap();
    } else {
        browser.goto(&server.url(path)).await;
    }
    settle(browser, css).await;
    axe_violations(browser, path).await
}

/// `path` with `?lang=`/`&lang=` added.
fn with_lang(path: &str, lang: &str) -> String {
    let joint = if path.contains('?') { '&' } else { '?' };
    format!("{path}{joint}lang={lang}")
}

#[tokio::test]
async fn every_page_in_english_and_hindi_has_no_serious_or_critical_axe_violation() {
    let _one = ONE_AT_A_TIME.lock().await;
    // The kiosk stays on its ticket screen while axe looks at it.
    let server = Server::spawn_with(|c| {
        c.screens.kiosk_reset_secs = 600;
        c.appointments.public_booking = true;
        c.notify.sms = "fake".to_owned();
        // The booking below is made through the API, without the phone's code.
        c.appointments.verify_phone = false;
    })
    .await;
    // Appointments: a doctor's plan (the kiosk's "I have an appointment", /book, the day's
    // bookings in the staff console) and a booking with its own page.
    let every_day = json!([{"start": "00:00", "end": "23:30"}]);
    let plan = json!({
        "doctor": crate::common::DOCTOR_NAME, "service": "general", "slot_minutes": 30,
        "seats": 2, "horizon_days": 7,
        "weekly": [every_day, every_day, every_day, every_day, every_day, every_day, every_day],
    });
    let r = server
        .client
        .put(server.url("/api/v1/admin/plans"))
        .json(&plan)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let slots = server
        .get_json("/api/v1/slots?service=general&days=2&free=true")
        .await;
    let (status, booked) = server
        .post_json(
            "/api/v1/public/bookings",
            Some(
                json!({"doctor": crate::common::DOCTOR_NAME, "service": "general",
                        "start": slots[0]["start"], "name": "Asha", "phone": "98100 00000"}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{booked}");
    let booking_path = booked["link"].as_str().unwrap().to_owned();
    // A queue in progress: waiting tickets, a room serving, a status link.
    for (service, priority) in [
        ("general", "normal"),
        ("lab", "normal"),
        ("general", "priority"),
    ] {
        server.issue(service, priority).await;
    }
    let ticket = server.issue("general", "normal").await;
    server.next("room-1").await;
    let status_path = ticket["status_path"].as_str().unwrap().to_owned();
    let Some(mut driver) = Driver::start().await else {
        return;
    };

    let mut found = Vec::new();
    for lang in ["en", "hi"] {
        // Before logging in: the public pages.
        let visitor = driver.session(1280, 800).await;
        for (path, css) in [
            ("/login", "#login-form"),
            ("/setup", "main"),
            ("/", "main"),
            ("/display", r#"[data-room="room-1"]"#),
            (status_path.as_str(), "#status-number"),
            ("/book", "#book-service"),
            (booking_path.as_str(), ".b-state[data-state]"),
        ] {
            found.extend(audit(&visitor, &server, &with_lang(path, lang), css).await);
        }
        visitor.close().await;

        // The kiosk's screens, one after the other, at a kiosk's size.
        let kiosk = driver.session(1024, 600).await;
        found.extend(audit(&kiosk, &server, "/kiosk", r#"button[data-lang="hi"]"#).await);
        kiosk
            .tap(&format!(r#"button[data-lang="{lang}"]"#), PAGE)
            .await;
        settle(&kiosk, r#"button[data-service="general"]"#).await;
        found.extend(axe_violations(&kiosk, &format!("/kiosk services ({lang})")).await);
        kiosk.tap(r#"button[data-service="general"]"#, PAGE).await;
        settle(&kiosk, r#"button[data-priority="normal"]"#).await;
        found.extend(axe_violations(&kiosk, &format!("/kiosk priority ({lang})")).await);
        kiosk.tap(r#"button[data-priority="normal"]"#, PAGE).await;
        settle(&kiosk, "#ticket-number").await;
        found.extend(axe_violations(&kiosk, &format!("/kiosk ticket ({lang})")).await);
        kiosk.tap(r#"[data-action="done"]"#, PAGE).await;
        kiosk
            .tap(&format!(r#"button[data-lang="{lang}"]"#), PAGE)
            .await;
        settle(&kiosk, r#"[data-action="appointment"]"#).await;
        kiosk.tap(r#"[data-action="appointment"]"#, PAGE).await;
        settle(&kiosk, "#booking-code").await;
        found.extend(axe_violations(&kiosk, &format!("/kiosk booking code ({lang})")).await);
        kiosk.close().await;

        // The staff pages, logged in as the admin.
        let staff = driver.session(1280, 800).await;
        for (path, css) in [
            ("/staff", "body"),
            ("/staff?room=room-1", "#serving-number"),
            ("/staff?view=reception", "#issue-button"),
            ("/admin", "#message-form"),
            ("/admin/audit", "main"),
            (
                "/admin/notifications",
                r#"#transports li[data-channel="sms"]"#,
            ),
            ("/printer", "main"),
            ("/", "main"),
        ] {
            found.extend(audit(&staff, &server, &with_lang(path, lang), css).await);
        }
        staff.close().await;
    }

    // An unpaired screen while the clinic requires pairing: the pairing code page.
    let r = server
        .client
        .patch(server.url("/api/v1/admin/clinic"))
        .json(&json!({"pairing_required": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for lang in ["en", "hi"] {
        let screen = driver.session(1024, 600).await;
        found.extend(audit(&screen, &server, &with_lang("/kiosk", lang), "#pair-code").await);
        screen.close().await;
    }

    assert!(
        found.is_empty(),
        "{} serious or critical accessibility violations:\n{}",
        found.len(),
        found.join("\n")
    );
}

/// What keeps a keyboard user from a page's controls.
struct Problems {
    /// Visible, enabled controls Tab never reached (a radio group counts once).
    missed: Vec<String>,
    /// Elements with a positive tabindex (they jump the page's order).
    positive: Vec<String>,
    /// Elements that look clickable (pointer cursor) but are no control and not focusable.
    pointer: Vec<String>,
}

/// Tabs once around the page and reports what a keyboard cannot reach.
async fn unreachable_by_tab(browser: &Browser) -> Problems {
    let controls = "button, input:not([type=hidden]), select, textarea, a[href], summary, \
                    [tabindex]:not([tabindex^='-'])";
    let count = browser
        .js(
            "document.activeElement && document.activeElement.blur(); \
             window.scrollTo(0, 0); \
             return document.querySelectorAll(arguments[0]).length;",
            vec![json!(controls)],
        )
        .await
        .as_u64()
        .unwrap();
    let mut seen = 0;
    // Tab until the focus comes back to an element it has already been on: one full round
    // (from wherever the browser starts, through the end of the page, around to the start). A
    // date field takes several Tabs (day, month, year, …): still the same element, 'inside'.
    for _ in 0..2 * count + 20 {
        let active = browser.client.active_element().await.unwrap();
        active.send_keys("\u{E004}").await.unwrap();
        let marked = browser
            .js(
                "const e = document.activeElement; \
                 if (!e || e === document.body) return 'none'; \
                 const last = window.a11yLast; \
                 window.a11yLast = e; \
                 if (e === last) return 'inside'; \
                 if (e.hasAttribute('data-a11y-focused')) return 'again'; \
                 e.setAttribute('data-a11y-focused', ''); \
                 return 'new';",
                vec![],
            )
            .await;
        match marked.as_str() {
            Some("new") => seen += 1,
            Some("again") if seen > 0 => break,
            _ => {}
        }
    }
    assert!(seen > 0, "Tab focused nothing");
    let report = browser
        .js(
            "const visible = (e) => !e.closest('[inert]') && \
               e.checkVisibility({contentVisibilityAuto: true, visibilityProperty: true}) && \
               !(e.closest('details:not([open])') && !e.matches('details > summary')); \
             const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + \
               (e.name ? '[name=' + e.name + ']' : '') + ' \"' + \
               (e.innerText || e.value || e.getAttribute('aria-label') || '').trim().slice(0, 40) + '\"'; \
             const all = [...document.querySelectorAll(arguments[0])] \
               .filter(e => visible(e) && !e.disabled); \
             const groups = new Set(all.filter(e => e.type === 'radio' && \
               e.hasAttribute('data-a11y-focused')).map(e => e.name)); \
             const missed = all.filter(e => !e.hasAttribute('data-a11y-focused') && \
               !(e.type === 'radio' && groups.has(e.name))).map(name); \
             const positive = [...document.querySelectorAll('[tabindex]')] \
               .filter(e => e.tabIndex > 0).map(name); \
             const pointer = [...document.body.querySelectorAll('*')].filter(e => \
               visible(e) && getComputedStyle(e).cursor === 'pointer' && \
               !e.closest('button, a[href], input, select, textarea, summary, label, \
                 [tabindex]:not([tabindex^=\"-\"])')).map(name); \
             return [missed, positive, pointer];",
            vec![json!(controls)],
        )
        .await;
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    Problems {
        missed: list(&report[0]),
        positive: list(&report[1]),
        pointer: list(&report[2]),
    }
}

#[tokio::test]
async fn every_control_on_the_staff_and_admin_pages_is_reachable_with_tab() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::spawn().await;
    for _ in 0..3 {
        server.issue("general", "normal").await;
    }
    server.next("room-1").await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let staff = driver.session(1280, 800).await;
    let mut problems = BTreeSet::new();
    for (path, css) in [
        ("/staff?room=room-1", "#serving-number"),
        ("/staff?view=reception", "#issue-button"),
        ("/admin", "#message-form"),
        ("/admin/audit", "main"),
        ("/admin/notifications", "#test-form"),
    ] {
        staff.goto(&server.url(path)).await;
        settle(&staff, css).await;
        let found = unreachable_by_tab(&staff).await;
        for m in found.missed {
            problems.insert(format!("{path}: never focused by Tab: {m}"));
        }
        for p in found.positive {
            problems.insert(format!("{path}: positive tabindex: {p}"));
        }
        for p in found.pointer {
            problems.insert(format!("{path}: clickable look, not focusable: {p}"));
        }
    }
    staff.close().await;
    assert!(
        problems.is_empty(),
        "{}",
        problems.into_iter().collect::<Vec<_>>().join("\n")
    );
}
