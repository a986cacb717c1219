//! `neqlab bench`: walker-steps per second on all cores.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};

use neqlab::dynamics::{Algorithm, Dynamics, Ensemble};
use neqlab::landscape::{BowlSpec, LandscapeSpec, RegressionNetSpec};

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

/// Median walker-steps per second of `repeats` runs of `walkers × steps`.
fn measure(spec: &LandscapeSpec, walkers: usize, steps: u64, repeats: usize) -> Result<f64> {
    let landscape = spec.build(Path::new("."))?;
    let eta = match spec {
        LandscapeSpec::Bowl(_) => 1e-2,
        LandscapeSpec::RegressionNet(_) => 1e-7,
        #[allow(unreachable_patterns)]
        _ => 1e-7,
    };
    let dynamics = Dynamics::new(Algorithm::Sgd, None, eta, 10, 0.0, landscape.n_examples())?;
    let start = landscape.start();
    let mut rates: Vec<f64> = (0..repeats.max(1))
        .map(|repeat| {
            let mut ensemble =
                Ensemble::new(landscape.as_ref(), dynamics, walkers, &start, repeat as u64);
            let started = Instant::now();
            ensemble.advance(landscape.as_ref(), steps, &mut ());
            (walkers as u64 * steps) as f64 / started.elapsed().as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    Ok(rates[rates.len() / 2])
}

/// Measure and print.
pub fn command(args: &BenchArgs) -> Result<()> {
    let &BenchArgs {
        json,
        walkers,
        steps,
        repeats,
    } = args;
    let bowl = LandscapeSpec::Bowl(BowlSpec::default());
    let bowl_rate = measure(&bowl, walkers, steps, repeats).context("bowl benchmark")?;
    let net = LandscapeSpec::RegressionNet(RegressionNetSpec::default());
    let net_rate = measure(&net, walkers, steps, repeats).context("net benchmark")?;
    // One walker runs on one thread: as many steps as the ensemble measurement, capped.
    let single_steps = (walkers as u64 * steps).clamp(1, 2_000_000);
    let net_single_rate =
        measure(&net, 1, single_steps, repeats).context("single-walker net benchmark")?;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "threads": rayon::current_num_threads(),
                "walkers": walkers,
                "steps": steps,
                "repeats": repeats,
                "single_walker_steps": single_steps,
                "bowl_walker_steps_per_second": bowl_rate,
                "net_walker_steps_per_second": net_rate,
                "net_single_walker_steps_per_second": net_single_rate,
            })
        );
    } else {
        println!(
            "threads: {}; {walkers} walkers x {steps} steps, median of {repeats}",
            rayon::current_num_threads()
        );
        println!("bowl (N = 100, B = 10, SGD WR): {bowl_rate:.4e} walker-steps/s");
        println!("net (N = 200, B = 10, SGD WR, eta = 1e-7): {net_rate:.4e} walker-steps/s");
        println!("net, one walker ({single_steps} steps): {net_single_rate:.4e} steps/s");
    }
    Ok(())
}
