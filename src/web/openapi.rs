//! The OpenAPI document, generated from the handlers' `#[utoipa::path]` attributes and the
//! types' `ToSchema` derives, and the route that serves it. A test checks that every API route
//! in [`super::ROUTES`] is in it.

use utoipa::OpenApi;

use actix_web::HttpResponse;

use super::{
    appointments, audit, checkin, clinic, feedback, notifications, phone_code, print, reports,
    rooms, screens, self_booking, services, session, staff, status, tickets, ws,
};

/// The API's OpenAPI description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "waitless API",
        description = "The queue of a clinic: tickets, rooms, live events. See docs/api.md.",
    ),
    paths(
        status::healthz,
        services::services_list,
        rooms::rooms_list,
        status::queue_get,
        status::queue_waiting,
        tickets::ticket_create,
        tickets::ticket_get,
        tickets::ticket_announcement,
        tickets::ticket_patient,
        tickets::status_get,
        feedback::feedback_give,
        reports::feedback_list,
        tickets::ticket_cancel,
        tickets::ticket_requeue,
        tickets::ticket_transfer,
        rooms::room_next,
        rooms::room_recall,
        rooms::room_done,
        rooms::room_no_show,
        rooms::room_undo,
        rooms::room_no_show_next,
        rooms::room_call,
        rooms::room_pause,
        rooms::room_resume,
        services::service_open,
        services::service_close,
        clinic::clinic_message_put,
        rooms::room_open,
        rooms::room_close,
        openapi_json,
        ws::events_ws,
        print::ticket_print_again,
        print::devices_get,
        print::printer_test,
        print::printer_jobs,
        session::login,
        session::logout,
        session::me,
        audit::audit_get,
        reports::reports_get,
        reports::visits_csv,
        notifications::notifications_list,
        notifications::notification_resend,
        notifications::notification_test,
        clinic::admin_clinic,
        clinic::admin_clinic_patch,
        services::service_add,
        services::service_patch,
        rooms::room_add,
        rooms::room_patch,
        staff::users_list,
        staff::user_add,
        staff::user_patch,
        staff::tokens_list,
        staff::token_create,
        staff::token_revoke,
        staff::my_password,
        screens::pair_request,
        screens::pair_poll,
        screens::screens_list,
        screens::screen_approve,
        screens::screen_revoke,
        session::setup_post,
        appointments::plans_list,
        appointments::plan_put,
        appointments::plan_delete,
        appointments::slots_get,
        appointments::bookings_list,
        appointments::booking_create,
        appointments::booking_get,
        appointments::booking_cancel,
        appointments::booking_reschedule,
        checkin::booking_check_in,
        checkin::check_in,
        self_booking::public_slots,
        self_booking::public_book,
        phone_code::phone_code_send,
        self_booking::public_booking_get,
        self_booking::public_booking_cancel,
        self_booking::public_booking_slots,
        self_booking::public_booking_reschedule,
    ),
    components(schemas(crate::domain::Event, crate::domain::EventKind)),
    tags(
        (name = "tickets", description = "Issue and manage tickets"),
        (name = "rooms", description = "What a room does: next, recall, done, no-show, no-show and next, a call out of order, undo, a break"),
        (name = "queue", description = "The whole queue and its live events"),
        (name = "clinic", description = "Services and rooms"),
        (name = "auth", description = "Logging in and out"),
        (name = "admin", description = "Setting the clinic up: services, rooms, staff, tokens, kiosk"),
        (name = "screens", description = "Pairing kiosks and displays"),
        (name = "audit", description = "The event log: who did what, when, from which input"),
        (name = "reports", description = "Statistics of the queue: waits, service times, no-shows"),
        (name = "notifications", description = "Text messages and emails to patients: the outbox"),
        (name = "devices", description = "Printer, buttons, pagers and keypads: status, printing"),
        (name = "appointments", description = "Doctors' plans, free slots and bookings"),
    )
)]
pub struct ApiDoc;

/// The OpenAPI document of this API.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "OpenAPI 3.1 JSON")))]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
