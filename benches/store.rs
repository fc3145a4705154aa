//! Benchmarks of the store: committing one ticket (with and without fsync), loading a day of
//! 5,000 tickets at restart, and verifying the audit trail's hash chain of that day.
//!
//! `cargo bench --bench store`. The database lives in a temporary folder on the disk that
//! holds the system temp dir (`TMPDIR`). Figures: docs/performance.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::{SignedDuration, Timestamp};
use waitless::clock::ManualClock;
use waitless::config::Config;
use waitless::domain::{
    ClinicCalendar, Command, Decision, Event, Origin, Policy, PriorityClass, QueueState, RoomId,
    ServiceId, Source, Touched,
};
use waitless::engine::load_or_seed;
use waitless::store::{Store, StoreOptions};

/// Tickets in a day.
const TICKETS: usize = 5_000;

/// Clinic days in UTC, starting at 04:00.
fn utc_calendar() -> ClinicCalendar {
    ClinicCalendar::new(jiff::tz::TimeZone::UTC, jiff::civil::time(4, 0, 0, 0))
}

fn opening() -> Timestamp {
    "2026-11-21T08:00:00Z".parse().unwrap()
}

fn options(fsync: bool) -> StoreOptions {
    let defaults = Config::default();
    StoreOptions {
        fsync,
        cache_bytes: defaults.store.cache_mib * 1024 * 1024,
    }
}

/// A queue being built the way the engine builds it: decide, apply, commit.
struct Day {
    store: Store,
    state: QueueState,
    seq: u64,
    now: Timestamp,
    policy: Policy,
    origin: Origin,
}

impl Day {
    /// The demo clinic in a new database at `path`.
    fn new(path: &Path, fsync: bool) -> Self {
        let store = Store::open(path, &options(fsync)).unwrap();
        let now = opening();
        // Seeded as a first start seeds it.
        let (books, _) = load_or_seed(&store, &ManualClock::new(now), &utc_calendar()).unwrap();
        let (state, seq) = (books.state, books.seq);
        assert_eq!(seq, 1);
        Self {
            store,
            state,
            seq: 1,
            now,
            policy: Config::default().policy(),
            origin: Origin::new(Source::Kiosk, "kiosk-1"),
        }
    }

    /// Decides and applies `command` (not committed); `None` when it makes no event.
    fn step(&mut self, command: &Command) -> Option<(Event, Touched)> {
        match self
            .state
            .decide(command, &self.origin, self.now, &self.policy)
            .unwrap()
        {
            Decision::Event(kind) => {
                self.seq += 1;
                let event = QueueState::event(self.seq, self.now, &self.origin, kind);
                let touched = self.state.apply(&event);
                Some((event, touched))
            }
            _ => None,
        }
    }

    fn issue(&mut self, i: usize) -> Option<(Event, Touched)> {
        let service = if i % 5 == 4 { "lab" } else { "general" };
        let priority = match i % 50 {
            0 => PriorityClass::Urgent,
            1..=9 => PriorityClass::Priority,
            _ => PriorityClass::Normal,
        };
        self.step(&Command::IssueTicket {
            service: ServiceId::parse(service).unwrap(),
            priority,
            idempotency_key: Some(format!("kiosk-1-{i:06}")),
            patient: None,
        })
    }

    fn commit(&self, batch: &[(Event, Touched)]) {
        let batch: Vec<(&Event, &Touched)> = batch.iter().map(|(e, t)| (e, t)).collect();
        self.store.commit(&batch, &self.state).unwrap();
    }

    /// A whole day: `TICKETS` tickets issued, each room pressing "next" as it goes, so that at
    /// the end most tickets are done, some are called and some still wait. Committed in
    /// batches of 100 events.
    fn fill(&mut self) {
        let rooms: Vec<RoomId> = ["room-1", "room-2", "lab"]
            .iter()
            .map(|r| RoomId::parse(r).unwrap())
            .collect();
        let mut batch = Vec::new();
        for i in 0..TICKETS {
            self.now += SignedDuration::from_secs(5);
            batch.extend(self.issue(i));
            if i % 4 != 3 {
                let room = rooms[i % rooms.len()].clone();
                batch.extend(self.step(&Command::RoomNext { room }));
            }
            if batch.len() >= 100 {
                self.commit(&batch);
                batch.clear();
            }
        }
        self.commit(&batch);
    }
}

fn bench_commit(c: &mut Criterion) {
    let mut group = c.benchmark_group("commit one ticket");
    for fsync in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let mut day = Day::new(&dir.path().join("waitless.redb"), fsync);
        day.fill();
        let mut i = TICKETS;
        let name = if fsync {
            "fsync on (Durability::Immediate), day of 5000"
        } else {
            "fsync off (Durability::None), day of 5000"
        };
        if fsync {
            group.sample_size(30);
        } else {
            group.sample_size(100);
        }
        group.bench_function(name, |b| {
            // Only the commit is timed; deciding the ticket is the domain bench's business.
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    day.now += SignedDuration::from_millis(100);
                    let one = day.issue(i).unwrap();
                    i += 1;
                    let batch = [(&one.0, &one.1)];
                    let start = Instant::now();
                    day.store.commit(black_box(&batch), &day.state).unwrap();
                    total += start.elapsed();
                }
                total
            })
        });
    }
    group.finish();
}

fn bench_load(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("waitless.redb");
    {
        let mut day = Day::new(&path, false);
        day.fill();
        let tickets = day.state.tickets.len();
        let events = day.seq;
        eprintln!(
            "store bench: database of {tickets} tickets, {events} events, {} KiB",
            std::fs::metadata(&path).unwrap().len() / 1024
        );
    }
    let mut group = c.benchmark_group("restart with a day of 5000 tickets");
    {
        let store = Store::open(&path, &options(true)).unwrap();
        group.bench_function("Store::load (database open)", |b| {
            b.iter(|| {
                let loaded = store.load().unwrap().unwrap();
                assert_eq!(loaded.state.tickets.len(), TICKETS);
                loaded
            })
        });
        // The audit trail check (`waitless audit verify`): every event hashed again.
        group.bench_function("Store::verify_chain (database open)", |b| {
            b.iter(|| {
                let report = store.verify_chain().unwrap();
                assert!(report.is_ok());
                report
            })
        });
        // The hub's replay buffer, also read at start.
        let replay = waitless::hub::REPLAY_CAPACITY;
        group.bench_function(
            format!("Store::recent_events({replay}) (database open)"),
            |b| b.iter(|| store.recent_events(replay).unwrap()),
        );
    }
    let clock = ManualClock::new(opening() + SignedDuration::from_hours(8));
    let calendar = utc_calendar();
    group.bench_function(
        "Store::open + load_or_seed (load + 4096 recent events)",
        |b| {
            b.iter(|| {
                let store = Store::open(&path, &options(true)).unwrap();
                let (books, recent) = load_or_seed(&store, &clock, &calendar).unwrap();
                assert_eq!(books.state.tickets.len(), TICKETS);
                (books.state, recent)
            })
        },
    );
    group.finish();
}

criterion_group!(benches, bench_commit, bench_load);
criterion_main!(benches);
