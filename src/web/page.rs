//! The HTML pages: the check-in kiosk, the waiting-room display, the staff console, the admin
//! pages (set-up and audit trail), the patient's status page. Each is a template (`templates/`)
//! filled with a small typed context; the page's live behaviour is a JavaScript module
//! (`assets/js/`) that reads its settings and messages from a JSON block
//! (`<script id="boot" type="application/json">`) — no inline script, so a strict
//! Content-Security-Policy can forbid it.

use std::collections::BTreeMap;

use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::auth::Actor;
use super::error::WebError;
use super::state::AppState;
use super::view::public_url;
use crate::auth::screen::ScreenKind;
use crate::domain::{RoomId, ServiceId};
use crate::i18n::Catalog;

/// `?lang=` and the page's own parameters.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    /// Language code.
    pub lang: Option<String>,
    /// Display: the rooms to show, `r1,r2`.
    pub rooms: Option<String>,
    /// Display: show the rooms that call these services (one department), `lab,xray`.
    pub services: Option<String>,
    /// Staff console: the room to open.
    pub room: Option<String>,
    /// Display: `off` for a silent display (no chime, no voice).
    pub sound: Option<String>,
    /// Login: where to go after logging in (a path of this server).
    pub next: Option<String>,
}

#[derive(Clone, Copy, Serialize)]
struct Language<'a> {
    code: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct Boot<'a> {
    page: &'static str,
    lang: &'a str,
    languages: Vec<Language<'a>>,
    messages: &'a BTreeMap<String, String>,
    settings: serde_json::Value,
}

#[derive(Serialize)]
struct PageContext<'a, V: Serialize> {
    page: &'static str,
    lang: &'a str,
    dir: &'a str,
    title: String,
    clinic: String,
    boot_json: String,
    /// The page's language's messages, for the templates' `t("key")`.
    messages: &'a BTreeMap<String, String>,
    /// The languages the pages offer, for the language links.
    languages: Vec<Language<'a>>,
    /// `?lang=hi` when the address chose the language (links to other pages keep it), else "".
    lang_param: String,
    /// What a server-rendered page shows (its own typed context; `null` for the others).
    view: V,
}

pub(crate) fn language<'a>(state: &'a AppState, query: &PageQuery) -> &'a Catalog {
    let default = state
        .config
        .screens
        .languages
        .first()
        .map_or("en", String::as_str);
    let wanted = query.lang.as_deref().unwrap_or(default);
    state.catalogs.get(if state.catalogs.has(wanted) {
        wanted
    } else {
        default
    })
}

fn render(
    state: &AppState,
    query: &PageQuery,
    page: &'static str,
    catalog: &Catalog,
    title_key: &str,
    settings: serde_json::Value,
) -> Result<HttpResponse, WebError> {
    render_view(state, query, page, catalog, title_key, settings, ())
}

/// Renders a page whose template also reads `view`, its own typed context.
pub(crate) fn render_view(
    state: &AppState,
    query: &PageQuery,
    page: &'static str,
    catalog: &Catalog,
    title_key: &str,
    settings: serde_json::Value,
    view: impl Serialize,
) -> Result<HttpResponse, WebError> {
    let languages: Vec<Language<'_>> = state
        .config
        .screens
        .languages
        .iter()
        .filter(|code| state.catalogs.has(code))
        .map(|code| {
            let c = state.catalogs.get(code);
            Language {
                code: &c.code,
                name: &c.name,
            }
        })
        .collect();
    let boot = Boot {
        page,
        lang: &catalog.code,
        languages: languages.clone(),
        messages: &catalog.messages,
        settings,
    };
    // JSON inside <script>: no "<" may close the element early.
    let boot_json = serde_json::to_string(&boot)
        .map_err(|e| WebError::Internal(e.to_string()))?
        .replace('<', "\\u003c");
    let clinic = state.hub.read().state.clinic.name.clone();
    let html = state.pages.render(
        &format!("{page}.html"),
        PageContext {
            page,
            lang: &catalog.code,
            dir: &catalog.dir,
            title: catalog.text(title_key).to_owned(),
            clinic,
            boot_json,
            messages: &catalog.messages,
            languages,
            lang_param: match &query.lang {
                Some(_) => format!("?lang={}", catalog.code),
                None => String::new(),
            },
            view,
        },
    )?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::html())
        .insert_header(("Cache-Control", "no-store"))
        .body(html))
}

/// What the start page offers: only what its visitor may open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
struct IndexView {
    /// The kiosk and the display: for a visitor (a screen being set up) and for staff who
    /// work the queue; not for a user who may only read the reports.
    screens: bool,
    /// The staff console, each room's console and the printer page (a visitor gets the login).
    staff: bool,
    /// The clinic's set-up (`/admin`).
    admin: bool,
    /// The reports (`/admin/reports`): admins and managers.
    reports: bool,
    /// A logged-in user: their name, "Change password" and "Log out".
    account: bool,
}

impl IndexView {
    fn of(principal: Option<&crate::auth::Principal>) -> Self {
        use crate::auth::Need;
        match principal {
            None => Self {
                screens: true,
                staff: true,
                admin: false,
                reports: false,
                account: false,
            },
            Some(p) => Self {
                screens: p.can(Need::Staff),
                staff: p.can(Need::Staff),
                admin: p.can(Need::Admin),
                reports: p.can(Need::Reports),
                account: p.user_name().is_some(),
            },
        }
    }
}

/// The start page's view with every link, for the template tests.
#[cfg(test)]
pub(crate) fn example_index_view() -> serde_json::Value {
    serde_json::json!(IndexView {
        screens: true,
        staff: true,
        admin: true,
        reports: true,
        account: true,
    })
}

/// `/`: links to the screens and consoles its visitor may open: every screen for a visitor or
/// staff, `/admin` for an admin, the reports for an admin or a manager (a manager alone sees
/// only the reports and their account).
pub async fn index_page(
    state: web::Data<AppState>,
    actor: Actor,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, WebError> {
    let catalog = language(&state, &query);
    let view = IndexView::of(actor.0.as_ref());
    let rooms: Vec<serde_json::Value> = if view.staff {
        state
            .hub
            .read()
            .state
            .rooms_in_order()
            .into_iter()
            .map(|r| serde_json::json!({"id": r.id, "name": r.name, "names": r.names}))
            .collect()
    } else {
        Vec::new()
    };
    render_view(
        &state,
        &query,
        "index",
        catalog,
        "common.app_name",
        serde_json::json!({ "rooms": rooms }),
        view,
    )
}

/// The pairing code page an unpaired screen shows while the clinic requires pairing.
fn pair_page(
    state: &AppState,
    query: &PageQuery,
    catalog: &Catalog,
    kind: ScreenKind,
) -> Result<HttpResponse, WebError> {
    render(
        state,
        query,
        "pair",
        catalog,
        "pair.title",
        serde_json::json!({ "kind": kind }),
    )
}

/// `/kiosk[?lang=hi]`: the check-in kiosk.
pub async fn kiosk_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    actor: Actor,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, WebError> {
    let catalog = language(&state, &query);
    if !super::auth::may_show(&state, &req, &actor, ScreenKind::Kiosk) {
        return pair_page(&state, &query, catalog, ScreenKind::Kiosk);
    }
    let kiosk = super::view::kiosk_effective(&state);
    render(
        &state,
        &query,
        "kiosk",
        catalog,
        "kiosk.welcome",
        serde_json::json!({
            "reset_secs": kiosk.reset_secs,
            "priority": kiosk.priority,
            "language_chosen": query.lang.is_some(),
            // "I have an appointment": shown once a doctor takes bookings.
            "appointments": state.hub.read().appointments.plans.all().next().is_some(),
        }),
    )
}

/// `/display[?rooms=r1,r2|?services=s1,s2][&lang=hi]`: the waiting-room display (every room,
/// these rooms in this order, or the rooms that call these services).
pub async fn display_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    actor: Actor,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, WebError> {
    let catalog = language(&state, &query);
    if !super::auth::may_show(&state, &req, &actor, ScreenKind::Display) {
        return pair_page(&state, &query, catalog, ScreenKind::Display);
    }
    let rooms: Vec<RoomId> = match &query.rooms {
        Some(list) => list
            .split(',')
            .filter(|r| !r.is_empty())
            .map(RoomId::parse)
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let services: Vec<ServiceId> = match &query.services {
        Some(list) => list
            .split(',')
            .filter(|s| !s.is_empty())
            .map(ServiceId::parse)
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let announce: BTreeMap<&str, serde_json::Value> = state
        .config
        .screens
        .announce_languages
        .iter()
        .filter(|code| state.catalogs.has(code))
        .map(|code| {
            let c = state.catalogs.get(code);
            (
                c.code.as_str(),
                serde_json::json!({
                    "call": c.text("announce.call"),
                    "recall": c.text("announce.recall"),
                    "voice": c.voice,
                }),
            )
        })
        .collect();
    render(
        &state,
        &query,
        "display",
        catalog,
        "display.now_serving",
        serde_json::json!({
            "rooms": rooms,
            "services": services,
            "announce": announce,
            "voice": state.speech.available(),
            "sound": query.sound.as_deref() != Some("off"),
        }),
    )
}

/// `/staff[?room=room-1]`: the staff console. Its boot settings say what the logged-in user
/// may do, by the same rule the server enforces ([`crate::auth::Principal::can`]), so the page
/// offers only that: `reception` (issue, transfer, cancel, open and close rooms), `admin`, and
/// `rooms`, the rooms it may act for (a doctor: their own).
pub async fn staff_page(
    state: web::Data<AppState>,
    actor: Actor,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, WebError> {
    use crate::auth::Need;
    let catalog = language(&state, &query);
    let room = match &query.room {
        Some(r) => Some(RoomId::parse(r)?),
        None => None,
    };
    let may = actor.0.as_ref().map(|p| {
        let rooms: Vec<RoomId> = state
            .hub
            .read()
            .state
            .rooms
            .keys()
            .filter(|id| p.can(Need::Room((*id).clone())))
            .cloned()
            .collect();
        serde_json::json!({
            "reception": p.can(Need::Reception),
            "admin": p.can(Need::Admin),
            "reports": p.can(Need::Reports),
            "rooms": rooms,
            // A doctor's day shows their own bookings.
            "name": match &p.kind {
                crate::auth::PrincipalKind::User { name } => Some(name.as_str()),
                crate::auth::PrincipalKind::Token { .. } => None,
            },
        })
    });
    render(
        &state,
        &query,
        "staff",
        catalog,
        "staff.title",
        serde_json::json!({ "room": room, "may": may }),
    )
}

/// The clinic's time zone as an IANA name (`Asia/Kolkata`) for the browser; `None` when it has
/// none (the pages then show the browser's own local time).
fn time_zone_name(state: &AppState) -> Option<String> {
    state
        .config
        .calendar()
        .ok()
        .and_then(|c| c.time_zone().iana_name().map(str::to_owned))
}

/// `/admin`: the clinic's set-up — clinic and kiosk settings, display message, services, rooms,
/// staff users and API tokens — edited live through the admin API.
pub async fn admin_page(
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, WebError> {
    let catalog = language(&state, &query);
    render(
        &state,
        &query,
        "admin",
        catalog,
        "admin.title",
        serde_json::json!({
            "roles": crate::auth::Role::ALL,
            "time_zone": time_zone_name(&state),
        }),
    )
}

/// `/admin/audit`: the audit trail, filtered, with a CSV export.
pub async fn audit_page(
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, WebError> {
    let catalog = language(&state, &query);
    render(
        &state,
        &query,
        "audit",
        catalog,
        "audit.title",
        serde_json::json!({ "time_zone": time_zone_name(&state) }),
    )
}

/// `/admin/notifications`: the transports and their health, a test message, the message texts
/// with their lengths, and the outbox with a resend per row.
pub async fn notifications_page(
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, WebError> {
    let catalog = language(&state, &query);
    render(
        &state,
        &query,
        "notifications",
        catalog,
        "notifications.title",
        serde_json::json!({
            "time_zone": time_zone_name(&state),
            "language": state.config.notify.language,
        }),
    )
}

/// `/t/{token}`: a patient's status page (the QR code on the ticket).
pub async fn status_page(
    state: web::Data<AppState>,
    token: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, WebError> {
    let catalog = language(&state, &query);
    let known = state.links.verify(&token).is_some();
    let mut response = render(
        &state,
        &query,
        "status",
        catalog,
        "status.title",
        serde_json::json!({ "token": token.as_str(), "known": known }),
    )?;
    if !known {
        *response.status_mut() = actix_web::http::StatusCode::NOT_FOUND;
    }
    Ok(response)
}

/// `/book`: patients book an appointment themselves (404 unless
/// `appointments.public_booking`).
pub async fn book_page(
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, WebError> {
    if !state.config.appointments.public_booking {
        return Err(WebError::NotFound("/book".to_owned()));
    }
    let catalog = language(&state, &query);
    let services: Vec<serde_json::Value> = {
        let published = state.hub.read();
        let booked: std::collections::BTreeSet<&ServiceId> = published
            .appointments
            .plans
            .all()
            .map(|p| &p.service)
            .collect();
        let mut services: Vec<&crate::domain::Service> = booked
            .into_iter()
            .filter_map(|id| published.state.services.get(id))
            .collect();
        services.sort_by_key(|s| (s.order, s.id.clone()));
        services
            .into_iter()
            .map(|s| serde_json::json!({ "id": s.id, "name": s.name, "names": s.names }))
            .collect()
    };
    render(
        &state,
        &query,
        "book",
        catalog,
        "book.title",
        serde_json::json!({
            "services": services,
            "verify_phone": super::phone_code::required(&state),
            "messages": !state.config.notify.sms.is_empty(),
        }),
    )
}

/// `/b/{token}`: a booking's page for its patient (where it stands, cancel, add to calendar).
pub async fn booking_page(
    state: web::Data<AppState>,
    token: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, WebError> {
    let catalog = language(&state, &query);
    let known = state
        .links
        .verify_booking(&token)
        .is_some_and(|id| state.hub.read().appointments.ledger.get(id).is_some());
    let mut response = render(
        &state,
        &query,
        "booking",
        catalog,
        "book.booking_title",
        serde_json::json!({ "token": token.as_str(), "known": known }),
    )?;
    if !known {
        *response.status_mut() = actix_web::http::StatusCode::NOT_FOUND;
    }
    Ok(response)
}

/// `/t/{token}/qr.svg`: the QR code of a status link.
pub async fn status_qr(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let id = state
        .links
        .verify(&token)
        .ok_or_else(|| WebError::NotFound(format!("/t/{token}")))?;
    let url = public_url(&state, &req, &state.links.path(id));
    let code =
        qrcode::QrCode::new(url.as_bytes()).map_err(|e| WebError::Internal(e.to_string()))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(svg))
}

/// `/b/{token}/qr.svg`: the booking code as a QR code, for the kiosk's USB scanner (which types
/// what it reads, as a keyboard does: the code screen takes it).
pub async fn booking_qr(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let not_found = || WebError::NotFound(format!("/b/{token}"));
    let id = state.links.verify_booking(&token).ok_or_else(not_found)?;
    let booking_code = {
        let published = state.hub.read();
        published
            .appointments
            .ledger
            .get(id)
            .map(|b| b.code.clone())
            .ok_or_else(not_found)?
    };
    let code = qrcode::QrCode::new(booking_code.as_bytes())
        .map_err(|e| WebError::Internal(e.to_string()))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(180, 180)
        .quiet_zone(true)
        .build();
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(("Cache-Control", "no-store"))
        .body(svg))
}

/// `/printer`: what the demo (fake) printer printed, as paper tickets on screen.
pub async fn printer_page(
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, WebError> {
    let catalog = language(&state, &query);
    let printer = &state.config.printer;
    render(
        &state,
        &query,
        "printer",
        catalog,
        "devices.printer_page",
        serde_json::json!({
            "fake": printer.uri == crate::devices::printer::PrinterUri::Fake,
            "uri": printer.uri,
            "paper_mm": printer.paper_mm,
        }),
    )
}

/// `/login[?next=/staff]`: the staff login page.
pub async fn login_page(
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, WebError> {
    let catalog = language(&state, &query);
    // Only a path of this server: never send someone elsewhere after logging in.
    let next = query
        .next
        .as_deref()
        .filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or("/staff");
    render(
        &state,
        &query,
        "login",
        catalog,
        "login.title",
        serde_json::json!({ "next": next, "setup_open": state.setup.code().is_some() }),
    )
}

/// `/setup`: creates the first admin with the one-time code from the log.
pub async fn setup_page(
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, WebError> {
    let catalog = language(&state, &query);
    render(
        &state,
        &query,
        "setup",
        catalog,
        "setup.title",
        serde_json::json!({ "open": state.setup.code().is_some() }),
    )
}
