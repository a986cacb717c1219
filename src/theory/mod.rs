//! Predictions from theory (THEORY.md sections 3–5).
//!
//! - [`exact`]: exact stationary moments of SGLD, SGWORLD and ULA on quadratic landscapes.

pub mod exact;
