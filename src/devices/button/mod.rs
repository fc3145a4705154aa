//! GPIO push buttons and call LEDs on a Raspberry Pi.
//!
//! Owns: turning a button's raw pin levels into presses ([`ButtonLogic`]: debounce, short, long
//! and double presses — the rules are in [`logic`]), mapping each press to the button's
//! `room:action` and handing it to the [`PressSink`] (source [`Source::Button`], actor
//! `gpio<pin>`), and blinking a room's LED when asked ([`GpioHandle::blink`]; the app calls it
//! when the room calls a ticket). It does not know the queue: the sink does.
//!
//! Hardware sits behind two small traits, [`Pin`] and [`OutputPin`], with rppal drivers behind
//! the cargo feature `gpio` and fakes for tests. Without the feature, or off a Pi, every
//! configured button and LED is reported on the [`DeviceBoard`] as [`Health::Unavailable`]
//! (condition `unavailable`, with why) and the server goes on without them.
//!
//! Each button and each LED has its own thread. Statuses: `button-<pin>` and `led-<pin>`,
//! kind [`DeviceKind::Button`] (LEDs: `led-<pin>`, [`DeviceKind::Led`]), conditions `ok`, `unavailable`, `pin-error`.

pub mod led;
pub mod logic;
pub mod pin;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::time::Duration;

pub use led::{BLINK_HALF_PERIOD, Blink, FakeOutputPin, OutputPin};
pub use logic::{ButtonLogic, ButtonSettings, Press};
pub use pin::{FAKE_PIN_TAIL, FakePin, FakePinDriver, Pin, PinLevel, PinWait};

#[cfg(feature = "gpio")]
pub use led::RppalOutputPin;
#[cfg(feature = "gpio")]
pub use pin::{RPPAL_POLL, RppalPin};

use crate::config::{ButtonConfig, GpioConfig, LedConfig};
use crate::devices::spec::Level;
use crate::devices::{
    Binding, DeviceBoard, DeviceError, DeviceKind, DeviceStatus, Health, InputAction, PressSink,
};
use crate::domain::{RoomId, Source};

/// Why GPIO is unavailable in a build without the `gpio` feature.
pub const NO_GPIO_FEATURE: &str =
    "GPIO is not available: this build has no GPIO support (build with --features gpio)";

/// A button thread waits on its pin at most this long at a time, so it notices when it is
/// asked to stop.
const MAX_WAIT: Duration = Duration::from_millis(100);

/// What a button's presses do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ButtonActions {
    /// A short press.
    pub short: InputAction,
    /// A long press; `None`: the button has no long press of its own (its `long` is empty or
    /// the same as `short`), so every press is short and fires as soon as it is debounced.
    pub long: Option<InputAction>,
    /// A double press; `None`: a second press is just another short press.
    pub double: Option<InputAction>,
}

impl ButtonActions {
    /// The actions of a configured button.
    pub fn from_config(button: &ButtonConfig) -> Self {
        Self {
            short: button.short,
            long: button.long.filter(|long| *long != button.short),
            double: button.double,
        }
    }

    /// The action of a press.
    pub fn action(&self, press: Press) -> Option<InputAction> {
        match press {
            Press::Short => Some(self.short),
            Press::Long => Some(self.long.unwrap_or(self.short)),
            Press::Double => self.double,
        }
    }

    /// The press timings for these actions: a long press only with a long action of its own, a
    /// double press only with a double action.
    pub fn settings(&self, gpio: &GpioConfig) -> ButtonSettings {
        ButtonSettings {
            debounce: Duration::from_millis(gpio.debounce_ms),
            long_press: self.long.map(|_| Duration::from_millis(gpio.long_press_ms)),
            double_press: self
                .double
                .map(|_| Duration::from_millis(gpio.double_press_ms)),
        }
    }
}

/// The running buttons and LEDs. Cloneable; when the last clone is dropped the button threads
/// stop and the LEDs go off, so the app keeps one for as long as it runs.
#[must_use = "dropping the last GpioHandle stops the buttons and LEDs"]
#[derive(Clone, Debug)]
pub struct GpioHandle {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    leds: Vec<(RoomId, Sender<()>)>,
    stop: Arc<AtomicBool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl GpioHandle {
    /// Blinks the LEDs of `room` for the configured time (`led_blink_secs`), on their own
    /// threads: returns at once. A room without an LED is fine (nothing happens).
    pub fn blink(&self, room: &RoomId) {
        for (led_room, requests) in &self.inner.leds {
            if led_room == room {
                // An LED whose thread has failed to start or ended simply does not blink.
                let _ = requests.send(());
            }
        }
    }

    /// Stops the buttons and turns the LEDs off now (every clone), at shutdown.
    pub fn stop(&self) {
        self.inner.stop.store(true, Ordering::Relaxed);
    }

    /// Whether `room` has an LED that can blink.
    pub fn has_led(&self, room: &RoomId) -> bool {
        self.inner.leds.iter().any(|(r, _)| r == room)
    }
}

/// Starts the configured buttons and LEDs on the Raspberry Pi's GPIO. Never fails: a button
/// that cannot be used (no `gpio` feature, not a Pi, pin busy) is reported on `board` and the
/// rest go on. With nothing configured it touches no hardware.
pub fn spawn_gpio(
    config: &GpioConfig,
    sink: Arc<dyn PressSink>,
    board: Arc<DeviceBoard>,
) -> GpioHandle {
    if config.buttons.is_empty() && config.leds.is_empty() {
        return spawn_gpio_with(
            config,
            |_| unreachable_pin(),
            |_| unreachable_out(),
            sink,
            board,
        );
    }
    #[cfg(feature = "gpio")]
    {
        match rppal::gpio::Gpio::new() {
            Ok(gpio) => spawn_gpio_with(
                config,
                |b| RppalPin::open(&gpio, b).map(|p| Box::new(p) as Box<dyn Pin>),
                |l| RppalOutputPin::open(&gpio, l.pin).map(|p| Box::new(p) as Box<dyn OutputPin>),
                sink,
                board,
            ),
            Err(e) => {
                let why = format!("GPIO is not available on this machine: {e}");
                spawn_gpio_with(
                    config,
                    |_| Err(DeviceError::Unsupported(why.clone())),
                    |_| Err(DeviceError::Unsupported(why.clone())),
                    sink,
                    board,
                )
            }
        }
    }
    #[cfg(not(feature = "gpio"))]
    {
        spawn_gpio_with(
            config,
            |_| Err(DeviceError::Unsupported(NO_GPIO_FEATURE.to_owned())),
            |_| Err(DeviceError::Unsupported(NO_GPIO_FEATURE.to_owned())),
            sink,
            board,
        )
    }
}

/// Why configured buttons and LEDs cannot work on this machine or build (`None`: they can, or
/// none are configured). For `waitless check-config`; opening GPIO here touches no pin.
pub fn gpio_unavailable(config: &GpioConfig) -> Option<String> {
    if config.buttons.is_empty() && config.leds.is_empty() {
        return None;
    }
    #[cfg(feature = "gpio")]
    {
        rppal::gpio::Gpio::new()
            .err()
            .map(|e| format!("GPIO is not available on this machine: {e}"))
    }
    #[cfg(not(feature = "gpio"))]
    {
        Some(NO_GPIO_FEATURE.to_owned())
    }
}

fn unreachable_pin() -> Result<Box<dyn Pin>, DeviceError> {
    Err(DeviceError::Unsupported("no buttons configured".to_owned()))
}

fn unreachable_out() -> Result<Box<dyn OutputPin>, DeviceError> {
    Err(DeviceError::Unsupported("no LEDs configured".to_owned()))
}

/// [`spawn_gpio`] with the pins made by `pins` (per button) and `leds` (per LED), so tests and
/// the demo mode use fakes. An error of kind [`DeviceError::Unsupported`] is reported as
/// [`Health::Unavailable`] (`unavailable`), any other as [`Health::Error`] (`pin-error`).
pub fn spawn_gpio_with(
    config: &GpioConfig,
    pins: impl Fn(&ButtonConfig) -> Result<Box<dyn Pin>, DeviceError>,
    leds: impl Fn(&LedConfig) -> Result<Box<dyn OutputPin>, DeviceError>,
    sink: Arc<dyn PressSink>,
    board: Arc<DeviceBoard>,
) -> GpioHandle {
    let stop = Arc::new(AtomicBool::new(false));
    for button in &config.buttons {
        start_button(config, button, &pins, &sink, &board, &stop);
    }
    let blink_for = Duration::from_secs(config.led_blink_secs);
    let led_handles = config
        .leds
        .iter()
        .filter_map(|led| start_led(led, &leds, blink_for, &board))
        .collect();
    GpioHandle {
        inner: Arc::new(Inner {
            leds: led_handles,
            stop,
        }),
    }
}

/// A status for a GPIO device (`led-<pin>` ids are LEDs, the others buttons).
fn status(id: String, name: &str, health: Health, condition: &str, detail: String) -> DeviceStatus {
    let kind = if id.starts_with("led-") {
        DeviceKind::Led
    } else {
        DeviceKind::Button
    };
    DeviceStatus::new(id, kind, name, health, condition, detail)
}

/// The status of a pin that could not be opened.
fn open_failed(id: String, name: &str, error: &DeviceError) -> DeviceStatus {
    match error {
        DeviceError::Unsupported(why) => {
            status(id, name, Health::Unavailable, "unavailable", why.clone())
        }
        other => status(id, name, Health::Error, "pin-error", other.to_string()),
    }
}

/// Everything a button's thread needs.
struct ButtonWorker {
    pin: Box<dyn Pin>,
    settings: ButtonSettings,
    actions: ButtonActions,
    active_high: bool,
    room: RoomId,
    actor: String,
    id: String,
    name: String,
    watching: String,
    sink: Arc<dyn PressSink>,
    board: Arc<DeviceBoard>,
    stop: Arc<AtomicBool>,
}

fn start_button(
    config: &GpioConfig,
    button: &ButtonConfig,
    pins: &impl Fn(&ButtonConfig) -> Result<Box<dyn Pin>, DeviceError>,
    sink: &Arc<dyn PressSink>,
    board: &Arc<DeviceBoard>,
    stop: &Arc<AtomicBool>,
) {
    let id = format!("button-{}", button.pin);
    let name = format!("GPIO{} → {}", button.pin, button.room);
    let actions = ButtonActions::from_config(button);
    let pin = match pins(button) {
        Ok(pin) => pin,
        Err(e) => {
            board.report(open_failed(id, &name, &e));
            return;
        }
    };
    let worker = ButtonWorker {
        pin,
        settings: actions.settings(config),
        actions,
        active_high: button.active == Level::High,
        room: button.room.clone(),
        actor: format!("gpio{}", button.pin),
        id: id.clone(),
        name: name.clone(),
        watching: format!(
            "watching GPIO{} (pull {}, pressed = {})",
            button.pin, button.pull, button.active
        ),
        sink: Arc::clone(sink),
        board: Arc::clone(board),
        stop: Arc::clone(stop),
    };
    let spawned = std::thread::Builder::new()
        .name(id.clone())
        .spawn(move || worker.run());
    if let Err(e) = spawned {
        board.report(status(
            id,
            &name,
            Health::Error,
            "pin-error",
            format!("cannot start its thread: {e}"),
        ));
    }
}

impl ButtonWorker {
    fn report(&self, health: Health, condition: &str, detail: String) {
        self.board.report(status(
            self.id.clone(),
            &self.name,
            health,
            condition,
            detail,
        ));
    }

    fn run(mut self) {
        let start = match self.pin.read() {
            Ok(level) => level,
            Err(e) => {
                self.report(Health::Error, "pin-error", e.to_string());
                return;
            }
        };
        let pressed = start.high == self.active_high;
        if pressed {
            tracing::warn!(
                "{}: reads pressed at start; if nobody is holding it, check `active` and `pull`",
                self.name
            );
        }
        let mut logic = ButtonLogic::starting(self.settings, pressed, start.at);
        let mut now = start.at;
        self.report(Health::Ok, "ok", self.watching.clone());
        while !self.stop.load(Ordering::Relaxed) {
            let wait = logic
                .next_deadline()
                .map_or(MAX_WAIT, |d| d.saturating_sub(now))
                .min(MAX_WAIT);
            let presses = match self.pin.wait_for_change(wait) {
                Ok(PinWait::Changed { high, at }) => {
                    now = at;
                    logic.sample(high == self.active_high, at)
                }
                Ok(PinWait::Timeout { at }) => {
                    now = at;
                    logic.tick(at)
                }
                Err(e) => {
                    self.report(Health::Error, "pin-error", e.to_string());
                    return;
                }
            };
            for press in presses {
                let Some(action) = self.actions.action(press) else {
                    continue;
                };
                let binding = Binding {
                    room: self.room.clone(),
                    action,
                };
                tracing::debug!("{}: {press:?} press → {binding}", self.name);
                self.sink.press(&binding, Source::Button, &self.actor);
            }
        }
    }
}

fn start_led(
    led: &LedConfig,
    leds: &impl Fn(&LedConfig) -> Result<Box<dyn OutputPin>, DeviceError>,
    blink_for: Duration,
    board: &Arc<DeviceBoard>,
) -> Option<(RoomId, Sender<()>)> {
    let id = format!("led-{}", led.pin);
    let name = format!("GPIO{} LED → {}", led.pin, led.room);
    let out = match leds(led) {
        Ok(out) => out,
        Err(e) => {
            board.report(open_failed(id, &name, &e));
            return None;
        }
    };
    let (tx, rx) = mpsc::channel();
    let thread_board = Arc::clone(board);
    let (thread_id, thread_name) = (id.clone(), name.clone());
    let spawned = std::thread::Builder::new().name(id.clone()).spawn(move || {
        led::run_led(out, &rx, blink_for, BLINK_HALF_PERIOD, &|e| {
            thread_board.report(status(
                thread_id.clone(),
                &thread_name,
                Health::Error,
                "pin-error",
                e.to_string(),
            ));
        });
    });
    match spawned {
        Ok(_) => {
            board.report(status(
                id,
                &name,
                Health::Ok,
                "ok",
                format!("blinks {}s when {} calls", blink_for.as_secs(), led.room),
            ));
            Some((led.room.clone(), tx))
        }
        Err(e) => {
            board.report(status(
                id,
                &name,
                Health::Error,
                "pin-error",
                format!("cannot start its thread: {e}"),
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::devices::RecordedPresses;
    use crate::devices::spec::Pull;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn button(pin: u8, room: &str, short: &str, long: &str, double: &str) -> ButtonConfig {
        ButtonConfig {
            pin,
            room: RoomId::parse(room).unwrap(),
            pull: Pull::Up,
            active: Level::Low,
            short: short.parse().unwrap(),
            // An empty action is none.
            long: long.parse().ok(),
            double: double.parse().ok(),
        }
    }

    fn gpio(buttons: Vec<ButtonConfig>, leds: Vec<LedConfig>) -> GpioConfig {
        GpioConfig {
            buttons,
            leds,
            ..crate::config::Config::default().gpio
        }
    }

    #[test]
    fn actions_map_short_long_and_double() {
        let a = ButtonActions::from_config(&button(17, "room-1", "next", "recall", ""));
        assert_eq!(a.action(Press::Short), Some(InputAction::Next));
        assert_eq!(a.action(Press::Long), Some(InputAction::Recall));
        assert_eq!(a.action(Press::Double), None);
        // Empty long, or long = short: no long press of its own.
        for long in ["", "next"] {
            let a = ButtonActions::from_config(&button(17, "room-1", "next", long, "undo"));
            assert_eq!(a.long, None);
            assert_eq!(a.action(Press::Long), Some(InputAction::Next));
            assert_eq!(a.action(Press::Double), Some(InputAction::Undo));
            let s = a.settings(&gpio(vec![], vec![]));
            assert_eq!(s.long_press, None);
            assert_eq!(s.double_press, Some(ms(400)));
            assert_eq!(s.debounce, ms(50));
        }
    }

    #[test]
    fn a_press_on_a_fake_pin_sends_room_next_from_the_button() {
        let presses = RecordedPresses::default();
        let board = Arc::new(DeviceBoard::new());
        let config = gpio(vec![button(17, "room-1", "next", "recall", "")], vec![]);
        // Pulled up (high) at rest; pressed = low, with a bounce.
        let script = [
            (ms(100), false),
            (ms(102), true),
            (ms(104), false),
            (ms(300), true),
        ];
        let pin = std::sync::Mutex::new(Some(FakePin::scripted(true, script)));
        let _gpio = spawn_gpio_with(
            &config,
            |b| {
                assert_eq!(b.pin, 17);
                let pin = pin.lock().unwrap().take().unwrap();
                Ok(Box::new(pin) as Box<dyn Pin>)
            },
            |_| unreachable_out(),
            Arc::new(presses.clone()),
            Arc::clone(&board),
        );
        let seen = crate::devices::testing::presses(&presses, 1);
        assert_eq!(
            seen,
            vec![(
                "room-1:next".parse::<Binding>().unwrap(),
                Source::Button,
                "gpio17".to_owned()
            )]
        );
        let status = board.get("button-17").unwrap();
        assert_eq!(status.kind, DeviceKind::Button);
        assert_eq!(status.name, "GPIO17 → room-1");
        // The script ends: the pin is reported gone, still only one press.
        crate::devices::testing::condition(&board, "button-17", "pin-error");
        assert_eq!(presses.presses().len(), 1);
    }

    #[test]
    fn long_hold_and_double_press_through_the_runner() {
        let presses = RecordedPresses::default();
        let board = Arc::new(DeviceBoard::new());
        let config = gpio(vec![button(5, "room-2", "next", "recall", "undo")], vec![]);
        let (pin, driver) = FakePin::channel(true);
        let pin = std::sync::Mutex::new(Some(pin));
        let _gpio = spawn_gpio_with(
            &config,
            |_| Ok(Box::new(pin.lock().unwrap().take().unwrap()) as Box<dyn Pin>),
            |_| unreachable_out(),
            Arc::new(presses.clone()),
            Arc::clone(&board),
        );
        crate::devices::testing::condition(&board, "button-5", "ok");
        // Held 1 s: recall, fired while held.
        driver.set(ms(0), false);
        driver.set(ms(1000), false);
        let seen = crate::devices::testing::presses(&presses, 1);
        assert_eq!(seen[0].0.to_string(), "room-2:recall");
        driver.set(ms(1100), true);
        // Two quick presses: undo.
        driver.set(ms(3000), false);
        driver.set(ms(3100), true);
        driver.set(ms(3300), false);
        driver.set(ms(3400), true);
        let seen = crate::devices::testing::presses(&presses, 2);
        assert_eq!(seen[1].0.to_string(), "room-2:undo");
        // One press: next, once the double-press window has closed.
        driver.set(ms(5000), false);
        driver.set(ms(5100), true);
        driver.set(ms(6000), true);
        let seen = crate::devices::testing::presses(&presses, 3);
        assert_eq!(seen[2].0.to_string(), "room-2:next");
        assert!(
            seen.iter()
                .all(|(_, source, actor)| *source == Source::Button && actor == "gpio5")
        );
    }

    #[test]
    fn without_gpio_every_button_and_led_is_unavailable_and_nothing_panics() {
        let board = Arc::new(DeviceBoard::new());
        let config = gpio(
            vec![
                button(17, "room-1", "next", "", ""),
                button(22, "room-2", "next", "", ""),
            ],
            vec![LedConfig {
                pin: 27,
                room: RoomId::parse("room-1").unwrap(),
            }],
        );
        let handle = spawn_gpio(
            &config,
            Arc::new(RecordedPresses::default()),
            Arc::clone(&board),
        );
        for id in ["button-17", "button-22", "led-27"] {
            let status = board.get(id).unwrap();
            assert_eq!(status.health, Health::Unavailable, "{id}");
            assert_eq!(status.condition, "unavailable");
            assert!(
                status.detail.starts_with("GPIO is not available"),
                "{}",
                status.detail
            );
            #[cfg(not(feature = "gpio"))]
            assert_eq!(status.detail, NO_GPIO_FEATURE);
        }
        // Blinking a room whose LED is unavailable is fine.
        handle.blink(&RoomId::parse("room-1").unwrap());
        assert!(!handle.has_led(&RoomId::parse("room-1").unwrap()));
    }

    #[test]
    fn nothing_configured_reports_nothing() {
        let board = Arc::new(DeviceBoard::new());
        let _ = spawn_gpio(
            &gpio(vec![], vec![]),
            Arc::new(RecordedPresses::default()),
            Arc::clone(&board),
        );
        assert!(board.all().is_empty());
    }

    #[test]
    fn blink_reaches_the_rooms_led_only() {
        let board = Arc::new(DeviceBoard::new());
        let config = GpioConfig {
            led_blink_secs: 0,
            ..gpio(
                vec![],
                vec![
                    LedConfig {
                        pin: 27,
                        room: RoomId::parse("room-1").unwrap(),
                    },
                    LedConfig {
                        pin: 26,
                        room: RoomId::parse("room-2").unwrap(),
                    },
                ],
            )
        };
        let fakes: std::collections::BTreeMap<u8, FakeOutputPin> =
            [(27, FakeOutputPin::new()), (26, FakeOutputPin::new())].into();
        let handle = spawn_gpio_with(
            &config,
            |_| unreachable_pin(),
            |l| Ok(Box::new(fakes[&l.pin].clone()) as Box<dyn OutputPin>),
            Arc::new(RecordedPresses::default()),
            Arc::clone(&board),
        );
        assert_eq!(board.get("led-27").unwrap().condition, "ok");
        handle.blink(&RoomId::parse("room-1").unwrap());
        // A zero-length blink: on, then off at once.
        let deadline = Instant::now() + Duration::from_secs(10);
        while fakes[&27].levels() != [false, true, false] {
            assert!(Instant::now() < deadline, "{:?}", fakes[&27].levels());
            std::thread::yield_now();
        }
        drop(handle);
        assert!(!fakes[&26].levels().contains(&true));
    }
}
