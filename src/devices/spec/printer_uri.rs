//! `[printer] uri`: where the printer is and how to reach it. Parsing only; opening the
//! connection is `devices::printer::link`'s job.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{SpecError, text_value};

/// Serial speed when a `serial://` URI gives none.
const DEFAULT_BAUD: u32 = 19_200;

/// Good URIs, for error messages.
const EXAMPLES: &str = "tcp://192.168.1.50:9100, serial:///dev/ttyUSB0?baud=19200, \
                        usb://0416:5011, file:///dev/usb/lp0, fake or none";

/// Where the printer is, from `[printer] uri`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum PrinterUri {
    /// A network printer's raw port: `tcp://HOST:PORT`.
    Tcp {
        /// Host name or address.
        host: String,
        /// Port (9100).
        port: u16,
    },
    /// `serial:///dev/ttyUSB0?baud=19200`.
    Serial {
        /// The port.
        path: String,
        /// Bits per second.
        baud: u32,
    },
    /// `usb://VID:PID`.
    Usb {
        /// Vendor id.
        vendor: u16,
        /// Product id.
        product: u16,
    },
    /// `file:///dev/usb/lp0`.
    File(PathBuf),
    /// `fake`: keeps the tickets in memory.
    Fake,
    /// `none`.
    None,
}

fn bad(uri: &str, why: &str, example: &str) -> SpecError {
    SpecError(format!(
        "printer URI {uri:?}: {why}; write it like {example} (one of {EXAMPLES})"
    ))
}

impl PrinterUri {
    /// Parses a URI: `tcp://HOST:PORT`, `serial:///dev/ttyUSB0?baud=19200`, `usb://VID:PID`
    /// (hexadecimal), `file:///dev/usb/lp0`, `fake` or `none`. The error says what a good URI
    /// looks like.
    pub fn parse(uri: &str) -> Result<Self, SpecError> {
        let trimmed = uri.trim();
        match trimmed.to_ascii_lowercase().as_str() {
            "fake" => return Ok(Self::Fake),
            "none" | "" => return Ok(Self::None),
            _ => {}
        }
        let Some((scheme, rest)) = trimmed.split_once("://") else {
            return Err(bad(uri, "unknown printer", "tcp://192.168.1.50:9100"));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "tcp" => Self::parse_tcp(uri, rest),
            "serial" => Self::parse_serial(uri, rest),
            "usb" => Self::parse_usb(uri, rest),
            "file" => {
                if !rest.starts_with('/') || rest.len() < 2 {
                    return Err(bad(uri, "needs an absolute path", "file:///dev/usb/lp0"));
                }
                Ok(Self::File(PathBuf::from(rest)))
            }
            other => Err(bad(
                uri,
                &format!("unknown scheme {other:?}"),
                "tcp://192.168.1.50:9100",
            )),
        }
    }

    fn parse_tcp(uri: &str, rest: &str) -> Result<Self, SpecError> {
        const EXAMPLE: &str = "tcp://192.168.1.50:9100";
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(':') || host.starts_with('[') => {
                let port = port
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| bad(uri, &format!("bad port {port:?}"), EXAMPLE))?;
                (host, port)
            }
            _ => (rest, 9100),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains('/') || host.contains(char::is_whitespace) {
            return Err(bad(uri, "needs a host", EXAMPLE));
        }
        Ok(Self::Tcp {
            host: host.to_owned(),
            port,
        })
    }

    fn parse_serial(uri: &str, rest: &str) -> Result<Self, SpecError> {
        const EXAMPLE: &str = "serial:///dev/ttyUSB0?baud=19200";
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        if !path.starts_with('/') || path.len() < 2 {
            return Err(bad(uri, "needs the port's path", EXAMPLE));
        }
        let mut baud = DEFAULT_BAUD;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("baud", value)) => {
                    baud = value
                        .parse::<u32>()
                        .ok()
                        .filter(|b| (300..=4_000_000).contains(b))
                        .ok_or_else(|| bad(uri, &format!("bad baud rate {value:?}"), EXAMPLE))?;
                }
                _ => return Err(bad(uri, &format!("unknown option {pair:?}"), EXAMPLE)),
            }
        }
        Ok(Self::Serial {
            path: path.to_owned(),
            baud,
        })
    }

    fn parse_usb(uri: &str, rest: &str) -> Result<Self, SpecError> {
        const EXAMPLE: &str = "usb://0416:5011 (vendor:product in hexadecimal, see lsusb)";
        let hex = |s: &str| {
            let s = s.trim_start_matches("0x");
            if s.is_empty() || s.len() > 4 {
                return None;
            }
            u16::from_str_radix(s, 16).ok()
        };
        let rest = rest.trim_end_matches('/');
        let ids = rest
            .split_once(':')
            .and_then(|(v, p)| Some((hex(v)?, hex(p)?)));
        let Some((vendor, product)) = ids else {
            return Err(bad(uri, "needs VID:PID", EXAMPLE));
        };
        Ok(Self::Usb { vendor, product })
    }
}

impl FromStr for PrinterUri {
    type Err = SpecError;
    fn from_str(uri: &str) -> Result<Self, SpecError> {
        Self::parse(uri)
    }
}

text_value!(PrinterUri);

impl fmt::Display for PrinterUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp { host, port } if host.contains(':') => write!(f, "tcp://[{host}]:{port}"),
            Self::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Self::Serial { path, baud } => write!(f, "serial://{path}?baud={baud}"),
            Self::Usb { vendor, product } => write!(f, "usb://{vendor:04x}:{product:04x}"),
            Self::File(path) => write!(f, "file://{}", path.display()),
            Self::Fake => f.write_str("fake"),
            Self::None => f.write_str("none"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_uris_parse() {
        let cases = [
            (
                "tcp://192.168.1.50:9100",
                PrinterUri::Tcp {
                    host: "192.168.1.50".into(),
                    port: 9100,
                },
            ),
            (
                "tcp://printer.local",
                PrinterUri::Tcp {
                    host: "printer.local".into(),
                    port: 9100,
                },
            ),
            (
                "tcp://[::1]:9101",
                PrinterUri::Tcp {
                    host: "::1".into(),
                    port: 9101,
                },
            ),
            (
                "serial:///dev/ttyUSB0?baud=9600",
                PrinterUri::Serial {
                    path: "/dev/ttyUSB0".into(),
                    baud: 9600,
                },
            ),
            (
                "serial:///dev/ttyS0",
                PrinterUri::Serial {
                    path: "/dev/ttyS0".into(),
                    baud: 19_200,
                },
            ),
            (
                "usb://0416:5011",
                PrinterUri::Usb {
                    vendor: 0x0416,
                    product: 0x5011,
                },
            ),
            (
                "usb://0x04b8:0x0e15",
                PrinterUri::Usb {
                    vendor: 0x04b8,
                    product: 0x0e15,
                },
            ),
            (
                "file:///dev/usb/lp0",
                PrinterUri::File("/dev/usb/lp0".into()),
            ),
            ("fake", PrinterUri::Fake),
            (" FAKE ", PrinterUri::Fake),
            ("none", PrinterUri::None),
        ];
        for (text, want) in cases {
            assert_eq!(PrinterUri::parse(text).unwrap(), want, "{text}");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "tcp://10.0.0.9:9100",
            "tcp://[::1]:9100",
            "serial:///dev/ttyUSB0?baud=19200",
            "usb://0416:5011",
            "file:///dev/usb/lp0",
            "fake",
            "none",
        ] {
            let uri = PrinterUri::parse(text).unwrap();
            assert_eq!(uri.to_string(), text);
            assert_eq!(PrinterUri::parse(&uri.to_string()).unwrap(), uri);
        }
    }

    #[test]
    fn bad_uris_say_what_a_good_one_looks_like() {
        for text in [
            "printer",
            "tcp://",
            "tcp://host:port",
            "tcp://host:0",
            "tcp://host:70000",
            "serial://ttyUSB0",
            "serial:///dev/ttyUSB0?baud=fast",
            "serial:///dev/ttyUSB0?parity=even",
            "usb://0416",
            "usb://xyz:5011",
            "usb://12345:1",
            "file://relative/path",
            "lpt://1",
        ] {
            let message = PrinterUri::parse(text).unwrap_err().to_string();
            assert!(message.contains("write it like"), "{text}: {message}");
            assert!(message.contains("tcp://192.168.1.50:9100"), "{message}");
        }
    }
}
