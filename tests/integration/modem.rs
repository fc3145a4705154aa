//! The GSM modem transport against a fake modem on a pseudo-terminal that speaks AT
//! (`common::modem::FakeModem`): message references and delivery reports (stored, and as
//! `+CDS:` lines), replies read once and deleted, health (signal, registration, SIM), the
//! watchdog that restarts a modem that stops answering; and, through the whole appliance, a
//! patient's "बंद" reply stopping their messages.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use waitless::clock::ManualClock;
use waitless::domain::notification::is_stop;
use waitless::notify::modem::{GsmModem, SILENT_LIMIT};
use waitless::notify::transport::{Incoming, Outgoing, SendError, Transport, TransportHealth};

use crate::common::modem::{FakeModem, Reports, decode_submit, deliver};
use crate::common::{PATIENCE, START, TestApp, wait_until};

/// How long the modem under test waits for an answer (5 s in service).
const QUICK: Duration = Duration::from_millis(300);

fn modem_on(path: &str) -> GsmModem {
    GsmModem::new(path, &ManualClock::new(START.parse().unwrap())).with_patience(QUICK)
}

fn message(to: &str, body: &str) -> Outgoing {
    Outgoing {
        to: to.to_owned(),
        subject: String::new(),
        body: body.to_owned(),
    }
}

fn reading(health: &TransportHealth, name: &str) -> String {
    health
        .readings
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no reading {name} in {health:?}"))
}

#[test]
fn a_sent_message_asks_for_a_report_and_its_stored_report_says_delivered_once() {
    let fake = FakeModem::start();
    let mut modem = modem_on(&fake.path);
    let sent = modem
        .send(&message("+91 98450 12345", "Token A1: please go to room 2"))
        .unwrap();
    let reference = sent.reference.unwrap();
    assert!(reference.starts_with("41:"), "{reference}");
    assert!(!reference.contains("98450"), "{reference}");
    let pdu = &fake.pdus()[0];
    // After the empty service centre (00): SMS-SUBMIT asking for a status report.
    assert_eq!(&pdu[2..4], "21", "{pdu}");
    assert_eq!(
        decode_submit(pdu),
        (
            "+919845012345".to_owned(),
            "Token A1: please go to room 2".to_owned()
        )
    );
    assert_eq!(fake.count("AT+CNMI=2,1,0,2,0"), 1);
    assert_eq!(fake.stored(), 1, "the report waits in the modem");

    assert_eq!(
        modem.poll(),
        vec![Incoming::Delivered {
            reference,
            delivered: true,
            detail: "received by the phone".to_owned()
        }]
    );
    assert_eq!(fake.stored(), 0, "read and deleted");
    assert_eq!(modem.poll(), vec![]);

    let health = modem.health().unwrap();
    assert!(health.ok, "{health:?}");
    assert_eq!(health.detail, "registered (home), signal 18/31");
    assert_eq!(reading(&health, "operator"), "Airtel");
    assert_eq!(reading(&health, "sim"), "ready");
    assert_eq!(reading(&health, "reports"), "stored");
    assert_eq!(reading(&health, "resets"), "0");
}

#[test]
fn a_long_message_is_known_by_its_last_part_and_a_failed_report_says_why() {
    let fake = FakeModem::start();
    fake.set_report_status(0x46);
    let mut modem = modem_on(&fake.path);
    let text = "टोकन A7: कृपया अभी कमरा 2 में जाएँ। ".repeat(4);
    let reference = modem
        .send(&message("+91 98450 12345", &text))
        .unwrap()
        .reference
        .unwrap();
    assert_eq!(fake.pdus().len(), 3);
    for pdu in fake.pdus() {
        // SMS-SUBMIT with a header and a status report request.
        assert_eq!(&pdu[2..4], "61", "{pdu}");
    }
    assert!(reference.starts_with("43:"), "{reference}");
    let heard = modem.poll();
    assert_eq!(heard.len(), 3, "{heard:?}");
    assert_eq!(
        heard[2],
        Incoming::Delivered {
            reference,
            delivered: false,
            detail: "validity period expired".to_owned()
        }
    );
    assert_eq!(fake.stored(), 0);
}

#[test]
fn a_modem_that_will_not_store_reports_is_heard_through_its_cds_lines() {
    let fake = FakeModem::start();
    fake.set_reports(Reports::Direct);
    let mut modem = modem_on(&fake.path);
    let reference = modem
        .send(&message("98450 67890", "Your token is A2."))
        .unwrap()
        .reference
        .unwrap();
    assert_eq!(fake.count("AT+CNMI=2,1,0,1,0"), 1, "{:?}", fake.commands());
    assert_eq!(fake.stored(), 0);
    // The modem writes the `+CDS:` report on the line at its next answer.
    assert_eq!(
        modem.poll(),
        vec![Incoming::Delivered {
            reference,
            delivered: true,
            detail: "received by the phone".to_owned()
        }]
    );
    assert_eq!(modem.poll(), vec![]);
    assert_eq!(reading(&modem.health().unwrap(), "reports"), "direct");
}

#[test]
fn stored_replies_are_decoded_heard_once_and_deleted() {
    let fake = FakeModem::start();
    fake.receive(&deliver("+919845012345", "बंद"));
    fake.receive(&deliver("+919845067890", "STOP"));
    fake.receive(&deliver("9845011111", "Thank you"));
    let mut modem = modem_on(&fake.path);
    let heard = modem.poll();
    let replies: Vec<(String, String)> = heard
        .iter()
        .map(|i| match i {
            Incoming::Reply { from, text } => (from.clone(), text.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        replies,
        [
            ("+919845012345", "बंद"),
            ("+919845067890", "STOP"),
            ("9845011111", "Thank you")
        ]
        .map(|(f, t)| (f.to_owned(), t.to_owned()))
    );
    assert!(is_stop(&replies[0].1) && is_stop(&replies[1].1));
    assert!(!is_stop(&replies[2].1));
    assert_eq!(fake.count("AT+CMGD="), 3);
    assert_eq!(fake.stored(), 0);
    assert_eq!(modem.poll(), vec![], "a reply is heard once");
}

#[test]
fn a_modem_that_stops_answering_is_restarted_after_three_silences_and_health_says_so() {
    assert_eq!(SILENT_LIMIT, 3);
    let fake = FakeModem::start();
    let mut modem = modem_on(&fake.path);
    assert!(modem.poll().is_empty());
    assert!(modem.health().unwrap().ok);

    fake.hang();
    let started = Instant::now();
    assert!(modem.poll().is_empty());
    assert!(started.elapsed() < QUICK * 4, "{:?}", started.elapsed());
    let health = modem.health().unwrap();
    assert!(!health.ok);
    assert_eq!(health.detail, "no answer (1 time in a row)");
    // A send meanwhile fails soon (to be tried again) and counts as a silence.
    let started = Instant::now();
    let failed = modem.send(&message("+91 98450 12345", "Token A3"));
    assert!(
        matches!(&failed, Err(SendError::Temporary(why)) if why.contains("no answer")),
        "{failed:?}"
    );
    assert!(started.elapsed() < QUICK * 4, "{:?}", started.elapsed());
    assert_eq!(
        modem.health().unwrap().detail,
        "no answer (2 times in a row)"
    );
    assert_eq!(fake.count("AT+CFUN"), 0);

    // The third: restarted.
    assert!(modem.poll().is_empty());
    assert_eq!(fake.count("AT+CFUN=1,1"), 1);
    assert!(!fake.hung());
    let health = modem.health().unwrap();
    assert!(!health.ok);
    assert_eq!(health.detail, "no answer: modem reset 1 time");
    assert_eq!(reading(&health, "resets"), "1");

    // The next poll finds it well, and messages go again.
    assert!(modem.poll().is_empty());
    let health = modem.health().unwrap();
    assert!(health.ok, "{health:?}");
    assert_eq!(health.detail, "registered (home), signal 18/31");
    assert_eq!(reading(&health, "resets"), "1");
    assert!(modem.send(&message("+91 98450 12345", "Token A3")).is_ok());
}

#[test]
fn a_modem_refusing_a_full_restart_gets_atz() {
    let fake = FakeModem::start();
    let mut modem = modem_on(&fake.path);
    fake.hang_refusing_cfun();
    for _ in 0..SILENT_LIMIT {
        assert!(modem.poll().is_empty());
    }
    assert_eq!(fake.count("AT+CFUN=1,1"), 1);
    assert_eq!(fake.count("ATZ"), 1);
    assert!(!fake.hung());
    assert_eq!(reading(&modem.health().unwrap(), "resets"), "1");
    assert!(modem.poll().is_empty());
    assert!(modem.health().unwrap().ok);
}

#[test]
fn a_modem_without_a_sim_card_is_not_healthy() {
    let fake = FakeModem::start();
    fake.set_sim(false);
    let mut modem = modem_on(&fake.path);
    assert_eq!(
        modem.health().unwrap().detail,
        "not checked yet",
        "before the first poll"
    );
    assert!(modem.poll().is_empty());
    let health = modem.health().unwrap();
    assert!(!health.ok);
    assert_eq!(health.detail, "no SIM card");
    assert_eq!(reading(&health, "sim"), "absent");
    assert!(matches!(
        modem.send(&message("+91 98450 12345", "Token A4")),
        Err(SendError::Temporary(_))
    ));
    // The card goes back in: well at the next poll.
    fake.set_sim(true);
    assert!(modem.poll().is_empty());
    assert!(modem.health().unwrap().ok);
}

#[test]
fn a_port_that_cannot_be_opened_is_not_healthy_and_says_why() {
    let mut modem = modem_on("/dev/waitless-no-such-modem");
    assert!(modem.poll().is_empty());
    let health = modem.health().unwrap();
    assert!(!health.ok);
    assert!(
        health
            .detail
            .starts_with("cannot open /dev/waitless-no-such-modem"),
        "{health:?}"
    );
    let failed = modem.send(&message("+91 98450 12345", "Token A5"));
    assert!(
        matches!(&failed, Err(SendError::Temporary(why)) if why.contains("cannot open")),
        "{failed:?}"
    );
}

async fn outbox(app: &TestApp) -> Value {
    let (status, page) = app.get_json("/api/v1/notifications").await;
    assert_eq!(status, 200, "{page}");
    page
}

#[tokio::test]
async fn a_hindi_stop_reply_through_the_modem_stops_messages_and_reports_mark_rows_delivered() {
    let fake = FakeModem::start();
    let path = fake.path.clone();
    let app = TestApp::spawn_with(|c| {
        c.notify.sms = format!("modem:{path}");
        c.notify.poll_secs = 1;
    })
    .await;
    let (status, ticket) = app
        .call(
            "/api/v1/tickets",
            Some(json!({"service": "general", "source": "reception",
                        "patient": {"phone": "+91 98450 12345", "language": "hi"}})),
        )
        .await;
    assert_eq!(status, 201, "{ticket}");
    // Sent, then its report comes back on a poll: the row is delivered.
    let row = wait_until(PATIENCE, "the issued message delivered", async || {
        let row = outbox(&app).await["notifications"][0].clone();
        if row["delivery"] == "delivered" {
            Ok(row)
        } else {
            Err(row.to_string())
        }
    })
    .await;
    assert_eq!(row["state"], "sent", "{row}");
    assert!(
        row["reference"].as_str().unwrap().starts_with("41:"),
        "{row}"
    );

    // The patient answers "बंद" (stop): read, deleted, and no message goes to them again.
    fake.receive(&deliver("+919845012345", "बंद"));
    wait_until(PATIENCE, "the reply read", async || fake.stored() == 0).await;
    // One more poll after the one that read it, so the opt-out is surely recorded.
    let polls = fake.count("AT+CMGL=4");
    wait_until(PATIENCE, "another poll", async || {
        fake.count("AT+CMGL=4") > polls
    })
    .await;
    app.next("room-2").await;
    let row = wait_until(PATIENCE, "the call refused", async || {
        let row = outbox(&app).await["notifications"][0].clone();
        if row["state"] == "failed" {
            Ok(row)
        } else {
            Err(row.to_string())
        }
    })
    .await;
    assert_eq!(row["kind"], "called", "{row}");
    assert_eq!(row["last_error"], "the patient replied STOP");
    assert_eq!(fake.pdus().len(), 1, "nothing more went to the modem");
}
