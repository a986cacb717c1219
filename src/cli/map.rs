//! `neqlab map`: the hyperparameter map of a preset (docs/theory.md section 10).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use neqlab::dynamics::Replacement;
use neqlab::export::{self, map_figure};
use neqlab::map::{
    HyperMap, MODES, MapAxes, MapContext, MapQuantity, SimulationOptions, parse_etas, simulate_map,
    theory_map_in,
};
use neqlab::preset::{Experiment, Preset};

/// Arguments of `neqlab map`.
#[derive(Args, Debug)]
pub struct MapArgs {
    /// A preset file, or the name of a shipped preset (see `neqlab presets`).
    preset: String,
    /// Learning rates `LO:HI:COUNT`, log-spaced (default: 64 from 10⁻³ to 2 times gradient
    /// descent's limit 2/λ_max).
    #[arg(long, value_name = "LO:HI:COUNT")]
    etas: Option<String>,
    /// Batch sizes, comma-separated (default: seven divisors of N spread in log B).
    #[arg(long, value_delimiter = ',', value_name = "B1,B2,..")]
    batches: Vec<usize>,
    /// Override a preset value: `--set dynamics.temperature=0.1` (values are TOML).
    #[arg(long = "set", value_name = "TABLE.KEY=VALUE")]
    overrides: Vec<String>,
    /// One JSON object on stdout instead of a table.
    #[arg(long)]
    json: bool,
    /// Draw the map: FILE.svg or FILE.png (written atomically).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Write the map's data: FILE.csv or FILE.json (written atomically).
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    /// The quantity the figure and the table show (ep_rate_per_pass, ep_rate, trace_cov,
    /// loss_excess, circulation_norm, nonequilibrium_ratio, kl_posterior, wor_shift,
    /// sim_cov_rel_error).
    #[arg(long, default_value = "ep_rate_per_pass", value_name = "QUANTITY")]
    show: String,
    /// Also simulate a coarse subgrid (8 η × 4 B per mode) and measure where the theory holds.
    #[arg(long)]
    simulate: bool,
    /// Walkers per simulated cell.
    #[arg(long, default_value_t = 512)]
    walkers: usize,
}

/// Run `neqlab map`.
pub fn map_command(args: &MapArgs) -> Result<()> {
    // Cheap checks first, so that a typo fails before any computation.
    let quantity: MapQuantity = args.show.parse()?;
    if let Some(out) = &args.out {
        export::check_figure_path(out)?;
    }
    if let Some(data) = &args.data {
        export::check_folder(data)?;
    }
    let etas = args.etas.as_deref().map(parse_etas).transpose()?;
    let (preset, experiment, path) = super::load(&args.preset, &args.overrides)?;
    let context = || format!("{}: neqlab map", path.display());
    let started = Instant::now();
    let map_context = MapContext::new(&experiment).with_context(context)?;
    let defaults = map_context.default_axes()?;
    let axes = MapAxes::new(
        etas.unwrap_or(defaults.etas),
        if args.batches.is_empty() {
            defaults.batches
        } else {
            args.batches.clone()
        },
        experiment.landscape.n_examples(),
    )?;
    let mut map = theory_map_in(&map_context, &axes).with_context(context)?;
    map.seconds = started.elapsed().as_secs_f64();
    if args.simulate {
        simulate(&mut map, &experiment, args.walkers)?;
    }
    if let Some(out) = &args.out {
        let figure = map_figure::map_figure(&map, quantity, &figure_title(&preset, &map));
        let (width, height) = export::default_size(&figure);
        export::save_figure(&figure, out, width, height)
            .with_context(|| format!("{}: figure not written", out.display()))?;
        eprintln!("wrote {}", out.display());
    }
    if let Some(data) = &args.data {
        map_figure::save_map_data(&map, data)
            .with_context(|| format!("{}: data not written", data.display()))?;
        eprintln!("wrote {}", data.display());
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&map)?);
    } else {
        print_map(&preset, &map, quantity);
    }
    Ok(())
}

fn figure_title(preset: &Preset, map: &HyperMap) -> String {
    format!(
        "{}: the (η, B) map, T = {}, N = {}",
        preset.title, map.temperature, map.n
    )
}

fn simulate(map: &mut HyperMap, experiment: &Experiment, walkers: usize) -> Result<()> {
    let bar = ProgressBar::new(1000).with_style(
        ProgressStyle::with_template(
            "{spinner} simulating cells [{bar:40}] {percent}% {msg} {elapsed}<{eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let options = SimulationOptions {
        walkers,
        ..SimulationOptions::default()
    };
    let cancel = AtomicBool::new(false);
    simulate_map(map, experiment, &options, &cancel, &mut |progress| {
        bar.set_position((progress.fraction * 1000.0) as u64);
        bar.set_message(format!("{}/{}", progress.cells_done, progress.cells_total));
    })
    .context("simulating the map")?;
    bar.finish_and_clear();
    Ok(())
}

fn format_value(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.3e}"))
}

fn print_map(preset: &Preset, map: &HyperMap, quantity: MapQuantity) {
    println!("{}", preset.title);
    println!(
        "hyperparameter map of {} (N = {}), T = {}: {} learning rates from {:.3e} to {:.3e}, \
         batch sizes {:?}; {:.3} s",
        map.landscape,
        map.n,
        map.temperature,
        map.etas.len(),
        map.etas.first().copied().unwrap_or(f64::NAN),
        map.etas.last().copied().unwrap_or(f64::NAN),
        map.batches,
        map.seconds
    );
    println!(
        "with replacement: {} per step; without: {} per epoch",
        map.algorithms.wr.label(),
        map.algorithms.wor.label()
    );
    println!("\nlinear stability boundary (spectral radius of the mean or covariance map = 1):");
    for point in &map.boundary {
        println!(
            "  B = {:>5}: eta_max = {}",
            point.batch,
            format_value(point.eta_max)
        );
    }
    let columns = [
        0,
        map.etas.len() / 4,
        map.etas.len() / 2,
        3 * map.etas.len() / 4,
    ];
    println!(
        "\n{} ({}) at a few learning rates:",
        quantity.label(),
        quantity.key()
    );
    for mode in MODES {
        print!("  {:<4} {:>6}", mode.name(), "B");
        for &e in &columns {
            print!(" {:>12}", format!("η={:.2e}", map.etas[e]));
        }
        println!();
        for (b, batch) in map.batches.iter().enumerate() {
            print!("  {:<4} {batch:>6}", "");
            for &e in &columns {
                let text = match map.cell(mode, b, e) {
                    Some(cell) if !cell.stable => "unstable".to_string(),
                    Some(cell) => format_value(quantity.value(cell)),
                    None => "-".into(),
                };
                print!(" {text:>12}");
            }
            println!();
        }
    }
    if let Some(summary) = &map.simulation {
        print_simulation(map, summary.cells, summary.seconds);
    }
}

fn print_simulation(map: &HyperMap, cells: usize, seconds: f64) {
    println!(
        "\nsimulated {cells} cells in {seconds:.1} s: relative covariance error (floor = \
         sampling noise alone)"
    );
    println!(
        "  {:<4} {:>6} {:>11} {:>10} {:>10} {:>8} {:>10}",
        "mode", "B", "eta", "error", "floor", "walkers", "tau"
    );
    for mode in [Replacement::Wr, Replacement::Wor] {
        for cell in map.mode_cells(mode) {
            if let (Some(error), Some(sim)) = (cell.sim_cov_rel_error, &cell.sim) {
                println!(
                    "  {:<4} {:>6} {:>11.3e} {:>10.4} {:>10.4} {:>8} {:>10.1}",
                    mode.name(),
                    cell.batch,
                    cell.eta,
                    error,
                    sim.cov_rel_error_floor,
                    sim.walkers,
                    sim.relaxation_units
                );
            }
        }
    }
}
