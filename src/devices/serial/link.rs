//! The serial link a receiver reads: the [`SerialLink`] trait, its real driver over the
//! `serialport` crate ([`SerialportLink`]) and a scriptable fake ([`FakeLink`]).
//!
//! A link only reads bytes with a timeout; an error means the link is gone (adapter unplugged,
//! pty master closed) and the receiver reopens it later.

use std::io::{self, Read};
use std::sync::mpsc;
use std::time::Duration;

use serialport::SerialPort;

use super::Framing;
use crate::devices::DeviceError;

/// Reads on an open serial line in a row that return nothing although the line said it was
/// readable: the line has hung up.
const ZERO_READS_HANG_UP: u32 = 3;

/// An open serial line that receives codes.
pub trait SerialLink: Send {
    /// Waits up to `timeout` for bytes. An empty vector: nothing arrived. An error: the line
    /// is gone (unplugged, closed) and must be opened again.
    fn read(&mut self, timeout: Duration) -> Result<Vec<u8>, DeviceError>;
}

/// A serial port through the `serialport` crate: a USB-serial adapter, a built-in UART or a
/// pseudo-terminal.
pub struct SerialportLink {
    port: Box<dyn SerialPort>,
    name: String,
    timeout: Duration,
    zero_reads: u32,
    buffer: Vec<u8>,
}

impl std::fmt::Debug for SerialportLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SerialportLink")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl SerialportLink {
    /// Opens `port` (a path such as `/dev/ttyUSB0`, or a symlink to one) at `baud` with the
    /// framing's data bits, parity and stop bits. The port is opened for waitless alone.
    pub fn open(port: &str, baud: u32, framing: &Framing) -> Result<Self, DeviceError> {
        let timeout = Duration::from_millis(200);
        let opened = serialport::new(port, baud)
            .data_bits(framing.data_bits)
            .parity(framing.parity)
            .stop_bits(framing.stop_bits)
            .flow_control(serialport::FlowControl::None)
            .timeout(timeout)
            .open()
            .map_err(|e| DeviceError::Unavailable(format!("cannot open {port}: {e}")))?;
        Ok(Self::from_port(opened, port))
    }

    /// A link over a port opened elsewhere, named `name` in messages.
    pub fn from_port(port: Box<dyn SerialPort>, name: impl Into<String>) -> Self {
        let timeout = port.timeout();
        Self {
            port,
            name: name.into(),
            timeout,
            zero_reads: 0,
            buffer: vec![0; 256],
        }
    }
}

impl SerialLink for SerialportLink {
    fn read(&mut self, timeout: Duration) -> Result<Vec<u8>, DeviceError> {
        if timeout != self.timeout {
            self.port.set_timeout(timeout).map_err(|e| {
                DeviceError::Unavailable(format!("cannot set the read timeout: {e}"))
            })?;
            self.timeout = timeout;
        }
        match self.port.read(&mut self.buffer) {
            Ok(0) => {
                // poll() said readable but there is nothing: on Linux a hung-up tty.
                self.zero_reads += 1;
                if self.zero_reads >= ZERO_READS_HANG_UP {
                    return Err(DeviceError::Unavailable(
                        "the line hung up (unplugged?)".to_owned(),
                    ));
                }
                Ok(Vec::new())
            }
            Ok(n) => {
                self.zero_reads = 0;
                Ok(self.buffer.get(..n).unwrap_or_default().to_vec())
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut
                        | io::ErrorKind::WouldBlock
                        | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(Vec::new())
            }
            Err(e) => Err(DeviceError::io("read failed (unplugged?)", e)),
        }
    }
}

/// What a [`FakeFeed`] sends to its [`FakeLink`].
#[derive(Debug)]
enum FakeInput {
    Bytes(Vec<u8>),
    Unplug,
}

/// A serial line that receives what its [`FakeFeed`] sends (tests, a laptop demo).
#[derive(Debug)]
pub struct FakeLink {
    input: mpsc::Receiver<FakeInput>,
}

/// Sends bytes to a [`FakeLink`], or unplugs it. Dropping the feed unplugs it too.
#[derive(Clone, Debug)]
pub struct FakeFeed {
    output: mpsc::Sender<FakeInput>,
}

impl FakeLink {
    /// A fake line and the feed that drives it.
    pub fn new() -> (Self, FakeFeed) {
        let (output, input) = mpsc::channel();
        (Self { input }, FakeFeed { output })
    }
}

impl FakeFeed {
    /// The line receives `bytes`. Returns false when the link is gone.
    pub fn send(&self, bytes: &[u8]) -> bool {
        self.output.send(FakeInput::Bytes(bytes.to_vec())).is_ok()
    }

    /// The line is unplugged: its next read fails.
    pub fn unplug(&self) {
        let _ = self.output.send(FakeInput::Unplug);
    }
}

impl SerialLink for FakeLink {
    fn read(&mut self, timeout: Duration) -> Result<Vec<u8>, DeviceError> {
        match self.input.recv_timeout(timeout) {
            Ok(FakeInput::Bytes(bytes)) => Ok(bytes),
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(Vec::new()),
            Ok(FakeInput::Unplug) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(DeviceError::Unavailable("unplugged".to_owned()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_link_reads_what_is_fed_then_fails_when_unplugged() {
        let (mut link, feed) = FakeLink::new();
        assert!(feed.send(b"A1\n"));
        assert_eq!(link.read(Duration::from_millis(10)).unwrap(), b"A1\n");
        assert!(link.read(Duration::from_millis(1)).unwrap().is_empty());
        feed.unplug();
        assert!(link.read(Duration::from_millis(10)).is_err());
        drop(feed);
        assert!(link.read(Duration::from_millis(10)).is_err());
    }

    #[test]
    fn serialport_link_reads_a_pty_and_fails_when_the_master_closes() {
        use std::io::Write;
        let (mut master, slave) = serialport::TTYPort::pair().unwrap();
        let mut link = SerialportLink::from_port(Box::new(slave), "pty");
        master.write_all(b"A1\r\n").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut got = Vec::new();
        while got.len() < 4 && std::time::Instant::now() < deadline {
            got.extend(link.read(Duration::from_millis(50)).unwrap());
        }
        assert_eq!(got, b"A1\r\n");
        assert!(link.read(Duration::from_millis(20)).unwrap().is_empty());
        drop(master);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            if link.read(Duration::from_millis(50)).is_err() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no error after hang-up"
            );
        }
    }

    #[test]
    fn opening_a_missing_port_says_which() {
        let e = SerialportLink::open("/dev/waitless-no-such-tty", 9600, &Framing::EIGHT_N_ONE)
            .unwrap_err();
        assert!(e.to_string().contains("/dev/waitless-no-such-tty"), "{e}");
    }
}
