//! Rendering a ticket to ESC/POS bytes: English (text only) and Hindi (lines drawn as raster
//! images with shaping). `cargo bench --bench printer`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use waitless::devices::printer::{Paper, TicketPrint, render_ticket};

fn ticket(lang: &str) -> TicketPrint {
    let hindi = lang == "hi";
    TicketPrint {
        lang: lang.to_owned(),
        clinic: "Sunrise Clinic".to_owned(),
        number: "A042".to_owned(),
        service: if hindi {
            "सामान्य ओपीडी"
        } else {
            "General OPD"
        }
        .to_owned(),
        issued: "21/11/2026 10:42".to_owned(),
        ahead: if hindi {
            "आपसे पहले 3 लोग हैं"
        } else {
            "3 people ahead of you"
        }
        .to_owned(),
        wait: Some(
            if hindi {
                "अनुमानित प्रतीक्षा: 10–20 मिनट"
            } else {
                "Estimated wait: 10–20 min"
            }
            .to_owned(),
        ),
        status_url: Some("http://waitless.local/t/42-0123456789abcdef".to_owned()),
        scan_hint: Some(
            if hindi {
                "अपनी बारी फ़ोन पर देखने के लिए स्कैन करें"
            } else {
                "Scan to follow your turn on your phone"
            }
            .to_owned(),
        ),
        footer: String::new(),
    }
}

fn render(c: &mut Criterion) {
    for lang in ["en", "hi"] {
        let t = ticket(lang);
        c.bench_function(&format!("render_ticket_{lang}_80mm"), |b| {
            b.iter(|| render_ticket(black_box(&t), Paper::Mm80))
        });
    }
}

criterion_group!(benches, render);
criterion_main!(benches);
