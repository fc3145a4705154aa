//! Lines the printer cannot print as text (Hindi and any other non-ASCII script), drawn into
//! 1-bit images: shaped with rustybuzz (Devanagari needs real shaping: conjuncts, matras),
//! glyph outlines drawn with ab_glyph at the shaped positions, thresholded to black and white.
//!
//! The fonts are bundled (Noto Sans Bold for Latin, Greek and Cyrillic, Noto Sans Devanagari
//! Bold; OFL, see `assets/fonts/OFL.txt`) and chosen per run of characters. Scripts neither font
//! covers come out as empty boxes. Images are always the paper's full width, the text placed in
//! them by its alignment, so the printer's own justification does not matter.

use ab_glyph::{Font as _, FontRef, Glyph, GlyphId, PxScale, point};
use rustybuzz::{Face, UnicodeBuffer};

use super::decode::Align;

/// Noto Sans Bold (Latin, Greek, Cyrillic).
const LATIN_FONT: &[u8] = include_bytes!("../../../assets/fonts/print/NotoSans-Bold.ttf");
/// Noto Sans Devanagari Bold (no Latin letters).
const DEVANAGARI_FONT: &[u8] =
    include_bytes!("../../../assets/fonts/print/NotoSansDevanagari-Bold.ttf");

/// A 1-bit image, rows of `width / 8` bytes, most significant bit leftmost, 1 = black.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bitmap {
    /// Width in dots, a multiple of 8.
    pub width: u32,
    /// Height in dots.
    pub height: u32,
    /// The dots, row by row.
    pub bits: Vec<u8>,
}

impl Bitmap {
    /// A white image.
    fn blank(width: u32, height: u32) -> Self {
        let width = width.div_ceil(8) * 8;
        Self {
            width,
            height,
            bits: vec![0; (width / 8 * height) as usize],
        }
    }

    /// Bytes in a row.
    pub fn row_bytes(&self) -> u32 {
        self.width / 8
    }

    fn set(&mut self, x: u32, y: u32) {
        if x < self.width && y < self.height {
            let index = (y * self.row_bytes() + x / 8) as usize;
            if let Some(byte) = self.bits.get_mut(index) {
                *byte |= 0x80 >> (x % 8);
            }
        }
    }

    /// Whether any dot is black.
    pub fn is_blank(&self) -> bool {
        self.bits.iter().all(|b| *b == 0)
    }

    /// The ESC/POS raster command for it: `GS v 0 0 xL xH yL yH d...`.
    pub fn gs_v0(&self) -> Vec<u8> {
        let x = self.row_bytes().min(0xFFFF);
        let y = self.height.min(0xFFFF);
        let mut cmd = Vec::with_capacity(self.bits.len() + 8);
        cmd.extend_from_slice(&[0x1D, b'v', b'0', 0]);
        cmd.extend_from_slice(&[(x & 0xFF) as u8, (x >> 8) as u8]);
        cmd.extend_from_slice(&[(y & 0xFF) as u8, (y >> 8) as u8]);
        cmd.extend_from_slice(&self.bits);
        cmd
    }
}

/// One bundled font, for shaping and for drawing.
struct Typeface {
    shaper: Face<'static>,
    outlines: FontRef<'static>,
    units_per_em: f32,
}

impl Typeface {
    fn load(data: &'static [u8]) -> Option<Self> {
        let shaper = Face::from_slice(data, 0)?;
        let outlines = FontRef::try_from_slice(data).ok()?;
        let units_per_em = outlines.units_per_em()?;
        Some(Self {
            shaper,
            outlines,
            units_per_em,
        })
    }

    fn has(&self, c: char) -> bool {
        self.outlines.glyph_id(c).0 != 0
    }
}

/// A glyph placed on a line: font, id, pen position in pixels (x from the line's start, y up
/// from the baseline).
struct Placed {
    font: usize,
    id: u16,
    x: f32,
    y: f32,
}

/// A shaped line.
struct Layout {
    glyphs: Vec<Placed>,
    width: f32,
}

/// The bundled fonts, in fallback order for characters of no particular script.
pub struct Fonts {
    faces: Vec<Typeface>,
}

impl std::fmt::Debug for Fonts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fonts")
            .field("faces", &self.faces.len())
            .finish()
    }
}

/// Index of the Latin font in [`Fonts::faces`].
const LATIN: usize = 0;
/// Index of the Devanagari font.
const DEVANAGARI: usize = 1;

fn is_devanagari(c: char) -> bool {
    matches!(c, '\u{0900}'..='\u{097F}' | '\u{A8E0}'..='\u{A8FF}' | '\u{1CD0}'..='\u{1CFF}')
}

/// Characters that belong to the run around them (spaces, joiners, punctuation, digits).
fn is_neutral(c: char) -> bool {
    c.is_whitespace()
        || c.is_ascii_punctuation()
        || c.is_ascii_digit()
        || matches!(
            c,
            '\u{200C}' | '\u{200D}' | '\u{2013}' | '\u{2014}' | '\u{2026}'
        )
}

impl Fonts {
    /// The bundled fonts. `None` only if a bundled font is corrupt (a build problem).
    pub fn bundled() -> Option<Self> {
        Some(Self {
            faces: vec![
                Typeface::load(LATIN_FONT)?,
                Typeface::load(DEVANAGARI_FONT)?,
            ],
        })
    }

    /// The font for a character that is not neutral.
    fn font_for(&self, c: char) -> usize {
        let has = |i: usize| self.faces.get(i).is_some_and(|f| f.has(c));
        if is_devanagari(c) && has(DEVANAGARI) {
            DEVANAGARI
        } else if has(LATIN) {
            LATIN
        } else if has(DEVANAGARI) {
            DEVANAGARI
        } else {
            LATIN
        }
    }

    /// Splits text into runs of one font each: neutral characters join the run they are in.
    fn runs<'t>(&self, text: &'t str) -> Vec<(usize, &'t str)> {
        let mut runs: Vec<(usize, usize, usize)> = Vec::new(); // font, start, end
        let mut pending_start: Option<usize> = None; // neutral characters before any run
        for (i, c) in text.char_indices() {
            let end = i + c.len_utf8();
            if is_neutral(c) {
                match runs.last_mut() {
                    Some(run) => run.2 = end,
                    None => {
                        pending_start.get_or_insert(i);
                    }
                }
                continue;
            }
            let font = self.font_for(c);
            match runs.last_mut() {
                Some(run) if run.0 == font => run.2 = end,
                _ => runs.push((font, pending_start.take().unwrap_or(i), end)),
            }
        }
        if runs.is_empty() && !text.is_empty() {
            runs.push((LATIN, 0, text.len()));
        }
        runs.into_iter()
            .filter_map(|(font, start, end)| Some((font, text.get(start..end)?)))
            .collect()
    }

    /// Shapes a line at `em` pixels per em.
    fn layout(&self, text: &str, em: f32) -> Layout {
        let mut glyphs = Vec::new();
        let mut pen = 0.0_f32;
        for (font, run) in self.runs(text) {
            let Some(face) = self.faces.get(font) else {
                continue;
            };
            let scale = em / face.units_per_em;
            let mut buffer = UnicodeBuffer::new();
            buffer.push_str(run);
            buffer.guess_segment_properties();
            let shaped = rustybuzz::shape(&face.shaper, &[], buffer);
            for (info, pos) in shaped.glyph_infos().iter().zip(shaped.glyph_positions()) {
                glyphs.push(Placed {
                    font,
                    id: u16::try_from(info.glyph_id).unwrap_or(0),
                    x: pen + pos.x_offset as f32 * scale,
                    y: pos.y_offset as f32 * scale,
                });
                pen += pos.x_advance as f32 * scale;
            }
        }
        Layout { glyphs, width: pen }
    }

    /// Ascent and descent (positive, in pixels) of the fonts a line uses.
    fn vertical(&self, layout: &Layout, em: f32) -> (f32, f32) {
        let mut ascent = 0.0_f32;
        let mut descent = 0.0_f32;
        let mut fonts: Vec<usize> = layout.glyphs.iter().map(|g| g.font).collect();
        fonts.push(LATIN);
        fonts.dedup();
        for font in fonts {
            if let Some(face) = self.faces.get(font) {
                let scale = em / face.units_per_em;
                ascent = ascent.max(face.outlines.ascent_unscaled() * scale);
                descent = descent.max(-face.outlines.descent_unscaled() * scale);
            }
        }
        (ascent, descent)
    }

    /// Splits text into lines that fit `width` dots, at spaces (a word wider than the paper
    /// stays whole and is cut at the edge).
    fn wrap(&self, text: &str, em: f32, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split(' ').filter(|w| !w.is_empty()) {
            if line.is_empty() {
                line.push_str(word);
                continue;
            }
            let candidate = format!("{line} {word}");
            if self.layout(&candidate, em).width <= width {
                line = candidate;
            } else {
                lines.push(std::mem::replace(&mut line, word.to_owned()));
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }

    /// Draws text as images `width` dots wide (one per wrapped line), `em` pixels per em,
    /// placed by `align`.
    pub fn draw(&self, text: &str, em: f32, width: u32, align: Align) -> Vec<Bitmap> {
        self.wrap(text, em, width as f32)
            .iter()
            .map(|line| self.draw_line(line, em, width, align))
            .collect()
    }

    fn draw_line(&self, text: &str, em: f32, width: u32, align: Align) -> Bitmap {
        let layout = self.layout(text, em);
        let (ascent, descent) = self.vertical(&layout, em);
        let height = (ascent + descent).ceil().max(1.0) as u32;
        let mut bitmap = Bitmap::blank(width, height);
        let free = (bitmap.width as f32 - layout.width).max(0.0);
        let left = match align {
            Align::Left => 0.0,
            Align::Center => (free / 2.0).floor(),
            Align::Right => free,
        };
        let mut coverage = vec![0.0_f32; (bitmap.width * height) as usize];
        for placed in &layout.glyphs {
            let Some(face) = self.faces.get(placed.font) else {
                continue;
            };
            let px = em * face.outlines.height_unscaled() / face.units_per_em;
            let glyph = Glyph {
                id: GlyphId(placed.id),
                scale: PxScale::from(px),
                position: point(left + placed.x, ascent - placed.y),
            };
            let Some(outline) = face.outlines.outline_glyph(glyph) else {
                continue;
            };
            let bounds = outline.px_bounds();
            outline.draw(|x, y, c| {
                let gx = bounds.min.x as i64 + i64::from(x);
                let gy = bounds.min.y as i64 + i64::from(y);
                if gx >= 0 && gy >= 0 && gx < i64::from(bitmap.width) && gy < i64::from(height) {
                    let i = (gy as u64 * u64::from(bitmap.width) + gx as u64) as usize;
                    if let Some(cell) = coverage.get_mut(i) {
                        *cell = (*cell + c).min(1.0);
                    }
                }
            });
        }
        for (i, c) in coverage.iter().enumerate() {
            if *c >= 0.5 {
                let i = i as u32;
                bitmap.set(i % bitmap.width, i / bitmap.width);
            }
        }
        bitmap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn black_columns(b: &Bitmap) -> (u32, u32) {
        let mut min = u32::MAX;
        let mut max = 0;
        for y in 0..b.height {
            for x in 0..b.width {
                let byte = b.bits[(y * b.row_bytes() + x / 8) as usize];
                if byte & (0x80 >> (x % 8)) != 0 {
                    min = min.min(x);
                    max = max.max(x);
                }
            }
        }
        (min, max)
    }

    #[test]
    fn devanagari_runs_use_the_devanagari_font() {
        let fonts = Fonts::bundled().unwrap();
        let runs = fonts.runs("टोकन A042, कमरा 2");
        assert_eq!(
            runs,
            vec![
                (DEVANAGARI, "टोकन "),
                (LATIN, "A042, "),
                (DEVANAGARI, "कमरा 2")
            ]
        );
        assert_eq!(fonts.runs("12:30"), vec![(LATIN, "12:30")]);
    }

    #[test]
    fn hindi_is_shaped_into_fewer_glyphs_than_characters() {
        let fonts = Fonts::bundled().unwrap();
        // क्ष is a conjunct: three characters, one glyph.
        let layout = fonts.layout("क्ष", 24.0);
        assert_eq!(layout.glyphs.len(), 1);
        assert!(
            layout
                .glyphs
                .iter()
                .all(|g| g.font == DEVANAGARI && g.id != 0)
        );
        // The i-matra goes before the consonant it follows in the text.
        let layout = fonts.layout("कि", 24.0);
        assert_eq!(layout.glyphs.len(), 2);
        assert!(layout.glyphs[0].x < layout.glyphs[1].x);
    }

    #[test]
    fn a_line_is_drawn_in_black_and_centred() {
        let fonts = Fonts::bundled().unwrap();
        let images = fonts.draw("आपसे पहले 3 लोग", 28.0, 576, Align::Center);
        assert_eq!(images.len(), 1);
        let image = &images[0];
        assert_eq!(image.width, 576);
        assert!(image.height >= 28);
        assert!(!image.is_blank());
        let (min, max) = black_columns(image);
        let left = min;
        let right = image.width - 1 - max;
        assert!(left.abs_diff(right) <= 4, "{left} {right}");
        let cmd = image.gs_v0();
        assert_eq!(
            &cmd[..8],
            &[0x1D, b'v', b'0', 0, 72, 0, image.height as u8, 0]
        );
    }

    #[test]
    fn long_lines_wrap_to_the_paper() {
        let fonts = Fonts::bundled().unwrap();
        let text = "कृपया अपनी बारी की प्रतीक्षा करें और स्क्रीन पर अपना नंबर देखें";
        let images = fonts.draw(text, 28.0, 384, Align::Left);
        assert!(images.len() >= 2, "{}", images.len());
        assert!(images.iter().all(|i| i.width == 384 && !i.is_blank()));
    }
}
