//! Reading `x,y` data files for the regression landscapes.
//!
//! The format is deliberately small:
//!
//! ```text
//! # comments start with '#', blank lines are ignored
//! x,y
//! -3.0,0.0123
//! -2.97,0.0131
//! ```
//!
//! The first line that is neither blank nor a comment must be the header `x,y` (spaces around
//! the names are allowed). Every later data line holds exactly two finite numbers separated by
//! a comma; at least two points are required. Every error names the file and, where it has
//! one, the 1-based line.
//!
//! Before a file is parsed its size, and the memory its points will take as a landscape's
//! examples, are checked against what the machine has ([`crate::limits`]); a file named by
//! mistake (a huge download, `/dev/zero`) is refused without being read to the end.

use std::path::{Path, PathBuf};

use crate::files::{ReadError, read_text_bounded};
use crate::limits::{self, LimitError, MemoryBudget};

/// Memory per byte of a data file besides the text itself: a line of at least 4 bytes
/// (`1,2` and a newline) becomes a point of 16 bytes.
const POINT_BYTES_PER_TEXT_BYTE: f64 = 4.0;

/// Bytes a regression landscape keeps per data point besides its per-example quadratic
/// forms (see [`limits::examples_demand`]).
const LANDSCAPE_BYTES_PER_POINT: f64 = 64.0;

/// What is wrong with a data file.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The file cannot be read (missing, a folder, no permission, not UTF-8, too large).
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The points would not fit in memory as a landscape's examples.
    #[error("{path}: {limit}", path = path.display())]
    TooLarge {
        /// The data file.
        path: PathBuf,
        /// The memory check that refused it.
        limit: LimitError,
    },
    /// The first non-comment line is not `x,y`.
    #[error("{path}:{line}: expected the header `x,y`, found `{found}`", path = path.display())]
    Header {
        /// The data file.
        path: PathBuf,
        /// The 1-based line where the header was expected.
        line: usize,
        /// That line as written.
        found: String,
    },
    /// The file holds no header at all.
    #[error("{path}: the file is empty; expected the header `x,y` and at least two points", path = path.display())]
    Empty {
        /// The data file.
        path: PathBuf,
    },
    /// A data line that is not two comma-separated numbers.
    #[error("{path}:{line}: {message}", path = path.display())]
    Malformed {
        /// The data file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What is wrong with it (field count, a number that does not parse).
        message: String,
    },
    /// A number that is infinite or NaN.
    #[error("{path}:{line}: {column} = {value} is not a finite number", path = path.display())]
    NonFinite {
        /// The data file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// `"x"` or `"y"`.
        column: &'static str,
        /// The value read (`inf`, `-inf` or `NaN`).
        value: f64,
    },
    /// Fewer than two data points.
    #[error("{path}: needs at least two data points, found {count}", path = path.display())]
    TooFewPoints {
        /// The data file.
        path: PathBuf,
        /// The data points found (0 or 1).
        count: usize,
    },
}

/// Data points `(x_i, y_i)` of a regression data set.
#[derive(Clone, Debug, PartialEq)]
pub struct XyData {
    /// The inputs `x_i`, in file order.
    pub x: Vec<f64>,
    /// The targets `y_i`, one per input.
    pub y: Vec<f64>,
}

/// `path` itself when absolute, otherwise `base_dir/path` (the preset's folder).
pub fn resolve(path: &Path, base_dir: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base_dir.join(path)
    }
}

/// Read an `x,y` data file (see the module documentation).
pub fn read_xy(path: &Path) -> Result<XyData, CsvError> {
    read_xy_within(path, &MemoryBudget::of_this_machine())
}

/// [`read_xy`] against a given memory budget.
pub fn read_xy_within(path: &Path, budget: &MemoryBudget) -> Result<XyData, CsvError> {
    let limit = limits::max_file_bytes(POINT_BYTES_PER_TEXT_BYTE, budget);
    let text = read_text_bounded(
        path,
        limit,
        "a data file on this machine (its points must fit in memory)",
    )?;
    let lines = text.lines().count();
    limits::examples_demand("data points", lines, 2, LANDSCAPE_BYTES_PER_POINT)
        .and(limits::file_demand("data file", text.len() as u64, 0.0))
        .check(budget)
        .map_err(|limit| CsvError::TooLarge {
            path: path.to_path_buf(),
            limit,
        })?;
    parse_xy(&text, path)
}

/// Parse the text of an `x,y` data file; `path` only labels errors.
pub fn parse_xy(text: &str, path: &Path) -> Result<XyData, CsvError> {
    let mut header_seen = false;
    let mut data = XyData {
        x: Vec::new(),
        y: Vec::new(),
    };
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = content.split(',').map(str::trim).collect();
        if !header_seen {
            if fields != ["x", "y"] {
                return Err(CsvError::Header {
                    path: path.to_path_buf(),
                    line,
                    found: content.to_string(),
                });
            }
            header_seen = true;
            continue;
        }
        if fields.len() != 2 {
            return Err(CsvError::Malformed {
                path: path.to_path_buf(),
                line,
                message: format!(
                    "expected two comma-separated numbers `x,y`, found {} field(s) in `{content}`",
                    fields.len()
                ),
            });
        }
        let mut values = [0.0; 2];
        for ((value, field), column) in values.iter_mut().zip(&fields).zip(["x", "y"]) {
            *value = field.parse::<f64>().map_err(|_| CsvError::Malformed {
                path: path.to_path_buf(),
                line,
                message: format!("{column} = `{field}` is not a number"),
            })?;
            if !value.is_finite() {
                return Err(CsvError::NonFinite {
                    path: path.to_path_buf(),
                    line,
                    column,
                    value: *value,
                });
            }
        }
        data.x.push(values[0]);
        data.y.push(values[1]);
    }
    if !header_seen {
        return Err(CsvError::Empty {
            path: path.to_path_buf(),
        });
    }
    if data.x.len() < 2 {
        return Err(CsvError::TooFewPoints {
            path: path.to_path_buf(),
            count: data.x.len(),
        });
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<XyData, CsvError> {
        parse_xy(text, Path::new("data.csv"))
    }

    #[test]
    fn reads_points_skipping_comments_and_blank_lines() {
        let data = parse("# a comment\n\n x , y \n1,2\n\n# more\n-3.5e-1, 4\n").expect("valid");
        assert_eq!(data.x, vec![1.0, -0.35]);
        assert_eq!(data.y, vec![2.0, 4.0]);
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let cases = [
            ("# c\nx,z\n1,2\n3,4\n", "data.csv:2:", "header"),
            ("x,y\n1,2\n3;4\n", "data.csv:3:", "two comma-separated"),
            ("x,y\n1,2\n3,4,5\n", "data.csv:3:", "3 field"),
            ("x,y\n1,2\n\nabc,4\n", "data.csv:4:", "x = `abc`"),
            (
                "x,y\n1,2\n3,inf\n",
                "data.csv:3:",
                "y = inf is not a finite",
            ),
            ("x,y\n1,NaN\n3,4\n", "data.csv:2:", "not a finite"),
            (
                "x,y\n1,2\n",
                "data.csv:",
                "at least two data points, found 1",
            ),
            ("# only comments\n\n", "data.csv:", "empty"),
        ];
        for (text, prefix, fragment) in cases {
            let message = parse(text).expect_err(text).to_string();
            assert!(
                message.starts_with(prefix) && message.contains(fragment),
                "{text:?}: {message}"
            );
        }
    }

    #[test]
    fn files_too_large_for_memory_are_refused_before_parsing() {
        let folder = tempfile::tempdir().expect("tempdir");
        let path = folder.path().join("big.csv");
        let mut text = String::from("x,y\n");
        for k in 0..2000 {
            text.push_str(&format!("{k},{k}\n"));
        }
        std::fs::write(&path, &text).expect("write");
        // 2000 points need ~400 kB as examples; 1 MB available, 80% usable: fits.
        let roomy = MemoryBudget::with_available_bytes(1_000_000);
        assert_eq!(read_xy_within(&path, &roomy).expect("fits").x.len(), 2000);
        // 200 kB available: the file (18 kB) is read, but its points do not fit.
        let tight = MemoryBudget::with_available_bytes(200_000);
        let message = read_xy_within(&path, &tight)
            .expect_err("too large")
            .to_string();
        assert!(
            message.contains("big.csv") && message.contains("data points = 2 001 needs ~"),
            "{message}"
        );
        // 10 kB available: the file itself is refused from its size.
        let tiny = MemoryBudget::with_available_bytes(10_000);
        let message = read_xy_within(&path, &tiny)
            .expect_err("too large")
            .to_string();
        assert!(message.contains("bytes are read"), "{message}");
    }

    #[test]
    fn missing_file_is_named() {
        let folder = tempfile::tempdir().expect("tempdir");
        let path = folder.path().join("absent.csv");
        let message = read_xy(&path).expect_err("missing").to_string();
        assert!(message.contains("absent.csv"), "{message}");
    }

    #[test]
    fn relative_paths_resolve_against_the_preset_folder() {
        let folder = tempfile::tempdir().expect("tempdir");
        std::fs::write(folder.path().join("d.csv"), "x,y\n0,1\n1,3\n").expect("write");
        let path = resolve(Path::new("d.csv"), folder.path());
        assert_eq!(read_xy(&path).expect("valid").y, vec![1.0, 3.0]);
        let absolute = folder.path().join("d.csv");
        assert_eq!(resolve(&absolute, Path::new("/elsewhere")), absolute);
    }
}
