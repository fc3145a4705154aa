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
