//! The Map tab's controls: the quantity shown (and what exactly it is), the validity
//! simulation with its progress, and the export of the figure and the data (through the
//! app's file dialogs).

use std::path::Path;

use anyhow::Context as _;
use egui::RichText;
use neqlab::export::{self, map_figure};
use neqlab::map::{HyperMap, MapQuantity};

use super::{MapExport, MapPanel, Status, Work, on_screen};
use crate::app::dialogs::{DialogKind, DialogRequest};

/// What a quantity is, in a sentence: which clock a rate is per, whether a KL divergence is
/// exact or linearised on this landscape.
pub fn describe(quantity: MapQuantity, map: Option<&HyperMap>) -> String {
    match quantity {
        MapQuantity::EpRate => "Entropy production per time unit: per step with replacement, \
            per epoch without (the units of neqlab run's theory.ep_rate). The two panels count \
            time differently; choose \"per example pass\" to compare them."
            .into(),
        MapQuantity::EpRatePerPass => "Entropy production per pass over the N examples: the \
            same clock for both modes, so the two panels compare on one scale."
            .into(),
        MapQuantity::TraceCov => "Stationary spread tr Σ of the linearised theory.".into(),
        MapQuantity::LossExcess => {
            "Excess loss E[L] − L_min ≈ L(mean) − L_min + ½ tr(H Σ), H the Hessian at the mean."
                .into()
        }
        MapQuantity::CirculationNorm => {
            "Circulation |C| (Frobenius norm) per time unit (step with replacement, epoch without)."
                .into()
        }
        MapQuantity::NonequilibriumRatio => "Equilibrium measure |HΣ − ΣH| / |HΣ + ΣH|: zero \
            in equilibrium (Σ commutes with H), towards one far from it."
            .into(),
        MapQuantity::KlPosterior => kl_description(map),
        MapQuantity::WorShift => "Shift of the effective minimum |w_eff − w*| without \
            replacement (none with replacement: that panel is empty)."
            .into(),
        MapQuantity::SimCovRelError => "Relative error |Σ_sim − Σ| / |Σ| of the simulated \
            covariance (simulated cells only; press Simulate)."
            .into(),
    }
}

/// Whether the KL divergences of `map` are exact or linearised.
fn kl_description(map: Option<&HyperMap>) -> String {
    let (exact, linearised) = map.map_or((0, 0), |m| {
        let with_kl = m.cells.iter().filter(|c| c.kl_posterior.is_some());
        with_kl.fold(
            (0, 0),
            |(e, l), c| {
                if c.kl_exact { (e + 1, l) } else { (e, l + 1) }
            },
        )
    });
    let method = match (exact, linearised) {
        (0, 0) => "no cell has one (it needs T > 0 and a stationary state)".to_string(),
        (_, 0) => "EXACT here: the exact stationary moments of the discrete dynamics on this \
                   quadratic landscape against exp(−L/T)"
            .to_string(),
        (0, _) => "LINEARISED here: the cell's Gaussian against the Laplace approximation \
                   N(w*, T H^-1) of exp(−L/T), H the Hessian at w*"
            .to_string(),
        (e, l) => format!("{e} cells exact, {l} linearised (hover a cell to see which)"),
    };
    format!("KL(stationary | exp(−L/T)) from the posterior: {method}.")
}

impl MapPanel {
    /// The quantity selector, the validity simulation and the export row.
    pub(super) fn controls_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new("Colour by").strong());
            egui::ComboBox::from_id_salt("map quantity")
                .selected_text(on_screen(self.quantity.label()))
                .width(320.0)
                .show_ui(ui, |ui| {
                    for quantity in MapQuantity::ALL {
                        ui.selectable_value(
                            &mut self.quantity,
                            quantity,
                            on_screen(quantity.label()),
                        );
                    }
                });
            ui.label(RichText::new(describe(self.quantity, self.map.as_ref())).weak());
        });
        self.simulation_ui(ui);
        self.export_ui(ui);
    }

    fn simulation_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            let options = &self.simulation_options;
            let label = format!(
                "Simulate validity ({} η × {} B per mode, {} walkers)",
                options.etas, options.batches, options.walkers
            );
            let idle = self.work.is_none() && self.map.is_some();
            let button = ui
                .add_enabled(idle, egui::Button::new(label))
                .on_hover_text(
                    "Short ensemble simulations on a coarse subgrid: each simulated cell is \
                     marked by the relative error of its covariance against the theory.",
                );
            if button.clicked() {
                self.simulate();
            }
            match self.work {
                Some(Work::Simulation) => {
                    if ui.button("Cancel").clicked() {
                        self.cancel();
                    }
                    self.progress_ui(ui, "simulating");
                }
                Some(Work::Theory) => self.progress_ui(ui, "computing the theory map"),
                None => {}
            }
            if let Some(status) = &self.status {
                let colour = if status.is_error {
                    ui.visuals().error_fg_color
                } else {
                    ui.visuals().text_color()
                };
                ui.colored_label(colour, &status.text);
            }
        });
    }

    fn progress_ui(&self, ui: &mut egui::Ui, what: &str) {
        let (fraction, phase) = self
            .job
            .progress()
            .map_or((0.0, what.to_string()), |p| (p.fraction, p.phase));
        ui.add(
            egui::ProgressBar::new(fraction as f32)
                .desired_width(260.0)
                .text(format!("{phase} {:.0}%", 100.0 * fraction)),
        );
    }

    /// "Save figure…" and "Save data…" ask for a file in the app's non-blocking dialog (the
    /// desktop's, or the in-app one), proposing `figure_path` and `data_path` as names; the
    /// library writes the files atomically, and the outcome is the status line.
    fn export_ui(&mut self, ui: &mut egui::Ui) {
        if let Some((what, path)) = self.export_dialog.ui(ui.ctx()) {
            self.export_to(what, &path);
        }
        if self.map.is_none() {
            return;
        }
        let mut request = None;
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new("Export").strong());
            if ui
                .button("Save figure…")
                .on_hover_text(".svg or .png: both panels, colour bar, boundary, markers")
                .clicked()
            {
                request = Some(DialogRequest {
                    purpose: MapExport::Figure,
                    kind: DialogKind::SaveFile,
                    filter: ("figure", &["svg", "png"]),
                    file_name: Some(self.figure_path.clone()),
                });
            }
            if ui
                .button("Save data…")
                .on_hover_text(".csv (one row per cell) or .json (neqlab map --json)")
                .clicked()
            {
                request = Some(DialogRequest {
                    purpose: MapExport::Data,
                    kind: DialogKind::SaveFile,
                    filter: ("data", &["csv", "json"]),
                    file_name: Some(self.data_path.clone()),
                });
            }
        });
        if let Some(request) = request {
            self.export_dialog.request(ui.ctx(), request);
        }
    }

    /// Write the figure or the data to `path` (the format by its extension) and say so in the
    /// status line; a refused extension or a failed write is the status's error, and nothing
    /// is written.
    pub fn export_to(&mut self, what: MapExport, path: &Path) {
        let Some(map) = &self.map else {
            return;
        };
        let result = match what {
            MapExport::Figure => save_figure(map, self.quantity, &self.title, path),
            MapExport::Data => save_data(map, path),
        };
        if let Some(name) = path.file_name() {
            let name = name.to_string_lossy().into_owned();
            match what {
                MapExport::Figure => self.figure_path = name,
                MapExport::Data => self.data_path = name,
            }
        }
        self.status = Some(match result {
            Ok(text) => Status::note(text),
            Err(error) => Status::error(format!("{error:#}")),
        });
    }
}

/// The map figure coloured by `quantity`, written to `path`.
fn save_figure(
    map: &HyperMap,
    quantity: MapQuantity,
    title: &str,
    path: &Path,
) -> anyhow::Result<String> {
    let title = format!(
        "{title}: the (η, B) map, T = {}, N = {}",
        map.temperature, map.n
    );
    let figure = map_figure::map_figure(map, quantity, &title);
    let (width, height) = export::default_size(&figure);
    export::save_figure(&figure, path, width, height)
        .with_context(|| format!("{}: figure not written", path.display()))?;
    Ok(format!("wrote {}", path.display()))
}

/// The map's data (CSV or JSON by the extension), written to `path`.
fn save_data(map: &HyperMap, path: &Path) -> anyhow::Result<String> {
    map_figure::save_map_data(map, path)
        .with_context(|| format!("{}: data not written", path.display()))?;
    Ok(format!("wrote {}", path.display()))
}
