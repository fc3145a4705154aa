//! Serial pager receivers over real pseudo-terminals (`TTYPort::pair`): the receiver opens the
//! pty's slave path through its normal open path, the test writes codes on the master side.
//! "Unplugging" closes the master; a symlink stands for the adapter's stable path so a new pty
//! can be "plugged in" at the same place. Native only (qemu-user lacks termios2).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use serialport::{SerialPort, TTYPort};
use waitless::config::{ReceiverConfig, SerialConfig};
use waitless::devices::serial::{self, FrameKind, Framing, spawn_receiver};
use waitless::devices::{DeviceBoard, DeviceStatus, Health, RecordedPresses};
use waitless::domain::Source;

use crate::common::{PATIENCE, TestApp, wait_until_blocking};

/// A pseudo-terminal standing for a receiver on a USB-serial adapter. The test keeps the slave
/// open too, so bytes written before the receiver opens it wait in the line's buffer.
struct Pty {
    master: TTYPort,
    _slave: TTYPort,
    path: String,
}

fn pty() -> Pty {
    let (master, slave) = TTYPort::pair().unwrap();
    let path = slave.name().unwrap();
    Pty {
        master,
        _slave: slave,
        path,
    }
}

impl Pty {
    /// The receiver sends `bytes`.
    fn send(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).unwrap();
        self.master.flush().unwrap();
    }
}

/// Points `link` at the pty's slave (replacing an old link): the adapter is plugged in.
fn plug(link: &Path, pty: &Pty) {
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(&pty.path, link).unwrap();
}

fn receiver(port: &Path, codes: &[(&str, &str)]) -> ReceiverConfig {
    ReceiverConfig {
        port: port.to_string_lossy().into_owned(),
        baud: 9600,
        framing: Framing::EIGHT_N_ONE,
        frame: FrameKind::Line,
        codes: codes
            .iter()
            .map(|(c, t)| ((*c).to_owned(), t.parse().unwrap()))
            .collect(),
    }
}

fn wait_condition(board: &DeviceBoard, id: &str, condition: &str) -> DeviceStatus {
    wait_until_blocking(PATIENCE, &format!("{id} {condition}"), || {
        board.get(id).is_some_and(|s| s.condition == condition)
    });
    board.get(id).unwrap()
}

#[test]
fn a_mapped_code_presses_and_unknown_codes_and_garbage_do_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("pager");
    let mut pty = pty();
    plug(&link, &pty);
    let board = Arc::new(DeviceBoard::new());
    let presses = RecordedPresses::default();
    let handle = spawn_receiver(
        &receiver(&link, &[("A1", "room-1:next"), ("B2", "room-2:recall")]),
        Duration::from_millis(50),
        Arc::new(presses.clone()),
        Arc::clone(&board),
    )
    .unwrap();
    let status = wait_condition(&board, "serial-pager", "ok");
    assert_eq!(status.health, Health::Ok);
    assert_eq!(
        status.detail,
        format!("listening on {} at 9600 8N1", link.display())
    );

    // Unknown code, garbage, an overlong line, then a mapped code split across two writes.
    pty.send(b"A9\r\n\xff\xfe\x01\r\n");
    pty.send(&[b'x'; 300]);
    pty.send(b"\r\nA");
    pty.send(b"1\r\n");
    wait_until_blocking(PATIENCE, "the A1 press", || !presses.presses().is_empty());
    pty.send(b"\x00\x00\nZZ\nB2\n");
    wait_until_blocking(PATIENCE, "the B2 press", || presses.presses().len() >= 2);
    let got = presses.presses();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0.to_string(), "room-1:next");
    assert_eq!(got[0].1, Source::Serial);
    assert_eq!(got[0].2, "serial-pager:A1");
    assert_eq!(got[1].0.to_string(), "room-2:recall");
    assert_eq!(got[1].2, "serial-pager:B2");
    assert_eq!(board.get("serial-pager").unwrap().condition, "ok");
    handle.stop();
}

#[test]
fn an_unplugged_receiver_is_disconnected_and_works_again_when_plugged_back() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("pager");
    let mut first = pty();
    plug(&link, &first);
    let board = Arc::new(DeviceBoard::new());
    let presses = RecordedPresses::default();
    let _handle = spawn_receiver(
        &receiver(&link, &[("A1", "room-1:next")]),
        Duration::from_millis(50),
        Arc::new(presses.clone()),
        Arc::clone(&board),
    )
    .unwrap();
    wait_condition(&board, "serial-pager", "ok");
    first.send(b"A1\r\n");
    wait_until_blocking(PATIENCE, "the first press", || presses.presses().len() == 1);

    // Unplug: the master closes and the adapter's path disappears.
    drop(first);
    std::fs::remove_file(&link).unwrap();
    let status = wait_condition(&board, "serial-pager", "disconnected");
    assert_eq!(status.health, Health::Error);
    assert!(status.detail.contains("every 50 ms"), "{}", status.detail);
    // It keeps trying while the path is missing, and stays disconnected.
    wait_until_blocking(PATIENCE, "a failed reopen", || {
        board
            .get("serial-pager")
            .is_some_and(|s| s.detail.starts_with("cannot open"))
    });

    // Plug a new adapter in at the same path.
    let mut second = pty();
    plug(&link, &second);
    wait_condition(&board, "serial-pager", "ok");
    second.send(b"A1\r\n");
    wait_until_blocking(PATIENCE, "the press after replugging", || {
        presses.presses().len() == 2
    });
    assert_eq!(presses.presses()[1].2, "serial-pager:A1");
}

#[test]
fn a_receiver_on_a_missing_port_is_reported_and_others_still_run() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("desk");
    let mut pty = pty();
    plug(&link, &pty);
    let mut bad = receiver(&dir.path().join("typo"), &[]);
    bad.baud = 0;
    let config = SerialConfig {
        reconnect_secs: 1,
        receivers: vec![
            bad,
            receiver(&dir.path().join("absent"), &[]),
            receiver(&link, &[("7", "lab:next")]),
        ],
    };
    let board = Arc::new(DeviceBoard::new());
    let presses = RecordedPresses::default();
    let handles = serial::spawn_receivers(&config, Arc::new(presses.clone()), Arc::clone(&board));
    assert_eq!(handles.len(), 2);
    assert_eq!(board.get("serial-typo").unwrap().condition, "misconfigured");
    wait_condition(&board, "serial-absent", "disconnected");
    wait_condition(&board, "serial-desk", "ok");
    pty.send(b"7\r");
    wait_until_blocking(PATIENCE, "the lab press", || presses.presses().len() == 1);
    assert_eq!(presses.presses()[0].0.to_string(), "lab:next");
}

#[test]
fn learn_prints_each_code_and_garbage_from_a_pty() {
    let mut pty = pty();
    let config = receiver(Path::new(&pty.path), &[("B7", "room-2:next")]);
    // Waits in the line's buffer until learn opens the port.
    pty.send(b"A1\r\n\x80\x81\r\nB7\r\nC3\r\n");
    let stop = AtomicBool::new(false);
    let mut out = Vec::new();
    serial::learn(&config, &mut out, &stop, Some(2)).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[0].starts_with(&format!("# listening on {} at 9600 8N1", pty.path)),
        "{text}"
    );
    assert_eq!(lines[1], r#""A1" = "room-?:next"   # press 1"#);
    assert!(lines[2].starts_with("# garbage 0x8081 "), "{text}");
    assert_eq!(
        lines[3],
        r#""B7" = "room-2:next"   # press 2, already: room-2:next"#
    );
}

#[test]
fn learn_on_a_missing_port_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let config = receiver(&dir.path().join("ttyUSB9"), &[]);
    let e = serial::learn(&config, &mut Vec::new(), &AtomicBool::new(false), None).unwrap_err();
    assert!(e.to_string().contains("ttyUSB9"), "{e}");
}

/// The whole server: a pager code calls the next ticket like the staff console's button, the
/// event log records the pager, and the device list shows the receiver — also when unplugged.
#[tokio::test]
async fn a_pager_code_calls_the_next_ticket_through_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let link: PathBuf = dir.path().join("pager");
    let mut pty = pty();
    plug(&link, &pty);
    let port = link.clone();
    let app = TestApp::spawn_with(move |config| {
        config.serial.reconnect_secs = 1;
        config.serial.receivers = vec![receiver(&port, &[("A1", "room-1:next")])];
    })
    .await;
    let mut events = app.events("").await;
    let status = events.next_device("serial-pager", "ok").await;
    assert_eq!(status["kind"], "serial");
    let ticket = app.issue("general", "normal").await;

    pty.send(b"A1\r\n");
    let event = events.next_event("room_next").await;
    assert_eq!(event["source"], "serial");
    assert_eq!(event["actor"], "serial-pager:A1");
    assert_eq!(event["room"], "room-1");
    assert_eq!(event["called"]["id"], ticket["id"]);
    assert_eq!(app.room("room-1").await["serving"]["id"], ticket["id"]);

    drop(pty);
    let status = events.next_device("serial-pager", "disconnected").await;
    assert_eq!(status["health"], "error");
    let (code, devices) = app.get_json("/api/v1/devices").await;
    assert_eq!(code, 200);
    let listed = devices
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "serial-pager")
        .cloned()
        .unwrap_or_else(|| panic!("no serial-pager in {devices}"));
    assert_eq!(listed["condition"], "disconnected");
}
