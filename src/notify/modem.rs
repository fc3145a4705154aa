//! A USB GSM modem (a SIM in a dongle, no internet needed): AT commands over `serialport`, PDU
//! mode. A text of plain letters, digits and common punctuation goes as GSM-7 (160 characters);
//! anything else — any Hindi character — as UCS-2 (70 characters), split into concatenated
//! parts of 67 when longer.
//!
//! The port is opened for each message and closed after it, so a modem unplugged and plugged in
//! again (the same udev name) needs nothing but the next try.

use std::io::{Read, Write};
use std::time::Duration;

use crate::clock::Clock;
use crate::notify::transport::{Outgoing, SendError, Sent, Transport};

/// The modem's line speed (USB modems ignore it; real UARTs expect it).
const BAUD: u32 = 115_200;
/// How long the modem may take to answer a command, and to send a message.
const ANSWER: Duration = Duration::from_secs(5);
const SENDING: Duration = Duration::from_secs(60);
/// UCS-2 code units in one part of a long message (70 minus the 6-byte concatenation header).
const UCS2_PART: usize = 67;
/// UCS-2 code units in a single message.
const UCS2_SINGLE: usize = 70;
/// GSM-7 characters in a single message.
const GSM7_SINGLE: usize = 160;

/// A GSM modem on a serial port.
#[derive(Debug)]
pub struct GsmModem {
    port: String,
    reference: u8,
}

impl GsmModem {
    /// A modem at `port` (`/dev/ttyUSB2`, or a udev symlink such as `/dev/gsm-modem`).
    pub fn new(port: &str, clock: &dyn Clock) -> Self {
        // Concatenation references should differ between restarts; the time is good enough.
        let reference = (clock.now().as_second().rem_euclid(256)) as u8;
        Self {
            port: port.to_owned(),
            reference,
        }
    }
}

/// The characters whose GSM-7 code is their ASCII code.
fn gsm7_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || " !\"#%&'()*+,-./:;<=>?\n\r".contains(c)
}

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
        let mut pdu = vec![0x01, 0x00];
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
            let first = if total > 1 { 0x41 } else { 0x01 };
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
            let low = pair[0] - b'0';
            let high = pair.get(1).map_or(0x0F, |d| d - b'0');
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

/// An open line to the modem.
struct Line {
    port: Box<dyn serialport::SerialPort>,
    seen: String,
}

impl Line {
    fn write(&mut self, bytes: &[u8]) -> Result<(), SendError> {
        self.port
            .write_all(bytes)
            .and_then(|()| self.port.flush())
            .map_err(|e| SendError::Temporary(format!("modem: cannot write: {e}")))
    }

    /// Reads until the answer holds one of `ends` (returns what was read), an error, or time
    /// runs out.
    fn until(&mut self, ends: &[&str], within: Duration) -> Result<String, SendError> {
        let mut waited = Duration::ZERO;
        let step = Duration::from_millis(100);
        let mut buf = [0u8; 256];
        loop {
            if let Some(end) = ends.iter().find(|e| self.seen.contains(*e)) {
                let at = self.seen.find(end).unwrap_or(0) + end.len();
                let answer: String = self.seen.drain(..at).collect();
                return Ok(answer);
            }
            if let Some(at) = self.seen.find("ERROR") {
                let line = self.seen[at.saturating_sub(12)..]
                    .lines()
                    .next()
                    .unwrap_or("");
                return Err(SendError::Temporary(format!("modem: {}", line.trim())));
            }
            if waited >= within {
                return Err(SendError::Temporary(format!(
                    "modem: no answer in {} s",
                    within.as_secs()
                )));
            }
            match self.port.read(&mut buf) {
                Ok(n) => self.seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => waited += step,
                Err(e) => return Err(SendError::Temporary(format!("modem: cannot read: {e}"))),
            }
        }
    }

    fn command(&mut self, command: &str) -> Result<String, SendError> {
        self.write(format!("{command}\r").as_bytes())?;
        self.until(&["OK\r\n"], ANSWER)
    }
}

impl Transport for GsmModem {
    fn describe(&self) -> String {
        format!("GSM modem on {}", self.port)
    }

    fn send(&mut self, message: &Outgoing) -> Result<Sent, SendError> {
        self.reference = self.reference.wrapping_add(1);
        let pdus = pdus(&message.to, &message.body, self.reference)?;
        let port = serialport::new(&self.port, BAUD)
            .flow_control(serialport::FlowControl::None)
            .timeout(Duration::from_millis(100))
            .open()
            .map_err(|e| SendError::Temporary(format!("modem: cannot open {}: {e}", self.port)))?;
        let mut line = Line {
            port,
            seen: String::new(),
        };
        line.command("AT")?;
        line.command("AT+CMGF=0")?;
        for (length, pdu) in pdus {
            line.write(format!("AT+CMGS={length}\r").as_bytes())?;
            line.until(&[">"], ANSWER)?;
            line.write(format!("{pdu}\x1A").as_bytes())?;
            let answer = line.until(&["OK\r\n"], SENDING)?;
            if !answer.contains("+CMGS:") {
                return Err(SendError::Temporary(
                    "modem: the message was not confirmed".to_owned(),
                ));
            }
        }
        Ok(Sent::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_gsm7_and_hindi_is_ucs2() {
        // The classic example: "hellohello" to +31 6 4111 1111 (digits swapped, F-padded).
        let parts = pdus("+31641111111", "hellohello", 0).unwrap();
        assert_eq!(
            parts,
            vec![(
                22,
                "0001000B911346111111F100000AE8329BFD4697D9EC37".to_owned()
            )]
        );
        // क म र ा, space, 2: six UTF-16 units, twelve octets, DCS 08.
        let parts = pdus("98450", "कमरा 2", 0).unwrap();
        assert_eq!(
            parts,
            vec![(
                22,
                "00010005818954F000080C0915092E0930093E00200032".to_owned()
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
            // UDHI set; the header: reference 7, 3 parts, this one's number.
            assert!(pdu.starts_with("0041"), "{pdu}");
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
}
