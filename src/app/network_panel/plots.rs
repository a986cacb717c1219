//! The Network tab's plots: the data with the fitted curve and the stationary band, the
//! simulated covariance and stochastic area against the theory as heatmaps, and the
//! fluctuation theorems.

use egui::Color32;
use egui_plot::{Bar, BarChart, HLine, Heatmap, Legend, Line, Plot, PlotPoint, Points};

use super::NetworkPanel;
use super::job::NetResult;

/// A diverging map for signed values in `[-1, 1]`: blue, white, red.
pub fn diverging(t: f64) -> Color32 {
    let t = if t.is_finite() {
        t.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let white = [247.0, 247.0, 247.0];
    let end = if t < 0.0 {
        [33.0, 102.0, 172.0]
    } else {
        [178.0, 24.0, 43.0]
    };
    let s = t.abs();
    let c: [u8; 3] = std::array::from_fn(|k| (white[k] + (end[k] - white[k]) * s).round() as u8);
    Color32::from_rgb(c[0], c[1], c[2])
}

/// A power of ten that brings `m` to between 1 and 10.
fn decade(m: f64) -> i32 {
    if m > 0.0 && m.is_finite() {
        m.log10().floor() as i32
    } else {
        0
    }
}

impl NetworkPanel {
    pub(super) fn fit_ui(&mut self, ui: &mut egui::Ui, height: f32) {
        let Some(result) = self.result.clone() else {
            ui.label("The data and the fitted curve f(x) appear after a run.");
            return;
        };
        ui.label(format!(
            "Data and f(x) at the minimum; band: mean ± 2 std of f(x) over the {} final walkers",
            result.band_walkers
        ));
        let xs: Vec<f64> = result.band.iter().map(|b| b[0]).collect();
        let low: Vec<f64> = result.band.iter().map(|b| b[1]).collect();
        let high: Vec<f64> = result.band.iter().map(|b| b[2]).collect();
        Plot::new("network-fit")
            .height((height - 30.0).max(100.0))
            .legend(Legend::default())
            .x_axis_label("x")
            .y_axis_label("y")
            .show(ui, |plot_ui| {
                plot_ui.add(
                    egui_plot::FilledArea::new("stationary band (±2 std)", &xs, &low, &high)
                        .fill_color(Color32::from_rgba_unmultiplied(255, 160, 60, 90)),
                );
                plot_ui.points(
                    Points::new("data", result.data.clone())
                        .radius(2.0)
                        .color(Color32::from_rgb(120, 170, 255)),
                );
                plot_ui.line(
                    Line::new("f(x) at the minimum", result.curve.clone())
                        .color(Color32::from_rgb(255, 140, 40))
                        .width(2.0),
                );
            });
    }

    pub(super) fn covariance_ui(&mut self, ui: &mut egui::Ui, result: &NetResult, height: f32) {
        let d = result.dim();
        if result.cov_sim.len() != d * d || result.cov_theory.len() != d * d {
            ui.label("No covariance to compare.");
            return;
        }
        ui.strong("Covariance: simulated vs Lyapunov");
        self.pair_ui(
            ui,
            "cov",
            ["simulated Σ", "Lyapunov Σ"],
            [&result.cov_sim, &result.cov_theory],
            &result.names,
            height,
        );
        let ratios: Vec<String> = result
            .variance_ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect();
        ui.label(format!(
            "relative Frobenius difference {:.3}",
            result.cov_difference
        ));
        ui.label(format!("diagonal sim/theory: {}", ratios.join("  ")));
    }

    pub(super) fn area_ui(&mut self, ui: &mut egui::Ui, result: &NetResult, height: f32) {
        let d = result.dim();
        if result.area_sim.len() != d * d || result.circulation.len() != d * d {
            ui.label("No stochastic area to compare.");
            return;
        }
        ui.strong("Stochastic area vs circulation C");
        self.pair_ui(
            ui,
            "area",
            ["simulated area", "theory C"],
            [&result.area_sim, &result.circulation],
            &result.names,
            height,
        );
        ui.label(format!(
            "relative Frobenius difference {:.3}",
            result.area_difference
        ));
        let r = &result.report;
        if let (Some(sim), Some(theory)) = (&r.sim, &r.theory) {
            ui.label(format!(
                "entropy production: {:.3e} ± {:.1e} (theory {:.3e}) per {}",
                sim.ep_rate.unwrap_or(f64::NAN),
                sim.ep_rate_error.unwrap_or(f64::NAN),
                theory.ep_rate,
                r.time_unit.name()
            ));
        }
    }

    /// Two `d × d` matrices side by side on one symmetric diverging scale, the hovered cell's
    /// values written below.
    fn pair_ui(
        &mut self,
        ui: &mut egui::Ui,
        id: &str,
        titles: [&str; 2],
        matrices: [&[f64]; 2],
        names: &[String],
        height: f32,
    ) {
        let d = names.len();
        let m = matrices
            .iter()
            .flat_map(|m| m.iter())
            .fold(0.0_f64, |m, v| m.max(v.abs()));
        let exponent = decade(m);
        let unit = 10f64.powi(exponent);
        let scaled_max = if m > 0.0 { m / unit } else { 1.0 };
        ui.horizontal(|ui| {
            ui.weak(format!("values ×10^{exponent}; scale ±{scaled_max:.2}"));
            legend_ui(ui, scaled_max);
        });
        let size = ((ui.available_width() - 12.0) / 2.0)
            .min(height - 40.0)
            .max(60.0);
        let mut hovered = None;
        ui.horizontal(|ui| {
            for (k, matrix) in matrices.iter().enumerate() {
                ui.vertical(|ui| {
                    ui.label(titles[k]);
                    // Row 0 on top: the heatmap draws its rows upwards.
                    let values: Vec<f64> = (0..d)
                        .rev()
                        .flat_map(|row| (0..d).map(move |col| (row, col)))
                        .map(|(row, col)| matrix[row * d + col] / unit)
                        .collect();
                    let response = Plot::new(format!("{id}-{k}"))
                        .width(size)
                        .height(size)
                        .data_aspect(1.0)
                        .show_axes([false, false])
                        .show_grid([false, false])
                        .allow_drag(false)
                        .allow_zoom(false)
                        .allow_scroll(false)
                        .allow_boxed_zoom(false)
                        .show_x(false)
                        .show_y(false)
                        .show(ui, |plot_ui| {
                            let max = scaled_max;
                            plot_ui.add(
                                Heatmap::new(values, d)
                                    .range(-max, max)
                                    .show_labels(false)
                                    .custom_mapping(Box::new(move |v| diverging(v / max))),
                            );
                            plot_ui.pointer_coordinate()
                        });
                    if let Some(PlotPoint { x, y }) = response.inner
                        && response.response.hovered()
                        && (0.0..d as f64).contains(&x)
                        && (0.0..d as f64).contains(&y)
                    {
                        let col = x as usize;
                        let row = d - 1 - y as usize;
                        hovered = Some((row, col));
                    }
                });
            }
        });
        if let Some((row, col)) = hovered {
            let a = matrices[0][row * d + col];
            let b = matrices[1][row * d + col];
            self.hover = Some(format!(
                "[{}, {}]: {} {a:.3e}, {} {b:.3e}",
                names[row], names[col], titles[0], titles[1]
            ));
        }
        let text = self
            .hover
            .as_ref()
            .filter(|h| hovered.is_some() && h.starts_with('['))
            .cloned()
            .unwrap_or_else(|| {
                format!("weights {} (hover a cell for its values)", names.join(", "))
            });
        ui.weak(text);
    }
}

/// A small colour bar from −max to +max.
fn legend_ui(ui: &mut egui::Ui, max: f64) {
    ui.weak(format!("{:.2}", -max));
    let (rect, _) = ui.allocate_exact_size(egui::vec2(90.0, 12.0), egui::Sense::hover());
    let steps = 30;
    for k in 0..steps {
        let t = -1.0 + 2.0 * (k as f64 + 0.5) / steps as f64;
        let x0 = rect.left() + rect.width() * k as f32 / steps as f32;
        let x1 = rect.left() + rect.width() * (k + 1) as f32 / steps as f32;
        ui.painter().rect_filled(
            egui::Rect::from_min_max(egui::pos2(x0, rect.top()), egui::pos2(x1, rect.bottom())),
            0.0,
            diverging(t),
        );
    }
    ui.weak(format!("+{max:.2}"));
}

/// The `Σ` histogram and the fluctuation-theorem checks.
pub(super) fn fluctuation_ui(ui: &mut egui::Ui, result: &NetResult, height: f32) {
    ui.strong("Entropy production and fluctuation theorems");
    let Some(sim) = result.report.sim.as_ref() else {
        ui.label("No statistics.");
        return;
    };
    let plot_height = ((height - 40.0) / 2.0).max(60.0);
    match &sim.sigma_histogram {
        Some(h) if h.total() > 0 && h.bin_width > 0.0 => {
            let total = h.total() as f64;
            let first = h.counts.iter().position(|&c| c > 0).unwrap_or(0);
            let last = h.counts.iter().rposition(|&c| c > 0).unwrap_or(0);
            let bars: Vec<Bar> = (first..=last)
                .map(|j| {
                    Bar::new(h.centre(j), h.counts[j] as f64 / total / h.bin_width)
                        .width(h.bin_width)
                })
                .collect();
            ui.label(format!(
                "P(Σ) over {} trajectories of {} {}s ({} outside)",
                h.total(),
                h.units,
                result.report.time_unit.name(),
                h.outside
            ));
            Plot::new("network-sigma")
                .height(plot_height)
                .x_axis_label("Σ")
                .show(ui, |plot_ui| {
                    plot_ui.bar_chart(
                        BarChart::new("P(Σ)", bars).color(Color32::from_rgb(90, 160, 255)),
                    );
                });
        }
        _ => {
            ui.label("No Σ histogram (the theory predicts no entropy production).");
        }
    }
    match &sim.ift {
        Some(ift) if !ift.is_empty() => {
            ui.label("<exp(−Σ)> against trajectory length k (IFT: 1), ±1 standard error");
            Plot::new("network-ift")
                .height(plot_height)
                .include_y(0.9)
                .include_y(1.1)
                .x_axis_label("k")
                .show(ui, |plot_ui| {
                    plot_ui.hline(HLine::new("1", 1.0).color(Color32::GRAY));
                    for p in ift {
                        let k = p.units as f64;
                        plot_ui.line(
                            Line::new(
                                format!("error {k}"),
                                vec![[k, p.mean - p.error], [k, p.mean + p.error]],
                            )
                            .color(Color32::from_rgb(255, 140, 40))
                            .width(2.0),
                        );
                    }
                    let points: Vec<[f64; 2]> =
                        ift.iter().map(|p| [p.units as f64, p.mean]).collect();
                    plot_ui.points(
                        Points::new("<exp(−Σ)>", points)
                            .radius(4.0)
                            .color(Color32::from_rgb(255, 140, 40)),
                    );
                });
            let values: Vec<String> = ift
                .iter()
                .map(|p| format!("{:.4} ± {:.1e}", p.mean, p.error))
                .collect();
            ui.label(format!("IFT k = 1..{}: {}", ift.len(), values.join("  ")));
        }
        _ => {
            ui.label("No IFT values (no prediction of v and D).");
        }
    }
    match (sim.dft_slope, sim.dft_slope_error) {
        (Some(slope), Some(error)) => {
            ui.label(format!(
                "DFT slope of ln P(Σ)/P(−Σ): {slope:.3} ± {error:.3} (theory 1)"
            ));
        }
        _ => {
            ui.label("DFT slope: too few counts on both sides.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diverging_is_symmetric_and_white_at_zero() {
        assert_eq!(diverging(0.0), Color32::from_rgb(247, 247, 247));
        let (r, _, b) = {
            let c = diverging(1.0);
            (c.r(), c.g(), c.b())
        };
        assert!(r > b);
        let c = diverging(-1.0);
        assert!(c.b() > c.r());
        assert_eq!(diverging(f64::NAN), diverging(0.0));
        assert_eq!(decade(3.2e-6), -6);
    }
}
