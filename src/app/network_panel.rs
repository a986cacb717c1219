//! The Network tab: the seven-weight regression network (docs/theory.md section 6) run to its
//! stationary state by [`neqlab::run::simulate_cancellable`] on a named worker thread, then
//! compared with the linear theory: the fitted curve with the stationary cloud's band, the
//! simulated covariance against the Lyapunov solution, the stochastic area against the
//! circulation `C`, and the fluctuation theorems.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};

use egui::Color32;
use egui_plot::{Bar, BarChart, HLine, Heatmap, Legend, Line, Plot, PlotPoint, Points};
use neqlab::dynamics::{Algorithm, Replacement};
use neqlab::landscape::{LandscapeSpec, RegressionNet};
use neqlab::preset::Preset;
use neqlab::run::{self, Cancelled, RunReport};

use super::Backend;

/// The shipped preset the tab starts from.
pub const NETWORK_PRESET: &str = "regression-net";

/// Points of the fitted curve.
const CURVE_POINTS: usize = 200;

/// Width of the controls column.
const CONTROLS_WIDTH: f32 = 270.0;

/// What a finished run shows.
pub struct NetResult {
    pub report: RunReport,
    pub names: Vec<String>,
    /// The data `(x_i, y_i)`.
    pub data: Vec<[f64; 2]>,
    /// `f(x)` at the minimum of `L`.
    pub curve: Vec<[f64; 2]>,
    /// Mean ± 2 std of `f(x)` over the final walker positions: `(x, low, high)`.
    pub band: Vec<[f64; 3]>,
    /// Simulated and predicted covariance, stochastic area and circulation (row-major `d × d`);
    /// empty when the run or the theory has none.
    pub cov_sim: Vec<f64>,
    pub cov_theory: Vec<f64>,
    pub area_sim: Vec<f64>,
    pub circulation: Vec<f64>,
    /// Walkers whose final position gave the band.
    pub band_walkers: usize,
}

impl NetResult {
    pub fn dim(&self) -> usize {
        self.names.len()
    }
}

/// Where the tab's run stands.
#[derive(Clone, Debug, PartialEq)]
pub enum RunStatus {
    Idle,
    Running { progress: f64 },
    Done { seconds: f64 },
    Cancelled(Cancelled),
    Failed(String),
}

/// Commands to the worker thread.
enum NetCommand {
    Run {
        preset: Box<Preset>,
        path: PathBuf,
        cancel: Arc<AtomicBool>,
    },
}

/// Messages from the worker thread.
enum NetEvent {
    Progress(f64),
    Finished(Outcome),
}

enum Outcome {
    Done(Box<NetResult>),
    Cancelled(Cancelled),
    Failed(String),
}

struct Worker {
    commands: Sender<NetCommand>,
    events: Receiver<NetEvent>,
}

pub struct NetworkPanel {
    /// The settings of the next run (the shipped preset, edited by the controls); `None` when
    /// it cannot be loaded.
    pub preset: Option<Preset>,
    pub path: PathBuf,
    /// Why the shipped preset cannot be loaded (shown instead of the controls).
    load_error: Option<String>,
    pub status: RunStatus,
    pub result: Option<Arc<NetResult>>,
    /// Run on a worker thread, or synchronously on the calling thread (tests).
    pub backend: Backend,
    worker: Option<Worker>,
    cancel: Option<Arc<AtomicBool>>,
    hover: Option<String>,
}

impl Default for NetworkPanel {
    fn default() -> Self {
        let path = PathBuf::from(format!("presets/{NETWORK_PRESET}.toml"));
        let (preset, load_error) = match neqlab::preset::shipped(NETWORK_PRESET)
            .ok_or_else(|| format!("the preset {NETWORK_PRESET} is not shipped"))
            .and_then(|text| Preset::from_toml(text, &path).map_err(|e| e.to_string()))
        {
            Ok(preset) => (Some(preset), None),
            Err(error) => (None, Some(error)),
        };
        Self {
            preset,
            path,
            load_error,
            status: RunStatus::Idle,
            result: None,
            backend: Backend::Threaded,
            worker: None,
            cancel: None,
            hover: None,
        }
    }
}

/// Run the preset and gather what the tab shows; checks `cancel` between slices.
fn analyse(
    preset: &Preset,
    path: &Path,
    progress: &mut dyn FnMut(f64),
    cancel: &AtomicBool,
) -> Outcome {
    let LandscapeSpec::RegressionNet(spec) = &preset.landscape else {
        return Outcome::Failed(format!(
            "the Network tab needs a regression-net landscape, not {}",
            preset.landscape.kind()
        ));
    };
    let base_dir = path.parent().unwrap_or(Path::new("."));
    let net = match RegressionNet::new(spec, base_dir) {
        Ok(net) => net,
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    let experiment = match preset.build(path, None) {
        Ok(e) => e,
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    let (report, ensemble) = match run::simulate_cancellable(preset, &experiment, progress, cancel)
    {
        Ok(done) => done,
        Err(cancelled) => return Outcome::Cancelled(cancelled),
    };
    let Some(theory) = report.theory.as_ref() else {
        return Outcome::Failed(format!(
            "no minimum found: {}",
            report
                .theory_error
                .clone()
                .unwrap_or_else(|| "the theory has no prediction".into())
        ));
    };
    let Some(sim) = report.sim.as_ref() else {
        return Outcome::Failed(format!(
            "every walker diverged ({} of {}): lower η",
            report.diverged_walkers, report.walkers
        ));
    };
    let data: Vec<[f64; 2]> = net.x().iter().zip(net.y()).map(|(&x, &y)| [x, y]).collect();
    let (lo, hi) = data
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p[0]), hi.max(p[0]))
        });
    let (lo, hi) = if lo < hi { (lo, hi) } else { (-1.0, 1.0) };
    let margin = 0.05 * (hi - lo);
    let xs: Vec<f64> = (0..CURVE_POINTS)
        .map(|k| lo - margin + (hi - lo + 2.0 * margin) * k as f64 / (CURVE_POINTS - 1) as f64)
        .collect();
    let curve = xs
        .iter()
        .map(|&x| [x, RegressionNet::predict(&theory.minimum, x)])
        .collect();
    let positions: Vec<&[f64]> = ensemble.active_positions().collect();
    let band = xs
        .iter()
        .map(|&x| {
            let n = positions.len().max(1) as f64;
            let values: Vec<f64> = positions
                .iter()
                .map(|w| RegressionNet::predict(w, x))
                .collect();
            let mean = values.iter().sum::<f64>() / n;
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            [x, mean - 2.0 * var.sqrt(), mean + 2.0 * var.sqrt()]
        })
        .collect();
    Outcome::Done(Box::new(NetResult {
        names: experiment.landscape.weight_names(),
        data,
        curve,
        band,
        cov_sim: sim.cov.clone(),
        cov_theory: theory.cov.clone(),
        area_sim: sim.area.clone(),
        circulation: theory.circulation.clone(),
        band_walkers: positions.len(),
        report,
    }))
}

/// `‖a − b‖_F / ‖b‖_F`.
pub fn relative_frobenius(a: &[f64], b: &[f64]) -> f64 {
    let diff: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
    let norm: f64 = b.iter().map(|y| y * y).sum();
    (diff / norm).sqrt()
}

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
    pub fn with_backend(backend: Backend) -> Self {
        Self {
            backend,
            ..Self::default()
        }
    }

    /// Start a run with the current settings (synchronously with [`Backend::Inline`]).
    pub fn start(&mut self, ctx: &egui::Context) {
        if matches!(self.status, RunStatus::Running { .. }) {
            return;
        }
        let Some(preset) = self.preset.clone() else {
            return;
        };
        let cancel = Arc::new(AtomicBool::new(false));
        match self.backend {
            Backend::Inline => {
                let outcome = analyse(&preset, &self.path, &mut |_| {}, &cancel);
                self.finish(outcome);
            }
            Backend::Threaded => {
                if self.worker.is_none() {
                    match spawn_worker(ctx.clone()) {
                        Ok(worker) => self.worker = Some(worker),
                        Err(e) => {
                            self.status =
                                RunStatus::Failed(format!("cannot start the worker thread: {e}"));
                            return;
                        }
                    }
                }
                let Some(worker) = &self.worker else {
                    return;
                };
                let command = NetCommand::Run {
                    preset: Box::new(preset),
                    path: self.path.clone(),
                    cancel: cancel.clone(),
                };
                if worker.commands.send(command).is_err() {
                    self.worker = None;
                    self.status = RunStatus::Failed("the worker thread stopped".into());
                    return;
                }
                self.cancel = Some(cancel);
                self.status = RunStatus::Running { progress: 0.0 };
            }
        }
    }

    /// Ask the running job to stop at its next slice boundary.
    pub fn cancel(&mut self) {
        if let Some(cancel) = &self.cancel {
            cancel.store(true, Ordering::Relaxed);
        }
    }

    fn finish(&mut self, outcome: Outcome) {
        self.cancel = None;
        self.status = match outcome {
            Outcome::Done(result) => {
                let seconds = result.report.seconds + result.report.theory_seconds;
                self.result = Some(Arc::from(result));
                RunStatus::Done { seconds }
            }
            Outcome::Cancelled(c) => RunStatus::Cancelled(c),
            Outcome::Failed(e) => RunStatus::Failed(e),
        };
    }

    /// Take the worker's messages.
    fn poll(&mut self) {
        let mut events = Vec::new();
        if let Some(worker) = &self.worker {
            events.extend(worker.events.try_iter());
        }
        for event in events {
            self.handle(event);
        }
    }

    fn handle(&mut self, event: NetEvent) {
        match event {
            NetEvent::Progress(p) => {
                if let RunStatus::Running { progress } = &mut self.status {
                    *progress = p;
                }
            }
            NetEvent::Finished(outcome) => self.finish(outcome),
        }
    }

    /// Block until the worker reports the end of the running job (tests).
    #[cfg(test)]
    pub fn wait(&mut self) {
        while matches!(self.status, RunStatus::Running { .. }) {
            let Some(event) = self.worker.as_ref().and_then(|w| w.events.recv().ok()) else {
                self.status = RunStatus::Failed("the worker thread stopped".into());
                return;
            };
            self.handle(event);
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.poll();
        if let Some(error) = &self.load_error {
            ui.colored_label(ui.visuals().error_fg_color, error);
            return;
        }
        let top_height = (ui.available_height() * 0.45).max(220.0);
        ui.horizontal(|ui| {
            ui.allocate_ui(egui::vec2(CONTROLS_WIDTH, top_height), |ui| {
                ui.set_min_size(egui::vec2(CONTROLS_WIDTH, top_height));
                ui.vertical(|ui| {
                    egui::ScrollArea::vertical()
                        .id_salt("network-controls")
                        .show(ui, |ui| self.controls_ui(ui));
                });
            });
            ui.separator();
            ui.vertical(|ui| self.fit_ui(ui, top_height));
        });
        ui.separator();
        let Some(result) = self.result.clone() else {
            ui.label("Press Run: the comparisons with the theory appear here when it finishes.");
            return;
        };
        let height = (ui.available_height() - 110.0).max(120.0);
        ui.columns(3, |columns| {
            self.covariance_ui(&mut columns[0], &result, height);
            self.area_ui(&mut columns[1], &result, height);
            fluctuation_ui(&mut columns[2], &result, height);
        });
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui) {
        ui.strong("Seven-weight network");
        let running = matches!(self.status, RunStatus::Running { .. });
        let Some(preset) = self.preset.as_mut() else {
            return;
        };
        ui.add_enabled_ui(!running, |ui| {
            let d = &mut preset.dynamics;
            ui.add(
                egui::Slider::new(&mut d.eta, 1e-8..=1e-3)
                    .logarithmic(true)
                    .text("η")
                    .custom_formatter(|v, _| format!("{v:.2e}")),
            );
            ui.add(egui::Slider::new(&mut d.batch, 1..=200).text("batch B"));
            ui.horizontal(|ui| {
                for algorithm in Algorithm::ALL {
                    ui.radio_value(&mut d.algorithm, algorithm, algorithm.label());
                }
            });
            let fixed = d.algorithm.fixed_replacement();
            if let Some(r) = fixed {
                d.replacement = Some(r);
            }
            ui.add_enabled_ui(fixed.is_none(), |ui| {
                ui.horizontal(|ui| {
                    ui.radio_value(&mut d.replacement, Some(Replacement::Wr), "WR");
                    ui.radio_value(&mut d.replacement, Some(Replacement::Wor), "WOR");
                });
            });
            ui.add(
                egui::Slider::new(&mut d.walkers, 1..=4096)
                    .logarithmic(true)
                    .text("walkers"),
            );
            ui.add(
                egui::Slider::new(&mut d.steps, 100..=1_000_000)
                    .logarithmic(true)
                    .text("steps"),
            );
            ui.add(
                egui::Slider::new(&mut d.burn_in, 0..=1_000_000)
                    .logarithmic(true)
                    .text("burn-in"),
            );
        });
        ui.horizontal(|ui| {
            if ui.add_enabled(!running, egui::Button::new("Run")).clicked() {
                let ctx = ui.ctx().clone();
                self.start(&ctx);
            }
            if ui
                .add_enabled(running, egui::Button::new("Cancel"))
                .clicked()
            {
                self.cancel();
            }
        });
        match &self.status {
            RunStatus::Idle => {
                ui.weak("Not run yet.");
            }
            RunStatus::Running { progress } => {
                ui.add(
                    egui::ProgressBar::new(*progress as f32)
                        .show_percentage()
                        .desired_width(CONTROLS_WIDTH - 20.0),
                );
            }
            RunStatus::Done { seconds } => {
                ui.label(format!("Done in {seconds:.1} s."));
            }
            RunStatus::Cancelled(c) => {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    format!("Cancelled after {} of {} time units.", c.done, c.total),
                );
            }
            RunStatus::Failed(e) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
        }
        if let Some(result) = &self.result {
            let r = &result.report;
            ui.separator();
            ui.weak(format!(
                "Shown: {} {} η = {:.2e}, B = {}, {} walkers × {} {}s (burn-in {})",
                r.algorithm.label(),
                r.replacement.name().to_uppercase(),
                r.eta,
                r.batch,
                r.walkers,
                r.steps,
                r.time_unit.name(),
                r.burn_in
            ));
            if r.diverged_walkers > 0 {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    format!("{} walkers diverged", r.diverged_walkers),
                );
            }
        }
    }

    fn fit_ui(&mut self, ui: &mut egui::Ui, height: f32) {
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

    fn covariance_ui(&mut self, ui: &mut egui::Ui, result: &NetResult, height: f32) {
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
        let ratios: Vec<String> = (0..d)
            .map(|a| {
                format!(
                    "{:.2}",
                    result.cov_sim[a * d + a] / result.cov_theory[a * d + a]
                )
            })
            .collect();
        ui.label(format!(
            "relative Frobenius difference {:.3}",
            relative_frobenius(&result.cov_sim, &result.cov_theory)
        ));
        ui.label(format!("diagonal sim/theory: {}", ratios.join("  ")));
    }

    fn area_ui(&mut self, ui: &mut egui::Ui, result: &NetResult, height: f32) {
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
            relative_frobenius(&result.area_sim, &result.circulation)
        ));
        let r = &result.report;
        if let (Some(sim), Some(theory)) = (&r.sim, &r.theory) {
            ui.label(format!(
                "entropy production: {:.4} ± {:.4} (theory {:.4}) per {}",
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
fn fluctuation_ui(ui: &mut egui::Ui, result: &NetResult, height: f32) {
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
                .map(|p| format!("{:.3}±{:.3}", p.mean, p.error))
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

fn spawn_worker(ctx: egui::Context) -> std::io::Result<Worker> {
    let (commands, command_rx) = channel::<NetCommand>();
    let (event_tx, events) = channel::<NetEvent>();
    std::thread::Builder::new()
        .name("network-run".into())
        .spawn(move || {
            neqlab::background::lower_priority();
            let pool = neqlab::background::thread_pool(
                "network-run",
                super::worker::background_threads(),
                neqlab::background::BACKGROUND_NICENESS,
            );
            for command in command_rx {
                match command {
                    NetCommand::Run {
                        preset,
                        path,
                        cancel,
                    } => {
                        let mut progress = |p: f64| {
                            let _ = event_tx.send(NetEvent::Progress(p));
                            ctx.request_repaint();
                        };
                        let mut run = || analyse(&preset, &path, &mut progress, &cancel);
                        let outcome = match &pool {
                            Some(pool) => pool.install(run),
                            None => run(),
                        };
                        if event_tx.send(NetEvent::Finished(outcome)).is_err() {
                            return;
                        }
                        ctx.request_repaint();
                    }
                }
            }
        })?;
    Ok(Worker { commands, events })
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
