//! The displays and kiosks of a real clinic: twelve rooms with long names on a 1080p display,
//! eight services on a small kiosk in English and Hindi, the order and colours set in /admin,
//! a service without the priority question, and the set-up and login pages. Each page measures
//! itself: no text cut, the sizes read from across a waiting room.

use serde_json::{Value, json};

use super::driver::{Browser, Driver};
use super::server::Server;
use super::{ONE_AT_A_TIME, PAGE};

/// Twelve rooms (the demo's three and nine more), several with long names.
const ROOMS: [(&str, &str, &str); 9] = [
    ("paeds", "Paediatrics room", "बाल रोग कक्ष"),
    ("pharmacy-2", "Pharmacy window 2", "फार्मेसी खिड़की 2"),
    ("dental", "Dental surgery", "दंत चिकित्सा"),
    ("eye", "Eye clinic", "नेत्र क्लिनिक"),
    ("xray", "X-ray and scans", "एक्स-रे और स्कैन"),
    ("vaccines", "Vaccination room", "टीकाकरण कक्ष"),
    ("billing", "Billing counter", "बिलिंग काउंटर"),
    ("room-4", "Room 4", "कमरा 4"),
    ("ecg", "ECG and cardiology", "ईसीजी और हृदय रोग"),
];

/// The eight services of a busy kiosk (the demo's two and six more).
const SERVICES: [(&str, &str, &str, &str); 6] = [
    (
        "billing",
        "Billing and insurance enquiries",
        "बिलिंग और बीमा पूछताछ",
        "B",
    ),
    (
        "pharmacy",
        "Pharmacy and medicines",
        "फार्मेसी और दवाइयाँ",
        "P",
    ),
    ("dental", "Dental surgery", "दंत चिकित्सा", "D"),
    ("eye", "Eye clinic and spectacles", "नेत्र क्लिनिक और चश्मे", "E"),
    (
        "xray",
        "X-ray, ultrasound and scans",
        "एक्स-रे, अल्ट्रासाउंड और स्कैन",
        "X",
    ),
    (
        "vaccines",
        "Vaccination for children",
        "बच्चों का टीकाकरण",
        "V",
    ),
];

async fn send(server: &Server, method: reqwest::Method, path: &str, body: Value) -> Value {
    let r = server
        .client
        .request(method.clone(), server.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let answer: Value = r.json().await.unwrap();
    assert!(status.is_success(), "{method} {path}: {status} {answer}");
    answer
}

async fn add_rooms(server: &Server) {
    for (id, name, hi) in ROOMS {
        send(
            server,
            reqwest::Method::POST,
            "/api/v1/admin/rooms",
            json!({"id": id, "name": name, "names": {"hi": hi}, "services": ["general"]}),
        )
        .await;
        let (status, body) = server
            .post_json(&format!("/api/v1/rooms/{id}/open"), None)
            .await;
        assert_eq!(status, 200, "{body}");
    }
}

async fn add_services(server: &Server) {
    for (id, name, hi, prefix) in SERVICES {
        send(
            server,
            reqwest::Method::POST,
            "/api/v1/admin/services",
            json!({"id": id, "name": name, "names": {"hi": hi}, "prefix": prefix}),
        )
        .await;
    }
}

/// Every tile's name, status and count and every last call's room, measured in the page: the
/// text, its font size, and whether any of it is cut (wider or taller than its box, outside its
/// tile, or drawn with an ellipsis).
const MEASURE_DISPLAY: &str = r"
const cut = (e) => {
  const s = getComputedStyle(e);
  const range = document.createRange();
  range.selectNodeContents(e);
  // across: the text itself; down: its line boxes (a font's ascent is taller than its glyphs)
  const glyphs = range.getBoundingClientRect();
  const lines = e.getBoundingClientRect();
  const text = {left: glyphs.left, right: glyphs.right, top: lines.top, bottom: lines.bottom};
  const clip = e.closest('.tile, .recent-call, .k-choice') ?? document.documentElement;
  const outer = clip.getBoundingClientRect();
  const hidden = (v) => v !== 'visible';
  return e.scrollWidth > e.clientWidth + 1
    || (hidden(s.overflowY) && e.scrollHeight > e.clientHeight + 1)
    || text.left < outer.left - 1 || text.right > outer.right + 1
    || text.top < outer.top - 1 || text.bottom > outer.bottom + 1
    || text.bottom > innerHeight + 1 || text.right > innerWidth + 1
    || s.textOverflow === 'ellipsis' && e.scrollWidth > e.clientWidth;
};
const pick = (css) => [...document.querySelectorAll(css)].filter((e) => e.textContent.trim())
  .map((e) => ({text: e.textContent, size: parseFloat(getComputedStyle(e).fontSize), cut: cut(e),
    broken: e.classList.contains('break'),
    box: [e.scrollWidth, e.clientWidth, e.scrollHeight, e.clientHeight]}));
const tiles = [...document.querySelectorAll('.tile')].map((t) => t.getBoundingClientRect());
return {
  names: pick('.tile .room-name'),
  counts: pick('.tile .room-foot'),
  numbers: pick('.tile:not(.idle) .serving-number'),
  recent: pick('.recent-call .rc-room'),
  widths: tiles.map((r) => Math.round(r.width)),
  heights: tiles.map((r) => Math.round(r.height)),
};";

/// [`MEASURE_DISPLAY`] once the fonts have loaded and the text fitting has settled.
async fn measure_settled(page: &Browser) -> Value {
    settled(page, MEASURE_DISPLAY).await
}

/// What `script` measures once the fonts have loaded and the text fitting has settled: three
/// looks 300 ms apart agree. On a busy machine a first look can land between a layout change
/// and the fit that follows it (a name caught mid-fit, still marked broken).
async fn settled(page: &Browser, script: &str) -> Value {
    page.wait_until(
        "the fonts",
        "return document.fonts.status === 'loaded';",
        vec![],
        PAGE,
    )
    .await;
    let mut last = page.js(script, vec![]).await;
    let mut same = 0;
    for _ in 0..30 {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let now = page.js(script, vec![]).await;
        same = if now == last { same + 1 } else { 0 };
        if same == 2 {
            return now;
        }
        last = now;
    }
    last
}

fn assert_legible(what: &str, measured: &Value, rooms: usize, name_px: f64, count_px: f64) {
    let names = measured["names"].as_array().unwrap();
    assert_eq!(names.len(), rooms, "{what}: {measured}");
    for (kind, least) in [("names", name_px), ("counts", count_px), ("numbers", 40.0)] {
        for item in measured[kind].as_array().unwrap() {
            assert_eq!(item["cut"], false, "{what}: {kind} cut: {item}\n{measured}");
            assert_ne!(item["broken"], true, "{what}: a word broken: {item}");
            let size = item["size"].as_f64().unwrap();
            assert!(
                size >= least,
                "{what}: {kind} {item} smaller than {least} px"
            );
        }
    }
    for item in measured["recent"].as_array().unwrap() {
        assert_eq!(item["cut"], false, "{what}: last call cut: {item}");
    }
    // tiles of one size: no lone tile spanning the width
    let widths = measured["widths"].as_array().unwrap();
    let first = widths[0].as_i64().unwrap();
    assert!(
        widths
            .iter()
            .all(|w| (w.as_i64().unwrap() - first).abs() <= 2),
        "{what}: tiles of different widths {widths:?}"
    );
}

#[tokio::test]
async fn a_twelve_room_display_at_1080p_shows_every_name_and_count_whole_and_large() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::spawn().await;
    add_rooms(&server).await;
    for _ in 0..30 {
        server.issue("general", "normal").await;
    }
    // every room serving one; paeds and pharmacy-2 called last (they head "Last calls")
    for room in [
        "room-1",
        "room-2",
        "dental",
        "eye",
        "xray",
        "vaccines",
        "billing",
        "room-4",
        "ecg",
        "paeds",
        "pharmacy-2",
    ] {
        server.next(room).await;
    }
    // a no-show is not shown among the last calls as if it were a call
    let (status, body) = server.post_json("/api/v1/rooms/room-4/no-show", None).await;
    assert_eq!(status, 200, "{body}");
    let no_show = body.to_string();

    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let display = driver.session(1920, 1080).await;
    display
        .goto(&server.url("/display?lang=en&sound=off"))
        .await;
    display
        .wait_until(
            "twelve tiles with their numbers",
            "return document.querySelectorAll('.tile').length === 12 \
             && document.querySelectorAll('.recent-call').length > 0;",
            vec![],
            PAGE,
        )
        .await;
    let _ = display.screenshot(&shot_path("display-12")).await;
    let measured = measure_settled(&display).await;
    assert_legible("1920x1080 en", &measured, 12, 48.0, 28.0);
    let names: Vec<&str> = measured["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Paediatrics room") && names.contains(&"Pharmacy window 2"));
    let recent: Vec<&str> = measured["recent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        recent[..2],
        ["Pharmacy window 2", "Paediatrics room"],
        "{measured}"
    );
    assert!(
        !recent.contains(&"Room 4"),
        "a no-show among the last calls: {no_show}"
    );

    // In Hindi on a 1366x768 screen the counts stay at least 28 px and nothing is cut.
    let small = driver.session(1366, 768).await;
    small.goto(&server.url("/display?lang=hi&sound=off")).await;
    small
        .wait_until(
            "twelve tiles",
            "return document.querySelectorAll('.tile .room-foot:not(:empty)').length >= 11;",
            vec![],
            PAGE,
        )
        .await;
    let _ = small.screenshot(&shot_path("display-12-hi")).await;
    let measured = measure_settled(&small).await;
    assert_legible("1366x768 hi", &measured, 12, 30.0, 28.0);
    small.close().await;

    // A portrait TV (1080x1920): the same sizes.
    let tall = driver.session(1080, 1920).await;
    tall.goto(&server.url("/display?lang=en&sound=off")).await;
    tile_rooms(&tall, 12).await;
    let _ = tall.screenshot(&shot_path("display-12-portrait")).await;
    let measured = measure_settled(&tall).await;
    assert_legible("1080x1920 en", &measured, 12, 48.0, 28.0);
    // A font that finishes loading after the names were fitted (the page's own fonts swap in
    // after the first paint) fits them again: a fit made in a wider fallback font does not stay.
    tall.js(
        "for (const n of document.querySelectorAll('.tile .room-name')) { \
           n.style.fontSize = '12px'; n.classList.add('break'); } \
         const face = new FontFace('Late', 'url(/assets/fonts/noto-sans-latin-400-normal.woff2)'); \
         document.fonts.add(face); face.load();",
        vec![],
    )
    .await;
    tall.wait_until(
        "the late font",
        "return [...document.fonts].some((f) => f.family === 'Late' && f.status === 'loaded');",
        vec![],
        PAGE,
    )
    .await;
    let refitted = measure_settled(&tall).await;
    assert_eq!(
        refitted["names"], measured["names"],
        "not fitted again after a font loaded"
    );
    tall.close().await;

    // One department: the rooms that call the lab (room-2 and the lab counter), two tiles
    // side by side; a chosen list of rooms in its own order.
    display
        .goto(&server.url("/display?lang=en&sound=off&services=lab"))
        .await;
    let rooms = tile_rooms(&display, 2).await;
    assert_eq!(rooms, ["room-2", "lab"]);
    display
        .goto(&server.url("/display?lang=en&sound=off&rooms=paeds,room-1,ecg"))
        .await;
    assert_eq!(tile_rooms(&display, 3).await, ["paeds", "room-1", "ecg"]);
    let measured = measure_settled(&display).await;
    assert_legible("three rooms", &measured, 3, 48.0, 28.0);
    display.close().await;
}

/// Waits for `n` tiles; returns their rooms in page order.
async fn tile_rooms(browser: &Browser, n: usize) -> Vec<String> {
    let rooms = browser
        .wait_until(
            &format!("{n} tiles"),
            "const t = [...document.querySelectorAll('.tile')].map((e) => e.dataset.room); \
             return t.length === arguments[0] ? t : null;",
            vec![json!(n)],
            PAGE,
        )
        .await;
    serde_json::from_value(rooms).unwrap()
}

/// Every display size from one to twelve rooms uses tiles of one size, none cut.
#[tokio::test]
async fn a_display_of_one_to_twelve_rooms_keeps_tiles_even_and_names_whole() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::spawn().await;
    add_rooms(&server).await;
    let ids: Vec<&str> = ["room-1", "room-2", "lab"]
        .into_iter()
        .chain(ROOMS.iter().map(|r| r.0))
        .collect();
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let display = driver.session(1920, 1080).await;
    for n in 1..=12 {
        let list = ids[..n].join(",");
        display
            .goto(&server.url(&format!("/display?lang=en&sound=off&rooms={list}")))
            .await;
        tile_rooms(&display, n).await;
        let measured = measure_settled(&display).await;
        assert_legible(&format!("{n} rooms"), &measured, n, 48.0, 28.0);
        if [1, 3, 5, 7, 8].contains(&n) {
            let _ = display
                .screenshot(&shot_path(&format!("display-{n}")))
                .await;
        }
    }
    display.close().await;
}

/// Every service button on the kiosk's service screen, measured: whether it is whole on the
/// screen, whether its name is cut, the name's font size, and where its drawing sits in it.
const MEASURE_KIOSK: &str = r"
const out = [];
for (const b of document.querySelectorAll('.k-service')) {
  const r = b.getBoundingClientRect();
  const name = b.querySelector('.k-service-name');
  const badge = b.querySelector('.k-badge').getBoundingClientRect();
  const range = document.createRange();
  range.selectNodeContents(name);
  const glyphs = range.getBoundingClientRect();
  const lines = name.getBoundingClientRect();
  const text = {left: glyphs.left, right: glyphs.right, top: lines.top, bottom: lines.bottom};
  const s = getComputedStyle(name);
  const hidden = s.overflowY !== 'visible';
  out.push({
    id: b.dataset.service,
    name: name.textContent,
    whole: r.left >= 0 && r.top >= 0 && r.right <= innerWidth + 0.5 && r.bottom <= innerHeight + 0.5,
    cut: name.scrollWidth > name.clientWidth + 1
      || (hidden && name.scrollHeight > name.clientHeight + 1)
      || text.right > r.right || text.left < r.left || text.bottom > r.bottom || text.top < r.top
      || (s.textOverflow === 'ellipsis' && name.scrollWidth > name.clientWidth),
    size: parseFloat(s.fontSize),
    badge_left: Math.round(badge.left - r.left),
    badge_middle: Math.round((badge.top + badge.bottom) / 2 - r.top),
    height: Math.round(r.height),
  });
}
return out;";

fn assert_kiosk_whole(what: &str, measured: &Value, services: usize) {
    let buttons = measured.as_array().unwrap();
    assert_eq!(buttons.len(), services, "{what}: {measured:#}");
    for b in buttons {
        assert_eq!(b["whole"], true, "{what}: a button off screen: {b}");
        assert_eq!(b["cut"], false, "{what}: a name cut: {b}");
        assert!(
            b["size"].as_f64().unwrap() >= 18.0,
            "{what}: small text {b}"
        );
    }
    // the drawings line up: the same place in every button, however many lines its name takes
    for key in ["badge_left", "badge_middle"] {
        let first = buttons[0][key].as_i64().unwrap();
        assert!(
            buttons
                .iter()
                .all(|b| (b[key].as_i64().unwrap() - first).abs() <= 2),
            "{what}: drawings out of line ({key}): {measured:#}"
        );
    }
}

#[tokio::test]
async fn eight_services_fit_a_small_kiosk_whole_in_english_and_hindi() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::spawn().await;
    add_services(&server).await;
    // one closed, with the note saying so under its name
    let (status, body) = server
        .post_json("/api/v1/services/dental/close", None)
        .await;
    assert_eq!(status, 200, "{body}");
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    for (width, height) in [(800, 480), (1024, 600), (1280, 800)] {
        let kiosk = driver.session(width, height).await;
        for lang in ["en", "hi"] {
            kiosk
                .goto(&server.url(&format!("/kiosk?lang={lang}")))
                .await;
            kiosk
                .wait_until(
                    "eight services",
                    "return document.querySelectorAll('.k-service').length === 8;",
                    vec![],
                    PAGE,
                )
                .await;
            let _ = kiosk
                .screenshot(&shot_path(&format!("kiosk-{width}x{height}-{lang}")))
                .await;
            let measured = kiosk.js(MEASURE_KIOSK, vec![]).await;
            assert_kiosk_whole(&format!("{width}x{height} {lang}"), &measured, 8);
        }
        if width == 800 {
            kiosk_refits_when_a_font_loads(&kiosk).await;
        }
        kiosk.close().await;
    }
}

/// A font that finishes loading after the kiosk fitted its service names (its own fonts swap
/// in after the first paint) fits them again: a fit made in a fallback font does not stay.
async fn kiosk_refits_when_a_font_loads(kiosk: &Browser) {
    let fitted = settled(kiosk, MEASURE_KIOSK).await;
    kiosk
        .js(
            "for (const n of document.querySelectorAll('.k-service-name')) { \
               n.style.fontSize = '8px'; n.classList.add('k-break'); } \
             const face = new FontFace('Late', 'url(/assets/fonts/noto-sans-latin-700-normal.woff2)'); \
             document.fonts.add(face); face.load();",
            vec![],
        )
        .await;
    kiosk
        .wait_until(
            "the names fitted again after a late font",
            "return [...document.fonts].some((f) => f.family === 'Late' && f.status === 'loaded') \
               && ![...document.querySelectorAll('.k-service-name')] \
                 .some((n) => n.style.fontSize === '8px');",
            vec![],
            PAGE,
        )
        .await;
    assert_eq!(
        kiosk.js(MEASURE_KIOSK, vec![]).await,
        fitted,
        "the kiosk's names not fitted again after a font loaded"
    );
}

/// The service (and room) list as the API gives it: ids in order.
async fn ids(server: &Server, path: &str, key: &str) -> Vec<String> {
    let clinic = server.get_json(path).await;
    clinic[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn order_colour_and_picture_set_in_admin_show_on_the_kiosk_and_the_display() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::spawn().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let admin = driver.session(1280, 900).await;
    admin.goto(&server.url("/admin?lang=en")).await;

    // the lab service first: one tap on its "up" button
    admin.tap(r#"[data-key="service-up:lab"]"#, PAGE).await;
    admin
        .wait_until(
            "lab first in the services table",
            "const r = document.querySelector('#services-body tr'); \
             return r && r.dataset.service === 'lab';",
            vec![],
            PAGE,
        )
        .await;
    assert_eq!(
        ids(&server, "/api/v1/admin/clinic", "services").await,
        ["lab", "general"]
    );
    // its colour pink (4), its picture a heart, and no priority question
    admin.tap(r#"[data-key="service-edit:lab"]"#, PAGE).await;
    admin
        .js(
            "document.getElementById('service-edit-tone').value = '4'; \
             document.getElementById('service-edit-icon').value = 'heart'; \
             document.getElementById('service-edit-ask').checked = false;",
            vec![],
        )
        .await;
    admin
        .tap(r#"#services-body tr.is-editing [data-action="save"]"#, PAGE)
        .await;
    admin
        .wait_until(
            "the lab saved",
            "return !document.querySelector('#services-body tr.is-editing');",
            vec![],
            PAGE,
        )
        .await;
    let services = server.get_json("/api/v1/services").await;
    assert_eq!(
        (
            &services[0]["id"],
            &services[0]["tone"],
            &services[0]["icon"],
            &services[0]["ask_priority"]
        ),
        (&json!("lab"), &json!(4), &json!("heart"), &json!(false)),
        "{services}"
    );
    // the lab counter room to the top of the rooms: two taps
    admin.tap(r#"[data-key="room-up:lab"]"#, PAGE).await;
    admin
        .wait_until(
            "lab counter second",
            "const r = document.querySelectorAll('#rooms-body tr')[1]; \
             return r && r.dataset.room === 'lab';",
            vec![],
            PAGE,
        )
        .await;
    admin.tap(r#"[data-key="room-up:lab"]"#, PAGE).await;
    admin
        .wait_until(
            "lab counter first",
            "const r = document.querySelector('#rooms-body tr'); \
             return r && r.dataset.room === 'lab';",
            vec![],
            PAGE,
        )
        .await;
    let _ = admin.screenshot(&shot_path("admin-order")).await;
    admin.close().await;

    // The kiosk: the lab first, pink, with a heart; a tap issues its ticket at once.
    let kiosk = driver.session(800, 480).await;
    kiosk.goto(&server.url("/kiosk?lang=en")).await;
    let first = kiosk
        .wait_until(
            "the services",
            "const b = document.querySelector('.k-service'); \
             return b && [b.dataset.service, b.querySelector('.k-badge').dataset.tone, \
               b.querySelector('.k-badge svg') ? b.querySelector('.k-badge svg').innerHTML : ''];",
            vec![],
            PAGE,
        )
        .await;
    assert_eq!(first[0], "lab");
    assert_eq!(first[1], "4");
    let heart = kiosk
        .js(
            "const s = document.querySelectorAll('.k-service')[1]; return s.dataset.service;",
            vec![],
        )
        .await;
    assert_eq!(heart, "general");
    assert!(
        first[2].as_str().unwrap().contains("20s-7.5-4.6"),
        "not the heart: {first}"
    );
    let _ = kiosk.screenshot(&shot_path("kiosk-order")).await;
    kiosk.tap(r#"button[data-service="lab"]"#, PAGE).await;
    assert_eq!(
        kiosk.wait_for_any_text("#ticket-number", PAGE).await,
        "L001",
        "the lab asks no priority question"
    );
    // general still asks it
    kiosk.goto(&server.url("/kiosk?lang=en")).await;
    kiosk.tap(r#"button[data-service="general"]"#, PAGE).await;
    kiosk
        .wait_visible(r#"button[data-priority="normal"]"#, PAGE)
        .await;
    let _ = kiosk.screenshot(&shot_path("kiosk-priority")).await;
    kiosk.close().await;

    // The display: the lab counter first, in the lab's colour.
    let display = driver.session(1920, 1080).await;
    display
        .goto(&server.url("/display?lang=en&sound=off"))
        .await;
    let rooms = tile_rooms(&display, 3).await;
    assert_eq!(rooms, ["lab", "room-1", "room-2"]);
    let tone = display
        .js(
            "return document.querySelector('.tile[data-room=\"lab\"]').dataset.tone;",
            vec![],
        )
        .await;
    assert_eq!(tone, "4");
    display.close().await;
}

#[tokio::test]
async fn setup_is_styled_like_login_and_login_points_to_setup_while_no_admin_exists() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let fresh = crate::binary::Server::start(dir.path()).await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let page = driver.session(1024, 768).await;

    page.goto(&fresh.url("/setup?lang=en")).await;
    let style = |css: &'static str| {
        format!(
            "const e = document.querySelector('{css}'); const s = getComputedStyle(e); \
             return [s.backgroundColor, s.borderRadius, s.display];"
        )
    };
    let card = page.js(&style(".login-card"), vec![]).await;
    let body = page.js(&style("body"), vec![]).await;
    let _ = page.screenshot(&shot_path("setup")).await;
    // the card is white and rounded on the dark page, as on /login
    assert_eq!(card[0], "rgb(255, 255, 255)", "{card}");
    assert_eq!(card[1], "16px");
    assert_eq!(body[0], "rgb(20, 32, 43)", "{body}");
    assert_eq!(body[2], "grid");

    // (not `goto`: it would log in)
    page.client
        .goto(&fresh.url("/login?lang=en"))
        .await
        .unwrap();
    let link = page
        .wait_until(
            "the way to /setup",
            "const p = document.getElementById('login-setup'); \
             return p && !p.hidden && p.offsetHeight > 0 \
               ? p.querySelector('a').getAttribute('href') : null;",
            vec![],
            PAGE,
        )
        .await;
    assert_eq!(link, "/setup");
    let _ = page.screenshot(&shot_path("login-setup")).await;
    page.close().await;

    // With an admin there is no such sentence.
    let server = Server::spawn().await;
    let page = driver.session(1024, 768).await;
    page.client
        .goto(&server.url("/login?lang=en"))
        .await
        .unwrap();
    page.wait_visible("#login-name", PAGE).await;
    assert!(!page.is_visible("#login-setup").await);
    page.close().await;
    fresh.stop().await;
}

/// Where a screenshot of these tests goes: the tests' scratch folder; with
/// `WAITLESS_SCREENSHOTS=1`, the few the docs show go to docs/screenshots (an 8- and a 12-room
/// display, 8 services on the smallest kiosk in English and Hindi, the status page's feedback).
pub fn shot_path(name: &str) -> std::path::PathBuf {
    const IN_DOCS: &[(&str, &str)] = &[
        ("display-8", "display-1920x1080-8-rooms"),
        ("display-12", "display-1920x1080-12-rooms"),
        ("kiosk-800x480-en", "kiosk-800x480-8-services"),
        ("kiosk-800x480-hi", "kiosk-800x480-8-services-hi"),
        ("kiosk-800x480-code", "kiosk-800x480-check-in"),
        (
            "kiosk-800x480-phone-hi",
            "kiosk-800x480-check-in-by-phone-hi",
        ),
        ("staff-1024x768-day-doctor", "staff-1024x768-doctors-day"),
        ("book-390x844-times-hi", "book-390x844-hi"),
        ("booking-390x844-hi", "booking-390x844-hi"),
        (
            "admin-notifications-1280x800",
            "admin-notifications-1280x800",
        ),
        ("status-390x844-feedback-hi", "status-390x844-feedback-hi"),
    ];
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("WAITLESS_SCREENSHOTS").is_some()
        && let Some((_, docs)) = IN_DOCS.iter().find(|(n, _)| *n == name)
    {
        return root.join("docs/screenshots").join(format!("{docs}.png"));
    }
    let folder = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    let _ = std::fs::create_dir_all(&folder);
    folder.join(format!("screens-{name}.png"))
}
