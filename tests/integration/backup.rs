//! Backups, restores and exports (docs/operations.md, Backups): `waitless backup` while tickets
//! are being issued, a restore into a fresh folder that serves every backed-up ticket and
//! numbers on without reuse, the restore's refusals, the nightly backup driven by the manual
//! clock, and the visits export.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use jiff::SignedDuration;
use redb::ReadableTable;
use serde_json::{Value, json};
use waitless::store::backup::check_backup;

use crate::binary::{output_with_stdin, waitless_bin};
use crate::common::{PATIENCE, TestApp, wait_until};

/// Runs the binary on the data folder `data`; returns status, stdout, stderr.
fn cli(data: &Path, args: &[&str]) -> (ExitStatus, String, String) {
    let mut command = Command::new(waitless_bin());
    command.arg("--data").arg(data).args(args);
    for (name, _) in std::env::vars_os() {
        if let Some(name) = name.to_str()
            && (name.starts_with("WAITLESS_") || name == "RUST_LOG")
        {
            command.env_remove(name);
        }
    }
    command.env("WAITLESS_CLINIC__TIMEZONE", "UTC");
    output_with_stdin(command, "")
}

fn cli_ok(data: &Path, args: &[&str]) -> String {
    let (status, stdout, stderr) = cli(data, args);
    assert!(status.success(), "waitless {args:?}: {stdout}{stderr}");
    stdout
}

fn cli_err(data: &Path, args: &[&str]) -> String {
    let (status, stdout, stderr) = cli(data, args);
    assert!(
        !status.success(),
        "waitless {args:?} should fail: {stdout}{stderr}"
    );
    stderr
}

/// Every file in `dir`, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// (id, number) of each acknowledged ticket, in order.
type Issued = Arc<Mutex<Vec<(u64, String)>>>;

/// Issues tickets one after another until `stop`, noting each acknowledged one in `issued`.
async fn issue_until(
    app_url: String,
    client: reqwest::Client,
    stop: Arc<AtomicBool>,
    issued: Issued,
) {
    while !stop.load(Ordering::SeqCst) {
        let r = client
            .post(format!("{app_url}/api/v1/tickets"))
            .json(&json!({"service": "general", "priority": "normal"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let body: Value = r.json().await.unwrap();
        issued.lock().unwrap().push((
            body["id"].as_u64().unwrap(),
            body["number"].as_str().unwrap().to_owned(),
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_under_load_restores_every_ticket_and_numbering_continues() {
    let app = TestApp::spawn().await;
    let usb = tempfile::tempdir().unwrap();
    let file = usb.path().join("under-load.redb");
    let stop = Arc::new(AtomicBool::new(false));
    let issued: Issued = Arc::default();
    let loader = tokio::spawn(issue_until(
        app.url(""),
        app.client.clone(),
        Arc::clone(&stop),
        Arc::clone(&issued),
    ));
    // Some tickets before the backup starts, then the backup while issuing goes on.
    let before = wait_until(PATIENCE, "20 tickets issued", async || {
        let n = issued.lock().unwrap().len();
        if n >= 20 {
            Ok(n)
        } else {
            Err(format!("{n} issued"))
        }
    })
    .await;
    let (data, target) = (app.data(), file.clone());
    let stdout =
        tokio::task::spawn_blocking(move || cli_ok(&data, &["backup", target.to_str().unwrap()]))
            .await
            .unwrap();
    assert!(stdout.contains("its audit trail verifies"), "{stdout}");
    // The server made it in its data folder; the command moved it out.
    let left: Vec<String> = files(&app.data())
        .into_iter()
        .filter(|n| n.starts_with("backup-") || n.contains("partial"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // Issuing went on during the backup and goes on after it.
    let after_backup = app.get_json("/healthz").await.1["seq"].as_u64().unwrap();
    wait_until(PATIENCE, "more tickets after the backup", async || {
        app.get_json("/healthz").await.1["seq"].as_u64().unwrap() > after_backup + 5
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    loader.await.unwrap();
    let issued = issued.lock().unwrap().clone();
    assert!(issued.len() > before, "{} issued", issued.len());
    app.stop().await.unwrap();

    // The backup is a verified waitless database.
    let report = check_backup(&file).unwrap();
    assert!(report.is_ok(), "{report}");

    // Restore it into a fresh folder and serve it.
    let fresh = tempfile::tempdir().unwrap();
    let restored = cli_ok(fresh.path(), &["restore", file.to_str().unwrap()]);
    assert!(restored.contains("audit trail intact"), "{restored}");
    assert!(
        restored.contains("there was no database before"),
        "{restored}"
    );
    let data = fresh.path().to_owned();
    let app = TestApp::spawn_with(move |c| c.data = data).await;
    // The backup is a snapshot: every ticket up to some point, none after it, no hole.
    let mut present = Vec::new();
    for (id, number) in &issued {
        let (status, body) = app.get_json(&format!("/api/v1/tickets/{id}")).await;
        match status {
            200 => {
                assert_eq!(body["number"], number.as_str(), "ticket {id}");
                present.push(*id);
            }
            404 => {}
            other => panic!("ticket {id}: {other} {body}"),
        }
    }
    assert!(
        present.len() >= before,
        "{} of {before} before the backup",
        present.len()
    );
    assert_eq!(
        present,
        issued[..present.len()]
            .iter()
            .map(|(id, _)| *id)
            .collect::<Vec<_>>(),
        "the backup holds a prefix of the issued tickets"
    );
    let last_in_backup = issued[present.len() - 1].1.clone();
    // Numbering continues after the backup's last ticket: no number is given twice.
    let next = app.issue("general", "normal").await;
    let number = next["number"].as_str().unwrap();
    let ordinal = |n: &str| {
        n.trim_start_matches(|c: char| !c.is_ascii_digit())
            .parse::<u32>()
            .unwrap()
    };
    assert_eq!(
        ordinal(number),
        ordinal(&last_in_backup) + 1,
        "{number} after {last_in_backup}"
    );
    let seq_ok = app.get_json("/healthz").await.1;
    assert_eq!(seq_ok["status"], "ok");
}

/// A backup of a stopped test server's database, in `dir`.
async fn stopped_backup(dir: &Path) -> (PathBuf, PathBuf) {
    let live = dir.join("live");
    let data = live.clone();
    let app = TestApp::spawn_with(move |c| c.data = data).await;
    app.issue("general", "normal").await;
    app.issue("general", "urgent").await;
    app.stop().await.unwrap();
    std::fs::remove_file(live.join("test-token")).unwrap();
    // Offline: the command opens the database itself.
    let backup = dir.join("backup.redb");
    let out = cli_ok(&live, &["backup", backup.to_str().unwrap()]);
    assert!(out.contains("backup written to"), "{out}");
    (backup, live)
}

#[tokio::test]
async fn restore_refuses_an_empty_file_an_edited_ticket_and_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let (backup, live) = stopped_backup(dir.path()).await;
    let database = live.join("waitless.redb");
    let original = std::fs::read(&database).unwrap();
    let unchanged = |what: &str| {
        assert_eq!(std::fs::read(&database).unwrap(), original, "{what}");
        assert_eq!(files(&live), ["waitless.redb"], "{what}");
    };

    let empty = dir.path().join("empty.redb");
    std::fs::write(&empty, b"").unwrap();
    let err = cli_err(&live, &["restore", empty.to_str().unwrap()]);
    assert!(
        err.contains("is not a waitless database (the file is empty)"),
        "{err}"
    );
    unchanged("empty file");

    let err = cli_err(
        &live,
        &["restore", dir.path().join("nope.redb").to_str().unwrap()],
    );
    assert!(err.contains("no backup at"), "{err}");
    unchanged("missing file");

    let text = dir.path().join("notes.redb");
    std::fs::write(&text, "not a database\n".repeat(400)).unwrap();
    let err = cli_err(&live, &["restore", text.to_str().unwrap()]);
    assert!(err.contains("is not a waitless database"), "{err}");
    unchanged("a text file");

    // A ticket's number edited in the event log: the chain breaks at that event.
    let edited = dir.path().join("edited.redb");
    std::fs::copy(&backup, &edited).unwrap();
    {
        let db = redb::Database::open(&edited).unwrap();
        let events: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("events");
        let txn = db.begin_write().unwrap();
        {
            let mut table = txn.open_table(events).unwrap();
            let (seq, text) = {
                let rows: Vec<(u64, String)> = table
                    .iter()
                    .unwrap()
                    .map(|r| {
                        let (k, v) = r.unwrap();
                        let json = waitless::store::codec::unpack(v.value(), "event").unwrap();
                        (k.value(), String::from_utf8(json.into_owned()).unwrap())
                    })
                    .collect();
                rows.into_iter()
                    .find(|(_, t)| t.contains("ticket_issued"))
                    .expect("an issued ticket")
            };
            let changed = text.replacen("\"number\":\"", "\"number\":\"X", 1);
            assert_ne!(changed, text);
            table.insert(seq, changed.as_bytes()).unwrap();
        }
        txn.commit().unwrap();
    }
    let err = cli_err(&live, &["restore", edited.to_str().unwrap()]);
    assert!(err.contains("audit trail BROKEN at event"), "{err}");
    assert!(err.contains("nothing was changed"), "{err}");
    unchanged("an edited ticket");

    // A file from a newer waitless.
    let newer = dir.path().join("newer.redb");
    std::fs::copy(&backup, &newer).unwrap();
    {
        let store = waitless::store::Store::open(
            &newer,
            &waitless::store::StoreOptions {
                fsync: false,
                cache_bytes: 1 << 20,
            },
        )
        .unwrap();
        store.force_schema_version(99).unwrap();
        store.close().unwrap();
    }
    let err = cli_err(&live, &["restore", newer.to_str().unwrap()]);
    assert!(err.contains("schema version 99"), "{err}");
    unchanged("a newer schema");

    // The good backup, while a server runs on the folder: refused.
    let data = live.clone();
    let app = TestApp::spawn_with(move |c| c.data = data).await;
    std::fs::remove_file(live.join("test-token")).unwrap();
    let err = tokio::task::spawn_blocking({
        let (live, backup) = (live.clone(), backup.clone());
        move || cli_err(&live, &["restore", backup.to_str().unwrap()])
    })
    .await
    .unwrap();
    assert!(err.contains("waitless is running on"), "{err}");
    app.stop().await.unwrap();

    // Stopped: restored, the previous database kept.
    let out = cli_ok(&live, &["restore", backup.to_str().unwrap()]);
    assert!(out.contains("the previous database is kept as"), "{out}");
    let names = files(&live);
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("waitless.redb.before-restore-")),
        "{names:?}"
    );
    assert_eq!(
        std::fs::read(live.join("waitless.redb")).unwrap(),
        std::fs::read(&backup).unwrap()
    );
}

#[tokio::test]
async fn nightly_backup_runs_at_its_time_keeps_the_newest_and_reports_on_healthz() {
    let usb = tempfile::tempdir().unwrap();
    for day in 10..=13 {
        std::fs::write(
            usb.path().join(format!("waitless-2026-11-{day}.redb")),
            b"old",
        )
        .unwrap();
    }
    let folder = usb.path().to_str().unwrap().to_owned();
    let app = TestApp::spawn_with(move |c| {
        c.backup.folder = folder;
        c.backup.time = "10:30".to_owned();
        c.backup.keep = 3;
    })
    .await;
    app.issue("general", "normal").await;
    // 10:00: not yet.
    assert!(app.get_json("/healthz").await.1.get("backup").is_none());
    assert!(!usb.path().join("waitless-2026-11-21.redb").exists());
    app.advance(SignedDuration::from_mins(31));
    let last = wait_until(PATIENCE, "the nightly backup on /healthz", async || {
        let (_, health) = app.get_json("/healthz").await;
        match health.get("backup") {
            Some(b) if b["result"] == "ok" => Ok(b.clone()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let file = usb.path().join("waitless-2026-11-21.redb");
    assert_eq!(last["file"], file.to_str().unwrap());
    // /admin shows the same.
    let (status, clinic) = app.get_json("/api/v1/admin/clinic").await;
    assert_eq!(status, 200);
    assert_eq!(clinic["backup"], last);
    assert_eq!(last["bytes"], std::fs::metadata(&file).unwrap().len());
    assert_eq!(
        files(usb.path()),
        [
            "waitless-2026-11-12.redb",
            "waitless-2026-11-13.redb",
            "waitless-2026-11-21.redb"
        ]
    );
    // One a day: later the same day nothing new is written.
    app.advance(SignedDuration::from_hours(2));
    app.issue("general", "normal").await;
    app.stop().await.unwrap();
    assert!(check_backup(&file).unwrap().is_ok());
}

#[tokio::test]
async fn nightly_backup_to_a_missing_stick_is_reported_and_the_queue_goes_on() {
    let usb = tempfile::tempdir().unwrap();
    let folder = usb.path().join("not-mounted").to_str().unwrap().to_owned();
    let app = TestApp::spawn_with(move |c| {
        c.backup.folder = folder;
        c.backup.time = "09:00".to_owned();
    })
    .await;
    let last = wait_until(PATIENCE, "the failed backup on /healthz", async || {
        let (status, health) = app.get_json("/healthz").await;
        assert_eq!(status, 200, "{health}");
        match health.get("backup") {
            Some(b) if b["result"] == "failed" => Ok(b.clone()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let error = last["error"].as_str().unwrap();
    assert!(error.contains("USB stick"), "{error}");
    assert!(error.contains("not-mounted"), "{error}");
    app.issue("general", "normal").await;
}

#[tokio::test]
async fn export_writes_visits_as_csv_online_and_offline() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_owned();
    let app = TestApp::spawn_with(move |c| c.data = data).await;
    let first = app.issue("general", "normal").await;
    app.issue("general", "priority").await;
    app.next("room-1").await;
    let data = app.data();
    let csv = tokio::task::spawn_blocking({
        let data = data.clone();
        move || {
            cli_ok(
                &data,
                &["export", "--from", "2026-11-21", "--to", "2026-11-21"],
            )
        }
    })
    .await
    .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "day,number,service,class,room,issued,called,finished,outcome"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    let number = first["number"].as_str().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("2026-11-21,{number},general,"))
                && l.contains("2026-11-21 10:00:00")),
        "{csv}"
    );
    let err = tokio::task::spawn_blocking({
        let data = data.clone();
        move || {
            cli_err(
                &data,
                &["export", "--from", "2026-11-22", "--to", "2026-11-21"],
            )
        }
    })
    .await
    .unwrap();
    assert!(err.contains("is after"), "{err}");
    // With --out while serving: the same CSV, in the operator's file.
    let elsewhere = tempfile::tempdir().unwrap();
    let online = elsewhere.path().join("online.csv");
    tokio::task::spawn_blocking({
        let (data, online) = (data.clone(), online.clone());
        move || {
            cli_ok(
                &data,
                &[
                    "export",
                    "--from",
                    "2026-11-21",
                    "--to",
                    "2026-11-21",
                    "--out",
                    online.to_str().unwrap(),
                ],
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(std::fs::read_to_string(&online).unwrap(), csv);
    assert!(
        !files(&data).iter().any(|n| n.starts_with("export-")),
        "{:?}",
        files(&data)
    );
    app.stop().await.unwrap();
    let out = data.join("visits.csv");
    cli_ok(
        &data,
        &[
            "export",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-30",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), csv);
    let none = cli_ok(
        &data,
        &["export", "--from", "2026-10-01", "--to", "2026-10-31"],
    );
    assert_eq!(none.lines().count(), 1, "{none}");
}

#[tokio::test]
async fn offline_backup_after_a_power_cut_repairs_the_database_and_copies_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = crate::binary::Server::start(&data).await;
    let ticket = server.issue("general").await;
    server.process.signal(nix::sys::signal::Signal::SIGKILL);
    wait_until(PATIENCE, "waitless to die", async || {
        server.process.exited().is_some()
    })
    .await;
    // The file was not closed: a read-only open cannot use it; the backup repairs it first.
    assert!(matches!(
        redb::Database::builder().open_read_only(data.join("waitless.redb")),
        Err(redb::DatabaseError::RepairAborted)
    ));
    let file = dir.path().join("after-kill.redb");
    let out = cli_ok(&data, &["backup", file.to_str().unwrap()]);
    assert!(out.contains("its audit trail verifies"), "{out}");
    assert!(check_backup(&file).unwrap().is_ok());
    // The copy is restorable and holds the acknowledged ticket.
    let fresh = dir.path().join("fresh");
    cli_ok(&fresh, &["restore", file.to_str().unwrap()]);
    let csv = cli_ok(
        &fresh,
        &["export", "--from", "2000-01-01", "--to", "2100-01-01"],
    );
    assert!(csv.contains(ticket["number"].as_str().unwrap()), "{csv}");
}

#[tokio::test]
async fn audit_verify_after_a_power_cut_repairs_the_database_and_verifies_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = crate::binary::Server::start(&data).await;
    server.issue("general").await;
    server.process.signal(nix::sys::signal::Signal::SIGKILL);
    wait_until(PATIENCE, "waitless to die", async || {
        server.process.exited().is_some()
    })
    .await;
    // Run before any restart (the operator's first check after a power cut): repaired as a
    // start would, then verified; the acknowledged ticket's events are in the count.
    let out = cli_ok(&data, &["audit", "verify"]);
    assert!(out.contains("intact"), "{out}");
    // The file is clean now: the read-only open works, and a second check says the same.
    assert!(
        redb::Database::builder()
            .open_read_only(data.join("waitless.redb"))
            .is_ok()
    );
    assert_eq!(cli_ok(&data, &["audit", "verify"]), out);
}

#[tokio::test]
async fn admin_page_shows_the_last_nightly_backup() {
    let _one = crate::browser::ONE_AT_A_TIME.lock().await;
    let usb = tempfile::tempdir().unwrap();
    let folder = usb.path().to_str().unwrap().to_owned();
    // The browser's server lives at the real time: a backup time of 00:00 is past, today's
    // file is missing, so the backup is due at once.
    let server = crate::browser::server::Server::spawn_with(move |c| {
        c.backup.folder = folder;
        c.backup.time = "00:00".to_owned();
    })
    .await;
    let last = wait_until(PATIENCE, "the nightly backup", async || {
        let health = server.get_json("/healthz").await;
        match health.get("backup") {
            Some(b) if b["result"] == "ok" => Ok(b.clone()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let Some(mut driver) = crate::browser::driver::Driver::start().await else {
        return;
    };
    let admin = driver.session(1280, 800).await;
    admin.goto(&server.url("/admin")).await;
    let line = admin
        .wait_for_text("#backup-state", "Last nightly backup", crate::browser::PAGE)
        .await;
    assert!(line.contains(last["file"].as_str().unwrap()), "{line}");
    assert!(line.contains(" MB)"), "{line}");
}
