//! Which walkers diverged, and from which time unit.
//!
//! The ensemble freezes a walker whose position becomes non-finite or leaves the landscape's
//! escape radius, and stops reporting it to observers: its last observed unit is the one
//! before the unit it diverged in. [`DivergenceWatch`] is an [`Observer`] that turns this into
//! a [`DivergenceRecord`] (how many walkers diverged, and the first unit at which one did),
//! exactly, without asking anything more of the ensemble than every observer gets. Tell it
//! the span of each [`crate::dynamics::Ensemble::advance`] with
//! [`DivergenceWatch::before_advance`].

use serde::Serialize;

use crate::dynamics::{Observer, TimeUnit};
use crate::landscape::{LANES, Lanes};

/// How many walkers diverged and when the first one did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DivergenceRecord {
    /// Walkers that diverged while watched.
    pub diverged_walkers: usize,
    /// The earliest time unit (counted from the ensemble's creation, the first unit being 0)
    /// in which a walker diverged.
    pub first_unit: Option<u64>,
}

impl DivergenceRecord {
    /// A sentence for the person, e.g. "37 of 4 000 walkers diverged (the first in step
    /// 1 234): ...", or `None` when none did.
    pub fn message(&self, walkers: usize, time_unit: TimeUnit, eta: f64) -> Option<String> {
        let first = self.first_unit?;
        let count = crate::limits::group_digits(self.diverged_walkers as u64);
        let total = crate::limits::group_digits(walkers as u64);
        // People count steps from 1.
        let when = format!(
            "the first in {} {}",
            time_unit.name(),
            crate::limits::group_digits(first + 1)
        );
        Some(if self.diverged_walkers >= walkers {
            format!(
                "every walker diverged ({when}; positions became non-finite or left the \
                 landscape): the learning rate η = {eta} is too large for this landscape's \
                 curvature"
            )
        } else {
            format!(
                "{count} of {total} walkers diverged and were frozen ({when}): η = {eta} is \
                 close to the stability limit"
            )
        })
    }

    /// Add the record of a later span.
    pub fn merge(&mut self, other: DivergenceRecord) {
        self.diverged_walkers += other.diverged_walkers;
        self.first_unit = match (self.first_unit, other.first_unit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// An [`Observer`] that records divergences (see the module documentation).
#[derive(Clone, Debug, Default)]
pub struct DivergenceWatch {
    /// The span `[start, end)` of the current advance, in time units.
    span: (u64, u64),
    /// The walkers being observed in this chunk and the last unit each was seen in, walker
    /// `k` in slot `k mod LANES`: the walkers of a SIMD lane group arrive interleaved in time
    /// ([`Observer::accepts_interleaved_walkers`]), one at a time they share slot by slot.
    current: [Option<(usize, Option<u64>)>; LANES],
    record: DivergenceRecord,
}

impl DivergenceWatch {
    /// Nothing recorded yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Call before `ensemble.advance(landscape, units, ..)` with `ensemble.time()`.
    pub fn before_advance(&mut self, time: u64, units: u64) {
        self.span = (time, time.saturating_add(units));
    }

    /// What has been recorded so far.
    pub fn record(&self) -> DivergenceRecord {
        self.record
    }

    /// Close every walker being observed.
    fn close_walkers(&mut self) {
        (0..LANES).for_each(|slot| self.close_walker(slot));
    }

    /// Close the walker in `slot`: it diverged if it was not seen in the span's last unit.
    fn close_walker(&mut self, slot: usize) {
        if let Some((_, last)) = self.current[slot].take() {
            let (start, end) = self.span;
            let next = last.map_or(start, |u| u + 1);
            if next < end {
                self.record.merge(DivergenceRecord {
                    diverged_walkers: 1,
                    first_unit: Some(next),
                });
            }
        }
    }
}

impl Observer for DivergenceWatch {
    fn fork(&self) -> Self {
        Self {
            span: self.span,
            current: [None; LANES],
            record: DivergenceRecord::default(),
        }
    }

    fn begin_walker(&mut self, walker: usize) {
        let slot = walker % LANES;
        self.close_walker(slot);
        self.current[slot] = Some((walker, None));
    }

    fn observe(&mut self, walker: usize, unit: u64, _before: &[f64], _after: &[f64]) {
        if let Some((_, last)) = &mut self.current[walker % LANES] {
            *last = Some(unit);
        }
    }

    /// Each live lane's slot, without copying positions.
    #[inline(always)]
    fn observe_lanes(
        &mut self,
        first_walker: usize,
        unit: u64,
        live: &[bool; LANES],
        _before: &[Lanes],
        _after: &[Lanes],
    ) {
        for l in (0..LANES).filter(|&l| live[l]) {
            if let Some((_, last)) = &mut self.current[(first_walker + l) % LANES] {
                *last = Some(unit);
            }
        }
    }

    fn merge(&mut self, mut other: Self) {
        other.close_walkers();
        self.close_walkers();
        self.record.merge(other.record);
    }

    /// Each walker has its own slot.
    fn accepts_interleaved_walkers(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamics::{Algorithm, Dynamics, Ensemble};
    use crate::landscape::Landscape;

    /// `l(w) = −½ w²`: SGD multiplies `w` by `1 + η` every step, so a walker started at `w₀`
    /// leaves the escape radius at a step known in advance.
    struct Hill;

    impl Landscape for Hill {
        fn kind(&self) -> &'static str {
            "hill"
        }
        fn dim(&self) -> usize {
            1
        }
        fn n_examples(&self) -> usize {
            1
        }
        fn example_loss(&self, _: usize, w: &[f64]) -> f64 {
            -0.5 * w[0] * w[0]
        }
        fn add_example_gradient(&self, _: usize, w: &[f64], scale: f64, out: &mut [f64]) {
            out[0] -= scale * w[0];
        }
        fn add_example_hessian(&self, _: usize, _: &[f64], scale: f64, out: &mut [f64]) {
            out[0] -= scale;
        }
        fn start(&self) -> Vec<f64> {
            vec![1.0]
        }
        fn escape_radius(&self) -> f64 {
            1e3
        }
    }

    /// The unit in which a walker from `w0` diverges, by the same arithmetic as the stepper.
    fn divergence_unit(w0: f64, eta: f64) -> Option<u64> {
        let mut w = w0;
        for unit in 0..10_000 {
            w -= eta * -w;
            if w.abs() >= 1e3 {
                return Some(unit);
            }
        }
        None
    }

    #[test]
    fn records_count_and_first_unit_exactly_across_slices() {
        let eta = 0.05;
        // Walkers from 1e-3 (diverges last) to 500 (within a few steps); 0 never diverges.
        let starts: Vec<f64> = (0..300)
            .map(|k| {
                if k % 7 == 0 {
                    0.0
                } else {
                    1e-3 * 1.03f64.powi(k)
                }
            })
            .collect();
        let dynamics = Dynamics::new(Algorithm::Sgd, None, eta, 1, 0.0, 1).expect("valid");
        let mut ensemble = Ensemble::from_positions(&Hill, dynamics, starts.clone(), 1);
        let mut watch = DivergenceWatch::new();
        for units in [0, 7, 1, 40, 13, 100] {
            watch.before_advance(ensemble.time(), units);
            ensemble.advance(&Hill, units, &mut watch);
        }
        let expected: Vec<u64> = starts
            .iter()
            .filter_map(|&w0| divergence_unit(w0, eta))
            .filter(|&u| u < ensemble.time())
            .collect();
        let record = watch.record();
        assert_eq!(record.diverged_walkers, ensemble.diverged_walkers());
        assert_eq!(record.diverged_walkers, expected.len());
        // Walkers from w₀ ≳ 1e3 / 1.05¹⁶¹ ≈ 0.4 diverge within the 161 units: about 85.
        assert!(record.diverged_walkers > 50 && record.diverged_walkers < 300);
        assert_eq!(record.first_unit, expected.iter().copied().min());
        let message = record
            .message(300, TimeUnit::Step, eta)
            .expect("some diverged");
        assert!(
            message.contains(&format!(
                "{} of 300 walkers diverged",
                record.diverged_walkers
            )),
            "{message}"
        );
    }

    #[test]
    fn nothing_diverges_nothing_is_said() {
        let dynamics = Dynamics::new(Algorithm::Sgd, None, 0.01, 1, 0.0, 1).expect("valid");
        let mut ensemble = Ensemble::from_positions(&Hill, dynamics, vec![0.0; 130], 1);
        let mut watch = DivergenceWatch::new();
        watch.before_advance(ensemble.time(), 50);
        ensemble.advance(&Hill, 50, &mut watch);
        assert_eq!(watch.record(), DivergenceRecord::default());
        assert_eq!(watch.record().message(130, TimeUnit::Step, 0.01), None);
    }
}
