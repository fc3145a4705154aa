//! A USB GSM modem (a SIM in a dongle, no internet needed): AT commands over `serialport`, PDU
//! mode. A text of plain letters, digits and common punctuation goes as GSM-7 (160 characters);
//! anything else — any Hindi character — as UCS-2 (70 characters), split into concatenated
//! parts of 67 when longer.
//!
//! What it owns: the AT conversation, the PDUs both ways (SMS-SUBMIT out; SMS-DELIVER and
//! SMS-STATUS-REPORT in), the modem's health and its watchdog. What it does not: what a reply
//! or a report means for the outbox (the sender, `notify::outbox`, decides that).
//!
//! * **The port is opened for each send and each poll** and closed after, so a modem unplugged
//!   and plugged in again (the same udev name) needs nothing but the next try.
//! * **Delivery reports.** Each SMS-SUBMIT asks for a status report (TP-SRR), and each poll and
//!   send sets `AT+CNMI=2,1,0,2,0`: incoming texts and status reports are *stored* by the modem
//!   (only an index is announced), because the port is closed most of the time and a report
//!   routed straight to the port (`+CDS:`) while it is closed is lost. A modem that refuses
//!   stored reports gets `AT+CNMI=2,1,0,1,0`; its `+CDS: <length>` reports are picked up
//!   whenever the port is open. A message's reference is its TP-MR (`+CMGS: <mr>`, the last
//!   part's for a long message) and a 16-bit digest of the recipient's last ten digits
//!   (`"42:9f1c"`): the TP-MR alone wraps after 256 messages, and the number itself must never
//!   reach a log line. Reports of "still trying" (TP-ST `0x20`–`0x3F`) are not a result and are
//!   not passed on; the final report follows.
//! * **Replies.** Each poll lists everything stored (`AT+CMGL=4`), passes on texts
//!   ([`Incoming::Reply`]) and reports ([`Incoming::Delivered`]), and deletes each received
//!   message it read (`AT+CMGD`), so a reply is heard once and the SIM never fills up.
//! * **Health.** Each poll reads the SIM (`AT+CPIN?`), the registration (`AT+CREG?`, and
//!   `AT+CEREG?` for an LTE-only network), the signal (`AT+CSQ`) and the operator (`AT+COPS?`).
//! * **Watchdog.** Some modems stop answering after a while. [`SILENT_LIMIT`] commands without
//!   an answer in a row (sends or polls) and the modem is restarted (`AT+CFUN=1,1`, `ATZ` when
//!   refused); the next poll checks it again. Every wait is bounded, so a hung modem costs the
//!   sender thread a few seconds, never the queue.
//!
//! Phone numbers and message texts are personal data: nothing here logs them.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::clock::Clock;
use crate::domain::notification::phone_key;
use crate::notify::transport::{Incoming, Outgoing, SendError, Sent, Transport, TransportHealth};

/// The modem's line speed (USB modems ignore it; real UARTs expect it).
const BAUD: u32 = 115_200;
/// How long the modem may take to answer a command (a live modem answers in milliseconds).
const ANSWER: Duration = Duration::from_secs(5);
/// How long the modem may take to send one message.
const SENDING: Duration = Duration::from_secs(60);
/// UCS-2 code units in one part of a long message (70 minus the 6-byte concatenation header).
const UCS2_PART: usize = 67;
/// UCS-2 code units in a single message.
const UCS2_SINGLE: usize = 70;
/// GSM-7 characters in a single message.
const GSM7_SINGLE: usize = 160;
/// Commands without an answer in a row before the watchdog restarts the modem.
pub const SILENT_LIMIT: u32 = 3;
/// Incoming texts and status reports stored by the modem, an index announced (27.005 §3.4.1).
const CNMI_STORED: &str = "AT+CNMI=2,1,0,2,0";
/// The same, with status reports routed to the port as `+CDS:` (for modems refusing the above).
const CNMI_DIRECT: &str = "AT+CNMI=2,1,0,1,0";

/// A GSM modem on a serial port.
#[derive(Debug)]
pub struct GsmModem {
    port: String,
    reference: u8,
    patience: Duration,
    status: Status,
    /// Heard while the port was open for something else (a `+CDS:` report during a send).
    pending: Vec<Incoming>,
}

/// What the modem last said of itself.
#[derive(Debug, Default)]
struct Status {
    /// A poll has run.
    checked: bool,
    /// Why the port could not be opened at the last try.
    unopenable: Option<String>,
    /// Commands without an answer, in a row.
    silent: u32,
    /// Reset since it last answered.
    just_reset: bool,
    sim: Option<Sim>,
    registration: Option<Registration>,
    /// `+CSQ` signal, 0–31 (99: unknown).
    signal: Option<u8>,
    operator: Option<String>,
    /// How reports reach us: "stored", "direct" or "off".
    reports: Option<&'static str>,
    errors: u64,
    resets: u32,
}

/// The SIM as `AT+CPIN?` tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Sim {
    Ready,
    Absent,
    Pin,
    Puk,
    Other(String),
}

/// The network registration (`+CREG` stat).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Registration {
    Home,
    Roaming,
    Searching,
    Denied,
    NotRegistered,
    Unknown,
}

impl Registration {
    fn from_stat(stat: u8) -> Self {
        match stat {
            0 => Self::NotRegistered,
            1 => Self::Home,
            2 => Self::Searching,
            3 => Self::Denied,
            5 => Self::Roaming,
            _ => Self::Unknown,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Self::Home => "home",
            Self::Roaming => "roaming",
            Self::Searching => "searching",
            Self::Denied => "denied",
            Self::NotRegistered => "not registered",
            Self::Unknown => "unknown",
        }
    }

    fn registered(self) -> bool {
        matches!(self, Self::Home | Self::Roaming)
    }
}

impl GsmModem {
    /// A modem at `port` (`/dev/ttyUSB2`, or a udev symlink such as `/dev/gsm-modem`).
    pub fn new(port: &str, clock: &dyn Clock) -> Self {
        // Concatenation references should differ between restarts; the time is good enough.
        let reference = (clock.now().as_second().rem_euclid(256)) as u8;
        Self {
            port: port.to_owned(),
            reference,
            patience: ANSWER,
            status: Status::default(),
            pending: Vec::new(),
        }
    }

    /// The same modem, waiting at most `patience` for the answer to a command (5 s unless
    /// told; the tests shorten it to hang quickly).
    #[must_use]
    pub fn with_patience(mut self, patience: Duration) -> Self {
        self.patience = patience;
        self
    }

    fn open(&mut self) -> Result<Line, String> {
        let opened = serialport::new(&self.port, BAUD)
            .flow_control(serialport::FlowControl::None)
            .timeout(Duration::from_millis(50))
            .open();
        match opened {
            Ok(port) => {
                // Late answers to a command we gave up on are not answers to the next one.
                let _ = port.clear(serialport::ClearBuffer::Input);
                self.status.unopenable = None;
                Ok(Line {
                    port,
                    seen: String::new(),
                    heard: Vec::new(),
                    patience: self.patience,
                })
            }
            Err(e) => {
                let why = format!("cannot open {}: {e}", self.port);
                if self.status.unopenable.as_deref() != Some(why.as_str()) {
                    tracing::warn!("modem: {why}");
                }
                self.status.unopenable = Some(why.clone());
                self.status.errors += 1;
                Err(why)
            }
        }
    }

    /// Books the outcome of a command: an answer clears the watchdog; a silence counts, and the
    /// [`SILENT_LIMIT`]th in a row restarts the modem over `line`.
    fn outcome<T>(&mut self, line: &mut Line, result: Result<T, AtError>) -> Result<T, AtError> {
        match &result {
            Ok(_) => self.answered(),
            Err(AtError::Silent) => {
                self.status.silent += 1;
                self.status.errors += 1;
                tracing::warn!(
                    silent = self.status.silent,
                    "modem: no answer in {} ms",
                    line.patience.as_millis()
                );
                if self.status.silent >= SILENT_LIMIT {
                    self.reset(line);
                }
            }
            Err(AtError::Refused(_)) => {
                self.answered();
                self.status.errors += 1;
            }
            Err(AtError::Io(_)) => self.status.errors += 1,
        }
        result
    }

    fn answered(&mut self) {
        self.status.silent = 0;
        self.status.just_reset = false;
    }

    /// Restarts the modem: `AT+CFUN=1,1` (a full restart), or `ATZ` if that is refused. A
    /// restarting modem may drop off the bus before it answers, so silence is taken as done;
    /// the next poll checks it again.
    fn reset(&mut self, line: &mut Line) {
        self.status.resets += 1;
        self.status.silent = 0;
        self.status.just_reset = true;
        tracing::warn!(
            resets = self.status.resets,
            "modem: no answer {SILENT_LIMIT} times in a row, restarting it"
        );
        if let Err(AtError::Refused(why)) = line.command("AT+CFUN=1,1") {
            tracing::warn!("modem: restart refused ({why}), trying ATZ");
            let _ = line.command("ATZ");
        }
    }

    /// Sends `command` and books the outcome: the answer, `None` when refused, or an error when
    /// it got no answer (the caller stops there: a silent modem costs one wait, not many).
    fn ask(&mut self, line: &mut Line, command: &str) -> Result<Option<String>, AtError> {
        let result = line.command(command);
        match self.outcome(line, result) {
            Ok(answer) => Ok(Some(answer)),
            Err(AtError::Refused(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Asks for stored reports and incoming texts (or direct reports where refused).
    fn notifications_on(&mut self, line: &mut Line) -> Result<(), AtError> {
        let reports = if self.ask(line, CNMI_STORED)?.is_some() {
            "stored"
        } else if self.ask(line, CNMI_DIRECT)?.is_some() {
            "direct"
        } else {
            "off"
        };
        if self.status.reports != Some(reports) {
            tracing::info!("modem: delivery reports {reports}");
        }
        self.status.reports = Some(reports);
        Ok(())
    }

    /// One poll over an open line: liveness, SIM, network, then what is stored.
    fn look_after(&mut self, line: &mut Line, heard: &mut Vec<Incoming>) -> Result<(), AtError> {
        if self.ask(line, "AT")?.is_none() {
            return Err(AtError::Refused("AT refused".to_owned()));
        }
        self.status.checked = true;
        self.ask(line, "AT+CMEE=1")?;
        let result = line.command("AT+CPIN?");
        let sim = match self.outcome(line, result) {
            Ok(answer) => parse_cpin(&answer),
            Err(AtError::Refused(why)) => sim_from_error(&why),
            Err(e) => return Err(e),
        };
        self.status.sim = Some(sim.clone());
        if sim != Sim::Ready {
            self.status.registration = None;
            self.status.signal = None;
            self.status.operator = None;
            return Ok(());
        }
        self.status.signal = self.ask(line, "AT+CSQ")?.and_then(|a| parse_csq(&a));
        let mut registration = self
            .ask(line, "AT+CREG?")?
            .and_then(|a| parse_creg(&a, "+CREG:"));
        if !registration.is_some_and(Registration::registered) {
            let lte = self
                .ask(line, "AT+CEREG?")?
                .and_then(|a| parse_creg(&a, "+CEREG:"));
            if lte.is_some_and(Registration::registered) {
                registration = lte;
            }
        }
        self.status.registration = registration;
        self.status.operator = self.ask(line, "AT+COPS?")?.and_then(|a| parse_cops(&a));
        if self.ask(line, "AT+CMGF=0")?.is_none() {
            return Err(AtError::Refused("PDU mode refused".to_owned()));
        }
        self.notifications_on(line)?;
        let Some(listed) = self.ask(line, "AT+CMGL=4")? else {
            return Err(AtError::Refused(
                "the stored messages cannot be listed".to_owned(),
            ));
        };
        for stored in parse_cmgl(&listed) {
            // Only received messages (stat 0, 1): a message someone stored to send is theirs.
            if stored.stat > 1 {
                continue;
            }
            let received = decode(&stored.pdu, stored.length);
            // Deleted first: what the modem still holds is heard at the next poll instead.
            if self
                .ask(line, &format!("AT+CMGD={}", stored.index))?
                .is_none()
            {
                tracing::warn!("modem: cannot delete a stored message");
            }
            match received {
                Ok(Received::Text { from, text }) => heard.push(Incoming::Reply { from, text }),
                Ok(Received::Report(report)) => heard.extend(report.incoming()),
                Ok(Received::Other) => tracing::info!("modem: a stored message of another kind"),
                Err(e) => tracing::warn!("modem: a stored message could not be read: {e}"),
            }
        }
        Ok(())
    }

    fn sending(&mut self, line: &mut Line, pdus: Vec<(usize, String)>) -> Result<u8, AtError> {
        let result = line.command("AT");
        self.outcome(line, result)?;
        let result = line.command("AT+CMGF=0");
        self.outcome(line, result)?;
        self.notifications_on(line)?;
        let mut last = None;
        for (length, pdu) in pdus {
            let result = line.write(format!("AT+CMGS={length}\r").as_bytes());
            self.outcome(line, result)?;
            let result = line.prompt();
            self.outcome(line, result)?;
            let result = line.write(format!("{pdu}\x1A").as_bytes());
            self.outcome(line, result)?;
            let result = line.answer(SENDING.max(line.patience));
            let answer = self.outcome(line, result)?;
            last = Some(parse_cmgs(&answer).ok_or_else(|| {
                AtError::Refused("the message was not confirmed (no +CMGS)".to_owned())
            })?);
        }
        last.ok_or_else(|| AtError::Refused("nothing to send".to_owned()))
    }
}

impl Transport for GsmModem {
    fn describe(&self) -> String {
        format!("GSM modem on {}", self.port)
    }

    fn send(&mut self, message: &Outgoing) -> Result<Sent, SendError> {
        self.reference = self.reference.wrapping_add(1);
        let pdus = pdus(&message.to, &message.body, self.reference)?;
        let mut line = self
            .open()
            .map_err(|why| SendError::Temporary(format!("modem: {why}")))?;
        let sent = self.sending(&mut line, pdus);
        self.pending.extend(line.heard_reports());
        let mr = sent.map_err(|e| SendError::Temporary(format!("modem: {e}")))?;
        Ok(Sent {
            reference: Some(reference(mr, &message.to)),
        })
    }

    fn poll(&mut self) -> Vec<Incoming> {
        let mut heard = std::mem::take(&mut self.pending);
        let Ok(mut line) = self.open() else {
            return heard;
        };
        if let Err(e) = self.look_after(&mut line, &mut heard) {
            tracing::info!("modem: poll cut short: {e}");
        }
        heard.extend(line.heard_reports());
        heard
    }

    fn health(&self) -> Option<TransportHealth> {
        let s = &self.status;
        let mut readings = Vec::new();
        if let Some(sim) = &s.sim {
            let word = match sim {
                Sim::Ready => "ready".to_owned(),
                Sim::Absent => "absent".to_owned(),
                Sim::Pin => "PIN needed".to_owned(),
                Sim::Puk => "PUK needed".to_owned(),
                Sim::Other(what) => what.clone(),
            };
            readings.push(("sim".to_owned(), word));
        }
        if let Some(r) = s.registration {
            readings.push(("registration".to_owned(), r.word().to_owned()));
        }
        if let Some(signal) = s.signal {
            readings.push(("signal".to_owned(), signal_words(signal)));
        }
        if let Some(operator) = &s.operator {
            readings.push(("operator".to_owned(), operator.clone()));
        }
        if let Some(reports) = s.reports {
            readings.push(("reports".to_owned(), reports.to_owned()));
        }
        readings.push(("errors".to_owned(), s.errors.to_string()));
        readings.push(("resets".to_owned(), s.resets.to_string()));
        let plural = |n: u32| if n == 1 { "time" } else { "times" };
        let (ok, detail) = if let Some(why) = &s.unopenable {
            (false, why.clone())
        } else if s.just_reset {
            (
                false,
                format!("no answer: modem reset {} {}", s.resets, plural(s.resets)),
            )
        } else if s.silent > 0 {
            (
                false,
                format!("no answer ({} {} in a row)", s.silent, plural(s.silent)),
            )
        } else if !s.checked {
            (false, "not checked yet".to_owned())
        } else {
            match (&s.sim, s.registration) {
                (Some(Sim::Absent), _) => (false, "no SIM card".to_owned()),
                (Some(Sim::Pin), _) => (false, "the SIM card asks for its PIN".to_owned()),
                (Some(Sim::Puk), _) => (false, "the SIM card is blocked (PUK)".to_owned()),
                (Some(Sim::Other(what)), _) => (false, format!("SIM card: {what}")),
                (None, _) => (false, "SIM card unknown".to_owned()),
                (Some(Sim::Ready), Some(r)) if r.registered() => (
                    true,
                    format!(
                        "registered ({}), signal {}",
                        r.word(),
                        s.signal.map_or("unknown".to_owned(), signal_words)
                    ),
                ),
                (Some(Sim::Ready), Some(Registration::Denied)) => {
                    (false, "the network denied registration".to_owned())
                }
                (Some(Sim::Ready), Some(Registration::Searching)) => {
                    (false, "not registered: searching for a network".to_owned())
                }
                (Some(Sim::Ready), _) => (false, "not registered on a network".to_owned()),
            }
        };
        Some(TransportHealth {
            ok,
            detail,
            readings,
        })
    }
}

/// A `+CSQ` signal value in words: "18/31", or "unknown" for 99.
fn signal_words(signal: u8) -> String {
    if signal <= 31 {
        format!("{signal}/31")
    } else {
        "unknown".to_owned()
    }
}

/// The reference of a message: its TP-MR and a 16-bit digest (FNV-1a, folded) of the
/// recipient's last ten digits, so that a report for TP-MR 42 of yesterday's message to someone
/// else does not match today's. No number can be read back from it.
pub fn reference(mr: u8, to: &str) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for b in phone_key(to).bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{mr}:{:04x}", (hash >> 16) ^ (hash & 0xFFFF))
}

// ---- The AT line ----

/// Why a command got no good answer.
#[derive(Debug, thiserror::Error)]
enum AtError {
    /// Nothing (or no final result) within the patience.
    #[error("no answer")]
    Silent,
    /// `ERROR`, `+CME ERROR: n`, `+CMS ERROR: n`, or an answer without what it should hold.
    #[error("{0}")]
    Refused(String),
    /// The port itself failed.
    #[error("{0}")]
    Io(String),
}

/// An open line to the modem.
struct Line {
    port: Box<dyn serialport::SerialPort>,
    seen: String,
    /// `+CDS:`/`+CMT:` PDUs (with their length) that came unasked.
    heard: Vec<(String, Option<usize>)>,
    patience: Duration,
}

impl Line {
    fn write(&mut self, bytes: &[u8]) -> Result<(), AtError> {
        self.port
            .write_all(bytes)
            .and_then(|()| self.port.flush())
            .map_err(|e| AtError::Io(format!("cannot write: {e}")))
    }

    /// Reads more into `seen`; false when nothing came before the read timed out.
    fn read_more(&mut self) -> Result<bool, AtError> {
        let mut buf = [0u8; 512];
        match self.port.read(&mut buf) {
            Ok(0) => Ok(false),
            Ok(n) => {
                self.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Ok(false),
            Err(e) => Err(AtError::Io(format!("cannot read: {e}"))),
        }
    }

    /// Reads until a final result line (`OK`, `ERROR`, `+CME ERROR`, `+CMS ERROR`); the
    /// answer before it, or why not. Stops at `within` whatever comes.
    fn answer(&mut self, within: Duration) -> Result<String, AtError> {
        let deadline = Instant::now() + within;
        loop {
            if let Some((end, verdict)) = final_line(&self.seen) {
                let answer: String = self.seen.drain(..end).collect();
                self.collect_unasked(&answer);
                return verdict.map(|()| answer);
            }
            if Instant::now() >= deadline {
                return Err(AtError::Silent);
            }
            self.read_more()?;
        }
    }

    /// Reads until the `>` prompt of `AT+CMGS`.
    fn prompt(&mut self) -> Result<(), AtError> {
        let deadline = Instant::now() + self.patience;
        loop {
            if let Some(at) = self.seen.find('>') {
                let before: String = self.seen.drain(..=at).collect();
                self.collect_unasked(&before);
                return Ok(());
            }
            if let Some((end, verdict)) = final_line(&self.seen) {
                self.seen.drain(..end);
                verdict?;
                return Err(AtError::Refused("no prompt".to_owned()));
            }
            if Instant::now() >= deadline {
                return Err(AtError::Silent);
            }
            self.read_more()?;
        }
    }

    fn command(&mut self, command: &str) -> Result<String, AtError> {
        self.write(format!("{command}\r").as_bytes())?;
        self.answer(self.patience)
    }

    /// Keeps the PDUs of `+CDS: <length>` / `+CMT: [<alpha>],<length>` lines in `text`.
    fn collect_unasked(&mut self, text: &str) {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        while let Some(line) = lines.next() {
            if line.starts_with("+CDS:") || line.starts_with("+CMT:") {
                // The length is the last field after the colon.
                let length = line
                    .split_once(':')
                    .and_then(|(_, fields)| fields.rsplit(',').next())
                    .and_then(|l| l.trim().parse().ok());
                if let Some(pdu) = lines.next() {
                    self.heard.push((pdu.to_owned(), length));
                }
            }
        }
    }

    /// What came unasked, decoded.
    fn heard_reports(&mut self) -> Vec<Incoming> {
        let mut out = Vec::new();
        for (pdu, length) in self.heard.drain(..) {
            match decode(&pdu, length) {
                Ok(Received::Report(report)) => out.extend(report.incoming()),
                Ok(Received::Text { from, text }) => out.push(Incoming::Reply { from, text }),
                Ok(Received::Other) => {}
                Err(e) => tracing::warn!("modem: an unasked message could not be read: {e}"),
            }
        }
        out
    }
}

/// Where the first final result line in `seen` ends, and what it says.
fn final_line(seen: &str) -> Option<(usize, Result<(), AtError>)> {
    let mut start = 0;
    while let Some(nl) = seen[start..].find('\n') {
        let end = start + nl + 1;
        let line = seen[start..end].trim();
        if line == "OK" {
            return Some((end, Ok(())));
        }
        if line == "ERROR" || line.starts_with("+CME ERROR") || line.starts_with("+CMS ERROR") {
            return Some((end, Err(AtError::Refused(line.to_owned()))));
        }
        start = end;
    }
    None
}

// ---- Answers ----

/// The value after `prefix` on the first line that starts with it.
fn value_of<'a>(answer: &'a str, prefix: &str) -> Option<&'a str> {
    answer
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix(prefix))
        .map(str::trim)
}

fn parse_cmgs(answer: &str) -> Option<u8> {
    value_of(answer, "+CMGS:")?
        .split(',')
        .next()?
        .trim()
        .parse()
        .ok()
}

fn parse_csq(answer: &str) -> Option<u8> {
    value_of(answer, "+CSQ:")?
        .split(',')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// The registration of a `+CREG: <n>,<stat>[,…]` (or `+CEREG:`) answer.
fn parse_creg(answer: &str, prefix: &str) -> Option<Registration> {
    let fields: Vec<&str> = value_of(answer, prefix)?
        .split(',')
        .map(str::trim)
        .collect();
    // The read answer is `<n>,<stat>`; an unsolicited one is `<stat>` alone.
    let stat = if fields.len() >= 2 {
        fields[1]
    } else {
        fields[0]
    };
    stat.parse().ok().map(Registration::from_stat)
}

/// The operator of `+COPS: <mode>,<format>,"<name>"[,<act>]`.
fn parse_cops(answer: &str) -> Option<String> {
    let value = value_of(answer, "+COPS:")?;
    let name = value.split('"').nth(1)?.trim();
    (!name.is_empty()).then(|| name.chars().take(40).collect())
}

fn parse_cpin(answer: &str) -> Sim {
    match value_of(answer, "+CPIN:").unwrap_or("") {
        "READY" => Sim::Ready,
        "SIM PIN" => Sim::Pin,
        "SIM PUK" => Sim::Puk,
        other => Sim::Other(other.chars().take(40).collect()),
    }
}

/// The SIM of a refused `AT+CPIN?`: `+CME ERROR: 10` (or its words) is no SIM.
fn sim_from_error(error: &str) -> Sim {
    let code = error.rsplit(':').next().unwrap_or("").trim().to_lowercase();
    match code.as_str() {
        "10" | "sim not inserted" => Sim::Absent,
        "11" | "sim pin required" => Sim::Pin,
        "12" | "sim puk required" => Sim::Puk,
        "13" | "sim failure" => Sim::Other("failure".to_owned()),
        "14" | "sim busy" => Sim::Other("busy".to_owned()),
        _ => Sim::Other(error.chars().take(40).collect()),
    }
}

/// One message of an `AT+CMGL` list.
#[derive(Debug, PartialEq, Eq)]
struct Stored {
    index: u32,
    stat: u8,
    length: Option<usize>,
    pdu: String,
}

/// The messages of `+CMGL: <index>,<stat>,[<alpha>],<length>` lines, each followed by its PDU.
fn parse_cmgl(answer: &str) -> Vec<Stored> {
    let mut out = Vec::new();
    let mut lines = answer.lines().map(str::trim).filter(|l| !l.is_empty());
    while let Some(line) = lines.next() {
        let Some(fields) = line.strip_prefix("+CMGL:") else {
            continue;
        };
        let fields: Vec<&str> = fields.split(',').map(str::trim).collect();
        let (Some(index), Some(stat)) = (
            fields.first().and_then(|i| i.parse().ok()),
            fields.get(1).and_then(|s| s.parse().ok()),
        ) else {
            continue;
        };
        let length = fields.last().and_then(|l| l.parse().ok());
        if let Some(pdu) = lines.next() {
            out.push(Stored {
                index,
                stat,
                length,
                pdu: pdu.to_owned(),
            });
        }
    }
    out
}

// ---- PDUs out ----

/// The characters whose GSM-7 code is their ASCII code.
fn gsm7_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || " !\"#%&'()*+,-./:;<=>?\n\r".contains(c)
}

/// The first octet of an SMS-SUBMIT: TP-MTI 01, TP-SRR (a status report, please), and TP-UDHI
/// when the text starts with a header (a part of a long message).
const SUBMIT: u8 = 0x21;
const SUBMIT_WITH_HEADER: u8 = 0x61;

/// The PDUs (hex, without the service centre prefix counted) of `text` to `to`: each with the
/// octet count `AT+CMGS` needs.
pub fn pdus(to: &str, text: &str, reference: u8) -> Result<Vec<(usize, String)>, SendError> {
    let number: String = to.chars().filter(char::is_ascii_digit).collect();
    if number.is_empty() || number.len() > 20 {
        return Err(SendError::Permanent("not a phone number".to_owned()));
    }
    let international = to.trim_start().starts_with('+');
    let mut address = vec![
        u8::try_from(number.len()).unwrap_or(20),
        if international { 0x91 } else { 0x81 },
    ];
    address.extend(semi_octets(&number));
    let gsm7 = text.chars().all(gsm7_plain) && text.chars().count() <= GSM7_SINGLE;
    let mut out = Vec::new();
    if gsm7 {
        let septets: Vec<u8> = text.chars().map(|c| c as u8).collect();
        let mut pdu = vec![SUBMIT, 0x00];
        pdu.extend(&address);
        pdu.extend([0x00, 0x00, u8::try_from(septets.len()).unwrap_or(160)]);
        pdu.extend(pack7(&septets));
        out.push(pdu);
    } else {
        let units: Vec<u16> = text.encode_utf16().collect();
        let parts: Vec<&[u16]> = if units.len() <= UCS2_SINGLE {
            vec![&units]
        } else {
            units.chunks(UCS2_PART).collect()
        };
        if parts.len() > 255 {
            return Err(SendError::Permanent("the message is too long".to_owned()));
        }
        let total = parts.len() as u8;
        for (i, part) in parts.iter().enumerate() {
            let mut data = Vec::new();
            if total > 1 {
                data.extend([0x05, 0x00, 0x03, reference, total, (i + 1) as u8]);
            }
            for unit in *part {
                data.extend(unit.to_be_bytes());
            }
            let first = if total > 1 {
                SUBMIT_WITH_HEADER
            } else {
                SUBMIT
            };
            let mut pdu = vec![first, 0x00];
            pdu.extend(&address);
            pdu.extend([0x00, 0x08, u8::try_from(data.len()).unwrap_or(140)]);
            pdu.extend(data);
            out.push(pdu);
        }
    }
    Ok(out
        .into_iter()
        .map(|pdu| {
            let hex: String = pdu.iter().map(|b| format!("{b:02X}")).collect();
            // "00": the SIM's own service centre (not counted in AT+CMGS's length).
            (pdu.len(), format!("00{hex}"))
        })
        .collect())
}

/// How many text messages `text` takes as this modem sends it: one GSM-7 message up to 160
/// plain characters; else UCS-2, one message up to 70 UTF-16 units, parts of 67 beyond.
pub fn segments(text: &str) -> usize {
    if text.chars().all(gsm7_plain) && text.chars().count() <= GSM7_SINGLE {
        return 1;
    }
    let units = text.encode_utf16().count();
    if units <= UCS2_SINGLE {
        1
    } else {
        units.div_ceil(UCS2_PART)
    }
}

/// Digits as swapped semi-octets, padded with F.
fn semi_octets(digits: &str) -> Vec<u8> {
    digits
        .as_bytes()
        .chunks(2)
        .map(|pair| {
            let low = pair[0].wrapping_sub(b'0') & 0x0F;
            let high = pair.get(1).map_or(0x0F, |d| d.wrapping_sub(b'0') & 0x0F);
            (high << 4) | low
        })
        .collect()
}

/// Packs 7-bit septets into octets (GSM 03.38).
fn pack7(septets: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(septets.len() * 7 / 8 + 1);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &s in septets {
        acc |= u32::from(s & 0x7F) << bits;
        bits += 7;
        while bits >= 8 {
            out.push((acc & 0xFF) as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out.push((acc & 0xFF) as u8);
    }
    out
}

// ---- PDUs in ----

/// Why a PDU could not be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PduError {
    /// Not an even number of hex digits.
    #[error("not hex")]
    NotHex,
    /// It ends before the named field.
    #[error("too short for its {0}")]
    Short(&'static str),
    /// A compressed text (TS 23.042), which no phone sends for a reply.
    #[error("compressed text")]
    Compressed,
}

/// What a received PDU holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    /// An SMS-DELIVER: a text from a phone.
    Text {
        /// The sender's number (`+` and digits when international), or name.
        from: String,
        /// The text (one part of a long message: parts are not joined).
        text: String,
    },
    /// An SMS-STATUS-REPORT for a message sent.
    Report(Report),
    /// Anything else (an SMS-SUBMIT someone stored).
    Other,
}

/// A status report: which message (TP-MR), to whom, and what became of it (TP-ST).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The TP-MR of the message it reports on.
    pub mr: u8,
    /// The recipient's number.
    pub to: String,
    /// TP-ST.
    pub status: u8,
}

impl Report {
    /// Reached the phone (TP-ST 0x00–0x1F).
    pub fn delivered(&self) -> bool {
        self.status < 0x20
    }

    /// An interim report: the network is still trying (TP-ST 0x20–0x3F).
    pub fn still_trying(&self) -> bool {
        (0x20..0x40).contains(&self.status)
    }

    /// The report for the sender, unless it is an interim one.
    fn incoming(&self) -> Option<Incoming> {
        if self.still_trying() {
            tracing::info!(
                mr = self.mr,
                status = self.status,
                "modem: a report: still trying"
            );
            return None;
        }
        Some(Incoming::Delivered {
            reference: reference(self.mr, &self.to),
            delivered: self.delivered(),
            detail: status_words(self.status).to_owned(),
        })
    }
}

/// TP-ST in words (3GPP TS 23.040 §9.2.3.15).
pub fn status_words(status: u8) -> &'static str {
    match status {
        0x00 => "received by the phone",
        0x01 => "forwarded, delivery not confirmed",
        0x02 => "replaced by the service centre",
        0x03..=0x1F => "delivered",
        0x20 | 0x60 => "network congestion",
        0x21 | 0x61 => "the phone was busy",
        0x22 | 0x62 => "no response from the phone (switched off or out of coverage)",
        0x23 | 0x63 => "service rejected",
        0x24 | 0x44 | 0x64 => "quality of service not available",
        0x25 | 0x65 => "error in the phone",
        0x26..=0x3F => "still trying",
        0x40 => "remote procedure error",
        0x41 => "incompatible destination",
        0x42 => "connection rejected by the phone",
        0x43 => "not obtainable",
        0x45 => "no interworking available",
        0x46 => "validity period expired",
        0x47 => "deleted by the sender",
        0x48 => "deleted by the service centre",
        0x49 => "the message does not exist",
        _ => "not delivered",
    }
}

/// A cursor over a PDU's octets.
struct Octets<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Octets<'a> {
    fn one(&mut self, what: &'static str) -> Result<u8, PduError> {
        Ok(self.take(1, what)?[0])
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], PduError> {
        let end = self.at.checked_add(n).ok_or(PduError::Short(what))?;
        let slice = self.bytes.get(self.at..end).ok_or(PduError::Short(what))?;
        self.at = end;
        Ok(slice)
    }

    fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.at..).unwrap_or_default()
    }

    /// An address: digit count, type, semi-octets (or GSM-7 letters when alphanumeric).
    fn address(&mut self, what: &'static str) -> Result<String, PduError> {
        let digits = usize::from(self.one(what)?);
        let kind = self.one(what)?;
        let octets = self.take(digits.div_ceil(2), what)?;
        if kind & 0x70 == 0x50 {
            // Alphanumeric: `digits` counts semi-octets of packed GSM-7.
            let septets = digits * 4 / 7;
            return Ok(gsm7_text(&unpack7(octets, septets)));
        }
        let mut out = if kind & 0x70 == 0x10 {
            "+".to_owned()
        } else {
            String::new()
        };
        for b in octets {
            for nibble in [b & 0x0F, b >> 4] {
                match nibble {
                    0..=9 => out.push(char::from(b'0' + nibble)),
                    0x0A => out.push('*'),
                    0x0B => out.push('#'),
                    _ => {}
                }
            }
        }
        Ok(out)
    }
}

/// Decodes a received PDU in hex: with its service centre address first, unless it is exactly
/// `tpdu_length` octets long (the length `+CMGL`/`+CDS` give counts the TPDU alone; some
/// modems leave the service centre out of `+CDS`).
pub fn decode(hex: &str, tpdu_length: Option<usize>) -> Result<Received, PduError> {
    let hex = hex.trim();
    if !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(PduError::NotHex);
    }
    let bytes: Vec<u8> = hex
        .as_bytes()
        .chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).unwrap_or("00");
            u8::from_str_radix(text, 16).unwrap_or(0)
        })
        .collect();
    let mut o = Octets {
        bytes: &bytes,
        at: 0,
    };
    if tpdu_length != Some(bytes.len()) {
        let sca = usize::from(o.one("service centre")?);
        o.take(sca, "service centre")?;
    }
    let first = o.one("first octet")?;
    match first & 0x03 {
        0x00 => deliver(&mut o, first),
        0x02 => {
            let mr = o.one("message reference")?;
            let to = o.address("recipient")?;
            o.take(7, "service centre time")?;
            o.take(7, "discharge time")?;
            let status = o.one("status")?;
            Ok(Received::Report(Report { mr, to, status }))
        }
        _ => Ok(Received::Other),
    }
}

/// The rest of an SMS-DELIVER after its first octet.
fn deliver(o: &mut Octets<'_>, first: u8) -> Result<Received, PduError> {
    let from = o.address("sender")?;
    o.one("protocol")?;
    let dcs = o.one("coding")?;
    o.take(7, "time")?;
    let length = usize::from(o.one("length")?);
    let data = o.rest();
    let header = if first & 0x40 != 0 {
        usize::from(*data.first().ok_or(PduError::Short("header"))?) + 1
    } else {
        0
    };
    let text = match alphabet(dcs)? {
        Alphabet::Gsm7 => {
            let septets = unpack7(data, length);
            // The header is padded to a septet boundary.
            let skip = (header * 8).div_ceil(7);
            gsm7_text(septets.get(skip..).unwrap_or_default())
        }
        Alphabet::Ucs2 => {
            let octets = data.get(header..length.min(data.len())).unwrap_or_default();
            let units: Vec<u16> = octets
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        Alphabet::Eight => {
            let octets = data.get(header..length.min(data.len())).unwrap_or_default();
            String::from_utf8_lossy(octets).into_owned()
        }
    };
    Ok(Received::Text { from, text })
}

/// The alphabets of TP-DCS.
enum Alphabet {
    Gsm7,
    Eight,
    Ucs2,
}

/// The alphabet TP-DCS names (3GPP TS 23.038 §4).
fn alphabet(dcs: u8) -> Result<Alphabet, PduError> {
    let by_bits = |bits: u8| match bits & 0x03 {
        1 => Alphabet::Eight,
        2 => Alphabet::Ucs2,
        _ => Alphabet::Gsm7,
    };
    match dcs >> 4 {
        // General data coding (00xx) and automatic deletion (01xx).
        0x0..=0x7 => {
            if dcs & 0x20 != 0 {
                Err(PduError::Compressed)
            } else {
                Ok(by_bits(dcs >> 2))
            }
        }
        0xC | 0xD => Ok(Alphabet::Gsm7),
        0xE => Ok(Alphabet::Ucs2),
        0xF => Ok(if dcs & 0x04 != 0 {
            Alphabet::Eight
        } else {
            Alphabet::Gsm7
        }),
        _ => Ok(Alphabet::Gsm7),
    }
}

/// Unpacks `count` septets from packed octets (as many as there are).
fn unpack7(octets: &[u8], count: usize) -> Vec<u8> {
    (0..count)
        .map_while(|i| {
            let bit = i * 7;
            let lo = u16::from(*octets.get(bit / 8)?);
            let hi = octets.get(bit / 8 + 1).map_or(0, |b| u16::from(*b));
            Some((((hi << 8 | lo) >> (bit % 8)) & 0x7F) as u8)
        })
        .collect()
}

/// The GSM 03.38 default alphabet, code 0x00 to 0x7F (0x1B: the escape to the extension).
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1b}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// Septets of the default alphabet as text, with the extension table's common characters.
fn gsm7_text(septets: &[u8]) -> String {
    let basic = |code: u8| GSM7_BASIC.chars().nth(usize::from(code)).unwrap_or('?');
    let mut out = String::new();
    let mut escaped = false;
    for &code in septets {
        if escaped {
            escaped = false;
            out.push(match code {
                0x0A => '\u{0C}',
                0x14 => '^',
                0x28 => '{',
                0x29 => '}',
                0x2F => '\\',
                0x3C => '[',
                0x3D => '~',
                0x3E => ']',
                0x40 => '|',
                0x65 => '€',
                other => basic(other),
            });
        } else if code == 0x1B {
            escaped = true;
        } else {
            out.push(basic(code));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_gsm7_and_hindi_is_ucs2_both_asking_for_a_report() {
        // The classic example: "hellohello" to +31 6 4111 1111 (digits swapped, F-padded);
        // first octet 0x21: SMS-SUBMIT with TP-SRR.
        let parts = pdus("+31641111111", "hellohello", 0).unwrap();
        assert_eq!(
            parts,
            vec![(
                22,
                "0021000B911346111111F100000AE8329BFD4697D9EC37".to_owned()
            )]
        );
        // क म र ा, space, 2: six UTF-16 units, twelve octets, DCS 08.
        let parts = pdus("98450", "कमरा 2", 0).unwrap();
        assert_eq!(
            parts,
            vec![(
                22,
                "00210005818954F000080C0915092E0930093E00200032".to_owned()
            )]
        );
    }

    #[test]
    fn a_long_hindi_text_is_split_into_numbered_parts() {
        let text = "क".repeat(150);
        let parts = pdus("+911", &text, 7).unwrap();
        assert_eq!(parts.len(), 3);
        for (i, (length, pdu)) in parts.iter().enumerate() {
            assert_eq!(pdu.len(), 2 + length * 2);
            // UDHI and SRR set; the header: reference 7, 3 parts, this one's number.
            assert!(pdu.starts_with("0061"), "{pdu}");
            assert!(pdu.contains(&format!("05000307030{}", i + 1)), "{pdu}");
        }
    }

    #[test]
    fn segments_count_as_the_modem_sends() {
        assert_eq!(segments(&"a".repeat(160)), 1);
        assert_eq!(segments("कमरा 2"), 1);
        assert_eq!(segments(&"क".repeat(70)), 1);
        assert_eq!(segments(&"क".repeat(71)), 2);
        assert_eq!(segments(&"क".repeat(135)), 3);
        assert_eq!(segments(&"a".repeat(161)), 3);
    }

    #[test]
    fn a_number_without_digits_is_refused() {
        assert!(matches!(
            pdus("call me", "x", 0),
            Err(SendError::Permanent(_))
        ));
    }

    #[test]
    fn the_default_alphabet_has_128_characters() {
        assert_eq!(GSM7_BASIC.chars().count(), 128);
        assert_eq!(gsm7_text(&[0x00, 0x01, 0x24, 0x5F, 0x7F]), "@£¤§à");
        assert_eq!(gsm7_text(&[0x1B, 0x65, 0x35, 0x1B, 0x3C]), "€5[");
    }

    #[test]
    fn the_classic_sms_deliver_example_reads_hellohello() {
        // The example of the GSM 03.40 tutorials: service centre +27381000015, from
        // 27838890001 (a national number), 1999-03-29, GSM-7 "hellohello".
        let pdu = "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37";
        assert_eq!(
            decode(pdu, Some(28)),
            Ok(Received::Text {
                from: "27838890001".to_owned(),
                text: "hellohello".to_owned()
            })
        );
    }

    #[test]
    fn an_international_ucs2_reply_and_a_gsm7_stop_are_read() {
        // No service centre (00), SMS-DELIVER (04), from +91 98450 12345 (0C 91, swapped),
        // PID 00, DCS 08, a time, 6 octets: ब ं द.
        let pdu = "00040C9119895410325400086221600101000006092C09020926";
        assert_eq!(
            decode(pdu, None),
            Ok(Received::Text {
                from: "+919845012345".to_owned(),
                text: "बंद".to_owned()
            })
        );
        // "STOP" in four septets packed into four octets: 53 EA 13 0A.
        let pdu = "00040C91198954103254000062216001010000".to_owned() + "0453EA130A";
        assert_eq!(
            decode(&pdu, None),
            Ok(Received::Text {
                from: "+919845012345".to_owned(),
                text: "STOP".to_owned()
            })
        );
    }

    #[test]
    fn a_gsm7_part_skips_its_header_and_the_fill_bits() {
        // UDHI (0x44): a 6-octet concatenation header, then "hi" from septet 7.
        let mut septets = vec![0u8; 7];
        septets.extend([b'h', b'i']);
        let mut data = pack7(&septets);
        data[..6].copy_from_slice(&[0x05, 0x00, 0x03, 0x01, 0x02, 0x01]);
        let hex: String = data.iter().map(|b| format!("{b:02X}")).collect();
        let pdu = format!("0044038121F300006221600101000009{hex}");
        assert_eq!(
            decode(&pdu, None),
            Ok(Received::Text {
                from: "123".to_owned(),
                text: "hi".to_owned()
            })
        );
    }

    #[test]
    fn an_alphanumeric_sender_is_read_as_letters() {
        // "AIRTEL": 6 septets = 42 bits = 11 semi-octets, type D0.
        let name = pack7(b"AIRTEL");
        let hex: String = name.iter().map(|b| format!("{b:02X}")).collect();
        let pdu = format!("00040BD0{hex}0000622160010100000148");
        assert_eq!(
            decode(&pdu, None),
            Ok(Received::Text {
                from: "AIRTEL".to_owned(),
                text: "H".to_owned()
            })
        );
    }

    #[test]
    fn status_reports_give_the_reference_and_what_became_of_it() {
        // Service centre +447802000332, SMS-STATUS-REPORT (06), TP-MR 0x2A, to +91 98450 12345,
        // two times, TP-ST.
        let report = |st: &str| {
            format!(
                "{}{}{}{}{}{st}",
                "0791448720003023", // service centre
                "062A",             // SMS-STATUS-REPORT, TP-MR 42
                "0C91198954103254", // recipient +919845012345
                "62216001010000",   // service centre time
                "62216001011000",   // discharge time
            )
        };
        let delivered = decode(&report("00"), None).unwrap();
        let Received::Report(r) = delivered else {
            panic!("{delivered:?}")
        };
        assert_eq!(
            (r.mr, r.to.as_str(), r.delivered()),
            (42, "+919845012345", true)
        );
        assert_eq!(
            r.incoming(),
            Some(Incoming::Delivered {
                reference: reference(42, "+91 98450 12345"),
                delivered: true,
                detail: "received by the phone".to_owned()
            })
        );
        let Ok(Received::Report(expired)) = decode(&report("46"), None) else {
            panic!()
        };
        assert!(!expired.delivered());
        assert_eq!(status_words(expired.status), "validity period expired");
        // Still trying: no result yet.
        let Ok(Received::Report(trying)) = decode(&report("22"), None) else {
            panic!()
        };
        assert_eq!(trying.incoming(), None);
        // Without the service centre when the length says so (some modems' +CDS).
        let tpdu = &report("00")[16..];
        assert_eq!(decode(tpdu, Some(tpdu.len() / 2)), Ok(Received::Report(r)));
    }

    #[test]
    fn references_tell_numbers_apart_but_not_ways_of_writing_one() {
        assert_eq!(reference(7, "+91 98450 12345"), reference(7, "09845012345"));
        assert_ne!(
            reference(7, "+91 98450 12345"),
            reference(7, "+91 98450 12346")
        );
        assert_ne!(
            reference(7, "+91 98450 12345"),
            reference(8, "+91 98450 12345")
        );
        assert!(!reference(7, "+91 98450 12345").contains("98450"));
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        for bad in [
            "", "0", "zz", "07", "0791", "00FF", "0004", "000405", "00040C91",
        ] {
            assert!(decode(bad, None).is_err() || bad == "00FF", "{bad}");
        }
        // A length byte far beyond the data.
        assert!(decode("0004039121F30000622160010100000AFF", None).is_ok());
    }

    #[test]
    fn answers_are_read() {
        assert_eq!(parse_csq("\r\n+CSQ: 18,99\r\n\r\nOK\r\n"), Some(18));
        assert_eq!(
            parse_creg("AT+CREG?\r\r\n+CREG: 0,5\r\n\r\nOK\r\n", "+CREG:"),
            Some(Registration::Roaming)
        );
        assert_eq!(
            parse_creg("+CREG: 2,1,\"1A2B\",\"00C3F1\",7\r\nOK\r\n", "+CREG:"),
            Some(Registration::Home)
        );
        assert_eq!(
            parse_cops("+COPS: 0,0,\"Airtel\",7\r\nOK\r\n").as_deref(),
            Some("Airtel")
        );
        assert_eq!(parse_cpin("+CPIN: READY\r\n\r\nOK\r\n"), Sim::Ready);
        assert_eq!(parse_cpin("+CPIN: SIM PIN\r\nOK\r\n"), Sim::Pin);
        assert_eq!(sim_from_error("+CME ERROR: 10"), Sim::Absent);
        assert_eq!(sim_from_error("+CME ERROR: SIM not inserted"), Sim::Absent);
        assert_eq!(parse_cmgs("\r\n+CMGS: 201\r\n\r\nOK\r\n"), Some(201));
        assert_eq!(
            parse_cmgl("+CMGL: 1,0,,23\r\n0791AB\r\n+CMGL: 4,3,\"x\",9\r\n00AA\r\nOK\r\n"),
            vec![
                Stored {
                    index: 1,
                    stat: 0,
                    length: Some(23),
                    pdu: "0791AB".to_owned()
                },
                Stored {
                    index: 4,
                    stat: 3,
                    length: Some(9),
                    pdu: "00AA".to_owned()
                }
            ]
        );
        assert!(final_line("+CME ERROR: 1").is_none());
        assert!(matches!(
            final_line("x\r\n+CME ERROR: 10\r\n"),
            Some((_, Err(AtError::Refused(e)))) if e == "+CME ERROR: 10"
        ));
    }
}
