//! The anonymous doors, tried as an attacker on the clinic's LAN would: tickets without a login
//! (the kiosk's limit, whatever source they claim), the one-time setup code raced and guessed,
//! login lock-outs from another address, a forged `X-Forwarded-Host` against the CSRF check,
//! and status links read off the ticket route.

use std::net::IpAddr;

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::admin::login_from;
use crate::binary::Server;
use crate::common::{ADMIN_NAME, ADMIN_PASSWORD, TestApp};

/// A client without credentials whose connections come from `source` (any 127.x address
/// reaches the server on 127.0.0.1).
fn client_from(source: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .local_address(IpAddr::from(source))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The one-time setup code a fresh binary writes in its log.
async fn setup_code(server: &mut Server) -> String {
    let log = server.process.wait_for_log("the one-time code ").await;
    log.split("the one-time code ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_anonymous_caller_is_the_kiosk_whatever_source_it_claims() {
    let app = TestApp::spawn_with(|c| c.screens.kiosk_tickets_per_minute = 3).await;
    let bodies = [
        json!({"service": "general", "print": true}),
        json!({"service": "general", "source": "reception", "print": true}),
        json!({"service": "general", "source": "api", "print": true}),
        json!({"service": "general", "source": "reception", "print": true}),
        json!({"service": "general", "print": true}),
    ];
    let mut statuses = Vec::new();
    let mut printed = 0;
    for body in &bodies {
        let r = app
            .anon
            .post(app.url("/api/v1/tickets"))
            .json(body)
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        let answer: Value = r.json().await.unwrap();
        if answer.get("print").is_some() {
            printed += 1;
        }
    }
    assert_eq!(
        statuses,
        [201, 201, 201, 429, 429],
        "the kiosk's limit holds"
    );
    assert_eq!(printed, 3, "no more printed than the limit");
    // The audit trail names the kiosk, not what the request claimed.
    let (_, audit) = app.get_json("/api/v1/audit?kind=ticket_issued").await;
    let events = audit["events"].as_array().unwrap();
    assert_eq!(events.len(), 3, "{audit}");
    for event in events {
        assert_eq!(event["source"], "kiosk", "{event}");
        assert_eq!(event["actor"], "anonymous", "{event}");
    }
    // Staff are themselves, with the source they ask for, and not limited.
    let (status, ticket) = app
        .call(
            "/api/v1/tickets",
            Some(json!({"service": "general", "source": "reception"})),
        )
        .await;
    assert_eq!(status, 201, "{ticket}");
    assert_eq!(ticket["source"], "reception");
}

#[tokio::test]
async fn ten_parallel_setups_with_one_code_create_one_admin() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path()).await;
    let code = setup_code(&mut server).await;
    let url = server.url("/api/v1/setup");
    let attempts = (0..10).map(|n| {
        let client = server.client.clone();
        let body =
            json!({"code": code, "name": format!("boss-{n}"), "password": "a-long-password-1"});
        let url = url.clone();
        async move {
            let r = client.post(url).json(&body).send().await.unwrap();
            let cookie = r
                .headers()
                .get("set-cookie")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .map(str::to_owned);
            (r.status().as_u16(), cookie)
        }
    });
    let answers = join_all(attempts).await;
    let winners: Vec<_> = answers.iter().filter(|(s, _)| *s == 200).collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    assert!(
        answers.iter().all(|(s, _)| [200, 403, 429].contains(s)),
        "{answers:?}"
    );
    let cookie = winners[0].1.clone().unwrap();
    let r = server
        .client
        .get(server.url("/api/v1/admin/users"))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let users: Value = r.json().await.unwrap();
    let admins = users
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["roles"].as_array().unwrap().contains(&json!("admin")))
        .count();
    assert_eq!(admins, 1, "{users}");
}

#[tokio::test]
async fn a_failed_setup_gives_the_code_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path()).await;
    let code = setup_code(&mut server).await;
    let setup = |password: &'static str| {
        server
            .client
            .post(server.url("/api/v1/setup"))
            .json(&json!({"code": code, "name": "boss", "password": password}))
            .send()
    };
    let r = setup("short").await.unwrap();
    assert_eq!(r.status(), 400, "a weak password");
    assert_eq!(setup("a-long-password-1").await.unwrap().status(), 200);
    assert_eq!(
        setup("a-long-password-1").await.unwrap().status(),
        403,
        "spent"
    );
}

#[tokio::test]
async fn wrong_setup_codes_are_throttled_per_address() {
    let app = TestApp::spawn().await;
    let guesser = client_from([127, 0, 0, 2]);
    let mut statuses = Vec::new();
    for n in 0..8 {
        let r = guesser
            .post(app.url("/api/v1/setup"))
            .json(&json!({"code": format!("AAAA-{n:04}"), "name": "x", "password": "x"}))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        if status == 429 {
            assert_eq!(body["error"]["code"], "throttled", "{body}");
        }
        statuses.push(status);
    }
    assert_eq!(&statuses[..5], &[403; 5], "{statuses:?}");
    assert_eq!(&statuses[5..], &[429; 3], "{statuses:?}");
    // Another address is not slowed.
    let r = client_from([127, 0, 0, 3])
        .post(app.url("/api/v1/setup"))
        .json(&json!({"code": "AAAA-0000", "name": "x", "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn failures_from_one_address_never_lock_the_admin_out_of_another() {
    let app = TestApp::spawn().await;
    let attacker = client_from([127, 0, 0, 2]);
    let mut statuses = Vec::new();
    for _ in 0..50 {
        statuses.push(login_from(&app, &attacker, ADMIN_NAME, "wrong-password-1").await);
    }
    assert!(
        statuses.contains(&429),
        "the attacker is throttled: {statuses:?}"
    );
    assert_eq!(
        login_from(&app, &attacker, ADMIN_NAME, ADMIN_PASSWORD).await,
        429,
        "the attacking address waits, even with the right password"
    );
    // The admin at another desk logs in at once.
    let desk = client_from([127, 0, 0, 3]);
    assert_eq!(
        login_from(&app, &desk, ADMIN_NAME, ADMIN_PASSWORD).await,
        200
    );
}

#[tokio::test]
async fn a_forwarded_host_does_not_make_a_foreign_origin_ours() {
    let app = TestApp::spawn().await;
    let admin = app.login(ADMIN_NAME).await;
    let forged: [(&str, &str); 3] = [
        ("X-Forwarded-Host", "evil.example"),
        ("Forwarded", "host=evil.example;proto=http"),
        ("X-Forwarded-Proto", "http"),
    ];
    for (name, value) in forged {
        let r = app
            .anon
            .post(app.url("/api/v1/admin/tokens"))
            .header("Cookie", &admin)
            .header("Origin", "http://evil.example")
            .header(name, value)
            .json(&json!({"name": "stolen", "role": "admin"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{name}: {value}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "cross-site-request", "{body}");
        // Nor may a foreign page log someone in.
        let r = app
            .anon
            .post(app.url("/api/v1/login"))
            .header("Origin", "http://evil.example")
            .header(name, value)
            .json(&json!({"name": ADMIN_NAME, "password": ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "login with {name}: {value}");
    }
    let (_, tokens) = app.get_json("/api/v1/admin/tokens").await;
    assert!(!tokens.to_string().contains("stolen"), "{tokens}");
    // Our own pages still may.
    let r = app
        .anon
        .post(app.url("/api/v1/admin/tokens"))
        .header("Cookie", &admin)
        .header("Origin", app.url(""))
        .json(&json!({"name": "ours", "role": "reception"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
}

#[tokio::test]
async fn anonymous_ticket_lookups_give_no_status_links() {
    let app = TestApp::spawn().await;
    // The kiosk gets its link with the ticket it issued.
    let r = app
        .anon
        .post(app.url("/api/v1/tickets"))
        .json(&json!({"service": "general", "source": "kiosk"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let issued: Value = r.json().await.unwrap();
    let link = issued["status_path"].as_str().unwrap().to_owned();
    let others = [app.issue("general", "normal").await, issued.clone()];
    for ticket in &others {
        let id = &ticket["id"];
        let r = app
            .anon
            .get(app.url(&format!("/api/v1/tickets/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let seen: Value = r.json().await.unwrap();
        assert!(seen.get("status_path").is_none(), "{seen}");
        assert!(!seen.to_string().contains("/t/"), "{seen}");
        assert_eq!(seen["number"], ticket["number"]);
        // Staff see it.
        let staff = app.ticket(id).await;
        assert!(staff["status_path"].as_str().unwrap().starts_with("/t/"));
    }
    // The patient's own link still works.
    let token = link.trim_start_matches("/t/");
    let r = app
        .anon
        .get(app.url(&format!("/api/v1/status/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let status: Value = r.json().await.unwrap();
    assert_eq!(status["number"], issued["number"]);
}
