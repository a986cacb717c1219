//! `neqlab figure`: run a preset headless and draw a figure for a slide.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use neqlab::export::{self, PanelKind, lecture};

/// Run a preset headless and draw a figure for a slide (SVG or PNG, by extension).
#[derive(clap::Args)]
pub struct FigureArgs {
    /// A preset file, or the name of a shipped preset (see `neqlab presets`).
    preset: String,
    /// The figure file: FILE.svg or FILE.png (written atomically).
    #[arg(long)]
    out: PathBuf,
    /// What to draw: sim | fp | both | landscape | ft | posterior, or auto (the panel
    /// the lecture sequence uses for this preset, see `neqlab presets`).
    #[arg(long, default_value = "auto")]
    panel: String,
    /// Width in px (default: 1800 for one panel, 1200 more per extra panel; less, down to
    /// 1600, when the panels draw two weights on one scale and need less).
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
}

/// Check the request, run, draw, write.
pub fn command(args: &FigureArgs) -> Result<()> {
    // Cheap checks first, so that a typo fails before a long simulation.
    let chosen: Option<PanelKind> = match args.panel.as_str() {
        "auto" => None,
        name => Some(name.parse()?),
    };
    export::check_figure_path(&args.out)?;
    // A side not given gets a valid default later; check the given ones now.
    export::check_figure_size(args.width.unwrap_or(1000), args.height.unwrap_or(1000))?;
    let name = Path::new(&args.preset)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let options = export::FigureOptions {
        arrow_gain: args
            .arrow_gain
            .unwrap_or_else(|| lecture::default_arrow_gain(&name)),
    };
    if !(options.arrow_gain.is_finite() && options.arrow_gain > 0.0) {
        anyhow::bail!(
            "--arrow-gain {}: needs a positive number",
            options.arrow_gain
        );
    }
    let (preset, experiment, _) = super::load(&args.preset, &args.overrides)?;
    let kind = chosen.unwrap_or_else(|| lecture::default_panel(&name, &experiment));
    export::panels::check_panel_fits(&preset, &experiment, kind)?;
    let bar = super::progress_bar("simulating");
    let figure =
        export::preset_figure_with(&preset, &experiment, kind, &options, &mut |fraction| {
            bar.set_position((fraction * 1000.0) as u64)
        })?;
    bar.finish_and_clear();
    let (default_width, default_height) = export::default_size(&figure);
    let out = &args.out;
    export::save_figure(
        &figure,
        out,
        args.width.unwrap_or(default_width),
        args.height.unwrap_or(default_height),
    )
    .with_context(|| format!("{}: figure not written", out.display()))?;
    eprintln!("wrote {}", out.display());
    Ok(())
}
