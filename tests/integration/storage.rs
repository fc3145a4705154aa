//! The database's disk fills and frees up under a running server (a [`DiskSwitch`] backend: no
//! root, no real full file system): commits answer 503, `/healthz` says so, and issuing resumes
//! by itself once there is space, with nothing acknowledged lost.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use waitless::store::DiskSwitch;

use crate::common::{TestApp, wait_until};

/// How long issuing may take to resume once the disk has space again.
const RECOVERY: Duration = Duration::from_secs(8);

async fn try_issue(app: &TestApp) -> (u16, Value) {
    app.call("/api/v1/tickets", Some(json!({"service": "general"})))
        .await
}

#[tokio::test]
async fn issuing_resumes_by_itself_after_the_disk_frees_up_and_nothing_is_lost() {
    let disk = DiskSwitch::default();
    let app = TestApp::spawn_on(disk.backing()).await;
    let first = app.issue("general", "normal").await;
    assert_eq!(first["number"], "A001");

    disk.fill();
    for _ in 0..3 {
        let (status, body) = try_issue(&app).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"]["code"], "storage-unavailable", "{body}");
    }
    let (status, health) = app.get_json("/healthz").await;
    assert_eq!(status, 503, "{health}");
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["database"], "error");
    let reason = health["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("No space left"), "{health}");

    // Space returns; nobody issues: the server finds out by itself.
    disk.free();
    let freed = Instant::now();
    wait_until(RECOVERY, "healthz to be ok again", async || {
        let (status, health) = app.get_json("/healthz").await;
        if status == 200 && health["database"] == "ok" {
            Ok(())
        } else {
            Err(health)
        }
    })
    .await;
    let second = app.issue("general", "normal").await;
    assert_eq!(second["number"], "A002", "no number lost or reused");
    assert!(freed.elapsed() < RECOVERY);

    // Again, this time with patients at the kiosk while the disk is full and as it frees.
    disk.fill();
    assert_eq!(try_issue(&app).await.0, 503);
    disk.free();
    let freed = Instant::now();
    let third = wait_until(
        RECOVERY,
        "a ticket once there is space",
        async || match try_issue(&app).await {
            (201, ticket) => Ok(ticket),
            (status, body) => Err(format!("{status} {body}")),
        },
    )
    .await;
    assert_eq!(third["number"], "A003");
    assert!(freed.elapsed() < RECOVERY);

    // Every acknowledged ticket is there, after a restart too.
    let app = app.restart().await;
    for ticket in [&first, &second, &third] {
        assert_eq!(app.ticket(&ticket["id"]).await["number"], ticket["number"]);
    }
    assert_eq!(app.issue("general", "normal").await["number"], "A004");
    let (status, health) = app.get_json("/healthz").await;
    assert_eq!(
        (status, &health["database"]),
        (200, &json!("ok")),
        "{health}"
    );
}
