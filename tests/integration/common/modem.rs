//! A fake GSM modem on a pseudo-terminal, speaking AT like a real one (with echo): it takes
//! SMS-SUBMIT PDUs (`AT+CMGS`, the `>` prompt, Ctrl-Z, `+CMGS: <mr>`), answers the health
//! questions (`AT+CPIN?`, `AT+CSQ`, `AT+CREG?`, `AT+COPS?`), keeps received messages for
//! `AT+CMGL=4` / `AT+CMGD`, makes a status report for each message sent (stored, or as a `+CDS:`
//! line), and can hang — read everything, answer nothing — until `AT+CFUN=1,1`.
//!
//! The PDUs it makes and reads are written here, apart from the code under test, so that a
//! mistake in one is not hidden by the same one in the other.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use serialport::SerialPort;

/// How the fake hands over status reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reports {
    /// Stored, listed by `AT+CMGL` (`AT+CNMI=…,2,…`).
    #[default]
    Stored,
    /// Refuses to store them; a `+CDS: <length>` line before its next answer
    /// (`AT+CNMI=…,1,…`).
    Direct,
}

#[derive(Debug)]
struct State {
    /// The SMS-SUBMIT PDUs it was given.
    sent: Vec<String>,
    /// Every command line it read (while hung too).
    commands: Vec<String>,
    /// Stored messages: index, stat, PDU (with service centre), TPDU length.
    stored: Vec<(u32, u8, String, usize)>,
    next_index: u32,
    next_mr: u8,
    hung: bool,
    /// While hung, `AT+CFUN=1,1` is refused and `ATZ` restarts it.
    refuses_cfun: bool,
    sim: bool,
    reports: Reports,
    /// TP-ST of the reports it makes.
    report_status: u8,
    /// Lines to write before the next answer.
    unasked: Vec<String>,
}

/// A running fake modem; its pseudo-terminal lives as long as it does.
pub struct FakeModem {
    /// The port to open.
    pub path: String,
    state: Arc<Mutex<State>>,
    _slave: serialport::TTYPort,
}

impl FakeModem {
    /// A modem with a SIM, registered at home, signal 18, storing reports.
    pub fn start() -> Self {
        let (mut master, slave) = serialport::TTYPort::pair().unwrap();
        let path = slave.name().unwrap();
        master
            .set_timeout(std::time::Duration::from_millis(100))
            .unwrap();
        let state = Arc::new(Mutex::new(State {
            sent: Vec::new(),
            commands: Vec::new(),
            stored: Vec::new(),
            next_index: 1,
            next_mr: 41,
            hung: false,
            refuses_cfun: false,
            sim: true,
            reports: Reports::Stored,
            report_status: 0x00,
            unasked: Vec::new(),
        }));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut buf = [0u8; 512];
            loop {
                match master.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
                    Err(_) => return,
                }
                loop {
                    let text = String::from_utf8_lossy(&seen).into_owned();
                    let answer = if let Some(end) = text.find('\x1a') {
                        let pdu = text[..end].trim().to_owned();
                        seen.drain(..=end);
                        shared.lock().unwrap().submitted(pdu)
                    } else if let Some(end) = text.find('\r') {
                        let command = text[..end].trim().to_owned();
                        seen.drain(..=end);
                        if command.is_empty() {
                            continue;
                        }
                        shared.lock().unwrap().command(&command)
                    } else {
                        break;
                    };
                    if master.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            }
        });
        Self {
            path,
            state,
            _slave: slave,
        }
    }

    /// The SMS-SUBMIT PDUs it was given, in order.
    pub fn pdus(&self) -> Vec<String> {
        self.state.lock().unwrap().sent.clone()
    }

    /// The command lines it read, in order.
    pub fn commands(&self) -> Vec<String> {
        self.state.lock().unwrap().commands.clone()
    }

    /// How many command lines started with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.commands()
            .iter()
            .filter(|c| c.starts_with(prefix))
            .count()
    }

    /// Keeps `pdu` (hex, with its service centre) as a received, unread message.
    pub fn receive(&self, pdu: &str) {
        self.state.lock().unwrap().store(pdu.to_owned());
    }

    /// How many messages it holds.
    pub fn stored(&self) -> usize {
        self.state.lock().unwrap().stored.len()
    }

    /// Stops answering (until `AT+CFUN=1,1`).
    pub fn hang(&self) {
        self.state.lock().unwrap().hung = true;
    }

    /// Stops answering, and refuses `AT+CFUN=1,1` (until `ATZ`).
    pub fn hang_refusing_cfun(&self) {
        let mut state = self.state.lock().unwrap();
        state.hung = true;
        state.refuses_cfun = true;
    }

    /// Whether it is hung.
    pub fn hung(&self) -> bool {
        self.state.lock().unwrap().hung
    }

    /// Takes the SIM card out (`false`) or puts it back.
    pub fn set_sim(&self, inserted: bool) {
        self.state.lock().unwrap().sim = inserted;
    }

    /// The TP-ST of the reports it makes from now on (0x00: received by the phone).
    pub fn set_report_status(&self, status: u8) {
        self.state.lock().unwrap().report_status = status;
    }

    /// How it hands over status reports.
    pub fn set_reports(&self, reports: Reports) {
        self.state.lock().unwrap().reports = reports;
    }
}

impl State {
    fn command(&mut self, command: &str) -> String {
        self.commands.push(command.to_owned());
        if self.hung {
            return match (command, self.refuses_cfun) {
                ("AT+CFUN=1,1", true) => format!("{command}\r\r\nERROR\r\n"),
                ("AT+CFUN=1,1", false) | ("ATZ", true) => {
                    self.hung = false;
                    format!("{command}\r\r\nOK\r\n")
                }
                _ => String::new(),
            };
        }
        let unasked: String = self.unasked.drain(..).collect();
        let ok = "\r\nOK\r\n";
        let body = match command {
            "AT" | "ATE0" | "ATZ" | "AT+CMGF=0" | "AT+CMEE=1" | "AT+CFUN=1,1" => ok.to_owned(),
            "AT+CPIN?" if self.sim => format!("\r\n+CPIN: READY\r\n{ok}"),
            "AT+CPIN?" => "\r\n+CME ERROR: 10\r\n".to_owned(),
            "AT+CSQ" => format!("\r\n+CSQ: 18,99\r\n{ok}"),
            "AT+CREG?" => format!("\r\n+CREG: 0,1\r\n{ok}"),
            "AT+COPS?" => format!("\r\n+COPS: 0,0,\"Airtel\",7\r\n{ok}"),
            "AT+CNMI=2,1,0,2,0" if self.reports == Reports::Direct => "\r\nERROR\r\n".to_owned(),
            "AT+CNMI=2,1,0,2,0" | "AT+CNMI=2,1,0,1,0" => ok.to_owned(),
            "AT+CMGL=4" if !self.sim => "\r\n+CMS ERROR: 310\r\n".to_owned(),
            "AT+CMGL=4" => {
                let mut list = String::from("\r\n");
                for (index, stat, pdu, length) in &self.stored {
                    list.push_str(&format!("+CMGL: {index},{stat},,{length}\r\n{pdu}\r\n"));
                }
                list + ok
            }
            _ => {
                if let Some(index) = command.strip_prefix("AT+CMGD=") {
                    let before = self.stored.len();
                    self.stored.retain(|(i, ..)| i.to_string() != index);
                    if self.stored.len() < before {
                        ok.to_owned()
                    } else {
                        "\r\n+CMS ERROR: 321\r\n".to_owned()
                    }
                } else if command.starts_with("AT+CMGS=") && self.sim {
                    "\r\n> ".to_owned()
                } else {
                    "\r\nERROR\r\n".to_owned()
                }
            }
        };
        // Echo, as a modem does by default.
        format!("{command}\r{unasked}{body}")
    }

    fn submitted(&mut self, pdu: String) -> String {
        if self.hung {
            return String::new();
        }
        let mr = self.next_mr;
        self.next_mr = self.next_mr.wrapping_add(1);
        let (number, _) = decode_submit(&pdu);
        self.sent.push(pdu);
        let report = status_report(mr, &number, self.report_status);
        match self.reports {
            Reports::Stored => self.store(report),
            Reports::Direct => {
                let length = report.len() / 2 - 1;
                self.unasked
                    .push(format!("\r\n+CDS: {length}\r\n{report}\r\n"));
            }
        }
        format!("\r\n+CMGS: {mr}\r\n\r\nOK\r\n")
    }

    fn store(&mut self, pdu: String) {
        let sca = usize::from_str_radix(&pdu[..2], 16).unwrap();
        let length = pdu.len() / 2 - 1 - sca;
        self.stored.push((self.next_index, 0, pdu, length));
        self.next_index += 1;
    }
}

/// An address field: digit count, type (0x91 with a `+`, else 0x81), swapped semi-octets.
fn address(number: &str) -> String {
    let digits: Vec<u8> = number
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|d| d - b'0')
        .collect();
    let kind = if number.starts_with('+') { "91" } else { "81" };
    let mut out = format!("{:02X}{kind}", digits.len());
    for pair in digits.chunks(2) {
        let high = pair.get(1).copied().unwrap_or(0x0F);
        out.push_str(&format!("{high:X}{:X}", pair[0]));
    }
    out
}

/// A service centre time stamp: 2026-12-06 10:10:00, zone +0 (semi-octets swapped).
const TIME: &str = "62216001010000";

/// An SMS-STATUS-REPORT (no service centre) for TP-MR `mr` to `number` with TP-ST `status`.
pub fn status_report(mr: u8, number: &str, status: u8) -> String {
    format!("0006{mr:02X}{}{TIME}{TIME}{status:02X}", address(number))
}

/// An SMS-DELIVER from `from` as the modem stores it (a service centre address first): GSM-7
/// when every character is plain ASCII letters, digits or space, else UCS-2.
pub fn deliver(from: &str, text: &str) -> String {
    let plain = text.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ');
    let (dcs, length, data) = if plain {
        // Septets packed little-end first (GSM 03.38 §6.1.2.1.1).
        let septets: Vec<u8> = text.bytes().collect();
        let mut bits: Vec<bool> = Vec::new();
        for s in &septets {
            bits.extend((0..7).map(|i| (s >> i) & 1 == 1));
        }
        let octets: Vec<u8> = bits
            .chunks(8)
            .map(|byte| {
                byte.iter()
                    .enumerate()
                    .map(|(i, &b)| u8::from(b) << i)
                    .sum()
            })
            .collect();
        ("00", septets.len(), octets)
    } else {
        let octets: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        ("08", octets.len(), octets)
    };
    let hex: String = data.iter().map(|b| format!("{b:02X}")).collect();
    // Service centre +919810000000 (0x07 octets), SMS-DELIVER 0x04, PID 00.
    format!(
        "07911989010000F004{}00{dcs}{TIME}{length:02X}{hex}",
        address(from)
    )
}

/// Decodes an SMS-SUBMIT PDU (as the modem got it) to (number, text).
pub fn decode_submit(hex: &str) -> (String, String) {
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let sca = usize::from(bytes[0]);
    let mut at = 1 + sca;
    let first = bytes[at];
    at += 2; // first octet, message reference
    let digits = usize::from(bytes[at]);
    let kind = bytes[at + 1];
    at += 2;
    let octets = digits.div_ceil(2);
    let mut number = if kind == 0x91 {
        "+".to_owned()
    } else {
        String::new()
    };
    for b in &bytes[at..at + octets] {
        for nibble in [b & 0x0F, b >> 4] {
            if nibble != 0x0F {
                number.push(char::from(b'0' + nibble));
            }
        }
    }
    at += octets;
    let dcs = bytes[at + 1];
    let length = usize::from(bytes[at + 2]);
    let mut data = &bytes[at + 3..];
    if first & 0x40 != 0 {
        data = &data[usize::from(data[0]) + 1..];
    }
    let text = if dcs == 0x08 {
        let units: Vec<u16> = data
            .chunks(2)
            .map(|p| u16::from_be_bytes([p[0], p[1]]))
            .collect();
        String::from_utf16(&units).unwrap()
    } else {
        (0..length)
            .map(|i| {
                let bit = i * 7;
                let lo = u16::from(data[bit / 8]);
                let hi = data.get(bit / 8 + 1).map_or(0, |b| u16::from(*b));
                char::from((((hi << 8 | lo) >> (bit % 8)) & 0x7F) as u8)
            })
            .collect()
    };
    (number, text)
}
