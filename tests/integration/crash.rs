//! The crash test: the real binary with durable commits (the default, fsync on) is killed with
//! SIGKILL in the middle of a burst of ticket requests. After a restart on the same folder every
//! acknowledged ticket is there with its number, no number of a day is held twice, and new
//! tickets get new numbers.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use nix::sys::signal::{Signal, kill};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::binary::{PROCESS_PATIENCE, Server};

/// Requests in the burst.
const REQUESTS: usize = 400;
/// Requests in flight at once.
const IN_FLIGHT: usize = 32;
/// The process is killed once this many tickets were acknowledged (201).
const KILL_AFTER: usize = 150;

/// A ticket the server acknowledged with 201.
#[derive(Clone, Debug)]
struct Acked {
    id: u64,
    number: String,
    service: String,
    day: String,
}

/// What one request of the burst gave.
enum Answer {
    Acked(Acked),
    /// Anything else before the kill: a failure of the server.
    Unexpected(String),
}

/// The service of request `i`: two of three general, one lab.
fn service_of(i: usize) -> &'static str {
    if i % 3 == 2 { "lab" } else { "general" }
}

/// The number's prefix and ordinal: `A042` → ("A", 42).
fn split_number(number: &str) -> (String, u32) {
    let digits = number.trim_start_matches(|c: char| c.is_ascii_uppercase());
    let prefix = &number[..number.len() - digits.len()];
    (prefix.to_owned(), digits.parse().unwrap())
}

fn acked(ticket: &Value) -> Acked {
    Acked {
        id: ticket["id"].as_u64().unwrap(),
        number: ticket["number"].as_str().unwrap().to_owned(),
        service: ticket["service"].as_str().unwrap().to_owned(),
        day: ticket["day"].as_str().unwrap().to_owned(),
    }
}

/// Fires the burst at `server` and SIGKILLs it after `KILL_AFTER` acknowledgements. Returns
/// every acknowledged ticket and the unexpected answers received before the kill.
async fn burst_then_kill(server: &Server) -> (Vec<Acked>, Vec<String>) {
    let pid = server.process.pid();
    let killed = Arc::new(AtomicBool::new(false));
    let next_request = Arc::new(AtomicUsize::new(0));
    let (answers, mut received) = mpsc::unbounded_channel::<Answer>();

    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..IN_FLIGHT {
        let client = server.client.clone();
        let url = server.url("/api/v1/tickets");
        let killed = Arc::clone(&killed);
        let next_request = Arc::clone(&next_request);
        let answers = answers.clone();
        workers.spawn(async move {
            loop {
                let i = next_request.fetch_add(1, Ordering::SeqCst);
                if i >= REQUESTS || killed.load(Ordering::SeqCst) {
                    return;
                }
                let response = client
                    .post(&url)
                    .json(&json!({"service": service_of(i), "source": "kiosk"}))
                    .send()
                    .await;
                // The status alone is no acknowledgement: the ticket is known only with its body.
                let answer = match response {
                    Ok(r) if r.status() == 201 => match r.json::<Value>().await {
                        Ok(ticket) => Answer::Acked(acked(&ticket)),
                        Err(e) => Answer::Unexpected(format!("201 without a body: {e}")),
                    },
                    Ok(r) => {
                        let status = r.status();
                        let body = r.text().await.unwrap_or_default();
                        Answer::Unexpected(format!("{status}: {body}"))
                    }
                    Err(e) => Answer::Unexpected(format!("request failed: {e}")),
                };
                let unexpected = matches!(answer, Answer::Unexpected(_));
                // Failures after the kill are expected; they are not reported.
                if !(unexpected && killed.load(Ordering::SeqCst)) {
                    let _ = answers.send(answer);
                }
                if killed.load(Ordering::SeqCst) {
                    return;
                }
            }
        });
    }
    drop(answers);

    // The counter: kills the server at the KILL_AFTER-th acknowledgement.
    let mut acks = Vec::new();
    let mut unexpected = Vec::new();
    while let Some(answer) = received.recv().await {
        match answer {
            Answer::Acked(ticket) => {
                acks.push(ticket);
                if acks.len() == KILL_AFTER {
                    killed.store(true, Ordering::SeqCst);
                    kill(pid, Signal::SIGKILL).unwrap();
                }
            }
            // A request in flight at the kill may fail before its worker saw the flag.
            Answer::Unexpected(_) if killed.load(Ordering::SeqCst) => {}
            Answer::Unexpected(what) => unexpected.push(what),
        }
    }
    while let Some(joined) = workers.join_next().await {
        joined.unwrap();
    }
    (acks, unexpected)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_tickets_survive_sigkill_mid_burst() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    // A burst of kiosk tickets from one address: the kiosk rate limit off.
    let mut server = Server::start_with(
        dir.path(),
        &[],
        &[("WAITLESS_SCREENS__KIOSK_TICKETS_PER_MINUTE", "0")],
    )
    .await;

    let (acks, unexpected) = burst_then_kill(&server).await;
    assert!(
        unexpected.is_empty(),
        "answers before the kill: {unexpected:?}"
    );
    assert!(
        acks.len() >= KILL_AFTER,
        "only {} tickets acknowledged before the burst ended",
        acks.len()
    );
    let status = server.process.wait_exit(PROCESS_PATIENCE).await;
    assert_eq!(
        status.signal(),
        Some(9),
        "waitless was not killed: {status}"
    );
    let killed_after = started.elapsed();
    drop(server);

    let server = Server::start(dir.path()).await;

    // Every acknowledged ticket is there, with its number.
    for ticket in &acks {
        let (status, found) = server
            .get_json(&format!("/api/v1/tickets/{}", ticket.id))
            .await;
        assert_eq!(
            status, 200,
            "acknowledged ticket {ticket:?} is lost: {found}"
        );
        assert_eq!(found["number"], ticket.number.as_str(), "{ticket:?}");
        assert_eq!(found["service"], ticket.service.as_str(), "{ticket:?}");
    }

    // All tickets (nobody was called, so all are waiting): no number twice within a day, and
    // every ticket id from the first to the last is there (no hole, nothing half-written).
    let mut waiting: Vec<Value> = Vec::new();
    let mut after = String::new();
    loop {
        let (status, page) = server
            .get_json(&format!("/api/v1/queue/waiting?limit=1000{after}"))
            .await;
        assert_eq!(status, 200, "{page}");
        waiting.extend(page["tickets"].as_array().unwrap().iter().cloned());
        match page["next"].as_u64() {
            Some(next) => after = format!("&after={next}"),
            None => break,
        }
    }
    let all: Vec<Acked> = waiting.iter().map(acked).collect();
    assert!(
        all.len() >= acks.len(),
        "{} waiting, {} acknowledged",
        all.len(),
        acks.len()
    );
    let mut seen: HashSet<(String, String)> = HashSet::new();
    for t in &all {
        assert!(
            seen.insert((t.day.clone(), t.number.clone())),
            "number {} issued twice on {}",
            t.number,
            t.day
        );
    }
    let ids: HashSet<u64> = all.iter().map(|t| t.id).collect();
    for ticket in &acks {
        assert!(ids.contains(&ticket.id), "{ticket:?} is not in the queue");
    }
    let (min, max) = (*ids.iter().min().unwrap(), *ids.iter().max().unwrap());
    assert_eq!(ids.len() as u64, max - min + 1, "ticket ids have holes");

    // The restarted server keeps numbering above the old numbers and never reuses an id.
    let mut highest: HashMap<(String, String), u32> = HashMap::new();
    for t in &all {
        let (prefix, ordinal) = split_number(&t.number);
        let top = highest.entry((t.day.clone(), prefix)).or_default();
        *top = (*top).max(ordinal);
    }
    for service in ["general", "lab"] {
        let fresh = acked(&server.issue(service).await);
        assert!(fresh.id > max, "id {} reused (old max {max})", fresh.id);
        let (prefix, ordinal) = split_number(&fresh.number);
        // A clinic day that turned during the test restarts the numbering: no comparison then.
        if let Some(top) = highest.get(&(fresh.day.clone(), prefix)) {
            assert!(
                ordinal > *top,
                "new {} is not above the old numbers (up to {top})",
                fresh.number
            );
        }
    }

    let mut per_service: BTreeMap<&str, usize> = BTreeMap::new();
    for t in &acks {
        *per_service.entry(t.service.as_str()).or_default() += 1;
    }
    eprintln!(
        "crash test: {} acknowledged before SIGKILL ({per_service:?}), {} committed in all, \
         killed after {killed_after:?}, total {:?}",
        acks.len(),
        all.len(),
        started.elapsed()
    );
    let (status, log) = server.stop().await;
    assert!(status.success(), "{status}; log:\n{log}");
}
