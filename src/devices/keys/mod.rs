//! USB keypads and foot pedals: Linux input devices (evdev) whose keys act on rooms.
//!
//! Owns: the per-device key map
//! ([`KeyMap`]: key → `room:action`), the [`KeySource`] capability with the real driver
//! ([`EvdevKeys`]) and a channel-fed fake ([`FakeKeys`]), and one thread per configured device
//! ([`spawn_keypads`]) that opens it, hands each mapped key-down to the [`PressSink`] (source
//! [`Source::Keypad`], actor `keypad:<device name>:<KEY_X>`), and when the device is unplugged
//! reports it and looks for it again every `rescan_secs` until it is back.
//!
//! Only key-down events (value 1) press; autorepeat (2) and release (0) are ignored, so holding
//! a pedal calls one ticket. Keys that are not mapped are logged at debug level and ignored.
//!
//! Statuses: `keypad-<index>` (index in `[[keys.devices]]`), kind [`DeviceKind::Keypad`],
//! conditions `ok`, `not-found` (not plugged in, or no device by that name), `open-failed`
//! (there but cannot be opened or grabbed: permissions, another program) and `disconnected`
//! (unplugged while in use). None of them stops the server.

mod evdev_keys;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use crate::config::{KeypadConfig, KeysConfig};
use crate::devices::{
    Binding, DeviceBoard, DeviceError, DeviceKind, DeviceStatus, Health, PressSink,
};
use crate::domain::Source;

pub use crate::devices::spec::{KeyName, key_code, key_name};
pub use evdev_keys::{EvdevKeys, InputDeviceInfo, list_input_devices};

/// A key event from an input device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyEvent {
    /// The Linux key code.
    pub code: u16,
    /// 1 pressed, 0 released, 2 autorepeat.
    pub value: i32,
}

impl KeyEvent {
    /// The key went down.
    pub const PRESS: i32 = 1;
    /// The key came up.
    pub const RELEASE: i32 = 0;
    /// The key is held and the keyboard repeats it.
    pub const REPEAT: i32 = 2;

    /// A key-down of `code`.
    pub fn press(code: u16) -> Self {
        Self {
            code,
            value: Self::PRESS,
        }
    }
}

/// What each key of one device does.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyMap {
    keys: BTreeMap<u16, (String, Binding)>,
}

impl KeyMap {
    /// The map of a configured device. A key written twice (`b` and `KEY_B`) keeps its last
    /// entry, with a warning.
    pub fn from_config(config: &KeypadConfig) -> Self {
        let mut keys = BTreeMap::new();
        for (name, binding) in &config.keys {
            let code = name.code();
            if let Some((_, old)) = keys.insert(code, (key_name(code), binding.clone())) {
                tracing::warn!(
                    "keypad {}: {name} is mapped twice; {old} is replaced",
                    config.device
                );
            }
        }
        Self { keys }
    }

    /// What `event` does: the key's name and binding for a mapped key-down; `None` for
    /// releases, autorepeats and keys that are not mapped.
    pub fn binding(&self, event: KeyEvent) -> Option<(&str, &Binding)> {
        if event.value != KeyEvent::PRESS {
            return None;
        }
        self.keys
            .get(&event.code)
            .map(|(name, binding)| (name.as_str(), binding))
    }

    /// No key is mapped.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// A source of key events: an input device.
pub trait KeySource: Send {
    /// The device's name, for people and for the press's actor.
    fn name(&self) -> &str;

    /// Waits at most `timeout` for the next key event; `Ok(None)` when none came. An error
    /// means the device is gone (unplugged) and this source is done.
    fn next_key(&mut self, timeout: Duration) -> Result<Option<KeyEvent>, DeviceError>;
}

/// A key source fed by a [`FakeKeysDriver`], for tests and the demo mode.
pub struct FakeKeys {
    name: String,
    events: Receiver<Option<KeyEvent>>,
}

/// Feeds a [`FakeKeys`]. Dropping every driver unplugs the fake.
#[derive(Clone, Debug)]
pub struct FakeKeysDriver {
    events: Sender<Option<KeyEvent>>,
}

impl FakeKeys {
    /// A fake device called `name`, and its driver.
    pub fn new(name: impl Into<String>) -> (Self, FakeKeysDriver) {
        let (tx, rx) = mpsc::channel();
        (
            Self {
                name: name.into(),
                events: rx,
            },
            FakeKeysDriver { events: tx },
        )
    }
}

impl FakeKeysDriver {
    /// Sends a key event (`value` 1 press, 0 release, 2 repeat).
    pub fn send(&self, code: u16, value: i32) {
        // An unplugged fake needs no more events.
        let _ = self.events.send(Some(KeyEvent { code, value }));
    }

    /// A key-down then key-up of `code`.
    pub fn tap(&self, code: u16) {
        self.send(code, KeyEvent::PRESS);
        self.send(code, KeyEvent::RELEASE);
    }

    /// The device is unplugged: after the events already sent, it reports itself gone.
    pub fn unplug(&self) {
        let _ = self.events.send(None);
    }
}

impl KeySource for FakeKeys {
    fn name(&self) -> &str {
        &self.name
    }

    fn next_key(&mut self, timeout: Duration) -> Result<Option<KeyEvent>, DeviceError> {
        match self.events.recv_timeout(timeout) {
            Ok(Some(event)) => Ok(Some(event)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Ok(None) | Err(RecvTimeoutError::Disconnected) => Err(DeviceError::Unavailable(
                format!("{} was unplugged", self.name),
            )),
        }
    }
}

/// A running keypad. Dropping it stops its thread (within a fraction of a second).
#[must_use = "dropping a KeypadHandle stops the keypad"]
#[derive(Debug)]
pub struct KeypadHandle {
    id: String,
    _stop: Sender<()>,
}

impl KeypadHandle {
    /// Its status id on the board: `keypad-<index>`.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Never rescan faster than this, whatever `rescan_secs` says (0 is "as fast as sensible").
pub const MIN_RESCAN: Duration = Duration::from_millis(50);

/// How long a keypad thread waits for a key before checking whether it should stop.
const READ_WAIT: Duration = Duration::from_millis(200);

/// Starts a thread per configured keypad or pedal, reading it through evdev. Never fails: a
/// device that is not there, or goes away, is reported on `board` and looked for again.
#[must_use = "dropping the handles stops the keypads"]
pub fn spawn_keypads(
    config: &KeysConfig,
    sink: Arc<dyn PressSink>,
    board: Arc<DeviceBoard>,
) -> Vec<KeypadHandle> {
    spawn_keypads_with(
        config,
        |k| EvdevKeys::open(k).map(|s| Box::new(s) as Box<dyn KeySource>),
        sink,
        board,
    )
}

/// [`spawn_keypads`] with the devices opened by `open` (called again at each rescan), so
/// tests and the demo mode use fakes. An [`DeviceError::Unavailable`] from `open` is
/// reported as `not-found`, any other error as `open-failed`.
#[must_use = "dropping the handles stops the keypads"]
pub fn spawn_keypads_with(
    config: &KeysConfig,
    open: impl Fn(&KeypadConfig) -> Result<Box<dyn KeySource>, DeviceError> + Send + Sync + 'static,
    sink: Arc<dyn PressSink>,
    board: Arc<DeviceBoard>,
) -> Vec<KeypadHandle> {
    let open: Arc<OpenKeys> = Arc::new(open);
    let rescan = Duration::from_secs(config.rescan_secs).max(MIN_RESCAN);
    let mut handles = Vec::new();
    for (index, device) in config.devices.iter().enumerate() {
        let id = format!("keypad-{index}");
        let (stop_tx, stop_rx) = mpsc::channel();
        let worker = KeypadWorker {
            map: KeyMap::from_config(device),
            config: device.clone(),
            id: id.clone(),
            name: format!("USB keypad {}", device.device),
            rescan,
            open: Arc::clone(&open),
            sink: Arc::clone(&sink),
            board: Arc::clone(&board),
            stop: stop_rx,
        };
        let name = worker.name.clone();
        match std::thread::Builder::new()
            .name(id.clone())
            .spawn(move || worker.run())
        {
            Ok(_) => handles.push(KeypadHandle { id, _stop: stop_tx }),
            Err(e) => board.report(DeviceStatus::new(
                id,
                DeviceKind::Keypad,
                name,
                Health::Error,
                "open-failed",
                format!("cannot start its thread: {e}"),
            )),
        }
    }
    handles
}

/// Opens a configured device.
type OpenKeys = dyn Fn(&KeypadConfig) -> Result<Box<dyn KeySource>, DeviceError> + Send + Sync;

/// Everything a keypad's thread needs.
struct KeypadWorker {
    map: KeyMap,
    config: KeypadConfig,
    id: String,
    name: String,
    rescan: Duration,
    open: Arc<OpenKeys>,
    sink: Arc<dyn PressSink>,
    board: Arc<DeviceBoard>,
    stop: Receiver<()>,
}

impl KeypadWorker {
    fn report(&self, health: Health, condition: &str, detail: String) {
        self.board.report(DeviceStatus::new(
            self.id.clone(),
            DeviceKind::Keypad,
            self.name.clone(),
            health,
            condition,
            detail,
        ));
    }

    /// The handle was dropped.
    fn stopped(&self) -> bool {
        matches!(self.stop.try_recv(), Err(mpsc::TryRecvError::Disconnected))
    }

    fn run(self) {
        let again = format!("looking for it again every {} s", self.rescan.as_secs_f32());
        loop {
            match (self.open)(&self.config) {
                Ok(source) => {
                    self.report(
                        Health::Ok,
                        "ok",
                        format!("reading {} ({})", source.name(), self.config.device),
                    );
                    match self.serve(source) {
                        Some(e) => {
                            self.report(Health::Error, "disconnected", format!("{e}; {again}"))
                        }
                        None => return,
                    }
                }
                Err(DeviceError::Unavailable(why)) => {
                    self.report(Health::Error, "not-found", format!("{why}; {again}"));
                }
                Err(e) => self.report(Health::Error, "open-failed", format!("{e}; {again}")),
            }
            match self.stop.recv_timeout(self.rescan) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// Reads `source` until it fails (returns why) or the handle is dropped (`None`).
    fn serve(&self, mut source: Box<dyn KeySource>) -> Option<DeviceError> {
        while !self.stopped() {
            match source.next_key(READ_WAIT) {
                Ok(Some(event)) => self.on_key(source.name(), event),
                Ok(None) => {}
                Err(e) => return Some(e),
            }
        }
        None
    }

    fn on_key(&self, device: &str, event: KeyEvent) {
        match self.map.binding(event) {
            Some((key, binding)) => {
                let actor = format!("keypad:{device}:{key}");
                tracing::debug!("{actor}: {binding}");
                self.sink.press(binding, Source::Keypad, &actor);
            }
            None if event.value == KeyEvent::PRESS => {
                tracing::debug!("{}: {} is not mapped", self.name, key_name(event.code));
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Instant;

    use super::*;
    use crate::devices::RecordedPresses;

    const KEY_A: u16 = 30;
    const KEY_B: u16 = 48;
    const KEY_C: u16 = 46;

    fn keypad(device: &str, keys: &[(&str, &str)]) -> KeypadConfig {
        KeypadConfig {
            device: device.to_owned(),
            grab: true,
            keys: keys
                .iter()
                .map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap()))
                .collect(),
        }
    }

    fn keys(devices: Vec<KeypadConfig>) -> KeysConfig {
        KeysConfig {
            rescan_secs: 0,
            devices,
        }
    }

    /// A factory handing out the given sources in turn, then "not found".
    fn sources(
        list: Vec<FakeKeys>,
    ) -> impl Fn(&KeypadConfig) -> Result<Box<dyn KeySource>, DeviceError> + Send + Sync + 'static
    {
        let list = Mutex::new(list.into_iter().collect::<std::collections::VecDeque<_>>());
        move |_| match list.lock().unwrap().pop_front() {
            Some(fake) => Ok(Box::new(fake) as Box<dyn KeySource>),
            None => Err(DeviceError::Unavailable("not plugged in".to_owned())),
        }
    }

    #[test]
    fn key_map_presses_on_key_down_only() {
        let map = KeyMap::from_config(&keypad(
            "pedal",
            &[("KEY_B", "room-1:next"), ("a", "room-1:recall")],
        ));
        let (name, binding) = map.binding(KeyEvent::press(KEY_B)).unwrap();
        assert_eq!(
            (name, binding.to_string().as_str()),
            ("KEY_B", "room-1:next")
        );
        let (name, binding) = map.binding(KeyEvent::press(KEY_A)).unwrap();
        assert_eq!(
            (name, binding.to_string().as_str()),
            ("KEY_A", "room-1:recall")
        );
        for ignored in [
            KeyEvent {
                code: KEY_B,
                value: KeyEvent::REPEAT,
            },
            KeyEvent {
                code: KEY_B,
                value: KeyEvent::RELEASE,
            },
            KeyEvent::press(KEY_C),
        ] {
            assert_eq!(map.binding(ignored), None, "{ignored:?}");
        }
    }

    #[test]
    fn synthetic_events_press_once_per_key_down() {
        let presses = RecordedPresses::default();
        let board = Arc::new(DeviceBoard::new());
        let (fake, driver) = FakeKeys::new("PCsensor FootSwitch");
        let config = keys(vec![keypad("pedal", &[("KEY_B", "room-1:next")])]);
        let handles = spawn_keypads_with(
            &config,
            sources(vec![fake]),
            Arc::new(presses.clone()),
            Arc::clone(&board),
        );
        assert_eq!(handles[0].id(), "keypad-0");
        // Down, autorepeat, up; an unmapped key; then another press of the mapped one.
        driver.send(KEY_B, KeyEvent::PRESS);
        driver.send(KEY_B, KeyEvent::REPEAT);
        driver.send(KEY_B, KeyEvent::REPEAT);
        driver.send(KEY_B, KeyEvent::RELEASE);
        driver.tap(KEY_C);
        driver.tap(KEY_B);
        let seen = crate::devices::testing::presses(&presses, 2);
        let expected = (
            "room-1:next".parse::<Binding>().unwrap(),
            Source::Keypad,
            "keypad:PCsensor FootSwitch:KEY_B".to_owned(),
        );
        assert_eq!(seen, vec![expected.clone(), expected]);
        let status = board.get("keypad-0").unwrap();
        assert_eq!(
            (status.kind, status.health, status.condition.as_str()),
            (DeviceKind::Keypad, Health::Ok, "ok")
        );
        drop(handles);
    }

    #[test]
    fn unplugged_keypad_is_disconnected_then_ok_again_when_back() {
        let presses = RecordedPresses::default();
        let board = Arc::new(DeviceBoard::new());
        let (first, first_driver) = FakeKeys::new("pedal");
        let (second, second_driver) = FakeKeys::new("pedal");
        let config = keys(vec![keypad("pedal", &[("space", "room-2:next")])]);
        let mut changes = board.subscribe();
        let _handles = spawn_keypads_with(
            &config,
            sources(vec![first, second]),
            Arc::new(presses.clone()),
            Arc::clone(&board),
        );
        first_driver.tap(57);
        crate::devices::testing::presses(&presses, 1);
        first_driver.unplug();
        // It goes: ok, disconnected, ok (the second source).
        let mut conditions = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while conditions.len() < 3 {
            assert!(Instant::now() < deadline, "{conditions:?}");
            match changes.try_recv() {
                Ok(status) => conditions.push(status.condition),
                Err(_) => std::thread::yield_now(),
            }
        }
        assert_eq!(conditions, ["ok", "disconnected", "ok"]);
        second_driver.tap(57);
        let seen = crate::devices::testing::presses(&presses, 2);
        assert_eq!(seen[1].0.to_string(), "room-2:next");
        assert_eq!(seen[1].2, "keypad:pedal:KEY_SPACE");
        // Unplugged again with nothing to replace it: not found, and it keeps looking.
        drop(second_driver);
        let status = crate::devices::testing::condition(&board, "keypad-0", "not-found");
        assert_eq!(status.health, Health::Error);
        assert!(
            status.detail.contains("looking for it again"),
            "{}",
            status.detail
        );
    }

    #[test]
    fn open_errors_other_than_absence_are_open_failed() {
        let board = Arc::new(DeviceBoard::new());
        let _handles = spawn_keypads_with(
            &keys(vec![keypad("/dev/input/event3", &[])]),
            |_| {
                Err(DeviceError::io(
                    "cannot open /dev/input/event3",
                    std::io::Error::from(std::io::ErrorKind::PermissionDenied),
                ))
            },
            Arc::new(RecordedPresses::default()),
            Arc::clone(&board),
        );
        crate::devices::testing::condition(&board, "keypad-0", "open-failed");
    }

    #[test]
    fn a_missing_evdev_device_is_not_found_and_nothing_panics() {
        let board = Arc::new(DeviceBoard::new());
        let config = keys(vec![
            keypad(
                "/dev/input/by-id/usb-nothing-here-event-kbd",
                &[("b", "room-1:next")],
            ),
            keypad("No Such Foot Switch", &[("b", "room-1:next")]),
        ]);
        let handles = spawn_keypads(
            &config,
            Arc::new(RecordedPresses::default()),
            Arc::clone(&board),
        );
        assert_eq!(handles.len(), 2);
        let by_path = crate::devices::testing::condition(&board, "keypad-0", "not-found");
        assert!(
            by_path.detail.contains("usb-nothing-here"),
            "{}",
            by_path.detail
        );
        let by_name = crate::devices::testing::condition(&board, "keypad-1", "not-found");
        assert!(
            by_name.detail.contains("No Such Foot Switch"),
            "{}",
            by_name.detail
        );
        assert_eq!(by_name.name, "USB keypad No Such Foot Switch");
    }
}
