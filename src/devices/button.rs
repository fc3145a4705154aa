//! GPIO push buttons and LEDs. (Skeleton: the button helper fills this in.)

use std::sync::Arc;

use super::{DeviceBoard, PressSink};
use crate::config::GpioConfig;
use crate::domain::RoomId;

/// The GPIO buttons' and LEDs' threads.
#[derive(Clone, Debug)]
pub struct GpioHandle;

impl GpioHandle {
    /// Blinks the room's LED.
    pub fn blink(&self, _room: &RoomId) {}
    /// Stops the threads.
    pub fn stop(&self) {}
}

/// Starts the configured buttons and LEDs.
pub fn spawn_gpio(
    _config: &GpioConfig,
    _sink: Arc<dyn PressSink>,
    _board: Arc<DeviceBoard>,
) -> GpioHandle {
    GpioHandle
}
