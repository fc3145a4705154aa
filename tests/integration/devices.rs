//! Devices through the whole server: the device list, device status on the WebSocket, inputs
//! that cannot work here reported (never fatal), and the kiosk's printing over HTTP.

use serde_json::{Value, json};
use waitless::devices::spec::{InputAction, Level, PrinterUri, Pull};
use waitless::domain::RoomId;

use crate::common::{PATIENCE, TestApp, wait_until};

/// `GET /api/v1/devices`, as a list.
async fn devices(app: &TestApp) -> Vec<Value> {
    let (status, body) = app.get_json("/api/v1/devices").await;
    assert_eq!(status, 200, "{body}");
    body.as_array().cloned().expect("a list")
}

/// Polls the device list until `id` has `condition`.
async fn wait_condition(app: &TestApp, id: &str, condition: &str) -> Value {
    let what = format!("{id} to become {condition}");
    wait_until(PATIENCE, &what, async || {
        let list = devices(app).await;
        list.iter()
            .find(|d| d["id"] == id && d["condition"] == condition)
            .cloned()
            .ok_or_else(|| format!("{list:?}"))
    })
    .await
}

#[tokio::test]
async fn the_demo_has_a_fake_printer_that_is_ready() {
    let app = TestApp::spawn().await;
    let printer = wait_condition(&app, "printer", "ok").await;
    assert_eq!(printer["kind"], "printer");
    assert_eq!(printer["health"], "ok");
    // And the WebSocket lists it right after the snapshot.
    let mut ws = app.events("").await;
    assert_eq!(ws.next_json().await["type"], "snapshot");
    let listed = ws.next_device("printer", "ok").await;
    assert_eq!(listed["kind"], "printer");
}

#[tokio::test]
async fn without_a_printer_nothing_is_printed_and_the_list_has_no_printer() {
    let app = TestApp::spawn_with(|c| c.printer.uri = PrinterUri::None).await;
    assert!(devices(&app).await.iter().all(|d| d["id"] != "printer"));
    let (status, ticket) = app
        .call(
            "/api/v1/tickets",
            Some(json!({"service": "general", "source": "kiosk"})),
        )
        .await;
    assert_eq!(status, 201, "{ticket}");
    assert_eq!(ticket["print"], "no_printer");
    let (status, body) = app
        .call(&format!("/api/v1/tickets/{}/print", ticket["id"]), None)
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "no-printer");
}

#[tokio::test]
async fn gpio_buttons_off_a_pi_are_unavailable_and_the_queue_still_works() {
    let app = TestApp::spawn_with(|c| {
        c.gpio.buttons = vec![waitless::config::ButtonConfig {
            pin: 17,
            room: RoomId::parse("room-1").unwrap(),
            pull: Pull::Up,
            active: Level::Low,
            short: InputAction::Next,
            long: Some(InputAction::Recall),
            double: None,
        }];
        c.gpio.leds = vec![waitless::config::LedConfig {
            pin: 27,
            room: RoomId::parse("room-1").unwrap(),
        }];
    })
    .await;
    let button = wait_condition(&app, "button-17", "unavailable").await;
    assert_eq!(button["health"], "unavailable");
    assert!(
        button["detail"].as_str().unwrap().contains("GPIO"),
        "{button}"
    );
    assert_eq!(
        wait_condition(&app, "led-27", "unavailable").await["kind"],
        "led"
    );
    app.issue("general", "normal").await;
    let next = app.next("room-1").await;
    assert_eq!(next["called"]["number"], "A001");
}

#[tokio::test]
async fn a_missing_keypad_is_reported_not_found() {
    let app = TestApp::spawn_with(|c| {
        c.keys.devices = vec![waitless::config::KeypadConfig {
            device: "/dev/input/by-id/no-such-pedal".to_owned(),
            grab: true,
            keys: [("KEY_B".parse().unwrap(), "room-1:next".parse().unwrap())].into(),
        }];
    })
    .await;
    let keypad = wait_condition(&app, "keypad-0", "not-found").await;
    assert_eq!(keypad["kind"], "keypad");
    assert_eq!(keypad["health"], "error");
}

#[tokio::test]
async fn reception_tickets_print_only_when_asked_and_a_replay_prints_once() {
    let app = TestApp::spawn().await;
    let (_, plain) = app
        .call(
            "/api/v1/tickets",
            Some(json!({"service": "general", "source": "reception"})),
        )
        .await;
    assert!(plain.get("print").is_none(), "{plain}");
    let (_, printed) = app
        .call(
            "/api/v1/tickets",
            Some(json!({"service": "general", "source": "reception", "print": true, "lang": "hi"})),
        )
        .await;
    assert_eq!(printed["print"], "queued", "{printed}");
    // The same Idempotency-Key again: the same ticket, no second print.
    for _ in 0..2 {
        let r = app
            .client
            .post(app.url("/api/v1/tickets"))
            .header("Idempotency-Key", "kiosk-abc")
            .json(&json!({"service": "lab", "source": "kiosk"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let jobs = fake_jobs(&app, 2).await;
    let labels: Vec<&str> = jobs.iter().map(|j| j["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["ticket A002", "ticket L001"]);
    // Printed in Hindi: the Hindi lines are images, the number is big text.
    let hindi = &jobs[0]["blocks"];
    assert!(has_big_number(hindi, "A002"), "{hindi}");
    assert!(
        hindi
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["kind"] == "image"
                && b["src"]
                    .as_str()
                    .unwrap()
                    .starts_with("data:image/png;base64,")),
        "{hindi}"
    );
    // The kiosk's ticket (English by default): its QR code leads to the patient's page.
    let (_, kiosk) = app.get_json("/api/v1/tickets/3").await;
    let english = &jobs[1]["blocks"];
    assert!(has_big_number(english, "L001"), "{english}");
    let qr = english
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["kind"] == "qr")
        .unwrap_or_else(|| panic!("no QR in {english}"));
    assert_eq!(
        qr["data"],
        app.url(kiosk["status_path"].as_str().unwrap()),
        "{qr}"
    );
    assert!(
        qr["src"]
            .as_str()
            .unwrap()
            .starts_with("data:image/svg+xml")
    );
    assert_eq!(english.as_array().unwrap().last().unwrap()["kind"], "cut");
    assert!(
        !english
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["kind"] == "image"),
        "an English ticket needs no images: {english}"
    );
}

/// The blocks have `number` as text at least four times the normal size.
fn has_big_number(blocks: &Value, number: &str) -> bool {
    blocks
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b["kind"] == "text" && b["text"] == number && b["height"].as_u64().unwrap() >= 4)
}

#[tokio::test]
async fn a_finished_ticket_cannot_be_reprinted_but_a_waiting_one_can() {
    let app = TestApp::spawn().await;
    let ticket = app.issue("general", "normal").await;
    let id = &ticket["id"];
    let (status, body) = app
        .call(
            &format!("/api/v1/tickets/{id}/print"),
            Some(json!({"lang": "en"})),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["print"], "queued");
    assert_eq!(body["printer"]["id"], "printer");
    app.call(&format!("/api/v1/tickets/{id}/cancel"), None)
        .await;
    let (status, body) = app.call(&format!("/api/v1/tickets/{id}/print"), None).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "not-printable");
    let (status, body) = app
        .call(
            &format!("/api/v1/tickets/{id}/print"),
            Some(json!({"lang": 5})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = app.call("/api/v1/tickets/999/print", None).await;
    assert_eq!(status, 404);
    assert_eq!(fake_jobs(&app, 1).await.len(), 1);
}

/// The fake printer's jobs, once there are `n`.
pub async fn fake_jobs(app: &TestApp, n: usize) -> Vec<Value> {
    wait_until(PATIENCE, &format!("{n} printer jobs"), async || {
        let (status, body) = app.get_json("/api/v1/devices/printer/jobs").await;
        assert_eq!(status, 200, "{body}");
        let jobs = body.as_array().cloned().unwrap();
        if jobs.len() >= n {
            Ok(jobs)
        } else {
            Err(format!("only {} jobs: {jobs:?}", jobs.len()))
        }
    })
    .await
}

#[tokio::test]
async fn paper_out_is_pushed_to_screens_and_the_kiosk_still_issues_then_prints_when_paper_is_back()
{
    use crate::printer::FakeTcpPrinter;
    use waitless::devices::printer::PrinterState;
    use waitless::devices::printer::decode::text_lines;

    let printer = FakeTcpPrinter::start();
    let app = TestApp::spawn_with(|c| {
        c.printer.uri = printer.uri().parse().unwrap();
        c.printer.status_poll_secs = 1;
        c.printer.retry_secs = 1;
    })
    .await;
    let mut ws = app.events("").await;
    ws.next_device("printer", "ok").await;

    printer.set_state(PrinterState::PaperOut);
    let out = ws.next_device("printer", "paper-out").await;
    assert_eq!(out["health"], "error");

    let (status, ticket) = app
        .call(
            "/api/v1/tickets",
            Some(json!({"service": "general", "source": "kiosk"})),
        )
        .await;
    assert_eq!(status, 201, "{ticket}");
    assert_eq!(ticket["number"], "A001");
    assert_eq!(ticket["print"], "delayed");
    let (_, list) = app.get_json("/api/v1/devices").await;
    let waiting = list
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "printer")
        .cloned()
        .unwrap();
    assert_eq!(waiting["condition"], "paper-out");
    assert!(printer.printouts().is_empty(), "printed without paper");

    printer.set_state(PrinterState::Ready);
    ws.next_device("printer", "ok").await;
    wait_until(
        crate::printer::PATIENCE,
        "the ticket printed after new paper",
        async || printer.printouts().len() == 1,
    )
    .await;
    let lines = text_lines(&printer.printouts()[0]);
    assert!(
        lines.iter().any(|l| l.text == "A001" && l.height >= 4),
        "{lines:?}"
    );
}
