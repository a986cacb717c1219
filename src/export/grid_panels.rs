//! The density panels drawn from the stationary model ([`crate::stationary`]): the simulated
//! histogram and current (`sim`), the stationary Fokker–Planck solution (`fp`), and both side
//! by side on one colour scale and one arrow scale (docs/theory.md §7.3, §8).
//!
//! `neqlab figure` and the app's Export menu both call [`view_panels`] on their model, so a
//! slide shows what the screen shows. Arrows follow [`crate::stationary::arrows`]: the flow
//! in one relaxation time, the same physical scale in both panels, simulated arrows only where
//! `|J|` exceeds twice its standard error. A caller may magnify them by an explicit gain (the
//! lecture does for weak currents); the legend then says so.

use crate::preset::{Experiment, Preset};
use crate::run::run;
use crate::stationary::{ArrowScale, CurrentArrow, Prediction, PredictionOptions, StationaryState};
use crate::stats::grid::CurrentField;

use super::ExportError;
use super::colormap::ColourMap;
use super::figure::{
    Arrow, ArrowField, Ellipse, Heatmap, Marker, Panel, PointSet, format_tick, palette,
};
use super::panels::axis_labels;

/// White crosses on the minima of `L`.
pub(crate) fn minima_points(minima: &[Vec<f64>]) -> PointSet {
    PointSet {
        points: minima
            .iter()
            .filter(|m| m.len() == 2)
            .map(|m| [m[0], m[1]])
            .collect(),
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

/// Which density panels to draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DensityPanels {
    /// The simulated histogram and current.
    pub simulation: bool,
    /// The Fokker–Planck solution.
    pub prediction: bool,
}

/// The `sim`, `fp` or `both` panels of a preset: predict (and simulate, for `sim`), then draw
/// the model with [`view_panels`].
pub fn grid_panels(
    preset: &Preset,
    experiment: &Experiment,
    which: DensityPanels,
    arrow_gain: f64,
    progress: &mut dyn FnMut(f64),
) -> Result<Vec<Panel>, ExportError> {
    let (prediction, simulated) = if which.simulation {
        let outcome = run(preset, experiment, progress, None)
            .map_err(|cancelled| ExportError::Theory(cancelled.to_string()))?;
        (outcome.prediction, Some(outcome.simulated))
    } else {
        let options = PredictionOptions::with_plane(&preset.fp);
        (Prediction::compute(experiment, &options), None)
    };
    if which.prediction
        && let Some(Err(error)) = prediction.plane.as_ref().map(|p| &p.fokker_planck)
    {
        return Err(ExportError::Theory(error.to_string()));
    }
    let state = StationaryState::new(Some(&prediction), simulated.as_ref());
    Ok(view_panels(experiment, &state, which, arrow_gain))
}

/// The legend of current arrows on `scale`, under the app's plots.
pub fn arrow_legend(scale: &ArrowScale) -> String {
    let (tau, gain) = tau_and_gain(scale);
    format!("current J, where |J| > 2 s.e.: flow in one relaxation time ({tau}){gain}")
}

/// [`arrow_legend`] short enough for a figure's legend box inside a plot drawn on one scale
/// (the bowl's plot is narrower than it is tall): the arrows are the current `J` where
/// `|J| > 2` standard errors, drawn as the flow in one relaxation time `τ`.
pub fn arrow_legend_compact(scale: &ArrowScale) -> String {
    let (tau, gain) = tau_and_gain(scale);
    format!("|J| > 2 s.e.: flow in {tau}{gain}")
}

/// `τ = 50 steps` of `scale`, and `, ×10` when the arrows are magnified.
fn tau_and_gain(scale: &ArrowScale) -> (String, String) {
    let tau = format!(
        "τ = {} {}s",
        format_tick(scale.relaxation_time),
        scale.time_unit.name()
    );
    let gain = if scale.gain == 1.0 {
        String::new()
    } else {
        format!(", ×{}", format_tick(scale.gain))
    };
    (tau, gain)
}

/// The arrows of a field as a figure layer: the significant ones only.
fn arrow_layer(arrows: &[CurrentArrow], scale: &ArrowScale) -> Option<ArrowField> {
    let arrows: Vec<Arrow> = arrows
        .iter()
        .filter(|a| a.significant)
        .map(|a| Arrow {
            at: a.tail,
            vector: a.vector,
        })
        .collect();
    (!arrows.is_empty()).then(|| ArrowField {
        arrows,
        color: palette::WHITE,
        label: arrow_legend_compact(scale),
    })
}

/// One density panel: the heatmap of `mass / cell area` on `[0, peak]` and the arrows.
fn density_panel(
    title: String,
    experiment: &Experiment,
    field: &CurrentField,
    peak: f64,
    arrows: Option<ArrowField>,
) -> Panel {
    let area = field.grid.cell_area();
    let (x_label, y_label) = axis_labels(experiment);
    Panel {
        title,
        x_label,
        y_label,
        bounds: field.grid.bounds,
        equal_scale: true,
        heatmap: Some(Heatmap {
            nx: field.grid.nx,
            ny: field.grid.ny,
            bounds: field.grid.bounds,
            values: field.mass.iter().map(|m| m / area).collect(),
            label: "probability density p(w)".into(),
            range: Some([0.0, peak]),
            colour_map: ColourMap::Density,
        }),
        arrows,
        ..Panel::default()
    }
}

/// The 2σ ellipse of the 2-D Gaussian `N(mean, cov)` (`cov` row-major).
fn two_sigma(mean: &[f64], cov: &[f64], dashed: bool, label: &str) -> Option<Ellipse> {
    (mean.len() == 2 && cov.len() == 4).then(|| Ellipse {
        centre: [mean[0], mean[1]],
        cov: [cov[0], cov[1], cov[2], cov[3]],
        sigmas: 2.0,
        color: palette::ORANGE,
        dashed,
        label: label.into(),
    })
}

/// The `sim` and `fp` panels of a stationary model — a run's or the app's current view — on
/// one colour scale (the prediction's peak density when there is one) and one arrow scale
/// ([`StationaryState::arrow_scale`], magnified by `arrow_gain`). The simulation panel carries
/// the 2σ ellipse of the walkers, the prediction panel the minima and the 2σ ellipse of the
/// linearised theory (one minimum only: with several, no single Gaussian describes the state).
pub fn view_panels(
    experiment: &Experiment,
    state: &StationaryState<'_>,
    which: DensityPanels,
    arrow_gain: f64,
) -> Vec<Panel> {
    let prediction = state.prediction;
    let simulated = state.simulated.and_then(|s| s.grid.as_ref());
    let fokker_planck = prediction.and_then(Prediction::fokker_planck);
    let peak = fokker_planck
        .map(|fp| fp.peak_density())
        .or(simulated.map(|s| s.field.peak_density()))
        .filter(|p| *p > 0.0)
        .unwrap_or(1.0);
    let scale = state.arrow_scale(arrow_gain);
    let one_minimum = prediction.is_none_or(|p| !p.several_minima());
    let mut panels = Vec::new();
    if let (true, Some(grid)) = (which.simulation, simulated) {
        let arrows = scale.and_then(|s| arrow_layer(&state.simulated_arrows(&s), &s));
        let mut title = "Simulation: histogram and current".to_string();
        if grid.outside_fraction > 0.01 {
            title = format!("{title} ({:.0} % outside)", 100.0 * grid.outside_fraction);
        }
        let mut panel = density_panel(title, experiment, &grid.field, peak, arrows);
        let walkers = state.simulated.and_then(|s| s.moments.as_ref());
        if let Some(m) = walkers.filter(|_| one_minimum) {
            let label = "2σ ellipse of the walkers";
            panel
                .ellipses
                .extend(two_sigma(&m.mean, &m.cov, false, label));
        }
        panels.push(panel);
    }
    if let (true, Some(fp), Some(prediction)) = (which.prediction, fokker_planck, prediction) {
        let arrows = scale.and_then(|s| arrow_layer(&state.predicted_arrows(&s), &s));
        let mut title = "Fokker–Planck: stationary density and current".to_string();
        if let Some(tv) = state.total_variation().filter(|_| which.simulation) {
            title = format!("{title} (TV to simulation {tv:.3})");
        }
        let mut panel = density_panel(title, experiment, &fp.field, peak, arrows);
        if !prediction.minima.all.is_empty() {
            panel.points.push(minima_points(&prediction.minima.all));
        }
        if let (Ok(l), true) = (prediction.linear.as_ref(), one_minimum) {
            let label = "2σ ellipse, linear theory";
            panel
                .ellipses
                .extend(two_sigma(&l.mean, &l.cov, true, label));
        }
        panels.push(panel);
    }
    panels
}

#[cfg(test)]
mod view_tests {
    use super::*;
    use crate::dynamics::Ensemble;
    use crate::stationary::SimulationStats;
    use std::path::Path;

    /// Both panels on one colour scale (the prediction's peak), with the theory's ellipse and
    /// the minimum on the prediction.
    #[test]
    fn view_panels_share_one_scale_and_draw_both() {
        let preset = crate::preset::Preset::from_toml(
            crate::preset::shipped("bowl-current").expect("shipped"),
            Path::new("bowl-current.toml"),
        )
        .expect("parses")
        .with_overrides(&["fp.grid=64".into()])
        .expect("overrides");
        let experiment = preset
            .build(Path::new("bowl-current.toml"), None)
            .expect("builds");
        let prediction =
            Prediction::compute(&experiment, &PredictionOptions::with_plane(&preset.fp));
        let mut stats = SimulationStats::for_prediction(&experiment.start, &prediction, 0);
        let mut ensemble = Ensemble::new(
            experiment.landscape.as_ref(),
            experiment.dynamics,
            200,
            &experiment.start,
            1,
        );
        ensemble.advance(experiment.landscape.as_ref(), 50, &mut stats);
        let simulated = stats.estimates();
        let state = StationaryState::new(Some(&prediction), Some(&simulated));
        let both = DensityPanels {
            simulation: true,
            prediction: true,
        };
        let panels = view_panels(&experiment, &state, both, 1.0);
        assert_eq!(panels.len(), 2);
        let range = |p: &Panel| p.heatmap.as_ref().and_then(|h| h.range).expect("range");
        assert_eq!(range(&panels[0]), range(&panels[1]));
        let peak = prediction.fokker_planck().expect("solution").peak_density();
        assert!((range(&panels[1])[1] - peak).abs() < 1e-12 * peak);
        assert_eq!(panels[1].ellipses.len(), 1);
        assert_eq!(panels[1].points.len(), 1);
        let arrows = panels[1]
            .arrows
            .as_ref()
            .expect("the bowl's current is drawn");
        let tau = prediction.relaxation_time.expect("τ");
        assert!((tau - 50.0).abs() < 1e-9, "1/(η h_min) = 1/(0.02 · 1)");
        assert!(arrows.label.contains("τ = 50 steps"), "{}", arrows.label);
    }
}
