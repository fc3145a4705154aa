//! The ticket printer: an ESC/POS thermal printer on the network (`tcp://`), a serial port,
//! USB or a device file, or a fake that keeps what it prints.
//!
//! What lives where:
//! * [`PrinterUri`] (`[printer] uri`) is read with the configuration, in [`super::spec`];
//! * [`render`]: a [`TicketPrint`] (every line already in the patient's language) into ESC/POS
//!   bytes; lines outside printable ASCII become images drawn by [`raster`];
//! * [`decode`]: ESC/POS bytes back into operations and a web preview (the demo's `/printer`
//!   page, and the tests);
//! * [`status`]: the real-time status bytes and the board's conditions;
//! * [`link`]: the connections to real printers;
//! * [`device`]: the [`Printer`] trait, [`EscPosPrinter`] and [`FakePrinter`];
//! * [`worker`]: the printer's thread with its job queue, and the [`PrinterHandle`] the rest
//!   of waitless holds.
//!
//! The web layer calls [`PrinterHandle::print_ticket`] and never waits for paper; the printer
//! thread reports on the [`super::DeviceBoard`] under the id `printer` (nothing for `none`).
//! The CLI's `waitless print-test` calls [`print_test`].

pub mod decode;
pub mod device;
pub mod link;
pub mod raster;
pub mod render;
pub mod status;
pub mod worker;

use serde::Serialize;

pub use crate::devices::spec::PrinterUri;
pub use decode::{Op, PreviewBlock, TextLine, decode, preview, text_lines};
pub use device::{EscPosPrinter, FakeJob, FakePrinter, Job, Printer};
pub use render::{render_test_page, render_ticket};
pub use status::PrinterState;
pub use worker::{PrinterHandle, PrinterSettings, print_test};

use super::DeviceError;

/// Paper width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Paper {
    /// 58 mm: 384 dots, 32 characters of font A.
    #[serde(rename = "58mm")]
    Mm58,
    /// 80 mm: 576 dots, 48 characters of font A.
    #[serde(rename = "80mm")]
    Mm80,
}

impl Paper {
    /// The paper for `paper_mm` (58 or 80).
    pub fn from_mm(mm: u16) -> Result<Self, DeviceError> {
        match mm {
            58 => Ok(Self::Mm58),
            80 => Ok(Self::Mm80),
            other => Err(DeviceError::Config(format!(
                "paper width {other} mm: use 58 or 80"
            ))),
        }
    }

    /// Width in millimetres.
    pub fn mm(self) -> u16 {
        match self {
            Self::Mm58 => 58,
            Self::Mm80 => 80,
        }
    }

    /// Printable width in dots (203 dpi).
    pub fn dots(self) -> u32 {
        match self {
            Self::Mm58 => 384,
            Self::Mm80 => 576,
        }
    }

    /// Characters of font A (12 dots) on a line.
    pub fn chars(self) -> u32 {
        self.dots() / 12
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
    /// Queued for a printer that gives no status (or has not yet given one): it is sent, but
    /// nobody can tell whether it comes out. A printer that accepts the connection and never
    /// reads looks like this until its buffers fill (then it is `stalled`, and tickets are
    /// `delayed`).
    Unconfirmed,
    /// Queued, but the printer is not ready: it prints when the printer comes back.
    Delayed,
    /// There is no printer (`none`).
    NoPrinter,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_widths() {
        assert_eq!(Paper::from_mm(58).unwrap().dots(), 384);
        assert_eq!(Paper::from_mm(58).unwrap().chars(), 32);
        assert_eq!(Paper::from_mm(80).unwrap().chars(), 48);
        assert!(Paper::from_mm(76).is_err());
    }
}
