//! The generic webhook: every committed event, as the public event stream shows it
//! ([`PublicEvent`]: no patient's details, staff named only `staff`), POSTed as JSON to
//! `notify.webhook_url`, one event a request, in order, at least once.
//!
//! It follows the event log itself with a persisted cursor: it reads the events after the last
//! seq the receiver acknowledged (the store's `webhook_acked` row), POSTs the next one, and
//! records its seq only after a 2xx answer. A crash between the two sends that event again (the
//! receiver tells by `seq`, also in the `X-Waitless-Seq` header): at least once, in order. The
//! backlog is the log, so it survives restarts and a receiver that is down for days. A webhook
//! that never acknowledged anything starts after the last event at its start (a new receiver
//! gets what happens from then on, not the whole history); another URL is another receiver.
//!
//! Any other answer, or none, is tried again after a pause (1 s, doubling to 5 minutes) — the
//! same event, so nothing is skipped. It runs as its own task, reading the store off the async
//! threads; the engine never waits for it. New events wake it; otherwise it looks every second.
//!
//! With `notify.webhook_secret`, each request carries `X-Waitless-Signature: sha256=<hex>`, the
//! HMAC-SHA256 of the body under the secret. The secret and the URL's query are never logged.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use utoipa::ToSchema;

use crate::hub::{Hub, PublicEvent};
use crate::store::{Store, StoreError};

/// How often an idle webhook looks for events no wake-up announced.
const IDLE_LOOK: Duration = Duration::from_secs(1);
/// The first pause after a failed POST.
const FIRST_PAUSE: Duration = Duration::from_secs(1);
/// The longest pause between tries.
const LONGEST_PAUSE: Duration = Duration::from_secs(300);
/// Longest one POST may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Events read from the store at a time.
const BATCH: usize = 100;

/// The HMAC-SHA256 of `body` under `key` (RFC 2104), lower-case hex.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    const BLOCK: usize = 64;
    let mut block = [0_u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(body);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The id the cursor is kept under: the SHA-256 of the URL, hex (the URL may hold a token).
pub fn target_id(url: &str) -> String {
    Sha256::digest(url.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Why a POST failed (tried again).
#[derive(Debug, thiserror::Error)]
enum HookError {
    #[error("the receiver answered {0}")]
    Status(u16),
    #[error("cannot reach the receiver: {0}")]
    Unreachable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Task(String),
}

/// How the webhook is doing, for the operator (`GET /api/v1/notifications`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct WebhookStatus {
    /// Where it posts, without the URL's query (a token may hide there).
    pub target: String,
    /// Whether requests carry `X-Waitless-Signature`.
    pub signed: bool,
    /// The last seq the receiver acknowledged.
    pub acked_seq: u64,
    /// The last failure, until the next success.
    pub last_error: Option<String>,
}

/// A shared view of the running webhook's [`WebhookStatus`].
#[derive(Clone, Debug)]
pub struct WebhookState(Arc<Mutex<WebhookStatus>>);

impl WebhookState {
    /// How it is doing now.
    pub fn get(&self) -> WebhookStatus {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update(&self, change: impl FnOnce(&mut WebhookStatus)) {
        change(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

/// The running webhook.
#[derive(Debug)]
pub struct Webhook {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    state: WebhookState,
}

struct Parts {
    url: String,
    secret: String,
    target: String,
    agent: ureq::Agent,
    store: Arc<Store>,
    hub: Arc<Hub>,
    state: WebhookState,
}

impl Webhook {
    /// Starts the webhook (`None`: `notify.webhook_url` is empty). Must run inside a tokio
    /// runtime.
    pub fn start(
        config: &crate::config::NotifyConfig,
        store: Arc<Store>,
        hub: Arc<Hub>,
    ) -> Result<Option<Self>, StoreError> {
        if config.webhook_url.is_empty() {
            return Ok(None);
        }
        let target = target_id(&config.webhook_url);
        let acked = match store.webhook_acked(&target)? {
            Some(seq) => seq,
            None => {
                let last = store.last_event_seq()?;
                store.set_webhook_acked(&target, last)?;
                last
            }
        };
        let shown = config.webhook_url.split('?').next().unwrap_or_default();
        tracing::info!(
            "webhook: posting events to {shown} from seq {}{}",
            acked + 1,
            if config.webhook_secret.is_empty() {
                ""
            } else {
                ", signed"
            }
        );
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        let state = WebhookState(Arc::new(Mutex::new(WebhookStatus {
            target: shown.to_owned(),
            signed: !config.webhook_secret.is_empty(),
            acked_seq: acked,
            last_error: None,
        })));
        let parts = Parts {
            url: config.webhook_url.clone(),
            secret: config.webhook_secret.clone(),
            target,
            agent,
            store,
            hub,
            state: state.clone(),
        };
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(parts.run(acked, stopped));
        Ok(Some(Self { stop, task, state }))
    }

    /// A view of how it is doing, for the operator.
    pub fn state(&self) -> WebhookState {
        self.state.clone()
    }

    /// Stops the task (a POST under way is abandoned: its event goes again after the next
    /// start).
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

impl Parts {
    async fn run(self, mut acked: u64, mut stopped: watch::Receiver<bool>) {
        let me = Arc::new(self);
        let mut tail = me.hub.tail();
        let mut pause = FIRST_PAUSE;
        let mut last_error: Option<String> = None;
        loop {
            let outcome = tokio::select! {
                outcome = Arc::clone(&me).deliver(&mut acked) => outcome,
                _ = stopped.changed() => return,
            };
            match outcome {
                Ok(sent) => {
                    pause = FIRST_PAUSE;
                    if last_error.take().is_some() {
                        tracing::info!("webhook: the receiver takes events again");
                    }
                    me.state.update(|s| {
                        s.acked_seq = acked;
                        s.last_error = None;
                    });
                    if sent == 0 {
                        tokio::select! {
                            event = tail.next() => if event.is_none() { return },
                            () = tokio::time::sleep(IDLE_LOOK) => {}
                            _ = stopped.changed() => return,
                        }
                    }
                }
                Err(e) => {
                    let message = e.to_string();
                    if last_error.as_deref() != Some(message.as_str()) {
                        tracing::warn!(
                            next = acked + 1,
                            "webhook: {message} — trying the same event again"
                        );
                        last_error = Some(message.clone());
                    }
                    me.state.update(|s| {
                        s.acked_seq = acked;
                        s.last_error = Some(message);
                    });
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        _ = stopped.changed() => return,
                    }
                    pause = (pause * 2).min(LONGEST_PAUSE);
                }
            }
        }
    }

    /// POSTs the events after `acked`, in order, recording each acknowledgement. How many went.
    async fn deliver(self: Arc<Self>, acked: &mut u64) -> Result<usize, HookError> {
        let store = Arc::clone(&self.store);
        let from = *acked;
        let events = tokio::task::spawn_blocking(move || store.events_after(from, BATCH))
            .await
            .map_err(|e| HookError::Task(e.to_string()))??;
        let mut sent = 0;
        for event in events {
            let seq = event.seq;
            let body = serde_json::to_vec(&PublicEvent::of(&event))
                .map_err(|e| HookError::Task(e.to_string()))?;
            let me = Arc::clone(&self);
            tokio::task::spawn_blocking(move || me.post(seq, &body))
                .await
                .map_err(|e| HookError::Task(e.to_string()))??;
            *acked = seq;
            sent += 1;
        }
        Ok(sent)
    }

    /// One POST and, on a 2xx answer, the cursor moved past `seq`. Blocks.
    fn post(&self, seq: u64, body: &[u8]) -> Result<(), HookError> {
        let mut request = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("X-Waitless-Seq", &seq.to_string());
        if !self.secret.is_empty() {
            request = request.header(
                "X-Waitless-Signature",
                &format!("sha256={}", signature(self.secret.as_bytes(), body)),
            );
        }
        let answer = request
            .send(body)
            .map_err(|e| HookError::Unreachable(e.to_string()))?;
        let status = answer.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(HookError::Status(status));
        }
        self.store.set_webhook_acked(&self.target, seq)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_rfc_4231_hmac_sha256() {
        // RFC 4231, test cases 2 and 6 (a key longer than the block).
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            signature(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            ),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
