//! Unit tests of the Fokker–Planck kernels: the Bernoulli function, Selling's decomposition,
//! the grid and the automatic bounds.

use super::*;

#[test]
fn bernoulli_identities() {
    for z in [-800.0, -30.0, -1.0, -1e-6, 0.0, 1e-7, 0.3, 5.0, 40.0, 750.0] {
        let (bm, bp) = (bernoulli(-z), bernoulli(z));
        assert!(bp > 0.0 || z > 700.0, "B({z}) = {bp}");
        assert!(
            ((bm - bp) - z).abs() <= 1e-12 * (1.0 + z.abs()),
            "B(-z) - B(z) = z fails at z = {z}"
        );
    }
    assert!((bernoulli(1.0) - 1.0 / (1.0_f64.exp() - 1.0)).abs() < 1e-15);
}

#[test]
fn selling_reconstructs_the_matrix() {
    let cases = [
        [[1.0, 0.0], [0.0, 1.0]],
        [[1.0, 0.9], [0.9, 1.0]],
        [[1.0, -0.99], [-0.99, 1.0]],
        [[100.0, 30.0], [30.0, 10.0]],
        [[0.775, 1.56], [1.56, 5.2]],
        [[2.0, -7.0], [-7.0, 25.0]],
    ];
    for d in cases {
        let terms = selling_decomposition(d).expect("positive definite");
        let mut rebuilt = [[0.0; 2]; 2];
        for (weight, v) in terms {
            assert!(weight >= 0.0);
            for a in 0..2 {
                for b in 0..2 {
                    rebuilt[a][b] += weight * (v[a] * v[b]) as f64;
                }
            }
        }
        for a in 0..2 {
            for b in 0..2 {
                assert!(
                    (rebuilt[a][b] - d[a][b]).abs() < 1e-12 * (d[0][0] + d[1][1]),
                    "{d:?} -> {terms:?}"
                );
            }
        }
    }
}

#[test]
fn locate_and_centres_agree() {
    let grid = Grid2d::new(5, 3, [-1.0, 4.0, 0.0, 3.0]).expect("valid");
    for cell in 0..grid.cells() {
        assert_eq!(grid.locate(grid.centre_of(cell)), Some(cell));
    }
    assert_eq!(grid.locate([4.0, 3.0]), Some(grid.cells() - 1));
    assert_eq!(grid.locate([-1.0001, 1.0]), None);
    assert_eq!(grid.locate([f64::NAN, 1.0]), None);
    // Unvalidated grids (the fields are public) locate nothing instead of panicking.
    for bad in [
        Grid2d {
            nx: 0,
            ny: 3,
            bounds: [0.0, 1.0, 0.0, 1.0],
        },
        Grid2d {
            nx: 3,
            ny: 3,
            bounds: [1.0, 1.0, 0.0, 1.0],
        },
        Grid2d {
            nx: 3,
            ny: 3,
            bounds: [1.0, 0.0, 0.0, 1.0],
        },
    ] {
        assert_eq!(bad.locate([0.5, 0.5]), None);
        assert_eq!(bad.locate([1.0, 0.5]), None);
    }
}

/// A chain of three cells in a row with rates making the stationary masses `1 : 1e-250 :
/// 1e-500` (underflowing to 0): anchored at the smallest, the first solve overflows, and
/// re-anchoring at the largest recovers the masses.
#[test]
fn re_anchoring_survives_extreme_mass_ratios() {
    let jump = |source, target, rate| Jump {
        source,
        target,
        rate,
        displacement: [0.0; 2],
    };
    let jumps = [
        jump(0, 1, 1e-250),
        jump(1, 0, 1.0),
        jump(1, 2, 1e-250),
        jump(2, 1, 1.0),
    ];
    let mut out_rate = vec![0.0; 3];
    for j in &jumps {
        out_rate[j.source] += j.rate;
    }
    let first = solve_anchored(&jumps, &out_rate, 2)
        .expect("solves")
        .solution;
    assert!(!well_scaled(&first));
    let second = solve_anchored(&jumps, &out_rate, 0)
        .expect("solves")
        .solution;
    assert!(well_scaled(&second));
    assert!((second[0] - 1.0).abs() < 1e-12 && (second[1] / 1e-250 - 1.0).abs() < 1e-12);
}

#[test]
fn coarsening_sums_masses_and_averages_currents() {
    let grid = Grid2d::new(4, 2, [0.0, 4.0, 0.0, 2.0]).expect("valid");
    let fine = FpSolution {
        grid,
        density: vec![0.1, 0.2, 0.05, 0.05, 0.1, 0.2, 0.1, 0.2],
        current: (0..8).map(|i| [i as f64, 1.0]).collect(),
        solve_seconds: 0.0,
        min_density: 0.05,
        negative_cells: 0,
        stencil_reach: 1,
    };
    assert!(fine.coarsened(3).is_none() && fine.coarsened(0).is_none());
    let coarse = fine.coarsened(2).expect("2 divides 4 and 2");
    assert_eq!((coarse.grid.nx, coarse.grid.ny), (2, 1));
    assert!((coarse.density[0] - 0.6).abs() < 1e-15 && (coarse.density[1] - 0.4).abs() < 1e-15);
    assert_eq!(coarse.current, vec![[2.5, 1.0], [4.5, 1.0]]);
}

#[test]
fn automatic_bounds_cover_the_cloud_and_the_minima() {
    let b = automatic_bounds(&[1.0, 2.0], &[4.0, 0.5, 0.5, 0.25], &[[10.0, -3.0]]);
    assert!(b[0] < 1.0 - 12.0 && b[1] > 10.0 + 12.0);
    assert!(b[2] < -3.0 - 3.0 && b[3] > 2.0 + 3.0);
    let fallback = automatic_bounds(&[0.0, 0.0], &[f64::NAN, 0.0, 0.0, 0.0], &[]);
    assert!(fallback.iter().all(|x| x.is_finite()) && fallback[0] < fallback[1]);
}

/// The cell of `w` by the textbook arithmetic, branch by branch: the reference that
/// [`CellLocator`] (and so `Grid2d::locate`) is held to.
fn reference_locate(grid: &Grid2d, w: [f64; 2]) -> Option<usize> {
    if grid.nx == 0 || grid.ny == 0 {
        return None;
    }
    let [hx, hy] = grid.cell_size();
    if !(hx > 0.0 && hy > 0.0 && hx.is_finite() && hy.is_finite()) {
        return None;
    }
    let fx = (w[0] - grid.bounds[0]) / hx;
    let fy = (w[1] - grid.bounds[2]) / hy;
    if !(fx >= 0.0 && fy >= 0.0 && fx <= grid.nx as f64 && fy <= grid.ny as f64) {
        return None;
    }
    let ix = (fx as usize).min(grid.nx - 1);
    let iy = (fy as usize).min(grid.ny - 1);
    Some(grid.index(ix, iy))
}

/// The branch-free locator (behind `Grid2d::locate`) bins every point as the reference
/// does: random points, cell edges, the grid's outer edges, points outside, NaN and
/// infinities.
#[test]
fn locator_agrees_with_the_reference() {
    use rand::{RngExt, SeedableRng};
    let grids = [
        Grid2d::new(128, 128, [-0.31, 0.29, -0.4, 0.45]).expect("grid"),
        Grid2d::new(3, 7, [0.0, 1.0, -2.0, 5.0]).expect("grid"),
    ];
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(5);
    for grid in grids {
        let locator = grid.locator();
        let [hx, hy] = grid.cell_size();
        let b = grid.bounds;
        let mut points: Vec<[f64; 2]> = (0..100_000)
            .map(|_| [rng.random_range(-0.7..1.2), rng.random_range(-2.5..5.5)])
            .collect();
        for i in 0..=grid.nx {
            for j in 0..=grid.ny {
                points.push([b[0] + i as f64 * hx, b[2] + j as f64 * hy]);
            }
        }
        points.extend([
            [b[1], b[3]],
            [b[0], b[2]],
            [f64::NAN, 0.0],
            [0.0, f64::INFINITY],
            [f64::NEG_INFINITY, 0.0],
        ]);
        for w in points {
            let expected = reference_locate(&grid, w);
            assert_eq!(grid.locate(w), expected, "{w:?} on {grid:?}");
            let expected = expected.map_or(CellLocator::OUTSIDE, |c| c as u32);
            assert_eq!(locator.cell(w), expected, "{w:?} on {grid:?}");
        }
    }
}
