//! Clinic-day simulator: runs a named scenario's day against the real queue rules, with a
//! simulated clock (a day in about a second), and measures how right the wait estimates shown at
//! issue were and how fair the order was.
//!
//! ```text
//! cargo run --release --example simulate -- --scenario busy-opd --seed 7
//! cargo run --release --example simulate -- --scenario small-gp --seed 7 --json
//! cargo run --release --example simulate -- --scenario path/to/my-clinic.toml --seed 1
//! cargo run --release --example simulate -- --scenario busy-opd --seed 7 --head-start 5
//! ```
//!
//! A scenario is a TOML file: a bare name means `examples/scenarios/NAME.toml`. What is
//! simulated, the figures and what they say: docs/queue-quality.md.
//!
//! It exits non-zero when the day breaks an invariant: somebody unaccounted for (still waiting
//! at the end), somebody skipped (a bounce that called someone, a present patient marked
//! no-show), an inconsistent estimate, or a command the queue refused.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use waitless::config::Config;

mod sim;

/// Simulates a clinic day and measures wait estimates and fairness.
#[derive(Debug, Parser)]
struct Args {
    /// A scenario name (examples/scenarios/NAME.toml) or a path to a scenario file.
    #[arg(long, default_value = "small-gp")]
    scenario: String,
    /// The random seed: the same seed gives the same day.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// The priority head start in minutes (`queue.priority_head_start_mins`, 0–120): try a
    /// clinic's setting before changing it.
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=120))]
    head_start: Option<u64>,
}

fn scenario_path(name: &str) -> PathBuf {
    if name.ends_with(".toml") || name.contains('/') {
        PathBuf::from(name)
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("examples/scenarios")
            .join(format!("{name}.toml"))
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let path = scenario_path(&args.scenario);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!(
                "cannot read scenario {}: {e} (scenarios: examples/scenarios/*.toml)",
                path.display()
            );
            return ExitCode::from(2);
        }
    };
    let scenario = match sim::Scenario::parse(&text) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bad scenario {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    let mut config = Config::default();
    if let Some(minutes) = args.head_start {
        config.queue.priority_head_start_mins = minutes;
    }
    let report = match sim::simulate(&scenario, args.seed, &config.policy()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("simulation of {} failed: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("cannot write JSON: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print_table(&report);
    }
    let problems = sim::problems(&report);
    if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        for p in problems {
            eprintln!("invariant broken: {p}");
        }
        ExitCode::FAILURE
    }
}

fn print_table(r: &sim::Report) {
    let o = &r.outcome;
    let e = &r.estimate;
    let f = &r.fairness;
    println!("scenario {} · seed {}", r.scenario, r.seed);
    println!();
    println!("| outcome | |");
    println!("| --- | ---: |");
    for (name, v) in [
        ("patients", o.patients),
        ("tickets (transfers make a second)", o.tickets),
        ("served", o.done),
        ("no-show (had left)", o.no_show),
        ("cancelled after a long wait", o.cancelled),
        ("transferred", o.transferred),
        ("unfinished at the end", o.unfinished),
        ("skipped", o.skipped),
        ("issued with no estimate (no room open)", o.without_estimate),
        ("inconsistent estimates", o.inconsistent_estimates),
    ] {
        println!("| {name} | {v} |");
    }
    println!(
        "| presses / bounces / swallowed by debounce | {} / {} / {} |",
        o.presses, o.bounces, o.debounced
    );
    println!("| recalls | {} |", o.recalls);
    println!();
    println!("| wait estimate (shown at issue vs actual) | |");
    println!("| --- | ---: |");
    println!("| tickets measured | {} |", e.measured);
    println!("| median actual wait | {:.1} min |", e.median_wait_mins);
    println!(
        "| median absolute error | {:.1} min ({:.0} % of actual) |",
        e.median_abs_error_mins, e.median_abs_error_pct
    );
    println!("| p90 absolute error | {:.1} min |", e.p90_abs_error_mins);
    println!(
        "| median bias (shown − actual) | {:+.1} min |",
        e.median_bias_mins
    );
    println!(
        "| actual wait inside the shown range | {:.0} % |",
        e.in_range_pct
    );
    let by_class: Vec<String> = e
        .bias_by_class_mins
        .iter()
        .map(|(class, bias)| format!("{class} {bias:+.1}"))
        .collect();
    println!("| median bias by class | {} min |", by_class.join(", "));
    println!(
        "| a range holding 80 % would be best guess ± | {:.0} % |",
        e.range_for_80_pct
    );
    println!(
        "| median width of the shown range, % of the best guess | {:.0} % |",
        e.median_range_width_pct
    );
    println!();
    println!("| fairness (vs strict first come within the service) | |");
    println!("| --- | ---: |");
    println!("| non-urgent patients compared | {} |", f.compared);
    println!(
        "| wait ÷ FIFO wait: max / p95 | {:.2} / {:.2} |",
        f.max_ratio, f.p95_ratio
    );
    println!("| share over 1.5× | {:.1} % |", f.over_1_5_pct);
    println!(
        "| minutes more than the FIFO wait: p95 / max | {:.1} / {:.1} |",
        f.extra_mins_p95, f.extra_mins_max
    );
    let u = &f.urgent_first;
    println!(
        "| vs first come with urgent first: max / p95 / over 1.5× | {:.2} / {:.2} / {:.1} % |",
        u.max_ratio, u.p95_ratio, u.over_1_5_pct
    );
    println!(
        "| later arrivals called first, per patient: max / p95 | {} / {:.0} |",
        f.passed_by_later_max, f.passed_by_later_p95
    );
    let passes: Vec<String> = f
        .passes_by_class
        .iter()
        .map(|(class, n)| format!("{class} {n}"))
        .collect();
    println!(
        "| those passes, by the class that passed | {} |",
        passes.join(", ")
    );
    println!(
        "| passes against the call rule (must be 0) | {} |",
        f.out_of_order
    );
    println!("| longest wait | {:.0} min |", f.longest_wait_mins);
    println!("| anti-starvation calls | {} |", f.starvation_picks);
    println!();
    println!("| room | served | open min | busy min | idle min | per open hour |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for room in &r.rooms {
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.0} | {:.1} |",
            room.room, room.served, room.open_mins, room.busy_mins, room.idle_mins, room.per_hour
        );
    }
}
