//! Presets: the TOML schema shared by the GUI and the CLI, `--set` overrides, validation.
//!
//! ```toml
//! title = "A rotating current"
//! caption = "Text a lecturer can read out."
//! [landscape]                 # kind + that landscape's keys
//! kind = "bowl"
//! hessian = [1.0, 4.0]
//! [dynamics]
//! algorithm = "sgd"           # sgd | sgld | sgworld
//! replacement = "wr"          # wr | wor (sgd only; sgld is wr, sgworld is wor)
//! eta = 0.02
//! batch = 10
//! [fp]                        # Fokker–Planck grid
//! grid = 128
//! [view]                      # how the app shows it
//! ```
//!
//! Unknown keys and wrong types are rejected; every error names the file and the line or key.
//! Every number is checked against its rule in [`crate::fields`], and the memory the walkers,
//! the grid and the landscape's examples need is checked against what the machine has
//! ([`crate::limits`]) before any of it is allocated. Preset files are read up to
//! [`MAX_PRESET_BYTES`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::dynamics::{Algorithm, Dynamics, DynamicsError, Replacement};
use crate::fields::FieldError;
use crate::files::{ReadError, read_text_bounded};
use crate::landscape::{Landscape, LandscapeError, LandscapeSpec};
use crate::limits::{LimitError, MemoryBudget};
use crate::theory::start::StartKind;

mod checks;

pub use crate::files::write_atomically;

/// Largest preset file read: 1 MiB (the shipped ones hold about 1 kB).
pub const MAX_PRESET_BYTES: u64 = 1 << 20;

/// Everything that can be wrong with a preset.
#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    /// The file cannot be read, is too large, or is not text.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// TOML syntax, unknown keys, wrong types (the message carries line and column).
    #[error("{path}: {message}")]
    Parse {
        /// The preset file (or the name it was loaded under).
        path: PathBuf,
        /// The TOML parser's message.
        message: String,
    },
    /// Neither a file nor the name of a shipped preset.
    #[error("{name}: no such file, and no shipped preset of that name (shipped: {shipped})")]
    NotFound {
        /// The name or path as given.
        name: String,
        /// The names of the shipped presets, comma-separated.
        shipped: String,
    },
    /// A `--set table.key=value` argument that cannot be applied.
    #[error("--set {argument}: {message}")]
    Override {
        /// The argument as given, `table.key=value`.
        argument: String,
        /// Why it cannot be applied (unknown key, wrong type, ...).
        message: String,
    },
    /// The preset cannot be written as TOML (an integer beyond TOML's `2⁶³ − 1`).
    #[error("the preset cannot be saved: {0}")]
    Serialise(String),
    /// The preset file cannot be written; the old file, if any, is untouched.
    #[error("{path}: cannot save: {source}", path = path.display())]
    Write {
        /// The file being saved.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A value of the right type that makes no sense (batch of 0, negative eta, ...).
    #[error("{path}{line}: {message}", line = line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        /// The preset file.
        path: PathBuf,
        /// The 1-based line of the key in the file, when the text is at hand and the key is
        /// written there (a default value has no line).
        line: Option<usize>,
        /// The dotted key at fault, e.g. `dynamics.eta` or `landscape.n`.
        key: String,
        /// What is wrong, naming the key and the value.
        message: String,
    },
}

/// A complete experiment description.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    /// Shown in the window title and on figures.
    pub title: String,
    /// One or two sentences a lecturer can read out.
    #[serde(default)]
    pub caption: String,
    /// The `[landscape]` table: which loss landscape, with its data and shape.
    pub landscape: LandscapeSpec,
    /// The `[dynamics]` table: update rule, learning rate, batch, walkers, steps.
    pub dynamics: DynamicsSpec,
    /// The `[fp]` table: the grid of the 2-D Fokker–Planck solve (docs/theory.md §8).
    #[serde(default)]
    pub fp: FpSpec,
    /// The `[view]` table: what the app shows first.
    #[serde(default)]
    pub view: ViewSpec,
    /// The `[posterior]` table: learning rates and permutations of `neqlab posterior`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posterior: Option<crate::posterior::PosteriorSpec>,
}

/// The `[dynamics]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynamicsSpec {
    /// `sgd`, `sgld` or `sgworld` (docs/theory.md §2.1).
    pub algorithm: Algorithm,
    /// `wr` or `wor`; optional (implied by `sgld` and `sgworld`, `wr` for `sgd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement: Option<Replacement>,
    /// Learning rate `η`.
    pub eta: f64,
    /// Batch size `B`.
    pub batch: usize,
    /// Temperature `T` of the Langevin noise (SGLD, SGWORLD).
    #[serde(default)]
    pub temperature: f64,
    /// Number of independent walkers.
    #[serde(default = "default_walkers")]
    pub walkers: usize,
    /// Time units to record (steps with replacement, epochs without); 0: no simulation.
    #[serde(default = "default_steps")]
    pub steps: u64,
    /// Time units discarded before recording.
    #[serde(default)]
    pub burn_in: u64,
    /// Seed of the walkers' random streams.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Where the walkers start: a point `[w1, w2, …]`, or `"stationary"` for a sample of the
    /// predicted stationary density (docs/theory.md §9.6); default: the landscape's own
    /// start point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<StartSpec>,
}

/// `dynamics.start`: a point, or the word `"stationary"`.
#[derive(Clone, Debug, PartialEq)]
pub enum StartSpec {
    /// Every walker at this point.
    Point(Vec<f64>),
    /// A sample of the predicted stationary density.
    Stationary,
}

impl Serialize for StartSpec {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            StartSpec::Point(point) => point.serialize(serializer),
            StartSpec::Stationary => serializer.serialize_str(StartKind::Stationary.name()),
        }
    }
}

impl<'de> Deserialize<'de> for StartSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StartVisitor;
        impl<'de> serde::de::Visitor<'de> for StartVisitor {
            type Value = StartSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(f, "a point like [0.5, 0.0] or the string \"stationary\"")
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<StartSpec, E> {
                match value {
                    "stationary" => Ok(StartSpec::Stationary),
                    other => Err(E::invalid_value(serde::de::Unexpected::Str(other), &self)),
                }
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<StartSpec, A::Error> {
                let mut point = Vec::new();
                while let Some(x) = seq.next_element::<f64>()? {
                    point.push(x);
                }
                Ok(StartSpec::Point(point))
            }
        }
        deserializer.deserialize_any(StartVisitor)
    }
}

fn default_walkers() -> usize {
    1000
}
fn default_steps() -> u64 {
    1000
}
fn default_seed() -> u64 {
    1
}

/// The `[fp]` table: the grid of the 2-D Fokker–Planck solve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FpSpec {
    /// Cells per axis.
    #[serde(default = "default_grid")]
    pub grid: usize,
    /// `[w1_min, w1_max, w2_min, w2_max]`; automatic when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounds: Option<[f64; 4]>,
}

fn default_grid() -> usize {
    128
}

impl Default for FpSpec {
    fn default() -> Self {
        Self {
            grid: default_grid(),
            bounds: None,
        }
    }
}

/// The `[view]` table: how the app shows the preset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ViewSpec {
    /// Draw the walkers themselves over the density.
    pub show_walkers: bool,
    /// Number of walkers whose recent path is drawn.
    pub trails: usize,
    /// Draw current arrows.
    pub arrows: bool,
    /// Time units simulated per frame.
    pub units_per_frame: u64,
}

impl Default for ViewSpec {
    fn default() -> Self {
        Self {
            show_walkers: false,
            trails: 0,
            arrows: true,
            units_per_frame: 20,
        }
    }
}

/// A preset turned into objects: the landscape and the validated dynamics.
#[derive(Clone)]
pub struct Experiment {
    /// The loss landscape.
    pub landscape: Arc<dyn Landscape>,
    /// The validated update rule.
    pub dynamics: Dynamics,
    /// The start point (length `d`): where a point start puts the walkers, and where
    /// Newton's method looks for the minimum.
    pub start: Vec<f64>,
    /// How the walkers start: at `start`, or sampled from the predicted stationary density
    /// (resolved by the runner, which holds the prediction: [`crate::theory::start`]).
    pub start_kind: StartKind,
}

impl Preset {
    /// Parse preset text; `path` only labels errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, PresetError> {
        toml::from_str(text).map_err(|e| PresetError::Parse {
            path: path.to_path_buf(),
            message: tidy_toml_message(&e, text),
        })
    }

    /// Read and parse a preset file, applying `--set` overrides.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self, PresetError> {
        let text = read_text_bounded(path, MAX_PRESET_BYTES, "a preset")?;
        let preset = Self::from_toml(&text, path)?;
        if overrides.is_empty() {
            return Ok(preset);
        }
        preset.with_overrides(overrides)
    }

    /// The preset with `table.key=value` overrides applied; values are TOML (a bare word is
    /// taken as a string).
    pub fn with_overrides(&self, overrides: &[String]) -> Result<Self, PresetError> {
        let mut table = toml::Table::try_from(self).map_err(|e| PresetError::Override {
            argument: String::new(),
            message: e.to_string(),
        })?;
        let mut preset = self.clone();
        for argument in overrides {
            apply_override(&mut table, argument)?;
            // Each argument is checked as it is applied, so that an error names the one at
            // fault (and not a line of some intermediate text).
            preset =
                toml::Value::Table(table.clone())
                    .try_into()
                    .map_err(|e: toml::de::Error| PresetError::Override {
                        argument: argument.clone(),
                        message: e.message().trim_end().to_string(),
                    })?;
        }
        Ok(preset)
    }

    /// The preset as TOML; `from_toml(to_toml())` gives the same preset back, and saving twice
    /// gives the same bytes.
    pub fn to_toml(&self) -> String {
        self.try_to_toml()
            .unwrap_or_else(|e| format!("# cannot serialise preset: {e}\n"))
    }

    /// The preset as TOML, or why it cannot be written: TOML integers stop at `2⁶³ − 1`, so
    /// a seed or a count above that has no TOML spelling.
    pub fn try_to_toml(&self) -> Result<String, PresetError> {
        toml::to_string_pretty(self).map_err(|e| PresetError::Serialise(e.to_string()))
    }

    /// Save the preset to `path` atomically ([`write_atomically`]) and return the text
    /// written. Nothing is written when the preset has no TOML spelling.
    pub fn save(&self, path: &Path) -> Result<String, PresetError> {
        let text = self.try_to_toml()?;
        write_atomically(path, text.as_bytes()).map_err(|source| PresetError::Write {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(text)
    }

    /// Build the landscape and validate the dynamics. `path` labels errors and locates data
    /// files named relative to the preset; `text`, when given, lets errors name the line.
    /// Every number is checked first ([`Preset::check_fields`]), then the memory of the
    /// landscape's examples, and after the landscape is built the memory of the walkers and
    /// the grid, against what this machine has ([`MemoryBudget::of_this_machine`]).
    pub fn build(&self, path: &Path, text: Option<&str>) -> Result<Experiment, PresetError> {
        self.build_within(path, text, &MemoryBudget::of_this_machine())
    }

    /// [`build`](Self::build) against a given memory budget.
    pub fn build_within(
        &self,
        path: &Path,
        text: Option<&str>,
        budget: &MemoryBudget,
    ) -> Result<Experiment, PresetError> {
        let base_dir = path.parent().unwrap_or(Path::new("."));
        let invalid = |key: String, message: String| {
            let line = text.and_then(|t| locate_key(t, &key));
            PresetError::Invalid {
                path: path.to_path_buf(),
                line,
                key,
                message,
            }
        };
        let field = |e: FieldError| invalid(e.key.to_string(), e.to_string());
        let limit = |key: &str, e: LimitError| invalid(key.to_string(), e.to_string());
        self.check_fields().map_err(field)?;
        if let Some(demand) = self.examples_demand() {
            demand.check(budget).map_err(|e| limit("landscape.n", e))?;
        }
        let landscape = self.landscape.build(base_dir).map_err(|e| match e {
            LandscapeError::InvalidKey { key, message } => invalid(
                format!("landscape.{key}"),
                format!("landscape.{key}: {message}"),
            ),
            other => invalid("landscape".into(), other.to_string()),
        })?;
        let d = &self.dynamics;
        let dynamics = Dynamics::new(
            d.algorithm,
            d.replacement,
            d.eta,
            d.batch,
            d.temperature,
            landscape.n_examples(),
        )
        .map_err(|e| {
            let DynamicsError::InvalidKey { key, .. } = &e;
            invalid(format!("dynamics.{key}"), e.to_string())
        })?;
        if let Err(error) = self.memory_demand(landscape.dim()).check(budget) {
            let key = error.field().to_string();
            return Err(limit(&key, error));
        }
        let start_kind = match &d.start {
            Some(StartSpec::Stationary) => StartKind::Stationary,
            _ => StartKind::Point,
        };
        let start = match &d.start {
            Some(StartSpec::Point(start)) if start.len() != landscape.dim() => {
                return Err(invalid(
                    "dynamics.start".into(),
                    format!(
                        "dynamics.start: needs {} coordinates for a {} landscape, got {}",
                        landscape.dim(),
                        landscape.kind(),
                        start.len()
                    ),
                ));
            }
            // Finite coordinates are checked with the other fields (check_fields).
            Some(StartSpec::Point(start)) => start.clone(),
            Some(StartSpec::Stationary) | None => landscape.start(),
        };
        Ok(Experiment {
            landscape,
            dynamics,
            start,
            start_kind,
        })
    }
}

/// The presets shipped in `presets/`, compiled in so that the app and the CLI find them from
/// any folder: `(name, TOML text)`.
pub const SHIPPED: &[(&str, &str)] = &[
    ("bowl-current", include_str!("../presets/bowl-current.toml")),
    ("bowl-wor", include_str!("../presets/bowl-wor.toml")),
    (
        "sgld-currents",
        include_str!("../presets/sgld-currents.toml"),
    ),
    (
        "sgworld-equilibrium",
        include_str!("../presets/sgworld-equilibrium.toml"),
    ),
    (
        "bowl-equilibrium",
        include_str!("../presets/bowl-equilibrium.toml"),
    ),
    ("double-well", include_str!("../presets/double-well.toml")),
    (
        "regression-net",
        include_str!("../presets/regression-net.toml"),
    ),
    (
        "regression-net-2d",
        include_str!("../presets/regression-net-2d.toml"),
    ),
    (
        "sgld-vs-sgworld",
        include_str!("../presets/sgld-vs-sgworld.toml"),
    ),
];

/// The text of a shipped preset.
pub fn shipped(name: &str) -> Option<&'static str> {
    SHIPPED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

/// The text of a preset named by a file path or by a shipped name, and the path that labels
/// it (`presets/NAME.toml` for a shipped one).
pub fn read_named(name: &str) -> Result<(String, PathBuf), PresetError> {
    let path = PathBuf::from(name);
    if path.exists() {
        let text = read_text_bounded(&path, MAX_PRESET_BYTES, "a preset")?;
        return Ok((text, path));
    }
    let stem = name.trim_end_matches(".toml");
    match shipped(stem) {
        Some(text) => Ok((
            text.to_string(),
            PathBuf::from(format!("presets/{stem}.toml")),
        )),
        None => Err(PresetError::NotFound {
            name: name.to_string(),
            shipped: SHIPPED
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

fn apply_override(table: &mut toml::Table, argument: &str) -> Result<(), PresetError> {
    let fail = |message: String| PresetError::Override {
        argument: argument.to_string(),
        message,
    };
    let (key, value) = argument
        .split_once('=')
        .ok_or_else(|| fail("expected table.key=value".into()))?;
    let key = key.trim();
    let value = value.trim();
    // A count (`dynamics.walkers=-5`, `=1e30`, `=`) is read by its field rule, whose message
    // says what is accepted; every accepted count fits a TOML integer.
    if let Some(rule) = crate::fields::count_field(key) {
        let count = rule.parse(value).map_err(|e| fail(e.to_string()))?;
        let count = i64::try_from(count).map_err(|_| fail(format!("{key}: too large")))?;
        return set_key(table, key, toml::Value::Integer(count)).map_err(fail);
    }
    let parsed: toml::Value = match toml::from_str::<toml::Table>(&format!("v = {value}")) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or(toml::Value::String(value.to_string())),
        Err(_) => toml::Value::String(value.to_string()),
    };
    set_key(table, key, parsed).map_err(fail)
}

/// Set `key` (`table.key`) of `table` to `parsed`, creating the tables on the way.
fn set_key(table: &mut toml::Table, key: &str, parsed: toml::Value) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("`{key}` is not a key path like dynamics.eta"));
    }
    let (last, tables) = parts.split_last().ok_or_else(|| "empty key".to_string())?;
    let mut current = table;
    for part in tables {
        current = current
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(|| format!("`{part}` is not a table"))?;
    }
    // `--set dynamics.walkers=1e6`: a whole number written as a float, for a key that holds
    // an integer, is taken as that integer.
    let parsed = match (&parsed, current.get(*last)) {
        (toml::Value::Float(x), Some(toml::Value::Integer(_)))
            if x.fract() == 0.0 && x.abs() < 2f64.powi(53) =>
        {
            toml::Value::Integer(*x as i64)
        }
        _ => parsed,
    };
    current.insert(last.to_string(), parsed);
    Ok(())
}

/// Line (1-based) of `table.key = ...` in preset text, if it is written there.
pub fn locate_key(text: &str, dotted_key: &str) -> Option<usize> {
    let (table, key) = dotted_key.rsplit_once('.').unwrap_or(("", dotted_key));
    let mut current = String::new();
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(header) = trimmed.strip_prefix('[').and_then(|s| s.split(']').next()) {
            current = header.trim().to_string();
            continue;
        }
        if current == table
            && let Some((name, _)) = trimmed.split_once('=')
            && name.trim() == key
        {
            return Some(number + 1);
        }
    }
    None
}

/// Longest source line quoted in a parse error; a longer one (a hostile file of one huge line)
/// is named by its line and column only.
const MAX_QUOTED_LINE: usize = 200;

/// toml's message with its excerpt of the offending line (trimmed at the end), or without
/// the excerpt when that line is too long to quote.
fn tidy_toml_message(error: &toml::de::Error, text: &str) -> String {
    let Some(span) = error.span() else {
        return error.message().trim_end().to_string();
    };
    let start = span.start.min(text.len());
    let before = text.get(..start).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |k| k + 1);
    let line_length = text[line_start..]
        .find('\n')
        .unwrap_or(text.len() - line_start);
    if line_length <= MAX_QUOTED_LINE {
        return error.to_string().trim_end().to_string();
    }
    let column = before[line_start..].chars().count() + 1;
    format!(
        "TOML parse error at line {line}, column {column} (a line of {line_length} bytes): {}",
        error.message().trim_end()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOWL: &str = r#"
title = "Bowl"
caption = "A test bowl."

[landscape]
kind = "bowl"
hessian = [1.0, 4.0]
noise = [1.0, 0.1]
angle_deg = 30.0

[dynamics]
algorithm = "sgd"
eta = 0.02
batch = 10
"#;

    fn path() -> &'static Path {
        Path::new("test.toml")
    }

    #[test]
    fn parses_and_round_trips_byte_stably() {
        let preset = Preset::from_toml(BOWL, path()).expect("valid");
        let once = preset.to_toml();
        let again = Preset::from_toml(&once, path()).expect("reparses");
        assert_eq!(again, preset);
        assert_eq!(again.to_toml(), once);
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let text = BOWL.replace("batch = 10", "batch = 10\nbatchsize = 3");
        let message = Preset::from_toml(&text, path())
            .expect_err("unknown key")
            .to_string();
        assert!(
            message.contains("batchsize") && message.contains("line 15"),
            "{message}"
        );
        let text = BOWL.replace("angle_deg = 30.0", "angle_deg = 30.0\nangel = 2");
        let message = Preset::from_toml(&text, path())
            .expect_err("unknown key")
            .to_string();
        assert!(message.contains("angel"), "{message}");
    }

    #[test]
    fn wrong_type_is_named() {
        let text = BOWL.replace("eta = 0.02", "eta = \"fast\"");
        let message = Preset::from_toml(&text, path())
            .expect_err("wrong type")
            .to_string();
        assert!(
            message.contains("line 13") && message.contains("eta"),
            "{message}"
        );
    }

    #[test]
    fn invalid_values_name_key_and_line() {
        let text = BOWL.replace("batch = 10", "batch = 0");
        let preset = Preset::from_toml(&text, path()).expect("parses");
        let message = preset
            .build(path(), Some(&text))
            .err()
            .expect("batch 0")
            .to_string();
        assert!(
            message.starts_with("test.toml:14:") && message.contains("dynamics.batch"),
            "{message}"
        );
        let text = BOWL.replace("eta = 0.02", "eta = -0.02");
        let preset = Preset::from_toml(&text, path()).expect("parses");
        let message = preset
            .build(path(), Some(&text))
            .err()
            .expect("negative eta")
            .to_string();
        assert!(
            message.contains(":13:") && message.contains("dynamics.eta"),
            "{message}"
        );
    }

    #[test]
    fn overrides_apply_typed_values() {
        let preset = Preset::from_toml(BOWL, path()).expect("valid");
        let changed = preset
            .with_overrides(&[
                "dynamics.eta=1e-3".into(),
                "landscape.hessian=[2.0, 3.0]".into(),
                "dynamics.algorithm=sgld".into(),
            ])
            .expect("valid overrides");
        assert_eq!(changed.dynamics.eta, 1e-3);
        assert_eq!(changed.dynamics.algorithm, Algorithm::Sgld);
        let coerced = preset
            .with_overrides(&["dynamics.walkers=1e4".into(), "dynamics.eta=1".into()])
            .expect("integral float for an integer key, integer for a float key");
        assert_eq!(
            (coerced.dynamics.walkers, coerced.dynamics.eta),
            (10_000, 1.0)
        );
        let message = preset
            .with_overrides(&["dynamics.walkers=2.5".into()])
            .expect_err("fractional walkers")
            .to_string();
        assert!(message.contains("walkers"), "{message}");
        let LandscapeSpec::Bowl(bowl) = &changed.landscape else {
            panic!("still a bowl")
        };
        assert_eq!(bowl.hessian, [2.0, 3.0]);
        let message = preset
            .with_overrides(&["dynamics.etta=1".into()])
            .expect_err("unknown key")
            .to_string();
        assert!(message.contains("etta"), "{message}");
        let message = preset
            .with_overrides(&["dynamics.eta".into()])
            .expect_err("no value")
            .to_string();
        assert!(message.contains("table.key=value"), "{message}");
    }

    /// `dynamics.start` is a point or `"stationary"`, round-trips, takes `--set`, and a wrong
    /// word is named with its line.
    #[test]
    fn start_is_a_point_or_stationary() {
        let text = BOWL.replace("batch = 10", "batch = 10\nstart = \"stationary\"");
        let preset = Preset::from_toml(&text, path()).expect("parses");
        assert_eq!(preset.dynamics.start, Some(StartSpec::Stationary));
        assert_eq!(
            Preset::from_toml(&preset.to_toml(), path()).expect("again"),
            preset
        );
        let experiment = preset.build(path(), Some(&text)).expect("builds");
        assert_eq!(experiment.start_kind, StartKind::Stationary);
        assert_eq!(experiment.start, experiment.landscape.start());

        let text = BOWL.replace("batch = 10", "batch = 10\nstart = [1, -0.5]");
        let preset = Preset::from_toml(&text, path()).expect("parses");
        assert_eq!(
            preset.dynamics.start,
            Some(StartSpec::Point(vec![1.0, -0.5]))
        );
        assert_eq!(
            Preset::from_toml(&preset.to_toml(), path()).expect("again"),
            preset
        );
        let experiment = preset.build(path(), Some(&text)).expect("builds");
        assert_eq!(experiment.start_kind, StartKind::Point);
        assert_eq!(experiment.start, vec![1.0, -0.5]);

        let plain = Preset::from_toml(BOWL, path()).expect("parses");
        let built = plain.build(path(), None).expect("builds");
        assert_eq!(built.start_kind, StartKind::Point);
        let changed = plain
            .with_overrides(&["dynamics.start=stationary".into()])
            .expect("override");
        assert_eq!(changed.dynamics.start, Some(StartSpec::Stationary));

        let text = BOWL.replace("batch = 10", "batch = 10\nstart = \"equilibrium\"");
        let message = Preset::from_toml(&text, path())
            .expect_err("unknown word")
            .to_string();
        assert!(
            message.contains("line 15")
                && message.contains("equilibrium")
                && message.contains("\"stationary\""),
            "{message}"
        );
    }
}
