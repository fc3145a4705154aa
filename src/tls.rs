//! HTTPS with rustls: the certificate and key from the configuration (`tls.cert`, `tls.key`),
//! or a self-signed certificate made on the first start in `<data>/tls/` and reused after.
//!
//! What it owns: finding, making, reading and checking the certificate and key; the rustls
//! [`ServerConfig`] the HTTP server listens with; the SHA-256 fingerprint staff compare in their
//! browser. What it does not: serving (`app` hands the config to actix-web), cookies and the
//! CSRF check (`web::auth`, which see the `https` scheme).
//!
//! The self-signed certificate names `localhost`, `127.0.0.1`, the machine's host name,
//! `<hostname>.local` and the host of `screens.public_url`; it is valid for
//! [`SELF_SIGNED_DAYS`] days (Apple devices refuse longer ones) and made again when fewer than
//! [`RENEW_DAYS`] remain. Its key is written with mode 0600. Time is a parameter (`now`).
//! Crypto is rustls's `ring` provider.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest as _, Sha256};

use crate::config::Config;
use crate::domain::Timestamp;

/// The folder of the self-signed certificate, in the data folder.
pub const TLS_DIR: &str = "tls";
/// The self-signed certificate's file name.
pub const CERT_FILE: &str = "cert.pem";
/// Its key's file name.
pub const KEY_FILE: &str = "key.pem";
/// How long a self-signed certificate is valid, days.
pub const SELF_SIGNED_DAYS: i64 = 825;
/// A self-signed certificate is made again when fewer days than this remain.
pub const RENEW_DAYS: i64 = 30;

/// Why HTTPS cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read.
    #[error(
        "{what} {path}: cannot read it: {source} — check the path and that the user running \
         waitless may read it"
    )]
    Read {
        /// `tls.cert` or `tls.key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The certificate file has no certificate.
    #[error(
        "tls.cert {0}: no certificate in it — expected a PEM file with -----BEGIN CERTIFICATE-----"
    )]
    NoCertificate(PathBuf),
    /// The key file has no key.
    #[error(
        "tls.key {0}: no private key in it — expected a PEM file with -----BEGIN PRIVATE KEY----- \
         (or RSA / EC PRIVATE KEY)"
    )]
    NoKey(PathBuf),
    /// A file is not valid PEM.
    #[error("{what} {path}: not a valid PEM file: {message}")]
    Pem {
        /// `tls.cert` or `tls.key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The key is not the certificate's.
    #[error(
        "tls.key {key} does not match the certificate {cert}: use the key the certificate was made for"
    )]
    KeyMismatch {
        /// The certificate.
        cert: PathBuf,
        /// The key.
        key: PathBuf,
    },
    /// rustls refuses the certificate or key.
    #[error("the certificate {cert} or its key cannot be used: {message}")]
    Rejected {
        /// The certificate.
        cert: PathBuf,
        /// What rustls said.
        message: String,
    },
    /// The self-signed certificate cannot be made.
    #[error("cannot make a self-signed certificate: {0}")]
    Generate(String),
    /// The self-signed certificate cannot be written.
    #[error(
        "cannot write {path}: {source} — the data folder must be writable by the user running \
         waitless"
    )]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Where the certificate and key are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain (PEM).
    pub cert: PathBuf,
    /// The private key (PEM).
    pub key: PathBuf,
    /// Made by waitless in the data folder (not configured).
    pub self_signed: bool,
}

impl TlsFiles {
    /// The files `config` names, or the self-signed pair in its data folder.
    pub fn of(config: &Config) -> Self {
        if config.tls.cert.is_empty() {
            let dir = config.data.join(TLS_DIR);
            Self {
                cert: dir.join(CERT_FILE),
                key: dir.join(KEY_FILE),
                self_signed: true,
            }
        } else {
            Self {
                cert: PathBuf::from(&config.tls.cert),
                key: PathBuf::from(&config.tls.key),
                self_signed: false,
            }
        }
    }
}

/// A certificate chain and its key, read and checked.
pub struct Identity {
    /// The chain, the server's certificate first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The key.
    pub key: PrivateKeyDer<'static>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("chain", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// The SHA-256 fingerprint of the server's certificate, as browsers show it
    /// (`AB:CD:...`).
    pub fn fingerprint(&self) -> String {
        self.chain
            .first()
            .map(|cert| fingerprint(cert))
            .unwrap_or_default()
    }

    /// Whether the server's certificate names every one of `names` (DNS names and IP
    /// addresses).
    pub fn covers(&self, names: &[String]) -> bool {
        let Some(cert) = self.chain.first() else {
            return false;
        };
        let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert) else {
            return false;
        };
        let Ok(Some(san)) = parsed.subject_alternative_name() else {
            return false;
        };
        let general = &san.value.general_names;
        names.iter().all(|name| match name.parse::<std::net::IpAddr>() {
            Ok(ip) => {
                let octets = match ip {
                    std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
                    std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
                };
                general.iter().any(
                    |g| matches!(g, x509_parser::extensions::GeneralName::IPAddress(b) if *b == octets.as_slice()),
                )
            }
            Err(_) => general.iter().any(|g| {
                matches!(g, x509_parser::extensions::GeneralName::DNSName(d) if d.eq_ignore_ascii_case(name))
            }),
        })
    }

    /// When the server's certificate expires (`None`: unreadable).
    pub fn not_after(&self) -> Option<Timestamp> {
        let cert = self.chain.first()?;
        let (_, parsed) = x509_parser::parse_x509_certificate(cert).ok()?;
        Timestamp::from_second(parsed.validity().not_after.timestamp()).ok()
    }
}

/// The SHA-256 fingerprint of a DER certificate: uppercase hex pairs joined by `:`.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Reads a certificate chain and its key from PEM files and checks that they belong together.
pub fn load(files: &TlsFiles) -> Result<Identity, TlsError> {
    let cert_pem = std::fs::read(&files.cert).map_err(|source| TlsError::Read {
        what: "tls.cert",
        path: files.cert.clone(),
        source,
    })?;
    let key_pem = std::fs::read(&files.key).map_err(|source| TlsError::Read {
        what: "tls.key",
        path: files.key.clone(),
        source,
    })?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            what: "tls.cert",
            path: files.cert.clone(),
            message: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(files.cert.clone()));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoKey(files.key.clone()),
        e => TlsError::Pem {
            what: "tls.key",
            path: files.key.clone(),
            message: e.to_string(),
        },
    })?;
    let identity = Identity { chain, key };
    server_config(&identity, files)?;
    Ok(identity)
}

/// The rustls configuration serving `identity` (TLS 1.2 and 1.3, no client certificates).
pub fn server_config(identity: &Identity, files: &TlsFiles) -> Result<ServerConfig, TlsError> {
    let rejected = |e: rustls::Error| match e {
        rustls::Error::InconsistentKeys(_) => TlsError::KeyMismatch {
            cert: files.cert.clone(),
            key: files.key.clone(),
        },
        e => TlsError::Rejected {
            cert: files.cert.clone(),
            message: e.to_string(),
        },
    };
    ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(rejected)?
        .with_no_client_auth()
        .with_single_cert(identity.chain.clone(), identity.key.clone_key())
        .map_err(rejected)
}

/// What `waitless check-config` says about TLS: `Ok(None)` when it is off, else a line about
/// the certificate; an error when configured files are missing, unreadable or do not match.
pub fn check(config: &Config) -> Result<Option<String>, TlsError> {
    if !config.tls.enabled {
        return Ok(None);
    }
    let files = TlsFiles::of(config);
    if files.self_signed && !(files.cert.exists() && files.key.exists()) {
        return Ok(Some(format!(
            "TLS on: a self-signed certificate will be made at the first start in {}",
            files.cert.display()
        )));
    }
    let identity = load(&files)?;
    Ok(Some(format!(
        "TLS on: certificate {}{} (SHA-256 {})",
        files.cert.display(),
        if files.self_signed {
            ", self-signed"
        } else {
            ""
        },
        identity.fingerprint()
    )))
}

/// What the server listens with.
#[derive(Debug)]
pub struct Prepared {
    /// For actix-web.
    pub server: ServerConfig,
    /// The files.
    pub files: TlsFiles,
    /// The certificate's SHA-256 fingerprint.
    pub fingerprint: String,
    /// A self-signed certificate was made at this start.
    pub made: bool,
}

/// Gets HTTPS ready for `config` at `now`: makes the self-signed certificate when there is none,
/// when it expires within [`RENEW_DAYS`], or when it does not name this machine as it is now
/// (its host name, `screens.public_url`, and the `addresses` it serves on); reads and checks
/// the files, and builds the rustls configuration.
pub fn prepare(
    config: &Config,
    now: Timestamp,
    addresses: &[std::net::IpAddr],
) -> Result<Prepared, TlsError> {
    let files = TlsFiles::of(config);
    let mut made = false;
    if files.self_signed {
        let mut names = self_signed_names(hostname().as_deref(), &config.screens.public_url);
        for ip in addresses {
            let ip = ip.to_string();
            if !names.contains(&ip) {
                names.push(ip);
            }
        }
        let usable = files.cert.exists()
            && files.key.exists()
            && load(&files).ok().is_some_and(|identity| {
                identity.covers(&names)
                    && identity.not_after().is_some_and(|end| {
                        end.duration_since(now) > jiff::SignedDuration::from_hours(24 * RENEW_DAYS)
                    })
            });
        if !usable {
            make_self_signed(&files, &names, now)?;
            made = true;
        }
    }
    let identity = load(&files)?;
    if !files.self_signed
        && let Some(end) = identity.not_after()
        && end.duration_since(now) < jiff::SignedDuration::from_hours(24 * RENEW_DAYS)
    {
        tracing::warn!(
            "the TLS certificate {} expires at {end}: renew it",
            files.cert.display()
        );
    }
    if let Ok(meta) = std::fs::metadata(&files.key)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            "the TLS key {} can be read by other users: chmod 600 it",
            files.key.display()
        );
    }
    let server = server_config(&identity, &files)?;
    Ok(Prepared {
        server,
        fingerprint: identity.fingerprint(),
        files,
        made,
    })
}

/// This machine's host name, if it has a usable one.
pub fn hostname() -> Option<String> {
    let name = nix::unistd::gethostname().ok()?.into_string().ok()?;
    let name = name.trim().to_ascii_lowercase();
    (!name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'))
    .then_some(name)
}

/// The names a self-signed certificate is made for: `localhost`, `127.0.0.1`, `::1`, the host
/// name and `<hostname>.local` (mDNS), and the host of `public_url`; each once.
pub fn self_signed_names(hostname: Option<&str>, public_url: &str) -> Vec<String> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Some(host) = hostname {
        names.push(host.to_owned());
        if !host.contains('.') {
            names.push(format!("{host}.local"));
        }
    }
    if let Some(host) = url_host(public_url) {
        names.push(host);
    }
    let mut seen = std::collections::BTreeSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

/// The host of an `http(s)://host[:port]/...` URL, without brackets for IPv6.
fn url_host(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority.split(':').next()?
    };
    let host = host.to_ascii_lowercase();
    (!host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':')))
    .then_some(host)
}

/// Makes a self-signed certificate for `names`, valid from a day before `now` for
/// [`SELF_SIGNED_DAYS`] days, and writes it (key mode 0600) where `files` say.
pub fn make_self_signed(
    files: &TlsFiles,
    names: &[String],
    now: Timestamp,
) -> Result<(), TlsError> {
    let generate = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(generate)?;
    let day = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    let date = |d: jiff::civil::Date| {
        u8::try_from(d.month())
            .ok()
            .zip(u8::try_from(d.day()).ok())
            .map(|(m, dd)| rcgen::date_time_ymd(i32::from(d.year()), m, dd))
            .ok_or_else(|| TlsError::Generate(format!("bad date {d}")))
    };
    let start = day
        .checked_sub(jiff::Span::new().days(1))
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    let end = day
        .checked_add(jiff::Span::new().days(SELF_SIGNED_DAYS - 1))
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    params.not_before = date(start)?;
    params.not_after = date(end)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!(
            "waitless {}",
            names.get(3).map_or("appliance", String::as_str)
        ),
    );
    params.distinguished_name.push(
        rcgen::DnType::OrganizationName,
        "waitless (self-signed)".to_owned(),
    );
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = rcgen::KeyPair::generate().map_err(generate)?;
    let cert = params.self_signed(&key).map_err(generate)?;

    if let Some(dir) = files.cert.parent() {
        std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
            path: dir.to_owned(),
            source,
        })?;
    }
    write_file(&files.key, key.serialize_pem().as_bytes(), 0o600)?;
    write_file(&files.cert, cert.pem().as_bytes(), 0o644)?;
    tracing::info!(
        names = ?names,
        "made a self-signed TLS certificate {}",
        files.cert.display()
    );
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file created with `mode`, then renames it.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsError> {
    let write = |source| TlsError::Write {
        path: path.to_owned(),
        source,
    };
    let mut temp = path.as_os_str().to_owned();
    temp.push(".new");
    let temp = PathBuf::from(temp);
    let _ = std::fs::remove_file(&temp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temp)
        .map_err(write)?;
    file.write_all(bytes).map_err(write)?;
    file.sync_all().map_err(write)?;
    drop(file);
    std::fs::rename(&temp, path).map_err(write)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-11-21T10:00:00Z";

    fn config(dir: &Path) -> Config {
        let mut config = Config {
            data: dir.to_owned(),
            ..Config::default()
        };
        config.tls.enabled = true;
        config
    }

    #[test]
    fn names_cover_localhost_the_host_name_and_the_public_url() {
        assert_eq!(
            self_signed_names(Some("clinic-pi"), "https://queue.example.org:8443/x"),
            [
                "localhost",
                "127.0.0.1",
                "::1",
                "clinic-pi",
                "clinic-pi.local",
                "queue.example.org"
            ]
        );
        assert_eq!(
            self_signed_names(None, "http://[fe80::1]:8080"),
            ["localhost", "127.0.0.1", "::1", "fe80::1"]
        );
        assert_eq!(
            self_signed_names(Some("localhost"), "http://localhost"),
            ["localhost", "127.0.0.1", "::1", "localhost.local"]
        );
        assert_eq!(url_host(""), None);
        assert_eq!(url_host("https://"), None);
        assert_eq!(url_host("http://a b/"), None);
    }

    #[test]
    fn self_signed_is_made_once_reused_and_its_key_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path());
        let now: Timestamp = NOW.parse().unwrap();
        assert!(check(&config).unwrap().unwrap().contains("will be made"));
        let first = prepare(&config, now, &[]).unwrap();
        assert!(first.made);
        let key = dir.path().join("tls/key.pem");
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let second = prepare(&config, now, &[]).unwrap();
        assert!(!second.made);
        assert_eq!(first.fingerprint, second.fingerprint);
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
        let identity = load(&TlsFiles::of(&config)).unwrap();
        let end = identity.not_after().unwrap();
        let days = end.duration_since(now).as_hours() / 24;
        assert!(
            (SELF_SIGNED_DAYS - 2..=SELF_SIGNED_DAYS).contains(&days),
            "{days}"
        );
        assert!(
            check(&config)
                .unwrap()
                .unwrap()
                .contains(&first.fingerprint)
        );
        // Near its end it is made again.
        let later = end - jiff::SignedDuration::from_hours(24 * 10);
        let renewed = prepare(&config, later, &[]).unwrap();
        assert!(renewed.made);
        assert_ne!(renewed.fingerprint, first.fingerprint);
        // So it is when the machine has a new address, which it then names.
        let lan: std::net::IpAddr = "192.168.1.20".parse().unwrap();
        let moved = prepare(&config, later, &[lan]).unwrap();
        assert!(moved.made);
        let identity = load(&TlsFiles::of(&config)).unwrap();
        assert!(identity.covers(&["192.168.1.20".to_owned(), "localhost".to_owned()]));
        assert!(!identity.covers(&["192.168.1.21".to_owned()]));
        assert!(!prepare(&config, later, &[lan]).unwrap().made);
    }

    #[test]
    fn bad_files_give_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let now: Timestamp = NOW.parse().unwrap();
        // Two self-signed pairs: a key of one does not match the other's certificate.
        let a = TlsFiles {
            cert: dir.path().join("a.pem"),
            key: dir.path().join("a.key"),
            self_signed: false,
        };
        let b = TlsFiles {
            cert: dir.path().join("b.pem"),
            key: dir.path().join("b.key"),
            self_signed: false,
        };
        let names = ["localhost".to_owned()];
        make_self_signed(&a, &names, now).unwrap();
        make_self_signed(&b, &names, now).unwrap();
        assert!(load(&a).is_ok());
        let mixed = TlsFiles {
            cert: a.cert.clone(),
            key: b.key.clone(),
            self_signed: false,
        };
        let err = load(&mixed).unwrap_err();
        assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err}");
        assert!(err.to_string().contains("does not match"), "{err}");

        let missing = TlsFiles {
            cert: dir.path().join("nope.pem"),
            key: a.key.clone(),
            self_signed: false,
        };
        let err = load(&missing).unwrap_err().to_string();
        assert!(
            err.contains("tls.cert") && err.contains("nope.pem"),
            "{err}"
        );

        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "hello").unwrap();
        let err = load(&TlsFiles {
            cert: garbage.clone(),
            key: a.key.clone(),
            self_signed: false,
        })
        .unwrap_err();
        assert!(matches!(err, TlsError::NoCertificate(_)), "{err}");
        let err = load(&TlsFiles {
            cert: a.cert.clone(),
            key: garbage,
            self_signed: false,
        })
        .unwrap_err();
        assert!(matches!(err, TlsError::NoKey(_)), "{err}");
        // The key where the certificate should be.
        let err = load(&TlsFiles {
            cert: a.key.clone(),
            key: a.key.clone(),
            self_signed: false,
        })
        .unwrap_err();
        assert!(matches!(err, TlsError::NoCertificate(_)), "{err}");
    }

    #[test]
    fn configured_files_are_checked_by_check_config() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path());
        config.tls.cert = dir.path().join("missing.pem").display().to_string();
        config.tls.key = dir.path().join("missing.key").display().to_string();
        let err = check(&config).unwrap_err().to_string();
        assert!(err.contains("missing.pem"), "{err}");
        config.tls.enabled = false;
        assert_eq!(check(&config).unwrap(), None);
    }
}
