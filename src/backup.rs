//! The data that leaves the box: the visits export (CSV) and the nightly backup.
//!
//! * [`export`]: the visits (tickets) of a range of clinic days as CSV — number, service,
//!   class, room, issued, called, finished, outcome; times in the clinic's time zone; never a
//!   patient's name or phone. `waitless export` runs it (offline, or in the server through the
//!   admin socket).
//! * [`Nightly`]: `[backup] folder/time/keep`. A task in the server that, once a day at `time`
//!   (clinic local time), writes `waitless-YYYY-MM-DD.redb` into `folder` with
//!   [`Store::backup_to`] (a read transaction: the queue keeps running), deletes the oldest
//!   such files beyond `keep`, logs the result and keeps it ([`BackupStatus`]) for `/healthz`.
//!   Time is read from the [`Clock`], so tests drive it with a manual clock. A failure (a USB
//!   stick not mounted) is logged and shown, retried after [`RETRY`], and never touches the
//!   queue.
//!
//! What it does not own: how a copy is made and checked (`store::backup`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::domain::{CancelReason, Ticket, TicketState};
use crate::store::{BackupError, Store};

/// A new file in the data folder for a backup or an export the server makes for the command
/// line (which moves it where the operator asked: the hardened service may write only there).
pub fn staging(store: &Store, kind: &str, ext: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    store
        .path()
        .with_file_name(format!("{kind}-{}-{n}.{ext}", std::process::id()))
}

/// The time zone named `name` (empty: the system's).
pub fn time_zone(name: &str) -> Result<TimeZone, BackupError> {
    if name.is_empty() {
        Ok(TimeZone::try_system().unwrap_or(TimeZone::UTC))
    } else {
        TimeZone::get(name).map_err(|_| BackupError::Invalid(format!("unknown time zone {name:?}")))
    }
}

/// Checks an export's range.
pub fn check_range(from: Date, to: Date) -> Result<(), BackupError> {
    if from > to {
        return Err(BackupError::Invalid(format!(
            "--from {from} is after --to {to}"
        )));
    }
    Ok(())
}

/// The visits of clinic days `from..=to` in the running database, as CSV written to `out`;
/// how many. Blocks.
pub fn export(
    store: &Store,
    from: Date,
    to: Date,
    timezone: &str,
    out: &Path,
) -> Result<u64, BackupError> {
    check_range(from, to)?;
    let tz = time_zone(timezone)?;
    let tickets = store.tickets_of_days(from, to)?;
    write_file(&tickets, &tz, out)
}

/// Writes the CSV of `tickets` to the file `out`, durably; how many rows.
pub fn write_file(tickets: &[Ticket], tz: &TimeZone, out: &Path) -> Result<u64, BackupError> {
    let target = |source| BackupError::Target {
        path: out.to_owned(),
        source,
    };
    let file = std::fs::File::create(out).map_err(target)?;
    let mut writer = std::io::BufWriter::new(file);
    let visits = write_visits(tickets, tz, &mut writer).map_err(target)?;
    let file = writer.into_inner().map_err(|e| target(e.into_error()))?;
    file.sync_all().map_err(target)?;
    Ok(visits)
}

/// The CSV's header.
pub const CSV_HEADER: [&str; 9] = [
    "day", "number", "service", "class", "room", "issued", "called", "finished", "outcome",
];

/// What became of a ticket, for the export: its state, `unattended` for one cancelled at the
/// day close.
fn outcome(t: &Ticket) -> &'static str {
    match (t.state, t.cancel_reason) {
        (TicketState::Cancelled, Some(CancelReason::Unattended)) => "unattended",
        (state, _) => state.as_str(),
    }
}

/// Writes a header and one row per ticket; how many rows.
pub fn write_visits(
    tickets: &[Ticket],
    tz: &TimeZone,
    out: impl std::io::Write,
) -> std::io::Result<u64> {
    let local = |at: Option<Timestamp>| {
        at.map(|at| {
            at.to_zoned(tz.clone())
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
    };
    let mut csv = csv::Writer::from_writer(out);
    let io = |e: csv::Error| std::io::Error::other(e.to_string());
    csv.write_record(CSV_HEADER).map_err(io)?;
    let mut rows = 0;
    for t in tickets {
        csv.write_record([
            t.day.to_string().as_str(),
            &t.number,
            t.service.as_str(),
            t.priority.as_str(),
            t.room.as_ref().map_or("", |r| r.as_str()),
            &local(Some(t.created_at)),
            &local(t.called_at),
            &local(t.finished_at),
            outcome(t),
        ])
        .map_err(io)?;
        rows += 1;
    }
    csv.flush()?;
    Ok(rows)
}

/// How often the nightly task looks at the clock.
pub const TICK: Duration = Duration::from_secs(1);
/// After a failed backup, the next try waits this long (clock time).
pub const RETRY: SignedDuration = SignedDuration::from_mins(10);

/// The nightly backup's settings, checked (`Config::backup_schedule`).
#[derive(Clone, Debug)]
pub struct Schedule {
    /// The folder (a USB stick's mount point).
    pub folder: PathBuf,
    /// Local time of day.
    pub at: Time,
    /// How many daily files to keep.
    pub keep: u32,
    /// The clinic's time zone.
    pub tz: TimeZone,
}

/// The last nightly backup, as `/healthz` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LastBackup {
    /// When it ended (RFC 3339).
    pub at: String,
    /// `ok` or `failed`.
    pub result: String,
    /// The file written (or that could not be).
    pub file: String,
    /// Its size, bytes (0 when it failed).
    pub bytes: u64,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the nightly backup did last, shared with `/healthz`.
#[derive(Debug, Default)]
pub struct BackupStatus {
    last: Mutex<Option<LastBackup>>,
}

impl BackupStatus {
    /// The last backup (`None`: none yet since start).
    pub fn last(&self) -> Option<LastBackup> {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, last: LastBackup) {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(last);
    }
}

/// The file of the backup of local date `date`.
pub fn file_name(date: Date) -> String {
    format!("waitless-{date}.redb")
}

/// The date in a nightly file's name (`None`: not one of ours).
fn date_of(name: &str) -> Option<Date> {
    name.strip_prefix("waitless-")?
        .strip_suffix(".redb")?
        .parse()
        .ok()
}

/// Deletes the oldest nightly files in `folder` beyond the newest `keep`; what it deleted.
pub fn prune(folder: &Path, keep: u32) -> std::io::Result<Vec<PathBuf>> {
    let mut found: Vec<(Date, PathBuf)> = std::fs::read_dir(folder)?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let date = date_of(e.file_name().to_str()?)?;
            Some((date, e.path()))
        })
        .collect();
    found.sort();
    let excess = found.len().saturating_sub(keep as usize);
    let mut deleted = Vec::new();
    for (_, path) in found.into_iter().take(excess) {
        std::fs::remove_file(&path)?;
        deleted.push(path);
    }
    Ok(deleted)
}

/// The nightly backup task.
#[derive(Debug)]
pub struct Nightly {
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    schedule: Schedule,
    status: Arc<BackupStatus>,
    /// No try before this (after a failure).
    not_before: Option<Timestamp>,
}

impl Nightly {
    /// A task for `schedule`, reporting to `status`.
    pub fn new(
        store: Arc<Store>,
        clock: Arc<dyn Clock>,
        schedule: Schedule,
        status: Arc<BackupStatus>,
    ) -> Self {
        Self {
            store,
            clock,
            schedule,
            status,
            not_before: None,
        }
    }

    /// The file due now: today's (local date), once its time has come and it is not there
    /// yet. `None`: nothing to do.
    pub fn due(&self, now: Timestamp) -> Option<PathBuf> {
        if self.not_before.is_some_and(|t| now < t) {
            return None;
        }
        let local = now.to_zoned(self.schedule.tz.clone());
        if local.time() < self.schedule.at {
            return None;
        }
        let file = self.schedule.folder.join(file_name(local.date()));
        (!file.exists()).then_some(file)
    }

    /// Makes the backup if one is due; blocks for as long as it takes.
    pub fn tick(&mut self) {
        let now = self.clock.now();
        let Some(file) = self.due(now) else {
            return;
        };
        let result = self
            .store
            .backup_to(&file)
            .map_err(|e| e.to_string())
            .and_then(|report| {
                let deleted = prune(&self.schedule.folder, self.schedule.keep).map_err(|e| {
                    format!(
                        "backup written, but cannot delete old backups in {}: {e}",
                        self.schedule.folder.display()
                    )
                })?;
                Ok((report, deleted))
            });
        let at = self.clock.now();
        let last = match result {
            Ok((report, deleted)) => {
                tracing::info!(
                    deleted = deleted.len(),
                    "nightly backup: {report}; {} old backup(s) deleted",
                    deleted.len()
                );
                self.not_before = None;
                LastBackup {
                    at: at.to_string(),
                    result: "ok".to_owned(),
                    file: report.file.display().to_string(),
                    bytes: report.bytes,
                    error: None,
                }
            }
            Err(error) => {
                tracing::error!(
                    "nightly backup to {} failed: {error} — next try in {} minutes",
                    file.display(),
                    RETRY.as_mins()
                );
                self.not_before = at.checked_add(RETRY).ok();
                LastBackup {
                    at: at.to_string(),
                    result: "failed".to_owned(),
                    file: file.display().to_string(),
                    bytes: 0,
                    error: Some(error),
                }
            }
        };
        self.status.set(last);
    }

    /// Looks at the clock every [`TICK`] and backs up when due, until `stop` resolves.
    pub async fn run(mut self, stop: impl std::future::Future<Output = ()>) {
        tracing::info!(
            "nightly backup at {} into {}, keeping {}",
            self.schedule.at,
            self.schedule.folder.display(),
            self.schedule.keep
        );
        let mut stop = std::pin::pin!(stop);
        let mut ticks = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                () = &mut stop => return,
                _ = ticks.tick() => {}
            }
            let mut task = self;
            match tokio::task::spawn_blocking(move || {
                task.tick();
                task
            })
            .await
            {
                Ok(task) => self = task,
                Err(e) => {
                    tracing::error!("nightly backup task failed: {e}");
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{PriorityClass, RoomId, ServiceId, Source, TicketId};

    fn ticket(id: u64, state: TicketState) -> Ticket {
        let at: Timestamp = "2026-11-21T04:30:00Z".parse().unwrap();
        Ticket {
            id: TicketId(id),
            number: format!("A{id:03}"),
            ordinal: u32::try_from(id).unwrap(),
            service: ServiceId::parse("general").unwrap(),
            priority: PriorityClass::Priority,
            state,
            day: "2026-11-21".parse().unwrap(),
            created_at: at,
            queued_at: at,
            called_at: Some(at + SignedDuration::from_mins(5)),
            finished_at: Some(at + SignedDuration::from_mins(12)),
            room: Some(RoomId::parse("room-1").unwrap()),
            recall_count: 0,
            passed_over: 0,
            requeue_count: 0,
            transferred_from: None,
            transferred_to: None,
            cancel_reason: None,
            source: Source::Kiosk,
            feedback_given: false,
        }
    }

    #[test]
    fn visits_are_written_in_the_clinic_time_zone() {
        let tz = TimeZone::get("Asia/Kolkata").unwrap();
        let mut out = Vec::new();
        let rows = write_visits(&[ticket(1, TicketState::Done)], &tz, &mut out).unwrap();
        assert_eq!(rows, 1);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "day,number,service,class,room,issued,called,finished,outcome\n\
             2026-11-21,A001,general,priority,room-1,2026-11-21 10:00:00,2026-11-21 10:05:00,\
             2026-11-21 10:12:00,done\n"
        );
    }

    #[test]
    fn nightly_is_due_once_a_day_at_local_time_and_retries_after_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            Store::open(
                &dir.path().join("waitless.redb"),
                &crate::store::StoreOptions {
                    fsync: false,
                    cache_bytes: 1 << 20,
                },
            )
            .unwrap(),
        );
        let usb = dir.path().join("usb");
        // 02:29 in Kolkata (UTC+05:30) on 21 November.
        let clock = crate::clock::ManualClock::new("2026-11-20T20:59:00Z".parse().unwrap());
        let status = Arc::new(BackupStatus::default());
        let mut nightly = Nightly::new(
            Arc::clone(&store),
            Arc::new(clock.clone()),
            Schedule {
                folder: usb.clone(),
                at: jiff::civil::time(2, 30, 0, 0),
                keep: 14,
                tz: TimeZone::get("Asia/Kolkata").unwrap(),
            },
            Arc::clone(&status),
        );
        assert_eq!(nightly.due(clock.now()), None);
        clock.advance(SignedDuration::from_mins(1));
        let file = usb.join("waitless-2026-11-21.redb");
        assert_eq!(nightly.due(clock.now()), Some(file.clone()));
        // The stick is not there: failed, shown, tried again only after RETRY.
        nightly.tick();
        let last = status.last().unwrap();
        assert_eq!(last.result, "failed");
        assert!(last.error.unwrap().contains("USB stick"));
        clock.advance(RETRY - SignedDuration::from_secs(1));
        assert_eq!(nightly.due(clock.now()), None);
        clock.advance(SignedDuration::from_secs(1));
        std::fs::create_dir(&usb).unwrap();
        nightly.tick();
        assert_eq!(status.last().unwrap().result, "ok");
        assert!(file.exists());
        // Done for the day; the next day's is due at its time.
        clock.advance(SignedDuration::from_hours(12));
        assert_eq!(nightly.due(clock.now()), None);
        clock.advance(SignedDuration::from_hours(12));
        assert_eq!(
            nightly.due(clock.now()),
            Some(usb.join("waitless-2026-11-22.redb"))
        );
    }

    #[test]
    fn a_reversed_range_and_an_unknown_zone_are_refused() {
        let err = check_range("2026-11-22".parse().unwrap(), "2026-11-21".parse().unwrap());
        assert!(err.unwrap_err().to_string().contains("is after"));
        assert!(time_zone("Mars/Olympus").is_err());
    }

    #[test]
    fn prune_keeps_the_newest_and_touches_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        for day in 1..=5 {
            std::fs::write(
                dir.path().join(format!("waitless-2026-11-0{day}.redb")),
                b"x",
            )
            .unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        std::fs::write(dir.path().join("waitless-manual.redb"), b"x").unwrap();
        let deleted = prune(dir.path(), 2).unwrap();
        assert_eq!(deleted.len(), 3);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "notes.txt",
                "waitless-2026-11-04.redb",
                "waitless-2026-11-05.redb",
                "waitless-manual.redb"
            ]
        );
    }
}
