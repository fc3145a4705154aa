//! Shipping the event log to a central PostgreSQL (`[central]`, docs/multi-site.md), against a
//! real PostgreSQL: each test starts a throwaway cluster ([`Pg`]: `initdb` into a temporary
//! folder, as the unprivileged user `nobody` when the tests run as root, on a free port, its
//! socket in that folder, stopped at the end). Without PostgreSQL (`apt-get install
//! postgresql`; `.ci/run` installs it) the tests skip with one printed line, unless `CI=true`,
//! where that fails.
//!
//! `cargo test --test integration central::catch_up_rate -- --ignored --nocapture` measures
//! how fast a box's backlog reaches a local PostgreSQL (docs/performance.md).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Once;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::{Value, json};
use waitless::config::Config;

use crate::binary::{PROCESS_PATIENCE, Process, Server, free_port};
use crate::common::{TestApp, wait_until};

/// How long shipping may take to catch up in these tests.
const SHIPPING: Duration = Duration::from_secs(60);

static SKIPPED: Once = Once::new();

/// The newest PostgreSQL's programs (`/usr/lib/postgresql/N/bin`).
fn pg_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// A throwaway PostgreSQL cluster.
pub struct Pg {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    as_nobody: bool,
}

impl Pg {
    /// Makes and starts a cluster; `None` (after one printed line) when PostgreSQL is not
    /// installed and `CI` is not `true`.
    pub fn start() -> Option<Self> {
        let Some(bin) = pg_bin() else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "the central tests need PostgreSQL: apt-get install postgresql"
            );
            SKIPPED.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "central tests skipped: PostgreSQL not found in /usr/lib/postgresql; \
                     install it with `apt-get install postgresql`, or run `bash .ci/run` \
                     (CI=true makes them mandatory)"
                );
            });
            return None;
        };
        let dir = tempfile::Builder::new().prefix("wl-pg").tempdir().unwrap();
        let as_nobody = nix::unistd::Uid::effective().is_root();
        if as_nobody {
            let status = Command::new("chown")
                .args(["-R", "nobody:nogroup"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success());
        }
        let pg = Self {
            dir,
            bin,
            port: free_port(),
            as_nobody,
        };
        let data = pg.data();
        pg.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "waitless",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
        );
        pg.up();
        Some(pg)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs one of PostgreSQL's programs (as `nobody` when we are root); panics on failure.
    fn run(&self, program: &str, args: &[&str]) {
        let exe = self.bin.join(program);
        let mut command = if self.as_nobody {
            let mut c = Command::new("runuser");
            c.args(["-u", "nobody", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let output = command
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}\n{}\nserver log:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
        );
    }

    /// Starts the server (again).
    pub fn up(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let data = self.data();
        let log = self.dir.path().join("log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &options,
                "-w",
                "start",
            ],
        );
    }

    /// Stops the server at once (`immediate`: like a crash or a cut cable, open connections
    /// simply die).
    pub fn down(&self) {
        let data = self.data();
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }

    /// Its URL, with a password in it (trust auth ignores it), to see that it is never shown.
    pub fn url(&self) -> String {
        format!(
            "postgres://waitless:hunter2@127.0.0.1:{}/postgres",
            self.port
        )
    }

    /// A client.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        // Stop it whatever state it is in; a stopped server answers an error, which is fine.
        let data = self.data();
        let exe = self.bin.join("pg_ctl");
        let mut command = if self.as_nobody {
            let mut c = Command::new("runuser");
            c.args(["-u", "nobody", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let _ = command
            .args([
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .output();
    }
}

/// `waitless central ARGS...` through the binary: (exit code, stdout, stderr).
async fn central_cli(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["central"];
    all.extend_from_slice(args);
    let (status, stdout, stderr) = Process::run(&all, &[]).await;
    (status.code().unwrap_or(-1), stdout, stderr)
}

/// Creates the central schema with `waitless central init`.
async fn init(pg: &Pg) {
    let (code, out, err) = central_cli(&["init", &pg.url()]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("applied version 1"), "{out}");
    assert!(!out.contains("hunter2") && !err.contains("hunter2"));
}

/// `[central]` on a test app's configuration.
fn ship_to(config: &mut Config, pg: &Pg, site: &str, batch: usize) {
    config.central.url = pg.url();
    config.central.site = site.to_owned();
    config.central.batch = batch;
    config.central.retry_secs = 1;
    config.central.retry_max_secs = 2;
}

/// The `central` device's status.
async fn central_status(app: &TestApp) -> Value {
    let (status, devices) = app.get_json("/api/v1/devices").await;
    assert_eq!(status, 200);
    devices
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "central")
        .cloned()
        .unwrap_or(Value::Null)
}

/// The last seq of the app's log.
async fn local_seq(app: &TestApp) -> u64 {
    app.queue().await["seq"].as_u64().unwrap()
}

/// Waits until the app reports every event acknowledged.
async fn wait_shipped(app: &TestApp) -> u64 {
    let seq = local_seq(app).await;
    wait_until(SHIPPING, "every event shipped", async || {
        let s = central_status(app).await;
        let c = &s["central"];
        if c["acked_seq"] == seq && c["lag_events"] == 0 && c["connected"] == true {
            Ok(())
        } else {
            Err(format!("{s}"))
        }
    })
    .await;
    seq
}

/// (rows, distinct seqs, min seq, max seq) of a site in the central database.
async fn central_rows(client: &tokio_postgres::Client, site: &str) -> (i64, i64, i64, i64) {
    let row = client
        .query_one(
            "SELECT count(*), count(DISTINCT seq), coalesce(min(seq), 0), coalesce(max(seq), 0)
             FROM waitless.events WHERE site = $1",
            &[&site],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2), row.get(3))
}

/// Every event of the app, once, in order, with the chain intact.
async fn assert_exactly_once(client: &tokio_postgres::Client, site: &str, seq: u64) {
    let seq = i64::try_from(seq).unwrap();
    assert_eq!(central_rows(client, site).await, (seq, seq, 1, seq));
    let findings = waitless::central::verify(client, Some(site)).await.unwrap();
    assert_eq!(findings.len(), 1);
    assert!(findings[0].is_ok(), "{}", findings[0]);
}

#[tokio::test]
async fn two_sites_ship_into_one_database_with_their_chains_and_reports() {
    let Some(pg) = Pg::start() else { return };
    init(&pg).await;
    // init twice: nothing to apply
    let (code, out, _) = central_cli(&["init", &pg.url()]).await;
    assert_eq!(code, 0);
    assert!(out.contains("is current (version 1)"), "{out}");

    let pune = TestApp::spawn_with(|c| ship_to(c, &pg, "pune-1", 500)).await;
    let delhi = TestApp::spawn_with(|c| ship_to(c, &pg, "delhi-2", 500)).await;
    let (status, _) = pune
        .call(
            "/api/v1/tickets",
            Some(json!({"service": "general", "source": "reception",
                        "patient": {"name": "Asha Rao", "phone": "+91 98450 12345"}})),
        )
        .await;
    assert_eq!(status, 201);
    pune.issue("lab", "normal").await;
    pune.advance(jiff::SignedDuration::from_mins(7));
    pune.next("room-1").await;
    for _ in 0..3 {
        delhi.issue("general", "normal").await;
    }
    let pune_seq = wait_shipped(&pune).await;
    let delhi_seq = wait_shipped(&delhi).await;

    let client = pg.client().await;
    assert_exactly_once(&client, "pune-1", pune_seq).await;
    assert_exactly_once(&client, "delhi-2", delhi_seq).await;
    // the status names the target without its password
    let status = central_status(&pune).await;
    assert_eq!(status["health"], "ok", "{status}");
    assert_eq!(
        status["central"]["target"],
        format!("127.0.0.1:{}/postgres as waitless", pg.port)
    );
    assert!(!status.to_string().contains("hunter2"));
    // the patient's name and phone stay on the box
    let bodies: Vec<String> = client
        .query("SELECT body FROM waitless.events", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        bodies
            .iter()
            .all(|b| !b.contains("Asha") && !b.contains("98450"))
    );
    // the report views see both sites
    let visits = client
        .query(
            "SELECT site, count(*), count(called_at), max(wait_secs)
             FROM waitless.visits GROUP BY site ORDER BY site",
            &[],
        )
        .await
        .unwrap();
    let visits: Vec<(String, i64, i64, Option<f64>)> = visits
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        visits,
        [
            ("delhi-2".to_owned(), 3, 0, None),
            ("pune-1".to_owned(), 2, 1, Some(420.0)),
        ]
    );
    let hours: i64 = client
        .query_one(
            "SELECT sum(tickets)::bigint FROM waitless.waits_by_hour",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(hours, 5);
    // and the command line agrees
    let (code, out, _) = central_cli(&["verify", &pg.url()]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("site delhi-2: chain intact, {delhi_seq} events")),
        "{out}"
    );
    assert!(
        out.contains(&format!("site pune-1: chain intact, {pune_seq} events")),
        "{out}"
    );
}

#[tokio::test]
async fn the_central_server_stopped_mid_ship_ends_with_every_event_once() {
    let Some(pg) = Pg::start() else { return };
    init(&pg).await;
    // a backlog of 300 events, shipped one per central transaction once the server is up: the
    // stop falls between many of them
    pg.down();
    let app = TestApp::spawn_with(|c| ship_to(c, &pg, "pune-1", 1)).await;
    for i in 0..300 {
        app.issue(if i % 3 == 2 { "lab" } else { "general" }, "normal")
            .await;
    }
    let backlog = local_seq(&app).await;
    pg.up();
    let client = pg.client().await;
    wait_until(SHIPPING, "some events shipped", async || {
        central_rows(&client, "pune-1").await.0 >= 20
    })
    .await;
    drop(client);
    pg.down();
    // the box notices, says so, and keeps working
    let offline = wait_until(SHIPPING, "the link reported down", async || {
        let s = central_status(&app).await;
        if s["condition"] == "offline" {
            Ok(s)
        } else {
            Err(s.to_string())
        }
    })
    .await;
    assert_eq!(offline["health"], "error", "{offline}");
    assert_eq!(offline["central"]["connected"], false, "{offline}");
    assert!(offline["central"]["last_error"].is_string(), "{offline}");
    assert!(!offline.to_string().contains("hunter2"), "{offline}");
    let stopped_at = offline["central"]["acked_seq"].as_u64().unwrap();
    assert!(
        stopped_at < backlog,
        "{stopped_at} of {backlog}: the backlog was shipped before the stop"
    );
    for _ in 0..20 {
        app.issue("general", "normal").await;
    }
    let seq = local_seq(&app).await;
    pg.up();
    let shipped = wait_shipped(&app).await;
    assert_eq!(shipped, seq);
    let client = pg.client().await;
    assert_exactly_once(&client, "pune-1", seq).await;
    assert_eq!(central_status(&app).await["health"], "ok");
}

#[tokio::test]
async fn a_box_killed_mid_ship_loses_and_duplicates_nothing() {
    let Some(pg) = Pg::start() else { return };
    init(&pg).await;
    let data = tempfile::tempdir().unwrap();
    let url = pg.url();
    let env = [
        ("WAITLESS_CENTRAL__URL", url.as_str()),
        ("WAITLESS_CENTRAL__SITE", "pune-1"),
        ("WAITLESS_CENTRAL__BATCH", "1"),
        ("WAITLESS_CENTRAL__RETRY_MAX_SECS", "1"),
        ("WAITLESS_SCREENS__KIOSK_TICKETS_PER_MINUTE", "0"),
    ];
    // a backlog built while the central server is down
    pg.down();
    let server = Server::start_with(data.path(), &[], &env).await;
    for _ in 0..200 {
        server.issue("general").await;
    }
    let (_, health) = server.get_json("/healthz").await;
    let seq = health["seq"].as_u64().unwrap();
    pg.up();
    let client = pg.client().await;
    let shipped = wait_until(SHIPPING, "shipping under way", async || {
        let rows = central_rows(&client, "pune-1").await.0;
        if rows >= 20 {
            Ok(rows)
        } else {
            Err(rows.to_string())
        }
    })
    .await;
    server.process.signal(Signal::SIGKILL);
    let mut process = server.process;
    process.wait_exit(PROCESS_PATIENCE).await;
    let at_kill = central_rows(&client, "pune-1").await.0;
    assert!(
        u64::try_from(at_kill).unwrap() < seq,
        "killed after everything was shipped ({shipped} then {at_kill} of {seq})"
    );
    assert!(!process.stderr().contains("hunter2"));
    // started again on the same folder: the rest goes, nothing twice
    let server = Server::start_with(data.path(), &[], &env).await;
    wait_until(
        SHIPPING,
        "the backlog shipped after the restart",
        async || {
            let (rows, _, _, max) = central_rows(&client, "pune-1").await;
            if u64::try_from(rows).unwrap() >= seq && u64::try_from(max).unwrap() >= seq {
                Ok(())
            } else {
                Err(format!("{rows} rows, max seq {max}"))
            }
        },
    )
    .await;
    let (_, health) = server.get_json("/healthz").await;
    let now_seq = health["seq"].as_u64().unwrap();
    wait_until(SHIPPING, "the restart's own events shipped", async || {
        central_rows(&client, "pune-1").await.3 >= i64::try_from(now_seq).unwrap()
    })
    .await;
    assert_exactly_once(&client, "pune-1", now_seq).await;
}

#[tokio::test]
async fn a_tampered_central_row_is_reported_by_the_chain_check() {
    let Some(pg) = Pg::start() else { return };
    init(&pg).await;
    let app = TestApp::spawn_with(|c| ship_to(c, &pg, "pune-1", 500)).await;
    for _ in 0..6 {
        app.issue("general", "normal").await;
    }
    let seq = wait_shipped(&app).await;
    app.stop().await.unwrap();
    let client = pg.client().await;
    assert_exactly_once(&client, "pune-1", seq).await;
    let pick = |n: u64| i64::try_from(seq - n).unwrap();

    // an edited body
    client
        .execute(
            "UPDATE waitless.events SET body = replace(body, '\"general\"', '\"lab\"')
             WHERE site = 'pune-1' AND seq = $1",
            &[&pick(3)],
        )
        .await
        .unwrap();
    let findings = waitless::central::verify(&client, Some("pune-1"))
        .await
        .unwrap();
    assert_eq!(
        findings[0].faults,
        [waitless::central::ChainFault {
            seq: seq - 3,
            fault: waitless::central::Fault::Hash
        }]
    );
    let (code, out, _) = central_cli(&["verify", &pg.url(), "--site", "pune-1"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "site pune-1: chain BROKEN at event {}: its body or its hash was changed",
            seq - 3
        )),
        "{out}"
    );

    // a deleted row, and the last one gone too
    client
        .execute(
            "DELETE FROM waitless.events WHERE site = 'pune-1' AND seq IN ($1, $2)",
            &[&pick(1), &pick(0)],
        )
        .await
        .unwrap();
    client
        .execute(
            "UPDATE waitless.events SET body = replace(body, '\"lab\"', '\"general\"')
             WHERE site = 'pune-1' AND seq = $1",
            &[&pick(3)],
        )
        .await
        .unwrap();
    let findings = waitless::central::verify(&client, Some("pune-1"))
        .await
        .unwrap();
    assert_eq!(
        findings[0].faults,
        [waitless::central::ChainFault {
            seq: seq - 1,
            fault: waitless::central::Fault::Truncated
        }]
    );
    // a gap in the middle
    client
        .execute(
            "DELETE FROM waitless.events WHERE site = 'pune-1' AND seq = $1",
            &[&pick(4)],
        )
        .await
        .unwrap();
    let findings = waitless::central::verify(&client, Some("pune-1"))
        .await
        .unwrap();
    assert_eq!(findings[0].faults[0].seq, seq - 3);
    assert_eq!(findings[0].faults[0].fault, waitless::central::Fault::Gap);
}

#[tokio::test]
async fn a_site_offline_for_a_day_catches_up() {
    let Some(pg) = Pg::start() else { return };
    init(&pg).await;
    pg.down();
    let app = TestApp::spawn_with(|c| ship_to(c, &pg, "pune-1", 50)).await;
    for _ in 0..30 {
        app.issue("general", "normal").await;
    }
    // a day (and its day close) without the link
    app.advance(jiff::SignedDuration::from_hours(24));
    for _ in 0..30 {
        app.issue("lab", "normal").await;
    }
    let seq = local_seq(&app).await;
    let behind = wait_until(SHIPPING, "the lag reported", async || {
        let s = central_status(&app).await;
        let c = &s["central"];
        if c["lag_events"] == seq && c["lag_secs"].as_u64() >= Some(24 * 3600) {
            Ok(s)
        } else {
            Err(s.to_string())
        }
    })
    .await;
    assert_eq!(behind["condition"], "offline", "{behind}");
    pg.up();
    assert_eq!(wait_shipped(&app).await, seq);
    let status = central_status(&app).await;
    assert_eq!(status["central"]["lag_secs"], 0, "{status}");
    assert_eq!(status["central"]["last_error"], Value::Null, "{status}");
    let client = pg.client().await;
    assert_exactly_once(&client, "pune-1", seq).await;
    let days: i64 = client
        .query_one(
            "SELECT count(DISTINCT day)::bigint FROM waitless.visits WHERE site = 'pune-1'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(days, 2);
}

/// The figures of docs/performance.md (Central shipping): how fast a box's backlog reaches a
/// local PostgreSQL, and how far behind it stays under a steady 50 tickets a second. Ignored
/// by default (it takes a minute and measures, rather than checks):
/// `cargo test --test integration central::catch_up_rate -- --ignored --nocapture`
/// (`CENTRAL_BACKLOG=N` tickets, default 10,000; the binary of the build profile the test runs).
#[tokio::test]
#[ignore = "a measurement: run with --ignored --nocapture"]
async fn catch_up_rate_and_lag_under_a_steady_load() {
    let Some(pg) = Pg::start() else { return };
    init(&pg).await;
    let backlog: usize = std::env::var("CENTRAL_BACKLOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let data = tempfile::tempdir().unwrap();
    let url = pg.url();
    let env = [
        ("WAITLESS_CENTRAL__URL", url.as_str()),
        ("WAITLESS_CENTRAL__SITE", "pune-1"),
        ("WAITLESS_CENTRAL__RETRY_MAX_SECS", "1"),
        ("WAITLESS_SCREENS__KIOSK_TICKETS_PER_MINUTE", "0"),
    ];
    pg.down();
    let server = Server::start_with(data.path(), &[], &env).await;
    // the backlog: tickets issued 16 at a time while the central server is down
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let client = server.client.clone();
        let url = server.url("/api/v1/tickets");
        let next = std::sync::Arc::clone(&next);
        workers.spawn(async move {
            while next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < backlog {
                let r = client
                    .post(&url)
                    .json(&json!({"service": "general"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.unwrap();
    }
    let (_, health) = server.get_json("/healthz").await;
    let seq = health["seq"].as_i64().unwrap();
    pg.up();
    let client = pg.client().await;
    wait_until(
        Duration::from_secs(600),
        "the backlog shipped",
        async || central_rows(&client, "pune-1").await.0 >= seq,
    )
    .await;
    // the central clock: from the first batch's transaction to the last one's
    let row = client
        .query_one(
            "SELECT count(*), extract(epoch FROM max(received_at) - min(received_at))::float8
             FROM waitless.events WHERE site = 'pune-1'",
            &[],
        )
        .await
        .unwrap();
    let (rows, secs): (i64, f64) = (row.get(0), row.get(1));
    let rows_per_batch = 500.0_f64.min(rows as f64);
    // the span covers all batches but the last: count its rows out
    let rate = (rows as f64 - rows_per_batch) / secs.max(1e-3);
    println!(
        "central catch-up: {rows} events ({backlog} tickets) in {secs:.2} s between the first \
         and the last batch: {rate:.0} events/s"
    );

    // a steady 50 tickets a second for 20 s, the link up
    let start_seq = central_rows(&client, "pune-1").await.3;
    let begun = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for _ in 0..1000 {
        tick.tick().await;
        server.issue("general").await;
    }
    let took = begun.elapsed();
    let (_, health) = server.get_json("/healthz").await;
    let seq = health["seq"].as_i64().unwrap();
    wait_until(SHIPPING, "the steady load shipped", async || {
        central_rows(&client, "pune-1").await.3 >= seq
    })
    .await;
    let row = client
        .query_one(
            "SELECT
                 percentile_cont(0.5) WITHIN GROUP (ORDER BY lag),
                 percentile_cont(0.99) WITHIN GROUP (ORDER BY lag),
                 max(lag)
             FROM (SELECT extract(epoch FROM received_at - at)::float8 * 1000 AS lag
                   FROM waitless.events WHERE site = 'pune-1' AND seq > $1) l",
            &[&start_seq],
        )
        .await
        .unwrap();
    let (p50, p99, max): (f64, f64, f64) = (row.get(0), row.get(1), row.get(2));
    println!(
        "central lag at {:.0} tickets/s: event → central transaction p50 {p50:.1} ms, p99 \
         {p99:.1} ms, max {max:.1} ms",
        1000.0 / took.as_secs_f64()
    );
    let row = client
        .query_one(
            "SELECT avg(octet_length(body))::float8,
                    pg_total_relation_size('waitless.events')::float8 / count(*)
             FROM waitless.events",
            &[],
        )
        .await
        .unwrap();
    let (body, on_disk): (f64, f64) = (row.get(0), row.get(1));
    println!(
        "central size: a ticket_issued body {body:.0} bytes; {on_disk:.0} bytes a row on disk \
         with its indexes"
    );
    assert!(rate > 0.0);
}

#[tokio::test]
async fn the_command_line_shows_the_central_url_without_its_password() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let url = format!("postgres://site:hunter2@127.0.0.1:{port}/clinics");
    let env = [
        ("WAITLESS_CENTRAL__URL", url.as_str()),
        ("WAITLESS_CENTRAL__SITE", "pune-1"),
    ];
    let data = data.path().to_str().unwrap();
    let (status, out, err) = Process::run(&["--data", data, "check-config"], &env).await;
    assert!(status.success(), "{err}");
    assert!(
        out.contains(&format!(
            "url = \"postgres://site:***@127.0.0.1:{port}/clinics\""
        )),
        "{out}"
    );
    assert!(!out.contains("hunter2") && !err.contains("hunter2"));
    // nobody listens there: a clear failure, still without the password
    let (status, out, err) = Process::run(&["central", "init"], &env).await;
    assert_eq!(status.code(), Some(1), "{out}\n{err}");
    assert!(err.contains("error connecting to server"), "{err}");
    assert!(
        !out.contains("hunter2") && !err.contains("hunter2"),
        "{err}"
    );
    // no URL at all: says how to give one
    let (status, _, err) = Process::run(&["central", "verify"], &[]).await;
    assert_eq!(status.code(), Some(1));
    assert!(err.contains("WAITLESS_CENTRAL__URL"), "{err}");
}
