//! One walker-step of SGD with replacement (B = 10): draw a batch, compute the batch
//! gradient, update. For the bowl (N = 100) and the seven-weight regression network
//! (N = 200, docs/theory.md §6). `neqlab bench` measures whole ensembles on all cores.
//!
//! The first two benchmarks of each landscape keep the names and the code they had before the
//! SIMD kernels (issue 15), so criterion's saved baselines compare like with like; the third
//! steps one chunk of 64 walkers in SIMD lanes on one thread (docs/theory.md §11).

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

use neqlab::dynamics::{Algorithm, BatchSampler, Dynamics, Ensemble};
use neqlab::landscape::{BowlSpec, Landscape, LandscapeSpec, RegressionNetSpec};

fn one_step(c: &mut Criterion, name: &str, spec: LandscapeSpec, eta: f64) {
    let landscape = spec
        .build(Path::new("."))
        .expect("default landscape builds");
    let landscape: &dyn Landscape = landscape.as_ref();
    let mut sampler = BatchSampler::new(landscape.n_examples());
    let mut rng = Pcg64Mcg::seed_from_u64(1);
    let mut w = landscape.start();
    let mut gradient = vec![0.0; landscape.dim()];
    c.bench_function(&format!("{name}: one SGD-WR step (B = 10)"), |b| {
        b.iter(|| {
            let batch = sampler.with_replacement(&mut rng, 10);
            landscape.batch_gradient(black_box(batch), &w, &mut gradient);
            for (x, g) in w.iter_mut().zip(&gradient) {
                *x -= eta * g;
            }
        })
    });
    // The same through the ensemble machinery: one walker, 1000 steps per iteration.
    let dynamics = Dynamics::new(Algorithm::Sgd, None, eta, 10, 0.0, landscape.n_examples())
        .expect("valid dynamics");
    let mut ensemble = Ensemble::new(landscape, dynamics, 1, &landscape.start(), 1);
    c.bench_function(&format!("{name}: 1000 steps of one ensemble walker"), |b| {
        b.iter(|| ensemble.advance(landscape, 1000, &mut ()))
    });
    // One chunk (64 walkers, so one thread) in lanes: 100 steps, 6400 walker-steps.
    let mut ensemble = Ensemble::new(landscape, dynamics, 64, &landscape.start(), 1);
    c.bench_function(&format!("{name}: 100 steps of 64 walkers in lanes"), |b| {
        b.iter(|| ensemble.advance(landscape, 100, &mut ()))
    });
}

fn steps(c: &mut Criterion) {
    one_step(c, "bowl", LandscapeSpec::Bowl(BowlSpec::default()), 1e-2);
    one_step(
        c,
        "net",
        LandscapeSpec::RegressionNet(RegressionNetSpec::default()),
        1e-7,
    );
}

criterion_group!(benches, steps);
criterion_main!(benches);
