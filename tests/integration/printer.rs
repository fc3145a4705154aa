//! The printer against a fake network printer: tickets as the printer receives them, a printer
//! switched off and on again, paper running out, Hindi tickets, a printer that accepts the
//! connection and never reads, and `waitless print-test`.
//!
//! [`FakeTcpPrinter`] is reusable by other modules (the kiosk's HTTP path): it listens like a
//! printer's raw port 9100, keeps every byte per connection, answers `DLE EOT n` from a
//! scriptable state, and can be switched off (connections refused) and on again on the same
//! port. [`BlackHolePrinter`] accepts connections and never reads a byte (a hung printer).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use waitless::clock::ManualClock;
use waitless::config::PrinterConfig;
use waitless::devices::printer::decode::{Align, qr_codes};
use waitless::devices::printer::status::status_bytes;
use waitless::devices::printer::{
    Op, Paper, PrintOutcome, PrinterHandle, PrinterSettings, PrinterState, PrinterUri, TicketPrint,
    decode, print_test, text_lines,
};
use waitless::devices::{DeviceBoard, DeviceStatus, Health};
use waitless::domain::Timestamp;

use crate::common::{TestApp, wait_until, wait_until_blocking};

/// How long a test waits for something a printer should do.
pub const PATIENCE: Duration = Duration::from_secs(15);

#[derive(Default)]
struct Inner {
    state: Mutex<Option<PrinterState>>,
    /// Bytes received, per connection.
    connections: Mutex<Vec<Arc<Mutex<Vec<u8>>>>>,
    /// Open connections, to close them when switched off.
    streams: Mutex<Vec<TcpStream>>,
    /// Status requests answered, all connections together.
    answered: Mutex<usize>,
    /// The accepting thread and its stop flag, while switched on.
    accepting: Mutex<Option<(JoinHandle<()>, Arc<AtomicBool>)>>,
}

/// A network ESC/POS printer on 127.0.0.1: keeps what it receives, answers status requests.
pub struct FakeTcpPrinter {
    addr: SocketAddr,
    inner: Arc<Inner>,
}

impl FakeTcpPrinter {
    /// A ready printer on a free port.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let printer = Self {
            addr: listener.local_addr().unwrap(),
            inner: Arc::new(Inner::default()),
        };
        printer.set_state(PrinterState::Ready);
        printer.accept_on(listener);
        printer
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its URI for `[printer] uri`.
    pub fn uri(&self) -> String {
        format!("tcp://{}", self.addr)
    }

    /// What it answers from now on: `Ready`, `Offline`, `PaperOut`, `CoverOpen`,
    /// `PaperNearEnd`, or `Unknown(_)` for no answer at all.
    pub fn set_state(&self, state: PrinterState) {
        *self.inner.state.lock().unwrap() = Some(state);
    }

    /// Switches it off: open connections are closed and new ones refused.
    pub fn switch_off(&self) {
        let accepting = self.inner.accepting.lock().unwrap().take();
        if let Some((thread, stop)) = accepting {
            stop.store(true, Ordering::SeqCst);
            // Wake the accepting thread; it drops the listener.
            let _ = TcpStream::connect(self.addr);
            thread.join().unwrap();
        }
        for stream in self.inner.streams.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Switches it on again, on the same port.
    pub fn switch_on(&self) {
        let what = format!("{} to be free again", self.addr);
        let listener = wait_until_blocking(PATIENCE, &what, || TcpListener::bind(self.addr));
        self.accept_on(listener);
    }

    fn accept_on(&self, listener: TcpListener) {
        let stop = Arc::new(AtomicBool::new(false));
        let inner = self.inner.clone();
        let thread_stop = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if thread_stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let bytes = Arc::new(Mutex::new(Vec::new()));
                inner.connections.lock().unwrap().push(bytes.clone());
                inner
                    .streams
                    .lock()
                    .unwrap()
                    .push(stream.try_clone().unwrap());
                let inner = inner.clone();
                std::thread::spawn(move || serve(stream, &bytes, &inner));
            }
        });
        *self.inner.accepting.lock().unwrap() = Some((thread, stop));
    }

    /// The bytes of each connection so far.
    pub fn connections(&self) -> Vec<Vec<u8>> {
        self.inner
            .connections
            .lock()
            .unwrap()
            .iter()
            .map(|bytes| bytes.lock().unwrap().clone())
            .collect()
    }

    /// Every operation received, connection after connection.
    pub fn ops(&self) -> Vec<Op> {
        self.connections().iter().flat_map(|b| decode(b)).collect()
    }

    /// The printouts received (each up to and including its cut), without status requests.
    pub fn printouts(&self) -> Vec<Vec<Op>> {
        let mut printouts = Vec::new();
        let mut current = Vec::new();
        for op in self.ops() {
            match op {
                Op::StatusRequest(_) => {}
                Op::Cut { .. } => {
                    current.push(op);
                    printouts.push(std::mem::take(&mut current));
                }
                op => current.push(op),
            }
        }
        printouts
    }

    /// Status requests answered so far.
    pub fn status_answers(&self) -> usize {
        *self.inner.answered.lock().unwrap()
    }

    /// Waits until it has answered `n` more status requests (time passes for the printer
    /// thread: several polls).
    pub fn wait_status_answers(&self, n: usize) {
        let target = self.status_answers() + n;
        wait_until_blocking(PATIENCE, "status requests", || {
            self.status_answers() >= target
        });
    }
}

impl Drop for FakeTcpPrinter {
    fn drop(&mut self) {
        self.switch_off();
    }
}

/// One connection: keeps the bytes, answers each complete status request.
fn serve(mut stream: TcpStream, bytes: &Mutex<Vec<u8>>, inner: &Inner) {
    let mut buf = [0u8; 16 * 1024];
    let mut requests_seen = 0;
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let requests: Vec<u8> = {
            let mut bytes = bytes.lock().unwrap();
            bytes.extend_from_slice(&buf[..n]);
            // Decoding the whole connection skips status-like bytes inside images.
            decode(&bytes)
                .into_iter()
                .filter_map(|op| match op {
                    Op::StatusRequest(n) => Some(n),
                    _ => None,
                })
                .collect()
        };
        for n in requests.iter().skip(requests_seen) {
            let state = inner.state.lock().unwrap().clone();
            let Some(state) = state.filter(|s| !matches!(s, PrinterState::Unknown(_))) else {
                continue;
            };
            let (printer, cause, paper) = status_bytes(&state);
            let answer = match n {
                1 => printer,
                2 => cause,
                4 => paper,
                _ => 0x12,
            };
            if stream.write_all(&[answer]).is_err() {
                return;
            }
            *inner.answered.lock().unwrap() += 1;
        }
        requests_seen = requests.len();
    }
}

fn settings(paper: Paper) -> PrinterSettings {
    PrinterSettings {
        paper,
        qr: true,
        status_poll: Duration::from_millis(50),
        retry: Duration::from_millis(50),
        max_queued_jobs: 10,
        clock: Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH)),
    }
}

fn start(printer: &FakeTcpPrinter, paper: Paper) -> (PrinterHandle, Arc<DeviceBoard>) {
    let board = Arc::new(DeviceBoard::new());
    let uri = PrinterUri::parse(&printer.uri()).unwrap();
    let handle = PrinterHandle::start_with(uri, settings(paper), board.clone()).unwrap();
    (handle, board)
}

fn ticket(number: &str) -> TicketPrint {
    TicketPrint {
        lang: "en".into(),
        clinic: "Sunrise Clinic".into(),
        number: number.into(),
        service: "General consultation".into(),
        issued: "2025-03-14 10:42".into(),
        ahead: "3 people ahead of you".into(),
        wait: Some("Estimated wait: 10–20 min".into()),
        status_url: Some(format!("http://clinic.local:8080/t/{number}")),
        scan_hint: Some("Scan to follow your turn".into()),
        footer: "Thank you".into(),
    }
}

fn condition_is(handle: &PrinterHandle, condition: &str) -> bool {
    handle.status().is_some_and(|s| s.condition == condition)
}

/// The numbers printed big, in order.
fn big_numbers(printer: &FakeTcpPrinter) -> Vec<String> {
    printer
        .printouts()
        .iter()
        .flat_map(|ops| text_lines(ops))
        .filter(|l| l.width >= 4)
        .map(|l| l.text)
        .collect()
}

#[test]
fn a_ticket_arrives_with_the_number_big_a_qr_code_and_a_cut() {
    let printer = FakeTcpPrinter::start();
    let (handle, _board) = start(&printer, Paper::Mm80);
    wait_until_blocking(PATIENCE, "ok", || condition_is(&handle, "ok"));
    assert_eq!(handle.print_ticket(&ticket("A042")), PrintOutcome::Queued);
    wait_until_blocking(PATIENCE, "the ticket", || printer.printouts().len() == 1);

    let ops = &printer.printouts()[0];
    assert_eq!(ops.first(), Some(&Op::Init));
    assert_eq!(ops.last(), Some(&Op::Cut { partial: false }));
    let lines = text_lines(ops);
    let number = lines.iter().find(|l| l.text == "A042").unwrap();
    assert_eq!((number.width, number.height), (8, 8));
    assert!(number.bold);
    assert_eq!(number.align, Align::Center);
    assert_eq!(lines[0].text, "Sunrise Clinic");
    assert_eq!(lines.last().unwrap().text, "Thank you");
    assert_eq!(qr_codes(ops), ["http://clinic.local:8080/t/A042"]);

    let status = handle.status().unwrap();
    assert_eq!(status.id, "printer");
    assert_eq!(status.health, Health::Ok);
    assert!(
        status.name.contains(&printer.addr().to_string()),
        "{}",
        status.name
    );
    wait_until_blocking(PATIENCE, "no job waiting", || {
        handle.status().is_some_and(|s| s.queued_jobs == Some(0))
    });
    handle.stop();
}

#[test]
fn on_58_mm_a_long_number_is_smaller() {
    let printer = FakeTcpPrinter::start();
    let (handle, _board) = start(&printer, Paper::Mm58);
    handle.print_ticket(&ticket("A1042"));
    wait_until_blocking(PATIENCE, "the ticket", || printer.printouts().len() == 1);
    let lines = text_lines(&printer.printouts()[0]);
    let number = lines.iter().find(|l| l.text == "A1042").unwrap();
    assert_eq!((number.width, number.height), (6, 6));
    handle.stop();
}

#[test]
fn a_printer_switched_off_keeps_the_job_and_prints_it_once_when_back() {
    let printer = FakeTcpPrinter::start();
    let (handle, board) = start(&printer, Paper::Mm80);
    handle.print_ticket(&ticket("A001"));
    wait_until_blocking(PATIENCE, "the first ticket", || {
        printer.printouts().len() == 1
    });

    printer.switch_off();
    wait_until_blocking(PATIENCE, "unreachable", || {
        condition_is(&handle, "unreachable")
    });
    let status = board.get("printer").unwrap();
    assert_eq!(status.health, Health::Error);
    assert!(
        status
            .detail
            .contains("is the printer on and the address right?"),
        "{}",
        status.detail
    );
    assert_eq!(handle.print_ticket(&ticket("A002")), PrintOutcome::Delayed);
    wait_until_blocking(PATIENCE, "the job kept", || {
        handle
            .status()
            .is_some_and(|s| s.condition == "unreachable" && s.queued_jobs == Some(1))
    });

    printer.switch_on();
    wait_until_blocking(PATIENCE, "the second ticket", || {
        printer.printouts().len() == 2
    });
    wait_until_blocking(PATIENCE, "ok, nothing waiting", || {
        handle
            .status()
            .is_some_and(|s| s.condition == "ok" && s.queued_jobs == Some(0))
    });
    // Several status polls later, still printed once.
    printer.wait_status_answers(6);
    assert_eq!(big_numbers(&printer), ["A001", "A002"]);
    handle.stop();
}

#[test]
fn a_printer_off_from_the_start_prints_when_switched_on() {
    let printer = FakeTcpPrinter::start();
    printer.switch_off();
    let (handle, _board) = start(&printer, Paper::Mm80);
    wait_until_blocking(PATIENCE, "unreachable", || {
        condition_is(&handle, "unreachable")
    });
    assert_eq!(handle.print_ticket(&ticket("B007")), PrintOutcome::Delayed);
    printer.switch_on();
    wait_until_blocking(PATIENCE, "the ticket", || printer.printouts().len() == 1);
    printer.wait_status_answers(6);
    assert_eq!(big_numbers(&printer), ["B007"]);
    handle.stop();
}

/// The next status change on the board with this condition.
fn next_change(
    changes: &mut tokio::sync::broadcast::Receiver<DeviceStatus>,
    condition: &str,
) -> DeviceStatus {
    wait_until_blocking(PATIENCE, condition, || {
        while let Ok(status) = changes.try_recv() {
            if status.condition == condition {
                return Ok(status);
            }
        }
        Err("no such change yet")
    })
}

#[test]
fn paper_out_is_reported_and_the_ticket_prints_after_new_paper() {
    let printer = FakeTcpPrinter::start();
    let (handle, board) = start(&printer, Paper::Mm80);
    let mut changes = board.subscribe();
    next_change(&mut changes, "ok");

    printer.set_state(PrinterState::PaperOut);
    let status = next_change(&mut changes, "paper-out");
    assert_eq!(status.health, Health::Error);
    assert_eq!(status.id, "printer");
    assert_eq!(handle.print_ticket(&ticket("C003")), PrintOutcome::Delayed);
    printer.wait_status_answers(9);
    assert!(printer.printouts().is_empty());
    assert_eq!(handle.status().unwrap().queued_jobs, Some(1));

    printer.set_state(PrinterState::PaperNearEnd);
    let status = next_change(&mut changes, "paper-near-end");
    assert_eq!(status.health, Health::Warning);
    wait_until_blocking(PATIENCE, "the ticket", || printer.printouts().len() == 1);
    assert_eq!(big_numbers(&printer), ["C003"]);

    printer.set_state(PrinterState::CoverOpen);
    next_change(&mut changes, "cover-open");
    printer.set_state(PrinterState::Offline);
    next_change(&mut changes, "offline");
    printer.set_state(PrinterState::Ready);
    next_change(&mut changes, "ok");
    handle.stop();
}

#[test]
fn a_printer_that_never_answers_is_status_unknown_and_still_prints() {
    let printer = FakeTcpPrinter::start();
    printer.set_state(PrinterState::Unknown("silent".into()));
    let (handle, _board) = start(&printer, Paper::Mm80);
    wait_until_blocking(PATIENCE, "status-unknown", || {
        condition_is(&handle, "status-unknown")
    });
    let status = handle.status().unwrap();
    assert_eq!(status.health, Health::Unknown);
    // Sent, but nobody can tell whether it comes out: the answer says so.
    assert_eq!(
        handle.print_ticket(&ticket("D004")),
        PrintOutcome::Unconfirmed
    );
    wait_until_blocking(PATIENCE, "the ticket", || printer.printouts().len() == 1);
    assert_eq!(big_numbers(&printer), ["D004"]);
    handle.stop();
}

#[test]
fn a_printer_that_stops_answering_is_not_responding_after_a_few_seconds() {
    use waitless::devices::printer::device::SILENCE_GRACE;
    let printer = FakeTcpPrinter::start();
    let (handle, board) = start(&printer, Paper::Mm80);
    wait_until_blocking(PATIENCE, "ok", || condition_is(&handle, "ok"));
    printer.set_state(PrinterState::Unknown("hung".into()));
    let silent = Instant::now();
    let status = wait_until_blocking(PATIENCE, "not-responding", || {
        board
            .get("printer")
            .filter(|s| s.condition == "not-responding")
            .ok_or_else(|| format!("{:?}", board.get("printer")))
    });
    // A printer busy with a long job may be silent for a moment: not at once.
    assert!(silent.elapsed() >= SILENCE_GRACE, "{:?}", silent.elapsed());
    assert_eq!(status.health, Health::Error);
    assert_eq!(handle.print_ticket(&ticket("E005")), PrintOutcome::Delayed);
    printer.set_state(PrinterState::Ready);
    wait_until_blocking(PATIENCE, "the ticket", || printer.printouts().len() == 1);
    assert_eq!(big_numbers(&printer), ["E005"]);
    handle.stop();
}

#[test]
fn a_hindi_ticket_is_sent_as_raster_images() {
    let printer = FakeTcpPrinter::start();
    let (handle, _board) = start(&printer, Paper::Mm80);
    let hindi = TicketPrint {
        lang: "hi".into(),
        clinic: "सूर्योदय क्लिनिक".into(),
        service: "सामान्य परामर्श".into(),
        ahead: "आपसे पहले 3 लोग".into(),
        wait: Some("अनुमानित प्रतीक्षा: 10–20 मिनट".into()),
        scan_hint: Some("अपनी बारी देखने के लिए स्कैन करें".into()),
        footer: "धन्यवाद".into(),
        ..ticket("A042")
    };
    handle.print_ticket(&hindi);
    wait_until_blocking(PATIENCE, "the ticket", || printer.printouts().len() == 1);
    let ops = &printer.printouts()[0];
    let images: Vec<_> = ops
        .iter()
        .filter_map(|op| match op {
            Op::Raster {
                width_dots, bits, ..
            } => Some((*width_dots, bits)),
            _ => None,
        })
        .collect();
    assert!(images.len() >= 6, "{}", images.len());
    assert!(
        images
            .iter()
            .all(|(w, bits)| *w == 576 && bits.iter().any(|b| *b != 0))
    );
    assert!(ops.iter().all(|op| match op {
        Op::Text(t) => t.is_ascii(),
        _ => true,
    }));
    assert!(
        text_lines(ops)
            .iter()
            .any(|l| l.text == "A042" && l.width == 8)
    );
    assert_eq!(qr_codes(ops), ["http://clinic.local:8080/t/A042"]);
    handle.stop();
}

#[test]
fn print_test_prints_the_test_page_and_returns_the_status() {
    let printer = FakeTcpPrinter::start();
    let config = PrinterConfig {
        uri: printer.uri().parse().unwrap(),
        paper_mm: 58,
        ..PrinterConfig::default()
    };
    let status = print_test(&config).unwrap();
    assert_eq!(status.condition, "ok");
    assert_eq!(status.health, Health::Ok);
    wait_until_blocking(PATIENCE, "the test page", || printer.printouts().len() == 1);
    let ops = &printer.printouts()[0];
    let lines = text_lines(ops);
    assert_eq!(lines[0].text, "waitless test print");
    assert!(lines.iter().any(|l| l.text.contains(&printer.uri())));
    assert!(ops.iter().any(|op| matches!(
        op,
        Op::Raster {
            width_dots: 384,
            ..
        }
    )));
    assert_eq!(qr_codes(ops).len(), 1);

    printer.set_state(PrinterState::PaperOut);
    assert_eq!(print_test(&config).unwrap().condition, "paper-out");

    printer.switch_off();
    let err = print_test(&config).unwrap_err().to_string();
    assert!(
        err.contains(&format!("cannot reach {}", printer.uri())),
        "{err}"
    );
    assert!(
        err.contains("is the printer on and the address right?"),
        "{err}"
    );
}

/// A printer that accepts connections and never reads (a hung printer, or something else on
/// its address): with a small receive buffer, what is sent to it stalls after a few KiB.
pub struct BlackHolePrinter {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl BlackHolePrinter {
    /// Listening on a free port, with a small receive buffer (an embedded printer's).
    pub fn start() -> Self {
        Self::start_with(Some(1024))
    }

    /// Listening on a free port; `recv_buffer` (`None`: the kernel's default, which takes
    /// about a hundred English tickets before its window closes).
    pub fn start_with(recv_buffer: Option<usize>) -> Self {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        // Accepted connections inherit it: the kernel takes little before the window closes.
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).unwrap();
        }
        socket
            .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        socket.listen(8).unwrap();
        let listener: TcpListener = socket.into();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                if thread_stop.load(Ordering::SeqCst) {
                    break;
                }
                // Held open, never read.
                held.extend(stream.ok());
            }
        });
        Self {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// Its URI for `[printer] uri`.
    pub fn uri(&self) -> String {
        format!("tcp://{}", self.addr)
    }
}

impl Drop for BlackHolePrinter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn a_printer_that_takes_no_data_is_a_fault_and_later_tickets_are_delayed() {
    let printer = BlackHolePrinter::start();
    let board = Arc::new(DeviceBoard::new());
    let uri = PrinterUri::parse(&printer.uri()).unwrap();
    let handle = PrinterHandle::start_with(uri, settings(Paper::Mm80), board.clone()).unwrap();
    wait_until_blocking(PATIENCE, "status-unknown", || {
        condition_is(&handle, "status-unknown")
    });
    // A ticket, then a job the size of a ticket with images, fill its buffers; the write that
    // then cannot finish fails.
    let sent = Instant::now();
    assert_eq!(
        handle.print_ticket(&ticket("A001")),
        PrintOutcome::Unconfirmed
    );
    handle.print_bytes("reprint".into(), vec![b'-'; 12 * 1024]);
    let status = wait_until_blocking(PATIENCE, "the printer shown as stalled", || {
        board
            .get("printer")
            .filter(|s| s.condition == "stalled")
            .ok_or_else(|| format!("{:?}", board.get("printer")))
    });
    let took = sent.elapsed();
    assert!(took < Duration::from_secs(8), "the fault took {took:?}");
    assert_eq!(status.health, Health::Error);
    assert!(status.detail.contains("takes no data"), "{}", status.detail);
    assert_eq!(handle.print_ticket(&ticket("B001")), PrintOutcome::Delayed);
    // It stays a fault while it takes nothing: never back to "unknown" between tries.
    for _ in 0..20 {
        assert_eq!(board.get("printer").unwrap().health, Health::Error);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(board.get("printer").unwrap().queued_jobs.unwrap() > 0);
    handle.stop();
}

/// A black hole with a big receive buffer (a PC's, not a printer's) takes a hundred tickets
/// before its window closes, so no write fails for a long time. Until then nothing is claimed:
/// it never answered a status request, so every ticket answers `unconfirmed`, never `queued`,
/// and the device says waitless cannot tell.
#[tokio::test]
async fn with_a_black_hole_that_buffers_everything_tickets_are_never_claimed_printed() {
    let printer = BlackHolePrinter::start_with(None);
    let app = TestApp::spawn_with(|c| {
        c.printer.uri = printer.uri().parse().unwrap();
        c.printer.status_poll_secs = 1;
        c.printer.retry_secs = 1;
    })
    .await;
    let print = serde_json::json!({"service": "general", "print": true});
    let mut answers = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let (status, ticket) = app.call("/api/v1/tickets", Some(print.clone())).await;
        assert_eq!(status, 201, "{ticket}");
        answers.insert(ticket["print"].as_str().unwrap_or_default().to_owned());
    }
    assert!(!answers.contains("queued"), "{answers:?}");
    assert!(answers.contains("unconfirmed"), "{answers:?}");
    let device = wait_until(PATIENCE, "the printer listed", async || {
        let (_, devices) = app.get_json("/api/v1/devices").await;
        devices
            .as_array()
            .and_then(|all| all.iter().find(|d| d["id"] == "printer"))
            .filter(|d| d["condition"] != "connecting")
            .cloned()
            .ok_or_else(|| devices.to_string())
    })
    .await;
    assert_ne!(device["health"], "ok", "{device}");
    assert!(
        ["status-unknown", "stalled"].contains(&device["condition"].as_str().unwrap_or_default()),
        "{device}"
    );
}

#[tokio::test]
async fn with_a_black_hole_printer_the_devices_show_a_fault_and_tickets_answer_delayed() {
    let printer = BlackHolePrinter::start();
    let app = TestApp::spawn_with(|c| {
        c.printer.uri = printer.uri().parse().unwrap();
        c.printer.status_poll_secs = 1;
        c.printer.retry_secs = 1;
    })
    .await;
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    let print = serde_json::json!({"service": "general", "print": true});
    let fault = wait_until(
        PATIENCE,
        "the printer's fault on /api/v1/devices",
        async || {
            let asked = Instant::now();
            let (status, ticket) = app.call("/api/v1/tickets", Some(print.clone())).await;
            assert_eq!(status, 201, "{ticket}");
            slowest = slowest.max(asked.elapsed());
            let (_, devices) = app.get_json("/api/v1/devices").await;
            let printer = devices
                .as_array()
                .and_then(|all| all.iter().find(|d| d["id"] == "printer"))
                .cloned()
                .unwrap_or_default();
            if printer["health"] == "error" {
                Ok(printer)
            } else {
                Err(printer.to_string())
            }
        },
    )
    .await;
    assert_eq!(fault["condition"], "stalled", "{fault}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let (status, ticket) = app.call("/api/v1/tickets", Some(print)).await;
    assert_eq!(status, 201, "{ticket}");
    assert_eq!(ticket["print"], "delayed", "{ticket}");
    // Issuing never waited for the printer.
    assert!(slowest < Duration::from_millis(500), "{slowest:?}");
}

#[tokio::test]
async fn a_configured_network_printer_is_listed_at_once_as_connecting() {
    // It answers nothing, so the first status takes a second or more.
    let printer = BlackHolePrinter::start();
    let app = TestApp::spawn_with(|c| {
        c.printer.uri = printer.uri().parse().unwrap();
    })
    .await;
    let (status, devices) = app.get_json("/api/v1/devices").await;
    assert_eq!(status, 200);
    let listed = devices
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "printer")
        .unwrap_or_else(|| panic!("no printer in {devices}"))
        .clone();
    assert_eq!(listed["condition"], "connecting", "{listed}");
    assert_eq!(listed["health"], "unknown", "{listed}");
    assert!(
        listed["name"].as_str().unwrap().contains(&printer.uri()),
        "{listed}"
    );
}
