//! Input pins: the [`Pin`] capability, the Raspberry Pi driver (`RppalPin`, feature `gpio`)
//! and a scriptable fake ([`FakePin`]).
//!
//! A pin reports raw levels with times on its own monotonic clock (a `Duration` since it was
//! opened, or the script's virtual time for the fake). It does not debounce: that is
//! [`super::ButtonLogic`]'s job.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use crate::devices::DeviceError;

/// A level read from a pin, with when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinLevel {
    /// The level is high.
    pub high: bool,
    /// When, on the pin's clock.
    pub at: Duration,
}

/// What came of waiting on a pin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinWait {
    /// The level changed to `high` at `at`.
    Changed {
        /// The new level is high.
        high: bool,
        /// When, on the pin's clock.
        at: Duration,
    },
    /// Nothing changed up to `at` (the timeout, or earlier).
    Timeout {
        /// The pin clock's time now.
        at: Duration,
    },
}

/// A digital input (a push button's pin).
pub trait Pin: Send {
    /// The current level.
    fn read(&mut self) -> Result<PinLevel, DeviceError>;

    /// Waits at most `timeout` for the level to differ from the last one reported, and says
    /// what happened. An error means the pin can no longer be read.
    fn wait_for_change(&mut self, timeout: Duration) -> Result<PinWait, DeviceError>;
}

/// How often [`RppalPin`] samples the level.
///
/// Polling, rather than rppal's interrupts, because rppal's synchronous `poll_interrupt` holds
/// one lock shared by every pin while it waits (a thread per button would block the others),
/// and because reading the memory-mapped level register is a few nanoseconds: 200 reads a
/// second per button cost nothing, never lose an edge's final level, and the debounce (50 ms by
/// default) is far longer than the sampling step.
#[cfg(feature = "gpio")]
pub const RPPAL_POLL: Duration = Duration::from_millis(5);

/// A Raspberry Pi GPIO input through rppal, sampled every [`RPPAL_POLL`].
#[cfg(feature = "gpio")]
pub struct RppalPin {
    pin: rppal::gpio::InputPin,
    epoch: std::time::Instant,
    last: bool,
}

#[cfg(feature = "gpio")]
impl RppalPin {
    /// Takes BCM pin `config.pin` as an input with the configured pull resistor
    /// (`up`, `down`, `off`).
    pub fn open(
        gpio: &rppal::gpio::Gpio,
        config: &crate::config::ButtonConfig,
    ) -> Result<Self, DeviceError> {
        let pin = gpio
            .get(config.pin)
            .map_err(|e| DeviceError::Unavailable(format!("GPIO{}: {e}", config.pin)))?;
        use crate::devices::spec::Pull;
        let pin = match config.pull {
            Pull::Down => pin.into_input_pulldown(),
            Pull::Off => pin.into_input(),
            Pull::Up => pin.into_input_pullup(),
        };
        let last = pin.is_high();
        Ok(Self {
            pin,
            epoch: std::time::Instant::now(),
            last,
        })
    }
}

#[cfg(feature = "gpio")]
impl Pin for RppalPin {
    fn read(&mut self) -> Result<PinLevel, DeviceError> {
        self.last = self.pin.is_high();
        Ok(PinLevel {
            high: self.last,
            at: self.epoch.elapsed(),
        })
    }

    fn wait_for_change(&mut self, timeout: Duration) -> Result<PinWait, DeviceError> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let high = self.pin.is_high();
            let now = std::time::Instant::now();
            if high != self.last {
                self.last = high;
                return Ok(PinWait::Changed {
                    high,
                    at: now.duration_since(self.epoch),
                });
            }
            if now >= deadline {
                return Ok(PinWait::Timeout {
                    at: now.duration_since(self.epoch),
                });
            }
            std::thread::sleep(RPPAL_POLL.min(deadline - now));
        }
    }
}

/// After its script (or channel) ends, a [`FakePin`] holds its last level this long in virtual
/// time (so pending long or double presses complete), then reports itself gone.
pub const FAKE_PIN_TAIL: Duration = Duration::from_secs(5);

/// How long a [`FakePin`] fed by a channel waits, in real time, for the test's next level
/// before reporting "nothing changed" (so its runner can notice it is asked to stop).
const FAKE_PIN_REAL_WAIT: Duration = Duration::from_millis(50);

/// A pin that plays levels at virtual times: a script, or levels sent through a
/// [`FakePinDriver`]. Its clock is the script's: waiting jumps straight to the next level
/// change, so tests never sleep.
pub struct FakePin {
    levels: Receiver<(Duration, bool)>,
    high: bool,
    now: Duration,
    next: Option<(Duration, bool)>,
    ended_at: Option<Duration>,
}

/// Feeds a [`FakePin`]: each `set` is a level from a time on. Dropping it ends the pin's script.
#[derive(Clone, Debug)]
pub struct FakePinDriver {
    levels: Sender<(Duration, bool)>,
}

impl FakePinDriver {
    /// The level is `high` from `at` on (times must not go backwards). Setting the same level
    /// again just moves the pin's clock to `at`.
    pub fn set(&self, at: Duration, high: bool) {
        // A pin whose runner has gone needs no more levels.
        let _ = self.levels.send((at, high));
    }
}

impl FakePin {
    /// A pin at level `high` at time zero that then plays `script` (`(time, level)` in time
    /// order), holds the last level for [`FAKE_PIN_TAIL`] and reports itself gone.
    pub fn scripted(high: bool, script: impl IntoIterator<Item = (Duration, bool)>) -> Self {
        let (pin, driver) = Self::channel(high);
        for (at, level) in script {
            driver.set(at, level);
        }
        pin
    }

    /// A pin at level `high` at time zero, fed through the returned driver.
    pub fn channel(high: bool) -> (Self, FakePinDriver) {
        let (tx, rx) = mpsc::channel();
        (
            Self {
                levels: rx,
                high,
                now: Duration::ZERO,
                next: None,
                ended_at: None,
            },
            FakePinDriver { levels: tx },
        )
    }
}

impl Pin for FakePin {
    fn read(&mut self) -> Result<PinLevel, DeviceError> {
        Ok(PinLevel {
            high: self.high,
            at: self.now,
        })
    }

    fn wait_for_change(&mut self, timeout: Duration) -> Result<PinWait, DeviceError> {
        let until = self.now + timeout;
        let next = match self.next.take() {
            Some(next) => Some(next),
            None => match self.levels.recv_timeout(FAKE_PIN_REAL_WAIT) {
                Ok(next) => Some(next),
                Err(RecvTimeoutError::Timeout) => return Ok(PinWait::Timeout { at: self.now }),
                Err(RecvTimeoutError::Disconnected) => None,
            },
        };
        match next {
            Some((at, high)) if at <= until => {
                self.now = self.now.max(at);
                if high == self.high {
                    return Ok(PinWait::Timeout { at: self.now });
                }
                self.high = high;
                Ok(PinWait::Changed { high, at: self.now })
            }
            Some(later) => {
                self.next = Some(later);
                self.now = until;
                Ok(PinWait::Timeout { at: self.now })
            }
            None => {
                let end = *self.ended_at.get_or_insert(self.now + FAKE_PIN_TAIL);
                if self.now >= end {
                    return Err(DeviceError::Unavailable(
                        "the fake pin's script has ended".to_owned(),
                    ));
                }
                self.now = until.min(end);
                Ok(PinWait::Timeout { at: self.now })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn fake_pin_plays_its_script_in_virtual_time() {
        let mut pin =
            FakePin::scripted(true, [(ms(100), false), (ms(100), false), (ms(300), true)]);
        assert_eq!(
            pin.read().unwrap(),
            PinLevel {
                high: true,
                at: ms(0)
            }
        );
        assert_eq!(
            pin.wait_for_change(ms(50)).unwrap(),
            PinWait::Timeout { at: ms(50) }
        );
        assert_eq!(
            pin.wait_for_change(ms(1000)).unwrap(),
            PinWait::Changed {
                high: false,
                at: ms(100)
            }
        );
        // The same level again only moves the clock.
        assert_eq!(
            pin.wait_for_change(ms(1000)).unwrap(),
            PinWait::Timeout { at: ms(100) }
        );
        assert_eq!(
            pin.wait_for_change(ms(1000)).unwrap(),
            PinWait::Changed {
                high: true,
                at: ms(300)
            }
        );
        // Then the tail, then gone.
        let mut last = ms(300);
        loop {
            match pin.wait_for_change(ms(1000)) {
                Ok(PinWait::Timeout { at }) => last = at,
                Ok(other) => panic!("{other:?}"),
                Err(_) => break,
            }
        }
        assert_eq!(last, ms(300) + FAKE_PIN_TAIL);
    }
}
