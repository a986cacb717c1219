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

use std::path::{Path, PathBuf};

/// What is wrong with a data file.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The file cannot be read (missing, a folder, no permission, not UTF-8).
    #[error("{path}: cannot read the data file: {source}", path = path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The first non-comment line is not `x,y`.
    #[error("{path}:{line}: expected the header `x,y`, found `{found}`", path = path.display())]
    Header {
        path: PathBuf,
        line: usize,
        found: String,
    },
    /// The file holds no header at all.
    #[error("{path}: the file is empty; expected the header `x,y` and at least two points", path = path.display())]
    Empty { path: PathBuf },
    /// A data line that is not two comma-separated numbers.
    #[error("{path}:{line}: {message}", path = path.display())]
    Malformed {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A number that is infinite or NaN.
    #[error("{path}:{line}: {column} = {value} is not a finite number", path = path.display())]
    NonFinite {
        path: PathBuf,
        line: usize,
        column: &'static str,
        value: f64,
    },
    /// Fewer than two data points.
    #[error("{path}: needs at least two data points, found {count}", path = path.display())]
    TooFewPoints { path: PathBuf, count: usize },
}

/// Data points `(x_i, y_i)` of a regression data set.
#[derive(Clone, Debug, PartialEq)]
pub struct XyData {
    pub x: Vec<f64>,
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
    let text = std::fs::read_to_string(path).map_err(|source| CsvError::Read {
        path: path.to_path_buf(),
        source,
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
