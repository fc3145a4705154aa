//! USB keypads and foot pedals. (in progress)

use super::DeviceError;

/// The Linux key code of a key name (`KEY_SPACE`).
pub fn key_code(name: &str) -> Result<u16, DeviceError> {
    Err(DeviceError::Config(format!("unknown key {name}")))
}
