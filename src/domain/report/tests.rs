//! The report fold and aggregates on a small fixture computed by hand, in a +5:30 zone.

use jiff::SignedDuration;
use jiff::civil::date;
use jiff::tz::TimeZone;

use super::*;
use crate::domain::demo::demo_clinic;
use crate::domain::{CancelReason, Command, Decision, Origin, Source};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn ist() -> TimeZone {
    TimeZone::get("Asia/Kolkata").unwrap()
}

/// Builds the event log of the fixture, keeping each ticket's latest state.
struct Log {
    events: Vec<Event>,
}

impl Log {
    fn push(&mut self, at: &str, kind: EventKind) {
        let seq = self.events.len() as u64 + 1;
        self.events.push(Event {
            seq,
            at: ts(at),
            source: Source::Staff,
            actor: "test".into(),
            address: None,
            kind,
        });
    }
}

fn ticket(id: u64, number: &str, service: &str, priority: PriorityClass, at: &str) -> Ticket {
    Ticket {
        id: TicketId(id),
        number: number.into(),
        ordinal: 1,
        service: ServiceId::parse(service).unwrap(),
        priority,
        state: TicketState::Waiting,
        day: date(2026, 3, 2),
        created_at: ts(at),
        queued_at: ts(at),
        called_at: None,
        finished_at: None,
        room: None,
        recall_count: 0,
        passed_over: 0,
        requeue_count: 0,
        transferred_from: None,
        transferred_to: None,
        cancel_reason: None,
        source: Source::Kiosk,
        feedback_given: false,
    }
}

fn called(t: &Ticket, room: &str, at: &str) -> Ticket {
    Ticket {
        state: TicketState::Called,
        called_at: Some(ts(at)),
        room: Some(RoomId::parse(room).unwrap()),
        ..t.clone()
    }
}

fn next(room: &str, called: Option<Ticket>, finished: Option<Ticket>) -> EventKind {
    EventKind::RoomNext {
        room: RoomId::parse(room).unwrap(),
        called,
        finished,
        reason: None,
        passed_over: vec![],
    }
}

/// The fixture (UTC; IST is +5:30), Monday 2 and Tuesday 3 March 2026:
///
/// | visit | service      | issued (IST)      | first call | last call | end            |
/// |-------|--------------|-------------------|------------|-----------|----------------|
/// | A001  | general      | Mon 10:00 (04:30) | 04:40 r1   | 04:40     | done 04:52     |
/// | A002  | general, pri | Mon 10:05 (04:35) | 04:55 r1   | 04:55     | no-show 05:00  |
/// | L001  | lab          | Mon 10:30 (05:00) | 05:06 r2   | 05:06     | done 05:25, 1 recall |
/// | A003  | general      | Tue 00:15 (Mon 18:45) | —      | —         | cancelled 19:00 |
/// | A004  | general→lab  | Tue 11:00 (05:30) | 06:00 r1   | 06:20 r2  | done 06:35, 1 transfer |
///
/// Estimates shown at issue: A001 5, A002 10, A004 20 minutes.
fn fixture() -> Vec<Visit> {
    let mut log = Log { events: vec![] };
    let a1 = ticket(
        1,
        "A001",
        "general",
        PriorityClass::Normal,
        "2026-03-02T04:30:00Z",
    );
    let a2 = ticket(
        2,
        "A002",
        "general",
        PriorityClass::Priority,
        "2026-03-02T04:35:00Z",
    );
    let l1 = ticket(
        3,
        "L001",
        "lab",
        PriorityClass::Normal,
        "2026-03-02T05:00:00Z",
    );
    let a3 = ticket(
        4,
        "A003",
        "general",
        PriorityClass::Normal,
        "2026-03-02T18:45:00Z",
    );
    let a4 = ticket(
        5,
        "A004",
        "general",
        PriorityClass::Normal,
        "2026-03-03T05:30:00Z",
    );
    let issued = |t: &Ticket| EventKind::TicketIssued {
        ticket: t.clone(),
        idempotency_key: None,
        booking: None,
        estimate_mins: None,
    };
    let mut visits = VisitLog::new();
    let mut feed = |log: &mut Log, at: &str, kind: EventKind, estimate: Option<u32>| {
        log.push(at, kind);
        visits.observe(log.events.last().unwrap(), estimate);
    };
    feed(&mut log, "2026-03-02T04:30:00Z", issued(&a1), Some(5));
    feed(&mut log, "2026-03-02T04:35:00Z", issued(&a2), Some(10));
    let a1c = called(&a1, "room-1", "2026-03-02T04:40:00Z");
    feed(
        &mut log,
        "2026-03-02T04:40:00Z",
        next("room-1", Some(a1c.clone()), None),
        None,
    );
    let a2c = called(&a2, "room-1", "2026-03-02T04:55:00Z");
    let a1d = a1c.finished(TicketState::Done, ts("2026-03-02T04:52:00Z"));
    feed(
        &mut log,
        "2026-03-02T04:55:00Z",
        next("room-1", Some(a2c.clone()), Some(a1d)),
        None,
    );
    feed(&mut log, "2026-03-02T05:00:00Z", issued(&l1), None);
    let a2n = a2c.finished(TicketState::NoShow, ts("2026-03-02T05:00:00Z"));
    feed(
        &mut log,
        "2026-03-02T05:00:00Z",
        EventKind::TicketNoShow {
            room: RoomId::parse("room-1").unwrap(),
            ticket: a2n,
        },
        None,
    );
    let l1c = called(&l1, "room-2", "2026-03-02T05:06:00Z");
    feed(
        &mut log,
        "2026-03-02T05:06:00Z",
        next("room-2", Some(l1c.clone()), None),
        None,
    );
    feed(
        &mut log,
        "2026-03-02T05:08:00Z",
        EventKind::TicketRecalled {
            room: RoomId::parse("room-2").unwrap(),
            ticket: l1c.clone(),
        },
        None,
    );
    let l1d = l1c.finished(TicketState::Done, ts("2026-03-02T05:25:00Z"));
    feed(
        &mut log,
        "2026-03-02T05:25:00Z",
        EventKind::TicketDone {
            room: RoomId::parse("room-2").unwrap(),
            ticket: l1d,
        },
        None,
    );
    feed(&mut log, "2026-03-02T18:45:00Z", issued(&a3), None);
    let mut a3x = a3.finished(TicketState::Cancelled, ts("2026-03-02T19:00:00Z"));
    a3x.cancel_reason = Some(CancelReason::Requested);
    feed(
        &mut log,
        "2026-03-02T19:00:00Z",
        EventKind::TicketCancelled { ticket: a3x },
        None,
    );
    feed(&mut log, "2026-03-03T05:30:00Z", issued(&a4), Some(20));
    let a4c = called(&a4, "room-1", "2026-03-03T06:00:00Z");
    feed(
        &mut log,
        "2026-03-03T06:00:00Z",
        next("room-1", Some(a4c.clone()), None),
        None,
    );
    let moved = Ticket {
        id: TicketId(6),
        service: ServiceId::parse("lab").unwrap(),
        state: TicketState::Waiting,
        called_at: None,
        room: None,
        queued_at: ts("2026-03-03T06:10:00Z"),
        transferred_from: Some(TicketId(5)),
        ..a4.clone()
    };
    let a4t = Ticket {
        transferred_to: Some(TicketId(6)),
        ..a4c.finished(TicketState::Transferred, ts("2026-03-03T06:10:00Z"))
    };
    feed(
        &mut log,
        "2026-03-03T06:10:00Z",
        EventKind::TicketTransferred {
            from: a4t,
            to: moved.clone(),
        },
        None,
    );
    let l2c = called(&moved, "room-2", "2026-03-03T06:20:00Z");
    feed(
        &mut log,
        "2026-03-03T06:20:00Z",
        next("room-2", Some(l2c.clone()), None),
        None,
    );
    let l2d = l2c.finished(TicketState::Done, ts("2026-03-03T06:35:00Z"));
    feed(
        &mut log,
        "2026-03-03T06:35:00Z",
        next("room-2", None, Some(l2d)),
        None,
    );
    visits.into_visits()
}

fn whole(visits: &[Visit]) -> Report {
    build(
        visits,
        ts("2026-03-01T00:00:00Z"),
        ts("2026-03-08T00:00:00Z"),
        &ist(),
        SignedDuration::from_mins(15),
        &Doctors::default(),
    )
}

#[test]
fn visits_follow_their_tickets_through_calls_transfers_and_ends() {
    let visits = fixture();
    assert_eq!(visits.len(), 5, "a transfer continues its visit");
    let a4 = &visits[4];
    assert_eq!(a4.number, "A004");
    assert_eq!(a4.service.as_str(), "lab");
    assert_eq!(a4.room.as_ref().map(RoomId::as_str), Some("room-2"));
    assert_eq!(a4.transfers, 1);
    assert_eq!(a4.outcome, Outcome::Done);
    assert_eq!(a4.wait(), Some(SignedDuration::from_mins(30)));
    assert_eq!(a4.service_time(), Some(SignedDuration::from_mins(15)));
    assert_eq!(visits[2].recalls, 1);
    assert_eq!(visits[1].outcome, Outcome::NoShow);
    assert_eq!(visits[1].class, VisitClass::Priority);
    assert_eq!(visits[3].outcome, Outcome::Cancelled);
    assert_eq!(visits[3].wait(), None);
}

#[test]
fn totals_match_the_hand_computation() {
    let report = whole(&fixture());
    let m = &report.total;
    assert_eq!(
        (m.arrived, m.served, m.no_show, m.cancelled, m.open),
        (5, 3, 1, 1, 0)
    );
    assert_eq!(m.no_show_pct, Some(20.0));
    // Waits 6, 10, 20, 30: median (10 + 20) / 2, p90 the 4th of 4.
    assert_eq!(m.wait_median_mins, Some(15.0));
    assert_eq!(m.wait_p90_mins, Some(30.0));
    // Service times 12, 19, 15.
    assert_eq!(m.service_median_mins, Some(15.0));
    assert_eq!(m.service_p90_mins, Some(19.0));
    // Within 15 minutes: A001 (10), L001 (6) of 4 called + A003 ended uncalled.
    assert_eq!(m.service_level_pct, Some(40.0));
    // Served in Mon 10:xx IST (A001 10:22, L001 10:55) and Tue 12:xx (A004 12:05): 3 / 2 hours.
    assert_eq!(m.throughput_per_hour, Some(1.5));
    assert_eq!((m.recalls, m.transfers), (1, 1));
    // |10 − 5|, |20 − 10|, |30 − 20|.
    assert_eq!(m.estimate_error_mins, Some(10.0));
}

#[test]
fn buckets_are_cut_in_the_clinic_zone() {
    let report = whole(&fixture());
    assert_eq!(report.time_zone, "Asia/Kolkata");
    // A003 was issued Monday 18:45 UTC: Tuesday 00:15 in India.
    let days: Vec<(&str, u64)> = report
        .by_day
        .iter()
        .map(|b| (b.key.as_str(), b.measures.arrived))
        .collect();
    assert_eq!(days, [("2026-03-02", 3), ("2026-03-03", 2)]);
    let hours: Vec<(usize, u64)> = report
        .by_hour
        .iter()
        .enumerate()
        .filter(|(_, b)| b.measures.arrived > 0)
        .map(|(h, b)| (h, b.measures.arrived))
        .collect();
    assert_eq!(hours, [(0, 1), (10, 3), (11, 1)]);
    assert_eq!(report.by_hour.len(), 24);
    assert_eq!(report.by_weekday[0].key, "monday");
    assert_eq!(report.by_weekday[0].measures.arrived, 3);
    assert_eq!(report.by_weekday[1].measures.arrived, 2);
    assert_eq!(report.heat[1][0], 1);
    assert_eq!(report.heat[0][10], 3);
    assert_eq!(report.heat[1][11], 1);
    assert_eq!(report.heat.iter().flatten().sum::<u64>(), 5);
}

#[test]
fn services_and_rooms_get_their_own_rows() {
    let report = whole(&fixture());
    let general = &report.by_service[0];
    assert_eq!(general.key, "general");
    assert_eq!(
        (
            general.measures.arrived,
            general.measures.served,
            general.measures.no_show
        ),
        (3, 1, 1)
    );
    let lab = &report.by_service[1];
    assert_eq!(
        (lab.key.as_str(), lab.measures.arrived, lab.measures.served),
        ("lab", 2, 2)
    );
    let rooms: Vec<(&str, u64)> = report
        .by_room
        .iter()
        .map(|b| (b.key.as_str(), b.measures.arrived))
        .collect();
    assert_eq!(
        rooms,
        [("room-1", 2), ("room-2", 2)],
        "A003 was never called"
    );
    let classes: Vec<(&str, u64, u64)> = report
        .by_class
        .iter()
        .map(|b| (b.key.as_str(), b.measures.arrived, b.measures.no_show))
        .collect();
    assert_eq!(
        classes,
        [
            ("walk_in", 4, 0),
            ("appointment", 0, 0),
            ("priority", 1, 1),
            ("urgent", 0, 0)
        ]
    );
}

#[test]
fn a_range_counts_the_visits_issued_in_it() {
    let visits = fixture();
    // Tuesday in India starts at 18:30 UTC on Monday.
    let tuesday = build(
        &visits,
        ts("2026-03-02T18:30:00Z"),
        ts("2026-03-03T18:30:00Z"),
        &ist(),
        SignedDuration::from_mins(15),
        &Doctors::default(),
    );
    assert_eq!(tuesday.total.arrived, 2);
    assert_eq!(tuesday.total.served, 1);
    assert_eq!(tuesday.total.wait_median_mins, Some(30.0));
    let empty = build(
        &visits,
        ts("2026-04-01T00:00:00Z"),
        ts("2026-04-02T00:00:00Z"),
        &ist(),
        SignedDuration::from_mins(15),
        &Doctors::default(),
    );
    assert_eq!(empty.total, Measures::default());
}

#[test]
fn percentiles_follow_their_definitions() {
    // In minutes from whole seconds: 60 s is 1.0.
    let of = |minutes: &[u32]| {
        let mut d = super::Durations::default();
        for m in minutes {
            d.push(m * 60);
        }
        d
    };
    assert_eq!(of(&[]).median(), None);
    assert_eq!(of(&[3]).median(), Some(3.0));
    assert_eq!(of(&[4, 1, 3]).median(), Some(3.0));
    assert_eq!(of(&[9, 4, 1, 3, 2, 8]).median(), Some(3.5));
    assert_eq!(of(&[2, 2]).median(), Some(2.0));
    let ten: Vec<u32> = (1..=10).rev().collect();
    assert_eq!(of(&ten).p90(), Some(9.0));
    let eleven: Vec<u32> = (1..=11).collect();
    assert_eq!(of(&eleven).p90(), Some(10.0));
    assert_eq!(of(&[7]).p90(), Some(7.0));
    assert_eq!(super::seconds(SignedDuration::from_millis(1_499)), 1);
    assert_eq!(super::seconds(SignedDuration::from_millis(1_500)), 2);
    assert_eq!(super::seconds(SignedDuration::from_secs(-5)), 0);
}

#[test]
fn replay_records_the_estimate_shown_and_an_undone_call() {
    let (clinic, services, rooms) = demo_clinic().unwrap();
    let policy = Policy {
        debounce: SignedDuration::from_secs(0),
        undo_window: SignedDuration::from_secs(120),
        starvation: None,
        default_service_secs: 600.0,
        number_digits: 3,
        idempotency_window: SignedDuration::from_secs(600),
        priority_head_start: crate::domain::PRIORITY_HEAD_START,
    };
    let day = date(2026, 3, 2);
    let origin = Origin::new(Source::Staff, "test");
    let mut state = QueueState::new(day);
    let mut events = Vec::new();
    let mut now = ts("2026-03-02T04:00:00Z");
    let mut commit = |state: &mut QueueState, kind: EventKind, at: Timestamp| {
        let event = QueueState::event(events.len() as u64 + 1, at, &origin, kind);
        state.apply(&event);
        events.push(event);
    };
    commit(
        &mut state,
        EventKind::ClinicSeeded {
            clinic,
            services,
            rooms,
        },
        now,
    );
    let issue = Command::IssueTicket {
        service: ServiceId::parse("general").unwrap(),
        priority: PriorityClass::Normal,
        idempotency_key: None,
        patient: None,
    };
    for _ in 0..3 {
        let Ok(Decision::Event(kind)) = state.decide(&issue, &origin, now, &policy) else {
            panic!("issue refused");
        };
        commit(&mut state, kind, now);
    }
    now += SignedDuration::from_mins(1);
    let call = Command::RoomNext {
        room: RoomId::parse("room-1").unwrap(),
    };
    let Ok(Decision::Event(kind)) = state.decide(&call, &origin, now, &policy) else {
        panic!("next refused");
    };
    commit(&mut state, kind, now);
    let undo = Command::RoomUndo {
        room: RoomId::parse("room-1").unwrap(),
    };
    let Ok(Decision::Event(kind)) = state.decide(&undo, &origin, now, &policy) else {
        panic!("undo refused");
    };
    commit(&mut state, kind, now);
    let visits = replay(events, day, &policy);
    assert_eq!(visits.len(), 3);
    let estimates: Vec<Option<u32>> = visits.iter().map(|v| v.estimate_mins).collect();
    // The demo clinic has two open rooms for general OPD, 10 minutes each by default.
    assert!(estimates[0].is_some());
    assert!(estimates[2] > estimates[0], "{estimates:?}");
    assert_eq!(visits[0].first_called_at, None, "the call was undone");
    assert_eq!(visits[0].outcome, Outcome::Open);
}

#[test]
fn feedback_is_counted_averaged_and_spread_by_service_and_room() {
    let mut log = Log { events: vec![] };
    let t = ticket(
        1,
        "A001",
        "general",
        PriorityClass::Normal,
        "2026-03-02T04:30:00Z",
    );
    log.push(
        "2026-03-02T04:30:00Z",
        EventKind::TicketIssued {
            ticket: t,
            idempotency_key: None,
            booking: None,
            estimate_mins: None,
        },
    );
    log.push(
        "2026-03-02T05:00:00Z",
        EventKind::FeedbackGiven {
            ticket: TicketId(1),
            score: 3,
            service: ServiceId::parse("general").unwrap(),
            room: Some(RoomId::parse("room-1").unwrap()),
        },
    );
    let mut fold = VisitLog::new();
    for event in &log.events {
        fold.observe(event, None);
    }
    assert_eq!(fold.into_visits()[0].feedback, Some(3));

    // A001 (general, room 1) 5; L001 (lab, room 2) 2; A004 (ended in lab, room 2) 4.
    let mut visits = fixture();
    for (number, score) in [("A001", 5), ("L001", 2), ("A004", 4)] {
        visits
            .iter_mut()
            .find(|v| v.number == number)
            .unwrap()
            .feedback = Some(score);
    }
    let feedback = whole(&visits).feedback;
    assert_eq!(
        feedback.total,
        FeedbackMeasures {
            count: 3,
            mean: Some(3.67),
            scores: [0, 1, 0, 1, 1],
        }
    );
    let row = |rows: &[FeedbackBucket], key: &str| {
        rows.iter()
            .find(|b| b.key == key)
            .map(|b| (b.measures.count, b.measures.mean))
    };
    assert_eq!(row(&feedback.by_service, "general"), Some((1, Some(5.0))));
    assert_eq!(row(&feedback.by_service, "lab"), Some((2, Some(3.0))));
    assert_eq!(row(&feedback.by_room, "room-1"), Some((1, Some(5.0))));
    assert_eq!(row(&feedback.by_room, "room-2"), Some((2, Some(3.0))));
    assert_eq!(whole(&fixture()).feedback, FeedbackReport::default());
}

#[test]
fn quantiles_are_the_same_whether_durations_are_kept_or_counted() {
    // 10,000 waits (past the point where a bucket counts them per second), some over a day.
    let mut x: u64 = 7;
    let mut values: Vec<u32> = (0..10_000)
        .map(|i| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let v = u32::try_from((x >> 33) % 7_200).unwrap();
            if i % 997 == 0 { 90_000 + v } else { v }
        })
        .collect();
    for n in [1, 2, 3, 10, 4_096, 4_097, 4_098, 9_999, 10_000] {
        let mut kept = super::Durations::default();
        let mut sorted = values[..n].to_vec();
        for &v in &sorted {
            kept.push(v);
        }
        sorted.sort_unstable();
        let median = if n % 2 == 1 {
            f64::from(sorted[n / 2])
        } else {
            (f64::from(sorted[n / 2 - 1]) + f64::from(sorted[n / 2])) / 2.0
        };
        let p90 = f64::from(sorted[(n * 9).div_ceil(10) - 1]);
        let round2 = |m: f64| (m / 60.0 * 100.0).round() / 100.0;
        assert_eq!(kept.median(), Some(round2(median)), "median of {n}");
        assert_eq!(kept.p90(), Some(round2(p90)), "p90 of {n}");
        assert_eq!(
            matches!(kept, super::Durations::Counts { .. }),
            n > super::KEPT_VALUES
        );
    }
    values.clear();
    assert_eq!(super::Durations::default().median(), None);
}

/// A visit of the staff fixture: issued, called (the last call) and ended on 3 March 2026 at
/// `HH:MM` UTC.
fn staff_visit(
    id: u64,
    room: Option<&str>,
    by: Option<&str>,
    issued: &str,
    call: Option<&str>,
    end: &str,
    outcome: Outcome,
) -> Visit {
    let at = |hm: &str| ts(&format!("2026-03-03T{hm}:00Z"));
    Visit {
        ticket: TicketId(id),
        number: format!("A{id:03}"),
        service: ServiceId::parse("general").unwrap(),
        room: room.map(|r| RoomId::parse(r).unwrap()),
        called_by: by.map(str::to_owned),
        class: VisitClass::WalkIn,
        issued_at: at(issued),
        first_called_at: call.map(at),
        last_called_at: call.map(at),
        finished_at: Some(at(end)),
        outcome,
        recalls: 0,
        transfers: 0,
        estimate_mins: None,
        feedback: None,
    }
}

/// Rao is the only doctor of room-1; room-2 has two (Sen and another), so a device there
/// counts for no one; Anita is reception.
fn clinic_doctors() -> Doctors {
    Doctors {
        by_actor: HashMap::from([
            ("user:rao".to_owned(), "rao".to_owned()),
            ("user:sen".to_owned(), "sen".to_owned()),
        ]),
        by_room: HashMap::from([(RoomId::parse("room-1").unwrap(), "rao".to_owned())]),
    }
}

/// Tuesday 3 March 2026 in India (+5:30), times in UTC:
///
/// | visit | room   | last call by     | issued | called | end             | doctor | hour (IST) |
/// |-------|--------|------------------|--------|--------|-----------------|--------|------------|
/// | 1     | room-1 | user:rao         | 04:00  | 04:32  | done 04:40      | rao    | 10         |
/// | 2     | room-1 | gpio17           | 04:05  | 05:20  | done 05:40      | rao    | 11         |
/// | 3     | room-2 | user:sen         | 04:10  | 04:40  | done 04:44      | sen    | 10         |
/// | 4     | room-2 | token:his-bridge | 04:15  | 04:50  | no-show 04:55   | —      |            |
/// | 5     | room-3 | user:anita       | 04:20  | 04:30  | done 04:40      | —      | 10         |
/// | 6     | —      | —                | 04:25  | —      | cancelled 05:00 | —      |            |
/// | 7     | room-2 | user:rao         | 04:30  | 04:42  | done 04:58      | rao    | 10         |
fn staff_fixture() -> Vec<Visit> {
    use Outcome::{Cancelled, Done, NoShow};
    let (r1, r2, r3) = (Some("room-1"), Some("room-2"), Some("room-3"));
    vec![
        staff_visit(
            1,
            r1,
            Some("user:rao"),
            "04:00",
            Some("04:32"),
            "04:40",
            Done,
        ),
        staff_visit(2, r1, Some("gpio17"), "04:05", Some("05:20"), "05:40", Done),
        staff_visit(
            3,
            r2,
            Some("user:sen"),
            "04:10",
            Some("04:40"),
            "04:44",
            Done,
        ),
        staff_visit(
            4,
            r2,
            Some("token:his-bridge"),
            "04:15",
            Some("04:50"),
            "04:55",
            NoShow,
        ),
        staff_visit(
            5,
            r3,
            Some("user:anita"),
            "04:20",
            Some("04:30"),
            "04:40",
            Done,
        ),
        staff_visit(6, None, None, "04:25", None, "05:00", Cancelled),
        staff_visit(
            7,
            r2,
            Some("user:rao"),
            "04:30",
            Some("04:42"),
            "04:58",
            Done,
        ),
    ]
}

fn row<'a>(buckets: &'a [Bucket], key: &str) -> &'a Measures {
    &buckets
        .iter()
        .find(|b| b.key == key)
        .unwrap_or_else(|| panic!("no row {key}"))
        .measures
}

#[test]
fn staff_rows_bucket_visits_by_who_made_the_last_call() {
    let report = build(
        staff_fixture(),
        ts("2026-03-02T18:30:00Z"),
        ts("2026-03-03T18:30:00Z"),
        &ist(),
        SignedDuration::from_mins(15),
        &clinic_doctors(),
    );
    let keys: Vec<&str> = report.by_staff.iter().map(|b| b.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "gpio17",
            "token:his-bridge",
            "user:anita",
            "user:rao",
            "user:sen"
        ],
        "the never-called visit 6 is in no row"
    );
    // Rao himself: visits 1 and 7, both served in the 10:00 hour → 2 an hour.
    let rao = row(&report.by_staff, "user:rao");
    assert_eq!((rao.arrived, rao.served), (2, 2));
    assert_eq!(rao.wait_median_mins, Some(22.0)); // waits 32 and 12
    assert_eq!(rao.service_median_mins, Some(12.0)); // 8 and 16
    assert_eq!(rao.throughput_per_hour, Some(2.0));
    let token = row(&report.by_staff, "token:his-bridge");
    assert_eq!((token.arrived, token.served, token.no_show), (1, 0, 1));
    assert_eq!(token.no_show_pct, Some(100.0));
    assert_eq!(token.throughput_per_hour, None, "nothing served");
    let device = row(&report.by_staff, "gpio17");
    assert_eq!(device.wait_median_mins, Some(75.0));
    assert_eq!(device.throughput_per_hour, Some(1.0));
    // The whole clinic: 5 served in the 10:00 and 11:00 hours.
    assert_eq!(report.total.throughput_per_hour, Some(2.5));
    assert_eq!(
        report
            .by_staff
            .iter()
            .map(|b| b.measures.arrived)
            .sum::<u64>(),
        6
    );
}

#[test]
fn doctor_rows_count_their_own_calls_and_their_rooms_devices() {
    let report = build(
        staff_fixture(),
        ts("2026-03-02T18:30:00Z"),
        ts("2026-03-03T18:30:00Z"),
        &ist(),
        SignedDuration::from_mins(15),
        &clinic_doctors(),
    );
    let keys: Vec<&str> = report.by_doctor.iter().map(|b| b.key.as_str()).collect();
    assert_eq!(keys, ["rao", "sen"]);
    // Rao: visits 1 and 7 (his own calls, whatever the room) and 2 (the button of his room).
    let rao = row(&report.by_doctor, "rao");
    assert_eq!((rao.arrived, rao.served), (3, 3));
    assert_eq!(rao.wait_median_mins, Some(32.0)); // 12, 32, 75
    assert_eq!(rao.service_median_mins, Some(16.0)); // 8, 16, 20
    assert_eq!(rao.throughput_per_hour, Some(1.5)); // 3 in the 10:00 and 11:00 hours
    let sen = row(&report.by_doctor, "sen");
    assert_eq!((sen.arrived, sen.served), (1, 1));
    assert_eq!(sen.service_median_mins, Some(4.0));
    assert_eq!(sen.throughput_per_hour, Some(1.0));
}

#[test]
fn a_call_counts_for_a_doctor_by_the_rule() {
    let doctors = clinic_doctors();
    let visit = |room: Option<&str>, by: Option<&str>| {
        staff_visit(1, room, by, "04:00", Some("04:10"), "04:20", Outcome::Done)
    };
    let cases = [
        (Some("room-2"), Some("user:rao"), Some("rao")), // a doctor's own call, any room
        (Some("room-1"), Some("screen:desk"), Some("rao")), // not a user: the room's doctor
        (Some("room-1"), Some("token:his"), Some("rao")),
        (Some("room-1"), Some("user:anita"), None), // a user who is not a doctor
        (Some("room-1"), Some("user:ghost"), None), // a user no longer known
        (Some("room-2"), Some("gpio4"), None),      // two doctors in the room
        (None, Some("gpio4"), None),
        (Some("room-1"), None, None), // never called
    ];
    for (room, by, expected) in cases {
        assert_eq!(
            doctors.doctor_of(&visit(room, by)),
            expected,
            "{room:?} {by:?}"
        );
    }
}

#[test]
fn parts_aggregated_apart_and_merged_make_the_same_report() {
    // The two fixtures, and 9,000 more visits so that the big buckets count per second.
    let mut visits = fixture();
    visits.extend(staff_fixture());
    let base = visits.clone();
    for i in 0..9_000u32 {
        let mut v = base[usize::try_from(i).unwrap() % base.len()].clone();
        v.ticket = TicketId(1_000 + u64::from(i));
        let shift = SignedDuration::from_secs(i64::from(i % 600) * 7);
        v.issued_at += shift;
        v.first_called_at = v.first_called_at.map(|t| t + shift * 2);
        v.last_called_at = v.last_called_at.map(|t| t + shift * 2);
        v.finished_at = v.finished_at.map(|t| t + shift * 3);
        visits.push(v);
    }
    let (from, to) = (ts("2026-03-01T00:00:00Z"), ts("2026-03-08T00:00:00Z"));
    let tz = ist();
    let target = SignedDuration::from_mins(15);
    let doctors = clinic_doctors();
    let one = build(&visits, from, to, &tz, target, &doctors);
    assert!(one.total.arrived > 9_000);
    for split in [1, 7, 4_000, visits.len() - 1] {
        let (a, b) = visits.split_at(split);
        let mut left = Aggregate::new(from, to, &tz, target, &doctors);
        a.iter().for_each(|v| left.add(v));
        let mut right = Aggregate::new(from, to, &tz, target, &doctors);
        b.iter().for_each(|v| right.add(v));
        // Either way round.
        let mut l = left.clone();
        l.merge(right.clone());
        assert_eq!(l.finish(), one, "left then right, split at {split}");
        right.merge(left);
        assert_eq!(right.finish(), one, "right then left, split at {split}");
    }
}
