//! Speed of the stationary Fokker–Planck solve (targets: 128² below 1 s, 256² below 5 s on
//! two cores). The problem is the Ornstein–Uhlenbeck state of SGD on the default bowl: linear
//! drift `−η H w`, constant diffusion with `|D_xy| > D_xx`, so the Selling stencil reaches
//! beyond the nearest neighbours.

use criterion::{Criterion, criterion_group, criterion_main};
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

criterion_group!(benches, solve);
criterion_main!(benches);
