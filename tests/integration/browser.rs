//! Browser tests: the pages in headless Chromium (through chromedriver) against the whole server,
//! and the spoken announcements checked with sox. They need `chromium chromium-driver espeak-ng
//! sox` (`.ci/run` installs them); without them they skip, printing one line that says so, unless
//! `CI=true`, where a missing tool fails (see `driver::skip_without`).
//!
//! The pages run on real browser time; the server on its manual clock, which starts at the real
//! time and then moves only when a test moves it (`Server::next` moves it past the double-press
//! window).
//!
//! `WAITLESS_SCREENSHOTS=1 cargo test --test integration browser::screenshots` rewrites
//! `docs/screenshots/`.

mod a11y;
mod booking;
mod checkin;
pub mod driver;
mod feedback;
mod notifications;
pub mod screens;
pub mod server;
mod staff_roles;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fantoccini::Locator;
use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use serde_json::{Value, json};

use crate::common::{ADMIN_PASSWORD, DOCTOR_NAME};
use driver::{Browser, Driver};
use server::Server;

/// Time for a page to load and draw, or to follow the server after a reconnect.
pub const PAGE: Duration = Duration::from_secs(10);

/// One browser test at a time: each starts Chromium, and the timing checks (a call on the
/// display within 1 s) mean nothing on a machine busy with four other browsers.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A message of `assets/i18n/{lang}.toml` (`key` like `kiosk.choose_service`), `{name}`s filled.
fn message(lang: &str, key: &str, args: &[(&str, &str)]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("assets/i18n/{lang}.toml"));
    let table: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let (section, name) = key.split_once('.').unwrap();
    let mut text = table[section][name]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {}", path.display()))
        .to_owned();
    for (name, value) in args {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    text
}

/// A real double tap: press, release, 80 ms, press, release, at the middle of `css`.
async fn double_tap(browser: &Browser, css: &str) {
    browser.wait_visible(css, PAGE).await;
    let element = browser.client.find(Locator::Css(css)).await.unwrap();
    let mouse = MouseActions::new("finger".to_owned())
        .then(PointerAction::MoveToElement {
            element,
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        })
        .pause(Duration::from_millis(80))
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    browser.client.perform_actions(mouse).await.unwrap();
}

/// A server with the network printer at `uri`, asked every second, and a kiosk that asks no
/// priority.
async fn with_printer(uri: &str) -> Server {
    Server::spawn_with(|c| {
        c.printer.uri = uri.parse().unwrap();
        c.printer.status_poll_secs = 1;
        c.printer.retry_secs = 1;
        c.screens.kiosk_priority = false;
    })
    .await
}

/// Issues a kiosk ticket in Hindi through the API (printed: its lines are images).
async fn hindi_kiosk_ticket(server: &Server) {
    let (status, ticket) = server
        .post_json(
            "/api/v1/tickets",
            Some(json!({"service": "general", "source": "kiosk", "lang": "hi"})),
        )
        .await;
    assert_eq!(status, 201, "{ticket}");
}

/// Taps the general service on the kiosk's service screen; returns the ticket's number and the
/// note under it (printing or not).
async fn take_ticket(kiosk: &Browser) -> (String, String) {
    kiosk.tap(r#"button[data-service="general"]"#, PAGE).await;
    let number = kiosk.wait_for_any_text("#ticket-number", PAGE).await;
    let note = kiosk.wait_for_any_text("#print-note", PAGE).await;
    (number, note)
}

/// Waits until the QR image on the kiosk's confirmation has loaded; returns its natural width.
async fn wait_qr_loaded(kiosk: &Browser) -> u64 {
    kiosk
        .wait_until(
            "#ticket-qr to load (complete, naturalWidth > 0)",
            "const i = document.querySelector('img#ticket-qr'); \
             return i && i.complete && i.naturalWidth > 0 ? i.naturalWidth : null;",
            vec![],
            PAGE,
        )
        .await
        .as_u64()
        .unwrap()
}

/// Ticket numbers in the server's queue stay exactly `expected` for `window` (a check that a
/// second request does not arrive late, not a wait for something to happen).
async fn numbers_stay(server: &Server, expected: &[&str], window: Duration) {
    let until = Instant::now() + window;
    while Instant::now() < until {
        assert_eq!(server.ticket_numbers().await, expected);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn data_state(browser: &Browser, css: &str) -> Value {
    browser
        .js(
            "const e = document.querySelector(arguments[0]); return e ? e.dataset.state : null;",
            vec![json!(css)],
        )
        .await
}

#[tokio::test]
async fn kiosk_tap_on_a_service_issues_a_ticket_with_its_number_and_qr() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::spawn().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let kiosk = driver.session(1080, 1920).await;

    kiosk.goto(&server.url("/kiosk")).await;
    kiosk.tap(r#"button[data-lang="en"]"#, PAGE).await;
    kiosk.tap(r#"button[data-service="general"]"#, PAGE).await;
    kiosk.tap(r#"button[data-priority="normal"]"#, PAGE).await;

    let number = kiosk.wait_for_any_text("#ticket-number", PAGE).await;
    assert_eq!(number, "A001");
    assert!(wait_qr_loaded(&kiosk).await > 0);
    assert_eq!(
        kiosk.wait_for_any_text("#ticket-ahead", PAGE).await,
        message("en", "kiosk.ahead_none", &[])
    );
    kiosk.wait_for_any_text("#ticket-wait", PAGE).await;

    // The API has it: one general, normal ticket waiting.
    assert_eq!(server.ticket_numbers().await, ["A001"]);
    let queue = server.queue().await.to_string();
    assert!(queue.contains("\"A001\""), "{queue}");
    kiosk.close().await;
}

#[tokio::test]
async fn kiosk_double_tap_issues_one_ticket() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let kiosk = driver.session(1024, 600).await;

    // Without the priority question the service button issues the ticket.
    let server = Server::spawn_with(|c| c.screens.kiosk_priority = false).await;
    kiosk.goto(&server.url("/kiosk?lang=en")).await;
    double_tap(&kiosk, r#"button[data-service="general"]"#).await;
    assert_eq!(
        kiosk.wait_for_any_text("#ticket-number", PAGE).await,
        "A001"
    );
    numbers_stay(&server, &["A001"], Duration::from_secs(1)).await;

    // With it (the default) the priority choice issues it.
    let server = Server::spawn().await;
    kiosk.goto(&server.url("/kiosk?lang=en")).await;
    kiosk.tap(r#"button[data-service="general"]"#, PAGE).await;
    double_tap(&kiosk, r#"button[data-priority="normal"]"#).await;
    assert_eq!(
        kiosk.wait_for_any_text("#ticket-number", PAGE).await,
        "A001"
    );
    numbers_stay(&server, &["A001"], Duration::from_secs(1)).await;
    kiosk.close().await;
}

#[tokio::test]
async fn without_paper_the_kiosk_and_staff_say_so_and_the_ticket_prints_when_paper_is_back() {
    use crate::printer::FakeTcpPrinter;
    use waitless::devices::printer::PrinterState;

    let _one = ONE_AT_A_TIME.lock().await;
    let printer = FakeTcpPrinter::start();
    printer.set_state(PrinterState::PaperOut);
    let server = with_printer(&printer.uri()).await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let kiosk = driver.session(1024, 768).await;
    kiosk.goto(&server.url("/kiosk?lang=en")).await;
    assert_eq!(
        kiosk.wait_for_any_text("#printer-warning", PAGE).await,
        message("en", "kiosk.printer_down", &[])
    );
    let (number, note) = take_ticket(&kiosk).await;
    assert_eq!(number, "A001");
    assert_eq!(note, message("en", "kiosk.printer_down", &[]));
    assert!(wait_qr_loaded(&kiosk).await > 0, "the QR code is on screen");
    let screenshots = std::env::var_os("WAITLESS_SCREENSHOTS").is_some();
    if screenshots {
        shoot(&kiosk, "kiosk-printer-out-of-paper", (1024, 768)).await;
    }

    let staff = driver.session(1280, 800).await;
    staff
        .goto(&server.url("/staff?view=reception&lang=en"))
        .await;
    let chip = r#"#devices [data-device="printer"][data-condition="paper-out"]"#;
    staff.wait_visible(chip, PAGE).await;
    if screenshots {
        shoot(&staff, "staff-printer-out-of-paper", (1280, 800)).await;
    }

    printer.set_state(PrinterState::Ready);
    staff
        .wait_visible(
            r#"#devices [data-device="printer"][data-condition="ok"]"#,
            PAGE,
        )
        .await;
    kiosk.wait_hidden("#printer-warning", PAGE).await;
    crate::common::wait_until(crate::printer::PATIENCE, "the ticket printed", async || {
        printer.printouts().len() == 1
    })
    .await;
    kiosk.close().await;
    staff.close().await;
}

#[tokio::test]
async fn with_a_printer_that_takes_no_data_the_kiosk_says_to_note_the_number() {
    use crate::printer::{BlackHolePrinter, PATIENCE};

    let _one = ONE_AT_A_TIME.lock().await;
    let printer = BlackHolePrinter::start();
    let server = with_printer(&printer.uri()).await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let kiosk = driver.session(1024, 768).await;
    kiosk.goto(&server.url("/kiosk?lang=en")).await;
    // It answers no status: nobody can tell whether the ticket prints, and the kiosk says so.
    let (number, note) = take_ticket(&kiosk).await;
    assert_eq!(number, "A001");
    assert_eq!(note, message("en", "kiosk.printing_unsure", &[]));
    // A ticket with images fills its buffers: it takes no more, and the kiosk says so.
    hindi_kiosk_ticket(&server).await;
    kiosk.tap(r#"[data-action="done"]"#, PAGE).await;
    kiosk.tap(r#"button[data-lang="en"]"#, PAGE).await;
    assert_eq!(
        kiosk.wait_for_any_text("#printer-warning", PATIENCE).await,
        message("en", "kiosk.printer_down", &[])
    );
    let (number, note) = take_ticket(&kiosk).await;
    assert_eq!(number, "A003");
    assert_eq!(note, message("en", "kiosk.printer_down", &[]));
    kiosk
        .wait_visible(r#"#print-note[data-print="delayed"]"#, PAGE)
        .await;
    kiosk.close().await;
}

#[tokio::test]
async fn the_demo_printer_page_shows_the_kiosk_ticket_as_paper() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::spawn().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let page = driver.session(1280, 900).await;
    page.goto(&server.url("/printer?lang=en")).await;
    page.wait_visible("#no-jobs", PAGE).await;
    hindi_kiosk_ticket(&server).await;
    let paper = r#"[data-label="ticket A001"] .pr-paper"#;
    page.wait_visible(paper, PAGE).await;
    let drawn = page
        .wait_until(
            "the ticket's number, images and QR drawn",
            r#"const p = document.querySelector(arguments[0]);
               const imgs = [...p.querySelectorAll("img")];
               const big = [...p.querySelectorAll(".pr-line")].some(l => l.textContent === "A001"
                 && parseFloat(l.style.fontSize) >= 48);
               return big && imgs.length >= 2 && imgs.every(i => i.complete && i.naturalWidth > 0)
                 ? imgs.length : null;"#,
            vec![json!(paper)],
            PAGE,
        )
        .await;
    assert!(drawn.as_u64().unwrap() >= 2, "{drawn}");
    if std::env::var_os("WAITLESS_SCREENSHOTS").is_some() {
        shoot(&page, "printer-demo-page", (1280, 900)).await;
    }
    page.close().await;
}

#[tokio::test]
async fn kiosk_in_hindi_shows_hindi_text_in_the_served_devanagari_font() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::spawn().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let kiosk = driver.session(1024, 600).await;

    // Chosen on the language screen.
    kiosk.goto(&server.url("/kiosk")).await;
    kiosk.tap(r#"button[data-lang="hi"]"#, PAGE).await;
    let question = message("hi", "kiosk.choose_service", &[]);
    kiosk.wait_for_text("body", &question, PAGE).await;
    kiosk
        .wait_visible(r#"button[data-service="general"]"#, PAGE)
        .await;

    // Given in the address: no language screen.
    kiosk.goto(&server.url("/kiosk?lang=hi")).await;
    kiosk.wait_for_text("body", &question, PAGE).await;
    kiosk
        .wait_visible(r#"button[data-service="general"]"#, PAGE)
        .await;
    assert!(!kiosk.is_visible(r#"button[data-lang="en"]"#).await);

    // The Devanagari comes from waitless's own font file, not from whatever the machine has.
    // Only the weights the page draws get loaded (on this screen every Hindi text is bold), so
    // each loaded face is checked at its own weight, never at a weight nothing draws.
    let loaded = kiosk
        .wait_until(
            "Noto Sans Devanagari to be loaded from /assets/fonts",
            "return (async () => { \
               await document.fonts.ready; \
               const faces = [...document.fonts].filter(f => \
                 f.family.replace(/[\"']/g, '') === 'Noto Sans Devanagari' && f.status === 'loaded'); \
               return faces.length > 0 && faces.every(f => \
                   document.fonts.check(`${f.weight} 16px \"Noto Sans Devanagari\"`, 'आ')) \
                 ? faces.length : null; \
             })();",
            vec![],
            PAGE,
        )
        .await;
    assert!(loaded.as_u64().unwrap() >= 1);

    // And the confirmation too.
    kiosk.tap(r#"button[data-service="general"]"#, PAGE).await;
    kiosk.tap(r#"button[data-priority="normal"]"#, PAGE).await;
    assert_eq!(
        kiosk.wait_for_any_text("#ticket-number", PAGE).await,
        "A001"
    );
    kiosk
        .wait_for_text("body", &message("hi", "kiosk.your_number", &[]), PAGE)
        .await;
    kiosk.close().await;
}

/// A Hindi kiosk whose service closes while the patient chooses: the refusal (`service-closed`)
/// is said in Hindi, from the `[errors]` texts, never as the server's English message.
#[tokio::test]
async fn kiosk_in_hindi_says_a_refusal_in_hindi() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::spawn().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let kiosk = driver.session(1024, 600).await;
    kiosk.goto(&server.url("/kiosk?lang=hi")).await;
    kiosk.tap(r#"button[data-service="general"]"#, PAGE).await;
    kiosk
        .wait_visible(r#"button[data-priority="normal"]"#, PAGE)
        .await;

    // Reception closes the service while the patient reads the priority question.
    let (status, body) = server
        .post_json("/api/v1/services/general/close", Some(json!({})))
        .await;
    assert_eq!(status, 200, "{body}");
    kiosk.tap(r#"button[data-priority="normal"]"#, PAGE).await;
    let said = kiosk
        .wait_for_text(
            ".k-notice",
            &message("hi", "errors.service-closed", &[]),
            PAGE,
        )
        .await;
    assert!(
        !said.contains(&message("en", "errors.service-closed", &[])),
        "{said}"
    );
    assert!(!said.is_ascii(), "English on a Hindi kiosk: {said}");
    assert!(server.ticket_numbers().await.is_empty());
    kiosk.close().await;
}

/// A doctor whose room an admin took away meanwhile, pressing Next on the page still open, is
/// told their role cannot do that — not asked to sign in, which they are — in the page's
/// language. (What a role may not do is not offered at all: see `staff_roles`.)
#[tokio::test]
async fn a_doctor_refused_an_action_is_told_the_role_cannot_in_the_pages_language() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::spawn().await;
    server.issue("general", "normal").await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let desk = driver.session(1280, 800).await;
    desk.client
        .goto(&server.url("/login?next=%2Fstaff%3Froom%3Droom-1"))
        .await
        .unwrap();
    desk.wait_visible("#login-form", PAGE).await;
    desk.js(
        "document.getElementById('login-name').value = arguments[0];
         document.getElementById('login-password').value = arguments[1];
         document.getElementById('login-form').requestSubmit();",
        vec![json!(DOCTOR_NAME), json!(ADMIN_PASSWORD)],
    )
    .await;
    let next = r#"#room-view [data-action="next"]"#;
    for lang in ["en", "hi"] {
        desk.goto(&server.url(&format!("/staff?room=room-1&lang={lang}")))
            .await;
        desk.wait_for_text("#user-name", DOCTOR_NAME, PAGE).await;
        desk.wait_for_text("#link-state", &message(lang, "staff.connected", &[]), PAGE)
            .await;
        desk.wait_visible(next, PAGE).await;
        // The admin gives Room 1 to nobody while the page is open.
        let r = server
            .client
            .patch(server.url("/api/v1/admin/rooms/room-1"))
            .json(&json!({"doctors": []}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        desk.tap(next, PAGE).await;
        let role_cannot = message(lang, "errors.forbidden", &[]);
        let said = desk.wait_for_text("#toast", &role_cannot, PAGE).await;
        for wrong in [
            message(lang, "errors.login-required", &[]),
            message("en", "errors.login-required", &[]),
        ] {
            assert!(!said.contains(&wrong), "{lang}: {said}");
        }
        assert!(!said.to_lowercase().contains("sign in"), "{lang}: {said}");
        if lang == "hi" {
            assert!(
                !said.contains(&message("en", "errors.forbidden", &[])),
                "{said}"
            );
        }
        // Room 1 is theirs again for the next language.
        let r = server
            .client
            .patch(server.url("/api/v1/admin/rooms/room-1"))
            .json(&json!({"doctors": [DOCTOR_NAME]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert!(
        server.queue().await["waiting"].as_array().unwrap().len() == 1,
        "nothing was called"
    );
    desk.close().await;
}

#[tokio::test]
async fn kiosk_shows_offline_banner_while_the_server_is_down() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut server = Server::spawn().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let kiosk = driver.session(800, 480).await;
    kiosk.goto(&server.url("/kiosk?lang=en")).await;
    kiosk
        .wait_visible(r#"button[data-service="general"]"#, PAGE)
        .await;
    assert!(!kiosk.is_visible("#offline").await);

    server.stop().await;
    kiosk.wait_visible("#offline", PAGE).await;

    server.start_again().await;
    kiosk.wait_hidden("#offline", Duration::from_secs(20)).await;
    kiosk.close().await;
}

/// The issue's acceptance: kiosk → staff Next → display within 1 s; server down → display says
/// so within 6 s; server back on the same address → display current again.
#[tokio::test]
async fn staff_next_reaches_the_display_within_a_second_and_the_display_survives_a_restart() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut server = Server::spawn().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let display = driver.session(1920, 1080).await;
    let desk = driver.session(1280, 800).await;

    display.goto(&server.url("/display")).await;
    display.wait_visible(r#"[data-room="room-1"]"#, PAGE).await;
    assert!(!display.is_visible("#reconnecting").await);

    // A patient takes a ticket at the kiosk.
    desk.goto(&server.url("/kiosk?lang=en")).await;
    desk.tap(r#"button[data-service="general"]"#, PAGE).await;
    desk.tap(r#"button[data-priority="normal"]"#, PAGE).await;
    assert_eq!(desk.wait_for_any_text("#ticket-number", PAGE).await, "A001");

    // Room 1 presses Next.
    desk.goto(&server.url("/staff?room=room-1")).await;
    desk.wait_for_text("#waiting-list", "A001", PAGE).await;
    desk.wait_visible("#waiting-list li[data-ticket]", PAGE)
        .await;
    desk.wait_visible(r#"button[data-action="next"]"#, PAGE)
        .await;
    // The tile's `calling` flash is short: record it when it happens.
    display
        .js(
            r#"window.sawCalling = false;
               new MutationObserver(() => {
                 const tile = document.querySelector('[data-room="room-1"]');
                 if (tile && tile.classList.contains('calling')) window.sawCalling = true;
               }).observe(document.body,
                 {subtree: true, childList: true, attributes: true, attributeFilter: ['class']});
               return true;"#,
            vec![],
        )
        .await;
    let pressed = Instant::now();
    desk.tap(r#"button[data-action="next"]"#, PAGE).await;
    display
        .wait_for_text(r#"[data-room="room-1"] .serving-number"#, "A001", PAGE)
        .await;
    let shown_after = pressed.elapsed();
    eprintln!("display showed the call {shown_after:?} after the press");
    assert!(
        shown_after <= Duration::from_secs(1),
        "the display took {shown_after:?} to show the call"
    );
    display
        .wait_until(
            "room 1's tile to get class `calling`",
            "return window.sawCalling;",
            vec![],
            Duration::from_secs(2),
        )
        .await;
    display
        .wait_for_text("#recent-calls li", "A001", PAGE)
        .await;
    assert!(
        !display.is_visible("#sound-overlay").await,
        "sound overlay shown although autoplay is allowed"
    );
    desk.wait_for_text("#serving-number", "A001", PAGE).await;
    assert_eq!(server.ticket_numbers().await, ["A001"]);

    // The server goes away.
    let stopping = Instant::now();
    server.stop().await;
    let stopped = Instant::now();
    display.wait_visible("#reconnecting", PAGE).await;
    let down_for = stopped.elapsed();
    eprintln!(
        "server stop took {:?}; #reconnecting visible {down_for:?} after it was down",
        stopped - stopping
    );
    assert!(
        down_for <= Duration::from_secs(6),
        "#reconnecting took {down_for:?}"
    );
    // Still showing the last known call.
    assert_eq!(
        display
            .text(r#"[data-room="room-1"] .serving-number"#)
            .await
            .as_deref(),
        Some("A001")
    );

    // Back on the same address: the display reconnects by itself and follows again.
    server.start_again().await;
    let back = Instant::now();
    display
        .wait_hidden("#reconnecting", Duration::from_secs(20))
        .await;
    eprintln!("display reconnected {:?} after the restart", back.elapsed());
    display
        .wait_for_text(r#"[data-room="room-1"] .serving-number"#, "A001", PAGE)
        .await;

    let second = server.issue("general", "normal").await;
    assert_eq!(second["number"], "A002");
    let called = Instant::now();
    server.next("room-1").await;
    display
        .wait_for_text(r#"[data-room="room-1"] .serving-number"#, "A002", PAGE)
        .await;
    let shown_after = called.elapsed();
    eprintln!("after the restart, display showed a call {shown_after:?} after it");
    assert!(
        shown_after <= Duration::from_secs(1),
        "took {shown_after:?}"
    );
    desk.wait_for_text("#serving-number", "A002", PAGE).await;

    display.close().await;
    desk.close().await;
}

#[tokio::test]
async fn staff_console_has_every_room_action_and_reception_issues_and_finds_tickets() {
    let server = Server::spawn().await;
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let staff = driver.session(1280, 800).await;
    staff.goto(&server.url("/staff?room=room-1")).await;

    for action in [
        "next", "recall", "no-show", "done", "undo", "transfer", "open", "close",
    ] {
        let css = format!(r#"button[data-action="{action}"]"#);
        staff
            .wait_until(
                &format!("a button {css}"),
                "return document.querySelector(arguments[0]) !== null;",
                vec![json!(css)],
                PAGE,
            )
            .await;
    }

    // Reception issues a lab ticket.
    staff.wait_visible("#issue-service", PAGE).await;
    staff
        .wait_until(
            "#issue-service to offer lab",
            "return document.querySelector('#issue-service option[value=\"lab\"]') !== null;",
            vec![],
            PAGE,
        )
        .await;
    let select = staff
        .client
        .find(Locator::Css("#issue-service"))
        .await
        .unwrap();
    select.select_by_value("lab").await.unwrap();
    staff
        .wait_until(
            "#issue-button to be enabled (connected)",
            "const b = document.querySelector('#issue-button'); return !!b && !b.disabled;",
            vec![],
            PAGE,
        )
        .await;
    // A phone booking: the patient's name and number go with it (staff only).
    staff.tap("#issue-patient summary", PAGE).await;
    for (css, text) in [
        ("#issue-patient-name", "Asha Rao"),
        ("#issue-patient-phone", "+91 98450 12345"),
    ] {
        let input = staff.client.find(Locator::Css(css)).await.unwrap();
        input.send_keys(text).await.unwrap();
    }
    staff.tap("#issue-button", PAGE).await;
    staff
        .wait_for_text(
            "#toast",
            &message("en", "staff.issued", &[("number", "L001")]),
            PAGE,
        )
        .await;
    assert_eq!(server.ticket_numbers().await, ["L001"]);
    staff.wait_for_text("#counts", "1", PAGE).await;
    let issued = server.get_json("/api/v1/tickets/1/patient").await;
    assert_eq!(issued["name"], "Asha Rao");

    // And finds it by its number, with the patient's name.
    let search = staff.client.find(Locator::Css("#search")).await.unwrap();
    search.send_keys("l001").await.unwrap();
    staff.wait_for_text("#search-result", "L001", PAGE).await;
    staff
        .wait_for_text("#search-result", "Asha Rao · +91 98450 12345", PAGE)
        .await;

    // Room 1 (general only) has nobody; Room 2 calls the lab ticket.
    staff.goto(&server.url("/staff?room=room-2")).await;
    staff.tap(r#"button[data-action="next"]"#, PAGE).await;
    staff.wait_for_text("#serving-number", "L001", PAGE).await;
    staff.close().await;
}

#[tokio::test]
async fn display_shows_only_the_rooms_asked_for_in_its_language() {
    let server = Server::spawn().await;
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let display = driver.session(1080, 1920).await;
    display
        .goto(&server.url("/display?rooms=room-1,lab&lang=hi"))
        .await;
    display.wait_visible(r#"[data-room="lab"]"#, PAGE).await;
    display.wait_visible(r#"[data-room="room-1"]"#, PAGE).await;
    assert!(!display.is_visible(r#"[data-room="room-2"]"#).await);
    display
        .wait_for_text("body", &message("hi", "display.last_calls", &[]), PAGE)
        .await;
    server.issue("lab", "normal").await;
    server.next("lab").await;
    display
        .wait_for_text(r#"[data-room="lab"] .serving-number"#, "L001", PAGE)
        .await;
    display.close().await;
}

#[tokio::test]
async fn display_asks_for_a_tap_when_sound_is_blocked() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::spawn().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let display = driver.session_with(1920, 1080, false).await;
    display.goto(&server.url("/display")).await;
    display.wait_visible("#sound-overlay", PAGE).await;
    display.tap("#sound-overlay", PAGE).await;
    display.wait_hidden("#sound-overlay", PAGE).await;

    // A silent display (?sound=off) never asks, not even when it shows a call.
    display.goto(&server.url("/display?sound=off")).await;
    display.wait_visible(r#"[data-room="room-1"]"#, PAGE).await;
    server.issue("general", "normal").await;
    server.next("room-1").await;
    display
        .wait_for_text(r#"[data-room="room-1"] .serving-number"#, "A001", PAGE)
        .await;
    assert!(
        !display.is_visible("#sound-overlay").await,
        "a display with ?sound=off asks for a tap to enable sound"
    );
    display.close().await;
}

#[tokio::test]
async fn status_page_shows_the_number_and_the_room_after_a_call() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::spawn().await;
    let ticket = server.issue("general", "normal").await;
    let path = ticket["status_path"].as_str().unwrap().to_owned();
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let phone = driver.session(360, 640).await;

    phone.goto(&server.url(&path)).await;
    phone.wait_for_text("#status-number", "A001", PAGE).await;
    phone
        .wait_until(
            "#status-state[data-state=waiting]",
            "return document.querySelector('#status-state')?.dataset.state === 'waiting';",
            vec![],
            PAGE,
        )
        .await;
    assert_eq!(
        phone.wait_for_any_text("#status-ahead", PAGE).await,
        message("en", "status.ahead_none", &[])
    );
    phone.wait_for_any_text("#status-wait", PAGE).await;

    server.next("room-1").await;
    phone
        .wait_until(
            "#status-state[data-state=called]",
            "return document.querySelector('#status-state')?.dataset.state === 'called';",
            vec![],
            PAGE,
        )
        .await;
    assert_eq!(data_state(&phone, "#status-state").await, "called");
    phone.wait_for_text("#status-room", "Room 1", PAGE).await;
    phone
        .wait_for_text(
            "body",
            &message("en", "status.go_to", &[("room", "Room 1")]),
            PAGE,
        )
        .await;
    phone.wait_for_text("#status-number", "A001", PAGE).await;
    phone.close().await;
}

/// `sox FILE -n stat`: (length in seconds, RMS amplitude).
fn sox_stat(wav: &Path) -> (f64, f64) {
    let out = Command::new("sox")
        .arg(wav)
        .args(["-n", "stat"])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "sox failed: {report}");
    let field = |name: &str| -> f64 {
        report
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split(':').nth(1))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name:?} in sox's report:\n{report}"))
    };
    (field("Length (seconds)"), field("RMS     amplitude"))
}

#[tokio::test]
async fn announcement_of_a_called_ticket_is_speech_in_english_and_hindi() {
    if driver::skip_without(&["espeak-ng", "sox"]) {
        return;
    }
    let server = Server::spawn().await;
    let ticket = server.issue("general", "normal").await;
    server.next("room-1").await;
    let dir = tempfile::tempdir().unwrap();
    let mut seen = Vec::new();
    for lang in ["en", "hi"] {
        let r = server
            .client
            .get(server.url(&format!(
                "/api/v1/tickets/{}/announcement?lang={lang}",
                ticket["id"]
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{lang}");
        assert_eq!(r.headers()["content-type"], "audio/wav");
        let wav = r.bytes().await.unwrap();
        assert!(
            wav.starts_with(b"RIFF") && &wav[8..12] == b"WAVE",
            "{lang}: not a WAV"
        );
        let path = dir.path().join(format!("{lang}.wav"));
        std::fs::write(&path, &wav).unwrap();
        let (seconds, rms) = sox_stat(&path);
        eprintln!("{lang}: {seconds} s, RMS {rms}");
        assert!(seconds > 1.0, "{lang}: {seconds} s of speech");
        assert!(rms > 0.01, "{lang}: RMS amplitude {rms}");
        seen.push(wav);
    }
    assert_ne!(seen[0], seen[1], "Hindi and English are the same sound");
}

fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots")
}

/// Saves `name.png`, checking the picture has the size asked for.
async fn shoot(browser: &Browser, name: &str, size: (u32, u32)) {
    let path = screenshot_dir().join(format!("{name}.png"));
    let got = browser.screenshot(&path).await;
    assert_eq!(got, size, "{name}: screenshot size");
    eprintln!("saved {}", path.display());
}

/// The screenshots in docs/ — only with `WAITLESS_SCREENSHOTS=1`, so CI does not rewrite them.
#[tokio::test]
async fn screenshots() {
    if std::env::var("WAITLESS_SCREENSHOTS").as_deref() != Ok("1") {
        eprintln!("set WAITLESS_SCREENSHOTS=1 to rewrite docs/screenshots");
        return;
    }
    let server = Server::spawn().await;
    // A morning in progress: tickets waiting in both services, every room serving.
    for (service, priority) in [
        ("general", "normal"),
        ("general", "normal"),
        ("lab", "normal"),
        ("general", "priority"),
        ("general", "normal"),
        ("lab", "normal"),
        ("general", "normal"),
        ("lab", "priority"),
        ("general", "normal"),
        ("general", "normal"),
    ] {
        server.issue(service, priority).await;
    }
    for room in ["room-1", "room-2", "lab", "room-1"] {
        server.next(room).await;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };

    for (w, h) in [(800, 480), (1024, 600), (1080, 1920), (1920, 1080)] {
        let kiosk = driver.session(w, h).await;
        kiosk.goto(&server.url("/kiosk")).await;
        kiosk.wait_visible(r#"button[data-lang="hi"]"#, PAGE).await;
        shoot(&kiosk, &format!("kiosk-{w}x{h}-1-start"), (w, h)).await;
        kiosk.goto(&server.url("/kiosk?lang=hi")).await;
        kiosk
            .wait_visible(r#"button[data-service="lab"]"#, PAGE)
            .await;
        shoot(&kiosk, &format!("kiosk-{w}x{h}-2-services-hi"), (w, h)).await;
        kiosk.goto(&server.url("/kiosk?lang=en")).await;
        kiosk.tap(r#"button[data-service="general"]"#, PAGE).await;
        kiosk.tap(r#"button[data-priority="normal"]"#, PAGE).await;
        kiosk.wait_for_any_text("#ticket-number", PAGE).await;
        wait_qr_loaded(&kiosk).await;
        shoot(&kiosk, &format!("kiosk-{w}x{h}-3-ticket"), (w, h)).await;
        kiosk.close().await;
    }

    let mut first_display = true;
    for (w, h) in [(1920, 1080), (3840, 2160), (1080, 1920)] {
        let display = driver.session(w, h).await;
        display.goto(&server.url("/display")).await;
        display
            .wait_for_any_text(r#"[data-room="lab"] .serving-number"#, PAGE)
            .await;
        if first_display {
            // One fresh call, so the picture shows a tile calling.
            first_display = false;
            let called = server.next("room-2").await;
            let number = called["called"]["number"].as_str().unwrap().to_owned();
            display
                .wait_for_text(r#"[data-room="room-2"] .serving-number"#, &number, PAGE)
                .await;
        }
        shoot(&display, &format!("display-{w}x{h}"), (w, h)).await;
        display.close().await;
    }

    let staff = driver.session(1280, 800).await;
    for (query, name) in [
        ("?room=room-1", "staff-1280x800"),
        ("?room=room-1&view=room", "staff-room-1280x800"),
    ] {
        staff.goto(&server.url(&format!("/staff{query}"))).await;
        staff.wait_for_any_text("#serving-number", PAGE).await;
        staff
            .wait_visible("#waiting-list li[data-ticket]", PAGE)
            .await;
        shoot(&staff, name, (1280, 800)).await;
    }
    staff.goto(&server.url("/staff?view=reception")).await;
    staff.wait_visible("#issue-button", PAGE).await;
    staff.wait_for_any_text("#counts", PAGE).await;
    shoot(&staff, "staff-reception-1280x800", (1280, 800)).await;
    staff.close().await;

    let ticket = server.issue("general", "normal").await;
    let phone = driver.session(360, 640).await;
    for _ in 0..20 {
        if server.next("room-1").await["called"]["number"] == ticket["number"] {
            break;
        }
    }
    phone
        .goto(&server.url(ticket["status_path"].as_str().unwrap()))
        .await;
    phone.wait_for_text("#status-room", "Room 1", PAGE).await;
    shoot(&phone, "status-called-360x640", (360, 640)).await;
    phone.close().await;
}
