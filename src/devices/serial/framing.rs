//! How a receiver's bytes become codes: the pure [`FrameDecoder`] (bytes in, complete codes and
//! garbage out), for a [`FrameKind`] (`line`, `fixed:4`) read with the settings.
//!
//! The decoder owns no port and reads no clock: it is fed whatever a read returned, in any
//! chunks, and never panics on any input. Its limits: a code is at most [`MAX_CODE_LEN`] bytes;
//! a line code is printable ASCII (anything else is garbage); a fixed code is shown as text
//! when it is printable ASCII and as hex (`0xA1B2`) otherwise, so the codes map can use either.

use std::fmt;

pub use crate::devices::spec::{FrameKind, Framing, MAX_CODE_LEN};

/// Why bytes were not a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GarbageReason {
    /// A line longer than [`MAX_CODE_LEN`] bytes (only its start is kept).
    Overlong,
    /// A line with bytes that are not printable ASCII.
    NotPrintable,
    /// A fixed-size code cut short by silence.
    Incomplete,
}

impl fmt::Display for GarbageReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Overlong => "line longer than 64 bytes",
            Self::NotPrintable => "bytes that are not printable text",
            Self::Incomplete => "incomplete code",
        })
    }
}

/// What the decoder made of the bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A complete code: trimmed printable text (`A1`) or hex (`0xA1B2`).
    Code(String),
    /// Bytes that are not a code (logged and ignored by receivers).
    Garbage {
        /// The bytes (at most [`MAX_CODE_LEN`]).
        bytes: Vec<u8>,
        /// Why.
        reason: GarbageReason,
    },
}

/// Bytes as hex for people and for the codes map: `0xA1B2`.
pub fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(2 + 2 * bytes.len());
    text.push_str("0x");
    for b in bytes {
        text.push_str(&format!("{b:02X}"));
    }
    text
}

fn printable(b: u8) -> bool {
    (0x20..=0x7e).contains(&b)
}

/// Turns a byte stream into codes. Pure: feed it chunks with [`FrameDecoder::push`]; a code
/// split across reads comes out when its last byte arrives.
#[derive(Clone, Debug)]
pub struct FrameDecoder {
    frame: FrameKind,
    pending: Vec<u8>,
    /// Line mode: the current line was too long and was reported; skip to the next delimiter.
    skipping: bool,
}

impl FrameDecoder {
    /// A decoder for `frame`. A `fixed:N` outside 1 to 64 is clamped into it.
    pub fn new(frame: FrameKind) -> Self {
        let frame = match frame {
            FrameKind::Line => FrameKind::Line,
            FrameKind::Fixed(n) => FrameKind::Fixed(n.clamp(1, MAX_CODE_LEN)),
        };
        Self {
            frame,
            pending: Vec::with_capacity(MAX_CODE_LEN),
            skipping: false,
        }
    }

    /// Feeds bytes; returns the codes (and garbage) they completed, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Decoded> {
        let mut out = Vec::new();
        for &b in bytes {
            match self.frame {
                FrameKind::Line => self.push_line(b, &mut out),
                FrameKind::Fixed(n) => {
                    self.pending.push(b);
                    if self.pending.len() >= n {
                        out.push(fixed_code(&self.pending));
                        self.pending.clear();
                    }
                }
            }
        }
        out
    }

    fn push_line(&mut self, b: u8, out: &mut Vec<Decoded>) {
        if b == b'\r' || b == b'\n' {
            if self.skipping {
                self.skipping = false;
            } else if let Some(decoded) = line_code(&self.pending) {
                out.push(decoded);
            }
            self.pending.clear();
        } else if !self.skipping {
            if self.pending.len() >= MAX_CODE_LEN {
                out.push(Decoded::Garbage {
                    bytes: std::mem::take(&mut self.pending),
                    reason: GarbageReason::Overlong,
                });
                self.skipping = true;
            } else {
                self.pending.push(b);
            }
        }
    }

    /// Whether part of a code is waiting for more bytes.
    pub fn has_partial(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The line went quiet: a partial fixed-size code can no longer be completed (the next
    /// bytes start a new one), so it is dropped and returned as garbage. A partial line is kept
    /// (a keypad may send a key at a time and Enter at the end).
    pub fn silence(&mut self) -> Option<Decoded> {
        match self.frame {
            FrameKind::Fixed(_) if !self.pending.is_empty() => Some(Decoded::Garbage {
                bytes: std::mem::take(&mut self.pending),
                reason: GarbageReason::Incomplete,
            }),
            _ => None,
        }
    }

    /// Forgets any partial code (the port was closed).
    pub fn reset(&mut self) {
        self.pending.clear();
        self.skipping = false;
    }
}

/// A complete line (without its delimiter): a code, garbage, or nothing (empty or blank).
fn line_code(line: &[u8]) -> Option<Decoded> {
    if !line.iter().copied().all(printable) {
        return Some(Decoded::Garbage {
            bytes: line.to_vec(),
            reason: GarbageReason::NotPrintable,
        });
    }
    let text = String::from_utf8_lossy(line);
    let code = text.trim();
    (!code.is_empty()).then(|| Decoded::Code(code.to_owned()))
}

/// A complete fixed-size code: trimmed text when printable and not blank, else hex.
fn fixed_code(bytes: &[u8]) -> Decoded {
    if bytes.iter().copied().all(printable) {
        let text = String::from_utf8_lossy(bytes);
        let code = text.trim();
        if !code.is_empty() {
            return Decoded::Code(code.to_owned());
        }
    }
    Decoded::Code(hex(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn codes(frame: FrameKind, chunks: &[&[u8]]) -> Vec<Decoded> {
        let mut decoder = FrameDecoder::new(frame);
        chunks.iter().flat_map(|c| decoder.push(c)).collect()
    }

    fn code(text: &str) -> Decoded {
        Decoded::Code(text.to_owned())
    }

    #[test]
    fn lines_end_with_cr_or_lf_and_crlf_counts_once() {
        assert_eq!(
            codes(FrameKind::Line, &[b"A1\rA2\nA3\r\nB1\n\r"]),
            vec![code("A1"), code("A2"), code("A3"), code("B1")]
        );
    }

    #[test]
    fn empty_and_blank_lines_are_ignored_and_codes_trimmed() {
        assert_eq!(
            codes(FrameKind::Line, &[b"\r\n\n\r  \r\n  A 1 \r\n"]),
            vec![code("A 1")]
        );
    }

    #[test]
    fn a_code_split_across_reads_comes_out_whole() {
        assert_eq!(
            codes(FrameKind::Line, &[b"A", b"1", b"\r", b"\nB", b"2\r\n"]),
            vec![code("A1"), code("B2")]
        );
        assert_eq!(
            codes(FrameKind::Fixed(4), &[b"AB", b"", b"C", b"DEF", b"GH"]),
            vec![code("ABCD"), code("EFGH")]
        );
    }

    #[test]
    fn a_partial_line_waits_for_its_delimiter() {
        let mut decoder = FrameDecoder::new(FrameKind::Line);
        assert!(decoder.push(b"A1").is_empty());
        assert!(decoder.has_partial());
        assert_eq!(decoder.silence(), None);
        assert_eq!(decoder.push(b"\n"), vec![code("A1")]);
        assert!(!decoder.has_partial());
    }

    #[test]
    fn non_printable_lines_are_garbage() {
        assert_eq!(
            codes(FrameKind::Line, &[b"A\x001\r\n\xff\xfe\nA2\n"]),
            vec![
                Decoded::Garbage {
                    bytes: b"A\x001".to_vec(),
                    reason: GarbageReason::NotPrintable
                },
                Decoded::Garbage {
                    bytes: vec![0xff, 0xfe],
                    reason: GarbageReason::NotPrintable
                },
                code("A2"),
            ]
        );
        // A tab is not printable either.
        assert!(matches!(
            codes(FrameKind::Line, &[b"A\t1\n"])[..],
            [Decoded::Garbage { .. }]
        ));
    }

    #[test]
    fn an_overlong_line_is_dropped_and_the_next_line_decodes() {
        let long = [b'x'; 200];
        let out = codes(FrameKind::Line, &[&long[..100], &long[100..], b"\r\nA1\n"]);
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(
            out[0],
            Decoded::Garbage {
                bytes: vec![b'x'; MAX_CODE_LEN],
                reason: GarbageReason::Overlong
            }
        );
        assert_eq!(out[1], code("A1"));
        // Exactly 64 bytes is still a code.
        let max = "y".repeat(MAX_CODE_LEN);
        assert_eq!(
            codes(FrameKind::Line, &[format!("{max}\n").as_bytes()]),
            vec![code(&max)]
        );
    }

    #[test]
    fn fixed_codes_are_text_when_printable_else_hex() {
        assert_eq!(
            codes(FrameKind::Fixed(2), &[b"A1\xa1\xb2 7\x00\x01  "]),
            vec![
                code("A1"),
                code("0xA1B2"),
                code("7"),
                code("0x0001"),
                code("0x2020")
            ]
        );
        // Delimiters are ordinary bytes in fixed mode.
        assert_eq!(
            codes(FrameKind::Fixed(3), &[b"A\r\n"]),
            vec![code("0x410D0A")]
        );
    }

    #[test]
    fn silence_drops_a_partial_fixed_code() {
        let mut decoder = FrameDecoder::new(FrameKind::Fixed(4));
        assert!(decoder.push(b"AB").is_empty());
        assert_eq!(
            decoder.silence(),
            Some(Decoded::Garbage {
                bytes: b"AB".to_vec(),
                reason: GarbageReason::Incomplete
            })
        );
        assert_eq!(decoder.silence(), None);
        assert_eq!(decoder.push(b"WXYZ"), vec![code("WXYZ")]);
    }

    #[test]
    fn reset_forgets_partial_codes() {
        let mut decoder = FrameDecoder::new(FrameKind::Line);
        decoder.push(b"garb");
        decoder.reset();
        assert_eq!(decoder.push(b"A1\n"), vec![code("A1")]);
    }

    #[test]
    fn hex_is_upper_case_with_prefix() {
        assert_eq!(hex(&[0xa1, 0x0b]), "0xA10B");
        assert_eq!(hex(&[]), "0x");
    }

    proptest! {
        #[test]
        fn decoder_never_panics_and_codes_stay_within_limits(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 0..20),
            fixed in 0usize..70,
        ) {
            for frame in [FrameKind::Line, FrameKind::Fixed(fixed)] {
                let mut decoder = FrameDecoder::new(frame);
                for chunk in &chunks {
                    for decoded in decoder.push(chunk) {
                        match decoded {
                            Decoded::Code(c) => {
                                prop_assert!(!c.is_empty());
                                prop_assert!(c.len() <= 2 + 2 * MAX_CODE_LEN);
                                prop_assert!(c.bytes().all(printable));
                            }
                            Decoded::Garbage { bytes, .. } => {
                                prop_assert!(bytes.len() <= MAX_CODE_LEN);
                            }
                        }
                    }
                    let _ = decoder.silence();
                }
            }
        }

        #[test]
        fn line_codes_decode_the_same_in_any_chunks(
            lines in proptest::collection::vec("[A-Z0-9]{1,8}", 1..10),
            cut in proptest::collection::vec(0usize..200, 0..10),
        ) {
            let stream = lines.iter().map(|l| format!("{l}\r\n")).collect::<String>().into_bytes();
            let mut cuts: Vec<usize> = cut.into_iter().map(|c| c % (stream.len() + 1)).collect();
            cuts.sort_unstable();
            let mut decoder = FrameDecoder::new(FrameKind::Line);
            let mut out = Vec::new();
            let mut from = 0;
            for to in cuts.into_iter().chain([stream.len()]) {
                out.extend(decoder.push(&stream[from..to]));
                from = to;
            }
            let expected: Vec<Decoded> = lines.into_iter().map(Decoded::Code).collect();
            prop_assert_eq!(out, expected);
        }
    }
}
