//! Reports over HTTP: `GET /api/v1/reports` (JSON), `GET /api/v1/reports/visits.csv` (one row
//! per visit) and the printable `/admin/reports` page (server-rendered tables, an SVG bar chart
//! and a weekday × hour heat map, patients' feedback and their latest comments; it needs no
//! script, one only adds the user menu), and the comments' list `GET /api/v1/feedback`. For
//! admins and managers (the read-only role); the page links only to what its viewer may open.
//!
//! The numbers come from [`crate::domain::report`]: the event log is read from the store (off
//! the async workers) and folded into visits, then aggregated over the range in the clinic's
//! time zone; who counts as a doctor ([`report::Doctors`]) comes from the staff directory as it
//! is now. Ranges are clinic-local: a date `from` starts at its local midnight, a date `to`
//! includes its whole day; RFC 3339 instants are taken as they are (`to` excluded).

use std::collections::{BTreeMap, HashMap};

use actix_web::{HttpResponse, web};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Actor;
use super::error::WebError;
use super::page::{PageQuery, language, render_view};
use super::state::{AppState, blocking};
use crate::auth::{Need, Role, UserView};
use crate::domain::report::{self, Bucket, Doctors, Measures, Report, Visit, WEEKDAYS};
use crate::domain::{FeedbackComment, RoomId};

/// Closed days' visits from which a report is read on several threads.
const SPLIT_FROM: u64 = 50_000;
/// The longest range a report may cover, days.
const MAX_DAYS: i64 = 400;
/// The service-level target when none is asked for, minutes.
pub const DEFAULT_TARGET_MINS: u32 = 15;

/// Parameters of `GET /api/v1/reports` and `GET /api/v1/reports/visits.csv`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// Start: a clinic-local date (`2026-03-02`, from its midnight) or an RFC 3339 instant.
    /// Default: today.
    pub from: Option<String>,
    /// End: a clinic-local date (included) or an RFC 3339 instant (excluded). Default: the end
    /// of the `from` day.
    pub to: Option<String>,
    /// Service-level target in minutes, 1–1440 (default 15).
    pub target_mins: Option<u32>,
    /// `true`: also report the period of the same length just before.
    pub compare: Option<bool>,
}

/// `GET /api/v1/reports` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportAnswer {
    /// The range asked for.
    pub report: Report,
    /// The period of the same length just before, with `compare=true`.
    pub previous: Option<Report>,
}

/// The clinic's time zone.
pub(crate) fn zone(state: &AppState) -> Result<TimeZone, WebError> {
    state
        .config
        .calendar()
        .map(|c| c.time_zone().clone())
        .map_err(|e| WebError::Internal(e.to_string()))
}

fn local_midnight(date: Date, tz: &TimeZone) -> Result<Timestamp, WebError> {
    date.to_zoned(tz.clone())
        .map(|z| z.timestamp())
        .map_err(|e| WebError::InvalidQuery(format!("{date}: {e}")))
}

/// A bound: a date (its local midnight; with `end`, the next day's) or an instant.
fn bound(raw: &str, name: &str, end: bool, tz: &TimeZone) -> Result<Timestamp, WebError> {
    if let Ok(at) = raw.parse::<Timestamp>() {
        return Ok(at);
    }
    let date: Date = raw.parse().map_err(|_| {
        WebError::InvalidQuery(format!(
            "{name}={raw:?} is not a date like 2026-03-02 or a time like 2026-03-02T10:00:00Z"
        ))
    })?;
    let date = if end {
        date.tomorrow()
            .map_err(|e| WebError::InvalidQuery(format!("{name}={raw:?}: {e}")))?
    } else {
        date
    };
    local_midnight(date, tz)
}

/// The range and target a query asks for, checked.
pub(crate) fn range(
    q: &ReportQuery,
    tz: &TimeZone,
    now: Timestamp,
) -> Result<(Timestamp, Timestamp, SignedDuration), WebError> {
    let today = now.to_zoned(tz.clone()).date();
    let from = match &q.from {
        Some(raw) => bound(raw, "from", false, tz)?,
        None => local_midnight(today, tz)?,
    };
    let to = match (&q.to, &q.from) {
        (Some(raw), _) => bound(raw, "to", true, tz)?,
        (None, Some(raw)) if raw.parse::<Timestamp>().is_err() => bound(raw, "to", true, tz)?,
        (None, _) => local_midnight(today.tomorrow().unwrap_or(today), tz)?,
    };
    if to <= from {
        return Err(WebError::InvalidQuery(format!(
            "to ({to}) must be after from ({from})"
        )));
    }
    if to.duration_since(from) > SignedDuration::from_hours(24 * MAX_DAYS) {
        return Err(WebError::InvalidQuery(format!(
            "a report covers at most {MAX_DAYS} days"
        )));
    }
    let target = q.target_mins.unwrap_or(DEFAULT_TARGET_MINS);
    if !(1..=1440).contains(&target) {
        return Err(WebError::InvalidQuery(format!(
            "target_mins={target}: use 1–1440"
        )));
    }
    Ok((from, to, SignedDuration::from_mins(i64::from(target))))
}

/// The start of the period `compare` reports (of the same length, just before `from`).
fn previous_start(from: Timestamp, to: Timestamp) -> Timestamp {
    from.checked_sub(to.duration_since(from)).unwrap_or(from)
}

/// Who counts as a doctor (the rule is [`Doctors`]): every user with the doctor role by their
/// actor, and each room exactly one enabled doctor is assigned to.
fn doctors_of(users: &[UserView]) -> Doctors {
    let mut by_actor = HashMap::new();
    let mut rooms: HashMap<RoomId, Option<String>> = HashMap::new();
    for user in users.iter().filter(|u| u.roles.contains(&Role::Doctor)) {
        by_actor.insert(format!("user:{}", user.name), user.name.clone());
        if user.disabled {
            continue;
        }
        for room in &user.rooms {
            rooms
                .entry(room.clone())
                .and_modify(|doctor| {
                    if doctor.as_deref() != Some(user.name.as_str()) {
                        // A second doctor: the room's devices count for no one.
                        *doctor = None;
                    }
                })
                .or_insert_with(|| Some(user.name.clone()));
        }
    }
    Doctors {
        by_actor,
        by_room: rooms
            .into_iter()
            .filter_map(|(room, doctor)| Some((room, doctor?)))
            .collect(),
    }
}

/// The doctors of the staff directory as it is now (read off the async workers).
async fn doctors(state: &AppState) -> Result<Doctors, WebError> {
    let auth = state.auth.clone();
    let users = blocking(move || auth.users()).await?;
    Ok(doctors_of(&users))
}

/// The report of a range and, if asked, of the period before it: the visits stream from the
/// store into the aggregation (off the async workers), a range at a time.
async fn reports(
    state: &AppState,
    from: Timestamp,
    to: Timestamp,
    target: SignedDuration,
    compare: bool,
) -> Result<ReportAnswer, WebError> {
    let tz = zone(state)?;
    let doctors = doctors(state).await?;
    let store = state.store.clone();
    web::block(move || -> Result<ReportAnswer, WebError> {
        // A year is a million visits: read and counted on every core, a share of days each.
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let report_of = |from, to| -> Result<report::Report, WebError> {
            let parts = store.fold_visits(
                (from, to),
                cores,
                SPLIT_FROM,
                || report::Aggregate::new(from, to, &tz, target, &doctors),
                |aggregate, visit| aggregate.add(visit),
            )?;
            let mut parts = parts.into_iter();
            let mut all = parts
                .next()
                .unwrap_or_else(|| report::Aggregate::new(from, to, &tz, target, &doctors));
            for part in parts {
                all.merge(part);
            }
            Ok(all.finish())
        };
        let previous = match compare {
            true => Some(report_of(previous_start(from, to), from)?),
            false => None,
        };
        Ok(ReportAnswer {
            report: report_of(from, to)?,
            previous,
        })
    })
    .await?
}

/// The queue's statistics over a range: totals and by service, room, member of staff, doctor,
/// day, hour and weekday.
#[utoipa::path(get, path = "/api/v1/reports", tag = "reports", params(ReportQuery),
    responses((status = 200, body = ReportAnswer),
        (status = 400, body = super::error::ErrorBody)))]
pub async fn reports_get(
    state: web::Data<AppState>,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, WebError> {
    let tz = zone(&state)?;
    let (from, to, target) = range(&query, &tz, state.clock.now())?;
    let answer = reports(&state, from, to, target, query.compare.unwrap_or(false)).await?;
    Ok(HttpResponse::Ok().json(answer))
}

fn local_time(at: Option<Timestamp>, tz: &TimeZone) -> String {
    at.map(|t| {
        t.to_zoned(tz.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    })
    .unwrap_or_default()
}

fn mins(d: Option<SignedDuration>) -> String {
    d.map(|d| format!("{:.1}", d.as_secs_f64() / 60.0))
        .unwrap_or_default()
}

/// One row per visit issued in the range, as CSV (times in the clinic's zone).
#[utoipa::path(get, path = "/api/v1/reports/visits.csv", tag = "reports", params(ReportQuery),
    responses((status = 200, content_type = "text/csv", description = "One row per visit"),
        (status = 400, body = super::error::ErrorBody)))]
pub async fn visits_csv(
    state: web::Data<AppState>,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, WebError> {
    let tz = zone(&state)?;
    let (from, to, _) = range(&query, &tz, state.clock.now())?;
    // Rows go out as they are read: a year is a million of them (about 200 MB of CSV), never
    // held in memory at once. A read that fails part way cuts the download short.
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<web::Bytes, WebError>>(8);
    let store = state.store.clone();
    actix_web::rt::task::spawn_blocking(move || {
        let mut out = chunk_writer();
        let sent = store.with_visits(from, to, |visits| -> Result<(), WebError> {
            out.write_record(CSV_HEADER).map_err(csv_error)?;
            for v in visits {
                out.write_record(csv_row(&v, &tz)).map_err(csv_error)?;
                if out.get_ref().len() >= CSV_CHUNK {
                    let full = std::mem::replace(&mut out, chunk_writer());
                    let chunk = full
                        .into_inner()
                        .map_err(|e| WebError::Internal(e.to_string()))?;
                    if sender.blocking_send(Ok(chunk.into())).is_err() {
                        return Ok(()); // The client went away.
                    }
                }
            }
            let last = std::mem::replace(&mut out, chunk_writer())
                .into_inner()
                .map_err(|e| WebError::Internal(e.to_string()))?;
            let _ = sender.blocking_send(Ok(last.into()));
            Ok(())
        });
        if let Err(e) = sent.map_err(WebError::from).and_then(|r| r) {
            tracing::warn!("visits CSV cut short: {e}");
            let _ = sender.blocking_send(Err(e));
        }
    });
    let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"waitless-visits.csv\"",
        ))
        .streaming(body))
}

/// Bytes of CSV sent at a time.
const CSV_CHUNK: usize = 64 * 1024;

fn chunk_writer() -> csv::Writer<Vec<u8>> {
    csv::Writer::from_writer(Vec::with_capacity(CSV_CHUNK + 16 * 1024))
}

fn csv_error(e: csv::Error) -> WebError {
    WebError::Internal(e.to_string())
}

/// The visits CSV's columns.
const CSV_HEADER: [&str; 17] = [
    "ticket",
    "number",
    "service",
    "room",
    "class",
    "issued_at",
    "first_called_at",
    "last_called_at",
    "finished_at",
    "outcome",
    "wait_mins",
    "service_mins",
    "recalls",
    "transfers",
    "estimate_mins",
    "feedback",
    "called_by",
];

/// One visit as a CSV row (times in the clinic's zone).
fn csv_row(v: &Visit, tz: &TimeZone) -> [String; 17] {
    [
        v.ticket.to_string(),
        v.number.clone(),
        v.service.to_string(),
        v.room.as_ref().map(ToString::to_string).unwrap_or_default(),
        v.class.as_str().to_owned(),
        local_time(Some(v.issued_at), tz),
        local_time(v.first_called_at, tz),
        local_time(v.last_called_at, tz),
        local_time(v.finished_at, tz),
        v.outcome.as_str().to_owned(),
        mins(v.wait()),
        mins(v.service_time()),
        v.recalls.to_string(),
        v.transfers.to_string(),
        v.estimate_mins.map(|e| e.to_string()).unwrap_or_default(),
        v.feedback.map(|f| f.to_string()).unwrap_or_default(),
        v.called_by.clone().unwrap_or_default(),
    ]
}

/// Most comments one `GET /api/v1/feedback` lists.
pub const FEEDBACK_LIST_MAX: usize = 500;

/// `GET /api/v1/feedback` answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FeedbackList {
    /// The comments given in the range, newest first (at most 500; scores without a comment
    /// are in the reports only).
    pub comments: Vec<crate::domain::FeedbackComment>,
}

/// Patients' feedback comments given in a range (`from`/`to` as in `GET /api/v1/reports`),
/// newest first, with their score, service and room. Comments are personal data: the
/// retention rule deletes them with the patients' details.
#[utoipa::path(get, path = "/api/v1/feedback", tag = "reports", params(ReportQuery),
    responses((status = 200, body = FeedbackList), (status = 400, body = super::error::ErrorBody)))]
pub async fn feedback_list(
    state: web::Data<AppState>,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, WebError> {
    let tz = zone(&state)?;
    let (from, to, _) = range(&query, &tz, state.clock.now())?;
    let comments = latest_comments(&state, from, to, FEEDBACK_LIST_MAX).await?;
    Ok(HttpResponse::Ok().json(FeedbackList { comments }))
}

/// The comments given in `[from, to)`, newest first, at most `limit` (read off the async
/// workers).
async fn latest_comments(
    state: &AppState,
    from: jiff::Timestamp,
    to: jiff::Timestamp,
    limit: usize,
) -> Result<Vec<FeedbackComment>, WebError> {
    let store = state.store.clone();
    Ok(web::block(move || store.feedback_comments(from, to, limit)).await??)
}

/// `/admin/reports` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportsPageQuery {
    /// Language code.
    pub lang: Option<String>,
    /// `day` (default), `week` (Monday to Sunday), `month` or `custom`.
    pub range: Option<String>,
    /// A day in the period (default today), `YYYY-MM-DD`.
    pub date: Option<String>,
    /// Custom range: first day.
    pub from: Option<String>,
    /// Custom range: last day (included).
    pub to: Option<String>,
    /// `1`: compare with the period before.
    pub compare: Option<String>,
    /// Service-level target, minutes.
    pub target_mins: Option<u32>,
}

/// One figure of the totals table.
#[derive(Debug, Serialize)]
struct Figure {
    key: &'static str,
    value: String,
    previous: String,
}

/// One row of a table (service, room, day, hour).
#[derive(Debug, Serialize)]
struct Row {
    name: String,
    arrived: u64,
    served: u64,
    no_show_pct: String,
    wait_median: String,
    wait_p90: String,
    service_median: String,
    service_p90: String,
    service_level: String,
    throughput: String,
    recalls: u64,
    transfers: u64,
    estimate_error: String,
}

/// One bar of a chart, in SVG units (the chart is 24 slots × 100 high).
#[derive(Debug, Serialize)]
struct Bar {
    label: String,
    value: String,
    x: u32,
    y: u32,
    height: u32,
}

/// One cell of the heat map.
#[derive(Debug, Serialize)]
struct Cell {
    count: u64,
    level: u8,
}

/// One row of the heat map.
#[derive(Debug, Serialize)]
struct HeatRow {
    day: String,
    cells: Vec<Cell>,
}

/// One row of the feedback table (all, a service, a room).
#[derive(Debug, Serialize)]
struct FeedbackRow {
    name: String,
    count: u64,
    mean: String,
    scores: [u64; 5],
}

/// Rows of the feedback table under one heading (all; by service; by room).
#[derive(Debug, Serialize)]
struct FeedbackGroup {
    title: String,
    rows: Vec<FeedbackRow>,
}

/// One of the latest comments.
#[derive(Debug, Serialize)]
struct CommentRow {
    when: String,
    place: String,
    score: u8,
    comment: String,
}

/// Comments the reports page shows, newest first.
const PAGE_COMMENTS: usize = 20;

/// The links of the page's navigation the viewer may open.
#[derive(Debug, Default, Serialize)]
struct Nav {
    /// The staff console (staff who work the queue).
    staff: bool,
    /// The admin pages and the audit trail.
    admin: bool,
}

/// The `/admin/reports` page's own context.
#[derive(Debug, Serialize)]
pub(crate) struct ReportsView {
    nav: Nav,
    range: String,
    date: String,
    from: String,
    to: String,
    last_day: String,
    compare: bool,
    target_mins: u32,
    time_zone: String,
    query: String,
    figures: Vec<Figure>,
    by_service: Vec<Row>,
    by_room: Vec<Row>,
    by_doctor: Vec<Row>,
    by_staff: Vec<Row>,
    by_class: Vec<Row>,
    by_day: Vec<Row>,
    by_hour: Vec<Row>,
    arrivals_bars: Vec<Bar>,
    wait_bars: Vec<Bar>,
    /// The tallest bar's value of each chart (its scale).
    arrivals_top: String,
    wait_top: String,
    heat: Vec<HeatRow>,
    hours: Vec<u32>,
    feedback: Vec<FeedbackGroup>,
    comments: Vec<CommentRow>,
}

fn num(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |v| format!("{v:.1}"))
}

fn row(name: String, m: &Measures) -> Row {
    Row {
        name,
        arrived: m.arrived,
        served: m.served,
        no_show_pct: num(m.no_show_pct),
        wait_median: num(m.wait_median_mins),
        wait_p90: num(m.wait_p90_mins),
        service_median: num(m.service_median_mins),
        service_p90: num(m.service_p90_mins),
        service_level: num(m.service_level_pct),
        throughput: num(m.throughput_per_hour),
        recalls: m.recalls,
        transfers: m.transfers,
        estimate_error: num(m.estimate_error_mins),
    }
}

/// How one figure of the totals is read from the measures.
type Reading = fn(&Measures) -> String;

/// The totals, in the order the page lists them.
const READINGS: &[(&str, Reading)] = &[
    ("reports.arrived", |m| m.arrived.to_string()),
    ("reports.served", |m| m.served.to_string()),
    ("reports.cancelled", |m| m.cancelled.to_string()),
    ("reports.no_show_pct", |m| num(m.no_show_pct)),
    ("reports.wait_median", |m| num(m.wait_median_mins)),
    ("reports.wait_p90", |m| num(m.wait_p90_mins)),
    ("reports.service_median", |m| num(m.service_median_mins)),
    ("reports.service_p90", |m| num(m.service_p90_mins)),
    ("reports.service_level", |m| num(m.service_level_pct)),
    ("reports.throughput", |m| num(m.throughput_per_hour)),
    ("reports.recalls", |m| m.recalls.to_string()),
    ("reports.transfers", |m| m.transfers.to_string()),
    ("reports.estimate_error", |m| num(m.estimate_error_mins)),
];

fn figures(m: &Measures, p: Option<&Measures>) -> Vec<Figure> {
    READINGS
        .iter()
        .map(|(key, read)| Figure {
            key,
            value: read(m),
            previous: p.map(read).unwrap_or_default(),
        })
        .collect()
}

/// The largest value of a chart, as its scale says it.
fn top_of(buckets: &[Bucket], value: impl Fn(&Measures) -> f64) -> String {
    let top = buckets
        .iter()
        .map(|b| value(&b.measures))
        .fold(0.0_f64, f64::max);
    format!("{top:.0}")
}

/// Bars of 24 hourly buckets, scaled to the tallest.
fn bars(buckets: &[Bucket], value: impl Fn(&Measures) -> f64) -> Vec<Bar> {
    let top = buckets
        .iter()
        .map(|b| value(&b.measures))
        .fold(0.0_f64, f64::max);
    buckets
        .iter()
        .zip(0u32..)
        .map(|(b, i)| {
            let v = value(&b.measures);
            let height = if top > 0.0 {
                (v / top * 100.0).round().clamp(0.0, 100.0) as u32
            } else {
                0
            };
            Bar {
                label: b.key.clone(),
                value: format!("{v:.0}"),
                x: i * 10 + 1,
                y: 100 - height,
                height,
            }
        })
        .collect()
}

/// The period a page query asks for: (range, anchor date, first day, last day).
fn page_period(q: &ReportsPageQuery, today: Date) -> Result<(String, Date, Date, Date), WebError> {
    let parse = |raw: &str, name: &str| -> Result<Date, WebError> {
        raw.parse().map_err(|_| {
            WebError::InvalidQuery(format!("{name}={raw:?} is not a date like 2026-03-02"))
        })
    };
    let anchor = q.date.as_deref().map(|d| parse(d, "date")).transpose()?;
    let anchor = anchor.unwrap_or(today);
    let bad = |e: jiff::Error| WebError::InvalidQuery(e.to_string());
    let kind = q.range.as_deref().unwrap_or("day");
    let (first, last) = match kind {
        "day" => (anchor, anchor),
        "week" => {
            let monday = anchor
                .checked_sub(i64::from(anchor.weekday().to_monday_zero_offset()).days())
                .map_err(bad)?;
            (monday, monday.checked_add(6.days()).map_err(bad)?)
        }
        "month" => (anchor.first_of_month(), anchor.last_of_month()),
        "custom" => {
            let from = q.from.as_deref().map(|d| parse(d, "from")).transpose()?;
            let to = q.to.as_deref().map(|d| parse(d, "to")).transpose()?;
            let from = from.unwrap_or(anchor);
            (from, to.unwrap_or(from))
        }
        other => {
            return Err(WebError::InvalidQuery(format!(
                "range={other:?}: use day, week, month or custom"
            )));
        }
    };
    Ok((kind.to_owned(), anchor, first, last))
}

/// The period a page shows.
#[derive(Debug)]
struct Period {
    kind: String,
    anchor: Date,
    first: Date,
    last: Date,
    compare: bool,
    target_mins: Option<u32>,
}

/// What the page shows of a report: rows named in the page's language, bars, the heat map.
fn view_of(
    answer: &ReportAnswer,
    period: &Period,
    nav: Nav,
    catalog: &crate::i18n::Catalog,
    services: &BTreeMap<String, String>,
    rooms: &BTreeMap<String, String>,
    comments: &[crate::domain::FeedbackComment],
) -> ReportsView {
    let r = &answer.report;
    let tz = TimeZone::get(&r.time_zone).unwrap_or(TimeZone::UTC);
    let feedback_row = |name: String, m: &report::FeedbackMeasures| FeedbackRow {
        name,
        count: m.count,
        mean: m.mean.map_or_else(|| "—".to_owned(), |v| format!("{v:.2}")),
        scores: m.scores,
    };
    let mut feedback = Vec::new();
    if r.feedback.total.count > 0 {
        feedback.push(FeedbackGroup {
            title: String::new(),
            rows: vec![feedback_row(
                catalog.text("reports.feedback_all").to_owned(),
                &r.feedback.total,
            )],
        });
        for (title, buckets, names) in [
            ("reports.by_service", &r.feedback.by_service, services),
            ("reports.by_room", &r.feedback.by_room, rooms),
        ] {
            feedback.push(FeedbackGroup {
                title: catalog.text(title).to_owned(),
                rows: buckets
                    .iter()
                    .map(|b| {
                        feedback_row(
                            names.get(&b.key).cloned().unwrap_or_else(|| b.key.clone()),
                            &b.measures,
                        )
                    })
                    .collect(),
            });
        }
    }
    let comments = comments
        .iter()
        .map(|c| {
            let service = services
                .get(c.service.as_str())
                .cloned()
                .unwrap_or_else(|| c.service.to_string());
            let room = c.room.as_ref().map(|r| {
                rooms
                    .get(r.as_str())
                    .cloned()
                    .unwrap_or_else(|| r.to_string())
            });
            CommentRow {
                when: c
                    .at
                    .to_zoned(tz.clone())
                    .strftime("%Y-%m-%d %H:%M")
                    .to_string(),
                place: match room {
                    Some(room) => format!("{service} · {room}"),
                    None => service,
                },
                score: c.score,
                comment: c.comment.clone(),
            }
        })
        .collect();
    let named = |buckets: &[Bucket], names: &BTreeMap<String, String>| -> Vec<Row> {
        buckets
            .iter()
            .map(|b| {
                row(
                    names.get(&b.key).cloned().unwrap_or_else(|| b.key.clone()),
                    &b.measures,
                )
            })
            .collect()
    };
    let none = BTreeMap::new();
    let top = r.heat.iter().flatten().copied().max().unwrap_or(0);
    let heat = r
        .heat
        .iter()
        .zip(WEEKDAYS)
        .map(|(cells, day)| HeatRow {
            day: catalog.text(&format!("reports.day_{day}")).to_owned(),
            cells: cells
                .iter()
                .map(|&count| Cell {
                    count,
                    level: if count == 0 || top == 0 {
                        0
                    } else {
                        u8::try_from((count * 4).div_ceil(top))
                            .unwrap_or(4)
                            .clamp(1, 4)
                    },
                })
                .collect(),
        })
        .collect();
    let (first, last) = (period.first, period.last);
    let mut query_string = format!("from={first}&to={last}");
    if let Some(t) = period.target_mins {
        query_string.push_str(&format!("&target_mins={t}"));
    }
    ReportsView {
        nav,
        range: period.kind.clone(),
        date: period.anchor.to_string(),
        from: first.to_string(),
        to: last.to_string(),
        last_day: last.to_string(),
        compare: period.compare,
        target_mins: r.target_mins,
        time_zone: r.time_zone.clone(),
        query: query_string,
        figures: figures(&r.total, answer.previous.as_ref().map(|p| &p.total)),
        by_service: named(&r.by_service, services),
        by_room: named(&r.by_room, rooms),
        by_doctor: named(&r.by_doctor, &none),
        by_staff: r
            .by_staff
            .iter()
            .map(|b| {
                // A user by their name; a device or a token as the log names it.
                let name = b.key.strip_prefix("user:").unwrap_or(&b.key);
                row(name.to_owned(), &b.measures)
            })
            .collect(),
        by_class: r
            .by_class
            .iter()
            .map(|b| {
                row(
                    catalog.text(&format!("reports.class_{}", b.key)).to_owned(),
                    &b.measures,
                )
            })
            .collect(),
        by_day: named(&r.by_day, &none),
        by_hour: named(
            &r.by_hour
                .iter()
                .filter(|b| b.measures.arrived > 0)
                .cloned()
                .collect::<Vec<_>>(),
            &none,
        ),
        arrivals_bars: bars(&r.by_hour, |m| m.arrived as f64),
        wait_bars: bars(&r.by_hour, |m| m.wait_median_mins.unwrap_or(0.0)),
        arrivals_top: top_of(&r.by_hour, |m| m.arrived as f64),
        wait_top: top_of(&r.by_hour, |m| m.wait_median_mins.unwrap_or(0.0)),
        heat,
        hours: (0..24).collect(),
        feedback,
        comments,
    }
}

/// The view of an empty day, for the template tests (every page renders in every language).
#[cfg(test)]
pub(crate) fn example_view(catalog: &crate::i18n::Catalog) -> ReportsView {
    let day = jiff::civil::date(2026, 3, 2);
    let from = Timestamp::UNIX_EPOCH;
    let to = from + SignedDuration::from_hours(24);
    let report = report::build(
        &[],
        from,
        to,
        &TimeZone::UTC,
        SignedDuration::from_mins(15),
        &Doctors::default(),
    );
    let answer = ReportAnswer {
        previous: Some(report.clone()),
        report,
    };
    let period = Period {
        kind: "day".into(),
        anchor: day,
        first: day,
        last: day,
        compare: true,
        target_mins: None,
    };
    view_of(
        &answer,
        &period,
        Nav {
            staff: true,
            admin: true,
        },
        catalog,
        &BTreeMap::new(),
        &BTreeMap::new(),
        &[],
    )
}

/// `/admin/reports`: the report page (printable).
pub async fn reports_page(
    state: web::Data<AppState>,
    actor: Actor,
    query: web::Query<ReportsPageQuery>,
) -> Result<HttpResponse, WebError> {
    let q = query.into_inner();
    let tz = zone(&state)?;
    let today = state.clock.now().to_zoned(tz.clone()).date();
    let (kind, anchor, first, last) = page_period(&q, today)?;
    let compare = matches!(q.compare.as_deref(), Some("1" | "true" | "on"));
    let api_query = ReportQuery {
        from: Some(first.to_string()),
        to: Some(last.to_string()),
        target_mins: q.target_mins,
        compare: Some(compare),
    };
    let (from, to, target) = range(&api_query, &tz, state.clock.now())?;
    let answer = reports(&state, from, to, target, compare).await?;
    let page_query = PageQuery {
        lang: q.lang.clone(),
        ..PageQuery::default()
    };
    let catalog = language(&state, &page_query);
    let (services, rooms) = {
        let hub = state.hub.read();
        let name = |id: &str, names: &BTreeMap<String, String>, fallback: &str| {
            (
                id.to_owned(),
                names
                    .get(&catalog.code)
                    .cloned()
                    .unwrap_or_else(|| fallback.to_owned()),
            )
        };
        let services: BTreeMap<String, String> = hub
            .state
            .services
            .values()
            .map(|s| name(s.id.as_str(), &s.names, &s.name))
            .collect();
        let rooms: BTreeMap<String, String> = hub
            .state
            .rooms
            .values()
            .map(|r| name(r.id.as_str(), &r.names, &r.name))
            .collect();
        (services, rooms)
    };
    let period = Period {
        kind,
        anchor,
        first,
        last,
        compare,
        target_mins: q.target_mins,
    };
    let comments = latest_comments(&state, from, to, PAGE_COMMENTS).await?;
    let may = |need: Need| actor.0.as_ref().is_some_and(|p| p.can(need));
    let nav = Nav {
        staff: may(Need::Staff),
        admin: may(Need::Admin),
    };
    let view = view_of(&answer, &period, nav, catalog, &services, &rooms, &comments);
    let time_zone = answer.report.time_zone.clone();
    render_view(
        &state,
        &page_query,
        "reports",
        catalog,
        "reports.title",
        serde_json::json!({ "time_zone": time_zone }),
        view,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(range: &str, date: &str) -> ReportsPageQuery {
        ReportsPageQuery {
            lang: None,
            range: Some(range.into()),
            date: Some(date.into()),
            from: None,
            to: None,
            compare: None,
            target_mins: None,
        }
    }

    fn user(name: &str, roles: &[Role], rooms: &[&str], disabled: bool) -> UserView {
        UserView {
            name: name.into(),
            roles: roles.iter().copied().collect(),
            rooms: rooms.iter().map(|r| RoomId::parse(r).unwrap()).collect(),
            disabled,
            created_at: Timestamp::UNIX_EPOCH,
            password_changed_at: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_room_counts_for_its_doctor_only_when_it_has_exactly_one() {
        let doctors = doctors_of(&[
            user(
                "rao",
                &[Role::Doctor],
                &["room-1", "room-2", "room-1"],
                false,
            ),
            user("sen", &[Role::Doctor, Role::Admin], &["room-2"], false),
            user("old", &[Role::Doctor], &["room-3"], true),
            user("anita", &[Role::Reception], &["room-4"], false),
            user("meena", &[Role::Manager], &[], false),
        ]);
        let mut actors: Vec<(&str, &str)> = doctors
            .by_actor
            .iter()
            .map(|(a, n)| (a.as_str(), n.as_str()))
            .collect();
        actors.sort_unstable();
        assert_eq!(
            actors,
            [
                ("user:old", "old"),
                ("user:rao", "rao"),
                ("user:sen", "sen")
            ],
            "every doctor, a disabled one too, for the calls they made"
        );
        let mut rooms: Vec<(&str, &str)> = doctors
            .by_room
            .iter()
            .map(|(r, n)| (r.as_str(), n.as_str()))
            .collect();
        rooms.sort_unstable();
        // room-2 has two doctors, room-3 only a disabled one, room-4 none.
        assert_eq!(rooms, [("room-1", "rao")]);
    }

    #[test]
    fn page_periods_are_whole_days_weeks_and_months() {
        let today = jiff::civil::date(2026, 3, 4);
        let (_, _, first, last) = page_period(&q("week", "2026-03-04"), today).unwrap();
        assert_eq!(
            (first.to_string(), last.to_string()),
            ("2026-03-02".into(), "2026-03-08".into())
        );
        let (_, _, first, last) = page_period(&q("month", "2026-02-10"), today).unwrap();
        assert_eq!(
            (first.to_string(), last.to_string()),
            ("2026-02-01".into(), "2026-02-28".into())
        );
        assert!(page_period(&q("year", "2026-02-10"), today).is_err());
        assert!(page_period(&q("day", "yesterday"), today).is_err());
    }

    #[test]
    fn ranges_are_clinic_local_and_checked() {
        let tz = TimeZone::get("Asia/Kolkata").unwrap();
        let now: Timestamp = "2026-03-02T20:00:00Z".parse().unwrap();
        let (from, to, target) = range(&ReportQuery::default(), &tz, now).unwrap();
        // 20:00 UTC is 01:30 on 3 March in India: today is the 3rd.
        assert_eq!(from.to_string(), "2026-03-02T18:30:00Z");
        assert_eq!(to.to_string(), "2026-03-03T18:30:00Z");
        assert_eq!(target, SignedDuration::from_mins(15));
        let query = |from: &str, to: &str| ReportQuery {
            from: Some(from.into()),
            to: Some(to.into()),
            ..ReportQuery::default()
        };
        assert!(range(&query("2026-03-05", "2026-03-01"), &tz, now).is_err());
        assert!(range(&query("2020-01-01", "2026-03-01"), &tz, now).is_err());
        assert!(range(&query("soon", "2026-03-01"), &tz, now).is_err());
        let bad_target = ReportQuery {
            target_mins: Some(0),
            ..ReportQuery::default()
        };
        assert!(range(&bad_target, &tz, now).is_err());
    }
}
