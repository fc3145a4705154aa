//! Many sites, one view: the event log shipped to a central PostgreSQL (docs/multi-site.md).
//!
//! This module owns everything that talks to the central database: its schema and versioned
//! migrations ([`schema`], `waitless central init`), the shipper task ([`ship`]) that sends the
//! local event log in batches and records the acknowledged seq in the store only after the
//! central commit, and the central check of each site's hash chain ([`verify`],
//! `waitless central verify`). It is an adapter: the store gives it raw event rows
//! ([`crate::store::ShipRow`]); nothing in the queue waits for it, so a site without its
//! link works the same.
//!
//! Invariants: the central table's key is `(site, seq)` and rows are inserted with
//! `ON CONFLICT DO NOTHING`, so sending again (after a crash between the central commit and
//! the local acknowledgement, or a lost answer) never duplicates; the body is the event's
//! stored bytes, so the central side can recompute every link. The URL holds a password: it
//! is only ever shown through [`redact_url`] or [`describe`].

pub mod schema;
pub mod ship;
pub mod verify;

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::config::Host;

pub use ship::{CentralStatus, Shipper};
pub use verify::{ChainFault, ChainFinding, Fault, verify};

/// Why the central database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CentralError {
    /// The URL is not a PostgreSQL URL (the message never repeats it).
    #[error(
        "not a PostgreSQL URL ({0}) — use postgres://USER:PASSWORD@HOST:5432/DATABASE?sslmode=require"
    )]
    Url(String),
    /// The CA file cannot be read or holds no certificate.
    #[error("central.ca_file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// TLS could not be set up.
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    /// The server refused or failed a request, or the link broke.
    #[error("central database: {}", detail(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// The link closed while idle (the server restarted or the network dropped it).
    #[error("central database: the connection closed")]
    Closed,
    /// The request took too long (a dead link).
    #[error("central database: no answer within {0} s")]
    Timeout(u64),
    /// The central schema is missing or older than this waitless needs.
    #[error(
        "the central database has schema version {found}, this waitless needs {needed} — run `waitless central init URL` (it migrates)"
    )]
    Schema {
        /// What it has (0: none).
        found: i32,
        /// What is needed.
        needed: i32,
    },
    /// The central schema is newer than this waitless knows.
    #[error(
        "the central database has schema version {found}, newer than this waitless knows ({known}) — upgrade waitless"
    )]
    SchemaTooNew {
        /// What it has.
        found: i32,
        /// What this waitless knows.
        known: i32,
    },
    /// The local database could not be read or written.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A blocking task failed.
    #[error("internal: {0}")]
    Task(String),
}

/// A PostgreSQL error with its cause ("error connecting to server: Connection refused") or
/// the server's own message.
fn detail(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    match std::error::Error::source(e) {
        Some(cause) if !e.to_string().contains(&cause.to_string()) => format!("{e}: {cause}"),
        _ => e.to_string(),
    }
}

/// Parses a `postgres://` URL (also key=value connection strings, as libpq does).
pub fn parse_url(url: &str) -> Result<tokio_postgres::Config, CentralError> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e: tokio_postgres::Error| CentralError::Url(e.to_string()))?;
    if config.get_hosts().is_empty() {
        return Err(CentralError::Url("it names no host".to_owned()));
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    // A dead link is noticed in a minute, not after the system's two hours.
    config.keepalives_idle(Duration::from_secs(30));
    if config.get_application_name().is_none() {
        config.application_name("waitless");
    }
    Ok(config)
}

/// The URL with its password replaced by `***` (for logs and status pages).
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?'])
            .map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(rest_start + colon + 1..rest_start + at, "***");
            }
        }
    }
    // password=... in the query string or a key=value string
    let lower = out.to_ascii_lowercase();
    if let Some(i) = lower.find("password=") {
        let start = i + "password=".len();
        let end = out[start..]
            .find(['&', ' '])
            .map_or(out.len(), |j| start + j);
        out.replace_range(start..end, "***");
    }
    out
}

/// Where a configuration points, without credentials: `HOST:PORT/DATABASE as USER`.
pub fn describe(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "?".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{host}:{port}/{} as {}",
        config.get_dbname().unwrap_or("-"),
        config.get_user().unwrap_or("-")
    )
}

/// The TLS connector: rustls with the public roots, and the CA of `ca_file` if given. Used
/// as the server and `sslmode` ask (`prefer` by default: TLS when the server offers it).
pub fn tls(ca_file: &str) -> Result<tokio_postgres_rustls::MakeRustlsConnect, CentralError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if !ca_file.is_empty() {
        let ca_error = |reason: String| CentralError::CaFile {
            path: ca_file.to_owned(),
            reason,
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca_file)
            .map_err(|e| ca_error(e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| ca_error(e.to_string()))?;
        if certs.is_empty() {
            return Err(ca_error("no certificate in it".to_owned()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| ca_error(e.to_string()))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| CentralError::Tls(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Connects; the connection runs on its own task until the client is dropped or the link
/// breaks ([`tokio_postgres::Client::is_closed`] then says so).
pub async fn connect(
    config: &tokio_postgres::Config,
    ca_file: &str,
) -> Result<tokio_postgres::Client, CentralError> {
    let (client, connection) = config.connect(tls(ca_file)?).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("central database connection ended: {e}");
        }
    });
    Ok(client)
}

/// Runs `future` with a deadline of `secs` seconds.
pub(crate) async fn timed<T>(
    secs: u64,
    future: impl Future<Output = Result<T, CentralError>>,
) -> Result<T, CentralError> {
    tokio::time::timeout(Duration::from_secs(secs), future)
        .await
        .map_err(|_| CentralError::Timeout(secs))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_shows() {
        assert_eq!(
            redact_url("postgres://waitless:s3cr%40t@db.example:5432/chain?sslmode=require"),
            "postgres://waitless:***@db.example:5432/chain?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://db.example/chain?user=w&password=hunter2&sslmode=require"),
            "postgres://db.example/chain?user=w&password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("host=db user=w password=hunter2 dbname=chain"),
            "host=db user=w password=*** dbname=chain"
        );
        assert_eq!(redact_url("postgres://w@db/chain"), "postgres://w@db/chain");
        let config = parse_url("postgres://w:hunter2@db.example:6432/chain").unwrap();
        assert_eq!(describe(&config), "db.example:6432/chain as w");
        let debug = format!(
            "{:?}",
            crate::config::CentralConfig {
                url: "postgres://w:hunter2@db/chain".to_owned(),
                site: "pune-1".to_owned(),
                ..Default::default()
            }
        );
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn a_bad_url_is_refused_without_repeating_it() {
        let e = parse_url("mysql://w:hunter2@db/chain")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("not a PostgreSQL URL"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
    }
}
