//! ESC/POS bytes back into what they do: the demo's `/printer` page shows what the fake printer
//! printed, and tests assert on tickets ("A042 in size 8x8, a QR code with the URL, a cut").
//!
//! [`decode`] knows the commands waitless sends (and the lengths of the common others, so it
//! stays in step); anything else becomes [`Op::Unknown`]. It never panics, whatever the bytes.
//! [`preview`] turns the operations into blocks a web page can draw.

use base64::Engine as _;
use serde::Serialize;

const LF: u8 = 0x0A;
const DLE: u8 = 0x10;
const EOT: u8 = 0x04;
const ESC: u8 = 0x1B;
const GS: u8 = 0x1D;

/// Text alignment (`ESC a n`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Align {
    /// Left (the printer's default).
    #[default]
    Left,
    /// Centred.
    Center,
    /// Right.
    Right,
}

/// One printer operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `ESC @`: initialise (resets styles).
    Init,
    /// `ESC a n`.
    Justify(Align),
    /// `ESC E n`.
    Bold(bool),
    /// `GS ! n`: character size multipliers, 1 to 8.
    Size {
        /// Width multiplier.
        width: u8,
        /// Height multiplier.
        height: u8,
    },
    /// Printable text.
    Text(String),
    /// `ESC d n` (n lines) or `LF` (one).
    Feed(u8),
    /// `GS ( k … 1 A`: QR model (49 = model 1, 50 = model 2).
    QrModel(u8),
    /// `GS ( k … 1 C`: QR module size in dots.
    QrSize(u8),
    /// `GS ( k … 1 E`: QR error correction (48 = L … 51 = H).
    QrErrorCorrection(u8),
    /// `GS ( k … 1 P 0`: QR data stored in the printer.
    QrStore(String),
    /// `GS ( k … 1 Q 0`: print the stored QR code.
    QrPrint,
    /// `GS v 0`: a raster image.
    Raster {
        /// Width in dots.
        width_dots: u32,
        /// Height in dots.
        height: u32,
        /// Rows of `width_dots / 8` bytes, most significant bit leftmost, 1 = black.
        bits: Vec<u8>,
    },
    /// `GS V`: cut the paper.
    Cut {
        /// A partial cut (one point left uncut).
        partial: bool,
    },
    /// `DLE EOT n`: a real-time status request.
    StatusRequest(u8),
    /// Bytes this decoder does not interpret (a whole command when its length is known).
    Unknown(Vec<u8>),
}

/// Commands with a fixed length that waitless does not interpret, so the decoder stays in step:
/// (prefix, total length).
const FIXED: &[(&[u8], usize)] = &[
    (&[ESC, b'-'], 3),
    (&[ESC, b'2'], 2),
    (&[ESC, b'3'], 3),
    (&[ESC, b'G'], 3),
    (&[ESC, b'M'], 3),
    (&[ESC, b'R'], 3),
    (&[ESC, b't'], 3),
    (&[ESC, b'V'], 3),
    (&[ESC, b'{'], 3),
    (&[ESC, b'p'], 5),
    (&[ESC, b'J'], 3),
    (&[ESC, b'!'], 3),
    (&[GS, b'B'], 3),
    (&[GS, b'b'], 3),
    (&[GS, b'P'], 4),
    (&[GS, b'L'], 4),
    (&[GS, b'W'], 4),
    (&[GS, b'H'], 3),
    (&[GS, b'h'], 3),
    (&[GS, b'w'], 3),
    (&[GS, b'f'], 3),
];

/// Decodes ESC/POS bytes. Never panics; what it does not know becomes [`Op::Unknown`], and a
/// command cut short at the end becomes `Unknown` with the rest.
pub fn decode(bytes: &[u8]) -> Vec<Op> {
    let mut ops = Vec::new();
    // Bytes that start no command, gathered into one `Unknown`.
    let mut stray: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        let (op, used) = match rest {
            [ESC, b'@', ..] => (Op::Init, 2),
            [ESC, b'a', n, ..] => (
                Op::Justify(match n {
                    1 | b'1' => Align::Center,
                    2 | b'2' => Align::Right,
                    _ => Align::Left,
                }),
                3,
            ),
            [ESC, b'E', n, ..] => (Op::Bold(n & 1 == 1), 3),
            [ESC, b'd', n, ..] => (Op::Feed(*n), 3),
            [GS, b'!', n, ..] => (
                Op::Size {
                    width: (n >> 4) + 1,
                    height: (n & 0x0F) + 1,
                },
                3,
            ),
            [GS, b'V', m, ..] => match m {
                0 | b'0' => (Op::Cut { partial: false }, 3),
                1 | b'1' => (Op::Cut { partial: true }, 3),
                65 if rest.len() >= 4 => (Op::Cut { partial: false }, 4),
                66 if rest.len() >= 4 => (Op::Cut { partial: true }, 4),
                _ => (Op::Unknown(rest[..rest.len().min(3)].to_vec()), 3),
            },
            [DLE, EOT, n, ..] => {
                // n = 7, 8, 18 take one more parameter byte.
                let used = if matches!(n, 7 | 8 | 18) { 4 } else { 3 };
                (Op::StatusRequest(*n), used)
            }
            [GS, b'(', b'k', ..] => two_d(rest),
            [GS, b'v', b'0', ..] => raster(rest),
            [LF, ..] => (Op::Feed(1), 1),
            [b, ..] if is_text(*b) => {
                let len = rest.iter().take_while(|b| is_text(**b)).count();
                // Bytes above 0x7F are the printer's code page: shown as Latin-1.
                let text = rest[..len].iter().map(|b| char::from(*b)).collect();
                (Op::Text(text), len)
            }
            _ => match FIXED.iter().find(|(prefix, _)| rest.starts_with(prefix)) {
                Some((_, len)) => (Op::Unknown(rest[..(*len).min(rest.len())].to_vec()), *len),
                None if matches!(rest[0], ESC | GS | DLE) && rest.len() < 3 => {
                    (Op::Unknown(rest.to_vec()), rest.len())
                }
                None => {
                    stray.push(rest[0]);
                    i += 1;
                    continue;
                }
            },
        };
        if !stray.is_empty() {
            ops.push(Op::Unknown(std::mem::take(&mut stray)));
        }
        ops.push(op);
        i += used.max(1);
    }
    if !stray.is_empty() {
        ops.push(Op::Unknown(stray));
    }
    ops
}

fn is_text(b: u8) -> bool {
    b >= 0x20 && b != 0x7F
}

/// `GS ( k pL pH cn fn ...`: 2D codes. Only QR (cn = 49) is interpreted.
fn two_d(rest: &[u8]) -> (Op, usize) {
    let [_, _, _, pl, ph, ..] = rest else {
        return (Op::Unknown(rest.to_vec()), rest.len());
    };
    let len = usize::from(*pl) | (usize::from(*ph) << 8);
    let end = 5 + len;
    let Some(body) = rest.get(5..end) else {
        return (Op::Unknown(rest.to_vec()), rest.len());
    };
    let op = match body {
        [49, 65, n, ..] => Op::QrModel(*n),
        [49, 67, n, ..] => Op::QrSize(*n),
        [49, 69, n, ..] => Op::QrErrorCorrection(*n),
        [49, 80, 48, data @ ..] => Op::QrStore(String::from_utf8_lossy(data).into_owned()),
        [49, 81, 48, ..] => Op::QrPrint,
        _ => Op::Unknown(rest[..end].to_vec()),
    };
    (op, end)
}

/// `GS v 0 m xL xH yL yH d...`.
fn raster(rest: &[u8]) -> (Op, usize) {
    let [_, _, _, _m, xl, xh, yl, yh, ..] = rest else {
        return (Op::Unknown(rest.to_vec()), rest.len());
    };
    let row_bytes = usize::from(*xl) | (usize::from(*xh) << 8);
    let height = usize::from(*yl) | (usize::from(*yh) << 8);
    let end = 8 + row_bytes * height;
    match rest.get(8..end) {
        Some(bits) => (
            Op::Raster {
                width_dots: (row_bytes * 8) as u32,
                height: height as u32,
                bits: bits.to_vec(),
            },
            end,
        ),
        None => (Op::Unknown(rest.to_vec()), rest.len()),
    }
}

/// A line of text as printed, with its style.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TextLine {
    /// The text.
    pub text: String,
    /// Width multiplier.
    pub width: u8,
    /// Height multiplier.
    pub height: u8,
    /// Bold.
    pub bold: bool,
    /// Alignment.
    pub align: Align,
}

/// What a page shows of a printout, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PreviewBlock {
    /// A line of text (empty for a blank line).
    Text {
        /// The text.
        text: String,
        /// Width multiplier.
        width: u8,
        /// Height multiplier.
        height: u8,
        /// Bold.
        bold: bool,
        /// Alignment.
        align: Align,
    },
    /// A QR code.
    Qr {
        /// What it encodes.
        data: String,
    },
    /// A raster image, as a 1-bit PNG.
    Image {
        /// Width in dots.
        width: u32,
        /// Height in dots.
        height: u32,
        /// The PNG, base64.
        png_base64: String,
    },
    /// The paper is cut here.
    Cut,
}

/// The style state while walking the operations.
#[derive(Clone, Copy, Debug)]
struct Style {
    width: u8,
    height: u8,
    bold: bool,
    align: Align,
}

impl Default for Style {
    fn default() -> Self {
        Self {
            width: 1,
            height: 1,
            bold: false,
            align: Align::Left,
        }
    }
}

/// Walks operations the way a printer does, calling back for lines, QR codes, images and cuts.
fn walk(ops: &[Op], mut emit: impl FnMut(PreviewBlock)) {
    let mut style = Style::default();
    let mut line: Option<(String, Style)> = None;
    let mut qr: Option<String> = None;
    let flush = |line: &mut Option<(String, Style)>, emit: &mut dyn FnMut(PreviewBlock)| {
        if let Some((text, style)) = line.take() {
            emit(PreviewBlock::Text {
                text,
                width: style.width,
                height: style.height,
                bold: style.bold,
                align: style.align,
            });
        }
    };
    for op in ops {
        match op {
            Op::Init => {
                flush(&mut line, &mut emit);
                style = Style::default();
            }
            Op::Justify(align) => style.align = *align,
            Op::Bold(bold) => style.bold = *bold,
            Op::Size { width, height } => {
                style.width = *width;
                style.height = *height;
            }
            Op::Text(text) => match &mut line {
                Some((line, _)) => line.push_str(text),
                // A line takes the style in force when it starts.
                None => line = Some((text.clone(), style)),
            },
            Op::Feed(n) => {
                if line.is_none() && *n > 0 {
                    line = Some((String::new(), style));
                }
                flush(&mut line, &mut emit);
            }
            Op::QrStore(data) => qr = Some(data.clone()),
            Op::QrPrint => {
                flush(&mut line, &mut emit);
                if let Some(data) = &qr {
                    emit(PreviewBlock::Qr { data: data.clone() });
                }
            }
            Op::Raster {
                width_dots,
                height,
                bits,
            } => {
                flush(&mut line, &mut emit);
                emit(PreviewBlock::Image {
                    width: *width_dots,
                    height: *height,
                    png_base64: png_base64(*width_dots, *height, bits),
                });
            }
            Op::Cut { .. } => {
                flush(&mut line, &mut emit);
                emit(PreviewBlock::Cut);
            }
            Op::QrModel(_)
            | Op::QrSize(_)
            | Op::QrErrorCorrection(_)
            | Op::StatusRequest(_)
            | Op::Unknown(_) => {}
        }
    }
    flush(&mut line, &mut emit);
}

/// What a printout looks like, block by block, for a web page.
pub fn preview(bytes: &[u8]) -> Vec<PreviewBlock> {
    let mut blocks = Vec::new();
    walk(&decode(bytes), |block| blocks.push(block));
    blocks
}

/// The lines of text, with their style (blank lines left out).
pub fn text_lines(ops: &[Op]) -> Vec<TextLine> {
    let mut lines = Vec::new();
    walk(ops, |block| {
        if let PreviewBlock::Text {
            text,
            width,
            height,
            bold,
            align,
        } = block
            && !text.is_empty()
        {
            lines.push(TextLine {
                text,
                width,
                height,
                bold,
                align,
            });
        }
    });
    lines
}

/// What each printed QR code encodes.
pub fn qr_codes(ops: &[Op]) -> Vec<String> {
    let mut codes = Vec::new();
    walk(ops, |block| {
        if let PreviewBlock::Qr { data } = block {
            codes.push(data);
        }
    });
    codes
}

/// A 1-bit PNG of raster bits (1 = black), base64. Empty if it cannot be encoded.
fn png_base64(width: u32, height: u32, bits: &[u8]) -> String {
    let mut png_bytes = Vec::new();
    let encoded = (|| -> Result<(), png::EncodingError> {
        let mut encoder = png::Encoder::new(&mut png_bytes, width.max(8), height.max(1));
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::One);
        let mut writer = encoder.write_header()?;
        // In a 1-bit grey PNG, 1 is white.
        let row_bytes = (width.max(8) / 8) as usize;
        let mut data: Vec<u8> = bits.iter().map(|b| !b).collect();
        data.resize(row_bytes * height.max(1) as usize, 0xFF);
        writer.write_image_data(&data)?;
        writer.finish()
    })();
    match encoded {
        Ok(()) => base64::engine::general_purpose::STANDARD.encode(&png_bytes),
        Err(e) => {
            tracing::warn!("cannot encode a printout image as PNG: {e}");
            String::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_commands_decode() {
        let mut bytes = vec![ESC, b'@', ESC, b'a', 1, ESC, b'E', 1, GS, b'!', 0x77];
        bytes.extend_from_slice(b"A042");
        bytes.extend_from_slice(&[ESC, b'd', 1, LF, DLE, EOT, 2]);
        bytes.extend_from_slice(&[GS, b'(', b'k', 4, 0, 49, 65, 50, 0]);
        bytes.extend_from_slice(&[GS, b'(', b'k', 6, 0, 49, 80, 48, b'x', b'y', b'z']);
        bytes.extend_from_slice(&[GS, b'(', b'k', 3, 0, 49, 81, 48]);
        bytes.extend_from_slice(&[GS, b'v', b'0', 0, 1, 0, 2, 0, 0xF0, 0x0F]);
        bytes.extend_from_slice(&[ESC, b'M', 0, 0x07, GS, b'V', b'A', 0]);
        assert_eq!(
            decode(&bytes),
            vec![
                Op::Init,
                Op::Justify(Align::Center),
                Op::Bold(true),
                Op::Size {
                    width: 8,
                    height: 8
                },
                Op::Text("A042".into()),
                Op::Feed(1),
                Op::Feed(1),
                Op::StatusRequest(2),
                Op::QrModel(50),
                Op::QrStore("xyz".into()),
                Op::QrPrint,
                Op::Raster {
                    width_dots: 8,
                    height: 2,
                    bits: vec![0xF0, 0x0F]
                },
                Op::Unknown(vec![ESC, b'M', 0]),
                Op::Unknown(vec![0x07]),
                Op::Cut { partial: false },
            ]
        );
    }

    #[test]
    fn truncated_commands_are_unknown() {
        assert_eq!(
            decode(&[GS, b'v', b'0', 0, 10, 0, 10, 0, 1, 2]),
            vec![Op::Unknown(vec![GS, b'v', b'0', 0, 10, 0, 10, 0, 1, 2])]
        );
        assert_eq!(decode(&[ESC]), vec![Op::Unknown(vec![ESC])]);
        assert_eq!(
            decode(&[GS, b'(', b'k', 9, 0, 49]),
            vec![Op::Unknown(vec![GS, b'(', b'k', 9, 0, 49])]
        );
    }

    #[test]
    fn preview_shows_lines_with_their_style() {
        let mut bytes = vec![ESC, b'@', ESC, b'a', 1, GS, b'!', 0x11];
        bytes.extend_from_slice(b"Big");
        bytes.extend_from_slice(&[ESC, b'd', 1, GS, b'!', 0, ESC, b'a', 0]);
        bytes.extend_from_slice(b"small");
        bytes.extend_from_slice(&[LF, ESC, b'd', 3]);
        bytes.extend_from_slice(&[GS, b'v', b'0', 0, 1, 0, 1, 0, 0xFF, GS, b'V', 1]);
        let blocks = preview(&bytes);
        assert_eq!(blocks.len(), 5, "{blocks:?}");
        assert_eq!(
            blocks[0],
            PreviewBlock::Text {
                text: "Big".into(),
                width: 2,
                height: 2,
                bold: false,
                align: Align::Center
            }
        );
        assert!(
            matches!(&blocks[1], PreviewBlock::Text { text, width: 1, align: Align::Left, .. } if text == "small")
        );
        assert!(matches!(&blocks[2], PreviewBlock::Text { text, .. } if text.is_empty()));
        let PreviewBlock::Image {
            width, png_base64, ..
        } = &blocks[3]
        else {
            panic!("{blocks:?}")
        };
        assert_eq!(*width, 8);
        let png = base64::engine::general_purpose::STANDARD
            .decode(png_base64)
            .unwrap();
        assert_eq!(&png[..4], b"\x89PNG");
        assert_eq!(blocks[4], PreviewBlock::Cut);
        let json = serde_json::to_value(&blocks[0]).unwrap();
        assert_eq!(json["type"], "text");
        assert_eq!(json["align"], "center");
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let ops = decode(&bytes);
            let _ = preview(&bytes);
            let _ = text_lines(&ops);
            prop_assert!(bytes.is_empty() || !ops.is_empty());
        }

        #[test]
        fn random_bytes_after_commands_never_panic(
            prefix in prop::sample::select(vec![
                vec![GS, b'v', b'0'], vec![GS, b'(', b'k'], vec![DLE, EOT], vec![GS, b'V'],
                vec![ESC], vec![GS], vec![ESC, b'a'],
            ]),
            tail in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut bytes = prefix;
            bytes.extend(tail);
            let _ = preview(&bytes);
        }
    }
}
