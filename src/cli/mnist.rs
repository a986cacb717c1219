//! `neqlab mnist`: train a small network on MNIST digits, then measure entropy production in
//! its stationary state.

use std::fmt::{self, Display, Formatter};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result};

use neqlab::mnist::{DataSet, MnistPreset, MnistReport, Phase, Progress, StationaryReport};

/// Train a small network on MNIST digits, then measure entropy production in its
/// stationary state (bundled digits unless --idx is given).
#[derive(clap::Args)]
pub struct MnistArgs {
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
}

/// Progress of training on stderr.
fn report_progress(p: Progress) {
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
}

/// Load the data and the preset, run the job in this thread, print.
pub fn command(args: &MnistArgs) -> Result<()> {
    let mut settings = match &args.preset {
        Some(path) => MnistPreset::load(path)?,
        None => MnistPreset::shipped()?,
    };
    if !args.overrides.is_empty() {
        settings = settings.with_overrides(&args.overrides)?;
    }
    let data = match &args.idx {
        Some(folder) => DataSet::read_folder(folder)?,
        None => DataSet::bundled().context("decoding the bundled MNIST digits")?,
    };
    let cancel = AtomicBool::new(false);
    let report = neqlab::mnist::run(&settings.mnist, &data, &cancel, &report_progress)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).context("serialising the report")?
        );
    } else {
        print!(
            "{}",
            MnistTable {
                title: &settings.title,
                pixels: data.train.pixels_per_image(),
                report: &report,
            }
        );
    }
    Ok(())
}

/// The human-readable MNIST report.
struct MnistTable<'a> {
    title: &'a str,
    pixels: usize,
    report: &'a MnistReport,
}

impl Display for MnistTable<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let report = self.report;
        writeln!(f, "{}", self.title)?;
        writeln!(
            f,
            "{}: {} training, {} test digits; {} weights ({}-{}-10, {})",
            report.source,
            report.train_n,
            report.test_n,
            report.parameters,
            self.pixels,
            report.hidden,
            report.activation.name()
        )?;
        writeln!(
            f,
            "{} {}, eta = {:.4e} on the summed loss (eta N = {:.3} on the mean loss, N = {}), B = {}, T = {}, lambda = {}",
            report.algorithm.label(),
            report.replacement.name().to_uppercase(),
            report.eta,
            report.eta_mean_loss,
            report.train_n,
            report.batch,
            report.temperature,
            report.prior_precision
        )?;
        writeln!(
            f,
            "trained {} epochs in {:.1} s at {:.0} examples/s: test accuracy {:.2}%",
            report.train_epochs,
            report.training_seconds,
            report.examples_per_second,
            100.0 * report.trained_test_accuracy
        )?;
        for stationary in &report.stationary {
            StationaryTable(stationary).fmt(f)?;
        }
        writeln!(f, "\ntotal {:.1} s", report.seconds)
    }
}

/// One stationary phase of the MNIST report.
struct StationaryTable<'a>(&'a StationaryReport);

impl Display for StationaryTable<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let s = self.0;
        let a = &s.analysis;
        let variances: Vec<String> = s
            .principal_variances
            .iter()
            .map(|v| format!("{v:.3e}"))
            .collect();
        writeln!(
            f,
            "\n{} {}: {} snapshots, principal variances {:?}; {} {}s recorded in {:.1} s",
            s.algorithm.label(),
            s.replacement.name().to_uppercase(),
            s.snapshots,
            variances,
            s.recorded_units,
            s.time_unit,
            s.seconds
        )?;
        writeln!(
            f,
            "  test accuracy {:.2}%, train {:.2}%",
            100.0 * s.test_accuracy,
            100.0 * s.train_accuracy
        )?;
        let unit = if s.record_stride > 1 {
            format!("{} {}s", s.record_stride, s.time_unit)
        } else {
            s.time_unit.to_string()
        };
        if a.samples < 2000 {
            writeln!(
                f,
                "  only {} positions recorded: the estimates below are rough (standard errors shown)",
                a.samples
            )?;
        }
        writeln!(
            f,
            "  entropy production per {unit}: {:.4e} ± {:.1e} (formula -tr(C D^-1 C Sigma^-1): {:.4e})",
            a.ep_rate, a.ep_rate_stderr, a.ep_rate_formula
        )?;
        for (k, (value, error)) in a.ift.iter().zip(&a.ift_stderr).enumerate() {
            let effective = a.ift_effective.get(k).copied().unwrap_or(0.0);
            let verdict = if a.ift_measured(k + 1) {
                String::new()
            } else {
                format!(
                    "  (carried by {effective:.1} effective windows: too few {unit}s recorded to test the IFT at this k)"
                )
            };
            writeln!(
                f,
                "  <exp(-Sigma_{})> = {value:.4} ± {error:.4}{verdict}",
                k + 1
            )?;
        }
        writeln!(
            f,
            "  DFT slope (k = {}): {:.3} ± {:.3}",
            a.dft_k, a.dft_slope, a.dft_slope_stderr
        )?;
        if let Some(a) = &s.analysis_per_step {
            let ift: Vec<String> = a.ift.iter().map(|v| format!("{v:.4}")).collect();
            writeln!(
                f,
                "  every step ({} records): entropy production per record {:.4e} ± {:.1e}; <exp(-Sigma_k)>, k = 1..5: {}; DFT slope {:.3} ± {:.3}",
                a.samples,
                a.ep_rate,
                a.ep_rate_stderr,
                ift.join(", "),
                a.dft_slope,
                a.dft_slope_stderr
            )?;
        }
        Ok(())
    }
}
