//! The next-ticket rule: which waiting ticket a room calls. One pure function, [`pick_next`].
//!
//! In one sentence, as a clinic explains it: urgent patients first, then booked patients whose
//! slot has come, then everyone else in order of arrival, a priority patient (elderly,
//! disabled, pregnant) counting as having arrived a head start earlier (the clinic's
//! `queue.priority_head_start_mins`, [`PRIORITY_HEAD_START`] = 10 minutes by default).
//!
//! Order: the rank (urgent, then due appointments, then walk-ins), then the time a ticket counts
//! as queued at (its queue time; a priority ticket's minus the head start), then its id — see
//! [`Ticket::order_key`]. A priority ticket thus passes only the walk-ins who came less than
//! the head start before it: a walk-in's extra wait over first come, first served is bounded by
//! the priority patients who arrive in the head start after it, and a room that calls several
//! services takes their walk-ins by arrival, whichever service they are in.
//!
//! Anti-starvation (against the unbounded streams, urgent and booked patients): a ticket that
//! has been *passed over* — a ticket of a higher rank that counts as queued later was called
//! before it, while it had counted as waiting at least `after` — `max_passes` times is called
//! next, whatever its class. Among several starving tickets the lowest rank goes first (so
//! calling one never passes over another starving one: walk-ins, then booked patients), then
//! the call order within it (a priority walk-in with its head start, as everywhere). Hence no
//! ticket is passed over more than `max_passes` times. A priority call passes nobody (it ranks
//! with the walk-ins; its head start is its bound).
//!
//! Appointments (the interleave rule): a booked patient who checks in within the window
//! [slot − early, slot + late] gets a ticket in the `appointment` class queued at the slot time
//! (see `engine`'s check-in). Once the slot is due it is called before priority and normal
//! tickets, booked patients by slot time; before its slot it stands among the walk-ins at the
//! slot time ([`Ticket::order_key_at`]), so an early arrival waits for its slot and never passes a
//! walk-in who came before that time. A patient who checks in after the late limit gets a
//! normal ticket, ordered by check-in time like any walk-in. Urgent still goes first. The
//! fairness cap is the anti-starvation rule: a walk-in passed over `max_passes` times by due
//! appointments (or urgent tickets) while it had waited `after` is called next.

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{PriorityClass, Ticket, TicketId, Timestamp};

/// How much earlier than its queue time a priority ticket counts in the call order by default
/// (`queue.priority_head_start_mins`): it is called before the walk-ins queued less than this
/// before it, after those queued longer before it. The index of waiting tickets is ordered by
/// the clinic's setting ([`super::QueueState::set_head_start`]).
pub const PRIORITY_HEAD_START: SignedDuration = SignedDuration::from_mins(10);

/// The anti-starvation setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Starvation {
    /// A ticket is passed over at most this many times (≥ 1).
    pub max_passes: u32,
    /// Passes count only once the ticket has waited this long.
    pub after: SignedDuration,
}

/// Why the rule picked a ticket: shown on the staff console.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum PickReason {
    /// The first ticket in call order: the highest rank waiting (urgent, a due appointment,
    /// a walk-in), the first to arrive within it (a priority ticket with its head start).
    HighestClass {
        /// Its class.
        class: PriorityClass,
    },
    /// Anti-starvation: it had been passed over this many times.
    Starvation {
        /// Its class.
        class: PriorityClass,
        /// Times it had been passed over.
        passed_over: u32,
    },
    /// Staff called this ticket out of order, saying why (the audit trail keeps the note; the
    /// public event stream leaves it out).
    Chosen {
        /// Its class.
        class: PriorityClass,
        /// Why staff called it (1–200 characters, one line).
        note: String,
    },
}

/// The rule's answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Pick {
    /// The ticket to call.
    pub ticket: TicketId,
    /// Why.
    pub reason: PickReason,
    /// The tickets this call passes over (their `passed_over` grows by one).
    pub passed_over: Vec<TicketId>,
}

/// Picks the next ticket among `waiting` (the waiting tickets of the room's services), a
/// priority ticket counting as queued `head_start` earlier.
pub fn pick_next<'a, I>(
    waiting: I,
    now: Timestamp,
    starvation: Option<Starvation>,
    head_start: SignedDuration,
) -> Option<Pick>
where
    I: IntoIterator<Item = &'a Ticket>,
    I::IntoIter: Clone,
{
    let waiting = waiting.into_iter();
    let starving = starvation.and_then(|s| {
        waiting
            .clone()
            .filter(|t| t.passed_over >= s.max_passes.max(1))
            .min_by_key(|t| t.starve_key(head_start))
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
            let t = waiting
                .clone()
                .min_by_key(|t| t.order_key_at(now, head_start))?;
            (t, PickReason::HighestClass { class: t.priority })
        }
    };
    let picked_key = picked.order_key_at(now, head_start);
    let passed_over = match starvation {
        Some(s) => waiting
            .filter(|t| {
                let key = t.order_key(head_start);
                key.0 > picked_key.0
                    && (key.1, key.2) < (picked_key.1, picked_key.2)
                    && now.duration_since(key.1) >= s.after
            })
            .map(|t| t.id)
            .collect(),
        None => Vec::new(),
    };
    Some(Pick {
        ticket: picked.id,
        reason,
        passed_over,
    })
}

/// The waiting tickets in the order the rule would call them, ignoring anti-starvation and
/// appointment slots still to come (used for positions and wait estimates).
pub fn queue_order<'a>(
    waiting: impl IntoIterator<Item = &'a Ticket>,
    head_start: SignedDuration,
) -> Vec<&'a Ticket> {
    let mut order: Vec<&Ticket> = waiting.into_iter().collect();
    order.sort_by_key(|t| t.order_key(head_start));
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ServiceId, Source, TicketState};

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn ticket(id: u64, class: PriorityClass, queued: i64, passed_over: u32) -> Ticket {
        Ticket {
            id: TicketId(id),
            number: format!("A{id:03}"),
            ordinal: u32::try_from(id).unwrap(),
            service: ServiceId::parse("general").unwrap(),
            priority: class,
            state: TicketState::Waiting,
            day: jiff::civil::date(2026, 11, 21),
            created_at: at(queued),
            queued_at: at(queued),
            called_at: None,
            finished_at: None,
            room: None,
            recall_count: 0,
            passed_over,
            requeue_count: 0,
            transferred_from: None,
            transferred_to: None,
            cancel_reason: None,
            source: Source::Api,
            feedback_given: false,
        }
    }

    const STARVE: Starvation = Starvation {
        max_passes: 2,
        after: SignedDuration::from_secs(60),
    };
    use PriorityClass::{Normal, Priority, Urgent};

    #[test]
    fn empty_queue_picks_nobody() {
        assert_eq!(
            pick_next(&[], at(0), Some(STARVE), PRIORITY_HEAD_START),
            None
        );
    }

    #[test]
    fn classes_then_first_come_first_served() {
        // (tickets, expected pick)
        type Case<'a> = (&'a [(u64, PriorityClass, i64)], u64);
        let cases: &[Case] = &[
            (&[(1, Normal, 0), (2, Normal, 10)], 1),
            (&[(1, Normal, 0), (2, Priority, 10)], 2),
            (&[(1, Priority, 0), (2, Urgent, 10), (3, Normal, 0)], 2),
            (&[(3, Normal, 5), (2, Normal, 5)], 2),
            (&[(1, Priority, 20), (2, Priority, 10)], 2),
            // a priority ticket counts as queued 10 minutes earlier: it passes a walk-in who
            // came less than that before it...
            (&[(1, Normal, 0), (2, Priority, 599)], 2),
            // ...but not one who came longer before it
            (&[(1, Normal, 0), (2, Priority, 601)], 1),
            (&[(1, Priority, 601), (2, Normal, 0), (3, Urgent, 700)], 3),
        ];
        for (tickets, expected) in cases {
            let tickets: Vec<Ticket> = tickets
                .iter()
                .map(|&(id, class, q)| ticket(id, class, q, 0))
                .collect();
            let pick = pick_next(&tickets, at(100), None, PRIORITY_HEAD_START).unwrap();
            assert_eq!(pick.ticket, TicketId(*expected), "{tickets:?}");
            assert!(matches!(pick.reason, PickReason::HighestClass { .. }));
        }
    }

    #[test]
    fn a_later_higher_rank_passes_over_tickets_that_waited_long_enough() {
        let tickets = [
            ticket(1, Normal, 0, 0),    // waited 100 s: passed over
            ticket(2, Normal, 80, 0),   // waited 20 s: too short to count
            ticket(3, Urgent, 10, 0),   // picked
            ticket(4, Urgent, 50, 0),   // same class: not passed over
            ticket(5, Priority, 95, 0), // counts as queued 10 minutes earlier: passed over
        ];
        let pick = pick_next(&tickets, at(100), Some(STARVE), PRIORITY_HEAD_START).unwrap();
        assert_eq!(pick.ticket, TicketId(3));
        assert_eq!(pick.passed_over, vec![TicketId(1), TicketId(5)]);
    }

    #[test]
    fn a_priority_call_passes_nobody() {
        // the priority ticket goes before the walk-in who came 5 minutes before it, but that
        // is its bounded head start, not a pass
        let tickets = [ticket(1, Normal, 0, 0), ticket(2, Priority, 300, 0)];
        let pick = pick_next(&tickets, at(400), Some(STARVE), PRIORITY_HEAD_START).unwrap();
        assert_eq!(pick.ticket, TicketId(2));
        assert_eq!(pick.reason, PickReason::HighestClass { class: Priority });
        assert!(pick.passed_over.is_empty());
    }

    #[test]
    fn a_starving_ticket_goes_first_walk_ins_before_booked_then_in_call_order() {
        use PriorityClass::Appointment;
        let tickets = [
            ticket(1, Urgent, 50, 0),
            ticket(2, Appointment, 0, 2),
            // a priority walk-in counts as queued 100 (its head start), after the normal at 10
            ticket(3, Priority, 700, 2),
            ticket(4, Normal, 20, 2),
            ticket(5, Normal, 10, 2),
        ];
        let pick = pick_next(&tickets, at(1000), Some(STARVE), PRIORITY_HEAD_START).unwrap();
        assert_eq!(pick.ticket, TicketId(5));
        assert_eq!(
            pick.reason,
            PickReason::Starvation {
                class: Normal,
                passed_over: 2
            }
        );
        assert!(pick.passed_over.is_empty());
        // a priority walk-in that counts as queued first goes first among the starving walk-ins
        // (the rule's order, not "lowest class first": it ranks with the walk-ins)
        let mut earlier = tickets.clone();
        earlier[2] = ticket(3, Priority, 500, 2);
        let pick = pick_next(&earlier, at(1000), Some(STARVE), PRIORITY_HEAD_START).unwrap();
        assert_eq!(pick.ticket, TicketId(3));
        assert!(pick.passed_over.is_empty());
        // the booked patient after every starving walk-in
        let booked = [tickets[0].clone(), tickets[1].clone()];
        let pick = pick_next(&booked, at(1000), Some(STARVE), PRIORITY_HEAD_START).unwrap();
        assert_eq!(pick.ticket, TicketId(2));
        // without anti-starvation the urgent ticket goes first
        let pick = pick_next(&tickets, at(1000), None, PRIORITY_HEAD_START).unwrap();
        assert_eq!(pick.ticket, TicketId(1));
    }

    #[test]
    fn a_due_appointment_goes_after_urgent_by_slot_an_early_one_waits_among_walk_ins() {
        use PriorityClass::Appointment;
        // (tickets (id, class, queued: the slot for appointments), expected pick) at t=100
        type Case<'a> = (&'a [(u64, PriorityClass, i64)], u64);
        let cases: &[Case] = &[
            // due: before priority and walk-ins who came earlier
            (
                &[(1, Normal, 0), (2, Priority, 10), (3, Appointment, 90)],
                3,
            ),
            // urgent still first
            (&[(1, Urgent, 95), (3, Appointment, 90)], 1),
            // two due: the earlier slot first, whatever the check-in order
            (&[(3, Appointment, 100), (4, Appointment, 60)], 4),
            // early (slot at 400): waits behind the walk-ins who came before the slot
            (&[(1, Normal, 50), (3, Appointment, 400)], 1),
            (&[(1, Priority, 50), (3, Appointment, 400)], 1),
            // ...but a room with nobody else calls the early patient
            (&[(3, Appointment, 400)], 3),
            // a due one before an early one
            (&[(3, Appointment, 400), (4, Appointment, 100)], 4),
        ];
        for (tickets, expected) in cases {
            let tickets: Vec<Ticket> = tickets
                .iter()
                .map(|&(id, class, q)| ticket(id, class, q, 0))
                .collect();
            let pick = pick_next(&tickets, at(100), Some(STARVE), PRIORITY_HEAD_START).unwrap();
            assert_eq!(pick.ticket, TicketId(*expected), "{tickets:?}");
        }
    }

    #[test]
    fn walk_ins_passed_over_by_appointments_are_called_after_max_passes() {
        use PriorityClass::Appointment;
        // A walk-in who has waited 100 s is passed over by a due appointment...
        let tickets = [ticket(1, Normal, 0, 0), ticket(2, Appointment, 90, 0)];
        let pick = pick_next(&tickets, at(100), Some(STARVE), PRIORITY_HEAD_START).unwrap();
        assert_eq!(
            (pick.ticket, pick.passed_over),
            (TicketId(2), vec![TicketId(1)])
        );
        // ...and once passed over `max_passes` times it goes before the next appointment.
        let tickets = [ticket(1, Normal, 0, 2), ticket(3, Appointment, 95, 0)];
        let pick = pick_next(&tickets, at(100), Some(STARVE), PRIORITY_HEAD_START).unwrap();
        assert_eq!(pick.ticket, TicketId(1));
    }

    #[test]
    fn queue_order_is_urgent_then_walk_ins_by_arrival_with_the_priority_head_start() {
        let tickets = [
            ticket(1, Normal, 0, 0),
            ticket(2, Urgent, 30, 0),
            ticket(3, Priority, 20, 0),
            ticket(4, Normal, 5, 0),
            ticket(5, Priority, 700, 0), // counts as queued at 100
        ];
        let ids: Vec<u64> = queue_order(&tickets, PRIORITY_HEAD_START)
            .iter()
            .map(|t| t.id.0)
            .collect();
        assert_eq!(ids, vec![2, 3, 1, 4, 5]);
    }
}
