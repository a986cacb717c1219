//! Command-line interface: `neqlab run | bench | presets | figure | posterior | mnist | map | gui`;
//! no command opens the app.
//!
//! One module per command: its `clap` arguments (`…Args`), its `command` function and its
//! printer (a `Display` type). A new command is a new module, a variant of [`Command`] and an
//! arm of [`dispatch`].

mod bench;
mod figure;
mod map;
mod mnist;
mod posterior;
mod presets;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use neqlab::preset::{self, Experiment, Preset};

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
    Run(run::RunArgs),
    /// Measure walker-steps per second on all cores.
    Bench(bench::BenchArgs),
    /// List the shipped presets with their titles, the lecture sequence first and in order.
    Presets(presets::PresetsArgs),
    /// Run a preset headless and draw a figure for a slide (SVG or PNG, by extension).
    Figure(figure::FigureArgs),
    /// SGLD against SGWORLD on a posterior known exactly (quadratic landscapes, e.g. linear
    /// regression): KL divergence of each stationary state from exp(−L/T), per learning rate.
    Posterior(posterior::PosteriorArgs),
    /// Train a small network on MNIST digits, then measure entropy production in its
    /// stationary state (bundled digits unless --idx is given).
    Mnist(mnist::MnistArgs),
    /// The hyperparameter map: the stationary state over learning rate × batch size, with
    /// and without replacement, where it diverges, and (--simulate) where the theory holds.
    Map(map::MapArgs),
    /// Open the desktop app (the default when no command is given).
    Gui(GuiArgs),
}

/// `neqlab gui`.
#[derive(clap::Args)]
struct GuiArgs {
    /// A preset file, or the name of a shipped preset (default: bowl-current).
    preset: Option<String>,
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
        Some(Command::Gui(args)) => crate::app::run(args.preset.as_deref()),
        Some(Command::Run(args)) => run::command(&args),
        Some(Command::Bench(args)) => bench::command(&args),
        Some(Command::Presets(args)) => {
            presets::command(&args);
            Ok(())
        }
        Some(Command::Figure(args)) => figure::command(&args),
        Some(Command::Posterior(args)) => posterior::command(&args),
        Some(Command::Mnist(args)) => mnist::command(&args),
        Some(Command::Map(args)) => map::map_command(&args),
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

/// A progress bar on stderr from 0 to 1000 (per mille), labelled `what`.
fn progress_bar(what: &str) -> ProgressBar {
    let template = format!("{{spinner}} {what} [{{bar:40}}] {{percent}}% {{elapsed}}<{{eta}}");
    ProgressBar::new(1000).with_style(
        ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    )
}
