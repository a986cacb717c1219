//! Ensembles of independent walkers, stepped in parallel with rayon.
//!
//! Walkers are processed in fixed chunks of [`CHUNK`] walkers and each walker owns a random
//! stream derived from `(seed, walker index)`. Observers are forked per chunk and merged in
//! chunk order, so every result is bit-identical whatever the number of threads.
//!
//! Landscapes with a [`GradientKernel`] (the bowl, the regression network) are stepped by
//! [`super::lanes`]: several walkers at once in SIMD lanes, with the same floating-point
//! operations in the same order for every walker as when it is stepped alone, so the
//! positions do not depend on the path taken either (docs/theory.md §11).

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;
use rayon::prelude::*;

use super::lanes::{self, Chunk, Stepping};
use super::{BatchSampler, Dynamics, Replacement};
use crate::landscape::{GradientKernel, LANES, Landscape, Lanes, WalkerKernel};

/// Walkers per parallel work item unless the observer asks for more
/// ([`Observer::walkers_per_part`]). Fixed, so that the merge order never depends on threads.
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

    /// Add the statistics of the parts of one [`Ensemble::advance`], in order. The default
    /// merges them one by one; an observer whose merge is costly may spread it over the
    /// cores, as long as the result does not depend on how (the grid histogram replays its
    /// events by bands of cells, each cell's events still in order).
    fn merge_all(&mut self, parts: Vec<Self>) {
        for part in parts {
            self.merge(part);
        }
    }

    /// How many walkers one forked part covers (the ensemble rounds it up to a multiple of
    /// [`LANES`]; the default is [`CHUNK`]). Each part costs a [`fork`](Observer::fork) and a
    /// [`merge`](Observer::merge), so an observer with a large state (a histogram of 128 × 128
    /// cells is 384 KiB) should ask for parts of a thousand walkers or more. The value must
    /// not depend on the number of threads: parts are merged in order, so results stay the
    /// same bits whatever the thread count. Positions never depend on it.
    fn walkers_per_part(&self) -> usize {
        CHUNK
    }

    /// Whether this observer's results stay correct when the units of a group of walkers
    /// arrive interleaved in time: `begin_walker` for each walker of the group, then unit `t`
    /// of every walker, then unit `t + 1`, and so on (each walker's own units stay in
    /// order). When it does, the ensemble steps [`LANES`] walkers at once in SIMD lanes and
    /// reports through [`observe_lanes`](Observer::observe_lanes). A group is always the
    /// `LANES` consecutive walkers from a multiple of `LANES` (fewer at the end of the
    /// ensemble), so per-walker state may live in slot `walker mod LANES`. Observers that carry a
    /// per-walker running state from `begin_walker` to `observe` must answer `false`, the
    /// default; they are fed one walker at a time, as before (with the same positions).
    fn accepts_interleaved_walkers(&self) -> bool {
        false
    }

    /// One time unit of a group of walkers stepped together: walker `first_walker + l` moved
    /// from `before[a][l]` to `after[a][l]`, for each lane `l` with `live[l]` (lanes of
    /// diverged walkers and past the end of the ensemble are not live). Only called when
    /// [`accepts_interleaved_walkers`](Observer::accepts_interleaved_walkers) is true.
    ///
    /// The default calls [`observe`](Observer::observe) for each live lane in lane order;
    /// an observer that only bins positions may override it to work on whole lanes.
    #[inline(always)]
    fn observe_lanes(
        &mut self,
        first_walker: usize,
        unit: u64,
        live: &[bool; LANES],
        before: &[Lanes],
        after: &[Lanes],
    ) {
        default_observe_lanes(self, first_walker, unit, live, before, after);
    }
}

/// What [`Observer::observe_lanes`] does unless overridden: [`observe`](Observer::observe)
/// for each live lane, in lane order.
pub fn default_observe_lanes<O: Observer>(
    observer: &mut O,
    first_walker: usize,
    unit: u64,
    live: &[bool; LANES],
    before: &[Lanes],
    after: &[Lanes],
) {
    let d = before.len();
    let (mut b, mut a) = ([0.0; MAX_LANE_DIM], [0.0; MAX_LANE_DIM]);
    assert!(
        d <= MAX_LANE_DIM,
        "lane kernels have at most {MAX_LANE_DIM} weights"
    );
    for (l, _) in live.iter().enumerate().filter(|(_, live)| **live) {
        for k in 0..d {
            b[k] = before[k][l];
            a[k] = after[k][l];
        }
        observer.observe(first_walker + l, unit, &b[..d], &a[..d]);
    }
}

/// The largest dimension of a landscape with a lane kernel (the network has 7 weights).
pub const MAX_LANE_DIM: usize = 8;

impl Observer for () {
    fn fork(&self) -> Self {}
    #[inline(always)]
    fn observe(&mut self, _: usize, _: u64, _: &[f64], _: &[f64]) {}
    fn merge(&mut self, _: Self) {}
    fn accepts_interleaved_walkers(&self) -> bool {
        true
    }
    #[inline(always)]
    fn observe_lanes(&mut self, _: usize, _: u64, _: &[bool; LANES], _: &[Lanes], _: &[Lanes]) {}
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
    fn merge_all(&mut self, parts: Vec<Self>) {
        let (first, second): (Vec<A>, Vec<B>) = parts.into_iter().unzip();
        self.0.merge_all(first);
        self.1.merge_all(second);
    }
    fn accepts_interleaved_walkers(&self) -> bool {
        self.0.accepts_interleaved_walkers() && self.1.accepts_interleaved_walkers()
    }
    fn walkers_per_part(&self) -> usize {
        self.0.walkers_per_part().max(self.1.walkers_per_part())
    }
    #[inline(always)]
    fn observe_lanes(
        &mut self,
        first_walker: usize,
        unit: u64,
        live: &[bool; LANES],
        before: &[Lanes],
        after: &[Lanes],
    ) {
        self.0
            .observe_lanes(first_walker, unit, live, before, after);
        self.1
            .observe_lanes(first_walker, unit, live, before, after);
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
    fn accepts_interleaved_walkers(&self) -> bool {
        self.iter().all(Observer::accepts_interleaved_walkers)
    }
    fn walkers_per_part(&self) -> usize {
        self.iter()
            .map(Observer::walkers_per_part)
            .max()
            .unwrap_or(CHUNK)
    }
    #[inline(always)]
    fn observe_lanes(
        &mut self,
        first_walker: usize,
        unit: u64,
        live: &[bool; LANES],
        before: &[Lanes],
        after: &[Lanes],
    ) {
        self.iter_mut()
            .for_each(|o| o.observe_lanes(first_walker, unit, live, before, after));
    }
}

/// Walkers per forked observer part: the observer's wish, at least one lane group, rounded up
/// to whole lane groups.
fn part_walkers<O: Observer>(observer: &O) -> usize {
    observer.walkers_per_part().max(1).next_multiple_of(LANES)
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
    ///
    /// Landscapes with a lane kernel ([`Landscape::walker_kernel`]) take the SIMD path of
    /// [`super::lanes`]; the positions are the same bits either way.
    pub fn advance<O: Observer>(
        &mut self,
        landscape: &dyn Landscape,
        units: u64,
        observer: &mut O,
    ) {
        let escape_radius = landscape.escape_radius();
        match landscape.walker_kernel() {
            WalkerKernel::Bowl(kernel) if self.dim == 2 => {
                self.advance_kernel::<2, _, O>(kernel, escape_radius, units, observer)
            }
            WalkerKernel::Net(kernel) if self.dim == 7 => {
                self.advance_kernel::<7, _, O>(kernel, escape_radius, units, observer)
            }
            _ => self.advance_generic(landscape, units, observer),
        }
    }

    /// [`advance`](Self::advance) through a lane kernel of dimension `D`.
    fn advance_kernel<const D: usize, K: GradientKernel<D>, O: Observer>(
        &mut self,
        kernel: &K,
        escape_radius: f64,
        units: u64,
        observer: &mut O,
    ) {
        let stepping = Stepping {
            kernel,
            dynamics: self.dynamics,
            escape_radius,
            start_time: self.time,
            units,
        };
        let template: &O = observer;
        let part_walkers = part_walkers(observer);
        let parts: Vec<O> = self
            .positions
            .par_chunks_mut(part_walkers * D)
            .zip(self.rngs.par_chunks_mut(part_walkers))
            .zip(self.diverged.par_chunks_mut(part_walkers))
            .enumerate()
            .map(|(chunk, ((positions, rngs), diverged))| {
                let mut part = template.fork();
                let chunk = Chunk {
                    first_walker: chunk * part_walkers,
                    positions,
                    rngs,
                    diverged,
                };
                lanes::advance_chunk::<D, K, O>(&stepping, chunk, &mut part);
                part
            })
            .collect();
        observer.merge_all(parts);
        self.time += units;
    }

    /// [`advance`](Self::advance) one walker at a time through [`Landscape::batch_gradient`].
    fn advance_generic<O: Observer>(
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
        let part_walkers = part_walkers(observer);
        let parts: Vec<O> = self
            .positions
            .par_chunks_mut(part_walkers * d)
            .zip(self.rngs.par_chunks_mut(part_walkers))
            .zip(self.diverged.par_chunks_mut(part_walkers))
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
                    let walker = chunk * part_walkers + k;
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
        observer.merge_all(parts);
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

/// `w ← w − η g + sqrt(2ηT) ξ`, the normals drawn in component order.
#[inline(always)]
pub(crate) fn update(
    w: &mut [f64],
    gradient: &[f64],
    eta: f64,
    noise_std: f64,
    rng: &mut Pcg64Mcg,
) {
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
pub(super) mod tests {
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

    /// A landscape that hides its lane kernel, so the ensemble takes the generic scalar path.
    struct Plain<'a>(&'a dyn Landscape);

    impl Landscape for Plain<'_> {
        fn kind(&self) -> &'static str {
            self.0.kind()
        }
        fn dim(&self) -> usize {
            self.0.dim()
        }
        fn n_examples(&self) -> usize {
            self.0.n_examples()
        }
        fn example_loss(&self, i: usize, w: &[f64]) -> f64 {
            self.0.example_loss(i, w)
        }
        fn add_example_gradient(&self, i: usize, w: &[f64], s: f64, out: &mut [f64]) {
            self.0.add_example_gradient(i, w, s, out)
        }
        fn add_example_hessian(&self, i: usize, w: &[f64], s: f64, out: &mut [f64]) {
            self.0.add_example_hessian(i, w, s, out)
        }
        fn batch_gradient(&self, batch: &[usize], w: &[f64], out: &mut [f64]) {
            self.0.batch_gradient(batch, w, out)
        }
        fn start(&self) -> Vec<f64> {
            self.0.start()
        }
        fn escape_radius(&self) -> f64 {
            self.0.escape_radius()
        }
    }

    /// Records every observation; refuses interleaving, so it gets one walker at a time.
    #[derive(Default)]
    pub(crate) struct Sequential(pub(crate) Vec<(usize, u64, Vec<f64>)>);

    impl Observer for Sequential {
        fn fork(&self) -> Self {
            Self::default()
        }
        fn observe(&mut self, walker: usize, unit: u64, _: &[f64], after: &[f64]) {
            self.0.push((walker, unit, after.to_vec()));
        }
        fn merge(&mut self, mut other: Self) {
            self.0.append(&mut other.0);
        }
    }

    /// The same records, accepting interleaved walkers (so the lane path feeds it).
    #[derive(Default)]
    struct Interleaved(Sequential);

    impl Observer for Interleaved {
        fn fork(&self) -> Self {
            Self::default()
        }
        fn observe(&mut self, walker: usize, unit: u64, before: &[f64], after: &[f64]) {
            self.0.observe(walker, unit, before, after);
        }
        fn merge(&mut self, other: Self) {
            self.0.merge(other.0);
        }
        fn accepts_interleaved_walkers(&self) -> bool {
            true
        }
    }

    /// The bits of `values`, for comparisons that tell −0 from +0.
    pub(crate) fn bits(values: &[f64]) -> Vec<u64> {
        values.iter().map(|v| v.to_bits()).collect()
    }

    /// The SIMD lane path, the one-walker kernel path and the generic scalar path give the
    /// same positions and observations, bit for bit: SGLD and SGWORLD on the bowl, SGD on the
    /// network, 100 walkers (a chunk of 64 and one of 36, whose last group of 4 goes one
    /// walker at a time), and a bowl where some walkers diverge at different times.
    #[test]
    fn lane_path_equals_the_scalar_paths_bit_for_bit() {
        let bowl = Bowl::new(&BowlSpec::default()).expect("valid");
        let net = crate::landscape::RegressionNet::new(
            &crate::landscape::RegressionNetSpec::default(),
            std::path::Path::new("."),
        )
        .expect("valid");
        let cases: [(&dyn Landscape, Dynamics, u64); 4] = [
            (
                &bowl,
                Dynamics::new(Algorithm::Sgld, None, 0.05, 10, 0.3, 100).expect("valid"),
                50,
            ),
            (
                &bowl,
                Dynamics::new(Algorithm::Sgworld, None, 0.05, 7, 0.3, 100).expect("valid"),
                5,
            ),
            (
                &net,
                Dynamics::new(Algorithm::Sgld, None, 1e-6, 10, 1.0, 200).expect("valid"),
                50,
            ),
            // η h = 0.55 · 4 = 2.2: the stiff direction grows by 1.2 per step and every
            // walker diverges, each at its own time (its noise sets its amplitude).
            (
                &bowl,
                Dynamics::new(Algorithm::Sgld, None, 0.55, 10, 1.0, 100).expect("valid"),
                300,
            ),
        ];
        for (landscape, dynamics, units) in cases {
            let start = landscape.start();
            let run = |landscape: &dyn Landscape, interleave: bool| {
                let mut ensemble = Ensemble::new(landscape, dynamics, 100, &start, 9);
                let mut records = if interleave {
                    let mut observer = Interleaved::default();
                    ensemble.advance(landscape, units, &mut observer);
                    observer.0.0
                } else {
                    let mut observer = Sequential::default();
                    ensemble.advance(landscape, units, &mut observer);
                    observer.0
                };
                ensemble.advance(landscape, units, &mut ());
                records.sort_by_key(|(walker, unit, _)| (*walker, *unit));
                let records: Vec<_> = records
                    .into_iter()
                    .map(|(w, u, p)| (w, u, bits(&p)))
                    .collect();
                (
                    bits(ensemble.positions()),
                    ensemble.diverged_walkers(),
                    records,
                )
            };
            let lanes = run(landscape, true);
            let one_walker = run(landscape, false);
            let generic = run(&Plain(landscape), true);
            if units == 300 {
                let mut observed = [0u64; 100];
                lanes
                    .2
                    .iter()
                    .for_each(|(walker, _, _)| observed[*walker] += 1);
                let (fewest, most) = (observed.iter().min(), observed.iter().max());
                assert!(
                    lanes.1 == 100 && fewest < most,
                    "{} {fewest:?} {most:?}",
                    lanes.1
                );
            }
            assert!(
                lanes == one_walker,
                "{}: lanes vs one walker",
                landscape.kind()
            );
            assert!(lanes == generic, "{}: lanes vs generic", landscape.kind());
        }
    }

    /// Parts larger than a chunk (an observer asking for 100 walkers gets parts of 104) see
    /// every walker-step once, in the same order whatever the thread count, and leave the
    /// positions as they are.
    #[test]
    fn large_observer_parts_change_nothing_but_their_size() {
        #[derive(Default)]
        struct Large(Interleaved);
        impl Observer for Large {
            fn fork(&self) -> Self {
                Self::default()
            }
            fn observe(&mut self, walker: usize, unit: u64, before: &[f64], after: &[f64]) {
                self.0.observe(walker, unit, before, after);
            }
            fn merge(&mut self, other: Self) {
                self.0.merge(other.0);
            }
            fn accepts_interleaved_walkers(&self) -> bool {
                true
            }
            fn walkers_per_part(&self) -> usize {
                100
            }
        }
        let bowl = Bowl::new(&BowlSpec::default()).expect("valid");
        let dynamics = Dynamics::new(Algorithm::Sgld, None, 0.05, 10, 0.3, 100).expect("valid");
        let run = |threads: usize, large: bool| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool");
            pool.install(|| {
                let mut ensemble = Ensemble::new(&bowl, dynamics, 250, &[1.0, 1.0], 3);
                let records = if large {
                    let mut observer = Large::default();
                    ensemble.advance(&bowl, 20, &mut observer);
                    observer.0.0.0
                } else {
                    ensemble.advance(&bowl, 20, &mut ());
                    Vec::new()
                };
                let records: Vec<_> = records
                    .into_iter()
                    .map(|(w, u, p)| (w, u, bits(&p)))
                    .collect();
                (bits(ensemble.positions()), records)
            })
        };
        let (plain, _) = run(1, false);
        let (one, records_one) = run(1, true);
        let (two, records_two) = run(2, true);
        assert_eq!(records_one.len(), 250 * 20);
        assert!(plain == one && one == two);
        assert!(records_one == records_two, "merge order depends on threads");
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
