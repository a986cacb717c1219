//! Data export for the app and the CLI: CSV of a 2-D grid (density and current), CSV of a
//! 1-D histogram, JSON of a run's statistics. Every writer goes through
//! [`super::write_file`], so a file is either complete or absent.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::{ExportError, write_file};

/// Values on the cell centres of a regular 2-D grid, row-major `iy * nx + ix`.
#[derive(Clone, Copy, Debug)]
pub struct GridData<'a> {
    /// Cells along x.
    pub nx: usize,
    /// Cells along y.
    pub ny: usize,
    /// `[x_min, x_max, y_min, y_max]` of the grid's outer edges.
    pub bounds: [f64; 4],
    /// Probability mass per cell (or any scalar field).
    pub density: &'a [f64],
    /// Probability current `J` per cell, if known.
    pub current: Option<&'a [[f64; 2]]>,
}

fn size_error(what: &str, got: usize, expected: usize) -> ExportError {
    ExportError::Serialise(format!("{what} has {got} values, expected {expected}"))
}

/// CSV with header `x,y,density,current_x,current_y`, one row per cell centre (x fastest).
/// Without a current the last two columns are empty.
pub fn grid_csv(grid: &GridData<'_>) -> Result<String, ExportError> {
    let cells = grid.nx * grid.ny;
    if grid.density.len() != cells {
        return Err(size_error("density", grid.density.len(), cells));
    }
    if let Some(current) = grid.current
        && current.len() != cells
    {
        return Err(size_error("current", current.len(), cells));
    }
    let b = grid.bounds;
    let dx = (b[1] - b[0]) / grid.nx as f64;
    let dy = (b[3] - b[2]) / grid.ny as f64;
    let mut text = String::with_capacity(cells * 80 + 40);
    text.push_str("x,y,density,current_x,current_y\n");
    for iy in 0..grid.ny {
        for ix in 0..grid.nx {
            let k = iy * grid.nx + ix;
            let x = b[0] + (ix as f64 + 0.5) * dx;
            let y = b[2] + (iy as f64 + 0.5) * dy;
            // Writing to a String cannot fail.
            let _ = write!(text, "{x:e},{y:e},{:e},", grid.density[k]);
            match grid.current {
                Some(current) => {
                    let _ = writeln!(text, "{:e},{:e}", current[k][0], current[k][1]);
                }
                None => text.push_str(",\n"),
            }
        }
    }
    Ok(text)
}

/// Write [`grid_csv`] to `path` atomically.
pub fn save_grid_csv(path: &Path, grid: &GridData<'_>) -> Result<(), ExportError> {
    write_file(path, grid_csv(grid)?.as_bytes())
}

/// CSV of a 1-D histogram: header `bin_low,bin_high,{value_name}`, one row per bin;
/// `edges` has one more entry than `values`.
pub fn histogram_csv(
    edges: &[f64],
    values: &[f64],
    value_name: &str,
) -> Result<String, ExportError> {
    if edges.len() != values.len() + 1 {
        return Err(size_error("histogram edges", edges.len(), values.len() + 1));
    }
    if value_name.contains([',', '\n', '"']) {
        return Err(ExportError::Serialise(format!(
            "column name {value_name:?} may not contain commas, quotes or newlines"
        )));
    }
    let mut text = format!("bin_low,bin_high,{value_name}\n");
    for (k, value) in values.iter().enumerate() {
        let _ = writeln!(text, "{:e},{:e},{value:e}", edges[k], edges[k + 1]);
    }
    Ok(text)
}

/// Write [`histogram_csv`] to `path` atomically.
pub fn save_histogram_csv(
    path: &Path,
    edges: &[f64],
    values: &[f64],
    value_name: &str,
) -> Result<(), ExportError> {
    write_file(path, histogram_csv(edges, values, value_name)?.as_bytes())
}

/// Pretty JSON of anything serialisable (a [`crate::run::RunReport`], a theory result, ...).
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<String, ExportError> {
    let mut text =
        serde_json::to_string_pretty(value).map_err(|e| ExportError::Serialise(e.to_string()))?;
    text.push('\n');
    Ok(text)
}

/// Write a run's statistics (or any serialisable value) as JSON to `path` atomically.
pub fn save_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<(), ExportError> {
    write_file(path, to_json(value)?.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_csv_has_cell_centres_and_columns() {
        let density = [0.1, 0.2, 0.3, 0.4];
        let current = [[1.0, -1.0], [0.0, 0.5], [2.0, 0.0], [0.0, 0.0]];
        let grid = GridData {
            nx: 2,
            ny: 2,
            bounds: [0.0, 2.0, -1.0, 1.0],
            density: &density,
            current: Some(&current),
        };
        let text = grid_csv(&grid).expect("sizes match");
        let rows: Vec<Vec<f64>> = text
            .lines()
            .skip(1)
            .map(|l| l.split(',').map(|v| v.parse().expect("number")).collect())
            .collect();
        assert_eq!(text.lines().next(), Some("x,y,density,current_x,current_y"));
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[1], [1.5, -0.5, 0.2, 0.0, 0.5]);
        assert_eq!(rows[2], [0.5, 0.5, 0.3, 2.0, 0.0]);
        let short = GridData {
            density: &density[..3],
            ..grid
        };
        assert!(grid_csv(&short).is_err());
    }

    #[test]
    fn histogram_csv_checks_edges() {
        let text = histogram_csv(&[0.0, 1.0, 2.0], &[3.0, 4.0], "count").expect("valid");
        assert_eq!(text, "bin_low,bin_high,count\n0e0,1e0,3e0\n1e0,2e0,4e0\n");
        assert!(histogram_csv(&[0.0, 1.0], &[3.0, 4.0], "count").is_err());
        assert!(histogram_csv(&[0.0, 1.0], &[3.0], "a,b").is_err());
    }
}
