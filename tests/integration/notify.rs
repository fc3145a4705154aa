//! systemd notifications from the real binary, as the packaged `Type=notify` unit with
//! `WatchdogSec=` sees them: the test binds a unix datagram socket, passes it to a child
//! `waitless` as `NOTIFY_SOCKET` (with `WATCHDOG_USEC`), and reads what arrives. The variables
//! are set on the child only: the test process's environment is never touched.

use std::path::Path;
use std::time::Duration;

use tokio::net::UnixDatagram;
use tokio::time::Instant;

use crate::binary::{PROCESS_PATIENCE, Server};
use crate::common::wait_until;

/// Collects notification datagrams from the socket.
struct Listener {
    socket: UnixDatagram,
    seen: Vec<String>,
}

impl Listener {
    fn bind(path: &Path) -> Self {
        Self {
            socket: UnixDatagram::bind(path).unwrap(),
            seen: Vec::new(),
        }
    }

    /// Reads datagrams until `enough` holds for what was seen, or panics at the deadline.
    async fn until(&mut self, what: &str, enough: impl Fn(&[String]) -> bool) {
        let mut buf = vec![0u8; 4096];
        wait_until(PROCESS_PATIENCE, what, async || {
            if enough(&self.seen) {
                return Ok(());
            }
            match self.socket.recv(&mut buf).await {
                Ok(n) => {
                    let text = String::from_utf8_lossy(&buf[..n]);
                    self.seen.extend(text.lines().map(str::to_owned));
                }
                Err(e) => panic!("reading the notify socket: {e}"),
            }
            if enough(&self.seen) {
                Ok(())
            } else {
                Err(format!("received: {:?}", self.seen))
            }
        })
        .await;
    }

    /// Reads whatever arrives during `period`.
    async fn drain_for(&mut self, period: Duration) {
        let end = Instant::now() + period;
        let mut buf = vec![0u8; 4096];
        while let Ok(Ok(n)) = tokio::time::timeout_at(end, self.socket.recv(&mut buf)).await {
            let text = String::from_utf8_lossy(&buf[..n]);
            self.seen.extend(text.lines().map(str::to_owned));
        }
    }
}

fn count(lines: &[String], line: &str) -> usize {
    lines.iter().filter(|l| *l == line).count()
}

fn position(lines: &[String], line: &str) -> Option<usize> {
    lines.iter().position(|l| l == line)
}

#[tokio::test]
async fn under_systemd_it_reports_ready_pings_the_watchdog_and_reports_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let mut listener = Listener::bind(&path);
    // 400 ms: the engine pings every 200 ms.
    let server = Server::start_with(
        &dir.path().join("data"),
        &[],
        &[
            ("NOTIFY_SOCKET", path.to_str().unwrap()),
            ("WATCHDOG_USEC", "400000"),
        ],
    )
    .await;

    listener
        .until("READY=1", |seen| position(seen, "READY=1").is_some())
        .await;
    let ready = position(&listener.seen, "READY=1").unwrap();
    assert!(
        listener
            .seen
            .iter()
            .any(|l| l.starts_with("STATUS=serving on ")),
        "{:?}",
        listener.seen
    );
    // The idle engine keeps pinging after READY.
    listener
        .until("three WATCHDOG=1 after READY=1", |seen| {
            count(&seen[ready..], "WATCHDOG=1") >= 3
        })
        .await;

    let (status, log) = server.stop().await;
    assert!(status.success(), "{status}\n{log}");
    listener
        .until("STOPPING=1", |seen| position(seen, "STOPPING=1").is_some())
        .await;
    assert!(position(&listener.seen, "STOPPING=1").unwrap() > ready);
    assert!(log.contains("systemd watchdog on"), "{log}");
}

#[tokio::test]
async fn watchdog_meant_for_another_process_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let mut listener = Listener::bind(&path);
    // WATCHDOG_PID names another process (as when a shell inherits the variables): no pings,
    // but readiness is still reported.
    let server = Server::start_with(
        &dir.path().join("data"),
        &[],
        &[
            ("NOTIFY_SOCKET", path.to_str().unwrap()),
            ("WATCHDOG_USEC", "100000"),
            ("WATCHDOG_PID", "1"),
        ],
    )
    .await;
    listener
        .until("READY=1", |seen| position(seen, "READY=1").is_some())
        .await;
    listener.drain_for(Duration::from_millis(300)).await;
    assert_eq!(
        count(&listener.seen, "WATCHDOG=1"),
        0,
        "{:?}",
        listener.seen
    );
    let (status, log) = server.stop().await;
    assert!(status.success(), "{status}\n{log}");
}
