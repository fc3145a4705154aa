//! The ticket printer. (Skeleton: the printer helper fills this in.)

use std::sync::Arc;

use serde::Serialize;

use super::{DeviceBoard, DeviceError, DeviceStatus};
use crate::config::PrinterConfig;

/// Where the printer is, from `[printer] uri`.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    File(std::path::PathBuf),
    /// `fake`: keeps the tickets in memory.
    Fake,
    /// `none`.
    None,
}

impl PrinterUri {
    /// Parses a URI.
    pub fn parse(uri: &str) -> Result<Self, DeviceError> {
        match uri {
            "fake" => Ok(Self::Fake),
            "none" => Ok(Self::None),
            other => Err(DeviceError::Config(format!(
                "unknown printer URI {other:?}"
            ))),
        }
    }
}

/// What a ticket says, every line already in the patient's language.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TicketPrint {
    /// Language code of the lines (`en`, `hi`).
    pub lang: String,
    /// The clinic's name.
    pub clinic: String,
    /// The token number (`A042`).
    pub number: String,
    /// The service's name.
    pub service: String,
    /// When it was issued, local date and time as printed.
    pub issued: String,
    /// "3 people ahead of you".
    pub ahead: String,
    /// "Estimated wait: 10–20 min", if there is an estimate.
    pub wait: Option<String>,
    /// The patient's status page, for the QR code.
    pub status_url: Option<String>,
    /// The line under the QR code ("Scan to follow your turn").
    pub scan_hint: Option<String>,
    /// The configured footer (may be empty).
    pub footer: String,
}

/// What became of a print request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrintOutcome {
    /// Queued for the printer (which looked ready).
    Queued,
    /// Queued, but the printer is not ready: it prints when the printer comes back.
    Delayed,
    /// There is no printer (`none`).
    NoPrinter,
}

/// A cloneable handle to the printer's thread.
#[derive(Clone, Debug)]
pub struct PrinterHandle {
    board: Arc<DeviceBoard>,
}

impl PrinterHandle {
    /// Starts the printer's thread as configured.
    pub fn start(_config: &PrinterConfig, board: Arc<DeviceBoard>) -> Result<Self, DeviceError> {
        Ok(Self { board })
    }

    /// Queues a ticket. Never waits for the printer.
    pub fn print_ticket(&self, _ticket: &TicketPrint) -> PrintOutcome {
        PrintOutcome::NoPrinter
    }

    /// Queues the test page.
    pub fn print_test_page(&self) -> PrintOutcome {
        PrintOutcome::NoPrinter
    }

    /// Stops the printer's thread.
    pub fn stop(&self) {}

    /// The printer's status, if there is a printer.
    pub fn status(&self) -> Option<DeviceStatus> {
        self.board.get("printer")
    }
}
