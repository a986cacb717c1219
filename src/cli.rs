//! Command-line interface: `neqlab run | bench | presets | figure | posterior | gui`; no
//! command opens the app.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use neqlab::export::{self, PanelKind, lecture};
use neqlab::posterior::{
    PosteriorOptions, PosteriorReport, SimulationSpec, default_etas, posterior_report,
};
use neqlab::preset::{self, Experiment, Preset};
use neqlab::run::{RunReport, simulate};
use neqlab::theory::exact::{DEFAULT_PERMUTATIONS, PermutationOptions};

mod map;

#[derive(Parser)]
#[command(
    name = "neqlab",
    version,
    about = "Stochastic gradient descent in and out of equilibrium"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a preset headless and print what the walkers did.
    Run {
        /// A preset file, or the name of a shipped preset (see `neqlab presets`).
        preset: String,
        /// Override a preset value: `--set dynamics.eta=1e-3` (values are TOML).
        #[arg(long = "set", value_name = "TABLE.KEY=VALUE")]
        overrides: Vec<String>,
        /// One JSON object on stdout instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Measure walker-steps per second on all cores.
    Bench {
        #[arg(long)]
        json: bool,
        /// Walkers per measurement.
        #[arg(long, default_value_t = 1000)]
        walkers: usize,
        /// Steps per measurement.
        #[arg(long, default_value_t = 2000)]
        steps: u64,
        /// Repetitions; the median is reported.
        #[arg(long, default_value_t = 5)]
        repeats: usize,
    },
    /// List the shipped presets with their titles, the lecture sequence first and in order.
    Presets {
        /// Print only the names of the lecture's presets that have a figure, one per line
        /// (for shell loops: `for p in $(neqlab presets --figures); do ...; done`).
        #[arg(long)]
        figures: bool,
    },
    /// Run a preset headless and draw a figure for a slide (SVG or PNG, by extension).
    Figure {
        /// A preset file, or the name of a shipped preset (see `neqlab presets`).
        preset: String,
        /// The figure file: FILE.svg or FILE.png (written atomically).
        #[arg(long)]
        out: PathBuf,
        /// What to draw: sim | fp | both | landscape | ft | posterior, or auto (the panel
        /// the lecture sequence uses for this preset, see `neqlab presets`).
        #[arg(long, default_value = "auto")]
        panel: String,
        /// Width in px (default: 1800 for one panel, 1200 more per extra panel).
        #[arg(long)]
        width: Option<u32>,
        /// Height in px (default 1250).
        #[arg(long)]
        height: Option<u32>,
        /// Magnify the current arrows (default: the lecture's choice for this preset, else 1;
        /// the legend says so when it is not 1).
        #[arg(long)]
        arrow_gain: Option<f64>,
        /// Override a preset value: `--set dynamics.steps=200` (values are TOML).
        #[arg(long = "set", value_name = "TABLE.KEY=VALUE")]
        overrides: Vec<String>,
    },
    /// SGLD against SGWORLD on a posterior known exactly (quadratic landscapes, e.g. linear
    /// regression): KL divergence of each stationary state from exp(−L/T), per learning rate.
    Posterior {
        /// A preset file, or the name of a shipped preset; its landscape must be quadratic.
        preset: String,
        /// Override a preset value: `--set dynamics.batch=5` (values are TOML).
        #[arg(long = "set", value_name = "TABLE.KEY=VALUE")]
        overrides: Vec<String>,
        /// Learning rates, comma-separated (default: `[posterior] etas` of the preset, else
        /// 0.001 to 0.1 of full-batch ULA's stability limit 2/h_max).
        #[arg(long, value_delimiter = ',', value_name = "E1,E2,..")]
        etas: Vec<f64>,
        /// Random permutations averaged for SGWORLD (default: `[posterior] permutations`, else 4000).
        #[arg(long)]
        permutations: Option<usize>,
        /// Also simulate walker ensembles (`dynamics.walkers` walkers, `dynamics.steps`
        /// gradient steps recorded after a burn-in of at least ten relaxation times).
        #[arg(long)]
        simulate: bool,
        /// One JSON object on stdout instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Train a small network on MNIST digits, then measure entropy production in its
    /// stationary state (bundled digits unless --idx is given).
    Mnist {
        /// A folder with the four standard IDX files (train-images-idx3-ubyte[.gz], ...).
        #[arg(long, value_name = "DIR")]
        idx: Option<PathBuf>,
        /// An MNIST preset file (default: the shipped presets/mnist.toml).
        #[arg(long, value_name = "FILE")]
        preset: Option<PathBuf>,
        /// Override a setting: `--set mnist.eta=2e-5` (values are TOML).
        #[arg(long = "set", value_name = "mnist.KEY=VALUE")]
        overrides: Vec<String>,
        /// One JSON object on stdout instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The hyperparameter map: the stationary state over learning rate × batch size, with
    /// and without replacement, where it diverges, and (--simulate) where the theory holds.
    Map(map::MapArgs),
    /// Open the desktop app (the default when no command is given).
    Gui {
        /// A preset file, or the name of a shipped preset (default: bowl-current).
        preset: Option<String>,
    },
}

/// Parse arguments, run, and turn errors into one clear message and a non-zero exit.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        None => crate::app::run(None),
        Some(Command::Gui { preset }) => crate::app::run(preset.as_deref()),
        Some(Command::Run {
            preset,
            overrides,
            json,
        }) => run_command(&preset, &overrides, json),
        Some(Command::Bench {
            json,
            walkers,
            steps,
            repeats,
        }) => bench_command(json, walkers, steps, repeats),
        Some(Command::Posterior {
            preset,
            overrides,
            etas,
            permutations,
            simulate,
            json,
        }) => posterior_command(&preset, &overrides, etas, permutations, simulate, json),
        Some(Command::Figure {
            preset,
            out,
            panel,
            width,
            height,
            arrow_gain,
            overrides,
        }) => figure_command(
            &preset,
            &out,
            &panel,
            (width, height),
            arrow_gain,
            &overrides,
        ),
        Some(Command::Map(args)) => map::map_command(&args),
        Some(Command::Presets { figures }) => {
            presets_command(figures);
            Ok(())
        }
        Some(Command::Mnist {
            idx,
            preset,
            overrides,
            json,
        }) => mnist_command(idx.as_deref(), preset.as_deref(), &overrides, json),
    }
}

/// Load a preset by path or by shipped name, with overrides, and build it.
pub fn load(preset: &str, overrides: &[String]) -> Result<(Preset, Experiment, PathBuf)> {
    let (text, label) = preset::read_named(preset)?;
    let mut p = Preset::from_toml(&text, &label)?;
    if !overrides.is_empty() {
        p = p.with_overrides(overrides)?;
    }
    let e = p.build(&label, Some(&text))?;
    Ok((p, e, label))
}

fn run_command(preset: &str, overrides: &[String], json: bool) -> Result<()> {
    let (preset, experiment, _) = load(preset, overrides)?;
    let bar = ProgressBar::new(1000).with_style(
        ProgressStyle::with_template("{spinner} simulating [{bar:40}] {percent}% {elapsed}<{eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (report, _) = simulate(&preset, &experiment, &mut |fraction| {
        bar.set_position((fraction * 1000.0) as u64)
    });
    bar.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&preset, &experiment, &report);
    }
    Ok(())
}

fn figure_command(
    preset: &str,
    out: &Path,
    panel: &str,
    (width, height): (Option<u32>, Option<u32>),
    arrow_gain: Option<f64>,
    overrides: &[String],
) -> Result<()> {
    // Cheap checks first, so that a typo fails before a long simulation.
    let chosen: Option<PanelKind> = match panel {
        "auto" => None,
        name => Some(name.parse()?),
    };
    export::check_figure_path(out)?;
    // A side not given gets a valid default later; check the given ones now.
    export::check_figure_size(width.unwrap_or(1000), height.unwrap_or(1000))?;
    let name = Path::new(preset)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (preset, experiment, _) = load(preset, overrides)?;
    let kind = chosen.unwrap_or_else(|| lecture::default_panel(&name, &experiment));
    export::panels::check_panel_fits(&preset, &experiment, kind)?;
    let bar = ProgressBar::new(1000).with_style(
        ProgressStyle::with_template("{spinner} simulating [{bar:40}] {percent}% {elapsed}<{eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let options = export::FigureOptions {
        arrow_gain: arrow_gain.unwrap_or_else(|| lecture::default_arrow_gain(&name)),
    };
    if !(options.arrow_gain.is_finite() && options.arrow_gain > 0.0) {
        anyhow::bail!(
            "--arrow-gain {}: needs a positive number",
            options.arrow_gain
        );
    }
    let figure =
        export::preset_figure_with(&preset, &experiment, kind, &options, &mut |fraction| {
            bar.set_position((fraction * 1000.0) as u64)
        })?;
    bar.finish_and_clear();
    let (default_width, default_height) = export::default_size(&figure);
    export::save_figure(
        &figure,
        out,
        width.unwrap_or(default_width),
        height.unwrap_or(default_height),
    )
    .with_context(|| format!("{}: figure not written", out.display()))?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

/// `neqlab presets`: the lecture sequence, numbered, then any other shipped preset.
fn presets_command(figures_only: bool) {
    /// The title of a shipped preset: a landscape preset or the MNIST one.
    fn shipped_title(name: &str) -> Option<String> {
        if let Some(text) = preset::shipped(name) {
            return Some(
                Preset::from_toml(text, Path::new(name))
                    .map(|p| p.title)
                    .unwrap_or_default(),
            );
        }
        neqlab::mnist::SHIPPED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| {
                neqlab::mnist::MnistPreset::from_toml(text, Path::new(name))
                    .map(|p| format!("{}  (neqlab mnist)", p.title))
                    .unwrap_or_default()
            })
    }
    let title = |name: &str, text: &str| {
        Preset::from_toml(text, Path::new(name))
            .map(|p| p.title)
            .unwrap_or_default()
    };
    let lecture: Vec<(&lecture::LectureStep, String)> = lecture::LECTURE_SEQUENCE
        .iter()
        .filter_map(|step| shipped_title(step.preset).map(|title| (step, title)))
        .collect();
    if figures_only {
        for (step, _) in lecture.iter().filter(|(step, _)| step.panel.is_some()) {
            println!("{}", step.preset);
        }
        return;
    }
    println!("Lecture sequence (draw one with `neqlab figure NAME --out NAME.png`):");
    for (number, (step, step_title)) in lecture.iter().enumerate() {
        let panel = step
            .panel
            .map(|p| format!("[{p}]"))
            .unwrap_or_else(|| "[app]".into());
        println!(
            "{:>2}. {:<22} {:<12} {}",
            number + 1,
            step.preset,
            panel,
            step_title
        );
        println!("    {:<22} {:<12} {}", "", "", step.lesson);
    }
    let others: Vec<&(&str, &str)> = preset::SHIPPED
        .iter()
        .filter(|(name, _)| lecture::lecture_step(name).is_none())
        .collect();
    if !others.is_empty() {
        println!("\nOther shipped presets:");
        for (name, text) in others {
            println!("    {name:<22} {}", title(name, text));
        }
    }
}

fn print_report(preset: &Preset, experiment: &Experiment, report: &RunReport) {
    let names = experiment.landscape.weight_names();
    println!("{}", preset.title);
    println!(
        "{} on {} (N = {}), {} {}, eta = {}, B = {}, T = {}",
        report.algorithm.to_uppercase(),
        report.landscape,
        experiment.landscape.n_examples(),
        report.replacement.to_uppercase(),
        if report.replacement == "wor" {
            "(time in epochs)"
        } else {
            "(time in steps)"
        },
        report.eta,
        report.batch,
        report.temperature
    );
    if report.dropped_per_epoch > 0 {
        println!(
            "  B does not divide N: {} examples dropped from every epoch",
            report.dropped_per_epoch
        );
    }
    println!(
        "{} walkers x {} {}s after {} burn-in; {} diverged; {:.3e} walker-steps/s",
        report.walkers,
        report.steps,
        report.time_unit,
        report.burn_in,
        report.diverged_walkers,
        report.walker_steps_per_second
    );
    let Some(sim) = &report.sim else {
        println!("no statistics (steps = 0 or every walker diverged)");
        print_theory(&names, report);
        return;
    };
    let d = sim.mean.len();
    println!("\n{:<8} {:>14} {:>14}", "weight", "mean", "std");
    for (a, name) in names.iter().enumerate().take(d) {
        println!(
            "{:<8} {:>14.6e} {:>14.6e}",
            name,
            sim.mean[a],
            sim.cov[a * d + a].max(0.0).sqrt()
        );
    }
    print_matrix("covariance", &names, &sim.cov);
    print_matrix("stochastic area", &names, &sim.area);
    print_theory(&names, report);
    let minima = experiment.landscape.minimum_hints().len();
    if minima > 1 && report.theory.is_some() {
        println!(
            "note: the landscape has {minima} minima and the linearised theory describes only the \
             one nearest the start point: compare the covariance and area with the Fokker–Planck \
             solution; entropy production above already uses it"
        );
    }
}

/// The 2-D Fokker–Planck solve against the simulated histogram.
fn print_fokker_planck(report: &RunReport) {
    if let Some(error) = &report.fp_error {
        println!("\nFokker–Planck: {error}");
    }
    if let Some(fp) = &report.fp {
        let b = fp.bounds;
        println!(
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
        );
        match fp.tv_vs_sim {
            Some(tv) => println!(
                "total variation between the solved density and the simulated histogram: {tv:.4} \
                 ({:.2}% of samples outside the grid)",
                100.0 * fp.outside_fraction
            ),
            None => println!("no simulated histogram to compare with"),
        }
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

/// `‖a − b‖_F / ‖b‖_F`.
fn relative_frobenius(a: &[f64], b: &[f64]) -> f64 {
    let difference: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
    let norm: f64 = b.iter().map(|y| y * y).sum();
    if norm == 0.0 {
        f64::NAN
    } else {
        (difference / norm).sqrt()
    }
}

/// The linearised theory next to the simulation, with relative differences (docs/theory.md
/// sections 3, 4, 7).
fn print_theory(names: &[String], report: &RunReport) {
    print_fokker_planck(report);
    let Some(theory) = &report.theory else {
        println!(
            "\ntheory: {}",
            report
                .theory_error
                .as_deref()
                .unwrap_or("no prediction: the theory was not computed")
        );
        return;
    };
    let d = theory.dim();
    let unit = theory.time_unit.name();
    println!(
        "\nlinearised theory (per {unit}; {:.3} s{})",
        report.theory_seconds,
        theory
            .permutations
            .map(|p| format!("; D_WOR from {p} permutations"))
            .unwrap_or_default()
    );
    if let Some(note) = &report.theory_note {
        println!("note: {note}");
    }
    let eigenvalues = theory.hessian_eigenvalues();
    println!(
        "Hessian eigenvalues: {}",
        eigenvalues
            .iter()
            .map(|h| format!("{h:.4e}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let wor = theory.time_unit == neqlab::dynamics::TimeUnit::Epoch;
    let sim = report.sim.as_ref();
    println!(
        "\n{:<8} {:>14} {:>14} {:>14} {:>14} {:>14} {:>9}",
        "weight",
        "minimum of L",
        if wor { "w_eff" } else { "mean (theory)" },
        "mean (sim)",
        "std (theory)",
        "std (sim)",
        "rel.diff"
    );
    for (a, name) in names.iter().enumerate().take(d) {
        let theory_std = theory.cov[a * d + a].max(0.0).sqrt();
        let (sim_mean, sim_std) = sim
            .map(|s| (s.mean[a], s.cov[a * d + a].max(0.0).sqrt()))
            .unwrap_or((f64::NAN, f64::NAN));
        println!(
            "{:<8} {:>14.6e} {:>14.6e} {:>14.6e} {:>14.6e} {:>14.6e} {:>9.4}",
            name,
            theory.minimum[a],
            theory.mean[a],
            sim_mean,
            theory_std,
            sim_std,
            relative_difference(sim_std, theory_std)
        );
    }
    if let Some(sim) = sim
        && let (Some(to_mean), Some(to_minimum)) = (sim.distance_to_mean, sim.distance_to_minimum)
    {
        if wor {
            println!(
                "simulated mean: {to_mean:.4e} from w_eff, {to_minimum:.4e} from the minimum of L \
                 (|w_eff − minimum| = {:.4e})",
                theory
                    .mean
                    .iter()
                    .zip(&theory.minimum)
                    .map(|(x, y)| (x - y).powi(2))
                    .sum::<f64>()
                    .sqrt()
            );
        } else {
            println!("simulated mean: {to_minimum:.4e} from the minimum of L");
        }
    }
    print_matrix("diffusion D (theory)", names, &theory.diffusion);
    if let Some(sampled) = sim.and_then(|s| s.diffusion_sampled.as_ref()) {
        print_matrix(
            &format!(
                "diffusion sampled from {} one-{unit} displacements at the mean",
                neqlab::run::DIFFUSION_SAMPLES
            ),
            names,
            sampled,
        );
        let ratio: Vec<f64> = sampled
            .iter()
            .zip(&theory.diffusion)
            .map(|(s, t)| s / t)
            .collect();
        print_matrix("ratio sampled / theory", names, &ratio);
    }
    print_matrix("covariance Σ (Lyapunov)", names, &theory.cov);
    if let Some(sim) = sim {
        println!(
            "covariance: simulation vs Lyapunov, relative Frobenius difference {:.4}",
            relative_frobenius(&sim.cov, &theory.cov)
        );
    }
    print_matrix("circulation C (theory)", names, &theory.circulation);
    if let Some(sim) = sim {
        println!(
            "stochastic area: simulation vs C, relative Frobenius difference {:.4}",
            relative_frobenius(&sim.area, &theory.circulation)
        );
    }
    // With several minima σ uses the Fokker–Planck force, and its rate is the prediction.
    let fokker_planck_rate = report.fp.as_ref().and_then(|fp| fp.ep_rate);
    let predicted = match (sim.and_then(|s| s.ep_model), fokker_planck_rate) {
        (Some("fokker-planck"), Some(rate)) => {
            println!(
                "\nentropy production per {unit}: linearised theory {:.6e} (one basin); \
                 Fokker–Planck ∫ JᵀD⁻¹J/p {rate:.6e}",
                theory.ep_rate
            );
            println!("σ = D⁻¹(J/p)·Δw with the Fokker–Planck solution's force (several minima)");
            rate
        }
        _ => {
            println!(
                "\nentropy production per {unit}: theory {:.6e}",
                theory.ep_rate
            );
            theory.ep_rate
        }
    };
    if let Some(sim) = sim
        && let Some(rate) = sim.ep_rate
    {
        println!(
            "                          simulation {:.6e} ± {:.1e} (rel.diff {:.4})",
            rate,
            sim.ep_rate_error.unwrap_or(f64::NAN),
            relative_difference(rate, predicted)
        );
        if let Some(ift) = &sim.ift {
            for point in ift {
                println!(
                    "IFT <exp(-Σ)> over {} {unit}(s): {:.5} ± {:.5} ({} trajectories)",
                    point.units, point.mean, point.error, point.trajectories
                );
            }
        }
        match sim.dft_slope {
            Some(slope) => println!(
                "DFT slope of ln P(Σ)/P(-Σ) over {} {unit}s: {:.4} ± {:.4}",
                neqlab::run::DFT_UNITS,
                slope,
                sim.dft_slope_error.unwrap_or(f64::NAN)
            ),
            None => println!("DFT slope: not enough entropy production to fit"),
        }
    }
}

fn print_matrix(title: &str, names: &[String], m: &[f64]) {
    let d = names.len();
    println!("\n{title}");
    print!("{:<8}", "");
    for name in names {
        print!(" {name:>12}");
    }
    println!();
    for a in 0..d {
        print!("{:<8}", names[a]);
        for b in 0..d {
            print!(" {:>12.4e}", m[a * d + b]);
        }
        println!();
    }
}

fn bench_command(json: bool, walkers: usize, steps: u64, repeats: usize) -> Result<()> {
    use neqlab::fields::{CountField, STEPS, WALKERS};
    CountField {
        key: "--walkers",
        ..WALKERS
    }
    .check_usize(walkers)?;
    CountField {
        key: "--steps",
        ..STEPS
    }
    .check(steps)?;
    // The network has 7 weights, the most of the landscapes measured.
    neqlab::limits::simulation_demand(7, walkers, None, false)
        .renamed("dynamics.walkers", "--walkers")
        .check(&neqlab::limits::MemoryBudget::of_this_machine())?;
    let options = neqlab::bench::BenchOptions {
        walkers,
        steps,
        repeats,
    };
    let report = neqlab::bench::run(&options).context("neqlab bench")?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}

fn posterior_command(
    preset: &str,
    overrides: &[String],
    etas: Vec<f64>,
    permutations: Option<usize>,
    simulate: bool,
    json: bool,
) -> Result<()> {
    let (preset, experiment, path) = load(preset, overrides)?;
    let spec = preset.posterior.clone().unwrap_or_default();
    let etas = if etas.is_empty() { spec.etas } else { etas };
    let etas = if etas.is_empty() {
        if !json {
            println!(
                "no --etas and no [posterior] etas: using 0.001, 0.003, 0.01, 0.03, 0.1 of ULA's stability limit"
            );
        }
        default_etas(experiment.landscape.as_ref())
            .with_context(|| format!("{}: neqlab posterior", path.display()))?
    } else {
        etas
    };
    let temperature = preset.dynamics.temperature;
    if temperature <= 0.0 {
        anyhow::bail!(
            "{}: dynamics.temperature = {temperature}: the posterior exp(−L/T) needs T > 0 \
             (T = 1 samples the Bayesian posterior); try --set dynamics.temperature=1",
            path.display()
        );
    }
    let d = &preset.dynamics;
    let options = PosteriorOptions {
        permutations: PermutationOptions {
            permutations: permutations
                .or(spec.permutations)
                .unwrap_or(DEFAULT_PERMUTATIONS),
            seed: d.seed,
            ..PermutationOptions::default()
        },
        simulation: simulate.then(|| SimulationSpec {
            walkers: d.walkers,
            steps: d.steps,
            burn_in: d.burn_in,
            seed: d.seed,
            groups: d.walkers.clamp(2, 20),
        }),
    };
    let report = posterior_report(
        experiment.landscape.as_ref(),
        experiment.dynamics.batch_size,
        temperature,
        &etas,
        &options,
    )
    .with_context(|| format!("{}: neqlab posterior", path.display()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_posterior(&preset, &experiment, &report, simulate);
    }
    Ok(())
}

fn format_kl(value: Option<f64>) -> String {
    value.map_or_else(|| "unstable".to_string(), |v| format!("{v:.4e}"))
}

fn print_posterior(
    preset: &Preset,
    experiment: &Experiment,
    report: &PosteriorReport,
    simulate: bool,
) {
    let names = experiment.landscape.weight_names();
    println!("{}", preset.title);
    println!(
        "KL divergence of stationary states from exp(-L/T) = N(mu, T H^-1): {} (N = {}), B = {}, T = {}",
        report.landscape, report.n, report.batch, report.temperature
    );
    let d = report.posterior.mean.len();
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(2);
    for (a, name) in names.iter().enumerate().take(d) {
        println!(
            "  posterior {name:<width$}  mean {:>13.6e}  std {:>11.4e}",
            report.posterior.mean[a],
            report.posterior.cov[a * d + a].max(0.0).sqrt()
        );
    }
    println!(
        "  SGWORLD: epoch map averaged over {} random permutations, sampled at epoch boundaries; spread = jackknife standard error",
        report.permutations
    );
    if report.dropped_per_epoch > 0 {
        println!(
            "  B does not divide N: the last {} examples of every SGWORLD permutation are dropped",
            report.dropped_per_epoch
        );
    }
    println!(
        "  full-batch ULA is stable for eta < {:.4e}",
        report.ula_eta_limit
    );
    print!(
        "\n{:>11} {:>12} {:>12} {:>10} {:>12} {:>10}",
        "eta", "KL SGLD", "KL SGWORLD", "spread", "KL ULA", "SGLD/SGW"
    );
    if simulate {
        print!(" {:>22} {:>22}", "KL SGLD sim", "KL SGWORLD sim");
    }
    println!();
    for row in &report.rows {
        let ratio = match (row.kl_sgld, row.kl_sgworld) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.1}", a / b),
            _ => "-".into(),
        };
        print!(
            "{:>11.3e} {:>12} {:>12} {:>10} {:>12} {:>10}",
            row.eta,
            format_kl(row.kl_sgld),
            format_kl(row.kl_sgworld),
            row.sgworld_spread
                .map_or("-".into(), |v| format!("{v:.1e}")),
            format_kl(row.kl_ula),
            ratio
        );
        if simulate {
            let sim = |v: Option<f64>, se: Option<f64>| match (v, se) {
                (Some(v), Some(se)) => format!("{v:.4e} ± {se:.1e}"),
                _ => "-".into(),
            };
            print!(
                " {:>22} {:>22}",
                sim(row.kl_sgld_sim, row.kl_sgld_sim_se),
                sim(row.kl_sgworld_sim, row.kl_sgworld_sim_se)
            );
        }
        println!();
    }
    if simulate {
        println!(
            "  simulated KLs (Gaussian fits, ± jackknife over walker groups) are biased upward by about (d + d(d+1)/2) / (2 n_eff) from finite samples"
        );
    }
    for row in &report.rows {
        for note in &row.notes {
            println!("  eta = {:.3e}: {note}", row.eta);
        }
    }
}

/// `neqlab mnist`: load the data and the preset, run the job in this thread, print.
fn mnist_command(
    idx: Option<&Path>,
    preset: Option<&Path>,
    overrides: &[String],
    json: bool,
) -> Result<()> {
    use neqlab::mnist::{DataSet, MnistPreset, Phase, Progress};
    use std::sync::atomic::AtomicBool;
    let mut settings = match preset {
        Some(path) => MnistPreset::load(path)?,
        None => MnistPreset::shipped()?,
    };
    if !overrides.is_empty() {
        settings = settings.with_overrides(overrides)?;
    }
    let data = match idx {
        Some(folder) => DataSet::read_folder(folder)?,
        None => DataSet::bundled().context("decoding the bundled MNIST digits")?,
    };
    let config = settings.mnist;
    let progress = |p: Progress| {
        if p.phase == Phase::Training || p.epoch == p.epochs {
            eprintln!(
                "{:<10} {:>3} epoch {:>3}/{:<3} loss {:.4}  train {:.2}%  test {:.2}%  {:.0} examples/s",
                format!("{:?}", p.phase).to_lowercase(),
                p.replacement.name().to_uppercase(),
                p.epoch,
                p.epochs,
                p.loss,
                100.0 * p.train_accuracy,
                100.0 * p.test_accuracy,
                p.examples_per_second
            );
        }
    };
    let cancel = AtomicBool::new(false);
    let report = neqlab::mnist::run(&config, &data, &cancel, &progress)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).context("serialising the report")?
        );
        return Ok(());
    }
    println!("{}", settings.title);
    println!(
        "{}: {} training, {} test digits; {} weights ({}-{}-10, {})",
        report.source,
        report.train_n,
        report.test_n,
        report.parameters,
        data.train.pixels_per_image(),
        report.hidden,
        report.activation.name()
    );
    println!(
        "{} {}, eta = {:e} (eta N = {:.3} on the mean loss), B = {}, T = {}, lambda = {}",
        report.algorithm.label(),
        report.replacement.name().to_uppercase(),
        report.eta,
        report.eta_mean_loss,
        report.batch,
        report.temperature,
        report.prior_precision
    );
    println!(
        "trained {} epochs in {:.1} s at {:.0} examples/s: test accuracy {:.2}%",
        report.train_epochs,
        report.training_seconds,
        report.examples_per_second,
        100.0 * report.trained_test_accuracy
    );
    for s in &report.stationary {
        let a = &s.analysis;
        println!(
            "\n{} {}: {} snapshots, principal variances {:?}; {} {}s recorded in {:.1} s",
            s.algorithm.label(),
            s.replacement.name().to_uppercase(),
            s.snapshots,
            s.principal_variances
                .iter()
                .map(|v| format!("{v:.3e}"))
                .collect::<Vec<_>>(),
            s.recorded_units,
            s.time_unit,
            s.seconds
        );
        println!(
            "  test accuracy {:.2}%, train {:.2}%",
            100.0 * s.test_accuracy,
            100.0 * s.train_accuracy
        );
        let unit = if s.record_stride > 1 {
            format!("{} {}s", s.record_stride, s.time_unit)
        } else {
            s.time_unit.to_string()
        };
        if a.samples < 2000 {
            println!(
                "  only {} positions recorded: the estimates below are rough (standard errors shown)",
                a.samples
            );
        }
        println!(
            "  entropy production per {unit}: {:.4e} ± {:.1e} (formula -tr(C D^-1 C Sigma^-1): {:.4e})",
            a.ep_rate, a.ep_rate_stderr, a.ep_rate_formula
        );
        for (k, (value, error)) in a.ift.iter().zip(&a.ift_stderr).enumerate() {
            let effective = a.ift_effective.get(k).copied().unwrap_or(0.0);
            let verdict = if a.ift_measured(k + 1) {
                String::new()
            } else {
                format!(
                    "  (carried by {effective:.1} effective windows: too few {unit}s recorded to test the IFT at this k)"
                )
            };
            println!(
                "  <exp(-Sigma_{})> = {value:.4} ± {error:.4}{verdict}",
                k + 1
            );
        }
        println!(
            "  DFT slope (k = {}): {:.3} ± {:.3}",
            a.dft_k, a.dft_slope, a.dft_slope_stderr
        );
        if let Some(a) = &s.analysis_per_step {
            println!(
                "  every step ({} records): entropy production per record {:.4e} ± {:.1e}; <exp(-Sigma_k)>, k = 1..5: {}; DFT slope {:.3} ± {:.3}",
                a.samples,
                a.ep_rate,
                a.ep_rate_stderr,
                a.ift
                    .iter()
                    .map(|v| format!("{v:.4}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                a.dft_slope,
                a.dft_slope_stderr
            );
        }
    }
    println!("\ntotal {:.1} s", report.seconds);
    Ok(())
}
