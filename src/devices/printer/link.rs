//! The connection to a real printer: escpos's `NativeUsbDriver` (USB), and three drivers of
//! our own behind escpos's public `Driver` trait:
//!
//! * [`TcpDriver`] for network printers (port 9100). escpos's `NetworkDriver` has one time-out
//!   for connect, write and read; this one has a short read time-out for status answers, a
//!   write that fails with [`STALLED`] once the printer has taken (almost) nothing for
//!   [`WRITE_TIMEOUT`] (a printer that accepts the connection and never reads: its buffers
//!   fill), and keeps what a stalled write did not send, to send it first once the printer
//!   reads again;
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
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use escpos::driver::{Driver, NativeUsbDriver};
use escpos::errors::{PrinterError, Result as EscResult};

use super::PrinterUri;

/// How long to wait for a status byte from a serial or USB-device-file printer.
pub const READ_TIMEOUT: Duration = Duration::from_secs(1);
/// Connect time-out of a network printer.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long to wait for a status byte from a network printer (real ones answer in
/// milliseconds).
pub const NETWORK_READ_TIMEOUT: Duration = Duration::from_secs(1);
/// A network printer that takes less than [`MIN_PROGRESS`] bytes of a write in this long has
/// stalled. A printer busy with a long job takes more every second or so; one that has hung,
/// or accepts connections and never reads, takes nothing.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(4);
/// The longest a single write call blocks (so that progress is seen as it happens).
const WRITE_SLICE: Duration = Duration::from_millis(200);
/// What a working printer takes in [`WRITE_TIMEOUT`] at least, when there is more to send
/// (printing, it takes KiB a second; an image, tens of KiB).
const MIN_PROGRESS: usize = 1024;
/// The send buffer asked for a network printer's connection: small, so that a printer that
/// stops reading is noticed after a ticket or two rather than after megabytes.
const SEND_BUFFER: usize = 4 * 1024;
/// What a stalled write's error says (the start of the message).
pub const STALLED: &str = "the printer took no data for";
/// A write that makes no progress for this long has failed.
const WRITE_STALL: Duration = Duration::from_secs(10);
/// Pause between tries of a non-blocking device file.
const POLL_PAUSE: Duration = Duration::from_millis(10);

/// What came of waiting for one status byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The byte.
    Byte(u8),
    /// Nothing in time (many USB printers never answer).
    Silent,
    /// The connection is gone.
    Gone(String),
}

/// An open connection to a printer.
pub enum Link {
    /// `tcp://`.
    Network(TcpDriver),
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
                Ok(Self::Network(TcpDriver::open(addr)?))
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

    /// Whether an earlier write stalled and left bytes to send (network printers only).
    pub fn stalled(&self) -> bool {
        matches!(self, Self::Network(d) if d.stalled())
    }

    /// Sends what a stalled write left, if anything (network printers only): `Ok` once it is
    /// all sent.
    pub fn resume(&self) -> EscResult<()> {
        match self {
            Self::Network(d) => d.resume(),
            _ => Ok(()),
        }
    }

    /// Reads one status byte, waiting at most the link's read time-out.
    pub fn answer(&self) -> Reply {
        let mut byte = [0u8; 1];
        if let Self::Network(d) = self {
            let mut stream = &d.stream;
            return match stream.read(&mut byte) {
                Ok(1..) => Reply::Byte(byte[0]),
                Ok(_) => Reply::Gone("the printer closed the connection".to_owned()),
                Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                    Reply::Silent
                }
                Err(e) => Reply::Gone(e.to_string()),
            };
        }
        match self.read(&mut byte) {
            Ok(1..) => Reply::Byte(byte[0]),
            Ok(_) => Reply::Silent,
            Err(e) => Reply::Gone(e.to_string()),
        }
    }

    /// Drops bytes that arrived unasked (a late status answer), so the next answer read is the
    /// answer to the next question (network printers only; the others drop their link).
    pub fn discard_input(&self) {
        if let Self::Network(d) = self {
            d.discard_input();
        }
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

/// A network printer's raw port (9100).
pub struct TcpDriver {
    addr: SocketAddr,
    stream: TcpStream,
    /// What a stalled write did not send, to send before anything else.
    rest: RefCell<Vec<u8>>,
}

impl TcpDriver {
    /// Connects, with [`CONNECT_TIMEOUT`].
    pub fn open(addr: SocketAddr) -> EscResult<Self> {
        let stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(NETWORK_READ_TIMEOUT))?;
        // A smaller send buffer only: the default would let the first megabytes vanish into
        // a printer that never reads. Failing to set it is not worth refusing the printer.
        if let Err(e) = socket2::SockRef::from(&stream).set_send_buffer_size(SEND_BUFFER) {
            tracing::debug!("printer {addr}: cannot set the send buffer: {e}");
        }
        Ok(Self {
            addr,
            stream,
            rest: RefCell::new(Vec::new()),
        })
    }

    /// Whether a stalled write left bytes to send.
    pub fn stalled(&self) -> bool {
        self.rest.try_borrow().is_ok_and(|rest| !rest.is_empty())
    }

    /// Writes `data` after what is left. A write during which the printer takes less than
    /// [`MIN_PROGRESS`] bytes in [`WRITE_TIMEOUT`] (since it last took as much) has stalled: it keeps the unsent bytes and
    /// fails with [`STALLED`]. (A printer whose window has closed may still take a few bytes
    /// now and then; that is not printing.)
    fn send(&self, data: &[u8]) -> EscResult<()> {
        let mut rest = self.rest.try_borrow_mut()?;
        rest.extend_from_slice(data);
        let mut window = (Instant::now(), 0);
        let mut sent = 0;
        let mut stream = &self.stream;
        let result = loop {
            let Some(left) = rest.get(sent..).filter(|left| !left.is_empty()) else {
                break Ok(());
            };
            // Each KiB taken starts a new window.
            if window.1 >= MIN_PROGRESS {
                window = (Instant::now(), 0);
            }
            let elapsed = window.0.elapsed();
            if elapsed >= WRITE_TIMEOUT {
                break Err(PrinterError::Io(format!(
                    "{STALLED} {} s: {} bytes waiting",
                    WRITE_TIMEOUT.as_secs(),
                    left.len()
                )));
            }
            // Short slices: a blocked write returns what it took only when its time-out ends.
            let wait = WRITE_TIMEOUT
                .saturating_sub(elapsed)
                .clamp(Duration::from_millis(1), WRITE_SLICE);
            if let Err(e) = self.stream.set_write_timeout(Some(wait)) {
                break Err(e.into());
            }
            match stream.write(left) {
                Ok(0) => break Err(PrinterError::Io("the printer closed the connection".into())),
                Ok(n) => {
                    sent += n;
                    window.1 += n;
                }
                Err(e)
                    if e.kind() == ErrorKind::Interrupted
                        || e.kind() == ErrorKind::WouldBlock
                        || e.kind() == ErrorKind::TimedOut => {}
                Err(e) => break Err(e.into()),
            }
        };
        let sent = sent.min(rest.len());
        rest.drain(..sent);
        result
    }

    /// Sends what a stalled write left.
    pub fn resume(&self) -> EscResult<()> {
        self.send(&[])
    }

    /// Reads and drops whatever has arrived, without waiting.
    pub fn discard_input(&self) {
        if self.stream.set_nonblocking(true).is_err() {
            return;
        }
        let mut buf = [0u8; 64];
        let mut stream = &self.stream;
        while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
        // If this fails the next read fails too, and the link is dropped.
        let _ = self.stream.set_nonblocking(false);
    }
}

impl Driver for TcpDriver {
    fn name(&self) -> String {
        format!("network ({})", self.addr)
    }

    fn write(&self, data: &[u8]) -> EscResult<()> {
        self.send(data)
    }

    /// One read with [`NETWORK_READ_TIMEOUT`]: `Ok(0)` is a closed connection, a time-out is
    /// an error.
    fn read(&self, buf: &mut [u8]) -> EscResult<usize> {
        let mut stream = &self.stream;
        Ok(stream.read(buf)?)
    }

    fn flush(&self) -> EscResult<()> {
        let mut stream = &self.stream;
        stream.flush()?;
        Ok(())
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
    fn a_network_printer_that_stops_reading_stalls_and_gets_the_rest_once_it_reads() {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.set_recv_buffer_size(1024).unwrap();
        socket
            .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        socket.listen(1).unwrap();
        let listener: std::net::TcpListener = socket.into();
        let addr = listener.local_addr().unwrap();
        let link = Link::open(&PrinterUri::Tcp {
            host: "127.0.0.1".into(),
            port: addr.port(),
        })
        .unwrap();
        let (mut printer, _) = listener.accept().unwrap();
        let job: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
        let started = Instant::now();
        let err = link.write(&job).unwrap_err().to_string();
        assert!(err.contains(STALLED), "{err}");
        let took = started.elapsed();
        assert!(
            took >= WRITE_TIMEOUT && took < WRITE_TIMEOUT * 2,
            "{took:?}"
        );
        assert!(link.stalled());
        // The printer reads again: what was left goes, once, in order.
        let reader = std::thread::spawn(move || {
            let mut got = vec![0u8; job.len()];
            printer.read_exact(&mut got).unwrap();
            assert_eq!(got, job);
        });
        link.resume().unwrap();
        assert!(!link.stalled());
        reader.join().unwrap();
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
