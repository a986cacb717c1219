//! The Posterior tab's colours, one per algorithm.

use egui::Color32;

pub const SGLD_COLOUR: Color32 = Color32::from_rgb(255, 120, 70);
pub const SGWORLD_COLOUR: Color32 = Color32::from_rgb(80, 170, 255);
pub const ULA_COLOUR: Color32 = Color32::from_rgb(170, 170, 170);
pub const POSTERIOR_COLOUR: Color32 = Color32::from_rgb(120, 220, 120);
