//! The OpenAPI document, generated from the handlers' `#[utoipa::path]` attributes and the
//! types' `ToSchema` derives. A test checks that every API route in [`super::ROUTES`] is in it.

use utoipa::OpenApi;

use super::{admin, api, audit, auth, pair, print, ws};

/// The API's OpenAPI description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "waitless API",
        description = "The queue of a clinic: tickets, rooms, live events. See docs/api.md.",
    ),
    paths(
        api::healthz,
        api::services_list,
        api::rooms_list,
        api::queue_get,
        api::ticket_create,
        api::ticket_get,
        api::ticket_announcement,
        api::ticket_patient,
        api::status_get,
        api::ticket_cancel,
        api::ticket_requeue,
        api::ticket_transfer,
        api::room_next,
        api::room_recall,
        api::room_done,
        api::room_no_show,
        api::room_undo,
        api::service_open,
        api::service_close,
        api::clinic_message_put,
        api::room_open,
        api::room_close,
        api::openapi_json,
        ws::events_ws,
        print::ticket_print_again,
        print::devices_get,
        print::printer_test,
        print::printer_jobs,
        auth::login,
        auth::logout,
        auth::me,
        audit::audit_get,
        admin::admin_clinic,
        admin::admin_clinic_patch,
        admin::service_add,
        admin::service_patch,
        admin::room_add,
        admin::room_patch,
        admin::users_list,
        admin::user_add,
        admin::user_patch,
        admin::tokens_list,
        admin::token_create,
        admin::token_revoke,
        admin::my_password,
        pair::pair_request,
        pair::pair_poll,
        pair::screens_list,
        pair::screen_approve,
        pair::screen_revoke,
        super::setup::setup_post,
    ),
    components(schemas(crate::domain::Event, crate::domain::EventKind)),
    tags(
        (name = "tickets", description = "Issue and manage tickets"),
        (name = "rooms", description = "What a room does: next, recall, done, no-show, undo"),
        (name = "queue", description = "The whole queue and its live events"),
        (name = "clinic", description = "Services and rooms"),
        (name = "auth", description = "Logging in and out"),
        (name = "admin", description = "Setting the clinic up: services, rooms, staff, tokens, kiosk"),
        (name = "screens", description = "Pairing kiosks and displays"),
        (name = "audit", description = "The event log: who did what, when, from which input"),
        (name = "devices", description = "Printer, buttons, pagers and keypads: status, printing"),
    )
)]
pub struct ApiDoc;
