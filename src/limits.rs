//! Resource limits, checked before anything large is allocated.
//!
//! Every size a person can type (walkers, grid cells, landscape examples, MNIST hidden units,
//! digits and recorded epochs, figure pixels, file sizes) becomes an estimate of the memory it
//! needs, which is compared with what the machine has: `MemAvailable` of `/proc/meminfo` on
//! Linux, of which at most [`USABLE_FRACTION`] is used (the margin leaves room for the rest of
//! the program, the interface and the other programs running). The environment variable
//! [`MEMORY_ENV`] replaces the measurement (for tests, or where `MemAvailable` misleads, e.g.
//! in a container); where neither exists, [`FALLBACK_AVAILABLE_BYTES`] is assumed.
//!
//! An estimate is a [`MemoryDemand`]: the total bytes, and for each field the bytes that grow
//! with it and how (`∝ value` or `∝ value²`). When the total does not fit, the message names
//! the field with the largest share, its estimate and the largest value that would fit with
//! the other fields unchanged:
//!
//! ```text
//! dynamics.walkers = 1000000000 needs ~33 GB; this machine has 23 GB available and neqlab
//! uses at most 80% of it: at most ~550 000 000 walkers
//! ```
//!
//! The constants below are upper estimates of what the kernels allocate, measured with peak
//! resident memory (`/usr/bin/time -v`) where the code alone does not say.

use crate::dynamics::ensemble::CHUNK;

/// Fraction of the available memory one run may plan to use.
pub const USABLE_FRACTION: f64 = 0.8;

/// Assumed available memory where it cannot be measured: 4 GiB.
pub const FALLBACK_AVAILABLE_BYTES: u64 = 4 << 30;

/// Environment variable that sets the available memory in bytes (e.g. `2000000000`, or with
/// a unit: `2GB`, `512MB`), replacing the measurement.
pub const MEMORY_ENV: &str = "NEQLAB_MEMORY_BYTES";

/// Where the available memory came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BudgetSource {
    /// The [`MEMORY_ENV`] environment variable.
    Environment,
    /// `MemAvailable` of `/proc/meminfo`.
    MemAvailable,
    /// Nothing could be measured: [`FALLBACK_AVAILABLE_BYTES`].
    Fallback,
    /// Given by the caller (tests).
    Given,
}

/// The memory a run may use.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemoryBudget {
    /// Bytes the machine has available.
    pub available_bytes: u64,
    /// Where that number came from.
    pub source: BudgetSource,
}

impl MemoryBudget {
    /// What this machine has now: [`MEMORY_ENV`] if set, else `MemAvailable`, else the fallback.
    pub fn of_this_machine() -> Self {
        if let Some(bytes) = std::env::var(MEMORY_ENV)
            .ok()
            .and_then(|text| parse_bytes(&text))
        {
            return Self {
                available_bytes: bytes,
                source: BudgetSource::Environment,
            };
        }
        if let Some(bytes) = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| parse_mem_available(&text))
        {
            return Self {
                available_bytes: bytes,
                source: BudgetSource::MemAvailable,
            };
        }
        Self {
            available_bytes: FALLBACK_AVAILABLE_BYTES,
            source: BudgetSource::Fallback,
        }
    }

    /// A budget of `available_bytes` (tests, or a caller that knows better).
    pub fn with_available_bytes(available_bytes: u64) -> Self {
        Self {
            available_bytes,
            source: BudgetSource::Given,
        }
    }

    /// Bytes one run may plan to use: [`USABLE_FRACTION`] of the available memory.
    pub fn usable_bytes(&self) -> f64 {
        self.available_bytes as f64 * USABLE_FRACTION
    }

    /// "this machine has 23 GB available and neqlab uses at most 80% of it".
    fn describe(&self) -> String {
        let amount = format_bytes(self.available_bytes as f64);
        let whose = match self.source {
            BudgetSource::Environment => format!("{MEMORY_ENV} allows {amount}"),
            BudgetSource::MemAvailable => format!("this machine has {amount} available"),
            BudgetSource::Fallback => {
                format!("the available memory is unknown here ({amount} assumed)")
            }
            BudgetSource::Given => format!("{amount} is available"),
        };
        format!(
            "{whose} and neqlab uses at most {:.0}% of it",
            100.0 * USABLE_FRACTION
        )
    }
}

/// `MemAvailable` of `/proc/meminfo` text, in bytes.
pub fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut words = line.split_whitespace().skip(1);
    let value: u64 = words.next()?.parse().ok()?;
    let scale = match words.next() {
        Some("kB") => 1024,
        None => 1,
        Some(_) => return None,
    };
    value.checked_mul(scale)
}

/// Bytes from `12345`, `2GB`, `512 MB`, `4GiB`, `1.5e9` (decimal units, `*iB` binary).
pub fn parse_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.trim().parse().ok()?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" | "k" => 1e3,
        "mb" | "m" => 1e6,
        "gb" | "g" => 1e9,
        "tb" | "t" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = number * scale;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// A memory estimate: the total, and the share of each field that makes it grow.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryDemand {
    /// Estimated peak bytes.
    pub total_bytes: f64,
    shares: Vec<Share>,
}

/// The bytes of a demand that grow with one field, as `value^exponent`; `shared_bytes` of
/// them grow with another field too.
#[derive(Clone, Debug, PartialEq)]
struct Share {
    field: String,
    value: f64,
    unit: String,
    bytes: f64,
    shared_bytes: f64,
    exponent: f64,
}

impl MemoryDemand {
    /// A demand of `total_bytes` with no field to blame yet.
    pub fn new(total_bytes: f64) -> Self {
        Self {
            total_bytes,
            shares: Vec::new(),
        }
    }

    /// Declare that `bytes` of the total grow as `value^exponent` with `field` (set to `value`,
    /// counted in `unit`s, e.g. "walkers").
    pub fn grows_with(
        self,
        field: impl Into<String>,
        value: f64,
        unit: impl Into<String>,
        bytes: f64,
        exponent: f64,
    ) -> Self {
        self.grows_with_shared(field, value, unit, bytes, 0.0, exponent)
    }

    /// [`grows_with`](Self::grows_with), where `shared_bytes` of the `bytes` also grow with
    /// another field (a product of two sizes). Shared bytes count for the largest value that
    /// fits, not for choosing which field a refusal names: that is the field with the most
    /// bytes of its own.
    pub fn grows_with_shared(
        mut self,
        field: impl Into<String>,
        value: f64,
        unit: impl Into<String>,
        bytes: f64,
        shared_bytes: f64,
        exponent: f64,
    ) -> Self {
        self.shares.push(Share {
            field: field.into(),
            value,
            unit: unit.into(),
            bytes,
            shared_bytes,
            exponent,
        });
        self
    }

    /// The same demand with the field `from` called `to` (e.g. a command-line flag).
    pub fn renamed(mut self, from: &str, to: &str) -> Self {
        for share in &mut self.shares {
            if share.field == from {
                share.field = to.to_string();
            }
        }
        self
    }

    /// Add another demand that runs at the same time.
    pub fn and(mut self, other: MemoryDemand) -> Self {
        self.total_bytes += other.total_bytes;
        for share in other.shares {
            match self.shares.iter_mut().find(|s| s.field == share.field) {
                Some(mine) => {
                    mine.bytes += share.bytes;
                    mine.shared_bytes += share.shared_bytes;
                }
                None => self.shares.push(share),
            }
        }
        self
    }

    /// Refuse the demand when it exceeds the usable memory of `budget`, naming the field with
    /// the largest share and the largest value of it that would fit.
    pub fn check(&self, budget: &MemoryBudget) -> Result<(), LimitError> {
        let usable = budget.usable_bytes();
        if self.total_bytes <= usable {
            return Ok(());
        }
        let share = self.shares.iter().filter(|s| s.bytes > 0.0).max_by(|a, b| {
            let own = |s: &Share| s.bytes - s.shared_bytes;
            own(a).total_cmp(&own(b))
        });
        let (field, value, unit, max_value) = match share {
            Some(s) => {
                let rest = self.total_bytes - s.bytes;
                let room = (usable - rest).max(0.0);
                let max = s.value * (room / s.bytes).powf(1.0 / s.exponent);
                (
                    s.field.clone(),
                    s.value,
                    s.unit.clone(),
                    Some(max.floor().max(0.0)),
                )
            }
            None => (String::from("the run"), f64::NAN, String::new(), None),
        };
        Err(LimitError::Memory(Box::new(MemoryRefusal {
            field,
            value: format_count(value),
            needed_bytes: self.total_bytes,
            budget: budget.describe(),
            max_value,
            unit,
        })))
    }
}

/// A size that does not fit.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LimitError {
    /// The estimated memory exceeds what the machine has.
    #[error("{0}")]
    Memory(Box<MemoryRefusal>),
}

impl LimitError {
    /// The field the refusal names (`dynamics.walkers`).
    pub fn field(&self) -> &str {
        match self {
            Self::Memory(refusal) => &refusal.field,
        }
    }
}

/// Why a memory estimate was refused, and what would fit.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryRefusal {
    /// The preset key (or file) at fault.
    pub field: String,
    /// Its value, as written.
    pub value: String,
    /// The estimate.
    pub needed_bytes: f64,
    /// "this machine has 23 GB available and neqlab uses at most 80% of it".
    pub budget: String,
    /// The largest value of `field` that fits (others unchanged).
    pub max_value: Option<f64>,
    /// What the field counts ("walkers").
    pub unit: String,
}

impl std::fmt::Display for MemoryRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&memory_message(
            &self.field,
            &self.value,
            self.needed_bytes,
            &self.budget,
            self.max_value,
            &self.unit,
        ))
    }
}

fn memory_message(
    field: &str,
    value: &str,
    needed_bytes: f64,
    budget: &str,
    max_value: Option<f64>,
    unit: &str,
) -> String {
    let head = format!(
        "{field} = {value} needs ~{}; {budget}",
        format_bytes(needed_bytes)
    );
    match max_value {
        Some(max) if max >= 1.0 => {
            format!("{head}: at most ~{} {unit}", format_count(round_down(max)))
        }
        Some(_) => format!("{head}: even the smallest {field} does not fit"),
        None => head,
    }
}

/// `x` rounded down to two significant digits (so that "at most ~" is a value that fits).
fn round_down(x: f64) -> f64 {
    if x < 100.0 {
        return x.floor();
    }
    let scale = 10f64.powi(x.log10().floor() as i32 - 1);
    (x / scale).floor() * scale
}

/// Bytes in decimal units with two significant digits: `16 GB`, `1.5 MB`, `820 bytes`.
pub fn format_bytes(bytes: f64) -> String {
    if !bytes.is_finite() {
        return "an unbounded amount".into();
    }
    let units = [
        (1e15, "PB"),
        (1e12, "TB"),
        (1e9, "GB"),
        (1e6, "MB"),
        (1e3, "kB"),
    ];
    for (scale, unit) in units {
        if bytes >= scale {
            let x = bytes / scale;
            return if x >= 10.0 {
                format!("{x:.0} {unit}")
            } else {
                format!("{x:.1} {unit}")
            };
        }
    }
    format!("{bytes:.0} bytes")
}

/// A count with thin groups of three digits: `600 000 000`; non-integers and huge values in
/// scientific notation.
pub fn format_count(x: f64) -> String {
    if (0.0..1e18).contains(&x) && x.fract() == 0.0 {
        group_digits(x as u64)
    } else {
        format!("{x:e}")
    }
}

/// `1234567` → `1 234 567`.
pub fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Walker ensembles (crate::dynamics::Ensemble, crate::run, the app's simulation worker).

/// Bytes the ensemble keeps per walker: `d` positions, a 128-bit random stream (`Pcg64Mcg`)
/// and a divergence flag.
pub fn walker_bytes(dim: usize) -> f64 {
    8.0 * dim as f64 + 16.0 + 1.0
}

/// Bytes of one grid histogram cell: a count and a 2-D displacement sum.
pub const HISTOGRAM_CELL_BYTES: f64 = 24.0;

/// Bytes of the moment and entropy-production statistics of one chunk of walkers, excluding
/// the grid histogram: sums of `d`, `d²` entries, the `Σ` histogram and the per-group sums of
/// `⟨exp(−Σ)⟩` (an upper estimate of `crate::stats`).
pub fn chunk_statistics_bytes(dim: usize) -> f64 {
    let d = dim as f64;
    16_384.0 + 8.0 * (8.0 * d * d + 8.0 * d)
}

/// Statistics are accumulated per chunk of [`CHUNK`] walkers and every chunk's accumulator is
/// alive until the merge, so each chunk holds its own grid histogram.
pub fn chunks(walkers: usize) -> f64 {
    walkers.div_ceil(CHUNK) as f64
}

/// Peak bytes of the 2-D Fokker–Planck solve on `cells` cells: the sparse LU's fill grows like
/// `cells · log cells`. Measured peak resident memory on the shipped 2-D presets: 2.8 kB per
/// cell at 256², 3.5–4.3 kB at 512², 4.4 kB at 1024²; `260 · log₂(cells)` bytes per cell
/// bounds all of them.
pub fn fokker_planck_bytes(cells: usize) -> f64 {
    let cells = cells.max(2) as f64;
    260.0 * cells * cells.log2()
}

/// The memory of a walker simulation: `walkers` walkers in `dim` dimensions, with a grid
/// histogram of `grid × grid` cells when `grid` is given (2-D landscapes), and the
/// Fokker–Planck solve on the same grid when `solve` is set. `prefix` is the preset table of
/// the walkers (`dynamics`).
pub fn simulation_demand(
    dim: usize,
    walkers: usize,
    grid: Option<usize>,
    solve: bool,
) -> MemoryDemand {
    let cells = grid.map_or(0, |g| g.saturating_mul(g));
    let per_chunk = chunk_statistics_bytes(dim) + HISTOGRAM_CELL_BYTES * cells as f64;
    let walker_total = walkers as f64 * walker_bytes(dim) + chunks(walkers) * per_chunk;
    let histograms = chunks(walkers).max(1.0) * HISTOGRAM_CELL_BYTES * cells as f64;
    let solve_bytes = if solve && cells > 0 {
        fokker_planck_bytes(cells)
    } else {
        0.0
    };
    let shared = if grid.is_some() { histograms } else { 0.0 };
    let mut demand = MemoryDemand::new(walker_total + solve_bytes).grows_with_shared(
        "dynamics.walkers",
        walkers as f64,
        "walkers",
        walker_total,
        shared,
        1.0,
    );
    if let Some(grid) = grid {
        demand = demand.grows_with_shared(
            "fp.grid",
            grid as f64,
            "cells per axis",
            histograms + solve_bytes,
            histograms,
            2.0,
        );
    }
    demand
}

/// The app's walker trails: `trails` walkers, `units_per_update` positions each per update
/// (index, time unit and a 2-D point: 32 bytes), plus `trail_length` kept points of 16 bytes.
pub fn trail_demand(trails: usize, units_per_update: u64, trail_length: usize) -> MemoryDemand {
    let per_update = trails as f64 * units_per_update as f64 * 32.0;
    let kept = trails as f64 * trail_length as f64 * 16.0;
    MemoryDemand::new(per_update + kept)
        .grows_with(
            "view.trails",
            trails as f64,
            "trails",
            per_update + kept,
            1.0,
        )
        .grows_with(
            "view.units_per_frame",
            units_per_update as f64,
            "time units per frame",
            per_update,
            1.0,
        )
}

/// A landscape of `n` examples: its data and the per-example quadratic forms the theory builds
/// (`d × d + d` numbers in two small vectors each); `bytes_per_example` covers the rest.
pub fn examples_demand(field: &str, n: usize, dim: usize, bytes_per_example: f64) -> MemoryDemand {
    let d = dim as f64;
    let per_example = bytes_per_example + 8.0 * (d * d + d) + 96.0;
    let total = n as f64 * per_example;
    MemoryDemand::new(total).grows_with(field, n as f64, "examples", total, 1.0)
}

/// Reading a file of `file_bytes` that becomes `expansion` times as many bytes in memory
/// (besides the bytes themselves).
pub fn file_demand(field: &str, file_bytes: u64, expansion: f64) -> MemoryDemand {
    let total = file_bytes as f64 * (1.0 + expansion);
    MemoryDemand::new(total).grows_with(field, file_bytes as f64, "bytes", total, 1.0)
}

/// The largest file of which [`file_demand`] fits the budget.
pub fn max_file_bytes(expansion: f64, budget: &MemoryBudget) -> u64 {
    (budget.usable_bytes() / (1.0 + expansion)).floor() as u64
}

/// The largest number of walkers that fits `budget` with the other sizes as given (for the
/// app's walker slider).
pub fn max_walkers(dim: usize, grid: Option<usize>, solve: bool, budget: &MemoryBudget) -> usize {
    let cells = grid.map_or(0, |g| g.saturating_mul(g)) as f64;
    let solve_bytes = if solve && cells > 0.0 {
        fokker_planck_bytes(cells as usize)
    } else {
        0.0
    };
    let per_chunk = chunk_statistics_bytes(dim) + HISTOGRAM_CELL_BYTES * cells;
    let per_walker = walker_bytes(dim) + per_chunk / CHUNK as f64;
    // One chunk more than walkers / CHUNK: the last one may be partly filled.
    let room = (budget.usable_bytes() - solve_bytes - per_chunk).max(0.0);
    (room / per_walker).floor().min(usize::MAX as f64 / 2.0) as usize
}

/// The largest grid side that fits `budget` with `walkers` walkers (for the app's grid field).
pub fn max_grid(dim: usize, walkers: usize, solve: bool, budget: &MemoryBudget) -> usize {
    let (mut low, mut high) = (0usize, 1usize << 16);
    while low < high {
        let mid = (low + high).div_ceil(2);
        let fits = simulation_demand(dim, walkers, Some(mid), solve)
            .check(budget)
            .is_ok();
        if fits { low = mid } else { high = mid - 1 }
    }
    low
}

// ---------------------------------------------------------------------------------------------
// Figures.

/// A figure of `width × height` px: the RGB buffer, the PNG encoder's copy and the encoded
/// bytes (at most about the same again).
pub fn figure_demand(width: u32, height: u32) -> MemoryDemand {
    let pixels = width as f64 * height as f64;
    let total = pixels * 3.0 * 3.0;
    MemoryDemand::new(total).grows_with("figure width × height", pixels, "pixels", total, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_example_names_field_estimate_and_limit() {
        let budget = MemoryBudget {
            available_bytes: 21_000_000_000,
            source: BudgetSource::MemAvailable,
        };
        let demand = simulation_demand(2, 1_000_000_000, None, false);
        let message = demand.check(&budget).expect_err("too large").to_string();
        // 1e9 walkers × (16 + 16 + 1 bytes) plus 15.6 million chunk statistics of ~17 kB.
        assert!(
            message.starts_with("dynamics.walkers = 1 000 000 000 needs ~")
                && message.contains("this machine has 21 GB available")
                && message.contains("at most ~")
                && message.ends_with(" walkers"),
            "{message}"
        );
        let max = max_walkers(2, None, false, &budget);
        assert!(
            simulation_demand(2, max, None, false)
                .check(&budget)
                .is_ok()
        );
        assert!(
            simulation_demand(2, max + max / 50, None, false)
                .check(&budget)
                .is_err()
        );
    }

    #[test]
    fn the_suggested_value_fits() {
        let budget = MemoryBudget::with_available_bytes(3_000_000_000);
        for (walkers, grid) in [
            (10_000_000, Some(128)),
            (500_000, Some(512)),
            (1000, Some(5000)),
        ] {
            let demand = simulation_demand(2, walkers, grid, true);
            let Err(LimitError::Memory(refusal)) = demand.check(&budget) else {
                panic!("{walkers} walkers on a {grid:?} grid should not fit");
            };
            let MemoryRefusal {
                field, max_value, ..
            } = *refusal;
            let max = round_down(max_value.expect("a value fits")) as usize;
            let fits = match field.as_str() {
                "dynamics.walkers" => simulation_demand(2, max, grid, true),
                "fp.grid" => simulation_demand(2, walkers, Some(max), true),
                other => panic!("unexpected field {other}"),
            };
            assert!(fits.check(&budget).is_ok(), "{field} = {max}");
        }
        let grid = max_grid(2, 1000, true, &budget);
        assert!(
            simulation_demand(2, 1000, Some(grid), true)
                .check(&budget)
                .is_ok()
        );
        assert!(
            simulation_demand(2, 1000, Some(grid + 1), true)
                .check(&budget)
                .is_err()
        );
    }

    #[test]
    fn meminfo_and_byte_counts_parse() {
        let text = "MemTotal:       24684092 kB\nMemFree: 1 kB\nMemAvailable:   22916644 kB\n";
        assert_eq!(parse_mem_available(text), Some(22_916_644 * 1024));
        assert_eq!(parse_mem_available("MemFree: 3 kB\n"), None);
        assert_eq!(parse_mem_available("MemAvailable: lots\n"), None);
        assert_eq!(parse_bytes("2GB"), Some(2_000_000_000));
        assert_eq!(parse_bytes(" 512 MiB "), Some(512 << 20));
        assert_eq!(parse_bytes("1.5e9"), Some(1_500_000_000));
        assert_eq!(parse_bytes("-1"), None);
        assert_eq!(parse_bytes("lots"), None);
        assert_eq!(parse_bytes("1e400"), None);
    }

    #[test]
    fn numbers_are_written_for_people() {
        assert_eq!(format_bytes(16e9), "16 GB");
        assert_eq!(format_bytes(1.54e6), "1.5 MB");
        assert_eq!(format_bytes(820.0), "820 bytes");
        assert_eq!(group_digits(600_000_000), "600 000 000");
        assert_eq!(group_digits(12), "12");
        assert_eq!(format_count(1234.0), "1 234");
        assert_eq!(round_down(634_567_890.0), 630_000_000.0);
        assert_eq!(round_down(42.7), 42.0);
    }
}
