//! Call LEDs: the [`OutputPin`] capability, the Raspberry Pi driver (`RppalOutputPin`,
//! feature `gpio`), a fake that records its levels ([`FakeOutputPin`]), and the blink schedule
//! ([`Blink`], pure, time as a parameter) that each LED's thread follows.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::devices::DeviceError;

/// Half a blink: the LED is on this long, then off this long.
pub const BLINK_HALF_PERIOD: Duration = Duration::from_millis(250);

/// A digital output (an LED's pin).
pub trait OutputPin: Send {
    /// Drives the pin high (`true`, LED on) or low.
    fn set(&mut self, high: bool) -> Result<(), DeviceError>;
}

/// A Raspberry Pi GPIO output through rppal, low at start.
#[cfg(feature = "gpio")]
pub struct RppalOutputPin {
    pin: rppal::gpio::OutputPin,
}

#[cfg(feature = "gpio")]
impl RppalOutputPin {
    /// Takes BCM pin `pin` as an output, driven low.
    pub fn open(gpio: &rppal::gpio::Gpio, pin: u8) -> Result<Self, DeviceError> {
        let pin = gpio
            .get(pin)
            .map_err(|e| DeviceError::Unavailable(format!("GPIO{pin}: {e}")))?
            .into_output_low();
        Ok(Self { pin })
    }
}

#[cfg(feature = "gpio")]
impl OutputPin for RppalOutputPin {
    fn set(&mut self, high: bool) -> Result<(), DeviceError> {
        if high {
            self.pin.set_high();
        } else {
            self.pin.set_low();
        }
        Ok(())
    }
}

/// An output that records every level it is set to; clones share the record.
#[derive(Clone, Debug, Default)]
pub struct FakeOutputPin {
    levels: Arc<Mutex<Vec<bool>>>,
}

impl FakeOutputPin {
    /// A fake output that has not been set yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every level set so far, in order.
    pub fn levels(&self) -> Vec<bool> {
        self.levels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl OutputPin for FakeOutputPin {
    fn set(&mut self, high: bool) -> Result<(), DeviceError> {
        self.levels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(high);
        Ok(())
    }
}

/// When an LED blinks: on for half a period, off for half, until the blink time is over, then
/// off. A new blink while blinking extends it. Times are a parameter (any monotonic clock).
#[derive(Clone, Debug)]
pub struct Blink {
    half_period: Duration,
    on: bool,
    /// Blinking until then.
    until: Option<Duration>,
    next_toggle: Duration,
}

impl Blink {
    /// An LED that is off, blinking with `half_period`.
    pub fn new(half_period: Duration) -> Self {
        Self {
            half_period,
            on: false,
            until: None,
            next_toggle: Duration::ZERO,
        }
    }

    /// Whether the LED is on.
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Blink from `at` for `length`. Returns the level to set now, if it changes.
    pub fn start(&mut self, at: Duration, length: Duration) -> Option<bool> {
        let until = at + length;
        if self.until.is_some() {
            self.until = self.until.max(Some(until));
            return None;
        }
        self.until = Some(until);
        self.next_toggle = at + self.half_period;
        (!self.on).then(|| {
            self.on = true;
            true
        })
    }

    /// When the level changes next, if it is blinking.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.until.map(|until| self.next_toggle.min(until))
    }

    /// Time has reached `at`: returns the level to set now, if it changes.
    pub fn tick(&mut self, at: Duration) -> Option<bool> {
        let until = self.until?;
        let level = if at >= until {
            self.until = None;
            false
        } else if at >= self.next_toggle {
            self.next_toggle = at + self.half_period;
            !self.on
        } else {
            return None;
        };
        (level != self.on).then(|| {
            self.on = level;
            level
        })
    }
}

/// Runs one LED until `requests` is closed: each `()` received blinks it for `length`. Ends
/// with the LED off. Errors setting the pin are handed to `on_error` and the LED goes on.
pub(super) fn run_led(
    mut out: Box<dyn OutputPin>,
    requests: &Receiver<()>,
    length: Duration,
    half_period: Duration,
    on_error: &dyn Fn(&DeviceError),
) {
    let epoch = Instant::now();
    let mut blink = Blink::new(half_period);
    let mut set = |level: Option<bool>| {
        if let Some(level) = level
            && let Err(e) = out.set(level)
        {
            on_error(&e);
        }
    };
    set(Some(false));
    loop {
        let received = match blink.next_deadline() {
            Some(deadline) => requests.recv_timeout(deadline.saturating_sub(epoch.elapsed())),
            None => requests.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(()) => set(blink.start(epoch.elapsed(), length)),
            Err(RecvTimeoutError::Timeout) => set(blink.tick(epoch.elapsed())),
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    set(blink.is_on().then_some(false));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn blink_toggles_then_ends_off() {
        let mut blink = Blink::new(ms(250));
        assert_eq!(blink.start(ms(0), ms(1000)), Some(true));
        let mut levels = vec![true];
        let mut at = ms(0);
        while let Some(next) = blink.next_deadline() {
            at = next;
            levels.extend(blink.tick(at));
        }
        assert_eq!(levels, [true, false, true, false]);
        assert_eq!(at, ms(1000));
        assert!(!blink.is_on());
    }

    #[test]
    fn a_second_blink_extends_the_first() {
        let mut blink = Blink::new(ms(250));
        assert_eq!(blink.start(ms(0), ms(500)), Some(true));
        assert_eq!(blink.tick(ms(250)), Some(false));
        assert_eq!(blink.start(ms(300), ms(500)), None);
        assert_eq!(blink.tick(ms(500)), Some(true));
        assert_eq!(blink.tick(ms(750)), Some(false));
        assert_eq!(blink.next_deadline(), Some(ms(800)));
        assert_eq!(blink.tick(ms(800)), None);
        assert_eq!(blink.next_deadline(), None);
    }

    #[test]
    fn led_thread_blinks_a_fake_output_and_ends_low() {
        let fake = FakeOutputPin::new();
        let (tx, rx) = std::sync::mpsc::channel();
        let out = fake.clone();
        let length = ms(200);
        let thread = std::thread::spawn(move || {
            run_led(Box::new(out), &rx, length, ms(10), &|e| panic!("{e}"));
        });
        let sent = Instant::now();
        tx.send(()).unwrap();
        // Poll with a deadline until it has toggled and the blink is over.
        let deadline = sent + Duration::from_secs(10);
        while !(fake.levels().len() >= 4
            && fake.levels().last() == Some(&false)
            && sent.elapsed() > length + ms(20))
        {
            assert!(Instant::now() < deadline, "{:?}", fake.levels());
            std::thread::yield_now();
        }
        drop(tx);
        thread.join().unwrap();
        let levels = fake.levels();
        assert!(!levels[0], "off at start");
        assert!(levels[1], "on when the blink starts");
        assert!(levels.len() >= 4, "{levels:?}");
        assert_eq!(levels.last(), Some(&false));
        assert!(levels.windows(2).all(|w| w[0] != w[1]), "{levels:?}");
    }
}
