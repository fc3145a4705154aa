//! Wait estimates: the people ahead, plus the tickets expected to arrive during the wait and
//! pass this one (urgent and due appointments at any time; for a normal ticket, priority
//! tickets within their head start of its queue time, see [`super::rules`]), ÷ the serving rate
//! of the open rooms that serve the service; the range is roughly the 10th–90th percentile of
//! the wait.
//!
//! Each room's rate comes from the moving average of its recent service times
//! ([`super::ServiceTimes`]); a room with no samples yet uses the configured default. A room
//! that is not open yet today (a late start, [`LATE_OPEN_SECS`]) works the share `1 − d/W` of
//! a wait `W` when it opens in `d`; the uncertainty of its coming widens the range. When every
//! room is busy, the first free slot comes after `(1 + cv²)/2` of a service (a room found busy
//! is more likely in a long one).
//!
//! The wait is a sum of service times (divided among the open rooms) over the people ahead and
//! the inflow that passes (a Poisson count, bounded by anti-starvation and by the head start).
//! Its mean solves `W = (ahead + λW + λₕ·min(W, H)) / μ`; its variance adds the service times' variance (per person, ÷ μ²),
//! the inflow's Poisson variance, and a share of the mean for what the model does not see
//! (breaks, rooms changing speed, patients leaving). The range is the 10th and 90th percentile
//! of a lognormal with that mean and variance (waits are skewed: a long tail, never below 0).
//! The constants are calibrated with the clinic-day simulator (docs/queue-quality.md).
//!
//! Everything here is pure arithmetic on numbers the state passes in: no clock, no I/O.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One open room that serves the ticket's service.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoomRate {
    /// Mean service time, seconds.
    pub mean_secs: f64,
    /// Mean absolute deviation, seconds.
    pub dev_secs: f64,
    /// Whether the room is serving someone now, or on break (not free now, but returning).
    pub busy: bool,
    /// Not open yet today: expected to open this many seconds from now (0: open now).
    pub opens_in_secs: f64,
}

/// What stands before a ticket: the people ahead now and the expected inflow that will pass it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Load {
    /// People ahead now in call order, plus lower-class tickets anti-starvation is expected to
    /// call first (may be fractional).
    pub ahead: f64,
    /// Arrivals per second of the classes that pass this ticket whenever they come (urgent,
    /// due appointments).
    pub inflow_per_sec: f64,
    /// At most this many of those arrivals pass it (anti-starvation bounds how often a ticket
    /// is passed over); `None`: no bound.
    pub inflow_cap: Option<f64>,
    /// Arrivals per second of priority tickets that pass this one if they come within
    /// `head_start_secs` (a normal ticket: their head start, see [`super::rules`]).
    pub head_start_per_sec: f64,
    /// How long from now a priority arrival still passes this ticket, seconds.
    pub head_start_secs: f64,
}

impl Load {
    /// Only `ahead` people, no inflow.
    pub fn ahead(ahead: usize) -> Self {
        Self {
            ahead: ahead as f64,
            ..Self::default()
        }
    }
}

/// An estimated wait in whole minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Eta {
    /// Best guess.
    pub minutes: u32,
    /// Optimistic end of the range (about the 10th percentile).
    pub low: u32,
    /// Pessimistic end of the range (about the 90th percentile).
    pub high: u32,
}

/// The z-score of the 90th percentile of a normal distribution.
const Z90: f64 = 1.2816;
/// Inflow never counts as more than this share of the rooms' rate (the queue would grow
/// without bound; the day ends first).
const MAX_LOAD: f64 = 0.85;
/// The model's own error, as a share of the mean wait: a base, plus a part divided among the
/// open rooms (one room's break or slow patient moves a wait served by few rooms more).
/// Calibrated with the simulator.
const MODEL_SHARE: f64 = 0.22;
/// See [`MODEL_SHARE`].
const MODEL_SHARE_PER_ROOM: f64 = 0.35;
/// An absolute spread for short waits (a call, a walk to the room), seconds.
const FLOOR_SECS: f64 = 60.0;
/// A mean absolute deviation is about this share of a standard deviation's size (normal: 0.8).
const MAD_TO_SD: f64 = 1.25;
/// A room that serves the service but has not called anyone yet today is expected to open this
/// long after the service's first ticket of the day (a late start)...
pub const LATE_OPEN_SECS: f64 = 1_200.0;
/// ...and is taken as absent today once the first ticket is this old.
pub const LATE_ABSENT_SECS: f64 = 3_600.0;
/// The standard deviation a room expected to open adds: this share of the wait it saves (it
/// may come sooner, later or not at all).
const LATE_SHARE: f64 = 0.5;

/// Estimates the wait of a ticket with `ahead` people before it and no inflow. `None` when no
/// open room serves it (the wait is unknown, not zero).
pub fn estimate(ahead: usize, rooms: &[RoomRate]) -> Option<Eta> {
    estimate_load(&Load::ahead(ahead), rooms)
}

/// Estimates the wait of a ticket with `load` before it. `None` when no open room serves it.
pub fn estimate_load(load: &Load, rooms: &[RoomRate]) -> Option<Eta> {
    let secs = wait_secs(load, rooms)?;
    let to_minutes = |m: f64| m.clamp(0.0, f64::from(u16::MAX)) as u32;
    let (low, mid, high) = if secs.mean <= 0.0 {
        (0.0, 0.0, 0.0)
    } else {
        // A lognormal with this mean and variance: σ² = ln(1 + V/M²), median M·e^(−σ²/2).
        let sigma2 = (1.0 + secs.variance / (secs.mean * secs.mean)).ln();
        let sigma = sigma2.sqrt();
        let median = secs.mean * (-sigma2 / 2.0).exp();
        (
            median * (-Z90 * sigma).exp(),
            secs.mean,
            median * (Z90 * sigma).exp(),
        )
    };
    let minutes = to_minutes((mid / 60.0).round());
    // Whole minutes that hold the best guess. Nobody ahead and a free room is 0–0, which the
    // kiosk, the ticket and the status page show as "soon".
    Some(Eta {
        minutes,
        low: to_minutes((low / 60.0).floor()).min(minutes),
        high: to_minutes((high / 60.0).ceil()).max(minutes),
    })
}

/// The mean wait of a ticket with `load` before it, seconds (`None`: no open room).
pub fn mean_wait_secs(load: &Load, rooms: &[RoomRate]) -> Option<f64> {
    wait_secs(load, rooms).map(|w| w.mean)
}

/// Mean and variance of a wait, seconds and seconds².
#[derive(Clone, Copy, Debug, PartialEq)]
struct WaitSecs {
    mean: f64,
    variance: f64,
}

fn wait_secs(load: &Load, rooms: &[RoomRate]) -> Option<WaitSecs> {
    let open: Vec<RoomRate> = rooms
        .iter()
        .filter(|r| r.opens_in_secs <= 0.0)
        .copied()
        .collect();
    let without = wait_secs_open(load, &open, open.len() as f64)?;
    if open.len() == rooms.len() {
        return Some(without);
    }
    // Rooms opening later serve a share 1 − d/W of the wait W: find W by bisection (the wait
    // falls as W grows).
    let with_share = |w: f64| -> Option<WaitSecs> {
        let scaled: Vec<RoomRate> = rooms
            .iter()
            .filter_map(|r| {
                let d = r.opens_in_secs.max(0.0);
                let share = if w > 0.0 { 1.0 - d / w } else { 0.0 };
                (share > 0.01).then(|| RoomRate {
                    mean_secs: r.mean_secs.max(1.0) / share.min(1.0),
                    dev_secs: r.dev_secs / share.min(1.0),
                    busy: r.busy || d > 0.0,
                    opens_in_secs: 0.0,
                })
            })
            .collect();
        // a room that works part of the wait counts as that part of a room
        let count = rooms
            .iter()
            .map(|r| (1.0 - r.opens_in_secs.max(0.0) / w.max(1.0)).clamp(0.0, 1.0))
            .sum();
        wait_secs_open(load, &scaled, count)
    };
    let (mut lo, mut hi) = (0.0, without.mean);
    for _ in 0..40 {
        let mid = (lo + hi) / 2.0;
        match with_share(mid) {
            Some(w) if w.mean > mid => lo = mid,
            _ => hi = mid,
        }
    }
    let mut w = with_share(hi).unwrap_or(without);
    // It may open earlier or later, or not at all: a share of what it changes is uncertain.
    let gap = (without.mean - w.mean).max(0.0) * LATE_SHARE;
    w.variance += gap * gap;
    Some(w)
}

/// The wait with `rooms` all open now, `count` rooms' worth of them.
fn wait_secs_open(load: &Load, rooms: &[RoomRate], count: f64) -> Option<WaitSecs> {
    if rooms.is_empty() {
        return None;
    }
    let mean_of = |r: &RoomRate| r.mean_secs.max(1.0);
    // The rooms' summed rate (people per second) and the rate-weighted squared coefficient
    // of variation of a service.
    let rate: f64 = rooms.iter().map(|r| 1.0 / mean_of(r)).sum();
    let cv2 = rooms
        .iter()
        .map(|r| {
            let cv = MAD_TO_SD * r.dev_secs.max(0.0) / mean_of(r);
            cv * cv / mean_of(r)
        })
        .sum::<f64>()
        / rate;
    // When every room is busy, the first free slot comes about half a service later.
    let all_busy = rooms.iter().all(|r| r.busy);
    // A room found busy is, on average, in a longer service than most (the inspection
    // paradox): the rest of it is (1 + cv²)/2 of a service, not a half.
    let first = (1.0 + cv2) / 2.0;
    let people = load.ahead.max(0.0) + if all_busy { first } else { 0.0 };
    let inflow = load.inflow_per_sec.clamp(0.0, MAX_LOAD * rate);
    let head = load
        .head_start_per_sec
        .clamp(0.0, (MAX_LOAD * rate - inflow).max(0.0));
    let window = load.head_start_secs.max(0.0);
    // W = (people + λW + λₕ·min(W, H)) / μ, unless anti-starvation caps the inflow that
    // passes: the head-start arrivals pass only during the first H seconds.
    let mut mean = people / (rate - inflow - head);
    let mut passing = head * mean;
    if mean > window {
        passing = head * window;
        mean = (people + passing) / (rate - inflow);
    }
    let mut arrivals = inflow * mean;
    if let Some(cap) = load.inflow_cap
        && arrivals > cap.max(0.0)
    {
        arrivals = cap.max(0.0);
        mean = (people + passing + arrivals) / rate;
    }
    let arrivals = arrivals + passing;
    if people <= 0.0 {
        return Some(WaitSecs {
            mean: 0.0,
            variance: 0.0,
        });
    }
    let served = people + arrivals;
    let variance = served * cv2 / (rate * rate)
        + arrivals / (rate * rate)
        + ((MODEL_SHARE + MODEL_SHARE_PER_ROOM / count.max(1.0)) * mean).powi(2)
        + FLOOR_SECS * FLOOR_SECS;
    Some(WaitSecs { mean, variance })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(mean: f64, busy: bool) -> RoomRate {
        RoomRate {
            mean_secs: mean,
            dev_secs: mean / 4.0,
            busy,
            opens_in_secs: 0.0,
        }
    }

    #[test]
    fn no_open_room_means_unknown() {
        assert_eq!(estimate(3, &[]), None);
    }

    #[test]
    fn first_in_line_with_a_free_room_waits_nothing() {
        assert_eq!(
            estimate(0, &[room(600.0, false)]),
            Some(Eta {
                minutes: 0,
                low: 0,
                high: 0
            })
        );
    }

    #[test]
    fn people_ahead_divided_by_the_rate_of_the_rooms() {
        // 6 ahead, two rooms of 10 min each, one free: 6 / (2 per 10 min) = 30 min
        let eta = estimate(6, &[room(600.0, true), room(600.0, false)]).unwrap();
        assert_eq!(eta.minutes, 30);
        assert!(eta.low < 30 && eta.high > 30, "{eta:?}");
        // a faster room shortens the wait
        let faster = estimate(6, &[room(600.0, true), room(300.0, false)]).unwrap();
        assert!(faster.minutes < eta.minutes);
    }

    #[test]
    fn the_range_widens_with_the_wait_and_holds_the_best_guess() {
        let rooms = [room(600.0, true), room(600.0, true)];
        let mut last_width = 0;
        for ahead in [0, 1, 3, 10, 30] {
            let eta = estimate(ahead, &rooms).unwrap();
            assert!(eta.low <= eta.minutes && eta.minutes <= eta.high, "{eta:?}");
            let width = eta.high - eta.low;
            assert!(width >= last_width, "{ahead}: {eta:?}");
            last_width = width;
        }
        // a long wait: roughly ± a third, skewed to the long side
        let eta = estimate(30, &rooms).unwrap();
        assert!(
            eta.low >= eta.minutes / 2 && eta.high <= eta.minutes * 2,
            "{eta:?}"
        );
        assert!(eta.high - eta.minutes >= eta.minutes - eta.low, "{eta:?}");
    }

    #[test]
    fn higher_classes_arriving_lengthen_the_wait_up_to_the_starvation_bound() {
        let rooms = [room(600.0, true), room(600.0, true)];
        let plain = estimate(6, &rooms).unwrap();
        // one urgent every 20 minutes against two rooms of 10 minutes: a quarter of the rate
        let busy = Load {
            ahead: 6.0,
            inflow_per_sec: 1.0 / 1200.0,
            ..Load::default()
        };
        let longer = estimate_load(&busy, &rooms).unwrap();
        assert!(longer.minutes > plain.minutes, "{plain:?} {longer:?}");
        // 6.55 people (the rest of a service in progress: (1 + cv²)/2, cv = 1.25 × ¼) × 5 min
        // = 32.7 min, ÷ (1 − ¼) ≈ 44 min
        assert_eq!(longer.minutes, 44);
        let capped = estimate_load(
            &Load {
                inflow_cap: Some(1.0),
                ..busy
            },
            &rooms,
        )
        .unwrap();
        // at most one passes: 7.55 × 5 min
        assert_eq!(capped.minutes, 38, "{capped:?}");
        // an inflow above the rooms' rate does not make the wait infinite
        let flood = Load {
            inflow_per_sec: 1.0,
            ..busy
        };
        assert!(estimate_load(&flood, &rooms).unwrap().minutes < 1_000);
    }

    #[test]
    fn priority_arrivals_pass_a_normal_ticket_only_within_their_head_start() {
        let rooms = [room(600.0, true), room(600.0, true)];
        // one priority ticket every 20 minutes against two rooms of 10 minutes
        let load = |window_mins: f64| Load {
            ahead: 6.0,
            head_start_per_sec: 1.0 / 1200.0,
            head_start_secs: window_mins * 60.0,
            ..Load::default()
        };
        // a window longer than the wait: every arrival during it passes, as unbounded inflow
        let long = estimate_load(&load(120.0), &rooms).unwrap();
        assert_eq!(long.minutes, 44, "{long:?}");
        // a 10-minute window: half a ticket passes, 7.05 people × 5 min
        let short = estimate_load(&load(10.0), &rooms).unwrap();
        assert_eq!(short.minutes, 35, "{short:?}");
        // no window left: only the people ahead
        let none = estimate_load(&load(0.0), &rooms).unwrap();
        assert_eq!(none, estimate(6, &rooms).unwrap());
    }

    #[test]
    fn odd_inputs_give_a_finite_consistent_range() {
        for rooms in [
            vec![room(0.0, true)],
            vec![room(-5.0, false), room(f64::MAX, true)],
            vec![RoomRate {
                mean_secs: 300.0,
                dev_secs: -1.0,
                busy: true,
                opens_in_secs: 0.0,
            }],
        ] {
            for load in [
                Load::ahead(0),
                Load::ahead(1_000_000),
                Load {
                    ahead: -3.0,
                    inflow_per_sec: -1.0,
                    inflow_cap: Some(-2.0),
                    head_start_per_sec: -1.0,
                    head_start_secs: f64::MAX,
                },
                Load {
                    head_start_per_sec: 1.0,
                    head_start_secs: -5.0,
                    ..Load::ahead(3)
                },
            ] {
                let eta = estimate_load(&load, &rooms).unwrap();
                assert!(eta.low <= eta.minutes && eta.minutes <= eta.high, "{eta:?}");
            }
        }
    }

    #[test]
    fn all_rooms_busy_adds_the_rest_of_a_service() {
        // about half of it, more when service times vary: (1 + cv²)/2 of 10 minutes
        let eta = estimate(0, &[room(600.0, true)]).unwrap();
        assert_eq!(eta.minutes, 5);
        let varied = RoomRate {
            dev_secs: 480.0,
            ..room(600.0, true)
        };
        // cv = 1.25 × 0.8 = 1: a whole service
        assert_eq!(estimate(0, &[varied]).unwrap().minutes, 10);
    }

    #[test]
    fn a_room_expected_to_open_shortens_the_wait_and_widens_the_range() {
        let open = [room(600.0, true)];
        let alone = estimate(6, &open).unwrap();
        let later = |mins: f64| {
            let late = RoomRate {
                opens_in_secs: mins * 60.0,
                ..room(600.0, false)
            };
            estimate(6, &[open[0], late]).unwrap()
        };
        let both = estimate(6, &[open[0], room(600.0, true)]).unwrap();
        // 6.55 people at 10 min: 66 min alone, 33 min with a second room from the start
        let in_20 = later(20.0);
        assert!(
            both.minutes < in_20.minutes && in_20.minutes < alone.minutes,
            "{both:?} {in_20:?} {alone:?}"
        );
        // two people served by the one room until it opens, the rest by both: 20 + 4.55 × 5
        assert_eq!(in_20.minutes, 43, "{in_20:?}");
        // opening later saves less; after the wait, nothing
        assert!(later(40.0).minutes > in_20.minutes);
        assert_eq!(later(120.0).minutes, alone.minutes);
        // it may come sooner, later or not at all: the range reaches further both ways
        assert!(
            in_20.high - in_20.low > both.high - both.low,
            "{in_20:?} {both:?}"
        );
        assert!(in_20.high >= 60, "{in_20:?}");
    }
}
