//! Current arrows on one physical scale, the same for the simulated and the predicted current,
//! in the app and in exported figures (docs/theory.md §7.3).
//!
//! An arrow shows the current `J` averaged over a block of [`ARROW_BLOCK`]² cells, drawn
//! `J · τ / p_peak` long ([`ArrowScale`]): `τ` is the slowest relaxation time of the linearised
//! dynamics and `p_peak` the largest predicted density, so an arrow is how far the densest
//! probability flows in one relaxation time. A current of `10⁻¹⁴` draws as nothing rather than
//! as a full-length arrow, and the same `J` draws the same arrow in every panel. A simulated
//! arrow is significant where `|J|` exceeds twice its standard error
//! ([`crate::stats::grid::GridHistogram::field`]); views draw only significant arrows.

use serde::Serialize;

use crate::dynamics::TimeUnit;
use crate::stats::grid::CurrentField;

/// Cells per side of an arrow block (a 128² grid draws 16² arrows).
pub const ARROW_BLOCK: usize = 8;

/// Blocks holding less than this fraction of the heaviest block's mass get no arrow: walkers
/// hardly visit them and their current is noise over nothing.
pub const ARROW_MASS_FLOOR: f64 = 0.02;

/// Arrows shorter than this fraction of a block are left out (they would be dots).
pub const SHORTEST_ARROW: f64 = 0.1;

/// Arrows longer than this many blocks are capped, so that they stay inside their region.
pub const LONGEST_ARROW: f64 = 1.3;

/// The physical scale of current arrows, shared by every panel of a view or figure.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ArrowScale {
    /// `τ`: the slowest relaxation time of the linearised dynamics, in time units.
    pub relaxation_time: f64,
    /// `p_peak`: the largest density (probability per area) of the prediction, or of the
    /// simulation when there is no prediction.
    pub peak_density: f64,
    /// A magnification chosen by the person (1: the physical scale); the legend says it.
    pub gain: f64,
    /// The unit of `τ`.
    pub time_unit: TimeUnit,
}

impl ArrowScale {
    /// Length (in weight units) of the arrow of a unit current: `gain · τ / p_peak`; zero when
    /// the scale is undefined.
    pub fn length_per_current(&self) -> f64 {
        let value = self.gain * self.relaxation_time / self.peak_density;
        if value.is_finite() && value > 0.0 {
            value
        } else {
            0.0
        }
    }
}

/// One current arrow, in weight units: from `tail` to `tail + vector`, centred on its block.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CurrentArrow {
    /// Start of the arrow.
    pub tail: [f64; 2],
    /// The arrow itself (`J · length_per_current`, capped at [`LONGEST_ARROW`] blocks).
    pub vector: [f64; 2],
    /// `|J|` exceeds twice its standard error (always true for a predicted current).
    pub significant: bool,
}

/// The arrows of a current field averaged over blocks (`field` on the block grid, e.g.
/// [`crate::stats::grid::GridHistogram::field`]`(ARROW_BLOCK)` or
/// [`CurrentField::block_average`]), drawn on `scale`: one per block that holds at least
/// [`ARROW_MASS_FLOOR`] of the heaviest block's mass and whose arrow is at least
/// [`SHORTEST_ARROW`] of a block long. The one function the app and the figures draw
/// arrows with.
pub fn current_arrows(field: &CurrentField, scale: &ArrowScale) -> Vec<CurrentArrow> {
    let length_per_current = scale.length_per_current();
    let [bx, by] = field.grid.cell_size();
    let block = bx.min(by);
    let heaviest = field.mass.iter().copied().fold(0.0, f64::max);
    if !(heaviest > 0.0 && length_per_current > 0.0) {
        return Vec::new();
    }
    let longest = LONGEST_ARROW * block;
    (0..field.grid.cells())
        .filter(|&cell| field.mass[cell] >= ARROW_MASS_FLOOR * heaviest)
        .filter_map(|cell| {
            let j = field.current[cell];
            let mut vector = [j[0] * length_per_current, j[1] * length_per_current];
            let length = vector[0].hypot(vector[1]);
            if !(length.is_finite() && length >= SHORTEST_ARROW * block) {
                return None;
            }
            if length > longest {
                vector = [vector[0] * longest / length, vector[1] * longest / length];
            }
            let centre = field.grid.centre_of(cell);
            Some(CurrentArrow {
                tail: [centre[0] - 0.5 * vector[0], centre[1] - 0.5 * vector[1]],
                vector,
                significant: field.is_significant(cell),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::theory::fokker_planck::Grid2d;

    fn scale() -> ArrowScale {
        ArrowScale {
            relaxation_time: 2.0,
            peak_density: 4.0,
            gain: 1.0,
            time_unit: TimeUnit::Step,
        }
    }

    /// `J · τ / p_peak` long, centred on the block; empty blocks and tiny currents draw nothing;
    /// a current with a large error is marked insignificant.
    #[test]
    fn arrows_are_physical_and_flag_noise() {
        let grid = Grid2d::square(2, [0.0, 2.0, 0.0, 2.0]).expect("grid");
        let field = CurrentField {
            grid,
            mass: vec![0.5, 0.5, 0.0, 0.001],
            current: vec![[1.0, 0.0], [0.0, 0.4], [5.0, 5.0], [1.0, 0.0]],
            current_error: Some(vec![0.1, 0.3, 0.0, 0.0]),
        };
        let arrows = current_arrows(&field, &scale());
        assert_eq!(arrows.len(), 2, "{arrows:?}");
        assert_eq!(arrows[0].vector, [0.5, 0.0]);
        assert_eq!(arrows[0].tail, [0.25, 0.5]);
        assert!(arrows[0].significant);
        assert!((arrows[1].vector[1] - 0.2).abs() < 1e-15);
        assert!(!arrows[1].significant, "|J| = 0.4 < 2 × 0.3");
        // A strong current is capped at 1.3 blocks.
        let strong = CurrentField::exact(grid, vec![0.25; 4], vec![[100.0, 0.0]; 4]);
        let capped = current_arrows(&strong, &scale());
        assert!(capped.iter().all(|a| (a.vector[0] - 1.3).abs() < 1e-12));
        // Twice the gain, twice the length.
        let doubled = current_arrows(
            &field,
            &ArrowScale {
                gain: 2.0,
                ..scale()
            },
        );
        assert_eq!(doubled[0].vector, [1.0, 0.0]);
    }
}
