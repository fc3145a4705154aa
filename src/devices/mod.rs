//! Devices: the hardware around the queue — the ESC/POS ticket printer, GPIO "Next" buttons,
//! serial pager/keypad receivers and USB keypads or foot pedals.
//!
//! Each device is a small synchronous trait (the capability: [`printer::Printer`],
//! [`button::Pin`], [`serial::SerialLink`], [`keys::KeySource`]) with its real driver and a fake
//! that ships in the binary, so a laptop (and every test) runs the whole appliance on fakes.
//! Each device lives on its own thread (escpos drivers are not `Send`), reports its condition to
//! the [`DeviceBoard`], and never takes the server down: a device that fails is reported,
//! retried, and the queue goes on without it.
//!
//! Their settings come from [`crate::config`] already parsed: the value types written as text
//! (printer URI, `room:action`, framing, key names, pull and level) live in [`spec`], a leaf
//! that the configuration imports, so no device code parses a setting.
//!
//! Inputs (buttons, pagers, keys) turn a press into a [`Binding`] (`room:action`) and hand it to
//! a [`PressSink`]; the real sink, [`EnginePresses`], sends it through the same command path as
//! the staff console, so the debounce window and undo apply and the event log records its
//! source.

pub mod button;
pub mod keys;
pub mod printer;
pub mod serial;
pub mod spec;

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use utoipa::ToSchema;

use crate::config::Config;
use crate::domain::{Origin, Source};
use crate::engine::{EngineHandle, Outcome};

pub use spec::{Binding, InputAction};

/// Why a device cannot do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The device is not there (unplugged, switched off, unreachable).
    #[error("{0}")]
    Unavailable(String),
    /// The device accepts the connection but takes no data (a printer whose buffers are full
    /// and stay full).
    #[error("{0}")]
    Stalled(String),
    /// Reading or writing failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The device's configuration is wrong (bad URI, unknown key name...).
    #[error("{0}")]
    Config(String),
    /// The device answered something that makes no sense.
    #[error("{0}")]
    Protocol(String),
    /// This build or this machine cannot drive the device (GPIO off a Pi, no evdev).
    #[error("{0}")]
    Unsupported(String),
}

impl From<spec::SpecError> for DeviceError {
    fn from(e: spec::SpecError) -> Self {
        Self::Config(e.0)
    }
}

impl DeviceError {
    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

/// How a device is doing, in one word for the screens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Working.
    Ok,
    /// Working, but needs attention soon (paper near end).
    Warning,
    /// Not working (offline, paper out, cover open, unplugged).
    Error,
    /// It cannot tell (many USB printers give no status).
    Unknown,
    /// Not available on this machine or build (GPIO off a Pi).
    Unavailable,
}

/// What kind of device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// The ticket printer.
    Printer,
    /// A GPIO push button.
    Button,
    /// A room's call LED on a GPIO pin.
    Led,
    /// A serial pager or keypad receiver.
    Serial,
    /// A USB keypad or foot pedal.
    Keypad,
    /// The link to the central database (`[central]`, not a device on this box).
    Central,
    /// A notifications transport (`notify-sms`, `notify-email`: a modem, a gateway, SMTP).
    Notifications,
}

/// A device's condition, as the API, the kiosk and the staff console show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeviceStatus {
    /// Stable id: `printer`, `button-17`, `serial-ttyUSB0`, `keypad-0`.
    pub id: String,
    /// What kind of device.
    pub kind: DeviceKind,
    /// What it is, for people: `ESC/POS printer tcp://10.0.0.9:9100`.
    pub name: String,
    /// How it is doing.
    pub health: Health,
    /// A stable kebab-case code the screens translate: `ok`, `offline`, `paper-out`,
    /// `paper-near-end`, `cover-open`, `status-unknown`, `disconnected`, `unavailable`...
    pub condition: String,
    /// Details in English for the technical person (the error, the port).
    pub detail: String,
    /// Print jobs waiting (printers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_jobs: Option<usize>,
    /// How shipping to the central database goes (`central` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub central: Option<crate::central::CentralStatus>,
    /// The transport's own report (`notifications` only; `None` when it tells nothing).
    /// Reported by the running senders, never read back.
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<Box<crate::notify::transport::TransportHealth>>,
}

impl DeviceStatus {
    /// A status.
    pub fn new(
        id: impl Into<String>,
        kind: DeviceKind,
        name: impl Into<String>,
        health: Health,
        condition: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            kind,
            name: name.into(),
            health,
            condition: condition.into(),
            detail: detail.into(),
            queued_jobs: None,
            central: None,
            notifications: None,
        }
    }
}

/// Device status changes kept for slow subscribers.
const BOARD_CAPACITY: usize = 64;

/// Every device's latest status, and a broadcast of each change. Device threads report here;
/// the API and the WebSocket stream read it.
#[derive(Debug)]
pub struct DeviceBoard {
    statuses: RwLock<BTreeMap<String, DeviceStatus>>,
    changes: broadcast::Sender<DeviceStatus>,
}

impl Default for DeviceBoard {
    fn default() -> Self {
        Self::new()
    }
}

impl DeviceBoard {
    /// An empty board.
    pub fn new() -> Self {
        Self {
            statuses: RwLock::new(BTreeMap::new()),
            changes: broadcast::channel(BOARD_CAPACITY).0,
        }
    }

    /// Records a device's status. A change is logged (warnings and errors as warnings) and
    /// broadcast; the same status again is neither.
    pub fn report(&self, status: DeviceStatus) {
        let mut statuses = self
            .statuses
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let previous = statuses.insert(status.id.clone(), status.clone());
        let same_condition = previous.as_ref().is_some_and(|p| {
            p.health == status.health
                && p.condition == status.condition
                && p.detail == status.detail
        });
        if previous.as_ref() == Some(&status) {
            return;
        }
        if !same_condition {
            match status.health {
                Health::Ok | Health::Unknown => tracing::info!(
                    device = %status.id,
                    condition = %status.condition,
                    "{}: {}",
                    status.name,
                    status.detail
                ),
                Health::Warning | Health::Error | Health::Unavailable => tracing::warn!(
                    device = %status.id,
                    condition = %status.condition,
                    "{}: {}",
                    status.name,
                    status.detail
                ),
            }
        }
        // Nobody listening is fine.
        let _ = self.changes.send(status);
    }

    /// Every device's status, by id.
    pub fn all(&self) -> Vec<DeviceStatus> {
        self.statuses
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// One device's status.
    pub fn get(&self, id: &str) -> Option<DeviceStatus> {
        self.statuses
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    /// Status changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<DeviceStatus> {
        self.changes.subscribe()
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Waiting helpers for the device threads' unit tests (poll with a deadline, no sleeps).

    use std::time::{Duration, Instant};

    use super::{Binding, DeviceBoard, DeviceStatus, RecordedPresses};
    use crate::domain::Source;

    const PATIENCE: Duration = Duration::from_secs(10);

    /// Waits until `presses` has `n` presses; returns them all.
    pub(crate) fn presses(presses: &RecordedPresses, n: usize) -> Vec<(Binding, Source, String)> {
        presses
            .wait_for(n, PATIENCE)
            .unwrap_or_else(|| panic!("only {:?}", presses.presses()))
    }

    /// Waits until the board shows device `id` in `condition`; returns its status.
    pub(crate) fn condition(board: &DeviceBoard, id: &str, condition: &str) -> DeviceStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = board.get(id).filter(|s| s.condition == condition) {
                return status;
            }
            assert!(Instant::now() < deadline, "{:?}", board.get(id));
            std::thread::yield_now();
        }
    }
}

/// Where inputs send their presses. Called from device threads; must not block for long.
pub trait PressSink: Send + Sync {
    /// A press from `source`, by the device named `actor` (`gpio17`, `serial-ttyUSB0`).
    fn press(&self, binding: &Binding, source: Source, actor: &str);
}

/// The real sink: sends each press to the engine, like a staff console button, and logs what
/// came of it. The device thread waits until the command is committed (a few milliseconds).
#[derive(Clone, Debug)]
pub struct EnginePresses {
    engine: EngineHandle,
}

impl EnginePresses {
    /// A sink over the engine.
    pub fn new(engine: EngineHandle) -> Self {
        Self { engine }
    }
}

impl PressSink for EnginePresses {
    fn press(&self, binding: &Binding, source: Source, actor: &str) {
        let origin = Origin::new(source, actor);
        let label = format!("{binding} from {actor}");
        match self.engine.execute_blocking(binding.command(), origin) {
            Ok(Outcome::Applied(applied)) => {
                tracing::info!(seq = applied.event.seq, "{label}: done");
            }
            Ok(Outcome::Debounced { .. }) => {
                tracing::info!("{label}: ignored (pressed again within the debounce window)");
            }
            Ok(other) => tracing::info!("{label}: {other:?}"),
            Err(e) => tracing::warn!("{label}: refused: {e}"),
        }
    }
}

/// A sink that remembers presses (tests, `devices learn`).
#[derive(Clone, Debug, Default)]
pub struct RecordedPresses {
    presses: Arc<std::sync::Mutex<Vec<(Binding, Source, String)>>>,
}

impl RecordedPresses {
    /// Every press so far.
    pub fn presses(&self) -> Vec<(Binding, Source, String)> {
        self.presses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl RecordedPresses {
    /// Waits (spinning, up to `within`) until there are at least `n` presses; returns them all.
    /// `None` when they did not come in time.
    pub fn wait_for(
        &self,
        n: usize,
        within: std::time::Duration,
    ) -> Option<Vec<(Binding, Source, String)>> {
        let deadline = std::time::Instant::now() + within;
        loop {
            let seen = self.presses();
            if seen.len() >= n {
                return Some(seen);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::yield_now();
        }
    }
}

impl PressSink for RecordedPresses {
    fn press(&self, binding: &Binding, source: Source, actor: &str) {
        self.presses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((binding.clone(), source, actor.to_owned()));
    }
}

/// The running inputs: GPIO buttons and LEDs, serial receivers, keypads.
#[derive(Debug)]
pub struct Inputs {
    gpio: button::GpioHandle,
    receivers: Vec<serial::ReceiverHandle>,
    keypads: Vec<keys::KeypadHandle>,
}

impl Inputs {
    /// Stops every input's thread.
    pub fn stop(self) {
        self.gpio.stop();
        for r in &self.receivers {
            r.stop();
        }
        // A keypad stops when its handle is dropped.
        drop(self.keypads);
    }
}

/// Starts every configured input, sending presses to `sink`, and — when rooms have LEDs —
/// a task that blinks a room's LED when it calls a ticket. Problems are reported on the
/// board, never fatal. Must run inside the async runtime (for the LED task).
pub fn start_inputs(
    config: &Config,
    sink: Arc<dyn PressSink>,
    board: Arc<DeviceBoard>,
    hub: &Arc<crate::hub::Hub>,
) -> Inputs {
    let gpio = button::spawn_gpio(&config.gpio, Arc::clone(&sink), Arc::clone(&board));
    if !config.gpio.leds.is_empty() {
        actix_web::rt::spawn(blink_on_calls(Arc::clone(hub), gpio.clone()));
    }
    Inputs {
        gpio,
        receivers: serial::spawn_receivers(&config.serial, Arc::clone(&sink), Arc::clone(&board)),
        keypads: keys::spawn_keypads(&config.keys, sink, board),
    }
}

/// Every room the configuration's inputs name (buttons, LEDs, pager codes, keys), for a
/// check against the clinic's rooms at start.
pub fn configured_rooms(config: &Config) -> Vec<String> {
    let mut rooms: Vec<String> = config
        .gpio
        .buttons
        .iter()
        .map(|b| &b.room)
        .chain(config.gpio.leds.iter().map(|l| &l.room))
        .chain(
            config
                .serial
                .receivers
                .iter()
                .flat_map(|r| r.codes.values())
                .chain(config.keys.devices.iter().flat_map(|k| k.keys.values()))
                .map(|binding| &binding.room),
        )
        .map(ToString::to_string)
        .collect();
    rooms.sort();
    rooms.dedup();
    rooms
}

/// Blinks a room's LED each time the room calls (or recalls) a ticket, until the hub closes.
async fn blink_on_calls(hub: Arc<crate::hub::Hub>, gpio: button::GpioHandle) {
    use crate::domain::EventKind;
    let mut events = hub.tail();
    while let Some(event) = events.next().await {
        match &event.kind {
            EventKind::RoomNext {
                room,
                called: Some(_),
                ..
            }
            | EventKind::TicketRecalled { room, .. } => gpio.blink(room),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn board_broadcasts_changes_only() {
        let board = DeviceBoard::new();
        let mut changes = board.subscribe();
        let status =
            DeviceStatus::new("printer", DeviceKind::Printer, "fake", Health::Ok, "ok", "");
        board.report(status.clone());
        board.report(status.clone());
        let mut paper_out = status.clone();
        paper_out.health = Health::Error;
        paper_out.condition = "paper-out".to_owned();
        board.report(paper_out.clone());
        assert_eq!(changes.try_recv().unwrap(), status);
        assert_eq!(changes.try_recv().unwrap(), paper_out);
        assert!(changes.try_recv().is_err());
        assert_eq!(board.get("printer"), Some(paper_out));
    }
}
