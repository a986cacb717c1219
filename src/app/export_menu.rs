//! The Export menu: the current view as a figure (SVG or PNG), its data as CSV, the run's
//! statistics as JSON, and the preset; an existing file is replaced only after the person
//! confirms. Figures are drawn by the library (`neqlab::export`), the same code as
//! `neqlab figure`; writes are atomic there.

use std::path::{Path, PathBuf};

use serde::Serialize;

use neqlab::export::grid_panels::{GridField, view_panels};
use neqlab::export::{self, ExportError, Figure, data};
use neqlab::preset::{Experiment, Preset};
use neqlab::stats::Moments;

use super::theory_adapter::{EntropySource, Prediction, SIGMA_BINS};
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
    fn dialog(self) -> rfd::FileDialog {
        let (filter, extensions, name): (&str, &[&str], &str) = match self {
            ExportKind::Figure => ("figure", &["svg", "png"], "neqlab-figure.png"),
            ExportKind::SimulationGrid => ("CSV", &["csv"], "neqlab-simulation-grid.csv"),
            ExportKind::PredictionGrid => ("CSV", &["csv"], "neqlab-prediction-grid.csv"),
            ExportKind::EntropyHistogram => ("CSV", &["csv"], "neqlab-entropy-histogram.csv"),
            ExportKind::Statistics => ("JSON", &["json"], "neqlab-statistics.json"),
            ExportKind::Preset => ("preset", &["toml"], "neqlab-preset.toml"),
        };
        rfd::FileDialog::new()
            .add_filter(filter, extensions)
            .set_file_name(name)
    }
}

/// The state of the Export menu: a save waiting for confirmation to replace a file.
#[derive(Debug, Default)]
pub struct ExportMenu {
    pending: Option<(PathBuf, ExportKind)>,
}

impl ExportMenu {
    /// The menu entries; returns a save to carry out now.
    pub fn menu_ui(&mut self, ui: &mut egui::Ui) -> Option<(PathBuf, ExportKind)> {
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
                chosen = kind.dialog().save_file().map(|path| (path, kind));
            }
        }
        chosen.and_then(|(path, kind)| self.request(path, kind))
    }

    /// Pick a file for `kind` with a save dialog (for entries that live in other menus).
    pub fn pick(&mut self, kind: ExportKind) -> Option<(PathBuf, ExportKind)> {
        kind.dialog()
            .save_file()
            .and_then(|path| self.request(path, kind))
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
    theory_mean: Option<[f64; 2]>,
    theory_cov: Option<[f64; 4]>,
    theory_circulation: Option<[f64; 4]>,
    theory_ep_rate: Option<f64>,
    /// The prediction the app compares with: `theory_ep_rate`, or with several minima the
    /// Fokker–Planck `∫ Jᵀ D⁻¹ J / p`.
    predicted_ep_rate: Option<f64>,
    predicted_ep_source: Option<&'static str>,
    minima: Option<&'a [[f64; 2]]>,
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
            let snapshot = sources
                .snapshot
                .ok_or("No simulation to export yet: press play.")?;
            let grid = data::GridData {
                nx: snapshot.grid.nx,
                ny: snapshot.grid.ny,
                bounds: snapshot.grid.bounds,
                density: &snapshot.density,
                current: Some(&snapshot.current),
            };
            data::save_grid_csv(path, &grid)
                .map(|()| written("the simulation grid"))
                .map_err(fail)
        }
        ExportKind::PredictionGrid => {
            let prediction = sources
                .prediction
                .ok_or("No prediction yet: wait for the solve.")?;
            let (Some(density), Some(current)) = (&prediction.density, &prediction.current) else {
                return Err(prediction.fp_error.clone().unwrap_or_else(|| {
                    "This configuration has no Fokker–Planck prediction.".into()
                }));
            };
            let grid = data::GridData {
                nx: prediction.grid.nx,
                ny: prediction.grid.ny,
                bounds: prediction.grid.bounds,
                density,
                current: Some(current),
            };
            data::save_grid_csv(path, &grid)
                .map(|()| written("the prediction grid"))
                .map_err(fail)
        }
        ExportKind::EntropyHistogram => {
            let entropy = sources
                .snapshot
                .and_then(|s| s.entropy.as_ref())
                .ok_or("No entropy production yet (it needs the prediction's v and D).")?;
            let mut text = String::from("k,sigma_low,sigma_high,count\n");
            for (k, histogram) in entropy.histograms.iter().enumerate() {
                let h = entropy.half_width[k];
                let width = 2.0 * h / SIGMA_BINS as f64;
                for (i, count) in histogram.iter().enumerate() {
                    let low = -h + i as f64 * width;
                    text.push_str(&format!("{},{},{},{}\n", k + 1, low, low + width, count));
                }
            }
            export::write_file(path, text.as_bytes())
                .map(|()| written("the Σ histograms"))
                .map_err(fail)
        }
        ExportKind::Statistics => {
            let snapshot = sources
                .snapshot
                .ok_or("No simulation to export yet: press play.")?;
            let dynamics = &sources.preset.dynamics;
            let experiment = sources.experiment;
            let linear = sources.prediction.and_then(|p| p.linear.as_ref());
            let statistics = Statistics {
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
                samples: snapshot.samples,
                sim: snapshot.moments.as_ref(),
                sim_ep_rate: snapshot.entropy.as_ref().and_then(|e| e.rate),
                sim_ift: snapshot
                    .entropy
                    .as_ref()
                    .map(|e| e.exp_minus.to_vec())
                    .unwrap_or_default(),
                theory_mean: linear.map(|l| l.mean),
                theory_cov: linear.map(|l| l.covariance),
                theory_circulation: linear.map(|l| l.circulation),
                theory_ep_rate: linear.map(|l| l.ep_rate),
                predicted_ep_rate: sources.prediction.and_then(Prediction::ep_rate),
                predicted_ep_source: sources.prediction.and_then(Prediction::entropy_source).map(
                    |s| match s {
                        EntropySource::Linear => "linearised",
                        EntropySource::FokkerPlanck => "fokker-planck",
                    },
                ),
                minima: sources.prediction.map(|p| p.minima.as_slice()),
            };
            data::save_json(path, &statistics)
                .map(|()| written("the statistics"))
                .map_err(fail)
        }
    }
}

/// The simulation and prediction views as one figure, titled and captioned by the preset.
fn view_figure(sources: &ExportSources<'_>) -> Result<Figure, String> {
    let experiment = sources
        .experiment
        .ok_or("The current settings do not run; fix them before exporting.")?;
    let simulation = sources.snapshot.map(|s| GridField {
        grid: &s.grid,
        mass: &s.density,
        current: &s.current,
    });
    let prediction = sources
        .prediction
        .and_then(|p| match (&p.density, &p.current) {
            (Some(mass), Some(current)) => Some(GridField {
                grid: &p.grid,
                mass,
                current,
            }),
            _ => None,
        });
    let minima = sources
        .prediction
        .map(|p| p.minima.clone())
        .unwrap_or_default();
    let sim_gaussian = sources
        .snapshot
        .and_then(|s| s.moments.as_ref())
        .filter(|m| m.mean.len() == 2 && minima.len() <= 1)
        .map(|m| {
            (
                [m.mean[0], m.mean[1]],
                [m.cov[0], m.cov[1], m.cov[2], m.cov[3]],
            )
        });
    let theory_gaussian = sources
        .prediction
        .and_then(|p| p.linear.as_ref())
        .filter(|_| minima.len() <= 1)
        .map(|l| (l.mean, l.covariance));
    let panels = view_panels(
        experiment,
        simulation,
        prediction,
        &minima,
        sim_gaussian,
        theory_gaussian,
        1.0,
    );
    if panels.is_empty() {
        return Err("Nothing to draw yet: press play and wait for the prediction.".into());
    }
    Ok(Figure {
        title: sources.preset.title.clone(),
        caption: export::panels::caption(sources.preset, experiment),
        panels,
    })
}
