//! Printing tickets from the web side: what a ticket says (in the patient's language), the
//! staff's reprint, the device list, and the page that shows what the fake printer printed.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::{NoBody, OptionalJson};
use super::error::WebError;
use super::state::AppState;
use super::view::{print_language, ticket_print};
use crate::devices::DeviceStatus;
use crate::devices::printer::PrintOutcome;
use crate::devices::printer::decode::{PreviewBlock, preview};
use crate::domain::{TicketId, TicketState};

/// `POST /api/v1/tickets/{id}/print` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrintRequest {
    /// Language of the ticket (`en`, `hi`); the first kiosk language when absent.
    #[serde(default)]
    pub lang: Option<String>,
}

/// `POST /api/v1/tickets/{id}/print` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrintResponse {
    /// What became of the job.
    #[schema(value_type = String)]
    pub print: PrintOutcome,
    /// The printer's status (absent without a printer).
    pub printer: Option<DeviceStatus>,
}

/// Prints a ticket again (a patient lost theirs, the printer jammed). Only waiting or called
/// tickets of today can be reprinted.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/print", tag = "devices",
    params(("id" = u64, Path, description = "ticket id")),
    request_body(content = Option<PrintRequest>, description = "optional; JSON"),
    responses((status = 202, body = PrintResponse),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody, description = "ticket finished or no printer")))]
pub async fn ticket_print_again(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<u64>,
    body: OptionalJson<PrintRequest>,
) -> Result<HttpResponse, WebError> {
    let request = body.0;
    let id = TicketId(id.into_inner());
    let view = super::view::view_of(&state, id)?;
    if !matches!(
        view.ticket.state,
        TicketState::Waiting | TicketState::Called
    ) {
        return Err(WebError::NotPrintable(format!(
            "ticket {} is finished: only waiting or called tickets are printed",
            view.ticket.number
        )));
    }
    let lang = print_language(&state, request.lang.as_deref())?;
    let ticket = ticket_print(&state, &req, &view, &lang);
    let print = state.printer.print_ticket(&ticket);
    if print == PrintOutcome::NoPrinter {
        return Err(WebError::NoPrinter);
    }
    tracing::info!(ticket = %view.ticket.number, "reprint requested");
    Ok(HttpResponse::Accepted().json(PrintResponse {
        print,
        printer: state.printer.status(),
    }))
}

/// Every device and how it is doing; then each notifications transport (kind
/// `notifications`, id `notify-sms` / `notify-email`).
#[utoipa::path(get, path = "/api/v1/devices", tag = "devices",
    responses((status = 200, body = [DeviceStatus])))]
pub async fn devices_get(state: web::Data<AppState>) -> HttpResponse {
    let mut devices = state.devices.all();
    devices.extend(super::notifications::transport_devices(&state.senders));
    HttpResponse::Ok().json(devices)
}

/// Prints the test page on the configured printer.
#[utoipa::path(post, path = "/api/v1/devices/printer/test", tag = "devices",
    responses((status = 202, body = PrintResponse),
        (status = 409, body = super::error::ErrorBody, description = "no printer")))]
pub async fn printer_test(
    state: web::Data<AppState>,
    _body: NoBody,
) -> Result<HttpResponse, WebError> {
    let print = state.printer.print_test_page();
    if print == PrintOutcome::NoPrinter {
        return Err(WebError::NoPrinter);
    }
    Ok(HttpResponse::Accepted().json(PrintResponse {
        print,
        printer: state.printer.status(),
    }))
}

/// One ticket the demo printer printed, for the `/printer` page.
#[derive(Debug, Serialize, ToSchema)]
pub struct FakeJobView {
    /// The job's number.
    pub id: u64,
    /// What it is (the ticket's number, `test page`).
    pub label: String,
    /// When it was printed.
    #[schema(value_type = String, format = DateTime)]
    pub at: crate::domain::Timestamp,
    /// What the paper shows, from top to bottom (see docs/api.md).
    #[schema(value_type = Vec<Object>)]
    pub blocks: Vec<serde_json::Value>,
}

/// A preview block as the page draws it: QR codes and images as `src` data URLs.
fn block_view(block: PreviewBlock) -> serde_json::Value {
    use base64::Engine as _;
    let base64 = base64::engine::general_purpose::STANDARD;
    match block {
        PreviewBlock::Text {
            text,
            width,
            height,
            bold,
            align,
        } => serde_json::json!({
            "kind": "text", "text": text, "width": width, "height": height, "bold": bold,
            "align": align,
        }),
        PreviewBlock::Qr { data } => {
            let src = qrcode::QrCode::new(data.as_bytes()).ok().map(|code| {
                let svg = code
                    .render::<qrcode::render::svg::Color<'_>>()
                    .min_dimensions(160, 160)
                    .quiet_zone(false)
                    .build();
                format!("data:image/svg+xml;base64,{}", base64.encode(svg))
            });
            serde_json::json!({"kind": "qr", "data": data, "src": src})
        }
        PreviewBlock::Image {
            width,
            height,
            png_base64,
        } => serde_json::json!({
            "kind": "image", "width": width, "height": height,
            "src": format!("data:image/png;base64,{png_base64}"),
        }),
        PreviewBlock::Cut => serde_json::json!({"kind": "cut"}),
    }
}

/// What the demo (`fake`) printer printed: its last 20 jobs, decoded from their ESC/POS bytes.
#[utoipa::path(get, path = "/api/v1/devices/printer/jobs", tag = "devices",
    responses((status = 200, body = [FakeJobView]),
        (status = 409, body = super::error::ErrorBody, description = "the printer is not the fake one")))]
pub async fn printer_jobs(state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let jobs = state.printer.fake_jobs().ok_or(WebError::NoPrinter)?;
    let views: Vec<FakeJobView> = jobs
        .into_iter()
        .map(|job| FakeJobView {
            id: job.id,
            label: job.label,
            at: job.at,
            blocks: preview(&job.bytes).into_iter().map(block_view).collect(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(views))
}
