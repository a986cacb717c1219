//! `neqlab run`: run a preset headless and print the report, as a table ([`RunTable`]) or as
//! JSON.

use std::fmt::{self, Display, Formatter};

use anyhow::Result;

use neqlab::preset::{Experiment, Preset};
use neqlab::run::{DFT_UNITS, DIFFUSION_SAMPLES, RunReport, SimReport, simulate};
use neqlab::stationary::EntropySource;
use neqlab::theory::linear::LinearTheory;

/// Run a preset headless and print what the walkers did.
#[derive(clap::Args)]
pub struct RunArgs {
    /// A preset file, or the name of a shipped preset (see `neqlab presets`).
    preset: String,
    /// Override a preset value: `--set dynamics.eta=1e-3` (values are TOML).
    #[arg(long = "set", value_name = "TABLE.KEY=VALUE")]
    overrides: Vec<String>,
    /// One JSON object on stdout instead of a table.
    #[arg(long)]
    json: bool,
}

/// Load, simulate, print.
pub fn command(args: &RunArgs) -> Result<()> {
    let (preset, experiment, _) = super::load(&args.preset, &args.overrides)?;
    let bar = super::progress_bar("simulating");
    let (report, _) = simulate(&preset, &experiment, &mut |fraction| {
        bar.set_position((fraction * 1000.0) as u64)
    });
    bar.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!(
            "{}",
            RunTable {
                preset: &preset,
                experiment: &experiment,
                report: &report,
            }
        );
    }
    Ok(())
}

/// The human-readable report of a run: what ran, the simulated moments, and the theory next to
/// them with relative differences (docs/theory.md §3, §4, §7, §8).
pub struct RunTable<'a> {
    /// The preset run.
    pub preset: &'a Preset,
    /// Its experiment (weight names, `N`).
    pub experiment: &'a Experiment,
    /// The report.
    pub report: &'a RunReport,
}

impl Display for RunTable<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let names = self.experiment.landscape.weight_names();
        self.header(f)?;
        match &self.report.sim {
            None => writeln!(f, "no statistics (steps = 0 or every walker diverged)")?,
            Some(sim) => {
                stationarity(f, self.report, sim)?;
                simulated(f, &names, sim)?;
            }
        }
        fokker_planck(f, self.report)?;
        match &self.report.theory {
            None => writeln!(
                f,
                "\ntheory: {}",
                self.report
                    .theory_error
                    .as_deref()
                    .unwrap_or("no prediction: the theory was not computed")
            )?,
            Some(theory) => Comparison {
                names: &names,
                report: self.report,
                theory,
            }
            .fmt(f)?,
        }
        for flag in &self.report.validity {
            writeln!(f, "validity: {flag}")?;
        }
        Ok(())
    }
}

impl RunTable<'_> {
    fn header(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let report = self.report;
        writeln!(f, "{}", self.preset.title)?;
        writeln!(
            f,
            "{} on {} (N = {}), {} (time in {}s), eta = {}, B = {}, T = {}",
            report.algorithm.label(),
            report.landscape,
            self.experiment.landscape.n_examples(),
            report.replacement.name().to_uppercase(),
            report.time_unit.name(),
            report.eta,
            report.batch,
            report.temperature
        )?;
        if report.dropped_per_epoch > 0 {
            writeln!(
                f,
                "  B does not divide N: {} examples dropped from every epoch",
                report.dropped_per_epoch
            )?;
        }
        writeln!(
            f,
            "{} walkers x {} {}s after {} burn-in; {} diverged; {:.3e} walker-steps/s",
            report.walkers,
            report.steps,
            report.time_unit.name(),
            report.burn_in,
            report.diverged_walkers,
            report.walker_steps_per_second
        )
    }
}

/// The mark on a comparison with the prediction when the run is not stationary.
const NOT_STATIONARY: &str = " [not stationary]";

/// `NOT_STATIONARY` when the report's run did not reach its stationary state.
fn mark(report: &RunReport) -> &'static str {
    match report.sim.as_ref().is_some_and(|s| !s.stationary) {
        true => NOT_STATIONARY,
        false => "",
    }
}

/// Three decimals, or three significant figures with an exponent below 0.01.
fn short(x: f64) -> String {
    if x == 0.0 || x.abs() >= 0.01 {
        format!("{x:.3}")
    } else {
        format!("{x:.2e}")
    }
}

/// The relaxation times, the length of the run in them, the occupations of the wells and the
/// verdict, in words (docs/theory.md §9).
fn stationarity(f: &mut Formatter<'_>, report: &RunReport, sim: &SimReport) -> fmt::Result {
    let unit = report.time_unit.name();
    let fp = report.fp.as_ref().and_then(|fp| fp.relaxation_time);
    let linear = report.theory.as_ref().and_then(|t| t.relaxation_time);
    let mut times = Vec::new();
    if let Some(tau) = fp {
        times.push(format!("Fokker–Planck {tau:.4e}"));
    }
    if let Some(tau) = linear {
        times.push(format!("linearised {tau:.4e}"));
    }
    writeln!(f)?;
    if !times.is_empty() {
        writeln!(f, "relaxation time ({unit}s): {}", times.join(", "))?;
    }
    if let (Some(burn_in), Some(recorded)) =
        (sim.burn_in_relaxation_times, sim.relaxation_times_recorded)
    {
        writeln!(
            f,
            "start: {}; burn-in {} and recorded length {} relaxation times",
            report.start.name(),
            short(burn_in),
            short(recorded)
        )?;
    }
    if let Some(reason) = &report.start_error {
        writeln!(f, "start: {reason}")?;
    }
    if !sim.occupations.is_empty() {
        writeln!(
            f,
            "{:<22} {:>10} {:>10} {:>10} {:>8}",
            "walkers in the well at", "simulated", "predicted", "± error", "errors"
        )?;
        for o in &sim.occupations {
            writeln!(
                f,
                "({:>9.4}, {:>9.4})   {:>9.2}% {:>9.2}% {:>9.2}% {:>8.1}",
                o.minimum[0],
                o.minimum[1],
                100.0 * o.simulated,
                100.0 * o.predicted,
                100.0 * o.error,
                o.deviation_in_errors()
            )?;
        }
    }
    if sim.stationary {
        writeln!(f, "stationary: yes")
    } else {
        writeln!(
            f,
            "NOT STATIONARY: the walkers have not reached the stationary state, so the \
             comparisons with the prediction below (total variation, moments, entropy \
             production) do not compare stationary states."
        )?;
        for reason in &sim.not_stationary_because {
            writeln!(f, "  - {reason}")?;
        }
        Ok(())
    }
}

/// The simulated means, standard deviations, covariance and stochastic area.
fn simulated(f: &mut Formatter<'_>, names: &[String], sim: &SimReport) -> fmt::Result {
    let d = sim.mean.len();
    writeln!(f, "\n{:<8} {:>14} {:>14}", "weight", "mean", "std")?;
    for (a, name) in names.iter().enumerate().take(d) {
        writeln!(
            f,
            "{:<8} {:>14.6e} {:>14.6e}",
            name,
            sim.mean[a],
            sim.cov[a * d + a].max(0.0).sqrt()
        )?;
    }
    Matrix("covariance", names, &sim.cov).fmt(f)?;
    Matrix("stochastic area", names, &sim.area).fmt(f)?;
    if let Some(fraction) = sim.current_significant_fraction {
        writeln!(
            f,
            "current above 2 standard errors in {:.1}% of the cells of the 2σ region",
            100.0 * fraction
        )?;
    }
    Ok(())
}

/// The 2-D Fokker–Planck solve against the simulated histogram.
fn fokker_planck(f: &mut Formatter<'_>, report: &RunReport) -> fmt::Result {
    if let Some(error) = &report.fp_error {
        writeln!(f, "\nFokker–Planck: {error}")?;
    }
    let Some(fp) = &report.fp else {
        return Ok(());
    };
    let b = fp.bounds;
    writeln!(
        f,
        "\nFokker–Planck: {}×{} grid over [{:.4e}, {:.4e}] × [{:.4e}, {:.4e}], solved in {:.3} s; \
         smallest cell mass {:.2e} ({} negative cells)",
        fp.grid[0],
        fp.grid[1],
        b[0],
        b[1],
        b[2],
        b[3],
        fp.solve_seconds,
        fp.min_density,
        fp.negative_cells
    )?;
    match fp.tv_vs_sim {
        Some(tv) => writeln!(
            f,
            "total variation between the solved density and the simulated histogram: {tv:.4}{} \
             ({:.2}% of samples outside the grid)",
            mark(report),
            100.0 * fp.outside_fraction
        ),
        None => writeln!(f, "no simulated histogram to compare with"),
    }
}

/// A `d × d` matrix, row-major, with its title and weight names.
struct Matrix<'a>(&'a str, &'a [String], &'a [f64]);

impl Display for Matrix<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let Matrix(title, names, m) = *self;
        let d = names.len();
        writeln!(f, "\n{title}")?;
        write!(f, "{:<8}", "")?;
        for name in names {
            write!(f, " {name:>12}")?;
        }
        writeln!(f)?;
        for (a, name) in names.iter().enumerate() {
            write!(f, "{name:<8}")?;
            for b in 0..d {
                write!(
                    f,
                    " {:>12.4e}",
                    m.get(a * d + b).copied().unwrap_or(f64::NAN)
                )?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// `‖a − b‖_F / ‖b‖_F`, or NaN when `b` is zero.
fn relative_frobenius(a: &[f64], b: &[f64]) -> f64 {
    let difference: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
    let norm: f64 = b.iter().map(|y| y * y).sum();
    if norm == 0.0 {
        f64::NAN
    } else {
        (difference / norm).sqrt()
    }
}

/// `|a − b| / |b|`, or NaN when `b` is zero.
fn relative_difference(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        f64::NAN
    } else {
        (a - b).abs() / b.abs()
    }
}

/// The linearised theory next to the simulation (docs/theory.md §3.1, §4.4, §7).
struct Comparison<'a> {
    names: &'a [String],
    report: &'a RunReport,
    theory: &'a LinearTheory,
}

impl Display for Comparison<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let (theory, report) = (self.theory, self.report);
        writeln!(
            f,
            "\nlinearised theory (per {}; {:.3} s{})",
            theory.time_unit.name(),
            report.theory_seconds,
            theory
                .permutations
                .map(|p| format!("; D_WOR from {p} permutations"))
                .unwrap_or_default()
        )?;
        if let Some(note) = &report.theory_note {
            writeln!(f, "note: {note}")?;
        }
        let eigenvalues: Vec<String> = theory
            .hessian_eigenvalues()
            .iter()
            .map(|h| format!("{h:.4e}"))
            .collect();
        writeln!(f, "Hessian eigenvalues: {}", eigenvalues.join(", "))?;
        writeln!(
            f,
            "nonequilibrium ratio |HΣ − ΣH| / |HΣ + ΣH| = {:.3e}",
            theory.nonequilibrium_ratio
        )?;
        self.moments(f)?;
        self.matrices(f)?;
        self.entropy(f)
    }
}

impl Comparison<'_> {
    fn wor(&self) -> bool {
        self.theory.time_unit == neqlab::dynamics::TimeUnit::Epoch
    }

    /// Minimum, predicted and simulated mean and standard deviation per weight.
    fn moments(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let (theory, sim) = (self.theory, self.report.sim.as_ref());
        let d = theory.dim();
        writeln!(
            f,
            "\n{:<8} {:>14} {:>14} {:>14} {:>14} {:>14} {:>9}",
            "weight",
            "minimum of L",
            if self.wor() { "w_eff" } else { "mean (theory)" },
            "mean (sim)",
            "std (theory)",
            "std (sim)",
            "rel.diff"
        )?;
        for (a, name) in self.names.iter().enumerate().take(d) {
            let theory_std = theory.cov[a * d + a].max(0.0).sqrt();
            let (sim_mean, sim_std) = sim
                .map(|s| (s.mean[a], s.cov[a * d + a].max(0.0).sqrt()))
                .unwrap_or((f64::NAN, f64::NAN));
            writeln!(
                f,
                "{:<8} {:>14.6e} {:>14.6e} {:>14.6e} {:>14.6e} {:>14.6e} {:>9.4}",
                name,
                theory.minimum[a],
                theory.mean[a],
                sim_mean,
                theory_std,
                sim_std,
                relative_difference(sim_std, theory_std)
            )?;
        }
        let Some((to_mean, to_minimum)) =
            sim.and_then(|s| s.distance_to_mean.zip(s.distance_to_minimum))
        else {
            return Ok(());
        };
        if self.wor() {
            let shift: f64 = theory
                .mean
                .iter()
                .zip(&theory.minimum)
                .map(|(x, y)| (x - y).powi(2))
                .sum::<f64>()
                .sqrt();
            writeln!(
                f,
                "simulated mean: {to_mean:.4e} from w_eff, {to_minimum:.4e} from the minimum of L \
                 (|w_eff − minimum| = {shift:.4e})"
            )
        } else {
            writeln!(f, "simulated mean: {to_minimum:.4e} from the minimum of L")
        }
    }

    /// Diffusion (predicted and sampled), covariance and circulation.
    fn matrices(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let (theory, names, sim) = (self.theory, self.names, self.report.sim.as_ref());
        Matrix("diffusion D (theory)", names, &theory.diffusion).fmt(f)?;
        if let Some(sampled) = sim.and_then(|s| s.diffusion_sampled.as_ref()) {
            let title = format!(
                "diffusion sampled from {DIFFUSION_SAMPLES} one-{} displacements at the mean",
                theory.time_unit.name()
            );
            Matrix(&title, names, sampled).fmt(f)?;
            let ratio: Vec<f64> = sampled
                .iter()
                .zip(&theory.diffusion)
                .map(|(s, t)| s / t)
                .collect();
            Matrix("ratio sampled / theory", names, &ratio).fmt(f)?;
        }
        let pairs = [
            (
                "covariance Σ (Lyapunov)",
                "covariance",
                "Lyapunov",
                &theory.cov,
            ),
            (
                "circulation C (theory)",
                "stochastic area",
                "C",
                &theory.circulation,
            ),
        ];
        for (title, measured, predicted, matrix) in pairs {
            Matrix(title, names, matrix).fmt(f)?;
            let Some(sim) = sim else { continue };
            let simulated = if measured == "covariance" {
                &sim.cov
            } else {
                &sim.area
            };
            writeln!(
                f,
                "{measured}: simulation vs {predicted}, relative Frobenius difference {:.4}",
                relative_frobenius(simulated, matrix)
            )?;
        }
        Ok(())
    }

    /// Entropy production predicted and simulated, and the fluctuation theorems.
    fn entropy(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let (theory, report) = (self.theory, self.report);
        let unit = theory.time_unit.name();
        let sim = report.sim.as_ref();
        // With several minima σ uses the Fokker–Planck force, and its rate is the prediction.
        let fokker_planck_rate = report.fp.as_ref().and_then(|fp| fp.ep_rate);
        let predicted = match (sim.and_then(|s| s.ep_model), fokker_planck_rate) {
            (Some(EntropySource::FokkerPlanck), Some(rate)) => {
                writeln!(
                    f,
                    "\nentropy production per {unit}: linearised theory {:.6e} (one basin); \
                     Fokker–Planck ∫ JᵀD⁻¹J/p {rate:.6e}",
                    theory.ep_rate
                )?;
                writeln!(
                    f,
                    "σ = D⁻¹(J/p)·Δw with the Fokker–Planck solution's force (several minima)"
                )?;
                rate
            }
            _ => {
                writeln!(
                    f,
                    "\nentropy production per {unit}: theory {:.6e}",
                    theory.ep_rate
                )?;
                theory.ep_rate
            }
        };
        let Some((sim, rate)) = sim.and_then(|s| s.ep_rate.map(|r| (s, r))) else {
            return Ok(());
        };
        writeln!(
            f,
            "                          simulation {:.6e} ± {:.1e} (rel.diff {:.4}){}",
            rate,
            sim.ep_rate_error.unwrap_or(f64::NAN),
            relative_difference(rate, predicted),
            mark(report)
        )?;
        for point in sim.ift.iter().flatten() {
            writeln!(
                f,
                "IFT <exp(-Σ)> over {} {unit}(s): {:.5} ± {:.5} ({} trajectories)",
                point.units, point.mean, point.error, point.trajectories
            )?;
        }
        match sim.dft_slope {
            Some(slope) => writeln!(
                f,
                "DFT slope of ln P(Σ)/P(-Σ) over {DFT_UNITS} {unit}s: {:.4} ± {:.4}",
                slope,
                sim.dft_slope_error.unwrap_or(f64::NAN)
            ),
            None => writeln!(f, "DFT slope: not enough entropy production to fit"),
        }
    }
}
