//! The density panels: the simulated histogram and current (`sim`), the stationary
//! Fokker–Planck solution (`fp`), and both side by side on one colour scale and one arrow
//! scale (docs/theory.md sections 3 and 7).
//!
//! Arrows show the probability current `J` scaled by a fixed physical factor, the same in
//! both panels: an arrow is `J · τ / p_peak` long, with `τ = 1 / (η · steps per unit ·
//! h_min)` the slowest relaxation time of the linearised dynamics (in time units) and
//! `p_peak` the largest density of the Fokker–Planck solution (or of the histogram when there
//! is none). It is how far the densest probability flows in one relaxation time, so an
//! equilibrium shows no arrows rather than magnified round-off. A caller may magnify the
//! arrows by an explicit `arrow_gain` (the lecture does for weak currents); the legend then
//! says so.

use crate::dynamics::Ensemble;
use crate::preset::{Experiment, Preset};
use crate::stats::MomentStats;
use crate::stats::grid::GridHistogram;
use crate::theory::fokker_planck::{FpSolution, Grid2d, solve_stationary};
use crate::theory::{TheoryOptions, drift_and_diffusion, linear_theory};

use super::ExportError;
use super::figure::{Arrow, ArrowField, Ellipse, Heatmap, Marker, Panel, PointSet, palette};
use super::panels::{automatic_bounds, axis_labels, gaussian_fit, minima};

/// Time units per slice of the simulation between progress reports.
const SLICE_UNITS: u64 = 128;
/// Cells per block of the arrow grid.
const ARROW_BLOCK: usize = 8;
/// Blocks whose mass is below this fraction of the densest block get no arrow.
const ARROW_MASS_FLOOR: f64 = 0.02;

/// The simulated density and current on `grid`, and the final walker positions.
pub struct SimulatedGrid {
    pub histogram: GridHistogram,
    pub positions: Vec<[f64; 2]>,
}

/// The plot window: `[fp] bounds` when the preset gives them, else the walkers' cloud after
/// burn-in (central 98 % per axis padded by 60 % of its span, about ±5σ for a Gaussian) and
/// every minimum.
fn window(preset: &Preset, ensemble: &Ensemble, minima: &[[f64; 2]], start: [f64; 2]) -> [f64; 4] {
    if let Some(bounds) = preset.fp.bounds {
        return bounds;
    }
    let points: Vec<[f64; 2]> = ensemble
        .active_positions()
        .filter(|w| w[0].is_finite() && w[1].is_finite())
        .map(|w| [w[0], w[1]])
        .collect();
    let tight = automatic_bounds(&points, minima, start);
    // automatic_bounds pads by 35 %; widen to 60 % of the central span.
    let mut bounds = tight;
    for axis in 0..2 {
        let (low, high) = (tight[2 * axis], tight[2 * axis + 1]);
        let span = (high - low) / 1.7;
        let centre = 0.5 * (low + high);
        bounds[2 * axis] = centre - 0.9 * span;
        bounds[2 * axis + 1] = centre + 0.9 * span;
    }
    bounds
}

/// Run the preset: burn-in first, then choose the window from the cloud, then record the
/// histogram and current on an `n × n` grid.
pub fn simulate_grid(
    preset: &Preset,
    experiment: &Experiment,
    minima: &[[f64; 2]],
    progress: &mut dyn FnMut(f64),
) -> Result<SimulatedGrid, ExportError> {
    let spec = &preset.dynamics;
    let landscape = experiment.landscape.as_ref();
    let mut ensemble = Ensemble::new(
        landscape,
        experiment.dynamics,
        spec.walkers,
        &experiment.start,
        spec.seed,
    );
    let total = spec.burn_in + spec.steps;
    let mut done = 0;
    while done < spec.burn_in {
        let slice = SLICE_UNITS.min(spec.burn_in - done);
        ensemble.advance(landscape, slice, &mut ());
        done += slice;
        progress(done as f64 / total as f64);
    }
    let start = [experiment.start[0], experiment.start[1]];
    let bounds = window(preset, &ensemble, minima, start);
    let grid = Grid2d::square(preset.fp.grid, bounds)
        .map_err(|e| ExportError::Theory(format!("fp.grid: {e}")))?;
    let mut observer = (
        GridHistogram::new(grid, spec.burn_in),
        MomentStats::new(&experiment.start, spec.burn_in),
    );
    while done < total {
        let slice = SLICE_UNITS.min(total - done);
        ensemble.advance(landscape, slice, &mut observer);
        done += slice;
        progress(done as f64 / total as f64);
    }
    let positions = ensemble
        .active_positions()
        .filter(|w| w[0].is_finite() && w[1].is_finite())
        .map(|w| [w[0], w[1]])
        .collect();
    Ok(SimulatedGrid {
        histogram: observer.0,
        positions,
    })
}

/// The stationary Fokker–Planck solution of the preset on `grid`.
pub fn solve_grid(experiment: &Experiment, grid: &Grid2d) -> Result<FpSolution, ExportError> {
    let theory_error = |e: crate::theory::TheoryError| ExportError::Theory(e.to_string());
    // SGWORLD takes D_WOR from the linear theory; the others do not need it.
    let linear = if experiment.dynamics.replacement == crate::dynamics::Replacement::Wor {
        Some(linear_theory(experiment, &TheoryOptions::default()).map_err(theory_error)?)
    } else {
        None
    };
    let fields = drift_and_diffusion(experiment, linear.as_ref()).map_err(theory_error)?;
    solve_stationary(grid, &|w| fields.drift(w), &|w| fields.diffusion(w))
        .map_err(|e| ExportError::Theory(format!("Fokker–Planck solve: {e}")))
}

/// The slowest relaxation time `1 / (η · steps per unit · h_min)` in time units, from the
/// Hessian at the first minimum (at the start point when there is none).
fn relaxation_time(experiment: &Experiment, minima: &[[f64; 2]]) -> f64 {
    let at = minima
        .first()
        .copied()
        .unwrap_or([experiment.start[0], experiment.start[1]]);
    let mut h = [0.0; 4];
    experiment.landscape.hessian(&at, &mut h);
    let mean = 0.5 * (h[0] + h[3]);
    let radius = (0.25 * (h[0] - h[3]).powi(2) + 0.25 * (h[1] + h[2]).powi(2)).sqrt();
    let smallest = (mean - radius).abs().max(1e-12 * (mean + radius).abs());
    let d = &experiment.dynamics;
    1.0 / (d.eta * d.steps_per_unit() as f64 * smallest)
}

/// Cells per side of an arrow block on `grid`.
fn block_size(grid: &Grid2d) -> usize {
    ARROW_BLOCK.min(grid.nx.max(1)).min(grid.ny.max(1)).max(1)
}

/// `(jx, jy, mass, mean current)` of every block of cells.
fn blocks(grid: &Grid2d, mass: &[f64], current: &[[f64; 2]]) -> Vec<(usize, usize, f64, [f64; 2])> {
    let block = block_size(grid);
    let (bx, by) = (grid.nx / block, grid.ny / block);
    let mut blocks = Vec::with_capacity(bx * by);
    for jy in 0..by {
        for jx in 0..bx {
            let mut m = 0.0;
            let mut j = [0.0; 2];
            for iy in jy * block..(jy + 1) * block {
                for ix in jx * block..(jx + 1) * block {
                    let k = grid.index(ix, iy);
                    m += mass[k];
                    j[0] += current[k][0];
                    j[1] += current[k][1];
                }
            }
            let cells = (block * block) as f64;
            blocks.push((jx, jy, m, [j[0] / cells, j[1] / cells]));
        }
    }
    blocks
}

/// Arrows of the current averaged over blocks of cells, `J · scale` long (capped at 1.3
/// blocks), where the block holds at least [`ARROW_MASS_FLOOR`] of the densest block's mass
/// and the arrow is at least a tenth of a block long.
fn current_arrows(grid: &Grid2d, mass: &[f64], current: &[[f64; 2]], scale: f64) -> Vec<Arrow> {
    let block = block_size(grid);
    let [hx, hy] = grid.cell_size();
    let blocks = blocks(grid, mass, current);
    let heaviest = blocks.iter().map(|b| b.2).fold(0.0, f64::max);
    let (x0, y0) = (grid.bounds[0], grid.bounds[2]);
    let longest = 1.3 * block as f64 * hx.min(hy);
    blocks
        .into_iter()
        .filter(|b| b.2 >= ARROW_MASS_FLOOR * heaviest && heaviest > 0.0)
        .filter_map(|(jx, jy, _, j)| {
            let mut vector = [j[0] * scale, j[1] * scale];
            let length = vector[0].hypot(vector[1]);
            if !(length.is_finite() && length >= 0.1 * block as f64 * hx.min(hy)) {
                return None;
            }
            if length > longest {
                vector = [vector[0] * longest / length, vector[1] * longest / length];
            }
            let centre = [
                x0 + (jx as f64 + 0.5) * block as f64 * hx,
                y0 + (jy as f64 + 0.5) * block as f64 * hy,
            ];
            Some(Arrow {
                at: [centre[0] - 0.5 * vector[0], centre[1] - 0.5 * vector[1]],
                vector,
            })
        })
        .collect()
}

/// White crosses on the minima of `L`.
pub(crate) fn minima_points(minima: &[[f64; 2]]) -> PointSet {
    PointSet {
        points: minima.to_vec(),
        color: palette::WHITE,
        opacity: 1.0,
        size: 9.0,
        marker: Marker::Cross,
        label: if minima.len() == 1 {
            "minimum of L".into()
        } else {
            "minima of L".into()
        },
    }
}

fn peak_density(grid: &Grid2d, mass: &[f64]) -> f64 {
    mass.iter().copied().fold(0.0, f64::max) / grid.cell_area()
}

/// One density panel: the heatmap of `mass / cell area`, current arrows, and optional
/// overlays.
#[allow(clippy::too_many_arguments)]
fn density_panel(
    title: &str,
    experiment: &Experiment,
    grid: &Grid2d,
    mass: &[f64],
    current: &[[f64; 2]],
    arrow_scale: f64,
    range: [f64; 2],
    arrow_label: &str,
) -> Panel {
    let area = grid.cell_area();
    let (x_label, y_label) = axis_labels(experiment);
    let arrows = current_arrows(grid, mass, current, arrow_scale);
    Panel {
        title: title.to_string(),
        x_label,
        y_label,
        bounds: grid.bounds,
        x_log: false,
        y_log: false,
        heatmap: Some(Heatmap {
            nx: grid.nx,
            ny: grid.ny,
            bounds: grid.bounds,
            values: mass.iter().map(|m| m / area).collect(),
            label: "probability density p(w)".into(),
            range: Some(range),
        }),
        contours: None,
        arrows: (!arrows.is_empty()).then(|| ArrowField {
            arrows,
            color: [255, 255, 255],
            label: arrow_label.to_string(),
        }),
        ellipses: Vec::new(),
        lines: Vec::new(),
        points: Vec::new(),
    }
}

/// The `sim`, `fp` or `both` panels.
pub fn grid_panels(
    preset: &Preset,
    experiment: &Experiment,
    show_sim: bool,
    show_fp: bool,
    arrow_gain: f64,
    progress: &mut dyn FnMut(f64),
) -> Result<Vec<Panel>, ExportError> {
    let minima = minima(experiment);
    // The Fokker–Planck grid: the simulation's window when there is one, so both panels
    // share their cells.
    let simulated = if show_sim {
        Some(simulate_grid(preset, experiment, &minima, progress)?)
    } else {
        None
    };
    let grid = match &simulated {
        Some(s) => *s.histogram.grid(),
        None => {
            let bounds = preset.fp.bounds.unwrap_or_else(|| {
                let theory = linear_theory(experiment, &TheoryOptions::default()).ok();
                match theory {
                    Some(t) => {
                        crate::theory::fokker_planck::automatic_bounds(&t.mean, &t.cov, &minima)
                    }
                    None => {
                        automatic_bounds(&[], &minima, [experiment.start[0], experiment.start[1]])
                    }
                }
            });
            Grid2d::square(preset.fp.grid, bounds)
                .map_err(|e| ExportError::Theory(format!("fp.grid: {e}")))?
        }
    };
    let solution = if show_fp {
        Some(solve_grid(experiment, &grid)?)
    } else {
        None
    };
    let sim_mass = simulated.as_ref().map(|s| s.histogram.density());
    let sim_current = simulated.as_ref().map(|s| s.histogram.current());
    let simulation_field = match (&sim_mass, &sim_current) {
        (Some(mass), Some(current)) => Some(GridField {
            grid: &grid,
            mass,
            current,
        }),
        _ => None,
    };
    let prediction_field = solution.as_ref().map(|fp| GridField {
        grid: &grid,
        mass: &fp.density,
        current: &fp.current,
    });
    let single_minimum = minima.len() <= 1;
    let sim_gaussian = simulated
        .as_ref()
        .and_then(|s| gaussian_fit(&s.positions))
        .filter(|_| single_minimum);
    let theory_gaussian = solution
        .as_ref()
        .and_then(|_| linear_theory(experiment, &TheoryOptions::default()).ok())
        .filter(|t| t.mean.len() == 2 && single_minimum)
        .map(|t| {
            (
                [t.mean[0], t.mean[1]],
                [t.cov[0], t.cov[1], t.cov[2], t.cov[3]],
            )
        });
    let mut panels = view_panels(
        experiment,
        simulation_field,
        prediction_field,
        &minima,
        sim_gaussian,
        theory_gaussian,
        arrow_gain,
    );
    if let Some(simulated) = &simulated {
        let outside = simulated.histogram.outside_fraction();
        if outside > 0.01 {
            panels[0].title = format!("{} ({:.0} % outside)", panels[0].title, 100.0 * outside);
        }
    }
    if let (Some(solution), Some(mass), Some(panel)) = (&solution, &sim_mass, panels.last_mut()) {
        let tv = crate::stats::grid::total_variation(mass, &solution.density);
        panel.title = format!("{} (TV to simulation {tv:.3})", panel.title);
    }
    Ok(panels)
}

/// A density and current on a grid, as a view holds them (mass per cell, current per cell).
#[derive(Clone, Copy, Debug)]
pub struct GridField<'a> {
    pub grid: &'a Grid2d,
    pub mass: &'a [f64],
    pub current: &'a [[f64; 2]],
}

/// The `sim` and `fp` panels drawn from data already in hand — the app's current view — with
/// the same colour scale, arrow scale and overlays as `neqlab figure`: one density range (the
/// prediction's peak when there is one) and arrows showing the flow in one relaxation time.
/// `sim_gaussian` and `theory_gaussian` are `(mean, covariance)` drawn as 2σ ellipses.
/// `arrow_gain` magnifies the arrows; a magnification is the caller's explicit choice and is
/// printed in the legend, never automatic, because a weak current (the finite-sample residual
/// of an "equilibrium" bowl) would look like a strong one.
pub fn view_panels(
    experiment: &Experiment,
    simulation: Option<GridField<'_>>,
    prediction: Option<GridField<'_>>,
    minima: &[[f64; 2]],
    sim_gaussian: Option<([f64; 2], [f64; 4])>,
    theory_gaussian: Option<([f64; 2], [f64; 4])>,
    arrow_gain: f64,
) -> Vec<Panel> {
    let tau = relaxation_time(experiment, minima);
    let peak = prediction
        .or(simulation)
        .map(|f| peak_density(f.grid, f.mass))
        .unwrap_or(1.0)
        .max(f64::MIN_POSITIVE);
    let range = [0.0, peak];
    let gain = if arrow_gain.is_finite() && arrow_gain > 0.0 {
        arrow_gain
    } else {
        1.0
    };
    let arrow_scale = gain * tau / peak;
    let arrow_label = if gain != 1.0 {
        format!("current J (flow in one relaxation time, ×{gain})")
    } else {
        "current J (flow in one relaxation time)".to_string()
    };
    let arrow_label = arrow_label.as_str();
    let mut panels = Vec::new();
    if let Some(field) = simulation {
        let mut panel = density_panel(
            "Simulation: histogram and current",
            experiment,
            field.grid,
            field.mass,
            field.current,
            arrow_scale,
            range,
            arrow_label,
        );
        if let Some((centre, cov)) = sim_gaussian {
            panel.ellipses.push(Ellipse {
                centre,
                cov,
                sigmas: 2.0,
                color: palette::ORANGE,
                dashed: false,
                label: "2σ ellipse of the walkers".into(),
            });
        }
        panels.push(panel);
    }
    if let Some(field) = prediction {
        let mut panel = density_panel(
            "Fokker–Planck: stationary density and current",
            experiment,
            field.grid,
            field.mass,
            field.current,
            arrow_scale,
            range,
            arrow_label,
        );
        if !minima.is_empty() {
            panel.points.push(minima_points(minima));
        }
        if let Some((centre, cov)) = theory_gaussian {
            panel.ellipses.push(Ellipse {
                centre,
                cov,
                sigmas: 2.0,
                color: palette::ORANGE,
                dashed: true,
                label: "2σ ellipse, linear theory".into(),
            });
        }
        panels.push(panel);
    }
    panels
}

#[cfg(test)]
mod view_tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn view_panels_share_one_scale_and_draw_both() {
        let preset = crate::preset::Preset::from_toml(
            crate::preset::shipped("bowl-current").expect("shipped"),
            Path::new("bowl-current.toml"),
        )
        .expect("parses");
        let experiment = preset
            .build(Path::new("bowl-current.toml"), None)
            .expect("builds");
        let grid = Grid2d::square(16, [-0.3, 0.3, -0.3, 0.3]).expect("grid");
        let sim_mass: Vec<f64> = (0..256).map(|k| if k == 136 { 1.0 } else { 0.0 }).collect();
        let fp_mass: Vec<f64> = vec![1.0 / 256.0; 256];
        let current = vec![[0.0, 0.0]; 256];
        let sim = GridField {
            grid: &grid,
            mass: &sim_mass,
            current: &current,
        };
        let fp = GridField {
            grid: &grid,
            mass: &fp_mass,
            current: &current,
        };
        let panels = view_panels(
            &experiment,
            Some(sim),
            Some(fp),
            &[[0.0, 0.0]],
            None,
            Some(([0.0, 0.0], [1e-3, 0.0, 0.0, 1e-3])),
            1.0,
        );
        assert_eq!(panels.len(), 2);
        let range = |p: &Panel| p.heatmap.as_ref().and_then(|h| h.range).expect("range");
        // One colour scale: the prediction's peak density.
        assert_eq!(range(&panels[0]), range(&panels[1]));
        assert!((range(&panels[1])[1] - (1.0 / 256.0) / grid.cell_area()).abs() < 1e-9);
        assert_eq!(panels[1].ellipses.len(), 1);
        assert_eq!(panels[1].points.len(), 1);
    }
}
