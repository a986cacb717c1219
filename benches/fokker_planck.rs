//! Speed of the stationary Fokker–Planck solve (targets: 128² below 1 s, 256² below 5 s on
//! two cores). The problem is the Ornstein–Uhlenbeck state of SGD on the default bowl: linear
//! drift `−η H w`, constant diffusion with `|D_xy| > D_xx`, so the Selling stencil reaches
//! beyond the nearest neighbours.

use criterion::{Criterion, criterion_group, criterion_main};
use neqlab::landscape::{DoubleWell, DoubleWellSpec, Landscape, gradient_covariance};
use neqlab::theory::fokker_planck::{Grid2d, automatic_bounds, solve_stationary};

fn solve(c: &mut Criterion) {
    let hessian = [1.0, 4.0];
    let diffusion_matrix = [[0.775, 1.56], [1.56, 5.2]];
    // Σ of `H Σ + Σ H = 2 D` for diagonal H.
    let sigma: Vec<f64> = (0..4)
        .map(|k| {
            let (i, j) = (k / 2, k % 2);
            2.0 * diffusion_matrix[i][j] / (hessian[i] + hessian[j])
        })
        .collect();
    let bounds = automatic_bounds(&[0.0, 0.0], &sigma, &[]);
    let drift = move |w: [f64; 2]| [-hessian[0] * w[0], -hessian[1] * w[1]];
    let diffusion = move |_: [f64; 2]| diffusion_matrix;
    let mut group = c.benchmark_group("fokker_planck");
    group.sample_size(10);
    for n in [64, 128, 256] {
        let grid = Grid2d::square(n, bounds).expect("valid grid");
        group.bench_function(format!("solve_stationary_{n}x{n}"), |b| {
            b.iter(|| solve_stationary(&grid, &drift, &diffusion).expect("solves"))
        });
    }
    group.finish();
}

/// The double well of the `double-well` preset with the real closures: `−η ∇L(w)` and
/// `(η²/2) c_B S(w)`, each a sum over the N = 100 examples at every cell centre.
fn solve_double_well(c: &mut Criterion) {
    let landscape = DoubleWell::new(&DoubleWellSpec::default()).expect("valid landscape");
    let (eta, batch, n) = (0.03, 10.0, landscape.n_examples() as f64);
    let c_b = (n - batch) / (batch * (n - 1.0));
    let drift = |w: [f64; 2]| {
        let mut g = [0.0; 2];
        landscape.gradient(&w, &mut g);
        [-eta * g[0], -eta * g[1]]
    };
    let diffusion = |w: [f64; 2]| {
        let s = gradient_covariance(&landscape, &w);
        let scale = 0.5 * eta * eta * c_b;
        [[scale * s[0], scale * s[1]], [scale * s[2], scale * s[3]]]
    };
    let mut group = c.benchmark_group("fokker_planck_double_well");
    group.sample_size(10);
    for cells in [128, 256] {
        let grid = Grid2d::square(cells, [-1.8, 1.8, -0.6, 0.6]).expect("valid grid");
        group.bench_function(format!("solve_stationary_{cells}x{cells}"), |b| {
            b.iter(|| solve_stationary(&grid, &drift, &diffusion).expect("solves"))
        });
    }
    group.finish();
}

criterion_group!(benches, solve, solve_double_well);
criterion_main!(benches);
