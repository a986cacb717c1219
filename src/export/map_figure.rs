//! The hyperparameter map as a figure (docs/theory.md section 10): with and without
//! replacement side by side, one colour scale (`log₁₀` of the quantity shown), unstable
//! cells greyed, the boundary `η_max(B)` drawn, and, once simulated, each simulated cell
//! marked by how well the theory held. Built from [`Figure`] types only, so it renders and
//! saves like every other figure ([`super::save_figure`]); the data go out as CSV and JSON
//! through [`super::write_file`].

use std::path::Path;

use super::colormap::ColourMap;
use super::figure::{Figure, Heatmap, LineSeries, Marker, Panel, PointSet, Rgb, palette};
use super::{ExportError, write_file};
use crate::map::quantity::MapQuantity;
use crate::map::{HyperMap, MODES, MapCell};

/// Widest span of the colour scale in decades: smaller values share the bottom colour (an
/// equilibrium's rate of 10⁻³⁰ would otherwise flatten the rest).
pub const COLOUR_DECADES: f64 = 8.0;

/// Fill of the cells where the dynamics diverge.
pub const UNSTABLE_GREY: Rgb = [110, 110, 110];
/// Fill of the stable cells where the linear theory has no prediction.
pub const NO_PREDICTION_GREY: Rgb = [205, 205, 205];
/// Horizontal lines across the map's height that fill a greyed cell: strokes are 3 px per
/// 1000 px of figure height and the map about 660 px of it, so 400 lines overlap at any size.
const FILL_LINES: f64 = 400.0;

/// A simulated covariance within this relative error counts as "theory holds".
pub const HOLDS_BELOW: f64 = 0.1;
/// Above this relative error the theory "breaks".
pub const BREAKS_ABOVE: f64 = 0.3;

/// Band edges of increasing axis values in `log₁₀`: geometric midpoints between
/// neighbours, the outer edges half a step beyond the ends (the app's Map tab draws its
/// cells on the same edges).
pub fn band_edges(values: &[f64]) -> Vec<f64> {
    let logs: Vec<f64> = values.iter().map(|v| v.log10()).collect();
    let half = |a: f64, b: f64| 0.5 * (a + b);
    let mut edges = Vec::with_capacity(logs.len() + 1);
    match logs.len() {
        0 => return vec![0.0, 1.0],
        1 => return vec![logs[0] - 0.5, logs[0] + 0.5],
        _ => {}
    }
    edges.push(logs[0] - 0.5 * (logs[1] - logs[0]));
    for pair in logs.windows(2) {
        edges.push(half(pair[0], pair[1]));
    }
    let last = logs.len() - 1;
    edges.push(logs[last] + 0.5 * (logs[last] - logs[last - 1]));
    edges
}

/// Fine cells of a regular grid over `edges` (uniform in `log₁₀`): the band of each fine
/// cell's centre. Uniformly spaced bands map one to one.
fn raster(edges: &[f64]) -> (usize, Vec<usize>) {
    let bands = edges.len() - 1;
    let span = edges[bands] - edges[0];
    let uniform = edges
        .windows(2)
        .all(|w| ((w[1] - w[0]) * bands as f64 - span).abs() <= 1e-9 * span.abs());
    let cells = if uniform { bands } else { 240.max(bands) };
    let band_of = (0..cells)
        .map(|k| {
            let centre = edges[0] + (k as f64 + 0.5) * span / cells as f64;
            edges[1..]
                .iter()
                .position(|&e| centre < e)
                .unwrap_or(bands - 1)
        })
        .collect();
    (cells, band_of)
}

/// The colour range shared by both panels: `[max − COLOUR_DECADES, max]` or tighter, in
/// `log₁₀`; `None` when no cell has a positive value (the app's Map tab uses the same
/// scale).
pub fn shared_range(map: &HyperMap, quantity: MapQuantity) -> Option<[f64; 2]> {
    let logs = map
        .cells
        .iter()
        .filter_map(|c| quantity.value(c))
        .filter(|v| *v > 0.0)
        .map(f64::log10);
    let (low, high) = logs.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
        (l.min(v), h.max(v))
    });
    if !high.is_finite() {
        return None;
    }
    let low = low.max(high - COLOUR_DECADES);
    Some(if high > low {
        [low, high]
    } else {
        [low - 0.5, high + 0.5]
    })
}

/// Horizontal lines `pitch` apart across `[x0, x1] × [y0, y1]`, each its own series: drawn
/// with a stroke wider than the pitch they fill the rectangle. (Separate straight strokes:
/// the bitmap backend fills one self-overlapping thick polyline with gaps, and draws thick
/// diagonal strokes with anti-aliased seams.)
fn fill_lines(x0: f64, x1: f64, y0: f64, y1: f64, pitch: f64) -> Vec<[[f64; 2]; 2]> {
    let count = ((y1 - y0) / pitch).ceil().max(1.0) as usize;
    (0..=count)
        .map(|k| {
            let y = (y0 + k as f64 * pitch).min(y1);
            [[x0, y], [x1, y]]
        })
        .collect()
}

/// The figure of `map` coloured by `quantity`; `title` and `caption` head it (the preset's
/// title, for example).
pub fn map_figure(map: &HyperMap, quantity: MapQuantity, title: &str) -> Figure {
    let x_edges = band_edges(&map.etas);
    let y_edges = band_edges(&map.batches.iter().map(|&b| b as f64).collect::<Vec<_>>());
    let bounds = [
        x_edges[0],
        x_edges[x_edges.len() - 1],
        y_edges[0],
        y_edges[y_edges.len() - 1],
    ];
    let range = shared_range(map, quantity);
    let panels = MODES
        .iter()
        .map(|&mode| mode_panel(map, mode, quantity, range, &x_edges, &y_edges, bounds))
        .collect();
    let simulated = map.cells.iter().any(|c| c.sim_cov_rel_error.is_some());
    let batches: Vec<String> = map.batches.iter().map(|b| b.to_string()).collect();
    let mut caption = format!(
        "Colour: log₁₀ of the {} (one scale for both panels{}). Rows: B = {}. Dark grey: \
         the linearised mean or covariance map has spectral radius ≥ 1 (the walkers \
         diverge), right of the white line η_max(B). Light grey: stable, but no value of this \
         quantity (no prediction; for the simulated error, not simulated).",
        quantity.label(),
        if matches!(quantity, MapQuantity::EpRatePerPass) {
            "; per pass over the N examples, so the modes compare"
        } else {
            ""
        },
        batches.join(", ")
    );
    if simulated {
        caption.push_str(&format!(
            " Markers on the simulated cells: green dot, the simulated covariance is within \
             {:.0}% of the prediction (the theory holds); orange dot, within {:.0}%; red \
             cross, further off (the theory breaks).",
            100.0 * HOLDS_BELOW,
            100.0 * BREAKS_ABOVE
        ));
    }
    Figure {
        title: title.to_string(),
        caption,
        panels,
    }
}

fn mode_panel(
    map: &HyperMap,
    mode: crate::dynamics::Replacement,
    quantity: MapQuantity,
    range: Option<[f64; 2]>,
    x_edges: &[f64],
    y_edges: &[f64],
    bounds: [f64; 4],
) -> Panel {
    let cells = map.mode_cells(mode);
    let (nx, x_band) = raster(x_edges);
    let (ny, y_band) = raster(y_edges);
    let ne = map.etas.len();
    let floor = range.map_or(0.0, |r| r[0]);
    let values = (0..ny)
        .flat_map(|iy| (0..nx).map(move |ix| (ix, iy)))
        .map(|(ix, iy)| {
            let cell = &cells[y_band[iy] * ne + x_band[ix]];
            match quantity.value(cell) {
                Some(v) if v > 0.0 => v.log10().max(floor),
                Some(_) => floor,
                None => f64::NAN,
            }
        })
        .collect();
    let algorithm = match mode {
        crate::dynamics::Replacement::Wr => map.algorithms.wr,
        crate::dynamics::Replacement::Wor => map.algorithms.wor,
    };
    let mut panel = Panel {
        title: format!(
            "{} {} (time in {}s)",
            algorithm.label(),
            match mode {
                crate::dynamics::Replacement::Wr => "with replacement",
                crate::dynamics::Replacement::Wor => "without replacement",
            },
            mode.time_unit().name()
        ),
        x_label: "log₁₀ learning rate η".into(),
        y_label: "log₁₀ batch size B".into(),
        bounds,
        heatmap: Some(Heatmap {
            nx,
            ny,
            bounds,
            values,
            label: format!("log₁₀ {}", quantity.label()),
            range,
            colour_map: ColourMap::Density,
        }),
        ..Panel::default()
    };
    panel.lines = overlay_lines(map, cells, quantity, x_edges, y_edges);
    panel.points = validity_markers(map, cells);
    panel
}

/// Grey fill over unstable cells, hatching over stable cells without a prediction, and the
/// boundary `η_max(B)` as a step line.
fn overlay_lines(
    map: &HyperMap,
    cells: &[MapCell],
    quantity: MapQuantity,
    x_edges: &[f64],
    y_edges: &[f64],
) -> Vec<LineSeries> {
    let ne = map.etas.len();
    let pitch = (y_edges[y_edges.len() - 1] - y_edges[0]) / FILL_LINES;
    let mut lines = Vec::new();
    for (b, row) in cells.chunks(ne).enumerate() {
        let (y0, y1) = (y_edges[b], y_edges[b + 1]);
        let mut e = 0;
        while e < ne {
            let kind = cell_kind(&row[e], quantity);
            let start = e;
            while e < ne && cell_kind(&row[e], quantity) == kind {
                e += 1;
            }
            let (x0, x1) = (x_edges[start], x_edges[e]);
            let color = match kind {
                CellKind::Unstable => UNSTABLE_GREY,
                CellKind::NoPrediction => NO_PREDICTION_GREY,
                CellKind::Predicted => continue,
            };
            lines.extend(
                fill_lines(x0, x1, y0, y1, pitch)
                    .into_iter()
                    .map(|segment| LineSeries {
                        points: segment.to_vec(),
                        color,
                        dashed: false,
                        markers: false,
                        label: String::new(),
                    }),
            );
        }
    }
    let mut boundary = Vec::new();
    for (b, point) in map.boundary.iter().enumerate() {
        if let Some(eta) = point.eta_max {
            let x = eta.log10().clamp(x_edges[0], x_edges[x_edges.len() - 1]);
            boundary.push([x, y_edges[b]]);
            boundary.push([x, y_edges[b + 1]]);
        }
    }
    if !boundary.is_empty() {
        lines.push(LineSeries {
            points: boundary,
            color: palette::WHITE,
            dashed: false,
            markers: false,
            label: String::new(),
        });
    }
    lines
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CellKind {
    Predicted,
    NoPrediction,
    Unstable,
}

/// Whether the cell is unstable, or stable without a value of `quantity` (no prediction, or
/// for the simulated error: not simulated), or coloured.
fn cell_kind(cell: &MapCell, quantity: MapQuantity) -> CellKind {
    match (cell.stable, quantity.value(cell).is_some()) {
        (false, _) => CellKind::Unstable,
        (true, false) => CellKind::NoPrediction,
        (true, true) => CellKind::Predicted,
    }
}

/// Markers on the simulated cells, in three classes of relative covariance error.
fn validity_markers(map: &HyperMap, cells: &[MapCell]) -> Vec<PointSet> {
    let ne = map.etas.len();
    // No legend: it would hide the top right of the map; the caption explains the markers.
    let classes = [
        (0.0, HOLDS_BELOW, palette::GREEN, Marker::Dot),
        (HOLDS_BELOW, BREAKS_ABOVE, palette::ORANGE, Marker::Dot),
        (
            BREAKS_ABOVE,
            f64::INFINITY,
            palette::VERMILION,
            Marker::Cross,
        ),
    ];
    let mut sets = Vec::new();
    for (low, high, color, marker) in classes {
        let points: Vec<[f64; 2]> = cells
            .iter()
            .enumerate()
            .filter(|(_, c)| c.sim_cov_rel_error.is_some_and(|e| e >= low && e < high))
            .map(|(k, _)| {
                let (b, e) = (k / ne, k % ne);
                [map.etas[e].log10(), (map.batches[b] as f64).log10()]
            })
            .collect();
        if points.is_empty() {
            continue;
        }
        // A white disc under each marker: a green dot on the green-blue cells of viridis
        // would otherwise hardly show.
        sets.push(PointSet {
            points: points.clone(),
            color: palette::WHITE,
            opacity: 1.0,
            size: 13.0,
            marker: Marker::Dot,
            label: String::new(),
        });
        sets.push(PointSet {
            points,
            color,
            opacity: 1.0,
            size: 9.0,
            marker,
            label: String::new(),
        });
    }
    sets
}

/// Write the map's data: CSV for `.csv`, JSON for `.json` (atomically).
pub fn save_map_data(map: &HyperMap, path: &Path) -> Result<(), ExportError> {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "csv" => write_file(path, map.to_csv().as_bytes()),
        "json" => super::data::save_json(path, map),
        _ => Err(ExportError::Serialise(format!(
            "{}: unknown data format \"{extension}\"; use .csv or .json",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_edges_are_geometric_midpoints() {
        let edges = band_edges(&[1.0, 10.0, 100.0]);
        assert_eq!(edges, [-0.5, 0.5, 1.5, 2.5]);
        let (cells, bands) = raster(&edges);
        assert_eq!((cells, bands), (3, vec![0, 1, 2]));
        // Irregular bands are rasterised finely, each fine cell in the band of its centre.
        let edges = band_edges(&[1.0, 2.0, 100.0]);
        let (cells, bands) = raster(&edges);
        assert_eq!(cells, 240);
        assert_eq!(bands[0], 0);
        assert_eq!(bands[239], 2);
        assert!(bands.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn fill_lines_cover_the_rectangle() {
        let lines = fill_lines(0.0, 1.0, 2.0, 3.0, 0.25);
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0], [[0.0, 2.0], [1.0, 2.0]]);
        assert_eq!(lines[4], [[0.0, 3.0], [1.0, 3.0]]);
    }
}
