//! `neqlab bench`: walker-steps per second on all cores.

use anyhow::{Context, Result};

/// Measure walker-steps per second on all cores.
#[derive(clap::Args)]
pub struct BenchArgs {
    #[arg(long)]
    json: bool,
    /// Walkers per measurement.
    #[arg(long, default_value_t = 1000)]
    walkers: usize,
    /// Steps per measurement.
    #[arg(long, default_value_t = 2000)]
    steps: u64,
    /// Repetitions; the median is reported.
    #[arg(long, default_value_t = 5)]
    repeats: usize,
}

/// Measure and print (the measurement itself is [`neqlab::bench`]).
pub fn command(args: &BenchArgs) -> Result<()> {
    use neqlab::fields::{CountField, STEPS, WALKERS};
    CountField {
        key: "--walkers",
        ..WALKERS
    }
    .check_usize(args.walkers)?;
    CountField {
        key: "--steps",
        ..STEPS
    }
    .check(args.steps)?;
    // The network has 7 weights, the most of the landscapes measured.
    neqlab::limits::simulation_demand(7, args.walkers, None, false)
        .renamed("dynamics.walkers", "--walkers")
        .check(&neqlab::limits::MemoryBudget::of_this_machine())?;
    let options = neqlab::bench::BenchOptions {
        walkers: args.walkers,
        steps: args.steps,
        repeats: args.repeats,
    };
    let report = neqlab::bench::run(&options).context("neqlab bench")?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}
