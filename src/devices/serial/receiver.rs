//! A receiver's thread (open the port, decode codes, press, reopen when unplugged), the codes
//! map and `waitless devices learn`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::framing::{Decoded, FrameDecoder, FrameKind, Framing, hex};
use super::link::{SerialLink, SerialportLink};
use crate::config::{ReceiverConfig, SerialConfig};
use crate::devices::{
    Binding, DeviceBoard, DeviceError, DeviceKind, DeviceStatus, Health, PressSink,
};
use crate::domain::Source;

/// How long one read waits before the thread looks at its stop flag again.
pub const READ_TIMEOUT: Duration = Duration::from_millis(200);

/// Quiet reads in a row after which a partial fixed-size code is dropped (about a second).
const SILENT_READS: u32 = 5;

/// Garbage warnings per connection; after these, garbage is logged at debug level only (a
/// floating or noisy line must not flood the log).
const GARBAGE_WARNINGS: u32 = 10;

/// Opens a receiver's link; called again after each failure.
pub type Opener = Box<dyn FnMut() -> Result<Box<dyn SerialLink>, DeviceError> + Send>;

/// A receiver's codes: what each code does (`"A1" = "room-1:next"`). Codes are compared
/// exactly, after trimming spaces; fixed codes that are not text are written in hex
/// (`"0xA1B2"`), as `waitless devices learn` prints them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CodeMap {
    codes: BTreeMap<String, Binding>,
}

impl CodeMap {
    /// The configuration's `codes` table, keyed by the trimmed code: refuses an empty code and
    /// one listed twice.
    pub fn from_config(codes: &BTreeMap<String, Binding>) -> Result<Self, DeviceError> {
        let mut map = BTreeMap::new();
        for (code, binding) in codes {
            let key = code.trim();
            if key.is_empty() {
                return Err(DeviceError::Config(format!(
                    "code {code:?} is empty: write the code the receiver sends, like \"A1\""
                )));
            }
            if map.insert(key.to_owned(), binding.clone()).is_some() {
                return Err(DeviceError::Config(format!(
                    "code {key:?} is listed twice (spaces around codes do not count)"
                )));
            }
        }
        Ok(Self { codes: map })
    }

    /// What `code` does, if it is mapped.
    pub fn get(&self, code: &str) -> Option<&Binding> {
        self.codes.get(code.trim())
    }

    /// How many codes are mapped.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether no code is mapped.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }
}

/// The device id a receiver reports under: `serial-` and the port's file name
/// (`/dev/ttyUSB0` → `serial-ttyUSB0`).
pub fn receiver_id(port: &str) -> String {
    let base = Path::new(port)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| port.trim_matches('/').replace('/', "-"));
    format!("serial-{base}")
}

fn receiver_name(port: &str) -> String {
    format!("serial receiver {port}")
}

fn every(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// A running receiver. [`ReceiverHandle::stop`] or dropping it ends its thread.
#[derive(Debug)]
pub struct ReceiverHandle {
    id: String,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl ReceiverHandle {
    /// The device id on the board (`serial-ttyUSB0`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Stops the thread and waits for it (at most about one read timeout).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            thread.thread().unpark();
            if thread.join().is_err() {
                tracing::error!(device = %self.id, "the serial receiver thread panicked");
            }
        }
    }
}

impl Drop for ReceiverHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts a receiver on its own thread over the real serial port. It opens `config.port`
/// (reporting `ok` or `disconnected` on the board), turns each mapped code into a press on
/// `sink`, and reopens the port every `reconnect` while it is gone. Errors only for a
/// configuration that cannot work (bad codes or baud) or when no thread can start.
pub fn spawn_receiver(
    config: &ReceiverConfig,
    reconnect: Duration,
    sink: Arc<dyn PressSink>,
    board: Arc<DeviceBoard>,
) -> Result<ReceiverHandle, DeviceError> {
    let framing = config.framing;
    let port = config.port.clone();
    let baud = config.baud;
    let open: Opener = Box::new(move || {
        SerialportLink::open(&port, baud, &framing).map(|l| Box::new(l) as Box<dyn SerialLink>)
    });
    spawn_receiver_on(config, reconnect, open, sink, board)
}

/// Like [`spawn_receiver`], over links that `open` makes (a fake line, a port opened some
/// other way).
pub fn spawn_receiver_on(
    config: &ReceiverConfig,
    reconnect: Duration,
    open: Opener,
    sink: Arc<dyn PressSink>,
    board: Arc<DeviceBoard>,
) -> Result<ReceiverHandle, DeviceError> {
    let codes = CodeMap::from_config(&config.codes)?;
    if config.baud == 0 {
        return Err(DeviceError::Config("baud must be positive".to_owned()));
    }
    let id = receiver_id(&config.port);
    let stop = Arc::new(AtomicBool::new(false));
    let receiver = Receiver {
        id: id.clone(),
        port: config.port.clone(),
        baud: config.baud,
        framing: config.framing,
        frame: config.frame,
        codes,
        reconnect: reconnect.max(Duration::from_millis(10)),
        open,
        sink,
        board,
        stop: Arc::clone(&stop),
        garbage: 0,
    };
    let thread = std::thread::Builder::new()
        .name(id.clone())
        .spawn(move || receiver.run())
        .map_err(|e| DeviceError::io(format!("starting the thread of {}", config.port), e))?;
    Ok(ReceiverHandle {
        id,
        stop,
        thread: Mutex::new(Some(thread)),
    })
}

/// Starts every configured receiver. One that cannot be set up at all (bad codes or baud)
/// is reported on the board as `misconfigured` and skipped; the others run.
pub fn spawn_receivers(
    config: &SerialConfig,
    sink: Arc<dyn PressSink>,
    board: Arc<DeviceBoard>,
) -> Vec<ReceiverHandle> {
    let reconnect = Duration::from_secs(config.reconnect_secs.max(1));
    config
        .receivers
        .iter()
        .filter_map(
            |r| match spawn_receiver(r, reconnect, Arc::clone(&sink), Arc::clone(&board)) {
                Ok(handle) => Some(handle),
                Err(e) => {
                    board.report(DeviceStatus::new(
                        receiver_id(&r.port),
                        DeviceKind::Serial,
                        receiver_name(&r.port),
                        Health::Error,
                        "misconfigured",
                        format!("{}: {e} — fix [[serial.receivers]] and restart", r.port),
                    ));
                    None
                }
            },
        )
        .collect()
}

struct Receiver {
    id: String,
    port: String,
    baud: u32,
    framing: Framing,
    frame: FrameKind,
    codes: CodeMap,
    reconnect: Duration,
    open: Opener,
    sink: Arc<dyn PressSink>,
    board: Arc<DeviceBoard>,
    stop: Arc<AtomicBool>,
    /// Garbage seen since the port was opened.
    garbage: u32,
}

impl Receiver {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn report(&self, health: Health, condition: &str, detail: String) {
        self.board.report(DeviceStatus::new(
            self.id.clone(),
            DeviceKind::Serial,
            receiver_name(&self.port),
            health,
            condition,
            detail,
        ));
    }

    /// Waits `d`, or less if asked to stop.
    fn pause(&self, d: Duration) {
        let deadline = Instant::now() + d;
        while !self.stopping() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            std::thread::park_timeout(left);
        }
    }

    fn run(mut self) {
        let mut decoder = FrameDecoder::new(self.frame);
        while !self.stopping() {
            let mut link = match (self.open)() {
                Ok(link) => link,
                Err(e) => {
                    self.report(
                        Health::Error,
                        "disconnected",
                        format!("{e}; trying again every {}", every(self.reconnect)),
                    );
                    self.pause(self.reconnect);
                    continue;
                }
            };
            self.report(
                Health::Ok,
                "ok",
                format!(
                    "listening on {} at {} {}",
                    self.port, self.baud, self.framing
                ),
            );
            decoder.reset();
            self.garbage = 0;
            let mut quiet = 0u32;
            while !self.stopping() {
                match link.read(READ_TIMEOUT) {
                    Ok(bytes) if bytes.is_empty() => {
                        quiet = quiet.saturating_add(1);
                        if quiet >= SILENT_READS
                            && let Some(garbage) = decoder.silence()
                        {
                            self.handle(garbage);
                        }
                    }
                    Ok(bytes) => {
                        quiet = 0;
                        for decoded in decoder.push(&bytes) {
                            self.handle(decoded);
                        }
                    }
                    Err(e) => {
                        self.report(
                            Health::Error,
                            "disconnected",
                            format!(
                                "lost {}: {e}; trying again every {}",
                                self.port,
                                every(self.reconnect)
                            ),
                        );
                        break;
                    }
                }
            }
            drop(link);
            self.pause(self.reconnect);
        }
    }

    fn handle(&mut self, decoded: Decoded) {
        match decoded {
            Decoded::Code(code) => match self.codes.get(&code) {
                Some(binding) => {
                    tracing::debug!(device = %self.id, "code {code:?}: {binding}");
                    self.sink
                        .press(binding, Source::Serial, &format!("{}:{code}", self.id));
                }
                None => tracing::info!(
                    device = %self.id,
                    "unknown code {code:?} from {} — add it to [serial.receivers] codes",
                    self.port
                ),
            },
            Decoded::Garbage { bytes, reason } => {
                self.garbage = self.garbage.saturating_add(1);
                let message = format!(
                    "ignored {} from {}: {reason} — check baud ({}) and framing ({}, {})",
                    hex(&bytes),
                    self.port,
                    self.baud,
                    self.framing,
                    self.frame
                );
                if self.garbage < GARBAGE_WARNINGS {
                    tracing::warn!(device = %self.id, "{message}");
                } else if self.garbage == GARBAGE_WARNINGS {
                    tracing::warn!(
                        device = %self.id,
                        "{message} (more garbage from this port is logged at debug level)"
                    );
                } else {
                    tracing::debug!(device = %self.id, "{message}");
                }
            }
        }
    }
}

/// `waitless devices learn`: opens the receiver's port and prints each code received as a line
/// to paste into its `codes` table (`"A1" = "room-?:next"   # press 1`), noting codes already
/// mapped and garbage (in hex). Returns after `max` codes, when `stop` is set (checked between
/// reads), or with an error when the port cannot be opened or is unplugged.
pub fn learn(
    config: &ReceiverConfig,
    out: &mut dyn std::io::Write,
    stop: &AtomicBool,
    max: Option<usize>,
) -> Result<(), DeviceError> {
    let mut link = SerialportLink::open(&config.port, config.baud, &config.framing)?;
    learn_on(&mut link, config, out, stop, max)
}

/// [`learn`] over an open link.
pub fn learn_on(
    link: &mut dyn SerialLink,
    config: &ReceiverConfig,
    out: &mut dyn std::io::Write,
    stop: &AtomicBool,
    max: Option<usize>,
) -> Result<(), DeviceError> {
    let codes = CodeMap::from_config(&config.codes)?;
    let mut write = |line: String| {
        writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .map_err(|e| DeviceError::io("writing the learned codes", e))
    };
    write(format!(
        "# listening on {} at {} {} (frame {}): press each button once; Ctrl-C to stop",
        config.port, config.baud, config.framing, config.frame
    ))?;
    let mut decoder = FrameDecoder::new(config.frame);
    let mut presses = 0usize;
    let mut quiet = 0u32;
    while !stop.load(Ordering::SeqCst) && max.is_none_or(|max| presses < max) {
        let bytes = link.read(READ_TIMEOUT)?;
        let decoded = if bytes.is_empty() {
            quiet = quiet.saturating_add(1);
            if quiet >= SILENT_READS {
                decoder.silence().into_iter().collect()
            } else {
                Vec::new()
            }
        } else {
            quiet = 0;
            decoder.push(&bytes)
        };
        for d in decoded {
            if max.is_some_and(|max| presses >= max) {
                break;
            }
            match d {
                Decoded::Code(code) => {
                    presses += 1;
                    let key = toml_string(&code);
                    write(match codes.get(&code) {
                        Some(binding) => {
                            format!("{key} = \"{binding}\"   # press {presses}, already: {binding}")
                        }
                        None => format!("{key} = \"room-?:next\"   # press {presses}"),
                    })?;
                }
                Decoded::Garbage { bytes, reason } => write(format!(
                    "# garbage {} ({reason}): not a code — check baud and framing",
                    hex(&bytes)
                ))?,
            }
        }
    }
    Ok(())
}

/// A TOML basic string (codes are printable ASCII: only quotes and backslashes need escaping).
fn toml_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::RecordedPresses;
    use crate::devices::serial::link::{FakeFeed, FakeLink};
    use std::sync::mpsc;

    const PATIENCE: Duration = Duration::from_secs(10);

    fn receiver_config(codes: &[(&str, &str)]) -> ReceiverConfig {
        ReceiverConfig {
            port: "/dev/ttyFAKE0".to_owned(),
            baud: 9600,
            framing: Framing::EIGHT_N_ONE,
            frame: FrameKind::Line,
            codes: codes
                .iter()
                .map(|(c, t)| ((*c).to_owned(), t.parse().unwrap()))
                .collect(),
        }
    }

    fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !ok() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::yield_now();
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// An opener that hands out fake links sent on the returned channel; with none waiting it
    /// fails like an absent port.
    fn fake_opener() -> (Opener, mpsc::Sender<FakeLink>) {
        let (tx, rx) = mpsc::channel::<FakeLink>();
        let open: Opener = Box::new(move || match rx.try_recv() {
            Ok(link) => Ok(Box::new(link) as Box<dyn SerialLink>),
            Err(_) => Err(DeviceError::Unavailable(
                "cannot open /dev/ttyFAKE0: No such file or directory".to_owned(),
            )),
        });
        (open, tx)
    }

    fn plug(links: &mpsc::Sender<FakeLink>) -> FakeFeed {
        let (link, feed) = FakeLink::new();
        links.send(link).unwrap();
        feed
    }

    #[test]
    fn code_map_trims_keys_and_rejects_bad_entries() {
        let config = receiver_config(&[(" A1 ", "room-1:next"), ("0xA1B2", "room-2:recall")]);
        let map = CodeMap::from_config(&config.codes).unwrap();
        assert_eq!(map.len(), 2);
        assert_eq!(map.get("A1").unwrap().to_string(), "room-1:next");
        assert_eq!(map.get(" A1").unwrap().to_string(), "room-1:next");
        assert_eq!(map.get("0xA1B2").unwrap().to_string(), "room-2:recall");
        assert!(map.get("a1").is_none(), "codes are compared exactly");
        assert!(map.get("0xa1b2").is_none());
        for (codes, needle) in [
            (vec![("  ", "room-1:next")], "empty"),
            (vec![("A1", "room-1:next"), ("A1 ", "room-2:next")], "twice"),
        ] {
            let e = CodeMap::from_config(&receiver_config(&codes).codes)
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{codes:?}: {e}");
        }
    }

    #[test]
    fn receiver_ids_use_the_port_file_name() {
        assert_eq!(receiver_id("/dev/ttyUSB0"), "serial-ttyUSB0");
        assert_eq!(
            receiver_id("/dev/serial/by-id/usb-FTDI_FT232R-if00-port0"),
            "serial-usb-FTDI_FT232R-if00-port0"
        );
        assert_eq!(receiver_id("COM3"), "serial-COM3");
    }

    #[test]
    fn mapped_codes_press_and_unknown_codes_and_garbage_do_not() {
        let board = Arc::new(DeviceBoard::new());
        let presses = RecordedPresses::default();
        let (open, links) = fake_opener();
        let feed = plug(&links);
        let config = receiver_config(&[("A1", "room-1:next"), ("B2", "room-2:recall")]);
        let handle = spawn_receiver_on(
            &config,
            Duration::from_millis(20),
            open,
            Arc::new(presses.clone()),
            Arc::clone(&board),
        )
        .unwrap();
        assert_eq!(handle.id(), "serial-ttyFAKE0");
        wait_for("ok", || {
            board
                .get("serial-ttyFAKE0")
                .is_some_and(|s| s.condition == "ok")
        });
        let status = board.get("serial-ttyFAKE0").unwrap();
        assert_eq!(status.detail, "listening on /dev/ttyFAKE0 at 9600 8N1");
        assert_eq!(
            (status.kind, status.health),
            (DeviceKind::Serial, Health::Ok)
        );
        feed.send(b"A9\r\n\xff\x00\r\nA");
        feed.send(b"1\r\nB2\n");
        wait_for("two presses", || presses.presses().len() == 2);
        let got = presses.presses();
        assert_eq!(got[0].0.to_string(), "room-1:next");
        assert_eq!(got[0].1, Source::Serial);
        assert_eq!(got[0].2, "serial-ttyFAKE0:A1");
        assert_eq!(got[1].0.to_string(), "room-2:recall");
        assert_eq!(got[1].2, "serial-ttyFAKE0:B2");
        handle.stop();
        assert_eq!(presses.presses().len(), 2);
    }

    #[test]
    fn an_unplugged_receiver_reports_disconnected_and_recovers() {
        let board = Arc::new(DeviceBoard::new());
        let presses = RecordedPresses::default();
        let (open, links) = fake_opener();
        let config = receiver_config(&[("A1", "room-1:next")]);
        let _handle = spawn_receiver_on(
            &config,
            Duration::from_millis(20),
            open,
            Arc::new(presses.clone()),
            Arc::clone(&board),
        )
        .unwrap();
        let condition = || board.get("serial-ttyFAKE0").map(|s| s.condition);
        // Not there at start: disconnected, with the reason.
        wait_for("disconnected", || {
            condition().as_deref() == Some("disconnected")
        });
        let status = board.get("serial-ttyFAKE0").unwrap();
        assert_eq!(status.health, Health::Error);
        assert!(status.detail.contains("No such file"), "{}", status.detail);
        assert!(status.detail.contains("every 20 ms"), "{}", status.detail);
        // Plugged in: ok, codes work.
        let feed = plug(&links);
        wait_for("ok", || condition().as_deref() == Some("ok"));
        feed.send(b"A1\n");
        wait_for("a press", || presses.presses().len() == 1);
        // Unplugged mid-code: disconnected; the half code is forgotten.
        feed.send(b"A");
        feed.unplug();
        wait_for("disconnected", || {
            condition().as_deref() == Some("disconnected")
        });
        assert!(
            board
                .get("serial-ttyFAKE0")
                .unwrap()
                .detail
                .starts_with("lost /dev/ttyFAKE0")
        );
        // Back again.
        let feed = plug(&links);
        wait_for("ok again", || condition().as_deref() == Some("ok"));
        feed.send(b"1\nA1\n");
        wait_for("second press", || presses.presses().len() == 2);
        assert!(presses.presses().len() == 2);
    }

    #[test]
    fn misconfigured_receivers_are_reported_and_skipped() {
        let board = Arc::new(DeviceBoard::new());
        let mut bad = receiver_config(&[]);
        bad.port = "/dev/ttyBAD".to_owned();
        bad.baud = 0;
        let mut good = receiver_config(&[]);
        good.port = "/dev/waitless-no-such-tty".to_owned();
        let config = SerialConfig {
            reconnect_secs: 1,
            receivers: vec![bad, good],
        };
        let handles = spawn_receivers(
            &config,
            Arc::new(RecordedPresses::default()),
            Arc::clone(&board),
        );
        assert_eq!(handles.len(), 1);
        let bad = board.get("serial-ttyBAD").unwrap();
        assert_eq!(
            (bad.health, bad.condition.as_str()),
            (Health::Error, "misconfigured")
        );
        assert!(
            bad.detail.contains("baud must be positive"),
            "{}",
            bad.detail
        );
        wait_for("disconnected", || {
            board
                .get("serial-waitless-no-such-tty")
                .is_some_and(|s| s.condition == "disconnected")
        });
        drop(handles);
    }

    #[test]
    fn learn_prints_pasteable_lines() {
        let (mut link, feed) = FakeLink::new();
        let config = receiver_config(&[("B2", "room-2:recall")]);
        feed.send(b"A1\r\n\x01\x02\r\nB2\r\nC3\r\n");
        let mut out = Vec::new();
        let stop = AtomicBool::new(false);
        learn_on(&mut link, &config, &mut out, &stop, Some(2)).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("# listening on /dev/ttyFAKE0 at 9600 8N1 (frame line)"));
        assert_eq!(lines[1], "\"A1\" = \"room-?:next\"   # press 1");
        assert_eq!(
            lines[2],
            "# garbage 0x0102 (bytes that are not printable text): not a code — check baud and framing"
        );
        assert_eq!(
            lines[3],
            "\"B2\" = \"room-2:recall\"   # press 2, already: room-2:recall"
        );
    }

    #[test]
    fn learn_stops_when_asked_and_fails_when_unplugged() {
        let (mut link, feed) = FakeLink::new();
        let config = receiver_config(&[]);
        let stop = AtomicBool::new(true);
        learn_on(&mut link, &config, &mut Vec::new(), &stop, None).unwrap();
        feed.unplug();
        let stop = AtomicBool::new(false);
        assert!(learn_on(&mut link, &config, &mut Vec::new(), &stop, None).is_err());
    }

    #[test]
    fn learn_quotes_codes_for_toml() {
        assert_eq!(toml_string(r#"A"1\"#), r#""A\"1\\""#);
    }
}
