//! The printer's thread and its handle: a job queue that never makes the caller wait for the
//! printer.
//!
//! The thread owns the [`Printer`] (built on the thread: escpos drivers are not `Send`). It
//! asks the printer for its status every `status_poll` and right before sending, reports every
//! change on the [`DeviceBoard`] (id `printer`, with the number of jobs waiting; `connecting`
//! from the moment it starts), and sends jobs in order. A job that fails, or finds the printer not ready (offline, paper out, cover
//! open, unreachable, stalled), stays first in the queue and is tried again every `retry`, and
//! at once when the status turns ready. A printer that takes no data (`stalled`) is an error
//! like paper out: tickets asked for meanwhile are answered `delayed`. At most `max_queued_jobs` wait: beyond that the oldest is
//! dropped, with a warning. The thread ends on [`PrinterHandle::stop`] or when the last handle
//! is dropped.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::device::{EscPosPrinter, FakeJob, FakePrinter, Job, Printer, printer_name};
use super::render::{render_test_page, render_ticket};
use super::status::{PRINTER_ID, PrinterState};
use super::{Paper, PrintOutcome, PrinterUri, TicketPrint};
use crate::clock::{Clock, SystemClock};
use crate::config::PrinterConfig;
use crate::devices::{DeviceBoard, DeviceError, DeviceStatus, Health};

/// How the printer's thread works. [`PrinterSettings::from_config`] for the appliance; tests
/// set short intervals.
#[derive(Clone, Debug)]
pub struct PrinterSettings {
    /// Paper width.
    pub paper: Paper,
    /// Print the status page's QR code.
    pub qr: bool,
    /// How often to ask the printer for its status.
    pub status_poll: Duration,
    /// After a failed job, try again this much later.
    pub retry: Duration,
    /// Jobs kept while the printer is down.
    pub max_queued_jobs: usize,
    /// The time jobs are stamped with.
    pub clock: Arc<dyn Clock>,
}

impl PrinterSettings {
    /// The settings of `[printer]`, with the system clock.
    pub fn from_config(config: &PrinterConfig) -> Result<Self, DeviceError> {
        Ok(Self {
            paper: Paper::from_mm(config.paper_mm)?,
            qr: config.qr,
            status_poll: Duration::from_secs(config.status_poll_secs.max(1)),
            retry: Duration::from_secs(config.retry_secs.max(1)),
            max_queued_jobs: config.max_queued_jobs.max(1),
            clock: Arc::new(SystemClock),
        })
    }
}

/// What the handle sends the thread.
enum Msg {
    /// Bytes ready to print.
    Job(Job),
    /// A ticket to render, then print.
    Ticket {
        id: u64,
        at: crate::domain::Timestamp,
        paper: Paper,
        ticket: Box<TicketPrint>,
    },
    Stop,
}

/// A ticket's ESC/POS bytes. If the bundled fonts fail (a broken build), prints what plain
/// text can.
fn render_job(
    id: u64,
    at: crate::domain::Timestamp,
    paper: Paper,
    ticket: &TicketPrint,
) -> Option<Job> {
    let bytes = match render_ticket(ticket, paper) {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!("ticket {}: {e}; printing it without images", ticket.number);
            match render_ticket(&ascii_only(ticket), paper) {
                Ok(bytes) => bytes,
                Err(e) => {
                    tracing::error!("ticket {}: {e}", ticket.number);
                    return None;
                }
            }
        }
    };
    Some(Job {
        id,
        label: format!("ticket {}", ticket.number),
        at,
        bytes,
    })
}

/// What the handles share with the thread.
#[derive(Debug)]
struct Shared {
    /// Health at the last status, for [`PrintOutcome`].
    health: Mutex<Health>,
    next_id: AtomicU64,
}

/// The running printer thread, if there is a printer.
#[derive(Clone, Debug)]
struct Running {
    tx: mpsc::Sender<Msg>,
    shared: Arc<Shared>,
    name: String,
    fake: Option<FakePrinter>,
    clock: Arc<dyn Clock>,
}

/// A cloneable handle to the printer's thread. Cheap to clone; `Send` and `Sync`.
#[derive(Clone, Debug)]
pub struct PrinterHandle {
    board: Arc<DeviceBoard>,
    paper: Paper,
    qr: bool,
    running: Option<Running>,
}

impl PrinterHandle {
    /// Starts the printer's thread as configured (no thread for `none`).
    pub fn start(config: &PrinterConfig, board: Arc<DeviceBoard>) -> Result<Self, DeviceError> {
        Self::start_with(
            config.uri.clone(),
            PrinterSettings::from_config(config)?,
            board,
        )
    }

    /// Starts the printer's thread with explicit settings (tests use short intervals).
    pub fn start_with(
        uri: PrinterUri,
        settings: PrinterSettings,
        board: Arc<DeviceBoard>,
    ) -> Result<Self, DeviceError> {
        let mut handle = Self {
            board: board.clone(),
            paper: settings.paper,
            qr: settings.qr,
            running: None,
        };
        if uri == PrinterUri::None {
            return Ok(handle);
        }
        let fake = (uri == PrinterUri::Fake).then(FakePrinter::new);
        let shared = Arc::new(Shared {
            // The demo printer is ready at once; a real one is unknown until it answers.
            health: Mutex::new(if fake.is_some() {
                Health::Ok
            } else {
                Health::Unknown
            }),
            next_id: AtomicU64::new(1),
        });
        let (tx, rx) = mpsc::channel();
        let name = printer_name(&uri);
        // Listed from the first moment, before the first answer (which may take seconds).
        board.report(PrinterState::Connecting.to_status(&name, 0));
        let worker = Worker {
            board,
            shared: shared.clone(),
            name: name.clone(),
            poll: settings.status_poll,
            retry: settings.retry,
            max_queued: settings.max_queued_jobs,
            queue: VecDeque::new(),
            state: None,
            next_retry: None,
        };
        let thread_fake = fake.clone();
        std::thread::Builder::new()
            .name("printer".to_owned())
            .spawn(move || {
                let printer: Box<dyn Printer> = match thread_fake {
                    Some(fake) => Box::new(fake),
                    None => Box::new(EscPosPrinter::new(uri)),
                };
                worker.run(printer, &rx);
            })
            .map_err(|e| DeviceError::io("cannot start the printer thread", e))?;
        handle.running = Some(Running {
            tx,
            shared,
            name,
            fake,
            clock: settings.clock,
        });
        Ok(handle)
    }

    /// Queues a ticket; the printer's thread renders it (a Hindi ticket takes about a
    /// millisecond of shaping and drawing, which the caller — an HTTP worker — should not pay).
    /// Never waits for the printer.
    pub fn print_ticket(&self, ticket: &TicketPrint) -> PrintOutcome {
        let Some(running) = &self.running else {
            return PrintOutcome::NoPrinter;
        };
        let mut ticket = ticket.clone();
        if !self.qr {
            ticket.status_url = None;
        }
        let id = running.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let message = Msg::Ticket {
            id,
            at: running.clock.now(),
            paper: self.paper,
            ticket: Box::new(ticket),
        };
        self.send(running, message)
    }

    /// Queues rendered bytes (a reprint). Never waits for the printer.
    pub fn print_bytes(&self, label: String, bytes: Vec<u8>) -> PrintOutcome {
        let Some(running) = &self.running else {
            return PrintOutcome::NoPrinter;
        };
        let job = Job {
            id: running.shared.next_id.fetch_add(1, Ordering::Relaxed),
            label,
            at: running.clock.now(),
            bytes,
        };
        self.send(running, Msg::Job(job))
    }

    /// Sends a job to the thread; what to tell the caller from the last status.
    fn send(&self, running: &Running, message: Msg) -> PrintOutcome {
        if running.tx.send(message).is_err() {
            tracing::warn!("the printer thread has stopped: job dropped");
            return PrintOutcome::Delayed;
        }
        let health = *running
            .shared
            .health
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match health {
            Health::Ok | Health::Warning => PrintOutcome::Queued,
            Health::Unknown => PrintOutcome::Unconfirmed,
            Health::Error | Health::Unavailable => PrintOutcome::Delayed,
        }
    }

    /// Queues the test page. Never waits for the printer.
    pub fn print_test_page(&self) -> PrintOutcome {
        let Some(running) = &self.running else {
            return PrintOutcome::NoPrinter;
        };
        let bytes = render_test_page(&running.name, self.paper);
        self.print_bytes("test page".to_owned(), bytes)
    }

    /// The printer's status, if there is a printer (`connecting` until its first status).
    pub fn status(&self) -> Option<DeviceStatus> {
        self.running.as_ref()?;
        self.board.get(PRINTER_ID)
    }

    /// What the fake printer printed, oldest first (only for `fake`).
    pub fn fake_jobs(&self) -> Option<Vec<FakeJob>> {
        Some(self.fake_printer()?.jobs())
    }

    /// The fake printer, to script its status (only for `fake`).
    pub fn fake_printer(&self) -> Option<FakePrinter> {
        self.running.as_ref()?.fake.clone()
    }

    /// The paper width.
    pub fn paper(&self) -> Paper {
        self.paper
    }

    /// Stops the printer's thread (jobs still waiting are dropped).
    pub fn stop(&self) {
        if let Some(running) = &self.running {
            // A thread already gone is stopped.
            let _ = running.tx.send(Msg::Stop);
        }
    }
}

/// The ticket without its lines that need images.
fn ascii_only(ticket: &TicketPrint) -> TicketPrint {
    let keep = |s: &str| {
        if s.is_ascii() {
            s.to_owned()
        } else {
            String::new()
        }
    };
    let keep_opt = |s: &Option<String>| s.as_deref().map(keep).filter(|s| !s.is_empty());
    TicketPrint {
        lang: ticket.lang.clone(),
        clinic: keep(&ticket.clinic),
        number: keep(&ticket.number),
        service: keep(&ticket.service),
        issued: keep(&ticket.issued),
        ahead: keep(&ticket.ahead),
        wait: keep_opt(&ticket.wait),
        status_url: ticket.status_url.clone(),
        scan_hint: keep_opt(&ticket.scan_hint),
        footer: keep(&ticket.footer),
    }
}

/// The printer thread's state.
struct Worker {
    board: Arc<DeviceBoard>,
    shared: Arc<Shared>,
    name: String,
    poll: Duration,
    retry: Duration,
    max_queued: usize,
    queue: VecDeque<Job>,
    /// The last status (none before the first).
    state: Option<PrinterState>,
    /// When to try the queue again (none: nothing waits for a retry).
    next_retry: Option<Instant>,
}

impl Worker {
    fn run(mut self, mut printer: Box<dyn Printer>, rx: &mpsc::Receiver<Msg>) {
        tracing::info!("printer: {}", self.name);
        let mut next_poll = Instant::now();
        'run: loop {
            let now = Instant::now();
            if now >= next_poll {
                self.poll(printer.as_mut());
                next_poll = Instant::now() + self.poll;
            }
            if !self.queue.is_empty() && self.next_retry.is_some_and(|at| Instant::now() >= at) {
                self.send_queue(printer.as_mut());
            }
            let mut wake = next_poll;
            if let Some(retry) = self.next_retry.filter(|_| !self.queue.is_empty()) {
                wake = wake.min(retry);
            }
            let mut message = rx.recv_timeout(wake.saturating_duration_since(Instant::now()));
            // Everything asked for meanwhile, then one status and one send for all of it.
            loop {
                match message {
                    Ok(Msg::Job(job)) => self.enqueue(job),
                    Ok(Msg::Ticket {
                        id,
                        at,
                        paper,
                        ticket,
                    }) => {
                        if let Some(job) = render_job(id, at, paper, &ticket) {
                            self.enqueue(job);
                        }
                    }
                    Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => break 'run,
                    Err(RecvTimeoutError::Timeout) => break,
                }
                message = rx.try_recv().map_err(|e| match e {
                    TryRecvError::Empty => RecvTimeoutError::Timeout,
                    TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
                });
            }
        }
        if !self.queue.is_empty() {
            tracing::warn!("printer stopped with {} jobs unprinted", self.queue.len());
        }
    }

    /// Records a status: the board, the shared health, and a retry at once if the printer has
    /// just become ready.
    fn record(&mut self, state: PrinterState) {
        let was_ready = self.state.as_ref().is_some_and(PrinterState::can_print);
        if state.can_print() && !was_ready {
            self.next_retry = Some(Instant::now());
        }
        *self
            .shared
            .health
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = state.health();
        self.state = Some(state);
        self.report();
    }

    fn report(&self) {
        if let Some(state) = &self.state {
            self.board
                .report(state.to_status(&self.name, self.queue.len()));
        }
    }

    fn poll(&mut self, printer: &mut dyn Printer) {
        let state = printer.status();
        self.record(state);
    }

    fn enqueue(&mut self, job: Job) {
        self.queue.push_back(job);
        while self.queue.len() > self.max_queued {
            if let Some(dropped) = self.queue.pop_front() {
                tracing::warn!(
                    "printer queue full ({} jobs): dropped {} (job {})",
                    self.max_queued,
                    dropped.label,
                    dropped.id
                );
            }
        }
        self.report();
        self.next_retry = Some(Instant::now());
    }

    /// Sends waiting jobs in order, asking for the status first. Stops at the first failure
    /// and tries again after `retry`.
    fn send_queue(&mut self, printer: &mut dyn Printer) {
        let state = printer.status();
        let ready = state.worth_sending();
        self.record(state);
        if !ready {
            self.next_retry = Some(Instant::now() + self.retry);
            return;
        }
        while let Some(job) = self.queue.front() {
            match printer.send(job) {
                Ok(()) => {
                    tracing::info!("printed {} (job {})", job.label, job.id);
                    self.queue.pop_front();
                    self.report();
                }
                Err(e) => {
                    tracing::warn!("printing {} (job {}) failed: {e}", job.label, job.id);
                    self.record(match e {
                        DeviceError::Stalled(why) => PrinterState::Stalled(why),
                        other => PrinterState::Unreachable(other.to_string()),
                    });
                    self.next_retry = Some(Instant::now() + self.retry);
                    return;
                }
            }
        }
        self.next_retry = None;
    }
}

/// `waitless print-test`: opens the printer, prints the test page, reads the status and
/// returns it. The error says what to check when the printer cannot be reached.
pub fn print_test(config: &PrinterConfig) -> Result<DeviceStatus, DeviceError> {
    let paper = Paper::from_mm(config.paper_mm)?;
    let mut printer: Box<dyn Printer> = match config.uri.clone() {
        PrinterUri::None => {
            return Err(DeviceError::Config(
                "no printer is configured ([printer] uri = \"none\"): set it, e.g. \
                 uri = \"tcp://192.168.1.50:9100\""
                    .to_owned(),
            ));
        }
        PrinterUri::Fake => Box::new(FakePrinter::new()),
        real => Box::new(EscPosPrinter::new(real)),
    };
    let name = printer.name();
    let job = Job {
        id: 1,
        label: "test page".to_owned(),
        at: SystemClock.now(),
        bytes: render_test_page(&name, paper),
    };
    printer.send(&job)?;
    Ok(printer.status().to_status(&name, 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::devices::printer::decode::{Op, decode, text_lines};
    use crate::domain::Timestamp;

    fn settings() -> PrinterSettings {
        PrinterSettings {
            paper: Paper::Mm80,
            qr: true,
            status_poll: Duration::from_millis(20),
            retry: Duration::from_millis(20),
            max_queued_jobs: 3,
            clock: Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH)),
        }
    }

    fn ticket(number: &str) -> TicketPrint {
        TicketPrint {
            lang: "en".into(),
            clinic: "Clinic".into(),
            number: number.into(),
            service: "General".into(),
            issued: "10:42".into(),
            ahead: "0 ahead".into(),
            wait: None,
            status_url: Some("http://x/t/1".into()),
            scan_hint: None,
            footer: String::new(),
        }
    }

    fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            // Polling, not waiting: the condition is checked again every few milliseconds.
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn none_has_no_printer_and_no_status() {
        let board = Arc::new(DeviceBoard::new());
        let handle =
            PrinterHandle::start_with(PrinterUri::None, settings(), board.clone()).unwrap();
        assert_eq!(
            handle.print_ticket(&ticket("A001")),
            PrintOutcome::NoPrinter
        );
        assert_eq!(handle.print_test_page(), PrintOutcome::NoPrinter);
        assert_eq!(handle.status(), None);
        assert_eq!(handle.fake_jobs(), None);
        assert!(board.all().is_empty());
    }

    #[test]
    fn a_ticket_reaches_the_fake_printer() {
        let board = Arc::new(DeviceBoard::new());
        let handle = PrinterHandle::start_with(PrinterUri::Fake, settings(), board).unwrap();
        assert_eq!(handle.print_ticket(&ticket("A001")), PrintOutcome::Queued);
        wait_until("the job", || handle.fake_jobs().unwrap().len() == 1);
        let job = &handle.fake_jobs().unwrap()[0];
        assert_eq!(job.label, "ticket A001");
        assert_eq!(job.id, 1);
        assert_eq!(job.at, Timestamp::UNIX_EPOCH);
        let lines = text_lines(&decode(&job.bytes));
        assert!(lines.iter().any(|l| l.text == "A001" && l.width == 8));
        wait_until("status ok", || {
            handle
                .status()
                .is_some_and(|s| s.condition == "ok" && s.queued_jobs == Some(0))
        });
        handle.stop();
    }

    #[test]
    fn jobs_wait_while_paper_is_out_and_print_once_it_is_back() {
        let board = Arc::new(DeviceBoard::new());
        let handle = PrinterHandle::start_with(PrinterUri::Fake, settings(), board).unwrap();
        let fake = handle.fake_printer().unwrap();
        fake.set_state(PrinterState::PaperOut);
        wait_until("paper-out", || {
            handle.status().is_some_and(|s| s.condition == "paper-out")
        });
        assert_eq!(handle.print_ticket(&ticket("A001")), PrintOutcome::Delayed);
        assert_eq!(handle.print_ticket(&ticket("A002")), PrintOutcome::Delayed);
        wait_until("two queued", || {
            handle.status().is_some_and(|s| s.queued_jobs == Some(2))
        });
        assert!(fake.jobs().is_empty());
        fake.set_state(PrinterState::Ready);
        wait_until("both printed", || fake.jobs().len() == 2);
        let labels: Vec<String> = fake.jobs().into_iter().map(|j| j.label).collect();
        assert_eq!(labels, ["ticket A001", "ticket A002"]);
        assert_eq!(fake.printed(), 2);
        handle.stop();
    }

    #[test]
    fn a_full_queue_drops_the_oldest_job() {
        let board = Arc::new(DeviceBoard::new());
        let handle = PrinterHandle::start_with(PrinterUri::Fake, settings(), board).unwrap();
        let fake = handle.fake_printer().unwrap();
        fake.set_state(PrinterState::CoverOpen);
        wait_until("cover-open", || {
            handle.status().is_some_and(|s| s.condition == "cover-open")
        });
        for n in 1..=5 {
            handle.print_bytes(format!("job {n}"), vec![0x1b, b'@']);
        }
        wait_until("three queued", || {
            handle.status().is_some_and(|s| s.queued_jobs == Some(3))
        });
        fake.set_state(PrinterState::PaperNearEnd);
        wait_until("printed", || fake.jobs().len() == 3);
        let labels: Vec<String> = fake.jobs().into_iter().map(|j| j.label).collect();
        assert_eq!(labels, ["job 3", "job 4", "job 5"]);
        wait_until("warning", || {
            handle
                .status()
                .is_some_and(|s| s.health == Health::Warning && s.queued_jobs == Some(0))
        });
        handle.stop();
    }

    #[test]
    fn the_test_page_and_reprints_go_through_the_queue() {
        let board = Arc::new(DeviceBoard::new());
        let handle = PrinterHandle::start_with(PrinterUri::Fake, settings(), board).unwrap();
        assert_eq!(handle.print_test_page(), PrintOutcome::Queued);
        wait_until("test page", || handle.fake_jobs().unwrap().len() == 1);
        let page = handle.fake_jobs().unwrap()[0].bytes.clone();
        assert!(
            decode(&page)
                .iter()
                .any(|op| matches!(op, Op::Raster { .. }))
        );
        handle.print_bytes("reprint".into(), page.clone());
        wait_until("reprint", || handle.fake_jobs().unwrap().len() == 2);
        assert_eq!(handle.fake_jobs().unwrap()[1].bytes, page);
        assert_eq!(handle.paper(), Paper::Mm80);
        handle.stop();
    }

    #[test]
    fn without_qr_the_ticket_has_no_qr_code() {
        let board = Arc::new(DeviceBoard::new());
        let mut s = settings();
        s.qr = false;
        let handle = PrinterHandle::start_with(PrinterUri::Fake, s, board).unwrap();
        handle.print_ticket(&ticket("B007"));
        wait_until("job", || handle.fake_jobs().unwrap().len() == 1);
        let ops = decode(&handle.fake_jobs().unwrap()[0].bytes);
        assert!(!ops.iter().any(|op| matches!(op, Op::QrStore(_))));
    }

    #[test]
    fn print_test_on_none_and_fake() {
        let mut config = PrinterConfig {
            uri: PrinterUri::None,
            ..PrinterConfig::default()
        };
        assert!(matches!(print_test(&config), Err(DeviceError::Config(_))));
        config.uri = PrinterUri::Fake;
        let status = print_test(&config).unwrap();
        assert_eq!(status.condition, "ok");
        config.uri = PrinterUri::Tcp {
            host: "127.0.0.1".to_owned(),
            port: 1,
        };
        let err = print_test(&config).unwrap_err();
        assert!(err.to_string().contains("is the printer on"), "{err}");
    }
}
