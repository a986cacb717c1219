//! Is the run stationary? Measured, not assumed (docs/theory.md §9.4–§9.6).
//!
//! Two checks, each reported in words:
//!
//! 1. **Has the start been forgotten?** From a point start, the slowest mode's offset decays
//!    like `e^{−t/τ}`, and statistics recorded over `[b, b + R]` (burn-in `b`, recorded
//!    length `R`) still carry the fraction
//!
//!    ```text
//!    m(b, R) = (1/R) ∫_b^{b+R} e^{−t/τ} dt = e^{−b/τ} (1 − e^{−R/τ}) / (R/τ)
//!    ```
//!
//!    (`e^{−b/τ}` as `R → 0`) of the start's offset from the stationary state. The run passes
//!    when `m ≤ e^{−3} ≈ 5%`: a burn-in of three relaxation times, or about twenty recorded
//!    ones without burn-in. A start sampled from the predicted stationary density has no such
//!    offset (up to the prediction's own error, which the second check sees).
//! 2. **Are the wells occupied as predicted?** Where there are several minima, every basin's
//!    simulated occupation must lie within `3` standard errors of the predicted one (plus an
//!    allowance of 2% for the prediction's own error; see [`crate::stats::occupation`]).
//!
//! The time still needed is the extra recording that brings `m` down to the threshold
//! (`m` falls monotonically with `R`).

use rand::SeedableRng;
use rand_distr::{Binomial, Distribution};
use rand_pcg::Pcg64Mcg;
use serde::Serialize;

use super::grid::{GridHistogram, total_variation};
use super::occupation::Occupation;
use crate::dynamics::{Observer, TimeUnit};
use crate::theory::start::StartKind;

/// Thresholds of the verdict.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StationarityCriteria {
    /// Largest fraction of the start's offset that may remain in the recorded statistics.
    pub start_memory: f64,
    /// Occupations may differ from the prediction by this many standard errors ...
    pub occupation_errors: f64,
    /// ... plus this absolute allowance for the prediction's own error.
    pub occupation_allowance: f64,
}

impl Default for StationarityCriteria {
    fn default() -> Self {
        Self {
            start_memory: (-3.0_f64).exp(),
            occupation_errors: 3.0,
            occupation_allowance: 0.02,
        }
    }
}

/// The length of a run, in time units (steps with replacement, epochs without).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunLength {
    /// Units simulated before recording.
    pub burn_in: f64,
    /// Units recorded.
    pub recorded: f64,
}

/// The verdict on a run (docs/theory.md §9.4, §9.5).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stationarity {
    /// Both checks passed.
    pub stationary: bool,
    /// `τ` in time units, when known.
    pub relaxation_time: Option<f64>,
    /// `b/τ`.
    pub burn_in_relaxation_times: Option<f64>,
    /// `R/τ` (the JSON's `sim.relaxation_times_recorded`).
    pub recorded_relaxation_times: Option<f64>,
    /// `m(b, R)`: the fraction of the start's offset left in the recorded statistics (0 from
    /// a stationary start).
    pub start_memory: Option<f64>,
    /// Further time units to record before `m` reaches the threshold; `None` when the time
    /// check passed or cannot be made.
    pub time_still_needed: Option<f64>,
    /// Why the run is not stationary, one sentence per failed check (empty when stationary).
    pub reasons: Vec<String>,
}

impl std::fmt::Display for Stationarity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.stationary {
            write!(f, "stationary")
        } else {
            write!(f, "not stationary: {}", self.reasons.join("; "))
        }
    }
}

/// `m(b, R)` of the module documentation.
pub fn start_memory(length: RunLength, relaxation_time: f64) -> f64 {
    let b = length.burn_in.max(0.0) / relaxation_time;
    let r = length.recorded.max(0.0) / relaxation_time;
    let decayed = (-b).exp();
    if r < 1e-9 {
        decayed
    } else {
        decayed * (-(-r).exp_m1()) / r
    }
}

/// Recorded units needed in all, with the given burn-in, for `m ≤ threshold` (0 if the burn-in
/// alone suffices; infinite for a non-positive threshold).
pub fn recording_needed(burn_in: f64, relaxation_time: f64, threshold: f64) -> f64 {
    if threshold.is_nan() || threshold <= 0.0 {
        return f64::INFINITY;
    }
    // (1 − e^{−x})/x = c with c = threshold · e^{b/τ}; (1 − e^{−x})/x falls from 1 to 0.
    let c = threshold * (burn_in.max(0.0) / relaxation_time).exp();
    if c >= 1.0 {
        return 0.0;
    }
    let g = |x: f64| -(-x).exp_m1() / x;
    let (mut low, mut high) = (1e-12, 1.0 / c + 1.0);
    for _ in 0..200 {
        let middle = 0.5 * (low + high);
        if g(middle) > c {
            low = middle;
        } else {
            high = middle;
        }
    }
    high * relaxation_time
}

/// The verdict on a run of `length` with relaxation time `relaxation_time` (time units; `None`
/// skips the time check), started from `start`, with the `occupations` of its basins (empty
/// with one minimum). `time_unit` only words the reasons.
pub fn assess_stationarity(
    length: RunLength,
    relaxation_time: Option<f64>,
    start: StartKind,
    occupations: &[Occupation],
    criteria: &StationarityCriteria,
    time_unit: TimeUnit,
) -> Stationarity {
    let tau = relaxation_time.filter(|t| t.is_finite() && *t > 0.0);
    let units = format!("{}s", time_unit.name());
    let mut reasons = Vec::new();
    let memory = tau.map(|tau| match start {
        StartKind::Stationary => 0.0,
        StartKind::Point => start_memory(length, tau),
    });
    let mut time_still_needed = None;
    if let (Some(tau), Some(memory)) = (tau, memory)
        && memory > criteria.start_memory
    {
        let needed = recording_needed(length.burn_in, tau, criteria.start_memory);
        let extra = (needed - length.recorded).max(0.0);
        time_still_needed = Some(extra);
        let without_burn_in = recording_needed(0.0, tau, criteria.start_memory) / tau;
        reasons.push(format!(
            "the run covers {} relaxation times (burn-in {}, recorded {}; τ = {} {units}): \
             {:.0}% of the start's offset is left in the statistics, at most {:.0}% allowed \
             (a burn-in of {:.1} relaxation times, or {:.0} recorded without one); \
             about {} more {units} are needed",
            significant((length.burn_in + length.recorded) / tau),
            significant(length.burn_in / tau),
            significant(length.recorded / tau),
            significant(tau),
            100.0 * memory,
            100.0 * criteria.start_memory,
            -criteria.start_memory.ln(),
            without_burn_in,
            significant(extra),
        ));
    }
    for occupation in occupations {
        let allowed = criteria.occupation_errors * occupation.error + criteria.occupation_allowance;
        if (occupation.simulated - occupation.predicted).abs() > allowed {
            reasons.push(format!(
                "walkers in the well at ({:.2}, {:.2}): {:.1}% simulated, {:.1} ± {:.1}% predicted",
                occupation.minimum[0],
                occupation.minimum[1],
                100.0 * occupation.simulated,
                100.0 * occupation.predicted,
                100.0 * occupation.error,
            ));
        }
    }
    Stationarity {
        stationary: reasons.is_empty(),
        relaxation_time: tau,
        burn_in_relaxation_times: tau.map(|t| length.burn_in / t),
        recorded_relaxation_times: tau.map(|t| length.recorded / t),
        start_memory: memory,
        time_still_needed,
        reasons,
    }
}

/// A number to three significant figures (two decimals below 10), without an exponent
/// between 0.01 and 10⁶.
fn significant(x: f64) -> String {
    if x == 0.0 {
        "0".to_string()
    } else if (1e-2..1e6).contains(&x.abs()) {
        let decimals = (2 - x.abs().log10().floor() as i32).clamp(0, 2) as usize;
        format!("{x:.decimals$}")
    } else {
        format!("{x:.2e}")
    }
}

/// The total variation that finite sampling alone produces: the mean, over `repeats` draws, of
/// the TV between the mass vector `density` (negative round-off counted as zero) and the
/// histogram of `samples` independent draws from it (a multinomial, drawn cell by cell as
/// conditional binomials). The floor under which no simulation with that many independent
/// samples can agree with its own stationary density.
pub fn sampling_floor_tv(density: &[f64], samples: u64, repeats: usize, seed: u64) -> f64 {
    let masses: Vec<f64> = density.iter().map(|m| m.max(0.0)).collect();
    let total: f64 = masses.iter().sum();
    if samples == 0 || repeats == 0 || total.is_nan() || total <= 0.0 {
        return f64::NAN;
    }
    let mut rng = Pcg64Mcg::seed_from_u64(seed ^ 0x0066_6c6f_6f72);
    let mut sum = 0.0;
    for _ in 0..repeats {
        let mut left = samples;
        let mut mass_left = total;
        let histogram: Vec<f64> = masses
            .iter()
            .map(|&m| {
                let p = if mass_left > 0.0 {
                    (m / mass_left).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let drawn = match Binomial::new(left, p) {
                    Ok(binomial) => binomial.sample(&mut rng),
                    Err(_) => 0,
                };
                left -= drawn;
                mass_left -= m;
                drawn as f64 / samples as f64
            })
            .collect();
        let normalised: Vec<f64> = masses.iter().map(|m| m / total).collect();
        sum += total_variation(&histogram, &normalised);
    }
    sum / repeats as f64
}

/// One observer per half of the walkers (even and odd indices): two independent halves of a
/// run, for [`split_half_floor_tv`].
#[derive(Clone, Debug)]
pub struct WalkerHalves<O>(pub O, pub O);

impl<O: Observer> Observer for WalkerHalves<O> {
    fn fork(&self) -> Self {
        WalkerHalves(self.0.fork(), self.1.fork())
    }
    fn begin_walker(&mut self, walker: usize) {
        match walker % 2 {
            0 => self.0.begin_walker(walker),
            _ => self.1.begin_walker(walker),
        }
    }
    fn observe(&mut self, walker: usize, unit: u64, before: &[f64], after: &[f64]) {
        match walker % 2 {
            0 => self.0.observe(walker, unit, before, after),
            _ => self.1.observe(walker, unit, before, after),
        }
    }
    fn merge(&mut self, other: Self) {
        self.0.merge(other.0);
        self.1.merge(other.1);
    }
}

/// A run's own sampling floor of the total variation: half the TV between the histograms of
/// its two halves of walkers. The halves are independent, so the difference of their densities
/// carries four times the variance of the whole run's sampling noise, and half their TV
/// estimates the whole run's; unlike [`sampling_floor_tv`] it includes the correlation of the
/// samples in time.
pub fn split_half_floor_tv(halves: &WalkerHalves<GridHistogram>) -> f64 {
    0.5 * total_variation(&halves.0.density(), &halves.1.density())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_memory_limits_and_the_time_needed() {
        let tau = 100.0;
        let memory = |burn_in, recorded| start_memory(RunLength { burn_in, recorded }, tau);
        assert!((memory(300.0, 0.0) - (-3.0_f64).exp()).abs() < 1e-15);
        // No burn-in, R = τ: (1 − e^{−1}).
        assert!((memory(0.0, 100.0) - (1.0 - (-1.0_f64).exp())).abs() < 1e-15);
        // m falls with R, and recording_needed inverts it.
        let threshold = (-3.0_f64).exp();
        for burn_in in [0.0, 50.0, 200.0] {
            let needed = recording_needed(burn_in, tau, threshold);
            assert!(
                (memory(burn_in, needed) - threshold).abs() < 1e-12,
                "{burn_in}"
            );
            assert!(memory(burn_in, 0.9 * needed) > threshold);
        }
        // Without burn-in about 1/threshold ≈ 20 relaxation times.
        let alone = recording_needed(0.0, tau, threshold) / tau;
        assert!((alone - 20.09).abs() < 0.01, "{alone}");
        assert_eq!(recording_needed(400.0, tau, threshold), 0.0);
    }

    fn occupation(simulated: f64) -> Occupation {
        Occupation {
            minimum: [-0.866, 0.0],
            simulated,
            predicted: 0.5,
            error: 0.011,
        }
    }

    #[test]
    fn verdicts_in_words() {
        let criteria = StationarityCriteria::default();
        let short = RunLength {
            burn_in: 100.0,
            recorded: 200.0,
        };
        let verdict = assess_stationarity(
            short,
            Some(1000.0),
            StartKind::Point,
            &[occupation(1.0), occupation(0.51)],
            &criteria,
            TimeUnit::Step,
        );
        assert!(!verdict.stationary);
        assert_eq!(verdict.reasons.len(), 2, "{verdict}");
        let text = verdict.to_string();
        assert!(
            text.contains("covers 0.30 relaxation times (burn-in 0.10,"),
            "{text}"
        );
        assert!(
            text.contains("100.0% simulated, 50.0 ± 1.1% predicted"),
            "{text}"
        );
        let extra = verdict.time_still_needed.expect("time needed");
        let fixed = RunLength {
            burn_in: 100.0,
            recorded: 200.0 + extra,
        };
        assert!(start_memory(fixed, 1000.0) <= criteria.start_memory * (1.0 + 1e-9));
        assert_eq!(verdict.recorded_relaxation_times, Some(0.2));

        // The same short run from a stationary start with agreeing occupations passes.
        let verdict = assess_stationarity(
            short,
            Some(1000.0),
            StartKind::Stationary,
            &[occupation(0.52)],
            &criteria,
            TimeUnit::Epoch,
        );
        assert!(verdict.stationary, "{verdict}");
        assert_eq!(verdict.to_string(), "stationary");
        // Without a relaxation time only the occupations count.
        let verdict = assess_stationarity(
            short,
            None,
            StartKind::Point,
            &[],
            &criteria,
            TimeUnit::Step,
        );
        assert!(verdict.stationary && verdict.recorded_relaxation_times.is_none());
    }

    /// Walkers are dealt to the halves by parity; for independent samples of a density the
    /// split-half floor agrees with [`sampling_floor_tv`] (here 100 cells, 200 000 samples:
    /// both about 0.0089; their spread is a few per cent, we allow 15%).
    #[test]
    fn split_half_floor_matches_independent_samples() {
        use crate::theory::fokker_planck::Grid2d;
        use rand::RngExt;
        let grid = Grid2d::new(10, 10, [0.0, 1.0, 0.0, 1.0]).expect("grid");
        let mut halves = WalkerHalves(GridHistogram::new(grid, 0), GridHistogram::new(grid, 0));
        let mut rng = Pcg64Mcg::seed_from_u64(5);
        for walker in 0..200_000 {
            let w = [rng.random::<f64>(), rng.random::<f64>()];
            halves.observe(walker, 0, &w, &w);
        }
        assert_eq!(halves.0.samples(), 100_000);
        let split = split_half_floor_tv(&halves);
        let independent = sampling_floor_tv(&[0.01; 100], 200_000, 20, 2);
        assert!(
            (split / independent - 1.0).abs() < 0.15,
            "{split} vs {independent}"
        );
    }

    /// The floor falls like `1/√samples` (for a multinomial over `k` equal cells the mean TV
    /// is about `sqrt(k/(2π n))` when `n ≫ k`).
    #[test]
    fn sampling_floor_scales_as_inverse_square_root() {
        let density = vec![0.01; 100];
        let floor = |n| sampling_floor_tv(&density, n, 20, 1);
        let (small, large) = (floor(10_000), floor(1_000_000));
        let expected = |n: f64| (100.0 / (2.0 * std::f64::consts::PI * n)).sqrt();
        assert!((small / expected(1e4) - 1.0).abs() < 0.05, "{small}");
        assert!((large / expected(1e6) - 1.0).abs() < 0.05, "{large}");
        assert!(sampling_floor_tv(&density, 0, 1, 1).is_nan());
    }
}
