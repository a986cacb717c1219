//! # neqlab: stochastic gradient descent in and out of equilibrium
//!
//! A headless library for the physics of minibatch SGD, after "Machine learning in and out
//! of equilibrium" (Adhikari, Kabakçıoğlu, Strang, Yuret, Hinczewski, arXiv:2306.03521).
//! The mathematics is written down in `docs/theory.md` (in the repository, with the measured
//! accuracy of each prediction); doc comments cite its sections as `docs/theory.md §3.1`.
//!
//! - [`landscape`]: loss landscapes with per-example losses, gradients and Hessians.
//! - [`dynamics`]: SGD / SGLD / SGWORLD with and without replacement on walker ensembles.
//! - [`stats`]: estimators from simulation.
//! - [`theory`]: the linearised stationary state, the WOR effective landscape, Fokker–Planck
//!   fields, exact stationary moments on quadratic landscapes, relaxation times.
//! - [`stationary`]: the one model of a stationary state (prediction, simulated estimates,
//!   arrows, validity flags) that the app, the figures and `neqlab run` read.
//! - [`preset`]: the TOML schema shared by the GUI and the CLI.
//! - [`run`]: running a preset headless.
//! - [`export`]: figures (SVG/PNG), CSV and JSON for lectures.
//! - [`map`]: the hyperparameter map over learning rate, batch size and replacement.
//! - [`posterior`]: SGLD against SGWORLD on a posterior known exactly.
//! - [`mnist`]: a small network on MNIST digits, trained and analysed in a background job.
//! - [`jobs`]: the one background-job mechanism (commands, latest request wins, cancel, progress).
//! - [`background`]: background threads that yield to the interface.
//! - [`bench`]: the walker-steps-per-second measurement of `neqlab bench`.
//! - [`limits`]: memory estimates checked before anything large is allocated.
//! - [`fields`]: typed validation of every number a person can type.
//! - [`files`]: bounded reads and atomic saves.
//! - [`divergence`]: how many walkers diverged, and from which time unit.
//!
//! Nothing here depends on egui: the desktop app lives in the binary.

#![warn(missing_docs)]

pub mod background;
pub mod bench;
pub mod divergence;
pub mod dynamics;
pub mod export;
pub mod fields;
pub mod files;
pub mod jobs;
pub mod landscape;
pub mod limits;
pub mod map;
pub mod mnist;
pub mod posterior;
pub mod preset;
pub mod run;
pub mod stationary;
pub mod stats;
pub mod theory;
