//! Figures (SVG/PNG) and data (CSV/JSON) for lectures and papers.
//!
//! - [`colormap`]: the perceptually uniform colour map shared with the app.
//! - [`figure`]: figures as plain data ([`Figure`], [`Panel`]).
//! - [`render`]: their rendering to SVG and PNG (plotters).
//! - [`panels`]: a preset run headless and turned into a figure (`neqlab figure`).
//! - [`grid_panels`]: the simulated and Fokker–Planck densities and currents on a grid.
//! - [`data`]: CSV of grids and histograms, JSON of run reports.
//! - [`lecture`]: the lecture sequence of shipped presets and the panel each one shows.
//!
//! Every file is written atomically: into a temporary file in the target folder, then
//! renamed, so a failed export never leaves a half-written file behind.

pub mod colormap;
pub mod data;
pub mod figure;
pub mod grid_panels;
pub mod lecture;
pub mod map_figure;
pub mod panels;
pub mod render;

use std::path::{Path, PathBuf};

pub use figure::{
    Arrow, ArrowField, Contours, Ellipse, Figure, Heatmap, LineSeries, Marker, Panel, PointSet,
    palette,
};
pub use panels::{FigureOptions, PanelKind, preset_figure, preset_figure_with};
pub use render::{default_size, render_png, render_rgb, render_svg, render_svg_sized};

/// Everything that can go wrong while exporting.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The file system refused a write.
    #[error("{path}: cannot write: {source}")]
    Io {
        /// The file written.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A folder that does not exist.
    #[error("{path}: the folder {folder} does not exist")]
    MissingFolder {
        /// The file asked for.
        path: PathBuf,
        /// Its missing folder.
        folder: PathBuf,
    },
    /// An extension that is neither .svg nor .png.
    #[error("{path}: unknown figure format \"{extension}\"; use .svg or .png")]
    UnknownExtension {
        /// The file asked for.
        path: PathBuf,
        /// Its extension.
        extension: String,
    },
    /// A `--panel` name that is not known.
    #[error("unknown panel \"{0}\"; choose one of sim, fp, both, landscape, ft, posterior")]
    UnknownPanel(String),
    /// The panel does not apply to this preset (e.g. `posterior` for the double well).
    #[error("panel {panel} does not fit preset \"{preset}\": {reason}")]
    PanelDoesNotFit {
        /// The panel asked for.
        panel: String,
        /// The preset's title.
        preset: String,
        /// Why it does not fit.
        reason: String,
    },
    /// A figure size out of range.
    #[error("figure size {width}×{height} px: {reason}")]
    Size {
        /// Width in px.
        width: u32,
        /// Height in px.
        height: u32,
        /// What is wrong with it.
        reason: String,
    },
    /// A theory computation the panel needs failed.
    #[error("{0}")]
    Theory(String),
    /// plotters failed to draw.
    #[error("cannot draw the figure: {0}")]
    Render(String),
    /// Data could not be written as text.
    #[error("cannot serialise: {0}")]
    Serialise(String),
}

/// The image formats a figure can be saved in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FigureFormat {
    /// Scalable vector graphics.
    Svg,
    /// Portable network graphics.
    Png,
}

/// The format named by `path`'s extension, after checking that its folder exists; call it
/// before any long computation so that a bad path fails at once.
pub fn check_figure_path(path: &Path) -> Result<FigureFormat, ExportError> {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let format = match extension.as_str() {
        "svg" => FigureFormat::Svg,
        "png" => FigureFormat::Png,
        _ => {
            return Err(ExportError::UnknownExtension {
                path: path.to_path_buf(),
                extension,
            });
        }
    };
    check_folder(path)?;
    Ok(format)
}

/// Fail with [`ExportError::MissingFolder`] unless `path`'s parent folder exists.
pub fn check_folder(path: &Path) -> Result<(), ExportError> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !folder.is_dir() {
        return Err(ExportError::MissingFolder {
            path: path.to_path_buf(),
            folder,
        });
    }
    Ok(())
}

/// Write `contents` to `path` atomically ([`crate::files::write_atomically`]: temporary file,
/// fsync, rename), mapping errors.
pub fn write_file(path: &Path, contents: &[u8]) -> Result<(), ExportError> {
    check_folder(path)?;
    crate::files::write_atomically(path, contents).map_err(|source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Encode RGB pixels (`width × height × 3`, row-major) as PNG bytes.
pub fn encode_png(pixels: &[u8], width: u32, height: u32) -> Result<Vec<u8>, ExportError> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .and_then(|mut writer| writer.write_image_data(pixels))
        .map_err(|e| ExportError::Render(format!("cannot encode the PNG: {e}")))?;
    Ok(bytes)
}

/// Fail with [`ExportError::Size`] unless both sides are within `200..=MAX_FIGURE_SIDE` px;
/// call it before any long computation.
pub fn check_figure_size(width: u32, height: u32) -> Result<(), ExportError> {
    if !(200..=MAX_FIGURE_SIDE).contains(&width) || !(200..=MAX_FIGURE_SIDE).contains(&height) {
        return Err(ExportError::Size {
            width,
            height,
            reason: format!("each side must be between 200 and {MAX_FIGURE_SIDE} px"),
        });
    }
    Ok(())
}

/// Largest accepted side of a figure, in px.
pub const MAX_FIGURE_SIDE: u32 = 16_384;

/// Save `figure` as SVG or PNG, chosen by `path`'s extension, at `width × height` px
/// ([`default_size`] gives a good default). Nothing is left at `path` (or beside it) if
/// drawing or writing fails.
pub fn save_figure(
    figure: &Figure,
    path: &Path,
    width: u32,
    height: u32,
) -> Result<(), ExportError> {
    let format = check_figure_path(path)?;
    check_figure_size(width, height)?;
    match format {
        FigureFormat::Svg => {
            let text = render_svg_sized(figure, width, height)?;
            write_file(path, text.as_bytes())
        }
        FigureFormat::Png => {
            // The pixels are drawn and encoded in memory, so the file is written by the one
            // atomic save like every other.
            crate::limits::figure_demand(width, height)
                .check(&crate::limits::MemoryBudget::of_this_machine())
                .map_err(|limit| ExportError::Size {
                    width,
                    height,
                    reason: limit.to_string(),
                })?;
            let pixels = render_rgb(figure, width, height)?;
            write_file(path, &encode_png(&pixels, width, height)?)
        }
    }
}
