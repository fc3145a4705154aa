//! The anonymous doors, tried as an attacker on the clinic's LAN would: tickets without a login
//! (the kiosk's limit, whatever source they claim), the one-time setup code raced and guessed,
//! login lock-outs from another address, a forged `X-Forwarded-Host` against the CSRF check,
//! and status links read off the ticket route.

use std::net::IpAddr;

use crate::admin::login_from;
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
