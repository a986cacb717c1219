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
    /// Override a preset value: `--set dynamics.walkers=20000` (values are TOML; the same
    /// rules as `neqlab run`).
    #[arg(long = "set", value_name = "TABLE.KEY=VALUE")]
    overrides: Vec<String>,
    /// Start the lecture: PageDown/PageUp step through the sequence `neqlab presets` prints
    /// (from PRESET's slide when it is one).
    #[arg(long)]
    lecture: bool,
}

/// What `neqlab gui` opens: the preset with its overrides, checked as `neqlab run` checks
/// them (the experiment is built once here so that bad settings fail before any window).
fn gui_opening(args: &GuiArgs) -> Result<crate::app::Opening> {
    let name = args.preset.as_deref().unwrap_or(crate::app::DEFAULT_PRESET);
    let (text, label) = preset::read_named(name)?;
    let original = Preset::from_toml(&text, &label)?;
    let (preset, _, path) = load(name, &args.overrides)?;
    Ok(crate::app::Opening {
        preset,
        original,
        path,
        lecture: args.lecture,
    })
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
        None => crate::app::run(crate::app::Opening::default_preset()?),
        Some(Command::Gui(args)) => crate::app::run(gui_opening(&args)?),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn gui_args(arguments: &[&str]) -> GuiArgs {
        let cli = Cli::try_parse_from(arguments).expect("arguments parse");
        match cli.command {
            Some(Command::Gui(args)) => args,
            _ => panic!("not the gui command"),
        }
    }

    #[test]
    fn gui_takes_overrides_with_the_rules_of_run() {
        let args = gui_args(&[
            "neqlab",
            "gui",
            "bowl-current",
            "--set",
            "dynamics.walkers=20000",
            "--lecture",
        ]);
        let opening = gui_opening(&args).expect("valid overrides");
        assert_eq!(opening.preset.dynamics.walkers, 20000);
        assert_ne!(opening.original.dynamics.walkers, 20000);
        assert!(opening.lecture);
        // The same errors as `neqlab run`: an unknown key, and a value the rules refuse.
        for bad in ["dynamics.walkerz=3", "dynamics.batch=0"] {
            let gui = gui_opening(&gui_args(&["neqlab", "gui", "bowl-current", "--set", bad]))
                .err()
                .map(|e| format!("{e:#}"));
            let run = load("bowl-current", &[bad.to_string()])
                .err()
                .map(|e| format!("{e:#}"));
            assert!(gui.is_some(), "{bad} accepted");
            assert_eq!(gui, run, "{bad}");
        }
    }
}
