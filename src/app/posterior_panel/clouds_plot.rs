//! The Posterior tab's clouds: SGLD's and SGWORLD's stationary walkers at one η over the
//! posterior's ellipses, with their stochastic areas.

use egui::RichText;
use egui_plot::{Legend, Line, LineStyle, Plot, Points};
use neqlab::posterior::{Cloud, Clouds};
use neqlab::theory::exact::Gaussian;

use super::colours::{POSTERIOR_COLOUR, SGLD_COLOUR, SGWORLD_COLOUR};
use super::{CLOUD_WALKERS, PosteriorPanel, SMALLEST_FRACTION};
use crate::app::plot2d::ellipse;

impl PosteriorPanel {
    /// The η slider, the stochastic areas, and the clouds over the posterior's ellipses.
    pub(super) fn clouds_ui(&mut self, ui: &mut egui::Ui, height: f32) {
        let Some(eta_limit) = self.settings.as_ref().map(|s| s.setup.eta_limit) else {
            return;
        };
        self.cloud_eta_ui(ui, eta_limit);
        if let Some(c) = &self.clouds {
            areas_ui(ui, c);
        }
        self.cloud_plot_ui(ui, height);
    }

    /// The slider of the clouds' η: a new request when the drag ends.
    fn cloud_eta_ui(&mut self, ui: &mut egui::Ui, eta_limit: f64) {
        let mut eta = self.cloud_eta;
        ui.horizontal(|ui| {
            let label = ui.label(RichText::new("Stationary clouds at η").strong());
            let response = ui
                .add(
                    egui::Slider::new(
                        &mut eta,
                        SMALLEST_FRACTION * eta_limit * 10.0..=0.5 * eta_limit,
                    )
                    .logarithmic(true)
                    .custom_formatter(|v, _| format!("{v:.2e}")),
                )
                .labelled_by(label.id);
            if response.drag_stopped() || (response.changed() && !response.dragged()) {
                self.cloud_eta = eta;
                self.request_clouds();
            } else if response.dragged() {
                self.cloud_eta = eta;
            }
            if self.computing_clouds() {
                ui.spinner();
                ui.label("running walkers…");
            }
        });
    }

    /// SGLD's and SGWORLD's walkers over the posterior's 1σ and 2σ ellipses and their own
    /// exact 2σ ellipses.
    fn cloud_plot_ui(&mut self, ui: &mut egui::Ui, height: f32) {
        let clouds = self.clouds.clone();
        let names = self
            .settings
            .as_ref()
            .map(|s| s.landscape.weight_names())
            .filter(|n| n.len() == 2)
            .unwrap_or_else(|| vec!["w1".into(), "w2".into()]);
        let plot = Plot::new("posterior-clouds");
        let mut plot = super::super::plot2d::readable_axes(ui, plot, &names[0], &names[1])
            .height((height - 60.0).max(150.0))
            .data_aspect(1.0)
            .legend(Legend::default().position(egui_plot::Corner::LeftTop));
        if self.reset_plots {
            plot = plot.reset();
        }
        plot.show(ui, |plot_ui| {
            let Some(c) = clouds else {
                return;
            };
            let as_2x2 = |g: &Gaussian| {
                (
                    [g.mean[0], g.mean[1]],
                    [g.cov[0], g.cov[1], g.cov[2], g.cov[3]],
                )
            };
            for (name, cloud, colour) in [
                ("SGLD walkers", &c.sgld, SGLD_COLOUR),
                ("SGWORLD walkers", &c.sgworld, SGWORLD_COLOUR),
            ] {
                plot_ui.points(
                    Points::new(name, cloud.positions.clone())
                        .color(colour.gamma_multiply(0.6))
                        .radius(1.5),
                );
            }
            let (mean, cov) = as_2x2(&c.posterior);
            for (n, style) in [(1.0, LineStyle::Solid), (2.0, LineStyle::dashed_dense())] {
                plot_ui.line(
                    Line::new(format!("posterior {n}σ"), ellipse(mean, cov, n))
                        .color(POSTERIOR_COLOUR)
                        .style(style)
                        .width(2.0),
                );
            }
            for (name, cloud, colour) in [
                ("SGLD exact 2σ", &c.sgld, SGLD_COLOUR),
                ("SGWORLD exact 2σ", &c.sgworld, SGWORLD_COLOUR),
            ] {
                if let Cloud { exact: Some(g), .. } = cloud {
                    let (mean, cov) = as_2x2(g);
                    plot_ui.line(
                        Line::new(name, ellipse(mean, cov, 2.0))
                            .color(colour)
                            .style(LineStyle::dashed_loose())
                            .width(1.5),
                    );
                }
            }
        });
    }
}

/// The clouds' stochastic areas per time unit.
fn areas_ui(ui: &mut egui::Ui, c: &Clouds) {
    ui.horizontal_wrapped(|ui| {
            ui.label(format!(
                "{CLOUD_WALKERS} walkers per algorithm from a short ensemble run (burn-in 10/(η h_min)), B = {}, η = {:.2e}. Circulation = stochastic area <(x₁Δx₂ − x₂Δx₁)/2> per time unit:",
                c.batch, c.eta
            ));
            for (name, cloud, unit, colour) in [
                ("SGLD", &c.sgld, "step", SGLD_COLOUR),
                ("SGWORLD", &c.sgworld, "epoch", SGWORLD_COLOUR),
            ] {
                let text = if cloud.diverged_walkers > 0 {
                    format!(
                        "{name} {:+.3e} per {unit} ({} walkers diverged)",
                        cloud.area, cloud.diverged_walkers
                    )
                } else {
                    format!("{name} {:+.3e} per {unit}", cloud.area)
                };
                ui.colored_label(colour, text);
            }
        });
}
