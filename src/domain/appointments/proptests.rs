//! Property tests: slots never touch a break, a day off or a buffer, in any zone; and no
//! interleaving of book, cancel, reschedule, check-in and no-show ever puts more patients in a
//! slot than its seats.

use jiff::civil::{Date, Time, date, time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use proptest::prelude::*;

use super::slots::instant;
use super::*;
use crate::domain::{ServiceId, TicketId};

const ZONES: &[&str] = &[
    "UTC",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Europe/London",
    "America/New_York",
    "Australia/Lord_Howe",
];

fn quarter() -> impl Strategy<Value = Time> {
    (0i8..24, 0i8..4).prop_map(|(h, q)| time(h, q * 15, 0, 0))
}

fn period() -> impl Strategy<Value = Period> {
    (quarter(), quarter())
        .prop_filter("a period has length", |(a, b)| a != b)
        .prop_map(|(a, b)| Period {
            start: a.min(b),
            end: a.max(b),
        })
}

fn periods(most: usize) -> impl Strategy<Value = Vec<Period>> {
    prop::collection::vec(period(), 0..=most).prop_map(|mut all| {
        // Keep the ones that do not overlap an earlier one: a plan that passes `check`.
        let mut kept: Vec<Period> = Vec::new();
        all.sort();
        for p in all {
            if kept.iter().all(|k| p.end <= k.start || k.end <= p.start) {
                kept.push(p);
            }
        }
        kept
    })
}

/// A day near a daylight-saving change in one zone or another, or any day.
fn day() -> impl Strategy<Value = Date> {
    prop_oneof![
        Just(date(2026, 3, 29)),
        Just(date(2026, 3, 8)),
        Just(date(2026, 10, 25)),
        Just(date(2026, 11, 1)),
        Just(date(2026, 4, 5)),
        Just(date(2026, 10, 4)),
        (0i32..365).prop_map(|d| date(2026, 1, 1).checked_add(d.days()).unwrap()),
    ]
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        periods(3),
        periods(2),
        prop_oneof![
            Just(10u16),
            Just(15),
            Just(20),
            Just(30),
            Just(45),
            Just(60)
        ],
        0u16..20,
        0u16..20,
        1u16..4,
        any::<bool>(),
        periods(2),
    )
        .prop_map(|(hours, breaks, slot, before, after, seats, off, custom)| {
            let mut plan = Plan::weekdays("rao", ServiceId::parse("general").unwrap(), hours);
            plan.weekly[6] = plan.weekly[0].clone();
            plan.breaks = std::array::from_fn(|_| breaks.clone());
            plan.slot_minutes = slot;
            plan.buffer_before_minutes = before;
            plan.buffer_after_minutes = after;
            plan.seats = seats;
            // An exception on the days the zones change their clocks.
            let exception = if off {
                DayException::Off {
                    reason: "holiday".into(),
                }
            } else {
                DayException::Hours { periods: custom }
            };
            plan.exceptions.insert(date(2026, 3, 29), exception);
            plan
        })
}

/// A wall-clock period as instants on `date`.
fn span(p: &Period, on: Date, tz: &TimeZone) -> (Timestamp, Timestamp) {
    (
        instant(on, p.start, tz).unwrap(),
        instant(on, p.end, tz).unwrap(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn slots_stay_inside_the_hours_and_clear_of_breaks_and_buffers(
        plan in plan(),
        on in day(),
        zone in prop::sample::select(ZONES),
    ) {
        prop_assert_eq!(plan.check(), Ok(()));
        let tz = TimeZone::get(zone).unwrap();
        let slots = plan.slots_on(on, &tz);
        let before = i64::from(plan.buffer_before_minutes) * 60;
        let after = i64::from(plan.buffer_after_minutes) * 60;
        if matches!(plan.exceptions.get(&on), Some(DayException::Off { .. })) {
            prop_assert!(slots.is_empty());
        }
        let hours: Vec<_> = plan.periods_on(on).iter().map(|p| span(p, on, &tz)).collect();
        let breaks: Vec<_> = plan.breaks_on(on).iter().map(|p| span(p, on, &tz)).collect();
        for slot in &slots {
            prop_assert_eq!(
                slot.end.as_second() - slot.start.as_second(),
                i64::from(plan.slot_minutes) * 60
            );
            prop_assert_eq!(slot.seats, plan.seats);
            // The slot with its buffers, as instants.
            let from = slot.start.as_second() - before;
            let to = slot.end.as_second() + after;
            prop_assert!(
                hours.iter().any(|(a, b)| a.as_second() <= from && to <= b.as_second()),
                "slot {:?} outside the hours {:?}", slot, hours
            );
            for (a, b) in &breaks {
                prop_assert!(
                    to <= a.as_second() || b.as_second() <= from,
                    "slot {:?} with buffers touches the break {}–{}", slot, a, b
                );
            }
            // Each slot is found again by its start.
            prop_assert_eq!(plan.slot_at(slot.start, &tz), Some(*slot));
        }
        // In order, and blocks (slot and buffers) never overlap.
        for pair in slots.windows(2) {
            prop_assert!(
                pair[0].end.as_second() + after <= pair[1].start.as_second() - before,
                "{:?}", pair
            );
        }
    }
}

/// One step of the interleaving test.
#[derive(Clone, Debug)]
enum Step {
    Book {
        slot: usize,
        patient: u8,
        staff: bool,
    },
    Cancel {
        booking: u64,
    },
    Reschedule {
        booking: u64,
        slot: usize,
    },
    CheckIn {
        booking: u64,
    },
    NoShow {
        booking: u64,
    },
    Later {
        minutes: u16,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0usize..12, 0u8..5, any::<bool>()).prop_map(|(slot, patient, staff)| Step::Book { slot, patient, staff }),
        2 => (1u64..20).prop_map(|booking| Step::Cancel { booking }),
        2 => (1u64..20, 0usize..12).prop_map(|(booking, slot)| Step::Reschedule { booking, slot }),
        1 => (1u64..20).prop_map(|booking| Step::CheckIn { booking }),
        1 => (1u64..20).prop_map(|booking| Step::NoShow { booking }),
        1 => (1u16..240).prop_map(|minutes| Step::Later { minutes }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn no_interleaving_puts_more_patients_in_a_slot_than_its_seats(
        steps in prop::collection::vec(step(), 1..80),
        seats in 1u16..3,
        zone in prop::sample::select(ZONES),
    ) {
        let tz = TimeZone::get(zone).unwrap();
        let mut plan = Plan::weekdays(
            "rao",
            ServiceId::parse("general").unwrap(),
            vec![Period::hm((9, 0), (12, 0))],
        );
        plan.seats = seats;
        plan.slot_minutes = 30;
        plan.per_patient_per_day = 2;
        let mut plans = Plans::default();
        plans.check(&plan).unwrap();
        plans.set(plan.clone());
        // Slots of Monday and Tuesday; the clock starts on Sunday evening.
        let mut slots = plan.slots_on(date(2026, 12, 7), &tz);
        slots.extend(plan.slots_on(date(2026, 12, 8), &tz));
        let mut now = instant(date(2026, 12, 6), time(20, 0, 0, 0), &tz).unwrap();
        let mut ledger = Ledger::default();
        let mut code = 0u8;
        for step in steps {
            let op = match step {
                Step::Later { minutes } => {
                    now = now.checked_add(i64::from(minutes).minutes()).unwrap();
                    continue;
                }
                Step::Book { slot, patient, staff } => {
                    code = code.wrapping_add(1);
                    BookingOp::Book {
                        doctor: "rao".into(),
                        service: ServiceId::parse("general").unwrap(),
                        start: slots[slot % slots.len()].start,
                        code: booking_code([code, code / 7, 3, 4, 5, 6]),
                        patient_key: Some(format!("p{patient}")),
                        channel: if staff { Channel::Staff } else { Channel::Public },
                        overbook: false,
                    }
                }
                Step::Cancel { booking } => BookingOp::Cancel { id: booking },
                Step::Reschedule { booking, slot } => BookingOp::Reschedule {
                    id: booking,
                    doctor: "rao".into(),
                    start: slots[slot % slots.len()].start,
                    channel: Channel::Public,
                    overbook: false,
                },
                Step::CheckIn { booking } => BookingOp::CheckIn { id: booking, ticket: TicketId(booking) },
                Step::NoShow { booking } => BookingOp::NoShow { id: booking },
            };
            let before = ledger.clone();
            match ledger.decide(&plans, &tz, now, Arrival::default(), op) {
                Ok(change) => ledger.apply(&change),
                Err(_) => prop_assert_eq!(&ledger, &before),
            }
            prop_assert_eq!(&ledger.recount(), ledger.seats_index());
            for held in ledger.seats_index().values() {
                prop_assert!(*held <= seats, "{} patients in a slot of {}", held, seats);
            }
            for booking in ledger.all() {
                prop_assert!(plan.slot_at(booking.start, &tz).is_some());
            }
        }
    }
}
