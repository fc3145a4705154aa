//! Metrics for the operator's monitoring, in the Prometheus text format (`GET /metrics`, off by
//! default: `[metrics] enabled`, optionally behind `[metrics] token`).
//!
//! Owns the registry and two kinds of metric:
//! - counters and histograms fed by the committed events ([`follow`] tails the hub from start):
//!   tickets issued, calls, recalls, served, no-shows, the wait (queued → called) and service
//!   time (called → done) in seconds. They count since this process started, as Prometheus
//!   expects of counters;
//! - gauges read when scraped ([`Metrics::render`]): tickets waiting per service, WebSocket
//!   clients (counted by [`ClientGuard`]), each device's health, the outbox's notifications by
//!   channel and state, the database file's size and the last event's sequence number.
//!
//! Nothing here changes the queue; a scrape only reads the hub's published state.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::devices::DeviceStatus;
use crate::domain::{Event, EventKind, QueueState, Ticket, TicketState};
use crate::hub::Hub;

/// Labels of a metric: name–value pairs.
type Labels = Vec<(&'static str, String)>;

/// Bucket bounds of the wait histogram, seconds: 1 minute to 2 hours.
const WAIT_BUCKETS: [f64; 10] = [
    60.0, 300.0, 600.0, 900.0, 1200.0, 1800.0, 2700.0, 3600.0, 5400.0, 7200.0,
];
/// Bucket bounds of the service-time histogram, seconds: 1 to 60 minutes.
const SERVICE_BUCKETS: [f64; 9] = [
    60.0, 120.0, 180.0, 300.0, 480.0, 600.0, 900.0, 1800.0, 3600.0,
];
/// Bucket bounds of the commit-time histogram, seconds: 0.5 ms (no fsync) to 1 s (an SD card
/// having a bad moment).
const COMMIT_BUCKETS: [f64; 11] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0,
];
/// Bucket bounds of the events-per-commit histogram.
const COMMIT_EVENT_BUCKETS: [f64; 7] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];

/// Every metric.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    issued: Counter,
    calls: Counter,
    recalls: Counter,
    served: Counter,
    no_shows: Counter,
    wait: Histogram,
    service: Histogram,
    waiting: Family<Labels, Gauge>,
    clients: Gauge,
    devices: Family<Labels, Gauge>,
    store_bytes: Gauge,
    seq: Gauge,
    notifications: Family<Labels, Gauge>,
    central_lag_events: Family<Labels, Gauge>,
    central_lag_seconds: Family<Labels, Gauge>,
    central_connected: Family<Labels, Gauge>,
    commit: Histogram,
    commit_events: Histogram,
    client_count: Arc<AtomicI64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric, at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("waitless");
        let metrics = Self {
            registry: Registry::default(),
            issued: Counter::default(),
            calls: Counter::default(),
            recalls: Counter::default(),
            served: Counter::default(),
            no_shows: Counter::default(),
            wait: Histogram::new(WAIT_BUCKETS),
            service: Histogram::new(SERVICE_BUCKETS),
            waiting: Family::default(),
            clients: Gauge::default(),
            devices: Family::default(),
            store_bytes: Gauge::default(),
            seq: Gauge::default(),
            notifications: Family::default(),
            central_lag_events: Family::default(),
            central_lag_seconds: Family::default(),
            central_connected: Family::default(),
            commit: Histogram::new(COMMIT_BUCKETS),
            commit_events: Histogram::new(COMMIT_EVENT_BUCKETS),
            client_count: Arc::new(AtomicI64::new(0)),
        };
        registry.register(
            "tickets_issued",
            "Tickets issued since start",
            metrics.issued.clone(),
        );
        registry.register(
            "calls",
            "Patients called to a room since start (not counting recalls)",
            metrics.calls.clone(),
        );
        registry.register(
            "recalls",
            "Patients called again since start",
            metrics.recalls.clone(),
        );
        registry.register("served", "Visits done since start", metrics.served.clone());
        registry.register(
            "no_shows",
            "Called patients who did not come, since start",
            metrics.no_shows.clone(),
        );
        registry.register(
            "wait_seconds",
            "Time from joining the queue to being called",
            metrics.wait.clone(),
        );
        registry.register(
            "service_seconds",
            "Time from the call to done",
            metrics.service.clone(),
        );
        registry.register(
            "waiting",
            "Tickets waiting now, by service",
            metrics.waiting.clone(),
        );
        registry.register(
            "websocket_clients",
            "Screens and browsers connected to the event stream now",
            metrics.clients.clone(),
        );
        registry.register(
            "device_health",
            "1 for each device's current health (ok, warning, error, unknown, unavailable)",
            metrics.devices.clone(),
        );
        registry.register(
            "central_lag_events",
            "Events not yet acknowledged by the central database, by site (docs/multi-site.md)",
            metrics.central_lag_events.clone(),
        );
        registry.register(
            "central_lag_seconds",
            "Age of the oldest event the central database has not acknowledged, by site",
            metrics.central_lag_seconds.clone(),
        );
        registry.register(
            "central_connected",
            "1 while connected to the central database, by site",
            metrics.central_connected.clone(),
        );
        registry.register(
            "store_bytes",
            "Size of the database file",
            metrics.store_bytes.clone(),
        );
        registry.register(
            "notifications",
            "Notifications in the outbox, by channel (sms, email) and state (queued, sent, failed)",
            metrics.notifications.clone(),
        );
        registry.register(
            "commit_seconds",
            "Time of each durable commit of the engine (its events, their rows and the fsync)",
            metrics.commit.clone(),
        );
        registry.register(
            "commit_events",
            "Events in each commit (commands that arrive together share one)",
            metrics.commit_events.clone(),
        );
        registry.register(
            "event_seq",
            "Sequence number of the last committed event",
            metrics.seq.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    /// What the engine tells after each commit (see [`crate::engine::EngineParts::on_commit`]).
    pub fn commit_observer(&self) -> crate::engine::CommitObserver {
        let (commit, events) = (self.commit.clone(), self.commit_events.clone());
        Arc::new(move |took, count| {
            commit.observe(took.as_secs_f64());
            events.observe(count as f64);
        })
    }

    /// Counts one committed event.
    pub fn observe(&self, event: &Event) {
        let called = |ticket: &Ticket| {
            self.calls.inc();
            if let Some(at) = ticket.called_at {
                self.wait
                    .observe(at.duration_since(ticket.queued_at).as_secs_f64().max(0.0));
            }
        };
        let finished = |ticket: &Ticket| match ticket.state {
            TicketState::Done => {
                self.served.inc();
                if let (Some(called), Some(done)) = (ticket.called_at, ticket.finished_at) {
                    self.service
                        .observe(done.duration_since(called).as_secs_f64().max(0.0));
                }
            }
            TicketState::NoShow => {
                self.no_shows.inc();
            }
            _ => {}
        };
        match &event.kind {
            EventKind::TicketIssued { .. } => {
                self.issued.inc();
            }
            EventKind::RoomNext {
                called: c,
                finished: f,
                ..
            } => {
                f.iter().for_each(finished);
                c.iter().for_each(called);
            }
            EventKind::TicketRecalled { .. } => {
                self.recalls.inc();
            }
            EventKind::TicketDone { ticket, .. } | EventKind::TicketNoShow { ticket, .. } => {
                finished(ticket);
            }
            EventKind::DayClosed { closed, .. } => closed.iter().for_each(finished),
            _ => {}
        }
    }

    /// A WebSocket client connected: counted until the guard drops.
    pub fn client(&self) -> ClientGuard {
        self.client_count.fetch_add(1, Ordering::Relaxed);
        ClientGuard(Arc::clone(&self.client_count))
    }

    /// The metrics in the Prometheus text format, with the gauges read from `state` and
    /// `scrape`.
    pub fn render(
        &self,
        state: &QueueState,
        seq: u64,
        scrape: &Scrape,
    ) -> Result<String, std::fmt::Error> {
        let Scrape {
            devices,
            store_bytes,
            notifications,
        } = scrape;
        self.waiting.clear();
        for service in state.services.keys() {
            let count = state.index().waiting_count(service);
            self.waiting
                .get_or_create(&vec![("service", service.to_string())])
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
        self.clients
            .set(self.client_count.load(Ordering::Relaxed).max(0));
        self.devices.clear();
        for device in devices {
            let word = |v: serde_json::Value| v.as_str().unwrap_or_default().to_owned();
            self.devices
                .get_or_create(&vec![
                    ("device", device.id.clone()),
                    (
                        "kind",
                        word(serde_json::to_value(device.kind).unwrap_or_default()),
                    ),
                    (
                        "health",
                        word(serde_json::to_value(device.health).unwrap_or_default()),
                    ),
                    ("condition", device.condition.clone()),
                ])
                .set(1);
        }
        for central in devices.iter().filter_map(|d| d.central.as_ref()) {
            let site = vec![("site", central.site.clone())];
            let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
            self.central_lag_events
                .get_or_create(&site)
                .set(gauge(central.lag_events));
            self.central_lag_seconds
                .get_or_create(&site)
                .set(gauge(central.lag_secs));
            self.central_connected
                .get_or_create(&site)
                .set(i64::from(central.connected));
        }
        self.store_bytes
            .set(i64::try_from(*store_bytes).unwrap_or(i64::MAX));
        self.notifications.clear();
        for (channel, state, count) in notifications {
            self.notifications
                .get_or_create(&vec![
                    ("channel", channel.clone()),
                    ("state", state.clone()),
                ])
                .set(i64::try_from(*count).unwrap_or(i64::MAX));
        }
        self.seq.set(i64::try_from(seq).unwrap_or(i64::MAX));
        let mut out = String::new();
        encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// What a scrape reads besides the queue.
#[derive(Debug, Default)]
pub struct Scrape {
    /// Every device's status.
    pub devices: Vec<DeviceStatus>,
    /// The database file's size.
    pub store_bytes: u64,
    /// Outbox rows by (channel, state): how many.
    pub notifications: Vec<(String, String, u64)>,
}

/// Counts a WebSocket client while it lives.
#[derive(Debug)]
pub struct ClientGuard(Arc<AtomicI64>);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Feeds every committed event to `metrics` until the hub closes.
pub async fn follow(hub: Arc<Hub>, metrics: Arc<Metrics>) {
    let mut events = hub.tail();
    while let Some(event) = events.next().await {
        metrics.observe(&event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{PriorityClass, RoomId, ServiceId, Source, TicketId};

    fn ticket(state: TicketState) -> Ticket {
        let at: jiff::Timestamp = "2026-03-02T10:00:00Z".parse().unwrap();
        Ticket {
            id: TicketId(1),
            number: "A001".into(),
            ordinal: 1,
            service: ServiceId::parse("general").unwrap(),
            priority: PriorityClass::Normal,
            state,
            day: jiff::civil::date(2026, 3, 2),
            created_at: at,
            queued_at: at,
            called_at: Some(at + jiff::SignedDuration::from_mins(12)),
            finished_at: Some(at + jiff::SignedDuration::from_mins(20)),
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

    fn event(kind: EventKind) -> Event {
        Event {
            seq: 1,
            at: "2026-03-02T10:20:00Z".parse().unwrap(),
            source: Source::Staff,
            actor: "test".into(),
            address: None,
            kind,
        }
    }

    #[test]
    fn the_central_shippers_lag_is_a_gauge_per_site() {
        let metrics = Metrics::new();
        let mut device = DeviceStatus::new(
            "central",
            crate::devices::DeviceKind::Central,
            "central database",
            crate::devices::Health::Warning,
            "offline",
            "",
        );
        device.central = Some(crate::central::CentralStatus {
            site: "north".to_owned(),
            target: "db:5432/chain as waitless".to_owned(),
            connected: false,
            acked_seq: 90,
            last_seq: 100,
            lag_events: 10,
            lag_secs: 42,
            last_error: Some("refused".to_owned()),
        });
        let text = metrics
            .render(
                &QueueState::new(jiff::civil::date(2026, 3, 2)),
                100,
                &Scrape {
                    devices: vec![device],
                    ..Scrape::default()
                },
            )
            .unwrap();
        for line in [
            "waitless_central_lag_events{site=\"north\"} 10",
            "waitless_central_lag_seconds{site=\"north\"} 42",
            "waitless_central_connected{site=\"north\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }

    #[test]
    fn events_feed_the_counters_and_histograms() {
        let metrics = Metrics::new();
        metrics.observe(&event(EventKind::RoomNext {
            room: RoomId::parse("room-1").unwrap(),
            called: Some(ticket(TicketState::Called)),
            finished: Some(ticket(TicketState::Done)),
            reason: None,
            passed_over: vec![],
        }));
        metrics.observe(&event(EventKind::TicketNoShow {
            room: RoomId::parse("room-1").unwrap(),
            ticket: ticket(TicketState::NoShow),
        }));
        let guard = metrics.client();
        let text = metrics
            .render(
                &QueueState::new(jiff::civil::date(2026, 3, 2)),
                7,
                &Scrape {
                    store_bytes: 4096,
                    notifications: vec![("sms".into(), "sent".into(), 3)],
                    ..Scrape::default()
                },
            )
            .unwrap();
        drop(guard);
        for line in [
            "waitless_calls_total 1",
            "waitless_served_total 1",
            "waitless_no_shows_total 1",
            "waitless_wait_seconds_count 1",
            "waitless_wait_seconds_sum 720.0",
            "waitless_wait_seconds_bucket{le=\"900.0\"} 1",
            "waitless_wait_seconds_bucket{le=\"600.0\"} 0",
            "waitless_service_seconds_sum 480.0",
            "waitless_websocket_clients 1",
            "waitless_store_bytes 4096",
            "waitless_event_seq 7",
            "waitless_notifications{channel=\"sms\",state=\"sent\"} 3",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }
}
