//! The linearised theory (THEORY.md sections 3, 4) against simulation.
//!
//! Run in release mode: `cargo test --release --test theory`.

use std::path::Path;
use std::sync::Arc;

use neqlab::dynamics::{Algorithm, Dynamics, Ensemble, TimeUnit};
use neqlab::landscape::Landscape;
use neqlab::preset::{Experiment, Preset};
use neqlab::stats::{EntropyProduction, MomentStats};
use neqlab::theory::lyapunov::solve_discrete;
use neqlab::theory::{LinearTheory, TheoryOptions, linear_theory};

use nalgebra::DMatrix;

fn bowl_experiment(angle_deg: f64, algorithm: &str, temperature: f64) -> (Preset, Experiment) {
    let text = format!(
        r#"
title = "bowl"
[landscape]
kind = "bowl"
hessian = [1.0, 4.0]
noise = [1.0, 0.1]
angle_deg = {angle_deg}
n = 100
[dynamics]
algorithm = "{algorithm}"
eta = 0.02
batch = 10
temperature = {temperature}
"#
    );
    let preset = Preset::from_toml(&text, Path::new("bowl.toml")).expect("valid preset");
    let experiment = preset
        .build(Path::new("bowl.toml"), Some(&text))
        .expect("builds");
    (preset, experiment)
}

/// `‖a − b‖_F / ‖b‖_F`.
fn relative_frobenius(a: &[f64], b: &[f64]) -> f64 {
    let diff: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
    let norm: f64 = b.iter().map(|y| y * y).sum();
    (diff / norm).sqrt()
}

fn simulate(
    experiment: &Experiment,
    walkers: usize,
    burn_in: u64,
    units: u64,
    seed: u64,
) -> neqlab::stats::Moments {
    let landscape = experiment.landscape.as_ref();
    let mut ensemble = Ensemble::new(
        landscape,
        experiment.dynamics,
        walkers,
        &experiment.start,
        seed,
    );
    ensemble.advance(landscape, burn_in, &mut ());
    let mut stats = MomentStats::new(&experiment.start, burn_in);
    ensemble.advance(landscape, units, &mut stats);
    stats.moments().expect("samples")
}

/// The exact stationary covariance of the discrete WR map on the bowl,
/// `Σ = (I − ηH) Σ (I − ηH) + 2D` (the bowl's WR dynamics is exactly linear).
fn discrete_covariance(theory: &LinearTheory, eta: f64) -> Vec<f64> {
    let d = theory.dim();
    let k = DMatrix::from_row_slice(d, d, &theory.hessian) * eta;
    let q = DMatrix::from_row_slice(d, d, &theory.diffusion) * 2.0;
    let sigma = solve_discrete(&k, &q).expect("contracting");
    (0..d * d).map(|i| sigma[(i / d, i % d)]).collect()
}

/// Bowl at 30°, η = 0.02, B = 10, N = 100, SGD WR.
///
/// Sample size: 4000 walkers × 2000 steps after 500 burn-in steps (10 relaxation times of
/// the soft direction, 1/(η h) = 50 steps). The soft-direction variance has an integrated
/// autocorrelation time of about 1/(η h) = 50 steps, so about 1.6·10⁵ independent samples
/// and a relative standard error of sqrt(2/1.6·10⁵) ≈ 0.4% on the covariance. The
/// discretisation gap between the continuous Lyapunov Σ and the exact discrete stationary
/// covariance is O(η h) and is printed; the 5% target is met with room to spare.
#[test]
fn bowl_covariance_and_area_match_lyapunov() {
    let (_, experiment) = bowl_experiment(30.0, "sgd", 0.0);
    let theory = linear_theory(&experiment, &TheoryOptions::default()).expect("prediction");
    assert_eq!(theory.time_unit, TimeUnit::Step);
    let sim = simulate(&experiment, 4000, 500, 2000, 11);
    let cov_error = relative_frobenius(&sim.cov, &theory.cov);
    let discrete = discrete_covariance(&theory, 0.02);
    let gap = relative_frobenius(&discrete, &theory.cov);
    let sim_vs_discrete = relative_frobenius(&sim.cov, &discrete);
    let area_error = (sim.area[1] - theory.circulation[1]).abs() / theory.circulation[1].abs();
    println!(
        "theory cov {:?}\nsim cov {:?}\ndiscrete cov {:?}\ncov error {cov_error:.4} (discrete gap {gap:.4}, sim vs discrete {sim_vs_discrete:.4})\nC {:?} area {:?} error {area_error:.4}\nep rate {}",
        theory.cov, sim.cov, discrete, theory.circulation, sim.area, theory.ep_rate
    );
    assert!(cov_error < 0.05, "covariance off by {cov_error}");
    assert!(area_error < 0.15, "area off by {area_error}");
}

/// A bowl `l_i = ½ (w − x_i)ᵀ A (w − x_i)` whose data are symmetric under both reflections
/// `x → (±x₁, ±x₂)`, so the sample gradient covariance `S = A Cov(x) A` is exactly diagonal:
/// the shipped bowl draws its data at random, and at angle 0 its sample covariance has an
/// off-diagonal entry of order `1/√N` (see `shipped_bowl_at_angle_zero_is_nearly_in_equilibrium`).
struct SymmetricBowl {
    hessian: [f64; 2],
    data: Vec<[f64; 2]>,
}

impl SymmetricBowl {
    fn new(hessian: [f64; 2], std: [f64; 2], n_quarter: usize) -> Self {
        let mut data = Vec::new();
        for k in 0..n_quarter {
            // Deterministic, spread-out magnitudes.
            let u = (k as f64 + 0.5) / n_quarter as f64;
            let (a, b) = (
                std[0] * (2.0 * u).sqrt() * 1.2,
                std[1] * (2.0 * (1.0 - u)).sqrt() * 1.2,
            );
            for (sa, sb) in [(1.0, 1.0), (1.0, -1.0), (-1.0, 1.0), (-1.0, -1.0)] {
                data.push([sa * a, sb * b]);
            }
        }
        Self { hessian, data }
    }
}

impl Landscape for SymmetricBowl {
    fn kind(&self) -> &'static str {
        "symmetric-bowl"
    }
    fn dim(&self) -> usize {
        2
    }
    fn n_examples(&self) -> usize {
        self.data.len()
    }
    fn example_loss(&self, i: usize, w: &[f64]) -> f64 {
        let x = self.data[i];
        0.5 * (self.hessian[0] * (w[0] - x[0]).powi(2) + self.hessian[1] * (w[1] - x[1]).powi(2))
    }
    fn add_example_gradient(&self, i: usize, w: &[f64], scale: f64, out: &mut [f64]) {
        let x = self.data[i];
        out[0] += scale * self.hessian[0] * (w[0] - x[0]);
        out[1] += scale * self.hessian[1] * (w[1] - x[1]);
    }
    fn add_example_hessian(&self, _: usize, _: &[f64], scale: f64, out: &mut [f64]) {
        out[0] += scale * self.hessian[0];
        out[3] += scale * self.hessian[1];
    }
    fn start(&self) -> Vec<f64> {
        vec![0.3, -0.2]
    }
}

fn symmetric_bowl_experiment(algorithm: Algorithm, temperature: f64) -> Experiment {
    let landscape = Arc::new(SymmetricBowl::new([1.0, 4.0], [1.0, 0.1_f64.sqrt()], 25));
    let dynamics = Dynamics::new(algorithm, None, 0.02, 10, temperature, 100).expect("valid");
    Experiment {
        start: landscape.start(),
        landscape,
        dynamics,
    }
}

/// When `D` commutes with `H` (diagonal noise on the diagonal bowl) `C = 0` to round-off and
/// there is no entropy production; the simulated stochastic area vanishes within error.
///
/// Error of the simulated area: 8 independent groups of 1000 walkers × 2000 steps; the
/// spread of the group means gives the standard error of their average, and we ask for
/// |area| < 4 standard errors (and, as a scale, far below the 30° circulation 1.9e-5).
#[test]
fn commuting_noise_is_in_equilibrium() {
    let experiment = symmetric_bowl_experiment(Algorithm::Sgd, 0.0);
    let theory = linear_theory(&experiment, &TheoryOptions::default()).expect("prediction");
    let scale = theory.cov.iter().fold(0.0_f64, |m, x| m.max(x.abs())) * 0.02 * 4.0;
    println!("C {:?} ep {}", theory.circulation, theory.ep_rate);
    assert!(theory.minimum.iter().all(|x| x.abs() < 1e-14));
    assert!(theory.circulation.iter().all(|c| c.abs() < 1e-14 * scale));
    assert!(theory.ep_rate.abs() < 1e-20);
    let areas: Vec<f64> = (0..8)
        .map(|group| simulate(&experiment, 1000, 500, 2000, 100 + group).area[1])
        .collect();
    let mean = areas.iter().sum::<f64>() / 8.0;
    let var = areas.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / 7.0;
    let standard_error = (var / 8.0).sqrt();
    println!("area {mean:e} ± {standard_error:e}");
    assert!(
        mean.abs() < 4.0 * standard_error,
        "area {mean} ± {standard_error}"
    );
    assert!(
        standard_error < 2e-7,
        "the test must be able to see a current of 1e-6"
    );
}

/// The shipped bowl at angle 0 is only nearly in equilibrium: its 100 data points are drawn
/// at random, so the sample covariance carries an off-diagonal entry of order `1/√N` and
/// `D` does not quite commute with `H`. The theory predicts a small circulation, far below
/// the 30° one.
#[test]
fn shipped_bowl_at_angle_zero_is_nearly_in_equilibrium() {
    let (_, tilted) = bowl_experiment(30.0, "sgd", 0.0);
    let (_, straight) = bowl_experiment(0.0, "sgd", 0.0);
    let tilted = linear_theory(&tilted, &TheoryOptions::default()).expect("prediction");
    let straight = linear_theory(&straight, &TheoryOptions::default()).expect("prediction");
    println!(
        "angle 0: C12 = {:e}, ep = {:e}; angle 30: C12 = {:e}, ep = {:e}",
        straight.circulation[1], straight.ep_rate, tilted.circulation[1], tilted.ep_rate
    );
    assert!(straight.circulation[1].abs() < 0.05 * tilted.circulation[1].abs());
    assert!(straight.ep_rate < 1e-3 * tilted.ep_rate);
}

/// Entropy production and fluctuation theorems on the bowl at 30° (η = 0.02, B = 10,
/// N = 100, SGD WR), with the theory's `v` and `D`.
///
/// Sample size: 4000 walkers × 2000 steps after 500 burn-in. Standard errors come from 32
/// independent walker groups and are printed; the targets (EP within 20%, IFT within 0.02 of
/// 1 for k = 1..3, DFT slope within 0.1 of 1) are several standard errors wide.
#[test]
fn bowl_entropy_production_and_fluctuation_theorems() {
    let (_, experiment) = bowl_experiment(30.0, "sgd", 0.0);
    let theory = linear_theory(&experiment, &TheoryOptions::default()).expect("prediction");
    let landscape = experiment.landscape.as_ref();
    let (walkers, burn_in, steps) = (4000, 500, 2000);
    let mut ensemble = Ensemble::new(
        landscape,
        experiment.dynamics,
        walkers,
        &experiment.start,
        21,
    );
    ensemble.advance(landscape, burn_in, &mut ());
    let mut entropy = EntropyProduction::new(&theory, burn_in, 5).expect("D invertible");
    ensemble.advance(landscape, steps, &mut entropy);
    let stats = entropy.stats();
    let ep_error = (stats.ep_rate - theory.ep_rate).abs() / theory.ep_rate;
    println!(
        "ep theory {:.5} sim {:.5} ± {:.5} (rel. diff {ep_error:.4})",
        theory.ep_rate, stats.ep_rate, stats.ep_rate_error
    );
    for point in &stats.ift {
        println!(
            "IFT k = {}: {:.5} ± {:.5} ({} trajectories)",
            point.units, point.mean, point.error, point.trajectories
        );
    }
    println!(
        "DFT slope (k = {}) {:?} ± {:?} over {} bin pairs",
        stats.dft_units, stats.dft_slope, stats.dft_slope_error, stats.dft_bins
    );
    assert!(ep_error < 0.2, "entropy production off by {ep_error}");
    for point in stats.ift.iter().take(3) {
        assert!(
            (point.mean - 1.0).abs() < 0.02,
            "IFT k = {}: {}",
            point.units,
            point.mean
        );
    }
    let slope = stats.dft_slope.expect("slope");
    assert!((slope - 1.0).abs() < 0.1, "DFT slope {slope}");
}
