//! The real [`KeySource`]: a Linux input device read through the evdev crate, and the list of
//! input devices for `waitless devices list`.
//!
//! A reader thread blocks in `fetch_events` and forwards key events through a channel, so
//! [`KeySource::next_key`] can wait with a timeout. When the device is unplugged the read fails
//! (ENODEV): the error is forwarded and the reader ends. When an [`EvdevKeys`] is dropped while
//! its device is still there, the reader ends at the device's next event (or with the process).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use ::evdev::{Device, EventSummary};
use serde::Serialize;

use super::{KeyEvent, KeySource};
use crate::config::KeypadConfig;
use crate::devices::DeviceError;

/// Where stable names of input devices live.
const BY_ID: &str = "/dev/input/by-id";

/// A USB keypad or foot pedal read through evdev.
pub struct EvdevKeys {
    name: String,
    path: PathBuf,
    events: Receiver<io::Result<KeyEvent>>,
}

impl EvdevKeys {
    /// Opens the configured device — by path when `device` is one (it has a `/`), else the
    /// input device whose name is `device` (exactly, else ignoring case) — grabs it when
    /// configured, and starts reading it.
    ///
    /// A device that is not there is [`DeviceError::Unavailable`]; one that is there but
    /// cannot be opened or grabbed is [`DeviceError::Io`].
    pub fn open(config: &KeypadConfig) -> Result<Self, DeviceError> {
        let (path, mut device) = find(&config.device)?;
        let name = device
            .name()
            .map_or_else(|| path.display().to_string(), str::to_owned);
        if config.grab {
            device.grab().map_err(|e| {
                DeviceError::io(
                    format!(
                        "cannot take {name} ({}) for waitless alone (another program has it?)",
                        path.display()
                    ),
                    e,
                )
            })?;
        }
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("keypad-read".to_owned())
            .spawn(move || read_events(device, &tx))
            .map_err(|e| DeviceError::io(format!("cannot start reading {name}"), e))?;
        Ok(Self {
            name,
            path,
            events: rx,
        })
    }

    /// The device node it reads.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl KeySource for EvdevKeys {
    fn name(&self) -> &str {
        &self.name
    }

    fn next_key(&mut self, timeout: Duration) -> Result<Option<KeyEvent>, DeviceError> {
        match self.events.recv_timeout(timeout) {
            Ok(Ok(event)) => Ok(Some(event)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Ok(Err(e)) => Err(DeviceError::io(
                format!(
                    "{} ({}) was unplugged or failed",
                    self.name,
                    self.path.display()
                ),
                e,
            )),
            Err(RecvTimeoutError::Disconnected) => Err(DeviceError::Unavailable(format!(
                "{} ({}) stopped",
                self.name,
                self.path.display()
            ))),
        }
    }
}

/// Forwards key events until the device fails or nobody listens.
fn read_events(mut device: Device, events: &Sender<io::Result<KeyEvent>>) {
    loop {
        match device.fetch_events() {
            Ok(batch) => {
                for event in batch {
                    if let EventSummary::Key(_, code, value) = event.destructure() {
                        let key = KeyEvent {
                            code: code.code(),
                            value,
                        };
                        if events.send(Ok(key)).is_err() {
                            return;
                        }
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = events.send(Err(e));
                return;
            }
        }
    }
}

/// The device at a path, or named so.
fn find(device: &str) -> Result<(PathBuf, Device), DeviceError> {
    if device.contains('/') {
        return match Device::open(device) {
            Ok(d) => Ok((PathBuf::from(device), d)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(DeviceError::Unavailable(
                format!("{device} is not there (unplugged?)"),
            )),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Err(DeviceError::io(
                format!(
                    "cannot open {device}: waitless may not read input devices (add its user \
                     to the `input` group)"
                ),
                e,
            )),
            Err(e) => Err(DeviceError::io(format!("cannot open {device}"), e)),
        };
    }
    let mut devices: Vec<(PathBuf, Device)> = ::evdev::enumerate().collect();
    let exact = devices.iter().position(|(_, d)| d.name() == Some(device));
    let loose = || {
        devices.iter().position(|(_, d)| {
            d.name()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case(device.trim()))
        })
    };
    match exact.or_else(loose) {
        Some(i) => Ok(devices.swap_remove(i)),
        None => Err(DeviceError::Unavailable(format!(
            "no input device named {device:?} (`waitless devices list` shows the ones \
             waitless can read; a device it may not open is not listed: is its user in the \
             `input` group?)"
        ))),
    }
}

/// An input device, as `waitless devices list` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InputDeviceInfo {
    /// Its device node: `/dev/input/event3`.
    pub path: String,
    /// A name for it that survives reboots and replugging, when udev made one:
    /// `/dev/input/by-id/usb-PCsensor_FootSwitch-event-kbd`.
    pub stable_path: Option<String>,
    /// Its name: `PCsensor FootSwitch`.
    pub name: String,
    /// It has keys or buttons (keyboards, keypads, pedals, mice), so it can be a keypad.
    pub has_keys: bool,
}

/// The input devices this process can read, by path. Empty when there are none (or no
/// permission: the `input` group).
pub fn list_input_devices() -> Vec<InputDeviceInfo> {
    let stable = stable_paths();
    let mut list: Vec<InputDeviceInfo> = ::evdev::enumerate()
        .map(|(path, device)| InputDeviceInfo {
            stable_path: stable
                .iter()
                .find(|(_, target)| *target == path)
                .map(|(link, _)| link.display().to_string()),
            path: path.display().to_string(),
            name: device.name().unwrap_or("").to_owned(),
            has_keys: device
                .supported_keys()
                .is_some_and(|keys| keys.iter().next().is_some()),
        })
        .collect();
    list.sort_by(|a, b| a.path.cmp(&b.path));
    list
}

/// `/dev/input/by-id` links and the nodes they point to.
fn stable_paths() -> Vec<(PathBuf, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(BY_ID) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let link = entry.path();
            let target = std::fs::canonicalize(&link).ok()?;
            Some((link, target))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_input_devices_never_fails() {
        // This machine has none; a desktop lists its keyboard. Either way no panic, sorted.
        let list = list_input_devices();
        assert!(list.windows(2).all(|w| w[0].path <= w[1].path));
    }

    #[test]
    fn opening_a_missing_path_says_it_is_not_there() {
        let config = KeypadConfig {
            device: "/dev/input/by-id/usb-nothing-event-kbd".to_owned(),
            grab: true,
            keys: Default::default(),
        };
        let Err(DeviceError::Unavailable(why)) = EvdevKeys::open(&config) else {
            panic!("a missing device should be unavailable");
        };
        assert!(why.contains("not there"), "{why}");
    }
}
