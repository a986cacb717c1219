//! The stationary Fokker–Planck solver against exact solutions and against simulation
//! (docs/theory.md §3, §7.3 and §8).

use neqlab::dynamics::{Algorithm, Dynamics, Ensemble, Observer};
use std::path::Path;

use neqlab::landscape::{Bowl, BowlSpec, Landscape, gradient_covariance};
use neqlab::preset::{Preset, shipped};
use neqlab::stats::grid::{GridHistogram, total_variation};
use neqlab::theory::drift_and_diffusion;
use neqlab::theory::fokker_planck::{
    FpError, FpSolution, Grid2d, automatic_bounds, solve_stationary,
};

type Matrix = [[f64; 2]; 2];

fn mat_vec(m: Matrix, v: [f64; 2]) -> [f64; 2] {
    [
        m[0][0] * v[0] + m[0][1] * v[1],
        m[1][0] * v[0] + m[1][1] * v[1],
    ]
}

fn inverse(m: Matrix) -> Matrix {
    let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
    [
        [m[1][1] / det, -m[0][1] / det],
        [-m[1][0] / det, m[0][0] / det],
    ]
}

fn mat_mul(a: Matrix, b: Matrix) -> Matrix {
    let mut c = [[0.0; 2]; 2];
    for i in 0..2 {
        for j in 0..2 {
            c[i][j] = a[i][0] * b[0][j] + a[i][1] * b[1][j];
        }
    }
    c
}

/// Σ solving the continuous Lyapunov equation `K Σ + Σ Kᵀ = 2 D` (unknowns Σxx, Σxy, Σyy).
fn lyapunov(k: Matrix, d: Matrix) -> Matrix {
    // Rows: (0,0), (0,1), (1,1) entries of KΣ + ΣKᵀ.
    let a = [
        [2.0 * k[0][0], 2.0 * k[0][1], 0.0],
        [k[1][0], k[0][0] + k[1][1], k[0][1]],
        [0.0, 2.0 * k[1][0], 2.0 * k[1][1]],
    ];
    let rhs = [2.0 * d[0][0], 2.0 * d[0][1], 2.0 * d[1][1]];
    let s = solve3(a, rhs);
    [[s[0], s[1]], [s[1], s[2]]]
}

/// Cramer's rule for a 3×3 system.
fn solve3(a: [[f64; 3]; 3], b: [f64; 3]) -> [f64; 3] {
    let det3 = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let det = det3(a);
    let mut x = [0.0; 3];
    for (col, xc) in x.iter_mut().enumerate() {
        let mut m = a;
        for row in 0..3 {
            m[row][col] = b[row];
        }
        *xc = det3(m) / det;
    }
    x
}

/// Gaussian density `N(mean, cov)` at `w`.
fn gaussian(mean: [f64; 2], cov: Matrix, w: [f64; 2]) -> f64 {
    let x = [w[0] - mean[0], w[1] - mean[1]];
    let inv = inverse(cov);
    let q =
        x[0] * (inv[0][0] * x[0] + inv[0][1] * x[1]) + x[1] * (inv[1][0] * x[0] + inv[1][1] * x[1]);
    let det = cov[0][0] * cov[1][1] - cov[0][1] * cov[1][0];
    (-0.5 * q).exp() / (2.0 * std::f64::consts::PI * det.sqrt())
}

/// Mass per cell of a density given at cell centres (midpoint rule), normalised on the grid.
fn masses(grid: &Grid2d, density: impl Fn([f64; 2]) -> f64) -> Vec<f64> {
    let raw: Vec<f64> = grid.centres().into_iter().map(density).collect();
    let total: f64 = raw.iter().sum();
    raw.iter().map(|x| x / total).collect()
}

/// `Σ |J − J_exact| / Σ |J_exact|` over the cells, with `J_exact` given at centres.
fn current_error(solution: &FpSolution, exact: impl Fn([f64; 2]) -> [f64; 2]) -> f64 {
    let mut error = 0.0;
    let mut norm = 0.0;
    for (w, j) in solution.grid.centres().into_iter().zip(&solution.current) {
        let e = exact(w);
        error += ((j[0] - e[0]).powi(2) + (j[1] - e[1]).powi(2)).sqrt();
        norm += (e[0].powi(2) + e[1].powi(2)).sqrt();
    }
    error / norm
}

/// Ornstein–Uhlenbeck: drift `−K w`, constant `D` not commuting with `K`. The stationary
/// state is `N(0, Σ)` with `K Σ + Σ Kᵀ = 2 D` and carries the current `J = (D Σ⁻¹ − K) w p`.
fn ornstein_uhlenbeck(n: usize) -> (FpSolution, Vec<f64>, f64) {
    let k = [[1.0, 0.0], [0.0, 4.0]];
    let d = [[0.8, 0.9], [0.9, 2.0]];
    let sigma = lyapunov(k, d);
    let bounds = automatic_bounds(
        &[0.0, 0.0],
        &[sigma[0][0], sigma[0][1], sigma[1][0], sigma[1][1]],
        &[],
    );
    let grid = Grid2d::square(n, bounds).expect("valid grid");
    let drift = move |w: [f64; 2]| {
        let a = mat_vec(k, w);
        [-a[0], -a[1]]
    };
    let diffusion = move |_: [f64; 2]| d;
    let solution = solve_stationary(&grid, &drift, &diffusion).expect("solves");
    let exact = masses(&grid, |w| gaussian([0.0, 0.0], sigma, w));
    let mut velocity = mat_mul(d, inverse(sigma));
    for i in 0..2 {
        for j in 0..2 {
            velocity[i][j] -= k[i][j];
        }
    }
    let error = current_error(&solution, |w| {
        let v = mat_vec(velocity, w);
        let p = gaussian([0.0, 0.0], sigma, w);
        [v[0] * p, v[1] * p]
    });
    (solution, exact, error)
}

/// Ornstein–Uhlenbeck with `D = [[0.8, 0.9], [0.9, 2]]` (`|D_xy| > D_xx`, where a nine-point
/// stencil loses monotonicity) against `K = diag(1, 4)`: `KD ≠ DK`, so the state carries a
/// rotating current. No sampling is involved: the only error is the discretisation, second
/// order in the cell size. Measured (this commit): TV 7.6e-4 at 64², 1.9e-4 at 128²; current
/// error 1.9e-2 at 64², 4.7e-3 at 128². The tolerances leave a factor ~4 (TV < 1e-3 at 128²,
/// against the 1e-2 asked for) and require the order to stay above 1.5.
#[test]
fn ornstein_uhlenbeck_density_and_current() {
    let (coarse, coarse_exact, coarse_current_error) = ornstein_uhlenbeck(64);
    let (fine, fine_exact, fine_current_error) = ornstein_uhlenbeck(128);
    let coarse_tv = total_variation(&coarse.density, &coarse_exact);
    let fine_tv = total_variation(&fine.density, &fine_exact);
    eprintln!(
        "OU: TV {coarse_tv:.2e} (64²) {fine_tv:.2e} (128²); current error {coarse_current_error:.2e} {fine_current_error:.2e}; \
         min {:.2e}, negative {}, reach {}, {:.3} s at 128²",
        fine.min_density, fine.negative_cells, fine.stencil_reach, fine.solve_seconds
    );
    for solution in [&coarse, &fine] {
        assert!((solution.density.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(solution.negative_cells, 0);
        assert!(solution.min_density >= 0.0);
    }
    assert!(fine_tv < 1e-3, "TV {fine_tv}");
    assert!(
        fine_current_error < 0.02,
        "current error {fine_current_error}"
    );
    assert!((coarse_tv / fine_tv).log2() > 1.5, "density order");
    assert!(
        (coarse_current_error / fine_current_error).log2() > 1.5,
        "current order"
    );
}

/// Equilibrium: drift `−∇U` and `D = T I` give `p ∝ exp(−U/T)` and no current, for a
/// nonconvex `U` (a tilted double well with cross terms; the `sin 2x cos y` term keeps the discrete
/// Péclet numbers, trapezoid rules of `∇U`, from summing to zero around every plaquette, so
/// that the discrete current is not trivially zero).
#[test]
fn equilibrium_density_and_no_current() {
    let temperature = 0.4;
    let potential = |w: [f64; 2]| {
        let [x, y] = w;
        (x * x - 1.0).powi(2)
            + 0.3 * x
            + 0.8 * y * y
            + 0.4 * x * y
            + 0.3 * (2.0 * x).sin() * y.cos()
    };
    let gradient = |w: [f64; 2]| {
        let [x, y] = w;
        [
            4.0 * x * (x * x - 1.0) + 0.3 + 0.4 * y + 0.6 * (2.0 * x).cos() * y.cos(),
            1.6 * y + 0.4 * x - 0.3 * (2.0 * x).sin() * y.sin(),
        ]
    };
    let grid = Grid2d::square(128, [-2.2, 2.2, -2.0, 2.0]).expect("valid");
    let drift = |w: [f64; 2]| {
        let g = gradient(w);
        [-g[0], -g[1]]
    };
    let diffusion = |_: [f64; 2]| [[temperature, 0.0], [0.0, temperature]];
    let solution = solve_stationary(&grid, &drift, &diffusion).expect("solves");
    let exact = masses(&grid, |w| (-potential(w) / temperature).exp());
    let tv = total_variation(&solution.density, &exact);
    // The scale of the current's two halves, |A p| = |T ∇p|: the current is their difference.
    let area = grid.cell_area();
    let (mut current, mut scale) = (0.0, 0.0);
    for ((w, j), m) in grid
        .centres()
        .into_iter()
        .zip(&solution.current)
        .zip(&solution.density)
    {
        let g = gradient(w);
        current += j[0].hypot(j[1]);
        scale += g[0].hypot(g[1]) * m / area;
    }
    let relative_current = current / scale;
    eprintln!("equilibrium 128²: TV {tv:.2e}, |J| / |A p| = {relative_current:.2e}");
    // Discretisation only, O(h²) with h = 4.4/128: measured TV 5.2e-4 and |J|/|A p| 3e-6 (the
    // exponential fitting makes every edge nearly detailed-balanced).
    assert!(tv < 2e-3, "TV {tv}");
    assert!(relative_current < 1e-4, "current {relative_current}");
    assert_eq!(solution.negative_cells, 0);
}

/// Position-dependent, non-diagonal `D(w)` with a known stationary density: for any `D` and
/// `p ∝ exp(−V)`, the drift `A_a = Σ_b ∂_b D_ab − Σ_b D_ab ∂_b V` makes `J = A p − ∇·(D p)`
/// vanish identically, so `p` is stationary. Here `D_xx` varies along `x`, `D_yy` along `x`
/// and `D_xy` along `y` and changes sign, so that the Selling stencil switches between cells.
/// The error is pure discretisation; the convergence order between 64² and 128² is measured
/// and must be at least 1.5 (second-order scheme).
#[test]
fn position_dependent_diffusion_matches_analytic_density() {
    let potential = |w: [f64; 2]| {
        let [x, y] = w;
        0.5 * x * x + 0.1 * x.powi(4) + 0.5 * y * y - 0.3 * x * y
    };
    let potential_gradient = |w: [f64; 2]| {
        let [x, y] = w;
        [x + 0.4 * x.powi(3) - 0.3 * y, y - 0.3 * x]
    };
    let diffusion = |w: [f64; 2]| {
        let [x, y] = w;
        let off = 0.5 * y.cos();
        [
            [1.2 + 0.5 * x.sin(), off],
            [off, 1.0 + 0.3 * x * x / (1.0 + x * x)],
        ]
    };
    let drift = move |w: [f64; 2]| {
        let [x, y] = w;
        let d = diffusion(w);
        let v = potential_gradient(w);
        // Σ_b ∂_b D_xb = ∂_x D_xx + ∂_y D_xy; Σ_b ∂_b D_yb = ∂_x D_yx + ∂_y D_yy = 0.
        let divergence = [0.5 * x.cos() - 0.5 * y.sin(), 0.0];
        [
            divergence[0] - d[0][0] * v[0] - d[0][1] * v[1],
            divergence[1] - d[1][0] * v[0] - d[1][1] * v[1],
        ]
    };
    let bounds = [-4.0, 4.0, -5.0, 5.0];
    let mut errors = Vec::new();
    for n in [64, 128] {
        let grid = Grid2d::square(n, bounds).expect("valid");
        let solution = solve_stationary(&grid, &drift, &diffusion).expect("solves");
        let exact = masses(&grid, |w| (-potential(w)).exp());
        let tv = total_variation(&solution.density, &exact);
        let current: f64 = solution
            .current
            .iter()
            .map(|j| j[0].hypot(j[1]))
            .sum::<f64>()
            * grid.cell_area();
        eprintln!(
            "position-dependent D {n}²: TV {tv:.2e}, ∫|J| {current:.2e}, reach {}, negative {}",
            solution.stencil_reach, solution.negative_cells
        );
        assert_eq!(solution.negative_cells, 0);
        errors.push(tv);
    }
    let order = (errors[0] / errors[1]).log2();
    eprintln!("convergence order {order:.2}");
    assert!(errors[1] < 5e-3, "TV {}", errors[1]);
    assert!(order > 1.5, "order {order}");
}

#[test]
fn bad_input_is_an_error() {
    let drift = |w: [f64; 2]| [-w[0], -w[1]];
    let unit = |_: [f64; 2]| [[1.0, 0.0], [0.0, 1.0]];
    let bounds = [-1.0, 1.0, -1.0, 1.0];
    for (nx, ny) in [(0, 10), (10, 0), (1025, 4)] {
        let grid = Grid2d { nx, ny, bounds };
        let error = solve_stationary(&grid, &drift, &unit).expect_err("bad grid");
        assert!(matches!(error, FpError::GridSize { .. }));
        assert!(error.to_string().contains("fp.grid"), "{error}");
        assert!(Grid2d::new(nx, ny, bounds).is_err());
    }
    for bounds in [
        [1.0, 1.0, -1.0, 1.0],
        [1.0, -1.0, -1.0, 1.0],
        [-1.0, 1.0, 2.0, 0.0],
        [f64::NAN, 1.0, -1.0, 1.0],
        [-1.0, f64::INFINITY, -1.0, 1.0],
        [-1e308, 1e308, -1.0, 1.0],
    ] {
        let grid = Grid2d {
            nx: 8,
            ny: 8,
            bounds,
        };
        let error = solve_stationary(&grid, &drift, &unit).expect_err("bad bounds");
        assert!(
            matches!(error, FpError::Bounds { .. }),
            "{bounds:?}: {error}"
        );
        assert!(error.to_string().contains("fp.bounds"), "{error}");
    }
    let grid = Grid2d::square(8, bounds).expect("valid");
    let singular = |_: [f64; 2]| [[1.0, 1.0], [1.0, 1.0]];
    let zero = |_: [f64; 2]| [[0.0, 0.0], [0.0, 0.0]];
    let indefinite = |_: [f64; 2]| [[1.0, 0.0], [0.0, -1.0]];
    for diffusion in [
        &singular as &(dyn Fn([f64; 2]) -> [[f64; 2]; 2] + Sync),
        &zero,
        &indefinite,
    ] {
        let error = solve_stationary(&grid, &drift, diffusion).expect_err("singular D");
        assert!(
            matches!(error, FpError::SingularDiffusion { .. }),
            "{error}"
        );
    }
    let nan_somewhere = |w: [f64; 2]| {
        if w[0] > 0.5 {
            [[f64::NAN, 0.0], [0.0, 1.0]]
        } else {
            [[1.0, 0.0], [0.0, 1.0]]
        }
    };
    let error = solve_stationary(&grid, &drift, &nan_somewhere).expect_err("NaN D");
    assert!(
        matches!(error, FpError::NonFiniteDiffusion { at, .. } if at[0] > 0.5),
        "{error}"
    );
    let infinite_drift = |_: [f64; 2]| [f64::INFINITY, 0.0];
    let error = solve_stationary(&grid, &infinite_drift, &unit).expect_err("infinite drift");
    assert!(matches!(error, FpError::NonFiniteDrift { .. }), "{error}");
    // A single cell is a valid grid: all the mass sits in it.
    let one = Grid2d::square(1, bounds).expect("valid");
    let solution = solve_stationary(&one, &drift, &unit).expect("solves");
    assert_eq!(solution.density, vec![1.0]);
}

/// Routes each walker's time units to one of several histograms (`walker mod groups`), so
/// that the groups are statistically independent and their spread measures the sampling error
/// of the merged histogram, autocorrelation included.
struct Grouped(Vec<GridHistogram>);

impl Observer for Grouped {
    fn fork(&self) -> Self {
        Grouped(self.0.iter().map(Observer::fork).collect())
    }
    fn observe(&mut self, walker: usize, unit: u64, before: &[f64], after: &[f64]) {
        let groups = self.0.len();
        self.0[walker % groups].observe(walker, unit, before, after);
    }
    fn merge(&mut self, other: Self) {
        self.0.iter_mut().zip(other.0).for_each(|(a, b)| a.merge(b));
    }
}

impl Grouped {
    fn merged(&self) -> GridHistogram {
        let mut all = self.0[0].fork();
        for group in &self.0 {
            all.merge(group.clone());
        }
        all
    }
}

/// `Σ_cells area · ((x − m)_x J_y − (x − m)_y J_x)`: twice the stochastic area rate, the
/// rotating part of the current's first moment.
fn circulation(grid: &Grid2d, current: &[[f64; 2]], mean: [f64; 2]) -> f64 {
    let area = grid.cell_area();
    grid.centres()
        .into_iter()
        .zip(current)
        .map(|(w, j)| area * ((w[0] - mean[0]) * j[1] - (w[1] - mean[1]) * j[0]))
        .sum()
}

/// SGD with replacement on the bowl (`H = diag(1, 4)`, data rotated by 30°: `D` does not
/// commute with `H`), simulated with the real [`Ensemble`] and binned by [`GridHistogram`],
/// against the Fokker–Planck solution.
///
/// The step map `w ← (I − ηH) w + noise` is linear, so its stationary covariance solves the
/// discrete Lyapunov equation `Σ = M Σ Mᵀ + η² c_B S`, `M = I − ηH`. The continuous OU
/// process with drift `−ηH (w − w*)` and `D_c = ½(ηH Σ + Σ ηH) = (η²/2) c_B S + (η²/2) H Σ H`
/// has exactly this Σ and the same first moment of the midpoint-binned current, so it is the
/// Fokker–Planck problem whose solution the histogram must match without an O(η) bias
/// (the `(η²/2) H Σ H` term is the Kramers–Moyal correction of the discrete step).
///
/// Sample: 8 192 walkers × 1 500 steps after a 300-step burn-in (12.3 million walker-steps,
/// relaxation time 1/(η h_min) = 20 steps). The sampling error is measured, not assumed:
/// the walkers are split into 8 independent groups, and the expected sampling TV of the
/// merged histogram is `mean_g TV(group_g, merged) / sqrt(G − 1)` (each group has 1/G of
/// the samples; TV scales like sqrt(cells / samples)). The tolerance is twice that plus the
/// shape error of the second-order Fokker–Planck description (see the assertion).
#[test]
fn bowl_histogram_matches_the_solution() {
    let bowl = Bowl::new(&BowlSpec::default()).expect("valid bowl");
    let (eta, batch) = (0.05, 10);
    let dynamics = Dynamics::new(Algorithm::Sgd, None, eta, batch, 0.0, bowl.n_examples())
        .expect("valid dynamics");
    let start = bowl.start();
    let minimum = [start[0], start[1]];
    let c_b = dynamics.finite_population_factor();
    let s = gradient_covariance(&bowl, &start);
    let k = [[eta, 0.0], [0.0, 4.0 * eta]];
    let noise = [
        [eta * eta * c_b * s[0], eta * eta * c_b * s[1]],
        [eta * eta * c_b * s[2], eta * eta * c_b * s[3]],
    ];
    let sigma = discrete_lyapunov([[1.0 - k[0][0], 0.0], [0.0, 1.0 - k[1][1]]], noise);
    let (ks, sk) = (mat_mul(k, sigma), mat_mul(sigma, k));
    let d_c = [
        [0.5 * (ks[0][0] + sk[0][0]), 0.5 * (ks[0][1] + sk[0][1])],
        [0.5 * (ks[1][0] + sk[1][0]), 0.5 * (ks[1][1] + sk[1][1])],
    ];
    let bounds = automatic_bounds(
        &start,
        &[sigma[0][0], sigma[0][1], sigma[1][0], sigma[1][1]],
        &[],
    );
    // The solve runs at 128² and is summed into the histogram's 32² cells: this removes the
    // solver's discretisation error (TV 7e-3 at 32², 4e-4 at 128² coarsened, against the
    // exact Gaussian) and the O(h²) difference between a cell's mass and `p(centre) h²`.
    let fine = Grid2d::square(128, bounds).expect("valid grid");
    let drift = move |w: [f64; 2]| {
        let a = mat_vec(k, [w[0] - minimum[0], w[1] - minimum[1]]);
        [-a[0], -a[1]]
    };
    let diffusion = move |_: [f64; 2]| d_c;
    let solution = solve_stationary(&fine, &drift, &diffusion)
        .expect("solves")
        .coarsened(4)
        .expect("128 = 4 · 32");
    let grid = solution.grid;

    let (walkers, burn_in, steps, groups) = (8192, 300, 1500, 8);
    let mut observer = Grouped(vec![GridHistogram::new(grid, burn_in); groups]);
    let mut ensemble = Ensemble::new(&bowl, dynamics, walkers, &start, 7);
    ensemble.advance(&bowl, burn_in + steps, &mut observer);
    let merged = observer.merged();
    assert_eq!(merged.samples(), walkers as u64 * steps);
    let density = merged.density();
    let tv = total_variation(&density, &solution.density);
    let sampling_tv = observer
        .0
        .iter()
        .map(|g| total_variation(&g.density(), &density))
        .sum::<f64>()
        / groups as f64
        / ((groups - 1) as f64).sqrt();

    let simulated_circulation = circulation(&grid, &merged.current(), minimum);
    let solved_circulation = circulation(&grid, &solution.current, minimum);
    // Exact: ∫ J (w − w*)ᵀ = D_c − K Σ, whose antisymmetric part is ½(Σ K − K Σ).
    let exact_circulation = sk[1][0] - ks[1][0];
    let group_circulations: Vec<f64> = observer
        .0
        .iter()
        .map(|g| circulation(&grid, &g.current(), minimum))
        .collect();
    let mean = group_circulations.iter().sum::<f64>() / groups as f64;
    let spread = (group_circulations
        .iter()
        .map(|c| (c - mean).powi(2))
        .sum::<f64>()
        / (groups - 1) as f64)
        .sqrt();
    let circulation_error = spread / (groups as f64).sqrt();
    eprintln!(
        "bowl 128² solve in 32² cells: TV {tv:.4} (sampling {sampling_tv:.4}), outside {:.1e}; circulation sim {simulated_circulation:.4e} ± {circulation_error:.1e}, \
         solved {solved_circulation:.4e}, exact {exact_circulation:.4e}",
        merged.outside_fraction()
    );
    // Measured (seed 7): TV 0.0034 with a sampling TV of 0.0016. The excess, ~0.003, is the
    // shape of the discrete chain's stationary law, which a second-order Fokker–Planck equation
    // neglects (the skewness of the minibatch noise, averaged over only ~1/(η h_max) = 5
    // steps in the stiff direction): the simulated covariance matches Σ to 0.2 %, and the
    // excess drops to 0.002 at η = 0.025 (skewness ∝ sqrt(η h)). Hence 2 × sampling + 5e-3.
    assert!(
        tv < 2.0 * sampling_tv + 5e-3,
        "TV {tv}, sampling {sampling_tv}"
    );
    // The circulation is a first moment, which the continuous process reproduces exactly:
    // simulation against the solve within 4 standard errors plus 1 % for the solve's
    // discretisation (measured 0.3 %), and the solve against the closed form within 1 %.
    assert!(
        (simulated_circulation - solved_circulation).abs()
            < 4.0 * circulation_error + 0.01 * solved_circulation.abs(),
        "circulation {simulated_circulation} vs {solved_circulation} ± {circulation_error}"
    );
    assert!((solved_circulation - exact_circulation).abs() < 0.01 * exact_circulation.abs());
}

/// Σ solving `Σ = M Σ Mᵀ + Q` (unknowns Σxx, Σxy, Σyy).
fn discrete_lyapunov(m: Matrix, q: Matrix) -> Matrix {
    let basis = [
        [[1.0, 0.0], [0.0, 0.0]],
        [[0.0, 1.0], [1.0, 0.0]],
        [[0.0, 0.0], [0.0, 1.0]],
    ];
    let mut a = [[0.0; 3]; 3];
    for (col, e) in basis.into_iter().enumerate() {
        let mt = [[m[0][0], m[1][0]], [m[0][1], m[1][1]]];
        let mem = mat_mul(mat_mul(m, e), mt);
        let image = [
            e[0][0] - mem[0][0],
            e[0][1] - mem[0][1],
            e[1][1] - mem[1][1],
        ];
        for row in 0..3 {
            a[row][col] = image[row];
        }
    }
    let s = solve3(a, [q[0][0], q[0][1], q[1][1]]);
    [[s[0], s[1]], [s[1], s[2]]]
}

/// SGD with replacement on the double well (docs/theory.md section 3 with a position-dependent,
/// non-commuting `D(w)`), end to end: the shipped `double-well` preset is built into an
/// experiment, the theory's fields `A(w) = −η ∇L(w)`, `D(w) = (η²/2) c_B S(w) + η T I`
/// ([`drift_and_diffusion`], checked here against the formulas written out from the
/// landscape) are solved on the preset's 128² grid and bounds, and the real [`Ensemble`]'s
/// histogram is compared in 32² cells.
///
/// Preset values: `η = 0.03`, `B = 10`, `N = 100`, `T = 0`; walkers hop between the wells
/// about once every 3·10³ steps, so the well populations relax in ~1.5·10³ steps. Walkers
/// start half in each minimum and burn in for 6·10³ steps (four relaxation times), then
/// record 4·10³ steps: 4 096 walkers, 41 million walker-steps in all. The sampling TV is
/// measured from 8 independent walker groups as in the bowl test; the tolerance,
/// TV < 0.05, must hold, and the measured TV is printed with its sampling part.
#[test]
fn double_well_matches_simulation() {
    let path = Path::new("presets/double-well.toml");
    let text = shipped("double-well").expect("shipped preset");
    let preset = Preset::from_toml(text, path).expect("parses");
    let experiment = preset.build(path, Some(text)).expect("builds");
    let landscape = experiment.landscape.as_ref();
    let dynamics = experiment.dynamics;
    assert_eq!((dynamics.eta, dynamics.batch_size), (0.03, 10));
    let fields = drift_and_diffusion(&experiment, None).expect("a 2-D landscape with replacement");

    // The fields, written out from the landscape (docs/theory.md section 3).
    let eta = dynamics.eta;
    let noise = 0.5 * eta * eta * dynamics.finite_population_factor();
    // Minima at w1 = ±sqrt(a² − k shear²) = ±sqrt(0.75) for the preset's a = k = 1, shear = 0.5.
    let minimum = 0.75_f64.sqrt();
    let minima = [[-minimum, 0.0], [minimum, 0.0]];
    for w in [minima[0], minima[1], [0.0, 0.0], [1.2, -0.3]] {
        let mut g = [0.0; 2];
        landscape.gradient(&w, &mut g);
        let s = gradient_covariance(landscape, &w);
        let (a, d) = (fields.drift(w), fields.diffusion(w));
        let temperature = dynamics.temperature;
        let expected = [
            [noise * s[0] + eta * temperature, noise * s[1]],
            [noise * s[2], noise * s[3] + eta * temperature],
        ];
        for i in 0..2 {
            assert!((a[i] + eta * g[i]).abs() <= 1e-12 * (eta * g[i]).abs().max(1e-12));
            for j in 0..2 {
                assert!((d[i][j] - expected[i][j]).abs() <= 1e-12 * expected[0][0]);
            }
        }
    }

    let bounds = preset.fp.bounds.expect("the preset sets its bounds");
    let fine = Grid2d::square(preset.fp.grid, bounds).expect("valid grid");
    let solution =
        solve_stationary(&fine, &|w| fields.drift(w), &|w| fields.diffusion(w)).expect("solves");
    assert_eq!(solution.negative_cells, 0);
    let solve_seconds = solution.solve_seconds;
    let solution = solution.coarsened(4).expect("128 = 4 · 32");
    let grid = solution.grid;

    let (walkers, burn_in, steps, groups) = (4096, 6000, 4000, 8);
    let positions: Vec<f64> = (0..walkers).flat_map(|k| minima[k % 2]).collect();
    let mut ensemble = Ensemble::from_positions(landscape, dynamics, positions, 11);
    let mut observer = Grouped(vec![GridHistogram::new(grid, burn_in); groups]);
    ensemble.advance(landscape, burn_in + steps, &mut observer);
    assert_eq!(ensemble.diverged_walkers(), 0);
    let merged = observer.merged();
    let density = merged.density();
    let tv = total_variation(&density, &solution.density);
    let sampling_tv = observer
        .0
        .iter()
        .map(|g| total_variation(&g.density(), &density))
        .sum::<f64>()
        / groups as f64
        / ((groups - 1) as f64).sqrt();
    let left = |m: &[f64]| -> f64 {
        m.iter()
            .enumerate()
            .filter(|(c, _)| grid.centre_of(*c)[0] < 0.0)
            .map(|(_, v)| v)
            .sum()
    };
    eprintln!(
        "double well, 128² solve ({solve_seconds:.2} s) in 32² cells, {} walker-steps: TV {tv:.4} \
         (sampling {sampling_tv:.4}), outside {:.1e}, left-well mass sim {:.3} solved {:.3}",
        walkers as u64 * (burn_in + steps),
        merged.outside_fraction(),
        left(&density),
        left(&solution.density)
    );
    assert!(merged.outside_fraction() < 1e-3);
    // Measured (seed 11): TV 0.0085 with a sampling TV of 0.0051 and well masses 0.499
    // (simulated) and 0.497 (solved). Besides the bound, hold it to twice the sampling
    // TV plus 0.01 for the second-order (Kramers–Moyal) description of a step of size η = 0.03
    // (the bowl test measures that shape error at 0.003 for η h = 0.2).
    assert!(tv < 0.05, "TV {tv}, sampling {sampling_tv}");
    assert!(
        tv < 2.0 * sampling_tv + 0.01,
        "TV {tv}, sampling {sampling_tv}"
    );
}
