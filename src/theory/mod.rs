//! Predictions from theory (THEORY.md sections 3–5): diffusion matrices, the linearised
//! (Ornstein–Uhlenbeck) state, the WOR effective landscape and the 2-D Fokker–Planck solver.

pub mod fokker_planck;
