//! Ensembles of independent walkers, stepped in parallel with rayon.
//!
//! Walkers are processed in fixed chunks of [`CHUNK`] walkers and each walker owns a random
//! stream derived from `(seed, walker index)`. Observers are forked per chunk and merged in
//! chunk order, so every result is bit-identical whatever the number of threads.

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;
use rayon::prelude::*;

use super::{BatchSampler, Dynamics, Replacement};
use crate::landscape::Landscape;

/// Walkers per parallel work item. Fixed, so that the merge order never depends on threads.
pub const CHUNK: usize = 64;

/// Something that watches walkers move, one time unit (a step with replacement, an epoch
/// without) at a time. Statistics accumulate per chunk of walkers and are merged in order.
pub trait Observer: Send + Sync + Sized {
    /// An empty accumulator with the same settings, for one chunk of walkers.
    fn fork(&self) -> Self;
    /// Called before a walker's first time unit in each [`Ensemble::advance`].
    fn begin_walker(&mut self, _walker: usize) {}
    /// One time unit of one walker: its position `before` and `after`; `unit` counts time
    /// units since the ensemble was created (0 for the first).
    fn observe(&mut self, walker: usize, unit: u64, before: &[f64], after: &[f64]);
    /// Add the statistics of a later chunk.
    fn merge(&mut self, other: Self);
}

impl Observer for () {
    fn fork(&self) -> Self {}
    fn observe(&mut self, _: usize, _: u64, _: &[f64], _: &[f64]) {}
    fn merge(&mut self, _: Self) {}
}

impl<A: Observer, B: Observer> Observer for (A, B) {
    fn fork(&self) -> Self {
        (self.0.fork(), self.1.fork())
    }
    fn begin_walker(&mut self, walker: usize) {
        self.0.begin_walker(walker);
        self.1.begin_walker(walker);
    }
    fn observe(&mut self, walker: usize, unit: u64, before: &[f64], after: &[f64]) {
        self.0.observe(walker, unit, before, after);
        self.1.observe(walker, unit, before, after);
    }
    fn merge(&mut self, other: Self) {
        self.0.merge(other.0);
        self.1.merge(other.1);
    }
}

impl<O: Observer> Observer for Vec<O> {
    fn fork(&self) -> Self {
        self.iter().map(Observer::fork).collect()
    }
    fn begin_walker(&mut self, walker: usize) {
        self.iter_mut().for_each(|o| o.begin_walker(walker));
    }
    fn observe(&mut self, walker: usize, unit: u64, before: &[f64], after: &[f64]) {
        self.iter_mut()
            .for_each(|o| o.observe(walker, unit, before, after));
    }
    fn merge(&mut self, other: Self) {
        self.iter_mut().zip(other).for_each(|(o, p)| o.merge(p));
    }
}

/// The random stream of walker `walker` under `seed`.
pub fn walker_rng(seed: u64, walker: usize) -> Pcg64Mcg {
    Pcg64Mcg::seed_from_u64(splitmix64(
        seed ^ splitmix64(walker as u64 ^ 0x6e65_716c_6162),
    ))
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Per-chunk scratch space, so that the inner loop allocates nothing.
struct Scratch {
    sampler: BatchSampler,
    gradient: Vec<f64>,
    before: Vec<f64>,
}

/// An ensemble of independent walkers under one [`Dynamics`].
#[derive(Clone, Debug)]
pub struct Ensemble {
    dynamics: Dynamics,
    dim: usize,
    /// Walker positions, walker-major: walker `k` is `positions[k·d .. (k+1)·d]`.
    positions: Vec<f64>,
    rngs: Vec<Pcg64Mcg>,
    diverged: Vec<bool>,
    /// Time units elapsed.
    time: u64,
}

impl Ensemble {
    /// `walkers` walkers at `start` (length `d`), streams derived from `seed`.
    pub fn new(
        landscape: &dyn Landscape,
        dynamics: Dynamics,
        walkers: usize,
        start: &[f64],
        seed: u64,
    ) -> Self {
        let dim = landscape.dim();
        assert_eq!(
            start.len(),
            dim,
            "start point has the landscape's dimension"
        );
        Self {
            dynamics,
            dim,
            positions: start.iter().copied().cycle().take(walkers * dim).collect(),
            rngs: (0..walkers).map(|k| walker_rng(seed, k)).collect(),
            diverged: vec![false; walkers],
            time: 0,
        }
    }

    /// Walkers at the given positions (walker-major, a multiple of `d` long), e.g. drawn
    /// from a known stationary distribution so that no burn-in is needed.
    pub fn from_positions(
        landscape: &dyn Landscape,
        dynamics: Dynamics,
        positions: Vec<f64>,
        seed: u64,
    ) -> Self {
        let dim = landscape.dim();
        assert_eq!(positions.len() % dim, 0, "positions come in whole walkers");
        let walkers = positions.len() / dim;
        Self {
            dynamics,
            dim,
            positions,
            rngs: (0..walkers).map(|k| walker_rng(seed, k)).collect(),
            diverged: vec![false; walkers],
            time: 0,
        }
    }

    /// The update rule.
    pub fn dynamics(&self) -> &Dynamics {
        &self.dynamics
    }

    /// Dimension `d`.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of walkers, diverged ones included.
    pub fn walkers(&self) -> usize {
        self.diverged.len()
    }

    /// Time units elapsed (steps with replacement, epochs without).
    pub fn time(&self) -> u64 {
        self.time
    }

    /// All positions, walker-major (diverged walkers hold their last, possibly non-finite, state).
    pub fn positions(&self) -> &[f64] {
        &self.positions
    }

    /// Position of walker `k`.
    pub fn position(&self, k: usize) -> &[f64] {
        &self.positions[k * self.dim..(k + 1) * self.dim]
    }

    /// Whether walker `k` diverged and is frozen.
    pub fn is_diverged(&self, k: usize) -> bool {
        self.diverged[k]
    }

    /// Number of walkers that diverged (non-finite or beyond the landscape's escape radius).
    pub fn diverged_walkers(&self) -> usize {
        self.diverged.iter().filter(|&&d| d).count()
    }

    /// Positions of the walkers still running.
    pub fn active_positions(&self) -> impl Iterator<Item = &[f64]> {
        self.positions
            .chunks_exact(self.dim)
            .zip(&self.diverged)
            .filter(|(_, d)| !**d)
            .map(|(w, _)| w)
    }

    /// Advance every walker by `units` time units, reporting each unit to `observer`.
    pub fn advance<O: Observer>(
        &mut self,
        landscape: &dyn Landscape,
        units: u64,
        observer: &mut O,
    ) {
        let d = self.dim;
        let dynamics = self.dynamics;
        let start_time = self.time;
        let escape_radius = landscape.escape_radius();
        let template: &O = observer;
        let parts: Vec<O> = self
            .positions
            .par_chunks_mut(CHUNK * d)
            .zip(self.rngs.par_chunks_mut(CHUNK))
            .zip(self.diverged.par_chunks_mut(CHUNK))
            .enumerate()
            .map(|(chunk, ((positions, rngs), diverged))| {
                let mut part = template.fork();
                let mut scratch = Scratch {
                    sampler: BatchSampler::new(dynamics.n_examples),
                    gradient: vec![0.0; d],
                    before: vec![0.0; d],
                };
                let walkers = positions.chunks_exact_mut(d).zip(rngs).zip(diverged);
                for (k, ((w, rng), walker_diverged)) in walkers.enumerate() {
                    if *walker_diverged {
                        continue;
                    }
                    let walker = chunk * CHUNK + k;
                    part.begin_walker(walker);
                    for unit in start_time..start_time + units {
                        scratch.before.copy_from_slice(w);
                        advance_unit(landscape, &dynamics, w, rng, &mut scratch);
                        if !w.iter().all(|x| x.abs() < escape_radius) {
                            *walker_diverged = true;
                            break;
                        }
                        part.observe(walker, unit, &scratch.before, w);
                    }
                }
                part
            })
            .collect();
        for part in parts {
            observer.merge(part);
        }
        self.time += units;
    }
}

/// One time unit of one walker: a step with replacement, an epoch of `M` steps without.
fn advance_unit(
    landscape: &dyn Landscape,
    dynamics: &Dynamics,
    w: &mut [f64],
    rng: &mut Pcg64Mcg,
    scratch: &mut Scratch,
) {
    let eta = dynamics.eta;
    let noise_std = dynamics.noise_std();
    let b = dynamics.batch_size;
    match dynamics.replacement {
        Replacement::Wr => {
            let batch = scratch.sampler.with_replacement(rng, b);
            landscape.batch_gradient(batch, w, &mut scratch.gradient);
            update(w, &scratch.gradient, eta, noise_std, rng);
        }
        Replacement::Wor => {
            let permutation = scratch.sampler.permutation(rng);
            for batch in permutation.chunks_exact(b) {
                landscape.batch_gradient(batch, w, &mut scratch.gradient);
                update(w, &scratch.gradient, eta, noise_std, rng);
            }
        }
    }
}

/// `w ← w − η g + sqrt(2ηT) ξ`.
#[inline]
fn update(w: &mut [f64], gradient: &[f64], eta: f64, noise_std: f64, rng: &mut Pcg64Mcg) {
    if noise_std > 0.0 {
        for (x, g) in w.iter_mut().zip(gradient) {
            let xi: f64 = StandardNormal.sample(rng);
            *x += -eta * g + noise_std * xi;
        }
    } else {
        for (x, g) in w.iter_mut().zip(gradient) {
            *x -= eta * g;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamics::Algorithm;
    use crate::landscape::{Bowl, BowlSpec};

    /// Records, per walker, how often each example was used during one epoch, by running
    /// SGD-WOR on a bowl whose data are unit vectors e_i scaled so the gradient reveals them.
    #[test]
    fn without_replacement_uses_every_example_once_per_epoch() {
        // With η = 1 on a bowl with Hessian 1 the step is w ← x̄_B, so an epoch of M batches
        // ends at the last batch's mean: we check the mean of all batch means instead,
        // through an observer on a landscape that counts gradient calls.
        struct Counting {
            inner: Bowl,
            calls: std::sync::Mutex<Vec<usize>>,
        }
        impl Landscape for Counting {
            fn kind(&self) -> &'static str {
                "counting"
            }
            fn dim(&self) -> usize {
                2
            }
            fn n_examples(&self) -> usize {
                self.inner.n_examples()
            }
            fn example_loss(&self, i: usize, w: &[f64]) -> f64 {
                self.inner.example_loss(i, w)
            }
            fn add_example_gradient(&self, i: usize, w: &[f64], s: f64, out: &mut [f64]) {
                self.inner.add_example_gradient(i, w, s, out)
            }
            fn add_example_hessian(&self, i: usize, w: &[f64], s: f64, out: &mut [f64]) {
                self.inner.add_example_hessian(i, w, s, out)
            }
            fn batch_gradient(&self, batch: &[usize], w: &[f64], out: &mut [f64]) {
                self.calls
                    .lock()
                    .expect("no poisoning")
                    .extend_from_slice(batch);
                self.inner.batch_gradient(batch, w, out)
            }
            fn start(&self) -> Vec<f64> {
                vec![0.0, 0.0]
            }
        }
        let spec = BowlSpec {
            n: 30,
            ..BowlSpec::default()
        };
        let landscape = Counting {
            inner: Bowl::new(&spec).expect("valid"),
            calls: std::sync::Mutex::new(Vec::new()),
        };
        let dynamics =
            Dynamics::new(Algorithm::Sgd, Some(Replacement::Wor), 0.01, 5, 0.0, 30).expect("valid");
        let mut ensemble = Ensemble::new(&landscape, dynamics, 1, &[0.0, 0.0], 1);
        for _ in 0..20 {
            ensemble.advance(&landscape, 1, &mut ());
            let mut used = std::mem::take(&mut *landscape.calls.lock().expect("no poisoning"));
            used.sort_unstable();
            assert_eq!(used, (0..30).collect::<Vec<_>>());
        }
    }

    #[test]
    fn identical_across_thread_counts() {
        let bowl = Bowl::new(&BowlSpec::default()).expect("valid");
        let dynamics = Dynamics::new(Algorithm::Sgld, None, 0.05, 10, 0.3, 100).expect("valid");
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool");
            pool.install(|| {
                let mut ensemble = Ensemble::new(&bowl, dynamics, 1000, &[1.0, 1.0], 42);
                ensemble.advance(&bowl, 200, &mut ());
                ensemble.positions().to_vec()
            })
        };
        let one = run(1);
        let two = run(2);
        assert!(
            one.iter()
                .zip(&two)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }

    #[test]
    fn divergence_freezes_walkers_and_the_run_goes_on() {
        let bowl = Bowl::new(&BowlSpec::default()).expect("valid");
        // η h = 3 · 4 = 12 > 2: the stiff direction is unstable.
        let dynamics = Dynamics::new(Algorithm::Sgd, None, 3.0, 10, 0.0, 100).expect("valid");
        let mut ensemble = Ensemble::new(&bowl, dynamics, 10, &[1.0, 1.0], 1);
        ensemble.advance(&bowl, 1000, &mut ());
        assert_eq!(ensemble.diverged_walkers(), 10);
        assert_eq!(ensemble.active_positions().count(), 0);
    }
}
