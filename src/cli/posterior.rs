//! `neqlab posterior`: SGLD against SGWORLD on a posterior known exactly.

use std::fmt::{self, Display, Formatter};
use std::path::Path;

use anyhow::{Context, Result};

use neqlab::posterior::{
    PosteriorOptions, PosteriorReport, SimulationSpec, default_etas, posterior_report,
};
use neqlab::preset::{Experiment, Preset};
use neqlab::theory::exact::{DEFAULT_PERMUTATIONS, PermutationOptions};

/// SGLD against SGWORLD on a posterior known exactly (quadratic landscapes, e.g. linear
/// regression): KL divergence of each stationary state from exp(−L/T), per learning rate.
#[derive(clap::Args)]
pub struct PosteriorArgs {
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
}

/// The learning rates to compare: `--etas`, else the preset's, else the defaults.
fn etas(
    args: &PosteriorArgs,
    preset: &Preset,
    experiment: &Experiment,
    path: &Path,
) -> Result<Vec<f64>> {
    if !args.etas.is_empty() {
        return Ok(args.etas.clone());
    }
    let spec = preset.posterior.clone().unwrap_or_default();
    if !spec.etas.is_empty() {
        return Ok(spec.etas);
    }
    if !args.json {
        println!(
            "no --etas and no [posterior] etas: using 0.001, 0.003, 0.01, 0.03, 0.1 of ULA's stability limit"
        );
    }
    default_etas(experiment.landscape.as_ref())
        .with_context(|| format!("{}: neqlab posterior", path.display()))
}

/// Compute and print.
pub fn command(args: &PosteriorArgs) -> Result<()> {
    let (preset, experiment, path) = super::load(&args.preset, &args.overrides)?;
    let etas = etas(args, &preset, &experiment, &path)?;
    let temperature = preset.dynamics.temperature;
    if temperature <= 0.0 {
        anyhow::bail!(
            "{}: dynamics.temperature = {temperature}: the posterior exp(−L/T) needs T > 0 \
             (T = 1 samples the Bayesian posterior); try --set dynamics.temperature=1",
            path.display()
        );
    }
    let d = &preset.dynamics;
    let spec = preset.posterior.clone().unwrap_or_default();
    let options = PosteriorOptions {
        permutations: PermutationOptions {
            permutations: args
                .permutations
                .or(spec.permutations)
                .unwrap_or(DEFAULT_PERMUTATIONS),
            seed: d.seed,
            ..PermutationOptions::default()
        },
        simulation: args.simulate.then(|| SimulationSpec {
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
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let names = experiment.landscape.weight_names();
        print!(
            "{}",
            PosteriorTable {
                title: &preset.title,
                names: &names,
                report: &report,
                simulated: args.simulate,
            }
        );
    }
    Ok(())
}

fn format_kl(value: Option<f64>) -> String {
    value.map_or_else(|| "unstable".to_string(), |v| format!("{v:.4e}"))
}

/// The human-readable posterior comparison.
struct PosteriorTable<'a> {
    title: &'a str,
    names: &'a [String],
    report: &'a PosteriorReport,
    simulated: bool,
}

impl Display for PosteriorTable<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.header(f)?;
        self.rows(f)?;
        if self.simulated {
            writeln!(
                f,
                "  simulated KLs (Gaussian fits, ± jackknife over walker groups) are biased upward by about (d + d(d+1)/2) / (2 n_eff) from finite samples"
            )?;
        }
        for row in &self.report.rows {
            for note in &row.notes {
                writeln!(f, "  eta = {:.3e}: {note}", row.eta)?;
            }
        }
        Ok(())
    }
}

impl PosteriorTable<'_> {
    fn header(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let report = self.report;
        writeln!(f, "{}", self.title)?;
        writeln!(
            f,
            "KL divergence of stationary states from exp(-L/T) = N(mu, T H^-1): {} (N = {}), B = {}, T = {}",
            report.landscape, report.n, report.batch, report.temperature
        )?;
        let d = report.posterior.mean.len();
        let width = self
            .names
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(2);
        for (a, name) in self.names.iter().enumerate().take(d) {
            writeln!(
                f,
                "  posterior {name:<width$}  mean {:>13.6e}  std {:>11.4e}",
                report.posterior.mean[a],
                report.posterior.cov[a * d + a].max(0.0).sqrt()
            )?;
        }
        writeln!(
            f,
            "  SGWORLD: epoch map averaged over {} random permutations, sampled at epoch boundaries; spread = jackknife standard error",
            report.permutations
        )?;
        if report.dropped_per_epoch > 0 {
            writeln!(
                f,
                "  B does not divide N: the last {} examples of every SGWORLD permutation are dropped",
                report.dropped_per_epoch
            )?;
        }
        writeln!(
            f,
            "  full-batch ULA is stable for eta < {:.4e}",
            report.ula_eta_limit
        )
    }

    fn rows(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\n{:>11} {:>12} {:>12} {:>10} {:>12} {:>10}",
            "eta", "KL SGLD", "KL SGWORLD", "spread", "KL ULA", "SGLD/SGW"
        )?;
        if self.simulated {
            write!(f, " {:>22} {:>22}", "KL SGLD sim", "KL SGWORLD sim")?;
        }
        writeln!(f)?;
        for row in &self.report.rows {
            let ratio = match (row.kl_sgld, row.kl_sgworld) {
                (Some(a), Some(b)) if b > 0.0 => format!("{:.1}", a / b),
                _ => "-".into(),
            };
            write!(
                f,
                "{:>11.3e} {:>12} {:>12} {:>10} {:>12} {:>10}",
                row.eta,
                format_kl(row.kl_sgld),
                format_kl(row.kl_sgworld),
                row.sgworld_spread
                    .map_or("-".into(), |v| format!("{v:.1e}")),
                format_kl(row.kl_ula),
                ratio
            )?;
            if self.simulated {
                let sim = |v: Option<f64>, se: Option<f64>| match (v, se) {
                    (Some(v), Some(se)) => format!("{v:.4e} ± {se:.1e}"),
                    _ => "-".into(),
                };
                write!(
                    f,
                    " {:>22} {:>22}",
                    sim(row.kl_sgld_sim, row.kl_sgld_sim_se),
                    sim(row.kl_sgworld_sim, row.kl_sgworld_sim_se)
                )?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
