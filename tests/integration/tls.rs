//! HTTPS: `[tls] enabled = true` without a certificate makes a self-signed one in the data
//! folder and serves with it (and reuses it on the next start); a client that trusts it logs in
//! and gets a Secure cookie; plain HTTP on the port fails; bad certificate settings are clear
//! errors.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::sync::oneshot;
use waitless::clock::ManualClock;
use waitless::config::Config;

use crate::binary::Process;
use crate::common::{
    ADMIN_NAME, ADMIN_PASSWORD, PATIENCE, START, provision, test_config, wait_until,
};

/// waitless in-process with TLS on, on 127.0.0.1:0.
struct TlsApp {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TlsApp {
    fn start(config: &Config) -> Self {
        let clock = ManualClock::new(START.parse().unwrap());
        provision(config, &clock);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let config = config.clone();
        let thread = std::thread::spawn(move || {
            actix_rt::System::new().block_on(waitless::app::run(
                config,
                listener,
                Arc::new(clock),
                async move {
                    let _ = rx.await;
                },
            ))
        });
        Self {
            addr,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://{}{}", self.addr, path)
    }

    fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.thread.take() {
            Some(thread) => thread.join().unwrap(),
            None => Ok(()),
        }
    }
}

impl Drop for TlsApp {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Waits until the self-signed certificate exists (the server makes it as it starts).
async fn wait_for_file(path: &Path) {
    let what = format!("{} to appear", path.display());
    wait_until(PATIENCE, &what, async || path.exists()).await;
}

/// What an HTTPS request got.
#[derive(Debug)]
struct Answer {
    status: u16,
    /// Header lines, names in lowercase.
    headers: Vec<(String, String)>,
}

impl Answer {
    fn header_values(&self, name: &str) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTPS/1.1 client (one request a connection) that trusts only the certificates in
/// a PEM file. (reqwest's rustls needs a process-wide crypto provider, which would change
/// every other test's client.)
struct Https {
    connector: tokio_rustls::TlsConnector,
}

impl Https {
    fn trusting(cert_pem: &Path) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(cert_pem).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        Self {
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
        }
    }

    async fn request(
        &self,
        addr: SocketAddr,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        json: Option<serde_json::Value>,
    ) -> std::io::Result<Answer> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
        let mut tls = self.connector.connect(name, tcp).await?;
        let body = json.map(|j| j.to_string()).unwrap_or_default();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        if !body.is_empty() {
            head.push_str("Content-Type: application/json\r\n");
        }
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        tls.write_all(head.as_bytes()).await?;
        tls.write_all(body.as_bytes()).await?;
        tls.flush().await?;
        let mut raw = Vec::new();
        // A server closing without close_notify is fine here: we have what it sent.
        let _ = tokio::time::timeout(PATIENCE, tls.read_to_end(&mut raw)).await;
        let text = String::from_utf8_lossy(&raw);
        let head = text.split("\r\n\r\n").next().unwrap_or_default();
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("no HTTP answer: {text:?}")))?;
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Ok(Answer { status, headers })
    }
}

/// Polls /healthz over HTTPS until it answers 200.
async fn wait_healthy(app: &mut TlsApp, client: &Https) {
    wait_until(
        PATIENCE,
        "waitless to become healthy over HTTPS",
        async || {
            if let Ok(r) = client.request(app.addr, "GET", "/healthz", &[], None).await
                && r.status == 200
            {
                return true;
            }
            if app.thread.as_ref().is_some_and(JoinHandle::is_finished) {
                let result = app.thread.take().unwrap().join().unwrap();
                panic!("waitless stopped during start: {result:?}");
            }
            false
        },
    )
    .await;
}

#[tokio::test]
async fn tls_without_a_certificate_serves_https_with_a_self_signed_one_and_reuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.tls.enabled = true;
    let cert = dir.path().join("tls/cert.pem");
    let key = dir.path().join("tls/key.pem");

    let mut app = TlsApp::start(&config);
    wait_for_file(&cert).await;
    let client = Https::trusting(&cert);
    wait_healthy(&mut app, &client).await;
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");

    // Login over HTTPS: the session cookie is Secure.
    let origin = app.url("");
    let r = client
        .request(
            app.addr,
            "POST",
            "/api/v1/login",
            &[("Origin", &origin)],
            Some(serde_json::json!({"name": ADMIN_NAME, "password": ADMIN_PASSWORD})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    let set_cookie = r
        .header_values("set-cookie")
        .find(|v| v.starts_with("waitless_session="))
        .unwrap()
        .to_owned();
    assert!(set_cookie.contains("Secure"), "{set_cookie}");
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    // The CSRF check takes the https origin as ours, and an http one as another site.
    let message = serde_json::json!({"message": "over https"});
    let r = client
        .request(
            app.addr,
            "PUT",
            "/api/v1/clinic/message",
            &[("Cookie", &cookie), ("Origin", &origin)],
            Some(message.clone()),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    let http_origin = format!("http://{}", app.addr);
    let r = client
        .request(
            app.addr,
            "PUT",
            "/api/v1/clinic/message",
            &[("Cookie", &cookie), ("Origin", &http_origin)],
            Some(message),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 403, "{r:?}");

    // Plain HTTP on the TLS port gets no answer.
    let plain = reqwest::Client::builder()
        .no_proxy()
        .timeout(PATIENCE)
        .build()
        .unwrap();
    let r = plain
        .get(format!("http://{}/healthz", app.addr))
        .send()
        .await;
    assert!(
        !matches!(&r, Ok(r) if r.status().is_success()),
        "plain HTTP was served: {r:?}"
    );
    // A client that trusts another certificate does not get through.
    let elsewhere = tempfile::tempdir().unwrap();
    let other = waitless::tls::TlsFiles {
        cert: elsewhere.path().join("other.pem"),
        key: elsewhere.path().join("other.key"),
        self_signed: false,
    };
    waitless::tls::make_self_signed(&other, &["127.0.0.1".to_owned()], START.parse().unwrap())
        .unwrap();
    let r = Https::trusting(&other.cert)
        .request(app.addr, "GET", "/healthz", &[], None)
        .await;
    assert!(r.is_err(), "{r:?}");

    app.stop().unwrap();
    let first = std::fs::read(&cert).unwrap();

    // The next start reuses it.
    let mut app = TlsApp::start(&config);
    wait_healthy(&mut app, &client).await;
    assert_eq!(std::fs::read(&cert).unwrap(), first);
    app.stop().unwrap();
}

#[tokio::test]
async fn tls_certificate_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_owned();
    let missing = dir.path().join("missing.pem");
    let missing = missing.to_str().unwrap();
    // Missing files: check-config names the file (exit 2).
    let (status, _, stderr) = Process::run(
        &["--data", &data, "check-config"],
        &[
            ("WAITLESS_TLS__ENABLED", "true"),
            ("WAITLESS_TLS__CERT", missing),
            ("WAITLESS_TLS__KEY", missing),
        ],
    )
    .await;
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("tls.cert") && stderr.contains("missing.pem"),
        "{stderr}"
    );
    // Only one of the two.
    let (status, _, stderr) = Process::run(
        &["--data", &data, "check-config"],
        &[
            ("WAITLESS_TLS__ENABLED", "true"),
            ("WAITLESS_TLS__CERT", missing),
        ],
    )
    .await;
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("set both tls.cert and tls.key"), "{stderr}");
    // Without a certificate: check-config says one will be made.
    let (status, stdout, stderr) = Process::run(
        &["--data", &data, "check-config"],
        &[("WAITLESS_TLS__ENABLED", "true")],
    )
    .await;
    assert!(status.success(), "{stderr}");
    assert!(
        stdout.contains("self-signed certificate will be made"),
        "{stdout}"
    );

    // A key that is not the certificate's: the server does not start, and says why.
    let other = tempfile::tempdir().unwrap();
    let now = START.parse().unwrap();
    let names = ["localhost".to_owned()];
    let a = waitless::tls::TlsFiles {
        cert: other.path().join("a.pem"),
        key: other.path().join("a.key"),
        self_signed: false,
    };
    let b = waitless::tls::TlsFiles {
        cert: other.path().join("b.pem"),
        key: other.path().join("b.key"),
        self_signed: false,
    };
    waitless::tls::make_self_signed(&a, &names, now).unwrap();
    waitless::tls::make_self_signed(&b, &names, now).unwrap();
    let mut config = test_config(dir.path());
    config.tls.enabled = true;
    config.tls.cert = a.cert.display().to_string();
    config.tls.key = b.key.display().to_string();
    let mut app = TlsApp::start(&config);
    let err = format!("{:#}", app.stop().unwrap_err());
    assert!(err.contains("does not match the certificate"), "{err}");
    assert!(err.contains("[tls]"), "{err}");
    // With the right key it serves, and check-config shows the fingerprint.
    let (status, stdout, stderr) = Process::run(
        &["--data", &data, "check-config"],
        &[
            ("WAITLESS_TLS__ENABLED", "true"),
            ("WAITLESS_TLS__CERT", a.cert.to_str().unwrap()),
            ("WAITLESS_TLS__KEY", a.key.to_str().unwrap()),
        ],
    )
    .await;
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("SHA-256"), "{stdout}");
}
