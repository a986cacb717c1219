//! Speed of the hyperparameter map (targets: a 64 η × 12 B theory map of the seven-weight
//! network, both modes, below 1 s on two cores; a 64 × 7 map of the bowl below 0.1 s).

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use neqlab::map::{MapAxes, default_batches, log_spaced, theory_map};
use neqlab::preset::{Experiment, Preset, shipped};

fn experiment(name: &str) -> Experiment {
    let text = shipped(name).expect("shipped preset");
    let preset = Preset::from_toml(text, Path::new(name)).expect("parses");
    preset.build(Path::new(name), Some(text)).expect("builds")
}

fn maps(c: &mut Criterion) {
    let mut group = c.benchmark_group("map");
    group.sample_size(10);
    let net = experiment("regression-net");
    // The divisors of N = 200 up to 200: 12 batch sizes.
    let net_axes = MapAxes::new(
        log_spaced(7e-8, 1.4e-4, 64).expect("axis"),
        vec![1, 2, 4, 5, 8, 10, 20, 25, 40, 50, 100, 200],
        200,
    )
    .expect("axes");
    group.bench_function("regression_net_64x12_both_modes", |b| {
        b.iter(|| theory_map(&net, Some(net_axes.clone())).expect("map"))
    });
    let bowl = experiment("bowl-current");
    let bowl_axes = MapAxes::new(
        log_spaced(5e-4, 1.0, 64).expect("axis"),
        default_batches(100, 7, true),
        100,
    )
    .expect("axes");
    group.bench_function("bowl_64x7_both_modes", |b| {
        b.iter(|| theory_map(&bowl, Some(bowl_axes.clone())).expect("map"))
    });
    group.finish();
}

criterion_group!(benches, maps);
criterion_main!(benches);
