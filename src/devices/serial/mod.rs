//! Serial pager and keypad receivers: a radio receiver or keypad on a serial port (USB-serial
//! adapter, UART) sends a short code per button (`A1\r\n`, or fixed-size binary codes); the
//! configuration maps each code to a `room:action`.
//!
//! This module owns: the pure decoder from bytes
//! to codes ([`FrameDecoder`]), the link trait with its real driver over the `serialport` crate
//! and a fake ([`SerialLink`], [`SerialportLink`], [`FakeLink`]), the receiver threads
//! ([`spawn_receivers`]), `waitless devices learn` ([`learn`]) and `waitless devices list`
//! ([`list_ports`]). It does not own what a press does: codes become [`Binding`]s handed to a
//! [`PressSink`] with [`Source::Serial`](crate::domain::Source::Serial) and actor
//! `serial-<port file name>:<code>`.
//!
//! Invariants: each receiver runs on its own thread and reports on the [`DeviceBoard`] under
//! `serial-<port file name>` (`ok`, `disconnected`, `misconfigured`); a port that cannot be
//! opened or is unplugged is retried every `reconnect` and never stops the server; garbage
//! (unprintable or overlong lines) and unknown codes are logged and ignored.
//!
//! [`Binding`]: crate::devices::Binding
//! [`PressSink`]: crate::devices::PressSink
//! [`DeviceBoard`]: crate::devices::DeviceBoard

mod framing;
mod link;
mod receiver;

pub use framing::{Decoded, FrameDecoder, FrameKind, Framing, GarbageReason, MAX_CODE_LEN, hex};
pub use link::{FakeFeed, FakeLink, SerialLink, SerialportLink};
pub use receiver::{
    CodeMap, Opener, READ_TIMEOUT, ReceiverHandle, learn, learn_on, receiver_id, spawn_receiver,
    spawn_receiver_on, spawn_receivers,
};

/// A serial port found on this machine, for `waitless devices list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortInfo {
    /// Its path: `/dev/ttyUSB0`.
    pub name: String,
    /// What it is, as the system reports it: `USB 0403:6001 FTDI FT232R USB UART`, `PCI`,
    /// `Bluetooth` or `unknown`.
    pub kind: String,
}

/// The serial ports on this machine (empty, with a warning, if they cannot be listed).
pub fn list_ports() -> Vec<PortInfo> {
    match serialport::available_ports() {
        Ok(ports) => ports
            .into_iter()
            .map(|p| PortInfo {
                name: p.port_name,
                kind: port_kind(&p.port_type),
            })
            .collect(),
        Err(e) => {
            tracing::warn!("cannot list the serial ports: {e}");
            Vec::new()
        }
    }
}

fn port_kind(kind: &serialport::SerialPortType) -> String {
    use serialport::SerialPortType;
    match kind {
        SerialPortType::UsbPort(usb) => {
            let mut text = format!("USB {:04x}:{:04x}", usb.vid, usb.pid);
            for part in [&usb.manufacturer, &usb.product].into_iter().flatten() {
                text.push(' ');
                text.push_str(part);
            }
            text
        }
        SerialPortType::PciPort => "PCI".to_owned(),
        SerialPortType::BluetoothPort => "Bluetooth".to_owned(),
        SerialPortType::Unknown => "unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_kinds_read_well() {
        let usb = serialport::SerialPortType::UsbPort(serialport::UsbPortInfo {
            vid: 0x0403,
            pid: 0x6001,
            serial_number: None,
            manufacturer: Some("FTDI".to_owned()),
            product: Some("FT232R USB UART".to_owned()),
        });
        assert_eq!(port_kind(&usb), "USB 0403:6001 FTDI FT232R USB UART");
        assert_eq!(port_kind(&serialport::SerialPortType::PciPort), "PCI");
    }

    #[test]
    fn listing_ports_does_not_fail() {
        // Whatever this machine has; it must not panic without libudev.
        let _ = list_ports();
    }
}
