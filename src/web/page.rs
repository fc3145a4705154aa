//! The HTML pages. Until the screens arrive (kiosk, display, staff console), each is a short
//! page that says what it will be and links to the API, so the URLs logged at start work.

use actix_web::HttpResponse;
use actix_web::http::header::ContentType;

fn page(title: &str, body: &str) -> HttpResponse {
    HttpResponse::Ok().content_type(ContentType::html()).body(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title} · waitless</title></head>\
         <body style=\"font:18px/1.5 system-ui,sans-serif;max-width:40em;margin:2em auto;padding:0 1em\">\
         <h1>{title}</h1>{body}\
         <p><a href=\"/\">waitless</a> · <a href=\"/api/v1/queue\">queue (JSON)</a> · \
         <a href=\"/api/v1/openapi.json\">API (OpenAPI)</a></p></body></html>"
    ))
}

/// `/`: what is here.
pub async fn index_page() -> HttpResponse {
    page(
        "waitless",
        "<p>The clinic's queue is running.</p><ul>\
         <li><a href=\"/kiosk\">Check-in kiosk</a></li>\
         <li><a href=\"/display\">Waiting-room display</a></li>\
         <li><a href=\"/staff\">Staff console</a></li></ul>",
    )
}

/// `/kiosk`.
pub async fn kiosk_page() -> HttpResponse {
    page(
        "Check-in kiosk",
        "<p>The touch kiosk arrives with the screens release. Until then, issue tickets with \
         <code>POST /api/v1/tickets</code> (see docs/api.md).</p>",
    )
}

/// `/display`.
pub async fn display_page() -> HttpResponse {
    page(
        "Waiting-room display",
        "<p>The live display arrives with the screens release. Its data is already live at \
         <code>/api/v1/events</code> (WebSocket).</p>",
    )
}

/// `/staff`.
pub async fn staff_page() -> HttpResponse {
    page(
        "Staff console",
        "<p>The staff console arrives with the screens release. Rooms can already call \
         tickets with <code>POST /api/v1/rooms/{id}/next</code>.</p>",
    )
}
