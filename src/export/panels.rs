//! A preset run headless and drawn as a [`Figure`] (`neqlab figure`).
//!
//! | panel | shows |
//! |---|---|
//! | `landscape` | the loss `L(w)` (colour and contours), its minima, the walkers' cloud and the Gaussian fit of it |
//! | `sim` | the simulated stationary density and its probability current (docs/theory.md §7.3) |
//! | `fp` | the stationary Fokker–Planck density and current (§3, §8) |
//! | `both` | `sim` and `fp` side by side on one colour scale |
//! | `ft` | entropy production and the fluctuation theorems (§3.2) |
//! | `posterior` | KL divergence to the exact posterior against η (§5) |
//!
//! The same preset and seed give the same figure, byte for byte.

use std::str::FromStr;

use crate::preset::{Experiment, Preset};
use crate::run::{RunOutcome, RunReport, run, simulate};
use crate::stationary::Prediction;
use crate::theory::fokker_planck::Grid2d;

use super::ExportError;
use super::colormap::{ColourMap, landscape_levels};
use super::figure::{
    Contours, Ellipse, Figure, Heatmap, LineSeries, Marker, Panel, PointSet, palette,
};
use super::grid_panels::{DensityPanels, grid_panels};

/// Which figure to draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PanelKind {
    /// The simulated density and current.
    Sim,
    /// The Fokker–Planck density and current.
    Fp,
    /// `sim` and `fp` side by side.
    Both,
    /// The loss landscape with the walkers.
    Landscape,
    /// The fluctuation theorems.
    Ft,
    /// KL divergence to the exact posterior.
    Posterior,
}

impl PanelKind {
    /// Every panel, in the order `--panel` lists them.
    pub const ALL: [PanelKind; 6] = [
        PanelKind::Sim,
        PanelKind::Fp,
        PanelKind::Both,
        PanelKind::Landscape,
        PanelKind::Ft,
        PanelKind::Posterior,
    ];

    /// The spelling on the command line.
    pub fn name(self) -> &'static str {
        match self {
            PanelKind::Sim => "sim",
            PanelKind::Fp => "fp",
            PanelKind::Both => "both",
            PanelKind::Landscape => "landscape",
            PanelKind::Ft => "ft",
            PanelKind::Posterior => "posterior",
        }
    }
}

impl FromStr for PanelKind {
    type Err = ExportError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        PanelKind::ALL
            .into_iter()
            .find(|kind| kind.name() == text)
            .ok_or_else(|| ExportError::UnknownPanel(text.to_string()))
    }
}

impl std::fmt::Display for PanelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `w1` → `w₁`: weight names with subscript digits, for axis labels.
pub fn subscript(name: &str) -> String {
    name.chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from_u32(0x2080 + d).unwrap_or(c),
            None => c,
        })
        .collect()
}

/// Check, before any simulation, that `kind` applies to the preset; the error says why not.
pub fn check_panel_fits(
    preset: &Preset,
    experiment: &Experiment,
    kind: PanelKind,
) -> Result<(), ExportError> {
    let dim = experiment.landscape.dim();
    let misfit = |reason: String| ExportError::PanelDoesNotFit {
        panel: kind.name().to_string(),
        preset: preset.title.clone(),
        reason,
    };
    match kind {
        PanelKind::Landscape | PanelKind::Sim | PanelKind::Fp | PanelKind::Both if dim != 2 => {
            Err(misfit(format!(
                "it draws the weight plane of a 2-D landscape, and {} has {dim} weights",
                experiment.landscape.kind()
            )))
        }
        PanelKind::Sim | PanelKind::Both | PanelKind::Landscape | PanelKind::Ft
            if preset.dynamics.steps == 0 =>
        {
            Err(misfit(
                "it needs a simulation, and dynamics.steps = 0".to_string(),
            ))
        }
        PanelKind::Fp | PanelKind::Both
            if experiment.dynamics.replacement == crate::dynamics::Replacement::Wor
                && experiment.dynamics.temperature <= 0.0 =>
        {
            Err(misfit(
                "SGD without replacement has no thermal noise, and its per-epoch noise is of \
                 order η⁴ and position dependent, so there is no Fokker–Planck solution to draw; \
                 use --panel sim"
                    .to_string(),
            ))
        }
        PanelKind::Posterior if experiment.landscape.quadratic().is_none() => Err(misfit(format!(
            "the exact posterior benchmark needs a linear-Gaussian (quadratic) landscape, and {} is not one",
            experiment.landscape.kind()
        ))),
        _ => Ok(()),
    }
}

/// Run the preset headless and draw the requested figure. `progress` receives the fraction
/// of the simulation done.
pub fn preset_figure(
    preset: &Preset,
    experiment: &Experiment,
    kind: PanelKind,
    progress: &mut dyn FnMut(f64),
) -> Result<Figure, ExportError> {
    preset_figure_with(
        preset,
        experiment,
        kind,
        &FigureOptions::default(),
        progress,
    )
}

/// Choices that change how a figure is drawn, not what is computed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FigureOptions {
    /// Magnification of the current arrows of the `sim`, `fp` and `both` panels (1: the
    /// physical scale, see [`super::grid_panels`]); shown in the legend when not 1.
    pub arrow_gain: f64,
}

impl Default for FigureOptions {
    fn default() -> Self {
        Self { arrow_gain: 1.0 }
    }
}

/// [`preset_figure`] with drawing options.
pub fn preset_figure_with(
    preset: &Preset,
    experiment: &Experiment,
    kind: PanelKind,
    options: &FigureOptions,
    progress: &mut dyn FnMut(f64),
) -> Result<Figure, ExportError> {
    check_panel_fits(preset, experiment, kind)?;
    let gain = options.arrow_gain;
    let density = |simulation, prediction| DensityPanels {
        simulation,
        prediction,
    };
    let panels = match kind {
        PanelKind::Landscape => {
            let outcome = run(preset, experiment, progress, None)
                .map_err(|cancelled| ExportError::Theory(cancelled.to_string()))?;
            vec![landscape_panel(experiment, &outcome)?]
        }
        PanelKind::Sim => grid_panels(preset, experiment, density(true, false), gain, progress)?,
        PanelKind::Fp => grid_panels(preset, experiment, density(false, true), gain, progress)?,
        PanelKind::Both => grid_panels(preset, experiment, density(true, true), gain, progress)?,
        PanelKind::Posterior => vec![posterior_panel(preset, experiment)?],
        PanelKind::Ft => {
            let (report, _) = simulate(preset, experiment, progress);
            vec![ft_panel(&report)?]
        }
    };
    Ok(Figure {
        title: preset.title.clone(),
        caption: caption(preset, experiment),
        panels,
    })
}

/// The preset's caption followed by the run's parameters, so a slide says what was run.
pub fn caption(preset: &Preset, experiment: &Experiment) -> String {
    let d = &experiment.dynamics;
    let spec = &preset.dynamics;
    let mut parameters = format!(
        "{} {}, η = {}, B = {}",
        d.algorithm.label(),
        d.replacement.name().to_uppercase(),
        d.eta,
        d.batch_size
    );
    if d.algorithm.is_langevin() {
        parameters.push_str(&format!(", T = {}", d.temperature));
    }
    parameters.push_str(&format!(
        "; N = {}, {} walkers × {} {}s after {} burn-in; seed {}.",
        experiment.landscape.n_examples(),
        spec.walkers,
        spec.steps,
        d.time_unit().name(),
        spec.burn_in,
        spec.seed
    ));
    if preset.caption.trim().is_empty() {
        parameters
    } else {
        format!("{} [{parameters}]", preset.caption.trim())
    }
}

/// A loss landscape ready to draw: `L − L_min` on the prediction's grid, its largest value
/// and contour levels (the same in the app and in figures).
#[derive(Clone, Debug, PartialEq)]
pub struct LossMap {
    /// The grid.
    pub grid: Grid2d,
    /// `L(w) − L_min` at the cell centres, `L_min` the lowest of the cells and the minima.
    pub relative: Vec<f64>,
    /// The largest finite value of `relative`.
    pub highest: f64,
    /// Contour levels ([`landscape_levels`]).
    pub levels: Vec<f64>,
}

/// Contour levels drawn on a loss landscape.
pub const LANDSCAPE_LEVELS: usize = 12;

/// The loss map of a prediction with a plane.
pub fn loss_map(experiment: &Experiment, prediction: &Prediction) -> Option<LossMap> {
    let plane = prediction.plane.as_ref()?;
    let landscape = experiment.landscape.as_ref();
    let lowest = prediction
        .minima
        .all
        .iter()
        .map(|m| landscape.loss(m))
        .chain(plane.loss.iter().copied())
        .filter(|v| v.is_finite())
        .fold(f64::INFINITY, f64::min);
    let relative: Vec<f64> = plane.loss.iter().map(|v| v - lowest).collect();
    let highest = relative
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    Some(LossMap {
        grid: plane.grid,
        levels: landscape_levels(highest, LANDSCAPE_LEVELS),
        relative,
        highest,
    })
}

pub(crate) fn axis_labels(experiment: &Experiment) -> (String, String) {
    let names = experiment.landscape.weight_names();
    let name = |k: usize| {
        names
            .get(k)
            .map(|n| subscript(n))
            .unwrap_or_else(|| format!("w{}", subscript(&(k + 1).to_string())))
    };
    (format!("weight {}", name(0)), format!("weight {}", name(1)))
}

/// The landscape panel of a run: the loss map with its contours, the minima, the walkers at the
/// end, the 2σ ellipse of their stationary moments and, at `T > 0` with one minimum, the 2σ
/// ellipse of the Gibbs density `exp(−L/T)` expanded about it.
pub fn landscape_panel(
    experiment: &Experiment,
    outcome: &RunOutcome,
) -> Result<Panel, ExportError> {
    let prediction = &outcome.prediction;
    let map = loss_map(experiment, prediction)
        .ok_or_else(|| ExportError::Theory("the landscape panel needs a 2-D landscape".into()))?;
    let positions: Vec<[f64; 2]> = outcome
        .ensemble
        .active_positions()
        .filter(|w| w.len() == 2 && w[0].is_finite() && w[1].is_finite())
        .map(|w| [w[0], w[1]])
        .collect();
    let report = &outcome.report;
    let mut points = vec![PointSet {
        // At most 3000 walkers are drawn (the first ones, so the choice is deterministic).
        points: positions.iter().take(3000).copied().collect(),
        color: palette::ORANGE,
        opacity: 0.45,
        size: 3.0,
        marker: Marker::Dot,
        label: format!(
            "walkers after {} {}s",
            report.burn_in + report.steps,
            report.time_unit.name()
        ),
    }];
    if !prediction.minima.all.is_empty() {
        points.push(super::grid_panels::minima_points(&prediction.minima.all));
    }
    let mut ellipses = Vec::new();
    let one_minimum = !prediction.several_minima();
    if let Some(moments) = outcome.simulated.moments.as_ref().filter(|_| one_minimum) {
        ellipses.push(Ellipse {
            centre: [moments.mean[0], moments.mean[1]],
            cov: [
                moments.cov[0],
                moments.cov[1],
                moments.cov[2],
                moments.cov[3],
            ],
            sigmas: 2.0,
            color: palette::SKY_BLUE,
            dashed: false,
            label: "2σ ellipse of the walkers".into(),
        });
    }
    if let Some(gibbs) = prediction.gibbs.as_ref().filter(|g| g.cov.len() == 4) {
        ellipses.push(Ellipse {
            centre: [gibbs.mean[0], gibbs.mean[1]],
            cov: [gibbs.cov[0], gibbs.cov[1], gibbs.cov[2], gibbs.cov[3]],
            sigmas: 2.0,
            color: palette::YELLOW,
            dashed: true,
            label: "Gibbs exp(−L/T), 2σ".into(),
        });
    }
    let (x_label, y_label) = axis_labels(experiment);
    let grid = map.grid;
    Ok(Panel {
        title: "Loss landscape and walkers".into(),
        x_label,
        y_label,
        bounds: grid.bounds,
        equal_scale: true,
        heatmap: Some(Heatmap {
            nx: grid.nx,
            ny: grid.ny,
            bounds: grid.bounds,
            values: map.relative.clone(),
            label: "loss L(w) − L(w*)".into(),
            range: Some([0.0, map.highest]),
            colour_map: ColourMap::Landscape,
        }),
        contours: Some(Contours {
            nx: grid.nx,
            ny: grid.ny,
            bounds: grid.bounds,
            values: map.relative,
            levels: map.levels,
            color: [60, 40, 30],
            label: "contours of L".into(),
        }),
        ellipses,
        points,
        ..Panel::default()
    })
}

/// The fluctuation-theorem panel: `⟨exp(−Σ)⟩` against the trajectory length with standard
/// errors, against the integral fluctuation theorem's 1 (docs/theory.md §3.2); the title
/// carries the entropy production rate, simulated and predicted, and the DFT slope.
pub fn ft_panel(report: &RunReport) -> Result<Panel, ExportError> {
    let unavailable = |reason: String| ExportError::PanelDoesNotFit {
        panel: "ft".into(),
        preset: report.landscape.clone(),
        reason,
    };
    let theory = report.theory.as_ref().ok_or_else(|| {
        unavailable(
            report
                .theory_error
                .clone()
                .unwrap_or_else(|| "the linear theory has no prediction".into()),
        )
    })?;
    let sim = report
        .sim
        .as_ref()
        .ok_or_else(|| unavailable("no statistics: every walker diverged".into()))?;
    let ift = sim
        .ift
        .as_ref()
        .filter(|points| !points.is_empty())
        .ok_or_else(|| unavailable("no entropy production was measured".into()))?;
    let k_max = ift.iter().map(|p| p.units).max().unwrap_or(1) as f64;
    let mut spread: f64 = 0.01;
    for p in ift {
        spread = spread.max((p.mean - 1.0).abs() + 2.0 * p.error);
    }
    let bounds = [0.5, k_max + 0.5, 1.0 - 1.4 * spread, 1.0 + 1.4 * spread];
    let unit = report.time_unit.name();
    let mut lines = vec![LineSeries {
        points: vec![[bounds[0], 1.0], [bounds[1], 1.0]],
        color: palette::BLACK,
        dashed: true,
        markers: false,
        label: "integral fluctuation theorem: ⟨exp(−Σ)⟩ = 1".into(),
    }];
    lines.push(LineSeries {
        points: ift.iter().map(|p| [p.units as f64, p.mean]).collect(),
        color: palette::BLUE,
        dashed: false,
        markers: true,
        label: "simulation ± 2 standard errors".into(),
    });
    for p in ift {
        let x = p.units as f64;
        lines.push(LineSeries {
            points: vec![[x, p.mean - 2.0 * p.error], [x, p.mean + 2.0 * p.error]],
            color: palette::BLUE,
            dashed: false,
            markers: false,
            label: String::new(),
        });
    }
    // The numbers ride in the legend as entries without a curve.
    let note = |label: String| LineSeries {
        points: Vec::new(),
        color: palette::GREY,
        dashed: false,
        markers: false,
        label,
    };
    let mut rate = format!(
        "σ per {unit}: theory {}",
        super::figure::format_tick(theory.ep_rate)
    );
    if let (Some(value), Some(error)) = (sim.ep_rate, sim.ep_rate_error) {
        rate.push_str(&format!(
            ", simulation {} ± {}",
            super::figure::format_tick(value),
            super::figure::format_tick(error)
        ));
    }
    lines.push(note(rate));
    if let (Some(slope), Some(error)) = (sim.dft_slope, sim.dft_slope_error) {
        lines.push(note(format!(
            "DFT: slope of ln P(Σ)/P(−Σ) = {} ± {} (theory 1)",
            super::figure::format_tick(slope),
            super::figure::format_tick(error)
        )));
    }
    let title = "Integral fluctuation theorem".to_string();
    Ok(Panel {
        title,
        x_label: format!("trajectory length k ({unit}s)"),
        y_label: "⟨exp(−Σ)⟩ over k-unit trajectories".into(),
        bounds,
        x_log: false,
        y_log: false,
        equal_scale: false,
        heatmap: None,
        contours: None,
        arrows: None,
        ellipses: Vec::new(),
        lines,
        points: Vec::new(),
    })
}

/// The posterior benchmark: KL divergence of the exact stationary states of SGLD, SGWORLD and
/// full-batch ULA from the target `exp(−L/T)` against the learning rate, on log–log axes
/// (docs/theory.md §5; [`crate::posterior`]). The learning rates are the preset's
/// `[posterior] etas`, else the module's defaults below ULA's stability limit.
pub fn posterior_panel(preset: &Preset, experiment: &Experiment) -> Result<Panel, ExportError> {
    use crate::posterior::{PosteriorOptions, default_etas, posterior_report};
    use crate::theory::exact::PermutationOptions;
    let theory = |e: crate::posterior::PosteriorError| ExportError::Theory(e.to_string());
    let landscape = experiment.landscape.as_ref();
    let spec = preset.posterior.clone().unwrap_or_default();
    let etas = if spec.etas.is_empty() {
        default_etas(landscape).map_err(theory)?
    } else {
        spec.etas.clone()
    };
    let mut permutations = PermutationOptions::default();
    if let Some(count) = spec.permutations {
        permutations.permutations = count;
    }
    let options = PosteriorOptions {
        permutations,
        simulation: None,
    };
    let temperature = if experiment.dynamics.temperature > 0.0 {
        experiment.dynamics.temperature
    } else {
        1.0
    };
    let report = posterior_report(
        landscape,
        experiment.dynamics.batch_size,
        temperature,
        &etas,
        &options,
    )
    .map_err(theory)?;
    let series = |pick: &dyn Fn(&crate::posterior::PosteriorRow) -> Option<f64>| -> Vec<[f64; 2]> {
        report
            .rows
            .iter()
            .filter_map(|row| pick(row).map(|kl| [row.eta, kl]))
            .filter(|p| p[1] > 0.0 && p[1].is_finite())
            .collect()
    };
    let sgld = series(&|r| r.kl_sgld);
    let sgworld = series(&|r| r.kl_sgworld);
    let ula = series(&|r| r.kl_ula);
    let all: Vec<[f64; 2]> = sgld.iter().chain(&sgworld).chain(&ula).copied().collect();
    if all.is_empty() {
        return Err(ExportError::Theory(
            "no learning rate gave a stable stationary state to compare".into(),
        ));
    }
    let (x_min, x_max) = all.iter().fold((f64::INFINITY, 0.0f64), |(l, h), p| {
        (l.min(p[0]), h.max(p[0]))
    });
    let (y_min, y_max) = all.iter().fold((f64::INFINITY, 0.0f64), |(l, h), p| {
        (l.min(p[1]), h.max(p[1]))
    });
    let bounds = [x_min / 1.5, x_max * 1.5, y_min / 3.0, y_max * 3.0];
    let (n, b) = (report.n, report.batch);
    let line = |points: Vec<[f64; 2]>, color, dashed, label: String| LineSeries {
        points,
        color,
        dashed,
        markers: true,
        label,
    };
    Ok(Panel {
        title: format!("Distance to the posterior (N = {n}, B = {b}, T = {temperature})"),
        x_label: "learning rate η".into(),
        y_label: "KL(stationary state ‖ exp(−L/T))".into(),
        bounds,
        x_log: true,
        y_log: true,
        equal_scale: false,
        heatmap: None,
        contours: None,
        arrows: None,
        ellipses: Vec::new(),
        lines: vec![
            line(
                sgld,
                palette::VERMILION,
                false,
                "SGLD (with replacement)".into(),
            ),
            line(
                sgworld,
                palette::BLUE,
                false,
                "SGWORLD (without replacement)".into(),
            ),
            line(
                ula,
                palette::GREY,
                true,
                "full-batch ULA (discretisation only)".into(),
            ),
        ],
        points: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panel_names_round_trip() {
        for kind in PanelKind::ALL {
            assert_eq!(kind.name().parse::<PanelKind>().expect("known"), kind);
        }
        let message = "density"
            .parse::<PanelKind>()
            .expect_err("unknown")
            .to_string();
        assert!(message.contains("density") && message.contains("landscape"));
    }

    #[test]
    fn subscripts() {
        assert_eq!(subscript("w12"), "w₁₂");
        assert_eq!(subscript("bias"), "bias");
    }
}
