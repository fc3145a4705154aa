//! Wait estimates: people ahead ÷ the serving rate of the open rooms that serve the service.
//!
//! Each room's rate comes from the moving average of its recent service times
//! ([`super::ServiceTimes`]); a room with no samples yet uses the configured default. The range
//! uses the mean ± the mean absolute deviation of each room's service time.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One open room that serves the ticket's service.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoomRate {
    /// Mean service time, seconds.
    pub mean_secs: f64,
    /// Mean absolute deviation, seconds.
    pub dev_secs: f64,
    /// Whether the room is serving someone now.
    pub busy: bool,
}

/// An estimated wait in whole minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Eta {
    /// Best guess.
    pub minutes: u32,
    /// Optimistic end of the range.
    pub low: u32,
    /// Pessimistic end of the range.
    pub high: u32,
}

/// Estimates the wait of a ticket with `ahead` people before it. `None` when no open room
/// serves it (the wait is unknown, not zero).
pub fn estimate(ahead: usize, rooms: &[RoomRate]) -> Option<Eta> {
    if rooms.is_empty() {
        return None;
    }
    // When every room is busy, the first free slot comes on average half a service later.
    let all_busy = rooms.iter().all(|r| r.busy);
    let people = ahead as f64 + if all_busy { 0.5 } else { 0.0 };
    let wait = |secs_of: &dyn Fn(&RoomRate) -> f64| -> f64 {
        let rate: f64 = rooms.iter().map(|r| 1.0 / secs_of(r).max(1.0)).sum();
        people / rate / 60.0
    };
    let mean = wait(&|r| r.mean_secs);
    let low = wait(&|r| (r.mean_secs - r.dev_secs).max(r.mean_secs * 0.25));
    let high = wait(&|r| r.mean_secs + r.dev_secs);
    let to_minutes = |m: f64| m.clamp(0.0, f64::from(u16::MAX)) as u32;
    Some(Eta {
        minutes: to_minutes(mean.round()),
        low: to_minutes(low.floor()),
        high: to_minutes(high.ceil()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(mean: f64, busy: bool) -> RoomRate {
        RoomRate {
            mean_secs: mean,
            dev_secs: mean / 4.0,
            busy,
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
    fn all_rooms_busy_adds_half_a_service() {
        let eta = estimate(0, &[room(600.0, true)]).unwrap();
        assert_eq!(eta.minutes, 5);
    }
}
