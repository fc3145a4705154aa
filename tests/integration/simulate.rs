//! The clinic-day simulator (examples/simulate) on short days: invariants, not timings.

use waitless::config::Config;

#[path = "../../examples/simulate/sim.rs"]
mod sim;

/// Two busy hours with every behaviour turned up: bounces, leavers, cancellers, recalls,
/// transfers, a late doctor and a break.
const SHORT_DAY: &str = r#"
name = "short-day"
open = "09:00"
arrivals_per_hour = [40, 25]
urgent_share = 0.05
priority_share = 0.25
leave_share = 0.1
cancel_share = 0.1
patience_mins = [10, 40]
recall_share = 0.2
bounce_share = 0.5

[[services]]
id = "general"
prefix = "A"
share = 0.7
median_mins = 5
transfer_to = "lab"
transfer_share = 0.2

[[services]]
id = "lab"
prefix = "L"
share = 0.3
median_mins = 3

[[rooms]]
id = "room-1"
services = ["general"]
break_at_mins = 40
break_mins = 10

[[rooms]]
id = "room-2"
services = ["general", "lab"]
late_mins = 20
speed = 1.3

[[rooms]]
id = "lab"
services = ["lab"]
"#;

fn run(text: &str, seed: u64) -> sim::Report {
    let scenario = sim::Scenario::parse(text).unwrap();
    sim::simulate(&scenario, seed, &Config::default().policy()).unwrap()
}

#[test]
fn a_short_day_keeps_every_invariant() {
    for seed in 1..=5 {
        let r = run(SHORT_DAY, seed);
        assert_eq!(sim::problems(&r), Vec::<String>::new(), "seed {seed}");
        let o = &r.outcome;
        assert!(o.patients > 20, "seed {seed}: {o:?}");
        // everyone served or accounted for, nobody skipped
        assert_eq!(o.unfinished, 0, "seed {seed}");
        assert_eq!(
            o.done + o.no_show + o.cancelled + o.transferred,
            o.tickets,
            "seed {seed}"
        );
        assert_eq!(o.skipped, 0, "seed {seed}");
        // the bounces happened and called nobody
        assert!(o.bounces > 0 && o.debounced > 0, "seed {seed}: {o:?}");
        // estimates are ranges around the best guess (never negative: whole minutes)
        assert_eq!(o.inconsistent_estimates, 0, "seed {seed}");
        assert!(r.estimate.measured > 0 && r.estimate.median_abs_error_mins >= 0.0);
        assert!(r.fairness.compared > 0);
    }
}

#[test]
fn the_priority_head_start_bounds_who_a_priority_patient_passes() {
    let scenario = sim::Scenario::parse(SHORT_DAY).unwrap();
    let with = |minutes: u64, seed: u64| {
        let mut config = Config::default();
        config.queue.priority_head_start_mins = minutes;
        sim::simulate(&scenario, seed, &config.policy()).unwrap()
    };
    let mut passed_with_ten = 0;
    for seed in 1..=5 {
        // every pass within the rule, whatever the setting (the check reads the state's)
        for minutes in [0, 3, 10, 30] {
            let r = with(minutes, seed);
            assert_eq!(
                sim::problems(&r),
                Vec::<String>::new(),
                "{minutes} min, seed {seed}"
            );
        }
        // with no head start a priority patient passes nobody: first come, first served
        let none = with(0, seed);
        assert_eq!(
            none.fairness.passes_by_class.get("priority"),
            None,
            "seed {seed}: {:?}",
            none.fairness
        );
        passed_with_ten += with(10, seed)
            .fairness
            .passes_by_class
            .get("priority")
            .copied()
            .unwrap_or(0);
    }
    assert!(passed_with_ten > 0, "no priority patient ever went first");
}

#[test]
fn the_same_seed_gives_the_same_day() {
    assert_eq!(run(SHORT_DAY, 42), run(SHORT_DAY, 42));
    assert_ne!(run(SHORT_DAY, 42), run(SHORT_DAY, 43));
}

#[test]
fn the_shipped_scenarios_run_clean() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/scenarios");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let r = run(&text, 7);
        assert_eq!(
            sim::problems(&r),
            Vec::<String>::new(),
            "{}",
            path.display()
        );
        names.push(r.scenario);
    }
    names.sort();
    assert_eq!(names, ["busy-opd", "lab", "small-gp"]);
}

#[test]
fn bad_scenarios_say_what_is_wrong() {
    let cases = [
        (SHORT_DAY.replace("speed = 1.3", "sped = 1.3"), "sped"),
        (
            SHORT_DAY.replace(r#"services = ["lab"]"#, r#"services = ["xray"]"#),
            "unknown service \"xray\"",
        ),
        (
            SHORT_DAY.replace(r#"transfer_to = "lab""#, r#"transfer_to = "ward""#),
            "transfer_to \"ward\"",
        ),
        (SHORT_DAY.replace("09:00", "9h"), "HH:MM"),
        (
            SHORT_DAY.replace("bounce_share = 0.5", "bounce_share = 5"),
            "bounce_share",
        ),
    ];
    for (text, needle) in cases {
        let err = sim::Scenario::parse(&text).unwrap_err();
        assert!(err.contains(needle), "{needle:?} not in {err:?}");
    }
}
