//! The command line while the server runs: `waitless user|token|audit` reach the running
//! waitless over its admin socket (`<data>/admin.sock`), the changes take effect at once, and
//! each is in the audit trail with the operator's Unix user as the actor.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, ExitStatus};

use serde_json::Value;

use crate::binary::{output_with_stdin, waitless_bin};
use crate::common::{TestApp, client_with};

/// Runs the binary on the data folder `data` with `args`, writing `stdin`; returns status,
/// stdout, stderr.
fn cli(data: &Path, args: &[&str], stdin: &str) -> (ExitStatus, String, String) {
    let mut command = Command::new(waitless_bin());
    command.arg("--data").arg(data).args(args);
    for (name, _) in std::env::vars_os() {
        if let Some(name) = name.to_str()
            && (name.starts_with("WAITLESS_") || name == "RUST_LOG")
        {
            command.env_remove(name);
        }
    }
    output_with_stdin(command, stdin)
}

/// Like [`cli`], asserting success; returns stdout.
fn cli_ok(data: &Path, args: &[&str], stdin: &str) -> String {
    let (status, stdout, stderr) = cli(data, args, stdin);
    assert!(status.success(), "waitless {args:?}: {stdout}{stderr}");
    stdout
}

/// This test's Unix user, as the audit trail names it.
fn unix_user() -> String {
    let uid = nix::unistd::Uid::effective();
    nix::unistd::User::from_uid(uid)
        .unwrap()
        .map_or_else(|| uid.to_string(), |u| u.name)
}

/// One raw conversation on the admin socket.
fn converse(socket: &Path, line: &[u8]) -> Value {
    let mut stream = UnixStream::connect(socket).unwrap();
    // The server may answer (and stop reading) before an oversized line is all written.
    let _ = stream.write_all(line);
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).unwrap();
    serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer:?}"))
}

async fn login(app: &TestApp, name: &str, password: &str) -> reqwest::Response {
    app.anon
        .post(app.url("/api/v1/login"))
        .header("Origin", app.url(""))
        .json(&serde_json::json!({"name": name, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_command_line_manages_users_and_tokens_while_the_server_runs() {
    // A data folder of this test's own, to look at after the server stopped.
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with(|config| {
        config.data = dir.path().to_owned();
        // A socket left behind by a crash is replaced.
        std::fs::write(config.data.join("admin.sock"), "stale").unwrap();
    })
    .await;
    let data = app.data();
    let socket = data.join("admin.sock");
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");

    // A user, added while the server holds the database, logs in at once.
    let stdout = cli_ok(
        &data,
        &["user", "add", "nurse", "--role", "reception"],
        "nurse-password-1\n",
    );
    assert!(stdout.contains("added nurse (reception)"), "{stdout}");
    let r = login(&app, "nurse", "nurse-password-1").await;
    assert_eq!(r.status(), 200);
    let (status, _, stderr) = cli(
        &data,
        &["user", "add", "nurse", "--role", "doctor"],
        "x-long-password\n",
    );
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("user nurse already exists"), "{stderr}");
    let (status, _, stderr) = cli(
        &data,
        &["user", "add", "short", "--role", "doctor"],
        "short\n",
    );
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("password too short"), "{stderr}");

    let list = cli_ok(&data, &["user", "list"], "");
    assert!(
        list.lines().any(|l| l.starts_with("nurse\treception")),
        "{list}"
    );
    assert!(
        list.lines().any(|l| l.starts_with("admin\tadmin")),
        "{list}"
    );

    // Disabled: no login; enabled again: login; a new password: the old one fails.
    let stdout = cli_ok(&data, &["user", "disable", "nurse"], "");
    assert!(stdout.contains("nurse disabled"), "{stdout}");
    assert_eq!(login(&app, "nurse", "nurse-password-1").await.status(), 401);
    assert!(cli_ok(&data, &["user", "list"], "").contains("reception\t\tdisabled"));
    cli_ok(&data, &["user", "enable", "nurse"], "");
    assert_eq!(login(&app, "nurse", "nurse-password-1").await.status(), 200);
    let stdout = cli_ok(&data, &["user", "passwd", "nurse"], "nurse-password-2\n");
    assert!(stdout.contains("password of nurse changed"), "{stdout}");
    assert_eq!(login(&app, "nurse", "nurse-password-1").await.status(), 401);
    assert_eq!(login(&app, "nurse", "nurse-password-2").await.status(), 200);

    // A token works over HTTP at once, with its role...
    let (status, token, stderr) = cli(
        &data,
        &[
            "token",
            "create",
            "--name",
            "his-bridge",
            "--role",
            "reception",
        ],
        "",
    );
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("shown once"), "{stderr}");
    let token = token.trim().to_owned();
    assert!(token.starts_with("wl_"), "{token}");
    let bridge = client_with(&token);
    let me: Value = bridge
        .get(app.url("/api/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["name"], "his-bridge");
    let ticket = app.issue("general", "normal").await;
    let cancel = app.url(&format!("/api/v1/tickets/{}/cancel", ticket["id"]));
    assert_eq!(bridge.post(&cancel).send().await.unwrap().status(), 200);
    // ... is listed without its secret, and once revoked is refused.
    let list = cli_ok(&data, &["token", "list"], "");
    assert!(!list.contains(&token), "{list}");
    let line = list
        .lines()
        .find(|l| l.contains("\this-bridge\treception\t"))
        .unwrap_or_else(|| panic!("{list}"));
    let id = line.split('\t').next().unwrap();
    let stdout = cli_ok(&data, &["token", "revoke", id], "");
    assert!(stdout.contains(&format!("token {id} revoked")), "{stdout}");
    let r = bridge.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let (status, _, stderr) = cli(&data, &["token", "revoke", id], "");
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("no API token with id"), "{stderr}");

    // The audit trail shows every change, by this Unix user, from the command line.
    let stdout = cli_ok(&data, &["audit", "verify"], "");
    assert!(stdout.contains("audit trail intact"), "{stdout}");
    let (status, page) = app
        .get_json("/api/v1/audit?kind=staff_changed&source=cli")
        .await;
    assert_eq!(status, 200, "{page}");
    let events = page["events"].as_array().unwrap();
    let whats: Vec<&str> = events
        .iter()
        .map(|e| e["change"]["what"].as_str().unwrap())
        .collect();
    assert_eq!(
        whats,
        [
            "user_added",
            "user_disabled",
            "user_disabled",
            "password_set",
            "token_created",
            "token_revoked"
        ],
        "{page}"
    );
    let actor = format!("cli:{}", unix_user());
    assert!(events.iter().all(|e| e["actor"] == actor), "{page}");
    assert_eq!(events[0]["change"]["user"], "nurse");
    assert_eq!(
        events[0]["change"]["roles"],
        serde_json::json!(["reception"])
    );
    assert_eq!(events[2]["change"]["disabled"], false);
    assert_eq!(events[4]["change"]["token"], "his-bridge");
    assert_eq!(events[4]["change"]["role"], "reception");
    // No secret ever reaches the audit trail.
    let everything = app
        .get("/api/v1/audit?format=csv")
        .await
        .text()
        .await
        .unwrap();
    for secret in [token.as_str(), "nurse-password-1", "nurse-password-2"] {
        assert!(!everything.contains(secret));
    }

    // At shutdown the socket goes; the command line then opens the database itself, and its
    // changes are recorded there the same way.
    app.stop().await.unwrap();
    assert!(!socket.exists());
    let stdout = cli_ok(&data, &["user", "disable", "nurse"], "");
    assert!(stdout.contains("nurse disabled"), "{stdout}");
    let stdout = cli_ok(&data, &["audit", "verify"], "");
    assert!(stdout.contains("audit trail intact"), "{stdout}");
}

#[tokio::test]
async fn the_admin_socket_answers_garbage_with_an_error() {
    let app = TestApp::spawn().await;
    let socket = app.data().join("admin.sock");
    for (line, code) in [
        (&b"hello\n"[..], "bad-request"),
        (b"\xff\xfe\n", "bad-request"),
        (b"{\"op\":\"drop_tables\"}\n", "unknown-op"),
        (b"{\"op\":\"token_revoke\"}\n", "bad-request"),
    ] {
        let answer = converse(&socket, line);
        assert_eq!(answer["status"], "error", "{answer}");
        assert_eq!(answer["code"], code, "{answer}");
    }
    let mut huge = b"{\"op\":\"user_list\",\"x\":\"".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 100_000));
    huge.extend(b"\"}\n");
    let answer = converse(&socket, &huge);
    assert_eq!(answer["code"], "too-large", "{answer}");
    // The server is fine, and a good request still works.
    let answer = converse(&socket, b"{\"op\":\"user_list\"}\n");
    assert_eq!(answer["status"], "ok", "{answer}");
    assert_eq!(answer["answer"]["answer"], "users", "{answer}");
    assert_eq!(app.get("/healthz").await.status(), 200);
}
