//! Serial pager and keypad receivers. (Skeleton: the serial helper fills this in.)

use super::DeviceError;

/// How a receiver's bytes are framed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Framing;

impl Framing {
    /// Parses `framing` (`8N1`) and `frame` (`line`, `fixed:N`).
    pub fn parse(_framing: &str, _frame: &str) -> Result<Self, DeviceError> {
        Ok(Self)
    }
}

use std::sync::Arc;

use super::{DeviceBoard, PressSink};
use crate::config::SerialConfig;

/// A receiver's thread.
#[derive(Debug)]
pub struct ReceiverHandle;

impl ReceiverHandle {
    /// Stops it.
    pub fn stop(&self) {}
}

/// Starts the configured receivers.
pub fn spawn_receivers(
    _config: &SerialConfig,
    _sink: Arc<dyn PressSink>,
    _board: Arc<DeviceBoard>,
) -> Vec<ReceiverHandle> {
    Vec::new()
}
