//! History generator: builds a database holding `--days` clinic days of `--per-day` tickets each,
//! through the real engine and store, so benchmarks and the load tool run against a realistic
//! year instead of an empty file.
//!
//! ```text
//! cargo run --release --example history -- --days 365 --per-day 3000 --data /tmp/wl-year
//! cargo run --release --example history -- --days 2 --per-day 50 --data /tmp/wl-smoke  # CI
//! ```
//!
//! The demo clinic (2 services, 3 rooms) is seeded as a first start seeds it; then for each day,
//! from 08:00 to 20:00 UTC, tickets arrive evenly (4 in 5 for `general`, 2 % urgent, 18 %
//! priority, from a fixed pseudo-random sequence, so two runs build the same history) and each
//! open room presses "next" every few tens of seconds (each call finishes the ticket before; 1 in
//! 20 is marked not come instead, 1 in 25 is called again first). The
//! time is a [`ManualClock`] the generator moves: nothing sleeps. Every command goes through
//! [`Engine`] as a server's do (decide, one transaction per batch with its events and rows,
//! publish to a [`Hub`]); the engine closes each day when the clock reaches the next (tickets
//! still waiting are cancelled as unattended, the day's tickets go to the archive). The last day
//! generated is yesterday (by the system clock) unless `--start` says otherwise, so a server
//! started on the folder closes it and begins today.
//!
//! At the end it prints where the bytes went: each table's stored, metadata and fragmented
//! bytes (redb's table statistics), a ticket.
//!
//! Commits are not fsynced (`--fsync` turns it on): a crash while generating loses the file,
//! which is no loss. The data folder must not hold a database yet. Figures: docs/performance.md.
//!
//! `--train-dictionary FILE` then trains the dictionary the store packs its event log with
//! (`src/store/records.dict`, see `waitless::store::codec`) on the events just generated:
//!
//! ```text
//! cargo run --release --example history -- --days 20 --per-day 2740 --data /tmp/wl-dict \
//!     --train-dictionary src/store/records.dict
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use futures_util::future::join_all;
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp, ToSpan};
use waitless::clock::{Clock, ManualClock, SystemClock};
use waitless::config::Config;
use waitless::domain::{Command, Origin, PriorityClass, RoomId, ServiceId, Source};
use waitless::engine::{Engine, EngineParts, Outcome, load_or_seed};
use waitless::hub::Hub;
use waitless::store::{Store, StoreOptions};

const USAGE: &str = "\
usage: history --data DIR [--days N (365)] [--per-day M (3000)] [--start YYYY-MM-DD] [--fsync]
               [--train-dictionary FILE]
builds DIR/waitless.redb: N clinic days of M tickets each, through the engine and the store;
--train-dictionary writes a packing dictionary trained on the events to FILE";

/// The clinic's hours in which tickets arrive, seconds after its 08:00 opening.
const OPEN_SECS: i64 = 12 * 3600;

struct Args {
    data: PathBuf,
    days: u32,
    per_day: u32,
    start: Option<Date>,
    fsync: bool,
    dictionary: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut data = None;
    let mut days = 365;
    let mut per_day = 3000;
    let mut start = None;
    let mut fsync = false;
    let mut dictionary = None;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--data" => data = Some(PathBuf::from(value("--data")?)),
            "--days" => {
                days = value("--days")?
                    .parse()
                    .map_err(|e| format!("--days: {e}"))?
            }
            "--per-day" => {
                per_day = value("--per-day")?
                    .parse()
                    .map_err(|e| format!("--per-day: {e}"))?;
            }
            "--start" => {
                start = Some(
                    value("--start")?
                        .parse()
                        .map_err(|e| format!("--start: {e}"))?,
                );
            }
            "--fsync" => fsync = true,
            "--train-dictionary" => {
                dictionary = Some(PathBuf::from(value("--train-dictionary")?));
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let data = data.ok_or("--data DIR is required")?;
    if days == 0 || per_day == 0 {
        return Err("--days and --per-day must be at least 1".to_owned());
    }
    Ok(Args {
        data,
        days,
        per_day,
        start,
        fsync,
        dictionary,
    })
}

/// A fixed pseudo-random sequence (xorshift64*), so two runs build the same history.
struct Dice(u64);

impl Dice {
    fn roll(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33
    }

    /// A number in 0..100.
    fn percent(&mut self) -> u64 {
        self.roll() % 100
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("history: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("history: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let config = Config {
        data: args.data.clone(),
        ..Config::default()
    };
    let path = config.database_path();
    if path.exists() {
        return Err(format!(
            "{} exists: give --data a new folder",
            path.display()
        ));
    }
    std::fs::create_dir_all(&args.data)
        .map_err(|e| format!("cannot create {}: {e}", args.data.display()))?;
    let calendar = config.calendar().map_err(|e| e.to_string())?;
    let policy = config.policy();
    // the first day: N days before today, so the last one generated is yesterday
    let first = match args.start {
        Some(day) => day,
        None => calendar
            .day_of(SystemClock.now())
            .checked_sub(i64::from(args.days).days())
            .map_err(|e| e.to_string())?,
    };
    let zone = calendar.time_zone().clone();
    let opening = |day: Date| -> Result<Timestamp, String> {
        day.at(8, 0, 0, 0)
            .to_zoned(zone.clone())
            .map(|z| z.timestamp())
            .map_err(|e| e.to_string())
    };
    let clock = ManualClock::new(opening(first)?);
    let store = Arc::new(
        Store::open(
            &path,
            &StoreOptions {
                fsync: args.fsync,
                cache_bytes: config.store.cache_mib * 1024 * 1024,
            },
        )
        .map_err(|e| e.to_string())?,
    );
    let (books, recent) = load_or_seed(&store, &clock, &calendar).map_err(|e| e.to_string())?;
    let rooms: Vec<RoomId> = books.state.rooms.keys().cloned().collect();
    let general = ServiceId::parse("general").map_err(|e| e.to_string())?;
    let lab = ServiceId::parse("lab").map_err(|e| e.to_string())?;
    let hub = Arc::new(Hub::new(
        books.state.clone(),
        books.seq,
        recent,
        policy.clone(),
    ));
    let engine = Engine::start(
        EngineParts {
            store: Arc::clone(&store),
            hub,
            clock: Arc::new(clock.clone()),
            calendar,
            policy: policy.clone(),
            unwritable_restart: None,
            on_commit: None,
        },
        books,
    )
    .map_err(|e| e.to_string())?;
    let handle = engine.handle();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| e.to_string())?;

    // Each round (a few seconds to 40 s of clinic time) issues the tickets that arrive in it and
    // presses "next" once in every room: enough calls for the day's tickets, never inside the
    // debounce window.
    let per_day = i64::from(args.per_day);
    let debounce = policy.debounce.as_secs().max(0) + 1;
    let round_secs =
        (OPEN_SECS * i64::try_from(rooms.len()).unwrap_or(1) / per_day).clamp(debounce, 40);
    let origin = Origin::new(Source::Kiosk, "token:kiosk-1");
    let staff = Origin::new(Source::Staff, "user:admin");
    // each room's doctor at their own computer
    let doctors: Vec<Origin> = (0..rooms.len())
        .map(|i| {
            Origin::new(Source::Staff, format!("user:doctor{}", i + 1))
                .from_address(Some(format!("192.168.1.{}", 21 + i)))
        })
        .collect();
    let mut dice = Dice(0x5EED_CAFE_F00D_0001);
    let started = Instant::now();
    let (mut issued, mut calls, mut refused) = (0u64, 0u64, 0u64);
    let mut day = first;
    for n in 0..args.days {
        let open = opening(day)?;
        clock.set(open);
        let mut next_ticket = 0i64;
        let mut secs = 0i64;
        while next_ticket < per_day || secs < OPEN_SECS {
            // (command, who, whether a refusal is expected: a room serving nobody has nobody to
            // recall or mark not come)
            let mut commands: Vec<(Command, &Origin, bool)> = Vec::new();
            if secs == 0 {
                for room in &rooms {
                    let open = Command::SetRoomOpen {
                        room: room.clone(),
                        open: true,
                    };
                    commands.push((open, &staff, false));
                }
            }
            // tickets arriving in this round, evenly over the opening hours
            while next_ticket < per_day && next_ticket * OPEN_SECS / per_day < secs + round_secs {
                let service = if dice.percent() < 80 { &general } else { &lab };
                let priority = match dice.percent() {
                    0..2 => PriorityClass::Urgent,
                    2..20 => PriorityClass::Priority,
                    _ => PriorityClass::Normal,
                };
                let issue = Command::IssueTicket {
                    service: service.clone(),
                    priority,
                    idempotency_key: None,
                    patient: None,
                };
                commands.push((issue, &origin, false));
                next_ticket += 1;
            }
            for (room, doctor) in rooms.iter().zip(&doctors) {
                let room = room.clone();
                match dice.percent() {
                    0..4 => {
                        let recall = Command::RoomRecall { room: room.clone() };
                        commands.push((recall, doctor, true));
                        commands.push((Command::RoomNext { room }, doctor, false));
                    }
                    4..9 => commands.push((Command::RoomNoShowNext { room }, doctor, true)),
                    _ => commands.push((Command::RoomNext { room }, doctor, false)),
                }
            }
            // sent in order, answered together: the engine commits them as one batch
            let may_refuse: Vec<bool> = commands.iter().map(|c| c.2).collect();
            let outcomes = runtime.block_on(join_all(
                commands
                    .into_iter()
                    .map(|(command, origin, _)| handle.execute(command, origin.clone())),
            ));
            for (outcome, may_refuse) in outcomes.into_iter().zip(may_refuse) {
                match outcome {
                    Ok(Outcome::Applied(applied)) => match applied.event.kind.name() {
                        "ticket_issued" => issued += 1,
                        "room_next" => calls += 1,
                        _ => {}
                    },
                    Ok(_) => {}
                    Err(_) if may_refuse => {}
                    Err(_) => refused += 1,
                }
            }
            secs += round_secs;
            clock.advance(SignedDuration::from_secs(round_secs));
        }
        if (n + 1) % 30 == 0 || n + 1 == args.days {
            eprintln!(
                "day {} of {} ({day}): {issued} tickets, {calls} calls so far, {:.1} s",
                n + 1,
                args.days,
                started.elapsed().as_secs_f64()
            );
        }
        day = day.tomorrow().map_err(|e| e.to_string())?;
    }
    drop(handle);
    engine.stop();
    drop(store);
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{} days, {issued} tickets, {calls} calls, {refused} refused, in {elapsed:.1} s \
         ({:.0} tickets/s); {} is {:.1} MB ({:.0} bytes a ticket)",
        args.days,
        issued as f64 / elapsed,
        path.display(),
        bytes as f64 / 1e6,
        bytes as f64 / issued.max(1) as f64
    );
    print_tables(&path, issued)?;
    if let Some(file) = &args.dictionary {
        train_dictionary(&path, file)?;
    }
    if refused > 0 || issued != u64::from(args.days) * u64::from(args.per_day) {
        return Err(format!(
            "expected {} tickets and no refusal",
            u64::from(args.days) * u64::from(args.per_day)
        ));
    }
    Ok(())
}

/// Trains a packing dictionary on the events of the database at `path` (every event's JSON as
/// the store writes it, at most 40,000 spread over the whole log) and writes it to `file`;
/// prints how small it packs them against the dictionary the store has now.
fn train_dictionary(path: &std::path::Path, file: &std::path::Path) -> Result<(), String> {
    use waitless::store::codec;
    let options = StoreOptions {
        fsync: false,
        cache_bytes: 64 << 20,
    };
    let store = Store::open(path, &options).map_err(|e| e.to_string())?;
    let total = store.event_count().map_err(|e| e.to_string())?;
    let step = (total / 40_000).max(1);
    let mut samples: Vec<Vec<u8>> = Vec::new();
    let mut seq = 0;
    loop {
        let page = store.events_after(seq, 5_000).map_err(|e| e.to_string())?;
        let Some(last) = page.last() else { break };
        seq = last.seq;
        for event in page.iter().filter(|e| e.seq % step == 0) {
            samples.push(codec::encode(event, "event").map_err(|e| e.to_string())?);
        }
    }
    let dictionary =
        zstd::dict::from_samples(&samples, 16 * 1024).map_err(|e| format!("training: {e}"))?;
    std::fs::write(file, &dictionary).map_err(|e| format!("{}: {e}", file.display()))?;
    let json: usize = samples.iter().map(Vec::len).sum();
    let mut packer = zstd::bulk::Compressor::with_dictionary(3, &dictionary)
        .map_err(|e| format!("packing: {e}"))?;
    let mut packed_new = 0;
    let mut packed_now = 0;
    let mut out = Vec::new();
    for sample in &samples {
        packed_new += packer.compress(sample).map_err(|e| e.to_string())?.len();
        codec::pack_into(&mut out, sample, "event").map_err(|e| e.to_string())?;
        packed_now += out.len();
    }
    let n = samples.len().max(1);
    println!(
        "dictionary {} ({} bytes) trained on {} events: {} bytes of JSON an event packs to {} \
         (the store's dictionary now: {})",
        file.display(),
        dictionary.len(),
        samples.len(),
        json / n,
        packed_new / n,
        packed_now / n
    );
    Ok(())
}

/// Prints each table's share of the file: stored, metadata and fragmented bytes (redb's table
/// statistics), in bytes a ticket, largest first.
fn print_tables(path: &std::path::Path, tickets: u64) -> Result<(), String> {
    use redb::{ReadableDatabase, ReadableTableMetadata, TableHandle};
    let db = redb::Database::open(path).map_err(|e| e.to_string())?;
    let txn = db.begin_read().map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    for handle in txn.list_tables().map_err(|e| e.to_string())? {
        let name = handle.name().to_owned();
        let table = txn.open_untyped_table(handle).map_err(|e| e.to_string())?;
        let stats = table.stats().map_err(|e| e.to_string())?;
        let bytes = stats.stored_bytes() + stats.metadata_bytes() + stats.fragmented_bytes();
        rows.push((bytes, name, table.len().map_err(|e| e.to_string())?));
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    println!("table                  rows        MB   bytes a ticket");
    for (bytes, name, len) in rows.iter().filter(|r| r.0 > 0).take(8) {
        println!(
            "{name:<20} {len:>8} {:>9.1} {:>16.0}",
            *bytes as f64 / 1e6,
            *bytes as f64 / tickets.max(1) as f64
        );
    }
    Ok(())
}
