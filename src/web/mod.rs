//! The web adapter: actix-web routes for the JSON API, the WebSocket event stream and the pages.
//!
//! [`ROUTES`] is the one list of every route with the access it needs; [`configure`] registers
//! exactly that list. Handlers only translate: HTTP → [`crate::domain::Command`] → engine, and
//! committed state → views. Errors go through [`error::WebError`], the one error → HTTP map.

pub mod appointments;
pub mod asset;
pub mod audit;
pub mod auth;
pub mod body;
pub mod checkin;
pub mod clinic;
pub mod error;
pub mod feedback;
pub mod frame;
pub mod limit;
pub mod link;
pub mod notifications;
pub mod openapi;
pub mod page;
pub mod phone_code;
pub mod print;
pub mod reports;
pub mod rooms;
pub mod screens;
pub mod security;
pub mod self_booking;
pub mod services;
pub mod session;
pub mod setup;
pub mod staff;
pub mod state;
pub mod status;
pub mod template;
pub mod tickets;
pub mod view;
pub mod ws;

pub use state::AppState;

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};

pub use auth::Access;
use error::WebError;

/// One route.
#[derive(Clone, Copy, Debug)]
pub struct RouteSpec {
    /// HTTP method.
    pub method: &'static str,
    /// Path pattern, as actix-web matches it.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
}

macro_rules! route_table {
    ($($method:ident $path:literal => $handler:path, $access:ident;)*) => {
        /// Every route, with the access it needs.
        pub const ROUTES: &[RouteSpec] = &[
            $(RouteSpec { method: stringify!($method), path: $path, access: Access::$access },)*
        ];

        /// Every route of [`ROUTES`] with its handler, in the same order.
        fn handlers() -> Vec<(RouteSpec, actix_web::Route)> {
            vec![$((
                RouteSpec { method: stringify!($method), path: $path, access: Access::$access },
                web::$method().to($handler),
            ),)*]
        }
    };
}

/// Registers every route of [`ROUTES`]: one resource per path with its methods, each guarded by
/// the access its row declares. Another method on a known path answers 405.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let mut paths: Vec<(&'static str, Vec<(RouteSpec, actix_web::Route)>)> = Vec::new();
    for (spec, route) in handlers() {
        match paths.iter_mut().find(|(path, _)| *path == spec.path) {
            Some((_, routes)) => routes.push((spec, route)),
            None => paths.push((spec.path, vec![(spec, route)])),
        }
    }
    for (path, routes) in paths {
        let access: Arc<[(actix_web::http::Method, Access)]> = routes
            .iter()
            .filter_map(|(spec, _)| {
                let method = spec.method.to_ascii_uppercase().parse().ok()?;
                Some((method, spec.access))
            })
            .collect();
        let mut resource = web::resource(path).wrap(actix_web::middleware::from_fn(
            move |req: actix_web::dev::ServiceRequest,
                  next: actix_web::middleware::Next<actix_web::body::BoxBody>| {
                // A method the path does not have reaches only the 405 answer.
                let needed = access
                    .iter()
                    .find(|(method, _)| method == req.method())
                    .map_or(Access::Public, |(_, needed)| *needed);
                auth::guard(needed, req, next)
            },
        ));
        for (_, route) in routes {
            resource = resource.route(route);
        }
        cfg.service(resource.default_service(web::to(method_not_allowed)));
    }
}

route_table! {
    get "/healthz" => status::healthz, Public;
    get "/metrics" => status::metrics_get, Public;
    get "/api/v1/openapi.json" => openapi::openapi_json, Public;
    get "/api/v1/services" => services::services_list, Public;
    get "/api/v1/rooms" => rooms::rooms_list, Public;
    get "/api/v1/queue" => status::queue_get, Public;
    get "/api/v1/queue/waiting" => status::queue_waiting, Public;
    get "/api/v1/events" => ws::events_ws, Public;
    post "/api/v1/tickets" => tickets::ticket_create, Public;
    get "/api/v1/tickets/{id}" => tickets::ticket_get, Public;
    get "/api/v1/tickets/{id}/announcement" => tickets::ticket_announcement, Public;
    get "/api/v1/tickets/{id}/patient" => tickets::ticket_patient, Staff;
    get "/api/v1/status/{token}" => tickets::status_get, Public;
    post "/api/v1/status/{token}/feedback" => feedback::feedback_give, Public;
    get "/api/v1/feedback" => reports::feedback_list, Reports;
    post "/api/v1/tickets/{id}/cancel" => tickets::ticket_cancel, Reception;
    post "/api/v1/tickets/{id}/requeue" => tickets::ticket_requeue, Reception;
    post "/api/v1/tickets/{id}/transfer" => tickets::ticket_transfer, Reception;
    post "/api/v1/rooms/{id}/next" => rooms::room_next, Room;
    post "/api/v1/rooms/{id}/recall" => rooms::room_recall, Room;
    post "/api/v1/rooms/{id}/done" => rooms::room_done, Room;
    post "/api/v1/rooms/{id}/no-show" => rooms::room_no_show, Room;
    post "/api/v1/rooms/{id}/undo" => rooms::room_undo, Room;
    post "/api/v1/rooms/{id}/no-show-next" => rooms::room_no_show_next, Room;
    post "/api/v1/rooms/{id}/call" => rooms::room_call, Room;
    post "/api/v1/rooms/{id}/pause" => rooms::room_pause, Room;
    post "/api/v1/rooms/{id}/resume" => rooms::room_resume, Room;
    post "/api/v1/services/{id}/open" => services::service_open, Reception;
    post "/api/v1/services/{id}/close" => services::service_close, Reception;
    put "/api/v1/clinic/message" => clinic::clinic_message_put, Admin;
    post "/api/v1/rooms/{id}/open" => rooms::room_open, Reception;
    post "/api/v1/rooms/{id}/close" => rooms::room_close, Reception;
    post "/api/v1/tickets/{id}/print" => print::ticket_print_again, Reception;
    get "/api/v1/devices" => print::devices_get, Public;
    post "/api/v1/devices/printer/test" => print::printer_test, Admin;
    get "/api/v1/devices/printer/jobs" => print::printer_jobs, Reception;
    get "/printer" => page::printer_page, Staff;
    get "/" => page::index_page, Public;
    get "/kiosk" => page::kiosk_page, Public;
    get "/display" => page::display_page, Public;
    get "/staff" => page::staff_page, Staff;
    get "/admin" => page::admin_page, Admin;
    get "/admin/audit" => page::audit_page, Admin;
    get "/admin/reports" => reports::reports_page, Reports;
    get "/admin/notifications" => page::notifications_page, Admin;
    get "/api/v1/reports" => reports::reports_get, Reports;
    get "/api/v1/reports/visits.csv" => reports::visits_csv, Reports;
    get "/login" => page::login_page, Public;
    get "/setup" => page::setup_page, Public;
    post "/api/v1/setup" => session::setup_post, Public;
    post "/api/v1/login" => session::login, Public;
    post "/api/v1/logout" => session::logout, Public;
    get "/api/v1/me" => session::me, Public;
    get "/api/v1/audit" => audit::audit_get, Admin;
    get "/api/v1/notifications" => notifications::notifications_list, Admin;
    post "/api/v1/notifications/{key}/resend" => notifications::notification_resend, Admin;
    post "/api/v1/notifications/test" => notifications::notification_test, Admin;
    get "/api/v1/admin/clinic" => clinic::admin_clinic, Admin;
    patch "/api/v1/admin/clinic" => clinic::admin_clinic_patch, Admin;
    post "/api/v1/admin/services" => services::service_add, Admin;
    patch "/api/v1/admin/services/{id}" => services::service_patch, Admin;
    post "/api/v1/admin/rooms" => rooms::room_add, Admin;
    patch "/api/v1/admin/rooms/{id}" => rooms::room_patch, Admin;
    get "/api/v1/admin/users" => staff::users_list, Admin;
    post "/api/v1/admin/users" => staff::user_add, Admin;
    patch "/api/v1/admin/users/{name}" => staff::user_patch, Admin;
    get "/api/v1/admin/tokens" => staff::tokens_list, Admin;
    post "/api/v1/admin/tokens" => staff::token_create, Admin;
    delete "/api/v1/admin/tokens/{id}" => staff::token_revoke, Admin;
    post "/api/v1/me/password" => staff::my_password, Account;
    post "/api/v1/pair" => screens::pair_request, Public;
    get "/api/v1/pair" => screens::pair_poll, Public;
    get "/api/v1/admin/screens" => screens::screens_list, Admin;
    post "/api/v1/admin/screens" => screens::screen_approve, Admin;
    delete "/api/v1/admin/screens/{id}" => screens::screen_revoke, Admin;
    get "/api/v1/plans" => appointments::plans_list, Staff;
    put "/api/v1/admin/plans" => appointments::plan_put, Admin;
    delete "/api/v1/admin/plans/{doctor}/{service}" => appointments::plan_delete, Admin;
    get "/api/v1/slots" => appointments::slots_get, Staff;
    get "/api/v1/bookings" => appointments::bookings_list, Staff;
    post "/api/v1/bookings" => appointments::booking_create, Reception;
    get "/api/v1/bookings/{id}" => appointments::booking_get, Staff;
    post "/api/v1/bookings/{id}/cancel" => appointments::booking_cancel, Reception;
    post "/api/v1/bookings/{id}/reschedule" => appointments::booking_reschedule, Reception;
    post "/api/v1/bookings/{id}/check-in" => checkin::booking_check_in, Reception;
    post "/api/v1/check-in" => checkin::check_in, Public;
    get "/api/v1/public/slots" => self_booking::public_slots, Public;
    post "/api/v1/public/bookings" => self_booking::public_book, Public;
    post "/api/v1/public/phone-code" => phone_code::phone_code_send, Public;
    get "/api/v1/public/bookings/{token}" => self_booking::public_booking_get, Public;
    post "/api/v1/public/bookings/{token}/cancel" => self_booking::public_booking_cancel, Public;
    get "/api/v1/public/bookings/{token}/slots" => self_booking::public_booking_slots, Public;
    post "/api/v1/public/bookings/{token}/reschedule" => self_booking::public_booking_reschedule, Public;
    get "/t/{token}" => page::status_page, Public;
    get "/book" => page::book_page, Public;
    get "/b/{token}" => page::booking_page, Public;
    get "/b/{token}/booking.ics" => self_booking::booking_ics, Public;
    get "/b/{token}/qr.svg" => page::booking_qr, Public;
    get "/t/{token}/qr.svg" => page::status_qr, Public;
    get "/assets/{path:.*}" => asset::asset_get, Public;
}

/// Registers the extractor settings, the routes and the JSON answers for unknown routes.
pub fn app(cfg: &mut web::ServiceConfig, max_body_bytes: usize) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(max_body_bytes)
            // JSON only: a cross-site HTML form cannot send it without a CORS preflight.
            .content_type_required(true)
            .error_handler(error::json_error),
    )
    .app_data(web::PayloadConfig::default().limit(max_body_bytes))
    .app_data(web::PathConfig::default().error_handler(error::path_error))
    .app_data(web::QueryConfig::default().error_handler(error::query_error))
    .configure(configure)
    .default_service(web::to(not_found));
}

/// Answers for paths with no route.
async fn not_found(req: HttpRequest) -> Result<HttpResponse, WebError> {
    Err(WebError::NotFound(req.path().chars().take(200).collect()))
}

/// Answers for a known path with another method.
async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, WebError> {
    Err(WebError::MethodNotAllowed(req.method().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn each_method_and_path_has_one_route() {
        let mut seen = HashSet::new();
        for r in ROUTES {
            assert!(
                seen.insert((r.method, r.path)),
                "{} {} is registered twice",
                r.method,
                r.path
            );
            assert!(
                r.method
                    .to_ascii_uppercase()
                    .parse::<actix_web::http::Method>()
                    .is_ok(),
                "{}",
                r.method
            );
        }
    }

    #[test]
    fn every_api_route_is_in_the_openapi_document() {
        use utoipa::OpenApi;
        let doc = serde_json::to_value(openapi::ApiDoc::openapi()).unwrap();
        for r in ROUTES
            .iter()
            .filter(|r| r.path.starts_with("/api/") || r.path == "/healthz")
        {
            let op = &doc["paths"][r.path][r.method];
            assert!(
                op.is_object(),
                "{} {} is not in the OpenAPI document",
                r.method,
                r.path
            );
        }
    }
}
