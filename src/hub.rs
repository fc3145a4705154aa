//! The hub: the published, committed state of the queue and the fan-out of its events.
//!
//! The engine calls [`Hub::publish`] after each commit; the hub applies the events to its copy
//! of the state, keeps the most recent ones for replay, and broadcasts them. Readers (HTTP
//! handlers, WebSocket clients) never wait for the writer's disk: they read this copy.
//!
//! Consistency: state, sequence number, replay buffer and broadcast change together under one
//! lock, so a subscriber gets a snapshot (or replay) and then exactly the events after it, with
//! no gap and no duplicate. A subscriber that falls more than the broadcast capacity behind is
//! told so (`Lagged`) and starts again from a fresh snapshot.

use std::collections::VecDeque;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use tokio::sync::{broadcast, watch};

use crate::domain::{Event, EventKind, Policy, QueueState};

mod public;

pub use public::{PublicEvent, PublicKind};

/// Events kept in memory for clients that reconnect with `since`.
pub const REPLAY_CAPACITY: usize = 1024;
/// Events a slow subscriber may fall behind before it gets a fresh snapshot.
pub const BROADCAST_CAPACITY: usize = 1024;

/// A committed event with its JSON, encoded once for every subscriber.
#[derive(Debug)]
pub struct SharedEvent {
    event: Event,
    json: Box<str>,
}

impl SharedEvent {
    /// Wraps an event, encoding it for the public stream: its [`PublicEvent`] view, without
    /// what is private.
    pub fn new(event: Event) -> Self {
        let json = serde_json::to_string(&PublicEvent::of(&event))
            .unwrap_or_else(|e| {
                tracing::error!(seq = event.seq, "cannot encode an event: {e}");
                "null".to_owned()
            })
            .into_boxed_str();
        Self { event, json }
    }

    /// The event as JSON.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The copy the replay buffer keeps: the same, except that a day close forgets the
    /// tickets it closed (tens of thousands on a hospital's day, which nothing replayed needs:
    /// its public form counts them, and the state already archived them).
    fn for_replay(self: &Arc<Self>) -> Arc<Self> {
        match &self.event.kind {
            EventKind::DayClosed { day, new_day, .. } => {
                let event = Event {
                    seq: self.event.seq,
                    at: self.event.at,
                    source: self.event.source,
                    actor: self.event.actor.clone(),
                    address: self.event.address.clone(),
                    kind: EventKind::DayClosed {
                        day: *day,
                        new_day: *new_day,
                        closed: Vec::new(),
                    },
                };
                Arc::new(Self {
                    event,
                    json: self.json.clone(),
                })
            }
            _ => Arc::clone(self),
        }
    }
}

impl std::ops::Deref for SharedEvent {
    type Target = Event;
    fn deref(&self) -> &Event {
        &self.event
    }
}

/// The committed state as subscribers see it.
#[derive(Debug)]
pub struct Published {
    /// The queue.
    pub state: QueueState,
    /// Doctors' plans and the bookings (for views; the engine decides on its own copy).
    pub appointments: crate::domain::appointments::Appointments,
    /// Sequence number of the last event applied.
    pub seq: u64,
    recent: VecDeque<Arc<SharedEvent>>,
}

/// How a subscription starts.
#[derive(Debug)]
pub enum Start<S> {
    /// A snapshot built from the state at `seq`.
    Snapshot(S),
    /// The events the client missed since the `since` it gave (possibly none).
    Replay(Vec<Arc<SharedEvent>>),
}

/// A subscription: where to start, then the live events.
#[derive(Debug)]
pub struct Subscription<S> {
    /// Where to start.
    pub start: Start<S>,
    /// The live events after that.
    pub feed: Feed,
}

/// The live events of a subscription.
#[derive(Debug)]
pub struct Feed {
    events: broadcast::Receiver<Arc<SharedEvent>>,
}

/// What a [`Feed`] gives next.
#[derive(Debug)]
pub enum FeedItem<S> {
    /// The next event.
    Event(Arc<SharedEvent>),
    /// The subscriber fell too far behind: start again from this snapshot (events after it
    /// follow).
    Snapshot(S),
    /// The hub is gone.
    Closed,
}

impl Feed {
    /// Waits for the next event. A subscriber more than [`BROADCAST_CAPACITY`] events behind
    /// gets a fresh snapshot built by `snapshot` instead, then the events after it.
    pub async fn next<S>(
        &mut self,
        hub: &Hub,
        snapshot: impl FnOnce(&Published) -> S,
    ) -> FeedItem<S> {
        match self.events.recv().await {
            Ok(event) => FeedItem::Event(event),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::debug!(missed, "a subscriber fell behind: sending a fresh snapshot");
                let published = hub.read();
                self.events = hub.sender.subscribe();
                FeedItem::Snapshot(snapshot(&published))
            }
            Err(broadcast::error::RecvError::Closed) => FeedItem::Closed,
        }
    }
}

/// The committed events from now on, for tasks that only react to events (the announcer, the
/// room LEDs): no snapshots; events missed by falling behind are skipped.
#[derive(Debug)]
pub struct EventTail {
    hub: Arc<Hub>,
    feed: Feed,
    closing: watch::Receiver<bool>,
}

impl EventTail {
    /// The next event; `None` once the hub closes.
    pub async fn next(&mut self) -> Option<Arc<SharedEvent>> {
        loop {
            let item = tokio::select! {
                item = self.feed.next(&self.hub, |_| ()) => item,
                _ = self.closing.changed() => return None,
            };
            match item {
                FeedItem::Event(event) => return Some(event),
                FeedItem::Snapshot(()) => {}
                FeedItem::Closed => return None,
            }
        }
    }
}

/// The event hub.
#[derive(Debug)]
pub struct Hub {
    published: RwLock<Published>,
    sender: broadcast::Sender<Arc<SharedEvent>>,
    policy: Policy,
    closing: watch::Sender<bool>,
}

impl Hub {
    /// The events from now on (see [`EventTail`]).
    pub fn tail(self: &Arc<Self>) -> EventTail {
        EventTail {
            hub: Arc::clone(self),
            feed: self.subscribe(None, |_| ()).feed,
            closing: self.closing(),
        }
    }

    /// A hub starting at `state` after event `seq`, with `recent` events for replay.
    pub fn new(mut state: QueueState, seq: u64, recent: Vec<Event>, policy: Policy) -> Self {
        state.set_head_start(policy.priority_head_start);
        let (sender, _) = broadcast::channel(BROADCAST_CAPACITY);
        let mut buffer = VecDeque::with_capacity(REPLAY_CAPACITY);
        buffer.extend(
            recent
                .into_iter()
                .map(|e| Arc::new(SharedEvent::new(e)).for_replay()),
        );
        while buffer.len() > REPLAY_CAPACITY {
            buffer.pop_front();
        }
        Self {
            published: RwLock::new(Published {
                state,
                appointments: Default::default(),
                seq,
                recent: buffer,
            }),
            sender,
            policy,
            closing: watch::channel(false).0,
        }
    }

    /// Sets the appointments as loaded at start (before the engine runs).
    pub fn load_appointments(&self, appointments: crate::domain::appointments::Appointments) {
        self.published
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .appointments = appointments;
    }

    /// The queue's rules (for views: positions, estimates, previews).
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Applies committed events and broadcasts them. Called by the engine only.
    pub fn publish(&self, events: Vec<Event>) {
        let mut published = self
            .published
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for event in events {
            published.state.apply(&event);
            published.appointments.apply_event(&event);
            published.seq = event.seq;
            let event = Arc::new(SharedEvent::new(event));
            if published.recent.len() == REPLAY_CAPACITY {
                published.recent.pop_front();
            }
            published.recent.push_back(event.for_replay());
            // No receivers is fine: nobody is watching.
            let _ = self.sender.send(event);
        }
    }

    /// Reads the committed state.
    pub fn read(&self) -> RwLockReadGuard<'_, Published> {
        self.published
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Subscribes. With `since` = the last sequence a client saw, it gets the events after it
    /// if they are still in memory, else a snapshot built by `snapshot`.
    pub fn subscribe<S>(
        &self,
        since: Option<u64>,
        snapshot: impl FnOnce(&Published) -> S,
    ) -> Subscription<S> {
        let published = self.read();
        let events = self.sender.subscribe();
        let start = match since.and_then(|since| published.replay_after(since)) {
            Some(missed) => Start::Replay(missed),
            None => Start::Snapshot(snapshot(&published)),
        };
        Subscription {
            start,
            feed: Feed { events },
        }
    }

    /// Tells every subscriber to finish (shutdown).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves when the hub is closing.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }
}

impl Published {
    /// The events after `since`, or `None` when they are no longer all in memory (or `since`
    /// is in the future, e.g. from before a restore).
    fn replay_after(&self, since: u64) -> Option<Vec<Arc<SharedEvent>>> {
        if since > self.seq {
            return None;
        }
        if since == self.seq {
            return Some(Vec::new());
        }
        let first = self.recent.front()?.seq;
        if since + 1 < first {
            return None;
        }
        Some(
            self.recent
                .iter()
                .filter(|e| e.seq > since)
                .cloned()
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Origin, RoomId, Source, StaffChange};

    #[test]
    fn the_public_stream_names_staff_only_as_staff_and_hides_addresses_and_staff_changes() {
        let at = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let by_user =
            Origin::new(Source::Staff, "user:anita").from_address(Some("10.0.0.7".into()));
        let opened = QueueState::event(
            7,
            at,
            &by_user,
            EventKind::RoomOpened {
                room: RoomId::parse("room-1").unwrap(),
            },
        );
        let shared = SharedEvent::new(opened);
        let json: serde_json::Value = serde_json::from_str(shared.json()).unwrap();
        assert_eq!(json["actor"], "staff");
        assert_eq!(json["room"], "room-1");
        assert!(json.get("address").is_none());
        // the event itself (for the audit trail and LEDs) keeps everything
        assert_eq!(shared.actor, "user:anita");
        assert_eq!(shared.address.as_deref(), Some("10.0.0.7"));

        let change = QueueState::event(
            8,
            at,
            &by_user,
            EventKind::StaffChanged {
                change: StaffChange::TokenCreated {
                    token: "his-bridge".into(),
                    role: "reception".into(),
                },
            },
        );
        let json: serde_json::Value =
            serde_json::from_str(SharedEvent::new(change).json()).unwrap();
        assert_eq!(json["kind"], "staff_changed");
        assert_eq!(json["seq"], 8);
        assert!(json.get("change").is_none(), "{json}");

        let pager = Origin::new(Source::Serial, "serial-pager:A1");
        let next = QueueState::event(
            9,
            at,
            &pager,
            EventKind::RoomOpened {
                room: RoomId::parse("room-1").unwrap(),
            },
        );
        let json: serde_json::Value = serde_json::from_str(SharedEvent::new(next).json()).unwrap();
        assert_eq!(json["actor"], "serial-pager:A1");
    }

    fn event(seq: u64) -> Event {
        QueueState::event(
            seq,
            jiff::Timestamp::from_second(1_800_000_000).unwrap(),
            &Origin::system(),
            EventKind::RoomOpened {
                room: RoomId::parse("nowhere").unwrap(),
            },
        )
    }

    #[test]
    fn a_day_close_is_counted_on_the_stream_and_kept_without_its_tickets_for_replay() {
        let at = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let closed: Vec<crate::domain::Ticket> = (1..=3)
            .map(|id| crate::domain::Ticket {
                id: crate::domain::TicketId(id),
                number: format!("A{id:03}"),
                ordinal: u32::try_from(id).unwrap(),
                service: crate::domain::ServiceId::parse("general").unwrap(),
                priority: crate::domain::PriorityClass::Normal,
                state: crate::domain::TicketState::Cancelled,
                day: jiff::civil::date(2026, 1, 1),
                created_at: at,
                queued_at: at,
                called_at: None,
                finished_at: None,
                room: None,
                recall_count: 0,
                passed_over: 0,
                requeue_count: 0,
                transferred_from: None,
                transferred_to: None,
                cancel_reason: None,
                source: Source::Kiosk,
                feedback_given: false,
            })
            .collect();
        let close = QueueState::event(
            1,
            at,
            &Origin::system(),
            EventKind::DayClosed {
                day: jiff::civil::date(2026, 1, 1),
                new_day: jiff::civil::date(2026, 1, 2),
                closed,
            },
        );
        let hub = hub(0, vec![]);
        let mut sub = hub.subscribe(None, |p| p.seq);
        hub.publish(vec![close]);
        // Followers get the whole event (the metrics count the closed tickets' service times).
        let live = sub.feed.events.try_recv().unwrap();
        assert!(matches!(&live.kind, EventKind::DayClosed { closed, .. } if closed.len() == 3));
        let json: serde_json::Value = serde_json::from_str(live.json()).unwrap();
        assert_eq!(json["closed"], 3, "{json}");
        // The replay buffer forgets the tickets, not the count.
        let replay = hub.read().recent.back().cloned().unwrap();
        assert!(matches!(&replay.kind, EventKind::DayClosed { closed, .. } if closed.is_empty()));
        assert_eq!(replay.json(), live.json());
    }

    fn hub(seq: u64, recent: Vec<Event>) -> Hub {
        let policy = crate::config::Config::default().policy();
        Hub::new(
            QueueState::new(jiff::civil::date(2026, 1, 1)),
            seq,
            recent,
            policy,
        )
    }

    fn replayed(start: Start<u64>) -> Option<Vec<u64>> {
        match start {
            Start::Replay(events) => Some(events.iter().map(|e| e.seq).collect()),
            Start::Snapshot(_) => None,
        }
    }

    #[test]
    fn reconnect_with_since_replays_only_what_was_missed() {
        let hub = hub(3, (1..=3).map(event).collect());
        let sub = hub.subscribe(Some(1), |p| p.seq);
        assert_eq!(replayed(sub.start), Some(vec![2, 3]));
        let sub = hub.subscribe(Some(3), |p| p.seq);
        assert_eq!(replayed(sub.start), Some(vec![]));
    }

    #[test]
    fn unknown_or_too_old_since_gets_a_snapshot() {
        let hub = hub(3, (1..=3).map(event).collect());
        assert!(matches!(
            hub.subscribe(None, |p| p.seq).start,
            Start::Snapshot(3)
        ));
        assert!(matches!(
            hub.subscribe(Some(9), |p| p.seq).start,
            Start::Snapshot(3)
        ));
        let hub = hub_with_gap();
        assert!(matches!(
            hub.subscribe(Some(1), |p| p.seq).start,
            Start::Snapshot(10)
        ));
    }

    fn hub_with_gap() -> Hub {
        hub(10, (5..=10).map(event).collect())
    }

    #[test]
    fn published_events_reach_subscribers_after_their_snapshot() {
        let hub = hub(0, vec![]);
        let mut sub = hub.subscribe(None, |p| p.seq);
        assert!(matches!(sub.start, Start::Snapshot(0)));
        hub.publish(vec![event(1), event(2)]);
        assert_eq!(sub.feed.events.try_recv().unwrap().seq, 1);
        assert_eq!(sub.feed.events.try_recv().unwrap().seq, 2);
        assert_eq!(hub.read().seq, 2);
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_gets_a_fresh_snapshot_then_the_events_after_it() {
        let hub = hub(0, vec![]);
        let mut sub = hub.subscribe(None, |p| p.seq);
        let behind = BROADCAST_CAPACITY as u64 + 10;
        hub.publish((1..=behind).map(event).collect());
        match sub.feed.next(&hub, |p| p.seq).await {
            FeedItem::Snapshot(seq) => assert_eq!(seq, behind),
            other => panic!("expected a fresh snapshot, got {other:?}"),
        }
        hub.publish(vec![event(behind + 1)]);
        match sub.feed.next(&hub, |p| p.seq).await {
            FeedItem::Event(e) => assert_eq!(e.seq, behind + 1),
            other => panic!("expected the next event, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_subscriber_that_keeps_up_gets_every_event_in_order() {
        let hub = hub(0, vec![]);
        let mut sub = hub.subscribe(None, |p| p.seq);
        hub.publish((1..=100).map(event).collect());
        for seq in 1..=100 {
            match sub.feed.next(&hub, |p| p.seq).await {
                FeedItem::Event(e) => assert_eq!(e.seq, seq),
                other => panic!("expected event {seq}, got {other:?}"),
            }
        }
    }

    #[test]
    fn replay_buffer_is_bounded() {
        let hub = hub(0, vec![]);
        hub.publish((1..=(REPLAY_CAPACITY as u64 + 10)).map(event).collect());
        assert_eq!(hub.read().recent.len(), REPLAY_CAPACITY);
        assert!(matches!(
            hub.subscribe(Some(1), |p| p.seq).start,
            Start::Snapshot(_)
        ));
        let recent = hub.subscribe(Some(REPLAY_CAPACITY as u64), |p| p.seq);
        assert_eq!(replayed(recent.start).map(|v| v.len()), Some(10));
    }
}
