//! The printer's condition: the real-time status bytes (`DLE EOT n`) and what the board shows.
//!
//! Three questions are asked: n = 1 (printer: bit 3 offline), n = 2 (offline cause: bit 2 cover
//! open, bit 5 paper end) and n = 4 (roll paper sensor: bits 2–3 near end, bits 5–6 paper out).
//! Each answer has the fixed pattern `0xx1xx10`; escpos's `RealTimeStatusResponse` checks it.
//! A printer that answers nothing is in a state of its own, [`PrinterState::Unknown`] (most USB
//! printers through `usblp`), not an error. A printer that takes no data
//! ([`PrinterState::Stalled`]), or that answered before and has stopped
//! ([`PrinterState::NotResponding`]), is one: nothing it is sent prints.

use escpos::utils::{RealTimeStatusRequest, RealTimeStatusResponse};

use crate::devices::{DeviceKind, DeviceStatus, Health};

/// The board id of the printer.
pub const PRINTER_ID: &str = "printer";

/// What the printer said about itself (or that it said nothing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrinterState {
    /// Ready.
    Ready,
    /// Ready, but the roll is nearly finished.
    PaperNearEnd,
    /// Offline for another reason (error, feed button held).
    Offline,
    /// The cover is open.
    CoverOpen,
    /// Out of paper.
    PaperOut,
    /// The printer gives no status (no answer in time, or garbage).
    Unknown(String),
    /// It cannot be reached (switched off, unplugged, wrong address).
    Unreachable(String),
    /// Before the first status: the printer's thread is connecting.
    Connecting,
    /// It accepts the connection but takes no data: a write made no progress for seconds.
    Stalled(String),
    /// It answered status requests before and has stopped answering.
    NotResponding(String),
}

impl PrinterState {
    /// Whether a job may be sent now: ready, near end, or unknown (we cannot tell, so we try).
    pub fn can_print(&self) -> bool {
        matches!(
            self,
            Self::Ready | Self::PaperNearEnd | Self::Unknown(_) | Self::Connecting
        )
    }

    /// Whether to send the waiting jobs now: when it can print, and when it has stalled
    /// (sending what is left is how to find out whether it takes data again).
    pub fn worth_sending(&self) -> bool {
        self.can_print() || matches!(self, Self::Stalled(_))
    }

    /// The board's health for it.
    pub fn health(&self) -> Health {
        match self {
            Self::Ready => Health::Ok,
            Self::PaperNearEnd => Health::Warning,
            Self::Unknown(_) | Self::Connecting => Health::Unknown,
            Self::Offline
            | Self::CoverOpen
            | Self::PaperOut
            | Self::Unreachable(_)
            | Self::Stalled(_)
            | Self::NotResponding(_) => Health::Error,
        }
    }

    /// The stable condition code the screens translate.
    pub fn condition(&self) -> &'static str {
        match self {
            Self::Ready => "ok",
            Self::PaperNearEnd => "paper-near-end",
            Self::Offline => "offline",
            Self::CoverOpen => "cover-open",
            Self::PaperOut => "paper-out",
            Self::Unknown(_) => "status-unknown",
            Self::Unreachable(_) => "unreachable",
            Self::Connecting => "connecting",
            Self::Stalled(_) => "stalled",
            Self::NotResponding(_) => "not-responding",
        }
    }

    /// Details in English, for the technical person.
    pub fn detail(&self) -> String {
        match self {
            Self::Ready => "ready".to_owned(),
            Self::PaperNearEnd => "the paper roll is nearly finished: change it soon".to_owned(),
            Self::Offline => {
                "the printer is offline (error, or the feed button is held)".to_owned()
            }
            Self::CoverOpen => "the cover is open: close it".to_owned(),
            Self::PaperOut => "out of paper: put in a new roll".to_owned(),
            Self::Connecting => "connecting to the printer".to_owned(),
            Self::Unknown(why)
            | Self::Unreachable(why)
            | Self::Stalled(why)
            | Self::NotResponding(why) => why.clone(),
        }
    }

    /// The board's entry for a printer called `name` with `queued` jobs waiting.
    pub fn to_status(&self, name: &str, queued: usize) -> DeviceStatus {
        let mut status = DeviceStatus::new(
            PRINTER_ID,
            DeviceKind::Printer,
            name,
            self.health(),
            self.condition(),
            self.detail(),
        );
        status.queued_jobs = Some(queued);
        status
    }

    /// The state from the three status bytes (n = 1, 2, 4); `None` for a byte not asked or not
    /// answered. A byte without the fixed pattern makes the state unknown.
    pub fn from_bytes(printer: u8, offline_cause: Option<u8>, paper: Option<u8>) -> Self {
        use RealTimeStatusResponse as R;
        let parse = |request, byte| RealTimeStatusResponse::parse(request, byte).ok();
        let Some(printer_bits) = parse(RealTimeStatusRequest::Printer, printer) else {
            return Self::Unknown(format!("the printer answered garbage ({printer:#04x})"));
        };
        let flag = |bits: &Option<std::collections::HashMap<R, bool>>, key| {
            bits.as_ref().and_then(|b| b.get(&key).copied())
        };
        let cause = offline_cause.and_then(|b| parse(RealTimeStatusRequest::OfflineCause, b));
        let roll = paper.and_then(|b| parse(RealTimeStatusRequest::RollPaperSensor, b));
        if flag(&cause, R::CoverClosed) == Some(false) {
            return Self::CoverOpen;
        }
        if flag(&cause, R::PrintingStopsDueToPaperEnd) == Some(true)
            || flag(&roll, R::RollPaperEndSensorPaperPresent) == Some(false)
        {
            return Self::PaperOut;
        }
        if printer_bits.get(&R::Online) == Some(&false) {
            return Self::Offline;
        }
        if flag(&roll, R::RollPaperNearEndSensorPaperAdequate) == Some(false) {
            return Self::PaperNearEnd;
        }
        Self::Ready
    }
}

/// Status bytes a printer in a given state answers, for fakes: (n = 1, n = 2, n = 4).
pub fn status_bytes(state: &PrinterState) -> (u8, u8, u8) {
    const BASE: u8 = 0b0001_0010;
    match state {
        PrinterState::Ready
        | PrinterState::Unknown(_)
        | PrinterState::Unreachable(_)
        | PrinterState::Connecting
        | PrinterState::Stalled(_)
        | PrinterState::NotResponding(_) => (BASE, BASE, BASE),
        PrinterState::PaperNearEnd => (BASE, BASE, BASE | 0b0000_1100),
        PrinterState::Offline => (BASE | 0b1000, BASE | 0b0100_0000, BASE),
        PrinterState::CoverOpen => (BASE | 0b1000, BASE | 0b0100, BASE),
        PrinterState::PaperOut => (BASE | 0b1000, BASE | 0b0010_0000, BASE | 0b0110_0000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_bytes_map_to_states() {
        let cases = [
            ((0x12, Some(0x12), Some(0x12)), PrinterState::Ready),
            ((0x12, None, None), PrinterState::Ready),
            ((0x1A, Some(0x16), Some(0x12)), PrinterState::CoverOpen),
            ((0x1A, Some(0x32), Some(0x72)), PrinterState::PaperOut),
            ((0x12, Some(0x12), Some(0x72)), PrinterState::PaperOut),
            ((0x1A, Some(0x52), Some(0x12)), PrinterState::Offline),
            ((0x12, Some(0x12), Some(0x1E)), PrinterState::PaperNearEnd),
            ((0x12, Some(0x12), Some(0x16)), PrinterState::PaperNearEnd),
        ];
        for ((p, c, r), want) in cases {
            assert_eq!(
                PrinterState::from_bytes(p, c, r),
                want,
                "{p:#x} {c:?} {r:?}"
            );
        }
        assert!(matches!(
            PrinterState::from_bytes(0xFF, None, None),
            PrinterState::Unknown(_)
        ));
    }

    #[test]
    fn fake_bytes_round_trip() {
        for state in [
            PrinterState::Ready,
            PrinterState::PaperNearEnd,
            PrinterState::Offline,
            PrinterState::CoverOpen,
            PrinterState::PaperOut,
        ] {
            let (p, c, r) = status_bytes(&state);
            assert_eq!(PrinterState::from_bytes(p, Some(c), Some(r)), state);
        }
    }

    #[test]
    fn states_map_to_board_conditions() {
        let status = PrinterState::PaperNearEnd.to_status("fake printer", 2);
        assert_eq!(status.id, "printer");
        assert_eq!(status.kind, DeviceKind::Printer);
        assert_eq!(status.health, Health::Warning);
        assert_eq!(status.condition, "paper-near-end");
        assert_eq!(status.queued_jobs, Some(2));
        let unknown = PrinterState::Unknown("no answer".into());
        assert_eq!(unknown.health(), Health::Unknown);
        assert_eq!(unknown.condition(), "status-unknown");
        assert!(unknown.can_print());
        assert!(!PrinterState::PaperOut.can_print());
        assert_eq!(
            PrinterState::Unreachable("x".into()).condition(),
            "unreachable"
        );
    }

    #[test]
    fn a_printer_that_takes_no_data_is_an_error_and_connecting_is_unknown() {
        let cases = [
            (
                PrinterState::Connecting,
                Health::Unknown,
                "connecting",
                true,
            ),
            (
                PrinterState::Stalled("full".into()),
                Health::Error,
                "stalled",
                false,
            ),
            (
                PrinterState::NotResponding("silent".into()),
                Health::Error,
                "not-responding",
                false,
            ),
        ];
        for (state, health, condition, can_print) in cases {
            assert_eq!(state.health(), health, "{state:?}");
            assert_eq!(state.condition(), condition);
            assert_eq!(state.can_print(), can_print, "{state:?}");
        }
        // Sending again is how a stalled printer is found to read again; a silent one waits.
        assert!(PrinterState::Stalled("full".into()).worth_sending());
        assert!(!PrinterState::NotResponding("silent".into()).worth_sending());
        assert!(!PrinterState::PaperOut.worth_sending());
    }
}
