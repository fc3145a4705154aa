//! The senders: one thread per channel reads the outbox table, renders each due message in its
//! patient's language, hands it to the channel's [`Transport`], and records what happened.
//!
//! The rows were written by the engine in the transaction of the event that caused them, so a
//! crash before sending loses nothing: the sender finds the row queued after a restart. The
//! state changes here (sent, a retry later, failed) are direct store writes, not engine
//! commands: they are delivery bookkeeping on a row that already exists, not a change to the
//! queue, and the audit trail already holds the event that caused the message.
//!
//! Retries back off exponentially (`retry_secs`, doubled after each failed try) until
//! `max_attempts`, then the row is `failed` with the last reason. A recipient who already got
//! `daily_cap` messages in the last 24 hours gets no more: the row fails with "daily cap".

use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use jiff::SignedDuration;

use crate::clock::Clock;
use crate::domain::notification::{Channel, Notification, NotificationState, QuietHours};
use crate::i18n::Catalogs;
use crate::notify::transport::{Incoming, Outgoing, SendError, Sent, Transport, TransportHealth};
use crate::store::{Store, StoreError};

/// The sender's rules (from `[notify]`).
#[derive(Clone, Debug)]
pub struct Retry {
    /// Tries before giving up.
    pub max_attempts: u32,
    /// The first pause after a failed try.
    pub first: SignedDuration,
    /// Most messages to one recipient in 24 hours.
    pub daily_cap: u32,
    /// When reminders wait, and the clinic's zone they are in.
    pub quiet: Option<(QuietHours, jiff::tz::TimeZone)>,
}

/// Makes the patient's link a row's message ends with (its ticket's status page, its booking's
/// page): `None` for none, e.g. when `screens.public_url` is not set (a text message needs the
/// whole address).
pub type Links = Arc<dyn Fn(&Notification) -> Option<String> + Send + Sync>;

/// Longest pause between tries.
const LONGEST: SignedDuration = SignedDuration::from_hours(6);

/// The text of a notification in its language, with `link` on a line of its own at the end.
pub fn render(catalogs: &Catalogs, row: &Notification, link: Option<&str>) -> Outgoing {
    let catalog = catalogs.get(&row.language);
    let args: Vec<(&str, &str)> = row
        .params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut body = catalog.format(&format!("notify.{}", row.kind.as_str()), &args);
    if let Some(link) = link {
        body.push('\n');
        body.push_str(link);
    }
    Outgoing {
        to: row.to.clone(),
        subject: catalog.format(row.kind.subject_key(), &args),
        body,
    }
}

/// Whose messages count together for the daily cap: a phone number by its last 10 digits, an
/// address in lower case.
fn recipient(channel: Channel, to: &str) -> String {
    match channel {
        Channel::Sms => crate::domain::notification::phone_key(to),
        Channel::Email => to.trim().to_lowercase(),
    }
}

/// One channel's sender.
pub struct Sender {
    /// The channel it sends.
    pub channel: Channel,
    /// The database.
    pub store: Arc<Store>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The message files.
    pub catalogs: Arc<Catalogs>,
    /// How it sends.
    pub transport: Box<dyn Transport>,
    /// Retries and caps.
    pub retry: Retry,
    /// The patients' links in messages.
    pub links: Option<Links>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("channel", &self.channel)
            .field("transport", &self.transport.describe())
            .finish_non_exhaustive()
    }
}

impl Sender {
    /// Sends every due row once; how many were sent.
    pub fn run_once(&mut self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let due = self.store.notifications_due(self.channel, now)?;
        if due.is_empty() {
            return Ok(0);
        }
        // Messages sent to each recipient in the last 24 hours (the daily cap).
        let day_ago = now - SignedDuration::from_hours(24);
        let mut recent: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
        for n in self.store.notifications()? {
            if n.channel == self.channel
                && n.state == NotificationState::Sent
                && n.sent_at.is_some_and(|at| at > day_ago)
            {
                *recent.entry(recipient(n.channel, &n.to)).or_default() += 1;
            }
        }
        let mut sent = 0;
        for mut row in due {
            if let Some((quiet, zone)) = &self.retry.quiet
                && row.kind.keeps_quiet_hours()
                && quiet.contains(now, zone)
            {
                // A reminder retried into the night waits for the morning.
                row.next_try = quiet.after(now, zone);
                self.store.notification_update(&row)?;
                continue;
            }
            let count = recent.entry(recipient(row.channel, &row.to)).or_default();
            if *count >= self.retry.daily_cap {
                row.state = NotificationState::Failed;
                row.last_error = Some(format!(
                    "daily cap: {} messages to this recipient in 24 hours",
                    self.retry.daily_cap
                ));
                tracing::warn!(key = %row.key(), "notification not sent: over the daily cap");
                self.store.notification_update(&row)?;
                continue;
            }
            if self.channel == Channel::Sms && self.store.opted_out(&row.to)? {
                row.state = NotificationState::Failed;
                row.last_error = Some("the patient replied STOP".to_owned());
                tracing::info!(key = %row.key(), "notification not sent: the number opted out");
                self.store.notification_update(&row)?;
                continue;
            }
            let link = self.links.as_ref().and_then(|links| links(&row));
            let message = render(&self.catalogs, &row, link.as_deref());
            row.attempts += 1;
            match self.transport.send(&message) {
                Ok(accepted) => {
                    row.reference = accepted.reference;
                    row.state = NotificationState::Sent;
                    row.sent_at = Some(self.clock.now());
                    row.last_error = None;
                    sent += 1;
                    *recent.entry(recipient(row.channel, &row.to)).or_default() += 1;
                    tracing::info!(key = %row.key(), "notification sent");
                }
                Err(e) => {
                    let permanent = matches!(e, SendError::Permanent(_));
                    row.last_error = Some(e.to_string());
                    if permanent || row.attempts >= self.retry.max_attempts {
                        row.state = NotificationState::Failed;
                        tracing::warn!(key = %row.key(), attempts = row.attempts, permanent,
                            "notification failed: given up");
                    } else {
                        row.next_try = now + backoff(self.retry.first, row.attempts);
                        tracing::info!(key = %row.key(), attempts = row.attempts,
                            next_try = %row.next_try, "notification not sent: will try again");
                    }
                }
            }
            self.store.notification_update(&row)?;
        }
        Ok(sent)
    }
}

impl Sender {
    /// Records what the transport heard: a delivery report on its row (found by reference), a
    /// "STOP" reply as the number's opt-out (no message goes to it again until it opts in).
    pub fn heard(&mut self, heard: Vec<Incoming>) -> Result<(), StoreError> {
        for incoming in heard {
            match incoming {
                Incoming::Delivered {
                    reference,
                    delivered,
                    detail,
                } => {
                    let found = self.store.notifications()?.into_iter().find(|n| {
                        n.channel == self.channel && n.reference.as_deref() == Some(&reference)
                    });
                    let Some(mut row) = found else {
                        tracing::info!(%reference, "a delivery report for no message we know");
                        continue;
                    };
                    row.delivery = Some(if delivered {
                        crate::domain::notification::Delivery::Delivered
                    } else {
                        crate::domain::notification::Delivery::NotDelivered
                    });
                    row.delivered_at = Some(self.clock.now());
                    if !delivered {
                        row.last_error = Some(detail);
                    }
                    tracing::info!(key = %row.key(), delivered, "a delivery report");
                    self.store.notification_update(&row)?;
                }
                Incoming::Reply { from, text } => {
                    if crate::domain::notification::is_stop(&text) {
                        self.store.opt_out(&from, self.clock.now())?;
                        tracing::info!("a patient replied STOP: no more messages to that number");
                    } else if crate::domain::notification::is_start(&text) {
                        self.store.opt_in(&from)?;
                        tracing::info!("a patient replied START: messages to that number again");
                    } else {
                        tracing::info!(
                            chars = text.chars().count(),
                            "a reply, not a command: ignored"
                        );
                    }
                }
            }
        }
        Ok(())
    }
}

/// The pause after the `attempts`-th failed try: `first`, doubled each time, at most 6 hours.
pub fn backoff(first: SignedDuration, attempts: u32) -> SignedDuration {
    let factor = 1_i32 << attempts.saturating_sub(1).min(20);
    first
        .checked_mul(factor)
        .map_or(LONGEST, |d| d.min(LONGEST))
}

/// What a running sender is asked.
enum Request {
    /// Look for due rows now.
    Wake,
    /// Send this one message now, outside the outbox (the operator's test message), and answer.
    Test(Outgoing, mpsc::Sender<Result<Sent, SendError>>),
}

/// A running sender: wake it (a resend), ask it to send a test message, or drop it to stop it.
#[derive(Debug)]
pub struct SenderHandle {
    wake: mpsc::Sender<Request>,
    health: Arc<std::sync::Mutex<Option<TransportHealth>>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Wake => "Wake",
            Self::Test(..) => "Test",
        })
    }
}

impl SenderHandle {
    /// Looks for due rows now.
    pub fn wake(&self) {
        let _ = self.wake.send(Request::Wake);
    }

    /// Sends `message` through the transport now, between the outbox's sends, and waits for
    /// the answer (at most `within`).
    pub fn test(&self, message: Outgoing, within: Duration) -> Result<Sent, SendError> {
        let (answer, answered) = mpsc::channel();
        self.wake
            .send(Request::Test(message, answer))
            .map_err(|_| SendError::Temporary("the sender has stopped".to_owned()))?;
        answered.recv_timeout(within).map_err(|_| {
            SendError::Temporary(format!(
                "no answer from the transport in {} s",
                within.as_secs()
            ))
        })?
    }

    /// The transport's last reported health.
    pub fn health(&self) -> Option<TransportHealth> {
        self.health
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl Drop for SenderHandle {
    fn drop(&mut self) {
        let (dead, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.wake, dead));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts `sender` on its own thread, looking for due rows every `poll` and when woken; between
/// sends it lets the transport look after its line ([`Transport::poll`]) and hands what came
/// in to [`Sender::heard`].
pub fn start(mut sender: Sender, poll: Duration) -> std::io::Result<SenderHandle> {
    let (wake, woken) = mpsc::channel::<Request>();
    let health = Arc::new(std::sync::Mutex::new(sender.transport.health()));
    let shared = Arc::clone(&health);
    let name = format!("waitless-notify-{}", sender.channel.as_str());
    tracing::info!(
        "notifications by {}: {}",
        sender.channel.as_str(),
        sender.transport.describe()
    );
    let thread = std::thread::Builder::new().name(name).spawn(move || {
        let mut last_poll = std::time::Instant::now();
        loop {
            if let Err(e) = sender.run_once() {
                tracing::error!("notifications: cannot read or update the outbox: {e}");
            }
            if last_poll.elapsed() >= poll {
                last_poll = std::time::Instant::now();
                let heard = sender.transport.poll();
                if let Err(e) = sender.heard(heard) {
                    tracing::error!("notifications: cannot record what came in: {e}");
                }
            }
            *shared
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = sender.transport.health();
            match woken.recv_timeout(poll) {
                Ok(Request::Wake) => {}
                Ok(Request::Test(message, answer)) => {
                    tracing::info!(channel = sender.channel.as_str(), "a test message");
                    let _ = answer.send(sender.transport.send(&message));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
    })?;
    Ok(SenderHandle {
        wake,
        health,
        thread: Some(thread),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_ends_with_its_link_and_a_booking_has_its_own_subject() {
        use crate::domain::notification::{Notification, NotificationKind, NotificationState};
        let files = crate::web::asset::message_files();
        let catalogs =
            crate::i18n::Catalogs::parse(files.iter().map(|(f, t)| (f.as_str(), t.as_str())))
                .unwrap();
        let at: jiff::Timestamp = "2026-11-21T10:00:00Z".parse().unwrap();
        let row = Notification {
            seq: 7,
            kind: NotificationKind::Booked,
            channel: Channel::Email,
            ticket: None,
            booking: Some(3),
            to: "asha@example.com".to_owned(),
            language: "hi".to_owned(),
            params: vec![
                ("code".to_owned(), "K7TQ3M".to_owned()),
                ("when".to_owned(), "2026-11-23 09:00".to_owned()),
                ("service".to_owned(), "सामान्य".to_owned()),
                ("doctor".to_owned(), "dr-rao".to_owned()),
            ],
            created_at: at,
            state: NotificationState::Queued,
            attempts: 0,
            next_try: at,
            sent_at: None,
            last_error: None,
            reference: None,
            delivery: None,
            delivered_at: None,
        };
        let out = render(&catalogs, &row, Some("http://waitless.local/b/3-abc"));
        assert_eq!(out.subject, "आपका अपॉइंटमेंट K7TQ3M");
        assert!(
            out.body
                .starts_with("अपॉइंटमेंट K7TQ3M बुक हो गया: 2026-11-23 09:00"),
            "{}",
            out.body
        );
        assert!(
            out.body.ends_with("\nhttp://waitless.local/b/3-abc"),
            "{}",
            out.body
        );
        assert!(!render(&catalogs, &row, None).body.contains("http"));
    }

    #[test]
    fn the_pause_doubles_up_to_six_hours() {
        let first = SignedDuration::from_secs(30);
        assert_eq!(backoff(first, 1), SignedDuration::from_secs(30));
        assert_eq!(backoff(first, 2), SignedDuration::from_secs(60));
        assert_eq!(backoff(first, 4), SignedDuration::from_secs(240));
        assert_eq!(backoff(first, 30), LONGEST);
    }
}

/// The running senders, one per configured channel.
#[derive(Debug, Default)]
pub struct Senders {
    running: Vec<(Channel, String, SenderHandle)>,
}

impl Senders {
    /// Starts a sender for each channel `[notify]` configures; reminders keep its quiet hours
    /// in `zone`.
    pub fn start(
        config: &crate::config::NotifyConfig,
        zone: &jiff::tz::TimeZone,
        store: &Arc<Store>,
        clock: &Arc<dyn Clock>,
        catalogs: &Arc<Catalogs>,
        links: Option<Links>,
    ) -> Result<Self, String> {
        let retry = Retry {
            max_attempts: config.max_attempts,
            first: SignedDuration::from_secs(i64::try_from(config.retry_secs).unwrap_or(60)),
            daily_cap: config.daily_cap,
            quiet: crate::config::quiet_hours(&config.quiet_hours).map(|q| (q, zone.clone())),
        };
        let mut running = Vec::new();
        for channel in Channel::ALL {
            let Some(transport) = crate::notify::build::transport(config, channel, clock.as_ref())?
            else {
                continue;
            };
            let describe = transport.describe();
            let sender = Sender {
                channel,
                store: Arc::clone(store),
                clock: Arc::clone(clock),
                catalogs: Arc::clone(catalogs),
                transport,
                retry: retry.clone(),
                links: links.clone(),
            };
            let handle = start(sender, Duration::from_secs(config.poll_secs))
                .map_err(|e| format!("cannot start the {} sender: {e}", channel.as_str()))?;
            running.push((channel, describe, handle));
        }
        Ok(Self { running })
    }

    /// Every sender looks for due rows now.
    pub fn wake(&self) {
        for (_, _, handle) in &self.running {
            handle.wake();
        }
    }

    /// Each running channel and its transport, for the operator.
    pub fn transports(&self) -> Vec<(Channel, String)> {
        self.running
            .iter()
            .map(|(c, d, _)| (*c, d.clone()))
            .collect()
    }

    /// Each running channel, its transport and how it is doing, for the operator.
    pub fn health(&self) -> Vec<(Channel, String, Option<TransportHealth>)> {
        self.running
            .iter()
            .map(|(c, d, h)| (*c, d.clone(), h.health()))
            .collect()
    }

    /// Sends a test message by `channel` now (outside the outbox: nothing is recorded but a
    /// log line), waiting up to 90 s for the transport's answer.
    pub fn test(&self, channel: Channel, message: Outgoing) -> Result<Sent, SendError> {
        let Some((_, _, handle)) = self.running.iter().find(|(c, _, _)| *c == channel) else {
            return Err(SendError::Permanent(format!(
                "no {} transport is configured (notify.{})",
                channel.as_str(),
                channel.as_str()
            )));
        };
        handle.test(message, Duration::from_secs(90))
    }

    /// Stops every sender (waits for a send under way).
    pub fn stop(self) {
        drop(self);
    }
}

/// Wakes the senders after every committed event, so a call's message goes out at once rather
/// than at the next poll. Runs as a task until the hub closes.
pub async fn wake_on_events(hub: Arc<crate::hub::Hub>, senders: Arc<Senders>) {
    let mut events = hub.tail();
    while events.next().await.is_some() {
        senders.wake();
    }
}
