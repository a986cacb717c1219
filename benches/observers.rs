//! What the stationary-state estimators cost on top of the walkers (docs/theory.md §11.5):
//! the shipped `bowl-current` preset (4000 walkers, the app's default) advanced by 10 steps
//! with no observer, and with the [`SimulationStats`] the app and `neqlab run` feed (moments,
//! the 128² density and current histogram, entropy production with its windows), on all
//! cores. Issue 15 asks the app for half the bare rate; the ratio of the two medians bounds
//! what it can reach.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};

use neqlab::dynamics::Ensemble;
use neqlab::preset::{Preset, shipped};
use neqlab::stationary::{Prediction, PredictionOptions, SimulationStats};

/// Steps per measured iteration.
const UNITS: u64 = 10;

fn observers(c: &mut Criterion) {
    let name = "bowl-current";
    let text = shipped(name).expect("shipped preset");
    let path = Path::new("presets").join(format!("{name}.toml"));
    let preset = Preset::from_toml(text, &path).expect("preset parses");
    let experiment = preset.build(&path, Some(text)).expect("experiment builds");
    let prediction = Prediction::compute(&experiment, &PredictionOptions::with_plane(&preset.fp));
    let landscape = experiment.landscape.as_ref();
    let spec = &preset.dynamics;
    let mut ensemble = Ensemble::new(
        landscape,
        experiment.dynamics,
        spec.walkers,
        &experiment.start,
        spec.seed,
    );
    // Past the burn-in, so that every estimator records.
    ensemble.advance(landscape, spec.burn_in, &mut ());
    let mut group = c.benchmark_group(format!("{name}, {} walkers × {UNITS} steps", spec.walkers));
    group.sample_size(20);
    group.bench_function("walkers alone", |b| {
        b.iter(|| ensemble.advance(landscape, UNITS, black_box(&mut ())))
    });
    let grid = prediction.grid();
    let mut moments = SimulationStats::new(&experiment.start, None, None, 0);
    group.bench_function("moments only", |b| {
        b.iter(|| ensemble.advance(landscape, UNITS, black_box(&mut moments)))
    });
    let mut histogram = SimulationStats::new(&experiment.start, grid, None, 0);
    group.bench_function("moments and the density and current grid", |b| {
        b.iter(|| ensemble.advance(landscape, UNITS, black_box(&mut histogram)))
    });
    let mut stats = SimulationStats::for_prediction(&experiment.start, &prediction, 0);
    group.bench_function("with the stationary-state estimators", |b| {
        b.iter(|| ensemble.advance(landscape, UNITS, black_box(&mut stats)))
    });
    group.bench_function("one snapshot of the estimates", |b| {
        b.iter(|| black_box(stats.estimates()))
    });
    group.finish();
}

criterion_group!(benches, observers);
criterion_main!(benches);
