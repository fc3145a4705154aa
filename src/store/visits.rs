//! Visits of closed days ([`VISITS`]): what reports are computed from, folded once.
//!
//! The commit that closes a clinic day folds that day's events into per-visit facts
//! ([`crate::domain::report::VisitLog`]) and writes them in the same transaction, so a report
//! over a year reads a few hundred thousand small rows instead of replaying millions of events.
//! Today's visits are still folded from the log at report time ([`Store::visits_between`] says
//! where the folded part ends).
//!
//! Layout:
//! - [`VISITS`]: the visit's first ticket id → a compact binary row ([`Row`], postcard: about
//!   60 bytes, where the JSON of a [`Visit`] is about 400).
//! - [`VISIT_DAYS`]: one row per fold, keyed by its first ticket id: the last ticket id and the
//!   first and last issue time, so a range reads only the days it overlaps.
//! - [`VISIT_ALIASES`]: a ticket a transfer made → the visit's first ticket.
//! - `visits_through` in [`META`]: the last event folded; `visits_open`: the visits folded while
//!   still open (a carried-over ticket), which the next fold takes up and rewrites in place.
//!
//! The rows are derived data: a change of [`Row`]'s fields needs a schema step that deletes these
//! tables and `visits_through`, so that [`Store::fold_earlier_days`] folds them again at start.
//!
//! A `feedback_given` for a visit already folded updates its row in its own commit. Visits hold
//! no personal data (numbers, services, rooms, staff actors), so the retention rule leaves them.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::tables::{
    EVENTS, META, META_VISITS_OPEN, META_VISITS_THROUGH, VISIT_ALIASES, VISIT_DAYS, VISITS,
};
use super::{Store, StoreError, codec};
use crate::domain::report::{Outcome, Replay, Visit, VisitClass, VisitLog};
use crate::domain::{Event, EventKind, Policy, RoomId, ServiceId, TicketId, Timestamp};

/// A stored visit. Times are milliseconds: since the Unix epoch for the issue, after the issue
/// for the rest (small numbers, small varints).
#[derive(Debug, Serialize, Deserialize)]
struct Row<'a> {
    number: &'a str,
    service: &'a str,
    room: Option<&'a str>,
    called_by: Option<&'a str>,
    class: u8,
    issued: i64,
    first_called: Option<i64>,
    last_called: Option<i64>,
    finished: Option<i64>,
    outcome: u8,
    recalls: u32,
    transfers: u32,
    estimate_mins: Option<u32>,
    feedback: Option<u8>,
}

/// One fold's extent.
#[derive(Debug, Serialize, Deserialize)]
struct DayRow {
    last_ticket: u64,
    first_issued: i64,
    last_issued: i64,
    visits: u64,
}

const CLASSES: [VisitClass; 4] = [
    VisitClass::WalkIn,
    VisitClass::Priority,
    VisitClass::Urgent,
    VisitClass::Appointment,
];
const OUTCOMES: [Outcome; 4] = [
    Outcome::Open,
    Outcome::Done,
    Outcome::NoShow,
    Outcome::Cancelled,
];

fn millis(at: Timestamp) -> i64 {
    at.as_millisecond()
}

fn after(issued: Timestamp, at: Option<Timestamp>) -> Option<i64> {
    at.map(|at| millis(at) - millis(issued))
}

fn at(issued: i64, offset: Option<i64>) -> Option<Timestamp> {
    offset.and_then(|o| Timestamp::from_millisecond(issued.saturating_add(o)).ok())
}

fn index_of<T: PartialEq>(all: &[T], value: &T) -> u8 {
    all.iter()
        .position(|v| v == value)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(0)
}

impl<'a> Row<'a> {
    fn of(v: &'a Visit) -> Self {
        Self {
            number: &v.number,
            service: v.service.as_str(),
            room: v.room.as_ref().map(RoomId::as_str),
            called_by: v.called_by.as_deref(),
            class: index_of(&CLASSES, &v.class),
            issued: millis(v.issued_at),
            first_called: after(v.issued_at, v.first_called_at),
            last_called: after(v.issued_at, v.last_called_at),
            finished: after(v.issued_at, v.finished_at),
            outcome: index_of(&OUTCOMES, &v.outcome),
            recalls: v.recalls,
            transfers: v.transfers,
            estimate_mins: v.estimate_mins,
            feedback: v.feedback,
        }
    }

    /// The visit, or `None` for a row that does not read as one.
    fn visit(self, ticket: u64) -> Option<Visit> {
        Some(Visit {
            ticket: TicketId(ticket),
            number: self.number.to_owned(),
            service: ServiceId::parse(self.service).ok()?,
            room: match self.room {
                Some(room) => Some(RoomId::parse(room).ok()?),
                None => None,
            },
            called_by: self.called_by.map(str::to_owned),
            class: *CLASSES.get(usize::from(self.class))?,
            issued_at: Timestamp::from_millisecond(self.issued).ok()?,
            first_called_at: at(self.issued, self.first_called),
            last_called_at: at(self.issued, self.last_called),
            finished_at: at(self.issued, self.finished),
            outcome: *OUTCOMES.get(usize::from(self.outcome))?,
            recalls: self.recalls,
            transfers: self.transfers,
            estimate_mins: self.estimate_mins,
            feedback: self.feedback,
        })
    }
}

fn encode<T: Serialize>(value: &T, what: &str) -> Result<Vec<u8>, StoreError> {
    postcard::to_stdvec(value).map_err(|source| StoreError::Compact {
        what: what.to_owned(),
        source,
    })
}

fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8], what: &str) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|source| StoreError::Compact {
        what: what.to_owned(),
        source,
    })
}

/// The last event folded (0: none), from the meta table.
fn read_through(meta: &impl ReadableTable<&'static str, &'static [u8]>) -> Result<u64, StoreError> {
    match meta.get(META_VISITS_THROUGH)? {
        Some(v) => codec::decode(v.value(), "meta.visits_through"),
        None => Ok(0),
    }
}

/// The last event folded (0: none).
fn through(txn: &redb::WriteTransaction) -> Result<u64, StoreError> {
    read_through(&txn.open_table(META)?)
}

/// Writes folded visits and their aliases, and moves `visits_through` to `last_seq`. The first
/// `resumed` visits were folded before (open then): they are rewritten in place and stay in
/// their own day's extent. Visits still open are listed for the next fold.
fn write(
    txn: &redb::WriteTransaction,
    (visits, aliases): (Vec<Visit>, Vec<(TicketId, TicketId)>),
    resumed: usize,
    last_seq: u64,
) -> Result<usize, StoreError> {
    {
        let mut table = txn.open_table(VISITS)?;
        let mut days = txn.open_table(VISIT_DAYS)?;
        let mut alias = txn.open_table(VISIT_ALIASES)?;
        let mut extent: Option<(u64, DayRow)> = None;
        for v in &visits {
            table.insert(v.ticket.0, encode(&Row::of(v), "visit")?.as_slice())?;
        }
        for v in visits.iter().skip(resumed) {
            let issued = millis(v.issued_at);
            let (first, day) = extent.get_or_insert((
                v.ticket.0,
                DayRow {
                    last_ticket: v.ticket.0,
                    first_issued: issued,
                    last_issued: issued,
                    visits: 0,
                },
            ));
            *first = (*first).min(v.ticket.0);
            day.last_ticket = day.last_ticket.max(v.ticket.0);
            day.first_issued = day.first_issued.min(issued);
            day.last_issued = day.last_issued.max(issued);
            day.visits += 1;
        }
        if let Some((first, day)) = extent {
            days.insert(first, encode(&day, "visit day")?.as_slice())?;
        }
        for (later, first) in &aliases {
            alias.insert(later.0, first.0)?;
        }
    }
    // The ticket each open visit is now: its latest (a transfer makes a higher id).
    let mut open: BTreeMap<u64, u64> = visits
        .iter()
        .filter(|v| v.outcome == Outcome::Open)
        .map(|v| (v.ticket.0, v.ticket.0))
        .collect();
    for (later, first) in &aliases {
        if let Some(current) = open.get_mut(&first.0) {
            *current = (*current).max(later.0);
        }
    }
    let open: Vec<(u64, u64)> = open.into_iter().map(|(first, now)| (now, first)).collect();
    let mut meta = txn.open_table(META)?;
    meta.insert(
        META_VISITS_OPEN,
        codec::encode(&open, "meta.visits_open")?.as_slice(),
    )?;
    meta.insert(
        META_VISITS_THROUGH,
        codec::encode(&last_seq, "meta.visits_through")?.as_slice(),
    )?;
    Ok(visits.len())
}

/// Folds the events after `visits_through` up to `close_seq` (a `day_closed` of `batch`, the
/// events this transaction writes) into visits, in the transaction that closes the day. The
/// batch's own events are taken as they are in memory, not read back: a day close of a busy
/// day carries every ticket it closed (megabytes of JSON).
pub(super) fn fold_closed_day(
    txn: &redb::WriteTransaction,
    batch: &[&Event],
    close_seq: u64,
) -> Result<usize, StoreError> {
    let from = through(txn)?;
    if close_seq <= from {
        return Ok(0);
    }
    let mut log = VisitLog::new();
    let resumed = resume_open(txn, &mut log)?;
    let batch_from = batch.first().map_or(close_seq + 1, |e| e.seq);
    {
        let events = txn.open_table(EVENTS)?;
        for row in events.range(from + 1..batch_from.min(close_seq + 1))? {
            let (_, v) = row?;
            let event: Event = codec::decode(v.value(), "event")?;
            log.observe(&event, None);
        }
    }
    for event in batch.iter().filter(|e| e.seq > from && e.seq <= close_seq) {
        log.observe(event, None);
    }
    write(txn, log.into_parts(), resumed, close_seq)
}

/// Takes up the visits the last fold left open; how many.
fn resume_open(txn: &redb::WriteTransaction, log: &mut VisitLog) -> Result<usize, StoreError> {
    let open: Vec<(u64, u64)> = {
        let meta = txn.open_table(META)?;
        let value = meta.get(META_VISITS_OPEN)?;
        match value {
            Some(v) => codec::decode(v.value(), "meta.visits_open")?,
            None => Vec::new(),
        }
    };
    let visits = txn.open_table(VISITS)?;
    let mut resumed = 0;
    for (now, first) in open {
        let Some(bytes) = visits.get(first)? else {
            continue;
        };
        let row: Row = decode(bytes.value(), "visit")?;
        if let Some(visit) = row.visit(first) {
            log.resume(visit, TicketId(now));
            resumed += 1;
        }
    }
    Ok(resumed)
}

/// Writes the scores of `feedback_given` events whose visit is already folded.
pub(super) fn record_feedback(
    txn: &redb::WriteTransaction,
    batch: &[(&Event, &crate::domain::Touched)],
) -> Result<(), StoreError> {
    let given: Vec<(TicketId, u8)> = batch
        .iter()
        .filter_map(|(e, _)| match e.kind {
            EventKind::FeedbackGiven { ticket, score, .. } => Some((ticket, score)),
            _ => None,
        })
        .collect();
    if given.is_empty() {
        return Ok(());
    }
    let aliases = txn.open_table(VISIT_ALIASES)?;
    let mut visits = txn.open_table(VISITS)?;
    for (ticket, score) in given {
        let first = aliases.get(ticket.0)?.map_or(ticket.0, |v| v.value());
        let row = visits.get(first)?.map(|v| v.value().to_vec());
        if let Some(bytes) = row {
            let mut row: Row = decode(&bytes, "visit")?;
            row.feedback = Some(score);
            visits.insert(first, encode(&row, "visit")?.as_slice())?;
        }
    }
    Ok(())
}

/// A folded day a range overlaps: its ticket ids and how many visits it holds.
#[derive(Clone, Debug)]
struct Span {
    tickets: std::ops::RangeInclusive<u64>,
    visits: u64,
}

/// What a read of the visits in a range covers.
struct Plan {
    from_ms: i64,
    to_ms: i64,
    spans: Vec<Span>,
    /// Today's visits (and any not yet folded) in the range, from the log.
    today: Vec<Visit>,
}

impl Plan {
    fn of(txn: &redb::ReadTransaction, from: Timestamp, to: Timestamp) -> Result<Self, StoreError> {
        let through = match txn.open_table(META) {
            Ok(meta) => read_through(&meta)?,
            Err(redb::TableError::TableDoesNotExist(_)) => 0,
            Err(e) => return Err(e.into()),
        };
        let (from_ms, to_ms) = (millis(from), millis(to));
        let mut spans = Vec::new();
        match txn.open_table(VISIT_DAYS) {
            Ok(days) => {
                // Extents never overlap (ticket ids grow); `next` keeps it so if one ever did.
                let mut next = 0;
                for day in days.iter()? {
                    let (first, row) = day?;
                    let Ok(day) = decode::<DayRow>(row.value(), "visit day") else {
                        continue;
                    };
                    let start = first.value().max(next);
                    if day.last_issued < from_ms || day.first_issued >= to_ms {
                        continue;
                    }
                    if start <= day.last_ticket {
                        spans.push(Span {
                            tickets: start..=day.last_ticket,
                            visits: day.visits,
                        });
                        next = day.last_ticket.saturating_add(1);
                    }
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let mut today = VisitLog::new();
        match txn.open_table(EVENTS) {
            Ok(events) => {
                for row in events.range(through.saturating_add(1)..)? {
                    let (_, v) = row?;
                    today.observe(&codec::decode(v.value(), "event")?, None);
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let today = today
            .into_visits()
            .into_iter()
            .filter(|v| v.issued_at >= from && v.issued_at < to)
            .collect();
        Ok(Self {
            from_ms,
            to_ms,
            spans,
            today,
        })
    }
}

/// The visits table, if there is one.
fn open_visits(
    txn: &redb::ReadTransaction,
) -> Result<Option<redb::ReadOnlyTable<u64, &'static [u8]>>, StoreError> {
    match txn.open_table(VISITS) {
        Ok(t) => Ok(Some(t)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The visits of one span issued in the plan's range; a read error stops it and is kept in
/// `failed`.
fn rows<'t>(
    table: Option<&'t redb::ReadOnlyTable<u64, &'static [u8]>>,
    span: Span,
    plan: &'t Plan,
    failed: &'t std::cell::RefCell<Option<StoreError>>,
) -> impl Iterator<Item = Visit> + 't {
    let range = table.map(|t| t.range(span.tickets)).transpose();
    let range = match range {
        Ok(range) => range,
        Err(e) => {
            failed.borrow_mut().get_or_insert(e.into());
            None
        }
    };
    range
        .into_iter()
        .flatten()
        .map_while(move |row| match row {
            Ok(row) => Some(row),
            Err(e) => {
                failed.borrow_mut().get_or_insert(e.into());
                None
            }
        })
        .filter_map(move |(ticket, bytes)| {
            let row = decode::<Row>(bytes.value(), "visit").ok()?;
            (row.issued >= plan.from_ms && row.issued < plan.to_ms)
                .then(|| row.visit(ticket.value()))
                .flatten()
        })
}

impl Store {
    /// Folds the closed days of a log written before visits were folded at each day close
    /// (nothing folded yet, a `day_closed` in the log), replaying the queue with `policy` to
    /// recompute the estimates shown (older events do not carry them). Run once at start,
    /// before the engine. How many visits it wrote.
    pub fn fold_earlier_days(&self, policy: &Policy) -> Result<usize, StoreError> {
        let mut txn = self.write_txn()?;
        if through(&txn)? > 0 {
            return Ok(0);
        }
        let mut last_close = None;
        {
            let events = match txn.open_table(EVENTS) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
                Err(e) => return Err(e.into()),
            };
            for row in events.iter()?.rev() {
                let (k, v) = row?;
                let event: Event = codec::decode(v.value(), "event")?;
                if matches!(event.kind, EventKind::DayClosed { .. }) {
                    last_close = Some(k.value());
                    break;
                }
            }
        }
        let Some(last_close) = last_close else {
            return Ok(0);
        };
        let mut replay: Option<Replay> = None;
        {
            let events = txn.open_table(EVENTS)?;
            for row in events.range(..=last_close)? {
                let (_, v) = row?;
                let event: Event = codec::decode(v.value(), "event")?;
                replay
                    .get_or_insert_with(|| {
                        Replay::new(event.at.to_zoned(TimeZone::UTC).date(), policy.clone())
                    })
                    .feed(&event);
            }
        }
        let parts = replay.map(Replay::into_parts).unwrap_or_default();
        let written = write(&txn, parts, 0, last_close)?;
        txn.set_durability(self.durability)?;
        txn.commit()?;
        Ok(written)
    }

    /// The visits issued in `[from, to)` handed to `use_them` one at a time, in issue order:
    /// those of closed days as folded at each day close, then today's, folded from the events
    /// after them. One read transaction (a consistent view); memory holds today's visits, not
    /// the range's. Unreadable rows are skipped; a read that fails part way is an error.
    pub fn with_visits<T>(
        &self,
        from: Timestamp,
        to: Timestamp,
        use_them: impl FnOnce(&mut dyn Iterator<Item = Visit>) -> T,
    ) -> Result<T, StoreError> {
        let txn = self.read_txn()?;
        let plan = Plan::of(&txn, from, to)?;
        let failed = std::cell::RefCell::new(None);
        let table = open_visits(&txn)?;
        let folded = plan
            .spans
            .iter()
            .flat_map(|span| rows(table.as_ref(), span.clone(), &plan, &failed));
        let today = plan.today.iter().cloned();
        let result = use_them(&mut folded.chain(today));
        match failed.into_inner() {
            Some(e) => Err(e),
            None => Ok(result),
        }
    }

    /// Folds the visits issued in `[from, to)` (as [`Self::with_visits`] hands them) into up to
    /// `parts` accumulators made by `start`, each read on its own thread from its own share of
    /// the days; the caller merges them. One part if the closed days in the range hold fewer
    /// than `split_from` visits (threads cost more than they save on a small range).
    pub fn fold_visits<A: Send>(
        &self,
        (from, to): (Timestamp, Timestamp),
        parts: usize,
        split_from: u64,
        start: impl Fn() -> A + Sync,
        add: impl Fn(&mut A, &Visit) + Sync,
    ) -> Result<Vec<A>, StoreError> {
        let txn = self.read_txn()?;
        let plan = Plan::of(&txn, from, to)?;
        let total: u64 = plan.spans.iter().map(|s| s.visits).sum();
        let parts = if total < split_from {
            1
        } else {
            parts.clamp(1, 16)
        };
        // Consecutive days in parts of about the same number of visits.
        let share = total.div_ceil(parts as u64).max(1);
        let mut groups: Vec<Vec<Span>> = vec![Vec::new()];
        let mut in_group = 0;
        for span in &plan.spans {
            if in_group >= share && groups.len() < parts {
                groups.push(Vec::new());
                in_group = 0;
            }
            in_group += span.visits;
            if let Some(group) = groups.last_mut() {
                group.push(span.clone());
            }
        }
        let fold = |table: Option<&redb::ReadOnlyTable<u64, &'static [u8]>>, spans: &[Span]| {
            let failed = std::cell::RefCell::new(None);
            let mut acc = start();
            for span in spans {
                for visit in rows(table, span.clone(), &plan, &failed) {
                    add(&mut acc, &visit);
                }
            }
            match failed.into_inner() {
                Some(e) => Err(e),
                None => Ok(acc),
            }
        };
        let table = open_visits(&txn)?;
        let mut results: Vec<Result<A, StoreError>> = std::thread::scope(|scope| {
            let others: Vec<_> = groups
                .iter()
                .skip(1)
                .map(|spans| {
                    let fold = &fold;
                    scope.spawn(move || {
                        // Closed days' rows do not change but by a feedback score: a read
                        // transaction of its own sees the same rows.
                        let txn = self.read_txn()?;
                        let table = open_visits(&txn)?;
                        fold(table.as_ref(), spans)
                    })
                })
                .collect();
            let mut results = vec![fold(
                table.as_ref(),
                groups.first().map_or(&[], Vec::as_slice),
            )];
            for handle in others {
                results.push(handle.join().unwrap_or_else(|_| {
                    Err(StoreError::Closed("a report thread failed".to_owned()))
                }));
            }
            results
        });
        if let Some(Ok(last)) = results.last_mut() {
            for visit in &plan.today {
                add(last, visit);
            }
        }
        results.into_iter().collect()
    }

    /// [`Self::with_visits`] collected.
    pub fn visits_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<Visit>, StoreError> {
        self.with_visits(from, to, |visits| visits.collect())
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::config::Config;
    use crate::domain::report::replay;
    use crate::domain::{ClinicCalendar, Command, Origin, PriorityClass, QueueState, Touched};
    use crate::store::StoreOptions;

    fn open(path: &std::path::Path) -> Store {
        Store::open(
            path,
            &StoreOptions {
                fsync: false,
                cache_bytes: 1 << 20,
            },
        )
        .unwrap()
    }

    /// The clinic's days start at 04:00 UTC.
    fn calendar() -> ClinicCalendar {
        ClinicCalendar::new(TimeZone::UTC, jiff::civil::time(4, 0, 0, 0))
    }

    fn policy() -> Policy {
        Config::default().policy()
    }

    /// Executes `command` as `who` on the stopped database, then moves the clock `mins` on.
    fn run(store: &Store, clock: &ManualClock, who: &str, mins: i64, command: Command) {
        crate::engine::execute_offline(
            store,
            clock,
            &calendar(),
            &policy(),
            &command,
            &Origin::new(crate::domain::Source::Staff, who),
        )
        .unwrap();
        clock.advance(jiff::SignedDuration::from_mins(mins));
    }

    /// A walk-in's ticket for `general`.
    fn walk_in() -> Command {
        Command::IssueTicket {
            service: ServiceId::parse("general").unwrap(),
            priority: PriorityClass::Normal,
            idempotency_key: None,
            patient: None,
        }
    }

    /// Moves the clock `days` on and closes the clinic day.
    fn close(store: &Store, clock: &ManualClock, days: i64) {
        clock.advance(jiff::SignedDuration::from_hours(24 * days));
        let new_day = calendar().day_of(clock.now());
        run(store, clock, "system", 3, Command::CloseDay { new_day });
    }

    /// A day with three walk-ins, two calls by `user:anita` and a transfer, closed by the next.
    fn one_day(store: &Store, clock: &ManualClock) -> Policy {
        let room = RoomId::parse("room-1").unwrap();
        for _ in 0..3 {
            run(store, clock, "kiosk", 3, walk_in());
        }
        run(
            store,
            clock,
            "user:anita",
            3,
            Command::RoomNext { room: room.clone() },
        );
        run(store, clock, "user:anita", 3, Command::RoomNext { room });
        let lab = ServiceId::parse("lab").unwrap();
        let transfer = Command::TransferTicket {
            ticket: TicketId(2),
            service: lab,
        };
        run(store, clock, "user:anita", 3, transfer);
        close(store, clock, 1);
        policy()
    }

    fn all_events(store: &Store) -> Vec<Event> {
        store.events_after(0, usize::MAX).unwrap()
    }

    /// Every visit, and the last event folded.
    fn whole(store: &Store) -> (Vec<Visit>, u64) {
        let visits = store
            .visits_between(Timestamp::MIN, Timestamp::MAX)
            .unwrap();
        let txn = store.read_txn().unwrap();
        let through = read_through(&txn.open_table(META).unwrap()).unwrap();
        (visits, through)
    }

    #[test]
    fn the_day_close_folds_the_same_visits_as_a_replay_of_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir.path().join("w.redb"));
        let clock = ManualClock::new("2026-11-21T10:00:00Z".parse().unwrap());
        let policy = one_day(&store, &clock);
        let events = all_events(&store);
        let close = events
            .iter()
            .find(|e| matches!(e.kind, EventKind::DayClosed { .. }))
            .unwrap()
            .seq;
        let (folded, through) = whole(&store);
        assert_eq!(through, close);
        let replayed = replay(events, date(2026, 11, 21), &policy);
        assert_eq!(folded, replayed);
        assert_eq!(folded.len(), 3);
        assert_eq!(folded[0].called_by.as_deref(), Some("user:anita"));
        assert_eq!(folded[1].transfers, 1, "the transfer continues visit 2");
        assert!(folded[0].estimate_mins.is_some(), "the event carries it");
        // Only the visits issued inside a range.
        let t = folded[1].issued_at;
        let some = store
            .visits_between(t, t + jiff::SignedDuration::from_secs(1))
            .unwrap();
        assert_eq!(some, vec![folded[1].clone()]);
    }

    #[test]
    fn a_range_folded_in_parts_holds_each_visit_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir.path().join("w.redb"));
        let clock = ManualClock::new("2026-11-21T10:00:00Z".parse().unwrap());
        // Three days of three visits, and today's (not folded yet).
        for _ in 0..3 {
            for _ in 0..3 {
                run(&store, &clock, "kiosk", 3, walk_in());
            }
            let next = Command::RoomNext {
                room: RoomId::parse("room-1").unwrap(),
            };
            run(&store, &clock, "user:anita", 3, next);
            close(&store, &clock, 1);
        }
        run(&store, &clock, "kiosk", 3, walk_in());
        let all = store
            .visits_between(Timestamp::MIN, Timestamp::MAX)
            .unwrap();
        assert_eq!(all.len(), 10);
        let range = (Timestamp::MIN, Timestamp::MAX);
        let ids = |parts: Vec<Vec<u64>>| {
            let mut ids: Vec<u64> = parts.concat();
            ids.sort_unstable();
            ids
        };
        let fold = |parts, split_from| {
            store
                .fold_visits(
                    range,
                    parts,
                    split_from,
                    Vec::new,
                    |ids: &mut Vec<u64>, v| {
                        ids.push(v.ticket.0);
                    },
                )
                .unwrap()
        };
        let expected: Vec<u64> = all.iter().map(|v| v.ticket.0).collect();
        for parts in [1, 2, 3, 8] {
            let split = fold(parts, 1);
            assert_eq!(split.len(), parts.min(3), "at most one part a day here");
            assert_eq!(ids(split), expected, "{parts} parts");
        }
        assert_eq!(
            fold(8, 1_000).len(),
            1,
            "a small range is read on one thread"
        );
    }

    #[test]
    fn feedback_after_the_fold_reaches_the_visit_through_its_transfer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.redb");
        let store = open(&path);
        let clock = ManualClock::new("2026-11-21T10:00:00Z".parse().unwrap());
        one_day(&store, &clock);
        let (before, _) = whole(&store);
        // Ticket 4 is what the transfer made of visit 2.
        let seq = store.event_count().unwrap() + 1;
        let event = QueueState::event(
            seq,
            clock.now(),
            &Origin::system(),
            EventKind::FeedbackGiven {
                ticket: TicketId(4),
                score: 4,
                service: ServiceId::parse("lab").unwrap(),
                room: None,
            },
        );
        let state = store.load().unwrap().unwrap().state;
        store
            .commit(&[(&event, &Touched::default())], &state)
            .unwrap();
        drop(store);
        let store = open(&path);
        let (after, _) = whole(&store);
        assert_eq!(after[1].feedback, Some(4));
        assert_eq!(after[0], before[0]);
        assert_eq!(after[2], before[2]);
    }

    #[test]
    fn a_carried_over_ticket_ends_its_visit_on_the_next_day() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir.path().join("w.redb"));
        let clock = ManualClock::new("2026-11-21T10:00:00Z".parse().unwrap());
        let policy = policy();
        let act = |command: Command| run(&store, &clock, "user:anita", 5, command);
        act(Command::UpdateService {
            service: ServiceId::parse("general").unwrap(),
            change: crate::domain::ServiceChange {
                carry_over: Some(true),
                ..Default::default()
            },
        });
        act(walk_in());
        act(walk_in());
        let room = RoomId::parse("room-1").unwrap();
        act(Command::RoomNext { room: room.clone() });
        close(&store, &clock, 1);
        let (first, _) = whole(&store);
        assert_eq!(
            first,
            replay(all_events(&store), date(2026, 11, 21), &policy)
        );
        assert_eq!(first[1].outcome, Outcome::Open, "carried over to day 2");
        // Day 2: the carried ticket is called and moved to the lab (which carries nothing over:
        // the close cancels it as unattended); one new ticket, served.
        act(Command::RoomNext { room: room.clone() });
        act(Command::TransferTicket {
            ticket: TicketId(2),
            service: ServiceId::parse("lab").unwrap(),
        });
        act(walk_in());
        act(Command::RoomNext { room });
        close(&store, &clock, 1);
        let (folded, _) = whole(&store);
        let replayed = replay(all_events(&store), date(2026, 11, 21), &policy);
        assert_eq!(folded, replayed, "once each, as a replay of the whole log");
        assert_eq!(folded.len(), 3);
        assert_eq!(folded[1].outcome, Outcome::Cancelled);
        assert_eq!(folded[1].transfers, 1);
        assert_eq!(
            folded[1].number, first[1].number,
            "the visit keeps its first number"
        );
        // Nothing is left open for the next fold.
        close(&store, &clock, 1);
        assert_eq!(whole(&store).0, folded);
    }

    #[test]
    fn a_log_from_before_the_fold_is_folded_once_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir.path().join("w.redb"));
        let clock = ManualClock::new("2026-11-21T10:00:00Z".parse().unwrap());
        let policy = one_day(&store, &clock);
        let (folded, through) = whole(&store);
        // As a database written before visits existed: no visit tables, no `visits_through`.
        {
            let txn = store.write_txn().unwrap();
            txn.delete_table(VISITS).unwrap();
            txn.delete_table(VISIT_DAYS).unwrap();
            txn.delete_table(VISIT_ALIASES).unwrap();
            txn.open_table(META)
                .unwrap()
                .remove(META_VISITS_THROUGH)
                .unwrap();
            txn.commit().unwrap();
        }
        // Unfolded, the visits still come from the log (the events carry the estimates).
        assert_eq!(whole(&store), (folded.clone(), 0));
        assert_eq!(store.fold_earlier_days(&policy).unwrap(), 3);
        assert_eq!(whole(&store), (folded, through));
        assert_eq!(store.fold_earlier_days(&policy).unwrap(), 0, "only once");
    }
}
