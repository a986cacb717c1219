//! The Posterior tab's controls: the batch size, the measured KL ratio at small η beside what
//! the theory expects, and whether the `(N/B)²` law applies (docs/theory.md sections 4 and 5).

use egui::RichText;
use neqlab::fields;
use neqlab::posterior::{LAW_THRESHOLD, NoiseBalance};

use crate::app::number_field;

use super::PosteriorPanel;

/// The divisors of `n`.
pub fn divisors(n: usize) -> Vec<usize> {
    (1..=n).filter(|d| n.is_multiple_of(*d)).collect()
}

impl PosteriorPanel {
    /// The batch size, then the ratio line and the setting's summary.
    pub(super) fn controls_ui(&mut self, ui: &mut egui::Ui) {
        let Some(n) = self.settings.as_ref().map(|s| s.setup.n) else {
            return;
        };
        let mut batch = self.batch;
        ui.horizontal_wrapped(|ui| {
            let rule = number_field::at_most(fields::BATCH, n as u64, "at most N");
            number_field::count(ui, "Batch size B", rule, &mut batch);
            ui.label("divisors of N:");
            for d in divisors(n) {
                let button = egui::Button::selectable(d == batch, format!("{d}"));
                if ui.add(button).on_hover_text(format!("B = {d}")).clicked() {
                    batch = d;
                }
            }
            if !n.is_multiple_of(batch) {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    format!(
                        "B does not divide N = {n}: SGWORLD drops {} examples per epoch",
                        n % batch
                    ),
                );
            }
        });
        self.set_batch(batch);
        self.ratio_ui(ui);
        if let Some(report) = &self.report {
            ui.label(
                RichText::new(format!(
                    "{} (N = {}), B = {}, T = {}; SGWORLD averaged over {} permutations at epoch \
                     boundaries; ULA stable for η < {:.3e}",
                    report.landscape,
                    report.n,
                    report.batch,
                    report.temperature,
                    report.permutations,
                    report.ula_eta_limit
                ))
                .weak(),
            );
        }
    }

    /// The measured ratio at the smallest η, the theory's small-η ratio, and the `(N/B)²` law
    /// only where it applies.
    fn ratio_ui(&self, ui: &mut egui::Ui) {
        let computing = self.computing_exact();
        ui.horizontal_wrapped(|ui| {
            match self.smallest_eta_ratio() {
                Some((eta, ratio)) => {
                    ui.label(
                        RichText::new(format!(
                            "KL SGLD / KL SGWORLD at the smallest η ({eta:.2e}): {ratio:.1}"
                        ))
                        .strong(),
                    );
                }
                None if computing => {}
                None => {
                    ui.label("KL SGLD / KL SGWORLD: no η where both are stable");
                }
            }
            if computing {
                ui.spinner();
                if let Some(progress) = self.jobs.exact.progress() {
                    ui.label(format!("{}…", progress.phase));
                }
            }
        });
        let balance = self.report.as_ref().and_then(|r| r.noise_balance.as_ref());
        if let Some(balance) = balance {
            law_ui(ui, balance, self.batch);
        }
    }
}

/// What the theory expects at small η, and whether the `(N/B)²` law applies.
fn law_ui(ui: &mut egui::Ui, balance: &NoiseBalance, batch: usize) {
    let r = balance.gradient_noise_ratio;
    ui.horizontal_wrapped(|ui| {
        ui.label(format!(
            "theory at small η: KL SGLD / KL ULA ≈ {:.1} (SGWORLD is biased like ULA there; \
             docs/theory.md §5.5), from the gradient noise against the temperature, \
             r = c_B tr S / (T tr H) = {}",
            balance.predicted_ratio,
            format_ratio(r)
        ));
    });
    if balance.law_applies {
        ui.label(format!(
            "The (N/B)² law applies (gradient noise not negligible next to T: r ≥ {LAW_THRESHOLD}): \
             (N/B)² = (N/{batch})² = {:.1}",
            balance.nb_squared
        ));
    } else {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!(
                "The (N/B)² law does not apply here: the gradient noise is negligible next to T \
                 (r = {} < {LAW_THRESHOLD}), so SGLD and SGWORLD are biased alike. It applies \
                 where r ≥ {LAW_THRESHOLD}: examples that disagree (e.g. Bayesian linear \
                 regression at T = 1, sgld-vs-sgworld) or a lower T.",
                format_ratio(r)
            ),
        );
    }
}

/// A ratio with the digits it needs: 0.047, 9.1, 1.2e-4.
fn format_ratio(r: f64) -> String {
    if r == 0.0 || (0.01..1000.0).contains(&r.abs()) {
        format!("{}", (r * 1000.0).round() / 1000.0)
    } else {
        format!("{r:.2e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divisors_and_ratios() {
        assert_eq!(divisors(12), vec![1, 2, 3, 4, 6, 12]);
        assert_eq!(format_ratio(0.0472), "0.047");
        assert_eq!(format_ratio(9.0909), "9.091");
        assert_eq!(format_ratio(1.2e-4), "1.20e-4");
    }
}
