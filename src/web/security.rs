//! Security headers on every answer: a Content-Security-Policy that allows no inline script
//! (pages load their script from `/assets/js/`, and their settings from a JSON data block),
//! no framing, no MIME sniffing, and no referrer (patients' status links carry their token).

use actix_web::middleware::DefaultHeaders;

/// The Content-Security-Policy of every answer. `img-src data:` for the demo printer's preview
/// images; `media-src blob:` for the display's announcements; WebSockets are same-origin
/// (`connect-src 'self'`).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; media-src 'self' blob:; connect-src 'self'; \
    font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

/// The middleware that adds the headers (unless a handler set them).
pub fn headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"))
        .add((
            "Permissions-Policy",
            "camera=(), microphone=(), geolocation=(), payment=()",
        ))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
}
