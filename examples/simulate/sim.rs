//! The clinic-day simulator's core: scenarios, a seeded random source, the day's run against the
//! real queue rules (`QueueState::decide` / `apply` with a simulated clock) and the measures.
//!
//! Shared by `examples/simulate` (the tool) and the integration tests (a short day, checking
//! invariants). No sleeping: time is the simulation's own.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use waitless::domain::{
    Clinic, Command, Decision, EventKind, KioskSettings, Origin, PickReason, Policy, PriorityClass,
    QueueState, Room, RoomId, Service, ServiceId, ServiceTimes, Source, TicketId, TicketState,
};

// ---------------------------------------------------------------- scenarios

/// A named clinic day, read from a TOML file (examples/scenarios/*.toml).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Its name.
    pub name: String,
    /// When the rooms open and the first patients come, "HH:MM".
    pub open: String,
    /// Arrivals per hour, one entry per hour from `open`; arrivals stop after the last hour.
    pub arrivals_per_hour: Vec<f64>,
    /// Share of patients in the urgent class.
    #[serde(default)]
    pub urgent_share: f64,
    /// Share in the priority class (elderly, pregnant...).
    #[serde(default)]
    pub priority_share: f64,
    /// Share who leave unannounced after `patience_mins` (the room marks them no-show).
    #[serde(default)]
    pub leave_share: f64,
    /// Share who cancel at the desk after `patience_mins` if not called yet.
    #[serde(default)]
    pub cancel_share: f64,
    /// Patience of leavers and cancellers, minutes: uniform in [low, high].
    #[serde(default = "default_patience")]
    pub patience_mins: [f64; 2],
    /// Share who do not come at the first call (the room recalls them).
    #[serde(default)]
    pub recall_share: f64,
    /// Share of "next" presses that bounce (a second press 0.3 s later).
    #[serde(default)]
    pub bounce_share: f64,
    /// The services.
    pub services: Vec<ScenarioService>,
    /// The rooms.
    pub rooms: Vec<ScenarioRoom>,
}

fn default_patience() -> [f64; 2] {
    [30.0, 90.0]
}

/// A service of a scenario.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioService {
    /// Its id.
    pub id: String,
    /// Its ticket prefix.
    pub prefix: String,
    /// Its share of arrivals (shares are normalised).
    pub share: f64,
    /// Median service time, minutes (lognormal).
    pub median_mins: f64,
    /// The lognormal's sigma (spread).
    #[serde(default = "default_sigma")]
    pub sigma: f64,
    /// Where some of its patients go next (a transfer to this service).
    #[serde(default)]
    pub transfer_to: Option<String>,
    /// Share of its patients transferred there after being seen.
    #[serde(default)]
    pub transfer_share: f64,
}

fn default_sigma() -> f64 {
    0.5
}

/// A room of a scenario.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioRoom {
    /// Its id.
    pub id: String,
    /// The services it calls.
    pub services: Vec<String>,
    /// Its service times are the service's times × this (a slower doctor: > 1).
    #[serde(default = "default_speed")]
    pub speed: f64,
    /// The doctor starts this many minutes after opening.
    #[serde(default)]
    pub late_mins: f64,
    /// A break (the room goes on break after its current patient: open, calling nobody, as
    /// staff put it on break) at this many minutes after opening...
    #[serde(default)]
    pub break_at_mins: Option<f64>,
    /// ...for this long.
    #[serde(default)]
    pub break_mins: f64,
}

fn default_speed() -> f64 {
    1.0
}

impl Scenario {
    /// Parses and checks a scenario file's text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let s: Scenario = toml::from_str(text).map_err(|e| e.to_string())?;
        s.check()?;
        Ok(s)
    }

    fn check(&self) -> Result<(), String> {
        self.open_minutes()?;
        if self.arrivals_per_hour.is_empty() || self.arrivals_per_hour.iter().any(|r| *r < 0.0) {
            return Err("arrivals_per_hour: one rate ≥ 0 per hour, at least one hour".into());
        }
        for (name, v) in [
            ("urgent_share", self.urgent_share),
            ("priority_share", self.priority_share),
            ("leave_share", self.leave_share),
            ("cancel_share", self.cancel_share),
            ("recall_share", self.recall_share),
            ("bounce_share", self.bounce_share),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{name} = {v}: a share is between 0 and 1"));
            }
        }
        if self.urgent_share + self.priority_share > 1.0 {
            return Err("urgent_share + priority_share is more than 1".into());
        }
        if self.leave_share + self.cancel_share > 1.0 {
            return Err("leave_share + cancel_share is more than 1".into());
        }
        if self.patience_mins[0] < 0.0 || self.patience_mins[1] < self.patience_mins[0] {
            return Err("patience_mins = [low, high] with 0 ≤ low ≤ high".into());
        }
        if self.services.is_empty() || self.rooms.is_empty() {
            return Err("a scenario needs at least one service and one room".into());
        }
        let mut ids = Vec::new();
        for s in &self.services {
            ServiceId::parse(&s.id).map_err(|e| format!("service {:?}: {e}", s.id))?;
            if ids.contains(&&s.id) {
                return Err(format!("service {:?} is listed twice", s.id));
            }
            ids.push(&s.id);
            if s.share < 0.0 || s.median_mins <= 0.0 || s.sigma < 0.0 {
                return Err(format!(
                    "service {:?}: share ≥ 0, median_mins > 0 and sigma ≥ 0",
                    s.id
                ));
            }
            if !(0.0..=1.0).contains(&s.transfer_share) {
                return Err(format!("service {:?}: transfer_share in [0, 1]", s.id));
            }
        }
        if self.services.iter().map(|s| s.share).sum::<f64>() <= 0.0 {
            return Err("the services' shares add up to nothing".into());
        }
        for s in &self.services {
            if let Some(to) = &s.transfer_to
                && (!ids.contains(&to) || to == &s.id)
            {
                return Err(format!(
                    "service {:?}: transfer_to {to:?} is not another service of the scenario",
                    s.id
                ));
            }
        }
        let mut rooms = Vec::new();
        for r in &self.rooms {
            RoomId::parse(&r.id).map_err(|e| format!("room {:?}: {e}", r.id))?;
            if rooms.contains(&&r.id) {
                return Err(format!("room {:?} is listed twice", r.id));
            }
            rooms.push(&r.id);
            if r.services.is_empty() {
                return Err(format!("room {:?} calls no service", r.id));
            }
            for s in &r.services {
                if !ids.contains(&s) {
                    return Err(format!("room {:?}: unknown service {s:?}", r.id));
                }
            }
            if r.speed <= 0.0 || r.late_mins < 0.0 || r.break_mins < 0.0 {
                return Err(format!(
                    "room {:?}: speed > 0, late_mins ≥ 0, break_mins ≥ 0",
                    r.id
                ));
            }
        }
        for s in &self.services {
            if !self.rooms.iter().any(|r| r.services.contains(&s.id)) {
                return Err(format!("no room calls service {:?}", s.id));
            }
        }
        Ok(())
    }

    fn open_minutes(&self) -> Result<f64, String> {
        let bad = || format!("open = {:?}: expected \"HH:MM\"", self.open);
        let (h, m) = self.open.split_once(':').ok_or_else(bad)?;
        let h: u32 = h.parse().map_err(|_| bad())?;
        let m: u32 = m.parse().map_err(|_| bad())?;
        if h > 23 || m > 59 {
            return Err(bad());
        }
        Ok(f64::from(h * 60 + m))
    }
}

// ---------------------------------------------------------------- randomness

/// A small seeded generator (SplitMix64): the same seed gives the same day.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.unit(); // (0, 1]
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Exponential with this rate.
    pub fn exponential(&mut self, rate: f64) -> f64 {
        -(1.0 - self.unit()).ln() / rate
    }
}

// ---------------------------------------------------------------- the day

/// One patient, drawn before the day runs (so the strict-FIFO rerun sees the same people).
#[derive(Clone, Debug)]
struct Patient {
    arrive: f64,
    service: usize,
    class: PriorityClass,
    /// Seconds after arriving when they leave or cancel (if they do).
    patience: Option<(f64, bool)>,
    /// Does not come at the first call.
    recall: bool,
    /// Their visit's length as a standard normal draw (scaled per room and service).
    z: f64,
    /// Second leg: transferred to this service after being seen, with its own draw.
    transfer: Option<(usize, f64)>,
}

fn draw_patients(s: &Scenario, rng: &mut Rng) -> Vec<Patient> {
    let total_share: f64 = s.services.iter().map(|x| x.share).sum();
    let mut out = Vec::new();
    for (hour, rate) in s.arrivals_per_hour.iter().enumerate() {
        let (start, end) = (hour as f64 * 3600.0, (hour + 1) as f64 * 3600.0);
        if *rate <= 0.0 {
            continue;
        }
        let mut t = start + rng.exponential(rate / 3600.0);
        while t < end {
            let mut pick = rng.unit() * total_share;
            let mut service = 0;
            for (i, x) in s.services.iter().enumerate() {
                service = i;
                if pick < x.share {
                    break;
                }
                pick -= x.share;
            }
            let c = rng.unit();
            let class = if c < s.urgent_share {
                PriorityClass::Urgent
            } else if c < s.urgent_share + s.priority_share {
                PriorityClass::Priority
            } else {
                PriorityClass::Normal
            };
            let b = rng.unit();
            let [lo, hi] = s.patience_mins;
            let patience = (lo + rng.unit() * (hi - lo)) * 60.0;
            let patience = if b < s.leave_share {
                Some((patience, false))
            } else if b < s.leave_share + s.cancel_share {
                Some((patience, true))
            } else {
                None
            };
            let recall = rng.chance(s.recall_share);
            let z = rng.normal();
            let svc = &s.services[service];
            let transfer = match &svc.transfer_to {
                Some(to) if rng.chance(svc.transfer_share) => s
                    .services
                    .iter()
                    .position(|x| &x.id == to)
                    .map(|i| (i, rng.normal())),
                _ => None,
            };
            out.push(Patient {
                arrive: t,
                service,
                class,
                patience,
                recall,
                z,
                transfer,
            });
            t += rng.exponential(rate / 3600.0);
        }
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Arrive(usize),
    GiveUp(usize),
    RoomOpens(usize),
    Press(usize),
    Bounce(usize),
    Recall(usize),
    NoShow(usize),
    Seen(usize),
    BreakStarts(usize),
    BreakEnds(usize),
}

#[derive(Clone, Debug)]
struct SimRoom {
    id: RoomId,
    open: bool,
    on_break: bool,
    break_due: bool,
    /// Waiting for a ticket (no press scheduled).
    idle: bool,
    /// The leg being served: (patient, leg).
    serving: Option<(usize, usize)>,
    opened_at: f64,
    open_secs: f64,
    busy_secs: f64,
    busy_since: Option<f64>,
    /// When it last finished a patient (the day's end for its idle time).
    last_active: f64,
    served: u32,
}

/// What became of one ticket (a leg of a visit).
#[derive(Clone, Debug)]
struct Leg {
    patient: usize,
    ticket: TicketId,
    class: PriorityClass,
    issued: f64,
    eta: Option<waitless::domain::Eta>,
    called: Option<f64>,
}

/// The order a day is run in: as the appliance calls, or one of the yardsticks of fairness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    /// The appliance's rule, each patient in their class.
    AsIs,
    /// Everyone in the normal class: strict first come, first served within each service.
    FirstCome,
    /// Urgent patients first, everyone else in the normal class.
    UrgentThenFirstCome,
}

/// Runs one day in an [`Order`].
struct Day<'a> {
    s: &'a Scenario,
    policy: Policy,
    base: Timestamp,
    origin: Origin,
    state: QueueState,
    seq: u64,
    queue: BinaryHeap<Reverse<(i64, u64, Ev)>>,
    ev_seq: u64,
    rooms: Vec<SimRoom>,
    service_ids: Vec<ServiceId>,
    patients: Vec<Patient>,
    gone: Vec<bool>,
    legs: Vec<Leg>,
    by_ticket: HashMap<TicketId, usize>,
    rng: Rng,
    order: Order,
    stats: Counters,
}

#[derive(Clone, Debug, Default, Serialize)]
struct Counters {
    presses: u32,
    bounces: u32,
    bounce_calls: u32,
    debounced: u32,
    starvation_picks: u32,
    recalls: u32,
    transfers: u32,
    errors: Vec<String>,
}

const MS: f64 = 1000.0;

impl<'a> Day<'a> {
    fn new(
        s: &'a Scenario,
        patients: Vec<Patient>,
        policy: Policy,
        seed: u64,
        order: Order,
    ) -> Result<Self, String> {
        let date = jiff::civil::date(2026, 11, 23);
        let open = s.open_minutes()?;
        let base = date
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|e| e.to_string())?
            .timestamp()
            + SignedDuration::from_secs((open * 60.0) as i64);
        let mut state = QueueState::new(date);
        state.set_head_start(policy.priority_head_start);
        let service_ids: Vec<ServiceId> = s
            .services
            .iter()
            .map(|x| ServiceId::parse(&x.id).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        let services = s
            .services
            .iter()
            .zip(&service_ids)
            .enumerate()
            .map(|(i, (x, id))| Service {
                order: Some(i as u32),
                tone: None,
                icon: None,
                ask_priority: true,
                id: id.clone(),
                name: x.id.clone(),
                prefix: x.prefix.clone(),
                active: true,
                carry_over: false,
                names: BTreeMap::new(),
                reopens_at: None,
            })
            .collect();
        let mut rooms = Vec::new();
        let mut sim_rooms = Vec::new();
        for (i, r) in s.rooms.iter().enumerate() {
            let id = RoomId::parse(&r.id).map_err(|e| e.to_string())?;
            rooms.push(Room {
                order: Some(i as u32),
                id: id.clone(),
                name: r.id.clone(),
                names: BTreeMap::new(),
                services: r
                    .services
                    .iter()
                    .map(|x| ServiceId::parse(x).map_err(|e| e.to_string()))
                    .collect::<Result<_, _>>()?,
                open: false,
                paused: false,
                serving: None,
                last_next: None,
                stats: ServiceTimes::default(),
            });
            sim_rooms.push(SimRoom {
                id,
                open: false,
                on_break: false,
                break_due: false,
                idle: false,
                serving: None,
                opened_at: 0.0,
                open_secs: 0.0,
                busy_secs: 0.0,
                busy_since: None,
                last_active: 0.0,
                served: 0,
            });
        }
        let clinic = Clinic {
            name: s.name.clone(),
            message: String::new(),
            kiosk: KioskSettings::default(),
            pairing_required: false,
        };
        let origin = Origin::new(Source::Kiosk, "simulator");
        state.apply(&QueueState::event(
            1,
            base,
            &origin,
            EventKind::ClinicSeeded {
                clinic,
                services,
                rooms,
            },
        ));
        let n = patients.len();
        let mut day = Day {
            s,
            policy,
            base,
            origin,
            state,
            seq: 1,
            queue: BinaryHeap::new(),
            ev_seq: 0,
            rooms: sim_rooms,
            service_ids,
            patients,
            gone: vec![false; n],
            legs: Vec::new(),
            by_ticket: HashMap::new(),
            rng: Rng::new(seed ^ 0x0005_EED0_FDA7),
            order,
            stats: Counters::default(),
        };
        for i in 0..n {
            let p = &day.patients[i];
            let (arrive, patience) = (p.arrive, p.patience);
            day.at(arrive, Ev::Arrive(i));
            if let Some((after, _)) = patience {
                day.at(arrive + after, Ev::GiveUp(i));
            }
        }
        for (i, r) in s.rooms.iter().enumerate() {
            day.at(r.late_mins * 60.0, Ev::RoomOpens(i));
            if let Some(at) = r.break_at_mins {
                day.at(at * 60.0, Ev::BreakStarts(i));
            }
        }
        Ok(day)
    }

    fn at(&mut self, t: f64, ev: Ev) {
        self.ev_seq += 1;
        self.queue
            .push(Reverse(((t * MS).round() as i64, self.ev_seq, ev)));
    }

    fn now_ts(&self, t: f64) -> Timestamp {
        self.base + SignedDuration::from_millis((t * MS).round() as i64)
    }

    fn room_id(&self, r: usize) -> RoomId {
        self.rooms[r].id.clone()
    }

    /// Decides and applies one command; returns the decision.
    fn send(&mut self, t: f64, command: Command, source: Source) -> Option<Decision> {
        let now = self.now_ts(t);
        let origin = Origin::new(source, self.origin.actor.clone());
        match self.state.decide(&command, &origin, now, &self.policy) {
            Ok(decision) => {
                if let Decision::Event(kind) = &decision {
                    self.seq += 1;
                    let event = QueueState::event(self.seq, now, &origin, kind.clone());
                    self.state.apply(&event);
                }
                Some(decision)
            }
            Err(e) => {
                self.stats.errors.push(format!("{command:?}: {e}"));
                None
            }
        }
    }

    fn issue(&mut self, t: f64, patient: usize, leg_service: usize) {
        let class = match (self.order, self.patients[patient].class) {
            (Order::AsIs, class) | (Order::UrgentThenFirstCome, class @ PriorityClass::Urgent) => {
                class
            }
            _ => PriorityClass::Normal,
        };
        let command = Command::IssueTicket {
            service: self.service_ids[leg_service].clone(),
            priority: class,
            idempotency_key: None,
            patient: None,
        };
        if let Some(Decision::Event(EventKind::TicketIssued { ticket, .. })) =
            self.send(t, command, Source::Kiosk)
        {
            self.record_leg(t, patient, leg_service, ticket.id, class);
        }
    }

    fn record_leg(
        &mut self,
        t: f64,
        patient: usize,
        service: usize,
        id: TicketId,
        class: PriorityClass,
    ) {
        let eta = self
            .state
            .tickets
            .get(&id)
            .and_then(|ticket| self.state.placement(ticket, &self.policy))
            .and_then(|p| p.eta);
        self.by_ticket.insert(id, self.legs.len());
        self.legs.push(Leg {
            patient,
            ticket: id,
            class,
            issued: t,
            eta,
            called: None,
        });
        self.wake(t, service);
    }

    /// Idle open rooms that call this service press "next" (a few seconds later).
    fn wake(&mut self, t: f64, service: usize) {
        let sid = &self.s.services[service].id;
        for r in 0..self.rooms.len() {
            let room = &self.rooms[r];
            if room.open && room.idle && self.s.rooms[r].services.contains(sid) {
                self.rooms[r].idle = false;
                self.at(t + 5.0, Ev::Press(r));
            }
        }
    }

    fn run(mut self) -> Result<Outcome, String> {
        while let Some(Reverse((ms, _, ev))) = self.queue.pop() {
            let t = ms as f64 / MS;
            self.step(t, ev);
            if t > 36.0 * 3600.0 {
                return Err("the day did not end within 36 hours".into());
            }
        }
        // a room's day ends with its last patient (idle after that is not counted)
        for r in &mut self.rooms {
            if r.open && r.last_active > r.opened_at {
                r.open_secs += r.last_active - r.opened_at;
            }
        }
        Ok(Outcome {
            legs: self.legs,
            rooms: self.rooms,
            stats: self.stats,
            state: self.state,
            patients: self.patients,
            room_names: self.s.rooms.iter().map(|x| x.id.clone()).collect(),
            base: self.base,
        })
    }

    fn step(&mut self, t: f64, ev: Ev) {
        match ev {
            Ev::Arrive(p) => {
                let service = self.patients[p].service;
                self.issue(t, p, service);
            }
            Ev::GiveUp(p) => {
                self.gone[p] = true;
                let cancels = matches!(self.patients[p].patience, Some((_, true)));
                let leg = self.legs.iter().position(|l| l.patient == p);
                if let (true, Some(leg)) = (cancels, leg) {
                    let id = self.legs[leg].ticket;
                    let waiting = self
                        .state
                        .tickets
                        .get(&id)
                        .is_some_and(|x| x.state == TicketState::Waiting);
                    if waiting {
                        self.send(t, Command::CancelTicket { ticket: id }, Source::Reception);
                    }
                }
            }
            Ev::RoomOpens(r) | Ev::BreakEnds(r) => {
                let room = self.room_id(r);
                let command = if matches!(ev, Ev::BreakEnds(_)) {
                    Command::SetRoomPaused {
                        room,
                        paused: false,
                    }
                } else {
                    Command::SetRoomOpen { room, open: true }
                };
                self.send(t, command, Source::Staff);
                let sr = &mut self.rooms[r];
                sr.open = true;
                sr.on_break = false;
                sr.opened_at = t;
                sr.idle = false;
                self.at(t, Ev::Press(r));
            }
            Ev::BreakStarts(r) => {
                if !self.rooms[r].open {
                    return;
                }
                self.rooms[r].break_due = true;
                if self.rooms[r].idle {
                    self.go_on_break(t, r);
                }
            }
            Ev::Press(r) => self.press(t, r),
            Ev::Bounce(r) => {
                let room = self.room_id(r);
                match self.send(t, Command::RoomNext { room }, Source::Button) {
                    Some(Decision::Debounced { .. }) => self.stats.debounced += 1,
                    Some(Decision::Event(EventKind::RoomNext { called, .. })) => {
                        // a bounce called somebody: a skip unless that is found out below
                        self.stats.bounce_calls += 1;
                        if let Some(c) = called {
                            self.mark_called(t, c.id);
                        }
                    }
                    _ => {}
                }
            }
            Ev::Recall(r) => {
                let room = self.room_id(r);
                self.send(t, Command::RoomRecall { room }, Source::Staff);
                self.stats.recalls += 1;
                if let Some((p, leg)) = self.rooms[r].serving {
                    let came = !self.gone[p];
                    if came {
                        self.start_seeing(t + 60.0, r, p, leg);
                    } else {
                        self.at(t + 120.0, Ev::NoShow(r));
                    }
                }
            }
            Ev::NoShow(r) => {
                let room = self.room_id(r);
                self.send(t, Command::RoomNoShow { room }, Source::Staff);
                self.end_busy(t, r);
                self.rooms[r].serving = None;
                self.after_finish(t, r);
            }
            Ev::Seen(r) => {
                self.rooms[r].served += 1;
                if let Some((p, leg)) = self.rooms[r].serving {
                    let transfer = self.patients[p].transfer.filter(|_| leg == 0);
                    if let Some((to, _)) = transfer {
                        let id = self.legs_of(p, leg).map(|l| l.ticket);
                        if let Some(id) = id {
                            let command = Command::TransferTicket {
                                ticket: id,
                                service: self.service_ids[to].clone(),
                            };
                            if let Some(Decision::Event(EventKind::TicketTransferred {
                                to: new,
                                ..
                            })) = self.send(t, command, Source::Staff)
                            {
                                self.stats.transfers += 1;
                                let class = self.legs[self.by_ticket[&id]].class;
                                self.record_leg(t, p, to, new.id, class);
                            }
                        }
                        self.end_busy(t, r);
                        self.rooms[r].serving = None;
                        // the room presses "next" (nothing to finish: the ticket moved on)
                        self.after_finish(t, r);
                        return;
                    }
                }
                self.end_busy(t, r);
                self.after_finish(t, r);
            }
        }
    }

    fn legs_of(&self, p: usize, leg: usize) -> Option<&Leg> {
        self.legs.iter().filter(|l| l.patient == p).nth(leg)
    }

    fn end_busy(&mut self, t: f64, r: usize) {
        if let Some(since) = self.rooms[r].busy_since.take() {
            self.rooms[r].busy_secs += t - since;
        }
        self.rooms[r].last_active = t;
    }

    /// The room finished with its patient: a break, or the next one.
    fn after_finish(&mut self, t: f64, r: usize) {
        if self.rooms[r].break_due {
            if self.rooms[r].serving.is_some() {
                let room = self.room_id(r);
                self.send(t, Command::RoomDone { room }, Source::Staff);
                self.rooms[r].serving = None;
            }
            self.go_on_break(t, r);
        } else {
            self.press(t, r);
        }
    }

    fn go_on_break(&mut self, t: f64, r: usize) {
        let room = self.room_id(r);
        self.send(
            t,
            Command::SetRoomPaused { room, paused: true },
            Source::Staff,
        );
        let sr = &mut self.rooms[r];
        sr.open_secs += t - sr.opened_at;
        sr.open = false;
        sr.on_break = true;
        sr.break_due = false;
        sr.idle = false;
        let mins = self.s.rooms[r].break_mins;
        self.at(t + mins * 60.0, Ev::BreakEnds(r));
    }

    fn press(&mut self, t: f64, r: usize) {
        if !self.rooms[r].open {
            return;
        }
        let room = self.room_id(r);
        self.stats.presses += 1;
        let decision = self.send(t, Command::RoomNext { room }, Source::Button);
        if self.rng.chance(self.s.bounce_share) {
            self.stats.bounces += 1;
            self.at(t + 0.3, Ev::Bounce(r));
        }
        self.rooms[r].serving = None;
        match decision {
            Some(Decision::Event(EventKind::RoomNext {
                called: Some(c),
                reason,
                ..
            })) => {
                if matches!(reason, Some(PickReason::Starvation { .. })) {
                    self.stats.starvation_picks += 1;
                }
                self.mark_called(t, c.id);
                let Some(&li) = self.by_ticket.get(&c.id) else {
                    return;
                };
                let p = self.legs[li].patient;
                let leg = self
                    .legs
                    .iter()
                    .filter(|l| l.patient == p)
                    .position(|l| l.ticket == c.id)
                    .unwrap_or(0);
                self.rooms[r].serving = Some((p, leg));
                self.rooms[r].busy_since = Some(t);
                if self.gone[p] || self.patients[p].recall {
                    self.at(t + 60.0, Ev::Recall(r));
                } else {
                    self.start_seeing(t + 30.0, r, p, leg);
                }
            }
            _ => self.rooms[r].idle = true,
        }
    }

    fn mark_called(&mut self, t: f64, id: TicketId) {
        if let Some(&li) = self.by_ticket.get(&id)
            && self.legs[li].called.is_none()
        {
            self.legs[li].called = Some(t);
        }
    }

    fn start_seeing(&mut self, t: f64, r: usize, p: usize, leg: usize) {
        let patient = &self.patients[p];
        let (service, z) = match (leg, patient.transfer) {
            (1, Some((to, z))) => (to, z),
            _ => (patient.service, patient.z),
        };
        let svc = &self.s.services[service];
        let mins = svc.median_mins * self.s.rooms[r].speed * (svc.sigma * z).exp();
        let secs = (mins * 60.0).max(30.0);
        self.at(t + secs, Ev::Seen(r));
    }
}

struct Outcome {
    legs: Vec<Leg>,
    rooms: Vec<SimRoom>,
    stats: Counters,
    state: QueueState,
    patients: Vec<Patient>,
    room_names: Vec<String>,
    base: Timestamp,
}

// ---------------------------------------------------------------- measures

/// The day's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The scenario.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// What became of everyone.
    pub outcome: Accounting,
    /// Wait-estimate accuracy (first leg of each visit, called patients).
    pub estimate: Accuracy,
    /// Fairness against strict first come, first served within each service.
    pub fairness: Fairness,
    /// Per room.
    pub rooms: Vec<RoomFigures>,
    /// Commands the queue refused (should be none).
    pub errors: Vec<String>,
}

/// What became of the patients and their tickets.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Accounting {
    /// Patients who came.
    pub patients: usize,
    /// Tickets issued (transfers make a second one).
    pub tickets: usize,
    /// Tickets served.
    pub done: usize,
    /// No-shows (the patient had left).
    pub no_show: usize,
    /// Cancelled at the desk.
    pub cancelled: usize,
    /// Transferred to another service.
    pub transferred: usize,
    /// Still waiting or called at the end (should be 0).
    pub unfinished: usize,
    /// Present patients finished without being seen, or called by a bounce (should be 0).
    pub skipped: usize,
    /// "next" presses, bounces, and bounces the debounce swallowed.
    pub presses: u32,
    /// Bounced presses.
    pub bounces: u32,
    /// Bounces the debounce swallowed.
    pub debounced: u32,
    /// Recalls.
    pub recalls: u32,
    /// Estimates whose low > best guess or best guess > high (should be 0).
    pub inconsistent_estimates: usize,
    /// Tickets issued with no estimate (no open room).
    pub without_estimate: usize,
}

/// Estimate shown at issue vs the actual wait until the first call.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Accuracy {
    /// Tickets measured.
    pub measured: usize,
    /// Median |estimate − actual|, minutes.
    pub median_abs_error_mins: f64,
    /// Median |estimate − actual| ÷ actual (actual floored at 1 minute), percent.
    pub median_abs_error_pct: f64,
    /// 90th percentile |estimate − actual|, minutes.
    pub p90_abs_error_mins: f64,
    /// Median (estimate − actual), minutes: negative means waits are longer than shown.
    pub median_bias_mins: f64,
    /// Share (percent) whose actual wait fell inside the shown range.
    pub in_range_pct: f64,
    /// Median actual wait, minutes.
    pub median_wait_mins: f64,
    /// Median bias by class (normal, priority, urgent), minutes.
    pub bias_by_class_mins: BTreeMap<String, f64>,
    /// The ± share of the best guess a range would need to hold 80 % of actual waits (the 80th
    /// percentile of |actual − best| ÷ best, best floored at 1 minute), percent.
    pub range_for_80_pct: f64,
    /// Median width of the shown range (high − low) ÷ the best guess (floored at 1 minute),
    /// percent: how useful the range is.
    pub median_range_width_pct: f64,
}

/// Waits compared with a rerun of the same day in strict first-come order, and how often a
/// later arrival was called first.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fairness {
    /// Non-urgent patients compared (called in both runs).
    pub compared: usize,
    /// Largest wait ÷ strict-FIFO wait (FIFO wait floored at 5 minutes).
    pub max_ratio: f64,
    /// 95th percentile of that ratio.
    pub p95_ratio: f64,
    /// Share (percent) above 1.5.
    pub over_1_5_pct: f64,
    /// Minutes longer than the strict-FIFO wait: 95th percentile and largest (negative: shorter).
    pub extra_mins_p95: f64,
    /// See `extra_mins_p95`.
    pub extra_mins_max: f64,
    /// The same ratios against a rerun in which urgent patients still go first (everyone else
    /// first come): what the priority class and the day's chance cost, urgent care left out.
    pub urgent_first: Ratios,
    /// Per non-urgent patient, the later arrivals of their service called before them (in this
    /// day): largest and 95th percentile.
    pub passed_by_later_max: u32,
    /// See `passed_by_later_max`.
    pub passed_by_later_p95: f64,
    /// Those passes by class of the one who passed: urgent, priority (within the head start),
    /// normal or booked (anti-starvation, a recall or a transfer moved them).
    pub passes_by_class: BTreeMap<String, u32>,
    /// Passes the call rule does not allow (must be 0): a non-urgent patient called before an
    /// earlier one other than a priority patient within its head start of a walk-in.
    pub out_of_order: u32,
    /// The longest wait anyone had, minutes.
    pub longest_wait_mins: f64,
    /// Calls the anti-starvation rule made.
    pub starvation_picks: u32,
}

/// Waits ÷ the waits of a yardstick day.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ratios {
    /// Largest (the yardstick's wait floored at 5 minutes).
    pub max_ratio: f64,
    /// 95th percentile.
    pub p95_ratio: f64,
    /// Share (percent) above 1.5.
    pub over_1_5_pct: f64,
}

/// One room's day.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RoomFigures {
    /// The room.
    pub room: String,
    /// Patients seen.
    pub served: u32,
    /// Minutes open.
    pub open_mins: f64,
    /// Minutes busy (calling, recalling, seeing).
    pub busy_mins: f64,
    /// Minutes open and idle.
    pub idle_mins: f64,
    /// Patients per open hour.
    pub per_hour: f64,
}

fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let i = ((values.len() - 1) as f64 * q).round() as usize;
    values[i.min(values.len() - 1)]
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Simulates the scenario's day from `seed` (and the strict-FIFO rerun) and measures it.
pub fn simulate(s: &Scenario, seed: u64, policy: &Policy) -> Result<Report, String> {
    s.check()?;
    let patients = draw_patients(s, &mut Rng::new(seed));
    let day = Day::new(s, patients.clone(), policy.clone(), seed, Order::AsIs)?.run()?;
    let fifo = Day::new(s, patients.clone(), policy.clone(), seed, Order::FirstCome)?.run()?;
    let urgent_first = Day::new(
        s,
        patients,
        policy.clone(),
        seed,
        Order::UrgentThenFirstCome,
    )?
    .run()?;
    Ok(measure(s, seed, &day, [&fifo, &urgent_first]))
}

fn first_wait(o: &Outcome) -> HashMap<usize, f64> {
    let mut out = HashMap::new();
    for l in &o.legs {
        if let Some(c) = l.called {
            out.entry(l.patient).or_insert(c - l.issued);
        }
    }
    out
}

/// Each non-urgent patient's first wait ÷ their first wait in `yardstick` (floored at 5
/// minutes), and the minutes more.
fn against(day: &Outcome, yardstick: &Outcome) -> (Vec<f64>, Vec<f64>) {
    let strict = first_wait(yardstick);
    let mut ratios = Vec::new();
    let mut extra = Vec::new();
    for (p, w) in &first_wait(day) {
        if day.patients[*p].class == PriorityClass::Urgent {
            continue;
        }
        if let Some(f) = strict.get(p) {
            ratios.push(w / f.max(300.0));
            extra.push((w - f) / 60.0);
        }
    }
    (ratios, extra)
}

fn ratios(mut values: Vec<f64>) -> Ratios {
    let over = values.iter().filter(|r| **r > 1.5).count();
    Ratios {
        max_ratio: round2(values.iter().copied().fold(0.0, f64::max)),
        p95_ratio: round2(quantile(&mut values, 0.95)),
        over_1_5_pct: round2(if values.is_empty() {
            0.0
        } else {
            over as f64 * 100.0 / values.len() as f64
        }),
    }
}

/// Per non-urgent first leg, how many later first legs of the same service were called before
/// it; those passes counted by the passing ticket's class; and how many of them the call rule
/// does not allow (see [`Fairness::out_of_order`]).
fn passes_by_later(day: &Outcome) -> (Vec<u32>, BTreeMap<String, u32>, u32) {
    let mut by_service: HashMap<usize, Vec<&Leg>> = HashMap::new();
    let mut seen = HashSet::new();
    for l in &day.legs {
        // a patient's first leg only (a transfer is a second ticket, issued later)
        if l.called.is_some() && seen.insert(l.patient) {
            by_service
                .entry(day.patients[l.patient].service)
                .or_default()
                .push(l);
        }
    }
    let mut counts = Vec::new();
    let mut by_class: BTreeMap<String, u32> = BTreeMap::new();
    let mut out_of_order = 0;
    let head_start = day.state.head_start().as_secs_f64();
    for legs in by_service.values() {
        for me in legs.iter().filter(|l| l.class != PriorityClass::Urgent) {
            let called = me.called.unwrap_or(f64::MAX);
            let mut n = 0;
            for other in legs {
                if other.issued > me.issued && other.called.is_some_and(|c| c < called) {
                    n += 1;
                    *by_class.entry(other.class.as_str().to_owned()).or_default() += 1;
                    let allowed = other.class == PriorityClass::Urgent
                        || (other.class == PriorityClass::Priority
                            && me.class == PriorityClass::Normal
                            && other.issued - me.issued < head_start);
                    out_of_order += u32::from(!allowed);
                }
            }
            counts.push(n);
        }
    }
    (counts, by_class, out_of_order)
}

fn measure(s: &Scenario, seed: u64, day: &Outcome, yardsticks: [&Outcome; 2]) -> Report {
    let count = |st: TicketState| day.state.tickets.values().filter(|t| t.state == st).count();
    let mut skipped = day.stats.bounce_calls as usize;
    // a no-show whose patient had not left is a skip
    for l in &day.legs {
        if let Some(t) = day.state.tickets.get(&l.ticket) {
            let p = &day.patients[l.patient];
            let left_by = p.patience.map(|(after, _)| p.arrive + after);
            let finished = t
                .finished_at
                .map(|f| f.duration_since(day.base).as_secs_f64());
            if t.state == TicketState::NoShow {
                let had_left = matches!((left_by, finished), (Some(lb), Some(f)) if lb <= f);
                if !had_left {
                    skipped += 1;
                }
            }
        }
    }
    let mut inconsistent = 0;
    let mut without = 0;
    let mut abs = Vec::new();
    let mut pct = Vec::new();
    let mut bias = Vec::new();
    let mut waits = Vec::new();
    let mut inside = 0usize;
    let mut by_class: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut spread = Vec::new();
    let mut widths = Vec::new();
    let mut first_leg_seen = std::collections::HashSet::new();
    for l in &day.legs {
        let first = first_leg_seen.insert(l.patient);
        match l.eta {
            None => without += 1,
            Some(e) if e.low > e.minutes || e.minutes > e.high => inconsistent += 1,
            _ => {}
        }
        if !first {
            continue;
        }
        if let (Some(e), Some(c)) = (l.eta, l.called) {
            let actual = (c - l.issued) / 60.0;
            let err = f64::from(e.minutes) - actual;
            abs.push(err.abs());
            pct.push(err.abs() / actual.max(1.0) * 100.0);
            bias.push(err);
            by_class
                .entry(format!("{:?}", l.class).to_lowercase())
                .or_default()
                .push(err);
            spread.push(err.abs() / f64::from(e.minutes).max(1.0) * 100.0);
            widths.push(f64::from(e.high - e.low) / f64::from(e.minutes).max(1.0) * 100.0);
            waits.push(actual);
            // A 0–0 range is shown as "soon" (kiosk, ticket, status page): up to a minute.
            let high = if e.high == 0 { 1.0 } else { f64::from(e.high) };
            if f64::from(e.low) <= actual && actual <= high {
                inside += 1;
            }
        }
    }
    let measured = abs.len();
    let estimate = Accuracy {
        measured,
        median_abs_error_mins: round2(quantile(&mut abs.clone(), 0.5)),
        median_abs_error_pct: round2(quantile(&mut pct, 0.5)),
        p90_abs_error_mins: round2(quantile(&mut abs, 0.9)),
        median_bias_mins: round2(quantile(&mut bias, 0.5)),
        in_range_pct: round2(if measured == 0 {
            0.0
        } else {
            inside as f64 * 100.0 / measured as f64
        }),
        median_wait_mins: round2(quantile(&mut waits.clone(), 0.5)),
        bias_by_class_mins: by_class
            .into_iter()
            .map(|(k, mut v)| (k, round2(quantile(&mut v, 0.5))))
            .collect(),
        range_for_80_pct: round2(quantile(&mut spread, 0.8)),
        median_range_width_pct: round2(quantile(&mut widths, 0.5)),
    };
    let (fifo_ratios, mut extra) = against(day, yardsticks[0]);
    let compared = fifo_ratios.len();
    let strict = ratios(fifo_ratios);
    let (mut passes, passes_by_class, out_of_order) = passes_by_later(day);
    let fairness = Fairness {
        compared,
        max_ratio: strict.max_ratio,
        p95_ratio: strict.p95_ratio,
        over_1_5_pct: strict.over_1_5_pct,
        extra_mins_p95: round2(quantile(&mut extra, 0.95)),
        extra_mins_max: round2(extra.iter().copied().fold(f64::MIN, f64::max).max(0.0)),
        urgent_first: ratios(against(day, yardsticks[1]).0),
        passed_by_later_max: passes.iter().copied().max().unwrap_or(0),
        passed_by_later_p95: {
            let mut p: Vec<f64> = passes.drain(..).map(f64::from).collect();
            quantile(&mut p, 0.95)
        },
        passes_by_class,
        out_of_order,
        longest_wait_mins: round2(first_wait(day).values().copied().fold(0.0, f64::max) / 60.0),
        starvation_picks: day.stats.starvation_picks,
    };
    let rooms = day
        .rooms
        .iter()
        .zip(&day.room_names)
        .map(|(r, name)| {
            let open = r.open_secs / 60.0;
            let busy = r.busy_secs / 60.0;
            RoomFigures {
                room: name.clone(),
                served: r.served,
                open_mins: round2(open),
                busy_mins: round2(busy),
                idle_mins: round2((open - busy).max(0.0)),
                per_hour: round2(if open > 0.0 {
                    f64::from(r.served) * 60.0 / open
                } else {
                    0.0
                }),
            }
        })
        .collect();
    Report {
        scenario: s.name.clone(),
        seed,
        outcome: Accounting {
            patients: day.patients.len(),
            tickets: day.state.tickets.len(),
            done: count(TicketState::Done),
            no_show: count(TicketState::NoShow),
            cancelled: count(TicketState::Cancelled),
            transferred: count(TicketState::Transferred),
            unfinished: count(TicketState::Waiting) + count(TicketState::Called),
            skipped,
            presses: day.stats.presses,
            bounces: day.stats.bounces,
            debounced: day.stats.debounced,
            recalls: day.stats.recalls,
            inconsistent_estimates: inconsistent,
            without_estimate: without,
        },
        estimate,
        fairness,
        rooms,
        errors: day.stats.errors.clone(),
    }
}

/// The invariants a day must keep, broken ones described (empty: all kept).
pub fn problems(r: &Report) -> Vec<String> {
    let o = &r.outcome;
    let mut out = Vec::new();
    if o.unfinished > 0 {
        out.push(format!(
            "{} tickets still waiting or called at the end",
            o.unfinished
        ));
    }
    let accounted = o.done + o.no_show + o.cancelled + o.transferred + o.unfinished;
    if accounted != o.tickets {
        out.push(format!(
            "{accounted} of {} tickets accounted for",
            o.tickets
        ));
    }
    if o.skipped > 0 {
        out.push(format!("{} patients skipped", o.skipped));
    }
    if o.inconsistent_estimates > 0 {
        out.push(format!(
            "{} estimates with low > best or best > high",
            o.inconsistent_estimates
        ));
    }
    if r.fairness.out_of_order > 0 {
        out.push(format!(
            "{} patients called before an earlier one against the call rule",
            r.fairness.out_of_order
        ));
    }
    for e in &r.errors {
        out.push(format!("refused: {e}"));
    }
    out
}
