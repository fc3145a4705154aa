//! The [`Printer`] capability and its two implementations: [`EscPosPrinter`], a real printer
//! reached through a [`Link`], and [`FakePrinter`], which keeps what it is sent (the demo's
//! default, and every test's).
//!
//! A printer lives on the printer thread (escpos drivers are not `Send`): nothing here blocks
//! anything but that thread. The real printer connects lazily and drops its connection after a
//! failure, so the next job or status poll connects again.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use escpos::driver::Driver;

use super::PrinterUri;
use super::link::{Link, Reply, WRITE_TIMEOUT};
use super::status::PrinterState;
use crate::devices::DeviceError;
use crate::domain::Timestamp;

/// One print job: a ticket, a reprint or a test page, already rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// Job number, counting from 1 for each printer handle.
    pub id: u64,
    /// What it is, for people ("ticket A042", "test page").
    pub label: String,
    /// When it was asked for.
    pub at: Timestamp,
    /// The ESC/POS bytes.
    pub bytes: Vec<u8>,
}

/// A ticket printer. Synchronous; built and used on the printer's own thread.
pub trait Printer {
    /// What it is, for people: `ESC/POS printer tcp://10.0.0.9:9100`.
    fn name(&self) -> String;

    /// Sends one job's bytes. An error means the job may not have printed: it is kept and
    /// sent again later.
    fn send(&mut self, job: &Job) -> Result<(), DeviceError>;

    /// Asks the printer how it is. Never fails: not answering and not being reachable are
    /// states too.
    fn status(&mut self) -> PrinterState;
}

/// A printer's name for people, from its URI.
pub fn printer_name(uri: &PrinterUri) -> String {
    match uri {
        PrinterUri::Fake => "fake printer (tickets shown at /printer)".to_owned(),
        PrinterUri::None => "no printer".to_owned(),
        other => format!("ESC/POS printer {other}"),
    }
}

/// Why a printer cannot be reached, and what to check.
fn unreachable_message(uri: &PrinterUri, error: &dyn std::fmt::Display) -> String {
    match uri {
        PrinterUri::Tcp { .. } => {
            format!("cannot reach {uri} — is the printer on and the address right? ({error})")
        }
        PrinterUri::Serial { path, .. } => format!(
            "cannot open serial port {path} — is the printer plugged in, and may waitless use \
             the port (group dialout)? ({error})"
        ),
        PrinterUri::Usb { vendor, product } => format!(
            "cannot open USB printer {vendor:04x}:{product:04x} — is it plugged in and on, and \
             may waitless use it (udev rule)? ({error})"
        ),
        PrinterUri::File(path) => format!(
            "cannot open {} — is the printer plugged in and on, and may waitless write to it \
             (group lp)? ({error})",
            path.display()
        ),
        PrinterUri::Fake | PrinterUri::None => format!("{uri}: {error}"),
    }
}

/// How long a printer that has answered status requests may be silent (busy with a long job,
/// its buffer full) before it counts as not responding.
pub const SILENCE_GRACE: Duration = Duration::from_secs(6);

/// What came of the status questions.
enum Asked<T> {
    /// The printer answered.
    Answer(T),
    /// Nothing in time (many USB printers never answer).
    Silent,
    /// The question could not be written: the printer takes no data.
    Stalled(String),
    /// The connection is gone.
    Lost(String),
}

/// A real ESC/POS printer.
#[derive(Debug)]
pub struct EscPosPrinter {
    uri: PrinterUri,
    link: Option<Link>,
    /// The job whose bytes a stalled write left unsent (sent first when the printer reads
    /// again; then that job is done).
    stalled_job: Option<u64>,
    /// What the printer last answered, if it has answered since start.
    last_answer: Option<PrinterState>,
    /// Since when a printer that answered before has been silent.
    silent_since: Option<Instant>,
}

impl EscPosPrinter {
    /// A printer at `uri`; nothing is opened yet.
    pub fn new(uri: PrinterUri) -> Self {
        Self {
            uri,
            link: None,
            stalled_job: None,
            last_answer: None,
            silent_since: None,
        }
    }

    /// Opens the connection if it is not open. The error says what to check.
    pub fn connect(&mut self) -> Result<&Link, DeviceError> {
        if self.link.is_none() {
            let link = Link::open(&self.uri)
                .map_err(|e| DeviceError::Unavailable(unreachable_message(&self.uri, &e)))?;
            tracing::debug!("printer connected: {}", link.name());
            self.link = Some(link);
        }
        self.link
            .as_ref()
            .ok_or_else(|| DeviceError::Unavailable(format!("{}: not connected", self.uri)))
    }

    fn ask(link: &Link, n: u8) -> Asked<u8> {
        if let Err(e) = link.write(&[0x10, 0x04, n]).and_then(|()| link.flush()) {
            return if link.stalled() {
                Asked::Stalled(e.to_string())
            } else {
                Asked::Lost(e.to_string())
            };
        }
        match link.answer() {
            Reply::Byte(b) => Asked::Answer(b),
            Reply::Silent => Asked::Silent,
            Reply::Gone(why) => Asked::Lost(why),
        }
    }

    /// Asks the three questions over the open link.
    fn ask_all(link: &Link) -> Asked<PrinterState> {
        // A late answer to an earlier question would be read as this one's.
        link.discard_input();
        let printer = match Self::ask(link, 1) {
            Asked::Answer(b) => b,
            Asked::Silent => return Asked::Silent,
            Asked::Stalled(why) => return Asked::Stalled(why),
            Asked::Lost(why) => return Asked::Lost(why),
        };
        let mut more = [None; 2];
        for (slot, n) in more.iter_mut().zip([2, 4]) {
            match Self::ask(link, n) {
                Asked::Answer(b) => *slot = Some(b),
                Asked::Silent => {}
                Asked::Stalled(why) => return Asked::Stalled(why),
                Asked::Lost(why) => return Asked::Lost(why),
            }
        }
        let [cause, paper] = more;
        Asked::Answer(PrinterState::from_bytes(printer, cause, paper))
    }

    /// A stall: the printer takes no data. The same words each time, so the log says it once.
    fn stalled_message(&self) -> String {
        format!(
            "{} accepts the connection but takes no data (almost nothing in {} s) — is it \
             jammed, out of paper or hung? Switch it off and on",
            self.uri,
            WRITE_TIMEOUT.as_secs()
        )
    }

    /// The state of a printer that did not answer this time.
    fn silence(&mut self) -> PrinterState {
        let Some(last) = self.last_answer.clone() else {
            return PrinterState::Unknown("the printer does not answer status requests".to_owned());
        };
        let since = *self.silent_since.get_or_insert_with(Instant::now);
        if since.elapsed() < SILENCE_GRACE {
            return last;
        }
        PrinterState::NotResponding(format!(
            "{} answered status requests before and has not for {} s — it may have hung: \
             switch it off and on",
            self.uri,
            SILENCE_GRACE.as_secs()
        ))
    }
}

impl Printer for EscPosPrinter {
    fn name(&self) -> String {
        printer_name(&self.uri)
    }

    fn send(&mut self, job: &Job) -> Result<(), DeviceError> {
        let stalled_job = self.stalled_job;
        let link = self.connect()?;
        // What a stalled write left goes first: it may be this very job's end.
        let sent = link.resume().and_then(|()| {
            if stalled_job == Some(job.id) {
                Ok(())
            } else {
                link.write(&job.bytes).and_then(|()| link.flush())
            }
        });
        let stalled = link.stalled();
        match sent {
            Ok(()) => {
                self.stalled_job = None;
                Ok(())
            }
            Err(_) if stalled => {
                // The bytes wait on this connection: a printer that reads again gets them.
                self.stalled_job.get_or_insert(job.id);
                Err(DeviceError::Stalled(self.stalled_message()))
            }
            Err(e) => {
                self.link = None;
                self.stalled_job = None;
                Err(DeviceError::Unavailable(format!(
                    "{}: sending {} failed: {e}",
                    self.uri, job.label
                )))
            }
        }
    }

    fn status(&mut self) -> PrinterState {
        // A job's bytes wait on a stalled connection: nothing can be asked before they go
        // (each send tries them again).
        if self.stalled_job.is_some() && self.link.as_ref().is_some_and(Link::stalled) {
            return PrinterState::Stalled(self.stalled_message());
        }
        // A connection that has gone stale (printer switched off and on) fails the first
        // question: connect again once before giving an answer.
        let mut last_error = String::new();
        for _ in 0..2 {
            let link = match self.connect() {
                Ok(link) => link,
                Err(e) => return PrinterState::Unreachable(e.to_string()),
            };
            match Self::ask_all(link) {
                Asked::Answer(state) => {
                    self.last_answer = Some(state.clone());
                    self.silent_since = None;
                    return state;
                }
                Asked::Silent => return self.silence(),
                Asked::Stalled(_) => return PrinterState::Stalled(self.stalled_message()),
                Asked::Lost(why) => {
                    self.link = None;
                    self.stalled_job = None;
                    last_error = why;
                }
            }
        }
        PrinterState::Unknown(format!("no status from {}: {last_error}", self.uri))
    }
}

/// Jobs a fake printer keeps.
pub const FAKE_JOBS_KEPT: usize = 20;

/// A job the fake printer printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeJob {
    /// The job's number.
    pub id: u64,
    /// What it is.
    pub label: String,
    /// When it was asked for.
    pub at: Timestamp,
    /// The ESC/POS bytes (see [`super::decode::preview`]).
    pub bytes: Vec<u8>,
}

#[derive(Debug)]
struct FakeInner {
    state: PrinterState,
    jobs: VecDeque<FakeJob>,
    printed: u64,
}

/// A printer that keeps the last [`FAKE_JOBS_KEPT`] jobs in memory, and whose status is
/// scripted. Clones share the printer, so the web page and tests see what the printer thread's
/// copy printed.
#[derive(Clone, Debug)]
pub struct FakePrinter {
    inner: Arc<Mutex<FakeInner>>,
}

impl Default for FakePrinter {
    fn default() -> Self {
        Self::new()
    }
}

impl FakePrinter {
    /// A ready fake printer with nothing printed.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Mutex::new(FakeInner {
                state: PrinterState::Ready,
                jobs: VecDeque::new(),
                printed: 0,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FakeInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Scripts the status (paper out, cover open, unreachable...). A printer that cannot print
    /// refuses jobs.
    pub fn set_state(&self, state: PrinterState) {
        self.lock().state = state;
    }

    /// The scripted status.
    pub fn state(&self) -> PrinterState {
        self.lock().state.clone()
    }

    /// The last jobs printed, oldest first.
    pub fn jobs(&self) -> Vec<FakeJob> {
        self.lock().jobs.iter().cloned().collect()
    }

    /// Jobs printed since it was made (including those no longer kept).
    pub fn printed(&self) -> u64 {
        self.lock().printed
    }
}

impl Printer for FakePrinter {
    fn name(&self) -> String {
        printer_name(&PrinterUri::Fake)
    }

    fn send(&mut self, job: &Job) -> Result<(), DeviceError> {
        let mut inner = self.lock();
        if !inner.state.can_print() {
            return Err(DeviceError::Unavailable(format!(
                "fake printer: {}",
                inner.state.detail()
            )));
        }
        inner.jobs.push_back(FakeJob {
            id: job.id,
            label: job.label.clone(),
            at: job.at,
            bytes: job.bytes.clone(),
        });
        while inner.jobs.len() > FAKE_JOBS_KEPT {
            inner.jobs.pop_front();
        }
        inner.printed += 1;
        Ok(())
    }

    fn status(&mut self) -> PrinterState {
        self.lock().state.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: u64) -> Job {
        Job {
            id,
            label: format!("ticket {id}"),
            at: Timestamp::UNIX_EPOCH,
            bytes: vec![0x1b, b'@', b'0' + (id % 10) as u8],
        }
    }

    #[test]
    fn the_fake_keeps_the_last_twenty_jobs() {
        let mut fake = FakePrinter::new();
        let shared = fake.clone();
        for id in 1..=25 {
            fake.send(&job(id)).unwrap();
        }
        let jobs = shared.jobs();
        assert_eq!(jobs.len(), FAKE_JOBS_KEPT);
        assert_eq!(jobs[0].id, 6);
        assert_eq!(jobs[19].label, "ticket 25");
        assert_eq!(shared.printed(), 25);
    }

    #[test]
    fn a_fake_out_of_paper_refuses_jobs() {
        let mut fake = FakePrinter::new();
        fake.set_state(PrinterState::PaperOut);
        assert_eq!(fake.status(), PrinterState::PaperOut);
        assert!(fake.send(&job(1)).is_err());
        fake.set_state(PrinterState::Unknown("silent".into()));
        fake.send(&job(2)).unwrap();
        assert_eq!(fake.jobs().len(), 1);
    }

    #[test]
    fn an_unreachable_network_printer_says_what_to_check() {
        // A port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let uri = PrinterUri::parse(&format!("tcp://127.0.0.1:{port}")).unwrap();
        let mut printer = EscPosPrinter::new(uri);
        let PrinterState::Unreachable(why) = printer.status() else {
            panic!("reachable?")
        };
        assert!(
            why.contains("is the printer on and the address right?"),
            "{why}"
        );
        let err = printer.send(&job(1)).unwrap_err();
        assert!(
            err.to_string().contains("cannot reach tcp://127.0.0.1"),
            "{err}"
        );
    }

    #[test]
    fn a_device_file_printer_gets_jobs_and_its_silence_is_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lp0");
        std::fs::write(&path, b"").unwrap();
        let mut printer = EscPosPrinter::new(PrinterUri::File(path.clone()));
        printer.send(&job(1)).unwrap();
        assert!(matches!(printer.status(), PrinterState::Unknown(_)));
        let written = std::fs::read(&path).unwrap();
        assert!(written.starts_with(&[0x1b, b'@', b'1', 0x10, 0x04, 0x01]));
    }
}
