//! Booking load tool: measures a RUNNING waitless's appointments over HTTP — bookings per second
//! on one doctor's day at a concurrency level, that no slot ever holds more patients than its
//! seats however the requests interleave, and the latency of a check-in (booking → ticket).
//!
//! ```text
//! target/release/waitless --data /tmp/wl --bind 127.0.0.1:8080 &
//! export LOAD_TOKEN=$(target/release/waitless --data /tmp/wl token create --name load --role admin)
//! cargo run --release --example bookings -- --url http://127.0.0.1:8080 [--requests 4000]
//!     [--concurrency 32] [--check-ins 50]
//! cargo run --release --example bookings -- --url http://127.0.0.1:8080 --smoke   # CI's check
//! ```
//!
//! It adds a doctor `bench-doctor` (if missing) with a plan for `general`: every day 00:00–23:55,
//! 5-minute slots, `--seats 50` a slot, no cap per patient. Then `--concurrency` workers send
//! `--requests` bookings for random slots of TOMORROW (each a new phone number): a `201` or a
//! `409 slot-taken` is a correct answer, anything else an error. Half the requests crowd the
//! first 8 slots, so their seats run out under contention. Afterwards it reads the day's
//! bookings and counts, per slot, the patients booked: more than the seats is a double booking.
//! Last it books `--check-ins` patients into today's next free slot and checks each in
//! (`POST /api/v1/bookings/{id}/check-in`), one at a time.
//!
//! Exits non-zero on any error or double booking. Figures: docs/performance.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const USAGE: &str = "\
usage: bookings [--url URL] [--token TOKEN] [--requests N] [--concurrency N] [--seats N]
                [--check-ins N] [--smoke]
defaults: --url http://127.0.0.1:8080 --requests 4000 --concurrency 32 --seats 50 --check-ins 50
--token (or LOAD_TOKEN): an admin API token (`waitless token create --name load --role admin`).
--smoke: --requests 60 --concurrency 8 --check-ins 3.";

const DOCTOR: &str = "bench-doctor";
const PATIENCE: Duration = Duration::from_secs(10);

struct Args {
    url: String,
    token: Option<String>,
    requests: usize,
    concurrency: usize,
    seats: u16,
    check_ins: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        url: "http://127.0.0.1:8080".to_owned(),
        token: std::env::var("LOAD_TOKEN").ok(),
        requests: 4000,
        concurrency: 32,
        seats: 50,
        check_ins: 50,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--smoke" {
            args.requests = 60;
            args.concurrency = 8;
            args.check_ins = 3;
            continue;
        }
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.to_owned());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = |v: &str| {
            v.parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{flag}: a positive number, not {v:?}"))
        };
        match flag.as_str() {
            "--url" => args.url = value.trim_end_matches('/').to_owned(),
            "--token" => args.token = Some(value),
            "--requests" => args.requests = number(&value)?,
            "--concurrency" => args.concurrency = number(&value)?,
            "--seats" => {
                args.seats = u16::try_from(number(&value)?).map_err(|_| "--seats: too many")?
            }
            "--check-ins" => args.check_ins = number(&value)?,
            other => return Err(format!("unknown flag {other}\n{USAGE}")),
        }
    }
    Ok(args)
}

fn client(token: Option<&str>) -> Result<reqwest::Client, String> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token {
        let value = format!("Bearer {}", token.trim())
            .parse()
            .map_err(|_| "the token is not a valid header value".to_owned())?;
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .timeout(PATIENCE)
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))
}

/// Sends a request; (status, JSON body or null).
async fn send(request: reqwest::RequestBuilder) -> Result<(u16, Value), String> {
    let response = request.send().await.map_err(|e| format!("request: {e}"))?;
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    Ok((status, body))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// The doctor and the plan (both kept if already there).
async fn set_up(http: &reqwest::Client, args: &Args) -> Result<(), String> {
    let (status, body) = send(
        http.post(format!("{}/api/v1/admin/users", args.url))
            .json(&json!({
                "name": DOCTOR, "password": "bench-doctor-password", "roles": ["doctor"],
            })),
    )
    .await?;
    if status != 201 && status != 409 {
        return Err(format!("adding the doctor: HTTP {status}: {body}"));
    }
    let day = json!([{"start": "00:00", "end": "23:55"}]);
    let plan = json!({
        "doctor": DOCTOR, "service": "general", "slot_minutes": 5, "seats": args.seats,
        "horizon_days": 3, "min_notice_minutes": 0, "per_patient_per_day": 0,
        "weekly": [day, day, day, day, day, day, day],
    });
    let (status, body) = send(
        http.put(format!("{}/api/v1/admin/plans", args.url))
            .json(&plan),
    )
    .await?;
    if status != 200 {
        return Err(format!("setting the plan: HTTP {status}: {body}"));
    }
    Ok(())
}

/// The slots of `doctor` on the day `offset` days from the clinic's today: (start, local).
async fn slots(http: &reqwest::Client, url: &str, days: u16) -> Result<Vec<Value>, String> {
    let (status, body) = send(http.get(format!(
        "{url}/api/v1/slots?service=general&doctor={DOCTOR}&days={days}"
    )))
    .await?;
    match body {
        Value::Array(list) if status == 200 => Ok(list),
        other => Err(format!("reading the slots: HTTP {status}: {other}")),
    }
}

async fn run(args: Args) -> Result<(), String> {
    let http = client(args.token.as_deref())?;
    set_up(&http, &args).await?;
    let all = slots(&http, &args.url, 2).await?;
    let tomorrow: Vec<Value> = {
        let dates: Vec<&str> = all
            .iter()
            .filter_map(|s| s["local"].as_str().map(|l| &l[..10]))
            .collect();
        let last = dates.iter().max().copied().unwrap_or_default().to_owned();
        all.iter()
            .filter(|s| s["local"].as_str().is_some_and(|l| l.starts_with(&last)))
            .cloned()
            .collect()
    };
    if tomorrow.is_empty() {
        return Err("the plan gives no slots tomorrow".to_owned());
    }
    let date = tomorrow[0]["local"].as_str().unwrap_or_default()[..10].to_owned();
    let starts: Arc<Vec<String>> = Arc::new(
        tomorrow
            .iter()
            .filter_map(|s| s["start"].as_str().map(str::to_owned))
            .collect(),
    );
    println!(
        "one doctor's day {date}: {} slots of {} seats; {} booking requests at concurrency {}",
        starts.len(),
        args.seats,
        args.requests,
        args.concurrency
    );

    // Bookings at concurrency: each worker takes the next request number.
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (http, url, next, starts) = (
            http.clone(),
            args.url.clone(),
            Arc::clone(&next),
            Arc::clone(&starts),
        );
        let total = args.requests;
        workers.push(tokio::spawn(async move {
            let mut seen: Vec<(u16, Duration)> = Vec::new();
            let mut errors = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= total {
                    break;
                }
                // Half crowd the first 8 slots (many ask for the same time), half spread out.
                let slot = if n % 2 == 0 {
                    n % 8.min(starts.len())
                } else {
                    n.wrapping_mul(7919) % starts.len()
                };
                let body = json!({
                    "doctor": DOCTOR, "service": "general", "start": starts[slot],
                    "patient": {"name": format!("Bench {n}"), "phone": format!("9{n:09}")},
                });
                let t0 = Instant::now();
                match send(http.post(format!("{url}/api/v1/bookings")).json(&body)).await {
                    Ok((status, body)) => {
                        let took = t0.elapsed();
                        let code = body["error"]["code"].as_str().unwrap_or_default();
                        if status == 201 || (status == 409 && code == "slot-taken") {
                            seen.push((status, took));
                        } else {
                            errors.push(format!("HTTP {status}: {body}"));
                        }
                    }
                    Err(e) => errors.push(e),
                }
            }
            (seen, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut booked = 0usize;
    let mut taken = 0usize;
    let mut errors = Vec::new();
    for worker in workers {
        let (seen, mut errs) = worker.await.map_err(|e| format!("a worker failed: {e}"))?;
        for (status, took) in seen {
            latencies.push(took);
            if status == 201 {
                booked += 1;
            } else {
                taken += 1;
            }
        }
        errors.append(&mut errs);
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    println!(
        "  {:.0} requests/s ({booked} booked, {taken} refused slot-taken) in {:.2} s; latency p50 {} p99 {} max {}",
        (booked + taken) as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64(),
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 99.0)),
        ms(latencies.last().copied().unwrap_or_default()),
    );
    if let Some(first) = errors.first() {
        return Err(format!(
            "{} requests failed; the first: {first}",
            errors.len()
        ));
    }

    // No slot holds more than its seats.
    let (status, day) = send(http.get(format!(
        "{}/api/v1/bookings?date={date}&doctor={DOCTOR}",
        args.url
    )))
    .await?;
    let Value::Array(day) = day else {
        return Err(format!("reading the day's bookings: HTTP {status}"));
    };
    let mut per_slot: HashMap<String, usize> = HashMap::new();
    for b in day.iter().filter(|b| b["state"] == "booked") {
        *per_slot
            .entry(b["start"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    let held: usize = per_slot.values().sum();
    let over: Vec<(&String, &usize)> = per_slot
        .iter()
        .filter(|(_, n)| **n > usize::from(args.seats))
        .collect();
    println!(
        "  the day holds {held} bookings in {} slots; slots over their {} seats: {}",
        per_slot.len(),
        args.seats,
        over.len()
    );
    // (`held` may be more than `booked`: an earlier run's bookings of that day.)
    if !over.is_empty() || held < booked {
        return Err(format!(
            "double booking: {over:?} (booked answers {booked}, held {held})"
        ));
    }

    // Check-in latency: patients booked into today's next slot, checked in one at a time.
    let mut check_ins = Vec::new();
    for n in 0..args.check_ins {
        let today = slots(&http, &args.url, 1).await?;
        let Some(next_slot) = today
            .iter()
            .find(|s| s["free"].as_u64().unwrap_or(0) > 0)
            .and_then(|s| s["start"].as_str())
        else {
            println!("  check-in: no free slot left today, skipped");
            return Ok(());
        };
        let body = json!({
            "doctor": DOCTOR, "service": "general", "start": next_slot,
            "patient": {"name": format!("Arrival {n}"), "phone": format!("8{n:09}")},
        });
        let (status, made) = send(
            http.post(format!("{}/api/v1/bookings", args.url))
                .json(&body),
        )
        .await?;
        if status != 201 {
            return Err(format!("booking today's next slot: HTTP {status}: {made}"));
        }
        let t0 = Instant::now();
        let (status, ticket) = send(http.post(format!(
            "{}/api/v1/bookings/{}/check-in",
            args.url, made["id"]
        )))
        .await?;
        let took = t0.elapsed();
        if status != 201 || ticket["priority"] != "appointment" {
            return Err(format!("check-in: HTTP {status}: {ticket}"));
        }
        check_ins.push(took);
    }
    check_ins.sort_unstable();
    println!(
        "  check-in → ticket, {} patients one at a time: p50 {} p99 {} max {}",
        check_ins.len(),
        ms(percentile(&check_ins, 50.0)),
        ms(percentile(&check_ins, 99.0)),
        ms(check_ins.last().copied().unwrap_or_default()),
    );
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bookings: {e}");
            ExitCode::FAILURE
        }
    }
}
