//! Fluctuation theorems (docs/theory.md §3.2): the histogram of `Σ` over `k`-unit
//! stretches, `ln P(Σ)/P(−Σ)` against `Σ` with the slope-1 line, and `⟨exp(−Σ)⟩` against `k`
//! with its standard errors, all measured by the library's entropy-production estimator.

use egui::Color32;
use egui_plot::{Bar, BarChart, HLine, Line, Plot, Points};
use neqlab::stats::entropy::{DFT_MIN_COUNT, MAX_UNITS};

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
        let width = histogram.bin_width.max(f64::MIN_POSITIVE);
        let total = histogram.total().max(1) as f64;
        let plot_height = (ui.available_height() - 50.0 - TITLE_GAP).max(40.0);
        let (slope_name, one_name) = if approximate.is_some() {
            ("slope 1 (approximate)", "1 (approximate)")
        } else {
            ("slope 1", "1")
        };
        ui.columns(3, |columns| {
            columns[0]
                .label(format!("P(Σ), k = {}", histogram.units))
                .on_hover_text(format!("{} stretches of k units", histogram.total()));
            columns[0].add_space(TITLE_GAP);
            let bars: Vec<Bar> = histogram
                .counts
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .map(|(j, &c)| Bar::new(histogram.centre(j), c as f64 / total / width).width(width))
                .collect();
            // Symmetric about 0, so that narrow plots still label −a, 0 and a.
            let reach = histogram
                .counts
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .map(|(j, _)| histogram.centre(j).abs() + width)
                .fold(width, f64::max);
            readable_axes(&columns[0], Plot::new("ft-histogram"), "Σ", "P(Σ)")
                .height(plot_height)
                .include_x(-reach)
                .include_x(reach)
                .show(&mut columns[0], |plot_ui| {
                    plot_ui.bar_chart(
                        BarChart::new("P(Σ)", bars).color(Color32::from_rgb(90, 160, 255)),
                    );
                });
            columns[1].label("ln P(Σ)/P(−Σ) vs Σ");
            columns[1].add_space(TITLE_GAP);
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
            readable_axes(&columns[1], Plot::new("ft-ratio"), "Σ", "")
                .height(plot_height)
                .data_aspect(1.0)
                .show(&mut columns[1], |plot_ui| {
                    plot_ui.line(
                        Line::new(slope_name, vec![[-extent, -extent], [extent, extent]])
                            .color(Color32::from_rgb(255, 90, 90)),
                    );
                    plot_ui.points(
                        Points::new("histogram", ratio)
                            .radius(2.5)
                            .color(Color32::from_rgb(90, 160, 255)),
                    );
                });
            columns[2].label("<exp(−Σ)> vs k (± 2 s.e.)");
            columns[2].add_space(TITLE_GAP);
            let ift = &entropy.stats.ift;
            let points: Vec<[f64; 2]> = ift
                .iter()
                .filter(|p| p.trajectories > 0 && p.mean.is_finite())
                .map(|p| [p.units as f64, p.mean])
                .collect();
            readable_axes(&columns[2], Plot::new("ft-integral"), "length k", "")
                .height(plot_height)
                .include_x(0.5)
                .include_x(MAX_UNITS as f64 + 0.5)
                .include_y(0.9)
                .include_y(1.1)
                .show(&mut columns[2], |plot_ui| {
                    plot_ui.hline(HLine::new(one_name, 1.0).color(Color32::from_rgb(255, 90, 90)));
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
                            .color(Color32::from_rgb(90, 160, 255))
                            .allow_hover(false),
                        );
                    }
                    plot_ui.points(
                        Points::new("<exp(−Σ)>", points)
                            .radius(4.0)
                            .color(Color32::from_rgb(90, 160, 255)),
                    );
                });
        });
    }
}
