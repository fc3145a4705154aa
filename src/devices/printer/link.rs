//! The connection to a real printer: escpos's `NetworkDriver` (TCP) and `NativeUsbDriver`
//! (USB), and two drivers of our own behind escpos's public `Driver` trait:
//!
//! * [`SerialDriver`] over `serialport` (escpos's `serial_port` feature would pull in libudev);
//! * [`DeviceFileDriver`] for `/dev/usb/lp0` and friends. escpos's `FileDriver` opens the file
//!   blocking, and `usblp` blocks a read forever when the printer sends nothing (most do not
//!   answer status requests), which would hang the printer's thread. This one opens the file
//!   non-blocking, waits for writes to drain and gives up reading after [`READ_TIMEOUT`].
//!
//! Links are opened on the printer's own thread and never leave it.

use std::cell::RefCell;
use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use escpos::driver::{Driver, NativeUsbDriver, NetworkDriver};
use escpos::errors::{PrinterError, Result as EscResult};

use super::PrinterUri;

/// How long to wait for a status byte from a serial or USB-device-file printer.
pub const READ_TIMEOUT: Duration = Duration::from_secs(1);
/// Connect, write and read time-out of a network printer (escpos's driver has one for all:
/// long enough for a big job to drain into a slow printer).
pub const NETWORK_TIMEOUT: Duration = Duration::from_secs(3);
/// A write that makes no progress for this long has failed.
const WRITE_STALL: Duration = Duration::from_secs(10);
/// Pause between tries of a non-blocking device file.
const POLL_PAUSE: Duration = Duration::from_millis(10);

/// An open connection to a printer.
pub enum Link {
    /// `tcp://`.
    Network(NetworkDriver),
    /// `serial://`.
    Serial(SerialDriver),
    /// `usb://`.
    Usb(NativeUsbDriver),
    /// `file://`.
    File(DeviceFileDriver),
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl Link {
    /// Opens the connection. The error is the driver's, for the caller to explain.
    pub fn open(uri: &PrinterUri) -> EscResult<Self> {
        match uri {
            PrinterUri::Tcp { host, port } => {
                // escpos's driver takes an address when given a time-out: resolve first.
                let addr = (host.as_str(), *port)
                    .to_socket_addrs()?
                    .next()
                    .ok_or_else(|| PrinterError::Io(format!("{host} has no address")))?;
                let driver =
                    NetworkDriver::open(&addr.ip().to_string(), *port, Some(NETWORK_TIMEOUT))?;
                Ok(Self::Network(driver))
            }
            PrinterUri::Serial { path, baud } => Ok(Self::Serial(SerialDriver::open(path, *baud)?)),
            PrinterUri::Usb { vendor, product } => {
                Ok(Self::Usb(NativeUsbDriver::open(*vendor, *product)?))
            }
            PrinterUri::File(path) => Ok(Self::File(DeviceFileDriver::open(path)?)),
            PrinterUri::Fake | PrinterUri::None => {
                Err(PrinterError::Input(format!("{uri} is not a real printer")))
            }
        }
    }

    /// Whether a read of zero bytes means the other side has gone (a closed TCP connection),
    /// rather than "no answer".
    pub fn eof_means_gone(&self) -> bool {
        matches!(self, Self::Network(_))
    }

    fn driver(&self) -> &dyn Driver {
        match self {
            Self::Network(d) => d,
            Self::Serial(d) => d,
            Self::Usb(d) => d,
            Self::File(d) => d,
        }
    }
}

impl Driver for Link {
    fn name(&self) -> String {
        self.driver().name()
    }

    fn write(&self, data: &[u8]) -> EscResult<()> {
        self.driver().write(data)
    }

    fn read(&self, buf: &mut [u8]) -> EscResult<usize> {
        self.driver().read(buf)
    }

    fn flush(&self) -> EscResult<()> {
        self.driver().flush()
    }
}

/// A serial printer through `serialport` (8N1, no flow control).
pub struct SerialDriver {
    path: String,
    port: RefCell<Box<dyn serialport::SerialPort>>,
}

impl SerialDriver {
    /// Opens the port.
    pub fn open(path: &str, baud: u32) -> EscResult<Self> {
        let port = serialport::new(path, baud)
            .timeout(READ_TIMEOUT)
            .open()
            .map_err(|e| PrinterError::Io(e.to_string()))?;
        Ok(Self {
            path: path.to_owned(),
            port: RefCell::new(port),
        })
    }
}

impl Driver for SerialDriver {
    fn name(&self) -> String {
        format!("serial ({})", self.path)
    }

    fn write(&self, data: &[u8]) -> EscResult<()> {
        let mut port = self.port.try_borrow_mut()?;
        port.set_timeout(WRITE_STALL)
            .map_err(|e| PrinterError::Io(e.to_string()))?;
        port.write_all(data)?;
        Ok(())
    }

    fn read(&self, buf: &mut [u8]) -> EscResult<usize> {
        let mut port = self.port.try_borrow_mut()?;
        port.set_timeout(READ_TIMEOUT)
            .map_err(|e| PrinterError::Io(e.to_string()))?;
        match port.read(buf) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == ErrorKind::TimedOut || e.kind() == ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    fn flush(&self) -> EscResult<()> {
        self.port.try_borrow_mut()?.flush()?;
        Ok(())
    }
}

/// A printer's device file (`/dev/usb/lp0`), or any file (bytes are appended).
pub struct DeviceFileDriver {
    path: PathBuf,
    file: RefCell<File>,
}

impl DeviceFileDriver {
    /// Opens the file for reading and appending, non-blocking.
    pub fn open(path: &Path) -> EscResult<Self> {
        let mut options = File::options();
        options.read(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.custom_flags(libc::O_NONBLOCK);
        }
        let mut file = options.open(path)?;
        if file.metadata().is_ok_and(|m| m.is_file()) {
            // A plain file (for trying things out) answers nothing: read from its end.
            file.seek(SeekFrom::End(0))?;
        }
        Ok(Self {
            path: path.to_owned(),
            file: RefCell::new(file),
        })
    }
}

impl Driver for DeviceFileDriver {
    fn name(&self) -> String {
        format!("file ({})", self.path.display())
    }

    fn write(&self, mut data: &[u8]) -> EscResult<()> {
        let mut file = self.file.try_borrow_mut()?;
        let mut last_progress = Instant::now();
        while !data.is_empty() {
            match file.write(data) {
                Ok(0) => return Err(PrinterError::Io("the printer takes no more data".into())),
                Ok(n) => {
                    data = data.get(n..).unwrap_or_default();
                    last_progress = Instant::now();
                }
                Err(e)
                    if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted =>
                {
                    if last_progress.elapsed() > WRITE_STALL {
                        return Err(PrinterError::Io(format!(
                            "the printer took no data for {} s",
                            WRITE_STALL.as_secs()
                        )));
                    }
                    std::thread::sleep(POLL_PAUSE);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn read(&self, buf: &mut [u8]) -> EscResult<usize> {
        let mut file = self.file.try_borrow_mut()?;
        let started = Instant::now();
        loop {
            match file.read(buf) {
                Ok(n) => return Ok(n),
                Err(e)
                    if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted =>
                {
                    if started.elapsed() >= READ_TIMEOUT {
                        return Ok(0);
                    }
                    std::thread::sleep(POLL_PAUSE);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn flush(&self) -> EscResult<()> {
        self.file.try_borrow_mut()?.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_file_gets_the_bytes_and_no_answer_is_zero() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lp0");
        std::fs::write(&path, b"old").unwrap();
        let link = Link::open(&PrinterUri::File(path.clone())).unwrap();
        let mut byte = [0u8];
        assert_eq!(link.read(&mut byte).unwrap(), 0, "a file answers nothing");
        link.write(b"\x1b@hello").unwrap();
        link.flush().unwrap();
        let mut byte = [0u8];
        assert_eq!(link.read(&mut byte).unwrap(), 0);
        assert!(!link.eof_means_gone());
        assert_eq!(std::fs::read(&path).unwrap(), b"old\x1b@hello");
        assert!(link.name().contains("lp0"));
    }

    #[test]
    fn a_missing_device_file_is_an_error() {
        assert!(Link::open(&PrinterUri::File("/nonexistent/lp9".into())).is_err());
        assert!(Link::open(&PrinterUri::Fake).is_err());
    }

    #[test]
    fn a_serial_printer_over_a_pty_gets_the_bytes_and_its_answer_is_read() {
        use serialport::SerialPort as _;
        let (mut master, slave) = serialport::TTYPort::pair().unwrap();
        let path = slave.name().unwrap();
        let link = Link::open(&PrinterUri::Serial { path, baud: 19_200 }).unwrap();
        link.write(&[0x10, 0x04, 0x01]).unwrap();
        let mut got = [0u8; 3];
        master.read_exact(&mut got).unwrap();
        assert_eq!(got, [0x10, 0x04, 0x01]);
        master.write_all(&[0x12]).unwrap();
        let mut byte = [0u8];
        assert_eq!(link.read(&mut byte).unwrap(), 1);
        assert_eq!(byte[0], 0x12);
        drop(slave);
    }
}
