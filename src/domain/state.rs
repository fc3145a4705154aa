//! The queue's state and its two operations: [`QueueState::decide`] (may this command happen,
//! and what event does it make?) and [`QueueState::apply`] (change the state by an event).
//!
//! `decide` never changes anything; `apply` never refuses. The engine calls `decide`, commits the
//! event, and applies it; a restart loads the state tables instead of replaying, but replaying
//! the event log from the start gives the same state.
//!
//! The live tickets are indexed ([`super::index::QueueIndex`]: waiting per service in call
//! order, pass counts, calls, carried numbers), so that issue, next and placement cost
//! O(log n): `apply` changes a ticket only through `put_ticket` or `modify_ticket`, which keep
//! the index; code that fills `tickets` directly (the store's load) calls
//! [`QueueState::reindex`] after.
//!
//! Invariants (checked by the property tests in `proptests.rs`):
//! * a (prefix, ordinal) is issued at most once per clinic day;
//! * a room serves at most one ticket, and that ticket is `called` in that room;
//! * every called ticket is served by exactly one room;
//! * with anti-starvation on, no ticket is passed over more than `max_passes` times.

use std::collections::{BTreeMap, HashMap};

use jiff::SignedDuration;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::estimate::{
    Eta, LATE_ABSENT_SECS, LATE_OPEN_SECS, Load, RoomRate, estimate_load, mean_wait_secs,
};
use super::index::{Arrivals, QueueIndex, prefix_of};
use super::numbering::format_number;
use super::rules::{Pick, PickReason, Starvation};
use super::{
    CancelReason, Clinic, Command, DomainError, Event, EventKind, NextRecord, Origin,
    PriorityClass, Room, RoomId, Service, ServiceId, ServiceTimes, Source, Ticket, TicketId,
    TicketState, Timestamp, check_prefix, clinic, setup,
};

/// The queue's rules that the clinic configures.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// A second "next" from the same room within this is ignored.
    pub debounce: SignedDuration,
    /// A room's last "next" can be undone for this long.
    pub undo_window: SignedDuration,
    /// Anti-starvation, or `None` for strict class order.
    pub starvation: Option<Starvation>,
    /// Service time assumed for a room without history, seconds.
    pub default_service_secs: f64,
    /// Digits a number is zero-padded to.
    pub number_digits: usize,
    /// The same Idempotency-Key within this returns the same ticket.
    pub idempotency_window: SignedDuration,
    /// How much earlier than its queue time a priority ticket counts in the call order (the
    /// state keeps its call order with it: [`QueueState::set_head_start`]).
    pub priority_head_start: SignedDuration,
}

/// What `decide` concluded.
#[allow(clippy::large_enum_variant)] // short-lived, moved once
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Commit and apply this event.
    Event(EventKind),
    /// A second "next" inside the debounce window: nothing happens.
    Debounced {
        /// The room.
        room: RoomId,
        /// The ticket it is serving.
        serving: Option<TicketId>,
    },
    /// The Idempotency-Key was seen: this ticket was already issued for it.
    Replayed {
        /// The ticket.
        ticket: TicketId,
    },
    /// Nothing to do (nobody to call, already open, day already current).
    Unchanged,
}

/// An idempotency key's ticket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IdempotencyEntry {
    /// The ticket issued for it.
    pub ticket: TicketId,
    /// When.
    pub at: Timestamp,
    /// The hash of the request the key was first sent with ([`request_hash`]); absent in
    /// entries stored before keys were bound to their request (those replay as before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
}

impl IdempotencyEntry {
    /// Whether a request with this hash may replay the entry's ticket.
    pub fn matches(&self, request: &str) -> bool {
        self.request.as_deref().is_none_or(|first| first == request)
    }
}

/// The hash an Idempotency-Key is bound to: every field of the request that shapes the ticket
/// (service, class and source). The same key with another hash is a different request.
pub fn request_hash(service: &ServiceId, priority: PriorityClass, source: Source) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for part in [service.as_str(), priority.as_str(), source.as_str()] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hash.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What `apply` changed, so the store writes exactly those rows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Touched {
    /// Tickets to write.
    pub tickets: Vec<TicketId>,
    /// Rooms to write.
    pub rooms: Vec<RoomId>,
    /// Services to write.
    pub services: Vec<ServiceId>,
    /// Idempotency key to write.
    pub idempotency: Option<String>,
    /// Tickets to write to the archive: a day closed and these left the live set (keys and
    /// counters reset); or a closed day's ticket was answered (`feedback_given`).
    pub archived: Vec<Ticket>,
    /// Whether a day closed.
    pub day_closed: bool,
    /// Whether the clinic settings changed (they are written with every commit anyway).
    pub clinic: bool,
    /// Staff users, tokens and screens to write (a `staff_changed` event).
    pub staff: crate::domain::StaffRows,
    /// Patients' details to write with their tickets.
    pub patients: Vec<(TicketId, crate::domain::PatientDetails)>,
    /// Tickets whose patients' details are deleted.
    pub patients_purged: Vec<TicketId>,
    /// Plans and bookings to write (an `appointment_changed` event).
    pub appointments: crate::domain::appointments::AppointmentRows,
    /// Outbox rows the event causes (written only if their key is new).
    pub notifications: Vec<crate::domain::notification::Notification>,
    /// Bookings whose queued reminders are withdrawn (moved, cancelled, checked in, missed),
    /// before this event's own rows are written.
    pub reminders_withdrawn: Vec<u64>,
    /// Outbox rows about neither a ticket nor a booking (one-time codes) older than this are
    /// deleted (the retention rule).
    pub codes_purged_before: Option<Timestamp>,
    /// A patient's feedback comment to write (personal data, outside the event log).
    pub feedback_comment: Option<crate::domain::FeedbackComment>,
    /// Feedback comments to delete (the retention rule).
    pub feedback_purged: Vec<TicketId>,
}

/// Where a waiting ticket stands.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placement {
    /// People ahead of it in its service's queue.
    pub position: usize,
    /// Estimated wait (`None`: no open room serves it).
    pub eta: Option<Eta>,
}

/// Everything the queue knows about today. Cheap to clone for tests; the engine keeps one.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueState {
    /// Clinic settings.
    pub clinic: Clinic,
    /// The current clinic day.
    pub day: Date,
    /// Services by id.
    pub services: BTreeMap<ServiceId, Service>,
    /// Rooms by id.
    pub rooms: BTreeMap<RoomId, Room>,
    /// Live tickets: today's and those carried over.
    pub tickets: BTreeMap<TicketId, Ticket>,
    /// Last ordinal issued today per prefix.
    pub counters: BTreeMap<String, u32>,
    /// The id the next ticket gets.
    pub next_ticket_id: u64,
    /// Idempotency keys seen today.
    pub idempotency: HashMap<String, IdempotencyEntry>,
    /// Indexes over `tickets` (waiting per service in call order, calls, carried numbers),
    /// kept by every change of a ticket; [`QueueState::reindex`] rebuilds them after `tickets`
    /// was filled directly (a load).
    index: QueueIndex,
}

/// How a "next" finishes the room's ticket and whom it calls.
#[derive(Clone, Debug, PartialEq)]
enum NextHow {
    /// Finishes it as done, calls by the next-ticket rule.
    Done,
    /// Finishes it as not come, calls by the next-ticket rule; refused when it serves nobody.
    NoShow,
    /// Finishes it as done, calls this waiting ticket (staff said why).
    Chosen {
        /// The ticket.
        ticket: TicketId,
        /// Why, checked.
        note: String,
    },
}

/// Longest reason for calling a ticket out of order, in characters.
pub const CALL_REASON_MAX: usize = 200;

/// A reason for an out-of-order call: trimmed, 1–[`CALL_REASON_MAX`] characters, one line.
fn call_note(reason: &str) -> Result<String, DomainError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(DomainError::InvalidCallReason("the reason is empty"));
    }
    if reason.chars().count() > CALL_REASON_MAX {
        return Err(DomainError::InvalidCallReason("at most 200 characters"));
    }
    if reason.chars().any(char::is_control) {
        return Err(DomainError::InvalidCallReason(
            "one line of plain text, without control characters",
        ));
    }
    Ok(reason.to_owned())
}

/// Longest message the displays scroll, in characters.
pub const MESSAGE_MAX: usize = 500;

fn transition(t: &Ticket, action: &'static str) -> DomainError {
    DomainError::InvalidTransition {
        number: t.number.clone(),
        state: t.state,
        action,
    }
}

/// A kiosk picture as given: `None` or `""`: chosen from the name; else one of the known.
fn clean_icon(icon: Option<&str>) -> Result<Option<String>, DomainError> {
    match icon.map(str::trim) {
        None | Some("") => Ok(None),
        Some(icon) => clinic::check_icon(icon).map(|()| Some(icon.to_owned())),
    }
}

fn check_idempotency_key(key: &str) -> Result<(), DomainError> {
    if (1..=128).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(DomainError::InvalidIdempotencyKey)
    }
}

impl QueueState {
    /// An empty clinic on `day`.
    pub fn new(day: Date) -> Self {
        Self {
            clinic: Clinic::default(),
            day,
            services: BTreeMap::new(),
            rooms: BTreeMap::new(),
            tickets: BTreeMap::new(),
            counters: BTreeMap::new(),
            next_ticket_id: 1,
            idempotency: HashMap::new(),
            index: QueueIndex::default(),
        }
    }

    /// Rebuilds the indexes from `tickets` (after the store filled them directly).
    pub fn reindex(&mut self) {
        self.index = QueueIndex::build(self.tickets.values(), self.day, self.index.head_start);
    }

    /// How much earlier than its queue time a priority ticket counts in the call order (the
    /// clinic's `queue.priority_head_start_mins`; [`super::rules::PRIORITY_HEAD_START`] until
    /// set).
    pub fn head_start(&self) -> SignedDuration {
        self.index.head_start
    }

    /// Sets the priority head start (the call order of the waiting tickets is rebuilt with it).
    pub fn set_head_start(&mut self, head_start: SignedDuration) {
        if head_start != self.index.head_start {
            self.index = QueueIndex::build(self.tickets.values(), self.day, head_start);
        }
    }

    /// The indexes over the live tickets.
    pub fn index(&self) -> &QueueIndex {
        &self.index
    }

    /// A live ticket.
    pub fn ticket(&self, id: TicketId) -> Result<&Ticket, DomainError> {
        self.tickets.get(&id).ok_or(DomainError::TicketNotFound(id))
    }

    /// A room.
    pub fn room(&self, id: &RoomId) -> Result<&Room, DomainError> {
        self.rooms
            .get(id)
            .ok_or_else(|| DomainError::RoomNotFound(id.clone()))
    }

    /// A service.
    pub fn service(&self, id: &ServiceId) -> Result<&Service, DomainError> {
        self.services
            .get(id)
            .ok_or_else(|| DomainError::ServiceNotFound(id.clone()))
    }

    /// The waiting tickets a room would call from: each of its services' in call order.
    pub fn waiting_for<'a>(&'a self, room: &'a Room) -> impl Iterator<Item = &'a Ticket> + Clone {
        self.room_queues(room)
            .flat_map(|q| q.order.iter())
            .filter_map(|key| self.tickets.get(&key.2))
    }

    /// How many tickets wait for a service of `room` (O(services)).
    pub fn waiting_count(&self, room: &Room) -> usize {
        self.room_queues(room).map(|q| q.order.len()).sum()
    }

    /// The waiting queues of the room's services (each service once).
    fn room_queues<'a>(
        &'a self,
        room: &'a Room,
    ) -> impl Iterator<Item = &'a super::index::ServiceQueue> + Clone {
        room.services
            .iter()
            .enumerate()
            .filter(|(i, s)| !room.services[..*i].contains(s))
            .filter_map(|(_, s)| self.index.service(s))
    }

    /// A page of waiting tickets: those of `services` after `after` (a live ticket: its place
    /// in the queue, whatever its state now), at most `limit`, and whether more follow.
    /// `merged`: in the order a room serving all of them calls them (see
    /// [`super::Ticket::order_key`]);
    /// otherwise service by service, each in call order. O(services + limit · log n).
    pub fn waiting_page(
        &self,
        services: &[ServiceId],
        merged: bool,
        after: Option<&Ticket>,
        limit: usize,
    ) -> (Vec<&Ticket>, bool) {
        use std::ops::Bound::{Excluded, Unbounded};
        let mut queues: Vec<(&ServiceId, &super::index::ServiceQueue)> = services
            .iter()
            .enumerate()
            .filter(|(i, s)| !services[..*i].contains(s))
            .filter_map(|(_, s)| self.index.service(s).map(|q| (s, q)))
            .collect();
        let start = after.map(|t| (t.service.clone(), t.order_key(self.head_start())));
        let mut keys: Vec<super::index::OrderKey> = Vec::with_capacity(limit.saturating_add(1));
        if merged {
            let mut heads: Vec<_> = queues
                .iter()
                .map(|(_, q)| {
                    let lower = start.as_ref().map_or(Unbounded, |(_, k)| Excluded(*k));
                    q.order.range((lower, Unbounded)).peekable()
                })
                .collect();
            while keys.len() <= limit {
                let best = heads
                    .iter_mut()
                    .enumerate()
                    .filter_map(|(i, h)| h.peek().map(|k| (**k, i)))
                    .min();
                let Some((key, i)) = best else { break };
                heads[i].next();
                keys.push(key);
            }
        } else {
            queues.sort_by(|a, b| a.0.cmp(b.0));
            for (service, q) in queues {
                let lower = match &start {
                    Some((s, _)) if service < s => continue,
                    Some((s, k)) if service == s => Excluded(*k),
                    _ => Unbounded,
                };
                let room_left = limit.saturating_add(1).saturating_sub(keys.len());
                keys.extend(q.order.range((lower, Unbounded)).take(room_left).copied());
                if keys.len() > limit {
                    break;
                }
            }
        }
        let more = keys.len() > limit;
        keys.truncate(limit);
        let tickets = keys.iter().filter_map(|k| self.tickets.get(&k.2)).collect();
        (tickets, more)
    }

    /// The live tickets called most recently (those with a room), newest first.
    pub fn recent_calls(&self) -> impl Iterator<Item = &Ticket> {
        self.index
            .calls
            .iter()
            .rev()
            .filter_map(|(_, id)| self.tickets.get(id))
    }

    /// Who the room would call now, and why (the staff console shows it).
    pub fn preview_next(&self, room: &RoomId, now: Timestamp, policy: &Policy) -> Option<Pick> {
        let room = self.rooms.get(room)?;
        self.pick_for(room, now, policy.starvation)
    }

    /// [`super::rules::pick_next`] over [`Self::waiting_for`], read from the index: the first
    /// starving ticket or the first in call order, and the tickets it passes over (O(log n +
    /// those passed over); the same answer, property-tested).
    fn pick_for(
        &self,
        room: &Room,
        now: Timestamp,
        starvation: Option<Starvation>,
    ) -> Option<Pick> {
        let queues: Vec<&super::index::ServiceQueue> = self.room_queues(room).collect();
        let starving = starvation.and_then(|s| {
            queues
                .iter()
                .flat_map(|q| {
                    q.passed
                        .range(s.max_passes.max(1)..)
                        .filter_map(|(_, set)| set.first())
                })
                .min()
                .and_then(|key| self.tickets.get(&key.2))
        });
        let (picked, reason) = match starving {
            Some(t) => (
                t,
                PickReason::Starvation {
                    class: t.priority,
                    passed_over: t.passed_over,
                },
            ),
            None => {
                let key = queues.iter().filter_map(|q| q.first_at(now)).min()?;
                let t = self.tickets.get(&key.2)?;
                (t, PickReason::HighestClass { class: t.priority })
            }
        };
        let mut passed_over = Vec::new();
        if let Some(s) = starvation {
            // Only a higher rank passes over: urgent and due appointments (a priority ticket
            // ranks with the walk-ins, its head start bounded).
            let (rank, at, id) = picked.order_key_at(now, self.head_start());
            for q in &queues {
                // class by class below the picked one: the tickets queued before it that have
                // waited long enough (oldest first, so stop at the first too recent)
                let mut from = rank.checked_add(1);
                while let Some(lower) = from {
                    let Some(&(class, _, _)) =
                        q.order.range((lower, Timestamp::MIN, TicketId(0))..).next()
                    else {
                        break;
                    };
                    passed_over.extend(
                        q.order
                            .range((class, Timestamp::MIN, TicketId(0))..(class, at, id))
                            .take_while(|k| now.duration_since(k.1) >= s.after)
                            .map(|k| k.2),
                    );
                    from = class.checked_add(1);
                }
            }
            passed_over.sort_unstable();
        }
        Some(Pick {
            ticket: picked.id,
            reason,
            passed_over,
        })
    }

    /// Refuses a prefix that is malformed or that a service other than `service` has.
    fn check_prefix_free(&self, prefix: &str, service: &ServiceId) -> Result<(), DomainError> {
        check_prefix(prefix)?;
        match self
            .services
            .values()
            .find(|s| s.prefix == prefix && &s.id != service)
        {
            Some(other) => Err(DomainError::PrefixInUse {
                prefix: prefix.to_owned(),
                service: other.id.clone(),
            }),
            None => Ok(()),
        }
    }

    /// The services, each known, without repeats, in the order given.
    /// The order a new service gets: after every other.
    fn next_service_order(&self) -> u32 {
        self.services
            .values()
            .filter_map(|s| s.order)
            .max()
            .map_or(0, |o| (o + 1).min(clinic::ORDER_MAX))
    }

    /// The order a new room gets: after every other.
    fn next_room_order(&self) -> u32 {
        self.rooms
            .values()
            .filter_map(|r| r.order)
            .max()
            .map_or(0, |o| (o + 1).min(clinic::ORDER_MAX))
    }

    /// The tone a new service gets: the first no other service has, else the least used.
    fn free_tone(&self) -> u8 {
        let mut used = [0usize; clinic::TONES as usize];
        for tone in self.services.values().filter_map(|s| s.tone) {
            if let Some(n) = used.get_mut(usize::from(tone)) {
                *n += 1;
            }
        }
        (0..clinic::TONES)
            .min_by_key(|t| used.get(usize::from(*t)).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Gives services and rooms written before `order` and `tone` existed their old places
    /// and colours ([`clinic::settle_looks`]); the store calls it on load, replay after it.
    pub fn settle_looks(&mut self) -> bool {
        clinic::settle_looks(&mut self.services, &mut self.rooms)
    }

    /// Services in list order.
    pub fn services_in_order(&self) -> Vec<&Service> {
        let mut list: Vec<&Service> = self.services.values().collect();
        list.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        list
    }

    /// Rooms in list order.
    pub fn rooms_in_order(&self) -> Vec<&Room> {
        let mut list: Vec<&Room> = self.rooms.values().collect();
        list.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        list
    }

    fn known_services(&self, services: &[ServiceId]) -> Result<Vec<ServiceId>, DomainError> {
        let mut known: Vec<ServiceId> = Vec::with_capacity(services.len());
        for id in services {
            self.service(id)?;
            if !known.contains(id) {
                known.push(id.clone());
            }
        }
        Ok(known)
    }

    /// The ticket an issue in `service` would get at `now`, queued at `queued_at` (a booked
    /// patient's slot time, else `now`): the next id and number. Refused if the service is
    /// unknown or closed.
    pub fn new_ticket(
        &self,
        service: &ServiceId,
        priority: PriorityClass,
        queued_at: Timestamp,
        origin: &Origin,
        now: Timestamp,
        policy: &Policy,
    ) -> Result<Ticket, DomainError> {
        let service = self.service(service)?;
        if !service.active {
            return Err(DomainError::ServiceClosed(service.id.clone()));
        }
        let ordinal = self.next_ordinal(&service.prefix);
        Ok(Ticket {
            id: TicketId(self.next_ticket_id),
            number: format_number(&service.prefix, ordinal, policy.number_digits),
            ordinal,
            service: service.id.clone(),
            priority,
            state: TicketState::Waiting,
            day: self.day,
            created_at: now,
            queued_at,
            called_at: None,
            finished_at: None,
            room: None,
            recall_count: 0,
            passed_over: 0,
            requeue_count: 0,
            transferred_from: None,
            transferred_to: None,
            cancel_reason: None,
            source: origin.source,
            feedback_given: false,
        })
    }

    /// Decides a command at `now`. Never changes the state.
    pub fn decide(
        &self,
        command: &Command,
        origin: &Origin,
        now: Timestamp,
        policy: &Policy,
    ) -> Result<Decision, DomainError> {
        let event = match command {
            Command::IssueTicket {
                service,
                priority,
                idempotency_key,
                ..
            } => {
                if let Some(key) = idempotency_key {
                    check_idempotency_key(key)?;
                    if let Some(seen) = self.idempotency.get(key)
                        && now.duration_since(seen.at) <= policy.idempotency_window
                        && self.tickets.contains_key(&seen.ticket)
                    {
                        if !seen.matches(&request_hash(service, *priority, origin.source)) {
                            return Err(DomainError::IdempotencyKeyReused);
                        }
                        return Ok(Decision::Replayed {
                            ticket: seen.ticket,
                        });
                    }
                }
                if *priority == PriorityClass::Appointment {
                    return Err(DomainError::AppointmentNeedsCheckIn);
                }
                EventKind::TicketIssued {
                    ticket: self.new_ticket(service, *priority, now, origin, now, policy)?,
                    idempotency_key: idempotency_key.clone(),
                    booking: None,
                    estimate_mins: None,
                }
            }
            Command::CancelTicket { ticket } => {
                let t = self.ticket(*ticket)?;
                if !matches!(t.state, TicketState::Waiting | TicketState::Called) {
                    return Err(transition(t, "cancelled"));
                }
                let mut t = t.finished(TicketState::Cancelled, now);
                t.cancel_reason = Some(CancelReason::Requested);
                EventKind::TicketCancelled { ticket: t }
            }
            Command::RequeueTicket { ticket } => {
                let t = self.ticket(*ticket)?;
                let requeueable = matches!(t.state, TicketState::Called | TicketState::NoShow)
                    || (t.state == TicketState::Cancelled
                        && t.cancel_reason == Some(CancelReason::Requested));
                if !requeueable {
                    return Err(transition(t, "requeued"));
                }
                let mut t = t.clone();
                t.state = TicketState::Waiting;
                t.queued_at = now;
                t.finished_at = None;
                t.cancel_reason = None;
                t.room = None;
                t.passed_over = 0;
                t.requeue_count = t.requeue_count.saturating_add(1);
                EventKind::TicketRequeued { ticket: t }
            }
            Command::TransferTicket { ticket, service } => {
                let t = self.ticket(*ticket)?;
                let target = self.service(service)?;
                if !matches!(t.state, TicketState::Waiting | TicketState::Called) {
                    return Err(transition(t, "transferred"));
                }
                if t.service == target.id {
                    return Err(DomainError::SameService(
                        t.number.clone(),
                        target.id.clone(),
                    ));
                }
                let to = Ticket {
                    id: TicketId(self.next_ticket_id),
                    service: target.id.clone(),
                    state: TicketState::Waiting,
                    day: self.day,
                    queued_at: now,
                    called_at: None,
                    finished_at: None,
                    room: None,
                    recall_count: 0,
                    passed_over: 0,
                    transferred_from: Some(t.id),
                    transferred_to: None,
                    cancel_reason: None,
                    ..t.clone()
                };
                let mut from = t.finished(TicketState::Transferred, now);
                from.transferred_to = Some(to.id);
                EventKind::TicketTransferred { from, to }
            }
            Command::RoomNext { room } => {
                return self.decide_next(room, now, policy, NextHow::Done);
            }
            Command::RoomNoShowNext { room } => {
                return self.decide_next(room, now, policy, NextHow::NoShow);
            }
            Command::RoomCall {
                room,
                ticket,
                reason,
            } => {
                let how = NextHow::Chosen {
                    ticket: *ticket,
                    note: call_note(reason)?,
                };
                return self.decide_next(room, now, policy, how);
            }
            Command::SetRoomPaused { room, paused } => {
                let r = self.room(room)?;
                if r.paused == *paused {
                    return Ok(Decision::Unchanged);
                }
                if *paused && !r.open {
                    return Err(DomainError::RoomClosed(room.clone()));
                }
                if *paused {
                    EventKind::RoomPaused { room: room.clone() }
                } else {
                    EventKind::RoomResumed { room: room.clone() }
                }
            }
            Command::RoomRecall { room } => {
                let mut t = self.serving(room)?.clone();
                t.recall_count = t.recall_count.saturating_add(1);
                EventKind::TicketRecalled {
                    room: room.clone(),
                    ticket: t,
                }
            }
            Command::RoomDone { room } => EventKind::TicketDone {
                room: room.clone(),
                ticket: self.serving(room)?.finished(TicketState::Done, now),
            },
            Command::RoomNoShow { room } => EventKind::TicketNoShow {
                room: room.clone(),
                ticket: self.serving(room)?.finished(TicketState::NoShow, now),
            },
            Command::RoomUndo { room } => self.decide_undo(room, now, policy)?,
            Command::SetRoomOpen { room, open } => {
                if self.room(room)?.open == *open {
                    return Ok(Decision::Unchanged);
                }
                if *open {
                    EventKind::RoomOpened { room: room.clone() }
                } else {
                    EventKind::RoomClosed { room: room.clone() }
                }
            }
            Command::SetServiceActive {
                service,
                active,
                reopens_at,
            } => {
                let current = self.service(service)?;
                let reopens_at = if *active { None } else { *reopens_at };
                if current.active == *active && current.reopens_at == reopens_at {
                    return Ok(Decision::Unchanged);
                }
                if *active {
                    EventKind::ServiceOpened {
                        service: service.clone(),
                    }
                } else {
                    EventKind::ServiceClosed {
                        service: service.clone(),
                        reopens_at,
                    }
                }
            }
            Command::SetClinicMessage { message } => {
                let message = message.trim();
                if message.chars().count() > MESSAGE_MAX {
                    return Err(DomainError::MessageTooLong(MESSAGE_MAX));
                }
                if message.chars().any(char::is_control) {
                    return Err(DomainError::MessageControlCharacters);
                }
                if self.clinic.message == message {
                    return Ok(Decision::Unchanged);
                }
                EventKind::ClinicMessageSet {
                    message: message.to_owned(),
                }
            }
            Command::AddService {
                service,
                name,
                prefix,
                carry_over,
                names,
                order,
                tone,
                icon,
                ask_priority,
            } => {
                if self.services.contains_key(service) {
                    return Err(DomainError::ServiceExists(service.clone()));
                }
                self.check_prefix_free(prefix, service)?;
                EventKind::ServiceAdded {
                    service: Service {
                        id: service.clone(),
                        name: setup::clean_name("service", name)?,
                        prefix: prefix.clone(),
                        active: true,
                        carry_over: *carry_over,
                        reopens_at: None,
                        names: setup::clean_names("service", names)?,
                        order: Some(match order {
                            Some(order) => clinic::check_order(*order).map(|()| *order)?,
                            None => self.next_service_order(),
                        }),
                        tone: Some(match tone {
                            Some(tone) => clinic::check_tone(*tone).map(|()| *tone)?,
                            None => self.free_tone(),
                        }),
                        icon: clean_icon(icon.as_deref())?,
                        ask_priority: ask_priority.unwrap_or(true),
                    },
                }
            }
            Command::UpdateService { service, change } => {
                let mut s = self.service(service)?.clone();
                if let Some(name) = &change.name {
                    s.name = setup::clean_name("service", name)?;
                }
                if let Some(prefix) = &change.prefix {
                    self.check_prefix_free(prefix, service)?;
                    s.prefix.clone_from(prefix);
                }
                if let Some(carry_over) = change.carry_over {
                    s.carry_over = carry_over;
                }
                if let Some(names) = &change.names {
                    s.names = setup::clean_names("service", names)?;
                }
                if let Some(order) = change.order {
                    clinic::check_order(order)?;
                    s.order = Some(order);
                }
                if let Some(tone) = change.tone {
                    clinic::check_tone(tone)?;
                    s.tone = Some(tone);
                }
                if let Some(icon) = &change.icon {
                    s.icon = clean_icon(Some(icon))?;
                }
                if let Some(ask) = change.ask_priority {
                    s.ask_priority = ask;
                }
                if self.services.get(service) == Some(&s) {
                    return Ok(Decision::Unchanged);
                }
                EventKind::ServiceUpdated { service: s }
            }
            Command::AddRoom {
                room,
                name,
                names,
                services,
                order,
            } => {
                if self.rooms.contains_key(room) {
                    return Err(DomainError::RoomExists(room.clone()));
                }
                let order = match order {
                    Some(order) => clinic::check_order(*order).map(|()| *order)?,
                    None => self.next_room_order(),
                };
                EventKind::RoomAdded {
                    room: Room {
                        id: room.clone(),
                        name: setup::clean_name("room", name)?,
                        names: setup::clean_names("room", names)?,
                        services: self.known_services(services)?,
                        open: false,
                        paused: false,
                        serving: None,
                        last_next: None,
                        stats: ServiceTimes::default(),
                        order: Some(order),
                    },
                }
            }
            Command::UpdateRoom { room, change } => {
                let current = self.room(room)?;
                let name = match &change.name {
                    Some(name) => setup::clean_name("room", name)?,
                    None => current.name.clone(),
                };
                let names = match &change.names {
                    Some(names) => setup::clean_names("room", names)?,
                    None => current.names.clone(),
                };
                let services = match &change.services {
                    Some(services) => self.known_services(services)?,
                    None => current.services.clone(),
                };
                let order = match change.order {
                    Some(order) => clinic::check_order(order).map(|()| Some(order))?,
                    None => current.order,
                };
                if name == current.name
                    && names == current.names
                    && services == current.services
                    && order == current.order
                {
                    return Ok(Decision::Unchanged);
                }
                EventKind::RoomUpdated {
                    room: room.clone(),
                    name,
                    names,
                    services,
                    order,
                }
            }
            Command::SetClinicSettings { change } => {
                let mut clinic = self.clinic.clone();
                if let Some(name) = &change.name {
                    clinic.name = setup::clean_name("clinic", name)?;
                }
                if let Some(kiosk) = &change.kiosk {
                    kiosk.check()?;
                    clinic.kiosk = kiosk.clone();
                }
                if let Some(required) = change.pairing_required {
                    clinic.pairing_required = required;
                }
                if clinic == self.clinic {
                    return Ok(Decision::Unchanged);
                }
                EventKind::ClinicSettingsSet { clinic }
            }
            Command::PurgePatients {
                tickets,
                bookings,
                feedback,
                older_than,
            } => {
                if tickets.is_empty() && bookings.is_empty() && feedback.is_empty() {
                    return Ok(Decision::Unchanged);
                }
                EventKind::PersonalDataPurged {
                    records: (tickets.len() + bookings.len() + feedback.len()) as u64,
                    older_than: *older_than,
                }
            }
            Command::Staff { .. } | Command::Appointment { .. } | Command::CheckIn { .. } => {
                return Err(DomainError::NotAQueueCommand);
            }
            Command::GiveFeedback {
                ticket,
                score,
                comment,
            } => {
                let score = super::feedback::check_answer(*score, comment.as_deref())?;
                super::feedback::decide(self.transferred_end(*ticket)?, score, now)?
            }
            Command::SendPhoneCode { .. } => EventKind::PhoneCodeSent {},
            Command::CloseDay { new_day } => {
                if *new_day <= self.day {
                    return Ok(Decision::Unchanged);
                }
                let closed = self
                    .tickets
                    .values()
                    .filter(|t| !t.state.is_terminal())
                    .filter(|t| !self.services.get(&t.service).is_some_and(|s| s.carry_over))
                    .map(|t| {
                        if t.state == TicketState::Waiting {
                            let mut t = t.finished(TicketState::Cancelled, now);
                            t.cancel_reason = Some(CancelReason::Unattended);
                            t
                        } else {
                            t.finished(TicketState::Done, now)
                        }
                    })
                    .collect();
                EventKind::DayClosed {
                    day: self.day,
                    new_day: *new_day,
                    closed,
                }
            }
        };
        Ok(Decision::Event(event))
    }

    /// The next free ordinal for `prefix` today: above the counter and not held by a live
    /// (carried-over) ticket.
    pub(crate) fn next_ordinal(&self, prefix: &str) -> u32 {
        let mut ordinal = self.counters.get(prefix).copied().unwrap_or(0) + 1;
        while self.index.carried_holds(prefix, ordinal) {
            ordinal += 1;
        }
        ordinal
    }

    /// Ticket `id`, or the ticket its transfers made of it (where the patient is now).
    pub fn transferred_end(&self, id: TicketId) -> Result<&Ticket, DomainError> {
        let mut t = self.ticket(id)?;
        for _ in 0..16 {
            match t.transferred_to.and_then(|next| self.tickets.get(&next)) {
                Some(next) => t = next,
                None => break,
            }
        }
        Ok(t)
    }

    fn serving(&self, room: &RoomId) -> Result<&Ticket, DomainError> {
        let r = self.room(room)?;
        let id = r
            .serving
            .ok_or_else(|| DomainError::RoomIdle(room.clone()))?;
        self.ticket(id)
    }

    fn decide_next(
        &self,
        room_id: &RoomId,
        now: Timestamp,
        policy: &Policy,
        how: NextHow,
    ) -> Result<Decision, DomainError> {
        let room = self.room(room_id)?;
        if !room.open {
            return Err(DomainError::RoomClosed(room_id.clone()));
        }
        if room.paused {
            return Err(DomainError::RoomOnBreak(room_id.clone()));
        }
        // A call of a named ticket is deliberate (a dialog, a reason): never debounced.
        if !matches!(how, NextHow::Chosen { .. })
            && let Some(last) = &room.last_next
            && now.duration_since(last.at) < policy.debounce
        {
            return Ok(Decision::Debounced {
                room: room_id.clone(),
                serving: room.serving,
            });
        }
        let finished_as = match how {
            NextHow::NoShow => TicketState::NoShow,
            NextHow::Done | NextHow::Chosen { .. } => TicketState::Done,
        };
        let finished = match room.serving {
            Some(id) => Some(self.ticket(id)?.finished(finished_as, now)),
            None if how == NextHow::NoShow => {
                return Err(DomainError::RoomIdle(room_id.clone()));
            }
            None => None,
        };
        let pick = match how {
            NextHow::Chosen { ticket, note } => {
                let t = self.ticket(ticket)?;
                if t.state != TicketState::Waiting {
                    return Err(transition(t, "called"));
                }
                if !room.serves(&t.service) {
                    return Err(DomainError::NotThisRoomsTicket {
                        number: t.number.clone(),
                        room: room_id.clone(),
                        service: t.service.clone(),
                    });
                }
                Some(Pick {
                    ticket,
                    reason: PickReason::Chosen {
                        class: t.priority,
                        note,
                    },
                    passed_over: Vec::new(),
                })
            }
            NextHow::Done | NextHow::NoShow => self.pick_for(room, now, policy.starvation),
        };
        if finished.is_none() && pick.is_none() {
            return Ok(Decision::Unchanged);
        }
        let (called, reason, passed_over) = match pick {
            Some(pick) => {
                let mut t = self.ticket(pick.ticket)?.clone();
                t.state = TicketState::Called;
                t.called_at = Some(now);
                t.room = Some(room_id.clone());
                t.recall_count = 0;
                (Some(t), Some(pick.reason), pick.passed_over)
            }
            None => (None, None, Vec::new()),
        };
        Ok(Decision::Event(EventKind::RoomNext {
            room: room_id.clone(),
            called,
            finished,
            reason,
            passed_over,
        }))
    }

    fn decide_undo(
        &self,
        room_id: &RoomId,
        now: Timestamp,
        policy: &Policy,
    ) -> Result<EventKind, DomainError> {
        let room = self.room(room_id)?;
        let last = room
            .last_next
            .as_ref()
            .ok_or_else(|| DomainError::NothingToUndo(room_id.clone()))?;
        if now.duration_since(last.at) > policy.undo_window {
            return Err(DomainError::UndoExpired {
                room: room_id.clone(),
                window_secs: policy.undo_window.as_secs(),
            });
        }
        // Undo only if nothing touched those tickets since: the one called is still served
        // here, the one finished is still done from that "next" (and has no feedback).
        let unchanged = last.before.iter().all(|before| {
            let Some(now_t) = self.tickets.get(&before.id) else {
                return false;
            };
            match before.state {
                TicketState::Waiting => {
                    now_t.state == TicketState::Called && room.serving == Some(now_t.id)
                }
                // Finished by that "next": done, or not come (no-show and next).
                // A patient who answered "How was your visit?" was served: that stays.
                TicketState::Called => {
                    matches!(now_t.state, TicketState::Done | TicketState::NoShow)
                        && now_t.finished_at == Some(last.at)
                        && !now_t.feedback_given
                }
                _ => false,
            }
        });
        let called_anyone = last.before.iter().any(|t| t.state == TicketState::Waiting);
        if !unchanged || (!called_anyone && room.serving.is_some()) {
            return Err(DomainError::UndoConflict(room_id.clone()));
        }
        // Take back only passes still counted: a ticket requeued (or gone) since started its
        // count again.
        let passed_over = last
            .passed_over
            .iter()
            .filter(|(id, requeues)| {
                self.tickets
                    .get(id)
                    .is_some_and(|t| t.requeue_count == *requeues)
            })
            .map(|(id, _)| *id)
            .collect();
        // Restore the tickets as they were, but with their pass counts as they are now: other
        // rooms' undos may have changed those since.
        let restored = last
            .before
            .iter()
            .map(|before| Ticket {
                passed_over: self
                    .tickets
                    .get(&before.id)
                    .map_or(before.passed_over, |t| t.passed_over),
                ..before.clone()
            })
            .collect();
        Ok(EventKind::NextUndone {
            room: room_id.clone(),
            restored,
            passed_over,
        })
    }

    /// Changes the state by a committed event. Deterministic: the same events in the same order
    /// give the same state.
    pub fn apply(&mut self, event: &Event) -> Touched {
        let mut touched = Touched::default();
        let at = event.at;
        match &event.kind {
            EventKind::ClinicSeeded {
                clinic,
                services,
                rooms,
            } => {
                self.clinic = clinic.clone();
                for s in services {
                    touched.services.push(s.id.clone());
                    self.services.insert(s.id.clone(), s.clone());
                }
                for r in rooms {
                    touched.rooms.push(r.id.clone());
                    self.rooms.insert(r.id.clone(), r.clone());
                }
            }
            EventKind::TicketIssued {
                ticket,
                idempotency_key,
                ..
            } => {
                let counter = self
                    .counters
                    .entry(prefix_of(&ticket.number).to_owned())
                    .or_insert(0);
                *counter = (*counter).max(ticket.ordinal);
                if let Some(key) = idempotency_key {
                    self.idempotency.insert(
                        key.clone(),
                        IdempotencyEntry {
                            ticket: ticket.id,
                            at,
                            request: Some(request_hash(
                                &ticket.service,
                                ticket.priority,
                                ticket.source,
                            )),
                        },
                    );
                    touched.idempotency = Some(key.clone());
                }
                self.put_ticket(ticket.clone(), &mut touched);
            }
            EventKind::RoomNext {
                room,
                called,
                finished,
                passed_over,
                ..
            } => {
                let mut before = Vec::new();
                for t in finished.iter().chain(called.iter()) {
                    if let Some(old) = self.tickets.get(&t.id) {
                        before.push(old.clone());
                    }
                }
                let mut passes = Vec::with_capacity(passed_over.len());
                for id in passed_over {
                    if let Some(t) =
                        self.modify_ticket(*id, |t| t.passed_over = t.passed_over.saturating_add(1))
                    {
                        passes.push((*id, t.requeue_count));
                        touched.tickets.push(*id);
                    }
                }
                if let Some(r) = self.rooms.get_mut(room) {
                    let stats_before = r.stats;
                    if let Some(f) = finished.as_ref().filter(|f| f.state == TicketState::Done) {
                        record_service_time(r, f);
                    }
                    r.serving = called.as_ref().map(|t| t.id);
                    r.last_next = Some(NextRecord {
                        at,
                        before,
                        passed_over: passes,
                        stats_before,
                    });
                    touched.rooms.push(room.clone());
                }
                for t in finished.iter().chain(called.iter()) {
                    self.put_ticket(t.clone(), &mut touched);
                }
            }
            EventKind::TicketRecalled { ticket, .. } => {
                self.put_ticket(ticket.clone(), &mut touched)
            }
            EventKind::TicketDone { room, ticket } | EventKind::TicketNoShow { room, ticket } => {
                if let Some(r) = self.rooms.get_mut(room) {
                    if ticket.state == TicketState::Done {
                        record_service_time(r, ticket);
                    }
                    r.serving = None;
                    touched.rooms.push(room.clone());
                }
                self.put_ticket(ticket.clone(), &mut touched);
            }
            EventKind::TicketCancelled { ticket } | EventKind::TicketRequeued { ticket } => {
                self.release_room_of(ticket.id, &mut touched);
                self.put_ticket(ticket.clone(), &mut touched);
            }
            EventKind::TicketTransferred { from, to } => {
                self.release_room_of(from.id, &mut touched);
                self.put_ticket(from.clone(), &mut touched);
                self.put_ticket(to.clone(), &mut touched);
            }
            EventKind::NextUndone {
                room,
                restored,
                passed_over,
            } => {
                for id in passed_over {
                    if self
                        .modify_ticket(*id, |t| t.passed_over = t.passed_over.saturating_sub(1))
                        .is_some()
                    {
                        touched.tickets.push(*id);
                    }
                }
                if let Some(r) = self.rooms.get_mut(room) {
                    r.serving = restored
                        .iter()
                        .find(|t| t.state == TicketState::Called)
                        .map(|t| t.id);
                    if let Some(last) = r.last_next.take() {
                        r.stats = last.stats_before;
                    }
                    touched.rooms.push(room.clone());
                }
                for t in restored {
                    self.put_ticket(t.clone(), &mut touched);
                }
            }
            EventKind::RoomOpened { room } | EventKind::RoomClosed { room } => {
                let open = matches!(event.kind, EventKind::RoomOpened { .. });
                if let Some(r) = self.rooms.get_mut(room) {
                    r.open = open;
                    // Opening or closing ends a break.
                    r.paused = false;
                    touched.rooms.push(room.clone());
                }
            }
            EventKind::RoomPaused { room } | EventKind::RoomResumed { room } => {
                if let Some(r) = self.rooms.get_mut(room) {
                    r.paused = matches!(event.kind, EventKind::RoomPaused { .. });
                    touched.rooms.push(room.clone());
                }
            }
            EventKind::ServiceOpened { service } | EventKind::ServiceClosed { service, .. } => {
                if let Some(s) = self.services.get_mut(service) {
                    s.active = matches!(event.kind, EventKind::ServiceOpened { .. });
                    s.reopens_at = match &event.kind {
                        EventKind::ServiceClosed { reopens_at, .. } => *reopens_at,
                        _ => None,
                    };
                    touched.services.push(service.clone());
                }
            }
            EventKind::ClinicMessageSet { message } => {
                self.clinic.message.clone_from(message);
                touched.clinic = true;
            }
            EventKind::ServiceAdded { service } | EventKind::ServiceUpdated { service } => {
                touched.services.push(service.id.clone());
                self.services.insert(service.id.clone(), service.clone());
            }
            EventKind::RoomAdded { room } => {
                touched.rooms.push(room.id.clone());
                self.rooms.insert(room.id.clone(), room.clone());
            }
            EventKind::RoomUpdated {
                room,
                name,
                names,
                services,
                order,
            } => {
                if let Some(r) = self.rooms.get_mut(room) {
                    r.name.clone_from(name);
                    r.names.clone_from(names);
                    r.services.clone_from(services);
                    if order.is_some() {
                        r.order = *order;
                    }
                    touched.rooms.push(room.clone());
                }
            }
            EventKind::ClinicSettingsSet { clinic } => {
                self.clinic = clinic.clone();
                touched.clinic = true;
            }
            EventKind::FeedbackGiven { ticket, .. } => {
                if self
                    .modify_ticket(*ticket, |t| t.feedback_given = true)
                    .is_some()
                {
                    touched.tickets.push(*ticket);
                }
            }
            EventKind::StaffChanged { .. }
            | EventKind::PersonalDataPurged { .. }
            | EventKind::PhoneCodeSent {}
            | EventKind::AppointmentChanged { .. } => {}
            EventKind::DayClosed {
                new_day, closed, ..
            } => {
                for t in closed {
                    self.put_ticket(t.clone(), &mut touched);
                }
                for r in self.rooms.values_mut() {
                    let still_called = r.serving.is_some_and(|id| {
                        self.tickets
                            .get(&id)
                            .is_some_and(|t| t.state == TicketState::Called)
                    });
                    if !still_called {
                        r.serving = None;
                    }
                    r.last_next = None;
                    touched.rooms.push(r.id.clone());
                }
                let ended: Vec<TicketId> = self
                    .tickets
                    .values()
                    .filter(|t| t.state.is_terminal())
                    .map(|t| t.id)
                    .collect();
                for id in ended {
                    if let Some(t) = self.tickets.remove(&id) {
                        touched.archived.push(t);
                    }
                }
                touched.tickets.retain(|id| self.tickets.contains_key(id));
                self.counters.clear();
                self.idempotency.clear();
                self.day = *new_day;
                self.reindex();
                touched.day_closed = true;
            }
        }
        touched
    }

    fn put_ticket(&mut self, ticket: Ticket, touched: &mut Touched) {
        self.next_ticket_id = self.next_ticket_id.max(ticket.id.0 + 1);
        touched.tickets.push(ticket.id);
        let id = ticket.id;
        let old = self.tickets.insert(id, ticket);
        self.index
            .update(old.as_ref(), self.tickets.get(&id), self.day);
    }

    /// Changes a live ticket in place, keeping the index; returns it as it is now.
    fn modify_ticket(&mut self, id: TicketId, change: impl FnOnce(&mut Ticket)) -> Option<&Ticket> {
        let t = self.tickets.get_mut(&id)?;
        let old = t.clone();
        change(t);
        self.index.update(Some(&old), Some(t), self.day);
        Some(t)
    }

    /// Frees the room serving `ticket`, if any.
    fn release_room_of(&mut self, ticket: TicketId, touched: &mut Touched) {
        for r in self.rooms.values_mut() {
            if r.serving == Some(ticket) {
                r.serving = None;
                touched.rooms.push(r.id.clone());
            }
        }
    }

    /// Positions and wait estimates of every waiting ticket.
    pub fn placements(&self, policy: &Policy) -> HashMap<TicketId, Placement> {
        let mut placements = HashMap::new();
        for (service, queue) in &self.index.waiting {
            let rates = self.room_rates(service, policy);
            for (position, key) in queue.order.iter().enumerate() {
                let Some(t) = self.tickets.get(&key.2) else {
                    continue;
                };
                placements.insert(
                    key.2,
                    Placement {
                        position,
                        eta: self.eta_at(
                            service,
                            t.priority.rank(),
                            t.queued_at,
                            position,
                            &rates,
                            policy,
                        ),
                    },
                );
            }
        }
        placements
    }

    /// Position and estimate of one ticket (`None` unless it is waiting). O(log n + rooms).
    pub fn placement(&self, ticket: &Ticket, policy: &Policy) -> Option<Placement> {
        if ticket.state != TicketState::Waiting {
            return None;
        }
        let position = self
            .index
            .service(&ticket.service)
            .map_or(0, |q| q.rank(&ticket.order_key(self.head_start())));
        let rates = self.room_rates(&ticket.service, policy);
        Some(Placement {
            position,
            eta: self.eta_at(
                &ticket.service,
                ticket.priority.rank(),
                ticket.queued_at,
                position,
                &rates,
                policy,
            ),
        })
    }

    /// The placement of a normal ticket with `position` people ahead in `service`'s queue,
    /// queued now (as of the service's latest issue).
    pub fn placed_at(&self, service: &ServiceId, position: usize, policy: &Policy) -> Placement {
        let rates = self.room_rates(service, policy);
        let now = self
            .index
            .arrivals(service)
            .and_then(Arrivals::last)
            .unwrap_or(Timestamp::MAX);
        Placement {
            position,
            eta: self.eta_at(
                service,
                PriorityClass::Normal.rank(),
                now,
                position,
                &rates,
                policy,
            ),
        }
    }

    /// The wait of a ticket of class rank `class`, queued at `queued`, with `position` people
    /// ahead in `service`'s queue, as of the service's latest issue (the estimate reads no
    /// clock): the people ahead, the urgent and booked patients expected to arrive meanwhile
    /// (their rate over the last hour, bounded by anti-starvation), for a normal ticket the
    /// priority tickets expected to arrive within their head start of its queue time, and for
    /// an urgent or booked ticket the walk-ins anti-starvation is expected to call first.
    /// O(log n + rooms).
    fn eta_at(
        &self,
        service: &ServiceId,
        class: u8,
        queued: Timestamp,
        position: usize,
        rooms: &[RoomRate],
        policy: &Policy,
    ) -> Option<Eta> {
        let mut load = Load::ahead(position);
        let arrivals = self.index.arrivals(service);
        let Some(now) = arrivals.and_then(Arrivals::last) else {
            return estimate_load(&load, rooms);
        };
        let priority = PriorityClass::Priority.rank();
        // Urgent and due booked patients pass every walk-in; a priority ticket passes a
        // normal one only within its head start.
        load.inflow_per_sec = arrivals.map_or(0.0, |a| inflow_rate(a, 0..class.min(priority), now));
        if class == PriorityClass::Normal.rank() {
            load.head_start_per_sec =
                arrivals.map_or(0.0, |a| inflow_rate(a, priority..class, now));
            // what is left of the head start after its queue time (a requeue after the latest
            // issue has all of it)
            let head_start = self.head_start().as_secs_f64();
            let waited = now.duration_since(queued).as_secs_f64();
            load.head_start_secs = (head_start - waited).clamp(0.0, head_start);
        }
        let Some(starvation) = policy.starvation else {
            return estimate_load(&load, rooms);
        };
        let after = starvation.after.as_secs_f64().max(0.0);
        let passes = f64::from(starvation.max_passes.max(1));
        // Passes count only after `after`; then at most `max_passes` more pass it.
        load.inflow_cap = Some(load.inflow_per_sec * after + passes);
        if class < priority
            && let Some(queue) = self.index.service(service)
            && let Some(wait) = mean_wait_secs(&load, rooms)
        {
            // Walk-ins waiting long enough to be passed over by the calls before this ticket:
            // once passed `max_passes` times, they are called first.
            let offset = (wait - after).clamp(-1e9, 1e9) as i64;
            let cutoff = now
                .checked_add(SignedDuration::from_secs(offset))
                .unwrap_or(now);
            let lower: usize = (class.saturating_add(1)..=PriorityClass::Normal.rank())
                .map(|r| queue.count_queued_by(r, cutoff))
                .sum();
            // Each call before this ticket passes them once more; those already passed
            // `max_passes` times go first whatever.
            let starving: usize = queue
                .passed
                .range(starvation.max_passes.max(1)..)
                .map(|(_, set)| set.len())
                .sum();
            let jumpers = lower as f64 * (position as f64 / passes).min(1.0);
            load.ahead += jumpers.max(starving as f64);
        }
        estimate_load(&load, rooms)
    }

    /// The open rooms serving `service`, and while one is open, the closed ones that have not
    /// worked today (a late start: expected [`LATE_OPEN_SECS`] after the service's first
    /// ticket, absent after [`LATE_ABSENT_SECS`]), each with the share of its time it gives
    /// `service`:
    /// a room that calls several services splits its rate by their waiting counts (plus one
    /// for `service`, so that it always gets a share). O(rooms · services per room).
    fn room_rates(&self, service: &ServiceId, policy: &Policy) -> Vec<RoomRate> {
        let arrivals = self.index.arrivals(service);
        let first = arrivals.and_then(Arrivals::first);
        let now = arrivals.and_then(Arrivals::last);
        // A closed room that has not pressed "next" today (a day's close clears it) is expected
        // to open: a late start. An open room opens now.
        let opens_in = |r: &Room| -> Option<f64> {
            if r.open {
                return Some(0.0);
            }
            if r.last_next.is_some() {
                return None;
            }
            let since = now?.duration_since(first?).as_secs_f64();
            (since < LATE_ABSENT_SECS).then(|| (LATE_OPEN_SECS - since).max(1.0))
        };
        if !self.rooms.values().any(|r| r.open && r.serves(service)) {
            return Vec::new();
        }
        self.rooms
            .values()
            .filter(|r| r.serves(service))
            .filter_map(|r| opens_in(r).map(|d| (r, d)))
            .map(|(r, opens_in_secs)| {
                let (mean, dev) = if r.stats.samples == 0 {
                    (
                        policy.default_service_secs,
                        policy.default_service_secs / 4.0,
                    )
                } else {
                    (r.stats.mean_secs, r.stats.dev_secs)
                };
                let own = self.index.waiting_count(service) as f64 + 1.0;
                let all: f64 = r
                    .services
                    .iter()
                    .filter(|s| *s != service)
                    .map(|s| self.index.waiting_count(s) as f64)
                    .sum::<f64>()
                    + own;
                let share = own / all;
                RoomRate {
                    mean_secs: mean / share,
                    dev_secs: dev / share,
                    busy: r.serving.is_some() || r.paused,
                    opens_in_secs,
                }
            })
            .collect()
    }

    /// Builds an event for `kind` as the engine will log it.
    pub fn event(seq: u64, at: Timestamp, origin: &Origin, kind: EventKind) -> Event {
        Event {
            seq,
            at,
            source: origin.source,
            actor: origin.actor.clone(),
            address: origin.address.clone(),
            kind,
        }
    }
}

/// The recent arrival rate (per second) of the class ranks `classes`: their tickets issued in
/// the last hour (or since the first ticket of the day, at least 15 minutes) up to `now`.
/// O(classes · log n).
fn inflow_rate(arrivals: &Arrivals, classes: std::ops::Range<u8>, now: Timestamp) -> f64 {
    const WINDOW_SECS: i64 = 3_600;
    const MIN_WINDOW_SECS: f64 = 900.0;
    let from = now
        .checked_sub(SignedDuration::from_secs(WINDOW_SECS))
        .unwrap_or(now);
    let since_first = arrivals
        .first()
        .map_or(0.0, |first| now.duration_since(first).as_secs_f64());
    let window = since_first.clamp(MIN_WINDOW_SECS, WINDOW_SECS as f64);
    let count: usize = classes.map(|r| arrivals.count(r, from, now)).sum();
    count as f64 / window
}

fn record_service_time(room: &mut Room, finished: &Ticket) {
    if let (Some(called), Some(done)) = (finished.called_at, finished.finished_at) {
        room.stats.add(done.duration_since(called).as_secs_f64());
    }
}
