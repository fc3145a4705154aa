//! Reports end to end: tickets issued, called, served, missed and cancelled over HTTP across
//! three local days in a +5:30 zone, with the manual clock; the report's numbers checked against
//! a hand computation, the CSV of visits, the page (also in Chromium, at 1280×800 and on a
//! tablet), the bad inputs; and `/metrics`.
//!
//! `WAITLESS_SCREENSHOTS=1 cargo test --test integration reports::` also rewrites
//! `docs/screenshots/reports-1280x800.png`, `reports-charts-1280x800.png` and
//! `reports-768x1024.png`.

use jiff::SignedDuration;
use serde_json::Value;
use waitless::clock::Clock;

use crate::common::{
    ADMIN_NAME, DOCTOR_NAME, MANAGER_NAME, PATIENCE, RECEPTION_NAME, TestApp, wait_until,
};

fn mins(m: i64) -> SignedDuration {
    SignedDuration::from_mins(m)
}

/// Sends `method path` with a session cookie (from our own pages); returns the status and body.
async fn as_user(app: &TestApp, cookie: &str, method: &str, path: &str) -> (u16, String) {
    let method: reqwest::Method = method.parse().unwrap();
    let r = app
        .anon
        .request(method, app.url(path))
        .header("Cookie", cookie)
        .header("Origin", app.url(""))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

/// Runs a room action, asserting 200.
async fn act(app: &TestApp, path: &str) -> Value {
    let (status, body) = app.call(path, None).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// The clinic in India (+5:30), its day starting at 04:00 local (22:30 UTC). The clock starts
/// at 2026-11-21T10:00:00Z, Saturday 15:30 in India.
///
/// | visit | issued (UTC → IST)            | called        | end                         |
/// |-------|-------------------------------|---------------|-----------------------------|
/// | 1 A   | Sat 10:00 → 15:30             | 10:05 room-1  | done 10:15 (1 recall)       |
/// | 2 A   | Sat 10:00 → 15:30             | 10:15 room-1  | no-show 10:17               |
/// | 3 L   | Sat 10:17 → 15:47             | 10:20 lab     | done 10:25                  |
/// | 4 A   | Sun 03:00 → 08:30             | 03:30 room-1  | done 03:36                  |
/// | 5 A   | Sun 03:36 → 09:06             | —             | cancelled 03:40             |
/// | 6 A   | Sun 18:45 → Mon 00:15         | 18:50 room-1  | done 19:00                  |
async fn three_days() -> TestApp {
    let app = TestApp::spawn_with(|c| c.clinic.timezone = "Asia/Kolkata".to_owned()).await;
    app.issue("general", "normal").await;
    app.issue("general", "normal").await;
    app.advance(mins(5));
    act(&app, "/api/v1/rooms/room-1/next").await;
    app.advance(mins(2));
    act(&app, "/api/v1/rooms/room-1/recall").await;
    app.advance(mins(8));
    act(&app, "/api/v1/rooms/room-1/next").await;
    app.advance(mins(2));
    act(&app, "/api/v1/rooms/room-1/no-show").await;
    app.issue("lab", "normal").await;
    app.advance(mins(3));
    act(&app, "/api/v1/rooms/lab/next").await;
    app.advance(mins(5));
    act(&app, "/api/v1/rooms/lab/done").await;
    // To Sunday 03:00 UTC (08:30 in India): the clinic day closes at 22:30 UTC on the way.
    app.clock.set("2026-11-22T03:00:00Z".parse().unwrap());
    wait_until(PATIENCE, "the day to close", async || {
        let (_, health) = app.get_json("/healthz").await;
        if health["day"] == "2026-11-22" {
            Ok(())
        } else {
            Err(health)
        }
    })
    .await;
    app.issue("general", "normal").await;
    app.advance(mins(30));
    act(&app, "/api/v1/rooms/room-1/next").await;
    app.advance(mins(6));
    act(&app, "/api/v1/rooms/room-1/done").await;
    let left = app.issue("general", "normal").await;
    app.advance(mins(4));
    act(&app, &format!("/api/v1/tickets/{}/cancel", left["id"])).await;
    // 18:45 UTC is 00:15 on Monday in India (still Sunday's clinic day, which starts at 04:00).
    app.clock.set("2026-11-22T18:45:00Z".parse().unwrap());
    app.issue("general", "normal").await;
    app.advance(mins(5));
    act(&app, "/api/v1/rooms/room-1/next").await;
    app.advance(mins(10));
    act(&app, "/api/v1/rooms/room-1/done").await;
    app
}

fn keyed(buckets: &Value) -> Vec<(String, u64)> {
    buckets
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["arrived"].as_u64().unwrap() > 0)
        .map(|b| {
            (
                b["key"].as_str().unwrap().to_owned(),
                b["arrived"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn reports_match_the_hand_computation() {
    let app = three_days().await;
    let (status, body) = app
        .get_json("/api/v1/reports?from=2026-11-21&to=2026-11-23&compare=true")
        .await;
    assert_eq!(status, 200, "{body}");
    let r = &body["report"];
    assert_eq!(r["from"], "2026-11-20T18:30:00Z", "local midnight in India");
    assert_eq!(r["to"], "2026-11-23T18:30:00Z", "the `to` day is included");
    assert_eq!(r["time_zone"], "Asia/Kolkata");
    let t = &r["total"];
    assert_eq!(t["arrived"], 6);
    assert_eq!(t["served"], 4);
    assert_eq!(t["no_show"], 1);
    assert_eq!(t["cancelled"], 1);
    assert_eq!(t["open"], 0);
    assert_eq!(t["no_show_pct"], 16.67);
    // Waits 5, 15, 3, 30, 5 minutes.
    assert_eq!(t["wait_median_mins"], 5.0);
    assert_eq!(t["wait_p90_mins"], 30.0);
    // Service times 10, 5, 6, 10 (from the last call; a recall is not a new call).
    assert_eq!(t["service_median_mins"], 8.0);
    assert_eq!(t["service_p90_mins"], 10.0);
    // Called within 15 minutes: visits 1, 2, 3 and 6, of 5 called + 1 cancelled uncalled.
    assert_eq!(t["service_level_pct"], 66.67);
    // Served in Sat 15:xx (two), Sun 09:xx and Mon 00:xx, India time: 4 in 3 hours.
    assert_eq!(t["throughput_per_hour"], 1.33);
    assert_eq!(t["recalls"], 1);
    assert_eq!(t["transfers"], 0);
    assert!(t["estimate_error_mins"].is_number(), "{t}");
    assert_eq!(
        keyed(&r["by_day"]),
        [
            ("2026-11-21".to_owned(), 3),
            ("2026-11-22".to_owned(), 2),
            ("2026-11-23".to_owned(), 1)
        ]
    );
    assert_eq!(
        keyed(&r["by_hour"]),
        [
            ("0".to_owned(), 1),
            ("8".to_owned(), 1),
            ("9".to_owned(), 1),
            ("15".to_owned(), 3)
        ]
    );
    assert_eq!(
        keyed(&r["by_weekday"]),
        [
            ("monday".to_owned(), 1),
            ("saturday".to_owned(), 3),
            ("sunday".to_owned(), 2)
        ]
    );
    assert_eq!(r["by_class"][0]["key"], "walk_in");
    assert_eq!(r["by_class"][0]["arrived"], 6);
    assert_eq!(r["heat"][0][0], 1, "Monday 00:15");
    assert_eq!(r["heat"][5][15], 3, "Saturday 15:30–15:47");
    assert_eq!(
        keyed(&r["by_service"]),
        [("general".to_owned(), 5), ("lab".to_owned(), 1)]
    );
    assert_eq!(
        keyed(&r["by_room"]),
        [("lab".to_owned(), 1), ("room-1".to_owned(), 4)]
    );
    let lab = &r["by_room"][0];
    assert_eq!(lab["wait_median_mins"], 3.0);
    assert_eq!(lab["service_median_mins"], 5.0);
    // The three days before: nothing yet.
    assert_eq!(body["previous"]["total"]["arrived"], 0);
    assert_eq!(body["previous"]["to"], "2026-11-20T18:30:00Z");

    // Sunday in India: visits 4 and 5; visit 6 is Monday's (local date), though the same clinic day.
    let (_, sunday) = app.get_json("/api/v1/reports?from=2026-11-22").await;
    let t = &sunday["report"]["total"];
    assert_eq!(
        (t["arrived"].as_u64(), t["served"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(t["service_level_pct"], 0.0, "30 minutes is past the target");
    let (_, relaxed) = app
        .get_json("/api/v1/reports?from=2026-11-22&target_mins=30")
        .await;
    assert_eq!(relaxed["report"]["total"]["service_level_pct"], 50.0);
}

#[tokio::test]
async fn visits_export_as_csv_in_the_clinic_zone() {
    let app = three_days().await;
    let r = app
        .get("/api/v1/reports/visits.csv?from=2026-11-21&to=2026-11-23")
        .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = r.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 7, "{text}");
    assert!(lines[0].starts_with("ticket,number,service,room,class,issued_at"));
    let last: Vec<&str> = lines[6].split(',').collect();
    assert_eq!(last[2], "general");
    assert_eq!(last[3], "room-1");
    assert_eq!(last[5], "2026-11-23T00:15:00+05:30");
    assert_eq!(last[9], "done");
    assert_eq!(last[10], "5.0");
    assert_eq!(last[11], "10.0");
    let second: Vec<&str> = lines[2].split(',').collect();
    assert_eq!(second[9], "no_show");
}

#[tokio::test]
async fn the_reports_page_shows_the_numbers_to_admins_only() {
    let app = three_days().await;
    let r = app
        .get("/admin/reports?range=custom&from=2026-11-21&to=2026-11-23&compare=1")
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"by-service\""), "{html}");
    assert!(html.contains("General OPD"));
    assert!(html.contains("id=\"by-class\"") && html.contains("Walk-in"));
    assert!(html.contains("Asia/Kolkata"));
    assert!(html.contains("<svg"));
    assert!(
        html.contains("class=\"heat-4\""),
        "the busiest hour is the darkest"
    );
    assert!(html.contains("66.7"), "the service level");
    let hindi = app
        .get("/admin/reports?range=week&date=2026-11-21&lang=hi")
        .await;
    assert_eq!(hindi.status(), 200);
    assert!(hindi.text().await.unwrap().contains("रिपोर्ट"));
    let doctor = app.login(DOCTOR_NAME).await;
    for path in ["/admin/reports", "/api/v1/reports"] {
        let r = app
            .anon
            .get(app.url(path))
            .header("Cookie", &doctor)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{path} for a doctor");
        let r = app.anon.get(app.url(path)).send().await.unwrap();
        assert!(
            matches!(r.status().as_u16(), 401 | 303),
            "{path} anonymous: {}",
            r.status()
        );
    }
}

#[tokio::test]
async fn bad_report_parameters_are_clear_400s() {
    let app = TestApp::spawn().await;
    for query in [
        "from=yesterday",
        "from=2026-11-21&to=2026-11-20",
        "from=2020-01-01&to=2026-11-20",
        "target_mins=0",
        "colour=blue",
    ] {
        let (status, body) = app.get_json(&format!("/api/v1/reports?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid-query", "{query}: {body}");
    }
    let r = app.get("/admin/reports?range=year").await;
    assert_eq!(r.status(), 400);
}

// ---- /metrics ----------------------------------------------------------------------------------

/// The value of the metric line that starts with `name` (labels included), e.g.
/// `waitless_waiting{service="general"}`.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn metrics_count_the_queue_when_enabled() {
    let app = TestApp::spawn_with(|c| {
        c.metrics.enabled = true;
        c.metrics.token = "scrape-me".to_owned();
    })
    .await;
    for _ in 0..3 {
        app.issue("general", "normal").await;
    }
    app.issue("lab", "normal").await;
    app.advance(mins(4));
    act(&app, "/api/v1/rooms/room-1/next").await;
    app.advance(mins(6));
    act(&app, "/api/v1/rooms/room-1/next").await;
    app.advance(mins(1));
    act(&app, "/api/v1/rooms/room-1/no-show").await;
    let _ws = app.events("").await;
    let scrape = || {
        app.anon
            .get(app.url("/metrics"))
            .header("Authorization", "Bearer scrape-me")
            .send()
    };
    // The counters follow the committed events a moment later.
    let text = wait_until(PATIENCE, "the metrics to count the calls", async || {
        let text = scrape().await.unwrap().text().await.unwrap();
        let ready = text.contains("waitless_no_shows_total 1")
            && text.contains("waitless_websocket_clients 1");
        if ready { Ok(text) } else { Err(text) }
    })
    .await;
    assert_eq!(metric(&text, "waitless_tickets_issued_total"), 4.0);
    assert_eq!(metric(&text, "waitless_calls_total"), 2.0);
    assert_eq!(metric(&text, "waitless_served_total"), 1.0);
    assert_eq!(metric(&text, "waitless_waiting{service=\"general\"}"), 1.0);
    assert_eq!(metric(&text, "waitless_waiting{service=\"lab\"}"), 1.0);
    // Waits 4 and 10 minutes; one service of 6 minutes.
    assert_eq!(metric(&text, "waitless_wait_seconds_count"), 2.0);
    assert_eq!(metric(&text, "waitless_wait_seconds_sum"), 840.0);
    assert_eq!(
        metric(&text, "waitless_wait_seconds_bucket{le=\"300.0\"}"),
        1.0
    );
    assert_eq!(metric(&text, "waitless_service_seconds_sum"), 360.0);
    assert!(metric(&text, "waitless_store_bytes") > 0.0);
    // The seven events since the start (4 issued, 2 calls, a no-show) went through the
    // engine's commits, each timed (commands that arrive together share one).
    let commits = metric(&text, "waitless_commit_seconds_count");
    assert!((1.0..=7.0).contains(&commits), "{text}");
    assert!(metric(&text, "waitless_commit_seconds_sum") > 0.0);
    assert_eq!(metric(&text, "waitless_commit_events_sum"), 7.0, "{text}");
    assert!(
        text.contains("# TYPE waitless_device_health gauge"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("# EOF"));

    let wrong = app
        .anon
        .get(app.url("/metrics"))
        .header("Authorization", "Bearer guess")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let none = app.anon.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(none.status(), 401);
}

#[tokio::test]
async fn metrics_are_off_by_default() {
    let app = TestApp::spawn().await;
    let r = app.get("/metrics").await;
    assert_eq!(r.status(), 404);
}

// ---- the page in a browser -----------------------------------------------------------------------

#[tokio::test]
async fn the_reports_page_draws_its_tables_and_charts_in_a_browser() {
    use crate::browser::driver::Driver;
    use crate::browser::server::Server;
    use crate::browser::{ONE_AT_A_TIME, PAGE};

    let _one = ONE_AT_A_TIME.lock().await;
    // The server's clock starts at the real time: the clinic day starts 12 hours from now, so
    // no day close falls inside the three hours the test moves through.
    let start_of_day = waitless::clock::SystemClock
        .now()
        .to_zoned(jiff::tz::TimeZone::get("Asia/Kolkata").unwrap())
        .hour();
    let server = Server::spawn_with(|c| {
        c.clinic.timezone = "Asia/Kolkata".to_owned();
        c.clinic.day_starts_at = format!("{:02}:00", (start_of_day + 12) % 24);
    })
    .await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let tz = jiff::tz::TimeZone::get("Asia/Kolkata").unwrap();
    let first_day = server.clock.now().to_zoned(tz.clone()).date();
    // A morning: patients arrive every few minutes, two rooms call them, some do not come.
    let mut tickets = Vec::new();
    for i in 0..24 {
        let service = if i % 4 == 3 { "lab" } else { "general" };
        tickets.push(server.issue(service, "normal").await);
        server.advance(mins(4));
        if i % 2 == 1 {
            server.next(if i % 4 == 3 { "lab" } else { "room-1" }).await;
        }
        if i % 7 == 6 {
            let (status, body) = server.post_json("/api/v1/rooms/room-1/no-show", None).await;
            assert_eq!(status, 200, "{body}");
        }
        server.advance(mins(3));
    }
    // The served patients answer "How was your visit?" (five a minute from one address).
    let mut answered = 0;
    for (i, ticket) in tickets.iter().enumerate() {
        let state = server
            .get_json(&format!("/api/v1/tickets/{}", ticket["id"]))
            .await;
        if state["state"] != "done" {
            continue;
        }
        let token = ticket["status_path"]
            .as_str()
            .unwrap()
            .trim_start_matches("/t/");
        let score = [5, 4, 4, 3, 5, 2, 4][i % 7];
        let body = if i % 3 == 0 {
            serde_json::json!({"score": score, "comment": format!("Visit {i}: the doctor explained everything.")})
        } else {
            serde_json::json!({"score": score})
        };
        let (status, answer) = server
            .post_json(&format!("/api/v1/status/{token}/feedback"), Some(body))
            .await;
        assert_eq!(status, 201, "{answer}");
        answered += 1;
        server.advance(SignedDuration::from_secs(13));
    }
    assert!(answered > 3, "{answered} answers");
    let last_day = server.clock.now().to_zoned(tz).date();
    let page = format!("/admin/reports?range=custom&from={first_day}&to={last_day}&compare=1");
    for browser_size in [
        (1280, 800, "reports-1280x800"),
        (768, 1024, "reports-768x1024"),
    ] {
        let (width, height, name) = browser_size;
        let browser = driver.session(width, height).await;
        browser.goto(&server.url(&page)).await;
        browser.wait_visible("#by-service", PAGE).await;
        let arrived = browser
            .js(
                "return document.querySelector('#totals [data-key=\"reports.arrived\"] .figure-value').textContent;",
                vec![],
            )
            .await;
        assert_eq!(arrived, "24");
        let bars = browser
            .js(
                "return document.querySelectorAll('.chart rect.bar').length;",
                vec![],
            )
            .await;
        assert_eq!(bars, 48, "24 hours × 2 charts");
        let overflow = browser
            .js(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
                vec![],
            )
            .await;
        assert_eq!(overflow, 0, "{name}: the page fits its width");
        let rows = browser
            .js(
                "return [document.querySelectorAll('#feedback tbody tr:not(.group-row)').length, \
                  document.querySelectorAll('#feedback-comments tbody tr').length];",
                vec![],
            )
            .await;
        assert_eq!(rows[0], 5, "all, general, lab, room-1, lab room: {rows}");
        assert!(rows[1].as_u64().unwrap() >= 1, "{rows}");
        if width == 1280 {
            browser
                .js(
                    "window.scrollTo(0, document.getElementById('feedback-heading')\
                     .getBoundingClientRect().top + window.scrollY - 80);",
                    vec![],
                )
                .await;
            let shot = crate::browser::screens::shot_path("reports-feedback-1280x800");
            browser.screenshot(&shot).await;
            browser.js("window.scrollTo(0, 0);", vec![]).await;
        }
        if std::env::var("WAITLESS_SCREENSHOTS").as_deref() == Ok("1") {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("docs/screenshots/{name}.png"));
            browser.screenshot(&path).await;
            eprintln!("saved {}", path.display());
            if width == 1280 {
                // The charts and the heat map, below the totals.
                browser
                    .js(
                        "window.scrollTo(0, document.getElementById('hours-heading')\
                         .getBoundingClientRect().top + window.scrollY - 80);",
                        vec![],
                    )
                    .await;
                let charts = path.with_file_name("reports-charts-1280x800.png");
                browser.screenshot(&charts).await;
            }
        }
        browser.close().await;
    }
}

/// Two doctors call in the demo clinic (UTC), all on Saturday 21 November 2026:
///
/// | ticket | issued | last call by             | called | done                 |
/// |--------|--------|--------------------------|--------|----------------------|
/// | A001   | 10:00  | user:doctor (room-1)     | 10:05  | 10:15 (doctor: next) |
/// | A002   | 10:00  | user:sen (room-2)        | 10:06  | 10:20 (sen: done)    |
/// | A003   | 10:00  | user:doctor (room-1)     | 10:15  | 10:22 (token: next)  |
/// | A004   | 10:00  | token:tests (room-1)     | 10:22  | 10:25 (reception)    |
///
/// The token's call is in room-1, whose only doctor is `doctor`: it counts for him.
#[tokio::test]
async fn reports_count_each_doctor_and_staff_member_calls() {
    let app = TestApp::spawn().await;
    app.add_user("sen", &["doctor"], &["room-2"]).await;
    let doctor = app.login(DOCTOR_NAME).await;
    let sen = app.login("sen").await;
    let reception = app.login(RECEPTION_NAME).await;
    for _ in 0..4 {
        app.issue("general", "normal").await;
    }
    let ok = async |cookie: &str, path: &str| {
        let (status, body) = as_user(&app, cookie, "POST", path).await;
        assert_eq!(status, 200, "{path}: {body}");
    };
    app.advance(mins(5));
    ok(&doctor, "/api/v1/rooms/room-1/next").await;
    app.advance(mins(1));
    ok(&sen, "/api/v1/rooms/room-2/next").await;
    app.advance(mins(9));
    ok(&doctor, "/api/v1/rooms/room-1/next").await;
    app.advance(mins(5));
    ok(&sen, "/api/v1/rooms/room-2/done").await;
    app.advance(mins(2));
    act(&app, "/api/v1/rooms/room-1/next").await;
    app.advance(mins(3));
    ok(&reception, "/api/v1/rooms/room-1/done").await;

    let (status, body) = app.get_json("/api/v1/reports").await;
    assert_eq!(status, 200, "{body}");
    let r = &body["report"];
    assert_eq!(r["total"]["served"], 4);
    let row = |table: &str, key: &str| -> Value {
        r[table]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["key"] == key)
            .cloned()
            .unwrap_or_else(|| panic!("no {key} in {table}: {}", r[table]))
    };
    assert_eq!(
        keyed(&r["by_staff"]),
        [
            ("token:tests".to_owned(), 1),
            ("user:doctor".to_owned(), 2),
            ("user:sen".to_owned(), 1)
        ],
        "reception finished a visit but called none"
    );
    let own = row("by_staff", "user:doctor");
    assert_eq!(own["served"], 2);
    assert_eq!(own["wait_median_mins"], 10.0); // 5 and 15
    assert_eq!(own["service_median_mins"], 8.5); // 10 and 7
    assert_eq!(own["throughput_per_hour"], 2.0, "both in the 10:00 hour");
    let token = row("by_staff", "token:tests");
    assert_eq!(token["wait_median_mins"], 22.0);
    assert_eq!(token["service_median_mins"], 3.0);
    assert_eq!(
        keyed(&r["by_doctor"]),
        [("doctor".to_owned(), 3), ("sen".to_owned(), 1)]
    );
    let rao = row("by_doctor", "doctor");
    assert_eq!(rao["served"], 3);
    assert_eq!(rao["wait_median_mins"], 15.0); // 5, 15, 22
    assert_eq!(rao["service_median_mins"], 7.0); // 10, 7, 3
    assert_eq!(rao["throughput_per_hour"], 3.0);
    let sen_row = row("by_doctor", "sen");
    assert_eq!(sen_row["served"], 1);
    assert_eq!(sen_row["wait_median_mins"], 6.0);
    assert_eq!(sen_row["service_median_mins"], 14.0);
    assert_eq!(sen_row["throughput_per_hour"], 1.0);

    // A second doctor in room-1: the token's call there counts for no one any more.
    app.add_user("rossi", &["doctor"], &["room-1"]).await;
    let (_, body) = app.get_json("/api/v1/reports").await;
    assert_eq!(
        keyed(&body["report"]["by_doctor"]),
        [("doctor".to_owned(), 2), ("sen".to_owned(), 1)]
    );

    // The CSV names who made each last call, in a column at the end.
    let text = app
        .get("/api/v1/reports/visits.csv")
        .await
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].ends_with(",estimate_mins,feedback,called_by"),
        "{text}"
    );
    let called_by: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.rsplit(',').next().unwrap())
        .collect();
    assert_eq!(
        called_by,
        ["user:doctor", "user:sen", "user:doctor", "token:tests"]
    );

    // The page has both tables, users by name.
    let html = app.get("/admin/reports").await.text().await.unwrap();
    for id in [
        "id=\"by-doctor\"",
        "id=\"by-staff\"",
        "<th scope=\"row\">sen</th>",
    ] {
        assert!(html.contains(id), "{id} missing");
    }
    assert!(!html.contains("<th scope=\"row\">user:sen</th>"));
}

#[tokio::test]
async fn a_manager_reads_the_reports_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let ticket = app.issue("general", "normal").await;
    let id = ticket["id"].as_u64().unwrap();
    app.add_user(MANAGER_NAME, &["manager"], &[]).await;
    let manager = app.login(MANAGER_NAME).await;
    let seq = app.queue().await["seq"].as_u64().unwrap();

    for path in [
        "/admin/reports",
        "/admin/reports?range=week",
        "/api/v1/reports?compare=true",
        "/api/v1/reports/visits.csv",
        "/api/v1/feedback",
        "/api/v1/me",
    ] {
        let (status, body) = as_user(&app, &manager, "GET", path).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    // The page links only to what a manager may open.
    let (_, html) = as_user(&app, &manager, "GET", "/admin/reports").await;
    assert!(!html.contains("href=\"/admin\""), "no admin link");
    assert!(!html.contains("href=\"/admin/audit\""), "no audit link");
    assert!(!html.contains("href=\"/staff\""), "no staff console link");
    let admin_html = app.get("/admin/reports").await.text().await.unwrap();
    assert!(admin_html.contains("href=\"/admin\""), "an admin has them");

    let ticket_path = |action: &str| format!("/api/v1/tickets/{id}/{action}");
    for (method, path) in [
        ("GET", "/admin".to_owned()),
        ("GET", "/admin/audit".to_owned()),
        ("GET", "/admin/notifications".to_owned()),
        ("GET", "/staff".to_owned()),
        ("GET", "/printer".to_owned()),
        ("GET", "/api/v1/audit".to_owned()),
        ("GET", "/api/v1/admin/users".to_owned()),
        ("GET", "/api/v1/admin/tokens".to_owned()),
        ("GET", "/api/v1/admin/clinic".to_owned()),
        ("GET", "/api/v1/bookings".to_owned()),
        ("GET", ticket_path("patient")),
        ("POST", ticket_path("cancel")),
        ("POST", "/api/v1/rooms/room-1/next".to_owned()),
        ("POST", "/api/v1/services/general/close".to_owned()),
        ("POST", "/api/v1/admin/tokens".to_owned()),
        ("PATCH", "/api/v1/admin/users/manager".to_owned()),
    ] {
        let (status, body) = as_user(&app, &manager, method, &path).await;
        assert_eq!(status, 403, "{method} {path}: {body}");
        assert!(
            body.is_empty() || body.contains("forbidden") || body.contains("<"),
            "{body}"
        );
    }
    assert_eq!(
        app.queue().await["seq"].as_u64().unwrap(),
        seq,
        "a refused request changed nothing"
    );
    // A ticket's status link is for staff who work the queue.
    let (_, view) = as_user(&app, &manager, "GET", &format!("/api/v1/tickets/{id}")).await;
    let view: Value = serde_json::from_str(&view).unwrap();
    assert!(view["status_path"].is_null(), "{view}");
}

/// The paths of the links (`href="/…"`) of a page.
fn local_links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|href| href.starts_with('/'))
        .map(|href| href.replace("&amp;", "&"))
        .collect()
}

#[tokio::test]
async fn the_start_page_offers_each_user_only_what_they_may_open() {
    let app = TestApp::spawn().await;
    app.add_user(MANAGER_NAME, &["manager"], &[]).await;
    let mut users = vec![(String::new(), "a visitor".to_owned())];
    for name in [MANAGER_NAME, RECEPTION_NAME, DOCTOR_NAME, ADMIN_NAME] {
        users.push((app.login(name).await, name.to_owned()));
    }
    for (cookie, who) in &users {
        let (status, html) = as_user(&app, cookie, "GET", "/").await;
        assert_eq!(status, 200, "{who}: {html}");
        let has = |id: &str| html.contains(&format!("id=\"{id}\""));
        let (screens, staff, reports, admin, account) = match who.as_str() {
            "a visitor" => (true, true, false, false, false),
            MANAGER_NAME => (false, false, true, false, true),
            RECEPTION_NAME | DOCTOR_NAME => (true, true, false, false, true),
            _ => (true, true, true, true, true),
        };
        for (id, shown) in [
            ("link-kiosk", screens),
            ("link-display", screens),
            ("link-staff", staff),
            ("link-printer", staff),
            ("rooms", staff),
            ("link-reports", reports),
            ("link-admin", admin),
            ("user", account),
        ] {
            assert_eq!(has(id), shown, "{who}: #{id}");
        }
        // Every link on the page opens for this user (a visitor's staff links go to the login).
        let links = local_links(&html);
        assert!(links.len() >= 4, "{who}: {links:?}");
        for link in links {
            let (status, body) = as_user(&app, cookie, "GET", &link).await;
            if who == "a visitor" && (link.starts_with("/staff") || link == "/printer") {
                assert_eq!(status, 303, "{who}: {link}: to the login");
                continue;
            }
            assert_eq!(status, 200, "{who}: {link}: {body}");
        }
    }
}
