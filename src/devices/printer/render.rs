//! Tickets and the test page as ESC/POS bytes. Pure: no printer, no clock.
//!
//! The bytes come from escpos's `Printer` API over an in-memory driver. Lines in printable
//! ASCII go out as text in the printer's font; any other line (Hindi...) is drawn by
//! [`super::raster`] and sent as a `GS v 0` raster image. The token number is printed in the
//! largest size that fits the paper.

use std::cell::RefCell;

use escpos::driver::Driver;
use escpos::errors::PrinterError;
use escpos::printer::Printer as EscPos;
use escpos::utils::{JustifyMode, Protocol, QRCodeCorrectionLevel, QRCodeModel, QRCodeOption};

use super::decode::Align;
use super::raster::Fonts;
use super::{Paper, TicketPrint};
use crate::devices::DeviceError;

/// Width of a font A character in dots (at size 1).
const CHAR_DOTS: usize = 12;
/// Pixels per em of raster text at size 1 (font A is 24 dots tall).
const RASTER_EM: f32 = 28.0;

/// An escpos driver that keeps what is written.
#[derive(Default)]
struct Capture {
    bytes: RefCell<Vec<u8>>,
}

impl Driver for Capture {
    fn name(&self) -> String {
        "memory".to_owned()
    }

    fn write(&self, data: &[u8]) -> escpos::errors::Result<()> {
        self.bytes.try_borrow_mut()?.extend_from_slice(data);
        Ok(())
    }

    fn read(&self, _buf: &mut [u8]) -> escpos::errors::Result<usize> {
        Ok(0)
    }

    fn flush(&self) -> escpos::errors::Result<()> {
        Ok(())
    }
}

/// How a line is printed.
#[derive(Clone, Copy, Debug)]
struct Style {
    size: u8,
    bold: bool,
    align: Align,
}

impl Style {
    const NORMAL: Self = Self {
        size: 1,
        bold: false,
        align: Align::Center,
    };

    fn bold(self) -> Self {
        Self { bold: true, ..self }
    }

    fn size(self, size: u8) -> Self {
        Self { size, ..self }
    }
}

fn render_error(e: PrinterError) -> DeviceError {
    DeviceError::Protocol(format!("cannot lay out the printout: {e}"))
}

/// Typographic characters with a plain ASCII look-alike, so an English line stays text.
fn plain(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{2013}' | '\u{2014}' | '\u{2212}' => '-',
            '\u{2018}' | '\u{2019}' => '\'',
            '\u{201C}' | '\u{201D}' => '"',
            '\u{00A0}' | '\u{202F}' | '\u{2009}' => ' ',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect::<String>()
        .replace('\u{2026}', "...")
        .trim()
        .to_owned()
}

/// Whether the printer can print the line as text.
fn is_printable_ascii(text: &str) -> bool {
    text.chars().all(|c| (' '..='~').contains(&c))
}

/// A printout being laid out.
struct Doc {
    printer: EscPos<Capture>,
    fonts: Option<Fonts>,
    paper: Paper,
}

impl Doc {
    fn new(paper: Paper) -> Result<Self, DeviceError> {
        let mut printer = EscPos::new(Capture::default(), Protocol::default(), None);
        printer.init().map_err(render_error)?;
        Ok(Self {
            printer,
            fonts: None,
            paper,
        })
    }

    /// A line of text, as text when the printer can print it, else as an image.
    fn line(&mut self, text: &str, style: Style) -> Result<(), DeviceError> {
        let text = plain(text);
        if text.is_empty() {
            return Ok(());
        }
        let justify = match style.align {
            Align::Left => JustifyMode::LEFT,
            Align::Center => JustifyMode::CENTER,
            Align::Right => JustifyMode::RIGHT,
        };
        if is_printable_ascii(&text) {
            self.printer
                .justify(justify)
                .and_then(|p| p.bold(style.bold))
                .and_then(|p| p.size(style.size, style.size))
                .and_then(|p| p.writeln(&text))
                .and_then(|p| p.reset_size())
                .and_then(|p| p.bold(false))
                .map_err(render_error)?;
            return Ok(());
        }
        if self.fonts.is_none() {
            self.fonts = Fonts::bundled();
        }
        let Some(fonts) = &self.fonts else {
            return Err(DeviceError::Unsupported(
                "the bundled print fonts cannot be read".to_owned(),
            ));
        };
        let em = RASTER_EM * f32::from(style.size);
        for image in fonts.draw(&text, em, self.paper.dots(), style.align) {
            self.printer.custom(&image.gs_v0()).map_err(render_error)?;
        }
        Ok(())
    }

    /// A blank line.
    fn gap(&mut self) -> Result<(), DeviceError> {
        self.printer.feed().map_err(render_error)?;
        Ok(())
    }

    /// A QR code, centred, with the printer's own QR encoder.
    fn qr(&mut self, data: &str) -> Result<(), DeviceError> {
        let module = match self.paper {
            Paper::Mm58 => 5,
            Paper::Mm80 => 7,
        };
        let option = QRCodeOption::new(QRCodeModel::Model2, module, QRCodeCorrectionLevel::M);
        self.printer
            .justify(JustifyMode::CENTER)
            .and_then(|p| p.qrcode_option(data, option))
            .map_err(render_error)?;
        Ok(())
    }

    /// Feeds the paper past the cutter, cuts, and hands over the bytes.
    fn finish(mut self) -> Result<Vec<u8>, DeviceError> {
        self.printer
            .feeds(4)
            .and_then(|p| p.cut())
            .and_then(|p| p.print())
            .map_err(render_error)?;
        let capture = self.printer.driver();
        Ok(capture.bytes.into_inner())
    }
}

/// The largest size multiplier (1 to 8) at which `text` fits the paper on one line.
pub fn biggest_size(text: &str, paper: Paper) -> u8 {
    let chars = text.chars().count().max(1);
    (1..=8u8)
        .rev()
        .find(|n| chars * CHAR_DOTS * usize::from(*n) <= paper.dots() as usize)
        .unwrap_or(1)
}

/// A ticket as ESC/POS bytes: clinic name, the number as big as it fits, service, time, people
/// ahead, estimated wait, the status page's QR code (if there is a URL), the hint, the footer
/// (if any), then a cut.
pub fn render_ticket(ticket: &TicketPrint, paper: Paper) -> Result<Vec<u8>, DeviceError> {
    let mut doc = Doc::new(paper)?;
    let normal = Style::NORMAL;
    let clinic_size = if biggest_size(&ticket.clinic, paper) >= 2 {
        2
    } else {
        1
    };
    doc.line(&ticket.clinic, normal.bold().size(clinic_size))?;
    doc.gap()?;
    let number = plain(&ticket.number);
    doc.line(&number, normal.bold().size(biggest_size(&number, paper)))?;
    doc.gap()?;
    doc.line(&ticket.service, normal.bold())?;
    doc.line(&ticket.issued, normal)?;
    doc.gap()?;
    doc.line(&ticket.ahead, normal)?;
    if let Some(wait) = &ticket.wait {
        doc.line(wait, normal)?;
    }
    if let Some(url) = ticket.status_url.as_deref().filter(|u| !u.is_empty()) {
        doc.gap()?;
        doc.qr(url)?;
        if let Some(hint) = &ticket.scan_hint {
            doc.line(hint, normal)?;
        }
    }
    if !ticket.footer.trim().is_empty() {
        doc.gap()?;
        doc.line(&ticket.footer, normal)?;
    }
    doc.finish()
}

/// The test page for `waitless print-test` and the staff's "test print": the printer's name,
/// the paper, text sizes, a QR code, an English line, a Hindi line (an image) and a cut.
pub fn render_test_page(printer_name: &str, paper: Paper) -> Vec<u8> {
    match test_page(printer_name, paper) {
        Ok(bytes) => bytes,
        Err(e) => {
            // Cannot happen with the bundled fonts; print the essentials anyway.
            tracing::warn!("test page: {e}");
            let mut bytes = b"\x1b@waitless test print\n".to_vec();
            bytes.extend_from_slice(b"\x1bd\x04\x1dVA\x00");
            bytes
        }
    }
}

fn test_page(printer_name: &str, paper: Paper) -> Result<Vec<u8>, DeviceError> {
    let mut doc = Doc::new(paper)?;
    let normal = Style::NORMAL;
    doc.line("waitless test print", normal.bold().size(2))?;
    doc.gap()?;
    doc.line(printer_name, normal)?;
    doc.line(
        &format!(
            "Paper: {} mm, {} dots, {} characters a line",
            paper.mm(),
            paper.dots(),
            paper.chars()
        ),
        normal,
    )?;
    doc.gap()?;
    for size in 1..=4u8 {
        doc.line(&format!("Size {size}"), normal.size(size))?;
    }
    doc.line("A042", normal.bold().size(biggest_size("A042", paper)))?;
    doc.gap()?;
    doc.qr("waitless test print")?;
    doc.line(
        "The quick brown fox jumps over the lazy dog 0123456789",
        normal,
    )?;
    doc.line("नमस्ते! यह हिन्दी की परीक्षण पंक्ति है।", normal)?;
    doc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::printer::decode::{Op, decode, qr_codes, text_lines};

    pub(crate) fn ticket() -> TicketPrint {
        TicketPrint {
            lang: "en".into(),
            clinic: "Sunrise Clinic".into(),
            number: "A042".into(),
            service: "General consultation".into(),
            issued: "2025-03-14 10:42".into(),
            ahead: "3 people ahead of you".into(),
            wait: Some("Estimated wait: 10–20 min".into()),
            status_url: Some("http://clinic.local:8080/t/7Qx3k".into()),
            scan_hint: Some("Scan to follow your turn".into()),
            footer: String::new(),
        }
    }

    fn hindi_ticket() -> TicketPrint {
        TicketPrint {
            lang: "hi".into(),
            clinic: "सूर्योदय क्लिनिक".into(),
            service: "सामान्य परामर्श".into(),
            ahead: "आपसे पहले 3 लोग".into(),
            wait: Some("अनुमानित प्रतीक्षा: 10–20 मिनट".into()),
            scan_hint: Some("अपनी बारी देखने के लिए स्कैन करें".into()),
            footer: "धन्यवाद".into(),
            ..ticket()
        }
    }

    #[test]
    fn the_number_is_printed_in_the_biggest_size_that_fits() {
        assert_eq!(biggest_size("A042", Paper::Mm80), 8);
        assert_eq!(biggest_size("A042", Paper::Mm58), 8);
        assert_eq!(biggest_size("A1042", Paper::Mm58), 6);
        assert_eq!(biggest_size("A1042", Paper::Mm80), 8);
        assert_eq!(biggest_size("ABCDEFG", Paper::Mm80), 6);
        assert_eq!(biggest_size(&"X".repeat(60), Paper::Mm80), 1);

        let mut t = ticket();
        t.number = "A1042".into();
        let lines = text_lines(&decode(&render_ticket(&t, Paper::Mm58).unwrap()));
        let number = lines.iter().find(|l| l.text == "A1042").unwrap();
        assert_eq!((number.width, number.height, number.bold), (6, 6, true));
        assert_eq!(number.align, Align::Center);
    }

    #[test]
    fn an_english_ticket_round_trips_through_the_decoder() {
        let ops = decode(&render_ticket(&ticket(), Paper::Mm80).unwrap());
        assert_eq!(ops.first(), Some(&Op::Init));
        assert_eq!(ops.last(), Some(&Op::Cut { partial: false }));
        assert!(
            !ops.iter().any(|op| matches!(op, Op::Unknown(_))),
            "{ops:?}"
        );
        assert!(!ops.iter().any(|op| matches!(op, Op::Raster { .. })));
        let lines = text_lines(&ops);
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "Sunrise Clinic",
                "A042",
                "General consultation",
                "2025-03-14 10:42",
                "3 people ahead of you",
                "Estimated wait: 10-20 min",
                "Scan to follow your turn",
            ]
        );
        assert!(lines[0].bold && lines[0].width == 2);
        assert_eq!((lines[1].width, lines[1].height), (8, 8));
        assert!(lines[2..].iter().all(|l| l.width == 1 && l.height == 1));
        assert_eq!(qr_codes(&ops), ["http://clinic.local:8080/t/7Qx3k"]);
    }

    #[test]
    fn no_qr_without_a_url_and_the_footer_only_when_set() {
        let mut t = ticket();
        t.status_url = None;
        let ops = decode(&render_ticket(&t, Paper::Mm80).unwrap());
        assert!(qr_codes(&ops).is_empty());
        assert!(!ops.iter().any(|op| matches!(op, Op::QrStore(_))));
        let texts: Vec<String> = text_lines(&ops).into_iter().map(|l| l.text).collect();
        assert!(!texts.contains(&"Scan to follow your turn".to_owned()));

        t.footer = "Thank you - please keep this ticket".into();
        let texts: Vec<String> = text_lines(&decode(&render_ticket(&t, Paper::Mm80).unwrap()))
            .into_iter()
            .map(|l| l.text)
            .collect();
        assert_eq!(
            texts.last().map(String::as_str),
            Some("Thank you - please keep this ticket")
        );
    }

    #[test]
    fn a_long_clinic_name_on_58_mm_stays_in_size_1() {
        let mut t = ticket();
        t.clinic = "Saint Mary's Community Health Centre".into();
        let lines = text_lines(&decode(&render_ticket(&t, Paper::Mm58).unwrap()));
        assert_eq!(lines[0].width, 1);
        let lines = text_lines(&decode(&render_ticket(&ticket(), Paper::Mm58).unwrap()));
        assert_eq!(lines[0].width, 2);
    }

    #[test]
    fn a_hindi_ticket_sends_its_lines_as_images() {
        for paper in [Paper::Mm58, Paper::Mm80] {
            let ops = decode(&render_ticket(&hindi_ticket(), paper).unwrap());
            let rasters: Vec<_> = ops
                .iter()
                .filter_map(|op| match op {
                    Op::Raster {
                        width_dots,
                        height,
                        bits,
                    } => Some((*width_dots, *height, bits)),
                    _ => None,
                })
                .collect();
            // Clinic, service, ahead, wait, hint, footer: at least one image each.
            assert!(rasters.len() >= 6, "{}", rasters.len());
            for (width, height, bits) in &rasters {
                assert_eq!(*width, paper.dots());
                assert!(*height > 20);
                assert_eq!(bits.len() as u32, width / 8 * height);
                assert!(bits.iter().any(|b| *b != 0));
            }
            for op in &ops {
                if let Op::Text(text) = op {
                    assert!(text.is_ascii(), "{text}");
                }
            }
            let texts: Vec<String> = text_lines(&ops).into_iter().map(|l| l.text).collect();
            assert!(texts.contains(&"A042".to_owned()));
            assert!(texts.contains(&"2025-03-14 10:42".to_owned()));
            assert_eq!(qr_codes(&ops), ["http://clinic.local:8080/t/7Qx3k"]);
            assert_eq!(ops.last(), Some(&Op::Cut { partial: false }));
        }
    }

    #[test]
    fn the_test_page_has_text_a_qr_an_image_and_a_cut() {
        let ops = decode(&render_test_page(
            "ESC/POS printer tcp://10.0.0.9:9100",
            Paper::Mm58,
        ));
        let texts: Vec<String> = text_lines(&ops).into_iter().map(|l| l.text).collect();
        assert_eq!(texts[0], "waitless test print");
        assert!(texts.contains(&"ESC/POS printer tcp://10.0.0.9:9100".to_owned()));
        assert!(texts.iter().any(|t| t.contains("58 mm")));
        assert_eq!(qr_codes(&ops).len(), 1);
        assert!(ops.iter().any(|op| matches!(
            op,
            Op::Raster {
                width_dots: 384,
                ..
            }
        )));
        assert_eq!(ops.last(), Some(&Op::Cut { partial: false }));
    }
}
