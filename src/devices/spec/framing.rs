//! A serial receiver's line settings ([`Framing`]: `8N1`, `7E1`) and how its codes are
//! delimited ([`FrameKind`]: `line`, `fixed:N`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serialport::{DataBits, Parity, StopBits};

use super::{SpecError, text_value};

/// The longest code, in bytes: a longer line is garbage, and `fixed:N` allows N up to this.
pub const MAX_CODE_LEN: usize = 64;

/// How codes are delimited in the byte stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum FrameKind {
    /// Each code ends with CR or LF (CRLF counts once; empty lines are ignored).
    Line,
    /// Each code is exactly this many bytes (1 to [`MAX_CODE_LEN`]).
    Fixed(usize),
}

impl fmt::Display for FrameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line => f.write_str("line"),
            Self::Fixed(n) => write!(f, "fixed:{n}"),
        }
    }
}

impl FromStr for FrameKind {
    type Err = SpecError;

    /// `line` or `fixed:N` with N from 1 to 64, any case.
    fn from_str(frame: &str) -> Result<Self, SpecError> {
        let text = frame.trim().to_ascii_lowercase();
        if text == "line" {
            return Ok(Self::Line);
        }
        let bad = || {
            SpecError(format!(
                "frame {frame:?}: use \"line\" (codes end with CR or LF) or \"fixed:N\" (N bytes \
                 each, 1 to {MAX_CODE_LEN})"
            ))
        };
        let n = text
            .strip_prefix("fixed:")
            .and_then(|n| n.trim().parse::<usize>().ok())
            .ok_or_else(bad)?;
        if (1..=MAX_CODE_LEN).contains(&n) {
            Ok(Self::Fixed(n))
        } else {
            Err(bad())
        }
    }
}

/// A receiver's line settings: data bits, parity and stop bits. Written `8N1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Framing {
    /// Data bits (5 to 8).
    pub data_bits: DataBits,
    /// Parity.
    pub parity: Parity,
    /// Stop bits (1 or 2).
    pub stop_bits: StopBits,
}

impl Framing {
    /// `8N1`: eight data bits, no parity, one stop bit.
    pub const EIGHT_N_ONE: Self = Self {
        data_bits: DataBits::Eight,
        parity: Parity::None,
        stop_bits: StopBits::One,
    };
}

impl FromStr for Framing {
    type Err = SpecError;

    /// `8N1`, `7E1`, `8O2`: data bits 5 to 8, parity N/E/O, stop bits 1 or 2; any case.
    fn from_str(framing: &str) -> Result<Self, SpecError> {
        let bad = |why: &str| {
            SpecError(format!(
                "framing {framing:?}: {why} — write data bits, parity and stop bits, like 8N1 or 7E1"
            ))
        };
        let chars: Vec<char> = framing.trim().chars().collect();
        let [data, parity, stop] = chars[..] else {
            return Err(bad("expected three characters"));
        };
        let data_bits = match data {
            '5' => DataBits::Five,
            '6' => DataBits::Six,
            '7' => DataBits::Seven,
            '8' => DataBits::Eight,
            _ => return Err(bad("data bits must be 5, 6, 7 or 8")),
        };
        let parity = match parity.to_ascii_uppercase() {
            'N' => Parity::None,
            'E' => Parity::Even,
            'O' => Parity::Odd,
            _ => return Err(bad("parity must be N (none), E (even) or O (odd)")),
        };
        let stop_bits = match stop {
            '1' => StopBits::One,
            '2' => StopBits::Two,
            _ => return Err(bad("stop bits must be 1 or 2")),
        };
        Ok(Self {
            data_bits,
            parity,
            stop_bits,
        })
    }
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parity = match self.parity {
            Parity::None => 'N',
            Parity::Even => 'E',
            Parity::Odd => 'O',
        };
        write!(
            f,
            "{}{parity}{}",
            u8::from(self.data_bits),
            u8::from(self.stop_bits)
        )
    }
}

text_value!(Framing, FrameKind);

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(framing: &str, frame: &str) -> Result<(Framing, FrameKind), SpecError> {
        Ok((framing.parse()?, frame.parse()?))
    }

    #[test]
    fn framing_parses_bits_parity_and_stop_bits() {
        let (f, frame) = parse("8N1", "line").unwrap();
        assert_eq!(
            (f.data_bits, f.parity, f.stop_bits, frame),
            (
                DataBits::Eight,
                Parity::None,
                StopBits::One,
                FrameKind::Line
            )
        );
        assert_eq!(f, Framing::EIGHT_N_ONE);
        assert_eq!(f.to_string(), "8N1");
        let (f, frame) = parse("7e1", "fixed:4").unwrap();
        assert_eq!(
            (f.data_bits, f.parity, frame),
            (DataBits::Seven, Parity::Even, FrameKind::Fixed(4))
        );
        assert_eq!(f.to_string(), "7E1");
        let (f, frame) = parse(" 8O2 ", " FIXED:64 ").unwrap();
        assert_eq!((f.parity, f.stop_bits), (Parity::Odd, StopBits::Two));
        assert_eq!(frame, FrameKind::Fixed(64));
        assert_eq!(frame.to_string(), "fixed:64");
        assert_eq!(parse("5N1", "fixed:1").unwrap().0.to_string(), "5N1");
    }

    #[test]
    fn framing_errors_say_what_is_wrong() {
        for (framing, frame, needle) in [
            ("9N1", "line", "data bits must be 5, 6, 7 or 8"),
            ("4N1", "line", "data bits"),
            ("8X1", "line", "parity must be N"),
            ("8N3", "line", "stop bits must be 1 or 2"),
            ("8N", "line", "three characters"),
            ("8N1x", "line", "three characters"),
            ("", "line", "three characters"),
            ("8N1", "lines", "use \"line\""),
            ("8N1", "fixed:0", "1 to 64"),
            ("8N1", "fixed:65", "1 to 64"),
            ("8N1", "fixed:", "fixed:N"),
            ("8N1", "fixed:-1", "fixed:N"),
        ] {
            let e = parse(framing, frame).unwrap_err().to_string();
            assert!(e.contains(needle), "{framing} {frame}: {e}");
        }
    }
}
