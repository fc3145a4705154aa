//! Patients' feedback: "How was your visit?" on the status link, once per served ticket; its
//! refusals and rate limit; the reports' figures; the admin's list of comments; the comments'
//! deletion by the retention rule; the backup copies their table; an answer the next morning,
//! after the clinic day closed (within the 7 days' window, once, across a restart).

use jiff::SignedDuration;
use serde_json::{Value, json};

use crate::common::{PATIENCE, TestApp, wait_until};

/// The status link's token of a ticket JSON.
fn token_of(ticket: &Value) -> String {
    ticket["status_path"]
        .as_str()
        .unwrap()
        .trim_start_matches("/t/")
        .to_owned()
}

/// Issues a general ticket, calls it into room 1 and finishes it; returns its status token.
async fn served(app: &TestApp) -> String {
    let ticket = app.issue("general", "normal").await;
    app.next("room-1").await;
    app.advance(SignedDuration::from_secs(90));
    let (status, body) = app.call("/api/v1/rooms/room-1/done", None).await;
    assert_eq!(status, 200, "{body}");
    token_of(&ticket)
}

/// Posts feedback anonymously (the patient's phone); returns (status, body).
async fn give(app: &TestApp, token: &str, body: &Value) -> (u16, Value) {
    let r = app
        .anon
        .post(app.url(&format!("/api/v1/status/{token}/feedback")))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

async fn seq(app: &TestApp) -> u64 {
    app.queue().await["seq"].as_u64().unwrap()
}

#[tokio::test]
async fn a_served_patient_rates_the_visit_once_and_the_report_shows_it() {
    let app = TestApp::spawn().await;
    let mut events = app.events("").await;
    let ticket = app.issue("general", "normal").await;
    let token = token_of(&ticket);

    // Not served yet.
    let (status, body) = give(&app, &token, &json!({"score": 5})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "feedback-too-early");

    app.next("room-1").await;
    app.advance(SignedDuration::from_secs(90));
    let (status, _) = app.call("/api/v1/rooms/room-1/done", None).await;
    assert_eq!(status, 200);
    let (_, view) = app.get_json(&format!("/api/v1/status/{token}")).await;
    assert_eq!(view["state"], "done");
    assert_eq!(view["feedback_given"], false, "{view}");

    // Bad input: a clear 400 that changes nothing.
    let before = seq(&app).await;
    let long = "x".repeat(501);
    for (body, code) in [
        (json!({"score": 0}), "invalid-score"),
        (json!({"score": 6}), "invalid-score"),
        (json!({"score": 4, "comment": long}), "invalid-comment"),
        (
            json!({"score": 4, "comment": "esc\u{1b}[2J"}),
            "invalid-comment",
        ),
    ] {
        let (status, answer) = give(&app, &token, &body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{answer}");
    }
    assert_eq!(seq(&app).await, before, "a refused answer changed the log");
    // A new minute: the address may answer again.
    app.advance(SignedDuration::from_secs(61));
    for body in [json!({"score": "five"}), json!({"score": 4, "extra": 1})] {
        let (status, answer) = give(&app, &token, &body).await;
        assert_eq!(status, 400, "{body}: {answer}");
    }
    let (_, mac) = token.split_once('-').unwrap();
    let forged = format!("{}-{mac}", ticket["id"].as_u64().unwrap() + 1);
    let (status, answer) = give(&app, &forged, &json!({"score": 5})).await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(seq(&app).await, before);

    let (status, answer) = give(
        &app,
        &token,
        &json!({"score": 4, "comment": "  The doctor listened. धन्यवाद  "}),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer, json!({"score": 4, "comment": true}));
    let event = events.next_event("feedback_given").await;
    assert!(
        event.get("score").is_none(),
        "withheld on the public stream: {event}"
    );
    assert!(!event.to_string().contains("doctor listened"), "{event}");

    let (_, view) = app.get_json(&format!("/api/v1/status/{token}")).await;
    assert_eq!(view["feedback_given"], true, "{view}");
    app.advance(SignedDuration::from_secs(61));
    let (status, answer) = give(&app, &token, &json!({"score": 1})).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "feedback-given");

    // The audit trail has the score and where, never the comment nor the phone's address.
    let (status, audit) = app.get_json("/api/v1/audit?kind=feedback_given").await;
    assert_eq!(status, 200, "{audit}");
    assert!(audit.to_string().contains("feedback_given"), "{audit}");
    assert!(!audit.to_string().contains("doctor listened"), "{audit}");
    assert!(
        !audit.to_string().contains("127.0.0.1"),
        "no address of the patient's phone: {audit}"
    );

    // The report: one answer of 4 in general and room 1.
    let (status, report) = app.get_json("/api/v1/reports").await;
    assert_eq!(status, 200, "{report}");
    let feedback = &report["report"]["feedback"];
    assert_eq!(feedback["total"]["count"], 1, "{feedback}");
    assert_eq!(feedback["total"]["mean"], 4.0, "{feedback}");
    assert_eq!(feedback["total"]["scores"], json!([0, 0, 0, 1, 0]));
    assert_eq!(feedback["by_service"][0]["key"], "general", "{feedback}");
    assert_eq!(feedback["by_service"][0]["mean"], 4.0, "{feedback}");
    assert_eq!(feedback["by_room"][0]["key"], "room-1", "{feedback}");

    // The admin reads the comment; nobody else does.
    let (status, list) = app.get_json("/api/v1/feedback").await;
    assert_eq!(status, 200, "{list}");
    let comment = &list["comments"][0];
    assert_eq!(comment["comment"], "The doctor listened. धन्यवाद", "{list}");
    assert_eq!(comment["score"], 4);
    assert_eq!(comment["service"], "general");
    assert_eq!(comment["room"], "room-1");
    assert_eq!(comment["number"], ticket["number"]);
    let r = app
        .anon
        .get(app.url("/api/v1/feedback"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (status, answer) = app.get_json("/api/v1/feedback?from=2026-13-01").await;
    assert_eq!(status, 400, "{answer}");

    // The reports page shows the table and the comment; the CSV the score.
    let page = app.get("/admin/reports").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("id=\"feedback\""), "feedback table");
    assert!(html.contains("The doctor listened."), "the latest comment");
    let csv = app
        .get("/api/v1/reports/visits.csv")
        .await
        .text()
        .await
        .unwrap();
    let mut lines = csv.lines();
    assert!(
        lines.next().unwrap().ends_with(",feedback,called_by"),
        "{csv}"
    );
    assert!(lines.next().unwrap().ends_with(",4,token:tests"), "{csv}");
}

#[tokio::test]
async fn feedback_is_limited_per_address_a_minute() {
    let app = TestApp::spawn().await;
    let token = served(&app).await;
    for _ in 0..5 {
        let (status, answer) = give(&app, &token, &json!({"score": 9})).await;
        assert_eq!(status, 400, "{answer}");
    }
    let (status, answer) = give(&app, &token, &json!({"score": 5})).await;
    assert_eq!(status, 429, "{answer}");
    assert_eq!(answer["error"]["code"], "too-many-feedbacks");
    app.advance(SignedDuration::from_secs(61));
    let (status, answer) = give(&app, &token, &json!({"score": 5})).await;
    assert_eq!(status, 201, "{answer}");
}

#[tokio::test]
async fn a_comment_is_deleted_with_the_patients_details_and_its_score_stays() {
    let app = TestApp::spawn_with(|c| c.store.patient_details_days = 30).await;
    let token = served(&app).await;
    let (status, answer) = give(&app, &token, &json!({"score": 2, "comment": "Long wait"})).await;
    assert_eq!(status, 201, "{answer}");
    let day = "from=2026-11-21&to=2026-11-21";
    let (_, list) = app.get_json(&format!("/api/v1/feedback?{day}")).await;
    assert_eq!(list["comments"].as_array().unwrap().len(), 1, "{list}");

    let mut events = app.events("").await;
    app.advance(SignedDuration::from_hours(24 * 31));
    app.issue("lab", "normal").await;
    let purged = events.next_event("personal_data_purged").await;
    assert_eq!(purged["records"], 1, "the comment: {purged}");
    let (status, list) = app.get_json(&format!("/api/v1/feedback?{day}")).await;
    assert_eq!(status, 200);
    assert_eq!(list["comments"], json!([]), "{list}");
    let (_, report) = app.get_json(&format!("/api/v1/reports?{day}")).await;
    let total = &report["report"]["feedback"]["total"];
    assert_eq!(total["count"], 1, "the score is not personal: {total}");
    assert_eq!(total["mean"], 2.0, "{total}");
}

#[tokio::test]
async fn a_backup_copies_the_comments_table() {
    // Its own folder: the app's temporary one goes when it stops.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("live");
    let app = TestApp::spawn_with({
        let data = data.clone();
        move |c| c.data = data
    })
    .await;
    let token = served(&app).await;
    let (status, answer) = give(&app, &token, &json!({"score": 5, "comment": "Quick"})).await;
    assert_eq!(status, 201, "{answer}");
    let database = app.config.database_path();
    let target = dir.path().join("backup.redb");
    app.stop().await.unwrap();
    let report = waitless::store::backup::backup_file(&database, &target)
        .unwrap_or_else(|e| panic!("backup: {e}"));
    assert!(report.bytes > 0, "{report:?}");
    use redb::{ReadableDatabase, ReadableTableMetadata};
    let copy = redb::Database::open(&target).unwrap();
    let txn = copy.begin_read().unwrap();
    let table = txn
        .open_table(waitless::store::tables::FEEDBACK_COMMENTS)
        .unwrap();
    assert_eq!(table.len().unwrap(), 1);
}

/// Moves the clock to `to` (RFC 3339) and waits until the engine has closed the clinic day
/// (the test clinic is in UTC; its day starts at 04:00).
async fn close_day(app: &TestApp, to: &str, day: &str) {
    app.clock.set(to.parse().unwrap());
    wait_until(PATIENCE, "the clinic day to close", async || {
        let (_, health) = app.get_json("/healthz").await;
        if health["day"] == day {
            Ok(())
        } else {
            Err(health)
        }
    })
    .await;
}

/// The feedback figures of the visits issued on 2026-11-21 (the test clock's first day).
async fn first_day_feedback(app: &TestApp) -> Value {
    let (status, report) = app
        .get_json("/api/v1/reports?from=2026-11-21&to=2026-11-21")
        .await;
    assert_eq!(status, 200, "{report}");
    report["report"]["feedback"].clone()
}

#[tokio::test]
async fn a_patient_answers_the_next_morning_and_the_report_of_the_visits_day_counts_it() {
    let app = TestApp::spawn().await;
    // Two visits on Saturday: one served in room 1, one moved to the lab and served there.
    let token = served(&app).await;
    let moved = app.issue("general", "normal").await;
    let (status, body) = app
        .call(
            &format!("/api/v1/tickets/{}/transfer", moved["id"]),
            Some(json!({"service": "lab"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    app.next("lab").await;
    app.advance(SignedDuration::from_secs(60));
    let (status, body) = app.call("/api/v1/rooms/lab/done", None).await;
    assert_eq!(status, 200, "{body}");
    let moved_token = token_of(&moved);

    // Sunday morning: the day has closed, the tickets are in the archive.
    close_day(&app, "2026-11-22T08:30:00Z", "2026-11-22").await;
    for t in [&token, &moved_token] {
        let (status, view) = app.get_json(&format!("/api/v1/status/{t}")).await;
        assert_eq!(status, 200, "{view}");
        assert_eq!(view["state"], "done", "{view}");
        assert_eq!(view["feedback_given"], false, "{view}");
        assert_eq!(view["feedback_open"], true, "{view}");
    }
    let (_, view) = app.get_json(&format!("/api/v1/status/{moved_token}")).await;
    assert_eq!(view["number"], moved["number"], "{view}");
    assert_eq!(
        view["service_name"], "Laboratory",
        "where the visit ended: {view}"
    );
    let page = app
        .anon
        .get(app.url(&format!("/t/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);

    let mut events = app.events("").await;
    let (status, answer) = give(
        &app,
        &token,
        &json!({"score": 2, "comment": "Waited long on Saturday"}),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    events.next_event("feedback_given").await;
    let (status, answer) = give(&app, &moved_token, &json!({"score": 5})).await;
    assert_eq!(status, 201, "{answer}");

    // The report of Saturday's visits counts both, by the service and room of each visit.
    let feedback = first_day_feedback(&app).await;
    assert_eq!(feedback["total"]["count"], 2, "{feedback}");
    assert_eq!(feedback["total"]["mean"], 3.5, "{feedback}");
    assert_eq!(feedback["total"]["scores"], json!([0, 1, 0, 0, 1]));
    let by_service: Vec<(Value, Value)> = feedback["by_service"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["key"].clone(), b["mean"].clone()))
        .collect();
    assert_eq!(
        by_service,
        [(json!("general"), json!(2.0)), (json!("lab"), json!(5.0))],
        "{feedback}"
    );
    // Sunday has none.
    let (_, sunday) = app
        .get_json("/api/v1/reports?from=2026-11-22&to=2026-11-22")
        .await;
    assert_eq!(
        sunday["report"]["feedback"]["total"]["count"], 0,
        "{sunday}"
    );

    // The comment is listed with the ticket's number; the audit trail has both events.
    let (_, list) = app
        .get_json("/api/v1/feedback?from=2026-11-22&to=2026-11-22")
        .await;
    let comments = list["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 1, "{list}");
    assert_eq!(comments[0]["comment"], "Waited long on Saturday");
    assert_eq!(comments[0]["number"], "A001", "{list}");
    assert_eq!(comments[0]["room"], "room-1", "{list}");
    let (_, audit) = app.get_json("/api/v1/audit?kind=feedback_given").await;
    assert_eq!(
        audit.to_string().matches("\"feedback_given\"").count(),
        2,
        "{audit}"
    );
    let csv = app
        .get("/api/v1/reports/visits.csv?from=2026-11-21&to=2026-11-21")
        .await
        .text()
        .await
        .unwrap();
    let scores: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').nth(1).unwrap())
        .collect();
    assert_eq!(scores, ["2", "5"], "{csv}");

    // The status says it was answered; a second answer is refused and changes nothing.
    let (_, view) = app.get_json(&format!("/api/v1/status/{token}")).await;
    assert_eq!(view["feedback_given"], true, "{view}");
    assert_eq!(view["feedback_open"], false, "{view}");
    let before = seq(&app).await;
    let (status, answer) = give(&app, &token, &json!({"score": 5})).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "feedback-given");
    assert_eq!(seq(&app).await, before);
    assert_eq!(first_day_feedback(&app).await["total"]["count"], 2);
}

#[tokio::test]
async fn two_answers_at_once_for_a_closed_days_ticket_count_once() {
    let app = TestApp::spawn().await;
    let token = served(&app).await;
    close_day(&app, "2026-11-22T08:30:00Z", "2026-11-22").await;
    let (one, five) = (json!({"score": 1}), json!({"score": 5}));
    let (a, b) = tokio::join!(give(&app, &token, &one), give(&app, &token, &five));
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409], "{a:?} {b:?}");
    let refused = if a.0 == 409 { &a.1 } else { &b.1 };
    assert_eq!(refused["error"]["code"], "feedback-given", "{refused}");
    let feedback = first_day_feedback(&app).await;
    assert_eq!(feedback["total"]["count"], 1, "{feedback}");
}

#[tokio::test]
async fn a_closed_days_answer_holds_across_a_restart() {
    let app = TestApp::spawn().await;
    let token = served(&app).await;
    close_day(&app, "2026-11-22T08:30:00Z", "2026-11-22").await;
    // Answered after a restart: the archive, not the memory of the running engine.
    let app = app.restart().await;
    let (status, answer) = give(&app, &token, &json!({"score": 4, "comment": "Kind staff"})).await;
    assert_eq!(status, 201, "{answer}");
    let app = app.restart().await;
    let (_, view) = app.get_json(&format!("/api/v1/status/{token}")).await;
    assert_eq!(view["state"], "done", "{view}");
    assert_eq!(view["feedback_given"], true, "{view}");
    let before = seq(&app).await;
    let (status, answer) = give(&app, &token, &json!({"score": 1})).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "feedback-given");
    assert_eq!(seq(&app).await, before);
    let feedback = first_day_feedback(&app).await;
    assert_eq!(feedback["total"]["count"], 1, "{feedback}");
    assert_eq!(feedback["total"]["mean"], 4.0, "{feedback}");
    let (_, list) = app
        .get_json("/api/v1/feedback?from=2026-11-22&to=2026-11-22")
        .await;
    assert_eq!(list["comments"][0]["comment"], "Kind staff", "{list}");
}

#[tokio::test]
async fn after_seven_days_or_without_a_visit_a_closed_days_ticket_takes_no_answer() {
    let app = TestApp::spawn().await;
    let early = served(&app).await;
    let late = served(&app).await;
    // Still waiting when the day closes: cancelled (unattended), never served.
    let left = token_of(&app.issue("general", "normal").await);
    let (_, ended) = app.get_json(&format!("/api/v1/status/{late}")).await;
    assert_eq!(ended["state"], "done");

    close_day(&app, "2026-11-22T08:30:00Z", "2026-11-22").await;
    let before = seq(&app).await;
    let (_, view) = app.get_json(&format!("/api/v1/status/{left}")).await;
    assert_eq!(view["state"], "cancelled", "{view}");
    assert_eq!(view["feedback_open"], false, "{view}");
    let (status, answer) = give(&app, &left, &json!({"score": 3})).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "feedback-too-early");
    assert_eq!(seq(&app).await, before, "a refused answer changed the log");

    // The last minute of the window: the first visit (ended 10:01:30) may still answer...
    close_day(&app, "2026-11-28T10:01:00Z", "2026-11-28").await;
    let (status, answer) = give(&app, &early, &json!({"score": 5})).await;
    assert_eq!(status, 201, "{answer}");
    // ...then, 7 days after its end, the second one (ended 10:03:00) no longer may.
    app.clock.set("2026-11-28T10:03:00.001Z".parse().unwrap());
    let before = seq(&app).await;
    let (status, answer) = give(&app, &late, &json!({"score": 5})).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "feedback-closed");
    assert_eq!(seq(&app).await, before, "a refused answer changed the log");
    let (status, view) = app.get_json(&format!("/api/v1/status/{late}")).await;
    assert_eq!(status, 404, "the link has ended: {view}");
    let feedback = first_day_feedback(&app).await;
    assert_eq!(feedback["total"]["count"], 1, "{feedback}");
    assert_eq!(feedback["total"]["mean"], 5.0, "{feedback}");
}
