//! Fluctuation theorems (docs/theory.md section 3): the histogram of `Σ` over `k`-step stretches,
//! `ln P(Σ)/P(−Σ)` against `Σ` with the slope-1 line, and `⟨exp(−Σ)⟩` against `k`.

use egui::Color32;
use egui_plot::{Bar, BarChart, HLine, Line, Plot, Points};

use super::theory_adapter::{MAX_K, SIGMA_BINS};
use super::worker::Snapshot;

/// Bins with fewer counts than this are left out of the log-ratio.
const MIN_COUNT: f64 = 20.0;

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
    pub fn ui(&mut self, ui: &mut egui::Ui, snapshot: Option<&Snapshot>) {
        ui.horizontal(|ui| {
            ui.strong("Fluctuation theorems");
            ui.add(egui::Slider::new(&mut self.k, 1..=MAX_K).text("k"));
        });
        let Some(entropy) = snapshot.and_then(|s| s.entropy.as_ref()) else {
            ui.label("Waiting for the prediction (entropy production needs v(w) and D).");
            return;
        };
        let k = self.k.clamp(1, MAX_K) - 1;
        let histogram = &entropy.histograms[k];
        let h = entropy.half_width[k];
        let width = 2.0 * h / SIGMA_BINS as f64;
        let centre = |i: usize| -h + (i as f64 + 0.5) * width;
        let total: f64 = histogram.iter().sum::<f64>().max(1.0);
        let plot_height = (ui.available_height() - 50.0).max(40.0);
        ui.columns(3, |columns| {
            columns[0]
                .label(format!("P(Σ), k = {}", k + 1))
                .on_hover_text(format!("{} stretches of k units", entropy.blocks[k]));
            let bars: Vec<Bar> = histogram
                .iter()
                .enumerate()
                .map(|(i, c)| Bar::new(centre(i), c / total / width).width(width))
                .collect();
            Plot::new("ft-histogram")
                .height(plot_height)
                .show(&mut columns[0], |plot_ui| {
                    plot_ui.bar_chart(
                        BarChart::new("P(Σ)", bars).color(Color32::from_rgb(90, 160, 255)),
                    );
                });
            columns[1].label("ln P(Σ)/P(−Σ) vs Σ");
            let mut ratio = Vec::new();
            for i in SIGMA_BINS / 2 + 1..SIGMA_BINS {
                let mirror = SIGMA_BINS - 1 - i;
                let (p, q) = (histogram[i], histogram[mirror]);
                if p >= MIN_COUNT && q >= MIN_COUNT {
                    ratio.push([centre(i), (p / q).ln()]);
                    ratio.push([centre(mirror), (q / p).ln()]);
                }
            }
            let extent = ratio
                .iter()
                .map(|p| p[0].abs())
                .fold(0.0, f64::max)
                .max(h * 0.2);
            Plot::new("ft-ratio")
                .height(plot_height)
                .data_aspect(1.0)
                .show(&mut columns[1], |plot_ui| {
                    plot_ui.line(
                        Line::new("slope 1", vec![[-extent, -extent], [extent, extent]])
                            .color(Color32::from_rgb(255, 90, 90)),
                    );
                    plot_ui.points(
                        Points::new("histogram", ratio)
                            .radius(2.5)
                            .color(Color32::from_rgb(90, 160, 255)),
                    );
                });
            columns[2].label("<exp(−Σ)> vs k");
            let points: Vec<[f64; 2]> = entropy
                .exp_minus
                .iter()
                .enumerate()
                .filter_map(|(k, v)| v.map(|v| [(k + 1) as f64, v]))
                .collect();
            Plot::new("ft-integral")
                .height(plot_height)
                .include_y(0.9)
                .include_y(1.1)
                .show(&mut columns[2], |plot_ui| {
                    plot_ui.hline(HLine::new("1", 1.0).color(Color32::from_rgb(255, 90, 90)));
                    plot_ui.points(
                        Points::new("<exp(−Σ)>", points)
                            .radius(4.0)
                            .color(Color32::from_rgb(90, 160, 255)),
                    );
                });
        });
    }
}
