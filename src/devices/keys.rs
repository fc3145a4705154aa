//! USB keypads and foot pedals. (Skeleton: the keys helper fills this in.)

use super::DeviceError;

/// The Linux key code of a key name (`KEY_SPACE`).
pub fn key_code(name: &str) -> Result<u16, DeviceError> {
    Err(DeviceError::Config(format!("unknown key {name}")))
}

use std::sync::Arc;

use super::{DeviceBoard, PressSink};
use crate::config::KeysConfig;

/// A keypad's thread.
#[derive(Debug)]
pub struct KeypadHandle;

impl KeypadHandle {
    /// Stops it.
    pub fn stop(&self) {}
}

/// Starts the configured keypads.
pub fn spawn_keypads(
    _config: &KeysConfig,
    _sink: Arc<dyn PressSink>,
    _board: Arc<DeviceBoard>,
) -> Vec<KeypadHandle> {
    Vec::new()
}
