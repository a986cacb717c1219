//! The Export menu: the current view as a figure (SVG or PNG), its data as CSV, the run's
//! statistics as JSON, and the preset; an existing file is replaced only after the person
//! confirms. Figures are drawn by the library (`neqlab::export`), the same code as
//! `neqlab figure`; writes are atomic there.

use std::path::{Path, PathBuf};

use serde::Serialize;

use neqlab::export::grid_panels::{DensityPanels, view_panels};
use neqlab::export::{self, ExportError, Figure, data};
use neqlab::preset::{Experiment, Preset};
use neqlab::stationary::{EntropySource, Prediction, StationaryState};
use neqlab::stats::{CurrentField, Moments};

use super::dialogs::{DialogKind, DialogRequest};
use super::worker::Snapshot;

/// What a save writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportKind {
    /// The simulation and prediction views, SVG or PNG by extension.
    Figure,
    /// The simulated density and current on the grid, CSV.
    SimulationGrid,
    /// The Fokker–Planck density and current on the grid, CSV.
    PredictionGrid,
    /// The histograms of the entropy production Σ for k = 1..5, CSV.
    EntropyHistogram,
    /// The run's statistics and the prediction's numbers, JSON.
    Statistics,
    /// The app's full state, TOML.
    Preset,
}

impl ExportKind {
    /// The save dialog for this kind: its filter and proposed file name.
    pub fn dialog(self) -> DialogRequest<ExportKind> {
        let (filter, extensions, name): (&str, &[&str], &str) = match self {
            ExportKind::Figure => ("figure", &["svg", "png"], "neqlab-figure.png"),
            ExportKind::SimulationGrid => ("CSV", &["csv"], "neqlab-simulation-grid.csv"),
            ExportKind::PredictionGrid => ("CSV", &["csv"], "neqlab-prediction-grid.csv"),
            ExportKind::EntropyHistogram => ("CSV", &["csv"], "neqlab-entropy-histogram.csv"),
            ExportKind::Statistics => ("JSON", &["json"], "neqlab-statistics.json"),
            ExportKind::Preset => ("preset", &["toml"], "neqlab-preset.toml"),
        };
        DialogRequest {
            purpose: self,
            kind: DialogKind::SaveFile,
            filter: (filter, extensions),
            file_name: Some(name.into()),
        }
    }
}

/// The state of the Export menu: a save waiting for confirmation to replace a file.
#[derive(Debug, Default)]
pub struct ExportMenu {
    pending: Option<(PathBuf, ExportKind)>,
}

impl ExportMenu {
    /// The menu entries; returns the kind of export chosen (its save dialog is to open).
    pub fn menu_ui(&mut self, ui: &mut egui::Ui) -> Option<ExportKind> {
        let entries = [
            ("Export figure… (SVG/PNG)", ExportKind::Figure),
            ("Export simulation grid… (CSV)", ExportKind::SimulationGrid),
            ("Export prediction grid… (CSV)", ExportKind::PredictionGrid),
            ("Export Σ histograms… (CSV)", ExportKind::EntropyHistogram),
            ("Export statistics… (JSON)", ExportKind::Statistics),
        ];
        let mut chosen = None;
        for (label, kind) in entries {
            if ui.button(label).clicked() {
                ui.close();
                chosen = Some(kind);
            }
        }
        chosen
    }

    /// A save to `path`: carried out now when nothing is there, else held for confirmation.
    pub fn request(&mut self, path: PathBuf, kind: ExportKind) -> Option<(PathBuf, ExportKind)> {
        if path.exists() {
            self.pending = Some((path, kind));
            None
        } else {
            Some((path, kind))
        }
    }

    /// Whether a confirmation is showing.
    #[cfg(test)]
    pub fn is_confirming(&self) -> bool {
        self.pending.is_some()
    }

    /// The "replace?" window; returns the save once confirmed.
    pub fn confirm_ui(&mut self, ctx: &egui::Context) -> Option<(PathBuf, ExportKind)> {
        let (path, _) = self.pending.as_ref()?;
        let mut answer = None;
        egui::Window::new("Replace file?")
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
            .show(ctx, |ui| {
                ui.label(format!("{} already exists. Replace it?", path.display()));
                ui.horizontal(|ui| {
                    if ui.button("Replace").clicked() {
                        answer = Some(true);
                    }
                    if ui.button("Cancel").clicked() {
                        answer = Some(false);
                    }
                });
            });
        match answer {
            Some(true) => self.pending.take(),
            Some(false) => {
                self.pending = None;
                None
            }
            None => None,
        }
    }
}

/// What the app shows, for export.
pub struct ExportSources<'a> {
    pub preset: &'a Preset,
    pub experiment: Option<&'a Experiment>,
    pub snapshot: Option<&'a Snapshot>,
    pub prediction: Option<&'a Prediction>,
    /// The magnification of the current arrows on screen.
    pub arrow_gain: f64,
}

impl ExportSources<'_> {
    fn state(&self) -> StationaryState<'_> {
        StationaryState::new(self.prediction, self.snapshot.map(|s| &s.simulated))
    }
}

/// A density and current on a grid as CSV data.
fn grid_data(field: &CurrentField) -> data::GridData<'_> {
    data::GridData {
        nx: field.grid.nx,
        ny: field.grid.ny,
        bounds: field.grid.bounds,
        density: &field.mass,
        current: Some(&field.current),
    }
}

/// The statistics written by "Export statistics…".
#[derive(Serialize)]
struct Statistics<'a> {
    title: &'a str,
    landscape: &'a str,
    algorithm: &'a str,
    replacement: &'a str,
    eta: f64,
    batch: usize,
    temperature: f64,
    seed: u64,
    time: u64,
    time_unit: &'a str,
    walkers: usize,
    diverged_walkers: usize,
    samples: u64,
    sim: Option<&'a Moments>,
    sim_ep_rate: Option<f64>,
    sim_ift: Vec<Option<f64>>,
    theory_mean: Option<&'a [f64]>,
    theory_cov: Option<&'a [f64]>,
    theory_circulation: Option<&'a [f64]>,
    theory_ep_rate: Option<f64>,
    /// The prediction the app compares with: `theory_ep_rate`, or with several minima the
    /// Fokker–Planck `∫ Jᵀ D⁻¹ J / p`.
    predicted_ep_rate: Option<f64>,
    predicted_ep_source: Option<EntropySource>,
    minima: Option<&'a [Vec<f64>]>,
    current_significant_fraction: Option<f64>,
}

/// Write what `kind` asks for to `path`; the message says what was written or why not.
pub fn export(
    sources: &ExportSources<'_>,
    kind: ExportKind,
    path: &Path,
) -> Result<String, String> {
    let written = |what: &str| format!("exported {what} to {}", path.display());
    let fail = |e: ExportError| format!("Cannot export to {}: {e}", path.display());
    match kind {
        ExportKind::Preset => {
            neqlab::preset::write_atomically(path, sources.preset.to_toml().as_bytes())
                .map(|()| written("the preset"))
                .map_err(|e| format!("Cannot save preset to {}: {e}", path.display()))
        }
        ExportKind::Figure => {
            let figure = view_figure(sources)?;
            let (width, height) = export::default_size(&figure);
            export::save_figure(&figure, path, width, height)
                .map(|()| written("the figure"))
                .map_err(fail)
        }
        ExportKind::SimulationGrid => {
            let grid = sources
                .snapshot
                .and_then(|s| s.simulated.grid.as_ref())
                .ok_or("No simulation to export yet: press play.")?;
            data::save_grid_csv(path, &grid_data(&grid.field))
                .map(|()| written("the simulation grid"))
                .map_err(fail)
        }
        ExportKind::PredictionGrid => {
            let prediction = sources
                .prediction
                .ok_or("No prediction yet: wait for the solve.")?;
            let fokker_planck = match prediction.plane.as_ref().map(|p| &p.fokker_planck) {
                Some(Ok(fokker_planck)) => fokker_planck,
                Some(Err(error)) => return Err(error.to_string()),
                None => return Err("This configuration has no Fokker–Planck prediction.".into()),
            };
            data::save_grid_csv(path, &grid_data(&fokker_planck.field))
                .map(|()| written("the prediction grid"))
                .map_err(fail)
        }
        ExportKind::EntropyHistogram => {
            let entropy = sources
                .snapshot
                .and_then(|s| s.simulated.entropy.as_ref())
                .ok_or("No entropy production yet (it needs the prediction's v and D).")?;
            let mut text = String::from("k,sigma_low,sigma_high,count\n");
            for histogram in &entropy.histograms {
                for (j, count) in histogram.counts.iter().enumerate() {
                    let low = histogram.start + j as f64 * histogram.bin_width;
                    let high = low + histogram.bin_width;
                    text.push_str(&format!("{},{low},{high},{count}\n", histogram.units));
                }
            }
            export::write_file(path, text.as_bytes())
                .map(|()| written("the Σ histograms"))
                .map_err(fail)
        }
        ExportKind::Statistics => {
            let statistics = statistics(sources)?;
            data::save_json(path, &statistics)
                .map(|()| written("the statistics"))
                .map_err(fail)
        }
    }
}

/// The statistics of the app's current model, for "Export statistics…".
fn statistics<'a>(sources: &'a ExportSources<'a>) -> Result<Statistics<'a>, String> {
    let snapshot = sources
        .snapshot
        .ok_or("No simulation to export yet: press play.")?;
    let dynamics = &sources.preset.dynamics;
    let experiment = sources.experiment;
    let linear = sources.prediction.and_then(|p| p.linear.as_ref().ok());
    let simulated = &snapshot.simulated;
    Ok(Statistics {
        title: &sources.preset.title,
        landscape: sources.preset.landscape.kind(),
        algorithm: dynamics.algorithm.name(),
        replacement: experiment.map_or("wr", |e| e.dynamics.replacement.name()),
        eta: dynamics.eta,
        batch: dynamics.batch,
        temperature: dynamics.temperature,
        seed: dynamics.seed,
        time: snapshot.time,
        time_unit: snapshot.time_unit.name(),
        walkers: snapshot.walkers,
        diverged_walkers: snapshot.diverged,
        samples: simulated.grid.as_ref().map_or(0, |g| g.samples),
        sim: simulated.moments.as_ref(),
        sim_ep_rate: simulated.entropy.as_ref().map(|e| e.stats.ep_rate),
        sim_ift: simulated
            .entropy
            .as_ref()
            .map(|e| {
                let ift = &e.stats.ift;
                ift.iter()
                    .map(|p| (p.trajectories > 0).then_some(p.mean))
                    .collect()
            })
            .unwrap_or_default(),
        theory_mean: linear.map(|l| l.mean.as_slice()),
        theory_cov: linear.map(|l| l.cov.as_slice()),
        theory_circulation: linear.map(|l| l.circulation.as_slice()),
        theory_ep_rate: linear.map(|l| l.ep_rate),
        predicted_ep_rate: sources.prediction.and_then(Prediction::ep_rate),
        predicted_ep_source: sources.prediction.and_then(Prediction::entropy_source),
        minima: sources.prediction.map(|p| p.minima.all.as_slice()),
        current_significant_fraction: sources.state().current_significant_fraction(),
    })
}

/// The simulation and prediction views as one figure, titled and captioned by the preset:
/// drawn by the library's [`view_panels`] from the app's stationary model, the function
/// `neqlab figure` uses.
fn view_figure(sources: &ExportSources<'_>) -> Result<Figure, String> {
    let experiment = sources
        .experiment
        .ok_or("The current settings do not run; fix them before exporting.")?;
    let both = DensityPanels {
        simulation: true,
        prediction: true,
    };
    let panels = view_panels(experiment, &sources.state(), both, sources.arrow_gain);
    if panels.is_empty() {
        return Err("Nothing to draw yet: press play and wait for the prediction.".into());
    }
    Ok(Figure {
        title: sources.preset.title.clone(),
        caption: export::panels::caption(sources.preset, experiment),
        panels,
    })
}
