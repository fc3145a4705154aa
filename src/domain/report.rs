//! Reports: what the clinic learns from its queue.
//!
//! Owns two pure steps, both without I/O or a clock:
//!
//! 1. [`VisitLog`] folds the event log into per-visit facts ([`Visit`]): one visit per patient
//!    arrival, from the ticket issued at the kiosk through its transfers to its end (done, no-show
//!    or cancelled). [`Replay`] drives it together with a [`QueueState`] so each visit also knows
//!    the wait estimate the patient was shown when the ticket was issued.
//! 2. [`build`] aggregates the visits issued in a range into [`Report`]: the measures of
//!    [`Measures`] for the whole range and by service, room, member of staff, doctor, clinic
//!    day, hour of day and weekday, a weekday × hour grid of arrivals, and the patients'
//!    feedback ([`FeedbackReport`]: count, mean and 1–5 distribution, overall and by service
//!    and room). Who is a doctor comes from the caller as data ([`Doctors`]), so the step stays
//!    pure.
//!
//! Invariants: every bucket uses the clinic's time zone (a +5:30 zone puts an event at 18:45 UTC
//! at 00:15 the next day); a visit belongs to the range its *issue* time falls in, whatever
//! happened to it later; medians average the two middle values, p90 is the nearest rank.
//! docs/reports.md states every definition; the `/admin/reports` page and
//! `GET /api/v1/reports` (src/web/reports.rs) show what this module computes.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap, HashSet};

use jiff::SignedDuration;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    Event, EventKind, Policy, PriorityClass, QueueState, RoomId, ServiceId, Ticket, TicketId,
    TicketState, Timestamp,
};

/// How a visit ended (or that it has not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Still waiting or being served.
    Open,
    /// Served.
    Done,
    /// Called, did not come.
    NoShow,
    /// Cancelled by staff, or still waiting when the clinic day closed.
    Cancelled,
}

impl Outcome {
    /// The snake_case word used in the API and the CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Done => "done",
            Self::NoShow => "no_show",
            Self::Cancelled => "cancelled",
        }
    }

    fn of(state: TicketState) -> Self {
        match state {
            TicketState::Waiting | TicketState::Called | TicketState::Transferred => Self::Open,
            TicketState::Done => Self::Done,
            TicketState::NoShow => Self::NoShow,
            TicketState::Cancelled => Self::Cancelled,
        }
    }
}

/// What kind of arrival a visit was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VisitClass {
    /// A normal ticket.
    WalkIn,
    /// Elderly, disabled, pregnant.
    Priority,
    /// Called before everyone.
    Urgent,
    /// A booked patient checked in (an appointment's ticket).
    Appointment,
}

impl VisitClass {
    /// The snake_case word used in the API and the CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WalkIn => "walk_in",
            Self::Priority => "priority",
            Self::Urgent => "urgent",
            Self::Appointment => "appointment",
        }
    }

    fn of(priority: PriorityClass) -> Self {
        match priority {
            PriorityClass::Normal => Self::WalkIn,
            PriorityClass::Priority => Self::Priority,
            PriorityClass::Urgent => Self::Urgent,
            PriorityClass::Appointment => Self::Appointment,
        }
    }
}

/// One patient's visit: the facts a report is computed from.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Visit {
    /// The id of the ticket first issued (a transfer continues the same visit).
    pub ticket: TicketId,
    /// Its number (`A001`).
    pub number: String,
    /// The service it is (or was last) in.
    pub service: ServiceId,
    /// The room that last called it.
    pub room: Option<RoomId>,
    /// Who made that call: `user:anita`, a device (`gpio17`), a token (`token:his`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub called_by: Option<String>,
    /// Walk-in, appointment, priority or urgent.
    pub class: VisitClass,
    /// When the ticket was issued.
    #[schema(value_type = String, format = DateTime)]
    pub issued_at: Timestamp,
    /// When it was first called.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub first_called_at: Option<Timestamp>,
    /// When it was last called (the call that led to its end).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_called_at: Option<Timestamp>,
    /// When it ended.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<Timestamp>,
    /// How it ended.
    pub outcome: Outcome,
    /// Times it was called again.
    pub recalls: u32,
    /// Times it moved to another service.
    pub transfers: u32,
    /// The wait estimate (minutes) given when it was issued, if one was.
    pub estimate_mins: Option<u32>,
    /// The patient's answer to "How was your visit?" (1–5), if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<u8>,
}

impl Visit {
    /// Issue → first call.
    pub fn wait(&self) -> Option<SignedDuration> {
        self.first_called_at
            .map(|c| c.duration_since(self.issued_at))
    }

    /// Last call → done (served visits only).
    pub fn service_time(&self) -> Option<SignedDuration> {
        match (self.outcome, self.last_called_at, self.finished_at) {
            (Outcome::Done, Some(called), Some(done)) => Some(done.duration_since(called)),
            _ => None,
        }
    }
}

/// Folds events into visits. Feed it every event in log order with [`VisitLog::observe`].
#[derive(Clone, Debug, Default)]
pub struct VisitLog {
    visits: Vec<Visit>,
    by_ticket: HashMap<TicketId, usize>,
}

impl VisitLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one event into account. `estimate_mins` is the wait estimate shown for the ticket a
    /// `ticket_issued` event issued, when the event does not carry it (older logs; ignored for
    /// other events).
    pub fn observe(&mut self, event: &Event, estimate_mins: Option<u32>) {
        match &event.kind {
            EventKind::TicketIssued {
                ticket,
                estimate_mins: shown,
                ..
            } => {
                self.by_ticket.insert(ticket.id, self.visits.len());
                self.visits.push(Visit {
                    ticket: ticket.id,
                    number: ticket.number.clone(),
                    service: ticket.service.clone(),
                    room: None,
                    called_by: None,
                    class: VisitClass::of(ticket.priority),
                    issued_at: ticket.created_at,
                    first_called_at: None,
                    last_called_at: None,
                    finished_at: None,
                    outcome: Outcome::Open,
                    recalls: 0,
                    transfers: 0,
                    estimate_mins: shown.or(estimate_mins),
                    feedback: None,
                });
            }
            EventKind::RoomNext {
                called, finished, ..
            } => {
                for ticket in finished.iter().chain(called.iter()) {
                    self.update(ticket);
                }
                if let Some(visit) = called.as_ref().and_then(|t| self.visit_mut(t.id)) {
                    visit.called_by = Some(event.actor.clone());
                }
            }
            EventKind::TicketRecalled { ticket, .. } => {
                if let Some(visit) = self.visit_mut(ticket.id) {
                    visit.recalls += 1;
                    visit.called_by = Some(event.actor.clone());
                }
            }
            EventKind::TicketDone { ticket, .. }
            | EventKind::TicketNoShow { ticket, .. }
            | EventKind::TicketCancelled { ticket }
            | EventKind::TicketRequeued { ticket } => self.update(ticket),
            EventKind::TicketTransferred { from, to } => {
                self.update(from);
                if let Some(&index) = self.by_ticket.get(&from.id) {
                    self.by_ticket.insert(to.id, index);
                    if let Some(visit) = self.visits.get_mut(index) {
                        visit.transfers += 1;
                    }
                }
                self.update(to);
            }
            EventKind::NextUndone { restored, .. } => {
                for ticket in restored {
                    self.update(ticket);
                    if ticket.called_at.is_none()
                        && let Some(visit) = self.visit_mut(ticket.id)
                        && visit.transfers == 0
                    {
                        // The call was taken back: it was never called.
                        visit.first_called_at = None;
                        visit.last_called_at = None;
                        visit.room = None;
                        visit.called_by = None;
                    }
                }
            }
            EventKind::DayClosed { closed, .. } => {
                for ticket in closed {
                    self.update(ticket);
                }
            }
            EventKind::FeedbackGiven { ticket, score, .. } => {
                if let Some(visit) = self.visit_mut(*ticket) {
                    visit.feedback = Some(*score);
                }
            }
            _ => {}
        }
    }

    fn visit_mut(&mut self, ticket: TicketId) -> Option<&mut Visit> {
        let index = *self.by_ticket.get(&ticket)?;
        self.visits.get_mut(index)
    }

    /// Copies what a ticket's new state says about its visit.
    fn update(&mut self, ticket: &Ticket) {
        let Some(visit) = self.visit_mut(ticket.id) else {
            return;
        };
        visit.service = ticket.service.clone();
        visit.outcome = Outcome::of(ticket.state);
        if let Some(called) = ticket.called_at {
            if visit.first_called_at.is_none_or(|first| called < first) {
                visit.first_called_at = Some(called);
            }
            visit.last_called_at = Some(called);
            if ticket.room.is_some() {
                visit.room = ticket.room.clone();
            }
        }
        visit.finished_at = match visit.outcome {
            Outcome::Open => None,
            _ => ticket.finished_at,
        };
    }

    /// The visits, in issue order.
    pub fn into_visits(self) -> Vec<Visit> {
        self.visits
    }

    /// Takes up a visit folded earlier that was still open (a carried-over ticket), so the events
    /// that follow update it; `current` is its ticket now (after transfers, the latest).
    pub fn resume(&mut self, visit: Visit, current: TicketId) {
        let index = self.visits.len();
        self.by_ticket.insert(visit.ticket, index);
        self.by_ticket.insert(current, index);
        self.visits.push(visit);
    }

    /// The visits, in issue order, and the tickets a transfer gave them: (later ticket, the
    /// visit's first ticket), in ticket order.
    pub fn into_parts(self) -> (Vec<Visit>, Vec<(TicketId, TicketId)>) {
        let mut aliases: Vec<(TicketId, TicketId)> = self
            .by_ticket
            .iter()
            .filter_map(|(&id, &index)| {
                let first = self.visits.get(index)?.ticket;
                (first != id).then_some((id, first))
            })
            .collect();
        aliases.sort_unstable();
        (self.visits, aliases)
    }
}

/// Folds a whole event log (from its first event) into visits, replaying the queue alongside to
/// know the wait estimate each patient was shown at issue. Feed it every event in log order.
#[derive(Debug)]
pub struct Replay {
    state: QueueState,
    log: VisitLog,
    policy: Policy,
}

impl Replay {
    /// A replay from an empty clinic; `first_day` is the clinic day of the first event.
    pub fn new(first_day: Date, policy: Policy) -> Self {
        Self {
            state: QueueState::new(first_day),
            log: VisitLog::new(),
            policy,
        }
    }

    /// Takes the next event of the log.
    pub fn feed(&mut self, event: &Event) {
        self.state.apply(event);
        let estimate = match &event.kind {
            EventKind::TicketIssued {
                ticket,
                estimate_mins: None,
                ..
            } => self
                .state
                .placement(ticket, &self.policy)
                .and_then(|p| p.eta)
                .map(|eta| eta.minutes),
            _ => None,
        };
        self.log.observe(event, estimate);
    }

    /// The visits, in issue order.
    pub fn into_visits(self) -> Vec<Visit> {
        self.log.into_visits()
    }

    /// The visits and the tickets transfers gave them ([`VisitLog::into_parts`]).
    pub fn into_parts(self) -> (Vec<Visit>, Vec<(TicketId, TicketId)>) {
        self.log.into_parts()
    }
}

/// [`Replay`] over a whole log at once.
pub fn replay(
    events: impl IntoIterator<Item = Event>,
    first_day: Date,
    policy: &Policy,
) -> Vec<Visit> {
    let mut replay = Replay::new(first_day, policy.clone());
    for event in events {
        replay.feed(&event);
    }
    replay.into_visits()
}

/// The measures of a set of visits. Durations are in minutes; `None` where no visit counts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, ToSchema)]
pub struct Measures {
    /// Tickets issued.
    pub arrived: u64,
    /// Visits served (done).
    pub served: u64,
    /// Visits cancelled (by staff, or unattended at day close).
    pub cancelled: u64,
    /// Visits that ended as no-show.
    pub no_show: u64,
    /// Visits still waiting or being served.
    pub open: u64,
    /// no_show ÷ arrived × 100.
    pub no_show_pct: Option<f64>,
    /// Median wait, issue → first call.
    pub wait_median_mins: Option<f64>,
    /// 90th percentile wait.
    pub wait_p90_mins: Option<f64>,
    /// Median service time, last call → done.
    pub service_median_mins: Option<f64>,
    /// 90th percentile service time.
    pub service_p90_mins: Option<f64>,
    /// Visits called within the target ÷ visits called or ended uncalled × 100.
    pub service_level_pct: Option<f64>,
    /// Served ÷ active hours (clinic-local clock hours in which a visit was served).
    pub throughput_per_hour: Option<f64>,
    /// Recalls.
    pub recalls: u64,
    /// Transfers.
    pub transfers: u64,
    /// Median of |actual wait − estimate shown at issue|.
    pub estimate_error_mins: Option<f64>,
}

/// Collects visits for one bucket.
#[derive(Clone, Debug, Default)]
struct Tally {
    arrived: u64,
    served: u64,
    cancelled: u64,
    no_show: u64,
    open: u64,
    waits: Durations,
    services: Durations,
    within_target: u64,
    level_base: u64,
    recalls: u64,
    transfers: u64,
    errors: Durations,
    /// Clock hours (see [`hour_key`]) in which a visit was served.
    served_hours: HashSet<i64>,
    /// The last hour put in `served_hours`: visits come in time order, so most repeat it.
    last_served_hour: Option<i64>,
}

/// A duration in whole seconds (rounded; negative ones, from a clock set back, count as 0).
fn seconds(d: SignedDuration) -> u32 {
    let ms = d.as_millis().max(0);
    u32::try_from((ms + 500) / 1000).unwrap_or(u32::MAX)
}

/// Durations in whole seconds, for their median and 90th percentile: the values themselves while
/// there are few (a bucket of one day), a count per second once there are many (a year's
/// total), so a report over a million visits holds kilobytes, not a copy of every wait.
#[derive(Clone, Debug)]
enum Durations {
    Values(Vec<u32>),
    /// `counts[s]`: how many lasted `s` seconds, for `s` under [`COUNTED_SECS`]; longer ones in
    /// `long` (rare: a ticket carried over a night).
    Counts {
        counts: Vec<u32>,
        long: Vec<u32>,
        len: usize,
    },
}

/// Values kept as they are up to this many.
const KEPT_VALUES: usize = 4096;
/// Durations counted per second below this (a day); longer ones are kept as values.
const COUNTED_SECS: u32 = 86_400;

impl Default for Durations {
    fn default() -> Self {
        Self::Values(Vec::new())
    }
}

impl Durations {
    fn push(&mut self, secs: u32) {
        match self {
            Self::Values(values) if values.len() < KEPT_VALUES => values.push(secs),
            Self::Values(values) => {
                let mut counted = Self::Counts {
                    counts: Vec::new(),
                    long: Vec::new(),
                    len: 0,
                };
                for v in std::mem::take(values) {
                    counted.push(v);
                }
                counted.push(secs);
                *self = counted;
            }
            Self::Counts { counts, long, len } => {
                *len += 1;
                if secs >= COUNTED_SECS {
                    long.push(secs);
                    return;
                }
                let at = secs as usize;
                if counts.len() <= at {
                    counts.resize(at + 1, 0);
                }
                counts[at] += 1;
            }
        }
    }

    /// Adds `other`'s durations.
    fn merge(&mut self, other: Self) {
        match other {
            Self::Values(values) => {
                for v in values {
                    self.push(v);
                }
            }
            Self::Counts { counts, long, .. } => {
                if let Self::Values(_) = self {
                    let mine = std::mem::replace(
                        self,
                        Self::Counts {
                            counts,
                            long,
                            len: 0,
                        },
                    );
                    if let Self::Counts { counts, long, len } = self {
                        *len = counts.iter().map(|&n| n as usize).sum::<usize>() + long.len();
                    }
                    self.merge(mine);
                    return;
                }
                if let Self::Counts {
                    counts: mine,
                    long: mine_long,
                    len,
                } = self
                {
                    if mine.len() < counts.len() {
                        mine.resize(counts.len(), 0);
                    }
                    for (m, n) in mine.iter_mut().zip(&counts) {
                        *m += n;
                    }
                    *len += counts.iter().map(|&n| n as usize).sum::<usize>() + long.len();
                    mine_long.extend(long);
                }
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Values(values) => values.len(),
            Self::Counts { len, .. } => *len,
        }
    }

    /// The `k`-th smallest (from 0), seconds.
    fn nth(&mut self, k: usize) -> Option<u32> {
        if k >= self.len() {
            return None;
        }
        match self {
            Self::Values(values) => {
                let (_, value, _) = values.select_nth_unstable(k);
                Some(*value)
            }
            Self::Counts { counts, long, .. } => {
                let mut seen = 0usize;
                for (secs, &n) in counts.iter().enumerate() {
                    seen += n as usize;
                    if seen > k {
                        return u32::try_from(secs).ok();
                    }
                }
                let (_, value, _) = long.select_nth_unstable(k - seen);
                Some(*value)
            }
        }
    }

    /// The median (the mean of the two middle values of an even count), minutes to 0.01.
    fn median(&mut self) -> Option<f64> {
        let n = self.len();
        let upper = f64::from(self.nth(n / 2)?);
        let middle = if n % 2 == 1 {
            upper
        } else {
            (f64::from(self.nth(n / 2 - 1)?) + upper) / 2.0
        };
        Some(round2(middle / 60.0))
    }

    /// The 90th percentile by nearest rank (the ⌈0.9·n⌉-th smallest), minutes to 0.01.
    fn p90(&mut self) -> Option<f64> {
        let rank = (self.len() * 9).div_ceil(10).max(1);
        self.nth(rank - 1).map(|s| round2(f64::from(s) / 60.0))
    }
}

/// What a visit adds to each of its buckets, worked out once per visit.
struct Facts {
    outcome: Outcome,
    recalls: u64,
    transfers: u64,
    /// Seconds to the first call.
    wait: Option<u32>,
    within_target: bool,
    /// |wait − estimate shown|, seconds.
    error: Option<u32>,
    /// Seconds from the last call to done.
    service: Option<u32>,
    /// The [`hour_key`] of its end, if it was served.
    served_hour: Option<i64>,
}

impl Facts {
    fn of(visit: &Visit, target: SignedDuration, tz: &TimeZone) -> Self {
        let wait = visit.wait();
        let service = visit.service_time();
        Self {
            outcome: visit.outcome,
            recalls: u64::from(visit.recalls),
            transfers: u64::from(visit.transfers),
            wait: wait.map(seconds),
            within_target: wait.is_some_and(|w| w <= target),
            error: wait
                .zip(visit.estimate_mins)
                .map(|(w, estimate)| seconds(w).abs_diff(estimate.saturating_mul(60))),
            service: service.map(seconds),
            served_hour: service
                .and(visit.finished_at)
                .map(|done| hour_key(tz.to_datetime(done))),
        }
    }
}

impl Tally {
    /// Counts a visit.
    fn add(&mut self, facts: &Facts) {
        self.arrived += 1;
        match facts.outcome {
            Outcome::Open => self.open += 1,
            Outcome::Done => self.served += 1,
            Outcome::NoShow => self.no_show += 1,
            Outcome::Cancelled => self.cancelled += 1,
        }
        self.recalls += facts.recalls;
        self.transfers += facts.transfers;
        if let Some(wait) = facts.wait {
            self.waits.push(wait);
            self.level_base += 1;
            if facts.within_target {
                self.within_target += 1;
            }
            if let Some(error) = facts.error {
                self.errors.push(error);
            }
        } else if facts.outcome != Outcome::Open {
            // Ended without a call (cancelled while waiting): not called within the target.
            self.level_base += 1;
        }
        if let Some(service) = facts.service {
            self.services.push(service);
        }
        if let Some(hour) = facts.served_hour
            && self.last_served_hour != Some(hour)
        {
            self.served_hours.insert(hour);
            self.last_served_hour = Some(hour);
        }
    }

    /// Adds what `other` counted.
    fn merge(&mut self, other: Self) {
        self.arrived += other.arrived;
        self.served += other.served;
        self.cancelled += other.cancelled;
        self.no_show += other.no_show;
        self.open += other.open;
        self.waits.merge(other.waits);
        self.services.merge(other.services);
        self.within_target += other.within_target;
        self.level_base += other.level_base;
        self.recalls += other.recalls;
        self.transfers += other.transfers;
        self.errors.merge(other.errors);
        self.served_hours.extend(other.served_hours);
        self.last_served_hour = None;
    }

    fn finish(mut self) -> Measures {
        let pct =
            |part: u64, whole: u64| (whole > 0).then(|| round2(part as f64 * 100.0 / whole as f64));
        Measures {
            arrived: self.arrived,
            served: self.served,
            cancelled: self.cancelled,
            no_show: self.no_show,
            open: self.open,
            no_show_pct: pct(self.no_show, self.arrived),
            wait_median_mins: self.waits.median(),
            wait_p90_mins: self.waits.p90(),
            service_median_mins: self.services.median(),
            service_p90_mins: self.services.p90(),
            service_level_pct: pct(self.within_target, self.level_base),
            throughput_per_hour: (!self.served_hours.is_empty())
                .then(|| round2(self.served as f64 / self.served_hours.len() as f64)),
            recalls: self.recalls,
            transfers: self.transfers,
            estimate_error_mins: self.errors.median(),
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A local clock hour as one number: year, day of the year and hour.
fn hour_key(local: jiff::civil::DateTime) -> i64 {
    i64::from(local.year()) * 10_000 + i64::from(local.day_of_year()) * 24 + i64::from(local.hour())
}

/// Patients' answers to "How was your visit?" of a set of visits.
#[derive(Clone, Debug, Default, PartialEq, Serialize, ToSchema)]
pub struct FeedbackMeasures {
    /// Visits whose patient answered.
    pub count: u64,
    /// The mean score, 1–5, to two decimals (`None`: no answer).
    pub mean: Option<f64>,
    /// How many answered 1, 2, 3, 4 and 5.
    pub scores: [u64; 5],
}

impl FeedbackMeasures {
    fn merge(&mut self, other: &Self) {
        for (mine, theirs) in self.scores.iter_mut().zip(other.scores) {
            *mine += theirs;
        }
        self.count += other.count;
    }

    fn add(&mut self, score: u8) {
        let Some(slot) = usize::from(score)
            .checked_sub(1)
            .and_then(|i| self.scores.get_mut(i))
        else {
            return;
        };
        *slot += 1;
        self.count += 1;
    }

    fn finish(mut self) -> Self {
        let sum: u64 = self
            .scores
            .iter()
            .zip(1u64..)
            .map(|(n, score)| n * score)
            .sum();
        self.mean = (self.count > 0).then(|| round2(sum as f64 / self.count as f64));
        self
    }
}

/// One row of a feedback table.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct FeedbackBucket {
    /// The service or room id.
    pub key: String,
    /// Its answers.
    #[serde(flatten)]
    pub measures: FeedbackMeasures,
}

/// Patients' feedback of the visits issued in a range.
#[derive(Clone, Debug, Default, PartialEq, Serialize, ToSchema)]
pub struct FeedbackReport {
    /// Every answer.
    pub total: FeedbackMeasures,
    /// By the service the visit ended in (services without answers are left out).
    pub by_service: Vec<FeedbackBucket>,
    /// By the room that served the visit (rooms without answers are left out).
    pub by_room: Vec<FeedbackBucket>,
}

/// One row of a report table.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Bucket {
    /// What the row is about: a service or room id, a date, an hour (`0`–`23`) or a weekday
    /// (`monday`…).
    pub key: String,
    /// Its measures.
    #[serde(flatten)]
    pub measures: Measures,
}

/// Which doctor a visit's last call counts for, as [`build`] needs it (the web layer fills it
/// from the staff directory).
///
/// The rule ([`Doctors::doctor_of`]): a call made by a user (`user:NAME`) counts for that user
/// when the user has the doctor role; a call made by anything else (a device such as `gpio17`,
/// an API token `token:NAME`, a screen) counts for the one doctor assigned to the room that
/// made it, if exactly one enabled doctor is. A call by a user without the doctor role (reception
/// calling for a room) counts for no doctor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Doctors {
    /// Actor (`user:rao`) → the doctor's name, for every user with the doctor role.
    pub by_actor: HashMap<String, String>,
    /// Room → the doctor's name, for each room exactly one enabled doctor is assigned to.
    pub by_room: HashMap<RoomId, String>,
}

impl Doctors {
    /// The doctor `visit`'s last call counts for, if any.
    pub fn doctor_of(&self, visit: &Visit) -> Option<&str> {
        let actor = visit.called_by.as_deref()?;
        if actor.starts_with("user:") {
            return self.by_actor.get(actor).map(String::as_str);
        }
        self.by_room.get(visit.room.as_ref()?).map(String::as_str)
    }
}

/// A report over a range.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Report {
    /// Start of the range (included).
    #[schema(value_type = String, format = DateTime)]
    pub from: Timestamp,
    /// End of the range (excluded).
    #[schema(value_type = String, format = DateTime)]
    pub to: Timestamp,
    /// The clinic's time zone, in which every bucket is cut.
    pub time_zone: String,
    /// The service-level target, minutes.
    pub target_mins: u32,
    /// Every visit issued in the range.
    pub total: Measures,
    /// By service (the one a visit ended in).
    pub by_service: Vec<Bucket>,
    /// By the room that last called the visit (visits never called are in no room).
    pub by_room: Vec<Bucket>,
    /// By who made the visit's last call (`user:anita`, a device such as `gpio17`, an API token
    /// `token:his-bridge`); visits never called are in no row. Its `throughput_per_hour` is the
    /// member's own served visits ÷ the hours in which they served one.
    pub by_staff: Vec<Bucket>,
    /// By doctor (the doctor's name): the visits whose last call counts for a doctor by the
    /// rule of [`Doctors`].
    pub by_doctor: Vec<Bucket>,
    /// By class: `walk_in`, `appointment`, `priority`, `urgent` (each, empty ones too).
    pub by_class: Vec<Bucket>,
    /// By local calendar date of issue.
    pub by_day: Vec<Bucket>,
    /// By local hour of issue, `0`–`23` (every hour, empty ones too).
    pub by_hour: Vec<Bucket>,
    /// By local weekday of issue, Monday first (every day, empty ones too).
    pub by_weekday: Vec<Bucket>,
    /// Arrivals by weekday (rows, Monday first) and local hour (columns, 0–23).
    pub heat: Vec<Vec<u64>>,
    /// Patients' answers to "How was your visit?", by service and room.
    pub feedback: FeedbackReport,
}

/// The tally of `key`, made on first use (a key is copied once, not once a visit).
fn keyed<'a, T: Default>(tallies: &'a mut BTreeMap<String, T>, key: &str) -> Option<&'a mut T> {
    if !tallies.contains_key(key) {
        tallies.insert(key.to_owned(), T::default());
    }
    tallies.get_mut(key)
}

/// Weekday names, Monday first.
pub const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Aggregates the visits issued in `[from, to)`, bucketed in `tz`. A visit counts as called
/// within the service level if its wait is at most `target`; `doctors` says which doctor a
/// call counts for.
pub fn build<V: Borrow<Visit>>(
    visits: impl IntoIterator<Item = V>,
    from: Timestamp,
    to: Timestamp,
    tz: &TimeZone,
    target: SignedDuration,
    doctors: &Doctors,
) -> Report {
    let mut aggregate = Aggregate::new(from, to, tz, target, doctors);
    for visit in visits {
        aggregate.add(visit.borrow());
    }
    aggregate.finish()
}

/// The classes in the order of the report's rows.
const CLASSES: [VisitClass; 4] = [
    VisitClass::WalkIn,
    VisitClass::Appointment,
    VisitClass::Priority,
    VisitClass::Urgent,
];

/// [`build`] a visit at a time: [`Aggregate::add`] each visit, [`Aggregate::merge`] the
/// aggregates of parts of the range (read on several threads), then [`Aggregate::finish`].
#[derive(Clone, Debug)]
pub struct Aggregate<'a> {
    from: Timestamp,
    to: Timestamp,
    tz: &'a TimeZone,
    target: SignedDuration,
    doctors: &'a Doctors,
    total: Tally,
    by_service: BTreeMap<String, Tally>,
    by_room: BTreeMap<String, Tally>,
    by_staff: BTreeMap<String, Tally>,
    by_doctor: BTreeMap<String, Tally>,
    by_class: Vec<Tally>,
    by_day: BTreeMap<Date, Tally>,
    /// The day of the last visit added (visits come in time order: most are on that day).
    day: Option<(Date, Tally)>,
    by_hour: Vec<Tally>,
    by_weekday: Vec<Tally>,
    heat: Vec<Vec<u64>>,
    feedback: FeedbackMeasures,
    feedback_by_service: BTreeMap<String, FeedbackMeasures>,
    feedback_by_room: BTreeMap<String, FeedbackMeasures>,
}

impl<'a> Aggregate<'a> {
    /// Nothing counted yet (see [`build`] for the arguments).
    pub fn new(
        from: Timestamp,
        to: Timestamp,
        tz: &'a TimeZone,
        target: SignedDuration,
        doctors: &'a Doctors,
    ) -> Self {
        Self {
            from,
            to,
            tz,
            target,
            doctors,
            total: Tally::default(),
            by_service: BTreeMap::new(),
            by_room: BTreeMap::new(),
            by_staff: BTreeMap::new(),
            by_doctor: BTreeMap::new(),
            by_class: vec![Tally::default(); CLASSES.len()],
            by_day: BTreeMap::new(),
            day: None,
            by_hour: vec![Tally::default(); 24],
            by_weekday: vec![Tally::default(); 7],
            heat: vec![vec![0u64; 24]; 7],
            feedback: FeedbackMeasures::default(),
            feedback_by_service: BTreeMap::new(),
            feedback_by_room: BTreeMap::new(),
        }
    }

    /// Counts `visit` if it was issued in the range.
    pub fn add(&mut self, visit: &Visit) {
        if visit.issued_at < self.from || visit.issued_at >= self.to {
            return;
        }
        // Civil times in the zone, not `Zoned`s: this runs once per visit of a year.
        let local = self.tz.to_datetime(visit.issued_at);
        let facts = Facts::of(visit, self.target, self.tz);
        let hour = usize::try_from(local.hour()).unwrap_or(0).min(23);
        let weekday = usize::try_from(local.weekday().to_monday_zero_offset())
            .unwrap_or(0)
            .min(6);
        self.total.add(&facts);
        if let Some(t) = keyed(&mut self.by_service, visit.service.as_str()) {
            t.add(&facts);
        }
        if let Some(room) = &visit.room
            && let Some(t) = keyed(&mut self.by_room, room.as_str())
        {
            t.add(&facts);
        }
        if let Some(actor) = &visit.called_by
            && let Some(t) = keyed(&mut self.by_staff, actor)
        {
            t.add(&facts);
        }
        if let Some(doctor) = self.doctors.doctor_of(visit)
            && let Some(t) = keyed(&mut self.by_doctor, doctor)
        {
            t.add(&facts);
        }
        if let Some(t) = CLASSES
            .iter()
            .position(|c| *c == visit.class)
            .and_then(|i| self.by_class.get_mut(i))
        {
            t.add(&facts);
        }
        match &mut self.day {
            Some((d, t)) if *d == local.date() => t.add(&facts),
            _ => {
                if let Some((d, t)) = self.day.take() {
                    self.by_day.insert(d, t);
                }
                let mut t = self.by_day.remove(&local.date()).unwrap_or_default();
                t.add(&facts);
                self.day = Some((local.date(), t));
            }
        }
        if let Some(t) = self.by_hour.get_mut(hour) {
            t.add(&facts);
        }
        if let Some(t) = self.by_weekday.get_mut(weekday) {
            t.add(&facts);
        }
        if let Some(cell) = self.heat.get_mut(weekday).and_then(|row| row.get_mut(hour)) {
            *cell += 1;
        }
        if let Some(score) = visit.feedback {
            self.feedback.add(score);
            if let Some(t) = keyed(&mut self.feedback_by_service, visit.service.as_str()) {
                t.add(score);
            }
            if let Some(room) = &visit.room
                && let Some(t) = keyed(&mut self.feedback_by_room, room.as_str())
            {
                t.add(score);
            }
        }
    }

    /// Puts the day at hand with the others.
    fn settle(&mut self) {
        if let Some((d, t)) = self.day.take() {
            merge_into(&mut self.by_day, d, t);
        }
    }

    /// Adds what `other` counted (the same range and rules, other visits).
    pub fn merge(&mut self, mut other: Self) {
        self.settle();
        other.settle();
        self.total.merge(other.total);
        for (mine, theirs) in [
            (&mut self.by_service, other.by_service),
            (&mut self.by_room, other.by_room),
            (&mut self.by_staff, other.by_staff),
            (&mut self.by_doctor, other.by_doctor),
        ] {
            for (key, t) in theirs {
                merge_into(mine, key, t);
            }
        }
        for (day, t) in other.by_day {
            merge_into(&mut self.by_day, day, t);
        }
        for (mine, theirs) in [
            (&mut self.by_class, other.by_class),
            (&mut self.by_hour, other.by_hour),
            (&mut self.by_weekday, other.by_weekday),
        ] {
            for (m, t) in mine.iter_mut().zip(theirs) {
                m.merge(t);
            }
        }
        for (mine, theirs) in self.heat.iter_mut().zip(other.heat) {
            for (m, t) in mine.iter_mut().zip(theirs) {
                *m += t;
            }
        }
        self.feedback.merge(&other.feedback);
        for (mine, theirs) in [
            (&mut self.feedback_by_service, other.feedback_by_service),
            (&mut self.feedback_by_room, other.feedback_by_room),
        ] {
            for (key, f) in theirs {
                mine.entry(key).or_default().merge(&f);
            }
        }
    }

    /// The report.
    pub fn finish(mut self) -> Report {
        self.settle();
        let feedback_rows = |tallies: BTreeMap<String, FeedbackMeasures>| -> Vec<FeedbackBucket> {
            tallies
                .into_iter()
                .map(|(key, m)| FeedbackBucket {
                    key,
                    measures: m.finish(),
                })
                .collect()
        };
        let rows = |tallies: Vec<(String, Tally)>| -> Vec<Bucket> {
            tallies
                .into_iter()
                .map(|(key, t)| Bucket {
                    key,
                    measures: t.finish(),
                })
                .collect()
        };
        let named = |tallies: BTreeMap<String, Tally>| -> Vec<(String, Tally)> {
            tallies.into_iter().collect()
        };
        Report {
            from: self.from,
            to: self.to,
            time_zone: self.tz.iana_name().unwrap_or("UTC").to_owned(),
            target_mins: u32::try_from(self.target.as_secs() / 60).unwrap_or(0),
            total: self.total.finish(),
            by_service: rows(named(self.by_service)),
            by_room: rows(named(self.by_room)),
            by_staff: rows(named(self.by_staff)),
            by_doctor: rows(named(self.by_doctor)),
            by_class: rows(
                self.by_class
                    .into_iter()
                    .zip(CLASSES)
                    .map(|(t, c)| (c.as_str().to_owned(), t))
                    .collect(),
            ),
            by_day: rows(
                self.by_day
                    .into_iter()
                    .map(|(d, t)| (d.to_string(), t))
                    .collect(),
            ),
            by_hour: rows(
                self.by_hour
                    .into_iter()
                    .enumerate()
                    .map(|(h, t)| (h.to_string(), t))
                    .collect(),
            ),
            by_weekday: rows(
                self.by_weekday
                    .into_iter()
                    .zip(WEEKDAYS)
                    .map(|(t, d)| (d.to_owned(), t))
                    .collect(),
            ),
            heat: self.heat,
            feedback: FeedbackReport {
                total: self.feedback.finish(),
                by_service: feedback_rows(self.feedback_by_service),
                by_room: feedback_rows(self.feedback_by_room),
            },
        }
    }
}

/// Adds `tally` to the one of `key` in `tallies`.
fn merge_into<K: Ord>(tallies: &mut BTreeMap<K, Tally>, key: K, tally: Tally) {
    match tallies.entry(key) {
        std::collections::btree_map::Entry::Occupied(mut mine) => mine.get_mut().merge(tally),
        std::collections::btree_map::Entry::Vacant(slot) => {
            slot.insert(tally);
        }
    }
}

#[cfg(test)]
mod tests;
