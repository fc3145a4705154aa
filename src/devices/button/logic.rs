//! The push-button state machine: raw levels in, [`Press`]es out. Pure: time is a parameter
//! (a `Duration` on the pin's own monotonic clock), so tests drive it with a manual clock.
//!
//! # Rules
//!
//! * **Debounce.** A level change counts only once the new level has held for `debounce`;
//!   anything shorter (contact bounce, a noise spike) is ignored. The press or release is dated
//!   from the raw edge that started the run that held, so hold times are measured from the
//!   finger, not from the end of the debounce window.
//! * **Long press** (only when the button's long action differs from its short one):
//!   [`Press::Long`] fires *while the button is still held*, as soon as the hold reaches
//!   `long_press` — the person sees the recall happen without having to let go — and the
//!   release that follows fires nothing.
//! * **Short press.** Lowest latency wins:
//!   * a button with neither a distinct long action nor a double action fires
//!     [`Press::Short`] at the debounced press edge (`debounce` after the finger goes down);
//!   * a button with a distinct long action fires it at the (debounced) release of a press
//!     shorter than `long_press`, since only then is it known not to be long;
//!   * a button with a double action fires it only when `double_press` has passed after that
//!     release without a second press: single presses of such buttons are delayed by
//!     `double_press`.
//! * **Double press** (only with a double action): a second press that starts less than
//!   `double_press` after the first one's release fires [`Press::Double`] at its debounced press
//!   edge; the first press fires nothing, and the second one's release fires nothing.
//! * A button already pressed when watching starts is taken as held: its release fires nothing.

use std::time::Duration;

/// What kind of press a button saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Press {
    /// A short press.
    Short,
    /// A press held at least the long-press time.
    Long,
    /// Two presses in quick succession.
    Double,
}

/// The timings a button's logic works with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ButtonSettings {
    /// A level change must hold this long to count.
    pub debounce: Duration,
    /// A press held this long is a long press; `None`: the button has no long action of its
    /// own, so every press is short (and fires at the press edge).
    pub long_press: Option<Duration>,
    /// A second press starting within this time of the first one's release is a double press;
    /// `None`: the button has no double action.
    pub double_press: Option<Duration>,
}

/// Where a press is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Released, nothing pending.
    Idle,
    /// Held since `since`; `settled` means the press has already fired (or must fire nothing)
    /// and its release is silent.
    Down { since: Duration, settled: bool },
    /// A short press was released at `released_at`; waiting to see whether a second one comes.
    AwaitSecond { released_at: Duration },
}

/// One button's debounce and press-type state machine.
///
/// Feed it every raw level the pin reports with [`ButtonLogic::sample`], and call
/// [`ButtonLogic::tick`] when nothing happened by [`ButtonLogic::next_deadline`]. Times must not
/// go backwards (a time earlier than the last one is taken as the last one).
#[derive(Clone, Debug)]
pub struct ButtonLogic {
    settings: ButtonSettings,
    /// The last raw level.
    raw: bool,
    /// The debounced level.
    stable: bool,
    /// Since when the raw level has differed from the debounced one.
    change_since: Option<Duration>,
    phase: Phase,
    /// The latest time seen.
    now: Duration,
}

impl ButtonLogic {
    /// A button that is released, at time zero.
    pub fn new(settings: ButtonSettings) -> Self {
        Self::starting(settings, false, Duration::ZERO)
    }

    /// A button whose level is `pressed` at `at`. A button held at the start is taken as held
    /// for a while already: its release fires nothing.
    pub fn starting(settings: ButtonSettings, pressed: bool, at: Duration) -> Self {
        Self {
            settings,
            raw: pressed,
            stable: pressed,
            change_since: None,
            phase: if pressed {
                Phase::Down {
                    since: at,
                    settled: true,
                }
            } else {
                Phase::Idle
            },
            now: at,
        }
    }

    /// Its timings.
    pub fn settings(&self) -> ButtonSettings {
        self.settings
    }

    /// The raw level is `pressed` at `at` (an edge, or the same level again). Returns the presses
    /// that this, or the passing of time up to `at`, completed.
    pub fn sample(&mut self, pressed: bool, at: Duration) -> Vec<Press> {
        let mut out = self.advance(at);
        if pressed != self.raw {
            self.raw = pressed;
            self.change_since = (pressed != self.stable).then_some(self.now);
            // With no debounce the change counts at once.
            out.extend(self.advance(self.now));
        }
        out
    }

    /// Time has reached `at` with no level change. Returns the presses completed by then.
    pub fn tick(&mut self, at: Duration) -> Vec<Press> {
        self.advance(at)
    }

    /// When something will happen if the level does not change (a debounce window ends, a
    /// long press is reached, a double-press window closes); `None`: nothing is pending.
    pub fn next_deadline(&self) -> Option<Duration> {
        let commit = self.change_since.map(|t| t + self.settings.debounce);
        let timer = match self.phase {
            Phase::Down {
                since,
                settled: false,
            } if self.change_since.is_none() => self.settings.long_press.map(|l| since + l),
            Phase::AwaitSecond { released_at } => {
                let window = self.settings.double_press.unwrap_or_default();
                // A press that started inside the window is waited for.
                let press_pending = self.change_since.is_some_and(|t| t < released_at + window);
                (!press_pending).then_some(released_at + window)
            }
            _ => None,
        };
        match (commit, timer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Processes everything due up to `at`, in time order.
    fn advance(&mut self, at: Duration) -> Vec<Press> {
        let at = at.max(self.now);
        let mut out = Vec::new();
        while let Some(due) = self.next_deadline().filter(|d| *d <= at) {
            self.now = self.now.max(due);
            let commit_due = self
                .change_since
                .is_some_and(|t| t + self.settings.debounce <= due);
            if let Some(since) = self.change_since.filter(|_| commit_due) {
                self.change_since = None;
                self.stable = self.raw;
                out.extend(self.on_debounced(self.stable, since));
            } else {
                out.extend(self.on_timer());
            }
        }
        self.now = at;
        out
    }

    /// The debounced level became `pressed`, dated `at` (the raw edge).
    fn on_debounced(&mut self, pressed: bool, at: Duration) -> Option<Press> {
        let s = self.settings;
        let (phase, press) = match (self.phase, pressed) {
            (Phase::Idle, true) => {
                let at_once = s.long_press.is_none() && s.double_press.is_none();
                (
                    Phase::Down {
                        since: at,
                        settled: at_once,
                    },
                    at_once.then_some(Press::Short),
                )
            }
            (Phase::AwaitSecond { .. }, true) => (
                Phase::Down {
                    since: at,
                    settled: true,
                },
                Some(Press::Double),
            ),
            (Phase::Down { since, settled }, false) => {
                if settled {
                    (Phase::Idle, None)
                } else if s.long_press.is_some_and(|l| at.saturating_sub(since) >= l) {
                    (Phase::Idle, Some(Press::Long))
                } else if s.double_press.is_some() {
                    (Phase::AwaitSecond { released_at: at }, None)
                } else {
                    (Phase::Idle, Some(Press::Short))
                }
            }
            // The debounced level always alternates, so these do not happen; stay put.
            (phase, _) => (phase, None),
        };
        self.phase = phase;
        press
    }

    /// A long-press threshold or a double-press window was reached.
    fn on_timer(&mut self) -> Option<Press> {
        match self.phase {
            Phase::Down {
                since,
                settled: false,
            } => {
                self.phase = Phase::Down {
                    since,
                    settled: true,
                };
                Some(Press::Long)
            }
            Phase::AwaitSecond { .. } => {
                self.phase = Phase::Idle;
                Some(Press::Short)
            }
            Phase::Idle | Phase::Down { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn settings(long: bool, double: bool) -> ButtonSettings {
        ButtonSettings {
            debounce: ms(50),
            long_press: long.then(|| ms(800)),
            double_press: double.then(|| ms(400)),
        }
    }

    /// Feeds `(ms, pressed)` samples, then ticks until `end_ms`, collecting every press.
    fn run(logic: &mut ButtonLogic, samples: &[(u64, bool)], end_ms: u64) -> Vec<Press> {
        let mut out = Vec::new();
        for &(t, level) in samples {
            out.extend(logic.sample(level, ms(t)));
        }
        out.extend(logic.tick(ms(end_ms)));
        out
    }

    /// A press that bounces: 7 edges over 8 ms, then held.
    fn bouncy_press(start: u64) -> Vec<(u64, bool)> {
        [0, 1, 3, 4, 6, 7, 8]
            .iter()
            .enumerate()
            .map(|(i, d)| (start + d, i % 2 == 0))
            .collect()
    }

    /// A release that bounces: 5 edges over 6 ms, then released.
    fn bouncy_release(start: u64) -> Vec<(u64, bool)> {
        [0, 2, 3, 5, 6]
            .iter()
            .enumerate()
            .map(|(i, d)| (start + d, i % 2 == 1))
            .collect()
    }

    #[test]
    fn bouncing_press_is_one_short_press() {
        for (long, double) in [(true, false), (false, false), (true, true)] {
            let mut logic = ButtonLogic::new(settings(long, double));
            let mut samples = bouncy_press(1000);
            // Held ~100 ms after the bounce settles.
            samples.extend(bouncy_release(1108));
            assert_eq!(
                run(&mut logic, &samples, 5000),
                vec![Press::Short],
                "long {long}, double {double}"
            );
        }
    }

    #[test]
    fn short_press_without_long_or_double_fires_at_the_debounced_press_edge() {
        let mut logic = ButtonLogic::new(settings(false, false));
        assert!(logic.sample(true, ms(100)).is_empty());
        assert!(logic.tick(ms(149)).is_empty());
        assert_eq!(logic.next_deadline(), Some(ms(150)));
        assert_eq!(logic.tick(ms(150)), vec![Press::Short]);
        // Held for ages: nothing more, release is silent.
        assert!(logic.tick(ms(10_000)).is_empty());
        assert_eq!(run(&mut logic, &[(10_001, false)], 20_000), vec![]);
    }

    #[test]
    fn short_press_with_a_long_action_fires_at_release() {
        let mut logic = ButtonLogic::new(settings(true, false));
        assert!(run(&mut logic, &[(0, true)], 300).is_empty());
        assert_eq!(logic.sample(false, ms(300)), vec![]);
        assert_eq!(logic.tick(ms(350)), vec![Press::Short]);
    }

    #[test]
    fn one_second_hold_is_one_long_press_and_no_short() {
        let mut logic = ButtonLogic::new(settings(true, false));
        let mut out = run(&mut logic, &bouncy_press(0), 807);
        assert!(out.is_empty(), "{out:?}");
        // Fires while held, when the hold reaches 800 ms (dated from the last bounce at 8 ms).
        out.extend(logic.tick(ms(808)));
        assert_eq!(out, vec![Press::Long]);
        out.extend(run(&mut logic, &bouncy_release(1000), 3000));
        assert_eq!(out, vec![Press::Long]);
    }

    #[test]
    fn long_press_with_a_double_action_is_still_long() {
        let mut logic = ButtonLogic::new(settings(true, true));
        let out = run(&mut logic, &[(0, true), (1000, false)], 3000);
        assert_eq!(out, vec![Press::Long]);
    }

    #[test]
    fn release_bounce_around_the_long_threshold_does_not_make_a_short_press_long() {
        // Released at 790 ms (held 790 < 800): the pending release is waited for, not overtaken
        // by the long-press timer.
        let mut logic = ButtonLogic::new(settings(true, false));
        let out = run(&mut logic, &[(0, true), (790, false)], 2000);
        assert_eq!(out, vec![Press::Short]);
        // A noise dip just before the threshold does not cancel the long press.
        let mut logic = ButtonLogic::new(settings(true, false));
        let out = run(&mut logic, &[(0, true), (790, false), (795, true)], 2000);
        assert_eq!(out, vec![Press::Long]);
    }

    #[test]
    fn two_quick_presses_with_a_double_action_are_one_double() {
        let mut logic = ButtonLogic::new(settings(true, true));
        let mut samples = bouncy_press(0);
        samples.extend(bouncy_release(120));
        samples.extend(bouncy_press(300));
        samples.extend(bouncy_release(420));
        assert_eq!(run(&mut logic, &samples, 5000), vec![Press::Double]);
    }

    #[test]
    fn double_fires_at_the_second_press_edge() {
        let mut logic = ButtonLogic::new(settings(false, true));
        let out = run(&mut logic, &[(0, true), (100, false), (300, true)], 349);
        assert!(out.is_empty());
        assert_eq!(logic.tick(ms(350)), vec![Press::Double]);
    }

    #[test]
    fn second_press_starting_just_inside_the_window_is_still_a_double() {
        // Released at 100, the window closes at 500; a press from 499 is confirmed only at 549.
        let mut logic = ButtonLogic::new(settings(false, true));
        let out = run(&mut logic, &[(0, true), (100, false), (499, true)], 1000);
        assert_eq!(out, vec![Press::Double]);
        // From 500 on it is a new press: the first one was short.
        let mut logic = ButtonLogic::new(settings(false, true));
        let out = run(&mut logic, &[(0, true), (100, false), (500, true)], 549);
        assert_eq!(out, vec![Press::Short]);
    }

    #[test]
    fn single_press_with_a_double_action_waits_for_the_window() {
        let mut logic = ButtonLogic::new(settings(false, true));
        let out = run(&mut logic, &[(0, true), (100, false)], 499);
        assert!(out.is_empty());
        assert_eq!(logic.next_deadline(), Some(ms(500)));
        assert_eq!(logic.tick(ms(500)), vec![Press::Short]);
        // A later press starts afresh.
        let out = run(&mut logic, &[(1000, true), (1100, false)], 2000);
        assert_eq!(out, vec![Press::Short]);
    }

    #[test]
    fn two_quick_presses_without_a_double_action_are_two_shorts() {
        for long in [true, false] {
            let mut logic = ButtonLogic::new(settings(long, false));
            let mut samples = bouncy_press(0);
            samples.extend(bouncy_release(120));
            samples.extend(bouncy_press(300));
            samples.extend(bouncy_release(420));
            assert_eq!(
                run(&mut logic, &samples, 5000),
                vec![Press::Short, Press::Short],
                "long {long}"
            );
        }
    }

    #[test]
    fn noise_shorter_than_debounce_is_nothing() {
        for (long, double) in [(true, true), (false, false)] {
            let mut logic = ButtonLogic::new(settings(long, double));
            let samples: Vec<(u64, bool)> = (0..20)
                .flat_map(|i| [(i * 100, true), (i * 100 + 49, false)])
                .collect();
            assert!(run(&mut logic, &samples, 10_000).is_empty());
            assert_eq!(logic.next_deadline(), None);
        }
    }

    #[test]
    fn a_button_held_at_start_is_silent_until_pressed_again() {
        let mut logic = ButtonLogic::starting(settings(false, false), true, ms(0));
        assert!(run(&mut logic, &[(2000, false)], 3000).is_empty());
        assert_eq!(
            run(&mut logic, &[(4000, true), (4100, false)], 5000),
            vec![Press::Short]
        );
    }

    #[test]
    fn samples_at_the_same_level_change_nothing() {
        let mut logic = ButtonLogic::new(settings(true, false));
        let samples: Vec<(u64, bool)> = (0..100).map(|i| (i * 5, false)).collect();
        assert!(run(&mut logic, &samples, 1000).is_empty());
    }

    #[test]
    fn zero_debounce_counts_edges_at_once() {
        let mut logic = ButtonLogic::new(ButtonSettings {
            debounce: Duration::ZERO,
            long_press: None,
            double_press: None,
        });
        assert_eq!(logic.sample(true, ms(10)), vec![Press::Short]);
        assert!(logic.sample(false, ms(20)).is_empty());
    }
}
