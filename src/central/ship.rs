//! The shipper: one task that sends the local event log to the central database.
//!
//! It reads the events after the last acknowledged seq (the store's `central_acked` row),
//! sends up to `central.batch` of them in one central transaction (`INSERT … ON CONFLICT
//! (site, seq) DO NOTHING`, the site's row updated in the same transaction), and records the
//! new acknowledged seq locally only after that commit. A crash between the two sends the
//! batch again, which the central key absorbs: at least once, stored exactly once. The backlog
//! is the event log itself, so it survives restarts and days offline.
//!
//! After a failure it waits (`retry_secs`, doubling to `retry_max_secs`, each pause drawn at
//! random between half and all of it, so many sites coming back at once do not stampede), then
//! connects again. New events wake it; otherwise it looks every second. Its state is
//! [`CentralStatus`], reported to the device board as device `central` (`/api/v1/devices`).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use utoipa::ToSchema;

use super::{CentralError, connect, describe, parse_url, schema, timed};
use crate::clock::Clock;
use crate::config::CentralConfig;
use crate::devices::{DeviceBoard, DeviceKind, DeviceStatus, Health};
use crate::domain::Timestamp;
use crate::hub::Hub;
use crate::store::{ShipRow, Store};

/// The device id of the shipper's status.
pub const DEVICE_ID: &str = "central";

/// Longest a central request may take before the link counts as dead, seconds.
const REQUEST_SECS: u64 = 60;

/// How often an idle shipper looks for events no wake-up announced, and at a dead link.
const IDLE_LOOK: Duration = Duration::from_secs(1);

/// The device board (and every WebSocket client) hears of new lag figures at most this often;
/// a change of condition goes at once. The idle look reports the settled figures.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// How the shipping goes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CentralStatus {
    /// This site's id.
    pub site: String,
    /// Where it ships, without the password: `HOST:PORT/DATABASE as USER`.
    pub target: String,
    /// Connected to the central database.
    pub connected: bool,
    /// The last seq the central database acknowledged.
    pub acked_seq: u64,
    /// The last seq in the local log.
    pub last_seq: u64,
    /// Events not yet acknowledged.
    pub lag_events: u64,
    /// How old the oldest unacknowledged event is, seconds (0: none waiting).
    pub lag_secs: u64,
    /// The last failure, until the next success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// The running shipper.
#[derive(Debug)]
pub struct Shipper {
    status: Arc<Mutex<CentralStatus>>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// What the task needs.
struct Parts {
    config: CentralConfig,
    pg: tokio_postgres::Config,
    store: Arc<Store>,
    hub: Arc<Hub>,
    clock: Arc<dyn Clock>,
    devices: Arc<DeviceBoard>,
    status: Arc<Mutex<CentralStatus>>,
    /// When the board last heard, and the condition it heard.
    reported: Mutex<Option<(std::time::Instant, &'static str)>>,
}

impl Shipper {
    /// Starts shipping (`None`: `central.url` is empty, shipping is off). Must run inside a
    /// tokio runtime.
    pub fn start(
        config: &CentralConfig,
        store: Arc<Store>,
        hub: Arc<Hub>,
        clock: Arc<dyn Clock>,
        devices: Arc<DeviceBoard>,
    ) -> Result<Option<Self>, CentralError> {
        if config.url.is_empty() {
            return Ok(None);
        }
        let pg = parse_url(&config.url)?;
        // A bad CA file is a configuration error: said at start, not at every try.
        super::tls(&config.ca_file)?;
        let acked = store.central_acked(&config.site)?;
        let last = store.last_event_seq()?;
        let status = Arc::new(Mutex::new(CentralStatus {
            site: config.site.clone(),
            target: describe(&pg),
            connected: false,
            acked_seq: acked,
            last_seq: last,
            lag_events: last.saturating_sub(acked),
            lag_secs: 0,
            last_error: None,
        }));
        tracing::info!(
            site = %config.site,
            "shipping the event log to the central database {} from seq {}",
            describe(&pg),
            acked + 1
        );
        let (stop, stopped) = watch::channel(false);
        let parts = Parts {
            config: config.clone(),
            pg,
            store,
            hub,
            clock,
            devices,
            status: Arc::clone(&status),
            reported: Mutex::new(None),
        };
        parts.report();
        let task = tokio::spawn(parts.run(stopped));
        Ok(Some(Self { status, stop, task }))
    }

    /// How the shipping goes.
    pub fn status(&self) -> CentralStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stops the task (a batch under way is abandoned: it is sent again after the next start,
    /// which the central key absorbs).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let mut task = self.task;
        if tokio::time::timeout(Duration::from_secs(5), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

/// Pauses between tries: doubling, capped, with jitter.
struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    fn new(first_secs: u64, max_secs: u64) -> Self {
        let first = Duration::from_secs(first_secs.max(1));
        Self {
            first,
            max: Duration::from_secs(max_secs).max(first),
            next: first,
        }
    }

    /// The next pause: between half and all of the current step, which then doubles.
    fn pause(&mut self) -> Duration {
        let step = self.next;
        self.next = (self.next * 2).min(self.max);
        let fraction = f64::from(getrandom::u32().unwrap_or(u32::MAX)) / f64::from(u32::MAX);
        step.mul_f64(0.5 + fraction / 2.0)
    }

    fn reset(&mut self) {
        self.next = self.first;
    }
}

/// Runs blocking store work off the async thread.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, CentralError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| CentralError::Task(e.to_string()))?
        .map_err(CentralError::from)
}

/// The time of an event from its stored JSON.
fn event_at(body: &[u8]) -> Option<Timestamp> {
    #[derive(Deserialize)]
    struct At {
        at: Timestamp,
    }
    serde_json::from_slice::<At>(body).ok().map(|a| a.at)
}

/// Sends `rows` in one central transaction; returns once it committed.
async fn send(
    client: &mut tokio_postgres::Client,
    site: &str,
    rows: &[ShipRow],
) -> Result<(), CentralError> {
    let Some(last) = rows.last() else {
        return Ok(());
    };
    let seqs: Vec<i64> = rows
        .iter()
        .map(|r| i64::try_from(r.seq).unwrap_or(i64::MAX))
        .collect();
    let bodies: Vec<String> = rows
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    let prev: Vec<&[u8]> = rows.iter().map(|r| r.prev_hash.as_slice()).collect();
    let hashes: Vec<&[u8]> = rows.iter().map(|r| r.hash.as_slice()).collect();
    let last_seq = i64::try_from(last.seq).unwrap_or(i64::MAX);
    let txn = client.transaction().await?;
    txn.execute(
        "INSERT INTO waitless.sites (site, version, last_seq) VALUES ($1, $2, $3)
         ON CONFLICT (site) DO UPDATE SET last_seen = now(), version = excluded.version,
             last_seq = greatest(waitless.sites.last_seq, excluded.last_seq)",
        &[&site, &env!("CARGO_PKG_VERSION"), &last_seq],
    )
    .await?;
    txn.execute(
        "INSERT INTO waitless.events (site, seq, at, kind, body, prev_hash, hash)
         SELECT $1, u.seq, (u.body::jsonb ->> 'at')::timestamptz, u.body::jsonb ->> 'kind',
                u.body, u.prev_hash, u.hash
         FROM unnest($2::bigint[], $3::text[], $4::bytea[], $5::bytea[])
             AS u(seq, body, prev_hash, hash)
         ON CONFLICT (site, seq) DO NOTHING",
        &[&site, &seqs, &bodies, &prev, &hashes],
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

impl Parts {
    fn update(&self, change: impl FnOnce(&mut CentralStatus)) {
        {
            let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
            change(&mut status);
        }
        self.report();
    }

    /// Puts the status on the device board.
    fn report(&self) {
        let status = self
            .status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let (health, condition, detail) = match (&status.last_error, status.connected) {
            (Some(e), _) => (Health::Error, "offline", e.clone()),
            (None, false) => (Health::Unknown, "connecting", "connecting".to_owned()),
            (None, true) if status.lag_events > self.config.batch as u64 => (
                Health::Warning,
                "catching-up",
                "sending the backlog".to_owned(),
            ),
            (None, true) => (Health::Ok, "ok", "connected".to_owned()),
        };
        {
            let mut reported = self.reported.lock().unwrap_or_else(PoisonError::into_inner);
            let now = std::time::Instant::now();
            if let Some((at, was)) = *reported
                && was == condition
                && now.duration_since(at) < REPORT_EVERY
            {
                return;
            }
            *reported = Some((now, condition));
        }
        let mut device = DeviceStatus::new(
            DEVICE_ID,
            DeviceKind::Central,
            format!("central database {} (site {})", status.target, status.site),
            health,
            condition,
            detail,
        );
        device.central = Some(status);
        self.devices.report(device);
    }

    /// Reads the local log's end and the age of the oldest unacknowledged event.
    async fn refresh_lag(&self, acked: u64) -> Result<(), CentralError> {
        let store = Arc::clone(&self.store);
        let (last, next) =
            blocking(move || Ok((store.last_event_seq()?, store.ship_rows_after(acked, 1)?)))
                .await?;
        let now = self.clock.now();
        let lag_secs = next
            .first()
            .and_then(|r| event_at(&r.body))
            .map_or(0, |at| {
                u64::try_from(now.duration_since(at).as_secs()).unwrap_or(0)
            });
        self.update(|s| {
            s.acked_seq = acked;
            s.last_seq = last;
            s.lag_events = last.saturating_sub(acked);
            s.lag_secs = lag_secs;
        });
        Ok(())
    }

    async fn run(self, mut stopped: watch::Receiver<bool>) {
        let mut backoff = Backoff::new(self.config.retry_secs, self.config.retry_max_secs);
        let mut tail = self.hub.tail();
        let mut acked = self
            .status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .acked_seq;
        loop {
            let outcome = tokio::select! {
                outcome = self.session(&mut acked, &mut tail, &mut backoff) => outcome,
                _ = stopped.changed() => return,
            };
            let Err(e) = outcome else {
                return; // the hub closed: the server stops
            };
            let message = e.to_string();
            let was = self
                .status
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .last_error
                .clone();
            if was.as_deref() != Some(message.as_str()) {
                tracing::warn!(site = %self.config.site, "central shipping: {message}");
            }
            self.update(|s| {
                s.connected = false;
                s.last_error = Some(message);
            });
            if let Err(e) = self.refresh_lag(acked).await {
                tracing::debug!("central shipping: cannot read the lag: {e}");
            }
            let pause = backoff.pause();
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = stopped.changed() => return,
            }
        }
    }

    /// Connects and ships until the link fails (`Err`) or the hub closes (`Ok`).
    async fn session(
        &self,
        acked: &mut u64,
        tail: &mut crate::hub::EventTail,
        backoff: &mut Backoff,
    ) -> Result<(), CentralError> {
        let mut client = timed(REQUEST_SECS, connect(&self.pg, &self.config.ca_file)).await?;
        timed(REQUEST_SECS, schema::check(&client)).await?;
        let site = self.config.site.clone();
        self.update(|s| {
            s.connected = true;
            s.last_error = None;
        });
        tracing::info!(site = %site, "connected to the central database");
        backoff.reset();
        loop {
            let from = *acked;
            let limit = self.config.batch;
            let store = Arc::clone(&self.store);
            let rows = blocking(move || store.ship_rows_after(from, limit)).await?;
            let Some(last) = rows.last().map(|r| r.seq) else {
                self.refresh_lag(*acked).await?;
                tokio::select! {
                    event = tail.next() => if event.is_none() { return Ok(()) },
                    () = tokio::time::sleep(IDLE_LOOK) => {}
                }
                if client.is_closed() {
                    return Err(CentralError::Closed);
                }
                continue;
            };
            self.refresh_lag(*acked).await?;
            timed(REQUEST_SECS, send(&mut client, &site, &rows)).await?;
            let store = Arc::clone(&self.store);
            let site_id = site.clone();
            blocking(move || store.set_central_acked(&site_id, last)).await?;
            *acked = last;
            self.update(|s| {
                s.acked_seq = last;
                s.lag_events = s.last_seq.saturating_sub(last);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_cap_with_jitter() {
        let mut b = Backoff::new(2, 10);
        let pauses: Vec<Duration> = (0..6).map(|_| b.pause()).collect();
        let steps = [2, 4, 8, 10, 10, 10];
        for (pause, step) in pauses.iter().zip(steps) {
            let step = Duration::from_secs(step);
            assert!(
                *pause >= step / 2 && *pause <= step,
                "{pause:?} for {step:?}"
            );
        }
        b.reset();
        assert!(b.pause() <= Duration::from_secs(2));
    }
}
