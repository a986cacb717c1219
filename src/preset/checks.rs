//! The preset's numbers against the rules of [`crate::fields`], and the memory a run of it
//! needs ([`crate::limits`]); [`Preset::build`] calls both before allocating anything.

use super::{Preset, StartSpec};
use crate::fields::{self, FieldError};
use crate::landscape::LandscapeSpec;
use crate::limits::{self, MemoryDemand};

impl Preset {
    /// Check every number of the preset against its rule in [`crate::fields`] (finite,
    /// in range, no larger than can be saved); cheap, and independent of the landscape.
    pub fn check_fields(&self) -> Result<(), FieldError> {
        let d = &self.dynamics;
        fields::ETA.check(d.eta)?;
        fields::BATCH.check_usize(d.batch)?;
        fields::TEMPERATURE.check(d.temperature)?;
        fields::WALKERS.check_usize(d.walkers)?;
        fields::STEPS.check(d.steps)?;
        fields::BURN_IN.check(d.burn_in)?;
        fields::SEED.check(d.seed)?;
        if let Some(StartSpec::Point(start)) = &d.start {
            for &x in start {
                fields::START.check(x)?;
            }
        }
        fields::GRID.check_usize(self.fp.grid)?;
        if let Some(b) = self.fp.bounds {
            for &x in &b {
                fields::BOUNDS.check(x)?;
            }
            if b[0] >= b[1] || b[2] >= b[3] {
                return Err(FieldError {
                    key: "fp.bounds",
                    value: Some(format!("{b:?}")),
                    message: "needs [w1_min, w1_max, w2_min, w2_max] with min < max".into(),
                });
            }
        }
        fields::TRAILS.check_usize(self.view.trails)?;
        fields::UNITS_PER_FRAME.check(self.view.units_per_frame)?;
        if let Some(n) = self.landscape_examples() {
            fields::EXAMPLES.check_usize(n)?;
        }
        if let Some(seed) = self.landscape_data_seed() {
            fields::DATA_SEED.check(seed)?;
        }
        if let Some(posterior) = &self.posterior {
            for &eta in &posterior.etas {
                fields::POSTERIOR_ETA.check(eta)?;
            }
            if let Some(p) = posterior.permutations {
                fields::PERMUTATIONS.check_usize(p)?;
            }
        }
        Ok(())
    }

    /// The number of generated examples `landscape.n`, for the landscapes that have one.
    fn landscape_examples(&self) -> Option<usize> {
        match &self.landscape {
            LandscapeSpec::Bowl(spec) => Some(spec.n),
            LandscapeSpec::DoubleWell(spec) => Some(spec.n),
            LandscapeSpec::LinearRegression(spec) => spec.n,
            LandscapeSpec::RegressionNet(_) | LandscapeSpec::RegressionNet2d(_) => None,
        }
    }

    /// `landscape.data_seed`, for the landscapes that have one.
    fn landscape_data_seed(&self) -> Option<u64> {
        match &self.landscape {
            LandscapeSpec::Bowl(spec) => Some(spec.data_seed),
            LandscapeSpec::DoubleWell(spec) => Some(spec.data_seed),
            LandscapeSpec::LinearRegression(spec) => spec.data_seed,
            LandscapeSpec::RegressionNet(spec) => spec.data_seed,
            LandscapeSpec::RegressionNet2d(spec) => spec.data_seed,
        }
    }

    /// The memory of `landscape.n` generated examples (the landscapes with `n` are all 2-D),
    /// checked before the landscape is built. Data files are checked when they are read.
    pub fn examples_demand(&self) -> Option<MemoryDemand> {
        self.landscape_examples()
            .map(|n| limits::examples_demand("landscape.n", n, 2, 64.0))
    }

    /// The memory of a run of this preset on a landscape of dimension `dim`: the walkers and
    /// their statistics, and on 2-D landscapes the grid histograms and the Fokker–Planck solve
    /// ([`limits::simulation_demand`]).
    pub fn memory_demand(&self, dim: usize) -> MemoryDemand {
        let two_d = dim == 2;
        limits::simulation_demand(
            dim,
            self.dynamics.walkers,
            two_d.then_some(self.fp.grid),
            two_d,
        )
    }
}
