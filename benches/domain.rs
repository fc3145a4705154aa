//! Benchmarks of the pure queue rules on a busy day: 5,000 tickets; and how issuing and calling
//! scale (`scale/`): an empty day against one already holding 100,000 waiting or 100,000
//! served tickets.
//!
//! `report/`: a one-year report (`domain::report::build`) over 1,000,000 visits in a +5:30 zone.
//!
//! `cargo bench --bench domain`. Figures and how to read them: docs/performance.md.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::{SignedDuration, Timestamp};
use waitless::config::Config;
use waitless::domain::rules::{PRIORITY_HEAD_START, pick_next};
use waitless::domain::{
    Command, Decision, EventKind, Origin, Policy, PriorityClass, QueueState, RoomId, ServiceId,
    Source, Ticket, TicketState, demo,
};

/// Tickets in the queue.
const TICKETS: usize = 5_000;

/// 2026-11-21 08:00 UTC: the clinic opens.
fn opening() -> Timestamp {
    "2026-11-21T08:00:00Z".parse().unwrap()
}

/// The production policy (anti-starvation on: 3 passes after 10 minutes).
fn policy() -> Policy {
    let policy = Config::default().policy();
    assert!(
        policy.starvation.is_some(),
        "anti-starvation should be on by default"
    );
    policy
}

/// A mix of classes: 2 % urgent, 18 % priority, 80 % normal.
fn class_of(i: usize) -> PriorityClass {
    match i % 50 {
        0 => PriorityClass::Urgent,
        1..=9 => PriorityClass::Priority,
        _ => PriorityClass::Normal,
    }
}

/// The demo clinic (2 services, 3 rooms) with `TICKETS` waiting tickets issued one every 5 s
/// from opening, 4 in 5 for general OPD, the rest for the lab. Some normal tickets have already
/// been passed over (so the anti-starvation rule has work to do). Returns the state and the
/// instant after the last issue.
fn busy_day() -> (QueueState, Timestamp) {
    let policy = policy();
    let origin = Origin::new(Source::Kiosk, "kiosk-1");
    let (clinic, services, rooms) = demo::demo_clinic().unwrap();
    let mut now = opening();
    let mut state = QueueState::new(jiff::civil::date(2026, 11, 21));
    let mut seq = 0;
    let mut apply = |state: &mut QueueState, kind: EventKind, now: Timestamp| {
        seq += 1;
        state.apply(&QueueState::event(seq, now, &origin, kind));
    };
    apply(
        &mut state,
        EventKind::ClinicSeeded {
            clinic,
            services,
            rooms,
        },
        now,
    );
    let general = ServiceId::parse("general").unwrap();
    let lab = ServiceId::parse("lab").unwrap();
    for i in 0..TICKETS {
        let command = Command::IssueTicket {
            service: if i % 5 == 4 {
                lab.clone()
            } else {
                general.clone()
            },
            priority: class_of(i),
            idempotency_key: None,
            patient: None,
        };
        match state.decide(&command, &origin, now, &policy).unwrap() {
            Decision::Event(kind) => apply(&mut state, kind, now),
            other => panic!("issue gave {other:?}"),
        }
        now += SignedDuration::from_secs(5);
    }
    for t in state.tickets.values_mut() {
        if t.priority == PriorityClass::Normal && t.id.0 % 7 == 0 {
            t.passed_over = 1 + u32::try_from(t.id.0 % 2).unwrap();
        }
    }
    // the tickets were changed behind the state's back: rebuild its indexes
    state.reindex();
    (state, now)
}

/// The demo clinic with `waiting` tickets waiting and `served` tickets already called and done
/// (still live: the day has not closed), the same mix as [`busy_day`], one every second; built
/// by decide and apply as the engine does. Returns the state, the next event's number and the
/// instant after the last change.
fn day_of(waiting: usize, served: usize) -> (QueueState, u64, Timestamp) {
    // strict class order and no debounce, so calling 100,000 tickets takes no long pass lists
    let policy = Policy {
        starvation: None,
        debounce: SignedDuration::ZERO,
        ..policy()
    };
    let origin = Origin::new(Source::Kiosk, "kiosk-1");
    let (clinic, services, rooms) = demo::demo_clinic().unwrap();
    let mut now = opening();
    let mut state = QueueState::new(jiff::civil::date(2026, 11, 21));
    let mut seq = 0;
    let mut run = |state: &mut QueueState,
                   command: Option<&Command>,
                   kind: Option<EventKind>,
                   now| {
        let kind = match (command, kind) {
            (_, Some(kind)) => kind,
            (Some(command), None) => match state.decide(command, &origin, now, &policy).unwrap() {
                Decision::Event(kind) => kind,
                other => panic!("{command:?} gave {other:?}"),
            },
            (None, None) => unreachable!(),
        };
        seq += 1;
        state.apply(&QueueState::event(seq, now, &origin, kind));
    };
    let seed = EventKind::ClinicSeeded {
        clinic,
        services,
        rooms,
    };
    run(&mut state, None, Some(seed), now);
    let general = ServiceId::parse("general").unwrap();
    let lab = ServiceId::parse("lab").unwrap();
    let room2 = RoomId::parse("room-2").unwrap();
    for i in 0..waiting + served {
        let command = Command::IssueTicket {
            service: if i % 5 == 4 {
                lab.clone()
            } else {
                general.clone()
            },
            priority: class_of(i),
            idempotency_key: None,
            patient: None,
        };
        run(&mut state, Some(&command), None, now);
        now += SignedDuration::from_secs(1);
        // room-2 (both services) keeps up with all but `waiting` of them
        if i >= waiting {
            let next = Command::RoomNext {
                room: room2.clone(),
            };
            run(&mut state, Some(&next), None, now);
        }
    }
    (state, seq + 1, now)
}

/// Issuing and calling on an empty day against a day that already holds 100,000 tickets:
/// with the indexes the cost must not grow with the day.
fn bench_scale(c: &mut Criterion) {
    let policy = policy();
    let origin = Origin::new(Source::Kiosk, "kiosk-1");
    let issue = Command::IssueTicket {
        service: ServiceId::parse("general").unwrap(),
        priority: PriorityClass::Normal,
        idempotency_key: None,
        patient: None,
    };
    let room1 = RoomId::parse("room-1").unwrap();
    let next = Command::RoomNext { room: room1 };
    let later = |now: Timestamp| now + SignedDuration::from_secs(5);
    let mut group = c.benchmark_group("scale");
    for (name, waiting, served) in [
        ("10 waiting", 10, 0),
        ("100000 waiting", 100_000, 0),
        ("100000 served", 10, 100_000),
    ] {
        let (state, seq, now) = day_of(waiting, served);
        assert_eq!(state.tickets.len(), waiting + served);
        // What the engine and the answer do for one kiosk ticket: decide, apply, place it. Each
        // sample starts again from a copy of the day (not timed), which grows by one ticket an
        // iteration.
        group.bench_function(format!("issue+apply+placement, {name}"), |b| {
            b.iter_custom(|iters| {
                let mut day = state.clone();
                let started = Instant::now();
                for seq in seq..seq + iters {
                    let Decision::Event(kind) = day.decide(&issue, &origin, now, &policy).unwrap()
                    else {
                        panic!("not issued")
                    };
                    let event = QueueState::event(seq, now, &origin, kind);
                    let touched = day.apply(&event);
                    let id = touched.tickets[0];
                    black_box(day.placement(&day.tickets[&id], &policy));
                }
                started.elapsed()
            })
        });
        // "next" in room-1 (general only), decided (a call passes over nobody: the tickets
        // of this bench have not waited the 10 minutes that count).
        let later = later(now);
        group.bench_function(format!("next (decide), {name}"), |b| {
            b.iter(|| {
                state
                    .decide(black_box(&next), &origin, black_box(later), &policy)
                    .unwrap()
            })
        });
    }
    group.finish();
}

fn bench_pick_next(c: &mut Criterion) {
    let (state, now) = busy_day();
    let starvation = policy().starvation;
    let waiting: Vec<Ticket> = state
        .tickets
        .values()
        .filter(|t| t.state == TicketState::Waiting)
        .cloned()
        .collect();
    assert_eq!(waiting.len(), TICKETS);
    let mut group = c.benchmark_group("pick_next");
    group.bench_function("5000 waiting, mixed classes, anti-starvation on", |b| {
        b.iter(|| {
            pick_next(
                black_box(&waiting),
                black_box(now),
                starvation,
                PRIORITY_HEAD_START,
            )
        })
    });
    // A starving ticket present: the rule must pick it over everyone.
    let mut starving = waiting.clone();
    if let Some(t) = starving
        .iter_mut()
        .rev()
        .find(|t| t.priority == PriorityClass::Normal)
    {
        t.passed_over = 3;
    }
    group.bench_function("5000 waiting, one starving", |b| {
        b.iter(|| {
            pick_next(
                black_box(&starving),
                black_box(now),
                starvation,
                PRIORITY_HEAD_START,
            )
        })
    });
    group.finish();
}

fn bench_decide(c: &mut Criterion) {
    let (mut state, now) = busy_day();
    let policy = policy();
    let origin = Origin::new(Source::Button, "room-2");
    // room-2 serves a ticket already, so "next" finishes it and calls another.
    let room = RoomId::parse("room-2").unwrap();
    let next = Command::RoomNext { room: room.clone() };
    match state.decide(&next, &origin, now, &policy).unwrap() {
        Decision::Event(kind) => {
            state.apply(&QueueState::event(u64::MAX - 1, now, &origin, kind));
        }
        other => panic!("next gave {other:?}"),
    }
    assert!(state.rooms[&room].serving.is_some());
    let later = now + SignedDuration::from_secs(300);
    assert_eq!(state.tickets.len(), TICKETS);

    let mut group = c.benchmark_group("decide");
    group.bench_function("room_next, 5000 live tickets", |b| {
        b.iter(|| {
            let d = state
                .decide(black_box(&next), &origin, black_box(later), &policy)
                .unwrap();
            assert!(matches!(d, Decision::Event(EventKind::RoomNext { .. })));
            d
        })
    });
    let issue = Command::IssueTicket {
        service: ServiceId::parse("general").unwrap(),
        priority: PriorityClass::Normal,
        idempotency_key: Some("kiosk-1-000042".to_owned()),
        patient: None,
    };
    group.bench_function("issue_ticket, 5000 live tickets", |b| {
        b.iter(|| {
            state
                .decide(black_box(&issue), &origin, black_box(later), &policy)
                .unwrap()
        })
    });
    group.finish();
}

fn bench_placements(c: &mut Criterion) {
    let (state, _) = busy_day();
    let policy = policy();
    let mut group = c.benchmark_group("placements");
    group.bench_function("all 5000 waiting", |b| {
        b.iter(|| state.placements(black_box(&policy)))
    });
    // What every issued ticket's answer costs: the position of one ticket (the last one).
    let last = state.tickets.values().next_back().unwrap().clone();
    group.bench_function("one ticket (last of 5000)", |b| {
        b.iter(|| state.placement(black_box(&last), &policy))
    });
    group.finish();
}

/// A year of visits: `count` spread evenly over 2026, 08:30 to 18:30 in India, two services,
/// three rooms; one in 20 a no-show, one in 25 cancelled uncalled, the rest served.
fn year_of_visits(count: usize) -> Vec<waitless::domain::report::Visit> {
    use waitless::domain::report::{Outcome, Visit, VisitClass};
    let start: Timestamp = "2026-01-01T03:00:00Z".parse().unwrap();
    let services = [
        ServiceId::parse("general").unwrap(),
        ServiceId::parse("lab").unwrap(),
    ];
    let rooms = [
        RoomId::parse("room-1").unwrap(),
        RoomId::parse("room-2").unwrap(),
        RoomId::parse("lab").unwrap(),
    ];
    let per_day = count.div_ceil(365).max(1);
    (0..count)
        .map(|i| {
            let day = i64::try_from(i / per_day).unwrap();
            let slot = i64::try_from(i % per_day).unwrap();
            let issued = start
                + SignedDuration::from_hours(24 * day)
                + SignedDuration::from_secs(slot * 10 * 3600 / i64::try_from(per_day).unwrap());
            let wait = SignedDuration::from_secs(60 + i64::try_from(i % 3_600).unwrap());
            let called = (i % 25 != 0).then(|| issued + wait);
            let outcome = match i % 100 {
                _ if i % 25 == 0 => Outcome::Cancelled,
                n if n % 20 == 1 => Outcome::NoShow,
                _ => Outcome::Done,
            };
            Visit {
                ticket: waitless::domain::TicketId(u64::try_from(i).unwrap()),
                number: format!("A{:03}", i % 1000),
                service: services[i % 2].clone(),
                room: called.map(|_| rooms[i % 3].clone()),
                called_by: called.map(|_| format!("user:doctor{}", i % 3)),
                class: VisitClass::WalkIn,
                issued_at: issued,
                first_called_at: called,
                last_called_at: called,
                finished_at: Some(
                    called.unwrap_or(issued)
                        + SignedDuration::from_secs(120 + i64::try_from(i % 600).unwrap()),
                ),
                outcome,
                recalls: u32::from(i % 30 == 0),
                transfers: 0,
                estimate_mins: Some(u32::try_from(i % 40).unwrap()),
                feedback: (i % 7 == 0).then(|| u8::try_from(i % 5 + 1).unwrap()),
            }
        })
        .collect()
}

fn bench_report(c: &mut Criterion) {
    // `cargo test --bench domain` (CI) runs it once on a small year; `cargo bench` on the full one.
    let count = if std::env::args().any(|a| a == "--bench") {
        1_000_000
    } else {
        10_000
    };
    let visits = year_of_visits(count);
    let tz = jiff::tz::TimeZone::get("Asia/Kolkata").unwrap();
    let from: Timestamp = "2025-12-31T18:30:00Z".parse().unwrap();
    let to: Timestamp = "2026-12-31T18:30:00Z".parse().unwrap();
    // Every call counts for a doctor, so the doctor rows cost what they would in a clinic.
    let doctors = waitless::domain::report::Doctors {
        by_actor: (0..3)
            .map(|i| (format!("user:doctor{i}"), format!("doctor{i}")))
            .collect(),
        by_room: std::collections::HashMap::new(),
    };
    let report = waitless::domain::report::build(
        &visits,
        from,
        to,
        &tz,
        SignedDuration::from_mins(15),
        &doctors,
    );
    assert_eq!(report.total.arrived, u64::try_from(count).unwrap());
    let mut group = c.benchmark_group("report");
    group.sample_size(10);
    group.bench_function(format!("one year, {count} visits"), |b| {
        b.iter(|| {
            waitless::domain::report::build(
                black_box(&visits),
                from,
                to,
                &tz,
                SignedDuration::from_mins(15),
                &doctors,
            )
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_pick_next,
    bench_decide,
    bench_placements,
    bench_scale,
    bench_report
);
criterion_main!(benches);
