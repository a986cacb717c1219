//! Entropy production and fluctuation theorems from simulation (docs/theory.md §3.2, §7.5).
//!
//! With the linearised theory's mean local velocity `v(w) = −C Σ⁻¹ (w − mean)` and diffusion
//! matrix `D`, the entropy produced in one time unit is
//!
//! ```text
//! σ_n = v(w̃_n)ᵀ D⁻¹ (w_{n+1} − w_n),     w̃_n = (w_n + w_{n+1})/2   (Stratonovich),
//! ```
//!
//! and a trajectory of `k` units produces `Σ = σ_n + … + σ_{n+k−1}`. In the stationary state
//! `⟨σ⟩ = −tr(C D⁻¹ C Σ⁻¹)`, `⟨exp(−Σ)⟩ = 1` for every `k` (integral fluctuation theorem) and
//! `ln P(Σ)/P(−Σ) = Σ` (detailed fluctuation theorem).
//!
//! Trajectories are non-overlapping windows of each walker's recorded time units, aligned
//! to `burn_in`; windows cut by the end of an [`Ensemble::advance`](crate::dynamics::Ensemble)
//! call are dropped (a choice by time alone, so it biases nothing). Standard errors come
//! from the spread between [`GROUPS`] groups of walkers (walker index mod `GROUPS`), which
//! are independent, so the correlation between successive windows of one walker is
//! accounted for.

use std::sync::Arc;

use serde::Serialize;

use crate::dynamics::Observer;
use crate::dynamics::ensemble::MAX_LANE_DIM;
use crate::landscape::{LANES, Lanes};
use crate::theory::LinearTheory;
use crate::theory::force::GridForce;

use super::exp::exp;
use super::{add_into, weighted_group_error};

/// Longest trajectory, in time units, whose `⟨exp(−Σ)⟩` is measured.
pub const MAX_UNITS: usize = 5;

/// Independent walker groups for standard errors.
pub const GROUPS: usize = 32;

/// Bins of the `Σ` histogram on each side of zero.
const HALF_BINS: usize = 96;

/// Fewest counts in each of the bins at `±Σ` for the pair to enter the DFT fit.
pub const DFT_MIN_COUNT: u64 = 25;

/// Bin width of the `Σ` histogram in units of the predicted standard deviation of `Σ`.
const BIN_WIDTH_IN_STD: f64 = 1.0 / 12.0;

/// The trajectory windows in progress of the walkers of one lane group, one slot per lane
/// (walker `k` in slot `k mod LANES`): for each length `k + 1 = 1 …` [`MAX_UNITS`], the
/// entropy summed so far, the units in it, and whether one is open. Slots are columns, so a
/// group stepped together adds its `σ` to every slot in one vectorised loop.
#[derive(Clone, Copy, Debug, Default)]
struct Windows {
    partial: [Lanes; MAX_UNITS],
    filled: [[usize; LANES]; MAX_UNITS],
    active: [[bool; LANES]; MAX_UNITS],
}

/// Which windows open at the unit `offset` units after burn-in: the window of `k + 1` units at
/// every multiple of `k + 1`. Written out for the fixed lengths so that each remainder is a
/// division by a constant (a multiplication), not a 64-bit division per window and unit.
#[inline(always)]
fn window_openings(offset: u64) -> [bool; MAX_UNITS] {
    const { assert!(MAX_UNITS == 5) };
    [
        true,
        offset.is_multiple_of(2),
        offset.is_multiple_of(3),
        offset.is_multiple_of(4),
        offset.is_multiple_of(5),
    ]
}

impl Windows {
    /// Add one unit's `σ` to slot `l`'s window of length `k + 1`, which `opens` at this unit
    /// ([`window_openings`]); the window's `Σ` once it holds `k + 1` units.
    #[inline(always)]
    fn advance(&mut self, k: usize, l: usize, opens: bool, sigma: f64) -> Option<f64> {
        let units = k + 1;
        if opens {
            self.partial[k][l] = 0.0;
            self.filled[k][l] = 0;
            self.active[k][l] = true;
        }
        if !self.active[k][l] {
            return None;
        }
        self.partial[k][l] += sigma;
        self.filled[k][l] += 1;
        if self.filled[k][l] < units {
            return None;
        }
        self.active[k][l] = false;
        Some(self.partial[k][l])
    }

    /// [`advance`](Self::advance) for every slot at once, for a group whose live walkers
    /// began this advance together and so share one window state, that of slot `lead` (a live
    /// one). Slots that are not live get `σ = 0` and are never read again before
    /// `begin_walker` and the next window opening reset them. Returns whether the windows
    /// closed, their sums in `partial[k]`.
    #[inline(always)]
    fn advance_lanes(&mut self, k: usize, lead: usize, opens: bool, sigma: &Lanes) -> bool {
        let units = k + 1;
        if opens {
            self.partial[k] = [0.0; LANES];
            self.filled[k] = [0; LANES];
            self.active[k] = [true; LANES];
        }
        if !self.active[k][lead] {
            return false;
        }
        for (partial, sigma) in self.partial[k].iter_mut().zip(sigma) {
            *partial += sigma;
        }
        let filled = self.filled[k][lead] + 1;
        self.filled[k] = [filled; LANES];
        if filled < units {
            return false;
        }
        self.active[k] = [false; LANES];
        true
    }
}

/// Per-group sums of a scalar.
#[derive(Clone, Debug)]
struct GroupSums {
    count: [u64; GROUPS],
    sum: [f64; GROUPS],
}

impl GroupSums {
    fn new() -> Self {
        Self {
            count: [0; GROUPS],
            sum: [0.0; GROUPS],
        }
    }

    fn add(&mut self, group: usize, x: f64) {
        self.count[group] += 1;
        self.sum[group] += x;
    }

    /// [`add`](Self::add) for the lanes of a group whose walker `first_walker + l` is in
    /// lane `l`: since [`LANES`] divides [`GROUPS`] and `first_walker` is a multiple of
    /// `LANES`, the lanes' groups are the consecutive `first_walker mod GROUPS + l`, one vector
    /// add. Lanes that are not live add an exact zero: a sum that starts at `+0` never becomes
    /// `−0`, so `+0` leaves it unchanged bit for bit.
    #[inline(always)]
    fn add_lanes(&mut self, first_walker: usize, live: &[bool; LANES], x: &Lanes) {
        const { assert!(GROUPS.is_multiple_of(LANES)) };
        let g = first_walker % GROUPS;
        let (count, sum) = (&mut self.count[g..g + LANES], &mut self.sum[g..g + LANES]);
        for l in 0..LANES {
            count[l] += u64::from(live[l]);
            sum[l] += if live[l] { x[l] } else { 0.0 };
        }
    }

    fn merge(&mut self, other: &Self) {
        for g in 0..GROUPS {
            self.count[g] += other.count[g];
            self.sum[g] += other.sum[g];
        }
    }

    fn total(&self) -> u64 {
        self.count.iter().sum()
    }

    /// Mean and its standard error from the spread of the group means (weighted by counts,
    /// [`weighted_group_error`]).
    fn mean_and_error(&self) -> (f64, f64) {
        let total = self.total();
        if total == 0 {
            return (f64::NAN, f64::NAN);
        }
        let mean = self.sum.iter().sum::<f64>() / total as f64;
        let groups = (0..GROUPS)
            .filter(|&g| self.count[g] > 0)
            .map(|g| (self.count[g] as f64, self.sum[g] / self.count[g] as f64));
        (mean, weighted_group_error(groups, mean))
    }
}

/// An [`Observer`] accumulating entropy production along walker trajectories.
#[derive(Clone, Debug)]
pub struct EntropyProduction {
    dim: usize,
    burn_in: u64,
    mean: Vec<f64>,
    /// `−C Σ⁻¹`, row-major.
    velocity: Vec<f64>,
    /// `D⁻¹`, row-major.
    diffusion_inverse: Vec<f64>,
    /// The Fokker–Planck force `D⁻¹ J/p` (2-D), used instead of the linear `v` when set.
    force: Option<Arc<GridForce>>,
    /// Window length of the `Σ` histogram behind the DFT fit.
    histogram_units: usize,
    /// Bin width of the `Σ` histogram of each window length `k = 1 … MAX_UNITS`.
    bin_widths: [f64; MAX_UNITS],
    /// Per-walker window state, reset by `begin_walker`: one slot per lane, walker `k` in
    /// slot `k mod LANES`, so that the [`LANES`] walkers of an interleaved group (consecutive,
    /// from a multiple of `LANES`, [`Observer::accepts_interleaved_walkers`]) each keep
    /// their own windows, and one walker at a time uses its slot alone.
    windows: Windows,
    // Accumulators.
    rate: GroupSums,
    exp_minus: Vec<GroupSums>,
    /// Counts of `Σ` over `k` units in bins `[j w_k, (j+1) w_k)`, `j = −HALF_BINS..HALF_BINS`,
    /// for each `k = 1 … MAX_UNITS`.
    histograms: Vec<Vec<u64>>,
    /// Trajectories of each length whose `Σ` fell outside the bins.
    outside: [u64; MAX_UNITS],
    // Scratch.
    midpoint: Vec<f64>,
    scratch: Vec<f64>,
}

/// One integral-fluctuation-theorem point.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IftPoint {
    /// Trajectory length `k` in time units.
    pub units: usize,
    /// `⟨exp(−Σ)⟩`.
    pub mean: f64,
    /// Its standard error.
    pub error: f64,
    /// Trajectories averaged.
    pub trajectories: u64,
}

/// Entropy production statistics of a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EntropyStats {
    /// Walker-units used.
    pub samples: u64,
    /// Mean entropy production per time unit `⟨σ⟩`.
    pub ep_rate: f64,
    /// Standard error of `ep_rate` (walker groups).
    pub ep_rate_error: f64,
    /// `⟨exp(−Σ)⟩` for `k = 1 … 5`.
    pub ift: Vec<IftPoint>,
    /// Slope of `ln P(Σ)/P(−Σ)` against `Σ` (fit through the origin); `None` without
    /// enough bins populated on both sides.
    pub dft_slope: Option<f64>,
    /// Its standard error.
    pub dft_slope_error: Option<f64>,
    /// Trajectory length of the histogram.
    pub dft_units: usize,
    /// Pairs of bins `±Σ` used in the fit.
    pub dft_bins: usize,
}

impl EntropyProduction {
    /// Entropy production with the theory's `v` and `D`, recording units `burn_in..`; the
    /// `Σ` histogram uses trajectories of `histogram_units` (1 to 5) units. `None` when `D`
    /// cannot be inverted.
    pub fn new(theory: &LinearTheory, burn_in: u64, histogram_units: usize) -> Option<Self> {
        let dim = theory.dim();
        let diffusion_inverse = theory.diffusion_inverse()?;
        Some(Self::with_model(
            dim,
            burn_in,
            histogram_units,
            theory.ep_rate,
            (
                theory.mean.clone(),
                theory.velocity_matrix(),
                diffusion_inverse,
            ),
            None,
        ))
    }

    /// Entropy production with the force of a 2-D Fokker–Planck solution,
    /// `σ = F(w̃) · Δw` with `F = D⁻¹ J/p` ([`GridForce`]): beyond the linearised theory, e.g.
    /// on a landscape with several minima.
    pub fn from_force(force: Arc<GridForce>, burn_in: u64, histogram_units: usize) -> Self {
        let rate = force.rate();
        Self::with_model(
            2,
            burn_in,
            histogram_units,
            rate,
            (Vec::new(), Vec::new(), Vec::new()),
            Some(force),
        )
    }

    fn with_model(
        dim: usize,
        burn_in: u64,
        histogram_units: usize,
        predicted_rate: f64,
        (mean, velocity, diffusion_inverse): (Vec<f64>, Vec<f64>, Vec<f64>),
        force: Option<Arc<GridForce>>,
    ) -> Self {
        let histogram_units = histogram_units.clamp(1, MAX_UNITS);
        // Σ over k units is nearly Gaussian with variance ≈ 2 × mean (the DFT); bins are a
        // fixed fraction of that predicted width.
        let bin_widths = std::array::from_fn(|k| {
            let predicted_std = (2.0 * predicted_rate.max(0.0) * (k + 1) as f64).sqrt();
            if predicted_std > 0.0 {
                predicted_std * BIN_WIDTH_IN_STD
            } else {
                0.0
            }
        });
        Self {
            dim,
            burn_in,
            mean,
            velocity,
            diffusion_inverse,
            force,
            histogram_units,
            bin_widths,
            windows: Windows::default(),
            rate: GroupSums::new(),
            exp_minus: vec![GroupSums::new(); MAX_UNITS],
            histograms: vec![vec![0; 2 * HALF_BINS]; MAX_UNITS],
            outside: [0; MAX_UNITS],
            midpoint: vec![0.0; dim],
            scratch: vec![0.0; dim],
        }
    }

    /// Entropy produced by one step from `before` to `after`,
    /// `v(w̃)ᵀ D⁻¹ (after − before)` with `w̃` the midpoint.
    pub fn entropy(&mut self, before: &[f64], after: &[f64]) -> f64 {
        if let Some(force) = &self.force {
            return force.sigma([before[0], before[1]], [after[0], after[1]]);
        }
        let d = self.dim;
        for a in 0..d {
            self.midpoint[a] = 0.5 * (before[a] + after[a]) - self.mean[a];
        }
        // scratch = v(w̃); σ = (D⁻¹ v)ᵀ Δw  (D⁻¹ symmetric)
        for a in 0..d {
            let mut v = 0.0;
            for b in 0..d {
                v += self.velocity[a * d + b] * self.midpoint[b];
            }
            self.scratch[a] = v;
        }
        let mut sigma = 0.0;
        for a in 0..d {
            let mut f = 0.0;
            for b in 0..d {
                f += self.diffusion_inverse[a * d + b] * self.scratch[b];
            }
            sigma += f * (after[a] - before[a]);
        }
        sigma
    }

    /// `σ` of every live lane: the linear model's arithmetic of [`entropy`](Self::entropy) in
    /// the same order, one loop over the lanes per operation; the force model's lane by lane.
    #[inline(always)]
    #[allow(clippy::needless_range_loop)] // index loops over lanes are what vectorises
    fn lane_entropy(&mut self, live: &[bool; LANES], before: &[Lanes], after: &[Lanes]) -> Lanes {
        let mut sigma = [0.0; LANES];
        let d = self.dim;
        if self.force.is_some() || d > MAX_LANE_DIM || before.len() < d || after.len() < d {
            let n = before.len().min(after.len()).min(MAX_LANE_DIM);
            let (mut b, mut a) = ([0.0; MAX_LANE_DIM], [0.0; MAX_LANE_DIM]);
            for l in (0..LANES).filter(|&l| live[l]) {
                for k in 0..n {
                    (b[k], a[k]) = (before[k][l], after[k][l]);
                }
                sigma[l] = self.entropy(&b[..n], &a[..n]);
            }
            return sigma;
        }
        let mut midpoint = [[0.0; LANES]; MAX_LANE_DIM];
        let mut velocity = [[0.0; LANES]; MAX_LANE_DIM];
        for a in 0..d {
            for l in 0..LANES {
                midpoint[a][l] = 0.5 * (before[a][l] + after[a][l]) - self.mean[a];
            }
        }
        for a in 0..d {
            for b in 0..d {
                let m = self.velocity[a * d + b];
                for l in 0..LANES {
                    velocity[a][l] += m * midpoint[b][l];
                }
            }
        }
        for a in 0..d {
            let mut f = [0.0; LANES];
            for b in 0..d {
                let m = self.diffusion_inverse[a * d + b];
                for l in 0..LANES {
                    f[l] += m * velocity[b][l];
                }
            }
            for l in 0..LANES {
                sigma[l] += f[l] * (after[a][l] - before[a][l]);
            }
        }
        for l in 0..LANES {
            if !live[l] {
                sigma[l] = 0.0;
            }
        }
        sigma
    }

    /// Record a closed window of `k + 1` units of a walker of `group`: its `Σ` and `exp(−Σ)`.
    #[inline(always)]
    fn close_window(&mut self, k: usize, group: usize, total: f64, exp_minus: f64) {
        self.exp_minus[k].add(group, exp_minus);
        let width = self.bin_widths[k];
        if width > 0.0 {
            self.bin(k, total / width + HALF_BINS as f64);
        }
    }

    /// Count a window of `k + 1` units in the `Σ` histogram at `position = Σ / w + HALF_BINS`:
    /// bin `j + HALF_BINS` holds `Σ ∈ [j w, (j + 1) w)`. The offset is added before the
    /// truncation (which floors a non-negative number without a libm call), moving the edges
    /// by an ulp of `HALF_BINS` at most. NaN falls outside.
    #[inline(always)]
    fn bin(&mut self, k: usize, position: f64) {
        if (0.0..(2 * HALF_BINS) as f64).contains(&position) {
            self.histograms[k][position as usize] += 1;
        } else {
            self.outside[k] += 1;
        }
    }

    /// The statistics so far.
    pub fn stats(&self) -> EntropyStats {
        let (ep_rate, ep_rate_error) = self.rate.mean_and_error();
        let ift = self
            .exp_minus
            .iter()
            .enumerate()
            .map(|(k, sums)| {
                let (mean, error) = sums.mean_and_error();
                IftPoint {
                    units: k + 1,
                    mean,
                    error,
                    trajectories: sums.total(),
                }
            })
            .collect();
        let (dft_slope, dft_slope_error, dft_bins) = self.dft_fit();
        EntropyStats {
            samples: self.rate.total(),
            ep_rate,
            ep_rate_error,
            ift,
            dft_slope,
            dft_slope_error,
            dft_units: self.histogram_units,
            dft_bins,
        }
    }

    /// Weighted least squares of `y_j = ln(n₊/n₋)` against the bin centre `s_j` through the
    /// origin, over the pairs of [`SigmaHistogram::log_ratios`] with at least
    /// [`DFT_MIN_COUNT`] counts on both sides; `Var y ≈ 1/n₊ + 1/n₋`.
    fn dft_fit(&self) -> (Option<f64>, Option<f64>, usize) {
        let pairs = self.sigma_histogram().log_ratios(DFT_MIN_COUNT);
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for pair in &pairs {
            sxy += pair.weight * pair.sigma * pair.log_ratio;
            sxx += pair.weight * pair.sigma * pair.sigma;
        }
        if pairs.len() < 2 {
            return (None, None, pairs.len());
        }
        (Some(sxy / sxx), Some(1.0 / sxx.sqrt()), pairs.len())
    }

    /// Entropy produced so far in total and the walker-units it was produced in.
    pub fn sum_and_count(&self) -> (f64, u64) {
        (self.rate.sum.iter().sum(), self.rate.total())
    }
}

impl Observer for EntropyProduction {
    fn fork(&self) -> Self {
        let mut fresh = self.clone();
        fresh.rate = GroupSums::new();
        fresh.exp_minus = vec![GroupSums::new(); MAX_UNITS];
        fresh.histograms.iter_mut().for_each(|h| h.fill(0));
        fresh.outside = [0; MAX_UNITS];
        fresh
    }

    fn begin_walker(&mut self, walker: usize) {
        for active in &mut self.windows.active {
            active[walker % LANES] = false;
        }
    }

    fn observe(&mut self, walker: usize, unit: u64, before: &[f64], after: &[f64]) {
        if unit < self.burn_in {
            return;
        }
        let opens = window_openings(unit - self.burn_in);
        let group = walker % GROUPS;
        let sigma = self.entropy(before, after);
        self.rate.add(group, sigma);
        for (k, opens) in opens.into_iter().enumerate() {
            if let Some(total) = self.windows.advance(k, walker % LANES, opens, sigma) {
                self.close_window(k, group, total, exp(-total));
            }
        }
    }

    /// The walkers of a group at once: `σ`, the windows and the `exp(−Σ)` of the windows that
    /// close each in one loop over the lanes (which vectorises). Each
    /// slot and each group sum sees the same values in the same order as through
    /// [`observe`](Observer::observe), so the results are the same bits.
    #[inline(always)]
    fn observe_lanes(
        &mut self,
        first_walker: usize,
        unit: u64,
        live: &[bool; LANES],
        before: &[Lanes],
        after: &[Lanes],
    ) {
        if unit < self.burn_in {
            return;
        }
        let opens = window_openings(unit - self.burn_in);
        let sigma = self.lane_entropy(live, before, after);
        self.rate.add_lanes(first_walker, live, &sigma);
        // Every live lane of a group began this advance together, so their windows open and
        // close together.
        let Some(lead) = (0..LANES).find(|&l| live[l]) else {
            return;
        };
        debug_assert!(first_walker.is_multiple_of(LANES));
        for (k, opens) in opens.into_iter().enumerate() {
            if !self.windows.advance_lanes(k, lead, opens, &sigma) {
                continue;
            }
            let totals = self.windows.partial[k];
            let mut exp_minus = [0.0; LANES];
            for l in 0..LANES {
                exp_minus[l] = exp(-totals[l]);
            }
            self.exp_minus[k].add_lanes(first_walker, live, &exp_minus);
            let width = self.bin_widths[k];
            if width > 0.0 {
                let mut position = [0.0; LANES];
                for l in 0..LANES {
                    position[l] = totals[l] / width + HALF_BINS as f64;
                }
                for l in (0..LANES).filter(|&l| live[l]) {
                    self.bin(k, position[l]);
                }
            }
        }
    }

    /// Each walker's windows live in its own slot, so walkers may arrive interleaved.
    fn accepts_interleaved_walkers(&self) -> bool {
        true
    }

    fn merge(&mut self, other: Self) {
        self.rate.merge(&other.rate);
        for (mine, theirs) in self.exp_minus.iter_mut().zip(&other.exp_minus) {
            mine.merge(theirs);
        }
        for (mine, theirs) in self.histograms.iter_mut().zip(&other.histograms) {
            add_into(mine, theirs);
        }
        add_into(&mut self.outside, &other.outside);
    }
}

/// The `Σ` histogram behind the DFT slope: counts of the entropy produced along trajectories of
/// `units` time units, in bins `[start + j·bin_width, start + (j+1)·bin_width)`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SigmaHistogram {
    /// Trajectory length, in time units.
    pub units: usize,
    /// Width of a bin.
    pub bin_width: f64,
    /// Left edge of the first bin (`−bin_width · bins/2`; the bins are symmetric about 0).
    pub start: f64,
    /// Counts per bin.
    pub counts: Vec<u64>,
    /// Trajectories whose `Σ` fell outside the bins.
    pub outside: u64,
}

impl SigmaHistogram {
    /// Centre of bin `j`.
    pub fn centre(&self, j: usize) -> f64 {
        self.start + (j as f64 + 0.5) * self.bin_width
    }

    /// Trajectories counted, inside and outside the bins.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum::<u64>() + self.outside
    }

    /// The detailed fluctuation theorem's data: for each pair of bins at `±Σ` (`Σ > 0`) with
    /// at least `min_count` counts on both sides, `Σ`, `ln P(Σ)/P(−Σ) = ln(n₊/n₋)` and the
    /// inverse of its variance `1/(1/n₊ + 1/n₋)` (Poisson counts). The theorem says the
    /// log-ratio equals `Σ` (docs/theory.md §3.2).
    pub fn log_ratios(&self, min_count: u64) -> Vec<LogRatio> {
        let half = self.counts.len() / 2;
        (0..half)
            .filter_map(|j| {
                let plus = self.counts[half + j];
                let minus = self.counts[half - 1 - j];
                (plus >= min_count && minus >= min_count && self.bin_width > 0.0).then(|| {
                    LogRatio {
                        sigma: (j as f64 + 0.5) * self.bin_width,
                        log_ratio: (plus as f64 / minus as f64).ln(),
                        weight: 1.0 / (1.0 / plus as f64 + 1.0 / minus as f64),
                    }
                })
            })
            .collect()
    }
}

/// One point of the detailed fluctuation theorem ([`SigmaHistogram::log_ratios`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogRatio {
    /// The entropy production `Σ > 0` of the bin pair (its positive bin's centre).
    pub sigma: f64,
    /// `ln P(Σ)/P(−Σ)`.
    pub log_ratio: f64,
    /// Inverse variance of `log_ratio`.
    pub weight: f64,
}

impl EntropyProduction {
    /// The `Σ` histogram behind the DFT fit so far (all zero counts when the predicted rate
    /// is zero).
    pub fn sigma_histogram(&self) -> SigmaHistogram {
        self.sigma_histogram_of(self.histogram_units)
    }

    /// The `Σ` histogram of trajectories of `units` time units (1 to [`MAX_UNITS`], clamped).
    pub fn sigma_histogram_of(&self, units: usize) -> SigmaHistogram {
        let k = units.clamp(1, MAX_UNITS) - 1;
        let width = self.bin_widths[k];
        SigmaHistogram {
            units: k + 1,
            bin_width: width,
            start: -(HALF_BINS as f64) * width,
            counts: self.histograms[k].clone(),
            outside: self.outside[k],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The histogram accessor places each trajectory's `Σ` in the bin whose edges hold it.
    #[test]
    fn sigma_histogram_bins() {
        let mut ep =
            EntropyProduction::with_model(1, 0, 1, 0.0, (vec![0.0], vec![0.0], vec![1.0]), None);
        ep.bin_widths = [0.5; MAX_UNITS];
        // Σ = v D⁻¹ Δw with v = 0 is zero: every one-unit trajectory lands in the bin [0, w).
        ep.begin_walker(0);
        for unit in 0..3 {
            ep.observe(0, unit, &[0.0], &[1.0]);
        }
        let h = ep.sigma_histogram();
        assert_eq!(h.units, 1);
        assert_eq!(h.counts.len(), 2 * HALF_BINS);
        assert_eq!(h.total(), 3);
        assert_eq!(h.counts[HALF_BINS], 3);
        assert!((h.centre(HALF_BINS) - 0.25).abs() < 1e-12);
        assert!((h.start + HALF_BINS as f64 * h.bin_width).abs() < 1e-12);
    }

    /// Fed walker by walker or interleaved in time (the order of the SIMD lane path: a group
    /// of `LANES` walkers begins, then unit `t` of each, then unit `t + 1`), every walker
    /// closes the same trajectory windows: the `Σ` histograms and trajectory counts agree
    /// exactly and the sums to round-off. A single shared window (the state before lanes)
    /// would mix walkers and fail this. Burn-in 3 and 23 units leave windows cut at the end.
    #[test]
    fn interleaved_walkers_keep_their_own_windows() {
        let model = (vec![0.0], vec![-1.0], vec![1.0]);
        let fresh = || {
            let mut ep = EntropyProduction::with_model(1, 3, 2, 0.5, model.clone(), None);
            ep.bin_widths = [0.05; MAX_UNITS];
            ep
        };
        // Walker k at unit t: a deterministic, walker-dependent path.
        let at = |k: usize, t: u64| ((k * 7 + 3) as f64 * 0.37 + t as f64 * 0.61).sin();
        let (walkers, units) = (2 * LANES, 23u64);
        let mut sequential = fresh();
        for k in 0..walkers {
            sequential.begin_walker(k);
            for t in 0..units {
                sequential.observe(k, t, &[at(k, t)], &[at(k, t + 1)]);
            }
        }
        let mut interleaved = fresh();
        for group in (0..walkers).step_by(LANES) {
            (group..group + LANES).for_each(|k| interleaved.begin_walker(k));
            for t in 0..units {
                for k in group..group + LANES {
                    interleaved.observe(k, t, &[at(k, t)], &[at(k, t + 1)]);
                }
            }
        }
        assert!(interleaved.accepts_interleaved_walkers());
        for k in 1..=MAX_UNITS {
            let (a, b) = (
                sequential.sigma_histogram_of(k),
                interleaved.sigma_histogram_of(k),
            );
            assert!(a.total() > 0);
            assert_eq!(a.counts, b.counts, "k = {k}");
            assert_eq!(a.outside, b.outside, "k = {k}");
        }
        let (a, b) = (sequential.stats(), interleaved.stats());
        assert_eq!(a.samples, b.samples);
        assert!((a.ep_rate - b.ep_rate).abs() <= 1e-12 * a.ep_rate.abs().max(1.0));
        for (p, q) in a.ift.iter().zip(&b.ift) {
            assert_eq!(p.trajectories, q.trajectories);
            assert!((p.mean - q.mean).abs() <= 1e-12 * p.mean.abs());
        }
    }

    /// Group means give the usual standard error for independent samples: 32 groups of
    /// equal counts of ±1 have mean 0 and error 0 when every group is balanced.
    #[test]
    fn group_errors() {
        let mut sums = GroupSums::new();
        for g in 0..GROUPS {
            sums.add(g, 1.0);
            sums.add(g, -1.0);
        }
        let (mean, error) = sums.mean_and_error();
        assert_eq!(mean, 0.0);
        assert_eq!(error, 0.0);
        let mut sums = GroupSums::new();
        for g in 0..GROUPS {
            sums.add(g, if g % 2 == 0 { 1.0 } else { -1.0 });
        }
        let (mean, error) = sums.mean_and_error();
        assert_eq!(mean, 0.0);
        // Group means ±1, sample variance 32/31, error sqrt(32/31/32).
        assert!((error - (1.0 / 31.0_f64).sqrt()).abs() < 1e-12);
    }
}
