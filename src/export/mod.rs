//! Figures (SVG/PNG) and data (CSV/JSON) for lectures and papers.
//!
//! - [`colormap`]: the perceptually uniform colour map shared with the app.

pub mod colormap;
