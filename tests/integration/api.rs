//! The JSON API over real HTTP.

use serde_json::json;

use crate::common::TestApp;

#[tokio::test]
async fn issue_then_next_calls_the_ticket() {
    let app = TestApp::spawn().await;
    let ticket = app.issue("general", "normal").await;
    assert_eq!(ticket["number"], "A001");
    assert_eq!(ticket["state"], "waiting");
    assert_eq!(ticket["position"], 0);
    let next = app.next("room-1").await;
    assert_eq!(next["called"]["id"], ticket["id"]);
    assert_eq!(next["called"]["state"], "called");
    assert_eq!(next["debounced"], false);
    let (status, body) = app
        .call("/api/v1/tickets", Some(json!({"service": "nope"})))
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "service-not-found");
}
