//! The app's side of the pipeline (docs/theory.md §11, ARCHITECTURE.md): the preset becomes
//! an experiment and a configuration for the simulation thread, controls' edits decide
//! whether walkers restart, and snapshots and predictions come back from the simulation and
//! solver threads, tagged with the generation they belong to.

use std::sync::Arc;
use std::time::{Duration, Instant};

use neqlab::preset::Preset;
use neqlab::stationary::{Prediction, provisional_grid};

use super::NeqlabApp;
use super::solver::SolveRequest;
use super::worker::{Command, SimConfig};

/// How long the controls must rest before a new prediction is solved.
pub const DEBOUNCE: Duration = Duration::from_millis(150);

impl NeqlabApp {
    /// Rebuild the experiment from the preset; on success start a new generation.
    pub(super) fn reconfigure(&mut self) {
        let experiment = match self.preset.build(&self.preset_path, None) {
            Ok(e) => e,
            Err(e) => {
                self.config_error = Some(e.to_string());
                return;
            }
        };
        if experiment.landscape.dim() != 2 {
            self.config_error = Some(format!(
                "{}: the {} landscape has {} weights; the 2-D views need exactly 2",
                self.preset_path.display(),
                experiment.landscape.kind(),
                experiment.landscape.dim()
            ));
            return;
        }
        self.config_error = None;
        // A provisional grid for the histogram: the last one while the landscape and the grid
        // settings stay, else the with-replacement theory's (cheap); the prediction then
        // places the final grid (see `poll`).
        let key = (self.preset.landscape.clone(), self.preset.fp.clone());
        let grid = match self.grid {
            Some(grid) if self.grid_key.as_ref() == Some(&key) => grid,
            _ => provisional_grid(&experiment, &self.preset.fp),
        };
        self.grid_key = Some(key);
        if self.grid != Some(grid) {
            self.reset_views = true;
        }
        self.generation += 1;
        self.grid = Some(grid);
        let d = &self.preset.dynamics;
        self.simulation.send(Command::Configure(Box::new(SimConfig {
            generation: self.generation,
            experiment: experiment.clone(),
            grid,
            walkers: d.walkers,
            seed: d.seed,
            burn_in: d.burn_in,
            trails: self.preset.view.trails,
            prediction: None,
        })));
        if self.playing {
            self.simulation.send(Command::Play);
        }
        self.experiment = Some(experiment);
        let now = Instant::now();
        self.changed_at = Some(now);
        self.solve_due = Some(now + self.debounce);
    }

    pub(super) fn set_playing(&mut self, playing: bool) {
        self.playing = playing;
        self.simulation.send(if playing {
            Command::Play
        } else {
            Command::Pause
        });
    }

    /// Apply edits made by the controls: view-only edits keep the walkers.
    pub(super) fn apply_edit(&mut self, edited: Preset) {
        if edited == self.preset {
            return;
        }
        let mut without_view = edited.clone();
        without_view.view = self.preset.view.clone();
        let needs_new_walkers = without_view != self.preset;
        let speed_changed = edited.view.units_per_frame != self.preset.view.units_per_frame;
        let trails_changed = edited.view.trails != self.preset.view.trails;
        self.preset = edited;
        if speed_changed {
            self.simulation
                .send(Command::SetSpeed(self.preset.view.units_per_frame));
        }
        if needs_new_walkers || trails_changed {
            self.reconfigure();
        }
    }

    /// Receive snapshots and predictions; send a solve when the controls have settled.
    pub(super) fn poll(&mut self, ctx: &egui::Context) {
        if let Some(snapshot) = self.simulation.latest() {
            // Never show walkers of an earlier configuration.
            if snapshot.generation == self.generation {
                self.playing =
                    snapshot.playing || (self.playing && snapshot.diverged < snapshot.walkers);
                self.snapshot = Some(snapshot);
            }
        }
        if let Some(failure) = self.simulation.failure() {
            let failure = failure.to_string();
            self.notify(failure, true);
        }
        if let Some(due) = self.solve_due
            && Instant::now() >= due
            && let (Some(experiment), Some(grid)) = (&self.experiment, self.grid)
        {
            let mut fp = self.preset.fp.clone();
            fp.grid = grid.nx;
            let request = SolveRequest {
                generation: self.generation,
                experiment: experiment.clone(),
                fp,
            };
            self.solve_due = None;
            self.solver.request(request);
            self.solving = Some(self.generation);
        }
        if let Some(result) = self.solver.take() {
            if self.solving == Some(result.generation) {
                self.solving = None;
            }
            match result.outcome {
                Ok(prediction) => {
                    self.solve_error = None;
                    self.take_prediction(result.generation, prediction);
                }
                Err(e) => {
                    if result.generation == self.generation {
                        self.solve_error = Some(e);
                        self.prediction = None;
                    }
                }
            }
        }
        if self.solve_due.is_some() || self.solving.is_some() {
            ctx.request_repaint_after(Duration::from_millis(30));
        }
    }

    /// A prediction has arrived: the histogram moves to its grid and measures entropy
    /// production with its model (when it is of the current generation), and the views show
    /// it.
    fn take_prediction(&mut self, generation: u64, prediction: Arc<Prediction>) {
        // A solve of an earlier configuration that finishes after a newer prediction arrived
        // (or was restored with its slide) would only hide it.
        if generation < self.prediction_generation {
            return;
        }
        let grid = prediction.grid();
        if generation == self.generation {
            if grid.is_some() && self.grid != grid {
                self.grid = grid;
                self.reset_views = true;
            }
            self.simulation.send(Command::SetPrediction {
                generation,
                prediction: prediction.clone(),
            });
            self.prediction_latency = self.changed_at.map(|t| t.elapsed());
            if self.frame_log.is_some()
                && let Some(latency) = self.prediction_latency
            {
                eprintln!(
                    "prediction for generation {generation} arrived {:.0} ms after the change (solve {:.0} ms)",
                    latency.as_secs_f64() * 1e3,
                    prediction.seconds * 1e3
                );
            }
        }
        if self.prediction.as_ref().and_then(|p| p.grid()) != grid {
            self.reset_views = true;
        }
        self.prediction = Some(prediction);
        self.prediction_generation = generation;
    }

    /// New walkers, fresh statistics (on the newest prediction's grid and entropy model).
    pub(super) fn reset(&mut self) {
        self.simulation.send(Command::Reset);
    }

    /// Show again the prediction a lecture slide was left with, for the configuration just
    /// made from the same settings: the simulation resumes with it, so it is neither solved
    /// anew nor sent to the worker.
    pub(super) fn restore_prediction(&mut self, prediction: Arc<Prediction>) {
        self.solve_due = None;
        if let Some(grid) = prediction.grid() {
            self.grid = Some(grid);
        }
        self.reset_views = true;
        self.prediction_latency = None;
        self.prediction = Some(prediction);
        self.prediction_generation = self.generation;
    }
}
