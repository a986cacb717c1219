//! The map as CSV: one row per cell (docs/theory.md section 10).

use std::fmt::Write as _;

use super::HyperMap;

/// The CSV header: the JSON cell keys, in order.
pub const CSV_HEADER: &str = "replacement,algorithm,eta,batch,stable,spectral_radius,trace_cov,loss_excess,ep_rate,ep_rate_per_pass,circulation_norm,nonequilibrium_ratio,kl_posterior,kl_exact,wor_shift,sim_cov_rel_error,sim_cov_rel_error_floor";

fn optional(value: Option<f64>) -> String {
    value.map(|v| format!("{v:e}")).unwrap_or_default()
}

impl HyperMap {
    /// One line per cell under [`CSV_HEADER`]; missing values are empty fields.
    pub fn to_csv(&self) -> String {
        let mut text = String::with_capacity(self.cells.len() * 200 + CSV_HEADER.len() + 1);
        text.push_str(CSV_HEADER);
        text.push('\n');
        for cell in &self.cells {
            // Writing to a String cannot fail.
            let _ = writeln!(
                text,
                "{},{},{:e},{},{},{:e},{},{},{},{},{},{},{},{},{},{},{}",
                cell.replacement.name(),
                cell.algorithm.name(),
                cell.eta,
                cell.batch,
                cell.stable,
                cell.spectral_radius,
                optional(cell.trace_cov),
                optional(cell.loss_excess),
                optional(cell.ep_rate),
                optional(cell.ep_rate_per_pass),
                optional(cell.circulation_norm),
                optional(cell.nonequilibrium_ratio),
                optional(cell.kl_posterior),
                cell.kl_exact,
                optional(cell.wor_shift),
                optional(cell.sim_cov_rel_error),
                optional(cell.sim.as_ref().map(|s| s.cov_rel_error_floor)),
            );
        }
        text
    }
}
