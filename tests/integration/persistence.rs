//! What the database keeps across a restart (in-process, manual clock, fsync off): tickets,
//! calls, counters, rooms, idempotency keys, transfers, the undo window, the sequence and the
//! events a reconnecting display missed; a file from a newer waitless is refused; a day
//! rollover (with traffic or on the idle engine's timer) is kept with the event log whole.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use jiff::SignedDuration;
use serde_json::Value;
use waitless::clock::{Clock, ManualClock};
use waitless::domain::EventKind;
use waitless::store::{Store, StoreError, StoreOptions, codec};

use crate::common::{PATIENCE, TestApp, start, test_config, wait_until};

fn options() -> StoreOptions {
    StoreOptions {
        fsync: false,
        cache_bytes: 1024 * 1024,
    }
}

/// A TestApp whose data folder is `data` (owned by the test, so it outlives the app).
async fn spawn_in(data: &Path) -> TestApp {
    let data = data.to_owned();
    TestApp::spawn_with(move |c| c.data = data).await
}

/// Opens the store once the app that used it has let it go. `app::run` may return while actix
/// worker threads still hold the database (see `run_closes_the_database_before_it_returns`), so
/// this polls, with a deadline, while the database is "in use".
async fn open_when_released(data: &Path) -> Store {
    let path = data.join("waitless.redb");
    wait_until(
        PATIENCE,
        "the database to be released",
        async || match Store::open(&path, &options()) {
            Ok(store) => Ok(store),
            Err(e @ StoreError::InUse(_)) => Err(e),
            Err(e) => panic!("cannot open {}: {e}", path.display()),
        },
    )
    .await
}

/// `TestApp::restart` on a folder the test owns: stops `app`, waits until the database is
/// released, and starts a new app on `data` at the same time of the (manual) clock.
async fn restart(app: TestApp, data: &Path) -> TestApp {
    let now = app.clock.now();
    app.stop().await.unwrap();
    drop(open_when_released(data).await);
    let app = spawn_in(data).await;
    app.clock.set(now);
    app
}

async fn seq(app: &TestApp) -> u64 {
    app.queue().await["seq"].as_u64().unwrap()
}

#[tokio::test]
async fn tickets_calls_counters_and_rooms_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_in(dir.path()).await;
    let a1 = app.issue("general", "normal").await;
    let a2 = app.issue("general", "priority").await;
    let l1 = app.issue("lab", "normal").await;
    let called = app.next("room-1").await;
    assert_eq!(called["called"]["id"], a2["id"], "priority first");
    let (status, closed) = app.call("/api/v1/rooms/lab/close", None).await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["open"], false);
    let seq_before = seq(&app).await;

    let app = restart(app, dir.path()).await;

    assert_eq!(seq(&app).await, seq_before, "the sequence is kept");
    let t = app.ticket(&a1["id"]).await;
    assert_eq!(
        (t["number"].as_str(), t["state"].as_str()),
        (Some("A001"), Some("waiting"))
    );
    let t = app.ticket(&a2["id"]).await;
    assert_eq!(
        (t["number"].as_str(), t["state"].as_str()),
        (Some("A002"), Some("called"))
    );
    assert_eq!(t["room"], "room-1");
    assert_eq!(t["priority"], "priority");
    let t = app.ticket(&l1["id"]).await;
    assert_eq!(
        (t["number"].as_str(), t["state"].as_str()),
        (Some("L001"), Some("waiting"))
    );

    let room1 = app.room("room-1").await;
    assert_eq!(room1["serving"]["id"], a2["id"], "{room1}");
    assert_eq!(room1["open"], true);
    assert_eq!(app.room("lab").await["open"], false);
    let waiting: Vec<Value> = app.queue().await["waiting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].clone())
        .collect();
    assert_eq!(waiting, [a1["id"].clone(), l1["id"].clone()]);

    // Counters and the sequence go on where they were.
    let a3 = app.issue("general", "normal").await;
    assert_eq!(a3["number"], "A003");
    assert!(a3["id"].as_u64() > l1["id"].as_u64());
    assert_eq!(app.issue("lab", "normal").await["number"], "L002");
    assert_eq!(seq(&app).await, seq_before + 2);

    // The room's call goes on too: past the debounce window, "next" finishes A002 and calls A001.
    app.advance(SignedDuration::from_secs(5));
    let next = app.next("room-1").await;
    assert_eq!(next["finished"]["id"], a2["id"], "{next}");
    assert_eq!(next["finished"]["state"], "done");
    assert_eq!(next["called"]["id"], a1["id"], "{next}");
}

#[tokio::test]
async fn events_since_are_replayed_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_in(dir.path()).await;
    let seen = seq(&app).await;
    let a1 = app.issue("general", "normal").await;
    let called = app.next("room-1").await;
    assert_eq!(called["called"]["id"], a1["id"]);
    let l1 = app.issue("lab", "normal").await;

    let app = restart(app, dir.path()).await;

    // A display that saw `seen` before the restart gets exactly what it missed, no snapshot.
    let mut ws = app.events(&format!("?since={seen}")).await;
    let mut replayed = Vec::new();
    for _ in 0..3 {
        let msg = ws.next_json().await;
        assert_eq!(msg["type"], "event", "a replay, not a snapshot: {msg}");
        replayed.push(msg["event"].clone());
    }
    let seqs: Vec<u64> = replayed
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [seen + 1, seen + 2, seen + 3]);
    let kinds: Vec<&str> = replayed
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["ticket_issued", "room_next", "ticket_issued"]);
    assert_eq!(replayed[0]["ticket"]["id"], a1["id"]);
    assert_eq!(replayed[2]["ticket"]["id"], l1["id"]);

    // Then the live events, numbered on.
    let a2 = app.issue("general", "normal").await;
    let live = ws.next_event("ticket_issued").await;
    assert_eq!(live["seq"].as_u64(), Some(seen + 4));
    assert_eq!(live["ticket"]["id"], a2["id"]);
}

#[test]
fn store_refuses_a_newer_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("waitless.redb");
    let store = Store::open(&path, &options()).unwrap();
    store.force_schema_version(99).unwrap();
    drop(store);

    for _ in 0..2 {
        let err = Store::open(&path, &options()).unwrap_err();
        match &err {
            StoreError::TooNew {
                found, supported, ..
            } => {
                assert_eq!(*found, 99);
                assert_eq!(*supported, waitless::store::schema::SCHEMA_VERSION);
            }
            other => panic!("expected TooNew, got {other:?}"),
        }
        let message = err.to_string();
        assert!(message.contains("99"), "{message}");
        assert!(message.contains("upgrade"), "{message}");
        assert!(message.contains(path.to_str().unwrap()), "{message}");
    }
}

#[test]
fn start_refuses_a_database_from_a_newer_waitless() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path());
    let path = config.database_path();
    // A real database with a ticket, then marked as written by a newer waitless.
    let store = {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let app = spawn_in(dir.path()).await;
            app.issue("general", "normal").await;
            app.stop().await.unwrap();
            open_when_released(dir.path()).await
        })
    };
    store.force_schema_version(99).unwrap();
    drop(store);

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let clock = ManualClock::new(start());
    let result = actix_rt::System::new().block_on(waitless::app::run(
        config,
        listener,
        Arc::new(clock),
        std::future::pending::<()>(),
    ));
    let err = result.expect_err("a database from a newer waitless must be refused");
    let message = format!("{err:#}");
    assert!(message.contains("schema version 99"), "{message}");
    assert!(message.contains("upgrade"), "{message}");
    assert!(message.contains(path.to_str().unwrap()), "{message}");

    // Refused, not touched: still version 99.
    assert!(matches!(
        Store::open(&path, &options()),
        Err(StoreError::TooNew { found: 99, .. })
    ));
}

#[tokio::test]
async fn day_rollover_is_kept_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_in(dir.path()).await;
    let a1 = app.issue("general", "normal").await;
    let a2 = app.issue("general", "normal").await;
    let l1 = app.issue("lab", "normal").await;
    app.next("room-1").await;
    let (_, health) = app.get_json("/healthz").await;
    assert_eq!(health["day"], "2026-11-21");

    // 10:00 + 19 h = 05:00 the next day, past the 04:00 day start.
    app.advance(SignedDuration::from_hours(19));
    let new_a1 = app.issue("general", "normal").await;
    assert_eq!(new_a1["number"], "A001", "numbers restart on a new day");
    assert_eq!(new_a1["day"], "2026-11-22");
    assert!(
        new_a1["id"].as_u64() > l1["id"].as_u64(),
        "ids are never reused"
    );
    let seq_before = seq(&app).await;

    let app = restart(app, dir.path()).await;

    let (_, health) = app.get_json("/healthz").await;
    assert_eq!(health["day"], "2026-11-22");
    assert_eq!(seq(&app).await, seq_before);
    // Yesterday's tickets are archived, still readable, closed by the day's end.
    let t = app.ticket(&a1["id"]).await;
    assert_eq!(t["number"], "A001");
    assert_eq!(t["day"], "2026-11-21");
    assert_eq!(t["state"], "done", "called at the day's end: done {t}");
    for old in [&a2, &l1] {
        let t = app.ticket(&old["id"]).await;
        assert_eq!(t["number"], old["number"]);
        assert_eq!(t["day"], "2026-11-21");
        assert_eq!(t["state"], "cancelled", "{t}");
        assert_eq!(t["cancel_reason"], "unattended", "{t}");
    }
    let waiting: Vec<Value> = app.queue().await["waiting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].clone())
        .collect();
    assert_eq!(waiting, [new_a1["id"].clone()]);
    assert_eq!(app.room("room-1").await["serving"], Value::Null);

    // Numbering goes on from today's counter, not yesterday's.
    assert_eq!(app.issue("general", "normal").await["number"], "A002");
    assert_eq!(app.issue("lab", "normal").await["number"], "L001");
    let last_seq = seq(&app).await;
    app.stop().await.unwrap();

    // The event log is whole: 1..=last_seq without a gap, with the seed and one day close.
    let store = open_when_released(dir.path()).await;
    assert_eq!(store.event_count().unwrap(), last_seq);
    let events = store.events_after(0, usize::MAX).unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=last_seq).collect::<Vec<_>>());
    assert!(matches!(events[0].kind, EventKind::ClinicSeeded { .. }));
    let closes: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::DayClosed {
                day,
                new_day,
                closed,
            } => Some((day.to_string(), new_day.to_string(), closed.len())),
            _ => None,
        })
        .collect();
    assert_eq!(
        closes,
        [("2026-11-21".to_owned(), "2026-11-22".to_owned(), 3)]
    );
    let issued = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::TicketIssued { .. }))
        .count();
    assert_eq!(issued, 6);
}

/// Issues a general ticket with an Idempotency-Key; returns (status, replayed header, body).
async fn issue_with_key(app: &TestApp, key: &str) -> (u16, bool, Value) {
    let r = app
        .client
        .post(app.url("/api/v1/tickets"))
        .header("Idempotency-Key", key)
        .json(&serde_json::json!({"service": "general", "source": "kiosk"}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let replayed = r
        .headers()
        .get("idempotency-replayed")
        .is_some_and(|v| v == "true");
    (status, replayed, r.json().await.unwrap())
}

#[tokio::test]
async fn idempotency_keys_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_in(dir.path()).await;
    let (status, replayed, first) = issue_with_key(&app, "kiosk-1-tap-42").await;
    assert_eq!((status, replayed), (201, false), "{first}");

    let app = restart(app, dir.path()).await;

    // The kiosk retries the same tap after the restart: the same ticket, not a second one.
    let (status, replayed, again) = issue_with_key(&app, "kiosk-1-tap-42").await;
    assert_eq!((status, replayed), (201, true), "{again}");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["number"], first["number"]);
    assert_eq!(app.queue().await["waiting"].as_array().unwrap().len(), 1);
    let (_, _, other) = issue_with_key(&app, "kiosk-1-tap-43").await;
    assert_eq!(other["number"], "A002");
}

#[tokio::test]
async fn idle_day_close_is_committed_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_in(dir.path()).await;
    let old = app.issue("general", "normal").await;
    let seq_before = seq(&app).await;

    // Past 04:00 the next day with nobody pressing anything: the engine closes the day itself.
    app.advance(SignedDuration::from_hours(19));
    wait_until(PATIENCE, "the idle engine to close the day", async || {
        let (_, health) = app.get_json("/healthz").await;
        if health["day"] == "2026-11-22" {
            Ok(())
        } else {
            Err(health)
        }
    })
    .await;
    assert_eq!(seq(&app).await, seq_before + 1, "one day_closed event");

    let app = restart(app, dir.path()).await;

    let (_, health) = app.get_json("/healthz").await;
    assert_eq!(health["day"], "2026-11-22");
    let t = app.ticket(&old["id"]).await;
    assert_eq!(t["state"], "cancelled", "{t}");
    assert_eq!(t["cancel_reason"], "unattended", "{t}");
    assert!(app.queue().await["waiting"].as_array().unwrap().is_empty());
    assert_eq!(app.issue("general", "normal").await["number"], "A001");
    app.stop().await.unwrap();

    let store = open_when_released(dir.path()).await;
    assert_eq!(store.event_count().unwrap(), seq_before + 2);
}

#[tokio::test]
async fn transfers_and_the_undo_window_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_in(dir.path()).await;
    let a1 = app.issue("general", "normal").await;
    let a2 = app.issue("general", "normal").await;
    assert_eq!(app.next("room-1").await["called"]["id"], a1["id"]);
    let (status, moved) = app
        .call(
            &format!("/api/v1/tickets/{}/transfer", a1["id"]),
            Some(serde_json::json!({"service": "lab"})),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    let to = moved["to"].clone();
    app.advance(SignedDuration::from_secs(5));
    assert_eq!(app.next("room-1").await["called"]["id"], a2["id"]);

    let app = restart(app, dir.path()).await;

    let from = app.ticket(&a1["id"]).await;
    assert_eq!(from["state"], "transferred");
    assert_eq!(from["transferred_to"], to["id"]);
    let t = app.ticket(&to["id"]).await;
    assert_eq!(
        (
            t["number"].as_str(),
            t["service"].as_str(),
            t["state"].as_str()
        ),
        (Some("A001"), Some("lab"), Some("waiting"))
    );
    assert_eq!(t["transferred_from"], a1["id"]);

    // Still inside the undo window after the restart: the call of A002 is taken back.
    let (status, undone) = app.call("/api/v1/rooms/room-1/undo", None).await;
    assert_eq!(status, 200, "{undone}");
    assert_eq!(undone["restored"][0]["id"], a2["id"], "{undone}");
    let t = app.ticket(&a2["id"]).await;
    assert_eq!(t["state"], "waiting");
    assert_eq!(t["position"], 0);
    assert_eq!(app.room("room-1").await["serving"], Value::Null);
}

#[tokio::test]
async fn run_closes_the_database_before_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("waitless.redb");
    // The race is narrow: one stop in a few dozen loses it.
    for round in 0..100 {
        let app = spawn_in(dir.path()).await;
        app.issue("general", "normal").await;
        app.stop().await.unwrap();
        // Once run has returned, nothing of that waitless may hold the file.
        if let Err(e) = Store::open(&path, &options()) {
            panic!("round {round}: the stopped waitless still holds the database: {e}");
        }
    }
}

/// What `/healthz` says of the audit trail once its check after start has ended.
async fn audit_checked(app: &TestApp) -> (u16, Value) {
    wait_until(PATIENCE, "the audit trail's check", async || {
        let (status, health) = app.get_json("/healthz").await;
        if health["audit"] == "checking" {
            Err(health)
        } else {
            Ok((status, health))
        }
    })
    .await
}

#[tokio::test]
async fn a_ticket_edited_in_the_file_is_reported_by_healthz_and_admin_after_start() {
    use redb::{ReadableDatabase, ReadableTable};
    use waitless::store::tables::{EVENTS, TICKETS};

    let dir = tempfile::tempdir().unwrap();
    let app = spawn_in(dir.path()).await;
    app.issue("general", "normal").await;
    app.issue("general", "normal").await;
    let third = app.issue("general", "normal").await;
    let (status, health) = audit_checked(&app).await;
    assert_eq!((status, &health["audit"]), (200, &Value::from("intact")));
    let (_, admin) = app.get_json("/api/v1/admin/clinic").await;
    assert_eq!(admin["audit"]["state"], "intact", "{admin}");
    app.stop().await.unwrap();

    // Someone with the file gives ticket A003 the number A002, in its row and its event.
    let store = open_when_released(dir.path()).await;
    let path = store.path().to_owned();
    store.close().unwrap();
    let db = redb::Database::open(&path).unwrap();
    let edited_seq = {
        let read = db.begin_read().unwrap();
        let events = read.open_table(EVENTS).unwrap();
        events
            .iter()
            .unwrap()
            .map(|row| row.unwrap())
            .find(|(_, v)| {
                let json = codec::unpack(v.value(), "event").unwrap();
                String::from_utf8_lossy(&json).contains("\"number\":\"A003\"")
            })
            .map(|(k, _)| k.value())
            .expect("the event that issued A003")
    };
    let txn = db.begin_write().unwrap();
    {
        let id = third["id"].as_u64().unwrap();
        let mut tickets = txn.open_table(TICKETS).unwrap();
        let row = String::from_utf8(tickets.get(id).unwrap().unwrap().value().to_vec()).unwrap();
        let row = row.replace("\"A003\"", "\"A002\"");
        tickets.insert(id, row.as_bytes()).unwrap();
        let mut events = txn.open_table(EVENTS).unwrap();
        let event = codec::unpack(events.get(edited_seq).unwrap().unwrap().value(), "event")
            .unwrap()
            .into_owned();
        let event = String::from_utf8(event).unwrap();
        let event = event.replace("\"A003\"", "\"A002\"");
        events.insert(edited_seq, event.as_bytes()).unwrap();
    }
    txn.commit().unwrap();
    drop(db);

    // It starts (the clinic must keep working), and says so.
    let app = spawn_in(dir.path()).await;
    let (status, health) = audit_checked(&app).await;
    assert_eq!(
        status, 200,
        "a broken chain is no reason to restart: {health}"
    );
    assert_eq!(
        health["audit"],
        format!("broken at event {edited_seq}"),
        "{health}"
    );
    assert_eq!(health["database"], "ok");
    let (_, admin) = app.get_json("/api/v1/admin/clinic").await;
    assert_eq!(admin["audit"]["state"], "broken", "{admin}");
    assert_eq!(admin["audit"]["at"], edited_seq, "{admin}");
    assert!(
        admin["audit"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("changed")),
        "{admin}"
    );
}

/// The event log and the closed day's tickets are written packed (a zstd frame each, with
/// the store's dictionary): a fraction of their JSON, read back whole, and the audit trail's
/// hash chain still holds over their JSON.
#[tokio::test]
async fn the_event_log_and_the_archive_are_kept_packed_and_read_back_whole() {
    use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};
    use waitless::store::tables::{EVENTS, TICKET_ARCHIVE};

    let dir = tempfile::tempdir().unwrap();
    let app = spawn_in(dir.path()).await;
    let mut issued = Vec::new();
    for i in 0..40 {
        let service = if i % 4 == 0 { "lab" } else { "general" };
        let class = ["normal", "normal", "priority", "urgent"][i % 4];
        issued.push(app.issue(service, class).await);
        if i % 3 == 0 {
            app.advance(SignedDuration::from_secs(5));
            app.next("room-1").await;
        }
    }
    let (status, _) = app.call("/api/v1/rooms/room-1/recall", None).await;
    assert_eq!(status, 200);
    let (status, body) = app.call("/api/v1/rooms/room-1/no-show", None).await;
    assert_eq!(status, 200, "{body}");
    // past the day start: the day closes, its tickets go to the archive
    app.advance(SignedDuration::from_hours(19));
    app.issue("general", "normal").await;
    let archived = app.ticket(&issued[5]["id"]).await;
    assert_eq!(archived["number"], issued[5]["number"]);
    let last_seq = seq(&app).await;
    app.stop().await.unwrap();

    let store = open_when_released(dir.path()).await;
    let decoded = store.events_after(0, usize::MAX).unwrap();
    assert_eq!(decoded.len() as u64, last_seq);
    assert!(store.verify_chain().unwrap().is_ok());
    let path = store.path().to_owned();
    store.close().unwrap();

    let db = redb::Database::open(&path).unwrap();
    let read = db.begin_read().unwrap();
    let (mut json_bytes, mut packed_bytes) = (0, 0);
    let events = read.open_table(EVENTS).unwrap();
    for (row, event) in events.iter().unwrap().zip(&decoded) {
        let (seq, v) = row.unwrap();
        assert!(
            codec::is_packed(v.value()),
            "event {} is not packed",
            seq.value()
        );
        let json = codec::unpack(v.value(), "event").unwrap();
        // byte for byte the JSON the API gives (the bytes the hash chain is over)
        assert_eq!(&*json, serde_json::to_vec(event).unwrap().as_slice());
        json_bytes += json.len();
        packed_bytes += v.value().len();
    }
    let archive = read.open_table(TICKET_ARCHIVE).unwrap();
    assert_eq!(archive.len().unwrap(), 40, "yesterday's tickets");
    for row in archive.iter().unwrap() {
        let (id, v) = row.unwrap();
        assert!(
            codec::is_packed(v.value()),
            "ticket {} is not packed",
            id.value()
        );
        json_bytes += codec::unpack(v.value(), "ticket").unwrap().len();
        packed_bytes += v.value().len();
    }
    assert!(
        packed_bytes * 4 < json_bytes,
        "{packed_bytes} bytes packed from {json_bytes} of JSON"
    );
}
