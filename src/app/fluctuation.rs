//! Fluctuation theorems (docs/theory.md §3.2): the histogram of `Σ` over `k`-unit
//! stretches, `ln P(Σ)/P(−Σ)` against `Σ` with the slope-1 line, and `⟨exp(−Σ)⟩` against `k`
//! with its standard errors, all measured by the library's entropy-production estimator.

use egui::Color32;
use egui_plot::{Bar, BarChart, HLine, Line, Plot, Points};
use neqlab::stats::entropy::{DFT_MIN_COUNT, IftPoint, MAX_UNITS, SigmaHistogram};

use super::plot2d::{TITLE_GAP, readable_axes};
use super::worker::Snapshot;

pub struct FluctuationPanel {
    /// Trajectory length `k` (1-based).
    pub k: usize,
}

impl Default for FluctuationPanel {
    fn default() -> Self {
        Self { k: 1 }
    }
}

impl FluctuationPanel {
    /// `approximate`: why the entropy model the theorems are measured with is approximate
    /// ([`super::metrics::theory_note`]).
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        snapshot: Option<&Snapshot>,
        approximate: Option<&str>,
    ) {
        ui.horizontal(|ui| {
            ui.strong("Fluctuation theorems");
            ui.add(egui::Slider::new(&mut self.k, 1..=MAX_UNITS).text("k"));
        });
        super::metrics::approximate_ui(ui, approximate);
        let simulated = snapshot.map(|s| &s.simulated);
        let (Some(entropy), Some(histogram)) = (
            simulated.and_then(|s| s.entropy.as_ref()),
            simulated.and_then(|s| s.sigma_histogram(self.k)),
        ) else {
            ui.label("Waiting for the prediction (entropy production needs v(w) and D).");
            return;
        };
        let plot_height = (ui.available_height() - 50.0 - TITLE_GAP).max(40.0);
        let (slope_name, one_name) = if approximate.is_some() {
            ("slope 1 (approximate)", "1 (approximate)")
        } else {
            ("slope 1", "1")
        };
        ui.columns(3, |columns| {
            histogram_ui(&mut columns[0], histogram, plot_height);
            ratio_ui(&mut columns[1], histogram, plot_height, slope_name);
            integral_ui(&mut columns[2], &entropy.stats.ift, plot_height, one_name);
        });
    }
}

/// Plot colours: measured points in blue, the theorem's prediction in red.
const MEASURED: Color32 = Color32::from_rgb(90, 160, 255);
const THEOREM: Color32 = Color32::from_rgb(255, 90, 90);

/// `P(Σ)` as bars of probability density, on an axis symmetric about 0 (so that narrow plots
/// still label −a, 0 and a).
fn histogram_ui(ui: &mut egui::Ui, histogram: &SigmaHistogram, plot_height: f32) {
    let width = histogram.bin_width.max(f64::MIN_POSITIVE);
    let total = histogram.total().max(1) as f64;
    ui.label(format!("P(Σ), k = {}", histogram.units))
        .on_hover_text(format!("{} stretches of k units", histogram.total()));
    ui.add_space(TITLE_GAP);
    let filled = || histogram.counts.iter().enumerate().filter(|(_, c)| **c > 0);
    let bars: Vec<Bar> = filled()
        .map(|(j, &c)| Bar::new(histogram.centre(j), c as f64 / total / width).width(width))
        .collect();
    let reach = filled()
        .map(|(j, _)| histogram.centre(j).abs() + width)
        .fold(width, f64::max);
    readable_axes(ui, Plot::new("ft-histogram"), "Σ", "P(Σ)")
        .height(plot_height)
        .include_x(-reach)
        .include_x(reach)
        .show(ui, |plot_ui| {
            plot_ui.bar_chart(BarChart::new("P(Σ)", bars).color(MEASURED));
        });
}

/// The detailed theorem: `ln P(Σ)/P(−Σ)` against `Σ` (both signs), with the slope-1 line.
fn ratio_ui(ui: &mut egui::Ui, histogram: &SigmaHistogram, plot_height: f32, slope_name: &str) {
    let width = histogram.bin_width.max(f64::MIN_POSITIVE);
    ui.label("ln P(Σ)/P(−Σ) vs Σ");
    ui.add_space(TITLE_GAP);
    let pairs = histogram.log_ratios(DFT_MIN_COUNT);
    let ratio: Vec<[f64; 2]> = pairs
        .iter()
        .flat_map(|p| [[p.sigma, p.log_ratio], [-p.sigma, -p.log_ratio]])
        .collect();
    let extent = pairs
        .iter()
        .map(|p| p.sigma)
        .fold(0.0, f64::max)
        .max(10.0 * width);
    readable_axes(ui, Plot::new("ft-ratio"), "Σ", "")
        .height(plot_height)
        .data_aspect(1.0)
        .show(ui, |plot_ui| {
            plot_ui.line(
                Line::new(slope_name, vec![[-extent, -extent], [extent, extent]]).color(THEOREM),
            );
            plot_ui.points(Points::new("histogram", ratio).radius(2.5).color(MEASURED));
        });
}

/// The integral theorem: `⟨exp(−Σ)⟩` against `k` with ± 2 standard errors, and the line at 1.
fn integral_ui(ui: &mut egui::Ui, ift: &[IftPoint], plot_height: f32, one_name: &str) {
    ui.label("<exp(−Σ)> vs k (± 2 s.e.)");
    ui.add_space(TITLE_GAP);
    let points: Vec<[f64; 2]> = ift
        .iter()
        .filter(|p| p.trajectories > 0 && p.mean.is_finite())
        .map(|p| [p.units as f64, p.mean])
        .collect();
    readable_axes(ui, Plot::new("ft-integral"), "length k", "")
        .height(plot_height)
        .include_x(0.5)
        .include_x(MAX_UNITS as f64 + 0.5)
        .include_y(0.9)
        .include_y(1.1)
        .show(ui, |plot_ui| {
            plot_ui.hline(HLine::new(one_name, 1.0).color(THEOREM));
            for p in ift
                .iter()
                .filter(|p| p.error.is_finite() && p.mean.is_finite())
            {
                let x = p.units as f64;
                plot_ui.line(
                    Line::new(
                        format!("error {}", p.units),
                        vec![[x, p.mean - 2.0 * p.error], [x, p.mean + 2.0 * p.error]],
                    )
                    .color(MEASURED)
                    .allow_hover(false),
                );
            }
            plot_ui.points(Points::new("<exp(−Σ)>", points).radius(4.0).color(MEASURED));
        });
}
