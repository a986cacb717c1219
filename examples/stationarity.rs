//! Is a run stationary? Runs a preset from its point start and from `start = "stationary"`,
//! and prints the verdict, the relaxation times recorded, the occupations and the total
//! variation against the Fokker–Planck density with its sampling floor (docs/theory.md §9).
//! Also a recipe for wiring the relaxation API into a run report.
//!
//! ```text
//! cargo run --release --example stationarity -- double-well
//! cargo run --release --example stationarity -- double-well dynamics.eta=0.01 dynamics.batch=25
//! ```

use neqlab::dynamics::Observer;
use neqlab::landscape::newton::newton_minimum;
use neqlab::preset::Preset;
use neqlab::stats::grid::{GridHistogram, total_variation};
use neqlab::stats::occupation::{Basins, compare_occupations, effective_samples_per_walker};
use neqlab::stats::stationarity::{
    RunLength, StationarityCriteria, WalkerHalves, assess_stationarity, sampling_floor_tv,
    split_half_floor_tv,
};
use neqlab::theory::relaxation::{
    fokker_planck_with_relaxation, linear_relaxation, relaxation_time,
};
use neqlab::theory::start::{StartKind, StationaryPrediction, start_ensemble};
use neqlab::theory::{TheoryOptions, linear_theory};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "double-well".into());
    let overrides: Vec<String> = args.collect();
    let (text, path) = neqlab::preset::read_named(&name)?;
    let preset = Preset::from_toml(&text, &path)?.with_overrides(&overrides)?;
    let experiment = preset.build(&path, Some(&text))?;
    let landscape = experiment.landscape.as_ref();
    let spec = &preset.dynamics;

    // The predictions and their relaxation times (fp.relaxation_time, theory.relaxation_time).
    let theory = linear_theory(&experiment, &TheoryOptions::default())?;
    let linear = linear_relaxation(&experiment, &theory)?;
    let (solution, fp) = fokker_planck_with_relaxation(&experiment, &preset.fp, Some(&theory))?;
    let fp = fp?;
    let tau = relaxation_time(Some(&fp), Some(&linear)).unwrap_or(f64::NAN);
    let unit = experiment.dynamics.time_unit().name();
    println!(
        "{name} {overrides:?}\n  fp.relaxation_time {:.4e} {unit}s (λ_1 = {:.4e} {:+.1e} i, {} solves, {:.3} s)\
         \n  theory.relaxation_time {:.4e} {unit}s (leading order {:.4e})",
        fp.relaxation_time,
        fp.eigenvalue[0],
        fp.eigenvalue[1],
        fp.solves,
        fp.seconds,
        linear.relaxation_time,
        1.0 / linear.leading_order_rate,
    );

    // The basins: one per minimum (Newton's method from the landscape's hints).
    let mut minima = vec![[theory.minimum[0], theory.minimum[1]]];
    for hint in landscape.minimum_hints() {
        if let Ok(minimum) = newton_minimum(landscape, &hint) {
            minima.push([minimum.w[0], minimum.w[1]]);
        }
    }
    let basins = Basins::gradient_flow(&solution.grid, &|w| landscape.loss(&w), &minima)?;

    for start in [StartKind::Point, StartKind::Stationary] {
        let started = std::time::Instant::now();
        let mut ensemble = start_ensemble(
            landscape,
            experiment.dynamics,
            spec.walkers,
            start,
            &experiment.start,
            StationaryPrediction::Grid(&solution),
            spec.seed,
        )?;
        let half = GridHistogram::new(solution.grid, spec.burn_in);
        let mut halves = WalkerHalves(half.clone(), half);
        ensemble.advance(landscape, spec.burn_in + spec.steps, &mut halves);
        let split_floor = split_half_floor_tv(&halves);
        let mut histogram = halves.0;
        histogram.merge(halves.1);
        let per_walker = effective_samples_per_walker(spec.steps as f64, tau);
        let occupations = if basins.minima().len() > 1 {
            compare_occupations(
                &basins,
                &solution.density,
                &basins.count_cells(histogram.counts()),
                spec.walkers as f64 * per_walker,
            )
        } else {
            Vec::new()
        };
        let verdict = assess_stationarity(
            RunLength {
                burn_in: spec.burn_in as f64,
                recorded: spec.steps as f64,
            },
            Some(tau),
            start,
            &occupations,
            &StationarityCriteria::default(),
            experiment.dynamics.time_unit(),
        );
        let tv = total_variation(&histogram.density(), &solution.density);
        let floor = sampling_floor_tv(&solution.density, histogram.samples(), 4, 1);
        let floor_walkers = sampling_floor_tv(&solution.density, spec.walkers as u64, 4, 1);
        println!(
            "  start = {}: sim.stationary {}, sim.relaxation_times_recorded {:.3e}\n    {verdict}\
             \n    TV {tv:.4}; floor {floor:.4} ({} independent samples), {floor_walkers:.4} ({} samples), \
             {split_floor:.4} (the run's own, from its two halves)\
             \n    occupations {}\n    ({:.1} s)",
            start.name(),
            verdict.stationary,
            verdict.recorded_relaxation_times.unwrap_or(f64::NAN),
            histogram.samples(),
            spec.walkers,
            serde_json::to_string(&occupations)?,
            started.elapsed().as_secs_f64(),
        );
    }
    Ok(())
}
